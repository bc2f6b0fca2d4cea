"""The feature cache (`pipeline.feature_cache`, `pipeline.cache_entry`) on real clips and real files.

Clips are real H.264 files (a tiny one written here, and the shared
carphone clip); entries are real files in a temporary cache directory.
Frame features come from the decoded pixels through a fixed projection: the
cache stores whatever bytes the CNN gives, so running the CNN here would only
cost time. The writer processes of the concurrency test import this module:
it imports Beam's pipeline API and the clip writers only where they are used.
"""

import multiprocessing
import os
import shutil

import numpy as np
import pytest

from features import questions, quantize, sampling
from pipeline import cache_entry, feature_cache
from pipeline.feature_cache import STATUS_CORRUPT, STATUS_HIT, STATUS_MISS

SHARED_CLIP = "/work/shared/datasets/videos/carphone_distorted.mp4"
FEATURE_DIM = 64
IMAGE_SIZE = 32
SAMPLING = sampling.SamplingConfig(frames_per_video=8)
WEIGHTS_SHA256 = "ab" * 32


def make_identity(**changes):
    values = dict(backbone="inception_v3", feature_dim=FEATURE_DIM, weights_sha256=WEIGHTS_SHA256,
                  image_size=IMAGE_SIZE, sampling=SAMPLING, feature_dtype="float16")
    values.update(changes)
    return feature_cache.CacheIdentity(**values)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two tiny real clips with different content (64x48, 12 and 13 frames)."""
    import bad_inputs
    directory = tmp_path_factory.mktemp("clips")
    return (bad_inputs.write_clip(directory / "first.mp4", 12),
            bad_inputs.write_clip(directory / "second.mp4", 13))


@pytest.fixture(scope="module")
def decoded(clips):
    """The first clip decoded and sampled as the pipeline does it."""
    from features import video  # TensorFlow (resizing) only for the tests that need it.
    return video.decode_video(clips[0], SAMPLING, IMAGE_SIZE)


def pixel_features(frames):
    """[T, size, size, 3] uint8 -> [T, FEATURE_DIM] floats in about [-1, 1]: a fixed projection."""
    projection = np.random.default_rng(0).normal(size=(frames[0].size, FEATURE_DIM)) / np.sqrt(frames[0].size)
    return (frames.reshape(len(frames), -1).astype(np.float64) / 127.5 - 1.0) @ projection


def embed_fresh(task, decoded_video, feature_dtype):
    """The EmbeddedVideo the pipeline makes without the cache."""
    frame_bytes = quantize.encode_frames(pixel_features(decoded_video.frames), feature_dtype, FEATURE_DIM)
    frame_sum, frame_sum_squares = quantize.frame_statistics(frame_bytes, feature_dtype, FEATURE_DIM)
    return questions.EmbeddedVideo(task=task, num_frames=decoded_video.num_frames, frame_bytes=frame_bytes,
                                   frame_sum=frame_sum, frame_sum_squares=frame_sum_squares,
                                   clip=decoded_video.summary())


def video_task(path, segment=None):
    return questions.VideoTask(clip_id=questions.clip_id("7", segment), video_id="7", video_path=str(path),
                               split="train", questions=[], segment=segment)


def stored_entry(cache, clip, segment=None, frames=3):
    """Store a small entry for `clip` and return its key."""
    key = cache.key_for_video(clip, segment)
    values = np.linspace(-1, 1, frames * FEATURE_DIM).reshape(frames, FEATURE_DIM)
    entry = cache_entry.CacheEntry(num_frames=frames, clip={"num_frames": frames, "width": 64},
                                   frame_bytes=quantize.encode_frames(values, cache.identity.feature_dtype))
    cache.store(key, entry)
    return key


@pytest.mark.parametrize("feature_dtype", ["float32", "float16", "uint8"])
def test_a_hit_rebuilds_the_embedded_video_bit_for_bit(tmp_path, clips, decoded, feature_dtype):
    identity = make_identity(feature_dtype=feature_dtype)
    task = video_task(clips[0])
    fresh = embed_fresh(task, decoded, feature_dtype)
    first_run = feature_cache.FeatureCache(str(tmp_path / "cache"), identity)
    key = first_run.key_for_video(task.video_path, task.segment)
    assert first_run.lookup(key).status == STATUS_MISS
    path = first_run.store(key, feature_cache.entry_from_embedded(fresh))

    second_run = feature_cache.FeatureCache(str(tmp_path / "cache") + "/", identity)
    found = second_run.lookup(second_run.key_for_video(task.video_path, task.segment))
    assert (found.status, found.path, found.reason) == (STATUS_HIT, path, "")
    from pipeline import embedding
    rebuilt = embedding.embedded_video(task, found.entry.frame_bytes, feature_dtype, FEATURE_DIM, found.entry.clip)
    assert rebuilt.num_frames == fresh.num_frames == len(decoded.frames) == 8
    assert rebuilt.frame_bytes == fresh.frame_bytes
    assert rebuilt.frame_sum.tobytes() == fresh.frame_sum.tobytes()
    assert rebuilt.frame_sum_squares.tobytes() == fresh.frame_sum_squares.tobytes()
    assert rebuilt.clip == fresh.clip == decoded.summary()
    assert rebuilt.task is task


def test_entries_are_sharded_by_key_prefix_and_the_directory_is_described(tmp_path, clips):
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    description = cache.prepare()
    key = stored_entry(cache, clips[0])
    assert cache.entry_path(key) == str(tmp_path / key.digest[:2] / f"{key.digest}.entry")
    assert os.path.isfile(cache.entry_path(key))
    assert sorted(os.listdir(tmp_path)) == sorted([key.digest[:2], "cache.json"])
    assert cache.prepare() == description  # A second run accepts the directory.
    with open(cache.entry_path(key), "rb") as handle:
        first_line, header = handle.readline(), handle.readline()
    assert first_line.startswith(b"videoqa-feature-cache-entry 1 sha256=")
    assert key.parts["content_sha256"].encode() in header and b"float16" in header


def test_a_cache_of_another_format_or_another_file_is_refused(tmp_path):
    (tmp_path / "cache.json").write_text('{"entry_format_version": 99}')
    with pytest.raises(ValueError, match=r"cache.json holds entries of format 99"):
        feature_cache.FeatureCache(str(tmp_path), make_identity()).prepare()
    (tmp_path / "cache.json").write_text("results of something else")
    with pytest.raises(ValueError, match=r"cache.json is not a feature cache description"):
        feature_cache.FeatureCache(str(tmp_path), make_identity()).prepare()


def test_the_content_checksum_is_the_files_sha256():
    import hashlib
    with open(SHARED_CLIP, "rb") as handle:
        expected = hashlib.sha256(handle.read()).hexdigest()
    assert feature_cache.content_checksum(SHARED_CLIP, chunk_bytes=1000) == expected


def test_an_unreadable_video_has_no_key_and_the_caller_decodes_it_as_usual(tmp_path):
    cache = feature_cache.FeatureCache(str(tmp_path / "cache"), make_identity())
    with pytest.raises(OSError, match="missing.mp4"):
        cache.key_for_video(str(tmp_path / "missing.mp4"))
    assert not os.path.exists(tmp_path / "cache")


def test_the_key_follows_the_content_not_the_path_or_mtime(tmp_path, clips):
    identity = make_identity()
    original = feature_cache.cache_key(identity, feature_cache.content_checksum(clips[0]))
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    shutil.copyfile(clips[0], moved)
    os.utime(moved, (1_000_000, 1_000_000))
    assert feature_cache.content_checksum(str(moved)) == original.parts["content_sha256"]
    cache = feature_cache.FeatureCache(str(tmp_path / "cache"), identity)
    assert cache.key_for_video(str(moved)) == original
    with open(moved, "r+b") as handle:  # One byte of the file changed, same path and size.
        handle.seek(os.path.getsize(moved) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 1]))
    assert cache.key_for_video(str(moved)) != original
    assert cache.key_for_video(clips[1]) != original


@pytest.mark.parametrize("change", [
    dict(backbone="resnet50"),
    dict(weights_sha256="cd" * 32),
    dict(image_size=IMAGE_SIZE + 1),
    dict(feature_dim=FEATURE_DIM * 2),
    dict(sampling=sampling.SamplingConfig(frames_per_video=9)),
    dict(sampling=sampling.SamplingConfig(fps=1.0, max_frames=8)),
    dict(feature_dtype="float32"),
    dict(feature_dtype="uint8"),
])
def test_the_key_changes_with_every_part_of_the_identity(clips, change):
    checksum = feature_cache.content_checksum(clips[0])
    assert (feature_cache.cache_key(make_identity(**change), checksum)
            != feature_cache.cache_key(make_identity(), checksum))


def test_the_key_changes_with_the_segment_and_not_with_number_spelling(clips):
    checksum = feature_cache.content_checksum(clips[0])
    identity = make_identity()
    keys = {feature_cache.cache_key(identity, checksum, segment).digest for segment in
            (None, questions.Segment(0, 0.25), questions.Segment(0.25, 0.5), questions.Segment(0, 0.3))}
    assert len(keys) == 4
    assert (feature_cache.cache_key(identity, checksum, questions.Segment(0, 1))
            == feature_cache.cache_key(identity, checksum, questions.Segment(0.0, 1.0)))
    as_int = make_identity(sampling=sampling.SamplingConfig(fps=2, max_frames=8))
    as_float = make_identity(sampling=sampling.SamplingConfig(fps=2.0, max_frames=8))
    assert feature_cache.cache_key(as_int, checksum) == feature_cache.cache_key(as_float, checksum)


def test_a_bad_identity_or_segment_is_refused_with_a_reason(clips):
    with pytest.raises(ValueError, match="not a SHA-256"):
        make_identity(weights_sha256="imagenet")
    with pytest.raises(ValueError, match="--feature_dtype 'int8'"):
        make_identity(feature_dtype="int8")
    with pytest.raises(ValueError, match="Segment or None"):
        feature_cache.cache_key(make_identity(), "0" * 64, (0, 1))


def test_a_crash_before_the_rename_leaves_no_entry(tmp_path, clips, monkeypatch):
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    key = cache.key_for_video(clips[0])
    path = cache.entry_path(key)
    os.makedirs(os.path.dirname(path))
    with open(path + feature_cache.TEMPORARY_MARKER + "crashed", "wb") as half_written:
        half_written.write(b"videoqa-feature-cache-entry 1 sha256=")  # A writer died here.
    assert cache.lookup(key).status == STATUS_MISS

    def failing_rename(sources, destinations):
        raise OSError("the worker was preempted")

    monkeypatch.setattr(feature_cache.FileSystems, "rename", failing_rename)
    with pytest.raises(OSError, match="preempted"):
        stored_entry(cache, clips[0])
    assert cache.lookup(key).status == STATUS_MISS
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path) + ".tmp-crashed"]


def damaged_copies(data):
    """(description, bytes) of damaged versions of an entry's bytes."""
    first_line_end = data.index(b"\n")
    header_end = data.index(b"\n", first_line_end + 1)
    flips = {"first line": 40, "header": first_line_end + 10, "payload": header_end + 5, "last byte": len(data) - 1}
    for where, position in flips.items():
        flipped = bytearray(data)
        flipped[position] ^= 0x10
        yield f"byte flipped in the {where}", bytes(flipped), "checksum mismatch|not a feature cache entry"
    for where, length in {"first line": 20, "header": header_end - 5, "payload": len(data) - 7}.items():
        yield f"cut in the {where}", data[:length], "checksum mismatch|not a feature cache entry"
    yield "empty", b"", "empty"
    yield "payload cut", data[:len(data) - 7], "declares 384 payload bytes, 377 are present"


