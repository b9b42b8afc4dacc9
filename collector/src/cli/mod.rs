//! Command-line interface (clap). Every option can also be set by an environment variable.

pub mod admin;
pub mod backup;
#[cfg(feature = "testing")]
pub mod benchgen;
pub mod report;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::StoreConfig;
use crate::ops::datadir::DataDir;
use crate::store::Location;

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
    /// Manage admin API tokens (bearer tokens scoped to sites)
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Remove receipts past each site's retention period, leaving tombstones for `audit`
    Purge(PurgeArgs),
    /// Erase a data subject's identifiers (the keyed-hash index) on their request, at once or
    /// (--pending) by the site's deadline; --list the requests, --execute ID a pending one
    Erase(EraseArgs),
    /// Copy a data directory (database, signing keys, subject secret) into one file (mode
    /// 0600), consistently, while the collector runs
    Backup(BackupArgs),
    /// Restore a backup into a new or empty data directory, checking every file against the
    /// backup's manifest
    Restore(RestoreArgs),
    /// Check site configuration files
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Move a store to another backend
    #[command(subcommand)]
    Store(StoreCommand),
    /// Benchmark only: fill a fresh data directory with generated, signed receipts
    #[cfg(feature = "testing")]
    #[command(hide = true)]
    BenchGenerate(BenchGenerateArgs),
    /// Benchmark only: time admin queries and an export on a data directory
    #[cfg(feature = "testing")]
    #[command(hide = true)]
    BenchAdmin(BenchAdminArgs),
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
    /// Serve `GET /metrics` (and /healthz, /readyz) on this address only, e.g. 127.0.0.1:9464
    /// for Prometheus; without it `/metrics` is not served (it shows per-site consent counts
    /// and admin activity)
    #[arg(long, env = "KELISIM_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the widget from this directory (kelisim.js and hashed files) instead of the one
    /// built into the binary [default: the built-in widget; a build without one reads ./dist]
    #[arg(long, env = "KELISIM_WIDGET_DIR", value_name = "DIR")]
    pub widget_dir: Option<PathBuf>,
    /// The store instead of `[store]` in the config: a PostgreSQL URL, or `sqlite` for the
    /// data directory's kelisim.db
    #[arg(long, env = "KELISIM_STORE", value_name = "URL", value_parser = parse_store)]
    pub store: Option<StoreConfig>,
    /// Also serve `POST /_bench/echo`, the trivial baseline `cargo xtask bench` compares with
    #[cfg(feature = "testing")]
    #[arg(long, hide = true)]
    pub bench_endpoints: bool,
    /// Reliability tests only: a file naming store faults to simulate (`full`, `read-only`,
    /// `slow MS`), re-read before each write batch
    #[cfg(feature = "testing")]
    #[arg(long, hide = true, env = "KELISIM_FAULT_FILE", value_name = "FILE")]
    pub fault_file: Option<PathBuf>,
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
    /// Serve the widget from this directory instead of the one built into the binary
    /// [default: the built-in widget; a build without one reads ./dist]
    #[arg(long, env = "KELISIM_WIDGET_DIR", value_name = "DIR")]
    pub widget_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The receipt: a compact JWS, or a file with one (or with the collector's {"jws": …} answer),
    /// or the receipt with its proof: the .tlog-proof of GET /v1/receipts/{id}/proof
    #[arg(value_name = "FILE-or-JWS")]
    pub receipt: String,
    /// The collector's public keys: a JWKS file or URL (…/.well-known/jwks.json)
    #[arg(long, env = "KELISIM_JWKS", value_name = "FILE-or-URL")]
    pub jwks: String,
    /// Also check the receipt's inclusion in the collector's transparency log, offline: its
    /// C2SP tlog-proof file (GET /v1/receipts/{id}/proof), whose checkpoint must be signed by
    /// a key of the JWKS (not needed when the receipt is given as its .tlog-proof)
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,
    /// The log's origin the proof's checkpoint must name (e.g. consent.example.kz/log)
    /// [default: any origin, signed by a key of the JWKS]
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// List stored receipts, newest first
    List(ListArgs),
    /// Show one receipt: its status, decoded payload, or the JWS / Kantara document
    Show(ShowArgs),
    /// Export matching receipts (CSV with BOM, NDJSON or Kantara NDJSON), streamed to stdout
    Export(ExportArgs),
    /// Count consent events per day, policy version, language and kind
    Stats(StatsArgs),
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
    /// The store, when it is not the data directory's kelisim.db: a PostgreSQL URL
    /// (postgres://user:password@host:port/database), as `[store] url` in the config
    #[arg(long, env = "KELISIM_STORE", value_name = "URL", value_parser = parse_store)]
    pub store: Option<StoreConfig>,
}

impl DataDirArgs {
    /// Where the store is: `--store`, else the data directory's SQLite file.
    pub fn location(&self) -> Location {
        match &self.store {
            Some(StoreConfig::Postgres { url }) => Location::Postgres(url.clone()),
            Some(StoreConfig::Sqlite) | None => {
                Location::in_data_dir(&DataDir::new(&self.data_dir))
            }
        }
    }
}

