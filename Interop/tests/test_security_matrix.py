"""Every client on every security route: confluent-kafka, kafka-python, aiokafka and kcat each
produce and consume over SSL, mTLS, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256,
SCRAM-SHA-512 and OAUTHBEARER; each refuses wrong passwords, unknown users and expired
tokens with its own authentication error."""

import asyncio
import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass

import kafka.errors
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import AbstractTokenProvider as AsyncTokenProvider
from aiokafka.errors import KafkaError as AIOKafkaError
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin import NewTopic as NewTopicConfluent
from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KafkaPythonPartition
from kafka.net.sasl.oauth import AbstractTokenProvider

from conftest import RunningBroker, free_port
from support import make_certificates, unique, unsecured_jwt

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


@dataclass(frozen=True)
class Route:
    """How a client reaches the broker: the listener, its protocol, and the SASL mechanism
    or client certificate it authenticates with."""
    listener: str
    protocol: str
    mechanism: str = None
    client_certificate: bool = False

    @property
    def name(self):
        return "-".join(part for part in (self.listener, self.mechanism) if part).lower()

    @property
    def tls(self):
        return self.protocol in ("SSL", "SASL_SSL")


ROUTES = ([Route("SSL", "SSL"), Route("MTLS", "SSL", client_certificate=True)]
          + [Route("SASL_PLAINTEXT", "SASL_PLAINTEXT", mechanism) for mechanism in MECHANISMS]
          + [Route("SASL_SSL", "SASL_SSL", mechanism) for mechanism in MECHANISMS])


@pytest.fixture(scope="module")
def matrix():
    """One broker with a listener per route, every mechanism enabled and the user alice;
    yields (broker, ports by listener name, certificates)."""
    with tempfile.TemporaryDirectory() as directory:
        certificates = make_certificates(directory)
        names = ["PLAINTEXT", "SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL"]
        ports = {name: free_port() for name in names}
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"""listeners={",".join(f"{name}://127.0.0.1:{ports[name]}" for name in names)}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location={certificates["server-keystore.pem"]}
listener.name.mtls.ssl.client.auth=required
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location={certificates["ca.pem"]}
sasl.enabled.mechanisms={",".join(MECHANISMS)}
""")
        broker = RunningBroker(os.path.join(directory, "data"), port=ports["PLAINTEXT"], listen=False,
                               extra_args=["--config", properties, "--user", "alice:alice-secret"]).start()
        try:
            yield broker, ports, certificates
        finally:
            assert broker.stop() == 0, broker.log()


# -- Each client's settings for a route ------------------------------------------------------

def librdkafka_settings(route, ports, certificates, user="alice", password="alice-secret"):
    """confluent-kafka's and kcat's settings (both are librdkafka)."""
    settings = {"bootstrap.servers": f"127.0.0.1:{ports[route.listener]}", "security.protocol": route.protocol}
    if route.tls:
        settings["ssl.ca.location"] = certificates["ca.pem"]
    if route.client_certificate:
        settings.update({"ssl.certificate.location": certificates["client.crt"],
                         "ssl.key.location": certificates["client.key"]})
    if route.mechanism == "OAUTHBEARER":
        settings.update({"sasl.mechanism": "OAUTHBEARER", "enable.sasl.oauthbearer.unsecure.jwt": "true",
                         "sasl.oauthbearer.config": f"principal={user}"})
    elif route.mechanism:
        settings.update({"sasl.mechanism": route.mechanism, "sasl.username": user, "sasl.password": password})
    return settings


class TokenProvider(AbstractTokenProvider):
    def __init__(self, subject="alice", lifetime=3600):
        self.jwt = unsecured_jwt(subject, lifetime)

    def token(self):
        return self.jwt


class AsyncJwtProvider(AsyncTokenProvider):
    def __init__(self, subject="alice", lifetime=3600):
        self.jwt = unsecured_jwt(subject, lifetime)

    async def token(self):
        return self.jwt


