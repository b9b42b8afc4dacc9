//! `audit` against tampering: edited, deleted, reordered and truncated logs are caught and
//! the first broken seq is named; so is a deleted status mark (`followed`). The tampering is
//! done with plain SQL, as an attacker with write access to the database would. Old schemas
//! are upgraded with their chain and every receipt's status intact.

use actix_web::test;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use kelisim_collector::build_app;
use kelisim_collector::keys::Keyring;
use kelisim_collector::log::audit::{AuditReport, Problem, audit};
use kelisim_collector::store;
use rusqlite::Connection;

use crate::support::{Harness, fixture, post_receipt, send};

/// A collector with four receipts, its writer stopped (as after a shutdown).
async fn log_of_four() -> Harness {
    let h = log_of_four_running().await;
    h.state.store.shutdown();
    h
}

fn run_audit(h: &Harness) -> AuditReport {
    let reader = store::open_reader(&crate::support::store_of(&h.data)).expect("reader");
    let keys = Keyring::load(&h.data.keys_dir())
        .expect("keys")
        .public_keys();
    audit(&reader, &keys).expect("audit runs")
}

/// The tree half of `audit`: the receipts' leaves rebuilt and compared with the stored ones
/// and every checkpoint. Payload v3 has no `prev`, so this is where a changed receipt shows
/// besides its own signature.
fn run_tree_audit(h: &Harness) -> kelisim_collector::log::tree_check::TreeReport {
    let reader = store::open_reader(&crate::support::store_of(&h.data)).expect("reader");
    let keys = Keyring::load(&h.data.keys_dir())
        .expect("keys")
        .public_keys();
    kelisim_collector::log::tree_check::audit_tree(reader.as_ref(), &keys).expect("tree audit runs")
}

fn tamper(h: &Harness, sql: &str) {
    crate::support::tamper_sql(&h.data, sql);
}

/// Rewrites the (stopped) log of `h` as a collector from before payload v2 (issue 13) would
/// have written it: each payload signed again as v1 (a clear 32-hex browser id, the subject's
/// hash under the data directory's one key, here of `phone`), chained again, indexed under
/// that hash, without withdrawal secrets or salts. What an upgraded store really holds, for
/// the tests that freeze a store as an older schema.
fn downgrade_to_v1(h: &Harness, phone: &str) {
    use kelisim_collector::hash::sha256_hex;
    use kelisim_collector::receipt::{ReceiptPayload, SignedIdentifier};
    let signer = Keyring::load(&h.data.keys_dir())
        .expect("keys")
        .signer()
        .expect("signer");
    let key = kelisim_collector::receipt::subject::SubjectKey::load(&h.data.subject_key_path())
        .expect("subject key");
    let hmac = key.legacy_index_hex(phone);
    let mut conn = Connection::open(h.data.db_path()).expect("open db");
    let tx = conn.transaction().expect("tx");
    let rows: Vec<(i64, String, String)> = tx
        .prepare("SELECT seq, jws, browser_id FROM receipts ORDER BY seq")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut prev = kelisim_collector::log::GENESIS_PREV.to_owned();
    for (seq, jws, browser) in rows {
        let mut payload: ReceiptPayload = serde_json::from_slice(
            &B64.decode(jws.split('.').nth(1).expect("payload"))
                .expect("b64"),
        )
        .expect("payload");
        // One v2 pseudonym, one v1 id: the same browsers stay linked.
        let browser = browser[..32].to_owned();
        payload.v = 1;
        payload.prev = Some(prev.clone());
        payload.subject.browser_id = Some(browser.clone());
        payload.subject.identifiers = payload
            .subject
            .identifiers
            .iter()
            .map(|i| SignedIdentifier {
                kind: i.kind,
                hmac: Some(hmac.clone()),
                commitment: None,
            })
            .collect();
        let v1 = signer.sign_compact(&serde_json::to_vec(&payload).expect("payload"));
        prev = sha256_hex(v1.as_bytes());
        tx.execute(
            "UPDATE receipts SET jws = ?2, jws_sha256 = ?3, browser_id = ?4,
                 holder_sha256 = NULL, subject_salt = NULL WHERE seq = ?1",
            rusqlite::params![seq, v1, prev, browser],
        )
        .expect("rewrite");
        tx.execute(
            "UPDATE subject_hashes SET hmac = ?2 WHERE seq = ?1",
            rusqlite::params![seq, hmac],
        )
        .expect("index");
    }
    tx.execute("UPDATE chain_head SET jws_sha256 = ?1", [&prev])
        .expect("head");
    tx.commit().expect("commit");
}

