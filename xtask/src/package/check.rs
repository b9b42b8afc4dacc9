//! The artefacts tried as an operator would: the `.deb` installed with dpkg on this machine,
//! its unit checked by systemd's own tools and its service run the way the unit runs it, a
//! receipt stored and verified, keys rotated and a site added with `ExecReload`, then
//! removed and purged; and the OCI image read back, and run with podman where this machine
//! can run containers.
//!
//! CI runs as root on a fresh Debian machine where systemd is not PID 1, so the service is
//! started by hand from the unit: its `User=`/`Group=`, `Environment=` (drop-ins included),
//! `UMask=`, `StateDirectory=` and `ExecStart=` line, under strace; the sandbox options that
//! only systemd can apply are rated by `systemd-analyze security` and the recorded system
//! calls are checked against the unit's filter (`seccomp`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use serde_json::{Value, json};

use super::deb::{CONFIG, DATA_DIR, PACKAGE, UNIT, UNIT_PATH, USER};
use super::oci;
use super::probe::{free_port, get, http_agent, output};
use super::seccomp;
use super::unit::Unit;

/// Left while the test has the package installed: a later run cleans up after an
/// interrupted one instead of refusing the machine.
const MARKER: &str = "/var/lib/kelisim-package-test";
const DROPIN_DIR: &str = "/etc/systemd/system/kelisim-collector.service.d";
/// The site origin the test configures, as an operator would their own (no traffic goes there).
const ORIGIN: &str = "https://shop.example.kz";
/// `systemd-analyze security` exposure the unit must stay at or under (0 best, 10 worst).
const MAX_EXPOSURE: f64 = 1.0;
/// The default PATH systemd gives system services.
const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Installs `deb`, runs its service as the unit says, removes and purges it. `widget` is the
/// `dist/` the binary was built with (what `/kelisim.js` must serve).
pub fn deb(deb: &Path, widget: &Path) -> Result<()> {
    let marker = Path::new(MARKER);
    if marker.exists() {
        eprintln!("xtask: cleaning up after an interrupted package test");
        cleanup()?;
    } else if installed()? || Path::new(DATA_DIR).exists() {
        bail!(
            "this machine has a Kelisim installation ({PACKAGE} installed or {DATA_DIR} \
             present); the package test installs and purges the package, so run it on a \
             machine without one"
        );
    }
    fs::write(marker, "kelisim package test in progress\n")?;
    let result = deb_steps(deb, widget);
    let cleaned = cleanup();
    result.and(cleaned)
}

