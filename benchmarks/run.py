"""`python -m benchmarks.run [--quick]`: every figure, as JSON lines on stdout, then the results files.

    python -m benchmarks.run [--quick] [--work_dir DIR] [--results_dir DIR] [--baseline FILE] [--seed 0]

`make bench` runs it as it is (299 px, 2-minute clips, MSVD-QA's full size;
10 minutes or more here) and writes `benchmarks/results.json` and
`benchmarks/results.md`. `--quick` (`make bench-quick`, and a test) runs
every measurement on tiny data to show that none has rotted; its numbers mean
nothing, and its results go to the work dir unless --results_dir says
otherwise. Progress goes to stderr, library logs to WORK/libraries.log.
"""

if __name__ == "__main__":
    import sys as _sys

    from features import console as _console
    _console.quiet_tensorflow_startup(_sys.argv[1:])

import dataclasses
import json
import os
import shutil
import sys
import time

from benchmarks import annotation_scale, cache_rerun, common, latency, pipeline_vs_cnn, report, seeking, storage
from features import cli

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
WORK_MARKER = ".benchmarks-work"  # Only a directory holding it is emptied at the start.
# In this order: the later ones use what pipeline_vs_cnn shares (its runs, the CNN's rate, the fixed cost).
MODULES = (pipeline_vs_cnn, cache_rerun, seeking, annotation_scale, latency, storage)


def build_parser():
    parser = cli.StrictArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data: checks that every measurement runs")
    parser.add_argument("--work_dir", default=None,
                        help="scratch directory, emptied first (default benchmarks/work[/quick])")
    parser.add_argument("--results_dir", default=None,
                        help="where results.json and results.md go (default benchmarks/, or the work dir with --quick)")
    parser.add_argument("--baseline", default=os.path.join(BENCH_DIR, "baseline.json"),
                        help="the before figures (see benchmarks/README.md)")
    parser.add_argument("--seed", type=int, default=0)
    cli.add_verbose_flag(parser)
    return parser


def run(argv=None):
    args = build_parser().parse_args(argv)
    work_dir = args.work_dir or os.path.join(BENCH_DIR, "work", "quick" if args.quick else "")
    make_settings = common.Settings.quick_run if args.quick else common.Settings
    settings = make_settings(work_dir=os.path.abspath(work_dir), seed=args.seed)
    marker = os.path.join(settings.work_dir, WORK_MARKER)
    if os.path.isdir(settings.work_dir) and os.listdir(settings.work_dir) and not os.path.exists(marker):
        raise ValueError(f"--work_dir {settings.work_dir} is not empty and not a benchmark work dir "
                         f"(no {WORK_MARKER}), and it would be emptied: remove it or give another --work_dir")
    shutil.rmtree(settings.work_dir, ignore_errors=True)
    os.makedirs(settings.work_dir)
    open(marker, "w").close()
    common.quiet_library_logs(settings.path("libraries.log"))
    command = " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)])
    started, load_at_start, shared, figures = time.perf_counter(), os.getloadavg()[0], {}, []
    for module in MODULES:
        for line in module.measure(settings, shared):
            print(json.dumps(line), flush=True)
            figures.append(line)
    paths = report.write(args.results_dir or (settings.work_dir if args.quick else BENCH_DIR), figures,
                         dataclasses.asdict(settings), args.baseline, command, time.perf_counter() - started,
                         load_at_start)
    common.say(f"wrote {', '.join(paths)} in {(time.perf_counter() - started) / 60:.1f} min")
    return 0


def main():
    try:
        sys.exit(run())
    except ValueError as error:
        print(f"benchmarks.run: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
