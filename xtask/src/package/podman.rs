//! The OCI image run with Debian's podman, on loopback, where this machine can run containers:
//! loaded from the archive as an operator would, started as its own non-root user with a named
//! volume, asked for the widget and a receipt, audited inside, stopped with SIGTERM.
//!
//! Containers here run with runc (crun refuses the hybrid cgroup layout of some container
//! hosts), the host's network (no bridge or firewall rules to set up; the collector listens
//! on a loopback port) and explicit open-file and process limits (podman's defaults can be
//! higher than a container host lets a container set). A machine that cannot
//! create containers at all is reported, and the image is then judged by its contents alone.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::json;

use super::oci::{self, Image};
use super::probe::{free_port, get, http_agent, output};

pub fn run(image: &Image) -> Result<()> {
    if Command::new("podman").arg("--version").output().is_err() {
        println!("xtask: podman is not installed: the OCI image was checked by its contents only");
        return Ok(());
    }
    let loaded = output(podman().arg("load").arg("--input").arg(&image.archive))?;
    let id = loaded
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("Loaded image: ")
                .or_else(|| l.strip_prefix("Loaded image(s): "))
        })
        .map(|s| s.trim().to_owned())
        .with_context(|| format!("podman load named no image: {loaded}"))?;
    let result = run_loaded(&id);
    let _ = podman().args(["rmi", "--force", &id]).output();
    result
}

fn run_loaded(id: &str) -> Result<()> {
    // Can this machine create containers at all? The image's own `--version` tells.
    let probe = podman()
        .args(["run", "--rm", "--network", "none"])
        .args(limits()?)
        .args([id, "--version"])
        .output()?;
    let said = String::from_utf8_lossy(&probe.stderr).into_owned();
    if !probe.status.success() {
        let machine = [
            "OCI runtime",
            "OCI permission denied",
            "cgroup",
            "rlimit",
            "namespace",
        ]
        .iter()
        .any(|m| said.contains(m))
            && !said.contains("exec:")
            && !said.contains("exec format");
        if machine {
            println!(
                "xtask: this machine cannot run containers ({}): the OCI image was checked by \
                 its contents only",
                said.lines().last().unwrap_or("").trim()
            );
            return Ok(());
        }
        bail!("the image does not run: {said}");
    }
    let version = String::from_utf8_lossy(&probe.stdout).into_owned();
    ensure!(
        version.starts_with("kelisim-collector "),
        "--version: {version}"
    );

    let tag = format!("kelisim-test-{}", std::process::id());
    let port = free_port()?;
    let started = output(
        podman()
            .args(["run", "--detach", "--name", &tag, "--network", "host"])
            .args(limits()?)
            .arg("--env")
            .arg(format!("KELISIM_LISTEN=127.0.0.1:{port}"))
            .arg("--volume")
            .arg(format!("{tag}:{}", oci::DATA_DIR))
            .arg(id),
    );
    let result = started.and_then(|_| exercise(&tag, port));
    if result.is_err()
        && let Ok(logs) = output(podman().args(["logs", &tag]))
    {
        eprintln!("xtask: container log:\n{logs}");
    }
    let _ = podman().args(["rm", "--force", &tag]).output();
    let _ = podman().args(["volume", "rm", "--force", &tag]).output();
    result
}

fn exercise(tag: &str, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = output(podman().args(["logs", tag]))?;
        if logs.contains("kelisim: listening on") {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the container did not listen within 30 s: {logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let base = format!("http://127.0.0.1:{port}");
    let http = http_agent();
    let (status, _) = get(&http, &format!("{base}/kelisim.js"))?;
    ensure!(
        status == 200,
        "the container serves its built-in widget: {status}"
    );
    // The image's default config: site `shop` on https://example.kz.
    let body = json!({
        "site": "shop", "kind": "form", "event": "given",
        "key": "0123456789abcdef0123456789abcdef", "policy_version": "2026-01", "lang": "ru",
        "purposes": [{ "id": "requests", "granted": true }],
        "subject": { "browser_id": "fedcba9876543210fedcba9876543210" },
        "context": { "page_url": "https://example.kz/contact", "form_id": null, "fields": ["phone"], "gpc": false }
    });
    let mut answer = http
        .post(format!("{base}/v1/receipts"))
        .header("Origin", "https://example.kz")
        .header("Content-Type", "application/json")
        .send(body.to_string())?;
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string()?;
    ensure!(status == 201, "a receipt in the container: {status} {text}");

    let pid = output(podman().args(["inspect", "--format", "{{.State.Pid}}", tag]))?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim()))?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .context("Uid in /proc/PID/status")?;
    ensure!(
        uid == oci::UID.to_string(),
        "the collector runs as {uid}, not {}",
        oci::UID
    );

    output(podman().args(["exec", tag, oci::BINARY, "audit"]))
        .context("audit inside the container")?;
    let volume = output(podman().args(["volume", "inspect", "--format", "{{.Mountpoint}}", tag]))?;
    let db = Path::new(volume.trim()).join("kelisim.db");
    let meta = std::fs::metadata(&db).with_context(|| format!("{} in the volume", db.display()))?;
    {
        use std::os::unix::fs::MetadataExt;
        ensure!(
            u64::from(meta.uid()) == oci::UID,
            "the volume's database belongs to the image's user"
        );
    }

    output(podman().args(["stop", "--time", "30", tag]))?;
    let code = output(podman().args(["inspect", "--format", "{{.State.ExitCode}}", tag]))?;
    ensure!(
        code.trim() == "0",
        "the container exits 0 on SIGTERM, not {}",
        code.trim()
    );
    println!(
        "xtask: podman ran the image: uid {uid}, widget and receipt served on loopback, audit \
         passed in the container, data in volume {tag}, clean stop"
    );
    Ok(())
}

/// `podman` with runc when it is installed (see the module doc).
fn podman() -> Command {
    let mut cmd = Command::new("podman");
    if Path::new("/usr/bin/runc").exists() || Path::new("/usr/sbin/runc").exists() {
        cmd.args(["--runtime", "runc"]);
    }
    cmd
}

/// `--ulimit` for open files (this process's own hard limit) and processes (4096, ample for
/// the collector's threads): podman's defaults can exceed what a container host lets a
/// container set, and runc then refuses to start it.
fn limits() -> Result<Vec<String>> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let nofile = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("Max open files in /proc/self/limits")?;
    // `unlimited` is spelled -1 on podman's command line.
    let nofile = nofile.replace("unlimited", "-1");
    Ok(vec![
        "--ulimit".to_owned(),
        format!("nofile={nofile}:{nofile}"),
        "--ulimit".to_owned(),
        "nproc=4096:4096".to_owned(),
    ])
}
