//! Running the HTTP server: load, bind, announce, serve, shut down gracefully.
//!
//! The order matters: the config is validated before anything is bound or created, the
//! socket is bound before the state is built (with port 0 the real port is only known
//! then, and policy URLs need it), and on SIGTERM/SIGINT the server stops accepting, lets
//! in-flight requests finish (their receipts are committed and answered), and only then the
//! store's writer drains its queue and stops.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use actix_web::{HttpServer, web};

use crate::app::{AppState, StartError, build_app};
use crate::config::Config;
use crate::datadir::DataDir;

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// What `serve` and `demo` start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub widget_dir: PathBuf,
    /// `demo` mode: serve this directory at `/` and the feedback route.
    pub demo_dir: Option<PathBuf>,
}

/// Runs the collector until SIGTERM or SIGINT.
pub fn launch(launch: Launch) -> Result<(), StartError> {
    let config = Config::load(&launch.config)?;
    let listener = TcpListener::bind(launch.listen).map_err(|source| StartError::Bind {
        addr: launch.listen.to_string(),
        source,
    })?;
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
    let state = web::Data::new(AppState::open(
        config,
        &data,
        &launch.widget_dir,
        launch.demo_dir.as_deref(),
        &base_url,
    )?);
    actix_web::rt::System::new().block_on(run(listener, state, data.root()))
}

async fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    data_root: &Path,
) -> Result<(), StartError> {
    let addr = listener.local_addr().map_err(StartError::Server)?;
    let app_state = state.clone();
    let server = HttpServer::new(move || build_app(app_state.clone()))
        .listen(listener)
        .map_err(StartError::Server)?
        // Our own handler: actix's would stop abruptly on SIGINT.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .run();
    let handle = server.handle();
    announce(&addr, data_root);
    actix_web::rt::spawn(async move {
        let signal = wait_for_signal().await;
        tracing::info!(signal, "shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
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

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C elsewhere).
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
