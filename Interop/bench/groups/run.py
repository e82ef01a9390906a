"""Consumer-group benchmark of swiftlet and Tansu side by side (a measurement, never a test).

With confluent-kafka (librdkafka, classic protocol, default timings) against each broker in
memory: time from subscribe to the first message for one consumer in a fresh group; rebalance
latency, from a new member's subscribe until every member of the group holds partitions
again, for 2, 10 and 50 members (as many partitions as members); and synchronous
OffsetCommit requests per second from one client. Prints a Markdown table.

    Interop/.venv/bin/pip install -r Interop/bench/load/requirements.txt
    Interop/.venv/bin/python Interop/bench/groups/run.py [--quick] [--swiftlet PATH] [--skip-tansu]
"""

import pathlib
import statistics
import sys
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from brokers import create_topics, side_by_side  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TIMEOUT = 120.0


def consumer(bootstrap, group):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})


def first_message_seconds(bootstrap):
    topic, group = f"first-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: 1})
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"hello")
    producer.flush(30)
    member = consumer(bootstrap, group)
    started = time.monotonic()
    member.subscribe([topic])
    try:
        while time.monotonic() - started < TIMEOUT:
            message = member.poll(0.01)
            if message is not None and message.error() is None:
                return time.monotonic() - started
        return float("inf")
    finally:
        member.close()


def rebalance_seconds(bootstrap, members):
    """members - 1 consumers settle; one more joins; the time until all hold partitions."""
    topic, group = f"rebalance-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: members})
    group_members = []

    def settled(expected):
        for each in group_members:
            each.poll(0)
        held = [len(each.assignment()) for each in group_members]
        return len(held) == expected and all(held) and sum(held) == members

    try:
        for _ in range(members - 1):
            group_members.append(consumer(bootstrap, group))
            group_members[-1].subscribe([topic])
        deadline = time.monotonic() + TIMEOUT * 2
        while not settled(members - 1):
            if time.monotonic() > deadline:
                return float("inf")
            time.sleep(0.005)
        group_members.append(consumer(bootstrap, group))
        started = time.monotonic()
        group_members[-1].subscribe([topic])
        while not settled(members):
            if time.monotonic() - started > TIMEOUT:
                return float("inf")
            time.sleep(0.005)
        return time.monotonic() - started
    finally:
        for each in group_members:
            each.close()


def commits_per_second(bootstrap, seconds):
    topic, group = f"commits-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, {topic: 1})
    client = consumer(bootstrap, group)
    client.assign([TopicPartition(topic, 0, 0)])
    count = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            client.commit(offsets=[TopicPartition(topic, 0, count + 1)], asynchronous=False)
            count += 1
        return count / (time.monotonic() - started)
    finally:
        client.close()


def measure(broker, quick):
    results = {}
    broker.start()
    bootstrap = broker.bootstrap
    samples = [first_message_seconds(bootstrap) for _ in range(1 if quick else 3)]
    results["subscribe to first message, 1 consumer (s, median)"] = statistics.median(samples)
    for members in ([2, 10] if quick else [2, 10, 50]):
        results[f"rebalance latency, {members} members (s)"] = rebalance_seconds(bootstrap, members)
    results["synchronous OffsetCommit (requests/s)"] = commits_per_second(bootstrap, 2 if quick else 5)
    broker.stop()
    return results


if __name__ == "__main__":
    side_by_side(measure, "fewer samples, no 50-member group", decimals=2)
