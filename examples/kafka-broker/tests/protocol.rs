//! The broker on the wire, driven with `kafka-protocol`'s client-side codecs: every advertised
//! API at every advertised version gets an answer the codec decodes, unsupported requests get
//! UNSUPPORTED_VERSION on a connection that stays open, and malformed or oversized frames close
//! only their own connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use eoslog::RecordBatchBuilder;
use eoslog_broker::api::versions::SUPPORTED;
use eoslog_broker::{BrokerConfig, Server};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

struct TestBroker {
    server: Arc<Server>,
    thread: Option<JoinHandle<eoslog::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    fn start() -> TestBroker {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        config.auto_create_partitions = 2;
        tweak(&mut config);
        let server = Arc::new(Server::start(config).unwrap());
        let s = Arc::clone(&server);
        let thread = Some(std::thread::spawn(move || s.run()));
        TestBroker { server, thread, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn client(&self) -> Client {
        Client::connect(self.addr())
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.server.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().unwrap().expect("the engine closes cleanly");
        }
    }
}

struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn topic(s: &str) -> TopicName {
    TopicName(sb(s))
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client { stream, correlation_id: 0 }
    }

    fn send_frame(&mut self, frame: &[u8]) {
        let mut buf = Vec::with_capacity(frame.len() + 4);
        buf.extend_from_slice(&(frame.len() as i32).to_be_bytes());
        buf.extend_from_slice(frame);
        self.stream.write_all(&buf).unwrap();
    }

    /// Reads a response frame; `None` when the broker closed the connection.
    fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        if self.stream.read_exact(&mut len).is_err() {
            return None;
        }
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    fn request_frame<R: Request>(&mut self, version: i16, req: &R) -> BytesMut {
        self.correlation_id += 1;
        let key = ApiKey::try_from(R::KEY).unwrap();
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = self.correlation_id;
        header.client_id = Some(sb("protocol-test"));
        let mut buf = BytesMut::new();
        header.encode(&mut buf, key.request_header_version(version)).unwrap();
        req.encode(&mut buf, version).unwrap();
        buf
    }

    fn call<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        self.send::<R>(version, req);
        self.receive::<R>(version)
    }

    /// Sends a request without waiting for its answer (a JoinGroup that parks).
    fn send<R: Request>(&mut self, version: i16, req: &R) {
        let frame = self.request_frame(version, req);
        self.send_frame(&frame);
    }

    /// The answer to the last request sent.
    fn receive<R: Request>(&mut self, version: i16) -> R::Response {
        let mut resp = self.read_frame().unwrap_or_else(|| panic!("no answer to {} v{version}", R::KEY));
        let key = ApiKey::try_from(R::KEY).unwrap();
        let header = ResponseHeader::decode(&mut resp, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation_id);
        let decoded = R::Response::decode(&mut resp, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version} response does not decode: {e}"));
        assert_eq!(resp.remaining(), 0, "{key:?} v{version}: trailing bytes");
        decoded
    }

    fn api_versions(&mut self) -> ApiVersionsResponse {
        self.call(3, &ApiVersionsRequest::default())
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn batch(values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new();
    for v in values {
        b.append(now_ms(), None, Some(v.as_bytes()), &[]);
    }
    Bytes::from(b.build().unwrap())
}

fn produce_request(t: &str, partition: i32, records: Bytes) -> ProduceRequest {
    let mut p = produce_request::PartitionProduceData::default();
    p.index = partition;
    p.records = Some(records);
    let mut td = produce_request::TopicProduceData::default();
    td.name = topic(t);
    td.partition_data.push(p);
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data.push(td);
    req
}

fn metadata_request(topics: &[&str]) -> MetadataRequest {
    let mut req = MetadataRequest::default();
    req.allow_auto_topic_creation = true;
    req.topics = Some(
        topics
            .iter()
            .map(|t| {
                let mut m = metadata_request::MetadataRequestTopic::default();
                m.name = Some(topic(t));
                m
            })
            .collect(),
    );
    req
}

#[test]
fn api_versions_lists_exactly_what_is_implemented() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    let resp = c.api_versions();
    assert_eq!(resp.error_code, 0);
    let advertised: Vec<(i16, i16, i16)> =
        resp.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)).collect();
    let expected: Vec<(i16, i16, i16)> =
        SUPPORTED.iter().map(|&(k, min, max)| (k as i16, min, max)).collect();
    assert_eq!(advertised, expected);
    for v in 0..=4 {
        assert_eq!(c.call(v, &ApiVersionsRequest::default()).api_keys.len(), SUPPORTED.len());
    }
}

#[test]
fn a_too_new_api_versions_request_gets_the_list_in_v0() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    // A version from the future: the body cannot be parsed, the header's first fields can.
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::ApiVersions as i16);
    frame.put_i16(77);
    frame.put_i32(9);
    frame.put_i16(-1);
    frame.put_u8(0);
    c.send_frame(&frame);
    let mut resp = c.read_frame().unwrap();
    assert_eq!(resp.get_i32(), 9);
    let v0 = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(v0.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(v0.api_keys.len(), SUPPORTED.len());
}

#[test]
fn unsupported_apis_and_versions_get_an_error_and_keep_the_connection() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    let mut cases: Vec<(i16, i16)> = vec![
        (ApiKey::DescribeConfigs as i16, 1), // not implemented
        (ApiKey::Produce as i16, 12),        // beyond the advertised range
        (ApiKey::Fetch as i16, 3),           // below it
        (9999, 0),                           // not a Kafka API at all
    ];
    cases.push((ApiKey::SaslHandshake as i16, 1));
    for (i, (key, version)) in cases.into_iter().enumerate() {
        let mut frame = BytesMut::new();
        frame.put_i16(key);
        frame.put_i16(version);
        frame.put_i32(100 + i as i32);
        frame.put_i16(-1);
        c.send_frame(&frame);
        let mut resp = c.read_frame().expect("answered, not disconnected");
        assert_eq!(resp.get_i32(), 100 + i as i32);
        let flexible = ApiKey::try_from(key).is_ok_and(|k| k.response_header_version(version) >= 1);
        if flexible {
            assert_eq!(resp.get_u8(), 0);
        }
        assert_eq!(resp.get_i16(), 35, "UNSUPPORTED_VERSION for api {key} v{version}");
    }
    assert_eq!(c.api_versions().error_code, 0, "the connection still works");
}

