//! Partitions: finding them (discovery), assigning them where indexing stands,
//! following their ends from statistics and partition EOFs (caught up, lag), and
//! resetting a topic whose log ends below what was indexed.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use log::{error, info, warn};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::context::{FetchedOffsets, IngestContext, StatsSnapshot};
use super::status::{PartitionReport, lock};
use super::warnings::Sampled;
use super::{Indexer, METADATA_TIMEOUT};
use crate::fetch::CACHE_ENTRY_OVERHEAD;
use crate::view::{MAX_PARTITIONS, TopicId};

/// Statistics reports in a row that must show a partition's log ending below what
/// was indexed before its topic is reset: one report can predate the latest fetch.
const RESET_CONFIRMATIONS: u32 = 2;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PartitionState {
    pub(super) next_offset: i64,
    /// The running maximum of the timestamps read (ms; 0 before the first).
    pub(super) clock: u64,
    pub(super) caught_up: bool,
    pub(super) fetched: Option<FetchedOffsets>,
    /// Statistics reports in a row whose log end was below `next_offset`.
    pub(super) ends_below_indexed: u32,
    /// The timestamp of the last record indexed, which a snapshot fingerprints.
    pub(super) last_timestamp: Option<i64>,
    /// (offset, checksum) of the last record as a restored snapshot had it: the
    /// cache does not hold that record, and the next snapshot may need it again.
    pub(super) restored_checksum: Option<(i64, u32)>,
    /// While catching up, events below this offset are not copied into the cache:
    /// the ones after them would evict them before the end anyway.
    pub(super) cache_from: i64,
    /// The log's end as ListOffsets said when the partition was found (statistics
    /// say it better, a second later).
    pub(super) log_end_hint: i64,
    /// The offset of the latest partition EOF: reading stands there even when no
    /// event was indexed up to it (a transaction marker ends the log).
    pub(super) read_to: i64,
}

impl PartitionState {
    /// Read to its end: caught up once, and not behind the last high watermark seen.
    pub(super) fn at_end(&self) -> bool {
        self.caught_up
            && self
                .fetched
                .is_none_or(|f| f.high < 0 || self.position() >= f.high)
    }

    /// Where reading stands: past the last record indexed, or further, up to the
    /// end last reached (control and aborted records are no events).
    pub(super) fn position(&self) -> i64 {
        self.next_offset.max(self.read_to)
    }
}

impl Indexer {
    /// Finds the topics' partitions; new ones are to be assigned from their
    /// beginning. Returns whether every topic could be described (else retry
    /// sooner), and whether partitions were added.
    pub(super) fn discover(&mut self, consumer: &BaseConsumer<IngestContext>) -> (bool, bool) {
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
    pub(super) fn assign_all(
        &self,
        consumer: &BaseConsumer<IngestContext>,
        warnings: &mut Sampled,
    ) -> bool {
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
                warnings.warn(|| format!("cannot assign partitions (will retry): {e}"));
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
    pub(super) fn on_statistics(&mut self, snapshot: StatsSnapshot) -> BTreeSet<TopicId> {
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
    pub(super) fn skip_what_the_cache_would_evict(&mut self) {
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
    pub(super) fn reset_topic(&mut self, topic: TopicId) {
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
    /// A partition read to its end, at `at` (topic, partition, offset) as
    /// librdkafka's event says. The end may lie past the last record indexed: a
    /// transaction's commit marker (a control record) or aborted records take
    /// offsets no event is indexed at. Without `at`, a partition number decides
    /// alone when exactly one topic has that partition.
    pub(super) fn on_partition_end(&mut self, partition: i32, at: Option<(String, i32, i64)>) {
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

    pub(super) fn refresh_caught_up(&mut self) {
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

    pub(super) fn reports(&self) -> Vec<PartitionReport> {
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
    pub(super) fn publish(&self) {
        *lock(&self.status.partitions) = self.reports();
        self.status
            .events_read
            .store(self.indexed, Ordering::Relaxed);
    }
}
