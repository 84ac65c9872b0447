//! Prometheus metrics: `tcplab serve`'s `GET /metrics` and the `tcplab metrics` exporter, read
//! the way Prometheus reads them (and checked by `promtool`).

mod exporter;
mod prometheus;
mod scrape;
mod serve;
