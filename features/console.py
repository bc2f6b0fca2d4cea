"""Quiet start-up for the `python -m` entry points: TensorFlow's C++ start-up lines stay off the terminal.

TensorFlow writes lines such as

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796596568.428345    3321 cudart_stub.cc:31] Could not find cuda drivers on ...
    E0000 00:00:1796596575.059572    3321 cuda_platform.cc:52] failed call to cuInit: ...

straight to file descriptor 2, before absl logging reads TF_CPP_MIN_LOG_LEVEL,
so that variable alone does not hide them; the cuInit line comes at the first
device use, not at import. An entry module therefore calls, as its very first
statement, before anything imports TensorFlow:

    if __name__ == "__main__":
        from features import console
        console.quiet_tensorflow_startup(sys.argv[1:])

Unless the command line has --verbose or the user set TF_CPP_MIN_LOG_LEVEL
(then nothing is filtered), this sets TF_CPP_MIN_LOG_LEVEL=2 and puts a pipe
over fd 2, read by a small forked filter process that forwards every line
except the start-up noise of `is_startup_noise` to the real stderr. A separate
process, not a thread, so that nothing is lost when this one dies abruptly
(a C++ CHECK failure, a segfault, os._exit, SIGKILL): the filter forwards all
it got, then exits when the last writer closes the pipe. Python's sys.stderr
writes into the same pipe, so every write to stderr keeps its order; when
stdout goes to the same terminal or file, each Python write to stderr waits
until it is through, so it keeps its order with print() too. At exit (also
after sys.exit(2) or an uncaught exception's traceback) the entry process
waits until the filter has forwarded everything, then restores fd 2. Child
processes (Beam workers) inherit the filtered fd 2 and the log level; an
entry point started by another (model.launch's workers) filters its own
stderr, and with --verbose undoes the level it inherited. Never call this
from library code or tests in-process: it redirects the whole process's fd 2.
Importing this module has no side effects.
"""

import atexit
import io
import os
import re
import select
import signal
import sys
import threading
import time

VERBOSE_FLAG = "--verbose"
TF_LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
QUIET_TF_LOG_LEVEL = "2"  # Hide C++ INFO and WARNING; ERROR and FATAL still show.
# Set beside TF_CPP_MIN_LOG_LEVEL when this module set it: a child entry point
# (model.launch's workers) then knows the value is ours, not the user's.
OWN_LOG_LEVEL_VARIABLE = "VIDEOQA_QUIET_TF_LOG_LEVEL"
# "device:inode" of the filtered pipe: a child whose fd 2 is already it does not filter again.
FILTER_PIPE_VARIABLE = "VIDEOQA_QUIET_STDERR_PIPE"

# Lines written before absl logging starts, whatever the log level.
_PREAMBLE_PREFIXES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"To enable the following instructions:",  # Second line of cpu_feature_guard's notice.
)
# absl's format: "I0000 00:00:1796596568.428345    3321 cudart_stub.cc:31] message"
# (before absl starts the date is 0000 and the time counts seconds since 1970).
_LOG_LINE = re.compile(rb"(?P<severity>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ (?P<source>[^\s:\]]+):\d+\] ?"
                       rb"(?P<message>.*)", re.DOTALL)
_CPP_SOURCE = re.compile(rb"\.(?:cc|cpp|cxx|c|h|hpp|cu)$")
# ERROR lines that only say there is no GPU (or that a CUDA plugin registered twice).
_HARMLESS_ERRORS = re.compile(
    rb"failed call to cuInit|Unable to register cu(?:DNN|FFT|BLAS) factory"
    rb"|computation placer already registered|kernel driver does not appear to be running")

_CHUNK_BYTES = 65536
# A line without its newline yet is forwarded after this long without more data
# (progress bars rewrite one line with "\r"; C++ loggers write whole lines at once).
_PARTIAL_LINE_WAIT_SECONDS = 0.02
_SYNC_SECONDS = 2.0
_EXIT_SYNC_SECONDS = 10.0
# Written by this process into the pipe; the filter drops it and answers on the
# acknowledgement pipe once everything written before it has been forwarded.
_SYNC_MARKER = b"\x00videoqa-console-sync\x00"

_filter = None  # The running filter, in the process that started it.


def verbose_requested(argv):
    """True if `argv` (before any '--') has --verbose or --verbose=..."""
    for argument in argv:
        if argument == "--":
            return False
        if argument == VERBOSE_FLAG or argument.startswith(VERBOSE_FLAG + "="):
            return True
    return False


