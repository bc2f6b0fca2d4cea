"""`python -m model.serve` over real HTTP: answers, every refusal, the upload limit, 20 requests at once.

The session's real service (`serve_helpers.shared_service`: a subprocess on
a free port, `--max_upload_mb 1`) answers about real H.264 clips with the
session's tiny exported model. After every test the service's upload
directory must be empty again; at the end of the session, SIGTERM must stop
the service and remove that directory.
"""

import base64
import concurrent.futures
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

from model import predict

import bad_inputs
from model_helpers import REPO_DIR, command_environment
from serve_helpers import (MAX_UPLOAD_MB, SERVED_FRAMES, SERVED_IMAGE_SIZE, ask, fetch, multipart_body, questions_about,
                           service, tiny_model)  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # The shared fixture trains and exports a model (1-3 minutes).

CONCURRENT_REQUESTS = 20
CONCURRENT_CLIPS = ("video8.mp4", "video9.mp4", "video10.mp4", "video11.mp4")
# The service's memory may grow this much over 20 simultaneous requests (it holds one model;
# each request holds one small clip's frames): a leak or a model per request would exceed it.
MAX_RSS_GROWTH_MB = 150


@pytest.fixture(autouse=True)
def no_uploads_left(request):
    yield
    if "service" in request.fixturenames:
        assert request.getfixturevalue("service").uploads_left() == [], "an upload was not removed"


@pytest.fixture(scope="module")
def clip(tiny_model):
    _, data_dir = tiny_model
    return os.path.join(data_dir, "videos", "video8.mp4")


def test_health_and_model_description(service):
    assert fetch(service.url + "healthz") == (200, {"status": "ok", "task": "open_ended"})
    status, description = fetch(service.url + "v1/model")
    assert status == 200
    assert description["task"] == "open_ended" and description["num_candidates"] == 0
    assert description["backbone"] == "inception_v3" and description["feature_dim"] == 2048
    assert description["image_size"] == SERVED_IMAGE_SIZE
    assert description["vocabulary"]["answers"] > 1 and description["vocabulary"]["question_tokens"] > 1
    assert "RANDOM" in description["cnn_note"]
    assert description["max_upload_bytes"] == MAX_UPLOAD_MB * 1024 * 1024


def test_binds_to_this_machine_only_by_default(service):
    assert service.url.startswith("http://127.0.0.1:")
    assert service.listening_addresses() == [service.url[len("http://"):].rstrip("/")]


def test_page_and_its_files_come_from_the_service_alone(service):
    status, page = fetch(service.url)
    assert status == 200 and "<title>Video question answering</title>" in page
    for name in ("app.js", "style.css"):
        assert f"/static/{name}" in page
        status, text = fetch(service.url + "static/" + name)
        assert status == 200 and len(text) > 500
        assert "http://" not in text and "https://" not in text, f"{name} loads something from elsewhere"
    assert "http://" not in page and "https://" not in page


def test_answers_equal_model_predict_on_the_same_clip(service, tiny_model, clip, capsys):
    model_dir, data_dir = tiny_model
    questions = questions_about(data_dir, "video8.mp4")
    assert len(questions) == 3
    status, result = ask(service.url, clip, questions, query="?thumbnails=1")
    assert status == 200, result
    capsys.readouterr()  # model.predict's own code, in this process (tests/test_model_export.py runs the command).
    assert predict.run(["--model_dir", model_dir, "--video", clip, "--json",
                        *[argument for question in questions for argument in ("--question", question)]]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert [answer["question"] for answer in result["answers"]] == questions
    for served, printed in zip(result["answers"], expected):
        assert [item["answer"] for item in served["answers"]] == [item["answer"] for item in printed["answers"]]
        assert [item["probability"] for item in served["answers"]] == pytest.approx(
            [item["probability"] for item in printed["answers"]], abs=1e-5)
    assert result["task"] == "open_ended"
    assert result["video"]["filename"] == "video8.mp4" and result["video"]["num_frames"] == SERVED_FRAMES
    assert len(result["frame_times"]) == SERVED_FRAMES and result["frame_times"] == sorted(result["frame_times"])
    assert 0 <= result["frame_times"][0] and result["frame_times"][-1] <= result["video"]["duration"]
    assert len(result["thumbnails"]) == SERVED_FRAMES
    for url in result["thumbnails"]:
        prefix = "data:image/jpeg;base64,"
        assert url.startswith(prefix)
        jpeg = base64.b64decode(url[len(prefix):])
        assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    status, plain = ask(service.url, clip, questions[:1], query="?top_k=2")
    assert status == 200 and "thumbnails" not in plain and len(plain["answers"][0]["answers"]) == 2


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, clip):
    directory = tmp_path_factory.mktemp("bad_uploads")
    return {"audio": bad_inputs.write_audio_only(directory / "tone.mp4"),
            "truncated": bad_inputs.write_truncated(directory / "cut.mp4", clip, 0.5),
            "text": bad_inputs.write_text(directory / "notes.mp4"),
            "empty": bad_inputs.write_empty(directory / "empty.mp4"),
            "noise": bad_inputs.write_random_bytes(directory / "noise.mkv")}


