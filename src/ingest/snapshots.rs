//! Ingest's side of snapshots: cutting the index now and then and writing it on a
//! thread of its own, and at start restoring the newest snapshot once the broker
//! confirms it is of this log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{info, warn};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use super::status::lock;
use super::{Indexer, Ingest, PartitionState};
use crate::snapshot::{
    Encoder, KeyRow, Location, PartitionMark, Snapshot, SnapshotError, record_checksum, store,
};
use crate::view::{Appended, KeyCut, Position, TopicId, TypeCut, UNCLASSIFIED};

/// How long a restart waits for the broker to show the snapshot's last records.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how often snapshots are written, and the one being written.
pub(super) struct Snapshots {
    pub(super) locations: Arc<Vec<Location>>,
    /// How often this process writes one (None: it only reads).
    pub(super) every: Option<Duration>,
    pub(super) next: Instant,
    pub(super) writing: Option<JoinHandle<()>>,
    /// Events indexed when the latest was cut: none new, none written.
    pub(super) cut_at: Option<u64>,
    /// How events are typed, in words: written into each snapshot, and a
    /// snapshot typed otherwise is not restored.
    pub(super) typing: Arc<str>,
}

/// The key index's section of a snapshot: every key at the cut with its events
/// as rows of the cut's streams. False when a topic reset made the read not one cut.
fn write_keys(encoder: &mut Encoder, rule: &str, key_cut: &KeyCut, cut: &[TypeCut]) -> bool {
    // (type, topic, partition) -> (the type's place in the snapshot, rows at the cut).
    let mut streams: HashMap<(&str, TopicId, i32), (u32, u64)> = HashMap::new();
    for (type_ref, (name, type_streams)) in cut.iter().enumerate() {
        let name = name.as_deref().unwrap_or(UNCLASSIFIED);
        for stream in type_streams {
            streams.insert(
                (name, stream.topic, stream.partition),
                (type_ref as u32, stream.len()),
            );
        }
    }
    encoder.start_keys(rule, key_cut.len());
    let mut rows = Vec::new();
    key_cut.read(
        |event_type, topic, partition| {
            streams
                .get(&(event_type, topic, partition))
                .map(|(_, len)| *len)
        },
        |key, events| {
            rows.clear();
            rows.extend(
                events
                    .iter()
                    .filter_map(|(event_type, topic, partition, row)| {
                        let (type_ref, _) =
                            streams.get(&(event_type.as_ref(), *topic, *partition))?;
                        Some(KeyRow {
                            type_ref: *type_ref,
                            topic: topic.0,
                            partition: *partition,
                            row: *row,
                        })
                    }),
            );
            encoder.key(key, &rows);
        },
    )
}

