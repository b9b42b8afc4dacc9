//! Interop with implementations of the same specifications that this project did not write:
//! Cloudflare's `tlog_tiles` and `signed_note` crates (azul, ported from Go's
//! `golang.org/x/mod/sumdb/tlog` and `note`). Our hashes, stored layout, proofs, tiles,
//! checkpoints, notes, cosignatures and tlog-proofs are checked with theirs, and theirs
//! with ours.

use ed25519_dalek::{SignatureError, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use kelisim_receipt::log::{
    Hash, MemoryHashes, NoteSigner, SignedCheckpoint, TlogProof, TrustedLog, VerifierKey,
    consistency_proof, inclusion_proof, key_id, tiles, tree_root,
};
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList, Verifiers};

use super::{
    ORIGIN, build, leaf_data, log_signer, signed_checkpoint, signing_key, trusted_log,
    witness_cosigner,
};

/// Our stored hashes, read through their `HashReader`.
struct Theirs<'a>(&'a MemoryHashes);

impl tlog_tiles::HashReader for Theirs<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .as_slice()
                    .get(i as usize)
                    .map(|h| tlog_tiles::Hash(h.0))
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn ours(hashes: &[tlog_tiles::Hash]) -> Vec<Hash> {
    hashes.iter().map(|h| Hash(h.0)).collect()
}

fn theirs(hashes: &[Hash]) -> Vec<tlog_tiles::Hash> {
    hashes.iter().map(|h| tlog_tiles::Hash(h.0)).collect()
}

#[test]
fn the_stored_hash_layout_and_roots_are_go_sumdbs() {
    let (store, _) = build(300);
    // Their writer, leaf by leaf over their own storage, stores exactly our sequence.
    let mut their_store = MemoryHashes::new();
    for n in 0..300u64 {
        let hashes = tlog_tiles::stored_hashes(n, &leaf_data(n), &Theirs(&their_store))
            .expect("their writer");
        let at = tlog_tiles::stored_hash_index(0, n);
        their_store.write(at, &ours(&hashes));
        assert_eq!(tlog_tiles::stored_hash_count(n + 1), their_store.len());
    }
    assert_eq!(their_store.as_slice(), store.as_slice());
    for n in 0..=300u64 {
        let their_root = tlog_tiles::tree_hash(n, &Theirs(&store)).expect("their root");
        assert_eq!(
            Hash(their_root.0),
            tree_root(&store, n).expect("our root"),
            "size {n}"
        );
    }
}

#[test]
fn inclusion_and_consistency_proofs_are_identical_and_cross_verify() {
    let (store, leaves) = build(130);
    for size in 1..=130u64 {
        let root = tree_root(&store, size).expect("stored");
        let their_root = tlog_tiles::Hash(root.0);
        for index in 0..size {
            let mine = inclusion_proof(&store, index, size).expect("ours");
            let their = tlog_tiles::prove_record(size, index, &Theirs(&store)).expect("theirs");
            assert_eq!(ours(&their), mine, "inclusion ({index}, {size})");
            tlog_tiles::check_record(
                &theirs(&mine),
                size,
                their_root,
                index,
                tlog_tiles::Hash(leaves[index as usize].0),
            )
            .unwrap_or_else(|e| panic!("they refuse our ({index}, {size}): {e}"));
        }
        for old in 1..=size {
            let mine = consistency_proof(&store, old, size).expect("ours");
            let their = tlog_tiles::prove_tree(size, old, &Theirs(&store)).expect("theirs");
            assert_eq!(ours(&their), mine, "consistency ({old}, {size})");
            let old_root = tlog_tiles::Hash(tree_root(&store, old).expect("stored").0);
            tlog_tiles::check_tree(&theirs(&mine), size, their_root, old, old_root)
                .unwrap_or_else(|e| panic!("they refuse our ({old}, {size}): {e}"));
        }
    }
    // And they refuse what we refuse.
    let root = tlog_tiles::Hash(tree_root(&store, 100).expect("stored").0);
    let mut tampered = inclusion_proof(&store, 42, 100).expect("ours");
    tampered[2].0[5] ^= 4;
    let leaf = tlog_tiles::Hash(leaves[42].0);
    assert!(tlog_tiles::check_record(&theirs(&tampered), 100, root, 42, leaf).is_err());
}

