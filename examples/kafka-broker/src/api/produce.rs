//! Produce: every partition's batch goes through [`eoslog::Engine::produce`], which validates
//! it, deduplicates retries (answering with the original offsets), fences stale epochs and, for
//! a transactional producer's first write to a partition, verifies with the transaction
//! coordinator that the partition is in the transaction (KIP-890 part 1).

use eoslog::ErrorCode;
use eoslog::batch::RecordBatch;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};

use super::txn::verified_write_code;
use super::{Broker, codes, sb};

impl Broker {
    /// Appends every partition's batch; returns the response and whether the test hook wants
    /// the connection dropped instead of answered.
    pub(crate) fn produce(&self, req: ProduceRequest, v: i16) -> (ProduceResponse, bool) {
        let transactional_id = req.transactional_id.as_ref().map(|t| t.0.as_str());
        let acks_ok = matches!(req.acks, -1..=1);
        let mut appended = false;
        let mut resp = ProduceResponse::default();
        for topic in req.topic_data {
            let mut out = TopicProduceResponse::default();
            out.name = topic.name.clone();
            for p in topic.partition_data {
                let mut r = PartitionProduceResponse::default();
                r.index = p.index;
                r.base_offset = -1;
                r.log_append_time_ms = -1;
                r.log_start_offset = -1;
                let result = if !acks_ok {
                    Err((codes::INVALID_REQUIRED_ACKS, format!("acks={} is not -1, 0 or 1", req.acks)))
                } else {
                    self.produce_partition(
                        topic.name.0.as_str(),
                        p.index,
                        p.records.as_deref(),
                        transactional_id,
                        v,
                    )
                };
                match result {
                    Ok(info) => {
                        appended |= !info.duplicate;
                        r.base_offset = info.first_offset;
                        r.log_append_time_ms = info.log_append_time;
                        r.log_start_offset = info.log_start_offset;
                    }
                    Err((code, message)) => {
                        r.error_code = code;
                        if v >= 8 {
                            r.error_message = Some(sb(message));
                        }
                    }
                }
                out.partition_responses.push(r);
            }
            resp.responses.push(out);
        }
        if appended {
            self.data_changed.notify();
        }
        let drop_connection = appended && req.acks != 0 && self.produce_hook_fires();
        (resp, drop_connection)
    }

    fn produce_partition(
        &self,
        topic: &str,
        partition: i32,
        records: Option<&[u8]>,
        transactional_id: Option<&str>,
        v: i16,
    ) -> Result<eoslog::AppendInfo, (i16, String)> {
        let invalid = |m: &str| (ErrorCode::InvalidRecord.code(), m.to_string());
        let bytes = records.ok_or_else(|| invalid("the partition has no records"))?;
        // Kafka requires exactly one batch per partition from Produce v3 on.
        match RecordBatch::parse_prefix(bytes) {
            Ok((_, [])) => {}
            Ok(_) => return Err(invalid("Produce v3+ must carry exactly one record batch per partition")),
            Err(e) => return Err((e.code().code(), e.to_string())),
        }
        self.engine.produce(topic, partition, bytes, transactional_id).map_err(|e| {
            log::debug!("produce to {topic}-{partition}: {e}");
            // TRANSACTION_ABORTABLE is known from Produce v11 on.
            (verified_write_code(e.code(), v >= 11), e.to_string())
        })
    }
}
