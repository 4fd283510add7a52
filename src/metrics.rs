//! Prometheus metrics. Request and point-read latencies are recorded as they
//! happen; everything else is read from the live state at scrape time, so
//! `/metrics` always agrees with `/stats` and `/status` (no second set of counters
//! to drift).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::fetch::PayloadCache;
use crate::ingest::IngestStatus;
use crate::view::View;

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
    /// A registry reporting on `view`, `ingest` and `cache`, plus request metrics;
    /// per-type series for at most `max_type_series` types.
    pub fn new(
        view: View,
        ingest: Arc<IngestStatus>,
        cache: PayloadCache,
        max_type_series: usize,
    ) -> Self {
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
        registry.register_collector(Box::new(LiveState {
            view,
            ingest,
            cache,
            max_type_series,
        }));
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

/// Reads the view, the ingest status and the cache at scrape time.
#[derive(Clone)]
struct LiveState {
    view: View,
    ingest: Arc<IngestStatus>,
    cache: PayloadCache,
    max_type_series: usize,
}

/// The `type` label under which the types beyond `metrics.max_type_series` are summed
/// (a type of that name is summed there too, so no two series share a label).
pub const OTHER_TYPES: &str = "_other";

/// Per-type counts for the scrape: the `max_series` largest types by name, then the
/// rest summed under [`OTHER_TYPES`] (only if there is a rest). The sum is unchanged.
pub fn type_series(view: &View, max_series: usize) -> Vec<(String, u64)> {
    let mut series = Vec::new();
    let mut other: Option<u64> = None;
    for (name, index) in view.types_by_count() {
        if series.len() < max_series && name != OTHER_TYPES {
            series.push((name, index.len()));
        } else {
            *other.get_or_insert(0) += index.len();
        }
    }
    series.extend(other.map(|count| (OTHER_TYPES.to_owned(), count)));
    series
}

impl fmt::Debug for LiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveState")
    }
}

