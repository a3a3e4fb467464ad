//! Group commit: appenders that need durability share fdatasyncs.
//!
//! Every waiter registers its partition and waits until the partition's durable offset covers
//! its append. One waiter at a time becomes the *leader*: it takes every registered partition,
//! captures each one's sync target (log end offset, then active segment file), syncs all of the
//! files with one [`IoBackend::sync_many`] call (io_uring submits them together) and publishes
//! the new durable offsets. Appenders that arrive while a round is in flight join the next
//! round, so N concurrent appenders cost far fewer than N fsyncs.
//!
//! A failed sync takes the partition offline (sticky); the waiter gets the error and nothing it
//! wrote is reported durable. The bytes the failed sync covered are cut from the file, so that
//! a restart cannot read back pages the kernel dropped from write-back (fsyncgate).

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{Result, StorageError};
use crate::io::{IoBackend, IoFile};
use crate::log::partition::PartitionLog;

#[derive(Debug, Default)]
struct State {
    /// Partitions waiting for the next round.
    pending: Vec<Arc<PartitionLog>>,
    /// A leader is syncing.
    leader: bool,
    /// Completed rounds (for tests and stats).
    rounds: u64,
}

/// Shared fsync rounds for one engine.
#[derive(Debug)]
pub struct GroupCommit {
    io: Arc<dyn IoBackend>,
    state: Mutex<State>,
    done: Condvar,
}

impl GroupCommit {
    /// Group commit over files of `io`.
    pub fn new(io: Arc<dyn IoBackend>) -> Self {
        GroupCommit { io, state: Mutex::new(State::default()), done: Condvar::new() }
    }

    /// Number of sync rounds run so far.
    pub fn rounds(&self) -> u64 {
        self.state.lock().rounds
    }

    /// Blocks until everything below `offset` in `partition` is durable.
    pub fn wait_durable(&self, partition: &Arc<PartitionLog>, offset: i64) -> Result<()> {
        self.wait_durable_many(&[(partition.clone(), offset)])
    }

    /// Blocks until, for every `(partition, offset)`, everything below `offset` is durable. All
    /// of them join the same round, so a transaction's partitions cost one round of fsyncs
    /// (submitted together by io_uring) rather than one each.
    pub fn wait_durable_many(&self, targets: &[(Arc<PartitionLog>, i64)]) -> Result<()> {
        let mut st = self.state.lock();
        let enqueue = |st: &mut State| {
            for (p, offset) in targets {
                if p.durable_offset() < *offset && !st.pending.iter().any(|q| Arc::ptr_eq(q, p)) {
                    st.pending.push(p.clone());
                }
            }
        };
        enqueue(&mut st);
        loop {
            let mut done = true;
            for (p, offset) in targets {
                if let Some(cause) = p.failure() {
                    return Err(
                        StorageError::Offline { partition: p.topic_partition().to_string(), cause }.into()
                    );
                }
                done &= p.durable_offset() >= *offset;
            }
            if done {
                return Ok(());
            }
            if st.leader {
                self.done.wait(&mut st);
                continue;
            }
            st.leader = true;
            let round = std::mem::take(&mut st.pending);
            drop(st);
            self.sync_round(&round);
            st = self.state.lock();
            st.leader = false;
            st.rounds += 1;
            self.done.notify_all();
            // A partition synced in this round but not far enough (a concurrent append landed
            // after its target was captured) goes into the next round.
            enqueue(&mut st);
        }
    }

    /// Syncs every partition of a round at once.
    fn sync_round(&self, round: &[Arc<PartitionLog>]) {
        let targets: Vec<_> = round.iter().map(|p| p.sync_target()).collect();
        let files: Vec<Arc<dyn IoFile>> = targets.iter().map(|(_, s, _)| s.log_file().clone()).collect();
        let results = self.io.sync_many(&files);
        for ((partition, (offset, segment, size)), result) in round.iter().zip(&targets).zip(results) {
            match result {
                Ok(()) => {
                    segment.note_synced(*size);
                    partition.mark_durable(*offset);
                }
                Err(e) => {
                    partition.fail(StorageError::io("fdatasync", segment.log_file().path(), e).into());
                    // Never retried and trusted: what this sync covered is cut from the file.
                    partition.discard_unsynced(segment);
                }
            }
        }
    }
}
