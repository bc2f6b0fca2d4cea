"""Run a command in a child process; its wall time and the peak memory of its whole process tree.

Every POLL_SECONDS the VmRSS of the child and all its descendants is read
from /proc and summed; the largest sum is what the machine had to hold
(pages shared between processes count once per process). A spike shorter
than POLL_SECONDS can be missed.
"""

import os
import subprocess
import threading
import time

from benchmarks import common

POLL_SECONDS = 0.1


def tree_rss_bytes(root_pid):
    """Sum of VmRSS over root_pid and its descendants (processes gone meanwhile count 0)."""
    children = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: the fields after the last ')' are safe.
        children.setdefault(int(stat[stat.rfind(b")") + 2:].split()[1]), []).append(int(name))
    stack, total = [root_pid], 0
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                total += sum(int(line.split()[1]) * 1024 for line in handle if line.startswith(b"VmRSS:"))
        except OSError:
            pass
    return total


def run_measured(command, log_path):
    """(wall seconds, peak tree RSS bytes) of `command` run from the repository root, output to `log_path`.

    ValueError, with the end of the log, if it fails.
    """
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [common.REPO_ROOT] + [path for path in [os.environ.get("PYTHONPATH")] if path]))
    peak, done = [0], threading.Event()
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=common.REPO_ROOT,
                                   env=environment)

        def sample():
            while not done.wait(POLL_SECONDS):
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
        raise ValueError(f"{' '.join(map(str, command))} exited with status {status} (log {log_path}):\n{tail}")
    return wall, peak[0]
