//! Append-only tables of `N` integer columns, in blocks of [`BLOCK`] rows: sealed
//! blocks bit-packed, the open block as atomics. One writer appends while any number
//! of readers read, without `unsafe`: the writer stores a row, then publishes the new
//! length with `Release`; a reader loads the length with `Acquire` and reads only
//! below it. Blocks change shape (grown, sealed) only under a brief exclusive lock.
//!
//! A sealed column is either `Rising` (never decreasing: offsets, clocks), stored as
//! each value's residual from the straight line through the block's first and last
//! value, or `Small` (anything: source slots), stored as value minus the block's
//! minimum. Either way a value is O(1) to read. On a type's offsets and clocks the
//! line leaves residuals of a few bits where plain deltas from the minimum need
//! 10-14: this is how an event fits in under 4 bytes (BENCHMARKS.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

/// Rows per block. 256 spreads each sealed block's header (about 90 bytes for two
/// columns) to a third of a byte a row.
pub const BLOCK: usize = 256;
/// Rows the first open block of a table holds before it grows: a rare type stays cheap.
const FIRST_OPEN: usize = 4;

/// How a column's values are packed once sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Never decreasing along the table: residuals from a line.
    Rising,
    /// Any values: offsets from the block's minimum.
    Small,
}

/// How one column of one sealed block is packed.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    /// The block's first value (`Rising`) or 0 (`Small`).
    first: u64,
    /// Last minus first value (`Rising`) or 0.
    rise: u64,
    /// The lowest residual; stored residuals are relative to it.
    low: i64,
    /// Bits per stored residual, 0 to 64.
    width: u8,
}

impl Line {
    fn predicted(&self, row: usize) -> u64 {
        let rise = u128::from(self.rise) * row as u128 / (BLOCK as u128 - 1);
        self.first.wrapping_add(rise as u64)
    }
}

/// A full block, packed: column `c`'s residual for row `r` is `width` bits at bit
/// `c_start + r * width` of `words`.
struct Sealed<const N: usize> {
    lines: [Line; N],
    words: Box<[u64]>,
}

impl<const N: usize> Sealed<N> {
    fn seal(rows: &[[AtomicU64; N]], shapes: [Shape; N]) -> Sealed<N> {
        let mut lines = [Line::default(); N];
        let mut residuals = vec![[0u64; N]; rows.len()];
        for (c, line) in lines.iter_mut().enumerate() {
            let value = |r: usize| rows[r][c].load(Ordering::Relaxed);
            if shapes[c] == Shape::Rising {
                line.first = value(0);
                line.rise = value(BLOCK - 1).wrapping_sub(line.first);
            }
            let signed: Vec<i64> = (0..BLOCK)
                .map(|r| value(r).wrapping_sub(line.predicted(r)) as i64)
                .collect();
            line.low = signed.iter().copied().min().unwrap_or(0);
            let high = signed.iter().copied().max().unwrap_or(0);
            let span = high.wrapping_sub(line.low) as u64;
            let width = 64 - span.leading_zeros();
            // A Small column's width is a power of two, so a field never straddles
            // words and `count_equal` can work a word at a time.
            line.width = match shapes[c] {
                Shape::Small if width > 0 => width.next_power_of_two() as u8,
                _ => width as u8,
            };
            for (r, s) in signed.iter().enumerate() {
                residuals[r][c] = s.wrapping_sub(line.low) as u64;
            }
        }
        let bits: usize = lines.iter().map(|l| usize::from(l.width) * BLOCK).sum();
        let mut words = vec![0u64; bits.div_ceil(64)].into_boxed_slice();
        let mut start = 0;
        for (c, line) in lines.iter().enumerate() {
            let width = usize::from(line.width);
            for (r, row) in residuals.iter().enumerate() {
                write_bits(&mut words, start + r * width, width, row[c]);
            }
            start += width * BLOCK;
        }
        Sealed { lines, words }
    }

    /// Where `column`'s bits start in `words`: after the columns before it.
    fn column_start(&self, column: usize) -> usize {
        self.lines[..column]
            .iter()
            .map(|l| usize::from(l.width) * BLOCK)
            .sum()
    }

