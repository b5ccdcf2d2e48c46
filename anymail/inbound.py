"""The normalized inbound message that every ESP's inbound webhook hands to receivers.

Inbound mail is attacker-controlled input, relayed by ESPs that each describe it differently
(some send the raw MIME, others their own pre-parsed fields). ``AnymailInboundMessage`` gives
receivers one portable view of either, and its convenience properties never raise on malformed
mail: a garbled header or body reads as None (or empty) rather than crashing the webhook.

Anyone who can send the app an email controls its headers, and CPython's structured header
parser takes quadratic time and memory on some long headers (a 1 MiB Subject of RFC 2047 words
needs gigabytes). So no header longer than INBOUND_MAX_HEADER_SIZE is ever parsed, and the
convenience properties use linear-time parsers of their own.
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
import unicodedata
from base64 import b64decode, encodebytes
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy, Policy, compat32
from email.utils import (
    collapse_rfc2231_value,
    decode_params,
    getaddresses,
    parsedate_to_datetime,
    unquote,
)
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar, cast, overload

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.utils import validate_file_name

from .addresses import EmailAddress, parse_address_list
from .conf import get_anymail_setting
from .exceptions import AnymailConfigurationError, AnymailInvalidAddress
from .inbound_spool import SpooledContent, parse_spooled_mime, spooled_parts
from .streaming import SPILL_SIZE, Base64Decoder, SpilledString, SpoolSet, SpoolView, new_spool

__all__ = ["AnymailInboundMessage", "INBOUND_MAX_HEADER_SIZE", "max_header_size"]

_T = TypeVar("_T")


#: Default for the INBOUND_MAX_HEADER_SIZE setting: the longest header value (in characters,
#: folding included) that is parsed. Real headers are far shorter: RFC 5322 advises 78
#: characters a line, and even long DKIM signatures or recipient lists stay under a few KiB.
INBOUND_MAX_HEADER_SIZE = 16 * 1024


def max_header_size() -> int | None:
    """The INBOUND_MAX_HEADER_SIZE setting (None: no limit), for header parsing anywhere.

    Read on each use (it's cheap), so override_settings and per-deployment changes apply.
    Outside a configured Django project the default applies.
    """
    if not settings.configured:
        return INBOUND_MAX_HEADER_SIZE
    value = get_anymail_setting("inbound_max_header_size", default=INBOUND_MAX_HEADER_SIZE)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AnymailConfigurationError(
            f"INBOUND_MAX_HEADER_SIZE must be a positive int (or None for no limit), not {value!r}"
        )
    return value


def _over_limit(value: Any, limit: int | None) -> bool:
    return limit is not None and len(value if isinstance(value, str) else str(value)) > limit


# MIME structure headers: read for every part (by the parser itself, and to classify parts),
# so they stay text, handled by Message's own linear-time (compat32-style) methods rather
# than parsed into header objects
_MIME_HEADERS = frozenset(
    ("content-type", "content-disposition", "content-transfer-encoding", "content-id")
)
# What splits a header into physical lines: real line breaks only (str.splitlines() would
# also split on characters like \x0b or \x1c, which mail allows inside a value)
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


if TYPE_CHECKING:
    from _typeshed import SupportsRead

    # (typeshed's policies are generic in the message class they build; not so at runtime)
    _EmailPolicyBase = EmailPolicy["AnymailInboundMessage"]
else:
    _EmailPolicyBase = EmailPolicy


class _LenientPolicy(_EmailPolicyBase):
    """``email.policy.default``, bounded and forgiving, for mail from strangers.

    - A header longer than INBOUND_MAX_HEADER_SIZE is never parsed: it reads back as its raw
      (unfolded) text, and is stored as text when set.
    - MIME structure headers (Content-Type...) are always text, like the compat32 policy.
    - A header the modern parsers reject reads back as its unfolded raw text too.
    - Headers as received (rather than set by code) are re-serialized as received, never
      re-parsed to refold them.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        keep_as_text = (
            isinstance(value, str)
            and not hasattr(value, "name")
            and (name.lower() in _MIME_HEADERS or _over_limit(value, max_header_size()))
        )
        if keep_as_text:
            if len(value.splitlines()) > 1:
                raise ValueError("Header values may not contain linefeed or carriage return")
            return (name, value)
        return super().header_store_parse(name, value)

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):  # a header object (set by code)
            return value
        if name.lower() in _MIME_HEADERS or _over_limit(value, max_header_size()):
            return _unfold(value)
        try:
            return super().header_fetch_parse(name, value)
        except Exception:
            return _unfold(value)

    def fold(self, name: str, value: Any) -> str:
        if not hasattr(value, "name"):  # as received: write it back as received
            return _sanitize(self._unrefolded(name, str(value)))
        try:
            folded: str = super().fold(name, value)  # (typeshed leaves EmailPolicy.fold untyped)
            return folded
        except Exception:
            return _sanitize(self._unrefolded(name, str(value)))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if not hasattr(value, "name"):
            return _encode_lossless(self._unrefolded(name, str(value)))
        try:
            return super().fold_binary(name, value)
        except Exception:
            return _encode_lossless(self._unrefolded(name, str(value)))

    def _unrefolded(self, name: str, value: str) -> str:
        lines = _LINE_BREAKS.split(value)
        # (each continuation line must start with whitespace, or it would be a new header)
        lines = lines[:1] + [line if line[:1] in (" ", "\t") else f" {line}" for line in lines[1:]]
        return f"{name}: {self.linesep.join(lines)}{self.linesep}"


