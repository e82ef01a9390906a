"""A chaos run: three brokers on a three-member etcd, an idempotent acks=all producer, a
transactional producer and a consumer group at work while a seeded nemesis kills brokers with
-9, pauses them with SIGSTOP past their session, restarts them, and kills and restarts etcd
members (one fault at a time, so that min.insync.replicas=2 of 3 and etcd's quorum can hold).
Then every fault is healed and the topics are read back and checked with the invariants of
Jepsen's Kafka workload:

- no acknowledged write is lost (each is read at the offset its acknowledgement named);
- no write is read twice, and none appears that was never sent;
- within a partition, one producer's writes are read in the order it sent them;
- the consumer group read nothing the log does not end up holding at that offset (no read
  past the high watermark of data a failover then cut);
- read_committed sees no record of an aborted transaction, and every committed
  transaction's records once each.

    Interop/.venv/bin/python Interop/chaos/chaos.py [--seed N] [--seconds S] [--swiftlet PATH]

Prints the summary as JSON and exits 1 when an invariant does not hold. The same run is an
Interop test (`test_chaos.py`, a fixed seed, bounded in time).
"""

import argparse
import json
import os
import pathlib
import random
import signal
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from cluster_support import EtcdCluster, listed, member, partitions  # noqa: E402
from support import wait_until  # noqa: E402

PARTITIONS = 3


class Nemesis:
    """Faults one at a time, chosen by a seeded generator: a broker killed with -9 then
    restarted, or paused with SIGSTOP past the 3 s session then continued, or an etcd member
    killed then restarted; with a pause between faults."""

    def __init__(self, brokers, directory, etcd, seed):
        self.brokers, self.directory, self.etcd = brokers, directory, etcd
        self.random = random.Random(seed)
        self.history = []

    def one_fault(self):
        node = self.random.choice(sorted(self.brokers))
        action = self.random.choice(["kill", "pause", "etcd"])
        started = time.monotonic()
        if action == "etcd":
            node = self.random.randrange(len(self.etcd.ports))
            self.etcd.kill(node)
            time.sleep(self.random.uniform(1.5, 4))
            self.etcd.start(node)
        elif action == "kill":
            self.brokers[node].kill()
            time.sleep(self.random.uniform(0.5, 4))
            self.brokers[node] = member(self.directory, self.etcd, node, port=self.brokers[node].port).start()
        else:
            self.brokers[node].process.send_signal(signal.SIGSTOP)
            time.sleep(self.random.uniform(4, 6))
            self.brokers[node].process.send_signal(signal.SIGCONT)
        self.history.append({"action": action, "node": node, "seconds": round(time.monotonic() - started, 1)})

    def heal(self):
        for node, broker in self.brokers.items():
            if broker.process.poll() is None:
                broker.process.send_signal(signal.SIGCONT)
            else:
                self.brokers[node] = member(self.directory, self.etcd, node, port=broker.port).start()


def idempotent_writer(bootstrap, topic, stop, log):
    """Sends 0, 1, 2... round-robin over the partitions; logs (value, partition, offset) of each
    acknowledgement, and the values sent."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                         "message.timeout.ms": 120000, **({"debug": os.environ["CHAOS_DEBUG"]} if "CHAOS_DEBUG" in os.environ else {})})

    def delivered(error, message):
        if error is None:
            log["acknowledged"].append((int(message.value()), message.partition(), message.offset()))
        else:
            log["failed"].append((int(message.value()), str(error)))
    value = 0
    while not stop.is_set():
        producer.produce(topic, str(value).encode(), partition=value % PARTITIONS, on_delivery=delivered)
        log["sent"] = value + 1
        value += 1
        producer.poll(0.01)
    producer.flush(120)


def group_reader(bootstrap, topic, stop, log):
    """A consumer group's member reading the topic as it is written, committing every 50
    records: each (partition, offset, value) it reads."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-readers", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    while not stop.is_set():
        message = consumer.poll(0.1)
        if message is None or message.error() is not None:
            continue
        log["read"].append((message.partition(), message.offset(), message.value().decode()))
        if len(log["read"]) % 50 == 0:
            try:
                consumer.commit(asynchronous=False)
            except KafkaException:
                pass  # the coordinator moving: the next commit goes to the new one
    consumer.close()