def test_a_damaged_entry_is_corrupt_with_a_reason_and_storing_again_repairs_it(tmp_path, clips):
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    key = stored_entry(cache, clips[0])
    path = cache.entry_path(key)
    with open(path, "rb") as handle:
        intact = handle.read()
    for description, damaged, expected in damaged_copies(intact):
        with open(path, "wb") as handle:
            handle.write(damaged)
        found = cache.lookup(key)
        assert (found.status, found.entry) == (STATUS_CORRUPT, None), description
        assert found.reason.startswith(f"feature cache entry {path}: "), description
        assert any(part in found.reason for part in expected.split("|")), (description, found.reason)
    stored_entry(cache, clips[0])
    assert cache.lookup(key).status == STATUS_HIT


def test_an_entry_under_another_key_or_for_another_dtype_is_corrupt(tmp_path, clips):
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    first, second = stored_entry(cache, clips[0]), cache.key_for_video(clips[1])
    os.makedirs(os.path.dirname(cache.entry_path(second)), exist_ok=True)
    shutil.copyfile(cache.entry_path(first), cache.entry_path(second))
    found = cache.lookup(second)
    assert found.status == STATUS_CORRUPT and f"not the key '{second.digest}'" in found.reason
    data = open(cache.entry_path(first), "rb").read()
    with pytest.raises(cache_entry.CorruptEntryError, match="expected 64 of float32"):
        cache_entry.parse_entry(data, first.digest, "float32", FEATURE_DIM)


