"""Recognizing a tracking or inbound event the app has already handled.

ESPs deliver events at least once: a retry after a timeout or a 5xx answer brings events the
app has seen before. Every Anymail event has a stable ``event_id`` (the ESP's, or a digest of
the event), so a receiver can skip repeats::

    from anymail.webhooks.dedup import first_delivery

    @receiver(tracking)
    def handle(sender, event, esp_name, **kwargs):
        if not first_delivery(event):
            return  # handled before
        ...

or the webhook views can do it for every receiver, with ``DEDUPLICATE_WEBHOOK_EVENTS = True``
(an event counts as handled once all its receivers have run without raising). Either way it
relies on Django's cache: see :mod:`anymail.webhooks.replay` about sharing it across processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..conf import cached_settings
from .replay import cache_key, remember_once, webhook_cache

#: How long an event is remembered: longer than any ESP keeps retrying (SendGrid: 72 hours)
DEFAULT_DEDUPLICATION_TIMEOUT = 4 * 24 * 60 * 60

NAMESPACE = "event"


def _key(event: Any) -> str | None:
    event_id = getattr(event, "event_id", None)
    return str(event_id) if event_id else None


def _timeout() -> int:
    timeout: int = cached_settings.get_anymail_setting(
        "webhook_deduplication_timeout", default=DEFAULT_DEDUPLICATION_TIMEOUT
    )
    return timeout


def first_delivery(event: Any) -> bool:
    """True the first time this event is seen (and remembers it); False for a repeat.

    An event without an ``event_id`` always counts as a first delivery.
    """
    key = _key(event)
    return True if key is None else remember_once(NAMESPACE, key, _timeout())


def already_delivered(event: Any) -> bool:
    """Whether remember_delivered() (or first_delivery()) has recorded this event."""
    key = _key(event)
    return key is not None and webhook_cache().get(cache_key(NAMESPACE, key)) is not None


def remember_delivered(event: Any) -> None:
    """Record that this event has been handled."""
    key = _key(event)
    if key is not None:
        webhook_cache().set(cache_key(NAMESPACE, key), True, timeout=_timeout())


class BatchDeliveries:
    """The record of a batch's events, for the webhook views: which were delivered before.

    One cache lookup for the whole batch (one round trip to a shared cache), then each event
    is recorded as it's delivered. Each event's cache key is worked out once.
    """

    def __init__(self, events: Iterable[Any]) -> None:
        self.cache = webhook_cache()
        self.timeout = _timeout()
        self.keys: dict[int, str] = {}  # id(event) -> its cache key (events with an id)
        for event in events:
            key = _key(event)
            if key is not None:
                self.keys[id(event)] = cache_key(NAMESPACE, key)
        found = self.cache.get_many(list(set(self.keys.values()))) if self.keys else {}
        self.delivered = {key for key, value in found.items() if value is not None}

    def already_delivered(self, event: Any) -> bool:
        """Whether event was recorded as delivered (before this batch, or earlier in it)."""
        return self.keys.get(id(event)) in self.delivered

    def remember(self, event: Any) -> None:
        """Record that event has been handled (so a repeat later in the batch is skipped too)."""
        key = self.keys.get(id(event))
        if key is not None:
            self.cache.set(key, True, timeout=self.timeout)
            self.delivered.add(key)
