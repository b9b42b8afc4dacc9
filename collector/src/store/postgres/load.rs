//! Filling an empty PostgreSQL store with another store's rows, for `store copy`
//! (`store::copy`): each table's chunks bound as one array per column and inserted with
//! `unnest`, all in one transaction under the log's lock.

use postgres::Transaction;
use postgres::types::ToSql;

use super::{LOG_LOCK, PgError, config, connect_at_start, migrate, off_runtime};
use crate::store::StoreError;
use crate::store::copy::{Cell, Copied, Kind, TABLES, Table};

/// A source of rows: hands every row of a table to the sink, a chunk at a time.
pub(in crate::store) type Source<'a> = dyn FnMut(
        &Table,
        &mut dyn FnMut(Vec<Vec<Cell>>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>
    + Send
    + 'a;

/// Creates the schema at `url` if needed, refuses a database that already holds a store,
/// and inserts every table's rows from `source`; commits only if all went in.
pub(in crate::store) fn load(url: &str, source: &mut Source<'_>) -> Result<Copied, StoreError> {
    off_runtime(|| {
        let mut client = connect_at_start(&config(url)?, url)?;
        migrate(&mut client, url)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])?;
        let used: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM receipts) OR EXISTS (SELECT 1 FROM log_checkpoints)
                 OR EXISTS (SELECT 1 FROM admin_tokens)",
                &[],
            )?
            .try_get(0)?;
        if used {
            return Err(StoreError::Unsupported(format!(
                "the database at {} already holds a store (receipts, checkpoints or tokens); \
                 copy into an empty database",
                crate::store::redact_url(url)
            )));
        }
        let mut copied = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let mut rows = 0_u64;
            source(table, &mut |chunk| {
                rows += chunk.len() as u64;
                insert(&mut tx, table, chunk).map_err(StoreError::from)
            })?;
            copied.push((table.name, rows));
        }
        // The audit trail's numbering goes on after the copied entries.
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('admin_audit', 'id'),
                           coalesce((SELECT max(id) FROM admin_audit), 0) + 1, false)",
            &[],
        )?;
        tx.commit()?;
        Ok(copied)
    })
}

/// Rows per table at `url`, in [`TABLES`]' order.
pub(in crate::store) fn count_rows(url: &str) -> Result<Copied, StoreError> {
    off_runtime(|| {
        let mut client = connect_at_start(&config(url)?, url)?;
        TABLES
            .iter()
            .map(|t| {
                let sql = ["SELECT count(*) FROM ", t.name].concat();
                let n: i64 = client.query_one(&sql, &[])?.try_get(0)?;
                Ok((t.name, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    })
}

/// One column of a chunk, as the typed array it is bound as.
fn column(chunk: &[Vec<Cell>], i: usize, kind: Kind) -> Result<Box<dyn ToSql + Sync>, PgError> {
    let bad = |cell: &Cell| {
        kelisim_receipt::log::LogError::storage(format!("{cell:?} in a {kind:?} column"))
    };
    Ok(match kind {
        Kind::Int => Box::new(
            chunk
                .iter()
                .map(|r| match &r[i] {
                    Cell::Null => Ok(None),
                    Cell::Int(n) => Ok(Some(*n)),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<Option<i64>>, _>>()?,
        ),
        Kind::Text => Box::new(
            chunk
                .iter()
                .map(|r| match &r[i] {
                    Cell::Null => Ok(None),
                    Cell::Text(t) => Ok(Some(t.clone())),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<Option<String>>, _>>()?,
        ),
        Kind::Bytes => Box::new(
            chunk
                .iter()
                .map(|r| match &r[i] {
                    Cell::Null => Ok(None),
                    Cell::Bytes(b) => Ok(Some(b.clone())),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<Option<Vec<u8>>>, _>>()?,
        ),
        Kind::Bool => Box::new(
            chunk
                .iter()
                .map(|r| match &r[i] {
                    Cell::Null => Ok(None),
                    Cell::Bool(b) => Ok(Some(*b)),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<Option<bool>>, _>>()?,
        ),
        // A list per row: as JSON text, turned back into `text[]` by the statement (an
        // array of arrays would have to be rectangular).
        Kind::TextList => Box::new(
            chunk
                .iter()
                .map(|r| match &r[i] {
                    Cell::Null => Ok(None),
                    Cell::TextList(l) => Ok(Some(serde_json::to_string(l).unwrap_or_default())),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<Option<String>>, _>>()?,
        ),
    })
}

/// Inserts one chunk of `table`'s rows.
fn insert(tx: &mut Transaction<'_>, table: &Table, chunk: Vec<Vec<Cell>>) -> Result<(), PgError> {
    let mut names = Vec::new();
    let mut arrays = Vec::new();
    let mut selected = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for (i, (name, kind)) in table.columns.iter().enumerate() {
        names.push(*name);
        values.push(column(&chunk, i, *kind)?);
        let n = (i + 1).to_string();
        let (array, pick) = match kind {
            Kind::Int => ("::bigint[]", "c"),
            Kind::Text => ("::text[]", "c"),
            Kind::Bytes => ("::bytea[]", "c"),
            Kind::Bool => ("::boolean[]", "c"),
            Kind::TextList => ("::text[]", "list"),
        };
        arrays.push(["$", &n, array].concat());
        selected.push(if pick == "list" {
            [
                "(SELECT array_agg(e) FROM json_array_elements_text(c",
                &n,
                "::json) e)",
            ]
            .concat()
        } else {
            ["c", &n].concat()
        });
    }
    let aliases: Vec<String> = (1..=names.len())
        .map(|n| ["c", &n.to_string()].concat())
        .collect();
    let overriding = if table.name == "admin_audit" {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let sql = [
        "INSERT INTO ",
        table.name,
        " (",
        &names.join(", "),
        ")",
        overriding,
        " SELECT ",
        &selected.join(", "),
        " FROM unnest(",
        &arrays.join(", "),
        ") AS t(",
        &aliases.join(", "),
        ")",
    ]
    .concat();
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
    tx.execute(&sql, &params)?;
    Ok(())
}
