"""Parsing a large raw message from a file, leaving each big leaf part's body in the file.

The stdlib parser keeps every line of a part in memory, then joins them: a 20 MB attachment
costs several times that. Here the email package still parses every header and all the
structure, but each long run of body lines in a leaf part reaches it as a one-line placeholder;
afterwards those parts get their content from the file instead (``SpooledContent``), decoded a
chunk at a time when first asked for.

Exactness comes first: a scan of the lines (split as the email package splits them) decides
which runs are whole leaf bodies, and the parse is only accepted if each placeholder became
exactly the body of the part the scan expected, with the same headers. Anything unusual
(an unknown boundary where a body should be, headers that don't end cleanly...) just stops
the spilling, and a parse that doesn't check out is redone the ordinary way, in memory.
"""

from __future__ import annotations

import binascii
import re
import secrets
from base64 import encodebytes
from collections.abc import Callable, Iterator
from email import errors
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesParser
from email.policy import Policy
from typing import IO, Any

from .streaming import (
    CHUNK_SIZE,
    SPILL_SIZE,
    Base64Decoder,
    QuotedPrintableDecoder,
    SpoolSet,
    SpoolView,
    new_spool,
)

__all__ = ["SpooledContent", "parse_spooled_mime", "spooled_parts"]


class SpooledContent:
    """A leaf part's content kept in files: its transfer-encoded text, its decoded bytes, or both.

    A parsed part has the text as received (a range of the raw message's file) and decodes it
    on first use, by the part's Content-Transfer-Encoding, with the email package's results
    (and defects). A built part (base64 from an ESP's JSON, an uploaded file) has only the
    decoded bytes; its text is their base64, made only if asked for.
    """

    def __init__(
        self,
        encoded: SpoolView | None = None,
        decoded: SpoolView | None = None,
        spools: SpoolSet | None = None,
    ) -> None:
        self._encoded = encoded
        self._decoded = decoded
        self._decoded_by_encoding: dict[str, SpoolView] = {}
        self._spools = spools

    def encoded_text(self) -> str:
        """The part's payload text, as Message.get_payload() (undecoded) would hold it."""
        if self._encoded is not None:
            raw = self._encoded.view(0, self._encoded.size).read()
            return raw.decode("ascii", "surrogateescape")
        assert self._decoded is not None
        # (encodebytes of 57-byte multiples: whole 76-character lines, so the pieces just join)
        return "".join(
            encodebytes(chunk).decode("ascii") for chunk in self._decoded.chunks(57 * 4096)
        )

    def decoded(self, part: Message, decode_whole: Callable[[], bytes]) -> SpoolView:
        """The decoded content as a (new) file, as Message.get_payload(decode=True) has it.

        decode_whole does the stdlib's own decoding in memory, for the encodings (and
        malformed base64) that aren't decoded here a chunk at a time.
        """
        if self._encoded is None:
            assert self._decoded is not None
            return self._decoded.view(0, self._decoded.size)
        # (the stdlib reads the header this way, each time it decodes)
        encoding = str(part.get("content-transfer-encoding", "")).lower()
        decoded = self._decoded_by_encoding.get(encoding)
        if decoded is None:
            decoded, defects = self._decode(encoding, decode_whole)
            for defect in defects:
                part.policy.handle_defect(part, defect)
            self._decoded_by_encoding[encoding] = decoded
        return decoded.view(0, decoded.size)

    def _decode(
        self, encoding: str, decode_whole: Callable[[], bytes]
    ) -> tuple[SpoolView, list[errors.MessageDefect]]:
        assert self._encoded is not None
        if encoding == "quoted-printable":
            decoder = QuotedPrintableDecoder()
            file = new_spool(self._spools)
            for chunk in self._encoded.chunks():
                file.write(decoder.decode(chunk))
            file.write(decoder.finish())
            return SpoolView(file), []
        if encoding == "base64":
            file = new_spool(self._spools)
            defects = _decode_email_base64(self._encoded, file)
            if defects is not None:
                return SpoolView(file), defects
            # Undecodable: the stdlib gives the text itself (without line breaks)
            file.seek(0)
            file.truncate()
            for chunk in self._encoded.chunks():
                file.write(chunk.translate(None, b"\r\n"))
            return SpoolView(file), [errors.InvalidBase64LengthDefect()]
        if encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
            file = new_spool(self._spools)
            file.write(decode_whole())  # (rare enough to do the stdlib's way)
            return SpoolView(file), []
        return self._encoded, []  # 7bit, 8bit, binary (or unknown): the bytes as they are