    fn get(&self, row: usize, column: usize) -> u64 {
        let start = self.column_start(column);
        let line = &self.lines[column];
        let width = usize::from(line.width);
        let stored = read_bits(&self.words, start + row * width, width);
        line.predicted(row)
            .wrapping_add(line.low as u64)
            .wrapping_add(stored)
    }

    /// Heap bytes beyond the block itself (which lives in the table's vector).
    fn allocated_bytes(&self) -> usize {
        self.words.len() * size_of::<u64>()
    }

    /// Rows in `rows` whose `column` equals `value`: for a `Small` column (its width a
    /// power of two) a word at a time, XOR against the value repeated, each field's
    /// bits folded into its lowest, and a popcount.
    fn count_equal(&self, column: usize, value: u64, rows: std::ops::Range<usize>) -> u64 {
        let start = self.column_start(column);
        let line = &self.lines[column];
        let width = usize::from(line.width);
        let stored = value.wrapping_sub(line.low as u64);
        let small = line.rise == 0 && line.first == 0;
        if !small || width > 32 || !width.is_power_of_two() && width != 0 {
            return rows.filter(|&r| self.get(r, column) == value).count() as u64;
        }
        if width == 0 {
            return if stored == 0 { rows.len() as u64 } else { 0 };
        }
        if stored >> width != 0 {
            return 0;
        }
        let per_word = 64 / width;
        let lowest_bits = u64::MAX / ((1u64 << width) - 1); // 0x5555.. for width 2
        let pattern = stored * lowest_bits;
        let mut count = 0;
        let mut row = rows.start;
        while row < rows.end {
            // `start` is a multiple of 64 (BLOCK * width bits per column).
            let word = self
                .words
                .get((start + row * width) / 64)
                .copied()
                .unwrap_or(0);
            let first = row % per_word;
            let last = per_word.min(first + (rows.end - row));
            let mut folded = word ^ pattern;
            let mut shift = 1;
            while shift < width {
                folded |= folded >> shift;
                shift <<= 1;
            }
            let high = if last * width == 64 {
                u64::MAX
            } else {
                (1u64 << (last * width)) - 1
            };
            let mask = high & !((1u64 << (first * width)) - 1);
            let differing = (folded & lowest_bits & mask).count_ones() as usize;
            count += (last - first - differing) as u64;
            row += last - first;
        }
        count
    }
}

fn write_bits(words: &mut [u64], at: usize, width: usize, value: u64) {
    if width == 0 {
        return;
    }
    let (word, shift) = (at / 64, at % 64);
    words[word] |= value << shift;
    if shift + width > 64 {
        words[word + 1] |= value >> (64 - shift);
    }
}

fn read_bits(words: &[u64], at: usize, width: usize) -> u64 {
    if width == 0 {
        return 0;
    }
    let (word, shift) = (at / 64, at % 64);
    let mut value = words.get(word).copied().unwrap_or(0) >> shift;
    if shift + width > 64 {
        value |= words.get(word + 1).copied().unwrap_or(0) << (64 - shift);
    }
    if width == 64 {
        value
    } else {
        value & ((1u64 << width) - 1)
    }
}

enum Block<const N: usize> {
    Sealed(Sealed<N>),
    Open(Box<[[AtomicU64; N]]>),
}

fn open_block<const N: usize>(capacity: usize) -> Box<[[AtomicU64; N]]> {
    (0..capacity)
        .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
        .collect()
}

/// An append-only table of rows of `N` integers (see the module doc).
pub struct Table<const N: usize> {
    shapes: [Shape; N],
    blocks: RwLock<Vec<Block<N>>>,
    len: AtomicU64,
}

/// A reader's consistent view of a table: its length when taken, and the blocks.
pub struct TableRead<'a, const N: usize> {
    blocks: RwLockReadGuard<'a, Vec<Block<N>>>,
    len: u64,
}

