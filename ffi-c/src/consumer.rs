//! The consumer (Rust's `client::Consumer`) and the messages it returns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_void};
use std::time::Duration;

use eoslog_core::client::{
    Consumer, ConsumerConfig, ConsumerRebalanceListener, ConsumerRecord, TopicPartition,
};

use crate::batch::{eoslog_header, eoslog_timestamp_type, header_out, timestamp_type_code};
use crate::engine::{EngineRef, config_pairs, eoslog_config_pair, eoslog_engine, index_error};
use crate::ffi::{
    CPtr, array, free_handle, impl_handle, new_handle, opt_slice_parts, out, to_cstring, try_ref,
};
use crate::log::topic_name;
use crate::panic::{result_boundary, value_boundary};
use crate::producer::{
    GroupMetadataHandle, eoslog_group_metadata, eoslog_topic_partition_offset, offsets_in,
};
use crate::result::{FfiError, FfiResult, eoslog_result, set_last_error};

/// An in-process Kafka consumer: reads its partitions with `read_committed` (the default) or
/// `read_uncommitted` isolation, skipping aborted transactions and markers as Kafka's client
/// does, and commits offsets for its `group.id`. It gets its partitions either by hand
/// (`eoslog_consumer_assign`) or as a member of its group (`eoslog_consumer_subscribe`, with
/// rebalances and KIP-447 generation fencing); the two are exclusive.
///
/// Created by `eoslog_consumer_new`, released by exactly one `eoslog_consumer_free`.
/// Thread-safety: every function takes `const eoslog_consumer *` and may be called from any
/// thread; calls are serialised inside, and `eoslog_consumer_wakeup` may be called from another
/// thread to end a blocked `eoslog_consumer_poll`. A subscribed consumer also runs a background
/// heartbeat thread of its own, which never calls application code.
pub struct eoslog_consumer {
    _private: [u8; 0],
}

pub(crate) struct ConsumerHandle {
    engine: EngineRef,
    consumer: Consumer,
}

impl_handle!(eoslog_consumer => ConsumerHandle, b"eos:CONS");

/// A topic and a partition.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_topic_partition {
    /// The topic, NUL-terminated. Must not be NULL.
    pub topic: *const c_char,
    /// The partition.
    pub partition: i32,
}

fn partitions_in(list: *const eoslog_topic_partition, len: usize) -> FfiResult<Vec<TopicPartition>> {
    array(list, len, "partitions")?
        .iter()
        .enumerate()
        .map(|(i, tp)| {
            Ok(TopicPartition::new(topic_name(tp.topic, &format!("partitions[{i}].topic"))?, tp.partition))
        })
        .collect()
}

fn live<'a>(consumer: *const eoslog_consumer) -> FfiResult<&'a Consumer> {
    let c = try_ref(consumer, "consumer")?;
    c.engine.check_open()?;
    Ok(&c.consumer)
}

/// Creates a consumer on `engine`, configured by `config_len` Kafka consumer settings:
/// `group.id` (needed to commit and for transactional offsets), `isolation.level`
/// (`read_committed`, eoslog's default, or `read_uncommitted`), `auto.offset.reset`
/// (`earliest` | `latest` | `none`), `max.poll.records`, `enable.auto.commit` (default false),
/// ...; NULL with 0 for the defaults. `*out_consumer` receives the consumer (the caller owns
/// it).
///
/// Errors: `EOSLOG_RESULT_INVALID_CONFIG`, `EOSLOG_RESULT_CLOSED`, and the usual argument and
/// handle errors. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_new(
    engine: *const eoslog_engine,
    config: *const eoslog_config_pair,
    config_len: usize,
    out_consumer: *mut *mut eoslog_consumer,
) -> eoslog_result {
    result_boundary(|| {
        let h = try_ref(engine, "engine")?;
        let pairs = config_pairs(config, config_len, "config")?;
        let out_consumer = out(out_consumer, "out_consumer")?;
        let config = ConsumerConfig::from_pairs(&pairs)?;
        let consumer = Consumer::new(h.engine.get()?, config)?;
        out_consumer.write(new_handle(ConsumerHandle { engine: h.engine.clone(), consumer }));
        Ok(())
    })
}

