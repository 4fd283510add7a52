//! The index against a plain model: every event of a type, sorted by the rule.

use super::*;
use proptest::prelude::*;

fn topics() -> Topics {
    // Configuration order differs from name order: the tie-break must use names.
    Topics::new(&["orders".into(), "audit".into(), "billing".into()])
}

fn at(topic: u16, partition: i32, offset: i64) -> Position {
    Position {
        topic: TopicId(topic),
        partition,
        offset,
    }
}

fn event(position: Position, clock: u64) -> Appended {
    Appended {
        position,
        clock,
        value_bytes: 1,
    }
}

fn found_position(lookup: Lookup) -> Option<Position> {
    match lookup {
        Lookup::Found(found) => Some(found.position),
        _ => None,
    }
}

#[test]
fn seed_semantics_per_type_index_is_topic_order() {
    // The topic [A, B, A, A, B] gives A#2 = offset 3 and B#1 = offset 4.
    let (view, mut writer) = new_view(&topics());
    for (offset, t) in ["A", "B", "A", "A", "B"].iter().enumerate() {
        writer
            .append(t, &event(at(0, 0, offset as i64), 100))
            .unwrap();
    }
    assert_eq!(found_position(view.get("A", 2)), Some(at(0, 0, 3)));
    assert_eq!(found_position(view.get("B", 1)), Some(at(0, 0, 4)));
    assert_eq!(view.get("A", 3), Lookup::OutOfRange { len: 3 });
    assert_eq!(view.get("C", 0), Lookup::UnknownType);
    assert_eq!(view.counts().get("A"), Some(&3));
    assert_eq!(view.total(), 5);
    assert_eq!(view.type_index("A").unwrap().value_bytes(), 3);
}

#[test]
fn one_partition_keeps_topic_order_whatever_the_timestamps() {
    // The caller's clock is the running maximum: timestamps 50, 10, 70, 20 give
    // clocks 50, 50, 70, 70, so the order is the offsets' order.
    let (view, mut writer) = new_view(&topics());
    let mut clock = 0;
    for (offset, timestamp) in [50u64, 10, 70, 20].iter().enumerate() {
        clock = clock.max(*timestamp);
        writer
            .append("A", &event(at(0, 0, offset as i64), clock))
            .unwrap();
    }
    writer.advance(60);
    let order: Vec<i64> = (0..4)
        .filter_map(|i| found_position(view.get("A", i)))
        .map(|p| p.offset)
        .collect();
    assert_eq!(order, [0, 1, 2, 3]);
    let settled: Vec<bool> = (0..4)
        .map(|i| matches!(view.get("A", i), Lookup::Found(f) if f.settled))
        .collect();
    assert_eq!(settled, [true, true, false, false]);
    assert_eq!(view.tentative(), 2);
}

#[test]
fn equal_clocks_are_ordered_by_topic_name_then_partition() {
    let (view, mut writer) = new_view(&topics());
    // "orders" (id 0) sorts after "audit" (id 1) and "billing" (id 2).
    writer.append("A", &event(at(0, 0, 0), 5)).unwrap();
    writer.append("A", &event(at(2, 1, 0), 5)).unwrap();
    writer.append("A", &event(at(2, 0, 0), 5)).unwrap();
    writer.append("A", &event(at(1, 3, 0), 5)).unwrap();
    let expected = [at(1, 3, 0), at(2, 0, 0), at(2, 1, 0), at(0, 0, 0)];
    for watermark in [0, 6] {
        writer.advance(watermark);
        for (i, position) in expected.iter().enumerate() {
            assert_eq!(found_position(view.get("A", i as u64)), Some(*position));
        }
    }
}

