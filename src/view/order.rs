//! One type's events in the one numbering, the same wherever it is computed from the
//! same log: ordered by (clock, topic name, partition, offset), where an event's clock
//! is the running maximum of its partition's timestamps.
//!
//! Per partition, a type's events arrive in offset order with clocks that never
//! decrease, so each partition is a [`Stream`] of (offset, clock) rows, bit-packed.
//! The numbering is the merge of a type's streams. Its *settled* prefix (clocks below
//! the watermark: nothing that can still arrive sorts before them) is materialized
//! as the stream each index came from, so a settled lookup is O(1): the source, its
//! rank among the prefix's entries from that source (a count every [`BLOCK`] entries
//! plus a short scan), then the row. The tentative rest is selected from the streams'
//! unsettled tails by binary search over clocks: O(streams × log n).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::packed::{BLOCK, Shape, Table, TableRead, partition_point};
use super::position::{Position, TopicId};

const OFFSET: usize = 0;
const CLOCK: usize = 1;

/// A partition's place in the tie-break between equal clocks: its topic's rank by
/// name (not its place in the configuration, so replicas that list topics in another
/// order agree), then the partition number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// The rank of the topic's name among the configured topics' names.
    pub name_rank: u16,
    /// The partition number.
    pub partition: i32,
    /// The topic.
    pub topic: TopicId,
}

/// An event's place in the numbering: (clock, slot, offset), compared in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    clock: u64,
    slot: Slot,
    offset: u64,
}

/// One partition's events of one type: (offset, clock) rows, both never decreasing.
pub(super) struct Stream {
    slot: Slot,
    rows: Table<2>,
    // The size of their values, kept per partition so that dropping a topic's
    // streams keeps the rest exact (and a rare type carries no per-topic array).
    bytes: AtomicU64,
}

impl Stream {
    /// Its partition's place in the tie-break (and its topic and partition).
    pub(super) fn slot(&self) -> Slot {
        self.slot
    }

    /// Rows appended so far.
    pub(super) fn len(&self) -> u64 {
        self.rows.len()
    }

    /// The (clock, offset) of `row`; (0, 0) past the end (callers stay below `len`).
    pub(super) fn clock_and_offset(&self, row: u64) -> (u64, u64) {
        let rows = self.rows.read();
        (rows.get(row, CLOCK), rows.get(row, OFFSET))
    }
}

/// A stream as one lookup reads it.
struct StreamRead<'a> {
    slot: Slot,
    rows: TableRead<'a, 2>,
}

impl StreamRead<'_> {
    fn key(&self, row: u64) -> Key {
        Key {
            clock: self.rows.get(row, CLOCK),
            slot: self.slot,
            offset: self.rows.get(row, OFFSET),
        }
    }

    /// Rows in `lo..hi` whose key is below `key`.
    fn count_below(&self, key: &Key, lo: u64, hi: u64) -> u64 {
        let end = if self.slot < key.slot {
            self.rows.upper_bound(CLOCK, key.clock, lo, hi)
        } else if self.slot > key.slot {
            self.rows.lower_bound(CLOCK, key.clock, lo, hi)
        } else {
            // The same partition: offsets decide, and they only grow.
            self.rows.lower_bound(OFFSET, key.offset, lo, hi)
        };
        end.saturating_sub(lo)
    }
}

/// The event in `rows` at `row` of the stream at `slot`.
fn entry(slot: Slot, rows: &TableRead<'_, 2>, row: u64) -> Option<Entry> {
    (row < rows.len()).then(|| Entry {
        position: Position {
            topic: slot.topic,
            partition: slot.partition,
            offset: rows.get(row, OFFSET) as i64,
        },
        clock: rows.get(row, CLOCK),
    })
}

/// Every stream, as one lookup reads it.
fn read_all(streams: &[Arc<Stream>]) -> Vec<StreamRead<'_>> {
    streams
        .iter()
        .map(|s| StreamRead {
            slot: s.slot,
            rows: s.rows.read(),
        })
        .collect()
}

/// The settled prefix of the numbering: for each index, which stream it came from.
struct Settled {
    sources: Table<1>,
    // marks[m][s]: entries of stream s among the first m * BLOCK indexes.
    marks: RwLock<Vec<Box<[u64]>>>,
    // The writer's running count per stream: how far each stream is settled.
    taken: Mutex<Vec<u64>>,
}

impl Settled {
    fn new() -> Settled {
        Settled {
            sources: Table::new([Shape::Small]),
            marks: RwLock::new(Vec::new()),
            taken: Mutex::new(Vec::new()),
        }
    }

