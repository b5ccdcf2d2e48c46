"""A development backend: prints each message, and the Anymail params it would send, to stdout.

Like the test backend, every message gets an ``anymail_status`` with a unique message_id, so
code that reads it works the same in development as in production.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..addresses import EmailAddress
from .base import BasePayload
from .test import AnymailTestBackendOptions
from .test import EmailBackend as TestEmailBackend

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)


class TextStream(Protocol):
    """Where the console backend writes: all it needs is write() and flush() (a text file)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


class ConsoleBackendOptions(AnymailTestBackendOptions, total=False):
    """The console backend's options: the test backend's, and the stream to write to."""

    stream: TextStream  #: default: sys.stdout


class EmailBackend(TestEmailBackend):
    esp_name = "Console"

    def __init__(self, **kwargs: Unpack[ConsoleBackendOptions]) -> None:
        options = cast("dict[str, Any]", kwargs)  # (the rest goes on to the test backend)
        self.stream: TextStream = options.pop("stream", sys.stdout)
        self._lock = threading.RLock()
        super().__init__(**options)

    def new_message_id(self, message: Any) -> str:
        # Unique across runs, like a real ESP's (the outbox index restarts each process)
        return uuid.uuid4().hex

    def post_to_esp(self, payload: BasePayload, message: Any) -> Any:
        response = super().post_to_esp(payload, message)
        message_id: str = getattr(payload, "message_id")  # noqa: B009 (set by super())
        with self._lock:
            self.stream.write(self.format_message(message, payload, message_id))
            self.stream.flush()
        return response

    def format_message(self, message: Any, payload: BasePayload, message_id: str) -> str:
        mime = message.message().as_bytes().decode("utf-8", errors="replace")
        payload_params: dict[str, Any] = getattr(payload, "params", {})
        params = "\n".join(
            f"  {name}: {readable(value)!r}"
            for name, value in payload_params.items()
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
