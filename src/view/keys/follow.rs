//! A live tail of one key's history: every event added to it after a point, each
//! exactly once, as [`Tail`](crate::view::Tail) is for a type.
//!
//! A key's events in one stream (a type's partition) are added in row order, and
//! its history lists them in that order too. So a tail keeps, per stream, the row
//! after the last one it accounted for: the events past it are the new ones, and
//! there are exactly (history length - events accounted for) of them. They are
//! found from the history's end backwards: an event that came late from a lagging
//! partition takes a place shortly before the end, not far from it.

use std::collections::HashMap;

use super::KeyedEvent;
use crate::view::View;

/// Where a tail of one key's history stands.
pub struct KeyTail {
    key: Vec<u8>,
    /// The key index's generation: a topic reset renumbers its streams.
    generation: u64,
    /// Events of the key handed out or passed over at the start.
    accounted: u64,
    /// Per stream id: the row after the last one accounted for.
    next_row: HashMap<u16, u32>,
    /// The place it started from.
    started: u64,
}

/// History entries read at a time while looking back for new events.
const LOOK_BACK: u64 = 256;

impl KeyTail {
    /// The place in the key's history it started from.
    pub fn start(&self) -> u64 {
        self.started
    }
}

impl View {
    /// A tail of `key`'s history from its `from`-th event (its count or past: only
    /// what comes next); None for a key never seen. O(from) to start.
    pub fn key_tail(&self, key: &[u8], from: u64) -> Option<KeyTail> {
        let table = self.keys();
        let id = table.id(key)?;
        let accounted = from.min(table.count(id));
        let mut next_row = HashMap::new();
        for entry in table.page(id, 0, accounted) {
            let next = next_row.entry(entry.stream()).or_insert(0);
            *next = (*next).max(entry.row().saturating_add(1));
        }
        Some(KeyTail {
            key: key.to_vec(),
            generation: table.generation,
            accounted,
            next_row,
            started: accounted,
        })
    }

    /// The key's events added since the last call (or the start), at most `max`,
    /// in its history's order, each with its place in the history now; they are
    /// handed out once. After a topic reset the tail starts again at the history's
    /// end (what the reset renumbered is not sent again).
    pub fn key_tail_next(&self, tail: &mut KeyTail, max: usize) -> Vec<(u64, KeyedEvent)> {
        let picked = {
            let table = self.keys();
            let Some(id) = table.id(&tail.key) else {
                return Vec::new();
            };
            let total = table.count(id);
            if table.generation != tail.generation {
                drop(table);
                if let Some(fresh) = self.key_tail(&tail.key, u64::MAX) {
                    *tail = fresh;
                }
                return Vec::new();
            }
            let wanted = total.saturating_sub(tail.accounted);
            let mut new = Vec::new();
            let mut end = total;
            while (new.len() as u64) < wanted && end > 0 {
                let start = end.saturating_sub(LOOK_BACK.max(wanted));
                let entries = table.page(id, start, end - start);
                for (place, entry) in entries.into_iter().enumerate().rev() {
                    let place = start + place as u64;
                    if entry.row() >= tail.next_row.get(&entry.stream()).copied().unwrap_or(0) {
                        new.push((place, entry));
                    }
                }
                end = start;
            }
            new.reverse();
            new.truncate(max);
            tail.accounted += new.len() as u64;
            let mut picked = Vec::with_capacity(new.len());
            for (place, entry) in new {
                let next = tail.next_row.entry(entry.stream()).or_insert(0);
                *next = (*next).max(entry.row().saturating_add(1));
                if let Some(described) = table.describe(entry) {
                    picked.push((place, described));
                }
            }
            picked
        };
        picked
            .into_iter()
            .filter_map(|(place, described)| Some((place, self.keyed(vec![described]).pop()?)))
            .collect()
    }

    /// How many of the key's events are not handed out yet.
    pub fn key_tail_lag(&self, tail: &KeyTail) -> u64 {
        let table = self.keys();
        table
            .id(&tail.key)
            .map_or(0, |id| table.count(id).saturating_sub(tail.accounted))
    }
}
