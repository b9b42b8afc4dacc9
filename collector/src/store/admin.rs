//! The store's admin side: tokens, the admin audit trail, filtered receipt queries with
//! keyset pages, statistics, and the lifecycle changes (retention purge, subject erasure).
//!
//! Changes are plain functions on a transaction, run either by the writer thread (in a
//! running collector, as [`Maintenance`] jobs) or by [`maintain_offline`] (the CLI), so both
//! paths execute the same SQL. Reads extend [`Reader`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::reader::receipt_row;
use super::{Reader, ReceiptRow, StoreError, connect, migrate};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Query, export, stats, the audit trail.
    Read,
    /// Also withdraw and erase.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Self::Read),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub id: String,
    #[serde(skip)]
    pub secret_sha256: String,
    pub sites: Vec<String>,
    pub scope: Scope,
    pub label: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// One line of the admin audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub at: String,
    pub token_id: String,
    pub site: Option<String>,
    pub action: String,
    pub detail: String,
}

/// A change to the store other than issuing a receipt.
#[derive(Debug, Clone)]
pub enum Maintenance {
    CreateToken(TokenRecord),
    RevokeToken {
        id: String,
        at: String,
    },
    Audit(AuditEntry),
    /// Remove `site`'s receipts whose last event is before `cutoff` (RFC 3339), leaving
    /// tombstones.
    Purge {
        site: String,
        cutoff: String,
        at: String,
    },
    /// Destroy the subject index of `site`'s receipts found by these keyed hashes.
    Erase {
        site: String,
        hmacs: Vec<String>,
        at: String,
    },
}

/// What a maintenance job did: rows affected.
pub type Affected = u64;

/// Applies `op` inside `tx`.
pub fn apply(tx: &Transaction<'_>, op: &Maintenance) -> Result<Affected, rusqlite::Error> {
    match op {
        Maintenance::CreateToken(t) => {
            tx.execute(
                "INSERT INTO admin_tokens (id, secret_sha256, sites, scope, label, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    t.id,
                    t.secret_sha256,
                    t.sites.join(","),
                    t.scope.as_str(),
                    t.label,
                    t.created_at,
                    t.expires_at
                ],
            )
            .map(|n| n as u64)
        }
        Maintenance::RevokeToken { id, at } => tx
            .execute(
                "UPDATE admin_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map(|n| n as u64),
        Maintenance::Audit(e) => tx
            .prepare_cached(
                "INSERT INTO admin_audit (at, token_id, site, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![e.at, e.token_id, e.site, e.action, e.detail])
            .map(|n| n as u64),
        Maintenance::Purge { site, cutoff, at } => purge(tx, site, cutoff, at),
        Maintenance::Erase { site, hmacs, at } => erase(tx, site, hmacs, at),
    }
}

/// A receipt is past retention when it, and its withdrawal if any, were issued before
/// `cutoff`: the retention period runs from the last event of a consent.
fn purge(
    tx: &Transaction<'_>,
    site: &str,
    cutoff: &str,
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    const EXPIRED: &str = "SELECT r.seq FROM receipts r WHERE r.site = ?1 AND r.issued_at < ?2
         AND NOT EXISTS (SELECT 1 FROM receipts w WHERE w.withdraws = r.id AND w.issued_at >= ?2)";
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS purge_seqs (seq INTEGER PRIMARY KEY)",
        [],
    )?;
    tx.execute("DELETE FROM temp.purge_seqs", [])?;
    tx.execute(
        &format!("INSERT INTO temp.purge_seqs {EXPIRED}"),
        params![site, cutoff],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO tombstones (seq, jws_sha256, site, purged_at)
         SELECT seq, jws_sha256, site, ?1 FROM receipts WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [at],
    )?;
    tx.execute(
        "DELETE FROM subject_hashes WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    tx.execute(
        "DELETE FROM erasures WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    let n = tx.execute(
        "DELETE FROM receipts WHERE seq IN (SELECT seq FROM temp.purge_seqs)",
        [],
    )?;
    tx.execute("DELETE FROM temp.purge_seqs", [])?;
    Ok(n as u64)
}