def test_an_entry_whose_frames_do_not_fit_the_features_is_not_stored(tmp_path, clips):
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    entry = cache_entry.CacheEntry(num_frames=1, frame_bytes=[b"\0" * 10], clip={"num_frames": 1})
    with pytest.raises(ValueError, match="frame 0 holds 10 bytes, expected 128"):
        cache.store(cache.key_for_video(clips[0]), entry)
    with pytest.raises(ValueError, match="of 2 frames was given 1"):
        cache_entry.CacheEntry(num_frames=2, frame_bytes=[b"\0" * 128], clip={})


def store_repeatedly(cache_dir, clip, repeats):
    """Worker process: store the same key `repeats` times."""
    cache = feature_cache.FeatureCache(cache_dir, make_identity())
    for _ in range(repeats):
        stored_entry(cache, clip, frames=200)


def test_concurrent_writers_of_one_key_leave_a_valid_entry_and_readers_never_see_half(tmp_path, clips):
    cache_dir = str(tmp_path / "cache")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=store_repeatedly, args=(cache_dir, clips[0], 150)) for _ in range(2)]
    for writer in writers:
        writer.start()
    cache = feature_cache.FeatureCache(cache_dir, make_identity())
    key = cache.key_for_video(clips[0])
    seen = []
    while any(writer.is_alive() for writer in writers):
        seen.append(cache.lookup(key).status)
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert STATUS_CORRUPT not in seen and STATUS_HIT in seen, seen
    found = cache.lookup(key)
    assert found.status == STATUS_HIT and found.entry.num_frames == 200
    assert os.listdir(os.path.dirname(found.path)) == [os.path.basename(found.path)]


