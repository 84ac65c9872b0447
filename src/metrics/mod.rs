//! Prometheus metrics: the [`exposition`] both `tcplab serve`'s `GET /metrics` and the
//! `tcplab metrics` exporter answer with, and the exporter itself: [`collect`] reads the
//! kernel at scrape time into an [`inspector::Scrape`], [`transitions`] counts state changes
//! from the tracepoint, [`exporter`] answers HTTP.
pub mod collect;
pub mod exporter;
pub mod exposition;
pub mod inspector;
pub mod transitions;
