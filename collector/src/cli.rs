//! Command-line interface (clap). Every option can also be set by an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kelisim-collector",
    version,
    about = "Kelisim collector: signed, hash-chained consent receipts in SQLite",
    long_about = "Kelisim collector: records consent receipts sent by the Kelisim widget, signs them \
                  (Ed25519 JWS), chains them and stores them durably in SQLite. Also verifies and \
                  audits receipts offline."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector for the sites in a config file
    Serve(ServeArgs),
    /// Run the collector with the demo site (static pages at /, config from DEMO_DIR/kelisim.toml)
    Demo(DemoArgs),
    /// Check a receipt's signature offline against a JWKS; prints the decoded receipt
    ///
    /// Exit status: 0 valid, 1 invalid, 2 the inputs could not be read.
    Verify(VerifyArgs),
    /// Show stored receipts
    #[command(subcommand)]
    Receipts(ReceiptsCommand),
    /// Re-verify every stored receipt's signature and the whole hash chain
    ///
    /// Exit status: 0 intact, 1 broken (the first broken seq is reported), 2 could not run.
    Audit(DataDirArgs),
    /// Manage the Ed25519 signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Site configuration file (TOML)
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// Data directory: database, signing keys, subject secret
    #[arg(long, env = "KELISIM_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port)
    #[arg(
        long,
        env = "KELISIM_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// Directory with the built widget (kelisim.js and hashed files)
    #[arg(
        long,
        env = "KELISIM_WIDGET_DIR",
        value_name = "DIR",
        default_value = "./dist"
    )]
    pub widget_dir: PathBuf,
    /// Also serve `POST /_bench/echo`, the trivial baseline `cargo xtask bench` compares with
    #[arg(long, hide = true)]
    pub bench_endpoints: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port on 127.0.0.1 (0 picks a free port)
    #[arg(long, env = "KELISIM_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Data directory: database, signing keys, subject secret
    #[arg(
        long,
        env = "KELISIM_DATA_DIR",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// Demo site directory (with kelisim.toml)
    #[arg(
        long,
        env = "KELISIM_DEMO_DIR",
        value_name = "DIR",
        default_value = "./demo"
    )]
    pub demo_dir: PathBuf,
    /// Directory with the built widget
    #[arg(
        long,
        env = "KELISIM_WIDGET_DIR",
        value_name = "DIR",
        default_value = "./dist"
    )]
    pub widget_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The receipt: a compact JWS, or a file with one (or with the collector's {"jws": …} answer)
    #[arg(value_name = "FILE-or-JWS")]
    pub receipt: String,
    /// The collector's public keys: a JWKS file or URL (…/.well-known/jwks.json)
    #[arg(long, env = "KELISIM_JWKS", value_name = "FILE-or-URL")]
    pub jwks: String,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// List stored receipts, newest first
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Only receipts of this site
    #[arg(long, env = "KELISIM_SITE")]
    pub site: Option<String>,
    /// At most this many receipts
    #[arg(long, env = "KELISIM_LIMIT", default_value_t = 50)]
    pub limit: u32,
    /// Print JSON (an array, with each receipt's JWS) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// Data directory of the collector
    #[arg(
        long,
        env = "KELISIM_DATA_DIR",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the first signing key (also done automatically on first start)
    Generate(DataDirArgs),
    /// Add a new signing key and make it active; old keys stay in the JWKS
    ///
    /// A running collector switches to the new key when it receives SIGHUP (or restarts);
    /// the new key is in its JWKS before it signs anything with it.
    Rotate(DataDirArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn contract_flags_parse() {
        let cli = Cli::try_parse_from([
            "kelisim-collector",
            "serve",
            "--config",
            "demo/kelisim.toml",
            "--data-dir",
            "/tmp/d",
            "--listen",
            "127.0.0.1:0",
        ])
        .expect("serve parses");
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.listen.port(), 0);
        // The default, unless the environment running the tests sets its own.
        if std::env::var_os("KELISIM_WIDGET_DIR").is_none() {
            assert_eq!(args.widget_dir, PathBuf::from("./dist"));
        }

        let cli = Cli::try_parse_from([
            "kelisim-collector",
            "receipts",
            "list",
            "--data-dir",
            "d",
            "--site",
            "demo",
            "--limit",
            "5",
            "--json",
        ])
        .expect("list parses");
        let Command::Receipts(ReceiptsCommand::List(args)) = cli.command else {
            panic!("list")
        };
        assert_eq!(
            (args.site.as_deref(), args.limit, args.json),
            (Some("demo"), 5, true)
        );

        assert!(
            Cli::try_parse_from([
                "kelisim-collector",
                "verify",
                "x.jws",
                "--jwks",
                "https://c.example.kz/.well-known/jwks.json"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from(["kelisim-collector", "keys", "rotate", "--data-dir", "d"]).is_ok()
        );
        assert!(Cli::try_parse_from(["kelisim-collector", "audit", "--data-dir", "d"]).is_ok());
    }
}
