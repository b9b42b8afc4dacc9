//! Upgrades from frozen old schemas: `fixtures/schemas/vN.sql` are dumps of databases written
//! by the releases that last wrote schema version N (see `fixtures/schemas/generate.sh`),
//! signed with the key in `fixtures/schemas/data/`. Opened by today's code, each is migrated
//! to the current version, keeps every receipt byte for byte, and passes `audit`; the chain
//! continues after it. (A schema newer than the binary is refused: `store::tests::
//! a_newer_schema_is_refused`.)

use std::path::{Path, PathBuf};

use kelisim_collector::keys::Keyring;
use kelisim_collector::log::audit;
use kelisim_collector::store::{self, SCHEMA_VERSION};
use rusqlite::Connection;

use crate::process::{demo_site, get, post, run, spawn_serve, stdout};
use crate::support::{fixture, verify_with_jsonwebtoken};

/// The schema versions a release wrote (4 never was: 0004 and 0005 came together).
const RELEASED: [i64; 4] = [1, 2, 3, 5];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas")
}

/// A data directory as release `version` left it: its database, the fixtures' keys.
fn old_data_dir(root: &Path, version: i64) -> PathBuf {
    let data = root.join(format!("v{version}"));
    kelisim_collector::ops::datadir::DataDir::create(&data).expect("data dir");
    let keys = fixtures().join("data");
    for name in ["keys/ed25519-0001.jwk", "subject.key"] {
        let bytes = std::fs::read(keys.join(name)).expect("fixture key");
        kelisim_collector::ops::datadir::create_private_file(&data.join(name), &bytes)
            .expect("write key");
    }
    let sql = std::fs::read_to_string(fixtures().join(format!("v{version}.sql")))
        .expect("schema fixture");
    let conn = Connection::open(data.join("kelisim.db")).expect("create db");
    conn.execute_batch(&sql).expect("load dump");
    assert_eq!(user_version(&conn), version, "the dump sets its version");
    data
}

fn user_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version")
}

/// `(seq, id, jws)` of every receipt, by seq.
fn receipts(conn: &Connection) -> Vec<(i64, String, String)> {
    let mut stmt = conn
        .prepare("SELECT seq, id, jws FROM receipts ORDER BY seq")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn every_released_schema_migrates_and_its_receipts_still_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for version in RELEASED {
        let data = old_data_dir(tmp.path(), version);
        let db = data.join("kelisim.db");
        let before = receipts(&Connection::open(&db).expect("open"));
        assert!(before.len() >= 2, "v{version} holds receipts: {before:?}");

        let ring = Keyring::load(&data.join("keys")).expect("keys");
        let jwks = serde_json::to_vec(&ring.jwks()).expect("jwks");
        let store = store::open(
            &store::Location::Sqlite(db.clone()),
            ring.signer().expect("signer"),
        )
        .expect("migrates");
        let report = audit::audit(&store.reader(), &ring.public_keys()).expect("audit runs");
        assert!(report.is_intact(), "v{version} after migration: {report}");
        assert_eq!(report.receipts, before.len() as u64, "v{version}");
        store.shutdown();
        drop(store);
        // The receipts from before the tree are its leaves, in seq order, and proven.
        assert_eq!(
            crate::tree::check_log(&data),
            before.last().map(|r| r.0 as u64).unwrap_or(0),
            "v{version}: folded into the tree"
        );

        let conn = Connection::open(&db).expect("open");
        assert_eq!(user_version(&conn), SCHEMA_VERSION, "v{version} migrated");
        assert_eq!(receipts(&conn), before, "v{version}: receipts unchanged");
        for (_, _, jws) in &before {
            let claims = verify_with_jsonwebtoken(jws, &jwks);
            assert!(claims["seq"].is_i64(), "{claims}");
        }
    }
}

#[test]
fn a_collector_started_on_the_oldest_release_s_data_migrates_it_and_continues_the_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = old_data_dir(tmp.path(), RELEASED[0]);
    let before = receipts(&Connection::open(data.join("kelisim.db")).expect("open"));
    let site = demo_site(tmp.path());
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    assert!(
        server.log().contains("applying database migration"),
        "{}",
        server.log()
    );
    let (status, body) = get(&format!("{}/v1/receipts/{}", server.base, before[0].1));
    assert_eq!(status, 200, "an old receipt is served: {body}");
    let (status, body) = post(
        &format!("{}/v1/receipts", server.base),
        "application/json",
        &fixture("receipt_request_form_given.json").replace(
            "0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3",
            "00000000000000000000000000000017",
        ),
    );
    assert_eq!(status, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["seq"].as_i64(), Some(before.len() as i64 + 1));
    assert!(server.terminate().success());
    let out = run(&["audit", "--data-dir", data.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with(&format!("audit ok: {} receipts", before.len() + 1)),
        "{}",
        stdout(&out)
    );
}
