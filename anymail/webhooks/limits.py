"""Reading a webhook's body within Anymail's own size cap, instead of Django's.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MiB by default) suits form posts, but an inbound
webhook carries a whole email (up to 40 MB with SES, a little less elsewhere), and a tracking
batch can pass 2.5 MiB too. Webhook views read their body here instead, capped by
``INBOUND_MAX_BODY_SIZE`` or ``TRACKING_MAX_BODY_SIZE``: a declared size over the cap is refused
before a byte is read, and the read itself stops at the cap. Multipart uploads still go through
Django's upload handlers (large files spool to disk); only the cap on a form field's size is ours.
"""

from __future__ import annotations

import types
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict

INBOUND_MAX_BODY_SIZE = 50 * 1024 * 1024  # SES's 40 MB messages, plus encoding overhead
TRACKING_MAX_BODY_SIZE = 10 * 1024 * 1024  # the largest event batches ESPs post are ~a few MB


class BodyTooLarge(Exception):
    """The request body is larger than the view accepts."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        described = f"{size:,} bytes" if size is not None else "more bytes"
        super().__init__(f"Webhook body of {described} is over the {limit:,}-byte limit")


def declared_length(request: HttpRequest) -> int:
    """The request's Content-Length (0 when absent); ValueError if it isn't a number."""
    value = request.META.get("CONTENT_LENGTH") or "0"
    length = int(value)
    if length < 0:
        raise ValueError(f"Invalid Content-Length {value!r}")
    return length


def read_body(request: HttpRequest, limit: int) -> None:
    """Read request's body (at most limit bytes), so request.body/POST/FILES work without
    Django's own (smaller) limit. Raises BodyTooLarge, or ValueError for a malformed upload."""
    length = declared_length(request)
    if length > limit:
        raise BodyTooLarge(length, limit)
    if hasattr(request, "_body") or getattr(request, "_read_started", False):
        return  # already read (e.g., by middleware): Django applied its own limit then
    stream = _CappedStream(request, limit)
    if request.content_type == "multipart/form-data":
        # (the private attributes request.POST and request.FILES are read from; not in the stubs)
        post, files = _parse_multipart(request, stream, limit)
        request._post, request._files = post, files  # type: ignore[attr-defined]
    else:
        body = stream.read()
        # What HttpRequest.body does after its own read (with its size check, which this replaces)
        request._body = body
        request._stream = BytesIO(body)


class _CappedStream:
    """A file-like view of the request body that refuses to go past the limit."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        allowed = self.limit + 1 - self.total  # one byte more, to notice an oversized body
        chunk = self.request.read(allowed if size is None or size < 0 else min(size, allowed))
        self.total += len(chunk)
        if self.total > self.limit:
            raise BodyTooLarge(None, self.limit)
        return chunk


def _parse_multipart(
    request: HttpRequest, stream: _CappedStream, limit: int
) -> tuple[QueryDict, MultiValueDict[str, UploadedFile[bytes]]]:
    # (django-stubs want a whole file-like input_data; the parser only ever calls read())
    parser = MultiPartParser(
        request.META,
        stream,  # type: ignore[arg-type]
        request.upload_handlers,
        request.encoding,
    )
    # Django's parser caps each request's form fields at DATA_UPLOAD_MAX_MEMORY_SIZE, read from
    # its module's `settings`. Run its own parsing code with a `settings` whose cap is ours:
    # nothing is copied or patched, and other requests (other threads) are unaffected.
    # (Recent Django has parse() call _parse(); in older versions parse() does the work.)
    function: types.FunctionType = getattr(
        type(parser), "_parse" if hasattr(parser, "_parse") else "parse"
    )
    scoped_globals = {**function.__globals__, "settings": _SettingsWithLimit(limit)}
    scoped = types.FunctionType(
        function.__code__,
        scoped_globals,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    if hasattr(parser, "_parse"):
        parser._parse = types.MethodType(scoped, parser)  # parse() calls it, then tidies up
        return parser.parse()
    result: tuple[QueryDict, MultiValueDict[str, UploadedFile[bytes]]] = scoped(parser)
    return result


class _SettingsWithLimit:
    """Django's settings, except DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, limit: int) -> None:
        self.DATA_UPLOAD_MAX_MEMORY_SIZE = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(settings, name)
