//! Payload retrieval: the index stores positions, not payloads. [`Fetcher`] is the
//! one path from a position to its bytes: the bounded cache filled at ingest time,
//! else a point read from Kafka by a pool of warm consumers, or, for an export, a
//! sequential read of its own.

use std::sync::Arc;
use std::time::Instant;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};

mod cache;
mod reader;
mod sequential;

pub use cache::{CACHE_ENTRY_OVERHEAD, CacheStats, PayloadCache};
pub use reader::KafkaReader;
pub use sequential::SequentialRead;

use crate::metrics::Metrics;
use crate::view::{Position, TopicId};

/// An event as Kafka holds it: value, timestamp, key and headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    /// The value bytes (empty for a null value).
    pub value: Bytes,
    /// Kafka timestamp in ms since the epoch, if the message had one.
    pub timestamp_ms: Option<i64>,
    /// The key, if the message has one.
    pub key: Option<Bytes>,
    /// The headers, in order (None: no headers; no allocation for the common case).
    pub headers: Option<Arc<[EventHeader]>>,
    /// Whether the value is null (a tombstone), not merely empty.
    pub tombstone: bool,
    /// Whether `headers` were read from the message. The cache may skip them:
    /// librdkafka parses a message's headers (an allocation even when there are
    /// none) on first access, which slowed catch-up with the cache on by 17-30%.
    pub headers_read: bool,
}

/// One Kafka header of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeader {
    /// Its name (U+FFFD where Kafka's bytes are not UTF-8: rdkafka cannot read them).
    pub name: String,
    /// Its value; None for a null header.
    pub value: Option<Bytes>,
}

/// Bytes a header costs beyond its name and value (its slot and allocations).
const HEADER_OVERHEAD: u64 = 48;

impl Payload {
    /// A payload of `value` alone (tests, benches).
    pub fn of_value(value: &[u8], timestamp_ms: Option<i64>) -> Payload {
        Payload {
            value: Bytes::copy_from_slice(value),
            timestamp_ms,
            headers_read: true,
            ..Payload::default()
        }
    }

    /// Copies what a lookup serves out of a Kafka message, its headers too only
    /// `with_headers` (see `headers_read`).
    pub fn of_message(
        message: &impl Message<Headers = impl Headers>,
        with_headers: bool,
    ) -> Payload {
        let headers = with_headers
            .then(|| message.headers())
            .flatten()
            .and_then(|headers| {
                let copied: Vec<EventHeader> = (0..headers.count())
                    .map(|i| {
                        // rdkafka panics on a header name that is not UTF-8 (hostile input).
                        catch_unwind(AssertUnwindSafe(|| headers.try_get(i)))
                            .ok()
                            .flatten()
                            .map_or_else(
                                || EventHeader {
                                    name: char::REPLACEMENT_CHARACTER.to_string(),
                                    value: None,
                                },
                                |h| EventHeader {
                                    name: h.key.to_owned(),
                                    value: h.value.map(Bytes::copy_from_slice),
                                },
                            )
                    })
                    .collect();
                (!copied.is_empty()).then(|| Arc::from(copied))
            });
        Payload {
            value: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
            timestamp_ms: message.timestamp().to_millis(),
            key: message.key().map(Bytes::copy_from_slice),
            headers,
            tombstone: message.payload().is_none(),
            headers_read: with_headers,
        }
    }

    /// Its headers, in order.
    pub fn headers(&self) -> &[EventHeader] {
        self.headers.as_deref().unwrap_or_default()
    }

    /// Bytes it holds: value, key and headers (what the cache charges, with overhead).
    pub fn size(&self) -> u64 {
        let headers: u64 = self
            .headers()
            .iter()
            .map(|h| {
                h.name.len() as u64
                    + h.value.as_ref().map_or(0, |v| v.len() as u64)
                    + HEADER_OVERHEAD
            })
            .sum();
        self.value.len() as u64 + self.key.as_ref().map_or(0, |k| k.len() as u64) + headers
    }
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

    /// The payloads at `positions`, headers included, in order: cached ones from the
    /// cache (when it kept their headers), the others read from Kafka in one pass per
    /// partition (not one point read each). None for an event Kafka no longer has.
    pub async fn payloads(
        &self,
        positions: &[Position],
    ) -> Result<Vec<Option<Payload>>, FetchError> {
        // A cached payload whose headers the cache did not keep is read again.
        let mut found: Vec<Option<Payload>> = positions
            .iter()
            .map(|p| self.cache.get(p).filter(|payload| payload.headers_read))
            .collect();
        // Per partition, each offset missing and the slots that want it.
        let mut missing: BTreeMap<(TopicId, i32), BTreeMap<i64, Vec<usize>>> = BTreeMap::new();
        for (slot, position) in positions.iter().enumerate() {
            if found[slot].is_none() {
                missing
                    .entry((position.topic, position.partition))
                    .or_default()
                    .entry(position.offset)
                    .or_default()
                    .push(slot);
            }
        }
        for ((topic, partition), wanted) in missing {
            let offsets: Vec<i64> = wanted.keys().copied().collect();
            let started = Instant::now();
            let read = self.reader.read_span(topic, partition, offsets).await;
            self.metrics.observe_kafka_fetch(started.elapsed());
            for (slots, payload) in wanted.values().zip(read?) {
                for slot in slots {
                    found[*slot] = payload.clone();
                }
            }
        }
        Ok(found)
    }

    /// Payloads to be asked for in order, many of them (an export); blocking.
    pub fn in_order(&self) -> InOrder<'_> {
        InOrder {
            fetcher: self,
            kafka: None,
            read_kafka: false,
        }
    }

    /// The payload cache, for its figures.
    pub fn cache(&self) -> &PayloadCache {
        &self.cache
    }
}

/// Payloads asked for in order (see [`Fetcher::in_order`]): cached ones from the
/// cache, the others by one [`SequentialRead`], made at the first miss.
pub struct InOrder<'a> {
    fetcher: &'a Fetcher,
    kafka: Option<SequentialRead>,
    /// Whether Kafka was read since the last [`InOrder::end_batch`].
    read_kafka: bool,
}

impl InOrder<'_> {
    /// The payload at `position`, headers included; None when Kafka no longer has it.
    pub fn payload(&mut self, position: Position) -> Result<Option<Payload>, FetchError> {
        let fetcher = self.fetcher;
        let cached = fetcher
            .cache
            .is_enabled()
            .then(|| fetcher.cache.get(&position));
        if let Some(cached) = cached.flatten().filter(|p| p.headers_read) {
            return Ok(Some(cached));
        }
        let kafka = match &mut self.kafka {
            Some(kafka) => kafka,
            None => self.kafka.insert(fetcher.reader.sequential()?),
        };
        self.read_kafka = true;
        kafka.read(position)
    }

    /// Ends a batch (a chunk of an export): its Kafka reads count as one fetch in
    /// the metrics, as long as the time waited for them, and the client serves its
    /// callbacks.
    pub fn end_batch(&mut self) {
        let Some(kafka) = &mut self.kafka else {
            return;
        };
        if std::mem::take(&mut self.read_kafka) {
            self.fetcher
                .metrics
                .observe_kafka_fetch(kafka.take_waited());
        }
        kafka.serve();
    }
}
