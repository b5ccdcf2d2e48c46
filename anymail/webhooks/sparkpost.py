"""SparkPost webhooks: event webhooks for tracking (``anymail/sparkpost/tracking/``) and relay
webhooks for inbound mail (``anymail/sparkpost/inbound/``).

Both post a JSON array (a batch) of ``{"msys": {"<event class>": {...event...}}}`` objects, and
both are authenticated only by the WEBHOOK_SECRET basic auth (SparkPost's webhook "Basic Auth"
option, or credentials in the relay webhook's target url); Anymail doesn't support SparkPost's
OAuth webhook auth. Payload fields are from SparkPost's Webhooks API "Event Types" reference and
its Relay Webhooks API "Relay Webhook Payload".

An event (or relay message) Anymail can't read doesn't cost the rest of its batch: it becomes
an "unknown" tracking event. This module doesn't need (or import) the sparkpost package.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.http import HttpRequest

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
from ..streaming import SpilledString, SpoolView, StrictBase64Decoder, load_json, new_spool
from ..timestamps import parse_iso_datetime, timestamp_to_datetime
from .base import MALFORMED_PAYLOAD_ERRORS, AnymailBaseWebhookView, parse_json_body
from .fields import optional_str
from .limits import SpooledBodyMixin, request_spools, spooled_body, spooled_event_id

TRACKING_URL = "anymail/sparkpost/tracking/"
INBOUND_URL = "anymail/sparkpost/inbound/"
RELAY_MESSAGE = "relay_message"  # the inbound (relay webhook) event class


def batch_items(request: HttpRequest, batch: Any = None) -> list[tuple[str | None, Any]]:
    """(event class, batch item) for each event in a SparkPost webhook batch (a JSON array).

    An item that isn't a ``{"msys": {...}}`` object is one event of class None: it can't be
    read, but it mustn't cost the rest of the batch. An item with an empty msys
    (``[{"msys": {}}]`` is how SparkPost tests a new webhook's target) has no events. Only a
    body that isn't a JSON array at all is malformed. (batch: the body, if already parsed.)
    """
    if batch is None:
        batch = parse_json_body(request, list)
    elif not isinstance(batch, list):
        raise ValueError(f"Expected a JSON array, got {type(batch).__name__}")
    events: list[tuple[str | None, Any]] = []
    for item in batch:
        msys = item.get("msys") if isinstance(item, dict) else None
        if isinstance(msys, dict):
            events.extend((event_class, item) for event_class in msys)
        else:
            events.append((None, item))
    return events


def msys_event(event_class: str | None, item: Any) -> dict[str, Any]:
    """The event of event_class in a batch item; ValueError if the item doesn't hold one."""
    if event_class is None:
        raise ValueError(
            'SparkPost webhook batch items should be {"msys": {...}} objects, '
            f"not {truncated(item)}"
        )
    esp_event = item["msys"][event_class]
    if not isinstance(esp_event, dict):
        raise ValueError(f"SparkPost {event_class!r} event isn't an object")
    return esp_event


class SparkPostTrackingWebhookView(AnymailBaseWebhookView):
    """SparkPost event webhooks: message, track, generation and unsubscribe events."""

    esp_name = "SparkPost"
    signal = tracking_signal

    # SparkPost's event "type" values (event definitions in its Webhooks API docs)
    event_types = {
        # message_event
        "injection": EventType.QUEUED,
        "delivery": EventType.DELIVERED,
        "bounce": EventType.BOUNCED,  # (whatever its bounce_class: see reject_reasons)
        "out_of_band": EventType.BOUNCED,  # accepted by the receiving MTA, bounced later
        "delay": EventType.DEFERRED,
        "policy_rejection": EventType.REJECTED,
        "spam_complaint": EventType.COMPLAINED,
        # gen_event
        "generation_failure": EventType.FAILED,  # "due to a technical reason"
        "generation_rejection": EventType.REJECTED,  # "due to a policy reason"
        # track_event
        "open": EventType.OPENED,
        "initial_open": EventType.OPENED,  # (the tracking pixel at the top of the message)
        "amp_open": EventType.OPENED,
        "amp_initial_open": EventType.OPENED,
        "click": EventType.CLICKED,
        "amp_click": EventType.CLICKED,
        # unsubscribe_event
        "list_unsubscribe": EventType.UNSUBSCRIBED,
        "link_unsubscribe": EventType.UNSUBSCRIBED,
    }
    # (Anything else, e.g. relay_event, ab_test_event or sms_status, is "unknown": it must still
    # get a 200, or SparkPost would retry the whole batch for 8 hours.)

    # Bounce classification codes (SparkPost support "Bounce Classification Codes") ->
    # reject_reason. Every bounce stays event_type "bounced", as in Anymail 6.1, even the
    # classes that are really automated replies (60, 100) or (un)subscribe requests (80, 90).
    reject_reasons = {
        "1": RejectReason.OTHER,  # Undetermined
        "10": RejectReason.INVALID,  # Invalid Recipient (hard)
        "20": RejectReason.BOUNCED,  # Soft Bounce
        "21": RejectReason.BOUNCED,  # DNS Failure
        "22": RejectReason.BOUNCED,  # Mailbox Full
        "23": RejectReason.BOUNCED,  # Too Large
        "24": RejectReason.TIMED_OUT,  # Timeout
        "25": RejectReason.BLOCKED,  # Admin Failure (SparkPost policy, incl. suppressions)
        "26": RejectReason.BLOCKED,  # Smart Send Suppression
        "30": RejectReason.BOUNCED,  # Generic Bounce: No RCPT (hard)
        "40": RejectReason.BOUNCED,  # Generic Bounce
        "50": RejectReason.BLOCKED,  # Mail Block
        "51": RejectReason.SPAM,  # Spam Block (a known spam source)
        "52": RejectReason.SPAM,  # Spam Content
        "53": RejectReason.BLOCKED,  # Prohibited Attachment
        "54": RejectReason.BLOCKED,  # Relaying Denied
        "60": RejectReason.OTHER,  # Auto-Reply (a vacation message: not a failure)
        "70": RejectReason.BOUNCED,  # Transient Failure
        "80": RejectReason.OTHER,  # Subscribe (a subscribe request)
        "90": RejectReason.UNSUBSCRIBED,  # Unsubscribe (an unsubscribe request; hard)
        "100": RejectReason.OTHER,  # Challenge-Response (a "prove you're human" probe)
    }

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        items = batch_items(request)
        if any(event_class == RELAY_MESSAGE for event_class, _ in items):
            # (a relay webhook pointed at the wrong url: every item is a relay message)
            raise ValueError(
                "This is a SparkPost relay webhook (inbound) payload, posted to Anymail's "
                f"SparkPost tracking webhook. Set your relay webhook's target to "
                f"{INBOUND_URL} (not {TRACKING_URL})."
            )
        # An event that can't be read becomes an "unknown" event (holding its batch item): the
        # others still get through
        events: list[AnymailEvent] = []
        for event_class, item in items:
            try:
                events.append(self.esp_to_anymail_event(msys_event(event_class, item), item))
            except MALFORMED_PAYLOAD_ERRORS as err:
                events.append(self.unreadable_event(item, err))
        return events

    def esp_to_anymail_event(
        self, esp_event: dict[str, Any], item: dict[str, Any]
    ) -> AnymailTrackingEvent:
        esp_type = optional_str(esp_event, "type", numbers_ok=True)
        bounce_class = optional_str(esp_event, "bounce_class", numbers_ok=True)
        event_type = self.event_types.get(esp_type or "", EventType.UNKNOWN)
        campaign = optional_str(esp_event, "campaign_id", numbers_ok=True)
        return AnymailTrackingEvent.create(
            event_type=event_type,
            timestamp=event_timestamp(esp_event),
            event_id=optional_str(esp_event, "event_id", numbers_ok=True),
            esp_event=item,  # (the spec: the wrapped {"msys": {...}} event)
            # Anymail's message_id is SparkPost's transmission_id (not its message_id)
            message_id=optional_str(esp_event, "transmission_id", numbers_ok=True),
            recipient=event_recipient(esp_event),
            metadata=event_metadata(esp_event),
            tags=[campaign] if campaign else [],
            reject_reason=self.reject_reason(event_type, esp_type, bounce_class),
            # "reason" has IP addresses etc. canonicalized; "raw_reason" is the MTA's own text
            description=optional_str(esp_event, "reason", numbers_ok=True),
            mta_response=optional_str(esp_event, "raw_reason", numbers_ok=True),
            user_agent=optional_str(esp_event, "user_agent", numbers_ok=True),
            click_url=optional_str(esp_event, "target_link_url", numbers_ok=True),
        )

    def reject_reason(
        self, event_type: str, esp_type: str | None, bounce_class: str | None
    ) -> str | None:
        if event_type not in (EventType.BOUNCED, EventType.REJECTED):
            return None
        if bounce_class in self.reject_reasons:
            return self.reject_reasons[bounce_class]
        if esp_type in ("policy_rejection", "generation_rejection"):
            return RejectReason.BLOCKED  # by definition, SparkPost's policy
        return RejectReason.OTHER


def event_recipient(esp_event: Mapping[str, Any]) -> str | None:
    """The recipient's address as sent: raw_rcpt_to keeps its case (rcpt_to is lowercased)."""
    raw_rcpt_to = optional_str(esp_event, "raw_rcpt_to", numbers_ok=True)
    if raw_rcpt_to is not None:
        return raw_rcpt_to
    return optional_str(esp_event, "rcpt_to", numbers_ok=True)


def event_timestamp(esp_event: Mapping[str, Any]) -> datetime | None:
    # Webhook events have Unix-time timestamps ("timestamp": 1427736822, or as a string); the
    # docs' samples (and the Events API) show ISO 8601 ones, so take either
    value = esp_event.get("timestamp")
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.strip().replace(".", "", 1).isdigit():
        return parse_iso_datetime(value)
    return timestamp_to_datetime(value)


def event_metadata(esp_event: Mapping[str, Any]) -> dict[str, Any]:
    # rcpt_meta is the message's metadata with the recipient's merged over it (SparkPost:
    # "recipient metadata takes precedence over transmission metadata")
    metadata: dict[str, Any] = {}
    for key in ("metadata", "rcpt_meta"):
        value = esp_event.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, dict):
            raise ValueError(f"SparkPost {key!r} should be an object")
        metadata.update(value)
    return metadata


