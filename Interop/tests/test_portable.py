"""The portable binary: it needs only libc, libm, libstdc++, libgcc and OpenSSL; it runs from a
scratch directory with an empty environment; `swiftlet health` answers for a container's
HEALTHCHECK; and the Containerfile's own command lines start a broker that its health check
finds healthy (run in a network namespace of their own, as a container would be)."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

from conftest import ROOT, free_port, swiftlet_binary
from support import wait_until

ALLOWED = {"linux-vdso", "libc", "libm", "libstdc++", "libgcc_s", "libssl", "libcrypto", "ld-linux-x86-64"}


def test_the_release_binary_needs_only_system_libraries():
    if "release" not in swiftlet_binary() and not os.environ.get("INTEROP_SWIFTLET_BINARY"):
        raise AssertionError("this test checks the release binary: build it with `swift build -c release --product swiftlet`")
    listed = subprocess.run(["ldd", swiftlet_binary()], capture_output=True, text=True, check=True).stdout
    needed = {re.split(r"[.\s]", line.strip().split(" ")[0])[0] for line in listed.splitlines() if line.strip()}
    needed = {name.rsplit("/", 1)[-1] for name in needed}
    assert needed <= ALLOWED, f"not portable: {sorted(needed - ALLOWED)}\n{listed}"


def test_it_runs_from_a_scratch_directory_with_an_empty_environment(tmp_path):
    binary = tmp_path / "swiftlet"
    shutil.copy(swiftlet_binary(), binary)
    process = subprocess.Popen([str(binary), "--listen", "127.0.0.1:0", "--ready-file", "ready"], cwd=tmp_path, env={},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (tmp_path / "ready").exists() or process.poll() is not None, 10, lambda: "no ready file")
        assert process.poll() is None, process.stderr.read()
        port = int((tmp_path / "ready").read_text().split("\n")[0].rsplit(":", 1)[1])
        healthy = subprocess.run([str(binary), "health", "--brokers", f"127.0.0.1:{port}"], env={}, capture_output=True,
                                 text=True, timeout=10)
        assert healthy.returncode == 0 and healthy.stdout.startswith(f"ok: 127.0.0.1:{port} serves"), healthy
        assert (tmp_path / "swiftlet-data" / "meta.properties").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    unhealthy = subprocess.run([str(binary), "health", "--brokers", f"127.0.0.1:{free_port()}", "--timeout", "1000"],
                               env={}, capture_output=True, text=True, timeout=10)
    assert unhealthy.returncode == 1 and "unhealthy" in unhealthy.stderr, unhealthy


def containerfile_instructions():
    """The runtime stage's instructions, continuation lines joined: (instruction, argument)."""
    text = (ROOT / "Containerfile").read_text().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    runtime = stages[-1]
    return [tuple(line.split(None, 1)) for line in runtime.splitlines() if line.strip() and not line.startswith("#")]


def test_the_containerfiles_command_lines_serve_and_pass_their_health_check(tmp_path):
    instructions = dict(containerfile_instructions()[1:])  # after the stage's base image
    assert instructions["EXPOSE"].strip() == "9092"
    entrypoint = json.loads(instructions["ENTRYPOINT"])
    command = json.loads(instructions["CMD"])
    health = re.search(r"CMD (\[.*\])", instructions["HEALTHCHECK"])
    assert health, instructions["HEALTHCHECK"]
    healthcheck = json.loads(health.group(1))
    binary_directory = tmp_path / "bin"
    binary_directory.mkdir()
    shutil.copy(swiftlet_binary(), binary_directory / "swiftlet")
    workdir = tmp_path / "var-lib-swiftlet"  # the image's WORKDIR
    workdir.mkdir()
    # A network namespace of its own, as a container has: port 9092 is free whatever runs here.
    script = f"""set -e
ip link set lo up
export PATH={binary_directory}:/usr/bin:/bin
export KAFKA_NUM_PARTITIONS=4
{' '.join(entrypoint + command)} > {tmp_path}/broker.log 2>&1 &
broker=$!
for attempt in $(seq 100); do {' '.join(healthcheck)} > {tmp_path}/health.log 2>&1 && break; sleep 0.1; done
{' '.join(healthcheck)}
kcat -b 127.0.0.1:9092 -L > {tmp_path}/metadata.txt
echo x | kcat -b 127.0.0.1:9092 -P -t container-topic
kcat -b 127.0.0.1:9092 -L -t container-topic >> {tmp_path}/metadata.txt
kill -TERM $broker
wait $broker
"""
    run = subprocess.run(["unshare", "--net", "bash", "-c", script], cwd=workdir, capture_output=True, text=True, timeout=60)
    log = (tmp_path / "broker.log").read_text() if (tmp_path / "broker.log").exists() else ""
    assert run.returncode == 0, (run.stdout, run.stderr, log)
    metadata = (tmp_path / "metadata.txt").read_text()
    assert "broker 1 at localhost:9092" in metadata  # the advertised listener
    assert "with 4 partitions" in metadata  # KAFKA_NUM_PARTITIONS honoured
    assert (workdir / "swiftlet-data" / "meta.properties").exists()
