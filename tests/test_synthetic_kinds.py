"""The harder synthetic kinds (--kinds): the pipeline's readers take them, twins hold the same frames
in another order, and every answer follows from what the decoded frames show."""

import collections
import functools
import glob
import json
import os

import av
import numpy as np
import pytest

from features import sampling, schema, video
from pipeline import annotations, paths, synthetic, synthetic_actors, synthetic_hard, synthetic_kinds

NUM_VIDEOS = 12  # 6 pairs per kind: 4/1/1 (TGIF-QA: 5 train, 1 test).
SEED = 11
WIDTH, HEIGHT = 64, 48
# An actor is seen in a frame when this many pixels are within COLOR_TOLERANCE of its colour
# (per channel, after H.264 or the GIF palette), leaving out pixels that match in most frames (bars).
COLOR_TOLERANCE = 45
MIN_PIXELS = 10
STATIC_SHARE = 0.6
# The layout the pipeline detects: the synthetic MSRVTT-QA files add question_type to the published
# keys (as the demo's do), so `auto` reads them as the generic form, which keeps that type.
DETECTED_LAYOUTS = {"msrvtt_qa": "generic", "tgif_qa": "tgif_qa"}


@pytest.fixture(scope="module")
def kinds_dataset(tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("kinds"))
    summary = synthetic.run(["--output_dir", output_dir, "--kinds", ",".join(synthetic_kinds.KINDS),
                             "--num_videos", str(NUM_VIDEOS), "--seed", str(SEED),
                             "--width", str(WIDTH), "--height", str(HEIGHT)])
    return output_dir, summary


def read_kind(output_dir, entry):
    """The kind's questions as the pipeline's reader gives them (AnnotatedQuestion), and its sources."""
    kind_dir = os.path.join(output_dir, entry["directory"])
    files = sorted(glob.glob(os.path.join(kind_dir, entry["annotations"])))
    sources = annotations.plan_sources(files, "auto", annotations.read_file_head)
    locate = paths.VideoLocator(os.path.join(kind_dir, "videos"), entry["video_pattern"], None,
                                layout=sources[0].layout)
    config = annotations.ReadConfig(max_question_tokens=schema.DEFAULT_MAX_QUESTION_TOKENS)
    questions = []
    for source in sources:
        valid, errors, input_rows = annotations.read_source(source, lambda path: open(path, "rb").read(),
                                                            config, locate)
        assert errors == [] and input_rows == len(valid)
        questions += valid
    return questions, sources


@functools.lru_cache(maxsize=128)
def exact_frames(path):
    """Every frame as stored (RGB, at the clip's own size), with PyAV."""
    with av.open(path) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def actors_seen(path):
    """{actor: bool array [frames]}: where each actor's colour covers enough (non-static) pixels."""
    frames = exact_frames(path).astype(np.int16)
    seen = {}
    for actor, color in synthetic_actors.ACTOR_COLORS.items():
        matches = (np.abs(frames - np.array(color)) <= COLOR_TOLERANCE).all(-1)
        moving = matches & (matches.mean(0) < STATIC_SHARE)
        seen[actor] = moving.sum((1, 2))
    return seen


def runs(present):
    """Number of separate stretches of True."""
    present = np.asarray(present, bool)
    return int(present[0]) + int((present[1:] & ~present[:-1]).sum())


def answer_from_frames(kind, question, path):
    """What the decoded clip answers to a question of `kind`: read off the actors' colours."""
    pixels = actors_seen(path)
    named = [actor for actor in synthetic_actors.ACTORS if f" {actor}" in question]
    present = {actor: count >= MIN_PIXELS for actor, count in pixels.items()}
    if kind == "long_early":
        [actor] = named
        early = pixels[actor][:12]
        shown = np.flatnonzero(early >= MIN_PIXELS)
        assert not present[actor][12:].any()  # The named actor is seen in its early event only.
        return "growing" if early[shown[-1]] > early[shown[0]] else "shrinking"
    if kind == "count_repeats":
        return str(runs(present[named[0]]))
    sequence = []
    for index in range(len(exact_frames(path))):
        [actor] = [actor for actor in synthetic_actors.ACTORS if present[actor][index]]  # One actor a frame.
        if not sequence or sequence[-1] != actor:
            sequence.append(actor)
    if kind == "after_before":
        position = sequence.index(named[0])
        return sequence[position + 1] if "after" in question else sequence[position - 1]
    assert sorted(sequence) == sorted(named)
    return sequence[0] if "first" in question else sequence[-1]


def test_every_kind_is_read_by_the_pipeline_as_its_layout_and_task(kinds_dataset):
    output_dir, summary = kinds_dataset
    with open(os.path.join(output_dir, synthetic_hard.KINDS_FILE), encoding="utf-8") as kinds_file:
        assert json.load(kinds_file) == json.loads(json.dumps(summary))
    assert list(summary["kinds"]) == list(synthetic_kinds.KINDS)
    for name, entry in summary["kinds"].items():
        kind = synthetic_kinds.KINDS[name]
        questions, sources = read_kind(output_dir, entry)
        assert {(source.layout, source.task) for source in sources} == {(DETECTED_LAYOUTS[kind.layout], kind.task)}
        with open(os.path.join(output_dir, name, synthetic.QUESTION_GROUPS_FILE), encoding="utf-8") as groups_file:
            groups = json.load(groups_file)
        assert list(groups) == [name]  # The group is named after the kind ...
        assert {question.question.question_type for question in questions} == set(groups[name])  # ... and typed.
        assert {question.split for question in questions} >= {schema.TRAIN_SPLIT, schema.TEST_SPLIT}
        videos = {question.video_path for question in questions}
        assert len(videos) == NUM_VIDEOS
        for path in list(videos)[:3]:
            decoded = video.decode_video(path, sampling.SamplingConfig(entry["frames_per_video"]), 32)
            assert decoded.num_frames == decoded.total_frames == kind.num_frames  # Every frame sampled.
            assert (decoded.width, decoded.height) == (WIDTH, HEIGHT)


