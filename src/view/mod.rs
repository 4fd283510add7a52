//! The in-memory index: per type, its events in the one numbering (see [`order`]).
//!
//! Pure data structure: no Kafka, no HTTP. One [`ViewWriter`] appends (the ingest
//! thread), any number of [`View`] clones read (the HTTP workers). Readers never wait
//! for the writer beyond a brief shared lock; the writer locks exclusively only to
//! grow or seal a block of 256 rows, or to add a type or a partition.
//!
//! The numbering: a type's events ordered by (clock, topic name, partition, offset),
//! where an event's clock is the running maximum of its partition's Kafka timestamps
//! (the caller computes it). The writer is told the watermark; events with a clock
//! below it are settled, and their indexes never change again.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;

mod follow;
mod keys;
mod order;
mod packed;
mod position;

pub use follow::Tail;
pub use keys::{KeyAppend, KeyCounts, KeyCut, KeySeek, KeySummary, KeyTail, KeyedEvent, LeftOut};
pub use order::{Entry, Slot, StreamCut, TypeIndex, watermark};
pub use position::{MAX_PARTITIONS, MAX_TOPICS, Position, PositionError, TopicId, Topics};

/// The name under which events whose type could not be found are indexed; no
/// event type may take it.
pub const UNCLASSIFIED: &str = "unclassified";

#[derive(Default)]
struct Shared {
    types: DashMap<Arc<str>, Arc<TypeIndex>>,
    // Behind a lock only so a topic reset can swap it; readers clone the Arc.
    unclassified: RwLock<Arc<TypeIndex>>,
    watermark: AtomicU64,
    late: AtomicU64,
    keys: RwLock<keys::KeyTable>,
}

impl Shared {
    fn unclassified(&self) -> Arc<TypeIndex> {
        Arc::clone(
            &self
                .unclassified
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn index(&self, event_type: &str) -> Option<Arc<TypeIndex>> {
        if event_type == UNCLASSIFIED {
            return Some(self.unclassified());
        }
        self.types
            .get(event_type)
            .map(|entry| Arc::clone(entry.value()))
    }
}

/// Read access to the index; cheap to clone and share across threads.
#[derive(Clone)]
pub struct View {
    shared: Arc<Shared>,
}

/// What the writer is told of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Where the event is.
    pub position: Position,
    /// Its clock (ms): the running maximum of its partition's timestamps so far.
    pub clock: u64,
    /// The length of its value.
    pub value_bytes: u64,
}

impl Appended {
    /// An event at `position` with clock 0 and an empty value (for tests and benches).
    pub fn at(position: Position) -> Appended {
        Appended {
            position,
            clock: 0,
            value_bytes: 0,
        }
    }
}

/// Whether an appended event kept the settled promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Its clock is at or above the watermark: no settled index moved.
    InOrder,
    /// Its clock is below the watermark (it came late, on a partition the watermark
    /// had stopped waiting for): it takes its place by the rule, and settled indexes
    /// after it moved up by one.
    Late,
}

/// Why an event was not indexed under its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Its position is beyond what the index can hold.
    #[error(transparent)]
    Position(#[from] PositionError),
    /// Its type is new, and the index holds as many types as it may.
    #[error("the index holds {cap} types already (classify.max_types)")]
    TooManyTypes {
        /// The cap.
        cap: u64,
    },
}

/// The one handle that appends to the index.
pub struct ViewWriter {
    shared: Arc<Shared>,
    // Each configured topic's rank by name, for the tie-break.
    name_ranks: Vec<u16>,
    // Types with events not settled yet, by the lowest clock they wait for: a
    // watermark rise settles only the types it reaches, however many types there are.
    // An entry whose clock is not its type's `queued` any more is stale and skipped.
    queue: BinaryHeap<Reverse<(u64, Arc<str>)>>,
    // The same for the unclassified index (u64::MAX: nothing to settle).
    unclassified_head: u64,
    // Types (or `unclassified`) whose settled prefix a late event invalidated, waiting
    // for quiet before it is merged again: a burst of late events (a backfill with
    // old timestamps) costs one O(n) merge, not one per event.
    rebuilds: BTreeMap<Arc<str>, Rebuild>,
    // For types rebuilt before: how many quiet `advance` calls the next rebuild waits.
    rebuilt: BTreeMap<Arc<str>, u32>,
    // `unclassified` as a key of `rebuilds`, made once.
    unclassified_name: Arc<str>,
    // The writer's own handles to the first few types' indexes: an append then
    // compares a few names instead of hashing one and locking a map shard (most
    // topics have a handful of types; later ones go through the map).
    known: Vec<(Arc<str>, Arc<TypeIndex>)>,
    // Distinct types indexed (declared ones included), and how many may be.
    type_count: u64,
    max_types: u64,
}

