"""Strict command lines (`features.cli`) and quiet start-up (`features.console`).

The command-line tests parse in this process and check what Beam's own
PipelineOptions makes of the arguments. The start-up tests run real
processes: small scripts that write TensorFlow's real start-up lines to fd 2
the way its C++ code does (fast), and, marked slow, scripts that import
TensorFlow and use a device.
"""

import logging
import os
import select
import subprocess
import sys
import textwrap

import pytest

from features import cli, console
from model_helpers import REPO_DIR

# ---------------------------------------------------------------- strict parsers


def train_like_parser():
    parser = cli.StrictArgumentParser(prog="python -m model.train")
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=32)
    cli.add_verbose_flag(parser)
    return parser


def pipeline_like_parser():
    parser = cli.StrictArgumentParser(prog="python -m pipeline.run")
    parser.add_argument("--annotations", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--feature_cache", default=None)
    parser.add_argument("--frames_per_video", type=int, default=16)
    parser.add_argument("--overwrite", action="store_true")
    cli.add_verbose_flag(parser)
    return parser


REQUIRED_PIPELINE_FLAGS = ["--annotations", "a/*.json", "--output_dir", "out"]


def error_line(capsys, function, *arguments):
    """Run `function`, which must exit with status 2; its stderr's error line (stderr has no other)."""
    with pytest.raises(SystemExit) as exit_info:
        function(*arguments)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1 and lines[-1] == errors[0], captured.err
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), captured.err
    return errors[0]


def test_unknown_flag_names_the_closest_and_abbreviations_are_refused(capsys):
    parser = train_like_parser()
    assert error_line(capsys, parser.parse_args, ["--data_dir", "d", "--epoch", "3"]) == (
        "model.train: error: unknown flag --epoch (did you mean --epochs?)")
    assert error_line(capsys, parser.parse_args, ["--data_dir=d", "--batch-size=3", "--zzz"]) == (
        "model.train: error: unknown flags --batch-size (did you mean --batch_size?), --zzz")
    args = parser.parse_args(["--data_dir=d", "--epochs", "3", "--verbose"])
    assert (args.data_dir, args.epochs, args.batch_size, args.verbose) == ("d", 3, 32, True)


def test_a_misspelt_required_flag_is_reported_as_unknown(capsys):
    parser = train_like_parser()
    assert error_line(capsys, parser.parse_args, ["--data_dri", "d"]) == (
        "model.train: error: unknown flag --data_dri (did you mean --data_dir?)")
    assert "required: --data_dir" in error_line(capsys, parser.parse_args, ["--epochs", "3"])
    assert parser._actions[1].required  # The check put it back.


def test_a_misspelt_flag_of_a_required_choice_is_reported_as_unknown(capsys):
    parser = cli.StrictArgumentParser(prog="python -m model.launch")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--local_workers", type=int)
    mode.add_argument("--vertex", action="store_true")
    assert error_line(capsys, parser.parse_args, ["--local_worker", "2"]) == (
        "model.launch: error: unknown flag --local_worker (did you mean --local_workers?)")
    assert "one of the arguments" in error_line(capsys, parser.parse_args, [])
    assert parser.parse_args(["--local_workers", "2"]).local_workers == 2


def test_abbreviations_cannot_be_switched_back_on():
    with pytest.raises(ValueError, match="abbreviations"):
        cli.StrictArgumentParser(prog="x", allow_abbrev=True)


# Every Beam/Dataflow option the README and NOTES mention, as (arguments, option, value in PipelineOptions).
BEAM_FLAGS = [
    (["--runner", "DataflowRunner"], "runner", "DataflowRunner"),
    (["--project", "my-project"], "project", "my-project"),
    (["--region", "europe-west4"], "region", "europe-west4"),
    (["--temp_location", "gs://b/tmp"], "temp_location", "gs://b/tmp"),
    (["--staging_location", "gs://b/staging"], "staging_location", "gs://b/staging"),
    (["--setup_file", "./setup.py"], "setup_file", "./setup.py"),
    (["--sdk_container_image", "eu.gcr.io/p/videoqa:1"], "sdk_container_image", "eu.gcr.io/p/videoqa:1"),
    (["--dataflow_service_options", "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"],
     "dataflow_service_options", ["worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"]),
    (["--experiments", "no_use_multiple_sdk_containers"], "experiments", ["no_use_multiple_sdk_containers"]),
    (["--direct_running_mode", "multi_processing"], "direct_running_mode", "multi_processing"),
    (["--direct_num_workers", "2"], "direct_num_workers", 2),
    (["--max_num_workers", "8"], "max_num_workers", 8),
    (["--machine_type", "n1-standard-8"], "machine_type", "n1-standard-8"),
    (["--job_name", "videoqa-features"], "job_name", "videoqa-features"),
    (["--dry_run", "True"], "dry_run", "True"),
]


