//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! One [`Metrics`] per running collector, with its own registry (not the crate's global
//! default), so tests that build several apps in one process count independently. What is
//! measured and where:
//!
//! | metric | recorded by |
//! |---|---|
//! | `kelisim_receipts_total{site,kind,event}` | receipt handlers, for newly created receipts |
//! | `kelisim_http_request_duration_seconds{method,route,status}` | the access-log middleware |
//! | `kelisim_rejections_total{code}` | the access-log middleware, from the problem `code` |
//! | `kelisim_writer_batch_size`, `kelisim_writer_commit_duration_seconds` | the store's writer |
//! | `kelisim_store_bytes`, `kelisim_store_last_seq` | sampled when scraped |
//!
//! Labels never carry identifiers, references or paths with ids in them: `route` is the
//! matched pattern (`/v1/receipts/{id}`), not the request path.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latency buckets (seconds): fine below 20 ms, where the target p99 lies.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Jobs per committed batch; the writer takes at most 1024.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Commit (sign, insert, fsync) time per batch.
const COMMIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

/// What the writer thread reports; cheap to clone (shared counters).
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
}

impl WriterMetrics {
    /// Metrics that are recorded but not exposed (tools and tests that open a store).
    pub fn unregistered() -> Self {
        let (batch_size, commit_seconds) = writer_histograms();
        Self {
            batch_size,
            commit_seconds,
        }
    }
}

fn writer_histograms() -> (Histogram, Histogram) {
    // Constant, valid options: construction cannot fail.
    let batch = Histogram::with_opts(
        HistogramOpts::new(
            "kelisim_writer_batch_size",
            "Jobs committed together in one transaction (group commit)",
        )
        .buckets(BATCH_BUCKETS.to_vec()),
    )
    .expect("valid histogram options");
    let commit = Histogram::with_opts(
        HistogramOpts::new(
            "kelisim_writer_commit_duration_seconds",
            "Time to sign, insert and durably commit one batch",
        )
        .buckets(COMMIT_BUCKETS.to_vec()),
    )
    .expect("valid histogram options");
    (batch, commit)
}

/// The collector's metrics and their registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    receipts: IntCounterVec,
    requests: HistogramVec,
    rejections: IntCounterVec,
    writer: WriterMetrics,
    store_bytes: IntGauge,
    store_last_seq: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let receipts = IntCounterVec::new(
            Opts::new(
                "kelisim_receipts_total",
                "Receipts signed and committed (idempotent replays not counted)",
            ),
            &["site", "kind", "event"],
        )
        .expect("valid counter options");
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "kelisim_http_request_duration_seconds",
                "HTTP request latency, by matched route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("valid histogram options");
        let rejections = IntCounterVec::new(
            Opts::new(
                "kelisim_rejections_total",
                "Requests answered with a problem document, by its code",
            ),
            &["code"],
        )
        .expect("valid counter options");
        let (batch_size, commit_seconds) = writer_histograms();
        let store_bytes = IntGauge::new(
            "kelisim_store_bytes",
            "Size of the SQLite database and its write-ahead log",
        )
        .expect("valid gauge options");
        let store_last_seq = IntGauge::new(
            "kelisim_store_last_seq",
            "Sequence number of the last committed receipt",
        )
        .expect("valid gauge options");
        let metrics = Self {
            registry,
            receipts,
            requests,
            rejections,
            writer: WriterMetrics {
                batch_size,
                commit_seconds,
            },
            store_bytes,
            store_last_seq,
        };
        metrics.register_all();
        metrics
    }

    fn register_all(&self) {
        let collectors: [Box<dyn prometheus::core::Collector>; 7] = [
            Box::new(self.receipts.clone()),
            Box::new(self.requests.clone()),
            Box::new(self.rejections.clone()),
            Box::new(self.writer.batch_size.clone()),
            Box::new(self.writer.commit_seconds.clone()),
            Box::new(self.store_bytes.clone()),
            Box::new(self.store_last_seq.clone()),
        ];
        for collector in collectors {
            // Names are distinct constants and the registry is fresh.
            self.registry
                .register(collector)
                .expect("metric registered once");
        }
    }

    /// The writer's share, handed to `store::open_with`.
    pub fn writer(&self) -> WriterMetrics {
        self.writer.clone()
    }

    pub fn receipt_created(&self, site: &str, kind: &str, event: &str) {
        self.receipts.with_label_values(&[site, kind, event]).inc();
    }

    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status_label(status)])
            .observe(seconds);
    }

    pub fn rejection(&self, code: &str) {
        self.rejections.with_label_values(&[code]).inc();
    }

    /// The exposition text, with the store gauges set to the given sample.
    pub fn render(&self, store_bytes: u64, last_seq: i64) -> String {
        self.store_bytes
            .set(i64::try_from(store_bytes).unwrap_or(i64::MAX));
        self.store_last_seq.set(last_seq);
        let mut out = Vec::new();
        // Writing text into a Vec cannot fail; an encoding error would only drop the body.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Status codes as static label values (no allocation per request).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 200 => "1xx",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_with_its_labels() {
        let m = Metrics::new();
        m.receipt_created("demo", "form", "given");
        m.receipt_created("demo", "form", "given");
        m.request("POST", "/v1/receipts", 201, 0.003);
        m.rejection("unknown_site");
        m.writer().batch_size.observe(3.0);
        let text = m.render(4096, 2);
        for line in [
            "kelisim_receipts_total{event=\"given\",kind=\"form\",site=\"demo\"} 2",
            "kelisim_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/receipts\",status=\"201\",le=\"0.005\"} 1",
            "kelisim_rejections_total{code=\"unknown_site\"} 1",
            "kelisim_writer_batch_size_count 1",
            "kelisim_writer_commit_duration_seconds_count 0",
            "kelisim_store_bytes 4096",
            "kelisim_store_last_seq 2",
        ] {
            assert!(text.contains(line), "missing `{line}` in:\n{text}");
        }
        assert!(text.contains("# TYPE kelisim_http_request_duration_seconds histogram"));
    }

    #[test]
    fn status_labels_are_bounded() {
        assert_eq!(status_label(201), "201");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(302), "3xx");
        assert_eq!(status_label(599), "5xx");
    }
}
