"""What every Anymail webhook view does before and after the ESP-specific parsing.

Order matters for security: authenticate (basic auth, then the ESP's signature) before reading
the body at all; parse the whole body before calling any receiver; answer 400, never 500, to
anything malformed, so a hostile caller cannot learn about (or crash) the app.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import warnings
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View

from ..conf import get_anymail_setting
from ..exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from ..signals import AnymailEvent

logger = logging.getLogger("anymail.webhooks")


class AnymailBasicAuthMixin:
    """Checks WEBHOOK_SECRET ("user:pass", or a list of them) as HTTP basic auth."""

    warn_if_no_basic_auth = True  #: ESPs whose own signature suffices may turn the warning off
    #: For ESPs that send credentials only when challenged: a request with no Authorization
    #: at all gets a 401 asking for basic auth (wrong credentials are still a 400)
    basic_auth_challenge = False
    webhook_secret: str | list[str] | None = None  # allows as_view(webhook_secret=...)

    def __init__(self, **kwargs: Any) -> None:
        secret = get_anymail_setting("webhook_secret", default=[], kwargs=kwargs)
        secrets = [secret] if isinstance(secret, str) else list(secret or [])
        # An empty secret would match a request with no auth at all: treat it as no secret
        self.basic_auth: list[str] = [allowed for allowed in secrets if allowed]
        if self.warn_if_no_basic_auth and not self.basic_auth:
            warnings.warn(
                "Your Anymail webhooks are insecure and open to anyone on the web. "
                "You should set WEBHOOK_SECRET in your ANYMAIL settings. "
                "See 'Securing webhooks' in the Anymail docs.",
                AnymailInsecureWebhookWarning,
                stacklevel=2,
            )
        super().__init__(**kwargs)

    def validate_basic_auth(self, request: HttpRequest) -> None:
        if not self.basic_auth:
            return
        given = (request_basic_auth(request) or "").encode("utf-8")
        # Compare with every allowed secret, in constant time, so timing reveals nothing
        matches = [
            hmac.compare_digest(given, allowed.encode("utf-8")) for allowed in self.basic_auth
        ]
        if not any(matches):
            raise AnymailWebhookValidationFailure(
                "Missing or invalid basic auth in Anymail webhook "
                f"{getattr(self, 'esp_name', '')}".rstrip()
            )


def request_basic_auth(request: HttpRequest) -> str | None:
    """The "user:pass" from a request's HTTP basic Authorization header, or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        return base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def request_uri(request: HttpRequest) -> str:
    """The request's absolute URI, with any basic auth credentials put back into it.

    Some ESPs (Mandrill) sign the exact url they posted to, "user:pass@" included, which
    Django never sees in the url.
    """
    url = request.build_absolute_uri()
    credentials = request_basic_auth(request)
    if credentials:
        scheme, separator, rest = url.partition("://")
        url = f"{scheme}{separator}{credentials}@{rest}"
    return url


@method_decorator(csrf_exempt, name="dispatch")
class AnymailBaseWebhookView(AnymailBasicAuthMixin, View):
    """Base for tracking and inbound webhooks: authenticate, parse, send one signal per event.

    An ESP view sets ``esp_name`` and ``signal``, implements ``parse_events(request)``, and
    overrides ``validate_request(request)`` if the ESP signs its webhooks.
    """

    esp_name = "ESP"
    signal: Any = None  # anymail.signals.tracking or .inbound
    http_method_names = ["post", "head", "options"]

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Some ESPs check the url with a HEAD request before they start posting to it
        return HttpResponse()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            self.basic_auth_challenge
            and self.basic_auth
            and "HTTP_AUTHORIZATION" not in request.META
        ):
            response = HttpResponse("Unauthorized", status=401)
            response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
            return response
        self.run_validators(request)
        try:
            events = list(self.parse_events(request))
        except AnymailWebhookValidationFailure:
            raise
        except AnymailConfigurationError as err:
            # E.g., an inbound route pointed at the tracking url: ESP dashboards show the
            # response, so say what's wrong there too (these messages hold no secrets)
            logger.warning("%s webhook misconfigured: %s", self.esp_name, err)
            return HttpResponseBadRequest(str(err))
        except Exception as err:  # whatever the body, never a 500
            logger.warning("Malformed %s webhook payload: %s", self.esp_name, err, exc_info=True)
            return HttpResponseBadRequest(f"Malformed {self.esp_name} webhook payload")
        for event in events:
            try:
                self.signal_for_event(event).send(
                    sender=self.__class__, event=event, esp_name=self.esp_name
                )
            except Exception:  # the documented answer is a 400, so the ESP retries
                logger.exception(
                    "Error in a receiver of a %s event from %s; answering 400 so the ESP retries",
                    event.event_type,
                    self.esp_name,
                )
                return HttpResponseBadRequest("Error processing webhook event")
        return HttpResponse()

    def run_validators(self, request: HttpRequest) -> None:
        """Basic auth, then the ESP's own check; any failure is a 400 before parsing.

        Every ``validate_request`` in the class hierarchy runs (base classes first), so a
        subclass that adds a check of its own can't accidentally skip its parent's signature
        check by not calling super().
        """
        self.validate_basic_auth(request)
        try:
            for validate_request in reversed(collect_all_methods(type(self), "validate_request")):
                validate_request(self, request)
        except AnymailWebhookValidationFailure:
            raise
        except Exception as err:  # a signature we cannot even read is invalid
            raise AnymailWebhookValidationFailure(
                f"Could not verify {self.esp_name} webhook signature: {err}"
            ) from err

    def validate_request(self, request: HttpRequest) -> None:
        """ESP-specific authentication (e.g., a signature check); raise on failure."""

    def signal_for_event(self, event: AnymailEvent) -> Any:
        """The signal to send event on: ``self.signal``, unless one url takes both kinds."""
        return self.signal

    def parse_events(self, request: HttpRequest) -> Iterable[AnymailEvent]:
        """Return the normalized events in request; raise anything for a malformed payload."""
        raise NotImplementedError(f"{self.__class__.__name__} must implement parse_events")


def collect_all_methods(cls: type, method_name: str) -> list[Any]:
    """Every definition of method_name in cls and its bases, in MRO order, without repeats.

    (The functions themselves, unbound.)
    """
    methods = []
    for klass in cls.__mro__:
        method = klass.__dict__.get(method_name)
        if method is not None and method not in methods:
            methods.append(method)
    return methods


def parse_json_body(request: HttpRequest, expected_type: type | tuple[type, ...] = (dict, list)):
    """The request body as JSON of the expected type; ValueError (so a 400) otherwise."""
    data = json.loads(request.body.decode("utf-8"))
    if not isinstance(data, expected_type):
        raise ValueError(f"Expected JSON {expected_type}, got {type(data).__name__}")
    return data
