//! Consent analytics: a period of a site's days cut into day or week buckets in the site's
//! time zone, and the store's grouped counts folded into what the admin page draws. Pure
//! logic: the store counts ([`AdminReads::analytics`](crate::store::AdminReads::analytics)),
//! this decides where the buckets start and what the counts mean.
//!
//! A cookie choice is "accept all" (`given`), "reject all" (`refused`) or "custom"
//! (`updated`); a form consent counts when `given`; a withdrawal of either kind counts on the
//! day it was made. An acceptance rate is a share of cookie choices: per category, the
//! choices that granted it; per language and policy version, the choices that accepted all.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::clock::format_timestamp;
use crate::store::{AnalyticsGroups, AnalyticsQuery};

/// A period without `from` has this many days.
pub const DEFAULT_DAYS: i32 = 30;

/// The longest period one request may ask for: a year and a day, so any calendar year fits.
pub const MAX_DAYS: i32 = 366;

/// A request that cannot be answered, with what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("`{name}`: `{text}` is not a date; use YYYY-MM-DD, e.g. 2026-03-01")]
    BadDate { name: &'static str, text: String },
    #[error(
        "`to` ({to}) is before `from` ({from}); the period runs from `from` to `to`, both included"
    )]
    Reversed { from: Date, to: Date },
    #[error("the period has {days} days; ask for at most {MAX_DAYS} at a time")]
    TooLong { days: i64 },
    #[error("`bucket`: `{0}` is not a bucket; use `day` or `week`")]
    BadBucket(String),
    #[error("the period does not fit the site's time zone: {0}")]
    Zone(String),
}

/// How long a bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucketing {
    Day,
    /// Monday to Sunday; the first and last weeks are cut at the period's ends.
    Week,
}

/// A period of a site's days, both ends included, cut into buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
    pub bucket: Bucketing,
}

fn date(name: &'static str, text: &str) -> Result<Date, AnalyticsError> {
    let bad = || AnalyticsError::BadDate {
        name,
        text: text.to_owned(),
    };
    // Exactly YYYY-MM-DD: jiff would also take other spellings.
    if text.len() != 10 {
        return Err(bad());
    }
    text.parse::<Date>().map_err(|_| bad())
}

impl Period {
    /// The period a request names: `from` and `to` dates (by default the [`DEFAULT_DAYS`]
    /// days up to `today`, the site's date now, or up to `to`), `bucket` `day` (the
    /// default) or `week`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        bucket: Option<&str>,
        today: Date,
    ) -> Result<Period, AnalyticsError> {
        let to = to.map_or(Ok(today), |t| date("to", t))?;
        let from = match from {
            Some(f) => date("from", f)?,
            None => to.saturating_sub((DEFAULT_DAYS - 1).days()),
        };
        if to < from {
            return Err(AnalyticsError::Reversed { from, to });
        }
        let days = i64::from((to - from).get_days()) + 1;
        if days > i64::from(MAX_DAYS) {
            return Err(AnalyticsError::TooLong { days });
        }
        let bucket = match bucket.unwrap_or("day") {
            "day" => Bucketing::Day,
            "week" => Bucketing::Week,
            other => return Err(AnalyticsError::BadBucket(other.to_owned())),
        };
        Ok(Period { from, to, bucket })
    }

    /// The first day of every bucket, in order.
    pub fn starts(&self) -> Vec<Date> {
        let mut starts = vec![self.from];
        let mut day = self.from;
        while day < self.to {
            day = day.tomorrow().unwrap_or(self.to);
            let new_bucket = match self.bucket {
                Bucketing::Day => true,
                Bucketing::Week => day.weekday() == Weekday::Monday,
            };
            if new_bucket && day <= self.to {
                starts.push(day);
            }
        }
        starts
    }

    /// The store's query: each bucket from its first day's start in `zone` (midnight, or the
    /// first instant after a clock change skipped it) to the next bucket's, the last one to
    /// the start of the day after `to`.
    pub fn query(&self, site: &str, zone: &TimeZone) -> Result<AnalyticsQuery, AnalyticsError> {
        let end = self
            .to
            .checked_add(1.day())
            .map_err(|e| AnalyticsError::Zone(e.to_string()))?;
        let bounds = self
            .starts()
            .into_iter()
            .chain([end])
            .map(|day| start_of(day, zone))
            .collect::<Result<_, _>>()?;
        Ok(AnalyticsQuery {
            site: site.to_owned(),
            bounds,
        })
    }
}

