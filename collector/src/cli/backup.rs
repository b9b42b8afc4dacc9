//! `backup` and `restore`: a whole data directory in one file, taken while the collector runs.
//!
//! The file is a tar archive (mode 0600: it holds the private signing keys and the subject
//! secret) with, in this order:
//!
//! ```text
//! manifest.json   format, creation time, schema version, receipt count, chain head, and the
//!                 size and SHA-256 of every other entry
//! kelisim.db      a consistent copy made with SQLite's online backup API (store::snapshot)
//! keys/…          the signing keys, read after the copy: every key that signed a receipt in
//!                 it is there (a `keys rotate` meanwhile only adds a key)
//! subject.key     the subject-hash secret, without which the subject index is useless
//! witness/…       a witness's cosigning key, if the collector is one ([witness])
//! ```
//!
//! `restore` unpacks into a staging directory inside the (new or empty) target, checks every
//! entry against the manifest, opens the database and compares it with the manifest's counts,
//! and only then moves the files into place. Any failure leaves the target as it was.

use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::hex;
use crate::keys::{KeyError, Keyring};
use crate::ops::datadir::{self, DataDir};
use crate::receipt::subject::{SubjectKey, SubjectKeyError};
use crate::store::{self, Head, Location, SnapshotInfo, StoreError};

/// The `format` of the manifests this version writes and reads.
pub const FORMAT: &str = "kelisim-backup/1";

const MANIFEST: &str = "manifest.json";
const DB: &str = "kelisim.db";
const SUBJECT_KEY: &str = "subject.key";
const KEYS: &str = "keys";
const WITNESS: &str = "witness";
/// A manifest is a few hundred bytes; anything much larger is not one.
const MANIFEST_LIMIT: u64 = 1 << 20;

/// Why a backup or a restore did not happen (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path} already exists; choose a new file name (a backup never overwrites a file)")]
    DestinationExists { path: String },
    #[error(
        "{path} is not empty; restore into a new or empty directory (move the old one aside first)"
    )]
    NotEmpty { path: String },
    #[error("{path} is not a directory")]
    NotADirectory { path: String },
    #[error("{path} has no {missing}; is it a collector's data directory?")]
    NotADataDir { path: String, missing: String },
    #[error("{file} is not a Kelisim backup: {reason}")]
    NotABackup { file: String, reason: String },
    #[error("{file} is damaged or incomplete: {reason}; use another copy of the backup")]
    Damaged { file: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    SubjectKey(#[from] SubjectKeyError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The first entry of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// The version of the collector that wrote it.
    pub collector_version: String,
    /// The database's `user_version`.
    pub schema_version: i64,
    pub receipts: i64,
    /// The chain head: the last receipt's seq and the SHA-256 of its JWS.
    pub last_seq: Option<i64>,
    pub last_sha256: Option<String>,
    /// Every other entry, in archive order.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    fn head(&self) -> Option<Head> {
        Some(Head {
            seq: self.last_seq?,
            jws_sha256: self.last_sha256.clone()?,
        })
    }
}

/// What `backup` did.
#[derive(Debug)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    pub elapsed: Duration,
    pub manifest: Manifest,
}

/// What `restore` did.
#[derive(Debug)]
pub struct RestoreReport {
    pub data_dir: PathBuf,
    pub manifest: Manifest,
}

