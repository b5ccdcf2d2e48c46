"""Anymail's additions to Django's EmailMessage: extra attributes, send status, inline images."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from datetime import date, datetime
from email.mime.image import MIMEImage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

import django
from django.core.mail import EmailMessage, EmailMultiAlternatives

if TYPE_CHECKING:
    from email.mime.base import MIMEBase

    from django.core.mail.backends.base import BaseEmailBackend
    from django.utils.functional import Promise

    # For type checkers, the mixin is an EmailMessage (it is only ever mixed into one)
    _MixinBase = EmailMessage
else:
    _MixinBase = object

__all__ = [
    "ANYMAIL_STATUSES",
    "AnymailMessage",
    "AnymailMessageMixin",
    "AnymailRecipientStatus",
    "AnymailStatus",
    "attach_inline_image",
    "attach_inline_image_file",
]

#: The attributes Anymail reads from any EmailMessage (in addition to Django's own).
ANYMAIL_MESSAGE_ATTRS = (
    "envelope_sender",
    "metadata",
    "merge_metadata",
    "send_at",
    "tags",
    "track_clicks",
    "track_opens",
    "template_id",
    "merge_data",
    "merge_global_data",
    "esp_extra",
)

ANYMAIL_STATUSES = ("sent", "queued", "invalid", "rejected", "failed", "unknown")


class AnymailRecipientStatus:
    """The ESP's id and normalized send status for one recipient.

    ``status`` is one of ANYMAIL_STATUSES; ``message_id`` is the ESP's id (None if it gave none).
    """

    message_id: str | None
    status: str

    def __init__(self, message_id: str | None, status: str) -> None:
        if status not in ANYMAIL_STATUSES:
            raise ValueError(f"Invalid Anymail status {status!r}; use one of {ANYMAIL_STATUSES}")
        self.message_id = message_id
        self.status = status

    def __repr__(self) -> str:
        return f"AnymailRecipientStatus({self.message_id!r}, {self.status!r})"


class AnymailStatus:
    """The normalized ESP response to sending one message (``message.anymail_status``)."""

    def __init__(self) -> None:
        # a str, or a set of them when ids differ by recipient (None: the send failed)
        self.message_id: str | set[str | None] | None = None
        self.status: set[str] | None = None
        self.recipients: dict[str, AnymailRecipientStatus] = {}
        self.esp_response: Any = None

    def set_recipient_status(self, recipients: dict[str, AnymailRecipientStatus]) -> None:
        """Record per-recipient results and derive the message-level id and status set."""
        self.recipients.update(recipients)
        if not self.recipients:
            return
        message_ids = {status.message_id for status in self.recipients.values()}
        self.message_id = message_ids.pop() if len(message_ids) == 1 else message_ids
        self.status = {status.status for status in self.recipients.values()}

    def __repr__(self) -> str:
        return (
            f"AnymailStatus(message_id={self.message_id!r}, status={self.status!r}, "
            f"recipients={self.recipients!r})"
        )


class AnymailMessageMixin(_MixinBase):
    """Adds Anymail's attributes (as constructor kwargs) and helpers to an EmailMessage class.

    Attributes not given stay unset, so settings' SEND_DEFAULTS still apply to them; setting one
    to None suppresses the default.
    """

    # (declared for type checkers; an instance has only those given or set)
    envelope_sender: str | None
    metadata: dict[str, Any] | None
    merge_metadata: dict[str, dict[str, Any]] | None
    send_at: datetime | date | int | float | None
    tags: list[str] | None
    track_clicks: bool | None
    track_opens: bool | None
    template_id: str | int | None
    merge_data: dict[str, dict[str, Any]] | None
    merge_global_data: dict[str, Any] | None
    esp_extra: dict[str, Any] | None
    anymail_status: AnymailStatus

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        anymail_kwargs = {
            name: kwargs.pop(name) for name in ANYMAIL_MESSAGE_ATTRS if name in kwargs
        }
        super().__init__(*args, **kwargs)
        for name, value in anymail_kwargs.items():
            setattr(self, name, value)
        self.anymail_status = AnymailStatus()

    def attach_inline_image_file(
        self,
        path: str,
        subtype: str | None = None,
        idstring: str = "img",
        domain: str | None = None,
    ) -> str:
        """Attach an inline image from a file, returning its Content-ID for ``cid:`` urls."""
        return attach_inline_image_file(self, path, subtype, idstring, domain)

    def attach_inline_image(
        self,
        content: bytes,
        filename: str | None = None,
        subtype: str | None = None,
        idstring: str = "img",
        domain: str | None = None,
    ) -> str:
        """Attach an inline image from bytes, returning its Content-ID for ``cid:`` urls."""
        return attach_inline_image(self, content, filename, subtype, idstring, domain)


class AnymailMessage(AnymailMessageMixin, EmailMultiAlternatives):
    """An EmailMultiAlternatives that takes Anymail's attributes as constructor kwargs."""

    if TYPE_CHECKING:
        # The signature type checkers see: Django's (arguments after ``to`` keyword-only, as
        # Django 6 wants them) plus Anymail's. At runtime, AnymailMessageMixin.__init__ runs.
        def __init__(
            self,
            subject: str | Promise = "",
            body: str | Promise | None = "",
            from_email: str | None = None,
            to: Sequence[str] | None = None,
            *,
            bcc: Sequence[str] | None = None,
            connection: BaseEmailBackend | None = None,
            attachments: Sequence[MIMEBase | tuple[Any, ...]] | None = None,
            headers: dict[str, str] | None = None,
            alternatives: Sequence[tuple[Any, str]] | None = None,
            cc: Sequence[str] | None = None,
            reply_to: Sequence[str] | None = None,
            envelope_sender: str | None = ...,
            metadata: dict[str, Any] | None = ...,
            merge_metadata: dict[str, dict[str, Any]] | None = ...,
            send_at: datetime | date | int | float | None = ...,
            tags: list[str] | None = ...,
            track_clicks: bool | None = ...,
            track_opens: bool | None = ...,
            template_id: str | int | None = ...,
            merge_data: dict[str, dict[str, Any]] | None = ...,
            merge_global_data: dict[str, Any] | None = ...,
            esp_extra: dict[str, Any] | None = ...,
        ) -> None: ...


