-- Kelisim collector schema v5: erasure requests and their deadline.
--
-- A data subject's request to erase their identifiers must be carried out within the site's
-- `erasure_deadline_days` of the day it arrived. Each request is recorded here, carried out
-- at once or left pending (while the subject's identity is checked, say); the daily task in
-- `serve` and `kelisim-collector purge` carry out pending ones by their due time at the
-- latest. Carrying one out destroys the subject index of the receipts it covers (`erasures`)
-- and the request's own copy of the keyed hash.

CREATE TABLE erasure_requests (
    id          TEXT    PRIMARY KEY,             -- UUIDv7
    site        TEXT    NOT NULL,
    hmacs       TEXT,                            -- keyed hashes of the identifier, a JSON array,
                                                 -- never the identifier; NULL once carried out
    received_at TEXT    NOT NULL,                -- when the request reached the operator (RFC 3339 UTC)
    due_at      TEXT    NOT NULL,                -- received_at + erasure_deadline_days
    recorded_at TEXT    NOT NULL,
    recorded_by TEXT    NOT NULL,                -- admin token id, or `cli`
    up_to_seq   INTEGER NOT NULL,                -- it covers the receipts stored when it was recorded
    done_at     TEXT,                            -- NULL while pending
    done_by     TEXT,                            -- admin token id, `cli`, or `deadline` (the daily task, purge)
    receipts    INTEGER,                         -- receipts whose subject index it erased
    CHECK ((done_at IS NULL) = (hmacs IS NOT NULL))
) STRICT;

-- Pending requests by due time, of every site (the hourly task).
CREATE INDEX erasure_requests_pending ON erasure_requests (due_at) WHERE done_at IS NULL;
-- A site's list in its order: pending ones (done_at IS NULL) soonest due first, then those
-- carried out, latest first.
CREATE INDEX erasure_requests_site ON erasure_requests (site, done_at, due_at, id);
