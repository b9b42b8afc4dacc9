//! The data directory's layout and the private-file helpers its secrets are written with.
//!
//! ```text
//! DIR/            0700
//!   kelisim.db    SQLite (WAL: kelisim.db-wal, kelisim.db-shm), 0600
//!   keys/         0700, Ed25519 signing keys as private JWK files, 0600
//!   subject.key   HMAC secret of subject identifiers, 0600
//! ```
//!
//! Secrets are created atomically and never overwritten: written to a temporary file,
//! synced, then hard-linked into place (which fails if the name exists).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Paths inside one data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Names `root` without touching the disk (for read-only commands).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates `root` and `root/keys` (mode 0700) if missing.
    pub fn create(root: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = Self::new(root);
        create_private_dir(&dir.root)?;
        create_private_dir(&dir.keys_dir())?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("kelisim.db")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn subject_key_path(&self) -> PathBuf {
        self.root.join("subject.key")
    }

    /// Logs a warning for each part of the directory that group or others can open: the
    /// directories (an existing one keeps the mode it had) and the database with its WAL
    /// files, which hold the subject index, salts and token hashes. Key files warn when read.
    pub fn warn_if_not_private(&self) {
        let db = self.db_path();
        let mut paths = vec![self.root.clone(), self.keys_dir(), db.clone()];
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            paths.push(PathBuf::from(name));
        }
        for path in paths {
            warn_if_not_private(&path);
        }
    }
}

/// `mkdir -p`, with mode 0700 on the directories it creates.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates `path` with `contents` and mode 0600; fails with `AlreadyExists` if it exists.
/// A crash leaves either no file or the complete file, never a partial secret.
pub fn create_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("secret");
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", crate::hash::hex(&nonce)));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result?;
    sync_dir(dir);
    Ok(())
}

/// Makes a new directory entry durable; best effort (not every platform can open dirs).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Creates an empty file with mode 0600 if it does not exist, so SQLite's database (and the
/// WAL files it derives its mode from) are private.
pub fn touch_private(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Logs a warning if a secret file, or a directory holding secrets, is open to group or
/// others.
pub fn warn_if_not_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let (what, fix) = if meta.is_dir() {
                    ("directory", "700")
                } else {
                    ("file", "600")
                };
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "private {what} is open to group or others; run chmod {fix} on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_created_once_with_mode_0600() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::create(tmp.path().join("data")).expect("create");
        let path = dir.root().join("secret");
        create_private_file(&path, b"one").expect("first write");
        let again = create_private_file(&path, b"two").expect_err("never overwritten");
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).expect("read"), b"one");
        let leftovers: Vec<_> = fs::read_dir(dir.root())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files are removed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(dir.root()), 0o700);
            assert_eq!(mode(&dir.keys_dir()), 0o700);
        }
    }
}
