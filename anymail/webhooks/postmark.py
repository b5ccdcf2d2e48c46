"""Postmark webhooks: status tracking (``anymail/postmark/tracking/``) and inbound
(``anymail/postmark/inbound/``).

Postmark posts one JSON object per call and doesn't sign it: authentication is the
WEBHOOK_SECRET basic auth the base view checks (https://postmarkapp.com/developer/webhooks).
Tracking payloads name their kind in "RecordType" (Postmark's "modular webhooks"); older
payloads didn't, so their kind is told from their fields.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.http import HttpRequest

from ..addresses import EmailAddress
from ..exceptions import AnymailConfigurationError
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailEvent,
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..streaming import SpilledString, load_json
from ..timestamps import parse_iso_datetime
from .base import AnymailBaseWebhookView, parse_json_body
from .fields import optional_str
from .limits import SpooledBodyMixin, request_spools, spooled_body


class PostmarkBaseWebhookView(AnymailBaseWebhookView):
    """Postmark posts a single JSON object (one event, or one inbound message) per call."""

    esp_name = "Postmark"

    def parse_events(self, request: HttpRequest) -> list[Any]:
        esp_event = parse_json_body(request, dict)
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event: dict[str, Any]) -> Any:
        raise NotImplementedError


# Tracking


def record_type(esp_event: dict[str, Any]) -> str | None:
    """Postmark's RecordType, or (for pre-"modular webhooks" payloads) what the fields say."""
    if "RecordType" in esp_event:
        return optional_str(esp_event, "RecordType")
    if "FromFull" in esp_event:
        return "Inbound"
    if "Type" in esp_event and "BouncedAt" in esp_event:
        return "SpamComplaint" if esp_event.get("Type") == "SpamComplaint" else "Bounce"
    for field, kind in (
        ("DeliveredAt", "Delivery"),
        ("FirstOpen", "Open"),
        ("OriginalLink", "Click"),
        ("SuppressSending", "SubscriptionChange"),
    ):
        if field in esp_event:
            return kind
    return None


# Bounce "Type" -> (event_type, reject_reason), for every type in Postmark's bounce API docs
# (https://postmarkapp.com/developer/api/bounce-api#bounce-types), by Postmark's description of
# each. Soft bounces are "bounced", not "deferred" (changelog v0.9); "Transient" is Postmark's
# "message delayed", and "DnsError" its "temporary DNS error". Automated replies and
# (un)subscribe requests aren't failures, so have no reject_reason; a complaint is "spam".
BOUNCE_TYPES = {
    "HardBounce": (EventType.BOUNCED, RejectReason.BOUNCED),
    "Transient": (EventType.DEFERRED, None),
    "Unsubscribe": (EventType.UNSUBSCRIBED, None),
    "Subscribe": (EventType.SUBSCRIBED, None),
    "AutoResponder": (EventType.AUTORESPONDED, None),
    "AddressChange": (EventType.AUTORESPONDED, None),  # an automated "I've moved" reply
    "DnsError": (EventType.DEFERRED, None),
    "SpamNotification": (EventType.BOUNCED, RejectReason.SPAM),
    "OpenRelayTest": (EventType.UNKNOWN, None),  # not about the message at all
    "Unknown": (EventType.BOUNCED, RejectReason.OTHER),  # an NDR Postmark couldn't classify
    "SoftBounce": (EventType.BOUNCED, RejectReason.OTHER),
    "VirusNotification": (EventType.BOUNCED, RejectReason.OTHER),
    "ChallengeVerification": (EventType.AUTORESPONDED, None),  # "prove you're a human"
    "BadEmailAddress": (EventType.REJECTED, RejectReason.INVALID),
    "SpamComplaint": (EventType.COMPLAINED, RejectReason.SPAM),
    "ManuallyDeactivated": (EventType.REJECTED, RejectReason.BLOCKED),
    "Unconfirmed": (EventType.REJECTED, RejectReason.OTHER),
    "Blocked": (EventType.BOUNCED, RejectReason.BLOCKED),  # "ISP block"
    "SMTPApiError": (EventType.FAILED, None),
    "InboundError": (EventType.FAILED, None),
    "DMARCPolicy": (EventType.BOUNCED, RejectReason.BLOCKED),
    "TemplateRenderingFailed": (EventType.FAILED, None),
}

# SubscriptionChange "SuppressionReason" (why Postmark stopped sending to the address) ->
# reject_reason. A recipient's own unsubscribe is recorded as a "ManualSuppression".
SUPPRESSION_REASONS = {
    "HardBounce": RejectReason.BOUNCED,
    "SpamComplaint": RejectReason.SPAM,
    "ManualSuppression": RejectReason.UNSUBSCRIBED,
}

