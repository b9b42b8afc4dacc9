//! The worked example in the crate's README.md is real: rebuilt here and compared byte for
//! byte, so the document a third party writes a verifier from cannot drift from the code.

use kelisim_receipt::log::{
    Appender, Checkpoint, Cosigner, MemoryHashes, NoteSigner, TlogProof, TrustedLog,
    inclusion_proof, receipt_leaf_hash,
};

use super::signing_key;

/// The example's leaves: five compact JWS strings (their signatures are placeholders; the
/// log hashes the bytes, whatever they are).
fn example_leaves() -> Vec<String> {
    (0..5)
        .map(|i| format!("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJyZWNlaXB0Ijoi{i}In0.c2lnbmF0dXJl"))
        .collect()
}

fn example() -> String {
    let origin = "collector.example.kz/log";
    let log = NoteSigner::new(origin, signing_key(1)).expect("valid");
    let witness = Cosigner::new("witness.example.kz/w1", signing_key(2)).expect("valid");
    let leaves = example_leaves();
    let mut store = MemoryHashes::new();
    let hashes: Vec<_> = leaves.iter().map(|jws| receipt_leaf_hash(jws)).collect();
    let batch = Appender::new().append(&hashes).expect("in range");
    store.write(batch.first_index, &batch.hashes);
    let checkpoint = Checkpoint::new(origin, 5, batch.root).expect("valid");
    let mut signed = checkpoint.sign(&log).expect("signs");
    signed.push_signature(witness.cosign(&checkpoint, 1_767_225_600).expect("cosigns"));
    let proof = TlogProof {
        extra: None,
        index: 3,
        inclusion: inclusion_proof(&store, 3, 5).expect("in range"),
        checkpoint: signed,
    };
    // The example must verify, or it has no business in the README.
    let trusted = TrustedLog {
        origin: origin.into(),
        keys: vec![log.verifier_key().clone()],
    };
    proof
        .verify(
            &hashes[3],
            &trusted,
            std::slice::from_ref(witness.verifier_key()),
        )
        .expect("the example verifies");
    format!(
        "Log verifier key:     {}\nWitness verifier key: {}\nReceipt (leaf 3):     {}\nLeaf hash:            {}\n\n{}",
        log.verifier_key(),
        witness.verifier_key(),
        leaves[3],
        hashes[3],
        proof
    )
}

#[test]
fn the_readme_example_is_what_the_code_produces() {
    let path = format!("{}/README.md", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let want = example();
    assert!(
        readme.contains(&format!("```text\n{want}```\n")),
        "README.md's worked example is out of date; it should read:\n```text\n{want}```"
    );
}