def attach_inline_image_file(
    message: EmailMessage,
    path: str,
    subtype: str | None = None,
    idstring: str = "img",
    domain: str | None = None,
) -> str:
    """Attach an inline image read from ``path`` to any EmailMessage; return its Content-ID."""
    filename = os.path.basename(path)
    with open(path, "rb") as image_file:
        content = image_file.read()
    return attach_inline_image(message, content, filename, subtype, idstring, domain)


def attach_inline_image(
    message: EmailMessage,
    content: bytes,
    filename: str | None = None,
    subtype: str | None = None,
    idstring: str = "img",
    domain: str | None = None,
) -> str:
    """Attach inline image data to any EmailMessage; return its Content-ID (without <>).

    The Content-ID domain defaults to "inline" rather than the local hostname: some ESPs confuse
    Content-ID with filename, and Gmail blocks images whose "filename" ends in ".com".
    """
    content_id = make_msgid(idstring, domain or "inline")  # "<...@inline>"
    subtype = subtype or _image_subtype(content, filename)
    if django.VERSION >= (6, 0):
        # Django 6 deprecates MIMEBase attachments in favor of the modern MIMEPart
        from email.message import MIMEPart

        part = MIMEPart()
        part.set_content(
            content,
            maintype="image",
            subtype=subtype,
            disposition="inline",
            filename=filename,
            cid=content_id,
        )
        message.attach(part)
    else:
        image = MIMEImage(content, subtype)
        image.add_header("Content-Disposition", "inline", filename=filename)
        image.add_header("Content-ID", content_id)
        message.attach(image)
    return content_id[1:-1]


# Magic numbers of the image formats email clients display inline
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


def _image_subtype(content: bytes, filename: str | None) -> str:
    for signature, subtype in _IMAGE_SIGNATURES:
        if content.startswith(signature):
            return subtype
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    if b"<svg" in content[:1024]:
        return "svg+xml"
    guessed_type = mimetypes.guess_type(filename or "")[0]
    if guessed_type and guessed_type.startswith("image/"):
        return guessed_type.split("/", 1)[1]
    raise ValueError(
        f"Could not determine the image type of {filename or 'the inline image'}; "
        "pass subtype= (e.g., subtype='png')"
    )
