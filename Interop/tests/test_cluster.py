"""Cluster mode: brokers started with --metadata-store register in a real three-member etcd
(Debian's etcd-server) under leases; kcat lists every live broker and the controller; a node
id already live refuses the start; a broker killed with -9 leaves the list when its lease
ends, and the controller role moves with it; an etcd member dying changes nothing for the
brokers; a clean stop leaves at once. Topics live in etcd with their partitions spread over
the brokers (one replica each: replication is not served yet), and real clients follow the
leaders: an idempotent producer, a consumer group whose members start at different brokers,
and transactions that span every broker."""

import re
import signal
import subprocess
import time

import pytest
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, ElectionType, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import TopicPartition as KafkaTopicPartition

from cluster_support import ETCD, EtcdCluster, listed, member, partitions, secured_member
from conftest import free_port, swiftlet_binary
from support import unique, wait_until


@pytest.fixture
def etcd(tmp_path):
    """A three-member etcd cluster, as the cluster's metadata store runs in production."""
    if ETCD is None:
        pytest.fail("etcd is not installed: scripts/install-deps installs etcd-server")
    cluster = EtcdCluster(tmp_path, 3)
    for index in range(3):
        cluster.start(index)
    wait_until(lambda: all(cluster.healthy(index) for index in range(3)), 30,
               lambda: [(tmp_path / f"etcd{index}.log").read_text()[-1500:] for index in range(3)])
    yield cluster
    cluster.stop()


def test_brokers_register_in_etcd_and_leave_with_their_lease(etcd, tmp_path):
    brokers = [member(tmp_path, etcd, node).start() for node in (1, 2, 3)]
    try:
        wait_until(lambda: len(listed(brokers[0].bootstrap)[0]) == 3, 10, lambda: listed(brokers[0].bootstrap))
        found, controller = listed(brokers[2].bootstrap)
        assert found == {1: brokers[0].bootstrap, 2: brokers[1].bootstrap, 3: brokers[2].bootstrap}
        assert controller in (1, 2, 3)
        # Every broker says the same cluster id: the first broker's, kept in etcd.
        ids = {re.search(r"cluster (\S+),", broker.log()).group(1) for broker in brokers}
        assert len(ids) == 1, ids

        # A node id already live refuses the start, naming who has it.
        refused = subprocess.run(
            [swiftlet_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "dup"), "--node-id", "2",
             "--http-listen", "off", "--metadata-store", etcd.url, "--config", str(tmp_path / "node2.properties")],
            capture_output=True, text=True, timeout=30)
        assert refused.returncode == 64, refused.stderr
        assert f"node.id 2 is already registered in the cluster by {brokers[1].bootstrap}" in refused.stderr

        # The controller killed with -9: gone once its 3 s lease ends, and another takes the role.
        victim = next(broker for broker in brokers if broker.bootstrap == found[controller])
        victim.kill()
        survivors = [broker for broker in brokers if broker is not victim]
        started = time.monotonic()
        wait_until(lambda: controller not in listed(survivors[0].bootstrap)[0], 15, lambda: listed(survivors[0].bootstrap))
        assert time.monotonic() - started < 10
        wait_until(lambda: listed(survivors[1].bootstrap)[1] not in (None, controller), 10, lambda: listed(survivors[1].bootstrap))

        # One etcd member dies (the first each broker asks): the others keep the cluster, the
        # brokers renew through them and stay listed, and a broker can still join.
        etcd.kill(0)
        time.sleep(4)  # past a 3 s lease: only renewals through the other members kept them
        assert set(listed(survivors[0].bootstrap)[0]) == {broker_node(broker, found) for broker in survivors}
        joining = member(tmp_path, etcd, 4).start()
        brokers.append(joining)
        wait_until(lambda: 4 in listed(survivors[0].bootstrap)[0], 10, lambda: listed(survivors[0].bootstrap))

        # A clean stop deregisters at once, not a lease later.
        assert joining.stop() == 0
        wait_until(lambda: 4 not in listed(survivors[0].bootstrap)[0], 2, lambda: listed(survivors[0].bootstrap))
    finally:
        for broker in brokers:
            broker.stop()


def broker_node(broker, found):
    return next(node for node, address in found.items() if address == broker.bootstrap)


