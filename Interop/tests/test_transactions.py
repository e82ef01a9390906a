"""Transactions (KIP-98, protocol v1: no KIP-890) against the real binary, through all three
Python clients.

confluent-kafka (librdkafka 2.16) carries most of it: a producer that commits and aborts
transactions over two topics, read back by read_committed and read_uncommitted consumers
at exact offsets (each COMMIT or ABORT marker takes one offset and is never delivered); the
last stable offset holding read_committed consumers behind an open transaction, seen through
ListOffsets at both isolation levels; consume-transform-produce with the group's offsets
committed in the transaction (TxnOffsetCommit) and left alone by an abort; a second producer
with the same transactional.id fencing the first and aborting its open transaction; a
producer that falls silent with a transaction open, aborted by the broker after its
transaction.timeout.ms; and committed, aborted and open transactions across a kill -9 of the
broker. aiokafka 0.14 and kafka-python 3.0 commit and abort with their own producers and
read with their own read_committed consumers; kafka-python's admin client lists and
describes transactions and describes a partition's producers (confluent-kafka's Python
admin client has no transaction calls).

The broker runs with its defaults, which are Kafka's: transaction.max.timeout.ms is 15 min,
and timed-out transactions are looked for every 10 s
(transaction.abort.timed.out.transaction.cleanup.interval.ms), so a silent producer's
transaction is aborted within its timeout plus that interval. Every wait is bounded and
fails saying what it was waiting for; topics, transactional ids and groups have unique
names."""

import asyncio
import collections
import select
import subprocess
import sys
import time

import kafka.errors as kafka_errors
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka import (OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KPTopicPartition
from kafka.admin import AbortTransactionSpec, KafkaAdminClient, TransactionState
from support import create_topics, group_offsets, unique, wait_until

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000
# Kafka aborts a timed-out transaction at the next check, every 10 s by default.
ABORT_CHECK_INTERVAL_S = 1
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}

Record = collections.namedtuple("Record", "topic partition offset value")


# -- Topics, waits and offsets ---------------------------------------------------------------

def latest_offsets(broker, partitions, isolation):
    """ListOffsets (latest) at an isolation level: the high watermark for READ_UNCOMMITTED,
    the last stable offset for READ_COMMITTED; {(topic, partition): offset}."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.list_offsets({TopicPartition(topic, partition): OffsetSpec.latest() for topic, partition in partitions},
                                 isolation_level=isolation, request_timeout=10)
    return {(tp.topic, tp.partition): future.result(10).offset for tp, future in futures.items()}


def stable_and_high(broker, partitions):
    return (latest_offsets(broker, partitions, IsolationLevel.READ_COMMITTED),
            latest_offsets(broker, partitions, IsolationLevel.READ_UNCOMMITTED))


def wait_for_offsets(broker, partitions, stable, high, timeout=10):
    """Waits for ListOffsets to give these last stable offsets and high watermarks (the
    markers of a finished transaction are written after EndTxn is answered)."""
    seen = {}

    def matches():
        seen["offsets"] = stable_and_high(broker, partitions)
        return seen["offsets"] == (stable, high)

    wait_until(matches, timeout, lambda: f"(last stable offsets, high watermarks) are {seen['offsets']}, "
                                         f"expected {(stable, high)}", step=lambda: time.sleep(0.2))


# -- confluent-kafka producers and readers ---------------------------------------------------

def plain_producer(broker):
    return Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})


def transactional_producer(broker, transactional_id, extra=None):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": transactional_id,
                         "linger.ms": 5, **(extra or {})})
    producer.init_transactions(30)  # without a timeout librdkafka waits up to transaction.timeout.ms
    return producer


def produce(producer, messages):
    """Produces (topic, partition, value) messages and waits until each is acknowledged."""
    errors = []
    for topic, partition, value in messages:
        producer.produce(topic, value, partition=partition, on_delivery=lambda error, _: error and errors.append(error))
    assert producer.flush(30) == 0 and errors == [], f"produce failed: {errors[:5]}"


def committed_transaction(producer, messages):
    producer.begin_transaction()
    produce(producer, messages)
    producer.commit_transaction(30)


def aborted_transaction(producer, messages):
    """Aborts after the messages are in the log (librdkafka purges what is not yet sent)."""
    producer.begin_transaction()
    produce(producer, messages)
    producer.abort_transaction(30)


class Reader:
    """A confluent-kafka consumer assigned to partitions from their beginning, with no group;
    what it reads is kept as Records."""

    def __init__(self, broker, partitions, isolation):
        self.isolation = isolation
        self.consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("unused-reader"),
                                  "enable.auto.commit": False, "isolation.level": isolation,
                                  "fetch.wait.max.ms": 100})
        self.consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for topic, partition in partitions])
        self.records = []

    def poll(self):
        for message in self.consumer.consume(1000, 0.05):
            error = message.error()
            if error is None:
                self.records.append(Record(message.topic(), message.partition(), message.offset(), message.value()))
            elif error.fatal():
                raise AssertionError(f"fatal error in the {self.isolation} reader: {error}")

    def wait_for(self, count, timeout):
        wait_until(lambda: len(self.records) >= count, timeout,
                   lambda: f"the {self.isolation} reader has {len(self.records)} of {count} records: {self.sorted()}",
                   step=self.poll)

    def poll_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()

    def sorted(self):
        return sorted(self.records)

    def close(self):
        self.consumer.close()


def read(broker, partitions, isolation, count, timeout=15, settle=0.5):
    """Every record a fresh reader gets: at least `count`, then whatever comes within `settle` s."""
    reader = Reader(broker, partitions, isolation)
    try:
        reader.wait_for(count, timeout)
        reader.poll_for(settle)
        return reader.sorted()
    finally:
        reader.close()


def records(topic, partition, offsets_and_values):
    return [Record(topic, partition, offset, value) for offset, value in offsets_and_values]


# A producer that opens a transaction, writes to partition 0 and waits, saying "open" once
# its messages are acknowledged. The test kills it: its transaction is never ended.
SILENT_PRODUCER = r"""
import sys, time
from confluent_kafka import Producer

