//! Helpers shared by the client tests: a seeded RNG, reading a partition the way a consumer
//! does, and running a child process that can be SIGKILLed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use eoslog::client::{Consumer, ConsumerConfig, ConsumerRecord};
use eoslog::{Engine, EngineConfig, IsolationLevel, TopicPartition};

/// splitmix64: small, seeded, good enough to pick kill points and abort decisions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

pub fn open(dir: &Path) -> Engine {
    Engine::open(dir, EngineConfig::default()).unwrap()
}

/// Every record of a partition from its start, as a consumer with `isolation` sees it.
pub fn read_all(
    engine: &Engine,
    topic: &str,
    partition: i32,
    isolation: IsolationLevel,
) -> Vec<ConsumerRecord> {
    let level = match isolation {
        IsolationLevel::ReadCommitted => "read_committed",
        _ => "read_uncommitted",
    };
    let consumer = Consumer::new(
        engine,
        ConsumerConfig::from_pairs(&[("isolation.level", level), ("auto.offset.reset", "earliest")]).unwrap(),
    )
    .unwrap();
    let tp = TopicPartition::new(topic, partition);
    consumer.assign(std::slice::from_ref(&tp)).unwrap();
    let end = consumer.end_offsets(std::slice::from_ref(&tp)).unwrap()[&tp];
    let mut out = Vec::new();
    let mut stuck = 0;
    while consumer.position(&tp).unwrap() < end {
        let got = consumer.poll(Duration::ZERO).unwrap();
        stuck = if got.is_empty() { stuck + 1 } else { 0 };
        assert!(stuck < 1000, "{tp}: position {} never reaches {end}", consumer.position(&tp).unwrap());
        out.extend(got);
    }
    out
}

pub fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records.iter().map(|r| r.value_str().unwrap().into_owned()).collect()
}

/// The test binary re-executing itself to run one test function as a child process (the
/// function checks `role_var` and does the child's work when it is set). Works with a plain
/// `cargo test`: no extra binary has to be built. Standard input, output and error are pipes
/// (a child that reads no commands just never reads its input).
pub fn spawn_self(test_name: &str, env: &BTreeMap<String, String>) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test_name, "--nocapture", "--test-threads=1"]);
    cmd.envs(env);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Lines the child printed with the `EVT ` prefix, as they come.
pub fn events(stdout: ChildStdout) -> impl Iterator<Item = String> {
    BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("EVT ").map(str::to_string))
}

/// SIGKILLs the child (`Child::kill` sends SIGKILL on Unix) and reaps it.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