/// A settled prefix waiting to be merged again after late events.
#[derive(Debug, Clone, Copy)]
struct Rebuild {
    /// `advance` calls since the latest late event.
    quiet: u32,
    /// How many it waits for: 100 (a second, at ingest's pace) doubling with each
    /// rebuild of the same type, up to 6,400, so steady late events cost one merge a
    /// minute at most.
    needed: u32,
}

const REBUILD_AFTER_QUIET: u32 = 100;
const REBUILD_AFTER_QUIET_MAX: u32 = REBUILD_AFTER_QUIET << 6;

/// How many types the writer keeps its own handle to.
const WRITER_KNOWN_TYPES: usize = 8;

/// Creates an empty index for `topics`: the reader handle and its single writer.
pub fn new_view(topics: &Topics) -> (View, ViewWriter) {
    let shared = Arc::new(Shared::default());
    (
        View {
            shared: Arc::clone(&shared),
        },
        ViewWriter {
            shared,
            name_ranks: topics.name_ranks(),
            queue: BinaryHeap::new(),
            unclassified_head: u64::MAX,
            rebuilds: BTreeMap::new(),
            rebuilt: BTreeMap::new(),
            unclassified_name: Arc::from(UNCLASSIFIED),
            known: Vec::new(),
            type_count: 0,
            max_types: u64::MAX,
        },
    )
}

/// An event found by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Where it is.
    pub position: Position,
    /// Its index in its type.
    pub index: u64,
    /// Its clock (ms).
    pub clock: u64,
    /// Its index will never change (its clock is below the watermark).
    pub settled: bool,
}

/// A type's events counted by clock over equal spans of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Each span's width (ms).
    pub bucket_ms: u64,
    /// Events whose clock falls in each span.
    pub counts: Vec<u64>,
    /// Of those, the tentative ones (clock at or above the watermark).
    pub tentative: Vec<u64>,
}

/// The answer to a (type, index) or (type, time) lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The event.
    Found(Found),
    /// The type exists but has only `len` events (or none at or after that time).
    OutOfRange {
        /// How many events the type has.
        len: u64,
    },
    /// No event of this type was ever seen, and it is not declared.
    UnknownType,
}

impl View {
    /// The index of one type ([`UNCLASSIFIED`] included), if it has been seen or declared.
    pub fn type_index(&self, event_type: &str) -> Option<Arc<TypeIndex>> {
        self.shared.index(event_type)
    }

    /// The watermark (ms): events with a lower clock are settled.
    pub fn watermark(&self) -> u64 {
        self.shared.watermark.load(Ordering::Acquire)
    }

    /// Events that arrived with a clock below the watermark (each broke a settled promise).
    pub fn late_events(&self) -> u64 {
        self.shared.late.load(Ordering::Relaxed)
    }

    fn found(&self, index: &TypeIndex, at: u64) -> Lookup {
        // The watermark before the lookup: an event settled then is settled now.
        let watermark = self.watermark();
        match index.get(at) {
            Some(Entry { position, clock }) => Lookup::Found(Found {
                position,
                index: at,
                clock,
                settled: clock < watermark,
            }),
            None => Lookup::OutOfRange { len: index.len() },
        }
    }

    /// The `index`-th event of `event_type`; [`UNCLASSIFIED`] names the events
    /// without a type.
    pub fn get(&self, event_type: &str, index: u64) -> Lookup {
        match self.shared.index(event_type) {
            Some(type_index) => self.found(&type_index, index),
            None => Lookup::UnknownType,
        }
    }

    /// The first event of `event_type` whose clock is at or after `clock`.
    pub fn first_at_or_after(&self, event_type: &str, clock: u64) -> Lookup {
        match self.shared.index(event_type) {
            Some(type_index) => {
                let index = type_index.count_before_clock(clock);
                self.found(&type_index, index)
            }
            None => Lookup::UnknownType,
        }
    }