# RecordType -> (event_type, recipient field, timestamp field)
RECORD_TYPES = {
    "Delivery": (EventType.DELIVERED, "Recipient", "DeliveredAt"),
    "Bounce": (None, "Email", "BouncedAt"),  # event_type from BOUNCE_TYPES
    "SpamComplaint": (EventType.COMPLAINED, "Email", "BouncedAt"),
    "Open": (EventType.OPENED, "Recipient", "ReceivedAt"),
    "Click": (EventType.CLICKED, "Recipient", "ReceivedAt"),
    "SubscriptionChange": (None, "Recipient", "ChangedAt"),  # from SuppressSending
}
TRACKING_RECORD_TYPES = set(RECORD_TYPES)


class PostmarkTrackingWebhookView(PostmarkBaseWebhookView):
    """Delivery, Bounce, SpamComplaint, Open, Click and SubscriptionChange webhooks."""

    signal = tracking

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        esp_event = parse_json_body(request, dict)
        # A record with a field of an odd type becomes an "unknown" event (with the raw record
        # in esp_event), rather than a 400 that Postmark would retry, to the same end
        return [self.normalize_event(self.esp_to_anymail_event, esp_event)]

    def esp_to_anymail_event(self, esp_event: dict[str, Any]) -> AnymailTrackingEvent:
        kind = record_type(esp_event)
        if kind == "Inbound":
            raise AnymailConfigurationError(
                "You seem to have set Postmark's *inbound* webhook to Anymail's Postmark "
                "*tracking* webhook URL (anymail/postmark/tracking/). Use "
                "anymail/postmark/inbound/ for inbound."
            )
        # (an unknown record type still gets whatever fields Postmark's other records use)
        unknown_recipient_field = "Recipient" if "Recipient" in esp_event else "Email"
        event_type, recipient_field, timestamp_field = RECORD_TYPES.get(
            kind or "", (EventType.UNKNOWN, unknown_recipient_field, None)
        )
        reject_reason = None
        description = None
        if kind == "Bounce":
            event_type, reject_reason = BOUNCE_TYPES.get(
                optional_str(esp_event, "Type") or "", (EventType.UNKNOWN, None)
            )
        if kind == "SpamComplaint":
            reject_reason = RejectReason.SPAM
        if kind in ("Bounce", "SpamComplaint"):
            description = optional_str(esp_event, "Description")
        if kind == "SubscriptionChange":
            # Postmark's suppression list changed: SuppressSending says which way
            suppress = esp_event.get("SuppressSending")
            if not isinstance(suppress, bool):
                raise ValueError("Postmark SubscriptionChange without a boolean SuppressSending")
            event_type = EventType.UNSUBSCRIBED if suppress else EventType.SUBSCRIBED
            description = optional_str(esp_event, "SuppressionReason")
            if suppress:
                reject_reason = SUPPRESSION_REASONS.get(description or "", RejectReason.OTHER)

        timestamp = None
        if timestamp_field and esp_event.get(timestamp_field) is not None:
            timestamp = parse_iso_datetime(esp_event[timestamp_field])
        # Only bounce and spam complaint records have an ID (Postmark's bounce ID)
        event_id = esp_event.get("ID")
        if event_id is not None and not isinstance(event_id, (int, str)):
            raise ValueError("Postmark webhook ID is not a number or string")
        tag = optional_str(esp_event, "Tag")
        metadata = esp_event.get("Metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError("Postmark webhook Metadata is not an object")

        return AnymailTrackingEvent.create(
            event_type=event_type or EventType.UNKNOWN,  # (every kind above sets one)
            timestamp=timestamp,
            event_id=str(event_id) if event_id is not None else None,
            esp_event=esp_event,
            message_id=optional_str(esp_event, "MessageID"),
            recipient=optional_str(esp_event, recipient_field),
            metadata=metadata,
            tags=[tag] if tag else [],
            reject_reason=reject_reason,
            description=description,
            # Delivery and bounce "Details" are the receiving server's response
            mta_response=optional_str(esp_event, "Details"),
            user_agent=optional_str(esp_event, "UserAgent"),
            click_url=optional_str(esp_event, "OriginalLink"),
        )


# Inbound

# RFC 5322 field name: printable ASCII except colon
HEADER_NAME_RE = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
DOTNET_ZONE_RE = re.compile(r"([+-]\d\d):(\d\d)\s*$")


class PostmarkInboundWebhookView(SpooledBodyMixin, PostmarkBaseWebhookView):
    """Postmark's inbound JSON (https://postmarkapp.com/developer/webhooks/inbound-webhook).

    Read from a temporary file (SpooledBodyMixin); a long attachment "Content" or "RawEmail"
    stays in one (a SpilledString, in esp_event too) and is decoded from there.
    """

    signal = inbound

    def parse_events(self, request: HttpRequest) -> list[Any]:
        esp_event = load_json(
            spooled_body(request),
            keep_spilled=lambda key: key in SPOOLED_FIELDS,
            spools=request_spools(request),
        )
        if not isinstance(esp_event, dict):
            raise ValueError(f"Expected a JSON object, got {type(esp_event).__name__}")
        return [self.esp_to_anymail_event(esp_event)]

    def esp_to_anymail_event(self, esp_event: dict[str, Any]) -> AnymailInboundEvent:
        kind = record_type(esp_event)
        if kind in TRACKING_RECORD_TYPES:
            raise AnymailConfigurationError(
                "You seem to have set a Postmark *tracking* webhook to Anymail's Postmark "
                "*inbound* webhook URL (anymail/postmark/inbound/). Use "
                "anymail/postmark/tracking/ for tracking."
            )
        if kind != "Inbound" and "FromFull" not in esp_event:
            raise ValueError(f"Not a Postmark inbound payload (RecordType {kind!r})")
        headers = inbound_headers(esp_event)
        raw_email = spooled_or_str(esp_event, "RawEmail")
        if raw_email:
            # Postmark's "include raw email content" option: the message exactly as received
            message = (
                AnymailInboundMessage.parse_raw_mime_spool(raw_email.open(), raw_email.spools)
                if isinstance(raw_email, SpilledString)
                else AnymailInboundMessage.parse_raw_mime(raw_email)
            )
            headers = headers or [(name, str(value)) for name, value in message.items()]
        else:
            message = construct_inbound_message(esp_event, headers)

        message.envelope_sender = envelope_sender(headers)
        message.envelope_recipient = optional_str(esp_event, "OriginalRecipient")
        message.stripped_text = optional_str(esp_event, "StrippedTextReply")
        # Postmark runs inbound mail through SpamAssassin and passes on its headers
        message.spam_score = spam_score(headers)
        message.spam_detected = spam_detected(headers)

        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # Postmark gives only the message's own Date
            # (Without a MessageID, the base view uses a digest of the JSON Postmark posted)
            event_id=optional_str(esp_event, "MessageID"),
            esp_event=esp_event,
            message=message,
        )


