//! `cargo xtask contract`: the HTTP API tested against its own OpenAPI document with
//! schemathesis (PyPI, pinned, in `.tools/py`): no 5xx, every status, content type, header and
//! body as documented. It runs the demo collector (every route, `/feedback` included) on
//! loopback with the per-address rate limit lifted, then checks the log it left with `audit`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::install::{self, run};
use crate::root;

/// Examples per operation and phase: bounded so the run takes well under a minute.
pub const MAX_EXAMPLES: u32 = 25;
/// Fixed, so a failure reproduces with the same command.
const SEED: &str = "20261121";
/// What "matches the contract" means; schemathesis's other checks probe behaviour the
/// OpenAPI document does not promise (e.g. that any schema-valid body is accepted).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Path parameters schemathesis cannot guess (without them every site route is a 404), and
/// the admin token, from the environment so it is never echoed or logged.
const SCHEMATHESIS_TOML: &str = r#"# Written by `cargo xtask contract`.
headers = { Authorization = "Bearer ${KELISIM_CONTRACT_TOKEN}" }

[parameters]
"path.site" = "demo"
"path.version" = "2026-03"
"#;

/// The collector under test; killed if the run fails before stopping it.
struct Collector {
    child: Child,
    base: String,
}

impl Drop for Collector {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the contract test with `bin` (the debug build in `cargo xtask test`).
pub fn contract(bin: &Path, max_examples: u32) -> Result<()> {
    let st = install::schemathesis()?;
    let work = crate::target_dir().join("contract");
    let _ = std::fs::remove_dir_all(&work);
    let site = work.join("demo");
    copy_dir(&root().join("demo"), &site)?;
    let config = site.join("kelisim.toml");
    let mut text = std::fs::read_to_string(&config)?;
    // Every request comes from 127.0.0.1; the rate limit has its own test.
    text.push_str(
        "\n[rate_limit]\nper_second = 1000000\nburst = 1000000\n\
         admin_per_second = 1000000\nadmin_burst = 1000000\n",
    );
    std::fs::write(&config, text)?;
    std::fs::write(work.join("schemathesis.toml"), SCHEMATHESIS_TOML)?;
    let data = work.join("data");
    let collector = start(bin, &site, &data, &work.join("collector.log"))?;
    let token = admin_token(bin, &data)?;
    let started = Instant::now();
    let result = run(Command::new(&st)
        .current_dir(&work)
        .args(["--config-file", "schemathesis.toml", "run"])
        .arg(format!("{}/openapi.json", collector.base))
        .args(["--checks", CHECKS, "--seed", SEED])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        // The admin routes too: with an admin-scope token for the demo site.
        .env("KELISIM_CONTRACT_TOKEN", &token)
        .arg(format!("--max-examples={max_examples}"))
        .args(["--request-timeout", "10", "--no-color"])
        .arg(format!(
            "--report-junit-path={}",
            work.join("junit.xml").display()
        )));
    stop(collector)?;
    result.with_context(|| {
        format!(
            "the API does not match its OpenAPI document; collector log: {}",
            work.join("collector.log").display()
        )
    })?;
    // Whatever schemathesis managed to store is a valid, intact log.
    run(Command::new(bin).arg("audit").arg("--data-dir").arg(&data))?;
    eprintln!(
        "xtask: contract test passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// An admin-scope token for the demo site, created in the running collector's `data`.
fn admin_token(bin: &Path, data: &Path) -> Result<String> {
    let out = Command::new(bin)
        .args([
            "tokens", "create", "--site", "demo", "--scope", "admin", "--config",
        ])
        .arg(root().join("demo/kelisim.toml"))
        .arg("--data-dir")
        .arg(data)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    ensure!(
        out.status.success(),
        "tokens create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    ensure!(token.starts_with("kls_"), "tokens create printed no token");
    Ok(token)
}

fn start(bin: &Path, site: &Path, data: &Path, log: &Path) -> Result<Collector> {
    let mut child = Command::new(bin)
        .args(["demo", "--port", "0", "--data-dir"])
        .arg(data)
        .arg("--demo-dir")
        .arg(site)
        .arg("--widget-dir")
        .arg(crate::dist_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stdout = child.stdout.take().context("collector stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let base = first
        .trim()
        .strip_prefix("kelisim: listening on ")
        .with_context(|| format!("the collector did not start; see {}", log.display()))?
        .to_owned();
    Ok(Collector { child, base })
}

/// SIGTERM, then wait (bounded) for a clean exit.
fn stop(mut collector: Collector) -> Result<()> {
    run(Command::new("kill").args(["-TERM", &collector.child.id().to_string()]))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = collector.child.try_wait()? {
            ensure!(status.success(), "the collector exited with {status}");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the collector did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copies a directory tree (the demo site: a few dozen small files).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    let mut stack: Vec<(PathBuf, PathBuf)> = vec![(from.to_owned(), to.to_owned())];
    while let Some((src, dst)) = stack.pop() {
        std::fs::create_dir_all(&dst)?;
        for entry in std::fs::read_dir(&src)? {
            let entry = entry?;
            let target = dst.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), target));
            } else {
                std::fs::copy(entry.path(), &target)
                    .with_context(|| format!("copying {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}
