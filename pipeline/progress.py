"""Progress of a long run, logged as it goes, not only at the end.

DoFns call `add(counter, n)`; each worker process keeps running totals and
logs one line at most every `INTERVAL_SECONDS`, e.g.
`progress: 120 videos decoded, 1920 frames embedded (48.0 frames/s), 360 questions written`.
On Dataflow the same totals are also Beam metrics (visible in the job page).
"""

import logging
import threading
import time

from apache_beam.metrics import Metrics

VIDEOS_DECODED = "videos_decoded"
FRAMES_EMBEDDED = "frames_embedded"
QUESTIONS_WRITTEN = "questions_written"
COUNTERS = (VIDEOS_DECODED, FRAMES_EMBEDDED, QUESTIONS_WRITTEN)
INTERVAL_SECONDS = 10.0
NAMESPACE = "videoqa"

_lock = threading.Lock()
_totals = dict.fromkeys(COUNTERS, 0)
_state = {"started": None, "last_log": 0.0}
_metrics = {}


def add(counter, amount=1):
    """Count `amount` more of `counter`; log a progress line if one is due."""
    if counter not in _metrics:
        _metrics[counter] = Metrics.counter(NAMESPACE, counter)
    _metrics[counter].inc(amount)
    now = time.monotonic()
    with _lock:
        if _state["started"] is None:
            _state["started"] = now
            _state["last_log"] = now
        _totals[counter] += amount
        if now - _state["last_log"] < INTERVAL_SECONDS:
            return
        _state["last_log"] = now
        totals = dict(_totals)
        elapsed = max(now - _state["started"], 1e-9)
    logging.getLogger("videoqa.progress").info(
        "progress: %d videos decoded, %d frames embedded (%.1f frames/s), %d questions written",
        totals[VIDEOS_DECODED], totals[FRAMES_EMBEDDED], totals[FRAMES_EMBEDDED] / elapsed,
        totals[QUESTIONS_WRITTEN])
