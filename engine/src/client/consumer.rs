//! The in-process consumer (Kafka's `KafkaConsumer` with `assign`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::config::{ConsumerConfig, OffsetReset};
use super::record::{ConsumerGroupMetadata, ConsumerRecord};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use crate::log::{CommittedRecords, IsolationLevel, PartitionLog, ReadWaiter, TopicPartition};
use crate::offsets::OffsetAndMetadata;

/// How long `poll` sleeps between committed-offset fetches while a transactional commit of
/// the group is pending (the offset store has no wake-up of its own).
const UNSTABLE_OFFSET_BACKOFF: Duration = Duration::from_millis(20);

/// Upper bound on consecutive reads of one partition in one `poll` that found only aborted
/// data or markers (each moves the position forward; this only bounds the time spent).
const MAX_EMPTY_READS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Use the committed offset, else `auto.offset.reset`.
    Unknown,
    /// Reset with this strategy.
    Reset(OffsetReset),
    /// The next offset to return.
    At(i64),
}

#[derive(Debug)]
struct Assigned {
    log: Arc<PartitionLog>,
    position: Position,
    /// Records fetched but not returned yet.
    buffer: VecDeque<ConsumerRecord>,
    /// Where the fetch that filled `buffer` ended (past skipped batches and markers); the
    /// position moves there once the buffer is returned. Cleared with the buffer.
    buffer_end: Option<i64>,
    paused: bool,
}

#[derive(Debug)]
struct State {
    assignment: BTreeMap<TopicPartition, Assigned>,
    /// Where the next `poll` starts visiting partitions.
    next_start: usize,
    /// Group generation and member id (-1 / empty until group membership exists).
    generation_id: i32,
    member_id: String,
    last_auto_commit: Instant,
    closed: bool,
}

/// The in-process consumer.
///
/// # Positions
///
/// Each assigned partition has a *position*: the offset of the next record `poll` returns.
/// A newly assigned partition starts with an unknown position, resolved at the next `poll` or
/// `position` call: the group's committed offset if there is one (fetched with
/// `require_stable` under read_committed, so a transactional commit still pending blocks the
/// partition instead of being skipped — KIP-447), else `auto.offset.reset`. `seek` sets a
/// position, `seek_to_beginning` / `seek_to_end` reset it lazily, as in Kafka.
///
/// # Fetching
///
/// `poll` reads whole batches from the position (at most `max.partition.fetch.bytes` per
/// partition, `fetch.max.bytes` per call, `max.poll.records` records), bounded by the last
/// stable offset under read_committed (the high watermark under read_uncommitted), and filters
/// them exactly like Kafka's `CompletedFetch` ([`CommittedRecords`]): aborted transactions and
/// control batches are dropped, and the position moves past them. Partitions are visited
/// round-robin across calls so that a busy partition cannot starve the others.
///
/// # Waiting
///
/// When nothing is readable, `poll` sleeps on a [`ReadWaiter`] registered with every assigned
/// partition: an append, a marker or a high-watermark move wakes it at once, without polling.
/// The only timed waits are the retries of a committed-offset fetch while a transactional
/// commit of the group is pending (at most 20 ms apart).
///
/// # Thread safety and group membership
///
/// `Consumer` is `Send + Sync`; every call takes an internal lock (released while `poll`
/// waits), and [`Consumer::wakeup`] may be called from any thread to end a blocked `poll`.
/// Assignment changes go through one internal step shared by [`Consumer::assign`] and,
/// later, group membership (`subscribe`), which will also fill in the generation and member
/// id reported by [`Consumer::group_metadata`].
///
/// ```
/// use eoslog::client::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
/// use eoslog::TopicPartition;
/// use std::time::Duration;
/// let dir = tempfile::tempdir().unwrap();
/// let engine = eoslog::Engine::open(dir.path(), Default::default()).unwrap();
/// engine.create_topic("events", 1, Default::default()).unwrap();
/// let producer = Producer::new(&engine, ProducerConfig::default()).unwrap();
/// producer.send_sync(ProducerRecord::new("events", "hello")).unwrap();
///
/// let config = ConsumerConfig::from_pairs(&[("group.id", "readers"), ("auto.offset.reset", "earliest")])
///    .unwrap();
/// let consumer = Consumer::new(&engine, config).unwrap();
/// consumer.assign(&[TopicPartition::new("events", 0)]).unwrap();
/// let records = consumer.poll(Duration::from_secs(5)).unwrap();
/// assert_eq!(records[0].value.as_deref(), Some(&b"hello"[..]));
/// consumer.commit_sync().unwrap();
/// assert_eq!(consumer.position(&TopicPartition::new("events", 0)).unwrap(), 1);
/// ```
#[derive(Debug)]
pub struct Consumer {
    engine: Engine,
    config: ConsumerConfig,
    waiter: Arc<ReadWaiter>,
    woken: AtomicBool,
    state: Mutex<State>,
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::InvalidRequest(format!("partition {tp} is not assigned to this consumer"))
}

