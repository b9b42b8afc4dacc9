//! `cargo xtask bench [--smoke]`: the collector's throughput benchmark.
//!
//! Builds the collector with its test hooks (feature `testing`; release, `--smoke` uses the
//! debug one `cargo xtask test` already made), starts `serve --bench-endpoints` on 127.0.0.1 with a fresh data directory and
//! `collector/bench/kelisim.toml`, and runs wrk (installed from Debian when missing) on the
//! same machine with `collector/bench/receipts.lua`: a warm-up, then signed, chained,
//! durably committed receipts for the measured duration, then the same requests against
//! the trivial `POST /_bench/echo` of the same server. It reports receipts/s, p50/p99 and
//! the ratio of the two, stops the server gracefully and runs `audit`, which must verify
//! every stored receipt and count the receipts wrk saw answered 201 — plus at most one per
//! connection and run: requests still in flight when wrk's clock runs out are committed
//! (and answered) by the server, but wrk no longer counts their answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::install::{self, run};
use crate::root;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds per measured run.
    pub duration: u32,
    /// Seconds of warm-up before the receipts run.
    pub warmup: u32,
    pub connections: u32,
    pub threads: u32,
    /// Debug build, short runs, no performance expectations: checks the pipeline works.
    pub smoke: bool,
    /// Build the collector first (`cargo xtask test` has just built it).
    pub build: bool,
    /// Benchmark this binary instead (e.g. the shipped one in target/package/).
    pub collector: Option<PathBuf>,
    /// Then the same receipts on PostgreSQL: one collector, and two sharing the database.
    pub postgres: bool,
}

impl Options {
    /// The shape `cargo xtask test` runs: ~3 s per run against the debug build.
    pub fn smoke() -> Options {
        Options {
            duration: 3,
            warmup: 1,
            connections: 64,
            threads: 2,
            smoke: true,
            build: true,
            collector: None,
            postgres: true,
        }
    }
}

/// One wrk run, as `receipts.lua` reports it.
#[derive(Debug, Clone, Default)]
struct Run {
    requests: u64,
    duration_us: u64,
    socket_errors: u64,
    created: u64,
    ok: u64,
    other: u64,
    p50_us: u64,
    p99_us: u64,
}

impl Run {
    fn parse(stdout: &str) -> Result<Run> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("KELISIM "))
            .context("wrk printed no KELISIM line; is collector/bench/receipts.lua intact?")?;
        let mut run = Run::default();
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=').context("key=value")?;
            let value: u64 = value
                .parse()
                .with_context(|| format!("wrk reported {pair}"))?;
            match key {
                "requests" => run.requests = value,
                "duration_us" => run.duration_us = value,
                "socket_errors" => run.socket_errors = value,
                "created" => run.created = value,
                "ok" => run.ok = value,
                "other" => run.other = value,
                "p50_us" => run.p50_us = value,
                "p99_us" => run.p99_us = value,
                _ => {}
            }
        }
        Ok(run)
    }

    /// Answers with the expected status per second.
    fn rate(&self, answered: u64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts and microseconds far below 2^52
        let rate = answered as f64 / (self.duration_us.max(1) as f64 / 1e6);
        rate
    }
}

