"""The feature contract shared by the Beam pipeline, the trainer and serving.

Everything both sides must agree on lives here and only here: record keys,
tasks, dtypes and defaults (`schema`), the typed rows and clips passed
between stages (`questions`), the backbone registry (`backbones`) and the
frozen CNN (`cnn`), resizing (`frames`), video decoding (`video`, with
`demux` and `seeking`), frame sampling (`sampling`), feature storage and
quantisation (`quantize`), question text normalisation (`text`), the record
codec (`records`), the manifest (`manifest`), the tf.Transform graph
(`transform`), the serving signature names (`serving`), and the command-line
conventions of every entry point (`cli`, `console`). Importing this package
has no side effects, and imports no submodule.

Keras: this project uses Keras 2 (`tf_keras`) everywhere, deliberately.
`tensorflow_transform` switches `tf.keras` to Keras 2 in any process that
imports it, and its transform layer is a Keras 2 layer, so one Keras across the
pipeline, the trainer and the exported model avoids mixing the two. Only
`features.transform` imports tensorflow_transform, and only the pipeline, the
trainer and the export import it.
"""
