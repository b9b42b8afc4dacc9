//! `cargo xtask test`: install what is missing, then every check and test the project has.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::install::{self, CHROMEDRIVER, CHROMIUM, cargo, run};
use crate::{bench, contract, dist, fuzz, soak};

/// Flags every test browser runs with (no network beyond loopback, no first-run UI).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// The API test modules that run a second time on PostgreSQL: everything that works through
/// the HTTP API, the admin API or the CLI. The others test SQLite itself (its file, its
/// backups, its disk faults, its schema history) or spawn processes on a SQLite store of
/// their own (crash, soak, witness, demo's own start).
const POSTGRES_SUITE: &[&str] = &[
    "admin::",
    "analytics::",
    "attacks::",
    "audit::",
    "cli::",
    "demo::",
    "events::",
    "health::",
    "jose::",
    "ops::",
    "page::",
    "receipts::",
    "reload::",
    "retention::",
    "security::",
    "site::",
    "transparency::",
    "widget::",
];

/// Tests of those modules that are about SQLite alone: a store frozen at an older SQLite
/// schema and migrated, and the database file's permissions.
const POSTGRES_SKIPS: &[&str] = &[
    "audit::a_schema_v1_database_is_upgraded_and_its_chain_continues",
    "audit::a_schema_v3_store_keeps_every_status_when_upgraded",
    "cli::erase_lists_and_carries_out_on_an_older_store_alike",
    "security::an_existing_data_directory_open_to_others_is_warned_about",
    "security::keys_secrets_and_the_database_are_owner_only",
];

pub fn all() -> Result<()> {
    // Seconds, and about the code's shape: first, before anything is installed or built.
    crate::tidy::tidy()?;
    install::wasm_target()?;
    install::chromium()?;
    let axe = install::axe()?;
    let vanilla = install::vanilla_cookieconsent()?;
    let rrweb = install::rrweb()?;
    let posthog = install::posthog()?;
    let stacks = install::stacks()?;
    let python = install::jwcrypto()?;
    let (nginx, caddy) = install::proxies()?;
    let postgresql = install::postgresql()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--package",
        "kelisim-widget",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The loader's pre-wasm rules on the table of cases the wasm's are tested with
    // (crates/widget-core/src/loader_rules.rs runs it under `cargo test`).
    run(Command::new("node")
        .args(["--test", "widget/js/rules.test.js"])
        .current_dir(crate::root()))?;
    dist::dist()?;
    run(cargo().args(["build", "--package", "kelisim-collector"]))?;
    // The shipped build's lints: `--all-targets` above builds the crate with its test hooks
    // (its tests depend on it with the `testing` feature); this is the build without them.
    run(cargo().args([
        "clippy",
        "--package",
        "kelisim-collector",
        "--lib",
        "--bins",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(["test", "--workspace"])
        .env(
            "KELISIM_TEST_COLLECTOR_BIN",
            crate::target_dir().join("debug/kelisim-collector"),
        )
        .env("KELISIM_TEST_WIDGET_DIR", crate::dist_dir())
        .env("KELISIM_TEST_CHROMIUM", CHROMIUM)
        .env("KELISIM_TEST_CHROMEDRIVER", CHROMEDRIVER)
        .env("KELISIM_TEST_AXE", axe)
        .env("KELISIM_TEST_VANILLA", vanilla)
        .env("KELISIM_TEST_RRWEB", rrweb)
        .env("KELISIM_TEST_POSTHOG", posthog)
        .env("KELISIM_TEST_STACKS", stacks)
        .env("KELISIM_TEST_PYTHON", &python)
        .env("KELISIM_TEST_NGINX", &nginx)
        .env("KELISIM_TEST_CADDY", &caddy)
        .env("KELISIM_TEST_PG_BIN", &postgresql))?;
    // The API, admin and CLI suites again, each collector on a PostgreSQL database of its
    // own in one cluster the tests start (tests/api/postgres.rs).
    run(cargo()
        .args([
            "test",
            "--package",
            "kelisim-collector",
            "--test",
            "api",
            "--",
        ])
        .args(POSTGRES_SUITE)
        .args(POSTGRES_SKIPS.iter().flat_map(|name| ["--skip", name]))
        .env("KELISIM_TEST_STORE", "postgres")
        .env("KELISIM_TEST_PG_BIN", &postgresql)
        .env("KELISIM_TEST_PYTHON", &python)
        .env("KELISIM_TEST_NGINX", &nginx)
        .env("KELISIM_TEST_CADDY", &caddy))?;
    // `cargo test` built the binary with the test hooks (the crate's tests enable `testing`);
    // the browser tests are done with it, and what is packaged is built as operators get it:
    // without them, which it must show by refusing each.
    run(cargo().args(["build", "--package", "kelisim-collector"]))?;
    soak::check_no_test_hooks(&soak::collector_bin())?;
    // The .deb and the OCI image of that debug build, installed and run (issue 17).
    crate::package::test()?;
    // Reliability (RELIABILITY.md): the API against its OpenAPI document, a 60 s soak alone on
    // the machine, and every fuzz target for a short while.
    contract::contract(&soak::collector_bin(), contract::MAX_EXAMPLES)?;
    soak::soak(60)?;
    fuzz::fuzz(fuzz::SMOKE_SECONDS, &[], fuzz::Build::Smoke)?;
    // The benchmark's pipeline (wrk, audit of what it stored), short and on the debug build
    // with the test hooks.
    soak::testing_collector(false)?;
    bench::bench(&bench::Options {
        build: false,
        ..bench::Options::smoke()
    })?;
    // The admin benchmark's pipeline on a small generated store.
    crate::bench_admin::bench_admin(5_000, true, false)?;
    crate::bench_admin::bench_admin(5_000, true, true)?;
    wasm()?;
    eprintln!("xtask: every check and test passed");
    Ok(())
}

/// The widget's in-browser unit tests, through wasm-bindgen-test in headless Chromium.
pub fn wasm() -> Result<()> {
    install::wasm_target()?;
    install::chromium()?;
    let xtask = std::env::current_exe().context("cannot locate the xtask binary")?;
    let caps = webdriver_json()?;
    run(cargo()
        .args([
            "test",
            "--package",
            "kelisim-widget",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            format!("{} wasm-bindgen-test-runner", xtask.display()),
        )
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &caps)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "60"))
}

/// Capabilities for the test runner's chromedriver: our Chromium, our flags, a fresh profile.
fn webdriver_json() -> Result<PathBuf> {
    let dir = crate::target_dir().join("wasm-test");
    let profile = dir.join("profile");
    let _ = fs::remove_dir_all(&profile);
    fs::create_dir_all(&profile)?;
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| format!("\"{s}\"")).collect();
    args.push(format!("\"--user-data-dir={}\"", profile.display()));
    let json = format!(
        "{{\"goog:chromeOptions\":{{\"binary\":\"{CHROMIUM}\",\"args\":[{}]}}}}",
        args.join(",")
    );
    let path = dir.join("webdriver.json");
    fs::write(&path, json)?;
    Ok(path)
}
