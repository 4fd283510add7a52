//! Index snapshots: the whole index, every partition's next offset and clock, and
//! the unclassified counts, written now and then so that a restart resumes from
//! there instead of re-reading the topic from offset 0.
//!
//! A snapshot is one immutable segment file (this module's binary format, with a
//! version and a checksum) named by a small manifest that is replaced atomically
//! ([`store`]). Its rows are each type's (offset, clock) per partition: replayed
//! into an empty index they give the very numbering they were cut from, because
//! the numbering is a function of those rows alone.

pub mod s3;
pub mod store;

use crate::varint::{put, unzigzag, zigzag};
use std::path::PathBuf;

/// Where snapshots are kept: a directory, or object storage.
pub enum Location {
    /// `[snapshot] dir`.
    Dir(PathBuf),
    /// `[snapshot] url`.
    S3(Box<s3::S3Store>),
}

/// Where `[snapshot]` keeps snapshots: its directory and its object storage, when
/// set (S3 credentials, region and endpoint from `lookup`, the environment); a
/// problem names its key.
pub fn locations(
    settings: &crate::config::SnapshotSettings,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Vec<Location>>, (String, String)> {
    let mut locations = Vec::new();
    if let Some(dir) = &settings.dir {
        locations.push(Location::Dir(dir.clone()));
    }
    if let Some(url) = &settings.url {
        let store =
            s3::S3Store::from_env(url, lookup).map_err(|why| ("snapshot.url".to_owned(), why))?;
        locations.push(Location::S3(Box::new(store)));
    }
    Ok((!locations.is_empty()).then_some(locations))
}

impl Location {
    /// Writes an encoded snapshot (of `topics`, holding `events`) and makes it the newest.
    pub fn write_encoded(
        &self,
        bytes: &[u8],
        topics: &[String],
        events: u64,
    ) -> Result<store::Written, SnapshotError> {
        match self {
            Location::Dir(dir) => store::write_encoded(dir, bytes, topics, events),
            Location::S3(s3) => s3.write_encoded(bytes, topics, events),
        }
    }

    /// The newest snapshot there; None when there is none.
    pub fn read(&self) -> Result<Option<(store::Manifest, Snapshot)>, SnapshotError> {
        match self {
            Location::Dir(dir) => store::read(dir),
            Location::S3(s3) => s3.read(),
        }
    }

    /// For logs.
    pub fn describe(&self) -> String {
        match self {
            Location::Dir(dir) => dir.display().to_string(),
            Location::S3(s3) => s3.describe(),
        }
    }
}

/// The format written; a snapshot of any other is ignored (a full re-read).
/// 2: each partition's last record also fingerprinted by a checksum.
/// 3: the key index, when it is on (a 2 reads as one without it).
/// 4: how its events were typed (the rule and the value formats' settings, as
/// [`Snapshot::typing`] says); a 2 or 3 reads with that unknown.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format still read.
pub const OLDEST_READ: u32 = 2;
const MAGIC: &[u8; 8] = b"ANLZSNAP";

/// Why a snapshot cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SnapshotError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError(message.into()))
}

/// Everything a restart needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The configured topics, in their configured order (positions refer to them).
    pub topics: Vec<String>,
    /// Where each partition's reading stood.
    pub partitions: Vec<PartitionMark>,
    /// Each type's rows (the unclassified index has no name).
    pub types: Vec<TypeRows>,
    /// Unclassified counts per topic, by reason name.
    pub unclassified: Vec<Vec<(String, u64)>>,
    /// The key index, when the writer had it on.
    pub keys: Option<KeySection>,
    /// How its events were typed: the classification rule and the value formats'
    /// settings, in words (startup's `typing`); a start that types events
    /// otherwise cannot use the snapshot. Empty: unknown (format 2 or 3).
    pub typing: String,
}

/// The key index at the cut: each key's events by their type's stream and row,
/// which the snapshot's rows give back in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySection {
    /// How keys were found (`[keys]`, as `KeyRule` describes it): a snapshot of
    /// other keys is not this index.
    pub rule: String,
    /// Each key and its events, in its history's order.
    pub keys: Vec<KeyRows>,
}

/// One key's events at the cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyRows {
    /// The key's bytes.
    pub key: Vec<u8>,
    /// Its events, in its history's order.
    pub events: Vec<KeyRow>,
}

/// One event of a key: the row of a stream of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRow {
    /// Index into [`Snapshot::types`].
    pub type_ref: u32,
    /// Index into [`Snapshot::topics`].
    pub topic: u16,
    /// The partition.
    pub partition: i32,
    /// The row in that type's stream of that partition.
    pub row: u64,
}

