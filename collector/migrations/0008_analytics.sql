-- Kelisim collector schema v8: the admin's consent analytics, counted in SQL.
--
-- The analytics count receipts per day or week by kind, event, language and policy version,
-- and the choice per cookie category. The first four are columns already; the new index
-- holds them after the site and before the time, so each group's count in a bucket is one
-- range of the index, counted without reading the rows with their JWS (nor sorting them, as
-- a GROUP BY would). The category choices were only inside the signed payload: each cookie
-- choice (given, refused, updated) now gets one row per category here, keyed the same way,
-- so the table is its own index.
-- Inserted with the receipt (`store::sqlite::analytics::record_choices`); the collector
-- fills it for the receipts already stored right after this file runs, from their payloads.
-- Retention purges a receipt's rows with it. `audit` does not check them: they are a count's
-- copy, not evidence.

CREATE TABLE cookie_choices (
    site      TEXT    NOT NULL,
    issued_at TEXT    NOT NULL,
    seq       INTEGER NOT NULL,                  -- = receipts.seq
    category  TEXT    NOT NULL,
    granted   INTEGER NOT NULL CHECK (granted IN (0, 1)),
    PRIMARY KEY (site, category, granted, issued_at, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX receipts_analytics ON receipts (site, kind, event, lang, policy_version, issued_at);
