"""Benchmarks: `python -m benchmarks.run` (`make bench`; `--quick` for `make bench-quick`).

One module per measurement, each a `measure(settings, shared)` generator of
figure lines (`common.figure`), measured from the product itself (pipeline
manifests' timings and counts, `model.answering`, `features.cnn`):

  pipeline_vs_cnn    1  the pipeline against the bare CNN (steady state, whole run, CNN stage, fixed cost)
  cache_rerun        2  a re-run with --feature_cache after a vocabulary change, against the first run
  seeking            3  long clips: seeking against sequential decoding; the pipeline on 2-minute clips
  annotation_scale   4  annotations and tf.Transform at MSVD-QA's size and 4x: time and peak memory
  latency            5  answering with a warm model against the CNN alone on the same frames
  storage            6  record bytes per video per feature dtype against the raw features

`common` (settings, figures, the bare CNN, pipeline runs), `memory` (child
processes' peak memory), `goals` (the figures and their goals), `report`
(results.json, results.md), `run` (the driver); `long_clip` writes long test
clips. What each figure means: `benchmarks/README.md`.

`ablation_run` (`make ablation`, `python -m benchmarks.ablation_run`) is the
video-encoder ablation: synthetic kinds -> `pipeline.run` -> every encoder
through `model.train` and `model.evaluate` -> one accuracy table. It lives
here because it drives both the pipeline and the trainer, which stand side
by side and never import each other. Nothing runs on import.
"""
