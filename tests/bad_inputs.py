"""Real bad inputs for tests/test_robustness_*.py: videos encoded with PyAV, files written byte for byte.

Nothing here is mocked: every video is a real container written by PyAV's
FFmpeg (through `pipeline.synthetic.write_video` where its options suffice),
then damaged, if the case asks for it, by cutting or replacing its bytes.

Frames are "numbered": frame i is filled with brightness `i * BRIGHTNESS_STEP`
(mod 256 for long clips), so a test can tell which frames a decoder returned.

Two data sets gather the cases of issue 5 so that each costs one pipeline run:
  build_bad_dataset     every bad video and annotation row (`--video_pattern {video_id}`)
  build_mapped_dataset  MSVD-QA layout with escaping `youtube_mapping.txt` entries
`bad_inputs_run` / `mapped_run` run `python -m pipeline.run` over each once per
test session (like `model_helpers.trained_model_dir`) and return its outputs;
the mapped run calls the same `pipeline.run.main` in the test process.
"""

import fractions
import json
import os

import av
import numpy as np

from pipeline import synthetic

BRIGHTNESS_STEP = 12
FOUR_K = (3840, 2160)


def numbered_frames(count, width, height, start=0):
    """uint8 RGB [count, height, width, 3]; frame i has brightness (start + i) * BRIGHTNESS_STEP mod 256."""
    levels = ((start + np.arange(count)) * BRIGHTNESS_STEP) % 256
    return np.broadcast_to(levels.astype(np.uint8)[:, None, None, None], (count, height, width, 3)).copy()


def frame_number(frame, start=0):
    """Inverse of `numbered_frames` for short clips (brightness of a decoded frame -> index)."""
    return int(round(float(np.mean(frame)) / BRIGHTNESS_STEP)) - start


def write_clip(path, count, width=64, height=48, fps=24, **encoding):
    """A well-formed clip of `count` numbered frames (H.264 unless `codec=`; container from the extension)."""
    synthetic.write_video(str(path), numbered_frames(count, width, height), fps, **encoding)
    return str(path)


def write_empty(path):
    open(path, "wb").close()
    return str(path)


def write_truncated(path, source, keep_fraction):
    """The first `keep_fraction` of `source`'s bytes: a copy cut off mid-stream."""
    with open(source, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[:int(len(data) * keep_fraction)])
    return str(path)


def write_mp4_with_index_first(path, count, width=64, height=48, fps=24):
    """An MP4 whose 'moov' index precedes the media data (movflags=faststart), as streamed files are."""
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "17", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, rgb in enumerate(numbered_frames(count, width, height)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def write_random_bytes(path, size=40_000, seed=0):
    with open(path, "wb") as handle:
        handle.write(np.random.default_rng(seed).bytes(size))
    return str(path)


def write_text(path, text="This is a README, not a video.\n" * 40):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(path)


def write_audio_only(path, seconds=1.0, sample_rate=16000):
    """An AAC tone in an MP4 container: a real media file with no video stream."""
    times = np.arange(int(seconds * sample_rate)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32)[np.newaxis, :]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=sample_rate)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = sample_rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return str(path)


