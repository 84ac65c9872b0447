//! The Prometheus exposition both `tcplab serve`'s `/metrics` and `tcplab metrics` answer with:
//! which of the two text formats the scraper asked for (by `Accept`), and a registry filled
//! with values read at scrape time, encoded by `prometheus-client`. Nothing here keeps
//! counters between scrapes; callers read them from where they live and hand them in.

use prometheus_client::encoding::{prometheus_text, text, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

/// Label pairs of one series; names are fixed by the code, values come from the machine.
pub type Labels = Vec<(&'static str, String)>;

/// The two text formats Prometheus scrapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: what every scraper understands.
    Prometheus,
    /// OpenMetrics 1.0 text, sent only when the scraper asks for it.
    OpenMetrics,
}

impl Format {
    /// Chooses by the request's `Accept` (absent: the classic format). OpenMetrics is chosen
    /// when any media range names it with a non-zero quality, as Prometheus itself sends it.
    pub fn negotiate(accept: Option<&[u8]>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let wants_openmetrics = accept.split(|&b| b == b',').any(|range| {
            let mut params = range.split(|&b| b == b';');
            let media = trim(params.next().unwrap_or_default());
            if !media.eq_ignore_ascii_case(b"application/openmetrics-text") {
                return false;
            }
            // `q=0` means "not this one" (RFC 9110 12.4.2).
            !params.any(|p| {
                let p = trim(p);
                p.len() >= 2
                    && p[..2].eq_ignore_ascii_case(b"q=")
                    && std::str::from_utf8(&p[2..])
                        .ok()
                        .and_then(|q| q.trim().parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// A registry being filled for one scrape. Counter names are given without `_total` and
/// unit-bearing names without their unit: the encoder appends both, in each format's way.
#[derive(Debug, Default)]
pub struct Exposition {
    registry: Registry,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A counter read from elsewhere (the encoder adds `_total`).
    pub fn counter(&mut self, name: &str, help: &str, unit: Option<Unit>, value: u64) {
        self.register(name, help, unit, ConstCounter::new(value));
    }

    pub fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, value: i64) {
        self.register(name, help, unit, ConstGauge::new(value));
    }

    pub fn gauge_f64(&mut self, name: &str, help: &str, unit: Option<Unit>, value: f64) {
        self.register(name, help, unit, ConstGauge::new(value));
    }

    /// A counter with labels, one series per row, written in the rows' order.
    pub fn counters(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        rows: Vec<(Labels, u64)>,
    ) {
        let rows = rows
            .into_iter()
            .map(|(l, v)| (l, ConstCounter::new(v)))
            .collect();
        self.register(name, help, unit, Ordered(rows));
    }

    /// A gauge with labels, one series per row, written in the rows' order.
    pub fn gauges(&mut self, name: &str, help: &str, unit: Option<Unit>, rows: Vec<(Labels, i64)>) {
        let rows = rows
            .into_iter()
            .map(|(l, v)| (l, ConstGauge::new(v)))
            .collect();
        self.register(name, help, unit, Ordered(rows));
    }

    /// A gauge of fractional values with labels, in the rows' order.
    pub fn gauges_f64(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        rows: Vec<(Labels, f64)>,
    ) {
        let rows = rows
            .into_iter()
            .map(|(l, v)| (l, ConstGauge::new(v)))
            .collect();
        self.register(name, help, unit, Ordered(rows));
    }

    /// An info metric: `NAME_info{labels} 1`.
    pub fn info(&mut self, name: &str, help: &str, labels: Labels) {
        self.registry.register(name, help, Info::new(labels));
    }

    fn register<M>(&mut self, name: &str, help: &str, unit: Option<Unit>, metric: M)
    where
        M: prometheus_client::registry::Metric,
    {
        match unit {
            Some(unit) => self.registry.register_with_unit(name, help, unit, metric),
            None => self.registry.register(name, help, metric),
        }
    }

    /// The page, in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail; an encoder error would be a bug in a name.
        let _ = match format {
            Format::Prometheus => prometheus_text::encode(&mut out, &self.registry),
            Format::OpenMetrics => text::encode(&mut out, &self.registry),
        };
        out
    }
}

/// Series of one family in a fixed order (the crate's own `Family` is a hash map, so its
/// order changes from scrape to scrape; people and snapshot tests read these pages).
#[derive(Debug)]
struct Ordered<M>(Vec<(Labels, M)>);

impl<M: EncodeMetric + TypedMetric> EncodeMetric for Ordered<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in &self.0 {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }
}

/// Label pairs from string slices.
pub fn labels<const N: usize>(pairs: [(&'static str, &str); N]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// `tcplab_build_info{version}`: which tcplab is answering.
pub fn build_info(e: &mut Exposition) {
    e.info(
        "tcplab_build",
        "The tcplab version answering this scrape",
        labels([("version", env!("CARGO_PKG_VERSION"))]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_format() {
        let n = |a: &str| Format::negotiate(Some(a.as_bytes()));
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(n("text/plain"), Format::Prometheus);
        assert_eq!(n("*/*"), Format::Prometheus);
        // What Prometheus 2.x sends.
        assert_eq!(
            n("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics
        );
        assert_eq!(
            n(" Application/OpenMetrics-Text ; q=0.3"),
            Format::OpenMetrics
        );
        assert_eq!(n("application/openmetrics-text;q=0"), Format::Prometheus);
        assert_eq!(
            n("application/openmetrics-text;q=0.0, text/plain"),
            Format::Prometheus
        );
        assert_eq!(n("\u{7f}\u{1},;;;q="), Format::Prometheus);
    }

    #[test]
    fn both_formats_name_counters_and_units_the_prometheus_way() {
        let mut e = Exposition::new();
        e.counter("x_sent", "Sent", Some(Unit::Bytes), 3);
        e.gauges(
            "x_open",
            "Open",
            None,
            vec![
                (labels([("worker", "1")]), 2),
                (labels([("worker", "0")]), 5),
            ],
        );
        let text = e.encode(Format::Prometheus);
        assert!(text.contains("# TYPE x_sent_bytes_total counter\nx_sent_bytes_total 3\n"));
        assert!(text.contains("x_open{worker=\"1\"} 2\nx_open{worker=\"0\"} 5\n"));
        assert!(!text.contains("# EOF"));
        let om = e.encode(Format::OpenMetrics);
        assert!(om.contains("# TYPE x_sent_bytes counter\n# UNIT x_sent_bytes bytes\n"));
        assert!(om.ends_with("# EOF\n"));
    }
}
