"""A cache of each clip's stored frame features, so the frozen CNN runs once per video ever.

`python -m pipeline.run --feature_cache DIR` (DIR local or gs://, any Beam
filesystem) keeps one entry per clip. A later run that asks for the same clip
with the same CNN, sampling and feature dtype reuses it: no decoding, no CNN,
and the record it writes is identical (the frame bytes are the stored ones,
the statistics are recomputed from them by `frame_statistics`).

The key of an entry is a SHA-256 over (see `CacheIdentity` and `cache_key`):
  the video file's content   SHA-256 streamed through Beam's FileSystems (not its path or mtime)
  the clip's segment         `features.questions.Segment` or None (the whole file)
  the CNN                    backbone, feature dimension, weights checksum, image size
  the sampling               `features.sampling.SamplingConfig.to_dict()`
  the feature dtype          and the uint8 quantiser's range when it is uint8
  KEY_VERSION                bumped when decoding, resizing or preprocessing change what
                             the same inputs give

Layout: DIR/cache.json says what the directory is and its entry format;
DIR/<first 2 hex digits of the key>/<key>.entry are the entries (256 shards,
so 10 million clips make about 40,000 files per directory). The entry format
is `pipeline.cache_entry`.

Writes are atomic: an entry is written under a temporary name in its own
directory (`<key>.entry.tmp-<random>`) and renamed (`FileSystems.rename`; on
GCS a copy then a delete, the object appearing whole). Readers never see a
half entry; two writers of one key write identical bytes, so the last rename
wins harmlessly. A crashed writer can leave a `.tmp-` file, which no reader
opens (remove them with `rm DIR/*/*.tmp-*` or `gsutil -m rm 'DIR/**.tmp-*'`).

The pipeline's `pipeline.caching` stages look clips up before decoding and
store what they embed. A corrupt entry (`found.reason` names its path and what
is wrong) is never used; storing the recomputed features replaces it.
"""

import dataclasses
import hashlib
import json
import re
import typing
import uuid

from apache_beam.io.filesystems import CompressionTypes, FileSystems

from features import manifest as manifest_lib
from features import quantize, questions, sampling
from pipeline import cache_entry

# Bump when the same file and configuration would give other features
# (decoding, frame selection, resizing or CNN preprocessing changed).
KEY_VERSION = 1
DESCRIPTION_FILE = "cache.json"
ENTRY_SUFFIX = ".entry"
TEMPORARY_MARKER = ".tmp-"
SHARD_PREFIX_LENGTH = 2
CONTENT_CHUNK_BYTES = 8 * 2**20

STATUS_HIT = "hit"
STATUS_MISS = "miss"
STATUS_CORRUPT = "corrupt"
STATUSES = (STATUS_HIT, STATUS_MISS, STATUS_CORRUPT)

_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class CacheIdentity:
    """Every part of the key that is the same for all clips of a run: built once per run."""

    backbone: str
    feature_dim: int
    weights_sha256: str
    image_size: int
    sampling: sampling.SamplingConfig
    feature_dtype: str

    def __post_init__(self):
        quantize.check_feature_dtype(self.feature_dtype)
        if not _SHA256_PATTERN.fullmatch(self.weights_sha256 or ""):
            raise ValueError(f"feature cache: the CNN weights checksum {self.weights_sha256!r} "
                             f"is not a SHA-256 hex digest")
        if int(self.image_size) <= 0 or int(self.feature_dim) <= 0:
            raise ValueError(f"feature cache: image size {self.image_size} and feature dimension "
                             f"{self.feature_dim} must be positive")

    @classmethod
    def from_cnn_description(cls, cnn_description, sampling_config, feature_dtype):
        """From `features.cnn.FrozenCnn.describe()` (or the manifest's `cnn`), the sampling and the dtype."""
        return cls(backbone=cnn_description[manifest_lib.CNN_BACKBONE],
                   feature_dim=int(cnn_description[manifest_lib.CNN_FEATURE_DIM]),
                   weights_sha256=cnn_description[manifest_lib.CNN_WEIGHTS_SHA256],
                   image_size=int(cnn_description[manifest_lib.CNN_IMAGE_SIZE]),
                   sampling=sampling_config, feature_dtype=feature_dtype)

    def to_dict(self):
        """The run's part of every key, normalised (2 and 2.0 give one key)."""
        normalised_sampling = sampling.SamplingConfig.from_dict(self.sampling.to_dict()).to_dict()
        return {"key_version": KEY_VERSION, "entry_format_version": cache_entry.ENTRY_FORMAT_VERSION,
                "backbone": self.backbone, "feature_dim": int(self.feature_dim),
                "weights_sha256": self.weights_sha256, "image_size": int(self.image_size),
                "sampling": normalised_sampling, "feature_dtype": self.feature_dtype,
                "quantize": manifest_lib.quantize_config() if self.feature_dtype == "uint8" else None}


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """The key of one clip's entry: `digest` names the file, `parts` is what it was made from."""

    digest: str
    parts: dict = dataclasses.field(compare=False, hash=False)


