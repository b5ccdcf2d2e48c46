"""What every Anymail webhook view does before and after the ESP-specific parsing.

Order matters for security: basic auth before reading any of the body; the body read within a
size cap; the ESP's signature checked before parsing; parse the whole body before calling any
receiver. The answer is chosen for what the ESP does with it: 400 for what can never succeed
(bad auth, a malformed body), 503 for what may succeed on a retry, never an unhandled 500.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import warnings
from collections.abc import Callable, Iterable
from email.errors import MessageError
from typing import Any, TypeVar

from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View

from ..conf import cached_settings
from ..exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from ..signals import AnymailEvent, AnymailTrackingEvent, EventType, inbound
from . import dedup
from .digests import sha256
from .limits import INBOUND_MAX_BODY_SIZE, TRACKING_MAX_BODY_SIZE, BodyTooLarge, read_body

logger = logging.getLogger("anymail.webhooks")

#: The kind of event an ESP's converter makes (for normalize_event's type)
EventT = TypeVar("EventT", bound=AnymailEvent)


class AnymailBasicAuthMixin:
    """Checks WEBHOOK_SECRET ("user:pass", or a list of them) as HTTP basic auth."""

    warn_if_no_basic_auth = True  #: ESPs whose own signature suffices may turn the warning off
    #: For ESPs that send credentials only when challenged: a request with no Authorization
    #: at all gets a 401 asking for basic auth (wrong credentials are still a 400)
    basic_auth_challenge = False
    webhook_secret: str | list[str] | None = None  # allows as_view(webhook_secret=...)

    def __init__(self, **kwargs: Any) -> None:
        secret = cached_settings.get_anymail_setting("webhook_secret", default=[], kwargs=kwargs)
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


class AnymailBaseWebhookView(AnymailBasicAuthMixin, View):
    """Base for tracking and inbound webhooks: authenticate, parse, send one signal per event.

    An ESP view sets ``esp_name`` and ``signal``, implements ``parse_events(request)``, and
    overrides ``validate_request(request)`` if the ESP signs its webhooks (setting
    ``signature_configured`` when a signing key is set). Its answer tells the ESP what to do:

    - 400 for a request that failed authentication or can never be parsed (retrying is useless);
    - 413 for a body over the size limit;
    - 503 (with Retry-After) for anything that may work later: a receiver raised, or a
      dependency failed while parsing. ESPs retry 5xx answers; several drop an event on a 4xx.
    """

    esp_name = "ESP"
    signal: Any = None  # anymail.signals.tracking or .inbound
    http_method_names = ["post", "head", "options"]
    #: The status for a call that can never succeed, e.g. a malformed body: 400, unless the
    #: ESP has its own "don't retry" status
    refused_status = 400
    #: The status asking the ESP to try again later: 503, unless the ESP wants another
    retry_status = 503
    #: Whether the ESP's own signature authenticates requests (set by views that check one)
    signature_configured = False
    #: Whether requests carry whole messages, so get INBOUND_MAX_BODY_SIZE rather than
    #: TRACKING_MAX_BODY_SIZE (None: when ``signal`` is the inbound signal)
    carries_inbound_mail: bool | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        carries_inbound_mail = self.carries_inbound_mail
        if carries_inbound_mail is None:
            carries_inbound_mail = self.signal is inbound
        # (Django makes a view instance per request: settings are looked up once, not per call)
        self.max_body_size = (
            cached_settings.get_anymail_setting(
                "inbound_max_body_size", default=INBOUND_MAX_BODY_SIZE
            )
            if carries_inbound_mail
            else cached_settings.get_anymail_setting(
                "tracking_max_body_size", default=TRACKING_MAX_BODY_SIZE
            )
        )
        self.require_authentication = cached_settings.get_anymail_setting(
            "webhook_require_authentication", default=False
        )
        self.deduplicate = cached_settings.get_anymail_setting(
            "deduplicate_webhook_events", default=False
        )

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """The view function, exempt from CSRF checks (ESPs can't send Django's CSRF token).

        (Marked once, here: method_decorator(csrf_exempt) on dispatch would wrap the method
        again on every request.)
        """
        return csrf_exempt(super().as_view(**initkwargs))

    @classmethod
    def signature_key_is_configured(cls) -> bool:
        """Whether settings give this ESP a webhook signing key (for the system check)."""
        return False

    @classmethod
    def check_settings(cls) -> list[Any]:
        """Django system check messages about this view's settings, when its url is routed."""
        return []

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Some ESPs check the url with a HEAD request before they start posting to it
        return HttpResponse()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.require_authentication and not (self.basic_auth or self.signature_configured):
            # Fail closed, but with a 5xx: the ESP keeps the events until this is fixed
            logger.error(
                "%s webhook refused: WEBHOOK_REQUIRE_AUTHENTICATION is set, but neither "
                "WEBHOOK_SECRET nor the ESP's webhook signing key is configured",
                self.esp_name,
            )
            return self.retry_later("Webhook authentication is not configured")
        if (
            self.basic_auth_challenge
            and self.basic_auth
            and "HTTP_AUTHORIZATION" not in request.META
        ):
            response = HttpResponse("Unauthorized", status=401)
            response["WWW-Authenticate"] = 'Basic realm="Anymail WEBHOOK_SECRET"'
            return response
        self.validate_basic_auth(request)  # from the headers alone: no body byte read yet
        try:
            # (views with limits.SpooledBodyMixin read it into temporary files)
            read_body(request, self.max_body_size, spool=getattr(self, "spool_body", False))
        except BodyTooLarge as err:
            logger.warning("%s webhook refused: %s", self.esp_name, err)
            return HttpResponse(str(err), status=413)
        except (ValueError, MultiPartParserError) as err:
            logger.warning("Malformed %s webhook body: %s", self.esp_name, err)
            return self.refuse(f"Malformed {self.esp_name} webhook payload")
        self.run_validators(request)
        try:
            events = list(self.parse_events(request))
        except AnymailWebhookValidationFailure:
            raise
        except AnymailConfigurationError as err:
            # E.g., an inbound route pointed at the tracking url: ESP dashboards show the
            # response, so say what's wrong there too (these messages hold no secrets)
            logger.warning("%s webhook misconfigured: %s", self.esp_name, err)
            return self.refuse(str(err))
        except MALFORMED_PAYLOAD_ERRORS as err:  # can never parse: retrying won't help
            logger.warning("Malformed %s webhook payload: %s", self.esp_name, err, exc_info=True)
            return self.refuse(f"Malformed {self.esp_name} webhook payload")
        except Exception:  # a dependency failed (storage, network, memory): may work later
            logger.exception("Error handling a %s webhook; answering 503", self.esp_name)
            return self.retry_later(f"Error processing {self.esp_name} webhook")
        if not self.deliver_events(events):
            return self.retry_later("Error processing webhook event")
        return HttpResponse()

    def refuse(self, reason: str) -> HttpResponse:
        """The answer to a call that can never succeed (400, or what the ESP reads as final)."""
        return HttpResponse(reason, status=self.refused_status)

    def retry_later(self, reason: str, retry_after: int = 60) -> HttpResponse:
        """The answer asking the ESP to try again (those that read Retry-After wait that long)."""
        response = HttpResponse(reason, status=self.retry_status)
        response["Retry-After"] = str(retry_after)
        return response

    def deliver_events(self, events: list[AnymailEvent]) -> bool:
        """Send each event to every receiver; False if any receiver raised.

        Every event reaches every receiver even when some raise (the ESP will retry the whole
        batch: receivers recognize events they've handled by ``event_id``).
        """
        for event in events:
            if not event.event_id:
                event.event_id = stable_event_id(event, self.esp_name)
        deliveries = dedup.BatchDeliveries(events) if self.deduplicate else None
        dispatch = BatchDispatch(sender=self.__class__, esp_name=self.esp_name)
        all_ok = True
        for event in events:
            if deliveries is not None and deliveries.already_delivered(event):
                continue
            errors = dispatch.send(self.signal_for_event(event), event)
            for error in errors:
                logger.error(
                    "Error in a receiver of a %s event (event_id %s) from %s; answering 503 "
                    "so the ESP retries",
                    event.event_type,
                    event.event_id,
                    self.esp_name,
                    exc_info=(type(error), error, error.__traceback__),
                )
            if errors:
                all_ok = False
            elif deliveries is not None:
                deliveries.remember(event)
        return all_ok

    def normalize_event(
        self, convert: Callable[[Any], EventT], esp_event: Any
    ) -> EventT | AnymailTrackingEvent:
        """convert(esp_event), or an "unknown" event holding esp_event if it can't be read.

        For ESPs that post batches: one odd event must not cost the others (the whole batch
        would fail on every retry). Its raw data reaches receivers, and the logs.
        """
        try:
            return convert(esp_event)
        except MALFORMED_PAYLOAD_ERRORS as err:
            return self.unreadable_event(esp_event, err)

    def normalize_events(
        self, convert: Callable[[Any], EventT], esp_events: Iterable[Any]
    ) -> list[EventT | AnymailTrackingEvent]:
        """normalize_event(convert, esp_event) for each of a batch's events, in one loop."""
        events: list[EventT | AnymailTrackingEvent] = []
        append = events.append
        for esp_event in esp_events:
            try:
                append(convert(esp_event))
            except MALFORMED_PAYLOAD_ERRORS as err:
                append(self.unreadable_event(esp_event, err))
        return events

    def unreadable_event(self, esp_event: Any, error: Exception) -> AnymailTrackingEvent:
        """The "unknown" event that stands for an ESP event convert() couldn't read (logged)."""
        logger.warning(
            "Could not normalize a %s event (delivered as event_type 'unknown'): %s; "
            "event data: %.2000r",
            self.esp_name,
            error,
            esp_event,
        )
        return AnymailTrackingEvent.create(event_type=EventType.UNKNOWN, esp_event=esp_event)

    def run_validators(self, request: HttpRequest) -> None:
        """The ESP's own checks (e.g., a signature); any failure is a 400 before parsing.

        Every ``validate_request`` in the class hierarchy runs (base classes first), so a
        subclass that adds a check of its own can't accidentally skip its parent's signature
        check by not calling super().
        """
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


