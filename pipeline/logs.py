"""Logging for `python -m pipeline.run`: our lines at INFO, library noise at WARNING.

With `--direct_running_mode=multi_processing` each worker process sends its
log records to the main process, where Beam logs them as one long line
("Worker: severity: INFO timestamp {...} message: "..." ...") on the
`apache_beam.runners.portability.local_job_service` logger. `WorkerLogFilter`
keeps the worker's progress lines and warnings, shows only their message,
and drops known harmless warnings.
"""

import logging
import re

WORKER_LOGGER = "apache_beam.runners.portability.local_job_service"
NOISY_LOGGERS = ("apache_beam", "absl", "tensorflow", "tensorflow_transform")
PROGRESS_MARKER = "progress:"
# Warnings printed on every run that say nothing about the data: Beam's workers
# on this platform; Beam's check for generators that also `return` (ours only
# use a bare `return` to stop early); tf.Transform's hint about instance dicts
# (we pass one small dict per video, not per frame: see pipeline/transform.py).
HARMLESS_WARNINGS = (
    "Resource module is not available",
    "No semi_persistent_directory found",
    "Discarding unparseable args",
    "Using yield and return in the process method",
    "You are passing instance dicts and DatasetMetadata to TFT",
    "You are outputting instance dicts from `TransformDataset`",
)
_MESSAGE_PATTERN = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


class WorkerLogFilter(logging.Filter):
    """Pass worker progress lines and real warnings, reduced to their message."""

    def filter(self, record):
        text = record.getMessage()
        match = _MESSAGE_PATTERN.search(text)
        message = match.group(1).encode().decode("unicode_escape") if match else text
        if any(noise in message for noise in HARMLESS_WARNINGS):
            return False
        if record.levelno < logging.WARNING and PROGRESS_MARKER not in message:
            return False
        record.msg, record.args = "worker: %s", (message,)
        return True


class HarmlessWarningFilter(logging.Filter):
    """Drop the known harmless warnings when they are logged in this process."""

    def filter(self, record):
        return not any(noise in record.getMessage() for noise in HARMLESS_WARNINGS)


def configure_logging():
    """INFO for our loggers and worker progress; WARNING for the libraries."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(HarmlessWarningFilter())
    worker_logger = logging.getLogger(WORKER_LOGGER)
    worker_logger.setLevel(logging.INFO)
    worker_logger.addFilter(WorkerLogFilter())