# Line breaks (everything str.splitlines() honors) plus any folding whitespace after them
_HEADER_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")
# What a decoded header value (subject, display name, filename) may not contain: line breaks
# and NUL, which would let it forge a header or truncate a string wherever it is used next
_UNSAFE_IN_TEXT = re.compile(r"[\x00\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_SURROGATES = re.compile("[\ud800-\udfff]")
# RFC 5322 field name: printable ASCII except colon
_HEADER_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
# Headers that describe the body; construct() builds its own body, so it supplies these
_BODY_HEADERS = ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition")
_BODY_TYPES = ("text/plain", "text/html")
# RFC 5321: a local part of up to 64 octets, a domain of up to 255; anything longer isn't a
# deliverable address (and isn't worth parsing)
_MAX_ADDR_SPEC_LENGTH = 64 + 1 + 255
# A quoted-string (perhaps unterminated), a run of other text, or a parameter separator
_PARAM_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"?|[^";]+|;')
# An ASCII dot-atom addr-spec with a dotted domain: what nearly every address looks like
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDR_SPEC = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})+\Z")
# Bidirectional text controls (which can make "evil\u202etxt.exe" display as "evilexe.txt")
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Most filesystems limit a file name to 255 bytes
_MAX_FILENAME_BYTES = 255
_FALLBACK_FILENAME = "attachment"
# Labels commonly used for text actually written in a (strict) superset encoding, or that
# Python doesn't know by the label mailers use
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "unicode-1-1-utf-7": "utf-7",
}


