//! Model-based property test of a partition's exactly-once behaviour (proptest state machine).
//!
//! The reference model is small and independent of the engine: the list of batches in the log
//! (data and markers, with their offsets), the `.txnindex` entries Kafka's rule gives, and for
//! each of three producers what its client believes (epoch, coordinator epoch). The producer
//! state the log must hold (epoch, last sequence, open transaction, coordinator epoch) is
//! derived from the model's log; the outcome of every append (accepted at which offsets, a
//! duplicate answered with which offsets, or which Kafka error) is predicted with Kafka's rules
//! from that state. The producers are:
//!
//! - `P0` (pid 1000): idempotent, with epoch bumps;
//! - `P1` (pid 2000): transactional with the classic protocol (markers carry the transaction's
//!   epoch, sequences carry on across transactions), sometimes also writing plain idempotent
//!   data (refused inside a transaction);
//! - `P2` (pid 3000): transactional with transaction version 2 (each marker carries epoch + 1,
//!   the next transaction starts at sequence 0).
//!
//! Transitions: appends, retries of the last 1–8 batches (a retry within the dedup window is a
//! duplicate answered with the original offsets, an older one is OUT_OF_ORDER_SEQUENCE_NUMBER),
//! out-of-order batches, zombie batches with an old epoch, epoch bumps (an open transaction is
//! aborted first, as the coordinator fences it), COMMIT/ABORT markers (TV1 and TV2, sometimes
//! from a new coordinator), markers from a stale coordinator, TV2 marker retries, reads at both
//! isolation levels through the committed filter, forced rolls, `truncate_to`, clean reopen,
//! and crash + reopen (a copy of the running engine's files, what SIGKILL leaves with
//! `durability=none`, opened uncleanly).
//!
//! After every step: LSO ≤ HW ≤ LEO and each equals the model's, the first unstable offset, the
//! open transactions, the `.txnindex` entries and every producer's state match the model.
//!
//! The dedup window after a reopen is only partly known: a clean reopen keeps exactly each
//! producer's last batch (Kafka's snapshot format), a crash or truncation keeps at least that
//! one and up to five (the replay after the snapshot adds more). The model tracks the known and
//! the possible depth and turns a retry whose outcome would depend on the difference into a
//! no-op.

mod eos_support;

use std::collections::BTreeSet;

use eos_support::*;
use eoslog::segment::AbortedTxn;
use eoslog::{CommittedRecords, ErrorCode, IsolationLevel};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const PIDS: [i64; 3] = [1000, 2000, 3000];
/// Producer kinds, by index: idempotent, transactional TV1, transactional TV2.
const IDEMPOTENT: usize = 0;
const TV1: usize = 1;
const TV2: usize = 2;
/// Kafka's dedup window.
const WINDOW: usize = 5;

/// A data batch as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Spec {
    /// -1 for a plain batch.
    pid: i64,
    epoch: i16,
    seq: i32,
    n: usize,
    txn: bool,
    tag: String,
}

impl Spec {
    fn last_seq(&self) -> i32 {
        self.seq + self.n as i32 - 1
    }

    fn bytes(&self) -> Vec<u8> {
        records(self.pid, self.epoch, self.seq, self.txn, self.n, T0, &self.tag)
    }
}

#[derive(Clone, Debug)]
enum Entry {
    Data { spec: Spec, first_offset: i64 },
    Marker { pid: i64, epoch: i16, coordinator_epoch: i32, commit: bool, tv: u8, offset: i64 },
}

impl Entry {
    fn first_offset(&self) -> i64 {
        match self {
            Entry::Data { first_offset, .. } => *first_offset,
            Entry::Marker { offset, .. } => *offset,
        }
    }
}

/// The producer state the log must hold for one producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PState {
    epoch: i16,
    coordinator_epoch: i32,
    /// Last sequence of the newest batch at `epoch`, -1 if none.
    last_seq: i32,
    open: Option<i64>,
}

/// What an append must return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok { first: i64, last: i64 },
    Dup { first: i64, last: i64 },
    Err(i16),
}