/// Closes the consumer if needed, as `eoslog_consumer_close` does (a subscribed consumer
/// revokes its partitions through its `on_partitions_revoked` callback, inside this call, and
/// leaves its group; positions are committed when `enable.auto.commit` is set; errors of that
/// close are not reported: call `eoslog_consumer_close` first to see them), then releases it.
/// NULL is accepted and does nothing.
///
/// Errors: `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live consumer;
/// `EOSLOG_RESULT_INVALID_REQUEST` (and nothing is freed) when called from one of this
/// consumer's own rebalance callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_free(consumer: *mut eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        if consumer.is_null() {
            return Ok(());
        }
        check_not_in_callback(consumer, "eoslog_consumer_free")?;
        // Closed while the handle is still live, so that revocation callbacks can use it.
        let _ = try_ref(consumer.cast_const(), "consumer")?.consumer.close();
        free_handle(consumer, "consumer")
    })
}

/// Commits positions if `enable.auto.commit` is set and releases the partitions; a subscribed
/// consumer revokes them through its `on_partitions_revoked` callback (inside this call, on
/// this thread) and leaves its group (a static member, with `group.instance.id`, only stops
/// heartbeating). Later calls fail with `EOSLOG_RESULT_INVALID_REQUEST`. Closing twice is
/// fine. The handle must still be freed.
///
/// Errors: the auto-commit's errors, `EOSLOG_RESULT_INVALID_REQUEST` (called from a rebalance
/// callback), `EOSLOG_RESULT_CLOSED` (engine closed), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_close(consumer: *const eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        live(consumer)?.close()?;
        Ok(())
    })
}

/// Assigns exactly these `partitions_len` partitions (Kafka's `assign`); partitions that stay
/// assigned keep their positions, new ones start at the group's committed offset, else at
/// `auto.offset.reset`. An empty list unassigns everything.
///
/// Errors: `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION`,
/// `EOSLOG_RESULT_INVALID_REQUEST` (the consumer is subscribed: `eoslog_consumer_unsubscribe`
/// first), `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_assign(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.assign(&partitions)?;
        Ok(())
    })
}

/// Sets the position of an assigned partition to `offset` (Kafka's `seek`): the next poll
/// returns records from there.
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned, or a negative offset),
/// `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    offset: i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        c.seek(&TopicPartition::new(topic, partition), offset)?;
        Ok(())
    })
}

/// Moves the given assigned partitions (all assigned ones when `partitions_len` is 0) to their
/// log start, evaluated at the next poll (Kafka's `seekToBeginning`).
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned), `EOSLOG_RESULT_CLOSED`, and the
/// usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek_to_beginning(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.seek_to_beginning(&partitions)?;
        Ok(())
    })
}

/// Moves the given assigned partitions (all when `partitions_len` is 0) to their end as this
/// consumer sees it (last stable offset under read_committed), evaluated at the next poll
/// (Kafka's `seekToEnd`).
///
/// Errors: as `eoslog_consumer_seek_to_beginning`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_seek_to_end(
    consumer: *const eoslog_consumer,
    partitions: *const eoslog_topic_partition,
    partitions_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let partitions = partitions_in(partitions, partitions_len)?;
        c.seek_to_end(&partitions)?;
        Ok(())
    })
}

/// Writes the offset of the next record the consumer returns for an assigned partition to
/// `*out_offset` (Kafka's `position`), resolving an unknown position first.
///
/// Errors: `EOSLOG_RESULT_INVALID_REQUEST` (not assigned), `EOSLOG_RESULT_OFFSET_OUT_OF_RANGE`
/// (no position and `auto.offset.reset=none`), `EOSLOG_RESULT_CLOSED`, and the usual argument
/// and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_position(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        out_offset.write(c.position(&TopicPartition::new(topic, partition))?);
        Ok(())
    })
}