class AnymailInboundMessage(Message):
    """An inbound email: a standard ``email.message.Message`` plus normalized conveniences.

    Every MIME sub-part (each attachment, too) is also an AnymailInboundMessage, so the
    attachment helpers work at any depth, including inside forwarded messages.

    Bounded for hostile mail: a header longer than the INBOUND_MAX_HEADER_SIZE setting (16 KiB
    by default) is never parsed. The properties read it as missing (``from_email``,
    ``subject``, ``date`` None; ``to``, ``cc`` skip it; ``get_filename()`` and
    ``get_param()`` ignore that Content-Type or Content-Disposition), rather than truncating it
    (a truncated address list could name a different recipient). Its text stays available:
    ``raw_header(name)`` gives it as received, and ``message[name]`` or ``get_all(name)`` give
    it unfolded but undecoded. Headers within the limit read as with ``email.policy.default``,
    except the MIME ones (Content-Type, Content-Disposition, Content-Transfer-Encoding,
    Content-ID), which are plain text as with ``compat32``. The properties parse in linear
    time; ``message[name]`` for other headers uses Python's own header parser (slower on
    pathological headers, but bounded by the limit).

    Decoded values (``subject``, display names, ``get_filename()``) never contain line breaks
    or NUL: each run of them reads as one space.

    The body and attachment structure behind ``text``, ``html``, ``attachments`` and
    ``inline_attachments`` is found once and reused; changing the message through Message's
    methods (on it or on any of its parts) finds it again.

    A message parsed from a file (as webhooks parse large inbound mail) leaves each large leaf
    part's content in it, read and decoded only when asked for (``get_content_bytes()``,
    ``as_uploaded_file()``, ``get_payload()``, ``as_bytes()``...): every method reads the
    same, but in a webhook, only until its request is finished (its temporary files are
    closed then; a copy or pickle made before then holds its own content).
    """

    def __init__(self, policy: Policy | None = None) -> None:
        super().__init__(policy=policy if policy is not None else _POLICY)
        # Set by ESP webhook code when the ESP provides them:
        self.envelope_sender: str | None = None  # addr-spec
        self.envelope_recipient: str | None = None  # addr-spec
        self.spam_detected: bool | None = None
        self.spam_score: float | None = None
        self.stripped_text: str | None = None
        self.stripped_html: str | None = None
        self._version = 0  # bumped by every change (see _structure)
        self._structure_cache: tuple[_Structure, list[tuple[Any, ...]]] | None = None
        # A large leaf part's content, left in a file (then _payload is ""): see get_payload
        self._spooled_content: SpooledContent | None = None

    # --- Documented alias and raw access ---

    @overload
    def getall(self, name: str, failobj: None = None) -> list[str] | None: ...
    @overload
    def getall(self, name: str, failobj: _T) -> list[str] | _T: ...
    def getall(self, name: str, failobj: object = None) -> object:
        """Alias for ``get_all()``: Anymail's docs show ``message.getall('DKIM-Signature')``."""
        return self.get_all(name, failobj)

    @overload
    def raw_header(self, name: str, failobj: None = None) -> str | None: ...
    @overload
    def raw_header(self, name: str, failobj: _T) -> str | _T: ...
    def raw_header(self, name: str, failobj: object = None) -> object:
        """The first ``name`` header exactly as received (not unfolded, decoded or size-capped),
        or ``failobj`` if there is none.

        For headers beyond INBOUND_MAX_HEADER_SIZE, which the properties treat as missing.
        Bytes that aren't UTF-8 read as U+FFFD. (A header set by code reads as its text.)
        """
        lname = name.lower()
        for header_name, value in self.raw_items():
            if header_name.lower() == lname:
                return str(value) if hasattr(value, "name") else _sanitize(value)
        return failobj

    # --- Normalized header properties ---

    @property
    def from_email(self) -> EmailAddress | None:
        """The (first valid) From address, or None if From is missing, invalid or too long."""
        addresses = self._address_header("From", first_header_only=True)
        return addresses[0] if addresses else None

    @property
    def to(self) -> list[EmailAddress]:
        """Every valid address in all To headers (invalid ones, and too-long headers, skipped)."""
        return self._address_header("To")

    @property
    def cc(self) -> list[EmailAddress]:
        """Every valid address in all Cc headers (invalid ones, and too-long headers, skipped)."""
        return self._address_header("Cc")

    @property
    def subject(self) -> str | None:
        """The decoded Subject, or None if there isn't one (or it is too long)."""
        try:
            values = self._header_values("Subject", first_only=True)
            if not values or values[0] is None:
                return None
            value = values[0]
            text = str(value) if hasattr(value, "name") else _decode_rfc2047(_unfold(value))
            return _safe_text(text)
        except AnymailConfigurationError:
            raise
        except Exception:
            return None

    @property
    def date(self) -> datetime | None:
        """The Date header as a datetime, or None if it is missing, invalid or too long.

        Aware, except in the rare case where the sender declared an unknown zone ("-0000").
        """
        try:
            values = self._header_values("Date", first_only=True)
            if not values or values[0] is None:
                return None
            value = values[0]
            if hasattr(value, "datetime"):  # a headerregistry DateHeader
                parsed: datetime | None = value.datetime
                return parsed
            return parsedate_to_datetime(_unfold(value))
        except AnymailConfigurationError:
            raise
        except Exception:
            return None

    def _header_values(self, name: str, first_only: bool = False) -> list[Any]:
        """The stored values of each ``name`` header (None for one over the size limit).

        Stored values are what the message holds before any parsing: the raw text as
        received, or a header object when code set one.
        """
        lname = name.lower()
        limit = max_header_size()
        values: list[Any] = []
        for header_name, value in self.raw_items():
            if header_name.lower() == lname:
                values.append(None if _over_limit(value, limit) else value)
                if first_only:
                    break
        return values

    def _address_header(self, name: str, first_header_only: bool = False) -> list[EmailAddress]:
        try:
            values = self._header_values(name, first_only=first_header_only)
        except AnymailConfigurationError:
            raise
        except Exception:
            return []
        addresses: list[EmailAddress] = []
        for value in values:
            if value is None:
                continue  # too long to parse
            try:
                if hasattr(value, "addresses"):  # a header object, set by code
                    pairs = [(addr.display_name, addr.addr_spec) for addr in value.addresses]
                else:
                    # email.utils' parser is linear-time, unlike the modern header parser
                    pairs = [
                        (_decode_rfc2047(display_name), addr_spec)
                        for display_name, addr_spec in _getaddresses(_unfold(value))
                    ]
            except Exception:  # (e.g. RecursionError on absurdly nested comments)
                continue
            for display_name, addr_spec in pairs:
                address = _valid_address(display_name, addr_spec)
                if address is not None:
                    addresses.append(address)
        return addresses

    # --- Body and attachment properties ---

    @property
    def text(self) -> str | None:
        """The plaintext body, decoded to str, or None if there isn't one."""
        return _body_text(self._structure().text)

    @property
    def html(self) -> str | None:
        """The HTML body, decoded to str, or None if there isn't one."""
        return _body_text(self._structure().html)

    @property
    def attachments(self) -> list[AnymailInboundMessage]:
        """Every attachment part not listed in ``inline_attachments``.

        Includes inline parts that have no (or a duplicate) Content-ID: they can't be keyed by
        cid, and silently dropping content (like Apple Mail's inline photos) would be worse.
        """
        return list(self._structure().attachments)

    @property
    def inline_attachments(self) -> dict[str, AnymailInboundMessage]:
        """Inline attachment parts, keyed by bare Content-ID (without angle brackets)."""
        return dict(self._structure().inline_attachments)

    def _structure(self) -> _Structure:
        """The body parts and attachments, found once (a walk reads every part's headers).

        Reused while no part (nor any payload list) has changed since: checking that is
        cheap, and catches changes made through Message methods on any part.
        """
        # (getattr: tolerates an instance that was built without calling __init__)
        cached: tuple[_Structure, list[tuple[Any, ...]]] | None = getattr(
            self, "_structure_cache", None
        )
        if cached is not None and all(_unchanged(entry) for entry in cached[1]):
            return cached[0]
        nodes: list[Any] = []
        structure = _find_structure(self, nodes)
        self._structure_cache = (structure, [_fingerprint(node) for node in nodes])
        return structure

    # --- Change tracking (for the _structure cache) ---

    def _changed(self) -> None:
        self._version = getattr(self, "_version", 0) + 1

    def __setitem__(self, name: str, val: Any) -> None:
        super().__setitem__(name, val)
        self._changed()

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self._changed()

    def set_raw(self, name: str, value: Any) -> None:
        """``email.message.Message.set_raw()``, noting the change (cached structure)."""
        super().set_raw(name, value)
        self._changed()

    def add_header(self, _name: str, _value: str, **_params: Any) -> None:
        """``email.message.Message.add_header()``, noting the change (cached structure)."""
        super().add_header(_name, _value, **_params)
        self._changed()

    def replace_header(self, _name: str, _value: Any) -> None:
        """``email.message.Message.replace_header()``, noting the change (cached structure)."""
        super().replace_header(_name, _value)
        self._changed()

    def set_payload(self, payload: Any, charset: Any = None) -> None:
        """``email.message.Message.set_payload()``, noting the change (cached structure)."""
        self._spooled_content = None
        super().set_payload(payload, charset)
        self._changed()

    def attach(self, payload: Any) -> None:
        """``email.message.Message.attach()``, noting the change (cached structure)."""
        super().attach(payload)
        self._changed()

    def set_boundary(self, boundary: str) -> None:
        """``email.message.Message.set_boundary()``, noting the change (cached structure)."""
        super().set_boundary(boundary)
        self._changed()

    def set_default_type(self, ctype: str) -> None:
        """``email.message.Message.set_default_type()``, noting the change (cached structure)."""
        super().set_default_type(ctype)
        self._changed()

    def __getstate__(self) -> dict[str, Any]:
        # (pickle, copy: the cache refers to parts, which a copy doesn't share)
        state = self.__dict__.copy()
        state["_structure_cache"] = None
        # A copy gets its own payload text, rather than sharing (temporary) files
        content = state.get("_spooled_content")
        if content is not None:
            if not state.get("_payload"):
                state["_payload"] = content.encoded_text()
            state["_spooled_content"] = None
        return state

    # --- Large parts whose content is in a file (see anymail.inbound_spool) ---

    def get_payload(self, i: int | None = None, decode: bool = False) -> Any:
        """``email.message.Message.get_payload()``, for parts whose content is in a file, too."""
        content = self.__dict__.get("_spooled_content")
        if content is None or i is not None or getattr(self, "_payload", None):
            return super().get_payload(i, decode)  # type: ignore[call-overload]
        if decode:
            return self._spooled_decoded(content).read()
        with _payload_text_in_place(self):
            return super().get_payload()

    def _spooled_decoded(self, content: SpooledContent) -> SpoolView:
        def decode_whole() -> bytes:
            with _payload_text_in_place(self):
                data = Message.get_payload(self, decode=True)
            return data if isinstance(data, bytes) else b""

        return content.decoded(self, decode_whole)

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        """``email.message.Message.as_bytes()``, with the content of parts kept in files."""
        with _payload_text_in_place(self, whole_tree=True):
            return super().as_bytes(unixfrom, policy)

    def as_string(
        self, unixfrom: bool = False, maxheaderlen: int = 0, policy: Policy | None = None
    ) -> str:
        """``email.message.Message.as_string()``, with the content of parts kept in files."""
        with _payload_text_in_place(self, whole_tree=True):
            return super().as_string(unixfrom, maxheaderlen, policy)

    # --- MIME parameters (linear-time; Message's own parser is quadratic on long headers) ---

    def get_params(
        self, failobj: Any = None, header: str = "content-type", unquote: bool = True
    ) -> Any:
        """As Message.get_params(), but a header over the size limit reads as missing."""
        params = self._params(header)
        if params is None:
            return failobj
        if unquote:
            return [(name, _unquote_param(value)) for name, value in params]
        return params

    def get_param(
        self,
        param: str,
        failobj: Any = None,
        header: str = "content-type",
        unquote: bool = True,
    ) -> Any:
        """As Message.get_param(), but a header over the size limit reads as missing."""
        lparam = param.lower()
        for name, value in (self._params(header, only=lparam) or [])[1:]:
            if name.lower() == lparam:
                return _unquote_param(value) if unquote else value
        return failobj

    def _params(self, header: str, only: str | None = None) -> list[tuple[str, Any]] | None:
        """The header's value and parameters, or None if it is missing or too long.

        With ``only``, just that parameter (and its RFC 2231 sections) after the value: work
        stays proportional to the header's length, however many parameters it has.
        """
        values = self._header_values(header, first_only=True)
        if not values or values[0] is None:
            return None
        items = _split_params(_unfold(values[0]))
        params = [(items[0].strip(), "")]
        for item in items[1:]:
            name, equals, value = item.partition("=")
            name = name.strip().lower()
            if not name or (only is not None and name != only and not name.startswith(only + "*")):
                continue
            params.append((name, value.strip() if equals else ""))
        try:
            return decode_params(params)
        except Exception:  # e.g. an RFC 2231 section number too long for int()
            return params

    # --- Attachment (any part) methods ---

    def get_content_disposition(self) -> str | None:
        """Lowercased Content-Disposition value without params, or None if missing or empty."""
        value = self.get("Content-Disposition")
        if value is None:
            return None
        return str(value).split(";", 1)[0].strip().lower() or None

    def is_attachment(self) -> bool:
        """True for a non-inline attachment.

        Beyond the stdlib's "Content-Disposition: attachment", this also counts unrecognized
        dispositions (RFC 2183 says to treat them as attachment) and non-body leaf parts with no
        disposition and no Content-ID (e.g., a forwarded message/rfc822 or a bare PDF part).
        """
        return _is_attachment(self)

    def is_inline_attachment(self) -> bool:
        """True for an inline attachment: disposition "inline" (or a Content-ID and no
        disposition), other than a text/plain or text/html body part."""
        return _is_inline_attachment(self)

    @overload
    def get_filename(self, failobj: None = None) -> str | None: ...
    @overload
    def get_filename(self, failobj: _T) -> str | _T: ...
    def get_filename(self, failobj: object = None) -> object:
        """The sender's filename (RFC 2231 and RFC 2047 decoded), or ``failobj``.

        Never use this as a path to write to: it is attacker-controlled. (``safe_filename`` is
        a sanitized version.) Line breaks and NUL in it read as a space.
        """
        try:
            for header_name, param in (
                ("Content-Disposition", "filename"),
                ("Content-Type", "name"),
            ):
                found = self.get_param(param, None, header_name)
                if found is not None:
                    found = _sanitize(collapse_rfc2231_value(found))
                    return _safe_text(_decode_rfc2047(found).strip())
        except AnymailConfigurationError:
            raise
        except Exception:
            pass
        return failobj

    @property
    def safe_filename(self) -> str:
        """The sender's filename, sanitized as Django sanitizes uploaded file names.

        Only the part after the last "/" or "\\"; no control, format (e.g. bidirectional
        override) or line-break characters; at most 255 bytes of UTF-8 (keeping the extension);
        never empty, "." or "..": without a usable name, "attachment" plus an extension for the
        content type (e.g. "attachment.pdf"). Still untrusted input: it can name any file type.
        """
        name = self.get_filename() or ""
        name = re.split(r"[/\\]", name)[-1]
        name = "".join(
            " " if unicodedata.category(char) in ("Zs", "Zl", "Zp") else char
            for char in name
            if char not in _BIDI_CONTROLS and unicodedata.category(char) not in ("Cc", "Cf", "Cs")
        )
        name = _truncate_filename(name.strip()).strip()
        if name not in ("", ".", ".."):
            try:
                validate_file_name(name)  # (raises for a name Django won't store)
                return name
            except SuspiciousFileOperation:
                pass
        return _FALLBACK_FILENAME + (_extension_for(self.get_content_type()) or "")

    def get_content_bytes(self) -> bytes:
        """The decoded content (base64 and quoted-printable undone).

        For a message/rfc822 part, this is the attached message itself.
        """
        content = self.__dict__.get("_spooled_content")
        if content is not None:
            return self._spooled_decoded(content).read()
        payload = _payload_or_none(self)
        if payload is None:
            return b""
        if isinstance(payload, list):
            if self.get_content_maintype() == "multipart":
                return _body_bytes(self)
            return b"".join(_as_bytes(part) for part in payload if isinstance(part, Message))
        try:
            data = self.get_payload(decode=True)
        except Exception:
            data = None
        if isinstance(data, bytes):
            return data
        if isinstance(payload, bytes):
            return payload
        return _encode_lossless(str(payload))

    def get_content_text(self, charset: str | None = None, errors: str = "replace") -> str:
        """The content decoded to str, using ``charset`` or else the declared charset.

        ``errors`` is as for ``bytes.decode()``. An unknown or missing charset decodes as UTF-8.
        """
        if charset is None:
            try:
                charset = self.get_content_charset()
            except Exception:
                charset = None
        return _decode_bytes(self.get_content_bytes(), charset, errors)

    def as_uploaded_file(self) -> UploadedFile[bytes]:
        """This part as a Django UploadedFile, e.g. to assign to a FileField.

        Named ``safe_filename`` (never the sender's raw name). Never trust the content, either.
        A large part that came in a webhook is its temporary file itself (no copy), readable
        until the webhook's request is finished.
        """
        content = self.__dict__.get("_spooled_content")
        if content is not None:
            data = self._spooled_decoded(content)
            return UploadedFile(
                file=cast("IO[bytes]", data),  # (an io.RawIOBase: a file, to File)
                name=self.safe_filename,
                content_type=self.get_content_type(),
                size=data.size,
                charset=self.get_content_charset(),
            )
        uploaded = SimpleUploadedFile(
            name=self.safe_filename,
            content=self.get_content_bytes(),
            content_type=self.get_content_type(),
        )
        uploaded.charset = self.get_content_charset()
        return uploaded

    # --- Constructors ---

    @classmethod
    def parse_raw_mime(cls, s: str) -> AnymailInboundMessage:
        """Parse a raw RFC 5322 message given as str.

        Parsed via its UTF-8 encoding, so any non-ASCII text (which is what an ESP that decoded
        the raw message for JSON will have done) is decoded back as written.
        """
        try:
            data = s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = s.encode("utf-8", "replace")
        return cls.parse_raw_mime_bytes(data)

    @classmethod
    def parse_raw_mime_bytes(cls, b: bytes) -> AnymailInboundMessage:
        """Parse a raw RFC 5322 message given as bytes."""
        parser = BytesParser(_class=cls, policy=_POLICY)
        data = bytes(b)
        try:
            return parser.parsebytes(data)
        except RecursionError:
            # Absurdly deep MIME nesting (an attack, not real mail) overflows the stdlib parser:
            # keep the headers readable and leave the body unparsed
            return parser.parsebytes(data, headersonly=True)

    @classmethod
    def parse_raw_mime_file(
        cls, fp: SupportsRead[str] | SupportsRead[bytes]
    ) -> AnymailInboundMessage:
        """Parse a raw RFC 5322 message from a text or binary file object (or uploaded file).

        A large binary file is copied, a chunk at a time, to a temporary file, and its large
        parts' content stays there (see ``parse_raw_mime_spool``).
        """
        head = fp.read(SPILL_SIZE + 1)
        if isinstance(head, str):
            rest = fp.read()
            assert isinstance(rest, str)
            return cls.parse_raw_mime(head + rest)
        # (a short read isn't necessarily the end)
        while len(head) <= SPILL_SIZE and (more := fp.read(SPILL_SIZE + 1 - len(head))):
            assert isinstance(more, bytes)
            head += more
        if len(head) <= SPILL_SIZE:
            return cls.parse_raw_mime_bytes(head)
        spool = new_spool()
        spool.write(head)
        while chunk := fp.read(SPILL_SIZE):
            assert isinstance(chunk, bytes)
            spool.write(chunk)
        spool.flush()
        return cls.parse_raw_mime_spool(SpoolView(spool))

    @classmethod
    def parse_raw_mime_spool(
        cls, source: SpoolView, spools: SpoolSet | None = None
    ) -> AnymailInboundMessage:
        """Parse the raw RFC 5322 message in a (temporary) file, leaving large parts' content there.

        Every part reads exactly as if parsed in memory, but a large leaf part's body is read
        (and decoded) from source only when asked for, so source must stay open as long as the
        message is used. (Webhook views parse what they spooled from the request body; spools,
        if given, owns any further temporary files, e.g. for decoded content.)
        """
        message = parse_spooled_mime(source, cls, _POLICY, spools)
        if isinstance(message, cls):
            return message
        # (the file didn't parse as expected: parse it the ordinary way)
        return cls.parse_raw_mime_bytes(source.view(0, source.size).read())

    @classmethod
    def construct(
        cls,
        raw_headers: str | None = None,
        from_email: str | EmailAddress | None = None,
        to: str | EmailAddress | Iterable[str | EmailAddress] | None = None,
        cc: str | EmailAddress | Iterable[str | EmailAddress] | None = None,
        subject: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        text: str | None = None,
        text_charset: str = "utf-8",
        html: str | None = None,
        html_charset: str = "utf-8",
        attachments: Iterable[Message] | None = None,
    ) -> AnymailInboundMessage:
        """Build a message from an ESP's pre-parsed fields (for ESPs that don't post raw MIME).

        Headers come from ``raw_headers`` (a raw header block), then ``headers`` (name/value
        pairs or a dict); ``from_email``, ``to``, ``cc`` and ``subject`` then replace any such
        headers. The body is built from ``text``, ``html`` and ``attachments`` (parts made by
        ``construct_attachment``), so any Content-Type, Content-Transfer-Encoding or
        Content-Disposition in the supplied headers is dropped. Line breaks in header values
        are replaced by spaces, so a value can never add a header of its own.
        """
        msg = cls()
        if raw_headers:
            try:
                data = raw_headers.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                data = raw_headers.encode("utf-8", "replace")
            parsed = BytesParser(_class=cls, policy=_POLICY).parsebytes(data, headersonly=True)
            for name, value in parsed.raw_items():
                msg.set_raw(name, value)
        if headers:
            items = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in items:
                msg._add_header(name, value)
        for name, field in (
            ("From", from_email),
            ("To", _address_header_value(to)),
            ("Cc", _address_header_value(cc)),
            ("Subject", subject),
        ):
            if field is not None:
                del msg[name]
                msg._add_header(name, str(field))

        body_parts = []
        if text is not None:
            body_parts.append(cls._text_part("plain", text, text_charset))
        if html is not None:
            body_parts.append(cls._text_part("html", html, html_charset))
        body = body_parts[0] if len(body_parts) == 1 else None
        if len(body_parts) > 1:
            body = cls._multipart("alternative", body_parts)
        attachment_parts = list(attachments or [])
        if attachment_parts:
            body = cls._multipart("mixed", ([body] if body is not None else []) + attachment_parts)

        for name in _BODY_HEADERS:
            del msg[name]
        if body is not None:
            if "MIME-Version" not in msg:
                msg["MIME-Version"] = "1.0"
            for name, value in body.raw_items():
                msg.set_raw(name, value)
            msg.set_payload(body.get_payload())
        return msg

    @classmethod
    def construct_attachment(
        cls,
        content_type: str,
        content: str | bytes | SpilledString | SpoolView,
        charset: str | None = None,
        filename: str | None = None,
        content_id: str | None = None,
        base64: bool = False,
    ) -> AnymailInboundMessage:
        """Build an attachment part for ``construct()`` from an ESP's attachment fields.

        ``content`` is str or bytes, or base64 text if ``base64`` is set. Giving a
        ``content_id`` (with or without <>) makes the part inline; otherwise it's an attachment.
        (Webhook views may also give content still in a file: a ``SpilledString`` from
        ``anymail.streaming.load_json``, or bytes as a ``SpoolView``. Large content then stays
        in a file.)
        """
        part = cls()
        part["Content-Type"] = _clean_header_value(content_type or "") or "application/octet-stream"
        charset = _clean_header_value(charset) if charset else part.get_content_charset()
        spooled: SpoolView | None = None
        data = b""
        if isinstance(content, SpilledString) and not base64:
            content = str(content)  # (long text, not base64: rare enough to hold)
        if isinstance(content, SpoolView) and not base64:
            spooled = content
        elif isinstance(content, (SpoolView, SpilledString)):
            spooled = _decode_base64_to_spool(content)
        elif base64:
            data = b64decode(content)
        elif isinstance(content, str):
            try:
                data = content.encode(charset or "utf-8")
            except (LookupError, UnicodeError, ValueError, TypeError):
                charset, data = "utf-8", content.encode("utf-8", "surrogatepass")
            if charset is None and part.get_content_maintype() == "text":
                charset = "utf-8"  # declare the encoding we just used
        else:
            data = bytes(content)
        if charset:
            part.set_param("charset", charset)
        disposition = "inline" if content_id else "attachment"
        if filename is not None:
            part.add_header(
                "Content-Disposition", disposition, filename=_clean_header_value(filename)
            )
        else:
            part["Content-Disposition"] = disposition
        if content_id:
            bare_id = _bare_content_id(_clean_header_value(content_id))
            part["Content-ID"] = f"<{bare_id}>"

        if part.get_content_type() == "message/rfc822":
            # RFC 2046 forbids encoding message/rfc822; its content is the attached message
            attached = (
                cls.parse_raw_mime_spool(spooled)
                if spooled is not None
                else cls.parse_raw_mime_bytes(data)
            )
            part.set_payload([attached])
        elif spooled is not None and spooled.size > SPILL_SIZE:
            part["Content-Transfer-Encoding"] = "base64"
            part.set_payload("")
            part._spooled_content = SpooledContent(decoded=spooled)
        else:
            if spooled is not None:
                data = spooled.view(0, spooled.size).read()
            part["Content-Transfer-Encoding"] = "base64"
            part.set_payload(encodebytes(data).decode("ascii"))
        return part

    @classmethod
    def construct_attachment_from_uploaded_file(
        cls, file: Any, content_id: str | None = None
    ) -> AnymailInboundMessage:
        """Build an attachment part from a Django UploadedFile (as ESPs post multipart forms)."""
        try:
            file.seek(0)  # in case something already read it
        except Exception:
            pass
        charset = getattr(file, "charset", None)
        if isinstance(charset, bytes):  # Django's multipart parser gives it as bytes
            charset = charset.decode("ascii", "replace")
        size = getattr(file, "size", None)
        content: bytes | SpoolView
        if isinstance(size, int) and size > SPILL_SIZE and hasattr(file, "seek"):
            # A large upload stays in its (temporary) file: Django closes it with the request
            content = SpoolView(file, 0, size)
        else:
            content = file.read()
        return cls.construct_attachment(
            content_type=getattr(file, "content_type", None) or "application/octet-stream",
            content=content,
            charset=charset,
            filename=getattr(file, "name", None),
            content_id=content_id,
        )

    # --- construct() helpers ---

    def _add_header(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"Invalid header name {name!r}")
        # set_raw (not __setitem__), so repeated headers like To are allowed, as in real mail;
        # stored as text, like a received header: parsed (within the size limit) when read
        self.set_raw(name, _clean_header_value(str(value)))

    @classmethod
    def _text_part(cls, subtype: str, content: str, charset: str) -> AnymailInboundMessage:
        try:
            data = content.encode(charset)  # (LookupError for non-text codecs like "base64")
        except (LookupError, UnicodeError, ValueError, TypeError):
            # Not representable in the ESP's charset: use one that always works
            charset, data = "utf-8", content.encode("utf-8", "surrogatepass")
        part = cls()
        part.add_header("Content-Type", f"text/{subtype}", charset=_clean_header_value(charset))
        part["Content-Transfer-Encoding"] = "base64"  # lossless, even for "\r\n" line endings
        part.set_payload(encodebytes(data).decode("ascii"))
        return part

    @classmethod
    def _multipart(cls, subtype: str, parts: Iterable[Message]) -> AnymailInboundMessage:
        container = cls()
        # "=_" can't occur in base64 content, and the random part avoids any other collision
        container.add_header(
            "Content-Type", f"multipart/{subtype}", boundary=f"=_{secrets.token_hex(16)}"
        )
        container.set_payload(list(parts))
        return container


