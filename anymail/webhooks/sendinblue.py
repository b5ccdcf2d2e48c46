"""SendinBlue transactional webhooks: status tracking at ``anymail/sendinblue/tracking/``.

SendinBlue posts one JSON object per event (or, for a webhook created with its "batched"
option, a JSON array of them). It doesn't sign its webhooks: the WEBHOOK_SECRET basic auth in
the "URL to call" is the only authentication. Field names and event types are from
SendinBlue's "Transactional webhooks" docs; SendinBlue has no inbound email.

What may work on a retry is answered with a 429, not the usual 503: it's the one error answer
SendinBlue retries (see post()).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone as django_timezone
from django.utils.dateparse import parse_datetime

from ..signals import AnymailEvent, AnymailTrackingEvent, EventType, RejectReason
from ..signals import tracking as tracking_signal
from ..timestamps import timestamp_to_datetime
from .base import AnymailBaseWebhookView, parse_json_body
from .fields import optional_str

# SendinBlue's docs say "ts_event, ts_epoch: UTC timezone; date: CET/CEST timezone", but in real
# payloads only ts_epoch is UTC: ts_event is computed from the (Paris) local time, so it's an
# hour or two ahead. Both ts_event and date are read as Paris time.
DATE_TIMEZONE = ZoneInfo("Europe/Paris")
# ts_epoch is documented in milliseconds, though some of SendinBlue's samples show seconds:
# anything this large can only be milliseconds (it's the year 5138 in seconds)
MIN_EPOCH_MILLISECONDS = 10**11


class SendinBlueTrackingWebhookView(AnymailBaseWebhookView):
    """SendinBlue transactional webhook events."""

    esp_name = "SendinBlue"
    signal = tracking_signal

    # Transactional webhook "event" values
    event_types = {
        "request": EventType.QUEUED,  # "Sent": SendinBlue accepted the send request
        "delivered": EventType.DELIVERED,
        "hard_bounce": EventType.BOUNCED,
        "soft_bounce": EventType.BOUNCED,
        "blocked": EventType.REJECTED,  # SendinBlue refused to send (e.g., blocklisted)
        "invalid_email": EventType.BOUNCED,  # (as Anymail 6.1: reject_reason tells it apart)
        "deferred": EventType.DEFERRED,
        "error": EventType.FAILED,  # "an error occurred during the mail transfer"
        "spam": EventType.COMPLAINED,
        # "First opening" and "Opened" both fire on a first open (the docs suggest enabling
        # only one of them); proxy opens are opens reported by a privacy proxy (Apple Mail)
        "unique_opened": EventType.OPENED,
        "opened": EventType.OPENED,
        "unique_proxy_open": EventType.OPENED,
        "proxy_open": EventType.OPENED,
        "click": EventType.CLICKED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "unsubscribe": EventType.UNSUBSCRIBED,  # (the name in some of SendinBlue's docs)
        "list_addition": EventType.SUBSCRIBED,  # a contact list event: not for transactional
    }

    reject_reasons = {
        "hard_bounce": RejectReason.BOUNCED,
        "soft_bounce": RejectReason.BOUNCED,
        "blocked": RejectReason.BLOCKED,
        "invalid_email": RejectReason.INVALID,
    }

    # Brevo (SendinBlue) discards an event answered with any 5xx, or any 4xx but 429
    # ("Retry mechanism" in its developer docs): ask for a retry in the one way it honors
    retry_status = 429

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        esp_events = parse_json_body(request, (dict, list))
        if isinstance(esp_events, dict):
            esp_events = [esp_events]  # the usual case: one event per call
        # An event that can't be read (say, "tags" that isn't a list) becomes an "unknown"
        # event: in a batch, the others still get through
        return self.normalize_events(self.esp_to_anymail_event, esp_events)

    def esp_to_anymail_event(self, esp_event: Any) -> AnymailTrackingEvent:
        if not isinstance(esp_event, dict):
            raise ValueError(
                f"SendinBlue webhook event must be a JSON object, not {type(esp_event).__name__}"
            )
        esp_type = optional_str(esp_event, "event")
        if esp_type is None:
            raise ValueError("SendinBlue webhook event has no 'event' type")
        reason = optional_str(esp_event, "reason")
        return AnymailTrackingEvent.create(
            event_type=self.event_types.get(esp_type, EventType.UNKNOWN),
            timestamp=event_timestamp(esp_event),
            # SendinBlue's "id" identifies the webhook, not the event: there's no event id
            event_id=None,
            esp_event=esp_event,
            message_id=optional_str(esp_event, "message-id"),
            recipient=optional_str(esp_event, "email"),
            metadata=event_metadata(esp_event),
            tags=event_tags(esp_event),
            reject_reason=self.reject_reasons.get(esp_type),
            # SendinBlue has one "reason" field: often an MTA's response, sometimes its own words
            description=reason,
            mta_response=reason,
            user_agent=optional_str(esp_event, "user_agent"),
            click_url=optional_str(esp_event, "link"),
        )


def event_timestamp(esp_event: Mapping[str, Any]) -> datetime | None:
    """When the event happened: ts_epoch (UTC milliseconds) if present.

    Otherwise ts_event, then date, both of which SendinBlue gives in Paris local time. (The
    older "ts" field isn't used: its time zone isn't documented.)
    """
    ts_epoch = esp_event.get("ts_epoch")
    if ts_epoch is not None and ts_epoch != "":
        return timestamp_to_datetime(epoch_seconds(ts_epoch))
    ts_event = esp_event.get("ts_event")
    if ts_event is not None and ts_event != "":
        return paris_wall_clock_timestamp(ts_event)
    date = optional_str(esp_event, "date")
    if date is not None:
        return parse_paris_date(date)
    return None


def paris_wall_clock_timestamp(ts_event: Any) -> datetime:
    """ts_event: seconds since the epoch, as if Paris local time were UTC.

    (So its UTC reading is the Paris wall clock time, which is then placed in Paris.)
    """
    return timestamp_to_datetime(ts_event).replace(tzinfo=DATE_TIMEZONE)


def epoch_seconds(ts_epoch: Any) -> float:
    """ts_epoch (documented as milliseconds; seconds in some samples) as seconds."""
    if isinstance(ts_epoch, bool) or not isinstance(ts_epoch, (int, float, str)):
        raise ValueError(f"Invalid SendinBlue ts_epoch {ts_epoch!r}")
    try:
        number = float(ts_epoch)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"Invalid SendinBlue ts_epoch {ts_epoch!r}") from err
    return number / 1000 if abs(number) >= MIN_EPOCH_MILLISECONDS else number


def parse_paris_date(date: str) -> datetime:
    """SendinBlue's "date", "2018-01-10 17:02:54", is Paris time (CET/CEST)."""
    try:
        parsed = parse_datetime(date.strip())
    except (ValueError, OverflowError) as err:
        raise ValueError(f"Invalid SendinBlue date {date!r}") from err
    if parsed is None:
        raise ValueError(f"Invalid SendinBlue date {date!r}")
    if django_timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=DATE_TIMEZONE)
    return parsed


def event_metadata(esp_event: Mapping[str, Any]) -> dict[str, Any]:
    """Anymail metadata: the JSON Anymail sent in the X-Mailin-custom header, echoed back."""
    custom = optional_str(esp_event, "X-Mailin-custom")
    if custom is None:
        return {}
    try:
        metadata = json.loads(custom)
    except ValueError:
        return {}  # some other X-Mailin-custom value (e.g., set in extra_headers)
    return metadata if isinstance(metadata, dict) else {}


def event_tags(esp_event: Mapping[str, Any]) -> list[str]:
    """The message's tags: a "tags" list, or the older single "tag" string.

    (Newer payloads may also carry "tag" as a JSON-encoded list, like '["welcome"]'.)
    """
    tags = esp_event.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise ValueError("SendinBlue field 'tags' should be a list of strings")
        return [tag for tag in tags if tag]
    tag = optional_str(esp_event, "tag")
    if tag is None:
        return []
    if tag.startswith("["):
        try:
            decoded = json.loads(tag)
        except ValueError:
            decoded = None
        if isinstance(decoded, list) and all(isinstance(item, str) for item in decoded):
            return [item for item in decoded if item]
    return [tag]