def _decode_email_base64(
    encoded: SpoolView, output: IO[bytes]
) -> list[errors.MessageDefect] | None:
    """Decode base64 as email's get_payload(decode=True) does; None if it gives up.

    It tries in turn: strict base64 with any missing padding added (a defect if some was),
    then lenient (skipping stray characters), then lenient with extra padding; failing all
    three, it returns the text undecoded. Decoding leniently all along, and checking on the
    side whether the strict attempt would have worked, gives the same bytes and defects.
    """
    decoder = Base64Decoder()
    data_chars = padding = 0
    strict = True  # alphabet characters only, then "=" only; not starting with "="
    for chunk in encoded.chunks():
        chunk = chunk.translate(None, b"\r\n")  # (what joining bytes.splitlines() removes)
        filtered = decoder.filter(chunk)
        output.write(decoder.decode(filtered, filtered=True))
        if len(filtered) != len(chunk):
            strict = False  # (characters outside the alphabet)
        if strict and filtered:
            unpadded = filtered.rstrip(b"=")
            if (unpadded and padding) or b"=" in unpadded or (not unpadded and not data_chars):
                strict = False  # (data after padding, or leading padding)
            data_chars += len(unpadded)
            padding += len(filtered) - len(unpadded)
    pad_error = (data_chars + padding) % 4
    missing = 4 - pad_error if pad_error else 0
    if strict and _strictly_padded(data_chars, padding + missing):
        output.write(decoder.finish(b"=" * missing))
        return [errors.InvalidBase64PaddingDefect()] if pad_error else []
    try:
        output.write(decoder.finish())
        return [errors.InvalidBase64CharactersDefect()]
    except binascii.Error:
        pass
    try:
        output.write(decoder.finish(b"=="))
        return [errors.InvalidBase64CharactersDefect(), errors.InvalidBase64PaddingDefect()]
    except binascii.Error:
        return None


def _strictly_padded(data_chars: int, padding: int) -> bool:
    """Whether data_chars alphabet characters and then padding "=" are strictly valid.

    (As Python 3.11 and 3.12 check it: padding after a complete group is ignored. Either way
    the strict and lenient decodings agree; only which defect gets noted could differ.)
    """
    group_end = data_chars % 4
    if group_end == 0:
        return data_chars > 0 or not padding
    return (group_end, padding) in ((2, 2), (3, 1))


# --- Parsing ---

# What the email package's feedparser takes for a header line (or a continuation)
_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_EMPTY_LINE = re.compile(rb"\r\n|\r|\n")
_LINE_END = re.compile(rb"\r\n|\r|\n")
# The most header text (per part) to scan before leaving the rest to the stdlib alone
_MAX_HEADER_BLOCK = 1024 * 1024
# The most multipart boundaries to follow (each line starting with "-" is checked against all
# of them); real mail has a handful
_MAX_BOUNDARIES = 100


