"""Resizing sampled frames to the CNN's input size: one rule for the pipeline and serving.

`resize_frames` is bilinear with antialiasing, rounded back to uint8. Decoding
(`features.video`) resizes with it while it reads a clip; the exported
`serving_frames` signature calls the same function inside its graph, so a
frame reaches the CNN with identical pixels on both paths. This module needs
TensorFlow but not Keras: decoding never builds a CNN.
"""

import tensorflow as tf


def _resize(frames, image_size):
    resized = tf.image.resize(tf.cast(frames, tf.float32), (image_size, image_size),
                              method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


# The same ops as one graph call: decoding resizes every sampled frame eagerly,
# and six eager op dispatches per frame cost about a third of the whole. Results
# are identical: the same kernels run. One function per rank, so that after the
# first size a trace serves every size.
_resize_graph_by_rank = {3: tf.function(_resize, reduce_retracing=True),
                         4: tf.function(_resize, reduce_retracing=True)}


def resize_frames(frames, image_size):
    """uint8 [..., H, W, 3] -> uint8 [..., size, size, 3]: bilinear with antialiasing, rounded."""
    frames = tf.convert_to_tensor(frames)
    if frames.shape[-3] == image_size and frames.shape[-2] == image_size:
        return tf.cast(frames, tf.uint8)
    if tf.executing_eagerly() and frames.shape.rank in _resize_graph_by_rank:
        return _resize_graph_by_rank[frames.shape.rank](frames, image_size)
    return _resize(frames, image_size)
