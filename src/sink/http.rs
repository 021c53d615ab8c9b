//! The HTTP server: `/metrics` for Prometheus, `/v1/health` for people and peers.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::metrics::Metrics;
use crate::monitor::Monitor;

/// What the sampling loop updates and the server reads. The health document is built
/// when asked for, not on every sample.
pub struct Shared {
    pub metrics: Metrics,
    pub monitor: Mutex<Monitor>,
    pub host: String,
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/health", get(health))
        .route(
            "/",
            get(|| async { "iosentinel: see /metrics and /v1/health\n" }),
        )
        .with_state(shared)
}

async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    s.metrics
        .http_requests
        .with_label_values(&["/metrics"])
        .inc();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

async fn health(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    s.metrics
        .http_requests
        .with_label_values(&["/v1/health"])
        .inc();
    let doc = {
        let m = s.monitor.lock().unwrap_or_else(|e| e.into_inner());
        m.stepped().then(|| m.health(&s.host))
    };
    match doc {
        Some(h) => Json(h).into_response(),
        None => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no sample yet\n",
        )
            .into_response(),
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}