/// Tiles served from our stored hashes, as their tile reader fetches them.
struct OurTiles<'a>(&'a MemoryHashes);

impl tlog_tiles::TileReader for OurTiles<'_> {
    fn height(&self) -> u8 {
        tiles::TILE_HEIGHT
    }

    fn read_tiles(&self, wanted: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        wanted
            .iter()
            .map(|t| {
                let tile = tiles::Tile {
                    level: t.level(),
                    index: t.level_index(),
                    width: t.width() as u16,
                };
                tiles::read_tile(self.0, &tile).map_err(|_| tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[tlog_tiles::Tile], _data: &[Vec<u8>]) {}
}

#[test]
fn tiles_from_our_store_are_c2sp_tiles_their_reader_proves_from() {
    let (store, _) = build(70_000);
    let mut old = 0;
    for size in [1, 255, 256, 257, 4_000, 65_536, 65_537, 70_000] {
        let mine = tiles::tiles_to_publish(old, size).expect("in range");
        let their = tlog_tiles::Tile::new_tiles(8, old, size);
        assert_eq!(mine.len(), their.len(), "{old} -> {size}");
        for (m, t) in mine.iter().zip(&their) {
            // Go's paths carry the tile height; C2SP's are the same without it.
            assert_eq!(m.path(), t.path().replacen("tile/8/", "tile/", 1));
            let data = tiles::read_tile(&store, m).expect("stored");
            assert_eq!(data, t.read_data(&Theirs(&store)).expect("theirs"));
        }
        old = size;
    }
    // Their tile-backed reader (which checks every tile against the root) proves from our
    // tiles exactly what we prove from stored hashes.
    let our_tiles = OurTiles(&store);
    for size in [300, 65_537, 70_000] {
        let root = tree_root(&store, size).expect("stored");
        let reader = tlog_tiles::TileHashReader::new(size, tlog_tiles::Hash(root.0), &our_tiles);
        for index in [0, 1, 255, 256, size / 2, size - 1] {
            let their = tlog_tiles::prove_record(size, index, &reader).expect("from tiles");
            assert_eq!(
                ours(&their),
                inclusion_proof(&store, index, size).expect("ours")
            );
        }
        let their = tlog_tiles::prove_tree(size, 257, &reader).expect("from tiles");
        assert_eq!(
            ours(&their),
            consistency_proof(&store, 257, size).expect("ours")
        );
    }
}

/// Go's private key format, which their signer reads: `PRIVATE+KEY+name+id+base64(1||seed)`.
fn their_signer(name: &str, key: &SigningKey) -> StandardSigner {
    use base64::Engine as _;
    let mut public = vec![1u8];
    public.extend_from_slice(key.verifying_key().as_bytes());
    let mut private = vec![1u8];
    private.extend_from_slice(key.as_bytes());
    let skey = format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        signed_note::key_id(name, &public),
        base64::engine::general_purpose::STANDARD.encode(private)
    );
    StandardSigner::new(&skey).expect("their signer")
}

fn their_verifiers(keys: &[&str]) -> VerifierList {
    VerifierList::new(
        keys.iter()
            .map(|k| Box::new(StandardVerifier::new(k).expect("their verifier")) as Box<_>)
            .collect(),
    )
}

#[test]
fn our_checkpoints_verify_with_their_note_and_checkpoint_parsers() {
    let (store, _) = build(1000);
    let ours_signed = signed_checkpoint(&store, 1000);
    let vkey = log_signer().verifier_key().to_string();
    // Their key ID computation agrees with ours.
    let mut public = vec![1u8];
    public.extend_from_slice(log_signer().verifier_key().public_key().as_bytes());
    assert_eq!(
        signed_note::key_id(ORIGIN, &public),
        log_signer().verifier_key().key_id()
    );
    let note = Note::from_bytes(&ours_signed.to_bytes()).expect("they parse our note");
    let (verified, unverified) = note
        .verify(&their_verifiers(&[&vkey]))
        .expect("they verify our signature");
    assert_eq!((verified.len(), unverified.len()), (1, 0));
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("their parser");
    assert_eq!(checkpoint.origin(), ORIGIN);
    assert_eq!(checkpoint.size(), 1000);
    assert_eq!(checkpoint.hash().0, ours_signed.checkpoint().root.0);
    assert_eq!(note.to_bytes(), ours_signed.to_bytes());

    // With extension lines too.
    let mut extended = ours_signed.checkpoint().clone();
    extended.extensions = vec!["kelisim/v1".into(), "2026-12-02T00:00:00Z".into()];
    let extended = extended.sign(&log_signer()).expect("signs");
    let note = Note::from_bytes(&extended.to_bytes()).expect("they parse");
    note.verify(&their_verifiers(&[&vkey]))
        .expect("they verify");
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("their parser");
    assert_eq!(checkpoint.extension(), "kelisim/v1\n2026-12-02T00:00:00Z\n");

    // An altered checkpoint: they refuse it as well.
    let altered = String::from_utf8(ours_signed.to_bytes())
        .expect("utf-8")
        .replacen("\n1000\n", "\n1001\n", 1);
    let note = Note::from_bytes(altered.as_bytes()).expect("well-formed");
    assert!(note.verify(&their_verifiers(&[&vkey])).is_err());
}

#[test]
fn their_checkpoints_verify_with_ours() {
    let (store, _) = build(77);
    let root = tree_root(&store, 77).expect("stored");
    let key = signing_key(31);
    let signer = their_signer("their.example/log", &key);
    let body =
        tlog_tiles::Checkpoint::new("their.example/log", 77, tlog_tiles::Hash(root.0), "ext\n")
            .expect("their checkpoint");
    let mut note = Note::new(&body.to_bytes(), &[]).expect("their note");
    note.add_sigs(&[&signer]).expect("they sign");
    // A second, unknown signer on the same note is ignored by both sides.
    note.add_sigs(&[&their_signer("someone.else", &signing_key(32))])
        .expect("they sign");
    let vkey = signed_note::new_ed25519_verifier_key("their.example/log", &key.verifying_key());
    let parsed = SignedCheckpoint::parse(&note.to_bytes()).expect("we parse theirs");
    let log = TrustedLog {
        origin: "their.example/log".into(),
        keys: vec![VerifierKey::parse(&vkey).expect("we parse their key")],
    };
    assert_eq!(parsed.verify(&log).expect("we verify theirs").len(), 1);
    assert_eq!(parsed.checkpoint().root, root);
    assert_eq!(parsed.checkpoint().extensions, ["ext"]);
    assert_eq!(parsed.to_bytes(), note.to_bytes());
}

// --- cosignature/v1 ------------------------------------------------------------------------
//
// The published `signed_note` 0.2.0 verifies Ed25519 notes only; azul implements
// cosignature/v1 in its `tlog_cosignature` crate, which is not published. The verifier and
// signer below are that code (github.com/cloudflare/azul at 610bd6f,
// crates/tlog_cosignature/src/cosignature_v1.rs, BSD-3-Clause, Copyright (c) 2025
// Cloudflare, Inc.), adapted only to the published crates' trait signatures.

#[derive(Clone)]
struct CosignatureV1NoteVerifier {
    name: String,
    id: u32,
    verifying_key: VerifyingKey,
}

impl CosignatureV1NoteVerifier {
    fn new(name: String, verifying_key: VerifyingKey) -> Self {
        let id = signed_note::key_id(
            &name,
            &[&[0x04], verifying_key.to_bytes().as_slice()].concat(),
        );
        Self {
            name,
            id,
            verifying_key,
        }
    }
}

impl signed_note::Verifier for CosignatureV1NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // The message itself should be a valid checkpoint.
        let Ok(checkpoint) = tlog_tiles::Checkpoint::from_bytes(msg) else {
            return false;
        };
        // timestamped_signature.timestamp
        let Some((ts, sig)) = sig.split_first_chunk::<8>() else {
            return false;
        };
        let sig_timestamp = u64::from_be_bytes(*ts);
        // timestamped_signature.signature
        let sig_bytes: [u8; ed25519_dalek::SIGNATURE_LENGTH] = match sig.try_into() {
            Ok(ok) => ok,
            Err(_) => return false,
        };
        let mut msg = format!("cosignature/v1\ntime {sig_timestamp}\n").into_bytes();
        msg.extend(checkpoint.to_bytes());
        self.verifying_key
            .verify(&msg, &ed25519_dalek::Signature::from_bytes(&sig_bytes))
            .is_ok()
    }
}

