"""Clips to stored frame features: decode and sample once, embed with the frozen CNN, quantise.

  DecodeVideos     VideoTask -> (VideoTask, frames uint8 [T, size, size, 3], clip summary)  + errors
  RunInference     (see `pipeline.inference`): frames -> features float32 [T, feature_dim]
  assemble_video   ((task, clip summary), features) -> EmbeddedVideo                        + errors

A clip's frames stay together from decoding to its record: RunInference
batches whole clips, so nothing regroups (shuffles) features after the CNN.
"""

import collections
import concurrent.futures
import logging
import time

import apache_beam as beam
import numpy as np
from apache_beam.utils.windowed_value import WindowedValue

from features import questions as questions_lib
from features import quantize, video
from pipeline import grouping, metrics


def _decode_task(task, sampling_config, image_size):
    """(task, DecodedVideo or None, error message or None, seconds); never raises."""
    started = time.perf_counter()
    try:
        decoded = video.decode_video(task.video_path, sampling_config, image_size, segment=task.segment)
        return task, decoded, None, time.perf_counter() - started
    except video.VideoDecodeError as error:
        return task, None, str(error), time.perf_counter() - started
    except Exception as error:  # An unexpected decoder failure must not stop the run.
        return (task, None, f"{task.video_path}: unexpected decoding error ({type(error).__name__}: {error})",
                time.perf_counter() - started)


class DecodeVideos(beam.DoFn):
    """Decode and sample each clip once; emit ((task, clip summary), frames).

    Decoding runs on `decode_threads` background threads, up to
    2 x decode_threads clips ahead of the element being emitted, so a worker
    decodes the next clips while the CNN downstream in the same fused stage
    embeds the previous ones (PyAV and TensorFlow release the GIL). Outputs
    keep the input order; the bundle's last clips are emitted by
    `finish_bundle`. decode_threads=0 decodes inline.
    """

    def __init__(self, sampling_config, image_size, decode_threads=0):
        self.sampling_config = sampling_config
        self.image_size = image_size
        self.decode_threads = decode_threads
        self._executor = None
        self._pending = None

    def setup(self):
        if self.decode_threads > 0:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.decode_threads, thread_name_prefix="decode_video")

    def start_bundle(self):
        self._pending = collections.deque()

    def process(self, task, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        if self._executor is None:
            yield from self._outputs(*_decode_task(task, self.sampling_config, self.image_size))
            return
        self._pending.append((self._executor.submit(
            _decode_task, task, self.sampling_config, self.image_size), window, timestamp))
        while len(self._pending) > 2 * self.decode_threads:
            future, _, _ = self._pending.popleft()
            yield from self._outputs(*future.result())

    def finish_bundle(self):
        while self._pending:
            future, window, timestamp = self._pending.popleft()
            for output in self._outputs(*future.result()):
                if isinstance(output, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(output.tag, WindowedValue(output.value, timestamp, [window]))
                else:
                    yield WindowedValue(output, timestamp, [window])

    def teardown(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    @staticmethod
    def _outputs(task, decoded, error, seconds):
        metrics.add_seconds(metrics.STAGE_DECODE, seconds)
        if decoded is None:
            yield from grouping.reject_video(task, "decode_video", error)
            return
        metrics.count(metrics.VIDEOS_DECODED)
        if decoded.seek_fallback:
            logging.info("%s: decoded in order instead of seeking (%s)", task.video_path, decoded.seek_fallback)
        yield (task, decoded.summary()), decoded.frames


def embedded_video(task, frame_bytes, feature_dtype, feature_dim, clip):
    """An EmbeddedVideo from stored frame bytes: its sums are over the values readers get back."""
    frame_sum, frame_sum_squares = quantize.frame_statistics(frame_bytes, feature_dtype, feature_dim)
    return questions_lib.EmbeddedVideo(task=task, num_frames=len(frame_bytes), frame_bytes=list(frame_bytes),
                                       frame_sum=frame_sum, frame_sum_squares=frame_sum_squares, clip=dict(clip))


def assemble_video(embedded, feature_dtype, feature_dim):
    """((task, clip summary), features float32 [T, feature_dim]) -> EmbeddedVideo."""
    (task, clip), features = embedded
    features = np.asarray(features, dtype=np.float32)
    num_frames = clip["num_frames"]
    if features.shape != (num_frames, feature_dim):
        yield from grouping.reject_video(
            task, "embed_frames", f"{task.video_path}: expected features of shape ({num_frames}, "
                                  f"{feature_dim}) from the CNN, got {features.shape}")
        return
    metrics.count(metrics.VIDEOS_EMBEDDED)
    yield embedded_video(task, quantize.encode_frames(features, feature_dtype, feature_dim),
                         feature_dtype, feature_dim, clip)
