"""Benchmarks: `python -m benchmarks.run` (or `make bench`).

Every figure is measured in one run, on one machine, with one image size
(96x96; 1h and 7c again at 299x299) and one inference batch size, and reported as a ratio against a reference
measured in the same run (the bare CNN, training from memory, ...). Results
go to `benchmarks/results.json` and `benchmarks/results.md`.

Modules (each one job; none does anything on import):
  run                 the driver: flags, order of the measurements, results files
  machine             describes the machine (cores, RAM, CPU, TensorFlow, load)
  procs               runs a command in a child process: wall time and peak memory
  commands            the project's real command lines (synthetic data, pipeline, trainer)
  datasets            scratch data sets: synthetic videos, extra-questions copy, a long clip
  pipeline_runs       runs `python -m pipeline.run` and reads its summary, manifest and records
  cnn_limit           child: the bare frozen CNN in a tight loop (batched and per frame)
  decode_cost         child: decoding + sampling + resizing cost per sampled frame
  training_input      child: training fed from the records vs from memory
  end_to_end          child: the original design, TimeDistributed(InceptionV3) on raw frames
  accuracy            child: test accuracy of trained models (float16 vs uint8 storage)
  latency             child: answering latency on a 10-second clip vs the CNN alone
  analysis            turns raw measurements into the ratios, breakdowns and verdicts
  notes               explains, with the run's numbers, each figure that misses its goal
  report              results.json, the Markdown table and the console print-out

Children are run as `python -m benchmarks.<module> --json_out FILE ...` so each
measurement starts from a fresh process (no warm caches, its own peak memory).
"""
