//! Avro object container files (`Obj\x01`, the schema in the header): the
//! fallback an event-sourcing reader tries when a schemaless read fails. Analyzer
//! takes the first record of the first block, with the embedded writer schema.

use std::borrow::Cow;
use std::io::Read as _;

use super::datum::{Cursor, DatumError};

/// The four bytes a container file starts with.
pub const MAGIC: &[u8; 4] = b"Obj\x01";

/// A decompressed block may be at most this many times its compressed size (plus
/// 64 KiB), whatever the codec: a bomb is an error, not an allocation.
const MAX_INFLATION: usize = 64;

/// What a container file holds: its writer schema's JSON text and the bytes its
/// first record starts at (more records may follow them).
#[derive(Debug)]
pub struct Container<'a> {
    /// The `avro.schema` metadata entry.
    pub schema: &'a [u8],
    /// The first block's data, decompressed.
    pub records: Cow<'a, [u8]>,
}

fn fail<T>(message: impl Into<String>) -> Result<T, DatumError> {
    Err(DatumError(message.into()))
}

/// Reads a container file's header and first block.
pub fn read(value: &[u8]) -> Result<Container<'_>, DatumError> {
    read_first_block(value).map_err(|e| DatumError(format!("container file: {}", e.0)))
}

fn read_first_block(value: &[u8]) -> Result<Container<'_>, DatumError> {
    let mut cursor = Cursor::new(value);
    if cursor.take(4)? != MAGIC {
        return fail("not a container file");
    }
    let mut schema = None;
    let mut codec: &[u8] = b"null";
    loop {
        let count = cursor.long()?;
        if count == 0 {
            break;
        }
        if count < 0 {
            cursor.long()?;
        }
        for _ in 0..count.unsigned_abs() {
            let key = cursor.bytes()?;
            let entry = cursor.bytes()?;
            match key {
                b"avro.schema" => schema = Some(entry),
                b"avro.codec" => codec = entry,
                _ => {}
            }
        }
    }
    let schema = schema.ok_or_else(|| DatumError("no schema".into()))?;
    cursor.take(16)?; // the sync marker
    let records = cursor.long()?;
    if records <= 0 {
        return fail("holds no record");
    }
    let data = cursor.bytes()?;
    let limit = data.len().saturating_mul(MAX_INFLATION) + (64 << 10);
    let records = match codec {
        b"null" => Cow::Borrowed(data),
        b"deflate" => Cow::Owned(inflate(
            flate2::read::DeflateDecoder::new(data),
            limit,
            "deflate",
        )?),
        b"zstandard" => {
            let decoder = zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| DatumError(format!("zstandard: {e}")))?;
            Cow::Owned(inflate(decoder, limit, "zstandard")?)
        }
        b"snappy" => Cow::Owned(unsnap(data, limit)?),
        other => {
            return fail(format!(
                "codec {:?} is not supported (null, deflate, snappy and zstandard are)",
                String::from_utf8_lossy(other)
            ));
        }
    };
    Ok(Container { schema, records })
}

/// Reads `decoder` to its end, or to `limit` bytes (a bomb is cut off there and
/// then fails to decode as records, like a truncated block).
fn inflate(decoder: impl std::io::Read, limit: usize, codec: &str) -> Result<Vec<u8>, DatumError> {
    let mut inflated = Vec::new();
    decoder
        .take(limit as u64)
        .read_to_end(&mut inflated)
        .map_err(|e| DatumError(format!("{codec}: {e}")))?;
    Ok(inflated)
}

/// Avro's snappy block: raw snappy, then the CRC-32 (big-endian) of what it
/// decompresses to. The length snappy claims is checked against `limit` before
/// anything is allocated.
fn unsnap(data: &[u8], limit: usize) -> Result<Vec<u8>, DatumError> {
    let Some((compressed, crc)) = data.split_last_chunk::<4>() else {
        return fail("snappy: block shorter than its checksum");
    };
    let length =
        snap::raw::decompress_len(compressed).map_err(|e| DatumError(format!("snappy: {e}")))?;
    if length > limit {
        return fail(format!(
            "snappy: a block of {} bytes claims {length} (more than {MAX_INFLATION} times its size)",
            data.len()
        ));
    }
    let records = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|e| DatumError(format!("snappy: {e}")))?;
    if crc32fast::hash(&records) != u32::from_be_bytes(*crc) {
        return fail("snappy: checksum does not match");
    }
    Ok(records)
}