    /// How many events of `event_type` have their clock in each of `buckets` equal
    /// spans of `[from, to)` (the last one cut at `to`), and how many of those are
    /// tentative; `None` for a type never seen. From the clocks alone: a time seek
    /// per bucket edge, O(buckets × partitions × log n), no payload read.
    pub fn histogram(
        &self,
        event_type: &str,
        from: u64,
        to: u64,
        buckets: u64,
    ) -> Option<Histogram> {
        let index = self.shared.index(event_type)?;
        // The watermark before the seeks: an event settled then is settled now.
        let watermark = self.watermark();
        let buckets = buckets.max(1);
        let span = to.saturating_sub(from);
        let bucket_ms = span.div_ceil(buckets).max(1);
        let edge = |i: u64| from.saturating_add(bucket_ms.saturating_mul(i)).min(to);
        let below = |clock: u64| index.count_before_clock(clock);
        let tentative_from = below(watermark);
        let mut histogram = Histogram {
            bucket_ms,
            counts: Vec::with_capacity(buckets as usize),
            tentative: Vec::with_capacity(buckets as usize),
        };
        let mut start = below(edge(0));
        for i in 0..buckets {
            let end = below(edge(i + 1));
            histogram.counts.push(end - start);
            histogram
                .tentative
                .push(end.saturating_sub(start.max(tentative_from)));
            start = end;
        }
        Some(histogram)
    }

    /// The type and index of the event at `position`, if it is indexed. O(types ×
    /// partitions × log n).
    pub fn locate(&self, position: Position) -> Option<(String, Found)> {
        let watermark = self.watermark();
        let found = |(index, clock): (u64, u64)| Found {
            position,
            index,
            clock,
            settled: clock < watermark,
        };
        if let Some(at) = self.shared.unclassified().index_of(position) {
            return Some((UNCLASSIFIED.to_owned(), found(at)));
        }
        self.shared.types.iter().find_map(|entry| {
            let at = entry.value().index_of(position)?;
            Some((entry.key().to_string(), found(at)))
        })
    }

    /// The index of events whose type could not be determined.
    pub fn unclassified(&self) -> Arc<TypeIndex> {
        self.shared.unclassified()
    }

    /// Every type's index, by name (declared types included).
    pub fn types(&self) -> BTreeMap<String, Arc<TypeIndex>> {
        self.shared
            .types
            .iter()
            .map(|entry| (entry.key().to_string(), Arc::clone(entry.value())))
            .collect()
    }

    /// Every type's index, the largest first (ties by name).
    pub fn types_by_count(&self) -> Vec<(String, Arc<TypeIndex>)> {
        let mut types: Vec<(String, Arc<TypeIndex>, u64)> = self
            .shared
            .types
            .iter()
            .map(|e| (e.key().to_string(), Arc::clone(e.value()), e.value().len()))
            .collect();
        types.sort_unstable_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        types
            .into_iter()
            .map(|(name, index, _)| (name, index))
            .collect()
    }

    /// Exact event count per type (declared types included, with 0).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared
            .types
            .iter()
            .map(|entry| (entry.key().to_string(), entry.value().len()))
            .collect()
    }

    /// Distinct types (declared ones included).
    pub fn type_count(&self) -> usize {
        self.shared.types.len()
    }

    /// Total events indexed across all types, unclassified included.
    pub fn total(&self) -> u64 {
        let classified: u64 = self.shared.types.iter().map(|e| e.value().len()).sum();
        classified + self.shared.unclassified().len()
    }

    /// Events, unclassified included, whose index may still move (clock at or above
    /// the watermark).
    pub fn tentative(&self) -> u64 {
        let watermark = self.watermark();
        let tentative =
            |index: &TypeIndex| index.len() - index.settled_count(watermark).min(index.len());
        let classified: u64 = self.shared.types.iter().map(|e| tentative(e.value())).sum();
        classified + tentative(&self.shared.unclassified())
    }

    /// Bytes allocated for all index entries.
    pub fn allocated_bytes(&self) -> usize {
        let classified: usize = self
            .shared
            .types
            .iter()
            .map(|e| e.value().allocated_bytes())
            .sum();
        classified + self.shared.unclassified().allocated_bytes()
    }
}

/// A type's streams at a cut: `None` names the unclassified index.
pub type TypeCut = (Option<String>, Vec<StreamCut>);

impl ViewWriter {
    /// Every type's streams (declared types with none too, and the unclassified
    /// index last) as they stand now: a consistent cut, O(types × partitions), whose
    /// rows a snapshot reads later while ingest goes on.
    pub fn cut(&self) -> Vec<TypeCut> {
        let mut types: Vec<TypeCut> = self
            .shared
            .types
            .iter()
            .map(|entry| (Some(entry.key().to_string()), entry.value().cut()))
            .collect();
        types.sort_by(|a, b| a.0.cmp(&b.0));
        types.push((None, self.shared.unclassified().cut()));
        types
    }