/// What the system under test must do in this step.
#[derive(Clone, Debug)]
enum Op {
    Nothing,
    Data { spec: Spec, expect: Expect },
    Marker { pid: i64, epoch: i16, coordinator_epoch: i32, commit: bool, tv: u8, expect: Expect },
    Read { max_bytes: u32 },
    Truncate { offset: i64 },
    Roll,
    Reopen,
    Crash,
}

#[derive(Clone, Debug)]
enum Transition {
    Append { p: usize, txn: bool, n: usize },
    Plain { n: usize },
    Retry { p: usize, k: usize },
    OutOfOrder { p: usize, gap: i32 },
    Zombie { p: usize },
    EpochBump { p: usize },
    End { p: usize, commit: bool, new_coordinator: bool },
    StaleCoordinator { p: usize },
    RetryMarker,
    Read { max_bytes: u32 },
    Truncate { at: usize },
    Roll,
    Reopen,
    Crash,
}

#[derive(Clone, Debug, Default)]
struct Model {
    log: Vec<Entry>,
    leo: i64,
    client_epoch: [i16; 3],
    coordinator_epoch: [i32; 3],
    /// Dedup window depth per producer: (surely retained, possibly retained).
    depth: [(usize, usize); 3],
    txnindex: Vec<AbortedTxn>,
    plain_count: u32,
    op: Option<Op>,
}

impl Model {
    fn pstate(&self, pid: i64) -> Option<PState> {
        let mut st: Option<PState> = None;
        for e in &self.log {
            match e {
                Entry::Data { spec, first_offset } if spec.pid == pid => {
                    let s = st.get_or_insert(PState {
                        epoch: spec.epoch,
                        coordinator_epoch: -1,
                        last_seq: -1,
                        open: None,
                    });
                    if s.epoch != spec.epoch {
                        s.epoch = spec.epoch;
                    }
                    s.last_seq = spec.last_seq();
                    if spec.txn && s.open.is_none() {
                        s.open = Some(*first_offset);
                    }
                }
                Entry::Marker { pid: p, epoch, coordinator_epoch, .. } if *p == pid => {
                    let s = st.get_or_insert(PState {
                        epoch: *epoch,
                        coordinator_epoch: -1,
                        last_seq: -1,
                        open: None,
                    });
                    if s.epoch != *epoch {
                        s.epoch = *epoch;
                        s.last_seq = -1;
                    }
                    s.coordinator_epoch = *coordinator_epoch;
                    s.open = None;
                }
                _ => {}
            }
        }
        st
    }

    /// The producer's data batches at its current log epoch (the dedup window candidates).
    fn window_candidates(&self, pid: i64) -> Vec<(Spec, i64)> {
        let Some(st) = self.pstate(pid) else { return Vec::new() };
        // Epochs in the log never go down, so these are a suffix of the producer's batches.
        let mut out = Vec::new();
        for e in &self.log {
            if let Entry::Data { spec, first_offset } = e
                && spec.pid == pid
                && spec.epoch == st.epoch
            {
                out.push((spec.clone(), *first_offset));
            }
        }
        out
    }

