//! The admin benchmark's tools (hidden CLI commands): `bench-generate` fills an empty data
//! directory with realistic signed, chained receipts; `bench-admin` times the admin
//! queries on it (filtered pages, subject look-ups by a phone typed another way, a full
//! CSV export, the transparency log's inclusion proofs and their offline verification) and
//! reports p50/p95, rows per second and the process's peak RSS.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::admin::SiteInfo;
use crate::admin::analytics::{self, Period};
use crate::admin::export::{self, Format};
use crate::cli::{BenchAdminArgs, BenchGenerateArgs};
use crate::clock::format_timestamp;
use crate::config::Operator;
use crate::keys::Keyring;
use crate::ops::datadir::DataDir;
use crate::receipt::subject::{IdentifierKind, SubjectKey, commitment_hex, normalize_phone};
use crate::receipt::{
    Choice, Context as Ctx, Event, IndexEntry, Kind, Notice, PolicyRef, PreparedReceipt, Private,
    SignedIdentifier, Subject,
};
use crate::store::{self, ReceiptFilter};

/// Generated receipts span this many days, ending now.
const SPAN_DAYS: i64 = 730;

/// A small deterministic generator (xorshift64*), so runs are comparable; also the store's
/// tests' source of varied receipts. The seed must not be 0.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Subjects: about three receipts per phone number.
fn subjects(count: u64) -> u64 {
    count / 3 + 1
}

fn phone(subject: u64) -> String {
    format!("+7701{:07}", subject % 10_000_000)
}

const LANGS: [&str; 3] = ["ru", "kk", "en"];

