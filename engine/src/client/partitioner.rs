//! Partition choice for records without an explicit partition, as Kafka's Java client does it.
//!
//! Keyed records go to `toPositive(murmur2(key)) % partitions` ([`murmur2`], [`to_positive`]),
//! so a key lands in the same partition as with a Java, librdkafka (`murmur2_random`) or
//! kafka-python producer. Records without a key stick to one partition per topic until its
//! batch is closed (full or sent), then move to the next partition: the effect of Kafka's
//! sticky partitioner (KIP-480) without randomness, so tests are reproducible.

use std::collections::HashMap;

use super::config::PartitionerKind;

/// Kafka's 32-bit murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`): seed
/// `0x9747b28c`, little-endian 4-byte blocks, the tail folded in, then the final avalanche.
/// All arithmetic wraps, as Java's `int` does.
///
/// ```
/// assert_eq!(eoslog::client::murmur2(b"21"), -973932308);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java takes the length as an int; keys longer than 2 GiB cannot be produced anyway.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        // Java's switch falls through from case 3 to case 1.
        if tail.len() == 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `i32::MIN`).
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner picks for `key` among `partitions`.
///
/// ```
/// // toPositive(murmur2("foobar")) = 1357151166
/// assert_eq!(eoslog::client::partition_for_key(b"foobar", 10), 1357151166 % 10);
/// ```
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    debug_assert!(partitions > 0);
    to_positive(murmur2(key)) % partitions.max(1)
}

/// Per-producer partitioner state: the sticky partition of each topic (default partitioner)
/// or the round-robin counter.
#[derive(Debug, Default)]
pub(crate) struct PartitionerState {
    kind: PartitionerKind,
    /// topic → partition currently receiving null-key records (default) or the next partition
    /// (round robin).
    cursor: HashMap<String, i32>,
}

impl PartitionerState {
    pub(crate) fn new(kind: PartitionerKind) -> Self {
        PartitionerState { kind, cursor: HashMap::new() }
    }

    /// The partition for a record of `topic` with `key`, among `partitions` (> 0).
    pub(crate) fn partition(&mut self, topic: &str, key: Option<&[u8]>, partitions: i32) -> i32 {
        match (self.kind, key) {
            (PartitionerKind::Default, Some(k)) => partition_for_key(k, partitions),
            (PartitionerKind::Default, None) => {
                let p = self.cursor.entry(topic.to_string()).or_insert(0);
                if *p >= partitions {
                    *p = 0;
                }
                *p
            }
            (PartitionerKind::RoundRobin, _) => {
                let next = self.cursor.entry(topic.to_string()).or_insert(0);
                let p = *next % partitions;
                *next = (p + 1) % partitions;
                p
            }
        }
    }

    /// The batch of `topic`-`partition` was closed: null-key records of the topic move on to
    /// the next partition if they were sticking to this one.
    pub(crate) fn on_batch_closed(&mut self, topic: &str, partition: i32, partitions: i32) {
        if self.kind != PartitionerKind::Default {
            return;
        }
        if let Some(p) = self.cursor.get_mut(topic)
            && *p == partition
        {
            *p = (partition + 1) % partitions.max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka_utils_test() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input), expected, "murmur2({:?})", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn every_tail_length_is_folded_in() {
        // Lengths 0..=7 cover every tail length twice; each prefix must hash differently.
        let data = b"abcdefg";
        let hashes: std::collections::HashSet<i32> = (0..=data.len()).map(|n| murmur2(&data[..n])).collect();
        assert_eq!(hashes.len(), data.len() + 1);
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
        assert_eq!(partition_for_key(b"foobar", 10), 6);
    }

    #[test]
    fn keyed_records_always_go_to_the_same_partition() {
        let mut p = PartitionerState::new(PartitionerKind::Default);
        let first = p.partition("t", Some(b"user-42"), 12);
        p.on_batch_closed("t", first, 12);
        assert_eq!(p.partition("t", Some(b"user-42"), 12), first);
        assert_eq!(first, partition_for_key(b"user-42", 12));
    }

    #[test]
    fn null_keys_stick_until_the_batch_closes() {
        let mut p = PartitionerState::new(PartitionerKind::Default);
        assert_eq!(p.partition("t", None, 3), 0);
        assert_eq!(p.partition("t", None, 3), 0);
        p.on_batch_closed("t", 1, 3);
        assert_eq!(p.partition("t", None, 3), 0, "another partition's batch does not move it");
        p.on_batch_closed("t", 0, 3);
        assert_eq!(p.partition("t", None, 3), 1);
        p.on_batch_closed("t", 1, 3);
        p.on_batch_closed("t", 2, 3);
        p.on_batch_closed("t", 2, 3);
        assert_eq!(p.partition("t", None, 3), 0, "wraps around");
        assert_eq!(p.partition("other", None, 3), 0, "per topic");
    }

    #[test]
    fn round_robin_cycles_over_every_record() {
        let mut p = PartitionerState::new(PartitionerKind::RoundRobin);
        let got: Vec<i32> = (0..7).map(|i| p.partition("t", (i % 2 == 0).then_some(b"k"), 3)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }
}
