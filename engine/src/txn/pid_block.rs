//! Producer-id allocation in persisted blocks.
//!
//! Kafka hands out producer ids from blocks (1000 ids by default) reserved by the controller,
//! whose high-water mark is durable (formerly a ZooKeeper node, now the `ProducerIdsRecord` of
//! the metadata log), so that no id is ever handed out twice, even across restarts: ids of a
//! block that was reserved but only partly used are simply skipped after a restart.
//!
//! eoslog has no controller, so the block reservation is stored in `__transaction_state` itself
//! under a reserved key. [`ProducerIdManager`] never hands out an id whose block is not durable:
//! when the current block runs out, [`ProducerIdManager::allocate`] returns the next block, which
//! the coordinator must persist before calling [`ProducerIdManager::block_persisted`]. Like
//! Kafka's `RPCProducerIdManager`, it can ask for the next block ahead of time, once 90 % of the
//! current one is used ([`ProducerIdManager::prefetch_block`]).
//!
//! # Record format (eoslog-specific)
//! - Key: `version i16 = 0x454F` ("EO") followed by the `STRING` `"eoslog.producer_id_block"`.
//!   Kafka's only transaction-log key version is 0 and coordinator record type ids are small;
//!   Kafka 3.5+ skips records with an unknown key version when loading `__transaction_state`
//!   (KIP-915), so a directory written by eoslog still loads in Kafka. The key is constant, so
//!   log compaction keeps only the newest block.
//! - Value: `version i16 = 0`, `first producer id i64`, `block size i32`.

use super::log_format::RecordFormatError;
use crate::error::{Error, ErrorCode, Result};
use crate::wire::{Reader, Writer};

/// Default number of ids per block (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const DEFAULT_PRODUCER_ID_BLOCK_SIZE: i32 = 1000;
/// Key version of the producer-id block record: "EO" in ASCII, a value no Kafka record uses.
pub const PRODUCER_ID_BLOCK_KEY_VERSION: i16 = 0x454F;
/// The fixed name in the producer-id block key.
pub const PRODUCER_ID_BLOCK_KEY_NAME: &str = "eoslog.producer_id_block";
/// Value version of the producer-id block record.
pub const PRODUCER_ID_BLOCK_VALUE_VERSION: i16 = 0;

const BLOCK_KEY: &str = "ProducerIdBlockKey";
pub(crate) const BLOCK_VALUE: &str = "ProducerIdBlockValue";

/// A range of producer ids `[first, first + size)`, reserved durably before any of them is
/// handed out.
///
/// Invariants (checked by [`ProducerIdBlock::new`]): `first ≥ 0`, `size > 0`, and the last id
/// `first + size − 1` fits an i64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdBlock {
    first: i64,
    size: i32,
}

impl ProducerIdBlock {
    /// A block, or `UNKNOWN_SERVER_ERROR` if it breaks the invariants.
    pub fn new(first: i64, size: i32) -> Result<Self> {
        if first < 0 || size <= 0 || first.checked_add(i64::from(size) - 1).is_none() {
            return Err(Error::kafka(
                ErrorCode::UnknownServerError,
                format!("invalid producer id block: first {first}, size {size}"),
            ));
        }
        Ok(ProducerIdBlock { first, size })
    }

    /// First id of the block.
    pub fn first(&self) -> i64 {
        self.first
    }

    /// Number of ids.
    pub fn size(&self) -> i32 {
        self.size
    }

    /// Last id of the block (inclusive).
    pub fn last(&self) -> i64 {
        // Cannot overflow: checked at construction.
        self.first + (i64::from(self.size) - 1)
    }

    /// Whether `id` belongs to the block.
    pub fn contains(&self, id: i64) -> bool {
        (self.first..=self.last()).contains(&id)
    }

    /// The first id after the block, `None` if the block ends at `i64::MAX`.
    pub fn next_block_first(&self) -> Option<i64> {
        self.last().checked_add(1)
    }
}

/// The outcome of [`ProducerIdManager::allocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidAllocation {
    /// A producer id, from a durable block, never handed out before.
    Allocated(i64),
    /// No durable ids are left: write this block to `__transaction_state`
    /// ([`encode_pid_block_key`] / [`encode_pid_block_value`]), call
    /// [`ProducerIdManager::block_persisted`] once the write is durable, then allocate again.
    PersistBlock(ProducerIdBlock),
}

