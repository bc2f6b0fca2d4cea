"""Read one `POST /v1/answer` body: stream the uploaded video to a temporary file, collect the questions.

    upload = await serve_upload.receive_answer_form(request, upload_dir, max_body_bytes)
    try:
        ... upload.video_path, upload.questions, upload.candidates ...
    finally:
        upload.remove()

The body is `multipart/form-data` (what a browser's FormData and `curl -F`
send) with one `video` file part, repeated `question` fields and optional
repeated `candidate` fields. It is parsed as it arrives (python-multipart's
streaming parser): the video's bytes go straight to a new file in
`upload_dir`, never whole into memory, and the text fields are bounded
(`MAX_FIELD_BYTES` each, `MAX_FIELDS` in all).

Size: a declared Content-Length over `max_body_bytes` is refused before one
byte of the body is read; without one (chunked uploads) the bytes are
counted as they arrive and reading stops at the limit. Both are
`UploadError(413)`, whose response closes the connection so that the rest of
the body is never read.

A client that goes away mid-upload, or a malformed body, is an
`UploadError(400)` too (nobody may be left to read it).

Only the uploaded bytes are used: a `video` field sent as plain text (a path
or a URL) is refused, and the client's file name only labels messages (its
extension, when it is short and plain, becomes the temporary file's, which
helps FFmpeg's probing). Whatever goes wrong while reading, the temporary
file is removed before the error leaves this module.
"""

import dataclasses
import os
import re
import tempfile
import typing

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

