"""Ask a trained model about videos in a browser, or over HTTP: one model loaded once, many answers.

    python -m model.serve --model_dir M [--host 127.0.0.1] [--port 8080] [--max_upload_mb 200]
        [--workers 2] [--max_connections 64]

Open http://127.0.0.1:8080/ to drop a video, see its sampled frames and ask
questions; or call the JSON API (`model.serve_app` lists the routes):

    curl -F video=@clip.mp4 -F question='what color is the ball?' http://127.0.0.1:8080/v1/answer

The SavedModel in M/export is loaded ONCE, before the port opens, and
answers with the same decoding, sampling and signature as `model.predict`
(`model.answering`). Start-up takes the few seconds `model.predict` spends
per question; an answer then takes a fraction of a second. The service binds
to 127.0.0.1 (this machine only) unless --host says otherwise: it has no
authentication, so expose it only behind something that has. --port 0 picks
a free port; the first line on stdout names the address either way.

Uploads stream to a private temporary directory (removed at exit), each file
removed once answered; at most --workers clips are decoded and answered at
once, further requests wait; beyond --max_connections open connections new
ones get 503. An unusable model dir exits with status 2 and a one-line
message, like `model.predict`.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import dataclasses
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from features import cli
from model import serve_upload  # Light: no TensorFlow, so a bad flag is reported at once.

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_UPLOAD_MB = 200
DEFAULT_WORKERS = 2
DEFAULT_MAX_CONNECTIONS = 64
UPLOAD_DIR_PREFIX = "videoqa-serve-"
GRACEFUL_SHUTDOWN_SECONDS = 10
LISTEN_BACKLOG = 128


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """Everything `serve` needs, from the command line."""

    model_dir: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    workers: int = DEFAULT_WORKERS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    verbose: bool = False

    def __post_init__(self):
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be 0..65535, got {self.port}")
        if self.max_upload_mb <= 0:
            raise ValueError(f"--max_upload_mb must be positive, got {self.max_upload_mb}")
        if self.workers <= 0:
            raise ValueError(f"--workers must be positive, got {self.workers}")
        if self.max_connections < self.workers:
            raise ValueError(f"--max_connections ({self.max_connections}) must be at least --workers "
                             f"({self.workers})")

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mb * serve_upload.BYTES_PER_MB)


def parse_args(argv=None):
    """The ServeConfig of a command line (exits with status 2 on a bad flag or value)."""
    parser = cli.StrictArgumentParser(
        prog="python -m model.serve", description="Answer questions about uploaded videos over HTTP, "
                                                  "with a web page, using M/export.")
    parser.add_argument("--model_dir", required=True, help="the --model_dir of a training run (uses M/export)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to bind (default: this machine only; 0.0.0.0 exposes it to the network)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind; 0 picks a free one")
    parser.add_argument("--max_upload_mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                        help="largest upload taken, in MiB; larger ones get 413 before they are read whole")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="clips decoded and answered at once (one model is shared by all)")
    parser.add_argument("--max_connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help="open connections served at once; more get 503")
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)
    try:
        return ServeConfig(model_dir=args.model_dir, host=args.host, port=args.port,
                           max_upload_mb=args.max_upload_mb, workers=args.workers,
                           max_connections=args.max_connections, verbose=args.verbose)
    except ValueError as error:
        parser.error(str(error))


def bind_socket(host, port):
    """A listening TCP socket on (host, port); IPv6 when the host is an IPv6 address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    listener.listen(LISTEN_BACKLOG)
    return listener


def warm_up(model):
    """Answer one question about a black clip, so that the first user does not wait for the start-up work.

    Imports the decoder's libraries and runs the serving signature once (its
    first call initialises TensorFlow's kernels: seconds, against a fraction
    of a second afterwards). Seconds taken.
    """
    import numpy as np

    from features import manifest as manifest_lib
    from features import video
    started = time.perf_counter()
    sampling = manifest_lib.sampling_config(model.manifest)
    size = manifest_lib.image_size(model.manifest)
    num_frames = sampling.max_frames if sampling.fps else sampling.frames_per_video
    blank = video.DecodedVideo(
        frames=np.zeros((num_frames, size, size, 3), np.uint8), frame_indices=list(range(num_frames)),
        frame_times=[0.0] * num_frames, total_frames=num_frames, duration=0.0, width=size, height=size,
        rotation=0, stream_index=0, video_streams=1)
    model.answer(blank, ["warm up"], ["warm up"] * model.num_candidates or None)
    return time.perf_counter() - started


def _exit_on_terminate(signal_number, frame):
    raise SystemExit(128 + signal_number)


def display_url(host, port):
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(config):
    """Load the model, open the port, answer until interrupted; the exit status."""
    import uvicorn

    from model import answering, serve_app
    try:
        model = answering.ExportedModel(config.model_dir)
    except answering.AnswerError as error:
        print(f"model.serve: error: {error}", file=sys.stderr)
        return 2
    try:
        listener = bind_socket(config.host, config.port)
    except OSError as error:
        print(f"model.serve: error: cannot listen on {config.host}:{config.port} ({error.strerror or error})",
              file=sys.stderr)
        return 2
    upload_dir = tempfile.mkdtemp(prefix=UPLOAD_DIR_PREFIX)
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully on SIGTERM, then raises it again with the handler found at
        # start: this one turns it into SystemExit, so that the `finally` below removes the uploads.
        signal.signal(signal.SIGTERM, _exit_on_terminate)
    try:
        warm_up_seconds = warm_up(model)
        app = serve_app.build_app(model, serve_app.ServiceConfig(
            upload_dir=upload_dir, max_upload_bytes=config.max_upload_bytes, workers=config.workers))
        # h11: uvicorn's pure-Python HTTP/1.1 parser, always installed with it (httptools is optional);
        # a 413 with `Connection: close` there stops reading the body (see model.serve_upload).
        server = uvicorn.Server(uvicorn.Config(
            app, http="h11", ws="none", lifespan="off", log_level="debug" if config.verbose else "info",
            limit_concurrency=config.max_connections, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            server_header=False))
        port = listener.getsockname()[1]
        description = model.describe()
        print(f"model.serve: answering {description['task'].replace('_', ' ')} questions with "
              f"{config.model_dir} on {display_url(config.host, port)} (uploads up to {config.max_upload_mb:g} MB, "
              f"{config.workers} at once; warmed up in {warm_up_seconds:.1f} s); Ctrl-C stops", flush=True)
        if description["cnn_note"]:
            print(f"model.serve: CNN: {description['cnn_note']}", flush=True)
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn raises Ctrl-C's SIGINT again after its graceful shutdown.
        return 130
    finally:
        listener.close()
        shutil.rmtree(upload_dir, ignore_errors=True)
    return 0


def run(argv=None):
    return serve(parse_args(argv))


if __name__ == "__main__":
    sys.exit(run())