    fn open_txns(&self) -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> =
            PIDS.iter().filter_map(|&pid| self.pstate(pid).and_then(|s| s.open).map(|f| (f, pid))).collect();
        v.sort();
        v.into_iter().map(|(f, pid)| (pid, f)).collect()
    }

    fn first_unstable(&self) -> Option<i64> {
        self.open_txns().iter().map(|t| t.1).min()
    }

    fn lso(&self) -> i64 {
        match self.first_unstable() {
            Some(f) if f < self.leo => f,
            _ => self.leo,
        }
    }

    /// Kafka's rules for a client data batch.
    fn expect_data(&self, spec: &Spec) -> Option<Expect> {
        if spec.pid < 0 {
            return Some(Expect::Ok { first: self.leo, last: self.leo + spec.n as i64 - 1 });
        }
        let p = PIDS.iter().position(|&x| x == spec.pid).unwrap();
        let st = self.pstate(spec.pid);
        if let Some(st) = st
            && st.epoch == spec.epoch
        {
            let cands = self.window_candidates(spec.pid);
            if let Some(pos) =
                cands.iter().rposition(|(s, _)| s.seq == spec.seq && s.last_seq() == spec.last_seq())
            {
                let k = cands.len() - pos;
                let (known, possible) = self.depth[p];
                if k <= known {
                    let (s, first) = &cands[pos];
                    return Some(Expect::Dup { first: *first, last: first + s.n as i64 - 1 });
                }
                if k <= possible {
                    return None; // may or may not still be in the window
                }
            }
        }
        if let Some(st) = st {
            if spec.epoch < st.epoch {
                return Some(Expect::Err(ErrorCode::InvalidProducerEpoch.code()));
            }
            let in_seq = if spec.epoch != st.epoch { spec.seq == 0 } else { spec.seq == st.last_seq + 1 };
            if !in_seq {
                return Some(Expect::Err(ErrorCode::OutOfOrderSequenceNumber.code()));
            }
            if st.open.is_some() && !spec.txn {
                return Some(Expect::Err(ErrorCode::InvalidTxnState.code()));
            }
        }
        Some(Expect::Ok { first: self.leo, last: self.leo + spec.n as i64 - 1 })
    }

    fn expect_marker(&self, pid: i64, epoch: i16, coordinator_epoch: i32, tv: u8) -> Expect {
        let st =
            self.pstate(pid).unwrap_or(PState { epoch: -1, coordinator_epoch: -1, last_seq: -1, open: None });
        let fenced = if tv >= 2 {
            epoch < st.epoch || (epoch == st.epoch && st.open.is_some())
        } else {
            epoch < st.epoch
        };
        if fenced {
            return Expect::Err(ErrorCode::InvalidProducerEpoch.code());
        }
        if coordinator_epoch < st.coordinator_epoch {
            return Expect::Err(ErrorCode::TransactionCoordinatorFenced.code());
        }
        Expect::Ok { first: self.leo, last: self.leo }
    }

    fn push_data(&mut self, spec: Spec) {
        let p = PIDS.iter().position(|&x| x == spec.pid);
        if let Some(p) = p {
            let epoch_changed = self.pstate(spec.pid).is_none_or(|s| s.epoch != spec.epoch);
            let (k, m) = self.depth[p];
            self.depth[p] = if epoch_changed { (1, 1) } else { ((k + 1).min(WINDOW), (m + 1).min(WINDOW)) };
        }
        let n = spec.n as i64;
        self.log.push(Entry::Data { spec, first_offset: self.leo });
        self.leo += n;
    }

    fn push_marker(&mut self, pid: i64, epoch: i16, coordinator_epoch: i32, commit: bool, tv: u8) {
        let p = PIDS.iter().position(|&x| x == pid).unwrap();
        let st = self.pstate(pid);
        if st.is_none_or(|s| s.epoch != epoch) {
            self.depth[p] = (0, 0);
        }
        if let Some(first) = st.and_then(|s| s.open)
            && !commit
        {
            let lso = self
                .open_txns()
                .iter()
                .filter(|(other, _)| *other != pid)
                .map(|t| t.1)
                .min()
                .unwrap_or(self.leo + 1);
            self.txnindex.push(AbortedTxn {
                producer_id: pid,
                first_offset: first,
                last_offset: self.leo,
                last_stable_offset: lso,
            });
        }
        self.log.push(Entry::Marker { pid, epoch, coordinator_epoch, commit, tv, offset: self.leo });
        self.leo += 1;
    }

    /// After a reopen, crash or truncation: the dedup window holds at least the last batch.
    fn forget_window(&mut self, possible_all: bool) {
        for (p, &pid) in PIDS.iter().enumerate() {
            let n = self.window_candidates(pid).len();
            self.depth[p] = (n.min(1), if possible_all { n.min(WINDOW) } else { n.min(1) });
        }
    }

    fn next_seq(&self, p: usize) -> i32 {
        match self.pstate(PIDS[p]) {
            Some(st) if st.epoch == self.client_epoch[p] => st.last_seq + 1,
            _ => 0,
        }
    }

    fn spec(&self, p: usize, epoch: i16, seq: i32, txn: bool, n: usize) -> Spec {
        Spec { pid: PIDS[p], epoch, seq, n, txn, tag: format!("p{p}e{epoch}s{seq}") }
    }

    fn data_op(&mut self, spec: Spec) -> Op {
        match self.expect_data(&spec) {
            None => Op::Nothing,
            Some(expect) => {
                if let Expect::Ok { .. } = expect {
                    self.push_data(spec.clone());
                }
                Op::Data { spec, expect }
            }
        }
    }

    fn marker_op(&mut self, p: usize, epoch: i16, coordinator_epoch: i32, commit: bool, tv: u8) -> Op {
        let pid = PIDS[p];
        let expect = self.expect_marker(pid, epoch, coordinator_epoch, tv);
        if let Expect::Ok { .. } = expect {
            self.push_marker(pid, epoch, coordinator_epoch, commit, tv);
        }
        Op::Marker { pid, epoch, coordinator_epoch, commit, tv, expect }
    }

    /// The committed records a read_committed consumer must see, and the aborted transactions
    /// the fetches must report.
    fn committed(&self) -> Consumed {
        let lso = self.lso();
        let mut out = Vec::new();
        for e in &self.log {
            if let Entry::Data { spec, first_offset } = e {
                if *first_offset >= lso {
                    break;
                }
                let aborted = spec.txn
                    && self.txnindex.iter().any(|t| {
                        t.producer_id == spec.pid
                            && t.first_offset <= *first_offset
                            && *first_offset <= t.last_offset
                    });
                if !aborted {
                    out.extend((0..spec.n).map(|i| (first_offset + i as i64, format!("{}-{i}", spec.tag))));
                }
            }
        }
        let aborted = self
            .txnindex
            .iter()
            .filter(|t| t.first_offset < lso)
            .map(|t| (t.producer_id, t.first_offset))
            .collect::<BTreeSet<_>>();
        (out, aborted)
    }

    fn uncommitted(&self) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        for e in &self.log {
            if let Entry::Data { spec, first_offset } = e {
                out.extend((0..spec.n).map(|i| (first_offset + i as i64, format!("{}-{i}", spec.tag))));
            }
        }
        out
    }
}

struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_state: &Model) -> BoxedStrategy<Transition> {
        let p = 0..3usize;
        prop_oneof![
            12 => (p.clone(), any::<bool>(), 1..=4usize).prop_map(|(p, txn, n)| Transition::Append { p, txn, n }),
            2 => (1..=3usize).prop_map(|n| Transition::Plain { n }),
            6 => (p.clone(), 1..=8usize).prop_map(|(p, k)| Transition::Retry { p, k }),
            2 => (p.clone(), 1..=3i32).prop_map(|(p, gap)| Transition::OutOfOrder { p, gap }),
            1 => p.clone().prop_map(|p| Transition::Zombie { p }),
            2 => p.clone().prop_map(|p| Transition::EpochBump { p }),
            6 => (1..=2usize, prop::bool::weighted(0.6), prop::bool::weighted(0.15))
                .prop_map(|(p, commit, new_coordinator)| Transition::End { p, commit, new_coordinator }),
            1 => (1..=2usize).prop_map(|p| Transition::StaleCoordinator { p }),
            1 => Just(Transition::RetryMarker),
            2 => prop::sample::select(vec![1u32, 250, 1 << 20]).prop_map(|max_bytes| Transition::Read { max_bytes }),
            1 => any::<usize>().prop_map(|at| Transition::Truncate { at }),
            1 => Just(Transition::Roll),
            1 => Just(Transition::Reopen),
            1 => Just(Transition::Crash),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        let op = match *t {
            Transition::Append { p, txn, n } => {
                let txn = match p {
                    IDEMPOTENT => false,
                    TV1 => txn,
                    _ => true,
                };
                let spec = m.spec(p, m.client_epoch[p], m.next_seq(p), txn, n);
                m.data_op(spec)
            }
            Transition::Plain { n } => {
                m.plain_count += 1;
                let spec = Spec {
                    pid: -1,
                    epoch: -1,
                    seq: -1,
                    n,
                    txn: false,
                    tag: format!("plain{}", m.plain_count),
                };
                m.data_op(spec)
            }
            Transition::Retry { p, k } => {
                let batches: Vec<Spec> = m
                    .log
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Data { spec, .. } if spec.pid == PIDS[p] => Some(spec.clone()),
                        _ => None,
                    })
                    .collect();
                // k-th from the tail (the oldest batch when there are fewer).
                let k = k.min(batches.len());
                if k == 0 { Op::Nothing } else { m.data_op(batches[batches.len() - k].clone()) }
            }
            Transition::OutOfOrder { p, gap } => {
                let txn =
                    p != IDEMPOTENT && (p == TV2 || m.pstate(PIDS[p]).is_some_and(|s| s.open.is_some()));
                let spec = m.spec(p, m.client_epoch[p], m.next_seq(p) + gap, txn, 1);
                m.data_op(spec)
            }
            Transition::Zombie { p } => match m.pstate(PIDS[p]) {
                Some(st) if st.epoch >= 1 => {
                    let spec = m.spec(p, st.epoch - 1, 0, p != IDEMPOTENT, 1);
                    m.data_op(spec)
                }
                _ => Op::Nothing,
            },
            Transition::EpochBump { p } => {
                let open = m.pstate(PIDS[p]).is_some_and(|s| s.open.is_some());
                if open {
                    // The coordinator fences the open transaction: ABORT with the bumped epoch.
                    let epoch = m.client_epoch[p] + 1;
                    let tv = if p == TV2 { 2 } else { 1 };
                    let op = m.marker_op(p, epoch, m.coordinator_epoch[p], false, tv);
                    m.client_epoch[p] = epoch;
                    op
                } else {
                    m.client_epoch[p] += 1;
                    Op::Nothing
                }
            }
            Transition::End { p, commit, new_coordinator } => {
                if new_coordinator {
                    m.coordinator_epoch[p] += 1;
                }
                let (epoch, tv) = if p == TV2 { (m.client_epoch[p] + 1, 2) } else { (m.client_epoch[p], 1) };
                let op = m.marker_op(p, epoch, m.coordinator_epoch[p], commit, tv);
                if p == TV2 && matches!(op, Op::Marker { expect: Expect::Ok { .. }, .. }) {
                    m.client_epoch[p] = epoch;
                }
                op
            }
            Transition::StaleCoordinator { p } => match m.pstate(PIDS[p]) {
                Some(st) if st.coordinator_epoch >= 1 => {
                    let (epoch, tv) =
                        if p == TV2 { (m.client_epoch[p] + 1, 2) } else { (m.client_epoch[p], 1) };
                    m.marker_op(p, epoch, st.coordinator_epoch - 1, false, tv)
                }
                _ => Op::Nothing,
            },
            Transition::RetryMarker => {
                let last = m.log.iter().rev().find_map(|e| match e {
                    Entry::Marker { pid, epoch, coordinator_epoch, commit, tv: 2, .. }
                        if *pid == PIDS[TV2] =>
                    {
                        Some((*epoch, *coordinator_epoch, *commit))
                    }
                    _ => None,
                });
                match last {
                    Some((epoch, coordinator_epoch, commit)) => {
                        m.marker_op(TV2, epoch, coordinator_epoch, commit, 2)
                    }
                    None => Op::Nothing,
                }
            }
            Transition::Read { max_bytes } => Op::Read { max_bytes },
            Transition::Truncate { at } => {
                if m.log.is_empty() {
                    Op::Nothing
                } else {
                    let offset = m.log[at % m.log.len()].first_offset();
                    m.log.retain(|e| e.first_offset() < offset);
                    m.leo = offset;
                    m.txnindex.retain(|t| t.last_offset < offset);
                    m.forget_window(true);
                    Op::Truncate { offset }
                }
            }
            Transition::Roll => Op::Roll,
            Transition::Reopen => {
                m.forget_window(false);
                Op::Reopen
            }
            Transition::Crash => {
                m.forget_window(true);
                Op::Crash
            }
        };
        m.op = Some(op);
        m
    }
}

