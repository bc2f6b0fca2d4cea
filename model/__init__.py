"""The VideoQA model: training, evaluation, export, answering, serving and launching.

Modules (each one job):
  storage          the model directory's layout and its file I/O
  config           the run configuration saved as M/config.json, and resume checks
  data_info        what a pipeline output dir provides (task, vocabularies, statistics)
  data             tf.data input pipelines over the pipeline's record shards
  network          the Keras model: one design, three answer heads (open-ended, multiple choice, count)
  encoders         the table of video encoders (lstm, mean, none, attention, transformer)
  attention_layers the layers of the attention and Transformer encoders
  strategy         tf.distribute strategy choice and chief/worker roles
  callbacks        checkpoint verification, history, best model, throughput
  checkpoint       rebuilding a trained model for evaluation and export
  train            `python -m model.train`
  evaluate         `python -m model.evaluate` (the benchmark's metric, per type)
  report           its Markdown table and PNG plots
  export           `python -m model.export`: the serving SavedModel
  answering        a loaded export: decode a clip, answer questions (predict and serve use it)
  predict          `python -m model.predict`: answer questions about a video file
  explain          the --explain picture: sampled frames and the weight each question gave them
  serve            `python -m model.serve`: a page and an HTTP API (serve_app, serve_upload, thumbnails)
  ablation         `python -m model.ablation`: models side by side, by question group
  launch           `python -m model.launch`: local multi-worker and Vertex AI jobs
  vertex           the Vertex AI custom job specification (and its submission)

Keras 2 (`tf_keras`) is used everywhere, as in `features`. Nothing here
imports `pipeline`. Importing this package has no side effects.
"""
