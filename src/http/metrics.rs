//! `GET /metrics` (the Prometheus scrape, outside the OpenAPI document) and the
//! middleware that records every request in it, and [`LiveState`], what the
//! scrape reads from the index, ingest and the cache.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{HttpResponse, ResponseError};

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::AppState;
use super::error::ApiError;
use crate::fetch::PayloadCache;
use crate::ingest::IngestStatus;
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::view::View;

/// Prometheus scrape endpoint: plain text. Open unless `[http] protect_metrics`.
pub async fn get_metrics(state: Data<AppState>) -> HttpResponse {
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type(metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => ApiError::Internal(format!("cannot encode metrics: {e}")).error_response(),
    }
}

/// The method label for request metrics: the standard ones, else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every request by route template (never the raw
/// path: bounded label values), tracks requests in flight for shutdown, and logs
/// each request at debug level.
pub async fn record_request(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = method_label(request.method());
    let path = log::log_enabled!(log::Level::Debug).then(|| request.path().to_owned());
    let metrics = request
        .app_data::<Data<AppState>>()
        .map(|state| Arc::clone(&state.metrics));
    let in_flight = metrics.as_ref().map(|m| m.request_started());
    let response = next.call(request).await;
    drop(in_flight);
    let status = match &response {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let elapsed = started.elapsed();
    if let Some(path) = path {
        log::debug!("{method} {path} -> {} in {elapsed:?}", status.as_u16());
    }
    if let Some(metrics) = metrics {
        metrics.observe_http(route, method, status.as_u16(), elapsed);
    }
    response
}

/// Reads the view, the ingest status and the cache at scrape time.
#[derive(Clone)]
pub struct LiveState {
    /// The index.
    pub view: View,
    /// What the ingest thread reports.
    pub ingest: Arc<IngestStatus>,
    /// The payload cache.
    pub cache: PayloadCache,
    /// `[metrics] max_type_series`.
    pub max_type_series: usize,
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
        let keys = self.view.key_counts();
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
                "analyzer_keys",
                "Distinct keys in the key index ([keys]); capped by keys.max_keys",
                keys.keys as i64,
            ),
            (
                "analyzer_key_index_bytes",
                "Memory the key index holds, estimated from what it keeps",
                keys.bytes as i64,
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
                "analyzer_keys_left_out",
                "Events left out of the key index because their key was new past keys.max_keys",
                keys.left_out,
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
