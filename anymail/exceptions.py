"""Every error and warning Anymail raises.

Errors carry what went wrong *and* where: the ESP, the problem field or address, and, for API
failures, the ESP's own error text, so a stack trace alone is enough to fix the problem.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from requests import HTTPError

__all__ = [
    "AnymailAPIError",
    "AnymailCancelSend",
    "AnymailConfigurationError",
    "AnymailDeprecationWarning",
    "AnymailError",
    "AnymailImproperlyInstalled",
    "AnymailInsecureWebhookWarning",
    "AnymailInvalidAddress",
    "AnymailRecipientsRefused",
    "AnymailRequestsAPIError",
    "AnymailSerializationError",
    "AnymailUnsupportedFeature",
    "AnymailWarning",
    "AnymailWebhookValidationFailure",
]


class AnymailError(Exception):
    """Base for every Anymail error raised while sending or receiving.

    Optional keyword args describe the context (``backend``, ``email_message``, ``payload``,
    ``response``, ``esp_name``, and ``raised_from``, the lower-level error behind this one) and
    are kept as attributes for callers that want to inspect them.
    """

    def __init__(
        self,
        *args: Any,
        backend: Any = None,
        email_message: Any = None,
        payload: Any = None,
        response: Any = None,
        esp_name: str | None = None,
        status_code: int | None = None,
        raised_from: BaseException | None = None,
    ) -> None:
        super().__init__(*args)
        self.raised_from = raised_from
        self.backend = backend
        self.email_message = email_message
        self.payload = payload
        self.response = response
        self.esp_name = esp_name or getattr(backend, "esp_name", None)
        if status_code is None and response is not None:
            status_code = getattr(response, "status_code", None)
        self.status_code = status_code

    def __str__(self) -> str:
        parts = [" ".join(str(arg) for arg in self.args)]
        described_response = self.describe_response()
        if described_response:
            parts.append(described_response)
        if self.raised_from is not None and str(self.raised_from) not in parts[0]:
            parts.append(f"{type(self.raised_from).__name__}: {self.raised_from}")
        return "\n".join(part for part in parts if part)

    def describe_response(self) -> str | None:
        """The ESP's own words about the failure, so users need not dig through logs."""
        response = self.response
        if response is None:
            return None
        text = getattr(response, "text", None)
        if text is None:
            return None
        try:
            # Pretty-print JSON error bodies, which is what most ESPs return
            detail = json.dumps(response.json(), indent=2, ensure_ascii=False)
        except (ValueError, AttributeError, TypeError):
            detail = text
        if len(detail) > 2000:
            detail = detail[:2000] + "... (truncated)"
        heading = f"{self.esp_name or 'ESP'} API response {self.status_code}"
        if heading in " ".join(str(arg) for arg in self.args):
            heading = "Response body"  # the message already said which response it was
        return f"{heading}:\n{detail}"


class AnymailAPIError(AnymailError):
    """The ESP's API refused the send or could not be reached."""


class AnymailRequestsAPIError(AnymailAPIError, HTTPError):
    """An API error from a Requests-based backend (also a ``requests.HTTPError``).

    When the ESP couldn't be reached, the error is also an instance of the ``requests``
    exception that said so (``Timeout``, ``ConnectionError``...), so code that catches those
    around ``send()`` keeps working.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # RequestException's own __init__ would swallow our context kwargs; ours keeps them all.
        super().__init__(*args, **kwargs)
        self.request = getattr(self.response, "request", None)


class AnymailRecipientsRefused(AnymailError):
    """The ESP rejected every recipient of the message at send time."""

    def __init__(self, message: str | None = None, *args: Any, **kwargs: Any) -> None:
        if message is None:
            message = "All message recipients were rejected or invalid"
        super().__init__(message, *args, **kwargs)


class AnymailInvalidAddress(AnymailError, ValueError):
    """An email address could not be parsed, or is unsafe to send (e.g., contains a newline)."""


class AnymailUnsupportedFeature(AnymailError, ValueError):
    """The message uses a feature the ESP (or Anymail's support for it) cannot send."""


class AnymailSerializationError(AnymailError, TypeError):
    """Message data (usually metadata or merge data) cannot be represented for the ESP."""

    def __init__(
        self,
        message: str | None = None,
        orig_err: BaseException | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if message is None:
            esp_name = kwargs.get("esp_name") or getattr(kwargs.get("backend"), "esp_name", None)
            message = (
                f"Don't know how to send this data to {esp_name or 'the ESP'}. "
                "Try converting it to a string or number first."
            )
        if orig_err is not None:
            message = f"{message}\n{orig_err}"
            kwargs.setdefault("raised_from", orig_err)
        self.orig_err = orig_err
        super().__init__(message, *args, **kwargs)


class AnymailCancelSend(AnymailError):
    """Raised by a pre_send receiver to drop a message silently."""


class AnymailWebhookValidationFailure(AnymailError, SuspiciousOperation):
    """A webhook call failed authentication; Django answers it with a 400."""


class AnymailConfigurationError(ImproperlyConfigured):
    """A required setting is missing or invalid."""


class AnymailImproperlyInstalled(AnymailConfigurationError, ImportError):
    """An ESP's optional package is not installed."""

    def __init__(
        self, missing_package: str, backend: str = "<backend>", install_extra: str | None = None
    ) -> None:
        self.missing_package = missing_package
        self.backend = install_extra or backend  # the pip extra that installs it
        super().__init__(
            f"{missing_package} is not installed, and this ESP needs it. "
            f"Install it with: pip install django-anymail[{self.backend}]"
        )


class _LazyError:
    """Stands in for an optional module that isn't installed, raising its error only when used.

    So a module can say ``boto3 = _LazyError(AnymailImproperlyInstalled("boto3", ...))`` and
    still be imported (e.g., by ``anymail.urls``) by projects that never use that ESP.
    """

    def __init__(self, error: BaseException) -> None:
        object.__setattr__(self, "_error", error)

    def __getattr__(self, name: str) -> Any:
        raise object.__getattribute__(self, "_error")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise object.__getattribute__(self, "_error")

    def __bool__(self) -> bool:
        return False  # so `if boto3:` can test for the real module


class AnymailWarning(Warning):
    """Base for Anymail's warnings."""


class AnymailInsecureWebhookWarning(AnymailWarning):
    """A webhook is running without a WEBHOOK_SECRET, so anyone can post to it."""


class AnymailDeprecationWarning(AnymailWarning, DeprecationWarning):
    """A feature that still works but will be removed."""
