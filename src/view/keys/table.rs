//! The key index's storage, compact: a key's events are 6 bytes each, the view
//! stream they are in (an id of this table) and their row there, from which the
//! stream gives their offset and clock in O(1). Nothing is stored twice.
//!
//! Keys live in one byte arena, found through a hash table of key ids (4 bytes a
//! key, the key compared before it is trusted: exact). Their events live in
//! segments of [`SEGMENT_KEYS`] keys: each segment holds its keys' sealed events
//! back to back (a run per key, found by its start), and the events since its last
//! seal in a sorted tail per key. A segment is sealed (runs and tails merged by
//! the rule, into an exactly sized run array) once its tails pass an eighth of
//! it, so an event is copied a bounded number of times (amortized O(1)), only one
//! segment is ever copied at once (no doubling of the whole index), and a Vec's
//! growth slack is paid only on the tails.
//!
//! A key's history is the merge of its run and its tail, both sorted by the rule
//! (clock, topic name, partition, offset). Usually the tail comes after the run
//! and the Nth event is an array access; when events of the key arrived out of
//! order (from partitions read at different paces) the Nth is found by a binary
//! search over the two: O(log n).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use crate::view::order::{Slot, Stream};

/// Keys a segment holds: small enough that sealing one is quick (a segment is
/// copied while the index thread holds the key index's lock), large enough that
/// its bookkeeping is nothing per key. (Tiny in unit tests, so that they cross
/// segments and seals.)
pub const SEGMENT_KEYS: usize = if cfg!(test) { 2 } else { 4096 };

/// Tail events a segment takes before it is sealed, at least: sealing small
/// segments often would copy them for little gain.
const MIN_TAIL_BEFORE_SEAL: usize = if cfg!(test) { 3 } else { 256 };

/// What a key with a tail costs beside its events: its map slot (a u16 and a Vec,
/// with the map's control byte and load) and the Vec's smallest allocation.
const TAIL_KEY_BYTES: usize = 40 + 4 * size_of::<Entry>();

/// One event: a stream id (u16) and a row (u32), little-endian, 6 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry([u8; 6]);

impl Entry {
    fn new(stream: u16, row: u32) -> Entry {
        let [s0, s1] = stream.to_le_bytes();
        let [r0, r1, r2, r3] = row.to_le_bytes();
        Entry([s0, s1, r0, r1, r2, r3])
    }

    /// The id of its stream in this table.
    pub fn stream(self) -> u16 {
        u16::from_le_bytes([self.0[0], self.0[1]])
    }

    /// Its row in that stream.
    pub fn row(self) -> u32 {
        u32::from_le_bytes([self.0[2], self.0[3], self.0[4], self.0[5]])
    }
}

/// A view stream the table refers to, and the type it is of.
struct StreamRef {
    stream: Arc<Stream>,
    type_id: u32,
}

/// Up to [`SEGMENT_KEYS`] keys and their events.
#[derive(Default)]
struct Segment {
    /// Its keys' bytes, back to back; its key `i` ends at `key_ends[i]`. Per
    /// segment, so that sealing leaves no growth slack but the open segment's.
    key_bytes: Vec<u8>,
    key_ends: Vec<u32>,
    /// Sealed events, a run per key, each sorted by the rule.
    runs: Vec<Entry>,
    /// Where each key's run starts in `runs`, and where the last one ends.
    starts: Vec<u32>,
    /// Events since the last seal, per key that has any, each sorted.
    tails: HashMap<u16, Vec<Entry>>,
    tail_events: usize,
}

impl Segment {
    fn key(&self, local: usize) -> &[u8] {
        let end = self.key_ends.get(local).copied().unwrap_or(0) as usize;
        let start = match local.checked_sub(1) {
            Some(before) => self.key_ends.get(before).copied().unwrap_or(0) as usize,
            None => 0,
        };
        self.key_bytes.get(start..end).unwrap_or_default()
    }

    /// What its tails cost, in bytes: their events and, per key, a map slot and a
    /// Vec (what sealing them saves).
    fn tail_bytes(&self) -> usize {
        self.tail_events * size_of::<Entry>() + self.tails.len() * TAIL_KEY_BYTES
    }

    fn run(&self, local: usize) -> &[Entry] {
        match (self.starts.get(local), self.starts.get(local + 1)) {
            (Some(&a), Some(&b)) => self.runs.get(a as usize..b as usize).unwrap_or_default(),
            _ => &[],
        }
    }