/// The instant `day` begins in `zone`, as the store writes times.
fn start_of(day: Date, zone: &TimeZone) -> Result<String, AnalyticsError> {
    let zoned = day
        .to_zoned(zone.clone())
        .map_err(|e| AnalyticsError::Zone(e.to_string()))?;
    let nanos = zoned.timestamp().as_nanosecond();
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|e| AnalyticsError::Zone(e.to_string()))?;
    Ok(format_timestamp(at))
}

/// Consent events of a bucket, or of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// Form consents given.
    pub form_given: u64,
    /// Cookie choices "accept all".
    pub accept_all: u64,
    /// Cookie choices "reject all" (only the required categories).
    pub reject_all: u64,
    /// Cookie choices with some categories granted, some not.
    pub custom: u64,
    /// Withdrawals of either kind.
    pub withdrawals: u64,
}

impl Tally {
    fn add(&mut self, kind: &str, event: &str, n: u64) {
        match (kind, event) {
            (_, "withdrawn") => self.withdrawals += n,
            ("form", "given") => self.form_given += n,
            ("cookies", "given") => self.accept_all += n,
            ("cookies", "refused") => self.reject_all += n,
            ("cookies", "updated") => self.custom += n,
            _ => {}
        }
    }

    fn cookie_choices(&self) -> u64 {
        self.accept_all + self.reject_all + self.custom
    }
}

/// `part / whole`, or none of nothing.
fn rate(part: u64, whole: u64) -> Option<f64> {
    // Counts stay far below 2^52, where f64 is exact.
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// One bucket: its first day (in the site's time zone) and its events.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    /// `YYYY-MM-DD`.
    #[schema(value_type = String)]
    pub start: Date,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The choices on one cookie category.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CategoryRate {
    pub category: String,
    /// Cookie choices that granted it.
    pub granted: u64,
    /// Cookie choices that listed it.
    pub choices: u64,
    /// `granted / choices`; absent without choices.
    pub rate: Option<f64>,
}

/// A language's or a policy version's events over the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupRate {
    /// The language or the policy version.
    pub key: String,
    #[serde(flatten)]
    pub tally: Tally,
    /// Cookie choices that accepted all, of all its cookie choices; absent without any.
    pub acceptance_rate: Option<f64>,
}

/// What `GET /v1/admin/sites/{site}/analytics` answers.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Analytics {
    pub site: String,
    /// The site's time zone (IANA), in which the buckets' days are counted.
    pub time_zone: String,
    #[schema(value_type = String)]
    pub from: Date,
    #[schema(value_type = String)]
    pub to: Date,
    pub bucket: Bucketing,
    /// Every bucket of the period, in order, also those without events.
    pub buckets: Vec<Bucket>,
    pub total: Tally,
    /// Cookie choices per category, in the site's order (categories no longer configured
    /// after them).
    pub categories: Vec<CategoryRate>,
    /// Per language, sorted.
    pub languages: Vec<GroupRate>,
    /// Per policy version, sorted.
    pub policy_versions: Vec<GroupRate>,
}

