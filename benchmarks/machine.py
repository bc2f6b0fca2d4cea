"""Describe the machine a benchmark ran on: cores, RAM, CPU model, versions, date, load.

Nothing here imports TensorFlow: versions come from package metadata. The
`parallel_speedup` probe runs one, then two CPU-bound Python processes for a
moment and reports how much more work two got done than one (2.0 = two full
cores; about 1.2 = two hyper-threads of one core, or a busy machine).
"""

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time

PACKAGES = ("tensorflow", "tf_keras", "tensorflow-transform", "apache-beam", "av", "numpy")
_SPIN = ("import time\nend = time.perf_counter() + {seconds}\ncount = 0\n"
         "while time.perf_counter() < end:\n    count += 1\nprint(count)")


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes():
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _threads_per_core():
    try:
        with open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    count = 0
    for part in text.split(","):
        first, _, last = part.partition("-")
        count += int(last) - int(first) + 1 if last else 1
    return count


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average():
    """1-minute load average (processes wanting a CPU), or None."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def parallel_speedup(seconds=1.0):
    """Work done by two concurrent CPU-bound processes / work done by one alone."""
    command = [sys.executable, "-c", _SPIN.format(seconds=seconds)]
    single = int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    pair = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    together = sum(int(process.communicate()[0]) for process in pair)
    return round(together / max(single, 1), 2)


def describe(probe=True):
    """Dict describing this machine (and, with `probe`, its effective parallelism)."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = _memory_bytes()
    description = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "threads_per_core": _threads_per_core(),
        "ram_gib": round(memory / 2**30, 1) if memory else None,
        "gpu": "none used (CPU only)",
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in PACKAGES},
        "load_average_at_start": load_average(),
    }
    if probe:
        started = time.perf_counter()
        description["two_process_speedup"] = parallel_speedup()
        description["probe_seconds"] = round(time.perf_counter() - started, 1)
    return description


def one_line(description):
    """'2 cores (AMD EPYC), 23.5 GiB RAM, TensorFlow 2.21.0, 2026-01-01 12:00 UTC'."""
    return (f"{description['cores']} cores ({description['cpu_model']}), "
            f"{description['ram_gib']} GiB RAM, TensorFlow {description['versions']['tensorflow']}, "
            f"{description['date']}")
