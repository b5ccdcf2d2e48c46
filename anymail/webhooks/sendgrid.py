"""SendGrid webhooks: Event Webhook tracking (``anymail/sendgrid/tracking/``) and Inbound Parse
(``anymail/sendgrid/inbound/``).

Both are authenticated by the WEBHOOK_SECRET basic auth in the url you give SendGrid. Payload
shapes follow SendGrid's "Event Webhook Reference" and "Inbound Email Parse Webhook" docs.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, QueryDict

from ..backends.sendgrid import ANYMAIL_ID_ARG  # the custom arg carrying our message_id
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailEvent,
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
)
from ..signals import inbound as inbound_signal
from ..signals import tracking as tracking_signal
from ..streaming import SpoolView
from ..timestamps import timestamp_to_datetime
from .base import AnymailBaseWebhookView, data_event_id, parse_json_body
from .fields import optional_str
from .limits import (
    SpooledBodyMixin,
    SpooledFieldValue,
    request_spools,
    set_lazy_values,
    spooled_body,
    spooled_field,
    spooled_field_names,
    uploaded_content,
)

INBOUND_URL = "anymail/sendgrid/inbound/"
TRACKING_URL = "anymail/sendgrid/tracking/"
FORM_CONTENT_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


# --- Tracking: the Event Webhook ---


class SendGridTrackingWebhookView(AnymailBaseWebhookView):
    """SendGrid Event Webhook: a JSON array of events (SendGrid batches them)."""

    esp_name = "SendGrid"
    signal = tracking_signal

    # Event Webhook "event" values
    event_types = {
        # Delivery events
        "processed": EventType.QUEUED,
        "dropped": EventType.REJECTED,
        "delivered": EventType.DELIVERED,
        "deferred": EventType.DEFERRED,
        "bounce": EventType.BOUNCED,
        # Engagement events
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "spamreport": EventType.COMPLAINED,
        "unsubscribe": EventType.UNSUBSCRIBED,
        "group_unsubscribe": EventType.UNSUBSCRIBED,
        "group_resubscribe": EventType.SUBSCRIBED,
    }

    # A dropped event's "reason" (SendGrid's "Drops" glossary and Event Webhook reference)
    dropped_reasons = {
        "bounced address": RejectReason.BOUNCED,  # on the bounces suppression list
        "unsubscribed address": RejectReason.UNSUBSCRIBED,
        "unsubscribed group": RejectReason.UNSUBSCRIBED,
        "invalid": RejectReason.INVALID,  # on the invalid emails list
        "spam reporting address": RejectReason.SPAM,  # on the spam reports list
        "spam content": RejectReason.SPAM,  # "(if spam checker app enabled)"
        "invalid smtpapi header": RejectReason.OTHER,
    }

    # A bounce event's "type": "bounce" (the receiving server refused the address) or
    # "blocked" (it refused the message, e.g. for the sending IP's reputation)
    bounce_types = {
        "bounce": RejectReason.BOUNCED,
        "blocked": RejectReason.BLOCKED,
        "expired": RejectReason.TIMED_OUT,
    }

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        if request.content_type in FORM_CONTENT_TYPES:
            # Inbound Parse posts forms; the Event Webhook always posts JSON
            raise ValueError(
                "This looks like a SendGrid Inbound Parse payload, posted to Anymail's SendGrid "
                f"tracking webhook. Set your SendGrid Inbound Parse destination url to "
                f"{INBOUND_URL} (not {TRACKING_URL})."
            )
        esp_events = parse_json_body(request, list)
        # One event that can't be read (say, a category that isn't a string) becomes an
        # "unknown" event, rather than costing the rest of the batch
        return self.normalize_events(self.esp_to_anymail_event, esp_events)

    def esp_to_anymail_event(self, esp_event: Any) -> AnymailTrackingEvent:
        if not isinstance(esp_event, dict):
            raise ValueError(
                f"SendGrid event should be a JSON object, not {type(esp_event).__name__}"
            )
        esp_type = optional_str(esp_event, "event")
        if esp_type is None:
            raise ValueError("SendGrid event has no 'event' type")
        event_type = self.event_types.get(esp_type, EventType.UNKNOWN)
        return AnymailTrackingEvent.create(
            event_type=event_type,
            timestamp=event_timestamp(esp_event),
            event_id=optional_str(esp_event, "sg_event_id"),
            esp_event=esp_event,
            message_id=message_id(esp_event),
            recipient=optional_str(esp_event, "email"),
            metadata=event_metadata(esp_event),
            tags=event_tags(esp_event),
            reject_reason=self.reject_reason(esp_type, esp_event),
            description=optional_str(esp_event, "reason"),
            mta_response=mta_response(esp_type, esp_event),
            user_agent=optional_str(esp_event, "useragent"),
            click_url=optional_str(esp_event, "url"),
        )

    def reject_reason(self, esp_type: str, esp_event: dict[str, Any]) -> str | None:
        if esp_type == "dropped":
            reason = (optional_str(esp_event, "reason") or "").lower()
            # (ignoring any note, e.g. "Spam Content (if spam checker app enabled)")
            reason = reason.split("(", 1)[0].strip()
            return self.dropped_reasons.get(reason, RejectReason.OTHER)
        if esp_type == "bounce":
            bounce_type = (optional_str(esp_event, "type") or "bounce").lower()
            return self.bounce_types.get(bounce_type, RejectReason.OTHER)
        return None


#: Event Webhook fields SendGrid itself sets. Everything else at the top level of an event is
#: a custom arg (SendGrid "unique arguments"): Anymail's metadata.
SENDGRID_EVENT_FIELDS = frozenset(
    {
        "asm_group_id",
        "attempt",
        "bounce_classification",
        "category",
        "cert_err",
        "email",
        "event",
        "ip",
        "marketing_campaign_id",
        "marketing_campaign_name",
        "marketing_campaign_split_id",
        "marketing_campaign_version",
        "mc_stats",
        "newsletter",
        "phase_id",
        "pool",
        "reason",
        "response",
        "send_at",
        "sg_content_type",
        "sg_event_id",
        "sg_machine_open",
        "sg_message_id",
        "sg_template_id",
        "sg_template_name",
        "sg_user_id",
        "singlesend_id",
        "singlesend_name",
        "smtp-id",
        "status",
        "template_hash",
        "template_id",
        "template_version_id",
        "timestamp",
        "tls",
        "type",
        "url",
        "url_offset",
        "useragent",
        ANYMAIL_ID_ARG,  # Anymail's own tracking id: the event's message_id, not metadata
    }
)


def event_timestamp(esp_event: dict[str, Any]) -> datetime | None:
    # "timestamp": unix seconds (UTC)
    timestamp = esp_event.get("timestamp")
    return timestamp_to_datetime(timestamp) if timestamp is not None else None


def mta_response(esp_type: str, esp_event: dict[str, Any]) -> str | None:
    """The receiving server's reply: "response" (delivered, deferred), or a bounce's "reason".

    A bounce event has no "response": its "reason" is the bouncing server's SMTP reply (e.g.
    "550 5.1.1 The email account that you tried to reach does not exist").
    """
    response = optional_str(esp_event, "response")
    if response is None and esp_type == "bounce":
        response = optional_str(esp_event, "reason")
    return response


def message_id(esp_event: dict[str, Any]) -> str | None:
    """The anymail_id custom arg; for messages sent before Anymail 3.0, the smtp-id."""
    return optional_str(esp_event, ANYMAIL_ID_ARG) or optional_str(esp_event, "smtp-id")


def event_metadata(esp_event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in esp_event.items() if key not in SENDGRID_EVENT_FIELDS}


def event_tags(esp_event: dict[str, Any]) -> list[str]:
    # "category": a single string, or an array for messages with several categories
    category = esp_event.get("category")
    if category is None or category == "":
        return []
    categories = category if isinstance(category, list) else [category]
    for item in categories:  # (a loop, not all(): read for every event)
        if not isinstance(item, str):
            raise ValueError("SendGrid 'category' should be a string or list of strings")
    return categories


# --- Inbound: Inbound Parse ---


class SendGridInboundWebhookView(SpooledBodyMixin, AnymailBaseWebhookView):
    """SendGrid Inbound Parse: a multipart form, either parsed fields or the raw MIME message.

    The form is read into temporary files (SpooledBodyMixin): a raw message is parsed from its
    own, and its large parts are decoded from there only when a receiver asks for them.
    """

    esp_name = "SendGrid"
    signal = inbound_signal
    original_encoding: str | None = None  # request.encoding, before post() changed it

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.content_type == "multipart/form-data" and not (
            hasattr(request, "_post") or getattr(request, "_read_started", False)
        ):
            # So the base view reads the form's fields as their bytes (each field is in its
            # own charset): see decoded_form_fields
            self.original_encoding = request.encoding
            request.encoding = LOSSLESS_ENCODING
        return super().post(request, *args, **kwargs)

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        if request.content_type not in FORM_CONTENT_TYPES:
            if request.content_type == "application/json" or first_byte(request) == b"[":
                raise ValueError(
                    "This looks like a SendGrid Event Webhook (tracking) payload, posted to "
                    "Anymail's SendGrid inbound webhook. Set your SendGrid Event Webhook HTTP "
                    f"POST url to {TRACKING_URL} (not {INBOUND_URL})."
                )
            raise ValueError(
                f"SendGrid Inbound Parse posts multipart/form-data, not {request.content_type!r}"
            )
        fields = decoded_form_fields(request, self.original_encoding)
        if "email" in fields.raw:
            # "POST the raw, full MIME message" is checked: parse it as the bytes it was
            raw_email = fields.raw["email"]
            message = (
                AnymailInboundMessage.parse_raw_mime_spool(raw_email, request_spools(request))
                if isinstance(raw_email, SpoolView)
                else AnymailInboundMessage.parse_raw_mime_bytes(raw_email)
            )
        elif any(name in fields.raw for name in ("headers", "text", "html", "from", "to")):
            message = self.construct_message(request, fields)
        else:
            raise ValueError(
                "SendGrid inbound payload has neither a raw 'email' nor parsed "
                "'headers', 'text', 'html', 'from' or 'to' fields"
            )
        envelope = parse_envelope(fields.get("envelope"))
        message.envelope_sender = envelope.get("from")
        message.envelope_recipient = envelope.get("to")
        message.spam_score = spam_score(fields.get("spam_score"))
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                timestamp=None,  # Inbound Parse doesn't say when SendGrid received it
                event_id=self.form_event_id(request, fields),
                esp_event=request,
                message=message,
            )
        ]

    def form_event_id(self, request: HttpRequest, fields: DecodedFields) -> str | None:
        """An event_id for a message SendGrid gives none: a digest of the post's fields and files.

        The same each time SendGrid posts (or retries) the same message, so receivers can
        recognize a retry. (A digest of the message rebuilt from parsed fields wouldn't do: its
        MIME boundaries are new each time.)
        """
        digest = hashlib.sha256()
        for name in sorted(fields.raw):
            value = fields.raw[name]
            if isinstance(value, SpoolView):  # (the same digest, a chunk at a time)
                digest_value(digest, name.encode("utf-8"))
                digest.update(value.size.to_bytes(8, "big"))
                for chunk in value.chunks():
                    digest.update(chunk)
            else:
                digest_value(digest, name.encode("utf-8"), value)
        for field_name, uploaded in sorted(uploaded_files(request)):
            digest_value(
                digest,
                field_name.encode("utf-8"),
                str(uploaded.name).encode("utf-8", "replace"),
                str(uploaded.content_type).encode("utf-8", "replace"),
            )
            digest.update((uploaded.size or 0).to_bytes(8, "big"))
            for chunk in uploaded.chunks():  # (a large attachment may be in a temp file)
                digest.update(chunk)
        return data_event_id(digest.digest(), self.esp_name)

    def construct_message(
        self, request: HttpRequest, fields: DecodedFields
    ) -> AnymailInboundMessage:
        """An AnymailInboundMessage from the parsed-mode fields and attachment files."""
        raw_headers = fields.get("headers")
        header_names = header_names_in(raw_headers)
        text, html = fields.get("text"), fields.get("html")
        message = AnymailInboundMessage.construct(
            raw_headers=raw_headers,
            # The raw headers are what was sent; the separate (decoded) fields fill in only
            # what's missing from them
            from_email=None if "from" in header_names else fields.get("from"),
            to=None if "to" in header_names else fields.get("to"),
            cc=None if "cc" in header_names else fields.get("cc"),
            subject=None if "subject" in header_names else fields.get("subject"),
            text=text,
            text_charset=fields.charset("text"),
            html=html,
            html_charset=fields.charset("html"),
            attachments=self.attachments(request, fields),
        )
        return message

    def attachments(
        self, request: HttpRequest, fields: DecodedFields
    ) -> list[AnymailInboundMessage]:
        # Files are "attachment1".."attachmentN"; "attachment-info" (JSON, keyed by those
        # names) has each one's filename, type and (for inline images) content-id
        info = parse_json_object(fields.get("attachment-info"), "attachment-info")
        files = sorted(uploaded_files(request), key=lambda item: attachment_order(item[0]))
        attachments = []
        for field_name, uploaded in files:
            details = info.get(field_name) or {}
            if not isinstance(details, dict):
                raise ValueError(f"SendGrid attachment-info[{field_name!r}] isn't an object")
            content_id = details.get("content-id")
            # (attachment-info's filename is exact; see decoded_form_fields for uploaded.name)
            filename = details.get("filename") or uploaded.name
            attachments.append(
                AnymailInboundMessage.construct_attachment(
                    content_type=uploaded.content_type
                    or str(details.get("type") or "application/octet-stream"),
                    content=uploaded_content(uploaded),
                    charset=upload_charset(uploaded.charset),
                    filename=str(filename) if filename else None,
                    content_id=str(content_id) if content_id else None,
                )
            )
        return attachments


def digest_value(digest: Any, *parts: bytes) -> None:
    """Add parts to digest, each length-prefixed (so no two lists of parts digest alike)."""
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)


def upload_charset(charset: str | bytes | None) -> str | None:
    """An attachment's charset parameter, as text.

    SendGrid posts each attachment with its original Content-Type, e.g. ``text/plain;
    charset="iso-8859-1"``, and Django's multipart parser gives that charset as bytes.
    """
    if isinstance(charset, bytes):
        charset = charset.decode("ascii", errors="replace")
    return charset or None


def attachment_order(field_name: str) -> tuple[int, str]:
    match = re.fullmatch(r"attachment(\d+)", field_name)
    return (int(match.group(1)) if match else 1 << 30, field_name)


def header_names_in(raw_headers: str | None) -> set[str]:
    if not raw_headers:
        return set()
    names = re.findall(r"^([^\s:]+):", raw_headers, flags=re.MULTILINE)
    return {name.lower() for name in names}


def parse_json_object(value: str | None, field: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as err:
        raise ValueError(f"SendGrid inbound {field!r} isn't valid JSON") from err
    if not isinstance(parsed, dict):
        raise ValueError(f"SendGrid inbound {field!r} should be a JSON object")
    return parsed


def parse_envelope(value: str | None) -> dict[str, str | None]:
    """The SMTP envelope: JSON {"to": ["recipient"], "from": "sender"}."""
    envelope = parse_json_object(value, "envelope")
    sender = envelope.get("from")
    recipients = envelope.get("to")
    if isinstance(recipients, list):
        recipients = recipients[0] if recipients else None
    if sender is not None and not isinstance(sender, str):
        raise ValueError("SendGrid inbound envelope 'from' should be a string")
    if recipients is not None and not isinstance(recipients, str):
        raise ValueError("SendGrid inbound envelope 'to' should be a list of strings")
    return {"from": sender or None, "to": recipients or None}


def spam_score(value: str | None) -> float | None:
    # "spam_score": SpamAssassin's score, when "Check incoming emails for spam" is on
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError as err:
        raise ValueError(f"Invalid SendGrid spam_score {value!r}") from err


# --- Reading Inbound Parse's form fields in their own charsets ---


class DecodedFields:
    """Inbound Parse form fields: ``raw`` bytes, and ``get()`` text decoded per "charsets".

    SendGrid posts each field in the message's own charset, and says which in the "charsets"
    field (JSON, e.g. {"to": "UTF-8", "subject": "UTF-8", "text": "iso-8859-1"}).
    ``utf8_only`` is for fields something else already decoded (and re-encoded as UTF-8).
    A large field's raw bytes are still in a file (a SpoolView).
    """

    def __init__(self, raw: dict[str, bytes | SpoolView], utf8_only: bool = False) -> None:
        self.raw = raw
        self.utf8_only = utf8_only
        charsets = parse_json_object(self.decode(raw.get("charsets"), "utf-8"), "charsets")
        self.charsets = {key: value for key, value in charsets.items() if isinstance(value, str)}

    def charset(self, field: str) -> str:
        """The field's declared charset (what the text was in), if Python knows it."""
        charset = self.charsets.get(field) or "utf-8"
        return charset if is_text_codec(charset) else "utf-8"

    def get(self, field: str) -> str | None:
        return self.decode(self.raw.get(field), "utf-8" if self.utf8_only else self.charset(field))

    @staticmethod
    def decode(value: bytes | SpoolView | None, charset: str) -> str | None:
        if isinstance(value, SpoolView):
            value = value.view(0, value.size).read()
        return None if value is None else value.decode(charset, errors="replace")


