//! A live tail of a type: every event appended after a point, each exactly once.
//!
//! A tail keeps, per partition stream of the type, how many rows it has handed out.
//! Rows are only ever appended to a stream, so the rows past those counts are the
//! events that arrived since: no index is handed out twice even when a tentative
//! event's index moves (an event placed before it, from a lagging partition, is
//! simply handed out when it arrives, with its own index). O(new events) a call.

use std::sync::Arc;

use super::order::{Slot, Stream, TypeIndex};
use super::{Found, Position, View};

/// Where a tail of one type stands.
pub struct Tail {
    event_type: String,
    index: Arc<TypeIndex>,
    /// Each stream, and the rows of it handed out.
    sent: Vec<(Arc<Stream>, u64)>,
}

impl View {
    /// A tail of `event_type` from index `from` (its count or past: only what comes
    /// next); None for a type never seen.
    pub fn tail(&self, event_type: &str, from: u64) -> Option<Tail> {
        let index = self.shared.index(event_type)?;
        let sent = index.rows_before(from);
        Some(Tail {
            event_type: event_type.to_owned(),
            index,
            sent,
        })
    }

    /// The events of the tail's type appended since the last call (or its start),
    /// at most `max`, in the numbering's order, each with its index now; they are
    /// handed out once.
    pub fn tail_next(&self, tail: &mut Tail, max: usize) -> Vec<Found> {
        self.rebind(tail);
        let mut new: Vec<((u64, Slot, u64), usize)> = Vec::new();
        for stream in tail.index.streams() {
            let at = match tail.sent.iter().position(|(s, _)| Arc::ptr_eq(s, &stream)) {
                Some(at) => at,
                None => {
                    // A partition that got its first event of the type since.
                    tail.sent.push((Arc::clone(&stream), 0));
                    tail.sent.len() - 1
                }
            };
            let from = tail.sent[at].1;
            let until = stream.len().min(from.saturating_add(max as u64));
            for row in from..until {
                let (clock, offset) = stream.clock_and_offset(row);
                new.push(((clock, stream.slot(), offset), at));
            }
        }
        new.sort_unstable();
        new.truncate(max);
        let watermark = self.watermark();
        let mut found = Vec::with_capacity(new.len());
        for ((_, slot, offset), at) in new {
            tail.sent[at].1 += 1;
            let position = Position {
                topic: slot.topic,
                partition: slot.partition,
                offset: i64::try_from(offset).unwrap_or(i64::MAX),
            };
            if let Some((index, clock)) = tail.index.index_of(position) {
                found.push(Found {
                    position,
                    index,
                    clock,
                    settled: clock < watermark,
                });
            }
        }
        found
    }

    /// How many events of the tail's type are not handed out yet.
    pub fn tail_lag(&self, tail: &Tail) -> u64 {
        let sent: u64 = tail.sent.iter().map(|(_, n)| n).sum();
        tail.index.len().saturating_sub(sent)
    }

    /// After a topic reset the type's index is a new one: the tail follows it, each
    /// stream where it stood (the rows of other topics are the same).
    fn rebind(&self, tail: &mut Tail) {
        let Some(current) = self.shared.index(&tail.event_type) else {
            return;
        };
        if Arc::ptr_eq(&current, &tail.index) {
            return;
        }
        let sent = current
            .streams()
            .into_iter()
            .map(|stream| {
                let before = tail
                    .sent
                    .iter()
                    .find(|(s, _)| s.slot() == stream.slot())
                    .map_or(0, |(_, n)| (*n).min(stream.len()));
                (stream, before)
            })
            .collect();
        tail.index = current;
        tail.sent = sent;
    }
}

#[cfg(test)]
mod tests {
    use crate::view::*;
    use proptest::prelude::*;

    fn append(
        writer: &mut ViewWriter,
        offsets: &mut [i64; 3],
        clocks: &mut [u64; 3],
        partition: i32,
        step: u64,
    ) -> Position {
        let p = partition as usize;
        clocks[p] += step;
        let position = Position {
            topic: TopicId(0),
            partition,
            offset: offsets[p],
        };
        offsets[p] += 1;
        let event = Appended {
            position,
            clock: clocks[p],
            value_bytes: 1,
        };
        writer.append("A", &event).unwrap();
        position
    }

    proptest! {
        /// Appends on partitions at their own pace (a lagging one places events
        /// before tentative ones), read by a tail between appends: every event
        /// appended after the tail's start is handed out exactly once, with the
        /// index it has at that moment, and nothing from before it.
        #[test]
        fn a_tail_hands_out_every_new_event_once(
            before in 0usize..30,
            ops in proptest::collection::vec((0i32..3, 0u64..5, 1usize..6), 1..120),
        ) {
            let (view, mut writer) = new_view(&Topics::new(&["t".into()]));
            let mut offsets = [0i64; 3];
            let mut clocks = [0u64; 3];
            writer.declare("A");
            for i in 0..before {
                append(&mut writer, &mut offsets, &mut clocks, (i % 3) as i32, 1);
            }
            let mut tail = view.tail("A", before as u64).unwrap();
            let mut appended = Vec::new();
            let mut handed = Vec::new();
            for (partition, step, batch) in ops {
                appended.push(append(&mut writer, &mut offsets, &mut clocks, partition, step));
                writer.advance(clocks.iter().copied().min().unwrap_or(0));
                for found in view.tail_next(&mut tail, batch) {
                    // Its index now names it.
                    prop_assert!(matches!(view.get("A", found.index), Lookup::Found(f) if f.position == found.position));
                    handed.push(found.position);
                }
            }
            loop {
                let more = view.tail_next(&mut tail, 7);
                if more.is_empty() { break; }
                handed.extend(more.into_iter().map(|f| f.position));
            }
            prop_assert_eq!(view.tail_lag(&tail), 0);
            let mut sorted_handed = handed.clone();
            sorted_handed.sort_by_key(|p| (p.partition, p.offset));
            sorted_handed.dedup();
            prop_assert_eq!(sorted_handed.len(), handed.len(), "handed out twice");
            appended.sort_by_key(|p| (p.partition, p.offset));
            prop_assert_eq!(sorted_handed, appended);
        }
    }

    #[test]
    fn a_tail_from_an_index_starts_there() {
        let (view, mut writer) = new_view(&Topics::new(&["t".into()]));
        for offset in 0..10 {
            let position = Position {
                topic: TopicId(0),
                partition: 0,
                offset,
            };
            writer
                .append(
                    "A",
                    &Appended {
                        position,
                        clock: offset as u64,
                        value_bytes: 1,
                    },
                )
                .unwrap();
        }
        let mut tail = view.tail("A", 6).unwrap();
        let indexes: Vec<u64> = view
            .tail_next(&mut tail, 100)
            .iter()
            .map(|f| f.index)
            .collect();
        assert_eq!(indexes, [6, 7, 8, 9]);
        assert!(
            view.tail_next(&mut view.tail("A", 10).unwrap(), 100)
                .is_empty()
        );
        assert!(view.tail("B", 0).is_none());
    }
}