class BatchDispatch:
    """Sends events' signals as Signal.send_robust() does, looking up receivers once per batch.

    send_robust() finds a signal's live receivers for the sender (resolving weak references,
    matching senders) on every call: per event, that's most of what delivering a batch costs.
    Here the lookup is reused from one event to the next for as long as the signal's
    connections stay the same (a receiver may connect or disconnect others: the next event
    sees the change). A signal with async receivers goes through send_robust() itself, which
    runs them in an event loop.
    """

    def __init__(self, sender: type, esp_name: str) -> None:
        self.sender = sender
        self.esp_name = esp_name
        #: signal -> (its connections when looked up, its live receivers or None)
        self.lookups: dict[Signal, tuple[list[Any], list[Callable[..., Any]] | None]] = {}

    def send(self, signal: Signal, event: AnymailEvent) -> list[Exception]:
        """Call every receiver of signal with event; what they raised (the others still run)."""
        lookup = self.lookups.get(signal)
        if lookup is None or lookup[0] != signal.receivers:
            receivers = live_sync_receivers(signal, self.sender)
            lookup = self.lookups[signal] = (list(signal.receivers), receivers)
        receivers = lookup[1]
        if receivers is None:
            results = signal.send_robust(sender=self.sender, event=event, esp_name=self.esp_name)
            return [result for _, result in results if isinstance(result, Exception)]
        errors = []
        for receiver in receivers:
            try:
                receiver(signal=signal, sender=self.sender, event=event, esp_name=self.esp_name)
            except Exception as err:
                log_robust_failure(signal, receiver, err)
                errors.append(err)
        return errors


