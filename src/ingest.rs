//! Ingest: one long-lived Kafka consumer that reads every partition of the configured
//! topics from the beginning and appends each event's position to the view.
//!
//! It assigns partitions itself (no consumer group, no commits, so read-only ACLs
//! suffice), reads `read_committed`, and runs on its own thread with a blocking
//! poll: one writer, no per-message async overhead. "Caught up" comes from the end of
//! each partition as Fetch reports it (partition EOF), never from ListOffsets.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Headers as _, Message as _};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::classify::{Headers, Message, Rule, Unclassified};
use crate::config::KafkaSettings;
use crate::fetch::PayloadCache;
use crate::view::{MAX_PARTITIONS, Position, ViewWriter};

const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const TICK: Duration = Duration::from_secs(1);
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Client properties for the ingest consumer that a user may override.
const INGEST_DEFAULTS: [(&str, &str); 4] = [
    ("client.id", "analyzer-ingest"),
    // librdkafka's assign() needs a group id; analyzer never joins it nor commits.
    ("group.id", "analyzer"),
    // High watermarks, log start and EOF offsets per partition, for progress.
    ("statistics.interval.ms", "1000"),
    // Bounds tail latency on brokers that hold every Fetch this long (tansu).
    ("fetch.wait.max.ms", "100"),
];

/// Client properties analyzer's guarantees depend on (see config::MANAGED_PROPERTIES).
const INGEST_MANAGED: [(&str, &str); 5] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "true"),
    ("auto.offset.reset", "earliest"),
    ("isolation.level", "read_committed"),
];

/// What the ingest thread reports to the rest of the process.
pub struct IngestStatus {
    running: AtomicBool,
    caught_up: AtomicBool,
    unclassified: [AtomicU64; Unclassified::ALL.len()],
    duplicates_skipped: AtomicU64,
}

impl IngestStatus {
    fn new() -> Self {
        IngestStatus {
            running: AtomicBool::new(true),
            caught_up: AtomicBool::new(false),
            unclassified: std::array::from_fn(|_| AtomicU64::new(0)),
            duplicates_skipped: AtomicU64::new(0),
        }
    }

