//! The records the clients exchange with the application.

use crate::config::TimestampType;
use crate::log::TopicPartition;

/// A record to send (Kafka's `ProducerRecord`): topic, optional partition, key, value,
/// headers and timestamp. Build it like the Java constructors, then refine it:
///
/// ```
/// use eoslog::client::ProducerRecord;
/// let r = ProducerRecord::with_key("orders", "customer-7", "shipped")
///     .partition(2)
///     .timestamp(1_700_000_000_000)
///     .header("trace", Some(b"abc".to_vec()));
/// assert_eq!(r.partition, Some(2));
/// assert_eq!(r.key.as_deref(), Some(&b"customer-7"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Topic.
    pub topic: String,
    /// Partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// CreateTime timestamp in ms; `None` takes the engine clock at `send`.
    pub timestamp: Option<i64>,
    /// Key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = null, a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl ProducerRecord {
    /// A record with a value and no key (`new ProducerRecord<>(topic, value)`).
    pub fn new(topic: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            timestamp: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
        }
    }

    /// A record with a key and a value (`new ProducerRecord<>(topic, key, value)`).
    pub fn with_key(topic: impl Into<String>, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        ProducerRecord { key: Some(key.into()), ..ProducerRecord::new(topic, value) }
    }

    /// Sets the key.
    #[must_use]
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value to null (a tombstone).
    #[must_use]
    pub fn null_value(mut self) -> Self {
        self.value = None;
        self
    }

    /// Sends to this partition instead of asking the partitioner.
    #[must_use]
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the CreateTime timestamp.
    #[must_use]
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Appends a header.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> Self {
        self.headers.push((key.into(), value));
        self
    }

    /// Bytes the record takes in a batch, over-estimated (Kafka's
    /// `DefaultRecord.sizeInBytes` upper bound): what `batch.size` and `max.request.size` are
    /// compared with.
    pub(crate) fn estimated_size(&self) -> usize {
        // attributes (1) + timestamp delta (≤10) + offset delta (≤5) + length prefix (≤5) and
        // one length varint (≤5) per nullable field.
        let mut n = 1 + 10 + 5 + 5;
        n += 5 + self.key.as_ref().map_or(0, Vec::len);
        n += 5 + self.value.as_ref().map_or(0, Vec::len);
        n += 5;
        for (k, v) in &self.headers {
            n += 5 + k.len() + 5 + v.as_ref().map_or(0, Vec::len);
        }
        n
    }
}

/// Where a sent record landed (Kafka's `RecordMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset of the record.
    pub offset: i64,
    /// Its timestamp: the CreateTime one, or the log's clock on LogAppendTime topics.
    pub timestamp: i64,
}

impl RecordMetadata {
    /// The record's topic-partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

/// A consumed record (Kafka's `ConsumerRecord`), with the transaction coordinates of the
/// batch it came from so that an external sink can deduplicate on its own: a
/// `(producer_id, producer_epoch, sequence)` triple identifies a record written by an
/// idempotent producer, and `(topic, partition, offset)` identifies every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// What the timestamp is (`CreateTime` or `LogAppendTime`).
    pub timestamp_type: TimestampType,
    /// Key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// Headers in stored order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Producer id of the batch, -1 if written without idempotence.
    pub producer_id: i64,
    /// Producer epoch of the batch, -1 if written without idempotence.
    pub producer_epoch: i16,
    /// The record's sequence number (the batch's base sequence plus its position, wrapping at
    /// `i32::MAX`), -1 if written without idempotence.
    pub sequence: i32,
    /// Whether the record was written in a (committed) transaction.
    pub is_transactional: bool,
}

impl ConsumerRecord {
    /// The record's topic-partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    /// The value as UTF-8 text, lossily (handy in examples and tests).
    pub fn value_str(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.value.as_deref().map(String::from_utf8_lossy)
    }
}

pub use crate::group::ConsumerGroupMetadata;
