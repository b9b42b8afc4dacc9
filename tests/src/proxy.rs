//! Debian's nginx in front of a collector, on loopback, with the project's own site config
//! (`deploy/nginx.conf`) and a self-signed certificate made with openssl for this run: the
//! TLS setup `docs/deploy.md` tells operators to use, as a test can run it.
//!
//! The shipped file is used as it is, except for what only a test can know, each replaced by
//! a named edit that fails if the file no longer has the line (so the test follows the file):
//! the collector's port, loopback ports instead of 80 and 443 (no IPv6 listeners), and the
//! certificate's paths. The process is stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::process::Child;

use crate::root;

pub struct Nginx {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The certificate (its own CA: self-signed), for `curl --cacert`.
    pub cert: PathBuf,
    /// base64 SHA-256 of the certificate's public key, for Chromium's
    /// `--ignore-certificate-errors-spki-list` (trusts this one key, nothing else).
    pub spki: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// The nginx binary (`cargo xtask test` installs Debian's nginx).
pub fn nginx_binary() -> PathBuf {
    crate::env_path("KELISIM_TEST_NGINX", "/usr/sbin/nginx")
}

impl Nginx {
    /// Starts nginx with `deploy/nginx.conf` in front of the collector on `upstream_port`.
    pub async fn start(upstream_port: u16) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        // nginx's workers run as www-data when the master is root: they must reach the dir.
        set_mode(dir.path(), 0o755)?;
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &cert.to_string_lossy(),
        ])?;
        let spki = spki_hash(&cert)?;

        let port = free_port()?;
        let http_port = free_port()?;
        let site = site_config(upstream_port, port, http_port, &cert, &key)?;
        std::fs::write(dir.path().join("kelisim.conf"), site)?;
        let main = main_config(dir.path());
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main)?;

        let test = Command::new(nginx_binary())
            .arg("-t")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .output()
            .context("cannot run nginx (cargo xtask test installs Debian's nginx)")?;
        ensure!(
            test.status.success(),
            "nginx -t refuses the config: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = tokio::process::Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start nginx")?;
        let nginx = Self {
            url: format!("https://127.0.0.1:{port}"),
            cert,
            spki,
            child,
            dir,
        };
        crate::wait::until("nginx to listen", Duration::from_secs(10), || async {
            Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(drop))
        })
        .await?;
        Ok(nginx)
    }

    /// `curl` over HTTPS to this nginx, trusting its certificate only, from the loopback
    /// address `from` (127.0.0.2, 127.0.0.3, …: distinct visitors as nginx sees them), with
    /// `args` added (headers, a method, a body).
    pub fn curl(&self, path: &str, from: &str, args: &[&str]) -> Result<Fetched> {
        let headers = tempfile::NamedTempFile::new()?;
        let body = tempfile::NamedTempFile::new()?;
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--http2", "--max-time", "10"])
            .arg("--cacert")
            .arg(&self.cert)
            .args(["--interface", from])
            .arg("--dump-header")
            .arg(headers.path())
            .arg("--output")
            .arg(body.path())
            .args(["--write-out", "%{http_code} %{http_version}"])
            .args(args)
            .arg(format!("{}{path}", self.url))
            .output()
            .context("cannot run curl")?;
        ensure!(
            out.status.success(),
            "curl {path} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, version) = written
            .split_once(' ')
            .with_context(|| format!("curl wrote {written:?}"))?;
        let headers = std::fs::read_to_string(headers.path())?
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Ok(Fetched {
            status: status.parse().context("status code")?,
            http_version: version.to_owned(),
            headers,
            body: std::fs::read(body.path())?,
        })
    }

    /// nginx's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Stops nginx (SIGQUIT: graceful) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .context("nginx did not stop within 10 s")??;
        Ok(())
    }
}

/// One answer as curl received it.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    /// `2` for HTTP/2.
    pub http_version: String,
    /// Lower-case names, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `deploy/nginx.conf` with the test's ports and certificate.
fn site_config(
    upstream: u16,
    port: u16,
    http_port: u16,
    cert: &Path,
    key: &Path,
) -> Result<String> {
    let mut text =
        std::fs::read_to_string(root().join("deploy/nginx.conf")).context("deploy/nginx.conf")?;
    let edits = [
        (
            "server 127.0.0.1:8080;",
            format!("server 127.0.0.1:{upstream};"),
        ),
        ("listen 80;", format!("listen 127.0.0.1:{http_port};")),
        ("listen [::]:80;", String::new()),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{port} ssl http2;"),
        ),
        ("listen [::]:443 ssl http2;", String::new()),
        (
            "/etc/letsencrypt/live/consent.example.kz/fullchain.pem",
            cert.display().to_string(),
        ),
        (
            "/etc/letsencrypt/live/consent.example.kz/privkey.pem",
            key.display().to_string(),
        ),
    ];
    for (from, to) in edits {
        if text.matches(from).count() != 1 {
            bail!(
                "deploy/nginx.conf no longer has `{from}` exactly once; update tests/src/proxy.rs"
            );
        }
        text = text.replace(from, &to);
    }
    Ok(text)
}

/// The surrounding `nginx.conf`: what Debian's /etc/nginx/nginx.conf provides, kept in `dir`.
fn main_config(dir: &Path) -> String {
    let d = dir.display();
    // Debian's nginx runs its workers as www-data; a non-root nginx cannot switch users.
    let user = if is_root() { "user www-data;\n" } else { "" };
    format!(
        "{user}worker_processes 1;\n\
         daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         \x20   include /etc/nginx/mime.types;\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   include {d}/kelisim.conf;\n\
         }}\n"
    )
}

fn openssl(args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("cannot run openssl (Debian's openssl package)")?;
    ensure!(
        out.status.success(),
        "openssl {} failed: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of the certificate, as Chromium wants it.
fn spki_hash(cert: &Path) -> Result<String> {
    let pubkey = openssl(&["x509", "-in", &cert.to_string_lossy(), "-pubkey", "-noout"])?;
    let mut child = Command::new("sh")
        .args([
            "-c",
            "openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .context("openssl stdin")?
            .write_all(&pubkey)?;
    }
    let out = child.wait_with_output()?;
    ensure!(out.status.success(), "hashing the certificate's key failed");
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
