"""Side-by-side load benchmark of swiftlet and Tansu (a measurement, never a test).

Builds loadgen.c against Debian's rdkafka.h and the librdkafka bundled in the confluent-kafka
wheel, starts each broker on loopback (both in memory, so the storage is comparable), and
measures: exec to first Metadata, idle RSS, produce 1M x 100 B acks=1, 200k x 1 KiB acks=all,
200k x 1 KiB lz4, consume the 1M topic, end-to-end latency at 1,000 msg/s, peak RSS, and the
broker's CPU seconds per GB (from /proc). Prints a Markdown table with the ratios.

Consuming is timed from the first message (librdkafka spends its first half second on an
offset-query timer, the same for every broker), as the median of three reads of the topic, and
once more with the consumer confined to one core: librdkafka's fetch thread and the polling
thread contend for locks when both run at once, so a broker that answers sooner can make the
client slower; on one core the client runs at its own speed.

    Interop/.venv/bin/pip install -r Interop/bench/load/requirements.txt
    Interop/.venv/bin/python Interop/bench/load/run.py [--quick] [--swiftlet PATH] [--baseline PATH]
"""

import argparse
import glob
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
from brokers import Broker, create_topics, free_port, swiftlet_command, tansu_command  # noqa: E402


def build_loadgen(output):
    import confluent_kafka
    libs = glob.glob(str(pathlib.Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs" / "librdkafka-*.so*"))
    if not libs:
        sys.exit("no bundled librdkafka in the confluent-kafka wheel")
    subprocess.run(["cc", "-O2", "-o", output, str(HERE / "loadgen.c"), libs[0], f"-Wl,-rpath,{os.path.dirname(libs[0])}",
                    "-lpthread"], check=True)


def loadgen(binary, *args, cpus=None):
    confine = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    output = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=900, preexec_fn=confine)
    if output.returncode != 0:
        sys.exit(f"loadgen {args}: {output.stderr}")
    return output.stdout.split()


def measure(broker, binary, scale):
    results = {}
    results["start-up to first Metadata (ms)"] = broker.start() * 1000
    time.sleep(1)
    results["idle RSS (MB)"] = broker.memory("VmRSS")
    bootstrap = f"127.0.0.1:{broker.port}"
    create_topics(bootstrap, {"small": 1, "large": 1, "lz4": 1, "latency": 1})
    steps = [("produce 1M x 100 B acks=1", "small", int(1_000_000 * scale), 100, "1", "none"),
             ("produce 200k x 1 KiB acks=all", "large", int(200_000 * scale), 1024, "all", "none"),
             ("produce 200k x 1 KiB lz4", "lz4", int(200_000 * scale), 1024, "1", "lz4")]
    for label, topic, count, size, acks, codec in steps:
        cpu = broker.cpu_seconds()
        messages, seconds, errors = loadgen(binary, "produce", bootstrap, topic, count, size, acks, codec)
        gigabytes = int(messages) * size / 1e9
        results[f"{label} (msg/s)"] = int(messages) / float(seconds)
        results[f"{label}: broker CPU s/GB"] = (broker.cpu_seconds() - cpu) / gigabytes
        if int(errors):
            results[f"{label}: delivery errors"] = int(errors)
    count = int(1_000_000 * scale)

    def consume(cpus=None):
        messages, seconds, first = loadgen(binary, "consume", bootstrap, "small", count, cpus=cpus)
        if int(messages) != count:
            sys.exit(f"{broker.name}: consumed {messages} of {count}")
        return (count - 1) / (float(seconds) - float(first)), float(first)

    cpu = broker.cpu_seconds()
    reads = [consume() for _ in range(3)]
    results["consume the 1M topic, from the first message (msg/s, median of 3)"] = statistics.median(rate for rate, _ in reads)
    results["consume: broker CPU s/GB"] = (broker.cpu_seconds() - cpu) / (3 * count * 100 / 1e9)
    results["consume: assignment to first message (ms, median)"] = statistics.median(first for _, first in reads) * 1000
    results["consume with the client on one core (msg/s, median of 3)"] = statistics.median(consume({0})[0] for _ in range(3))
    p50, p99, p999, samples = loadgen(binary, "latency", bootstrap, "latency", 1000, max(2, int(10 * scale)))
    results["end-to-end p50 at 1,000 msg/s (ms)"] = float(p50)
    results["end-to-end p99 (ms)"] = float(p99)
    results["end-to-end p999 (ms)"] = float(p999)
    results["peak RSS (MB)"] = broker.memory("VmHWM")
    broker.stop()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--swiftlet", default=str(ROOT / ".build" / "release" / "swiftlet"))
    parser.add_argument("--baseline", help="another swiftlet binary (an earlier commit's) measured in the same run, "
                        "in place of Tansu: the table then compares the two swiftlets")
    parser.add_argument("--metrics-off", action="store_true",
                        help="in place of Tansu, the same swiftlet with metrics.enabled=false: what the hot-path counters cost")
    arguments = parser.parse_args()
    scale = 0.1 if arguments.quick else 1.0
    with tempfile.TemporaryDirectory() as directory:
        binary = os.path.join(directory, "loadgen")
        build_loadgen(binary)
        port = free_port()
        swiftlet = Broker("swiftlet", swiftlet_command(arguments.swiftlet, port), port)
        other_port = free_port()
        if arguments.baseline:
            other = Broker("baseline", swiftlet_command(arguments.baseline, other_port), other_port)
        elif arguments.metrics_off:
            properties = os.path.join(directory, "metrics-off.properties")
            with open(properties, "w") as file:
                file.write("metrics.enabled=false\ntelemetry.enabled=false\n")
            other = Broker("metrics off", swiftlet_command(arguments.swiftlet, other_port, "--config", properties), other_port)
        else:
            other = Broker("tansu", tansu_command(other_port), other_port)
        ours = measure(swiftlet, binary, scale)
        theirs = measure(other, binary, scale)
    print(f"| measure ({os.cpu_count()} cores, {'quick' if arguments.quick else 'full'} run) | swiftlet | {other.name} | swiftlet / {other.name} |")
    print("|---|---|---|---|")
    for key in ours:
        a, b = ours[key], theirs.get(key, float("nan"))
        ratio = a / b if b else float("nan")
        print(f"| {key} | {a:,.2f} | {b:,.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
