"""Worker log lines relayed by Beam's multi-processing DirectRunner: progress kept, noise dropped."""

import logging

from pipeline import logs


def worker_record(level, message):
    text = ('Worker: severity: %s timestamp {   seconds: 1795868579   nanos: 8 } message: "%s" '
            'log_location: "/x/base.py:2201" thread: "Thread-11" ') % (logging.getLevelName(level), message)
    return logging.LogRecord(logs.WORKER_LOGGER, level, __file__, 1, text, None, None)


def test_progress_lines_pass_reduced_to_their_message():
    record = worker_record(logging.INFO, "progress: 47 videos decoded, 704 frames embedded (70.3 frames/s)")
    assert logs.WorkerLogFilter().filter(record)
    assert record.getMessage() == "worker: progress: 47 videos decoded, 704 frames embedded (70.3 frames/s)"


def test_other_info_and_harmless_warnings_are_dropped_real_warnings_kept():
    log_filter = logs.WorkerLogFilter()
    assert not log_filter.filter(worker_record(logging.INFO, "starting control server"))
    assert not log_filter.filter(worker_record(
        logging.WARNING, "Resource module is not available for current platform, memory usage cannot be fetched."))
    warning = worker_record(logging.WARNING, "video7.mp4: decoder said \\\"oops\\\"")
    assert log_filter.filter(warning)
    assert warning.getMessage() == 'worker: video7.mp4: decoder said "oops"'