def is_text_codec(charset: str) -> bool:
    """Whether Python can decode text in charset (not, e.g., an unknown or "base64" codec)."""
    try:
        "".encode(charset)  # (LookupError for unknown and for bytes-to-bytes codecs)
    except (LookupError, TypeError, ValueError):
        return False
    return True


# Bytes <-> str without loss: each byte is the code point of the same value
LOSSLESS_ENCODING = "iso-8859-1"


def decoded_form_fields(request: HttpRequest, original_encoding: str | None) -> DecodedFields:
    """Every form field as the bytes SendGrid sent, read without losing non-UTF-8 text.

    Django decodes multipart fields with request.encoding (UTF-8 unless told otherwise),
    which would turn an iso-8859-1 "text" field into replacement characters. So the form is
    parsed with a lossless 8-bit encoding instead (the view sets it before the body is read),
    and each field decoded here with the charset SendGrid declares for it. Afterward
    request.POST is replaced by the properly decoded fields (and request.encoding is
    original_encoding again), so receivers looking at esp_event.POST see the real text.
    """
    if request.content_type != "multipart/form-data" or request.encoding != LOSSLESS_ENCODING:
        # urlencoded forms are UTF-8 by definition (Django 6.1 rejects any other encoding);
        # and if something already parsed the form (a middleware), that's what there is
        return DecodedFields(
            {key: value.encode("utf-8") for key, value in form_fields(request)},
            utf8_only=True,
        )
    # (FILES keep their bytes whatever the encoding; large fields are still in files)
    spooled = {name: spooled_field(request, name) for name in spooled_field_names(request)}
    raw: dict[str, bytes | SpoolView] = {
        key: value.encode(LOSSLESS_ENCODING)
        for key, value in form_fields(request)
        if key not in spooled
    }
    raw.update({name: data for name, data in spooled.items() if data is not None})
    fields = DecodedFields(raw)
    decoded = QueryDict(mutable=True)
    for key, value in raw.items():
        if isinstance(value, SpoolView):  # (decoded only if something reads it)
            set_lazy_values(decoded, key, [SpooledFieldValue(value, fields.charset(key))])
        else:
            decoded[key] = fields.get(key) or ""  # (every key in raw has a value)
    # (this discards the 8-bit POST...; None, Django's default, means DEFAULT_CHARSET, though
    # django-stubs' setter takes only a str)
    request.encoding = original_encoding  # type: ignore[assignment]
    # (...replaced by the decoded fields; FILES are unaffected. django-stubs type POST as
    # the immutable QueryDict that Django itself makes)
    request.POST = decoded  # type: ignore[assignment]
    for _, uploaded in uploaded_files(request):
        if uploaded.name:
            uploaded.name = utf8_file_name(uploaded.name)
    return fields


