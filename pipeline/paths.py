"""Where each video file is: `--video_pattern`, `--video_mapping`, and path safety.

`--video_pattern` is formatted with `{video_id}` (the annotation's id) and,
when `--video_mapping` is given, `{clip}` (the mapped clip name). MSVD-QA's
`youtube_mapping.txt` has lines `<clip> vid<N>` where N is the annotation's
integer video_id; other mappings may use `<clip> <video_id>`.

A resolved path must stay inside `--video_dir`: ids or mapping entries such as
`../../etc/passwd` or absolute paths are rejected, never opened.
"""

import posixpath

from apache_beam.io.filesystems import FileSystems

DEFAULT_VIDEO_PATTERN = "video{video_id}.mp4"          # MSRVTT-QA
DEFAULT_MAPPED_VIDEO_PATTERN = "{clip}.avi"            # MSVD-QA YouTubeClips


def read_mapping(path):
    """youtube_mapping.txt -> {video_id: clip}. ValueError names the file and line."""
    if not FileSystems.exists(path):
        raise ValueError(f"--video_mapping {path}: file not found")
    with FileSystems.open(path) as handle:
        content = handle.read().decode("utf-8", errors="replace")
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


class VideoLocator:
    """Turns an annotation video_id into a path under video_dir, or a reason it cannot."""

    def __init__(self, video_dir, video_pattern=None, mapping=None, layout=None, allow_links_outside=False):
        self.video_dir = video_dir.rstrip("/") or "/"
        self.mapping = mapping
        if video_pattern is None:
            video_pattern = DEFAULT_MAPPED_VIDEO_PATTERN if mapping is not None else DEFAULT_VIDEO_PATTERN
        self.video_pattern = video_pattern
        try:
            self.video_pattern.format(video_id="x", clip="x")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"--video_pattern {video_pattern!r} may only use {{video_id}} and {{clip}} ({error})") from None

    def __call__(self, video_id):
        clip = None
        if self.mapping is not None:
            clip = self.mapping.get(str(video_id))
            if clip is None:
                raise ValueError(f"video_id {video_id!r} is not in --video_mapping")
        relative = self.video_pattern.format(video_id=video_id, clip=clip)
        return self.join_safely(relative)

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