@pytest.mark.parametrize("kind, expected", [
    ("audio", "no video stream (streams present: audio)"),
    ("truncated", "truncated"),
    ("text", "not a readable video container"),
    ("empty", "file is empty (0 bytes)"),
    ("noise", "cannot use video noise.mkv"),
])
def test_unreadable_videos_get_400_with_the_pipelines_reason(service, bad_files, kind, expected):
    status, result = ask(service.url, bad_files[kind], ["what color is the square?"])
    assert status == 400 and expected in result["error"], result
    assert "videoqa-serve-" not in result["error"] and "upload-" not in result["error"], \
        "the error names the service's temporary file"


@pytest.mark.parametrize("fields, expected", [
    ([("video", ("clip.mp4", b"CLIP"))], "give at least one question"),
    ([("video", ("clip.mp4", b"CLIP")), ("question", "   ")], "question 1 of 1 is empty"),
    ([("video", ("clip.mp4", b"CLIP")), ("question", "q"), ("candidate", "a"), ("candidate", "b")],
     "candidates are only for a multiple-choice model"),
    ([("video", "/etc/passwd"), ("question", "q")], "never opens paths or URLs"),
    ([("video", "http://127.0.0.1/clip.mp4"), ("question", "q")], "never opens paths or URLs"),
    ([("question", "q")], "no 'video' file"),
    ([("video", ("a.mp4", b"A")), ("video", ("b.mp4", b"B")), ("question", "q")], "one 'video' file"),
    ([("video", ("clip.mp4", b"CLIP")), ("question", "q"), ("path", "/etc/passwd")], "unknown form field 'path'"),
])
def test_bad_forms_get_400(service, clip, fields, expected):
    with open(clip, "rb") as clip_file:
        content = clip_file.read()
    fields = [(name, (value[0], content)) if isinstance(value, tuple) and value[1] == b"CLIP" else (name, value)
              for name, value in fields]
    status, result = fetch(service.url + "v1/answer", *multipart_body(fields))
    assert status == 400 and expected in result["error"], result


def test_a_body_that_is_not_a_form_gets_415_and_a_bad_query_400(service, clip):
    status, result = fetch(service.url + "v1/answer", b'{"video": "/etc/passwd"}', "application/json")
    assert status == 415 and "multipart/form-data" in result["error"]
    status, result = ask(service.url, clip, ["q"], query="?top_k=0")
    assert status == 400 and "top_k" in result["error"]


def _raw_request(service, head, body_chunks, limit_bytes):
    """Send head, then body chunks until the service answers or stops reading: (response bytes, bytes sent)."""
    host, port = service.url[len("http://"):].rstrip("/").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    connection.sendall(head)
    connection.setblocking(False)
    response, sent, pending = b"", 0, b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([connection], [connection] if sent < limit_bytes else [], [], 1)
            if readable:
                data = connection.recv(65536)
                if not data:
                    break
                response += data
                continue
            if writable:
                pending = pending or next(body_chunks, b"")
                if not pending:
                    continue
                count = connection.send(pending)
                sent, pending = sent + count, pending[count:]
    except (ConnectionResetError, BrokenPipeError):
        pass  # The service closed the connection: what it answered is in `response`.
    finally:
        connection.close()
    return response, sent


def test_upload_declared_over_the_limit_is_refused_before_its_body(service):
    body_size = 2 * MAX_UPLOAD_MB * 1024 * 1024
    head = (f"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {body_size}\r\n\r\n").encode("ascii")
    started = time.monotonic()
    response, sent = _raw_request(service, head, iter(()), limit_bytes=0)  # Sends no byte of the body.
    assert sent == 0 and response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b"connection: close" in response.lower() and b"--max_upload_mb" in response
    assert time.monotonic() - started < 30


