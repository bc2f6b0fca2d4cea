"""Strict command lines for the `python -m` entry points: a misspelt flag is an error that names the closest flag.

    parser = cli.StrictArgumentParser(prog="python -m model.evaluate", description=...)
    cli.add_verbose_flag(parser)
    args = parser.parse_args(argv)          # --epoch 3: "unknown flag --epoch (did you mean --epochs?)"

    args, beam_args = cli.parse_pipeline_args(parser, argv)   # Beam entry points
    options = PipelineOptions(beam_args)

argparse alone accepts abbreviations (`--epoch` for `--epochs`) and suggests
nothing; Beam's PipelineOptions drops a flag it cannot parse with a warning,
so `--frames_per_vidoe 32` would run a whole job without it. Here
abbreviations are refused, and `parse_pipeline_args` checks what our parser
leaves against every option of every registered PipelineOptions class before
any work starts. Errors exit with status 2: argparse's usage line, then one
line such as

    pipeline.run: error: unknown flag --feature_cahce (did you mean --feature_cache?)

Importing this module has no side effects; Beam is imported by
`parse_pipeline_args` only.
"""

import argparse
import difflib
import sys

from features import console

ENTRY_POINT_PREFIX = "python -m "
STRING_BOOLEAN_TRUE = ("true", "1", "yes")
STRING_BOOLEAN_FALSE = ("false", "0", "no")


class StrictArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser without abbreviations whose unknown-flag error names the closest known flag.

    Give `prog="python -m package.module"`: the usage line shows the runnable
    command, error lines start with "package.module: error:".
    """

    def __init__(self, *args, **kwargs):
        if kwargs.get("allow_abbrev", False):
            raise ValueError("StrictArgumentParser refuses abbreviations: do not pass allow_abbrev=True")
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        extras = leftover_arguments(self, args)
        if extras:
            self.error(unknown_arguments_message(extras, long_flags(self)))
        return super().parse_args(args, namespace)

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"{short_program_name(self.prog)}: error: {message}\n")


def short_program_name(prog):
    """'python -m pipeline.run' -> 'pipeline.run' (the name error lines start with)."""
    return prog[len(ENTRY_POINT_PREFIX):] if prog.startswith(ENTRY_POINT_PREFIX) else prog


def add_verbose_flag(parser):
    """--verbose: the flag `console.quiet_tensorflow_startup` looks for (it runs before parsing)."""
    parser.add_argument(console.VERBOSE_FLAG, action="store_true",
                        help="show the libraries' start-up and debug lines on stderr "
                             "(TensorFlow's C++ logs, CUDA probing), hidden by default")


def closest_flag(flag, known_flags):
    """The known flag nearest to `flag` (difflib), or None if none is close."""
    name = flag.split("=", 1)[0]
    if not name.startswith("--"):
        name = "--" + name.lstrip("-")
    matches = difflib.get_close_matches(name, sorted(set(known_flags)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _looks_like_flag(argument):
    if not argument.startswith("-") or argument == "-":
        return False
    try:
        float(argument)
        return False  # A negative number.
    except ValueError:
        return True


def unknown_arguments_message(extras, known_flags):
    """One line naming each unknown flag (with the closest known one), or the first stray value."""
    flags = [argument for argument in extras if _looks_like_flag(argument)]
    if not flags:
        return (f"unexpected argument {extras[0]!r} (a pattern the shell expanded? quote it: "
                f"--annotations 'dir/*.json')")
    described = []
    for flag in flags:
        name = flag.split("=", 1)[0]
        suggestion = closest_flag(name, known_flags)
        described.append(f"{name} (did you mean {suggestion}?)" if suggestion else name)
    return f"unknown flag{'s' if len(described) > 1 else ''} {', '.join(described)}"


def parse_pipeline_args(parser, argv=None):
    """(our arguments, Beam's arguments) of a Beam entry point; exits with status 2 on any unknown flag.

    `parser` has only flags (no positional arguments: one would take a Beam
    flag's value). What it leaves must be options of a registered
    PipelineOptions class (Standard, GoogleCloud, Worker, Setup, Debug,
    Direct, Portable, ...), in `--flag value` or `--flag=value` form. Beam's
    string-valued booleans (--dry_run) are normalised: a bare `--dry_run` means
    `--dry_run=True`, and `--dry_run=False` is dropped (Beam would take the
    string 'False' as true). Beam option values are checked by Beam's own
    parser (e.g. --direct_running_mode's choices).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    positionals = [action.dest for action in parser._actions if not action.option_strings]
    if positionals:
        raise ValueError(f"parse_pipeline_args needs a parser without positional arguments, "
                         f"got {positionals}: they would take a Beam flag's value")
    beam_parser = _beam_options_parser(parser.prog)
    our_flags = set(long_flags(parser)) - {"--help"}
    shared = sorted(our_flags & set(long_flags(beam_parser)))
    if shared:
        raise ValueError(f"flags {shared} are both the entry point's and Beam's: rename the entry point's")
    _, unknown = beam_parser.parse_known_args(
        _normalise_string_booleans(leftover_arguments(parser, argv), beam_parser))
    if unknown:
        parser.error(unknown_arguments_message(unknown, long_flags(parser) + long_flags(beam_parser)))
    args, rest = parser.parse_known_args(argv)
    return args, _normalise_string_booleans(rest, beam_parser)


def long_flags(parser):
    """Every long flag of an argparse parser, e.g. ['--help', '--model_dir', ...]."""
    return [flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")]


def leftover_arguments(parser, argv):
    """What `parser` does not take of `argv`, found before its check of required flags.

    So that a misspelt required flag (--output_dri) is reported as unknown
    rather than as "the following arguments are required: --output_dir".
    """
    required = [(action, action.required) for action in parser._actions]
    groups = [(group, group.required) for group in parser._mutually_exclusive_groups]
    try:
        for action, _ in required:
            action.required = False
        for group, _ in groups:
            group.required = False
        _, extras = argparse.ArgumentParser.parse_known_args(parser, argv, argparse.Namespace())
    finally:
        for action, was_required in required:
            action.required = was_required
        for group, was_required in groups:
            group.required = was_required
    return extras


def _pipeline_options_classes():
    """Every PipelineOptions subclass, recursively (Beam's own get_all_options looks one level deep)."""
    from apache_beam.options import pipeline_options
    found, pending = [], list(pipeline_options.PipelineOptions.__subclasses__())
    while pending:
        options_class = pending.pop(0)
        if options_class not in found:
            found.append(options_class)
            pending.extend(options_class.__subclasses__())
    return found


def _beam_options_parser(prog):
    """Beam's own argument parser holding every registered option; errors in our one-line format."""
    from apache_beam.options import pipeline_options

    class BeamOptionsParser(pipeline_options._BeamArgumentParser):  # add_value_provider_argument lives there.
        def error(self, message):
            self.exit(2, f"{short_program_name(prog)}: error: {message}\n")

    beam_parser = BeamOptionsParser(prog=prog, allow_abbrev=False, add_help=False,
                                    conflict_handler="resolve", usage=argparse.SUPPRESS)
    for options_class in _pipeline_options_classes():
        options_class._add_argparse_args(beam_parser)
    return beam_parser


def _string_boolean_flags(beam_parser):
    """Beam flags that take one string but default to a bool (--dry_run): Beam reads any string as true."""
    return {flag for action in beam_parser._actions
            if type(action) is argparse._StoreAction and action.nargs is None and action.type is None
            and isinstance(action.default, bool)
            for flag in action.option_strings}


def _normalise_string_booleans(arguments, beam_parser):
    """--dry_run -> --dry_run=True; --dry_run True -> --dry_run=True; --dry_run=False -> (dropped)."""
    flags = _string_boolean_flags(beam_parser)
    normalised, index = [], 0
    while index < len(arguments):
        name, has_value, value = arguments[index].partition("=")
        index += 1
        if name not in flags:
            normalised.append(arguments[index - 1])
            continue
        if not has_value:
            following = arguments[index] if index < len(arguments) else None
            if following is not None and not _looks_like_flag(following):
                value = following
                index += 1
            else:
                value = "True"
        if value.lower() not in STRING_BOOLEAN_TRUE + STRING_BOOLEAN_FALSE:
            beam_parser.error(f"{name} takes True or False, got {value!r}")
        normalised = [argument for argument in normalised if argument != f"{name}=True"]  # The last one wins.
        if value.lower() in STRING_BOOLEAN_TRUE:
            normalised.append(f"{name}=True")
    return normalised