#[test]
fn malformed_and_oversized_frames_close_only_their_connection() {
    let broker = TestBroker::start_with(|c| c.max_request_bytes = 64 * 1024);
    let mut bystander = broker.client();
    assert_eq!(bystander.api_versions().error_code, 0);

    // A Metadata v12 body that is not a Metadata request.
    let mut bad = broker.client();
    let mut frame = BytesMut::new();
    let mut header = RequestHeader::default();
    header.request_api_key = ApiKey::Metadata as i16;
    header.request_api_version = 12;
    header.encode(&mut frame, 2).unwrap();
    frame.put_slice(&[0xff, 0xff, 0xff, 0x7f, 0x01]);
    bad.send_frame(&frame);
    assert!(bad.read_frame().is_none(), "the malformed request closes its connection");

    // A frame too short for a header.
    let mut short = broker.client();
    short.send_frame(&[0, 3]);
    assert!(short.read_frame().is_none());

    // A length prefix beyond the limit: refused before the body is read or allocated.
    let mut huge = broker.client();
    huge.stream.write_all(&(1i32 << 30).to_be_bytes()).unwrap();
    assert!(huge.read_frame().is_none());
    let mut negative = broker.client();
    negative.stream.write_all(&(-5i32).to_be_bytes()).unwrap();
    assert!(negative.read_frame().is_none());

    assert_eq!(bystander.api_versions().error_code, 0, "other connections are untouched");
    assert_eq!(broker.client().api_versions().error_code, 0, "and new ones are accepted");
}

/// Every API at every advertised version answers with something the codec decodes (this is
/// what catches a response field set at a version that cannot carry it).
#[test]
fn every_advertised_version_round_trips() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    // A topic with data, an open transaction and committed offsets, so responses have content.
    let meta = c.call(12, &metadata_request(&["rt"]));
    assert_eq!(meta.topics[0].error_code, 0);
    assert_eq!(meta.topics[0].partitions.len(), 2);
    let topic_id = meta.topics[0].topic_id;
    for &(key, min, max) in SUPPORTED {
        for v in min..=max {
            match key {
                ApiKey::Produce => {
                    let resp = c.call(v, &produce_request("rt", 0, batch(&["a", "b"])));
                    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0, "v{v}");
                }
                ApiKey::Fetch => {
                    let mut p = fetch_request::FetchPartition::default();
                    p.partition = 0;
                    p.fetch_offset = 0;
                    p.partition_max_bytes = 1 << 20;
                    let mut t = fetch_request::FetchTopic::default();
                    if v >= 13 {
                        t.topic_id = topic_id;
                    } else {
                        t.topic = topic("rt");
                    }
                    t.partitions.push(p);
                    let mut req = FetchRequest::default();
                    req.replica_id = BrokerId(-1);
                    req.max_bytes = 1 << 20;
                    req.isolation_level = 1;
                    req.topics.push(t);
                    req.session_epoch = -1;
                    let resp = c.call(v, &req);
                    let p = &resp.responses[0].partitions[0];
                    assert_eq!(p.error_code, 0, "Fetch v{v}");
                    assert!(!p.records.as_ref().unwrap().is_empty(), "Fetch v{v} returns the batches");
                    assert_eq!(p.aborted_transactions.as_ref().map(Vec::len), Some(0));
                }
                ApiKey::ListOffsets => {
                    for ts in [-1, -2, 0] {
                        let mut p = list_offsets_request::ListOffsetsPartition::default();
                        p.partition_index = 0;
                        p.timestamp = ts;
                        let mut t = list_offsets_request::ListOffsetsTopic::default();
                        t.name = topic("rt");
                        t.partitions.push(p);
                        let mut req = ListOffsetsRequest::default();
                        req.replica_id = BrokerId(-1);
                        req.topics.push(t);
                        let resp = c.call(v, &req);
                        let p = &resp.topics[0].partitions[0];
                        assert_eq!(p.error_code, 0, "ListOffsets v{v}");
                        if ts == -2 || ts == 0 {
                            assert_eq!(p.offset, 0, "ListOffsets v{v} ts {ts}");
                        }
                    }
                }
                ApiKey::Metadata => {
                    let req =
                        if v == 0 { metadata_request(&["rt"]) } else { metadata_request(&["rt", "nope.x"]) };
                    let resp = c.call(v, &req);
                    assert_eq!(resp.topics[0].error_code, 0, "Metadata v{v}");
                    assert_eq!(resp.brokers[0].port, i32::from(broker.addr().port()));
                    let all = c.call(v, &MetadataRequest::default());
                    let _ = all;
                }
                ApiKey::OffsetCommit => {
                    let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
                    p.partition_index = 0;
                    p.committed_offset = 1;
                    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
                    t.name = topic("rt");
                    t.partitions.push(p);
                    let mut req = OffsetCommitRequest::default();
                    req.group_id = GroupId(sb("g"));
                    req.generation_id_or_member_epoch = -1;
                    req.topics.push(t);
                    let resp = c.call(v, &req);
                    assert_eq!(resp.topics[0].partitions[0].error_code, 0, "OffsetCommit v{v}");
                }
                ApiKey::OffsetFetch => {
                    let mut req = OffsetFetchRequest::default();
                    if v >= 8 {
                        let mut t = offset_fetch_request::OffsetFetchRequestTopics::default();
                        t.name = topic("rt");
                        t.partition_indexes = vec![0, 1];
                        let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
                        g.group_id = GroupId(sb("g"));
                        g.topics = Some(vec![t]);
                        req.groups.push(g);
                        let resp = c.call(v, &req);
                        let parts = &resp.groups[0].topics[0].partitions;
                        assert_eq!((parts[0].committed_offset, parts[1].committed_offset), (1, -1));
                    } else {
                        let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
                        t.name = topic("rt");
                        t.partition_indexes = vec![0, 1];
                        req.group_id = GroupId(sb("g"));
                        req.topics = Some(vec![t]);
                        let resp = c.call(v, &req);
                        let parts = &resp.topics[0].partitions;
                        assert_eq!((parts[0].committed_offset, parts[1].committed_offset), (1, -1), "v{v}");
                    }
                }
                ApiKey::FindCoordinator => {
                    let mut req = FindCoordinatorRequest::default();
                    if v >= 4 {
                        req.coordinator_keys = vec![sb("g"), sb("h")];
                    } else {
                        req.key = sb("g");
                    }
                    let resp = c.call(v, &req);
                    if v >= 4 {
                        assert_eq!(resp.coordinators.len(), 2);
                        assert_eq!(resp.coordinators[1].port, i32::from(broker.addr().port()));
                    } else {
                        assert_eq!(resp.port, i32::from(broker.addr().port()));
                    }
                }
                // Membership flows are in the group tests below; here every version decodes and
                // bad requests get Kafka's errors.
                ApiKey::JoinGroup => {
                    let mut req = JoinGroupRequest::default();
                    req.group_id = GroupId(sb("g"));
                    req.protocol_type = sb("consumer");
                    assert_eq!(c.call(v, &req).error_code, 26, "INVALID_SESSION_TIMEOUT");
                }
                ApiKey::Heartbeat => assert_eq!(c.call(v, &HeartbeatRequest::default()).error_code, 24),
                ApiKey::LeaveGroup => assert_eq!(c.call(v, &LeaveGroupRequest::default()).error_code, 24),
                ApiKey::SyncGroup => assert_eq!(c.call(v, &SyncGroupRequest::default()).error_code, 24),
                ApiKey::DescribeGroups => {
                    let mut req = DescribeGroupsRequest::default();
                    req.groups = vec![GroupId(sb("g")), GroupId(sb("unknown"))];
                    let resp = c.call(v, &req);
                    assert_eq!(resp.groups[0].group_state.as_str(), "Empty");
                    assert_eq!(resp.groups[1].group_state.as_str(), "Dead");
                }
                ApiKey::ListGroups => {
                    let resp = c.call(v, &ListGroupsRequest::default());
                    assert!(resp.groups.iter().any(|g| g.group_id.0.as_str() == "g"));
                }
                ApiKey::ApiVersions => assert_eq!(c.call(v, &ApiVersionsRequest::default()).error_code, 0),
                ApiKey::CreateTopics => {
                    let mut t = create_topics_request::CreatableTopic::default();
                    t.name = topic(&format!("created-{v}"));
                    t.num_partitions = 3;
                    t.replication_factor = 1;
                    let mut cfg = create_topics_request::CreatableTopicConfig::default();
                    cfg.name = sb("message.timestamp.type");
                    cfg.value = Some(sb("LogAppendTime"));
                    t.configs.push(cfg);
                    let mut req = CreateTopicsRequest::default();
                    req.topics.push(t.clone());
                    let resp = c.call(v, &req);
                    assert_eq!(resp.topics[0].error_code, 0, "CreateTopics v{v}");
                    assert_eq!(c.call(v, &req).topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");
                }
                ApiKey::InitProducerId => {
                    let mut req = InitProducerIdRequest::default();
                    req.transaction_timeout_ms = 60_000;
                    req.producer_id = ProducerId(-1);
                    req.producer_epoch = -1;
                    let resp = c.call(v, &req);
                    assert_eq!(resp.error_code, 0);
                    assert!(resp.producer_id.0 >= 0);
                }
                ApiKey::OffsetForLeaderEpoch => {
                    let mut p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default();
                    p.partition = 0;
                    p.leader_epoch = 0;
                    p.current_leader_epoch = -1;
                    let mut t = offset_for_leader_epoch_request::OffsetForLeaderTopic::default();
                    t.topic = topic("rt");
                    t.partitions.push(p);
                    let mut req = OffsetForLeaderEpochRequest::default();
                    req.replica_id = BrokerId(-1);
                    req.topics.push(t);
                    let resp = c.call(v, &req);
                    let p = &resp.topics[0].partitions[0];
                    assert_eq!((p.error_code, p.leader_epoch), (0, 0));
                    assert!(p.end_offset > 0);
                }
                ApiKey::AddPartitionsToTxn
                | ApiKey::AddOffsetsToTxn
                | ApiKey::EndTxn
                | ApiKey::TxnOffsetCommit => {
                    // Exercised in order by `transaction_over_the_wire_at_every_version`.
                }
                other => panic!("no round trip for {other:?}"),
            }
        }
    }
}

