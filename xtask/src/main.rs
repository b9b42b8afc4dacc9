//! `cargo xtask`: the build steps cargo alone cannot express (wasm pipeline, demo, release
//! packages, full test run, the benchmarks).

mod bench;
mod bench_admin;
mod bench_shield;
mod contract;
mod dist;
mod fuzz;
mod install;
mod package;
mod run;
mod soak;
mod test;
mod tidy;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::install::run;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Kelisim build pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the shipped widget into dist/ and report its sizes.
    Dist,
    /// Build what operators install into target/package/: the static collector with the
    /// widget built in, a .deb and an OCI image.
    Package {
        /// Then install the .deb on this machine, run its service as the unit does, remove
        /// and purge it, and run the image (root; the test `cargo xtask test` runs on the
        /// debug build).
        #[arg(long)]
        check: bool,
    },
    /// The package test of `test` alone: the debug build packaged, installed and run (root).
    PackageTest,
    /// Build everything and serve the demo site with the collector.
    Demo {
        /// Port on 127.0.0.1 to serve the demo on.
        #[arg(long, env = "KELISIM_PORT", default_value_t = 8080)]
        port: u16,
        /// Directory for the SQLite database, keys and secrets.
        #[arg(long, env = "KELISIM_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Install what the tests need, then run every check and test.
    Test,
    /// Benchmark the collector with wrk: receipts/s, p50/p99, ratio to a trivial POST.
    Bench {
        /// Short runs against the debug build: checks the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
        /// Seconds per measured run.
        #[arg(long, default_value_t = 15)]
        duration: u32,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 3)]
        warmup: u32,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: u32,
        /// wrk threads.
        #[arg(long, default_value_t = 2)]
        threads: u32,
        /// Benchmark this collector binary instead of building the release one (e.g. the
        /// shipped target/package/kelisim-collector; without the test hooks, so no echo
        /// baseline).
        #[arg(long, value_name = "BINARY")]
        collector: Option<PathBuf>,
        /// Also on PostgreSQL, in the same sitting: one collector, then two sharing one
        /// database (a cluster is started on loopback for it).
        #[arg(long)]
        postgres: bool,
    },
    /// Benchmark the admin side over a generated store: page and subject queries, export.
    BenchAdmin {
        /// Receipts in the generated store (BENCHMARKS.md uses 1 000 000).
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Debug build and fewer queries: checks the benchmark works (CI).
        #[arg(long)]
        smoke: bool,
        /// On PostgreSQL (a cluster started on loopback for the run) instead of SQLite.
        #[arg(long)]
        postgres: bool,
    },
    /// Benchmark the analytics shield: wrapped against unwrapped dataLayer.push in Chromium.
    BenchShield {
        /// Measured rounds (500 ms per side each).
        #[arg(long, default_value_t = bench_shield::ROUNDS)]
        rounds: u32,
    },
    /// Fuzz every input parser with libFuzzer (nightly, installed if missing).
    Fuzz {
        /// Minutes per target.
        #[arg(long, default_value_t = 5, conflicts_with = "seconds")]
        minutes: u64,
        /// Seconds per target instead (the smoke run in `test` uses 20).
        #[arg(long)]
        seconds: Option<u64>,
        /// Only these targets (default: all).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// The CI smoke run of `test`: the quick-to-build profile, 20 s per target (the widget's 10 s).
        #[arg(long, conflicts_with_all = ["minutes", "seconds"])]
        smoke: bool,
    },
    /// Test the HTTP API against its OpenAPI document with schemathesis.
    Contract {
        /// Examples per operation and phase.
        #[arg(long, default_value_t = contract::MAX_EXAMPLES)]
        max_examples: u32,
    },
    /// Run the soak test: steady mixed load on the collector, memory, latency, audit.
    Soak {
        /// How long (`test` runs 60 s; the documented long run is 600).
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
    /// Check the architecture rules: the collector's layering and import cycles, `//!`
    /// headers, file lengths.
    Tidy,
    /// Run the widget's wasm tests in headless Chromium.
    WasmTest,
    /// Runner for `cargo test --target wasm32-unknown-unknown` (set by `wasm-test`).
    #[command(hide = true)]
    WasmBindgenTestRunner {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dist => dist::dist().map(drop),
        Command::Package { check } => package::package(check),
        Command::PackageTest => dist::dist()
            .and_then(|_| run(install::cargo().args(["build", "--package", "kelisim-collector"])))
            .and_then(|()| package::test()),
        Command::Demo { port, data_dir } => run::demo(port, &data_dir),
        Command::Test => test::all(),
        Command::Bench {
            smoke,
            duration,
            warmup,
            connections,
            threads,
            collector,
            postgres,
        } => bench::bench(&if smoke {
            bench::Options {
                postgres,
                ..bench::Options::smoke()
            }
        } else {
            bench::Options {
                duration,
                warmup,
                connections,
                threads,
                smoke,
                build: collector.is_none(),
                collector,
                postgres,
            }
        }),
        Command::BenchAdmin {
            count,
            smoke,
            postgres,
        } => bench_admin::bench_admin(count, smoke, postgres),
        Command::BenchShield { rounds } => bench_shield::bench_shield(rounds),
        Command::Fuzz {
            minutes,
            seconds,
            targets,
            smoke,
        } => {
            if smoke {
                fuzz::fuzz(fuzz::SMOKE_SECONDS, &targets, fuzz::Build::Smoke)
            } else {
                fuzz::fuzz(
                    seconds.unwrap_or(minutes * 60),
                    &targets,
                    fuzz::Build::Release,
                )
            }
        }
        Command::Contract { max_examples } => {
            run(install::cargo().args(["build", "--package", "kelisim-collector"]))
                .and_then(|()| contract::contract(&soak::collector_bin(), max_examples))
        }
        Command::Soak { seconds } => soak::soak(seconds),
        Command::Tidy => tidy::tidy(),
        Command::WasmTest => test::wasm(),
        Command::WasmBindgenTestRunner { args } => {
            let argv = std::iter::once("wasm-bindgen-test-runner".to_string()).chain(args);
            wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(argv)
        }
    };
    if let Err(err) = &result {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
    Ok(())
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root().join(dir))
        .unwrap_or_else(|| root().join("target"))
}

/// Where `cargo xtask dist` writes the shipped widget.
pub fn dist_dir() -> PathBuf {
    root().join("dist")
}
