//! The Debian package, staged as a directory tree and built with Debian's own `dpkg-deb`
//! (present on every Debian and Ubuntu machine; no cargo-deb to compile first).
//!
//! ```text
//! /usr/bin/kelisim-collector                       the binary (the widget built in)
//! /etc/kelisim/kelisim.toml                        conffile: a minimal valid site to edit
//! /etc/kelisim/policies/consent-2026-01.*.md       conffiles: consent text templates
//! /lib/systemd/system/kelisim-collector.service    the hardened unit
//! /usr/share/kelisim/{nginx.conf,Caddyfile}        reverse-proxy site configs to copy
//! /usr/share/doc/kelisim-collector/                copyright, deploy.md, config.md
//! ```
//!
//! The maintainer scripts (deploy/debian/) create the `kelisim` system user and
//! /var/lib/kelisim; removal keeps the data (see postrm and docs/deploy.md).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::Digest;

use super::files::{files_below, source_date};
use crate::install::run;
use crate::root;

pub const PACKAGE: &str = "kelisim-collector";
pub const UNIT: &str = "kelisim-collector.service";
pub const UNIT_PATH: &str = "/lib/systemd/system/kelisim-collector.service";
pub const CONFIG: &str = "/etc/kelisim/kelisim.toml";
pub const DATA_DIR: &str = "/var/lib/kelisim";
pub const USER: &str = "kelisim";

/// Who answers for the package (dpkg requires a name and an address; `.invalid` is reserved
/// and reaches nobody: there is no project mailbox yet).
const MAINTAINER: &str = "Kelisim developers <kelisim@packages.invalid>";

/// Files of the repository installed as they are: (source below the root, installed path,
/// mode).
const FILES: &[(&str, &str, u32)] = &[
    ("deploy/kelisim.toml", CONFIG, 0o644),
    (
        "deploy/policies/consent-2026-01.ru.md",
        "/etc/kelisim/policies/consent-2026-01.ru.md",
        0o644,
    ),
    (
        "deploy/policies/consent-2026-01.kk.md",
        "/etc/kelisim/policies/consent-2026-01.kk.md",
        0o644,
    ),
    (
        "deploy/policies/consent-2026-01.en.md",
        "/etc/kelisim/policies/consent-2026-01.en.md",
        0o644,
    ),
    ("deploy/kelisim-collector.service", UNIT_PATH, 0o644),
    ("deploy/nginx.conf", "/usr/share/kelisim/nginx.conf", 0o644),
    ("deploy/Caddyfile", "/usr/share/kelisim/Caddyfile", 0o644),
    (
        "docs/deploy.md",
        "/usr/share/doc/kelisim-collector/deploy.md",
        0o644,
    ),
    (
        "docs/config.md",
        "/usr/share/doc/kelisim-collector/config.md",
        0o644,
    ),
];

const SCRIPTS: &[&str] = &["postinst", "prerm", "postrm"];

