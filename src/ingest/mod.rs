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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use rdkafka::client::OAuthToken;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Headers as _, Message as _};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::classify::{self, Headers, Message, Rule, Unclassified};
use crate::config::KafkaSettings;
use crate::decode::avro::{Avro, AvroError};
use crate::fetch::{CACHE_ENTRY_OVERHEAD, PayloadCache};
use crate::kafka::{self, ClientRole, TokenSource};
use crate::snapshot::Location;
use crate::view::{
    Appended, MAX_PARTITIONS, Placed, Position, Refused, TopicId, Topics, ViewWriter,
};

mod pipeline;
mod read_errors;
mod snapshots;
mod status;

pub use read_errors::{ErrorReason, ReadError, ReadErrors};
use status::lock;
pub use status::{BrokerReport, IngestStatus, PartitionReport, SnapshotReport};

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
const REPEATED_WARNING_EVERY: Duration = Duration::from_secs(30);
/// Events read before the size of a cache entry is estimated.
const SIZE_SAMPLE: u64 = 4096;
/// Statistics reports in a row that must show a partition's log ending below what
/// was indexed before its topic is reset: one report can predate the latest fetch.
const RESET_CONFIRMATIONS: u32 = 2;

/// Offsets a partition's latest Fetch reported, via librdkafka's statistics.
#[derive(Debug, Clone, Copy)]
struct FetchedOffsets {
    low: i64,
    high: i64,
    eof: i64,
}

/// The latest statistics report, reduced to what ingest uses.
#[derive(Debug, Clone, Default)]
struct StatsSnapshot {
    partitions: HashMap<(String, i32), FetchedOffsets>,
    brokers: Vec<BrokerReport>,
}

/// Keeps the latest statistics, the errors that keep ingest from reading and any
/// fatal error; called on the ingest thread by poll.
struct IngestContext {
    latest: Mutex<StatsSnapshot>,
    fresh: AtomicBool,
    // The flag spares the per-message loop a lock.
    failed: AtomicBool,
    fatal: Mutex<Option<String>>,
    status: Arc<IngestStatus>,
    /// Set by `partition_error` for the `error` call that follows it.
    attributed: AtomicBool,
    /// Answers librdkafka's OAUTHBEARER token refresh (MSK IAM).
    tokens: TokenSource,
    /// The partition and offset of the partition EOF being polled (librdkafka's
    /// event names them; rust-rdkafka's error, the partition number only).
    eof: Mutex<Option<(String, i32, i64)>>,
}

/// Errors that retrying cannot fix. Authentication and authorization failures are
/// not among them: credentials rotate and ACLs get fixed, and librdkafka retries.
fn is_fatal(code: RDKafkaErrorCode) -> bool {
    code == RDKafkaErrorCode::Fatal
}

impl ClientContext for IngestContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        self.tokens.generate().inspect_err(|e| {
            self.status.read_errors.client_failed(
                RDKafkaErrorCode::Authentication,
                &format!("no OAUTHBEARER token: {e}"),
            )
        })
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.attributed.swap(false, Ordering::AcqRel) {
            return; // recorded with its partition just before
        }
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::PartitionEOF) => {}
            Some(code) if is_fatal(code) => {
                lock(&self.fatal).get_or_insert_with(|| format!("{error}: {reason}"));
                self.failed.store(true, Ordering::Release);
                crate::kafka::log_client_error(&error, reason);
            }
            Some(code) => self.status.read_errors.client_failed(code, reason),
            None => crate::kafka::log_client_error(&error, reason),
        }
    }

    fn partition_error(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        code: RDKafkaErrorCode,
        reason: &str,
    ) {
        let errors = &self.status.read_errors;
        if code == RDKafkaErrorCode::PartitionEOF {
            // Read to its end: the partition (and the client) read again.
            errors.read_to_end(topic, partition);
            *lock(&self.eof) = Some((topic.to_owned(), partition, offset));
        } else if !is_fatal(code) {
            self.attributed.store(true, Ordering::Release);
            errors.partition_failed(topic, partition, offset, code, reason);
        }
    }

    fn stats(&self, statistics: Statistics) {
        let mut snapshot = StatsSnapshot::default();
        for (name, topic) in statistics.topics {
            for (id, p) in topic.partitions {
                if id >= 0 {
                    let offsets = FetchedOffsets {
                        low: p.lo_offset,
                        high: p.hi_offset,
                        eof: p.eof_offset,
                    };
                    snapshot.partitions.insert((name.clone(), id), offsets);
                }
            }
        }
        snapshot.brokers = statistics
            .brokers
            .into_values()
            .filter(|b| b.nodeid >= 0)
            .map(|b| BrokerReport {
                name: b.name,
                state: b.state,
            })
            .collect();
        snapshot.brokers.sort_by(|a, b| a.name.cmp(&b.name));
        if !snapshot.brokers.is_empty() && snapshot.brokers.iter().all(|b| b.state == "UP") {
            self.status.read_errors.client_recovered();
        }
        *lock(&self.latest) = snapshot;
        self.fresh.store(true, Ordering::Release);
    }
}