def is_startup_noise(line):
    """True for a C++ library's start-up line (bytes or str, without its newline).

    Dropped: absl's pre-initialisation notice and the CPU-instructions notice;
    INFO and WARNING lines from C++ sources (what TF_CPP_MIN_LOG_LEVEL=2 hides
    once absl has started); ERROR lines that only say there is no GPU. Kept:
    every other line, all FATAL lines, and Python's own log lines.
    """
    if isinstance(line, str):
        line = line.encode("utf-8", errors="replace")
    line = line.rstrip(b"\r\n")
    if line.startswith(_PREAMBLE_PREFIXES):
        return True
    match = _LOG_LINE.match(line)
    if match is None or not _CPP_SOURCE.search(match["source"]):
        return False
    if match["severity"] in (b"I", b"W"):
        return True
    return match["severity"] == b"E" and _HARMLESS_ERRORS.search(match["message"]) is not None


def quiet_tensorflow_startup(argv=None):
    """Hide TensorFlow's start-up lines for the rest of this process; True if they are hidden.

    Call it first thing in an entry module, before TensorFlow is imported.
    Does nothing (and returns False) when `argv` (default sys.argv[1:]) has
    --verbose or when the user set TF_CPP_MIN_LOG_LEVEL. Calling it again is harmless.
    """
    argv = sys.argv[1:] if argv is None else argv
    environment = os.environ
    level_is_ours = (environment.get(OWN_LOG_LEVEL_VARIABLE) is not None
                     and environment.get(OWN_LOG_LEVEL_VARIABLE) == environment.get(TF_LOG_LEVEL_VARIABLE))
    if verbose_requested(argv):
        if level_is_ours:  # Inherited from a quiet parent: show everything here.
            environment.pop(TF_LOG_LEVEL_VARIABLE, None)
            environment.pop(OWN_LOG_LEVEL_VARIABLE, None)
        return False
    if environment.get(TF_LOG_LEVEL_VARIABLE) is not None and not level_is_ours:
        return False  # The user's choice: respected, nothing filtered.
    environment[TF_LOG_LEVEL_VARIABLE] = QUIET_TF_LOG_LEVEL
    environment[OWN_LOG_LEVEL_VARIABLE] = QUIET_TF_LOG_LEVEL
    return _start_filter()


def _pipe_identity(status):
    return f"{status.st_dev}:{status.st_ino}"


def _start_filter():
    global _filter
    if _filter is not None and _filter.owner_pid == os.getpid():
        return True
    if not hasattr(os, "fork"):
        return False  # Windows: the log level is set, the pre-absl lines still show.
    try:
        stderr_status = os.fstat(2)
    except OSError:
        return False  # No stderr at all.
    if os.environ.get(FILTER_PIPE_VARIABLE) == _pipe_identity(stderr_status):
        return True  # A parent entry point filters this very pipe already.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    read_fd, write_fd = os.pipe()
    acknowledge_read_fd, acknowledge_write_fd = os.pipe()
    original_stderr_fd = os.dup(2)
    child_pid = os.fork()
    if child_pid == 0:
        try:
            _run_filter(read_fd, acknowledge_write_fd, original_stderr_fd)
        finally:
            os._exit(1)
    os.close(read_fd)
    os.close(acknowledge_write_fd)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    os.environ[FILTER_PIPE_VARIABLE] = _pipe_identity(os.fstat(2))
    _filter = _RunningFilter(child_pid, original_stderr_fd, acknowledge_read_fd)
    atexit.register(_finish)
    if _same_file(1, stderr_status) and sys.stderr is not None:
        # One terminal (or log file, or model.launch's relay) shows both: each
        # Python write to stderr waits until it is through the filter, so that
        # it cannot appear after a later print() to stdout.
        old = sys.stderr
        sys.stderr = io.TextIOWrapper(_SynchronisedStderr(os.isatty(original_stderr_fd)), encoding=old.encoding,
                                      errors=old.errors, line_buffering=old.line_buffering, write_through=True)
    return True


def _same_file(fd, status):
    try:
        return os.path.samestat(os.fstat(fd), status)
    except OSError:
        return False


class _RunningFilter:
    """The entry process's side: the filter's pid, the real stderr, the acknowledgements."""

    def __init__(self, child_pid, original_stderr_fd, acknowledge_read_fd):
        self.owner_pid = os.getpid()
        self.child_pid = child_pid
        self.original_stderr_fd = original_stderr_fd
        self.acknowledge_read_fd = acknowledge_read_fd
        self.active = True
        self.lock = threading.RLock()
        self.markers_sent = 0
        self.markers_acknowledged = 0

    def sync(self, timeout_seconds):
        """Wait until the filter has forwarded everything written to fd 2 so far."""
        if not self.active or os.getpid() != self.owner_pid:
            return  # A forked child (its writes still go through the filter, in order).
        with self.lock:
            try:
                _write_all(2, _SYNC_MARKER)
            except OSError:
                return
            self.markers_sent += 1
            deadline = time.monotonic() + timeout_seconds
            while self.markers_acknowledged < self.markers_sent:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.acknowledge_read_fd], [], [], remaining)[0]:
                    return
                answer = os.read(self.acknowledge_read_fd, 64)
                if not answer:  # The filter is gone.
                    self.active = False
                    return
                self.markers_acknowledged += len(answer)