def form_fields(request: HttpRequest) -> list[tuple[str, str]]:
    """request.POST.items(): each field's (last) value. (Typed: a value is always a str.)

    Leaves out spooled fields (see spooled_field), rather than reading them into memory.
    """
    spooled = spooled_field_names(request)
    return [
        (key, value)
        for key in request.POST
        if key not in spooled and isinstance(value := request.POST[key], str)
    ]


def first_byte(request: HttpRequest) -> bytes:
    """The body's first non-whitespace byte (b"" if none), read from its spooled file."""
    body = spooled_body(request)
    while chunk := body.read(64 * 1024):
        if chunk.strip():
            return chunk.lstrip()[:1]
    return b""


def uploaded_files(request: HttpRequest) -> list[tuple[str, UploadedFile[bytes]]]:
    """request.FILES.items(): each file field's (last) upload."""
    return [
        (key, upload) for key, upload in request.FILES.items() if isinstance(upload, UploadedFile)
    ]


def utf8_file_name(name: str) -> str:
    """An upload's filename, re-decoded: Django read its UTF-8 with the 8-bit encoding.

    Best effort: Django also drops "non-printable" characters from filenames, which removes
    some UTF-8 bytes (0x80-0x9f) before this can put them back. (Inbound Parse's
    attachment-info has every filename exactly, so attachments are named from that.)
    """
    try:
        return name.encode(LOSSLESS_ENCODING).decode("utf-8")
    except UnicodeError:
        return name
