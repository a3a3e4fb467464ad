//! One segment's files: the sparse offset and time indexes and the transaction index.
//!
//! This layer stores bytes and knows nothing of producers or transactions beyond the aborted
//! transaction entries it is handed.

mod index_file;
pub mod offset_index;
pub mod time_index;
pub mod txn_index;

pub use offset_index::{OFFSET_INDEX_ENTRY_SIZE, OffsetIndex, OffsetPosition};
pub use time_index::{NO_TIMESTAMP, TIME_INDEX_ENTRY_SIZE, TimeIndex, TimestampOffset};
pub use txn_index::{AbortedTxn, TransactionIndex, TxnIndexSearchResult};
pub mod log_segment;

pub use log_segment::{
    BatchLocation, DELETED_SUFFIX, INDEX_SUFFIX, InvalidTail, LOG_SUFFIX, LogSegment, RecoveryScan,
    SegmentConfig, SegmentRead, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, file_stem, parse_stem,
};
