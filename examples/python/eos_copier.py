"""The exactly-once copier: read-process-write with the consumer's offsets in the transaction.

Kafka's transactional workflow (``TransactionalMessageCopier``), in process::

    python eos_copier.py <data-dir> <input-topic> <output-topic> <group> \
        [--transaction-size N] [--abort-probability P] [--seed S]
    python eos_copier.py            # a self-contained demo in a temporary directory

It joins the consumer group ``<group>`` (``subscribe``) and consumes the input topic
``read_committed``; each ``poll`` starts a transaction that produces the transformed values
(upper case plus ``|copied``) to the same partitions of the output topic and carries the
consumer's positions with its group metadata (``send_offsets_to_transaction(positions,
consumer.consumer_group_metadata())``, so that the group refuses them if a rebalance gave the
partitions to another member meanwhile). A transaction is committed — or, with the given
probability (or when the group refuses the offsets), aborted, after which the consumer rewinds
to the committed offsets and copies the same records again. After a crash it resumes from the
committed offsets: ``init_transactions`` fences the previous instance and aborts what it left
open, and the static group membership (``group_instance_id``) lets the new instance take the
old one's place at once. It exits once every input partition is copied to its end (it is the
group's only member).

Progress goes to stdout as ``EVT ...`` lines (the crash test picks its kill points by them).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile

import eoslog


def transform(value: bytes | None) -> bytes:
    """The processing step: ASCII upper case, then ``|copied``."""
    return (value or b"").upper() + b"|copied"


def event(what: str) -> None:
    print(f"EVT {what}", flush=True)


def copy(
    engine: eoslog.Engine,
    input_topic: str,
    output_topic: str,
    group: str,
    transaction_size: int = 100,
    abort_probability: float = 0.0,
    seed: int = 0,
) -> int:
    """Copies ``input_topic`` to ``output_topic`` exactly once; returns the records copied by
    committed transactions in this run."""
    partitions = engine.topics()[input_topic].partitions
    if output_topic not in engine.topics():
        engine.create_topic(output_topic, partitions)
    everything = {eoslog.TopicPartition(input_topic, p) for p in range(partitions)}
    rng = random.Random(seed)
    copied = 0
    # One transactional id per group: a restarted copier fences the previous instance.
    with (
        engine.producer(transactional_id=f"eos-copier-{group}") as producer,
        engine.consumer(
            group,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            # A static member: a restarted copier takes the place of the one that crashed at
            # once, instead of waiting for its session to time out.
            group_instance_id=f"eos-copier-{group}",
            session_timeout_ms=10_000,
        ) as consumer,
    ):
        producer.init_transactions()
        # Each transaction polls once: a rebalance (which happens only inside poll) never
        # takes partitions whose records are in an open transaction, so no callbacks needed.
        consumer.subscribe([input_topic])
        event("subscribed")
        while True:
            assigned = consumer.assignment()
            if set(assigned) == everything:
                ends = consumer.end_offsets(assigned)
                if all(consumer.position(tp) >= ends[tp] for tp in assigned):
                    break
            sent = 0
            abort = rng.random() < abort_probability
            try:
                with producer.transaction():
                    records = consumer.poll(max_records=transaction_size, timeout_ms=100)
                    for r in records:
                        producer.send(
                            output_topic,
                            transform(r.value),
                            key=r.key,
                            partition=r.partition,
                            headers=r.headers,
                            timestamp=r.timestamp,
                        )
                        sent += 1
                    event(f"sent {sent}")
                    # The positions of every partition, also those that moved past markers.
                    positions = {tp: consumer.position(tp) for tp in consumer.assignment()}
                    if positions:
                        producer.send_offsets_to_transaction(
                            positions, consumer.consumer_group_metadata()
                        )
                    event("offsets")
                    if abort:
                        raise _Abort
            except (
                _Abort,
                # The group moved on since the poll (a rebalance): a zombie's offsets are
                # refused, and the transaction aborted.
                eoslog.IllegalGenerationError,
                eoslog.UnknownMemberIdError,
                eoslog.RebalanceInProgressError,
            ):
                # The context manager aborted the transaction; copy the same records again.
                assigned = consumer.assignment()
                committed = consumer.committed(assigned)
                for tp in assigned:
                    c = committed[tp]
                    if c is None:
                        consumer.seek_to_beginning(tp)
                    else:
                        consumer.seek(tp, c.offset)
                event("aborted")
            else:
                copied += sent
                event(f"committed {copied}")
    return copied


class _Abort(Exception):
    """Raised inside the transaction block to have it aborted."""


def demo() -> None:
    with (
        tempfile.TemporaryDirectory() as d,
        eoslog.Engine.open(d, group_initial_rebalance_delay_ms=0) as engine,
    ):
        engine.create_topic("in", partitions=2)
        with engine.producer() as p:
            p.send_many("in", [(f"k{i}".encode(), f"record {i}".encode()) for i in range(1000)])
        n = copy(engine, "in", "out", "demo", transaction_size=100, abort_probability=0.3, seed=1)
        with engine.consumer(auto_offset_reset="earliest") as c:
            c.assign([("out", 0), ("out", 1)])
            out = []
            while batch := c.poll(timeout_ms=100):
                out.extend(batch)
        print(f"copied {n} records exactly once; the output holds {len(out)}; e.g. {out[0].value!r}")


def main(argv: list[str]) -> int:
    if not argv:
        demo()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("group")
    parser.add_argument("--transaction-size", type=int, default=100)
    parser.add_argument("--abort-probability", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # The copier is its group's only member: no need to wait for others to join.
    with eoslog.Engine.open(args.data_dir, group_initial_rebalance_delay_ms=0) as engine:
        event("start")
        n = copy(
            engine,
            args.input,
            args.output,
            args.group,
            args.transaction_size,
            args.abort_probability,
            args.seed,
        )
    event(f"done {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