/// Folds the store's counts for `period` into the answer; `categories` is the site's
/// configured order.
pub fn fold(
    site: &str,
    zone: &TimeZone,
    period: &Period,
    categories: &[String],
    groups: &AnalyticsGroups,
) -> Analytics {
    let mut buckets: Vec<Bucket> = period
        .starts()
        .into_iter()
        .map(|start| Bucket {
            start,
            tally: Tally::default(),
        })
        .collect();
    let mut total = Tally::default();
    let mut langs: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut versions: BTreeMap<&str, Tally> = BTreeMap::new();
    for g in &groups.events {
        if let Some(b) = buckets.get_mut(g.bucket) {
            b.tally.add(&g.kind, &g.event, g.count);
        }
        total.add(&g.kind, &g.event, g.count);
        langs
            .entry(&g.lang)
            .or_default()
            .add(&g.kind, &g.event, g.count);
        versions
            .entry(&g.policy_version)
            .or_default()
            .add(&g.kind, &g.event, g.count);
    }
    let mut per_category: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for g in &groups.categories {
        let entry = per_category.entry(&g.category).or_default();
        entry.1 += g.count;
        if g.granted {
            entry.0 += g.count;
        }
    }
    let mut order: Vec<&str> = categories.iter().map(String::as_str).collect();
    order.extend(
        per_category
            .keys()
            .filter(|c| !categories.iter().any(|k| k == *c)),
    );
    let categories = order
        .into_iter()
        .map(|category| {
            let (granted, choices) = per_category.get(category).copied().unwrap_or_default();
            CategoryRate {
                category: category.to_owned(),
                granted,
                choices,
                rate: rate(granted, choices),
            }
        })
        .collect();
    let group_rates = |map: BTreeMap<&str, Tally>| {
        map.into_iter()
            .map(|(key, tally)| GroupRate {
                key: key.to_owned(),
                tally,
                acceptance_rate: rate(tally.accept_all, tally.cookie_choices()),
            })
            .collect()
    };
    Analytics {
        site: site.to_owned(),
        time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        from: period.from,
        to: period.to,
        bucket: period.bucket,
        buckets,
        total,
        categories,
        languages: group_rates(langs),
        policy_versions: group_rates(versions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CategoryGroup, EventGroup};

    fn zone(name: &str) -> TimeZone {
        jiff::tz::db().get(name).expect("zone")
    }

    #[test]
    fn dates_buckets_and_lengths_are_checked() {
        let today = jiff::civil::date(2026, 3, 31);
        let err =
            |f: &str, t: &str, b| Period::parse(Some(f), Some(t), b, today).expect_err("refused");
        assert!(matches!(
            err("2026-3-1", "2026-03-02", None),
            AnalyticsError::BadDate { name: "from", .. }
        ));
        assert!(matches!(
            err("2026-03-01", "2026-02-30", None),
            AnalyticsError::BadDate { name: "to", .. }
        ));
        assert!(matches!(
            err("2026-03-02", "2026-03-01", None),
            AnalyticsError::Reversed { .. }
        ));
        assert_eq!(
            err("2025-01-01", "2026-01-02", None),
            AnalyticsError::TooLong { days: 367 }
        );
        assert_eq!(
            err("2026-03-01", "2026-03-02", Some("month")),
            AnalyticsError::BadBucket("month".into())
        );
        let ok = Period::parse(Some("2025-01-01"), Some("2026-01-01"), Some("week"), today);
        assert_eq!(ok.expect("366 days").bucket, Bucketing::Week);
        let default = Period::parse(None, None, None, today).expect("the last 30 days");
        assert_eq!(
            (default.from.to_string(), default.to),
            ("2026-03-02".into(), today)
        );
        let up_to = Period::parse(None, Some("2026-02-28"), None, today).expect("30 days");
        assert_eq!(up_to.from.to_string(), "2026-01-30");
    }

    #[test]
    fn weeks_start_on_mondays_and_are_cut_at_the_ends() {
        // 2026-03-04 is a Wednesday.
        let p = Period::parse(
            Some("2026-03-04"),
            Some("2026-03-16"),
            Some("week"),
            jiff::civil::date(2026, 3, 31),
        )
        .expect("period");
        let starts: Vec<String> = p.starts().iter().map(ToString::to_string).collect();
        assert_eq!(starts, ["2026-03-04", "2026-03-09", "2026-03-16"]);
        let days = Period::parse(
            Some("2026-03-04"),
            Some("2026-03-06"),
            None,
            jiff::civil::date(2026, 3, 31),
        )
        .expect("period");
        assert_eq!(days.starts().len(), 3);
    }

    #[test]
    fn bounds_are_local_midnights_including_across_a_clock_change() {
        let p = Period::parse(
            Some("2026-03-28"),
            Some("2026-03-30"),
            None,
            jiff::civil::date(2026, 3, 31),
        )
        .expect("period");
        let almaty = p.query("demo", &zone("Asia/Almaty")).expect("query");
        assert_eq!(
            almaty.bounds,
            [
                "2026-03-27T19:00:00.000Z",
                "2026-03-28T19:00:00.000Z",
                "2026-03-29T19:00:00.000Z",
                "2026-03-30T19:00:00.000Z"
            ]
        );
        // Berlin moves to summer time on 29 March 2026: that day has 23 hours.
        let berlin = p.query("demo", &zone("Europe/Berlin")).expect("query");
        assert_eq!(
            berlin.bounds,
            [
                "2026-03-27T23:00:00.000Z",
                "2026-03-28T23:00:00.000Z",
                "2026-03-29T22:00:00.000Z",
                "2026-03-30T22:00:00.000Z"
            ]
        );
    }

    #[test]
    fn counts_fold_into_buckets_totals_and_rates() {
        let p = Period::parse(
            Some("2026-03-01"),
            Some("2026-03-02"),
            None,
            jiff::civil::date(2026, 3, 31),
        )
        .expect("period");
        let ev = |bucket, kind: &str, event: &str, lang: &str, count| EventGroup {
            bucket,
            kind: kind.into(),
            event: event.into(),
            lang: lang.into(),
            policy_version: "2026-03".into(),
            count,
        };
        let cat = |category: &str, granted, count| CategoryGroup {
            bucket: 0,
            category: category.into(),
            granted,
            count,
        };
        let groups = AnalyticsGroups {
            events: vec![
                ev(0, "form", "given", "ru", 5),
                ev(0, "cookies", "given", "ru", 3),
                ev(1, "cookies", "refused", "kk", 1),
                ev(1, "cookies", "updated", "ru", 1),
                ev(1, "form", "withdrawn", "ru", 2),
            ],
            categories: vec![
                cat("analytics", true, 3),
                cat("analytics", false, 2),
                cat("old", true, 1),
            ],
        };
        let cats = ["necessary".to_owned(), "analytics".to_owned()];
        let a = fold("demo", &zone("Asia/Almaty"), &p, &cats, &groups);
        assert_eq!(a.time_zone, "Asia/Almaty");
        assert_eq!(
            a.buckets[0].tally,
            Tally {
                form_given: 5,
                accept_all: 3,
                ..Tally::default()
            }
        );
        assert_eq!(
            a.buckets[1].tally,
            Tally {
                reject_all: 1,
                custom: 1,
                withdrawals: 2,
                ..Tally::default()
            }
        );
        assert_eq!(a.total.cookie_choices(), 5);
        let names: Vec<&str> = a.categories.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, ["necessary", "analytics", "old"]);
        assert_eq!(a.categories[0].rate, None);
        assert_eq!(a.categories[1].rate, Some(0.6));
        let ru = a.languages.iter().find(|l| l.key == "ru").expect("ru");
        assert_eq!(ru.acceptance_rate, Some(0.75));
        let kk = a.languages.iter().find(|l| l.key == "kk").expect("kk");
        assert_eq!(kk.acceptance_rate, Some(0.0));
        assert_eq!(a.policy_versions.len(), 1);
    }
}
