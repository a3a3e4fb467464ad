//! Operations that remove data: retention, `delete_records`, truncation (replication), and
//! closing a partition.
//!
//! Deletion follows Kafka: a segment leaves the readers' view first, then its files are renamed
//! with the `.deleted` suffix and the directory fsynced, then the files are removed. Producer
//! state outlives the data (KAFKA-7190): retention only drops transaction bookkeeping below the
//! new log start; producers expire by `producer.id.expiration.ms`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::TopicConfig;
use crate::error::{Error, Result, StorageError};
use crate::log::checkpoint::{LOG_START_OFFSET_CHECKPOINT, OffsetCheckpointFile, RECOVERY_POINT_CHECKPOINT};
use crate::log::load::PartitionRecovery;
use crate::log::partition::{LogInner, PartitionLog};
use crate::segment::LogSegment;

/// Why segments were deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionReason {
    /// `retention.ms`.
    RetentionTime,
    /// `retention.bytes`.
    RetentionSize,
    /// Below the log start offset (`delete_records`).
    LogStartOffset,
}

impl PartitionLog {
    /// Applies `retention.ms`, `retention.bytes` and the log start offset; returns the number of
    /// segments deleted. The active segment is never deleted, and only segments entirely below
    /// the high watermark qualify (data a consumer may not have seen yet stays).
    pub fn apply_retention(&self) -> Result<usize> {
        self.check_writable()?;
        let config = self.config();
        let now = self.ctx.clock.now_ms();
        let mut inner = self.inner.lock();
        let mut deleted = 0;
        deleted += self.delete_old_segments(&mut inner, DeletionReason::LogStartOffset, &config, now)?;
        if config.retention_ms >= 0 {
            deleted += self.delete_old_segments(&mut inner, DeletionReason::RetentionTime, &config, now)?;
        }
        if config.retention_bytes >= 0 {
            deleted += self.delete_old_segments(&mut inner, DeletionReason::RetentionSize, &config, now)?;
        }
        Ok(deleted)
    }

    fn delete_old_segments(
        &self,
        inner: &mut LogInner,
        reason: DeletionReason,
        config: &TopicConfig,
        now: i64,
    ) -> Result<usize> {
        let segments = self.segments.read().clone();
        let hw = self.high_watermark();
        let log_start = self.log_start_offset();
        let mut total: u64 = segments.values().map(|s| s.size()).sum();
        let bases: Vec<i64> = segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, base) in bases.iter().enumerate() {
            // The next segment's base is this one's exclusive end.
            let Some(&next_base) = bases.get(i + 1) else { break };
            if next_base > hw {
                break;
            }
            let seg = &segments[base];
            let ok = match reason {
                DeletionReason::LogStartOffset => next_base <= log_start,
                DeletionReason::RetentionTime => {
                    let ts = seg.largest_timestamp();
                    ts >= 0 && now - ts > config.retention_ms
                }
                DeletionReason::RetentionSize => {
                    total.saturating_sub(seg.size()) >= config.retention_bytes as u64
                }
            };
            if !ok {
                break;
            }
            total -= seg.size();
            doomed.push(*base);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        let new_start = *bases.get(doomed.len()).expect("the active segment is never deleted");
        self.remove_segments(inner, &doomed).map_err(|e| self.fail(e))?;
        self.advance_log_start(inner, new_start.max(log_start))?;
        log::info!(
            "{}: deleted {} segment(s) ({reason:?}); log start is now {}",
            self.tp,
            doomed.len(),
            self.log_start_offset()
        );
        Ok(doomed.len())
    }

