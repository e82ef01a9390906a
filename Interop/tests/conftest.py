"""Starts the real swiftlet binary for each test: a port the system chooses on 127.0.0.1, a
fresh data directory, stopped with SIGTERM afterwards (a clean shutdown is part of the test)."""

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
    """The binary on 127.0.0.1. Without a port it binds port 0 and reads the port the system
    chose from its --ready-file (written once recovery and coordinator replay are done); a
    restart on the same data directory passes the port it had."""

    started = 0

    def __init__(self, data_dir, extra_args=(), port=None, listen=True):
        self.data_dir = data_dir
        self.port = port
        # False: the listeners come from extra_args (a --config file); `port` is the first's.
        self.listen = listen
        self.extra_args = list(extra_args)
        self.process = None
        RunningBroker.started += 1
        name = f"swiftlet-{os.getpid()}-{RunningBroker.started}"
        self.log_path = os.path.join(os.path.dirname(data_dir), name + ".log")
        self.ready_path = os.path.join(os.path.dirname(data_dir), name + ".ready")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(self.log_path, "ab")
        listen = ["--listen", f"127.0.0.1:{self.port or 0}"] if self.listen else []
        self.process = subprocess.Popen(
            [swiftlet_binary(), *listen, "--data-dir", self.data_dir, "--ready-file", self.ready_path,
             *self.extra_args],
            stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"swiftlet exited with {self.process.returncode}: {self.log()}")
            try:
                with open(self.ready_path) as ready:
                    line = ready.read().split("\n")[0]  # ready bootstrap=127.0.0.1:PORT
                self.port = int(line.rsplit(":", 1)[1])
                os.unlink(self.ready_path)
                return self
            except (OSError, IndexError, ValueError):
                time.sleep(0.01)
        raise RuntimeError("swiftlet did not say it was ready: " + self.log())

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
