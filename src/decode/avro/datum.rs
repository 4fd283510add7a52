//! Avro binary datums: checked at ingest (nothing built) and rendered to JSON at
//! lookup, by one decoder walking the writer's schema.
//!
//! Hostile bytes are bounded, not trusted: nesting deeper than [`MAX_DEPTH`], a
//! length beyond the bytes left, more array or map items than the value's size can
//! justify, or JSON output out of proportion to the input are all errors (reason
//! `invalid_avro`), never a stack overflow or an allocation the input asked for.
//! The recursion is ours, so its depth is a plain counter per call, not a
//! process-wide setting.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::schema::{Logical, Node, NodeId, Schemas};

/// How deeply a datum may nest: records, arrays, maps and unions each count one.
/// Real event schemas nest a handful of levels (a union inside a record inside an
/// array is three); apache-avro 0.23's default of 32 stops a recursive tree schema
/// at 16 records. 128 is also as deep as serde_json (the JSON rules, the range
/// pages) and most clients parse. Measured: 128 levels need under 256 KiB of stack
/// in a debug build (128 KiB overflows), so the 2 MiB threads ingest and HTTP run
/// on have room to spare (datum tests).
pub const MAX_DEPTH: usize = 128;

/// Array and map items allowed per datum, beyond 8 per input byte: an item of a
/// zero-byte type (null, an empty record) costs no input, so the count alone bounds
/// the work a few bytes can ask for.
const EXTRA_ITEMS: u64 = 4096;

/// Longest decimal accepted, in bytes (~300 digits): its rendering is quadratic.
const MAX_DECIMAL_BYTES: usize = 128;

/// Why a datum does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DatumError(pub String);

type Result<T> = std::result::Result<T, DatumError>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(DatumError(message.into()))
}

/// Decodes one datum of schema `root` from the start of `bytes`; writes its JSON
/// to `out` when given. Returns how many bytes it took.
pub fn decode_prefix(
    schemas: &Schemas,
    root: NodeId,
    bytes: &[u8],
    out: Option<&mut Vec<u8>>,
) -> Result<usize> {
    let max_output = out.as_ref().map_or(0, |o| o.len()) + 8 * bytes.len() + (1 << 20);
    let mut decoder = Decoder {
        schemas,
        input: Cursor::new(bytes),
        items_left: EXTRA_ITEMS + 8 * bytes.len() as u64,
        out,
        max_output,
    };
    decoder.value(root, 0)?;
    Ok(decoder.input.position())
}

/// Decodes exactly one datum: bytes left after it are an error.
pub fn decode(
    schemas: &Schemas,
    root: NodeId,
    bytes: &[u8],
    out: Option<&mut Vec<u8>>,
) -> Result<()> {
    let used = decode_prefix(schemas, root, bytes, out)?;
    if used < bytes.len() {
        return fail(format!(
            "{} bytes left after the datum ({used} bytes)",
            bytes.len() - used
        ));
    }
    Ok(())
}

/// Reads Avro's primitives from bytes, never past their end.
#[derive(Debug)]
pub struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'b [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// How many bytes were read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'b [u8]> {
        let bytes: &'b [u8] = self.bytes;
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| {
                DatumError(format!(
                    "truncated: needs {n} bytes at byte {}, {} left",
                    self.pos,
                    bytes.len() - self.pos
                ))
            })?;
        let slice = &bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// A zig-zag varint of at most 10 bytes.
    #[inline]
    pub fn long(&mut self) -> Result<i64> {
        let rest = &self.bytes[self.pos..];
        let mut raw: u64 = 0;
        for (i, byte) in rest.iter().take(10).enumerate() {
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(crate::varint::unzigzag(raw));
            }
        }
        if rest.len() < 10 {
            return fail(format!(
                "truncated: a varint at byte {} runs past the end",
                self.pos
            ));
        }
        fail("a varint longer than 10 bytes")
    }

    /// A length: not negative and not beyond the bytes left (no allocation the
    /// input can inflate).
    pub fn length(&mut self) -> Result<usize> {
        let v = self.long()?;
        let left = self.bytes.len() - self.pos;
        match usize::try_from(v) {
            Ok(len) if len <= left => Ok(len),
            _ => fail(format!("length {v} with {left} bytes left")),
        }
    }

    /// Length-prefixed bytes (Avro `bytes` and `string`).
    pub fn bytes(&mut self) -> Result<&'b [u8]> {
        let len = self.length()?;
        self.take(len)
    }
}