#[test]
fn a_late_event_takes_its_place_and_is_counted() {
    let (view, mut writer) = new_view(&topics());
    for offset in 0..5 {
        writer
            .append("A", &event(at(0, 0, offset), 10 + offset as u64))
            .unwrap();
    }
    writer.advance(100);
    assert_eq!(view.tentative(), 0);
    let order = |view: &View| -> Vec<Position> {
        (0..6)
            .filter_map(|i| found_position(view.get("A", i)))
            .collect()
    };
    let by_rule = [
        at(0, 0, 0),
        at(0, 0, 1),
        at(0, 0, 2),
        at(0, 1, 0),
        at(0, 0, 3),
        at(0, 0, 4),
    ];
    // Partition 1 was quiet; its first record has clock 12, below the watermark. It
    // takes its place at once (the settled prefix is dropped, lookups select).
    let placed = writer.append("A", &event(at(0, 1, 0), 12)).unwrap();
    assert_eq!(placed, Placed::Late);
    assert_eq!(view.late_events(), 1);
    assert_eq!(order(&view), by_rule);
    let index = view.type_index("A").unwrap();
    assert_eq!(index.settled_len(), 0);
    // A burst of late events costs one merge, after a quiet second of advances.
    for offset in 1..50 {
        writer.append("A", &event(at(0, 1, offset), 13)).unwrap();
        writer.advance(100);
        assert_eq!(index.settled_len(), 0);
    }
    for _ in 0..REBUILD_AFTER_QUIET {
        writer.advance(100);
    }
    assert_eq!(index.settled_len(), 55);
    assert_eq!(found_position(view.get("A", 3)), Some(at(0, 1, 0)));
    assert_eq!(found_position(view.get("A", 54)), Some(at(0, 0, 4)));
    // The watermark never goes down.
    writer.advance(50);
    assert_eq!(view.watermark(), 100);
}

#[test]
fn tentative_lookups_right_after_a_whole_block_of_settled_ones() {
    // 256 settled indexes exactly: the rank at the prefix's end has no mark of its own yet.
    let (view, mut writer) = new_view(&topics());
    for i in 0..600u64 {
        let partition = (i % 2) as i32;
        writer
            .append("A", &event(at(0, partition, (i / 2) as i64), i))
            .unwrap();
    }
    writer.advance(256);
    assert_eq!(view.type_index("A").unwrap().settled_count(256), 256);
    for i in 0..600u64 {
        let Lookup::Found(found) = view.get("A", i) else {
            panic!("#{i} not found");
        };
        assert_eq!(found.clock, i, "#{i}");
        assert_eq!(found.settled, i < 256);
    }
}

#[test]
fn watermark_waits_for_partitions_being_read_not_idle_ones() {
    let lateness = 1_000;
    // Everyone being read: the lowest clock.
    assert_eq!(
        watermark([(500, false), (9_000, false)], lateness),
        Some(500)
    );
    // At its end and far behind: counts as highest - lateness.
    assert_eq!(
        watermark([(500, true), (9_000, false)], lateness),
        Some(8_000)
    );
    // At its end but within lateness: its own clock.
    assert_eq!(
        watermark([(8_500, true), (9_000, false)], lateness),
        Some(8_500)
    );
    // An empty partition (clock 0) at its end does not hold it back for ever.
    assert_eq!(watermark([(0, true), (9_000, true)], lateness), Some(8_000));
    assert_eq!(watermark([], lateness), None);
}

#[test]
fn time_seeks_and_positions_answer_from_the_same_order() {
    let (view, mut writer) = new_view(&topics());
    // Partition 0: clocks 10, 30; partition 1: clocks 20, 30.
    writer.append("A", &event(at(0, 0, 0), 10)).unwrap();
    writer.append("A", &event(at(0, 0, 1), 30)).unwrap();
    writer.append("A", &event(at(0, 1, 0), 20)).unwrap();
    writer.append("A", &event(at(0, 1, 1), 30)).unwrap();
    writer.append_unclassified(&event(at(0, 0, 2), 31)).unwrap();
    let first = |clock| match view.first_at_or_after("A", clock) {
        Lookup::Found(found) => Some((found.index, found.position)),
        _ => None,
    };
    assert_eq!(first(0), Some((0, at(0, 0, 0))));
    assert_eq!(first(11), Some((1, at(0, 1, 0))));
    assert_eq!(first(30), Some((2, at(0, 0, 1))));
    assert_eq!(first(31), None);
    assert_eq!(
        view.first_at_or_after("A", 31),
        Lookup::OutOfRange { len: 4 }
    );
    let locate = |p| view.locate(p).map(|(t, found)| (t, found.index));
    assert_eq!(locate(at(0, 1, 1)), Some(("A".to_owned(), 3)));
    assert_eq!(locate(at(0, 0, 2)), Some((UNCLASSIFIED.to_owned(), 0)));
    assert_eq!(locate(at(0, 0, 3)), None);
    assert_eq!(locate(at(1, 0, 0)), None);
}

