"""Consumer groups against the real binary, through all three Python clients.

confluent-kafka (librdkafka 2.16) carries most of it, with the classic protocol (JoinGroup,
SyncGroup, Heartbeat, LeaveGroup): members that split a topic's partitions and read every
message exactly once with manual commits; a member that leaves (its partitions move at
once) and one killed without leaving (evicted after session.timeout.ms, not on
disconnect); a new member resuming at the committed offsets, also across a kill -9 and a
clean restart of the broker; a static member (group.instance.id) rejoining without a
rebalance; the KIP-848 protocol (group.protocol=consumer, ConsumerGroupHeartbeat); the
admin group calls; and Kafka's record format in __consumer_offsets. kafka-python 3.0 and
aiokafka 0.14 run the split/commit/resume scenario with their own group clients; their
admin clients list and describe groups and fetch their offsets, and kafka-python's also
deletes offsets (OffsetDelete, which confluent-kafka's Python API lacks) and groups.

The broker runs with its defaults (Kafka's, except group.initial.rebalance.delay.ms=0).
Classic members use Kafka's minimum session timeout (6 s) and 1 s heartbeats, so that
rebalances and evictions happen within seconds. Every wait is bounded and fails saying
what it was waiting for; topics and groups have unique names."""

import asyncio
import collections
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import types

