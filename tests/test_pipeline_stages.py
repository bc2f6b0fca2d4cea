"""The pipeline's composite transforms one at a time, with Beam's TestPipeline and assert_that.

ReadQuestions reads the real TGIF-QA file as published; EmbedVideos embeds
real clips with a real (random-weight) CNN; BuildRecords analyses on train
and applies the transform graph in each clip's worker; WriteSplits writes
one set of shards per split.
"""

import glob
import os
import shutil

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from features import questions, quantize, records, sampling, schema
from pipeline import annotations, config as config_lib, grouping, paths, transforms

DATASETS = os.environ.get("VIDEOQA_SHARED_DATASETS", "/work/shared/datasets")
TGIF_TRANSITION = os.path.join(DATASETS, "tgif-qa", "Test_transition_question.csv")
REAL_GIF = os.path.join(DATASETS, "tgif-qa", "gifs", "1.gif")


def test_read_questions_groups_the_published_tgif_file_into_one_task_per_gif(tmp_path):
    videos = tmp_path / "gifs"
    videos.mkdir()
    sources = annotations.plan_sources([TGIF_TRANSITION], "auto", annotations.read_file_head)
    rows = annotations.read_source(sources[0], lambda path: open(path, "rb").read(),
                                   annotations.ReadConfig(max_question_tokens=32),
                                   lambda video_id: os.path.join(str(videos), f"{video_id}.gif"))[0]
    names = {row.video_id for row in rows}
    for name in names:  # The readers locate files; decoding happens later.
        shutil.copy(REAL_GIF, videos / f"{name}.gif")
    locate = paths.VideoLocator(str(videos), None, None, layout="tgif_qa")
    with BeamTestPipeline() as pipeline:
        read = pipeline | transforms.ReadQuestions(sources, annotations.ReadConfig(max_question_tokens=32), locate)
        assert_that(read["tasks"] | beam.Map(lambda task: (task.split, len(task.questions[0].candidates),
                                                           task.questions[0].answer_index in range(5))),
                    equal_to([("test", 5, True)] * len(names)), label="tasks")
        assert_that(read["errors"], equal_to([]), label="errors")
        assert_that(read["tasks"] | "CountQuestions" >> beam.Map(lambda task: len(task.questions))
                    | beam.CombineGlobally(sum), equal_to([len(rows)]), label="questions")


def annotated(question_id, video_id, split, explicit=True, order=0):
    question = questions.Question(question_id=question_id, question="what is it?", answer="a box",
                                  question_type="what", source=f"file:{order}")
    return questions.AnnotatedQuestion(video_id=video_id, video_path=f"/videos/{video_id}.mp4", split=split,
                                       split_is_explicit=explicit, source_order=("file", order), question=question)


def test_grouping_keeps_first_duplicates_and_refuses_a_clip_in_two_splits():
    rows = [annotated("q1", "a", "train", order=0), annotated("q1", "b", "train", order=1),
            annotated("q2", "c", "train", order=2), annotated("q3", "c", "test", order=3),
            annotated("q4", "d", "val", explicit=False, order=4)]
    with BeamTestPipeline() as pipeline:
        by_id = [(qid, [row for row in rows if row.question.question_id == qid]) for qid in ("q1", "q2", "q3", "q4")]
        kept = (pipeline | "Rows" >> beam.Create(by_id)
                | beam.FlatMap(grouping.keep_first_question).with_outputs(grouping.ERRORS, main="rows"))
        assert_that(kept.rows | "Kept" >> beam.Map(lambda row: (row.question.question_id, row.video_id)),
                    equal_to([("q1", "a"), ("q2", "c"), ("q3", "c"), ("q4", "d")]), label="kept")
        assert_that(kept[grouping.ERRORS] | "DuplicateStage" >> beam.Map(lambda error: error["stage"]),
                    equal_to(["deduplicate_questions"]), label="duplicates")
        tasks = (kept.rows | beam.Map(lambda row: (row.clip_id, row)) | beam.GroupByKey()
                 | beam.FlatMap(grouping.make_video_task).with_outputs(grouping.ERRORS, main="tasks"))
        assert_that(tasks.tasks | "Tasks" >> beam.Map(lambda task: (task.clip_id, task.split)),
                    equal_to([("a", "train"), ("d", "val")]), label="tasks")
        assert_that(tasks[grouping.ERRORS] | "SplitErrors" >> beam.Map(
            lambda error: (error["stage"], "in splits test and train" in error["reason"])),
            equal_to([("assign_splits", True)] * 2), label="split_errors")


