"""Mailjet webhooks: Event API tracking (``anymail/mailjet/tracking/``) and Parse API inbound
(``anymail/mailjet/inbound/``).

Both are authenticated only by the WEBHOOK_SECRET basic auth in the url (Mailjet doesn't sign
its webhooks). Payload formats are from Mailjet's "Event API: real-time notifications" and
"Parse API: inbound emails" guides.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from email.message import Message
from typing import Any

from django.http import HttpRequest

from ..exceptions import AnymailConfigurationError
from ..inbound import AnymailInboundMessage
from ..signals import AnymailInboundEvent, AnymailTrackingEvent, EventType, RejectReason
from ..signals import inbound as inbound_signal
from ..signals import tracking as tracking_signal
from ..streaming import SpilledString, load_json
from ..timestamps import timestamp_to_datetime
from .base import AnymailBaseWebhookView, parse_json_body
from .fields import optional_str
from .limits import SpooledBodyMixin, request_spools, spooled_body, spooled_event_id

INBOUND_URL = "anymail/mailjet/inbound/"
TRACKING_URL = "anymail/mailjet/tracking/"
# Every Parse API payload has some of these (the docs' sample has them all)
INBOUND_CONTENT_KEYS = ("Headers", "Parts", "Text-part", "Html-part")


class MailjetTrackingWebhookView(AnymailBaseWebhookView):
    """Mailjet Event API events: a JSON array with "group events" on, else a single object."""

    esp_name = "Mailjet"
    signal = tracking_signal

    # Event API "event" values
    event_types = {
        "sent": EventType.DELIVERED,  # "the destination SMTP server has accepted the message"
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
        "bounce": EventType.BOUNCED,  # (or DEFERRED for a greylisting: see event_type)
        "blocked": EventType.REJECTED,  # Mailjet refused to send it
        "spam": EventType.COMPLAINED,
        "unsub": EventType.UNSUBSCRIBED,
    }

    # Event API "Possible values for errors" -> reject_reason (as 6.1 mapped them); any other
    # error is 'other'
    reject_reasons = {
        # error_related_to "recipient"
        "user unknown": RejectReason.BOUNCED,
        "mailbox inactive": RejectReason.BOUNCED,
        "quota exceeded": RejectReason.BOUNCED,
        "blacklisted": RejectReason.BLOCKED,  # (may also be an earlier unsubscribe)
        "spam reporter": RejectReason.SPAM,
        # "domain"
        "invalid domain": RejectReason.BOUNCED,
        "no mail host": RejectReason.BOUNCED,
        "relay/access denied": RejectReason.BOUNCED,
        "greylisted": RejectReason.OTHER,  # a temporary refusal: Mailjet will retry
        "typofix": RejectReason.INVALID,
        # "spam": receiving servers' spam filters
        "sender blocked": RejectReason.BLOCKED,
        "content blocked": RejectReason.BLOCKED,
        "policy issue": RejectReason.BLOCKED,
        # "mailjet": Mailjet's own blocking
        "preblocked": RejectReason.BLOCKED,
        "duplicate in campaign": RejectReason.OTHER,  # Mj-deduplicatecampaign
    }

    def parse_events(self, request: HttpRequest) -> list[AnymailTrackingEvent]:
        esp_events = parse_json_body(request, (list, dict))
        # Mailjet's "group events" option posts an array; without it, one bare event object
        if isinstance(esp_events, dict):
            esp_events = [esp_events]
        # One event we can't read must not cost the rest of the batch (Mailjet would post the
        # whole batch again and again): it reaches receivers as an "unknown" event
        return self.normalize_events(self.esp_to_anymail_event, esp_events)

    def esp_to_anymail_event(self, esp_event: Any) -> AnymailTrackingEvent:
        if not isinstance(esp_event, dict):
            raise ValueError(
                f"Mailjet tracking event must be a JSON object, not {type(esp_event).__name__}"
            )
        if looks_like_inbound(esp_event):
            raise AnymailConfigurationError(
                "This looks like a Mailjet Parse API (inbound) payload, posted to Anymail's "
                f"Mailjet tracking webhook. Set your Mailjet parseroute Url to {INBOUND_URL} "
                f"(not {TRACKING_URL})."
            )
        esp_type = optional_str(esp_event, "event")
        if esp_type is None:
            raise ValueError("Mailjet tracking event has no 'event' type")
        return AnymailTrackingEvent.create(
            event_type=self.event_type(esp_type, esp_event),
            timestamp=event_timestamp(esp_event),
            event_id=None,  # Mailjet events have no id of their own (MessageID repeats)
            esp_event=esp_event,
            message_id=message_id(esp_event),
            recipient=optional_str(esp_event, "email"),
            metadata=event_metadata(esp_event),
            tags=event_tags(esp_event),
            reject_reason=self.reject_reason(esp_event),
            description=None,  # (Mailjet's error is normalized in reject_reason)
            mta_response=optional_str(esp_event, "smtp_reply")
            or optional_str(esp_event, "comment"),
            user_agent=optional_str(esp_event, "agent"),
            click_url=optional_str(esp_event, "url"),
        )

    def event_type(self, esp_type: str, esp_event: dict[str, Any]) -> str:
        if (
            esp_type == "bounce"
            and (optional_str(esp_event, "error") or "").lower() == "greylisted"
            and not esp_event.get("hard_bounce")
        ):
            # "a temporary error due to possible unrecognised senders": Mailjet will retry
            return EventType.DEFERRED
        return self.event_types.get(esp_type, EventType.UNKNOWN)

    def reject_reason(self, esp_event: dict[str, Any]) -> str | None:
        """From Mailjet's "error" (in bounce and blocked events); None without one."""
        error = optional_str(esp_event, "error")
        if not error:
            return None
        return self.reject_reasons.get(error.lower(), RejectReason.OTHER)


