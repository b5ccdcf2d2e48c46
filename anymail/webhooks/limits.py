"""Reading a webhook's body within Anymail's own size cap, instead of Django's.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MiB by default) suits form posts, but an inbound
webhook carries a whole email (up to 40 MB with SES, a little less elsewhere), and a tracking
batch can pass 2.5 MiB too. Webhook views read their body here instead, capped by
``INBOUND_MAX_BODY_SIZE`` or ``TRACKING_MAX_BODY_SIZE``: a declared size over the cap is refused
before a byte is read, and the read itself stops at the cap. Multipart uploads still go through
Django's upload handlers (large files spool to disk); only the cap on a form field's size is ours.

Inbound views (``SpooledBodyMixin``) go further, so a large message is never held in memory
whole: the body is read a chunk at a time into a spooled temporary file (``spooled_body``),
and in a multipart form, a field too large to hold (a raw MIME message) is spooled like an
upload (``spooled_field``). These files are closed when Django finishes the response.
"""

from __future__ import annotations

import codecs
import hashlib
import secrets
import types
from collections.abc import Iterator
from io import BytesIO
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import FIELD, FILE, RAW, LazyStream, MultiPartParser, Parser
from django.utils.datastructures import MultiValueDict

from ..streaming import (
    CHUNK_SIZE,
    SPILL_SIZE,
    SPOOL_MEMORY_SIZE,
    SpilledString,
    SpoolSet,
    SpoolView,
    canonical_json_chunks,
)

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