def test_the_lookup_stage_sends_hits_past_the_cnn_and_counts_them(tmp_path, clips):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from pipeline import caching, metrics
    cache = feature_cache.FeatureCache(str(tmp_path), make_identity())
    stored_entry(cache, clips[0])
    corrupt_path = cache.entry_path(stored_entry(cache, SHARED_CLIP))
    with open(corrupt_path, "r+b") as handle:
        handle.truncate(os.path.getsize(corrupt_path) - 1)
    tasks = [video_task(clips[0]), video_task(clips[1]), video_task(SHARED_CLIP), video_task(tmp_path / "gone.mp4")]
    pipeline = beam.Pipeline(runner="DirectRunner")
    looked_up = (pipeline | beam.Create(tasks)
                 | beam.ParDo(caching.LookUpFeatureCache(str(tmp_path), make_identity()))
                 .with_outputs(caching.HITS, main="misses"))
    assert_that(looked_up[caching.HITS] | "HitPaths" >> beam.Map(lambda video: (video.task.video_path,
                                                                                 video.num_frames)),
                equal_to([(str(clips[0]), 3)]), label="hits")
    assert_that(looked_up.misses | "MissPaths" >> beam.Map(lambda task: (task.video_path, task.cache_key is None)),
                equal_to([(str(clips[1]), False), (SHARED_CLIP, False), (str(tmp_path / "gone.mp4"), True)]),
                label="misses")
    result = pipeline.run()
    result.wait_until_finish()
    counters, _ = metrics.read_metrics(result)
    assert counters == {metrics.VIDEOS_REUSED: 1, metrics.CACHE_ENTRIES_CORRUPT: 1}