/// Hands out producer ids from durable blocks.
///
/// Invariant: every id handed out lies in a block that was persisted before it was handed out,
/// and blocks never overlap, so ids are unique for the life of the data directory provided
/// recovery sees the newest persisted block ([`ProducerIdManager::recover`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerIdManager {
    block_size: i32,
    /// The durable block ids are handed out from, and how many of its ids were handed out
    /// (a count rather than the next id, which could overflow past a block ending at
    /// `i64::MAX`).
    current: Option<(ProducerIdBlock, i32)>,
    /// A durable block waiting for the current one to run out.
    prefetched: Option<ProducerIdBlock>,
    /// A block handed to the caller to persist and not yet confirmed. Asked again until it is;
    /// re-persisting the same block after a failed or uncertain write is harmless because none
    /// of its ids were handed out.
    requested: Option<ProducerIdBlock>,
    /// First id of the next block to reserve: past every block persisted or requested.
    next_block_first: i64,
}

impl ProducerIdManager {
    /// A manager for a data directory that never reserved a block: the first block starts at
    /// id 0, as in Kafka. `block_size` must be positive.
    pub fn new(block_size: i32) -> Result<Self> {
        Self::recover(block_size, [])
    }

    /// A manager after a restart, from the blocks found in `__transaction_state` (any order;
    /// only the highest matters). None of the ids of those blocks is handed out again, used or
    /// not: which ones were used is not recorded.
    pub fn recover(block_size: i32, persisted: impl IntoIterator<Item = ProducerIdBlock>) -> Result<Self> {
        if block_size <= 0 {
            return Err(Error::kafka(
                ErrorCode::InvalidConfig,
                format!("producer id block size must be positive, got {block_size}"),
            ));
        }
        let mut next_block_first = 0i64;
        let mut exhausted = false;
        for b in persisted {
            match b.next_block_first() {
                Some(n) => next_block_first = next_block_first.max(n),
                None => exhausted = true,
            }
        }
        if exhausted {
            // A block ends at i64::MAX: nothing is left to reserve.
            next_block_first = i64::MAX;
        }
        Ok(ProducerIdManager {
            block_size,
            current: None,
            prefetched: None,
            requested: None,
            next_block_first,
        })
    }

    /// Ids per block.
    pub fn block_size(&self) -> i32 {
        self.block_size
    }

    /// Ids that can be handed out without persisting another block.
    pub fn remaining(&self) -> i64 {
        let current = self.current.map_or(0, |(b, used)| i64::from(b.size() - used));
        current + self.prefetched.map_or(0, |b| i64::from(b.size()))
    }

    /// The next producer id, or the block to persist first.
    ///
    /// Fails (`UNKNOWN_SERVER_ERROR`, as Kafka's controller does) when the next block would go
    /// past `i64::MAX`: producer ids are exhausted.
    pub fn allocate(&mut self) -> Result<PidAllocation> {
        let (block, used) = match self.current {
            Some((b, used)) if used < b.size() => (b, used),
            _ => match self.prefetched.take() {
                Some(b) => (b, 0),
                None => return Ok(PidAllocation::PersistBlock(self.request_block()?)),
            },
        };
        // used < size, so the id is within the block and used + 1 ≤ size.
        let id = block.first() + i64::from(used);
        self.current = Some((block, used + 1));
        Ok(PidAllocation::Allocated(id))
    }

