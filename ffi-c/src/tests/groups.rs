//! Consumer groups through the ABI: `eoslog_consumer_subscribe` with C rebalance callbacks,
//! the assignment, group metadata as a handle and KIP-447 generation fencing of a zombie's
//! transactional offsets, and bad input.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::consumer::*;
use crate::engine::*;
use crate::producer::*;
use crate::result::eoslog_result;

const OK: eoslog_result = eoslog_result::Ok;
/// A hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn open_engine(dir: &std::path::Path) -> *mut eoslog_engine {
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let config = [
        eoslog_config_pair { key: c"durability".as_ptr(), value: c"none".as_ptr() },
        // Groups start at once instead of waiting 3 s for more members.
        eoslog_config_pair { key: c"group.initial.rebalance.delay.ms".as_ptr(), value: c"0".as_ptr() },
    ];
    let mut engine = ptr::null_mut();
    assert_eq!(eoslog_engine_open(path.as_ptr(), config.as_ptr(), config.len(), &mut engine), OK);
    engine
}

fn new_consumer(engine: *const eoslog_engine, group: Option<&CStr>) -> *mut eoslog_consumer {
    let mut config =
        vec![eoslog_config_pair { key: c"auto.offset.reset".as_ptr(), value: c"earliest".as_ptr() }];
    if let Some(g) = group {
        config.push(eoslog_config_pair { key: c"group.id".as_ptr(), value: g.as_ptr() });
    }
    let mut c = ptr::null_mut();
    assert_eq!(eoslog_consumer_new(engine, config.as_ptr(), config.len(), &mut c), OK);
    c
}

