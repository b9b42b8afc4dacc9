-- Kelisim collector schema v9: integration health, as the widgets report it.
--
-- One row per site, finding (code and detail) and page path, counted since it was first
-- seen: the admin page's "Site health" panel (`admin::health`). The events are value-free by
-- construction (closed lists of codes and details, a path without its query, segments that
-- could name someone replaced by `*`); they are counts, not evidence, and `audit` does not
-- check them. Rows not seen for `admin::health::WINDOW_DAYS` days are deleted when a site
-- reports again; a site keeps at most `MAX_ROWS_PER_SITE` rows.

CREATE TABLE site_health (
    site       TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    count      INTEGER NOT NULL CHECK (count > 0),
    first_seen TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    PRIMARY KEY (site, code, detail, path)
) STRICT, WITHOUT ROWID;