struct Decoder<'s, 'b, 'o> {
    schemas: &'s Schemas,
    input: Cursor<'b>,
    items_left: u64,
    out: Option<&'o mut Vec<u8>>,
    max_output: usize,
}

impl<'b> Decoder<'_, 'b, '_> {
    fn value(&mut self, id: NodeId, depth: usize) -> Result<()> {
        let schemas = self.schemas;
        match schemas.node(id) {
            Node::Record { fields, .. } => self.record(fields, depth),
            Node::Array(items) => self.array(*items, depth),
            Node::Map(values) => self.map(*values, depth),
            Node::Union(branches) => self.union(branches, depth),
            Node::Ref(target) => self.value(*target, depth),
            leaf => self.leaf(leaf),
        }
    }

    /// A value that holds no other.
    fn leaf(&mut self, node: &Node) -> Result<()> {
        match node {
            Node::Null => self.emit("null"),
            Node::Boolean => match self.take(1)?[0] {
                0 => self.emit("false"),
                1 => self.emit("true"),
                b => fail(format!("boolean byte {b}")),
            },
            Node::Int(logical) => {
                let v = self.int()?;
                self.emit_integer(i64::from(v), *logical)
            }
            Node::Long(logical) => {
                let v = self.long()?;
                self.emit_integer(v, *logical)
            }
            Node::Float => {
                let raw = self.take(4)?;
                let v = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
                self.emit_float(f64::from(v), || json_number(&v))
            }
            Node::Double => {
                let raw = self.take(8)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(raw);
                let v = f64::from_le_bytes(le);
                self.emit_float(v, || json_number(&v))
            }
            Node::Bytes(logical) => {
                let len = self.length()?;
                let raw = self.take(len)?;
                self.emit_bytes(raw, *logical)
            }
            Node::String(_) => {
                let len = self.length()?;
                let raw = self.take(len)?;
                let text = std::str::from_utf8(raw)
                    .map_err(|_| DatumError("a string is not UTF-8".into()))?;
                self.emit_str(text)?;
                Ok(())
            }
            Node::Fixed { size, logical, .. } => {
                let raw = self.take(*size)?;
                self.emit_bytes(raw, *logical)
            }
            Node::Enum { symbols, name } => {
                let index = self.int()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| symbols.get(i))
                    .ok_or_else(|| DatumError(format!("enum {name} has no symbol {index}")))?;
                self.emit_str(symbol)?;
                Ok(())
            }
            Node::Unresolved(names) => fail(format!("unresolved type {names:?}")),
            Node::Record { .. } | Node::Array(_) | Node::Map(_) | Node::Union(_) | Node::Ref(_) => {
                fail("a composite where a leaf was expected")
            }
        }
    }

    // The composites each have their own small function: one big match that
    // recursed would have a debug-build frame of several KiB per level.
    fn record(&mut self, fields: &[(String, NodeId)], depth: usize) -> Result<()> {
        let depth = self.deeper(depth)?;
        self.emit("{")?;
        for (i, (name, field)) in fields.iter().enumerate() {
            if i > 0 {
                self.emit(",")?;
            }
            self.emit_str(name)?;
            self.emit(":")?;
            self.value(*field, depth)?;
        }
        self.emit("}")
    }

    fn array(&mut self, items: NodeId, depth: usize) -> Result<()> {
        let depth = self.deeper(depth)?;
        self.emit("[")?;
        let mut first = true;
        while let Some(count) = self.block()? {
            for _ in 0..count {
                if !std::mem::take(&mut first) {
                    self.emit(",")?;
                }
                self.value(items, depth)?;
            }
        }
        self.emit("]")
    }

    fn map(&mut self, values: NodeId, depth: usize) -> Result<()> {
        let depth = self.deeper(depth)?;
        self.emit("{")?;
        let mut first = true;
        while let Some(count) = self.block()? {
            for _ in 0..count {
                if !std::mem::take(&mut first) {
                    self.emit(",")?;
                }
                let len = self.length()?;
                let key = std::str::from_utf8(self.take(len)?)
                    .map_err(|_| DatumError("a map key is not UTF-8".into()))?;
                self.emit_str(key)?;
                self.emit(":")?;
                self.value(values, depth)?;
            }
        }
        self.emit("}")
    }

    fn union(&mut self, branches: &[NodeId], depth: usize) -> Result<()> {
        let depth = self.deeper(depth)?;
        let index = self.long()?;
        let Some(branch) = usize::try_from(index).ok().and_then(|i| branches.get(i)) else {
            return fail(format!(
                "union index {index} (the union has {} branches)",
                branches.len()
            ));
        };
        self.value(*branch, depth)
    }

    fn deeper(&self, depth: usize) -> Result<usize> {
        if depth >= MAX_DEPTH {
            return fail(format!("nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(depth + 1)
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8]> {
        self.input.take(n)
    }

    fn long(&mut self) -> Result<i64> {
        self.input.long()
    }

    fn int(&mut self) -> Result<i32> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| DatumError(format!("int {v} out of range")))
    }

    fn length(&mut self) -> Result<usize> {
        self.input.length()
    }

    /// The next array or map block's item count; None at the end.
    fn block(&mut self) -> Result<Option<u64>> {
        let count = self.long()?;
        if count == 0 {
            return Ok(None);
        }
        if count < 0 {
            // A negative count is followed by the block's size in bytes.
            let size = self.long()?;
            if size < 0 {
                return fail(format!("block size {size}"));
            }
        }
        let count = count.unsigned_abs();
        if count > self.items_left {
            return fail(format!(
                "a block of {count} items, more than a value of {} bytes can hold",
                self.input.bytes.len()
            ));
        }
        self.items_left -= count;
        Ok(Some(count))
    }

    #[inline]
    fn emit(&mut self, text: &str) -> Result<()> {
        if let Some(out) = self.out.as_deref_mut() {
            out.extend_from_slice(text.as_bytes());
            if out.len() > self.max_output {
                return fail("its JSON would be out of proportion to its size");
            }
        }
        Ok(())
    }

    #[inline]
    fn emit_str(&mut self, text: &str) -> Result<()> {
        if self.out.is_some() {
            // serde_json escapes; writing into a String cannot fail.
            let quoted = serde_json::to_string(text).unwrap_or_default();
            self.emit(&quoted)?;
        }
        Ok(())
    }

    /// A float; `finite` renders it when it is finite (as a float, an `f32` has a
    /// shorter decimal than widened to `f64`).
    fn emit_float(&mut self, v: f64, finite: impl FnOnce() -> String) -> Result<()> {
        if self.out.is_none() {
            return Ok(());
        }
        let text = if v.is_finite() {
            finite()
        } else if v.is_nan() {
            "\"NaN\"".into()
        } else if v > 0.0 {
            "\"Infinity\"".into()
        } else {
            "\"-Infinity\"".into()
        };
        self.emit(&text)
    }

    fn emit_integer(&mut self, v: i64, logical: Option<Logical>) -> Result<()> {
        if self.out.is_none() {
            return Ok(());
        }
        let text = logical
            .and_then(|l| render_time(v, l))
            .map(|t| format!("\"{t}\""))
            .unwrap_or_else(|| v.to_string());
        self.emit(&text)
    }

    fn emit_bytes(&mut self, raw: &[u8], logical: Option<Logical>) -> Result<()> {
        if self.out.is_none() {
            // Only what rendering could refuse: checking must agree with it.
            if matches!(logical, Some(Logical::Decimal { .. })) {
                check_decimal_len(raw)?;
            }
            return Ok(());
        }
        match logical {
            Some(Logical::Decimal { scale }) => {
                let text = decimal_string(raw, scale)?;
                self.emit_str(&text)?;
            }
            Some(Logical::Uuid) if raw.len() == 16 => {
                let hex: String = raw.iter().fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
                let uuid = format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                );
                self.emit_str(&uuid)?;
            }
            Some(Logical::Duration) if raw.len() == 12 => {
                let part =
                    |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
                let text = format!(
                    "{{\"months\":{},\"days\":{},\"milliseconds\":{}}}",
                    part(0),
                    part(4),
                    part(8)
                );
                self.emit(&text)?;
            }
            _ => {
                if self.out.is_some() {
                    let text = BASE64.encode(raw);
                    self.emit_str(&text)?;
                }
            }
        }
        Ok(())
    }
}