/// Writes a backup of `data_dir` to the new file `to` (mode 0600).
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    let started = Instant::now();
    let data = DataDir::new(data_dir);
    for (path, missing) in [(data.db_path(), DB), (data.subject_key_path(), SUBJECT_KEY)] {
        if !path.is_file() {
            return Err(BackupError::NotADataDir {
                path: data_dir.display().to_string(),
                missing: missing.into(),
            });
        }
    }
    if to.symlink_metadata().is_ok() {
        return Err(BackupError::DestinationExists {
            path: to.display().to_string(),
        });
    }
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Staging beside the destination (0700), so the final rename stays on one file system.
    let staging = tempfile::Builder::new()
        .prefix(".kelisim-backup-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let db_copy = staging.path().join(DB);
    let info = store::snapshot(&Location::in_data_dir(&data), &db_copy)?;

    // Read after the copy: every key that signed a receipt in it exists by now.
    let mut small: Vec<(String, Vec<u8>)> = Vec::new();
    let keys_dir = data.keys_dir();
    let mut key_names: Vec<String> = fs::read_dir(&keys_dir)
        .map_err(io_err(&keys_dir))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        // Dot files are a key being written (`datadir::create_private_file`).
        .filter(|n| !n.starts_with('.'))
        .collect();
    key_names.sort();
    if key_names.is_empty() {
        return Err(BackupError::NotADataDir {
            path: data_dir.display().to_string(),
            missing: "signing key in keys/".into(),
        });
    }
    for name in key_names {
        let path = keys_dir.join(&name);
        small.push((
            format!("{KEYS}/{name}"),
            fs::read(&path).map_err(io_err(&path))?,
        ));
    }
    let subject = data.subject_key_path();
    small.push((
        SUBJECT_KEY.into(),
        fs::read(&subject).map_err(io_err(&subject))?,
    ));
    let cosign = data.root().join(WITNESS).join("cosign.jwk");
    if cosign.exists() {
        let bytes = fs::read(&cosign).map_err(io_err(&cosign))?;
        small.push((format!("{WITNESS}/cosign.jwk"), bytes));
    }

    let created = time::OffsetDateTime::now_utc();
    let mut files = vec![digest_file(&db_copy, DB)?];
    files.extend(small.iter().map(|(path, bytes)| FileEntry {
        path: path.clone(),
        size: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    }));
    let manifest = Manifest {
        format: FORMAT.into(),
        created: created
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        collector_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: info.schema_version,
        receipts: info.receipts,
        last_seq: info.head.as_ref().map(|h| h.seq),
        last_sha256: info.head.map(|h| h.jws_sha256),
        files,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();

    // tempfile creates the file with mode 0600.
    let out = tempfile::Builder::new()
        .prefix(".kelisim-backup-")
        .tempfile_in(parent)
        .map_err(io_err(parent))?;
    let mtime = u64::try_from(created.unix_timestamp()).unwrap_or(0);
    let mut tar = tar::Builder::new(io::BufWriter::new(out.as_file()));
    let write_err = io_err(to);
    (|| {
        tar.append(
            &header(MANIFEST, manifest_json.len() as u64, mtime)?,
            manifest_json.as_slice(),
        )?;
        let db = fs::File::open(&db_copy)?;
        tar.append(&header(DB, db.metadata()?.len(), mtime)?, db)?;
        for (path, bytes) in &small {
            tar.append(&header(path, bytes.len() as u64, mtime)?, bytes.as_slice())?;
        }
        tar.into_inner()?.flush()?;
        out.as_file().sync_all()
    })()
    .map_err(write_err)?;
    let file = out.persist_noclobber(to).map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            BackupError::DestinationExists {
                path: to.display().to_string(),
            }
        } else {
            io_err(to)(e.error)
        }
    })?;
    drop(file);
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    let bytes = fs::metadata(to).map_err(io_err(to))?.len();
    Ok(BackupReport {
        file: to.to_owned(),
        bytes,
        elapsed: started.elapsed(),
        manifest,
    })
}

fn header(path: &str, size: u64, mtime: u64) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

fn digest_file(path: &Path, name: &str) -> Result<FileEntry, BackupError> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut sink = Digesting::new(io::sink());
    io::copy(&mut file, &mut sink).map_err(io_err(path))?;
    let (size, sha256) = sink.finish();
    Ok(FileEntry {
        path: name.into(),
        size,
        sha256,
    })
}

