//! OffsetCommit and OffsetFetch, through the engine's group coordinator (member and generation
//! checks) to its offset store in `__consumer_offsets`.

use eoslog::ErrorCode;
use eoslog::offsets::{FetchedOffset, OffsetAndMetadata};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetFetchRequest, RequestHeader};

use super::{Broker, code_of, sb, topic_name};

/// One group's answer: per partition, or one error for the whole group.
type GroupOffsets = Result<Vec<FetchedOffset>, i16>;

impl Broker {
    pub(crate) fn offset_commit(
        &self,
        req: OffsetCommitRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> OffsetCommitResponse {
        let group = req.group_id.0.as_str();
        let instance = if v >= 7 { req.group_instance_id.as_deref() } else { None };
        let mut offsets = Vec::new();
        let mut known = Vec::new();
        for t in &req.topics {
            for p in &t.partitions {
                let exists = self.engine.partition(t.name.0.as_str(), p.partition_index).is_ok();
                known.push(exists);
                if exists {
                    offsets.push((
                        t.name.0.to_string(),
                        p.partition_index,
                        OffsetAndMetadata {
                            offset: p.committed_offset,
                            leader_epoch: if v >= 6 { p.committed_leader_epoch } else { -1 },
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
        // The coordinator checks the member and its generation (KIP-447) atomically with the
        // write; a commit without membership (generation -1, no member id) is accepted while the
        // group has no members, as Kafka does for consumers that assign their partitions.
        let code = match self.engine.groups().commit_offsets(
            group,
            req.member_id.as_str(),
            req.generation_id_or_member_epoch,
            instance,
            &offsets,
        ) {
            Ok(()) => 0,
            Err(e) => code_of("offset commit", &e),
        };
        let mut resp = OffsetCommitResponse::default();
        let mut i = 0;
        for t in req.topics {
            let mut out = OffsetCommitResponseTopic::default();
            out.name = t.name;
            for p in t.partitions {
                let mut r = OffsetCommitResponsePartition::default();
                r.partition_index = p.partition_index;
                r.error_code = if known[i] { code } else { ErrorCode::UnknownTopicOrPartition.code() };
                i += 1;
                out.partitions.push(r);
            }
            resp.topics.push(out);
        }
        resp
    }

    pub(crate) fn offset_fetch(
        &self,
        req: OffsetFetchRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> OffsetFetchResponse {
        // Pending transactional offsets are reported as UNSTABLE_OFFSET_COMMIT only to clients
        // that ask for stable offsets (v7+, KIP-447).
        let require_stable = v >= 7 && req.require_stable;
        let mut resp = OffsetFetchResponse::default();
        if v >= 8 {
            for g in req.groups {
                let wanted: Option<Vec<(String, i32)>> = g.topics.map(|ts| {
                    ts.iter()
                        .flat_map(|t| t.partition_indexes.iter().map(|&p| (t.name.0.to_string(), p)))
                        .collect()
                });
                let mut out = OffsetFetchResponseGroup::default();
                out.group_id = GroupId(g.group_id.0.clone());
                match self.fetch_group_offsets(g.group_id.0.as_str(), wanted.as_deref(), require_stable) {
                    Ok(list) => {
                        for f in list {
                            let mut p = OffsetFetchResponsePartitions::default();
                            p.partition_index = f.partition;
                            p.error_code = f.error.code();
                            (p.committed_offset, p.committed_leader_epoch, p.metadata) = committed_fields(&f);
                            match out.topics.iter_mut().find(|t| t.name.0.as_str() == f.topic) {
                                Some(t) => t.partitions.push(p),
                                None => {
                                    let mut t = OffsetFetchResponseTopics::default();
                                    t.name = topic_name(&f.topic);
                                    t.partitions.push(p);
                                    out.topics.push(t);
                                }
                            }
                        }
                    }
                    Err(code) => out.error_code = code,
                }
                resp.groups.push(out);
            }
            return resp;
        }
        let wanted: Option<Vec<(String, i32)>> = req.topics.map(|ts| {
            ts.iter().flat_map(|t| t.partition_indexes.iter().map(|&p| (t.name.0.to_string(), p))).collect()
        });
        let result: GroupOffsets =
            self.fetch_group_offsets(req.group_id.0.as_str(), wanted.as_deref(), require_stable);
        match result {
            Ok(list) => {
                for f in list {
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = f.partition;
                    p.error_code = f.error.code();
                    (p.committed_offset, p.committed_leader_epoch, p.metadata) = committed_fields(&f);
                    match resp.topics.iter_mut().find(|t| t.name.0.as_str() == f.topic) {
                        Some(t) => t.partitions.push(p),
                        None => {
                            let mut t = OffsetFetchResponseTopic::default();
                            t.name = topic_name(&f.topic);
                            t.partitions.push(p);
                            resp.topics.push(t);
                        }
                    }
                }
            }
            Err(code) if v >= 2 => resp.error_code = code,
            // v1 has no top-level error code: every requested partition carries it.
            Err(code) => {
                for (topic, partition) in wanted.unwrap_or_default() {
                    let mut p = OffsetFetchResponsePartition::default();
                    p.partition_index = partition;
                    p.committed_offset = -1;
                    p.error_code = code;
                    match resp.topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
                        Some(t) => t.partitions.push(p),
                        None => {
                            let mut t = OffsetFetchResponseTopic::default();
                            t.name = topic_name(&topic);
                            t.partitions.push(p);
                            resp.topics.push(t);
                        }
                    }
                }
            }
        }
        resp
    }

    fn fetch_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[(String, i32)]>,
        require_stable: bool,
    ) -> GroupOffsets {
        self.engine
            .groups()
            .fetch_offsets(group, partitions, require_stable)
            .map_err(|e| code_of("offset fetch", &e))
    }
}

/// `(offset, leader epoch, metadata)` of a fetched offset; Kafka answers -1 and empty metadata
/// for a partition without one.
fn committed_fields(f: &FetchedOffset) -> (i64, i32, Option<kafka_protocol::protocol::StrBytes>) {
    match &f.committed {
        Some(c) => (c.offset, c.leader_epoch, Some(sb(c.metadata.clone()))),
        None => (-1, -1, Some(sb(""))),
    }
}
