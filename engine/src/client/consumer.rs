//! The in-process consumer (Kafka's `KafkaConsumer`): manual assignment (`assign`) or group
//! membership (`subscribe`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::config::{ConsumerConfig, OffsetReset};
use super::membership::{
    Bridge, ConsumerRebalanceListener, HeartbeatControl, HeartbeatSettings, HeartbeatThread, Membership,
    TopicSelection,
};
use super::record::{ConsumerGroupMetadata, ConsumerRecord};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use crate::group::{GroupMember, GroupMemberConfig, Heartbeater, assignor};
use crate::log::{CommittedRecords, IsolationLevel, PartitionLog, ReadWaiter, TopicPartition};
use crate::offsets::OffsetAndMetadata;

/// How long `poll` sleeps between committed-offset fetches while a transactional commit of
/// the group is pending (the offset store has no wake-up of its own).
const UNSTABLE_OFFSET_BACKOFF: Duration = Duration::from_millis(20);

/// Upper bound on consecutive reads of one partition in one `poll` that found only aborted
/// data or markers (each moves the position forward; this only bounds the time spent).
const MAX_EMPTY_READS: usize = 64;

/// The least time a `poll` gives a rebalance, even `poll(Duration::ZERO)`: a join answered at
/// once (the usual case for a member of a stable group) completes within the call, so a loop
/// of zero-timeout polls still joins.
const MIN_JOIN_WAIT: Duration = Duration::from_millis(10);

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

impl Assigned {
    fn new(log: Arc<PartitionLog>) -> Assigned {
        Assigned {
            log,
            position: Position::Unknown,
            buffer: VecDeque::new(),
            buffer_end: None,
            paused: false,
        }
    }
}

/// How the consumer gets its partitions (Kafka's `SubscriptionType`); the two are exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    /// `assign`.
    Manual,
    /// `subscribe` / `subscribe_pattern`.
    Subscribed,
}

/// What other calls need of a subscribed consumer's membership without taking the membership
/// lock (which `poll` holds while it rejoins).
#[derive(Debug, Clone)]
struct GroupHandle {
    /// The member's live identity (member id, generation).
    heartbeater: Heartbeater,
    control: Arc<HeartbeatControl>,
    topics: Vec<String>,
}

#[derive(Debug)]
struct State {
    assignment: BTreeMap<TopicPartition, Assigned>,
    /// Where the next `poll` starts visiting partitions.
    next_start: usize,
    mode: Mode,
    /// Set while subscribed.
    group: Option<GroupHandle>,
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
/// A subscribed consumer's heartbeat thread wakes it too when the group starts a rebalance.
/// The only timed waits are the retries of a committed-offset fetch while a transactional
/// commit of the group is pending (at most 20 ms apart).
///
/// # Group membership
///
/// [`Consumer::subscribe`] (or [`Consumer::subscribe_pattern`]) makes the consumer a member
/// of its `group.id` (Kafka's classic protocol, through the engine's group coordinator):
///
/// - `poll` joins the group at the first call and rejoins whenever the member must — the group
///   rebalances, a commit was refused because of one, the subscription changed — and the
///   rebalance callbacks ([`ConsumerRebalanceListener`]) run inside that `poll`, on its thread.
///   Records are fetched only after the member has its assignment, and only from partitions
///   it owns.
/// - A background thread heartbeats every `heartbeat.interval.ms`, learns of a rebalance at
///   once (it waits on the coordinator between heartbeats) and wakes a `poll` that waits for
///   records. A consumer that does not `poll` for `max.poll.interval.ms` leaves the group, as
///   Kafka's does.
/// - With the cooperative protocol (`cooperative-sticky`, the default) a rebalance revokes
///   only the partitions that move, and the others keep their positions; with the eager one
///   (`range`, `roundrobin`) every partition is revoked and reassigned.
/// - A newly assigned partition starts at the group's committed offset (waiting while a
///   transaction of a previous owner holds it, see *Positions*), else at `auto.offset.reset`.
/// - [`Consumer::commit`] carries the member id and generation, so the group coordinator
///   refuses a commit of a member that lost its partitions (ILLEGAL_GENERATION,
///   UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID — KIP-447); [`Consumer::group_metadata`] gives the
///   same identity to a transactional producer's `send_offsets_to_transaction`.
/// - `group.instance.id` makes the member static: a restarted instance takes its place back
///   without a rebalance, and closing it does not leave the group (its session timeout does).
/// - [`Consumer::close`] and [`Consumer::unsubscribe`] revoke the partitions and leave.
///
/// # Thread safety
///
/// `Consumer` is `Send + Sync`; every call takes an internal lock (released while `poll`
/// waits), and [`Consumer::wakeup`] may be called from any thread to end a blocked `poll`.
/// A `poll` that is rejoining holds the group membership until the rebalance completes (or its
/// timeout passes), so `close` and `unsubscribe` from another thread wait for it.
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
    /// The group side of a subscribed consumer. Lock order: `membership`, then `state` (held
    /// only briefly, never while application code runs).
    membership: Mutex<Option<Membership>>,
    /// The thread running rebalance callbacks: they may call back into the consumer, but not
    /// into the calls that take `membership` (which that thread holds).
    callback_thread: Mutex<Option<ThreadId>>,
    /// A commit was refused because of a rebalance: the next `poll` checks the membership and
    /// rejoins.
    rejoin_requested: AtomicBool,
}