impl Indexer {
    /// Cuts the index and hands it to a writer thread, when one is due and the
    /// previous one is done. The cut is O(types × partitions) on this thread; the
    /// rows are read and written on the other, while ingest goes on.
    pub(super) fn maybe_snapshot(&mut self, now: Instant) {
        let Some(snapshots) = &mut self.snapshots else {
            return;
        };
        let Some(every) = snapshots.every else {
            return;
        };
        if now < snapshots.next || snapshots.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        snapshots.next = now + every;
        // Nothing read since the latest (or since the one restored): it is still whole.
        if snapshots.cut_at == Some(self.indexed) {
            return;
        }
        snapshots.cut_at = Some(self.indexed);
        let topics: Vec<String> = self.topics.iter().map(|(_, n)| n.to_owned()).collect();
        let cache = &self.cache;
        let partitions: Vec<PartitionMark> = self
            .partitions
            .iter()
            .map(|((topic, partition), state)| {
                // The last record's payload is the newest in the cache, if it is on.
                let last = Position {
                    topic: *topic,
                    partition: *partition,
                    offset: state.next_offset - 1,
                };
                let last_checksum = cache
                    .held(&last)
                    .map(|p| record_checksum(p.key.as_deref(), Some(&p.value)))
                    .or_else(|| {
                        let (offset, checksum) = state.restored_checksum?;
                        (offset == last.offset).then_some(checksum)
                    });
                PartitionMark {
                    topic: topic.0,
                    partition: *partition,
                    next_offset: state.next_offset,
                    clock: state.clock,
                    last_timestamp: state.last_timestamp,
                    last_checksum,
                }
            })
            .collect();
        let unclassified = self.status.unclassified_by_topic();
        let cut = self.writer.cut();
        let keys = self
            .key_rule
            .as_ref()
            .map(|rule| (rule.describe(), self.writer.key_cut()));
        let locations = Arc::clone(&snapshots.locations);
        let typing = Arc::clone(&snapshots.typing);
        let status = Arc::clone(&self.status);
        let writer = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let started = Instant::now();
                let mut encoder = Encoder::new(&topics, &partitions, cut.len());
                let mut events = 0;
                for (name, streams) in &cut {
                    encoder.start_type(name.as_deref(), streams.len());
                    for stream in streams {
                        let len = stream.len() as usize;
                        encoder.stream(
                            stream.topic.0,
                            stream.partition,
                            stream.value_bytes,
                            len,
                            stream.rows(),
                        );
                        events += len as u64;
                    }
                }
                encoder.unclassified(&unclassified);
                if let Some((rule, key_cut)) = &keys
                    && !write_keys(&mut encoder, rule, key_cut, &cut)
                {
                    info!("snapshot skipped: a topic was reset while it was read; the next one will be whole");
                    return;
                }
                let bytes = encoder.finish(&typing);
                for location in locations.iter() {
                    let outcome = location.write_encoded(&bytes, &topics, events);
                    let mut report = lock(&status.snapshot);
                    match outcome {
                        Ok(written) => {
                            let took = started.elapsed();
                            info!(
                                "snapshot of {} events written to {} in {took:.1?} ({} bytes)",
                                written.manifest.events,
                                location.describe(),
                                written.manifest.bytes
                            );
                            report.last_written_at_ms = Some(written.manifest.written_at_ms);
                            report.last_events = written.manifest.events;
                            report.last_bytes = written.manifest.bytes;
                            report.last_write_ms = took.as_millis() as u64;
                            report.last_error = None;
                        }
                        Err(e) => {
                            warn!("snapshot not written to {}: {e}", location.describe());
                            report.last_error = Some(format!("{}: {e}", location.describe()));
                        }
                    }
                }
            });
        match writer {
            Ok(handle) => snapshots.writing = Some(handle),
            Err(e) => warn!("cannot start the snapshot writer: {e}"),
        }
    }

    /// Waits for a snapshot being written (at shutdown).
    pub(super) fn finish_snapshot(&mut self) {
        if let Some(handle) = self.snapshots.as_mut().and_then(|s| s.writing.take()) {
            let _ = handle.join();
        }
    }

    /// Replays `snapshot` into the (empty) index and takes its partitions' places.
    /// `topic_ids` maps the snapshot's topic indexes to this run's.
    fn restore(
        &mut self,
        snapshot: &Snapshot,
        topic_ids: &[TopicId],
    ) -> Result<u64, SnapshotError> {
        let topic = |i: u16| {
            topic_ids
                .get(usize::from(i))
                .copied()
                .ok_or_else(|| SnapshotError(format!("topic index {i}")))
        };
        // Its events must have been typed as they are now: another rule, type cap
        // or schema would have given other types.
        let typing = self.snapshots.as_ref().map(|s| Arc::clone(&s.typing));
        match typing {
            Some(_) if snapshot.typing.is_empty() => {
                return Err(SnapshotError(
                    "it does not say how its events were typed (written before format 4)".into(),
                ));
            }
            Some(typing) if *snapshot.typing != *typing => {
                return Err(SnapshotError(format!(
                    "its events were typed by {}, not by {typing} as the configuration says now",
                    snapshot.typing
                )));
            }
            _ => {}
        }
        // The key index must come from the same rule, or not from this snapshot.
        let key_rule = self.key_rule.as_ref().map(|rule| rule.describe());
        let keys = match (&key_rule, &snapshot.keys) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(SnapshotError(
                    "it has no key index (written with [keys] off); [keys] is on".into(),
                ));
            }
            (Some(rule), Some(section)) if *rule != section.rule => {
                return Err(SnapshotError(format!(
                    "its key index was made by {}, not by {rule} as [keys] says now",
                    section.rule
                )));
            }
            (Some(_), Some(section)) => Some(section),
        };
        let mut restored = 0u64;
        for rows in &snapshot.types {
            for stream in &rows.streams {
                let topic = topic(stream.topic)?;
                for (i, &(offset, clock)) in stream.rows.iter().enumerate() {
                    let event = Appended {
                        position: Position {
                            topic,
                            partition: stream.partition,
                            offset: offset as i64,
                        },
                        clock,
                        // The stream's total on its first row: /status stays exact.
                        value_bytes: if i == 0 { stream.value_bytes } else { 0 },
                    };
                    let appended = match &rows.name {
                        Some(name) => self
                            .writer
                            .append(name, &event)
                            .map(drop)
                            .map_err(|e| e.to_string()),
                        None => self
                            .writer
                            .append_unclassified(&event)
                            .map(drop)
                            .map_err(|e| e.to_string()),
                    };
                    appended.map_err(|e| SnapshotError(format!("cannot replay an event: {e}")))?;
                    restored += 1;
                }
            }
        }
        for key in keys.iter().flat_map(|section| &section.keys) {
            for event in &key.events {
                let event_type = snapshot
                    .types
                    .get(event.type_ref as usize)
                    .map(|t| t.name.as_deref().unwrap_or(UNCLASSIFIED))
                    .ok_or_else(|| SnapshotError(format!("type {}", event.type_ref)))?;
                self.writer
                    .restore_key(
                        &key.key,
                        event_type,
                        topic(event.topic)?,
                        event.partition,
                        event.row,
                    )
                    .map_err(|e| SnapshotError(format!("cannot replay the key index: {e}")))?;
            }
        }
        for mark in &snapshot.partitions {
            let state = PartitionState {
                next_offset: mark.next_offset,
                clock: mark.clock,
                last_timestamp: mark.last_timestamp,
                restored_checksum: mark.last_checksum.map(|c| (mark.next_offset - 1, c)),
                ..PartitionState::default()
            };
            self.partitions
                .insert((topic(mark.topic)?, mark.partition), state);
        }
        for (i, counts) in snapshot.unclassified.iter().enumerate() {
            let i = u16::try_from(i).map_err(|_| SnapshotError(format!("topic index {i}")))?;
            let topic = topic(i)?;
            for (reason, count) in counts {
                self.status.restore_unclassified(topic, reason, *count);
            }
        }
        Ok(restored)
    }
}

