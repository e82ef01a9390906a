"""kcat (Debian's, librdkafka 2.0.2) against the real binary: metadata, produce and consume
with keys, headers and every compression codec, the -o offset forms, and data that survives
a restart and a kill -9."""

import subprocess

import pytest


def kcat(broker, *args, data=None, timeout=30):
    result = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=data, capture_output=True,
                            timeout=timeout, text=True)
    assert result.returncode == 0, f"kcat {args} failed: {result.stderr}\nbroker log:\n{broker.log()}"
    return result.stdout


def consume(broker, topic, *args):
    return kcat(broker, "-C", "-t", topic, "-e", "-q", *args).splitlines()


def test_metadata_lists_the_broker(broker):
    output = kcat(broker, "-L")
    assert f"broker 1 at {broker.bootstrap}" in output


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_round_trip_with_keys_headers_and_codec(broker, codec):
    topic = f"kcat-{codec}"
    lines = "".join(f"key{i}:value {i} {codec}\n" for i in range(50))
    kcat(broker, "-P", "-t", topic, "-K:", "-z", codec, "-H", "trace=abc", "-H", "n=1", data=lines)
    got = consume(broker, topic, "-o", "beginning", "-f", "%k|%s|%h|%o\n")
    assert got == [f"key{i}|value {i} {codec}|trace=abc,n=1|{i}" for i in range(50)]


def test_offset_forms(broker):
    kcat(broker, "-P", "-t", "offsets", data="".join(f"m{i}\n" for i in range(10)))
    assert consume(broker, "offsets", "-o", "beginning") == [f"m{i}" for i in range(10)]
    assert consume(broker, "offsets", "-o", "7") == ["m7", "m8", "m9"]
    assert consume(broker, "offsets", "-o", "-2") == ["m8", "m9"]
    assert consume(broker, "offsets", "-o", "end") == []
    # Timestamps: every message of this run is at or after the start of the test.
    timestamps = consume(broker, "offsets", "-o", "beginning", "-f", "%T\n")
    assert consume(broker, "offsets", "-o", f"s@{timestamps[4]}")[0] in {f"m{i}" for i in range(5)}


def test_data_survives_restart_and_kill(broker_factory):
    first = broker_factory().start()
    kcat(first, "-P", "-t", "durable", "-K:", data="a:1\nb:2\n")
    assert first.stop() == 0
    second = broker_factory().start()
    assert consume(second, "durable", "-o", "beginning", "-f", "%k=%s\n") == ["a=1", "b=2"]
    kcat(second, "-P", "-t", "durable", "-K:", data="c:3\n")
    second.kill()  # kill -9: no clean shutdown, recovery on the next start
    third = broker_factory().start()
    assert consume(third, "durable", "-o", "beginning", "-f", "%k=%s@%o\n") == ["a=1@0", "b=2@1", "c=3@2"]
    assert third.stop() == 0


def test_balanced_consumer_commits_and_resumes(broker):
    """kcat -G joins a group (librdkafka 2.0.2's classic protocol), reads from the start,
    commits on exit; a second run of the same group (no -o: kcat's -o overrides commits)
    starts after what the first read."""
    kcat(broker, "-P", "-t", "grouped", data="".join(f"g{i}\n" for i in range(20)))
    first = kcat(broker, "-G", "kcat-group", "grouped", "-o", "beginning", "-e", "-q").splitlines()
    assert first == [f"g{i}" for i in range(20)]
    kcat(broker, "-P", "-t", "grouped", data="".join(f"h{i}\n" for i in range(5)))
    second = kcat(broker, "-G", "kcat-group", "grouped", "-e", "-q").splitlines()
    assert second == [f"h{i}" for i in range(5)]


def test_transactional_produce(broker):
    """kcat with a transactional.id produces each run in one transaction and commits it; the
    COMMIT marker takes an offset, and read_committed consumers see both runs."""
    for run in ("a", "b"):
        kcat(broker, "-P", "-t", "kcat-tx", "-X", "transactional.id=kcat-tx", data=f"{run}1\n{run}2\n")
    got = consume(broker, "kcat-tx", "-o", "beginning", "-X", "isolation.level=read_committed", "-f", "%o:%s\n")
    assert got == ["0:a1", "1:a2", "3:b1", "4:b2"]