fn first_broken(report: &AuditReport) -> (i64, Problem) {
    let first = report
        .first_broken()
        .unwrap_or_else(|| panic!("audit should fail: {report}"));
    (first.seq, first.problem.clone())
}

#[actix_web::test]
async fn an_intact_log_passes() {
    let h = log_of_four().await;
    let report = run_audit(&h);
    assert!(report.is_intact(), "{report}");
    assert_eq!((report.receipts, report.last_seq), (4, 4));
}

#[actix_web::test]
async fn an_edited_receipt_is_caught_at_its_seq() {
    let h = log_of_four().await;
    // Rewrite receipt 2's payload to "refused", keeping its (now wrong) signature.
    let jws =
        crate::support::query_text(&h.data, "SELECT jws FROM receipts WHERE seq = 2").expect("jws");
    let parts: Vec<&str> = jws.split('.').collect();
    let payload = String::from_utf8(B64.decode(parts[1]).expect("b64")).expect("utf8");
    let edited = payload.replace("\"event\":\"given\"", "\"event\":\"refused\"");
    assert_ne!(edited, payload);
    let forged = format!("{}.{}.{}", parts[0], B64.encode(edited), parts[2]);
    tamper(
        &h,
        &format!("UPDATE receipts SET jws = '{forged}', event = 'refused' WHERE seq = 2"),
    );
    let report = run_audit(&h);
    let (seq, problem) = first_broken(&report);
    assert_eq!(seq, 2, "{report}");
    assert!(matches!(problem, Problem::Signature(_)), "{report}");
    // Its leaf no longer matches the tree the checkpoints signed (index 1 = seq 2).
    let tree = run_tree_audit(&h);
    assert!(!tree.is_intact(), "{tree}");
    assert!(tree.to_string().contains("leaf 1 (seq 2)"), "{tree}");
}

#[actix_web::test]
async fn an_edited_column_is_caught() {
    let h = log_of_four().await;
    tamper(
        &h,
        "UPDATE receipts SET policy_version = '2020-01' WHERE seq = 3",
    );
    let report = run_audit(&h);
    let (seq, problem) = first_broken(&report);
    assert_eq!(seq, 3, "{report}");
    assert!(
        matches!(
            problem,
            Problem::Mismatch {
                field: "policy_version",
                ..
            }
        ),
        "{report}"
    );
}

#[actix_web::test]
async fn a_deleted_receipt_is_named() {
    let h = log_of_four().await;
    tamper(
        &h,
        "DELETE FROM subject_hashes WHERE seq = 3; DELETE FROM receipts WHERE seq = 3;",
    );
    let report = run_audit(&h);
    assert_eq!(
        first_broken(&report),
        (3, Problem::Missing { from: 3, to: 3 }),
        "{report}"
    );
    // The tree keeps its leaf (hashes are never deleted): whoever holds the deleted receipt
    // and its proof can still show it was in the log.
    let tree = run_tree_audit(&h);
    assert!(tree.is_intact(), "{tree}");
}

#[actix_web::test]
async fn swapped_receipts_are_caught_at_the_first_moved_seq() {
    let h = log_of_four().await;
    tamper(
        &h,
        "UPDATE receipts SET seq = -2 WHERE seq = 2;
         UPDATE receipts SET seq = 2 WHERE seq = 3;
         UPDATE receipts SET seq = 3 WHERE seq = -2;",
    );
    let report = run_audit(&h);
    let (seq, problem) = first_broken(&report);
    assert_eq!(seq, 2, "{report}");
    assert!(
        matches!(problem, Problem::Mismatch { field: "seq", .. }),
        "{report}"
    );
}

