//! A capture endpoint on loopback that stands in for the backends of real session recorders
//! and trackers (rrweb's `emit` posted by a test page, posthog-js pointed at it with
//! `api_host`), so a test can read everything they sent.
//!
//! It answers CORS preflights for any origin, PostHog's remote config and feature-flag
//! requests with session recording on (its only server-side switch), and anything else with
//! `{"status":1}`. Bodies are kept decoded: gzip (PostHog's `compression=gzip-js`, or native
//! `gzip`) is inflated, and so is any JSON string holding gzip as byte-valued characters
//! (PostHog's recorder sends each snapshot's `data` that way); a JSON body is re-serialised so
//! `\u` escapes read as the characters they stand for. A minimal HTTP/1.1 server on tokio, one request per connection, like
//! [`crate::Site`].

use std::io::Read;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The body, inflated and with JSON escapes resolved (see the module doc).
    pub body: String,
}

impl Captured {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

pub struct Capture {
    pub url: String,
    received: Arc<Mutex<Vec<Captured>>>,
    task: JoinHandle<()>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Capture {
    /// Starts the endpoint on a free loopback port.
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let received = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, &received).await;
                });
            }
        });
        Ok(Self {
            url,
            received,
            task,
        })
    }

    /// Every request so far (preflights aside), in arrival order.
    pub fn received(&self) -> Vec<Captured> {
        lock(&self.received).clone()
    }

    /// The requests so far whose path starts with `prefix`.
    pub fn received_at(&self, prefix: &str) -> Vec<Captured> {
        self.received()
            .into_iter()
            .filter(|c| c.path().starts_with(prefix))
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// PostHog's remote config (`/array/{token}/config`) and flags (`/flags/`): session recording
/// on, with its endpoint, and the compressions the endpoint can read.
fn posthog_config() -> Value {
    json!({
        "supportedCompression": ["gzip", "gzip-js"],
        "autocapture_opt_out": false,
        "capturePerformance": false,
        "sessionRecording": { "endpoint": "/s/" },
        "hasFeatureFlags": false,
        "featureFlags": {},
        "featureFlagPayloads": {},
        "flags": {},
        "errorsWhileComputingFlags": false,
        "quotaLimited": [],
        "requestId": "kelisim-test",
    })
}

async fn serve(mut stream: TcpStream, received: &Mutex<Vec<Captured>>) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        anyhow::ensure!(buf.len() <= 65_536, "request head too large");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().to_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let origin = header("origin").unwrap_or_else(|| "*".to_owned());
    let cors = format!(
        "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\n\
         Access-Control-Allow-Methods: GET, POST, OPTIONS\r\nAccess-Control-Allow-Headers: {}\r\n\
         Vary: Origin\r\n",
        header("access-control-request-headers").unwrap_or_else(|| "content-type".to_owned())
    );
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let (status, answer) = if method == "OPTIONS" {
        ("204 No Content", String::new())
    } else {
        lock(received).push(Captured {
            method: method.clone(),
            target: target.clone(),
            body: decode(&body),
        });
        let remote_config = path.starts_with("/array/") && path.ends_with("/config");
        if path.starts_with("/flags") || path.starts_with("/decide") || remote_config {
            ("200 OK", posthog_config().to_string())
        } else if path.ends_with(".js") {
            // PostHog's remote config as a script: refused, so it falls back to the JSON.
            ("404 Not Found", String::new())
        } else {
            ("200 OK", json!({ "status": 1 }).to_string())
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cors}\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

/// The body as text: inflated if it is gzip, JSON re-serialised (escapes resolved, gzipped
/// strings inflated), or else as UTF-8 (lossy).
fn decode(body: &[u8]) -> String {
    let inflated = gunzip(body).unwrap_or_else(|| body.to_vec());
    let text = String::from_utf8_lossy(&inflated).into_owned();
    match serde_json::from_str::<Value>(&text) {
        Ok(mut value) => {
            inflate_strings(&mut value);
            value.to_string()
        }
        Err(_) => text,
    }
}

/// Replaces every string that is gzip written as one character per byte (fflate's
/// `strFromU8(…, true)`) with what it inflates to, parsed as JSON where it is JSON.
fn inflate_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.starts_with("\u{1f}\u{8b}") => {
            let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c).ok()).collect();
            if let Some(inner) = bytes.as_deref().and_then(gunzip) {
                let text = String::from_utf8_lossy(&inner).into_owned();
                *value = match serde_json::from_str::<Value>(&text) {
                    Ok(mut parsed) => {
                        inflate_strings(&mut parsed);
                        parsed
                    }
                    Err(_) => Value::String(text),
                };
            }
        }
        Value::Array(items) => items.iter_mut().for_each(inflate_strings),
        Value::Object(map) => map.values_mut().for_each(inflate_strings),
        _ => {}
    }
}

fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .context("gzip body")
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bodies_are_inflated_and_json_escapes_resolved() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"[{"event":"x","properties":{"name":"\u04d8\u043b\u0438\u044f"}}]"#)
            .expect("gzip");
        let body = gz.finish().expect("gzip");
        assert_eq!(
            decode(&body),
            r#"[{"event":"x","properties":{"name":"Әлия"}}]"#
        );
        assert_eq!(decode(b"plain text"), "plain text");
        // A gzipped string inside JSON, one character per byte, as PostHog's recorder sends.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("{\"text\":\"Құрманғазы\"}".as_bytes())
            .expect("gzip");
        let latin1: String = gz
            .finish()
            .expect("gzip")
            .into_iter()
            .map(char::from)
            .collect();
        let body = json!([{"event": "$snapshot", "data": latin1}]).to_string();
        assert_eq!(
            decode(body.as_bytes()),
            r#"[{"event":"$snapshot","data":{"text":"Құрманғазы"}}]"#
        );
        assert_eq!(decode(&[0x1f, 0x8b, 0]), "\u{1f}\u{fffd}\u{0}");
    }
}