class _Lines:
    """A file's lines, split as the email package splits them (at CRLF, CR or LF)."""

    def __init__(self, source: SpoolView, chunk_size: int) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self._buffer = b""
        self._index = 0  # in the buffer
        self._offset = 0  # of the buffer's start, in the file
        self._eof = False

    def tell(self) -> int:
        return self._offset + self._index

    def _fill(self) -> None:
        # (reads grow with the buffer, so a long line costs linear, not quadratic, time)
        kept = self._buffer[self._index :]
        data = self._source.read(max(self._chunk_size, len(kept)))
        self._offset += self._index
        self._buffer, self._index = kept + data, 0
        self._eof = not data

    def readline(self) -> bytes:
        """The next line, with its line break (none at the end of the file); b"" at the end."""
        while True:
            found = _LINE_END.search(self._buffer, self._index)
            # (a CR at the end of the buffer may be the start of a CRLF)
            if found and not (found.end() == len(self._buffer) and found.group() == b"\r"):
                end = found.end()
            elif self._eof:
                end = len(self._buffer)
            else:
                self._fill()
                continue
            line = self._buffer[self._index : end]
            self._index = end
            return line

    def rest(self) -> Iterator[bytes]:
        """Everything not yet read, in chunks."""
        yield self._buffer[self._index :]
        self._index = len(self._buffer)
        while not self._eof:
            self._fill()
            yield self._buffer
            self._index = len(self._buffer)

    def skip_to_dash_line(self) -> None:
        """Move (from a line's start) to the start of the next line that starts with "-"."""
        while self._index >= len(self._buffer) and not self._eof:
            self._fill()
        if self._buffer[self._index : self._index + 1] == b"-":
            return
        while True:
            found = self._find_dash_line()
            if found >= 0:
                self._index = found
                return
            if self._eof:
                self._index = len(self._buffer)
                return
            # (keep the last byte: a line break there may precede a "-" in the next read)
            self._index = max(self._index, len(self._buffer) - 1)
            self._fill()

    def _find_dash_line(self) -> int:
        """The index of the next "-" in the buffer that starts a line; -1 if none."""
        buffer, index = self._buffer, self._index
        # "-" is rare in bodies (never in base64), so look for it, then at what's before it
        for _ in range(64):
            index = buffer.find(b"-", index + 1)
            if index < 0 or buffer[index - 1] in b"\r\n":
                return index
        # (a body with many dashes: look for line breaks followed by one)
        found = buffer.find(b"\n-", index)
        found_after_cr = buffer.find(b"\r-", index, found if found >= 0 else None)
        if found_after_cr >= 0:
            found = found_after_cr
        return found + 1 if found >= 0 else -1


class _Frame:
    """A multipart the scan is inside: its boundary line's start, and its subtype."""

    def __init__(self, separator: bytes, subtype: str) -> None:
        self.separator = separator
        self.subtype = subtype
        # The boundary line, as the feedparser matches it
        self.pattern = re.compile(re.escape(separator) + rb"(?P<end>--)?[ \t]*(?:\r\n|\r|\n)?\Z")


class _Run:
    """A spilled leaf body: where it is in the file, and the headers of its part."""

    def __init__(self, start: int, end: int, line_end: bytes, headers: list[Any]) -> None:
        self.start = start
        self.end = end
        self.line_end = line_end
        self.headers = headers


