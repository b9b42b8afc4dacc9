//! Crash test: the real binary is killed with SIGKILL several times while clients post
//! receipts over loopback. After each restart, every receipt that was answered 201 must be
//! in the log with the very JWS the client got, and `audit` must find the log intact.
//! The transparency log's latest checkpoint covers exactly the receipts on disk, and every
//! receipt's inclusion proof verifies (`tree::check_log`).
//! (kill -9 tests that a 201 is only sent after the commit; that the commit survives a
//! power cut is what `synchronous = FULL` adds, which a test cannot pull the plug on.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kelisim_collector::store;

use crate::process::{demo_site_with, run, spawn_serve, stdout};
use crate::support::fixture;

/// Kill rounds; each runs the load for [`LOAD`] before SIGKILL. Bounded: about 10 s in all.
const ROUNDS: u64 = 4;
const LOAD: Duration = Duration::from_millis(1200);
const CLIENTS: usize = 4;

/// A receipt the collector acknowledged with 201.
#[derive(Debug, Clone)]
struct Ack {
    id: String,
    seq: i64,
    jws: String,
}

/// Posts receipts with fresh keys until `stop`; returns those answered 201.
fn client(base: &str, round: u64, next: &AtomicU64, stop: &AtomicBool) -> Vec<Ack> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let template = fixture("receipt_request_form_given.json");
    let url = format!("{base}/v1/receipts");
    let mut acks = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let key = format!("{round:08x}{n:024x}");
        let body = template.replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &key);
        let response = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&body);
        // Connection errors are expected once the server is killed: those receipts were
        // never acknowledged, so nothing is promised about them.
        let Ok(mut response) = response else { continue };
        if response.status().as_u16() != 201 {
            continue;
        }
        let Ok(text) = response.body_mut().read_to_string() else {
            continue;
        };
        let json: serde_json::Value = serde_json::from_str(&text).expect("201 body is JSON");
        acks.push(Ack {
            id: json["id"].as_str().expect("id").to_owned(),
            seq: json["seq"].as_i64().expect("seq"),
            jws: json["jws"].as_str().expect("jws").to_owned(),
        });
    }
    acks
}

/// One round: start, load, SIGKILL mid-load. Returns the round's acknowledgements.
fn round(config: &Path, data: &Path, log: &Path, round: u64) -> Vec<Ack> {
    let server = spawn_serve(config, data, log);
    let base: Arc<str> = server.base.clone().into();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, next, stop) = (base.clone(), next.clone(), stop.clone());
            std::thread::spawn(move || client(&base, round, &next, &stop))
        })
        .collect();
    std::thread::sleep(LOAD);
    // Kill first, then tell the clients: requests are in flight when the process dies.
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect()
}

#[test]
fn every_receipt_answered_201_survives_kill_9_and_the_log_stays_intact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Loopback load from one address: lift the per-address limit for this test.
    let site = demo_site_with(
        tmp.path(),
        "[rate_limit]\nper_second = 1000000\nburst = 1000000\n",
    );
    let config = site.join("kelisim.toml");
    let data = tmp.path().join("data");
    let log = tmp.path().join("collector.log");

    let mut acked: Vec<Ack> = Vec::new();
    for n in 0..ROUNDS {
        let acks = round(&config, &data, &log, n);
        eprintln!(
            "crash round {n}: {} receipts acknowledged before SIGKILL",
            acks.len()
        );
        assert!(
            !acks.is_empty(),
            "round {n}: no receipt was acknowledged; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        acked.extend(acks);
    }

    // Every acknowledged receipt is in the log, byte for byte, at its seq.
    let reader =
        store::open_reader(&store::Location::Sqlite(data.join("kelisim.db"))).expect("database");
    for ack in &acked {
        let row = reader.by_id(&ack.id).expect("query").unwrap_or_else(|| {
            panic!(
                "receipt {} (seq {}) was answered 201 but is lost",
                ack.id, ack.seq
            )
        });
        assert_eq!((row.seq, &row.jws), (ack.seq, &ack.jws), "{}", ack.id);
    }
    let stored = reader.count().expect("count");
    assert!(
        stored >= i64::try_from(acked.len()).expect("count fits"),
        "{stored} stored < {} acknowledged",
        acked.len()
    );
    eprintln!(
        "crash test: {} acknowledged, {stored} stored (the rest committed but unanswered)",
        acked.len()
    );
    drop(reader);
    // The transparency log: a checkpoint was signed in each batch's transaction, so the
    // latest one covers every receipt that reached the disk, and extends every earlier one.
    let proven = crate::tree::check_log(&data);
    eprintln!("crash test: the latest checkpoint covers {proven} receipts");

    // The restarted collector continues the chain, and audit finds it intact.
    let server = spawn_serve(&config, &data, &log);
    let (status, body) = crate::process::post(
        &format!("{}/v1/receipts", server.base),
        "application/json",
        &fixture("receipt_request_minimal.json"),
    );
    assert_eq!(status, 201, "{body}");
    assert!(server.terminate().success());
    assert_eq!(
        crate::tree::check_log(&data),
        proven + 1,
        "the tree goes on after restarts"
    );
    let data_arg = data.to_str().expect("utf8 path");
    let out = run(&["audit", "--data-dir", data_arg]);
    assert!(
        out.status.success(),
        "audit after {ROUNDS} crashes:\n{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).starts_with(&format!("audit ok: {} receipts", stored + 1)),
        "{}",
        stdout(&out)
    );
}