import kafka.errors as kafka_errors
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka import (OFFSET_BEGINNING, Consumer, ConsumerGroupState, ConsumerGroupTopicPartitions,
                             ConsumerGroupType, KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, TopicPartition as KPTopicPartition
from kafka.admin import KafkaAdminClient
from support import create_topics, first_message, group_offsets, unique, wait_until

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000


# -- Topics and messages ------------------------------------------------------------------

def create_topic(broker, topic, partitions):
    create_topics(broker, {topic: partitions})


def produce(broker, topic, count, partitions, start=0):
    """Keyed messages v{start}.. on partition index % partitions; returns their values."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    errors = []
    for index in range(start, start + count):
        producer.produce(topic, key=f"k{index}", value=f"v{index}", partition=index % partitions,
                         on_delivery=lambda error, _: error and errors.append(error))
    assert producer.flush(30) == 0 and errors == [], f"produce failed: {errors[:5]}"
    return [f"v{index}".encode() for index in range(start, start + count)]


def assert_each_once(values, expected):
    counts = collections.Counter(values)
    duplicated = sorted(value for value, count in counts.items() if count > 1)
    missing = sorted(set(expected) - set(counts))
    unexpected = sorted(set(counts) - set(expected))
    assert not (duplicated or missing or unexpected), (
        f"{len(duplicated)} read twice (e.g. {duplicated[:5]}), {len(missing)} never read (e.g. {missing[:5]}), "
        f"{len(unexpected)} unexpected (e.g. {unexpected[:5]})")


def evenly_split(assignments, partitions):
    """Each member holds an equal share and together they hold every partition."""
    share = partitions // len(assignments)
    return (all(len(held) == share for held in assignments)
            and frozenset().union(*assignments) == frozenset(range(partitions)))


# -- confluent-kafka members -------------------------------------------------------------

def classic_consumer(broker, group, extra=None):
    """A librdkafka member with the classic protocol (group.protocol defaults to classic)."""
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "partition.assignment.strategy": "range",
                     "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
                     **(extra or {})})


def consumer_protocol_consumer(broker, group):
    """A KIP-848 member: the broker assigns; session and heartbeat settings are the broker's."""
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                     "group.protocol": "consumer", "group.remote.assignor": "uniform",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


class Members:
    """confluent-kafka consumers polled in turn from this thread (librdkafka runs rebalance
    callbacks inside poll, so every member must keep polling); what each reads is kept."""

    def __init__(self, consumers):
        self.consumers = list(consumers)
        self.received = [[] for _ in self.consumers]

    def poll(self):
        for index, consumer in enumerate(self.consumers):
            for message in consumer.consume(1000, 0.05):
                error = message.error()
                if error is None:
                    self.received[index].append(message)
                elif error.fatal():
                    raise AssertionError(f"fatal error in member {index}: {error}")

    def poll_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()

    def wait(self, condition, timeout, what):
        wait_until(condition, timeout, what, step=self.poll)

    def partitions(self):
        return [frozenset(tp.partition for tp in consumer.assignment()) for consumer in self.consumers]

    def values(self):
        return [message.value() for messages in self.received for message in messages]

    def wait_for_split(self, partitions, timeout):
        self.wait(lambda: evenly_split(self.partitions(), partitions), timeout,
                  lambda: f"members hold {[sorted(held) for held in self.partitions()]} of {partitions} partitions")

    def wait_for_messages(self, count, timeout):
        self.wait(lambda: len(self.values()) >= count, timeout, lambda: f"{len(self.values())} of {count} messages read")
        self.poll_for(1.0)  # a message read twice would show up here

    def close(self):
        for consumer in self.consumers:
            consumer.close()  # a no-op on a closed consumer


def committed_offsets(consumer, topic, partitions):
    result = consumer.committed([TopicPartition(topic, partition) for partition in range(partitions)], timeout=10)
    assert all(tp.error is None for tp in result), result
    return {tp.partition: tp.offset for tp in result}


def commit_positions(consumer):
    committed = consumer.commit(asynchronous=False)
    assert committed and all(tp.error is None for tp in committed), committed
    return committed


# -- Classic protocol with confluent-kafka ------------------------------------------------

def test_three_members_split_six_partitions_and_read_each_message_once(broker):
    topic, group = unique("split"), unique("split-group")
    create_topic(broker, topic, 6)
    members = Members(classic_consumer(broker, group) for _ in range(3))
    try:
        for consumer in members.consumers:
            consumer.subscribe([topic])
        members.wait_for_split(6, timeout=30)
        expected = produce(broker, topic, 600, partitions=6)
        members.wait_for_messages(600, timeout=30)
        assert_each_once(members.values(), expected)
        for messages, held in zip(members.received, members.partitions()):
            assert {message.partition() for message in messages} == held, "a member read a partition it does not hold"
        for consumer in members.consumers:
            commit_positions(consumer)
        assert committed_offsets(members.consumers[0], topic, 6) == {partition: 100 for partition in range(6)}
    finally:
        members.close()


def test_a_member_that_leaves_hands_its_partitions_over_at_once(broker):
    # With a 30 s session timeout only the LeaveGroup sent by close() explains a handover within 15 s.
    topic, group = unique("leave"), unique("leave-group")
    create_topic(broker, topic, 6)
    members = Members(classic_consumer(broker, group, {"session.timeout.ms": 30_000}) for _ in range(3))
    try:
        for consumer in members.consumers:
            consumer.subscribe([topic])
        members.wait_for_split(6, timeout=30)
        members.consumers[2].close()
        remaining = Members(members.consumers[:2])
        remaining.wait_for_split(6, timeout=15)
        expected = produce(broker, topic, 60, partitions=6)
        remaining.wait_for_messages(60, timeout=20)
        assert_each_once(remaining.values(), expected)
    finally:
        members.close()


KILLED_MEMBER = r"""
import sys
from confluent_kafka import Consumer

bootstrap, group, topic, session, heartbeat = sys.argv[1:]
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "partition.assignment.strategy": "range",
                     "session.timeout.ms": int(session), "heartbeat.interval.ms": int(heartbeat)})
consumer.subscribe([topic])
reported = None
while True:
    consumer.poll(0.1)
    held = sorted(tp.partition for tp in consumer.assignment())
    if held != reported:
        print(" ".join(map(str, held)), flush=True)
        reported = held
"""


def test_a_killed_member_is_evicted_after_its_session_timeout(broker):
    topic, group = unique("killed"), unique("killed-group")
    create_topic(broker, topic, 4)
    survivor = Members([classic_consumer(broker, group)])
    process = None
    try:
        survivor.consumers[0].subscribe([topic])
        survivor.wait_for_split(4, timeout=20)
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_MEMBER, broker.bootstrap, group, topic,
             str(SESSION_TIMEOUT_MS), str(HEARTBEAT_INTERVAL_MS)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        victim = {"held": frozenset()}

        def follow_victim():
            for line in process.stdout:
                victim["held"] = frozenset(int(partition) for partition in line.split())

        threading.Thread(target=follow_victim, daemon=True).start()
        survivor.wait(lambda: evenly_split([survivor.partitions()[0], victim["held"]], 4), 30,
                      lambda: f"survivor holds {sorted(survivor.partitions()[0])}, victim {sorted(victim['held'])}")
        killed_at = time.monotonic()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        # Its last heartbeat was at most one interval before the kill.
        survivor.wait(lambda: survivor.partitions()[0] == frozenset(range(4)), SESSION_TIMEOUT_MS / 1000 + 10,
                      lambda: f"survivor holds {sorted(survivor.partitions()[0])} after the kill")
        took = time.monotonic() - killed_at
        earliest = (SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS) / 1000 - 1.0
        assert took >= earliest, (f"the killed member was evicted {took:.1f} s after the kill: a member that drops its "
                                  f"connection without LeaveGroup stays until session.timeout.ms runs out")
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        survivor.close()


def test_a_new_member_resumes_at_the_committed_offset(broker):
    topic, group = unique("resume"), unique("resume-group")
    create_topic(broker, topic, 1)
    produce(broker, topic, 10, partitions=1)
    first = Members([classic_consumer(broker, group)])
    try:
        first.consumers[0].subscribe([topic])
        first.wait_for_messages(10, timeout=20)
        # An offset of our choosing, not the position, with metadata.
        committed = first.consumers[0].commit(offsets=[TopicPartition(topic, 0, 4, "checkpoint")], asynchronous=False)
        assert [(tp.offset, tp.error) for tp in committed] == [(4, None)]
    finally:
        first.close()
    second = Members([classic_consumer(broker, group)])
    try:
        [fetched] = second.consumers[0].committed([TopicPartition(topic, 0)], timeout=10)
        assert (fetched.offset, fetched.metadata, fetched.error) == (4, "checkpoint", None)
        second.consumers[0].subscribe([topic])
        second.wait_for_messages(6, timeout=20)
        assert [message.offset() for message in second.received[0]] == list(range(4, 10))
    finally:
        second.close()


def test_a_fresh_group_member_gets_its_first_message_within_five_seconds(broker):
    # A functional bound (FindCoordinator, JoinGroup twice, SyncGroup, OffsetFetch, Fetch), not a benchmark.
    topic = unique("first")
    create_topic(broker, topic, 1)
    produce(broker, topic, 1, partitions=1)
    consumer = classic_consumer(broker, unique("first-group"))
    try:
        subscribed = time.monotonic()
        consumer.subscribe([topic])
        message = first_message(consumer, 15)
        took = time.monotonic() - subscribed
    finally:
        consumer.close()
    assert message is not None and message.value() == b"v0", "no message within 15 s of subscribe"
    assert took < 5.0, f"the first message came {took:.2f} s after subscribe"


def test_committed_offsets_survive_kill_and_clean_restart(broker_factory):
    topic, group = unique("durable"), unique("durable-group")
    first = broker_factory().start()
    create_topic(first, topic, 2)
    produce(first, topic, 20, partitions=2)  # offsets 0..9 on each partition
    members = Members([classic_consumer(first, group)])
    try:
        members.consumers[0].subscribe([topic])
        members.wait_for_messages(20, timeout=20)
        committed = members.consumers[0].commit(
            offsets=[TopicPartition(topic, 0, 3, "three"), TopicPartition(topic, 1, 7, "seven")], asynchronous=False)
        assert all(tp.error is None for tp in committed), committed
    finally:
        members.close()
    first.kill()

    second = broker_factory(port=first.port).start()
    members = Members([classic_consumer(second, group)])
    try:
        fetched = members.consumers[0].committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        assert [(tp.offset, tp.metadata, tp.error) for tp in fetched] == [(3, "three", None), (7, "seven", None)]
        members.consumers[0].subscribe([topic])
        members.wait_for_messages(7 + 3, timeout=20)
        read = sorted((message.partition(), message.offset()) for message in members.received[0])
        assert read == [(0, offset) for offset in range(3, 10)] + [(1, offset) for offset in range(7, 10)]
        commit_positions(members.consumers[0])
    finally:
        members.close()
    assert second.stop() == 0

    third = broker_factory(port=first.port).start()
    consumer = classic_consumer(third, group)
    try:
        assert committed_offsets(consumer, topic, 2) == {0: 10, 1: 10}
    finally:
        consumer.close()
    assert third.stop() == 0


@pytest.mark.parametrize("static_role", ["leader", "follower"])
def test_a_static_member_rejoins_without_a_rebalance(broker, static_role):
    # The first member to join leads the group. A static leader that rejoins with JoinGroup
    # below v9 (librdkafka sends v5) gets no SkipAssignment: Kafka answers as leader with no
    # members, and SyncGroup in the Stable group hands back the stored assignment (KIP-814).
    topic, group = unique("static"), unique("static-group")
    create_topic(broker, topic, 4)
    events = collections.defaultdict(list)

    def recorded(name):
        return dict(on_assign=lambda _, partitions: events[name].append(("assign", sorted(tp.partition for tp in partitions))),
                    on_revoke=lambda _, partitions: events[name].append(("revoke", sorted(tp.partition for tp in partitions))))

    # The long session timeout keeps the static member's slot while it is away, however slow the machine.
    static = {"group.instance.id": unique("instance"), "session.timeout.ms": 30_000}
    static_member = classic_consumer(broker, group, static)
    other = classic_consumer(broker, group, {"session.timeout.ms": 30_000})
    rejoined = None
    try:
        joining = [(static_member, "static"), (other, "other")]
        if static_role == "follower":
            joining.reverse()
        (first, first_name), (second, second_name) = joining
        first.subscribe([topic], **recorded(first_name))
        Members([first]).wait_for_split(4, timeout=20)
        second.subscribe([topic], **recorded(second_name))
        both = Members([static_member, other])
        both.wait_for_split(4, timeout=30)
        both.poll_for(2.0)
        static_held, other_held = both.partitions()
        other_events = list(events["other"])

        static_member.close()  # a static member sends no LeaveGroup
        Members([other]).poll_for(2.5)  # the other member heartbeats meanwhile: nothing may start
        rejoined = classic_consumer(broker, group, static)
        rejoined.subscribe([topic], **recorded("rejoined"))
        again = Members([rejoined, other])
        again.wait(lambda: bool(again.partitions()[0]), 20, lambda: "the static member got no partitions back")
        again.poll_for(3.0)  # time for the other member to hear of a rebalance, were there one
        assert again.partitions() == [static_held, other_held]
        assert events["rejoined"] == [("assign", sorted(static_held))]
        assert events["other"] == other_events, f"the other member was rebalanced: {events['other'][len(other_events):]}"

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        description = admin.describe_consumer_groups([group])[group].result(10)
        assert description.state == ConsumerGroupState.STABLE
        assert sorted(member.group_instance_id or "" for member in description.members) == ["", static["group.instance.id"]]
    finally:
        for consumer in (static_member, other, rejoined):
            if consumer is not None:
                consumer.close()


# -- KIP-848: the consumer protocol --------------------------------------------------------

def test_kip848_members_split_read_commit_and_hand_over(broker):
    topic, group = unique("kip848"), unique("kip848-group")
    create_topic(broker, topic, 4)
    members = Members(consumer_protocol_consumer(broker, group) for _ in range(2))
    try:
        for consumer in members.consumers:
            consumer.subscribe([topic])
        # Reconciliation is paced by the broker's heartbeat interval (Kafka's default: 5 s).
        members.wait_for_split(4, timeout=45)
        expected = produce(broker, topic, 400, partitions=4)
        members.wait_for_messages(400, timeout=30)
        assert_each_once(members.values(), expected)
        for consumer in members.consumers:
            commit_positions(consumer)
        assert committed_offsets(members.consumers[0], topic, 4) == {partition: 100 for partition in range(4)}

        members.consumers[1].close()
        remaining = Members(members.consumers[:1])
        remaining.wait_for_split(4, timeout=20)
        expected = produce(broker, topic, 40, partitions=4, start=400)
        remaining.wait_for_messages(40, timeout=20)
        assert_each_once(remaining.values(), expected)
    finally:
        members.close()


def test_kip848_regex_subscriptions_match_in_linear_time(broker):
    """librdkafka sends a "^..." subscription as SubscribedTopicRegex. "(a+)+b" against a
    long name of a's takes a backtracking engine 2^n steps: the broker matches it (as Kafka,
    with RE2/J) in linear time, and a regex subscription still finds its topics."""
    prefix = unique("regex").replace("-", "")
    create_topic(broker, "a" * 60, 1)
    create_topic(broker, f"{prefix}-orders", 2)
    stuck = consumer_protocol_consumer(broker, unique("regex-group"))
    follower = consumer_protocol_consumer(broker, unique("regex-group"))
    try:
        stuck.subscribe(["^(a+)+b"])
        follower.subscribe([f"^{prefix}-(orders|payments)"])
        members = Members([follower])
        members.wait_for_split(2, timeout=20)
        stuck.poll(1)
        before = broker.cpu_seconds()
        time.sleep(2)
        assert broker.cpu_seconds() - before < 1, "a broker thread is spinning on the pattern"
        assert stuck.assignment() == []
    finally:
        stuck.close()
        follower.close()


# -- kafka-python and aiokafka group consumers ---------------------------------------------

def python_client_settings(broker, group):
    return dict(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False,
                auto_offset_reset="earliest", session_timeout_ms=SESSION_TIMEOUT_MS,
                heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS)


def kafka_python_consumer(broker, topic, group):
    """A kafka-python group member that knows the topic's partitions before it first joins.

    kafka-python 3.0.12 loses a join when a poll() times out while the leader's rejoin for a
    metadata change is between JoinGroup and SyncGroup: the member never heartbeats or takes
    its partitions. Fetching the metadata first avoids that rejoin; long polls narrow the window."""
    consumer = KafkaConsumer(**python_client_settings(broker, group))
    consumer.partitions_for_topic(topic)
    consumer.subscribe([topic])
    return consumer


class KafkaPythonMember(threading.Thread):
    """A kafka-python group member on its own thread (a KafkaConsumer is not thread-safe):
    it commits after every batch it reads and publishes its assignment."""

    def __init__(self, broker, topic, group):
        super().__init__(daemon=True)
        self.broker, self.topic, self.group = broker, topic, group
        self.records = []
        self.assignment = frozenset()
        self.error = None
        self.stopping = threading.Event()

    def run(self):
        try:
            consumer = kafka_python_consumer(self.broker, self.topic, self.group)
        except Exception as error:
            self.error = error
            return
        try:
            while not self.stopping.is_set():
                batch = [record for records in consumer.poll(timeout_ms=1000).values() for record in records]
                if batch:
                    self.records += batch
                    consumer.commit()
                self.assignment = frozenset(tp.partition for tp in consumer.assignment())
        except Exception as error:
            self.error = error
        finally:
            consumer.close()

    def stop(self):
        self.stopping.set()
        self.join(30)
        assert not self.is_alive(), "a kafka-python member did not close within 30 s"


def test_kafka_python_group_members(broker):
    topic, group = unique("kp-group"), unique("kp-group-group")
    create_topic(broker, topic, 4)
    members = [KafkaPythonMember(broker, topic, group) for _ in range(2)]
    for member in members:
        member.start()

    def state():
        return f"assignments {[sorted(m.assignment) for m in members]}, errors {[m.error for m in members]}"

    try:
        wait_until(lambda: evenly_split([m.assignment for m in members], 4) or any(m.error for m in members), 45, state)
        expected = produce(broker, topic, 400, partitions=4)
        wait_until(lambda: sum(len(m.records) for m in members) >= 400 or any(m.error for m in members), 30, state)
        time.sleep(1.0)
    finally:
        for member in members:
            member.stop()
    assert [m.error for m in members] == [None, None], state()
    assert_each_once([record.value for m in members for record in m.records], expected)

    # A new member resumes where the group committed: only the records produced since.
    expected = produce(broker, topic, 4, partitions=4, start=400)
    consumer = kafka_python_consumer(broker, topic, group)
    records = []
    try:
        assert {p: consumer.committed(KPTopicPartition(topic, p)) for p in range(4)} == {p: 100 for p in range(4)}
        poll = lambda: records.extend(r for batch in consumer.poll(timeout_ms=1000).values() for r in batch)
        wait_until(lambda: len(records) >= 4, 30, lambda: f"{len(records)} of 4 records", step=poll)
        poll()
    finally:
        consumer.close()
    assert sorted((r.partition, r.offset, r.value) for r in records) == [(p, 100, expected[p]) for p in range(4)]


def test_aiokafka_group_members(broker):
    topic, group = unique("aio-group"), unique("aio-group-group")
    create_topic(broker, topic, 4)

    async def member(state, stopping):
        consumer = AIOKafkaConsumer(topic, **python_client_settings(broker, group))
        await consumer.start()
        try:
            while not stopping.is_set():
                batch = [r for records in (await consumer.getmany(timeout_ms=100)).values() for r in records]
                if batch:
                    state.records += batch
                    await consumer.commit()
                state.assignment = frozenset(tp.partition for tp in consumer.assignment())
        finally:
            await consumer.stop()

    async def wait_for(condition, timeout, what, tasks):
        deadline = time.monotonic() + timeout
        while not condition():
            failed = [task for task in tasks if task.done()]
            if failed:
                await failed[0]  # raises the member's error
                raise AssertionError("an aiokafka member stopped early")
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what()}")
            await asyncio.sleep(0.05)

    async def scenario():
        stopping = asyncio.Event()
        states = [types.SimpleNamespace(records=[], assignment=frozenset()) for _ in range(2)]
        tasks = [asyncio.create_task(member(state, stopping)) for state in states]
        try:
            await wait_for(lambda: evenly_split([s.assignment for s in states], 4), 45,
                           lambda: f"assignments {[sorted(s.assignment) for s in states]}", tasks)
            expected = await asyncio.to_thread(produce, broker, topic, 400, 4)
            await wait_for(lambda: sum(len(s.records) for s in states) >= 400, 30,
                           lambda: f"{sum(len(s.records) for s in states)} of 400 records", tasks)
            await asyncio.sleep(1.0)
        finally:
            stopping.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert_each_once([record.value for s in states for record in s.records], expected)

        # A new member resumes where the group committed: only the records produced since.
        expected = await asyncio.to_thread(produce, broker, topic, 4, 4, 400)
        consumer = AIOKafkaConsumer(topic, **python_client_settings(broker, group))
        await consumer.start()
        records = []
        try:
            committed = {p: await consumer.committed(AioTopicPartition(topic, p)) for p in range(4)}
            assert committed == {p: 100 for p in range(4)}
            deadline = time.monotonic() + 30
            while len(records) < 4 and time.monotonic() < deadline:
                records += [r for batch in (await consumer.getmany(timeout_ms=200)).values() for r in batch]
            for _ in range(5):
                records += [r for batch in (await consumer.getmany(timeout_ms=200)).values() for r in batch]
        finally:
            await consumer.stop()
        assert sorted((r.partition, r.offset, r.value) for r in records) == [(p, 100, expected[p]) for p in range(4)]

    asyncio.run(scenario())