fn erase(
    tx: &Transaction<'_>,
    site: &str,
    hmacs: &[String],
    at: &str,
) -> Result<Affected, rusqlite::Error> {
    let mut seqs = Vec::new();
    {
        let mut find = tx.prepare_cached(
            "SELECT h.seq FROM subject_hashes h JOIN receipts r ON r.seq = h.seq
             WHERE h.hmac = ?1 AND r.site = ?2",
        )?;
        for hmac in hmacs {
            for seq in find.query_map(params![hmac, site], |r| r.get::<_, i64>(0))? {
                seqs.push(seq?);
            }
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    let mut mark =
        tx.prepare_cached("INSERT OR IGNORE INTO erasures (seq, erased_at) VALUES (?1, ?2)")?;
    let mut drop_index = tx.prepare_cached("DELETE FROM subject_hashes WHERE seq = ?1")?;
    for seq in &seqs {
        mark.execute(params![seq, at])?;
        drop_index.execute([seq])?;
    }
    Ok(seqs.len() as u64)
}

/// Applies `op` in its own transaction on a fresh connection: for the CLI, when no
/// collector's writer thread is at hand (SQLite serialises it with a running one).
pub fn maintain_offline(path: &Path, op: &Maintenance) -> Result<Affected, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.display().to_string(),
        });
    }
    let mut conn: Connection = connect(path, false)?;
    migrate(&mut conn, path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = apply(&tx, op)?;
    tx.commit()?;
    Ok(n)
}

// ---- reads -----------------------------------------------------------------------------

/// Filters of an admin query. Every `Some` narrows the result.
#[derive(Debug, Clone, Default)]
pub struct ReceiptFilter {
    /// Receipts of this site only (always set by the API: routes are per site).
    pub site: Option<String>,
    /// `issued_at >= from` (RFC 3339 or a date).
    pub from: Option<String>,
    /// `issued_at < to`.
    pub to: Option<String>,
    pub kind: Option<String>,
    pub event: Option<String>,
    pub policy_version: Option<String>,
    pub form_id: Option<String>,
    pub lang: Option<String>,
    /// Keyed hashes of the subject searched for; `Some(empty)` matches nothing.
    pub subject_hmacs: Option<Vec<String>>,
}

impl ReceiptFilter {
    /// The `WHERE` clause over table alias `r`, made only of constant fragments, and the
    /// values bound to its parameters.
    fn sql(&self) -> (String, Vec<Value>) {
        let mut clause = String::from("1");
        let mut values: Vec<Value> = Vec::new();
        let conditions: [(&'static str, &Option<String>); 8] = [
            (" AND r.site = ?", &self.site),
            (" AND r.issued_at >= ?", &self.from),
            (" AND r.issued_at < ?", &self.to),
            (" AND r.kind = ?", &self.kind),
            (" AND r.event = ?", &self.event),
            (" AND r.policy_version = ?", &self.policy_version),
            (" AND r.form_id = ?", &self.form_id),
            (" AND r.lang = ?", &self.lang),
        ];
        for (condition, value) in conditions {
            if let Some(v) = value {
                clause.push_str(condition);
                values.push(Value::Text(v.clone()));
            }
        }
        if let Some(hmacs) = &self.subject_hmacs {
            // One bound JSON array, however many readings of the identifier there are.
            clause.push_str(
                " AND r.seq IN (SELECT seq FROM subject_hashes WHERE hmac IN (SELECT value FROM json_each(?)))",
            );
            values.push(Value::Text(
                serde_json::to_string(hmacs).unwrap_or_else(|_| "[]".into()),
            ));
        }
        (clause, values)
    }
}

/// Builds `head WHERE clause tail` from constant pieces.
fn statement(head: &str, clause: &str, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + clause.len() + tail.len() + 8);
    sql.push_str(head);
    sql.push_str(" WHERE ");
    sql.push_str(clause);
    sql.push_str(tail);
    sql
}

