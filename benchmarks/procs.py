"""Run one command in a child process and measure its wall time and peak memory.

Memory is read from /proc while the command runs (no psutil):

  peak_tree_rss_bytes   the largest sum of VmRSS over the child and all its
                        descendants seen at one sampling instant (every
                        `poll_seconds`); this is what the machine had to hold.
                        Shared pages (e.g. TensorFlow's libraries in two Beam
                        worker processes) are counted once per process.
  peak_tree_pss_bytes   the same with PSS (proportional set size): shared
                        pages divided among the processes sharing them.
  peak_process_bytes    the largest single-process high-water mark (VmHWM,
                        exact, kept by the kernel) over the tree, and the
                        child's own ru_maxrss from wait4().

CPU time (user + system, from wait4()) is recorded beside wall time: on a
machine shared with other jobs it is the steadier of the two.

Sampling can miss a spike shorter than `poll_seconds`; VmHWM cannot. Each
measured command runs in its own child, so RUSAGE_CHILDREN maxima of earlier
commands never leak into later figures.
"""

import dataclasses
import os
import subprocess
import threading
import time

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
DEFAULT_POLL_SECONDS = 0.1


class CommandFailed(RuntimeError):
    """A measured command exited with a non-zero status."""


@dataclasses.dataclass
class Measurement:
    command: list
    returncode: int
    wall_seconds: float
    started_at: float            # time.time() when the child was started
    peak_tree_rss_bytes: int
    peak_tree_pss_bytes: int
    peak_process_bytes: int
    child_maxrss_bytes: int      # wait4() ru_maxrss of the direct child
    cpu_seconds: float           # user + system CPU of the child and the descendants it waited for
    max_processes: int           # most processes alive in the tree at one time
    stdout: str
    stderr: str

    def to_dict(self, keep_output=False):
        values = dataclasses.asdict(self)
        if not keep_output:
            values.pop("stdout")
            values.pop("stderr")
        return values


def _parent_map():
    """{pid: parent pid} of every process visible in /proc."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces or parentheses: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(name)] = int(fields[1])
    return parents


def descendants(root_pid):
    """root_pid and every process below it."""
    children = {}
    for pid, parent in _parent_map().items():
        children.setdefault(parent, []).append(pid)
    tree, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, ()))
    return tree


def _status_kilobytes(pid, fields):
    """{field: bytes} for 'VmRSS', 'VmHWM', ... from /proc/PID/status (missing -> 0)."""
    values = dict.fromkeys(fields, 0)
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                key, _, rest = line.partition(b":")
                key = key.decode()
                if key in values:
                    values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def _pss_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Samples a process tree's memory until stopped."""

    def __init__(self, root_pid, poll_seconds):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.high_water = {}
        self.max_processes = 0

    def sample(self):
        tree = descendants(self.root_pid)
        rss_total = pss_total = 0
        for pid in tree:
            status = _status_kilobytes(pid, ("VmRSS", "VmHWM"))
            rss_total += status["VmRSS"]
            pss_total += _pss_bytes(pid)
            self.high_water[pid] = max(self.high_water.get(pid, 0), status["VmHWM"])
        self.peak_rss = max(self.peak_rss, rss_total)
        self.peak_pss = max(self.peak_pss, pss_total)
        self.max_processes = max(self.max_processes, len(tree))

    def run(self):
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.poll_seconds)


def run_measured(command, env=None, cwd=None, poll_seconds=DEFAULT_POLL_SECONDS, check=True,
                 log_path=None, timeout_seconds=None):
    """Run `command` (a list) to completion; return a Measurement.

    stdout and stderr go to temporary files (no pipe can fill up) and are
    returned as text; with `log_path` they are also kept there. A non-zero
    exit raises CommandFailed (with the tail of stderr) when `check`.
    """
    log_base = log_path or f"/tmp/benchmarks-{os.getpid()}-{time.monotonic_ns()}"
    out_path, err_path = f"{log_base}.stdout.txt", f"{log_base}.stderr.txt"
    with open(out_path, "wb") as out_file, open(err_path, "wb") as err_file:
        started_at = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out_file, stderr=err_file, env=env, cwd=cwd)
        sampler = _TreeSampler(process.pid, poll_seconds)
        sampler.start()
        deadline = None if timeout_seconds is None else started + timeout_seconds
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
            time.sleep(0.02)
        wall = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path, encoding="utf-8", errors="replace") as handle:
        stdout = handle.read()
    with open(err_path, encoding="utf-8", errors="replace") as handle:
        stderr = handle.read()
    if not log_path:
        os.remove(out_path)
        os.remove(err_path)
    measurement = Measurement(
        command=[str(part) for part in command], returncode=process.returncode,
        wall_seconds=wall, started_at=started_at, peak_tree_rss_bytes=sampler.peak_rss,
        peak_tree_pss_bytes=sampler.peak_pss,
        peak_process_bytes=max([usage.ru_maxrss * 1024, *sampler.high_water.values()]),
        child_maxrss_bytes=usage.ru_maxrss * 1024, cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_processes=sampler.max_processes,
        stdout=stdout, stderr=stderr)
    if check and process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        raise CommandFailed(f"command failed with status {process.returncode}: "
                            f"{' '.join(measurement.command)}\n{tail}")
    return measurement
