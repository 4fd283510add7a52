//! Payload retrieval: the index stores positions, not payloads. [`Fetcher`] is the
//! one path from a position to its bytes: the bounded cache filled at ingest time,
//! else a point read from Kafka by a pool of warm consumers.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rdkafka::error::KafkaError;

mod cache;
mod reader;

pub use cache::{CACHE_ENTRY_OVERHEAD, CacheStats, PayloadCache};
pub use reader::KafkaReader;

use crate::metrics::Metrics;
use crate::view::Position;

/// An event's value as Kafka holds it, with its Kafka timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The value bytes (empty for a null value).
    pub value: Bytes,
    /// Kafka timestamp in ms since the epoch, if the message had one.
    pub timestamp_ms: Option<i64>,
}

/// Why a payload could not be returned.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The message is no longer in Kafka (retention or compaction removed it).
    #[error(
        "the event at {topic}/{partition}@{offset} is no longer in Kafka (retention or compaction removed it)"
    )]
    Gone {
        /// Topic name.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset.
        offset: i64,
    },
    /// Kafka did not answer in time.
    #[error("Kafka did not return the event within {timeout_ms} ms{}", last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    Unavailable {
        /// How long we waited.
        timeout_ms: u128,
        /// The last client error seen, if any.
        last_error: Option<KafkaError>,
    },
    /// The Kafka client refused an operation.
    #[error("Kafka client error: {0}")]
    Client(#[from] KafkaError),
}

/// Resolves positions to payloads: the cache first, then Kafka.
pub struct Fetcher {
    cache: PayloadCache,
    reader: Arc<KafkaReader>,
    metrics: Arc<Metrics>,
}

impl Fetcher {
    /// A fetcher over `cache` and `reader`, timing point reads into `metrics`.
    pub fn new(cache: PayloadCache, reader: KafkaReader, metrics: Arc<Metrics>) -> Self {
        Fetcher {
            cache,
            reader: Arc::new(reader),
            metrics,
        }
    }

    /// The payload at `position`: cached, or read from Kafka.
    pub async fn payload(&self, position: Position) -> Result<Payload, FetchError> {
        if let Some(payload) = self.cache.get(&position) {
            return Ok(payload);
        }
        let started = Instant::now();
        let read = self.reader.read(position).await;
        self.metrics.observe_kafka_fetch(started.elapsed());
        read
    }

    /// The payload cache, for its figures.
    pub fn cache(&self) -> &PayloadCache {
        &self.cache
    }
}
