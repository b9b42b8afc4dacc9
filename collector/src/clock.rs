//! Timestamps as the collector writes them: the log, key files, tokens and the audit trail
//! share one RFC 3339 format, so that their text sorts in time order.

/// RFC 3339 UTC with milliseconds: `2026-11-21T09:15:02.123Z`.
pub fn format_timestamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_millis() {
        let at = time::macros::datetime!(2026-11-21 09:15:02.123456 +05:00);
        assert_eq!(format_timestamp(at), "2026-11-21T04:15:02.123Z");
    }
}
