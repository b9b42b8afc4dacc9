//! Fuzzes the site config file (TOML → validated `Config`) and the public site document
//! rendered from it. Properties: nothing panics; a config that validates renders a JSON
//! document that parses and carries the site id, and validating is deterministic.
#![no_main]

#[path = "common.rs"]
mod common;

use kelisim_collector::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = common::demo_dir();
    let file = dir.join("kelisim.toml");
    let Ok(config) = Config::parse(text, &file, &dir) else {
        return;
    };
    for site in &config.sites {
        let view = site.public_view("http://127.0.0.1:8080");
        let json: serde_json::Value =
            serde_json::from_slice(&view.json).expect("the site document is JSON");
        assert_eq!(json["site"], site.id.as_str());
        assert_eq!(json["revision"], view.revision.as_str());
        let again = site.public_view("http://127.0.0.1:8080");
        assert_eq!(view.json, again.json, "rendering is deterministic");
    }
});