fn check_append(what: &str, got: eoslog::Result<eoslog::AppendInfo>, expect: Expect) {
    match (got, expect) {
        (Ok(info), Expect::Ok { first, last }) => {
            assert!(!info.duplicate, "{what}: unexpected duplicate");
            assert_eq!((info.first_offset, info.last_offset), (first, last), "{what}");
        }
        (Ok(info), Expect::Dup { first, last }) => {
            assert!(info.duplicate, "{what}: expected a duplicate, got {info:?}");
            assert_eq!((info.first_offset, info.last_offset), (first, last), "{what}");
        }
        (Err(e), Expect::Err(code)) => assert_eq!(e.code().code(), code, "{what}: {e}"),
        (got, expect) => panic!("{what}: expected {expect:?}, got {got:?}"),
    }
}

fn model_opts() -> Opts {
    Opts::default()
        .memory_fs()
        .topic("segment.bytes", "600")
        .topic("index.interval.bytes", "128")
        .topic("segment.index.bytes", "1024")
}

impl StateMachineTest for ModelMachine {
    type SystemUnderTest = Setup;
    type Reference = ModelMachine;

    fn init_test(_: &Model) -> Setup {
        Setup::new(model_opts())
    }

    fn apply(mut s: Setup, m: &Model, _: Transition) -> Setup {
        match m.op.as_ref().expect("apply sets the op") {
            Op::Nothing => {}
            Op::Data { spec, expect } => {
                check_append(&format!("{spec:?}"), s.log.append(&spec.bytes()), *expect)
            }
            Op::Marker { pid, epoch, coordinator_epoch, commit, tv, expect } => {
                let got = s.log.append_marker(*pid, *epoch, *coordinator_epoch, *commit, *tv);
                check_append(
                    &format!("marker pid {pid} epoch {epoch} coordinator {coordinator_epoch} tv {tv}"),
                    got,
                    *expect,
                )
            }
            Op::Read { max_bytes } => {
                assert_eq!(
                    consume_committed(&s.log, *max_bytes),
                    m.committed(),
                    "read_committed, max {max_bytes}"
                );
                let mut offset = 0;
                let mut seen = Vec::new();
                loop {
                    let data = s.log.read(offset, *max_bytes, IsolationLevel::ReadUncommitted).unwrap();
                    if data.records.is_empty() {
                        break;
                    }
                    let c = CommittedRecords::from_fetch(&data, offset).unwrap();
                    seen.extend(
                        c.records
                            .into_iter()
                            .map(|r| (r.offset, String::from_utf8(r.value.unwrap()).unwrap())),
                    );
                    offset = c.next_offset;
                }
                assert_eq!(offset, m.leo);
                assert_eq!(seen, m.uncommitted(), "read_uncommitted, max {max_bytes}");
            }
            Op::Truncate { offset } => s.log.truncate_to(*offset).unwrap(),
            Op::Roll => s.log.force_roll().unwrap(),
            Op::Reopen => s.reopen(),
            Op::Crash => s.crash_and_reopen(),
        }
        s
    }

