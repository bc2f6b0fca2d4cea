"""Child: the original design, TimeDistributed(InceptionV3) inside the model on raw frames.

    python -m benchmarks.end_to_end --json_out F --data_dir OUT --video_dir D/videos
        [--batch_size 32] [--steps 3]

Same videos, questions, image size and frames per video as the pipeline run
in OUT: the training questions (token ids and labels) are read from OUT's
records, each training video is decoded once with the pipeline's own
`features.video.decode_video`, and the frames are kept in memory (favourable
to this design: a real end-to-end trainer would decode again every epoch;
the decode time is reported so it can be added). The model is the frozen
CNN (`features.cnn.build_cnn`, preprocessing included) under TimeDistributed,
feeding our own network (`model.network`) unchanged; the CNN is frozen, so
no gradient flows through it. `steps` training steps are timed after one
warm-up step and the epoch time is extrapolated to the trainer's steps per
epoch (train questions // batch size).
"""

import argparse
import os
import time

from benchmarks import commands


def _train_questions(data_dir, feature_dtype):
    """[(video_id, [token id lists], [labels])] of the train split, from the records."""
    from features import records, schema

    videos = []
    for serialized in records.read_records(schema.record_file_pattern(data_dir, schema.TRAIN_SPLIT)):
        parsed = records.parse_video_example_numpy(serialized, feature_dtype)
        videos.append((parsed[schema.VIDEO_ID_KEY], parsed[schema.QUESTION_TOKEN_IDS_KEY],
                       parsed[schema.LABEL_KEY]))
    return videos


def build_model(info, image_size):
    """Raw uint8 frames [B, T, S, S, 3] + num_frames + tokens -> answer probabilities."""
    import tensorflow as tf
    import tf_keras as keras

    from features import cnn, schema
    from model import config as config_lib
    from model import network

    frozen = cnn.build_cnn(cnn.RANDOM_WEIGHTS, image_size)
    frames = keras.Input(shape=(None, image_size, image_size, 3), dtype="uint8", name="frames")
    num_frames = keras.Input(shape=(), dtype="int32", name=schema.NUM_FRAMES_KEY)
    tokens = keras.Input(shape=(None,), dtype="int32", name=schema.QUESTION_TOKEN_IDS_KEY)
    preprocessed = keras.layers.Lambda(lambda x: cnn.preprocess(tf.cast(x, tf.float32)),
                                       name="preprocess")(frames)
    features = keras.layers.TimeDistributed(frozen, name="time_distributed_inception_v3")(preprocessed)
    head = network.build_from_data_info(config_lib.NetworkConfig(), info)
    outputs = head({schema.FRAME_FEATURES_KEY: features, schema.NUM_FRAMES_KEY: num_frames,
                    schema.QUESTION_TOKEN_IDS_KEY: tokens})
    model = keras.Model({"frames": frames, schema.NUM_FRAMES_KEY: num_frames,
                         schema.QUESTION_TOKEN_IDS_KEY: tokens}, outputs, name="end_to_end_inception")
    return network.compile_model(model, config_lib.TrainingConfig().learning_rate)


def measure(data_dir, video_dir, batch_size, steps, seed=0):
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from features import manifest as manifest_lib
    from features import schema, video
    from model import data_info as data_info_lib

    keras.utils.set_random_seed(seed)
    info = data_info_lib.load_data_info(data_dir)
    image_size = info.signature.image_size
    sampling_config = manifest_lib.sampling_config(info.manifest)
    videos = _train_questions(data_dir, info.feature_dtype)

    started = time.perf_counter()
    clips, video_index, token_rows, labels = [], [], [], []
    for index, (video_id, token_ids, video_labels) in enumerate(videos):
        path = os.path.join(video_dir, f"video{video_id}.mp4")
        clips.append(video.decode_video(path, sampling_config, image_size).frames)
        for ids, label in zip(token_ids, video_labels):
            if label >= 0:
                video_index.append(index)
                token_rows.append(ids[:info.max_question_tokens])
                labels.append(label)
    decode_seconds = time.perf_counter() - started
    if len({clip.shape for clip in clips}) != 1:
        raise ValueError("clips sampled to different frame counts; this benchmark assumes one count")
    frames = tf.constant(np.stack(clips))
    length = max(len(row) for row in token_rows)
    tokens = np.zeros((len(token_rows), length), np.int32)
    for row, ids in enumerate(token_rows):
        tokens[row, :len(ids)] = ids
    questions = tf.data.Dataset.from_tensor_slices(
        (np.asarray(video_index, np.int32), tokens, np.asarray(labels, np.int64)))

    def to_example(index, question_tokens, label):
        clip = tf.gather(frames, index)
        return ({"frames": clip, schema.NUM_FRAMES_KEY: tf.shape(clip)[0],
                 schema.QUESTION_TOKEN_IDS_KEY: question_tokens}, label)

    dataset = (questions.repeat().shuffle(1024, seed=seed)
               .map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
               .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    model = build_model(info, image_size)
    model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)  # Trace and warm up.
    started = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - started
    train_questions = len(labels)
    steps_per_epoch = train_questions // batch_size
    frames_per_clip = int(frames.shape[1])
    return {
        "image_size": image_size, "frames_per_video": frames_per_clip, "batch_size": batch_size,
        "train_videos": len(videos), "train_questions": train_questions,
        "steps_per_epoch": steps_per_epoch, "measured_steps": steps,
        "measured_seconds": seconds, "seconds_per_step": seconds / steps,
        "cnn_frames_per_second": steps * batch_size * frames_per_clip / seconds,
        "epoch_seconds_extrapolated": seconds / steps * steps_per_epoch,
        "decode_seconds_all_train_videos": decode_seconds,
        "parameters": model.count_params(),
    }


def run(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.end_to_end",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--json_out", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--video_dir", required=True)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    args = parser.parse_args(argv)
    result = measure(args.data_dir, args.video_dir, args.batch_size, args.steps)
    commands.write_result(args.json_out, result)
    return result


if __name__ == "__main__":
    run()
