//! The transparency log's API as an outsider uses it: the served checkpoint is verified with
//! the JWKS's public key alone by Cloudflare's `signed_note`, a receipt's `tlog-proof` and a
//! consistency proof check with `tlog_tiles` (implementations the project did not write),
//! and bad requests get problem+json with stable codes.

use actix_web::test::{self, TestRequest};
use base64::Engine as _;
use kelisim_collector::build_app;
use signed_note::{Note, StandardVerifier, VerifierList};

use crate::support::{BASE_URL, Harness, fixture, get_jwks, post_receipt, send};

/// The log's verifier, from the JWKS's Ed25519 key and the origin `http://host:port` gives.
fn verifiers(jwks: &serde_json::Value) -> VerifierList {
    let x = jwks["keys"][0]["x"].as_str().expect("x");
    let bytes: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(x)
        .expect("base64url")
        .try_into()
        .expect("32 bytes");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("key");
    let origin = format!("{}/log", BASE_URL.trim_start_matches("http://"));
    let vkey = signed_note::new_ed25519_verifier_key(&origin, &key);
    VerifierList::new(vec![
        Box::new(StandardVerifier::new(&vkey).expect("verifier")) as Box<_>,
    ])
}

/// Verifies a signed checkpoint; returns its size and root.
fn verified_checkpoint(bytes: &[u8], verifiers: &VerifierList) -> (u64, tlog_tiles::Hash) {
    let note = Note::from_bytes(bytes).expect("a signed note");
    let (verified, _) = note.verify(verifiers).expect("signed by the log key");
    assert_eq!(verified.len(), 1);
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("a checkpoint");
    assert_eq!(checkpoint.origin(), "127.0.0.1:8080/log");
    (checkpoint.size(), *checkpoint.hash())
}

fn hash(line: &str) -> tlog_tiles::Hash {
    let bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(line)
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    tlog_tiles::Hash(bytes)
}

