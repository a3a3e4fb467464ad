//! Fetch, ListOffsets and OffsetForLeaderEpoch: reads served by the partition logs.
//!
//! Fetch returns the engine's bytes unchanged — whole batches exactly as stored, bounded by the
//! isolation level's offset (high watermark or last stable offset), with the aborted
//! transactions the engine collected from its transaction indexes for `read_committed`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eoslog::{ErrorCode, IsolationLevel, OffsetSpec, PartitionLog};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchResponse, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    FetchRequest, ListOffsetsRequest, OffsetForLeaderEpochRequest, ProducerId, RequestHeader,
};

use super::{Broker, code_of, codes, topic_uuid};

/// ListOffsets timestamps with a special meaning (Kafka's `ListOffsetsRequest`).
const LATEST_TIMESTAMP: i64 = -1;
const EARLIEST_TIMESTAMP: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
const LATEST_TIERED_TIMESTAMP: i64 = -5;

/// Longest a Fetch may park, whatever the client asks (Kafka bounds it by the client's
/// request timeout; this bounds a misbehaving client's hold on a thread).
const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

fn isolation(level: i8) -> IsolationLevel {
    if level == 1 { IsolationLevel::ReadCommitted } else { IsolationLevel::ReadUncommitted }
}

/// Kafka's leader-epoch check for requests that carry the client's view of it: an older epoch
/// is fenced, a newer one is not known yet.
fn check_leader_epoch(log: &PartitionLog, current: i32) -> Result<(), i16> {
    if current < 0 {
        return Ok(());
    }
    let epoch = log.leader_epoch();
    if current < epoch {
        Err(ErrorCode::FencedLeaderEpoch.code())
    } else if current > epoch {
        Err(ErrorCode::UnknownLeaderEpoch.code())
    } else {
        Ok(())
    }
}

/// One partition of a Fetch request, resolved.
struct Wanted {
    topic_index: usize,
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    current_leader_epoch: i32,
    log: Result<Arc<PartitionLog>, i16>,
}

impl Broker {
    pub(crate) fn fetch(&self, req: FetchRequest, v: i16, _h: &RequestHeader) -> FetchResponse {
        let mut resp = FetchResponse::default();
        // librdkafka never uses fetch sessions and the Java client falls back to full fetches
        // when the broker answers with session id 0, which this broker always does.
        if req.session_id != 0 {
            resp.error_code = codes::FETCH_SESSION_ID_NOT_FOUND;
            return resp;
        }
        if req.session_epoch != 0 && req.session_epoch != -1 {
            resp.error_code = codes::INVALID_FETCH_SESSION_EPOCH;
            return resp;
        }
        let isolation = isolation(req.isolation_level);
        let by_id: HashMap<uuid::Uuid, String> = if v >= 13 {
            self.engine.topics().into_iter().map(|t| (topic_uuid(&t.topic_id), t.name)).collect()
        } else {
            HashMap::new()
        };
        let mut wanted = Vec::new();
        for (topic_index, t) in req.topics.iter().enumerate() {
            let name: Option<&str> =
                if v >= 13 { by_id.get(&t.topic_id).map(String::as_str) } else { Some(t.topic.0.as_str()) };
            let mut out = FetchableTopicResponse::default();
            if v >= 13 {
                out.topic_id = t.topic_id;
            } else {
                out.topic = t.topic.clone();
            }
            resp.responses.push(out);
            for p in &t.partitions {
                let log = match name {
                    None => Err(codes::UNKNOWN_TOPIC_ID),
                    Some(name) => self.engine.partition(name, p.partition).map_err(|e| code_of("fetch", &e)),
                };
                wanted.push(Wanted {
                    topic_index,
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes,
                    current_leader_epoch: p.current_leader_epoch,
                    log,
                });
            }
        }
        let response_max = if req.max_bytes > 0 { req.max_bytes as i64 } else { i64::MAX };
        let min_bytes = i64::from(req.min_bytes.max(0));
        let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_FETCH_WAIT);
        let deadline = Instant::now() + wait;
        let partitions = self.long_poll(deadline, || {
            let mut total: i64 = 0;
            let mut any_error = false;
            let parts: Vec<(usize, PartitionData)> = wanted
                .iter()
                .map(|w| {
                    let budget = (response_max - total).min(i64::from(w.max_bytes));
                    let d = read_partition(w, budget, isolation, total == 0);
                    total += d.records.as_ref().map_or(0, |r| r.len() as i64);
                    any_error |= d.error_code != 0;
                    (w.topic_index, d)
                })
                .collect();
            // Errors are answered at once, as Kafka does; so is a fetch that has enough.
            let done = any_error || total >= min_bytes.max(1) || wanted.is_empty();
            (parts, done)
        });
        for (topic_index, d) in partitions {
            resp.responses[topic_index].partitions.push(d);
        }
        resp
    }

    pub(crate) fn list_offsets(
        &self,
        req: ListOffsetsRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> ListOffsetsResponse {
        let isolation = if v >= 2 { isolation(req.isolation_level) } else { IsolationLevel::ReadUncommitted };
        let mut resp = ListOffsetsResponse::default();
        for t in req.topics {
            let mut out = ListOffsetsTopicResponse::default();
            out.name = t.name.clone();
            for p in t.partitions {
                let mut r = ListOffsetsPartitionResponse::default();
                r.partition_index = p.partition_index;
                r.timestamp = -1;
                r.offset = -1;
                match self.list_offset(
                    t.name.0.as_str(),
                    p.partition_index,
                    p.current_leader_epoch,
                    p.timestamp,
                    isolation,
                ) {
                    Ok(Some(found)) => {
                        r.timestamp = found.timestamp;
                        r.offset = found.offset;
                        if v >= 4 {
                            r.leader_epoch = found.leader_epoch.unwrap_or(-1);
                        }
                    }
                    Ok(None) => {}
                    Err(code) => r.error_code = code,
                }
                out.partitions.push(r);
            }
            resp.topics.push(out);
        }
        resp
    }

    fn list_offset(
        &self,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
        timestamp: i64,
        isolation: IsolationLevel,
    ) -> Result<Option<eoslog::log::TimestampAndOffset>, i16> {
        let log = self.engine.partition(topic, partition).map_err(|e| code_of("list offsets", &e))?;
        check_leader_epoch(&log, current_leader_epoch)?;
        let spec = match timestamp {
            LATEST_TIMESTAMP => OffsetSpec::Latest(isolation),
            EARLIEST_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP => OffsetSpec::Earliest,
            MAX_TIMESTAMP => OffsetSpec::MaxTimestamp,
            // No tiered storage: nothing was ever uploaded.
            LATEST_TIERED_TIMESTAMP => return Ok(None),
            ts if ts >= 0 => OffsetSpec::Timestamp(ts),
            other => {
                log::debug!("list offsets: unknown special timestamp {other}");
                return Err(ErrorCode::InvalidRequest.code());
            }
        };
        let found = log.list_offset(spec).map_err(|e| code_of("list offsets", &e))?;
        // The engine bounds timestamp lookups by the high watermark; a read_committed client
        // may only be pointed below the last stable offset (Kafka's `lastFetchableOffset`).
        let bound = match isolation {
            IsolationLevel::ReadCommitted => log.last_stable_offset(),
            _ => log.high_watermark(),
        };
        Ok(match spec {
            OffsetSpec::Timestamp(_) | OffsetSpec::MaxTimestamp => found.filter(|f| f.offset < bound),
            _ => found,
        })
    }

    pub(crate) fn offset_for_leader_epoch(
        &self,
        req: OffsetForLeaderEpochRequest,
        _v: i16,
        _h: &RequestHeader,
    ) -> OffsetForLeaderEpochResponse {
        let mut resp = OffsetForLeaderEpochResponse::default();
        for t in req.topics {
            let mut out = OffsetForLeaderTopicResult::default();
            out.topic = t.topic.clone();
            for p in t.partitions {
                let mut r = EpochEndOffset::default();
                r.partition = p.partition;
                r.leader_epoch = -1;
                r.end_offset = -1;
                let result = self
                    .engine
                    .partition(t.topic.0.as_str(), p.partition)
                    .map_err(|e| code_of("offset for leader epoch", &e))
                    .and_then(|log| check_leader_epoch(&log, p.current_leader_epoch).map(|()| log));
                match result {
                    Ok(log) => {
                        let (epoch, end) = log.end_offset_for_epoch(p.leader_epoch);
                        r.leader_epoch = epoch;
                        r.end_offset = end;
                    }
                    Err(code) => r.error_code = code,
                }
                out.partitions.push(r);
            }
            resp.topics.push(out);
        }
        resp
    }
}

