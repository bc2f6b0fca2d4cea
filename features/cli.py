"""TEMPORARY stand-in (replaced by the strict-flags module)."""

import argparse


class ArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def parse_pipeline_args(parser, argv):
    return parser.parse_known_args(argv)
