"""Large webhook payloads a chunk at a time, so memory use doesn't grow with the payload.

An inbound webhook can carry a 40 MB message. Held whole, it would be copied several times over
on its way to the receiver (request body, JSON string, base64 text, decoded bytes). Instead each
large piece goes to a spooled temporary file (in memory while small, on disk beyond
SPOOL_MEMORY_SIZE) and is read and decoded a chunk at a time:

- ``SpoolSet``: the temporary files of one webhook request, closed together when it ends.
- ``SpoolView``: an independently positioned, read-only window on (part of) a file.
- ``load_json()``: ``json.loads()``, except that chosen long string values (base64
  attachments, raw messages) stay in files (``SpilledString``), unescaped chunk by chunk.
- ``canonical_json_chunks()``: JSON holding such strings, serialized a chunk at a time.
- ``Base64Decoder``, ``StrictBase64Decoder``, ``QuotedPrintableDecoder``: incremental versions
  of the stdlib decoders, with the same results and the same errors as decoding all at once.
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsRead

from django.conf import settings

__all__ = [
    "CHUNK_SIZE",
    "SPILL_SIZE",
    "SPOOL_MEMORY_SIZE",
    "Base64Decoder",
    "QuotedPrintableDecoder",
    "SpilledString",
    "SpoolSet",
    "SpoolView",
    "StrictBase64Decoder",
    "canonical_json_chunks",
    "load_json",
    "new_spool",
]

#: How much of a temporary file stays in memory before it moves to disk
SPOOL_MEMORY_SIZE = 1024 * 1024
#: Strings, form fields and MIME parts longer than this are kept in temporary files
SPILL_SIZE = 64 * 1024
#: The size of each read when streaming
CHUNK_SIZE = 256 * 1024


# --- Temporary files ---


class SpoolSet:
    """The temporary files of one webhook request, closed (and so deleted) together.

    Everything decoded from one request body lives as long as that request: the webhook view
    closes the set when Django closes the response, after every receiver has run.
    """

    def __init__(self) -> None:
        self._files: list[IO[bytes]] = []

    def new_file(self) -> IO[bytes]:
        """A new spooled temporary file, closed with the set."""
        file = new_spool()
        self._files.append(file)
        return file

    def adopt(self, file: IO[bytes]) -> None:
        """Close file along with the set's own files."""
        self._files.append(file)

    def close(self) -> None:
        """Close every file (those on disk are deleted)."""
        files, self._files = self._files, []
        for file in files:
            try:
                file.close()
            except Exception:  # (closing must not stop the others closing)
                pass


def new_spool(spools: SpoolSet | None = None) -> IO[bytes]:
    """A spooled temporary file: in memory up to SPOOL_MEMORY_SIZE, then on disk.

    Owned by spools if given; otherwise by whatever holds it (it's closed, and deleted, when
    garbage collected). On disk it goes where Django puts uploads (FILE_UPLOAD_TEMP_DIR, or
    the system's temporary directory).
    """
    if spools is not None:
        return spools.new_file()
    temp_dir = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None) if settings.configured else None
    return _Spool(max_size=SPOOL_MEMORY_SIZE, dir=temp_dir)


class _Spool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """A SpooledTemporaryFile that can be left for the garbage collector to close.

    (Its owner may be a parsed message, which has no close(): closing on collection is the
    plan, not a leak to warn about.)
    """

    def __del__(self) -> None:
        if not self.closed:
            self.close()


