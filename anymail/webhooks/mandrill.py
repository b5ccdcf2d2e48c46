"""Mandrill webhooks: tracking *and* inbound events, posted to one url.

Spec: Anymail docs 1.5.4 "Mandrill" ("Status tracking and inbound webhooks"). Unlike other ESPs,
Mandrill uses a single url, ``anymail/mandrill/``, for both kinds of events (the older
``anymail/mandrill/tracking/`` url still works, for tracking or inbound). ESP reference: Mandrill
KB "Webhook Format", "Message Event Webhook Format", "Sync Event Webhook Format", "Inbound
Webhook Format" and "Authenticating Webhook Requests".

Mandrill posts a form-encoded ``mandrill_events`` field: a JSON array of up to 1000 events.
Each call is signed (X-Mandrill-Signature) over the exact url Mandrill was given plus the post
fields, so the view must know that url, including any basic-auth credentials in it. Mandrill
retries a batch that fails (any answer but a 2xx, or a timeout) with increasing delays, posting
the same fields to the same url: so the same signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.debug import sensitive_variables

from ..conf import cached_settings, get_anymail_setting
from ..exceptions import AnymailConfigurationError, AnymailWarning, AnymailWebhookValidationFailure
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailEvent,
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    inbound,
    tracking,
)
from ..timestamps import timestamp_to_datetime
from .base import AnymailBaseWebhookView, logger, request_basic_auth, request_uri
from .replay import cache_key, remember_once, webhook_cache

#: MANDRILL_WEBHOOK_REPLAY_WINDOW's default: how long (seconds) a handled call's signature is
#: remembered, so the same call can't be made again
DEFAULT_REPLAY_WINDOW = 24 * 60 * 60

# Message events (Mandrill's "event" field) -> Anymail event_type.
# soft_bounce is 'bounced' (changelog v0.9): Mandrill reports it only after it stops retrying.
EVENT_TYPES = {
    "send": EventType.SENT,
    "deferral": EventType.DEFERRED,
    "hard_bounce": EventType.BOUNCED,
    "soft_bounce": EventType.BOUNCED,
    # Newer (Mailchimp Transactional) accounts can also send "delivered"
    "delivered": EventType.DELIVERED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spam": EventType.COMPLAINED,
    "unsub": EventType.UNSUBSCRIBED,
    "reject": EventType.REJECTED,
}


@sensitive_variables()  # (all: they, and what hmac's code does with them, hold secrets)
def mandrill_signature(key: str, url: str, post: QueryDict) -> str:
    """Mandrill's X-Mandrill-Signature for a post to url.

    From Mandrill's "Authenticating Webhook Requests": start with the webhook url exactly as
    entered, append each POST field's key then value (sorted by key, no delimiters), then
    base64(HMAC-SHA1(webhook key, that string)).
    """
    signed = url + "".join(
        name + value for name in sorted(post.keys()) for value in post.getlist(name)
    )
    digest = hmac.new(key.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class MandrillCombinedWebhookView(AnymailBaseWebhookView):
    """Mandrill's tracking and inbound webhook (``anymail/mandrill/``)."""

    esp_name = "Mandrill"
    signal = tracking  # inbound events go to the inbound signal (see signal_for_event)
    # Every call is signed with MANDRILL_WEBHOOK_KEY, so basic auth is optional here (as in 6.1)
    warn_if_no_basic_auth = False
    # The one url takes inbound mail too (a whole message, plus Mandrill's parsed copy of it,
    # JSON- and form-encoded), so it gets INBOUND_MAX_BODY_SIZE, not the tracking limit
    carries_inbound_mail = True
    webhook_key: str | None = None  # allows as_view(webhook_key=...)
    webhook_url: str | None = None  # allows as_view(webhook_url=...)
    webhook_replay_window: int | None = None  # allows as_view(webhook_replay_window=...)

    @classmethod
    def signature_key_is_configured(cls) -> bool:
        return bool(get_anymail_setting("webhook_key", default=None, esp_name=cls.esp_name))

    def __init__(self, **kwargs: Any) -> None:
        # Not required at startup: Mandrill only issues the key after it has checked (with a
        # HEAD request, which needs no key) that the url works. Docs: "deploying twice".
        # (Django makes a view instance per request: cached_settings looks them up once)
        self.webhook_key = cached_settings.get_anymail_setting(
            "webhook_key", default=None, esp_name=self.esp_name, kwargs=kwargs
        )
        self.webhook_url = cached_settings.get_anymail_setting(
            "webhook_url", default=None, esp_name=self.esp_name, kwargs=kwargs
        )
        if self.webhook_url and url_credentials(self.webhook_url):
            warnings.warn(
                "MANDRILL_WEBHOOK_URL has credentials in it, and Django's error reports show "
                "that setting. Remove the 'user:password@' part: Anymail adds the WEBHOOK_SECRET "
                "basic auth credentials Mandrill sends to the url it checks the signature with.",
                AnymailWarning,
                stacklevel=2,
            )
        self.replay_window = cached_settings.get_anymail_setting(
            "webhook_replay_window",
            default=DEFAULT_REPLAY_WINDOW,
            esp_name=self.esp_name,
            kwargs=kwargs,
        )
        if self.replay_window is not None and (
            isinstance(self.replay_window, bool)
            or not isinstance(self.replay_window, int)
            or self.replay_window <= 0
        ):
            raise AnymailConfigurationError(
                "MANDRILL_WEBHOOK_REPLAY_WINDOW must be a whole number of seconds (or None to "
                f"turn off Anymail's replay protection for Mandrill), not {self.replay_window!r}"
            )
        self.signature_configured = bool(self.webhook_key)  # (WEBHOOK_REQUIRE_AUTHENTICATION)
        #: The verified signature of this call, remembered once the call has been handled
        self.replay_signature: str | None = None
        #: Whether this (verified) call was handled before, so its events aren't delivered
        self.already_handled = False
        super().__init__(**kwargs)

    # Authentication

    # Django's error reports (e.g., for a refused signature) hide these frames' variables, and
    # those of everything they call: the signed url holds the basic auth password
    @sensitive_variables()
    def validate_request(self, request: HttpRequest) -> None:
        if not self.webhook_key:
            raise AnymailWebhookValidationFailure(
                "Mandrill webhook called, but MANDRILL_WEBHOOK_KEY is not set, so Anymail can't "
                "verify its signature. Add the webhook key Mandrill shows for this url to your "
                'ANYMAIL settings ("MANDRILL_WEBHOOK_KEY").'
            )
        given = request.META.get("HTTP_X_MANDRILL_SIGNATURE")
        if not given:
            raise AnymailWebhookValidationFailure(
                "Mandrill webhook called without an X-Mandrill-Signature header"
            )
        if isinstance(given, str):
            # (WSGI gives str; a test client, or another server, may put bytes in META)
            given = given.encode("utf-8")
        url = self.signed_url(request)
        expected = mandrill_signature(self.webhook_key, url, request.POST)
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise AnymailWebhookValidationFailure(
                "Mandrill webhook called with incorrect signature "
                f"(for url {redact_credentials(url)}). If that isn't the exact url you gave "
                "Mandrill, set MANDRILL_WEBHOOK_URL to it (or fix your proxy settings)."
            )
        if self.replay_window is not None:
            # Mandrill's signature covers the url and every field, so the same signature means
            # the same call. One that wasn't handled is Mandrill's retry (after a 5xx), to
            # handle. One that was is a replay, or Mandrill's retry after it timed out waiting
            # for the first attempt: answered 200 (a refusal would have Mandrill retry it
            # again and again), but its events aren't delivered again.
            if webhook_cache().get(cache_key("mandrill-signature", expected)) is not None:
                self.already_handled = True
            else:
                self.replay_signature = expected

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if self.replay_signature is not None and 200 <= response.status_code < 300:
            remember_once("mandrill-signature", self.replay_signature, self.replay_window)
        return response

    @sensitive_variables()
    def signed_url(self, request: HttpRequest) -> str:
        """The url Mandrill signed: MANDRILL_WEBHOOK_URL, else the url it called.

        Mandrill signs the url exactly as it was entered, so with basic auth that includes the
        "user:pass@" Django never sees in the url (changelog v0.8); put it back. The same goes
        for MANDRILL_WEBHOOK_URL, which shouldn't hold credentials itself (Django's error
        reports would show them).
        """
        if not self.webhook_url:
            return request_uri(request)
        url = self.webhook_url
        credentials = request_basic_auth(request)
        if credentials and not url_credentials(url):
            scheme, separator, rest = url.partition("://")
            if separator:
                url = f"{scheme}{separator}{credentials}@{rest}"
        return url

    # Parsing

    def signal_for_event(self, event: AnymailEvent) -> Any:
        return inbound if isinstance(event, AnymailInboundEvent) else tracking

    def parse_events(self, request: HttpRequest) -> list[AnymailEvent]:
        if self.already_handled:
            logger.warning(
                "Mandrill webhook call was already handled (a retry after a timeout, or a "
                "replayed request): its events are not delivered again"
            )
            return []
        esp_events = json.loads(request.POST["mandrill_events"])
        if not isinstance(esp_events, list):
            raise ValueError("Mandrill mandrill_events must be a JSON array")
        if not esp_events:
            # Mandrill posts an empty batch when it checks a url (again, each time the webhook
            # is edited): harmless to repeat, so not remembered
            self.replay_signature = None
        # One event that can't be read is delivered as an "unknown" event with its raw data,
        # rather than costing the other events of the batch
        return self.normalize_events(self.esp_to_anymail_event, esp_events)

    def esp_to_anymail_event(self, esp_event: Any) -> AnymailEvent:
        if not isinstance(esp_event, dict):
            raise ValueError("Mandrill event must be a JSON object")
        if esp_event.get("event") == "inbound":
            return self.inbound_event(esp_event)
        if "event" not in esp_event and "type" in esp_event:
            # Sync events (whitelist/blacklist changes) have "type" and "action", not "event"
            return self.sync_event(esp_event)
        return self.message_event(esp_event)

    def message_event(self, esp_event: dict[str, Any]) -> AnymailTrackingEvent:
        """send, deferral, hard_bounce, soft_bounce, open, click, spam, unsub, reject."""
        event_type = EVENT_TYPES.get(field(esp_event, "event", str), EventType.UNKNOWN)
        msg = field(esp_event, "msg", dict, {})
        tags = field(msg, "tags", list, [])
        if not all(isinstance(tag, str) for tag in tags):
            raise ValueError("Mandrill msg.tags must be a list of strings")
        description = None
        if event_type == EventType.BOUNCED:
            description = field(msg, "bounce_description", str)
        return AnymailTrackingEvent.create(
            event_type=event_type,
            timestamp=event_timestamp(esp_event),
            event_id=field(esp_event, "_id", str),
            esp_event=esp_event,
            message_id=field(msg, "_id", str),
            recipient=field(msg, "email", str),
            metadata=field(msg, "metadata", dict, {}),
            tags=tags,
            # Mandrill's bounce_description isn't normalized (6.1 didn't either): see description
            reject_reason=None,
            description=description,
            mta_response=mta_response(msg),
            user_agent=field(esp_event, "user_agent", str),
            click_url=field(esp_event, "url", str),
        )

    def sync_event(self, esp_event: dict[str, Any]) -> AnymailTrackingEvent:
        """Whitelist/blacklist changes: not about a message, so Anymail's 'unknown' (docs)."""
        # The changed list entry is "reject" (blacklist) or "entry" (whitelist)
        entry = field(esp_event, "reject", dict) or field(esp_event, "entry", dict, {})
        return AnymailTrackingEvent.create(
            event_type=EventType.UNKNOWN,
            timestamp=event_timestamp(esp_event),
            esp_event=esp_event,
            recipient=field(entry, "email", str),
            # (A whitelist entry has only a detail; a blacklist reject also has its reason)
            description=field(entry, "detail", str) or field(entry, "reason", str),
        )

    def inbound_event(self, esp_event: dict[str, Any]) -> AnymailInboundEvent:
        """An inbound message: Mandrill gives the complete raw MIME in msg.raw_msg."""
        msg = field(esp_event, "msg", dict)
        raw_msg = field(msg, "raw_msg", str)
        if msg is None or raw_msg is None:
            raise ValueError("Mandrill inbound event is missing msg.raw_msg")
        message = AnymailInboundMessage.parse_raw_mime(raw_msg)
        message.envelope_recipient = field(msg, "email", str)  # where Mandrill received it
        spam_report = field(msg, "spam_report", dict, {})
        score = field(spam_report, "score", (int, float))
        if isinstance(score, bool):
            raise ValueError("Mandrill spam_report.score must be a number")
        message.spam_score = float(score) if score is not None else None
        return AnymailInboundEvent(
            event_type=EventType.INBOUND,
            timestamp=event_timestamp(esp_event),
            event_id=field(esp_event, "_id", str),
            esp_event=esp_event,
            message=message,
        )


