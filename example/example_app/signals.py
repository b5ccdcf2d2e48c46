"""Receives the normalized events Anymail's tracking webhooks send (deliveries, bounces, ...)."""

import logging
from typing import Any

from django.dispatch import receiver

from anymail.signals import AnymailTrackingEvent, tracking

logger = logging.getLogger(__name__)


@receiver(tracking)
def log_tracking_event(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    """Log each event; a real app might mark a bounced address as undeliverable here."""
    logger.info(
        "%s reports %s for %s (message %s, tags %s)",
        esp_name,
        event.event_type,
        event.recipient,
        event.message_id,
        event.tags,
    )
