//! Fault injection against the real binary: a full disk, a read-only store and a slow disk
//! (simulated through SQLite's own error paths by the hidden `serve --fault-file`, see
//! `store/sqlite/fault.rs`), and a widget's retry queue facing a collector that is down,
//! refusing with 503, or too slow to answer. In every case: writes get 503 with Retry-After (never a 500),
//! reads keep working, nothing acknowledged is lost, every queued receipt arrives exactly once,
//! the collector recovers on its own when the fault clears, and `audit` finds the log intact.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kelisim_collector::store;

use crate::process::{Running, command, demo_site_with, run, spawn, stdout};
use crate::support::fixture;

const FIXTURE_KEY: &str = "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3";

/// A collector on a data dir, with a fault file it re-reads before each write batch.
struct Faulty {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
    fault: PathBuf,
}

impl Faulty {
    fn new() -> Faulty {
        let tmp = tempfile::tempdir().expect("tempdir");
        // One client address sends everything here: lift the per-address limit.
        let site = demo_site_with(
            tmp.path(),
            "[rate_limit]\nper_second = 1000000\nburst = 1000000\n",
        );
        Faulty {
            config: site.join("kelisim.toml"),
            data: tmp.path().join("data"),
            log: tmp.path().join("collector.log"),
            fault: tmp.path().join("faults"),
            _tmp: tmp,
        }
    }

    fn start(&self) -> Running {
        let mut cmd = command();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--widget-dir")
            .arg(self.data.join("no-widget"))
            .env("KELISIM_FAULT_FILE", &self.fault);
        spawn(cmd, &self.data, &self.log)
    }

    fn set(&self, faults: &str) {
        std::fs::write(&self.fault, faults).expect("write fault file");
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.fault);
    }

    /// Every acknowledged receipt is stored with the JWS its client got, each reference
    /// once; `audit` passes. Returns the number stored.
    fn assert_intact(&self, acked: &HashMap<String, Ack>) -> i64 {
        let reader = store::open_reader(&store::Location::Sqlite(self.data.join("kelisim.db")))
            .expect("database");
        for (key, ack) in acked {
            let row = reader
                .by_id(&ack.id)
                .expect("query")
                .unwrap_or_else(|| panic!("receipt {key} was acknowledged but is lost"));
            assert_eq!((row.seq, &row.jws), (ack.seq, &ack.jws), "{key}");
            assert_eq!(row.reference, *key);
        }
        let stored = reader.count().expect("count");
        let refs: std::collections::HashSet<String> = reader
            .list(None, 100_000)
            .expect("list")
            .into_iter()
            .map(|r| r.reference)
            .collect();
        assert_eq!(
            refs.len(),
            usize::try_from(stored).expect("fits"),
            "a reference is stored twice"
        );
        drop(reader);
        let out = run(&[
            "audit",
            "--data-dir",
            self.data.to_str().expect("utf8 path"),
        ]);
        assert!(out.status.success(), "audit: {}", stdout(&out));
        stored
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    id: String,
    seq: i64,
    jws: String,
}

