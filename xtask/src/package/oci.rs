//! The OCI image, written as an OCI image layout by this code (no base image, no daemon, no
//! builder): one gzip layer holding the static collector, its default config and the
//! directories it needs, and an image config that runs it as a non-root user with its data in
//! a volume. See the OCI image-spec: `oci-layout`, `index.json`, `blobs/sha256/…`.
//!
//! The layer (every entry root-owned unless said):
//!
//! ```text
//! /usr/bin/kelisim-collector        0755, static
//! /etc/kelisim/kelisim.toml         the package's default config (mount your own over it)
//! /etc/kelisim/policies/*.md
//! /var/lib/kelisim/                 0700, owned by 65532:65532: the volume
//! /tmp/                             1777: SQLite's temporary files
//! ```
//!
//! `podman load -i kelisim-collector-<version>-oci.tar` reads the archive; skopeo copies the
//! archive (`oci-archive:…`) or the directory (`oci:target/package/oci:<version>`) anywhere
//! else, a Docker daemon or a registry.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::files::{files_below, sha256, source_date};
use crate::root;

/// The user the image runs as: not root, not a user of the host (distroless's `nonroot`).
pub const UID: u64 = 65532;
pub const DATA_DIR: &str = "/var/lib/kelisim";
pub const PORT: u16 = 8080;
pub const BINARY: &str = "/usr/bin/kelisim-collector";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What was written.
#[derive(Debug)]
pub struct Image {
    /// The OCI image layout directory.
    pub layout: PathBuf,
    /// The same layout as one tar file (an `oci-archive`), for `podman load`.
    pub archive: PathBuf,
    pub layer_bytes: u64,
}

/// Writes the image for `binary` into `out/oci/` and `out/kelisim-collector-<version>-oci.tar`;
/// `extra` host files are added at their own paths (the test image's shared libraries).
pub fn build(
    binary: &Path,
    version: &str,
    out: &Path,
    extra: &[PathBuf],
    compression: super::Compression,
) -> Result<Image> {
    let (mtime, created) = source_date()?;
    let layer_tar = layer(binary, extra, mtime)?;
    let diff_id = sha256(&layer_tar);
    let layer_gz = gzip(&layer_tar, compression)?;

    let config = json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": format!("{UID}:{UID}"),
            "Env": [
                "KELISIM_CONFIG=/etc/kelisim/kelisim.toml",
                format!("KELISIM_DATA_DIR={DATA_DIR}"),
                format!("KELISIM_LISTEN=0.0.0.0:{PORT}"),
            ],
            "Entrypoint": [BINARY],
            "Cmd": ["serve"],
            "WorkingDir": DATA_DIR,
            "ExposedPorts": { format!("{PORT}/tcp"): {} },
            "Volumes": { DATA_DIR: {} },
            "StopSignal": "SIGTERM",
            "Labels": labels(version),
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created": created, "created_by": "cargo xtask package" }],
    });
    let config = serde_json::to_vec(&config)?;

    let layout = out.join("oci");
    let _ = fs::remove_dir_all(&layout);
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let put = |bytes: &[u8]| -> Result<Value> {
        let digest = sha256(bytes);
        fs::write(blobs.join(&digest), bytes)?;
        Ok(json!({ "digest": format!("sha256:{digest}"), "size": bytes.len() }))
    };
    let mut config_ref = put(&config)?;
    config_ref["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer_ref = put(&layer_gz)?;
    layer_ref["mediaType"] = json!(LAYER_MEDIA_TYPE);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_ref,
        "layers": [layer_ref],
        "annotations": labels(version),
    }))?;
    let mut manifest_ref = put(&manifest)?;
    manifest_ref["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    manifest_ref["annotations"] = json!({ "org.opencontainers.image.ref.name": version });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [manifest_ref],
        }))?,
    )?;
    fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let archive = out.join(format!("kelisim-collector-{version}-oci.tar"));
    archive_layout(&layout, &archive, mtime)?;
    Ok(Image {
        layout,
        archive,
        layer_bytes: layer_gz.len() as u64,
    })
}

