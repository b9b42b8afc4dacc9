//! The admin's records and changes, as every backend takes and returns them: tokens, the
//! admin audit trail, erasure requests, the widgets' health reports, and [`Maintenance`], a
//! change to the store other than issuing a receipt (run by a running store's writer, or
//! offline by the CLI).

use kelisim_receipt::log::TreeHead;
use serde::Serialize;

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

impl AuditEntry {
    /// The audit-trail entry of an erasure step on `site` (`erase`, `erase_pending`,
    /// `erase_execute`, `erase_due`), by `by`: a token id, [`BY_CLI`] or [`BY_DEADLINE`].
    /// Every backend writes these with the erasure, in the same transaction.
    pub fn erasure(at: &str, by: &str, site: &str, action: &str, detail: String) -> AuditEntry {
        AuditEntry {
            at: at.to_owned(),
            token_id: by.to_owned(),
            site: Some(site.to_owned()),
            action: action.to_owned(),
            detail,
        }
    }
}

/// `recorded_by` / `done_by` of an erasure carried out from the command line on the server.
pub const BY_CLI: &str = "cli";
/// `done_by` of an erasure carried out because its due time came (the task in `serve`, or
/// `purge`); also the audit trail's token id for it.
pub const BY_DEADLINE: &str = "deadline";

/// A data subject's request to erase their identifiers, as it is recorded.
#[derive(Debug, Clone)]
pub struct ErasureRequest {
    /// UUIDv7, chosen by the caller.
    pub id: String,
    pub site: String,
    /// Keyed hashes of the identifier, as the subject index holds them (never the identifier).
    pub hmacs: Vec<String>,
    /// When the request reached the operator (RFC 3339 UTC).
    pub received_at: String,
    /// `received_at` plus the site's `erasure_deadline_days`.
    pub due_at: String,
    /// Now: also when it is carried out, with `execute`.
    pub recorded_at: String,
    /// Admin token id, or [`BY_CLI`].
    pub recorded_by: String,
    /// Carry it out at once; otherwise it stays pending until carried out or due.
    pub execute: bool,
}

/// An erasure request as listed: when it arrived, when it is due, whether it was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    pub id: String,
    pub site: String,
    /// `pending` or `done`.
    pub status: String,
    /// When the request reached the operator.
    pub received_at: String,
    /// The latest time it may be carried out: received + the site's `erasure_deadline_days`.
    pub due_at: String,
    pub recorded_at: String,
    /// The token id that recorded it, or `cli`.
    pub recorded_by: String,
    pub done_at: Option<String>,
    /// The token id that carried it out, `cli`, or `deadline` (carried out when due).
    pub done_by: Option<String>,
    /// Receipts whose subject index it erased (0 while pending).
    pub receipts: u64,
    /// Pending past its due time, or carried out after it.
    pub overdue: bool,
}

/// One finding a widget reported on one page (validated by `admin::health`: value-free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub code: &'static str,
    pub detail: String,
    pub path: String,
    pub count: u32,
}

/// One row of a site's health: a finding on one page, counted since it was first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthRow {
    pub code: String,
    pub detail: String,
    pub path: String,
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
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
    /// Record an erasure request, and carry it out if it says so, with its audit-trail entry
    /// (`erase` or `erase_pending`, by `recorded_by`) in the same transaction: a request is
    /// never done without its entry, nor recorded twice by a caller retrying after a failed
    /// entry. Affected: receipts whose subject index was destroyed.
    RequestErasure(ErasureRequest),
    /// Carry out `site`'s pending erasure request `id` for `by`, with its audit-trail entry
    /// (`erase_execute`) in the same transaction. Whether it is still pending is decided
    /// there too, since the due-time task may have carried it out a moment earlier: then the
    /// answer is [`StoreError::ErasureDone`](super::StoreError::ErasureDone) and the entry
    /// says so. An unknown request is
    /// [`StoreError::NoErasureRequest`](super::StoreError::NoErasureRequest). Affected:
    /// receipts whose subject index was destroyed.
    ExecuteErasure {
        site: String,
        id: String,
        at: String,
        by: String,
    },
    /// Carry out every pending erasure request, of any site, due before `before`, each with
    /// an audit-trail entry by [`BY_DEADLINE`]. Affected: requests carried out.
    ExecuteDueErasures {
        before: String,
        at: String,
    },
    /// Count a widget's `events` into `site`'s health rows as seen `at`; first delete the
    /// site's rows last seen before `forget_before`. A new row beyond `max_rows` of the site
    /// is dropped (known rows still count). Affected: rows counted.
    RecordHealth {
        site: String,
        events: Vec<HealthEvent>,
        at: String,
        forget_before: String,
        max_rows: i64,
    },
    /// As a witness: remember `to` as the tree last cosigned for the log `origin`, if the
    /// remembered one is still `from` (`None`: none yet). Affected 0 otherwise: another
    /// checkpoint was cosigned since the caller read `from`, and it must decide again.
    AdvanceWitness {
        origin: String,
        from: Option<TreeHead>,
        to: TreeHead,
        at: String,
    },
    /// As a log: keep `witness`'s verified cosignature (a note signature line) of this log's
    /// checkpoint of `size` and `root`.
    RecordCosignature {
        witness: String,
        size: u64,
        root: kelisim_receipt::log::Hash,
        line: String,
        at: String,
    },
}

/// What a maintenance job did: rows affected.
pub type Affected = u64;