    fn tail(&self, local: usize) -> &[Entry] {
        u16::try_from(local)
            .ok()
            .and_then(|l| self.tails.get(&l))
            .map_or(&[], Vec::as_slice)
    }
}

/// Why an event is not in the key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    /// Its key is new and the index holds `keys.max_keys` keys.
    TooManyKeys,
    /// A limit of the compact form: 65,536 (type, partition) streams, 4G rows a
    /// stream, 4 GiB of keys.
    Capacity,
}

/// Every key's events.
pub struct KeyTable {
    hasher: DefaultHashBuilder,
    /// Key ids, found by their key's hash and checked against the key.
    ids: HashTable<u32>,
    keys: u32,
    segments: Vec<Segment>,
    streams: Vec<StreamRef>,
    /// Stream ids, found by their (type name, slot).
    stream_ids: HashTable<u16>,
    type_names: Vec<Arc<str>>,
    type_ids: HashMap<Arc<str>, u32>,
    pub(super) max_keys: u64,
    pub(super) left_out: u64,
    pub(super) events: u64,
    /// Bumped by every topic reset: a snapshot read across one is not whole.
    pub(super) generation: u64,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable {
            hasher: DefaultHashBuilder::default(),
            ids: HashTable::new(),
            keys: 0,
            segments: Vec::new(),
            streams: Vec::new(),
            stream_ids: HashTable::new(),
            type_names: Vec::new(),
            type_ids: HashMap::new(),
            max_keys: u64::MAX,
            left_out: 0,
            events: 0,
            generation: 0,
        }
    }
}

/// An event's place in the numbering: (clock, slot, offset).
type Order = (u64, Slot, u64);

/// The place in the numbering of an event of `streams`.
fn order_in(streams: &[StreamRef], entry: Entry) -> Order {
    match streams.get(entry.stream() as usize) {
        Some(s) => {
            let (clock, offset) = s.stream.clock_and_offset(u64::from(entry.row()));
            (clock, s.stream.slot(), offset)
        }
        None => (0, Slot::default(), 0),
    }
}

/// Whether `later` sorts after `earlier`, `later` having been appended after it.
/// Without reading a row when both are in one partition: the writer appends a
/// partition's events in offset order (clocks never decreasing), so the later
/// appended is the later by the rule. That is every event of a key written to one
/// partition, the Kafka key's case.
fn comes_after(streams: &[StreamRef], earlier: Entry, later: Entry) -> bool {
    let slot = |e: Entry| streams.get(e.stream() as usize).map(|s| s.stream.slot());
    match (slot(earlier), slot(later)) {
        (Some(a), Some(b)) if a == b => true,
        _ => order_in(streams, earlier) < order_in(streams, later),
    }
}

/// The bytes of key `id` in `segments`.
fn key_in(segments: &[Segment], id: u32) -> &[u8] {
    let (segment, local) = (id as usize / SEGMENT_KEYS, id as usize % SEGMENT_KEYS);
    segments.get(segment).map_or(&[], |s| s.key(local))
}

impl KeyTable {
    /// Keys indexed.
    pub fn len(&self) -> usize {
        self.keys as usize
    }

    /// The bytes of key `id`.
    pub fn key(&self, id: u32) -> &[u8] {
        key_in(&self.segments, id)
    }

    /// The id of `key`, if it is indexed.
    pub fn id(&self, key: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.ids.find(hash, |&id| self.key(id) == key).copied()
    }

    fn new_id(&mut self, key: &[u8]) -> Result<u32, LeftOut> {
        if u64::from(self.keys) >= self.max_keys {
            return Err(LeftOut::TooManyKeys);
        }
        let id = self.keys;
        let next = id.checked_add(1).ok_or(LeftOut::Capacity)?;
        if (id as usize).is_multiple_of(SEGMENT_KEYS) {
            self.segments.push(Segment::default());
        }
        let segment = self.segments.last_mut().ok_or(LeftOut::Capacity)?;
        let end =
            u32::try_from(segment.key_bytes.len() + key.len()).map_err(|_| LeftOut::Capacity)?;
        segment.key_bytes.extend_from_slice(key);
        segment.key_ends.push(end);
        if segment.starts.is_empty() {
            segment.starts.push(0);
        }
        let run_end = segment.starts.last().copied().unwrap_or(0);
        segment.starts.push(run_end);
        self.keys = next;
        let (hasher, segments) = (&self.hasher, &self.segments);
        self.ids.insert_unique(hasher.hash_one(key), id, |&other| {
            hasher.hash_one(key_in(segments, other))
        });
        Ok(id)
    }

