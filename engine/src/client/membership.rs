//! Group membership of a subscribed [`Consumer`]: the rebalance listener the application
//! gives to [`Consumer::subscribe`], the background heartbeat thread, and the bridge that turns
//! a [`GroupMember`]'s assignment changes into changes of the consumer's assignment.
//!
//! # Threads
//!
//! Kafka's consumer has two threads in a group: the application's, which joins the group and
//! runs the rebalance callbacks inside `poll`, and a heartbeat thread, which only keeps the
//! session alive and notices rebalances. This module follows that split:
//!
//! - the heartbeat thread ([`HeartbeatThread`]) heartbeats every `heartbeat.interval.ms` and,
//!   in between, waits on the group coordinator for a rebalance of the member's generation, so
//!   it learns of one at once. It then heartbeats (the answer marks the member for rejoining, or
//!   its partitions lost) and wakes a `poll` blocked waiting for records. It never changes the
//!   assignment and never runs application code.
//! - `poll` (re)joins when the member needs it and runs the callbacks through [`Bridge`] on the
//!   application's thread.
//!
//! # Liveness
//!
//! A member whose application stops calling `poll` for longer than `max.poll.interval.ms`
//! cannot take part in rebalances. As in Kafka, the heartbeat thread then sends LeaveGroup for a
//! dynamic member (its partitions go to the others at once) and stops heartbeating until the
//! next `poll`, which finds the member gone and reports its partitions lost. A static member
//! only stops heartbeating: its session timeout decides.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::consumer::Consumer;
use super::error::SharedError;
use crate::error::{Error, ErrorCode, Result};
use crate::group::{GroupCoordinator, GroupMember, Heartbeater, MemberIdentity, RebalanceListener};
use crate::log::{ReadWaiter, TopicPartition};

pub use crate::group::NoopListener;

/// The longest the heartbeat thread waits in one go, so that stopping it (at `close`,
/// `unsubscribe`) never waits for a whole heartbeat interval.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// Callbacks around the rebalances of a subscribed consumer (Kafka's
/// `ConsumerRebalanceListener`). They run on the thread that calls [`Consumer::poll`] (or
/// [`Consumer::close`] / [`Consumer::unsubscribe`]), inside that call, and receive the
/// consumer so that they can commit, seek or ask for positions. They must not call `poll`,
/// `close`, `subscribe`, `unsubscribe` or `assign` (those return an error).
///
/// For each rebalance:
/// - [`on_partitions_revoked`](Self::on_partitions_revoked): the member gives these partitions
///   up in an orderly way and its generation is still valid, so this is the last chance to
///   commit what was processed from them (the consumer still has them when it is called).
///   With the eager protocol (`range`, `roundrobin`) every owned partition is revoked before the
///   member rejoins; with the cooperative one (`cooperative-sticky`, eoslog's default) only the
///   partitions that move to another member, after the rebalance.
/// - [`on_partitions_assigned`](Self::on_partitions_assigned): the partitions newly owned
///   (with the cooperative protocol only the added ones, possibly none). They are in the
///   consumer's assignment already, at the group's committed offset (or `auto.offset.reset`),
///   which a `seek` here may override.
/// - [`on_partitions_lost`](Self::on_partitions_lost): the member was expelled (missed
///   heartbeats, a poll timeout, a newer static instance): another member may own these
///   partitions already, so nothing may be committed for them. Unlike Kafka's default, which
///   calls `on_partitions_revoked`, the default here does nothing — a commit would be refused
///   anyway.
///
/// A transactional read-process-write loop that polls more than once per transaction must end
/// (commit or abort) the open transaction when its partitions are revoked or lost; one that
/// polls once per transaction needs no listener at all, since a rebalance only ever happens
/// inside `poll`.
pub trait ConsumerRebalanceListener: Send {
    /// Partitions given up in an orderly way (the consumer still has them).
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }
    /// Partitions newly assigned (already in the consumer's assignment).
    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }
    /// Partitions lost without an orderly hand-over.
    fn on_partitions_lost(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let _ = (consumer, partitions);
    }
}

impl ConsumerRebalanceListener for NoopListener {}

/// What a consumer subscribed to.
pub(crate) enum TopicSelection {
    /// These topics.
    Topics(Vec<String>),
    /// Every non-internal topic whose name matches.
    Pattern(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl fmt::Debug for TopicSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicSelection::Topics(t) => f.debug_tuple("Topics").field(t).finish(),
            TopicSelection::Pattern(_) => f.write_str("Pattern(..)"),
        }
    }
}