class _SynchronisedStderr(io.RawIOBase):
    """fd 2 for Python's sys.stderr when stdout goes to the same file: each write waits until forwarded."""

    def __init__(self, is_terminal):
        super().__init__()
        self.is_terminal = is_terminal

    def writable(self):
        return True

    def write(self, data):
        _write_all(2, bytes(data))
        if _filter is not None:
            _filter.sync(_SYNC_SECONDS)
        return len(data)

    def fileno(self):
        return 2

    def isatty(self):
        return self.is_terminal  # What is behind the filter.


def _finish():
    """At exit: let the filter forward everything, then give fd 2 back to the real stderr."""
    running = _filter
    if running is None or os.getpid() != running.owner_pid or not running.active:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    running.sync(_EXIT_SYNC_SECONDS)
    running.active = False
    os.dup2(running.original_stderr_fd, 2)  # Also closes our end of the pipe.
    try:
        os.waitpid(running.child_pid, os.WNOHANG)  # Reaped if it has ended; else it ends with the pipe.
    except ChildProcessError:
        pass


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _run_filter(read_fd, acknowledge_fd, output_fd):
    """The forked filter process: forward the pipe to `output_fd`, line by line, until end of file."""
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signal_number, signal.SIG_IGN)  # It ends when the writers are gone, not before.
    _close_all_but({read_fd, acknowledge_fd, output_fd})
    lines = _LineFilter(output_fd, acknowledge_fd)
    while True:
        if lines.has_pending() and not select.select([read_fd], [], [], _PARTIAL_LINE_WAIT_SECONDS)[0]:
            lines.release_pending()
            continue
        data = os.read(read_fd, _CHUNK_BYTES)
        if not data:
            break
        lines.feed(data)
    lines.release_pending()
    os._exit(0)


def _close_all_but(keep):
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = range(256)
    for fd in open_fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class _LineFilter:
    """Forwards whole lines that are not start-up noise; answers sync markers in stream order."""

    def __init__(self, output_fd, acknowledge_fd):
        self.output_fd = output_fd
        self.acknowledge_fd = acknowledge_fd
        self.partial = b""         # Start of the current line, not yet forwarded.
        self.marker_start = b""    # A read ended inside a sync marker: its first bytes.
        self.keep_current = None   # The current line's fate once part of it was released.
        self.output_broken = False

    def has_pending(self):
        return bool(self.partial or self.marker_start)

    def feed(self, data):
        data = self.marker_start + data
        self.marker_start = b""
        index = data.find(_SYNC_MARKER)
        while index >= 0:
            self._take(data[:index])
            self._release_partial()
            self._acknowledge()
            data = data[index + len(_SYNC_MARKER):]
            index = data.find(_SYNC_MARKER)
        cut = data.rfind(_SYNC_MARKER[:1], max(0, len(data) - len(_SYNC_MARKER) + 1))
        if cut >= 0 and _SYNC_MARKER.startswith(data[cut:]):
            data, self.marker_start = data[:cut], data[cut:]
        self._take(data)

    def release_pending(self):
        """Forward (or drop) what waits without a newline: nothing more came for a while."""
        data, self.marker_start = self.marker_start, b""
        self._take(data)
        self._release_partial()

    def _take(self, data):
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        kept = []
        for line in lines:
            keep = self.keep_current if self.keep_current is not None else not is_startup_noise(line)
            self.keep_current = None
            if keep:
                kept.append(line + b"\n")
        self._write(b"".join(kept))

    def _release_partial(self):
        if not self.partial:
            return
        if self.keep_current is None:
            self.keep_current = not is_startup_noise(self.partial)
        if self.keep_current:
            self._write(self.partial)
        self.partial = b""

    def _write(self, data):
        if data and not self.output_broken:
            try:
                _write_all(self.output_fd, data)
            except OSError:  # The terminal is gone: keep draining the pipe so writers never block.
                self.output_broken = True

    def _acknowledge(self):
        try:
            os.write(self.acknowledge_fd, b"!")
        except OSError:
            pass
