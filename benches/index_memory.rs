//! Heap bytes per indexed event, measured by counting allocations (dhat), not by
//! arithmetic: 10M events spread over 5 types and 3 partitions, and 10M of one type.
//! Goal: at most 16 bytes per event. `cargo bench --bench index_memory`.
#![allow(missing_docs, clippy::unwrap_used)]

use analyzer::view::{Appended, Position, TopicId, new_view};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const EVENTS: u64 = 10_000_000;

fn bytes_per_event(types: u64) -> f64 {
    let names: Vec<String> = (0..types).map(|t| format!("type_{t}")).collect();
    let before = dhat::HeapStats::get().curr_bytes;
    let (view, mut writer) = new_view();
    for offset in 0..EVENTS as i64 {
        let event = Appended {
            position: Position {
                topic: TopicId(0),
                partition: (offset % 3) as i32,
                offset,
            },
            timestamp_ms: Some(1_700_000_000_000 + offset),
            value_bytes: 200,
        };
        writer
            .append(&names[offset as usize % names.len()], &event)
            .unwrap();
    }
    assert_eq!(view.total(), EVENTS);
    let used = dhat::HeapStats::get().curr_bytes - before;
    drop((view, writer));
    used as f64 / EVENTS as f64
}

fn main() {
    // Criterion passes its own flags (`--bench`); this binary takes none.
    let _profiler = dhat::Profiler::builder().testing().build();
    for types in [1, 5] {
        let per_event = bytes_per_event(types);
        let verdict = if per_event <= 16.0 { "met" } else { "missed" };
        println!(
            "index_memory/{types}_types: {per_event:.2} bytes/event at {EVENTS} events \
             (goal <= 16: {verdict})"
        );
    }
}