def python_settings(route, ports, certificates, user="alice", password="alice-secret", lifetime=3600, asynchronous=False):
    """kafka-python's keyword arguments, or aiokafka's (which takes an SSL context)."""
    settings = dict(bootstrap_servers=f"127.0.0.1:{ports[route.listener]}", security_protocol=route.protocol)
    if route.tls:
        if asynchronous:
            context = ssl.create_default_context(cafile=certificates["ca.pem"])
            if route.client_certificate:
                context.load_cert_chain(certificates["client.crt"], certificates["client.key"])
            settings["ssl_context"] = context
        else:
            settings["ssl_cafile"] = certificates["ca.pem"]
            if route.client_certificate:
                settings.update(ssl_certfile=certificates["client.crt"], ssl_keyfile=certificates["client.key"])
    if route.mechanism == "OAUTHBEARER":
        provider = AsyncJwtProvider if asynchronous else TokenProvider
        settings.update(sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=provider(user, lifetime))
    elif route.mechanism:
        settings.update(sasl_mechanism=route.mechanism, sasl_plain_username=user, sasl_plain_password=password)
    return settings


# -- Each client's round trip: five records produced, then read from the beginning -----------

VALUES = [f"value-{index}".encode() for index in range(5)]


def confluent_round_trip(route, ports, certificates, topic):
    settings = librdkafka_settings(route, ports, certificates)
    producer = Producer({**settings, "acks": "all"})
    for value in VALUES:
        producer.produce(topic, value)
    assert producer.flush(20) == 0
    consumer = Consumer({**settings, "group.id": unique("matrix"), "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values = []
    while len(values) < len(VALUES):
        message = consumer.poll(20)
        assert message is not None and message.error() is None, message and message.error()
        values.append(message.value())
    consumer.close()
    return values


def kafka_python_round_trip(route, ports, certificates, topic):
    settings = python_settings(route, ports, certificates)
    producer = KafkaProducer(acks="all", **settings)
    for value in VALUES:
        producer.send(topic, value)
    producer.flush(20)
    producer.close()
    consumer = KafkaConsumer(consumer_timeout_ms=10_000, **settings)
    consumer.assign([KafkaPythonPartition(topic, 0)])
    consumer.seek_to_beginning()
    values = []
    for message in consumer:
        values.append(message.value)
        if len(values) == len(VALUES):
            break
    consumer.close()
    return values


def aiokafka_round_trip(route, ports, certificates, topic):
    async def run():
        settings = python_settings(route, ports, certificates, asynchronous=True)
        producer = AIOKafkaProducer(acks="all", **settings)
        await producer.start()
        try:
            for value in VALUES:
                await producer.send_and_wait(topic, value)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **settings)
        await consumer.start()
        try:
            values = []
            while len(values) < len(VALUES):
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
                values += [message.value for messages in batch.values() for message in messages]
            return values
        finally:
            await consumer.stop()

    return asyncio.run(run())


def kcat(settings, *arguments, stdin=None):
    options = [item for key, value in settings.items() if key != "bootstrap.servers" for item in ("-X", f"{key}={value}")]
    return subprocess.run(["kcat", "-b", settings["bootstrap.servers"], *options, *arguments], input=stdin,
                          capture_output=True, timeout=60)


def kcat_round_trip(route, ports, certificates, topic):
    settings = librdkafka_settings(route, ports, certificates)
    produced = kcat(settings, "-P", "-t", topic, stdin=b"".join(value + b"\n" for value in VALUES))
    assert produced.returncode == 0, produced.stderr
    consumed = kcat(settings, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
    assert consumed.returncode == 0, consumed.stderr
    return consumed.stdout.split()


CLIENTS = {"confluent-kafka": confluent_round_trip, "kafka-python": kafka_python_round_trip,
           "aiokafka": aiokafka_round_trip, "kcat": kcat_round_trip}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_produces_and_consumes_on_each_route(matrix, client, route):
    _, ports, certificates = matrix
    topic = unique(f"{client}-{route.name}")
    assert CLIENTS[client](route, ports, certificates, topic) == VALUES


# -- Refusals ---------------------------------------------------------------------------------

SCRAM = Route("SASL_SSL", "SASL_SSL", "SCRAM-SHA-512")
PLAIN = Route("SASL_PLAINTEXT", "SASL_PLAINTEXT", "PLAIN")
OAUTH = Route("SASL_PLAINTEXT", "SASL_PLAINTEXT", "OAUTHBEARER")
REFUSED = [(SCRAM, "alice", "wrong"), (SCRAM, "mallory", "x"), (PLAIN, "alice", "wrong"), (PLAIN, "mallory", "x")]


# kafka-python reads the failure response and the close that follows it in one go and reports
# the close ("socket disconnected"), as it would with Kafka, so these show that the clients
# never get in, where the same route with the right password does.

def kafka_python_is_refused(settings):
    with pytest.raises(kafka.errors.KafkaTimeoutError):
        KafkaProducer(bootstrap_timeout_ms=1_000, **settings).close()


def aiokafka_is_refused(settings):
    async def start():
        producer = AIOKafkaProducer(request_timeout_ms=5_000, **settings)
        try:
            await producer.start()
        finally:
            await producer.stop()

    with pytest.raises(AIOKafkaError):
        asyncio.run(start())


@pytest.mark.parametrize("route,user,password", REFUSED, ids=lambda value: getattr(value, "name", value))
def test_python_clients_are_refused_with_bad_credentials(matrix, route, user, password):
    _, ports, certificates = matrix
    kafka_python_is_refused(python_settings(route, ports, certificates, user, password))
    aiokafka_is_refused(python_settings(route, ports, certificates, user, password, asynchronous=True))


@pytest.mark.parametrize("route,user,password", REFUSED, ids=lambda value: getattr(value, "name", value))
def test_kcat_refuses_bad_credentials(matrix, route, user, password):
    _, ports, certificates = matrix
    listed = kcat({**librdkafka_settings(route, ports, certificates, user, password)}, "-L", "-m", "5")
    assert listed.returncode != 0
    assert b"Authentication failed" in listed.stderr or b"invalid credentials" in listed.stderr, listed.stderr


def test_expired_tokens_are_refused(matrix):
    # An unsecured JWT whose exp has passed is refused; the same token a minute in the
    # future is accepted.
    _, ports, certificates = matrix
    kafka_python_is_refused(python_settings(OAUTH, ports, certificates, lifetime=-60))
    aiokafka_is_refused(python_settings(OAUTH, ports, certificates, lifetime=-60, asynchronous=True))
    KafkaProducer(**python_settings(OAUTH, ports, certificates, lifetime=60)).close()

    async def start():
        producer = AIOKafkaProducer(**python_settings(OAUTH, ports, certificates, lifetime=60, asynchronous=True))
        await producer.start()
        await producer.stop()

    asyncio.run(start())


def test_a_client_without_the_listeners_protocol_gets_nowhere(matrix):
    # A plaintext client on the SASL listener, or a client without a certificate on the mTLS
    # one, fails to fetch metadata instead of being served.
    _, ports, certificates = matrix
    for settings in ({"bootstrap.servers": f"127.0.0.1:{ports['SASL_PLAINTEXT']}"},
                     {**librdkafka_settings(Route("MTLS", "SSL"), ports, certificates)}):
        with pytest.raises(KafkaException):
            AdminClient({**settings, "retries": 0}).list_topics(timeout=3)


# -- Users and ACLs through kafka-python's admin client ---------------------------------------

def test_users_and_acls_per_resource_type_through_kafka_python(broker_factory):
    # The super user admin makes a SCRAM user bob with kafka-python's admin client, then grants
    # him, one resource type at a time, what a transactional producer and a consumer group
    # need; before each grant bob is refused with Kafka's code for that resource.
    from confluent_kafka import KafkaError
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient,
                             ResourcePattern, ResourcePatternFilter, ResourceType, ScramMechanism,
                             UserScramCredentialUpsertion)

    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
                       "super.users=User:admin\nsasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n")
        running = broker_factory(extra_args=["--config", properties, "--user", "admin:admin-secret",
                                             "--listen", f"SASL_PLAINTEXT://127.0.0.1:{port}"], listen=False, port=port).start()
        route = Route("SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-512")
        ports = {"SASL_PLAINTEXT": port}
        admin = KafkaAdminClient(**python_settings(Route("SASL_PLAINTEXT", "SASL_PLAINTEXT", "SCRAM-SHA-256"), ports, None,
                                                   "admin", "admin-secret"))
        try:
            assert admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion("bob", ScramMechanism.SCRAM_SHA_512, "bob-secret", iterations=8192)]) == {"bob": None}
            assert admin.describe_user_scram_credentials(["bob"])["bob"]["error"] is None
            topic, group, transactional_id = unique("bob-topic"), unique("bob-group"), unique("bob-tx")
            bob = librdkafka_settings(route, ports, None, "bob", "bob-secret")

            def grant(resource_type, name, *operations, pattern=ACLResourcePatternType.LITERAL):
                acls = [ACL("User:bob", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(resource_type, name, pattern))
                        for operation in operations]
                result = admin.create_acls(acls)
                assert not result["failed"] and len(result["succeeded"]) == len(acls), result

            # Cluster: creating a topic needs CREATE on the cluster (or the topic).
            bob_admin = AdminClient(bob)
            with pytest.raises(KafkaException) as refused:
                bob_admin.create_topics([NewTopicConfluent(topic, 1, 1)])[topic].result(10)
            assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
            grant(ResourceType.CLUSTER, "kafka-cluster", ACLOperation.CREATE)
            bob_admin.create_topics([NewTopicConfluent(topic, 1, 1)])[topic].result(10)

            # Transactional id: a transactional producer needs WRITE on its id, and on the topic.
            def transactional_producer():
                producer = Producer({**bob, "transactional.id": transactional_id})
                producer.init_transactions(10)
                return producer

            with pytest.raises(KafkaException) as refused:
                transactional_producer()
            assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            grant(ResourceType.TRANSACTIONAL_ID, transactional_id[:6], ACLOperation.WRITE, pattern=ACLResourcePatternType.PREFIXED)
            producer = transactional_producer()
            producer.begin_transaction()
            delivery = []
            producer.produce(topic, b"refused", on_delivery=lambda error, message: delivery.append(error))
            with pytest.raises(KafkaException):
                producer.commit_transaction(10)
            assert delivery and delivery[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, delivery
            grant(ResourceType.TOPIC, topic, ACLOperation.WRITE, ACLOperation.READ)
            producer = transactional_producer()  # fences the refused one
            producer.begin_transaction()
            for value in VALUES:
                producer.produce(topic, value)
            producer.commit_transaction(10)

            # Group: a consumer group needs READ on the group, and on the topic.
            def consume():
                consumer = Consumer({**bob, "group.id": group, "auto.offset.reset": "earliest",
                                     "isolation.level": "read_committed"})
                consumer.subscribe([topic])
                values = []
                try:
                    while len(values) < len(VALUES):
                        message = consumer.poll(20)
                        assert message is not None
                        if message.error() is not None:
                            return message.error()
                        values.append(message.value())
                    consumer.commit(asynchronous=False)
                    return values
                finally:
                    consumer.close()

            refusal = consume()
            assert isinstance(refusal, KafkaError) and refusal.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, refusal
            grant(ResourceType.GROUP, group, ACLOperation.READ)
            assert consume() == VALUES

            everything_of_bob = ACLFilter("User:bob", None, ACLOperation.ANY, ACLPermissionType.ANY,
                                          ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
            acls, error = admin.describe_acls(everything_of_bob)
            assert error is kafka.errors.NoError
            assert sorted((acl.resource_pattern.resource_type, acl.operation) for acl in acls) == sorted([
                (ResourceType.CLUSTER, ACLOperation.CREATE), (ResourceType.TRANSACTIONAL_ID, ACLOperation.WRITE),
                (ResourceType.TOPIC, ACLOperation.WRITE), (ResourceType.TOPIC, ACLOperation.READ),
                (ResourceType.GROUP, ACLOperation.READ)])
            transactional_grants = ACLFilter("User:bob", None, ACLOperation.ANY, ACLPermissionType.ALLOW,
                                             ResourcePatternFilter(ResourceType.TRANSACTIONAL_ID, None, ACLResourcePatternType.ANY))
            [(_, deleted, error)] = admin.delete_acls([transactional_grants])
            assert error is kafka.errors.NoError and len(deleted) == 1
            with pytest.raises(KafkaException) as refused:
                Producer({**bob, "transactional.id": unique("bob-tx")}).init_transactions(10)
            assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        finally:
            admin.close()
            assert running.stop() == 0
