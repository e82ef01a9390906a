"""Security as real clients configure it: listeners by name and protocol, each advertising its
own address; SASL/PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER over SASL_PLAINTEXT with
confluent-kafka, kafka-python, aiokafka and kcat; SCRAM users made through an admin client;
wrong passwords, unknown users and requests before authentication refused as Kafka refuses
them."""

import asyncio
import os
import re
import socket
import struct
import subprocess
import tempfile
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as Partition
from confluent_kafka.admin import AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
from kafka import KafkaConsumer, KafkaProducer

from conftest import RunningBroker, free_port, swiftlet_binary
from support import make_certificates, unique, unsecured_jwt, wait_until


@pytest.fixture(scope="module")
def secured():
    """One broker with a PLAINTEXT listener and a SASL_PLAINTEXT one named CLIENTS, with
    every mechanism enabled and two users; yields (broker, plaintext port, sasl port)."""
    with tempfile.TemporaryDirectory() as directory:
        plain_port, sasl_port = free_port(), free_port()
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"""listeners=PLAINTEXT://127.0.0.1:{plain_port},CLIENTS://127.0.0.1:{sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:{plain_port},CLIENTS://127.0.0.1:{sasl_port}
listener.name.clients.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.clients.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="admin" password="admin-secret" user_admin="admin-secret" user_carol="carol-secret";
""")
        broker = RunningBroker(os.path.join(directory, "data"), port=plain_port, listen=False,
                               extra_args=["--config", properties, "--user", "alice:alice-secret"]).start()
        try:
            yield broker, plain_port, sasl_port
        finally:
            assert broker.stop() == 0, broker.log()


def sasl_settings(port, mechanism, user, password):
    return {"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}


def round_trip(settings, topic, count=20):
    producer = Producer({**settings, "acks": "all"})
    for index in range(count):
        producer.produce(topic, f"{topic}-{index}".encode())
    assert producer.flush(20) == 0
    consumer = Consumer({**settings, "group.id": unique("sasl-group"), "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 30
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value().decode())
    consumer.close()
    assert values == [f"{topic}-{index}" for index in range(count)]


def test_each_listener_advertises_its_own_address(secured):
    broker, plain_port, sasl_port = secured
    plain = AdminClient({"bootstrap.servers": f"127.0.0.1:{plain_port}"}).list_topics(timeout=10)
    assert [(b.host, b.port) for b in plain.brokers.values()] == [("localhost", plain_port)]
    sasl = AdminClient(sasl_settings(sasl_port, "PLAIN", "alice", "alice-secret")).list_topics(timeout=10)
    assert [(b.host, b.port) for b in sasl.brokers.values()] == [("127.0.0.1", sasl_port)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_confluent_kafka_produces_and_consumes_over_sasl(secured, mechanism):
    _, _, sasl_port = secured
    round_trip(sasl_settings(sasl_port, mechanism, "alice", "alice-secret"), unique(f"sasl-{mechanism.lower()}"))


def test_plain_users_from_the_jaas_configuration(secured):
    _, _, sasl_port = secured
    round_trip(sasl_settings(sasl_port, "PLAIN", "carol", "carol-secret"), unique("jaas"), count=3)


def test_confluent_kafka_oauthbearer_with_an_unsecured_token(secured):
    _, _, sasl_port = secured
    settings = {"bootstrap.servers": f"127.0.0.1:{sasl_port}", "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "OAUTHBEARER", "enable.sasl.oauthbearer.unsecure.jwt": True,
                "sasl.oauthbearer.config": "principal=alice"}
    round_trip(settings, unique("oauth"), count=5)


def test_wrong_passwords_and_unknown_users_fail_authentication(secured):
    _, _, sasl_port = secured
    for mechanism, user, password, message in [
            ("PLAIN", "alice", "wrong", "Authentication failed: Invalid username or password"),
            ("SCRAM-SHA-256", "alice", "wrong", "invalid credentials with SASL mechanism SCRAM-SHA-256"),
            ("SCRAM-SHA-512", "mallory", "x", "invalid credentials with SASL mechanism SCRAM-SHA-512"),
            ("PLAIN", "mallory", "x", "Authentication failed: Invalid username or password")]:
        errors = []
        admin = AdminClient({**sasl_settings(sasl_port, mechanism, user, password), "error_cb": errors.append})
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=3)
        admin.poll(1)  # error callbacks are served by poll
        assert any(error.code() == KafkaError._AUTHENTICATION and message in error.str() for error in errors), errors


def test_scram_users_made_through_the_admin_client_authenticate(secured):
    _, plain_port, sasl_port = secured
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{plain_port}"})
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion("dave", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"dave-secret"),
        UserScramCredentialUpsertion("erin", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"erin-secret")])
    for future in futures.values():
        future.result(10)
    round_trip(sasl_settings(sasl_port, "SCRAM-SHA-256", "dave", "dave-secret"), unique("dave"), count=3)
    round_trip(sasl_settings(sasl_port, "SCRAM-SHA-512", "erin", "erin-secret"), unique("erin"), count=3)
    with pytest.raises(KafkaException):
        AdminClient({**sasl_settings(sasl_port, "SCRAM-SHA-512", "dave", "dave-secret"), "retries": 0}).list_topics(timeout=5)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kafka_python_over_sasl(secured, mechanism):
    _, _, sasl_port = secured
    topic = unique("kafka-python-sasl")
    settings = dict(bootstrap_servers=f"127.0.0.1:{sasl_port}", security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism=mechanism, sasl_plain_username="alice", sasl_plain_password="alice-secret")
    producer = KafkaProducer(acks="all", **settings)
    for index in range(5):
        producer.send(topic, str(index).encode())
    producer.flush(10)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=5_000, **settings)
    assert [message.value for message in consumer] == [str(index).encode() for index in range(5)]
    consumer.close()