# (message_factory: the parser builds every sub-part as an AnymailInboundMessage, too)
_POLICY: Policy[AnymailInboundMessage] = _LenientPolicy(message_factory=AnymailInboundMessage)


class _Structure(NamedTuple):
    text: Any
    html: Any
    attachments: list[Any]
    inline_attachments: dict[str, Any]


# --- Part classification (functions, so they also work on plain Message sub-parts) ---


def _find_structure(message: Message, nodes: list[Any]) -> _Structure:
    """Classify every leaf part (appending each part visited, containers too, to nodes)."""
    text = html = None
    attachments: list[Any] = []
    inline: dict[str, Any] = {}
    try:
        for part in _leaf_parts(message, nodes):
            if _is_body_part(part):
                ctype = part.get_content_type()
                if _payload_or_none(part) is None:
                    continue  # e.g., construct() with no body at all
                if ctype == "text/plain" and text is None:
                    text = part
                elif ctype == "text/html" and html is None:
                    html = part
                # (later body-text parts, e.g. mailing list footers, stay reachable via walk)
            elif _is_inline_attachment(part):
                content_id = _content_id(part)
                if content_id and content_id not in inline:
                    inline[content_id] = part
                else:
                    attachments.append(part)
            elif _is_attachment(part):
                attachments.append(part)
    except AnymailConfigurationError:
        raise
    except Exception:  # (defensive: the part helpers shouldn't raise)
        pass
    return _Structure(text, html, attachments, inline)


