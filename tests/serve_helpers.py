"""Shared by tests/test_serve_*.py: one tiny exported model per session, and real `model.serve` processes.

`served_model_dir(pipeline_output, synthetic_dataset, tmp_path_factory)` is
the session's open-ended model with its export (`model_helpers.exported_model`,
trained on conftest's pipeline run of the synthetic set: random CNN weights,
96x96, 16 frames), with the data dir holding its clips.

`ServeProcess.start(model_dir, work_dir, *flags)` runs `python -m model.serve
--port 0 ...` with its own TMPDIR, waits for the line naming its address and
knows its upload directory, memory and listening address; `.stop()` ends it
with SIGTERM as a user's Ctrl-C or a process manager would.

`shared_service(request, tmp_path_factory)` is the session's one service
(SERVICE_FLAGS) on that model, for every test module: started by the first
test that asks, stopped at the end of the session, when its upload
directory must be gone too. (Starting one costs a TensorFlow import and a
model load: tens of seconds on a loaded machine.)
"""

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from model_helpers import REPO_DIR, command_environment

SERVED_FRAMES = 16      # conftest.PIPELINE_FLAGS: --frames_per_video 16
SERVED_IMAGE_SIZE = 96  # and --image_size 96
MAX_UPLOAD_MB = 1
SERVICE_FLAGS = ["--max_upload_mb", str(MAX_UPLOAD_MB), "--workers", "2"]
START_TIMEOUT_SECONDS = 240
STOP_TIMEOUT_SECONDS = 60
ANNOUNCEMENT = re.compile(r"model\.serve: answering .* on (http://\S+/) ")

_services = {}


def served_model_dir(pipeline_output, synthetic_dataset, tmp_path_factory):
    """(model dir with M/export, synthetic data dir) of the session's open-ended model."""
    import model_helpers
    return model_helpers.exported_model(pipeline_output, tmp_path_factory), synthetic_dataset


@pytest.fixture(scope="module")
def tiny_model(pipeline_output, synthetic_dataset, tmp_path_factory):
    """(model dir, data dir) of the model the services answer with."""
    return served_model_dir(pipeline_output, synthetic_dataset, tmp_path_factory)


@pytest.fixture(scope="module")
def service(request, tiny_model, tmp_path_factory):
    """This process's running service on that model."""
    return shared_service(request, tiny_model[0], tmp_path_factory)


def shared_service(request, model_dir, tmp_path_factory):
    """This test process's ServeProcess on `model_dir`; `request`: any fixture's pytest request."""
    if "shared" not in _services:
        running = ServeProcess.start(model_dir, str(tmp_path_factory.mktemp("serve")), *SERVICE_FLAGS)
        _services["shared"] = running
        request.session.addfinalizer(functools.partial(_stop_and_check, running))
    return _services["shared"]


def _stop_and_check(running):
    status = running.stop()
    if status != 128 + signal.SIGTERM:
        raise AssertionError(f"model.serve exited with {status} on SIGTERM:\n{running.log()[-3000:]}")
    if running.upload_dirs():
        raise AssertionError(f"model.serve left its upload directory behind: {running.upload_dirs()}")


def questions_about(data_dir, video_name):
    """The annotated questions (every split) about data_dir/videos/<video_name>, e.g. 'video8.mp4'."""
    video_id = int(re.sub(r"\D", "", os.path.splitext(video_name)[0]))
    questions = []
    for split in ("train", "val", "test"):
        with open(os.path.join(data_dir, "annotations", f"{split}_qa.json"), encoding="utf-8") as qa_file:
            questions += [row["question"] for row in json.load(qa_file) if row["video_id"] == video_id]
    return questions


def multipart_body(fields):
    """(body bytes, content type) for [(name, value)] where value is str or (filename, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        if isinstance(value, tuple):
            filename, content = value
            header = (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f"Content-Type: application/octet-stream\r\n\r\n")
        else:
            header, content = f'Content-Disposition: form-data; name="{name}"\r\n\r\n', value.encode("utf-8")
        parts.append(f"--{boundary}\r\n{header}".encode("utf-8") + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode("utf-8"), f"multipart/form-data; boundary={boundary}"


def fetch(url, body=None, content_type=None, timeout=120):
    """(status, parsed JSON or text) of a GET (body None) or POST; HTTP errors are returned, not raised."""
    headers = {"Content-Type": content_type} if content_type else {}
    http_request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None
                                          else "GET")
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            status, payload, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, payload, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    text = payload.decode("utf-8")
    return status, json.loads(text) if kind.startswith("application/json") else text


def ask(base_url, video_path, questions, candidates=(), query="", video_name=None):
    """(status, JSON) of POST /v1/answer with a real upload of video_path."""
    with open(video_path, "rb") as video_file:
        content = video_file.read()
    fields = [("video", (video_name or os.path.basename(video_path), content))]
    fields += [("question", question) for question in questions]
    fields += [("candidate", candidate) for candidate in candidates]
    body, content_type = multipart_body(fields)
    return fetch(base_url + "v1/answer" + query, body, content_type)


class ServeProcess:
    """A running `python -m model.serve` subprocess on a free port."""

    def __init__(self, process, url, tmp_dir, log_path):
        self.process = process
        self.url = url
        self.tmp_dir = tmp_dir
        self.log_path = log_path

    @classmethod
    def start(cls, model_dir, work_dir, *flags):
        tmp_dir = os.path.join(work_dir, "tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        log_path = os.path.join(work_dir, "serve.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "model.serve", "--model_dir", model_dir, "--port", "0", *flags],
                cwd=REPO_DIR, env=command_environment(TMPDIR=tmp_dir), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            match = ANNOUNCEMENT.search(cls._read(log_path))
            if match:
                return cls(process, match.group(1), tmp_dir, log_path)
            if process.poll() is not None:
                break
            time.sleep(0.2)
        process.kill()
        process.wait()
        raise RuntimeError(f"model.serve did not start (status {process.returncode}):\n{cls._read(log_path)[-4000:]}")

    @staticmethod
    def _read(path):
        with open(path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def log(self):
        return self._read(self.log_path)

    def upload_dirs(self):
        return [os.path.join(self.tmp_dir, name) for name in os.listdir(self.tmp_dir)
                if name.startswith("videoqa-serve-")]

    def uploads_left(self):
        """Files in the service's upload directory (should be none between requests)."""
        return [name for directory in self.upload_dirs() for name in os.listdir(directory)]

    def memory_kb(self):
        """(current RSS, peak RSS) of the service process in KiB, from /proc."""
        values = {}
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    values[name] = int(value.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def listening_addresses(self):
        """['127.0.0.1:PORT', ...]: the IPv4 addresses this process's port listens on (from /proc/net/tcp)."""
        port = int(self.url.rstrip("/").rsplit(":", 1)[1])
        found = []
        with open("/proc/net/tcp", encoding="ascii") as table:
            next(table)
            for line in table:
                local, state = line.split()[1], line.split()[3]
                address, local_port = local.split(":")
                if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN.
                    octets = [str(int(address[index:index + 2], 16)) for index in (6, 4, 2, 0)]
                    found.append(f"{'.'.join(octets)}:{port}")
        return found

    def stop(self):
        """SIGTERM, as Ctrl-C or a process manager would; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
