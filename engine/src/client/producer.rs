//! The in-process producer (Kafka's `KafkaProducer`): idempotent by default, transactional
//! with a `transactional.id`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::config::ProducerConfig;
use super::error::{
    SharedError, is_definitely_not_written, is_fatal, is_group_membership_error, is_retriable,
};
use super::partitioner::PartitionerState;
use super::record::{ConsumerGroupMetadata, ProducerRecord, RecordMetadata};
use crate::batch::{self, RecordBatchBuilder};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use crate::log::{AppendInfo, TopicPartition};
use crate::offsets::OffsetAndMetadata;
use crate::txn::{ProducerIdAndEpoch, TxnTopicPartition};

/// Where the transaction of a transactional producer stands (Kafka's
/// `TransactionManager.State`, minus the transient initialising state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// `init_transactions` has not succeeded yet.
    Uninitialized,
    /// No transaction is open; `begin_transaction` may be called.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// `commit_transaction` is running.
    Committing,
    /// `abort_transaction` is running.
    Aborting,
    /// A commit failed without a definite answer; only `commit_transaction` may be called
    /// (retrying it is safe; aborting is not, as the commit may already be decided —
    /// KAFKA-17754).
    CommitPending,
    /// Something in the transaction failed; only `abort_transaction` may be called.
    AbortableError,
    /// The producer was fenced or lost track of its sequences; it can only be closed.
    FatalError,
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The outcome of one batch, shared by the handles of its records.
#[derive(Debug)]
struct BatchCompletion {
    tp: TopicPartition,
    result: Mutex<Option<std::result::Result<BatchAck, SharedError>>>,
    done: Condvar,
}

#[derive(Debug, Clone, Copy)]
struct BatchAck {
    base_offset: i64,
    log_append_time: i64,
}

impl BatchCompletion {
    fn new(tp: TopicPartition) -> Arc<BatchCompletion> {
        Arc::new(BatchCompletion { tp, result: Mutex::new(None), done: Condvar::new() })
    }

    fn complete(&self, result: std::result::Result<BatchAck, SharedError>) {
        let mut r = self.result.lock();
        if r.is_none() {
            *r = Some(result);
        }
        self.done.notify_all();
    }
}

/// The future result of one [`Producer::send`] (Kafka's `Future<RecordMetadata>`).
#[derive(Debug, Clone)]
pub struct DeliveryHandle {
    batch: Arc<BatchCompletion>,
    index: i32,
    timestamp: i64,
}

impl DeliveryHandle {
    fn metadata(&self, r: &std::result::Result<BatchAck, SharedError>) -> Result<RecordMetadata> {
        match r {
            Ok(ack) => Ok(RecordMetadata {
                topic: self.batch.tp.topic.clone(),
                partition: self.batch.tp.partition,
                offset: ack.base_offset + i64::from(self.index),
                timestamp: if ack.log_append_time >= 0 { ack.log_append_time } else { self.timestamp },
            }),
            Err(e) => Err(e.to_error()),
        }
    }

    /// Blocks until the record is in the log (or failed) and returns where it went. Records
    /// are sent after at most `linger.ms`, or earlier by a full batch, a flush or a commit.
    pub fn wait(&self) -> Result<RecordMetadata> {
        let mut r = self.batch.result.lock();
        while r.is_none() {
            self.batch.done.wait(&mut r);
        }
        let result = r.as_ref().expect("checked above");
        self.metadata(result)
    }

    /// Like [`DeliveryHandle::wait`] with an upper bound: `None` if the record is not settled
    /// within `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<RecordMetadata>> {
        let deadline = Instant::now() + timeout;
        let mut r = self.batch.result.lock();
        while r.is_none() {
            if self.batch.done.wait_until(&mut r, deadline).timed_out() {
                break;
            }
        }
        r.as_ref().map(|result| self.metadata(result))
    }

    /// Whether the record is settled (in the log or failed).
    pub fn is_done(&self) -> bool {
        self.batch.result.lock().is_some()
    }

    /// The record's topic-partition (known as soon as `send` returns).
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.batch.tp
    }
}

/// A batch being filled or waiting to be sent.
#[derive(Debug)]
struct OpenBatch {
    builder: RecordBatchBuilder,
    completion: Arc<BatchCompletion>,
    created: Instant,
    /// Full: no more records go in; send it now.
    closed: bool,
}

#[derive(Debug)]
struct PartitionQueue {
    batches: VecDeque<OpenBatch>,
    /// Partition count of the topic when the queue was made (for the sticky partitioner).
    partitions: i32,
}

#[derive(Debug)]
struct State {
    /// Producer id and epoch; `None` before `init_transactions` and without idempotence.
    producer: Option<ProducerIdAndEpoch>,
    /// Transaction state (`Ready` forever for a non-transactional producer).
    txn: TransactionState,
    /// Partitions added to the current transaction with the coordinator.
    txn_partitions: HashSet<TopicPartition>,
    /// Why the producer is unusable.
    fatal: Option<SharedError>,
    /// Why the current transaction must be aborted.
    abortable: Option<SharedError>,
    /// No more sends.
    closed: bool,
    /// Tells the linger thread to exit.
    stop_linger: bool,
    queues: BTreeMap<TopicPartition, PartitionQueue>,
    partitioner: PartitionerState,
}

impl State {
    /// The earliest instant an open batch becomes due, if any.
    fn next_due(&self, linger: Duration) -> Option<Instant> {
        self.queues
            .values()
            .filter_map(|q| q.batches.front())
            .map(|b| if b.closed { b.created } else { b.created + linger })
            .min()
    }
}

/// A hook deciding, after a successful append, to behave as if its acknowledgement was lost.
#[doc(hidden)]
pub type LostAckHook = Box<dyn FnMut(&TopicPartition, i32) -> bool + Send>;