    /// The id of `event_type`'s stream at `slot`. `find` gives the view's stream
    /// when the table has no id for it yet (once a type and partition).
    fn stream_for(
        &mut self,
        event_type: &str,
        slot: Slot,
        find: impl FnOnce() -> Option<Arc<Stream>>,
    ) -> Result<u16, LeftOut> {
        let hash = self.hasher.hash_one((event_type, slot));
        let (streams, type_names) = (&self.streams, &self.type_names);
        let known = self.stream_ids.find(hash, |&id| {
            streams.get(usize::from(id)).is_some_and(|s| {
                s.stream.slot() == slot
                    && type_names.get(s.type_id as usize).map(AsRef::as_ref) == Some(event_type)
            })
        });
        let id = match known {
            Some(&id) => id,
            None => {
                let stream = find().ok_or(LeftOut::Capacity)?;
                let id = u16::try_from(self.streams.len()).map_err(|_| LeftOut::Capacity)?;
                let type_id = match self.type_ids.get(event_type) {
                    Some(&type_id) => type_id,
                    None => {
                        let type_id = self.type_names.len() as u32;
                        let name: Arc<str> = Arc::from(event_type);
                        self.type_names.push(Arc::clone(&name));
                        self.type_ids.insert(name, type_id);
                        type_id
                    }
                };
                self.streams.push(StreamRef { stream, type_id });
                let (hasher, streams, type_names) = (&self.hasher, &self.streams, &self.type_names);
                self.stream_ids.insert_unique(hash, id, |&other| {
                    let s = &streams[usize::from(other)];
                    let name = type_names.get(s.type_id as usize).map_or("", AsRef::as_ref);
                    hasher.hash_one((name, s.stream.slot()))
                });
                id
            }
        };
        Ok(id)
    }

    /// Adds the event at `offset` just appended to `event_type`'s stream at `slot`
    /// (the last row there) to `key`'s history; `find` gives that stream from the
    /// view the first time.
    pub fn append(
        &mut self,
        key: &[u8],
        event_type: &str,
        slot: Slot,
        offset: u64,
        find: impl FnOnce() -> Option<Arc<Stream>>,
    ) -> Result<(), LeftOut> {
        let stream_id = self.stream_for(event_type, slot, find)?;
        let stream = self.streams.get(usize::from(stream_id));
        let row = stream.and_then(|s| s.stream.len().checked_sub(1));
        match (stream, row) {
            (Some(s), Some(row)) if s.stream.clock_and_offset(row).1 == offset => {
                self.push(key, stream_id, row)
            }
            // Not the event just appended to its type: nothing to refer to.
            _ => Err(LeftOut::Capacity),
        }
    }

    /// Adds the event at `row` of `event_type`'s stream at `slot` to `key`'s
    /// history (a snapshot's, replayed in its history's order).
    pub fn append_row(
        &mut self,
        key: &[u8],
        event_type: &str,
        slot: Slot,
        row: u64,
        find: impl FnOnce() -> Option<Arc<Stream>>,
    ) -> Result<(), LeftOut> {
        let stream_id = self.stream_for(event_type, slot, find)?;
        match self.streams.get(usize::from(stream_id)) {
            Some(s) if row < s.stream.len() => self.push(key, stream_id, row),
            _ => Err(LeftOut::Capacity),
        }
    }

    fn push(&mut self, key: &[u8], stream_id: u16, row: u64) -> Result<(), LeftOut> {
        let row = u32::try_from(row).map_err(|_| LeftOut::Capacity)?;
        let id = match self.id(key) {
            Some(id) => id,
            None => self.new_id(key)?,
        };
        let entry = Entry::new(stream_id, row);
        let (segment_index, local) = (id as usize / SEGMENT_KEYS, id as usize % SEGMENT_KEYS);
        let local = u16::try_from(local).map_err(|_| LeftOut::Capacity)?;
        let streams = &self.streams;
        let segment = self
            .segments
            .get_mut(segment_index)
            .ok_or(LeftOut::Capacity)?;
        let tail = segment.tails.entry(local).or_default();
        // At the end unless it sorts before the tail's last (another partition):
        // then placed by the rule, a binary search.
        if tail
            .last()
            .is_none_or(|&last| comes_after(streams, last, entry))
        {
            tail.push(entry);
        } else {
            let at = tail.partition_point(|&e| comes_after(streams, e, entry));
            tail.insert(at, entry);
        }
        segment.tail_events += 1;
        self.events += 1;
        // Sealed once its tails cost an eighth of its runs (their keys' map
        // slots and Vecs counted: a tail of one event costs 11 times the event).
        if segment.tail_events >= MIN_TAIL_BEFORE_SEAL
            && segment.tail_bytes() > segment.runs.len() * size_of::<Entry>() / 4
        {
            self.seal(segment_index);
        }
        Ok(())
    }

