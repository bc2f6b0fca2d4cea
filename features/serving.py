"""Names of the exported SavedModel's signatures, inputs and outputs (no TensorFlow here).

Used by the export (`model.export`), by everything that calls it
(`model.predict`, `model.serve`, the benchmarks) and by users' own code:

  serving_features(question [Q] string, frame_features [Q, T, D] float32,
                   num_frames [Q] int32 [, candidates [Q, C] string])
  serving_frames(frames [T, H, W, 3] uint8, question [Q] string
                 [, candidates [Q, C] string])

`candidates` exists only in a multiple-choice model's signatures. Outputs:
`answers` [Q, K] strings, best first (the answer vocabulary for open-ended
questions, the question's own candidates for multiple choice, the rounded
number for count), `probabilities` [Q, K] float32, and for count models
`count` [Q] float32 (the regression output, clipped to the training range).
Models whose video encoder attends over frames also return `frame_weights`
[Q, T]: the weight each frame got.
"""

SIGNATURE_FEATURES = "serving_features"
SIGNATURE_FRAMES = "serving_frames"
SIGNATURES = (SIGNATURE_FEATURES, SIGNATURE_FRAMES)

INPUT_QUESTION = "question"
INPUT_CANDIDATES = "candidates"
INPUT_FRAME_FEATURES = "frame_features"
INPUT_NUM_FRAMES = "num_frames"
INPUT_FRAMES = "frames"

OUTPUT_ANSWERS = "answers"
OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_COUNT = "count"
OUTPUT_FRAME_WEIGHTS = "frame_weights"

DEFAULT_TOP_K = 10
# Most frames per CNN call inside serving_frames: bounds memory on long clips.
CNN_CHUNK_FRAMES = 32
