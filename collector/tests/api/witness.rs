//! Witnessing between two real collectors on loopback (c2sp.org/tlog-witness): one logs,
//! the other witnesses. The operators swap keys the way the docs say (the log's `GET
//! /v1/log/key` into the witness's `[[witness.log]]`, the witness's `GET /v1/witness/key`
//! into the log's `[[log.witness]]`). The witness cosigns the growing log; the cosigned
//! checkpoint is checked with Cloudflare's `signed_note` (the log's signature) and, for the
//! cosignature, by the C2SP `cosignature/v1` rule written out here with `ed25519-dalek`.
//! Requests from a stranger are refused with the spec's statuses. Then the log is rewritten
//! (a receipt deleted, the tree rebuilt): the witness refuses its next checkpoint, the log
//! says so in its own log, and `audit` names the first bad receipt.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use signed_note::{Note, StandardVerifier, VerifierList};

use crate::process::{demo_site, get, post, run, spawn_serve, stderr, stdout};
use crate::support::fixture;

/// The demo config in `root` with `top` before its tables and `tables` after them.
fn config(root: &Path, top: &str, tables: &str) -> std::path::PathBuf {
    let path = demo_site(root).join("kelisim.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, format!("{top}\n{text}\n{tables}")).expect("write config");
    path
}

/// The log's address: its origin (`log.test/log`) must not follow the test's random ports,
/// as it does not follow a real log's restarts.
const LOG_URL: &str = "public_url = \"https://log.test\"";

/// Records one form receipt with reference `key` on the collector at `base`.
fn receipt(base: &str, key: &str) {
    let body =
        fixture("receipt_request_form_given.json").replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", key);
    let (status, text) = post(&format!("{base}/v1/receipts"), "application/json", &body);
    assert_eq!(status, 201, "{text}");
}

/// Waits (at most 20 s) for `check` to give a value.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The size on a checkpoint note's second line.
fn size_of(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a size line")
}

/// Checks `note`'s cosignature line by `witness_vkey` the way c2sp.org/tlog-cosignature
/// defines it: key ID (4 bytes), timestamp (8), Ed25519 signature over
/// `cosignature/v1\ntime <t>\n` and the checkpoint text. Returns the timestamp.
fn check_cosignature(note: &str, witness_vkey: &str) -> u64 {
    let (name, rest) = witness_vkey.split_once('+').expect("name+hash+key");
    let (hash, key) = rest.split_once('+').expect("hash+key");
    let key = STANDARD.decode(key).expect("base64 key");
    assert_eq!(key[0], 0x04, "a cosignature/v1 key");
    let key = VerifyingKey::from_bytes(&key[1..].try_into().expect("32 bytes")).expect("key");
    let (text, signatures) = note
        .split_once("\n\n")
        .expect("text, blank line, signatures");
    let line = signatures
        .lines()
        .find(|l| l.starts_with(&format!("— {name} ")))
        .unwrap_or_else(|| panic!("no line by {name} in {note}"));
    let bytes = STANDARD
        .decode(line.rsplit(' ').next().expect("base64"))
        .expect("base64 signature");
    assert_eq!(bytes.len(), 4 + 8 + 64);
    assert_eq!(hex(&bytes[..4]), hash, "the key ID of the configured key");
    let time = u64::from_be_bytes(bytes[4..12].try_into().expect("8 bytes"));
    let message = format!("cosignature/v1\ntime {time}\n{text}\n");
    let signature = Signature::from_bytes(&bytes[12..].try_into().expect("64 bytes"));
    key.verify(message.as_bytes(), &signature)
        .expect("the witness's cosignature verifies");
    time
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The log's verifier, parsed by `signed_note` from what `GET /v1/log/key` served.
fn log_verifier(vkey: &str) -> VerifierList {
    VerifierList::new(vec![Box::new(
        StandardVerifier::new(vkey).expect("a signed-note verifier key"),
    ) as Box<_>])
}

#[test]
fn a_witness_cosigns_a_growing_log_and_refuses_it_once_rewritten() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (log_data, witness_data) = (tmp.path().join("log-data"), tmp.path().join("witness-data"));
    for dir in [&log_data, &witness_data] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    let log_file = tmp.path().join("log.log");

    // The log runs once on its own; its operator reads its key.
    let plain = config(&tmp.path().join("plain"), LOG_URL, "");
    let first = spawn_serve(&plain, &log_data, &log_file);
    let (status, log_key) = get(&format!("{}/v1/log/key", first.base));
    assert_eq!(status, 200, "{log_key}");
    let log_key = log_key.lines().next().expect("a key").to_owned();
    let origin = log_key.split('+').next().expect("origin").to_owned();
    assert_eq!(origin, "log.test/log");
    assert!(first.terminate().success());

    // The witness follows that log.
    let witness_config = config(
        &tmp.path().join("w"),
        "",
        &format!(
            "[witness]\nname = \"witness.test\"\n\n[[witness.log]]\norigin = \"{origin}\"\nkeys = [\"{log_key}\"]\n"
        ),
    );
    let witness = spawn_serve(
        &witness_config,
        &witness_data,
        &tmp.path().join("witness.log"),
    );
    let (status, witness_key) = get(&format!("{}/v1/witness/key", witness.base));
    assert_eq!(status, 200, "{witness_key}");
    let witness_key = witness_key.trim_end().to_owned();
    assert!(witness_key.starts_with("witness.test+"), "{witness_key}");

    // The log asks it to cosign, every second.
    let log_config = config(
        &tmp.path().join("l"),
        LOG_URL,
        &format!(
            "[log]\nwitness_interval_secs = 1\n\n[[log.witness]]\nurl = \"{}/v1/witness\"\nkey = \"{witness_key}\"\n",
            witness.base
        ),
    );
    let log = spawn_serve(&log_config, &log_data, &log_file);
    for n in 1..=5 {
        receipt(&log.base, &format!("{n:032x}"));
    }
    let cosigned = wait_for("the witness to cosign size 5", || {
        let (status, note) = get(&format!("{}/v1/log/witnessed", log.base));
        (status == 200 && size_of(&note) == 5).then_some(note)
    });
    let note = Note::from_bytes(cosigned.as_bytes()).expect("a signed note");
    let (verified, _) = note
        .verify(&log_verifier(&log_key))
        .expect("signed by the log");
    assert_eq!(verified.len(), 1);
    let time = check_cosignature(&cosigned, &witness_key);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    assert!(time <= now && now - time < 120, "cosigned just now: {time}");
    // The latest checkpoint carries the cosignature too once it is the cosigned one.
    let (_, latest) = get(&format!("{}/v1/log/checkpoint", log.base));
    assert_eq!(latest, cosigned);

    // A stranger holding only public data: no cosignature for what does not extend the tree.
    let checkpoint = cosigned
        .lines()
        .take_while(|l| !l.starts_with("— witness.test "))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let add = |body: &str| {
        post(
            &format!("{}/v1/witness/add-checkpoint", witness.base),
            "text/plain",
            body,
        )
    };
    let (status, body) = add(&format!("old 0\n\n{checkpoint}"));
    assert_eq!((status, body.as_str()), (409, "5\n"), "the witness is at 5");
    let (status, body) = add("garbage");
    assert_eq!(status, 400, "{body}");
    let (status, body) = add(&format!(
        "old 5\n\n{}",
        checkpoint.replace(&origin, "other.example/log")
    ));
    assert_eq!(status, 404, "unknown origin: {body}");
    assert!(body.contains("\"code\":\"unknown_origin\""), "{body}");
    let forged = checkpoint.replacen("\n5\n", "\n6\n", 1);
    let (status, body) = add(&format!("old 5\n\n{forged}"));
    assert_eq!(
        status, 403,
        "a changed checkpoint no longer carries the log's signature: {body}"
    );
    let (status, body) = add(&format!("old 5\n\n{checkpoint}"));
    assert_eq!(
        status, 200,
        "the same checkpoint again is cosigned again: {body}"
    );

    // The witness's key (and, in its database, the trees it cosigned) travel in its backup.
    let backup = tmp.path().join("witness.backup");
    let path = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let out = run(&[
        "backup",
        "--data-dir",
        &path(&witness_data),
        "--to",
        &path(&backup),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let restored = tmp.path().join("restored");
    let out = run(&[
        "restore",
        "--from",
        &path(&backup),
        "--data-dir",
        &path(&restored),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key_file = |dir: &Path| std::fs::read(dir.join("witness/cosign.jwk")).expect("key file");
    assert_eq!(key_file(&restored), key_file(&witness_data));

    // Someone with the log's database rewrites its history: receipt 3 goes, the tree is
    // rebuilt from what is left, and the log goes on.
    assert!(log.terminate().success());
    let db = rusqlite::Connection::open(log_data.join("kelisim.db")).expect("db");
    db.execute_batch(
        "DELETE FROM subject_hashes WHERE seq = 3; DELETE FROM receipts WHERE seq = 3;
         DELETE FROM log_hashes; DELETE FROM log_checkpoints;",
    )
    .expect("rewrite");
    drop(db);
    let log = spawn_serve(&log_config, &log_data, &log_file);
    let refused = |size: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let needle = format!("refused checkpoint {size} (422)");
        while !std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .contains(&needle)
        {
            assert!(
                Instant::now() < deadline,
                "no refusal of {size} in the log's log:\n{}",
                std::fs::read_to_string(&log_file).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // Still size 5, another root: offered again, and refused.
    refused(5);
    for n in 6..=7 {
        receipt(&log.base, &format!("{n:032x}"));
    }
    refused(7);
    let text = std::fs::read_to_string(&log_file).expect("log");
    assert!(text.contains("not an extension"), "{text}");
    assert!(
        witness.log().contains("witness: refused a checkpoint"),
        "{}",
        witness.log()
    );
    // Nothing cosigned stands beside the rewritten tree.
    let (status, body) = get(&format!("{}/v1/log/witnessed", log.base));
    assert_eq!(status, 404, "{body}");
    let (_, latest) = get(&format!("{}/v1/log/checkpoint", log.base));
    assert!(!latest.contains("— witness.test "), "{latest}");
    assert!(log.terminate().success());

    // The log's own audit names the first receipt that is not what it was.
    let out = run(&["audit", "--data-dir", log_data.to_str().expect("utf-8")]);
    assert!(!out.status.success(), "audit must fail: {}", stdout(&out));
    let report = format!("{}{}", stdout(&out), stderr(&out));
    assert!(report.contains("seq 3"), "names seq 3 (index 2): {report}");
    drop(witness);
}
