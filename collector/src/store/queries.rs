//! The admin's queries as every backend takes and answers them: the filter, a receipt with
//! its later history, the statistics.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ReceiptRow;

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
    /// Receipts given in these browsers (`subject.browser_id`); `Some(empty)` matches nothing.
    pub browser_ids: Option<Vec<String>>,
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

/// Day counts for the stats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub given: u64,
    pub refused: u64,
    pub withdrawn: u64,
    pub updated: u64,
}

impl Counts {
    /// Adds `n` events of kind `event` (unknown events are not counted).
    pub fn add(&mut self, event: &str, n: u64) {
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

impl Stats {
    /// Counts `n` events `event` of one group: a day (`YYYY-MM-DD`), policy version,
    /// language and kind.
    pub fn add(
        &mut self,
        day: String,
        policy_version: String,
        lang: String,
        kind: String,
        event: &str,
        n: u64,
    ) {
        self.total.add(event, n);
        self.per_day.entry(day).or_default().add(event, n);
        self.per_policy_version
            .entry(policy_version)
            .or_default()
            .add(event, n);
        self.per_lang.entry(lang).or_default().add(event, n);
        self.per_kind.entry(kind).or_default().add(event, n);
    }
}