bootstrap, transactional_id, topic, timeout_ms, *values = sys.argv[1:]
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
                     "transaction.timeout.ms": int(timeout_ms)})
producer.init_transactions(30)
producer.begin_transaction()
errors = []
for value in values:
    producer.produce(topic, value.encode(), partition=0, on_delivery=lambda error, _: error and errors.append(error))
remaining = producer.flush(30)
print("open" if remaining == 0 and not errors else f"failed: {remaining} unsent, {errors}", flush=True)
time.sleep(3600)
"""


def abandon_transaction(broker, transactional_id, topic, values, timeout_ms):
    """Leaves an open transaction of `values` on (topic, 0): its producer is killed with SIGKILL
    once they are acknowledged. Returns the monotonic time they were."""
    process = subprocess.Popen([sys.executable, "-c", SILENT_PRODUCER, broker.bootstrap, transactional_id, topic,
                                str(timeout_ms), *values],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline().strip() if ready else "nothing within 30 s"
        opened = time.monotonic()
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    assert line == "open", f"the silent producer did not open its transaction: {line}\n{stderr[-2000:]}"
    return opened


# -- confluent-kafka ---------------------------------------------------------------------------

def test_committed_and_aborted_transactions_over_two_topics(broker):
    left, right = unique("txn-left"), unique("txn-right")
    create_topics(broker, {left: 2, right: 1})
    partitions = [(left, 0), (left, 1), (right, 0)]
    producer = transactional_producer(broker, unique("txn-id"))
    committed_transaction(producer, [(left, 0, b"c1-l0-a"), (left, 0, b"c1-l0-b"), (left, 0, b"c1-l0-c"),
                                     (left, 1, b"c1-l1-a"), (left, 1, b"c1-l1-b"), (right, 0, b"c1-r0-a")])
    aborted_transaction(producer, [(left, 0, b"a2-l0-a"), (left, 0, b"a2-l0-b"), (left, 0, b"a2-l0-c"),
                                   (left, 1, b"a2-l1-a"), (right, 0, b"a2-r0-a")])
    committed_transaction(producer, [(left, 0, b"c3-l0-a"), (left, 0, b"c3-l0-b"), (left, 1, b"c3-l1-a"),
                                     (right, 0, b"c3-r0-a")])
    producer.close()

    # Each transaction's messages follow the previous one's marker.
    committed = (records(left, 0, [(0, b"c1-l0-a"), (1, b"c1-l0-b"), (2, b"c1-l0-c"), (8, b"c3-l0-a"), (9, b"c3-l0-b")])
                 + records(left, 1, [(0, b"c1-l1-a"), (1, b"c1-l1-b"), (5, b"c3-l1-a")])
                 + records(right, 0, [(0, b"c1-r0-a"), (4, b"c3-r0-a")]))
    aborted = (records(left, 0, [(4, b"a2-l0-a"), (5, b"a2-l0-b"), (6, b"a2-l0-c")])
               + records(left, 1, [(3, b"a2-l1-a")]) + records(right, 0, [(2, b"a2-r0-a")]))
    assert read(broker, partitions, "read_committed", len(committed)) == sorted(committed)
    assert read(broker, partitions, "read_uncommitted", len(committed) + len(aborted)) == sorted(committed + aborted)

    # The last marker takes the last offset; with no transaction open the LSO is the high watermark.
    ends = {(left, 0): 11, (left, 1): 7, (right, 0): 6}
    wait_for_offsets(broker, partitions, stable=ends, high=ends)


def test_an_open_transaction_holds_read_committed_consumers_at_the_last_stable_offset(broker):
    topic = unique("txn-lso")
    create_topics(broker, {topic: 1})
    partitions = [(topic, 0)]
    plain = plain_producer(broker)
    produce(plain, [(topic, 0, b"p0"), (topic, 0, b"p1")])
    producer = transactional_producer(broker, unique("txn-id"))
    producer.begin_transaction()
    produce(producer, [(topic, 0, b"t0"), (topic, 0, b"t1"), (topic, 0, b"t2")])  # offsets 2..4, not committed
    produce(plain, [(topic, 0, b"p2")])  # offset 5: after the open transaction, so not stable either

    reader = Reader(broker, partitions, "read_committed")
    try:
        reader.wait_for(2, timeout=15)
        reader.poll_for(1.5)
        assert reader.sorted() == records(topic, 0, [(0, b"p0"), (1, b"p1")]), "read_committed read past the LSO"
        assert stable_and_high(broker, partitions) == ({(topic, 0): 2}, {(topic, 0): 6})

        producer.commit_transaction(30)
        committed_at = time.monotonic()
        reader.wait_for(6, timeout=10)
        took = time.monotonic() - committed_at
        reader.poll_for(0.5)
        assert reader.sorted() == records(topic, 0, [(0, b"p0"), (1, b"p1"), (2, b"t0"), (3, b"t1"), (4, b"t2"),
                                                     (5, b"p2")])
        assert took < 5.0, f"read_committed got the committed messages {took:.2f} s after the commit"
    finally:
        reader.close()
        producer.close()
    wait_for_offsets(broker, partitions, stable={(topic, 0): 7}, high={(topic, 0): 7})


def group_member(broker, group):
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "isolation.level": "read_committed",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS})


def consume(consumer, count, timeout=30):
    """The next `count` messages of a subscribed consumer (it joins its group meanwhile)."""
    messages = []

    def poll():
        for message in consumer.consume(100, 0.1):
            error = message.error()
            assert error is None or not error.fatal(), f"fatal consumer error: {error}"
            if error is None:
                messages.append(message)

    wait_until(lambda: len(messages) >= count, timeout, lambda: f"{len(messages)} of {count} input messages read",
               step=poll)
    return messages


def stable_committed(consumer, topic, partitions):
    """The group's committed offsets as a read_committed consumer fetches them (OffsetFetch with
    require_stable: UNSTABLE_OFFSET_COMMIT while a transaction's offsets are pending)."""
    result = {}

    def fetch():
        try:
            fetched = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=5)
        except KafkaException as error:
            result["error"] = error
            return False
        result["offsets"] = {tp.partition: tp.offset for tp in fetched if tp.error is None}
        result["error"] = [tp.error for tp in fetched if tp.error is not None] or None
        return result["error"] is None

    wait_until(fetch, 15, lambda: f"committed offsets unreadable: {result.get('error')}", step=lambda: time.sleep(0.2))
    return result["offsets"]


