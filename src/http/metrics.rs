//! `/metrics` in the Prometheus text format: requests and latency by endpoint and status
//! (actix-web-prom), and tokens issued by grant type. Each application has its own
//! registry, so several servers can run in one process (the tests do).

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{IntCounterVec, Opts, Registry};

/// Counters the domain increments.
#[derive(Clone)]
pub struct Metrics {
    pub tokens_issued: IntCounterVec,
}

impl Metrics {
    pub fn token_issued(&self, grant_type: &str) {
        self.tokens_issued.with_label_values(&[grant_type]).inc();
    }
}

/// The middleware (which also serves `/metrics`) and our own counters.
pub fn build() -> Result<(PrometheusMetrics, Metrics), String> {
    let registry = Registry::new();
    let tokens_issued = IntCounterVec::new(
        Opts::new(
            "portcullis_tokens_issued_total",
            "Tokens issued, by grant type",
        ),
        &["grant_type"],
    )
    .map_err(|e| e.to_string())?;
    registry
        .register(Box::new(tokens_issued.clone()))
        .map_err(|e| e.to_string())?;
    let middleware = PrometheusMetricsBuilder::new("portcullis")
        .registry(registry)
        .endpoint("/metrics")
        // Unknown paths share one label instead of growing the series without bound.
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| e.to_string())?;
    Ok((middleware, Metrics { tokens_issued }))
}