def test_an_unreachable_metadata_store_stops_the_start(tmp_path):
    refused = subprocess.run(
        [swiftlet_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--http-listen", "off",
         "--metadata-store", f"etcd://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert "etcd unreachable" in refused.stderr, refused.stderr


def test_partitions_spread_over_the_brokers_and_clients_follow_their_leaders(etcd, tmp_path):
    brokers = [member(tmp_path, etcd, node).start() for node in (1, 2, 3)]
    try:
        wait_until(lambda: len(listed(brokers[0].bootstrap)[0]) == 3, 10, lambda: listed(brokers[0].bootstrap))
        topic, group = unique("spread"), unique("spread-group")
        admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(10)
        # Every broker lists the topic at once-ish, with its leaders on all three brokers.
        wait_until(lambda: len(partitions(brokers[2].bootstrap, topic)) == 6, 10, lambda: partitions(brokers[2].bootstrap, topic))
        layout = partitions(brokers[2].bootstrap, topic)
        assert {leader for leader, _, _ in layout.values()} == {1, 2, 3}, layout
        assert all(replicas == [leader] and isr == [leader] for leader, replicas, isr in layout.values()), layout
        # More replicas than live brokers is refused, saying why.
        refused = unique("replicated")
        with pytest.raises(KafkaException) as error:
            admin.create_topics([NewTopic(refused, num_partitions=1, replication_factor=4)])[refused].result(10)
        assert "only 3 broker(s) are registered" in str(error.value)

        # An idempotent acks=all producer that knows broker 1 only reaches every leader.
        failures = []
        producer = Producer({"bootstrap.servers": brokers[0].bootstrap, "enable.idempotence": True, "acks": "all"})
        for index in range(600):
            producer.produce(topic, str(index).encode(), partition=index % 6,
                             on_delivery=lambda error, _: error and failures.append(error))
        assert producer.flush(30) == 0 and failures == []

        # Two group members starting at different brokers find one coordinator and share the topic.
        members = [Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False}) for broker in brokers[1:]]
        for consumer in members:
            consumer.subscribe([topic])
        read = {id(consumer): [] for consumer in members}

        def poll_all():
            for consumer in members:
                message = consumer.poll(0.1)
                if message is not None and message.error() is None:
                    read[id(consumer)].append(int(message.value()))
                    consumer.commit(message, asynchronous=False)
        wait_until(lambda: sum(map(len, read.values())) >= 600, 60, lambda: {k: len(v) for k, v in read.items()}, step=poll_all)
        assert sorted(value for values in read.values() for value in values) == list(range(600))
        assert all(values for values in read.values()), "both members got partitions"
        committed = members[0].committed([TopicPartition(topic, index) for index in range(6)], timeout=10)
        assert sum(partition.offset for partition in committed) == 600
        for consumer in members:
            consumer.close()

        # Transactions whose partitions are led by all three brokers: the coordinator sends the
        # markers to each leader; read_committed sees the committed one only.
        transactional = Producer({"bootstrap.servers": brokers[2].bootstrap, "transactional.id": unique("spread-tx")})
        transactional.init_transactions(10)
        for outcome in ("commit", "abort"):
            transactional.begin_transaction()
            for index in range(6):
                transactional.produce(topic, f"{outcome}-{index}".encode(), partition=index)
            transactional.flush(10)
            getattr(transactional, f"{outcome}_transaction")(10)
        reader = Consumer({"bootstrap.servers": brokers[1].bootstrap, "group.id": unique("reader"),
                           "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        reader.assign([TopicPartition(topic, index, 600 // 6) for index in range(6)])
        seen = []

        def poll_reader():
            message = reader.poll(0.1)
            if message is not None and message.error() is None:
                seen.append(message.value().decode())
        wait_until(lambda: len(seen) >= 6, 30, lambda: seen, step=poll_reader)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            poll_reader()
        reader.close()
        assert sorted(seen) == sorted(f"commit-{index}" for index in range(6)), seen

        # A broker killed with -9: once its lease ends its partitions are offline (no leader,
        # nothing replicated to take over), and the others keep taking writes.
        victim = brokers[2]
        victim.kill()
        wait_until(lambda: sorted(listed(brokers[0].bootstrap)[0]) == [1, 2], 15, lambda: listed(brokers[0].bootstrap))
        offline = {index for index, (leader, _, _) in layout.items() if leader == 3}
        after = partitions(brokers[0].bootstrap, topic)
        assert {index for index, (leader, _, _) in after.items() if leader == -1} == offline, after
        survivor = Producer({"bootstrap.servers": brokers[0].bootstrap, "acks": "all"})
        for index in set(range(6)) - offline:
            survivor.produce(topic, b"after", partition=index, on_delivery=lambda error, _: error and failures.append(error))
        assert survivor.flush(30) == 0 and failures == []
    finally:
        for broker in brokers:
            broker.stop()


def three_brokers_and_a_replicated_topic(tmp_path, etcd, brokers, prefix):
    """Starts brokers 1-3 into `brokers` (the caller stops them) and makes a topic of three
    partitions with three replicas and min.insync.replicas=2; its name."""
    brokers.update({node: member(tmp_path, etcd, node).start() for node in (1, 2, 3)})
    wait_until(lambda: len(listed(brokers[1].bootstrap)[0]) == 3, 10, lambda: listed(brokers[1].bootstrap))
    topic = unique(prefix)
    admin = AdminClient({"bootstrap.servers": brokers[1].bootstrap})  # kept until the result is in
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3,
                                  config={"min.insync.replicas": "2"})])[topic].result(10)
    wait_until(lambda: len(partitions(brokers[3].bootstrap, topic)) == 3, 10, lambda: partitions(brokers[3].bootstrap, topic))
    return topic