impl Ingest {
    /// At start, with `[snapshot] dir`: loads the newest snapshot, checks it against
    /// the broker (same topics; each partition still holds, at the snapshot's last
    /// offset, a record with the same timestamp and checksum: not deleted and
    /// recreated, not truncated, not behind), and resumes from it. Anything wrong
    /// is logged with its reason and the topic is read from the beginning.
    pub(super) fn restore_snapshot(&mut self) {
        let Some(locations) = self
            .indexer
            .snapshots
            .as_ref()
            .map(|s| Arc::clone(&s.locations))
        else {
            return;
        };
        let started = Instant::now();
        // The newest usable one, where there are two locations.
        let mut newest: Option<(store::Manifest, Snapshot, String)> = None;
        let mut problems = Vec::new();
        for location in locations.iter() {
            match location.read() {
                Ok(Some((manifest, snapshot))) => {
                    if newest
                        .as_ref()
                        .is_none_or(|(m, _, _)| m.written_at_ms < manifest.written_at_ms)
                    {
                        newest = Some((manifest, snapshot, location.describe()));
                    }
                }
                Ok(None) => info!("no snapshot in {}", location.describe()),
                Err(e) => {
                    warn!("snapshot in {} ignored: {e}", location.describe());
                    problems.push(e.to_string());
                }
            }
        }
        let Some((manifest, snapshot, from)) = newest else {
            info!("reading every topic from its beginning");
            if !problems.is_empty() {
                lock(&self.indexer.status.snapshot).restore_error = Some(problems.join("; "));
            }
            return;
        };
        let outcome = self
            .check_against_broker(&snapshot)
            .and_then(|topic_ids| self.indexer.restore(&snapshot, &topic_ids));
        let mut report = lock(&self.indexer.status.snapshot);
        match outcome {
            Ok(restored) => {
                info!(
                    "resumed from the snapshot in {from} ({restored} events, written at {} ms) in {:.1?}",
                    manifest.written_at_ms,
                    started.elapsed()
                );
                report.restored_events = restored;
                report.restored_from_ms = Some(manifest.written_at_ms);
                // Assigned where the snapshot stood, with the partitions found later.
                self.assignment_stale = true;
                if let Some(snapshots) = &mut self.indexer.snapshots {
                    snapshots.cut_at = Some(0);
                }
            }
            Err(e) => {
                warn!("snapshot in {from} ignored, reading every topic from its beginning: {e}");
                report.restore_error = Some(e.to_string());
                drop(report);
                // A replay that failed half-way leaves nothing behind.
                for (topic, _) in self.indexer.topics.iter().collect::<Vec<_>>() {
                    self.indexer.writer.remove_topic(topic);
                    self.indexer.status.forget_unclassified(topic);
                }
                self.indexer.partitions.clear();
            }
        }
    }