# Fields that may be long enough to leave in a file (see anymail.streaming.load_json)
SPOOLED_FIELDS = frozenset(("Content", "RawEmail"))


def spooled_or_str(data: dict[str, Any], key: str) -> SpilledString | str | None:
    """optional_str(data, key), except that a long string may still be in a file."""
    value = data.get(key)
    if isinstance(value, SpilledString):
        # (RawEmail is parsed as UTF-8: one with lone surrogates needs the str's own handling)
        return str(value) if value.has_surrogates else value
    return optional_str(data, key)


def inbound_headers(esp_event: dict[str, Any]) -> list[tuple[str, str]]:
    """Postmark's "Headers" list of {"Name", "Value"}, as (name, value) pairs."""
    headers = esp_event.get("Headers") or []
    if not isinstance(headers, list):
        raise ValueError("Postmark inbound Headers is not a list")
    pairs = []
    for header in headers:
        if not isinstance(header, dict):
            raise ValueError("Postmark inbound header is not an object")
        name, value = header.get("Name"), header.get("Value")
        if not isinstance(name, str) or not isinstance(value, (str, type(None))):
            raise ValueError("Postmark inbound header Name/Value is not a string")
        if HEADER_NAME_RE.match(name):  # (skip a header no email could carry)
            pairs.append((name, value or ""))
    return pairs