def content_checksum(path, chunk_bytes=CONTENT_CHUNK_BYTES):
    """SHA-256 hex digest of a file's bytes, streamed through Beam's FileSystems (local, gs://, ...)."""
    digest = hashlib.sha256()
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(identity, content_sha256, segment=None):
    """The CacheKey of a clip: the file's content checksum, its segment, and the run's identity."""
    if not _SHA256_PATTERN.fullmatch(content_sha256 or ""):
        raise ValueError(f"feature cache: {content_sha256!r} is not a SHA-256 hex digest of a video")
    if segment is not None and not isinstance(segment, questions.Segment):
        raise ValueError(f"feature cache: a clip's segment must be a features.questions.Segment or None, "
                         f"got {segment!r}")
    parts = dict(identity.to_dict(), content_sha256=content_sha256,
                 segment=None if segment is None else {"start": float(segment.start), "end": float(segment.end)})
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()
    return CacheKey(digest=digest, parts=parts)


@dataclasses.dataclass(frozen=True)
class CacheLookup:
    """What `FeatureCache.lookup` found: a usable entry (hit), nothing (miss), or a corrupt entry."""

    status: str
    path: str
    entry: typing.Optional[cache_entry.CacheEntry] = None   # set on a hit only
    reason: str = ""                                         # set when corrupt: the path and what is wrong


class FeatureCache:
    """Entries under one cache directory for one run's identity. Cheap to build; no I/O until used."""

    def __init__(self, cache_dir, identity):
        if not cache_dir or not cache_dir.strip("/"):
            raise ValueError(f"--feature_cache {cache_dir!r}: give a directory (local or gs://)")
        self.cache_dir = cache_dir.rstrip("/")
        self.identity = identity

    def key_for_video(self, video_path, segment=None):
        """The key of a clip of `video_path`; reads the whole file once. OSError/BeamIOError if unreadable."""
        return cache_key(self.identity, content_checksum(video_path), segment)

    def entry_path(self, key):
        digest = key.digest
        return FileSystems.join(self.cache_dir, digest[:SHARD_PREFIX_LENGTH], digest + ENTRY_SUFFIX)

    def description_path(self):
        return FileSystems.join(self.cache_dir, DESCRIPTION_FILE)

    def lookup(self, key):
        """CacheLookup: hit with the entry, miss, or corrupt with a reason naming the entry's path."""
        path = self.entry_path(key)
        if not FileSystems.exists(path):
            return CacheLookup(STATUS_MISS, path)
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                data = handle.read()
        except OSError as error:
            if not FileSystems.exists(path):
                return CacheLookup(STATUS_MISS, path)  # Removed since (someone cleared the cache).
            return CacheLookup(STATUS_CORRUPT, path, reason=f"feature cache entry {path}: unreadable ({error})")
        try:
            entry = cache_entry.parse_entry(data, key.digest, self.identity.feature_dtype,
                                            self.identity.feature_dim)
        except cache_entry.CorruptEntryError as error:
            return CacheLookup(STATUS_CORRUPT, path, reason=f"feature cache entry {path}: {error.reason}")
        return CacheLookup(STATUS_HIT, path, entry=entry)

    def store(self, key, entry):
        """Write `entry` under `key` atomically (temporary name, then rename); returns its path."""
        path = self.entry_path(key)
        data = cache_entry.serialize_entry(entry, key.digest, key.parts, self.identity.feature_dtype,
                                           self.identity.feature_dim)
        _write_atomically(path, data)
        return path

    def prepare(self):
        """Check the directory's cache.json (write it if absent): call once when the pipeline starts.

        Writing it also proves the directory is writable before any video is embedded.
        """
        path = self.description_path()
        if FileSystems.exists(path):
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                content = handle.read()
            try:
                description = json.loads(content.decode("utf-8"))
                version = description["entry_format_version"]
            except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
                raise ValueError(f"--feature_cache: {path} is not a feature cache description "
                                 f"({type(error).__name__}: {error}); give an empty directory or a cache "
                                 f"this toolkit wrote") from None
            if version != cache_entry.ENTRY_FORMAT_VERSION:
                raise ValueError(f"--feature_cache: {path} holds entries of format {version!r}, this code "
                                 f"writes format {cache_entry.ENTRY_FORMAT_VERSION}: clear the directory or "
                                 f"use another one")
            return path
        description = {"format": cache_entry.ENTRY_MAGIC,
                       "entry_format_version": cache_entry.ENTRY_FORMAT_VERSION,
                       "key_version": KEY_VERSION,
                       "layout": f"<first {SHARD_PREFIX_LENGTH} hex digits of the key>/<key>{ENTRY_SUFFIX}",
                       "about": "Frame features of video clips, keyed by the SHA-256 of the video's "
                                "content, segment, CNN, sampling and feature dtype (pipeline/feature_cache.py). "
                                "Safe to delete: entries are recomputed when missing."}
        _write_atomically(path, (json.dumps(description, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        return path


def _write_atomically(path, data):
    """Write `data` to a temporary name beside `path`, then rename it to `path`."""
    temporary = f"{path}{TEMPORARY_MARKER}{uuid.uuid4().hex}"
    with FileSystems.create(temporary, mime_type="application/octet-stream",
                            compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    try:
        FileSystems.rename([temporary], [path])
    except Exception:  # BeamIOError wraps the filesystem's own error.
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
        raise


def entry_from_embedded(embedded):
    """The cache entry of a freshly embedded clip (`features.questions.EmbeddedVideo`)."""
    return cache_entry.CacheEntry(num_frames=embedded.num_frames, frame_bytes=tuple(embedded.frame_bytes),
                                  clip=dict(embedded.clip))