struct CosignatureV1Signer {
    v: CosignatureV1NoteVerifier,
    k: SigningKey,
    timestamp_unix_secs: u64,
}

impl signed_note::Signer for CosignatureV1Signer {
    fn name(&self) -> &str {
        &self.v.name
    }

    fn key_id(&self) -> u32 {
        self.v.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let checkpoint =
            tlog_tiles::Checkpoint::from_bytes(msg).map_err(|_| SignatureError::new())?;
        let timestamp_unix_secs = self.timestamp_unix_secs;
        let mut msg = format!("cosignature/v1\ntime {timestamp_unix_secs}\n").into_bytes();
        msg.extend(checkpoint.to_bytes());
        let sig = self.k.try_sign(&msg)?;
        let mut note_sig = timestamp_unix_secs.to_be_bytes().to_vec();
        note_sig.extend(&sig.to_bytes());
        Ok(note_sig)
    }
}

struct One(CosignatureV1NoteVerifier);

impl Verifiers for One {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> Result<&dyn signed_note::Verifier, signed_note::VerificationError> {
        if name == self.0.name && id == self.0.id {
            Ok(&self.0)
        } else {
            Err(signed_note::VerificationError::UnknownKey {
                name: name.to_owned(),
                id,
            })
        }
    }
}

#[test]
fn cosignatures_cross_verify_with_azuls_cosignature_v1() {
    let (store, _) = build(64);
    let witness = witness_cosigner();
    let witness_key = *witness.verifier_key().public_key();
    let name = witness.verifier_key().name().to_owned();
    let azul = CosignatureV1NoteVerifier::new(name.clone(), witness_key);
    assert_eq!(azul.id, witness.verifier_key().key_id());
    assert_eq!(
        key_id(
            &name,
            kelisim_receipt::log::KeyType::CosignatureV1,
            witness_key.as_bytes()
        ),
        azul.id
    );

    // Ours, checked by theirs.
    let mut signed = signed_checkpoint(&store, 64);
    let line = witness
        .cosign(signed.checkpoint(), 1_767_225_600)
        .expect("cosigns");
    signed.push_signature(line);
    let note = Note::from_bytes(&signed.to_bytes()).expect("they parse");
    let (verified, unverified) = note.verify(&One(azul.clone())).expect("they verify ours");
    assert_eq!(verified.len(), 1);
    assert_eq!(
        unverified.len(),
        1,
        "the log's own signature is not theirs to check"
    );
    let altered = String::from_utf8(signed.to_bytes())
        .expect("utf-8")
        .replacen("\n64\n", "\n65\n", 1);
    let note = Note::from_bytes(altered.as_bytes()).expect("well-formed");
    assert!(note.verify(&One(azul.clone())).is_err());

    // Theirs, checked by ours.
    let their_cosigner = CosignatureV1Signer {
        v: azul,
        k: signing_key(2),
        timestamp_unix_secs: 1_700_000_123,
    };
    let mut note = Note::from_bytes(&signed_checkpoint(&store, 64).to_bytes()).expect("parse");
    note.add_sigs(&[&their_cosigner]).expect("they cosign");
    let parsed = SignedCheckpoint::parse(&note.to_bytes()).expect("we parse theirs");
    parsed.verify(&trusted_log()).expect("the log's signature");
    let by = parsed
        .cosignatures(std::slice::from_ref(witness.verifier_key()))
        .expect("we verify their cosignature");
    assert_eq!(by.len(), 1);
    assert_eq!(by[0].timestamp, Some(1_700_000_123));
}