    /// Removes segments from the view, renames their files to `.deleted`, fsyncs the directory
    /// and removes the files. Their producer snapshots go with them.
    fn remove_segments(&self, _inner: &mut LogInner, bases: &[i64]) -> Result<()> {
        let removed: Vec<Arc<LogSegment>> = {
            let mut segs = self.segments.write();
            let mut map = (**segs).clone();
            let removed = bases.iter().filter_map(|b| map.remove(b)).collect();
            *segs = Arc::new(map);
            removed
        };
        let mut renamed = Vec::new();
        for seg in &removed {
            renamed.extend(seg.rename_to_deleted()?);
        }
        self.ctx.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
        for path in renamed {
            match self.ctx.io.remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("remove", &path, e).into()),
            }
        }
        for seg in &removed {
            self.snapshots.delete(seg.base_offset())?;
        }
        Ok(())
    }

    fn advance_log_start(&self, inner: &mut LogInner, new_start: i64) -> Result<()> {
        if new_start <= self.log_start_offset() {
            return Ok(());
        }
        self.offsets.log_start.store(new_start, Ordering::Release);
        inner.producers.truncate_head(new_start);
        inner.epochs.truncate_from_start(new_start).map_err(|e| self.fail(e))?;
        if self.high_watermark() < new_start {
            self.set_high_watermark_locked(inner, new_start);
        } else {
            self.set_high_watermark_locked(inner, self.high_watermark());
        }
        Ok(())
    }

    /// Kafka's DeleteRecords: moves the log start offset to `offset` (at most the high
    /// watermark) and deletes the segments entirely below it. Returns the new log start.
    pub fn delete_records(&self, offset: i64) -> Result<i64> {
        self.check_writable()?;
        let mut inner = self.inner.lock();
        let hw = self.high_watermark();
        if offset < 0 || offset > hw {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset(),
                log_end_offset: hw,
            });
        }
        self.advance_log_start(&mut inner, offset)?;
        let config = self.config();
        let now = self.ctx.clock.now_ms();
        self.delete_old_segments(&mut inner, DeletionReason::LogStartOffset, &config, now)?;
        Ok(self.log_start_offset())
    }

    /// Truncates the log to `offset` (a follower diverged from its leader): every batch holding
    /// an offset ≥ `offset` goes; producer state is rebuilt from a snapshot below the new end
    /// (KAFKA-12153: producer state first, then offsets).
    pub fn truncate_to(&self, offset: i64) -> Result<()> {
        self.check_writable()?;
        if offset < 0 {
            return Err(Error::InvalidRequest(format!("cannot truncate to negative offset {offset}")));
        }
        let mut inner = self.inner.lock();
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        if offset <= self.log_start_offset() {
            drop(inner);
            return self.truncate_fully_and_start_at(offset);
        }
        let result = self.truncate_locked(&mut inner, offset);
        let new_end = self.log_end_offset();
        drop(inner);
        result.map_err(|e| self.fail(e))?;
        self.lower_checkpointed_offsets(new_end, None).map_err(|e| self.fail(e))
    }

    /// After a truncation, lowers this partition's entries in the data directory's
    /// recovery-point (and, when given, log-start-offset) checkpoints to `recovery_point` /
    /// `log_start`, as Kafka checkpoints right after truncating (`LogManager.truncateTo`).
    /// Otherwise a crash before the next periodic checkpoint would leave a recovery point above
    /// the truncation, and the torn tail of any later append would be taken for damage of
    /// flushed data (or the log would reopen at the old log start).
    fn lower_checkpointed_offsets(&self, recovery_point: i64, log_start: Option<i64>) -> Result<()> {
        let Some(data_dir) = self.dir.parent() else { return Ok(()) };
        let _guard = self.ctx.checkpoint_lock.lock();
        let key = (self.tp.topic.clone(), self.tp.partition);
        let files =
            [(RECOVERY_POINT_CHECKPOINT, Some(recovery_point)), (LOG_START_OFFSET_CHECKPOINT, log_start)];
        for (name, value) in files {
            let Some(value) = value else { continue };
            let file = OffsetCheckpointFile::new(self.ctx.io.clone(), data_dir.join(name));
            let mut offsets = file.read()?;
            if offsets.get(&key).is_some_and(|&v| v > value) {
                offsets.insert(key.clone(), value);
                file.write(&offsets)?;
            }
        }
        Ok(())
    }

    fn truncate_locked(&self, inner: &mut LogInner, offset: i64) -> Result<()> {
        let segments = self.segments.read().clone();
        // Whole segments at or after the offset go. One below it remains: the caller ensured
        // offset > log start ≥ the first segment's base.
        let doomed: Vec<i64> = segments.range(offset..).map(|(b, _)| *b).collect();
        if !doomed.is_empty() {
            self.remove_segments(inner, &doomed)?;
        }
        let active = self.active_segment();
        active.truncate_to(offset)?;
        let new_end = active.load_tail_state()?.unwrap_or(active.base_offset()).min(offset);
        let new_end = new_end.max(active.base_offset());
        // Producer state, snapshots and epochs follow before the offsets (KAFKA-12153).
        self.snapshots.delete_above(new_end)?;
        self.offsets.log_end.store(new_end, Ordering::Release);
        let mut report = PartitionRecovery::default();
        self.rebuild_producer_state(inner, new_end, &mut report)?;
        inner.epochs.truncate_from_end(new_end)?;
        inner.recovery_point = inner.recovery_point.min(new_end);
        self.offsets.durable.fetch_min(new_end, Ordering::AcqRel);
        let hw = self.high_watermark().min(new_end);
        self.set_high_watermark_locked(inner, hw);
        active.flush()?;
        Ok(())
    }

    /// Deletes every segment and restarts the log, empty, at `offset` (a follower far behind
    /// its leader's log start). Producer state is cleared.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<()> {
        self.check_writable()?;
        if offset < 0 {
            return Err(Error::InvalidRequest(format!("cannot start the log at negative offset {offset}")));
        }
        let mut inner = self.inner.lock();
        let result = (|| -> Result<()> {
            let config = self.config();
            let bases: Vec<i64> = self.segments.read().keys().copied().collect();
            // Install the new empty segment before removing the old ones, so readers always
            // find an active segment.
            let fresh = LogSegment::create(
                self.ctx.io.clone(),
                &self.dir,
                offset,
                PartitionLog::segment_config(&config),
                self.ctx.clock.now_ms(),
            )?;
            let doomed: Vec<i64> = bases.iter().copied().filter(|b| *b != offset).collect();
            {
                let mut segs = self.segments.write();
                let mut map = (**segs).clone();
                if let Some(old) = map.remove(&offset) {
                    drop(old);
                }
                map.insert(offset, Arc::new(fresh));
                *segs = Arc::new(map);
            }
            self.remove_segments(&mut inner, &doomed)?;
            self.snapshots.delete_above(-1)?;
            inner.producers.truncate_fully_and_start_at(offset);
            inner.epochs.clear_and_flush()?;
            self.offsets.log_end.store(offset, Ordering::Release);
            self.offsets.log_start.store(offset, Ordering::Release);
            self.offsets.durable.store(offset, Ordering::Release);
            inner.recovery_point = offset;
            self.set_high_watermark_locked(&mut inner, offset);
            self.ctx.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
            Ok(())
        })();
        drop(inner);
        result.map_err(|e| self.fail(e))?;
        self.lower_checkpointed_offsets(offset, Some(offset)).map_err(|e| self.fail(e))
    }

    /// Changes the topic configuration of this partition (takes effect for the next append,
    /// roll or retention pass).
    pub fn set_config(&self, config: Arc<TopicConfig>) {
        *self.config.write() = config;
    }

    /// Flushes everything, writes the final time-index entry, trims the indexes and takes a
    /// producer snapshot at the log end, as Kafka's `UnifiedLog.close` does. Further calls fail
    /// with a `Closed` error. Returns the recovery point (the log end offset).
    pub fn close(&self) -> Result<i64> {
        if self.closed.swap(true, Ordering::AcqRel) {
            // Closing again must not hide an earlier failure: the engine only writes its
            // clean-shutdown marker when every partition closes cleanly.
            if let Some(cause) = self.failure() {
                return Err(StorageError::Offline { partition: self.tp.to_string(), cause }.into());
            }
            return Ok(self.log_end_offset());
        }
        let inner = self.inner.lock();
        if let Some(cause) = self.failure() {
            // Writing more to a failed partition could make things worse; recovery will rebuild
            // the indexes and producer state from the data that is on disk.
            return Err(StorageError::Offline { partition: self.tp.to_string(), cause }.into());
        }
        let active = self.active_segment();
        let flushed = active.close().and_then(|()| self.segments.read().values().try_for_each(|s| s.flush()));
        if let Err(e) = flushed {
            let e = self.fail(e);
            self.discard_unsynced_locked(&active);
            return Err(e);
        }
        let leo = self.log_end_offset();
        self.snapshots.write(leo, &inner.producers.snapshot_entries())?;
        self.ctx.io.sync_dir(&self.dir).map_err(|e| StorageError::io("fsync dir", &self.dir, e))?;
        self.offsets.durable.fetch_max(leo, Ordering::AcqRel);
        Ok(leo)
    }
}