/// Builds `kelisim-collector_<version>_amd64.deb` in `out` from `binary`; returns its path.
pub fn build(
    binary: &Path,
    version: &str,
    out: &Path,
    compression: super::Compression,
) -> Result<PathBuf> {
    let stage = out.join("deb-root");
    let _ = fs::remove_dir_all(&stage);
    install_file(
        &fs::read(binary)?,
        &stage,
        "/usr/bin/kelisim-collector",
        0o755,
    )?;
    for (source, target, mode) in FILES {
        let bytes = fs::read(root().join(source)).with_context(|| format!("reading {source}"))?;
        install_file(&bytes, &stage, target, *mode)?;
    }
    install_file(
        copyright().as_bytes(),
        &stage,
        "/usr/share/doc/kelisim-collector/copyright",
        0o644,
    )?;

    let control = stage.join("DEBIAN");
    fs::create_dir_all(&control)?;
    for script in SCRIPTS {
        let bytes = fs::read(root().join("deploy/debian").join(script))?;
        write_mode(&control.join(script), &bytes, 0o755)?;
    }
    let conffiles: String = FILES
        .iter()
        .filter(|(_, target, _)| target.starts_with("/etc/"))
        .map(|(_, target, _)| format!("{target}\n"))
        .collect();
    write_mode(&control.join("conffiles"), conffiles.as_bytes(), 0o644)?;
    write_mode(&control.join("md5sums"), md5sums(&stage)?.as_bytes(), 0o644)?;
    let installed_kib = tree_size(&stage)?.div_ceil(1024);
    write_mode(
        &control.join("control"),
        control_file(version, installed_kib).as_bytes(),
        0o644,
    )?;

    let deb = out.join(format!("{PACKAGE}_{version}_amd64.deb"));
    let _ = fs::remove_file(&deb);
    // --root-owner-group: every file root:root without fakeroot; xz keeps the download small.
    let level = match compression {
        super::Compression::Smallest => ["-Zxz", "-z9"],
        super::Compression::Fastest => ["-Zgzip", "-z1"],
    };
    // SOURCE_DATE_EPOCH: dpkg-deb stamps the archive and clamps file times to the last
    // commit's, so the same sources give the same .deb.
    let (epoch, _) = source_date()?;
    run(Command::new("dpkg-deb")
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .arg("--root-owner-group")
        .args(level)
        .arg("--build")
        .arg(&stage)
        .arg(&deb))
    .context("dpkg-deb builds the package (Debian's dpkg)")?;
    Ok(deb)
}

fn control_file(version: &str, installed_kib: u64) -> String {
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: amd64\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\n\
         Depends: passwd\n\
         Section: web\n\
         Priority: optional\n\
         Description: Kelisim consent collector: signed, chained consent receipts\n \
         Records the personal-data consents the Kelisim widget collects on a website's\n \
         forms, signs each as an Ed25519 JWS receipt, chains them into a tamper-evident\n \
         log and keeps them in SQLite on this machine. Serves the widget itself\n \
         (kelisim.js), the consent texts and the visitors' receipt pages.\n \
         .\n \
         Runs as the systemd service kelisim-collector (user kelisim, data in\n \
         /var/lib/kelisim) behind nginx or Caddy for TLS.\n"
    )
}

fn copyright() -> String {
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
     Upstream-Name: kelisim\n\
     \n\
     Files: *\n\
     Copyright: the Kelisim developers\n\
     License: Apache-2.0\n \
     On Debian systems the full text of the Apache License, Version 2.0, is in\n \
     /usr/share/common-licenses/Apache-2.0. The binary links Rust crates under MIT or\n \
     Apache-2.0 licences and SQLite, which is in the public domain.\n"
        .to_owned()
}

/// Writes `bytes` to `stage` + `target` with `mode`, creating directories (0755).
fn install_file(bytes: &[u8], stage: &Path, target: &str, mode: u32) -> Result<()> {
    let path = stage.join(target.trim_start_matches('/'));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    write_mode(&path, bytes, mode)
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `DEBIAN/md5sums`: what `dpkg --verify` checks installed files against.
fn md5sums(stage: &Path) -> Result<String> {
    let mut lines = Vec::new();
    for file in files_below(stage)? {
        let relative = file.strip_prefix(stage)?.to_string_lossy().into_owned();
        if relative.starts_with("DEBIAN/") {
            continue;
        }
        let digest = md5(&fs::read(&file)?);
        lines.push(format!("{digest}  {relative}\n"));
    }
    lines.sort();
    Ok(lines.concat())
}

/// dpkg's checksums are MD5 (integrity against accidents, which is all `dpkg --verify` asks).
fn md5(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tree_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for file in files_below(dir)? {
        if !file.strip_prefix(dir)?.starts_with("DEBIAN") {
            total += fs::metadata(&file)?.len();
        }
    }
    Ok(total)
}

/// Fails unless `dpkg-deb` exists (every Debian and Ubuntu machine has it).
pub fn require_dpkg() -> Result<()> {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        bail!("building the .deb needs dpkg-deb (Debian's dpkg package)");
    }
    Ok(())
}
