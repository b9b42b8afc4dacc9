//! Running the HTTP server: load, bind, announce, serve, shut down gracefully.
//!
//! The order matters: the config is validated before anything is bound or created, the
//! socket is bound before the state is built (with port 0 the real port is only known
//! then, and policy URLs need it), and on SIGTERM/SIGINT the server stops accepting, lets
//! in-flight requests finish (their receipts are committed and answered), and only then the
//! store's writer drains its queue and stops. SIGHUP makes the running collector re-read its
//! site configuration (`reload`) and pick up a key added by `keys rotate`
//! (`AppState::reload_keys`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use actix_web::{HttpServer, web};

use crate::config::{Config, StoreConfig};
use crate::ops::datadir::DataDir;
use crate::web::app::build_app;
use crate::web::state::{AppState, MetricsAt, StartError};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// What `serve` and `demo` start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `--widget-dir`: `None` serves the widget built into the binary.
    pub widget_dir: Option<PathBuf>,
    /// `demo` mode: serve this directory at `/` and the feedback route.
    pub demo_dir: Option<PathBuf>,
    /// Where `/metrics` answers; a listener address is bound beside `listen`.
    pub metrics: MetricsAt,
    /// `--store`: the store instead of the config's `[store]`.
    pub store: Option<StoreConfig>,
    /// Serve the benchmark's trivial baseline endpoint.
    #[cfg(feature = "testing")]
    pub bench_endpoints: bool,
    /// Reliability tests only: simulate the store faults this file names (the SQLite store's `fault.rs`).
    #[cfg(feature = "testing")]
    pub fault_file: Option<PathBuf>,
}

/// Runs the collector until SIGTERM or SIGINT.
pub fn launch(launch: Launch) -> Result<(), StartError> {
    let mut config = Config::load(&launch.config)?;
    if let Some(store) = launch.store {
        config.store = store;
    }
    let listener = TcpListener::bind(launch.listen).map_err(|source| StartError::Bind {
        addr: launch.listen.to_string(),
        source,
    })?;
    let metrics = match launch.metrics {
        MetricsAt::Listener(addr) => {
            let bound = TcpListener::bind(addr).map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?;
            let local = bound.local_addr().map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?;
            Some((bound, local))
        }
        MetricsAt::Everywhere | MetricsAt::Nowhere => None,
    };
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: launch.listen.to_string(),
        source,
    })?;
    let base_url = match &config.public_url {
        Some(url) => url.clone(),
        None => {
            if addr.ip().is_unspecified() {
                tracing::warn!(
                    %addr,
                    "listening on all interfaces without `public_url` in the config; \
                     policy links will name {addr}, set public_url to the address visitors use"
                );
            }
            format!("http://{addr}")
        }
    };
    let data = DataDir::create(&launch.data_dir).map_err(|source| StartError::DataDir {
        path: launch.data_dir.display().to_string(),
        source,
    })?;
    let mut state = AppState::open(
        config,
        &data,
        launch.widget_dir.as_deref(),
        launch.demo_dir.as_deref(),
        &base_url,
    )?;
    #[cfg(feature = "testing")]
    {
        state.bench_endpoints = launch.bench_endpoints;
    }
    state.metrics_at = match &metrics {
        Some((_, local)) => MetricsAt::Listener(*local),
        None => launch.metrics,
    };
    #[cfg(feature = "testing")]
    if let Some(path) = &launch.fault_file {
        state.store.inject_faults_from(path);
    }
    let state = web::Data::new(state);
    let metrics = metrics.map(|(listener, _)| listener);
    actix_web::rt::System::new().block_on(run(listener, metrics, state, data.root()))
}

async fn run(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: web::Data<AppState>,
    data_root: &Path,
) -> Result<(), StartError> {
    let addr = listener.local_addr().map_err(StartError::Server)?;
    let app_state = state.clone();
    let connections = state.connections.clone();
    let mut server = HttpServer::new(move || build_app(app_state.clone()))
        // Before binding: actix captures it per listener.
        .on_connect(move |conn, data| connections.on_connect(conn, data))
        .listen(listener)
        .map_err(StartError::Server)?;
    if let Some(metrics) = metrics {
        let at = metrics.local_addr().map_err(StartError::Server)?;
        server = server.listen(metrics).map_err(StartError::Server)?;
        tracing::info!(%at, "serving /metrics on its own address");
    }
    let server = server
        // Our own handler: actix's would stop abruptly on SIGINT.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .run();
    let handle = server.handle();
    // Handlers are installed before the address is announced: a signal sent as soon as the
    // `listening on` line appears must not meet the default action (terminate).
    let stop = stop_signal();
    let hangup = hangup_signal();
    announce(&addr, data_root);
    actix_web::rt::spawn(async move {
        let signal = stop.await;
        tracing::info!(signal, "shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
    actix_web::rt::spawn(reload_on_sighup(state.clone(), hangup));
    let sites = state.clone();
    actix_web::rt::spawn(crate::admin::retention::daily(
        state.store.clone(),
        move || sites.retention_days(),
    ));
    actix_web::rt::spawn(crate::witness::ask::run(
        state.store.clone(),
        state.log.witnesses.clone(),
        state.log.witness_interval,
    ));
    let result = server.await.map_err(StartError::Server);
    // Every handler has returned; commit whatever is still queued and stop the writer.
    state.store.shutdown();
    tracing::info!("stopped");
    result
}

/// The two lines tests and scripts read to find the server.
fn announce(addr: &SocketAddr, data_root: &Path) {
    let data = std::fs::canonicalize(data_root).unwrap_or_else(|_| data_root.to_owned());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "kelisim: listening on http://{addr}");
    let _ = writeln!(out, "kelisim: data in {}", data.display());
    let _ = out.flush();
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

/// Installs the SIGHUP handler now (inside the runtime); `None` if that failed.
fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let hup = signal(SignalKind::hangup()).ok();
        if hup.is_none() {
            tracing::warn!(
                "cannot listen for SIGHUP; restart the collector after `keys rotate` or a config change"
            );
        }
        hup
    }
}

/// On each SIGHUP, re-reads the site configuration file and switches to the newest signing
/// key in the key directory.
async fn reload_on_sighup(state: web::Data<AppState>, hangup: Hangup) {
    #[cfg(unix)]
    {
        let Some(mut hup) = hangup else { return };
        while hup.recv().await.is_some() {
            crate::web::reload::reload_and_log(&state).await;
            match state.reload_keys().await {
                Ok(Some(kid)) => tracing::info!(kid, "SIGHUP: signing with the rotated key"),
                Ok(None) => tracing::info!("SIGHUP: no new signing key; run `keys rotate` first"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: keeping the current signing key"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (state, hangup);
}

/// Installs the SIGTERM and SIGINT handlers now (inside the runtime) and returns a future
/// that resolves on the first of them (Ctrl-C elsewhere).
fn stop_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = &'static str>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    })
}
