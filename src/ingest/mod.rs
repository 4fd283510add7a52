//! Ingest: one long-lived Kafka consumer that reads every partition of the configured
//! topics from the beginning and appends each event's position to the view.
//!
//! It assigns partitions itself (no consumer group, no commits, so read-only ACLs
//! suffice), reads `read_committed`, and runs on two threads of its own: `ingest`
//! polls, `index` classifies and appends in the order polled (one writer, no
//! per-message async overhead; see `pipeline`). "Caught up" comes from the end of
//! each partition as Fetch reports it (partition EOF), never from ListOffsets.
//!
//! Faults: a broker outage is waited out (librdkafka reconnects; the view keeps
//! serving). An offset at or below one already indexed is never indexed again. A log
//! that ends below what was indexed (topic deleted and recreated, or truncated) drops
//! that topic's part of the view and re-reads it from its new beginning. Only an
//! authentication or authorization failure, or a fatal client error, stops ingest.
//!
//! This file holds the thread's life and the index step; beside it: `context`
//! (librdkafka's callbacks: statistics, errors, tokens), `partitions` (discover,
//! assign, ends, reset), `classification` (a message's type), `pipeline` (the
//! hand-off between the two threads), `read_errors`, `snapshots`, `status`
//! (what `/status` reads) and `warnings` (the one limiter of repeated warnings).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientContext as _, Message as _};

use crate::classify::{KeyRule, Rule, Unclassified};
use crate::config::KafkaSettings;
use crate::decode::Decoder;
use crate::fetch::PayloadCache;
use crate::kafka::{self, ClientRole, TokenSource};
use crate::snapshot::Location;
use crate::view::{Appended, Placed, Position, Refused, TopicId, Topics, UNCLASSIFIED, ViewWriter};

mod classification;
mod context;
mod partitions;
mod pipeline;
mod read_errors;
mod snapshots;
mod status;
mod warnings;

use context::IngestContext;
use partitions::PartitionState;
pub use read_errors::{ErrorReason, ReadError, ReadErrors};
use status::lock;
pub use status::{BrokerReport, IngestStatus, PartitionReport, SnapshotReport};
use warnings::Sampled;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const TICK: Duration = Duration::from_secs(1);
/// While messages stream, the clock is read once every this many. A read costs
/// ~30 ns on this VM (vDSO); with librdkafka's own reads in a waiting poll, clock
/// reads were 18% of the ingest thread at catch-up (perf, 1M events). A poll that
/// does not wait (timeout 0) spares librdkafka one of its reads too.
const CLOCK_EVERY: u32 = 64;
/// How often the watermark is recomputed and events below it settled: often enough
/// that a lookup a moment after an event arrived sees it settled.
const SETTLE_EVERY: Duration = Duration::from_millis(10);
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);
/// Events read before the size of a cache entry is estimated.
const SIZE_SAMPLE: u64 = 4096;

/// What is wrong with `[kafka]` for the index: more topics than positions can name.
pub fn settings_problems(kafka: &KafkaSettings) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if kafka.topics.len() > crate::view::MAX_TOPICS {
        let problem = format!("at most {} topics can be indexed", crate::view::MAX_TOPICS);
        problems.push(("kafka.topics".to_owned(), problem));
    }
    problems
}

/// A running ingest thread.
pub struct IngestHandle {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    status: Arc<IngestStatus>,
}

impl IngestHandle {
    /// Shared status of the ingest thread.
    pub fn status(&self) -> Arc<IngestStatus> {
        Arc::clone(&self.status)
    }

    /// Asks the thread to stop and waits for it: one poll interval, or up to the
    /// metadata timeout if it is in the middle of discovering partitions.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("ingest thread panicked");
        }
    }
}

