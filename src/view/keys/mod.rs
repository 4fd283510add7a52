//! The key index: every event of one entity (its key: the Kafka key, a field or a
//! header, as the caller finds it), across types, in the one numbering's order
//! (clock, topic name, partition, offset), so that an entity's history is a
//! lookup, not a scan of the topic. Stored compactly in [`table`]; this file is
//! what the view and its writer offer of it.
//!
//! Keys are kept whole and compared before they are trusted, so a history never
//! holds another key's event: exact by construction.

use std::sync::{Arc, PoisonError, RwLockReadGuard, RwLockWriteGuard};

use super::position::PositionError;
use super::{Appended, Found, Lookup, View, ViewWriter};

mod follow;
pub mod table;

pub use follow::KeyTail;
pub use table::{KeyTable, LeftOut};

/// Whether an event went into the key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAppend {
    /// In its key's history.
    Added,
    /// Not: its key is new past `keys.max_keys`, or a limit of the compact form.
    LeftOut(LeftOut),
}

/// What the key index holds, for `/status` and the scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyCounts {
    /// Distinct keys indexed.
    pub keys: u64,
    /// Events in the key index.
    pub events: u64,
    /// Events left out (their key new past `keys.max_keys`, or a limit of the form).
    pub left_out: u64,
    /// Bytes the key index holds, from the capacities of what it keeps.
    pub bytes: u64,
}

/// An event of a key's history: its type and where it stands there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedEvent {
    /// Its type ([`UNCLASSIFIED`] included).
    pub event_type: Arc<str>,
    /// Its position, index in its type, clock and whether that index is settled.
    pub found: Found,
}

/// What a key's history holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Its events.
    pub total: u64,
    /// Its events per type, by first appearance.
    pub types: Vec<(Arc<str>, u64)>,
    /// Its first event.
    pub first: KeyedEvent,
    /// Its last event.
    pub last: KeyedEvent,
}

/// Which of a key's events of a type: the Nth, or the first at or after a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySeek {
    /// The Nth (from 0).
    Index(u64),
    /// The first whose clock is at or after this (ms).
    Clock(u64),
}

/// The key index at a cut: the keys it had, read later a chunk at a time.
pub struct KeyCut {
    shared: Arc<super::Shared>,
    keys: u32,
    generation: u64,
}

/// Keys read under one hold of the key index's lock: short holds, so the index
/// thread is never kept waiting long by a snapshot.
const CUT_CHUNK: u32 = 1024;

impl KeyCut {
    /// Keys at the cut.
    pub fn len(&self) -> usize {
        self.keys as usize
    }

    /// Whether it has no key.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Each key at the cut with its events as (type, topic, partition, row), in
    /// its history's order, keeping only the rows `cut_len` says the cut holds
    /// (the stream's length at the cut; None: not in the cut). False when a
    /// topic was reset meanwhile: what was read is then not one cut.
    pub fn read(
        &self,
        cut_len: impl Fn(&str, super::TopicId, i32) -> Option<u64>,
        mut each: impl FnMut(&[u8], &[(Arc<str>, super::TopicId, i32, u64)]),
    ) -> bool {
        let mut events = Vec::new();
        for start in (0..self.keys).step_by(CUT_CHUNK as usize) {
            let table = self
                .shared
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if table.generation != self.generation {
                return false;
            }
            for id in start..self.keys.min(start.saturating_add(CUT_CHUNK)) {
                events.clear();
                for entry in table.page(id, 0, u64::MAX) {
                    let Some((event_type, slot, row)) = table.describe(entry) else {
                        continue;
                    };
                    if cut_len(&event_type, slot.topic, slot.partition).is_some_and(|len| row < len)
                    {
                        events.push((event_type, slot.topic, slot.partition, row));
                    }
                }
                each(table.key(id), &events);
            }
        }
        true
    }
}

impl View {
    fn keys(&self) -> RwLockReadGuard<'_, KeyTable> {
        self.shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `key`'s events from its `from`-th, at most `limit`, with how many it has;
    /// None for a key never seen. O(1) to the first (O(log n) while the key's
    /// latest events arrived out of order), then O(partitions × log n) an event for
    /// its index in its type.
    pub fn key_events(&self, key: &[u8], from: u64, limit: u64) -> Option<(u64, Vec<KeyedEvent>)> {
        let (total, picked) = {
            let table = self.keys();
            let id = table.id(key)?;
            let total = table.count(id);
            if total == 0 {
                return None;
            }
            let picked: Vec<_> = table
                .page(id, from, limit)
                .into_iter()
                .filter_map(|e| table.describe(e))
                .collect();
            (total, picked)
        };
        Some((total, self.keyed(picked)))
    }