def beam_options(beam_args, caplog):
    """What Beam itself makes of `beam_args`; fails if Beam discards any of them."""
    from apache_beam.options.pipeline_options import PipelineOptions
    with caplog.at_level(logging.WARNING):
        options = PipelineOptions(beam_args).get_all_options()
    assert not [record for record in caplog.records if "Discarding" in record.getMessage()]
    return options


@pytest.mark.parametrize("form", ["separate", "equals"])
@pytest.mark.parametrize("arguments, option, value", BEAM_FLAGS, ids=[flags[0] for flags, _, _ in BEAM_FLAGS])
def test_every_beam_and_dataflow_option_passes_in_both_forms(arguments, option, value, form, caplog):
    if form == "equals":
        arguments = ["=".join(arguments)]
    argv = ["--frames_per_video", "8", *arguments, *REQUIRED_PIPELINE_FLAGS]
    args, beam_args = cli.parse_pipeline_args(pipeline_like_parser(), argv)
    assert (args.frames_per_video, args.output_dir) == (8, "out")
    assert beam_options(beam_args, caplog)[option] == value


def test_repeated_and_boolean_beam_options(caplog):
    argv = [*REQUIRED_PIPELINE_FLAGS, "--experiments", "a", "--experiments=b,c", "--save_main_session",
            "--dataflow_service_options=x=1", "--dataflow_service_options", "y=2", "--overwrite",
            "--dry_run", "--streaming", "--no_use_public_ips", "--label", "k=v"]
    args, beam_args = cli.parse_pipeline_args(pipeline_like_parser(), argv)
    assert args.overwrite
    options = beam_options(beam_args, caplog)
    assert options["experiments"] == ["a", "b", "c"]
    assert options["dataflow_service_options"] == ["x=1", "y=2"]
    assert options["save_main_session"] is True and options["streaming"] is True
    assert options["use_public_ips"] is False and options["labels"] == ["k=v"]
    assert options["dry_run"] == "True"


@pytest.mark.parametrize("arguments, dry_run", [
    (["--dry_run"], "True"), (["--dry_run=True"], "True"), (["--dry_run", "true"], "True"),
    (["--dry_run=False"], False), (["--dry_run", "--dry_run=False"], False), ([], False)])
def test_dry_run_means_what_it_says(arguments, dry_run, caplog):
    # Beam reads --dry_run's value as a string: 'False' would be true.
    _, beam_args = cli.parse_pipeline_args(pipeline_like_parser(), [*arguments, *REQUIRED_PIPELINE_FLAGS])
    assert beam_options(beam_args, caplog)["dry_run"] == dry_run


@pytest.mark.parametrize("arguments, message", [
    (["--feature_cahce", "DIR"], "unknown flag --feature_cahce (did you mean --feature_cache?)"),
    (["--frames_per_vidoe", "32"], "unknown flag --frames_per_vidoe (did you mean --frames_per_video?)"),
    (["--runer=DataflowRunner"], "unknown flag --runer (did you mean --runner?)"),
    (["--experiment_s", "x"], "unknown flag --experiment_s (did you mean --experiments?)"),
    (["--dataflow_service_option=x", "--temp_locaton", "gs://b"],
     "unknown flag --temp_locaton (did you mean --temp_location?)"),
    (["--overwrite", "extra.json"], "unexpected argument 'extra.json'"),
    (["--dry_run=maybe"], "--dry_run takes True or False, got 'maybe'"),
    (["--direct_running_mode", "many"], "argument --direct_running_mode: invalid choice: 'many'"),
])
def test_unknown_flags_of_a_beam_entry_point_are_refused_with_the_closest_of_either(
        arguments, message, capsys):
    line = error_line(capsys, cli.parse_pipeline_args, pipeline_like_parser(), [*REQUIRED_PIPELINE_FLAGS, *arguments])
    assert line.startswith("pipeline.run: error: ") and message in line


