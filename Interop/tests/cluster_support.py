"""A cluster on loopback for the cluster tests and the chaos run: a real etcd cluster (Debian's
etcd-server), brokers started as its members, and what kcat -L says of them."""

import re
import shutil
import subprocess
import urllib.request

from conftest import RunningBroker, free_port

ETCD = shutil.which("etcd")


class EtcdCluster:
    """Members of one etcd cluster on loopback, each with its client and peer port."""

    def __init__(self, directory, size):
        self.directory = directory
        self.ports = [(free_port(), free_port()) for _ in range(size)]
        self.processes = {}
        self.initial = ",".join(f"m{index}=http://127.0.0.1:{peer}" for index, (_, peer) in enumerate(self.ports))

    @property
    def url(self):
        return "etcd://" + ",".join(f"127.0.0.1:{client}" for client, _ in self.ports)

    def start(self, index):
        client, peer = self.ports[index]
        log = open(self.directory / f"etcd{index}.log", "ab")
        self.processes[index] = subprocess.Popen(
            [ETCD, "--name", f"m{index}", "--data-dir", str(self.directory / f"etcd{index}"),
             "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", self.initial, "--initial-cluster-state", "new", "--heartbeat-interval", "50",
             "--election-timeout", "500"],
            stdout=log, stderr=log)

    def healthy(self, index):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[index][0]}/health", timeout=1) as answer:
                return b'"health":"true"' in answer.read()
        except OSError:
            return False

    def kill(self, index):
        self.processes[index].kill()
        self.processes[index].wait(timeout=10)

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


def member(tmp_path, etcd, node_id, session_ms=3000, properties="", port=None):
    """A broker of the cluster; `port` (a restart's) keeps the one it had, as a restarted broker
    keeps its listener in production."""
    config = tmp_path / f"node{node_id}.properties"
    config.write_text(f"broker.session.timeout.ms={session_ms}\nmetadata.store.prefix=/interop\n{properties}")
    (tmp_path / f"node{node_id}").mkdir(exist_ok=True)
    return RunningBroker(str(tmp_path / f"node{node_id}" / "data"), port=port,
                         extra_args=["--node-id", str(node_id), "--http-listen", "off", "--metadata-store", etcd.url,
                                     "--config", str(config)])


def secured_member(tmp_path, etcd, node_id, extra_args=(), inter_broker_sasl=False):
    """A cluster member with the StandardAuthorizer and a SCRAM listener, CLIENTS, besides the
    one the brokers replicate over: PLAINTEXT (its principal, User:ANONYMOUS, a super user, as
    is admin), or with `inter_broker_sasl` INTERNAL, where brokers sign in with SCRAM as
    User:broker (a super user; ANONYMOUS is not). `sasl_port` is the CLIENTS port."""
    internal, sasl = free_port(), free_port()
    config = tmp_path / f"node{node_id}.properties"
    if inter_broker_sasl:
        listeners = f"""listeners=INTERNAL://127.0.0.1:{internal},CLIENTS://127.0.0.1:{sasl}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,CLIENTS:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.internal.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="broker" password="broker-secret";
super.users=User:broker;User:admin
"""
    else:
        listeners = f"""listeners=PLAINTEXT://127.0.0.1:{internal},CLIENTS://127.0.0.1:{sasl}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT
super.users=User:ANONYMOUS;User:admin
"""
    config.write_text(f"""broker.session.timeout.ms=3000
metadata.store.prefix=/interop
{listeners}sasl.enabled.mechanisms=SCRAM-SHA-256
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
""")
    (tmp_path / f"node{node_id}").mkdir(exist_ok=True)
    broker = RunningBroker(str(tmp_path / f"node{node_id}" / "data"), port=internal, listen=False,
                           extra_args=["--node-id", str(node_id), "--http-listen", "off", "--metadata-store", etcd.url,
                                       "--config", str(config), *extra_args])
    broker.sasl_port = sasl
    return broker


def listed(bootstrap):
    """kcat -L's brokers: {node id: "host:port"}, and the controller's node id."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-m", "5"], capture_output=True, text=True, timeout=30).stdout
    brokers = {int(node): address for node, address in re.findall(r"broker (\d+) at (\S+)", out)}
    controller = re.search(r"broker (\d+) at \S+ \(controller\)", out)
    return brokers, int(controller.group(1)) if controller else None


def partitions(bootstrap, topic):
    """kcat -L's partitions of `topic`: {partition: (leader, [replicas], [in-sync replicas])}."""
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic, "-m", "5"], capture_output=True, text=True,
                         timeout=30).stdout
    found = re.findall(r"partition (\d+), leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)", out)
    ids = lambda text: [int(node) for node in text.split(",") if node]
    return {int(index): (int(leader), ids(replicas), ids(isr)) for index, leader, replicas, isr in found}