VIDEO_FIELD = "video"
QUESTION_FIELD = "question"
CANDIDATE_FIELD = "candidate"
FORM_FIELDS = (VIDEO_FIELD, QUESTION_FIELD, CANDIDATE_FIELD)
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 256
BYTES_PER_MB = 1024 * 1024
TEMPORARY_FILE_PREFIX = "upload-"
_PLAIN_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class UploadError(Exception):
    """A request body that cannot be used: the HTTP status and a message for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class AnswerForm:
    """What one `POST /v1/answer` carried: the video (as a temporary file), questions, candidates."""

    video_path: str
    video_filename: str   # as the client named it (for messages only; never opened)
    video_bytes: int
    questions: typing.List[str]
    candidates: typing.List[str]

    def remove(self):
        """Delete the temporary video file (idempotent)."""
        _remove_file(self.video_path)


def _remove_file(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _megabytes(num_bytes):
    return f"{num_bytes / BYTES_PER_MB:g} MB"


def check_declared_size(headers, max_body_bytes):
    """UploadError(413) when Content-Length says the body is over the limit, 400 when it is not a number."""
    declared = headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise UploadError(400, f"Content-Length {declared!r} is not a number of bytes")
    if int(declared) > max_body_bytes:
        raise UploadError(413, f"the upload is {_megabytes(int(declared))} (Content-Length) but this service "
                               f"takes at most {_megabytes(max_body_bytes)} (--max_upload_mb)")


def _boundary(headers):
    content_type, options = parse_options_header(headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadError(415, f"send multipart/form-data (a '{VIDEO_FIELD}' file and '{QUESTION_FIELD}' "
                               f"fields, e.g. curl -F video=@clip.mp4 -F question='...'), not "
                               f"{content_type.decode('latin-1') or 'a body without Content-Type'}")
    return options[b"boundary"]


class _FormReader:
    """python-multipart callbacks: text fields into memory (bounded), the video part into a file."""

    def __init__(self, upload_dir):
        self.upload_dir = upload_dir
        self.fields = {QUESTION_FIELD: [], CANDIDATE_FIELD: []}
        self.num_fields = 0
        self.video_path = None
        self.video_filename = None
        self.video_file = None
        self.video_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part_name = None
        self._part_data = None

    def callbacks(self):
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end}

    def on_part_begin(self):
        self._disposition, self._part_name, self._part_data = b"", None, None

    def on_header_field(self, data, start, end):
        self._header_name += data[start:end]

    def on_header_value(self, data, start, end):
        self._header_value += data[start:end]

    def on_header_end(self):
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self):
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name not in FORM_FIELDS:
            raise UploadError(400, f"unknown form field {name!r}: send '{VIDEO_FIELD}' (a file), "
                                   f"'{QUESTION_FIELD}' and '{CANDIDATE_FIELD}' fields")
        self.num_fields += 1
        if self.num_fields > MAX_FIELDS:
            raise UploadError(400, f"more than {MAX_FIELDS} form fields")
        self._part_name = name
        if name != VIDEO_FIELD:
            if b"filename" in options:
                raise UploadError(400, f"the '{name}' field must be text, not a file")
            self._part_data = bytearray()
            return
        if b"filename" not in options:
            raise UploadError(400, f"the '{VIDEO_FIELD}' field must be an uploaded file (curl -F video=@clip.mp4), "
                                   f"not text: this service never opens paths or URLs sent to it")
        if self.video_file is not None:
            raise UploadError(400, f"send one '{VIDEO_FIELD}' file per request")
        self.video_filename = os.path.basename(options[b"filename"].decode("utf-8", "replace")) or "upload"
        extension = os.path.splitext(self.video_filename)[1]
        handle, self.video_path = tempfile.mkstemp(
            prefix=TEMPORARY_FILE_PREFIX, suffix=extension if _PLAIN_EXTENSION.match(extension) else "",
            dir=self.upload_dir)
        self.video_file = os.fdopen(handle, "wb")

    def on_part_data(self, data, start, end):
        if self._part_name == VIDEO_FIELD:
            self.video_file.write(data[start:end])
            self.video_bytes += end - start
            return
        if len(self._part_data) + end - start > MAX_FIELD_BYTES:
            raise UploadError(400, f"a '{self._part_name}' field is over {MAX_FIELD_BYTES} bytes")
        self._part_data.extend(data[start:end])

    def on_part_end(self):
        if self._part_name == VIDEO_FIELD:
            self.video_file.close()
        elif self._part_name is not None:
            try:
                self.fields[self._part_name].append(self._part_data.decode("utf-8"))
            except UnicodeDecodeError:
                raise UploadError(400, f"a '{self._part_name}' field is not UTF-8 text") from None

    def discard(self):
        if self.video_file is not None:
            self.video_file.close()
        if self.video_path is not None:
            _remove_file(self.video_path)


def _clean_texts(texts, name):
    cleaned = [text.strip() for text in texts]
    for position, text in enumerate(cleaned, start=1):
        if not text:
            raise UploadError(400, f"{name} {position} of {len(cleaned)} is empty")
    return cleaned


async def receive_answer_form(request, upload_dir, max_body_bytes):
    """The AnswerForm of a Starlette request; UploadError (status, message) when it cannot be used.

    The caller owns the returned temporary file: call `.remove()` when done.
    """
    check_declared_size(request.headers, max_body_bytes)
    boundary = _boundary(request.headers)
    form_reader = _FormReader(upload_dir)
    received = 0
    try:
        parser = MultipartParser(boundary, form_reader.callbacks())
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                raise UploadError(413, f"the upload is over {_megabytes(max_body_bytes)}, the most this service "
                                       f"takes (--max_upload_mb); reading stopped there")
            parser.write(chunk)
        parser.finalize()
        if form_reader.video_path is None:
            raise UploadError(400, f"no '{VIDEO_FIELD}' file in the form (curl -F video=@clip.mp4)")
        if form_reader.video_file is not None and not form_reader.video_file.closed:
            raise UploadError(400, "the form ends inside the video file (incomplete upload)")
        return AnswerForm(video_path=form_reader.video_path, video_filename=form_reader.video_filename,
                          video_bytes=form_reader.video_bytes,
                          questions=_clean_texts(form_reader.fields[QUESTION_FIELD], QUESTION_FIELD),
                          candidates=_clean_texts(form_reader.fields[CANDIDATE_FIELD], CANDIDATE_FIELD))
    except FormParserError as error:
        form_reader.discard()
        raise UploadError(400, f"malformed multipart/form-data body ({error})") from None
    except ClientDisconnect:
        form_reader.discard()
        raise UploadError(400, "the client went away before the upload ended") from None
    except BaseException:
        form_reader.discard()
        raise