fn labels(version: &str) -> Value {
    json!({
        "org.opencontainers.image.title": "kelisim-collector",
        "org.opencontainers.image.description":
            "Kelisim consent collector: signed, chained consent receipts in SQLite",
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.licenses": "Apache-2.0",
    })
}

/// The layer's tar: directories first, fixed owners and times, so the same inputs give the
/// same digest.
fn layer(binary: &Path, extra: &[PathBuf], mtime: u64) -> Result<Vec<u8>> {
    let read =
        |source: &str| fs::read(root().join(source)).with_context(|| format!("reading {source}"));
    // (path in the image, mode, bytes)
    let mut files: Vec<(String, u32, Vec<u8>)> = vec![
        (
            "etc/kelisim/kelisim.toml".into(),
            0o644,
            read("deploy/kelisim.toml")?,
        ),
        (
            "usr/bin/kelisim-collector".into(),
            0o755,
            fs::read(binary).with_context(|| format!("reading {}", binary.display()))?,
        ),
    ];
    for lang in ["ru", "kk", "en"] {
        let name = format!("consent-2026-01.{lang}.md");
        files.push((
            format!("etc/kelisim/policies/{name}"),
            0o644,
            read(&format!("deploy/policies/{name}"))?,
        ));
    }
    for path in extra {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.to_string_lossy().trim_start_matches('/').to_owned();
        files.push((name, 0o755, bytes));
    }
    files.sort();
    // Every parent directory, root-owned 0755, except the two with their own rules.
    let mut dirs: std::collections::BTreeSet<String> =
        ["tmp/".to_owned(), "var/lib/kelisim/".to_owned()].into();
    for (name, _, _) in &files {
        let mut at = 0;
        while let Some(slash) = name[at..].find('/') {
            at += slash + 1;
            dirs.insert(name[..at].to_owned());
        }
    }
    dirs.insert("var/".into());
    dirs.insert("var/lib/".into());

    let mut tar = tar::Builder::new(Vec::new());
    let mut append = |path: &str, kind: tar::EntryType, mode: u32, owner: u64, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner);
        header.set_gid(owner);
        header.set_mtime(mtime);
        header.set_size(bytes.len() as u64);
        tar.append_data(&mut header, path, bytes)
    };
    for dir in &dirs {
        let (mode, owner) = match dir.as_str() {
            "tmp/" => (0o1777, 0),
            "var/lib/kelisim/" => (0o700, UID),
            _ => (0o755, 0),
        };
        append(dir, tar::EntryType::Directory, mode, owner, &[])?;
    }
    for (name, mode, bytes) in &files {
        append(name, tar::EntryType::Regular, *mode, 0, bytes)?;
    }
    Ok(tar.into_inner()?)
}

/// The whole layout as one tar (an `oci-archive`, what `podman load` reads).
fn archive_layout(layout: &Path, archive: &Path, mtime: u64) -> Result<()> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut files = files_below(layout)?;
    files.sort();
    for path in files {
        let name = path.strip_prefix(layout)?.to_string_lossy().into_owned();
        let bytes = fs::read(&path)?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_size(bytes.len() as u64);
        tar.append_data(&mut header, &name, &bytes[..])?;
    }
    fs::write(archive, tar.into_inner()?)?;
    Ok(())
}

fn gzip(bytes: &[u8], compression: super::Compression) -> Result<Vec<u8>> {
    let level = match compression {
        super::Compression::Smallest => flate2::Compression::best(),
        super::Compression::Fastest => flate2::Compression::fast(),
    };
    // No file name and mtime 0 in the gzip header: the digest depends on the content only.
    let mut enc = flate2::GzBuilder::new().write(Vec::new(), level);
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}