#[actix_web::test]
async fn receipts_deleted_from_the_end_are_caught() {
    let h = log_of_four().await;
    tamper(
        &h,
        "DELETE FROM subject_hashes WHERE seq = 4; DELETE FROM receipts WHERE seq = 4;",
    );
    let report = run_audit(&h);
    assert_eq!(
        first_broken(&report),
        (4, Problem::Truncated { last_seq: 3 }),
        "{report}"
    );
}

#[actix_web::test]
async fn a_removed_subject_hash_is_caught() {
    let h = log_of_four().await;
    tamper(&h, "DELETE FROM subject_hashes WHERE seq = 1");
    let report = run_audit(&h);
    assert_eq!(
        first_broken(&report),
        (1, Problem::SubjectIndex),
        "{report}"
    );
}

#[actix_web::test]
async fn rotated_keys_keep_old_receipts_verifiable() {
    let h = log_of_four().await;
    let old_kid = Keyring::load(&h.data.keys_dir())
        .expect("keys")
        .active()
        .expect("key")
        .kid
        .clone();
    let rotated = Keyring::rotate(&h.data.keys_dir()).expect("rotate");
    assert_ne!(rotated.kid, old_kid);

    // A restarted collector signs with the new key and publishes both.
    let state = crate::support::open_state(&h.data, None, None);
    let app = test::init_service(build_app(state.clone())).await;
    let body = fixture("receipt_request_minimal.json");
    let reply = send(&app, post_receipt(&body).to_request()).await;
    assert_eq!(reply.status, 201);
    let jwks = send(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/.well-known/jwks.json")
            .to_request(),
    )
    .await;
    let claims = crate::support::verify_with_jsonwebtoken(
        reply.json()["jws"].as_str().expect("jws"),
        &jwks.body,
    );
    assert_eq!(claims["seq"], 5);
    let kids: Vec<String> = jwks.json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    assert_eq!(kids, [rotated.kid.clone(), old_kid]);
    state.store.shutdown();

    let report = run_audit(&h);
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.last_seq, 5);
}