/// State of the draining side (under the sender lock).
struct Sender {
    /// Next sequence per partition for the current producer id and epoch.
    sequences: BTreeMap<TopicPartition, i32>,
    lost_ack: Option<LostAckHook>,
    /// Resends the log answered as duplicates.
    duplicates: u64,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("sequences", &self.sequences)
            .field("lost_ack", &self.lost_ack.is_some())
            .field("duplicates", &self.duplicates)
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    config: ProducerConfig,
    sender: Mutex<Sender>,
    state: Mutex<State>,
    /// Wakes the linger thread (a new batch was opened, or the producer closes).
    wake: Condvar,
}

/// The in-process producer.
///
/// # Batching and retries
///
/// Records are accumulated per partition into open batches ([`RecordBatchBuilder`]s). A batch
/// is *closed* when the next record would take it past `batch.size` (or when one record alone
/// fills it), and *ready* when it is closed, when it is older than `linger.ms`, or when the
/// application flushes. Ready batches are *drained* and appended to the engine:
///
/// - by the thread that closed a batch, right after `send` (so a fast producer is throttled by
///   the log, not by an unbounded queue);
/// - by a background *linger* thread that sleeps until the oldest open batch is due;
/// - by `flush`, `send_sync`, `commit_transaction` and `close`.
///
/// Draining is serialised by the *sender lock*: batches of one partition are given their
/// sequence numbers at drain time, in order, and appended in that order, which is what the
/// partition's sequence check requires. A sequence number is consumed only when the log has
/// the batch, so a batch the log refused (a validation error) leaves no gap.
///
/// Retries resend the *same bytes* (same producer id, epoch and sequence): if the first attempt
/// did land, the partition recognises the duplicate among the producer's last five batches and
/// answers with the original offsets, writing nothing (Kafka's idempotence). The producer keeps
/// at most `max.in.flight.requests.per.connection` (≤ 5) batches of a partition between a
/// batch and its resend, so a resend always falls inside that window.
///
/// # Locking
///
/// Two locks, always taken in this order: the sender lock (draining, coordinator calls that
/// change the producer's identity) and the state lock (accumulator, transaction state). The
/// state lock is never held across an append to a data partition.
///
/// # Thread safety
///
/// `Producer` is `Send + Sync`: share it between threads by reference or in an `Arc`, as a
/// Java `KafkaProducer` is shared. Calls from several threads interleave at record
/// granularity; per partition, records keep the order of their `send` calls.
///
/// ```
/// use eoslog::client::{Producer, ProducerConfig, ProducerRecord};
/// let dir = tempfile::tempdir().unwrap();
/// let engine = eoslog::Engine::open(dir.path(), Default::default()).unwrap();
/// engine.create_topic("events", 3, Default::default()).unwrap();
///
/// let producer = Producer::new(&engine, ProducerConfig::default()).unwrap();
/// let handle = producer.send(ProducerRecord::with_key("events", "user-1", "clicked")).unwrap();
/// producer.flush().unwrap();
/// let md = handle.wait().unwrap();
/// assert_eq!(md.partition, eoslog::client::partition_for_key(b"user-1", 3));
/// assert_eq!(md.offset, 0);
/// producer.close().unwrap();
/// ```
#[derive(Debug)]
pub struct Producer {
    inner: Arc<Inner>,
    linger: Mutex<Option<JoinHandle<()>>>,
}

fn state_error(what: &str, state: TransactionState) -> Error {
    Error::kafka(ErrorCode::InvalidTxnState, format!("cannot {what} in transaction state {state}"))
}

fn closed_error() -> Error {
    Error::InvalidRequest("the producer is closed".into())
}

