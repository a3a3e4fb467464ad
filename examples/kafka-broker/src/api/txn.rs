//! The transaction APIs, answered by the engine's transaction coordinator.
//!
//! The client's transaction version is inferred from request versions as Kafka does:
//! EndTxn v5+ and AddPartitionsToTxn v4+ speak transaction version 2 (KIP-890: an epoch bump
//! per transaction), older versions transaction version 0. AddOffsetsToTxn always comes from a
//! version-0 client.

use eoslog::ErrorCode;
use eoslog::group::ConsumerGroupMetadata;
use eoslog::offsets::OffsetAndMetadata;
use eoslog::txn::{ProducerIdAndEpoch, TransactionVersion, TxnTopicPartition};
use kafka_protocol::messages::add_offsets_to_txn_response::AddOffsetsToTxnResponse;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResponse, AddPartitionsToTxnResult,
    AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::end_txn_response::EndTxnResponse;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest, ProducerId,
    RequestHeader, TxnOffsetCommitRequest,
};

use super::{Broker, code_of, codes, fenced_compat};

/// First versions that know PRODUCER_FENCED (KIP-588); older clients get
/// INVALID_PRODUCER_EPOCH.
const INIT_PRODUCER_ID_FENCED_SINCE: i16 = 4;
const ADD_PARTITIONS_FENCED_SINCE: i16 = 2;
const ADD_OFFSETS_FENCED_SINCE: i16 = 2;
const END_TXN_FENCED_SINCE: i16 = 2;

/// The code for an error of a write that the transaction coordinator verified (a Produce, a
/// TxnOffsetCommit): Kafka reports a fenced producer there as INVALID_PRODUCER_EPOCH, and
/// TRANSACTION_ABORTABLE only to clients that know it.
pub(crate) fn verified_write_code(code: ErrorCode, abortable_known: bool) -> i16 {
    match code {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch.code(),
        ErrorCode::TransactionAbortable if !abortable_known => ErrorCode::InvalidTxnState.code(),
        other => other.code(),
    }
}

