//! `/metrics` in the Prometheus text format: requests and latency by endpoint and status
//! (actix-web-prom, counted on the main listener), and tokens issued by grant type. Each
//! application has its own registry, so several servers can run in one process (the
//! tests do). Served only on its own listener, `[metrics] listen` (#11 item 11): the
//! main listener faces the internet, and request counts by endpoint are for operators.

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Counters the domain increments.
#[derive(Clone)]
pub struct Metrics {
    pub tokens_issued: IntCounterVec,
    /// Calls to upstream providers (`federation`), by upstream, step and outcome.
    pub upstream_calls: HistogramVec,
}

impl Metrics {
    pub fn token_issued(&self, grant_type: &str) {
        self.tokens_issued.with_label_values(&[grant_type]).inc();
    }
}

/// The middleware that counts requests (it serves no endpoint) and our own counters.
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
    let upstream_calls = HistogramVec::new(
        HistogramOpts::new(
            "portcullis_upstream_call_duration_seconds",
            "Calls to upstream providers: starting a sign-in (discovery) and finishing it \
             (code exchange, verification, profile), by upstream and outcome",
        )
        .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        &["upstream", "step", "outcome"],
    )
    .map_err(|e| e.to_string())?;
    registry
        .register(Box::new(upstream_calls.clone()))
        .map_err(|e| e.to_string())?;
    let middleware = PrometheusMetricsBuilder::new("portcullis")
        .registry(registry)
        // Unknown paths share one label instead of growing the series without bound.
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| e.to_string())?;
    Ok((
        middleware,
        Metrics {
            tokens_issued,
            upstream_calls,
        },
    ))
}

/// The metrics listener: `GET /metrics` and nothing else, on one worker.
pub fn serve(
    listener: std::net::TcpListener,
    prometheus: &PrometheusMetrics,
) -> std::io::Result<Server> {
    let registry = prometheus.registry.clone();
    let server = HttpServer::new(move || {
        let registry = registry.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let registry = registry.clone();
                async move { render(&registry) }
            }),
        )
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .run();
    Ok(server)
}

fn render(registry: &Registry) -> HttpResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => HttpResponse::Ok()
            .content_type(encoder.format_type())
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
