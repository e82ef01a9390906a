"""confluent-kafka (librdkafka 2.16) against the real binary: produce with acks 0, 1 and
all, consume by assignment, a fetch parked on an empty partition woken by a produce, and
the admin calls the broker serves."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from support import first_message


def produce(broker, topic, count, acks="all", **extra):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": acks, "linger.ms": 5, **extra})
    delivered = []
    for index in range(count):
        producer.produce(topic, key=f"k{index}", value=f"v{index}",
                         headers=[("h", b"1")], on_delivery=lambda error, message: delivered.append((error, message)))
    assert producer.flush(30) == 0
    return delivered


def consume(broker, topic, count, partition=0, offset=0, timeout=20):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"unused-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, offset)])
    messages = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            messages.append(message)
    consumer.close()
    return messages


@pytest.mark.parametrize("acks", ["all", "1", "0"])
def test_produce_and_consume_every_acks(broker, acks):
    topic = f"ck-acks-{acks}"
    delivered = produce(broker, topic, 100, acks=acks)
    assert all(error is None for error, _ in delivered)
    if acks != "0":
        assert [message.offset() for _, message in delivered] == list(range(100))
    messages = consume(broker, topic, 100)
    assert [(m.key(), m.value(), m.offset()) for m in messages] == [(f"k{i}".encode(), f"v{i}".encode(), i) for i in range(100)]
    assert messages[0].headers() == [("h", b"1")]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches(broker, codec):
    topic = f"ck-{codec}"
    produce(broker, topic, 500, **{"compression.type": codec, "linger.ms": 50})
    assert [m.value() for m in consume(broker, topic, 500)] == [f"v{i}".encode() for i in range(500)]


def test_parked_fetch_is_woken_by_a_produce(broker):
    topic = "ck-long-poll"
    produce(broker, topic, 1)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused-long-poll",
                         "fetch.wait.max.ms": 5000, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 1)])
    consumer.poll(1.0)  # the consumer is now parked on the empty partition
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    sent = time.monotonic()
    producer.produce(topic, value=b"wake up")
    producer.flush(10)
    message = first_message(consumer, 10)
    latency = time.monotonic() - sent
    consumer.close()
    assert message is not None and message.value() == b"wake up"
    # Woken by the append, not by the 5 s max wait running out.
    assert latency < 2.5, f"the parked fetch took {latency:.3f} s"


def test_admin_create_list_delete(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic("admin-a", num_partitions=3, replication_factor=1,
                                            config={"cleanup.policy": "compact", "retention.ms": "60000"})])
    futures["admin-a"].result(10)
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.topics["admin-a"].partitions) == 3
    with pytest.raises(Exception) as error:
        admin.create_topics([NewTopic("admin-a", num_partitions=1, replication_factor=1)])["admin-a"].result(10)
    assert "TOPIC_ALREADY_EXISTS" in str(error.value)
    with pytest.raises(Exception) as error:
        admin.create_topics([NewTopic("admin-b", num_partitions=1, replication_factor=3)])["admin-b"].result(10)
    assert "INVALID_REPLICATION_FACTOR" in str(error.value)
    with pytest.raises(Exception) as error:
        admin.create_topics([NewTopic("admin-c", num_partitions=1, replication_factor=1, config={"no.such": "1"})])["admin-c"].result(10)
    assert "INVALID_CONFIG" in str(error.value)
    admin.delete_topics(["admin-a"])["admin-a"].result(10)
    assert "admin-a" not in admin.list_topics(timeout=10).topics


def test_compacted_topics_refuse_keyless_records(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("compacted", num_partitions=1, replication_factor=1,
                                  config={"cleanup.policy": "compact"})])["compacted"].result(10)
    delivered = produce(broker, "compacted", 3)  # keyed: accepted
    assert all(error is None for error, _ in delivered)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    errors = []
    producer.produce("compacted", value=b"no key", on_delivery=lambda error, _: errors.append(error))
    producer.flush(10)
    assert errors and errors[0] is not None and "INVALID_RECORD" in errors[0].name()


def test_topics_and_configs_survive_restart(broker_factory):
    first = broker_factory().start()
    admin = AdminClient({"bootstrap.servers": first.bootstrap})
    admin.create_topics([NewTopic("kept", num_partitions=2, replication_factor=1,
                                  config={"retention.ms": "123456"})])["kept"].result(10)
    produce(first, "kept", 5)
    first.kill()
    second = broker_factory(port=first.port).start()
    admin = AdminClient({"bootstrap.servers": second.bootstrap})
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.topics["kept"].partitions) == 2
    from confluent_kafka.admin import ConfigResource
    resource = ConfigResource("topic", "kept")
    assert admin.describe_configs([resource])[resource].result(10)["retention.ms"].value == "123456"
    consumer = Consumer({"bootstrap.servers": second.bootstrap, "group.id": "unused-kept"})
    ends = [consumer.get_watermark_offsets(TopicPartition("kept", p), timeout=10)[1] for p in (0, 1)]
    consumer.close()
    assert sum(ends) == 5
    assert second.stop() == 0


def test_compaction_follows_the_topic_configs(broker_factory, tmp_path):
    """The cleaner (log.cleaner.backoff.ms=100) compacts a topic whose segments roll every
    200 ms down to the latest value per key, and leaves one with min.compaction.lag.ms of an
    hour as written; a consumer reading from the start sees each."""
    config = tmp_path / "server.properties"
    config.write_text("log.cleaner.backoff.ms=100\n")
    broker = broker_factory(extra_args=["--config", str(config)]).start()
    settings = {"cleanup.policy": "compact", "segment.ms": "200", "min.cleanable.dirty.ratio": "0.01"}
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic("compact-now", 1, 1, config=settings),
                                       NewTopic("compact-later", 1, 1, config={**settings, "min.compaction.lag.ms": "3600000"})]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for topic in ("compact-now", "compact-later"):
        for index in range(300):
            producer.produce(topic, key=f"key{index % 3}", value=f"v{index}")
    assert producer.flush(30) == 0
    time.sleep(0.3)  # older than segment.ms: the next append rolls
    for topic in ("compact-now", "compact-later"):
        producer.produce(topic, key="last", value="last")
    assert producer.flush(30) == 0

    def latest(topic, expected):
        return [(m.key(), m.value()) for m in consume(broker, topic, expected, timeout=5)]

    # Read from offset 0: once compacted, the first four records are the last four written.
    compacted = [(b"key0", b"v297"), (b"key1", b"v298"), (b"key2", b"v299"), (b"last", b"last")]
    deadline = time.monotonic() + 20
    while latest("compact-now", 4) != compacted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert latest("compact-now", 4) == compacted
    assert len(latest("compact-later", 301)) == 301
    # The settings are validated as Kafka validates them.
    for name, config in [("bad-ratio", {"min.cleanable.dirty.ratio": "1.5"}),
                         ("crossed-lags", {"min.compaction.lag.ms": "2000", "max.compaction.lag.ms": "1000"})]:
        with pytest.raises(Exception) as error:
            admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(10)
        assert "INVALID_CONFIG" in str(error.value)
