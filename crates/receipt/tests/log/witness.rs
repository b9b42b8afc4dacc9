//! The witness's rule, as a log and a witness would exchange it: cosign what extends what
//! was cosigned, refuse everything else with the status c2sp.org/tlog-witness gives it.

use kelisim_receipt::log::{
    AddCheckpoint, Appender, Checkpoint, EMPTY_ROOT, MemoryHashes, NoteSigner, Refusal,
    SignedCheckpoint, TreeHead, TrustedLog, Witness, consistency_proof, leaf_hash,
    parse_signature_lines,
};

use super::{
    ORIGIN, build, leaf_data, log_signer, signed_checkpoint, signing_key, trusted_log,
    witness_cosigner,
};

const NOW: u64 = 1_767_225_600;

fn witness() -> Witness {
    Witness::new(witness_cosigner(), vec![trusted_log()])
}

fn refusal(result: Result<kelisim_receipt::log::Cosigned, Refusal>) -> (u16, &'static str) {
    let refusal = result.expect_err("refused");
    (refusal.status(), refusal.code())
}

#[test]
fn a_witness_follows_a_growing_log_and_its_cosignatures_verify() {
    let (store, _) = build(40);
    let witness = witness();
    let mut latest: Option<TreeHead> = None;
    for size in [0, 1, 5, 5, 16, 17, 40] {
        let checkpoint = signed_checkpoint(&store, size);
        let old = latest.map_or(0, |head| head.size);
        let request = AddCheckpoint::new(&store, old, checkpoint.clone()).expect("proof");
        // The request survives its wire form.
        let request = AddCheckpoint::parse(&request.to_bytes()).expect("parses");
        let cosigned = witness
            .add_checkpoint(&request, latest.as_ref(), NOW)
            .unwrap_or_else(|r| panic!("size {size}: {r}"));
        assert_eq!(cosigned.origin, ORIGIN);
        assert_eq!(cosigned.head.size, size);
        latest = Some(cosigned.head);

        // The log adds the answer's lines to its checkpoint; anyone can check them.
        let answer = cosigned.cosignature.to_line();
        let mut with_cosignature = checkpoint;
        for line in parse_signature_lines(&answer).expect("signature lines") {
            with_cosignature.push_signature(line);
        }
        let reparsed = SignedCheckpoint::parse(&with_cosignature.to_bytes()).expect("parses");
        reparsed.verify(&trusted_log()).expect("still the log's");
        let by = reparsed
            .cosignatures(std::slice::from_ref(witness.cosigner().verifier_key()))
            .expect("cosigned");
        assert_eq!(by[0].timestamp, Some(NOW));
    }
}

#[test]
fn a_rewritten_log_is_refused_as_not_an_extension() {
    // The log as the witness saw it: 10 receipts, cosigned.
    let (honest, leaves) = build(10);
    let witness = witness();
    let first = AddCheckpoint::new(&honest, 0, signed_checkpoint(&honest, 10)).expect("proof");
    let seen = witness
        .add_checkpoint(&first, None, NOW)
        .expect("first checkpoint")
        .head;

    // The operator deletes receipt 3, rebuilds the tree from the rest, and appends two more.
    let mut rewritten = MemoryHashes::new();
    let mut appender = Appender::new();
    let mut kept: Vec<_> = leaves.clone();
    kept.remove(3);
    kept.push(leaf_hash(&leaf_data(100)));
    kept.push(leaf_hash(&leaf_data(101)));
    let batch = appender.append(&kept).expect("in range");
    rewritten.write(batch.first_index, &batch.hashes);
    assert_eq!(batch.size, 11);

    // Its honest-looking request: old size 10, a proof from its own (rewritten) tree.
    let request = AddCheckpoint::new(&rewritten, 10, signed_checkpoint(&rewritten, 11))
        .expect("proof from the rewritten tree");
    let result = witness.add_checkpoint(&request, Some(&seen), NOW);
    assert_eq!(refusal(result), (422, "not_an_extension"));

    // Whatever proof comes with it: the honest tree's own proof to 10 (empty), or none.
    let mut grafted = request.clone();
    grafted.proof = consistency_proof(&honest, 10, 10).expect("empty");
    let result = witness.add_checkpoint(&grafted, Some(&seen), NOW);
    assert_eq!(refusal(result), (422, "not_an_extension"));

    // Re-signing the same size with another root: refused too.
    let same_size =
        AddCheckpoint::new(&rewritten, 10, signed_checkpoint(&rewritten, 10)).expect("proof");
    let result = witness.add_checkpoint(&same_size, Some(&seen), NOW);
    assert_eq!(refusal(result), (422, "not_an_extension"));
}

