//! The real binary: `demo --port 0` announces itself, serves, and stops cleanly on SIGTERM;
//! `keys`, `verify`, `receipts list` and `audit` work on what it stored; `erase` records,
//! lists and carries out erasure requests, and `purge` carries out the due ones.

use kelisim_collector::build_app;
use kelisim_collector::store;

use crate::process::{command, demo_site, get, post, run, spawn_demo, stderr, stdout};
use crate::support::{Harness, RAW_PHONE_DIGITS, assert_not_in_files, fixture, post_receipt, send};

#[test]
fn demo_serves_until_sigterm_and_the_offline_tools_check_what_it_stored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let data_arg = data.to_str().expect("utf8 path");

    // keys generate: first key; a second generate is refused, rotation is the way.
    let out = run(&["keys", "generate", "--data-dir", data_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("kelisim: created signing key "),
        "{}",
        stdout(&out)
    );
    let out = run(&["keys", "generate", "--data-dir", data_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use `keys rotate`"),
        "{}",
        stderr(&out)
    );

    let site = demo_site(tmp.path());
    let server = spawn_demo(&data, &site, tmp.path());
    let base = server.base.clone();

    let (status, home) = get(&format!("{base}/"));
    assert_eq!((status, home.contains("Kelisim demo")), (200, true));
    // Its log is a file, not a terminal: plain text, no ANSI colour codes (issue 12).
    let log = server.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
    let (status, body) = post(
        &format!("{base}/v1/receipts"),
        "application/json",
        &fixture("receipt_request_form_given.json"),
    );
    assert_eq!(status, 201, "{body}");
    let (status, problem) = post(&format!("{base}/v1/receipts"), "text/plain", "{}");
    assert_eq!(status, 415, "{problem}");
    let (status, thanks) = post(
        &format!("{base}/feedback"),
        "application/x-www-form-urlencoded",
        "name=A&phone=87011234567&message=hi&lang=ru&kelisim_receipt=0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
    );
    assert_eq!(status, 200);
    assert!(
        thanks.contains("<code id=\"receipt-ref\">0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3</code>"),
        "{thanks}"
    );

    let (_, receipt) = get(&format!(
        "{base}/v1/receipts/0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3"
    ));
    let receipt_file = tmp.path().join("receipt.json");
    std::fs::write(&receipt_file, &receipt).expect("save receipt");
    let (_, jwks) = get(&format!("{base}/.well-known/jwks.json"));
    let jwks_file = tmp.path().join("jwks.json");
    std::fs::write(&jwks_file, &jwks).expect("save jwks");
    let jws = serde_json::from_str::<serde_json::Value>(&receipt).expect("json")["jws"]
        .as_str()
        .expect("jws")
        .to_owned();

    // verify against the live JWKS URL while the collector runs.
    let out = run(&[
        "verify",
        &jws,
        "--jwks",
        &format!("{base}/.well-known/jwks.json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let status = server.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    let log = std::fs::read_to_string(tmp.path().join("collector.log")).expect("log");
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(
        log.contains("widget is not built"),
        "a missing widget is reported: {log}"
    );
    assert!(!log.contains(RAW_PHONE_DIGITS), "{log}");
    assert_not_in_files(&data, RAW_PHONE_DIGITS);

    // verify: a file with the collector's answer, offline.
    let out = run(&[
        "verify",
        receipt_file.to_str().expect("utf8"),
        "--jwks",
        jwks_file.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let payload: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("prints the decoded receipt");
    assert_eq!(
        (payload["seq"].as_i64(), payload["ref"].as_str()),
        (Some(1), Some("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3"))
    );
    assert!(
        stderr(&out).contains("valid receipt seq 1"),
        "{}",
        stderr(&out)
    );
    let tampered = {
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        parts.join(".")
    };
    let out = run(&[
        "verify",
        &tampered,
        "--jwks",
        jwks_file.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid receipt"), "{}", stderr(&out));
    let out = run(&[
        "verify",
        "/nonexistent/receipt.json",
        "--jwks",
        jwks_file.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // receipts list, as a table and as JSON.
    let out = run(&["receipts", "list", "--data-dir", data_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.starts_with("SEQ") && table.contains("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3"),
        "{table}"
    );
    let out = run(&[
        "receipts",
        "list",
        "--data-dir",
        data_arg,
        "--site",
        "demo",
        "--json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json list");
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["jws"].as_str(), Some(jws.as_str()));
    let out = run(&[
        "receipts",
        "list",
        "--data-dir",
        data_arg,
        "--site",
        "other",
        "--json",
    ]);
    assert_eq!(stdout(&out).trim(), "[]");

    // audit: intact, then broken by an edit.
    let out = run(&["audit", "--data-dir", data_arg]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("audit ok: 1 receipts"),
        "{}",
        stdout(&out)
    );
    let conn = rusqlite::Connection::open(data.join("kelisim.db")).expect("open db");
    conn.execute("UPDATE receipts SET site = 'other' WHERE seq = 1", [])
        .expect("tamper");
    drop(conn);
    let out = run(&["audit", "--data-dir", data_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("audit FAILED: first broken seq 1"),
        "{}",
        stdout(&out)
    );

    // keys rotate adds a second key.
    let out = run(&["keys", "rotate", "--data-dir", data_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(data.join("keys")).expect("keys").count(),
        2
    );

    // Missing inputs are errors with exit 2 and a message.
    let out = run(&[
        "receipts",
        "list",
        "--data-dir",
        tmp.path().join("nowhere").to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
}

#[test]
fn an_invalid_config_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = demo_site(tmp.path()).join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("demo config");
    let data = tmp.path().join("data");
    for (edited, error) in [
        (
            text.replace("current_policy = \"2026-03\"", "current_policy = \"1999\""),
            "kelisim.toml: `site[demo].current_policy`: `1999` is not one of",
        ),
        (
            text.replace(
                "retention_days = 1095",
                "retention_days = 1095\nerasure_deadline_days = 365",
            ),
            "kelisim.toml: `site[demo].erasure_deadline_days`: 365 is out of range; use 1..=90 days",
        ),
    ] {
        std::fs::write(&config, edited).expect("write");
        let out = command()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains(error), "{err}");
        assert!(!data.exists(), "nothing was created");
    }
}

/// The id in `erase --pending`'s answer: "… recorded erasure request ID on site …".
fn request_id(out: &str) -> String {
    out.split("erasure request ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no request id in {out:?}"))
        .to_owned()
}

#[actix_web::test]
async fn erase_records_pending_requests_and_purge_carries_out_the_due_ones() {
    let h = Harness::new();
    let app = actix_web::test::init_service(build_app(h.state.clone())).await;
    let base = fixture("receipt_request_form_given.json");
    for (key, phone) in [("a", "87011111111"), ("b", "87012222222")] {
        let body = base
            .replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &key.repeat(32))
            .replace("8 (701) 123-45-67", phone);
        let reply = send(&app, post_receipt(&body).to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    h.state.store.shutdown();
    let dir = h.data.root().to_str().expect("utf-8 path").to_owned();
    let config = crate::support::demo_dir().join("kelisim.toml");
    let config = config.to_str().expect("utf-8 path");
    let erase = |extra: &[&str]| {
        let mut args = vec!["erase", "--data-dir", &dir, "--site", "demo"];
        args.extend_from_slice(extra);
        run(&args)
    };

    // The due date needs the site's deadline, and a typo in the site erases nothing.
    for extra in [&["--pending"][..], &[]] {
        let out = erase(&[&["--subject", "87011111111"], extra].concat());
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("recording an erasure request needs --config FILE"),
            "{}",
            stderr(&out)
        );
    }
    let out = run(&[
        "erase",
        "--data-dir",
        &dir,
        "--site",
        "demo2",
        "--subject",
        "87011111111",
        "--config",
        config,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("site `demo2` is not configured in ")
            && stderr(&out).contains("kelisim.toml; configured sites: demo"),
        "{}",
        stderr(&out)
    );
    let out = erase(&[
        "--subject",
        "87011111111",
        "--received",
        "2099-01-01",
        "--config",
        config,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--received `2099-01-01` is in the future"),
        "{}",
        stderr(&out)
    );

    // Received 40 days ago with a 30-day deadline: overdue. The other is due in 30 days.
    let forty_days_ago = crate::support::days_ago(40);
    let out = erase(&[
        "--subject",
        "8 701 111 11 11",
        "--pending",
        "--received",
        &forty_days_ago,
        "--config",
        config,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("as pending, due"), "{}", stdout(&out));
    let late = request_id(&stdout(&out));
    let out = erase(&["--subject", "87012222222", "--pending", "--config", config]);
    assert!(out.status.success(), "{}", stderr(&out));
    let later = request_id(&stdout(&out));
    let list = stdout(&erase(&["--list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with(&late)
            && lines[0].contains("pending")
            && lines[0].ends_with("OVERDUE"),
        "{list}"
    );
    assert!(
        lines[1].starts_with(&later) && !lines[1].contains("OVERDUE"),
        "{list}"
    );

    // purge carries out the overdue one, not the other.
    let out = run(&["purge", "--config", config, "--data-dir", &dir]);
    assert!(
        stdout(&out).contains("carried out 1 pending erasure requests"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let list = stdout(&erase(&["--list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with(&later) && lines[0].contains("pending"),
        "{list}"
    );
    assert!(
        lines[1].starts_with(&late)
            && lines[1].contains("by deadline, 1 receipts")
            && lines[1].ends_with("OVERDUE"),
        "{list}"
    );

    // A change whose audit entry cannot be written is not made.
    crate::support::refuse_audit_entries(&h.data, &[]);
    let out = erase(&["--execute", &later]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let out = erase(&["--subject", "87012222222", "--config", config]);
    assert!(!out.status.success(), "{}", stdout(&out));
    crate::support::allow_audit_entries(&h.data);
    let list = stdout(&erase(&["--list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.lines()
            .next()
            .is_some_and(|l| l.starts_with(&later) && l.contains("pending")),
        "{list}"
    );

    // The other is carried out by hand, once.
    let out = erase(&["--execute", &later]);
    assert!(
        stdout(&out).contains("erased the subject index of 1 receipts"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let again = stdout(&erase(&["--execute", &later]));
    assert!(
        again.contains(&format!(
            "erasure request {later} was already carried out at "
        )) && again.trim_end().ends_with("by cli"),
        "{again}"
    );
    let out = erase(&["--execute", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("site `demo` has no erasure request `nope`"),
        "{}",
        stderr(&out)
    );
    for phone in ["87011111111", "87012222222"] {
        let out = run(&["receipts", "export", "--data-dir", &dir, "--subject", phone]);
        assert_eq!(stdout(&out).lines().count(), 1, "only the header: {phone}");
    }

    // Each change is in the audit trail, and the chain still verifies.
    let trail = store::open_reader(&crate::support::store_of(&h.data))
        .expect("reader")
        .admin_audit("demo", 100)
        .expect("trail");
    let entries: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.token_id.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("erase_execute", "cli"), // already done: recorded as such, like the API's
            ("erase_execute", "cli"),
            ("erase_due", "deadline"),
            ("erase_pending", "cli"),
            ("erase_pending", "cli"),
        ],
        "{trail:?}"
    );
    let out = run(&["audit", "--data-dir", &dir]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn erase_lists_and_carries_out_on_an_older_store_alike() {
    let h = Harness::new();
    h.state.store.shutdown();
    // Frozen as schema v4 had it: no erasure requests yet.
    let db = rusqlite::Connection::open(h.data.db_path()).expect("db");
    db.execute_batch(
        "DROP TABLE witness_heads; DROP TABLE log_cosignatures;
         DROP TABLE site_health; DROP TABLE log_hashes; DROP TABLE log_checkpoints;
         DROP TABLE cookie_choices; DROP INDEX receipts_analytics;
         ALTER TABLE receipts DROP COLUMN holder_sha256;
         ALTER TABLE receipts DROP COLUMN subject_salt;
         DROP TABLE erasure_requests; PRAGMA user_version = 4;",
    )
    .expect("freeze as v4");
    let dir = h.data.root().to_str().expect("utf-8 path");
    let out = run(&["erase", "--data-dir", dir, "--site", "demo", "--list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no erasure requests on site demo");
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, store::SCHEMA_VERSION);
}

/// An export longer than a few of its chunks (2,000 rows, the next one read while this one is
/// written) has every receipt of the site once, in log order, with the same statuses as a
/// look-up of each receipt; on both backends.
#[test]
fn an_export_of_several_chunks_has_every_receipt_once_in_log_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let dir = data.to_str().expect("utf8 path");
    if crate::postgres::selected() {
        std::fs::create_dir_all(&data).expect("data dir");
        crate::support::store_on_postgres(&kelisim_collector::ops::datadir::DataDir::new(&data));
    }
    let out = run(&["bench-generate", "--data-dir", dir, "--count", "6000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = crate::support::store_of(&kelisim_collector::ops::datadir::DataDir::new(&data));
    let reader = store::open_reader(&store).expect("reader");
    let filter = store::ReceiptFilter {
        site: Some("demo".into()),
        ..store::ReceiptFilter::default()
    };
    let expected = reader.admin_count(&filter, 100_000).expect("count");
    assert!(
        expected > 4000,
        "{expected} receipts: fewer than three chunks"
    );

    let out = run(&[
        "receipts",
        "export",
        "--data-dir",
        dir,
        "--site",
        "demo",
        "--format",
        "ndjson",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson line"))
        .collect();
    assert_eq!(rows.len() as i64, expected);
    let seqs: Vec<i64> = rows
        .iter()
        .map(|r| r["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "not in log order, or a receipt twice"
    );
    // Withdrawals are spread over the log: their statuses come from the chunk's own query,
    // bounded to the chunk; each exported row is the receipt as a look-up reads it.
    let withdrawn = rows.iter().filter(|r| r["status"] == "withdrawn").count();
    assert!(withdrawn > 100, "{withdrawn} withdrawn");
    for row in rows.iter().step_by(31) {
        let id = row["id"].as_str().expect("id");
        let one = reader.admin_get(id).expect("get").expect("the receipt");
        let mut exported = row.clone();
        exported.as_object_mut().expect("object").remove("status");
        assert_eq!(serde_json::to_value(&one).expect("json"), exported, "{id}");
    }
}