async def aiokafka_values(topic, count, **settings):
    """The values of the first `count` records of `topic`, read by an aiokafka consumer."""
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **settings)
    await consumer.start()
    try:
        values = []
        while len(values) < count:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
            for messages in batch.values():
                values += [message.value for message in messages]
        return values
    finally:
        await consumer.stop()


def test_aiokafka_over_sasl_scram(secured):
    _, _, sasl_port = secured
    topic = unique("aiokafka-sasl")

    async def run():
        settings = dict(bootstrap_servers=f"127.0.0.1:{sasl_port}", security_protocol="SASL_PLAINTEXT",
                        sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="alice", sasl_plain_password="alice-secret")
        producer = AIOKafkaProducer(**settings)
        await producer.start()
        try:
            for index in range(5):
                await producer.send_and_wait(topic, str(index).encode())
        finally:
            await producer.stop()
        return await aiokafka_values(topic, 5, **settings)

    assert asyncio.run(run()) == [str(index).encode() for index in range(5)]


def test_kcat_over_sasl_scram(secured):
    _, _, sasl_port = secured
    topic = unique("kcat-sasl")
    common = ["-b", f"127.0.0.1:{sasl_port}", "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
              "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"]
    produced = subprocess.run(["kcat", *common, "-P", "-t", topic], input="one\ntwo\nthree\n", text=True,
                              capture_output=True, timeout=30)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(["kcat", *common, "-C", "-t", topic, "-o", "beginning", "-e", "-q"], text=True,
                              capture_output=True, timeout=30)
    assert consumed.stdout.split() == ["one", "two", "three"], consumed.stderr


def request_frame(api_key, version, correlation_id, body=b""):
    payload = struct.pack(">hhih", api_key, version, correlation_id, -1) + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(connection):
    header = connection.recv(4, socket.MSG_WAITALL)
    if len(header) < 4:
        return None
    size = struct.unpack(">i", header)[0]
    return connection.recv(size, socket.MSG_WAITALL)


def test_a_request_before_authentication_closes_the_connection(secured):
    # ApiVersions is answered; Metadata before SaslHandshake closes the connection (Kafka's
    # illegal SASL state), and the rest of the broker carries on.
    _, _, sasl_port = secured
    with socket.create_connection(("127.0.0.1", sasl_port), timeout=10) as connection:
        connection.sendall(request_frame(18, 0, 1))
        assert read_frame(connection) is not None
        connection.sendall(request_frame(3, 0, 2, struct.pack(">i", 0)))
        assert read_frame(connection) is None