/// Writes the end of a partition as this consumer sees it to `*out_offset`: the last stable
/// offset under read_committed, the high watermark under read_uncommitted (Kafka's
/// `endOffsets`).
///
/// Errors: `EOSLOG_RESULT_UNKNOWN_TOPIC_OR_PARTITION`, `EOSLOG_RESULT_CLOSED`, and the usual
/// argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_end_offset(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        let tp = TopicPartition::new(topic, partition);
        let ends = c.end_offsets(std::slice::from_ref(&tp))?;
        out_offset.write(ends.get(&tp).copied().unwrap_or(-1));
        Ok(())
    })
}

/// Writes the group's committed offset of a partition to `*out_offset` (Kafka's
/// `committed`), or -1 when nothing is committed. Under read_committed a transactional commit
/// still pending is waited for (up to `default.api.timeout.ms`), so the answer is never one a
/// transaction could undo.
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), `EOSLOG_RESULT_REQUEST_TIMED_OUT`
/// / `EOSLOG_RESULT_UNSTABLE_OFFSET_COMMIT`, `EOSLOG_RESULT_CLOSED`, and the usual argument and
/// handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_committed(
    consumer: *const eoslog_consumer,
    topic: *const c_char,
    partition: i32,
    out_offset: *mut i64,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let topic = topic_name(topic, "topic")?;
        let out_offset = out(out_offset, "out_offset")?;
        let tp = TopicPartition::new(topic, partition);
        let committed = c.committed(std::slice::from_ref(&tp))?;
        out_offset.write(committed.get(&tp).and_then(|o| o.as_ref()).map_or(-1, |o| o.offset));
        Ok(())
    })
}

/// Commits offsets for the consumer's group (Kafka's `commitSync`): with `offsets_len == 0`
/// the current position of every assigned partition, else the given `offsets` (each the next
/// offset to consume). A subscribed consumer commits as a member (member id, generation,
/// `group.instance.id`), so the group refuses the commit of a member that lost its partitions;
/// it may commit from its rebalance callbacks (`on_partitions_revoked`: the last chance).
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`); for a subscribed consumer
/// `EOSLOG_RESULT_ILLEGAL_GENERATION` / `EOSLOG_RESULT_UNKNOWN_MEMBER_ID` (it lost its
/// partitions in a rebalance: the next poll reports them lost and rejoins),
/// `EOSLOG_RESULT_REBALANCE_IN_PROGRESS` (not joined yet, or the group is rebalancing: poll,
/// then commit again), `EOSLOG_RESULT_FENCED_INSTANCE_ID` (a newer static instance); without
/// a subscription the commit is accepted only while the group has no members;
/// `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_commit(
    consumer: *const eoslog_consumer,
    offsets: *const eoslog_topic_partition_offset,
    offsets_len: usize,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let offsets = offsets_in(offsets, offsets_len)?;
        if offsets.is_empty() {
            c.commit_sync()?;
        } else {
            c.commit(&offsets)?;
        }
        Ok(())
    })
}

/// Writes the consumer's group identity (Kafka's `groupMetadata`, for
/// `eoslog_producer_send_offsets_to_transaction`) to `*out_group`, a new handle the caller owns
/// (`eoslog_group_metadata_free`).
///
/// For a subscribed consumer it holds the member id and generation as they are now: a
/// snapshot, which does not follow later rebalances. Take it after the `eoslog_consumer_poll`
/// whose records the transaction holds (and free it after the commit): if the consumer loses
/// its partitions in a rebalance in between, the transaction's offsets are refused with
/// `EOSLOG_RESULT_ILLEGAL_GENERATION` or `EOSLOG_RESULT_UNKNOWN_MEMBER_ID` (KIP-447), so a
/// zombie can never commit them. Without a subscription (`eoslog_consumer_assign`) it has
/// generation -1 and an empty member id: the offsets are not fenced by generation (as with
/// `eoslog_group_metadata_new`).
///
/// Errors: `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_group_metadata(
    consumer: *const eoslog_consumer,
    out_group: *mut *mut eoslog_group_metadata,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let out_group = out(out_group, "out_group")?;
        let metadata = c.group_metadata()?;
        out_group.write(new_handle::<eoslog_group_metadata>(GroupMetadataHandle::new(metadata)));
        Ok(())
    })
}