class SpoolView(io.RawIOBase):
    """A read-only window on bytes start..end of a file, with its own position.

    Several views can read one file (each seeks before it reads); closing a view leaves the file
    open. So a spooled body can be handed out (e.g. as an uploaded file) without a copy.
    """

    def __init__(self, file: IO[bytes], start: int = 0, end: int | None = None) -> None:
        super().__init__()
        if end is None:
            file.seek(0, io.SEEK_END)
            end = file.tell()
        self._file = file
        self._start = start
        self._end = max(start, end)
        self._position = start

    @property
    def size(self) -> int:
        """The number of bytes in view."""
        return self._end - self._start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()  # (io's own check)
        return self._position - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._position, io.SEEK_END: self._end}
        if whence not in base:
            raise ValueError(f"Invalid whence ({whence!r})")
        position = base[whence] + offset
        if position < self._start:
            raise ValueError("Negative seek position")
        self._position = position
        return position - self._start

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()
        remaining = self._end - self._position
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size <= 0:
            return b""
        self._file.seek(self._position)
        data = self._file.read(size)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Every byte in view, from the start (the view's own position is unaffected)."""
        position = self._start
        while position < self._end:
            self._checkClosed()
            self._file.seek(position)
            data = self._file.read(min(chunk_size, self._end - position))
            if not data:
                break
            position += len(data)
            yield data

    def view(self, start: int, end: int) -> SpoolView:
        """A view of bytes start..end of this view."""
        return SpoolView(self._file, self._start + start, self._start + end)


# --- JSON with long strings in files ---


class SpilledString:
    """A JSON string too long to hold in memory: its text is in a file (as UTF-8).

    ``str()`` reads the whole text; ``len()`` and ``==`` work without doing so. The text's UTF-8
    is available a chunk at a time (``utf8_chunks()``) or as a file (``open()``). Lone
    surrogates (which JSON's \\uXXXX escapes allow) are encoded as "surrogatepass" does.
    """

    __slots__ = ("_data", "_length", "has_surrogates", "spools")

    def __init__(
        self,
        data: SpoolView,
        length: int,
        has_surrogates: bool,
        spools: SpoolSet | None = None,
    ) -> None:
        self._data = data
        self._length = length
        #: Whether the text has lone surrogates (so its UTF-8 isn't strictly valid)
        self.has_surrogates = has_surrogates
        #: What owns its file (and should own anything decoded from it)
        self.spools = spools

    def __len__(self) -> int:
        return self._length

    def __str__(self) -> str:
        return self._data.view(0, self._data.size).read().decode("utf-8", "surrogatepass")

    def __repr__(self) -> str:
        return f"<SpilledString of {self._length:,} characters>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            if len(other) != self._length:
                return False
            return _same_chunks(self.utf8_chunks(), [other.encode("utf-8", "surrogatepass")])
        if isinstance(other, SpilledString):
            return self._length == other._length and _same_chunks(
                self.utf8_chunks(), other.utf8_chunks()
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def utf8_chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The text's UTF-8, a chunk at a time (a chunk may end inside a character)."""
        return self._data.chunks(chunk_size)

    def open(self) -> SpoolView:
        """The text's UTF-8 as a (new) read-only binary file."""
        return self._data.view(0, self._data.size)


def _same_chunks(left: Iterable[bytes], right: Iterable[bytes]) -> bool:
    """Whether two chunk sequences (chunked differently) hold the same bytes."""
    left_iter, right_iter = iter(left), iter(right)
    a = b = b""
    while True:
        if not a:
            a = next(left_iter, b"")
        if not b:
            b = next(right_iter, b"")
        if not a or not b:
            return not a and not b
        n = min(len(a), len(b))
        if a[:n] != b[:n]:
            return False
        a, b = a[n:], b[n:]


def load_json(
    source: SupportsRead[bytes],
    keep_spilled: Callable[[str], bool],
    spools: SpoolSet | None = None,
    spill_size: int = SPILL_SIZE,
    chunk_size: int = CHUNK_SIZE,
) -> Any:
    """``json.loads(source.read().decode("utf-8"))``, leaving chosen long strings in files.

    A string value longer than spill_size bytes, of a key for which ``keep_spilled(key)`` is
    true, is unescaped into a spooled file as it's read, and is a SpilledString in the result
    (so only strings meant to be streamed, like base64 attachments, change type). Malformed
    JSON (including bad UTF-8, escapes or control characters in such a string) raises
    ValueError, as json.loads does.
    """
    spiller = _JsonSpiller(keep_spilled, spools, spill_size)
    while chunk := source.read(chunk_size):
        spiller.feed(chunk)
    return spiller.close()


class _JsonSpiller:
    """Copies JSON text to a small "skeleton", with each kept long string replaced by a
    placeholder.

    Only strings are tracked (a quote not escaped by an odd run of backslashes ends one), and
    whether one is an object's value (the text since the last string ends with a colon; that
    string was its key). Everything else is left for json.loads to parse, and check.
    """

    def __init__(
        self, keep_spilled: Callable[[str], bool], spools: SpoolSet | None, spill_size: int
    ) -> None:
        self.keep_spilled = keep_spilled
        self.spools = spools
        self.spill_size = spill_size
        # A random placeholder prefix: no sender can put it in the JSON themselves
        self.prefix = f"anymail-spill-{secrets.token_hex(16)}-"
        self.skeleton = bytearray()
        self.spilled: list[SpilledString] = []
        self.in_string = False
        self.after_colon = False  # whether the last non-space outside strings was ":"
        self.backslashes = 0  # consecutive backslashes at the end of the string so far
        # The current string's raw text goes straight to the skeleton, unless it may spill
        # (a value of a kept key): then it's held until it's long (and goes to a file) or ends
        self.direct = True
        self.held = bytearray()
        self.spill: _JsonStringSpill | None = None
        self.key = bytearray()  # the start of the last string's raw text: perhaps a key

    def feed(self, chunk: bytes) -> None:
        position, end = 0, len(chunk)
        # The chunk with its escaped quotes (and backslashes) blanked out, once a string in it
        # has an escaped quote: its first quote is then the closing one. (Made once per chunk:
        # between strings there are no backslashes, which would shift its pairing.)
        masked: bytes | None = None
        masked_from = 0  # (masked holds chunk[masked_from:])
        while position < end:
            if not self.in_string:
                quote = chunk.find(b'"', position)
                outside = chunk[position : quote if quote >= 0 else end]
                if b"\\" in outside:
                    # (as json.loads would say: and following strings can't be found reliably)
                    raise ValueError("Invalid \\ outside a JSON string")
                self.skeleton += outside
                if stripped := outside.strip():
                    self.after_colon = stripped.endswith(b":")
                if quote < 0:
                    return
                self._start_string()
                position = quote + 1
                continue
            if self.backslashes % 2:
                # The last chunk ended with a backslash: this character is escaped
                self._add_to_string(chunk[position : position + 1])
                self.backslashes = 0
                position += 1
                continue
            if masked is None:
                quote = chunk.find(b'"', position)
                if quote < 0:
                    self._add_to_string(chunk[position:])
                    return
                run_start = quote  # (the usual case: no backslash before it)
                while run_start > position and chunk[run_start - 1] == 0x5C:  # "\"
                    run_start -= 1
                if (quote - run_start) % 2 == 0:
                    self._add_to_string(chunk[position:quote])
                    self._end_string()
                    position = quote + 1
                    continue
                # (escaped backslashes first: each backslash left then escapes the next byte)
                masked = chunk[position:].replace(b"\\\\", b"__").replace(b'\\"', b"__")
                masked_from = position
            quote = masked.find(b'"', position - masked_from)
            quote = quote + masked_from if quote >= 0 else -1
            if quote < 0:
                self._add_to_string(chunk[position:])
                return
            self._add_to_string(chunk[position:quote])
            self._end_string()
            position = quote + 1

    def _start_string(self) -> None:
        self.in_string, self.backslashes = True, 0
        self.direct = not self.after_colon  # (only an object's value may spill)
        self.after_colon = False
        if self.direct:  # (perhaps a key: remember it; a value's key is the last string)
            self.key.clear()
            self.skeleton += b'"'

    def _add_to_string(self, piece: bytes) -> None:
        if not piece:
            return
        stripped = len(piece.rstrip(b"\\"))
        if stripped:
            self.backslashes = len(piece) - stripped
        else:
            self.backslashes += len(piece)
        if self.direct:
            self.skeleton += piece
            if len(self.key) < _MAX_KEY:  # (a key is short: only its start is remembered)
                self.key += piece[:_MAX_KEY]
        elif self.spill is not None:
            self.spill.feed(piece)
        else:
            self.held += piece
            if len(self.held) > self.spill_size:
                self._long_value()

    def _long_value(self) -> None:
        """A value has grown long: spill it if its key is kept, else it goes to the skeleton."""
        try:  # (the key, unescaped; a malformed one is left for json.loads to report)
            key = _unescape(self.key.decode("utf-8")) if len(self.key) < _MAX_KEY else None
        except ValueError:
            key = None
        if key is not None and self.keep_spilled(key):
            self.spill = _JsonStringSpill(new_spool(self.spools), self.spools)
            self.spill.feed(bytes(self.held))
        else:
            self.skeleton += b'"'
            self.skeleton += self.held
            self.direct = True
        self.held = bytearray()

    def _end_string(self) -> None:
        if self.spill is not None:
            placeholder = f"{self.prefix}{len(self.spilled)}".encode("ascii")
            self.spilled.append(self.spill.finish())
            self.spill = None
            self.skeleton += b'"' + placeholder + b'"'
        elif self.direct:
            self.skeleton += b'"'
        else:
            self.skeleton += b'"'
            self.skeleton += self.held
            self.skeleton += b'"'
            self.held.clear()
        self.in_string = False

    def close(self) -> Any:
        if self.in_string:
            if self.spill is not None:
                raise ValueError("Unterminated string in JSON")
            # (one not spilled: json.loads reports it, where it would have)
            if not self.direct:
                self.skeleton += b'"'
                self.skeleton += self.held
        text = self.skeleton.decode("utf-8")  # (strict, as request.body.decode("utf-8") is)
        self.skeleton = bytearray()
        data = json.loads(text)
        del text
        if not self.spilled:
            return data
        return _restore_spilled(data, self.prefix, self.spilled)


def _restore_spilled(data: Any, prefix: str, spilled: list[SpilledString]) -> Any:
    """data with each placeholder (always an object's value) replaced by its SpilledString."""
    stack = [data]
    while stack:  # (iterative: json.loads allows nesting deeper than a recursive walk would)
        node = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, (dict, list)):
                stack.append(value)
            elif isinstance(node, dict) and isinstance(value, str) and value.startswith(prefix):
                node[key] = spilled[int(value[len(prefix) :])]
    return data


def canonical_json_chunks(value: Any) -> Iterator[bytes]:
    """``json.dumps(value, sort_keys=True, default=str).encode()``, a chunk at a time.

    The text of each SpilledString in value is streamed from its file (escaped just as
    json.dumps escapes a str), so a digest of the JSON never holds the long strings.
    """
    prefix = f"anymail-spilled-{secrets.token_hex(16)}-"
    spilled: list[SpilledString] = []

    def stand_in(node: Any) -> Any:
        if isinstance(node, SpilledString):
            spilled.append(node)
            return f"{prefix}{len(spilled) - 1}"
        if isinstance(node, dict):
            return {key: stand_in(item) for key, item in node.items()}
        if isinstance(node, list):
            return [stand_in(item) for item in node]
        return node

    text = json.dumps(stand_in(value), sort_keys=True, default=str)
    if not spilled:
        yield text.encode("utf-8", "replace")
        return
    # (ASCII, with ensure_ascii: each placeholder appears exactly as written, in quotes)
    pieces = re.split(f'"{re.escape(prefix)}(\\d+)"', text)
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            yield piece.encode("ascii")
            continue
        yield b'"'
        decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        for chunk in spilled[int(piece)].utf8_chunks():
            yield json.encoder.encode_basestring_ascii(decoder.decode(chunk))[1:-1].encode()
        yield b'"'


# The most of a string remembered in case it's a key (keys are short)
_MAX_KEY = 1024
# JSON forbids raw control characters in strings
_CONTROL_BYTES = bytes(range(0x20))
# json's own string scanner (C, when available): what json.loads() unescapes strings with
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
# What could be the start of an escape that continues in the next chunk: a lone backslash, an
# incomplete \uXXXX, or a high surrogate (perhaps with part of the low one that pairs with it)
_INCOMPLETE_ESCAPE = re.compile(
    r"\\(?:u(?:[dD][89abAB][0-9a-fA-F]{2}(?:\\(?:u[0-9a-fA-F]{0,3})?)?|[0-9a-fA-F]{0,3}))?\Z"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class _JsonStringSpill:
    """Unescapes one JSON string's raw text, fed in chunks, into a file (as UTF-8)."""

    def __init__(self, file: IO[bytes], spools: SpoolSet | None) -> None:
        self.file = file
        self.spools = spools
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.decoder_pending = False  # whether the decoder holds part of a character
        self.carry = ""  # text held back: an escape that may continue in the next chunk
        self.length = 0
        self.has_surrogates = False

    def feed(self, raw: bytes) -> None:
        # (In UTF-8, a control character is always a byte of its own. Deleting them is a
        # faster check than a regex search.)
        if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
            raise ValueError("Invalid control character in a JSON string")
        if not self.carry and not self.decoder_pending and raw.isascii() and b"\\" not in raw:
            # The usual case (e.g. base64): nothing to decode or unescape
            self.file.write(raw)
            self.length += len(raw)
            return
        text = self.carry + self.decoder.decode(raw)
        self.decoder_pending = bool(self.decoder.getstate()[0])
        cut = _escape_tail_start(text)
        self.carry = text[cut:]
        self._write(text[:cut])

    def finish(self) -> SpilledString:
        self.decoder.decode(b"", final=True)  # (raises for a truncated character)
        self._write(self.carry)
        self.carry = ""
        self.file.flush()
        return SpilledString(SpoolView(self.file), self.length, self.has_surrogates, self.spools)

    def _write(self, text: str) -> None:
        if not text:
            return
        if "\\" in text:
            text = _unescape(text)
            if not self.has_surrogates and _SURROGATE.search(text):
                self.has_surrogates = True
        self.file.write(text.encode("utf-8", "surrogatepass"))
        self.length += len(text)


def _unescape(text: str) -> str:
    """JSON string text (with only complete escapes) unescaped; ValueError for a bad escape.

    By json's own (C) string scanner, so exactly as json.loads() reads it.
    """
    return _scanstring(text + '"', 0, True)[0]


def _escape_tail_start(text: str) -> int:
    """Where an escape that may continue past the end of text starts (len(text) if none)."""
    # (the longest such tail, a high surrogate and most of a low one, is 11 characters)
    index = text.find("\\", max(0, len(text) - 11))
    while index >= 0:
        if _INCOMPLETE_ESCAPE.match(text, index) and _starts_escape(text, index):
            return index
        index = text.find("\\", index + 1)
    return len(text)


def _starts_escape(text: str, index: int) -> bool:
    """Whether the backslash at index starts an escape (rather than ending one, as in "\\\\")."""
    run_start = index
    while run_start > 0 and text[run_start - 1] == "\\":
        run_start -= 1
    return (index - run_start) % 2 == 0


# --- Incremental decoders ---

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64_OR_PAD = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET + b"=")))