/// What one consumer's callbacks saw: the partitions it owns and every call.
#[derive(Default)]
struct Recorder {
    owned: BTreeSet<(String, i32)>,
    calls: Vec<(&'static str, Vec<(String, i32)>)>,
    /// Results of calls made from inside the callbacks.
    inner_results: Vec<(&'static str, eoslog_result)>,
}

fn partitions_of(list: *const eoslog_topic_partition, len: usize) -> Vec<(String, i32)> {
    if len == 0 {
        assert!(list.is_null(), "an empty list is NULL");
        return Vec::new();
    }
    // SAFETY: the ABI passes `len` valid entries, alive during the callback.
    let list = unsafe { std::slice::from_raw_parts(list, len) };
    list.iter()
        .map(|tp| {
            // SAFETY: the topic is a NUL-terminated string alive during the callback.
            let topic = unsafe { CStr::from_ptr(tp.topic) }.to_str().unwrap().to_string();
            (topic, tp.partition)
        })
        .collect()
}

fn recorder<'a>(userdata: *mut c_void) -> std::sync::MutexGuard<'a, Recorder> {
    // SAFETY: every test passes a `Mutex<Recorder>` that outlives the consumer.
    unsafe { &*userdata.cast::<Mutex<Recorder>>() }.lock().unwrap()
}

extern "C" fn on_revoked(
    userdata: *mut c_void,
    consumer: *const eoslog_consumer,
    list: *const eoslog_topic_partition,
    len: usize,
) {
    let parts = partitions_of(list, len);
    // The consumer still has them, and may be used from the callback.
    let mut assignment = ptr::null_mut();
    assert_eq!(eoslog_consumer_assignment(consumer, &mut assignment), OK);
    assert!(eoslog_topic_partition_list_len(assignment) >= parts.len());
    assert_eq!(eoslog_topic_partition_list_free(assignment), OK);
    let mut r = recorder(userdata);
    for p in &parts {
        assert!(r.owned.remove(p), "revoked {p:?} it did not own");
    }
    r.calls.push(("revoked", parts));
}

extern "C" fn on_assigned(
    userdata: *mut c_void,
    consumer: *const eoslog_consumer,
    list: *const eoslog_topic_partition,
    len: usize,
) {
    let parts = partitions_of(list, len);
    // Calls that need the group (and freeing the consumer) are refused from a callback.
    let mut messages = ptr::null_mut();
    let poll = eoslog_consumer_poll(consumer, 0, &mut messages);
    let free = eoslog_consumer_free(consumer.cast_mut());
    let unsubscribe = eoslog_consumer_unsubscribe(consumer);
    let mut r = recorder(userdata);
    r.inner_results.extend([("poll", poll), ("free", free), ("unsubscribe", unsubscribe)]);
    for p in &parts {
        assert!(r.owned.insert(p.clone()), "assigned {p:?} twice");
    }
    r.calls.push(("assigned", parts));
}

extern "C" fn on_lost(
    userdata: *mut c_void,
    _consumer: *const eoslog_consumer,
    list: *const eoslog_topic_partition,
    len: usize,
) {
    let parts = partitions_of(list, len);
    let mut r = recorder(userdata);
    for p in &parts {
        r.owned.remove(p);
    }
    r.calls.push(("lost", parts));
}

fn callbacks(rec: &Mutex<Recorder>) -> eoslog_rebalance_callbacks {
    eoslog_rebalance_callbacks {
        on_partitions_revoked: Some(on_revoked),
        on_partitions_assigned: Some(on_assigned),
        on_partitions_lost: Some(on_lost),
        userdata: ptr::from_ref(rec).cast_mut().cast(),
    }
}

fn subscribe(c: *const eoslog_consumer, topic: &CStr, cb: Option<&eoslog_rebalance_callbacks>) {
    let topics = [topic.as_ptr()];
    let cb = cb.map_or(ptr::null(), ptr::from_ref);
    assert_eq!(eoslog_consumer_subscribe(c, topics.as_ptr(), 1, cb), OK);
}

fn poll(c: *const eoslog_consumer, timeout_ms: u32) {
    let mut m = ptr::null_mut();
    assert_eq!(eoslog_consumer_poll(c, timeout_ms, &mut m), OK);
    assert_eq!(eoslog_message_set_free(m), OK);
}

fn assignment(c: *const eoslog_consumer) -> BTreeSet<(String, i32)> {
    let mut list = ptr::null_mut();
    assert_eq!(eoslog_consumer_assignment(c, &mut list), OK);
    let mut out = BTreeSet::new();
    for i in 0..eoslog_topic_partition_list_len(list) {
        let mut tp = std::mem::MaybeUninit::<eoslog_topic_partition>::uninit();
        assert_eq!(eoslog_topic_partition_list_get(list, i, tp.as_mut_ptr()), OK);
        // SAFETY: written by the successful call; the topic belongs to the live list.
        let tp = unsafe { tp.assume_init() };
        // SAFETY: as above.
        let topic = unsafe { CStr::from_ptr(tp.topic) }.to_str().unwrap().to_string();
        out.insert((topic, tp.partition));
    }
    assert_eq!(eoslog_topic_partition_list_free(list), OK);
    out
}

fn all(topic: &str, n: i32) -> BTreeSet<(String, i32)> {
    (0..n).map(|p| (topic.to_string(), p)).collect()
}

/// Polls every consumer in turn (one thread: a join parked by one poll is completed by the
/// next) until `done`.
fn poll_until(consumers: &[*mut eoslog_consumer], what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        for c in consumers {
            poll(*c, 20);
        }
    }
}

fn generation(g: *const eoslog_group_metadata) -> (i32, String) {
    let mut info = std::mem::MaybeUninit::<eoslog_group_metadata_info>::uninit();
    assert_eq!(eoslog_group_metadata_get_info(g, info.as_mut_ptr()), OK);
    // SAFETY: written by the successful call; the member id belongs to the live handle.
    let info = unsafe { info.assume_init() };
    // SAFETY: as above.
    let member = unsafe { CStr::from_ptr(info.member_id) }.to_str().unwrap().to_string();
    (info.generation_id, member)
}

#[test]
fn two_members_share_a_topics_partitions_through_their_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(dir.path());
    assert_eq!(eoslog_engine_create_topic(engine, c"in".as_ptr(), 4, ptr::null(), 0), OK);
    let (ra, rb) = (Mutex::new(Recorder::default()), Mutex::new(Recorder::default()));
    let a = new_consumer(engine, Some(c"g"));
    let b = new_consumer(engine, Some(c"g"));
    subscribe(a, c"in", Some(&callbacks(&ra)));
    subscribe(b, c"in", Some(&callbacks(&rb)));
    assert!(assignment(a).is_empty(), "nothing is assigned before the first poll");

    poll_until(&[a, b], "both members own partitions", || {
        let (oa, ob) = (&ra.lock().unwrap().owned, &rb.lock().unwrap().owned);
        !oa.is_empty() && !ob.is_empty() && oa.len() + ob.len() == 4
    });
    let (oa, ob) = (ra.lock().unwrap().owned.clone(), rb.lock().unwrap().owned.clone());
    assert!(oa.is_disjoint(&ob));
    assert_eq!(oa.union(&ob).cloned().collect::<BTreeSet<_>>(), all("in", 4), "the union is every partition");
    assert_eq!(assignment(a), oa, "the callbacks agree with the assignment");
    assert_eq!(assignment(b), ob);
    for r in [&ra, &rb] {
        let r = r.lock().unwrap();
        assert!(r.calls.iter().any(|(k, p)| *k == "assigned" && !p.is_empty()));
        for (call, rc) in &r.inner_results {
            assert_eq!(*rc, eoslog_result::InvalidRequest, "{call} from a callback");
        }
    }

