"""An exactly-once copier written with confluent-kafka: reads every partition of an input topic
with read_committed, writes each record to the same partition of an output topic, and commits
its input positions in the same transaction (send_offsets_to_transaction with the consumer's
group metadata). Restarting it anywhere — even after SIGKILL — resumes from the last committed
transaction: init_transactions fences and aborts whatever the previous instance left open.

It consumes by assignment (the broker has no group membership yet), so its group metadata has
generation -1, which Kafka accepts for a group without members.

Exit codes: 0 when every input partition is copied up to the end it saw at start, 3 on an error
the copier cannot recover from by itself (its supervisor restarts it).
"""

import argparse
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def log(msg):
    print(f"copier: {msg}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--transactional-id", required=True)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--txn-sleep-ms", type=int, default=0, help="time spent inside each transaction")
    args = ap.parse_args()

    # With its only broker down, librdkafka's default re-bootstrap (KIP-899) decommissions the
    # broker handle, and librdkafka 2.16 can then leave a pending TxnOffsetCommit waiting on the
    # decommissioned handle forever. One broker at a fixed address needs no re-bootstrap.
    common = {
        "bootstrap.servers": args.bootstrap,
        "reconnect.backoff.max.ms": 500,
        "metadata.recovery.strategy": "none",
    }
    if os.environ.get("EOS_COPIER_DEBUG"):
        common["debug"] = os.environ["EOS_COPIER_DEBUG"]
    consumer = Consumer({
        **common,
        "group.id": args.group,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })
    producer = Producer({
        **common,
        "transactional.id": args.transactional_id,
        "transaction.timeout.ms": 15000,
        "message.timeout.ms": 15000,
        "linger.ms": 5,
    })
    producer.init_transactions(60)

    tps = [TopicPartition(args.input, p) for p in range(args.partitions)]
    committed = consumer.committed(tps, timeout=60)
    positions = {tp.partition: (tp.offset if tp.offset >= 0 else 0) for tp in committed}
    ends = {p: consumer.get_watermark_offsets(TopicPartition(args.input, p), timeout=30)[1]
            for p in range(args.partitions)}
    log(f"starting at {positions}, copying up to {ends}")

    def assign():
        consumer.assign([TopicPartition(args.input, p, o) for p, o in positions.items()])

    assign()
    while any(positions[p] < ends[p] for p in positions):
        msgs = [m for m in consumer.consume(num_messages=args.batch, timeout=1.0) if not m.error()]
        if not msgs:
            continue
        new_positions = dict(positions)
        try:
            producer.begin_transaction()
            for m in msgs:
                producer.produce(args.output, key=m.key(), value=m.value(), partition=m.partition())
                new_positions[m.partition()] = m.offset() + 1
            if args.txn_sleep_ms:
                # Announced so that a test can crash the broker inside this transaction.
                log(f"in transaction with {len(msgs)} records")
                producer.poll(args.txn_sleep_ms / 1000)
            offsets = [TopicPartition(args.input, p, o) for p, o in new_positions.items()]
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 60)
            commit_with_retries(producer)
            positions = new_positions
        except KafkaException as e:
            err = e.args[0]
            if err.txn_requires_abort():
                log(f"aborting after {err}")
                producer.abort_transaction(60)
                # Re-read what the aborted transaction consumed.
                assign()
                continue
            log(f"giving up after {err} (fatal={err.fatal()})")
            sys.exit(3)
    log(f"done at {positions}")
    consumer.close()


def commit_with_retries(producer, attempts=10):
    for i in range(attempts):
        try:
            producer.commit_transaction(60)
            return
        except KafkaException as e:
            err = e.args[0]
            if err.retriable() and i + 1 < attempts:
                time.sleep(0.2)
                continue
            raise


if __name__ == "__main__":
    main()
