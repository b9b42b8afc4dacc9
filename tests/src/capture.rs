//! A capture endpoint on loopback that stands in for the backends of real session recorders
//! and trackers (rrweb's `emit` posted by a test page, posthog-js pointed at it with
//! `api_host`), so a test can read everything they sent.
//!
//! It answers CORS preflights for any origin, PostHog's remote config and feature-flag
//! requests with session recording on (its only server-side switch), and anything else with
//! `{"status":1}`. Bodies are kept decoded: gzip (PostHog's `compression=gzip-js`, or native
//! `gzip`) is inflated, and so is any JSON string holding gzip as byte-valued characters
//! (PostHog's recorder sends each snapshot's `data` that way); a JSON body is re-serialised so
//! `\u` escapes read as the characters they stand for. A minimal HTTP/1.1 server (the harness's
//! `http` module), like [`crate::Site`].

use std::io::Read;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::http::{Server, lock, read_request, respond};

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
    _server: Server,
}

impl Capture {
    /// Starts the endpoint on a free loopback port.
    pub async fn start() -> Result<Self> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        let server = Server::start(move |stream| {
            let received = Arc::clone(&shared);
            async move { serve(stream, &received).await }
        })
        .await?;
        Ok(Self {
            url: server.url.clone(),
            received,
            _server: server,
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
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let origin = request.header("origin").unwrap_or("*");
    let cors = format!(
        "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\n\
         Access-Control-Allow-Methods: GET, POST, OPTIONS\r\nAccess-Control-Allow-Headers: {}\r\n\
         Vary: Origin\r\n",
        request
            .header("access-control-request-headers")
            .unwrap_or("content-type")
    );
    let path = request.path();
    let (status, answer) = if request.method == "OPTIONS" {
        ("204 No Content", String::new())
    } else {
        lock(received).push(Captured {
            method: request.method.clone(),
            target: request.target.clone(),
            body: decode(&request.body),
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
    respond(
        &mut stream,
        status,
        "application/json",
        &cors,
        answer.as_bytes(),
    )
    .await
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
