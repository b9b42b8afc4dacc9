//! The consent analytics (issue 18): counts per day of form consents, cookie choices and
//! withdrawals with the acceptance rates, the site's token and the request's dates checked,
//! and days counted in the site's time zone, across a daylight-saving change too.

use actix_web::test::{self, TestRequest};
use kelisim_collector::admin::tokens;
use kelisim_collector::build_app;
use kelisim_collector::clock::format_timestamp;
use kelisim_collector::config::Config;
use kelisim_collector::store::{Maintenance, Scope};

use crate::support::{Harness, TEST_CATEGORIES, config_edited, fixture, post_receipt, send};

/// The tests' site (with the test cookie categories) in time zone `zone`.
fn site_in(zone: &str) -> Config {
    config_edited(|text| {
        let text = text.replace(
            "retention_days = 1095",
            &format!("retention_days = 1095\ntime_zone = \"{zone}\""),
        );
        format!("{text}\n{TEST_CATEGORIES}")
    })
}

async fn token(h: &Harness, site: &str, scope: Scope) -> String {
    let t = tokens::generate(
        vec![site.to_owned()],
        scope,
        None,
        format_timestamp(time::OffsetDateTime::now_utc()),
        None,
    )
    .expect("token");
    h.state
        .store
        .maintain(Maintenance::CreateToken(t.record))
        .await
        .expect("stored");
    t.text
}

fn get(token: &str, query: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!("/v1/admin/sites/demo/analytics?{query}"))
        .insert_header(("authorization", format!("Bearer {token}")))
}

/// A form consent under `key` in `lang`.
fn form(key: &str, lang: &str) -> TestRequest {
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("receipt_request_form_given.json")).expect("fixture");
    body["key"] = key.into();
    body["lang"] = lang.into();
    post_receipt(&body.to_string())
}

/// A cookie choice under `key`: `event` with analytics and marketing granted as given.
fn cookies(key: &str, event: &str, analytics: bool, marketing: bool) -> TestRequest {
    let mut body: serde_json::Value =
        serde_json::from_str(&fixture("receipt_request_cookies_updated.json")).expect("fixture");
    body["key"] = key.into();
    body["event"] = event.into();
    body["categories"][1]["granted"] = analytics.into();
    body["categories"][2]["granted"] = marketing.into();
    post_receipt(&body.to_string())
}

/// The local date (in `zone`) of an RFC 3339 instant.
fn local_date(at: &str, zone: &str) -> String {
    let ts: jiff::Timestamp = at.parse().expect("instant");
    ts.in_tz(zone).expect("zone").date().to_string()
}