def test_streamed_upload_over_the_limit_is_cut_off_at_the_limit(service):
    head = (b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    part = b'--x\r\nContent-Disposition: form-data; name="video"; filename="big.mp4"\r\n\r\n'
    block = b"\0" * 65536

    def chunks():  # Chunked transfer encoding: no Content-Length to check, 256 MB on offer.
        yield b"%x\r\n%s\r\n" % (len(part), part)
        for _ in range(4096):
            yield b"%x\r\n%s\r\n" % (len(block), block)

    response, sent = _raw_request(service, head, chunks(), limit_bytes=256 * 1024 * 1024)
    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b"reading stopped there" in response
    # The service stopped at 1 MB; what else was sent sits in the sockets' buffers.
    assert sent < 64 * 1024 * 1024, f"the service read {sent} bytes of an upload limited to {MAX_UPLOAD_MB} MB"


def test_an_upload_the_client_abandons_leaves_no_file(service):
    body, content_type = multipart_body([("video", ("clip.mp4", b"\0" * 300_000)), ("question", "q")])
    host, port = service.url[len("http://"):].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(f"POST /v1/answer HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body[:len(body) // 2])
        deadline = time.monotonic() + 30
        while not service.uploads_left() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.uploads_left(), "the half-sent upload never reached a temporary file"
    deadline = time.monotonic() + 30  # The client is gone: the service must notice and remove the file.
    while service.uploads_left() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_twenty_simultaneous_requests_get_the_single_request_answers(service, tiny_model, capsys):
    _, data_dir = tiny_model
    clips = {name: os.path.join(data_dir, "videos", name) for name in CONCURRENT_CLIPS}
    single = {}
    for name, path in clips.items():
        status, result = ask(service.url, path, questions_about(data_dir, name))
        assert status == 200, result
        single[name] = result["answers"]
    rss_before, _ = service.memory_kb()
    start_together = threading.Barrier(CONCURRENT_REQUESTS)

    def one_request(index):
        name = CONCURRENT_CLIPS[index % len(CONCURRENT_CLIPS)]
        start_together.wait()
        started = time.perf_counter()
        status, result = ask(service.url, clips[name], questions_about(data_dir, name))
        return name, status, result, time.perf_counter() - started

    with concurrent.futures.ThreadPoolExecutor(CONCURRENT_REQUESTS) as pool:
        outcomes = list(pool.map(one_request, range(CONCURRENT_REQUESTS)))
    rss_after, rss_peak = service.memory_kb()
    for name, status, result, _ in outcomes:
        assert status == 200, result
        for served, alone in zip(result["answers"], single[name], strict=True):
            assert [item["answer"] for item in served["answers"]] == [item["answer"] for item in alone["answers"]]
            assert [item["probability"] for item in served["answers"]] == pytest.approx(
                [item["probability"] for item in alone["answers"]], abs=1e-5)
    latencies = sorted(outcome[3] for outcome in outcomes)
    growth_mb = (rss_after - rss_before) / 1024
    with capsys.disabled():
        print(f"\nmodel.serve under {CONCURRENT_REQUESTS} simultaneous requests: latency p50 "
              f"{statistics.median(latencies):.2f} s, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.2f} s, "
              f"max {latencies[-1]:.2f} s; RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MB "
              f"(peak {rss_peak / 1024:.0f} MB)")
    assert growth_mb < MAX_RSS_GROWTH_MB, f"RSS grew {growth_mb:.0f} MB over {CONCURRENT_REQUESTS} requests"


def test_bad_model_dir_and_flags_exit_with_status_2(tmp_path):
    for arguments, expected in ((["--model_dir", str(tmp_path / "missing")], "does not exist"),
                                (["--model_dir", str(tmp_path), "--workers", "0"], "--workers must be positive"),
                                (["--model_dir", str(tmp_path), "--max_upload_mb", "-1"], "--max_upload_mb"),
                                (["--model_dir", str(tmp_path), "--prot", "1"], "did you mean --port?")):
        completed = subprocess.run([sys.executable, "-m", "model.serve", *arguments], cwd=REPO_DIR,
                                   env=command_environment(), capture_output=True, text=True, timeout=300)
        assert completed.returncode == 2 and expected in completed.stderr, completed.stderr