impl Broker {
    pub(crate) fn init_producer_id(
        &self,
        req: InitProducerIdRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> InitProducerIdResponse {
        let mut resp = InitProducerIdResponse::default();
        let transactional_id = req.transactional_id.as_ref().map(|t| t.0.as_str()).filter(|t| !t.is_empty());
        // KIP-360: a producer re-initialising after an error names its current id and epoch.
        let expected = (v >= 3 && req.producer_id.0 >= 0)
            .then_some(ProducerIdAndEpoch { producer_id: req.producer_id.0, epoch: req.producer_epoch });
        match self.engine.transactions().init_producer_id(
            transactional_id,
            req.transaction_timeout_ms,
            expected,
        ) {
            Ok(p) => {
                resp.producer_id = ProducerId(p.producer_id);
                resp.producer_epoch = p.epoch;
            }
            Err(e) => {
                resp.error_code =
                    fenced_compat(code_of("init producer id", &e), v, INIT_PRODUCER_ID_FENCED_SINCE);
                resp.producer_id = ProducerId(-1);
                resp.producer_epoch = -1;
            }
        }
        resp
    }

    pub(crate) fn add_partitions_to_txn(
        &self,
        req: AddPartitionsToTxnRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> AddPartitionsToTxnResponse {
        let mut resp = AddPartitionsToTxnResponse::default();
        if v <= 3 {
            resp.results_by_topic_v3_and_below = self.add_partitions(
                req.v3_and_below_transactional_id.0.as_str(),
                req.v3_and_below_producer_id.0,
                req.v3_and_below_producer_epoch,
                &req.v3_and_below_topics,
                false,
                v,
            );
        } else {
            for t in req.transactions {
                let mut r = AddPartitionsToTxnResult::default();
                r.topic_results = self.add_partitions(
                    t.transactional_id.0.as_str(),
                    t.producer_id.0,
                    t.producer_epoch,
                    &t.topics,
                    t.verify_only,
                    v,
                );
                r.transactional_id = t.transactional_id;
                resp.results_by_transaction.push(r);
            }
        }
        resp
    }

    /// One transaction of an AddPartitionsToTxn request: every partition gets the same answer
    /// (the coordinator adds them all or none), except that unknown partitions are reported as
    /// such and the others as not attempted, as Kafka does.
    fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        topics: &[AddPartitionsToTxnTopic],
        verify_only: bool,
        v: i16,
    ) -> Vec<AddPartitionsToTxnTopicResult> {
        let partitions: Vec<TxnTopicPartition> = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| TxnTopicPartition::new(t.name.0.as_str(), p)))
            .collect();
        let unknown: Vec<bool> =
            partitions.iter().map(|tp| self.engine.partition(&tp.topic, tp.partition).is_err()).collect();
        let codes: Vec<i16> = if unknown.iter().any(|u| *u) {
            unknown
                .iter()
                .map(|&u| {
                    if u { ErrorCode::UnknownTopicOrPartition.code() } else { codes::OPERATION_NOT_ATTEMPTED }
                })
                .collect()
        } else if verify_only {
            let abortable_known = v >= 5;
            match self.engine.transactions().verify_partitions(
                transactional_id,
                producer_id,
                producer_epoch,
                &partitions,
            ) {
                Ok(verdict) => {
                    verdict.iter().map(|(_, c)| verified_write_code(*c, abortable_known)).collect()
                }
                Err(e) => {
                    let c = e.code();
                    log::debug!("verify partitions of {transactional_id}: {e}");
                    vec![verified_write_code(c, abortable_known); partitions.len()]
                }
            }
        } else {
            let tv = if v >= 4 { TransactionVersion::Tv2 } else { TransactionVersion::Tv0 };
            let code = match self.engine.transactions().add_partitions_to_txn(
                transactional_id,
                producer_id,
                producer_epoch,
                &partitions,
                tv,
            ) {
                Ok(()) => 0,
                Err(e) => fenced_compat(code_of("add partitions to txn", &e), v, ADD_PARTITIONS_FENCED_SINCE),
            };
            vec![code; partitions.len()]
        };
        let mut i = 0;
        topics
            .iter()
            .map(|t| {
                let mut r = AddPartitionsToTxnTopicResult::default();
                r.name = t.name.clone();
                for &p in &t.partitions {
                    let mut pr = AddPartitionsToTxnPartitionResult::default();
                    pr.partition_index = p;
                    pr.partition_error_code = codes[i];
                    i += 1;
                    r.results_by_partition.push(pr);
                }
                r
            })
            .collect()
    }

    pub(crate) fn add_offsets_to_txn(
        &self,
        req: AddOffsetsToTxnRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> AddOffsetsToTxnResponse {
        let mut resp = AddOffsetsToTxnResponse::default();
        if let Err(e) = self.engine.add_offsets_to_txn(
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.group_id.0.as_str(),
        ) {
            resp.error_code = fenced_compat(code_of("add offsets to txn", &e), v, ADD_OFFSETS_FENCED_SINCE);
        }
        resp
    }

    pub(crate) fn txn_offset_commit(
        &self,
        req: TxnOffsetCommitRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> TxnOffsetCommitResponse {
        let group = req.group_id.0.as_str();
        // KIP-447 (v3+): the commit carries the consumer's membership, checked by the group
        // coordinator; older clients send none and are not fenced by generation.
        let consumer = if v >= 3 {
            ConsumerGroupMetadata {
                group_id: group.to_string(),
                generation_id: req.generation_id,
                member_id: req.member_id.to_string(),
                group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            }
        } else {
            ConsumerGroupMetadata::simple(group)
        };
        let mut offsets = Vec::new();
        let mut codes_by_partition = Vec::new();
        for t in &req.topics {
            for p in &t.partitions {
                let known = self.engine.partition(t.name.0.as_str(), p.partition_index).is_ok();
                codes_by_partition.push(if known { 0 } else { ErrorCode::UnknownTopicOrPartition.code() });
                if known {
                    offsets.push((
                        t.name.0.to_string(),
                        p.partition_index,
                        OffsetAndMetadata {
                            offset: p.committed_offset,
                            leader_epoch: if v >= 2 { p.committed_leader_epoch } else { -1 },
                            metadata: p
                                .committed_metadata
                                .as_ref()
                                .map(|m| m.to_string())
                                .unwrap_or_default(),
                            commit_timestamp: -1,
                        },
                    ));
                }
            }
        }
        // Verified against the transaction first (KIP-890 part 1), then the membership, then
        // written into the transaction: one engine call, in Kafka's order.
        let commit_code = match self.engine.txn_offset_commit_for(
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            &consumer,
            &offsets,
        ) {
            Ok(()) => 0,
            Err(e) => {
                log::debug!("txn offset commit for group {group}: {e}");
                verified_write_code(e.code(), v >= 5)
            }
        };
        let mut resp = TxnOffsetCommitResponse::default();
        let mut i = 0;
        for t in req.topics {
            let mut out = TxnOffsetCommitResponseTopic::default();
            out.name = t.name;
            for p in t.partitions {
                let mut r = TxnOffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = if codes_by_partition[i] != 0 { codes_by_partition[i] } else { commit_code };
                i += 1;
                out.partitions.push(r);
            }
            resp.topics.push(out);
        }
        resp
    }

    pub(crate) fn end_txn(&self, req: EndTxnRequest, v: i16, _h: &RequestHeader) -> EndTxnResponse {
        let tv = if v >= 5 { TransactionVersion::Tv2 } else { TransactionVersion::Tv0 };
        let result = self.engine.transactions().end_txn(
            req.transactional_id.0.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            req.committed,
            tv,
        );
        // Markers moved the last stable offset (or the attempt changed nothing, which a parked
        // Fetch finds out cheaply).
        self.data_changed.notify();
        let mut resp = EndTxnResponse::default();
        match result {
            Ok(p) => {
                if v >= 5 {
                    resp.producer_id = ProducerId(p.producer_id);
                    resp.producer_epoch = p.epoch;
                }
            }
            Err(e) => resp.error_code = fenced_compat(code_of("end txn", &e), v, END_TXN_FENCED_SINCE),
        }
        resp
    }
}