impl<const N: usize> TableRead<'_, N> {
    /// Rows readable through this view.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Column `column` of row `row`; 0 past the end (callers stay below `len`).
    pub fn get(&self, row: u64, column: usize) -> u64 {
        if row >= self.len || column >= N {
            return 0;
        }
        let (block, slot) = ((row / BLOCK as u64) as usize, (row % BLOCK as u64) as usize);
        match self.blocks.get(block) {
            Some(Block::Sealed(sealed)) => sealed.get(slot, column),
            Some(Block::Open(rows)) => rows
                .get(slot)
                .map_or(0, |r| r[column].load(Ordering::Relaxed)),
            None => 0,
        }
    }

    /// Rows in `from..to` whose `column` equals `value` (as many `get`s would, faster).
    pub fn count_equal(&self, column: usize, value: u64, from: u64, to: u64) -> u64 {
        let (mut row, to) = (from, to.min(self.len));
        let mut count = 0;
        while row < to {
            let block = (row / BLOCK as u64) as usize;
            let block_end = ((block as u64 + 1) * BLOCK as u64).min(to);
            let slots =
                (row % BLOCK as u64) as usize..(row % BLOCK as u64 + block_end - row) as usize;
            count += match self.blocks.get(block) {
                Some(Block::Sealed(sealed)) if column < N => {
                    sealed.count_equal(column, value, slots)
                }
                Some(Block::Open(rows)) if column < N => rows[slots]
                    .iter()
                    .filter(|r| r[column].load(Ordering::Relaxed) == value)
                    .count() as u64,
                _ => 0,
            };
            row = block_end;
        }
        count
    }

    /// The first row in `lo..hi` whose `column` is not below `value` (`hi` if none);
    /// the column must not decrease over that range.
    pub fn lower_bound(&self, column: usize, value: u64, lo: u64, hi: u64) -> u64 {
        self.partition_point(lo, hi, |row| self.get(row, column) < value)
    }

    /// The first row in `lo..hi` whose `column` is above `value` (`hi` if none).
    pub fn upper_bound(&self, column: usize, value: u64, lo: u64, hi: u64) -> u64 {
        self.partition_point(lo, hi, |row| self.get(row, column) <= value)
    }

    fn partition_point(&self, lo: u64, hi: u64, before: impl Fn(u64) -> bool) -> u64 {
        partition_point(lo, hi.min(self.len), before)
    }
}