def test_embed_videos_embeds_real_clips_and_rejects_a_missing_one(tmp_path):
    from pipeline import synthetic
    frames = np.random.default_rng(0).integers(0, 256, size=(12, 48, 64, 3), dtype=np.uint8)
    clip = str(tmp_path / "clip.mp4")
    synthetic.write_video(clip, frames, 12)
    config = config_lib.PipelineConfig(annotations="unused", video_dir=str(tmp_path), output_dir=str(tmp_path / "o"),
                                       backbone="mobilenet_v3_large", cnn_weights="random", image_size=32,
                                       sampling=sampling.SamplingConfig(frames_per_video=4), decode_threads=0)
    question = annotated("q", "x", "train").question
    tasks = [questions.VideoTask(clip_id="x", video_id="x", video_path=clip, split="train", questions=[question]),
             questions.VideoTask(clip_id="y", video_id="y", video_path=str(tmp_path / "absent.mp4"), split="train",
                                 questions=[question])]
    with BeamTestPipeline() as pipeline:
        embedded = pipeline | beam.Create(tasks) | transforms.EmbedVideos(config)
        assert_that(embedded["videos"] | beam.Map(lambda video: (
            video.task.clip_id, video.num_frames, len(video.frame_bytes[0]), video.frame_sum.shape)),
            equal_to([("x", 4, 960 * 2, (960,))]), label="videos")
        assert_that(embedded["errors"] | beam.Map(lambda error: (error["stage"], "file not found" in error["reason"])),
                    equal_to([("decode_video", True)]), label="errors")


def embedded_clip(clip_id, split, answer, rng):
    features = rng.normal(size=(3, 8)).astype(np.float32)
    frame_bytes = quantize.encode_frames(features, "float32")
    frame_sum, frame_sum_squares = quantize.frame_statistics(frame_bytes, "float32", 8)
    question = questions.Question(question_id=f"{clip_id}-q", question=f"what is in {clip_id}?", answer=answer,
                                  question_type="what", source="test")
    task = questions.VideoTask(clip_id=clip_id, video_id=clip_id, video_path="", split=split, questions=[question])
    return questions.EmbeddedVideo(task=task, num_frames=3, frame_bytes=frame_bytes, frame_sum=frame_sum,
                                   frame_sum_squares=frame_sum_squares, clip={"num_frames": 3})


def test_build_records_analyses_train_only_and_transforms_each_clip_in_place(tmp_path):
    import tensorflow_transform.beam as tft_beam

    from features import transform
    rng = np.random.default_rng(1)
    clips = [embedded_clip("t1", "train", "red", rng), embedded_clip("t2", "train", "blue", rng),
             embedded_clip("v1", "test", "green", rng)]
    config = transform.TransformConfig(task=schema.TASK_OPEN_ENDED, feature_dim=8, max_question_tokens=8,
                                       answer_top_k=10)
    output_dir = str(tmp_path / "out")
    with BeamTestPipeline() as pipeline, tft_beam.Context(temp_dir=str(tmp_path / "tft")):
        built = (pipeline | beam.Create(clips)
                 | transforms.BuildRecords(schema.TASK_OPEN_ENDED, 8, transform.make_preprocessing_fn(config),
                                           transform.raw_metadata(8)))
        _ = built["records"] | transforms.WriteSplits(output_dir)
    parsed = {split: [records.parse_video_example_numpy(serialized, "float32", 8) for serialized in
                      records.read_records(schema.record_file_pattern(output_dir, split))] for split in schema.SPLITS}
    labels = {video[schema.VIDEO_ID_KEY]: (video[schema.ANSWER_KEY][0], video[schema.LABEL_KEY][0])
              for videos in parsed.values() for video in videos}
    assert sorted(labels) == ["t1", "t2", "v1"] and not parsed[schema.VALIDATION_SPLIT]
    assert labels["v1"] == ("green", schema.OUT_OF_VOCABULARY_LABEL)  # A test answer is never in the vocabulary.
    assert {labels["t1"][1], labels["t2"][1]} == {0, 1}
    # Every split gets its shards, an empty split an empty one: readers never miss a split's files.
    assert [os.path.basename(path).split("-")[0] for path in sorted(glob.glob(os.path.join(output_dir, "*.gz")))] \
        == ["test", "train", "val"]
