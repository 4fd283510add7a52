//! The key index: every event of one entity (its key: the Kafka key, a field or a
//! header, as the caller finds it), across types, in the one numbering's order
//! (clock, topic name, partition, offset), so that an entity's history is a
//! lookup, not a scan of the topic.
//!
//! Keys are kept whole (not hashed), so a history never holds another key's event:
//! exact by construction. A key's events mostly come from one partition, in offset
//! order with clocks that never decrease, so an append lands at the end; one from
//! another partition is placed by the rule (a binary search from the end).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use super::order::Slot;
use super::position::{Position, PositionError, TopicId};
use super::{Appended, Found, Lookup, View, ViewWriter};

/// One event of a key's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// Its clock (ms).
    pub clock: u64,
    slot: Slot,
    offset: u64,
    type_id: u32,
}

impl KeyEvent {
    /// Its place in the numbering: (clock, topic name, partition, offset).
    fn order(&self) -> (u64, Slot, u64) {
        (self.clock, self.slot, self.offset)
    }

    /// Where it is in Kafka.
    pub fn position(&self) -> Position {
        Position {
            topic: self.slot.topic,
            partition: self.slot.partition,
            // Offsets are checked not negative before they are indexed.
            offset: i64::try_from(self.offset).unwrap_or(i64::MAX),
        }
    }
}

/// One key's events and how many of each type.
#[derive(Debug, Default)]
struct History {
    events: Vec<KeyEvent>,
    /// (type id, count), in order of first appearance: a key has few types.
    counts: Vec<(u32, u64)>,
}

/// Whether an event went into the key index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAppend {
    /// In its key's history.
    Added,
    /// Its key is new and the index holds `keys.max_keys` keys already.
    LeftOut,
}

/// Every key's history; written by the index thread alone, behind the view's lock.
#[derive(Debug)]
pub struct KeyTable {
    ids: HashMap<Box<[u8]>, u32>,
    histories: Vec<History>,
    type_names: Vec<Arc<str>>,
    type_ids: HashMap<Arc<str>, u32>,
    max_keys: u64,
    left_out: u64,
    events: u64,
    /// Bytes of the keys themselves.
    key_bytes: u64,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable {
            ids: HashMap::new(),
            histories: Vec::new(),
            type_names: Vec::new(),
            type_ids: HashMap::new(),
            max_keys: u64::MAX,
            left_out: 0,
            events: 0,
            key_bytes: 0,
        }
    }
}

/// What the key index holds, for `/status` and the scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyCounts {
    /// Distinct keys indexed.
    pub keys: u64,
    /// Events in the key index.
    pub events: u64,
    /// Events left out because their key was new past `keys.max_keys`.
    pub left_out: u64,
    /// Bytes the key index holds (keys, histories, maps), estimated from their sizes.
    pub bytes: u64,
}

impl KeyTable {
    /// At most `max_keys` distinct keys from now on.
    pub fn limit(&mut self, max_keys: u64) {
        self.max_keys = max_keys;
    }

    /// Adds an event of `event_type` at `slot`/`offset` with `clock` to `key`'s history.
    pub(super) fn append(
        &mut self,
        key: &[u8],
        event_type: &str,
        slot: Slot,
        offset: u64,
        clock: u64,
    ) -> KeyAppend {
        let id = match self.ids.get(key) {
            Some(&id) => id,
            None => {
                let Ok(id) = u32::try_from(self.histories.len()) else {
                    self.left_out += 1;
                    return KeyAppend::LeftOut;
                };
                if self.histories.len() as u64 >= self.max_keys {
                    self.left_out += 1;
                    return KeyAppend::LeftOut;
                }
                self.ids.insert(key.into(), id);
                self.key_bytes += key.len() as u64;
                self.histories.push(History::default());
                id
            }
        };
        let type_id = self.type_id(event_type);
        let event = KeyEvent {
            clock,
            slot,
            offset,
            type_id,
        };
        let Some(history) = self.histories.get_mut(id as usize) else {
            return KeyAppend::LeftOut;
        };
        // At the end unless it sorts before the last (another partition, lagging).
        let at = history
            .events
            .partition_point(|e| e.order() <= event.order());
        history.events.insert(at, event);
        match history.counts.iter_mut().find(|(t, _)| *t == type_id) {
            Some((_, count)) => *count += 1,
            None => history.counts.push((type_id, 1)),
        }
        self.events += 1;
        KeyAppend::Added
    }

    fn type_id(&mut self, event_type: &str) -> u32 {
        if let Some(&id) = self.type_ids.get(event_type) {
            return id;
        }
        let id = u32::try_from(self.type_names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(event_type);
        self.type_names.push(Arc::clone(&name));
        self.type_ids.insert(name, id);
        id
    }

    /// The name of type `id`.
    pub fn type_name(&self, id: u32) -> Arc<str> {
        self.type_names
            .get(id as usize)
            .map_or_else(|| Arc::from(""), Arc::clone)
    }

    /// `key`'s events in the numbering's order, if it has any.
    pub fn history(&self, key: &[u8]) -> Option<&[KeyEvent]> {
        let id = *self.ids.get(key)?;
        let history = self.histories.get(id as usize)?;
        (!history.events.is_empty()).then_some(history.events.as_slice())
    }

    /// How many events of each type `key` has (types by first appearance).
    pub fn type_counts(&self, key: &[u8]) -> Vec<(Arc<str>, u64)> {
        let Some(history) = self
            .ids
            .get(key)
            .and_then(|&id| self.histories.get(id as usize))
        else {
            return Vec::new();
        };
        history
            .counts
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|&(id, count)| (self.type_name(id), count))
            .collect()
    }

