//! The transparency log of a data directory, checked from the outside: the latest checkpoint
//! is signed by the collector's key (checked with Cloudflare's `signed_note`, an
//! implementation the project did not write), covers every receipt position, every
//! receipt's inclusion proof and every earlier checkpoint's consistency proof check with
//! `tlog_tiles` (Go's `sumdb/tlog`, ported), and the served `tlog-proof` verifies with ours.

use std::path::Path;

use kelisim_collector::keys::Keyring;
use kelisim_collector::store;
use kelisim_receipt::log::{TlogProof, TrustedLog, receipt_leaf_hash};
use rusqlite::Connection;
use signed_note::{Note, StandardVerifier, VerifierList};

/// The `signed_note` verifier list for the collector's active key under `origin`.
pub fn their_verifiers(origin: &str, data: &Path) -> (VerifierList, TrustedLog) {
    let signer = Keyring::load(&data.join("keys"))
        .expect("keys")
        .signer()
        .expect("signer");
    let key = signer.note_signer(origin).expect("log key");
    let vkey = key.verifier_key().to_string();
    let list =
        VerifierList::new(vec![
            Box::new(StandardVerifier::new(&vkey).expect("their verifier")) as Box<_>,
        ]);
    let trusted = TrustedLog {
        origin: origin.to_owned(),
        keys: vec![key.verifier_key().clone()],
    };
    (list, trusted)
}

/// Checks the log of the data directory `data` as above; returns the latest checkpoint's
/// size, which is the last receipt's seq.
pub fn check_log(data: &Path) -> u64 {
    let db = data.join("kelisim.db");
    let reader = store::open_reader(&store::Location::Sqlite(db.clone())).expect("database");
    let latest = reader.checkpoint().expect("read").expect("a checkpoint");
    let note = Note::from_bytes(latest.note.as_bytes()).expect("they parse the note");
    let theirs = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("their checkpoint");
    let (verifiers, trusted) = their_verifiers(theirs.origin(), data);
    let (verified, _) = note
        .verify(&verifiers)
        .expect("signed by the collector's key");
    assert_eq!(verified.len(), 1);
    let (size, root) = (theirs.size(), *theirs.hash());
    assert_eq!((size, root.0), (latest.size, latest.root.0));

    let conn = Connection::open(&db).expect("open");
    let last_seq: i64 = conn
        .query_row(
            "SELECT max(seq) FROM (SELECT seq FROM receipts UNION ALL SELECT seq FROM tombstones)",
            [],
            |r| r.get(0),
        )
        .expect("last seq");
    assert_eq!(
        size,
        u64::try_from(last_seq).expect("seq"),
        "every position is a leaf"
    );
    let mut rows = conn
        .prepare("SELECT seq, id, jws FROM receipts ORDER BY seq")
        .expect("prepare");
    let rows: Vec<(i64, String, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (seq, id, jws) in rows {
        let (served_jws, inclusion) = reader.inclusion(&id).expect("read").expect("proven");
        assert_eq!(served_jws, jws);
        let index = u64::try_from(seq - 1).expect("index");
        assert_eq!(inclusion.index, index);
        let path: Vec<tlog_tiles::Hash> = inclusion
            .path
            .iter()
            .map(|h| tlog_tiles::Hash(h.0))
            .collect();
        tlog_tiles::check_record(
            &path,
            size,
            root,
            index,
            tlog_tiles::record_hash(jws.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("seq {seq}: their check refuses our proof: {e:?}"));
        let proof = TlogProof::parse(&inclusion.to_tlog_proof(&jws).expect("proof").to_bytes())
            .expect("parse");
        assert_eq!(
            proof.extra.as_deref(),
            Some(jws.as_bytes()),
            "the proof carries the receipt"
        );
        proof
            .verify(&receipt_leaf_hash(&jws), &trusted, &[])
            .expect("the tlog-proof verifies");
    }
    for old in reader.checkpoints().expect("checkpoints") {
        if old.size == 0 {
            continue;
        }
        let proof: Vec<tlog_tiles::Hash> = reader
            .consistency(old.size, size)
            .expect("proof")
            .iter()
            .map(|h| tlog_tiles::Hash(h.0))
            .collect();
        tlog_tiles::check_tree(&proof, size, root, old.size, tlog_tiles::Hash(old.root.0))
            .unwrap_or_else(|e| {
                panic!(
                    "checkpoint {} is not extended by the latest: {e:?}",
                    old.size
                )
            });
        let old_note = Note::from_bytes(old.note.as_bytes()).expect("parse");
        old_note
            .verify(&verifiers)
            .expect("every checkpoint is signed");
    }
    size
}