/// What a POST got: a status (0: no answer in time), the Retry-After header, the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn ack(&self) -> Ack {
        let json: serde_json::Value = serde_json::from_str(&self.body).expect("2xx body is JSON");
        Ack {
            id: json["id"].as_str().expect("id").to_owned(),
            seq: json["seq"].as_i64().expect("seq"),
            jws: json["jws"].as_str().expect("jws").to_owned(),
        }
    }

    #[track_caller]
    fn assert_unavailable(&self) {
        assert_eq!(self.status, 503, "{}", self.body);
        assert_eq!(self.retry_after.as_deref(), Some("1"), "Retry-After");
        let json: serde_json::Value = serde_json::from_str(&self.body).expect("problem JSON");
        assert_eq!(json["code"], "unavailable", "{}", self.body);
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn body(key: &str) -> String {
    fixture("receipt_request_form_given.json").replace(FIXTURE_KEY, key)
}

fn post(agent: &ureq::Agent, base: &str, body: &str) -> Answer {
    let sent = agent
        .post(&format!("{base}/v1/receipts"))
        .header("content-type", "application/json")
        .send(body);
    match sent {
        Ok(mut res) => Answer {
            status: res.status().as_u16(),
            retry_after: res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: res.body_mut().read_to_string().unwrap_or_default(),
        },
        Err(_) => Answer {
            status: 0,
            retry_after: None,
            body: String::new(),
        },
    }
}

fn status_of(agent: &ureq::Agent, url: &str) -> u16 {
    agent.get(url).call().map_or(0, |r| r.status().as_u16())
}

/// Polls `url` until it answers `want`, at most `limit`; returns how long that took.
#[track_caller]
fn wait_for_status(agent: &ureq::Agent, url: &str, want: u16, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if status_of(agent, url) == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{url} did not answer {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A widget's receipt queue, as docs/wire.md specifies it: an item stays until the collector
/// answers 2xx (or refuses it for good with a 4xx other than 408/429); anything else, including
/// no answer, is retried on a later flush with the same body and idempotency key.
#[derive(Default)]
struct WidgetQueue {
    pending: Vec<String>,
    acked: HashMap<String, Ack>,
    statuses: HashMap<u16, usize>,
}

impl WidgetQueue {
    fn enqueue(&mut self, key: &str) {
        self.pending.push(key.to_owned());
    }

    /// One flush: every pending item is sent once. Returns how many are still pending.
    fn flush(&mut self, agent: &ureq::Agent, base: &str) -> usize {
        let mut still = Vec::new();
        for key in std::mem::take(&mut self.pending) {
            let answer = post(agent, base, &body(&key));
            *self.statuses.entry(answer.status).or_default() += 1;
            assert!(
                !(500..600).contains(&answer.status) || answer.status == 503,
                "a fault must give 503, got {}: {}",
                answer.status,
                answer.body
            );
            if answer.status == 503 {
                answer.assert_unavailable();
            }
            match answer.status {
                200 | 201 => {
                    let ack = answer.ack();
                    if let Some(earlier) = self.acked.get(&key) {
                        assert_eq!(earlier, &ack, "a replay of {key} got another receipt");
                    }
                    self.acked.insert(key, ack);
                }
                400..=499 if answer.status != 408 && answer.status != 429 => {
                    panic!("{key} refused for good: {} {}", answer.status, answer.body)
                }
                _ => still.push(key),
            }
        }
        self.pending = still;
        self.pending.len()
    }
}

#[test]
fn disk_full_answers_503_with_retry_after_and_recovers_when_space_returns() {
    let faulty = Faulty::new();
    let server = faulty.start();
    let agent = agent(Duration::from_secs(10));
    let mut queue = WidgetQueue::default();
    for n in 0..20 {
        queue.enqueue(&format!("{:032x}", 0xd15c_0000_u64 + n));
    }
    assert_eq!(queue.flush(&agent, &server.base), 0, "healthy store");

    faulty.set("full\n");
    // The database is pinned at its size: some receipts still fit in free space of its last
    // pages, then every write needs a page that is not there.
    let mut refused = 0;
    for n in 0..400u64 {
        queue.enqueue(&format!("{:032x}", 0xf011_0000_u64 + n));
        queue.flush(&agent, &server.base);
        refused = queue.pending.len();
        if refused >= 10 {
            break;
        }
    }
    assert!(
        refused >= 10,
        "the full disk refused nothing: {:?}",
        queue.statuses
    );
    // Reads are unaffected.
    let some = queue
        .acked
        .values()
        .next()
        .expect("an earlier receipt")
        .id
        .clone();
    assert_eq!(
        status_of(&agent, &format!("{}/v1/receipts/{some}", server.base)),
        200
    );
    assert_eq!(status_of(&agent, &format!("{}/healthz", server.base)), 200);

    faulty.clear();
    let cleared = Instant::now();
    let mut flushes = 0;
    while queue.flush(&agent, &server.base) > 0 {
        flushes += 1;
        assert!(flushes < 50, "queue never drained: {:?}", queue.statuses);
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "disk full: {} acknowledged, {refused} refused with 503 while full, delivered {:?} after \
         space returned; statuses {:?}",
        queue.acked.len(),
        cleared.elapsed(),
        queue.statuses
    );
    assert!(server.terminate().success());
    let stored = faulty.assert_intact(&queue.acked);
    assert_eq!(stored, i64::try_from(queue.acked.len()).expect("fits"));
}

#[test]
fn read_only_store_fails_readiness_and_writes_keeps_reads_and_recovers() {
    let faulty = Faulty::new();
    let server = faulty.start();
    let agent = agent(Duration::from_secs(10));
    let readyz = format!("{}/readyz", server.base);
    assert_eq!(status_of(&agent, &readyz), 200);
    let first = post(&agent, &server.base, &body(&"a".repeat(32)));
    assert_eq!(first.status, 201, "{}", first.body);

    faulty.set("read-only\n");
    let answer = post(&agent, &server.base, &body(&"b".repeat(32)));
    answer.assert_unavailable();
    assert_eq!(
        status_of(&agent, &readyz),
        503,
        "readyz on a read-only store"
    );
    assert_eq!(status_of(&agent, &format!("{}/healthz", server.base)), 200);
    let id = first.ack().id;
    assert_eq!(
        status_of(&agent, &format!("{}/v1/receipts/{id}", server.base)),
        200,
        "reads still work"
    );
    assert!(
        server.log().contains("cannot be written now"),
        "the operator is told why: {}",
        server.log()
    );

    faulty.clear();
    let recovery = wait_for_status(&agent, &readyz, 200, Duration::from_secs(5));
    let again = post(&agent, &server.base, &body(&"b".repeat(32)));
    assert_eq!(again.status, 201, "{}", again.body);
    eprintln!(
        "read-only: readyz 503 while read-only, ready again {recovery:?} after the fault cleared"
    );
    assert!(server.terminate().success());
    let acked = HashMap::from([("a".repeat(32), first.ack()), ("b".repeat(32), again.ack())]);
    assert_eq!(faulty.assert_intact(&acked), 2);
}

#[test]
fn slow_disk_delays_answers_but_a_timed_out_receipt_is_stored_exactly_once() {
    let faulty = Faulty::new();
    let server = faulty.start();
    let patient = agent(Duration::from_secs(10));
    // A widget's fetch that gives up long before the disk answers.
    let hasty = agent(Duration::from_millis(300));

    faulty.set("slow 1200\n");
    let key = "c".repeat(32);
    let started = Instant::now();
    let gave_up = post(&hasty, &server.base, &body(&key));
    assert_eq!(gave_up.status, 0, "the client timed out: {}", gave_up.body);
    let slow = post(&patient, &server.base, &body(&"d".repeat(32)));
    assert_eq!(slow.status, 201, "{}", slow.body);
    let slow_latency = started.elapsed();
    assert!(
        slow_latency >= Duration::from_millis(1200),
        "{slow_latency:?}"
    );
    // A stall longer than the readiness budget (2 s) makes the collector not ready.
    faulty.set("slow 2600\n");
    // The writer picks the new stall up at its next batch; wait for one to pass.
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(status_of(&patient, &format!("{}/readyz", server.base)), 503);

    faulty.clear();
    wait_for_status(
        &patient,
        &format!("{}/readyz", server.base),
        200,
        Duration::from_secs(10),
    );
    // The widget retries the receipt it never got an answer for: the collector had committed
    // it, so the retry gets the same receipt back (200), not a second one.
    let retry = post(&patient, &server.base, &body(&key));
    assert_eq!(
        retry.status, 200,
        "replay of a committed receipt: {}",
        retry.body
    );
    eprintln!(
        "slow disk: 1.2 s stall → a receipt answered after {slow_latency:?}; timed-out receipt replayed once"
    );
    assert!(server.terminate().success());
    let acked = HashMap::from([(key, retry.ack()), ("d".repeat(32), slow.ack())]);
    assert_eq!(faulty.assert_intact(&acked), 2);
}

#[test]
fn a_widget_queue_facing_a_collector_down_then_refusing_then_back_delivers_each_receipt_once() {
    let faulty = Faulty::new();
    let agent = agent(Duration::from_secs(10));
    let mut queue = WidgetQueue::default();

    // Up: learn the address, then stop it. Visitors keep submitting while it is down.
    let server = faulty.start();
    let base = server.base.clone();
    assert!(server.terminate().success());
    for n in 0..10 {
        queue.enqueue(&format!("{:032x}", 0xd0_u64 + n));
    }
    assert_eq!(
        queue.flush(&agent, &base),
        10,
        "nothing delivered while down"
    );
    assert_eq!(queue.statuses.get(&0), Some(&10));

    // Back, but the store refuses writes (503): the queue keeps everything.
    faulty.set("read-only\n");
    let server = faulty.start();
    for n in 10..15 {
        queue.enqueue(&format!("{:032x}", 0xd0_u64 + n));
    }
    assert_eq!(
        queue.flush(&agent, &server.base),
        15,
        "nothing delivered while refusing"
    );
    assert_eq!(queue.statuses.get(&503), Some(&15));

    // Healthy: the next flush delivers all; a second tab flushing the same queue again
    // (the items were already removed in the first) and a replay of every item both get the
    // very same receipts.
    faulty.clear();
    let mut flushes = 0;
    while queue.flush(&agent, &server.base) > 0 {
        flushes += 1;
        assert!(flushes < 50, "queue never drained: {:?}", queue.statuses);
        std::thread::sleep(Duration::from_millis(20));
    }
    let keys: Vec<String> = queue.acked.keys().cloned().collect();
    for key in &keys {
        queue.enqueue(key);
    }
    assert_eq!(queue.flush(&agent, &server.base), 0);
    eprintln!("widget queue: statuses {:?}", queue.statuses);
    assert!(server.terminate().success());
    assert_eq!(faulty.assert_intact(&queue.acked), 15);
}

/// The fault file is only honoured when given: `demo` has no such flag.
#[test]
fn fault_injection_is_off_unless_asked_for() {
    let out = run(&["demo", "--fault-file", "/nonexistent"]);
    assert!(!out.status.success());
    assert!(
        crate::process::stderr(&out).contains("--fault-file"),
        "{}",
        crate::process::stderr(&out)
    );
}

/// Unmounts the test's tmpfs however the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A real full disk: the data directory on an 8 MiB tmpfs filled up with a file, then freed.
/// (8 MiB, not less: SQLite's write-ahead log grows to about 4 MiB before its automatic
/// checkpoint, and each batch now also writes the transparency log's pages, so a smaller
/// disk fills up from the 60 receipts alone, without the filler.)
/// Needs permission to mount (root, as in CI); where the container forbids it, set
/// `KELISIM_TEST_NO_MOUNT=1` and the test instead proves that mounting really is refused
/// (the injected `full` fault above still covers the code path).
#[test]
fn a_real_full_disk_answers_503_fails_readiness_and_recovers_when_space_returns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mount_point = tmp.path().join("disk");
    std::fs::create_dir_all(&mount_point).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mount_point)
        .output()
        .expect("mount runs");
    if std::env::var_os("KELISIM_TEST_NO_MOUNT").is_some() {
        assert!(
            !mounted.status.success(),
            "KELISIM_TEST_NO_MOUNT is set but mount works"
        );
        return;
    }
    assert!(
        mounted.status.success(),
        "cannot mount a tmpfs ({}); run as root, or set KELISIM_TEST_NO_MOUNT=1 where the \
         container forbids mounting",
        String::from_utf8_lossy(&mounted.stderr).trim()
    );
    let _unmount = Mounted(mount_point.clone());
    let site = demo_site_with(
        tmp.path(),
        "[rate_limit]\nper_second = 1000000\nburst = 1000000\n",
    );
    let data = mount_point.join("data");
    let server = crate::process::spawn_serve(
        &site.join("kelisim.toml"),
        &data,
        &tmp.path().join("collector.log"),
    );
    let agent = agent(Duration::from_secs(10));
    let mut queue = WidgetQueue::default();
    for n in 0..20 {
        queue.enqueue(&format!("{:032x}", 0x7a11_0000_u64 + n));
    }
    assert_eq!(queue.flush(&agent, &server.base), 0, "room on the disk");

    // Fill the disk to the last block.
    let filler = mount_point.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        for _ in 0..1024 {
            if file.write_all(&block).is_err() {
                break;
            }
        }
    }
    for n in 20..60 {
        queue.enqueue(&format!("{:032x}", 0x7a11_0000_u64 + n));
    }
    queue.flush(&agent, &server.base);
    assert!(
        queue.pending.len() >= 30,
        "a full disk refused: {:?}",
        queue.statuses
    );
    assert_eq!(status_of(&agent, &format!("{}/readyz", server.base)), 503);

    std::fs::remove_file(&filler).expect("free the disk");
    let recovery = wait_for_status(
        &agent,
        &format!("{}/readyz", server.base),
        200,
        Duration::from_secs(5),
    );
    let mut flushes = 0;
    while queue.flush(&agent, &server.base) > 0 {
        flushes += 1;
        assert!(flushes < 50, "queue never drained: {:?}", queue.statuses);
    }
    eprintln!(
        "real full disk: {} acknowledged, statuses {:?}, ready {recovery:?} after space returned",
        queue.acked.len(),
        queue.statuses
    );
    assert!(server.terminate().success());
    let reader =
        store::open_reader(&store::Location::Sqlite(data.join("kelisim.db"))).expect("database");
    for (key, ack) in &queue.acked {
        let row = reader.by_id(&ack.id).expect("query").expect(key);
        assert_eq!(row.jws, ack.jws);
    }
    assert_eq!(reader.count().expect("count"), 60);
    drop(reader);
    let out = run(&["audit", "--data-dir", data.to_str().expect("utf8")]);
    assert!(out.status.success(), "audit: {}", stdout(&out));
}