def _leaf_parts(message: Message, nodes: list[Any] | None = None) -> Iterator[Message]:
    """Non-container parts in document order (and each part visited appended to nodes).

    Descends only into multipart/*, never into an attached message/rfc822 (that whole message
    is one attachment). Iterative, so hostile nesting depth can't overflow the stack; a part
    that appears twice (only possible in a hand-built message) is visited once.
    """
    stack: list[Any] = [message]
    seen: set[int] = set()
    while stack:
        part = stack.pop()
        if not isinstance(part, Message) or id(part) in seen:
            continue
        seen.add(id(part))
        if nodes is not None:
            nodes.append(part)
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            payload = part.get_payload()
            stack.extend(reversed(payload if isinstance(payload, list) else []))
        else:
            yield part


def _fingerprint(part: Message) -> tuple[Any, ...]:
    """What _structure checks to reuse its result: the part's change count and payload list."""
    payload = part.get_payload() if part.is_multipart() else None
    return (part, getattr(part, "_version", 0), payload, len(payload) if payload else 0)


def _unchanged(fingerprint: tuple[Any, ...]) -> bool:
    part, version, payload, length = fingerprint
    if getattr(part, "_version", 0) != version:
        return False
    if payload is None:
        return not part.is_multipart()
    return part.is_multipart() and part.get_payload() is payload and len(payload) == length