/// A rebalance callback: `partitions_len` topic/partition pairs at `partitions` (NULL when
/// `partitions_len` is 0). `userdata` is the `userdata` of the `eoslog_rebalance_callbacks`
/// given to `eoslog_consumer_subscribe`, `consumer` the consumer that subscribed.
///
/// The array and its topic strings belong to eoslog and are valid during the call only: copy
/// what you keep. See `eoslog_rebalance_callbacks` for when and on which thread it runs.
pub type eoslog_rebalance_fn = Option<
    extern "C" fn(
        userdata: *mut c_void,
        consumer: *const eoslog_consumer,
        partitions: *const eoslog_topic_partition,
        partitions_len: usize,
    ),
>;

/// Callbacks around the rebalances of a subscribed consumer (Kafka's
/// `ConsumerRebalanceListener`). Every member may be NULL: that callback is not called.
///
/// When: each runs inside `eoslog_consumer_poll` (the call that joins or rejoins the group),
/// or inside `eoslog_consumer_unsubscribe`, `eoslog_consumer_close` or `eoslog_consumer_free`
/// (which revoke the partitions), **on the thread making that call** -- never on eoslog's
/// heartbeat thread, and never two at once for one consumer.
///
/// - `on_partitions_revoked`: partitions given up in an orderly way; the consumer still has
///   them and its generation is still valid, so this is the last chance to commit what was
///   processed from them (e.g. `eoslog_consumer_commit`, or end the open transaction). With
///   the default cooperative protocol (`partition.assignment.strategy=cooperative-sticky`)
///   only the partitions that move to another member; with `range` / `roundrobin` all of them,
///   before every rebalance.
/// - `on_partitions_assigned`: partitions newly owned (with the cooperative protocol only the
///   added ones, possibly none: then `partitions_len` is 0). They are in
///   `eoslog_consumer_assignment` already, at the group's committed offset (or
///   `auto.offset.reset`), which `eoslog_consumer_seek` may override here.
/// - `on_partitions_lost`: the member was expelled (missed heartbeats, no poll for
///   `max.poll.interval.ms`, a newer static instance): another member may own these partitions
///   already, so nothing may be committed for them (a commit is refused).
///
/// Inside a callback the consumer may be used (`eoslog_consumer_commit`, `_seek`,
/// `_position`, `_assignment`, `_group_metadata`, ...), but `eoslog_consumer_poll`, `_close`,
/// `_subscribe`, `_unsubscribe` and `_assign` return `EOSLOG_RESULT_INVALID_REQUEST`, and the
/// consumer **must not be freed** (`eoslog_consumer_free` from its own callback returns
/// `EOSLOG_RESULT_INVALID_REQUEST` and frees nothing). A callback must return normally: no
/// `longjmp` out of it, no C++ exception through it.
///
/// The struct is copied by `eoslog_consumer_subscribe`; the functions and `userdata` must stay
/// valid until the consumer is unsubscribed, subscribed again (which replaces them), closed or
/// freed. `userdata` is used only by the callbacks; if other threads touch what it points to,
/// synchronising is up to the application.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_rebalance_callbacks {
    /// Partitions given up in an orderly way (still assigned during the call), or NULL.
    pub on_partitions_revoked: eoslog_rebalance_fn,
    /// Partitions newly assigned (already assigned during the call), or NULL.
    pub on_partitions_assigned: eoslog_rebalance_fn,
    /// Partitions lost without an orderly hand-over, or NULL.
    pub on_partitions_lost: eoslog_rebalance_fn,
    /// Passed to every callback as is; may be NULL.
    pub userdata: *mut c_void,
}