def test_consume_transform_produce_commits_the_group_offsets_in_the_transaction(broker):
    source, sink, group = unique("ctp-in"), unique("ctp-out"), unique("ctp-group")
    create_topics(broker, {source: 2, sink: 2})
    plain = plain_producer(broker)
    produce(plain, [(source, index % 2, f"v{index}".encode()) for index in range(10)])
    consumer = group_member(broker, group)
    producer = transactional_producer(broker, unique("ctp-id"))

    def transform(messages, position, end):
        """Writes the messages transformed and the consumer's positions (each `position`) in a
        transaction, then ends it with `end`."""
        producer.begin_transaction()
        produce(producer, [(sink, message.partition(), b"T:" + message.value()) for message in messages])
        positions = consumer.position(consumer.assignment())
        assert {tp.partition: tp.offset for tp in positions} == {0: position, 1: position}
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
        end(30)

    try:
        consumer.subscribe([source])
        first = consume(consumer, 10)
        transform(first, 5, producer.commit_transaction)
        assert stable_committed(consumer, source, 2) == {0: 5, 1: 5}
        assert group_offsets(AdminClient({"bootstrap.servers": broker.bootstrap}), group) == {(source, 0): 5, (source, 1): 5}

        # An aborted transaction leaves the group's offsets where they were.
        produce(plain, [(source, index % 2, f"v{index}".encode()) for index in range(10, 14)])
        second = consume(consumer, 4)
        transform(second, 7, producer.abort_transaction)
        assert stable_committed(consumer, source, 2) == {0: 5, 1: 5}, "the aborted transaction moved the offsets"
        assert group_offsets(AdminClient({"bootstrap.servers": broker.bootstrap}), group) == {(source, 0): 5, (source, 1): 5}

        # Back to the committed offsets: the same input again, committed this time.
        for partition in (0, 1):
            consumer.seek(TopicPartition(source, partition, 5))
        again = consume(consumer, 4)
        assert sorted(m.value() for m in again) == sorted(m.value() for m in second)
        transform(again, 7, producer.commit_transaction)
        assert stable_committed(consumer, source, 2) == {0: 7, 1: 7}
        assert group_offsets(AdminClient({"bootstrap.servers": broker.bootstrap}), group) == {(source, 0): 7, (source, 1): 7}
    finally:
        consumer.close()
        producer.close()

    output = read(broker, [(sink, 0), (sink, 1)], "read_committed", 14)
    assert sorted(record.value for record in output) == sorted(f"T:v{index}".encode() for index in range(14)), output


