"""The normalized inbound message that every ESP's inbound webhook hands to receivers.

Inbound mail is attacker-controlled input, relayed by ESPs that each describe it differently
(some send the raw MIME, others their own pre-parsed fields). ``AnymailInboundMessage`` gives
receivers one portable view of either, and its convenience properties never raise on malformed
mail: a garbled header or body reads as None (or empty) rather than crashing the webhook.
"""

from __future__ import annotations

import os
import re
import secrets
from base64 import b64decode, encodebytes
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy, Policy, compat32
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from typing import IO, Any, NamedTuple

from django.core.files.uploadedfile import SimpleUploadedFile

from .addresses import EmailAddress, parse_address_list
from .exceptions import AnymailInvalidAddress

__all__ = ["AnymailInboundMessage"]


class _LenientPolicy(EmailPolicy):
    """``email.policy.default``, except an unparseable header reads back as plain text.

    The modern policy decodes RFC 2047 words, RFC 2231 params and raw UTF-8 headers for us, but
    its header parsers can raise on pathological input. Inbound mail must stay readable, so a
    header that can't be parsed is returned as its unfolded (and Unicode-sanitized) raw text.
    """

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        try:
            return super().header_fetch_parse(name, value)
        except Exception:
            return _sanitize("".join(re.split(r"\r\n|\r|\n", str(value))))

    # Likewise, re-serializing (as_string(), as_bytes()) a header the policy can't refold
    # emits it as received rather than raising.

    def fold(self, name: str, value: Any) -> str:
        try:
            return super().fold(name, value)
        except Exception:
            return _sanitize(self._unrefolded(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        try:
            return super().fold_binary(name, value)
        except Exception:
            return _encode_lossless(self._unrefolded(name, value))

    def _unrefolded(self, name: str, value: Any) -> str:
        lines = str(value).splitlines() or [""]
        return f"{name}: {self.linesep.join(lines)}{self.linesep}"


# Line breaks (everything str.splitlines() honors) plus any folding whitespace after them
_HEADER_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")
_SURROGATES = re.compile("[\ud800-\udfff]")
# RFC 5322 field name: printable ASCII except colon
_HEADER_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
# Headers that describe the body; construct() builds its own body, so it supplies these
_BODY_HEADERS = ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition")
_BODY_TYPES = ("text/plain", "text/html")
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

    # --- Documented alias ---

    def getall(self, name: str, failobj: Any = None) -> Any:
        """Alias for ``get_all()``: Anymail's docs show ``message.getall('DKIM-Signature')``."""
        return self.get_all(name, failobj)

    # --- Normalized header properties ---

    @property
    def from_email(self) -> EmailAddress | None:
        """The (first valid) From address, or None if From is missing or invalid."""
        addresses = self._address_header("From", first_header_only=True)
        return addresses[0] if addresses else None

    @property
    def to(self) -> list[EmailAddress]:
        """Every valid address in all To headers (invalid ones are skipped)."""
        return self._address_header("To")

    @property
    def cc(self) -> list[EmailAddress]:
        """Every valid address in all Cc headers (invalid ones are skipped)."""
        return self._address_header("Cc")

    @property
    def subject(self) -> str | None:
        """The decoded Subject, or None if there isn't one."""
        try:
            value = self.get("Subject")
            if value is None:
                return None
            if hasattr(value, "name"):  # already decoded by the policy's header registry
                return str(value)
            return _decode_rfc2047(_sanitize(str(value)))
        except Exception:
            return None

    @property
    def date(self) -> datetime | None:
        """The Date header as a datetime, or None if it is missing or invalid.

        Aware, except in the rare case where the sender declared an unknown zone ("-0000").
        """
        try:
            value = self.get("Date")
            if value is None:
                return None
            if hasattr(value, "datetime"):
                return value.datetime
            return parsedate_to_datetime(str(value))
        except Exception:
            return None

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
        return self._structure().attachments

    @property
    def inline_attachments(self) -> dict[str, AnymailInboundMessage]:
        """Inline attachment parts, keyed by bare Content-ID (without angle brackets)."""
        return self._structure().inline_attachments

    def _structure(self) -> _Structure:
        text = html = None
        attachments: list[Any] = []
        inline: dict[str, Any] = {}
        try:
            for part in _leaf_parts(self):
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
        except Exception:  # (defensive: the part helpers shouldn't raise)
            pass
        return _Structure(text, html, attachments, inline)

    def _address_header(self, name: str, first_header_only: bool = False) -> list[EmailAddress]:
        try:
            values = self.get_all(name) or []
        except Exception:
            return []
        if first_header_only:
            values = values[:1]
        addresses: list[EmailAddress] = []
        for value in values:
            try:
                if hasattr(value, "addresses"):
                    pairs = [(addr.display_name, addr.addr_spec) for addr in value.addresses]
                else:  # the policy couldn't parse it (or a non-default policy is in use)
                    pairs = [
                        (_decode_rfc2047(display_name), addr_spec)
                        for display_name, addr_spec in getaddresses([_sanitize(str(value))])
                    ]
            except Exception:
                continue
            for display_name, addr_spec in pairs:
                address = _valid_address(display_name, addr_spec)
                if address is not None:
                    addresses.append(address)
        return addresses

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

    def get_filename(self, failobj: Any = None) -> Any:
        """The sender's filename (RFC 2231 and RFC 2047 decoded), or ``failobj``.

        Never use this directly as a path to write to: it is attacker-controlled.
        """
        try:
            for header_name, param in (
                ("Content-Disposition", "filename"),
                ("Content-Type", "name"),
            ):
                value = self.get(header_name)
                if value is None:
                    continue
                params = getattr(value, "params", None)
                if params is not None:  # parsed by the policy's header registry
                    found = params.get(param)
                else:
                    found = self.get_param(param, None, header_name)
                    if found is not None:
                        found = _sanitize(collapse_rfc2231_value(found))
                if found is not None:
                    return _decode_rfc2047(str(found)).strip()
        except Exception:
            pass
        return failobj

    def get_content_bytes(self) -> bytes:
        """The decoded content (base64 and quoted-printable undone).

        For a message/rfc822 part, this is the attached message itself.
        """
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

    def as_uploaded_file(self) -> SimpleUploadedFile:
        """This part as a Django UploadedFile, e.g. to assign to a FileField.

        Django strips any directory components from the name; a name with nothing left after
        that (like "..") becomes None rather than raising. Never trust the content, either.
        """
        name = self.get_filename()
        if name is not None and os.path.basename(name) in ("", ".", ".."):
            name = None
        uploaded = SimpleUploadedFile(
            name=name,
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
    def parse_raw_mime_file(cls, fp: IO[str] | IO[bytes]) -> AnymailInboundMessage:
        """Parse a raw RFC 5322 message from a text or binary file object."""
        data = fp.read()
        if isinstance(data, str):
            return cls.parse_raw_mime(data)
        return cls.parse_raw_mime_bytes(data)

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
        for name, value in (
            ("From", from_email),
            ("To", _address_header_value(to)),
            ("Cc", _address_header_value(cc)),
            ("Subject", subject),
        ):
            if value is not None:
                del msg[name]
                msg._add_header(name, str(value))

        body_parts = []
        if text is not None:
            body_parts.append(cls._text_part("plain", text, text_charset))
        if html is not None:
            body_parts.append(cls._text_part("html", html, html_charset))
        body = body_parts[0] if len(body_parts) == 1 else None
        if len(body_parts) > 1:
            body = cls._multipart("alternative", body_parts)
        attachments = list(attachments or [])
        if attachments:
            body = cls._multipart("mixed", ([body] if body is not None else []) + attachments)

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
        content: str | bytes,
        charset: str | None = None,
        filename: str | None = None,
        content_id: str | None = None,
        base64: bool = False,
    ) -> AnymailInboundMessage:
        """Build an attachment part for ``construct()`` from an ESP's attachment fields.

        ``content`` is str or bytes, or base64 text if ``base64`` is set. Giving a
        ``content_id`` (with or without <>) makes the part inline; otherwise it's an attachment.
        """
        part = cls()
        part["Content-Type"] = _clean_header_value(content_type or "") or "application/octet-stream"
        charset = _clean_header_value(charset) if charset else part.get_content_charset()
        if base64:
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
            part.set_payload([cls.parse_raw_mime_bytes(data)])
        else:
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
        return cls.construct_attachment(
            content_type=getattr(file, "content_type", None) or "application/octet-stream",
            content=file.read(),
            charset=charset,
            filename=getattr(file, "name", None),
            content_id=content_id,
        )

    # --- construct() helpers ---

    def _add_header(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"Invalid header name {name!r}")
        # set_raw (not __setitem__), so repeated headers like To are allowed, as in real mail
        self.set_raw(*self.policy.header_store_parse(name, _clean_header_value(str(value))))

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
    def _multipart(cls, subtype: str, parts: list[Message]) -> AnymailInboundMessage:
        container = cls()
        # "=_" can't occur in base64 content, and the random part avoids any other collision
        container.add_header(
            "Content-Type", f"multipart/{subtype}", boundary=f"=_{secrets.token_hex(16)}"
        )
        container.set_payload(list(parts))
        return container


# (message_factory: the parser builds every sub-part as an AnymailInboundMessage, too)
_POLICY: Policy = _LenientPolicy(message_factory=AnymailInboundMessage)


class _Structure(NamedTuple):
    text: Any
    html: Any
    attachments: list[Any]
    inline_attachments: dict[str, Any]


# --- Part classification (functions, so they also work on plain Message sub-parts) ---


def _leaf_parts(message: Message) -> Iterator[Message]:
    """Non-container parts in document order.

    Descends only into multipart/*, never into an attached message/rfc822 (that whole message
    is one attachment). Iterative, so hostile nesting depth can't overflow the stack.
    """
    stack: list[Any] = [message]
    while stack:
        part = stack.pop()
        if not isinstance(part, Message):
            continue
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            stack.extend(reversed(part.get_payload()))
        else:
            yield part


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
    """The undecoded payload; get_payload() itself can raise on odd charsets."""
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
        return _decode_bytes(
            part.get_payload(decode=True) or b"", part.get_content_charset(), "replace"
        )
    except Exception:
        try:
            return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
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


def _decode_rfc2047(text: str) -> str:
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def _valid_address(display_name: str, addr_spec: str) -> EmailAddress | None:
    """An EmailAddress, or None if addr_spec isn't a complete, valid address."""
    try:
        parsed = parse_address_list(_sanitize(addr_spec))
    except AnymailInvalidAddress:
        return None
    except Exception:  # (the strict parser isn't built for hostile input)
        return None
    if len(parsed) != 1:
        return None
    return EmailAddress(_sanitize(display_name or ""), parsed[0].addr_spec)


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