def construct_inbound_message(
    esp_event: dict[str, Any], headers: list[tuple[str, str]]
) -> AnymailInboundMessage:
    """Rebuild the message from Postmark's parsed fields (it doesn't post the raw MIME)."""
    header_names = {name.lower() for name, _ in headers}
    extra_headers = list(headers)
    # Postmark gives Date and Reply-To as their own fields (they may not be in Headers).
    # Its Date shows the zone .NET-style, "Fri, 1 Aug 2014 16:45:32 -04:00": make that RFC 5322.
    date = optional_str(esp_event, "Date")
    if date and "date" not in header_names:
        extra_headers.append(("Date", DOTNET_ZONE_RE.sub(r"\1\2", date)))
    reply_to = optional_str(esp_event, "ReplyTo")
    if reply_to and "reply-to" not in header_names:
        extra_headers.append(("Reply-To", reply_to))

    attachments = []
    for attachment in esp_event.get("Attachments") or []:
        if not isinstance(attachment, dict):
            raise ValueError("Postmark inbound attachment is not an object")
        attachments.append(
            AnymailInboundMessage.construct_attachment(
                content_type=optional_str(attachment, "ContentType") or "",
                content=spooled_or_str(attachment, "Content") or "",
                filename=optional_str(attachment, "Name"),
                content_id=optional_str(attachment, "ContentID"),
                base64=True,
            )
        )

    return AnymailInboundMessage.construct(
        from_email=full_address(esp_event.get("FromFull"), optional_str(esp_event, "From")),
        to=full_address_list(esp_event.get("ToFull"), optional_str(esp_event, "To")),
        cc=full_address_list(esp_event.get("CcFull"), optional_str(esp_event, "Cc")),
        subject=optional_str(esp_event, "Subject"),
        headers=extra_headers,
        text=optional_str(esp_event, "TextBody"),
        html=optional_str(esp_event, "HtmlBody"),
        attachments=attachments,
    )


def full_address(full: Any, fallback: str | None) -> str | None:
    """A formatted address from Postmark's {"Email", "Name", "MailboxHash"} object."""
    if full is None:
        return fallback
    if not isinstance(full, dict):
        raise ValueError("Postmark inbound address is not an object")
    email, name = full.get("Email"), full.get("Name")
    if not isinstance(email, str) or not isinstance(name, (str, type(None))):
        raise ValueError("Postmark inbound address Email/Name is not a string")
    if not email:
        return fallback
    return EmailAddress(name or "", email).address


def full_address_list(full_list: Any, fallback: str | None) -> list[str] | str | None:
    """Formatted addresses from Postmark's ToFull/CcFull lists."""
    if full_list is None:
        return fallback
    if not isinstance(full_list, list):
        raise ValueError("Postmark inbound address list is not a list")
    addresses = [full_address(full, None) for full in full_list]
    return [address for address in addresses if address] or fallback


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for header_name, value in headers:
        if header_name.lower() == name.lower():
            return value
    return None


def envelope_sender(headers: list[tuple[str, str]]) -> str | None:
    """The SMTP envelope sender, from the Received-SPF header Postmark's inbound server adds.

    Postmark doesn't report MAIL FROM itself, but records its SPF check of it (RFC 7208 9.1):
    ``Pass (sender SPF authorized) identity=mailfrom; client-ip=...; envelope-from=a@b.com;
    ...``. Only a single such header is trusted (any others came with the message, from
    anyone), and only when SPF vouched for the sender ("pass") or had no opinion ("neutral").
    (The message's Return-Path header isn't used: the sender wrote that.)
    """
    spf_headers = [value for name, value in headers if name.lower() == "received-spf"]
    if len(spf_headers) != 1:
        return None
    result, *rest = spf_headers[0].split(None, 1) or [""]
    if result.lower() not in ("pass", "neutral"):
        return None
    sender = received_spf_params(rest[0] if rest else "").get("envelope-from", "")
    # (a bounce's null sender, "<>", means there is none)
    return sender.removeprefix("<").removesuffix(">").strip() or None


# Received-SPF's "key=value" params: the value a dot-atom-ish token or a quoted-string
SPF_PARAM_RE = re.compile(r'([A-Za-z][\w.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)')


def received_spf_params(text: str) -> dict[str, str]:
    """The key=value params after a Received-SPF result (skipping its "(comment)")."""
    text = text.strip()
    if text.startswith("("):
        # The comment is free text (it might even contain "envelope-from="): skip it
        depth = 0
        for index, char in enumerate(text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                text = text[index + 1 :]
                break
        else:
            return {}
    params: dict[str, str] = {}
    for key, value in SPF_PARAM_RE.findall(text):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(key.lower(), value)
    return params


def spam_score(headers: list[tuple[str, str]]) -> float | None:
    """SpamAssassin's X-Spam-Score, e.g. "-0.1"."""
    try:
        score = float(_header(headers, "X-Spam-Score") or "")
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def spam_detected(headers: list[tuple[str, str]]) -> bool | None:
    """SpamAssassin's X-Spam-Status verdict: "Yes, score=..." or "No, score=..."."""
    status = _header(headers, "X-Spam-Status")
    verdict = re.split(r"[\s,]", status.strip(), maxsplit=1)[0].lower() if status else ""
    return {"yes": True, "no": False}.get(verdict)