class Base64Decoder:
    """Incremental ``base64.b64decode(data)`` (validate=False), for data given in chunks.

    Like it, skips characters outside the base64 alphabet, stops at padding that completes a
    group, and raises binascii.Error (from ``finish()``) for incomplete data. Chunks can be any
    size; each decodes as soon as it completes groups of four characters.
    """

    def __init__(self) -> None:
        self._carry = b""  # characters after the last complete group of four
        self._done = False  # padding ended the data: the rest is ignored

    @staticmethod
    def filter(chunk: bytes) -> bytes:
        """chunk without the characters decoding skips (all but the alphabet and "=")."""
        return chunk.translate(None, _NOT_BASE64_OR_PAD)

    def decode(self, chunk: bytes, filtered: bool = False) -> bytes:
        """The bytes decoded from chunk (and what was left over from earlier chunks).

        (filtered: chunk is already ``filter(chunk)``.)
        """
        if self._done:
            return b""
        data = self._carry + (chunk if filtered else chunk.translate(None, _NOT_BASE64_OR_PAD))
        if b"=" not in data:
            cut = len(data) - len(data) % 4
            self._carry = data[cut:]
            return binascii.a2b_base64(data[:cut]) if cut else b""
        # Padding: decode up to the end of the last complete group (where a2b_base64's state
        # is back to its start), noticing whether padding ended the data (it then decodes
        # fewer bytes); what's after, in the same state a2b_base64 would be in
        cut = _after_last_group(data)
        decoded = b""
        if cut:
            group = data[:cut]
            decoded = binascii.a2b_base64(group)
            if len(decoded) * 4 < (len(group) - group.count(b"=")) * 3:
                self._done = True
                return decoded
        self._carry, ended = _group_start(data[cut:])
        if ended:
            decoded += binascii.a2b_base64(self._carry)
            self._done = True
        return decoded

    def finish(self, extra: bytes = b"") -> bytes:
        """The last bytes, decoded from what's left (plus extra); binascii.Error if incomplete.

        Doesn't change the decoder: it can be called again (with other extra) if it raises.
        """
        if self._done:
            return b""
        return binascii.a2b_base64(self._carry + extra.translate(None, _NOT_BASE64_OR_PAD))


