-- Kelisim collector schema v10 in PostgreSQL (`[store] backend = "postgres"`).
--
-- The PostgreSQL store was first written at schema version 10, so its history starts here:
-- this file is the SQLite schema of migrations 0001 to 0010 as one, in PostgreSQL's types.
-- Every later migration gets a file of the same number in both directories, and a store's
-- version (the one row of `kelisim_schema`) means the same in each backend. The comments
-- of the SQLite files explain each table; only what differs is said here.
--
-- Text that is compared or sorted (times, ids, sites) is COLLATE "C": byte order, as in
-- SQLite, whatever locale the operator's database was created with, so RFC 3339 times
-- sort chronologically and an index answers equality without locale rules.

CREATE TABLE kelisim_schema (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  integer NOT NULL
);

CREATE TABLE receipts (
    seq            bigint PRIMARY KEY,
    id             text COLLATE "C" NOT NULL UNIQUE,
    site           text COLLATE "C" NOT NULL,
    ref            text COLLATE "C" NOT NULL,
    request_sha256 text COLLATE "C" NOT NULL,
    kind           text COLLATE "C" NOT NULL,
    event          text COLLATE "C" NOT NULL,
    policy_version text COLLATE "C" NOT NULL,
    lang           text COLLATE "C" NOT NULL,
    form_id        text COLLATE "C",
    browser_id     text COLLATE "C" NOT NULL,
    issued_at      text COLLATE "C" NOT NULL,
    kid            text COLLATE "C" NOT NULL,
    jws            text NOT NULL,
    jws_sha256     text COLLATE "C" NOT NULL,
    withdraws      text COLLATE "C",
    holder_sha256  text COLLATE "C",
    subject_salt   text COLLATE "C",
    UNIQUE (site, ref)
);

CREATE UNIQUE INDEX receipts_withdraws ON receipts (withdraws) WHERE withdraws IS NOT NULL;
-- A site's receipts by time, with their position and what the analytics count: a period's
-- counts, and an admin page's time window, are one index-only range scan (SQLite's
-- `receipts_analytics` serves its skip-scan instead).
CREATE INDEX receipts_site_issued ON receipts (site, issued_at)
    INCLUDE (seq, kind, event, lang, policy_version);
CREATE INDEX receipts_browser_kind ON receipts (browser_id, kind, seq);
-- Keyset pages of a site newest first, filtered on the index (the rows carry the JWS).
CREATE INDEX receipts_admin ON receipts (site, seq)
    INCLUDE (kind, event, policy_version, lang, form_id, issued_at);

CREATE TABLE subject_hashes (
    hmac text COLLATE "C" NOT NULL,
    seq  bigint NOT NULL REFERENCES receipts (seq),
    kind text COLLATE "C" NOT NULL,
    PRIMARY KEY (hmac, seq)
);

CREATE INDEX subject_hashes_seq ON subject_hashes (seq);

CREATE TABLE chain_head (
    id         integer PRIMARY KEY CHECK (id = 1),
    seq        bigint NOT NULL,
    jws_sha256 text COLLATE "C" NOT NULL
);

CREATE TABLE admin_tokens (
    id            text COLLATE "C" PRIMARY KEY,
    secret_sha256 text COLLATE "C" NOT NULL,
    sites         text COLLATE "C" NOT NULL,
    scope         text COLLATE "C" NOT NULL CHECK (scope IN ('read', 'admin')),
    label         text,
    created_at    text COLLATE "C" NOT NULL,
    expires_at    text COLLATE "C",
    revoked_at    text COLLATE "C"
);

CREATE TABLE admin_audit (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       text COLLATE "C" NOT NULL,
    token_id text COLLATE "C" NOT NULL,
    site     text COLLATE "C",
    action   text COLLATE "C" NOT NULL,
    detail   text NOT NULL
);

CREATE INDEX admin_audit_site ON admin_audit (site, id);

CREATE TABLE tombstones (
    seq        bigint PRIMARY KEY,
    jws_sha256 text COLLATE "C" NOT NULL,
    site       text COLLATE "C" NOT NULL,
    purged_at  text COLLATE "C" NOT NULL
);

CREATE TABLE erasures (
    seq       bigint PRIMARY KEY,
    erased_at text COLLATE "C" NOT NULL
);

CREATE TABLE followed (
    seq bigint PRIMARY KEY
);

CREATE TABLE erasure_requests (
    id          text COLLATE "C" PRIMARY KEY,
    site        text COLLATE "C" NOT NULL,
    hmacs       text[],                          -- keyed hashes; NULL once carried out
    received_at text COLLATE "C" NOT NULL,
    due_at      text COLLATE "C" NOT NULL,
    recorded_at text COLLATE "C" NOT NULL,
    recorded_by text COLLATE "C" NOT NULL,
    up_to_seq   bigint NOT NULL,
    done_at     text COLLATE "C",
    done_by     text COLLATE "C",
    receipts    bigint,
    CHECK ((done_at IS NULL) = (hmacs IS NOT NULL))
);

CREATE INDEX erasure_requests_pending ON erasure_requests (due_at) WHERE done_at IS NULL;
CREATE INDEX erasure_requests_site ON erasure_requests (site, done_at, due_at, id);

CREATE TABLE log_hashes (
    idx  bigint PRIMARY KEY,
    hash bytea NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE log_checkpoints (
    size      bigint PRIMARY KEY,
    root      bytea NOT NULL CHECK (length(root) = 32),
    note      text NOT NULL,
    signed_at text COLLATE "C" NOT NULL
);

CREATE TABLE cookie_choices (
    site      text COLLATE "C" NOT NULL,
    issued_at text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL,
    category  text COLLATE "C" NOT NULL,
    granted   boolean NOT NULL,
    PRIMARY KEY (site, category, granted, issued_at, seq)
);

CREATE INDEX cookie_choices_site_issued ON cookie_choices (site, issued_at)
    INCLUDE (category, granted);

CREATE TABLE site_health (
    site       text COLLATE "C" NOT NULL,
    code       text COLLATE "C" NOT NULL,
    detail     text COLLATE "C" NOT NULL,
    path       text COLLATE "C" NOT NULL,
    count      bigint NOT NULL CHECK (count > 0),
    first_seen text COLLATE "C" NOT NULL,
    last_seen  text COLLATE "C" NOT NULL,
    PRIMARY KEY (site, code, detail, path)
);

CREATE TABLE witness_heads (
    origin      text COLLATE "C" PRIMARY KEY,
    size        bigint NOT NULL,
    root        bytea NOT NULL CHECK (length(root) = 32),
    cosigned_at text COLLATE "C" NOT NULL
);

CREATE TABLE log_cosignatures (
    witness   text COLLATE "C" NOT NULL,
    size      bigint NOT NULL,
    root      bytea NOT NULL CHECK (length(root) = 32),
    signature text NOT NULL,
    at        text COLLATE "C" NOT NULL,
    PRIMARY KEY (witness, size)
);