impl Drop for IngestHandle {
    /// Signals the thread to stop without waiting, so dropping never blocks.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// How ingest classifies, orders and keeps what it reads.
pub struct IngestOptions {
    /// `[order] max_lateness_ms`.
    pub max_lateness_ms: u64,
    /// The classification rule.
    pub rule: Rule,
    /// How an event's entity key is found (None: no key index).
    pub key_rule: Option<KeyRule>,
    /// Whether the cache keeps each event's headers.
    pub cache_headers: bool,
    /// The value formats: what does not decode goes to `unclassified`.
    pub decoder: Arc<Decoder>,
    /// `[snapshot] dir` and how often to write one (None: never, only read), when set.
    pub snapshots: Option<(Vec<Location>, Option<Duration>)>,
    /// How events are typed, in words (the rule, `classify.max_types`, the value
    /// formats' settings): snapshots record it, and one typed otherwise is not used.
    pub typing: String,
    /// OAUTHBEARER tokens analyzer makes (MSK IAM).
    pub tokens: TokenSource,
}

/// Starts the ingest thread for `kafka`'s topics, appending through `writer`.
pub fn spawn(
    kafka: &KafkaSettings,
    options: IngestOptions,
    writer: ViewWriter,
    cache: PayloadCache,
) -> Result<IngestHandle, KafkaError> {
    let IngestOptions {
        max_lateness_ms,
        rule,
        key_rule,
        cache_headers,
        decoder,
        snapshots,
        typing,
        tokens,
    } = options;
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(IngestStatus::new(kafka.topics.len()));
    let consumer: BaseConsumer<IngestContext> = kafka::client_config(kafka, ClientRole::Ingest)
        .create_with_context(IngestContext::new(Arc::clone(&status), tokens))?;
    let mut ingest = Ingest {
        consumer,
        refresh_every: Duration::from_secs(kafka.metadata_refresh_secs),
        assignment_stale: false,
        consumer_warnings: Sampled::default(),
        indexer: Indexer {
            topics: Topics::new(&kafka.topics),
            rule,
            key_rule,
            writer,
            cache,
            status: Arc::clone(&status),
            partitions: BTreeMap::new(),
            some_topic_missing: false,
            indexed: 0,
            started: Instant::now(),
            caught_up_at: None,
            max_lateness_ms,
            late_warnings: Sampled::default(),
            too_many_types: Sampled::default(),
            cache_headers,
            value_bytes_seen: 0,
            decoder,
            undecodable: Sampled::default(),
            waiting: false,
            stop: Arc::clone(&stop),
            snapshots: snapshots.map(|(locations, every)| snapshots::Snapshots {
                locations: Arc::new(locations),
                every,
                next: Instant::now() + every.unwrap_or_default(),
                writing: None,
                cut_at: None,
                typing: typing.into(),
            }),
        },
    };
    let stop_flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("ingest".into())
        .spawn(move || {
            ingest.run(&stop_flag);
            ingest
                .indexer
                .status
                .running
                .store(false, Ordering::Release);
        })
        .map_err(|e| KafkaError::ClientCreation(format!("cannot start ingest thread: {e}")))?;
    Ok(IngestHandle {
        thread: Some(thread),
        stop,
        status,
    })
}

/// The consumer, apart from what it feeds, so a polled message (which borrows the
/// consumer) can be indexed while the indexer is mutated.
struct Ingest {
    consumer: BaseConsumer<IngestContext>,
    refresh_every: Duration,
    /// The known partitions changed and are not all assigned yet.
    assignment_stale: bool,
    consumer_warnings: Sampled,
    indexer: Indexer,
}

/// Everything the per-message path reads and writes.
struct Indexer {
    topics: Topics,
    rule: Rule,
    key_rule: Option<KeyRule>,
    writer: ViewWriter,
    cache: PayloadCache,
    status: Arc<IngestStatus>,
    partitions: BTreeMap<(TopicId, i32), PartitionState>,
    some_topic_missing: bool,
    indexed: u64,
    started: Instant,
    caught_up_at: Option<Instant>,
    /// `[order] max_lateness_ms`: when a partition at its end stops holding the
    /// watermark back.
    max_lateness_ms: u64,
    late_warnings: Sampled,
    too_many_types: Sampled,
    /// The value formats, checking values when one is configured.
    decoder: Arc<Decoder>,
    undecodable: Sampled,
    /// Set while ingest waits for the Schema Registry (spares a lock per message).
    waiting: bool,
    stop: Arc<AtomicBool>,
    /// Whether the cache keeps each event's headers.
    cache_headers: bool,
    /// Value bytes of the events indexed, for the size of a cache entry.
    value_bytes_seen: u64,
    /// `[snapshot] dir`, when set.
    snapshots: Option<snapshots::Snapshots>,
}

impl Ingest {
    fn run(&mut self, stop: &AtomicBool) {
        self.restore_snapshot();
        let Ingest {
            consumer,
            refresh_every,
            assignment_stale,
            consumer_warnings,
            indexer,
        } = self;
        let (topics, status) = (indexer.topics.clone(), Arc::clone(&indexer.status));
        let shared = Mutex::new(&mut *indexer);
        std::thread::scope(|scope| {
            let mut handoff = match pipeline::Handoff::start(scope, &shared) {
                Ok(handoff) => handoff,
                Err(e) => {
                    error!("ingest stops: cannot start the index thread: {e}");
                    *lock(&status.fatal_error) =
                        Some(format!("cannot start the index thread: {e}"));
                    return;
                }
            };
            let mut next_discovery = Instant::now();
            let mut discovery_backoff = Duration::from_secs(1);
            // Messages polled in a row: while they stream, poll without waiting and
            // read the clock once every CLOCK_EVERY (see there).
            let mut streak = 0u32;
            let mut now = Instant::now();
            while !stop.load(Ordering::Acquire) && handoff.alive() {
                if streak.is_multiple_of(CLOCK_EVERY) {
                    now = Instant::now();
                }
                if now >= next_discovery {
                    let (complete, added) = handoff.sync().discover(consumer);
                    *assignment_stale |= added;
                    next_discovery = if complete {
                        discovery_backoff = Duration::from_secs(1);
                        now + *refresh_every
                    } else {
                        discovery_backoff = (discovery_backoff * 2).min(MAX_RETRY_BACKOFF);
                        now + discovery_backoff
                    };
                }
                if *assignment_stale {
                    *assignment_stale = !handoff.sync().assign_all(consumer, consumer_warnings);
                }
                let polled = consumer.poll(if streak > 0 {
                    Duration::ZERO
                } else {
                    POLL_TIMEOUT
                });
                streak = if matches!(polled, Some(Ok(_))) {
                    streak.wrapping_add(1).max(1)
                } else {
                    handoff.flush();
                    0
                };
                // Statistics queued before this message describe the log up to it.
                let mut reset = BTreeSet::new();
                if let Some(snapshot) = consumer.context().take_fresh() {
                    reset = handoff.sync().on_statistics(snapshot);
                    *assignment_stale |= !reset.is_empty();
                }
                match polled {
                    // A reset topic is read again from its beginning, this message too.
                    // (`reset` is empty on all but a few polls: no per-message lookup.)
                    Some(Ok(message))
                        if !reset.is_empty()
                            && topics
                                .id(message.topic())
                                .is_some_and(|t| reset.contains(&t)) => {}
                    Some(Ok(message)) => handoff.push(message),
                    Some(Err(KafkaError::PartitionEOF(partition))) => {
                        let at = lock(&consumer.context().eof).take();
                        handoff.sync().on_partition_end(partition, at)
                    }
                    Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                        consumer
                            .context()
                            .error(KafkaError::Global(code), "consumer fatal error");
                    }
                    // Recorded (and logged) by the context as it came: see read_errors.
                    Some(Err(KafkaError::MessageConsumption(_))) => {}
                    Some(Err(e)) => {
                        consumer_warnings.warn(|| format!("Kafka consumer error (will retry): {e}"))
                    }
                    None => {}
                }
                if let Some(reason) = consumer.context().fatal() {
                    error!("ingest stops on an error retrying cannot fix: {reason}");
                    *lock(&status.fatal_error) = Some(reason);
                    break;
                }
            }
            if !handoff.alive() {
                error!("ingest stops: the index thread ended");
                *lock(&status.fatal_error) = Some("the index thread ended".into());
            }
            handoff.finish();
        });
        indexer.publish();
        indexer.finish_snapshot();
        info!("ingest stopped after indexing {} events", indexer.indexed);
    }
}

