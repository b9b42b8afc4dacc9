//! `cargo bench -p kelisim-receipt`: the log core on a 1,000,000-leaf tree held in memory
//! behind the storage trait. Proof generation and verification, appending batches, root
//! recomputation, a full rebuild, and an offline proof checked end to end.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use kelisim_receipt::log::{
    Appender, Checkpoint, Cosigner, Hash, MemoryHashes, NoteSigner, TlogProof, TrustedLog,
    consistency_proof, inclusion_proof, leaf_hash, tree_root, verify_consistency, verify_inclusion,
};

const SIZE: u64 = 1_000_000;

fn leaf(i: u64) -> Hash {
    leaf_hash(format!("receipt number {i}").as_bytes())
}

/// The tree of `SIZE` leaves, its leaf hashes, and a spread of indexes to query.
fn setup() -> (MemoryHashes, Vec<Hash>, Vec<u64>) {
    let leaves: Vec<Hash> = (0..SIZE).map(leaf).collect();
    let mut store = MemoryHashes::new();
    let batch = Appender::new().append(&leaves).expect("in range");
    store.write(batch.first_index, &batch.hashes);
    let mut x = 7u64;
    let indexes = (0..1024)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) % SIZE
        })
        .collect();
    (store, leaves, indexes)
}

fn bench(c: &mut Criterion) {
    let (store, leaves, indexes) = setup();
    let root = tree_root(&store, SIZE).expect("stored");
    let mut group = c.benchmark_group("log_1M");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let mut i = 0;
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            i = (i + 1) % indexes.len();
            inclusion_proof(&store, black_box(indexes[i]), SIZE).expect("in range")
        })
    });

    let proofs: Vec<Vec<Hash>> = indexes
        .iter()
        .map(|&index| inclusion_proof(&store, index, SIZE).expect("in range"))
        .collect();
    let mut i = 0;
    group.bench_function("verify_inclusion", |b| {
        b.iter(|| {
            i = (i + 1) % indexes.len();
            let index = indexes[i];
            verify_inclusion(&leaves[index as usize], index, SIZE, &proofs[i], &root)
                .expect("verifies")
        })
    });

    let mut i = 0;
    group.bench_function("consistency_proof", |b| {
        b.iter(|| {
            i = (i + 1) % indexes.len();
            consistency_proof(&store, black_box(indexes[i].max(1)), SIZE).expect("in range")
        })
    });

    let old = 999_000;
    let old_root = tree_root(&store, old).expect("stored");
    let proof = consistency_proof(&store, old, SIZE).expect("in range");
    group.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(old, SIZE, &old_root, &root, black_box(&proof)).expect("ok"))
    });

    group.bench_function("tree_root", |b| {
        b.iter(|| tree_root(&store, black_box(SIZE)).expect("stored"))
    });

    group.bench_function("appender_open", |b| {
        b.iter(|| Appender::open(&store, black_box(SIZE)).expect("stored"))
    });

    let appender = Appender::open(&store, SIZE).expect("stored");
    for batch in [1usize, 64, 1024] {
        let new: Vec<Hash> = (0..batch as u64).map(|i| leaf(SIZE + i)).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("append_batch_{batch}"), |b| {
            b.iter_batched(
                || appender.clone(),
                |mut a| a.append(black_box(&new)).expect("in range"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // Rebuilding the whole tree from its leaf hashes, as an audit does.
    let mut group = c.benchmark_group("log_1M_rebuild");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(SIZE));
    group.bench_function("append_all", |b| {
        b.iter(|| {
            Appender::new()
                .append(black_box(&leaves))
                .expect("in range")
                .root
        })
    });
    group.finish();

    // What a data subject's verifier does with one downloaded proof: parse it, check the
    // log's signature and a witness's cosignature, and the inclusion path.
    let log = NoteSigner::new("collector.example.kz/log", SigningKey::from_bytes(&[1; 32]))
        .expect("valid");
    let witness =
        Cosigner::new("witness.example.kz/w1", SigningKey::from_bytes(&[2; 32])).expect("valid");
    let checkpoint = Checkpoint::new("collector.example.kz/log", SIZE, root).expect("valid");
    let mut signed = checkpoint.sign(&log).expect("signs");
    signed.push_signature(witness.cosign(&checkpoint, 1_767_225_600).expect("cosigns"));
    let index = indexes[0];
    let bytes = TlogProof {
        extra: None,
        index,
        inclusion: proofs[0].clone(),
        checkpoint: signed,
    }
    .to_bytes();
    let trusted = TrustedLog {
        origin: "collector.example.kz/log".into(),
        keys: vec![log.verifier_key().clone()],
    };
    let witnesses = [witness.verifier_key().clone()];
    let mut group = c.benchmark_group("tlog_proof_1M");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            TlogProof::parse(black_box(&bytes))
                .expect("parses")
                .verify(&leaves[index as usize], &trusted, &witnesses)
                .expect("verifies")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