def live_sync_receivers(signal: Signal, sender: Any) -> list[Callable[..., Any]] | None:
    """signal's live receivers for sender, as send_robust() calls them; None if any is async
    (or this Django's Signal is unfamiliar), for send_robust() itself to handle."""
    try:
        # (Django's own lookup: weak references resolved, sender matched, its cache used)
        live: Any = signal._live_receivers(sender)
    except (AttributeError, TypeError):
        return None
    if isinstance(live, tuple) and len(live) == 2:  # Django 5.0 and later: (sync, async)
        sync_receivers, async_receivers = live
        return None if async_receivers else list(sync_receivers)
    if isinstance(live, list):  # Django 4.2 (no async receivers)
        return live
    return None


def log_robust_failure(signal: Signal, receiver: Any, error: Exception) -> None:
    """The log entry Django's send_robust() makes for a receiver that raised (if it makes one)."""
    log_failure = getattr(signal, "_log_robust_failure", None)
    if log_failure is not None:
        log_failure(receiver, error)
    else:  # (Django 4.2 logs inline in send_robust(), in these words)
        logging.getLogger("django.dispatch").error(
            "Error calling %s in Signal.send_robust() (%s)",
            getattr(receiver, "__qualname__", repr(receiver)),
            error,
            exc_info=error,
        )