/// Reads one partition for a Fetch response. `first` is true while nothing has been put in the
/// response yet: only then may a batch larger than the budget be returned (KIP-74), so that a
/// consumer always makes progress.
fn read_partition(w: &Wanted, budget: i64, isolation: IsolationLevel, first: bool) -> PartitionData {
    let mut d = PartitionData::default();
    d.partition_index = w.partition;
    d.high_watermark = -1;
    d.aborted_transactions = None;
    d.records = Some(Bytes::new());
    let log = match &w.log {
        Ok(l) => l,
        Err(code) => {
            d.error_code = *code;
            return d;
        }
    };
    if let Err(code) = check_leader_epoch(log, w.current_leader_epoch) {
        d.error_code = code;
        return d;
    }
    let fill_offsets = |d: &mut PartitionData| {
        d.high_watermark = log.high_watermark();
        d.last_stable_offset = log.last_stable_offset().min(d.high_watermark);
        d.log_start_offset = log.log_start_offset();
    };
    if budget <= 0 || (!first && budget < 61) {
        fill_offsets(&mut d);
        return d;
    }
    match log.read(w.fetch_offset, budget.min(i64::from(i32::MAX)) as u32, isolation) {
        Ok(data) => {
            d.high_watermark = data.high_watermark;
            d.last_stable_offset = data.last_stable_offset;
            d.log_start_offset = data.log_start_offset;
            d.aborted_transactions = data.aborted_transactions.map(|list| {
                list.into_iter()
                    .map(|a| {
                        let mut t = AbortedTransaction::default();
                        t.producer_id = ProducerId(a.producer_id);
                        t.first_offset = a.first_offset;
                        t
                    })
                    .collect()
            });
            let bytes = data.records.into_bytes();
            // The engine returns at least one batch; past the first partition with data that
            // batch must fit the remaining response budget.
            if !first && bytes.len() as i64 > budget {
                d.records = Some(Bytes::new());
            } else {
                d.records = Some(Bytes::from(bytes));
            }
        }
        Err(e) => {
            d.error_code = code_of("fetch", &e);
            fill_offsets(&mut d);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_levels_map() {
        assert_eq!(isolation(0), IsolationLevel::ReadUncommitted);
        assert_eq!(isolation(1), IsolationLevel::ReadCommitted);
    }
}