class _Scanner:
    """Feeds a raw message to the email package, with long leaf bodies replaced by placeholders.

    Follows the structure as the feedparser does: header blocks, multipart boundaries (only
    lines starting with "-" can be one), message/* parts holding a message. Once anything
    isn't as expected, it stops replacing and passes the rest through as it is.
    """

    HEADERS, LEAF, PASS = "headers", "leaf", "pass"

    def __init__(
        self,
        source: SpoolView,
        message_class: type[Message],
        policy: Policy[Any],
        spill_size: int,
        chunk_size: int,
    ) -> None:
        self.source = source
        self.message_class = message_class
        self.policy = policy
        self.spill_size = spill_size
        self.lines = _Lines(source.view(0, source.size), chunk_size)
        self.parser = BytesFeedParser(_factory=message_class, policy=policy)
        self.prefix = f"anymail-spooled-{secrets.token_hex(16)}-"
        self.runs: list[_Run] = []
        self.frames: list[_Frame] = []
        self.separators: set[bytes] = set()  # of every multipart seen (still open or not)
        self.mode = self.HEADERS
        self.header_lines: list[bytes] = []
        self.header_size = 0
        self.default_type = "text/plain"
        self.leaf_headers: list[Any] = []
        self.passing_through = False  # stopped following the structure

    def scan(self) -> Message:
        while not self.passing_through:
            if self.mode == self.LEAF:
                self._scan_leaf()
                continue
            line = self.lines.readline()
            if not line:
                return self._close()
            if line[:1] == b"-" and self._boundary(line):
                continue
            if self.mode == self.HEADERS:
                self._header_line(line)
            else:
                self.parser.feed(line)
        for chunk in self.lines.rest():  # (as it is)
            self.parser.feed(chunk)
        return self._close()

    def _close(self) -> Message:
        message: Message = self.parser.close()
        return message

    def _boundary(self, line: bytes) -> bool:
        """Handle line if it's a boundary line (of the innermost multipart, or any other)."""
        if self.frames:
            match = self.frames[-1].pattern.match(line)
            if match:
                if self.mode == self.HEADERS and self.header_lines:
                    self._end_headers(line_ahead=True)
                frame = self.frames[-1]
                if match.group("end"):
                    self.frames.pop()
                    self.mode = self.PASS  # (the epilogue)
                else:
                    self._start_part(
                        "message/rfc822" if frame.subtype == "digest" else "text/plain"
                    )
                self.parser.feed(line)
                return True
        if any(line.startswith(separator) for separator in self.separators):
            self._pass_through(line)  # (a boundary out of place: don't guess)
            return True
        return False

    def _start_part(self, default_type: str) -> None:
        self.mode = self.HEADERS
        self.header_lines = []
        self.header_size = 0
        self.default_type = default_type

    def _header_line(self, line: bytes) -> None:
        if _HEADER_LINE.match(line):
            self.header_lines.append(line)
            self.header_size += len(line)
            self.parser.feed(line)
            if self.header_size > _MAX_HEADER_BLOCK:
                self._pass_through(b"")
            return
        if _EMPTY_LINE.match(line):
            self.parser.feed(line)
            self._end_headers()
            return
        # Not a header: the body starts here (the feedparser notes a defect)
        self._end_headers()
        if self.mode == self.HEADERS:
            self._header_line(line)  # (the first line of a message in a message)
            return
        if self.mode == self.LEAF:
            self.mode = self.PASS  # (rare: just don't spill this body)
        self.parser.feed(line)

    def _end_headers(self, line_ahead: bool = False) -> None:
        headers = BytesParser(_class=self.message_class, policy=self.policy).parsebytes(
            b"".join(self.header_lines), headersonly=True
        )
        headers.set_default_type(self.default_type)
        self.header_lines = []
        maintype = headers.get_content_maintype()
        if line_ahead:
            return  # (a part with headers and no body; a boundary line follows)
        if maintype == "multipart":
            boundary = headers.get_boundary()
            try:
                separator = ("--" + boundary).encode("ascii", "surrogateescape")
            except (TypeError, UnicodeError):  # (no boundary: the feedparser reads no parts)
                self.mode = self.PASS
                return
            self.frames.append(_Frame(separator, headers.get_content_subtype()))
            self.separators.add(separator)
            self.mode = self.PASS  # (the preamble)
            if len(self.separators) > _MAX_BOUNDARIES:
                self._pass_through(b"")
        elif headers.get_content_type() == "message/delivery-status":
            self.mode = self.PASS  # (blocks of headers, parsed as such)
        elif maintype == "message":
            self._start_part("text/plain")  # (a message in a message)
        else:
            self.mode = self.LEAF
            self.leaf_headers = list(headers.raw_items())

    def _scan_leaf(self) -> None:
        """Skip over a leaf body, then feed it, or a placeholder for it if it's long."""
        start = self.lines.tell()
        while True:
            self.lines.skip_to_dash_line()
            end = self.lines.tell()
            line = self.lines.readline()
            if not line:
                self._end_leaf(start, end)
                return
            if self.frames and self.frames[-1].pattern.match(line):
                self._end_leaf(start, end)
                self._boundary(line)
                return
            if any(line.startswith(separator) for separator in self.separators):
                # A boundary out of place: feed the body as it is, and stop following
                self._end_leaf(start, end, spill=False)
                self._pass_through(line)
                return

    def _end_leaf(self, start: int, end: int, spill: bool = True) -> None:
        self.mode = self.PASS
        if not spill or end - start <= self.spill_size:
            for chunk in self.source.view(start, end).chunks():
                self.parser.feed(chunk)
            return
        tail = self.source.view(max(start, end - 2), end).read()
        line_end = b"\r\n" if tail.endswith(b"\r\n") else tail[-1:] if tail[-1:] in b"\r\n" else b""
        placeholder = f"{self.prefix}{len(self.runs)}".encode("ascii")
        self.runs.append(_Run(start, end, line_end, self.leaf_headers))
        self.parser.feed(placeholder + line_end)

    def _pass_through(self, line: bytes) -> None:
        self.passing_through = True
        if line:
            self.parser.feed(line)


