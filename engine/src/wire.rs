//! Kafka wire-format primitives for the internal topics' records: a bounds-checked reader and a
//! writer for fixed-width integers, (compact) strings and arrays, unsigned varints and tagged
//! fields. Every length read is checked against the bytes present before anything is allocated.

use crate::txn::log_format::RecordFormatError;

/// Longest string Kafka's `STRING` / `COMPACT_STRING` may hold.
pub(crate) const MAX_STRING_LEN: usize = i16::MAX as usize;

/// A bounds-checked cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    record: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], record: &'static str) -> Self {
        Reader { buf, pos: 0, record }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn malformed(&self, detail: impl Into<String>) -> RecordFormatError {
        RecordFormatError::Malformed { record: self.record, offset: self.pos, detail: detail.into() }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordFormatError> {
        if n > self.remaining() {
            return Err(RecordFormatError::Truncated {
                record: self.record,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordFormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, RecordFormatError> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub(crate) fn i16(&mut self) -> Result<i16, RecordFormatError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, RecordFormatError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64, RecordFormatError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Unsigned varint (not zig-zag), at most 5 bytes and 32 bits, as Kafka's
    /// `readUnsignedVarint`; bits beyond 32 are rejected rather than dropped.
    pub(crate) fn uvarint(&mut self) -> Result<u32, RecordFormatError> {
        let start = self.pos;
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            if i == 4 && b > 0x0f {
                self.pos = start;
                return Err(self.malformed("unsigned varint longer than 32 bits"));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.pos = start;
        Err(self.malformed("unsigned varint longer than 5 bytes"))
    }

    /// A length: i16 (strings) / i32 (arrays, bytes) when not flexible, `uvarint − 1` when
    /// flexible. `None` is null (−1).
    fn length(&mut self, flexible: bool, short: bool) -> Result<Option<usize>, RecordFormatError> {
        let at = self.pos;
        let n: i64 = if flexible {
            i64::from(self.uvarint()?) - 1
        } else if short {
            i64::from(self.i16()?)
        } else {
            i64::from(self.i32()?)
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => {
                self.pos = at;
                Err(self.malformed(format!("negative length {n}")))
            }
            // Fits: n ≤ u32::MAX.
            n => Ok(Some(n as usize)),
        }
    }

    fn string_of_len(&mut self, len: usize) -> Result<String, RecordFormatError> {
        if len > MAX_STRING_LEN {
            return Err(self.malformed(format!("string length {len} exceeds {MAX_STRING_LEN}")));
        }
        let at = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => {
                self.pos = at;
                Err(self.malformed(format!("string is not UTF-8: {e}")))
            }
        }
    }

    pub(crate) fn nullable_string(&mut self, flexible: bool) -> Result<Option<String>, RecordFormatError> {
        match self.length(flexible, true)? {
            None => Ok(None),
            Some(len) => self.string_of_len(len).map(Some),
        }
    }

    pub(crate) fn string(&mut self, flexible: bool, field: &str) -> Result<String, RecordFormatError> {
        let at = self.pos;
        self.nullable_string(flexible)?.ok_or_else(|| RecordFormatError::Malformed {
            record: self.record,
            offset: at,
            detail: format!("non-nullable string {field} is null"),
        })
    }

    pub(crate) fn bytes(&mut self, flexible: bool, field: &str) -> Result<Vec<u8>, RecordFormatError> {
        let at = self.pos;
        match self.length(flexible, false)? {
            None => Err(RecordFormatError::Malformed {
                record: self.record,
                offset: at,
                detail: format!("non-nullable bytes {field} are null"),
            }),
            Some(len) => Ok(self.take(len)?.to_vec()),
        }
    }

    /// Nullable bytes (`None` for null).
    pub(crate) fn nullable_bytes(&mut self, flexible: bool) -> Result<Option<Vec<u8>>, RecordFormatError> {
        match self.length(flexible, false)? {
            None => Ok(None),
            Some(len) => Ok(Some(self.take(len)?.to_vec())),
        }
    }

    /// An array length, checked against the bytes left: `n` elements of at least
    /// `min_elem_size` bytes each must fit, so a hostile count cannot drive an allocation.
    pub(crate) fn array_len(
        &mut self,
        flexible: bool,
        min_elem_size: usize,
        field: &str,
    ) -> Result<Option<usize>, RecordFormatError> {
        let at = self.pos;
        let n = self.length(flexible, false)?;
        if let Some(n) = n
            && n.saturating_mul(min_elem_size) > self.remaining()
        {
            self.pos = at;
            return Err(self.malformed(format!(
                "array {field} claims {n} elements but only {} bytes remain",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// A tagged-field section. `known(tag, reader over exactly the field's bytes)` returns
    /// `Ok(true)` if it consumed a known tag; unknown tags are skipped. A known field must
    /// use exactly its bytes.
    pub(crate) fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader<'a>) -> Result<bool, RecordFormatError>,
    ) -> Result<(), RecordFormatError> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let at = self.pos;
            let data = self.take(size)?;
            let mut sub = Reader { buf: &self.buf[..at + size], pos: at, record: self.record };
            debug_assert_eq!(&sub.buf[at..], data);
            if known(tag, &mut sub)? && sub.remaining() != 0 {
                return Err(RecordFormatError::Malformed {
                    record: self.record,
                    offset: at,
                    detail: format!("tagged field {tag} has {} unread bytes", sub.remaining()),
                });
            }
        }
        Ok(())
    }

    /// Fails if bytes are left after the last field.
    pub(crate) fn finish(self) -> Result<(), RecordFormatError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.malformed(format!("{} trailing bytes", self.remaining())))
        }
    }
}

/// Builds a record; string / array writers check what Kafka's writers check.
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
    record: &'static str,
}

impl Writer {
    pub(crate) fn new(record: &'static str) -> Self {
        Writer { buf: Vec::with_capacity(64), record }
    }

    pub(crate) fn unencodable(&self, detail: impl Into<String>) -> RecordFormatError {
        RecordFormatError::Unencodable { record: self.record, detail: detail.into() }
    }

    pub(crate) fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A length (`None` = null) in the encoding of the version.
    fn length(&mut self, len: Option<usize>, flexible: bool, short: bool) -> Result<(), RecordFormatError> {
        let max = if short { MAX_STRING_LEN } else { i32::MAX as usize - 1 };
        match len {
            Some(n) if n > max => Err(self.unencodable(format!("length {n} exceeds {max}"))),
            // n + 1 ≤ i32::MAX fits u32.
            Some(n) if flexible => {
                self.uvarint(n as u32 + 1);
                Ok(())
            }
            None if flexible => {
                self.uvarint(0);
                Ok(())
            }
            Some(n) if short => {
                self.i16(n as i16);
                Ok(())
            }
            Some(n) => {
                self.i32(n as i32);
                Ok(())
            }
            None if short => {
                self.i16(-1);
                Ok(())
            }
            None => {
                self.i32(-1);
                Ok(())
            }
        }
    }

    pub(crate) fn nullable_string(
        &mut self,
        s: Option<&str>,
        flexible: bool,
    ) -> Result<(), RecordFormatError> {
        self.length(s.map(str::len), flexible, true)?;
        if let Some(s) = s {
            self.buf.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }

    pub(crate) fn string(&mut self, s: &str, flexible: bool) -> Result<(), RecordFormatError> {
        self.nullable_string(Some(s), flexible)
    }

    pub(crate) fn bytes(&mut self, b: &[u8], flexible: bool) -> Result<(), RecordFormatError> {
        self.length(Some(b.len()), flexible, false)?;
        self.buf.extend_from_slice(b);
        Ok(())
    }

    pub(crate) fn nullable_bytes(
        &mut self,
        b: Option<&[u8]>,
        flexible: bool,
    ) -> Result<(), RecordFormatError> {
        self.length(b.map(<[u8]>::len), flexible, false)?;
        if let Some(b) = b {
            self.buf.extend_from_slice(b);
        }
        Ok(())
    }

    pub(crate) fn array_len(&mut self, n: Option<usize>, flexible: bool) -> Result<(), RecordFormatError> {
        self.length(n, flexible, false)
    }

    /// A tagged-field section; `fields` must be in ascending tag order (as Kafka writes it).
    pub(crate) fn tagged_fields(&mut self, fields: &[(u32, Vec<u8>)]) {
        debug_assert!(fields.windows(2).all(|w| w[0].0 < w[1].0));
        self.uvarint(fields.len() as u32);
        for (tag, data) in fields {
            self.uvarint(*tag);
            self.uvarint(data.len() as u32);
            self.buf.extend_from_slice(data);
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}
