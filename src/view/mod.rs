//! The in-memory index: per-type, append-only vectors of event positions.
//!
//! Pure data structure: no Kafka, no HTTP. One [`ViewWriter`] appends (the ingest
//! thread), any number of [`View`] clones read (the HTTP workers). Readers never wait
//! for the writer beyond a brief shared lock taken only to locate a chunk; the writer
//! takes the exclusive lock only when it adds a chunk (once per up to 65,536 appends).
//!
//! Each position packs into 12 bytes (a `u64` offset and a `u32` of partition and
//! topic) stored as atomics, so an entry is written in place while readers run, with
//! no `unsafe`: the writer stores the slots, then publishes the new length with
//! `Release`; a reader loads the length with `Acquire` and only reads below it, so it
//! never sees a torn or unwritten entry. Timestamps are not kept per event (they
//! would make an entry 16 bytes): a payload read from Kafka or the cache carries its
//! own, and each type keeps its first and last for `/status`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use dashmap::DashMap;

mod position;

use position::Packed;
pub use position::{MAX_PARTITIONS, MAX_TOPICS, Position, PositionError, TopicId, Topics};

/// The name under which events whose type could not be found are indexed; no
/// event type may take it.
pub const UNCLASSIFIED: &str = "unclassified";

const NO_TIMESTAMP: i64 = i64::MIN;

// Chunk k holds FIRST_CHUNK << k entries until that reaches MAX_CHUNK; every later
// chunk holds MAX_CHUNK. Small first chunks keep a rare type cheap (768 B), the cap
// keeps the unused tail of a big type under 768 KiB.
const FIRST_CHUNK_SHIFT: u32 = 6; // 64 entries
const MAX_CHUNK_SHIFT: u32 = 16; // 65,536 entries
const DOUBLING_CHUNKS: u32 = MAX_CHUNK_SHIFT - FIRST_CHUNK_SHIFT + 1;
const DOUBLING_ENTRIES: u64 = ((1 << DOUBLING_CHUNKS) - 1) << FIRST_CHUNK_SHIFT;

/// Maps an entry index to (chunk number, slot within chunk).
fn locate(index: u64) -> (usize, usize) {
    if index < DOUBLING_ENTRIES {
        let k = 63 - ((index >> FIRST_CHUNK_SHIFT) + 1).leading_zeros();
        let start = ((1u64 << k) - 1) << FIRST_CHUNK_SHIFT;
        (k as usize, (index - start) as usize)
    } else {
        let rest = index - DOUBLING_ENTRIES;
        (
            (u64::from(DOUBLING_CHUNKS) + (rest >> MAX_CHUNK_SHIFT)) as usize,
            (rest & ((1 << MAX_CHUNK_SHIFT) - 1)) as usize,
        )
    }
}

fn chunk_capacity(chunk: usize) -> usize {
    1 << (FIRST_CHUNK_SHIFT as usize + chunk).min(MAX_CHUNK_SHIFT as usize)
}

/// One chunk of entries, as two parallel arrays: 8 + 4 bytes an entry, no padding.
struct Chunk {
    offsets: Box<[AtomicU64]>,
    meta: Box<[AtomicU32]>,
}