/// `bench-generate`
pub fn generate(args: &BenchGenerateArgs) -> anyhow::Result<()> {
    let dir = DataDir::create(&args.data.data_dir).context("cannot create the data directory")?;
    let signer = Keyring::load_or_create(&dir.keys_dir())?.signer()?;
    let key = SubjectKey::load_or_create(&dir.subject_key_path())?;
    let (demo_keys, other_keys) = (key.site("demo"), key.site("other"));
    let keys = |site: &str| {
        if site == "demo" {
            &demo_keys
        } else {
            &other_keys
        }
    };
    let now = time::OffsetDateTime::now_utc();
    let start = now - time::Duration::days(SPAN_DAYS);
    let step_ns = (SPAN_DAYS * 86_400 * 1_000_000_000) / i64::try_from(args.count.max(1))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Recent form consents that may be withdrawn later: (id, index).
    let mut open: VecDeque<(String, u64)> = VecDeque::new();
    let mut withdrawable: HashMap<u64, PreparedReceipt> = HashMap::new();
    let started = Instant::now();
    let count = args.count;
    store::bulk_load(
        &args.data.location(),
        &signer,
        count,
        |i| {
            format_timestamp(
                start + time::Duration::nanoseconds(step_ns * i64::try_from(i).unwrap_or(0)),
            )
        },
        |i, stamp| {
            let site = if rng.below(10) == 0 { "other" } else { "demo" };
            let lang = LANGS[usize::try_from(rng.below(3)).unwrap_or(0)];
            let mut reference = [0u8; 16];
            reference[..8].copy_from_slice(&rng.next().to_le_bytes());
            reference[8..].copy_from_slice(&i.to_le_bytes());
            let reference = crate::hash::hex(&reference);
            let browser = format!("{:016x}{:016x}{:032x}", rng.next(), i, 0);
            let policy = if i < count / 2 { "2025-09" } else { "2026-03" };
            // Every 25th receipt withdraws a recent consent, as a browser would.
            if i % 25 == 24
                && let Some((id, index)) = open.pop_front()
                && let Some(original) = withdrawable.remove(&index)
            {
                return PreparedReceipt {
                    event: Event::Withdrawn,
                    reference,
                    withdraws: Some(id),
                    purposes: original.purposes.as_ref().map(|p| {
                        p.iter()
                            .map(|c| Choice {
                                id: c.id.clone(),
                                granted: false,
                            })
                            .collect()
                    }),
                    private: Private {
                        holder_sha256: None,
                        ..original.private.clone()
                    },
                    ..original
                };
            }
            let form = rng.below(10) < 7;
            // A phone and the receipt's commitment salt (deterministic, like everything here).
            let number = form.then(|| {
                let mut salt = [0u8; 32];
                salt[..8].copy_from_slice(&rng.next().to_le_bytes());
                salt[8..16].copy_from_slice(&i.to_le_bytes());
                (phone(rng.below(subjects(count))), salt)
            });
            let holder = crate::hash::sha256_hex(reference.as_bytes());
            let receipt = PreparedReceipt {
                site: site.into(),
                kind: if form { Kind::Form } else { Kind::Cookies },
                event: if form || rng.below(3) > 0 {
                    Event::Given
                } else {
                    Event::Refused
                },
                reference,
                withdraws: None,
                policy: PolicyRef {
                    version: policy.into(),
                    sha256: "ab".repeat(32),
                    url: format!("https://collector.example.kz/v1/sites/{site}/policies/{policy}"),
                },
                notice: Notice {
                    lang: lang.into(),
                    sha256: "cd".repeat(32),
                },
                purposes: form.then(|| {
                    vec![Choice {
                        id: "feedback".into(),
                        granted: true,
                    }]
                }),
                categories: (!form).then(|| {
                    vec![
                        Choice {
                            id: "necessary".into(),
                            granted: true,
                        },
                        Choice {
                            id: "analytics".into(),
                            granted: rng.below(2) == 0,
                        },
                    ]
                }),
                subject: Subject {
                    browser_id: None,
                    identifiers: number.as_ref().map_or_else(Vec::new, |(phone, salt)| {
                        vec![SignedIdentifier {
                            kind: IdentifierKind::Phone,
                            hmac: None,
                            commitment: Some(commitment_hex(salt, phone)),
                        }]
                    }),
                },
                context: Ctx {
                    page_url: format!("https://{site}.example.kz/{lang}/contact.html"),
                    form_id: form.then(|| {
                        if rng.below(2) == 0 {
                            "feedback"
                        } else {
                            "order"
                        }
                        .into()
                    }),
                    fields: if form {
                        vec!["name".into(), "phone".into(), "message".into()]
                    } else {
                        Vec::new()
                    },
                    gpc: false,
                },
                private: Private {
                    browser,
                    index: number.as_ref().map_or_else(Vec::new, |(phone, _)| {
                        vec![IndexEntry {
                            kind: IdentifierKind::Phone,
                            hmac: keys(site).index_hex(phone),
                        }]
                    }),
                    salt: number.as_ref().map(|(_, salt)| crate::hash::hex(salt)),
                    holder_sha256: Some(holder),
                },
                request_sha256: "00".repeat(32),
            };
            if form {
                open.push_back((stamp.id.clone(), i));
                withdrawable.insert(i, receipt.clone());
                if open.len() > 1000
                    && let Some((_, old)) = open.pop_front()
                {
                    withdrawable.remove(&old);
                }
            }
            receipt
        },
    )?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "kelisim: generated {count} receipts in {secs:.1} s ({:.0}/s) into {}",
        count as f64 / secs,
        args.data.location().shown()
    );
    Ok(())
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(idx).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Peak resident set size of this process, from /proc (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `bench-admin`
pub fn measure(args: &BenchAdminArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(&args.data.data_dir);
    // A store generated by an older collector is migrated first, as `serve` would.
    let migrating = Instant::now();
    store::upgrade_offline(&args.data.location())?;
    eprintln!(
        "kelisim: store at schema {} ({:.1} s to check or migrate)",
        store::SCHEMA_VERSION,
        migrating.elapsed().as_secs_f64()
    );
    // A store from before the transparency log gets its tree as `serve` would build it.
    let folding = Instant::now();
    let signer = Keyring::load(&dir.keys_dir())?.signer()?;
    let opened = store::open(&args.data.location(), signer.clone())?;
    opened.shutdown();
    drop(opened);
    let fold_secs = folding.elapsed().as_secs_f64();
    let reader = store::open_reader(&args.data.location())?;
    let key = SubjectKey::load(&dir.subject_key_path())?;
    let total = reader.count()?;
    let head = reader.head()?.map_or(0, |h| h.seq);
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let site = || Some("demo".to_owned());

    // Filtered pages: a random filter, the first page or one deep in the log.
    let mut first = Vec::new();
    // First pages by filter mix, to see which one makes the tail.
    let mut by_mix: [Vec<Duration>; 5] = Default::default();
    let mut deeper = Vec::new();
    for q in 0..args.queries {
        let mut f = ReceiptFilter {
            site: site(),
            ..ReceiptFilter::default()
        };
        match q % 5 {
            0 => {}
            1 => f.lang = Some(LANGS[usize::try_from(rng.below(3)).unwrap_or(0)].into()),
            2 => f.event = Some("withdrawn".into()),
            3 => {
                f.policy_version = Some("2026-03".into());
                f.form_id = Some("order".into());
            }
            _ => {
                let day = time::OffsetDateTime::now_utc()
                    - time::Duration::days(i64::try_from(rng.below(700)).unwrap_or(0) + 1);
                f.from = Some(format_timestamp(day - time::Duration::days(30)));
                f.to = Some(format_timestamp(day));
            }
        }
        let before = (q % 2 == 1)
            .then(|| i64::try_from(rng.below(u64::try_from(head).unwrap_or(1))).unwrap_or(0) + 1);
        let t = Instant::now();
        let rows = reader.admin_page(&f, before, 50)?;
        if before.is_none() {
            let _ = reader.admin_count(&f, crate::web::routes::admin::COUNT_CAP)?;
            first.push(t.elapsed());
            by_mix[(q % 5) as usize].push(t.elapsed());
        } else {
            deeper.push(t.elapsed());
        }
        std::hint::black_box(rows);
    }

    // Subject look-ups: a phone number typed the Kazakh way, normalised, hashed, found.
    let mut lookups = Vec::new();
    let mut found = 0usize;
    for _ in 0..args.queries {
        let s = rng.below(subjects(u64::try_from(total)?));
        let digits = format!("{:07}", s % 10_000_000);
        let typed = format!(
            "8 (701) {}-{}-{}",
            &digits[..3],
            &digits[3..5],
            &digits[5..]
        );
        let t = Instant::now();
        let normalised = normalize_phone(&typed)?;
        let readings = vec![
            key.site("demo").index_hex(&normalised),
            key.legacy_index_hex(&normalised),
        ];
        let f = ReceiptFilter {
            site: site(),
            subject_hmacs: Some(readings),
            ..ReceiptFilter::default()
        };
        let rows = reader.admin_page(&f, None, 50)?;
        let _ = reader.admin_count(&f, crate::web::routes::admin::COUNT_CAP)?;
        lookups.push(t.elapsed());
        found += rows.len();
    }

    let (proofs, verifies) = log_proofs(&reader, &signer, head, args.queries, &mut rng)?;
    // Consent analytics of a 90-day window (days or weeks, in the default time zone): the
    // store's grouped counts and their folding, as the API computes them.
    let zone = jiff::tz::db().get(crate::config::Site::DEFAULT_TIME_ZONE)?;
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    let mut analytics_times = Vec::new();
    let mut counted = 0u64;
    for q in 0..args.queries {
        let back = i32::try_from(rng.below(600)).unwrap_or(0);
        let to = today.saturating_sub(jiff::Span::new().days(back));
        let from = to.saturating_sub(jiff::Span::new().days(89));
        let bucket = if q % 2 == 0 { "day" } else { "week" };
        let t = Instant::now();
        let period = Period::parse(
            Some(&from.to_string()),
            Some(&to.to_string()),
            Some(bucket),
            today,
        )?;
        let groups = reader.analytics(&period.query("demo", &zone)?)?;
        let answer = analytics::fold("demo", &zone, &period, &[], &groups);
        analytics_times.push(t.elapsed());
        counted += groups.events.iter().map(|g| g.count).sum::<u64>();
        std::hint::black_box(answer);
    }
    let per_window = counted / u64::from(args.queries.max(1));

    // Export of the whole site as CSV, to nowhere.
    let sites: HashMap<String, SiteInfo> = [(
        "demo".to_owned(),
        SiteInfo {
            operator: Operator {
                name: "ТОО «Бенчмарк»".into(),
                bin: "000000000000".into(),
                address: None,
                contact: None,
                jurisdiction: Some("KZ".into()),
            },
            retention_days: 1095,
            categories: Vec::new(),
            data: Default::default(),
        },
    )]
    .into();
    let t = Instant::now();
    let mut sink = std::io::sink();
    let rows = export::write_export(
        &reader,
        &ReceiptFilter {
            site: site(),
            ..ReceiptFilter::default()
        },
        Format::Csv,
        &sites,
        &mut sink,
    )?;
    let export_secs = t.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "receipts": total,
        "page_first_with_count_ms": { "p50": percentile(&mut first, 0.5), "p95": percentile(&mut first, 0.95) },
        "page_first_p95_ms_by_filter": {
            "none": percentile(&mut by_mix[0], 0.95),
            "lang": percentile(&mut by_mix[1], 0.95),
            "event_withdrawn": percentile(&mut by_mix[2], 0.95),
            "policy_and_form": percentile(&mut by_mix[3], 0.95),
            "30_day_window": percentile(&mut by_mix[4], 0.95),
        },
        "page_deeper_ms": { "p50": percentile(&mut deeper, 0.5), "p95": percentile(&mut deeper, 0.95) },
        "subject_lookup_ms": { "p50": percentile(&mut lookups, 0.5), "p95": percentile(&mut lookups, 0.95), "receipts_found": found },
        "log_open_seconds": fold_secs,
        "inclusion_proof_ms": { "p50": percentile(&mut proofs.clone(), 0.5), "p95": percentile(&mut proofs.clone(), 0.95) },
        "verify_proof_ms": { "p50": percentile(&mut verifies.clone(), 0.5), "p95": percentile(&mut verifies.clone(), 0.95) },
        "analytics_90_days_ms": { "p50": percentile(&mut analytics_times, 0.5), "p95": percentile(&mut analytics_times, 0.95), "receipts_per_window": per_window },
        "export_csv": { "rows": rows, "seconds": export_secs, "rows_per_second": rows as f64 / export_secs },
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Inclusion proofs of random receipts against the latest checkpoint, as
/// `GET /v1/receipts/{id}/proof` reads them (receipt and proof in one read transaction), and
/// their offline verification (parse the tlog-proof, check the checkpoint's signature and the
/// inclusion path), each timed.
fn log_proofs(
    reader: &store::Reader,
    signer: &crate::keys::Signer,
    head: i64,
    queries: u32,
    rng: &mut Rng,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    use kelisim_receipt::log::{TlogProof, TrustedLog, receipt_leaf_hash};
    let latest = reader.checkpoint()?.context("the log has no checkpoint")?;
    let origin = latest.note.lines().next().unwrap_or_default().to_owned();
    let key = signer.note_signer(&origin)?;
    let trusted = TrustedLog {
        origin,
        keys: vec![key.verifier_key().clone()],
    };
    let (mut proofs, mut verifies) = (Vec::new(), Vec::new());
    for _ in 0..queries {
        let before = i64::try_from(rng.below(u64::try_from(head).unwrap_or(1))).unwrap_or(0) + 2;
        let filter = ReceiptFilter::default();
        let Some(row) = reader.admin_page(&filter, Some(before), 1)?.pop() else {
            continue;
        };
        let t = Instant::now();
        let (jws, inclusion) = reader
            .inclusion(&row.row.id)?
            .context("a stored receipt has a proof")?;
        let bytes = inclusion.to_tlog_proof(&jws)?.to_bytes();
        proofs.push(t.elapsed());
        let t = Instant::now();
        TlogProof::parse(&bytes)?.verify(&receipt_leaf_hash(&jws), &trusted, &[])?;
        verifies.push(t.elapsed());
    }
    Ok((proofs, verifies))
}