def test_pipeline_parsers_that_would_take_beam_values_are_refused():
    with_positional = pipeline_like_parser()
    with_positional.add_argument("videos")
    with pytest.raises(ValueError, match="positional"):
        cli.parse_pipeline_args(with_positional, REQUIRED_PIPELINE_FLAGS)
    shadowing = pipeline_like_parser()
    shadowing.add_argument("--project")
    with pytest.raises(ValueError, match="--project"):
        cli.parse_pipeline_args(shadowing, REQUIRED_PIPELINE_FLAGS)


def test_an_entry_point_stops_before_any_work(tmp_path):
    (tmp_path / "strict_entry.py").write_text(textwrap.dedent("""
        import sys
        from features import cli
        parser = cli.StrictArgumentParser(prog="python -m strict_entry")
        parser.add_argument("--output_dir", required=True)
        parser.add_argument("--feature_cache")
        args, beam_args = cli.parse_pipeline_args(parser, sys.argv[1:])
        open(args.output_dir + "/started", "w").close()
    """))
    environment = dict(os.environ, PYTHONPATH=REPO_DIR)
    command = [sys.executable, "-m", "strict_entry", "--output_dir", str(tmp_path)]
    completed = subprocess.run([*command, "--feature_cahce", "D", "--runner=DirectRunner"], cwd=tmp_path,
                               env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr.splitlines()[-1] == (
        "strict_entry: error: unknown flag --feature_cahce (did you mean --feature_cache?)")
    assert not (tmp_path / "started").exists()
    completed = subprocess.run([*command, "--feature_cache", "D", "--runner=DirectRunner"], cwd=tmp_path,
                               env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "started").exists()


# ---------------------------------------------------------------- quiet start-up

# Written by TensorFlow 2.21 on this machine, before absl logging starts.
STARTUP_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796596807.215618    7558 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "I0000 00:00:1796596807.342578    7558 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "E0000 00:00:1796596815.870335    7558 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1796596807.342578    7558 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "W0000 00:00:1796596807.342578    7558 fork_posix.cc:71] Other threads are currently calling into gRPC, "
    "skipping fork() handlers",
]
KEPT_LINES = [
    "E0000 00:00:1796596815.870335    7558 op_kernel.cc:1830] OP_REQUIRES failed: out of memory",
    "F0000 00:00:1796596815.870335    7558 tensor.cc:12] Check failed: dims() == 2",
    "I0512 12:00:00.000000 140234 train.py:12] a Python absl line",
    "WARNING:tensorflow:a Python warning",
    "model.train: error: --epochs must be positive",
]


def test_startup_noise_is_recognised_and_nothing_else():
    assert all(console.is_startup_noise(line) for line in STARTUP_LINES)
    assert not any(console.is_startup_noise(line) for line in KEPT_LINES)
    assert console.is_startup_noise(STARTUP_LINES[1].encode() + b"\r\n")


@pytest.mark.parametrize("argv, verbose", [
    (["--verbose"], True), (["--data_dir", "d", "--verbose=1"], True), (["--verbose_x"], False),
    (["--", "--verbose"], False), ([], False)])
def test_verbose_is_looked_for_before_any_separator(argv, verbose):
    assert console.verbose_requested(argv) is verbose


PROBE_HEADER = """
import os, sys
if __name__ == "__main__":
    from features import console
    console.quiet_tensorflow_startup(sys.argv[1:])
STARTUP = {startup!r}
KEPT = {kept!r}

def cpp_log(lines):  # As TensorFlow's C++ code writes: straight to fd 2, one write per line.
    for line in lines:
        os.write(2, (line + "\\n").encode())
"""


def run_probe(tmp_path, body, *arguments, environment=None, name="quiet_probe", merged=False):
    """`python -m <name>` from tmp_path: PROBE_HEADER (the entry point's first statement) then `body`.

    merged: stderr goes into stdout's pipe (as model.launch runs its workers).
    """
    source = PROBE_HEADER.format(startup=STARTUP_LINES, kept=KEPT_LINES) + textwrap.dedent(body)
    (tmp_path / f"{name}.py").write_text(source)
    return subprocess.run([sys.executable, "-m", name, *arguments], cwd=tmp_path,
                          env=environment or probe_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True, timeout=120)