#[test]
fn tlog_proofs_are_checked_piece_by_piece_with_their_crates_and_theirs_with_ours() {
    let (store, _) = build(500);
    let vkey = log_signer().verifier_key().to_string();
    for index in [0, 17, 255, 256, 499] {
        let proof = TlogProof {
            extra: None,
            index,
            inclusion: inclusion_proof(&store, index, 500).expect("ours"),
            checkpoint: signed_checkpoint(&store, 500),
        };
        let text = proof.to_string();
        // Split by the spec's grammar alone: header, index line, hash lines, blank, note.
        let (head, note) = text.split_once("\n\n").expect("blank line");
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        let index_line = lines.next().expect("index line");
        let their_index: u64 = index_line
            .strip_prefix("index ")
            .expect("index")
            .parse()
            .expect("decimal");
        let path: Vec<tlog_tiles::Hash> = lines
            .map(|l| tlog_tiles::Hash::parse_hash(l).expect("their hash parser"))
            .collect();
        let note = Note::from_bytes(note.as_bytes()).expect("their note parser");
        note.verify(&their_verifiers(&[&vkey]))
            .expect("they verify");
        let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text()).expect("their parser");
        tlog_tiles::check_record(
            &path,
            checkpoint.size(),
            *checkpoint.hash(),
            their_index,
            tlog_tiles::record_hash(&leaf_data(index)),
        )
        .expect("they verify the inclusion");
    }

    // A proof assembled from their proof and their signed note, in the spec's format.
    let key = signing_key(40);
    let root = tree_root(&store, 500).expect("stored");
    let body = tlog_tiles::Checkpoint::new("their.example/log", 500, tlog_tiles::Hash(root.0), "")
        .expect("their checkpoint");
    let mut note = Note::new(&body.to_bytes(), &[]).expect("their note");
    note.add_sigs(&[&their_signer("their.example/log", &key)])
        .expect("they sign");
    let path = tlog_tiles::prove_record(500, 123, &Theirs(&store)).expect("their proof");
    let mut text = "c2sp.org/tlog-proof@v1\nindex 123\n".to_owned();
    for hash in &path {
        text.push_str(&format!("{hash}\n"));
    }
    text.push('\n');
    text.push_str(std::str::from_utf8(&note.to_bytes()).expect("utf-8"));
    let parsed = TlogProof::parse(text.as_bytes()).expect("we parse theirs");
    let log = TrustedLog {
        origin: "their.example/log".into(),
        keys: vec![
            VerifierKey::parse(&signed_note::new_ed25519_verifier_key(
                "their.example/log",
                &key.verifying_key(),
            ))
            .expect("their key"),
        ],
    };
    let verified = parsed
        .verify(&kelisim_receipt::log::leaf_hash(&leaf_data(123)), &log, &[])
        .expect("we verify theirs");
    assert_eq!(verified.checkpoint.size, 500);
    assert_eq!(parsed.to_string(), text);
}

#[test]
fn a_note_signer_cannot_pass_for_a_witness() {
    // The same Ed25519 key as a log key (type 0x01) and as a cosigner (type 0x04) has two
    // key IDs, so neither implementation takes one signature for the other.
    let key = signing_key(2);
    let as_log = NoteSigner::new("witness.example.kz/w1", key.clone()).expect("valid");
    let as_witness = witness_cosigner();
    assert_eq!(
        as_log.verifier_key().public_key(),
        as_witness.verifier_key().public_key()
    );
    assert_ne!(
        as_log.verifier_key().key_id(),
        as_witness.verifier_key().key_id()
    );
    let (store, _) = build(3);
    let mut signed: SignedCheckpoint = signed_checkpoint(&store, 3);
    let mut note = signed.note().clone();
    as_log.sign(&mut note);
    signed = SignedCheckpoint::from_note(note).expect("checkpoint");
    let cosigned = signed
        .cosignatures(std::slice::from_ref(as_witness.verifier_key()))
        .expect("nothing by the witness key");
    assert!(cosigned.is_empty());
}