#: What parse_events raises for a payload that can never be parsed (so a 400, not a 503)
MALFORMED_PAYLOAD_ERRORS = (
    ValueError,  # including JSON, base64 and Unicode decoding errors
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    RecursionError,  # absurdly deep JSON
    MessageError,
)


#: The canonical JSON that event-id digests are taken of (one encoder, made once: json.dumps
#: with options builds a new one on every call)
CANONICAL_JSON = json.JSONEncoder(sort_keys=True, default=str)


def stable_event_id(event: AnymailEvent, esp_name: str) -> str | None:
    """An id for an event the ESP gave none, the same each time the ESP posts that event.

    A digest of the ESP's own event data (which, for inbound mail, includes the envelope, so
    one message relayed to two recipients gets two ids); of the message only when the ESP's
    data isn't plain data.
    """
    source = event.esp_event
    message = getattr(event, "message", None)  # (an inbound event's)
    if isinstance(source, MultiValueDict):
        source = {key: source.getlist(key) for key in sorted(source)}
    try:
        if isinstance(source, bytes):
            data = source
        elif source is None and message is not None:
            data = message.as_bytes()
        elif source is None or isinstance(source, (dict, list, str, int, float, bool)):
            data = CANONICAL_JSON.encode(source).encode("utf-8", "replace")
        elif message is not None:  # e.g., esp_event is the request
            data = message.as_bytes()
        else:
            return None
    except Exception:  # an unusual esp_event or message: go without an id rather than fail
        return None
    return data_event_id(data, esp_name)


def data_event_id(data: bytes, esp_name: str) -> str:
    """The event_id Anymail gives an event it knows by data (its own digest of it, say)."""
    digest = sha256(esp_name.encode("utf-8") + b"\0" + data).hexdigest()
    return f"anymail-{digest[:40]}"


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


#: Where parse_json_body keeps a request's parsed body (with the body it was parsed from)
PARSED_JSON_ATTR = "_anymail_parsed_json"


def parse_json_body(
    request: HttpRequest, expected_type: type | tuple[type, ...] = (dict, list)
) -> Any:
    """The request body as JSON of the expected type; ValueError (so a 400) otherwise.

    Parsed once per request (a view may read it to check a signature, then for its events).
    """
    body = request.body
    parsed = getattr(request, PARSED_JSON_ATTR, None)
    if parsed is not None and parsed[0] is body:
        data = parsed[1]
    else:
        data = json.loads(body.decode("utf-8"))
        setattr(request, PARSED_JSON_ATTR, (body, data))
    if not isinstance(data, expected_type):
        raise ValueError(f"Expected JSON {expected_type}, got {type(data).__name__}")
    return data