def transactional_writer(bootstrap, topic, stop, log, seed):
    """Transactions of three records, committed or aborted at random; a transaction whose
    outcome the client cannot tell (an error at commit) is logged as unknown."""
    chooser = random.Random(seed + 1)
    producer = None
    index = 0
    while not stop.is_set():
        if producer is None:
            producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "chaos-writer",
                                 "transaction.timeout.ms": 30000, "linger.ms": 5})
            try:
                producer.init_transactions(30)
            except KafkaException:
                producer = None
                time.sleep(0.5)
                continue
        values = [f"t{index}-{part}" for part in range(3)]
        index += 1
        commit = chooser.random() < 0.7
        try:
            producer.begin_transaction()
            for part, value in enumerate(values):
                producer.produce(topic, value.encode(), partition=part % PARTITIONS)
            if commit:
                producer.commit_transaction(30)
                log["committed"].append(values)
            else:
                producer.abort_transaction(30)
                log["aborted"].append(values)
        except KafkaException as error:
            kafka_error = error.args[0]
            log["unknown"].append(values)
            if kafka_error.txn_requires_abort():
                try:
                    producer.abort_transaction(30)
                except KafkaException:
                    producer = None
            elif not kafka_error.retriable():
                producer = None  # fatal (fenced): a new producer with the same id
        time.sleep(0.05)


