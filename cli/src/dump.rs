//! `eoslog dump`: the contents of log files, like Kafka's `kafka-dump-log`.
//!
//! Reads only: files are read with plain reads, nothing is created, locked, mapped or written.

use std::io::Write;
use std::path::{Path, PathBuf};

use eoslog::inspect::{DumpedBatch, DumpedFile, DumpedRecord, dump_file, partition_files};
use serde_json::{Value, json};

use crate::error::{Class, CliError, CliResult, stdout_error};
use crate::paths::{self, LogPath};
use crate::records::{OutputEncoding, bytes_to_json};

/// Arguments of `eoslog dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// A log file (.log, .index, .timeindex, .txnindex, .snapshot, checkpoint), a partition
    /// directory or a data directory.
    pub path: PathBuf,
    /// Also print every record of every batch (keys, values, headers, control records).
    #[arg(long)]
    pub deep: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// How record bytes are shown: auto (text when UTF-8, else base64), base64 or hex.
    #[arg(long, value_enum, default_value_t = OutputEncoding::Auto)]
    pub encoding: OutputEncoding,
}

/// The files to dump under `path`, in display order.
fn files_of(path: &Path) -> CliResult<Vec<PathBuf>> {
    Ok(match paths::classify(path)? {
        LogPath::File => vec![path.to_path_buf()],
        LogPath::PartitionDir => partition_files(path).map_err(CliError::from)?,
        LogPath::DataDir => {
            let mut files = Vec::new();
            let mut dirs = Vec::new();
            for (name, is_dir) in paths::list_dir(path)? {
                let p = path.join(&name);
                if is_dir {
                    if eoslog::TopicPartition::parse_dir_name(&name).is_some() && !name.ends_with("-delete") {
                        dirs.push(p);
                    }
                } else if paths::is_log_file_name(&name) && name != ".lock" {
                    files.push(p);
                }
            }
            for d in dirs {
                files.extend(partition_files(&d).map_err(CliError::from)?);
            }
            files
        }
    })
}

/// Runs `eoslog dump`.
pub fn run(args: &DumpArgs) -> CliResult {
    let files = files_of(&args.path)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut problems: Vec<String> = Vec::new();
    let mut docs = Vec::new();
    for file in &files {
        let dumped = dump_file(file, args.deep).map_err(|e| CliError::from(e).context("dump"))?;
        let found = problems_of(&dumped);
        for p in &found {
            problems.push(format!("{}: {p}", file.display()));
        }
        if args.json {
            let mut doc = file_json(file, &dumped, args.encoding);
            if let Value::Object(m) = &mut doc {
                m.insert("problems".into(), json!(found));
            }
            docs.push(doc);
        } else {
            write_text(&mut out, file, &dumped, args.encoding).map_err(stdout_error)?;
        }
    }
    if args.json {
        let doc = json!({"path": args.path.display().to_string(), "files": docs, "problems": problems});
        serde_json::to_writer_pretty(&mut out, &doc).map_err(|e| stdout_error(e.into()))?;
        writeln!(out).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)?;
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("damaged: {p}");
    }
    Err(CliError::new(
        Class::Damaged,
        format!("{} problem(s) found in {} (see above)", problems.len(), args.path.display()),
    ))
}

/// What is wrong in a dumped file, if anything.
fn problems_of(f: &DumpedFile) -> Vec<String> {
    let mut out = Vec::new();
    match f {
        DumpedFile::Log { batches, trailing } => {
            for b in batches {
                if !b.crc_valid {
                    out.push(format!(
                        "batch at position {} (offset {}): CRC mismatch",
                        b.position, b.base_offset
                    ));
                } else if let Some(e) = &b.error {
                    out.push(format!("batch at position {} (offset {}): {e}", b.position, b.base_offset));
                }
            }
            if let Some((bytes, why)) = trailing
                && !why.is_empty()
            {
                out.push(format!("{bytes} bytes at the end are not a valid batch: {why}"));
            }
        }
        DumpedFile::OffsetIndex { trailing_bytes, .. } | DumpedFile::TimeIndex { trailing_bytes, .. }
            if *trailing_bytes > 0 =>
        {
            out.push(format!("{trailing_bytes} trailing bytes do not form an index entry"));
        }
        DumpedFile::TxnIndex { error: Some(e), .. } => out.push(e.clone()),
        DumpedFile::Snapshot { entries: Err(e), .. } => out.push(e.clone()),
        _ => {}
    }
    out
}

/// Which internal topic a file belongs to, from its partition directory's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Internal {
    TransactionState,
    ConsumerOffsets,
}