impl Indexer {
    fn index(&mut self, message: &BorrowedMessage<'_>) {
        let topic_name = message.topic(); // a C string: measured, so read once
        let Some(topic) = self.topics.id(topic_name) else {
            return;
        };
        let partition = message.partition();
        let offset = message.offset();
        // The type first: it may wait for the Schema Registry, and a stop while
        // waiting leaves this offset unindexed.
        let Some(typed) = self.type_of(topic_name, message) else {
            return;
        };
        let state = self.partitions.entry((topic, partition)).or_default();
        // After a reconnect or an offset reset a fetch may be replayed: never index
        // an offset twice.
        if offset < state.next_offset {
            self.status
                .duplicates_skipped
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.next_offset = offset + 1;
        let cached = offset >= state.cache_from;
        let timestamp_ms = message.timestamp().to_millis();
        state.last_timestamp = timestamp_ms;
        // The clock: the running maximum of the partition's timestamps; a missing or
        // negative one keeps the previous clock.
        if let Some(ms) = timestamp_ms.and_then(|ms| u64::try_from(ms).ok()) {
            state.clock = state.clock.max(ms);
        }
        let value = message.payload();
        let event = Appended {
            position: Position {
                topic,
                partition,
                offset,
            },
            clock: state.clock,
            value_bytes: value.map_or(0, |v| v.len() as u64),
        };
        let mut indexed_under = typed.as_ref().ok().cloned();
        let appended = match typed {
            Ok(event_type) => match self.writer.append(&event_type, &event) {
                Err(Refused::TooManyTypes { cap }) => {
                    if let Some(count) = self.too_many_types.due() {
                        let example: String = event_type.chars().take(100).collect();
                        warn!(
                            "classify.max_types ({cap}) reached: {count} event(s) of new types went to unclassified as too_many_types, e.g. type {example:?}; a type rule that picks a unique id? (raise classify.max_types if the types are real)"
                        );
                    }
                    self.status
                        .count_unclassified(topic, Unclassified::TooManyTypes);
                    indexed_under = None;
                    self.writer
                        .append_unclassified(&event)
                        .map_err(Refused::from)
                }
                other => other,
            },
            Err(reason) => {
                self.status.count_unclassified(topic, reason);
                self.writer
                    .append_unclassified(&event)
                    .map_err(Refused::from)
            }
        };
        if appended.is_ok()
            && let Some(rule) = &self.key_rule
        {
            let event_type = indexed_under.as_deref().unwrap_or(UNCLASSIFIED);
            let key = classification::key_of(rule, &self.decoder, event_type, topic_name, message);
            if let Some(key) = key {
                // The position was accepted by the type's append just now.
                let _ = self.writer.append_key(&key, event_type, &event);
            }
        }
        match appended {
            Ok(Placed::InOrder) => {}
            Ok(Placed::Late) => self.late_warnings.warn(|| format!(
                "a late event broke the settled numbering: {topic_name}/{partition}@{offset} has clock {} ms, below the watermark; it took its place by the rule and later settled indexes of its type moved up (counted in analyzer_late_events_total)",
                event.clock
            )),
            Err(e) => {
                // Cannot happen for assigned partitions; counted so it is never silent.
                self.status
                    .count_unclassified(topic, Unclassified::PositionOutOfRange);
                warn!("event at {topic_name}/{partition}@{offset} cannot be indexed: {e}");
            }
        }
        // The key too, and the headers when asked (`cache.headers`) or already
        // parsed by the header rule: parsing them costs catch-up 17-30% (BENCHMARKS-HISTORY.md).
        if self.indexed == SIZE_SAMPLE {
            // The first estimate of an entry's size: enough to know what to cache.
            self.skip_what_the_cache_would_evict();
        }
        if let Some(value) = value {
            self.value_bytes_seen += value.len() as u64;
            if cached && self.cache.is_enabled() {
                let payload = crate::fetch::Payload::of_message(message, self.cache_headers);
                self.cache.insert(&event.position, payload);
            }
        }
        self.indexed += 1;
    }

    /// Raises the watermark to what the partitions' clocks allow (see
    /// [`crate::view::watermark`]) and settles the events below it.
    fn settle(&mut self) {
        let partitions = self.partitions.values().map(|s| (s.clock, s.at_end()));
        if let Some(watermark) = crate::view::watermark(partitions, self.max_lateness_ms) {
            self.writer.advance(watermark);
        }
    }
}

#[cfg(test)]
mod tests;
