//! `backup` and `restore` with the real binary: a backup taken while clients post receipts
//! holds every receipt acknowledged before it began and restores into a directory `audit`
//! passes; a non-empty target, a damaged, truncated or foreign file are refused and change
//! nothing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kelisim_collector::store;

use crate::process::{demo_site_with, post, run, spawn_serve, stderr, stdout};
use crate::support::fixture;

const CLIENTS: usize = 3;
/// Load before the backup starts, and the bound of the whole load phase.
const WARM_UP: Duration = Duration::from_millis(600);
const LOAD_LIMIT: Duration = Duration::from_secs(20);

/// `(id, jws)` of a receipt answered 201.
type Ack = (String, String);

/// Posts receipts with fresh keys until `stop` (or [`LOAD_LIMIT`]); every 201 goes to `acks`.
fn client(base: &str, next: &AtomicU64, stop: &AtomicBool, acks: &Mutex<Vec<Ack>>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let template = fixture("receipt_request_form_given.json");
    let url = format!("{base}/v1/receipts");
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < LOAD_LIMIT {
        let key = format!("{:032x}", next.fetch_add(1, Ordering::Relaxed));
        let body = template.replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &key);
        let mut response = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&body)
            .expect("the collector answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("body");
        assert_eq!(status, 201, "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).expect("201 body is JSON");
        let ack = (
            json["id"].as_str().expect("id").to_owned(),
            json["jws"].as_str().expect("jws").to_owned(),
        );
        acks.lock().expect("acks").push(ack);
    }
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_backup_under_load_restores_every_receipt_acknowledged_before_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Loopback load from one address: lift the per-address limit for this test.
    let site = demo_site_with(
        tmp.path(),
        "[rate_limit]\nper_second = 1000000\nburst = 1000000\n",
    );
    let data = tmp.path().join("data");
    let server = spawn_serve(
        &site.join("kelisim.toml"),
        &data,
        &tmp.path().join("collector.log"),
    );
    let base: Arc<str> = server.base.clone().into();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, next, stop, acks) = (base.clone(), next.clone(), stop.clone(), acks.clone());
            std::thread::spawn(move || client(&base, &next, &stop, &acks))
        })
        .collect();
    std::thread::sleep(WARM_UP);

    let acked_before: Vec<Ack> = acks.lock().expect("acks").clone();
    let file = tmp.path().join("kelisim.backup");
    let out = run(&[
        "backup",
        "--data-dir",
        path_arg(&data),
        "--to",
        path_arg(&file),
    ]);
    let during = acks.lock().expect("acks").len() - acked_before.len();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    assert!(out.status.success(), "backup: {}", stderr(&out));
    let said = stdout(&out);
    eprintln!(
        "backup under load: {} receipts acknowledged before it, {during} while it ran\n{said}",
        acked_before.len()
    );
    assert!(
        acked_before.len() > 20,
        "the load was running: {}",
        acked_before.len()
    );
    assert!(said.contains("mode 0600"), "{said}");
    assert!(said.contains(" bytes) in "), "size and time: {said}");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "the backup holds private keys");
    let again = run(&[
        "backup",
        "--data-dir",
        path_arg(&data),
        "--to",
        path_arg(&file),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let live = store::open_reader(&store::Location::Sqlite(data.join("kelisim.db")))
        .expect("live")
        .count()
        .expect("count");
    assert!(server.terminate().success());

    let restored = tmp.path().join("restored");
    let out = run(&[
        "restore",
        "--from",
        path_arg(&file),
        "--data-dir",
        path_arg(&restored),
    ]);
    assert!(out.status.success(), "restore: {}", stderr(&out));
    let reader = store::open_reader(&store::Location::Sqlite(restored.join("kelisim.db")))
        .expect("restored database");
    for (id, jws) in &acked_before {
        let row = reader.by_id(id).expect("query").unwrap_or_else(|| {
            panic!("receipt {id} was acknowledged before the backup but is not in it")
        });
        assert_eq!(&row.jws, jws, "{id}");
    }
    let count = reader.count().expect("count");
    assert!(
        count >= acked_before.len() as i64 && count <= live,
        "restored {count}, acknowledged before {}, live {live}",
        acked_before.len()
    );
    assert!(
        stdout(&out).contains(&format!("restored {count} receipts")),
        "{}",
        stdout(&out)
    );
    drop(reader);
    #[cfg(unix)]
    {
        assert_eq!(mode(&restored), 0o700);
        assert_eq!(mode(&restored.join("keys")), 0o700);
        assert_eq!(mode(&restored.join("subject.key")), 0o600);
        assert_eq!(mode(&restored.join("kelisim.db")), 0o600);
        for key in std::fs::read_dir(restored.join("keys")).expect("keys") {
            assert_eq!(mode(&key.expect("key").path()), 0o600);
        }
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&restored)
        .expect("list")
        .chain(std::fs::read_dir(tmp.path()).expect("list"))
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".kelisim"))
        })
        .collect();
    assert!(leftovers.is_empty(), "staging files remain: {leftovers:?}");
    let audit = run(&["audit", "--data-dir", path_arg(&restored)]);
    assert!(audit.status.success(), "audit: {}", stdout(&audit));
    assert!(
        stdout(&audit).starts_with(&format!("audit ok: {count} receipts")),
        "{}",
        stdout(&audit)
    );

    // The restored directory runs: the same subject secret and keys continue the chain.
    let server = spawn_serve(
        &site.join("kelisim.toml"),
        &restored,
        &tmp.path().join("r.log"),
    );
    let (status, body) = post(
        &format!("{}/v1/receipts", server.base),
        "application/json",
        &fixture("receipt_request_minimal.json"),
    );
    assert_eq!(status, 201, "{body}");
    let seq = serde_json::from_str::<serde_json::Value>(&body).expect("json")["seq"]
        .as_i64()
        .expect("seq");
    assert_eq!(seq, count + 1);
    assert!(server.terminate().success());
}