/// A writer that counts and hashes what passes through it.
struct Digesting<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Digesting<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (u64, String) {
        (self.size, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Restores the backup `from` into `data_dir`, which must not exist or be empty.
pub fn restore(from: &Path, data_dir: &Path) -> Result<RestoreReport, BackupError> {
    let created_dir = match fs::symlink_metadata(data_dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(BackupError::NotADirectory {
                path: data_dir.display().to_string(),
            });
        }
        Ok(_) => {
            let mut listing = fs::read_dir(data_dir).map_err(io_err(data_dir))?;
            if listing.next().is_some() {
                return Err(BackupError::NotEmpty {
                    path: data_dir.display().to_string(),
                });
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(source) => return Err(io_err(data_dir)(source)),
    };
    let archive = fs::File::open(from).map_err(io_err(from))?;
    if created_dir {
        datadir::create_private_dir(data_dir).map_err(io_err(data_dir))?;
    }
    let result = unpack(archive, from, data_dir);
    if result.is_err() && created_dir {
        let _ = fs::remove_dir_all(data_dir);
    }
    result
}

fn unpack(archive: fs::File, from: &Path, data_dir: &Path) -> Result<RestoreReport, BackupError> {
    let file = from.display().to_string();
    let not_backup = |reason: String| BackupError::NotABackup {
        file: file.clone(),
        reason,
    };
    let damaged = |reason: String| BackupError::Damaged {
        file: file.clone(),
        reason,
    };
    // Staging inside the target: the final renames stay on one file system, and a failure
    // removes it (TempDir's drop), leaving the directory empty again.
    let staging = tempfile::Builder::new()
        .prefix(".kelisim-restore-")
        .tempdir_in(data_dir)
        .map_err(io_err(data_dir))?;
    for dir in [KEYS, WITNESS] {
        datadir::create_private_dir(&staging.path().join(dir)).map_err(io_err(staging.path()))?;
    }

    let mut tar = tar::Archive::new(BufReader::new(archive));
    let mut entries = tar
        .entries()
        .map_err(|e| not_backup(format!("not a tar archive ({e})")))?;
    let read_err = |e: io::Error| damaged(format!("cannot read it ({e})"));

    let mut first = match entries.next() {
        Some(entry) => entry.map_err(|e| not_backup(format!("not a tar archive ({e})")))?,
        None => return Err(not_backup("it is empty".into())),
    };
    let first_path = first.path().map_err(read_err)?.display().to_string();
    if first_path != MANIFEST {
        return Err(not_backup(format!(
            "its first entry is `{first_path}`, not {MANIFEST}"
        )));
    }
    let mut text = Vec::new();
    (&mut first)
        .take(MANIFEST_LIMIT)
        .read_to_end(&mut text)
        .map_err(read_err)?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| not_backup(format!("unreadable {MANIFEST} ({e})")))?;
    if manifest.format != FORMAT {
        return Err(not_backup(format!(
            "format `{}`, this collector reads `{FORMAT}`",
            manifest.format
        )));
    }
    for entry in &manifest.files {
        if !allowed_path(&entry.path) {
            return Err(not_backup(format!(
                "the manifest names `{}`, which is not part of a data directory",
                entry.path
            )));
        }
    }
    for required in [DB, SUBJECT_KEY] {
        if !manifest.files.iter().any(|f| f.path == required) {
            return Err(not_backup(format!("the manifest lists no {required}")));
        }
    }

    let mut seen: Vec<&str> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(read_err)?;
        let path = entry.path().map_err(read_err)?.display().to_string();
        let Some(expected) = manifest.files.iter().find(|f| f.path == path) else {
            return Err(damaged(format!("`{path}` is not in the manifest")));
        };
        if seen.contains(&expected.path.as_str()) {
            return Err(damaged(format!("`{path}` appears twice")));
        }
        if !entry.header().entry_type().is_file() {
            return Err(damaged(format!("`{path}` is not a regular file")));
        }
        let target = staging.path().join(&expected.path);
        let out = private_file(&target)?;
        let mut sink = Digesting::new(io::BufWriter::new(out));
        io::copy(&mut entry, &mut sink).map_err(read_err)?;
        sink.flush().map_err(io_err(&target))?;
        let (size, sha256) = (sink.size, hex(&sink.hasher.clone().finalize()));
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| io_err(&target)(e.into_error()))?;
        file.sync_all().map_err(io_err(&target))?;
        if size != expected.size || sha256 != expected.sha256 {
            return Err(damaged(format!(
                "`{path}` does not match the manifest ({size} bytes, SHA-256 {sha256}; the \
                 manifest says {} bytes, SHA-256 {})",
                expected.size, expected.sha256
            )));
        }
        seen.push(&expected.path);
    }
    if let Some(missing) = manifest
        .files
        .iter()
        .find(|f| !seen.contains(&f.path.as_str()))
    {
        return Err(damaged(format!(
            "`{}` is missing (the file may be truncated)",
            missing.path
        )));
    }

