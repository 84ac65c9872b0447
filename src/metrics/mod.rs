//! Prometheus metrics: the [`exposition`] both `tcplab serve`'s `GET /metrics` and the
//! `tcplab metrics` exporter answer with.
pub mod exposition;
