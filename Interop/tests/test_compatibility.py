"""Places where independent client suites found Swiftlet departing from Kafka 4.x, each
checked with a real client: Fetch's response-wide max_bytes, ListOffsets by time after the
log start moved, manual replica assignments, min.insync.replicas as Kafka 4.x caps it, and
--kafka-defaults."""

import os
import tempfile
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as PythonNewTopic
from kafka.errors import InvalidReplicationAssignmentError

from conftest import RunningBroker
from support import create_topics, unique


def test_fetch_max_bytes_bounds_the_whole_response(broker):
    # Five records of 900 KiB, each its own batch. The consumer allows 20 MB per partition
    # but 1 MB per response, and cannot receive more than that: Kafka answers one batch per
    # fetch (the first batch may pass max_bytes, the rest may not); a broker answering
    # everything up to the partition limit sends 4.6 MB and the client drops the connection.
    topic = unique("big-records")
    create_topics(broker, {topic: 1})
    size = 921_600
    producer = Producer({"bootstrap.servers": broker.bootstrap, "batch.num.messages": 1, "linger.ms": 0,
                         "message.max.bytes": 2_000_000})
    for index in range(5):
        producer.produce(topic, bytes([index]) * size)
        producer.flush(10)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("big"), "auto.offset.reset": "earliest",
                         "fetch.max.bytes": 1_000_000, "max.partition.fetch.bytes": 20_000_000,
                         "receive.message.max.bytes": 1_000_512})
    consumer.subscribe([topic])
    received = []
    deadline = time.monotonic() + 20
    while len(received) < 5 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            received.append(message.value())
    consumer.close()
    assert [(len(value), value[0]) for value in received] == [(size, index) for index in range(5)]


def test_offsets_for_times_after_delete_records(broker):
    # A timestamp older than every retained record is the log start, as Kafka answers it,
    # not "no such offset" (which sends a consumer seeking by time to the end).
    topic = unique("seek-by-time")
    create_topics(broker, {topic: 1})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    base = int(time.time() * 1000) - 60_000
    for index in range(10):
        producer.produce(topic, str(index).encode(), timestamp=base + index)
        producer.flush(10)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_records([TopicPartition(topic, 0, 6)])[TopicPartition(topic, 0, 6)].result(10)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("seek")})
    found = consumer.offsets_for_times([TopicPartition(topic, 0, base - 1_000)], timeout=10)
    within = consumer.offsets_for_times([TopicPartition(topic, 0, base + 8)], timeout=10)
    deleted = consumer.offsets_for_times([TopicPartition(topic, 0, base + 2)], timeout=10)
    consumer.close()
    assert found[0].offset == 6
    assert within[0].offset == 8
    assert deleted[0].offset == 6


def test_manual_assignments_must_number_partitions_from_zero(broker):
    client = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    topic = unique("gapped")
    with pytest.raises(InvalidReplicationAssignmentError) as refused:
        client.create_topics([PythonNewTopic(topic, num_partitions=-1, replication_factor=-1,
                                             replica_assignments={0: [1], 2: [1]})])
    assert "consecutive 0-based integer sequence" in str(refused.value)
    assert topic not in client.list_topics()
    # Consecutive ids are accepted, and make that many partitions.
    client.create_topics([PythonNewTopic(topic, num_partitions=-1, replication_factor=-1,
                                         replica_assignments={0: [1], 1: [1]})])
    partitions = client.describe_topics([topic])[0]["partitions"]
    client.close()
    assert sorted(partition["partition_index"] for partition in partitions) == [0, 1]


def test_min_insync_replicas_is_capped_at_the_replica_count(broker):
    # Kafka 4.x checks acks=all against min(min.insync.replicas, replicas): a one-replica topic
    # asking for two in-sync replicas still takes acks=all writes. The setting is kept.
    topic = unique("min-isr")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                  config={"min.insync.replicas": "2"})])[topic].result(10)
    reports = []
    strict = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "retries": 0, "linger.ms": 0})
    strict.produce(topic, b"accepted", on_delivery=lambda error, message: reports.append((error, message.offset())))
    strict.flush(10)
    assert reports == [(None, 0)]
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(10)
    assert configs["min.insync.replicas"].value == "2"


def test_kafka_defaults_restore_the_initial_rebalance_delay():
    # With Swiftlet's default (0) a lone consumer is assigned at once; with --kafka-defaults
    # the group waits group.initial.rebalance.delay.ms (3000) for others, as Kafka does.
    def first_assignment_seconds(broker):
        topic = unique("delay")
        create_topics(broker, {topic: 1})
        assigned = []
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique("delay")})
        start = time.monotonic()
        consumer.subscribe([topic], on_assign=lambda _, partitions: assigned.append(time.monotonic() - start))
        while not assigned and time.monotonic() - start < 20:
            consumer.poll(0.1)
        consumer.close()
        return assigned[0]

    with tempfile.TemporaryDirectory() as directory:
        swiftlet = RunningBroker(os.path.join(directory, "swiftlet")).start()
        kafka_like = RunningBroker(os.path.join(directory, "kafka"), extra_args=["--kafka-defaults"]).start()
        try:
            admin = AdminClient({"bootstrap.servers": kafka_like.bootstrap})  # alive until the result is in
            described = admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "1")])
            configs = list(described.values())[0].result(10)
            assert configs["group.initial.rebalance.delay.ms"].value == "3000"
            assert first_assignment_seconds(swiftlet) < 2.5
            assert first_assignment_seconds(kafka_like) >= 3.0
        finally:
            assert swiftlet.stop() == 0
            assert kafka_like.stop() == 0