def event_timestamp(esp_event: dict[str, Any]) -> datetime | None:
    # "time": unix timestamp of the event
    time = esp_event.get("time")
    return timestamp_to_datetime(time) if time is not None else None


def message_id(esp_event: dict[str, Any]) -> str | None:
    """The event's MessageID, as a str to match anymail_status.message_id."""
    # MessageID is a JSON number; older (and grouped) events may have only the deprecated
    # string mj_message_id
    value = esp_event.get("MessageID")
    if value is None or value == "":
        value = esp_event.get("mj_message_id")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"Mailjet MessageID {value!r} is not a message id")
    return str(value)


def event_metadata(esp_event: dict[str, Any]) -> dict[str, Any]:
    """Anymail metadata, sent as JSON in Mj-EventPayLoad and returned as "Payload"."""
    payload = optional_str(esp_event, "Payload")
    if payload is None:
        return {}
    try:
        metadata = json.loads(payload)
    except ValueError:
        return {}  # a non-JSON payload set through esp_extra isn't Anymail metadata
    return metadata if isinstance(metadata, dict) else {}


def event_tags(esp_event: dict[str, Any]) -> list[str]:
    # Anymail sends its (single) tag as Mj-campaign, which events report as "customcampaign"
    campaign = optional_str(esp_event, "customcampaign")
    return [campaign] if campaign else []


def looks_like_inbound(payload: Mapping[str, Any]) -> bool:
    """A Parse API payload: it has Parts (or Headers with a Recipient), and no "event"."""
    return "event" not in payload and (
        "Parts" in payload or ("Headers" in payload and "Recipient" in payload)
    )