def _after_last_group(data: bytes) -> int:
    """The index just after the alphabet character that completes data's last group of four."""
    leftover = (len(data) - data.count(b"=")) % 4
    index = len(data)
    while index > 0:
        if data[index - 1] != 0x3D:  # "="
            if not leftover:
                break
            leftover -= 1
        index -= 1
    return index


def _group_start(data: bytes) -> tuple[bytes, bool]:
    """An incomplete group (fewer than four alphabet characters, and "="), shortened.

    a2b_base64 ignores "=" before a group's second character, and padding ends the data once
    it completes the group; so at most a few characters matter. Returns them, and whether
    padding ended the data (then they're all that's left to decode).
    """
    kept = bytearray()
    data_chars = padding = 0
    for byte in data:
        if byte != 0x3D:
            data_chars += 1
            padding = 0
        elif data_chars < 2:
            continue
        else:
            padding += 1
            if data_chars + padding >= 4:
                kept.append(byte)
                return bytes(kept), True
        kept.append(byte)
    return bytes(kept), False


# What str.split() treats as whitespace, within ASCII
_ASCII_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


class StrictBase64Decoder:
    """Incremental ``base64.b64decode("".join(text.split()), validate=True)``.

    Whitespace is ignored; anything else outside the alphabet, non-ASCII text, or misplaced or
    missing padding raises binascii.Error (a ValueError).
    """

    def __init__(self) -> None:
        self._decoder = Base64Decoder()
        self._data_chars = 0
        self._padding = 0

    def decode(self, chunk: bytes) -> bytes:
        """The bytes decoded from chunk (and what was left over from earlier chunks)."""
        if not chunk.isascii():
            raise binascii.Error("Non-ASCII character in base64 data")
        chunk = chunk.translate(None, _ASCII_WHITESPACE)
        if not chunk:
            return b""
        unpadded = chunk.rstrip(b"=")
        if unpadded and self._padding:
            raise binascii.Error("Excess data after base64 padding")
        if unpadded.translate(None, _BASE64_ALPHABET):
            raise binascii.Error("Only base64 data is allowed")
        self._data_chars += len(unpadded)
        self._padding += len(chunk) - len(unpadded)
        return self._decoder.decode(chunk)

    def finish(self) -> bytes:
        """The last bytes; binascii.Error if the data is incomplete or wrongly padded."""
        # (As Python 3.11 and 3.12 check it, padding after a complete group is ignored)
        group_end = self._data_chars % 4
        if group_end == 0:
            valid = self._data_chars > 0 or not self._padding
        else:
            valid = (group_end, self._padding) in ((2, 2), (3, 1))
        if not valid:
            raise binascii.Error("Incorrect base64 padding")
        return self._decoder.finish()