fn internal_topic(path: &Path) -> Option<Internal> {
    let dir = path.parent()?.file_name()?.to_str()?;
    let tp = eoslog::TopicPartition::parse_dir_name(dir)?;
    match tp.topic.as_str() {
        eoslog::topics::TRANSACTION_STATE_TOPIC => Some(Internal::TransactionState),
        eoslog::topics::CONSUMER_OFFSETS_TOPIC => Some(Internal::ConsumerOffsets),
        _ => None,
    }
}

/// Decodes a record of `__transaction_state` or `__consumer_offsets` (Kafka's
/// `--transaction-log-decoder` / `--offsets-decoder`), as text.
fn decode_internal(kind: Internal, r: &DumpedRecord) -> Option<String> {
    let key = r.key.as_deref()?;
    Some(match kind {
        Internal::TransactionState => match eoslog::txn::log_format::read_record(key, r.value.as_deref()) {
            Ok(rec) => format!("{rec:?}"),
            Err(e) => format!("undecodable: {e}"),
        },
        Internal::ConsumerOffsets => {
            let k = match eoslog::offsets::decode_key(key) {
                Ok(k) => k,
                Err(e) => return Some(format!("undecodable key: {e}")),
            };
            let v = match (&k, r.value.as_deref()) {
                (_, None) => "tombstone".to_string(),
                (eoslog::offsets::OffsetsKey::OffsetCommit(_), Some(v)) => {
                    match eoslog::offsets::format::OffsetCommitValue::decode(v) {
                        Ok(v) => format!("{v:?}"),
                        Err(e) => format!("undecodable value: {e}"),
                    }
                }
                (eoslog::offsets::OffsetsKey::GroupMetadata { .. }, Some(v)) => {
                    match eoslog::offsets::GroupMetadataValue::decode(v) {
                        Ok(v) => format!("{v:?}"),
                        Err(e) => format!("undecodable value: {e}"),
                    }
                }
                (_, Some(_)) => "(value of an unknown record kind)".to_string(),
            };
            format!("{k:?} => {v}")
        }
    })
}

fn quoted(bytes: Option<&[u8]>, enc: OutputEncoding) -> String {
    match bytes_to_json(bytes, enc) {
        (Value::Null, _) => "null".into(),
        (v, Value::String(e)) if e == "utf8" => v.to_string(),
        (Value::String(v), Value::String(e)) => format!("{e}:{v}"),
        (v, _) => v.to_string(),
    }
}

fn write_batch_line(out: &mut impl Write, b: &DumpedBatch) -> std::io::Result<()> {
    write!(
        out,
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} \
         producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {} \
         {}: {} baseTimestamp: {} size: {} batchLength: {} magic: {} attributes: {} compresscodec: {} \
         crc: {} isvalid: {}",
        b.base_offset,
        b.last_offset,
        b.count,
        b.base_sequence,
        b.last_sequence,
        b.producer_id,
        b.producer_epoch,
        b.partition_leader_epoch,
        b.is_transactional,
        b.is_control,
        b.position,
        b.timestamp_type.as_str(),
        b.max_timestamp,
        b.base_timestamp,
        b.size,
        b.size.saturating_sub(12),
        b.magic,
        b.attributes,
        b.compression,
        b.crc,
        b.crc_valid && b.error.is_none(),
    )?;
    if let Some((marker, epoch)) = &b.marker {
        write!(out, " endTxnMarker: {marker} coordinatorEpoch: {epoch}")?;
    }
    if let Some(e) = &b.error {
        write!(out, " error: {e}")?;
    }
    writeln!(out)
}

fn write_record_line(
    out: &mut impl Write,
    b: &DumpedBatch,
    r: &DumpedRecord,
    enc: OutputEncoding,
    internal: Option<Internal>,
) -> std::io::Result<()> {
    let seq = if b.base_sequence < 0 {
        -1
    } else {
        let delta = (r.offset - b.base_offset) as i32;
        // Sequences wrap at i32::MAX, as Kafka's DefaultRecordBatch.incrementSequence does.
        if b.base_sequence > i32::MAX - delta {
            delta - (i32::MAX - b.base_sequence) - 1
        } else {
            b.base_sequence + delta
        }
    };
    let size = |v: &Option<Vec<u8>>| v.as_ref().map_or(-1, |v| v.len() as i64);
    let header_keys: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    write!(
        out,
        "| offset: {} {}: {} timestampDelta: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
        r.offset,
        b.timestamp_type.as_str(),
        r.timestamp,
        r.timestamp_delta,
        size(&r.key),
        size(&r.value),
        seq,
        header_keys.join(","),
    )?;
    if let Some((marker, epoch)) = &b.marker {
        write!(out, " endTxnMarker: {marker} coordinatorEpoch: {epoch}")?;
    } else {
        write!(out, " key: {} payload: {}", quoted(r.key.as_deref(), enc), quoted(r.value.as_deref(), enc))?;
        for (k, v) in &r.headers {
            write!(out, " header: {}={}", Value::String(k.clone()), quoted(v.as_deref(), enc))?;
        }
        if let Some(decoded) = internal.and_then(|kind| decode_internal(kind, r)) {
            write!(out, " decoded: {decoded}")?;
        }
    }
    writeln!(out)
}