/// The first `x` in `lo..hi` for which `before(x)` is false (`hi` if none); `before`
/// must hold up to some point and fail from there on.
pub fn partition_point(mut lo: u64, mut hi: u64, before: impl Fn(u64) -> bool) -> u64 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl<const N: usize> Table<N> {
    /// An empty table whose columns seal as `shapes` say.
    pub fn new(shapes: [Shape; N]) -> Table<N> {
        Table {
            shapes,
            blocks: RwLock::default(),
            len: AtomicU64::new(0),
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// A view for reading; holds a shared lock the writer takes exclusively only to
    /// grow or seal a block, so keep it for one lookup, not longer.
    pub fn read(&self) -> TableRead<'_, N> {
        // Length first: every row below it was stored before it was published.
        let len = self.len();
        TableRead {
            blocks: self.blocks.read().unwrap_or_else(PoisonError::into_inner),
            len,
        }
    }

    /// Appends a row. Only the table's single writer calls this.
    pub fn push(&self, row: [u64; N]) {
        let index = self.len.load(Ordering::Relaxed);
        let (block, slot) = (
            (index / BLOCK as u64) as usize,
            (index % BLOCK as u64) as usize,
        );
        let stored = {
            let blocks = self.blocks.read().unwrap_or_else(PoisonError::into_inner);
            match blocks.get(block) {
                Some(Block::Open(rows)) if slot < rows.len() => {
                    for (c, value) in row.iter().enumerate() {
                        rows[slot][c].store(*value, Ordering::Relaxed);
                    }
                    true
                }
                _ => false,
            }
        };
        if !stored {
            // A new block, or the first block grown: rows copied, then swapped in.
            let capacity = if block == 0 {
                (slot + 1).next_power_of_two().clamp(FIRST_OPEN, BLOCK)
            } else {
                BLOCK
            };
            let grown = open_block::<N>(capacity);
            let mut blocks = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(Block::Open(rows)) = blocks.get(block) {
                for (new, old) in grown.iter().zip(rows.iter()) {
                    for c in 0..N {
                        new[c].store(old[c].load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                }
            }
            for (c, value) in row.iter().enumerate() {
                grown[slot][c].store(*value, Ordering::Relaxed);
            }
            if block < blocks.len() {
                blocks[block] = Block::Open(grown);
            } else {
                if blocks.len() < 4 {
                    blocks.reserve_exact(1); // a small table stays small
                }
                blocks.push(Block::Open(grown));
            }
        }
        self.len.store(index + 1, Ordering::Release);
        if slot == BLOCK - 1 {
            self.seal(block);
        }
    }

    /// Packs the full open block `block`; readers see the same values before and after.
    fn seal(&self, block: usize) {
        let sealed = {
            let blocks = self.blocks.read().unwrap_or_else(PoisonError::into_inner);
            match blocks.get(block) {
                Some(Block::Open(rows)) if rows.len() == BLOCK => Sealed::seal(rows, self.shapes),
                _ => return,
            }
        };
        let mut blocks = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
        blocks[block] = Block::Sealed(sealed);
    }

    /// Bytes this table has allocated for its rows.
    pub fn allocated_bytes(&self) -> usize {
        let blocks = self.blocks.read().unwrap_or_else(PoisonError::into_inner);
        let rows: usize = blocks
            .iter()
            .map(|block| match block {
                Block::Sealed(sealed) => sealed.allocated_bytes(),
                Block::Open(rows) => rows.len() * N * size_of::<AtomicU64>(),
            })
            .sum();
        rows + blocks.capacity() * size_of::<Block<N>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rows_read_back_exactly_across_block_boundaries(
            steps in proptest::collection::vec((0u64..1_000, 0u64..50_000, 0u64..8), 0..1_200),
            extreme in any::<bool>(),
        ) {
            let table = Table::new([Shape::Rising, Shape::Rising, Shape::Small]);
            let mut model = Vec::new();
            let (mut a, mut b) = if extreme { (u64::MAX / 2, 1 << 62) } else { (0, 0) };
            for (da, db, small) in steps {
                a += da;
                b += db;
                let small = if extreme { small << 60 } else { small };
                table.push([a, b, small]);
                model.push([a, b, small]);
                let read = table.read();
                prop_assert_eq!(read.len(), model.len() as u64);
            }
            let read = table.read();
            for (row, expected) in model.iter().enumerate() {
                for (c, value) in expected.iter().enumerate() {
                    prop_assert_eq!(read.get(row as u64, c), *value, "row {} column {}", row, c);
                }
            }
            let n = model.len();
            for (from, to) in [(0, n), (n / 3, n * 2 / 3)] {
                if let Some(first) = model.get(from) {
                    let value = first[2];
                    let expected = model[from..to].iter().filter(|r| r[2] == value).count();
                    prop_assert_eq!(read.count_equal(2, value, from as u64, to as u64), expected as u64);
                    prop_assert_eq!(read.count_equal(2, u64::MAX - 1, from as u64, to as u64), 0);
                }
            }
            if let Some(last) = model.last() {
                let n = model.len() as u64;
                prop_assert_eq!(read.lower_bound(1, last[1], 0, n), model.partition_point(|r| r[1] < last[1]) as u64);
                prop_assert_eq!(read.upper_bound(0, model[0][0], 0, n), model.partition_point(|r| r[0] <= model[0][0]) as u64);
            }
        }
    }

    #[test]
    fn readers_see_every_published_row_while_the_writer_seals() {
        let table = std::sync::Arc::new(Table::new([Shape::Rising, Shape::Small]));
        let reader = {
            let table = std::sync::Arc::clone(&table);
            std::thread::spawn(move || {
                let mut checked = 0u64;
                while checked < 20_000 {
                    let read = table.read();
                    for row in checked.saturating_sub(300)..read.len() {
                        assert_eq!(read.get(row, 0), row * 3, "row {row}");
                        assert_eq!(read.get(row, 1), row % 5);
                    }
                    checked = read.len();
                }
            })
        };
        for row in 0..20_000u64 {
            table.push([row * 3, row % 5]);
        }
        assert!(reader.join().is_ok());
    }
}