#: The same view, at the pre-1.3 ``anymail/mandrill/tracking/`` url (still supported)
MandrillTrackingWebhookView = MandrillCombinedWebhookView


def field(data: dict[str, Any], key: str, expected_type: Any, default: Any = None) -> Any:
    """data[key] if present and of expected_type; default if missing or null; else ValueError."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, expected_type):
        raise ValueError(f"Mandrill field {key!r} has unexpected type {type(value).__name__}")
    return value


def event_timestamp(esp_event: dict[str, Any]) -> Any:
    """The event's "ts" (integer UTC unix time) as an aware datetime; None if absent."""
    ts = esp_event.get("ts")
    return None if ts is None else timestamp_to_datetime(ts)


def mta_response(msg: dict[str, Any]) -> str | None:
    """The receiving server's reply: msg.diag (bounces), else the latest smtp_events diag."""
    diag: str | None = field(msg, "diag", str)
    if diag is not None:
        return diag
    smtp_events = field(msg, "smtp_events", list, [])
    if not all(isinstance(smtp_event, dict) for smtp_event in smtp_events):
        raise ValueError("Mandrill msg.smtp_events must be a list of objects")
    for smtp_event in reversed(smtp_events):
        event_diag: str | None = field(smtp_event, "diag", str)
        if event_diag is not None:
            return event_diag
    return None


def url_credentials(url: str) -> str | None:
    """The "user:pass" (or "user") in url, if it has any."""
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.partition("@")
    if not sep or not at or any(char in userinfo for char in "/?#"):
        return None
    return userinfo


def redact_credentials(url: str) -> str:
    """url without any basic-auth password, safe for error messages and logs."""
    userinfo = url_credentials(url)
    if userinfo is None:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{rest.partition('@')[2]}"
