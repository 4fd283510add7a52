//! Varints (LEB128) and zig-zag, as Avro writes its longs and the snapshot format its
//! numbers: one writer for the snapshot encoder, the demo's Avro, tests and benches.

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
    }
}