#[test]
fn removing_a_topic_keeps_the_other_topics_in_order() {
    let (view, mut writer) = new_view(&topics());
    for offset in 0..6 {
        let topic = (offset % 2) as u16;
        writer
            .append("A", &event(at(topic, 0, offset), offset as u64))
            .unwrap();
        writer
            .append("B", &event(at(1, 1, offset), offset as u64))
            .unwrap();
        writer
            .append_unclassified(&event(at(topic, 2, offset), 0))
            .unwrap();
    }
    writer.advance(3);
    let held = view.type_index("A").unwrap();
    assert_eq!(writer.remove_topic(TopicId(1)), 3 + 6 + 3);
    let order: Vec<Position> = (0..3)
        .filter_map(|i| found_position(view.get("A", i)))
        .collect();
    assert_eq!(order, [at(0, 0, 0), at(0, 0, 2), at(0, 0, 4)]);
    assert_eq!(view.type_index("A").unwrap().value_bytes(), 3);
    assert_eq!(view.counts().get("B"), Some(&0));
    assert_eq!(view.unclassified().len(), 3);
    // A reader that held the old index still sees it whole.
    assert_eq!(held.len(), 6);
    writer.append("A", &event(at(1, 0, 0), 100)).unwrap();
    assert_eq!(found_position(view.get("A", 3)), Some(at(1, 0, 0)));
}

#[test]
fn new_types_beyond_the_limit_are_refused_and_declared_ones_count() {
    let (view, mut writer) = new_view(&topics());
    writer.declare("route_type");
    writer.limit_types(3);
    writer.append("A", &event(at(0, 0, 0), 1)).unwrap();
    writer.append("B", &event(at(0, 0, 1), 1)).unwrap();
    assert_eq!(
        writer.append("C", &event(at(0, 0, 2), 1)),
        Err(Refused::TooManyTypes { cap: 3 })
    );
    // Known types keep being indexed; so is the declared one.
    writer.append("A", &event(at(0, 0, 3), 1)).unwrap();
    writer.append("route_type", &event(at(0, 0, 4), 1)).unwrap();
    assert_eq!(view.type_count(), 3);
    assert_eq!(view.get("C", 0), Lookup::UnknownType);
    let by_count: Vec<String> = view.types_by_count().into_iter().map(|(n, _)| n).collect();
    assert_eq!(by_count, ["A", "B", "route_type"]);
}

#[test]
fn declared_type_counts_zero_and_is_known() {
    let (view, mut writer) = new_view(&topics());
    writer.declare("heart_rate");
    assert_eq!(view.counts().get("heart_rate"), Some(&0));
    assert_eq!(view.get("heart_rate", 0), Lookup::OutOfRange { len: 0 });
    assert!(!view.counts().contains_key(UNCLASSIFIED));
}

#[test]
fn a_big_type_reads_back_across_blocks_and_stays_compact() {
    let (view, mut writer) = new_view(&topics());
    let n = 300_000u64;
    let mut clocks = [0u64; 3];
    for i in 0..n {
        let partition = (i * 7 % 3) as usize;
        clocks[partition] += 1 + i % 10;
        let position = at(0, partition as i32, i as i64);
        writer
            .append("t", &event(position, clocks[partition]))
            .unwrap();
        if i % 1_000 == 0 {
            writer.advance(clocks.iter().copied().min().unwrap_or(0));
        }
    }
    let index = view.type_index("t").unwrap();
    let mut previous = None;
    for i in (0..n).step_by(997).chain([n - 1]) {
        let entry = index.get(i).unwrap();
        if let Some((clock, _)) = previous {
            assert!(entry.clock >= clock, "index {i}");
        }
        assert_eq!(index.index_of(entry.position).map(|(at, _)| at), Some(i));
        previous = Some((entry.clock, entry.position));
    }
    let per_event = index.allocated_bytes() as f64 / n as f64;
    assert!(per_event < 4.0, "{per_event} bytes an event");
}

mod properties {
    use super::*;

    const TYPES: [&str; 3] = ["A", "B", UNCLASSIFIED];
    const LATENESS: u64 = 50;

    #[derive(Debug, Clone)]
    enum Op {
        /// An event of type `event_type` on (topic, partition), its timestamp moved
        /// by `step` from the partition's last (it may go backwards).
        Append {
            event_type: usize,
            topic: u16,
            partition: i32,
            step: i64,
        },
        /// The watermark recomputed, with these partitions at their end.
        Settle {
            at_end: u16,
        },
        RemoveTopic(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            30 => (0..TYPES.len(), 0u16..3, 0i32..3, -20i64..40).prop_map(
                |(event_type, topic, partition, step)| Op::Append { event_type, topic, partition, step }
            ),
            4 => any::<u16>().prop_map(|at_end| Op::Settle { at_end }),
            1 => (0u16..3).prop_map(Op::RemoveTopic),
        ]
    }

