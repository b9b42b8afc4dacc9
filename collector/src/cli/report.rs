//! Text the CLI prints: the receipts table and the verify summary. Pure formatting.

use crate::receipt::verify::Verified;
use crate::store::ReceiptRow;

/// `receipts list` as an aligned table, newest first.
pub fn receipts_table(rows: &[ReceiptRow]) -> String {
    let header = [
        "SEQ",
        "ISSUED_AT",
        "SITE",
        "KIND",
        "EVENT",
        "REF",
        "POLICY",
        "LANG",
        "FORM",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.seq.to_string(),
                r.issued_at.clone(),
                r.site.clone(),
                r.kind.clone(),
                r.event.clone(),
                r.reference.clone(),
                r.policy_version.clone(),
                r.lang.clone(),
                r.form_id.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cols.zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &cells {
        line(&mut row.iter().map(String::as_str));
    }
    if rows.is_empty() {
        out.push_str("(no receipts)\n");
    }
    out
}

/// First line `verify` prints (to stderr) for a valid receipt.
pub fn verified_summary(v: &Verified) -> String {
    match &v.receipt {
        Some(r) => format!(
            "kelisim: valid receipt seq {} ({} {} on site {}), signed {} by key {} ({})",
            r.seq,
            r.kind.as_str(),
            r.event.as_str(),
            r.site,
            r.issued_at,
            v.kid,
            v.alg
        ),
        None => format!(
            "kelisim: valid signature by key {} ({}); payload is not a v1 receipt",
            v.kid, v.alg
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned() {
        let row = ReceiptRow {
            seq: 12,
            id: "019a".into(),
            issued_at: "2026-11-21T09:15:02.123Z".into(),
            site: "demo".into(),
            kind: "form".into(),
            event: "given".into(),
            reference: "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3".into(),
            policy_version: "2026-03".into(),
            lang: "ru".into(),
            form_id: Some("feedback".into()),
            kid: "k".into(),
            jws: "j".into(),
            withdraws: None,
            holder_sha256: None,
        };
        expect_test::expect![[r#"
            SEQ  ISSUED_AT                 SITE  KIND  EVENT  REF                               POLICY   LANG  FORM
            12   2026-11-21T09:15:02.123Z  demo  form  given  0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3  2026-03  ru    feedback
        "#]]
        .assert_eq(&receipts_table(&[row]));
        assert!(receipts_table(&[]).ends_with("(no receipts)\n"));
    }
}