def test_the_v0_handshake_with_raw_plain_tokens(secured):
    # Old clients: SaslHandshake v0, then the token as a bare size-prefixed frame; the answer
    # is a bare frame too, empty for PLAIN, and then requests flow.
    _, _, sasl_port = secured
    mechanism = b"PLAIN"
    with socket.create_connection(("127.0.0.1", sasl_port), timeout=10) as connection:
        connection.sendall(request_frame(17, 0, 1, struct.pack(">h", len(mechanism)) + mechanism))
        handshake = read_frame(connection)
        assert struct.unpack(">h", handshake[4:6])[0] == 0
        token = b"\0alice\0alice-secret"
        connection.sendall(struct.pack(">i", len(token)) + token)
        assert read_frame(connection) == b""
        connection.sendall(request_frame(3, 0, 2, struct.pack(">i", 0)))
        assert read_frame(connection) is not None
    # A wrong password on v0: the connection is closed, after Kafka's 100 ms delay.
    with socket.create_connection(("127.0.0.1", sasl_port), timeout=10) as connection:
        connection.sendall(request_frame(17, 0, 1, struct.pack(">h", len(mechanism)) + mechanism))
        read_frame(connection)
        token = b"\0alice\0nope"
        connection.sendall(struct.pack(">i", len(token)) + token)
        assert read_frame(connection) is None


def test_bad_listener_settings_exit_64_naming_the_key():
    def refused(*arguments):
        with tempfile.TemporaryDirectory() as directory:
            run = subprocess.run([swiftlet_binary(), "--data-dir", os.path.join(directory, "data"), *arguments],
                                 capture_output=True, text=True, timeout=30)
        return run.returncode, run.stderr

    code, stderr = refused("--listen", "WEIRD://127.0.0.1:0")
    assert code == 64 and "listener.security.protocol.map" in stderr
    code, stderr = refused("--listen", "SASL_PLAINTEXT://127.0.0.1:0")
    assert code == 64 and "sasl.enabled.mechanisms: GSSAPI" in stderr
    code, stderr = refused("--listen", "PLAINTEXT://127.0.0.1:0", "--advertised-listener", "PLAINTEXT://0.0.0.0:9092")
    assert code == 64 and "0.0.0.0 cannot be advertised" in stderr
    code, stderr = refused("--listen", "PLAINTEXT://0.0.0.0:0")
    assert code == 64 and "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0" in stderr


# -- TLS ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls():
    """A broker with SSL, mTLS (SSL with client authentication required) and SASL_SSL
    listeners; yields (broker, certificates, ssl port, mtls port, sasl_ssl port)."""
    with tempfile.TemporaryDirectory() as directory:
        certificates = make_certificates(directory)
        ssl_port, mtls_port, sasl_port, plain_port = free_port(), free_port(), free_port(), free_port()
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"""listeners=PLAINTEXT://127.0.0.1:{plain_port},SSL://127.0.0.1:{ssl_port},MTLS://127.0.0.1:{mtls_port},SASL_SSL://127.0.0.1:{sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location={certificates["server-keystore.pem"]}
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location={certificates["ca.pem"]}
sasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN
""")
        broker = RunningBroker(os.path.join(directory, "data"), port=plain_port, listen=False,
                               extra_args=["--config", properties, "--user", "alice:alice-secret"]).start()
        try:
            yield broker, certificates, ssl_port, mtls_port, sasl_port
        finally:
            assert broker.stop() == 0, broker.log()


def test_confluent_kafka_over_ssl(tls):
    _, certificates, ssl_port, _, _ = tls
    round_trip({"bootstrap.servers": f"127.0.0.1:{ssl_port}", "security.protocol": "SSL",
                "ssl.ca.location": certificates["ca.pem"]}, unique("ssl"), count=50)


def test_confluent_kafka_over_mtls_and_without_a_client_certificate(tls):
    broker, certificates, _, mtls_port, _ = tls
    settings = {"bootstrap.servers": f"127.0.0.1:{mtls_port}", "security.protocol": "SSL",
                "ssl.ca.location": certificates["ca.pem"]}
    round_trip({**settings, "ssl.certificate.location": certificates["client.crt"],
                "ssl.key.location": certificates["client.key"]}, unique("mtls"), count=10)
    with pytest.raises(KafkaException):
        AdminClient(settings).list_topics(timeout=3)


