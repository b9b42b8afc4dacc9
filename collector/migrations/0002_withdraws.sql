-- Kelisim collector schema v2: withdrawals name the receipt they withdraw.
-- `withdraws` copies the payload field (`audit` checks it); the unique index makes a second
-- withdrawal of the same receipt impossible, so the writer returns the existing one instead.
ALTER TABLE receipts ADD COLUMN withdraws TEXT;

CREATE UNIQUE INDEX receipts_withdraws ON receipts (withdraws) WHERE withdraws IS NOT NULL;

-- References are random, so every receipt inserted a random entry into each index on them;
-- UNIQUE (site, ref) already finds a reference on a known site, which is how the collector
-- looks them up (one seek per configured site), so the second index only cost writes.
DROP INDEX receipts_ref;
