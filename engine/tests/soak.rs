//! Soak: a long mixed workload checking that memory and open file descriptors stay flat.
//!
//! `make soak` (or `cargo test -p eoslog --test soak -- --ignored --nocapture`) runs it for
//! `SOAK_SECONDS` (default 300). The engine is opened, loaded for `SOAK_EPOCH_SECONDS`
//! (default 10) and closed, over and over; during each epoch, concurrently:
//!
//! - an idempotent producer appends batches to three partitions (64 KiB segments, 256 KiB byte
//!   retention, so segments roll and are deleted all the time);
//! - a transactional producer runs transactions of five records, a third of them aborted, half
//!   with offsets sent to the transaction;
//! - a read_committed consumer follows the transactional topic and commits its offsets;
//! - an admin thread creates, fills and deletes a short-lived topic;
//! - retention runs every half second.
//!
//! Every second it prints the resident set size (`VmRSS` of /proc/self/status) and the number
//! of open descriptors (/proc/self/fd), and after each close the descriptors left open. After
//! the warm-up (the first third of the run) it asserts that the figures stay flat: descriptors
//! after close never grow, and the last third's peak RSS and descriptor count stay within a
//! small margin of the middle third's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eoslog::client::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition};
use eoslog::{Consumer, ConsumerConfig, Engine, EngineConfig, Producer, ProducerConfig, ProducerRecord};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A KiB figure of /proc/self/status.
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line =
        status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resident set size in KiB (anonymous memory plus mapped file pages: index maps count).
fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Resident anonymous memory in KiB: the heap, where a leak would show.
fn anon_kib() -> u64 {
    status_kib("RssAnon:")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

const SEGMENTED: [(&str, &str); 3] =
    [("segment.bytes", "65536"), ("retention.bytes", "262144"), ("index.interval.bytes", "4096")];

/// One epoch of load on an open engine, until `stop`.
fn load(engine: &Engine, epoch: u64, stop: &AtomicBool) {
    std::thread::scope(|s| {
        s.spawn(|| {
            let p =
                Producer::new(engine, ProducerConfig::from_pairs(&[("linger.ms", "1")]).unwrap()).unwrap();
            let value = "v".repeat(200);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for k in 0..20 {
                    p.send(ProducerRecord::new("soak-idem", value.clone()).partition(((i + k) % 3) as i32))
                        .unwrap();
                }
                p.flush().unwrap();
                i += 1;
            }
            p.close().unwrap();
        });
        s.spawn(|| {
            let p = Producer::new(
                engine,
                ProducerConfig::from_pairs(&[("transactional.id", "soak-tx"), ("linger.ms", "0")]).unwrap(),
            )
            .unwrap();
            p.init_transactions().unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                p.begin_transaction().unwrap();
                for k in 0..5 {
                    p.send(ProducerRecord::new("soak-txn", format!("e{epoch}n{n}k{k}")).partition(k % 2))
                        .unwrap();
                }
                if n.is_multiple_of(2) {
                    p.send_offsets_to_transaction(
                        &[(TopicPartition::new("soak-idem", 0), OffsetAndMetadata::new(n as i64))],
                        &ConsumerGroupMetadata::new("soak-copier"),
                    )
                    .unwrap();
                }
                if n.is_multiple_of(3) {
                    p.abort_transaction().unwrap();
                } else {
                    p.commit_transaction().unwrap();
                }
                n += 1;
            }
            p.close().unwrap();
        });
        s.spawn(|| {
            let c = Consumer::new(
                engine,
                ConsumerConfig::from_pairs(&[
                    ("isolation.level", "read_committed"),
                    ("auto.offset.reset", "earliest"),
                    ("group.id", "soak-reader"),
                ])
                .unwrap(),
            )
            .unwrap();
            let tps = [TopicPartition::new("soak-txn", 0), TopicPartition::new("soak-txn", 1)];
            c.assign(&tps).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let got = c.poll(Duration::from_millis(20)).unwrap();
                if !got.is_empty() {
                    let offsets: Vec<_> = tps
                        .iter()
                        .map(|tp| {
                            (tp.topic.clone(), tp.partition, OffsetAndMetadata::new(c.position(tp).unwrap()))
                        })
                        .collect();
                    engine.offsets().commit("soak-reader", &offsets).unwrap();
                }
            }
        });
        s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("soak-tmp-{}", n % 3);
                engine.create_topic_with(&name, 2, &SEGMENTED).unwrap();
                let p = engine.partition(&name, 0).unwrap();
                let mut b = eoslog::RecordBatchBuilder::new();
                b.append(0, None, Some(b"x"), &[]);
                p.append(&b.build().unwrap()).unwrap();
                engine.delete_topic(&name).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                engine.run_retention().unwrap();
            }
        });
    });
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    rss_kib: u64,
    anon_kib: u64,
    fds: usize,
}