def decoded_base64_file(text: SpilledString) -> SpoolView:
    """The bytes of (strictly valid) base64 text, decoded a chunk at a time into a file."""
    decoder = StrictBase64Decoder()
    file = new_spool(text.spools)
    try:
        for chunk in text.utf8_chunks():
            file.write(decoder.decode(chunk))
        file.write(decoder.finish())
    except (binascii.Error, ValueError) as err:
        raise ValueError("SparkPost email_rfc822 isn't valid base64") from err
    file.flush()
    return SpoolView(file)


def truncated(value: Any, length: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= length else text[: length - 3] + "..."


class SparkPostInboundWebhookView(SpooledBodyMixin, AnymailBaseWebhookView):
    """SparkPost relay webhooks: each relay_message carries the raw RFC 822 message.

    Read from a temporary file (SpooledBodyMixin): a long email_rfc822 stays in one (a
    SpilledString, in esp_event too), and the message is parsed from there.
    """

    esp_name = "SparkPost"
    signal = inbound_signal

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        batch = load_json(
            spooled_body(request),
            keep_spilled=lambda key: key == "email_rfc822",
            spools=request_spools(request),
        )
        items = batch_items(request, batch)
        for event_class, _ in items:
            if event_class is not None and event_class != RELAY_MESSAGE:
                raise ValueError(
                    f"This is a SparkPost {event_class!r} (tracking) payload, posted to "
                    "Anymail's SparkPost inbound webhook. Set your SparkPost event webhook's "
                    f"target to {TRACKING_URL} (not {INBOUND_URL})."
                )
        # A relay message that can't be read doesn't cost the others in its batch (SparkPost
        # would retry the whole batch, then discard it): see signal_for_event
        return [
            self.normalize_event(partial(self.item_to_inbound_event, event_class), item)
            for event_class, item in items
        ]

    def item_to_inbound_event(self, event_class: str | None, item: Any) -> AnymailInboundEvent:
        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=None,  # (relay messages don't say when they arrived)
            # Nor an id: the base view uses a digest of the item, which has the envelope too
            # (the same message relayed to two recipients is two events)
            event_id=spooled_event_id(item, self.esp_name),
            esp_event=item,
            message=self.build_message(msys_event(event_class, item)),
        )

    def signal_for_event(self, event: AnymailEvent) -> Any:
        """Inbound receivers get only inbound messages.

        A relay message Anymail can't read arrives as an "unknown" *tracking* event, with the
        raw batch item in its esp_event: inbound receivers can rely on ``event.message``.
        """
        return inbound_signal if isinstance(event, AnymailInboundEvent) else tracking_signal

    def build_message(self, relay_message: dict[str, Any]) -> AnymailInboundMessage:
        content = relay_message.get("content")
        if not isinstance(content, dict):
            raise ValueError("SparkPost relay_message has no 'content' object")
        raw = content.get("email_rfc822")
        if isinstance(raw, SpilledString) and raw.has_surrogates:
            raw = str(raw)  # (parsed as UTF-8 below: lone surrogates need the str's handling)
        if not isinstance(raw, (str, SpilledString)):
            raise ValueError("SparkPost relay_message content has no email_rfc822")
        is_base64 = content.get("email_rfc822_is_base64")
        if is_base64 not in (None, True, False):
            raise ValueError("SparkPost email_rfc822_is_base64 should be a boolean")
        if isinstance(raw, SpilledString):
            message = AnymailInboundMessage.parse_raw_mime_spool(
                decoded_base64_file(raw) if is_base64 else raw.open(), raw.spools
            )
        elif is_base64:
            # (SparkPost base64-encodes the whole message if any of it isn't valid UTF-8)
            try:
                raw_bytes = base64.b64decode("".join(raw.split()), validate=True)
            except (binascii.Error, ValueError) as err:
                raise ValueError("SparkPost email_rfc822 isn't valid base64") from err
            message = AnymailInboundMessage.parse_raw_mime_bytes(raw_bytes)
        else:
            message = AnymailInboundMessage.parse_raw_mime(raw)
        # The SMTP envelope: "MAIL FROM" and "RCPT TO"
        message.envelope_sender = optional_str(relay_message, "msg_from", numbers_ok=True)
        message.envelope_recipient = optional_str(relay_message, "rcpt_to", numbers_ok=True)
        return message
