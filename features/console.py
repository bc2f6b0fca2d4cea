"""TEMPORARY stand-in (replaced by the quiet start-up module)."""

import os


def quiet_tensorflow_startup(argv):
    if "--verbose" not in argv:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
