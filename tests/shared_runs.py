"""Expensive test inputs made once per test session, also across pytest-xdist workers.

`build_once(tmp_path_factory, name, build)` calls `build(directory)` the first
time any test (in any worker process) asks for `name`, under a file lock, and
returns its JSON-able result to every later caller; the directory stays for
the whole session. Fixtures in conftest.py and the test modules use it for
pipeline runs and trained models, instead of module-global caches.

Also here: running a command as a user would, and reading a run's records.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DONE_FILE = ".built.json"


def _shared_root(tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def build_once(tmp_path_factory, name, build):
    """The result of `build(directory)` for `name`, built once per session (see module docstring)."""
    root = _shared_root(tmp_path_factory)
    directory = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / DONE_FILE
        if not done.exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            result = build(str(directory))
            done.write_text(json.dumps(result))
        return json.loads(done.read_text())


def command_environment(**extra):
    """The environment of a user's shell, with this checkout first on the path."""
    environment = dict(os.environ)  # Byte code: wherever the caller's says (the Makefile: inside .venv).
    environment["PYTHONPATH"] = os.pathsep.join(
        [REPO_DIR] + [path for path in environment.get("PYTHONPATH", "").split(os.pathsep) if path])
    for name in ("TF_CONFIG", "TF_CPP_MIN_LOG_LEVEL", "VIDEOQA_QUIET_TF_LOG_LEVEL", "VIDEOQA_QUIET_STDERR_PIPE"):
        environment.pop(name, None)
    environment.update(extra)
    return environment


def run_command(command, timeout=900, **extra_environment):
    """Run a command from the repository as a user would; CompletedProcess with text output."""
    return subprocess.run(command, cwd=REPO_DIR, env=command_environment(**extra_environment),
                          capture_output=True, text=True, timeout=timeout)


def run_module(module, *args, timeout=900):
    """`python -m module args` from the repository."""
    return run_command([sys.executable, "-m", module, *args], timeout=timeout)


def run_pipeline_in_process(argv):
    """`python -m pipeline.run ARGV`'s own code (`pipeline.run.main`) in this process: {"returncode", "stdout", "stderr"}.

    For shared runs whose tests read the outputs and the printed summary, not what the process does on
    a terminal: it spares starting TensorFlow and Beam (about 8 of a small run's 20 CPU-s), and the CNN
    it builds stays in this process for later exports (`features.cnn.shared_frozen_cnn`). Runs that check
    the command itself (exit status, quiet start, no traceback) stay commands: `run_command`.
    """
    import contextlib
    import io

    from pipeline import run as pipeline_run
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            pipeline_run.main(list(argv))
            returncode = 0
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else 1
    return {"returncode": returncode, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def error_line(stderr, program="pipeline.run"):
    """The one `<program>: error:` line of a command's stderr (logging lines and TF noise aside)."""
    lines = [line for line in stderr.splitlines() if line.startswith(f"{program}: error: ")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def completed_to_dict(completed):
    return {"returncode": completed.returncode, "stdout": completed.stdout, "stderr": completed.stderr}


def read_parsed(output_dir):
    """{split: [record dicts]} of a pipeline output dir, read with the contract's NumPy parser."""
    from features import manifest as manifest_lib
    from features import records, schema
    manifest = manifest_lib.read_manifest(output_dir)
    dtype, dim = manifest_lib.feature_dtype(manifest), manifest_lib.feature_dim(manifest)
    return {split: [records.parse_video_example_numpy(serialized, dtype, dim) for serialized in
                    records.read_records(schema.record_file_pattern(output_dir, split))]
            for split in schema.SPLITS}


def read_serialized(output_dir):
    """{video_id: serialized record} over every split."""
    from features import records, schema
    found = {}
    for split in schema.SPLITS:
        for serialized in records.read_records(schema.record_file_pattern(output_dir, split)):
            found[_video_id(serialized)] = serialized
    return found


def _video_id(serialized):
    import tensorflow as tf

    from features import schema
    example = tf.train.SequenceExample.FromString(serialized)
    return example.context.feature[schema.VIDEO_ID_KEY].bytes_list.value[0].decode("utf-8")
