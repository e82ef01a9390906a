"""The chaos run (Interop/chaos/chaos.py) with a fixed seed, bounded in time: brokers killed,
paused and restarted, and etcd members killed and restarted, under an idempotent and a
transactional producer and a consumer group, then checked with Jepsen's Kafka invariants
(nothing acknowledged lost, nothing duplicated or reordered, nothing read that the log does not
keep, no aborted record and every committed one under read_committed)."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "chaos"))

from chaos import run  # noqa: E402


def test_a_seeded_chaos_run_keeps_every_invariant(tmp_path):
    summary = run(tmp_path, seed=7, seconds=40)
    print(json.dumps(summary, indent=2))
    assert summary["faults"], summary
    assert summary["writes"]["acknowledged"] > 1000, summary
    assert summary["transactions"]["committed"] > 10, summary
    assert summary["group read"] > 1000, summary
    assert summary["violations"] == [], json.dumps(summary, indent=2)
