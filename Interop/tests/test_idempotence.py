"""Idempotent producers against the real binary: kafka-python's default (idempotence on,
acks=all), confluent-kafka with enable.idempotence, and an idempotent producer that keeps
sending while the broker is killed with SIGKILL and restarted: every acknowledged message
is in the log exactly once, in order."""

import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaProducer


def read_all(bootstrap, topic, expected, timeout=120):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-idempotence",
                         "enable.auto.commit": False, "fetch.max.bytes": 10 * 1024 * 1024})
    consumer.assign([TopicPartition(topic, 0, 0)])
    values = []
    deadline = time.monotonic() + timeout
    while len(values) < expected and time.monotonic() < deadline:
        for message in consumer.consume(10_000, 1.0):
            if message.error() is None:
                values.append(message.value())
    consumer.close()
    return values


def test_kafka_python_default_producer_is_idempotent(broker):
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)  # idempotence on by default in 3.x
    futures = [producer.send("kp-idempotent", f"m{i}".encode()) for i in range(300)]
    producer.flush(30)
    assert [future.get(10).offset for future in futures] == list(range(300))
    producer.close()
    assert read_all(broker.bootstrap, "kp-idempotent", 300) == [f"m{i}".encode() for i in range(300)]


def test_confluent_kafka_idempotent_producer(broker):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errors = []
    for index in range(2_000):
        producer.produce("ck-idempotent", f"m{index}".encode(), on_delivery=lambda error, _: error and errors.append(error))
    assert producer.flush(30) == 0 and errors == []
    assert read_all(broker.bootstrap, "ck-idempotent", 2_000) == [f"m{i}".encode() for i in range(2_000)]


def test_kill_and_restart_mid_run_loses_and_duplicates_nothing(broker_factory):
    first = broker_factory().start()
    port = first.port
    producer = Producer({"bootstrap.servers": first.bootstrap, "enable.idempotence": True, "linger.ms": 5,
                         "message.timeout.ms": 60_000, "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
    acknowledged = set()
    lock = threading.Lock()

    def delivered(error, message):
        if error is None:
            with lock:
                acknowledged.add(message.value())

    total = 1_000_000
    restarted = None
    for index in range(total):
        while True:
            try:
                producer.produce("survivor", f"m{index:06d}".encode(), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        if index == total // 2:
            # Requests are in flight: some batches are in the log but never acknowledged,
            # and the producer's retries must be recognised after the restart.
            producer.poll(0)
            first.kill()
            restarted = broker_factory(port=port).start()
        producer.poll(0)
    assert producer.flush(90) == 0
    values = read_all(restarted.bootstrap, "survivor", len(acknowledged), timeout=120)
    assert len(values) == len(set(values)), "a message is in the log twice"
    assert set(values) >= acknowledged, "an acknowledged message is missing"
    assert values == sorted(values), "messages are out of order"
    assert len(acknowledged) == total
    assert restarted.stop() == 0
