"""The file format of one feature cache entry: a clip's stored frame features and its summary.

An entry holds what the pipeline needs to write a clip's record without
decoding the video or running the CNN: the per-frame feature bytes exactly as
the record stores them (`features.quantize.encode_frames` output), the number
of frames, and the clip summary (`features.video.DecodedVideo.summary()`).

Layout (no pickle; readable with `head -2`):

    videoqa-feature-cache-entry 1 sha256=<64 hex digits>\\n     the first line
    {"clip": {...}, "feature_dim": 2048, ...}\\n                 the header, one JSON line
    <num_frames * frame_bytes bytes>                             the payload, frame after frame

The SHA-256 on the first line covers everything after that line (header and
payload), so any truncated or flipped byte is detected. The header repeats the
entry's key and the parts it was made from, so a file in the wrong place is
detected too, and a person can see what an entry is for. Nothing in an entry
depends on the time or the writer: two workers storing the same clip write
identical bytes.

`parse_entry` raises `CorruptEntryError` whose `reason` says what is wrong;
the cache prefixes it with the entry's path.
"""

import dataclasses
import hashlib
import json
import typing

from features import quantize

ENTRY_MAGIC = "videoqa-feature-cache-entry"
ENTRY_FORMAT_VERSION = 1
CHECKSUM_PREFIX = "sha256="
# The first line is short; a longer one means the file is something else.
MAX_FIRST_LINE_BYTES = 200


class CorruptEntryError(ValueError):
    """An entry that must not be used: damaged, truncated, or not the entry asked for."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One clip's stored frame features and what decoding learnt about it."""

    num_frames: int
    frame_bytes: typing.Tuple[bytes, ...]   # one entry per frame (see features.quantize)
    clip: dict                              # DecodedVideo.summary(): JSON-able

    def __post_init__(self):
        object.__setattr__(self, "frame_bytes", tuple(bytes(frame) for frame in self.frame_bytes))
        if self.num_frames != len(self.frame_bytes):
            raise ValueError(f"a cache entry of {self.num_frames} frames was given "
                             f"{len(self.frame_bytes)} frames of features")
        if len({len(frame) for frame in self.frame_bytes}) > 1:
            raise ValueError("the frames of a cache entry hold features of different sizes")


def frame_size(feature_dtype, feature_dim):
    """Bytes one frame's stored features take."""
    return quantize.bytes_per_value(feature_dtype) * int(feature_dim)


def serialize_entry(entry, key, key_parts, feature_dtype, feature_dim):
    """CacheEntry -> the bytes of an entry file.

    `key_parts` (JSON-able) is what the key was made from; it is written into
    the header for people, and the key itself is checked when the entry is read.
    """
    size = frame_size(feature_dtype, feature_dim)
    wrong = [index for index, frame in enumerate(entry.frame_bytes) if len(frame) != size]
    if wrong:
        raise ValueError(
            f"cache entry {key}: frame {wrong[0]} holds {len(entry.frame_bytes[wrong[0]])} bytes, "
            f"expected {size} ({feature_dim} values of {feature_dtype})")
    payload = b"".join(entry.frame_bytes)
    header = {"format": ENTRY_MAGIC, "format_version": ENTRY_FORMAT_VERSION, "key": key,
              "key_parts": key_parts, "feature_dtype": feature_dtype, "feature_dim": int(feature_dim),
              "frame_bytes": size, "num_frames": entry.num_frames, "payload_bytes": len(payload),
              "clip": entry.clip}
    body = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n" + payload
    first_line = f"{ENTRY_MAGIC} {ENTRY_FORMAT_VERSION} {CHECKSUM_PREFIX}{hashlib.sha256(body).hexdigest()}\n"
    return first_line.encode("ascii") + body


def _split_first_line(data):
    """(declared checksum, body) from an entry's bytes, or CorruptEntryError."""
    if not data:
        raise CorruptEntryError("the entry is empty (0 bytes)")
    end = data.find(b"\n", 0, MAX_FIRST_LINE_BYTES)
    if end < 0:
        raise CorruptEntryError(f"not a feature cache entry: no '{ENTRY_MAGIC}' first line")
    words = data[:end].decode("ascii", errors="replace").split(" ")
    if len(words) != 3 or words[0] != ENTRY_MAGIC or not words[2].startswith(CHECKSUM_PREFIX):
        raise CorruptEntryError(f"not a feature cache entry: its first line is {data[:end][:80]!r}")
    if words[1] != str(ENTRY_FORMAT_VERSION):
        raise CorruptEntryError(
            f"written in entry format {words[1]!r}, this code reads format {ENTRY_FORMAT_VERSION}")
    return words[2][len(CHECKSUM_PREFIX):], data[end + 1:]


def _read_header(body):
    end = body.find(b"\n")
    if end < 0:
        raise CorruptEntryError("the header line is missing or cut off")
    try:
        header = json.loads(body[:end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CorruptEntryError(f"the header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise CorruptEntryError("the header is not a JSON object")
    return header, body[end + 1:]


def _truncation_detail(body):
    """' (the header declares N payload bytes, M are present)' when the header still reads."""
    try:
        header, payload = _read_header(body)
        declared = int(header["payload_bytes"])
    except (CorruptEntryError, KeyError, TypeError, ValueError):
        return ""
    if declared == len(payload):
        return ""
    return f"; the header declares {declared} payload bytes, {len(payload)} are present (truncated)"


def parse_entry(data, expected_key, feature_dtype, feature_dim):
    """Bytes of an entry file -> CacheEntry, after checking its checksum, key, dtype and sizes."""
    declared_checksum, body = _split_first_line(data)
    actual_checksum = hashlib.sha256(body).hexdigest()
    if actual_checksum != declared_checksum:
        raise CorruptEntryError(
            f"checksum mismatch: the entry declares sha256 {declared_checksum[:16]}... but its "
            f"{len(body)} bytes hash to {actual_checksum[:16]}... (damaged or truncated)"
            f"{_truncation_detail(body)}")
    header, payload = _read_header(body)
    try:
        key, num_frames, size = header["key"], int(header["num_frames"]), int(header["frame_bytes"])
        stored_dtype, stored_dim, clip = header["feature_dtype"], int(header["feature_dim"]), header["clip"]
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptEntryError(f"the header lacks a valid field ({type(error).__name__}: {error})") from None
    if key != expected_key:
        raise CorruptEntryError(f"the entry holds key {key!r}, not the key {expected_key!r} of its file name")
    if (stored_dtype, stored_dim) != (feature_dtype, int(feature_dim)):
        raise CorruptEntryError(
            f"the entry holds {stored_dim} values of {stored_dtype} per frame, expected "
            f"{feature_dim} of {feature_dtype}")
    if size != frame_size(feature_dtype, feature_dim) or len(payload) != num_frames * size:
        raise CorruptEntryError(
            f"the payload holds {len(payload)} bytes, expected {num_frames} frames of {size} bytes")
    if not isinstance(clip, dict):
        raise CorruptEntryError(f"the clip summary is not a JSON object: {clip!r}")
    frames = tuple(payload[index * size:(index + 1) * size] for index in range(num_frames))
    return CacheEntry(num_frames=num_frames, frame_bytes=frames, clip=clip)
