"""kafka-python 3.0 (ApiVersions v4, flexible versions) and aiokafka 0.14 (ApiVersions v0,
classic versions) against the real binary: produce and consume without consumer groups.
Idempotence is off here so that acks 0 and 1 can be tested (it needs acks=all);
test_idempotence.py covers kafka-python's idempotent default."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from support import create_topics, produce_v3


@pytest.mark.parametrize("acks", [0, 1, "all"])
@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_kafka_python_round_trip(broker, acks, codec):
    topic = f"kp-{acks}-{codec}"
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks=acks, compression_type=codec,
                             enable_idempotence=False, linger_ms=5)
    futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")]) for i in range(200)]
    producer.flush(30)
    if acks != 0:
        assert [future.get(10).offset for future in futures] == list(range(200))
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    records = []
    for record in consumer:
        records.append(record)
        if len(records) == 200:
            break
    consumer.close()
    assert [(r.key, r.value, r.offset) for r in records] == [(f"k{i}".encode(), f"v{i}".encode(), i) for i in range(200)]
    assert records[0].headers == [("h", b"x")]


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_aiokafka_round_trip(broker, codec):
    topic = f"aio-{codec}"

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, acks=1)
        await producer.start()
        try:
            results = [await producer.send_and_wait(topic, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(50)]
        finally:
            await producer.stop()
        assert [result.offset for result in results] == list(range(50))
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0)])
            await consumer.seek_to_beginning()
            values = []
            while len(values) < 50:
                batch = await consumer.getmany(timeout_ms=5000)
                if not batch:
                    break
                for messages in batch.values():
                    values += [message.value for message in messages]
        finally:
            await consumer.stop()
        assert values == [f"v{i}".encode() for i in range(50)]

    asyncio.run(scenario())


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_a_compressed_batch_must_hold_the_records_it_claims(broker, codec):
    """Batches built by kafka-python's own record encoder, then made to claim one record more
    than they hold (CRC recomputed): refused with INVALID_RECORD, as Kafka refuses them, and
    nothing appended; the intact batch is then stored and read back by a consumer."""
    import struct
    from kafka.record.default_records import DefaultRecordBatchBuilder
    from kafka.record.util import calc_crc32c
    topic = f"claims-{codec}"
    create_topics(broker, {topic: 1})
    builder = DefaultRecordBatchBuilder(magic=2, compression_type={"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[codec],
                                        is_transactional=False, producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    for index in range(100):
        builder.append(index, timestamp=None, key=None, value=f"value {index}".encode() * 3, headers=[])
    intact = bytes(builder.build())
    forged = bytearray(intact)
    forged[23:27] = struct.pack(">i", 100)      # lastOffsetDelta
    forged[57:61] = struct.pack(">i", 101)      # recordCount
    forged[17:21] = struct.pack(">I", calc_crc32c(bytes(forged[21:])))
    INVALID_RECORD = 87
    assert produce_v3(broker.bootstrap, topic, bytes(forged)) == INVALID_RECORD
    assert produce_v3(broker.bootstrap, topic, intact) == 0
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=5000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    records = [record for _, record in zip(range(100), consumer)]
    consumer.close()
    assert [(r.offset, r.value) for r in records] == [(i, f"value {i}".encode() * 3) for i in range(100)]