def probe_environment(**extra):
    """This environment without any log level (the Makefile exports one): as a user's shell."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in (console.TF_LOG_LEVEL_VARIABLE, console.OWN_LOG_LEVEL_VARIABLE,
                                  console.FILTER_PIPE_VARIABLE)}
    environment.update(PYTHONPATH=REPO_DIR, **extra)
    return environment


ORDER_BODY = """
print("ours 1", file=sys.stderr)
cpp_log(STARTUP)
print("ours 2", file=sys.stderr)
cpp_log(KEPT[:2])
print("log level", os.environ.get("TF_CPP_MIN_LOG_LEVEL"), flush=True)
cpp_log(STARTUP)
sys.stderr.write("ours 3, the last, without a newline")
"""
ORDERED_KEPT = ["ours 1", "ours 2", *KEPT_LINES[:2], "ours 3, the last, without a newline"]


def test_startup_lines_are_dropped_and_the_rest_kept_in_order(tmp_path):
    completed = run_probe(tmp_path, ORDER_BODY)
    assert completed.returncode == 0
    assert completed.stderr.splitlines() == ORDERED_KEPT
    assert completed.stdout.splitlines() == ["log level 2"]


@pytest.mark.parametrize("arguments, extra_environment, level", [
    (["--verbose"], {}, "None"), ([], {"TF_CPP_MIN_LOG_LEVEL": "0"}, "0"),
    ([], {"TF_CPP_MIN_LOG_LEVEL": "2"}, "2")])
def test_verbose_or_the_users_log_level_filter_nothing(tmp_path, arguments, extra_environment, level):
    completed = run_probe(tmp_path, ORDER_BODY, *arguments, environment=probe_environment(**extra_environment))
    assert completed.returncode == 0
    assert completed.stderr.splitlines() == [
        "ours 1", *STARTUP_LINES, "ours 2", *KEPT_LINES[:2], *STARTUP_LINES, "ours 3, the last, without a newline"]
    assert completed.stdout.splitlines() == [f"log level {level}"]


@pytest.mark.parametrize("ending, status, last_lines", [
    ("raise RuntimeError('real failure')", 1, ["RuntimeError: real failure"]),
    ("sys.exit('model.predict: error: no such video')", 1, ["model.predict: error: no such video"]),
    ("print('model.train: error: bad flag', file=sys.stderr); sys.exit(2)", 2, ["model.train: error: bad flag"]),
    ("sys.stderr.flush(); os._exit(3)", 3, ["ours last"]),
    ("import signal; os.kill(os.getpid(), signal.SIGKILL)", -9, ["ours last"]),
    ("os.abort()", -6, ["ours last", KEPT_LINES[1]]),
])
def test_nothing_is_lost_however_the_process_ends(tmp_path, ending, status, last_lines):
    body = f"""
import resource
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
cpp_log(STARTUP)
print("ours last", file=sys.stderr)
cpp_log(STARTUP)
{"cpp_log(KEPT[1:2])" if "abort" in ending else ""}
{ending}
"""
    completed = run_probe(tmp_path, body)
    assert completed.returncode == status
    lines = completed.stderr.splitlines()
    assert not any(console.is_startup_noise(line) for line in lines)
    assert "ours last" in lines and lines[-len(last_lines):] == last_lines


def test_child_processes_are_filtered_and_a_verbose_child_is_not(tmp_path):
    # A Beam worker inherits fd 2 (the filter's pipe); a model.launch worker gets
    # a pipe of its own and calls quiet_tensorflow_startup itself.
    header = PROBE_HEADER.format(startup=STARTUP_LINES, kept=KEPT_LINES)
    (tmp_path / "beam_like_worker.py").write_text(header.split("if __name__")[0] + textwrap.dedent("""
        os.write(2, ({startup!r} + "\\n").encode())
        os.write(2, b"worker said\\n")
    """.format(startup=STARTUP_LINES[1])))
    (tmp_path / "launch_like_worker.py").write_text(header + textwrap.dedent("""
        cpp_log(STARTUP[1:2])
        print("worker level", os.environ.get("TF_CPP_MIN_LOG_LEVEL"), flush=True)
    """))
    body = """
