"""The feature cache in the pipeline: look clips up before decoding, store what the CNN embedded.

  LookUpFeatureCache   VideoTask -> EmbeddedVideo (tagged HITS: no decoding, no CNN)
                                    or the VideoTask with its cache key (a miss, or a corrupt entry)
  StoreInFeatureCache  EmbeddedVideo -> the same, after writing its entry (when its task has a key)

Both are counted in the run's metrics: videos reused, corrupt entries
recomputed (videos embedded are counted where the CNN runs). A file that
cannot be read for its checksum goes on as a miss without a key: decoding
then reports why it cannot be used.
"""

import dataclasses
import logging

import apache_beam as beam

from pipeline import embedding, feature_cache, metrics

HITS = "hits"


class _FeatureCacheDoFn(beam.DoFn):
    """Opens the run's cache once per worker."""

    def __init__(self, cache_dir, identity):
        self.cache_dir = cache_dir
        self.identity = identity
        self._cache = None

    def setup(self):
        self._cache = feature_cache.FeatureCache(self.cache_dir, self.identity)


class LookUpFeatureCache(_FeatureCacheDoFn):
    def process(self, task):
        with metrics.timed(metrics.STAGE_CACHE):
            try:
                key = self._cache.key_for_video(task.video_path, task.segment)
            except Exception:  # Unreadable: decoding says why, with the usual reasons.
                yield task
                return
            found = self._cache.lookup(key)
        if found.status == feature_cache.STATUS_HIT:
            metrics.count(metrics.VIDEOS_REUSED)
            yield beam.pvalue.TaggedOutput(HITS, embedding.embedded_video(
                task, found.entry.frame_bytes, self.identity.feature_dtype, self.identity.feature_dim,
                found.entry.clip))
            return
        if found.status == feature_cache.STATUS_CORRUPT:
            metrics.count(metrics.CACHE_ENTRIES_CORRUPT)
            logging.warning("%s: not used; the clip is embedded again and the entry replaced", found.reason)
        yield dataclasses.replace(task, cache_key=key)


class StoreInFeatureCache(_FeatureCacheDoFn):
    def process(self, video):
        if video.task.cache_key is not None:
            with metrics.timed(metrics.STAGE_CACHE):
                self._cache.store(video.task.cache_key, feature_cache.entry_from_embedded(video))
            video = dataclasses.replace(video, task=dataclasses.replace(video.task, cache_key=None))
        yield video