thread_local! {
    /// The consumers whose rebalance callbacks are running on this thread (innermost last).
    static IN_CALLBACK: RefCell<Vec<*const eoslog_consumer>> = const { RefCell::new(Vec::new()) };
}

/// Marks a consumer's callback as running on this thread until dropped (also on a panic).
struct CallbackGuard;

impl CallbackGuard {
    fn enter(consumer: *const eoslog_consumer) -> CallbackGuard {
        IN_CALLBACK.with(|c| c.borrow_mut().push(consumer));
        CallbackGuard
    }
}

impl Drop for CallbackGuard {
    fn drop(&mut self) {
        let _ = IN_CALLBACK.try_with(|c| c.borrow_mut().pop());
    }
}

/// Refuses `what` on a consumer from inside one of its own rebalance callbacks.
fn check_not_in_callback(consumer: *const eoslog_consumer, what: &str) -> FfiResult<()> {
    let inside = IN_CALLBACK.try_with(|c| c.borrow().contains(&consumer)).unwrap_or(false);
    if inside {
        return Err(FfiError::new(
            eoslog_result::InvalidRequest,
            format!("{what} cannot be called from the consumer's own rebalance callback"),
        ));
    }
    Ok(())
}

/// The C callbacks as the Rust consumer's rebalance listener.
struct CListener {
    revoked: eoslog_rebalance_fn,
    assigned: eoslog_rebalance_fn,
    lost: eoslog_rebalance_fn,
    userdata: CPtr<c_void>,
    consumer: CPtr<eoslog_consumer>,
}

impl CListener {
    fn call(&self, callback: eoslog_rebalance_fn, partitions: &[TopicPartition]) {
        let Some(callback) = callback else { return };
        let topics: Vec<CString> = partitions.iter().map(|tp| to_cstring(&tp.topic)).collect();
        let list: Vec<eoslog_topic_partition> = partitions
            .iter()
            .zip(&topics)
            .map(|(tp, topic)| eoslog_topic_partition { topic: topic.as_ptr(), partition: tp.partition })
            .collect();
        let array = if list.is_empty() { std::ptr::null() } else { list.as_ptr() };
        let consumer = self.consumer.0.cast_const();
        let _inside = CallbackGuard::enter(consumer);
        callback(self.userdata.0, consumer, array, list.len());
    }
}

impl ConsumerRebalanceListener for CListener {
    fn on_partitions_revoked(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.call(self.revoked, partitions);
    }

    fn on_partitions_assigned(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.call(self.assigned, partitions);
    }

    fn on_partitions_lost(&mut self, _: &Consumer, partitions: &[TopicPartition]) {
        self.call(self.lost, partitions);
    }
}

