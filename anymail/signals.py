"""Anymail's signals and the normalized event objects they deliver."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from django.dispatch import Signal
from django.utils import timezone as django_timezone

if TYPE_CHECKING:
    from .inbound import AnymailInboundMessage

__all__ = [
    "AnymailEvent",
    "AnymailInboundEvent",
    "AnymailTrackingEvent",
    "EventType",
    "RejectReason",
    "inbound",
    "post_send",
    "pre_send",
    "tracking",
]

#: Sent for each tracking event: receivers take (sender, event, esp_name, **kwargs).
tracking = Signal()

#: Sent for each inbound message: receivers take (sender, event, esp_name, **kwargs).
inbound = Signal()

#: Sent before each message is sent: receivers take (sender, message, esp_name, **kwargs);
#: they may modify the message, or raise AnymailCancelSend to drop it.
pre_send = Signal()

#: Sent after each message is sent: receivers take (sender, message, status, esp_name, **kwargs).
post_send = Signal()


class _PlainStrEnum(str, Enum):
    """enum.StrEnum for Python 3.10: str() and format() give the plain value.

    A bare (str, Enum) would print as "EventType.SENT" in f-strings and logs, which breaks
    code written for the documented plain strings.
    """

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


if sys.version_info >= (3, 11):
    from enum import StrEnum as _StrEnum
else:
    _StrEnum = _PlainStrEnum


class EventType(_StrEnum):
    """The normalized ``event_type`` values.

    Members are strs, so they compare equal to (and serialize as) the documented strings:
    ``EventType.SENT == "sent"``, ``f"{EventType.SENT}" == "sent"``.
    """

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


class RejectReason(_StrEnum):
    """The normalized ``reject_reason`` values for bounced and rejected events.

    Members are strs that compare equal to the documented strings, like EventType's.
    """

    INVALID = "invalid"
    BOUNCED = "bounced"
    TIMED_OUT = "timed_out"
    BLOCKED = "blocked"
    SPAM = "spam"
    UNSUBSCRIBED = "unsubscribed"
    OTHER = "other"


def _event_type(value: EventType | str) -> EventType:
    # Receivers only ever see documented values: a string no member has (say, a custom ESP
    # module's typo) becomes "unknown", just as an ESP event Anymail can't normalize does.
    try:
        return EventType(value)
    except ValueError:
        return EventType.UNKNOWN


def _reject_reason(value: RejectReason | str | None) -> RejectReason | None:
    # Likewise, an undocumented reject reason is "other" (None stays None: no rejection).
    if value is None:
        return None
    try:
        return RejectReason(value)
    except ValueError:
        return RejectReason.OTHER


def _aware(timestamp: datetime | None) -> datetime | None:
    # ESP modules should already give aware datetimes; a naive one is taken as UTC,
    # which is what every supported ESP uses, so receivers never see a naive value.
    if timestamp is not None and django_timezone.is_naive(timestamp):
        return timestamp.replace(tzinfo=timezone.utc)
    return timestamp


class AnymailEvent:
    """What every normalized webhook event has.

    ``event_type`` may be given as an EventType or its string; it is always stored as an
    EventType (an unrecognized string as EventType.UNKNOWN).
    """

    event_type: EventType
    timestamp: datetime | None
    event_id: str | None
    esp_event: Any

    def __init__(
        self,
        event_type: EventType | str,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        **kwargs: Any,
    ) -> None:
        self.event_type = _event_type(event_type)
        self.timestamp = _aware(timestamp)
        self.event_id = event_id
        self.esp_event = esp_event

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{key}={value!r}" for key, value in vars(self).items() if key != "esp_event"
        )
        return f"{self.__class__.__name__}({fields})"


class AnymailTrackingEvent(AnymailEvent):
    """A normalized status-tracking event for a sent message.

    ``reject_reason`` is stored as a RejectReason (an unrecognized string as OTHER) or None.
    """

    message_id: str | None
    recipient: str | None
    metadata: dict[str, Any]
    tags: list[str]
    reject_reason: RejectReason | None
    description: str | None
    mta_response: str | None
    user_agent: str | None
    click_url: str | None

    def __init__(
        self,
        event_type: EventType | str,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        message_id: str | None = None,
        recipient: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        reject_reason: RejectReason | str | None = None,
        description: str | None = None,
        mta_response: str | None = None,
        user_agent: str | None = None,
        click_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        # (AnymailEvent.__init__'s work, inline, and the usual values let through without a
        # call: webhooks make one of these per event)
        self.event_type = (
            event_type if event_type.__class__ is EventType else _event_type(event_type)
        )
        self.timestamp = (
            timestamp
            if timestamp is None or timestamp.tzinfo is timezone.utc
            else _aware(timestamp)
        )
        self.event_id = event_id
        self.esp_event = esp_event
        self.message_id = message_id
        self.recipient = recipient
        self.metadata = metadata if metadata is not None else {}
        self.tags = tags if tags is not None else []
        self.reject_reason = (
            reject_reason
            if reject_reason is None or reject_reason.__class__ is RejectReason
            else _reject_reason(reject_reason)
        )
        self.description = description
        self.mta_response = mta_response
        self.user_agent = user_agent
        self.click_url = click_url

    @classmethod
    def create(
        cls,
        event_type: EventType | str,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        message_id: str | None = None,
        recipient: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        reject_reason: RejectReason | str | None = None,
        description: str | None = None,
        mta_response: str | None = None,
        user_agent: str | None = None,
        click_url: str | None = None,
    ) -> AnymailTrackingEvent:
        """The same as calling the class with these arguments, but quicker (for webhooks,
        which make one per event): Python hands keyword arguments for a class's __init__
        over in a dict it builds for each call, but passes them to a method directly."""
        event = cls.__new__(cls)
        cls.__init__(
            event,
            event_type,
            timestamp,
            event_id,
            esp_event,
            message_id,
            recipient,
            metadata,
            tags,
            reject_reason,
            description,
            mta_response,
            user_agent,
            click_url,
        )
        return event


class AnymailInboundEvent(AnymailEvent):
    """A normalized inbound-message event; the message itself is in ``message``."""

    message: AnymailInboundMessage | None

    def __init__(
        self,
        event_type: EventType | str = EventType.INBOUND,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        esp_event: Any = None,
        message: AnymailInboundMessage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(event_type, timestamp, event_id, esp_event, **kwargs)
        self.message = message