class CountingProducer:
    """An idempotent acks=all producer (confluent-kafka) to every broker, sending 0, 1, 2...
    round-robin over the topic's three partitions: what was sent, each acknowledgement
    ({partition: [(offset, value)]}) and each failure."""

    def __init__(self, brokers, topic, settings=None):
        self.topic, self.sent = topic, 0
        self.acknowledged, self.failures = {index: [] for index in range(3)}, []
        self.producer = Producer({"bootstrap.servers": ",".join(broker.bootstrap for broker in brokers.values()),
                                  "enable.idempotence": True, "acks": "all", "linger.ms": 5, **(settings or {})})

    def _delivered(self, error, message):
        if error is None:
            self.acknowledged[message.partition()].append((message.offset(), int(message.value())))
        else:
            self.failures.append(error)

    def _produce(self):
        self.producer.produce(self.topic, str(self.sent).encode(), partition=self.sent % 3, on_delivery=self._delivered)
        self.sent += 1

    def send(self, count):
        for _ in range(count):
            self._produce()
            self.producer.poll(0)

    def send_for(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for _ in range(10):
                self._produce()
            self.producer.poll(0.05)

    def flush(self, timeout):
        return self.producer.flush(timeout)


def assert_read_back(bootstrap, topic, acknowledged, sent):
    """Every acknowledged message ({partition: [(offset, value)]}) is read back where it was
    acknowledged, once, in the order sent per partition, and nothing else of the `sent`."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("check"),
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    reader.assign([TopicPartition(topic, index, 0) for index in acknowledged])
    read = {index: [] for index in acknowledged}

    def poll_reader():
        message = reader.poll(0.1)
        if message is not None and message.error() is None:
            read[message.partition()].append((message.offset(), int(message.value())))
    wait_until(lambda: sum(map(len, read.values())) >= sent, 60, lambda: {k: len(v) for k, v in read.items()},
               step=poll_reader)
    reader.close()
    for index in acknowledged:
        assert read[index] == sorted(acknowledged[index]), index
        values = [value for _, value in read[index]]
        assert values == sorted(values) and len(values) == len(set(values)), index
    assert sum(map(len, read.values())) == sent


def test_replicated_partitions_survive_their_leader_killed(etcd, tmp_path):
    brokers = {}
    try:
        topic = three_brokers_and_a_replicated_topic(tmp_path, etcd, brokers, "replicated")
        layout = partitions(brokers[3].bootstrap, topic)
        assert all(sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3] for _, replicas, isr in layout.values()), layout

        producer = CountingProducer(brokers, topic)
        producer.send(300)
        assert producer.flush(30) == 0
        # The leader of partition 0 killed with -9 while the producer keeps sending: the
        # controller elects an in-sync follower once the victim's 3 s lease ends.
        victim = layout[0][0]
        brokers[victim].kill()
        started = time.monotonic()
        survivor = next(node for node in brokers if node != victim)
        wait_until(lambda: partitions(brokers[survivor].bootstrap, topic)[0][0] not in (-1, victim), 20,
                   lambda: partitions(brokers[survivor].bootstrap, topic))
        failover = time.monotonic() - started
        print(f"partition 0 led again {failover:.1f} s after its leader was killed")
        # Its port refused connections at once: fenced without waiting out its 3 s session.
        assert failover < 2.5, failover
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            producer.send(10)
            time.sleep(0.05)
        assert producer.flush(60) == 0
        assert producer.failures == [], producer.failures
        after = partitions(brokers[survivor].bootstrap, topic)
        assert all(victim not in isr for _, _, isr in after.values()), after

        assert_read_back(brokers[survivor].bootstrap, topic, producer.acknowledged, producer.sent)

        # The killed broker restarts, catches up as a follower and is back in every ISR.
        brokers[victim] = member(tmp_path, etcd, victim).start()
        wait_until(lambda: all(sorted(isr) == [1, 2, 3] for _, _, isr in partitions(brokers[survivor].bootstrap, topic).values()),
                   30, lambda: partitions(brokers[survivor].bootstrap, topic))

        # A controlled shutdown (SIGTERM) hands its partitions over before it leaves: led again
        # at once, not a lease later, and the producer goes on without a loss.
        leader = partitions(brokers[victim].bootstrap, topic)[1][0]
        other = next(node for node in brokers if node != leader)
        started = time.monotonic()
        assert brokers[leader].stop() == 0
        wait_until(lambda: partitions(brokers[other].bootstrap, topic)[1][0] not in (-1, leader), 5,
                   lambda: partitions(brokers[other].bootstrap, topic))
        print(f"partition 1 led again {time.monotonic() - started:.1f} s after its leader was stopped")
        assert time.monotonic() - started < 2.5
        before = producer.sent
        producer.send(30)
        assert producer.flush(30) == 0 and producer.failures == [], producer.failures
        assert sum(map(len, producer.acknowledged.values())) == producer.sent > before
    finally:
        for broker in brokers.values():
            broker.stop()


def test_a_paused_leader_and_a_dead_etcd_member_lose_nothing(etcd, tmp_path):
    """The leader of a partition paused (SIGSTOP) past its lease while an idempotent acks=all
    producer runs: another in-sync replica is elected; the paused broker, resumed, finds its
    lease gone and fences itself (it leads nothing) until it has registered again and read
    the cluster, then truncates to where its epoch and the new leader's part and rejoins
    every ISR. Then one etcd member dies mid-production. Every acknowledged message is read
    back once, in order, and nothing the producer sent fails."""
    brokers = {}
    try:
        topic = three_brokers_and_a_replicated_topic(tmp_path, etcd, brokers, "paused")
        producer = CountingProducer(brokers, topic, {"message.timeout.ms": 60000})
        producer.send_for(1)
        victim = partitions(brokers[3].bootstrap, topic)[0][0]
        survivor = next(node for node in brokers if node != victim)
        brokers[victim].process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        # Twice its 3 s session: the controller drops it from every ISR and elects others.
        producer.send_for(6)
        led = partitions(brokers[survivor].bootstrap, topic)
        assert led[0][0] not in (-1, victim) and all(victim not in isr for _, _, isr in led.values()), led
        brokers[victim].process.send_signal(signal.SIGCONT)
        wait_until(lambda: all(sorted(isr) == [1, 2, 3] for _, _, isr in partitions(brokers[survivor].bootstrap, topic).values()),
                   30, lambda: partitions(brokers[survivor].bootstrap, topic), step=lambda: producer.send_for(0.2))
        print(f"the paused broker was back in every ISR {time.monotonic() - started:.1f} s after its pause")
        assert "fenced" in brokers[victim].log()

        # One etcd member of three dies: the store keeps its quorum, and the brokers go on.
        etcd.kill(1)
        producer.send_for(3)
        assert producer.flush(60) == 0
        assert producer.failures == [], producer.failures
        assert_read_back(brokers[survivor].bootstrap, topic, producer.acknowledged, producer.sent)
    finally:
        for broker in brokers.values():
            if broker.process and broker.process.poll() is None:
                broker.process.send_signal(signal.SIGCONT)
            broker.stop()


def preferred_leadership(bootstrap, topic, node):
    """The partitions whose preferred (first) replica is `node`, and how many it leads."""
    layout = partitions(bootstrap, topic)
    mine = [index for index, (_, replicas, _) in layout.items() if replicas and replicas[0] == node]
    return mine, sum(1 for index in mine if layout[index][0] == node)


@pytest.mark.parametrize("automatic", [True, False], ids=["auto-rebalance", "elect-leaders"])
def test_a_restarted_broker_regains_its_preferred_leadership(etcd, tmp_path, automatic):
    """A broker killed and restarted catches up and is back in every ISR, then leads its
    preferred partitions again: by itself with auto.leader.rebalance.enable (checked every
    second here), else once an admin asks with ElectLeaders (confluent-kafka's
    elect_leaders). While it is down, ElectLeaders names it not available."""
    properties = ("leader.imbalance.check.interval.seconds=1\n" if automatic else "auto.leader.rebalance.enable=false\n")
    brokers = {node: member(tmp_path, etcd, node, properties=properties).start() for node in (1, 2, 3)}
    try:
        wait_until(lambda: len(listed(brokers[1].bootstrap)[0]) == 3, 10, lambda: listed(brokers[1].bootstrap))
        topic = unique("preferred")
        admin = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=3)])[topic].result(10)
        wait_until(lambda: len(partitions(brokers[3].bootstrap, topic)) == 6, 10, lambda: partitions(brokers[3].bootstrap, topic))
        mine, led = preferred_leadership(brokers[2].bootstrap, topic, 1)
        assert mine and led == len(mine), partitions(brokers[2].bootstrap, topic)
        producer = Producer({"bootstrap.servers": brokers[2].bootstrap, "acks": "all"})
        for index in range(600):
            producer.produce(topic, str(index).encode(), partition=index % 6)
        assert producer.flush(30) == 0

        brokers[1].kill()
        wait_until(lambda: preferred_leadership(brokers[2].bootstrap, topic, 1)[1] == 0, 20,
                   lambda: partitions(brokers[2].bootstrap, topic))
        # A new admin client: the first one's metadata still names the killed broker as the
        # controller, where librdkafka sends ElectLeaders.
        admin = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
        refused = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, mine[0])]).result(10)
        error = refused[TopicPartition(topic, mine[0])]
        error = error.args[0] if isinstance(error, KafkaException) else error
        assert error is not None and error.code() == KafkaError.PREFERRED_LEADER_NOT_AVAILABLE, refused
        for index in range(600, 900):
            producer.produce(topic, str(index).encode(), partition=index % 6)
        assert producer.flush(30) == 0

        brokers[1] = member(tmp_path, etcd, 1, properties=properties).start()
        wait_until(lambda: all(sorted(isr) == [1, 2, 3] for _, _, isr in partitions(brokers[2].bootstrap, topic).values()),
                   30, lambda: partitions(brokers[2].bootstrap, topic))
        if not automatic:
            time.sleep(2)
            assert preferred_leadership(brokers[2].bootstrap, topic, 1)[1] == 0, "moved back without being asked"
            elected = admin.elect_leaders(ElectionType.PREFERRED, None).result(10)
            assert sorted(partition.partition for partition in elected) == sorted(mine), elected
            assert all(error is None for error in elected.values()), elected
        wait_until(lambda: preferred_leadership(brokers[2].bootstrap, topic, 1)[1] == len(mine), 20,
                   lambda: partitions(brokers[2].bootstrap, topic))
        # Led by its preferred replica again, every partition still holds all it acknowledged.
        reader = Consumer({"bootstrap.servers": brokers[1].bootstrap, "group.id": unique("check"),
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        reader.assign([TopicPartition(topic, index, 0) for index in range(6)])
        read = []

        def poll_reader():
            message = reader.poll(0.1)
            if message is not None and message.error() is None:
                read.append(int(message.value()))
        wait_until(lambda: len(read) >= 900, 30, lambda: len(read), step=poll_reader)
        reader.close()
        assert sorted(read) == list(range(900))
    finally:
        for broker in brokers.values():
            broker.stop()


def test_a_reassignment_moves_a_partition_to_another_broker(etcd, tmp_path):
    """kafka-python's alter_partition_reassignments moves a replica from node 1 to node 3: node 3
    copies the partition, list_partition_reassignments shows the move meanwhile, and once node
    3 is in sync node 1 leaves the replicas (its log directory goes) and leadership moves with
    it; every record written before and after is there."""
    brokers = {node: member(tmp_path, etcd, node).start() for node in (1, 2, 3)}
    try:
        wait_until(lambda: all(len(listed(broker.bootstrap)[0]) == 3 for broker in brokers.values()), 10,
                   lambda: listed(brokers[1].bootstrap))
        topic = unique("moved")
        creator = AdminClient({"bootstrap.servers": brokers[2].bootstrap})  # kept until the result is in
        creator.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]])])[topic].result(10)
        wait_until(lambda: partitions(brokers[3].bootstrap, topic).get(0, (None,))[0] == 1, 10,
                   lambda: partitions(brokers[3].bootstrap, topic))
        producer = Producer({"bootstrap.servers": brokers[2].bootstrap, "acks": "all"})
        for index in range(500):
            producer.produce(topic, str(index).encode(), partition=0)
        assert producer.flush(30) == 0
        admin = KafkaAdminClient(bootstrap_servers=brokers[2].bootstrap)
        try:
            accepted = admin.alter_partition_reassignments({KafkaTopicPartition(topic, 0): [3, 2]})
            assert accepted == {KafkaTopicPartition(topic, 0): None}, accepted
            wait_until(lambda: partitions(brokers[2].bootstrap, topic)[0][1] == [3, 2], 30,
                       lambda: (partitions(brokers[2].bootstrap, topic), admin.list_partition_reassignments()))
            wait_until(lambda: admin.list_partition_reassignments() == {}, 10, lambda: admin.list_partition_reassignments())
        finally:
            admin.close()
        leader, replicas, isr = partitions(brokers[2].bootstrap, topic)[0]
        assert leader == 3 and sorted(isr) == [2, 3], (leader, replicas, isr)
        wait_until(lambda: not (tmp_path / "node1" / "data" / "logs" / f"{topic}-0").exists(), 10, lambda: "node 1's copy")
        for index in range(500, 600):
            producer.produce(topic, str(index).encode(), partition=0)
        assert producer.flush(30) == 0
        reader = Consumer({"bootstrap.servers": brokers[3].bootstrap, "group.id": unique("check"),
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        reader.assign([TopicPartition(topic, 0, 0)])
        read = []

        def poll_reader():
            message = reader.poll(0.1)
            if message is not None and message.error() is None:
                read.append(int(message.value()))
        wait_until(lambda: len(read) >= 600, 30, lambda: len(read), step=poll_reader)
        reader.close()
        assert read == list(range(600))
    finally:
        for broker in brokers.values():
            broker.stop()


def committed_total(bootstrap, group):
    """The sum of the group's committed offsets, as the broker at `bootstrap` lists them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the result is in
    offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10).topic_partitions
    return sum(partition.offset for partition in offsets)