    // The contents must be usable, not only intact.
    let info = store::inspect_snapshot(&staging.path().join(DB))?;
    let expected = SnapshotInfo {
        schema_version: manifest.schema_version,
        receipts: manifest.receipts,
        head: manifest.head(),
    };
    if info != expected {
        return Err(damaged(format!(
            "its database holds {info:?}, the manifest says {expected:?}"
        )));
    }
    let ring = Keyring::load(&staging.path().join(KEYS))?;
    if ring.entries().is_empty() {
        return Err(damaged("it holds no signing key".into()));
    }
    SubjectKey::load(&staging.path().join(SUBJECT_KEY))?;

    for name in [KEYS, SUBJECT_KEY, DB, WITNESS] {
        let (src, dest) = (staging.path().join(name), data_dir.join(name));
        let empty_witness =
            name == WITNESS && fs::read_dir(&src).is_ok_and(|mut d| d.next().is_none());
        if !empty_witness {
            fs::rename(&src, &dest).map_err(io_err(&dest))?;
        }
    }
    drop(staging);
    if let Ok(dir) = fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    DataDir::new(data_dir).warn_if_not_private();
    Ok(RestoreReport {
        data_dir: data_dir.to_owned(),
        manifest,
    })
}

/// `kelisim-collector backup`: writes the file and says what it holds, how big it is and
/// how long it took.
pub fn backup_command(args: &crate::cli::BackupArgs) -> Result<(), BackupError> {
    let report = backup(&args.data.data_dir, &args.to)?;
    let m = &report.manifest;
    println!(
        "kelisim: backup of {} written to {}",
        args.data.data_dir.display(),
        report.file.display()
    );
    println!(
        "kelisim: {} receipts (last seq {}), schema version {}, {} signing key(s); {} ({} bytes) in {:.2} s",
        m.receipts,
        m.last_seq.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        m.schema_version,
        m.files
            .iter()
            .filter(|f| f.path.starts_with("keys/"))
            .count(),
        human_size(report.bytes),
        report.bytes,
        report.elapsed.as_secs_f64()
    );
    println!(
        "kelisim: the file has mode 0600: it holds the private signing keys and the subject \
         secret; keep it as safe as the data directory"
    );
    Ok(())
}

/// `kelisim-collector restore`.
pub fn restore_command(args: &crate::cli::RestoreArgs) -> Result<(), BackupError> {
    let report = restore(&args.from, &args.data_dir)?;
    let m = &report.manifest;
    println!(
        "kelisim: restored {} receipts (last seq {}, schema version {}) from the backup of {} \
         into {}",
        m.receipts,
        m.last_seq.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        m.schema_version,
        m.created,
        report.data_dir.display()
    );
    println!(
        "kelisim: every file matched the manifest; run `kelisim-collector audit --data-dir {}` \
         to re-verify the log, then start the collector on it",
        report.data_dir.display()
    );
    Ok(())
}

/// `kelisim.db`, `subject.key`, `witness/cosign.jwk` or `keys/NAME` (one plain file name).
fn allowed_path(path: &str) -> bool {
    if path == DB || path == SUBJECT_KEY || path == "witness/cosign.jwk" {
        return true;
    }
    path.strip_prefix("keys/").is_some_and(|name| {
        !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\'])
            && name.bytes().all(|b| b.is_ascii_graphic())
    })
}

fn private_file(path: &Path) -> Result<fs::File, BackupError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io_err(path))
}

/// `2.3 MiB` (binary units, one decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_data_directory_files_may_be_restored() {
        for ok in ["kelisim.db", "subject.key", "keys/ed25519-0001.jwk"] {
            assert!(allowed_path(ok), "{ok}");
        }
        for bad in [
            "../kelisim.db",
            "keys/../../etc/passwd",
            "keys/",
            "keys/.hidden",
            "keys/a/b",
            "/etc/passwd",
            "kelisim.db-wal",
            "manifest.json",
        ] {
            assert!(!allowed_path(bad), "{bad}");
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
