"""What the hot-path counters cost: broker CPU per GB of produce with metrics.enabled on and
off (and telemetry with it: the baseline serves no client pushes), one fresh broker (release, in memory) per run, in alternating order (on, off, off, on, ...)
so that drift on the machine falls on both sides. Prints each run and the ratio of medians.

    Interop/.venv/bin/python Interop/bench/load/metrics_cost.py [--rounds 2]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import run  # noqa: E402
from brokers import Broker, create_topics, free_port, swiftlet_command  # noqa: E402

STEPS = [("5M x 100 B acks=1", "small", 5_000_000, 100, "1"), ("1M x 1 KiB acks=all", "large", 1_000_000, 1024, "all")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", default=str(run.ROOT / ".build" / "release" / "swiftlet"))
    parser.add_argument("--rounds", type=int, default=2, help="each round is on, off, off, on")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        loadgen = os.path.join(directory, "loadgen")
        run.build_loadgen(loadgen)
        off = os.path.join(directory, "off.properties")
        with open(off, "w") as file:
            file.write("metrics.enabled=false\ntelemetry.enabled=false\n")
        results = {step[0]: {"on": [], "off": []} for step in STEPS}
        for label in ["on", "off", "off", "on"] * arguments.rounds:
            port = free_port()
            broker = Broker(label, swiftlet_command(arguments.swiftlet, port, *(["--config", off] if label == "off" else [])), port)
            broker.start()
            bootstrap = f"127.0.0.1:{port}"
            create_topics(bootstrap, {"small": 1, "large": 1})
            for name, topic, count, size, acks in STEPS:
                cpu = broker.cpu_seconds()
                messages, _, _ = run.loadgen(loadgen, "produce", bootstrap, topic, count, size, acks, "none")
                results[name][label].append((broker.cpu_seconds() - cpu) / (int(messages) * size / 1e9))
            broker.stop()
    for name, runs in results.items():
        on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
        print(f"{name}: broker CPU s/GB on {[round(x, 2) for x in runs['on']]}, off {[round(x, 2) for x in runs['off']]}, "
              f"median on / off {on / off:.3f}")


if __name__ == "__main__":
    main()
