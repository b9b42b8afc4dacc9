-- Kelisim collector schema v3: admin access, the admin audit trail, retention and erasure.

-- Admin bearer tokens. Only the SHA-256 of the secret part is kept; the token itself is
-- printed once by `kelisim-collector tokens create`. `sites` is a comma-separated list.
CREATE TABLE admin_tokens (
    id          TEXT    PRIMARY KEY,             -- public part of the token, 16 hex
    secret_sha256 TEXT  NOT NULL,
    sites       TEXT    NOT NULL,
    scope       TEXT    NOT NULL CHECK (scope IN ('read', 'admin')),
    label       TEXT,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
) STRICT;

-- Every admin read and change: who (token id), what, on which site, with which parameters
-- (never a raw phone or e-mail: subject searches are recorded as "subject=<kind>").
CREATE TABLE admin_audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    token_id TEXT    NOT NULL,
    site     TEXT,
    action   TEXT    NOT NULL,
    detail   TEXT    NOT NULL
) STRICT;

CREATE INDEX admin_audit_site ON admin_audit (site, id);

-- Receipts removed by retention: position and hash stay, so `audit` still links the chain
-- across them; the JWS and every copied column are gone.
CREATE TABLE tombstones (
    seq        INTEGER PRIMARY KEY,
    jws_sha256 TEXT    NOT NULL,
    site       TEXT    NOT NULL,
    purged_at  TEXT    NOT NULL
) STRICT;

-- Receipts whose subject index was erased on the subject's request: `audit` then expects
-- no subject_hashes rows for them.
CREATE TABLE erasures (
    seq       INTEGER PRIMARY KEY,
    erased_at TEXT    NOT NULL
) STRICT;

-- Admin queries: keyset pages newest first within a site, filtered on the index alone
-- (the table rows carry the JWS, ~1.5 KB each, and are read only for the page's matches).
CREATE INDEX receipts_admin ON receipts (site, seq, kind, event, policy_version, lang, form_id, issued_at);