    /// Entries from `source` among the first `end` indexes (`end` at most `len`).
    fn rank(&self, sources: &TableRead<'_, 1>, source: usize, end: u64) -> u64 {
        let (from, base) = {
            let marks = self.marks.read().unwrap_or_else(PoisonError::into_inner);
            // The mark at `end` itself may not exist yet (`end` = len, a multiple of
            // BLOCK, before the next push): then the one before it and a full block.
            let mark = ((end / BLOCK as u64) as usize).min(marks.len().saturating_sub(1));
            let base = marks
                .get(mark)
                .and_then(|m| m.get(source).copied())
                .unwrap_or(0);
            (mark as u64 * BLOCK as u64, base)
        };
        base + sources.count_equal(0, source as u64, from, end)
    }

    /// Appends `source` as the next index (the writer only).
    fn push(&self, source: usize, taken: &mut Vec<u64>) {
        let index = self.sources.len();
        if index.is_multiple_of(BLOCK as u64) {
            self.marks
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push(taken.clone().into_boxed_slice());
        }
        self.sources.push([source as u64]);
        if taken.len() <= source {
            taken.resize(source + 1, 0);
        }
        taken[source] += 1;
    }

    fn allocated_bytes(&self) -> usize {
        let marks = self.marks.read().unwrap_or_else(PoisonError::into_inner);
        self.sources.allocated_bytes()
            + marks
                .iter()
                .map(|m| size_of::<Box<[u64]>>() + m.len() * size_of::<u64>())
                .sum::<usize>()
    }
}

/// What a lookup by index finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Where the event is.
    pub position: Position,
    /// Its clock (ms): the running maximum of its partition's timestamps.
    pub clock: u64,
}

/// One partition's rows of one type as they stood at a cut: what a snapshot holds.
/// Rows only grow, so they can be read while ingest goes on.
pub struct StreamCut {
    /// The topic.
    pub topic: TopicId,
    /// The partition.
    pub partition: i32,
    /// Total size of the values of its rows.
    pub value_bytes: u64,
    stream: Arc<Stream>,
    len: u64,
}

impl StreamCut {
    /// Its (offset, clock) rows, in offset order, read as they are taken.
    pub fn rows(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let rows = self.stream.rows.read();
        (0..self.len.min(rows.len())).map(move |row| (rows.get(row, OFFSET), rows.get(row, CLOCK)))
    }

    /// How many rows it holds.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The events of one type, in the one numbering.
pub struct TypeIndex {
    streams: RwLock<Vec<Arc<Stream>>>,
    settled: RwLock<Arc<Settled>>,
    len: AtomicU64,
    // The writer's note of the lowest clock it queued this type under for settling
    // (u64::MAX: not queued).
    pub(super) queued: AtomicU64,
}

impl Default for TypeIndex {
    fn default() -> Self {
        TypeIndex {
            streams: RwLock::default(),
            settled: RwLock::new(Arc::new(Settled::new())),
            len: AtomicU64::new(0),
            queued: AtomicU64::new(u64::MAX),
        }
    }
}

impl TypeIndex {
    /// Number of events indexed.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// True when no event has been indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size of the values of this type's events.
    pub fn value_bytes(&self) -> u64 {
        let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
        streams
            .iter()
            .map(|s| s.bytes.load(Ordering::Relaxed))
            .sum()
    }

    /// Its stream in `slot`'s partition, if it has events there.
    pub(super) fn stream(&self, slot: Slot) -> Option<Arc<Stream>> {
        let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
        streams.iter().find(|s| s.slot == slot).map(Arc::clone)
    }

    /// For each of its streams, how many of its rows come before index `index` (all
    /// of them past the end): where a tail from `index` starts.
    pub(super) fn rows_before(&self, index: u64) -> Vec<(Arc<Stream>, u64)> {
        let streams = self.streams();
        let key = self.get(index).and_then(|entry| {
            let own = streams.iter().find(|s| {
                s.slot.topic == entry.position.topic && s.slot.partition == entry.position.partition
            })?;
            Some(Key {
                clock: entry.clock,
                slot: own.slot,
                offset: u64::try_from(entry.position.offset).ok()?,
            })
        });
        let reads = read_all(&streams);
        streams
            .iter()
            .zip(&reads)
            .map(|(stream, read)| {
                let before = match &key {
                    Some(key) => read.count_below(key, 0, read.rows.len()),
                    None => read.rows.len(),
                };
                (Arc::clone(stream), before)
            })
            .collect()
    }

