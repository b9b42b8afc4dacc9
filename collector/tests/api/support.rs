//! Test harness: a collector state on a temp data dir with the real demo config, request
//! helpers, problem+json assertions and an independent JOSE verifier (jsonwebtoken).

use std::path::{Path, PathBuf};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::web;
use kelisim_collector::AppState;
use kelisim_collector::config::Config;
use kelisim_collector::ops::datadir::DataDir;
use kelisim_collector::web::app::MetricsAt;
use tempfile::TempDir;

/// Base URL the state is built with (policy URLs), as if serving the demo on its default port.
pub const BASE_URL: &str = "http://127.0.0.1:8080";

/// The fixture's raw phone digits: must never be found in the data directory.
pub const RAW_PHONE_DIGITS: &str = "7011234567";

pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn demo_dir() -> PathBuf {
    repo_dir().join("demo")
}

/// Cookie categories the tests' site has on top of the demo config.
pub const TEST_CATEGORIES: &str = "
[[site.category]]
id = \"necessary\"
required = true

[[site.category]]
id = \"analytics\"

[[site.category]]
id = \"marketing\"
";

/// The demo config with `extra` TOML appended (tables there attach to the demo site). The
/// demo's own cookie banner (everything from its `# ---- Cookie banner` line on) is left out:
/// the tests declare the categories they rely on ([`TEST_CATEGORIES`]).
pub fn config_with(extra: &str) -> Config {
    config_edited(|text| format!("{text}\n{extra}"))
}

/// The demo config without its cookie banner (see [`config_with`]), as `edit` rewrites it.
pub fn config_edited(edit: impl FnOnce(&str) -> String) -> Config {
    let path = demo_dir().join("kelisim.toml");
    let text = std::fs::read_to_string(&path).expect("demo config");
    let text = text
        .find("# ---- Cookie banner")
        .map_or(text.as_str(), |cut| &text[..cut]);
    Config::parse(&edit(text), &path, &demo_dir()).expect("test config is valid")
}

/// `YYYY-MM-DD` of `days` days ago (UTC): a request's received date.
pub fn days_ago(days: i64) -> String {
    let day = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    kelisim_collector::clock::format_timestamp(day)[..10].to_owned()
}

/// The config the in-process tests run with: the demo's, plus cookie categories.
pub fn demo_config() -> Config {
    config_with(TEST_CATEGORIES)
}

/// A new token for `sites` with `scope`, stored through the running store's writer; its text.
pub async fn admin_token(
    h: &Harness,
    sites: &[&str],
    scope: kelisim_collector::store::Scope,
) -> String {
    let t = kelisim_collector::admin::tokens::generate(
        sites.iter().map(|s| (*s).to_owned()).collect(),
        scope,
        None,
        kelisim_collector::clock::format_timestamp(time::OffsetDateTime::now_utc()),
        None,
    )
    .expect("token");
    h.state
        .store
        .maintain(kelisim_collector::store::Maintenance::CreateToken(t.record))
        .await
        .expect("stored");
    t.text
}

/// A wire fixture from tests/fixtures/wire.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_dir().join("tests/fixtures/wire").join(name))
        .expect("fixture exists")
}

pub struct Harness {
    /// Keeps the temporary directory alive as long as the harness.
    _tmp: TempDir,
    pub data: DataDir,
    pub state: web::Data<AppState>,
}

impl Harness {
    /// Demo config, fresh data dir, no widget, no demo site.
    pub fn new() -> Harness {
        Harness::with(None, None)
    }

    pub fn with(widget_dir: Option<&Path>, demo_dir: Option<&Path>) -> Harness {
        Harness::build(demo_config(), widget_dir, demo_dir)
    }

    /// A harness running `config` (no widget, no demo site).
    pub fn with_config(config: Config) -> Harness {
        Harness::build(config, None, None)
    }

    fn build(config: Config, widget_dir: Option<&Path>, demo_dir: Option<&Path>) -> Harness {
        Harness::build_with(config, widget_dir, demo_dir, MetricsAt::Nowhere)
    }

    /// The demo config with `/metrics` answered on every listener, as `demo` does.
    pub fn serving_metrics() -> Harness {
        Harness::build_with(demo_config(), None, None, MetricsAt::Everywhere)
    }

