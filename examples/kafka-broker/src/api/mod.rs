//! Request dispatch: one function per Kafka API, each translating a decoded request into engine
//! calls and the engine's answers (offsets, error codes) into the response.
//!
//! Nothing here decides exactly-once questions: deduplication, epoch fencing, transaction
//! states, markers, the last stable offset and aborted-transaction lists all come from the
//! engine. What the broker adds is protocol: versions, field layouts, and the error-code
//! substitutions Kafka makes for clients too old to know a newer code.

mod admin;
mod fetch;
mod groups;
mod offsets;
mod produce;
mod txn;
pub mod versions;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use eoslog::{Engine, ErrorCode};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use parking_lot::{Condvar, Mutex};

use crate::config::BrokerConfig;

/// The node id of the single broker.
pub(crate) const NODE_ID: i32 = 0;

/// Kafka error codes the engine has no variant for (only the broker produces them).
pub(crate) mod codes {
    /// INVALID_REQUIRED_ACKS.
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    /// INVALID_REPLICATION_FACTOR.
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    /// INVALID_REPLICA_ASSIGNMENT.
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    /// OPERATION_NOT_ATTEMPTED.
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    /// FETCH_SESSION_ID_NOT_FOUND.
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    /// INVALID_FETCH_SESSION_EPOCH.
    pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
    /// UNKNOWN_TOPIC_ID.
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
}

/// What the connection does after a request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Send this frame (length prefix included).
    Send(BytesMut),
    /// Send nothing (Produce with `acks=0`).
    Nothing,
    /// Close the connection: the request was malformed.
    Close(String),
    /// Close the connection without an answer: the produce test hook fired.
    Drop,
}

/// Wakes Fetch requests parked in a long poll when something they might return changed.
#[derive(Debug, Default)]
pub(crate) struct DataChanged {
    seq: Mutex<u64>,
    cv: Condvar,
}

impl DataChanged {
    /// Records a change and wakes every waiter.
    pub(crate) fn notify(&self) {
        *self.seq.lock() += 1;
        self.cv.notify_all();
    }

    fn current(&self) -> u64 {
        *self.seq.lock()
    }

    /// Blocks until a change after `seen`, or `until`.
    fn wait(&self, seen: u64, until: Instant) {
        let mut seq = self.seq.lock();
        while *seq == seen {
            if self.cv.wait_until(&mut seq, until).timed_out() {
                return;
            }
        }
    }
}

/// The broker: the engine plus what the protocol needs around it.
#[derive(Debug)]
pub struct Broker {
    pub(crate) engine: Engine,
    pub(crate) config: BrokerConfig,
    pub(crate) host: String,
    pub(crate) port: i32,
    pub(crate) cluster_id: String,
    pub(crate) data_changed: DataChanged,
    produce_requests: AtomicU64,
    stopping: AtomicBool,
}

/// Changes the engine makes on its own (timed-out transactions aborted by its background
/// thread) do not pass through the broker; a parked Fetch re-reads at least this often so it
/// sees them without a notification.
const FETCH_RECHECK: Duration = Duration::from_millis(100);

