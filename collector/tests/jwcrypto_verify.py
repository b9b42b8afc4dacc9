"""Verifies Kelisim receipts with jwcrypto, a JOSE library independent of the collector.

Usage: python jwcrypto_verify.py JWKS_FILE RECEIPTS_FILE
RECEIPTS_FILE holds one compact JWS per line. For each, prints one JSON line
{"kid", "alg", "typ", "seq", "event"} once its signature verifies against the key the
JWKS names by the header's kid. Exits 1 at the first receipt that does not verify.
"""
import json
import sys

from jwcrypto import jwk, jws


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        keys = jwk.JWKSet.from_json(f.read())
    with open(sys.argv[2], encoding="utf-8") as f:
        tokens = [line.strip() for line in f if line.strip()]
    for n, compact in enumerate(tokens, 1):
        token = jws.JWS()
        try:
            token.deserialize(compact)
            header = token.jose_header
            key = keys.get_key(header["kid"])
            if key is None:
                raise ValueError(f"kid {header['kid']} is not in the JWKS")
            if header.get("typ") != "kelisim-receipt+jws":
                raise ValueError(f"typ is {header.get('typ')!r}")
            token.verify(key, alg=header["alg"])
        except Exception as e:  # noqa: BLE001 - report any failure as "does not verify"
            print(f"receipt {n} does not verify: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        payload = json.loads(token.payload)
        print(json.dumps({
            "kid": header["kid"],
            "alg": header["alg"],
            "typ": header["typ"],
            "seq": payload["seq"],
            "event": payload["event"],
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
