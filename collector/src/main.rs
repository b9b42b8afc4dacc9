//! `kelisim-collector` binary: parse the command line, run one command, map the outcome to
//! an exit status (0 ok; 1 a negative verdict: invalid receipt, broken log; 2 could not run).

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
#[cfg(feature = "testing")]
use kelisim_collector::cli::benchgen;
use kelisim_collector::cli::{
    Cli, Command, ConfigCommand, DataDirArgs, KeysCommand, ListArgs, ReceiptsCommand, StoreCommand,
    StoreCopyArgs, TokensCommand, VerifyArgs,
};
use kelisim_collector::cli::{admin as admin_cli, backup, report};
use kelisim_collector::config::StoreConfig;
use kelisim_collector::keys::{KeyError, Keyring};
use kelisim_collector::log::audit;
use kelisim_collector::log::tree_check;
use kelisim_collector::ops::datadir::DataDir;
use kelisim_collector::receipt::verify;
use kelisim_collector::store;
use kelisim_collector::web::app::MetricsAt;
use kelisim_collector::web::demo;
use kelisim_collector::web::reload;
use kelisim_collector::web::server::{Launch, launch};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let long_running = matches!(cli.command, Command::Serve(_) | Command::Demo(_));
    init_tracing(if long_running { "info" } else { "warn" });
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kelisim: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr (stdout carries the `listening on` lines and command output);
/// `RUST_LOG` overrides the level. Colours only on a terminal: a journal or a log file gets
/// plain text (and `NO_COLOR` turns them off everywhere, as https://no-color.org asks).
fn init_tracing(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            launch(Launch {
                config: args.config,
                data_dir: args.data_dir,
                listen: args.listen,
                widget_dir: args.widget_dir,
                demo_dir: None,
                metrics: args
                    .metrics_listen
                    .map_or(MetricsAt::Nowhere, MetricsAt::Listener),
                store: args.store,
                #[cfg(feature = "testing")]
                bench_endpoints: args.bench_endpoints,
                #[cfg(feature = "testing")]
                fault_file: args.fault_file,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            launch(Launch {
                config: demo::config_path(&args.demo_dir),
                data_dir: args.data_dir,
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
                widget_dir: args.widget_dir,
                demo_dir: Some(args.demo_dir),
                // The demo listens on loopback only.
                metrics: MetricsAt::Everywhere,
                // The demo needs no database server: its data directory's SQLite file.
                store: Some(StoreConfig::Sqlite),
                #[cfg(feature = "testing")]
                bench_endpoints: false,
                #[cfg(feature = "testing")]
                fault_file: None,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => Ok(verify_command(&args)),
        Command::Receipts(ReceiptsCommand::List(args)) => list(&args),
        Command::Receipts(ReceiptsCommand::Show(args)) => done(admin_cli::show(&args)),
        Command::Receipts(ReceiptsCommand::Export(args)) => done(admin_cli::export(&args)),
        Command::Receipts(ReceiptsCommand::Stats(args)) => done(admin_cli::stats(&args)),
        Command::Tokens(TokensCommand::Create(args)) => done(admin_cli::token_create(&args)),
        Command::Tokens(TokensCommand::List(args)) => done(admin_cli::token_list(&args)),
        Command::Tokens(TokensCommand::Revoke(args)) => done(admin_cli::token_revoke(&args)),
        Command::Purge(args) => done(admin_cli::purge(&args)),
        Command::Erase(args) => done(admin_cli::erase(&args)),
        Command::Backup(args) => done(backup::backup_command(&args).map_err(Into::into)),
        Command::Restore(args) => done(backup::restore_command(&args).map_err(Into::into)),
        Command::Config(ConfigCommand::Check(args)) => Ok(reload::check_command(&args.file)),
        #[cfg(feature = "testing")]
        Command::BenchGenerate(args) => done(benchgen::generate(&args)),
        #[cfg(feature = "testing")]
        Command::BenchAdmin(args) => done(benchgen::measure(&args)),
        Command::Audit(args) => audit_command(&args),
        Command::Store(StoreCommand::Copy(args)) => store_copy(&args),
        Command::Keys(KeysCommand::Generate(args)) => {
            let dir =
                DataDir::create(&args.data_dir).context("cannot create the data directory")?;
            let key = Keyring::generate_first(&dir.keys_dir())?;
            println!(
                "kelisim: created signing key {} in {}",
                key.kid,
                key.path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::Rotate(args)) => {
            let dir =
                DataDir::create(&args.data_dir).context("cannot create the data directory")?;
            let key = Keyring::rotate(&dir.keys_dir())?;
            println!(
                "kelisim: signing key {} is now active ({})",
                key.kid,
                key.path.display()
            );
            println!(
                "kelisim: send SIGHUP to a running collector (or restart it) to sign with it; \
                 older keys stay in the JWKS"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A command with no verdict: success, or an error (exit 2).
fn done(result: anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    result.map(|()| ExitCode::SUCCESS)
}

fn verify_command(args: &VerifyArgs) -> ExitCode {
    let result = verify::load_receipt_or_proof(&args.receipt).and_then(|(jws, bundled)| {
        let keys = verify::load_jwks(&args.jwks)?;
        let valid = verify::verify(&jws, &keys)?;
        let proof = match (bundled, &args.proof) {
            (None, None) if args.origin.is_some() => {
                return Err(verify::VerifyError::Input(
                    "--origin names the log a proof must come from: give the receipt's \
                     .tlog-proof (or --proof FILE)"
                        .to_owned(),
                ));
            }
            (None, None) => return Ok((valid, None)),
            (Some(_), Some(_)) => {
                return Err(verify::VerifyError::Input(format!(
                    "{} is already a receipt with its proof; leave out --proof",
                    args.receipt
                )));
            }
            (Some(proof), None) => proof,
            (None, Some(path)) => std::fs::read(path).map_err(|e| {
                verify::VerifyError::Input(format!("cannot read proof {}: {e}", path.display()))
            })?,
        };
        let proven = tree_check::verify_proof(&jws, &proof, &keys, args.origin.as_deref())
            .map_err(|e| verify::VerifyError::Invalid(format!("proof: {e}")))?;
        Ok((valid, Some(proven)))
    });
    match result {
        Ok((valid, proven)) => {
            eprintln!("{}", report::verified_summary(&valid));
            if let Some(proven) = proven {
                let checkpoint = &proven.checkpoint;
                eprintln!(
                    "proof ok: included in the log {} of {} receipts (root {}), checkpoint signed by key {:08x}",
                    checkpoint.origin,
                    checkpoint.size,
                    checkpoint.root,
                    proven.signed_by.first().map_or(0, |v| v.key_id),
                );
            }
            match serde_json::to_string_pretty(&valid.payload) {
                Ok(text) => println!("{text}"),
                Err(_) => println!("{}", valid.payload),
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("kelisim: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let reader = store::open_reader(&args.data.location())?;
    let rows = reader.list(args.site.as_deref(), args.limit)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", report::receipts_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_command(args: &DataDirArgs) -> anyhow::Result<ExitCode> {
    audit_at(&DataDir::new(&args.data_dir), &args.location())
}

/// `store copy`: the copy, its rows per table, then `audit` of the copy.
fn store_copy(args: &StoreCopyArgs) -> anyhow::Result<ExitCode> {
    let StoreConfig::Postgres { url } = &args.to else {
        anyhow::bail!(
            "--to must be a PostgreSQL URL (postgres://user:password@host:port/database)"
        );
    };
    let dir = DataDir::new(&args.from);
    let target = store::Location::Postgres(url.clone());
    let copied = store::copy(&store::Location::in_data_dir(&dir), &target)?;
    for (table, rows) in &copied {
        println!("copied {rows} rows of {table}");
    }
    println!("copied into {}; checking it", target.shown());
    audit_at(&dir, &target)
}

/// `audit` of the store at `at` with the keys of `dir`.
fn audit_at(dir: &DataDir, at: &store::Location) -> anyhow::Result<ExitCode> {
    let reader = store::open_reader(at)?;
    let ring = Keyring::load(&dir.keys_dir())?;
    if ring.entries().is_empty() {
        return Err(KeyError::NoKeys {
            path: dir.keys_dir().display().to_string(),
        }
        .into());
    }
    let keys = ring.public_keys();
    // One read of the receipts serves both checks; the tree's stored hashes are read beside it.
    let (walked, stored) = std::thread::scope(|scope| {
        let stored = scope.spawn(|| tree_check::StoredTree::read(&*reader));
        let walked = audit::audit_with_leaves(&reader, &keys);
        let stored = stored
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (walked, stored)
    });
    let (report, leaves) = walked?;
    println!("{report}");
    // The transparency log: the tree rebuilt from the receipts against every checkpoint.
    let tree = stored?.check(&keys, &leaves);
    println!("{tree}");
    Ok(if report.is_intact() && tree.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