def test_twins_hold_the_same_frames_in_another_order(kinds_dataset):
    output_dir, summary = kinds_dataset
    for name, entry in summary["kinds"].items():
        kind = synthetic_kinds.KINDS[name]
        designs = synthetic_hard.design_pairs(kind, NUM_VIDEOS // 2, SEED, WIDTH, HEIGHT)
        for (first, second), (design, *_) in zip(entry["pairs"], designs):
            first_frames, second_frames = (exact_frames(os.path.join(output_dir, name, path)).astype(np.int16)
                                           for path in (first, second))
            reordered = first_frames[list(design.twin_order)]
            if kind.layout == "tgif_qa":  # GIFs store exact palette indices.
                np.testing.assert_array_equal(second_frames, reordered)
            difference = np.abs(second_frames - reordered).mean(axis=(1, 2, 3)).max()
            in_place = np.abs(second_frames - first_frames).mean(axis=(1, 2, 3)).max()
            assert difference < 3.0 and in_place > 4 * difference + 2, (name, first, difference, in_place)
            # A bag of frames cannot tell the twins apart: their mean frames are the same.
            assert np.abs(first_frames.mean(0) - second_frames.mean(0)).mean() < 1.0


def test_answers_follow_from_the_frames_and_flip_between_twins(kinds_dataset):
    output_dir, summary = kinds_dataset
    for name, entry in summary["kinds"].items():
        questions, _ = read_kind(output_dir, entry)
        by_video = collections.defaultdict(list)
        for question in questions:
            by_video[os.path.relpath(question.video_path, os.path.join(output_dir, name))].append(question)
            shown = answer_from_frames(name, question.question.question, question.video_path)
            assert shown == question.question.answer, (name, question.video_path, question.question)
        for first, second in entry["pairs"]:
            first_questions, second_questions = by_video[first], by_video[second]
            assert [q.question.question for q in first_questions] == [q.question.question for q in second_questions]
            assert {q.split for q in first_questions + second_questions} == {first_questions[0].split}
            assert all(a.question.answer != b.question.answer for a, b in zip(first_questions, second_questions))


@pytest.mark.parametrize("name", sorted(synthetic_kinds.KINDS))
def test_designs_over_many_seeds(name):
    """Without video: the twin is a true reordering, and counts are the appearances the frames show."""
    kind = synthetic_kinds.KINDS[name]
    answers = collections.Counter()
    for seed in range(300):
        design = kind.design(np.random.default_rng(seed), kind.num_frames)
        assert len(design.specs) == kind.num_frames
        assert sorted(design.twin_order) == list(range(kind.num_frames))
        assert list(design.twin_order) != list(range(kind.num_frames))
        twin_specs = [design.specs[index] for index in design.twin_order]
        for item in design.questions:
            assert item.answers[0] != item.answers[1]
            answers[item.answers[0]] += 1
            if name == "count_repeats":
                actor = item.question.split(" the ")[1].split()[0]
                for specs, count in zip((design.specs, twin_specs), item.answers):
                    assert runs([spec.actor == actor for spec in specs]) == count
    balance = min(answers.values()) / max(answers.values())
    assert balance > 0.6, answers  # Every answer is about as frequent (chance is chance).


def test_same_seed_same_bytes_and_refusals(tmp_path, capsys):
    def contents(output_dir):
        found = {}
        for path in sorted(glob.glob(os.path.join(output_dir, "**", "*"), recursive=True)):
            if os.path.isfile(path):
                with open(path, "rb") as data_file:
                    found[os.path.relpath(path, output_dir)] = data_file.read()
        return found

    kinds = "count_repeats,which_first"
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        synthetic_hard.generate_kinds(str(tmp_path / name), kinds.split(","), 4, seed, 64, 48)
    assert contents(str(tmp_path / "a")) == contents(str(tmp_path / "b"))
    assert contents(str(tmp_path / "a")) != contents(str(tmp_path / "c"))
    base = ["--output_dir", str(tmp_path / "refused"), "--num_videos", "4"]
    for flags, message in ((["--kinds", "long_early,spinning"], "unknown: spinning"),
                           (["--kinds", "long_early", "--layout", "tgif_qa"], "leave out --layout"),
                           (["--kinds", "which_first", "--fps", "24"], "leave out --fps"),
                           (["--kinds", "which_first", "--num_videos", "2"], "even number >= 4")):
        with pytest.raises(SystemExit) as refused:
            synthetic.run(base + flags)
        assert refused.value.code == 2 and message in capsys.readouterr().err
