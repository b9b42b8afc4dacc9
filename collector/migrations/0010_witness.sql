-- Kelisim collector schema v10: witnessing (issue 15; c2sp.org/tlog-witness).
--
-- - `witness_heads`: as a witness, per log origin it follows, the tree it last cosigned.
--   A new checkpoint is cosigned only if it extends this tree; the row is replaced in the
--   same step that decides (compare and set on size and root), so two requests checked
--   against the same old tree are never both cosigned.
-- - `log_cosignatures`: as a log, the cosignature each configured witness returned for one
--   of this log's checkpoints (a signed-note signature line, verified before it is stored),
--   with the root it signed: a cosignature is served only beside a checkpoint of that root.

CREATE TABLE witness_heads (
    origin      TEXT    PRIMARY KEY,
    size        INTEGER NOT NULL,
    root        BLOB    NOT NULL CHECK (length(root) = 32),
    cosigned_at TEXT    NOT NULL
) STRICT;

CREATE TABLE log_cosignatures (
    witness   TEXT    NOT NULL,
    size      INTEGER NOT NULL,
    root      BLOB    NOT NULL CHECK (length(root) = 32),
    signature TEXT    NOT NULL,
    at        TEXT    NOT NULL,
    PRIMARY KEY (witness, size)
) STRICT;