import subprocess
subprocess.run([sys.executable, "beam_like_worker.py"], check=True)
for arguments in ([], ["--verbose"]):
    worker = subprocess.run([sys.executable, "-m", "launch_like_worker", *arguments], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(arguments, worker.stdout.splitlines())
"""
    completed = run_probe(tmp_path, body)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.splitlines() == ["worker said"]
    assert completed.stdout.splitlines() == [
        "[] ['worker level 2']", f"['--verbose'] [{STARTUP_LINES[1]!r}, 'worker level None']"]


INTERLEAVED_BODY = """
for index in range(100):
    print(f"out {index}", flush=True)
    print(f"err {index}", file=sys.stderr)
    if index % 25 == 0:
        cpp_log(STARTUP)
print("stderr is a terminal:", sys.stderr.isatty(), flush=True)
"""
INTERLEAVED_LINES = [f"{stream} {index}" for index in range(100) for stream in ("out", "err")]


def test_stderr_and_stdout_into_one_pipe_keep_their_order(tmp_path):
    completed = run_probe(tmp_path, INTERLEAVED_BODY, merged=True)
    assert completed.stdout.splitlines() == INTERLEAVED_LINES + ["stderr is a terminal: False"]


def test_on_a_terminal_stderr_and_stdout_keep_their_order(tmp_path):
    import pty
    (tmp_path / "terminal_probe.py").write_text(
        PROBE_HEADER.format(startup=STARTUP_LINES, kept=KEPT_LINES) + INTERLEAVED_BODY)
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "terminal_probe"], cwd=tmp_path, env=probe_environment(),
                               stdin=terminal, stdout=terminal, stderr=terminal)
    output = b""
    try:
        while True:
            if select.select([controller], [], [], 0.5)[0]:
                output += os.read(controller, 65536)
            elif process.poll() is not None:
                break
    finally:
        process.kill()
        os.close(terminal)
        os.close(controller)
    lines = output.decode().replace("\r", "").splitlines()
    assert lines == INTERLEAVED_LINES + ["stderr is a terminal: True"]


# Real TensorFlow: import it, use a device (cuInit's line comes then), then end.
TENSORFLOW_BODY = """
print("before import", file=sys.stderr)
import tensorflow as tf
print("after import", file=sys.stderr)
print("sum", float(tf.reduce_sum(tf.constant([1.0, 2.0]))), flush=True)
print("after device", file=sys.stderr)
if "--fail" in sys.argv:
    raise RuntimeError("real failure")
if "--exit" in sys.argv:
    print("entry: error: stopping", file=sys.stderr)
    sys.exit(2)
"""
TENSORFLOW_MARKERS = ["before import", "after import", "after device"]


@pytest.fixture(scope="module")
def tensorflow_runs(tmp_path_factory):
    """Three real TensorFlow processes run side by side: {name: (status, stdout, stderr)}."""
    directory = tmp_path_factory.mktemp("tensorflow_probe")
    (directory / "tf_probe.py").write_text(PROBE_HEADER.format(startup=[], kept=[]) + TENSORFLOW_BODY)
    runs = {"quiet": (["--fail"], probe_environment()),
            "verbose": (["--verbose", "--exit"], probe_environment()),
            "user_level": ([], probe_environment(TF_CPP_MIN_LOG_LEVEL="0"))}
    processes = {name: subprocess.Popen([sys.executable, "-m", "tf_probe", *arguments], cwd=directory,
                                        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                 for name, (arguments, environment) in runs.items()}
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=600)
        results[name] = (process.returncode, stdout, stderr)
    return results


@pytest.mark.slow
def test_tensorflow_starts_quietly_and_real_errors_still_show(tensorflow_runs):
    status, stdout, stderr = tensorflow_runs["quiet"]
    lines = stderr.splitlines()
    assert status == 1 and stdout == "sum 3.0\n"
    assert lines[:3] == TENSORFLOW_MARKERS, stderr
    assert lines[3] == "Traceback (most recent call last):" and lines[-1] == "RuntimeError: real failure"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["verbose", "user_level"])
def test_tensorflow_startup_lines_show_with_verbose_or_the_users_level(tensorflow_runs, name):
    status, stdout, stderr = tensorflow_runs[name]
    lines = stderr.splitlines()
    assert stdout == "sum 3.0\n"
    noise = [line for line in lines if console.is_startup_noise(line)]
    assert any("cudart_stub.cc" in line or "cpu_feature_guard.cc" in line for line in noise), stderr
    assert [line for line in lines if line in TENSORFLOW_MARKERS] == TENSORFLOW_MARKERS
    if name == "verbose":
        assert status == 2 and lines[-1] == "entry: error: stopping"
    else:
        assert status == 0