    fn check_invariants(s: &Setup, m: &Model) {
        let log = &s.log;
        let (leo, hw, lso) = (log.log_end_offset(), log.high_watermark(), log.last_stable_offset());
        assert!(lso <= hw && hw <= leo, "LSO {lso} ≤ HW {hw} ≤ LEO {leo}");
        assert_eq!((leo, hw, lso), (m.leo, m.leo, m.lso()), "offsets (LEO, HW, LSO)");
        assert_eq!(log.first_unstable_offset(), m.first_unstable(), "first unstable offset");
        let ongoing: Vec<(i64, i64)> =
            log.ongoing_transactions().iter().map(|t| (t.producer_id, t.first_offset)).collect();
        assert_eq!(ongoing, m.open_txns(), "open transactions");
        assert_eq!(txnindex_entries(&s.part_dir()), m.txnindex, ".txnindex entries");
        for pid in PIDS {
            let got = log.producer_state(pid).map(|e| PState {
                epoch: e.producer_epoch(),
                coordinator_epoch: e.coordinator_epoch(),
                last_seq: e.last_seq(),
                open: e.current_txn_first_offset(),
            });
            assert_eq!(got, m.pstate(pid), "producer {pid}");
        }
    }
}

/// `PROPTEST_CASES`, else 2000 cases on a memory file system and 250 on disk (where the
/// fsyncs of opening, rolling and closing an engine cost ~0.2 s per case).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(if memory_fs_available() {
        2000
    } else {
        250
    })
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: cases(),
        max_shrink_iters: 4096,
        ..Config::default()
    })]

    #[test]
    fn partition_matches_the_exactly_once_model(sequential 1..40 => ModelMachine);
}
