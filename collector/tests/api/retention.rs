//! Retention end to end (docs/compliance.md L10, P19): a store of signed, chained receipts
//! spread over two years (the hidden `bench-generate`), a site whose `retention_days` is 1,
//! then the `purge` command as an operator runs it: every receipt of the site whose last event
//! is past the period is gone, `audit` still passes across the tombstones, receipts of a site
//! the config does not name are left alone, and a fresh receipt survives the daily purge. And
//! deletion after a withdrawal, where the site promises it (`erase_on_withdrawal`).

use actix_web::test;
use kelisim_collector::admin::retention;
use kelisim_collector::build_app;
use kelisim_collector::clock::format_timestamp;
use kelisim_collector::ops::datadir::DataDir;
use kelisim_collector::web::state::MetricsAt;
use rusqlite::Connection;

use crate::process::{demo_site, run, stderr, stdout};
use crate::support::{
    TEST_CATEGORIES, config_edited, fixture, open_state_with, post_receipt, send,
};

fn count(db: &std::path::Path, sql: &str) -> i64 {
    Connection::open(db)
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

#[actix_web::test]
async fn receipts_past_retention_days_are_purged_and_the_log_stays_intact() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let dir = data.to_str().expect("utf-8");
    let out = run(&["bench-generate", "--data-dir", dir, "--count", "300"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = data.join("kelisim.db");
    let cutoff = format_timestamp(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let old =
        format!("SELECT count(*) FROM receipts WHERE site = 'demo' AND issued_at < '{cutoff}'");
    let others = "SELECT count(*) FROM receipts WHERE site = 'other'";
    let (old_before, others_before) = (count(&db, &old), count(&db, others));
    assert!(
        old_before > 100 && others_before > 0,
        "{old_before} {others_before}"
    );

    // The operator's config, with a one-day period.
    let site = demo_site(tmp.path());
    let config = site.join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("retention_days = 1095", "retention_days = 1"),
    )
    .expect("write");
    let config = config.to_str().expect("utf-8");
    let out = run(&["purge", "--config", config, "--data-dir", dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&db, &old), 0, "{}", stdout(&out));
    assert_eq!(
        count(&db, others),
        others_before,
        "another site's receipts stay"
    );
    let tombstones = count(&db, "SELECT count(*) FROM tombstones");
    assert!(tombstones > 0, "tombstones keep the chain");
    let out = run(&["audit", "--data-dir", dir]);
    assert!(
        out.status.success(),
        "audit after the purge: {}",
        stderr(&out)
    );

    // A receipt recorded now outlives the daily purge of the same period.
    let one_day = config_edited(|t| {
        format!(
            "{}\n{TEST_CATEGORIES}",
            t.replace("retention_days = 1095", "retention_days = 1")
        )
    });
    let state = open_state_with(
        one_day,
        &DataDir::create(&data).expect("data dir"),
        None,
        None,
        MetricsAt::Nowhere,
    );
    let app = test::init_service(build_app(state.clone())).await;
    let fresh = send(
        &app,
        post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
    )
    .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text());
    let purged = retention::purge_all(&state.store, &[("demo".to_owned(), 1)]).await;
    assert_eq!(
        purged, 0,
        "nothing left past the period, and the fresh one stays"
    );
    let id = fresh.json()["id"].as_str().expect("id").to_owned();
    state.store.shutdown();
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM receipts WHERE id = '{id}'")
        ),
        1
    );
}

/// `POST /v1/admin/sites/demo/withdrawals` with `body`, as `token`.
fn withdraw(token: &str, body: &str) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri("/v1/admin/sites/demo/withdrawals")
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

/// docs/compliance.md P21: with `erase_on_withdrawal`, a subject's withdrawal records an
/// erasure of their identifiers due `erasure_deadline_days` later, which the deadline task
/// carries out; without it, a withdrawal erases nothing.
#[actix_web::test]
async fn a_withdrawal_requests_erasure_where_the_site_promises_it() {
    use kelisim_collector::store::{Maintenance, Scope};

    for promise in [true, false] {
        let config = config_edited(|t| {
            t.replace(
                "retention_days = 1095",
                &format!(
                    "retention_days = 1095\nerasure_deadline_days = 10\nerase_on_withdrawal = {promise}"
                ),
            )
        });
        let h = crate::support::Harness::with_config(config);
        let app = test::init_service(build_app(h.state.clone())).await;
        let r = send(
            &app,
            post_receipt(&fixture("receipt_request_form_given.json")).to_request(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let token = crate::support::admin_token(&h, &["demo"], Scope::Admin).await;
        // The fixture's phone, spelled another way.
        let body = r#"{"subject":"+7 701 123 45 67"}"#;
        let answer = send(&app, withdraw(&token, body).to_request()).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let answer = answer.json();
        assert_eq!(answer["withdrawals"].as_array().map(Vec::len), Some(1));
        let found = |h: &crate::support::Harness| {
            let reader = h.state.store.reader();
            reader
                .erasures(
                    "demo",
                    &format_timestamp(time::OffsetDateTime::now_utc()),
                    10,
                )
                .expect("erasures")
        };
        if !promise {
            assert!(answer.get("erasure").is_none(), "{answer}");
            assert!(found(&h).is_empty(), "a withdrawal alone erases nothing");
            continue;
        }
        let erasure = &answer["erasure"];
        assert_eq!(erasure["status"], "pending", "{answer}");
        let (received, due) = (
            erasure["received_at"].as_str().expect("received"),
            erasure["due_at"].as_str().expect("due"),
        );
        let days = |at: &str| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .expect("time")
        };
        assert_eq!((days(due) - days(received)).whole_days(), 10, "{erasure}");
        // Its due time comes: carried out, and the phone finds nothing any more.
        let done = h
            .state
            .store
            .maintain(Maintenance::ExecuteDueErasures {
                before: "9999-01-01T00:00:00Z".into(),
                at: format_timestamp(time::OffsetDateTime::now_utc()),
            })
            .await
            .expect("due erasures");
        assert_eq!(done, 1);
        assert_eq!(found(&h)[0].status, "done");
        let search = actix_web::test::TestRequest::get()
            .uri("/v1/admin/sites/demo/receipts?subject=87011234567")
            .insert_header(("authorization", format!("Bearer {token}")));
        let listed = send(&app, search.to_request()).await.json();
        assert_eq!(listed["total"], 0, "{listed}");
    }
}