impl Consumer {
    /// Creates a consumer on `engine`.
    pub fn new(engine: &Engine, config: ConsumerConfig) -> Result<Consumer> {
        if config.isolation_level == IsolationLevel::LogEnd {
            return Err(Error::InvalidConfig {
                key: "isolation.level".into(),
                value: "log_end".into(),
                reason: "a consumer reads read_committed or read_uncommitted".into(),
            });
        }
        Ok(Consumer {
            engine: engine.clone(),
            config,
            waiter: ReadWaiter::new(),
            woken: AtomicBool::new(false),
            state: Mutex::new(State {
                assignment: BTreeMap::new(),
                next_start: 0,
                generation_id: -1,
                member_id: String::new(),
                last_auto_commit: Instant::now(),
                closed: false,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    fn group_id(&self) -> Result<&str> {
        self.config.group_id.as_deref().ok_or_else(|| {
            Error::kafka(
                ErrorCode::InvalidGroupId,
                "the consumer has no group.id: cannot commit or fetch offsets",
            )
        })
    }

    fn lock_open(&self) -> Result<parking_lot::MutexGuard<'_, State>> {
        let st = self.state.lock();
        if st.closed {
            return Err(Error::InvalidRequest("the consumer is closed".into()));
        }
        Ok(st)
    }

    /// Assigns exactly these partitions (Kafka's `assign`). Partitions that stay assigned keep
    /// their position; new ones start with an unknown position (committed offset, else
    /// `auto.offset.reset`). An empty list unassigns everything.
    pub fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        let mut logs = Vec::with_capacity(partitions.len());
        for tp in partitions {
            logs.push((tp.clone(), self.engine.partition(&tp.topic, tp.partition)?));
        }
        let mut st = self.lock_open()?;
        self.update_assignment(&mut st, logs);
        Ok(())
    }

    /// Drops the assignment (Kafka's `unsubscribe`).
    pub fn unsubscribe(&self) -> Result<()> {
        let mut st = self.lock_open()?;
        self.update_assignment(&mut st, Vec::new());
        Ok(())
    }

    /// The one place the assignment changes (manual `assign` now, group rebalances later).
    fn update_assignment(&self, st: &mut State, partitions: Vec<(TopicPartition, Arc<PartitionLog>)>) {
        let mut next = BTreeMap::new();
        for (tp, log) in partitions {
            let assigned = match st.assignment.remove(&tp) {
                Some(a) => a,
                None => {
                    // Registered before the first read of the partition (see `log::notify`).
                    log.register_waiter(&self.waiter);
                    Assigned {
                        log,
                        position: Position::Unknown,
                        buffer: VecDeque::new(),
                        buffer_end: None,
                        paused: false,
                    }
                }
            };
            next.insert(tp, assigned);
        }
        for a in st.assignment.values() {
            a.log.unregister_waiter(&self.waiter);
        }
        st.assignment = next;
        st.next_start = 0;
    }

    /// The assigned partitions, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.state.lock().assignment.keys().cloned().collect()
    }

    /// Returns up to `max.poll.records` records, waiting up to `timeout` for some to become
    /// readable. An empty result means none arrived in time (or [`Consumer::wakeup`] was
    /// called). Errors: OFFSET_OUT_OF_RANGE when a position is invalid or missing and
    /// `auto.offset.reset` is `none`; storage errors of the partitions.
    pub fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            // Read the generation before the partitions (see `log::notify`).
            let generation = self.waiter.generation();
            let unresolved = {
                let mut st = self.lock_open()?;
                self.maybe_auto_commit(&mut st);
                let unresolved = self.resolve_positions(&mut st)?;
                let records = self.fetch(&mut st)?;
                if !records.is_empty() {
                    return Ok(records);
                }
                unresolved
            };
            if self.woken.swap(false, Ordering::AcqRel) {
                return Ok(Vec::new());
            }
            let now = Instant::now();
            let mut wait = match deadline {
                Some(d) if d <= now => return Ok(Vec::new()),
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            if unresolved {
                wait = wait.min(UNSTABLE_OFFSET_BACKOFF);
            }
            self.waiter.wait_for_change(generation, wait);
        }
    }

    /// Makes a blocked (or the next) `poll` return at once with no records. Callable from any
    /// thread (Kafka's `wakeup`, which throws `WakeupException` instead).
    pub fn wakeup(&self) {
        self.woken.store(true, Ordering::Release);
        self.waiter.notify();
    }

    /// Resolves unknown and reset positions. Returns whether some partition still has no
    /// position because its committed offset is unstable (a transaction is pending).
    fn resolve_positions(&self, st: &mut State) -> Result<bool> {
        let mut unknown = Vec::new();
        for (tp, a) in &st.assignment {
            if a.position == Position::Unknown {
                unknown.push(tp.clone());
            }
        }
        let mut unresolved = false;
        if !unknown.is_empty() {
            let committed = self.fetch_committed(&unknown)?;
            for (tp, c) in committed {
                let a = st.assignment.get_mut(&tp).expect("assigned");
                a.position = match c {
                    Committed::Unstable => {
                        unresolved = true;
                        Position::Unknown
                    }
                    Committed::Offset(o) => Position::At(o.offset),
                    Committed::None => Position::Reset(self.config.auto_offset_reset),
                };
            }
        }
        for (tp, a) in st.assignment.iter_mut() {
            if let Position::Reset(strategy) = a.position {
                a.position = Position::At(self.reset_offset(tp, &a.log, strategy)?);
                a.buffer.clear();
                a.buffer_end = None;
            }
        }
        Ok(unresolved)
    }

    fn reset_offset(&self, tp: &TopicPartition, log: &PartitionLog, strategy: OffsetReset) -> Result<i64> {
        match strategy {
            OffsetReset::Earliest => Ok(log.log_start_offset()),
            OffsetReset::Latest => Ok(match self.config.isolation_level {
                IsolationLevel::ReadCommitted => log.last_stable_offset(),
                _ => log.high_watermark(),
            }),
            OffsetReset::None => Err(Error::kafka(
                ErrorCode::OffsetOutOfRange,
                format!("{tp} has no valid position and auto.offset.reset is none"),
            )),
        }
    }

    /// The group's committed offsets for `partitions`; `Unstable` where a transactional commit
    /// is pending and stable offsets are required (read_committed). Without a group id every
    /// partition has none.
    fn fetch_committed(&self, partitions: &[TopicPartition]) -> Result<Vec<(TopicPartition, Committed)>> {
        let Some(group) = self.config.group_id.as_deref() else {
            return Ok(partitions.iter().map(|tp| (tp.clone(), Committed::None)).collect());
        };
        let keys: Vec<(String, i32)> = partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect();
        let require_stable = self.config.isolation_level == IsolationLevel::ReadCommitted;
        let fetched = self.engine.offsets().fetch(group, Some(&keys), require_stable)?;
        Ok(fetched
            .into_iter()
            .map(|f| {
                let tp = TopicPartition::new(f.topic, f.partition);
                let c = if f.error == ErrorCode::UnstableOffsetCommit {
                    Committed::Unstable
                } else {
                    f.committed.map_or(Committed::None, Committed::Offset)
                };
                (tp, c)
            })
            .collect())
    }

    /// One round over the assigned partitions, starting after where the last one stopped.
    fn fetch(&self, st: &mut State) -> Result<Vec<ConsumerRecord>> {
        let max_records = self.config.max_poll_records.max(1);
        let mut budget = i64::from(self.config.fetch_max_bytes);
        let mut out = Vec::new();
        let keys: Vec<TopicPartition> = st.assignment.keys().cloned().collect();
        let n = keys.len();
        if n == 0 {
            return Ok(out);
        }
        let start = st.next_start % n;
        st.next_start = (start + 1) % n;
        for i in 0..n {
            if out.len() >= max_records {
                break;
            }
            let tp = &keys[(start + i) % n];
            let a = st.assignment.get_mut(tp).expect("listed above");
            let Position::At(_) = a.position else { continue };
            if a.paused {
                continue;
            }
            if a.buffer.is_empty() && budget > 0 {
                let max_bytes =
                    u32::try_from(budget).unwrap_or(u32::MAX).min(self.config.max_partition_fetch_bytes);
                budget -= self.fill(tp, a, max_bytes)? as i64;
            }
            while out.len() < max_records {
                let Some(r) = a.buffer.pop_front() else { break };
                a.position = Position::At(r.offset + 1);
                out.push(r);
            }
            if a.buffer.is_empty()
                && let Some(end) = a.buffer_end.take()
                && let Position::At(p) = a.position
            {
                // Past the fetched range, including skipped aborted data and markers.
                a.position = Position::At(p.max(end));
            }
        }
        Ok(out)
    }

    /// Reads from the position until some records are buffered or nothing more is readable;
    /// returns the bytes read.
    fn fill(&self, tp: &TopicPartition, a: &mut Assigned, max_bytes: u32) -> Result<usize> {
        let mut read = 0;
        for _ in 0..MAX_EMPTY_READS {
            let Position::At(position) = a.position else { return Ok(read) };
            let data = match a.log.read(position, max_bytes.max(1), self.config.isolation_level) {
                Ok(d) => d,
                Err(Error::OffsetOutOfRange { offset, log_start_offset, log_end_offset }) => {
                    // Kafka resets an out-of-range position with auto.offset.reset.
                    log::warn!(
                        "{tp}: position {offset} is out of range [{log_start_offset}, {log_end_offset}]; \
                         resetting with auto.offset.reset"
                    );
                    a.position =
                        Position::At(self.reset_offset(tp, &a.log, self.config.auto_offset_reset)?);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if data.records.is_empty() {
                return Ok(read);
            }
            read += data.records.len();
            let filtered = CommittedRecords::from_fetch(&data, position)?;
            if filtered.records.is_empty() {
                a.position = Position::At(filtered.next_offset);
                continue;
            }
            a.buffer = filtered
                .records
                .into_iter()
                .map(|r| ConsumerRecord {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset: r.offset,
                    timestamp: r.timestamp,
                    timestamp_type: r.timestamp_type,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    producer_id: r.producer_id,
                    producer_epoch: r.producer_epoch,
                    sequence: r.sequence,
                    is_transactional: r.is_transactional,
                })
                .collect();
            a.buffer_end = Some(filtered.next_offset);
            return Ok(read);
        }
        Ok(read)
    }

    /// Sets the position of an assigned partition (Kafka's `seek`).
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::InvalidRequest(format!("cannot seek {tp} to negative offset {offset}")));
        }
        let mut st = self.lock_open()?;
        let a = st.assignment.get_mut(tp).ok_or_else(|| not_assigned(tp))?;
        a.position = Position::At(offset);
        a.buffer.clear();
        a.buffer_end = None;
        Ok(())
    }