class QuotedPrintableDecoder:
    """Incremental ``quopri.decodestring(data)``, for data given in chunks.

    Decodes up to the last line break in what it has, or within a long line, up to a point no
    escape spans: an escape is "=" and at most two more characters, except that "=" and CR
    (a broken soft line break) swallow the rest of the line.
    """

    def __init__(self) -> None:
        self._carry: list[bytes] = []  # (a list: a long line is joined once, not per chunk)
        self._swallowing = False  # whether the carried line has "=" and CR

    def decode(self, chunk: bytes) -> bytes:
        """The bytes decoded from chunk (and what was left over from earlier chunks)."""
        if not chunk:
            return b""
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            carried_equals = bool(self._carry) and self._carry[-1].endswith(b"=")
            self._swallowing = (
                self._swallowing or b"=\r" in chunk or (carried_equals and chunk[:1] == b"\r")
            )
            if not self._swallowing:
                cut = _quoted_printable_cut(chunk)
        if not cut:
            self._carry.append(chunk)
            return b""
        data = b"".join([*self._carry, chunk[:cut]])
        rest = chunk[cut:]
        self._carry = [rest] if rest else []
        self._swallowing = b"=\r" in rest
        return binascii.a2b_qp(data)

    def finish(self) -> bytes:
        """The last bytes."""
        data, self._carry, self._swallowing = b"".join(self._carry), [], False
        return binascii.a2b_qp(data)


# Two characters that can't be in an escape begun before them: nothing spans the point after
_QP_SAFE_PAIR = re.compile(rb"[^=\r][^=\r]")


def _quoted_printable_cut(chunk: bytes) -> int:
    """A point in chunk (a line without "=" and CR in it) that no escape spans; 0 if none."""
    # (the last of them near the end, if any, else anywhere)
    cut = 0
    for found in _QP_SAFE_PAIR.finditer(chunk, max(0, len(chunk) - 64)):
        cut = found.end()
    if not cut and len(chunk) > 64:
        for found in _QP_SAFE_PAIR.finditer(chunk):
            cut = found.end()
    return cut
