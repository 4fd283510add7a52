//! The index against its floor, measured in the same run: a lookup in the view versus
//! indexing a plain `Vec` of positions, and appends versus `Vec::push`, at 1M and 10M
//! entries; then the `/stats` counts map. Read the ratio of each pair, not the
//! absolute times. `cargo bench --bench view`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use analyzer::view::{Appended, Position, new_view};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [u64; 2] = [1_000_000, 10_000_000];

fn position(offset: i64) -> Position {
    Position {
        topic: 0,
        partition: (offset % 3) as i32,
        offset,
    }
}

fn event(offset: i64) -> Appended {
    Appended {
        position: position(offset),
        timestamp_ms: Some(1_700_000_000_000 + offset),
        value_bytes: 200,
    }
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for n in SIZES {
        let (view, mut writer) = new_view();
        let mut baseline = Vec::with_capacity(n as usize);
        for offset in 0..n as i64 {
            writer.append("t", &event(offset)).unwrap();
            baseline.push(position(offset));
        }
        let index = view.type_index("t").unwrap();
        let mut i = 0u64;
        let step = 7_919; // a prime stride: touches memory all over the index
        group.bench_function(BenchmarkId::new("vec_baseline", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(baseline[i as usize])
            })
        });
        group.bench_function(BenchmarkId::new("view_by_type", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(view.get("t", i))
            })
        });
        group.bench_function(BenchmarkId::new("type_index", n), |b| {
            b.iter(|| {
                i = (i + step) % n;
                black_box(index.get(i))
            })
        });
    }
    group.finish();
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    for n in SIZES {
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::new("vec_baseline", n), |b| {
            b.iter(|| {
                let mut v = Vec::new();
                for offset in 0..n as i64 {
                    v.push(event(offset));
                }
                black_box(v.len())
            })
        });
        group.bench_function(BenchmarkId::new("view", n), |b| {
            b.iter(|| {
                let (view, mut writer) = new_view();
                for offset in 0..n as i64 {
                    writer.append("t", &event(offset)).unwrap();
                }
                black_box(view.total())
            })
        });
    }
    group.finish();
}

fn counts(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats_counts");
    for types in [5, 50] {
        let (view, mut writer) = new_view();
        for offset in 0..100_000 {
            writer
                .append(&format!("type_{}", offset % types), &event(offset))
                .unwrap();
        }
        group.bench_function(BenchmarkId::new("counts", types), |b| {
            b.iter(|| black_box(view.counts()))
        });
        group.bench_function(BenchmarkId::new("counts_as_json", types), |b| {
            b.iter(|| black_box(serde_json::to_vec(&view.counts()).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, lookups, appends, counts);
criterion_main!(benches);
