//! Metadata, CreateTopics and FindCoordinator: a single node that leads every partition and
//! coordinates every group and transactional id.

use eoslog::{Error, ErrorCode, TopicDescription};
use kafka_protocol::messages::create_topics_response::{CreatableTopicResult, CreateTopicsResponse};
use kafka_protocol::messages::find_coordinator_response::{Coordinator, FindCoordinatorResponse};
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FindCoordinatorRequest, MetadataRequest, RequestHeader,
};

use super::{Broker, NODE_ID, code_of, codes, sb, topic_name, topic_uuid};

/// FindCoordinator key types.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

impl Broker {
    pub(crate) fn metadata(&self, req: MetadataRequest, v: i16, _h: &RequestHeader) -> MetadataResponse {
        let mut resp = MetadataResponse::default();
        let mut broker = MetadataResponseBroker::default();
        broker.node_id = BrokerId(NODE_ID);
        broker.host = sb(self.host.clone());
        broker.port = self.port;
        resp.brokers.push(broker);
        if v >= 2 {
            resp.cluster_id = Some(sb(self.cluster_id.clone()));
        }
        resp.controller_id = BrokerId(NODE_ID);
        let all = self.engine.topics();
        // v0 asks for every topic with an empty list; v1+ with a null one.
        let requested = match req.topics {
            None => None,
            Some(list) if v == 0 && list.is_empty() => None,
            Some(list) => Some(list),
        };
        let Some(requested) = requested else {
            resp.topics = all.iter().map(|t| topic_metadata(self, t, v)).collect();
            return resp;
        };
        let allow_create = (v < 4 || req.allow_auto_topic_creation) && self.config.auto_create_partitions > 0;
        for wanted in requested {
            let found = match &wanted.name {
                Some(name) => all.iter().find(|t| t.name == name.0.as_str()).cloned(),
                None => all.iter().find(|t| topic_uuid(&t.topic_id) == wanted.topic_id).cloned(),
            };
            let topic = match (found, &wanted.name) {
                (Some(t), _) => Ok(t),
                (None, Some(name)) if allow_create => self.auto_create(name.0.as_str()),
                (None, Some(name)) => {
                    Err(Error::UnknownTopicOrPartition { topic: name.0.to_string(), partition: -1 })
                }
                (None, None) => Err(Error::kafka(ErrorCode::UnknownTopicOrPartition, "unknown topic id")),
            };
            match topic {
                Ok(t) => resp.topics.push(topic_metadata(self, &t, v)),
                Err(e) => {
                    let mut t = MetadataResponseTopic::default();
                    t.name = wanted.name.clone();
                    t.topic_id = wanted.topic_id;
                    t.error_code = match (&e, wanted.name.is_none()) {
                        (_, true) => codes::UNKNOWN_TOPIC_ID,
                        _ => code_of("metadata", &e),
                    };
                    resp.topics.push(t);
                }
            }
        }
        resp
    }

