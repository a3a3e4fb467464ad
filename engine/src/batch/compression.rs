//! The compression codec named by a batch's attribute bits 0–2.

use std::fmt;
use std::str::FromStr;

use crate::error::BatchError;

/// A batch-level compression codec. The whole records section of a batch is compressed as one
/// stream; the 61-byte header never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Uncompressed (id 0).
    #[default]
    None,
    /// A gzip member (id 1).
    Gzip,
    /// Snappy with snappy-java's "xerial" stream framing (id 2).
    Snappy,
    /// An LZ4 frame (id 3).
    Lz4,
    /// A Zstandard frame (id 4).
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    /// The id stored in attribute bits 0–2.
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name for the codec (`compression.type` values): `none`, `gzip`, `snappy`, `lz4`,
    /// `zstd`.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec with this id; ids 5–7 (and anything wider) are [`BatchError::UnknownCompression`].
    pub fn from_id(id: u8) -> Result<Compression, BatchError> {
        Compression::ALL.get(usize::from(id)).copied().ok_or(BatchError::UnknownCompression(id))
    }

    /// Parses Kafka's codec name, ignoring ASCII case and surrounding blanks. `None` for an
    /// unknown name (see also the [`FromStr`] impl, which reports an error instead).
    pub fn parse(s: &str) -> Option<Compression> {
        let s = s.trim();
        Compression::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of `str::parse::<Compression>()`: the name is not a Kafka codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCompressionName(pub String);

impl fmt::Display for UnknownCompressionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown compression type {:?} (expected none, gzip, snappy, lz4 or zstd)", self.0)
    }
}

impl std::error::Error for UnknownCompressionName {}

impl FromStr for Compression {
    type Err = UnknownCompressionName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::parse(s).ok_or_else(|| UnknownCompressionName(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_parsing_agree() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_id(c.id()).unwrap(), c);
            assert_eq!(Compression::parse(c.name()), Some(c));
            assert_eq!(Compression::parse(&c.name().to_uppercase()), Some(c));
            assert_eq!(c.to_string(), c.name());
        }
        for id in 5..=255u8 {
            let err = Compression::from_id(id).unwrap_err();
            assert_eq!(err, BatchError::UnknownCompression(id));
        }
        assert_eq!(Compression::parse("brotli"), None);
        assert_eq!(" ZSTD ".parse::<Compression>(), Ok(Compression::Zstd));
        let err = "brotli".parse::<Compression>().unwrap_err();
        assert!(err.to_string().contains("brotli"));
    }
}
