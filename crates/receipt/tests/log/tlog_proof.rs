//! The offline proof (c2sp.org/tlog-proof) as a data subject holds it: exact bytes, what it
//! proves, and every way a forged or damaged proof is refused.

use kelisim_receipt::log::{
    Hash, NoteSigner, SignedCheckpoint, TLOG_PROOF_HEADER, TlogProof, TrustedLog, inclusion_proof,
    leaf_hash,
};

use super::{
    ORIGIN, build, leaf_data, signed_checkpoint, signing_key, trusted_log, witness_cosigner,
};

/// The proof of leaf `index` in the first `size` leaves, cosigned by the test witness.
fn proof_for(index: u64, size: u64, extra: Option<Vec<u8>>) -> TlogProof {
    let (store, _) = build(size);
    let mut checkpoint = signed_checkpoint(&store, size);
    let cosignature = witness_cosigner()
        .cosign(checkpoint.checkpoint(), 1_767_225_600)
        .expect("cosigns");
    checkpoint.push_signature(cosignature);
    TlogProof {
        extra,
        index,
        inclusion: inclusion_proof(&store, index, size).expect("in range"),
        checkpoint,
    }
}

#[test]
fn the_encoding_is_the_specs_line_by_line() {
    let proof = proof_for(5, 6, Some(b"receipt id 0190".to_vec()));
    let text = proof.to_string();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(TLOG_PROOF_HEADER));
    assert_eq!(lines.next(), Some("extra cmVjZWlwdCBpZCAwMTkw"));
    assert_eq!(lines.next(), Some("index 5"));
    // Leaf 5 of 6: its sibling 4, then the hash of leaves 0-3.
    assert_eq!(lines.next(), Some(proof.inclusion[0].to_base64().as_str()));
    assert_eq!(lines.next(), Some(proof.inclusion[1].to_base64().as_str()));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some(ORIGIN));
    assert_eq!(lines.next(), Some("6"));
    // The rest is the signed checkpoint, verbatim.
    let (_, checkpoint) = text.split_once("\n\n").expect("blank line");
    assert_eq!(checkpoint.as_bytes(), proof.checkpoint.to_bytes());
    assert_eq!(TlogProof::parse(text.as_bytes()).ok(), Some(proof));

    let without_extra = proof_for(0, 1, None);
    let text = without_extra.to_string();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\ncollector.example.kz/log\n1\n"));
    assert_eq!(TlogProof::parse(text.as_bytes()).ok(), Some(without_extra));
}

#[test]
fn a_proof_verifies_offline_with_the_log_key_and_names_its_witnesses() {
    let witnesses = [witness_cosigner().verifier_key().clone()];
    for (index, size) in [(0, 1), (3, 7), (6, 7), (255, 256), (100, 1000)] {
        let proof = proof_for(index, size, None);
        let parsed = TlogProof::parse(&proof.to_bytes()).expect("parses");
        let verified = parsed
            .verify(&leaf_hash(&leaf_data(index)), &trusted_log(), &witnesses)
            .unwrap_or_else(|e| panic!("({index}, {size}): {e}"));
        assert_eq!(verified.checkpoint.size, size);
        assert_eq!(verified.signed_by.len(), 1);
        assert_eq!(verified.cosigned_by.len(), 1);
        assert_eq!(verified.cosigned_by[0].timestamp, Some(1_767_225_600));
        // Without witness keys it still proves inclusion, cosigned by nobody known.
        let alone = parsed
            .verify(&leaf_hash(&leaf_data(index)), &trusted_log(), &[])
            .expect("verifies");
        assert!(alone.cosigned_by.is_empty());
    }
}