/// The group side of a subscribed consumer, owned by the consumer's membership lock.
pub(crate) struct Membership {
    pub(crate) member: GroupMember,
    pub(crate) listener: Box<dyn ConsumerRebalanceListener>,
    pub(crate) selection: TopicSelection,
    /// The topics the member subscribes to now (the pattern's matches).
    pub(crate) topics: Vec<String>,
    /// Partition counts of `topics` when the member last joined: a leader rejoins when they
    /// change (a topic created after the subscription), as Kafka's leader does on a metadata
    /// change.
    pub(crate) topology: BTreeMap<String, i32>,
    pub(crate) metadata_checked: Instant,
    pub(crate) heartbeat: HeartbeatThread,
}

impl fmt::Debug for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Membership")
            .field("member", &self.member)
            .field("selection", &self.selection)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// State shared between the consumer and its heartbeat thread.
#[derive(Debug)]
pub(crate) struct HeartbeatControl {
    stop: Mutex<bool>,
    wake: Condvar,
    /// Test hook: no heartbeats (a stalled process).
    pub(crate) paused: AtomicBool,
    /// `poll` calls in progress (the poll timer does not run during one).
    polling: AtomicUsize,
    last_poll: Mutex<Instant>,
    /// Set by the heartbeat thread when the poll timer expired; cleared by the next `poll`.
    pub(crate) poll_expired: AtomicBool,
    /// Why the consumer cannot continue in the group (FENCED_INSTANCE_ID).
    fatal: Mutex<Option<SharedError>>,
}

impl HeartbeatControl {
    pub(crate) fn new() -> Arc<HeartbeatControl> {
        Arc::new(HeartbeatControl {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            paused: AtomicBool::new(false),
            polling: AtomicUsize::new(0),
            last_poll: Mutex::new(Instant::now()),
            poll_expired: AtomicBool::new(false),
            fatal: Mutex::new(None),
        })
    }

    fn stopped(&self) -> bool {
        *self.stop.lock()
    }

    fn wait(&self, timeout: Duration) {
        let mut stop = self.stop.lock();
        if !*stop {
            self.wake.wait_for(&mut stop, timeout);
        }
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
        let _g = self.stop.lock();
        self.wake.notify_all();
    }

    pub(crate) fn set_fatal(&self, e: &Error) {
        self.fatal.lock().get_or_insert_with(|| SharedError::new(e));
    }

    pub(crate) fn fatal(&self) -> Option<Error> {
        self.fatal.lock().as_ref().map(SharedError::to_error)
    }

    /// Marks a `poll` call in progress until the guard drops; both ends restart the poll timer.
    pub(crate) fn polling(self: &Arc<Self>) -> PollGuard {
        self.polling.fetch_add(1, Ordering::AcqRel);
        *self.last_poll.lock() = Instant::now();
        PollGuard(self.clone())
    }

    fn poll_timer_expired(&self, max_poll_interval: Duration) -> bool {
        self.polling.load(Ordering::Acquire) == 0 && self.last_poll.lock().elapsed() > max_poll_interval
    }
}

/// See [`HeartbeatControl::polling`].
pub(crate) struct PollGuard(Arc<HeartbeatControl>);