    fn build_with(
        config: Config,
        widget_dir: Option<&Path>,
        demo_dir: Option<&Path>,
        metrics: MetricsAt,
    ) -> Harness {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = DataDir::create(tmp.path().join("data")).expect("data dir");
        if crate::postgres::selected() {
            store_on_postgres(&data);
        }
        let state = open_state_with(config, &data, widget_dir, demo_dir, metrics);
        Harness {
            _tmp: tmp,
            data,
            state,
        }
    }

    pub fn count(&self) -> i64 {
        self.state.store.reader().count().expect("count receipts")
    }
}

/// Builds the app state on an existing data dir (to restart a collector on it).
pub fn open_state(
    data: &DataDir,
    widget_dir: Option<&Path>,
    demo_dir: Option<&Path>,
) -> web::Data<AppState> {
    open_state_with(
        demo_config(),
        data,
        widget_dir,
        demo_dir,
        MetricsAt::Nowhere,
    )
}

/// Where a harness on PostgreSQL keeps its database's URL, in its data directory.
const TEST_STORE_FILE: &str = "test-store-url";

/// The store a harness's data directory uses: its PostgreSQL database when the suite runs
/// on PostgreSQL (`KELISIM_TEST_STORE=postgres`), else the directory's SQLite file.
pub fn store_of(data: &DataDir) -> kelisim_collector::store::Location {
    match std::fs::read_to_string(data.root().join(TEST_STORE_FILE)) {
        Ok(url) => kelisim_collector::store::Location::Postgres(url),
        Err(_) => kelisim_collector::store::Location::in_data_dir(data),
    }
}

/// The PostgreSQL database of `data`'s collector: created on the shared cluster the first
/// time, found again after a restart.
pub fn store_on_postgres(data: &DataDir) -> kelisim_collector::store::Location {
    let file = data.root().join(TEST_STORE_FILE);
    if !file.exists() {
        let url = crate::postgres::shared().create_database();
        std::fs::write(&file, url).expect("store url");
    }
    store_of(data)
}

/// Runs `sql` on the store of `data` as someone with direct access to the database would:
/// its SQLite file or its PostgreSQL database, foreign keys not enforced (an attacker is not
/// bound by them). The tests of tampering run on both backends with it.
pub fn tamper_sql(data: &DataDir, sql: &str) {
    match store_of(data) {
        kelisim_collector::store::Location::Postgres(url) => crate::postgres::execute(
            &url,
            &format!("SET session_replication_role = replica; {sql}"),
        ),
        kelisim_collector::store::Location::Sqlite(path) => rusqlite::Connection::open(path)
            .expect("open db")
            .execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
            .expect("tamper"),
    }
}

/// Whether the store of `data` is a PostgreSQL database (for the few statements whose
/// dialects differ).
pub fn on_postgres(data: &DataDir) -> bool {
    matches!(
        store_of(data),
        kelisim_collector::store::Location::Postgres(_)
    )
}

/// Makes the store of `data` refuse audit-trail entries whose action is one of `actions`
/// (all of them if empty), as a failing audit table would; [`allow_audit_entries`] undoes it.
pub fn refuse_audit_entries(data: &DataDir, actions: &[&str]) {
    let list = actions
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let when = if actions.is_empty() {
        String::new()
    } else {
        format!("NEW.action IN ({list})")
    };
    let sql = if on_postgres(data) {
        let when = if when.is_empty() {
            String::new()
        } else {
            format!("WHEN ({when})")
        };
        format!(
            "CREATE FUNCTION no_erasure_entries() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$;
             CREATE TRIGGER no_erasure_entries BEFORE INSERT ON admin_audit FOR EACH ROW {when}
               EXECUTE FUNCTION no_erasure_entries();"
        )
    } else {
        let when = if when.is_empty() {
            String::new()
        } else {
            format!("WHEN {when}")
        };
        format!(
            "CREATE TRIGGER no_erasure_entries BEFORE INSERT ON admin_audit {when}
             BEGIN SELECT RAISE(ABORT, 'audit trail unavailable'); END;"
        )
    };
    tamper_sql(data, &sql);
}