def test_a_second_producer_with_the_same_transactional_id_fences_the_first(broker):
    topic, transactional_id = unique("fence"), unique("fence-id")
    create_topics(broker, {topic: 1})
    first = transactional_producer(broker, transactional_id)
    committed_transaction(first, [(topic, 0, b"first-committed")])
    first.begin_transaction()
    produce(first, [(topic, 0, b"first-open")])

    # InitProducerId for the same id bumps the epoch and aborts the first producer's open transaction.
    second = transactional_producer(broker, transactional_id)
    with pytest.raises(KafkaException) as fenced:
        first.commit_transaction(30)
    error = fenced.value.args[0]
    assert error.fatal() and error.code() in FENCED, f"the fenced producer's commit failed with {error!r}"
    with pytest.raises(KafkaException):
        first.begin_transaction()  # a fenced producer stays fenced

    committed_transaction(second, [(topic, 0, b"second-committed")])
    second.close()
    # first-committed, its COMMIT, first-open, the fencing ABORT, second-committed, its COMMIT.
    assert read(broker, [(topic, 0)], "read_committed", 2) == records(
        topic, 0, [(0, b"first-committed"), (4, b"second-committed")])
    assert read(broker, [(topic, 0)], "read_uncommitted", 3) == records(
        topic, 0, [(0, b"first-committed"), (2, b"first-open"), (4, b"second-committed")])
    wait_for_offsets(broker, [(topic, 0)], stable={(topic, 0): 6}, high={(topic, 0): 6})