    /// At most `max_types` distinct types from now on (declared ones included):
    /// an event of a new type beyond that is refused.
    pub fn limit_types(&mut self, max_types: u64) {
        self.max_types = max_types;
    }

    /// Makes a type known with zero events, so it shows in counts before any arrive.
    /// It counts against the limit, which it may take past.
    pub fn declare(&mut self, event_type: &str) {
        self.index(event_type, true);
    }

    /// Appends an event to a type's index.
    pub fn append(&mut self, event_type: &str, event: &Appended) -> Result<Placed, Refused> {
        let (slot, offset) = self.slot(&event.position)?;
        let clock = event.clock;
        let watermark = self.shared.watermark.load(Ordering::Relaxed);
        let held = self.known.iter().find(|(name, _)| **name == *event_type);
        let (name, index) = match held {
            Some((name, index)) => {
                index.push(slot, offset, clock, event.value_bytes);
                // The common case, per event at ingest: in order and already queued
                // at or below this clock. No map lookup, no reference counting.
                if clock >= watermark && clock >= index.queued.load(Ordering::Relaxed) {
                    return Ok(Placed::InOrder);
                }
                (Arc::clone(name), Arc::clone(index))
            }
            None => {
                let (name, index) = self.index(event_type, false).ok_or(Refused::TooManyTypes {
                    cap: self.max_types,
                })?;
                index.push(slot, offset, clock, event.value_bytes);
                (name, index)
            }
        };
        if clock < index.queued.load(Ordering::Relaxed) {
            index.queued.store(clock, Ordering::Relaxed);
            self.queue.push(Reverse((clock, Arc::clone(&name))));
        }
        if clock < watermark {
            self.late(name, &index);
            return Ok(Placed::Late);
        }
        Ok(Placed::InOrder)
    }

    /// Appends an event to the unclassified index.
    pub fn append_unclassified(&mut self, event: &Appended) -> Result<Placed, PositionError> {
        let (slot, offset) = self.slot(&event.position)?;
        let index = self.shared.unclassified();
        index.push(slot, offset, event.clock, event.value_bytes);
        self.unclassified_head = self.unclassified_head.min(event.clock);
        let watermark = self.shared.watermark.load(Ordering::Relaxed);
        if event.clock >= watermark {
            return Ok(Placed::InOrder);
        }
        let name = Arc::clone(&self.unclassified_name);
        self.late(name, &index);
        Ok(Placed::Late)
    }

    /// A late event (clock below the watermark) belongs inside the settled prefix:
    /// the prefix is dropped at once (O(1)), so lookups keep answering by the rule
    /// (by selection, O(partitions × log n)), and merged again once late events stop.
    fn late(&mut self, name: Arc<str>, index: &TypeIndex) {
        self.shared.late.fetch_add(1, Ordering::Relaxed);
        index.invalidate_settled();
        match self.rebuilds.get_mut(&name) {
            Some(rebuild) => rebuild.quiet = 0,
            None => {
                let needed = self
                    .rebuilt
                    .get(&name)
                    .copied()
                    .unwrap_or(REBUILD_AFTER_QUIET);
                self.rebuilds.insert(name, Rebuild { quiet: 0, needed });
            }
        }
    }

    /// Raises the watermark to `watermark` (it never goes down) and settles every
    /// event below it. Call it often enough for lookups to see settled events as
    /// such; it costs O(events settled + types they belong to × log types).
    pub fn advance(&mut self, watermark: u64) {
        let watermark = self.shared.watermark.load(Ordering::Relaxed).max(watermark);
        while let Some(Reverse((clock, _))) = self.queue.peek()
            && *clock < watermark
        {
            let Some(Reverse((clock, name))) = self.queue.pop() else {
                break;
            };
            let Some(index) = self.shared.index(&name) else {
                continue;
            };
            if index.queued.load(Ordering::Relaxed) != clock || self.rebuilds.contains_key(&name) {
                continue; // stale (queued again lower, or settled), or waiting to rebuild
            }
            let next = index.settle(watermark);
            index
                .queued
                .store(next.unwrap_or(u64::MAX), Ordering::Relaxed);
            if let Some(next) = next {
                self.queue.push(Reverse((next, name)));
            }
        }
        let unclassified_waits = self.rebuilds.contains_key(UNCLASSIFIED);
        if self.unclassified_head < watermark && !unclassified_waits {
            let next = self.shared.unclassified().settle(watermark);
            self.unclassified_head = next.unwrap_or(u64::MAX);
        }
        self.rebuild_quiet_ones(watermark);
        // Published after settling, so a lookup that sees an event settled finds it
        // in the settled prefix (or, briefly, selects it from the tails: same index).
        self.shared.watermark.store(watermark, Ordering::Release);
    }