#[actix_web::test]
async fn a_period_counts_consents_choices_withdrawals_and_acceptance_rates() {
    let h = Harness::with_config(site_in("Asia/Almaty"));
    let app = test::init_service(build_app(h.state.clone())).await;
    let mut ids = Vec::new();
    for (i, lang) in ["ru", "ru", "kk"].iter().enumerate() {
        let r = send(&app, form(&format!("{i:032x}"), lang).to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["id"].as_str().expect("id").to_owned());
    }
    for (key, event, a, m) in [
        ("c1", "given", true, true),
        ("c2", "given", true, true),
        ("c3", "refused", false, false),
        ("c4", "updated", true, false),
    ] {
        let r = send(&app, cookies(&key.repeat(16), event, a, m).to_request()).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let admin = token(&h, "demo", Scope::Admin).await;
    let w = send(
        &app,
        TestRequest::post()
            .uri("/v1/admin/sites/demo/withdrawals")
            .insert_header(("authorization", format!("Bearer {admin}")))
            .insert_header(("content-type", "application/json"))
            .set_payload(format!(r#"{{"receipt":"{}"}}"#, ids[0]))
            .to_request(),
    )
    .await;
    assert_eq!(w.status.as_u16() / 100, 2, "{}", w.text());

    let read = token(&h, "demo", Scope::Read).await;
    let today = local_date(
        &format_timestamp(time::OffsetDateTime::now_utc()),
        "Asia/Almaty",
    );
    let day: jiff::civil::Date = today.parse().expect("date");
    let (from, to) = (day.yesterday().expect("day"), day.tomorrow().expect("day"));
    let r = send(
        &app,
        get(&read, &format!("from={from}&to={to}")).to_request(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let a = r.json();
    assert_eq!(a["time_zone"], "Asia/Almaty");
    assert_eq!(a["bucket"], "day");
    let buckets = a["buckets"].as_array().expect("buckets");
    let starts: Vec<&str> = buckets
        .iter()
        .map(|b| b["start"].as_str().expect("start"))
        .collect();
    assert_eq!(starts, [from.to_string(), today.clone(), to.to_string()]);
    let want = serde_json::json!({
        "form_given": 3, "accept_all": 2, "reject_all": 1, "custom": 1, "withdrawals": 1
    });
    assert_eq!(a["total"], want);
    assert_eq!(buckets[1]["start"], today);
    for (key, value) in want.as_object().expect("object") {
        assert_eq!(&buckets[1][key], value, "{key} today");
        assert_eq!(buckets[0][key], 0, "{key} yesterday");
        assert_eq!(buckets[2][key], 0, "{key} tomorrow");
    }
    let rate = |category: &str| {
        a["categories"]
            .as_array()
            .expect("categories")
            .iter()
            .find(|c| c["category"] == category)
            .unwrap_or_else(|| panic!("{category}"))
            .clone()
    };
    assert_eq!(rate("necessary")["rate"], 1.0);
    assert_eq!(rate("analytics")["granted"], 3);
    assert_eq!(rate("analytics")["choices"], 4);
    assert_eq!(rate("analytics")["rate"], 0.75);
    assert_eq!(rate("marketing")["rate"], 0.5);
    // The cookie choices were in English, the form consents in Russian and Kazakh.
    let langs = a["languages"].as_array().expect("languages");
    let en = langs.iter().find(|l| l["key"] == "en").expect("en");
    assert_eq!(en["acceptance_rate"], 0.5);
    let ru = langs.iter().find(|l| l["key"] == "ru").expect("ru");
    assert_eq!(
        (ru["form_given"].as_u64(), ru["withdrawals"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(ru["acceptance_rate"].is_null(), "no cookie choices in ru");
    let versions = a["policy_versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["key"], "2026-03");

    // Weeks: one bucket (or two, if the three days span a Monday), the same totals.
    let r = send(
        &app,
        get(&read, &format!("from={from}&to={to}&bucket=week")).to_request(),
    )
    .await;
    let weeks = r.json();
    assert_eq!(weeks["total"], want);
    assert!(weeks["buckets"].as_array().expect("buckets").len() <= 2);
}

#[actix_web::test]
async fn another_sites_token_and_bad_periods_are_refused() {
    let h = Harness::with_config(site_in("Asia/Almaty"));
    let app = test::init_service(build_app(h.state.clone())).await;
    let other = token(&h, "other", Scope::Admin).await;
    send(
        &app,
        get(&other, "from=2026-03-01&to=2026-03-31").to_request(),
    )
    .await
    .assert_problem(403, "forbidden");
    let read = token(&h, "demo", Scope::Read).await;
    for (query, says) in [
        (
            "from=2026-3-1&to=2026-03-31",
            "`from`: `2026-3-1` is not a date; use YYYY-MM-DD",
        ),
        (
            "from=2026-03-01&to=2026-02-30",
            "`to`: `2026-02-30` is not a date",
        ),
        (
            "from=2026-03-31&to=2026-03-01",
            "`to` (2026-03-01) is before `from` (2026-03-31)",
        ),
        (
            "from=2025-01-01&to=2026-12-31",
            "the period has 730 days; ask for at most 366",
        ),
        (
            "from=2026-03-01&to=2026-03-31&bucket=month",
            "`bucket`: `month` is not a bucket",
        ),
    ] {
        let problem = send(&app, get(&read, query).to_request())
            .await
            .assert_problem(400, "invalid_request");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(says), "{query}: {detail}");
    }
    // Without dates: the 30 days up to `to`, or up to today in the site's zone.
    let up_to = send(&app, get(&read, "to=2026-03-31").to_request())
        .await
        .json();
    assert_eq!(
        (
            up_to["from"].as_str(),
            up_to["buckets"].as_array().map(Vec::len)
        ),
        (Some("2026-03-02"), Some(30))
    );
    let recent = send(&app, get(&read, "").to_request()).await.json();
    let today = local_date(
        &format_timestamp(time::OffsetDateTime::now_utc()),
        "Asia/Almaty",
    );
    assert_eq!(recent["to"], today);
}

/// Moves receipt `seq`'s stored time (and its category rows) to `at`, as if issued then.
fn backdate(h: &Harness, seq: i64, at: &str) {
    crate::support::tamper_sql(
        &h.data,
        &format!(
            "UPDATE receipts SET issued_at = '{at}' WHERE seq = {seq};
             UPDATE cookie_choices SET issued_at = '{at}' WHERE seq = {seq};"
        ),
    );
}

#[actix_web::test]
async fn days_are_counted_in_the_sites_time_zone_across_a_clock_change() {
    // Berlin moved to summer time (UTC+2) at 01:00 UTC on 29 March 2026; Almaty is UTC+5.
    // 19:30Z on the 29th is the 30th in Almaty and still the 29th in Berlin; 22:30Z is the
    // 30th in both (it would be the 29th in Berlin's winter time).
    let times = ["2026-03-29T19:30:00.000Z", "2026-03-29T22:30:00.000Z"];
    let mut days = Vec::new();
    for zone in ["Asia/Almaty", "Europe/Berlin"] {
        let h = Harness::with_config(site_in(zone));
        let app = test::init_service(build_app(h.state.clone())).await;
        for (i, at) in times.iter().enumerate() {
            let r = send(
                &app,
                cookies(&format!("{i:032x}"), "given", true, true).to_request(),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text());
            backdate(&h, r.json()["seq"].as_i64().expect("seq"), at);
        }
        let read = token(&h, "demo", Scope::Read).await;
        let a = send(
            &app,
            get(&read, "from=2026-03-29&to=2026-03-30").to_request(),
        )
        .await
        .json();
        assert_eq!(a["time_zone"], zone);
        let per_day: Vec<(String, u64)> = a["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| {
                (
                    b["start"].as_str().expect("start").to_owned(),
                    b["accept_all"].as_u64().expect("n"),
                )
            })
            .collect();
        let analytics: u64 = a["categories"][1]["granted"].as_u64().expect("granted");
        assert_eq!(analytics, 2, "both choices' categories are in the period");
        days.push(per_day);
    }
    let day = |d: &str, n: u64| (d.to_owned(), n);
    assert_eq!(
        days[0],
        [day("2026-03-29", 0), day("2026-03-30", 2)],
        "Asia/Almaty"
    );
    assert_eq!(
        days[1],
        [day("2026-03-29", 1), day("2026-03-30", 1)],
        "Europe/Berlin"
    );
    for at in times {
        assert_eq!(
            local_date(at, "Europe/Berlin") == "2026-03-29",
            at == times[0]
        );
    }
}
