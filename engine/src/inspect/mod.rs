//! Read-only inspection of data on disk: decoding files for display (`dump`) and checking a
//! whole directory for consistency (`verify`). Neither ever writes, creates, locks or maps a
//! file, so both are safe on a directory an engine has open and on evidence after a crash.

pub mod dump;
pub mod verify;

pub use dump::{DumpedBatch, DumpedFile, DumpedRecord, dump_file, partition_files};
pub use verify::{Finding, Severity, VerifyReport, verify_path};