    /// False once the ingest thread has stopped (shut down or failed fatally).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// True once every assigned partition has been read to its end.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Unclassified events so far, by reason (every reason listed, zeros included).
    pub fn unclassified_counts(&self) -> BTreeMap<&'static str, u64> {
        Unclassified::ALL
            .iter()
            .zip(&self.unclassified)
            .map(|(reason, count)| (reason.as_str(), count.load(Ordering::Relaxed)))
            .collect()
    }

    /// Messages delivered again at an offset already indexed, and skipped.
    pub fn duplicates_skipped(&self) -> u64 {
        self.duplicates_skipped.load(Ordering::Relaxed)
    }

    fn count_unclassified(&self, reason: Unclassified) {
        if let Some(i) = Unclassified::ALL.iter().position(|r| *r == reason) {
            self.unclassified[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Offsets a partition's latest Fetch reported, via librdkafka's statistics.
#[derive(Debug, Clone, Copy)]
struct FetchedOffsets {
    low: i64,
    high: i64,
    eof: i64,
}

/// Keeps the latest per-partition statistics; called on the ingest thread by poll.
#[derive(Default)]
struct StatsContext {
    partitions: Mutex<HashMap<(String, i32), FetchedOffsets>>,
}

impl ClientContext for StatsContext {
    fn error(&self, error: KafkaError, reason: &str) {
        crate::kafka::log_client_error(&error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        let mut partitions = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, topic) in statistics.topics {
            for (id, p) in topic.partitions {
                if id >= 0 {
                    let offsets = FetchedOffsets {
                        low: p.lo_offset,
                        high: p.hi_offset,
                        eof: p.eof_offset,
                    };
                    partitions.insert((name.clone(), id), offsets);
                }
            }
        }
    }
}

impl ConsumerContext for StatsContext {}

impl StatsContext {
    /// A copy of the latest offsets, so the lock is not held while they are used.
    fn snapshot(&self) -> HashMap<(String, i32), FetchedOffsets> {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
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

/// Starts the ingest thread for `kafka`'s topics, appending through `writer`.
pub fn spawn(
    kafka: &KafkaSettings,
    rule: Rule,
    writer: ViewWriter,
    cache: PayloadCache,
) -> Result<IngestHandle, KafkaError> {
    let consumer: BaseConsumer<StatsContext> = kafka
        .client_config(&INGEST_DEFAULTS, &INGEST_MANAGED)
        .create_with_context(StatsContext::default())?;
    let status = Arc::new(IngestStatus::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut ingest = Ingest {
        consumer,
        indexer: Indexer {
            topics: kafka.topics.clone(),
            rule,
            writer,
            cache,
            status: Arc::clone(&status),
            partitions: BTreeMap::new(),
            some_topic_missing: false,
            indexed: 0,
            started: Instant::now(),
            caught_up_at: None,
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

#[derive(Debug, Clone, Copy)]
struct PartitionState {
    next_offset: i64,
    caught_up: bool,
}

/// The consumer, apart from what it feeds, so a polled message (which borrows the
/// consumer) can be indexed while the indexer is mutated.
struct Ingest {
    consumer: BaseConsumer<StatsContext>,
    indexer: Indexer,
}

/// Everything the per-message path reads and writes.
struct Indexer {
    topics: Vec<String>,
    rule: Rule,
    writer: ViewWriter,
    cache: PayloadCache,
    status: Arc<IngestStatus>,
    partitions: BTreeMap<(u16, i32), PartitionState>,
    some_topic_missing: bool,
    indexed: u64,
    started: Instant,
    caught_up_at: Option<Instant>,
}

impl Ingest {
    fn run(&mut self, stop: &AtomicBool) {
        let mut next_discovery = Instant::now();
        let mut discovery_backoff = Duration::from_secs(1);
        let mut next_tick = Instant::now() + TICK;
        let mut next_progress_log = Instant::now() + PROGRESS_LOG_EVERY;
        let mut last_progress = (Instant::now(), 0u64);
        while !stop.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= next_discovery {
                next_discovery = if self.discover() {
                    discovery_backoff = Duration::from_secs(1);
                    now + DISCOVERY_INTERVAL
                } else {
                    discovery_backoff = (discovery_backoff * 2).min(MAX_RETRY_BACKOFF);
                    now + discovery_backoff
                };
            }
            match self.consumer.poll(POLL_TIMEOUT) {
                Some(Ok(message)) => self.indexer.index(&message),
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    self.indexer.on_partition_end(partition)
                }
                Some(Err(KafkaError::MessageConsumptionFatal(code))) => {
                    error!("fatal Kafka error, ingest stops: {code}");
                    return;
                }
                Some(Err(e)) => warn!("Kafka consumer error (will retry): {e}"),
                None => {}
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TICK;
                self.apply_fetch_statistics();
                if self.indexer.caught_up_at.is_none() && now >= next_progress_log {
                    next_progress_log = now + PROGRESS_LOG_EVERY;
                    self.log_progress(&mut last_progress);
                }
            }
        }
        info!(
            "ingest stopped after indexing {} events",
            self.indexer.indexed
        );
    }

    /// Finds the topics' partitions and assigns new ones from their beginning.
    /// Returns false if some topic could not be described (retry sooner).
    fn discover(&mut self) -> bool {
        let mut complete = true;
        let mut assignment = TopicPartitionList::new();
        let topics = self.indexer.topics.clone();
        for (topic_index, topic) in topics.iter().enumerate() {
            let metadata = match self.consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT) {
                Ok(metadata) => metadata,
                Err(e) => {
                    warn!("cannot read metadata of topic {topic:?} (will retry): {e}");
                    complete = false;
                    continue;
                }
            };
            for described in metadata.topics() {
                if let Some(e) = described.error() {
                    if !self.indexer.some_topic_missing {
                        warn!("topic {topic:?} is not available yet ({:?}); will retry", e);
                    }
                    complete = false;
                    continue;
                }
                for partition in described.partitions() {
                    let id = partition.id();
                    let key = (topic_index as u16, id);
                    if self.indexer.partitions.contains_key(&key) {
                        continue;
                    }
                    if !(0..MAX_PARTITIONS).contains(&id) {
                        error!(
                            "topic {topic:?} partition {id} is beyond the {MAX_PARTITIONS} partitions analyzer can index; not read"
                        );
                        continue;
                    }
                    if let Err(e) = assignment.add_partition_offset(topic, id, Offset::Beginning) {
                        warn!("cannot assign {topic}/{id}: {e}");
                        continue;
                    }
                    self.indexer.partitions.insert(
                        key,
                        PartitionState {
                            next_offset: 0,
                            caught_up: false,
                        },
                    );
                }
            }
        }
        self.indexer.some_topic_missing = !complete;
        if assignment.count() > 0 {
            let added: Vec<String> = assignment
                .elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect();
            // Without a consumer group only a full assign() is allowed: known
            // partitions resume where indexing stands, new ones start at 0.
            for ((topic, partition), state) in &self.indexer.partitions {
                let name = &self.indexer.topics[usize::from(*topic)];
                if !added.contains(&format!("{name}/{partition}")) {
                    let resume = Offset::Offset(state.next_offset);
                    if let Err(e) = assignment.add_partition_offset(name, *partition, resume) {
                        warn!("cannot keep {name}/{partition} assigned: {e}");
                    }
                }
            }
            match self.consumer.assign(&assignment) {
                Ok(()) => {
                    info!(
                        "assigned {} new partitions from their beginning: {}",
                        added.len(),
                        added.join(", ")
                    );
                    self.indexer.refresh_caught_up();
                }
                Err(e) => {
                    warn!("cannot assign partitions (will retry): {e}");
                    for element in assignment.elements() {
                        if added.contains(&format!("{}/{}", element.topic(), element.partition()))
                            && let Some(topic) = self.indexer.topic_index(element.topic())
                        {
                            self.indexer
                                .partitions
                                .remove(&(topic, element.partition()));
                        }
                    }
                    complete = false;
                }
            }
        }
        complete
    }

    fn apply_fetch_statistics(&mut self) {
        let fetched = self.consumer.context().snapshot();
        let mut changed = false;
        let indexer = &mut self.indexer;
        for ((topic, partition), state) in &mut indexer.partitions {
            let Some(name) = indexer.topics.get(usize::from(*topic)) else {
                continue;
            };
            if !state.caught_up
                && fetched
                    .get(&(name.clone(), *partition))
                    .is_some_and(|f| f.eof >= 0)
            {
                state.caught_up = true;
                changed = true;
            }
        }
        if changed {
            indexer.refresh_caught_up();
        }
    }

    fn log_progress(&self, last: &mut (Instant, u64)) {
        let fetched = self.consumer.context().snapshot();
        let (mut done, mut target) = (0i64, 0i64);
        for ((topic, partition), state) in &self.indexer.partitions {
            let name = self
                .indexer
                .topics
                .get(usize::from(*topic))
                .cloned()
                .unwrap_or_default();
            if let Some(f) = fetched.get(&(name, *partition))
                && f.high >= 0
            {
                let low = f.low.max(0);
                target += (f.high - low).max(0);
                done += (state.next_offset - low).clamp(0, (f.high - low).max(0));
            }
        }
        let now = Instant::now();
        let rate = (self.indexer.indexed - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
        *last = (now, self.indexer.indexed);
        let percent = if target > 0 {
            format!("{:.1}%", 100.0 * done as f64 / target as f64)
        } else {
            "?%".into()
        };
        info!(
            "catching up: {} events indexed ({percent} of the offsets seen so far), {rate:.0} events/s",
            self.indexer.indexed
        );
    }
}

impl Indexer {
    fn topic_index(&self, topic: &str) -> Option<u16> {
        self.topics
            .iter()
            .position(|t| t == topic)
            .map(|i| i as u16)
    }

    fn index(&mut self, message: &BorrowedMessage<'_>) {
        let Some(topic) = self.topic_index(message.topic()) else {
            return;
        };
        let partition = message.partition();
        let offset = message.offset();
        let state = self
            .partitions
            .entry((topic, partition))
            .or_insert(PartitionState {
                next_offset: 0,
                caught_up: false,
            });
        // After a reconnect a fetch may be replayed: never index an offset twice.
        if offset < state.next_offset {
            self.status
                .duplicates_skipped
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.next_offset = offset + 1;
        let position = Position {
            topic,
            partition,
            offset,
            timestamp_ms: message.timestamp().to_millis(),
        };
        let value = message.payload();
        let appended = match classify(&self.rule, message) {
            Ok(event_type) => self.writer.append(&event_type, position),
            Err(reason) => {
                self.status.count_unclassified(reason);
                self.writer.append_unclassified(position)
            }
        };
        if let Err(e) = appended {
            // Cannot happen for assigned partitions; counted so it is never silent.
            self.status
                .count_unclassified(Unclassified::PositionOutOfRange);
            warn!(
                "event at {}/{partition}@{offset} cannot be indexed: {e}",
                message.topic()
            );
        }
        if let Some(value) = value
            && self.cache.is_enabled()
        {
            self.cache.insert(&position, value);
        }
        self.indexed += 1;
    }

    /// EOF names only the partition number; it decides alone when exactly one
    /// topic has that partition. Otherwise the statistics' EOF offsets decide.
    fn on_partition_end(&mut self, partition: i32) {
        let mut candidates = self
            .partitions
            .iter_mut()
            .filter(|((_, p), _)| *p == partition);
        if let (Some((_, state)), None) = (candidates.next(), candidates.next()) {
            state.caught_up = true;
            self.refresh_caught_up();
        }
    }

    fn refresh_caught_up(&mut self) {
        let all = !self.some_topic_missing
            && !self.partitions.is_empty()
            && self.partitions.values().all(|s| s.caught_up);
        self.status.caught_up.store(all, Ordering::Release);
        if all && self.caught_up_at.is_none() {
            let now = Instant::now();
            self.caught_up_at = Some(now);
            info!(
                "caught up: {} events indexed from {} partitions in {:.1?}",
                self.indexed,
                self.partitions.len(),
                now - self.started
            );
        }
    }
}

/// Header access on a Kafka message, for the header rule.
struct KafkaHeaders<'a>(Option<&'a BorrowedHeaders>);

impl<'a> Headers<'a> for KafkaHeaders<'a> {
    fn last(&self, name: &str) -> Option<Option<&'a [u8]>> {
        let headers = self.0?;
        (0..headers.count())
            .rev()
            .filter_map(|i| headers.try_get(i))
            .find(|h| h.key == name)
            .map(|h| h.value)
    }
}

fn classify<'a>(
    rule: &Rule,
    message: &'a BorrowedMessage<'_>,
) -> Result<Cow<'a, str>, Unclassified> {
    let headers = KafkaHeaders(message.headers());
    let parts = Message {
        topic: message.topic(),
        value: message.payload(),
        headers: &headers,
    };
    if matches!(rule, Rule::Header(_)) {
        // rdkafka panics on a header *name* that is not UTF-8; such a message is
        // hostile input, not a reason to stop ingesting.
        catch_unwind(AssertUnwindSafe(|| rule.classify(&parts)))
            .unwrap_or(Err(Unclassified::InvalidUtf8))
    } else {
        rule.classify(&parts)
    }
}