def test_confluent_kafka_over_sasl_ssl(tls):
    _, certificates, _, _, sasl_port = tls
    round_trip({"bootstrap.servers": f"127.0.0.1:{sasl_port}", "security.protocol": "SASL_SSL",
                "ssl.ca.location": certificates["ca.pem"], "sasl.mechanism": "SCRAM-SHA-256",
                "sasl.username": "alice", "sasl.password": "alice-secret"}, unique("sasl-ssl"), count=10)


def test_kafka_python_and_aiokafka_over_ssl(tls):
    import ssl
    _, certificates, ssl_port, _, sasl_port = tls
    topic = unique("python-ssl")
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{ssl_port}", security_protocol="SSL",
                             ssl_cafile=certificates["ca.pem"], acks="all")
    for index in range(5):
        producer.send(topic, str(index).encode())
    producer.flush(10)
    producer.close()
    context = ssl.create_default_context(cafile=certificates["ca.pem"])

    values = asyncio.run(aiokafka_values(
        topic, 5, bootstrap_servers=f"127.0.0.1:{sasl_port}", security_protocol="SASL_SSL", ssl_context=context,
        sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="alice-secret"))
    assert values == [str(index).encode() for index in range(5)]


def test_kcat_over_ssl_with_a_large_fetch(tls):
    # Fetched records leave through the TLS buffer, not sendfile: a few megabytes of them.
    _, certificates, ssl_port, _, _ = tls
    topic = unique("kcat-ssl")
    common = ["-b", f"127.0.0.1:{ssl_port}", "-X", "security.protocol=SSL", "-X", f"ssl.ca.location={certificates['ca.pem']}"]
    lines = "".join(f"{index:06d}-" + "x" * 2_000 + "\n" for index in range(2_000))
    produced = subprocess.run(["kcat", *common, "-P", "-t", topic], input=lines, text=True, capture_output=True, timeout=60)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(["kcat", *common, "-C", "-t", topic, "-o", "beginning", "-e", "-q"], text=True,
                              capture_output=True, timeout=60)
    assert consumed.stdout == lines, consumed.stderr[-2000:]


def test_plaintext_on_a_tls_port_and_tls_on_a_plaintext_port_are_closed(tls):
    broker, _, ssl_port, _, _ = tls
    with socket.create_connection(("127.0.0.1", ssl_port), timeout=10) as connection:
        connection.sendall(request_frame(18, 0, 1))
        try:
            assert connection.recv(4096) == b""
        except ConnectionResetError:
            pass  # closed with the request unread: the kernel resets
    wait_until(lambda: "TLS: handshake failed" in broker.log(), 5, lambda: broker.log()[-1000:])
    # A TLS ClientHello on the plaintext port: its first bytes read as a size no frame has.
    import ssl
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            context.wrap_socket(raw)
    wait_until(lambda: "a TLS handshake on a plaintext listener" in broker.log(), 5, lambda: broker.log()[-1000:])
    # The broker serves on.
    assert AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).brokers


# -- ACLs -----------------------------------------------------------------------------------