#[actix_web::test]
async fn a_schema_v1_database_is_upgraded_and_its_chain_continues() {
    let h = log_of_four().await;
    downgrade_to_v1(&h, "+77011234567");
    assert!(run_audit(&h).is_intact(), "{}", run_audit(&h));
    // Freeze the log as schema v1 had it: no `withdraws` column, no admin tables (v3), no
    // `followed` (v4), no erasure requests (v5), no withdrawal secrets or salts (v6).
    tamper(
        &h,
        "DROP TABLE witness_heads; DROP TABLE log_cosignatures;
         DROP TABLE site_health; DROP TABLE log_hashes; DROP TABLE log_checkpoints;
         DROP TABLE cookie_choices; DROP INDEX receipts_analytics;
         ALTER TABLE receipts DROP COLUMN holder_sha256;
         ALTER TABLE receipts DROP COLUMN subject_salt;
         DROP TABLE erasure_requests;
         DROP TABLE followed; DROP INDEX receipts_browser_kind;
         CREATE INDEX receipts_browser ON receipts (browser_id);
         DROP TABLE admin_tokens; DROP TABLE admin_audit; DROP TABLE tombstones;
         DROP TABLE erasures; DROP INDEX receipts_admin;
         DROP INDEX receipts_withdraws;
         ALTER TABLE receipts DROP COLUMN withdraws;
         CREATE INDEX receipts_ref ON receipts (ref);
         PRAGMA user_version = 1;",
    );
    let err = store::open_reader(&crate::support::store_of(&h.data)).expect_err("old schema");
    assert!(
        err.to_string()
            .contains(&format!("older than {}", store::SCHEMA_VERSION)),
        "the offline tools ask for a migration: {err}"
    );

    // Starting the collector migrates it; old receipts still verify and the chain goes on.
    let state = crate::support::open_state(&h.data, None, None);
    let app = test::init_service(build_app(state.clone())).await;
    let reply = send(
        &app,
        post_receipt(&fixture("receipt_request_minimal.json")).to_request(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["seq"], 5);
    // A v1 receipt has no withdrawal secret: no browser withdraws it, whatever it shows...
    let rows = store::open_reader(&crate::support::store_of(&h.data))
        .expect("reader")
        .list(None, 10)
        .expect("list");
    let second = rows.iter().find(|r| r.seq == 2).expect("receipt 2");
    let browser = crate::support::payload_of(&second.jws)["subject"]["browser_id"]
        .as_str()
        .expect("v1 shows its browser")
        .to_owned();
    for secret in [crate::support::FORM_SECRET, browser.as_str()] {
        send(
            &app,
            crate::support::post_withdraw(
                &format!("{:032x}", 1),
                "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
                secret,
            )
            .to_request(),
        )
        .await
        .assert_problem(403, "not_receipt_holder");
    }
    // ...the site's admin does, and its subject is still found by the v1 index.
    let token = kelisim_collector::admin::tokens::generate(
        vec!["demo".into()],
        store::Scope::Admin,
        None,
        kelisim_collector::clock::format_timestamp(time::OffsetDateTime::now_utc()),
        None,
    )
    .expect("token");
    state
        .store
        .maintain(store::Maintenance::CreateToken(token.record))
        .await
        .expect("token stored");
    let withdrawn = send(
        &app,
        actix_web::test::TestRequest::post()
            .uri("/v1/admin/sites/demo/withdrawals")
            .insert_header(("authorization", format!("Bearer {}", token.text)))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"subject":"8 701 123 45 67"}"#)
            .to_request(),
    )
    .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text());
    assert_eq!(
        withdrawn.json()["withdrawals"].as_array().map(Vec::len),
        Some(4),
        "the four v1 consents of that phone"
    );
    state.store.shutdown();
    let report = run_audit(&h);
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.last_seq, 9);
    let conn = Connection::open(h.data.db_path()).expect("open db");
    let (version, ref_index): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version),
                    (SELECT count(*) FROM sqlite_master WHERE name = 'receipts_ref')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("schema");
    assert_eq!(
        (version, ref_index),
        (store::SCHEMA_VERSION, 0),
        "migrated to the current schema"
    );
}

#[actix_web::test]
async fn an_edited_withdraws_column_is_caught() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    assert_eq!(
        send(
            &app,
            post_receipt(&fixture("receipt_request_form_given.json")).to_request()
        )
        .await
        .status,
        201
    );
    let reply = send(
        &app,
        crate::support::post_withdraw(
            "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
            "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
            crate::support::FORM_SECRET,
        )
        .to_request(),
    )
    .await;
    assert_eq!(reply.status, 201);
    h.state.store.shutdown();
    // Unlinking the withdrawal from its consent, to make the consent look current again.
    tamper(&h, "UPDATE receipts SET withdraws = NULL WHERE seq = 2");
    let report = run_audit(&h);
    let (seq, problem) = first_broken(&report);
    assert_eq!(seq, 2, "{report}");
    assert!(
        matches!(
            problem,
            Problem::Mismatch {
                field: "withdraws",
                ..
            }
        ),
        "{report}"
    );
}

/// `(seq, withdrawn_by, superseded_by)` of a receipt.
type Status = (i64, Option<(String, String)>, Option<String>);

/// Every receipt's [`Status`], as the admin views show them.
fn statuses(reader: &store::Reader) -> Vec<Status> {
    reader
        .admin_chunk(&store::ReceiptFilter::default(), 0, 1000)
        .expect("rows")
        .into_iter()
        .map(|r| (r.row.seq, r.withdrawn_by, r.superseded_by))
        .collect()
}

