"""A development backend: prints each message, and the Anymail params it would send, to stdout.

Like the test backend, every message gets an ``anymail_status`` with a unique message_id, so
code that reads it works the same in development as in production.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Any

from ..addresses import EmailAddress
from .test import EmailBackend as TestEmailBackend
from .test import TestPayload


class EmailBackend(TestEmailBackend):
    esp_name = "Console"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stream = kwargs.pop("stream", sys.stdout)
        self._lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def new_message_id(self, message: Any) -> str:
        # Unique across runs, like a real ESP's (the outbox index restarts each process)
        return uuid.uuid4().hex

    def post_to_esp(self, payload: TestPayload, message: Any) -> dict[str, Any]:
        response = super().post_to_esp(payload, message)
        with self._lock:
            self.stream.write(self.format_message(message, payload, payload.message_id))
            self.stream.flush()
        return response

    def format_message(self, message: Any, payload: TestPayload, message_id: str) -> str:
        mime = message.message().as_bytes().decode("utf-8", errors="replace")
        params = "\n".join(
            f"  {name}: {readable(value)!r}"
            for name, value in payload.params.items()
            if name not in ("text_body", "html_body")
        )
        return (
            f"{mime}\n----- Anymail send params (message_id {message_id}):\n{params}\n{'-' * 79}\n"
        )


def readable(value: Any) -> Any:
    """Addresses as the text people write them, for printing."""
    if isinstance(value, EmailAddress):
        return value.formatted()
    if isinstance(value, list):
        return [readable(item) for item in value]
    return value