/// One partition's reading at the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionMark {
    /// Index into [`Snapshot::topics`].
    pub topic: u16,
    /// The partition.
    pub partition: i32,
    /// One past the last offset indexed.
    pub next_offset: i64,
    /// The partition's clock (running maximum of its timestamps).
    pub clock: u64,
    /// The timestamp of the record at `next_offset - 1`, which a restart reads back
    /// to check that the log is still the one the snapshot was cut from.
    pub last_timestamp: Option<i64>,
    /// That record's [`record_checksum`], when its payload was at hand at the cut
    /// (in the payload cache); checked too at a restart.
    pub last_checksum: Option<u32>,
}

/// A record's fingerprint: CRC-32 of its key and value, each length-prefixed (a
/// null key or value counts as empty, as the payload cache keeps them).
pub fn record_checksum(key: Option<&[u8]>, value: Option<&[u8]>) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for part in [key.unwrap_or_default(), value.unwrap_or_default()] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize()
}

/// One type's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRows {
    /// The type; None for the unclassified index.
    pub name: Option<String>,
    /// Per partition.
    pub streams: Vec<StreamRows>,
}

/// One type's rows in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRows {
    /// Index into [`Snapshot::topics`].
    pub topic: u16,
    /// The partition.
    pub partition: i32,
    /// Total size of the values.
    pub value_bytes: u64,
    /// (offset, clock), both never decreasing.
    pub rows: Vec<(u64, u64)>,
}

impl Snapshot {
    /// Events the snapshot indexes.
    pub fn events(&self) -> u64 {
        self.types
            .iter()
            .flat_map(|t| &t.streams)
            .map(|s| s.rows.len() as u64)
            .sum()
    }

    /// The binary form: magic, version, body, CRC-32 of all before it.
    pub fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::new(&self.topics, &self.partitions, self.types.len());
        for t in &self.types {
            encoder.start_type(t.name.as_deref(), t.streams.len());
            for s in &t.streams {
                encoder.stream(
                    s.topic,
                    s.partition,
                    s.value_bytes,
                    s.rows.len(),
                    s.rows.iter().copied(),
                );
            }
        }
        encoder.unclassified(&self.unclassified);
        if let Some(section) = &self.keys {
            encoder.start_keys(&section.rule, section.keys.len());
            for key in &section.keys {
                encoder.key(&key.key, &key.events);
            }
        }
        encoder.finish(&self.typing)
    }

    /// Reads the binary form; anything short, corrupt or of another version is an
    /// error saying so.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return fail("not a snapshot (bad magic or too short)");
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let version = u32::from_le_bytes([body[8], body[9], body[10], body[11]]);
        if !(OLDEST_READ..=FORMAT_VERSION).contains(&version) {
            return fail(format!(
                "format version {version}, this build reads {OLDEST_READ} to {FORMAT_VERSION}"
            ));
        }
        if crc32fast::hash(body).to_le_bytes() != crc {
            return fail("checksum mismatch (corrupt or truncated)");
        }
        let mut r = Reader {
            bytes: body,
            pos: MAGIC.len() + 4,
        };
        let mut snapshot = Snapshot::default();
        for _ in 0..r.count()? {
            snapshot.topics.push(r.string()?);
        }
        for _ in 0..r.count()? {
            let topic = r.small()?;
            let partition = r.partition()?;
            let next_offset = unzigzag(r.get()?);
            if next_offset < 0 {
                return fail(format!("next offset {next_offset}"));
            }
            let clock = r.get()?;
            let last_timestamp = match r.get()? {
                0 => None,
                _ => Some(unzigzag(r.get()?)),
            };
            let last_checksum = match r.get()? {
                0 => None,
                _ => Some(
                    u32::try_from(r.get()?)
                        .map_err(|_| SnapshotError("a checksum beyond 32 bits".into()))?,
                ),
            };
            if next_offset == 0 && (last_timestamp.is_some() || last_checksum.is_some()) {
                return fail("a last record in a partition with none read");
            }
            snapshot.partitions.push(PartitionMark {
                topic,
                partition,
                next_offset,
                clock,
                last_timestamp,
                last_checksum,
            });
        }
        for _ in 0..r.count()? {
            let name = match r.get()? {
                0 => None,
                _ => Some(r.string()?),
            };
            let mut streams = Vec::new();
            for _ in 0..r.count()? {
                let topic = r.small()?;
                let partition = r.partition()?;
                let value_bytes = r.get()?;
                let n = r.count()?;
                let mut rows = Vec::with_capacity(n);
                let (mut offset, mut clock) = (0u64, 0u64);
                for i in 0..n {
                    let delta = r.get()?;
                    // Offsets rise within a stream, and fit a Kafka offset (i64).
                    offset = match offset.checked_add(delta) {
                        Some(next) if (i == 0 || delta > 0) && next <= i64::MAX as u64 => next,
                        _ => return fail(format!("offset {offset} + {delta} in a stream")),
                    };
                    clock = clock.wrapping_add(r.get()?);
                    rows.push((offset, clock));
                }
                streams.push(StreamRows {
                    topic,
                    partition,
                    value_bytes,
                    rows,
                });
            }
            snapshot.types.push(TypeRows { name, streams });
        }
        for _ in 0..r.count()? {
            let mut counts = Vec::new();
            for _ in 0..r.count()? {
                counts.push((r.string()?, r.get()?));
            }
            snapshot.unclassified.push(counts);
        }
        if version >= 3 && r.get()? == 1 {
            let rule = r.string()?;
            let mut keys = Vec::new();
            for _ in 0..r.count()? {
                let n = r.count()?;
                let key = r.bytes(n)?.to_vec();
                let mut events = Vec::new();
                for _ in 0..r.count()? {
                    let type_ref = u32::try_from(r.get()?)
                        .map_err(|_| SnapshotError("a key event's type beyond 32 bits".into()))?;
                    events.push(KeyRow {
                        type_ref,
                        topic: r.small()?,
                        partition: r.partition()?,
                        row: r.get()?,
                    });
                }
                keys.push(KeyRows { key, events });
            }
            snapshot.keys = Some(KeySection { rule, keys });
        }
        if version >= 4 {
            snapshot.typing = r.string()?;
        }
        if r.pos != body.len() {
            return fail("bytes left after the snapshot");
        }
        snapshot.check_rows_against_partitions()?;
        Ok(snapshot)
    }
}

