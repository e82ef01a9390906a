"""Transactions benchmark of swiftlet and Tansu side by side (a measurement, never a test).

With confluent-kafka (librdkafka) against each broker in memory: throughput of an idempotent
producer and of a transactional one (the same messages, one commit per 10,000), and
committed transactions per second with 1 and with 10 partitions per transaction (one small
message per partition, commit_transaction waited for each time). Prints a Markdown table.

    Interop/.venv/bin/pip install -r Interop/bench/load/requirements.txt
    Interop/.venv/bin/python Interop/bench/transactions/run.py [--quick] [--swiftlet PATH] [--skip-tansu]
"""

import pathlib
import sys
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from brokers import create_topics, side_by_side  # noqa: E402

from confluent_kafka import Producer  # noqa: E402


def produce_rate(bootstrap, count, transactional):
    topic = f"rate-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: 1})
    config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    if transactional:
        config["transactional.id"] = f"bench-{uuid.uuid4().hex[:8]}"
    producer = Producer(config)
    payload = b"x" * 100
    if transactional:
        producer.init_transactions(30)
    started = time.monotonic()
    per_transaction = 10_000
    for first in range(0, count, per_transaction):
        if transactional:
            producer.begin_transaction()
        for _ in range(min(per_transaction, count - first)):
            while True:
                try:
                    producer.produce(topic, payload)
                    break
                except BufferError:
                    producer.poll(0.01)
        if transactional:
            producer.commit_transaction(60)
    producer.flush(60)
    return count / (time.monotonic() - started)


def transactions_per_second(bootstrap, partitions, seconds):
    topic = f"txns-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: partitions})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"bench-{uuid.uuid4().hex[:8]}", "linger.ms": 0})
    producer.init_transactions(30)
    count = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        producer.begin_transaction()
        for partition in range(partitions):
            producer.produce(topic, b"x", partition=partition)
        producer.commit_transaction(60)
        count += 1
    return count / (time.monotonic() - started)


def measure(broker, quick):
    results = {}
    broker.start()
    bootstrap = broker.bootstrap
    produce_rate(bootstrap, 10_000, transactional=False)  # warm-up: connections, first topic
    count = 20_000 if quick else 200_000
    results[f"idempotent produce, {count:,} x 100 B (msg/s)"] = produce_rate(bootstrap, count, transactional=False)
    results[f"transactional produce, {count:,} x 100 B, commit per 10,000 (msg/s)"] = produce_rate(bootstrap, count, transactional=True)
    for partitions in (1, 10):
        results[f"transactions/s, {partitions} partition(s) each"] = transactions_per_second(bootstrap, partitions, 2 if quick else 5)
    broker.stop()
    return results


if __name__ == "__main__":
    side_by_side(measure, "fewer messages and seconds", decimals=0)