fn write_text(out: &mut impl Write, path: &Path, f: &DumpedFile, enc: OutputEncoding) -> std::io::Result<()> {
    writeln!(out, "Dumping {}", path.display())?;
    match f {
        DumpedFile::Log { batches, trailing } => {
            let start =
                path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
            writeln!(out, "Log starting offset: {start}")?;
            for b in batches {
                write_batch_line(out, b)?;
                for r in b.records.iter().flatten() {
                    write_record_line(
                        out,
                        b,
                        r,
                        enc,
                        if b.is_control { None } else { internal_topic(path) },
                    )?;
                }
            }
            if let Some((bytes, why)) = trailing {
                writeln!(out, "Found {bytes} invalid bytes at the end of {}: {why}", path.display())?;
            }
        }
        DumpedFile::OffsetIndex { entries, trailing_bytes, .. } => {
            for (offset, position) in entries {
                writeln!(out, "offset: {offset} position: {position}")?;
            }
            if *trailing_bytes > 0 {
                writeln!(out, "Found {trailing_bytes} trailing bytes that are not an entry")?;
            }
        }
        DumpedFile::TimeIndex { entries, trailing_bytes, .. } => {
            for (timestamp, offset) in entries {
                writeln!(out, "timestamp: {timestamp} offset: {offset}")?;
            }
            if *trailing_bytes > 0 {
                writeln!(out, "Found {trailing_bytes} trailing bytes that are not an entry")?;
            }
        }
        DumpedFile::TxnIndex { entries, error } => {
            for t in entries {
                writeln!(
                    out,
                    "version: 0 producerId: {} firstOffset: {} lastOffset: {} lastStableOffset: {}",
                    t.producer_id, t.first_offset, t.last_offset, t.last_stable_offset
                )?;
            }
            if let Some(e) = error {
                writeln!(out, "Invalid entry: {e}")?;
            }
        }
        DumpedFile::Snapshot { entries, .. } => match entries {
            Ok(entries) => {
                for e in entries {
                    let txn = if e.current_txn_first_offset >= 0 {
                        e.current_txn_first_offset.to_string()
                    } else {
                        "None".into()
                    };
                    writeln!(
                        out,
                        "producerId: {} producerEpoch: {} coordinatorEpoch: {} currentTxnFirstOffset: {txn} \
                         lastTimestamp: {} lastSequence: {} lastOffset: {} offsetDelta: {}",
                        e.producer_id,
                        e.producer_epoch,
                        e.coordinator_epoch,
                        e.timestamp,
                        e.last_sequence,
                        e.last_offset,
                        e.offset_delta
                    )?;
                }
            }
            Err(e) => writeln!(out, "Invalid snapshot: {e}")?,
        },
        DumpedFile::Text { text } => {
            for line in text.lines() {
                writeln!(out, "  {line}")?;
            }
        }
    }
    Ok(())
}

fn record_json(r: &DumpedRecord, enc: OutputEncoding, internal: Option<Internal>) -> Value {
    let (key, key_encoding) = bytes_to_json(r.key.as_deref(), enc);
    let (value, value_encoding) = bytes_to_json(r.value.as_deref(), enc);
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|(k, v)| {
            let (value, value_encoding) = bytes_to_json(v.as_deref(), enc);
            json!({"key": k, "value": value, "value_encoding": value_encoding})
        })
        .collect();
    let decoded = internal.and_then(|kind| decode_internal(kind, r));
    json!({
        "decoded": decoded,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_delta": r.timestamp_delta,
        "key": key, "key_encoding": key_encoding,
        "value": value, "value_encoding": value_encoding,
        "headers": headers,
    })
}

