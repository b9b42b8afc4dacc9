//! A real PostgreSQL for Kelisim's tests and benchmarks: Debian's server (`postgresql`,
//! installed by `cargo xtask test`), a fresh cluster made by `initdb` in a temporary
//! directory, listening on a free loopback port, with password authentication over TCP, and
//! streaming-replication standbys of it. PostgreSQL refuses to run as root, so under root the
//! cluster belongs to an unprivileged system user created here.
//!
//! The server is started (by setpriv(1), util-linux) with a parent-death signal: when the
//! thread that started it ends the postmaster is stopped, so a failed or interrupted run
//! leaves no server behind (a cluster meant to outlive one test is started from a thread
//! that lives as long as the process). [`Cluster`] also stops it on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser's name and password in every test cluster.
pub const USER: &str = "kelisim";
pub const PASSWORD: &str = "test-only-password";

/// The system user a cluster runs as when the tests run as root.
const SYSTEM_USER: &str = "kelisim-test-pg";

/// The directory of Debian's server binaries: `KELISIM_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` with an `initdb`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KELISIM_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    installed_bin_dir().expect(
        "PostgreSQL's server is not installed (Debian: apt-get install postgresql; \
         `cargo xtask test` does it)",
    )
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`, if any.
pub fn installed_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// A running test cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    owner: Option<(u32, u32)>,
}

impl Cluster {
    /// `initdb` and start a new cluster.
    pub fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("kelisim-pg-")
            .tempdir()
            .expect("tempdir");
        let owner = unprivileged_owner();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        if let Some((uid, gid)) = owner {
            chown(dir.path(), uid, gid);
            chown(&pwfile, uid, gid);
        }
        let mut initdb = owned(&bin_dir().join("initdb"), owner);
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "-E", "UTF8", "--no-locale", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdout(Stdio::null());
        let status = initdb.status().expect("run initdb");
        assert!(status.success(), "initdb failed");
        let mut cluster = Cluster {
            dir,
            port: free_port(),
            child: None,
            owner,
        };
        cluster.run();
        cluster
    }

    /// Starts the server on the cluster's port and waits until it answers.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let data = self.dir.path().join("data");
        let mut postgres = owned(&bin_dir().join("postgres"), self.owner);
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.path().join("server.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            );
        self.child = Some(postgres.spawn().expect("start postgres"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = self.url("postgres");
        let answers = || {
            std::thread::scope(|s| {
                s.spawn(|| postgres::Client::connect(&url, postgres::NoTls).is_ok())
                    .join()
                    .unwrap_or(false)
            })
        };
        loop {
            if answers() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not answer within 60 s; see {}",
                self.dir.path().join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The URL of database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "kelisim_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.execute("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs `sql` on database `db` (a name, or a URL) as the superuser.
    pub fn execute(&self, db: &str, sql: &str) {
        let url = if db.starts_with("postgres://") {
            db.to_owned()
        } else {
            self.url(db)
        };
        execute(&url, sql);
    }

    /// Fast shutdown (SIGINT: clients are disconnected, the server stops cleanly).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// kill -9 of the postmaster (its backends exit when they notice).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A streaming-replication standby of this cluster (`pg_basebackup -R`), started on a
    /// port of its own.
    pub fn standby(&self) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("kelisim-pg-standby-")
            .tempdir()
            .expect("tempdir");
        if let Some((uid, gid)) = self.owner {
            chown(dir.path(), uid, gid);
        }
        let conninfo = format!(
            "host=127.0.0.1 port={} user={USER} password={PASSWORD}",
            self.port
        );
        let status = owned(&bin_dir().join("pg_basebackup"), self.owner)
            .arg("-D")
            .arg(dir.path().join("data"))
            .args([
                "-d",
                &conninfo,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ])
            .status()
            .expect("run pg_basebackup");
        assert!(status.success(), "pg_basebackup failed");
        let mut standby = Cluster {
            dir,
            port: free_port(),
            child: None,
            owner: self.owner,
        };
        standby.run();
        standby
    }

    /// `pg_ctl promote`: a standby becomes a primary.
    pub fn promote(&self) {
        let status = owned(&bin_dir().join("pg_ctl"), self.owner)
            .args(["promote", "-w", "-D"])
            .arg(self.dir.path().join("data"))
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl");
        assert!(status.success(), "pg_ctl promote failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Under root: the uid and gid of the unprivileged system user the cluster runs as,
/// created if missing. `None` when the tests already run unprivileged.
fn unprivileged_owner() -> Option<(u32, u32)> {
    let euid = Command::new("id").arg("-u").output().expect("run id");
    if String::from_utf8_lossy(&euid.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, SYSTEM_USER]).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .flatten()
    };
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ])
            .status()
            .expect("run useradd");
        // Another test process may have created it meanwhile.
        assert!(status.success() || id("-u").is_some(), "useradd failed");
    }
    Some((id("-u").expect("uid"), id("-g").expect("gid")))
}

/// `program` run through setpriv(1): as `owner` if given, and killed when the thread that
/// started it ends (its parent-death signal, set after the change of user so it holds).
fn owned(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut command = Command::new("setpriv");
    if let Some((uid, gid)) = owner {
        command.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
        ]);
    }
    command.args(["--pdeathsig", "KILL", "--"]).arg(program);
    command
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `sql` (statements) on the database at `url`, to look at or tamper with a store; on
/// a thread of its own, since the blocking client cannot run inside the tests' runtime.
pub fn execute(url: &str, sql: &str) {
    std::thread::scope(|s| {
        s.spawn(|| {
            postgres::Client::connect(url, postgres::NoTls)
                .expect("connect")
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        })
        .join()
        .expect("sql ran");
    });
}

/// The first column of the first row of `sql` on the database at `url`, as text.
pub fn query_text(url: &str, sql: &str) -> Option<String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            postgres::Client::connect(url, postgres::NoTls)
                .expect("connect")
                .query_opt(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .map(|row| row.get::<_, String>(0))
        })
        .join()
        .expect("sql ran")
    })
}
