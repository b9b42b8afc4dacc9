//! What `kelisim-collector store copy` carries from one backend to another (SQLite to
//! PostgreSQL, the way a site outgrows one machine): every table of the schema with its
//! columns and how each is typed on either side, and the values in transit. The receipts
//! with every column, the log's tree and signed checkpoints, tokens, the audit trail,
//! erasure requests, tombstones, status marks, analytics and health rows, the witnesses'
//! state: nothing is signed again. The backends read and write rows ([`super::copy()`]
//! runs them).

/// How a column is carried across: the SQLite file's storage class and PostgreSQL's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
    Bytes,
    /// 0/1 in SQLite, boolean in PostgreSQL.
    Bool,
    /// A JSON array of strings in SQLite, `text[]` in PostgreSQL.
    TextList,
}

/// One value in transit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
    TextList(Vec<String>),
}

/// A table and its columns, in the order both schemas declare them.
pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) columns: &'static [(&'static str, Kind)],
    /// The column rows are read in order of (unique).
    pub(super) order: &'static str,
}

use Kind::{Bool, Bytes, Int, Text, TextList};

/// Every table of schema version 10, parents before children.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "receipts",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("site", Text),
            ("ref", Text),
            ("request_sha256", Text),
            ("kind", Text),
            ("event", Text),
            ("policy_version", Text),
            ("lang", Text),
            ("form_id", Text),
            ("browser_id", Text),
            ("issued_at", Text),
            ("kid", Text),
            ("jws", Text),
            ("jws_sha256", Text),
            ("withdraws", Text),
            ("holder_sha256", Text),
            ("subject_salt", Text),
        ],
        order: "seq",
    },
    Table {
        name: "subject_hashes",
        columns: &[("hmac", Text), ("seq", Int), ("kind", Text)],
        order: "seq, hmac",
    },
    Table {
        name: "chain_head",
        columns: &[("id", Int), ("seq", Int), ("jws_sha256", Text)],
        order: "id",
    },
    Table {
        name: "admin_tokens",
        columns: &[
            ("id", Text),
            ("secret_sha256", Text),
            ("sites", Text),
            ("scope", Text),
            ("label", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("revoked_at", Text),
        ],
        order: "id",
    },
    Table {
        name: "admin_audit",
        columns: &[
            ("id", Int),
            ("at", Text),
            ("token_id", Text),
            ("site", Text),
            ("action", Text),
            ("detail", Text),
        ],
        order: "id",
    },
    Table {
        name: "tombstones",
        columns: &[
            ("seq", Int),
            ("jws_sha256", Text),
            ("site", Text),
            ("purged_at", Text),
        ],
        order: "seq",
    },
    Table {
        name: "erasures",
        columns: &[("seq", Int), ("erased_at", Text)],
        order: "seq",
    },
    Table {
        name: "followed",
        columns: &[("seq", Int)],
        order: "seq",
    },
    Table {
        name: "erasure_requests",
        columns: &[
            ("id", Text),
            ("site", Text),
            ("hmacs", TextList),
            ("received_at", Text),
            ("due_at", Text),
            ("recorded_at", Text),
            ("recorded_by", Text),
            ("up_to_seq", Int),
            ("done_at", Text),
            ("done_by", Text),
            ("receipts", Int),
        ],
        order: "id",
    },
    Table {
        name: "log_hashes",
        columns: &[("idx", Int), ("hash", Bytes)],
        order: "idx",
    },
    Table {
        name: "log_checkpoints",
        columns: &[
            ("size", Int),
            ("root", Bytes),
            ("note", Text),
            ("signed_at", Text),
        ],
        order: "size",
    },
    Table {
        name: "cookie_choices",
        columns: &[
            ("site", Text),
            ("issued_at", Text),
            ("seq", Int),
            ("category", Text),
            ("granted", Bool),
        ],
        order: "seq, category, granted",
    },
    Table {
        name: "site_health",
        columns: &[
            ("site", Text),
            ("code", Text),
            ("detail", Text),
            ("path", Text),
            ("count", Int),
            ("first_seen", Text),
            ("last_seen", Text),
        ],
        order: "site, code, detail, path",
    },
    Table {
        name: "witness_heads",
        columns: &[
            ("origin", Text),
            ("size", Int),
            ("root", Bytes),
            ("cosigned_at", Text),
        ],
        order: "origin",
    },
    Table {
        name: "log_cosignatures",
        columns: &[
            ("witness", Text),
            ("size", Int),
            ("root", Bytes),
            ("signature", Text),
            ("at", Text),
        ],
        order: "witness, size",
    },
];

const _: () = assert!(
    super::SCHEMA_VERSION == 10,
    "a migration changes TABLES too"
);

/// Rows read and written per round trip.
pub(super) const CHUNK: usize = 5_000;

/// What was copied: rows per table, in [`TABLES`]' order.
pub type Copied = Vec<(&'static str, u64)>;