def read_all(bootstrap, topic, isolation, until):
    """Every record of the topic's partitions: {partition: [(offset, value)]}."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"chaos-check-{isolation}", "enable.auto.commit": False,
                       "isolation.level": isolation, "auto.offset.reset": "earliest"})
    reader.assign([TopicPartition(topic, index, 0) for index in range(PARTITIONS)])
    read = {index: [] for index in range(PARTITIONS)}
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        message = reader.poll(0.2)
        if message is not None and message.error() is None:
            read[message.partition()].append((message.offset(), message.value().decode()))
            quiet_since = time.monotonic()
        elif until(read) and time.monotonic() - quiet_since > 2:
            break
    reader.close()
    return read


def check(writes, transactions, read, committed_read, group):
    violations = []
    by_value, by_offset = {}, {}
    for partition, records in read.items():
        for offset, value in records:
            by_value.setdefault(value, []).append((partition, offset))
            by_offset[(partition, offset)] = value
    dirty = [entry for entry in group["read"] if by_offset.get((entry[0], entry[1])) != entry[2]]
    if dirty:
        violations.append({"read by the group, not in the log": dirty[:20], "count": len(dirty)})
    lost = [entry for entry in writes["acknowledged"] if by_value.get(str(entry[0])) != [(entry[1], entry[2])]]
    if lost:
        violations.append({"lost or moved acknowledged writes": lost[:20], "count": len(lost)})
    duplicates = {value: places for value, places in by_value.items() if len(places) > 1}
    if duplicates:
        violations.append({"duplicates": dict(list(duplicates.items())[:20]), "count": len(duplicates)})
    unsent = [value for value in by_value if not value.isdigit() or int(value) >= writes["sent"]]
    if unsent:
        violations.append({"never sent": unsent[:20]})
    for partition, records in read.items():
        values = [int(value) for _, value in records]
        if values != sorted(values):
            violations.append({"reordered in partition": partition})
    committed_values = {value for _, value in sum(committed_read.values(), [])}
    aborted = [value for values in transactions["aborted"] for value in values if value in committed_values]
    if aborted:
        violations.append({"aborted records read_committed": aborted[:20]})
    missing = [value for values in transactions["committed"] for value in values if value not in committed_values]
    if missing:
        violations.append({"committed records missing": missing[:20]})
    committed_list = [value for _, value in sum(committed_read.values(), [])]
    if len(committed_list) != len(set(committed_list)):
        violations.append({"committed records read twice": len(committed_list) - len(set(committed_list))})
    # An unknown outcome is either whole or absent.
    for values in transactions["unknown"]:
        present = [value in committed_values for value in values]
        if any(present) and not all(present):
            violations.append({"partly visible transaction": values})
    return violations


def run(directory, seed, seconds):
    directory = pathlib.Path(directory)
    etcd = EtcdCluster(directory, 3)
    for index in range(3):
        etcd.start(index)
    wait_until(lambda: all(etcd.healthy(index) for index in range(3)), 30, lambda: "etcd")
    brokers = {}
    stop = threading.Event()
    try:
        brokers.update({node: member(directory, etcd, node).start() for node in (1, 2, 3)})
        bootstrap = ",".join(broker.bootstrap for broker in brokers.values())
        wait_until(lambda: all(len(listed(broker.bootstrap)[0]) == 3 for broker in brokers.values()), 15,
                   lambda: "three brokers listed by each")
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=3,
                                                    config={"min.insync.replicas": "2"})
                                           for name in ("chaos", "chaos-txn")]).values():
            future.result(30)
        wait_until(lambda: len(partitions(brokers[3].bootstrap, "chaos-txn")) == PARTITIONS, 15, lambda: "topics")
        writes = {"acknowledged": [], "failed": [], "sent": 0}
        transactions = {"committed": [], "aborted": [], "unknown": []}
        group = {"read": []}
        # Daemons, and told to stop on the way out: a failed run must not hang on its workers.
        workers = [threading.Thread(target=idempotent_writer, args=(bootstrap, "chaos", stop, writes), daemon=True),
                   threading.Thread(target=transactional_writer, args=(bootstrap, "chaos-txn", stop, transactions, seed),
                                    daemon=True),
                   threading.Thread(target=group_reader, args=(bootstrap, "chaos", stop, group), daemon=True)]
        for worker in workers:
            worker.start()
        nemesis = Nemesis(brokers, directory, etcd, seed)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(nemesis.random.uniform(1, 3))
            nemesis.one_fault()
        nemesis.heal()
        bootstrap = ",".join(broker.bootstrap for broker in brokers.values())
        wait_until(lambda: all(sorted(isr) == [1, 2, 3] for _, _, isr in partitions(brokers[1].bootstrap, "chaos").values()),
                   60, lambda: partitions(brokers[1].bootstrap, "chaos"))
        time.sleep(1)
        stop.set()
        for worker in workers:
            worker.join(180)
        expected = len(writes["acknowledged"])
        read = read_all(bootstrap, "chaos", "read_uncommitted", lambda read: sum(map(len, read.values())) >= expected)
        committed_read = read_all(bootstrap, "chaos-txn", "read_committed", lambda read: True)
        violations = check(writes, transactions, read, committed_read, group)
        return {
            "seed": seed, "seconds": seconds, "faults": nemesis.history,
            "writes": {"sent": writes["sent"], "acknowledged": expected, "failed": len(writes["failed"]),
                       "failures": sorted({reason for _, reason in writes["failed"]})[:5],
                       "failed by partition": {index: sum(1 for value, _ in writes["failed"] if value % PARTITIONS == index)
                                               for index in range(PARTITIONS)},
                       "first failed": min((value for value, _ in writes["failed"]), default=None),
                       "read": sum(map(len, read.values()))},
            "transactions": {key: len(value) for key, value in transactions.items()},
            "group read": len(group["read"]),
            "violations": violations,
        }
    finally:
        stop.set()
        for broker in brokers.values():
            if broker.process and broker.process.poll() is None:
                broker.process.send_signal(signal.SIGCONT)
                broker.stop()
        etcd.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--swiftlet", help="the binary (default: the release build)")
    parser.add_argument("--keep", metavar="DIRECTORY", help="run in DIRECTORY and keep it (the brokers' and etcd's logs)")
    arguments = parser.parse_args()
    if arguments.swiftlet:
        os.environ["INTEROP_SWIFTLET_BINARY"] = arguments.swiftlet
    if arguments.keep:
        pathlib.Path(arguments.keep).mkdir(parents=True, exist_ok=True)
        summary = run(arguments.keep, arguments.seed, arguments.seconds)
    else:
        with tempfile.TemporaryDirectory() as directory:
            summary = run(directory, arguments.seed, arguments.seconds)
    print(json.dumps(summary, indent=2))
    sys.exit(1 if summary["violations"] else 0)


if __name__ == "__main__":
    main()