    fn reset_lazily(&self, partitions: &[TopicPartition], strategy: OffsetReset) -> Result<()> {
        let mut st = self.lock_open()?;
        let targets: Vec<TopicPartition> =
            if partitions.is_empty() { st.assignment.keys().cloned().collect() } else { partitions.to_vec() };
        for tp in &targets {
            if !st.assignment.contains_key(tp) {
                return Err(not_assigned(tp));
            }
        }
        for tp in targets {
            let a = st.assignment.get_mut(&tp).expect("checked");
            a.position = Position::Reset(strategy);
            a.buffer.clear();
            a.buffer_end = None;
        }
        Ok(())
    }

    /// Moves to the log start of `partitions` (all assigned ones when empty), evaluated at the
    /// next `poll` or `position` (Kafka's `seekToBeginning`).
    pub fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.reset_lazily(partitions, OffsetReset::Earliest)
    }

    /// Moves to the end of `partitions` (all assigned ones when empty): the last stable offset
    /// under read_committed, the high watermark otherwise (Kafka's `seekToEnd`).
    pub fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.reset_lazily(partitions, OffsetReset::Latest)
    }

    /// Stops returning records of these partitions until [`Consumer::resume`].
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, true)
    }

    /// Resumes paused partitions.
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.set_paused(partitions, false)
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) -> Result<()> {
        let mut st = self.lock_open()?;
        for tp in partitions {
            st.assignment.get_mut(tp).ok_or_else(|| not_assigned(tp))?.paused = paused;
        }
        Ok(())
    }

    /// The offset of the next record `poll` returns for `tp`, resolving an unknown position
    /// first (waiting up to `default.api.timeout.ms` while a transactional offset commit of
    /// the group is pending).
    pub fn position(&self, tp: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        loop {
            {
                let mut st = self.lock_open()?;
                if !st.assignment.contains_key(tp) {
                    return Err(not_assigned(tp));
                }
                self.resolve_positions(&mut st)?;
                if let Position::At(p) = st.assignment[tp].position {
                    return Ok(p);
                }
            }
            if Instant::now() >= deadline {
                return Err(unstable_timeout(tp));
            }
            std::thread::sleep(UNSTABLE_OFFSET_BACKOFF);
        }
    }

    /// The group's committed offsets of `partitions` (Kafka's `committed`). Under
    /// read_committed a pending transactional commit is waited for (up to
    /// `default.api.timeout.ms`), so the answer is never one a transaction could still undo.
    pub fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.group_id()?;
        let deadline = Instant::now() + Duration::from_millis(self.config.default_api_timeout_ms);
        loop {
            let fetched = self.fetch_committed(partitions)?;
            if let Some((tp, _)) = fetched.iter().find(|(_, c)| matches!(c, Committed::Unstable)) {
                if Instant::now() >= deadline {
                    return Err(unstable_timeout(tp));
                }
                std::thread::sleep(UNSTABLE_OFFSET_BACKOFF);
                continue;
            }
            return Ok(fetched
                .into_iter()
                .map(|(tp, c)| {
                    let o = match c {
                        Committed::Offset(o) => Some(o),
                        _ => None,
                    };
                    (tp, o)
                })
                .collect());
        }
    }

    /// Commits the position of every assigned partition that has one (Kafka's `commitSync()`).
    pub fn commit_sync(&self) -> Result<()> {
        let offsets: Vec<(TopicPartition, OffsetAndMetadata)> = {
            let st = self.lock_open()?;
            consumed(&st)
        };
        self.commit(&offsets)
    }

    /// Commits the given offsets (Kafka's `commitSync(Map)`): each is the *next* offset to
    /// consume.
    pub fn commit(&self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        let group = self.group_id()?;
        let list: Vec<(String, i32, OffsetAndMetadata)> =
            offsets.iter().map(|(tp, o)| (tp.topic.clone(), tp.partition, o.clone())).collect();
        self.engine.offsets().commit(group, &list)
    }

    fn maybe_auto_commit(&self, st: &mut State) {
        if !self.config.enable_auto_commit || self.config.group_id.is_none() {
            return;
        }
        if st.last_auto_commit.elapsed() < Duration::from_millis(self.config.auto_commit_interval_ms) {
            return;
        }
        st.last_auto_commit = Instant::now();
        if let Err(e) = self.commit(&consumed(st)) {
            log::warn!("auto-commit failed: {e}");
        }
    }

    /// The consumer's group identity, for [`super::Producer::send_offsets_to_transaction`]
    /// (Kafka's `groupMetadata`).
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        let group_id = self.group_id()?.to_string();
        let st = self.state.lock();
        Ok(ConsumerGroupMetadata {
            group_id,
            generation_id: st.generation_id,
            member_id: st.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        })
    }

    /// The first offset of each partition (Kafka's `beginningOffsets`).
    pub fn beginning_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        let mut out = BTreeMap::new();
        for tp in partitions {
            out.insert(tp.clone(), self.engine.partition(&tp.topic, tp.partition)?.log_start_offset());
        }
        Ok(out)
    }

    /// The end of each partition as this consumer sees it (Kafka's `endOffsets`): the last
    /// stable offset under read_committed, the high watermark otherwise.
    pub fn end_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        let mut out = BTreeMap::new();
        for tp in partitions {
            let log = self.engine.partition(&tp.topic, tp.partition)?;
            let end = match self.config.isolation_level {
                IsolationLevel::ReadCommitted => log.last_stable_offset(),
                _ => log.high_watermark(),
            };
            out.insert(tp.clone(), end);
        }
        Ok(out)
    }

    /// Commits positions if `enable.auto.commit` is set, then releases the partitions. Later
    /// calls fail; closing twice is fine.
    pub fn close(&self) -> Result<()> {
        let mut st = self.state.lock();
        if st.closed {
            return Ok(());
        }
        let mut result = Ok(());
        if self.config.enable_auto_commit && self.config.group_id.is_some() {
            result = self.commit(&consumed(&st));
        }
        self.update_assignment(&mut st, Vec::new());
        st.closed = true;
        result
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::warn!("closing a dropped consumer: {e}");
        }
    }
}

/// A committed offset as the consumer sees it.
#[derive(Debug)]
enum Committed {
    None,
    Unstable,
    Offset(OffsetAndMetadata),
}

fn unstable_timeout(tp: &TopicPartition) -> Error {
    Error::kafka(
        ErrorCode::RequestTimedOut,
        format!("{tp}: a transactional offset commit stayed pending for default.api.timeout.ms"),
    )
}

/// The positions to commit: every assigned partition with a known position.
fn consumed(st: &State) -> Vec<(TopicPartition, OffsetAndMetadata)> {
    st.assignment
        .iter()
        .filter_map(|(tp, a)| match a.position {
            Position::At(p) => Some((tp.clone(), OffsetAndMetadata::new(p))),
            _ => None,
        })
        .collect()
}
