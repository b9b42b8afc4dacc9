//! Receipts made by the demo verify with Python's jwcrypto — a JOSE implementation that
//! shares nothing with ours — against the published JWKS, before and after `keys rotate`
//! is picked up by the running collector on SIGHUP. A tampered receipt must fail there too.
//!
//! The Python comes from `KELISIM_TEST_PYTHON` (set by `cargo xtask test`, which installs
//! jwcrypto into `.tools/py`); without it, `python3` must have jwcrypto. Nothing is skipped:
//! if neither works, the test fails and says how to fix it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{demo_site, get, post, run, spawn_demo, stderr, stdout};
use crate::support::fixture;

/// A Python interpreter that can `import jwcrypto`.
fn python() -> PathBuf {
    let (python, source) = match std::env::var_os("KELISIM_TEST_PYTHON") {
        Some(p) => (PathBuf::from(p), "KELISIM_TEST_PYTHON"),
        None => (PathBuf::from("python3"), "python3 on PATH"),
    };
    let ok = Command::new(&python)
        .args(["-c", "import jwcrypto"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} ({source}) cannot import jwcrypto, the independent JOSE library this test \
         verifies receipts with; run `cargo xtask test` (it installs jwcrypto into \
         .tools/py and sets KELISIM_TEST_PYTHON) or `pip install jwcrypto==1.6.1`",
        python.display()
    );
    python
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jwcrypto_verify.py")
}

fn jwks_kids(base: &str) -> Vec<String> {
    let (status, body) = get(&format!("{base}/.well-known/jwks.json"));
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JWKS JSON");
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn receipt(base: &str, key: &str) -> String {
    let body =
        fixture("receipt_request_form_given.json").replace("0b6a3c1e9d2f4a7b8c5d6e7f8091a2b3", key);
    let (status, text) = post(&format!("{base}/v1/receipts"), "application/json", &body);
    assert_eq!(status, 201, "{text}");
    jws_of(&text)
}

fn withdraw(base: &str, target: &str, key: &str) -> String {
    let (status, text) = post(
        &format!("{base}/v1/receipts/{target}/withdraw"),
        "application/json",
        &format!(
            r#"{{"key":"{key}","secret":"{}"}}"#,
            crate::support::FORM_SECRET
        ),
    );
    assert_eq!(status, 201, "{text}");
    jws_of(&text)
}

fn jws_of(answer: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(answer).expect("JSON answer");
    json["jws"].as_str().expect("jws").to_owned()
}

/// Runs the jwcrypto script; returns (success, one parsed JSON line per verified receipt).
fn verify_in_python(
    python: &Path,
    dir: &Path,
    jwks: &str,
    tokens: &[String],
) -> (bool, Vec<serde_json::Value>, String) {
    let jwks_file = dir.join("jwks.json");
    let tokens_file = dir.join("receipts.txt");
    std::fs::write(&jwks_file, jwks).expect("write jwks");
    std::fs::write(&tokens_file, tokens.join("\n")).expect("write receipts");
    let out = Command::new(python)
        .arg(script())
        .arg(&jwks_file)
        .arg(&tokens_file)
        .output()
        .expect("python runs");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_receipts_verify_with_jwcrypto_before_and_after_a_key_rotation() {
    let python = python();
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = demo_site(tmp.path());
    let data = tmp.path().join("data");
    let server = spawn_demo(&data, &site, tmp.path());
    let base = server.base.clone();

    let old_kids = jwks_kids(&base);
    assert_eq!(old_kids.len(), 1);
    let first = "a0000000000000000000000000000001";
    let mut tokens = vec![
        receipt(&base, first),
        receipt(&base, "a0000000000000000000000000000002"),
    ];

    // Rotate on disk, then tell the running collector.
    let out = run(&["keys", "rotate", "--data-dir", data.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("SIGHUP"), "{}", stdout(&out));
    server.signal("HUP");
    // The new key is listed first once the writer signs with it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let new_kid = loop {
        let kids = jwks_kids(&base);
        if kids.len() == 2 && kids[0] != old_kids[0] {
            assert_eq!(kids[1], old_kids[0], "the old key stays published");
            break kids[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not pick up the rotated key; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    tokens.push(receipt(&base, "a0000000000000000000000000000003"));
    // A consent given under the old key, withdrawn under the new one.
    tokens.push(withdraw(&base, first, "a0000000000000000000000000000004"));

    let (_, jwks) = get(&format!("{base}/.well-known/jwks.json"));
    let (ok, verified, err) = verify_in_python(&python, tmp.path(), &jwks, &tokens);
    assert!(ok, "jwcrypto refused a receipt: {err}");
    let seen: Vec<(String, i64, String)> = verified
        .iter()
        .map(|v| {
            assert_eq!(
                (v["alg"].as_str(), v["typ"].as_str()),
                (Some("EdDSA"), Some("kelisim-receipt+jws"))
            );
            (
                v["kid"].as_str().expect("kid").to_owned(),
                v["seq"].as_i64().expect("seq"),
                v["event"].as_str().expect("event").to_owned(),
            )
        })
        .collect();
    let old = &old_kids[0];
    assert_eq!(
        seen,
        [
            (old.clone(), 1, "given".to_owned()),
            (old.clone(), 2, "given".to_owned()),
            (new_kid.clone(), 3, "given".to_owned()),
            (new_kid.clone(), 4, "withdrawn".to_owned()),
        ]
    );

    // The control: jwcrypto must reject an altered receipt.
    let mut parts: Vec<String> = tokens[2].split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let (ok, _, err) = verify_in_python(&python, tmp.path(), &jwks, &[parts.join(".")]);
    assert!(!ok, "jwcrypto accepted a tampered receipt");
    assert!(err.contains("does not verify"), "{err}");

    assert!(server.terminate().success());
    let out = run(&["audit", "--data-dir", data.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stdout(&out));
}