/// Subscribes to the `topics_len` topics at `topics` (NUL-terminated names) as a member of the
/// consumer's `group.id` (Kafka's `subscribe(topics, listener)`): the next
/// `eoslog_consumer_poll` joins the group, and the group's partitions of these topics are
/// shared among its members; each member reads only the ones it owns, and rebalances move them
/// as members come and go. `callbacks` (NULL for none; any member may be NULL) hears of every
/// change of the assignment: see `eoslog_rebalance_callbacks` for when and on which thread
/// they run. Topics that do not exist yet are allowed (their partitions are assigned once they
/// exist). Subscribing again replaces the topics (a rebalance follows) and the callbacks.
///
/// A subscribed consumer's commits (`eoslog_consumer_commit`, and a transaction's offsets with
/// `eoslog_consumer_group_metadata`) carry its member id and generation, so a member that
/// lost its partitions cannot commit them (KIP-447). The consumer heartbeats from a background
/// thread; one that does not poll for `max.poll.interval.ms` leaves the group. Useful
/// settings: `group.instance.id` (static membership), `session.timeout.ms`,
/// `heartbeat.interval.ms`, `max.poll.interval.ms`, `partition.assignment.strategy`; a new
/// group waits the engine's `group.initial.rebalance.delay.ms` (3 s by default) for more
/// members before its first assignment.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (`topics_len` is 0: use
/// `eoslog_consumer_unsubscribe`), `EOSLOG_RESULT_INVALID_TOPIC_EXCEPTION` (an illegal name),
/// `EOSLOG_RESULT_INVALID_GROUP_ID` (no `group.id`), `EOSLOG_RESULT_INVALID_REQUEST`
/// (partitions are assigned with `eoslog_consumer_assign`, the consumer is closed, or called
/// from a rebalance callback), `EOSLOG_RESULT_INVALID_CONFIG` (an unknown assignor),
/// `EOSLOG_RESULT_CLOSED`, and the usual argument and handle errors. Nothing changes on an
/// error. Thread-safety: any thread (it waits for a `poll` that is rebalancing).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_subscribe(
    consumer: *const eoslog_consumer,
    topics: *const *const c_char,
    topics_len: usize,
    callbacks: *const eoslog_rebalance_callbacks,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let names = array(topics, topics_len, "topics")?
            .iter()
            .enumerate()
            .map(|(i, t)| topic_name(*t, &format!("topics[{i}]")))
            .collect::<FfiResult<Vec<&str>>>()?;
        let callbacks = if callbacks.is_null() { None } else { Some(array(callbacks, 1, "callbacks")?[0]) };
        if names.is_empty() {
            return Err(FfiError::invalid(
                "topics is empty: subscribe to at least one topic (eoslog_consumer_unsubscribe leaves the group)",
            ));
        }
        let listener = CListener {
            revoked: callbacks.and_then(|cb| cb.on_partitions_revoked),
            assigned: callbacks.and_then(|cb| cb.on_partitions_assigned),
            lost: callbacks.and_then(|cb| cb.on_partitions_lost),
            userdata: CPtr(callbacks.map_or(std::ptr::null_mut(), |cb| cb.userdata)),
            consumer: CPtr(consumer.cast_mut()),
        };
        c.subscribe(&names, listener)?;
        Ok(())
    })
}

/// Leaves the group if subscribed -- the owned partitions are revoked through the
/// `on_partitions_revoked` callback (inside this call, on this thread) and the member leaves
/// (a static member only stops heartbeating) -- and drops the assignment, whether it came from
/// `eoslog_consumer_subscribe` or `eoslog_consumer_assign` (Kafka's `unsubscribe`). The
/// callbacks are not called again afterwards. Unsubscribing a consumer that is not subscribed
/// is fine.
///
/// Errors: the group's errors while leaving (the assignment is dropped regardless),
/// `EOSLOG_RESULT_INVALID_REQUEST` (closed, or called from a rebalance callback),
/// `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_unsubscribe(consumer: *const eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        live(consumer)?.unsubscribe()?;
        Ok(())
    })
}

/// Topic/partition pairs: a consumer's assignment (`eoslog_consumer_assignment`).
///
/// Released by exactly one `eoslog_topic_partition_list_free`; a snapshot, independent of the
/// consumer. Thread-safety: immutable; any number of threads may read it at once.
pub struct eoslog_topic_partition_list {
    _private: [u8; 0],
}

pub(crate) struct TopicPartitionList {
    /// One C string per entry (names are short; simplicity over sharing).
    topics: Vec<CString>,
    partitions: Vec<i32>,
}

impl_handle!(eoslog_topic_partition_list => TopicPartitionList, b"eos:TPPL");

/// Writes the partitions the consumer has now, sorted by topic and partition (Kafka's
/// `assignment`), to `*out_list`, a new list the caller owns
/// (`eoslog_topic_partition_list_free`): those given to `eoslog_consumer_assign`, or those its
/// group assigned to a subscribed consumer (empty until its first `eoslog_consumer_poll` has
/// joined the group; it changes in rebalances, inside `eoslog_consumer_poll`).
///
/// Errors: `EOSLOG_RESULT_CLOSED`, `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread, also from a rebalance callback.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_assignment(
    consumer: *const eoslog_consumer,
    out_list: *mut *mut eoslog_topic_partition_list,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let out_list = out(out_list, "out_list")?;
        let assignment = c.assignment();
        let list = TopicPartitionList {
            topics: assignment.iter().map(|tp| to_cstring(&tp.topic)).collect(),
            partitions: assignment.iter().map(|tp| tp.partition).collect(),
        };
        out_list.write(new_handle::<eoslog_topic_partition_list>(list));
        Ok(())
    })
}