    /// The event's place in the numbering, from its stream.
    fn order(&self, entry: Entry) -> Order {
        order_in(&self.streams, entry)
    }

    /// Merges segment `index`'s tails into its runs, by the rule; the new run array
    /// is sized exactly.
    fn seal(&mut self, index: usize) {
        let Some(segment) = self.segments.get(index) else {
            return;
        };
        let keys = segment.starts.len().saturating_sub(1);
        let mut runs = Vec::with_capacity(segment.runs.len() + segment.tail_events);
        let mut starts = Vec::with_capacity(segment.starts.len());
        starts.push(0u32);
        for local in 0..keys {
            self.merge_into(segment.run(local), segment.tail(local), &mut runs);
            // A segment's events fit u32 (4096 keys, the rows are u32 too).
            starts.push(u32::try_from(runs.len()).unwrap_or(u32::MAX));
        }
        if let Some(segment) = self.segments.get_mut(index) {
            segment.runs = runs;
            segment.starts = starts;
            segment.tails = HashMap::new();
            segment.tail_events = 0;
            segment.key_bytes.shrink_to_fit();
            segment.key_ends.shrink_to_fit();
        }
    }

    fn merge_into(&self, run: &[Entry], tail: &[Entry], out: &mut Vec<Entry>) {
        if self.tail_follows(run, tail) {
            out.extend_from_slice(run);
            out.extend_from_slice(tail);
        } else {
            out.extend(self.merged(run, tail, 0, 0));
        }
    }

    /// Whether every event of `tail` comes after every event of `run` (the usual
    /// case: then the history is the two one after the other).
    fn tail_follows(&self, run: &[Entry], tail: &[Entry]) -> bool {
        match (run.last(), tail.first()) {
            (Some(&last), Some(&first)) => comes_after(&self.streams, last, first),
            _ => true,
        }
    }

