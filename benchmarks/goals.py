"""Every figure the benchmarks report, in report order, with its goal (if any): the one table of goals.

`FIGURES[id] = (short name, comparison, threshold)`; comparison is ">=" or
"<=" (or None: no goal). `benchmarks/README.md` explains each figure and why
its goal is what it is.
"""

import operator

FIGURES = {
    # 1 pipeline against the bare CNN (pipeline_vs_cnn)
    "cnn_frames_per_second": ("bare CNN, batches of 32", None, None),
    "pipeline_steady_vs_cnn": ("pipeline steady state / bare CNN", ">=", 0.85),
    "pipeline_steady_cpu_vs_cnn": ("CPU time per frame: bare CNN / pipeline steady state", None, None),
    "pipeline_whole_vs_cnn": ("whole pipeline run, large set / bare CNN", None, None),
    "pipeline_cnn_stage_vs_cnn": ("the pipeline's CNN stage / bare CNN", None, None),
    "pipeline_fixed_seconds": ("fixed cost of a pipeline run", None, None),
    # 2 re-run with the feature cache (cache_rerun)
    "cache_rerun_vs_first_run": ("re-run with --feature_cache / first run", "<=", 0.2),
    # 3 long clips (seeking)
    "seek_decode_vs_sequential": ("decode 16 frames of a 2-minute clip: seeking / sequential", "<=", 0.25),
    "long_clip_pipeline_vs_cnn": ("pipeline steady state on 2-minute clips / bare CNN", ">=", 0.8),
    # 4 annotations and tf.Transform at MSVD-QA scale (annotation_scale)
    "msvd_seconds": ("pipeline.run on MSVD-QA's 50,505 questions", None, None),
    "msvd_peak_mib": ("its peak memory (process tree)", None, None),
    "msvd_4x_seconds_vs_1x": ("4x the questions: time / 1x", None, None),
    "msvd_4x_memory_vs_1x": ("4x the questions: peak memory / 1x", None, None),
    # 5 answering with a warm model (latency)
    "answer_ms": ("decode + answer one clip, model loaded", None, None),
    "answer_vs_cnn": ("decode + answer / the CNN alone on the same frames", "<=", 1.2),
    "model_load_seconds": ("loading the exported model", None, None),
    # 6 storage (storage)
    "storage_float32_vs_payload": ("float32 record bytes per video / raw features", "<=", 1.05),
    "storage_float16_vs_payload": ("float16 record bytes per video / raw features", "<=", 1.05),
    "storage_uint8_vs_payload": ("uint8 record bytes per video / raw features", "<=", 1.05),
}

_COMPARE = {">=": operator.ge, "<=": operator.le}


def goal_text(figure_id):
    _, comparison, threshold = FIGURES[figure_id]
    return f"{comparison} {threshold:g}" if comparison else ""


def meets(figure_id, value):
    """True or False against the figure's goal; None without a goal or a value."""
    _, comparison, threshold = FIGURES[figure_id]
    if comparison is None or value is None:
        return None
    return bool(_COMPARE[comparison](value, threshold))
