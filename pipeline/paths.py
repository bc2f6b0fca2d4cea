"""Where each video file is: per-layout names, `--video_pattern`, `--video_mapping`, and path safety.

`--video_pattern` is formatted with `{video_id}` (the annotation's id) and, when
`--video_mapping` is given, `{clip}` (the mapped name). A pattern ending in `.*`
takes the first of VIDEO_EXTENSIONS that exists (ActivityNet-QA ships .mp4, .mkv
and .webm). Without `--video_pattern`, each layout names its videos as its data
set does (`default_video_pattern`):

    layout          without --video_mapping   with --video_mapping
    msvd_qa         (needs the mapping)       {clip}.avi           youtube_mapping.txt '<clip> vid<N>'
    msrvtt_qa       video{video_id}.mp4       {clip}.mp4
    tgif_qa         {video_id}.gif            {clip}.gif
    next_qa         (needs the mapping)       {clip}.mp4           map_vid_vidorID.json: 0101/2909445186
    activitynet_qa  v_{video_id}.*            {clip}.*
    how2qa          {video_id}.mp4            {clip}.mp4
    generic         video{video_id}.mp4       {clip}.avi           (the defaults before layouts existed)

A resolved path must stay inside `--video_dir`: ids or mapping entries such as
`../../etc/passwd` or absolute paths are rejected, never opened; nested folders
(`0101/2909445186.mp4`) are fine. On a local disk, a path that is a symbolic link
(or passes through a linked folder) resolving outside `--video_dir` is refused
too ("links outside --video_dir") unless `allow_links_outside` (`--allow_links_outside`).
"""

import json
import os
import posixpath

from apache_beam.io.filesystems import FileSystems

ANY_EXTENSION = ".*"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")
# layout -> (pattern without a mapping or None when the layout needs one, pattern with a mapping)
DEFAULT_VIDEO_PATTERNS = {
    "msvd_qa": (None, "{clip}.avi"),
    "msrvtt_qa": ("video{video_id}.mp4", "{clip}.mp4"),
    "tgif_qa": ("{video_id}.gif", "{clip}.gif"),
    "next_qa": (None, "{clip}.mp4"),
    "activitynet_qa": ("v_{video_id}" + ANY_EXTENSION, "{clip}" + ANY_EXTENSION),
    "how2qa": ("{video_id}.mp4", "{clip}.mp4"),
    "generic": ("video{video_id}.mp4", "{clip}.avi"),
}
MAPPING_FILES = {"msvd_qa": "youtube_mapping.txt", "next_qa": "map_vid_vidorID.json"}
GENERIC_LAYOUT = "generic"
LINKS_OUTSIDE = "links outside --video_dir"


def default_video_pattern(layout, has_mapping):
    """The file name pattern of `layout`'s videos; ValueError when the layout needs --video_mapping."""
    if layout not in DEFAULT_VIDEO_PATTERNS:
        raise ValueError(f"no video names for layout {layout!r}; expected one of {', '.join(DEFAULT_VIDEO_PATTERNS)}")
    without_mapping, with_mapping = DEFAULT_VIDEO_PATTERNS[layout]
    if has_mapping:
        return with_mapping
    if without_mapping is None:
        raise ValueError(f"{layout} names its videos through {MAPPING_FILES[layout]}: pass it as --video_mapping "
                         f"(or name the files yourself with --video_pattern, e.g. '{{video_id}}.mp4')")
    return without_mapping


def read_mapping(path):
    """youtube_mapping.txt ('<clip> vid<N>' lines) or map_vid_vidorID.json -> {video_id: clip}.

    ValueError names the file and the line (or entry) at fault.
    """
    if not FileSystems.exists(path):
        raise ValueError(f"--video_mapping {path}: file not found")
    with FileSystems.open(path) as handle:
        content = handle.read().decode("utf-8", errors="replace")
    if path.lower().endswith(".json"):
        return _json_mapping(path, content)
    mapping = {}
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"--video_mapping {path}:{number}: expected '<clip> <id>', got {line!r}")
        clip, mapped_id = parts
        if mapped_id.startswith("vid") and mapped_id[3:].isdigit():
            mapped_id = mapped_id[3:]
        mapping[mapped_id] = clip
    return mapping