def test_acls_enforced_granted_and_kept_across_a_restart(broker_factory):
    # A SASL listener with the StandardAuthorizer: the super user admin grants alice what a
    # producer and a consumer group need through the admin client; without it alice is refused
    # with Kafka's codes; the ACLs survive a kill -9; DeleteAcls takes a grant back.
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
                       "super.users=User:admin\nsasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN\n")
        arguments = ["--config", properties, "--user", "admin:admin-secret", "--user", "alice:alice-secret"]
        first = broker_factory(extra_args=[*arguments, "--listen", f"SASL_PLAINTEXT://127.0.0.1:{port}"], listen=False,
                               port=port).start()
        admin_settings = sasl_settings(port, "SCRAM-SHA-256", "admin", "admin-secret")
        alice = sasl_settings(port, "PLAIN", "alice", "alice-secret")
        admin = AdminClient(admin_settings)
        topic, group = unique("acl"), unique("acl-group")
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)

        # No ACL: alice cannot write, nor see the topic.
        errors = []
        producer = Producer({**alice, "acks": "all", "message.timeout.ms": 5_000})
        producer.produce(topic, b"refused", on_delivery=lambda error, message: errors.append(error))
        producer.flush(10)
        assert errors and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors
        assert topic not in AdminClient(alice).list_topics(timeout=10).topics
        # The refusal is logged with the principal, as Kafka's authorizer logger does.
        assert re.search(f"Principal = User:alice is Denied operation = (DESCRIBE|WRITE) from host = 127.0.0.1 "
                         f"on resource = Topic:{topic} for request = (Metadata|Produce)", first.log()), first.log()[-2000:]

        grants = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*", operation,
                             AclPermissionType.ALLOW) for operation in (AclOperation.WRITE, AclOperation.READ)]
        grants.append(AclBinding(ResourceType.GROUP, "acl-", ResourcePatternType.PREFIXED, "User:alice", "*", AclOperation.READ,
                                 AclPermissionType.ALLOW))
        for future in admin.create_acls(grants).values():
            future.result(10)
        everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                      AclPermissionType.ANY)
        assert len(admin.describe_acls(everything).result(10)) == 3
        # alice may not grant herself more.
        alice_admin = AdminClient(alice)  # kept alive until the result is in
        with pytest.raises(KafkaException) as refused:
            alice_admin.create_acls([grants[0]])[grants[0]].result(10)
        assert refused.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED

        producer = Producer({**alice, "acks": "all"})
        for index in range(5):
            producer.produce(topic, str(index).encode())
        assert producer.flush(10) == 0
        consumer = Consumer({**alice, "group.id": group, "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        values = []
        deadline = time.monotonic() + 30
        while len(values) < 5 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
        consumer.commit(asynchronous=False)
        consumer.close()
        assert values == [str(index).encode() for index in range(5)]
        # A group outside the granted prefix is refused.
        outsider = Consumer({**alice, "group.id": unique("other-group"), "auto.offset.reset": "earliest"})
        outsider.subscribe([topic])
        refusal = None
        deadline = time.monotonic() + 15
        while refusal is None and time.monotonic() < deadline:
            message = outsider.poll(0.5)
            if message is not None and message.error() is not None:
                refusal = message.error()
        outsider.close()
        assert refusal is not None and refusal.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, refusal
        del admin, producer

        first.kill()
        second = broker_factory(extra_args=[*arguments, "--listen", f"SASL_PLAINTEXT://127.0.0.1:{port}"], listen=False,
                                port=port).start()
        try:
            admin = AdminClient(admin_settings)
            assert len(admin.describe_acls(everything).result(10)) == 3
            write = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", None,
                                     AclOperation.WRITE, AclPermissionType.ALLOW)
            assert len(admin.delete_acls([write])[write].result(10)) == 1
            errors = []
            producer = Producer({**alice, "acks": "all", "message.timeout.ms": 5_000})
            producer.produce(topic, b"after", on_delivery=lambda error, message: errors.append(error))
            producer.flush(10)
            assert errors and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors
        finally:
            assert second.stop() == 0


# -- Quotas ---------------------------------------------------------------------------------

def alter_client_quotas_v0(port, entity, key, value):
    """AlterClientQuotas v0 over a plain socket (the Python clients have no quota API);
    returns the entry's error code."""
    def string(text):
        return struct.pack(">h", len(text)) + text.encode()

    entity_bytes = struct.pack(">i", len(entity)) + b"".join(
        string(kind) + (string(name) if name is not None else struct.pack(">h", -1)) for kind, name in entity)
    ops = struct.pack(">i", 1) + string(key) + struct.pack(">db", value, 0)
    body = struct.pack(">i", 1) + entity_bytes + ops + struct.pack(">b", 0)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request_frame(49, 0, 1, body))
        response = read_frame(connection)
    # correlation id, throttle time, one entry: its error code first.
    return struct.unpack(">h", response[12:14])[0]


def test_a_producer_over_its_byte_rate_is_throttled(broker):
    # producer_byte_rate=2 MB/s for one client id: 30 MB sent as fast as librdkafka can go
    # take 15 s within 20% (without the quota, half a second), librdkafka's throttle callback
    # hears the broker's throttle_time_ms, and another client id is not held back.
    assert alter_client_quotas_v0(broker.port, [("client-id", "throttled")], "producer_byte_rate", 2_000_000.0) == 0
    topic = unique("quota")
    throttles = []

    def produce(client_id, megabytes):
        producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": client_id, "acks": 1, "linger.ms": 5,
                             "throttle_cb": lambda event: throttles.append((client_id, event.throttle_time))})
        payload = b"q" * 10_000
        started = time.monotonic()
        for _ in range(megabytes * 100):
            while True:
                try:
                    producer.produce(topic, payload)
                    break
                except BufferError:
                    producer.poll(0.01)
        assert producer.flush(60) == 0
        producer.poll(0.5)
        return time.monotonic() - started

    free = produce("unlimited", 30)
    held = produce("throttled", 30)
    print(f"30 MB: {free:.2f} s without a quota, {held:.2f} s at 2 MB/s; throttles heard: {len(throttles)}")
    assert 12.0 <= held <= 18.0, held
    assert any(client == "throttled" and delay > 0 for client, delay in throttles), throttles
    assert not any(client == "unlimited" and delay > 0 for client, delay in throttles)


