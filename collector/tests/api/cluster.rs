//! Several collectors, one PostgreSQL: real `serve` processes against a real cluster (see
//! `postgres.rs`). Two collectors under load keep one log (no gap, no fork, `audit` clean)
//! while one of them is killed with SIGKILL and its clients retry on the other; a retry that
//! lands on the other collector gets the same receipt; the database stopping for a while is
//! 503 `unavailable` with `Retry-After` and `/readyz` 503, then recovery with no restart; a
//! wrong URL, password, server or schema is a clear error at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kelisim_collector::store::{self, Location};

use crate::postgres::Cluster;
use crate::process::{command, demo_site_with, run, spawn_serve, stderr, stdout};
use crate::support::fixture;

/// A receipt a collector acknowledged (201, or 200 for a replay).
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    seq: i64,
    jws: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// The form fixture under the idempotency key `key`.
fn body(key: &str) -> String {
    fixture("receipt_request_form_given.json").replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", key)
}

/// Posts `body` to `base`: its status, and the receipt if one was acknowledged.
fn post(agent: &ureq::Agent, base: &str, body: &str) -> Result<(u16, Option<Ack>), String> {
    let mut response = agent
        .post(format!("{base}/v1/receipts"))
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    if status != 200 && status != 201 {
        return Ok((status, None));
    }
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok((
        status,
        Some(Ack {
            id: json["id"].as_str().unwrap_or_default().to_owned(),
            seq: json["seq"].as_i64().unwrap_or_default(),
            jws: json["jws"].as_str().unwrap_or_default().to_owned(),
        }),
    ))
}

/// A site config on `url`'s database, rate limits lifted for loopback load. The collectors
/// share one public address, as behind a load balancer: the receipts they sign name the
/// same policy URLs, so a retry on either is the same request.
fn site_on(root: &Path, url: &str) -> PathBuf {
    let site = demo_site_with(
        root,
        &format!(
            "[rate_limit]\nper_second = 1000000\nburst = 1000000\n\n[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n"
        ),
    );
    let config = site.join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        format!("public_url = \"https://consent.example.kz\"\n{text}"),
    )
    .expect("config");
    config
}

/// A second collector's data directory: the first one's signing keys and subject secret
/// (every collector of one log shares them), nothing else.
fn share_keys(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "copy the data directory");
}

/// Checks, with the store's own reader, that every acknowledged receipt is stored with the
/// JWS its client got and that the log has no gap; then `audit` on the database.
fn check_log(url: &str, data: &Path, acked: &[Ack]) -> i64 {
    let reader = store::open_reader(&Location::Postgres(url.to_owned())).expect("reader");
    for ack in acked {
        let row = reader.by_id(&ack.id).expect("query").unwrap_or_else(|| {
            panic!(
                "receipt {} (seq {}) was acknowledged but is lost",
                ack.id, ack.seq
            )
        });
        assert_eq!((row.seq, &row.jws), (ack.seq, &ack.jws), "{}", ack.id);
    }
    let count = reader.count().expect("count");
    let head = reader.head().expect("head").expect("a head");
    assert_eq!(head.seq, count, "no gap, no fork: seq 1..={count}");
    let out = run(&[
        "audit",
        "--data-dir",
        &data.display().to_string(),
        "--store",
        url,
    ]);
    assert!(
        out.status.success(),
        "audit: {}{}",
        stdout(&out),
        stderr(&out)
    );
    count
}