impl Snapshot {
    /// A CRC proves no authorship (a bucket may be shared): every row must lie in a
    /// partition the snapshot marks once, below where its reading stood.
    fn check_rows_against_partitions(&self) -> Result<(), SnapshotError> {
        let mut next_offsets = std::collections::HashMap::new();
        for mark in &self.partitions {
            if next_offsets
                .insert((mark.topic, mark.partition), mark.next_offset)
                .is_some()
            {
                return fail(format!(
                    "partition {}/{} marked twice",
                    mark.topic, mark.partition
                ));
            }
        }
        for stream in self.types.iter().flat_map(|t| &t.streams) {
            let next = next_offsets.get(&(stream.topic, stream.partition));
            let last = stream.rows.last().map_or(0, |(offset, _)| *offset as i64);
            match next {
                Some(next) if stream.rows.is_empty() || last < *next => {}
                _ => {
                    return fail(format!(
                        "rows up to offset {last} in partition {}/{}, which is not marked there",
                        stream.topic, stream.partition
                    ));
                }
            }
        }
        if self.unclassified.len() > self.topics.len() {
            return fail("unclassified counts of more topics than the snapshot names");
        }
        // Every key event is a row the snapshot holds.
        let mut lens = std::collections::HashMap::new();
        for (type_ref, t) in self.types.iter().enumerate() {
            for stream in &t.streams {
                lens.insert(
                    (type_ref as u32, stream.topic, stream.partition),
                    stream.rows.len() as u64,
                );
            }
        }
        for key in self.keys.iter().flat_map(|k| &k.keys) {
            for e in &key.events {
                if lens
                    .get(&(e.type_ref, e.topic, e.partition))
                    .is_none_or(|len| e.row >= *len)
                {
                    return fail(format!(
                        "a key event at row {} of type {} in {}/{}, which the snapshot does not hold",
                        e.row, e.type_ref, e.topic, e.partition
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Writes the binary form piece by piece, so that a snapshot of a large index is
/// encoded straight from the index's rows, never held as rows in between.
pub struct Encoder {
    out: Vec<u8>,
    /// Whether a key section was started.
    keys: bool,
}

impl Encoder {
    /// Starts a snapshot of `topics` and `partitions` with `types` types to come.
    pub fn new(topics: &[String], partitions: &[PartitionMark], types: usize) -> Encoder {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        put(&mut out, topics.len() as u64);
        for topic in topics {
            put_bytes(&mut out, topic.as_bytes());
        }
        put(&mut out, partitions.len() as u64);
        for p in partitions {
            put(&mut out, u64::from(p.topic));
            put(&mut out, zigzag(i64::from(p.partition)));
            put(&mut out, zigzag(p.next_offset));
            put(&mut out, p.clock);
            match p.last_timestamp {
                Some(ts) => {
                    put(&mut out, 1);
                    put(&mut out, zigzag(ts));
                }
                None => put(&mut out, 0),
            }
            match p.last_checksum {
                Some(checksum) => {
                    put(&mut out, 1);
                    put(&mut out, u64::from(checksum));
                }
                None => put(&mut out, 0),
            }
        }
        put(&mut out, types as u64);
        Encoder { out, keys: false }
    }

    /// Starts a type (None: the unclassified index) of `streams` streams.
    pub fn start_type(&mut self, name: Option<&str>, streams: usize) {
        match name {
            Some(name) => {
                put(&mut self.out, 1);
                put_bytes(&mut self.out, name.as_bytes());
            }
            None => put(&mut self.out, 0),
        }
        put(&mut self.out, streams as u64);
    }

    /// One stream of the current type: `len` (offset, clock) rows.
    pub fn stream(
        &mut self,
        topic: u16,
        partition: i32,
        value_bytes: u64,
        len: usize,
        rows: impl Iterator<Item = (u64, u64)>,
    ) {
        let out = &mut self.out;
        put(out, u64::from(topic));
        put(out, zigzag(i64::from(partition)));
        put(out, value_bytes);
        put(out, len as u64);
        // Deltas: offsets and clocks both rise, so most take a byte or two.
        let (mut offset, mut clock) = (0u64, 0u64);
        for (o, c) in rows.take(len) {
            put(out, o.wrapping_sub(offset));
            put(out, c.wrapping_sub(clock));
            (offset, clock) = (o, c);
        }
    }

    /// The unclassified counts, after the types.
    pub fn unclassified(&mut self, unclassified: &[Vec<(String, u64)>]) {
        let out = &mut self.out;
        put(out, unclassified.len() as u64);
        for counts in unclassified {
            put(out, counts.len() as u64);
            for (reason, count) in counts {
                put_bytes(out, reason.as_bytes());
                put(out, *count);
            }
        }
    }

    /// Starts the key index's section (after the unclassified counts): `keys`
    /// keys to come, found by `rule`. Without it, the snapshot has no key index.
    pub fn start_keys(&mut self, rule: &str, keys: usize) {
        self.keys = true;
        put(&mut self.out, 1);
        put_bytes(&mut self.out, rule.as_bytes());
        put(&mut self.out, keys as u64);
    }

    /// One key and its events, in its history's order.
    pub fn key(&mut self, key: &[u8], events: &[KeyRow]) {
        let out = &mut self.out;
        put_bytes(out, key);
        put(out, events.len() as u64);
        for e in events {
            put(out, u64::from(e.type_ref));
            put(out, u64::from(e.topic));
            put(out, zigzag(i64::from(e.partition)));
            put(out, e.row);
        }
    }

    /// Ends with how the events were typed, and the checksum.
    pub fn finish(mut self, typing: &str) -> Vec<u8> {
        if !self.keys {
            put(&mut self.out, 0);
        }
        put_bytes(&mut self.out, typing.as_bytes());
        let crc = crc32fast::hash(&self.out);
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn get(&mut self) -> Result<u64, SnapshotError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return fail("truncated");
            };
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        fail("a varint longer than 10 bytes")
    }

    /// A count of things that each take at least a byte: never more than the bytes
    /// left, so a corrupt count cannot ask for a huge allocation.
    fn count(&mut self) -> Result<usize, SnapshotError> {
        let n = self.get()?;
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return fail(format!("a count of {n} with {left} bytes left"));
        }
        Ok(n as usize)
    }

    fn small(&mut self) -> Result<u16, SnapshotError> {
        let v = self.get()?;
        u16::try_from(v).or_else(|_| fail(format!("topic index {v}")))
    }

    fn partition(&mut self) -> Result<i32, SnapshotError> {
        let v = unzigzag(self.get()?);
        i32::try_from(v)
            .ok()
            .filter(|p| *p >= 0)
            .map_or_else(|| fail(format!("partition {v}")), Ok)
    }

    /// The next `n` bytes (a count already bounded by what is left).
    fn bytes(&mut self, n: usize) -> Result<&[u8], SnapshotError> {
        let bytes = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or_else(|| SnapshotError("truncated".into()))?;
        self.pos += n;
        Ok(bytes)
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let n = self.count()?;
        let bytes = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        String::from_utf8(bytes.to_vec()).or_else(|_| fail("a name is not UTF-8"))
    }
}

#[cfg(test)]
mod tests;