impl Collector for LiveState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut indexed = encoder.encode_descriptor(
            "analyzer_events_indexed",
            "Events in the index, by type: the metrics.max_type_series largest, the rest summed as type=\"_other\" (the sum equals /stats; drops if a topic is reset)",
            None,
            MetricType::Counter,
        )?;
        for (event_type, count) in type_series(&self.view, self.max_type_series) {
            ConstCounter::new(count).encode(indexed.encode_family(&[("type", event_type)])?)?;
        }
        let mut unclassified = encoder.encode_descriptor(
            "analyzer_events_unclassified",
            "Events whose type could not be determined, by reason",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in self.ingest.unclassified_counts() {
            ConstCounter::new(count).encode(unclassified.encode_family(&[("reason", reason)])?)?;
        }
        let mut lag = encoder.encode_descriptor(
            "analyzer_partition_lag",
            "Offsets between the last indexed event and the end of the partition",
            None,
            MetricType::Gauge,
        )?;
        for partition in self.ingest.partitions() {
            if let Some(value) = partition.lag() {
                let labels = [
                    ("topic", partition.topic.clone()),
                    ("partition", partition.partition.to_string()),
                ];
                ConstGauge::new(value).encode(lag.encode_family(&labels)?)?;
            }
        }
        let errors = self.ingest.read_errors();
        let mut stalled = encoder.encode_descriptor(
            "analyzer_partition_stalled",
            "1 while the partition cannot be read (an error librdkafka retries: a codec, a corrupt batch, an ACL; see /status), else 0",
            None,
            MetricType::Gauge,
        )?;
        for partition in self.ingest.partitions() {
            let stuck = errors
                .partition(&partition.topic, partition.partition)
                .is_some();
            let labels = [
                ("topic", partition.topic),
                ("partition", partition.partition.to_string()),
            ];
            ConstGauge::new(i64::from(stuck)).encode(stalled.encode_family(&labels)?)?;
        }
        let mut kafka_errors = encoder.encode_descriptor(
            "analyzer_kafka_errors",
            "Errors that kept ingest from reading Kafka, by reason (each retry of a failing read counts)",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in errors.counts() {
            ConstCounter::new(count)
                .encode(kafka_errors.encode_family(&[("reason", reason.as_str())])?)?;
        }
        let cache = self.cache.stats();
        let gauges = [
            (
                "analyzer_ready",
                "1 once every partition was read to its end (as /health/ready; stays 1)",
                i64::from(self.ingest.is_ready()),
            ),
            (
                "analyzer_caught_up",
                "1 while every assigned partition is read to its end and Kafka can be read",
                i64::from(self.ingest.is_caught_up()),
            ),
            (
                "analyzer_ingest_running",
                "1 while the ingest thread runs (0 after a fatal error)",
                i64::from(self.ingest.is_running()),
            ),
            (
                "analyzer_types",
                "Distinct event types indexed (declared ones included); capped by classify.max_types",
                self.view.type_count() as i64,
            ),
            (
                "analyzer_index_entries",
                "Positions in the index, unclassified included",
                self.view.total() as i64,
            ),
            (
                "analyzer_index_tentative_events",
                "Indexed events whose index may still move: clock at or above the watermark",
                self.view.tentative() as i64,
            ),
            (
                "analyzer_index_bytes",
                "Memory allocated for index positions",
                self.view.allocated_bytes() as i64,
            ),
            (
                "analyzer_payload_cache_bytes",
                "Bytes charged against the payload cache budget",
                cache.bytes as i64,
            ),
            (
                "analyzer_payload_cache_entries",
                "Payloads held in the cache",
                cache.entries as i64,
            ),
        ];
        for (name, help, value) in gauges {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        // In seconds, Prometheus's base unit (it was analyzer_index_watermark_ms).
        ConstGauge::new(self.view.watermark() as f64 / 1000.0).encode(encoder.encode_descriptor(
            "analyzer_index_watermark_seconds",
            "The watermark, seconds since the epoch: events with a lower clock have settled indexes",
            None,
            MetricType::Gauge,
        )?)?;
        let counters = [
            (
                "analyzer_payload_cache_hits",
                "Lookups served from the payload cache",
                cache.hits,
            ),
            (
                "analyzer_payload_cache_misses",
                "Lookups that read the event from Kafka",
                cache.misses,
            ),
            (
                "analyzer_topic_resets",
                "Topics found deleted and recreated (or truncated), whose index was rebuilt",
                self.ingest.topic_resets(),
            ),
            (
                "analyzer_late_events",
                "Events that arrived with a clock below the watermark, each moving settled indexes after it",
                self.view.late_events(),
            ),
            (
                "analyzer_duplicates_skipped",
                "Messages delivered again at an offset already indexed, and skipped",
                self.ingest.duplicates_skipped(),
            ),
        ];
        for (name, help, value) in counters {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Appended, Position, TopicId, Topics, new_view};

    #[test]
    fn type_series_keep_the_largest_and_sum_the_rest_as_other() {
        let (view, mut writer) = new_view(&Topics::new(&["t".to_owned()]));
        let mut offset = 0;
        // Type k has k + 1 events; a type literally named "_other" has 1.
        for (k, name) in ["a", "b", "c", "d", OTHER_TYPES].iter().enumerate() {
            let events = if *name == OTHER_TYPES { 1 } else { k + 1 };
            for _ in 0..events {
                let position = Position {
                    topic: TopicId(0),
                    partition: 0,
                    offset,
                };
                writer.append(name, &Appended::at(position)).unwrap();
                offset += 1;
            }
        }
        let series = type_series(&view, 2);
        assert_eq!(
            series,
            [
                ("d".to_owned(), 4),
                ("c".to_owned(), 3),
                (OTHER_TYPES.to_owned(), 2 + 1 + 1)
            ]
        );
        assert_eq!(series.iter().map(|s| s.1).sum::<u64>(), view.total());
        // Room for all: no _other but the type of that name, still alone.
        let all = type_series(&view, 10);
        assert_eq!(all.len(), 5);
        assert_eq!(all.last(), Some(&(OTHER_TYPES.to_owned(), 1)));
    }
}
