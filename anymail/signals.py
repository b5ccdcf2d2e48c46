"""Anymail's signals and the normalized event objects they deliver."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.dispatch import Signal
from django.utils import timezone as django_timezone

#: Sent for each tracking event: receivers take (sender, event, esp_name, **kwargs).
tracking = Signal()

#: Sent for each inbound message: receivers take (sender, event, esp_name, **kwargs).
inbound = Signal()

#: Sent before each message is sent: receivers take (sender, message, esp_name, **kwargs);
#: they may modify the message, or raise AnymailCancelSend to drop it.
pre_send = Signal()

#: Sent after each message is sent: receivers take (sender, message, status, esp_name, **kwargs).
post_send = Signal()


class EventType:
    """The normalized ``event_type`` values."""

    # Delivery (and non-delivery)
    QUEUED = "queued"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    BOUNCED = "bounced"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    AUTORESPONDED = "autoresponded"
    # Engagement
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    SUBSCRIBED = "subscribed"
    # Inbound
    INBOUND = "inbound"
    INBOUND_FAILED = "inbound_failed"
    # Anything else
    UNKNOWN = "unknown"


class RejectReason:
    """The normalized ``reject_reason`` values for bounced and rejected events."""

    INVALID = "invalid"
    BOUNCED = "bounced"
    TIMED_OUT = "timed_out"
    BLOCKED = "blocked"
    SPAM = "spam"
    UNSUBSCRIBED = "unsubscribed"
    OTHER = "other"


def _aware(timestamp: datetime | None) -> datetime | None:
    # ESP modules should already give aware datetimes; a naive one is taken as UTC,
    # which is what every supported ESP uses, so receivers never see a naive value.
    if timestamp is not None and django_timezone.is_naive(timestamp):
        return timestamp.replace(tzinfo=timezone.utc)
    return timestamp


class AnymailEvent:
    """What every normalized webhook event has."""

    def __init__(
        self,
        event_type: str,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        **kwargs: Any,
    ) -> None:
        self.event_type = event_type
        self.timestamp = _aware(timestamp)
        self.event_id = event_id
        self.esp_event = esp_event

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{key}={value!r}" for key, value in vars(self).items() if key != "esp_event"
        )
        return f"{self.__class__.__name__}({fields})"


class AnymailTrackingEvent(AnymailEvent):
    """A normalized status-tracking event for a sent message."""

    def __init__(
        self,
        event_type: str,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        message_id: str | None = None,
        recipient: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        reject_reason: str | None = None,
        description: str | None = None,
        mta_response: str | None = None,
        user_agent: str | None = None,
        click_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(event_type, timestamp, event_id, esp_event, **kwargs)
        self.message_id = message_id
        self.recipient = recipient
        self.metadata = metadata if metadata is not None else {}
        self.tags = tags if tags is not None else []
        self.reject_reason = reject_reason
        self.description = description
        self.mta_response = mta_response
        self.user_agent = user_agent
        self.click_url = click_url


class AnymailInboundEvent(AnymailEvent):
    """A normalized inbound-message event; the message itself is in ``message``."""

    def __init__(
        self,
        event_type: str = EventType.INBOUND,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        message: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(event_type, timestamp, event_id, esp_event, **kwargs)
        self.message = message
