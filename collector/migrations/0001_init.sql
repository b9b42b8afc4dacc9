-- Kelisim collector schema v1: the receipt log and its lookup indexes.
-- Applied by store::migrate inside one transaction; PRAGMA user_version is set by the code.

-- One row per signed receipt, in log order. `jws` is the evidence; the other columns are
-- copies of payload fields for queries, and `audit` checks that they still match it.
CREATE TABLE receipts (
    seq            INTEGER PRIMARY KEY,          -- position in the log = payload `seq`, from 1
    id             TEXT    NOT NULL UNIQUE,      -- UUIDv7 = payload `id`
    site           TEXT    NOT NULL,
    ref            TEXT    NOT NULL,             -- idempotency key = public reference
    request_sha256 TEXT    NOT NULL,             -- canonical content hash, for idempotent replays
    kind           TEXT    NOT NULL,
    event          TEXT    NOT NULL,
    policy_version TEXT    NOT NULL,
    lang           TEXT    NOT NULL,
    form_id        TEXT,
    browser_id     TEXT    NOT NULL,
    issued_at      TEXT    NOT NULL,             -- RFC 3339 UTC, sorts chronologically
    kid            TEXT    NOT NULL,             -- signing key
    jws            TEXT    NOT NULL,             -- compact JWS, the signed receipt
    jws_sha256     TEXT    NOT NULL,             -- = next receipt's `prev`
    UNIQUE (site, ref)
) STRICT;

CREATE INDEX receipts_ref ON receipts (ref);
CREATE INDEX receipts_site_issued ON receipts (site, issued_at);
CREATE INDEX receipts_browser ON receipts (browser_id);

-- Keyed hashes of subject identifiers (phone, e-mail), never the raw values: finds every
-- receipt of a person for admin queries, withdrawal and erasure.
CREATE TABLE subject_hashes (
    hmac TEXT    NOT NULL,
    seq  INTEGER NOT NULL REFERENCES receipts (seq),
    kind TEXT    NOT NULL,
    PRIMARY KEY (hmac, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX subject_hashes_seq ON subject_hashes (seq);

-- The last committed receipt, updated in the same transaction as every batch, so `audit`
-- notices receipts removed from the end of the log.
CREATE TABLE chain_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seq        INTEGER NOT NULL,
    jws_sha256 TEXT    NOT NULL
) STRICT;