    /// A block to persist ahead of time, once 90 % of the current block is used and no next
    /// block is durable or requested (Kafka's `RPCProducerIdManager` prefetch). `Ok(None)` when
    /// nothing needs persisting yet.
    pub fn prefetch_block(&mut self) -> Result<Option<ProducerIdBlock>> {
        if self.prefetched.is_some() || self.requested.is_some() {
            return Ok(None);
        }
        let Some((block, used)) = self.current else {
            return Ok(None);
        };
        // used ≥ 90 % of size, in integers.
        if i64::from(used) * 10 >= i64::from(block.size()) * 9 {
            self.request_block().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The block returned by [`Self::allocate`] or [`Self::prefetch_block`] is durable: its ids
    /// may be handed out. Any other block is refused (`UNKNOWN_SERVER_ERROR`).
    pub fn block_persisted(&mut self, block: ProducerIdBlock) -> Result<()> {
        if self.requested != Some(block) {
            return Err(Error::kafka(
                ErrorCode::UnknownServerError,
                format!("producer id block {block:?} was not requested (pending {:?})", self.requested),
            ));
        }
        self.requested = None;
        if self.current.is_none_or(|(b, used)| used >= b.size()) {
            self.current = Some((block, 0));
        } else {
            self.prefetched = Some(block);
        }
        Ok(())
    }

    fn request_block(&mut self) -> Result<ProducerIdBlock> {
        if let Some(b) = self.requested {
            return Ok(b);
        }
        let first = self.next_block_first;
        // Kafka's controller rule: the block may not reach i64::MAX (its successor's first id
        // must still be representable).
        if first > i64::MAX - i64::from(self.block_size) {
            return Err(Error::kafka(
                ErrorCode::UnknownServerError,
                format!(
                    "exhausted all producer ids: the next block of {} from {first} would exceed i64::MAX",
                    self.block_size
                ),
            ));
        }
        let block = ProducerIdBlock::new(first, self.block_size)?;
        // first + size ≤ i64::MAX by the check above.
        self.next_block_first = first + i64::from(self.block_size);
        self.requested = Some(block);
        Ok(block)
    }
}

/// The key of the producer-id block record (constant).
pub fn encode_pid_block_key() -> Vec<u8> {
    let mut w = Writer::new(BLOCK_KEY);
    w.i16(PRODUCER_ID_BLOCK_KEY_VERSION);
    // The name is a short constant; it always fits a STRING.
    w.buf.extend_from_slice(&(PRODUCER_ID_BLOCK_KEY_NAME.len() as i16).to_be_bytes());
    w.buf.extend_from_slice(PRODUCER_ID_BLOCK_KEY_NAME.as_bytes());
    w.finish()
}

/// Checks that `key` is exactly the producer-id block key.
pub fn decode_pid_block_key(key: &[u8]) -> Result<(), RecordFormatError> {
    let mut r = Reader::new(key, BLOCK_KEY);
    let version = r.i16()?;
    if version != PRODUCER_ID_BLOCK_KEY_VERSION {
        return Err(RecordFormatError::UnsupportedVersion { record: BLOCK_KEY, version });
    }
    let name = r.string(false, "name")?;
    if name != PRODUCER_ID_BLOCK_KEY_NAME {
        return Err(r.malformed(format!("unexpected producer id block key name {name:?}")));
    }
    r.finish()
}

/// The value of the producer-id block record.
pub fn encode_pid_block_value(block: &ProducerIdBlock) -> Vec<u8> {
    let mut w = Writer::new(BLOCK_VALUE);
    w.i16(PRODUCER_ID_BLOCK_VALUE_VERSION);
    w.i64(block.first());
    w.i32(block.size());
    w.finish()
}

/// Decodes a producer-id block value, checking the block invariants.
pub fn decode_pid_block_value(value: &[u8]) -> Result<ProducerIdBlock, RecordFormatError> {
    let mut r = Reader::new(value, BLOCK_VALUE);
    let version = r.i16()?;
    if version != PRODUCER_ID_BLOCK_VALUE_VERSION {
        return Err(RecordFormatError::UnsupportedVersion { record: BLOCK_VALUE, version });
    }
    let first = r.i64()?;
    let size = r.i32()?;
    let block = ProducerIdBlock::new(first, size)
        .map_err(|_| r.malformed(format!("invalid block: first {first}, size {size}")))?;
    r.finish()?;
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Allocates one id, persisting blocks into `log` as the coordinator would.
    fn next_id(m: &mut ProducerIdManager, log: &mut Vec<Vec<u8>>) -> i64 {
        loop {
            match m.allocate().unwrap() {
                PidAllocation::Allocated(id) => return id,
                PidAllocation::PersistBlock(b) => {
                    log.push(encode_pid_block_value(&b));
                    m.block_persisted(b).unwrap();
                }
            }
        }
    }

    fn recover(size: i32, log: &[Vec<u8>]) -> ProducerIdManager {
        ProducerIdManager::recover(size, log.iter().map(|v| decode_pid_block_value(v).unwrap())).unwrap()
    }

    #[test]
    fn first_block_starts_at_zero_and_ids_are_sequential() {
        let mut m = ProducerIdManager::new(DEFAULT_PRODUCER_ID_BLOCK_SIZE).unwrap();
        let block = match m.allocate().unwrap() {
            PidAllocation::PersistBlock(b) => b,
            other => panic!("expected a block request, got {other:?}"),
        };
        assert_eq!((block.first(), block.size(), block.last()), (0, 1000, 999));
        // Until it is persisted, the same block is asked for again and no id is handed out.
        assert_eq!(m.allocate().unwrap(), PidAllocation::PersistBlock(block));
        m.block_persisted(block).unwrap();
        for want in 0..1000 {
            assert_eq!(m.allocate().unwrap(), PidAllocation::Allocated(want));
        }
        assert_eq!(m.remaining(), 0);
        match m.allocate().unwrap() {
            PidAllocation::PersistBlock(b) => assert_eq!((b.first(), b.last()), (1000, 1999)),
            other => panic!("expected a block request, got {other:?}"),
        }
    }

    #[test]
    fn ids_are_never_reused_across_restarts() {
        let mut log = Vec::new();
        let mut seen = HashSet::new();
        let mut m = ProducerIdManager::new(10).unwrap();
        for round in 0..20 {
            // A varying number of ids per "process lifetime", including none.
            for _ in 0..(round * 7) % 23 {
                assert!(seen.insert(next_id(&mut m, &mut log)), "id reused");
            }
            // Sometimes a block is requested but the process dies before it is persisted.
            if round % 3 == 0 {
                let _ = m.allocate().unwrap();
            }
            m = recover(10, &log);
        }
        assert!(seen.len() > 100);
        // Recovery skips the rest of the last block.
        let last = log.last().map(|v| decode_pid_block_value(v).unwrap()).unwrap();
        let id = next_id(&mut m, &mut log);
        assert_eq!(id, last.last() + 1);
    }

    #[test]
    fn recovery_takes_the_highest_block_in_any_order() {
        let blocks = [
            ProducerIdBlock::new(2000, 1000).unwrap(),
            ProducerIdBlock::new(0, 1000).unwrap(),
            ProducerIdBlock::new(1000, 1000).unwrap(),
        ];
        let mut m = ProducerIdManager::recover(1000, blocks).unwrap();
        assert_eq!(
            m.allocate().unwrap(),
            PidAllocation::PersistBlock(ProducerIdBlock::new(3000, 1000).unwrap())
        );
        // A different block size after a restart still starts past the old blocks.
        let mut m = ProducerIdManager::recover(7, blocks).unwrap();
        assert_eq!(
            m.allocate().unwrap(),
            PidAllocation::PersistBlock(ProducerIdBlock::new(3000, 7).unwrap())
        );
    }

    #[test]
    fn prefetch_after_ninety_percent() {
        let mut m = ProducerIdManager::new(10).unwrap();
        let mut log = Vec::new();
        assert_eq!(m.prefetch_block().unwrap(), None, "nothing to prefetch without a block");
        for want in 0..8 {
            assert_eq!(next_id(&mut m, &mut log), want);
            assert_eq!(m.prefetch_block().unwrap(), None);
        }
        assert_eq!(next_id(&mut m, &mut log), 8);
        let b = m.prefetch_block().unwrap().expect("90% used");
        assert_eq!((b.first(), b.size()), (10, 10));
        // Requested once only.
        assert_eq!(m.prefetch_block().unwrap(), None);
        m.block_persisted(b).unwrap();
        assert_eq!(m.remaining(), 11);
        // The current block is finished first, then the prefetched one is used without asking.
        for want in 9..20 {
            assert_eq!(m.allocate().unwrap(), PidAllocation::Allocated(want));
        }
        assert!(matches!(m.allocate().unwrap(), PidAllocation::PersistBlock(_)));
    }

    #[test]
    fn a_block_that_was_not_requested_is_refused() {
        let mut m = ProducerIdManager::new(10).unwrap();
        let other = ProducerIdBlock::new(500, 10).unwrap();
        assert_eq!(m.block_persisted(other).unwrap_err().code(), ErrorCode::UnknownServerError);
        let PidAllocation::PersistBlock(b) = m.allocate().unwrap() else { panic!("expected a request") };
        m.block_persisted(b).unwrap();
        // Confirming twice is refused too.
        assert!(m.block_persisted(b).is_err());
    }

    #[test]
    fn exhaustion_of_i64_is_an_error() {
        let near_end = ProducerIdBlock::new(i64::MAX - 2000, 1000).unwrap();
        let mut m = ProducerIdManager::recover(1000, [near_end]).unwrap();
        let mut log = Vec::new();
        // One last full block fits: [MAX-1000, MAX-1].
        let first = next_id(&mut m, &mut log);
        assert_eq!(first, i64::MAX - 1000);
        for _ in 1..1000 {
            next_id(&mut m, &mut log);
        }
        assert_eq!(m.remaining(), 0);
        assert_eq!(decode_pid_block_value(log.last().unwrap()).unwrap().last(), i64::MAX - 1);
        let e = m.allocate().unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownServerError);
        // Still exhausted after a restart.
        let mut m = recover(1000, &log);
        assert!(m.allocate().is_err());
        // A block ending at i64::MAX (however it was written) leaves nothing to reserve.
        let mut m = ProducerIdManager::recover(10, [ProducerIdBlock::new(i64::MAX, 1).unwrap()]).unwrap();
        assert!(m.allocate().is_err());
        // A block that would not fit is refused rather than shortened.
        let mut m =
            ProducerIdManager::recover(1000, [ProducerIdBlock::new(i64::MAX - 1500, 1000).unwrap()]).unwrap();
        assert!(m.allocate().is_err());
    }

    #[test]
    fn block_invariants() {
        assert!(ProducerIdBlock::new(-1, 10).is_err());
        assert!(ProducerIdBlock::new(0, 0).is_err());
        assert!(ProducerIdBlock::new(0, -5).is_err());
        assert!(ProducerIdBlock::new(i64::MAX, 2).is_err());
        let b = ProducerIdBlock::new(i64::MAX, 1).unwrap();
        assert_eq!(b.next_block_first(), None);
        assert!(b.contains(i64::MAX));
        assert!(ProducerIdManager::new(0).is_err());
        assert_eq!(ProducerIdManager::new(-3).unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn record_bytes() {
        #[rustfmt::skip]
        let key: &[u8] = &[
            0x45, 0x4F,       // version "EO"
            0x00, 0x18,       // name length 24
            b'e', b'o', b's', b'l', b'o', b'g', b'.', b'p', b'r', b'o', b'd', b'u', b'c', b'e', b'r',
            b'_', b'i', b'd', b'_', b'b', b'l', b'o', b'c', b'k',
        ];
        assert_eq!(encode_pid_block_key(), key);
        decode_pid_block_key(key).unwrap();
        let b = ProducerIdBlock::new(0x0102_0304_0506, 1000).unwrap();
        #[rustfmt::skip]
        let value: &[u8] = &[
            0x00, 0x00,                                     // version 0
            0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // first
            0x00, 0x00, 0x03, 0xE8,                         // size 1000
        ];
        assert_eq!(encode_pid_block_value(&b), value);
        assert_eq!(decode_pid_block_value(value).unwrap(), b);
    }

    #[test]
    fn bad_records_are_rejected() {
        let value = encode_pid_block_value(&ProducerIdBlock::new(10, 10).unwrap());
        for len in 0..value.len() {
            assert!(matches!(
                decode_pid_block_value(&value[..len]),
                Err(RecordFormatError::Truncated { .. })
            ));
        }
        let mut long = value.clone();
        long.push(1);
        assert!(decode_pid_block_value(&long).is_err());
        let mut v1 = value.clone();
        v1[1] = 1;
        assert!(matches!(decode_pid_block_value(&v1), Err(RecordFormatError::UnsupportedVersion { .. })));
        let mut negative = value.clone();
        negative[2] = 0x80;
        assert!(matches!(decode_pid_block_value(&negative), Err(RecordFormatError::Malformed { .. })));
        let mut zero_size = value;
        zero_size[10..14].copy_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(decode_pid_block_value(&zero_size), Err(RecordFormatError::Malformed { .. })));

        let mut key = encode_pid_block_key();
        key.pop();
        assert!(decode_pid_block_key(&key).is_err());
        let mut key = encode_pid_block_key();
        *key.last_mut().unwrap() = b'K';
        assert!(matches!(decode_pid_block_key(&key), Err(RecordFormatError::Malformed { .. })));
        assert!(matches!(
            decode_pid_block_key(&[0, 0, 0, 0]),
            Err(RecordFormatError::UnsupportedVersion { .. })
        ));
    }
}