/// Four form consents (the first withdrawn) and two cookie choices of one browser (the first
/// superseded by the second); the writer stopped.
async fn log_with_history() -> Harness {
    let h = log_of_four_running().await;
    let app = test::init_service(build_app(h.state.clone())).await;
    let withdraw = send(
        &app,
        crate::support::post_withdraw(
            &format!("{:032x}", 0),
            "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
            crate::support::FORM_SECRET,
        )
        .to_request(),
    )
    .await;
    assert_eq!(withdraw.status, 201, "{}", withdraw.text());
    let cookies = fixture("receipt_request_cookies_updated.json");
    for key in [
        "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1",
        "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2",
    ] {
        let body = cookies.replace("3d9c1b7a5e2f4c6d8a0b1c2d3e4f5a6b", key);
        let reply = send(&app, post_receipt(&body).to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    h.state.store.shutdown();
    h
}

/// [`log_of_four`] with its writer still running.
async fn log_of_four_running() -> Harness {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let base = fixture("receipt_request_form_given.json");
    for i in 0..4 {
        let body = base.replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &format!("{i:032x}"));
        assert_eq!(
            send(&app, post_receipt(&body).to_request()).await.status,
            201
        );
    }
    h
}

#[actix_web::test]
async fn a_schema_v3_store_keeps_every_status_when_upgraded() {
    let h = log_with_history().await;
    downgrade_to_v1(&h, "+77011234567");
    let before = statuses(&store::open_reader(&crate::support::store_of(&h.data)).expect("reader"));
    assert!(before[0].1.is_some(), "receipt 1 withdrawn: {before:?}");
    assert!(
        before[5].2.is_some(),
        "the first cookie choice superseded: {before:?}"
    );
    let choices = cookie_choices(&h);
    assert!(!choices.is_empty(), "the log has cookie choices");
    // Freeze it as schema v3 had it: the browser index alone, no `followed`, no requests, no
    // category rows (v8), no log tree (v7).
    tamper(
        &h,
        "DROP TABLE witness_heads; DROP TABLE log_cosignatures;
         DROP TABLE site_health; DROP TABLE log_hashes; DROP TABLE log_checkpoints;
         DROP TABLE cookie_choices; DROP INDEX receipts_analytics;
         ALTER TABLE receipts DROP COLUMN holder_sha256;
         ALTER TABLE receipts DROP COLUMN subject_salt;
         DROP TABLE erasure_requests;
         DROP TABLE followed; DROP INDEX receipts_browser_kind;
         CREATE INDEX receipts_browser ON receipts (browser_id);
         PRAGMA user_version = 3;",
    );
    store::upgrade_offline(&crate::support::store_of(&h.data)).expect("migrates");
    let reader = store::open_reader(&crate::support::store_of(&h.data)).expect("reader");
    assert_eq!(statuses(&reader), before);
    assert!(reader.unmarked_followed().expect("check").is_empty());
    assert_eq!(
        cookie_choices(&h),
        choices,
        "the migration fills the category rows from the payloads, as the writer did"
    );
    let report = run_audit(&h);
    assert!(report.is_intact(), "{report}");
}

#[actix_web::test]
async fn a_deleted_status_mark_is_caught() {
    let h = log_with_history().await;
    assert!(run_audit(&h).is_intact());
    // Hiding the withdrawal of receipt 1 from the admin views, leaving the log alone.
    tamper(&h, "DELETE FROM followed WHERE seq = 1");
    let report = run_audit(&h);
    assert_eq!(first_broken(&report), (1, Problem::StatusIndex), "{report}");
    assert!(
        statuses(&store::open_reader(&crate::support::store_of(&h.data)).expect("reader"))[0]
            .1
            .is_none(),
        "what the check protects: the withdrawal no longer shows"
    );
}

/// Every row of `cookie_choices` (the analytics' copy of the cookie categories), in order.
fn cookie_choices(h: &Harness) -> Vec<(String, String, i64, String, bool)> {
    let conn = Connection::open(h.data.db_path()).expect("db");
    let mut stmt = conn
        .prepare("SELECT site, issued_at, seq, category, granted FROM cookie_choices ORDER BY seq, category")
        .expect("query");
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}
