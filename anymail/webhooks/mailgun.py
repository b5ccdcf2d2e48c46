"""Mailgun webhooks: status tracking (current JSON and legacy form formats) and inbound routes.

Mailgun docs: webhooks and their payloads,
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads ; securing
webhooks (the timestamp/token/signature scheme); and receiving messages through a route's
forward() action, https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http

Mailgun retries a call that gets any answer but 200 or 406 for 8 hours (webhooks: after 5, 10
and 15 minutes, then 1, 2 and 4 hours; except "delivered" events, which aren't retried; routes:
10, 15 and 30 minutes, then 1, 2 and 4 hours). As far as anyone outside Mailgun can tell, a
retry carries the first attempt's signature (timestamp and token), which shapes the replay
protection below.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import time
from email.utils import getaddresses
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse, QueryDict

from ..conf import cached_settings
from ..exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from ..inbound import AnymailInboundMessage
from ..signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from ..timestamps import timestamp_to_datetime
from .base import AnymailBaseWebhookView, parse_json_body
from .digests import new_hmac, sha256
from .fields import optional_dict, optional_str
from .limits import SpooledBodyMixin, request_spools, spooled_field_utf8, uploaded_content
from .replay import cache_key, webhook_cache

TRACKING_URL = "anymail/mailgun/tracking/"
INBOUND_URL = "anymail/mailgun/inbound/ (or anymail/mailgun/inbound_mime/)"

#: MAILGUN_WEBHOOK_MAX_AGE's default: how far (in seconds) a signature's timestamp may be from now
DEFAULT_MAX_AGE = 300
#: How long a call Anymail didn't complete is remembered, so Mailgun's retries of it (which
#: carry its original, older timestamp) are accepted: Mailgun retries for 8 hours
RETRY_WINDOW = 9 * 60 * 60


def current_time() -> float:
    """The time now, as a Unix timestamp (a function of its own, so tests can set the clock)."""
    return time.time()


class MailgunBaseWebhookView(AnymailBaseWebhookView):
    """Verifies Mailgun's signature: a hex HMAC-SHA256 of timestamp + token.

    The key is MAILGUN_WEBHOOK_SIGNING_KEY, or (for accounts that never rotated either key, where
    they're the same) MAILGUN_API_KEY. The current JSON webhooks carry the signature in a
    "signature" object; legacy webhooks and inbound routes post it as form fields.
    """

    esp_name = "Mailgun"
    # Mailgun's signature does the job of a shared secret (Anymail's Mailgun docs say omitting
    # WEBHOOK_SECRET is acceptable), so don't warn when it's not set.
    warn_if_no_basic_auth = False
    # Mailgun retries any answer but 200 and 406 for 8 hours: 406 says a malformed call
    # needn't be retried ("Webhooks" in Mailgun's docs)
    refused_status = 406
    # Both allow as_view(webhook_signing_key=..., api_key=...). An instance's
    # webhook_signing_key is the key in use, as bytes (whichever setting it came from).
    webhook_signing_key: str | bytes | None = None
    api_key: str | None = None
    webhook_max_age: int | None = None  # allows as_view(webhook_max_age=...)

    @classmethod
    def signature_key_is_configured(cls) -> bool:
        # Mailgun's views don't run without a signing key, so no call is unauthenticated
        return True

    def __init__(self, **kwargs: Any) -> None:
        # (Django makes a view instance per request: cached_settings looks them up once)
        signing_key = cached_settings.get_anymail_setting(
            "webhook_signing_key", esp_name=self.esp_name, kwargs=kwargs, default=None
        )
        api_key = cached_settings.get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, default=None, allow_bare=True
        )
        signing_key = signing_key or api_key
        if not signing_key:
            raise AnymailConfigurationError(
                "To verify Mailgun webhooks, set MAILGUN_WEBHOOK_SIGNING_KEY (your Mailgun "
                "'HTTP webhook signing key') in your ANYMAIL settings, or ANYMAIL_MAILGUN_WEBHOOK_"
                "SIGNING_KEY. (Anymail falls back to MAILGUN_API_KEY if that isn't set, but "
                "neither is.)"
            )
        if not isinstance(signing_key, bytes):
            signing_key = str(signing_key).encode("utf-8")
        self.webhook_signing_key: bytes = signing_key
        self.signature_configured = True  # (for WEBHOOK_REQUIRE_AUTHENTICATION)
        self.max_age = cached_settings.get_anymail_setting(
            "webhook_max_age", esp_name=self.esp_name, kwargs=kwargs, default=DEFAULT_MAX_AGE
        )
        if self.max_age is not None and (
            isinstance(self.max_age, bool)
            or not isinstance(self.max_age, (int, float))
            or not self.max_age > 0
        ):
            raise AnymailConfigurationError(
                "MAILGUN_WEBHOOK_MAX_AGE must be a number of seconds (or None to turn off "
                f"Anymail's replay protection for Mailgun), not {self.max_age!r}"
            )
        #: The verified token of this call, once it has passed the replay checks
        self.replay_token: str | None = None
        #: Where check_replay found the token's records (the cache, the used and pending keys)
        self.replay_records: tuple[BaseCache, str, str] | None = None
        super().__init__(**kwargs)

    def validate_request(self, request: HttpRequest) -> None:
        if is_json_request(request):
            signature_fields = parse_json_body(request, dict).get("signature")
            if not isinstance(signature_fields, dict):
                raise AnymailWebhookValidationFailure("Mailgun webhook has no 'signature' object")
        else:
            # (A QueryDict gives a repeated field's last value: Mailgun appends the signature
            # fields after any custom variables of the same names)
            signature_fields = request.POST
        try:
            timestamp = signature_fields["timestamp"]
            token = signature_fields["token"]
            signature = signature_fields["signature"]
        except KeyError as err:
            raise AnymailWebhookValidationFailure(
                f"Mailgun webhook is missing its signature field {err}"
            ) from None
        if not (
            isinstance(timestamp, (str, int))
            and not isinstance(timestamp, bool)
            and isinstance(token, str)
            and isinstance(signature, str)
        ):
            raise AnymailWebhookValidationFailure("Mailgun webhook has malformed signature fields")
        key = self.webhook_signing_key
        assert isinstance(key, bytes)  # (__init__ made it bytes)
        expected = new_hmac(key, f"{timestamp}{token}".encode(), "sha256").hexdigest()
        if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook called with incorrect signature (check your "
                "MAILGUN_WEBHOOK_SIGNING_KEY setting)"
            )
        # Only now (the signature is Mailgun's) may the token be recorded: otherwise anyone
        # could "use up" tokens they've seen, to get Mailgun's own calls refused
        if self.max_age is not None:
            self.check_replay(request, timestamp, token)

    # Replay protection. Mailgun signs only a timestamp and a token, not the content, so a
    # captured signature could be replayed, or sent with other content. Anymail accepts a
    # signature only while its timestamp is within MAILGUN_WEBHOOK_MAX_AGE of now, and each
    # token only until a call with it has been handled (2xx): a retry of a call that failed
    # (Mailgun retries with the same signature, for hours) is accepted as long as its content
    # is the same as the first attempt's.

    def check_replay(self, request: HttpRequest, timestamp: str | int, token: str) -> None:
        """Refuse a token already handled, or reused with other content, or too old a call."""
        age = seconds_from_now(timestamp)
        cache = webhook_cache()
        used_key = cache_key("mailgun-token", token)
        pending_key = cache_key("mailgun-pending", token)
        known = cache.get_many([used_key, pending_key])  # (one round trip to a shared cache)
        if known.get(used_key) is not None:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook token was already used (a replayed request?)"
            )
        digest = content_digest(request)
        pending_digest = known.get(pending_key)
        if pending_digest is not None and pending_digest != digest:
            raise AnymailWebhookValidationFailure(
                "Mailgun webhook token was already used with different content"
            )
        if pending_digest is None:
            if age is None or age > self.max_age:
                raise AnymailWebhookValidationFailure(
                    f"Mailgun webhook signature timestamp {str(timestamp)[:20]!r} is more than "
                    f"{self.max_age} seconds from now (a replayed request, or a server clock "
                    "that's off? See MAILGUN_WEBHOOK_MAX_AGE)"
                )
            cache.set(pending_key, digest, timeout=max(RETRY_WINDOW, 2 * self.max_age))
        self.replay_token = token
        self.replay_records = (cache, used_key, pending_key)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        if self.replay_records is not None and 200 <= response.status_code < 300:
            # Handled: from now on the token is refused. (Until the timestamp is too old,
            # when the age check refuses it: no retry is pending any more.) As remember_once
            # does, with the records check_replay already found.
            cache, used_key, pending_key = self.replay_records
            cache.add(used_key, True, timeout=math.ceil(2 * self.max_age))
            cache.delete(pending_key)
        return response


def is_json_request(request: HttpRequest) -> bool:
    return request.content_type == "application/json"


def seconds_from_now(timestamp: str | int) -> float | None:
    """How far (in seconds, either way) a Unix timestamp is from now; None if it isn't one."""
    try:
        value = float(timestamp)
    except (TypeError, ValueError, OverflowError):
        return None
    return abs(current_time() - value) if math.isfinite(value) else None


def content_digest(request: HttpRequest) -> str:
    """A digest of what a Mailgun call says (its JSON, or its form fields and files).

    The same for a retry of the call, whose encoding (multipart boundaries, JSON spacing) may
    differ; different if anything in it differs.
    """
    digest = sha256()
    if is_json_request(request):
        data = parse_json_body(request)  # (as the signature check read it)
        digest.update(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()
    for name, values in sorted(request.POST.lists()):
        digest.update(json.dumps(["field", name, values], ensure_ascii=False).encode("utf-8"))
    for name, files in sorted(request.FILES.lists()):
        for upload in files:
            header = ["file", name, upload.name, upload.content_type, upload.size]
            digest.update(json.dumps(header, ensure_ascii=False).encode("utf-8"))
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)  # (for the parser, which reads it next)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Status tracking
# ---------------------------------------------------------------------------------------------


class MailgunTrackingWebhookView(MailgunBaseWebhookView):
    """Mailgun tracking webhooks: one event per call, as JSON (current) or a form (legacy)."""

    signal = tracking

    def parse_events(self, request: HttpRequest) -> list[AnymailTrackingEvent]:
        if is_json_request(request):
            esp_event = parse_json_body(request, dict)
            if "event-data" not in esp_event:
                raise ValueError("Mailgun tracking webhook payload has no 'event-data'")
            # An event with a field of an odd type is delivered as an "unknown" event (its
            # raw data in esp_event) rather than refused: Mailgun would retry a 400 for hours
            return [self.normalize_event(self.esp_to_anymail_event, esp_event)]
        if "event" not in request.POST and is_inbound_form(request.POST):
            raise AnymailConfigurationError(
                "You seem to have set a Mailgun *inbound* route to Anymail's Mailgun *tracking* "
                f"webhook url. Forward inbound messages to {INBOUND_URL} instead."
            )
        return [self.normalize_event(self.legacy_to_anymail_event, request.POST)]

    # Current webhooks (June 2018 and later): {"signature": {...}, "event-data": {...}}

    event_types = {
        "accepted": EventType.QUEUED,
        "rejected": EventType.REJECTED,
        "delivered": EventType.DELIVERED,
        "failed": EventType.BOUNCED,  # (or deferred, or rejected: see failed_event_type)
        "opened": EventType.OPENED,
        "clicked": EventType.CLICKED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "complained": EventType.COMPLAINED,
    }

    # "failed" events' "reason". (Mailgun's docs show these in examples but don't list them.)
    # Temporary failures have a reason too (usually "generic"), so deferred events get one.
    reject_reasons = {
        "bounce": RejectReason.BOUNCED,
        "suppress-bounce": RejectReason.BOUNCED,
        "suppress-unsubscribe": RejectReason.UNSUBSCRIBED,
        "suppress-complaint": RejectReason.SPAM,
        "old": RejectReason.TIMED_OUT,  # gave up retrying
        "espblock": RejectReason.BLOCKED,
        "generic": RejectReason.OTHER,
    }

    def esp_to_anymail_event(self, esp_event: dict[str, Any]) -> AnymailTrackingEvent:
        event_data = require_type(esp_event["event-data"], dict, "event-data")
        signature = require_type(esp_event.get("signature"), dict, "signature")
        event_name = require_type(event_data.get("event"), str, "event-data.event")
        event_type = self.event_types.get(event_name, EventType.UNKNOWN)
        if event_name == "failed":
            event_type = self.failed_event_type(event_data)
        headers = optional_dict(optional_dict(event_data, "message"), "headers")
        delivery_status = optional_dict(event_data, "delivery-status")
        recipient = optional_str(event_data, "recipient", numbers_ok=True)

        reject_reason = description = None
        if event_name == "rejected":
            # Mailgun refused the message as a whole (e.g., a sandbox domain's unauthorized
            # recipient): no delivery-status, and no recipient but the message's To header
            reject = optional_dict(event_data, "reject")
            reject_reason = RejectReason.OTHER
            description = optional_str(reject, "description", numbers_ok=True) or optional_str(
                reject, "reason", numbers_ok=True
            )
            if recipient is None:
                recipient = first_addr_spec(optional_str(headers, "to"))
        elif event_name == "failed":
            reject_reason = self.reject_reasons.get(event_data.get("reason"), RejectReason.OTHER)
        if description is None and delivery_status.get("description") == "":
            description = ""  # (Mailgun's "no description": kept as "", as Anymail 6.1 did)
        elif description is None:
            description = optional_str(delivery_status, "description", numbers_ok=True)

        timestamp = event_data.get("timestamp")
        return AnymailTrackingEvent.create(
            event_type=event_type,
            timestamp=timestamp_to_datetime(timestamp) if timestamp is not None else None,
            # Mailgun's event-data "id" is only unique within a day; the signature token is
            # unique (and it's what Anymail's docs promise as event_id)
            event_id=optional_str(signature, "token", numbers_ok=True),
            esp_event=esp_event,
            message_id=bracketed_message_id(optional_str(headers, "message-id", numbers_ok=True)),
            recipient=recipient,
            metadata=optional_dict(event_data, "user-variables"),
            tags=str_list(event_data.get("tags"), "tags"),
            reject_reason=reject_reason,
            description=description,
            mta_response=optional_str(delivery_status, "message", numbers_ok=True),
            user_agent=optional_str(optional_dict(event_data, "client-info"), "user-agent"),
            click_url=optional_str(event_data, "url", numbers_ok=True),
        )

    def failed_event_type(self, event_data: dict[str, Any]) -> EventType:
        if event_data.get("severity") == "temporary":
            return EventType.DEFERRED  # Mailgun will keep trying
        if str(event_data.get("reason", "")).startswith("suppress-"):
            # Mailgun didn't try: the address is on a suppression list
            return EventType.REJECTED
        return EventType.BOUNCED

    # Legacy webhooks: form fields, whose names differ by event type

    legacy_event_types = {
        "delivered": EventType.DELIVERED,
        "dropped": EventType.REJECTED,
        "bounced": EventType.BOUNCED,
        "complained": EventType.COMPLAINED,
        "unsubscribed": EventType.UNSUBSCRIBED,
        "opened": EventType.OPENED,
        "clicked": EventType.CLICKED,
    }

    # Dropped events' "reason": "hardfail" is a suppressed address, detailed by "code"; "old"
    # and "maxfails" mean Mailgun gave up retrying (still reported as rejected, as in 6.1)
    legacy_dropped_reasons = {
        "old": RejectReason.TIMED_OUT,
        "maxfails": RejectReason.TIMED_OUT,
    }
    legacy_dropped_codes = {
        "605": RejectReason.BOUNCED,  # "Not delivering to previously bounced address"
        "606": RejectReason.UNSUBSCRIBED,  # "Not delivering to unsubscribed address"
        "607": RejectReason.SPAM,  # "Not delivering to a user who marked your messages as spam"
    }

    # Fields Mailgun itself posts. Custom variables (metadata) are appended to these as fields
    # of their own, with nothing to tell them apart but the name.
    legacy_mailgun_fields = {
        "event", "recipient", "domain", "ip", "country", "region", "city", "user-agent",
        "device-type", "client-type", "client-name", "client-os", "campaign-id",
        "campaign-name", "tag", "x-mailgun-tag", "mailing-list", "message-id", "timestamp",
        "token", "signature", "url", "body-plain", "h", "message-headers", "code", "error",
        "notification", "reason", "description", "attachment-count",
    }  # fmt: skip
    # ... and since Mailgun appends the signature fields last (after custom variables), a
    # repeated field's *last* value is Mailgun's for these, and its *first* for all others
    legacy_trailing_fields = {"timestamp", "token", "signature"}

    def legacy_to_anymail_event(self, esp_event: QueryDict) -> AnymailTrackingEvent:
        def field(name: str) -> str | None:
            # Mailgun's value for a field, in any case (it mixes "Message-Id" casings)
            values = [
                value
                for posted_name in esp_event
                if posted_name.lower() == name
                for value in esp_event.getlist(posted_name)
            ]
            if not values:
                return None
            return values[-1] if name in self.legacy_trailing_fields else values[0]

        headers = legacy_message_headers(field("message-headers"))
        event_name = require_type(field("event"), str, "event")
        event_type = self.legacy_event_types.get(event_name, EventType.UNKNOWN)
        reject_reason = None
        if event_name == "dropped":
            reject_reason = self.legacy_dropped_reasons.get(field("reason") or "") or (
                self.legacy_dropped_codes.get(field("code") or "", RejectReason.BOUNCED)
            )
        elif event_name == "bounced":
            reject_reason = RejectReason.BOUNCED

        if headers is not None:
            # Delivered, dropped, bounced and complained events include the sent message's
            # headers: custom variables are there, unambiguously, as X-Mailgun-Variables JSON
            metadata = {}
            for value in header_values(headers, "X-Mailgun-Variables"):
                metadata.update(require_type(json.loads(value), dict, "X-Mailgun-Variables"))
            # (and so are tags: a "tag" field in these could be a custom variable's)
            tags = header_values(headers, "X-Mailgun-Tag")
        else:
            # A custom variable named like one of Mailgun's fields can't be told apart from
            # it, so it's left out of metadata (Mailgun's value is the one Anymail uses)
            metadata = {
                name: esp_event.getlist(name)[0]
                for name in esp_event
                if name.lower() not in self.legacy_mailgun_fields
            }
            tags = esp_event.getlist("tag") or esp_event.getlist("X-Mailgun-Tag")

        message_id = field("message-id")
        if message_id is None and headers is not None:
            message_id = next(iter(header_values(headers, "Message-Id")), None)
        timestamp = field("timestamp")
        return AnymailTrackingEvent.create(
            event_type=event_type,
            timestamp=timestamp_to_datetime(timestamp) if timestamp is not None else None,
            event_id=field("token"),
            esp_event=esp_event,
            message_id=bracketed_message_id(message_id),
            recipient=field("recipient"),
            metadata=metadata,
            tags=tags,
            reject_reason=reject_reason,
            description=field("description") or None,
            mta_response=field("error") or field("notification") or None,
            user_agent=field("user-agent") or None,
            click_url=field("url") or None,
        )


def legacy_message_headers(value: str | None) -> list[tuple[str, str]] | None:
    """Mailgun's "message-headers" field: a JSON list of [name, value] pairs (or None).

    Mailgun sends some values parsed, as [value, {param: value}]: e.g., Content-Type as
    ["multipart/alternative", {"boundary": "..."}]. Those are put back together as a header
    would have them; an entry that can't be made into a header is skipped rather than losing
    the whole event.
    """
    if value is None:
        return None
    headers = require_type(json.loads(value), list, "message-headers")
    pairs = []
    for item in headers:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            header_value = legacy_header_value(item[1])
            if header_value is not None:
                pairs.append((item[0], header_value))
    return pairs


def legacy_header_value(value: Any) -> str | None:
    """A message-headers value as header text ('value; param="..."' for [value, {params}])."""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
        and all(isinstance(param, str) for param in value[1].values())
    ):
        params = "".join(f'; {name}="{quote_param(param)}"' for name, param in value[1].items())
        return value[0] + params
    return None


