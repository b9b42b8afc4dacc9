//! `cargo xtask package`: what an operator installs, in `target/package/` — the collector as
//! one static binary with the widget built in, a Debian package with a hardened systemd unit,
//! and an OCI image — and the test of those artefacts once installed (`--check`, and
//! [`test`] in `cargo xtask test`).
//!
//! The release binary is built for `x86_64-unknown-linux-musl` with the `dist` profile
//! (stripped, LTO): static, so the same file runs on any x86-64 Linux and in a `FROM scratch`
//! image; bundled SQLite's C is compiled by Debian's `musl-gcc`. `cargo xtask test` packages
//! the debug build it already has instead (a second release build would cost minutes), so
//! its image carries the debug binary's shared libraries; `--check` tests the real thing.

mod check;
mod deb;
mod files;
mod oci;
mod podman;
mod probe;
mod seccomp;
mod unit;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::install::{self, EMBED_VAR, MUSL, cargo, run};
use crate::{dist, target_dir};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `cargo xtask package` writes.
struct Artefacts {
    binary: PathBuf,
    deb: PathBuf,
    image: oci::Image,
}

/// `cargo xtask package [--check]`.
pub fn package(check_after: bool) -> Result<()> {
    ensure!(
        !check_after || check::is_root(),
        "--check installs the .deb: run it as root on a machine without Kelisim"
    );
    dist::dist()?;
    install::musl()?;
    run(cargo()
        .args([
            "build",
            "--package",
            "kelisim-collector",
            "--profile",
            "dist",
        ])
        .args(["--target", MUSL])
        .env(EMBED_VAR, crate::dist_dir()))?;
    let built = target_dir().join(MUSL).join("dist/kelisim-collector");
    let out = target_dir().join("package");
    let artefacts = assemble(&built, &out, &[], Compression::Smallest)?;
    report(&artefacts)?;
    if check_after {
        install_test_tools()?;
        check::deb(&artefacts.deb, &crate::dist_dir())?;
        check::image(&artefacts.image, &artefacts.binary, true)?;
    }
    Ok(())
}

/// The package test of `cargo xtask test`, on the debug build `test` already made (with the
/// widget built in: `install::cargo` sets the variable once `dist/` exists).
pub fn test() -> Result<()> {
    let started = Instant::now();
    if !check::is_root() {
        println!(
            "xtask: the package test installs a .deb and runs its service as another user: it \
             needs root (CI runs it); skipped"
        );
        return Ok(());
    }
    install_test_tools()?;
    let binary = target_dir().join("debug/kelisim-collector");
    let libraries = shared_libraries(&binary)?;
    let artefacts = assemble(
        &binary,
        &target_dir().join("package-test"),
        &libraries,
        Compression::Fastest,
    )?;
    check::deb(&artefacts.deb, &crate::dist_dir())?;
    check::image(&artefacts.image, &artefacts.binary, false)?;
    println!(
        "xtask: package test (debug build) passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Debian's tools the package test uses: systemd-analyze (verify, security, the syscall
/// table), strace, and podman with runc for the image.
fn install_test_tools() -> Result<()> {
    install::apt(&[
        ("systemd", "/usr/bin/systemd-analyze"),
        ("strace", "/usr/bin/strace"),
        ("podman", "/usr/bin/podman"),
        ("runc", "/usr/sbin/runc"),
    ])
}

/// How hard the .deb and the image's layer are compressed: the release's downloads as small
/// as they go; the test's (an 80 MB debug binary) quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Smallest,
    Fastest,
}

/// Copies `binary` into `out` and builds the .deb and the image from it; `extra` are host
/// files the image needs besides (the debug build's shared libraries).
fn assemble(
    binary: &Path,
    out: &Path,
    extra: &[PathBuf],
    compression: Compression,
) -> Result<Artefacts> {
    deb::require_dpkg()?;
    fs::create_dir_all(out)?;
    let copy = out.join("kelisim-collector");
    fs::copy(binary, &copy).with_context(|| format!("copying {}", binary.display()))?;
    let deb = deb::build(&copy, VERSION, out, compression)?;
    let image = oci::build(&copy, VERSION, out, extra, compression)?;
    Ok(Artefacts {
        binary: copy,
        deb,
        image,
    })
}

fn report(a: &Artefacts) -> Result<()> {
    let size = |p: &Path| -> Result<u64> { Ok(fs::metadata(p)?.len()) };
    println!("{:<44} {:>12}", "artefact", "bytes");
    for (name, bytes) in [
        (a.binary.display().to_string(), size(&a.binary)?),
        (a.deb.display().to_string(), size(&a.deb)?),
        (
            a.image.archive.display().to_string(),
            size(&a.image.archive)?,
        ),
        (
            format!("{} (layer, gzip)", a.image.layout.display()),
            a.image.layer_bytes,
        ),
    ] {
        println!("{name:<44} {bytes:>12}");
    }
    println!(
        "sha256 {}  {}",
        files::sha256_file(&a.deb)?,
        a.deb.display()
    );
    Ok(())
}

/// The shared libraries `ldd` says `binary` loads, the ELF interpreter included.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .context("ldd (Debian's libc-bin)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, after)) => after.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}