impl Producer {
    /// Creates a producer on `engine`. An idempotent producer (the default) gets its producer
    /// id here; a transactional one (with `transactional.id`) gets it from
    /// [`Producer::init_transactions`].
    pub fn new(engine: &Engine, config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let producer = if config.enable_idempotence && config.transactional_id.is_none() {
            Some(engine.transactions().init_producer_id(None, config.transaction_timeout_ms, None)?)
        } else {
            None
        };
        let txn = if config.transactional_id.is_some() {
            TransactionState::Uninitialized
        } else {
            TransactionState::Ready
        };
        let inner = Arc::new(Inner {
            engine: engine.clone(),
            sender: Mutex::new(Sender { sequences: BTreeMap::new(), lost_ack: None, duplicates: 0 }),
            state: Mutex::new(State {
                producer,
                txn,
                txn_partitions: HashSet::new(),
                fatal: None,
                abortable: None,
                closed: false,
                stop_linger: false,
                queues: BTreeMap::new(),
                partitioner: PartitionerState::new(config.partitioner),
            }),
            wake: Condvar::new(),
            config,
        });
        let linger = if inner.config.linger_ms > 0 {
            let thread_inner = inner.clone();
            let handle = std::thread::Builder::new()
                .name("eoslog-producer-linger".into())
                .spawn(move || thread_inner.linger_loop())
                .map_err(|e| {
                    Error::InvalidRequest(format!("cannot start the producer's linger thread: {e}"))
                })?;
            Some(handle)
        } else {
            None
        };
        Ok(Producer { inner, linger: Mutex::new(linger) })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// The producer id and epoch in use (`None` before `init_transactions`, or without
    /// idempotence).
    pub fn producer_id_and_epoch(&self) -> Option<ProducerIdAndEpoch> {
        self.inner.state.lock().producer
    }

    /// The transaction state (always `Ready` for a non-transactional producer, unless fatally
    /// failed).
    pub fn transaction_state(&self) -> TransactionState {
        let st = self.inner.state.lock();
        if st.fatal.is_some() { TransactionState::FatalError } else { st.txn }
    }

    /// Number of partitions of `topic` (Kafka's `partitionsFor(topic).size()`).
    pub fn partitions_for(&self, topic: &str) -> Result<i32> {
        self.inner.engine.partition_count(topic)
    }

    /// Sends a record: it is added to its partition's batch and appended to the log within
    /// `linger.ms` (or sooner: when its batch fills up, or at a flush or commit). The handle tells where it
    /// landed. A transactional producer must be in a transaction; the partitions of a
    /// transaction are added with the coordinator before their first data is written (one
    /// AddPartitionsToTxn call per drain, as Kafka's sender batches them).
    pub fn send(&self, record: ProducerRecord) -> Result<DeliveryHandle> {
        let (handle, drain_now) = self.inner.enqueue(record)?;
        if drain_now {
            self.inner.drain(false);
        }
        Ok(handle)
    }

    /// Sends a record and waits until it is in the log (a flush of everything pending).
    pub fn send_sync(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        let handle = self.send(record)?;
        self.inner.drain(true);
        handle.wait()
    }

    /// Appends every record sent so far and waits until each is settled. Returns the first
    /// error among the batches this call appended, or the producer's fatal error; individual
    /// records' outcomes are in their handles.
    pub fn flush(&self) -> Result<()> {
        if let Some(e) = self.inner.drain(true) {
            return Err(e.to_error());
        }
        if let Some(e) = &self.inner.state.lock().fatal {
            return Err(e.to_error());
        }
        Ok(())
    }

    /// Initialises a transactional producer (Kafka's `initTransactions`): registers the
    /// transactional id with the coordinator and bumps its epoch, which fences every earlier
    /// producer with the same id; if that one left a transaction open, the coordinator aborts
    /// it first (the CONCURRENT_TRANSACTIONS answer is retried here with backoff, up to
    /// `max.block.ms`).
    pub fn init_transactions(&self) -> Result<()> {
        let id = self.transactional_id()?.to_string();
        let mut sender = self.inner.sender.lock();
        {
            let st = self.inner.state.lock();
            st.check_usable()?;
            if st.txn != TransactionState::Uninitialized {
                return Err(state_error("initialise transactions", st.txn));
            }
        }
        let timeout = self.inner.config.transaction_timeout_ms;
        let txn = self.inner.engine.transactions().clone();
        let pe = self.inner.retry_coordinator(|| txn.init_producer_id(Some(&id), timeout, None));
        let mut st = self.inner.state.lock();
        match pe {
            Ok(pe) => {
                log::debug!("transactional id {id}: producer {} epoch {}", pe.producer_id, pe.epoch);
                st.producer = Some(pe);
                st.txn = TransactionState::Ready;
                sender.sequences.clear();
                Ok(())
            }
            Err(e) => Err(st.fail_with(&e)),
        }
    }

    /// Starts a transaction (Kafka's `beginTransaction`; local, like Kafka's).
    pub fn begin_transaction(&self) -> Result<()> {
        self.transactional_id()?;
        let mut st = self.inner.state.lock();
        st.check_usable()?;
        if st.txn != TransactionState::Ready {
            return Err(state_error("begin a transaction", st.txn));
        }
        st.txn = TransactionState::InTransaction;
        st.txn_partitions.clear();
        st.abortable = None;
        Ok(())
    }

    /// Adds the consumer's positions to the transaction (Kafka's `sendOffsetsToTransaction`):
    /// adds the group's `__consumer_offsets` partition to the transaction with the coordinator
    /// (AddOffsetsToTxn, in one call with the partitions of records still queued), then writes
    /// the offsets as a transactional offset commit through
    /// [`Engine::txn_offset_commit_for`](crate::Engine::txn_offset_commit_for), which has the
    /// transaction coordinator verify the transaction and the group coordinator check `group`'s
    /// member id and generation (KIP-447). The offsets become the group's committed offsets if
    /// and only if the transaction commits.
    ///
    /// Pass [`Consumer::group_metadata`](super::Consumer::group_metadata) as it is after the
    /// `poll` whose records the transaction holds. If the consumer lost its partitions in a
    /// rebalance since, the commit is refused — ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID or
    /// FENCED_INSTANCE_ID — and, as in Kafka, the transaction can then only be aborted (the
    /// producer is in [`TransactionState::AbortableError`]; the producer itself is not fenced
    /// and goes on with the next transaction).
    pub fn send_offsets_to_transaction(
        &self,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let id = self.transactional_id()?;
        let inner = &self.inner;
        // The sender lock orders this against drains and the end of the transaction.
        let _sender = inner.sender.lock();
        let check = |st: &State| -> Result<()> {
            st.check_usable()?;
            if st.txn != TransactionState::InTransaction {
                if let Some(e) = &st.abortable {
                    return Err(e.to_error());
                }
                return Err(state_error("send offsets to a transaction", st.txn));
            }
            Ok(())
        };
        if group.group_id.is_empty() {
            return Err(Error::kafka(ErrorCode::InvalidGroupId, "the consumer group id is empty"));
        }
        let (pe, to_add) = {
            let st = inner.state.lock();
            check(&st)?;
            let offsets_tp = inner.engine.offsets_partition_for(&group.group_id);
            let offsets_tp = TopicPartition::new(offsets_tp.topic, offsets_tp.partition);
            // AddOffsetsToTxn, together with the partitions of records still queued (they
            // would need their own call at the next drain).
            let mut to_add: Vec<TopicPartition> =
                st.queues.keys().filter(|tp| !st.txn_partitions.contains(*tp)).cloned().collect();
            if !st.txn_partitions.contains(&offsets_tp) {
                to_add.push(offsets_tp);
            }
            (st.producer.expect("a transaction has a producer id"), to_add)
        };
        if !to_add.is_empty() {
            inner.add_partitions(pe, &to_add)?;
        }
        check(&inner.state.lock())?;
        let list: Vec<(String, i32, OffsetAndMetadata)> =
            offsets.iter().map(|(tp, o)| (tp.topic.clone(), tp.partition, o.clone())).collect();
        // Not under the state lock: the write goes to `__consumer_offsets`.
        let written = inner.retry_coordinator(|| {
            inner.engine.txn_offset_commit_for(id, pe.producer_id, pe.epoch, group, &list)
        });
        let mut st = inner.state.lock();
        match written {
            Ok(()) => Ok(()),
            // The consumer lost its partitions: the transaction must not commit, but the
            // producer's identity is intact (Kafka's TxnOffsetCommitHandler: abortable error).
            Err(e) if is_group_membership_error(e.code()) => Err(st.fail_abortable(&e)),
            Err(e) => Err(st.fail_with(&e)),
        }
    }

    /// Commits the transaction (Kafka's `commitTransaction`): appends every pending record,
    /// then ends the transaction with the coordinator (PrepareCommit, markers, CompleteCommit).
    /// When this returns `Ok`, the transaction's records and offsets are visible to
    /// read_committed consumers. With transaction version 2 the coordinator bumps the epoch,
    /// which the producer adopts (its sequences restart at 0).
    ///
    /// If a record of the transaction failed, this fails and the transaction must be aborted.
    /// If the commit itself fails without a definite answer, the state becomes
    /// [`TransactionState::CommitPending`] and only a retry of `commit_transaction` is
    /// allowed.
    pub fn commit_transaction(&self) -> Result<()> {
        self.end_transaction(true, false)
    }

    /// Aborts the transaction (Kafka's `abortTransaction`): records not yet appended are
    /// dropped (their handles fail), and the coordinator writes ABORT markers so that
    /// read_committed consumers skip what was appended.
    pub fn abort_transaction(&self) -> Result<()> {
        self.end_transaction(false, false)
    }

    fn end_transaction(&self, commit: bool, closing: bool) -> Result<()> {
        let id = self.transactional_id()?.to_string();
        let inner = &self.inner;
        let what = if commit { "commit" } else { "abort" };
        let mut sender = inner.sender.lock();
        let dropped = {
            let mut st = inner.state.lock();
            if let Some(e) = &st.fatal {
                return Err(e.to_error());
            }
            if st.closed && !closing {
                return Err(closed_error());
            }
            match (st.txn, commit) {
                (TransactionState::InTransaction | TransactionState::CommitPending, true) => {}
                (TransactionState::AbortableError, true) => {
                    let cause = st.abortable.as_ref().map(|e| e.to_error().to_string()).unwrap_or_default();
                    return Err(Error::kafka(
                        ErrorCode::TransactionAbortable,
                        format!("the transaction must be aborted: {cause}"),
                    ));
                }
                (TransactionState::InTransaction | TransactionState::AbortableError, false) => {}
                (TransactionState::CommitPending, false) => {
                    return Err(Error::kafka(
                        ErrorCode::InvalidTxnState,
                        "the outcome of the previous commit is unknown: retry commit_transaction",
                    ));
                }
                (state, _) => return Err(state_error(&format!("{what} a transaction"), state)),
            }
            st.txn = if commit { TransactionState::Committing } else { TransactionState::Aborting };
            if commit {
                Vec::new()
            } else {
                // Kafka's `abortUndrainedBatches`: nothing of an aborted transaction is sent.
                let queues = std::mem::take(&mut st.queues);
                queues.into_values().flat_map(|q| q.batches).collect()
            }
        };
        let aborted = SharedError::with_context(
            ErrorCode::TransactionAbortable,
            "the record was not sent: its transaction was aborted",
        );
        for b in dropped {
            b.completion.complete(Err(aborted.clone()));
        }
        if commit {
            let failed = inner.drain_locked(&mut sender, true);
            let mut st = inner.state.lock();
            if let Some(f) = &st.fatal {
                return Err(f.to_error());
            }
            if let Some(e) = failed.or_else(|| st.abortable.clone()) {
                st.txn = TransactionState::AbortableError;
                st.abortable = Some(e.clone());
                return Err(Error::kafka(
                    ErrorCode::TransactionAbortable,
                    format!("a record of the transaction failed, abort it: {}", e.to_error()),
                ));
            }
        }
        let (pe, started) = {
            let st = inner.state.lock();
            (st.producer.expect("a transaction has a producer id"), !st.txn_partitions.is_empty())
        };
        // Kafka sends no EndTxn for a transaction that never added a partition.
        let result = if started {
            let txn = inner.engine.transactions().clone();
            let tv = inner.config.transaction_version;
            inner.retry_coordinator(|| txn.end_txn(&id, pe.producer_id, pe.epoch, commit, tv))
        } else {
            Ok(pe)
        };
        let mut st = inner.state.lock();
        match result {
            Ok(next) => {
                if next != pe {
                    // TV2: the markers carried the new epoch, so every partition expects the
                    // next batch of this producer at sequence 0.
                    sender.sequences.clear();
                }
                st.producer = Some(next);
                st.txn = TransactionState::Ready;
                st.txn_partitions.clear();
                st.abortable = None;
                Ok(())
            }
            Err(e) if is_fatal(e.code()) => Err(st.fail_with(&e)),
            Err(e) => {
                // The coordinator may have decided (PrepareX durable) before failing: a commit
                // may only be retried, never turned into an abort. An abort can be retried too.
                st.txn =
                    if commit { TransactionState::CommitPending } else { TransactionState::AbortableError };
                if !commit {
                    st.abortable = Some(SharedError::new(&e));
                }
                Err(e)
            }
        }
    }

    /// Flushes, aborts an open transaction (as Kafka's producer does on a graceful close) and
    /// stops the linger thread. Later calls fail; closing twice is fine.
    pub fn close(&self) -> Result<()> {
        let open_txn = {
            let mut st = self.inner.state.lock();
            if st.closed {
                None
            } else {
                st.closed = true;
                Some(matches!(st.txn, TransactionState::InTransaction | TransactionState::AbortableError))
            }
        };
        let mut result = Ok(());
        if let Some(open_txn) = open_txn {
            if open_txn && self.inner.state.lock().fatal.is_none() {
                log::info!("aborting the open transaction of a closing producer");
                result = self.end_transaction(false, true);
            } else {
                self.inner.drain(true);
            }
        }
        {
            let mut st = self.inner.state.lock();
            st.stop_linger = true;
            self.inner.wake.notify_all();
        }
        if let Some(h) = self.linger.lock().take() {
            let _ = h.join();
        }
        result
    }

    fn transactional_id(&self) -> Result<&str> {
        self.inner.config.transactional_id.as_deref().ok_or_else(|| {
            Error::kafka(
                ErrorCode::InvalidTxnState,
                "the producer has no transactional.id: not transactional",
            )
        })
    }

    /// Test hook: after each successful append, `hook(partition, base_sequence)` decides
    /// whether to treat the acknowledgement as lost; the producer then resends the same batch
    /// (after up to `max.in.flight - 1` later batches of the partition, as a pipelined client
    /// would), and the log must answer with the original offsets.
    #[doc(hidden)]
    pub fn set_lost_ack_hook(&self, hook: Option<LostAckHook>) {
        self.inner.sender.lock().lost_ack = hook;
    }

    /// Test hook: how many resends the log answered as duplicates.
    #[doc(hidden)]
    pub fn duplicate_acks(&self) -> u64 {
        self.inner.sender.lock().duplicates
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing a dropped producer: {e}");
        }
    }
}

