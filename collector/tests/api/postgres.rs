//! The API suite's PostgreSQL: whether this run is on it (`KELISIM_TEST_STORE=postgres`), and
//! the one cluster (`kelisim-testpg`) the whole test process shares.

use std::sync::OnceLock;

pub use kelisim_testpg::{Cluster, PASSWORD, USER, execute, query_text};

/// Whether the API tests run on PostgreSQL (`KELISIM_TEST_STORE=postgres`, set by
/// `cargo xtask test` for its second pass over the suite).
pub fn selected() -> bool {
    std::env::var("KELISIM_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The cluster the whole test process shares (one database per harness), started on first
/// use from a thread that lives as long as the process, so the server stops with it.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<&'static Cluster> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let cluster: &'static Cluster = Box::leak(Box::new(Cluster::start()));
            send.send(cluster).expect("hand over the cluster");
            loop {
                std::thread::park();
            }
        });
        receive.recv().expect("the shared cluster started")
    })
}
