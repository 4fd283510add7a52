//! Prometheus metrics. Request and point-read latencies are recorded as they
//! happen; everything else is read from the live state at scrape time (the
//! collector `http::metrics::LiveState`), so
//! `/metrics` always agrees with `/stats` and `/status` (no second set of counters
//! to drift).

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Content type of the exposition `encode` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Route label for requests that matched no route (bounded, unlike raw paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The process's metrics registry and its typed recording methods.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    kafka_fetch: Histogram,
    in_flight: Gauge<i64, AtomicI64>,
}

/// Counts a request as in flight until dropped.
pub struct InFlight(Gauge<i64, AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry of the request metrics, plus what `live` reads at scrape time
    /// (the index, ingest and the cache: see `http::metrics`).
    pub fn new(live: Box<dyn Collector>) -> Self {
        let mut registry = Registry::default();
        // Families and histograms are handles onto shared storage: the registry
        // holds one clone, `Metrics` records through the other.
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "analyzer_http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        // 100 µs .. ~3.3 s
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0001, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "analyzer_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            http_duration.clone(),
        );
        // 1 ms .. ~8 s
        let kafka_fetch = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "analyzer_kafka_fetch_seconds",
            "Time to read one uncached event from Kafka (point read), whatever the outcome",
            kafka_fetch.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "analyzer_http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        registry.register_collector(live);
        Metrics {
            registry,
            http_requests,
            http_duration,
            kafka_fetch,
            in_flight,
        }
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Waits until no request is in flight, or `deadline`; true if none is left.
    pub async fn wait_idle(&self, deadline: Instant) -> bool {
        while self.in_flight.get() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Records one answered request. `route` is the matched route template and
    /// `method` one of a fixed set of names (bounded label values).
    pub fn observe_http(
        &self,
        route: String,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let duration = RouteLabels {
            route: route.clone(),
        };
        self.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&duration)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one point read from Kafka.
    pub fn observe_kafka_fetch(&self, elapsed: Duration) {
        self.kafka_fetch.observe(elapsed.as_secs_f64());
    }

    /// The exposition text (OpenMetrics, which Prometheus scrapes natively).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
