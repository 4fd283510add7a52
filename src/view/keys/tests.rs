//! The key index against a plain model: every event of a key, sorted by the rule,
//! each with its index in its type as sorting that type by the rule gives.

use std::collections::BTreeMap;

use crate::view::*;
use proptest::prelude::*;

const TYPES: [&str; 3] = ["A", "B", UNCLASSIFIED];
const KEYS: [&[u8]; 4] = [b"p-1", b"p-2", b"\xff\xfe", b""];

fn topics() -> Topics {
    Topics::new(&["orders".into(), "audit".into()])
}

/// (clock, topic name rank, partition, offset): the rule.
type Order = (u64, u16, i32, i64);

#[derive(Debug, Clone)]
struct Modelled {
    order: Order,
    position: Position,
    event_type: &'static str,
    key: Option<&'static [u8]>,
}

fn append(writer: &mut ViewWriter, event: &Modelled) {
    let appended = Appended {
        position: event.position,
        clock: event.order.0,
        value_bytes: 1,
    };
    if event.event_type == UNCLASSIFIED {
        writer.append_unclassified(&appended).unwrap();
    } else {
        writer.append(event.event_type, &appended).unwrap();
    }
    if let Some(key) = event.key {
        writer.append_key(key, event.event_type, &appended).unwrap();
    }
}

/// Appends per partition in offset order with clocks that never decrease, the
/// partitions interleaved as `ops` say; returns the events appended.
fn build(
    writer: &mut ViewWriter,
    ops: &[(u16, i32, u64, usize, usize)],
    ranks: &[u16],
) -> Vec<Modelled> {
    build_on(writer, ops, ranks, &mut BTreeMap::new())
}

/// As [`build`], each partition going on from where `partitions` says (its next
/// offset and clock).
fn build_on(
    writer: &mut ViewWriter,
    ops: &[(u16, i32, u64, usize, usize)],
    ranks: &[u16],
    partitions: &mut BTreeMap<(u16, i32), (i64, u64)>,
) -> Vec<Modelled> {
    let mut events = Vec::new();
    for &(topic, partition, step, event_type, key) in ops {
        let state = partitions.entry((topic, partition)).or_default();
        state.1 += step;
        let event = Modelled {
            order: (state.1, ranks[topic as usize], partition, state.0),
            position: Position {
                topic: TopicId(topic),
                partition,
                offset: state.0,
            },
            event_type: TYPES[event_type],
            key: KEYS.get(key).copied(),
        };
        state.0 += 1;
        append(writer, &event);
        events.push(event);
    }
    events
}

/// The model's history of `key`: (type, position, index in its type).
fn model_history(events: &[Modelled], key: &[u8]) -> Vec<(String, Position, u64)> {
    let mut of_key: Vec<&Modelled> = events.iter().filter(|e| e.key == Some(key)).collect();
    of_key.sort_by_key(|e| e.order);
    of_key
        .iter()
        .map(|e| {
            let index = events
                .iter()
                .filter(|o| o.event_type == e.event_type && o.order < e.order)
                .count() as u64;
            (e.event_type.to_owned(), e.position, index)
        })
        .collect()
}

fn history(view: &View, key: &[u8]) -> Vec<(String, Position, u64)> {
    view.key_events(key, 0, u64::MAX)
        .map(|(_, events)| events)
        .unwrap_or_default()
        .into_iter()
        .map(|k| (k.event_type.to_string(), k.found.position, k.found.index))
        .collect()
}

fn op() -> impl Strategy<Value = (u16, i32, u64, usize, usize)> {
    // Key index 4 is "no key".
    (0u16..2, 0i32..3, 0u64..4, 0usize..3, 0usize..5)
}

proptest! {
    /// Whatever the partitions' interleaving and clocks, a key's history is its
    /// events sorted by the rule, each with the index its type gives it; a page
    /// is a slice of it, a type's Nth event with the key is the model's, and the
    /// summary counts what the model counts.
    #[test]
    fn a_key_history_matches_the_rule(
        ops in proptest::collection::vec(op(), 0..200),
        from in 0u64..20,
        limit in 1u64..10,
    ) {
        let topics = topics();
        let (view, mut writer) = new_view(&topics);
        let events = build(&mut writer, &ops, &topics.name_ranks());
        for key in KEYS {
            let expected = model_history(&events, key);
            prop_assert_eq!(&history(&view, key), &expected);
            match view.key_events(key, from, limit) {
                None => prop_assert!(expected.is_empty()),
                Some((total, page)) => {
                    prop_assert_eq!(total, expected.len() as u64);
                    let page: Vec<_> = page.into_iter().map(|k| k.found.position).collect();
                    let want: Vec<_> = expected.iter().skip(from as usize).take(limit as usize).map(|e| e.1).collect();
                    prop_assert_eq!(page, want);
                }
            }
            for event_type in TYPES {
                let of_type: Vec<_> = expected.iter().filter(|e| e.0 == event_type).collect();
                for n in 0..=of_type.len() as u64 {
                    let lookup = view.key_lookup(key, event_type, KeySeek::Index(n));
                    match of_type.get(n as usize) {
                        Some(e) => prop_assert!(matches!(lookup, Lookup::Found(f) if f.position == e.1 && f.index == e.2)),
                        None if view.type_index(event_type).is_none() => prop_assert_eq!(lookup, Lookup::UnknownType),
                        None => prop_assert_eq!(lookup, Lookup::OutOfRange { len: of_type.len() as u64 }),
                    }
                }
            }
            if let Some(summary) = view.key_summary(key) {
                prop_assert_eq!(summary.total, expected.len() as u64);
                prop_assert_eq!(summary.first.found.position, expected[0].1);
                prop_assert_eq!(summary.last.found.position, expected[expected.len() - 1].1);
                let counted: u64 = summary.types.iter().map(|(_, n)| n).sum();
                prop_assert_eq!(counted, summary.total);
            } else {
                prop_assert!(expected.is_empty());
            }
        }
        let keyed = events.iter().filter(|e| e.key.is_some()).count() as u64;
        prop_assert_eq!(view.key_counts().events, keyed);
    }
}