    /// `key`'s count, its count per type, and its first and last events; None for a
    /// key never seen. O(the key's events) for the counts, without reading a row.
    pub fn key_summary(&self, key: &[u8]) -> Option<KeySummary> {
        let (total, types, ends) = {
            let table = self.keys();
            let id = table.id(key)?;
            let total = table.count(id);
            let mut counts: Vec<(u32, u64)> = Vec::new();
            for entry in table.unordered(id) {
                let type_id = table.type_id(entry);
                match counts.iter_mut().find(|(t, _)| *t == type_id) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((type_id, 1)),
                }
            }
            let types: Vec<(Arc<str>, u64)> = counts
                .into_iter()
                .map(|(t, n)| (table.type_name(t), n))
                .collect();
            let first = table.page(id, 0, 1);
            let last = table.page(id, total.checked_sub(1)?, 1);
            let ends: Vec<_> = first
                .into_iter()
                .chain(last)
                .filter_map(|e| table.describe(e))
                .collect();
            (total, types, ends)
        };
        let mut ends = self.keyed(ends).into_iter();
        let (first, last) = (ends.next()?, ends.next()?);
        Some(KeySummary {
            total,
            types,
            first,
            last,
        })
    }

    /// The event of `event_type` with key `key` that `seek` names: the Nth of them,
    /// or the first whose clock is at or after a time. Its `index` is its index in
    /// its type. O(the key's events).
    pub fn key_lookup(&self, key: &[u8], event_type: &str, seek: KeySeek) -> Lookup {
        if self.shared.index(event_type).is_none() {
            return Lookup::UnknownType;
        }
        let (len, picked) = {
            let table = self.keys();
            let (Some(id), Some(type_id)) = (table.id(key), table.type_named(event_type)) else {
                return Lookup::OutOfRange { len: 0 };
            };
            let history = table.page(id, 0, u64::MAX);
            let of_type = || history.iter().filter(|e| table.type_id(**e) == type_id);
            let picked = match seek {
                KeySeek::Index(n) => of_type().nth(usize::try_from(n).unwrap_or(usize::MAX)),
                KeySeek::Clock(clock) => of_type().find(|e| table.resolve(**e).0 >= clock),
            };
            let len = of_type().count() as u64;
            (len, picked.and_then(|e| table.describe(*e)))
        };
        let Some(event) = picked else {
            return Lookup::OutOfRange { len };
        };
        match self.keyed(vec![event]).pop() {
            Some(keyed) => Lookup::Found(keyed.found),
            None => Lookup::OutOfRange { len },
        }
    }

    /// How many keys and events the key index holds.
    pub fn key_counts(&self) -> KeyCounts {
        let table = self.keys();
        KeyCounts {
            keys: table.len() as u64,
            events: table.events,
            left_out: table.left_out,
            bytes: table.bytes(),
        }
    }

    /// Each event (type, slot, row) with its position and index in its type
    /// (outside the key index's lock).
    fn keyed(&self, events: Vec<(Arc<str>, super::Slot, u64)>) -> Vec<KeyedEvent> {
        let watermark = self.watermark();
        events
            .into_iter()
            .filter_map(|(event_type, slot, row)| {
                let index = self.shared.index(&event_type)?;
                let (_, offset) = index.stream(slot)?.clock_and_offset(row);
                let position = super::Position {
                    topic: slot.topic,
                    partition: slot.partition,
                    offset: i64::try_from(offset).ok()?,
                };
                // Appended to its type before its key: always there.
                let (index, clock) = index.index_of(position)?;
                Some(KeyedEvent {
                    event_type,
                    found: Found {
                        position,
                        index,
                        clock,
                        settled: clock < watermark,
                    },
                })
            })
            .collect()
    }
}

impl ViewWriter {
    /// At most `max_keys` distinct keys in the key index from now on.
    pub fn limit_keys(&mut self, max_keys: u64) {
        self.keys_mut().max_keys = max_keys;
    }

    /// Adds the event just appended under `event_type` (or [`UNCLASSIFIED`]) to
    /// `key`'s history.
    pub fn append_key(
        &mut self,
        key: &[u8],
        event_type: &str,
        event: &Appended,
    ) -> Result<KeyAppend, PositionError> {
        let (slot, offset) = self.slot(&event.position)?;
        let shared = &self.shared;
        let mut table = self.keys_mut();
        let outcome = table.append(key, event_type, slot, offset, || {
            shared.index(event_type)?.stream(slot)
        });
        Ok(match outcome {
            Ok(()) => KeyAppend::Added,
            Err(why) => {
                table.left_out += 1;
                KeyAppend::LeftOut(why)
            }
        })
    }

    /// Adds the event at `row` of `event_type`'s stream in `topic`/`partition` to
    /// `key`'s history: a snapshot's key index replayed, each key's events in
    /// their history's order, after the snapshot's rows.
    pub fn restore_key(
        &mut self,
        key: &[u8],
        event_type: &str,
        topic: super::TopicId,
        partition: i32,
        row: u64,
    ) -> Result<(), String> {
        let position = super::Position {
            topic,
            partition,
            offset: 0,
        };
        let (slot, _) = self.slot(&position).map_err(|e| e.to_string())?;
        let shared = &self.shared;
        self.keys_mut()
            .append_row(key, event_type, slot, row, || {
                shared.index(event_type)?.stream(slot)
            })
            .map_err(|why| format!("key event at row {row} of {event_type:?}: {why:?}"))
    }

    /// The key index as it stands now, to read later (while ingest goes on).
    pub fn key_cut(&self) -> KeyCut {
        let table = self
            .shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        KeyCut {
            shared: Arc::clone(&self.shared),
            keys: table.len() as u32,
            generation: table.generation,
        }
    }

    pub(super) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyTable> {
        self.shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