/// A whole transaction — add partitions, produce, add offsets, commit offsets, end — at each
/// version of the transaction APIs, checking the broker's answers and what a read_committed
/// fetch then sees.
#[test]
fn transaction_over_the_wire_at_every_version() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    c.call(12, &metadata_request(&["tx"]));
    for (round, v) in (0..=5i16).enumerate() {
        let tid = format!("tid-{v}");
        let mut init = InitProducerIdRequest::default();
        init.transactional_id = Some(TransactionalId(sb(&tid)));
        init.transaction_timeout_ms = 60_000;
        init.producer_id = ProducerId(-1);
        init.producer_epoch = -1;
        let ip = c.call(4, &init);
        assert_eq!(ip.error_code, 0);
        let (pid, epoch) = (ip.producer_id, ip.producer_epoch);

        let mut add = AddPartitionsToTxnRequest::default();
        let mut t = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default();
        t.name = topic("tx");
        t.partitions = vec![0];
        if v <= 3 {
            add.v3_and_below_transactional_id = TransactionalId(sb(&tid));
            add.v3_and_below_producer_id = pid;
            add.v3_and_below_producer_epoch = epoch;
            add.v3_and_below_topics = vec![t];
            let resp = c.call(v, &add);
            assert_eq!(resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code, 0);
        } else {
            let mut x = add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default();
            x.transactional_id = TransactionalId(sb(&tid));
            x.producer_id = pid;
            x.producer_epoch = epoch;
            x.topics = vec![t.clone()];
            // verifyOnly before the add: not in the transaction.
            x.verify_only = true;
            add.transactions = vec![x.clone()];
            let resp = c.call(v, &add);
            let code =
                resp.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code;
            assert_eq!(
                code,
                if v >= 5 { 120 } else { 48 },
                "TRANSACTION_ABORTABLE, or INVALID_TXN_STATE before v5"
            );
            x.verify_only = false;
            add.transactions = vec![x];
            let resp = c.call(v, &add);
            let code =
                resp.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code;
            assert_eq!(code, 0);
        }
        // An unknown partition fails alone; the others are not attempted.
        let mut bad = AddPartitionsToTxnRequest::default();
        let mut t1 = add_partitions_to_txn_request::AddPartitionsToTxnTopic::default();
        t1.name = topic("tx");
        t1.partitions = vec![0, 99];
        bad.v3_and_below_transactional_id = TransactionalId(sb(&tid));
        bad.v3_and_below_producer_id = pid;
        bad.v3_and_below_producer_epoch = epoch;
        bad.v3_and_below_topics = vec![t1];
        let resp = c.call(0, &bad);
        let codes: Vec<i16> = resp.results_by_topic_v3_and_below[0]
            .results_by_partition
            .iter()
            .map(|p| p.partition_error_code)
            .collect();
        assert_eq!(codes, vec![55, 3]);

        let mut b = RecordBatchBuilder::new().producer(pid.0, epoch, 0).transactional(true);
        b.append(now_ms(), None, Some(format!("round-{round}").as_bytes()), &[]);
        let mut produce = produce_request("tx", 0, Bytes::from(b.build().unwrap()));
        produce.transactional_id = Some(TransactionalId(sb(&tid)));
        let resp = c.call(10, &produce);
        assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);

        let av = v.min(4);
        let mut ao = AddOffsetsToTxnRequest::default();
        ao.transactional_id = TransactionalId(sb(&tid));
        ao.producer_id = pid;
        ao.producer_epoch = epoch;
        ao.group_id = GroupId(sb("copy-group"));
        assert_eq!(c.call(av, &ao).error_code, 0);

        let mut tp = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default();
        tp.partition_index = 0;
        tp.committed_offset = 10 + round as i64;
        let mut tt = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default();
        tt.name = topic("tx");
        tt.partitions.push(tp);
        let mut toc = TxnOffsetCommitRequest::default();
        toc.transactional_id = TransactionalId(sb(&tid));
        toc.group_id = GroupId(sb("copy-group"));
        toc.producer_id = pid;
        toc.producer_epoch = epoch;
        toc.generation_id = -1;
        toc.topics.push(tt);
        let resp = c.call(v, &toc);
        assert_eq!(resp.topics[0].partitions[0].error_code, 0, "TxnOffsetCommit v{v}");
        // Until the transaction ends the offset is pending: unstable to a client that asks for
        // stable offsets, the previous one otherwise.
        let mut g = offset_fetch_request::OffsetFetchRequestTopic::default();
        g.name = topic("tx");
        g.partition_indexes = vec![0];
        let mut of = OffsetFetchRequest::default();
        of.group_id = GroupId(sb("copy-group"));
        of.topics = Some(vec![g]);
        of.require_stable = true;
        let pending = c.call(7, &of);
        assert_eq!(pending.topics[0].partitions[0].error_code, 88, "UNSTABLE_OFFSET_COMMIT");
        of.require_stable = false;
        let before = c.call(7, &of);
        let expected = if round == 0 { -1 } else { 10 + round as i64 - 1 };
        assert_eq!(before.topics[0].partitions[0].committed_offset, expected);

        let mut end = EndTxnRequest::default();
        end.transactional_id = TransactionalId(sb(&tid));
        end.producer_id = pid;
        end.producer_epoch = epoch;
        end.committed = true;
        // EndTxn v5 is how a transaction-version-2 client (AddPartitionsToTxn v4+) ends.
        let ev = if v == 4 { 5 } else { v };
        let resp = c.call(ev, &end);
        assert_eq!(resp.error_code, 0, "EndTxn v{v}");
        if ev >= 5 {
            assert_eq!((resp.producer_id, resp.producer_epoch), (pid, epoch + 1), "TV2 bumps the epoch");
        }
        // A stale epoch is fenced; old clients hear INVALID_PRODUCER_EPOCH.
        end.producer_epoch = epoch - 1;
        let code = c.call(ev, &end).error_code;
        assert!(code == 90 || code == 47, "EndTxn v{v} with a stale epoch: {code}");
        if v < 2 {
            assert_eq!(code, 47);
        }
    }
    // Every round committed: the read_committed view has all of them and the offsets landed.
    let mut p = fetch_request::FetchPartition::default();
    p.partition_max_bytes = 1 << 20;
    let mut t = fetch_request::FetchTopic::default();
    t.topic = topic("tx");
    t.partitions.push(p);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_bytes = 1 << 20;
    req.isolation_level = 1;
    req.session_epoch = -1;
    req.topics.push(t);
    let resp = c.call(11, &req);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.last_stable_offset, p.high_watermark, "no transaction left open");
    assert_eq!(p.high_watermark, 12, "6 records and 6 commit markers");
    let mut g = offset_fetch_request::OffsetFetchRequestTopic::default();
    g.name = topic("tx");
    g.partition_indexes = vec![0];
    let mut of = OffsetFetchRequest::default();
    of.group_id = GroupId(sb("copy-group"));
    of.topics = Some(vec![g]);
    of.require_stable = true;
    let resp = c.call(7, &of);
    assert_eq!(resp.topics[0].partitions[0].committed_offset, 15);
}

