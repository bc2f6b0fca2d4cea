"""The web application of `python -m model.serve`: the page, the JSON API, one model, a bounded pool.

    app = serve_app.build_app(answering.ExportedModel(model_dir), serve_app.ServiceConfig(...))

Routes:

  GET  /            the page (model/static/index.html; its CSS and JavaScript under /static/)
  GET  /v1/model    what the model is: task, backbone, feature size, vocabulary sizes, the CNN
                    note (random weights?), candidates per question, the upload limit
  POST /v1/answer   multipart: `video` (a file), `question` (repeat), `candidate` (repeat, multiple
                    choice only); query `thumbnails=1` adds JPEG data URLs of the sampled frames,
                    `top_k=N` limits the answers per question. JSON: the task, the video's facts,
                    the sampled frame times and each question's ranked answers (with `count` for a
                    count model and `frame_weights` when the model attends over frames)
  GET  /healthz     {"status": "ok"} once the model is loaded (it is loaded before the port opens)

Errors are JSON `{"error": message}`: 400 for unusable input (no question,
wrong number of candidates, a file PyAV cannot read: the reasons
`model.answering` gives), 413 for an upload over the limit, 415 for a body
that is not multipart/form-data, 500 for a failure of ours.

Why Starlette (on uvicorn): it is the small, well-kept ASGI toolkit FastAPI
itself is built on, and this service needs what it gives directly: the raw
request stream (so the upload limit is enforced while reading, before the
body is read whole, and the video streams to a temporary file of our own
rather than through a framework's spooled copy), static files, and thread
offloading with an anyio capacity limiter. FastAPI would add pydantic and
request-model machinery that four routes do not need.

Decoding and the SavedModel call run in worker threads, at most
`config.workers` at once (an anyio CapacityLimiter); every request shares the
ONE `ExportedModel`. Requests beyond that wait their turn on the event loop
with their upload on disk, not in memory.
"""

import dataclasses
import functools
import logging
import os
import time

import anyio
from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from model import answering, serve_upload, thumbnails
from model.predict import DEFAULT_TOP_K

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
INDEX_FILE = "index.html"
THUMBNAILS_QUERY = "thumbnails"
TOP_K_QUERY = "top_k"
QUERY_TRUE = ("1", "true", "yes")
_logger = logging.getLogger("model.serve")


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    """How the application treats requests (the model itself is passed separately)."""

    upload_dir: str            # where uploads are written while they are answered (exists)
    max_upload_bytes: int      # largest request body taken
    workers: int               # decodes + model calls running at once
    thumbnail_side: int = thumbnails.DEFAULT_MAX_SIDE

    def __post_init__(self):
        if self.max_upload_bytes <= 0:
            raise ValueError(f"ServiceConfig.max_upload_bytes must be positive, got {self.max_upload_bytes}")
        if self.workers <= 0:
            raise ValueError(f"ServiceConfig.workers must be positive, got {self.workers}")
        if not os.path.isdir(self.upload_dir):
            raise ValueError(f"ServiceConfig.upload_dir {self.upload_dir} is not a directory")


def error_response(status, message, close=False):
    """JSON {"error": message}; close=True also closes the connection (the rest of the body is not read)."""
    return JSONResponse({"error": message}, status_code=status, headers={"Connection": "close"} if close else None)


def _query_options(request, model):
    """(top_k, with_thumbnails) from the query string; UploadError(400) on a bad value."""
    with_thumbnails = request.query_params.get(THUMBNAILS_QUERY, "").lower() in QUERY_TRUE
    top_k_text = request.query_params.get(TOP_K_QUERY)
    if top_k_text is None:
        return min(DEFAULT_TOP_K, model.top_k), with_thumbnails
    if not top_k_text.isdigit() or int(top_k_text) <= 0:
        raise serve_upload.UploadError(400, f"{TOP_K_QUERY} must be a positive whole number, got {top_k_text!r}")
    return min(int(top_k_text), model.top_k), with_thumbnails


def answer_clip(model, form, top_k, with_thumbnails, thumbnail_side):
    """The JSON-ready answer to one AnswerForm (runs in a worker thread); AnswerError names the upload."""
    started = time.perf_counter()
    try:
        decoded = model.decode(form.video_path)
    except answering.AnswerError as error:  # Name the client's file, not our temporary path.
        raise answering.AnswerError(str(error).replace(form.video_path, form.video_filename)) from None
    decoded_at = time.perf_counter()
    answers = model.answer(decoded, form.questions, form.candidates or None, top_k)
    answered_at = time.perf_counter()
    result = {"task": model.task,
              "video": {"filename": form.video_filename, "bytes": form.video_bytes, **decoded.summary()},
              "frame_times": [round(float(seconds), 3) for seconds in decoded.frame_times],
              "answers": [answer.to_dict() for answer in answers],
              "seconds": {"decode": round(decoded_at - started, 4), "answer": round(answered_at - decoded_at, 4)}}
    if with_thumbnails:
        result["thumbnails"] = thumbnails.frame_data_urls(decoded.frames, thumbnail_side)
    return result


def build_app(model, config):
    """The Starlette application answering with `model` (an ExportedModel) under `config`."""
    limiter = anyio.CapacityLimiter(config.workers)
    description = {**model.describe(), "max_upload_bytes": config.max_upload_bytes, "default_top_k":
                   min(DEFAULT_TOP_K, model.top_k), "max_top_k": model.top_k}

    async def index(request):
        return FileResponse(os.path.join(STATIC_DIR, INDEX_FILE), headers={"Cache-Control": "no-cache"})

    async def describe_model(request):
        return JSONResponse(description)

    async def health(request):
        return JSONResponse({"status": "ok", "task": model.task})

    async def answer(request):
        try:
            top_k, with_thumbnails = _query_options(request, model)
            form = await serve_upload.receive_answer_form(request, config.upload_dir, config.max_upload_bytes)
        except serve_upload.UploadError as error:
            return error_response(error.status, error.message, close=error.status == 413)
        try:
            model.check_questions(form.questions, form.candidates)
            work = functools.partial(answer_clip, model, form, top_k, with_thumbnails, config.thumbnail_side)
            return JSONResponse(await anyio.to_thread.run_sync(work, limiter=limiter))
        except answering.AnswerError as error:
            return error_response(400, str(error))
        except Exception as error:  # A failure of ours: log it whole, tell the client briefly.
            _logger.exception("answering %r failed", form.video_filename)
            return error_response(500, f"internal error while answering: {type(error).__name__}: {error}")
        finally:
            form.remove()

    routes = [Route("/", index, methods=["GET"]),
              Route("/healthz", health, methods=["GET"]),
              Route("/v1/model", describe_model, methods=["GET"]),
              Route("/v1/answer", answer, methods=["POST"]),
              Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")]
    return Starlette(routes=routes)