#[actix_web::test]
async fn checkpoint_proof_and_consistency_verify_with_independent_implementations() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let jwks = get_jwks(&app).await;
    let verifiers = verifiers(&jwks.json());

    let mut receipts = Vec::new();
    for name in [
        "receipt_request_form_given.json",
        "receipt_request_minimal.json",
    ] {
        let reply = send(&app, post_receipt(&fixture(name)).to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        receipts.push(reply.json());
    }

    let reply = send(
        &app,
        TestRequest::get().uri("/v1/log/checkpoint").to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let (size, root) = verified_checkpoint(reply.text().as_bytes(), &verifiers);
    assert_eq!(size, 2, "one leaf per receipt");

    for receipt in &receipts {
        let id = receipt["id"].as_str().expect("id");
        let jws = receipt["jws"].as_str().expect("jws");
        let uri = format!("/v1/receipts/{id}/proof");
        let reply = send(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let text = reply.text();
        // c2sp.org/tlog-proof: header, extra (the receipt), index, path lines, a blank line,
        // the checkpoint.
        let (head, checkpoint) = text.split_once("\n\n").expect("two parts");
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .expect("extra line");
        let extra = base64::engine::general_purpose::STANDARD
            .decode(extra)
            .expect("base64");
        assert_eq!(extra, jws.as_bytes(), "the proof carries its receipt");
        let index: u64 = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .expect("index line")
            .parse()
            .expect("decimal");
        assert_eq!(index, receipt["seq"].as_u64().expect("seq") - 1);
        let path: Vec<tlog_tiles::Hash> = lines.map(hash).collect();
        let (proof_size, proof_root) = verified_checkpoint(checkpoint.as_bytes(), &verifiers);
        assert_eq!((proof_size, proof_root), (size, root));
        tlog_tiles::check_record(
            &path,
            size,
            root,
            index,
            tlog_tiles::record_hash(jws.as_bytes()),
        )
        .expect("their check accepts our inclusion proof");
        // Someone else's receipt does not pass for this one.
        let other = receipts
            .iter()
            .find(|r| r["id"] != receipt["id"])
            .expect("other");
        let other_leaf = tlog_tiles::record_hash(other["jws"].as_str().expect("jws").as_bytes());
        assert!(tlog_tiles::check_record(&path, size, root, index, other_leaf).is_err());
    }

    // The tree of 1 receipt is its leaf; the tree of 2 extends it.
    let first_leaf = tlog_tiles::record_hash(receipts[0]["jws"].as_str().expect("jws").as_bytes());
    let reply = send(
        &app,
        TestRequest::get()
            .uri("/v1/log/consistency?from=1&to=2")
            .to_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let proof: Vec<tlog_tiles::Hash> = reply.text().lines().map(hash).collect();
    tlog_tiles::check_tree(&proof, 2, root, 1, first_leaf).expect("consistent");
    let same = send(
        &app,
        TestRequest::get()
            .uri("/v1/log/consistency?from=2&to=2")
            .to_request(),
    )
    .await;
    assert_eq!((same.status.as_u16(), same.text()), (200, String::new()));
}

#[actix_web::test]
async fn bad_log_requests_are_problems_with_stable_codes() {
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let reply = send(
        &app,
        post_receipt(&fixture("receipt_request_minimal.json")).to_request(),
    )
    .await;
    assert_eq!(reply.status, 201);
    for (uri, status, code) in [
        (
            "/v1/receipts/0190d1e2-0000-7000-8000-000000000000/proof",
            404,
            "not_found",
        ),
        (
            "/v1/receipts/00000000000000000000000000000099/proof",
            404,
            "not_found",
        ),
        ("/v1/log/consistency?from=2&to=1", 400, "from_after_to"),
        ("/v1/log/consistency?from=1&to=2", 400, "out_of_range"),
        ("/v1/log/consistency?from=0&to=99", 400, "out_of_range"),
        ("/v1/log/consistency?from=x&to=1", 400, "invalid_request"),
        ("/v1/log/consistency?to=1", 400, "invalid_request"),
    ] {
        let reply = send(&app, TestRequest::get().uri(uri).to_request()).await;
        reply.assert_problem(status, code);
    }
    assert_eq!(h.count(), 1, "nothing changed");
}

/// `verify --proof` checks a receipt's inclusion offline with the JWKS alone; `audit`
/// rebuilds the tree and names the first leaf that does not match.
#[actix_web::test]
async fn verify_checks_the_proof_offline_and_audit_rebuilds_the_tree() {
    use crate::process::{run, stderr, stdout};
    let h = Harness::new();
    let app = test::init_service(build_app(h.state.clone())).await;
    let mut last = serde_json::Value::Null;
    let mut earlier = serde_json::Value::Null;
    for name in [
        "receipt_request_form_given.json",
        "receipt_request_minimal.json",
    ] {
        let reply = send(&app, post_receipt(&fixture(name)).to_request()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        earlier = std::mem::replace(&mut last, reply.json());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("write");
        path.to_str().expect("utf-8").to_owned()
    };
    let jwks = get_jwks(&app).await;
    let jwks = file("jwks.json", &jwks.text());
    let receipt = file("r.jws", last["jws"].as_str().expect("jws"));
    let uri = format!("/v1/receipts/{}/proof", last["id"].as_str().expect("id"));
    let proof_text = send(&app, TestRequest::get().uri(&uri).to_request())
        .await
        .text();
    let proof = file("r.tlog-proof", &proof_text);

    let out = run(&["verify", &receipt, "--jwks", &jwks, "--proof", &proof]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The proof carries the receipt: the one file the receipt page offers is enough, and its
    // payload is the receipt's.
    let alone = run(&["verify", &proof, "--jwks", &jwks]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert!(
        stderr(&alone).contains("proof ok: included in the log 127.0.0.1:8080/log of 2 receipts"),
        "{}",
        stderr(&alone)
    );
    assert_eq!(stdout(&alone), stdout(&out));
    let named = run(&[
        "verify",
        &proof,
        "--jwks",
        &jwks,
        "--origin",
        "127.0.0.1:8080/log",
    ]);
    assert!(named.status.success(), "{}", stderr(&named));
    let no_proof = run(&[
        "verify",
        &receipt,
        "--jwks",
        &jwks,
        "--origin",
        "127.0.0.1:8080/log",
    ]);
    assert_eq!(no_proof.status.code(), Some(2), "{}", stderr(&no_proof));
    let twice = run(&["verify", &proof, "--jwks", &jwks, "--proof", &proof]);
    assert_eq!(twice.status.code(), Some(2), "{}", stderr(&twice));
    // A receipt swapped into the proof's `extra` is not the leaf the path proves.
    let other_jws = earlier["jws"]
        .as_str()
        .expect("the first receipt's jws")
        .to_owned();
    let swapped = proof_text
        .lines()
        .map(|l| {
            if l.starts_with("extra ") {
                format!(
                    "extra {}",
                    base64::engine::general_purpose::STANDARD.encode(other_jws.as_bytes())
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let swapped = file("swapped.tlog-proof", &swapped);
    let refused = run(&["verify", &swapped, "--jwks", &jwks]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "another receipt in extra: {}",
        stderr(&refused)
    );
    assert!(
        stderr(&out).contains("proof ok: included in the log 127.0.0.1:8080/log of 2 receipts"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "verify",
        &receipt,
        "--jwks",
        &jwks,
        "--proof",
        &proof,
        "--origin",
        "other.example/log",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "another origin: {}",
        stderr(&out)
    );
    // The proof of leaf 1 does not prove leaf 0.
    let wrong = file(
        "wrong.tlog-proof",
        &proof_text.replacen("index 1\n", "index 0\n", 1),
    );
    let out = run(&["verify", &receipt, "--jwks", &jwks, "--proof", &wrong]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid receipt: proof:"),
        "{}",
        stderr(&out)
    );

    let data = h.data.root().to_str().expect("utf-8").to_owned();
    let out = run(&["audit", "--data-dir", &data]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("tree ok: 2 leaves, 3 checkpoints"),
        "the empty tree's and one per batch: {}",
        stdout(&out)
    );
    // A stored leaf rewritten: audit names it, and the checkpoints still match the receipts.
    let zeros = if crate::support::on_postgres(&h.data) {
        "decode(repeat('00', 32), 'hex')"
    } else {
        "zeroblob(32)"
    };
    crate::support::tamper_sql(
        &h.data,
        &format!("UPDATE log_hashes SET hash = {zeros} WHERE idx = 0"),
    );
    let out = run(&["audit", "--data-dir", &data]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("leaf 0 (seq 1): the receipt does not hash to the stored leaf"),
        "{}",
        stdout(&out)
    );
}