/// Number of entries in the list; 0 for NULL or an invalid handle (which also records
/// `EOSLOG_RESULT_NULL_PARAMETER` / `EOSLOG_RESULT_INVALID_HANDLE` as the last error).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_partition_list_len(list: *const eoslog_topic_partition_list) -> usize {
    value_boundary(|| match try_ref(list, "list") {
        Ok(l) => l.partitions.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

/// Writes entry number `index` of the list to `*out_partition`; its topic string belongs to
/// the list.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range), `EOSLOG_RESULT_NULL_PARAMETER`,
/// `EOSLOG_RESULT_INVALID_HANDLE`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_partition_list_get(
    list: *const eoslog_topic_partition_list,
    index: usize,
    out_partition: *mut eoslog_topic_partition,
) -> eoslog_result {
    result_boundary(|| {
        let l = try_ref(list, "list")?;
        let out_partition = out(out_partition, "out_partition")?;
        let partition = *l.partitions.get(index).ok_or_else(|| index_error(index, l.partitions.len()))?;
        out_partition.write(eoslog_topic_partition { topic: l.topics[index].as_ptr(), partition });
        Ok(())
    })
}

/// Releases a topic/partition list; its strings become invalid. NULL is accepted and does
/// nothing. Returns `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live list.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_topic_partition_list_free(list: *mut eoslog_topic_partition_list) -> eoslog_result {
    result_boundary(|| free_handle(list, "list"))
}

/// Ends a `eoslog_consumer_poll` blocked on another thread (it returns what it has, possibly
/// nothing). Safe to call from any thread at any time.
///
/// Errors: `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_wakeup(consumer: *const eoslog_consumer) -> eoslog_result {
    result_boundary(|| {
        try_ref(consumer, "consumer")?.consumer.wakeup();
        Ok(())
    })
}

/// Records returned by one `eoslog_consumer_poll`, in order per partition.
///
/// Released by exactly one `eoslog_message_set_free`; independent of the consumer and the
/// engine. Thread-safety: immutable; any number of threads may read it at once.
pub struct eoslog_message_set {
    _private: [u8; 0],
}

pub(crate) struct MessageSet {
    records: Vec<ConsumerRecord>,
    /// One C string per distinct topic, indexed by `topic_of`.
    topics: Vec<CString>,
    topic_of: Vec<usize>,
}

impl_handle!(eoslog_message_set => MessageSet, b"eos:MSGS");

/// One consumed record (Kafka's `ConsumerRecord`) with the transaction coordinates of its
/// batch. Pointers belong to the message set and stay valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct eoslog_message {
    /// The topic, NUL-terminated.
    pub topic: *const c_char,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp (ms).
    pub timestamp: i64,
    /// `EOSLOG_TIMESTAMP_CREATE_TIME` or `EOSLOG_TIMESTAMP_LOG_APPEND_TIME`.
    pub timestamp_type: eoslog_timestamp_type,
    /// The key, or NULL for null.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The value, or NULL for null.
    pub value: *const u8,
    /// Length of `value`.
    pub value_len: usize,
    /// Number of headers (`eoslog_message_set_get_header`).
    pub headers_len: usize,
    /// Producer id of the record's batch, -1 if written without idempotence. With
    /// `producer_epoch` and `sequence` it identifies the record for a sink that deduplicates.
    pub producer_id: i64,
    /// Producer epoch of the batch, -1 without idempotence.
    pub producer_epoch: i16,
    /// The record's sequence number, -1 without idempotence.
    pub sequence: i32,
    /// Whether the record was written in a (committed) transaction.
    pub is_transactional: bool,
}