impl Chunk {
    fn new(capacity: usize) -> Chunk {
        Chunk {
            offsets: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            meta: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn allocated_bytes(&self) -> usize {
        self.offsets.len() * size_of::<AtomicU64>() + self.meta.len() * size_of::<AtomicU32>()
    }
}

/// The positions of one event type, in append order.
pub struct TypeIndex {
    chunks: RwLock<Vec<Chunk>>,
    len: AtomicU64,
    // Value bytes per topic, so dropping one topic's events keeps the rest exact.
    bytes: [AtomicU64; MAX_TOPICS],
    // Kafka timestamps of the first and the last event (NO_TIMESTAMP: none).
    first_timestamp: AtomicI64,
    last_timestamp: AtomicI64,
}

impl Default for TypeIndex {
    fn default() -> Self {
        TypeIndex {
            chunks: RwLock::default(),
            len: AtomicU64::new(0),
            bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            first_timestamp: AtomicI64::new(NO_TIMESTAMP),
            last_timestamp: AtomicI64::new(NO_TIMESTAMP),
        }
    }
}

impl TypeIndex {
    /// Number of events appended so far.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// True when no event has been appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The position of the `index`-th event, if there is one.
    pub fn get(&self, index: u64) -> Option<Position> {
        if index >= self.len() {
            return None;
        }
        self.get_packed(index).map(Position::unpack)
    }

    /// The first and the last position, if any event was appended.
    pub fn first_and_last(&self) -> Option<(Position, Position)> {
        let len = self.len();
        Some((self.get(0)?, self.get(len.checked_sub(1)?)?))
    }

    /// Kafka timestamps (ms) of the first and the last event, where Kafka gave them.
    /// After a topic reset dropped the event that held one, that one is unknown.
    pub fn first_and_last_timestamps(&self) -> (Option<i64>, Option<i64>) {
        let known =
            |ts: &AtomicI64| Some(ts.load(Ordering::Relaxed)).filter(|&t| t != NO_TIMESTAMP);
        (known(&self.first_timestamp), known(&self.last_timestamp))
    }

    /// Total size of the values of this type's events, as appended.
    pub fn value_bytes(&self) -> u64 {
        self.bytes.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// Bytes allocated for this type's entries.
    pub fn allocated_bytes(&self) -> usize {
        let chunks = self.chunks.read().unwrap_or_else(PoisonError::into_inner);
        chunks.iter().map(Chunk::allocated_bytes).sum()
    }

    fn get_packed(&self, index: u64) -> Option<Packed> {
        let (chunk, slot) = locate(index);
        let chunks = self.chunks.read().unwrap_or_else(PoisonError::into_inner);
        let chunk = chunks.get(chunk)?;
        Some((
            chunk.offsets.get(slot)?.load(Ordering::Relaxed),
            chunk.meta.get(slot)?.load(Ordering::Relaxed),
        ))
    }

    /// A copy without the entries of `topic` (and their bytes).
    fn without_topic(&self, topic: TopicId) -> TypeIndex {
        let kept = TypeIndex::default();
        for i in 0..self.len() {
            if let Some(packed) = self.get_packed(i) {
                let position = Position::unpack(packed);
                if position.topic != topic {
                    kept.push(packed, position.topic, 0, None);
                }
            }
        }
        // A timestamp stays known where its event was kept at the same end.
        let ends = |index: &TypeIndex| {
            let len = index.len();
            (
                index.get_packed(0),
                len.checked_sub(1).and_then(|l| index.get_packed(l)),
            )
        };
        let (first, last) = ends(self);
        let (kept_first, kept_last) = ends(&kept);
        if kept_first.is_some() && kept_first == first {
            let ts = self.first_timestamp.load(Ordering::Relaxed);
            kept.first_timestamp.store(ts, Ordering::Relaxed);
        }
        if kept_last.is_some() && kept_last == last {
            let ts = self.last_timestamp.load(Ordering::Relaxed);
            kept.last_timestamp.store(ts, Ordering::Relaxed);
        }
        for (t, bytes) in self.bytes.iter().enumerate() {
            if t != usize::from(topic.0) {
                kept.bytes[t].store(bytes.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        kept
    }

    /// Appends; only [`ViewWriter`] calls this, which makes it the single writer.
    fn push(&self, packed: Packed, topic: TopicId, value_bytes: u64, timestamp_ms: Option<i64>) {
        if let Some(bytes) = self.bytes.get(usize::from(topic.0)) {
            bytes.fetch_add(value_bytes, Ordering::Relaxed);
        }
        let index = self.len.load(Ordering::Relaxed);
        let timestamp = timestamp_ms.unwrap_or(NO_TIMESTAMP);
        if index == 0 {
            self.first_timestamp.store(timestamp, Ordering::Relaxed);
        }
        self.last_timestamp.store(timestamp, Ordering::Relaxed);
        let (chunk, slot) = locate(index);
        let mut chunks = self.chunks.read().unwrap_or_else(PoisonError::into_inner);
        if chunk == chunks.len() {
            drop(chunks);
            let fresh = Chunk::new(chunk_capacity(chunk));
            self.chunks
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push(fresh);
            chunks = self.chunks.read().unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(chunk) = chunks.get(chunk) {
            chunk.offsets[slot].store(packed.0, Ordering::Relaxed);
            chunk.meta[slot].store(packed.1, Ordering::Relaxed);
        }
        drop(chunks);
        self.len.store(index + 1, Ordering::Release);
    }
}

#[derive(Default)]
struct Shared {
    types: DashMap<Arc<str>, Arc<TypeIndex>>,
    // Behind a lock only so a topic reset can swap it; readers clone the Arc.
    unclassified: RwLock<Arc<TypeIndex>>,
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
}

/// Read access to the index; cheap to clone and share across threads.
#[derive(Clone)]
pub struct View {
    shared: Arc<Shared>,
}

/// What the writer is told of an event: its position, and what the index sums and
/// keeps at its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Where the event is.
    pub position: Position,
    /// Its Kafka timestamp in ms, if any.
    pub timestamp_ms: Option<i64>,
    /// The length of its value.
    pub value_bytes: u64,
}

impl Appended {
    /// An event at `position` with no timestamp and an empty value (for tests and
    /// benches, where only positions matter).
    pub fn at(position: Position) -> Appended {
        Appended {
            position,
            timestamp_ms: None,
            value_bytes: 0,
        }
    }
}

/// The one handle that appends to the index.
pub struct ViewWriter {
    shared: Arc<Shared>,
    // The writer's own handles to the first few types' indexes: an append then
    // compares a few names instead of hashing one and locking a map shard (most
    // topics have a handful of types; later ones go through the map).
    known: Vec<(Box<str>, Arc<TypeIndex>)>,
}

/// How many types the writer keeps its own handle to.
const WRITER_KNOWN_TYPES: usize = 8;

/// Creates an empty index: the reader handle and its single writer.
pub fn new_view() -> (View, ViewWriter) {
    let shared = Arc::new(Shared::default());
    (
        View {
            shared: Arc::clone(&shared),
        },
        ViewWriter {
            shared,
            known: Vec::new(),
        },
    )
}

impl View {
    /// The index of one type, if that type has been seen or declared.
    pub fn type_index(&self, event_type: &str) -> Option<Arc<TypeIndex>> {
        self.shared
            .types
            .get(event_type)
            .map(|entry| Arc::clone(entry.value()))
    }

    /// The position of the `index`-th event of `event_type`; the type
    /// [`UNCLASSIFIED`] names the index of events without a type.
    pub fn get(&self, event_type: &str, index: u64) -> Lookup {
        if event_type == UNCLASSIFIED {
            let unclassified = self.shared.unclassified();
            return match unclassified.get(index) {
                Some(position) => Lookup::Found(position),
                None => Lookup::OutOfRange {
                    len: unclassified.len(),
                },
            };
        }
        match self.shared.types.get(event_type) {
            None => Lookup::UnknownType,
            Some(entry) => match entry.get(index) {
                Some(position) => Lookup::Found(position),
                None => Lookup::OutOfRange { len: entry.len() },
            },
        }
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

    /// Exact event count per type (declared types included, with 0).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.shared
            .types
            .iter()
            .map(|entry| (entry.key().to_string(), entry.value().len()))
            .collect()
    }

    /// Total events indexed across all types, unclassified included.
    pub fn total(&self) -> u64 {
        let classified: u64 = self.shared.types.iter().map(|e| e.value().len()).sum();
        classified + self.shared.unclassified().len()
    }

    /// Bytes allocated for all position entries.
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

/// The answer to a (type, index) lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The event is at this position.
    Found(Position),
    /// The type exists but has only `len` events.
    OutOfRange {
        /// How many events the type has.
        len: u64,
    },
    /// No event of this type was ever seen, and it is not declared.
    UnknownType,
}

impl ViewWriter {
    /// Makes a type known with zero events, so it shows in counts before any arrive.
    pub fn declare(&mut self, event_type: &str) {
        self.with_index(event_type, |_| {});
    }

    /// Appends an event's position to a type's index.
    pub fn append(&mut self, event_type: &str, event: &Appended) -> Result<(), PositionError> {
        let packed = event.position.pack()?;
        self.with_index(event_type, |index| {
            index.push(
                packed,
                event.position.topic,
                event.value_bytes,
                event.timestamp_ms,
            )
        });
        Ok(())
    }

    /// Appends an event's position to the unclassified index.
    pub fn append_unclassified(&mut self, event: &Appended) -> Result<(), PositionError> {
        let packed = event.position.pack()?;
        self.shared.unclassified().push(
            packed,
            event.position.topic,
            event.value_bytes,
            event.timestamp_ms,
        );
        Ok(())
    }

    /// Drops every entry of `topic` (its log was deleted or truncated), keeping the
    /// order of the rest; returns how many entries were dropped. O(entries): rare.
    /// Readers keep the index they hold until their next lookup.
    pub fn remove_topic(&mut self, topic: TopicId) -> u64 {
        self.known.clear(); // they name the indexes being replaced
        let mut dropped = 0;
        // Rebuilt outside the map's locks, then swapped in one by one.
        let current: Vec<(Arc<str>, Arc<TypeIndex>)> = self
            .shared
            .types
            .iter()
            .map(|entry| (Arc::clone(entry.key()), Arc::clone(entry.value())))
            .collect();
        for (name, index) in current {
            let kept = index.without_topic(topic);
            dropped += index.len() - kept.len();
            self.shared.types.insert(name, Arc::new(kept));
        }
        let unclassified = self.shared.unclassified();
        let kept = unclassified.without_topic(topic);
        dropped += unclassified.len() - kept.len();
        *self
            .shared
            .unclassified
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(kept);
        dropped
    }

    /// Runs `use_index` on the index of `event_type`, creating it if needed.
    fn with_index(&mut self, event_type: &str, use_index: impl FnOnce(&TypeIndex)) {
        if let Some((_, index)) = self.known.iter().find(|(name, _)| **name == *event_type) {
            return use_index(index);
        }
        let index = match self.shared.types.get(event_type) {
            Some(entry) => Arc::clone(entry.value()),
            None => Arc::clone(
                self.shared
                    .types
                    .entry(Arc::from(event_type))
                    .or_default()
                    .value(),
            ),
        };
        use_index(&index);
        if self.known.len() < WRITER_KNOWN_TYPES {
            self.known.push((event_type.into(), index));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Position {
        Position {
            topic: TopicId(0),
            partition: 0,
            offset,
        }
    }

    /// An event at `position` with a timestamp made from its offset.
    fn event(position: Position, value_bytes: u64) -> Appended {
        Appended {
            position,
            timestamp_ms: Some(position.offset.saturating_add(1_700_000_000_000)),
            value_bytes,
        }
    }

    #[test]
    fn seed_semantics_per_type_index_is_topic_order() {
        // The topic [A, B, A, A, B] gives A#2 = offset 3 and B#1 = offset 4.
        let (view, mut writer) = new_view();
        for (offset, t) in ["A", "B", "A", "A", "B"].iter().enumerate() {
            writer.append(t, &event(at(offset as i64), 10)).unwrap();
        }
        assert_eq!(view.get("A", 2), Lookup::Found(at(3)));
        assert_eq!(view.get("B", 1), Lookup::Found(at(4)));
        assert_eq!(view.get("A", 3), Lookup::OutOfRange { len: 3 });
        assert_eq!(view.get("C", 0), Lookup::UnknownType);
        let counts = view.counts();
        assert_eq!(counts.get("A"), Some(&3));
        assert_eq!(counts.get("B"), Some(&2));
        assert_eq!(view.total(), 5);
        let a = view.type_index("A").unwrap();
        assert_eq!(a.value_bytes(), 30);
        assert_eq!(a.first_and_last(), Some((at(0), at(3))));
    }

    #[test]
    fn removing_a_topic_keeps_the_other_topics_in_order() {
        let (view, mut writer) = new_view();
        let on = |topic: u16, offset: i64| Position {
            topic: TopicId(topic),
            ..at(offset)
        };
        // Topic 0 and topic 1 interleaved, for type A, B and unclassified.
        for offset in 0..6 {
            let topic = (offset % 2) as u16;
            writer.append("A", &event(on(topic, offset), 100)).unwrap();
            writer.append("B", &event(on(1, offset), 1)).unwrap();
            writer
                .append_unclassified(&event(on(topic, offset), 7))
                .unwrap();
        }
        let held = view.type_index("A").unwrap();
        assert_eq!(writer.remove_topic(TopicId(1)), 3 + 6 + 3);
        let a = view.type_index("A").unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(
            (0..3).map(|i| a.get(i).unwrap()).collect::<Vec<_>>(),
            vec![on(0, 0), on(0, 2), on(0, 4)]
        );
        assert_eq!(a.value_bytes(), 300);
        // B had only topic 1: still known, now empty.
        assert_eq!(view.counts().get("B"), Some(&0));
        assert_eq!(view.unclassified().len(), 3);
        assert_eq!(view.unclassified().value_bytes(), 21);
        // A reader that held the old index still sees it whole.
        assert_eq!(held.len(), 6);
        // Appends go on after the rebuild.
        writer.append("A", &event(on(1, 0), 5)).unwrap();
        assert_eq!(view.get("A", 3), Lookup::Found(on(1, 0)));
        assert_eq!(view.total(), 3 + 1 + 3);
    }

    #[test]
    fn more_types_than_the_writer_keeps_handles_to() {
        let (view, mut writer) = new_view();
        let types = WRITER_KNOWN_TYPES * 3;
        for offset in 0..(10 * types) as i64 {
            let t = format!("type_{}", offset as usize % types);
            writer.append(&t, &event(at(offset), 1)).unwrap();
        }
        for t in 0..types {
            let name = format!("type_{t}");
            assert_eq!(view.counts()[&name], 10);
            assert_eq!(
                view.get(&name, 9),
                Lookup::Found(at((9 * types + t) as i64))
            );
        }
    }

    #[test]
    fn unclassified_is_looked_up_by_its_reserved_name() {
        let (view, mut writer) = new_view();
        writer.append_unclassified(&event(at(7), 1)).unwrap();
        assert_eq!(view.get(UNCLASSIFIED, 0), Lookup::Found(at(7)));
        assert_eq!(view.get(UNCLASSIFIED, 1), Lookup::OutOfRange { len: 1 });
        assert!(!view.counts().contains_key(UNCLASSIFIED));
    }

    #[test]
    fn declared_type_counts_zero_and_is_known() {
        let (view, mut writer) = new_view();
        writer.declare("heart_rate");
        assert_eq!(view.counts().get("heart_rate"), Some(&0));
        assert_eq!(view.get("heart_rate", 0), Lookup::OutOfRange { len: 0 });
    }

    #[test]
    fn each_type_keeps_its_first_and_last_timestamp() {
        let (view, mut writer) = new_view();
        let on = |topic: u16, offset: i64| Position {
            topic: TopicId(topic),
            ..at(offset)
        };
        assert_eq!(
            TypeIndex::default().first_and_last_timestamps(),
            (None, None)
        );
        writer.append("A", &event(on(0, 0), 1)).unwrap();
        writer.append("A", &event(on(1, 1), 1)).unwrap();
        writer.append("A", &event(on(0, 2), 1)).unwrap();
        let ts = |offset: i64| Some(1_700_000_000_000 + offset);
        let a = view.type_index("A").unwrap();
        assert_eq!(a.first_and_last_timestamps(), (ts(0), ts(2)));
        // Dropping topic 1 keeps both ends; dropping topic 0 loses both.
        writer.remove_topic(TopicId(1));
        let a = view.type_index("A").unwrap();
        assert_eq!(a.first_and_last_timestamps(), (ts(0), ts(2)));
        writer.append("A", &event(on(1, 3), 1)).unwrap();
        writer.remove_topic(TopicId(0));
        let a = view.type_index("A").unwrap();
        assert_eq!(a.first_and_last_timestamps(), (None, ts(3)));
        let untimed = Appended::at(on(1, 4));
        writer.append("A", &untimed).unwrap();
        assert_eq!(a.first_and_last_timestamps(), (None, None));
    }

    #[test]
    fn locate_matches_chunk_capacities() {
        let mut index = 0u64;
        for chunk in 0..14 {
            for slot in [0, chunk_capacity(chunk) - 1] {
                assert_eq!(locate(index + slot as u64), (chunk, slot), "chunk {chunk}");
            }
            index += chunk_capacity(chunk) as u64;
        }
    }

    #[test]
    fn many_appends_cross_chunk_boundaries_and_stay_compact() {
        let (view, mut writer) = new_view();
        let n = 300_000;
        for offset in 0..n {
            writer.append("t", &event(at(offset), 0)).unwrap();
        }
        let index = view.type_index("t").unwrap();
        for i in [0, 63, 64, 191, 192, 131_007, 131_008, 196_544, n as u64 - 1] {
            assert_eq!(index.get(i), Some(at(i as i64)), "index {i}");
        }
        assert_eq!(index.get(n as u64), None);
        // 12 bytes an entry plus an unused tail of less than one max chunk.
        let bytes = index.allocated_bytes();
        assert!(bytes >= 12 * n as usize && bytes < 12 * n as usize + (12 << 16));
    }

    #[test]
    fn unclassified_is_separate_from_counts() {
        let (view, mut writer) = new_view();
        writer.append_unclassified(&event(at(0), 0)).unwrap();
        assert!(view.counts().is_empty());
        assert_eq!(view.unclassified().get(0), Some(at(0)));
        assert_eq!(view.total(), 1);
    }

    #[test]
    fn concurrent_readers_never_see_unwritten_entries() {
        let (view, mut writer) = new_view();
        writer.declare("t");
        let n = 200_000i64;
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let view = view.clone();
                std::thread::spawn(move || {
                    let index = view.type_index("t").unwrap();
                    let mut seen = 0;
                    while seen < n as u64 {
                        let len = index.len();
                        assert!(len >= seen, "length went backwards");
                        if len > 0 {
                            // The newest published entry must be complete.
                            assert_eq!(index.get(len - 1), Some(at(len as i64 - 1)));
                        }
                        seen = len;
                    }
                })
            })
            .collect();
        for offset in 0..n {
            writer.append("t", &event(at(offset), 0)).unwrap();
        }
        for reader in readers {
            reader.join().unwrap();
        }
    }

    mod properties {
        use super::super::*;
        use super::event;
        use proptest::prelude::*;

        const TYPES: [&str; 3] = ["A", "B", "C"];

        #[derive(Debug, Clone)]
        enum Op {
            Append {
                event_type: usize,
                position: Position,
            },
            Unclassified(Position),
            RemoveTopic(u16),
        }

        fn position() -> impl Strategy<Value = Position> {
            (0u16..3, 0i32..MAX_PARTITIONS, 0i64..i64::MAX).prop_map(
                |(topic, partition, offset)| Position {
                    topic: TopicId(topic),
                    partition,
                    offset,
                },
            )
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                20 => (0..TYPES.len(), position())
                    .prop_map(|(event_type, position)| Op::Append { event_type, position }),
                3 => position().prop_map(Op::Unclassified),
                1 => (0u16..3).prop_map(Op::RemoveTopic),
            ]
        }

        proptest! {
            /// Whatever the appends and topic removals, the view answers exactly what
            /// a plain list per type would.
            #[test]
            fn the_view_matches_a_list_per_type(ops in proptest::collection::vec(op(), 0..400)) {
                let (view, mut writer) = new_view();
                let mut model: Vec<Vec<Position>> = vec![Vec::new(); TYPES.len()];
                let mut unclassified: Vec<Position> = Vec::new();
                for op in &ops {
                    match op {
                        Op::Append { event_type, position } => {
                            writer.append(TYPES[*event_type], &event(*position, 1)).unwrap();
                            model[*event_type].push(*position);
                        }
                        Op::Unclassified(position) => {
                            writer.append_unclassified(&event(*position, 1)).unwrap();
                            unclassified.push(*position);
                        }
                        Op::RemoveTopic(topic) => {
                            writer.remove_topic(TopicId(*topic));
                            for positions in &mut model {
                                positions.retain(|p| p.topic != TopicId(*topic));
                            }
                            unclassified.retain(|p| p.topic != TopicId(*topic));
                        }
                    }
                }
                let counts = view.counts();
                for (i, event_type) in TYPES.iter().enumerate() {
                    let len = model[i].len() as u64;
                    prop_assert_eq!(counts.get(*event_type).copied().unwrap_or(0), len);
                    for (index, expected) in model[i].iter().enumerate() {
                        prop_assert_eq!(view.get(event_type, index as u64), Lookup::Found(*expected));
                    }
                    if counts.contains_key(*event_type) {
                        prop_assert_eq!(view.get(event_type, len), Lookup::OutOfRange { len });
                    }
                    let bytes = view.type_index(event_type).map_or(0, |t| t.value_bytes());
                    prop_assert_eq!(bytes, len);
                }
                let held = view.unclassified();
                prop_assert_eq!(held.len(), unclassified.len() as u64);
                for (index, expected) in unclassified.iter().enumerate() {
                    prop_assert_eq!(held.get(index as u64), Some(*expected));
                }
                let total: usize = model.iter().map(Vec::len).sum::<usize>() + unclassified.len();
                prop_assert_eq!(view.total(), total as u64);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]

            /// Readers running while the writer appends only ever see complete,
            /// in-range entries equal to what was appended at that index, and
            /// lengths that never go back.
            #[test]
            fn concurrent_reads_never_see_torn_or_unwritten_entries(
                appends in proptest::collection::vec((0..TYPES.len(), position()), 1..3000),
                reads in proptest::collection::vec((0..TYPES.len(), 0u64..3000), 1..200),
            ) {
                let mut expected: Vec<Vec<Position>> = vec![Vec::new(); TYPES.len()];
                for (event_type, position) in &appends {
                    expected[*event_type].push(*position);
                }
                let (view, mut writer) = new_view();
                for event_type in TYPES {
                    writer.declare(event_type);
                }
                let expected = Arc::new(expected);
                let readers: Vec<_> = (0..2)
                    .map(|_| {
                        let (view, expected, reads) = (view.clone(), Arc::clone(&expected), reads.clone());
                        std::thread::spawn(move || {
                            let mut last_len = [0u64; TYPES.len()];
                            for _ in 0..20 {
                                for (event_type, index) in &reads {
                                    let len = view.type_index(TYPES[*event_type]).map_or(0, |t| t.len());
                                    if len < last_len[*event_type] {
                                        return Err(format!("length went back for {event_type}"));
                                    }
                                    last_len[*event_type] = len;
                                    match view.get(TYPES[*event_type], *index) {
                                        Lookup::Found(p) if Some(&p) != expected[*event_type].get(*index as usize) => {
                                            return Err(format!("{event_type}#{index}: read {p:?}"));
                                        }
                                        Lookup::OutOfRange { len } if len > expected[*event_type].len() as u64 => {
                                            return Err(format!("{event_type}: length {len} above appends"));
                                        }
                                        Lookup::UnknownType => return Err("declared type unknown".into()),
                                        _ => {}
                                    }
                                }
                            }
                            Ok(())
                        })
                    })
                    .collect();
                for (event_type, position) in &appends {
                    writer.append(TYPES[*event_type], &event(*position, 0)).unwrap();
                }
                for reader in readers {
                    let outcome = reader.join().unwrap();
                    prop_assert!(outcome.is_ok(), "{:?}", outcome);
                }
                for (i, event_type) in TYPES.iter().enumerate() {
                    prop_assert_eq!(view.counts()[*event_type], expected[i].len() as u64);
                }
            }
        }
    }
}
