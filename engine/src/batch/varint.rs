//! Zig-zag varints (protobuf style, as Kafka's `ByteUtils` writes them) and a bounds-checked
//! cursor over untrusted bytes.
//!
//! Every read is checked against the bytes actually present, so a hostile length can never make
//! us index out of bounds or allocate. Encodings are strict: a varint may use at most 5 bytes and
//! a varlong at most 10, and the last byte may not carry bits beyond the 32/64-bit value (Java
//! silently drops such bits; we reject them because no honest encoder produces them).

use crate::error::BatchError;

/// Most bytes a zig-zag varint (i32) may take.
pub(crate) const MAX_VARINT_LEN: usize = 5;
/// Most bytes a zig-zag varlong (i64) may take.
pub(crate) const MAX_VARLONG_LEN: usize = 10;

fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn put_unsigned(out: &mut Vec<u8>, mut u: u64) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

fn unsigned_size(u: u64) -> usize {
    // Bits needed (at least 1), seven per byte.
    let bits = 64 - (u | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends `v` as a zig-zag varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_unsigned(out, zigzag32(v));
}

/// Appends `v` as a zig-zag varlong.
pub(crate) fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_unsigned(out, zigzag64(v));
}

/// Encoded size of `v` as a zig-zag varint.
pub(crate) fn varint_size(v: i32) -> usize {
    unsigned_size(zigzag32(v))
}

/// Encoded size of `v` as a zig-zag varlong.
pub(crate) fn varlong_size(v: i64) -> usize {
    unsigned_size(zigzag64(v))
}

fn invalid(what: &str, detail: impl std::fmt::Display) -> BatchError {
    BatchError::InvalidRecord(format!("{what}: {detail}"))
}

/// A forward-only cursor over borrowed bytes. Errors are [`BatchError::InvalidRecord`] naming
/// the field being read (`what`), because everything read through it lies inside a batch that
/// is already framed.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The bytes not yet consumed (without consuming them).
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// True once every byte has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `len` bytes.
    pub(crate) fn read_slice(&mut self, len: usize, what: &str) -> Result<&'a [u8], BatchError> {
        if len > self.buf.len() {
            return Err(invalid(what, format_args!("needs {len} bytes, only {} left", self.buf.len())));
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    /// Takes one signed byte.
    pub(crate) fn read_i8(&mut self, what: &str) -> Result<i8, BatchError> {
        let b = self.read_slice(1, what)?;
        Ok(b[0] as i8)
    }

    /// Reads an unsigned base-128 number of at most `max_len` bytes whose last byte may not
    /// exceed `last_max` (so the value fits the target width).
    fn read_unsigned(&mut self, max_len: usize, last_max: u8, what: &str) -> Result<u64, BatchError> {
        let mut value = 0u64;
        for i in 0..max_len {
            let Some((&b, tail)) = self.buf.split_first() else {
                return Err(invalid(what, "varint is truncated"));
            };
            self.buf = tail;
            if i == max_len - 1 {
                if b & 0x80 != 0 {
                    return Err(invalid(what, format_args!("varint is longer than {max_len} bytes")));
                }
                if b > last_max {
                    return Err(invalid(what, "varint overflows its type"));
                }
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        // The loop always returns: the last iteration either errors or sees no continuation bit.
        Err(invalid(what, "varint is malformed"))
    }

    /// Reads a zig-zag varint (at most 5 bytes).
    pub(crate) fn read_varint(&mut self, what: &str) -> Result<i32, BatchError> {
        // 5 bytes carry 35 bits; only the low 4 bits of the 5th byte fit in 32.
        let u = self.read_unsigned(MAX_VARINT_LEN, 0x0f, what)? as u32;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    /// Reads a zig-zag varlong (at most 10 bytes).
    pub(crate) fn read_varlong(&mut self, what: &str) -> Result<i64, BatchError> {
        // 10 bytes carry 70 bits; only the low bit of the 10th byte fits in 64.
        let u = self.read_unsigned(MAX_VARLONG_LEN, 0x01, what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Reads a varint length and then that many bytes; length −1 means null, anything below is
    /// invalid.
    pub(crate) fn read_nullable_bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>, BatchError> {
        let len = self.read_varint(what)?;
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(invalid(what, format_args!("negative length {n}"))),
            n => self.read_slice(n as usize, what).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip32(v: i32) {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        assert_eq!(out.len(), varint_size(v), "size of {v}");
        let mut r = Reader::new(&out);
        assert_eq!(r.read_varint("v").unwrap(), v);
        assert!(r.is_empty());
    }

    fn roundtrip64(v: i64) {
        let mut out = Vec::new();
        put_varlong(&mut out, v);
        assert_eq!(out.len(), varlong_size(v), "size of {v}");
        let mut r = Reader::new(&out);
        assert_eq!(r.read_varlong("v").unwrap(), v);
        assert!(r.is_empty());
    }

    #[test]
    fn varint_roundtrips_at_the_edges() {
        for v in [0, 1, -1, 63, -64, 64, -65, 8191, -8192, i32::MAX, i32::MIN] {
            roundtrip32(v);
        }
        for v in [0, 1, -1, i64::from(i32::MAX) + 1, i64::MAX, i64::MIN] {
            roundtrip64(v);
        }
    }

    #[test]
    fn zigzag_matches_protobuf_encoding() {
        // Known encodings: 0→00, -1→01, 1→02, -64→7f, 64→80 01, i32::MIN→ff ff ff ff 0f.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (v, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, *v);
            assert_eq!(&out[..], *bytes, "encoding of {v}");
        }
    }

    #[test]
    fn overlong_and_overflowing_varints_are_rejected() {
        let six = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        let err = Reader::new(&six).read_varint("x").unwrap_err();
        assert!(matches!(err, BatchError::InvalidRecord(ref m) if m.contains("longer than 5")), "{err}");
        let overflow = [0xff, 0xff, 0xff, 0xff, 0x1f];
        let err = Reader::new(&overflow).read_varint("x").unwrap_err();
        assert!(matches!(err, BatchError::InvalidRecord(ref m) if m.contains("overflows")), "{err}");
        let eleven = [0x80; 11];
        assert!(Reader::new(&eleven).read_varlong("x").is_err());
        let overflow64 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader::new(&overflow64).read_varlong("x").is_err());
        let truncated = [0x80];
        assert!(Reader::new(&truncated).read_varint("x").is_err());
    }

    #[test]
    fn nullable_bytes_bounds() {
        let mut r = Reader::new(&[0x01]);
        assert_eq!(r.read_nullable_bytes("k").unwrap(), None);
        let mut r = Reader::new(&[0x03]); // −2
        assert!(r.read_nullable_bytes("k").is_err());
        let mut r = Reader::new(&[0x06, b'a']); // 3 bytes claimed, 1 present
        assert!(r.read_nullable_bytes("k").is_err());
        let mut r = Reader::new(&[0x04, b'a', b'b']);
        assert_eq!(r.read_nullable_bytes("k").unwrap(), Some(&b"ab"[..]));
    }
}