/// Clears [`Consumer::callback_thread`] when the callbacks are over (also on a panic).
struct CallbackScope<'a>(&'a Mutex<Option<ThreadId>>);

impl Drop for CallbackScope<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
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
        config.validate()?;
        Ok(Consumer {
            engine: engine.clone(),
            config,
            waiter: ReadWaiter::new(),
            woken: AtomicBool::new(false),
            state: Mutex::new(State {
                assignment: BTreeMap::new(),
                next_start: 0,
                mode: Mode::None,
                group: None,
                last_auto_commit: Instant::now(),
                closed: false,
            }),
            membership: Mutex::new(None),
            callback_thread: Mutex::new(None),
            rejoin_requested: AtomicBool::new(false),
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

    /// Refuses calls that need the membership lock from inside a rebalance callback (the
    /// callback's thread holds it: the call would deadlock).
    fn check_not_in_callback(&self, what: &str) -> Result<()> {
        if *self.callback_thread.lock() == Some(std::thread::current().id()) {
            return Err(Error::InvalidRequest(format!("{what} cannot be called from a rebalance callback")));
        }
        Ok(())
    }

    fn enter_callbacks(&self) -> CallbackScope<'_> {
        *self.callback_thread.lock() = Some(std::thread::current().id());
        CallbackScope(&self.callback_thread)
    }

    /// Assigns exactly these partitions (Kafka's `assign`). Partitions that stay assigned keep
    /// their position; new ones start with an unknown position (committed offset, else
    /// `auto.offset.reset`). An empty list unassigns everything. Not allowed while subscribed
    /// (Kafka: the two are exclusive; `unsubscribe` first).
    pub fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.check_not_in_callback("assign")?;
        let mut logs = Vec::with_capacity(partitions.len());
        for tp in partitions {
            logs.push((tp.clone(), self.engine.partition(&tp.topic, tp.partition)?));
        }
        let mut st = self.lock_open()?;
        if st.mode == Mode::Subscribed {
            return Err(Error::InvalidRequest(
                "the consumer is subscribed to topics: assign is exclusive with subscribe (unsubscribe first)"
                    .into(),
            ));
        }
        st.mode = if partitions.is_empty() { Mode::None } else { Mode::Manual };
        self.update_assignment(&mut st, logs);
        Ok(())
    }

    /// Subscribes to `topics` as a member of the consumer's group (Kafka's
    /// `subscribe(topics, listener)`): the next [`Consumer::poll`] joins the group, and
    /// `listener` hears of every change of the assignment (see the type's *Group membership*
    /// section). Subscribing again replaces the topics (a rebalance follows) and the listener;
    /// an empty list is [`Consumer::unsubscribe`]. Needs `group.id`; not allowed while
    /// partitions are assigned with [`Consumer::assign`].
    ///
    /// ```
    /// use eoslog::client::{Consumer, ConsumerConfig, NoopListener, Producer, ProducerConfig, ProducerRecord};
    /// use eoslog::{Engine, EngineConfig};
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// // No initial rebalance delay: this group starts with a single member.
    /// let engine = Engine::open(
    ///     dir.path(),
    ///     EngineConfig { group_initial_rebalance_delay_ms: 0, ..EngineConfig::default() },
    /// )
    /// .unwrap();
    /// engine.create_topic("orders", 3, Default::default()).unwrap();
    /// let producer = Producer::new(&engine, ProducerConfig::default()).unwrap();
    /// for i in 0..3 {
    ///     producer.send_sync(ProducerRecord::new("orders", format!("order-{i}")).partition(i)).unwrap();
    /// }
    ///
    /// let config =
    ///     ConsumerConfig::from_pairs(&[("group.id", "billing"), ("auto.offset.reset", "earliest")]).unwrap();
    /// let consumer = Consumer::new(&engine, config).unwrap();
    /// consumer.subscribe(&["orders"], NoopListener).unwrap();
    /// let mut seen = 0;
    /// while seen < 3 {
    ///     seen += consumer.poll(Duration::from_secs(5)).unwrap().len();
    /// }
    /// assert_eq!(consumer.assignment().len(), 3, "the only member owns every partition");
    /// let md = consumer.group_metadata().unwrap();
    /// assert!(md.generation_id >= 1 && !md.member_id.is_empty());
    /// consumer.commit_sync().unwrap(); // with the member id and generation
    /// consumer.close().unwrap(); // revokes the partitions and leaves the group
    /// ```
    pub fn subscribe<S: AsRef<str>>(
        &self,
        topics: &[S],
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<()> {
        let mut list: Vec<String> = topics.iter().map(|t| t.as_ref().to_string()).collect();
        if list.iter().any(String::is_empty) {
            return Err(Error::InvalidRequest("cannot subscribe to an empty topic name".into()));
        }
        list.sort();
        list.dedup();
        if list.is_empty() {
            return self.unsubscribe();
        }
        self.start_subscription(TopicSelection::Topics(list), Box::new(listener))
    }

    /// Subscribes to every topic (internal ones aside) whose name `pattern` accepts, now and as
    /// topics are created (checked every `metadata.max.age.ms` and at each rebalance) —
    /// Kafka's `subscribe(Pattern, listener)`. Kafka takes a regular expression; pass its
    /// matcher as a closure, e.g. `move |t| re.is_match(t)` with the `regex` crate.
    pub fn subscribe_pattern(
        &self,
        pattern: impl Fn(&str) -> bool + Send + Sync + 'static,
        listener: impl ConsumerRebalanceListener + 'static,
    ) -> Result<()> {
        self.start_subscription(TopicSelection::Pattern(Arc::new(pattern)), Box::new(listener))
    }

    fn start_subscription(
        &self,
        selection: TopicSelection,
        listener: Box<dyn ConsumerRebalanceListener>,
    ) -> Result<()> {
        self.check_not_in_callback("subscribe")?;
        let group_id = self.group_id()?.to_string();
        let mut membership = self.membership.lock();
        let topics = self.selected_topics(&selection);
        let mut st = self.lock_open()?;
        match st.mode {
            Mode::Manual => {
                return Err(Error::InvalidRequest(
                    "partitions are assigned: subscribe is exclusive with assign (unsubscribe first)".into(),
                ));
            }
            Mode::Subscribed => {
                let m = membership.as_mut().expect("a subscribed consumer has its membership");
                m.member.subscribe(topics.clone());
                m.topics = topics.clone();
                m.selection = selection;
                m.listener = listener;
                if let Some(h) = st.group.as_mut() {
                    h.topics = topics;
                }
                return Ok(());
            }
            Mode::None => {}
        }
        let member =
            GroupMember::new(self.engine.groups().clone(), self.member_config(group_id)?, topics.clone());
        let heartbeater = member.heartbeater();
        let control = HeartbeatControl::new();
        let heartbeat = HeartbeatThread::spawn(
            control.clone(),
            heartbeater.clone(),
            self.waiter.clone(),
            self.engine.groups().clone(),
            HeartbeatSettings {
                interval: Duration::from_millis(self.config.heartbeat_interval_ms),
                max_poll_interval: Duration::from_millis(self.config.max_poll_interval_ms.max(0) as u64),
                leave_on_poll_timeout: self.config.group_instance_id.is_none(),
            },
        )?;
        st.mode = Mode::Subscribed;
        st.group = Some(GroupHandle { heartbeater, control, topics: topics.clone() });
        *membership = Some(Membership {
            member,
            listener,
            selection,
            topics,
            topology: BTreeMap::new(),
            metadata_checked: Instant::now(),
            heartbeat,
        });
        Ok(())
    }

    /// How the consumer's group member joins (from `group.*`, `session.timeout.ms`,
    /// `max.poll.interval.ms`, `partition.assignment.strategy`, `client.*`).
    fn member_config(&self, group_id: String) -> Result<GroupMemberConfig> {
        let mut c = GroupMemberConfig::new(group_id);
        if !self.config.client_id.is_empty() {
            c.client_id = self.config.client_id.clone();
        }
        c.group_instance_id = self.config.group_instance_id.clone();
        c.session_timeout_ms = self.config.session_timeout_ms;
        c.rebalance_timeout_ms = self.config.max_poll_interval_ms;
        c.rack_id = self.config.client_rack.clone();
        c.assignors = self
            .config
            .partition_assignment_strategy
            .iter()
            .map(|n| {
                assignor::by_name(n).ok_or_else(|| Error::InvalidConfig {
                    key: "partition.assignment.strategy".into(),
                    value: n.clone(),
                    reason: "unknown assignor".into(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(c)
    }

    /// The topics a selection stands for now, sorted.
    fn selected_topics(&self, selection: &TopicSelection) -> Vec<String> {
        match selection {
            TopicSelection::Topics(t) => t.clone(),
            TopicSelection::Pattern(matches) => {
                let mut t: Vec<String> =
                    self.engine.topics().into_iter().map(|d| d.name).filter(|n| matches(n)).collect();
                t.sort();
                t
            }
        }
    }

    /// Partition counts of the existing topics among `topics`.
    fn topology(&self, topics: &[String]) -> BTreeMap<String, i32> {
        topics.iter().filter_map(|t| self.engine.partition_count(t).ok().map(|n| (t.clone(), n))).collect()
    }

    /// The subscribed topics (for a pattern, the topics it matches now); empty when not
    /// subscribed (Kafka's `subscription`).
    pub fn subscription(&self) -> Vec<String> {
        self.state.lock().group.as_ref().map(|g| g.topics.clone()).unwrap_or_default()
    }

    /// Leaves the group if subscribed — the partitions are revoked through the listener and
    /// the member sends LeaveGroup (unless static) — and drops the assignment, whether it came
    /// from `subscribe` or `assign` (Kafka's `unsubscribe`).
    pub fn unsubscribe(&self) -> Result<()> {
        self.check_not_in_callback("unsubscribe")?;
        let mut result = Ok(());
        {
            let mut membership = self.membership.lock();
            if let Some(m) = membership.as_mut() {
                result = self.leave(m);
            }
            *membership = None;
        }
        let mut st = self.lock_open()?;
        self.update_assignment(&mut st, Vec::new());
        st.mode = Mode::None;
        st.group = None;
        result
    }

    /// Stops heartbeating, revokes (or, for a member that lost them, reports lost) the owned
    /// partitions through the listener and leaves the group.
    fn leave(&self, m: &mut Membership) -> Result<()> {
        m.heartbeat.stop();
        let _scope = self.enter_callbacks();
        let Membership { member, listener, .. } = m;
        let mut bridge = Bridge { consumer: self, listener: listener.as_mut() };
        member.leave(&mut bridge)
    }

    /// Asks for a rebalance at the next `poll` (Kafka's `enforceRebalance`).
    pub fn enforce_rebalance(&self) -> Result<()> {
        if self.state.lock().group.is_none() {
            return Err(Error::InvalidRequest(
                "the consumer is not subscribed: there is no group to rebalance".into(),
            ));
        }
        self.rejoin_requested.store(true, Ordering::Release);
        self.waiter.notify();
        Ok(())
    }

    /// Test hook: stops (or resumes) the heartbeats of a subscribed consumer, as a stalled
    /// process (SIGSTOP, a long pause) would, so that a test can expel it deterministically.
    #[doc(hidden)]
    pub fn set_heartbeats_paused(&self, paused: bool) {
        if let Some(g) = &self.state.lock().group {
            g.control.set_paused(paused);
        }
    }

    /// Adds partitions assigned by the group (at an unknown position).
    pub(crate) fn add_partitions(&self, partitions: &[TopicPartition]) {
        let mut logs = Vec::with_capacity(partitions.len());
        for tp in partitions {
            match self.engine.partition(&tp.topic, tp.partition) {
                Ok(log) => logs.push((tp.clone(), log)),
                // Deleted since the leader assigned it: nothing to read.
                Err(e) => log::warn!("{tp} was assigned but cannot be read: {e}"),
            }
        }
        let mut st = self.state.lock();
        for (tp, log) in logs {
            st.assignment.entry(tp).or_insert_with(|| {
                // Registered before the first read of the partition (see `log::notify`).
                log.register_waiter(&self.waiter);
                Assigned::new(log)
            });
        }
        st.next_start = 0;
    }

    /// Removes partitions revoked or lost in a rebalance (with what was buffered of them).
    pub(crate) fn remove_partitions(&self, partitions: &[TopicPartition]) {
        let mut st = self.state.lock();
        for tp in partitions {
            if let Some(a) = st.assignment.remove(tp) {
                a.log.unregister_waiter(&self.waiter);
            }
        }
        st.next_start = 0;
    }

    /// `enable.auto.commit` before a revocation (see [`Bridge`]).
    pub(crate) fn auto_commit_before_revocation(&self) {
        if !self.config.enable_auto_commit {
            return;
        }
        let offsets = consumed(&self.state.lock());
        if let Err(e) = self.commit(&offsets) {
            log::warn!("auto-commit before a revocation failed: {e}");
        }
    }

    /// The one place the whole assignment is replaced (`assign`, `unsubscribe`, `close`).
    fn update_assignment(&self, st: &mut State, partitions: Vec<(TopicPartition, Arc<PartitionLog>)>) {
        let mut next = BTreeMap::new();
        for (tp, log) in partitions {
            let assigned = match st.assignment.remove(&tp) {
                Some(a) => a,
                None => {
                    // Registered before the first read of the partition (see `log::notify`).
                    log.register_waiter(&self.waiter);
                    Assigned::new(log)
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
    /// called). A subscribed consumer first (re)joins its group if it must, running the
    /// rebalance callbacks (see the type's *Group membership* section); when the rebalance
    /// takes longer than `timeout`, the result is empty and the next `poll` continues it.
    /// Errors: OFFSET_OUT_OF_RANGE when a position is invalid or missing and
    /// `auto.offset.reset` is `none`; storage errors of the partitions; errors of the group
    /// (FENCED_INSTANCE_ID when a newer instance with the same `group.instance.id` took over,
    /// INVALID_SESSION_TIMEOUT, GROUP_MAX_SIZE_REACHED, ...).
    pub fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check_not_in_callback("poll")?;
        let deadline = Instant::now().checked_add(timeout);
        let control = self.state.lock().group.as_ref().map(|g| g.control.clone());
        let _polling = control.as_ref().map(|c| c.polling());
        loop {
            // Read the generation before the partitions (see `log::notify`).
            let generation = self.waiter.generation();
            if !self.update_group(deadline)? {
                return Ok(Vec::new());
            }
            let auto_commit = {
                let mut st = self.lock_open()?;
                self.auto_commit_due(&mut st)
            };
            if let Some(offsets) = auto_commit
                && let Err(e) = self.commit(&offsets)
            {
                log::warn!("auto-commit failed: {e}");
            }
            let unresolved = {
                let mut st = self.lock_open()?;
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

    /// A subscribed consumer's group duties at the start of a `poll` round: notice a lost
    /// membership, follow the pattern's topics, and (re)join when needed. Returns false if the
    /// poll's time ran out in a rebalance (the join stays parked in the coordinator; the next
    /// `poll` continues it).
    fn update_group(&self, deadline: Option<Instant>) -> Result<bool> {
        let mut guard = self.membership.lock();
        let Some(m) = guard.as_mut() else { return Ok(true) };
        let control = m.heartbeat.control.clone();
        if let Some(e) = control.fatal() {
            return Err(e);
        }
        let poll_expired = control.poll_expired.swap(false, Ordering::AcqRel);
        let requested = self.rejoin_requested.swap(false, Ordering::AcqRel);
        if poll_expired || requested {
            // Is the member still in the group? The answer marks its partitions lost if not.
            if let Err(e) = m.member.heartbeat() {
                if e.code() == ErrorCode::FencedInstanceId {
                    control.set_fatal(&e);
                }
                return Err(e);
            }
            if requested {
                m.member.request_rejoin();
            }
        }
        self.refresh_metadata(m);
        if !m.member.needs_rejoin() {
            return Ok(true);
        }
        let wait =
            deadline.map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
        let partition_count = |t: &str| self.engine.partition_count(t).ok();
        let result = {
            let _scope = self.enter_callbacks();
            let Membership { member, listener, .. } = &mut *m;
            let mut bridge = Bridge { consumer: self, listener: listener.as_mut() };
            member.ensure_active_group(&partition_count, &mut bridge, wait.max(MIN_JOIN_WAIT))
        };
        match result {
            Ok(()) => {
                m.topology = self.topology(&m.topics);
                Ok(true)
            }
            Err(e) if e.code() == ErrorCode::RequestTimedOut => Ok(false),
            Err(e) => {
                if e.code() == ErrorCode::FencedInstanceId {
                    control.set_fatal(&e);
                }
                Err(e)
            }
        }
    }

    /// Every `metadata.max.age.ms` (and before every rebalance): a pattern subscription follows
    /// the topics it matches (a change rebalances), and a leader rejoins when a subscribed
    /// topic appeared or changed its partition count since it assigned — the other members'
    /// subscriptions do not show that (Kafka's leader does the same on a metadata change).
    fn refresh_metadata(&self, m: &mut Membership) {
        let age = Duration::from_millis(self.config.metadata_max_age_ms);
        if m.metadata_checked.elapsed() < age && !m.member.needs_rejoin() {
            return;
        }
        m.metadata_checked = Instant::now();
        if let TopicSelection::Pattern(_) = m.selection {
            let topics = self.selected_topics(&m.selection);
            if topics != m.topics {
                log::info!("{}: the pattern now matches {topics:?}", m.member.group_metadata());
                m.member.subscribe(topics.clone());
                if let Some(h) = self.state.lock().group.as_mut() {
                    h.topics = topics.clone();
                }
                m.topics = topics;
            }
        }
        if m.member.is_leader() && !m.member.needs_rejoin() && self.topology(&m.topics) != m.topology {
            log::info!("{}: the subscribed topics changed; rebalancing", m.member.group_metadata());
            m.member.request_rejoin();
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
    /// consume. A subscribed consumer commits as a member — with its member id, generation and
    /// `group.instance.id` — and the group coordinator refuses the commit of a member that lost
    /// its partitions: ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID (Kafka's
    /// `CommitFailedException`; the next `poll` reports the partitions lost and rejoins),
    /// REBALANCE_IN_PROGRESS (the next `poll` rejoins; commit again after it), or
    /// FENCED_INSTANCE_ID. Before the consumer has joined, the answer is
    /// REBALANCE_IN_PROGRESS. Without a subscription the commit is a "simple" one (generation
    /// −1), accepted while the group has no members.
    pub fn commit(&self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        let group = self.group_id()?;
        let list: Vec<(String, i32, OffsetAndMetadata)> =
            offsets.iter().map(|(tp, o)| (tp.topic.clone(), tp.partition, o.clone())).collect();
        let handle = self.state.lock().group.clone();
        let Some(handle) = handle else {
            return self.engine.offsets().commit(group, &list);
        };
        let md = handle.heartbeater.group_metadata();
        if md.generation_id < 0 {
            return Err(Error::kafka(
                ErrorCode::RebalanceInProgress,
                format!("{md}: the consumer has not joined its group yet; poll first"),
            ));
        }
        let result = self.engine.groups().commit_offsets(
            group,
            &md.member_id,
            md.generation_id,
            md.group_instance_id.as_deref(),
            &list,
        );
        if let Err(e) = &result {
            match e.code() {
                ErrorCode::RebalanceInProgress
                | ErrorCode::IllegalGeneration
                | ErrorCode::UnknownMemberId => {
                    self.rejoin_requested.store(true, Ordering::Release);
                }
                ErrorCode::FencedInstanceId => handle.control.set_fatal(e),
                _ => {}
            }
        }
        result
    }

    /// The positions to auto-commit, if `enable.auto.commit` is set and the interval passed.
    fn auto_commit_due(&self, st: &mut State) -> Option<Vec<(TopicPartition, OffsetAndMetadata)>> {
        if !self.config.enable_auto_commit || self.config.group_id.is_none() {
            return None;
        }
        if st.last_auto_commit.elapsed() < Duration::from_millis(self.config.auto_commit_interval_ms) {
            return None;
        }
        st.last_auto_commit = Instant::now();
        let offsets = consumed(st);
        (!offsets.is_empty()).then_some(offsets)
    }

    /// The consumer's group identity, for [`super::Producer::send_offsets_to_transaction`]
    /// (Kafka's `groupMetadata`): a subscribed consumer's live member id and generation (they
    /// change in every rebalance — take them after the `poll` whose records are committed);
    /// generation −1 and no member id otherwise.
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        let group_id = self.group_id()?.to_string();
        if let Some(g) = &self.state.lock().group {
            return Ok(g.heartbeater.group_metadata());
        }
        Ok(ConsumerGroupMetadata {
            group_id,
            generation_id: crate::group::NO_GENERATION_ID,
            member_id: crate::group::UNKNOWN_MEMBER_ID.to_string(),
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

    /// Closes the consumer: a subscribed one revokes its partitions through the listener
    /// (committing first with `enable.auto.commit`) and leaves the group — a static member only
    /// stops heartbeating, so that its restart does not rebalance (KIP-345); an assigned one
    /// commits its positions with `enable.auto.commit`. Later calls fail; closing twice is
    /// fine.
    pub fn close(&self) -> Result<()> {
        self.check_not_in_callback("close")?;
        if self.state.lock().closed {
            return Ok(());
        }
        let mut result = Ok(());
        {
            let mut membership = self.membership.lock();
            match membership.as_mut() {
                Some(m) => result = self.leave(m),
                None if self.config.enable_auto_commit && self.config.group_id.is_some() => {
                    let offsets = consumed(&self.state.lock());
                    result = self.commit(&offsets);
                }
                None => {}
            }
            *membership = None;
        }
        let mut st = self.state.lock();
        if !st.closed {
            self.update_assignment(&mut st, Vec::new());
            st.group = None;
            st.mode = Mode::None;
            st.closed = true;
        }
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