impl State {
    fn check_usable(&self) -> Result<()> {
        if let Some(e) = &self.fatal {
            return Err(e.to_error());
        }
        if self.closed {
            return Err(closed_error());
        }
        Ok(())
    }

    /// Records a failure that dooms the open transaction but not the producer.
    fn fail_abortable(&mut self, e: &Error) -> Error {
        if matches!(self.txn, TransactionState::InTransaction | TransactionState::Committing) {
            self.abortable.get_or_insert_with(|| SharedError::new(e));
            self.txn = TransactionState::AbortableError;
        }
        SharedError::new(e).to_error()
    }

    /// Records a failure: fencing and sequence errors make the producer unusable, anything
    /// else inside a transaction makes the transaction abortable. Returns the error to report.
    fn fail_with(&mut self, e: &Error) -> Error {
        let shared = SharedError::new(e);
        if is_fatal(e.code()) {
            log::error!("the producer cannot continue: {e}");
            self.fatal.get_or_insert(shared);
            self.txn = TransactionState::FatalError;
        } else if matches!(self.txn, TransactionState::InTransaction | TransactionState::Committing) {
            self.abortable.get_or_insert(shared);
            self.txn = TransactionState::AbortableError;
        }
        SharedError::new(e).to_error()
    }
}

impl Inner {
    /// Adds a record to its partition's batch. Returns its handle and whether a batch is ready
    /// to be sent at once (closed, or `linger.ms` = 0).
    fn enqueue(&self, record: ProducerRecord) -> Result<(DeliveryHandle, bool)> {
        let size = record.estimated_size();
        if size > self.config.max_request_size {
            return Err(Error::MessageTooLarge { size, max: self.config.max_request_size });
        }
        let partitions = self.engine.partition_count(&record.topic)?;
        let timestamp = record.timestamp.unwrap_or_else(|| self.engine.config().clock.now_ms());
        let mut st = self.state.lock();
        st.check_usable()?;
        let transactional = self.config.transactional_id.is_some();
        if transactional && st.txn != TransactionState::InTransaction {
            if let Some(e) = &st.abortable {
                return Err(Error::kafka(
                    ErrorCode::TransactionAbortable,
                    format!("a previous request of the transaction failed, abort it: {}", e.to_error()),
                ));
            }
            return Err(state_error("send", st.txn));
        }
        let partition = match record.partition {
            Some(p) if (0..partitions).contains(&p) => p,
            Some(p) => return Err(Error::UnknownTopicOrPartition { topic: record.topic, partition: p }),
            None => st.partitioner.partition(&record.topic, record.key.as_deref(), partitions),
        };
        let tp = TopicPartition::new(record.topic.clone(), partition);

        let batch_size = self.config.batch_size;
        let compression = self.config.compression_type;
        let queue = st
            .queues
            .entry(tp.clone())
            .or_insert_with(|| PartitionQueue { batches: VecDeque::new(), partitions });
        let fits = queue
            .batches
            .back()
            .is_some_and(|b| !b.closed && b.builder.estimated_size() + size <= batch_size.max(1));
        let mut closed_one = false;
        if !fits {
            if let Some(last) = queue.batches.back_mut()
                && !last.closed
            {
                last.closed = true;
                closed_one = true;
            }
            queue.batches.push_back(OpenBatch {
                builder: RecordBatchBuilder::new().compression(compression),
                completion: BatchCompletion::new(tp.clone()),
                created: Instant::now(),
                closed: false,
            });
        }
        let batch = queue.batches.back_mut().expect("pushed above");
        let headers: Vec<(&str, Option<&[u8]>)> =
            record.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        batch.builder.append(timestamp, record.key.as_deref(), record.value.as_deref(), &headers);
        let index = batch.builder.len() as i32 - 1;
        if batch.builder.estimated_size() >= batch_size {
            batch.closed = true;
            closed_one = true;
        }
        let handle = DeliveryHandle { batch: batch.completion.clone(), index, timestamp };
        if closed_one {
            let partitions = queue.partitions;
            st.partitioner.on_batch_closed(&tp.topic, tp.partition, partitions);
        }
        if !fits {
            // A new batch has a deadline the linger thread does not know about yet.
            self.wake.notify_all();
        }
        Ok((handle, closed_one || self.config.linger_ms == 0))
    }

