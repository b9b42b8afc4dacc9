-- Kelisim collector schema v4: which receipts a later receipt may have changed.
--
-- A receipt's status depends on later receipts: its withdrawal, or a later choice of the same
-- browser that supersedes it. The admin queries looked for both for every row they returned,
-- which cost the export a random seek into the browser index per receipt although most
-- receipts have no later receipt at all. `followed` lists the receipts that do (a later
-- receipt of the same browser and kind, or a withdrawal of them); the queries look further
-- only for those, with the same conditions as before, so their answers do not change.

CREATE TABLE followed (
    seq INTEGER PRIMARY KEY                  -- = receipts.seq
) STRICT;

-- Browser and kind, then seq: the supersession look-up reads it in order, and the marking
-- below finds the previous receipt on the index alone. Replaces the v1 index on browser_id
-- alone (no query needs one without the kind).
DROP INDEX receipts_browser;
CREATE INDEX receipts_browser_kind ON receipts (browser_id, kind);

-- From now on the store marks, with every receipt it inserts, its browser's previous receipt
-- of the same kind (earlier ones were marked by their own successors, so a receipt is marked
-- whenever a later one exists, also after retention purged receipts in between) and the
-- receipt it withdraws: `store::admin::mark_followed`. Not a trigger: a trigger's overhead
-- cost the writer about 3.5 µs per receipt, the statement about 1 µs.

-- The receipts already stored: one pass over the new index.
INSERT OR IGNORE INTO followed (seq)
    SELECT seq FROM (
        SELECT seq, lead(seq) OVER (PARTITION BY browser_id, kind ORDER BY seq) AS later
        FROM receipts
    ) WHERE later IS NOT NULL;
INSERT OR IGNORE INTO followed (seq)
    SELECT r.seq FROM receipts w JOIN receipts r ON r.id = w.withdraws WHERE w.withdraws IS NOT NULL;
