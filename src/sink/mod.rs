//! Where the judgement goes: Prometheus metrics and the HTTP server.
pub mod http;
pub mod metrics;
