"""The feature contract shared by the Beam pipeline, the trainer and serving.

Everything both sides must agree on lives here and only here: record keys,
dtypes and defaults (`schema`), frame sampling (`sampling`), video decoding
(`video`), the frozen CNN (`cnn`), feature storage and quantisation
(`quantize`), question text normalisation (`text`) and the record codec
(`records`). Importing this package has no side effects.

Keras: this project uses Keras 2 (`tf_keras`) everywhere, deliberately.
`tensorflow_transform` switches `tf.keras` to Keras 2 in any process that
imports it, and its transform layer is a Keras 2 layer, so one Keras across the
pipeline, the trainer and the exported model avoids mixing the two.
"""
