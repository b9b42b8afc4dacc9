//! Process plumbing every layer may use: the data directory's files and the Prometheus
//! metrics registry. Imports nothing else of the crate but `hash`.

pub mod datadir;
pub mod metrics;