impl Drop for PollGuard {
    fn drop(&mut self) {
        *self.0.last_poll.lock() = Instant::now();
        self.0.polling.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The background heartbeat thread of a subscribed consumer.
#[derive(Debug)]
pub(crate) struct HeartbeatThread {
    pub(crate) control: Arc<HeartbeatControl>,
    handle: Option<JoinHandle<()>>,
}

/// What the heartbeat thread needs to know.
pub(crate) struct HeartbeatSettings {
    pub(crate) interval: Duration,
    pub(crate) max_poll_interval: Duration,
    /// Whether a poll timeout sends LeaveGroup (dynamic members).
    pub(crate) leave_on_poll_timeout: bool,
}

impl HeartbeatThread {
    pub(crate) fn spawn(
        control: Arc<HeartbeatControl>,
        heartbeater: Heartbeater,
        waiter: Arc<ReadWaiter>,
        groups: Arc<GroupCoordinator>,
        settings: HeartbeatSettings,
    ) -> Result<HeartbeatThread> {
        let c = control.clone();
        let handle = std::thread::Builder::new()
            .name("eoslog-consumer-heartbeat".into())
            .spawn(move || heartbeat_loop(&c, &heartbeater, &waiter, &groups, &settings))
            .map_err(|e| {
                Error::InvalidRequest(format!("cannot start the consumer's heartbeat thread: {e}"))
            })?;
        Ok(HeartbeatThread { control, handle: Some(handle) })
    }

    /// Stops the thread and waits for it (at most one wait slice plus one heartbeat).
    pub(crate) fn stop(&mut self) {
        {
            let mut stop = self.control.stop.lock();
            *stop = true;
            self.control.wake.notify_all();
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for HeartbeatThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn heartbeat_loop(
    control: &HeartbeatControl,
    hb: &Heartbeater,
    waiter: &ReadWaiter,
    groups: &GroupCoordinator,
    settings: &HeartbeatSettings,
) {
    let beat = || match hb.heartbeat() {
        Ok(()) => {}
        Err(e) if e.code() == ErrorCode::FencedInstanceId => {
            log::error!("{}: {e}", hb.group_metadata());
            control.set_fatal(&e);
            waiter.notify();
        }
        // Anything else (the coordinator shutting down, ...) shows at the next join.
        Err(e) => log::debug!("heartbeat of {}: {e}", hb.group_metadata()),
    };
    let mut next_beat = Instant::now();
    // The generation whose rebalance was already reported: waiting for it again would return
    // at once and spin until the application rejoins.
    let mut reported: Option<i32> = None;
    while !control.stopped() {
        if control.paused.load(Ordering::Acquire) || control.poll_expired.load(Ordering::Acquire) {
            control.wait(WAIT_SLICE);
            continue;
        }
        let md = hb.group_metadata();
        let joined = md.generation_id >= 0 && !md.member_id.is_empty();
        if joined && control.poll_timer_expired(settings.max_poll_interval) {
            log::warn!(
                "{md}: no poll for more than max.poll.interval.ms ({} ms); {}",
                settings.max_poll_interval.as_millis(),
                if settings.leave_on_poll_timeout {
                    "leaving the group"
                } else {
                    "heartbeats stop until the next poll"
                }
            );
            control.poll_expired.store(true, Ordering::Release);
            if settings.leave_on_poll_timeout {
                let leaving = MemberIdentity {
                    member_id: md.member_id.clone(),
                    group_instance_id: None,
                    reason: Some("consumer poll timeout has expired".into()),
                };
                let _ = groups.leave_group(&md.group_id, &[leaving]);
            }
            waiter.notify();
            continue;
        }
        if Instant::now() >= next_beat {
            beat();
            next_beat = Instant::now() + settings.interval;
        }
        let slice = next_beat.saturating_duration_since(Instant::now()).min(WAIT_SLICE);
        if joined && reported != Some(md.generation_id) {
            if hb.await_rebalance(slice) {
                reported = Some(md.generation_id);
                // Heartbeat at once: the answer marks the member for rejoining (or its
                // partitions lost); then wake a poll that waits for records, so it rejoins.
                beat();
                next_beat = Instant::now() + settings.interval;
                waiter.notify();
            }
        } else {
            control.wait(slice);
        }
    }
}

/// Applies a [`GroupMember`]'s assignment changes to the consumer and calls the application's
/// listener, in Kafka's order: the listener sees revoked and lost partitions while the
/// consumer still has them, and assigned ones once the consumer has them.
pub(crate) struct Bridge<'a> {
    pub(crate) consumer: &'a Consumer,
    pub(crate) listener: &'a mut dyn ConsumerRebalanceListener,
}

impl RebalanceListener for Bridge<'_> {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        // `enable.auto.commit`: what was consumed is committed before the partitions go, with
        // the generation that still owns them (Kafka's `onJoinPrepare`).
        self.consumer.auto_commit_before_revocation();
        self.listener.on_partitions_revoked(self.consumer, partitions);
        self.consumer.remove_partitions(partitions);
    }

    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        self.consumer.add_partitions(partitions);
        self.listener.on_partitions_assigned(self.consumer, partitions);
    }

    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.listener.on_partitions_lost(self.consumer, partitions);
        self.consumer.remove_partitions(partitions);
    }
}