    // B is freed while subscribed: its partitions are revoked inside the free, through the
    // callback, with the handle still usable there; A gets them all.
    assert_eq!(eoslog_consumer_free(b), OK);
    assert!(rb.lock().unwrap().owned.is_empty(), "free revoked B's partitions through the callback");
    assert!(rb.lock().unwrap().calls.iter().any(|(k, p)| *k == "revoked" && p.len() == ob.len()));
    poll_until(&[a], "A owns everything", || ra.lock().unwrap().owned == all("in", 4));

    // Unsubscribing revokes too; afterwards the consumer may be assigned by hand.
    assert_eq!(eoslog_consumer_unsubscribe(a), OK);
    assert!(ra.lock().unwrap().owned.is_empty() && assignment(a).is_empty());
    let tp = eoslog_topic_partition { topic: c"in".as_ptr(), partition: 0 };
    assert_eq!(eoslog_consumer_assign(a, &tp, 1), OK);
    assert_eq!(assignment(a), [("in".to_string(), 0)].into());
    assert_eq!(eoslog_consumer_free(a), OK);
    assert_eq!(eoslog_engine_close(engine), OK);
    assert_eq!(eoslog_engine_free(engine), OK);
}

#[test]
fn a_zombies_group_metadata_cannot_commit_a_transactions_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(dir.path());
    assert_eq!(eoslog_engine_create_topic(engine, c"in".as_ptr(), 4, ptr::null(), 0), OK);
    let a = new_consumer(engine, Some(c"copier"));
    let b = new_consumer(engine, Some(c"copier"));
    // No callbacks at all is fine.
    subscribe(a, c"in", None);
    poll_until(&[a], "A owns everything", || assignment(a) == all("in", 4));
    let mut stale = ptr::null_mut();
    assert_eq!(eoslog_consumer_group_metadata(a, &mut stale), OK);
    let (stale_generation, member) = generation(stale);
    assert!(stale_generation >= 1 && !member.is_empty());

    // B joins: a rebalance moves partitions to it, and A's generation moves on.
    subscribe(
        b,
        c"in",
        Some(&eoslog_rebalance_callbacks {
            on_partitions_revoked: None,
            on_partitions_assigned: None,
            on_partitions_lost: None,
            userdata: ptr::null_mut(),
        }),
    );
    poll_until(&[a, b], "both members own partitions", || {
        let (oa, ob) = (assignment(a), assignment(b));
        !oa.is_empty() && !ob.is_empty() && oa.len() + ob.len() == 4
    });
    let mut fresh = ptr::null_mut();
    assert_eq!(eoslog_consumer_group_metadata(a, &mut fresh), OK);
    assert!(generation(fresh).0 > stale_generation);
    assert_eq!(generation(stale).0, stale_generation, "a snapshot does not follow the consumer");

    let mut producer = ptr::null_mut();
    let config = [eoslog_config_pair { key: c"transactional.id".as_ptr(), value: c"copier-a".as_ptr() }];
    assert_eq!(eoslog_producer_new(engine, config.as_ptr(), 1, &mut producer), OK);
    assert_eq!(eoslog_producer_init_transactions(producer), OK);
    let offsets = [eoslog_topic_partition_offset {
        topic: c"in".as_ptr(),
        partition: 0,
        offset: 0,
        metadata: ptr::null(),
    }];
    // The zombie's offsets (the metadata from before the rebalance) are refused ...
    assert_eq!(eoslog_producer_begin_transaction(producer), OK);
    let rc = eoslog_producer_send_offsets_to_transaction(producer, offsets.as_ptr(), 1, stale);
    assert!(
        matches!(rc, eoslog_result::IllegalGeneration | eoslog_result::UnknownMemberId),
        "the zombie's offsets: {rc:?}"
    );
    assert_eq!(eoslog_producer_commit_transaction(producer), eoslog_result::TransactionAbortable);
    assert_eq!(eoslog_producer_abort_transaction(producer), OK);
    // ... the current member's are accepted, in the next transaction of the same producer.
    assert_eq!(eoslog_producer_begin_transaction(producer), OK);
    assert_eq!(eoslog_producer_send_offsets_to_transaction(producer, offsets.as_ptr(), 1, fresh), OK);
    assert_eq!(eoslog_producer_commit_transaction(producer), OK);
    // Group-id-only metadata (not fenced by generation) has generation -1.
    let mut simple = ptr::null_mut();
    assert_eq!(eoslog_group_metadata_new(c"copier".as_ptr(), &mut simple), OK);
    assert_eq!(generation(simple).0, -1);

    for g in [stale, fresh, simple] {
        assert_eq!(eoslog_group_metadata_free(g), OK);
    }
    assert_eq!(eoslog_producer_free(producer), OK);
    assert_eq!(eoslog_consumer_free(a), OK);
    assert_eq!(eoslog_consumer_free(b), OK);
    assert_eq!(eoslog_engine_close(engine), OK);
    assert_eq!(eoslog_engine_free(engine), OK);
}