def _disposition(part: Message) -> str | None:
    try:
        value = part.get("Content-Disposition")
    except Exception:
        return None
    if value is None:
        return None
    return str(value).split(";", 1)[0].strip().lower() or None


def _content_id(part: Message) -> str:
    try:
        value = part.get("Content-ID")
    except Exception:
        return ""
    return _bare_content_id(str(value)) if value is not None else ""


def _bare_content_id(content_id: str) -> str:
    content_id = content_id.strip()
    if content_id.startswith("<") and content_id.endswith(">"):
        content_id = content_id[1:-1].strip()
    return content_id


def _is_body_part(part: Message) -> bool:
    """A text/plain or text/html part that is (a candidate for) the message body."""
    return (
        part.get_content_type() in _BODY_TYPES
        and _disposition(part) in (None, "inline")
        and not part.get_filename()
    )


def _is_container(part: Message) -> bool:
    return part.get_content_maintype() == "multipart"


def _is_attachment(part: Message) -> bool:
    disposition = _disposition(part)
    if disposition is None:
        return not (_is_container(part) or _is_body_part(part) or _content_id(part))
    return disposition != "inline"


def _is_inline_attachment(part: Message) -> bool:
    if _is_container(part) or _is_body_part(part):
        return False
    disposition = _disposition(part)
    return disposition == "inline" or (disposition is None and bool(_content_id(part)))


