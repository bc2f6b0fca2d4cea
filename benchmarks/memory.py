"""Run a command in a child process; its wall time and the peak memory of its whole process tree.

Memory is read from /proc while the command runs (no psutil): every
`poll_seconds`, the VmRSS of the child and all its descendants is summed, and
the largest sum is kept. That is what the machine had to hold (pages shared
between processes, e.g. TensorFlow's libraries in Beam workers, count once
per process). A spike shorter than `poll_seconds` can be missed.
"""

import dataclasses
import os
import subprocess
import threading
import time

from benchmarks import common

POLL_SECONDS = 0.1


@dataclasses.dataclass
class Measurement:
    command: list
    wall_seconds: float
    peak_tree_rss_bytes: int


def _children_of():
    """{parent pid: [child pids]} of every process visible in /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: the fields after the last ')' are safe.
        parent = int(stat[stat.rfind(b")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(name))
    return children


def tree_rss_bytes(root_pid):
    """Sum of VmRSS over root_pid and its descendants (0 for processes gone meanwhile)."""
    children, stack, total = _children_of(), [root_pid], 0
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def run_measured(command, log_path, poll_seconds=POLL_SECONDS):
    """Run `command` from the repository root, output to `log_path`; ValueError if it fails."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [common.REPO_ROOT] + [path for path in [os.environ.get("PYTHONPATH")] if path]))
    peak = [0]
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=common.REPO_ROOT,
                                   env=environment)
        done = threading.Event()

        def sample():
            while not done.wait(poll_seconds):
                peak[0] = max(peak[0], tree_rss_bytes(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        status = process.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    if status != 0:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            tail = "".join(log.readlines()[-15:])
        raise ValueError(f"{' '.join(command)} exited with status {status} (log {log_path}):\n{tail}")
    return Measurement([str(part) for part in command], wall, peak[0])