def test_a_consumer_group_continues_across_a_coordinator_failover(etcd, tmp_path):
    brokers = {node: member(tmp_path, etcd, node).start() for node in (1, 2, 3)}
    try:
        wait_until(lambda: len(listed(brokers[1].bootstrap)[0]) == 3, 10, lambda: listed(brokers[1].bootstrap))
        topic, group = unique("failover"), unique("failover-group")
        bootstrap = ",".join(broker.bootstrap for broker in brokers.values())
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(10)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        for index in range(300):
            producer.produce(topic, str(index).encode(), partition=index % 3)
        assert producer.flush(30) == 0

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        consumer.subscribe([topic])
        read = []

        def consume():
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                read.append(int(message.value()))
                try:
                    consumer.commit(message, asynchronous=False)
                except KafkaException:
                    pass  # the coordinator moving: the next commit goes to the new one
        wait_until(lambda: len(read) >= 150, 60, lambda: len(read), step=consume)
        # __consumer_offsets has three replicas: its leader for this group is killed with -9,
        # and the new leader replays the partition and coordinates the group from there.
        coordinator = admin.describe_consumer_groups([group])[group].result(10).coordinator.id
        brokers[coordinator].kill()
        wait_until(lambda: len(set(read)) >= 300, 90, lambda: (len(read), len(set(read))), step=consume)
        consumer.close()
        assert set(read) == set(range(300))
        # Resumed from the committed offsets, not from the start: at most the last
        # uncommitted record of each partition is read twice.
        assert len(read) - 300 <= 3, len(read)
        survivor = next(node for node in brokers if node != coordinator)
        assert committed_total(brokers[survivor].bootstrap, group) == 300
    finally:
        for broker in brokers.values():
            broker.stop()