# --- Content helpers ---


def _payload_or_none(part: Message) -> Any:
    """The undecoded payload; get_payload() itself can raise on odd charsets.

    (For a part with its content in a file, its empty placeholder: nothing is read.)
    """
    if getattr(part, "_spooled_content", None) is not None:
        return ""
    if part.is_multipart():
        return part.get_payload()
    try:
        return part.get_payload()
    except Exception:
        return ""


def _body_text(part: Message | None) -> str | None:
    if part is None:
        return None
    try:
        if isinstance(part, AnymailInboundMessage):
            return part.get_content_text()
        return _decode_bytes(_decoded_payload(part), part.get_content_charset(), "replace")
    except Exception:
        try:
            return _decoded_payload(part).decode("utf-8", "replace")
        except Exception:
            return ""


def _decode_bytes(data: bytes, charset: str | None, errors: str) -> str:
    """Decode with the given charset, falling back to UTF-8 if Python can't use that name."""
    if charset:
        name = _CHARSET_ALIASES.get(charset.strip().lower(), charset.strip())
        try:
            return data.decode(name, errors)
        except UnicodeDecodeError:
            raise  # a real decoding error, under a strict errors handler
        except (LookupError, UnicodeError, ValueError, TypeError):
            pass  # unknown charset, or not a text encoding (e.g. "base64", "idna")
    return data.decode("utf-8", errors)


def _as_bytes(message: Message) -> bytes:
    """Serialize a message as faithfully as possible, or b"" if even the crudest way fails.

    (The stdlib generators can raise on hostile structure, and a forwarded message is an
    attachment whose content we otherwise only have as a parse tree.)
    """
    policies: list[Policy] = []
    if isinstance(message.policy, EmailPolicy):
        # refold_source="none": re-emit parsed headers exactly as received
        policies.append(message.policy.clone(refold_source="none"))
    policies.append(compat32)
    for policy in policies:
        try:
            return message.as_bytes(policy=policy)
        except Exception:
            pass
    for policy in policies:
        try:  # the str generator never has to encode, so fails less often
            return _encode_lossless(message.as_string(policy=policy))
        except Exception:
            pass
    return b""