#[test]
fn forged_or_damaged_proofs_are_refused() {
    let proof = proof_for(3, 7, None);
    let leaf = leaf_hash(&leaf_data(3));
    let witnesses = [witness_cosigner().verifier_key().clone()];
    let code = |p: &TlogProof, leaf: &Hash, log: &TrustedLog| {
        p.verify(leaf, log, &witnesses).expect_err("refused").code()
    };
    // Another receipt, another index, a damaged path.
    assert_eq!(
        code(&proof, &leaf_hash(b"forged"), &trusted_log()),
        "root_mismatch"
    );
    let mut moved = proof.clone();
    moved.index = 2;
    assert_eq!(code(&moved, &leaf, &trusted_log()), "root_mismatch");
    let mut damaged = proof.clone();
    damaged.inclusion[1].0[7] ^= 0x10;
    assert_eq!(code(&damaged, &leaf, &trusted_log()), "root_mismatch");
    let mut short = proof.clone();
    short.inclusion.pop();
    assert_eq!(code(&short, &leaf, &trusted_log()), "proof_length");
    // A checkpoint signed by someone else, for another origin, or edited after signing.
    let impostor = NoteSigner::new(ORIGIN, signing_key(9)).expect("valid");
    let mut forged = proof.clone();
    forged.checkpoint = forged
        .checkpoint
        .checkpoint()
        .sign(&impostor)
        .expect("signs");
    assert_eq!(code(&forged, &leaf, &trusted_log()), "no_trusted_signature");
    let other_log = TrustedLog {
        origin: "other.example/log".into(),
        keys: trusted_log().keys,
    };
    assert_eq!(code(&proof, &leaf, &other_log), "origin_mismatch");
    let edited =
        proof
            .to_string()
            .replacen(&format!("{ORIGIN}\n7\n"), &format!("{ORIGIN}\n8\n"), 1);
    let edited = TlogProof::parse(edited.as_bytes()).expect("well-formed");
    assert_eq!(code(&edited, &leaf, &trusted_log()), "invalid_signature");
    // A known witness's broken cosignature rejects the proof (signed-note rules).
    let mut bad_cosignature = proof.clone();
    let mut line = witness_cosigner()
        .cosign(proof.checkpoint.checkpoint(), 1_767_225_600)
        .expect("cosigns");
    line.signature[20] ^= 1;
    bad_cosignature.checkpoint.push_signature(line);
    assert_eq!(
        code(&bad_cosignature, &leaf, &trusted_log()),
        "invalid_signature"
    );
}

#[test]
fn malformed_proofs_name_their_line() {
    let good = proof_for(3, 7, None).to_string();
    let (head, checkpoint) = good.split_once("\n\n").expect("blank line");
    let path: Vec<&str> = head.lines().skip(2).collect();
    let cases: Vec<(&str, usize, String)> = vec![
        ("empty", 1, String::new()),
        ("wrong header", 1, good.replacen("@v1", "@v2", 1)),
        (
            "extra not base64",
            2,
            good.replacen("index 3", "extra !!\nindex 3", 1),
        ),
        ("no index", 2, good.replacen("index 3", "idx 3", 1)),
        ("leading zero", 2, good.replacen("index 3", "index 03", 1)),
        ("negative", 2, good.replacen("index 3", "index -3", 1)),
        ("short hash", 3, good.replacen(path[0], "AAAA", 1)),
        (
            "no blank line",
            2 + path.len(),
            format!("{TLOG_PROOF_HEADER}\nindex 3\n{}", path.join("\n")),
        ),
        (
            "65 hashes",
            67,
            format!(
                "{TLOG_PROOF_HEADER}\nindex 3\n{}\n\n{checkpoint}",
                vec![path[0]; 65].join("\n")
            ),
        ),
    ];
    for (what, line, text) in cases {
        match TlogProof::parse(text.as_bytes()) {
            Err(kelisim_receipt::log::LogError::TlogProof { line: got, .. }) => {
                assert_eq!(got, line, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A damaged checkpoint is the checkpoint's error.
    let broken = good.replacen("\n7\n", "\nseven\n", 1);
    assert_eq!(
        TlogProof::parse(broken.as_bytes())
            .expect_err("bad checkpoint")
            .code(),
        "checkpoint"
    );
    let unsigned = format!("{head}\n\n{ORIGIN}\n7\n{}\n", Hash([0; 32]));
    assert_eq!(
        TlogProof::parse(unsigned.as_bytes())
            .expect_err("unsigned")
            .code(),
        "note_unsigned"
    );
    // Bytes that are not UTF-8 are refused, not panicked on.
    assert!(TlogProof::parse(&[0xff, 0xfe]).is_err());
    // A bare checkpoint is a checkpoint, not a proof.
    let bare = SignedCheckpoint::parse(checkpoint.as_bytes()).expect("checkpoint");
    assert!(TlogProof::parse(&bare.to_bytes()).is_err());
}