    /// Merges again the settled prefixes that late events dropped, once they have
    /// been quiet long enough; the next wait for the same type is twice as long.
    fn rebuild_quiet_ones(&mut self, watermark: u64) {
        let mut done = Vec::new();
        for (name, rebuild) in &mut self.rebuilds {
            rebuild.quiet += 1;
            if rebuild.quiet < rebuild.needed {
                continue;
            }
            if let Some(index) = self.shared.index(name) {
                let next = index.settle(watermark);
                if **name == *UNCLASSIFIED {
                    self.unclassified_head = next.unwrap_or(u64::MAX);
                } else {
                    index
                        .queued
                        .store(next.unwrap_or(u64::MAX), Ordering::Relaxed);
                    if let Some(next) = next {
                        self.queue.push(Reverse((next, Arc::clone(name))));
                    }
                }
            }
            done.push(Arc::clone(name));
        }
        for name in done {
            self.rebuilds.remove(&name);
            let needed = self.rebuilt.entry(name).or_insert(REBUILD_AFTER_QUIET);
            *needed = (*needed * 2).min(REBUILD_AFTER_QUIET_MAX);
        }
    }

    /// Drops every entry of `topic` (its log was deleted or truncated), keeping the
    /// rest in order; returns how many entries were dropped. O(entries): rare. The
    /// watermark starts again from 0, as the topic is read again from its beginning.
    pub fn remove_topic(&mut self, topic: TopicId) -> u64 {
        self.known.clear(); // they name the indexes being replaced
        self.rebuilds.clear(); // every prefix is merged again from nothing anyway
        self.shared.watermark.store(0, Ordering::Release);
        let mut dropped = 0;
        // Rebuilt outside the map's locks, then swapped in one by one.
        let current: Vec<(Arc<str>, Arc<TypeIndex>)> = self
            .shared
            .types
            .iter()
            .map(|entry| (Arc::clone(entry.key()), Arc::clone(entry.value())))
            .collect();
        self.queue.clear();
        for (name, index) in current {
            let kept = index.without_topic(topic);
            dropped += index.len() - kept.len();
            if !kept.is_empty() {
                kept.queued.store(0, Ordering::Relaxed);
                self.queue.push(Reverse((0, Arc::clone(&name))));
            }
            self.shared.types.insert(name, Arc::new(kept));
        }
        let unclassified = self.shared.unclassified();
        let kept = unclassified.without_topic(topic);
        dropped += unclassified.len() - kept.len();
        self.unclassified_head = 0;
        *self
            .shared
            .unclassified
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(kept);
        // The key index refers to the streams just replaced: to their copies now.
        let shared = Arc::clone(&self.shared);
        self.keys_mut().remove_topic(topic, |event_type, slot| {
            shared.index(event_type)?.stream(slot)
        });
        dropped
    }

    fn slot(&self, position: &Position) -> Result<(Slot, u64), PositionError> {
        position.check()?;
        let name_rank = self
            .name_ranks
            .get(usize::from(position.topic.0))
            .copied()
            .unwrap_or(position.topic.0);
        let offset =
            u64::try_from(position.offset).map_err(|_| PositionError::Offset(position.offset))?;
        Ok((
            Slot {
                name_rank,
                partition: position.partition,
                topic: position.topic,
            },
            offset,
        ))
    }

    /// The name (as the map holds it) and index of `event_type`, created if needed
    /// and below the limit (or `always`).
    fn index(&mut self, event_type: &str, always: bool) -> Option<(Arc<str>, Arc<TypeIndex>)> {
        if let Some((name, index)) = self.known.iter().find(|(name, _)| **name == *event_type) {
            return Some((Arc::clone(name), Arc::clone(index)));
        }
        let (name, index) = match self.shared.types.get(event_type) {
            Some(entry) => (Arc::clone(entry.key()), Arc::clone(entry.value())),
            None if always || self.type_count < self.max_types => {
                self.type_count += 1;
                let entry = self.shared.types.entry(Arc::from(event_type)).or_default();
                (Arc::clone(entry.key()), Arc::clone(entry.value()))
            }
            None => return None,
        };
        if self.known.len() < WRITER_KNOWN_TYPES {
            self.known.push((Arc::clone(&name), Arc::clone(&index)));
        }
        Some((name, index))
    }
}

#[cfg(test)]
mod tests;
