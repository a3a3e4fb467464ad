//! Encoders and size-bounded decoders for the batch codecs, with the framing Java Kafka uses:
//! a gzip member, snappy-java's xerial stream, an LZ4 frame with independent 64 KiB blocks, and
//! a Zstandard frame.
//!
//! Decoding never trusts a size written in the input: output grows only as bytes are actually
//! produced, and stops with an error once it would exceed the caller's limit, so a
//! decompression bomb costs at most `limit` bytes of memory. Growth uses `try_reserve`, turning
//! an allocation failure into an error instead of an abort.

use std::io::{Read, Write};

use super::Compression;
use crate::error::BatchError;

/// Hard ceiling on the decompressed size of one batch (256 MiB), whatever its compressed size.
pub const MAX_DECOMPRESSED_SIZE: usize = 256 << 20;
/// Largest decompressed/compressed ratio [`decompression_limit`] allows.
pub const MAX_COMPRESSION_RATIO: usize = 64;
/// Smallest limit [`decompression_limit`] returns (1 MiB), so that a small but very repetitive
/// batch (say, a few KiB of zeros squeezed to a few dozen bytes) still decodes.
pub const MIN_DECOMPRESSION_LIMIT: usize = 1 << 20;

/// The default cap on the decompressed size of a payload of `compressed_len` bytes:
/// `64 × compressed_len`, at least 1 MiB and at most 256 MiB.
pub fn decompression_limit(compressed_len: usize) -> usize {
    compressed_len.saturating_mul(MAX_COMPRESSION_RATIO).clamp(MIN_DECOMPRESSION_LIMIT, MAX_DECOMPRESSED_SIZE)
}

/// snappy-java's stream magic (`\x82SNAPPY\0`).
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\0";
/// Magic + version (1) + minimum compatible version (1), both big-endian i32.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01";
/// snappy-java's default block size, which is what Kafka's producer uses.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Kafka's default gzip level (`Deflater.DEFAULT_COMPRESSION`).
const GZIP_LEVEL: u32 = 6;
/// Kafka's default zstd level.
const ZSTD_LEVEL: i32 = 3;
/// Largest zstd window we accept (2^27 = 128 MiB, zstd's own default). Kafka producers at high
/// levels may use windows this large, and refusing them would reject valid batches; the window
/// buffer is also bounded by the frame's content size when the frame declares one.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// Output is grown by at most this much per read.
const CHUNK: usize = 64 * 1024;

fn encode_error(codec: Compression, e: impl std::fmt::Display) -> BatchError {
    BatchError::Decompression { codec: codec.name(), detail: format!("compression failed: {e}") }
}

fn decode_error(codec: Compression, e: impl std::fmt::Display) -> BatchError {
    BatchError::Decompression { codec: codec.name(), detail: e.to_string() }
}

fn too_large(codec: Compression, limit: usize) -> BatchError {
    BatchError::Decompression {
        codec: codec.name(),
        detail: format!("decompressed size exceeds the limit of {limit} bytes"),
    }
}

fn reserve(out: &mut Vec<u8>, additional: usize, codec: Compression) -> Result<(), BatchError> {
    out.try_reserve(additional).map_err(|e| decode_error(codec, format_args!("out of memory: {e}")))
}

/// Appends `data` compressed with `codec` (in Kafka's framing) to `out`. `Compression::None`
/// copies the bytes. Errors are reported as [`BatchError::Decompression`] with a detail that
/// starts with "compression failed" (no codec here fails on in-memory output in practice).
pub fn compress(codec: Compression, data: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    match codec {
        Compression::None => out.extend_from_slice(data),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(&mut *out, flate2::Compression::new(GZIP_LEVEL));
            enc.write_all(data).map_err(|e| encode_error(codec, e))?;
            enc.finish().map_err(|e| encode_error(codec, e))?;
        }
        Compression::Snappy => xerial_compress(data, out)?,
        Compression::Lz4 => {
            // Kafka's KafkaLZ4BlockOutputStream: frame v1, independent 64 KiB blocks, no
            // content size, no checksums besides the header checksum.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, &mut *out);
            enc.write_all(data).map_err(|e| encode_error(codec, e))?;
            enc.finish().map_err(|e| encode_error(codec, e))?;
        }
        Compression::Zstd => {
            zstd::stream::copy_encode(data, &mut *out, ZSTD_LEVEL).map_err(|e| encode_error(codec, e))?;
        }
    }
    Ok(())
}

fn xerial_compress(data: &[u8], out: &mut Vec<u8>) -> Result<(), BatchError> {
    out.extend_from_slice(XERIAL_HEADER);
    let mut enc = snap::raw::Encoder::new();
    for block in data.chunks(XERIAL_BLOCK_SIZE) {
        let len_at = out.len();
        let body_at = len_at + 4;
        out.resize(body_at + snap::raw::max_compress_len(block.len()), 0);
        let n = enc.compress(block, &mut out[body_at..]).map_err(|e| encode_error(Compression::Snappy, e))?;
        out.truncate(body_at + n);
        // n ≤ max_compress_len(32 KiB), far below u32::MAX.
        out[len_at..body_at].copy_from_slice(&(n as u32).to_be_bytes());
    }
    Ok(())
}