def _json_mapping(path, content):
    try:
        mapping = json.loads(content)
    except json.JSONDecodeError as error:
        raise ValueError(f"--video_mapping {path}: malformed JSON at line {error.lineno} column "
                         f"{error.colno}: {error.msg}") from None
    if not isinstance(mapping, dict):
        raise ValueError(f"--video_mapping {path}: expected a JSON object {{video id: file name}}, "
                         f"got a {type(mapping).__name__}")
    for video_id, clip in mapping.items():
        if not isinstance(clip, (str, int)) or isinstance(clip, bool):
            raise ValueError(f"--video_mapping {path}: entry {video_id!r} maps to {clip!r}, not a file name")
    return {str(video_id): str(clip) for video_id, clip in mapping.items()}


class VideoLocator:
    """Turns an annotation video_id into a path under video_dir, or a ValueError with the reason."""

    def __init__(self, video_dir, video_pattern=None, mapping=None, layout=GENERIC_LAYOUT,
                 allow_links_outside=False):
        self.video_dir = video_dir.rstrip("/") or "/"
        self.mapping = mapping
        if video_pattern is None:
            video_pattern = default_video_pattern(layout, mapping is not None)
        self.video_pattern = video_pattern
        try:
            self.video_pattern.format(video_id="x", clip="x")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"--video_pattern {video_pattern!r} may only use {{video_id}} and {{clip}} ({error})") from None
        self.allow_links_outside = allow_links_outside
        self.is_local = "://" not in self.video_dir
        self._real_video_dir = os.path.realpath(self.video_dir) if self.is_local else None
        self._known = {}  # video_id -> (path, reason): each video is resolved once per worker.

    def __call__(self, video_id):
        video_id = str(video_id)
        if video_id not in self._known:
            try:
                self._known[video_id] = (self._locate(video_id), None)
            except ValueError as error:
                self._known[video_id] = (None, str(error))
        path, reason = self._known[video_id]
        if reason is not None:
            raise ValueError(reason)
        return path

    def _locate(self, video_id):
        clip = None
        if self.mapping is not None:
            clip = self.mapping.get(video_id)
            if clip is None:
                raise ValueError(f"video_id {video_id!r} is not in --video_mapping")
        relative = self.video_pattern.format(video_id=video_id, clip=clip)
        if not relative.endswith(ANY_EXTENSION):
            return self.check_links(self.join_safely(relative), relative)
        stem = relative[:-len(ANY_EXTENSION)]
        for extension in VIDEO_EXTENSIONS:
            path = self.join_safely(stem + extension)
            if FileSystems.exists(path):
                return self.check_links(path, stem + extension)
        tried = ", ".join(stem + extension for extension in VIDEO_EXTENSIONS)
        raise ValueError(f"video file not found: none of {tried} is in --video_dir")

    def join_safely(self, relative):
        """video_dir/relative, refusing anything that would leave video_dir."""
        if any(ord(character) < 32 for character in relative):
            raise ValueError(f"video path {relative!r} contains control characters (e.g. a NUL byte)")
        if relative.startswith(("/", "\\")) or "://" in relative or (len(relative) > 1 and relative[1] == ":"):
            raise ValueError(f"video path {relative!r} is absolute; it must be relative to --video_dir")
        normalized = posixpath.normpath(relative.replace("\\", "/"))
        if normalized == ".." or normalized.startswith("../") or normalized in (".", ""):
            raise ValueError(f"video path {relative!r} escapes --video_dir")
        return FileSystems.join(self.video_dir, normalized)

    def check_links(self, path, relative):
        """`path`, unless a symbolic link on its way resolves outside video_dir (local disks only)."""
        if self.allow_links_outside or not self.is_local:
            return path
        resolved = os.path.realpath(path)
        if os.path.commonpath([self._real_video_dir, resolved]) != self._real_video_dir:
            raise ValueError(f"video path {relative!r} {LINKS_OUTSIDE} (it resolves to {resolved}); "
                             f"pass --allow_links_outside to follow such links")
        return path