def transaction_state_partition(transactional_id, partitions=50):
    """The partition of __transaction_state that holds `transactional_id`: Kafka's
    abs(String.hashCode()) % partitions."""
    code = 0
    for unit in transactional_id.encode("utf-16-be")[::2]:
        code = (code * 31 + unit) & 0xFFFFFFFF
    code = code - (1 << 32) if code >= 1 << 31 else code
    return 0 if code == -(1 << 31) else abs(code) % partitions


def test_a_transactional_copy_continues_across_a_transaction_coordinator_failover(etcd, tmp_path):
    """Consume-transform-produce with exactly-once (confluent-kafka): a transactional producer
    copies a topic and commits the group's offsets in each transaction; its transaction
    coordinator is killed with -9 in the middle of one, which the new coordinator (a replica
    of its __transaction_state partition) commits. read_committed then sees every record
    copied exactly once, and the group's offsets are at the end."""
    brokers = {node: member(tmp_path, etcd, node).start() for node in (1, 2, 3)}
    try:
        wait_until(lambda: len(listed(brokers[1].bootstrap)[0]) == 3, 10, lambda: listed(brokers[1].bootstrap))
        source, sink, group, transactional_id = unique("eos-in"), unique("eos-out"), unique("eos-group"), unique("eos-id")
        bootstrap = ",".join(broker.bootstrap for broker in brokers.values())
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for created in admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=3)
                                            for name in (source, sink)]).values():
            created.result(10)
        plain = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        for index in range(300):
            plain.produce(source, str(index).encode(), partition=index % 3)
        assert plain.flush(30) == 0

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False, "isolation.level": "read_committed"})
        consumer.subscribe([source])
        producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5})
        producer.init_transactions(30)
        progress = {"copied": 0, "commits": 0, "aborts": 0, "killed": None}

        def retried(call):
            while True:
                try:
                    return call()
                except KafkaException as error:
                    if not error.args[0].retriable():
                        raise

        def rewind():
            """Back to the group's committed offsets, after an aborted transaction."""
            assignment = consumer.assignment()
            for committed in retried(lambda: consumer.committed(assignment, timeout=10)):
                consumer.seek(TopicPartition(source, committed.partition, max(committed.offset, 0)))

        def copy_one_transaction():
            messages = [message for message in consumer.consume(10, 0.2) if message.error() is None]
            if not messages:
                return
            try:
                producer.begin_transaction()
                for message in messages:
                    producer.produce(sink, message.value(), partition=message.partition())
                if progress["copied"] >= 150 and progress["killed"] is None:
                    # Half-way, inside a transaction: its records are written, its end is not.
                    assert producer.flush(30) == 0
                    state = partitions(brokers[1].bootstrap, "__transaction_state")
                    progress["killed"] = state[transaction_state_partition(transactional_id)][0]
                    brokers[progress["killed"]].kill()
                positions = consumer.position(consumer.assignment())
                producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
                retried(lambda: producer.commit_transaction(30))
                progress["commits"] += 1
                progress["copied"] = sum(max(position.offset, 0) for position in positions)
            except KafkaException as error:
                if error.args[0].fatal():
                    raise
                retried(lambda: producer.abort_transaction(30))
                progress["aborts"] += 1
                rewind()

        wait_until(lambda: progress["copied"] >= 300, 120, lambda: progress, step=copy_one_transaction)
        consumer.close()
        assert progress["killed"] is not None

        survivor = next(node for node in brokers if node != progress["killed"])
        reader = Consumer({"bootstrap.servers": brokers[survivor].bootstrap, "group.id": unique("eos-check"),
                           "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "isolation.level": "read_committed"})
        reader.assign([TopicPartition(sink, index, 0) for index in range(3)])
        read = []

        def poll_reader():
            message = reader.poll(0.1)
            if message is not None and message.error() is None:
                read.append((message.partition(), int(message.value())))
        wait_until(lambda: len(read) >= 300, 60, lambda: len(read), step=poll_reader)
        for _ in range(10):
            poll_reader()
        reader.close()
        # Exactly once: every record once, in its partition, nothing of an aborted transaction.
        assert sorted(value for _, value in read) == list(range(300)), (len(read), progress)
        print("transactional copy across the failover:", progress)
        assert all(value % 3 == partition for partition, value in read)
        assert committed_total(brokers[survivor].bootstrap, group) == 300
    finally:
        for broker in brokers.values():
            broker.stop()


def test_users_and_acls_made_through_one_broker_hold_on_every_broker(etcd, tmp_path):
    """SCRAM users and ACLs live in the cluster's store: a user made through one broker signs in
    at another; ACLs granted through one broker let alice write to and read from partitions led
    by every broker; one taken back through another broker is refused everywhere."""
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion)
    brokers = {node: secured_member(tmp_path, etcd, node, ["--user", "admin:admin-secret"] if node == 1 else []).start()
               for node in (1, 2, 3)}

    def scram(node, user, password, **settings):
        return {"bootstrap.servers": f"127.0.0.1:{brokers[node].sasl_port}", "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": user, "sasl.password": password, **settings}
    try:
        wait_until(lambda: len(listed(brokers[1].bootstrap)[0]) == 3, 10, lambda: listed(brokers[1].bootstrap))
        # admin was made at node 1's start; it signs in at node 2.
        admin = AdminClient(scram(2, "admin", "admin-secret"))
        topic, group = unique("shared-acl"), unique("shared-group")
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(10)
        wait_until(lambda: {leader for leader, _, _ in partitions(brokers[1].bootstrap, topic).values()} == {1, 2, 3}, 10,
                   lambda: partitions(brokers[1].bootstrap, topic))
        node1_admin = AdminClient(scram(1, "admin", "admin-secret"))
        node1_admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
            "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"alice-secret")])["alice"].result(10)
        grants = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*", operation,
                             AclPermissionType.ALLOW) for operation in (AclOperation.WRITE, AclOperation.READ)]
        grants.append(AclBinding(ResourceType.GROUP, group, ResourcePatternType.LITERAL, "User:alice", "*", AclOperation.READ,
                                 AclPermissionType.ALLOW))
        for future in node1_admin.create_acls(grants).values():
            future.result(10)

        # alice, made through node 1, signs in at node 3 and writes to the leaders on all three.
        def produce_to_every_partition(expect_error):
            outcomes = []
            producer = Producer(scram(3, "alice", "alice-secret", acks="all", **{"message.timeout.ms": 5_000}))
            for index in range(3):
                producer.produce(topic, str(index).encode(), partition=index,
                                 on_delivery=lambda error, message: outcomes.append(error))
            producer.flush(15)
            return len(outcomes) == 3 and all((error is not None) == expect_error for error in outcomes)
        wait_until(lambda: produce_to_every_partition(expect_error=False), 30, lambda: "alice cannot write everywhere")
        consumer = Consumer(scram(2, "alice", "alice-secret", **{"group.id": group, "auto.offset.reset": "earliest"}))
        consumer.subscribe([topic])
        read = set()

        def consume():
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                read.add(message.partition())
        wait_until(lambda: read == {0, 1, 2}, 30, lambda: read, step=consume)
        consumer.close()

        # Taken back through node 2: every leader refuses alice's writes.
        write = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", None,
                                 AclOperation.WRITE, AclPermissionType.ALLOW)
        assert len(admin.delete_acls([write])[write].result(10)) == 1
        wait_until(lambda: produce_to_every_partition(expect_error=True), 30, lambda: "alice still writes somewhere")
        assert not produce_to_every_partition(expect_error=False)
    finally:
        for broker in brokers.values():
            broker.stop()