def test_clients_reauthenticate_before_their_session_ends(broker_factory):
    # connections.max.reauth.ms=1500 (KIP-368): librdkafka re-authenticates on its connection
    # before the session lifetime the broker gave it ends, so a producer sending for 5 s never
    # has a request refused as expired.
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write("sasl.enabled.mechanisms=SCRAM-SHA-256\nconnections.max.reauth.ms=1500\n")
        running = broker_factory(extra_args=["--config", properties, "--user", "alice:alice-secret",
                                             "--listen", f"SASL_PLAINTEXT://127.0.0.1:{port}"], listen=False, port=port).start()
        try:
            topic = unique("reauth")
            failures = []
            producer = Producer({**sasl_settings(port, "SCRAM-SHA-256", "alice", "alice-secret"), "acks": "all"})
            deadline = time.monotonic() + 5
            sent = 0
            while time.monotonic() < deadline:
                producer.produce(topic, str(sent).encode(), on_delivery=lambda error, message: error and failures.append(error))
                sent += 1
                producer.poll(0.05)
            assert producer.flush(10) == 0
            assert failures == [] and sent > 50
            assert "expired" not in running.log(), running.log()[-2000:]
        finally:
            assert running.stop() == 0


def test_tls_self_signed_makes_a_certificate_once_and_clients_trust_its_ca(broker_factory):
    port = free_port()
    arguments = ["--listen", f"SSL://127.0.0.1:{port}", "--tls-self-signed"]
    first = broker_factory(extra_args=arguments, listen=False, port=port).start()
    found = re.search(r"ssl\.ca\.location=([^\s\"]+)", first.log())
    assert found, first.log()
    authority = found.group(1)
    with open(authority) as file:
        certificate = file.read()
    # librdkafka checks the host name against the certificate's names by default.
    round_trip({"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SSL", "ssl.ca.location": authority},
               unique("self-signed"), count=3)
    assert first.stop() == 0
    second = broker_factory(extra_args=arguments, listen=False, port=port).start()
    try:
        with open(authority) as file:
            assert file.read() == certificate  # made once, kept
        assert oct(os.stat(os.path.join(os.path.dirname(authority), "broker-keystore.pem")).st_mode & 0o777) == "0o600"
    finally:
        assert second.stop() == 0


def test_connections_over_the_ip_creation_rate_are_closed(broker_factory):
    # connection_creation_rate=2 for the default IP (KIP-612): over the 10 s window, 20
    # connections at once are served and the next ones are closed before anything is read;
    # a client already connected goes on.
    running = broker_factory().start()
    try:
        keep = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        assert alter_client_quotas_v0(running.port, [("ip", None)], "connection_creation_rate", 2.0) == 0
        served = refused = 0
        for index in range(40):
            with socket.create_connection(("127.0.0.1", running.port), timeout=10) as connection:
                try:
                    connection.sendall(request_frame(18, 0, index))
                    answered = read_frame(connection) is not None
                except OSError:
                    answered = False
                served, refused = (served + 1, refused) if answered else (served, refused + 1)
        assert 15 <= served <= 22 and refused >= 18, (served, refused)
        keep.sendall(request_frame(18, 0, 99))
        assert read_frame(keep) is not None
        keep.close()
    finally:
        assert running.stop() == 0


# -- Abuse ----------------------------------------------------------------------------------

