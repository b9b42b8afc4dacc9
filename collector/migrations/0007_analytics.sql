-- Kelisim collector schema v7: the admin's consent analytics, counted in SQL.
--
-- The analytics count receipts per day or week by kind, event, language and policy version,
-- and the choice per cookie category. The first four are columns already; the new index
-- holds them after (site, issued_at), so a period's counts read the index alone, never the
-- rows with their JWS. The category choices were only inside the signed payload: each cookie
-- choice (given, refused, updated) now gets one row per category here, with the receipt's
-- site and time first, so a period's rows lie together and the table is its own index.
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
    PRIMARY KEY (site, issued_at, seq, category)
) STRICT, WITHOUT ROWID;

CREATE INDEX receipts_analytics ON receipts (site, issued_at, kind, event, lang, policy_version);
