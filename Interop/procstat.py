"""A process's CPU time and memory from /proc, for the Interop suites and the benchmarks."""

import os


def cpu_seconds(pid):
    """User and system CPU time so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid, key):
    """A /proc/<pid>/status figure (VmRSS, VmHWM) in MB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")