/// `--store`: `sqlite`, or a PostgreSQL URL.
fn parse_store(arg: &str) -> Result<StoreConfig, String> {
    StoreConfig::parse_arg(arg)
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

// ---- admin commands --------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed once and only its hash is stored
    Create(TokenCreateArgs),
    /// List tokens (never their secrets)
    List(DataDirArgs),
    /// Revoke a token by its id (the 16 hex digits after `kls_`)
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Site configuration file (TOML): each --site must be configured there
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// A site the token may see (repeat for several)
    #[arg(long, required = true)]
    pub site: Vec<String>,
    /// `read` (query, export, stats) or `admin` (also withdraw and erase)
    #[arg(long, default_value = "read", value_parser = ["read", "admin"])]
    pub scope: String,
    /// Expiry: a duration in days (`90d`) or an RFC 3339 time in the future; never if omitted
    #[arg(long)]
    pub expires: Option<String>,
    /// A note saying who or what the token is for
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The token's id (or the whole token)
    pub id: String,
}

/// Filters shared by `receipts export` and `receipts stats`.
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only this site
    #[arg(long, env = "KELISIM_SITE")]
    pub site: Option<String>,
    /// Issued at or after (RFC 3339 or YYYY-MM-DD, UTC)
    #[arg(long)]
    pub from: Option<String>,
    /// Issued before (RFC 3339 or YYYY-MM-DD, UTC)
    #[arg(long)]
    pub to: Option<String>,
    /// `form` or `cookies`
    #[arg(long)]
    pub kind: Option<String>,
    /// `given`, `refused`, `withdrawn` or `updated`
    #[arg(long)]
    pub event: Option<String>,
    #[arg(long)]
    pub policy_version: Option<String>,
    #[arg(long)]
    pub form_id: Option<String>,
    #[arg(long)]
    pub lang: Option<String>,
    /// A phone number or e-mail address in any spelling (matched through its keyed hash)
    #[arg(long)]
    pub subject: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Receipt id (UUID)
    pub id: String,
    /// `json`, `jws` or `kantara` (needs --config for the operator)
    #[arg(long, default_value = "json", value_parser = ["json", "jws", "kantara"])]
    pub format: String,
    /// Site configuration (operator and retention for `kantara` and the status)
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// `csv`, `ndjson` or `kantara`
    #[arg(long, default_value = "csv", value_parser = ["csv", "ndjson", "kantara"])]
    pub format: String,
    /// Site configuration (operator and retention; required for `kantara`)
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read through a running collector's admin API instead of the data directory
    #[arg(long, env = "KELISIM_URL", value_name = "URL", requires = "token")]
    pub url: Option<String>,
    /// Admin token for --url
    #[arg(long, env = "KELISIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Site configuration file (each site's retention_days)
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub data: DataDirArgs,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The site whose receipts to erase the subject from
    #[arg(long)]
    pub site: String,
    /// The subject's phone number or e-mail address, in any spelling
    #[arg(long, required_unless_present_any = ["list", "execute"])]
    pub subject: Option<String>,
    /// Only record the request (e.g. while the subject's identity is checked): it is carried
    /// out with --execute, or by `serve`/`purge` at its due time at the latest
    #[arg(long, requires = "subject")]
    pub pending: bool,
    /// When the request arrived (YYYY-MM-DD or RFC 3339; default now): the deadline counts from it
    #[arg(long, value_name = "DATE", requires = "subject")]
    pub received: Option<String>,
    /// List the site's erasure requests, pending first with their due dates
    #[arg(long, conflicts_with_all = ["subject", "execute"])]
    pub list: bool,
    /// Carry out the pending request with this id now
    #[arg(long, value_name = "ID", conflicts_with = "subject")]
    pub execute: Option<String>,
    /// Site configuration file: the site's erasure_deadline_days, needed to record a request
    /// (--site is checked against it)
    #[arg(long, env = "KELISIM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The backup file to create (never overwritten)
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The data directory to create (or an empty one)
    #[arg(long, env = "KELISIM_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy a data directory's SQLite store into an empty PostgreSQL database, every table
    /// as it is (nothing is signed again), then check it: rows per table on both sides, and
    /// `audit` of the copy with the data directory's keys. Stop the collector first.
    ///
    /// Exit status: 0 copied and intact, 1 the copy does not audit clean, 2 could not copy.
    Copy(StoreCopyArgs),
}

#[derive(Debug, Args)]
pub struct StoreCopyArgs {
    /// The data directory whose kelisim.db is copied (its keys check the copy)
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The PostgreSQL database to copy into (postgres://user:password@host:port/database);
    /// it must not hold a store yet
    #[arg(long, value_name = "URL", value_parser = parse_store)]
    pub to: StoreConfig,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a site configuration file as `serve` (and SIGHUP) would, without starting
    /// anything; prints its sites and origins
    ///
    /// Exit status: 0 valid, 1 invalid (the file, key and reason are printed), 2 unreadable.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// Site configuration file (TOML)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[cfg(feature = "testing")]
#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// How many receipts
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
}

#[cfg(feature = "testing")]
#[derive(Debug, Args)]
pub struct BenchAdminArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Queries per measurement
    #[arg(long, default_value_t = 200)]
    pub queries: u32,
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
        // No directory by default (the built-in widget), unless the environment sets one.
        if std::env::var_os("KELISIM_WIDGET_DIR").is_none() {
            assert_eq!(args.widget_dir, None);
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