impl ConsumerContext for IngestContext {}

impl IngestContext {
    fn new(status: Arc<IngestStatus>, tokens: TokenSource) -> Self {
        IngestContext {
            tokens,
            eof: Mutex::new(None),
            latest: Mutex::default(),
            fresh: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            fatal: Mutex::new(None),
            status,
            attributed: AtomicBool::new(false),
        }
    }

    /// The latest statistics if they arrived since the last call.
    fn take_fresh(&self) -> Option<StatsSnapshot> {
        self.fresh
            .swap(false, Ordering::AcqRel)
            .then(|| lock(&self.latest).clone())
    }

    fn fatal(&self) -> Option<String> {
        if self.failed.load(Ordering::Acquire) {
            lock(&self.fatal).clone()
        } else {
            None
        }
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

/// How ingest classifies, orders and keeps what it reads.
pub struct IngestOptions {
    /// `[order] max_lateness_ms`.
    pub max_lateness_ms: u64,
    /// The classification rule.
    pub rule: Rule,
    /// Whether the cache keeps each event's headers.
    pub cache_headers: bool,
    /// Avro decoding, when `[avro]` is set.
    pub avro: Option<Arc<Avro>>,
    /// `[snapshot] dir` and how often to write one (None: never, only read), when set.
    pub snapshots: Option<(Vec<Location>, Option<Duration>)>,
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
        cache_headers,
        avro,
        snapshots,
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
        consumer_warnings: Throttled::default(),
        indexer: Indexer {
            topics: Topics::new(&kafka.topics),
            rule,
            writer,
            cache,
            status: Arc::clone(&status),
            partitions: BTreeMap::new(),
            some_topic_missing: false,
            indexed: 0,
            started: Instant::now(),
            caught_up_at: None,
            max_lateness_ms,
            late_warnings: Throttled::default(),
            too_many_types: Sampled::default(),
            cache_headers,
            value_bytes_seen: 0,
            avro,
            undecodable: Sampled::default(),
            waiting: false,
            stop: Arc::clone(&stop),
            snapshots: snapshots.map(|(locations, every)| snapshots::Snapshots {
                locations: Arc::new(locations),
                every,
                next: Instant::now() + every.unwrap_or_default(),
                writing: None,
                cut_at: None,
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

#[derive(Debug, Clone, Copy, Default)]
struct PartitionState {
    next_offset: i64,
    /// The running maximum of the timestamps read (ms; 0 before the first).
    clock: u64,
    caught_up: bool,
    fetched: Option<FetchedOffsets>,
    /// Statistics reports in a row whose log end was below `next_offset`.
    ends_below_indexed: u32,
    /// The timestamp of the last record indexed, which a snapshot fingerprints.
    last_timestamp: Option<i64>,
    /// (offset, checksum) of the last record as a restored snapshot had it: the
    /// cache does not hold that record, and the next snapshot may need it again.
    restored_checksum: Option<(i64, u32)>,
    /// While catching up, events below this offset are not copied into the cache:
    /// the ones after them would evict them before the end anyway.
    cache_from: i64,
    /// The log's end as ListOffsets said when the partition was found (statistics
    /// say it better, a second later).
    log_end_hint: i64,
    /// The offset of the latest partition EOF: reading stands there even when no
    /// event was indexed up to it (a transaction marker ends the log).
    read_to: i64,
}

/// Logs a warning that repeats at most once per interval, with the count between.
#[derive(Default)]
struct Throttled {
    last: Option<(String, Instant)>,
    repeats: u64,
}

impl Throttled {
    fn warn(&mut self, message: String) {
        let now = Instant::now();
        if let Some((last, at)) = &self.last
            && *last == message
            && now - *at < REPEATED_WARNING_EVERY
        {
            self.repeats += 1;
            return;
        }
        if self.repeats > 0 {
            warn!("{message} (and {} more like it)", self.repeats);
        } else {
            warn!("{message}");
        }
        self.last = Some((message, now));
        self.repeats = 0;
    }
}

/// The consumer, apart from what it feeds, so a polled message (which borrows the
/// consumer) can be indexed while the indexer is mutated.
struct Ingest {
    consumer: BaseConsumer<IngestContext>,
    refresh_every: Duration,
    /// The known partitions changed and are not all assigned yet.
    assignment_stale: bool,
    consumer_warnings: Throttled,
    indexer: Indexer,
}

/// Everything the per-message path reads and writes.
struct Indexer {
    topics: Topics,
    rule: Rule,
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
    late_warnings: Throttled,
    too_many_types: Sampled,
    /// Avro decoding, when `[avro]` is set.
    avro: Option<Arc<Avro>>,
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

/// A warning about events, logged for the first at once, then at most once per
/// interval with the count since (the latest event as the example).
struct Sampled {
    every: Duration,
    last: Option<Instant>,
    since: u64,
}

impl Default for Sampled {
    fn default() -> Self {
        Sampled::every(REPEATED_WARNING_EVERY)
    }
}

impl Sampled {
    /// At most one warning per `every`.
    fn every(every: Duration) -> Self {
        Sampled {
            every,
            last: None,
            since: 0,
        }
    }

    /// Counts one event; the number to report when a warning is due now.
    fn due(&mut self) -> Option<u64> {
        self.since += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < self.every) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}

impl PartitionState {
    /// Read to its end: caught up once, and not behind the last high watermark seen.
    fn at_end(&self) -> bool {
        self.caught_up
            && self
                .fetched
                .is_none_or(|f| f.high < 0 || self.position() >= f.high)
    }

    /// Where reading stands: past the last record indexed, or further, up to the
    /// end last reached (control and aborted records are no events).
    fn position(&self) -> i64 {
        self.next_offset.max(self.read_to)
    }
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
                        consumer_warnings.warn(format!("Kafka consumer error (will retry): {e}"))
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
    /// Finds the topics' partitions; new ones are to be assigned from their
    /// beginning. Returns whether every topic could be described (else retry
    /// sooner), and whether partitions were added.
    fn discover(&mut self, consumer: &BaseConsumer<IngestContext>) -> (bool, bool) {
        let mut complete = true;
        let mut added = Vec::new();
        let topics = self.topics.clone();
        for (topic_id, topic) in topics.iter() {
            let metadata = match consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT) {
                Ok(metadata) => metadata,
                Err(e) => {
                    warn!("cannot read metadata of topic {topic:?} (will retry): {e}");
                    complete = false;
                    continue;
                }
            };
            for described in metadata.topics() {
                if let Some(e) = described.error() {
                    self.status
                        .read_errors
                        .topic_failed(topic, RDKafkaErrorCode::from(e));
                    complete = false;
                    continue;
                }
                for partition in described.partitions() {
                    let id = partition.id();
                    let key = (topic_id, id);
                    if self.partitions.contains_key(&key) {
                        continue;
                    }
                    if !(0..MAX_PARTITIONS).contains(&id) {
                        error!(
                            "topic {topic:?} partition {id} is beyond the {MAX_PARTITIONS} partitions analyzer can index; not read"
                        );
                        continue;
                    }
                    // Where the log ends, roughly (some brokers answer the last
                    // batch's start), so a catch-up knows at once what to cache.
                    let log_end_hint = if self.cache.is_enabled() {
                        consumer
                            .fetch_watermarks(topic, id, METADATA_TIMEOUT)
                            .map_or(0, |(_, high)| high)
                    } else {
                        0
                    };
                    let state = PartitionState {
                        log_end_hint,
                        ..PartitionState::default()
                    };
                    self.partitions.insert(key, state);
                    added.push(format!("{topic}/{id}"));
                }
            }
        }
        if complete && self.some_topic_missing {
            info!("every topic is available again");
            self.status.read_errors.topics_recovered();
        }
        self.some_topic_missing = !complete;
        if !added.is_empty() {
            info!(
                "found {} new partitions, read from their beginning: {}",
                added.len(),
                added.join(", ")
            );
            self.refresh_caught_up();
        }
        (complete, !added.is_empty())
    }

    /// Assigns every known partition where its indexing stands (new ones from the
    /// beginning); whether that worked. Without a consumer group only a full
    /// assign() is allowed.
    fn assign_all(&self, consumer: &BaseConsumer<IngestContext>, warnings: &mut Throttled) -> bool {
        let mut assignment = TopicPartitionList::new();
        for ((topic, partition), state) in &self.partitions {
            let name = self.topics.name(*topic);
            let from = match state.next_offset {
                0 => Offset::Beginning,
                next => Offset::Offset(next),
            };
            if let Err(e) = assignment.add_partition_offset(name, *partition, from) {
                warn!("cannot assign {name}/{partition}: {e}");
            }
        }
        match consumer.assign(&assignment) {
            Ok(()) => {
                info!("assigned {} partitions", assignment.count());
                true
            }
            Err(e) => {
                warnings.warn(format!("cannot assign partitions (will retry): {e}"));
                false
            }
        }
    }

    /// Logs how far catch-up is, and its rate since `last` (updated).
    pub(super) fn log_progress(&self, last: &mut (Instant, u64)) {
        let (done, target) = self
            .reports()
            .iter()
            .map(PartitionReport::progress)
            .fold((0, 0), |(d, t), (pd, pt)| (d + pd, t + pt));
        let now = Instant::now();
        let rate = (self.indexed - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
        *last = (now, self.indexed);
        let percent = if target > 0 {
            format!("{:.1}%", 100.0 * done as f64 / target as f64)
        } else {
            "?%".into()
        };
        info!(
            "catching up: {} events indexed ({percent} of the offsets seen so far), {rate:.0} events/s",
            self.indexed
        );
    }
}

impl Indexer {
    /// Applies a statistics report; returns the topics it reset (to re-assign).
    fn on_statistics(&mut self, snapshot: StatsSnapshot) -> BTreeSet<TopicId> {
        let indexer = &mut *self;
        let mut reset = BTreeSet::new();
        let mut caught_up = false;
        for ((topic, partition), state) in &mut indexer.partitions {
            let name = indexer.topics.name(*topic);
            let Some(fetched) = snapshot.partitions.get(&(name.to_owned(), *partition)) else {
                continue;
            };
            indexer
                .status
                .read_errors
                .indexed_to(name, *partition, state.next_offset);
            if fetched.low > state.fetched.map_or(0, |f| f.low) {
                indexer.cache.remove_below(*topic, *partition, fetched.low);
            }
            state.fetched = Some(*fetched);
            // EOF names only a partition number; the statistics say which topic.
            if !state.caught_up
                && fetched.eof >= 0
                && state.position().max(fetched.low) >= fetched.eof
            {
                state.caught_up = true;
                caught_up = true;
            }
            if fetched.high >= 0 && fetched.high < state.next_offset {
                state.ends_below_indexed += 1;
                if state.ends_below_indexed >= RESET_CONFIRMATIONS {
                    warn!(
                        "topic {name:?} partition {partition} now ends at offset {}, below the {} offsets already indexed: the topic was deleted and recreated, or truncated",
                        fetched.high, state.next_offset
                    );
                    reset.insert(*topic);
                }
            } else {
                state.ends_below_indexed = 0;
            }
        }
        *lock(&indexer.status.brokers) = snapshot.brokers;
        indexer.skip_what_the_cache_would_evict();
        for topic in &reset {
            self.reset_topic(*topic);
        }
        if caught_up || !reset.is_empty() {
            self.refresh_caught_up();
        }
        reset
    }

    /// While partitions catch up, where copying into the cache starts: only the last
    /// events of each, as many as the cache holds (and a quarter more, so that it
    /// ends as full as it would have), with the budget shared by the partitions still
    /// reading. Copying every payload cost catch-up 0.3 us an event, and on a topic
    /// larger than the cache most of them were evicted before the end.
    fn skip_what_the_cache_would_evict(&mut self) {
        let budget = self.cache.max_bytes();
        if budget == 0 || self.indexed == 0 {
            return;
        }
        let entry = self.value_bytes_seen / self.indexed + CACHE_ENTRY_OVERHEAD;
        let reading = self
            .partitions
            .values()
            .filter(|s| !s.caught_up)
            .count()
            .max(1) as u64;
        let keep = (budget / entry.max(1)).saturating_mul(5) / 4 / reading;
        for state in self.partitions.values_mut() {
            let end = state.fetched.map_or(state.log_end_hint, |f| f.high);
            state.cache_from = if state.caught_up || end <= 0 {
                0
            } else {
                end.saturating_sub(keep as i64).max(0)
            };
        }
    }

    /// Drops `topic`'s part of the view, to be read again from its beginning.
    fn reset_topic(&mut self, topic: TopicId) {
        let indexer = &mut *self;
        let dropped = indexer.writer.remove_topic(topic);
        indexer.cache.remove_topic(topic);
        indexer.status.forget_unclassified(topic);
        for ((_, _), state) in indexer.partitions.range_mut((topic, 0)..=(topic, i32::MAX)) {
            *state = PartitionState::default();
        }
        indexer.status.topic_resets.fetch_add(1, Ordering::Relaxed);
        warn!(
            "topic {:?} reset: dropped its {dropped} indexed events; re-reading it from the beginning",
            indexer.topics.name(topic)
        );
    }

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
        match appended {
            Ok(Placed::InOrder) => {}
            Ok(Placed::Late) => self.late_warnings.warn(format!(
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
        // parsed by the header rule: parsing them costs catch-up 17-30% (README).
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

    /// The message's type by the rule, checked against Avro decoding when `[avro]`
    /// is set: an Avro value that does not decode goes to `unclassified`. While
    /// the registry cannot be read this waits, retrying with backoff; None if
    /// ingest is stopped meanwhile.
    fn type_of<'a>(
        &mut self,
        topic: &'a str,
        message: &'a BorrowedMessage<'_>,
    ) -> Option<Result<Cow<'a, str>, Unclassified>> {
        // Fields borrowed apart: the Avro decoder is used in place, no reference
        // count taken per message.
        let Indexer {
            avro,
            rule,
            waiting,
            status,
            stop,
            undecodable,
            ..
        } = self;
        let Some(avro) = avro.as_deref() else {
            return Some(classify(rule, topic, message));
        };
        let by_record_name = *rule == Rule::AvroRecord;
        let rule_type = if by_record_name {
            None
        } else {
            match classify(rule, topic, message) {
                Ok(event_type) => Some(event_type),
                Err(reason) => return Some(Err(reason)),
            }
        };
        let value = match message.payload() {
            None => return Some(Err(Unclassified::Tombstone)),
            Some([]) if by_record_name => return Some(Err(Unclassified::EmptyValue)),
            Some(value) => value,
        };
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 0u32;
        loop {
            let outcome = avro.check(rule_type.as_deref(), value);
            if *waiting && !matches!(outcome, Err(AvroError::Unreachable(_))) {
                *waiting = false;
                *lock(&status.waiting_for) = None;
                info!("the schema registry answers again: ingest goes on");
            }
            let reason = match outcome {
                Ok(Some(schema)) => {
                    return Some(match rule_type {
                        Some(event_type) => Ok(event_type),
                        None => classify::check_name(Cow::Owned(schema.to_string())),
                    });
                }
                Ok(None) => return Some(rule_type.ok_or(Unclassified::InvalidAvro)),
                Err(AvroError::Unreachable(e)) => {
                    attempt += 1;
                    warn!(
                        "{e}; ingest waits at {topic}/{}@{} (attempt {attempt}, next in {backoff:?}): nothing is indexed until the registry answers",
                        message.partition(),
                        message.offset()
                    );
                    *lock(&status.waiting_for) = Some(e.to_string());
                    *waiting = true;
                    if !sleep_unless_stopped(backoff, stop) {
                        return None;
                    }
                    backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                    continue;
                }
                Err(AvroError::Invalid(why)) => (Unclassified::InvalidAvro, why),
                // check() asks the registry itself: it never answers this.
                Err(e @ AvroError::NotAsked(_)) => (Unclassified::InvalidAvro, e.to_string()),
                Err(AvroError::UnknownSchema(why)) => (Unclassified::UnknownSchema, why),
            };
            if let Some(count) = undecodable.due() {
                warn!(
                    "{count} Avro value(s) did not decode and went to unclassified, e.g. {topic}/{}@{} ({}): {}",
                    message.partition(),
                    message.offset(),
                    reason.0,
                    reason.1
                );
            }
            return Some(Err(reason.0));
        }
    }

    /// Raises the watermark to what the partitions' clocks allow (see
    /// [`crate::view::watermark`]) and settles the events below it.
    fn settle(&mut self) {
        let partitions = self.partitions.values().map(|s| (s.clock, s.at_end()));
        if let Some(watermark) = crate::view::watermark(partitions, self.max_lateness_ms) {
            self.writer.advance(watermark);
        }
    }

    /// A partition read to its end, at `at` (topic, partition, offset) as
    /// librdkafka's event says. The end may lie past the last record indexed: a
    /// transaction's commit marker (a control record) or aborted records take
    /// offsets no event is indexed at. Without `at`, a partition number decides
    /// alone when exactly one topic has that partition.
    fn on_partition_end(&mut self, partition: i32, at: Option<(String, i32, i64)>) {
        let named = at.and_then(|(topic, p, offset)| Some(((self.topics.id(&topic)?, p), offset)));
        let key = match named {
            Some((key, offset)) => {
                if let Some(state) = self.partitions.get_mut(&key) {
                    state.read_to = state.read_to.max(offset);
                }
                Some(key)
            }
            None => {
                let mut candidates = self.partitions.keys().filter(|(_, p)| *p == partition);
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Some(*key),
                    _ => None,
                }
            }
        };
        if let Some(state) = key.and_then(|key| self.partitions.get_mut(&key)) {
            state.caught_up = true;
            self.refresh_caught_up();
        }
    }

    fn refresh_caught_up(&mut self) {
        let all = !self.some_topic_missing
            && !self.partitions.is_empty()
            && self.partitions.values().all(|s| s.caught_up)
            && !self.status.read_errors.any_partition();
        self.status.caught_up.store(all, Ordering::Release);
        if all {
            self.status.ready.store(true, Ordering::Release);
        }
        if all && self.caught_up_at.is_none() {
            let now = Instant::now();
            self.caught_up_at = Some(now);
            info!(
                "caught up: {} events indexed from {} partitions in {:.1?}",
                self.indexed,
                self.partitions.len(),
                now - self.started
            );
            self.publish();
        }
    }

    fn reports(&self) -> Vec<PartitionReport> {
        self.partitions
            .iter()
            .map(|((topic, partition), state)| {
                let known = |offset: i64| (offset >= 0).then_some(offset);
                let name = self.topics.name(*topic);
                let failing = self
                    .status
                    .read_errors
                    .partition(name, *partition)
                    .is_some();
                PartitionReport {
                    topic: name.to_owned(),
                    partition: *partition,
                    next_offset: state.next_offset,
                    position: state.position(),
                    high_watermark: state.fetched.and_then(|f| known(f.high)),
                    log_start_offset: state.fetched.and_then(|f| known(f.low)),
                    caught_up: state.caught_up && !failing,
                }
            })
            .collect()
    }

    /// Makes the partitions' state visible to /status, /health/ready and /metrics.
    fn publish(&self) {
        *lock(&self.status.partitions) = self.reports();
        self.status
            .events_read
            .store(self.indexed, Ordering::Relaxed);
    }
}

/// Sleeps `duration` in short steps; false if `stop` was set meanwhile.
fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(POLL_TIMEOUT.min(until.saturating_duration_since(Instant::now())));
    }
    !stop.load(Ordering::Acquire)
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
    topic: &'a str,
    message: &'a BorrowedMessage<'_>,
) -> Result<Cow<'a, str>, Unclassified> {
    let value = message.payload();
    if !matches!(rule, Rule::Header(_)) {
        // Headers are parsed on access (an allocation and a parse per message, 16%
        // of ingest's time when read for every message): only the header rule does.
        let parts = Message {
            topic,
            value,
            headers: &KafkaHeaders(None),
        };
        return rule.classify(&parts);
    }
    let headers = KafkaHeaders(message.headers());
    let parts = Message {
        topic,
        value,
        headers: &headers,
    };
    // rdkafka panics on a header *name* that is not UTF-8; such a message is
    // hostile input, not a reason to stop ingesting.
    catch_unwind(AssertUnwindSafe(|| rule.classify(&parts)))
        .unwrap_or(Err(Unclassified::InvalidUtf8))
}

#[cfg(test)]
mod tests;