    /// What the rule says: each type's events sorted by (clock, topic name,
    /// partition, offset).
    #[derive(Default)]
    struct Model {
        events: Vec<Vec<(u64, u16, i32, i64)>>,
        partitions: BTreeMap<(u16, i32), (i64, i64, u64)>, // next offset, timestamp, clock
    }

    impl Model {
        fn sorted(&self, event_type: usize, ranks: &[u16]) -> Vec<(u64, Position)> {
            let mut events = self.events[event_type].clone();
            events.sort_by_key(|&(clock, topic, partition, offset)| {
                (clock, ranks[usize::from(topic)], partition, offset)
            });
            events
                .into_iter()
                .map(|(clock, topic, partition, offset)| (clock, at(topic, partition, offset)))
                .collect()
        }
    }

    fn check(
        view: &View,
        model: &Model,
        ranks: &[u16],
        probes: &[u64],
    ) -> Result<(), TestCaseError> {
        let watermark = view.watermark();
        let mut total = 0;
        for (t, name) in TYPES.iter().enumerate() {
            let expected = model.sorted(t, ranks);
            total += expected.len();
            let Some(index) = view.type_index(name) else {
                prop_assert!(expected.is_empty());
                continue;
            };
            prop_assert_eq!(index.len(), expected.len() as u64);
            for (i, (clock, position)) in expected.iter().enumerate() {
                let Lookup::Found(found) = view.get(name, i as u64) else {
                    return Err(TestCaseError::fail(format!("{name}#{i} not found")));
                };
                prop_assert_eq!(found.position, *position, "{}#{}", name, i);
                prop_assert_eq!(found.clock, *clock);
                prop_assert_eq!(found.settled, *clock < watermark);
                let located = view.locate(*position).map(|(t, f)| (t, f.index));
                prop_assert_eq!(located, Some(((*name).to_owned(), i as u64)));
            }
            let settled = expected.iter().filter(|(c, _)| *c < watermark).count() as u64;
            prop_assert_eq!(index.settled_count(watermark), settled);
            for probe in probes {
                let first = expected.iter().position(|(c, _)| c >= probe);
                let answer = match view.first_at_or_after(name, *probe) {
                    Lookup::Found(found) => Some(found.index as usize),
                    _ => None,
                };
                prop_assert_eq!(answer, first, "{} at {}", name, probe);
            }
        }
        prop_assert_eq!(view.total(), total as u64);
        Ok(())
    }