def test_the_broker_aborts_a_transaction_whose_producer_falls_silent(broker):
    # Long enough that the LSO check below runs well inside it on a slow, busy CI machine.
    topic, timeout_ms = unique("txn-timeout"), 8000
    create_topics(broker, {topic: 1})
    partitions = [(topic, 0)]
    opened = abandon_transaction(broker, unique("silent-id"), topic, ["open0", "open1", "open2"], timeout_ms)
    produce(plain_producer(broker), [(topic, 0, b"after")])  # offset 3
    # Checked well within the timeout: the open transaction holds the LSO at its first offset.
    assert stable_and_high(broker, partitions) == ({(topic, 0): 0}, {(topic, 0): 4})

    reader = Reader(broker, partitions, "read_committed")
    try:
        limit = timeout_ms / 1000 + ABORT_CHECK_INTERVAL_S + 5
        reader.wait_for(1, timeout=limit)
        took = time.monotonic() - opened
        reader.poll_for(0.5)
        assert reader.sorted() == records(topic, 0, [(3, b"after")]), "read_committed saw the timed-out transaction"
    finally:
        reader.close()
    assert took >= timeout_ms / 1000 - 1, f"the transaction ended {took:.1f} s after it opened, before its timeout"
    # The ABORT marker follows "after".
    wait_for_offsets(broker, partitions, stable={(topic, 0): 5}, high={(topic, 0): 5})
    assert read(broker, partitions, "read_uncommitted", 4) == records(
        topic, 0, [(0, b"open0"), (1, b"open1"), (2, b"open2"), (3, b"after")])


def test_transactions_survive_kill_and_restart_and_an_open_one_is_aborted_after_it(broker_factory):
    topic, open_timeout_ms = unique("txn-restart"), 8000
    first = broker_factory().start()
    create_topics(first, {topic: 1})
    partitions = [(topic, 0)]
    producer = transactional_producer(first, unique("restart-id"))
    committed_transaction(producer, [(topic, 0, b"c0"), (topic, 0, b"c1"), (topic, 0, b"c2")])  # 0..2, COMMIT 3
    aborted_transaction(producer, [(topic, 0, b"a0"), (topic, 0, b"a1")])  # 4..5, ABORT 6
    producer.close()
    wait_for_offsets(first, partitions, stable={(topic, 0): 7}, high={(topic, 0): 7})
    abandon_transaction(first, unique("restart-open-id"), topic, ["o0", "o1"], open_timeout_ms)  # 7..8
    produce(plain_producer(first), [(topic, 0, b"p0")])  # 9
    assert stable_and_high(first, partitions) == ({(topic, 0): 7}, {(topic, 0): 10})
    first.kill()

    second = broker_factory(port=first.port).start()
    # The open transaction's ABORT goes after p0.
    limit = open_timeout_ms / 1000 + ABORT_CHECK_INTERVAL_S + 5
    assert read(second, partitions, "read_committed", 4, timeout=limit) == records(
        topic, 0, [(0, b"c0"), (1, b"c1"), (2, b"c2"), (9, b"p0")])
    wait_for_offsets(second, partitions, stable={(topic, 0): 11}, high={(topic, 0): 11})
    assert read(second, partitions, "read_uncommitted", 8) == records(
        topic, 0, [(0, b"c0"), (1, b"c1"), (2, b"c2"), (4, b"a0"), (5, b"a1"), (7, b"o0"), (8, b"o1"), (9, b"p0")])
    assert second.stop() == 0


# -- aiokafka and kafka-python ------------------------------------------------------------------

class Rollback(Exception):
    pass


