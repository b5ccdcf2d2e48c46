"""One normalized view of a Django attachment, whatever form the user gave it in.

Django allows (filename, content, mimetype) tuples, EmailAttachment namedtuples, MIMEBase
objects and (Django 6+) MIMEPart objects; ESP payloads only ever see ``Attachment``.
"""

from __future__ import annotations

import mimetypes
from base64 import b64encode
from email.message import Message
from typing import Any

from django.core.mail import EmailMessage

from .lazy import force_non_lazy

DEFAULT_ATTACHMENT_MIMETYPE = "application/octet-stream"


class Attachment:
    """A message attachment: ``name``, ``content`` (bytes), ``mimetype``, ``inline``, ``cid``.

    ``content_id`` is the Content-ID header's value (``"<cid>"``), or None.
    """

    def __init__(self, attachment: Any, encoding: str | None = None) -> None:
        self.encoding = encoding or "utf-8"
        self.inline = False
        self.cid = ""  # bare Content-ID, without angle brackets
        self.content_disposition: str | None = None
        if isinstance(attachment, Message):
            self._init_from_mime(attachment)
        else:
            self._init_from_tuple(*(force_non_lazy(item) for item in attachment))

    @property
    def content_id(self) -> str | None:
        return f"<{self.cid}>" if self.cid else None

    def _init_from_tuple(self, filename: str | None, content: Any, mimetype: str | None) -> None:
        self.name = filename or None
        self.mimetype = (
            mimetype
            or (mimetypes.guess_type(filename)[0] if filename else None)
            or DEFAULT_ATTACHMENT_MIMETYPE
        )
        self.content = self._content_bytes(content)

    def _init_from_mime(self, part: Message) -> None:
        self.name = part.get_filename() or None
        self.mimetype = part.get_content_type()
        disposition = part.get("Content-Disposition")
        self.content_disposition = (
            str(disposition).split(";", 1)[0].strip().lower() if disposition else None
        )
        content_id = part.get("Content-ID")
        if content_id:
            self.cid = str(content_id).strip().removeprefix("<").removesuffix(">")
        # A Content-ID without a Content-Disposition is inline, as most email clients treat it
        self.inline = self.content_disposition == "inline" or (
            self.content_disposition is None and bool(self.cid)
        )
        if part.is_multipart():
            # e.g., message/rfc822: a forwarded message is the attachment's content
            payload = part.get_payload()
            parts = [sub for sub in payload if isinstance(sub, Message)]
            if part.get_content_type() == "message/rfc822" and parts:
                self.content = parts[0].as_bytes()
            else:
                self.content = b"".join(sub.as_bytes() for sub in parts)
        else:
            decoded = part.get_payload(decode=True)
            self.content = decoded if isinstance(decoded, bytes) else b""

    def _content_bytes(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.encoding)
        if isinstance(content, EmailMessage):  # Django message attached as message/rfc822
            return content.message().as_bytes()
        if isinstance(content, Message):
            return content.as_bytes()
        raise TypeError(f"Unsupported attachment content type {type(content).__name__}")

    @property
    def b64content(self) -> str:
        """Content as base64 text, which most JSON APIs want."""
        return b64encode(self.content).decode("ascii")

    def __repr__(self) -> str:
        details = [self.mimetype, f"len={len(self.content)}"]
        if self.inline:
            details.append(f"inline cid={self.cid!r}")
        return f"Attachment({self.name!r}, {', '.join(details)})"
