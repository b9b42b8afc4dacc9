//! How the tests of the installed artefacts talk to them (`check.rs` for the package and the
//! image run as a plain process, `podman.rs` for the image in a container): commands whose
//! failure carries their output, HTTP on loopback, a free port.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

pub fn get(http: &ureq::Agent, url: &str) -> Result<(u16, Vec<u8>)> {
    let mut answer = http.get(url).call()?;
    let status = answer.status().as_u16();
    let body = answer.body_mut().read_to_vec()?;
    Ok((status, body))
}

/// Runs `cmd`, failing with its stderr; returns stdout (and stderr appended: dpkg's maintainer
/// scripts print there).
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "{shown} failed ({}): {text}",
        out.status
    );
    Ok(text)
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
