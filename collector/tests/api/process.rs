//! Running the real binary: spawning `demo`/`serve` on a free loopback port and reading the
//! address it announces, stopping it (SIGTERM, SIGHUP, SIGKILL), one-shot commands, and a
//! small blocking HTTP client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::demo_dir;

pub const BIN: &str = env!("CARGO_BIN_EXE_kelisim-collector");

/// The binary with no KELISIM_* variables inherited from the caller's environment.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("KELISIM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

/// Runs a one-shot command. On a data directory whose harness runs on PostgreSQL, the
/// command is pointed at that database too (`KELISIM_STORE`), as an operator's would be.
pub fn run(args: &[&str]) -> Output {
    let mut cmd = command();
    let data_dir = args
        .windows(2)
        .find(|w| w[0] == "--data-dir")
        .map(|w| Path::new(w[1]));
    if let Some(dir) = data_dir
        && let kelisim_collector::store::Location::Postgres(url) =
            crate::support::store_of(&kelisim_collector::ops::datadir::DataDir::new(dir))
    {
        cmd.env("KELISIM_STORE", url);
    }
    cmd.args(args).output().expect("binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running collector, killed if the test fails before stopping it.
pub struct Running {
    child: Child,
    pub base: String,
    stderr: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` (e.g. "HUP") with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal}");
    }

    /// SIGKILL: the process dies at once, mid-request, as in a crash.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then wait (at most 20 s) for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "collector did not stop on SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn spawn_demo(data: &Path, site: &Path, log_dir: &Path) -> Running {
    let mut cmd = command();
    cmd.args(["demo", "--port", "0", "--data-dir"])
        .arg(data)
        .arg("--demo-dir")
        .arg(site)
        .arg("--widget-dir")
        .arg(log_dir.join("no-widget"));
    spawn(cmd, data, &log_dir.join("collector.log"))
}

/// `serve --config CONFIG --data-dir DATA` on 127.0.0.1:0; stderr goes to `log`.
pub fn spawn_serve(config: &Path, data: &Path, log: &Path) -> Running {
    spawn_serve_with(config, data, log, &[])
}

/// [`spawn_serve`] with more arguments (`--metrics-listen ADDR`, …).
///
/// When the suite runs on PostgreSQL (`KELISIM_TEST_STORE=postgres`), the collector of a
/// data directory gets a database of its own (the same one again after a restart).
pub fn spawn_serve_with(config: &Path, data: &Path, log: &Path, more: &[&str]) -> Running {
    let mut cmd = command();
    if crate::postgres::selected() {
        let dir = kelisim_collector::ops::datadir::DataDir::create(data).expect("data dir");
        if let kelisim_collector::store::Location::Postgres(url) =
            crate::support::store_on_postgres(&dir)
        {
            cmd.env("KELISIM_STORE", url);
        }
    }
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .arg("--widget-dir")
        .arg(data.join("no-widget"))
        .args(more);
    spawn(cmd, data, log)
}

/// A loopback port free right now (for a second listener whose address a test must know).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `cmd` and reads the two lines it announces itself with.
pub fn spawn(mut cmd: Command, data: &Path, log: &Path) -> Running {
    let stderr = log.to_owned();
    // Appending: a restarted collector keeps the earlier runs' log.
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&stderr)
        .expect("log file");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("collector starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().and_then(Result::ok).unwrap_or_default();
    let listening = next();
    let data_line = next();
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    let base = listening
        .strip_prefix("kelisim: listening on ")
        .unwrap_or_else(|| {
            panic!("first line announces the address, got {listening:?}; log:\n{log}")
        })
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );
    let canonical = std::fs::canonicalize(data).expect("data dir exists");
    assert_eq!(
        data_line,
        format!("kelisim: data in {}", canonical.display())
    );
    Running {
        child,
        base,
        stderr,
    }
}

/// A demo directory: the real demo config (with `extra` TOML appended) and policies, plus a
/// home page.
pub fn demo_site_with(root: &Path, extra: &str) -> PathBuf {
    let site = demo_site(root);
    let config = site.join("kelisim.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}\n{extra}")).expect("write config");
    site
}

/// A demo directory: the real demo config and policies, plus a home page.
pub fn demo_site(root: &Path) -> PathBuf {
    let site = root.join("site");
    std::fs::create_dir_all(site.join("policies")).expect("mkdir");
    std::fs::copy(demo_dir().join("kelisim.toml"), site.join("kelisim.toml")).expect("copy config");
    for entry in std::fs::read_dir(demo_dir().join("policies")).expect("policies") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), site.join("policies").join(entry.file_name()))
            .expect("copy policy");
    }
    std::fs::write(
        site.join("index.html"),
        "<!doctype html><title>Kelisim demo</title>",
    )
    .expect("index");
    site
}

pub fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().expect("GET");
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_string().expect("body"))
}

pub fn post(url: &str, content_type: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .post(url)
        .header("content-type", content_type)
        .send(body)
        .expect("POST");
    let status = res.status().as_u16();
    (status, res.body_mut().read_to_string().expect("body"))
}
