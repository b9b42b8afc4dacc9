//! The localStorage keys through which one page leaves the widget work for a later one. The
//! loader reads them before deciding whether a page needs the wasm at all (issue 19: a
//! returning visitor's page without a form applies the stored choice without it), so they are
//! defined here, next to the rules it is generated from (`loader_rules`), and the widget uses
//! the same constants.

/// The JSON array of unacknowledged request bodies (receipts, withdrawals).
pub const QUEUE_KEY: &str = "kelisim:queue";
/// The references the collector acknowledged and the visitor has not yet dismissed: the
/// receipt notice links to the latest.
pub const ACKED_KEY: &str = "kelisim:acked";
/// The consents the loader's plain checkbox took (a JSON array), for the widget to record.
pub const FALLBACK_KEY: &str = "kelisim:fallback";

/// Keys whose non-empty JSON array means the wasm has work on this page: a receipt to send, a
/// notice to show, a fallback consent to record.
pub const PENDING: [&str; 3] = [QUEUE_KEY, ACKED_KEY, FALLBACK_KEY];
