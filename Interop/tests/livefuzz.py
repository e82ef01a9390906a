"""Live fuzzing of the swiftlet binary with what real clients send: a recording proxy captures
every request frame of a client workload (confluent-kafka, kafka-python, aiokafka: produce,
transactions, both group protocols, admin calls), then the frames are replayed with
mutations (bit flips, boundary integers, cut and inserted bytes) for a while. The broker
must stay up, stay small, and still serve a real client afterwards.

test_live_fuzz.py runs a short session in CI; for a long one:

    Interop/.venv/bin/python Interop/tests/livefuzz.py --seconds 600 --seed 7 [--memory]
"""

import asyncio
import os
import random
import socket
import struct
import sys
import threading
import time


class RecordingProxy:
    """Forwards connections on `port` to the broker and keeps every client->broker frame."""

    def __init__(self, broker_port, port):
        self.broker_port, self.port = broker_port, port
        self.frames, self.lock = [], threading.Lock()
        self.server = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.broker_port))
            threading.Thread(target=self.upward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self.downward, args=(upstream, client), daemon=True).start()

    def upward(self, client, upstream):
        pending = b""
        try:
            while data := client.recv(1 << 20):
                upstream.sendall(data)
                pending += data
                while len(pending) >= 4 and len(pending) >= 4 + struct.unpack(">i", pending[:4])[0]:
                    size = struct.unpack(">i", pending[:4])[0]
                    with self.lock:
                        self.frames.append(pending[4:4 + size])
                    pending = pending[4 + size:]
        except OSError:
            pass
        upstream.close()

    @staticmethod
    def downward(upstream, client):
        try:
            while data := upstream.recv(1 << 20):
                client.sendall(data)
        except OSError:
            pass
        client.close()

    def close(self):
        self.server.close()


def client_workload(bootstrap):
    """Real clients doing what applications do; every request they send is recorded."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, ElectionType, Producer, TopicCollection, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic("fuzzed", 3, 1),
                                       NewTopic("fuzzed-compact", 1, 1, config={"cleanup.policy": "compact"})]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "compression.codec": "lz4"})
    for index in range(100):
        producer.produce("fuzzed", key=str(index).encode(), value=b"v" * index, headers={"h": b"1"})
    producer.produce("fuzzed-compact", key=b"k", value=b"v")
    producer.flush(10)
    transactional = Producer({"bootstrap.servers": bootstrap, "transactional.id": "fuzzed-tx"})
    transactional.init_transactions(10)
    for commit in (True, False):
        transactional.begin_transaction()
        transactional.produce("fuzzed", b"t")
        transactional.commit_transaction(10) if commit else transactional.abort_transaction(10)
    for protocol in ("classic", "consumer"):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fuzzed-{protocol}", "group.protocol": protocol,
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(["fuzzed"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message and not message.error():
                consumer.commit(asynchronous=False)
                break
        consumer.close()
    admin.describe_configs([ConfigResource("topic", "fuzzed")])[ConfigResource("topic", "fuzzed")].result(10)
    admin.create_partitions([NewPartitions("fuzzed", 4)])["fuzzed"].result(10)
    admin.delete_records([TopicPartition("fuzzed", 0, 2)])[TopicPartition("fuzzed", 0, 2)].result(10)
    admin.list_consumer_groups().result(10)
    admin.describe_consumer_groups(["fuzzed-classic"])["fuzzed-classic"].result(10)
    for future in admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("fuzzed-classic")]).values():
        future.result(10)
    admin.describe_cluster().result(10)
    admin.describe_topics(TopicCollection(["fuzzed"]))["fuzzed"].result(10)
    admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition("fuzzed", 0)]).result(10)

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient
    python_admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    python_admin.describe_log_dirs()
    python_admin.list_transactions()
    python_admin.list_partition_reassignments()
    python_admin.describe_user_scram_credentials(["nobody"])
    python_admin.close()
    python_producer = KafkaProducer(bootstrap_servers=bootstrap)
    for _ in range(10):
        python_producer.send("fuzzed", b"kafka-python")
    python_producer.flush()
    python_producer.close()

    from aiokafka import AIOKafkaProducer

    async def aio():
        aio_producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip")
        await aio_producer.start()
        await aio_producer.send_and_wait("fuzzed", b"aiokafka")
        await aio_producer.stop()
    asyncio.run(aio())
    admin.delete_topics(["fuzzed-compact"])["fuzzed-compact"].result(10)


INTERESTING = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0xffffffff, 2**63 - 1, -2**63]


def mutate(frame, rng):
    data = bytearray(frame)
    for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
        # The api key and version (the first 4 bytes) are kept most of the time, so the
        # mutations reach the handlers rather than stopping at the version check.
        low = 4 if rng.random() < 0.95 else 0
        if len(data) <= low:
            break
        at = rng.randrange(low, len(data))
        kind = rng.randrange(7)
        if kind == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at] = rng.choice([0, 0xff, 0x7f, 0x80, 1])
        elif kind in (2, 3, 4):
            width = (2, 4, 8)[kind - 2]
            data[at:at + width] = (rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)).to_bytes(width, "big")
        elif kind == 5:
            del data[at:at + rng.randrange(1, 16)]
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(data)


def replay(frames, port, alive, seconds, seed):
    """Sends mutated frames, a few per connection, until `seconds` pass or alive() fails.
    Returns how many frames were sent."""
    rng = random.Random(seed)
    sent, open_connections = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            time.sleep(0.1)  # out of descriptors (many partitions made): the broker backs off
            continue
        connection.setblocking(False)
        for _ in range(rng.randrange(1, 6)):
            frame = mutate(rng.choice(frames), rng)
            try:
                connection.sendall(struct.pack(">i", len(frame)) + frame)
            except OSError:
                break
            sent += 1
        try:
            while connection.recv(1 << 20):
                pass
        except OSError:
            pass
        # Parked requests (a long-poll fetch, a join) keep some connections open a while.
        open_connections.append(connection)
        if len(open_connections) > 100:
            for old in open_connections[:50]:
                old.close()
            del open_connections[:50]
    for connection in open_connections:
        connection.close()
    return sent


def session(broker, proxy_port, seconds, seed):
    """Records the workload through the proxy, then fuzzes the broker directly. Returns
    (frames recorded, frames sent)."""
    proxy = RecordingProxy(broker.port, proxy_port)
    try:
        client_workload(f"127.0.0.1:{proxy_port}")
    finally:
        proxy.close()
    frames = list(proxy.frames)
    sent = replay(frames, broker.port, lambda: broker.process.poll() is None, seconds, seed)
    return len(frames), sent


if __name__ == "__main__":
    import argparse
    import tempfile
    sys.path.insert(0, os.path.dirname(__file__))
    from conftest import RunningBroker, free_port
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="serve from memory instead of a data directory")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        proxy_port = free_port()
        extra = ["--advertised-listener", f"127.0.0.1:{proxy_port}"] + (["--memory"] if arguments.memory else [])
        running = RunningBroker(os.path.join(directory, "data"), extra_args=extra).start()
        recorded, sent = session(running, proxy_port, arguments.seconds, arguments.seed)
        up = running.process.poll() is None
        peak = running.memory("VmHWM") if up else float("nan")
        code = running.stop()
        print(f"{recorded} frames recorded, {sent} mutated frames sent, broker {'up' if up else 'DOWN'}, "
              f"peak RSS {peak:.0f} MB, exit {code}")
        if not up:
            print(running.log()[-4000:])
        sys.exit(0 if up else 1)