    /// The snapshot's topic indexes as this run's topic ids, once the broker shows
    /// every partition's last indexed record where the snapshot saw it.
    fn check_against_broker(&mut self, snapshot: &Snapshot) -> Result<Vec<TopicId>, SnapshotError> {
        let topics = &self.indexer.topics;
        let configured: Vec<&str> = topics.iter().map(|(_, n)| n).collect();
        let mut sorted_snapshot: Vec<&str> = snapshot.topics.iter().map(String::as_str).collect();
        let mut sorted_configured = configured.clone();
        sorted_snapshot.sort_unstable();
        sorted_configured.sort_unstable();
        if sorted_snapshot != sorted_configured {
            return Err(SnapshotError(format!(
                "it is of topics {:?}, not the configured {:?}",
                snapshot.topics, configured
            )));
        }
        let topic_ids: Vec<TopicId> = snapshot
            .topics
            .iter()
            .filter_map(|name| topics.id(name))
            .collect();
        // The record before each partition's next offset must still be there, as seen.
        let mut wanted: HashMap<(String, i32), PartitionMark> = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for mark in snapshot.partitions.iter().filter(|m| m.next_offset > 0) {
            let name = snapshot
                .topics
                .get(usize::from(mark.topic))
                .ok_or_else(|| SnapshotError(format!("topic index {}", mark.topic)))?;
            let last = mark.next_offset - 1;
            assignment
                .add_partition_offset(name, mark.partition, Offset::Offset(last))
                .map_err(|e| SnapshotError(e.to_string()))?;
            wanted.insert((name.clone(), mark.partition), *mark);
        }
        if wanted.is_empty() {
            return Ok(topic_ids);
        }
        self.consumer
            .assign(&assignment)
            .map_err(|e| SnapshotError(format!("cannot read the broker: {e}")))?;
        let deadline = Instant::now() + VERIFY_TIMEOUT;
        let mut seen: BTreeMap<(String, i32), (i64, Option<i64>, u32)> = BTreeMap::new();
        while seen.len() < wanted.len() && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    let key = (message.topic().to_owned(), message.partition());
                    if wanted.contains_key(&key) && !seen.contains_key(&key) {
                        let checksum = record_checksum(message.key(), message.payload());
                        let timestamp = message.timestamp().to_millis();
                        seen.insert(key, (message.offset(), timestamp, checksum));
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(e)) => {
                    return Err(SnapshotError(format!("reading its last records back: {e}")));
                }
            }
        }
        let _ = self.consumer.unassign();
        for (key, mark) in &wanted {
            let (offset, timestamp, checksum) = (
                mark.next_offset - 1,
                mark.last_timestamp,
                mark.last_checksum,
            );
            match seen.get(key) {
                Some((found_offset, found_timestamp, found_checksum))
                    if (*found_offset, *found_timestamp) == (offset, timestamp)
                        && checksum.is_none_or(|c| c == *found_checksum) => {}
                Some((found_offset, found_timestamp, found_checksum)) => {
                    return Err(SnapshotError(format!(
                        "{}/{} holds at offset {found_offset} a record of timestamp {found_timestamp:?} and checksum {found_checksum:08x} where the snapshot saw offset {offset} at {timestamp:?}, checksum {}: the topic was recreated, truncated or compacted, or retention passed the snapshot",
                        key.0,
                        key.1,
                        checksum.map_or("unknown".to_owned(), |c| format!("{c:08x}"))
                    )));
                }
                None => {
                    return Err(SnapshotError(format!(
                        "{}/{} did not show offset {offset} within {VERIFY_TIMEOUT:?}: the log ends before the snapshot, or the partition is gone",
                        key.0, key.1
                    )));
                }
            }
        }
        Ok(topic_ids)
    }
}