    proptest! {
        /// Whatever the appends, clocks (backwards, equal), watermarks and topic
        /// resets, the index answers exactly what sorting by the rule answers.
        #[test]
        fn the_index_matches_the_rule(
            ops in proptest::collection::vec(op(), 0..300),
            probes in proptest::collection::vec(0u64..2_000, 1..8),
        ) {
            let topics = topics();
            let ranks = topics.name_ranks();
            let (view, mut writer) = new_view(&topics);
            let mut model = Model { events: vec![Vec::new(); TYPES.len()], ..Model::default() };
            for op in &ops {
                match op {
                    Op::Append { event_type, topic, partition, step } => {
                        let state = model.partitions.entry((*topic, *partition)).or_insert((0, 0, 0));
                        let offset = state.0;
                        state.0 += 1 + (step.unsigned_abs() % 3) as i64; // gaps, as compaction leaves
                        state.1 = (state.1 + step).max(0);
                        state.2 = state.2.max(state.1 as u64);
                        let appended = event(at(*topic, *partition, offset), state.2);
                        if TYPES[*event_type] == UNCLASSIFIED {
                            writer.append_unclassified(&appended).unwrap();
                        } else {
                            writer.append(TYPES[*event_type], &appended).unwrap();
                        }
                        model.events[*event_type].push((state.2, *topic, *partition, offset));
                    }
                    Op::Settle { at_end } => {
                        let partitions = model.partitions.values().enumerate()
                            .map(|(i, (_, _, clock))| (*clock, at_end >> (i % 16) & 1 == 1));
                        if let Some(w) = watermark(partitions, LATENESS) {
                            writer.advance(w);
                        }
                    }
                    Op::RemoveTopic(topic) => {
                        writer.remove_topic(TopicId(*topic));
                        for events in &mut model.events {
                            events.retain(|e| e.1 != *topic);
                        }
                        model.partitions.retain(|(t, _), _| t != topic);
                    }
                }
            }
            check(&view, &model, &ranks, &probes)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Readers running while the writer appends and settles: a settled index
        /// always names the same event, lengths never go back, and every event
        /// read is one that was appended.
        #[test]
        fn concurrent_readers_see_settled_indexes_stay(
            steps in proptest::collection::vec((0i32..3, 0u64..30), 1..3_000),
        ) {
            let topics = topics();
            let (view, mut writer) = new_view(&topics);
            writer.declare("A");
            let appended: std::collections::HashSet<(i32, i64)> = {
                let mut next = [0i64; 3];
                steps.iter().map(|(p, _)| { let o = next[*p as usize]; next[*p as usize] += 1; (*p, o) }).collect()
            };
            let appended = Arc::new(appended);
            let readers: Vec<_> = (0..2).map(|_| {
                let (view, appended) = (view.clone(), Arc::clone(&appended));
                std::thread::spawn(move || -> Result<(), String> {
                    let mut settled_seen: BTreeMap<u64, Position> = BTreeMap::new();
                    let mut last_len = 0;
                    for round in 0..200u64 {
                        let len = view.type_index("A").map_or(0, |t| t.len());
                        if len < last_len {
                            return Err("length went back".into());
                        }
                        last_len = len;
                        for i in [round % len.max(1), len.saturating_sub(1), len / 2] {
                            if let Lookup::Found(found) = view.get("A", i) {
                                let p = found.position;
                                if !appended.contains(&(p.partition, p.offset)) {
                                    return Err(format!("#{i} is {p:?}, never appended"));
                                }
                                if found.settled
                                    && let Some(before) = settled_seen.insert(i, p)
                                    && before != p
                                {
                                    return Err(format!("settled #{i} moved from {before:?} to {p:?}"));
                                }
                            }
                        }
                    }
                    Ok(())
                })
            }).collect();
            let mut next = [0i64; 3];
            let mut clocks = [0u64; 3];
            for (n, (partition, step)) in steps.iter().enumerate() {
                let p = *partition as usize;
                clocks[p] += step;
                writer.append("A", &event(at(0, *partition, next[p]), clocks[p])).unwrap();
                next[p] += 1;
                if n % 50 == 0 {
                    writer.advance(clocks.iter().copied().min().unwrap_or(0));
                }
            }
            for reader in readers {
                let outcome = reader.join().unwrap();
                prop_assert!(outcome.is_ok(), "{:?}", outcome);
            }
        }
    }
}

proptest! {
    #[test]
    fn a_histogram_counts_what_a_scan_of_the_clocks_counts(
        events in prop::collection::vec((0u16..3, 0i32..3, 0u64..1_000), 0..300),
        from in 0u64..1_100,
        width in 0u64..1_200,
        buckets in 1u64..40,
        watermark in 0u64..1_100,
    ) {
        let (view, mut writer) = new_view(&topics());
        writer.declare("A");
        // Clocks rise along each partition, as the caller's running maximum does.
        let mut clocks = std::collections::BTreeMap::new();
        let mut offsets = std::collections::BTreeMap::new();
        let mut all = Vec::new();
        for (topic, partition, timestamp) in events {
            let clock = clocks.entry((topic, partition)).or_insert(0u64);
            *clock = (*clock).max(timestamp);
            let offset = offsets.entry((topic, partition)).or_insert(0i64);
            writer.append("A", &event(at(topic, partition, *offset), *clock)).unwrap();
            *offset += 1;
            all.push(*clock);
        }
        writer.advance(watermark);
        let watermark = view.watermark();
        let to = from + width;
        let histogram = view.histogram("A", from, to, buckets).unwrap();
        prop_assert_eq!(histogram.counts.len() as u64, buckets);
        let w = histogram.bucket_ms;
        for i in 0..buckets {
            let (start, end) = ((from + w * i).min(to), (from + w * (i + 1)).min(to));
            let inside = |c: &&u64| **c >= start && **c < end;
            prop_assert_eq!(histogram.counts[i as usize], all.iter().filter(inside).count() as u64);
            let tentative = all.iter().filter(inside).filter(|c| **c >= watermark).count();
            prop_assert_eq!(histogram.tentative[i as usize], tentative as u64);
        }
        prop_assert!(view.histogram("nothing", from, to, buckets).is_none());
    }
}