impl Broker {
    /// A broker over an open engine, answering with `host:port` as its address.
    pub fn new(engine: Engine, config: BrokerConfig, host: String, port: u16) -> Broker {
        // A stable id per data directory is not needed by clients; Kafka's format (22 base64
        // characters) is, for tools that parse it.
        let cluster_id = "eoslog-single-node0000".to_string();
        Broker {
            engine,
            config,
            host,
            port: i32::from(port),
            cluster_id,
            data_changed: DataChanged::default(),
            produce_requests: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Makes parked requests return at once; called at shutdown.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.data_changed.notify();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Counts a Produce request that appended something; true when the test hook wants this
    /// one's connection dropped.
    pub(crate) fn produce_hook_fires(&self) -> bool {
        let every = self.config.drop_produce_response_every;
        if every == 0 {
            return false;
        }
        let n = self.produce_requests.fetch_add(1, Ordering::AcqRel) + 1;
        if n.is_multiple_of(every) {
            log::warn!("test hook: dropping the connection after appending produce request #{n}");
            return true;
        }
        false
    }

    /// Waits until `ready` says the answer is complete, data changes, or `deadline` passes;
    /// returns whatever `ready` last produced.
    pub(crate) fn long_poll<T>(&self, deadline: Instant, mut attempt: impl FnMut() -> (T, bool)) -> T {
        loop {
            let seen = self.data_changed.current();
            let (value, done) = attempt();
            let now = Instant::now();
            if done || now >= deadline || self.is_stopping() {
                return value;
            }
            self.data_changed.wait(seen, deadline.min(now + FETCH_RECHECK));
        }
    }

    /// Handles one request frame (without its length prefix) from a client at `client_host`
    /// (Kafka's form, `/127.0.0.1`, as group members show it).
    pub(crate) fn handle_frame(&self, mut frame: Bytes, client_host: &str) -> Reply {
        if frame.len() < 8 {
            return Reply::Close(format!(
                "a {}-byte request is shorter than any request header",
                frame.len()
            ));
        }
        // The first 8 bytes are the same in every header version.
        let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let Ok(key) = ApiKey::try_from(raw_key) else {
            log::debug!("unknown API key {raw_key}");
            return unsupported(None, version, correlation_id);
        };
        let range = versions::supported(key);
        if key == ApiKey::ApiVersions && range.is_some_and(|(_, max)| version > max) {
            // KIP-511: a client newer than the broker gets the version list in v0 format and
            // retries with the highest version both support.
            return encode_reply(
                key,
                0,
                correlation_id,
                &self.api_versions_response(ErrorCode::UnsupportedVersion.code()),
            );
        }
        if !range.is_some_and(|(min, max)| (min..=max).contains(&version)) {
            log::debug!("unsupported request {key:?} v{version}");
            return unsupported(Some(key), version, correlation_id);
        }
        let header = match RequestHeader::decode(&mut frame, key.request_header_version(version)) {
            Ok(h) => h,
            Err(e) => return Reply::Close(format!("malformed {key:?} v{version} request header: {e}")),
        };
        log::trace!("{key:?} v{version} from {:?} (correlation id {correlation_id})", header.client_id);
        self.dispatch(key, version, correlation_id, &header, frame, client_host)
    }

    fn dispatch(
        &self,
        key: ApiKey,
        v: i16,
        cid: i32,
        header: &RequestHeader,
        mut body: Bytes,
        client_host: &str,
    ) -> Reply {
        macro_rules! call {
            ($req:ty, $handler:ident) => {{
                let req = match <$req>::decode(&mut body, v) {
                    Ok(r) => r,
                    Err(e) => return Reply::Close(format!("malformed {key:?} v{v} request: {e}")),
                };
                let resp = self.$handler(req, v, header);
                encode_reply(key, v, cid, &resp)
            }};
        }
        match key {
            ApiKey::ApiVersions => {
                if let Err(e) = ApiVersionsRequest::decode(&mut body, v) {
                    return Reply::Close(format!("malformed ApiVersions v{v} request: {e}"));
                }
                encode_reply(key, v, cid, &self.api_versions_response(0))
            }
            ApiKey::Produce => {
                let req = match ProduceRequest::decode(&mut body, v) {
                    Ok(r) => r,
                    Err(e) => return Reply::Close(format!("malformed Produce v{v} request: {e}")),
                };
                let acks = req.acks;
                let (resp, drop_connection) = self.produce(req, v);
                if drop_connection {
                    return Reply::Drop;
                }
                if acks == 0 { Reply::Nothing } else { encode_reply(key, v, cid, &resp) }
            }
            ApiKey::Fetch => call!(FetchRequest, fetch),
            ApiKey::ListOffsets => call!(ListOffsetsRequest, list_offsets),
            ApiKey::Metadata => call!(MetadataRequest, metadata),
            ApiKey::OffsetForLeaderEpoch => call!(OffsetForLeaderEpochRequest, offset_for_leader_epoch),
            ApiKey::CreateTopics => call!(CreateTopicsRequest, create_topics),
            ApiKey::FindCoordinator => call!(FindCoordinatorRequest, find_coordinator),
            ApiKey::InitProducerId => call!(InitProducerIdRequest, init_producer_id),
            ApiKey::AddPartitionsToTxn => call!(AddPartitionsToTxnRequest, add_partitions_to_txn),
            ApiKey::AddOffsetsToTxn => call!(AddOffsetsToTxnRequest, add_offsets_to_txn),
            ApiKey::TxnOffsetCommit => call!(TxnOffsetCommitRequest, txn_offset_commit),
            ApiKey::EndTxn => call!(EndTxnRequest, end_txn),
            ApiKey::OffsetCommit => call!(OffsetCommitRequest, offset_commit),
            ApiKey::OffsetFetch => call!(OffsetFetchRequest, offset_fetch),
            ApiKey::JoinGroup => {
                let req = match JoinGroupRequest::decode(&mut body, v) {
                    Ok(r) => r,
                    Err(e) => return Reply::Close(format!("malformed JoinGroup v{v} request: {e}")),
                };
                encode_reply(key, v, cid, &self.join_group(req, v, header, client_host))
            }
            ApiKey::SyncGroup => call!(SyncGroupRequest, sync_group),
            ApiKey::Heartbeat => call!(HeartbeatRequest, heartbeat),
            ApiKey::LeaveGroup => call!(LeaveGroupRequest, leave_group),
            ApiKey::DescribeGroups => call!(DescribeGroupsRequest, describe_groups),
            ApiKey::ListGroups => call!(ListGroupsRequest, list_groups),
            // `versions::supported` lists exactly the keys above.
            other => unsupported(Some(other), v, cid),
        }
    }

    fn api_versions_response(&self, error_code: i16) -> ApiVersionsResponse {
        let mut resp = ApiVersionsResponse::default();
        resp.error_code = error_code;
        resp.api_keys = versions::SUPPORTED
            .iter()
            .map(|&(key, min, max)| {
                let mut v = api_versions_response::ApiVersion::default();
                v.api_key = key as i16;
                v.min_version = min;
                v.max_version = max;
                v
            })
            .collect();
        resp
    }
}

/// Encodes a response frame: length prefix, response header, body.
pub(crate) fn encode_reply<R: Encodable>(key: ApiKey, version: i16, correlation_id: i32, resp: &R) -> Reply {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let encoded = header
        .encode(&mut buf, key.response_header_version(version))
        .and_then(|()| resp.encode(&mut buf, version));
    if let Err(e) = encoded {
        // A bug in a handler (a field set that this version cannot carry): the client would
        // wait for an answer forever, so drop the connection instead.
        log::error!("cannot encode the {key:?} v{version} response: {e}");
        return Reply::Close(format!("cannot encode the {key:?} v{version} response"));
    }
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Reply::Send(buf)
}

/// The answer to an API or version the broker does not implement: the response header and an
/// UNSUPPORTED_VERSION error code, which is where every response that has a top-level error
/// code starts it (ApiVersions v0 among them). The connection stays open.
fn unsupported(key: Option<ApiKey>, version: i16, correlation_id: i32) -> Reply {
    let mut buf = BytesMut::with_capacity(16);
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    let flexible = key.is_some_and(|k| {
        let valid = k.valid_versions();
        k.response_header_version(version.clamp(valid.min, valid.max)) >= 1
    });
    if flexible {
        buf.put_u8(0); // no tagged fields
    }
    buf.put_i16(ErrorCode::UnsupportedVersion.code());
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Reply::Send(buf)
}

/// A string for a response field.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// A topic name for a response field.
pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(sb(s))
}

/// The error code of an engine error, logged at debug level (errors are part of normal
/// operation: fencing, retries, unknown topics).
pub(crate) fn code_of(what: &str, e: &eoslog::Error) -> i16 {
    log::debug!("{what}: {e}");
    e.code().code()
}

/// KIP-588: clients that predate PRODUCER_FENCED get INVALID_PRODUCER_EPOCH instead; `since` is
/// the first request version that knows the new code.
pub(crate) fn fenced_compat(code: i16, version: i16, since: i16) -> i16 {
    if code == ErrorCode::ProducerFenced.code() && version < since {
        ErrorCode::InvalidProducerEpoch.code()
    } else {
        code
    }
}

/// Kafka's topic id (URL-safe base64 without padding, as the engine stores it) as a UUID.
pub(crate) fn topic_uuid(topic_id: &str) -> uuid::Uuid {
    let mut out = [0u8; 16];
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in topic_id.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return uuid::Uuid::nil(),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n == 16 {
                return uuid::Uuid::nil();
            }
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    if n == 16 { uuid::Uuid::from_bytes(out) } else { uuid::Uuid::nil() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_decode_from_base64() {
        // 16 bytes 0x00..0x0f in URL-safe base64 without padding.
        let id = topic_uuid("AAECAwQFBgcICQoLDA0ODw");
        assert_eq!(id.as_bytes(), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(topic_uuid("-_8"), uuid::Uuid::nil());
        assert_eq!(topic_uuid("not base64!"), uuid::Uuid::nil());
    }

    #[test]
    fn fenced_codes_follow_the_client_version() {
        let fenced = ErrorCode::ProducerFenced.code();
        assert_eq!(fenced_compat(fenced, 1, 2), ErrorCode::InvalidProducerEpoch.code());
        assert_eq!(fenced_compat(fenced, 2, 2), fenced);
        assert_eq!(fenced_compat(0, 0, 2), 0);
    }
}