/// A receipt with what happened to it later.
#[derive(Debug, Clone, Serialize)]
pub struct AdminRow {
    #[serde(flatten)]
    pub row: ReceiptRow,
    /// The withdrawal of this consent: its id and time.
    pub withdrawn_by: Option<(String, String)>,
    /// A later choice of the same browser and site that replaces this one: any later cookie
    /// choice, or a form consent under a newer policy version (re-consent). Its id.
    pub superseded_by: Option<String>,
    /// The subject index was erased on request.
    pub erased: bool,
}

/// The columns of an [`AdminRow`]: a receipt with its later history (withdrawal, a newer
/// choice of the same browser, erasure).
macro_rules! admin_columns {
    () => {
        "SELECT r.seq, r.id, r.issued_at, r.site, r.kind, r.event, r.ref, r.policy_version,
     r.lang, r.form_id, r.kid, r.jws, r.withdraws,
     (SELECT w.id || ' ' || w.issued_at FROM receipts w WHERE w.withdraws = r.id),
     (SELECT s.id FROM receipts s WHERE s.browser_id = r.browser_id AND s.seq > r.seq AND s.site = r.site
        AND s.kind = r.kind AND s.event IN ('given', 'updated', 'refused')
        AND (r.kind = 'cookies' OR s.policy_version <> r.policy_version) ORDER BY s.seq LIMIT 1),
     EXISTS (SELECT 1 FROM erasures e WHERE e.seq = r.seq)"
    };
}

const ADMIN_SELECT: &str = concat!(admin_columns!(), " FROM receipts r");

/// Rows at the positions a subquery picks from the index alone; the caller appends the
/// subquery's filter, order and limit and closes it. The rows carry the JWS (~1.5 KB), and
/// a filter the index cannot order (a time range) would otherwise read every matching row
/// just to sort it.
const PAGE_HEAD: &str = concat!(
    admin_columns!(),
    " FROM receipts r WHERE r.seq IN (SELECT r.seq FROM receipts r"
);

fn admin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminRow> {
    let withdrawn: Option<String> = r.get(13)?;
    Ok(AdminRow {
        row: receipt_row(r)?,
        withdrawn_by: withdrawn.and_then(|w| {
            w.split_once(' ')
                .map(|(id, at)| (id.to_owned(), at.to_owned()))
        }),
        superseded_by: r.get(14)?,
        erased: r.get(15)?,
    })
}

/// Day counts for the stats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub given: u64,
    pub refused: u64,
    pub withdrawn: u64,
    pub updated: u64,
}

impl Counts {
    fn add(&mut self, event: &str, n: u64) {
        match event {
            "given" => self.given += n,
            "refused" => self.refused += n,
            "withdrawn" => self.withdrawn += n,
            "updated" => self.updated += n,
            _ => {}
        }
    }
}

/// Consent events grouped several ways.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub total: Counts,
    /// `YYYY-MM-DD` (UTC) → counts.
    pub per_day: BTreeMap<String, Counts>,
    pub per_policy_version: BTreeMap<String, Counts>,
    pub per_lang: BTreeMap<String, Counts>,
    pub per_kind: BTreeMap<String, Counts>,
}

