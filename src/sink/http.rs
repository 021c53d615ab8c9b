//! The HTTP server: `/metrics` for Prometheus, `/v1/health` for people and peers.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::metrics::Metrics;
use crate::monitor::Health;

/// What the sampling loop publishes and the server reads.
pub struct Shared {
    pub metrics: Metrics,
    pub health: RwLock<Option<Health>>,
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
    let doc = s.health.read().unwrap_or_else(|e| e.into_inner()).clone();
    match doc {
        Some(h) => Json(serde_json::to_value(h).unwrap_or_default()).into_response(),
        None => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no sample yet\n",
        )
            .into_response(),
    }
}

/// Binds `addr` (so a port in use is reported at start, not later) and serves forever.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
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