def test_brokers_sign_in_to_each_other_with_scram(etcd, tmp_path):
    """Inter-broker traffic over a SASL listener (inter.broker.listener.name, SCRAM-SHA-256 as
    User:broker) with an authorizer that grants ANONYMOUS nothing: followers fetch and the
    transaction coordinator writes markers as signed-in replicas, so acks=all with three
    replicas and a transaction across all three leaders both complete."""
    brokers = {node: secured_member(tmp_path, etcd, node, ["--user", "broker:broker-secret", "--user", "admin:admin-secret"],
                                    inter_broker_sasl=True).start()
               for node in (1, 2, 3)}
    admin_settings = {"bootstrap.servers": ",".join(f"127.0.0.1:{broker.sasl_port}" for broker in brokers.values()),
                      "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
                      "sasl.username": "admin", "sasl.password": "admin-secret"}
    try:
        admin = AdminClient(admin_settings)
        wait_until(lambda: len(admin.list_topics(timeout=5).brokers) == 3, 20, lambda: admin.list_topics(timeout=5).brokers)
        topic = unique("signed-in")

        def created():
            try:
                admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3,
                                              config={"min.insync.replicas": "2"})])[topic].result(10)
                return True
            except KafkaException as error:  # the controller may not list the last broker yet
                assert error.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR, error
                return False
        wait_until(created, 10, lambda: "three brokers never listed by the controller")
        producer = Producer({**admin_settings, "acks": "all", "enable.idempotence": True})
        failures = []
        for index in range(30):
            producer.produce(topic, str(index).encode(), partition=index % 3,
                             on_delivery=lambda error, message: failures.append(error) if error else None)
        assert producer.flush(30) == 0 and not failures, failures

        def in_sync():
            described = admin.list_topics(topic, timeout=5).topics[topic].partitions.values()
            return {p.leader for p in described} == {1, 2, 3} and all(len(p.isrs) == 3 for p in described)
        wait_until(in_sync, 20, lambda: admin.list_topics(topic, timeout=5).topics[topic].partitions)

        transactional = Producer({**admin_settings, "transactional.id": unique("signed-in-txn")})
        transactional.init_transactions(30)
        transactional.begin_transaction()
        for index in range(3):
            transactional.produce(topic, f"t{index}".encode(), partition=index)
        transactional.commit_transaction(30)
        reader = Consumer({**admin_settings, "group.id": unique("signed-in-check"), "auto.offset.reset": "earliest",
                           "isolation.level": "read_committed", "enable.auto.commit": False})
        reader.assign([TopicPartition(topic, index, 0) for index in range(3)])
        read = []

        def poll_reader():
            message = reader.poll(0.1)
            if message is not None and message.error() is None:
                read.append(message.value().decode())
        wait_until(lambda: len(read) >= 33, 30, lambda: len(read), step=poll_reader)
        reader.close()
        assert sorted(read) == sorted([str(index) for index in range(30)] + ["t0", "t1", "t2"])
        for broker in brokers.values():
            assert "refused" not in broker.log() and "did not prove" not in broker.log(), broker.log()[-2000:]
    finally:
        for broker in brokers.values():
            broker.stop()