/// Decompresses a whole payload written with `codec`, failing with
/// [`BatchError::Decompression`] if it is malformed or would decompress to more than `limit`
/// bytes. `Compression::None` returns a copy (subject to the same limit).
///
/// Snappy input is read as a xerial stream when it starts with the xerial magic, else as one
/// raw snappy block (what snappy-java's `SnappyInputStream` falls back to as well).
pub fn decompress(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(too_large(codec, limit));
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Compression::Snappy => {
            if data.len() >= XERIAL_HEADER.len() && data.starts_with(XERIAL_MAGIC) {
                xerial_decompress(&data[XERIAL_HEADER.len()..], limit)
            } else {
                let mut out = Vec::new();
                snappy_block(data, &mut out, limit)?;
                Ok(out)
            }
        }
        Compression::Lz4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data), limit),
        Compression::Zstd => {
            let mut dec =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| decode_error(codec, e))?;
            dec.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| decode_error(codec, e))?;
            read_bounded(codec, dec, limit)
        }
    }
}

/// Reads `r` to its end into a new vector, never holding more than `limit + 1` bytes of output.
fn read_bounded(codec: Compression, mut r: impl Read, limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    loop {
        let start = out.len();
        // Ask for one byte past the limit so that "exactly at the limit" and "over it" differ.
        let want = (limit - start).saturating_add(1).min(CHUNK);
        reserve(&mut out, want, codec)?;
        out.resize(start + want, 0);
        let n = loop {
            match r.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(decode_error(codec, e)),
            }
        };
        out.truncate(start + n);
        if n == 0 {
            return Ok(out);
        }
        if out.len() > limit {
            return Err(too_large(codec, limit));
        }
    }
}

/// Decodes one raw snappy block, appending to `out`; the block's declared length is checked
/// against what the limit still allows before any memory is reserved for it.
fn snappy_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), BatchError> {
    let codec = Compression::Snappy;
    let n = snap::raw::decompress_len(block).map_err(|e| decode_error(codec, e))?;
    if n > limit - out.len() {
        return Err(too_large(codec, limit));
    }
    let start = out.len();
    reserve(out, n, codec)?;
    out.resize(start + n, 0);
    let written =
        snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(|e| decode_error(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

/// Decodes the blocks of a xerial stream after its 16-byte header: each block is a big-endian
/// u32 length followed by that many bytes of raw snappy. A repeated stream header (two
/// concatenated streams, which snappy-java accepts) is skipped; a block length cannot start with
/// 0x82 in a valid stream, so this is unambiguous.
fn xerial_decompress(mut rest: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let codec = Compression::Snappy;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() >= XERIAL_HEADER.len() && rest.starts_with(XERIAL_MAGIC) {
            rest = &rest[XERIAL_HEADER.len()..];
            continue;
        }
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(decode_error(codec, "truncated xerial block length"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err(decode_error(
                codec,
                format_args!("xerial block of {len} bytes but only {} left", tail.len()),
            ));
        }
        let (block, tail) = tail.split_at(len);
        snappy_block(block, &mut out, limit)?;
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // > 2 xerial blocks and > 1 lz4 block, partly compressible.
        (0..150_000u32).flat_map(|i| [(i % 251) as u8, b'x', (i / 7) as u8]).collect()
    }

    #[test]
    fn every_codec_roundtrips() {
        let data = sample();
        for codec in Compression::ALL {
            let mut out = Vec::new();
            compress(codec, &data, &mut out).unwrap();
            assert_eq!(decompress(codec, &out, data.len()).unwrap(), data, "{codec}");
            let mut empty = Vec::new();
            compress(codec, &[], &mut empty).unwrap();
            assert!(decompress(codec, &empty, 10).unwrap().is_empty(), "{codec}");
        }
    }

    #[test]
    fn framing_is_kafkas() {
        let data = b"hello hello hello hello";
        let mut gz = Vec::new();
        compress(Compression::Gzip, data, &mut gz).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip member magic");
        let mut sn = Vec::new();
        compress(Compression::Snappy, data, &mut sn).unwrap();
        assert_eq!(&sn[..16], XERIAL_HEADER);
        let block_len = u32::from_be_bytes(sn[16..20].try_into().unwrap()) as usize;
        assert_eq!(sn.len(), 20 + block_len);
        let mut lz = Vec::new();
        compress(Compression::Lz4, data, &mut lz).unwrap();
        assert_eq!(&lz[..4], &[0x04, 0x22, 0x4d, 0x18], "lz4 frame magic");
        assert_eq!(lz[4], 0x60, "version 01, independent blocks, no checksums or content size");
        assert_eq!(lz[5], 0x40, "64 KiB max block");
        let mut zs = Vec::new();
        compress(Compression::Zstd, data, &mut zs).unwrap();
        assert_eq!(&zs[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw, data.len()).unwrap(), data);
    }

    #[test]
    fn limits_are_enforced_for_every_codec() {
        let data = vec![0u8; 100_000];
        for codec in Compression::ALL {
            let mut out = Vec::new();
            compress(codec, &data, &mut out).unwrap();
            assert_eq!(decompress(codec, &out, data.len()).unwrap().len(), data.len(), "{codec} at limit");
            let err = decompress(codec, &out, data.len() - 1).unwrap_err();
            assert!(matches!(err, BatchError::Decompression { .. }), "{codec}: {err}");
        }
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert!(decompress(Compression::Snappy, &raw, 99_999).is_err());
    }

    #[test]
    fn default_limit_is_clamped() {
        assert_eq!(decompression_limit(0), MIN_DECOMPRESSION_LIMIT);
        assert_eq!(decompression_limit(1 << 20), 64 << 20);
        assert_eq!(decompression_limit(usize::MAX), MAX_DECOMPRESSED_SIZE);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let junk: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37)).collect();
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            assert!(decompress(codec, &junk, 1 << 20).is_err(), "{codec}");
        }
        let mut truncated = XERIAL_HEADER.to_vec();
        truncated.extend_from_slice(&[0, 0, 1, 0, 1, 2]);
        assert!(decompress(Compression::Snappy, &truncated, 1 << 20).is_err());
    }
}