def _body_bytes(message: Message) -> bytes:
    """A part's serialized body, without its headers."""
    serialized = _as_bytes(message)
    for separator in (b"\n\n", b"\r\n\r\n"):
        if separator in serialized:
            return serialized.partition(separator)[2]
    return b""


def _encode_lossless(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _sanitize(text: str) -> str:
    """Turn surrogate-escaped raw bytes (from parsing 8-bit headers) into real Unicode."""
    return _encode_lossless(text).decode("utf-8", "replace")


def _unfold(value: Any) -> str:
    """A stored header value as one line of valid Unicode (folding line breaks removed)."""
    return _sanitize("".join(_LINE_BREAKS.split(str(value))))


def _safe_text(text: str) -> str:
    """A decoded value with each run of line breaks or NULs replaced by one space."""
    return _UNSAFE_IN_TEXT.sub(" ", text)


def _decode_rfc2047(text: str) -> str:
    """Decode RFC 2047 encoded-words (linear time, unlike the modern header parser)."""
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except Exception:
        return text
    try:
        return str(make_header(chunks))
    except Exception:
        pass
    # An undecodable word or unknown charset: decode each chunk as best we can
    decoded = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            decoded.append(chunk)
        elif charset is None:  # (text between encoded-words, as decode_header returns it)
            decoded.append(chunk.decode("raw-unicode-escape", "replace"))
        else:
            decoded.append(_decode_bytes(chunk, charset, "replace"))
    return "".join(decoded)


def _getaddresses(text: str) -> list[tuple[str, str]]:
    """email.utils.getaddresses() as every Python version has it (each result is validated).

    (Newer Pythons default to a strict mode that drops a whole list over one odd entry.)
    """
    try:
        return getaddresses([text], strict=False)
    except TypeError:  # a Python without the strict option
        return getaddresses([text])


def _valid_address(display_name: str, addr_spec: str) -> EmailAddress | None:
    """An EmailAddress, or None if addr_spec isn't a complete, valid address."""
    if not addr_spec or len(addr_spec) > _MAX_ADDR_SPEC_LENGTH:
        return None
    display_name = _safe_text(_sanitize(display_name or ""))
    if _SIMPLE_ADDR_SPEC.match(addr_spec):  # (the common case, valid without a full parse)
        return EmailAddress(display_name, addr_spec)
    try:
        parsed = parse_address_list(_sanitize(addr_spec))
    except AnymailInvalidAddress:
        return None
    except Exception:  # (the strict parser isn't built for hostile input)
        return None
    if len(parsed) != 1:
        return None
    return EmailAddress(display_name, parsed[0].addr_spec)


def _split_params(value: str) -> list[str]:
    """A MIME header's items: split at each ";" outside a quoted-string, in linear time.

    (Message's own splitter is quadratic in the number of parameters.)
    """
    if '"' not in value:
        return value.split(";")
    items = []
    current: list[str] = []
    for token in _PARAM_TOKENS.findall(value):
        if token == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(token)
    items.append("".join(current))
    return items


def _unquote_param(value: Any) -> Any:
    """As get_param() returns values: unquoted, an RFC 2231 (charset, language, value) too."""
    if isinstance(value, tuple):
        return value[0], value[1], unquote(value[2])
    return unquote(value)


def _truncate_filename(name: str) -> str:
    """name in at most _MAX_FILENAME_BYTES of UTF-8, keeping a (short) extension."""
    if len(name.encode("utf-8", "surrogatepass")) <= _MAX_FILENAME_BYTES:
        return name
    stem, extension = os.path.splitext(name)
    if len(extension.encode("utf-8", "surrogatepass")) > 32:
        stem, extension = name, ""
    budget = _MAX_FILENAME_BYTES - len(extension.encode("utf-8", "surrogatepass"))
    stem = stem.encode("utf-8", "surrogatepass")[:budget].decode("utf-8", "ignore")
    return stem + extension


def _extension_for(content_type: str) -> str | None:
    if content_type in ("application/octet-stream", ""):
        return ".bin"
    try:
        return mimetypes.guess_extension(content_type, strict=True)
    except Exception:
        return None


def _clean_header_value(value: str) -> str:
    """Replace line breaks with a space, so the value can't inject headers of its own.

    (Also replaces lone surrogates, which JSON allows but no header can hold.)
    """
    return _SURROGATES.sub("\ufffd", _HEADER_BREAKS.sub(" ", value))


def _address_header_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, EmailAddress)):
        return str(value)
    return ", ".join(str(address) for address in value) or None


def _decoded_payload(part: Message) -> bytes:
    """A leaf part's payload with its transfer encoding undone (b"" for a multipart part)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


# --- Parts with their content in a file ---


@contextmanager
def _payload_text_in_place(message: Message, whole_tree: bool = False) -> Iterator[None]:
    """Give each part with its content in a file (message, or every part in it) its payload
    text for a while: for the stdlib code (generators, decoders) that reads ``_payload``."""
    parts = spooled_parts(message) if whole_tree else [message]
    filled = []
    try:
        for part in parts:
            content = getattr(part, "_spooled_content", None)
            if content is not None and not part._payload:  # type: ignore[attr-defined]
                part._payload = content.encoded_text()  # type: ignore[attr-defined]
                filled.append(part)
        yield
    finally:
        for part in filled:
            part._payload = ""  # type: ignore[attr-defined]


def _decode_base64_to_spool(content: SpilledString | SpoolView) -> SpoolView:
    """b64decode(content), into a spooled file, a chunk at a time (same errors as b64decode)."""
    is_text = isinstance(content, SpilledString)
    spools = content.spools if isinstance(content, SpilledString) else None
    decoder = Base64Decoder()
    file = new_spool(spools)
    for chunk in content.utf8_chunks() if isinstance(content, SpilledString) else content.chunks():
        if is_text and not chunk.isascii():
            raise ValueError("string argument should contain only ASCII characters")
        file.write(decoder.decode(chunk))
    file.write(decoder.finish())
    file.flush()
    return SpoolView(file)