def read_body(request: HttpRequest, limit: int, spool: bool = False) -> None:
    """Read request's body (at most limit bytes), so request.body/POST/FILES work without
    Django's own (smaller) limit. Raises BodyTooLarge, or ValueError for a malformed upload.

    With spool, the body goes to temporary files instead (see ``SpooledBodyMixin``).
    """
    length = declared_length(request)
    if length > limit:
        raise BodyTooLarge(length, limit)
    if hasattr(request, "_body") or getattr(request, "_read_started", False):
        return  # already read (e.g., by middleware): Django applied its own limit then
    stream = _CappedStream(request, limit)
    if request.content_type == "multipart/form-data":
        # (the private attributes request.POST and request.FILES are read from; not in the stubs)
        post, files = _parse_multipart(request, stream, limit, spool)
        request._post, request._files = post, files  # type: ignore[attr-defined]
    elif spool and request.content_type != "application/x-www-form-urlencoded":
        _spool_body(request, stream)
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
    request: HttpRequest, stream: _CappedStream, limit: int, spool: bool = False
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
    # To spool large fields, its Parser hands them on as uploads, under a marker file name
    marker = f"anymail-spooled-field-{secrets.token_hex(16)}"
    if spool:
        scoped_globals["Parser"] = lambda stream, boundary: _SpoolingParser(
            stream, boundary, marker
        )
    scoped = types.FunctionType(
        function.__code__,
        scoped_globals,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    if hasattr(parser, "_parse"):
        parser._parse = types.MethodType(scoped, parser)  # parse() calls it, then tidies up
        result = parser.parse()
    else:
        result = scoped(parser)
    post, files = result
    if spool:
        _move_spooled_fields(request, post, files, marker)
    return post, files


class _SettingsWithLimit:
    """Django's settings, except DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, limit: int) -> None:
        self.DATA_UPLOAD_MAX_MEMORY_SIZE = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(settings, name)


# --- Spooled bodies (for views whose parsing streams) ---


class SpooledBodyMixin:
    """For a webhook view that reads its body from temporary files, not memory.

    The base view then reads the body with ``read_body(spool=True)``: ``spooled_body()`` and
    ``spooled_field()`` give it to the view's parsing, and anything decoded from it can go in
    more temporary files (``request_spools()``). All of them are closed when Django closes the
    response, after every receiver has run (like Django's own uploaded files).
    """

    spool_body = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response: HttpResponse = super().post(  # type: ignore[misc]  # (a View's)
                request, *args, **kwargs
            )
        except BaseException:
            close_spools(request)
            raise
        # (the closers Django calls when it closes the response, Django's own uploads among them)
        response._resource_closers.append(  # type: ignore[attr-defined]
            lambda: close_spools(request)
        )
        return response


def request_spools(request: HttpRequest) -> SpoolSet:
    """The temporary files of request (closed when it ends, with SpooledBodyMixin)."""
    spools: SpoolSet | None = getattr(request, "_anymail_spools", None)
    if spools is None:
        spools = SpoolSet()
        request._anymail_spools = spools  # type: ignore[attr-defined]
    return spools


def close_spools(request: HttpRequest) -> None:
    """Close (and delete) request's temporary files."""
    spools: SpoolSet | None = getattr(request, "_anymail_spools", None)
    if spools is not None:
        spools.close()


def spooled_body(request: HttpRequest) -> SpoolView | BytesIO:
    """request's body as a file: where read_body(spool=True) put it (or else request.body)."""
    body: SpoolView | None = getattr(request, "_anymail_body", None)
    if body is not None:
        return body.view(0, body.size)
    return BytesIO(request.body)


def spooled_field(request: HttpRequest, name: str) -> SpoolView | None:
    """The raw bytes of form field name, if read_body(spool=True) spooled it (it was large)."""
    fields: dict[str, list[UploadedFile[bytes]]] = getattr(request, "_anymail_fields", {})
    uploads = fields.get(name)
    if not uploads:
        return None
    upload = uploads[-1]  # (the last value, as request.POST[name] is)
    return SpoolView(upload, 0, upload.size)


def spooled_field_utf8(request: HttpRequest, name: str) -> SpoolView | None:
    """A spooled field's text as UTF-8: request.POST[name].encode(), without holding it.

    (The text is the field decoded as Django decodes it: with request.encoding, bad bytes
    replaced. Valid UTF-8, the usual case, is the field's own file.)
    """
    raw = spooled_field(request, name)
    if raw is None:
        return None
    encoding = codecs.lookup(request.encoding or settings.DEFAULT_CHARSET).name
    if encoding == "utf-8":
        checker = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            for chunk in raw.chunks():
                if not chunk.isascii():
                    checker.decode(chunk)
            checker.decode(b"", final=True)
            return raw
        except UnicodeDecodeError:
            pass
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    file = request_spools(request).new_file()
    for chunk in raw.chunks():
        file.write(decoder.decode(chunk).encode("utf-8", "surrogatepass"))
    file.write(decoder.decode(b"", final=True).encode("utf-8", "surrogatepass"))
    file.flush()
    return SpoolView(file)


def spooled_field_names(request: HttpRequest) -> list[str]:
    """The names of the form fields that read_body(spool=True) spooled."""
    return list(getattr(request, "_anymail_fields", {}))


def spooled_event_id(esp_event: Any, esp_name: str) -> str | None:
    """The id the base view's stable_event_id gives JSON data esp_event, for data holding
    SpilledStrings (None for data without: leave that to the base view).

    The same digest of the same canonical JSON, made a chunk at a time, so the long strings
    are never read into memory for it.
    """
    stack, spilled = [esp_event], False
    while stack and not spilled:
        node = stack.pop()
        if isinstance(node, SpilledString):
            spilled = True
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if not spilled:
        return None
    digest = hashlib.sha256(esp_name.encode("utf-8") + b"\0")
    try:
        for chunk in canonical_json_chunks(esp_event):
            digest.update(chunk)
    except (RecursionError, ValueError):  # (absurdly deep data: go without, as the base does)
        return None
    return f"anymail-{digest.hexdigest()[:40]}"  # (as base.data_event_id makes it)


def uploaded_content(upload: UploadedFile[bytes]) -> bytes | SpoolView:
    """An upload's content: its bytes, or if it's large, its file (as a view, not a copy)."""
    size = upload.size
    if size is not None and size > SPILL_SIZE:
        return SpoolView(upload, 0, size)
    upload.seek(0)
    data: bytes = upload.read()
    return data


def _spool_body(request: HttpRequest, stream: _CappedStream) -> None:
    file = request_spools(request).new_file()
    while chunk := stream.read(CHUNK_SIZE):
        file.write(chunk)
    file.flush()
    body = SpoolView(file)
    request._anymail_body = body  # type: ignore[attr-defined]
    if body.size <= SPOOL_MEMORY_SIZE:
        # Small enough that request.body may as well work as usual
        data = body.view(0, body.size).read()
        request._body = data
        request._stream = BytesIO(data)
    else:
        # request.body still works, within Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (the view
        # reads spooled_body instead). (A view: Django closes the stream it reads.)
        request._stream = body.view(0, body.size)  # type: ignore[assignment]  # (a file)
        request._read_started = False  # type: ignore[attr-defined]


class _SpoolingParser:
    """Django's multipart Parser, except that a form field larger than SPILL_SIZE is passed on
    as a file upload named marker (so Django's upload handlers spool it, to disk if large)."""

    def __init__(self, stream: Any, boundary: bytes, marker: str) -> None:
        self._parser = Parser(stream, boundary)
        self._marker = marker

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        spooling = False
        for item_type, meta_data, field_stream in self._parser:
            spooling = False
            if item_type == FIELD:
                head = field_stream.read(SPILL_SIZE + 1)
                field_stream.unget(head)
                if len(head) > SPILL_SIZE:
                    disposition, params = meta_data.get("content-disposition", ("", {}))
                    meta_data = {
                        **meta_data,
                        "content-disposition": (disposition, {**params, "filename": self._marker}),
                    }
                    item_type = FILE
                    spooling = True
            yield item_type, meta_data, field_stream
        if spooling:
            # Django completes an upload when the next part starts, and drops one the body
            # ended in; a field it keeps. So that a spooled field is kept too: an empty part
            # (which Django skips, having no Content-Disposition)
            yield RAW, {}, LazyStream(iter(()))  # type: ignore[arg-type]  # (any iterator)


def _move_spooled_fields(
    request: HttpRequest,
    post: QueryDict,
    files: MultiValueDict[str, UploadedFile[bytes]],
    marker: str,
) -> None:
    """Take the spooled fields out of files; in post, give them values read when asked for."""
    spooled: dict[str, list[UploadedFile[bytes]]] = {}
    for name, uploads in list(files.lists()):
        fields = [upload for upload in uploads if upload.name == marker]
        if not fields:
            continue
        spooled[name] = fields
        for upload in fields:
            request_spools(request).adopt(upload)  # (no longer among the uploads Django closes)
        others = [upload for upload in uploads if upload.name != marker]
        if others:
            files.setlist(name, others)
        else:
            del files[name]
    request._anymail_fields = spooled  # type: ignore[attr-defined]
    encoding = request.encoding or settings.DEFAULT_CHARSET
    for name, uploads in spooled.items():
        values: list[Any] = list(post.getlist(name))
        values += [
            SpooledFieldValue(SpoolView(upload, 0, upload.size), encoding) for upload in uploads
        ]
        set_lazy_values(post, name, values)


class SpooledFieldValue:
    """A form field's value, still in its spooled file: the text is read when it's needed."""

    def __init__(self, data: SpoolView, encoding: str = "utf-8") -> None:
        self.data = data
        self.encoding = encoding

    def text(self) -> str:
        """The value, decoded (as Django decodes form fields: bad bytes replaced)."""
        return self.data.view(0, self.data.size).read().decode(self.encoding, errors="replace")

    def __repr__(self) -> str:
        return f"<spooled form field value of {self.data.size:,} bytes>"


class _LazyValues(list):  # type: ignore[type-arg]
    """A QueryDict's value list with spooled values, read (as text) only when they're used.

    So request.POST keeps every field, though most receivers never read the big ones.
    """

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        if isinstance(index, slice):
            return [_text(value) for value in item]
        return _text(item)

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            yield _text(item)

    def copy(self) -> list[Any]:
        return list(self)


def _text(value: Any) -> Any:
    return value.text() if isinstance(value, SpooledFieldValue) else value


def set_lazy_values(query: QueryDict, name: str, values: list[Any]) -> None:
    """Set query's values for name, some of which may be SpooledFieldValues."""
    # (bypassing QueryDict's setlist, which would read every value now)
    dict.__setitem__(cast("dict[str, Any]", query), name, _LazyValues(values))