def test_aiokafka_transactions(broker):
    topic, group = unique("aio-txn"), unique("aio-txn-group")
    create_topics(broker, {topic: 1})
    tp = AioTopicPartition(topic, 0)

    async def read_values(isolation_level, count):
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation_level,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        got = []
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            deadline = time.monotonic() + 15
            while len(got) < count and time.monotonic() < deadline:
                got += [(r.offset, r.value) for batch in (await consumer.getmany(timeout_ms=200)).values() for r in batch]
            for _ in range(3):
                got += [(r.offset, r.value) for batch in (await consumer.getmany(timeout_ms=200)).values() for r in batch]
        finally:
            await consumer.stop()
        return got

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=unique("aio-txn-id"))
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"c0", partition=0)
                await producer.send_and_wait(topic, b"c1", partition=0)
            with pytest.raises(Rollback):
                async with producer.transaction():
                    await producer.send_and_wait(topic, b"a0", partition=0)
                    raise Rollback()
            async with producer.transaction():
                await producer.send_and_wait(topic, b"c2", partition=0)
                await producer.send_offsets_to_transaction({tp: 3}, group)
        finally:
            await producer.stop()

        # c0, c1, COMMIT, a0, ABORT, c2, COMMIT.
        assert await read_values("read_committed", 3) == [(0, b"c0"), (1, b"c1"), (5, b"c2")]
        assert await read_values("read_uncommitted", 4) == [(0, b"c0"), (1, b"c1"), (3, b"a0"), (5, b"c2")]

        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            offsets = {}
            deadline = time.monotonic() + 10
            while offsets != {(topic, 0): 3} and time.monotonic() < deadline:
                try:  # the group exists once the COMMIT marker is in __consumer_offsets
                    fetched = await admin.list_consumer_group_offsets(group)
                    offsets = {(p.topic, p.partition): meta.offset for p, meta in fetched.items()}
                except Exception as error:
                    offsets = error
                await asyncio.sleep(0.1)
            assert offsets == {(topic, 0): 3}, f"the transaction's group offsets are {offsets}"
        finally:
            await admin.close()

    asyncio.run(scenario())


def test_kafka_python_transactions(broker):
    topic = unique("kp-txn")
    create_topics(broker, {topic: 1})
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=unique("kp-txn-id"))
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic, b"k0", partition=0)
        producer.send(topic, b"k1", partition=0)
        producer.commit_transaction()  # flushes first
        producer.begin_transaction()
        producer.send(topic, b"x0", partition=0).get(10)
        producer.abort_transaction()
        producer.begin_transaction()
        producer.send(topic, b"k2", partition=0)
        producer.commit_transaction()
    finally:
        producer.close(10)

    def read_values(isolation_level, count):
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation_level,
                                 enable_auto_commit=False, auto_offset_reset="earliest")
        partition = KPTopicPartition(topic, 0)
        got = []
        try:
            consumer.assign([partition])
            consumer.seek_to_beginning(partition)
            poll = lambda: got.extend((r.offset, r.value) for batch in consumer.poll(timeout_ms=200).values() for r in batch)
            wait_until(lambda: len(got) >= count, 15, lambda: f"{isolation_level} read {got}", step=poll)
            for _ in range(3):
                poll()
        finally:
            consumer.close()
        return got

    # k0, k1, COMMIT, x0, ABORT, k2, COMMIT.
    assert read_values("read_committed", 3) == [(0, b"k0"), (1, b"k1"), (5, b"k2")]
    assert read_values("read_uncommitted", 4) == [(0, b"k0"), (1, b"k1"), (3, b"x0"), (5, b"k2")]


# -- Admin: ListTransactions, DescribeTransactions, DescribeProducers ---------------------------