    fn auto_create(&self, name: &str) -> eoslog::Result<TopicDescription> {
        match self.engine.create_topic_with(name, self.config.auto_create_partitions, &[]) {
            Ok(()) => {
                log::info!("auto-created topic {name} with {} partitions", self.config.auto_create_partitions)
            }
            // Another connection created it first.
            Err(Error::TopicAlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        self.engine.topic(name)
    }

    pub(crate) fn create_topics(
        &self,
        req: CreateTopicsRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> CreateTopicsResponse {
        let mut resp = CreateTopicsResponse::default();
        for t in req.topics {
            let name = t.name.0.to_string();
            let mut r = CreatableTopicResult::default();
            r.name = t.name.clone();
            let result = self.create_one(&t, req.validate_only);
            match result {
                Ok(partitions) => {
                    if v >= 5 {
                        r.num_partitions = partitions;
                        r.replication_factor = 1;
                    }
                    if v >= 7
                        && let Ok(d) = self.engine.topic(&name)
                    {
                        r.topic_id = topic_uuid(&d.topic_id);
                    }
                    if !req.validate_only {
                        log::info!("created topic {name} with {partitions} partitions");
                    }
                }
                Err((code, message)) => {
                    r.error_code = code;
                    r.error_message = Some(sb(message));
                    if v >= 5 {
                        r.num_partitions = -1;
                        r.replication_factor = -1;
                    }
                }
            }
            resp.topics.push(r);
        }
        resp
    }

    fn create_one(
        &self,
        t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
        validate_only: bool,
    ) -> Result<i32, (i16, String)> {
        let name = t.name.0.as_str();
        let err = |e: Error| (code_of("create topics", &e), e.to_string());
        if t.replication_factor != -1 && t.replication_factor != 1 {
            return Err((
                codes::INVALID_REPLICATION_FACTOR,
                format!("replication factor {} on a single-node broker", t.replication_factor),
            ));
        }
        let partitions = if t.assignments.is_empty() {
            match t.num_partitions {
                -1 => self.config.auto_create_partitions.max(1),
                n => n,
            }
        } else {
            if t.num_partitions != -1 || t.replication_factor != -1 {
                return Err((
                    ErrorCode::InvalidRequest.code(),
                    "a replica assignment excludes numPartitions and replicationFactor".into(),
                ));
            }
            let valid = t.assignments.iter().enumerate().all(|(i, a)| {
                a.partition_index == i as i32 && a.broker_ids.len() == 1 && a.broker_ids[0].0 == NODE_ID
            });
            if !valid {
                return Err((codes::INVALID_REPLICA_ASSIGNMENT, format!("only broker {NODE_ID} exists")));
            }
            t.assignments.len() as i32
        };
        let pairs: Vec<(&str, &str)> = t
            .configs
            .iter()
            .filter_map(|c| c.value.as_ref().map(|v| (c.name.as_str(), v.as_str())))
            .collect();
        if validate_only {
            eoslog::topics::validate_name(name).map_err(err)?;
            if eoslog::topics::is_internal(name) || self.engine.topic(name).is_ok() {
                return Err(err(Error::TopicAlreadyExists(name.to_string())));
            }
            if !(1..=100_000).contains(&partitions) {
                return Err(err(Error::InvalidPartitions(i64::from(partitions))));
            }
            let mut config = self.engine.config().topic_defaults.clone();
            config.apply(pairs.iter().copied()).map_err(err)?;
            return Ok(partitions);
        }
        self.engine.create_topic_with(name, partitions, &pairs).map_err(err)?;
        Ok(partitions)
    }

    pub(crate) fn find_coordinator(
        &self,
        req: FindCoordinatorRequest,
        v: i16,
        _h: &RequestHeader,
    ) -> FindCoordinatorResponse {
        let mut resp = FindCoordinatorResponse::default();
        let error = match req.key_type {
            KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => 0,
            other => {
                log::debug!("find coordinator: unsupported key type {other}");
                ErrorCode::InvalidRequest.code()
            }
        };
        if v >= 4 {
            for key in req.coordinator_keys {
                let mut c = Coordinator::default();
                c.key = key;
                c.error_code = error;
                if error == 0 {
                    c.node_id = BrokerId(NODE_ID);
                    c.host = sb(self.host.clone());
                    c.port = self.port;
                } else {
                    c.node_id = BrokerId(-1);
                    c.port = -1;
                }
                resp.coordinators.push(c);
            }
        } else {
            resp.error_code = error;
            if error == 0 {
                resp.node_id = BrokerId(NODE_ID);
                resp.host = sb(self.host.clone());
                resp.port = self.port;
            } else {
                resp.node_id = BrokerId(-1);
                resp.port = -1;
            }
        }
        resp
    }
}

fn topic_metadata(broker: &Broker, t: &TopicDescription, v: i16) -> MetadataResponseTopic {
    let mut out = MetadataResponseTopic::default();
    out.name = Some(topic_name(&t.name));
    if v >= 10 {
        out.topic_id = topic_uuid(&t.topic_id);
    }
    out.is_internal = t.internal;
    for p in 0..t.partitions {
        let mut mp = MetadataResponsePartition::default();
        mp.partition_index = p;
        mp.leader_id = BrokerId(NODE_ID);
        mp.leader_epoch = broker.engine.partition(&t.name, p).map(|l| l.leader_epoch()).unwrap_or(0);
        mp.replica_nodes = vec![BrokerId(NODE_ID)];
        mp.isr_nodes = vec![BrokerId(NODE_ID)];
        out.partitions.push(mp);
    }
    out
}