/// Undoes [`refuse_audit_entries`].
pub fn allow_audit_entries(data: &DataDir) {
    tamper_sql(
        data,
        if on_postgres(data) {
            "DROP TRIGGER no_erasure_entries ON admin_audit; DROP FUNCTION no_erasure_entries();"
        } else {
            "DROP TRIGGER no_erasure_entries"
        },
    );
}

/// The first column of the first row of `sql` on the store of `data`, as text.
pub fn query_text(data: &DataDir, sql: &str) -> Option<String> {
    match store_of(data) {
        kelisim_collector::store::Location::Postgres(url) => crate::postgres::query_text(&url, sql),
        kelisim_collector::store::Location::Sqlite(path) => {
            use rusqlite::OptionalExtension;
            rusqlite::Connection::open(path)
                .expect("open db")
                .query_row(sql, [], |r| r.get(0))
                .optional()
                .expect("query")
        }
    }
}

pub fn open_state_with(
    mut config: Config,
    data: &DataDir,
    widget_dir: Option<&Path>,
    demo_dir: Option<&Path>,
    metrics: MetricsAt,
) -> web::Data<AppState> {
    if let kelisim_collector::store::Location::Postgres(url) = store_of(data) {
        config.store = kelisim_collector::config::StoreConfig::Postgres { url };
    }
    let no_widget = data.root().join("no-widget-here");
    let widget_dir = Some(widget_dir.unwrap_or(&no_widget));
    let mut state =
        AppState::open(config, data, widget_dir, demo_dir, BASE_URL).expect("state opens");
    state.metrics_at = metrics;
    web::Data::new(state)
}

/// The payload of a compact JWS, unverified (the tests verify separately).
pub fn payload_of(jws: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jws.split('.').nth(1).expect("payload part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// A `POST /v1/receipts/{target}/withdraw` request with the receipt's withdrawal `secret`.
pub fn post_withdraw(target: &str, key: &str, secret: &str) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri(&format!("/v1/receipts/{target}/withdraw"))
        .insert_header(("content-type", "application/json"))
        .set_payload(format!(r#"{{"key":"{key}","secret":"{secret}"}}"#))
}

/// The withdrawal secret the form fixture sends.
pub const FORM_SECRET: &str = "9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c";

/// A response, read fully.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: web::Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is JSON ({e}): {:?}", self.body))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("utf-8 body")
    }

    /// Asserts an RFC 9457 problem document with `status` and `code`; returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let json = self.json();
        let object = json.as_object().expect("problem is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["code", "detail", "status", "title", "type"],
            "problem members"
        );
        assert_eq!(json["code"], code);
        assert_eq!(json["status"], status);
        assert_eq!(json["type"], format!("https://kelisim.kz/problems/{code}"));
        assert!(json["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        json
    }
}

/// The collector's public keys, `GET /.well-known/jwks.json`, as a verifier fetches them.
pub async fn get_jwks<S, B>(app: &S) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(
        app,
        actix_web::test::TestRequest::get()
            .uri("/.well-known/jwks.json")
            .to_request(),
    )
    .await
}

/// Sends `req` to `app` and reads the whole response.
pub async fn send<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = actix_web::test::call_service(app, req).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = actix_web::test::read_body(res).await;
    Reply {
        status,
        headers,
        body,
    }
}

/// A `POST /v1/receipts` request with a JSON body.
pub fn post_receipt(body: &str) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri("/v1/receipts")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

/// Verifies `jws` with the jsonwebtoken crate (an independent JOSE implementation) against
/// a JWKS document; returns the claims.
pub fn verify_with_jsonwebtoken(jws: &str, jwks: &[u8]) -> serde_json::Value {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let set: JwkSet = serde_json::from_slice(jwks).expect("JWKS parses as a JwkSet");
    let header = decode_header(jws).expect("JWS header decodes");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("kelisim-receipt+jws"));
    let kid = header.kid.expect("header has a kid");
    let jwk = set.find(&kid).expect("the kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("JWK is usable");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    decode::<serde_json::Value>(jws, &key, &validation)
        .expect("signature verifies")
        .claims
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Asserts no file under `dir` contains `needle`.
#[track_caller]
pub fn assert_not_in_files(dir: &Path, needle: &str) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "{} has files", dir.display());
    for file in files {
        let bytes = std::fs::read(&file).expect("read file");
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "{} contains `{needle}`", file.display());
    }
}