def quote_param(text: str) -> str:
    """A MIME parameter value as the inside of a quoted-string (backslash-escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for header, value in headers if header.lower() == name.lower()]


# ---------------------------------------------------------------------------------------------
# Inbound
# ---------------------------------------------------------------------------------------------


class MailgunInboundWebhookView(SpooledBodyMixin, MailgunBaseWebhookView):
    """Mailgun inbound routes' forward() action, in either of its formats.

    A forward() url ending in "mime" (Anymail's .../inbound_mime/) gets the raw message in a
    "body-mime" field; any other url (.../inbound/) gets Mailgun's "fully parsed" fields. The
    same view handles both. The form is read into temporary files (SpooledBodyMixin): a large
    body-mime is parsed from its own, and large attachments stay in theirs.
    """

    signal = inbound

    def parse_events(self, request: HttpRequest) -> list[AnymailInboundEvent]:
        if is_json_request(request) or is_tracking_form(request.POST):
            raise AnymailConfigurationError(
                "You seem to have set Mailgun's *tracking* webhook to Anymail's Mailgun "
                f"*inbound* url. Use {TRACKING_URL} for tracking webhooks instead."
            )
        post = request.POST
        if (raw_mime := spooled_field_utf8(request, "body-mime")) is not None:
            message = AnymailInboundMessage.parse_raw_mime_spool(raw_mime, request_spools(request))
        elif "body-mime" in post:
            message = AnymailInboundMessage.parse_raw_mime(post["body-mime"])
        elif (mime_file := request.FILES.get("body-mime")) is not None:
            mime_content = uploaded_content(mime_file)
            message = (
                AnymailInboundMessage.parse_raw_mime_bytes(mime_content)
                if isinstance(mime_content, bytes)
                else AnymailInboundMessage.parse_raw_mime_spool(
                    mime_content, request_spools(request)
                )
            )
        elif is_inbound_form(post):
            message = self.construct_fully_parsed(request)
        else:
            raise ValueError("Mailgun inbound payload has neither body-mime nor parsed fields")

        message.envelope_sender = post.get("sender") or None
        message.envelope_recipient = post.get("recipient") or None
        # Mailgun adds these headers when the domain's spam filter is set to "Deliver spam,
        # but add X-Mailgun-SFlag and X-Mailgun-SScore headers"
        message.spam_detected = spam_flag(message.get("X-Mailgun-Sflag"))
        message.spam_score = spam_score(message.get("X-Mailgun-Sscore"))

        timestamp = post.get("timestamp")
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                timestamp=timestamp_to_datetime(timestamp) if timestamp is not None else None,
                event_id=post.get("token"),
                esp_event=request,
                message=message,
            )
        ]

    def construct_fully_parsed(self, request: HttpRequest) -> AnymailInboundMessage:
        post = request.POST
        headers = legacy_message_headers(post.get("message-headers"))
        # content-id-map: {"<content-id>": "attachment-N"} for inline attachments
        content_ids = {
            field: cid for cid, field in optional_json_dict(post.get("content-id-map")).items()
        }
        attachment_fields = sorted(
            (name for name in request.FILES if re.fullmatch(r"attachment-\d+", name)),
            key=lambda name: int(name.split("-")[1]),
        )
        attachments = [
            AnymailInboundMessage.construct_attachment_from_uploaded_file(
                request.FILES[name], content_id=content_ids.get(name)
            )
            for name in attachment_fields
        ]
        header_names = {name.lower() for name, _ in headers or []}
        message = AnymailInboundMessage.construct(
            headers=headers,
            # (Just in case message-headers lacks them: Mailgun also posts these two)
            from_email=post.get("from") if "from" not in header_names else None,
            subject=post.get("subject") if "subject" not in header_names else None,
            text=post.get("body-plain"),
            html=post.get("body-html"),
            attachments=attachments,
        )
        message.stripped_text = post.get("stripped-text")
        message.stripped_html = post.get("stripped-html")
        return message


def is_inbound_form(post: QueryDict) -> bool:
    """Whether form fields look like a Mailgun inbound (route forward) post."""
    return any(name in post for name in ("body-mime", "body-plain", "message-headers")) and (
        "recipient" in post or "sender" in post
    )


def is_tracking_form(post: QueryDict) -> bool:
    """Whether form fields look like a legacy tracking webhook post (not an inbound route's).

    (Inbound posts always have "sender" and "body-plain" or "body-mime"; they can also have
    a field for each of the message's headers, which might include an "event" header.)
    """
    return "event" in post and not (
        "sender" in post and ("body-plain" in post or "body-mime" in post)
    )


def spam_flag(value: Any) -> bool | None:
    if value is None:
        return None
    flag = str(value).strip().lower()
    return {"yes": True, "no": False}.get(flag)


def spam_score(value: Any) -> float | None:
    try:
        score = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return score if math.isfinite(score) else None


# ---------------------------------------------------------------------------------------------
# Payload helpers: anything of an unexpected type is a malformed payload (so a 400)
# ---------------------------------------------------------------------------------------------


def require_type(value: Any, expected_type: type, name: str) -> Any:
    if not isinstance(value, expected_type):
        raise ValueError(f"Mailgun webhook {name} should be a {expected_type.__name__}")
    return value


def optional_json_dict(value: str | None) -> dict[str, Any]:
    return {} if value is None else require_type(json.loads(value), dict, "JSON field")


def str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    items = require_type(value, list, name)
    for item in items:
        require_type(item, str, name)
    return list(items)


def first_addr_spec(header: str | None) -> str | None:
    """The first email address in an address header ("Alice <a@example.com>, ..." -> "a@...")."""
    if not header:
        return None
    for _, addr_spec in getaddresses([header]):
        if "@" in addr_spec:
            return addr_spec
    return None


def bracketed_message_id(message_id: str | None) -> str | None:
    """Mailgun's webhooks omit the <> its send API's "id" has: add them, so the two match."""
    if not message_id:
        return None
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"