fn batch_json(b: &DumpedBatch, enc: OutputEncoding, internal: Option<Internal>) -> Value {
    let mut v = json!({
        "position": b.position,
        "size_bytes": b.size,
        "batch_length": b.size.saturating_sub(12),
        "base_offset": b.base_offset,
        "last_offset": b.last_offset,
        "last_offset_delta": b.last_offset - b.base_offset,
        "record_count": b.count,
        "partition_leader_epoch": b.partition_leader_epoch,
        "magic": b.magic,
        "attributes": b.attributes,
        "crc": b.crc,
        "crc_valid": b.crc_valid,
        "compression": b.compression,
        "timestamp_type": b.timestamp_type.as_str(),
        "is_transactional": b.is_transactional,
        "is_control": b.is_control,
        "producer_id": b.producer_id,
        "producer_epoch": b.producer_epoch,
        "base_sequence": b.base_sequence,
        "last_sequence": b.last_sequence,
        "base_timestamp": b.base_timestamp,
        "max_timestamp": b.max_timestamp,
        "control_type": b.marker.as_ref().map(|m| m.0.clone()),
        "coordinator_epoch": b.marker.as_ref().map(|m| m.1),
        "error": b.error,
    });
    if let (Some(records), Value::Object(m)) = (&b.records, &mut v) {
        m.insert(
            "records".into(),
            Value::Array(
                records
                    .iter()
                    .map(|r| record_json(r, enc, if b.is_control { None } else { internal }))
                    .collect(),
            ),
        );
    }
    v
}

/// A checkpoint-style text file (version line, count line, entries) as JSON, when it is one.
fn checkpoint_json(text: &str) -> Option<Value> {
    let mut lines = text.lines();
    let version: i64 = lines.next()?.trim().parse().ok()?;
    let count: usize = lines.next()?.trim().parse().ok()?;
    let entries: Vec<Value> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            Value::Array(
                l.split_whitespace()
                    .map(|f| f.parse::<i64>().map_or_else(|_| json!(f), |n| json!(n)))
                    .collect(),
            )
        })
        .collect();
    Some(json!({"version": version, "count": count, "entries": entries}))
}

fn file_json(path: &Path, f: &DumpedFile, enc: OutputEncoding) -> Value {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    let p = path.display().to_string();
    match f {
        DumpedFile::Log { batches, trailing } => json!({
            "path": p, "name": name, "type": "log",
            "batches": batches.iter().map(|b| batch_json(b, enc, internal_topic(path))).collect::<Vec<_>>(),
            "trailing": trailing.as_ref().map(|(n, why)| json!({"bytes": n, "reason": why})),
        }),
        DumpedFile::OffsetIndex { base_offset, entries, trailing_bytes } => json!({
            "path": p, "name": name, "type": "offset_index", "base_offset": base_offset,
            "entries": entries.iter().map(|(o, pos)| json!({"offset": o, "position": pos})).collect::<Vec<_>>(),
            "trailing_bytes": trailing_bytes,
        }),
        DumpedFile::TimeIndex { base_offset, entries, trailing_bytes } => json!({
            "path": p, "name": name, "type": "time_index", "base_offset": base_offset,
            "entries": entries.iter().map(|(t, o)| json!({"timestamp": t, "offset": o})).collect::<Vec<_>>(),
            "trailing_bytes": trailing_bytes,
        }),
        DumpedFile::TxnIndex { entries, error } => json!({
            "path": p, "name": name, "type": "txn_index",
            "entries": entries.iter().map(|t| json!({
                "version": 0, "producer_id": t.producer_id, "first_offset": t.first_offset,
                "last_offset": t.last_offset, "last_stable_offset": t.last_stable_offset,
            })).collect::<Vec<_>>(),
            "error": error,
        }),
        DumpedFile::Snapshot { offset, entries } => json!({
            "path": p, "name": name, "type": "snapshot", "offset": offset,
            "entries": entries.as_ref().ok().map(|es| es.iter().map(|e| json!({
                "producer_id": e.producer_id, "producer_epoch": e.producer_epoch,
                "last_sequence": e.last_sequence, "last_offset": e.last_offset,
                "offset_delta": e.offset_delta, "last_timestamp": e.timestamp,
                "coordinator_epoch": e.coordinator_epoch,
                "current_txn_first_offset": (e.current_txn_first_offset >= 0).then_some(e.current_txn_first_offset),
            })).collect::<Vec<_>>()),
            "error": entries.as_ref().err(),
        }),
        DumpedFile::Text { text } => match checkpoint_json(text) {
            Some(c) => json!({"path": p, "name": name, "type": "checkpoint", "checkpoint": c, "text": text}),
            None => json!({"path": p, "name": name, "type": "text", "text": text}),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_parse() {
        let c = checkpoint_json("0\n2\n0 0\n3 20\n").unwrap();
        assert_eq!(c, json!({"version": 0, "count": 2, "entries": [[0, 0], [3, 20]]}));
        let c = checkpoint_json("0\n1\norders 2 150\n").unwrap();
        assert_eq!(c["entries"], json!([["orders", 2, 150]]));
        assert!(checkpoint_json("version: 0\ntopic_id: x\n").is_none());
    }
}