#[test]
fn every_refusal_has_its_specified_status() {
    let (store, _) = build(20);
    let witness = witness();
    let seen = TreeHead {
        size: 8,
        root: kelisim_receipt::log::tree_root(&store, 8).expect("stored"),
    };
    let good = AddCheckpoint::new(&store, 8, signed_checkpoint(&store, 12)).expect("proof");
    witness
        .add_checkpoint(&good, Some(&seen), NOW)
        .expect("the control case is cosigned");

    // Unknown origin: 404.
    let stranger = NoteSigner::new("elsewhere.example/log", signing_key(5)).expect("valid");
    let foreign = Checkpoint::new(
        "elsewhere.example/log",
        12,
        good.checkpoint.checkpoint().root,
    )
    .expect("valid")
    .sign(&stranger)
    .expect("signs");
    let mut request = good.clone();
    request.checkpoint = foreign;
    let result = witness.add_checkpoint(&request, Some(&seen), NOW);
    assert_eq!(refusal(result), (404, "unknown_origin"));

    // Signed by another key for the right origin: 403.
    let impostor = NoteSigner::new(ORIGIN, signing_key(6)).expect("valid");
    let mut request = good.clone();
    request.checkpoint = good.checkpoint.checkpoint().sign(&impostor).expect("signs");
    let result = witness.add_checkpoint(&request, Some(&seen), NOW);
    assert_eq!(refusal(result), (403, "bad_signature"));

    // The log's signature over another body: 403.
    let edited = String::from_utf8(good.checkpoint.to_bytes())
        .expect("utf-8")
        .replacen("\n12\n", "\n13\n", 1);
    let mut request = good.clone();
    request.checkpoint = SignedCheckpoint::parse(edited.as_bytes()).expect("well-formed");
    let result = witness.add_checkpoint(&request, Some(&seen), NOW);
    assert_eq!(refusal(result), (403, "bad_signature"));

    // A smaller checkpoint than the old size: 400.
    let smaller = AddCheckpoint {
        old_size: 8,
        proof: Vec::new(),
        checkpoint: signed_checkpoint(&store, 6),
    };
    let result = witness.add_checkpoint(&smaller, Some(&seen), NOW);
    assert_eq!(refusal(result), (400, "smaller_than_old"));

    // An old size that is not the witness's: 409, naming the right one.
    let stale = AddCheckpoint::new(&store, 5, signed_checkpoint(&store, 12)).expect("proof");
    match witness.add_checkpoint(&stale, Some(&seen), NOW) {
        Err(r @ Refusal::OldSizeMismatch { latest: 8, .. }) => assert_eq!(r.status(), 409),
        other => panic!("{other:?}"),
    }
    let result = witness.add_checkpoint(&good, None, NOW);
    assert_eq!(refusal(result), (409, "old_size_mismatch"));

    // Size 0 with a root other than the empty tree's: 422.
    let empty_lie = AddCheckpoint {
        old_size: 0,
        proof: Vec::new(),
        checkpoint: Checkpoint::new(ORIGIN, 0, leaf_hash(b"x"))
            .expect("valid")
            .sign(&log_signer())
            .expect("signs"),
    };
    let result = witness.add_checkpoint(&empty_lie, None, NOW);
    assert_eq!(refusal(result), (422, "empty_tree_root"));
    let empty = AddCheckpoint {
        checkpoint: Checkpoint::new(ORIGIN, 0, EMPTY_ROOT)
            .expect("valid")
            .sign(&log_signer())
            .expect("signs"),
        ..empty_lie
    };
    witness
        .add_checkpoint(&empty, None, NOW)
        .expect("the empty tree is cosigned");

    // A proof from size 0: 422.
    let mut from_zero = AddCheckpoint::new(&store, 0, signed_checkpoint(&store, 12)).expect("ok");
    from_zero.proof = good.proof.clone();
    let result = witness.add_checkpoint(&from_zero, None, NOW);
    assert_eq!(refusal(result), (422, "proof_from_empty"));

    // A damaged consistency proof: 422.
    let mut damaged = good.clone();
    damaged.proof[0].0[0] ^= 1;
    let result = witness.add_checkpoint(&damaged, Some(&seen), NOW);
    assert_eq!(refusal(result), (422, "not_an_extension"));

    // A witness that cannot cosign at time 0 says so.
    let result = witness.add_checkpoint(&good, Some(&seen), 0);
    assert_eq!(refusal(result), (500, "cosign"));
}

#[test]
fn add_checkpoint_bodies_parse_strictly() {
    let (store, _) = build(12);
    let good = AddCheckpoint::new(&store, 8, signed_checkpoint(&store, 12)).expect("proof");
    let bytes = good.to_bytes();
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(text.starts_with("old 8\n"));
    assert_eq!(AddCheckpoint::parse(&bytes).ok(), Some(good.clone()));
    let cases = [
        ("old 08\n\n", 1),
        ("old -1\n\n", 1),
        ("new 8\n\n", 1),
        ("old 8", 1),
        ("old 8\nAAAA\n\n", 2),
        ("old 8\n", 2),
    ];
    for (body, line) in cases {
        match AddCheckpoint::parse(body.as_bytes()) {
            Err(kelisim_receipt::log::LogError::AddCheckpoint { line: got, .. }) => {
                assert_eq!(got, line, "{body:?}");
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
    // 64 proof lines: more than the spec allows.
    let proof_line = good.proof[0].to_base64();
    let too_many = format!(
        "old 8\n{}\n\n{}",
        vec![proof_line.as_str(); 64].join("\n"),
        String::from_utf8(good.checkpoint.to_bytes()).expect("utf-8")
    );
    assert_eq!(
        AddCheckpoint::parse(too_many.as_bytes())
            .expect_err("too many")
            .code(),
        "add_checkpoint"
    );
    // The witness's rule needs the log it knows: a log list without this origin refuses.
    let lonely = Witness::new(
        witness_cosigner(),
        vec![TrustedLog {
            origin: "other".into(),
            keys: vec![],
        }],
    );
    assert!(lonely.log(ORIGIN).is_none());
}