def test_kafka_python_admin_lists_and_describes_transactions_and_producers(broker):
    topic, transactional_id = unique("txn-admin"), unique("admin-id")
    create_topics(broker, {topic: 2})
    produce(plain_producer(broker), [(topic, 0, b"p0"), (topic, 0, b"p1")])  # not idempotent: no producer state
    producer = transactional_producer(broker, transactional_id, {"transaction.timeout.ms": 45_000})
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    partitions = {KPTopicPartition(topic, 0), KPTopicPartition(topic, 1)}
    try:
        began = time.time()
        producer.begin_transaction()
        produce(producer, [(topic, 0, b"t0"), (topic, 0, b"t1"), (topic, 0, b"t2"), (topic, 1, b"t3"), (topic, 1, b"t4")])

        [(node, listings)] = admin.list_transactions().items()
        assert node == 1
        [listing] = [listing for listing in listings if listing.transactional_id == transactional_id]
        assert listing.state == TransactionState.ONGOING and listing.producer_id >= 0, listing
        producer_id = listing.producer_id
        by_state = admin.list_transactions(state_filters=["Ongoing"])[1]
        assert transactional_id in {listing.transactional_id for listing in by_state}
        by_state = admin.list_transactions(state_filters=["CompleteCommit", "CompleteAbort"])[1]
        assert transactional_id not in {listing.transactional_id for listing in by_state}
        by_producer = admin.list_transactions(producer_id_filters=[producer_id])[1]
        assert [listing.transactional_id for listing in by_producer] == [transactional_id]

        description = admin.describe_transactions([transactional_id])[transactional_id]
        assert (description.coordinator_id, description.state, description.producer_id,
                description.transaction_timeout_ms, description.topic_partitions) == (
            1, TransactionState.ONGOING, producer_id, 45_000, partitions)
        assert began - 5 <= description.transaction_start_time_ms / 1000 <= time.time() + 5, description
        epoch = description.producer_epoch

        producers = admin.describe_producers(partitions)
        states = {tp.partition: [(p.producer_id, p.producer_epoch, p.last_sequence, p.current_transaction_start_offset)
                                 for p in state.active_producers] for tp, state in producers.items()}
        assert states == {0: [(producer_id, epoch, 2, 2)], 1: [(producer_id, epoch, 1, 0)]}

        producer.commit_transaction(30)
        seen = {}

        def complete():
            seen["description"] = admin.describe_transactions([transactional_id])[transactional_id]
            return (seen["description"].state, seen["description"].topic_partitions) == (
                TransactionState.COMPLETE_COMMIT, set())

        wait_until(complete, 10, lambda: f"after the commit: {seen['description']}", step=lambda: time.sleep(0.2))
        assert (seen["description"].producer_id, seen["description"].producer_epoch) == (producer_id, epoch)
        assert transactional_id not in {listing.transactional_id
                                        for listing in admin.list_transactions(state_filters=["Ongoing"])[1]}
        producers = admin.describe_producers(partitions)
        starts = {tp.partition: [p.current_transaction_start_offset for p in state.active_producers]
                  for tp, state in producers.items()}
        assert starts == {0: [-1], 1: [-1]}, "a committed transaction still has a start offset"

        with pytest.raises(kafka_errors.TransactionalIdNotFoundError):
            admin.describe_transactions([unique("never-used-id")])
    finally:
        admin.close()
        producer.close()


def test_kafka_python_admin_aborts_a_hanging_transaction(broker):
    """KIP-664's hanging-transaction tool: an operator finds the open transaction of a dead
    producer with DescribeProducers and aborts it on the partition with WriteTxnMarkers; the
    LSO moves past it at once, long before the transaction's own timeout."""
    topic = unique("txn-hanging")
    create_topics(broker, {topic: 1})
    partitions = [(topic, 0)]
    abandon_transaction(broker, unique("hanging-id"), topic, ["h0", "h1"], 600_000)  # 0..1
    produce(plain_producer(broker), [(topic, 0, b"after")])  # 2
    assert stable_and_high(broker, partitions) == ({(topic, 0): 0}, {(topic, 0): 3})
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        tp = KPTopicPartition(topic, 0)
        [producer] = admin.describe_producers([tp])[tp].active_producers
        assert producer.current_transaction_start_offset == 0
        admin.abort_transaction(AbortTransactionSpec(tp, producer.producer_id, producer.producer_epoch))
        assert admin.describe_producers([tp])[tp].active_producers[0].current_transaction_start_offset == -1
    finally:
        admin.close()
    # The ABORT marker took offset 3: read_committed readers see only "after".
    wait_for_offsets(broker, partitions, stable={(topic, 0): 4}, high={(topic, 0): 4})
    assert read(broker, partitions, "read_committed", 1) == records(topic, 0, [(2, b"after")])