/// A small data directory (three receipts) and its backup.
fn small_backup(root: &Path) -> (PathBuf, PathBuf) {
    let site = demo_site_with(root, "");
    let data = root.join("data");
    let server = spawn_serve(
        &site.join("kelisim.toml"),
        &data,
        &root.join("collector.log"),
    );
    for i in 0..3 {
        let body = fixture("receipt_request_form_given.json")
            .replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", &format!("{i:032x}"));
        let (status, text) = post(
            &format!("{}/v1/receipts", server.base),
            "application/json",
            &body,
        );
        assert_eq!(status, 201, "{text}");
    }
    let file = root.join("small.backup");
    let out = run(&[
        "backup",
        "--data-dir",
        path_arg(&data),
        "--to",
        path_arg(&file),
    ]);
    assert!(out.status.success(), "backup: {}", stderr(&out));
    assert!(server.terminate().success());
    (data, file)
}

/// Runs `restore` into `target`, expecting a refusal that mentions `needle`.
fn refused(file: &Path, target: &Path, needle: &str) {
    let out = run(&[
        "restore",
        "--from",
        path_arg(file),
        "--data-dir",
        path_arg(target),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let said = stderr(&out);
    assert!(said.contains(needle), "expected {needle:?} in:\n{said}");
}

#[test]
fn restore_refuses_a_non_empty_directory_and_damaged_or_foreign_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, file) = small_backup(tmp.path());

    // Not empty: nothing is added, nothing is removed.
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).expect("mkdir");
    std::fs::write(busy.join("notes.txt"), "keep me").expect("write");
    refused(&file, &busy, "is not empty");
    let names: Vec<_> = std::fs::read_dir(&busy)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    // The live data directory itself is not empty either.
    refused(&file, &data, "is not empty");

    let bytes = std::fs::read(&file).expect("read backup");
    let target = tmp.path().join("target");
    // One byte changed inside the database's entry.
    let db_at = bytes
        .windows(16)
        .position(|w| w == b"SQLite format 3\0")
        .expect("the database is in the archive");
    let mut damaged = bytes.clone();
    damaged[db_at + 4096 + 100] ^= 0x55;
    let damaged_file = tmp.path().join("damaged.backup");
    std::fs::write(&damaged_file, &damaged).expect("write");
    refused(&damaged_file, &target, "does not match the manifest");
    assert!(!target.exists(), "a refused restore leaves no directory");

    // Cut short in the middle of the database.
    let truncated = tmp.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..db_at + 2048]).expect("write");
    refused(&truncated, &target, "is damaged or incomplete");
    assert!(!target.exists());

    // Not a backup at all; an empty file; a missing one.
    let config = tmp.path().join("site").join("kelisim.toml");
    refused(&config, &target, "is not a Kelisim backup");
    let empty = tmp.path().join("empty.backup");
    std::fs::write(&empty, b"").expect("write");
    refused(&empty, &target, "is not a Kelisim backup");
    refused(
        &tmp.path().join("missing.backup"),
        &target,
        "missing.backup",
    );
    assert!(!target.exists());

    // An empty directory is fine, and keeps being the directory it was.
    std::fs::create_dir(&target).expect("mkdir");
    let out = run(&[
        "restore",
        "--from",
        path_arg(&file),
        "--data-dir",
        path_arg(&target),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("restored 3 receipts"),
        "{}",
        stdout(&out)
    );
    let audit = run(&["audit", "--data-dir", path_arg(&target)]);
    assert!(audit.status.success(), "{}", stdout(&audit));
}
