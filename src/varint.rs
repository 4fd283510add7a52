//! Varints (LEB128) and zig-zag, as Avro writes its longs, Protobuf its fields and
//! the snapshot format its numbers: one writer for the snapshot encoder, the demo's
//! Avro and Protobuf, tests and benches.

/// Appends `v` as a varint: seven bits a byte, low first, the high bit set on all
/// but the last.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as Avro writes a long: zig-zag, then a varint.
pub fn put_long(out: &mut Vec<u8>, v: i64) {
    put(out, zigzag(v));
}

/// Appends a Protobuf varint field: its tag (`number`, wire type 0), then `v`.
pub fn put_varint_field(out: &mut Vec<u8>, number: u32, v: u64) {
    put(out, u64::from(number) << 3);
    put(out, v);
}

/// Appends a Protobuf length-delimited field (bytes, a string, a message): its tag
/// (`number`, wire type 2), the length, the bytes.
pub fn put_bytes_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put(out, u64::from(number) << 3 | 2);
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Zig-zag: small magnitudes, either sign, to small unsigned numbers.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            -1,
            63,
            -64,
            64,
            i64::from(i32::MAX),
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut out = Vec::new();
        put_long(&mut out, -1);
        put_long(&mut out, 64);
        put(&mut out, u64::MAX);
        assert_eq!(out[..3], [0x01, 0x80, 0x01]);
        assert_eq!(out.len(), 3 + 10);
        // Protobuf fields: field 1 = 150, field 2 = "ab" (the encoding guide's examples).
        let mut fields = Vec::new();
        put_varint_field(&mut fields, 1, 150);
        put_bytes_field(&mut fields, 2, b"ab");
        assert_eq!(fields, [0x08, 0x96, 0x01, 0x12, 0x02, b'a', b'b']);
    }
}