# -- Admin group calls ---------------------------------------------------------------------

@pytest.fixture
def active_group(broker):
    """A fresh group with one confluent-kafka member, still in the group, that has read the 5
    messages on each of a topic's 2 partitions and committed offset 5 on both."""
    topic, group, client_id = unique("admin"), unique("admin-group"), unique("admin-member")
    create_topic(broker, topic, 2)
    produce(broker, topic, 10, partitions=2)
    members = Members([classic_consumer(broker, group, {"client.id": client_id})])
    try:
        members.consumers[0].subscribe([topic])
        members.wait_for_messages(10, timeout=30)
        commit_positions(members.consumers[0])
        yield types.SimpleNamespace(topic=topic, group=group, client_id=client_id, member=members.consumers[0])
    finally:
        members.close()


def error_code(exception):
    error = exception.args[0] if exception.args else None
    return error.code() if isinstance(error, KafkaError) else None


def test_confluent_kafka_admin_group_calls(broker, active_group):
    # confluent-kafka has no OffsetDelete call: kafka-python's test covers it.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic, group = active_group.topic, active_group.group

    listed = {listing.group_id: listing for listing in admin.list_consumer_groups().result(10).valid}
    assert group in listed, f"{group} not in {sorted(listed)}"
    assert (listed[group].state, listed[group].type, listed[group].is_simple_consumer_group) == (
        ConsumerGroupState.STABLE, ConsumerGroupType.CLASSIC, False)

    description = admin.describe_consumer_groups([group])[group].result(10)
    assert (description.state, description.partition_assignor, description.is_simple_consumer_group) == (
        ConsumerGroupState.STABLE, "range", False)
    assert description.coordinator.id == 1
    [member] = description.members
    assert member.client_id == active_group.client_id
    assert sorted((tp.topic, tp.partition) for tp in member.assignment.topic_partitions) == [(topic, 0), (topic, 1)]

    assert group_offsets(admin, group) == {(topic, 0): 5, (topic, 1): 5}

    with pytest.raises(KafkaException) as refused:
        admin.delete_consumer_groups([group])[group].result(10)
    assert error_code(refused.value) == KafkaError.NON_EMPTY_GROUP, refused.value

    active_group.member.close()
    description = admin.describe_consumer_groups([group])[group].result(10)
    assert (description.state, description.members) == (ConsumerGroupState.EMPTY, [])

    altered = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 3)])])[group].result(10)
    assert all(tp.error is None for tp in altered.topic_partitions), altered.topic_partitions
    assert group_offsets(admin, group) == {(topic, 0): 2, (topic, 1): 3}

    assert admin.delete_consumer_groups([group])[group].result(10) is None
    assert group not in {listing.group_id for listing in admin.list_consumer_groups().result(10).valid}
    try:
        assert group_offsets(admin, group) == {}, "the deleted group's offsets are still there"
    except KafkaException as error:
        assert error_code(error) == KafkaError.GROUP_ID_NOT_FOUND, error