#[test]
fn two_collectors_keep_one_log_through_a_kill_9_of_one_of_them() {
    let mut cluster = Cluster::start();
    let url = cluster.create_database();
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = site_on(tmp.path(), &url);
    let (data_a, data_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = spawn_serve(&config, &data_a, &tmp.path().join("a.log"));
    share_keys(&data_a, &data_b);
    let b = spawn_serve(&config, &data_b, &tmp.path().join("b.log"));

    // A retry that lands on the other collector returns the same receipt.
    let agent = agent();
    let first = body(&"ab".repeat(16));
    let (status, on_a) = post(&agent, &a.base, &first).expect("post to A");
    assert_eq!(status, 201);
    let (status, on_b) = post(&agent, &b.base, &first).expect("post to B");
    assert_eq!(status, 200, "a replay");
    let (on_a, on_b) = (on_a.expect("ack"), on_b.expect("ack"));
    assert_eq!((on_a.id.as_str(), on_a.seq), (on_b.id.as_str(), on_b.seq));
    assert_eq!(on_a.jws, on_b.jws);

    // Load on both; A dies mid-load; its clients retry the same receipt on B.
    let bases: Arc<[String; 2]> = Arc::new([a.base.clone(), b.base.clone()]);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (bases, next, stop) = (bases.clone(), next.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = self::agent();
                let mut acks = vec![];
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("{:032x}", next.fetch_add(1, Ordering::Relaxed) + 1000);
                    let body = body(&key);
                    // Half the clients start on A, half on B; on any failure, the other.
                    let mut target = c % 2;
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        match post(&agent, &bases[target], &body) {
                            Ok((_, Some(ack))) => {
                                acks.push(ack);
                                break;
                            }
                            Ok((503, None)) | Err(_) => target = 1 - target,
                            Ok((status, None)) => panic!("unexpected {status}"),
                        }
                        assert!(Instant::now() < deadline, "no collector took {key}");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                acks
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    a.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let mut acked: Vec<Ack> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    acked.push(on_a);
    assert!(acked.len() > 50, "too little load: {}", acked.len());

    // The admin API of the surviving collector sees the receipts both wrote, with a token
    // created from the command line against the shared database.
    let token = run(&[
        "tokens",
        "create",
        "--data-dir",
        &data_a.display().to_string(),
        "--store",
        &url,
        "--config",
        &config.display().to_string(),
        "--site",
        "demo",
    ]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = stdout(&token).trim().to_owned();
    let mut listed = agent
        .get(format!("{}/v1/admin/sites/demo/receipts?limit=1", b.base))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("admin");
    assert_eq!(listed.status().as_u16(), 200);
    let listed: serde_json::Value =
        serde_json::from_str(&listed.body_mut().read_to_string().expect("body")).expect("json");
    // Counted up to 1,000 (`total_exact` false beyond).
    let expected = acked.len().min(1000) as u64;
    assert!(
        listed["total"].as_u64().unwrap_or(0) >= expected,
        "{listed}"
    );
    b.terminate();
    let stored = check_log(&url, &data_b, &acked);
    eprintln!(
        "two collectors: {} acknowledged, {stored} stored",
        acked.len()
    );
    cluster.stop();
}

#[test]
fn the_database_going_away_is_503_and_the_collector_recovers_by_itself() {
    let mut cluster = Cluster::start();
    let url = cluster.create_database();
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = site_on(tmp.path(), &url);
    let data = tmp.path().join("data");
    let server = spawn_serve(&config, &data, &tmp.path().join("c.log"));
    let agent = agent();
    let ready = |agent: &ureq::Agent| {
        agent
            .get(format!("{}/readyz", server.base))
            .call()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let mut acked = vec![];
    let (status, ack) = post(&agent, &server.base, &body(&"01".repeat(16))).expect("post");
    assert_eq!(status, 201);
    acked.extend(ack);
    assert_eq!(ready(&agent), 200);

    cluster.stop();
    let mut response = agent
        .post(format!("{}/v1/receipts", server.base))
        .header("content-type", "application/json")
        .send(body(&"02".repeat(16)))
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 503);
    assert!(
        response.headers().get("retry-after").is_some(),
        "Retry-After"
    );
    let problem = response.body_mut().read_to_string().expect("body");
    assert!(problem.contains("\"unavailable\""), "{problem}");
    assert_eq!(ready(&agent), 503);
    // Reads answer 503 too, not 500.
    let status = agent
        .get(format!("{}/v1/receipts/{}", server.base, acked[0].id))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 503);

    cluster.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ack = loop {
        match post(&agent, &server.base, &body(&"02".repeat(16))) {
            Ok((201, Some(ack))) => break ack,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("no recovery within 30 s: {other:?}\n{}", server.log()),
        }
    };
    acked.push(ack);
    assert_eq!(ready(&agent), 200);
    let status = agent
        .get(format!("{}/v1/receipts/{}", server.base, acked[0].id))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 200, "reads recover too");
    server.terminate();
    assert_eq!(check_log(&url, &data, &acked), 2);
}

#[test]
fn a_wrong_database_is_a_clear_error_at_start() {
    let cluster = Cluster::start();
    let url = cluster.create_database();
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = site_on(tmp.path(), &url);
    let data = tmp.path().join("data");
    let start = |store: &str| {
        command()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--store", store])
            .output()
            .expect("runs")
    };
    let wrong_password = url.replace(crate::postgres::PASSWORD, "not-the-password");
    let unreachable = format!(
        "postgres://kelisim:x@127.0.0.1:{}/kelisim",
        crate::process::free_port()
    );
    let no_such_db = cluster.url("no_such_database");
    for (store, says) in [
        (wrong_password.as_str(), "password"),
        (unreachable.as_str(), "cannot be reached"),
        (no_such_db.as_str(), "does not exist"),
        ("mysql://kelisim@127.0.0.1/kelisim", "PostgreSQL URL"),
    ] {
        let out = start(store);
        assert!(!out.status.success(), "{store} must be refused");
        let err = stderr(&out);
        assert!(err.contains(says), "{store}: {err}");
        assert!(
            !err.contains("not-the-password"),
            "the password is never printed: {err}"
        );
    }
    // A database at a newer schema than this binary.
    let server = spawn_serve(&config, &data, &tmp.path().join("c.log"));
    server.terminate();
    cluster.execute(&url, "UPDATE kelisim_schema SET version = version + 1");
    let out = start(&url);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("upgrade kelisim-collector"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(crate::postgres::PASSWORD));
}

#[test]
fn a_failover_to_a_synchronous_standby_loses_nothing_acknowledged() {
    let mut primary = Cluster::start();
    let db_url = primary.create_database();
    let db = db_url.rsplit('/').next().expect("db name").to_owned();
    let mut standby = primary.standby();
    // Every commit waits for the standby's flush from now on.
    primary.execute(
        "postgres",
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
    );
    primary.execute("postgres", "SELECT pg_reload_conf()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while crate::postgres::query_text(
        &primary.url("postgres"),
        "SELECT sync_state FROM pg_stat_replication",
    )
    .as_deref()
        != Some("sync")
    {
        assert!(
            Instant::now() < deadline,
            "the standby never became synchronous"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both hosts in the URL: the collector follows whichever takes writes.
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{},127.0.0.1:{}/{db}?target_session_attrs=read-write",
        crate::postgres::USER,
        crate::postgres::PASSWORD,
        primary.port,
        standby.port
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = site_on(tmp.path(), &url);
    let data = tmp.path().join("data");
    let server = spawn_serve(&config, &data, &tmp.path().join("c.log"));
    let base: Arc<str> = server.base.clone().into();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (base, next, stop, killed) =
                (base.clone(), next.clone(), stop.clone(), killed.clone());
            std::thread::spawn(move || {
                let agent = self::agent();
                let (mut before, mut after) = (vec![], vec![]);
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("{:032x}", next.fetch_add(1, Ordering::Relaxed) + 5000);
                    let body = body(&key);
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        // Read before sending: an answer counts as before the kill only if
                        // the kill had not begun when the request left.
                        let was_killed = killed.load(Ordering::Relaxed);
                        match post(&agent, &base, &body) {
                            Ok((_, Some(ack))) => {
                                if was_killed {
                                    after.push(ack)
                                } else {
                                    before.push(ack)
                                }
                                break;
                            }
                            Ok((503, None)) | Err(_) => {}
                            Ok((status, None)) => panic!("unexpected {status}"),
                        }
                        assert!(Instant::now() < deadline, "{key} never committed");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                (before, after)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    killed.store(true, Ordering::Relaxed);
    primary.kill();
    standby.promote();
    // Load goes on until receipts commit on the new primary.
    std::thread::sleep(Duration::from_millis(3000));
    stop.store(true, Ordering::Relaxed);
    let (mut before, mut after) = (vec![], vec![]);
    for client in clients {
        let (b, a) = client.join().expect("client");
        before.extend(b);
        after.extend(a);
    }
    assert!(
        !before.is_empty(),
        "no receipt before the kill:\n{}",
        server.log()
    );
    assert!(
        !after.is_empty(),
        "no receipt after the failover:\n{}",
        server.log()
    );
    server.terminate();
    // Every receipt acknowledged before the kill is on the new primary, with the rest.
    let promoted = format!(
        "postgres://{}:{}@127.0.0.1:{}/{db}",
        crate::postgres::USER,
        crate::postgres::PASSWORD,
        standby.port
    );
    let all: Vec<Ack> = before.iter().chain(&after).cloned().collect();
    let stored = check_log(&promoted, &data, &all);
    eprintln!(
        "failover: {} acknowledged before the kill, {} after, {stored} stored",
        before.len(),
        after.len()
    );
    standby.stop();
}

/// `synchronous_commit = off` as the database's default (an operator tuning for speed)
/// would let a commit return before anything is on disk or on the standby. The collector
/// sets it on for its own sessions, so with a synchronous standby gone a receipt waits:
/// no 201 until the standby has it.
#[test]
fn an_acknowledgement_waits_for_the_synchronous_standby_whatever_the_database_default() {
    let primary = Cluster::start();
    let url = primary.create_database();
    let db = url.rsplit('/').next().expect("db name").to_owned();
    primary.execute(
        "postgres",
        &["ALTER DATABASE ", &db, " SET synchronous_commit = off"].concat(),
    );
    let mut standby = primary.standby();
    primary.execute(
        "postgres",
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
    );
    primary.execute("postgres", "SELECT pg_reload_conf()");
    let sync_state = || {
        crate::postgres::query_text(
            &primary.url("postgres"),
            "SELECT sync_state FROM pg_stat_replication",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while sync_state().as_deref() != Some("sync") {
        assert!(
            Instant::now() < deadline,
            "the standby never became synchronous"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = site_on(tmp.path(), &url);
    let data = tmp.path().join("data");
    let server = spawn_serve(&config, &data, &tmp.path().join("c.log"));
    let agent = self::agent();
    let (status, first) = post(&agent, &server.base, &body(&format!("{:032x}", 1))).expect("post");
    assert_eq!(status, 201, "{}", server.log());
    assert!(first.is_some());

    standby.stop();
    let patient: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(90)))
        .build()
        .into();
    let (answer, answered) = std::sync::mpsc::channel();
    let base = server.base.clone();
    let held = std::thread::spawn(move || {
        let result = post(&patient, &base, &body(&format!("{:032x}", 2)));
        let _ = answer.send(result);
    });
    // With the session's default (off) the commit would return at once.
    assert!(
        answered.recv_timeout(Duration::from_secs(3)).is_err(),
        "a receipt was acknowledged with its synchronous standby down"
    );
    standby.run();
    let (status, ack) = answered
        .recv_timeout(Duration::from_secs(60))
        .expect("no answer after the standby came back")
        .expect("post");
    held.join().expect("client");
    assert_eq!(status, 201, "{}", server.log());
    let ack = ack.expect("a receipt");
    // The held receipt is on the standby.
    let standby_url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{db}",
        crate::postgres::USER,
        crate::postgres::PASSWORD,
        standby.port
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let on_standby = crate::postgres::query_text(
            &standby_url,
            &[
                "SELECT count(*)::text FROM receipts WHERE id = '",
                &ack.id,
                "'",
            ]
            .concat(),
        );
        if on_standby.as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "receipt {} not on the standby",
            ack.id
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.terminate();
    standby.stop();
}

#[test]
fn a_due_erasure_is_carried_out_once_whichever_collectors_run_the_task() {
    use kelisim_collector::admin::retention::{due_erasures_job, erasure_request};
    use kelisim_collector::store::{BY_CLI, Maintenance};
    let cluster = Cluster::start();
    let url = cluster.create_database();
    let signer =
        || kelisim_collector::keys::Signer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    // Two collectors' stores on one database.
    let a = store::open(&Location::Postgres(url.clone()), signer()).expect("a");
    let b = store::open(&Location::Postgres(url.clone()), signer()).expect("b");
    let now = time::OffsetDateTime::now_utc();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let request = erasure_request(
        "demo",
        vec!["ee".repeat(32)],
        now - time::Duration::days(40),
        30,
        now,
        BY_CLI,
        true,
    );
    runtime
        .block_on(a.maintain(Maintenance::RequestErasure(request)))
        .expect("recorded");
    // Both collectors' hourly task fires at once.
    let horizon = Duration::from_secs(3600);
    let (on_a, on_b) = runtime.block_on(async {
        tokio::join!(
            a.maintain(due_erasures_job(now, horizon)),
            b.maintain(due_erasures_job(now, horizon))
        )
    });
    assert_eq!(on_a.expect("a") + on_b.expect("b"), 1, "carried out once");
    let trail = a.reader().admin_audit("demo", 10).expect("trail");
    let due: Vec<_> = trail.iter().filter(|e| e.action == "erase_due").collect();
    assert_eq!(due.len(), 1, "{trail:?}");
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_sqlite_store_is_copied_to_postgres_and_goes_on_there() {
    let cluster = Cluster::start();
    let url = cluster.create_database();
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(
        tmp.path(),
        "[rate_limit]\nper_second = 1000\nburst = 1000\n",
    );
    let config = site.join("kelisim.toml");
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();
    let log = tmp.path().join("c.log");

    // A SQLite store with receipts, a withdrawal, a token and its audit trail.
    let server = spawn_serve(&config, &data, &log);
    let agent = agent();
    let mut acked = vec![];
    for n in 0..20 {
        let (status, ack) = post(&agent, &server.base, &body(&format!("{n:032x}"))).expect("post");
        assert_eq!(status, 201);
        acked.extend(ack);
    }
    // The form fixture's withdrawal secret, under a new key of its own.
    let withdraw =
        r#"{"key":"5b8e2d4f6a1c3e5f7b9d0a2c4e6f8a1b","secret":"9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c"}"#;
    let status = agent
        .post(format!(
            "{}/v1/receipts/{}/withdraw",
            server.base, acked[0].id
        ))
        .header("content-type", "application/json")
        .send(withdraw)
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    server.terminate();
    let token = run(&[
        "tokens",
        "create",
        "--data-dir",
        &data_arg,
        "--config",
        &config.display().to_string(),
        "--site",
        "demo",
        "--scope",
        "admin",
    ]);
    assert!(token.status.success(), "{}", stderr(&token));

    let out = run(&["store", "copy", "--from", &data_arg, "--to", &url]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    assert_eq!(status, 201, "the withdrawal");
    assert!(
        report.contains("copied 21 rows of receipts"),
        "20 consents and a withdrawal: {report}"
    );
    assert!(report.contains("copied 1 rows of admin_tokens"), "{report}");
    assert!(report.contains("audit ok"), "{report}");
    assert!(!report.contains(crate::postgres::PASSWORD), "{report}");

    // The copy is refused a second time: the target holds a store now.
    let again = run(&["store", "copy", "--from", &data_arg, "--to", &url]);
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
    assert!(
        stderr(&again).contains("already holds a store"),
        "{}",
        stderr(&again)
    );

    // The collector goes on on PostgreSQL: the same receipts, proofs, and the next seq.
    let server = crate::process::spawn_serve_with(&config, &data, &log, &["--store", &url]);
    // Every receipt's proof, as the copy serves it, checks offline with the keys alone.
    let get = |path: &str| {
        let mut response = agent
            .get(format!("{}{path}", server.base))
            .call()
            .expect("get");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.body_mut().read_to_string().expect("body")
    };
    let jwks = tmp.path().join("jwks.json");
    std::fs::write(&jwks, get("/.well-known/jwks.json")).expect("jwks");
    for ack in &acked {
        let proof = tmp.path().join("r.tlog-proof");
        std::fs::write(&proof, get(&format!("/v1/receipts/{}/proof", ack.id))).expect("proof");
        let out = run(&[
            "verify",
            &proof.display().to_string(),
            "--jwks",
            &jwks.display().to_string(),
        ]);
        assert!(out.status.success(), "{}: {}", ack.id, stderr(&out));
        assert!(stderr(&out).contains("proof ok"), "{}", stderr(&out));
    }
    let (status, next) = post(&agent, &server.base, &body(&"ff".repeat(16))).expect("post");
    assert_eq!(status, 201);
    let next = next.expect("ack");
    let before = store::open_reader(&Location::Postgres(url.clone()))
        .expect("reader")
        .count()
        .expect("count");
    assert_eq!(
        next.seq, before,
        "the log goes on after the copied receipts"
    );
    server.terminate();
    acked.push(next);
    check_log(&url, &data, &acked);
}

/// In one batch, an admin change comes after the receipts queued before it, also with a
/// readiness ping between them: an erasure request queued right after a consent covers it.
#[test]
fn an_erasure_queued_after_a_consent_in_the_same_batch_covers_it() {
    use kelisim_collector::admin::retention::erasure_request;
    use kelisim_collector::store::{BY_CLI, Maintenance};
    let cluster = Cluster::start();
    let url = cluster.create_database();
    let signer =
        kelisim_collector::keys::Signer::new(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    let store = store::open(&Location::Postgres(url.clone()), signer).expect("store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let hmac = "ee".repeat(32);
    let now = time::OffsetDateTime::now_utc();
    let request = erasure_request("demo", vec![hmac.clone()], now, 30, now, BY_CLI, false);
    // Queued together (join polls them in order): one batch of consent, ping, erasure.
    let (issued, pinged, erased) = runtime.block_on(async {
        tokio::join!(
            store.issue(kelisim_collector::receipt::PreparedReceipt::example(
                &"1".repeat(32),
                &hmac
            )),
            store.ping(),
            store.maintain(Maintenance::RequestErasure(request)),
        )
    });
    issued.expect("issued");
    pinged.expect("pinged");
    assert_eq!(
        erased.expect("erased"),
        1,
        "the consent queued before it is covered"
    );
    assert!(
        store
            .reader()
            .by_subject_hmac(&hmac)
            .expect("search")
            .is_empty(),
        "its subject index is gone"
    );
    store.shutdown();
}