def half_a_client_hello():
    """The first half of a real TLS ClientHello, made with Python's ssl over memory."""
    import ssl
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()
    return hello[:len(hello) // 2]


def failed_plain_authentications(port, count, batch=100):
    """`count` SaslHandshake v1 + SaslAuthenticate v2 exchanges with a wrong password, `batch`
    connections at a time, each read until the broker closes it; returns the refusals heard."""
    mechanism, token = b"PLAIN", b"\0alice\0wrong"
    handshake = request_frame(17, 1, 1, struct.pack(">h", len(mechanism)) + mechanism)
    # SaslAuthenticate v2 is a flexible version: header v2 (an empty tag buffer after the
    # client id), compact bytes, and the body's empty tag buffer.
    payload = struct.pack(">hhih", 36, 2, 2, -1) + b"\0" + bytes([len(token) + 1]) + token + b"\0"
    authenticate = struct.pack(">i", len(payload)) + payload
    refusals = 0
    for start in range(0, count, batch):
        connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(min(batch, count - start))]
        for connection in connections:
            connection.sendall(handshake + authenticate)
        for connection in connections:
            with connection:
                read_frame(connection)
                answer = read_frame(connection)
                refusals += answer is not None and b"Invalid username or password" in answer
                assert read_frame(connection) is None  # then closed
    return refusals


def test_stalled_handshakes_garbage_and_failed_logins_hold_nothing(broker_factory):
    # Against one broker at once: 200 TLS connections that stop halfway through their
    # ClientHello are closed by the handshake timeout (10 s); 200 that send garbage are closed
    # at once; 3,000 failed SASL logins each get Kafka's refusal and a close, with memory
    # flat after the first few hundred; a real TLS client is served all the while.
    ssl_port, sasl_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as directory:
        certificates = make_certificates(directory)
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"""listeners=SSL://127.0.0.1:{ssl_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}
ssl.keystore.type=PEM
ssl.keystore.location={certificates["server-keystore.pem"]}
sasl.enabled.mechanisms=PLAIN
""")
        running = broker_factory(extra_args=["--config", properties, "--user", "alice:alice-secret"], listen=False,
                                 port=ssl_port).start()
        try:
            hello = half_a_client_hello()
            stalled = []
            for _ in range(200):
                connection = socket.create_connection(("127.0.0.1", ssl_port), timeout=15)
                connection.sendall(hello)
                stalled.append(connection)
            opened = time.monotonic()
            for index in range(200):
                garbage = request_frame(18, 0, index) if index % 2 else b"GET / HTTP/1.1\r\nHost: swiftlet\r\n\r\n"
                with socket.create_connection(("127.0.0.1", ssl_port), timeout=5) as connection:
                    connection.sendall(garbage)
                    try:
                        answer = connection.recv(4096)
                    except ConnectionResetError:
                        answer = b""
                    # At most a TLS alert (a record of type 21), then the close.
                    assert answer == b"" or answer[0] == 21, answer

            assert failed_plain_authentications(sasl_port, 300) == 300
            settled = running.memory("VmRSS")
            assert failed_plain_authentications(sasl_port, 3_000) == 3_000
            grown = running.memory("VmRSS") - settled
            print(f"RSS {settled:.1f} MB after 300 failed logins, +{grown:.1f} MB after 3,000 more")
            assert grown < 4, grown

            round_trip({"bootstrap.servers": f"127.0.0.1:{ssl_port}", "security.protocol": "SSL",
                        "ssl.ca.location": certificates["ca.pem"]}, unique("abused"), count=5)

            # The stalled ones: closed by the broker about 10 s after they opened.
            for connection in stalled:
                connection.settimeout(max(0.1, opened + 13 - time.monotonic()))
                try:
                    assert connection.recv(4096) == b""
                except ConnectionResetError:
                    pass
                connection.close()
            assert 9 <= time.monotonic() - opened <= 13
        finally:
            assert running.stop() == 0, running.log()[-2000:]