def test_kafka_python_admin_group_calls(broker, active_group):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    topic, group = active_group.topic, active_group.group
    try:
        listed = {listing["group_id"]: listing for listing in admin.list_groups()}
        assert group in listed, f"{group} not in {sorted(listed)}"
        assert (listed[group]["protocol_type"], listed[group].get("group_state")) == ("consumer", "Stable")

        described = admin.describe_groups([group])[group]
        assert (described["error"], described["group_state"], described["protocol_type"], described["protocol_data"]) == (
            None, "Stable", "consumer", "range")
        [member] = described["members"]
        assert member["client_id"] == active_group.client_id
        assert [(assigned["topic"], sorted(assigned["partitions"]))
                for assigned in member["member_assignment"]["assigned_partitions"]] == [(topic, [0, 1])]

        offsets = admin.list_group_offsets(group)[group]
        assert {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()} == {(topic, 0): 5, (topic, 1): 5}

        # While a member is subscribed to the topic its offsets stay, and the group cannot go.
        first_partition = KPTopicPartition(topic, 0)
        assert admin.delete_group_offsets(group, [first_partition]) == {first_partition: kafka_errors.GroupSubscribedToTopicError}
        assert admin.delete_groups([group]) == {group: "NonEmptyGroupError"}

        active_group.member.close()
        assert admin.delete_group_offsets(group, [first_partition]) == {first_partition: kafka_errors.NoError}
        offsets = admin.list_group_offsets(group)[group]
        assert {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0} == {(topic, 1): 5}

        assert admin.delete_groups([group]) == {group: "OK"}
        assert group not in {listing["group_id"] for listing in admin.list_groups()}
    finally:
        admin.close()


