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
//! wrote is reported durable.

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
        let mut st = self.state.lock();
        if !st.pending.iter().any(|p| Arc::ptr_eq(p, partition)) {
            st.pending.push(partition.clone());
        }
        loop {
            if let Some(cause) = partition.failure() {
                return Err(StorageError::Offline {
                    partition: partition.topic_partition().to_string(),
                    cause,
                }
                .into());
            }
            if partition.durable_offset() >= offset {
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
            if !st.pending.iter().any(|p| Arc::ptr_eq(p, partition)) && partition.durable_offset() < offset {
                // Our partition was synced in this round but not far enough (a concurrent
                // append landed after the target was captured); go again.
                st.pending.push(partition.clone());
            }
        }
    }

    /// Syncs every partition of a round at once.
    fn sync_round(&self, round: &[Arc<PartitionLog>]) {
        let targets: Vec<(i64, Arc<dyn IoFile>)> = round.iter().map(|p| p.sync_target()).collect();
        let files: Vec<Arc<dyn IoFile>> = targets.iter().map(|(_, f)| f.clone()).collect();
        let results = self.io.sync_many(&files);
        for ((partition, (offset, file)), result) in round.iter().zip(&targets).zip(results) {
            match result {
                Ok(()) => partition.mark_durable(*offset),
                Err(e) => {
                    partition.fail(StorageError::io("fdatasync", file.path(), e).into());
                }
            }
        }
    }
}