class MailjetInboundWebhookView(SpooledBodyMixin, AnymailBaseWebhookView):
    """Mailjet Parse API: one JSON object per inbound message, already split into parts.

    Read from a temporary file (SpooledBodyMixin): a long (base64) AttachmentN stays in one (a
    SpilledString, in esp_event too), and is decoded from there.
    """

    esp_name = "Mailjet"
    signal = inbound_signal

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        esp_event = load_json(
            spooled_body(request),
            keep_spilled=lambda key: key is not None and is_attachment_ref(key),
            spools=request_spools(request),
        )
        if not isinstance(esp_event, (dict, list)):
            raise ValueError(f"Expected a JSON object, got {type(esp_event).__name__}")
        if isinstance(esp_event, list) or "event" in esp_event:
            raise AnymailConfigurationError(
                "This looks like a Mailjet Event API (tracking) payload, posted to Anymail's "
                f"Mailjet inbound webhook. Set your Mailjet event tracking url to {TRACKING_URL} "
                f"(not {INBOUND_URL})."
            )
        if not any(key in esp_event for key in INBOUND_CONTENT_KEYS):
            raise ValueError(
                "Mailjet inbound payload has none of the Parse API's "
                f"{', '.join(INBOUND_CONTENT_KEYS)} fields"
            )
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                # (Parse API's "Date" is the message's own Date, not when Mailjet received it)
                timestamp=None,
                event_id=spooled_event_id(esp_event, self.esp_name),  # (else the base view's)
                esp_event=esp_event,
                message=self.build_message(esp_event),
            )
        ]

    def build_message(self, esp_event: dict[str, Any]) -> AnymailInboundMessage:
        headers = parse_headers(esp_event.get("Headers"))
        header_names = {name.lower() for name, _ in headers}
        body_charsets, attachments = self.parse_parts(esp_event)
        message = AnymailInboundMessage.construct(
            headers=headers,
            # top-level From and Subject repeat the headers; use them only if a header is missing
            from_email=None if "from" in header_names else optional_str(esp_event, "From"),
            subject=None if "subject" in header_names else optional_str(esp_event, "Subject"),
            text=optional_str(esp_event, "Text-part"),
            text_charset=body_charsets.get("Text-part") or "utf-8",
            html=optional_str(esp_event, "Html-part"),
            html_charset=body_charsets.get("Html-part") or "utf-8",
            attachments=attachments,
        )
        # The SMTP envelope
        message.envelope_sender = optional_str(esp_event, "Sender")
        message.envelope_recipient = optional_str(esp_event, "Recipient")
        message.spam_score = spam_score(esp_event)
        return message

    def parse_parts(self, esp_event: dict[str, Any]) -> tuple[dict[str, str | None], list[Message]]:
        """Body charsets and attachments from Parts: each part's headers and ContentRef."""
        parts = esp_event.get("Parts") or []
        if not isinstance(parts, list):
            raise ValueError("Mailjet inbound 'Parts' should be a list")
        charsets: dict[str, str | None] = {}
        attachments: list[Message] = []
        seen_refs = set()
        for part in parts:
            if not isinstance(part, dict):
                raise ValueError("Mailjet inbound 'Parts' items should be objects")
            content_ref = optional_str(part, "ContentRef")
            if content_ref in seen_refs:
                # Each part's content is decoded once: repeated references to the same content
                # (which Mailjet doesn't send) would otherwise multiply the work and memory a
                # small request costs (e.g., a thousand references to one large attachment)
                continue
            part_headers = part_header_message(part.get("Headers"))
            if content_ref in ("Text-part", "Html-part"):
                seen_refs.add(content_ref)
                charsets[content_ref] = part_headers.get_content_charset()
            elif content_ref and is_attachment_ref(content_ref):
                seen_refs.add(content_ref)
                attachments.append(attachment_from_part(esp_event, content_ref, part_headers))
        # An (Inline)AttachmentN with no Parts entry: keep its content rather than drop it
        for key in esp_event:
            if is_attachment_ref(key) and key not in seen_refs:
                attachments.append(attachment_from_part(esp_event, key, AnymailInboundMessage()))
        return charsets, attachments


def is_attachment_ref(content_ref: str) -> bool:
    """AttachmentN, or InlineAttachmentN (the Parse API's name for inline parts' content)."""
    for prefix in ("Attachment", "InlineAttachment"):
        if content_ref.startswith(prefix) and content_ref[len(prefix) :].isdigit():
            return True
    return False


def parse_headers(headers: Any) -> list[tuple[str, str]]:
    """Parse API "Headers": most values are lists of lines; a few (From, To...) are strings."""
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise ValueError("Mailjet inbound 'Headers' should be an object")
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str):
                raise ValueError(f"Mailjet inbound header {name!r} isn't a string")
            pairs.append((name, value))
    return pairs


def part_header_message(headers: Any) -> AnymailInboundMessage:
    """A part's Headers as an (empty) message, to read its params the email way.

    (An AnymailInboundMessage, whose param parsing is linear-time and size-capped: the
    headers come from whoever sent the mail.)
    """
    parsed = AnymailInboundMessage()
    for name, value in parse_headers(headers):
        parsed.set_raw(name, value)
    return parsed


def attachment_from_part(
    esp_event: dict[str, Any], content_ref: str, part_headers: AnymailInboundMessage
) -> Message:
    """The AttachmentN content (always base64, per the Parse API docs) as a MIME part."""
    content = esp_event.get(content_ref)
    if not isinstance(content, SpilledString):  # (a long one stays in its file)
        content = optional_str(esp_event, content_ref) or ""
    disposition = (part_headers.get("Content-Disposition") or "").split(";")[0].strip().lower()
    content_id = part_headers.get("Content-ID")
    try:
        return AnymailInboundMessage.construct_attachment(
            content_type=part_headers.get_content_type()
            if "Content-Type" in part_headers
            else "application/octet-stream",
            content=content,
            charset=part_headers.get_content_charset(),
            filename=part_headers.get_filename(),
            # inline (e.g., an <img src="cid:...">) when it has a Content-ID, unless it's
            # explicitly an attachment
            content_id=str(content_id) if content_id and disposition != "attachment" else None,
            base64=True,
        )
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"Mailjet inbound {content_ref} isn't valid base64") from err


def spam_score(esp_event: dict[str, Any]) -> float | None:
    # "SpamAssassinScore": a str in the docs' sample ("0.602")
    score = esp_event.get("SpamAssassinScore")
    if score is None or score == "":
        return None
    if isinstance(score, bool):
        raise ValueError(f"Invalid Mailjet SpamAssassinScore {score!r}")
    try:
        return float(score)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Invalid Mailjet SpamAssassinScore {score!r}") from err