def parse_spooled_mime(
    source: SpoolView,
    message_class: type[Message],
    policy: Policy[Any],
    spools: SpoolSet | None = None,
    spill_size: int = SPILL_SIZE,
    chunk_size: int = CHUNK_SIZE,
) -> Message | None:
    """Parse the raw message in source, leaving long leaf bodies in it; None if that fails.

    Parts whose body stays in the file get a ``_spooled_content`` (SpooledContent) and an
    empty ``_payload``; message_class must know what to do with those. None means the parse
    didn't check out (or the stdlib parser gave up, e.g. on absurd nesting): parse the
    message the ordinary way instead.
    """
    scanner = _Scanner(source, message_class, policy, spill_size, chunk_size)
    try:
        message = scanner.scan()
    except RecursionError:
        return None
    if not scanner.runs:
        return message
    found = _placeholder_parts(message, scanner.prefix)
    if sorted(found) != list(range(len(scanner.runs))):
        return None
    for index, (part, with_line_end) in found.items():
        run = scanner.runs[index]
        if list(part.raw_items()) != run.headers:
            return None
        end = run.end if with_line_end else run.end - len(run.line_end)
        part._payload = ""  # type: ignore[attr-defined]  # (Message's own attribute)
        part._spooled_content = SpooledContent(  # type: ignore[attr-defined]
            encoded=source.view(run.start, end), spools=spools
        )
    return message


def _placeholder_parts(message: Message, prefix: str) -> dict[int, tuple[Message, bool]]:
    """Each leaf part whose payload is exactly a placeholder (with or without its line end)."""
    found: dict[int, tuple[Message, bool]] = {}
    for part in _all_parts(message):
        payload = part._payload  # type: ignore[attr-defined]
        if not isinstance(payload, str) or not payload.startswith(prefix):
            continue
        number = payload[len(prefix) :]
        stripped = number.rstrip("\r\n")
        if not stripped.isdigit() or stripped.isdigit() and int(stripped) in found:
            continue
        found[int(stripped)] = (part, stripped != number)
    return found


def spooled_parts(message: Message) -> list[Message]:
    """Every part of message (itself included) whose content is in a file."""
    return [part for part in _all_parts(message) if getattr(part, "_spooled_content", None)]


def _all_parts(message: Message) -> Iterator[Message]:
    """Every part, nested messages' too, without recursion."""
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        payload = part._payload  # type: ignore[attr-defined]
        if isinstance(payload, list):
            stack.extend(item for item in payload if isinstance(item, Message))