#[test]
fn subscribe_checks_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open_engine(dir.path());
    assert_eq!(eoslog_engine_create_topic(engine, c"in".as_ptr(), 2, ptr::null(), 0), OK);
    let c = new_consumer(engine, Some(c"g"));
    let good = [c"in".as_ptr()];
    let null_topic: [*const c_char; 2] = [c"in".as_ptr(), ptr::null()];
    let illegal = [c"no spaces".as_ptr()];
    let sub =
        |topics: *const *const c_char, len: usize| eoslog_consumer_subscribe(c, topics, len, ptr::null());

    assert_eq!(
        eoslog_consumer_subscribe(ptr::null(), good.as_ptr(), 1, ptr::null()),
        eoslog_result::NullParameter
    );
    assert_eq!(sub(ptr::null(), 1), eoslog_result::NullParameter);
    assert_eq!(sub(ptr::null(), 0), eoslog_result::InvalidArgument, "an empty topic list");
    assert_eq!(sub(good.as_ptr(), 0), eoslog_result::InvalidArgument);
    assert_eq!(sub(null_topic.as_ptr(), 2), eoslog_result::NullParameter);
    assert_eq!(sub(illegal.as_ptr(), 1), eoslog_result::InvalidTopicException);
    assert_eq!(sub(good.as_ptr(), usize::MAX), eoslog_result::LengthTooLarge);
    assert!(assignment(c).is_empty());
    // Nothing was subscribed: manual assignment still works, and then excludes subscribe.
    let tp = eoslog_topic_partition { topic: c"in".as_ptr(), partition: 0 };
    assert_eq!(eoslog_consumer_assign(c, &tp, 1), OK);
    assert_eq!(sub(good.as_ptr(), 1), eoslog_result::InvalidRequest);
    assert_eq!(eoslog_consumer_unsubscribe(c), OK);
    assert_eq!(sub(good.as_ptr(), 1), OK);
    assert_eq!(eoslog_consumer_assign(c, &tp, 1), eoslog_result::InvalidRequest);

    // Without group.id there is no group to join.
    let lone = new_consumer(engine, None);
    assert_eq!(eoslog_consumer_subscribe(lone, good.as_ptr(), 1, ptr::null()), eoslog_result::InvalidGroupId);
    let mut g = ptr::null_mut();
    assert_eq!(eoslog_consumer_group_metadata(lone, &mut g), eoslog_result::InvalidGroupId);
    assert!(g.is_null(), "outputs are written only on success");

    assert_eq!(eoslog_consumer_unsubscribe(ptr::null()), eoslog_result::NullParameter);
    assert_eq!(eoslog_consumer_assignment(c, ptr::null_mut()), eoslog_result::NullParameter);
    let mut list = ptr::null_mut();
    assert_eq!(eoslog_consumer_assignment(ptr::null(), &mut list), eoslog_result::NullParameter);
    assert_eq!(eoslog_consumer_assignment(c, &mut list), OK);
    let mut tp_out = std::mem::MaybeUninit::<eoslog_topic_partition>::uninit();
    assert_eq!(eoslog_topic_partition_list_get(list, 0, tp_out.as_mut_ptr()), eoslog_result::InvalidArgument);
    assert_eq!(eoslog_topic_partition_list_get(list, 0, ptr::null_mut()), eoslog_result::NullParameter);
    assert_eq!(eoslog_topic_partition_list_len(ptr::null()), 0);
    assert_eq!(eoslog_topic_partition_list_free(list), OK);
    assert_eq!(eoslog_topic_partition_list_free(list), eoslog_result::InvalidHandle);
    assert_eq!(eoslog_topic_partition_list_free(ptr::null_mut()), OK);
    // A consumer is not a list.
    assert_eq!(eoslog_topic_partition_list_len(c.cast_const().cast()), 0);

    assert_eq!(eoslog_consumer_free(lone), OK);
    assert_eq!(eoslog_consumer_free(c), OK);
    assert_eq!(eoslog_consumer_free(c), eoslog_result::InvalidHandle);
    assert_eq!(eoslog_engine_close(engine), OK);
    assert_eq!(eoslog_engine_free(engine), OK);
}
