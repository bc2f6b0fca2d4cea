"""Launch `model.train` on several workers.

    python -m model.launch --local_workers N -- <train args>
        N processes on this machine, each with a TF_CONFIG naming all of them
        (free localhost ports), so `model.train` uses MultiWorkerMirroredStrategy.
        Waits for all; if one exits non-zero it is reported and the others are
        stopped. Output lines are prefixed with the worker's index.

    python -m model.launch --vertex --project P --region R --image URI
        --machine_type T [--accelerator TYPE:COUNT] --workers N [--dry_run] -- <train args>
        The Vertex AI custom job (see `model.vertex`); --dry_run prints it as JSON.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from features import cli
from model import vertex

TRAIN_MODULE = "model.train"
STOP_GRACE_SECONDS = 10.0


def split_arguments(argv):
    """(launcher args, train args) around the first '--'."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        return argv, []
    index = argv.index("--")
    return argv[:index], argv[index + 1:]


def free_ports(count):
    """`count` distinct free TCP ports on localhost."""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind(("localhost", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


def local_tf_configs(num_workers, ports=None):
    """One TF_CONFIG dict per worker of a localhost cluster."""
    ports = ports or free_ports(num_workers)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": index}}
            for index in range(num_workers)]


def _relay(stream, prefix, destination):
    for line in iter(stream.readline, b""):
        destination.write(prefix + line.decode("utf-8", errors="replace"))
        destination.flush()
    stream.close()


def _stop(processes):
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_local(num_workers, train_args, poll_seconds=0.5, command=None):
    """Run the workers; returns 0 if all succeed, else the first failure's exit status.

    `command` (default: this Python running `model.train`) is what each worker runs,
    followed by `train_args`.
    """
    command = list(command or [sys.executable, "-m", TRAIN_MODULE])
    if num_workers < 1:
        raise ValueError(f"--local_workers must be at least 1, got {num_workers}")
    processes, relays = [], []
    for index, tf_config in enumerate(local_tf_configs(num_workers)):
        environment = dict(os.environ, TF_CONFIG=json.dumps(tf_config))
        process = subprocess.Popen([*command, *train_args], env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        relay = threading.Thread(target=_relay, args=(process.stdout, f"[worker {index}] ", sys.stdout),
                                 daemon=True)
        relay.start()
        relays.append(relay)
    print(f"model.launch: started {num_workers} workers (pids "
          f"{', '.join(str(process.pid) for process in processes)})", flush=True)
    status = 0
    try:
        while any(process.poll() is None for process in processes):
            failed = [(index, process.returncode) for index, process in enumerate(processes)
                      if process.returncode not in (None, 0)]
            if failed:
                index, status = failed[0]
                print(f"model.launch: worker {index} exited with status {status}; stopping the "
                      f"other workers", file=sys.stderr, flush=True)
                _stop(processes)
                break
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        _stop(processes)
        raise
    for relay in relays:
        relay.join(timeout=5)
    if status == 0:
        failed = [(index, process.returncode) for index, process in enumerate(processes)
                  if process.returncode != 0]
        if failed:
            index, status = failed[0]
            print(f"model.launch: worker {index} exited with status {status}", file=sys.stderr)
    if status == 0:
        print(f"model.launch: all {num_workers} workers finished", flush=True)
    return status


def build_parser():
    parser = cli.StrictArgumentParser(
        prog="python -m model.launch",
        description="Launch model.train on several workers: locally or as a Vertex AI job.",
        usage="python -m model.launch (--local_workers N | --vertex ...) -- <model.train args>")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--local_workers", type=int, help="worker processes on this machine")
    mode.add_argument("--vertex", action="store_true", help="build (and submit) a Vertex AI custom job")
    parser.add_argument("--project")
    parser.add_argument("--region")
    parser.add_argument("--image", help="training container image URI")
    parser.add_argument("--machine_type", default="n1-standard-8")
    parser.add_argument("--accelerator", default="", help="TYPE:COUNT, e.g. NVIDIA_TESLA_T4:1")
    parser.add_argument("--workers", type=int, default=1, help="machines in the Vertex job")
    parser.add_argument("--display_name", default="videoqa-train")
    parser.add_argument("--staging_bucket", default=None, help="gs:// bucket for Vertex AI staging")
    parser.add_argument("--dry_run", action="store_true", help="print the job as JSON, do not submit")
    cli.add_verbose_flag(parser)
    return parser


def run(argv=None):
    launcher_args, train_args = split_arguments(argv)
    parser = build_parser()
    args = parser.parse_args(launcher_args)
    if not train_args:
        parser.error("give the model.train arguments after '--'")
    if args.verbose and "--verbose" not in train_args:
        train_args = [*train_args, "--verbose"]
    try:
        if args.local_workers is not None:
            return run_local(args.local_workers, train_args)
        spec = vertex.job_spec(args.project, args.region, args.image, args.machine_type,
                               args.accelerator, args.workers, train_args, args.display_name,
                               args.staging_bucket)
    except ValueError as error:
        print(f"model.launch: error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(spec, indent=2))
        return 0
    print(f"model.launch: submitted {vertex.submit(spec)}")
    return 0


if __name__ == "__main__":
    sys.exit(run())