def test_client_certificates_map_to_principals_by_the_listeners_rules(broker_factory):
    # Two mTLS listeners with the StandardAuthorizer: MAPPED turns the certificate's name into
    # `client-app` with a rule, STRICT has a rule the certificate does not match (refused, as
    # Kafka refuses it), and DN keeps DEFAULT (the whole distinguished name). The ACL for
    # User:client-app lets the mapped client write; the same certificate on DN is another
    # principal and is refused. Rules that do not parse stop the start naming the key.
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType
    with tempfile.TemporaryDirectory() as directory:
        certificates = make_certificates(directory)
        names = ["PLAINTEXT", "MAPPED", "STRICT", "DN"]
        ports = {name: free_port() for name in names}
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"""listeners={",".join(f"{name}://127.0.0.1:{ports[name]}" for name in names)}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,MAPPED:SSL,STRICT:SSL,DN:SSL
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
ssl.keystore.type=PEM
ssl.keystore.location={certificates["server-keystore.pem"]}
ssl.client.auth=required
ssl.truststore.type=PEM
ssl.truststore.location={certificates["ca.pem"]}
listener.name.mapped.ssl.principal.mapping.rules=RULE:^CN=([^,]*),O=Example.*$/$1/L, DEFAULT
listener.name.strict.ssl.principal.mapping.rules=RULE:^CN=nobody,.*$/nobody/
""")
        running = broker_factory(extra_args=["--config", properties], listen=False, port=ports["PLAINTEXT"]).start()
        try:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{ports['PLAINTEXT']}"})
            topic = unique("mapped")
            admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
            grants = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:client-app", "*", operation,
                                 AclPermissionType.ALLOW) for operation in (AclOperation.WRITE, AclOperation.READ)]
            grants.append(AclBinding(ResourceType.GROUP, "sasl-group", ResourcePatternType.PREFIXED, "User:client-app", "*",
                                     AclOperation.READ, AclPermissionType.ALLOW))  # round_trip's consumer groups
            for future in admin.create_acls(grants).values():
                future.result(10)

            def client(listener):
                return {"bootstrap.servers": f"127.0.0.1:{ports[listener]}", "security.protocol": "SSL",
                        "ssl.ca.location": certificates["ca.pem"], "ssl.certificate.location": certificates["client.crt"],
                        "ssl.key.location": certificates["client.key"]}

            round_trip(client("MAPPED"), topic, count=3)
            errors = []
            producer = Producer({**client("DN"), "message.timeout.ms": 5_000})
            producer.produce(topic, b"refused", on_delivery=lambda error, message: errors.append(error))
            producer.flush(10)
            assert errors and errors[0] is not None and errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors
            with pytest.raises(KafkaException):
                AdminClient({**client("STRICT"), "retries": 0}).list_topics(timeout=3)
            assert "no ssl.principal.mapping.rules rule applies to CN=client-app,O=Example,C=US" in running.log()
        finally:
            assert running.stop() == 0, running.log()[-2000:]
        with open(properties, "a") as file:
            file.write("listener.name.dn.ssl.principal.mapping.rules=RULE:^CN=(.*$/$1/\n")
        broken = subprocess.run([swiftlet_binary(), "--data-dir", os.path.join(directory, "data"), "--config", properties],
                                capture_output=True, text=True, timeout=30)
        assert broken.returncode == 64 and "ssl.principal.mapping.rules (listener DN): Invalid rule" in broken.stderr, broken.stderr


def test_request_time_and_topic_mutation_quotas_reach_the_clients(broker):
    # request_percentage=1 (1% of a thread) for a client id: a producer sending one record
    # per request hears throttle times from the broker (librdkafka's throttle callback);
    # controller_mutation_rate=1 for another: after a 20-partition topic, kafka-python's next
    # CreateTopics is refused with THROTTLING_QUOTA_EXCEEDED.
    from kafka.admin import KafkaAdminClient
    from kafka.admin import NewTopic as KafkaPythonTopic
    import kafka.errors
    assert alter_client_quotas_v0(broker.port, [("client-id", "busy")], "request_percentage", 1.0) == 0
    assert alter_client_quotas_v0(broker.port, [("client-id", "creator")], "controller_mutation_rate", 1.0) == 0
    throttles = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "busy", "acks": 1, "linger.ms": 0,
                         "batch.num.messages": 1, "max.in.flight": 1,
                         "throttle_cb": lambda event: throttles.append(event.throttle_time)})
    topic = unique("busy")
    deadline = time.monotonic() + 30
    sent = 0
    while not any(delay > 0 for delay in throttles) and time.monotonic() < deadline:
        for _ in range(100):
            producer.produce(topic, b"x")
        sent += 100
        assert producer.flush(30) == 0
    assert any(delay > 0 for delay in throttles), (sent, throttles)

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="creator")
    try:
        admin.create_topics([KafkaPythonTopic(unique("mutations"), 20, 1)])
        with pytest.raises(kafka.errors.ThrottlingQuotaExceededError):
            admin.create_topics([KafkaPythonTopic(unique("mutations"), 1, 1)], raise_errors=True)
    finally:
        admin.close()