    /// The type of `event` as the table names it.
    pub fn type_of(&self, event: &KeyEvent) -> Arc<str> {
        self.type_name(event.type_id)
    }

    /// Whether `event` is of `event_type`.
    pub fn is_of(&self, event: &KeyEvent, event_type: &str) -> bool {
        self.type_ids.get(event_type) == Some(&event.type_id)
    }

    /// What the index holds: O(1), the bytes estimated from the sizes of what it
    /// keeps (a key, its map entry and history; an event), not its allocations.
    pub fn counts(&self) -> KeyCounts {
        let per_key = size_of::<(Box<[u8]>, u32)>() + 1 + size_of::<History>();
        let per_type_count = size_of::<(u32, u64)>();
        KeyCounts {
            keys: self.ids.len() as u64,
            events: self.events,
            left_out: self.left_out,
            bytes: self.key_bytes
                + (per_key + per_type_count) as u64 * self.ids.len() as u64
                + size_of::<KeyEvent>() as u64 * self.events,
        }
    }

    /// Drops every event of `topic` (its log was reset); its keys stay known (and
    /// counted), empty.
    pub(super) fn remove_topic(&mut self, topic: TopicId) {
        let mut removed = 0;
        for history in &mut self.histories {
            let before = history.events.len();
            history.events.retain(|e| e.slot.topic != topic);
            if history.events.len() == before {
                continue;
            }
            removed += (before - history.events.len()) as u64;
            history.counts.clear();
            for event in &history.events {
                match history.counts.iter_mut().find(|(t, _)| *t == event.type_id) {
                    Some((_, count)) => *count += 1,
                    None => history.counts.push((event.type_id, 1)),
                }
            }
        }
        self.events -= removed;
    }
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

impl View {
    /// `key`'s events from its `from`-th, at most `limit`, with how many it has;
    /// None for a key never seen. O(1) to the first, then O(partitions × log n)
    /// an event for its index in its type.
    pub fn key_events(&self, key: &[u8], from: u64, limit: u64) -> Option<(u64, Vec<KeyedEvent>)> {
        let (total, picked) = {
            let table = self.shared.keys();
            let history = table.history(key)?;
            let start = usize::try_from(from)
                .unwrap_or(usize::MAX)
                .min(history.len());
            let end = start
                .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
                .min(history.len());
            let picked: Vec<(Arc<str>, KeyEvent)> = history[start..end]
                .iter()
                .map(|e| (table.type_of(e), *e))
                .collect();
            (history.len() as u64, picked)
        };
        Some((total, self.keyed(picked)))
    }

    /// `key`'s count, its count per type, and its first and last events; None for a
    /// key never seen.
    pub fn key_summary(&self, key: &[u8]) -> Option<KeySummary> {
        let (total, types, ends) = {
            let table = self.shared.keys();
            let history = table.history(key)?;
            let (first, last) = (history.first()?, history.last()?);
            let ends = vec![(table.type_of(first), *first), (table.type_of(last), *last)];
            (history.len() as u64, table.type_counts(key), ends)
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
            let table = self.shared.keys();
            let history = table.history(key).unwrap_or_default();
            let mut of_type = history.iter().filter(|e| table.is_of(e, event_type));
            let picked = match seek {
                KeySeek::Index(n) => of_type.nth(usize::try_from(n).unwrap_or(usize::MAX)),
                KeySeek::Clock(clock) => of_type.find(|e| e.clock >= clock),
            };
            let len = history
                .iter()
                .filter(|e| table.is_of(e, event_type))
                .count();
            (len as u64, picked.copied())
        };
        let Some(event) = picked else {
            return Lookup::OutOfRange { len };
        };
        match self.keyed(vec![(Arc::from(event_type), event)]).pop() {
            Some(keyed) => Lookup::Found(keyed.found),
            None => Lookup::OutOfRange { len },
        }
    }

    /// How many keys and events the key index holds.
    pub fn key_counts(&self) -> KeyCounts {
        self.shared.keys().counts()
    }

    /// Each event with its index in its type (outside the key index's lock).
    fn keyed(&self, events: Vec<(Arc<str>, KeyEvent)>) -> Vec<KeyedEvent> {
        let watermark = self.watermark();
        events
            .into_iter()
            .filter_map(|(event_type, event)| {
                let position = event.position();
                // Appended to its type before its key: always there.
                let (index, clock) = self.shared.index(&event_type)?.index_of(position)?;
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
        self.keys_mut().limit(max_keys);
    }

    /// Adds an event already appended under `event_type` (or [`UNCLASSIFIED`]) to
    /// `key`'s history.
    pub fn append_key(
        &mut self,
        key: &[u8],
        event_type: &str,
        event: &Appended,
    ) -> Result<KeyAppend, PositionError> {
        let (slot, offset) = self.slot(&event.position)?;
        Ok(self
            .keys_mut()
            .append(key, event_type, slot, offset, event.clock))
    }

    pub(super) fn keys_mut(&self) -> std::sync::RwLockWriteGuard<'_, KeyTable> {
        self.shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
