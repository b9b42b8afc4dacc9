//! Hostile bytes: thousands of mutations of valid notes, checkpoints, proofs and witness
//! requests. Parsing never panics, and whatever it accepts re-encodes to the same bytes
//! (every field has one encoding), so no two different byte strings pass for one proof.

use kelisim_receipt::log::{
    AddCheckpoint, SignedCheckpoint, SignedNote, TlogProof, inclusion_proof,
};

use super::{build, signed_checkpoint, witness_cosigner};

/// A small deterministic generator (PCG-style LCG): reproducible failures.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

/// Bytes that matter to the formats: separators, digits, base64, the em dash's bytes.
const INTERESTING: &[u8] = b"\n \x00\r+/=0123456789Aaz-\xe2\x80\x94\xff";

fn mutate(rng: &mut Lcg, input: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..=rng.next(3) {
        let at = rng.next(bytes.len() + 1);
        match rng.next(4) {
            0 if at < bytes.len() => bytes[at] = INTERESTING[rng.next(INTERESTING.len())],
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, INTERESTING[rng.next(INTERESTING.len())]),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn check<T>(
    name: &str,
    valid: &[u8],
    parse: impl Fn(&[u8]) -> Option<T>,
    encode: impl Fn(&T) -> Vec<u8>,
) {
    let mut rng = Lcg(0x6b65_6c69_7369_6d00);
    let mut accepted = 0;
    for round in 0..3_000 {
        let input = mutate(&mut rng, valid);
        if let Some(parsed) = parse(&input) {
            accepted += 1;
            assert_eq!(
                encode(&parsed),
                input,
                "{name}, round {round}: accepted bytes re-encode differently"
            );
        }
    }
    // Some mutations (in a hash's or signature's bits) keep the form valid: the property
    // was exercised, not vacuous.
    assert!(accepted > 0, "{name}: no mutation was accepted");
}

#[test]
fn mutated_inputs_are_refused_or_reencode_identically() {
    let (store, _) = build(21);
    let mut checkpoint = signed_checkpoint(&store, 21);
    checkpoint.push_signature(
        witness_cosigner()
            .cosign(checkpoint.checkpoint(), 1_767_225_600)
            .expect("cosigns"),
    );
    let proof = TlogProof {
        extra: Some(b"context".to_vec()),
        index: 13,
        inclusion: inclusion_proof(&store, 13, 21).expect("in range"),
        checkpoint: checkpoint.clone(),
    };
    let request = AddCheckpoint::new(&store, 8, signed_checkpoint(&store, 21)).expect("proof");

    check(
        "note",
        &checkpoint.note().to_bytes(),
        |b| SignedNote::parse(b).ok(),
        SignedNote::to_bytes,
    );
    check(
        "checkpoint",
        &checkpoint.to_bytes(),
        |b| SignedCheckpoint::parse(b).ok(),
        SignedCheckpoint::to_bytes,
    );
    check(
        "tlog-proof",
        &proof.to_bytes(),
        |b| TlogProof::parse(b).ok(),
        TlogProof::to_bytes,
    );
    check(
        "add-checkpoint",
        &request.to_bytes(),
        |b| AddCheckpoint::parse(b).ok(),
        AddCheckpoint::to_bytes,
    );
}