    /// Every stream it has now.
    pub(super) fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn settled(&self) -> Arc<Settled> {
        Arc::clone(&self.settled.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The event numbered `index`, if there is one.
    pub fn get(&self, index: u64) -> Option<Entry> {
        // Settled first: streams only grow after it, so every settled entry's row is
        // in the streams read below.
        let settled = self.settled();
        let sources = settled.sources.read();
        if index < sources.len() {
            // The O(1) path: one stream, one rank, one row.
            let source = sources.get(index, 0) as usize;
            let row = settled.rank(&sources, source, index);
            let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
            let stream = streams.get(source)?;
            return entry(stream.slot, &stream.rows.read(), row);
        }
        let streams = self.streams();
        let reads = read_all(&streams);
        let starts: Vec<u64> = (0..reads.len())
            .map(|s| settled.rank(&sources, s, sources.len()))
            .collect();
        let (source, row) = select(&reads, &starts, index - sources.len())?;
        let stream = reads.get(source)?;
        entry(stream.slot, &stream.rows, row)
    }

    /// Events whose clock is below `clock`: the index of the first at or after it.
    pub fn count_before_clock(&self, clock: u64) -> u64 {
        self.streams()
            .iter()
            .map(|s| {
                let rows = s.rows.read();
                rows.lower_bound(CLOCK, clock, 0, rows.len())
            })
            .sum()
    }

    /// The index of the event at `position`, if this type has it.
    pub fn index_of(&self, position: Position) -> Option<(u64, u64)> {
        let streams = self.streams();
        let reads = read_all(&streams);
        let own = reads
            .iter()
            .find(|s| s.slot.topic == position.topic && s.slot.partition == position.partition)?;
        let offset = u64::try_from(position.offset).ok()?;
        let row = own.rows.lower_bound(OFFSET, offset, 0, own.rows.len());
        if row >= own.rows.len() || own.rows.get(row, OFFSET) != offset {
            return None;
        }
        let key = own.key(row);
        let index = reads
            .iter()
            .map(|s| s.count_below(&key, 0, s.rows.len()))
            .sum();
        Some((index, key.clock))
    }

    /// Its streams as they stand now (the writer only, so that no row is half
    /// appended): O(streams).
    pub(super) fn cut(&self) -> Vec<StreamCut> {
        self.streams()
            .into_iter()
            .map(|stream| StreamCut {
                topic: stream.slot.topic,
                partition: stream.slot.partition,
                value_bytes: stream.bytes.load(Ordering::Relaxed),
                len: stream.rows.len(),
                stream,
            })
            .collect()
    }

    /// Bytes allocated for this type's index.
    pub fn allocated_bytes(&self) -> usize {
        let streams: usize = self
            .streams()
            .iter()
            .map(|s| size_of::<Stream>() + s.rows.allocated_bytes())
            .sum();
        streams + self.settled().allocated_bytes()
    }

    /// Appends an event (the writer only). Its row goes at the end of its partition's
    /// stream; the numbering places it by its key.
    pub(super) fn push(&self, slot: Slot, offset: u64, clock: u64, value_bytes: u64) {
        let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = streams.iter().find(|s| s.slot == slot) {
            stream.rows.push([offset, clock]);
            // One writer: a load and a store, not a read-modify-write.
            let bytes = stream.bytes.load(Ordering::Relaxed);
            stream.bytes.store(bytes + value_bytes, Ordering::Relaxed);
        } else {
            drop(streams);
            let stream = Stream {
                slot,
                rows: Table::new([Shape::Rising, Shape::Rising]),
                bytes: AtomicU64::new(value_bytes),
            };
            stream.rows.push([offset, clock]);
            let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
            if streams.len() < 4 {
                streams.reserve_exact(1); // most types live in a few partitions
            }
            streams.push(Arc::new(stream));
        }
        self.len
            .store(self.len.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Extends the settled prefix with every event whose clock is below `watermark`,
    /// in key order (the writer only). Returns the lowest clock left unsettled, if any. A merge of the
    /// streams by runs: each step takes every row of the lowest stream below the
    /// next stream's head (a galloping search, so a run of one costs two reads).
    pub(super) fn settle(&self, watermark: u64) -> Option<u64> {
        let settled = self.settled();
        let streams = self.streams();
        let reads = read_all(&streams);
        let mut taken = settled.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let streams_seen = reads.len().max(taken.len());
        taken.resize(streams_seen, 0);
        let head = |s: usize, row: u64| (row < reads[s].rows.len()).then(|| reads[s].key(row));
        let mut heads: Vec<Option<Key>> = (0..reads.len()).map(|s| head(s, taken[s])).collect();
        loop {
            let order = heads
                .iter()
                .enumerate()
                .filter_map(|(s, key)| Some((key.as_ref()?, s)));
            let Some((lowest, source)) = order.clone().min() else {
                break;
            };
            if lowest.clock >= watermark {
                break;
            }
            let next = order
                .filter(|(_, s)| *s != source)
                .map(|(key, _)| *key)
                .min();
            let rows = &reads[source];
            let end = gallop(taken[source], rows.rows.len(), |row| {
                let key = rows.key(row);
                key.clock < watermark && next.is_none_or(|next| key < next)
            });
            for _ in taken[source]..end {
                settled.push(source, &mut taken);
            }
            heads[source] = head(source, end);
        }
        heads.iter().flatten().map(|key| key.clock).min()
    }

    /// Forgets the settled prefix (O(1)): lookups select from the streams, by the same
    /// rule, until the next `settle` merges it again. What a late event calls for.
    pub(super) fn invalidate_settled(&self) {
        *self.settled.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Settled::new());
    }

    /// Length of the materialized settled prefix.
    #[cfg(test)]
    pub(super) fn settled_len(&self) -> u64 {
        self.settled().sources.len()
    }

    /// Events whose clock is below `watermark`: settled.
    pub fn settled_count(&self, watermark: u64) -> u64 {
        self.count_before_clock(watermark)
    }

    /// A copy without the events of `topic`, nothing settled yet.
    pub(super) fn without_topic(&self, topic: TopicId) -> TypeIndex {
        let kept = TypeIndex::default();
        for stream in self.streams().iter().filter(|s| s.slot.topic != topic) {
            let rows = stream.rows.read();
            for row in 0..rows.len() {
                kept.push(stream.slot, rows.get(row, OFFSET), rows.get(row, CLOCK), 0);
            }
            if let Some(copy) = kept.streams().last() {
                copy.bytes
                    .store(stream.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        kept
    }
}

/// The first row from `lo` (below `hi`) where `before` stops holding; `before` must
/// hold for `lo` and, once false, stay false. O(log of the run's length).
fn gallop(lo: u64, hi: u64, before: impl Fn(u64) -> bool) -> u64 {
    let (mut low, mut step) = (lo, 1u64);
    // Find a row where it fails, doubling the stride.
    let high = loop {
        let probe = low.saturating_add(step);
        if probe >= hi {
            break hi;
        }
        if !before(probe) {
            break probe;
        }
        low = probe;
        step = step.saturating_mul(2);
    };
    // Then the first failing row between.
    partition_point(low + 1, high, before)
}

/// The `k`-th (from 0) smallest key among `streams[s]`'s rows from `starts[s]` on:
/// (stream, row). Binary search over clocks (at most 64 rounds of one binary search
/// per stream), then the tie-break among events of that clock.
fn select(streams: &[StreamRead<'_>], starts: &[u64], k: u64) -> Option<(usize, u64)> {
    let range = |s: usize| (starts[s], streams[s].rows.len());
    let total: u64 = (0..streams.len())
        .map(|s| range(s).1.saturating_sub(range(s).0))
        .sum();
    if k >= total {
        return None;
    }
    let at_or_below = |clock: u64| -> u64 {
        (0..streams.len())
            .map(|s| {
                let (lo, hi) = range(s);
                streams[s]
                    .rows
                    .upper_bound(CLOCK, clock, lo, hi)
                    .saturating_sub(lo)
            })
            .sum()
    };
    // The smallest clock with more than k events at or below it, between the
    // lowest first clock and the highest last clock of the ranges.
    let ranges = (0..streams.len()).filter(|&s| range(s).0 < range(s).1);
    let low = ranges
        .clone()
        .map(|s| streams[s].rows.get(range(s).0, CLOCK))
        .min()
        .unwrap_or(0);
    let high = ranges
        .map(|s| streams[s].rows.get(range(s).1 - 1, CLOCK))
        .max()
        .unwrap_or(0);
    let clock = partition_point(low, high, |clock| at_or_below(clock) <= k);
    let mut order: Vec<usize> = (0..streams.len()).collect();
    order.sort_by_key(|&s| streams[s].slot);
    let mut rest = k;
    for s in &order {
        let (lo, hi) = range(*s);
        let rows = &streams[*s].rows;
        let below = rows.lower_bound(CLOCK, clock, lo, hi);
        rest -= below - lo;
    }
    for s in order {
        let (lo, hi) = range(s);
        let rows = &streams[s].rows;
        let first = rows.lower_bound(CLOCK, clock, lo, hi);
        let equal = rows.upper_bound(CLOCK, clock, lo, hi) - first;
        if rest < equal {
            return Some((s, first + rest));
        }
        rest -= equal;
    }
    None
}

/// The watermark of a set of partitions, each `(clock, at_end)`: the lowest clock,
/// except that a partition read to its end whose clock is more than `max_lateness`
/// behind the highest counts as (highest − `max_lateness`). A partition still being
/// read always holds it at its own clock. None without partitions.
pub fn watermark(
    partitions: impl IntoIterator<Item = (u64, bool)>,
    max_lateness: u64,
) -> Option<u64> {
    let partitions: Vec<(u64, bool)> = partitions.into_iter().collect();
    let highest = partitions.iter().map(|(clock, _)| *clock).max()?;
    let idle_floor = highest.saturating_sub(max_lateness);
    partitions
        .iter()
        .map(|&(clock, at_end)| if at_end { clock.max(idle_floor) } else { clock })
        .min()
}