#[test]
fn a_time_seek_within_a_key_finds_the_first_at_or_after() {
    let (view, mut writer) = new_view(&topics());
    for (offset, (clock, key)) in [(10, b"k"), (20, b"x"), (30, b"k"), (40, b"k")]
        .into_iter()
        .enumerate()
    {
        let appended = Appended {
            position: Position {
                topic: TopicId(0),
                partition: 0,
                offset: offset as i64,
            },
            clock,
            value_bytes: 1,
        };
        writer.append("A", &appended).unwrap();
        writer.append_key(key, "A", &appended).unwrap();
    }
    let offset_at = |clock| match view.key_lookup(b"k", "A", KeySeek::Clock(clock)) {
        Lookup::Found(found) => Some((found.position.offset, found.index)),
        _ => None,
    };
    assert_eq!(offset_at(0), Some((0, 0)));
    assert_eq!(offset_at(11), Some((2, 2)));
    assert_eq!(offset_at(40), Some((3, 3)));
    assert_eq!(offset_at(41), None);
}

#[test]
fn keys_past_the_cap_are_left_out_and_counted_and_a_reset_topic_leaves_its_keys() {
    let (view, mut writer) = new_view(&topics());
    writer.limit_keys(2);
    let at = |topic: u16, offset: i64| Appended {
        position: Position {
            topic: TopicId(topic),
            partition: 0,
            offset,
        },
        clock: 1,
        value_bytes: 1,
    };
    for (offset, key) in [b"a", b"b", b"c", b"a"].into_iter().enumerate() {
        let event = at(0, offset as i64);
        writer.append("A", &event).unwrap();
        let added = writer.append_key(key, "A", &event).unwrap();
        assert_eq!(
            added == KeyAppend::LeftOut(LeftOut::TooManyKeys),
            key == b"c",
            "{key:?}"
        );
    }
    let event = at(1, 0);
    writer.append("B", &event).unwrap();
    writer.append_key(b"b", "B", &event).unwrap();
    let counts = view.key_counts();
    assert_eq!((counts.keys, counts.events, counts.left_out), (2, 4, 1));
    assert!(counts.bytes > 4 * 24, "{counts:?}");
    assert!(view.key_summary(b"c").is_none());
    assert_eq!(view.key_summary(b"a").unwrap().total, 2);

    writer.remove_topic(TopicId(0));
    assert!(view.key_summary(b"a").is_none(), "its only topic was reset");
    let b = view.key_summary(b"b").unwrap();
    assert_eq!((b.total, b.first.event_type.as_ref()), (1, "B"));
    assert_eq!(view.key_counts().events, 1);
}

proptest! {
    /// A key's tail, started anywhere in its history and read between appends in
    /// batches of any size, hands out every event past its start exactly once, each
    /// with the place it has in the history when handed out; what it had not
    /// handed out is its lag.
    #[test]
    fn a_key_tail_hands_out_each_new_event_once(
        ops in proptest::collection::vec(op(), 0..200),
        cuts in proptest::collection::vec(0usize..200, 0..6),
        from in 0u64..30,
        batch in 1usize..8,
    ) {
        let topics = topics();
        let ranks = topics.name_ranks();
        let (view, mut writer) = new_view(&topics);
        let mut cuts = cuts;
        cuts.push(ops.len());
        cuts.sort_unstable();
        // The first part exists before the tail starts.
        let first = cuts[0].min(ops.len());
        let mut partitions = BTreeMap::new();
        let mut events = build_on(&mut writer, &ops[..first], &ranks, &mut partitions);
        let key = KEYS[0];
        let Some(mut tail) = view.key_tail(key, from) else {
            prop_assert!(model_history(&events, key).is_empty());
            return Ok(());
        };
        let before: Vec<Position> = model_history(&events, key).into_iter().map(|e| e.1).collect();
        let skipped = (from as usize).min(before.len());
        let mut handed: Vec<Position> = Vec::new();
        let mut done = first;
        // Drained once at the start, then after each further part is appended.
        for &cut in &cuts {
            let cut = cut.min(ops.len()).max(done);
            events.extend(build_on(&mut writer, &ops[done..cut], &ranks, &mut partitions));
            done = cut;
            loop {
                let next = view.key_tail_next(&mut tail, batch);
                if next.is_empty() {
                    break;
                }
                let history: Vec<Position> = model_history(&events, key).into_iter().map(|e| e.1).collect();
                for (place, event) in next {
                    prop_assert_eq!(history.get(place as usize), Some(&event.found.position));
                    handed.push(event.found.position);
                }
            }
            prop_assert_eq!(view.key_tail_lag(&tail), 0);
        }
        let mut expected: Vec<Position> = model_history(&events, key).into_iter().map(|e| e.1).collect();
        // Not handed out: the first `from` of what existed at the start.
        let passed: Vec<Position> = before[..skipped].to_vec();
        expected.retain(|p| !passed.contains(p));
        let mut got = handed;
        got.sort_by_key(|p| (p.topic.0, p.partition, p.offset));
        expected.sort_by_key(|p| (p.topic.0, p.partition, p.offset));
        prop_assert_eq!(got, expected);
    }
}