fn deb_steps(deb: &Path, widget: &Path) -> Result<()> {
    let started = Instant::now();
    step("dpkg -i");
    let install = output(Command::new("dpkg").arg("-i").arg(deb))?;
    ensure!(
        install.contains("installed but not started"),
        "postinst gives the next steps: {install}"
    );
    let status =
        output(Command::new("dpkg-query").args(["-W", "-f=${Status}\n${Conffiles}\n", PACKAGE]))?;
    ensure!(status.starts_with("install ok installed"), "{status}");
    for conffile in [CONFIG, "/etc/kelisim/policies/consent-2026-01.ru.md"] {
        ensure!(
            status.contains(conffile),
            "{conffile} is a conffile: {status}"
        );
    }
    ensure!(
        output(Command::new("dpkg").args(["--verify", PACKAGE]))?.is_empty(),
        "installed files match the package's checksums"
    );
    let passwd = output(Command::new("getent").args(["passwd", USER]))?;
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let uid: u32 = fields.get(2).and_then(|u| u.parse().ok()).context("uid")?;
    ensure!(
        uid < 1000
            && fields.get(5) == Some(&DATA_DIR)
            && fields.get(6) == Some(&"/usr/sbin/nologin"),
        "kelisim is a system user without a login: {passwd}"
    );
    expect_owned(Path::new(DATA_DIR), 0o700, uid)?;

    step("systemd-analyze verify, security");
    let verify = Command::new("systemd-analyze")
        .args(["verify", UNIT_PATH])
        .output()?;
    let said = String::from_utf8_lossy(&verify.stderr).into_owned();
    ensure!(
        verify.status.success() && !said.contains(UNIT),
        "systemd-analyze verify {UNIT_PATH}: {said}"
    );
    let exposure = exposure()?;
    println!("xtask: systemd-analyze security: exposure {exposure:.1} (at most {MAX_EXPOSURE})");
    ensure!(
        exposure <= MAX_EXPOSURE,
        "the unit's exposure is {exposure}, over {MAX_EXPOSURE}"
    );

    step("the operator's edits: config and a drop-in for the port");
    let port = free_port()?;
    let metrics_port = free_port()?;
    edit_config(port)?;
    fs::create_dir_all(DROPIN_DIR)?;
    fs::write(
        Path::new(DROPIN_DIR).join("listen.conf"),
        format!(
            "[Service]\nEnvironment=KELISIM_LISTEN=127.0.0.1:{port}\n\
             Environment=KELISIM_METRICS_LISTEN=127.0.0.1:{metrics_port}\n"
        ),
    )?;
    step("dpkg -i again (an upgrade): the edited config is kept");
    output(Command::new("dpkg").arg("-i").arg(deb))?;
    ensure!(
        fs::read_to_string(CONFIG)?.contains(ORIGIN),
        "the upgrade kept the operator's {CONFIG}"
    );

    let unit = Unit::load(Path::new(UNIT_PATH), Path::new(DROPIN_DIR))?;
    check_unit_settings(&unit)?;
    let service = Service::start(&unit)?;
    let served = exercise(&service, &unit, (port, metrics_port), widget, uid);
    let stopped = service.stop(&unit);
    served?;
    let trace = stopped?;
    if let Some(trace) = trace {
        judge_trace(&unit, &trace)?;
    }
    run_as_service(&unit, &["audit", "--data-dir", DATA_DIR])?;

    step("dpkg -r keeps the config and the data");
    output(Command::new("dpkg").args(["-r", PACKAGE]))?;
    ensure!(
        !Path::new("/usr/bin/kelisim-collector").exists(),
        "binary removed"
    );
    ensure!(!Path::new(UNIT_PATH).exists(), "unit removed");
    ensure!(Path::new(CONFIG).exists(), "dpkg -r keeps the conffile");
    ensure!(
        Path::new(DATA_DIR).join("kelisim.db").exists()
            && Path::new(DATA_DIR).join("keys").exists(),
        "dpkg -r keeps the data"
    );
    step("dpkg -P removes the config, keeps the data and the user");
    let purge = output(Command::new("dpkg").args(["-P", PACKAGE]))?;
    ensure!(
        !Path::new("/etc/kelisim").exists(),
        "purge removes /etc/kelisim"
    );
    ensure!(
        Path::new(DATA_DIR).join("kelisim.db").exists(),
        "purge keeps the receipts"
    );
    ensure!(
        purge.contains("kept /var/lib/kelisim"),
        "purge says what it kept: {purge}"
    );
    ensure!(
        output(Command::new("getent").args(["passwd", USER])).is_ok(),
        "purge keeps the kelisim user (files may still belong to it)"
    );
    println!(
        "xtask: package test passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the issue asks of the unit, read back from the installed file.
fn check_unit_settings(unit: &Unit) -> Result<()> {
    let expect = |key: &str, value: &str| -> Result<()> {
        ensure!(
            unit.get(key) == Some(value),
            "{UNIT}: {key}={value} (found {:?})",
            unit.get(key)
        );
        Ok(())
    };
    expect("User", USER)?;
    expect("StateDirectory", "kelisim")?;
    expect("StateDirectoryMode", "0700")?;
    expect("ProtectSystem", "strict")?;
    expect("NoNewPrivileges", "yes")?;
    expect("PrivateTmp", "yes")?;
    expect("CapabilityBoundingSet", "")?;
    expect("ExecReload", "/bin/kill -HUP $MAINPID")?;
    ensure!(unit.get("LimitNOFILE").is_some(), "{UNIT}: LimitNOFILE=");
    ensure!(
        !unit.all("SystemCallFilter").is_empty(),
        "{UNIT}: SystemCallFilter="
    );
    Ok(())
}

/// `systemd-analyze security --offline` of the installed unit: the overall exposure.
fn exposure() -> Result<f64> {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager", UNIT_PATH])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .with_context(|| format!("systemd-analyze security printed no level: {text}"))?;
    line.rsplit(':')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no number in {line:?}"))
}

/// The edits docs/deploy.md asks of an operator, on the installed config.
fn edit_config(port: u16) -> Result<()> {
    let text = fs::read_to_string(CONFIG)?;
    let edits = [
        (
            "public_url = \"https://consent.example.kz\"",
            format!("public_url = \"http://127.0.0.1:{port}\""),
        ),
        (
            "allowed_origins = [\"https://example.kz\", \"https://www.example.kz\"]",
            format!("allowed_origins = [\"{ORIGIN}\"]"),
        ),
    ];
    let mut edited = text;
    for (from, to) in edits {
        ensure!(
            edited.contains(from),
            "deploy/kelisim.toml no longer has `{from}`; update the package test"
        );
        edited = edited.replace(from, &to);
    }
    fs::write(CONFIG, edited)?;
    Ok(())
}

/// The service as the unit runs it, recorded by strace when this machine allows tracing.
struct Service {
    child: Child,
    /// The collector's pid (`$MAINPID`).
    pid: u32,
    trace: Option<PathBuf>,
    _trace_dir: tempfile::TempDir,
    stderr_log: PathBuf,
}

impl Service {
    fn start(unit: &Unit) -> Result<Service> {
        step("start the service the unit's way");
        let user = unit.get("User").context("User=")?;
        let group = unit.get("Group").unwrap_or(user);
        let state =
            Path::new("/var/lib").join(unit.get("StateDirectory").context("StateDirectory=")?);
        let state_mode = u32::from_str_radix(unit.get("StateDirectoryMode").unwrap_or("0755"), 8)?;
        // What systemd does for StateDirectory=: create it, owned by the user, with the mode.
        if !state.exists() {
            fs::create_dir_all(&state)?;
            output(
                Command::new("chown")
                    .arg(format!("{user}:{group}"))
                    .arg(&state),
            )?;
        }
        fs::set_permissions(&state, fs::Permissions::from_mode(state_mode))?;

        let mut env = unit.environment()?;
        let home = DATA_DIR.to_owned();
        for (name, value) in [
            ("PATH", SERVICE_PATH.to_owned()),
            ("USER", user.to_owned()),
            ("LOGNAME", user.to_owned()),
            ("HOME", home),
            ("SHELL", "/usr/sbin/nologin".to_owned()),
            ("STATE_DIRECTORY", state.display().to_string()),
        ] {
            env.entry(name.to_owned()).or_insert(value);
        }
        let argv = unit.command("ExecStart", &env)?;
        let umask = unit.get("UMask").unwrap_or("0022").to_owned();

        let trace_dir = tempfile::tempdir()?;
        output(Command::new("chown").arg(user).arg(trace_dir.path()))?;
        let trace = trace_dir.path().join("strace.log");
        let traced = strace_works();
        if !traced {
            println!(
                "xtask: strace cannot trace here (ptrace refused); the unit's system call \
                 filter is not checked against the running service"
            );
        }
        let stderr_log = trace_dir.path().join("stderr.log");
        let mut cmd = as_user(user, group);
        cmd.arg("env").arg("-i");
        for (name, value) in &env {
            cmd.arg(format!("{name}={value}"));
        }
        cmd.args(["sh", "-c", "umask \"$0\" && exec \"$@\"", &umask]);
        if traced {
            cmd.args(["strace", "-f", "-qq", "-o"]).arg(&trace);
        }
        cmd.args(&argv)
            .current_dir("/")
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_log)?);
        let mut child = cmd.spawn().context("starting the service")?;
        let stdout = child.stdout.take().context("service stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut listening = None;
        while listening.is_none() && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line.starts_with("kelisim: listening on ") => listening = Some(line),
                Ok(_) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = child.try_wait()? {
                        bail!(
                            "the service exited ({status}) before it listened: {}",
                            fs::read_to_string(&stderr_log).unwrap_or_default()
                        );
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let Some(line) = listening else {
            let _ = child.kill();
            bail!(
                "the service did not listen within 30 s: {}",
                fs::read_to_string(&stderr_log).unwrap_or_default()
            );
        };
        println!("xtask: service: {line}");
        let pid = if traced {
            // strace's child is the collector: the first pid in the log.
            let log = fs::read_to_string(&trace)?;
            log.split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .context("the collector's pid in the strace log")?
        } else {
            child.id()
        };
        Ok(Service {
            child,
            pid,
            trace: traced.then_some(trace),
            _trace_dir: trace_dir,
            stderr_log,
        })
    }

    /// SIGTERM, as `systemctl stop` sends; the collector must exit 0 within TimeoutStopSec.
    /// Returns the strace log, if one was recorded.
    fn stop(mut self, unit: &Unit) -> Result<Option<String>> {
        step("systemctl stop: SIGTERM");
        let timeout = unit
            .get("TimeoutStopSec")
            .and_then(|t| t.trim_end_matches('s').parse().ok())
            .unwrap_or(90);
        output(Command::new("kill").args(["-TERM", &self.pid.to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("the service did not stop within {timeout} s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let log = fs::read_to_string(&self.stderr_log).unwrap_or_default();
        ensure!(status.success(), "the service exited with {status}: {log}");
        ensure!(log.contains("stopped"), "a graceful stop is logged: {log}");
        match &self.trace {
            Some(trace) => Ok(Some(fs::read_to_string(trace)?)),
            None => Ok(None),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// With the service running (as `uid`): the widget, a receipt, a key rotation through
/// `ExecReload`.
fn exercise(
    service: &Service,
    unit: &Unit,
    (port, metrics_port): (u16, u16),
    widget: &Path,
    uid: u32,
) -> Result<()> {
    let base = format!("http://127.0.0.1:{port}");
    let http = http_agent();

    step("first start made the keys and secrets, private to the service user");
    let data = Path::new(DATA_DIR);
    expect_owned(data, 0o700, uid)?;
    expect_owned(&data.join("keys"), 0o700, uid)?;
    expect_owned(&data.join("subject.key"), 0o600, uid)?;
    expect_owned(&data.join("kelisim.db"), 0o600, uid)?;
    let keys: Vec<PathBuf> = super::files::files_below(&data.join("keys"))?;
    ensure!(
        keys.len() == 1,
        "one signing key after the first start: {keys:?}"
    );
    for key in &keys {
        expect_owned(key, 0o600, uid)?;
    }

    step("the widget built into the binary is served");
    let (status, loader) = get(&http, &format!("{base}/kelisim.js"))?;
    ensure!(status == 200, "GET /kelisim.js: {status}");
    ensure!(
        loader == fs::read(widget.join("kelisim.js"))?,
        "/kelisim.js is the built widget's loader"
    );

    step("a receipt stored and verified");
    let first = post_receipt(&http, &base)?;
    let jws = first["jws"].as_str().context("jws")?;
    let verify = Command::new("/usr/bin/kelisim-collector")
        .args([
            "verify",
            jws,
            "--jwks",
            &format!("{base}/.well-known/jwks.json"),
        ])
        .output()?;
    ensure!(
        verify.status.success(),
        "kelisim-collector verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let first_kid = kid(jws)?;

    step("/metrics only on the metrics address the unit's environment names");
    let (status, metrics) = get(&http, &format!("http://127.0.0.1:{metrics_port}/metrics"))?;
    ensure!(
        status == 200 && String::from_utf8_lossy(&metrics).contains("kelisim_receipts_total"),
        "GET /metrics on the metrics address: {status}"
    );
    let (status, _) = get(&http, &format!("{base}/metrics"))?;
    ensure!(
        status == 404,
        "GET /metrics on the public address: {status}"
    );

    step("keys rotate, a site added to the config + systemctl reload (ExecReload: SIGHUP)");
    let added = add_site_to_config()?;
    let check = Command::new("/usr/bin/kelisim-collector")
        .args(["config", "check", CONFIG])
        .output()?;
    ensure!(
        check.status.success() && String::from_utf8_lossy(&check.stdout).contains(&added),
        "kelisim-collector config check {CONFIG}: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let (status, _) = get(&http, &format!("{base}/v1/sites/{added}/config"))?;
    ensure!(
        status == 404,
        "{added} is not served before the reload: {status}"
    );
    let rotated = run_as_service(unit, &["keys", "rotate", "--data-dir", DATA_DIR])?;
    let new_kid = rotated
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .with_context(|| format!("the new kid in {rotated:?}"))?
        .to_owned();
    ensure!(new_kid != first_kid, "rotation made a new key");
    let mut env = unit.environment()?;
    env.insert("MAINPID".into(), service.pid.to_string());
    let reload = unit.command("ExecReload", &env)?;
    let user = unit.get("User").context("User=")?;
    output(as_user(user, unit.get("Group").unwrap_or(user)).args(&reload))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let second = post_receipt(&http, &base)?;
        let kid = kid(second["jws"].as_str().context("jws")?)?;
        if kid == new_kid {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "10 s after the reload receipts are still signed by {kid}, not {new_kid}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, jwks) = get(&http, &format!("{base}/.well-known/jwks.json"))?;
    let jwks: Value = serde_json::from_slice(&jwks)?;
    ensure!(
        jwks["keys"].as_array().map(Vec::len) == Some(2),
        "both keys are published: {jwks}"
    );
    // The same SIGHUP re-read the config (before the keys): the new site is served.
    let (status, body) = get(&http, &format!("{base}/v1/sites/{added}/config"))?;
    ensure!(
        status == 200,
        "GET /v1/sites/{added}/config after the reload: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// Appends a copy of the installed config's site under another id, as an operator adding a
/// second site would; returns its id.
fn add_site_to_config() -> Result<String> {
    const ID: &str = "shop-reloaded";
    let text = fs::read_to_string(CONFIG)?;
    let at = text
        .find("[[site]]")
        .context("deploy/kelisim.toml has a [[site]]; update the package test")?;
    let copy = text[at..].replacen("id = \"shop\"", &format!("id = \"{ID}\""), 1);
    ensure!(copy.contains(ID), "the installed site's id is `shop`");
    fs::write(CONFIG, format!("{text}\n{copy}"))?;
    Ok(ID.to_owned())
}

fn post_receipt(http: &ureq::Agent, base: &str) -> Result<Value> {
    let mut key = [0u8; 16];
    getrandom(&mut key)?;
    let body = json!({
        "site": "shop",
        "kind": "form",
        "event": "given",
        "key": hex(&key),
        "policy_version": "2026-01",
        "lang": "kk",
        "purposes": [{ "id": "requests", "granted": true }],
        "subject": { "browser_id": hex(&[7u8; 16]) },
        "context": {
            "page_url": format!("{ORIGIN}/contact"),
            "form_id": "contact",
            "fields": ["name", "phone"],
            "gpc": false
        }
    });
    let mut answer = http
        .post(format!("{base}/v1/receipts"))
        .header("Origin", ORIGIN)
        .header("Content-Type", "application/json")
        .send(body.to_string())?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string()?;
    ensure!(status == 201, "POST /v1/receipts: {status} {text}");
    Ok(serde_json::from_str(&text)?)
}

/// The `kid` in a compact JWS's protected header.
fn kid(jws: &str) -> Result<String> {
    let header = jws.split('.').next().context("JWS header")?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header)?;
    let header: Value = serde_json::from_slice(&header)?;
    header["kid"]
        .as_str()
        .map(str::to_owned)
        .context("kid in the JWS header")
}

fn judge_trace(unit: &Unit, trace: &str) -> Result<()> {
    step("the service's system calls against the unit's sandbox");
    let groups = seccomp::syscall_groups()?;
    let allowed = seccomp::allowed(&unit.all("SystemCallFilter"), &groups)?;
    let families: Vec<&str> = unit
        .get("RestrictAddressFamilies")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let verdict = seccomp::judge(trace, &allowed, &families);
    let total: usize = verdict.calls.values().sum();
    println!(
        "xtask: {} distinct system calls ({total} calls) while serving, signing, reloading and \
         stopping; filter allows {}; socket families {:?}; no writable+executable memory: {}",
        verdict.calls.len(),
        allowed.len(),
        verdict.used_families,
        verdict.wx.is_empty()
    );
    ensure!(
        verdict.is_clean(),
        "under the unit's sandbox these would fail: calls {:?}, socket families {:?}, \
         writable+executable memory {:?}",
        verdict.refused,
        verdict.families,
        verdict.wx
    );
    Ok(())
}

/// Runs `kelisim-collector ARGS` as the service's user with its environment (what an operator
/// does with `sudo -u kelisim`); returns stdout.
fn run_as_service(unit: &Unit, args: &[&str]) -> Result<String> {
    let user = unit.get("User").context("User=")?;
    let mut cmd = as_user(user, unit.get("Group").unwrap_or(user));
    cmd.arg("env").arg("-i");
    for (name, value) in unit.environment()? {
        cmd.arg(format!("{name}={value}"));
    }
    cmd.arg("/usr/bin/kelisim-collector").args(args);
    output(&mut cmd)
}

/// `setpriv` to `user`:`group` with no capabilities and no new privileges (util-linux, on
/// every Debian machine).
fn as_user(user: &str, group: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={user}"))
        .arg(format!("--regid={group}"))
        .args([
            "--init-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]);
    cmd
}

fn strace_works() -> bool {
    Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn installed() -> Result<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()?;
    Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("installed"))
}

/// Removes what the test installed or left: the package, the data, the user, the drop-in.
fn cleanup() -> Result<()> {
    if installed()? || Path::new("/var/lib/dpkg/info/kelisim-collector.list").exists() {
        output(Command::new("dpkg").args(["-P", PACKAGE]))?;
    }
    let _ = fs::remove_dir_all(DROPIN_DIR);
    let _ = fs::remove_dir_all(DATA_DIR);
    let _ = fs::remove_dir_all("/etc/kelisim");
    if Command::new("getent")
        .args(["passwd", USER])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        output(Command::new("userdel").arg(USER))?;
    }
    let _ = Command::new("groupdel")
        .arg(USER)
        .stderr(Stdio::null())
        .status();
    let _ = fs::remove_file(MARKER);
    Ok(())
}

fn expect_owned(path: &Path, mode: u32, uid: u32) -> Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("{} exists", path.display()))?;
    let actual = meta.permissions().mode() & 0o7777;
    ensure!(
        actual == mode && meta.uid() == uid,
        "{}: mode {actual:o} owner {}, expected {mode:o} owner {uid}",
        path.display(),
        meta.uid()
    );
    Ok(())
}

/// The OCI image read back: the layout's digests, the config, the layer's files; then run with
/// podman when this machine can run containers. `binary` is what the image must contain;
/// `static_binary`: whether it must be statically linked (the release build is).
pub fn image(image: &oci::Image, binary: &Path, static_binary: bool) -> Result<()> {
    step("the OCI image's layout, config and layer");
    let layout = &image.layout;
    let read_blob = |digest: &str, size: u64| -> Result<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:").context("sha256 digest")?;
        let bytes = fs::read(layout.join("blobs/sha256").join(hex))?;
        ensure!(
            super::files::sha256(&bytes) == hex,
            "blob {digest} matches its digest"
        );
        ensure!(bytes.len() as u64 == size, "blob {digest} has size {size}");
        Ok(bytes)
    };
    let json_of = |bytes: &[u8]| -> Result<Value> { Ok(serde_json::from_slice(bytes)?) };
    ensure!(
        json_of(&fs::read(layout.join("oci-layout"))?)?["imageLayoutVersion"] == "1.0.0",
        "oci-layout"
    );
    let index = json_of(&fs::read(layout.join("index.json"))?)?;
    let entry = &index["manifests"][0];
    let size_of = |v: &Value| v["size"].as_u64().context("size");
    let digest_of = |v: &Value| v["digest"].as_str().map(str::to_owned).context("digest");
    let manifest = json_of(&read_blob(&digest_of(entry)?, size_of(entry)?)?)?;
    let config = json_of(&read_blob(
        &digest_of(&manifest["config"])?,
        size_of(&manifest["config"])?,
    )?)?;
    let layers = manifest["layers"].as_array().context("layers")?;
    ensure!(layers.len() == 1, "one layer: {layers:?}");
    ensure!(
        layers[0]["mediaType"] == oci::LAYER_MEDIA_TYPE,
        "gzip layer"
    );
    let layer_gz = read_blob(&digest_of(&layers[0])?, size_of(&layers[0])?)?;
    let mut layer = Vec::new();
    flate2::read::GzDecoder::new(&layer_gz[..]).read_to_end(&mut layer)?;
    ensure!(
        config["rootfs"]["diff_ids"][0] == format!("sha256:{}", super::files::sha256(&layer)),
        "diff_id is the uncompressed layer's digest"
    );
    let c = &config["config"];
    ensure!(
        config["os"] == "linux" && config["architecture"] == "amd64",
        "linux/amd64"
    );
    let user = c["User"].as_str().context("User")?;
    ensure!(
        user == format!("{}:{}", oci::UID, oci::UID) && !user.starts_with("0"),
        "runs as non-root: {user}"
    );
    ensure!(c["Entrypoint"] == json!([oci::BINARY]) && c["Cmd"] == json!(["serve"]));
    ensure!(
        c["Volumes"].get(oci::DATA_DIR).is_some(),
        "data in a volume: {c}"
    );
    ensure!(
        c["ExposedPorts"]
            .get(format!("{}/tcp", oci::PORT))
            .is_some(),
        "exposed port: {c}"
    );
    let env: Vec<&str> = c["Env"]
        .as_array()
        .context("Env")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        env.contains(&format!("KELISIM_DATA_DIR={}", oci::DATA_DIR).as_str()),
        "{env:?}"
    );

    let mut entries = BTreeMap::new();
    let mut archive = tar::Archive::new(&layer[..]);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let header = entry.header();
        let meta = (header.mode()?, header.uid()?, header.entry_type());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        entries.insert(path, (meta, bytes));
    }
    let binary_entry = entries
        .get("usr/bin/kelisim-collector")
        .context("/usr/bin/kelisim-collector in the layer")?;
    ensure!(binary_entry.0.0 == 0o755, "the binary is executable");
    ensure!(
        binary_entry.1 == fs::read(binary)?,
        "the layer holds the binary that was built"
    );
    let interpreter = elf_interpreter(&binary_entry.1)?;
    if static_binary {
        ensure!(
            interpreter.is_none(),
            "the image's binary is static (it asks for {interpreter:?})"
        );
        println!("xtask: the image's binary is static (no ELF interpreter)");
    }
    let data = entries
        .get("var/lib/kelisim/")
        .context("/var/lib/kelisim in the layer")?;
    ensure!(
        data.0.0 == 0o700 && data.0.1 == oci::UID,
        "/var/lib/kelisim belongs to the image's user: {:?}",
        data.0
    );
    let tmp = entries.get("tmp/").context("/tmp in the layer")?;
    ensure!(tmp.0.0 == 0o1777, "/tmp is sticky and world-writable");
    ensure!(
        entries.contains_key("etc/kelisim/kelisim.toml"),
        "default config"
    );
    println!(
        "xtask: OCI image: {} entries, layer {} bytes gzip; user {user}, volume {}, port {}",
        entries.len(),
        layer_gz.len(),
        oci::DATA_DIR,
        oci::PORT
    );
    super::podman::run(image)
}

/// The ELF program interpreter a binary asks for (`PT_INTERP`), `None` for a static one.
fn elf_interpreter(elf: &[u8]) -> Result<Option<String>> {
    ensure!(
        elf.starts_with(b"\x7fELF") && elf.get(4) == Some(&2),
        "a 64-bit ELF file"
    );
    let u16_at = |at: usize| -> Result<u16> {
        Ok(u16::from_le_bytes(
            elf.get(at..at + 2).context("ELF header")?.try_into()?,
        ))
    };
    let u64_at = |at: usize| -> Result<u64> {
        Ok(u64::from_le_bytes(
            elf.get(at..at + 8).context("ELF header")?.try_into()?,
        ))
    };
    let phoff = usize::try_from(u64_at(0x20)?)?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let kind = u32::from_le_bytes(elf.get(ph..ph + 4).context("program header")?.try_into()?);
        if kind == 3 {
            let offset = usize::try_from(u64_at(ph + 8)?)?;
            let size = usize::try_from(u64_at(ph + 32)?)?;
            let bytes = elf.get(offset..offset + size).context("PT_INTERP")?;
            return Ok(Some(
                String::from_utf8_lossy(bytes)
                    .trim_end_matches('\0')
                    .to_owned(),
            ));
        }
    }
    Ok(None)
}

fn step(what: &str) {
    println!("xtask: package test: {what}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    let mut f = fs::File::open("/dev/urandom")?;
    f.read_exact(buf)?;
    Ok(())
}
