"""Helpers the client suites share: unique names, topic creation, bounded waits that say
what they were waiting for, and the certificates and tokens of the security tests."""

import base64
import json
import os
import subprocess
import time
import uuid

from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient, NewTopic


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topics(broker, partitions_by_topic):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the results are in
    futures = admin.create_topics([NewTopic(topic, num_partitions=count, replication_factor=1)
                                   for topic, count in partitions_by_topic.items()])
    for future in futures.values():
        future.result(10)


def wait_until(condition, timeout, what, step=lambda: time.sleep(0.05)):
    """Runs step() until condition() holds; fails after `timeout` s with what() describing the state."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what()}")
        step()


def group_offsets(admin, group):
    """A group's committed offsets through confluent-kafka's admin client, by (topic, partition)."""
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10)
    assert all(tp.error is None for tp in result.topic_partitions), result.topic_partitions
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def first_message(consumer, timeout, step=0.05):
    """Polls a confluent-kafka consumer until a message without an error arrives; None after
    `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        candidate = consumer.poll(step)
        if candidate is not None and candidate.error() is None:
            return candidate
    return None


def produce_v3(bootstrap, topic, records):
    """One Produce v3 (acks=1) over a plain socket, for batches no client would send;
    returns the partition's error code."""
    import socket
    import struct

    def string(text):
        return struct.pack(">h", len(text)) + text.encode()

    body = (struct.pack(">hhi", 0, 3, 1) + string("interop") + struct.pack(">hhi", -1, 1, 5000)
            + struct.pack(">i", 1) + string(topic) + struct.pack(">ii", 1, 0) + struct.pack(">i", len(records)) + records)
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", connection.recv(4, socket.MSG_WAITALL))[0]
        response = connection.recv(size, socket.MSG_WAITALL)
    # correlation id, 1 topic, its name, 1 partition, index, then the error code.
    name_length = struct.unpack(">h", response[8:10])[0]
    position = 10 + name_length + 4 + 4
    return struct.unpack(">h", response[position:position + 2])[0]


def unsecured_jwt(subject, lifetime=3600):
    def url(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return url({"alg": "none"}) + "." + url({"sub": subject, "exp": time.time() + lifetime, "iat": time.time()}) + "."


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, made
    with the openssl CLI; returns their paths."""
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=directory)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Swiftlet Test CA")
    with open(os.path.join(directory, "server.ext"), "w") as file:
        file.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
            "-days", "2", "-extfile", "server.ext")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/C=US/O=Example/CN=client-app")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt",
            "-days", "2")
    # Kafka's PEM keystore: the key and the certificate chain in one file.
    with open(os.path.join(directory, "server-keystore.pem"), "w") as keystore:
        for name in ("server.key", "server.crt", "ca.pem"):
            keystore.write(open(os.path.join(directory, name)).read())
    return {name: os.path.join(directory, name) for name in
            ("ca.pem", "client.key", "client.crt", "server-keystore.pem", "server.key", "server.crt")}