impl Reader {
    /// One page of matching receipts, newest first, strictly before `before` (a `seq`).
    pub fn admin_page(
        &self,
        filter: &ReceiptFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        let (mut clause, mut values) = filter.sql();
        if let Some(before) = before {
            clause.push_str(" AND r.seq < ?");
            values.push(Value::Integer(before));
        }
        values.push(Value::Integer(i64::from(limit)));
        let sql = statement(
            PAGE_HEAD,
            &clause,
            " ORDER BY r.seq DESC LIMIT ?) ORDER BY r.seq DESC",
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(values), admin_row)?
                .collect()
        })
    }

    /// Matching receipts in log order, strictly after `after`: the export's chunks.
    pub fn admin_chunk(
        &self,
        filter: &ReceiptFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AdminRow>, StoreError> {
        let (clause, mut values) = filter.sql();
        values.push(Value::Integer(after));
        values.push(Value::Integer(i64::from(limit)));
        let sql = statement(
            PAGE_HEAD,
            &clause,
            " AND r.seq > ? ORDER BY r.seq LIMIT ?) ORDER BY r.seq",
        );
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(values), admin_row)?
                .collect()
        })
    }

    /// How many receipts match, counting at most `cap` (a page must not scan the whole log
    /// to say "more than a thousand").
    pub fn admin_count(&self, filter: &ReceiptFilter, cap: u32) -> Result<i64, StoreError> {
        let (clause, mut values) = filter.sql();
        values.push(Value::Integer(i64::from(cap)));
        let sql = statement(
            "SELECT count(*) FROM (SELECT 1 FROM receipts r",
            &clause,
            // Newest first, like the page: a filter matching recent receipts stops early.
            " ORDER BY r.seq DESC LIMIT ?)",
        );
        self.with(|c| {
            c.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(values), |r| r.get(0))
        })
    }

    /// One receipt with its status.
    pub fn admin_get(&self, id: &str) -> Result<Option<AdminRow>, StoreError> {
        let sql = statement(ADMIN_SELECT, "r.id = ?1", "");
        self.with(|c| {
            c.prepare_cached(&sql)?
                .query_row([id], admin_row)
                .optional()
        })
    }

    /// Event counts of matching receipts per day, policy version, language and kind.
    pub fn admin_stats(&self, filter: &ReceiptFilter) -> Result<Stats, StoreError> {
        let (clause, values) = filter.sql();
        let sql = statement(
            "SELECT substr(r.issued_at, 1, 10), r.policy_version, r.lang, r.kind, r.event, count(*)
             FROM receipts r",
            &clause,
            " GROUP BY 1, 2, 3, 4, 5",
        );
        self.with(|c| {
            let mut stats = Stats::default();
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
            while let Some(r) = rows.next()? {
                let (day, version, lang, kind, event): (String, String, String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                let n = u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0);
                stats.total.add(&event, n);
                stats.per_day.entry(day).or_default().add(&event, n);
                stats
                    .per_policy_version
                    .entry(version)
                    .or_default()
                    .add(&event, n);
                stats.per_lang.entry(lang).or_default().add(&event, n);
                stats.per_kind.entry(kind).or_default().add(&event, n);
            }
            Ok(stats)
        })
    }

    /// The token with this public id.
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{TOKEN_SELECT} WHERE id = ?1"))?
                .query_row([id], token_row)
                .optional()
        })
    }

    /// Every token, oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("{TOKEN_SELECT} ORDER BY created_at, id"))?
                .query_map([], token_row)?
                .collect()
        })
    }

    /// The newest `limit` audit entries of `site`, newest first.
    pub fn admin_audit(&self, site: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT at, token_id, site, action, detail FROM admin_audit WHERE site = ?1
                 ORDER BY id DESC LIMIT ?2",
            )?
            .query_map(params![site, limit], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    token_id: r.get(1)?,
                    site: r.get(2)?,
                    action: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Tombstones of purged receipts: `seq` → SHA-256 of the JWS that was there.
    pub fn tombstones(&self) -> Result<BTreeMap<i64, String>, StoreError> {
        self.with(|c| {
            c.prepare("SELECT seq, jws_sha256 FROM tombstones")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
    }

    /// Receipts whose subject index was erased.
    pub fn erased(&self) -> Result<HashSet<i64>, StoreError> {
        self.with(|c| {
            c.prepare("SELECT seq FROM erasures")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }
}

const TOKEN_SELECT: &str = "SELECT id, secret_sha256, sites, scope, label, created_at, expires_at, revoked_at FROM admin_tokens";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let sites: String = r.get(2)?;
    let scope: String = r.get(3)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        secret_sha256: r.get(1)?,
        sites: sites
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        // The table's CHECK allows only these two.
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        label: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}