/// Returns up to `max.poll.records` records from the assigned partitions, waiting up to
/// `timeout_ms` milliseconds for some to become readable, in a new message set that
/// `*out_messages` receives (the caller owns it; it may be empty). The isolation level is the
/// consumer's `isolation.level`: under read_committed only committed transactions' records
/// are returned, never aborted ones or markers.
///
/// Errors: `EOSLOG_RESULT_OFFSET_OUT_OF_RANGE` (invalid position and
/// `auto.offset.reset=none`), `EOSLOG_RESULT_KAFKA_STORAGE_ERROR`, `EOSLOG_RESULT_CLOSED`,
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_consumer_poll(
    consumer: *const eoslog_consumer,
    timeout_ms: u32,
    out_messages: *mut *mut eoslog_message_set,
) -> eoslog_result {
    result_boundary(|| {
        let c = live(consumer)?;
        let out_messages = out(out_messages, "out_messages")?;
        let records = c.poll(Duration::from_millis(u64::from(timeout_ms)))?;
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut topics = Vec::new();
        let mut topic_of = Vec::with_capacity(records.len());
        for r in &records {
            let i = *index.entry(r.topic.as_str()).or_insert_with(|| {
                topics.push(to_cstring(&r.topic));
                topics.len() - 1
            });
            topic_of.push(i);
        }
        drop(index);
        out_messages.write(new_handle::<eoslog_message_set>(MessageSet { records, topics, topic_of }));
        Ok(())
    })
}

/// Number of messages in the set; 0 for NULL or an invalid handle (the last error says which).
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_len(messages: *const eoslog_message_set) -> usize {
    value_boundary(|| match try_ref(messages, "messages") {
        Ok(m) => m.records.len(),
        Err(e) => {
            set_last_error(e);
            0
        }
    })
}

fn message_at(m: &MessageSet, index: usize) -> FfiResult<&ConsumerRecord> {
    m.records.get(index).ok_or_else(|| index_error(index, m.records.len()))
}

/// Writes message number `index` to `*out_message`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_get(
    messages: *const eoslog_message_set,
    index: usize,
    out_message: *mut eoslog_message,
) -> eoslog_result {
    result_boundary(|| {
        let m = try_ref(messages, "messages")?;
        let out_message = out(out_message, "out_message")?;
        let r = message_at(m, index)?;
        let (key, key_len) = opt_slice_parts(r.key.as_deref());
        let (value, value_len) = opt_slice_parts(r.value.as_deref());
        out_message.write(eoslog_message {
            topic: m.topics[m.topic_of[index]].as_ptr(),
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: timestamp_type_code(r.timestamp_type),
            key,
            key_len,
            value,
            value_len,
            headers_len: r.headers.len(),
            producer_id: r.producer_id,
            producer_epoch: r.producer_epoch,
            sequence: r.sequence,
            is_transactional: r.is_transactional,
        });
        Ok(())
    })
}

/// Writes header `header_index` of message `index` to `*out_header`.
///
/// Errors: `EOSLOG_RESULT_INVALID_ARGUMENT` (an index out of range),
/// `EOSLOG_RESULT_NULL_PARAMETER`, `EOSLOG_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_get_header(
    messages: *const eoslog_message_set,
    index: usize,
    header_index: usize,
    out_header: *mut eoslog_header,
) -> eoslog_result {
    result_boundary(|| {
        let m = try_ref(messages, "messages")?;
        let out_header = out(out_header, "out_header")?;
        let r = message_at(m, index)?;
        let (k, v) = r.headers.get(header_index).ok_or_else(|| index_error(header_index, r.headers.len()))?;
        out_header.write(header_out(k, v.as_deref()));
        Ok(())
    })
}

/// Releases a message set; its pointers become invalid. NULL is accepted and does nothing.
/// Returns `EOSLOG_RESULT_INVALID_HANDLE` for a pointer that is not a live message set.
#[unsafe(no_mangle)]
pub extern "C" fn eoslog_message_set_free(messages: *mut eoslog_message_set) -> eoslog_result {
    result_boundary(|| free_handle(messages, "messages"))
}