#[test]
#[ignore = "long: run with `make soak` (SOAK_SECONDS, default 300)"]
fn soak_memory_and_descriptors_stay_flat() {
    let total = Duration::from_secs(env_u64("SOAK_SECONDS", 300));
    let epoch_len = Duration::from_secs(env_u64("SOAK_EPOCH_SECONDS", 10));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let baseline_fds = open_fds();
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut closed_fds: Vec<usize> = Vec::new();
    let mut epoch = 0;
    println!("soak: {total:?}, epochs of {epoch_len:?}; baseline {} KiB RSS, {baseline_fds} fds", rss_kib());
    while started.elapsed() < total {
        let engine = Engine::open(&dir, EngineConfig::default()).unwrap();
        for topic in ["soak-idem", "soak-txn"] {
            if engine.partition(topic, 0).is_err() {
                engine.create_topic_with(topic, 3, &SEGMENTED).unwrap();
            }
        }
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| load(&engine, epoch, &stop));
            let end = Instant::now() + epoch_len;
            while Instant::now() < end {
                std::thread::sleep(Duration::from_secs(1));
                let sample = Sample {
                    at: started.elapsed().as_secs_f64(),
                    rss_kib: rss_kib(),
                    anon_kib: anon_kib(),
                    fds: open_fds(),
                };
                println!(
                    "soak: t={:7.1}s rss={:7} KiB anon={:7} KiB fds={:4}",
                    sample.at, sample.rss_kib, sample.anon_kib, sample.fds
                );
                samples.push(sample);
            }
            stop.store(true, Ordering::Relaxed);
        });
        engine.close().unwrap();
        drop(engine);
        let fds = open_fds();
        println!(
            "soak: epoch {epoch} closed: fds={fds} rss={} KiB data={} KiB",
            rss_kib(),
            dir_bytes(&dir) / 1024
        );
        closed_fds.push(fds);
        epoch += 1;
    }
    assert!(
        epoch >= 3 && samples.len() >= 9,
        "too short to judge: {epoch} epochs, {} samples",
        samples.len()
    );
    let third = samples.len() / 3;
    let (middle, last) = (&samples[third..2 * third], &samples[2 * third..]);
    let peak = |s: &[Sample]| {
        (
            s.iter().map(|x| x.rss_kib).max().unwrap(),
            s.iter().map(|x| x.anon_kib).max().unwrap(),
            s.iter().map(|x| x.fds).max().unwrap(),
        )
    };
    let ((mid_rss, mid_anon, mid_fds), (last_rss, last_anon, last_fds)) = (peak(middle), peak(last));
    println!(
        "soak: {epoch} epochs in {:?}; peak RSS middle third {mid_rss} KiB, last third {last_rss} KiB; \
         peak anonymous RSS middle {mid_anon} KiB, last {last_anon} KiB; peak fds middle {mid_fds}, \
         last {last_fds}; fds after close {:?}",
        started.elapsed(),
        closed_fds
    );
    // After close: exactly the descriptors of the first close (the warm-up opened none for
    // good), and never more than a handful above the process's baseline.
    let first_closed = closed_fds[0];
    for (i, &f) in closed_fds.iter().enumerate() {
        assert!(
            f <= first_closed,
            "epoch {i}: {f} descriptors open after close, {first_closed} after the first"
        );
    }
    assert!(
        first_closed <= baseline_fds + 2,
        "{first_closed} descriptors after close, {baseline_fds} before open"
    );
    // While running: no growth from the middle third to the last beyond a margin. Heap
    // (anonymous) memory is held to 10% + 2 MiB; the whole RSS, which also counts the mapped
    // index pages of the internal topics (they have no retention, so they grow with the
    // data), to 20% + 4 MiB.
    assert!(
        last_anon <= mid_anon + mid_anon / 10 + 2 * 1024,
        "heap grew: peak {mid_anon} KiB in the middle third, {last_anon} KiB in the last"
    );
    assert!(
        last_rss <= mid_rss + mid_rss / 5 + 4 * 1024,
        "RSS grew: peak {mid_rss} KiB in the middle third, {last_rss} KiB in the last"
    );
    // Descriptors follow the segments alive at the sampled instant (rolls, retention and the
    // short-lived topic make single samples jumpy), so the typical count is compared: the
    // median of the last third may exceed the middle third's by a quarter (+16), and no peak
    // of the last third may pass the peaks seen before it by more than a quarter. A descriptor
    // leaked per epoch fails the after-close check above; one leaked per transaction, append
    // or topic fails these within minutes.
    let median = |s: &[Sample]| {
        let mut f: Vec<usize> = s.iter().map(|x| x.fds).collect();
        f.sort_unstable();
        f[f.len() / 2]
    };
    let (mid_median, last_median) = (median(middle), median(last));
    let earlier_peak = samples[..2 * third].iter().map(|x| x.fds).max().unwrap();
    println!(
        "soak: median fds middle third {mid_median}, last third {last_median}; peak before the last third \
         {earlier_peak}"
    );
    assert!(
        last_median <= mid_median + mid_median / 4 + 16,
        "descriptors grew: median {mid_median} in the middle third, {last_median} in the last"
    );
    assert!(
        last_fds <= earlier_peak + earlier_peak / 4,
        "descriptors grew: peak {earlier_peak} before the last third, {last_fds} in it (middle third {mid_fds})"
    );
}