#[test]
fn fetch_long_polls_until_data_arrives() {
    let broker = TestBroker::start();
    let mut c = broker.client();
    c.call(12, &metadata_request(&["lp"]));
    let mut p = fetch_request::FetchPartition::default();
    p.partition_max_bytes = 1 << 20;
    let mut t = fetch_request::FetchTopic::default();
    t.topic = topic("lp");
    t.partitions.push(p);
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_bytes = 1 << 20;
    req.min_bytes = 1;
    req.max_wait_ms = 10_000;
    req.session_epoch = -1;
    req.topics.push(t);
    let addr = broker.addr();
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let mut p = Client::connect(addr);
        p.call(9, &produce_request("lp", 0, batch(&["late"])));
    });
    let started = Instant::now();
    let resp = c.call(12, &req);
    let waited = started.elapsed();
    producer.join().unwrap();
    assert!(!resp.responses[0].partitions[0].records.as_ref().unwrap().is_empty());
    assert!(waited >= Duration::from_millis(250), "parked until the produce ({waited:?})");
    assert!(waited < Duration::from_secs(9), "woken by the produce, not the timeout ({waited:?})");

    // With nothing to return, the fetch answers after max_wait_ms.
    req.max_wait_ms = 200;
    req.topics[0].partitions[0].fetch_offset = 1;
    let started = Instant::now();
    let resp = c.call(12, &req);
    assert!(resp.responses[0].partitions[0].records.as_ref().unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[test]
fn produce_with_acks_zero_gets_no_answer_and_the_test_hook_drops_connections() {
    let broker = TestBroker::start_with(|c| c.drop_produce_response_every = 2);
    let mut c = broker.client();
    c.call(12, &metadata_request(&["hook"]));
    let mut req = produce_request("hook", 0, batch(&["zero"]));
    req.acks = 0;
    let frame = c.request_frame(9, &req);
    c.send_frame(&frame);
    // The next answer is for the next request: acks=0 produced none.
    assert_eq!(c.api_versions().error_code, 0);
    // acks=0 requests do not count for the hook; this is the hook's first, answered...
    let resp = c.call(9, &produce_request("hook", 0, batch(&["one"])));
    assert_eq!(resp.responses[0].partition_responses[0].base_offset, 1);
    // ...and its second is appended, then the connection drops.
    let frame = c.request_frame(9, &produce_request("hook", 0, batch(&["two"])));
    c.send_frame(&frame);
    assert!(c.read_frame().is_none());
    let log = broker.server.broker().engine().partition("hook", 0).unwrap();
    assert_eq!(log.log_end_offset(), 3, "appended before the drop");
}

// ------------------------------------------------------------------------------ consumer groups

/// Session and rebalance timeout of the test members: long enough that nothing expires.
const SESSION_MS: i32 = 30_000;

/// A broker whose groups form at once (no `group.initial.rebalance.delay.ms`).
fn group_broker() -> TestBroker {
    TestBroker::start_with(|c| c.engine.group_initial_rebalance_delay_ms = 0)
}

fn join_request(
    v: i16,
    group: &str,
    member: &str,
    instance: Option<&str>,
    metadata: &str,
) -> JoinGroupRequest {
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = sb("range");
    p.metadata = Bytes::from(metadata.to_string());
    let mut req = JoinGroupRequest::default();
    req.group_id = GroupId(sb(group));
    req.session_timeout_ms = SESSION_MS;
    req.rebalance_timeout_ms = SESSION_MS;
    req.member_id = sb(member);
    if v >= 5 {
        req.group_instance_id = instance.map(sb);
    }
    req.protocol_type = sb("consumer");
    req.protocols = vec![p];
    req
}

/// A new dynamic member's join: from v4 on, the first JoinGroup only hands out the member id
/// (MEMBER_ID_REQUIRED, KIP-394) and the second one joins. Returns the answer to the last one.
fn join_new(c: &mut Client, v: i16, group: &str, metadata: &str) -> JoinGroupResponse {
    let first = c.call(v, &join_request(v, group, "", None, metadata));
    if v < 4 {
        return first;
    }
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED at JoinGroup v{v}");
    assert_eq!(first.generation_id, -1);
    assert!(!first.member_id.is_empty(), "the member id to rejoin with");
    let member_id = first.member_id.to_string();
    c.call(v, &join_request(v, group, &member_id, None, metadata))
}

fn sync_request(
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    assignments: &[(&str, &str)],
) -> SyncGroupRequest {
    let mut req = SyncGroupRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id = generation;
    req.member_id = sb(member);
    if v >= 5 {
        req.protocol_type = Some(sb("consumer"));
        req.protocol_name = Some(sb("range"));
    }
    req.assignments = assignments
        .iter()
        .map(|(m, a)| {
            let mut x = sync_group_request::SyncGroupRequestAssignment::default();
            x.member_id = sb(m);
            x.assignment = Bytes::from(a.to_string());
            x
        })
        .collect();
    req
}

fn heartbeat(
    c: &mut Client,
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    instance: Option<&str>,
) -> i16 {
    let mut req = HeartbeatRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id = generation;
    req.member_id = sb(member);
    if v >= 3 {
        req.group_instance_id = instance.map(sb);
    }
    c.call(v, &req).error_code
}

fn offset_commit(
    c: &mut Client,
    v: i16,
    group: &str,
    generation: i32,
    member: &str,
    instance: Option<&str>,
    offset: i64,
) -> i16 {
    let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = offset;
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = topic("gt");
    t.partitions.push(p);
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id_or_member_epoch = generation;
    req.member_id = sb(member);
    if v >= 7 {
        req.group_instance_id = instance.map(sb);
    }
    req.topics.push(t);
    c.call(v, &req).topics[0].partitions[0].error_code
}

fn committed_offset(c: &mut Client, group: &str) -> i64 {
    let mut t = offset_fetch_request::OffsetFetchRequestTopic::default();
    t.name = topic("gt");
    t.partition_indexes = vec![0];
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(sb(group));
    req.topics = Some(vec![t]);
    req.require_stable = true;
    let resp = c.call(7, &req);
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    resp.topics[0].partitions[0].committed_offset
}

/// Join, sync, heartbeat, commit, a second member's join parked while the first keeps using
/// its own connection, the rebalance, generation fencing of commits, and leave — once per
/// JoinGroup version, with every version of SyncGroup, Heartbeat, LeaveGroup and OffsetCommit
/// along the way.
#[test]
fn group_membership_over_the_wire_at_every_version() {
    let broker = group_broker();
    let mut a = broker.client();
    let mut b = broker.client();
    a.call(12, &metadata_request(&["gt"]));
    for v in 0..=9i16 {
        let (sv, hv, lv, cv) = (v.min(5), v.min(4), v.min(5), v.clamp(2, 8));
        let group = format!("members-{v}");
        let group = group.as_str();

        // A alone: generation 1, A leads and sees itself with its metadata.
        let ja = join_new(&mut a, v, group, "meta-a");
        assert_eq!(ja.error_code, 0, "JoinGroup v{v}");
        assert_eq!(ja.generation_id, 1);
        assert_eq!(ja.leader, ja.member_id);
        assert_eq!(ja.members.len(), 1);
        assert_eq!(ja.members[0].metadata.as_ref(), b"meta-a");
        if v >= 7 {
            assert_eq!(ja.protocol_type.as_deref(), Some("consumer"));
        }
        assert_eq!(ja.protocol_name.as_deref(), Some("range"));
        assert!(!ja.skip_assignment);
        let a_id = ja.member_id.to_string();
        let sa = a.call(sv, &sync_request(sv, group, 1, &a_id, &[(&a_id, "assign-a1")]));
        assert_eq!(sa.error_code, 0, "SyncGroup v{sv}");
        assert_eq!(sa.assignment.as_ref(), b"assign-a1");
        if sv >= 5 {
            assert_eq!(sa.protocol_name.as_deref(), Some("range"));
        }
        // A SyncGroup naming another protocol is refused (v5+ carries it).
        if sv >= 5 {
            let mut bad = sync_request(sv, group, 1, &a_id, &[]);
            bad.protocol_name = Some(sb("roundrobin"));
            assert_eq!(a.call(sv, &bad).error_code, 23, "INCONSISTENT_GROUP_PROTOCOL");
        }

        assert_eq!(heartbeat(&mut a, hv, group, 1, &a_id, None), 0, "Heartbeat v{hv}");
        assert_eq!(heartbeat(&mut a, hv, group, 7, &a_id, None), 22, "ILLEGAL_GENERATION");
        assert_eq!(heartbeat(&mut a, hv, group, 1, "nobody", None), 25, "UNKNOWN_MEMBER_ID");
        assert_eq!(offset_commit(&mut a, cv, group, 1, &a_id, None, 10), 0, "OffsetCommit v{cv}");
        assert_eq!(
            offset_commit(&mut a, cv, group, 0, &a_id, None, 11),
            22,
            "a generation that is not current"
        );
        assert_eq!(offset_commit(&mut a, cv, group, 1, "nobody", None, 11), 25);
        assert_eq!(offset_commit(&mut a, cv, group, -1, "", None, 11), 25, "no membership, group not empty");
        assert_eq!(committed_offset(&mut a, group), 10);

        // B joins and parks until A rejoins; A's connection keeps working meanwhile.
        b.send(v, &join_request(v, group, "", None, "meta-b"));
        let b_id = if v >= 4 {
            let first = b.receive::<JoinGroupRequest>(v);
            assert_eq!(first.error_code, 79);
            let id = first.member_id.to_string();
            b.send(v, &join_request(v, group, &id, None, "meta-b"));
            Some(id)
        } else {
            None
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let code = heartbeat(&mut a, hv, group, 1, &a_id, None);
            if code == 27 {
                break;
            }
            assert_eq!(code, 0);
            assert!(Instant::now() < deadline, "B's join did not start a rebalance");
            std::thread::sleep(Duration::from_millis(10));
        }
        // The previous generation may still commit what it processed while the group prepares
        // the rebalance.
        assert_eq!(offset_commit(&mut a, cv, group, 1, &a_id, None, 12), 0);
        let ja2 = a.call(v, &join_request(v, group, &a_id, None, "meta-a"));
        let jb = b.receive::<JoinGroupRequest>(v);
        assert_eq!((ja2.error_code, jb.error_code), (0, 0));
        assert_eq!((ja2.generation_id, jb.generation_id), (2, 2));
        let b_id_now = jb.member_id.to_string();
        if let Some(id) = &b_id {
            assert_eq!(&b_id_now, id);
        }
        let (leader, follower) =
            if ja2.leader == ja2.member_id { (&mut a, &mut b) } else { (&mut b, &mut a) };
        let (leader_resp, follower_resp) =
            if ja2.leader == ja2.member_id { (&ja2, &jb) } else { (&jb, &ja2) };
        assert_eq!(leader_resp.members.len(), 2, "the leader sees both members");
        assert!(follower_resp.members.is_empty());
        let leader_id = leader_resp.member_id.to_string();
        let follower_id = follower_resp.member_id.to_string();

        // Generation 1 is over; generation 2 has no assignment yet.
        assert_eq!(offset_commit(leader, cv, group, 1, &leader_id, None, 13), 22);
        assert_eq!(offset_commit(leader, cv, group, 2, &leader_id, None, 13), 27, "REBALANCE_IN_PROGRESS");

        // The follower's SyncGroup parks until the leader's brings the assignment.
        follower.send(sv, &sync_request(sv, group, 2, &follower_id, &[]));
        let sl = leader.call(
            sv,
            &sync_request(
                sv,
                group,
                2,
                &leader_id,
                &[(&leader_id, "for-leader"), (&follower_id, "for-follower")],
            ),
        );
        let sf = follower.receive::<SyncGroupRequest>(sv);
        assert_eq!((sl.error_code, sf.error_code), (0, 0));
        assert_eq!(sl.assignment.as_ref(), b"for-leader");
        assert_eq!(sf.assignment.as_ref(), b"for-follower");
        assert_eq!(offset_commit(follower, cv, group, 2, &follower_id, None, 14), 0);
        assert_eq!(committed_offset(follower, group), 14);

        // The follower leaves (in a batch with an unknown member from v3 on).
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(sb(group));
        if lv >= 3 {
            for id in [follower_id.as_str(), "nobody"] {
                let mut m = leave_group_request::MemberIdentity::default();
                m.member_id = sb(id);
                if lv >= 5 {
                    m.reason = Some(sb("test"));
                }
                leave.members.push(m);
            }
            let resp = follower.call(lv, &leave);
            assert_eq!(resp.error_code, 0, "LeaveGroup v{lv}");
            let codes: Vec<i16> = resp.members.iter().map(|m| m.error_code).collect();
            assert_eq!(codes, vec![0, 25]);
            assert_eq!(resp.members[0].member_id.as_str(), follower_id);
        } else {
            leave.member_id = sb(&follower_id);
            assert_eq!(follower.call(lv, &leave).error_code, 0, "LeaveGroup v{lv}");
            assert_eq!(follower.call(lv, &leave).error_code, 25, "gone already");
        }
        assert_eq!(heartbeat(leader, hv, group, 2, &leader_id, None), 27, "the leader must rejoin");
        assert_eq!(heartbeat(follower, hv, group, 2, &follower_id, None), 25);
    }
}

/// Static membership (JoinGroup v5+): a restarted instance takes over its member without a
/// rebalance and fences the member id it replaced; v9 tells a rejoining static leader to skip
/// the assignment (KIP-814).
#[test]
fn static_members_rejoin_without_a_rebalance_and_fence_their_predecessor() {
    let broker = group_broker();
    let mut c = broker.client();
    c.call(12, &metadata_request(&["gt"]));
    for v in 5..=9i16 {
        let group = format!("static-{v}");
        let group = group.as_str();
        // Static members get their member id at once, never MEMBER_ID_REQUIRED.
        let j = c.call(v, &join_request(v, group, "", Some("instance-1"), "meta"));
        assert_eq!((j.error_code, j.generation_id), (0, 1), "JoinGroup v{v}");
        assert_eq!(j.members[0].group_instance_id.as_deref(), Some("instance-1"));
        let old = j.member_id.to_string();
        let sv = v.min(5);
        let mut sync = sync_request(sv, group, 1, &old, &[(&old, "mine")]);
        sync.group_instance_id = Some(sb("instance-1"));
        assert_eq!(c.call(sv, &sync).error_code, 0);

        // The instance restarts: same generation, a new member id.
        let j2 = c.call(v, &join_request(v, group, "", Some("instance-1"), "meta"));
        assert_eq!((j2.error_code, j2.generation_id), (0, 1), "no rebalance");
        let new = j2.member_id.to_string();
        assert_ne!(new, old);
        if v >= 9 {
            assert!(j2.skip_assignment, "the static leader keeps the stored assignment");
            assert_eq!(j2.leader.as_str(), new);
            assert_eq!(j2.members.len(), 1);
        } else {
            assert!(!j2.skip_assignment);
            assert_eq!(j2.leader.as_str(), old, "before KIP-814 the old leader id is named");
            assert!(j2.members.is_empty());
        }
        let mut sync = sync_request(sv, group, 1, &new, &[]);
        sync.group_instance_id = Some(sb("instance-1"));
        let s = c.call(sv, &sync);
        assert_eq!((s.error_code, s.assignment.as_ref()), (0, &b"mine"[..]), "the assignment is kept");

        // The replaced member id is fenced everywhere.
        let hv = v.min(4);
        assert_eq!(heartbeat(&mut c, hv, group, 1, &old, Some("instance-1")), 82, "FENCED_INSTANCE_ID");
        assert_eq!(heartbeat(&mut c, hv, group, 1, &new, Some("instance-1")), 0);
        let cv = v.clamp(7, 8);
        assert_eq!(offset_commit(&mut c, cv, group, 1, &old, Some("instance-1"), 5), 82);
        assert_eq!(offset_commit(&mut c, cv, group, 1, &new, Some("instance-1"), 5), 0);

        // DescribeGroups shows the member as it is now.
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![GroupId(sb(group))];
        let d = c.call(5, &req);
        let g = &d.groups[0];
        assert_eq!(
            (g.group_state.as_str(), g.protocol_type.as_str(), g.protocol_data.as_str()),
            ("Stable", "consumer", "range")
        );
        assert_eq!(g.members.len(), 1);
        let m = &g.members[0];
        assert_eq!(m.member_id.as_str(), new);
        assert_eq!(m.group_instance_id.as_deref(), Some("instance-1"));
        assert_eq!((m.client_id.as_str(), m.client_host.as_str()), ("protocol-test", "/127.0.0.1"));
        assert_eq!((m.member_metadata.as_ref(), m.member_assignment.as_ref()), (&b"meta"[..], &b"mine"[..]));

        // LeaveGroup v3+ removes a static member by instance id alone.
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(sb(group));
        let mut m = leave_group_request::MemberIdentity::default();
        m.group_instance_id = Some(sb("instance-1"));
        leave.members.push(m);
        let resp = c.call(v.min(5), &leave);
        assert_eq!((resp.error_code, resp.members[0].error_code), (0, 0));
        let d = c.call(5, &req);
        assert_eq!(d.groups[0].group_state.as_str(), "Empty");
    }
}

/// A transactional producer as the wire sees it.
struct TxnProducer {
    tid: String,
    pid: ProducerId,
    epoch: i16,
}

fn txn_offset_commit(
    c: &mut Client,
    v: i16,
    p: &TxnProducer,
    group: &str,
    generation: i32,
    member: &str,
    offset: i64,
) -> i16 {
    let mut tp = txn_offset_commit_request::TxnOffsetCommitRequestPartition::default();
    tp.partition_index = 0;
    tp.committed_offset = offset;
    let mut tt = txn_offset_commit_request::TxnOffsetCommitRequestTopic::default();
    tt.name = topic("gt");
    tt.partitions.push(tp);
    let mut req = TxnOffsetCommitRequest::default();
    req.transactional_id = TransactionalId(sb(&p.tid));
    req.group_id = GroupId(sb(group));
    req.producer_id = p.pid;
    req.producer_epoch = p.epoch;
    if v >= 3 {
        req.generation_id = generation;
        req.member_id = sb(member);
    }
    req.topics.push(tt);
    c.call(v, &req).topics[0].partitions[0].error_code
}

/// KIP-447 over the wire: TxnOffsetCommit v3+ carries the consumer's membership and is refused
/// for a generation or member that is not current; it is verified against the transaction
/// first (KIP-890); older versions carry no membership and are accepted while the group has
/// members, as Kafka accepts them.
#[test]
fn txn_offset_commits_are_fenced_by_generation() {
    let broker = group_broker();
    let mut a = broker.client();
    let mut b = broker.client();
    a.call(12, &metadata_request(&["gt"]));
    for v in 0..=5i16 {
        let group = format!("txn-{v}");
        let group = group.as_str();
        let tid = format!("txn-fence-{v}");
        let ja = join_new(&mut a, 5, group, "m");
        let a_id = ja.member_id.to_string();
        assert_eq!(a.call(5, &sync_request(5, group, 1, &a_id, &[])).error_code, 0);

        let mut init = InitProducerIdRequest::default();
        init.transactional_id = Some(TransactionalId(sb(&tid)));
        init.transaction_timeout_ms = 60_000;
        init.producer_id = ProducerId(-1);
        init.producer_epoch = -1;
        let ip = a.call(4, &init);
        let (pid, epoch) = (ip.producer_id, ip.producer_epoch);
        let p = TxnProducer { tid: tid.clone(), pid, epoch };

        // Not in a transaction yet: verification fails before membership is looked at.
        let code = txn_offset_commit(&mut a, v, &p, group, 7, "stale", 1);
        assert_eq!(code, if v >= 5 { 120 } else { 48 }, "TxnOffsetCommit v{v} outside a transaction");

        let mut ao = AddOffsetsToTxnRequest::default();
        ao.transactional_id = TransactionalId(sb(&tid));
        ao.producer_id = pid;
        ao.producer_epoch = epoch;
        ao.group_id = GroupId(sb(group));
        assert_eq!(a.call(3, &ao).error_code, 0);
        if v >= 3 {
            assert_eq!(txn_offset_commit(&mut a, v, &p, group, 7, &a_id, 1), 22, "v{v}");
            assert_eq!(txn_offset_commit(&mut a, v, &p, group, 1, "nobody", 1), 25);
        }
        assert_eq!(txn_offset_commit(&mut a, v, &p, group, 1, &a_id, 20), 0, "TxnOffsetCommit v{v}");

        // B joins: while the group prepares the rebalance, generation 1 may still commit in a
        // transaction; once generation 2 exists, generation 1 is fenced.
        b.send(5, &join_request(5, group, "", None, "m"));
        let first = b.receive::<JoinGroupRequest>(5);
        let b_id = first.member_id.to_string();
        b.send(5, &join_request(5, group, &b_id, None, "m"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while heartbeat(&mut a, 4, group, 1, &a_id, None) != 27 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(txn_offset_commit(&mut a, v, &p, group, 1, &a_id, 21), 0);
        let ja2 = a.call(5, &join_request(5, group, &a_id, None, "m"));
        let jb = b.receive::<JoinGroupRequest>(5);
        assert_eq!((ja2.generation_id, jb.generation_id), (2, 2));
        if v >= 3 {
            assert_eq!(txn_offset_commit(&mut a, v, &p, group, 1, &a_id, 22), 22, "zombie generation");
            // Unlike OffsetCommit, a current member may commit before its SyncGroup.
            assert_eq!(txn_offset_commit(&mut a, v, &p, group, 2, &a_id, 22), 0);
        } else {
            // No membership in the request: nothing to fence (pre-KIP-447 clients).
            assert_eq!(txn_offset_commit(&mut a, v, &p, group, 1, &a_id, 22), 0);
        }

        let mut end = EndTxnRequest::default();
        end.transactional_id = TransactionalId(sb(&tid));
        end.producer_id = pid;
        end.producer_epoch = epoch;
        end.committed = true;
        assert_eq!(a.call(3, &end).error_code, 0);
        assert_eq!(committed_offset(&mut a, group), 22, "the last accepted commit of the transaction");
        // Leave both members so the next round starts clean.
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(sb(group));
        for id in [&a_id, &b_id] {
            let mut m = leave_group_request::MemberIdentity::default();
            m.member_id = sb(id);
            leave.members.push(m);
        }
        assert_eq!(a.call(3, &leave).members.iter().map(|m| m.error_code).collect::<Vec<_>>(), vec![0, 0]);
    }
}

/// ListGroups and DescribeGroups come from the coordinator, plus groups that only have offsets.
#[test]
fn list_and_describe_groups_show_the_coordinator_state() {
    let broker = group_broker();
    let mut c = broker.client();
    c.call(12, &metadata_request(&["gt"]));
    let j = join_new(&mut c, 9, "listed", "m");
    assert_eq!(j.error_code, 0);
    // A parked join keeps the group in CompletingRebalance until SyncGroup; not needed here:
    // the generation exists and the group waits for the assignment.
    assert_eq!(offset_commit(&mut c, 8, "offsets-only", -1, "", None, 3), 0);
    for v in 0..=4 {
        let resp = c.call(v, &ListGroupsRequest::default());
        let ids: Vec<&str> = resp.groups.iter().map(|g| g.group_id.0.as_str()).collect();
        assert_eq!(ids, vec!["listed", "offsets-only"], "ListGroups v{v}");
        assert_eq!(resp.groups[0].protocol_type.as_str(), "consumer");
        if v >= 4 {
            assert_eq!(resp.groups[0].group_state.as_str(), "CompletingRebalance");
            assert_eq!(resp.groups[1].group_state.as_str(), "Empty");
            let mut filtered = ListGroupsRequest::default();
            filtered.states_filter = vec![sb("Empty")];
            let only: Vec<String> =
                c.call(v, &filtered).groups.iter().map(|g| g.group_id.0.to_string()).collect();
            assert_eq!(only, vec!["offsets-only".to_string()]);
        }
    }
    for v in 0..=5 {
        let mut req = DescribeGroupsRequest::default();
        req.groups = vec![GroupId(sb("listed")), GroupId(sb("offsets-only")), GroupId(sb("never"))];
        let resp = c.call(v, &req);
        let states: Vec<&str> = resp.groups.iter().map(|g| g.group_state.as_str()).collect();
        assert_eq!(states, vec!["CompletingRebalance", "Empty", "Dead"], "DescribeGroups v{v}");
        assert_eq!(resp.groups[0].members.len(), 1);
        assert_eq!(resp.groups[0].members[0].member_id, j.member_id);
    }
}

/// A JoinGroup parked in the coordinator neither blocks other connections nor holds up
/// shutdown: the broker stops and closes its engine cleanly while a member waits.
#[test]
fn a_parked_join_does_not_hold_up_shutdown() {
    let broker = group_broker();
    let mut a = broker.client();
    let j = join_new(&mut a, 9, "parked", "m");
    let a_id = j.member_id.to_string();
    assert_eq!(a.call(5, &sync_request(5, "parked", 1, &a_id, &[])).error_code, 0);
    // B's join waits for A to rejoin, which it never does (30 s rebalance timeout).
    let mut b = broker.client();
    let first = b.call(9, &join_request(9, "parked", "", None, "m"));
    let b_id = first.member_id.to_string();
    b.send(9, &join_request(9, "parked", &b_id, None, "m"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(a.api_versions().error_code, 0, "other connections are served");
    assert_eq!(broker.client().api_versions().error_code, 0);
    let started = Instant::now();
    drop(broker); // shuts down and joins the server thread: the engine closes cleanly
    assert!(started.elapsed() < Duration::from_secs(10), "shutdown took {:?}", started.elapsed());
    // B's connection is closed, or answered NOT_COORDINATOR.
    match b.read_frame() {
        None => {}
        Some(mut resp) => {
            resp.advance(4);
            resp.get_u8();
            let decoded = JoinGroupResponse::decode(&mut resp, 9).unwrap();
            assert_eq!(decoded.error_code, 16);
        }
    }
}