fn json_number<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn check_decimal_len(raw: &[u8]) -> Result<()> {
    if raw.len() > MAX_DECIMAL_BYTES {
        return fail(format!(
            "a decimal of {} bytes (at most {MAX_DECIMAL_BYTES})",
            raw.len()
        ));
    }
    Ok(())
}

/// An exact decimal string for a two's-complement big-endian unscaled value.
pub fn decimal_string(raw: &[u8], scale: u32) -> Result<String> {
    check_decimal_len(raw)?;
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = raw.to_vec();
    if negative {
        // Two's complement: invert and add one.
        for b in &mut magnitude {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Repeated division by 10^9, most significant byte first.
    let mut digits = String::new();
    let mut chunks: Vec<u32> = Vec::new();
    while magnitude.iter().any(|b| *b != 0) {
        let mut remainder: u64 = 0;
        for b in &mut magnitude {
            let current = (remainder << 8) | u64::from(*b);
            *b = (current / 1_000_000_000) as u8;
            remainder = current % 1_000_000_000;
        }
        chunks.push(remainder as u32);
    }
    for (i, chunk) in chunks.iter().rev().enumerate() {
        if i == 0 {
            let _ = write!(digits, "{chunk}");
        } else {
            let _ = write!(digits, "{chunk:09}");
        }
    }
    if digits.is_empty() {
        digits.push('0');
    }
    let scale = scale as usize;
    if scale > 0 {
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        digits.insert(digits.len() - scale, '.');
    }
    if negative {
        digits.insert(0, '-');
    }
    Ok(digits)
}

/// A date or time logical value as text; None when it is out of what the text form
/// can say (then the number is rendered).
fn render_time(v: i64, logical: Logical) -> Option<String> {
    let (per_second, digits, zone) = match logical {
        Logical::Date => return date(v),
        Logical::TimeMillis => return time_of_day(v, 1_000, 3),
        Logical::TimeMicros => return time_of_day(v, 1_000_000, 6),
        Logical::TimestampMillis => (1_000, 3, "Z"),
        Logical::TimestampMicros => (1_000_000, 6, "Z"),
        Logical::TimestampNanos => (1_000_000_000, 9, "Z"),
        Logical::LocalTimestampMillis => (1_000, 3, ""),
        Logical::LocalTimestampMicros => (1_000_000, 6, ""),
        Logical::LocalTimestampNanos => (1_000_000_000, 9, ""),
        Logical::Decimal { .. } | Logical::Uuid | Logical::Duration => return None,
    };
    let seconds = v.div_euclid(per_second);
    let fraction = v.rem_euclid(per_second);
    let day = date(seconds.div_euclid(86_400))?;
    let second_of_day = seconds.rem_euclid(86_400);
    Some(format!(
        "{day}T{:02}:{:02}:{:02}.{fraction:0digits$}{zone}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    ))
}

fn time_of_day(v: i64, per_second: i64, digits: usize) -> Option<String> {
    if !(0..86_400 * per_second).contains(&v) {
        return None;
    }
    let seconds = v / per_second;
    Some(format!(
        "{:02}:{:02}:{:02}.{:0digits$}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        v % per_second
    ))
}

/// `YYYY-MM-DD` for days since 1970-01-01 (proleptic Gregorian; years 0 to 9999,
/// what RFC 3339 can write). Howard Hinnant's civil_from_days.
fn date(days: i64) -> Option<String> {
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (0..=9999)
        .contains(&year)
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests;