/// The collector under test; killed if the benchmark fails before stopping it.
struct Server {
    child: Child,
    addr: String,
    /// Where `/metrics` answers (`--metrics-listen`).
    metrics: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// `store`: a PostgreSQL URL (`--store`); `None` for the data directory's SQLite file.
    fn start(
        bin: &Path,
        data: &Path,
        log: &Path,
        echo: bool,
        store: Option<&str>,
    ) -> Result<Server> {
        let config = root().join("collector/bench/kelisim.toml");
        // A port free now: the metrics address must be known to read it.
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .to_string();
        let mut child = Command::new(bin)
            .arg("serve")
            .args(echo.then_some("--bench-endpoints"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                &metrics,
                "--config",
            ])
            .arg(&config)
            .arg("--data-dir")
            .arg(data)
            .arg("--widget-dir")
            .arg(data.join("no-widget"))
            .args(store.map(|url| ["--store", url]).into_iter().flatten())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("collector stdout")?;
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first)?;
        let addr = first
            .trim()
            .strip_prefix("kelisim: listening on http://")
            .with_context(|| {
                format!(
                    "the collector did not start: {first:?}; see {}",
                    log.display()
                )
            })?
            .to_owned();
        let server = Server {
            child,
            addr,
            metrics,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http_get(&self.addr, "/readyz").is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "the collector was not ready within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM and wait for the graceful shutdown (queued receipts are committed).
    fn stop(mut self) -> Result<()> {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(
                    status.success(),
                    "the collector exited with {status} on SIGTERM"
                );
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "the collector did not stop within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A minimal HTTP/1.0 GET over loopback (xtask has no HTTP client dependency).
fn http_get(addr: &str, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("not an HTTP response")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The sum/count of a histogram in Prometheus text.
fn histogram_mean(metrics: &str, name: &str) -> Option<f64> {
    let value = |suffix: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_{suffix} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let count = value("count")?;
    (count > 0.0).then(|| value("sum").unwrap_or(0.0) / count)
}

fn wrk(opts: &Options, addr: &str, path: &str, run_id: u32, seconds: u32) -> Result<Run> {
    let script = root().join("collector/bench/receipts.lua");
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", opts.threads))
        .arg(format!("-c{}", opts.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(path)
        .arg(run_id.to_string());
    eprintln!(
        "xtask: wrk {}s, {} connections, {} threads → POST {path}",
        seconds, opts.connections, opts.threads
    );
    let out = cmd.output().context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "wrk failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    Run::parse(&stdout)
}

fn collector_binary(opts: &Options) -> Result<PathBuf> {
    if let Some(bin) = &opts.collector {
        ensure!(bin.exists(), "{} does not exist", bin.display());
        return Ok(bin.clone());
    }
    // `--bench-endpoints` exists only in a build with the test hooks (`testing`).
    if opts.build {
        return crate::soak::testing_collector(!opts.smoke);
    }
    let dir = if opts.smoke { "debug" } else { "release" };
    let bin = crate::target_dir()
        .join(dir)
        .join("kelisim-collector-testing");
    ensure!(bin.exists(), "{} is not built", bin.display());
    Ok(bin)
}

/// Runs the benchmark and prints its report.
pub fn bench(opts: &Options) -> Result<()> {
    install::apt(&[("wrk", "/usr/bin/wrk")])?;
    let bin = collector_binary(opts)?;
    let work = crate::target_dir().join("bench");
    let data = work.join(if opts.smoke { "data-smoke" } else { "data" });
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .with_context(|| format!("cannot clear {}", data.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let log = work.join("collector.log");
    // A binary given with --collector is a shipped one: no bench endpoint, no baseline.
    let with_echo = opts.collector.is_none();
    let server = Server::start(&bin, &data, &log, with_echo, None)?;
    let addr = server.addr.clone();

    let warmup = wrk(opts, &addr, "/v1/receipts", 1, opts.warmup)?;
    let receipts = wrk(opts, &addr, "/v1/receipts", 2, opts.duration)?;
    let echo = if with_echo {
        Some(wrk(opts, &addr, "/_bench/echo", 3, opts.duration)?)
    } else {
        None
    };
    let metrics = http_get(&server.metrics, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default();
    server.stop()?;

    for (name, r) in [("warm-up", &warmup), ("receipts", &receipts)] {
        ensure!(
            r.other == 0 && r.ok == 0,
            "{name}: {} answers were not 201 ({} were 200); see {}",
            r.other + r.ok,
            r.ok,
            log.display()
        );
        ensure!(r.created > 0, "{name}: no receipt was created");
    }
    if let Some(echo) = &echo {
        ensure!(echo.ok > 0 && echo.other == 0, "echo: {echo:?}");
    }

    // Every receipt answered 201 is in the log, and the whole log verifies.
    let answered = warmup.created + receipts.created;
    let stored = audited(&bin, &data, None, answered, opts.connections * 2)?;

    let receipts_rate = receipts.rate(receipts.created);
    let echo_rate = echo.as_ref().map(|e| e.rate(e.ok));
    let ms = |us: u64| {
        #[allow(clippy::cast_precision_loss)] // microseconds
        let ms = us as f64 / 1000.0;
        ms
    };
    let batch = histogram_mean(&metrics, "kelisim_writer_batch_size");
    let build = if opts.smoke {
        "debug (smoke)"
    } else {
        "release"
    };
    println!();
    println!(
        "collector benchmark: {build} build, wrk -t{} -c{} -d{}s on 127.0.0.1 (same machine), {} s warm-up",
        opts.threads, opts.connections, opts.duration, opts.warmup
    );
    println!();
    println!("| endpoint | requests/s | p50 ms | p99 ms | socket errors |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `POST /v1/receipts` (signed, chained, committed) | {receipts_rate:.0} | {:.2} | {:.2} | {} |",
        ms(receipts.p50_us),
        ms(receipts.p99_us),
        receipts.socket_errors
    );
    if let (Some(echo), Some(rate)) = (&echo, echo_rate) {
        println!(
            "| `POST /_bench/echo` (trivial, same server) | {rate:.0} | {:.2} | {:.2} | {} |",
            ms(echo.p50_us),
            ms(echo.p99_us),
            echo.socket_errors
        );
    }
    println!();
    let ratio = echo_rate.map_or_else(
        || "not measured (a shipped binary has no bench endpoint)".to_owned(),
        |rate| format!("{:.2}", receipts_rate / rate.max(1.0)),
    );
    println!(
        "receipts/echo ratio: {ratio}; mean writer batch: {}; audit: {stored} receipts verified \
         ({answered} answered 201 as wrk counted, {} more in flight when it stopped)",
        batch.map_or_else(|| "?".to_owned(), |b| format!("{b:.1}")),
        stored - answered,
    );
    if opts.postgres {
        postgres(opts, &bin, &work, receipts_rate)?;
    }
    Ok(())
}

/// Runs `audit` on the store of `data` (or `store`) and checks it counts the receipts wrk
/// saw answered, plus at most `in_flight` it could not count; the receipts stored.
fn audited(
    bin: &Path,
    data: &Path,
    store: Option<&str>,
    answered: u64,
    in_flight: u32,
) -> Result<u64> {
    let out = Command::new(bin)
        .args(["audit", "--data-dir"])
        .arg(data)
        .args(store.map(|url| ["--store", url]).into_iter().flatten())
        .output()
        .context("cannot run audit")?;
    let audit = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(out.status.success(), "audit failed:\n{audit}");
    let stored: u64 = audit
        .strip_prefix("audit ok: ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("unexpected audit output: {audit}"))?;
    if stored < answered || stored > answered + u64::from(in_flight) {
        bail!(
            "audit counted {stored} receipts but wrk saw {answered} answered 201 \
             (expected at most {in_flight} more, in flight when wrk stopped)"
        );
    }
    Ok(stored)
}

/// The receipts again on PostgreSQL, in the same sitting: a cluster on loopback (Debian's
/// server, `initdb` by `kelisim-testpg`), one collector, then a second sharing the
/// database and the first one's keys, each loaded by its own wrk with half the connections.
/// Everything shares the machine's cores: the server, the collectors and wrk.
fn postgres(opts: &Options, bin: &Path, work: &Path, sqlite_rate: f64) -> Result<()> {
    install::postgresql()?;
    let cluster = kelisim_testpg::Cluster::start();
    let url = cluster.create_database();
    let (data_a, data_b) = (work.join("pg-a"), work.join("pg-b"));
    for dir in [&data_a, &data_b] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    let a = Server::start(bin, &data_a, &work.join("pg-a.log"), false, Some(&url))?;
    let warmup = wrk(opts, &a.addr, "/v1/receipts", 11, opts.warmup)?;
    let one = wrk(opts, &a.addr, "/v1/receipts", 12, opts.duration)?;
    // The second collector: the first one's signing keys and subject secret.
    run(Command::new("cp").arg("-a").arg(&data_a).arg(&data_b))?;
    let b = Server::start(bin, &data_b, &work.join("pg-b.log"), false, Some(&url))?;
    let half = Options {
        connections: (opts.connections / 2).max(1),
        threads: (opts.threads / 2).max(1),
        ..opts.clone()
    };
    let (on_a, on_b) = std::thread::scope(|s| {
        let on_a = s.spawn(|| wrk(&half, &a.addr, "/v1/receipts", 13, opts.duration));
        let on_b = s.spawn(|| wrk(&half, &b.addr, "/v1/receipts", 14, opts.duration));
        (on_a.join(), on_b.join())
    });
    let (on_a, on_b) = (
        on_a.map_err(|_| anyhow::anyhow!("wrk thread panicked"))??,
        on_b.map_err(|_| anyhow::anyhow!("wrk thread panicked"))??,
    );
    a.stop()?;
    b.stop()?;
    for (name, r) in [
        ("warm-up", &warmup),
        ("one", &one),
        ("a", &on_a),
        ("b", &on_b),
    ] {
        ensure!(
            r.other == 0 && r.ok == 0 && r.created > 0,
            "PostgreSQL run {name}: {r:?}"
        );
    }
    let answered = warmup.created + one.created + on_a.created + on_b.created;
    let stored = audited(bin, &data_a, Some(&url), answered, opts.connections * 3)?;
    let ms = |us: u64| {
        #[allow(clippy::cast_precision_loss)] // microseconds
        let ms = us as f64 / 1000.0;
        ms
    };
    let one_rate = one.rate(one.created);
    let two_rate = on_a.rate(on_a.created) + on_b.rate(on_b.created);
    println!();
    println!("| store | receipts/s | p50 ms | p99 ms | ÷ SQLite |");
    println!("|---|---:|---:|---:|---:|");
    println!("| SQLite (above) | {sqlite_rate:.0} | | | 1.00 |");
    println!(
        "| PostgreSQL, one collector | {one_rate:.0} | {:.2} | {:.2} | {:.2} |",
        ms(one.p50_us),
        ms(one.p99_us),
        one_rate / sqlite_rate.max(1.0)
    );
    println!(
        "| PostgreSQL, two collectors (sum; the worse p50/p99) | {two_rate:.0} | {:.2} | {:.2} | {:.2} |",
        ms(on_a.p50_us.max(on_b.p50_us)),
        ms(on_a.p99_us.max(on_b.p99_us)),
        two_rate / sqlite_rate.max(1.0)
    );
    println!();
    println!(
        "PostgreSQL audit: {stored} receipts verified in one log written by two collectors \
         ({answered} answered 201 as wrk counted)"
    );
    drop(cluster);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_script_line() {
        let out = "Running 3s test\nKELISIM requests=100 duration_us=2000000 socket_errors=0 \
                   created=98 ok=2 other=0 p50_us=1500 p90_us=2000 p99_us=4000 max_us=9000\n";
        let run = Run::parse(out).expect("parses");
        assert_eq!(
            (run.requests, run.created, run.ok, run.p99_us),
            (100, 98, 2, 4000)
        );
        assert!((run.rate(run.created) - 49.0).abs() < 1e-9);
        assert!(Run::parse("no line").is_err());
    }

    #[test]
    fn histogram_means() {
        let text = "kelisim_writer_batch_size_sum 300\nkelisim_writer_batch_size_count 20\n";
        assert_eq!(
            histogram_mean(text, "kelisim_writer_batch_size"),
            Some(15.0)
        );
        assert_eq!(histogram_mean("", "kelisim_writer_batch_size"), None);
    }
}
