-- Kelisim collector schema v7: the transparency log's Merkle tree and signed checkpoints
-- (issue 15). Receipts are the leaves of an RFC 9162 tree, leaf index = seq - 1; see
-- docs/receipt.md for the leaf, checkpoint and proof formats.
--
-- - `log_hashes`: the hash of every complete subtree, numbered by the stored hash index of
--   Go's checksum database (kelisim-receipt's `log::storage`). Append-only: a row is never
--   rewritten or deleted, so purging or erasing a receipt leaves the tree and every proof
--   of the other receipts as they were.
-- - `log_checkpoints`: every checkpoint the collector signed (a C2SP signed note), one per
--   committed batch, written in the batch's transaction: a checkpoint never names a size that
--   is not durable.
--
-- The receipts stored before this migration are folded into the tree, in seq order, by the
-- collector the first time it opens the database (the hashes need code, not SQL).

CREATE TABLE log_hashes (
    idx  INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TABLE log_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB    NOT NULL CHECK (length(root) = 32),
    note      TEXT    NOT NULL,
    signed_at TEXT    NOT NULL
) STRICT;
