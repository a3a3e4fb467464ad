//! Property test: the producer state against a small, independently written model of Kafka's
//! rules, for random appends, retries, epoch bumps, transactions, markers (TV1 and TV2),
//! snapshot reloads and expiry from three producers.
//!
//! The model keeps every batch of the current epoch in a plain `Vec` and states each rule in the
//! order Kafka applies them; it shares no code with the implementation.

use proptest::prelude::*;

use super::*;

const PRODUCERS: usize = 3;
const MAX: i64 = i32::MAX as i64;

#[derive(Debug, Clone, Copy)]
enum EpochChoice {
    Same,
    Bump,
    Older,
}

#[derive(Debug, Clone, Copy)]
enum SeqChoice {
    Next,
    /// Resend the k-th most recent batch of the epoch (0 = the last one).
    Retry(usize),
    /// The k-th most recent batch's first sequence with one more record.
    Overlap(usize),
    Gap,
    Zero,
    NearMax,
}

#[derive(Debug, Clone, Copy)]
enum CoordChoice {
    Same,
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Data { p: usize, epoch: EpochChoice, seq: SeqChoice, count: i32, txn: bool },
    Marker { p: usize, epoch: EpochChoice, commit: bool, coord: CoordChoice, tv2: bool },
    Reload,
    ExpireIdle,
}

fn epoch_choice() -> impl Strategy<Value = EpochChoice> {
    prop_oneof![8 => Just(EpochChoice::Same), 2 => Just(EpochChoice::Bump), 1 => Just(EpochChoice::Older)]
}

fn op() -> impl Strategy<Value = Op> {
    let seq = prop_oneof![
        10 => Just(SeqChoice::Next),
        4 => (0usize..7).prop_map(SeqChoice::Retry),
        1 => (0usize..3).prop_map(SeqChoice::Overlap),
        1 => Just(SeqChoice::Gap),
        1 => Just(SeqChoice::Zero),
        1 => Just(SeqChoice::NearMax),
    ];
    let coord = prop_oneof![6 => Just(CoordChoice::Same), 1 => Just(CoordChoice::Higher), 1 => Just(CoordChoice::Lower)];
    prop_oneof![
        12 => (0..PRODUCERS, epoch_choice(), seq, 1i32..4, any::<bool>())
            .prop_map(|(p, epoch, seq, count, txn)| Op::Data { p, epoch, seq, count, txn }),
        4 => (0..PRODUCERS, epoch_choice(), any::<bool>(), coord, any::<bool>())
            .prop_map(|(p, epoch, commit, coord, tv2)| Op::Marker { p, epoch, commit, coord, tv2 }),
        1 => Just(Op::Reload),
        1 => Just(Op::ExpireIdle),
    ]
}

#[derive(Debug, Clone, Copy)]
struct ModelBatch {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    last_offset: i64,
    ts: i64,
}

#[derive(Debug, Clone)]
struct ModelProducer {
    epoch: i16,
    coord: i32,
    /// Every batch since the last epoch change, oldest first.
    batches: Vec<ModelBatch>,
    txn_first: Option<i64>,
    last_ts: i64,
}

#[derive(Debug, Default)]
struct Model {
    producers: [Option<ModelProducer>; PRODUCERS],
    leo: i64,
}

fn wrap_add(seq: i32, n: i64) -> i32 {
    i32::try_from((i64::from(seq) + n) % (MAX + 1)).unwrap()
}

impl Model {
    fn expected_next(p: &ModelProducer) -> i32 {
        p.batches.last().map_or(0, |b| wrap_add(b.last_seq, 1))
    }

    fn judge_data(
        &self,
        p: usize,
        epoch: i16,
        first: i32,
        last: i32,
        txn: bool,
    ) -> Result<Option<ModelBatch>, ErrorCode> {
        let Some(s) = &self.producers[p] else { return Ok(None) };
        if epoch == s.epoch {
            let recent = s.batches.iter().rev().take(5);
            if let Some(b) = recent.into_iter().find(|b| b.first_seq == first && b.last_seq == last) {
                return Ok(Some(*b));
            }
        }
        if epoch < s.epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        let in_order = if epoch != s.epoch { first == 0 } else { first == Self::expected_next(s) };
        if !in_order {
            return Err(ErrorCode::OutOfOrderSequenceNumber);
        }
        if s.txn_first.is_some() && !txn {
            return Err(ErrorCode::InvalidTxnState);
        }
        Ok(None)
    }

