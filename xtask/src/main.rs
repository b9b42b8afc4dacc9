//! `cargo xtask`: the build steps cargo alone cannot express (wasm pipeline, demo, full test run).

mod dist;
mod install;
mod run;
mod test;

use std::path::{Path, PathBuf};

use anyhow::Result;
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
        Command::Demo { port, data_dir } => run::demo(port, &data_dir),
        Command::Test => test::all(),
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