def test_aiokafka_admin_group_calls(broker, active_group):
    # aiokafka 0.14's admin client has list_consumer_groups, describe_consumer_groups and
    # list_consumer_group_offsets (no deletes). It reads DescribeGroups v3 with the v2 schema,
    # so describe one group at a time.
    topic, group = active_group.topic, active_group.group

    async def scenario():
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            listed = await admin.list_consumer_groups()
            assert (group, "consumer") in [tuple(listing) for listing in listed], listed
            [response] = await admin.describe_consumer_groups([group])
            [described] = response.groups
            error, group_id, state, protocol_type, protocol, members = described[:6]
            assert (error, group_id, state, protocol_type, protocol) == (0, group, "Stable", "consumer", "range")
            [(_, client_id, _, _, assignment)] = members
            assert client_id == active_group.client_id and assignment, members
            offsets = await admin.list_consumer_group_offsets(group)
            assert {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()} == {(topic, 0): 5, (topic, 1): 5}
        finally:
            await admin.close()

    asyncio.run(scenario())


# -- __consumer_offsets ----------------------------------------------------------------------

def java_string_hash(text):
    value = 0
    encoded = text.encode("utf-16-be")
    for (unit,) in struct.iter_unpack(">H", encoded):
        value = (31 * value + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def offsets_partition_for(group, partitions):
    """Kafka's placement: Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions."""
    hashed = java_string_hash(group)
    return (0 if hashed == -(1 << 31) else abs(hashed)) % partitions


def offset_commit_key(key):
    """(group, topic, partition) from Kafka's OffsetCommitKey, record key version 1: int16
    version, int16-length group, int16-length topic, int32 partition; None for other keys."""
    if key is None or len(key) < 2 or struct.unpack_from(">h", key)[0] != 1:
        return None
    (group_length,) = struct.unpack_from(">h", key, 2)
    group = key[4:4 + group_length].decode()
    (topic_length,) = struct.unpack_from(">h", key, 4 + group_length)
    topic_start = 6 + group_length
    topic = key[topic_start:topic_start + topic_length].decode()
    (partition,) = struct.unpack_from(">i", key, topic_start + topic_length)
    return group, topic, partition


def test_consumer_offsets_topic_holds_kafka_offset_commit_records(broker):
    topic, group = unique("offsets-topic"), unique("offsets-group")
    create_topic(broker, topic, 1)
    produce(broker, topic, 50, partitions=1)
    members = Members([classic_consumer(broker, group)])
    try:
        members.consumers[0].subscribe([topic])
        members.wait_for_messages(50, timeout=20)
        committed = members.consumers[0].commit(offsets=[TopicPartition(topic, 0, 42)], asynchronous=False)
        assert [(tp.offset, tp.error) for tp in committed] == [(42, None)]
    finally:
        members.close()

    reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("unused"), "enable.auto.commit": False})
    found, seen, key_versions = None, 0, collections.Counter()
    try:
        metadata = reader.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
        assert metadata.error is None and metadata.partitions, f"no __consumer_offsets in Metadata: {metadata.error}"
        partitions = len(metadata.partitions)
        reader.assign([TopicPartition("__consumer_offsets", partition, OFFSET_BEGINNING) for partition in metadata.partitions])
        deadline = time.monotonic() + 20
        while found is None and time.monotonic() < deadline:
            for message in reader.consume(1000, 0.2):
                if message.error() is not None or len(message.key() or b"") < 2:
                    continue
                seen += 1
                key_versions[struct.unpack_from(">h", message.key())[0]] += 1
                if message.value() and offset_commit_key(message.key()) == (group, topic, 0):
                    found = message
    finally:
        reader.close()
    assert found is not None, (f"no OffsetCommit record (key version 1) for ({group}, {topic}, 0) among {seen} "
                               f"records read from __consumer_offsets; key versions seen: {dict(key_versions)}")
    value_version, offset = struct.unpack_from(">hq", found.value())
    assert offset == 42, f"value version {value_version} holds offset {offset}"
    assert found.partition() == offsets_partition_for(group, partitions), (
        f"the record is in partition {found.partition()}, Kafka puts it in {offsets_partition_for(group, partitions)}")


def test_kip848_regex_subscriptions_read_quoted_text(broker):
    """A pattern with \\Q...\\E, as Java's Pattern.quote writes it, matches its text literally:
    the '.' in the quoted name is no wildcard, so the look-alike topic stays out."""
    prefix = unique("quoted").replace("-", "")
    create_topic(broker, f"{prefix}.orders", 2)
    create_topic(broker, f"{prefix}Xorders", 1)
    consumer = consumer_protocol_consumer(broker, unique("quoted-group"))
    try:
        consumer.subscribe([f"^\\Q{prefix}.orders\\E"])
        members = Members([consumer])
        members.wait_for_split(2, timeout=20)
        assert {partition.topic for partition in consumer.assignment()} == {f"{prefix}.orders"}
    finally:
        consumer.close()
