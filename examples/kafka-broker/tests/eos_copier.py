"""An exactly-once copier written with confluent-kafka, as a consumer-group member: it
subscribes to an input topic with a group id, and for each batch it reads (read_committed)
writes every record to the same partition of an output topic and commits its input positions in
the same transaction (send_offsets_to_transaction with the consumer's group metadata, KIP-447).

Any number of instances may run in one group, each with its own transactional id; partitions
move between them as they join, leave or die. What keeps that exactly-once is the broker's:
  - a partition's new owner starts from the committed offset, and waits (OffsetFetch with
    require_stable) while a transaction that may still change it is open;
  - an instance that lost a partition cannot commit offsets for it any more: its
    TxnOffsetCommit carries its member id and generation and is refused (ILLEGAL_GENERATION,
    UNKNOWN_MEMBER_ID), so it must abort, and its output never becomes visible;
  - restarting an instance (even after SIGKILL) with its transactional id fences and aborts
    whatever the previous incarnation left open.

It runs until SIGTERM or SIGINT, then leaves the group and exits 0. Exit code 3: an error the
copier cannot recover from by itself (its supervisor restarts it).
"""

import argparse
import os
import signal
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition


def log(msg):
    print(f"copier {os.getpid()}: {msg}", flush=True)


def describe(partitions):
    return sorted(tp.partition for tp in partitions)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--transactional-id", required=True)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--txn-sleep-ms", type=int, default=0, help="time spent inside each transaction")
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    ap.add_argument("--pause-file", help="test hook: when this file exists at the start of a transaction, "
                    "delete it and stop this process (SIGSTOP) inside the transaction, as a zombie")
    args = ap.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

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
        # read_committed also makes librdkafka fetch committed offsets with require_stable.
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": args.session_timeout_ms,
        "heartbeat.interval.ms": max(100, args.session_timeout_ms // 10),
    })
    producer = Producer({
        **common,
        "transactional.id": args.transactional_id,
        "transaction.timeout.ms": 15000,
        "message.timeout.ms": 15000,
        "linger.ms": 5,
    })
    # Fences the previous incarnation and aborts its open transaction before this one reads.
    producer.init_transactions(60)

    # Rebalance callbacks run inside consume(), between transactions: nothing is open when
    # partitions are revoked, and the next transaction commits with the new generation.
    def on_assign(c, partitions):
        log(f"assigned {describe(partitions)}")

    def on_revoke(c, partitions):
        log(f"revoked {describe(partitions)}")

    def on_lost(c, partitions):
        log(f"lost {describe(partitions)}")

    consumer.subscribe([args.input], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    while not stopping:
        msgs = [m for m in consumer.consume(num_messages=args.batch, timeout=0.5) if not m.error()]
        if not msgs:
            continue
        # The membership these records were consumed under, taken before anything can change
        # it: if a rebalance takes the partitions away meanwhile, the commit names a generation
        # that is over and the broker refuses it (KIP-447). Read later, librdkafka may already
        # have reset it to "no membership" (generation -1), which the broker accepts from
        # clients without group management, as Kafka does.
        group_metadata = consumer.consumer_group_metadata()
        if not consumer.memberid():
            log(f"membership lost with {len(msgs)} records consumed: not copying them")
            rewind(consumer)
            continue
        offsets = {}
        try:
            producer.begin_transaction()
            for m in msgs:
                producer.produce(args.output, key=m.key(), value=m.value(), partition=m.partition())
                offsets[m.partition()] = m.offset() + 1
            if args.pause_file and os.path.exists(args.pause_file):
                os.unlink(args.pause_file)
                log(f"pausing in transaction with {len(msgs)} records of {sorted(offsets)}")
                producer.flush(30)
                os.kill(os.getpid(), signal.SIGSTOP)
                log("resumed")
            if args.txn_sleep_ms:
                # Announced so that a test can crash the broker inside this transaction.
                log(f"in transaction with {len(msgs)} records")
                producer.poll(args.txn_sleep_ms / 1000)
            producer.send_offsets_to_transaction(
                [TopicPartition(args.input, p, o) for p, o in offsets.items()],
                group_metadata,
                60,
            )
            commit_with_retries(producer)
        except KafkaException as e:
            err = e.args[0]
            if err.txn_requires_abort():
                log(f"aborting after {err}")
                producer.abort_transaction(60)
                rewind(consumer)
                continue
            log(f"giving up after {err} (fatal={err.fatal()})")
            sys.exit(3)
    log("stopping")
    consumer.close()


def rewind(consumer):
    """After an abort, read again from the committed offsets what the aborted transaction
    consumed (the partitions this instance still owns; others start where their new owner
    finds the committed offset)."""
    assignment = consumer.assignment()
    if not assignment:
        return
    for tp in consumer.committed(assignment, timeout=60):
        tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
        consumer.seek(tp)


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
