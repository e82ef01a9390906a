"""Replication's cost and a failover's length (a measurement, never a test).

Starts one etcd member and three swiftlet brokers in cluster mode, and beside them one single
broker, all on loopback with their logs on disk (tmpfs where /tmp is one). On the same run:

- produce N x 1 KiB to a topic with replication factor 3 and min.insync.replicas=2 with
  acks=all, against the single broker with acks=1 and with acks=all: messages per second,
  and broker CPU seconds per GB produced (the three brokers' CPU summed for the cluster:
  replication included);
- end-to-end latency (produce to a consumer's poll) at 1,000 msg/s, p50 and p99, with the
  same acks;
- failover: an acks=all producer (plain, and idempotent) sends every 5 ms to a partition whose
  leader is then killed with -9; the time from the kill to the first acknowledgement of a
  record sent after it, with the default broker.session.timeout.ms (9 s). The killed broker
  is restarted before the next round.

    Interop/.venv/bin/python Interop/bench/cluster/run.py [--quick] [--swiftlet PATH]
"""

import argparse
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "load"))
from brokers import Broker, free_port  # noqa: E402
from run import build_loadgen, loadgen  # noqa: E402


def start_etcd(directory):
    client, peer = free_port(), free_port()
    process = subprocess.Popen(
        [shutil.which("etcd") or sys.exit("etcd is not installed (Debian's etcd-server)"), "--name", "bench",
         "--data-dir", str(directory / "etcd"), "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", f"bench=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    return process, f"etcd://127.0.0.1:{client}"


def cluster_member(binary, directory, etcd, node):
    port = free_port()
    command = [binary, "--listen", f"127.0.0.1:{port}", "--data-dir", str(directory / f"node{node}"), "--node-id", str(node),
               "--http-listen", "off", "--metadata-store", etcd]
    return Broker(f"node {node}", command, port)


def create(bootstrap, topic, replication_factor, configs=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=replication_factor,
                                  config=configs or {})])[topic].result(30)
    time.sleep(1)  # every broker has synced it


def leader_of(bootstrap, topic):
    from confluent_kafka.admin import AdminClient
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return metadata.topics[topic].partitions[0].leader


def produce(binary, brokers, bootstrap, topic, count, acks):
    cpu = sum(broker.cpu_seconds() for broker in brokers)
    messages, seconds, errors = loadgen(binary, "produce", bootstrap, topic, count, 1024, acks, "none")
    if int(errors):
        sys.exit(f"{topic}: {errors} delivery errors")
    gigabytes = int(messages) * 1024 / 1e9
    return int(messages) / float(seconds), (sum(broker.cpu_seconds() for broker in brokers) - cpu) / gigabytes


def failover(members, bootstrap, topic, idempotent):
    """Seconds from the kill -9 of the partition's leader to the first acknowledgement of a
    record produced after it."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": idempotent, "linger.ms": 0})
    acknowledged = []
    lock = threading.Lock()

    def delivered(error, message):
        if error is None:
            with lock:
                acknowledged.append((float(message.value()), time.monotonic()))
    for _ in range(200):
        producer.produce(topic, str(time.monotonic()).encode(), partition=0, on_delivery=delivered)
        producer.poll(0.005)
    victim = next(member for member in members if member.node_id == leader_of(bootstrap, topic))
    victim.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < 30:
        producer.produce(topic, str(time.monotonic()).encode(), partition=0, on_delivery=delivered)
        producer.poll(0.005)
        with lock:
            after = [acknowledged_at for sent, acknowledged_at in acknowledged if sent > killed]
        if after:
            producer.flush(30)
            return min(after) - killed, victim
    sys.exit("no acknowledgement within 30 s of the kill")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--swiftlet", default=str(ROOT / ".build" / "release" / "swiftlet"))
    arguments = parser.parse_args()
    count = 20_000 if arguments.quick else 200_000
    with tempfile.TemporaryDirectory() as name:
        directory = pathlib.Path(name)
        binary = str(directory / "loadgen")
        build_loadgen(binary)
        etcd, url = start_etcd(directory)
        members = []
        single = Broker("single", [arguments.swiftlet, "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
                                   str(directory / "single"), "--http-listen", "off"], 0)
        single.port = int(single.command[2].rsplit(":", 1)[1])
        try:
            for node in (1, 2, 3):
                member = cluster_member(arguments.swiftlet, directory, url, node)
                member.node_id = node
                member.start()
                members.append(member)
            single.start()
            from confluent_kafka.admin import AdminClient
            deadline = time.monotonic() + 30
            while len(AdminClient({"bootstrap.servers": members[0].bootstrap}).list_topics(timeout=10).brokers) < 3:
                if time.monotonic() > deadline:
                    sys.exit("the three brokers did not see each other")
                time.sleep(0.2)
            cluster_bootstrap = ",".join(member.bootstrap for member in members)
            create(members[0].bootstrap, "replicated", 3, {"min.insync.replicas": "2"})
            create(single.bootstrap, "single", 1)
            rows = {}
            rows["produce 1 KiB, RF 3 acks=all"] = produce(binary, members, cluster_bootstrap, "replicated", count, "all")
            rows["produce 1 KiB, one broker acks=1"] = produce(binary, [single], single.bootstrap, "single", count, "1")
            rows["produce 1 KiB, one broker acks=all"] = produce(binary, [single], single.bootstrap, "single", count, "all")
            seconds = 3 if arguments.quick else 10
            latency = {
                "RF 3 acks=all": loadgen(binary, "latency", cluster_bootstrap, "replicated", 1000, seconds, "all"),
                "one broker acks=1": loadgen(binary, "latency", single.bootstrap, "single", 1000, seconds, "1"),
            }
            failovers = []
            for index, idempotent in enumerate([False, True] * (1 if arguments.quick else 3)):
                topic = f"failover-{index}"
                create(members[0].bootstrap, topic, 3, {"min.insync.replicas": "2"})
                took, victim = failover([member for member in members if member.process.poll() is None], cluster_bootstrap, topic,
                                        idempotent)
                failovers.append((idempotent, took))
                victim.start()  # back before the next round, which may kill another
                time.sleep(3)
        finally:
            for broker in members + [single]:
                if broker.process and broker.process.poll() is None:
                    broker.stop()
            etcd.terminate()
            etcd.wait(10)
    print(f"| produce ({count:,} x 1 KiB, {os.cpu_count()} cores) | msg/s | broker CPU s/GB |")
    print("|---|---|---|")
    for label, (rate, cpu) in rows.items():
        print(f"| {label} | {rate:,.0f} | {cpu:.2f} |")
    print()
    print("| end-to-end at 1,000 msg/s | p50 (ms) | p99 (ms) |")
    print("|---|---|---|")
    for label, (p50, p99, _, _) in latency.items():
        print(f"| {label} | {float(p50):.2f} | {float(p99):.2f} |")
    print()
    for idempotent in (False, True):
        times = sorted(took for flag, took in failovers if flag == idempotent)
        print(f"failover ({'idempotent' if idempotent else 'plain'} acks=all producer, {len(times)} kills, "
              f"broker.session.timeout.ms 9000, the default): the first acknowledgement of a record sent after the "
              f"kill -9 came {', '.join(f'{took:.2f}' for took in times)} s after it")


if __name__ == "__main__":
    main()
