//! The consent analytics as every backend answers them: counts of receipts grouped by a
//! period's buckets, the grouping left to the caller (`admin::analytics` folds them into
//! what the admin page shows).

/// A period cut into consecutive buckets: `bounds[i] <= issued_at < bounds[i + 1]` is bucket
/// `i`. The bounds are instants in the store's timestamp form (RFC 3339 UTC with
/// milliseconds, as `clock::format_timestamp` writes them), so they compare as the stored
/// times do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsQuery {
    pub site: String,
    /// At least two, ascending.
    pub bounds: Vec<String>,
}

/// Receipts of one bucket with the same kind, event, language and policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    pub bucket: usize,
    pub kind: String,
    pub event: String,
    pub lang: String,
    pub policy_version: String,
    pub count: u64,
}

/// Cookie choices of one bucket that granted (or refused) one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryGroup {
    pub bucket: usize,
    pub category: String,
    pub granted: bool,
    pub count: u64,
}

/// What a backend counts for [`AdminReads::analytics`](super::AdminReads::analytics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsGroups {
    pub events: Vec<EventGroup>,
    pub categories: Vec<CategoryGroup>,
}

/// Whether a cookie receipt's categories are a choice to count: a withdrawal repeats the
/// choice it withdraws, which was counted when it was made. Every backend indexes the
/// choices of exactly these receipts.
pub(super) fn is_choice(kind: &str, event: &str) -> bool {
    kind == crate::receipt::Kind::Cookies.as_str()
        && event != crate::receipt::Event::Withdrawn.as_str()
}
