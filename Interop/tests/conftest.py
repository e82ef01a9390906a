"""Starts the real swiftlet binary for each test module: a free port on 127.0.0.1, a fresh
data directory, stopped with SIGTERM afterwards (a clean shutdown is part of the test)."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Interop"))
import procstat  # noqa: E402


def swiftlet_binary():
    explicit = os.environ.get("INTEROP_SWIFTLET_BINARY")
    if explicit:
        return explicit
    for flavour in ("release", "debug"):
        candidate = ROOT / ".build" / flavour / "swiftlet"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no swiftlet binary: run `swift build --product swiftlet` first")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningBroker:
    def __init__(self, data_dir, extra_args=(), port=None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.process = None
        self.log_path = os.path.join(os.path.dirname(data_dir), f"swiftlet-{self.port}.log")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [swiftlet_binary(), "--listen", self.bootstrap, "--data-dir", self.data_dir, *self.extra_args],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"swiftlet exited with {self.process.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("swiftlet did not start listening: " + self.log())

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        return self.process.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cpu_seconds(self):
        return procstat.cpu_seconds(self.process.pid)

    def memory(self, key):
        return procstat.memory(self.process.pid, key)

    def log(self):
        try:
            return pathlib.Path(self.log_path).read_text()
        except OSError:
            return ""


@pytest.fixture
def broker():
    with tempfile.TemporaryDirectory() as directory:
        running = RunningBroker(os.path.join(directory, "data")).start()
        yield running
        code = running.stop()
        assert code == 0, f"swiftlet did not stop cleanly ({code}):\n{running.log()}"


@pytest.fixture
def broker_factory():
    """For tests that restart the broker on the same data directory."""
    with tempfile.TemporaryDirectory() as directory:
        made = []

        def make(**kwargs):
            running = RunningBroker(os.path.join(directory, "data"), **kwargs)
            made.append(running)
            return running

        yield make
        for running in made:
            running.stop()