    /// AddPartitionsToTxn for partitions about to get their first data (or offsets) of the
    /// transaction: one coordinator call for all of them, as Kafka's sender batches them into
    /// one request. Called with the sender lock held and the state lock not held (the call
    /// makes the coordinator write durably).
    fn add_partitions(&self, pe: ProducerIdAndEpoch, partitions: &[TopicPartition]) -> Result<()> {
        let id = self.config.transactional_id.as_deref().expect("transactional");
        let txn = self.engine.transactions().clone();
        let tv = self.config.transaction_version;
        let list: Vec<TxnTopicPartition> =
            partitions.iter().map(|tp| TxnTopicPartition::new(tp.topic.clone(), tp.partition)).collect();
        let added =
            self.retry_coordinator(|| txn.add_partitions_to_txn(id, pe.producer_id, pe.epoch, &list, tv));
        let mut st = self.state.lock();
        match added {
            Ok(()) => {
                st.txn_partitions.extend(partitions.iter().cloned());
                Ok(())
            }
            Err(e) => Err(st.fail_with(&e)),
        }
    }

    /// Calls the coordinator until it gives an answer other than a retriable error, backing
    /// off between attempts, for at most `max.block.ms`.
    fn retry_coordinator<T>(&self, mut call: impl FnMut() -> Result<T>) -> Result<T> {
        let deadline = Instant::now() + Duration::from_millis(self.config.max_block_ms);
        let mut backoff = Duration::from_millis(self.config.retry_backoff_ms.clamp(1, 10));
        loop {
            match call() {
                Err(e) if is_retriable(e.code()) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::kafka(
                            ErrorCode::RequestTimedOut,
                            format!("gave up after max.block.ms = {} ms: {e}", self.config.max_block_ms),
                        ));
                    }
                    std::thread::sleep(backoff.min(deadline - now));
                    backoff = (backoff * 2).min(Duration::from_millis(self.config.retry_backoff_ms.max(1)));
                }
                other => return other,
            }
        }
    }

    /// Drains ready batches (every batch with `all`); returns the first failure.
    fn drain(&self, all: bool) -> Option<SharedError> {
        let mut sender = self.sender.lock();
        self.drain_locked(&mut sender, all)
    }

    fn drain_locked(&self, sender: &mut Sender, all: bool) -> Option<SharedError> {
        let linger = self.config.linger();
        let now = Instant::now();
        let (work, producer) = {
            let mut st = self.state.lock();
            let mut work = Vec::new();
            let mut closed = Vec::new();
            for (tp, q) in st.queues.iter_mut() {
                let mut taken = Vec::new();
                while let Some(front) = q.batches.front() {
                    let due = all || front.closed || now >= front.created + linger;
                    if !due {
                        break;
                    }
                    let b = q.batches.pop_front().expect("front exists");
                    if !b.closed {
                        closed.push((tp.clone(), q.partitions));
                    }
                    taken.push(b);
                }
                if !taken.is_empty() {
                    work.push((tp.clone(), taken));
                }
            }
            st.queues.retain(|_, q| !q.batches.is_empty());
            for (tp, n) in closed {
                st.partitioner.on_batch_closed(&tp.topic, tp.partition, n);
            }
            (work, st.producer)
        };
        if self.config.transactional_id.is_some()
            && let Some(pe) = producer
        {
            // The first data of a partition in the transaction: add the partition with the
            // coordinator before writing (KIP-890 verification requires it), all at once.
            let new: Vec<TopicPartition> = {
                let st = self.state.lock();
                work.iter().map(|(tp, _)| tp).filter(|tp| !st.txn_partitions.contains(*tp)).cloned().collect()
            };
            if !new.is_empty()
                && let Err(e) = self.add_partitions(pe, &new)
            {
                let shared = SharedError::new(&e);
                for (_, batches) in work {
                    for b in batches {
                        b.completion.complete(Err(shared.clone()));
                    }
                }
                return Some(shared);
            }
        }
        let mut first_error = None;
        for (tp, batches) in work {
            if let Err(e) = self.send_partition(sender, &tp, batches, producer) {
                first_error.get_or_insert(e);
            }
        }
        first_error
    }

    /// Appends the batches of one partition in order. Batches whose acknowledgement the test
    /// hook drops are resent after up to `max.in.flight - 1` later ones.
    fn send_partition(
        &self,
        sender: &mut Sender,
        tp: &TopicPartition,
        batches: Vec<OpenBatch>,
        producer: Option<ProducerIdAndEpoch>,
    ) -> std::result::Result<(), SharedError> {
        let transactional = self.config.transactional_id.is_some();
        let mut first_error = None;
        let mut pending = batches.into_iter();
        loop {
            let chunk: Vec<OpenBatch> = pending.by_ref().take(self.config.max_in_flight.max(1)).collect();
            if chunk.is_empty() {
                break;
            }
            let mut lost = Vec::new();
            for b in chunk {
                if let Some(fatal) = self.state.lock().fatal.clone() {
                    b.completion.complete(Err(fatal.clone()));
                    first_error.get_or_insert(fatal);
                    continue;
                }
                let count = b.builder.len() as i32;
                let sequence = producer.map(|_| *sender.sequences.get(tp).unwrap_or(&0));
                let mut builder = b.builder;
                if let (Some(pe), Some(seq)) = (producer, sequence) {
                    builder = builder.producer(pe.producer_id, pe.epoch, seq).transactional(transactional);
                }
                let bytes = match builder.build() {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        let e = SharedError::new(&Error::from(e));
                        b.completion.complete(Err(e.clone()));
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                match self.append_with_retries(tp, &bytes) {
                    Ok(info) => {
                        if let Some(seq) = sequence {
                            sender.sequences.insert(tp.clone(), batch::increment_sequence(seq, count));
                        }
                        let lose = match (&mut sender.lost_ack, sequence) {
                            (Some(hook), Some(seq)) => hook(tp, seq),
                            (Some(hook), None) => hook(tp, -1),
                            (None, _) => false,
                        };
                        if lose {
                            lost.push((b.completion, bytes, info));
                        } else {
                            b.completion.complete(Ok(ack(&info)));
                        }
                    }
                    Err(e) => {
                        let shared = self.record_failure(&e);
                        b.completion.complete(Err(shared.clone()));
                        first_error.get_or_insert(shared);
                    }
                }
            }
            // The acknowledgements of `lost` never arrived: resend the same bytes. The log
            // must recognise each as a duplicate and give the offsets of the first append.
            for (completion, bytes, original) in lost {
                match self.append_with_retries(tp, &bytes) {
                    Ok(info) => {
                        if info.duplicate {
                            sender.duplicates += 1;
                        } else if producer.is_some() {
                            log::error!(
                                "{tp}: a resent batch was written again at {} (first at {})",
                                info.first_offset,
                                original.first_offset
                            );
                        }
                        completion.complete(Ok(ack(&info)));
                    }
                    Err(e) => {
                        let shared = self.record_failure(&e);
                        completion.complete(Err(shared.clone()));
                        first_error.get_or_insert(shared);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Appends one batch, resending the same bytes on retriable errors for up to `retries`
    /// attempts and `delivery.timeout.ms`.
    fn append_with_retries(&self, tp: &TopicPartition, bytes: &[u8]) -> Result<AppendInfo> {
        let deadline = Instant::now() + Duration::from_millis(self.config.delivery_timeout_ms);
        let txn_id = self.config.transactional_id.as_deref();
        let mut attempts: u32 = 0;
        loop {
            match self.engine.produce(&tp.topic, tp.partition, bytes, txn_id) {
                Err(e)
                    if is_retriable(e.code())
                        && attempts < self.config.retries
                        && Instant::now() < deadline =>
                {
                    attempts += 1;
                    log::debug!("{tp}: retrying an append after {e}");
                    std::thread::sleep(Duration::from_millis(self.config.retry_backoff_ms));
                }
                other => return other,
            }
        }
    }

    /// Classifies a failed append and updates the state; returns the error for the batch.
    fn record_failure(&self, e: &Error) -> SharedError {
        let mut st = self.state.lock();
        let idempotent = st.producer.is_some();
        if idempotent && !is_definitely_not_written(e.code()) {
            // The batch may or may not be in the log, and its sequence number may or may not
            // be consumed: continuing could reuse it for other data. Stop.
            let shared = SharedError::with_context(
                e.code(),
                format!(
                    "an append failed with an unknown outcome, the producer's sequences are unknown: {e}"
                ),
            );
            st.fatal.get_or_insert(shared.clone());
            st.txn = TransactionState::FatalError;
            return shared;
        }
        st.fail_with(e);
        SharedError::new(e)
    }

    fn linger_loop(self: Arc<Self>) {
        let linger = self.config.linger();
        loop {
            {
                let mut st = self.state.lock();
                loop {
                    if st.stop_linger {
                        return;
                    }
                    match st.next_due(linger) {
                        None => self.wake.wait(&mut st),
                        Some(due) if due > Instant::now() => {
                            self.wake.wait_until(&mut st, due);
                        }
                        Some(_) => break,
                    }
                }
            }
            self.drain(false);
        }
    }
}

fn ack(info: &AppendInfo) -> BatchAck {
    BatchAck { base_offset: info.first_offset, log_append_time: info.log_append_time }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::record::ProducerRecord;
    use crate::{EngineConfig, IsolationLevel};

    fn engine(dir: &std::path::Path) -> Engine {
        let e = Engine::open(dir, EngineConfig::default()).unwrap();
        e.create_topic("t", 2, Default::default()).unwrap();
        e
    }

    fn batches(engine: &Engine, p: i32) -> Vec<(i64, i32, i32, i16)> {
        let log = engine.partition("t", p).unwrap();
        let data = log.read(0, 1 << 20, IsolationLevel::LogEnd).unwrap();
        data.records
            .batches()
            .map(|b| {
                let b = b.unwrap();
                (b.base_offset(), b.records_count(), b.base_sequence(), b.producer_epoch())
            })
            .collect()
    }

    #[test]
    fn records_are_batched_by_size_and_sequences_follow() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        // Each record is ~40 bytes estimated; 200 bytes hold a few of them.
        let config = ProducerConfig::from_pairs(&[("batch.size", "200"), ("linger.ms", "60000")]).unwrap();
        let producer = Producer::new(&engine, config).unwrap();
        let handles: Vec<_> = (0..20)
            .map(|i| producer.send(ProducerRecord::new("t", format!("v{i:02}")).partition(0)).unwrap())
            .collect();
        producer.flush().unwrap();
        let offsets: Vec<i64> = handles.iter().map(|h| h.wait().unwrap().offset).collect();
        assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "order kept, no gaps");
        let b = batches(&engine, 0);
        assert!(b.len() > 1, "several batches: {b:?}");
        let mut expected_seq = 0;
        for (base, count, seq, epoch) in &b {
            assert_eq!(*seq, expected_seq, "sequences continue across batches");
            assert_eq!(*base, i64::from(*seq));
            assert_eq!(*epoch, 0);
            expected_seq += count;
        }
        assert_eq!(expected_seq, 20);
        producer.close().unwrap();
    }

    #[test]
    fn linger_sends_without_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let config = ProducerConfig::from_pairs(&[("linger.ms", "1")]).unwrap();
        let producer = Producer::new(&engine, config).unwrap();
        let h = producer.send(ProducerRecord::new("t", "lonely").partition(1)).unwrap();
        // No flush: the linger thread must send it (wait has no timeout: a lost record hangs).
        assert_eq!(h.wait().unwrap().offset, 0);
        assert_eq!(engine.partition("t", 1).unwrap().log_end_offset(), 1);
    }

    #[test]
    fn linger_zero_sends_in_the_calling_thread() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let producer =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
        let h = producer.send(ProducerRecord::new("t", "now").partition(0)).unwrap();
        assert!(h.is_done(), "sent before send returned");
        assert!(producer.linger.lock().is_none(), "no linger thread");
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let producer =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
        let tp = TopicPartition::new("t", 0);
        // A fresh producer id is unknown to the partition, so any first sequence is accepted
        // (Kafka's rule for an unknown producer); start just below the wrap.
        producer.inner.sender.lock().sequences.insert(tp.clone(), i32::MAX - 1);
        for i in 0..3 {
            producer.send(ProducerRecord::new("t", format!("{i}")).partition(0)).unwrap().wait().unwrap();
        }
        let seqs: Vec<i32> = batches(&engine, 0).iter().map(|b| b.2).collect();
        assert_eq!(seqs, [i32::MAX - 1, i32::MAX, 0]);
        assert_eq!(producer.inner.sender.lock().sequences[&tp], 1);
    }

    #[test]
    fn a_refused_batch_consumes_no_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        engine.alter_topic_config("t", &[("max.message.bytes", "200")]).unwrap();
        let producer =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("linger.ms", "0")]).unwrap()).unwrap();
        let e = producer.send_sync(ProducerRecord::new("t", vec![b'x'; 500]).partition(0)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MessageTooLarge);
        let md = producer.send_sync(ProducerRecord::new("t", "small").partition(0)).unwrap();
        assert_eq!(md.offset, 0);
        assert_eq!(batches(&engine, 0)[0].2, 0, "the refused batch left no gap");
        assert_eq!(producer.transaction_state(), TransactionState::Ready);
    }

    #[test]
    fn records_larger_than_max_request_size_are_refused_at_send() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let producer =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("max.request.size", "100")]).unwrap())
                .unwrap();
        let e = producer.send(ProducerRecord::new("t", vec![0u8; 200])).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MessageTooLarge);
        let e = producer.send(ProducerRecord::new("t", "x").partition(9)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownTopicOrPartition);
        let e = producer.send(ProducerRecord::new("nope", "x")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownTopicOrPartition);
    }

    #[test]
    fn transactional_calls_need_the_right_state() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let producer =
            Producer::new(&engine, ProducerConfig::from_pairs(&[("transactional.id", "x")]).unwrap())
                .unwrap();
        assert_eq!(producer.transaction_state(), TransactionState::Uninitialized);
        assert_eq!(producer.begin_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        assert_eq!(
            producer.send(ProducerRecord::new("t", "x")).unwrap_err().code(),
            ErrorCode::InvalidTxnState
        );
        producer.init_transactions().unwrap();
        assert_eq!(producer.init_transactions().unwrap_err().code(), ErrorCode::InvalidTxnState);
        assert_eq!(producer.commit_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        producer.begin_transaction().unwrap();
        assert_eq!(producer.begin_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        // An empty transaction commits without the coordinator.
        producer.commit_transaction().unwrap();
        assert_eq!(producer.transaction_state(), TransactionState::Ready);

        let plain = Producer::new(&engine, ProducerConfig::default()).unwrap();
        assert_eq!(plain.begin_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        plain.close().unwrap();
        assert!(plain.send(ProducerRecord::new("t", "x")).is_err(), "closed");
        plain.close().unwrap();
    }

    #[test]
    fn a_drain_adds_all_new_partitions_with_one_coordinator_write() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path(), EngineConfig::default()).unwrap();
        engine.create_topic("t", 4, Default::default()).unwrap();
        let config =
            ProducerConfig::from_pairs(&[("transactional.id", "adds"), ("linger.ms", "60000")]).unwrap();
        let producer = Producer::new(&engine, config).unwrap();
        producer.init_transactions().unwrap();
        let txn_log = engine.partition(crate::topics::TRANSACTION_STATE_TOPIC, 0).unwrap();
        let before = txn_log.log_end_offset();
        producer.begin_transaction().unwrap();
        for p in 0..4 {
            producer.send(ProducerRecord::new("t", "x").partition(p)).unwrap();
        }
        assert_eq!(txn_log.log_end_offset(), before, "nothing is added before data is sent");
        producer.flush().unwrap();
        assert_eq!(txn_log.log_end_offset(), before + 1, "one AddPartitionsToTxn for four partitions");
        producer.send(ProducerRecord::new("t", "y").partition(0)).unwrap();
        producer.flush().unwrap();
        assert_eq!(txn_log.log_end_offset(), before + 1, "already in the transaction");
        let group = ConsumerGroupMetadata::new("g");
        producer
            .send_offsets_to_transaction(&[(TopicPartition::new("t", 0), OffsetAndMetadata::new(1))], &group)
            .unwrap();
        producer
            .send_offsets_to_transaction(&[(TopicPartition::new("t", 0), OffsetAndMetadata::new(2))], &group)
            .unwrap();
        assert_eq!(txn_log.log_end_offset(), before + 2, "the offsets partition is added once");
        producer.commit_transaction().unwrap();
        assert_eq!(txn_log.log_end_offset(), before + 4, "then PrepareCommit and CompleteCommit");
        let d = engine.transactions().describe("adds").unwrap();
        assert!(d.partitions.is_empty());
        assert_eq!(engine.offsets().committed("g", "t", 0).unwrap().offset, 2);
    }

    #[test]
    fn the_sticky_partitioner_fills_a_batch_before_moving_on() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let config = ProducerConfig::from_pairs(&[("batch.size", "120"), ("linger.ms", "60000")]).unwrap();
        let producer = Producer::new(&engine, config).unwrap();
        let parts: Vec<i32> = (0..8)
            .map(|i| {
                producer.send(ProducerRecord::new("t", format!("v{i}"))).unwrap().topic_partition().partition
            })
            .collect();
        producer.flush().unwrap();
        // Runs of the same partition, alternating between the two.
        assert_eq!(parts[0], 0);
        assert!(parts.windows(2).any(|w| w[0] != w[1]), "{parts:?}");
        let switches = parts.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches < parts.len() - 1, "records stick together: {parts:?}");
    }
}