    fn judge_marker(&self, p: usize, epoch: i16, coord: i32, tv2: bool) -> Result<(), ErrorCode> {
        let Some(s) = &self.producers[p] else { return Ok(()) };
        let stale = if tv2 {
            epoch < s.epoch || (epoch == s.epoch && s.txn_first.is_some())
        } else {
            epoch < s.epoch
        };
        if stale {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        if coord < s.coord {
            return Err(ErrorCode::TransactionCoordinatorFenced);
        }
        Ok(())
    }
}

struct Harness {
    model: Model,
    log: MiniLog,
    ts: i64,
    model_txn_index: Vec<(i64, i64, i64, i64)>,
}

const EXPIRATION_MS: i64 = 1_000_000;

fn pid(p: usize) -> i64 {
    100 + i64::try_from(p).unwrap()
}

impl Harness {
    fn new() -> Self {
        let config = ProducerStateConfig {
            producer_id_expiration_ms: EXPIRATION_MS,
            transaction_verification_enable: false,
        };
        Self { model: Model::default(), log: MiniLog::new(config), ts: 0, model_txn_index: Vec::new() }
    }

    fn pick_epoch(&self, p: usize, c: EpochChoice) -> i16 {
        let cur = self.model.producers[p].as_ref().map_or(0, |s| s.epoch.max(0));
        match c {
            EpochChoice::Same => cur,
            EpochChoice::Bump => cur + 1,
            EpochChoice::Older => (cur - 1).max(0),
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        self.ts += 10;
        match op {
            Op::Data { p, epoch, seq, count, txn } => self.data(p, epoch, seq, count, txn),
            Op::Marker { p, epoch, commit, coord, tv2 } => self.marker(p, epoch, commit, coord, tv2),
            Op::Reload => {
                let reloaded = reload(&self.log.m, *self.log.m.config(), self.ts);
                self.log.m = reloaded;
                for s in self.model.producers.iter_mut().flatten() {
                    // A snapshot keeps each producer's last batch only.
                    let keep = s.batches.len().saturating_sub(1);
                    s.batches.drain(..keep);
                    // ...and stores the producer's last timestamp as that batch's timestamp (a
                    // later TV1 marker may have refreshed it), as Kafka's snapshot format does.
                    let last_ts = s.last_ts;
                    if let Some(b) = s.batches.last_mut() {
                        b.ts = last_ts;
                    }
                }
                Ok(())
            }
            Op::ExpireIdle => {
                let now = self.ts + EXPIRATION_MS;
                let removed = self.log.m.remove_expired_producers(now);
                let mut expected = 0;
                for slot in &mut self.model.producers {
                    if slot
                        .as_ref()
                        .is_some_and(|s| s.txn_first.is_none() && now - s.last_ts >= EXPIRATION_MS)
                    {
                        *slot = None;
                        expected += 1;
                    }
                }
                prop_assert_eq!(removed, expected);
                Ok(())
            }
        }
    }

    fn data(
        &mut self,
        p: usize,
        epoch: EpochChoice,
        seq: SeqChoice,
        count: i32,
        txn: bool,
    ) -> Result<(), TestCaseError> {
        let epoch = self.pick_epoch(p, epoch);
        let state = self.model.producers[p].as_ref();
        let history = |k: usize| state.and_then(|s| s.batches.iter().rev().nth(k)).copied();
        let next = state.map_or(0, Model::expected_next);
        let (first, count) = match seq {
            SeqChoice::Next => (next, count),
            SeqChoice::Retry(k) => history(k).map_or((next, count), |b| {
                (b.first_seq, i32::try_from(b.last_offset - b.first_offset + 1).unwrap())
            }),
            SeqChoice::Overlap(k) => history(k).map_or((next, count), |b| {
                (b.first_seq, i32::try_from(b.last_offset - b.first_offset + 2).unwrap())
            }),
            SeqChoice::Gap => (wrap_add(next, 2), count),
            SeqChoice::Zero => (0, count),
            SeqChoice::NearMax => (i32::MAX - 1, count),
        };
        let last = wrap_add(first, i64::from(count - 1));
        let batch = BatchInfo {
            producer_id: pid(p),
            producer_epoch: epoch,
            base_sequence: first,
            last_sequence: last,
            first_offset: 0,
            last_offset: i64::from(count - 1),
            max_timestamp: self.ts,
            is_transactional: txn,
            control: None,
            record_count: count,
        };
        let expected = match self.model.judge_data(p, epoch, first, last, txn) {
            Err(code) => Outcome::Rejected(code),
            Ok(Some(d)) => Outcome::Duplicate {
                first_offset: d.first_offset,
                last_offset: d.last_offset,
                timestamp: d.ts,
            },
            Ok(None) => {
                let (first_offset, last_offset) = (self.model.leo, self.model.leo + i64::from(count) - 1);
                let s = self.model.producers[p].get_or_insert_with(|| ModelProducer {
                    epoch,
                    coord: -1,
                    batches: Vec::new(),
                    txn_first: None,
                    last_ts: 0,
                });
                if s.epoch != epoch {
                    s.batches.clear();
                    s.epoch = epoch;
                }
                s.batches.push(ModelBatch {
                    first_seq: first,
                    last_seq: last,
                    first_offset,
                    last_offset,
                    ts: self.ts,
                });
                s.last_ts = self.ts;
                if txn && s.txn_first.is_none() {
                    s.txn_first = Some(first_offset);
                }
                self.model.leo = last_offset + 1;
                Outcome::Appended { first_offset, last_offset, completed: None }
            }
        };
        let actual = self.log.append(AppendOrigin::Client, batch, None);
        prop_assert_eq!(actual, expected, "data {:?}", batch);
        Ok(())
    }

    fn marker(
        &mut self,
        p: usize,
        epoch: EpochChoice,
        commit: bool,
        coord: CoordChoice,
        tv2: bool,
    ) -> Result<(), TestCaseError> {
        let epoch = self.pick_epoch(p, epoch);
        let cur_coord = self.model.producers[p].as_ref().map_or(0, |s| s.coord.max(0));
        let coord = match coord {
            CoordChoice::Same => cur_coord,
            CoordChoice::Higher => cur_coord + 1,
            CoordChoice::Lower => (cur_coord - 1).max(0),
        };
        let b = marker(pid(p), epoch, 0, commit, coord, if tv2 { 2 } else { 1 }, self.ts);
        let expected = match self.model.judge_marker(p, epoch, coord, tv2) {
            Err(code) => Outcome::Rejected(code),
            Ok(()) => {
                let offset = self.model.leo;
                let lso = self
                    .model
                    .producers
                    .iter()
                    .enumerate()
                    .filter(|(q, _)| *q != p)
                    .filter_map(|(_, s)| s.as_ref().and_then(|s| s.txn_first))
                    .min()
                    .unwrap_or(offset + 1);
                let s = self.model.producers[p].get_or_insert_with(|| ModelProducer {
                    epoch,
                    coord,
                    batches: Vec::new(),
                    txn_first: None,
                    last_ts: 0,
                });
                let completed = s.txn_first.take().map(|first| {
                    let c = CompletedTxn {
                        producer_id: pid(p),
                        first_offset: first,
                        last_offset: offset,
                        is_aborted: !commit,
                    };
                    if !commit {
                        self.model_txn_index.push((pid(p), first, offset, lso));
                    }
                    (c, lso)
                });
                if s.epoch != epoch {
                    s.batches.clear();
                    s.epoch = epoch;
                }
                s.coord = coord;
                s.last_ts = self.ts;
                self.model.leo = offset + 1;
                Outcome::Appended { first_offset: offset, last_offset: offset, completed }
            }
        };
        let actual = self.log.append(AppendOrigin::Coordinator, b, None);
        prop_assert_eq!(actual, expected, "marker {:?}", b);
        Ok(())
    }

    /// The whole observable state agrees after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        let m = &self.log.m;
        prop_assert_eq!(self.log.leo, self.model.leo);
        prop_assert_eq!(m.map_end_offset(), self.model.leo);
        prop_assert_eq!(&self.log.txn_index, &self.model_txn_index);
        let mut open: Vec<(i64, i64)> = Vec::new();
        for (p, slot) in self.model.producers.iter().enumerate() {
            let actual = m.last_entry(pid(p));
            match slot {
                None => prop_assert!(actual.is_none(), "producer {} should be unknown", p),
                Some(s) => {
                    let e = actual.ok_or_else(|| TestCaseError::fail(format!("producer {p} missing")))?;
                    prop_assert_eq!(e.producer_epoch(), s.epoch);
                    prop_assert_eq!(e.coordinator_epoch(), s.coord);
                    prop_assert_eq!(e.current_txn_first_offset(), s.txn_first);
                    prop_assert_eq!(e.last_timestamp(), s.last_ts);
                    prop_assert_eq!(e.last_seq(), s.batches.last().map_or(-1, |b| b.last_seq));
                    prop_assert_eq!(e.batch_metadata().len(), s.batches.len().min(5));
                    if let Some(f) = s.txn_first {
                        open.push((f, pid(p)));
                    }
                }
            }
        }
        open.sort_unstable();
        let ongoing: Vec<(i64, i64)> =
            m.ongoing_transactions().iter().map(|t| (t.first_offset, t.producer_id)).collect();
        prop_assert_eq!(&ongoing, &open);
        // HW follows LEO, so only open transactions are unstable.
        prop_assert_eq!(m.first_unstable_offset(), open.first().map(|(f, _)| *f));
        prop_assert_eq!(m.producer_count(), self.model.producers.iter().flatten().count());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn manager_agrees_with_model(ops in proptest::collection::vec(op(), 1..80)) {
        let mut h = Harness::new();
        for op in ops {
            h.step(op)?;
            h.check()?;
        }
    }
}
