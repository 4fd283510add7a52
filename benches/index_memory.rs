//! Heap bytes per indexed event, measured by counting allocations (dhat), not by
//! arithmetic: 10M events over 3 partitions with realistic timestamps (1 to 10 ms
//! apart, partitions and types picked at random), of 5 types and of one type, settled
//! as ingest settles them. Per-event clocks included. Goal: at most 4 bytes per event.
//! Then the cost of a rare type: 200,000 types of one event each (what a type rule
//! picking a unique id makes, up to `classify.max_types`). Goal: at most 1,600 bytes
//! a type, what a type cost before the bit-packed index.
//! `cargo bench --bench index_memory`.
#![allow(missing_docs, clippy::unwrap_used)]

use analyzer::view::{Appended, Position, TopicId, Topics, new_view, watermark};
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const EVENTS: u64 = 10_000_000;
const PARTITIONS: usize = 3;

fn bytes_per_event(types: u64) -> f64 {
    let names: Vec<String> = (0..types).map(|t| format!("type_{t}")).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut next_offset = [0i64; PARTITIONS];
    let mut clocks = [0u64; PARTITIONS];
    let mut now = 1_700_000_000_000u64;
    let topics = Topics::new(&["events".to_owned()]);
    let before = dhat::HeapStats::get().curr_bytes;
    let (view, mut writer) = new_view(&topics);
    for n in 0..EVENTS {
        now += rng.random_range(1..=10);
        let partition = rng.random_range(0..PARTITIONS);
        clocks[partition] = clocks[partition].max(now);
        let event = Appended {
            position: Position {
                topic: TopicId(0),
                partition: partition as i32,
                offset: next_offset[partition],
            },
            clock: clocks[partition],
            value_bytes: 200,
        };
        next_offset[partition] += 1;
        let event_type = &names[rng.random_range(0..names.len())];
        writer.append(event_type, &event).unwrap();
        // As ingest does every 10 ms: the watermark of partitions being read.
        if n % 10_000 == 0
            && let Some(w) = watermark(clocks.iter().map(|c| (*c, false)), 300_000)
        {
            writer.advance(w);
        }
    }
    assert_eq!(view.total(), EVENTS);
    let used = dhat::HeapStats::get().curr_bytes - before;
    println!(
        "  {types} types: dhat counts {used} bytes, the index reports {} (analyzer_index_bytes)",
        view.allocated_bytes()
    );
    drop((view, writer));
    used as f64 / EVENTS as f64
}

fn bytes_per_type(types: u64) -> f64 {
    let topics = Topics::new(&["events".to_owned()]);
    let before = dhat::HeapStats::get().curr_bytes;
    let (view, mut writer) = new_view(&topics);
    for n in 0..types {
        let event = Appended {
            position: Position {
                topic: TopicId(0),
                partition: (n % 3) as i32,
                offset: (n / 3) as i64,
            },
            clock: 1_700_000_000_000 + n,
            value_bytes: 200,
        };
        writer.append(&format!("id-{n:08}"), &event).unwrap();
        if n % 10_000 == 0 {
            writer.advance(1_700_000_000_000 + n);
        }
    }
    assert_eq!(view.type_count() as u64, types);
    let used = dhat::HeapStats::get().curr_bytes - before;
    drop((view, writer));
    used as f64 / types as f64
}

fn main() {
    // Criterion passes its own flags (`--bench`); this binary takes none.
    let _profiler = dhat::Profiler::builder().testing().build();
    for types in [1, 5] {
        let per_event = bytes_per_event(types);
        let verdict = if per_event <= 4.0 { "met" } else { "missed" };
        println!(
            "index_memory/{types}_types: {per_event:.2} bytes/event at {EVENTS} events \
             (goal <= 4: {verdict})"
        );
    }
    let types = 200_000;
    let per_type = bytes_per_type(types);
    let verdict = if per_type <= 1_600.0 { "met" } else { "missed" };
    println!(
        "index_memory/rare_types: {per_type:.0} bytes/type at {types} types of one event \
         (goal <= 1600: {verdict})"
    );
}