def write_long_clip(path, count, width=160, height=120, fps=25):
    """A long clip of numbered frames, encoded one frame at a time (never all in memory) and fast."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "30"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(count):
            rgb = np.full((height, width, 3), (index * BRIGHTNESS_STEP) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def write_4k_clip(path, count=3):
    """A very short 3840x2160 clip: top half bright, bottom half dark."""
    width, height = FOUR_K
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[:, :height // 2] = 200
    synthetic.write_video(str(path), frames, 25, options={"preset": "ultrafast"})
    return str(path)


def write_variable_rate_clip(path, times, width=64, height=48):
    """Numbered frames presented at the given times (seconds): a variable frame rate clip."""
    time_base = fractions.Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "17", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        for index, rgb in enumerate(numbered_frames(len(times), width, height)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = int(round(times[index] * 1000)), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def portrait_frames(count, width=48, height=64):
    """Upright portrait frames with a bright red band across the top quarter and a green one at the bottom."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[:, :height // 4, :, 0] = 255
    frames[:, -height // 4:, :, 1] = 255
    return frames


def write_phone_clip(path, upright, rotation_metadata=-90):
    """A phone-style clip: frames stored sideways, plus a display matrix saying how to turn them upright.

    A phone held upright records landscape sensor frames and tags the stream
    "rotate=90" (display matrix rotation -90: turn the stored picture 90
    degrees clockwise to show it). So the stored frames are the upright ones
    turned 90 degrees counter-clockwise. `rotation_metadata=None` writes the
    same sideways frames with no rotation tag (what a decoder ignoring the tag
    would show).
    """
    turns = {-90: 1, 90: -1, 180: 2, None: 1}[rotation_metadata]
    stored = np.ascontiguousarray(np.rot90(upright, k=turns, axes=(1, 2)))
    height, width = stored.shape[1:3]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "17", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation_metadata is not None:
            stream.set_display_rotation(rotation_metadata)
        for index, rgb in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def write_multi_stream_clip(path, stream_frame_counts, default_index, sizes=None):
    """One container with several video streams; only `default_index` has the default disposition.

    Stream k holds stream_frame_counts[k] numbered frames starting at 10 * k
    (so decoded frames tell which stream they came from).
    """
    sizes = sizes or [(64, 48)] * len(stream_frame_counts)
    with av.open(str(path), mode="w") as container:
        streams = []
        for index, (count, (width, height)) in enumerate(zip(stream_frame_counts, sizes)):
            stream = container.add_stream("libx264", rate=24, options={"crf": "17", "preset": "veryfast"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append((stream, numbered_frames(count, width, height, start=10 * index)))
        for index, (stream, _) in enumerate(streams):
            stream.disposition = (av.stream.Disposition.default if index == default_index
                                  else av.stream.Disposition(0))
        for stream, frames in streams:
            for number, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = number
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    return str(path)


# Annotation files.

def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=1)
    return str(path)


def write_bytes(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def jsonl_bytes(rows):
    """rows: dicts (dumped as UTF-8 JSON) or raw bytes (written as they are), one per line."""
    lines = [row if isinstance(row, bytes) else json.dumps(row, ensure_ascii=False).encode("utf-8")
             for row in rows]
    return b"\n".join(lines) + b"\n"


def file_tree(directory):
    """Sorted relative paths of every file under `directory`."""
    found = []
    for root, _, files in os.walk(directory):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


# The data sets of the robustness runs, and running `python -m pipeline.run` over them.

PIPELINE_FLAGS = ["--cnn_weights", "random", "--image_size", "96", "--frames_per_video", "8",
                  "--feature_dtype", "float16", "--max_question_tokens", "12"]
MAX_QUESTION_TOKENS = 12
FRAMES_PER_VIDEO = 8
VFR_TIMES = [0.04 * index for index in range(16)] + [1.0, 1.8, 2.6, 3.4]  # 16 frames in 0.6 s, then 4 slow ones
LONG_CLIP_FRAMES = 1500  # 60 s at 25 fps
LONG_QUESTION = ("what is the man in the red shirt standing next to the old blue truck near the "
                 "big green tree doing with the heavy brown box in his hands")
ESCAPING_IDS = ("../outside.mp4", "../../etc/passwd", "/etc/passwd", "sub/../../outside.mp4",
                "..\\outside.mp4", "C:\\Windows\\win.ini", "file:///etc/passwd", "good_1.mp4\x00.txt")


def patterned_frames(count, width, height, seed):
    """Seeded random blocks (8x8 pixels) that drift one block per frame: distinct content per clip."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(height // 8, width // 8 + count, 3), dtype=np.uint8)
    frames = np.stack([blocks[:, index:index + width // 8] for index in range(count)])
    return np.ascontiguousarray(frames.repeat(8, axis=1).repeat(8, axis=2))


def _q(question_id, video_id, question, answer, **extra):
    return dict({"id": question_id, "video_id": video_id, "question": question, "answer": answer}, **extra)


def build_bad_dataset(root):
    """Every bad video and annotation case of issue 5, under root/{videos,annotations}.

    Returns {"root", "videos", "annotations", "expected", "duplicates"}:
    `expected` maps each question id to "written" or to the stage that must
    reject it; `duplicates` maps each id given twice to (kept question, rejected one).
    """
    root = str(root)
    videos = os.path.join(root, "videos")
    annotations = os.path.join(root, "annotations")
    os.makedirs(videos)
    os.makedirs(annotations)

    def v(name):
        return os.path.join(videos, name)

    for index in range(1, 8):
        synthetic.write_video(v(f"good_{index}.mp4"), patterned_frames(24, 64, 48, seed=index), 24)
    # A real, decodable video just outside --video_dir: the target of the path-escape ids.
    synthetic.write_video(os.path.join(root, "outside.mp4"), patterned_frames(24, 64, 48, seed=99), 24)
    write_empty(v("empty.mp4"))
    source = write_clip(os.path.join(root, "source_tail.mp4"), 48)
    write_truncated(v("truncated_tail.mp4"), source, 0.5)  # MP4 index ('moov') at the end
    source = write_mp4_with_index_first(os.path.join(root, "source_head.mp4"), 48)
    write_truncated(v("truncated_indexed.mp4"), source, 0.9)  # Index first, media cut
    source = write_clip(os.path.join(root, "source.mkv"), 48)
    write_truncated(v("truncated.mkv"), source, 0.85)  # Matroska: a duration, no frame count
    write_random_bytes(v("random.mp4"))
    write_text(v("readme.avi"))
    write_audio_only(v("audio_only.m4a"))
    write_clip(v("one_frame.mp4"), 1)
    write_long_clip(v("long.mp4"), LONG_CLIP_FRAMES)
    write_4k_clip(v("uhd_4k.mp4"))
    write_variable_rate_clip(v("vfr.mp4"), VFR_TIMES)
    upright = portrait_frames(12)
    write_phone_clip(v("phone_rotated.mp4"), upright, rotation_metadata=-90)
    write_phone_clip(v("phone_sideways.mp4"), upright, rotation_metadata=None)
    synthetic.write_video(v("phone_upright.mp4"), upright, 24)
    write_multi_stream_clip(v("two_streams.mp4"), [3, 5], default_index=1)
    # Symbolic links: one to a file outside --video_dir (refused), one to a file inside (used).
    os.symlink(os.path.join(root, "outside.mp4"), v("linked_outside.mp4"))
    os.symlink(v("good_7.mp4"), v("linked_inside.mp4"))

    expected = {}

    def row(question_id, outcome, video_id, question, answer, **extra):
        expected[question_id] = outcome
        return _q(question_id, video_id, question, answer, **extra)

    train = [
        row("good-1a", "written", "good_1.mp4", "what color is the car?", "Red"),
        row("good-1b", "written", "good_1.mp4", "what is the man doing?", "running"),
        row("good-2a", "written", "good_2.mp4", "what color is the ball?", " red "),
        row("good-2b", "written", "good_2.mp4", "what color is the hat?", "RED"),
        row("good-2c", "written", "good_2.mp4", "what color is the door?", "red."),
        row("good-2d", "written", "good_2.mp4", "what color is the bus?", "Dark  Red"),
        row("good-2e", "written", "good_2.mp4", "what color is the van?", "dark red"),
        row("long-question", "written", "good_2.mp4", LONG_QUESTION, "lifting"),
        row("unicode-es", "written", "good_1.mp4", "¿Qué está haciendo el HOMBRE?", "corriendo"),
        row("unicode-ru", "written", "good_1.mp4", "Что делает мужчина?", "бежит"),
        row("unicode-zh", "written", "good_1.mp4", "这个人在做什么？", "跑步"),
        row("unicode-emoji", "written", "good_1.mp4", "what is the 🐶 doing?", "barking 🐕"),
        row("unicode-hi", "written", "good_1.mp4", "बच्चा क्या कर रहा है?", "खेल"),
        row("dup-1", "written", "good_1.mp4", "who is running?", "man"),
        row("dup-1#2", None, "good_2.mp4", "who is lifting?", "woman"),  # Its id becomes "dup-1" below.
        row("dup-2", "written", "good_2.mp4", "where is the box?", "truck"),
        row("two-files-train", "assign_splits", "good_3.mp4", "what is in the sky?", "plane"),
        # Bad rows.
        row("no-question", "read_annotations", "good_1.mp4", None, "x"),
        row("no-answer", "read_annotations", "good_1.mp4", "what is this?", None),
        row("no-video", "read_annotations", None, "what is this?", "x"),
        row("empty-question", "read_annotations", "good_1.mp4", "", "x"),
        row("blank-question", "read_annotations", "good_1.mp4", " \t  ", "x"),
        row("punctuation-question", "read_annotations", "good_1.mp4", "?!?", "x"),
        row("emoji-question", "read_annotations", "good_1.mp4", "🙂🙂", "x"),
        row("blank-answer", "read_annotations", "good_1.mp4", "what is this?", "  "),
        row("lone-surrogate", "read_annotations", "good_1.mp4", "LONE_SURROGATE", "x"),
        # Videos that cannot be used.
        row("video-missing", "decode_video", "absent.mp4", "what is shown?", "nothing"),
        row("video-empty", "decode_video", "empty.mp4", "what is shown?", "nothing"),
        row("video-truncated-tail", "decode_video", "truncated_tail.mp4", "what is shown?", "nothing"),
        row("video-truncated-indexed", "decode_video", "truncated_indexed.mp4", "what is shown?", "nothing"),
        row("video-truncated-mkv", "decode_video", "truncated.mkv", "what is shown?", "nothing"),
        row("video-random", "decode_video", "random.mp4", "what is shown?", "nothing"),
        row("video-text", "decode_video", "readme.avi", "what is shown?", "nothing"),
        row("video-audio", "decode_video", "audio_only.m4a", "what is shown?", "nothing"),
        # Valid but odd videos: accepted.
        row("video-one-frame", "written", "one_frame.mp4", "how many frames?", "one"),
        row("video-long", "written", "long.mp4", "is it long?", "yes"),
        row("video-4k", "written", "uhd_4k.mp4", "is it big?", "yes"),
        row("video-vfr", "written", "vfr.mp4", "is the rate steady?", "no"),
        row("video-phone-rotated", "written", "phone_rotated.mp4", "where is the red band?", "top"),
        row("video-phone-sideways", "written", "phone_sideways.mp4", "where is the red band?", "left"),
        row("video-phone-upright", "written", "phone_upright.mp4", "where is the red band?", "top"),
        row("video-two-streams", "written", "two_streams.mp4", "how many streams?", "two"),
        row("video-link-outside", "read_annotations", "linked_outside.mp4", "what is linked?", "nothing"),
        row("video-link-inside", "written", "linked_inside.mp4", "what is linked?", "something"),
    ]
    for item in train:  # The second "dup-1": rejected as a duplicate of the first.
        if item["id"] == "dup-1#2":
            item["id"] = "dup-1"
    expected.pop("dup-1#2")
    for key in ("question", "answer", "video_id"):
        for item in train:
            if item.get(key, "") is None:
                del item[key]
    for index, video_id in enumerate(ESCAPING_IDS):
        train.append(row(f"escape-{index}", "read_annotations", video_id, "what is outside?", "secrets"))
    train_bytes = json.dumps(train, ensure_ascii=False, indent=1).encode("utf-8")
    # Half of a UTF-16 surrogate pair, as a JSON escape (e.g. an emoji cut in two by a JS tool).
    train_bytes = train_bytes.replace(b"LONE_SURROGATE", b"what is \\ud83d this?")
    # A Latin-1 byte inside one question: only that row is rejected.
    train_bytes = train_bytes[:-2] + (
        b',\n {"id": "latin-1", "video_id": "good_1.mp4", "question": "caf\xe9 or tea?", "answer": "tea"}\n]')
    expected["latin-1"] = "read_annotations"
    write_bytes(os.path.join(annotations, "train_qa.json"), train_bytes)

    write_json(os.path.join(annotations, "val_qa.json"), [
        row("good-4a", "written", "good_4.mp4", "what color is the sky?", "blue"),
        _q("dup-2", "good_4.mp4", "where is the cat?", "sofa"),  # Duplicate of train's dup-2.
    ])
    write_json(os.path.join(annotations, "test_qa.json"), [  # good_3 is in train_qa.json too.
        row("good-5a", "written", "good_5.mp4", "what color is the sky?", "Blue "),
        row("two-files-test", "assign_splits", "good_3.mp4", "what is on the ground?", "grass"),
    ])
    # No split in the file name: splits come from the rows.
    write_bytes(os.path.join(annotations, "extra.jsonl"), jsonl_bytes([
        row("split-train", "assign_splits", "good_6.mp4", "what is red?", "car", split="train"),
        row("split-test", "assign_splits", "good_6.mp4", "what is blue?", "sky", split="test"),
        row("split-validation", "written", "good_7.mp4", "what is green?", "grass", split="validation"),
        row("split-unknown", "read_annotations", "good_7.mp4", "what is pink?", "flower", split="dev"),
        b'{"id": "jsonl-malformed", "video_id": "good_7.mp4", "question": "what?" "answer": "x"}',
        b'{"id": "jsonl-latin-1", "video_id": "good_7.mp4", "question": "\xe9t\xe9?", "answer": "x"}',
        b"",
    ]))
    # Written by a Windows editor: a UTF-8 byte order mark before the first line.
    write_bytes(os.path.join(annotations, "windows.jsonl"), b"\xef\xbb\xbf" + jsonl_bytes([
        row("bom-first-line", "written", "good_7.mp4", "what is yellow?", "sun", split="val")]))
    write_bytes(os.path.join(annotations, "broken.json"),
                b'[\n {"id": "b1", "video_id": "good_1.mp4", "question": "what?", "answer": "x"},\n'
                b' {"id": "b2", "video_id": "good_1.mp4" "question": "what?", "answer": "x"}\n]\n')
    write_text(os.path.join(annotations, "README.txt"), "annotations for the robustness tests\n")
    return {"root": root, "videos": videos, "annotations": annotations, "expected": expected,
            # Question ids given twice: the first (in file order) is kept, the later one rejected.
            "duplicates": {"dup-1": ("who is running?", "who is lifting?"),
                           "dup-2": ("where is the box?", "where is the cat?")}}


def pipeline_command(annotations, video_dir, output_dir, *extra):
    import sys
    return [sys.executable, "-m", "pipeline.run", "--annotations", annotations, "--video_dir", video_dir,
            "--output_dir", output_dir, *PIPELINE_FLAGS, *extra]


MAPPED_CLIPS = {1: "clip_Aa1", 2: "clip_Bb2", 3: "clip_Cc3", 4: "clip_Dd4", 5: "clip_Ee5", 6: "clip_Ff6"}
MAPPED_SPLITS = {"train": (1, 2, 3, 4), "val": (5,), "test": (6,)}
# Mapping entries that would leave --video_dir (vid90's target exists, just outside it).
ESCAPING_CLIPS = {90: "../outside", 91: "../../etc/passwd", 92: "/etc/passwd", 93: "sub/../../outside"}
UNMAPPED_VIDEO_ID = 99


def build_mapped_dataset(root):
    """An MSVD-QA-style data set: YouTubeClips/<clip>.avi, youtube_mapping.txt, {split}_qa.json.

    Clean except for mapping entries that escape the video dir and one video id
    absent from the mapping. Returns {"root", "annotations", "video_dir", "mapping", "expected"}.
    """
    root = str(root)
    clips_dir = os.path.join(root, "YouTubeClips")
    os.makedirs(clips_dir)
    for video_id, clip in MAPPED_CLIPS.items():
        synthetic.write_video(os.path.join(clips_dir, f"{clip}.avi"),
                              patterned_frames(24, 64, 48, seed=100 + video_id), 24, codec="mpeg4")
    synthetic.write_video(os.path.join(root, "outside.avi"), patterned_frames(24, 64, 48, seed=99), 24,
                          codec="mpeg4")
    mapping = os.path.join(root, "youtube_mapping.txt")
    with open(mapping, "w", encoding="utf-8") as handle:
        for video_id, clip in {**MAPPED_CLIPS, **ESCAPING_CLIPS}.items():
            handle.write(f"{clip} vid{video_id}\n")
    answers = ("red", "blue", "running", "two")
    expected = {}
    for split, video_ids in MAPPED_SPLITS.items():
        rows = []
        for video_id in video_ids:
            for index, (question, answer) in enumerate((
                    ("what color is the car?", answers[video_id % 2]),
                    ("what is the man doing?", answers[2]),
                    ("how many dogs are there?", answers[3]))):
                rows.append({"id": video_id * 10 + index, "video_id": video_id,
                             "question": question, "answer": answer})
                expected[str(video_id * 10 + index)] = "written"
        if split == "train":
            for video_id in (*ESCAPING_CLIPS, UNMAPPED_VIDEO_ID):
                rows.append({"id": video_id * 10, "video_id": video_id, "question": "what is it?",
                             "answer": "secret"})
                expected[str(video_id * 10)] = "read_annotations"
        write_json(os.path.join(root, f"{split}_qa.json"), rows)
    return {"root": root, "annotations": os.path.join(root, "*_qa.json"), "video_dir": clips_dir,
            "mapping": mapping, "expected": expected}


# The mapped run also shows another backbone end to end: 1280 values per frame, at its smallest input.
MAPPED_CNN_FLAGS = ("--cnn", "efficientnet_v2_b0", "--image_size", "32")
# Its model (model_helpers.quick_model_dir, attention encoder) answers with its 3 best answers.
MAPPED_MODEL_ENCODER = "attention"
MAPPED_MODEL_FLAGS = ("--top_k", "3")


def mapped_pipeline_command(dataset, output_dir, *extra):
    return pipeline_command(dataset["annotations"], dataset["video_dir"], output_dir,
                            "--video_mapping", dataset["mapping"], *MAPPED_CNN_FLAGS, *extra)


def run_command(command, timeout=900):
    """Run a command from the repository as a user would; CompletedProcess with text output."""
    from shared_runs import run_command as run
    return run(command, timeout=timeout)


def _cached_run(name, tmp_path_factory, build, make_command, in_process=False):
    """Build a data set and run the pipeline over it once per test session; the same dict afterwards.

    A command as the user runs it, or with `in_process` the same `pipeline.run.main` in the test
    process (`shared_runs.run_pipeline_in_process`)."""
    from shared_runs import build_once, completed_to_dict, run_pipeline_in_process

    def build_and_run(directory):
        import time
        dataset = build(os.path.join(directory, "data"))
        output_dir = os.path.join(directory, "out")
        command = make_command(dataset, output_dir)
        started = time.monotonic()
        if in_process:
            completed = run_pipeline_in_process(command[3:])  # Without `python -m pipeline.run`.
        else:
            completed = completed_to_dict(run_command(command))
        if completed["returncode"] != 0:
            raise RuntimeError(f"pipeline.run over {name} failed ({completed['returncode']}):\n"
                               f"{completed['stderr'][-5000:]}")
        return {"dataset": dataset, "output_dir": output_dir, "stdout": completed["stdout"],
                "stderr": completed["stderr"], "seconds": time.monotonic() - started, "command": command}

    return build_once(tmp_path_factory, name, build_and_run)


def bad_inputs_command(dataset, output_dir, *extra):
    # --layout generic: the folder also holds a README.txt, which auto would refuse to place.
    return pipeline_command(os.path.join(dataset["annotations"], "*"), dataset["videos"], output_dir,
                            "--video_pattern", "{video_id}", "--layout", "generic", *extra)


def bad_inputs_run(tmp_path_factory):
    """`pipeline.run` over `build_bad_dataset` (every bad video and annotation case in one run)."""
    return _cached_run("bad_inputs", tmp_path_factory, build_bad_dataset, bad_inputs_command)


def mapped_run(tmp_path_factory):
    """`pipeline.run` over `build_mapped_dataset` (MSVD-style mapping with escaping entries), in process."""
    return _cached_run("mapped", tmp_path_factory, build_mapped_dataset, mapped_pipeline_command, in_process=True)


# Reading a run's outputs.

def read_errors(output_dir):
    """Every line of OUT/errors/*.jsonl, parsed (each line must be one JSON object)."""
    import glob
    found = []
    for path in sorted(glob.glob(os.path.join(output_dir, "errors", "*.jsonl"))):
        with open(path, "rb") as handle:
            for line in handle.read().decode("utf-8").splitlines():
                if line.strip():
                    found.append(json.loads(line))
    return found


def error_question_id(error):
    row = error.get("input") or {}
    value = row.get("question_id", row.get("id"))
    return None if value is None else str(value)


def read_videos(output_dir):
    """{video_id: parsed record} over every split (a video id seen twice raises)."""
    from features import schema
    from shared_runs import read_parsed
    videos = {}
    for split, parsed in read_parsed(output_dir).items():
        for video in parsed:
            if video[schema.VIDEO_ID_KEY] in videos:
                raise AssertionError(f"video {video[schema.VIDEO_ID_KEY]!r} has two records")
            videos[video[schema.VIDEO_ID_KEY]] = video
    return videos


def read_vocabulary(output_dir, name):
    with open(os.path.join(output_dir, "transform_fn", "assets", name), encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]