    /// The merge by the rule of `run` from `i` and `tail` from `j`.
    fn merged<'a>(
        &'a self,
        run: &'a [Entry],
        tail: &'a [Entry],
        mut i: usize,
        mut j: usize,
    ) -> impl Iterator<Item = Entry> + 'a {
        std::iter::from_fn(move || {
            let take_run = match (run.get(i), tail.get(j)) {
                (Some(&a), Some(&b)) => comes_after(&self.streams, a, b),
                (Some(_), None) => true,
                (None, _) => false,
            };
            let next = if take_run { run.get(i) } else { tail.get(j) };
            if take_run {
                i += 1;
            } else {
                j += 1;
            }
            next.copied()
        })
    }

    /// Key `id`'s run and tail.
    fn parts(&self, id: u32) -> (&[Entry], &[Entry]) {
        let (segment, local) = (id as usize / SEGMENT_KEYS, id as usize % SEGMENT_KEYS);
        match self.segments.get(segment) {
            Some(s) => (s.run(local), s.tail(local)),
            None => (&[], &[]),
        }
    }

    /// How many events key `id` has.
    pub fn count(&self, id: u32) -> u64 {
        let (run, tail) = self.parts(id);
        (run.len() + tail.len()) as u64
    }

    /// How many of the first `k` events of the merge come from `run`: O(1) when the
    /// tail follows the run, else a binary search.
    fn split(&self, run: &[Entry], tail: &[Entry], k: usize) -> usize {
        if self.tail_follows(run, tail) {
            return k.min(run.len());
        }
        let (mut lo, mut hi) = (k.saturating_sub(tail.len()), k.min(run.len()));
        while lo < hi {
            let i = lo + (hi - lo) / 2;
            // i < hi <= k, so j >= 1.
            let j = k - i;
            if comes_after(&self.streams, run[i], tail[j - 1]) {
                lo = i + 1;
            } else {
                hi = i;
            }
        }
        lo
    }

    /// Key `id`'s events from its `from`-th, at most `limit`, in the numbering's order.
    pub fn page(&self, id: u32, from: u64, limit: u64) -> Vec<Entry> {
        let (run, tail) = self.parts(id);
        let total = run.len() + tail.len();
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(total);
        let end = from
            .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
            .min(total);
        let i = self.split(run, tail, from);
        self.merged(run, tail, i, from - i)
            .take(end - from)
            .collect()
    }

    /// Every event of key `id`, in no particular order (for counting).
    pub fn unordered(&self, id: u32) -> impl Iterator<Item = Entry> + '_ {
        let (run, tail) = self.parts(id);
        run.iter().chain(tail).copied()
    }

    /// The type id of `entry`.
    pub fn type_id(&self, entry: Entry) -> u32 {
        self.streams
            .get(entry.stream() as usize)
            .map_or(u32::MAX, |s| s.type_id)
    }

    /// The name of type `id`.
    pub fn type_name(&self, id: u32) -> Arc<str> {
        self.type_names
            .get(id as usize)
            .map_or_else(|| Arc::from(""), Arc::clone)
    }

    /// The id of `event_type`, if any key has an event of it.
    pub fn type_named(&self, event_type: &str) -> Option<u32> {
        self.type_ids.get(event_type).copied()
    }

    /// `entry`'s clock, slot and offset.
    pub fn resolve(&self, entry: Entry) -> (u64, Slot, u64) {
        self.order(entry)
    }

    /// Its stream's type name and slot, and its row: what a snapshot records.
    pub fn describe(&self, entry: Entry) -> Option<(Arc<str>, Slot, u64)> {
        let s = self.streams.get(entry.stream() as usize)?;
        Some((
            self.type_name(s.type_id),
            s.stream.slot(),
            u64::from(entry.row()),
        ))
    }

    /// Bytes held, from the capacities of what it keeps.
    pub fn bytes(&self) -> u64 {
        let entry = size_of::<Entry>();
        let segments: usize = self
            .segments
            .iter()
            .map(|s| {
                s.runs.capacity() * entry
                    + s.key_bytes.capacity()
                    + s.key_ends.capacity() * size_of::<u32>()
                    + s.starts.capacity() * size_of::<u32>()
                    + s.tails.capacity() * (size_of::<(u16, Vec<Entry>)>() + 1)
                    + s.tails
                        .values()
                        .map(|t| t.capacity() * entry)
                        .sum::<usize>()
            })
            .sum();
        (self.ids.capacity() * (size_of::<u32>() + 1)
            + self.segments.capacity() * size_of::<Segment>()
            + segments) as u64
    }

    /// Drops every event of `topic`, and points the remaining ones at the streams
    /// `rebind` gives for their (type, slot) (a reset rebuilt the types' indexes;
    /// the rows of other topics are the same). Its keys stay known, empty.
    pub fn remove_topic(
        &mut self,
        topic: crate::view::TopicId,
        rebind: impl Fn(&str, Slot) -> Option<Arc<Stream>>,
    ) {
        self.generation += 1;
        let dropped: Vec<bool> = self
            .streams
            .iter()
            .map(|s| s.stream.slot().topic == topic)
            .collect();
        let mut removed = 0u64;
        for segment in &mut self.segments {
            let keys = segment.starts.len().saturating_sub(1);
            let mut runs = Vec::with_capacity(segment.runs.len());
            let mut starts = vec![0u32];
            let keep = |e: &&Entry| !dropped.get(e.stream() as usize).copied().unwrap_or(true);
            for local in 0..keys {
                runs.extend(segment.run(local).iter().filter(keep));
                starts.push(u32::try_from(runs.len()).unwrap_or(u32::MAX));
            }
            removed += (segment.runs.len() - runs.len()) as u64;
            for tail in segment.tails.values_mut() {
                let before = tail.len();
                tail.retain(|e| keep(&e));
                removed += (before - tail.len()) as u64;
                segment.tail_events -= before - tail.len();
            }
            runs.shrink_to_fit();
            segment.runs = runs;
            segment.starts = starts;
        }
        self.events -= removed;
        // Ids stay: they are found by (type, slot), which a reset does not change.
        for s in &mut self.streams {
            let name = self.type_names.get(s.type_id as usize).map(Arc::clone);
            if let Some(fresh) = name.and_then(|n| rebind(&n, s.stream.slot())) {
                s.stream = fresh;
            }
        }
    }
}
