//! Reading a whole SQLite store table by table, for `store copy` (`store::copy`): every row
//! of every table as the copy's cells, in a stable order, a chunk at a time.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::connect;
use crate::store::StoreError;
use crate::store::copy::{CHUNK, Cell, Kind, TABLES, Table};

/// A read-only view of one database file, in one read transaction.
pub(in crate::store) struct Dump {
    conn: Connection,
}

impl Dump {
    /// Opens the file (which must exist and be at this binary's schema) and begins the read
    /// transaction every table is read in, so the copy is of one moment.
    pub(in crate::store) fn open(path: &Path) -> Result<Dump, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        let conn = connect(path, false)?;
        conn.execute_batch("BEGIN")?;
        Ok(Dump { conn })
    }

    /// Hands every row of `table` to `sink`, [`CHUNK`] rows at a time; the rows read.
    pub(in crate::store) fn rows(
        &self,
        table: &Table,
        sink: &mut dyn FnMut(Vec<Vec<Cell>>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let sql = [
            "SELECT ",
            &columns.join(", "),
            " FROM ",
            table.name,
            " ORDER BY ",
            table.order,
        ]
        .concat();
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(columns.len());
            for (i, (name, kind)) in table.columns.iter().enumerate() {
                cells.push(
                    cell(row.get_ref(i)?, *kind).map_err(|why| {
                        StoreError::Commit(format!("{}.{name}: {why}", table.name))
                    })?,
                );
            }
            chunk.push(cells);
            if chunk.len() == CHUNK {
                sink(std::mem::take(&mut chunk))?;
            }
        }
        if !chunk.is_empty() {
            sink(chunk)?;
        }
        Ok(())
    }

    /// Rows per table, in [`TABLES`]' order.
    pub(in crate::store) fn counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        TABLES
            .iter()
            .map(|t| {
                let sql = ["SELECT count(*) FROM ", t.name].concat();
                let n: i64 = self.conn.query_row(&sql, [], |r| r.get(0))?;
                Ok((t.name, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}

/// One stored value as a cell of `kind`.
fn cell(value: ValueRef<'_>, kind: Kind) -> Result<Cell, String> {
    Ok(match (value, kind) {
        (ValueRef::Null, _) => Cell::Null,
        (ValueRef::Integer(n), Kind::Int) => Cell::Int(n),
        (ValueRef::Integer(n), Kind::Bool) => Cell::Bool(n != 0),
        (ValueRef::Text(t), Kind::Text) => {
            Cell::Text(String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?)
        }
        (ValueRef::Text(t), Kind::TextList) => {
            Cell::TextList(serde_json::from_slice(t).map_err(|e| e.to_string())?)
        }
        (ValueRef::Blob(b), Kind::Bytes) => Cell::Bytes(b.to_vec()),
        (other, kind) => {
            return Err(format!(
                "{:?} where {kind:?} was expected",
                other.data_type()
            ));
        }
    })
}
