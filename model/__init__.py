"""The VideoQA model: training, evaluation, export, prediction and launching.

Modules (each one job):
  storage     the model directory's layout and its file I/O
  config      the run configuration saved as M/config.json, and resume checks
  data_info   what a pipeline output dir provides (vocabularies, statistics)
  data        tf.data input pipelines over the pipeline's record shards
  network     the Keras model (LSTM / mean / question-only video encoders)
  strategy    tf.distribute strategy choice and chief/worker roles
  callbacks   checkpoint verification, history, best model, throughput
  train       `python -m model.train`
  evaluate    `python -m model.evaluate`
  report      its Markdown table and PNG plots
  export      `python -m model.export`: the serving SavedModel
  predict     `python -m model.predict`: answer questions about a video file
  launch      `python -m model.launch`: local multi-worker and Vertex AI jobs
  vertex      the Vertex AI custom job specification (and its submission)

Keras 2 (`tf_keras`) is used everywhere, as in `features`. Importing this
package has no side effects.
"""
