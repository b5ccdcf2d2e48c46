"""Tests for what every Anymail webhook does, exercised through a small sample ESP.

The sample ESP ("SampleESP") below is defined only for these tests. Its tracking webhook posts a
JSON list of events, signed with an HMAC-SHA256 hex digest of the body in an
``X-SampleESP-Signature`` header; its inbound webhook posts one JSON object with a raw MIME message.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import logging
import math
import os
import time
import warnings
from datetime import datetime, timedelta, timezone
from hmac import compare_digest as sample_esp_compare_digest  # bound now: unaffected by patches
from typing import Any
from unittest import mock, skipIf

import django
from django.core.cache import caches
from django.http import HttpResponse
from django.test import Client, RequestFactory, SimpleTestCase, override_settings
from django.urls import path
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from anymail.conf import cached_settings, get_anymail_setting
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)
from anymail.timestamps import parse_iso_datetime, parse_rfc2822_datetime, timestamp_to_datetime
from anymail.webhooks.base import AnymailBaseWebhookView, parse_json_body, request_basic_auth

from .fakes import basic_auth_header, mock_receiver, quiet_webhook_logs

# ---------------------------------------------------------------------------------------------
# The sample ESP
# ---------------------------------------------------------------------------------------------

SAMPLE_SIGNING_KEY = b"sampleesp-signing-key-0123456789"
OTHER_SIGNING_KEY = b"a-different-signing-key-98765432"
SIGNATURE_META_KEY = "HTTP_X_SAMPLEESP_SIGNATURE"


def sample_esp_signature(body: bytes, key: bytes = SAMPLE_SIGNING_KEY) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _require(esp_event: dict[str, Any], key: str, expected_type: type | tuple[type, ...]) -> Any:
    value = esp_event[key]  # KeyError for a missing field
    if not isinstance(value, expected_type):
        raise ValueError(f"SampleESP field {key!r} has wrong type {type(value).__name__}")
    return value


class SampleTrackingWebhookView(AnymailBaseWebhookView):
    """Tracking webhook for the sample ESP: a signed JSON list of events."""

    esp_name = "SampleESP"
    signal = tracking
    signing_key: bytes = SAMPLE_SIGNING_KEY  # as_view(signing_key=...) overrides it

    event_types = {
        "delivered": EventType.DELIVERED,
        "bounce": EventType.BOUNCED,
        "open": EventType.OPENED,
        "click": EventType.CLICKED,
    }

    def validate_request(self, request):
        given_signature = request.META[SIGNATURE_META_KEY]  # KeyError when the header is missing
        expected = sample_esp_signature(request.body, self.signing_key)
        if not sample_esp_compare_digest(given_signature.encode(), expected.encode()):
            raise AnymailWebhookValidationFailure("SampleESP webhook has an incorrect signature")

    def parse_events(self, request):
        # A generator, as many ESP parsers are: the base view must exhaust it (so a bad event
        # anywhere fails the whole batch) before sending any signal.
        esp_events = parse_json_body(request, (list, dict))
        if isinstance(esp_events, dict) and "raw_message" in esp_events:
            raise AnymailConfigurationError(
                "This is a SampleESP inbound payload, posted to the tracking webhook. "
                "Point SampleESP's inbound route at anymail/sampleesp/inbound/."
            )
        if not isinstance(esp_events, list):
            raise ValueError("SampleESP tracking payload must be a JSON list")
        for esp_event in esp_events:
            # One odd event becomes an "unknown" event, rather than failing the batch
            yield self.normalize_event(self.esp_to_anymail_event, esp_event)

    def esp_to_anymail_event(self, esp_event):
        if not isinstance(esp_event, dict):
            raise ValueError("SampleESP event must be a JSON object")
        esp_type = _require(esp_event, "event", str)
        metadata = esp_event.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ValueError("SampleESP metadata must be an object")
        tags = esp_event.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise ValueError("SampleESP tags must be a list of strings")
        event_type = self.event_types.get(esp_type, EventType.UNKNOWN)
        return AnymailTrackingEvent(
            event_type=event_type,
            timestamp=timestamp_to_datetime(esp_event["timestamp"]),
            event_id=esp_event.get("event_id"),
            esp_event=esp_event,
            message_id=_require(esp_event, "message_id", str),
            recipient=_require(esp_event, "recipient", str),
            metadata=metadata,
            tags=tags,
            reject_reason=RejectReason.BOUNCED if event_type == EventType.BOUNCED else None,
            mta_response=esp_event.get("reason"),
            click_url=esp_event.get("url"),
        )


class SampleInboundWebhookView(AnymailBaseWebhookView):
    """Inbound webhook for the sample ESP: one JSON object carrying the raw MIME message."""

    esp_name = "SampleESP"
    signal = inbound

    def parse_events(self, request):
        payload = parse_json_body(request, dict)
        raw_message = _require(payload, "raw_message", str)
        message = email.message_from_string(raw_message, policy=email.policy.default)
        return [
            AnymailInboundEvent(
                timestamp=timestamp_to_datetime(payload["received_at"]),
                event_id=payload.get("id"),
                esp_event=payload,
                message=message,
            )
        ]


class SampleCombinedWebhookView(SampleTrackingWebhookView):
    """One url for both kinds of event (as Mandrill has): each goes to its own signal."""

    def esp_to_anymail_event(self, esp_event):
        if isinstance(esp_event, dict) and "raw_message" in esp_event:
            message = email.message_from_string(
                esp_event["raw_message"], policy=email.policy.default
            )
            return AnymailInboundEvent(esp_event=esp_event, message=message)
        return super().esp_to_anymail_event(esp_event)

    def signal_for_event(self, event):
        return inbound if isinstance(event, AnymailInboundEvent) else tracking


class ExtraCheckSampleTrackingWebhookView(SampleTrackingWebhookView):
    """A project's subclass adding its own check, 6.1-style: it doesn't call super()."""

    def validate_request(self, request):
        if request.META.get("HTTP_X_PROJECT_CHECK") != "ok":
            raise AnymailWebhookValidationFailure("Project check failed")


class QuietSampleTrackingWebhookView(SampleTrackingWebhookView):
    """An ESP whose own signature suffices, so it opts out of the insecure-webhook warning."""

    warn_if_no_basic_auth = False


def csrf_protected_view(request):
    """An ordinary (not csrf-exempt) view, to prove CSRF checking is really on in CSRF tests."""
    return HttpResponse("ok")


TRACKING_PATH = "/sampleesp/tracking/"
OVERRIDE_SECRET_PATH = "/sampleesp/tracking/override-secret/"
OTHER_KEY_PATH = "/sampleesp/tracking/other-key/"
INBOUND_PATH = "/sampleesp/inbound/"

urlpatterns = [
    path("sampleesp/tracking/", SampleTrackingWebhookView.as_view()),
    path(
        "sampleesp/tracking/override-secret/",
        SampleTrackingWebhookView.as_view(webhook_secret="x:y"),
    ),
    path(
        "sampleesp/tracking/other-key/",
        SampleTrackingWebhookView.as_view(signing_key=OTHER_SIGNING_KEY),
    ),
    path("sampleesp/inbound/", SampleInboundWebhookView.as_view()),
    path("sampleesp/combined/", SampleCombinedWebhookView.as_view()),
    path("sampleesp/extra-check/", ExtraCheckSampleTrackingWebhookView.as_view()),
    path("csrf-protected/", csrf_protected_view),
]

WEBHOOK_SECRET = "username:password"
UTC = timezone.utc


def sample_events() -> list[dict[str, Any]]:
    """A realistic batch, as the sample ESP would post it (a fresh copy each call)."""
    return [
        {
            "event": "delivered",
            "timestamp": 1700000000,
            "event_id": "evt-0001",
            "message_id": "<20231114221320.1@mail.example.com>",
            "recipient": "alice@example.com",
            "metadata": {"order_id": "A-1001", "customer": 42},
            "tags": ["receipt", "orders"],
        },
        {
            "event": "click",
            "timestamp": 1700000060.25,
            "event_id": "evt-0002",
            "message_id": "<20231114221320.2@mail.example.com>",
            "recipient": "bob@example.org",
            "url": "https://shop.example.com/orders/A-1002?utm_source=email",
        },
        {
            "event": "bounce",
            "timestamp": "1700000120",
            "event_id": "evt-0003",
            "message_id": "<20231114221320.3@mail.example.com>",
            "recipient": "carol@example.net",
            "metadata": {"order_id": "A-1003"},
            "tags": ["receipt"],
            "reason": "550 5.1.1 <carol@example.net>: mailbox unavailable",
        },
    ]


RAW_INBOUND_MESSAGE = (
    "From: Dana Sender <dana@example.com>\r\n"
    "To: support@inbound.example.com\r\n"
    "Subject: Order A-1001 question\r\n"
    "Message-ID: <inbound-1@example.com>\r\n"
    "Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Where is my order?\r\n"
)


def sample_inbound_payload() -> dict[str, Any]:
    return {"id": "inb-0001", "received_at": 1700000100, "raw_message": RAW_INBOUND_MESSAGE}


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


_DEFAULT = object()


class SampleESPWebhookTestCase(SimpleTestCase):
    """Routes to the sample ESP, records every signal receiver call, and keeps logs quiet."""

    def setUp(self):
        super().setUp()
        urlconf = override_settings(ROOT_URLCONF=__name__)
        urlconf.enable()
        self.addCleanup(urlconf.disable)

        self.client = Client()
        self.tracking_handler = mock_receiver("tracking_handler")
        self.inbound_handler = mock_receiver("inbound_handler")
        tracking.connect(self.tracking_handler, weak=False)
        inbound.connect(self.inbound_handler, weak=False)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        self.addCleanup(inbound.disconnect, self.inbound_handler)

        quiet_webhook_logs(self)

    def post_webhook(
        self,
        body: Any,
        *,
        url: str = TRACKING_PATH,
        auth: str | bytes | None = WEBHOOK_SECRET,
        authorization: str | None = None,
        signature: Any = _DEFAULT,
        content_type: str = "application/json",
        client: Client | None = None,
    ):
        """POST body (bytes, or JSON-encoded) with basic auth and a valid signature by default."""
        if not isinstance(body, bytes):
            body = encode_json(body)
        extra = {}
        if authorization is not None:
            extra["HTTP_AUTHORIZATION"] = authorization
        elif auth is not None:
            extra["HTTP_AUTHORIZATION"] = basic_auth_header(auth)
        if signature is _DEFAULT:
            signature = sample_esp_signature(body)
        if signature is not None:
            extra[SIGNATURE_META_KEY] = signature
        # generic() passes bytes through untouched, whatever charset content_type claims
        return (client or self.client).generic(
            "POST", url, data=body, content_type=content_type, **extra
        )

    def spy_on(self, view_class: type, method_name: str) -> mock.Mock:
        """Patch view_class.method_name with a mock that records calls and runs the original."""
        original = getattr(view_class, method_name)
        patcher = mock.patch.object(view_class, method_name, autospec=True, side_effect=original)
        spy = patcher.start()
        self.addCleanup(patcher.stop)
        return spy

    def received_events(self, handler: mock.Mock | None = None) -> list[Any]:
        handler = handler or self.tracking_handler
        return [call.kwargs["event"] for call in handler.call_args_list]


# ---------------------------------------------------------------------------------------------
# Basic auth (WEBHOOK_SECRET)
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class WebhookBasicAuthTests(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.parse_spy = self.spy_on(SampleTrackingWebhookView, "parse_events")
        self.validate_request_spy = self.spy_on(SampleTrackingWebhookView, "validate_request")

    def assert_rejected_before_parsing(self, response):
        """Call with a response from the first request of the test (or after reset_spies)."""
        self.assertEqual(response.status_code, 400)
        self.parse_spy.assert_not_called()
        self.validate_request_spy.assert_not_called()
        self.tracking_handler.assert_not_called()

    def reset_spies(self):
        for spy in (self.parse_spy, self.validate_request_spy, self.tracking_handler):
            spy.reset_mock()

    def test_correct_webhook_secret_is_accepted_and_the_event_delivered(self):
        response = self.post_webhook(sample_events()[:1])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)
        self.parse_spy.assert_called_once()

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old-user:old-pass", "new-user:new-pass"]})
    def test_webhook_secret_list_accepts_every_rotated_secret(self):
        for secret in ["old-user:old-pass", "new-user:new-pass"]:
            with self.subTest(secret=secret):
                self.tracking_handler.reset_mock()
                response = self.post_webhook(sample_events()[:1], auth=secret)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(self.tracking_handler.call_count, 1)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old-user:old-pass", "new-user:new-pass"]})
    def test_webhook_secret_list_still_rejects_secrets_not_in_the_list(self):
        for secret in [WEBHOOK_SECRET, "old-user:new-pass", "old-user:old-passnew-user:new-pass"]:
            with self.subTest(secret=secret):
                self.assert_rejected_before_parsing(self.post_webhook(sample_events(), auth=secret))

    @override_settings(ANYMAIL=None, ANYMAIL_WEBHOOK_SECRET="flat-user:flat-pass")
    def test_anymail_prefixed_webhook_secret_setting_is_used(self):
        self.assertEqual(
            self.post_webhook(sample_events(), auth="flat-user:flat-pass").status_code, 200
        )
        self.reset_spies()
        self.assert_rejected_before_parsing(self.post_webhook(sample_events(), auth=WEBHOOK_SECRET))

    def test_missing_authorization_header_is_rejected_before_parsing(self):
        self.assert_rejected_before_parsing(self.post_webhook(sample_events(), auth=None))

    def test_wrong_password_is_rejected_before_parsing(self):
        for credentials in [
            "username:wrong",
            "username:",
            "username",
            ":password",
            "username:passwordX",
        ]:
            with self.subTest(credentials=credentials):
                self.assert_rejected_before_parsing(
                    self.post_webhook(sample_events(), auth=credentials)
                )

    def test_non_basic_auth_scheme_is_rejected_even_with_the_right_credentials(self):
        encoded = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
        for header in [
            f"Bearer {encoded}",
            f"Bearer {WEBHOOK_SECRET}",
            f"Digest {encoded}",
            encoded,
        ]:
            with self.subTest(header=header):
                self.assert_rejected_before_parsing(
                    self.post_webhook(sample_events(), authorization=header)
                )

    def test_undecodable_base64_is_rejected_before_parsing(self):
        for header in [
            "Basic !!!not-base64!!!",
            "Basic dXNlcm5hbWU6cGFzc3dvcmQ",
            "Basic ",
            "Basic",
        ]:
            with self.subTest(header=header):
                self.assert_rejected_before_parsing(
                    self.post_webhook(sample_events(), authorization=header)
                )

    def test_non_utf8_credentials_are_rejected_before_parsing(self):
        for credentials in [b"username:password\xff", b"\xfe\xffusername:password", b"\xc3("]:
            with self.subTest(credentials=credentials):
                self.assert_rejected_before_parsing(
                    self.post_webhook(sample_events(), auth=credentials)
                )

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "üser:pässwörd"})
    def test_non_ascii_secret_matches_only_its_utf8_encoding(self):
        self.assertEqual(self.post_webhook(sample_events(), auth="üser:pässwörd").status_code, 200)
        self.reset_spies()
        self.assert_rejected_before_parsing(
            self.post_webhook(sample_events(), auth="üser:pässwörd".encode("latin-1"))
        )

    def test_lowercase_basic_scheme_is_accepted(self):
        # Auth schemes are case-insensitive (RFC 7235)
        encoded = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
        response = self.post_webhook(sample_events(), authorization=f"basic {encoded}")
        self.assertEqual(response.status_code, 200)

    def test_request_basic_auth_extracts_only_valid_basic_credentials(self):
        factory = RequestFactory()
        cases = {
            basic_auth_header("user:pass"): "user:pass",
            basic_auth_header("üser:päss"): "üser:päss",
            "Bearer " + base64.b64encode(b"user:pass").decode(): None,
            "Basic %%%": None,
            basic_auth_header(b"user:\xff"): None,
            "": None,
        }
        for header, expected in cases.items():
            with self.subTest(header=header):
                request = factory.post("/", HTTP_AUTHORIZATION=header)
                self.assertEqual(request_basic_auth(request), expected)
        self.assertIsNone(request_basic_auth(factory.post("/")))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old-user:old-pass", "new-user:new-pass"]})
class WebhookSecretComparisonTests(SampleESPWebhookTestCase):
    def compared_secrets(self, compare_mock: mock.Mock, given: str) -> list[bytes]:
        """The configured secret each compare_digest call checked the given credentials against.

        Each call must compare the request's credentials with one secret (in either order).
        """
        given_bytes = given.encode()
        compared = []
        for call in compare_mock.call_args_list:
            args = [arg.encode() if isinstance(arg, str) else bytes(arg) for arg in call.args]
            self.assertEqual(len(args), 2, call)
            self.assertIn(given_bytes, args, "compare_digest was not given the request's auth")
            args.remove(given_bytes)
            compared.append(args[0])
        return compared

    def test_each_configured_secret_is_compared_with_compare_digest_even_when_the_first_matches(
        self,
    ):
        with mock.patch("hmac.compare_digest", wraps=hmac.compare_digest) as compare_digest:
            response = self.post_webhook(sample_events(), auth="old-user:old-pass")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(compare_digest.call_count, 2)
        self.assertEqual(
            sorted(self.compared_secrets(compare_digest, "old-user:old-pass")),
            [b"new-user:new-pass", b"old-user:old-pass"],
        )

    def test_each_configured_secret_is_compared_with_compare_digest_when_none_matches(self):
        with mock.patch("hmac.compare_digest", wraps=hmac.compare_digest) as compare_digest:
            response = self.post_webhook(sample_events(), auth="old-user:wrong")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(compare_digest.call_count, 2)
        self.assertEqual(
            sorted(self.compared_secrets(compare_digest, "old-user:wrong")),
            [b"new-user:new-pass", b"old-user:old-pass"],
        )

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
    def test_single_secret_is_compared_with_compare_digest_once(self):
        with mock.patch("hmac.compare_digest", wraps=hmac.compare_digest) as compare_digest:
            response = self.post_webhook(sample_events())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(compare_digest.call_count, 1)
        self.assertEqual(
            self.compared_secrets(compare_digest, WEBHOOK_SECRET), [WEBHOOK_SECRET.encode()]
        )

    def test_authentication_outcome_follows_compare_digest(self):
        # Proves the decision really comes from compare_digest (not, e.g., a separate ==)
        with mock.patch("hmac.compare_digest", return_value=False):
            response = self.post_webhook(sample_events(), auth="old-user:old-pass")
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()


class InsecureWebhookWarningTests(SampleESPWebhookTestCase):
    @override_settings(ANYMAIL={})
    def test_no_webhook_secret_warns_at_view_init(self):
        with self.assertWarnsRegex(AnymailInsecureWebhookWarning, "WEBHOOK_SECRET"):
            SampleTrackingWebhookView()

    @override_settings(ANYMAIL={})
    def test_no_webhook_secret_webhook_still_accepts_unauthenticated_posts(self):
        with self.assertWarns(AnymailInsecureWebhookWarning):
            response = self.post_webhook(sample_events(), auth=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.received_events()), 3)

    def test_empty_webhook_secret_warns_like_no_secret(self):
        # FAILS against the current anymail/webhooks/base.py: "" becomes basic_auth == [""], so
        # there is no warning, and a request with *no* Authorization header authenticates
        # (request_basic_auth() -> None -> "" matches ""). An empty secret is no secret.
        for secret in ["", [""]]:
            with (
                self.subTest(secret=secret),
                override_settings(ANYMAIL={"WEBHOOK_SECRET": secret}),
                self.assertWarns(AnymailInsecureWebhookWarning),
            ):
                SampleTrackingWebhookView()

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
    def test_configured_webhook_secret_does_not_warn(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            SampleTrackingWebhookView()
            SampleInboundWebhookView()
        self.assertEqual(
            [w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)], []
        )

    @override_settings(ANYMAIL={})
    def test_view_that_opts_out_does_not_warn_without_a_secret(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            QuietSampleTrackingWebhookView()
        self.assertEqual(
            [w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)], []
        )

    @override_settings(ANYMAIL={})
    def test_per_instance_secret_does_not_warn(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            SampleTrackingWebhookView(webhook_secret="x:y")
        self.assertEqual(
            [w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)], []
        )


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class PerInstanceWebhookSecretTests(SampleESPWebhookTestCase):
    def test_as_view_webhook_secret_overrides_settings(self):
        response = self.post_webhook(sample_events(), url=OVERRIDE_SECRET_PATH, auth="x:y")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.received_events()), 3)

    def test_as_view_webhook_secret_replaces_rather_than_adds_to_settings(self):
        response = self.post_webhook(sample_events(), url=OVERRIDE_SECRET_PATH, auth=WEBHOOK_SECRET)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_as_view_webhook_secret_applies_to_every_request_not_just_the_first(self):
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                response = self.post_webhook(sample_events(), url=OVERRIDE_SECRET_PATH, auth="x:y")
                self.assertEqual(response.status_code, 200)
                response = self.post_webhook(sample_events(), url=OVERRIDE_SECRET_PATH)
                self.assertEqual(response.status_code, 400)

    def test_other_views_still_use_the_settings_secret(self):
        self.assertEqual(self.post_webhook(sample_events(), auth="x:y").status_code, 400)
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)


# ---------------------------------------------------------------------------------------------
# The ESP's own signature check (validate_request)
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class WebhookSignatureValidationTests(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.parse_spy = self.spy_on(SampleTrackingWebhookView, "parse_events")

    def test_checks_run_in_order_basic_auth_then_signature_then_parsing(self):
        order = []

        def recording(name, original):
            def wrapper(view, *args, **kwargs):
                order.append(name)
                return original(view, *args, **kwargs)

            return wrapper

        View = SampleTrackingWebhookView
        with (
            mock.patch.object(
                View, "validate_basic_auth", recording("basic auth", View.validate_basic_auth)
            ),
            mock.patch.object(
                View, "validate_request", recording("signature", View.validate_request)
            ),
            mock.patch.object(View, "parse_events", recording("parse", View.parse_events)),
        ):
            response = self.post_webhook(sample_events())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(order, ["basic auth", "signature", "parse"])

    def test_subclass_validate_request_adds_to_the_parent_check(self):
        # Every validate_request in the hierarchy runs (as in 6.1), base class first, so a
        # subclass's own check can't silently drop the ESP's signature check
        url = "/sampleesp/extra-check/"
        body = encode_json(sample_events())
        good_signature = sample_esp_signature(body)
        cases = [
            ("ok", good_signature, 200),
            ("ok", "0" * 64, 400),  # the parent's signature check still runs
            ("wrong", good_signature, 400),  # and so does the subclass's
        ]
        for project_check, signature, status in cases:
            with self.subTest(project_check=project_check, signature=signature):
                self.client.defaults["HTTP_X_PROJECT_CHECK"] = project_check
                response = self.post_webhook(body, url=url, signature=signature)
                self.assertEqual(response.status_code, status)
        self.assertEqual(len(self.received_events()), 3)  # only the first case got through

    def test_signature_is_not_checked_when_basic_auth_fails(self):
        validate_request_spy = self.spy_on(SampleTrackingWebhookView, "validate_request")
        response = self.post_webhook(sample_events(), auth="username:wrong")
        self.assertEqual(response.status_code, 400)
        validate_request_spy.assert_not_called()

    def test_bad_signature_is_rejected_before_parsing(self):
        body = encode_json(sample_events())
        bad_signatures = [
            "0" * 64,
            sample_esp_signature(body, OTHER_SIGNING_KEY),
            sample_esp_signature(body + b" "),
            sample_esp_signature(body).upper(),
            "",
        ]
        for signature in bad_signatures:
            with self.subTest(signature=signature):
                response = self.post_webhook(body, signature=signature)
                self.assertEqual(response.status_code, 400)
                self.parse_spy.assert_not_called()
                self.tracking_handler.assert_not_called()

    def test_missing_signature_header_is_400_not_500(self):
        # validate_request raises KeyError; the base view must treat that as a failed check
        client = Client(raise_request_exception=False)
        response = self.post_webhook(sample_events(), signature=None, client=client)
        self.assertEqual(response.status_code, 400)
        self.parse_spy.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_non_ascii_signature_header_is_400_not_500(self):
        client = Client(raise_request_exception=False)
        response = self.post_webhook(sample_events(), signature="sïgnåture", client=client)
        self.assertEqual(response.status_code, 400)
        self.parse_spy.assert_not_called()

    def test_signing_key_from_as_view_kwarg_is_used(self):
        body = encode_json(sample_events())
        default_key_response = self.post_webhook(body, url=OTHER_KEY_PATH)
        self.assertEqual(default_key_response.status_code, 400)
        other_key_response = self.post_webhook(
            body, url=OTHER_KEY_PATH, signature=sample_esp_signature(body, OTHER_SIGNING_KEY)
        )
        self.assertEqual(other_key_response.status_code, 200)
        self.assertEqual(len(self.received_events()), 3)


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class WebhookSignalTests(SampleESPWebhookTestCase):
    def test_batch_sends_one_tracking_signal_per_event_in_order(self):
        response = self.post_webhook(sample_events())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 3)
        self.inbound_handler.assert_not_called()
        for call in self.tracking_handler.call_args_list:
            self.assertEqual(call.args, ())
            self.assertIs(call.kwargs["signal"], tracking)
            self.assertIs(call.kwargs["sender"], SampleTrackingWebhookView)
            self.assertEqual(call.kwargs["esp_name"], "SampleESP")
            self.assertIsInstance(call.kwargs["event"], AnymailTrackingEvent)
        self.assertEqual(
            [event.event_id for event in self.received_events()],
            ["evt-0001", "evt-0002", "evt-0003"],
        )

    def test_tracking_event_fields_are_exactly_as_parsed(self):
        esp_events = sample_events()
        self.post_webhook(esp_events)
        delivered, clicked, bounced = self.received_events()

        self.assertEqual(delivered.event_type, "delivered")
        self.assertEqual(delivered.timestamp, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC))
        self.assertEqual(delivered.timestamp.utcoffset(), timedelta(0))
        self.assertEqual(delivered.event_id, "evt-0001")
        self.assertEqual(delivered.message_id, "<20231114221320.1@mail.example.com>")
        self.assertEqual(delivered.recipient, "alice@example.com")
        self.assertEqual(delivered.metadata, {"order_id": "A-1001", "customer": 42})
        self.assertEqual(delivered.tags, ["receipt", "orders"])
        self.assertIsNone(delivered.reject_reason)
        self.assertIsNone(delivered.click_url)
        self.assertIsNone(delivered.mta_response)
        self.assertIsNone(delivered.description)
        self.assertIsNone(delivered.user_agent)
        self.assertEqual(delivered.esp_event, esp_events[0])

        self.assertEqual(clicked.event_type, "clicked")
        self.assertEqual(clicked.timestamp, datetime(2023, 11, 14, 22, 14, 20, 250000, tzinfo=UTC))
        self.assertEqual(clicked.recipient, "bob@example.org")
        self.assertEqual(clicked.metadata, {})
        self.assertEqual(clicked.tags, [])
        self.assertEqual(
            clicked.click_url, "https://shop.example.com/orders/A-1002?utm_source=email"
        )
        self.assertEqual(clicked.esp_event, esp_events[1])

        self.assertEqual(bounced.event_type, "bounced")
        self.assertEqual(bounced.timestamp, datetime(2023, 11, 14, 22, 15, 20, tzinfo=UTC))
        self.assertEqual(bounced.reject_reason, "bounced")
        self.assertEqual(bounced.mta_response, "550 5.1.1 <carol@example.net>: mailbox unavailable")
        self.assertEqual(bounced.metadata, {"order_id": "A-1003"})
        self.assertEqual(bounced.tags, ["receipt"])
        self.assertEqual(bounced.esp_event, esp_events[2])

    def test_unrecognized_esp_event_type_is_normalized_to_unknown(self):
        esp_event = dict(sample_events()[0], event="list_cleaned")
        self.assertEqual(self.post_webhook([esp_event]).status_code, 200)
        (event,) = self.received_events()
        self.assertEqual(event.event_type, "unknown")

    def test_empty_batch_is_200_and_sends_no_signal(self):
        response = self.post_webhook([])
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_inbound_view_sends_the_inbound_signal_not_tracking(self):
        payload = sample_inbound_payload()
        response = self.post_webhook(payload, url=INBOUND_PATH, signature=None)
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()
        self.assertEqual(self.inbound_handler.call_count, 1)
        call = self.inbound_handler.call_args
        self.assertIs(call.kwargs["signal"], inbound)
        self.assertIs(call.kwargs["sender"], SampleInboundWebhookView)
        self.assertEqual(call.kwargs["esp_name"], "SampleESP")
        event = call.kwargs["event"]
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertEqual(event.event_id, "inb-0001")
        self.assertEqual(event.timestamp, datetime(2023, 11, 14, 22, 15, tzinfo=UTC))
        self.assertEqual(event.esp_event, payload)
        self.assertEqual(event.message["Subject"], "Order A-1001 question")
        self.assertEqual(event.message["From"], "Dana Sender <dana@example.com>")
        self.assertEqual(event.message.get_content().strip(), "Where is my order?")

    def test_inbound_view_requires_basic_auth_too(self):
        inbound_parse_spy = self.spy_on(SampleInboundWebhookView, "parse_events")
        response = self.post_webhook(sample_inbound_payload(), url=INBOUND_PATH, auth="a:b")
        self.assertEqual(response.status_code, 400)
        inbound_parse_spy.assert_not_called()
        self.inbound_handler.assert_not_called()

    def test_every_connected_receiver_gets_every_event(self):
        second_handler = mock_receiver("second_handler")
        tracking.connect(second_handler, weak=False)
        self.addCleanup(tracking.disconnect, second_handler)
        self.post_webhook(sample_events())
        self.assertEqual(
            [c.kwargs["event"].event_id for c in second_handler.call_args_list],
            ["evt-0001", "evt-0002", "evt-0003"],
        )
        self.assertEqual(self.tracking_handler.call_count, 3)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class ReceiverErrorTests(SampleESPWebhookTestCase):
    def test_receiver_exception_is_503_logged_and_the_rest_still_delivered(self):
        # 503 makes every ESP retry (several drop events after a 4xx); the ESP resends the
        # whole batch, and receivers can tell the repeats by event_id
        error = RuntimeError("database is down")

        def fail_on_second_event(sender, event, esp_name, **kwargs):
            if event.event_id == "evt-0002":
                raise error

        self.tracking_handler.side_effect = fail_on_second_event
        second_receiver = mock_receiver("second_receiver")
        tracking.connect(second_receiver, weak=False)
        self.addCleanup(tracking.disconnect, second_receiver)
        client = Client(raise_request_exception=False)
        with self.assertLogs("anymail.webhooks", level="ERROR") as logs:
            response = self.post_webhook(sample_events(), client=client)

        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "60")
        all_ids = ["evt-0001", "evt-0002", "evt-0003"]
        self.assertEqual([event.event_id for event in self.received_events()], all_ids)
        # the other receiver of the failing event ran too
        self.assertEqual(
            [c.kwargs["event"].event_id for c in second_receiver.call_args_list], all_ids
        )
        self.assertEqual(len(logs.records), 1)
        record = logs.records[0]
        self.assertEqual(record.levelno, logging.ERROR)
        self.assertIsNotNone(record.exc_info)
        self.assertIs(record.exc_info[1], error)
        self.assertIn("SampleESP", record.getMessage())

    def test_inbound_receiver_exception_is_503_and_logged(self):
        self.inbound_handler.side_effect = ValueError("cannot store attachment")
        client = Client(raise_request_exception=False)
        with self.assertLogs("anymail.webhooks", level="ERROR") as logs:
            response = self.post_webhook(
                sample_inbound_payload(), url=INBOUND_PATH, signature=None, client=client
            )
        self.assertEqual(response.status_code, 503)
        self.assertEqual(self.inbound_handler.call_count, 1)
        self.assertIsInstance(logs.records[0].exc_info[1], ValueError)

    def test_receiver_that_handles_its_own_errors_gets_200(self):
        def careful_receiver(sender, event, esp_name, **kwargs):
            try:
                raise RuntimeError("transient")
            except RuntimeError:
                pass

        self.tracking_handler.side_effect = careful_receiver
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_django_dispatch_still_logs_a_failing_receiver(self):
        # (as Signal.send_robust() does, though the view calls receivers itself)
        self.tracking_handler.side_effect = RuntimeError("database is down")
        client = Client(raise_request_exception=False)
        with self.assertLogs("django.dispatch", level="ERROR") as logs:
            self.assertEqual(self.post_webhook(sample_events(), client=client).status_code, 503)
        self.assertEqual(len(logs.records), 3)  # one per event
        self.assertIn("tracking_handler", logs.records[0].getMessage())


class SenderFilteredReceiver:
    """A receiver object with a bound method, to connect weakly (and to drop)."""

    def __init__(self) -> None:
        self.event_ids: list[str] = []

    def receive(self, sender, event, esp_name, **kwargs):
        self.event_ids.append(event.event_id)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class ReceiverDispatchTests(SampleESPWebhookTestCase):
    """The view calls receivers itself (looked up once per batch): exactly as send_robust."""

    def connect(self, receiver, **kwargs):
        tracking.connect(receiver, **kwargs)
        self.addCleanup(tracking.disconnect, receiver, sender=kwargs.get("sender"))

    def test_receiver_connected_for_a_sender_gets_only_that_views_events(self):
        this_view, other_view = mock_receiver("this_view"), mock_receiver("other_view")
        self.connect(this_view, sender=SampleTrackingWebhookView, weak=False)
        self.connect(other_view, sender=SampleInboundWebhookView, weak=False)
        self.post_webhook(sample_events())
        self.assertEqual(this_view.call_count, 3)
        other_view.assert_not_called()
        self.assertIs(this_view.call_args.kwargs["sender"], SampleTrackingWebhookView)
        self.assertIs(this_view.call_args.kwargs["signal"], tracking)
        self.assertEqual(this_view.call_args.kwargs["esp_name"], "SampleESP")

    def test_subclass_views_events_do_not_reach_a_receiver_for_its_parent(self):
        # (Django matches the sender exactly: the subclass is another sender)
        parent_only = mock_receiver("parent_only")
        self.connect(parent_only, sender=SampleTrackingWebhookView, weak=False)
        self.post_webhook(sample_events(), url="/sampleesp/combined/")
        parent_only.assert_not_called()
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_weakly_connected_receiver_gets_events_while_it_lives(self):
        receiver = SenderFilteredReceiver()
        tracking.connect(receiver.receive)  # (weak: a WeakMethod, gone with its object)
        self.post_webhook(sample_events())
        self.assertEqual(receiver.event_ids, ["evt-0001", "evt-0002", "evt-0003"])

        received = receiver.event_ids
        del receiver  # (its bound method was connected weakly: now it's gone)
        self.post_webhook(sample_events())
        self.assertEqual(len(received), 3)  # nothing more
        self.assertEqual(self.tracking_handler.call_count, 6)

    def test_receiver_that_disconnects_another_stops_it_for_the_rest_of_the_batch(self):
        # send_robust() per event would look the receivers up again for the next event
        later = mock_receiver("later")

        def disconnecting(sender, event, **kwargs):
            tracking.disconnect(later)

        self.connect(disconnecting, weak=False)
        self.connect(later, weak=False)
        self.post_webhook(sample_events())
        # the first event reached "later" (connected when it was sent); no other did
        self.assertEqual([c.kwargs["event"].event_id for c in later.call_args_list], ["evt-0001"])
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_receiver_connected_during_a_batch_gets_the_rest_of_it(self):
        added = mock_receiver("added")

        def connecting(sender, event, **kwargs):
            tracking.connect(added, weak=False)

        self.connect(connecting, weak=False)
        self.addCleanup(tracking.disconnect, added)
        self.post_webhook(sample_events())
        self.assertEqual(
            [c.kwargs["event"].event_id for c in added.call_args_list], ["evt-0002", "evt-0003"]
        )

    @skipIf(django.VERSION < (5, 0), "Django 4.2's signals have no async receivers")
    def test_async_receiver_gets_every_event_too(self):
        received = []

        async def async_receiver(sender, event, esp_name, **kwargs):
            received.append(event.event_id)

        self.connect(async_receiver, weak=False)
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(received, ["evt-0001", "evt-0002", "evt-0003"])
        self.assertEqual(self.tracking_handler.call_count, 3)

    @skipIf(django.VERSION < (5, 0), "Django 4.2's signals have no async receivers")
    def test_failing_async_receiver_is_isolated_and_answered_with_a_retry(self):
        async def failing_async_receiver(sender, event, esp_name, **kwargs):
            raise RuntimeError("async failure")

        self.connect(failing_async_receiver, weak=False)
        client = Client(raise_request_exception=False)
        self.assertEqual(self.post_webhook(sample_events(), client=client).status_code, 503)
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_failing_receiver_does_not_stop_the_receivers_after_it(self):
        first, last = mock_receiver("first"), mock_receiver("last")
        first.side_effect = RuntimeError("first fails")
        tracking.disconnect(self.tracking_handler)  # (so "first" is the first connected)
        self.connect(first, weak=False)
        self.connect(last, weak=False)
        client = Client(raise_request_exception=False)
        self.assertEqual(self.post_webhook(sample_events(), client=client).status_code, 503)
        self.assertEqual(first.call_count, 3)
        self.assertEqual(last.call_count, 3)


@override_settings(
    ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "DEDUPLICATE_WEBHOOK_EVENTS": True},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
class BatchDeduplicationTests(SampleESPWebhookTestCase):
    """With DEDUPLICATE_WEBHOOK_EVENTS, a batch's events are looked up in the cache at once."""

    def setUp(self):
        super().setUp()
        caches["default"].clear()
        self.addCleanup(caches["default"].clear)

    def test_one_cache_lookup_for_the_whole_batch(self):
        cache_class = type(caches["default"])
        with mock.patch.object(
            cache_class, "get_many", autospec=True, side_effect=cache_class.get_many
        ) as get_many:
            self.post_webhook(sample_events())
            self.post_webhook(sample_events())
        self.assertEqual(get_many.call_count, 2)  # one per post
        self.assertEqual(len(get_many.call_args.args[1]), 3)  # the batch's three events
        self.assertEqual(self.tracking_handler.call_count, 3)  # the repeat delivered nothing

    def test_an_event_repeated_within_a_batch_is_delivered_once(self):
        events = sample_events()
        self.post_webhook(events + [events[1]])
        self.assertEqual(
            [event.event_id for event in self.received_events()],
            ["evt-0001", "evt-0002", "evt-0003"],
        )

    def test_a_failed_event_is_not_remembered_but_the_others_are(self):
        def fail_second(sender, event, esp_name, **kwargs):
            if event.event_id == "evt-0002":
                raise RuntimeError("temporary")

        self.tracking_handler.side_effect = fail_second
        client = Client(raise_request_exception=False)
        self.assertEqual(self.post_webhook(sample_events(), client=client).status_code, 503)
        self.tracking_handler.side_effect = None
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(
            [event.event_id for event in self.received_events()],
            ["evt-0001", "evt-0002", "evt-0003", "evt-0002"],
        )


# ---------------------------------------------------------------------------------------------
# Malformed payloads
# ---------------------------------------------------------------------------------------------


def _without(key: str) -> list[dict[str, Any]]:
    events = sample_events()
    del events[0][key]
    return events


def _with(**changes: Any) -> list[dict[str, Any]]:
    events = sample_events()
    events[0].update(changes)
    return events


#: Bodies that can't even be split into events: the whole request is a 400
MALFORMED_TRACKING_BODIES: dict[str, bytes] = {
    "invalid JSON": b'[{"event": "delivered", ',
    "not JSON at all": b"event=delivered&recipient=alice%40example.com",
    "empty body": b"",
    "JSON object instead of list": encode_json(sample_events()[0]),
    "JSON string": b'"delivered"',
    "JSON null": b"null",
    "non-UTF-8 bytes": b"\xff\xfe[\x00]\x00",
    "UTF-8 JSON with a stray latin-1 byte": encode_json(sample_events())[:-3] + b"\xe9}]",
    "deeply nested JSON": b"[" * 100000 + b"]" * 100000,
}

#: Batches in which the first event can't be normalized (the others are fine)
ODD_EVENT_BATCHES: dict[str, bytes] = {
    "list of non-objects": b"[1, 2, 3]",
    "nested list": encode_json([sample_events()]),
    "missing event": encode_json(_without("event")),
    "missing timestamp": encode_json(_without("timestamp")),
    "missing message_id": encode_json(_without("message_id")),
    "missing recipient": encode_json(_without("recipient")),
    "timestamp is a word": encode_json(_with(timestamp="yesterday")),
    "timestamp is an object": encode_json(_with(timestamp={"seconds": 1700000000})),
    "timestamp is null": encode_json(_with(timestamp=None)),
    "timestamp is true": encode_json(_with(timestamp=True)),
    "timestamp is NaN": encode_json(_with(timestamp=math.nan)),
    "timestamp is Infinity": encode_json(_with(timestamp=math.inf)),
    "timestamp is 1e20": encode_json(_with(timestamp=1e20)),
    "timestamp has 400 digits": encode_json(_with(timestamp=10**400)),
    "recipient is a number": encode_json(_with(recipient=42)),
    "event is a list": encode_json(_with(event=["delivered"])),
    "metadata is a list": encode_json(_with(metadata=["order_id"])),
    "tags is a string": encode_json(_with(tags="receipt")),
}


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MalformedPayloadTests(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.parse_spy = self.spy_on(SampleTrackingWebhookView, "parse_events")
        self.client = Client(raise_request_exception=False)

    def test_malformed_tracking_bodies_are_400_without_calling_receivers(self):
        for description, body in MALFORMED_TRACKING_BODIES.items():
            with self.subTest(description):
                self.parse_spy.reset_mock()
                self.tracking_handler.reset_mock()
                response = self.post_webhook(body)
                self.assertEqual(response.status_code, 400)
                self.parse_spy.assert_called_once()  # so the 400 came from parsing, not auth
                self.tracking_handler.assert_not_called()

    def test_malformed_payload_is_logged_as_a_warning(self):
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            self.post_webhook(b"not json")
        self.assertEqual([r.levelno for r in logs.records], [logging.WARNING])
        self.assertIn("SampleESP", logs.records[0].getMessage())

    def test_odd_events_are_delivered_as_unknown_with_their_raw_data(self):
        for description, body in ODD_EVENT_BATCHES.items():
            with self.subTest(description):
                self.tracking_handler.reset_mock()
                response = self.post_webhook(body)
                self.assertEqual(response.status_code, 200)
                batch = json.loads(body)
                received = self.received_events()
                self.assertEqual(len(received), len(batch))
                odd = received[0]
                self.assertEqual(odd.event_type, "unknown")
                self.assertEqual(odd.esp_event, batch[0])
                self.assertIsNone(odd.timestamp)
                self.assertTrue(odd.event_id.startswith("anymail-"))

    def test_batch_with_one_bad_event_delivers_all_the_others(self):
        # 99 good events and one odd one: a 200, so nothing loops, and nothing is lost
        events = [dict(sample_events()[0], event_id=f"evt-{n:03}") for n in range(100)]
        events[41]["timestamp"] = "not a time"
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(events)
        self.assertEqual(response.status_code, 200)
        received = self.received_events()
        ids = [e["event_id"] for e in events]
        self.assertEqual([e.event_id for e in received[:41] + received[42:]], ids[:41] + ids[42:])
        self.assertTrue(received[41].event_id.startswith("anymail-"))  # a digest of its data
        self.assertEqual([e.event_type for e in received].count("unknown"), 1)
        self.assertEqual(received[41].event_type, "unknown")
        self.assertEqual(received[41].esp_event, events[41])
        self.assertEqual({e.event_type for e in received[:41] + received[42:]}, {"delivered"})
        self.assertIn("not a time", logs.output[0])  # the raw data is in the log, too

    def test_malformed_inbound_bodies_are_400_without_calling_receivers(self):
        bodies = {
            "invalid JSON": b"{",
            "list instead of object": encode_json([sample_inbound_payload()]),
            "missing raw_message": encode_json({"id": "x", "received_at": 1700000100}),
            "raw_message is a number": encode_json(dict(sample_inbound_payload(), raw_message=7)),
            "received_at is NaN": encode_json(dict(sample_inbound_payload(), received_at=math.nan)),
            "non-UTF-8 bytes": b'{"raw_message": "\xff"}',
        }
        for description, body in bodies.items():
            with self.subTest(description):
                response = self.post_webhook(body, url=INBOUND_PATH, signature=None)
                self.assertEqual(response.status_code, 400)
                self.inbound_handler.assert_not_called()

    def test_parse_json_body_rejects_unexpected_json_type_with_value_error(self):
        factory = RequestFactory()
        request = factory.generic("POST", "/", data=b'{"a": 1}', content_type="application/json")
        self.assertEqual(parse_json_body(request, dict), {"a": 1})
        with self.assertRaises(ValueError):
            parse_json_body(request, list)
        bad_bytes = factory.generic("POST", "/", data=b"[\xff]", content_type="application/json")
        with self.assertRaises(ValueError):
            parse_json_body(bad_bytes)

    def test_parse_json_body_parses_a_request_once(self):
        # (Views read it to check a signature, then again for their events)
        request = RequestFactory().generic(
            "POST", "/", data=b'{"a": [1, 2]}', content_type="application/json"
        )
        with mock.patch("anymail.webhooks.base.json.loads", wraps=json.loads) as loads:
            first = parse_json_body(request, dict)
            second = parse_json_body(request, (dict, list))
        self.assertIs(second, first)
        self.assertEqual(loads.call_count, 1)
        with self.assertRaises(ValueError):  # (the expected type is still checked every time)
            parse_json_body(request, list)

    def test_parse_json_body_of_another_request_is_its_own(self):
        factory = RequestFactory()
        first = factory.generic("POST", "/", data=b'{"a": 1}', content_type="application/json")
        second = factory.generic("POST", "/", data=b'{"b": 2}', content_type="application/json")
        self.assertEqual(parse_json_body(first), {"a": 1})
        self.assertEqual(parse_json_body(second), {"b": 2})


# ---------------------------------------------------------------------------------------------
# Settings, looked up once per setting (views are made per request)
# ---------------------------------------------------------------------------------------------


class CachedSettingsTests(SampleESPWebhookTestCase):
    def test_changed_settings_apply_to_the_next_request(self):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "first:secret"}):
            response = self.post_webhook(sample_events(), auth="first:secret")
            self.assertEqual(response.status_code, 200)
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "second:secret"}):
            response = self.post_webhook(sample_events(), auth="first:secret")
            self.assertEqual(response.status_code, 400)
            response = self.post_webhook(sample_events(), auth="second:secret")
            self.assertEqual(response.status_code, 200)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "TRACKING_MAX_BODY_SIZE": 20})
    def test_a_setting_is_looked_up_once_while_settings_are_unchanged(self):
        with mock.patch("anymail.conf.get_anymail_setting", wraps=get_anymail_setting) as lookup:
            for _ in range(3):
                self.assertEqual(self.post_webhook(sample_events()).status_code, 413)
        looked_up = [call.args[0] for call in lookup.call_args_list]
        self.assertEqual(looked_up.count("tracking_max_body_size"), 1)
        self.assertEqual(looked_up.count("webhook_secret"), 1)

    def test_missing_setting_gives_each_callers_default(self):
        with override_settings(ANYMAIL={}):
            self.assertEqual(cached_settings.get_anymail_setting("webhook_cache", default="a"), "a")
            self.assertEqual(cached_settings.get_anymail_setting("webhook_cache", default="b"), "b")
            with self.assertRaisesMessage(AnymailConfigurationError, "WEBHOOK_CACHE"):
                cached_settings.get_anymail_setting("webhook_cache")

    def test_kwargs_win_and_are_not_remembered(self):
        with override_settings(ANYMAIL={"WEBHOOK_CACHE": "from-settings"}):
            kwargs = {"webhook_cache": "from-kwargs"}
            value = cached_settings.get_anymail_setting("webhook_cache", kwargs=kwargs)
            self.assertEqual(value, "from-kwargs")
            self.assertEqual(kwargs, {})  # (popped, as get_anymail_setting does)
            value = cached_settings.get_anymail_setting("webhook_cache", kwargs={})
            self.assertEqual(value, "from-settings")


# ---------------------------------------------------------------------------------------------
# HTTP methods and CSRF
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class WebhookHttpMethodTests(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.parse_spy = self.spy_on(SampleTrackingWebhookView, "parse_events")

    def test_get_is_405_even_with_valid_auth(self):
        response = self.client.get(
            TRACKING_PATH, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
        )
        self.assertEqual(response.status_code, 405)
        self.assertIn("POST", response["Allow"])
        self.assertNotIn("GET", response["Allow"])
        self.parse_spy.assert_not_called()

    def test_put_is_405(self):
        response = self.client.put(
            TRACKING_PATH, data=b"[]", HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
        )
        self.assertEqual(response.status_code, 405)

    def test_head_is_200_without_auth_and_without_parsing(self):
        for url in [TRACKING_PATH, INBOUND_PATH]:
            with self.subTest(url=url):
                response = self.client.head(url)
                self.assertEqual(response.status_code, 200)
        self.parse_spy.assert_not_called()
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()

    @override_settings(MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"])
    def test_webhook_is_csrf_exempt(self):
        csrf_client = Client(enforce_csrf_checks=True)
        # control: CSRF checking really is active for ordinary views in this setup
        self.assertEqual(csrf_client.post("/csrf-protected/").status_code, 403)

        response = self.post_webhook(sample_events(), client=csrf_client)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 3)
        response = self.post_webhook(
            sample_inbound_payload(), url=INBOUND_PATH, signature=None, client=csrf_client
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.inbound_handler.call_count, 1)


# ---------------------------------------------------------------------------------------------
# The event classes
# ---------------------------------------------------------------------------------------------


class AnymailEventTests(SimpleTestCase):
    def test_tracking_event_metadata_and_tags_default_to_empty(self):
        event = AnymailTrackingEvent(event_type="delivered")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        for attr in [
            "timestamp",
            "event_id",
            "esp_event",
            "message_id",
            "recipient",
            "reject_reason",
            "description",
            "mta_response",
            "user_agent",
            "click_url",
        ]:
            with self.subTest(attr=attr):
                self.assertIsNone(getattr(event, attr))

    def test_tracking_event_default_metadata_and_tags_are_distinct_per_instance(self):
        first = AnymailTrackingEvent(event_type="opened")
        second = AnymailTrackingEvent(event_type="opened")
        first.metadata["leaked"] = True
        first.tags.append("leaked")
        self.assertIsNot(first.metadata, second.metadata)
        self.assertIsNot(first.tags, second.tags)
        self.assertEqual(second.metadata, {})
        self.assertEqual(second.tags, [])
        self.assertEqual(AnymailTrackingEvent(event_type="opened").metadata, {})

    def test_tracking_event_naive_timestamp_is_made_aware_utc(self):
        event = AnymailTrackingEvent(event_type="sent", timestamp=datetime(2024, 3, 4, 5, 6, 7))
        self.assertEqual(event.timestamp, datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC))
        self.assertEqual(event.timestamp.utcoffset(), timedelta(0))

    def test_naive_timestamp_is_utc_whatever_the_local_or_django_timezone(self):
        # Neither the process's zone nor Django's current zone may leak in (both non-UTC here)
        self.addCleanup(time.tzset)
        with (
            mock.patch.dict(os.environ, {"TZ": "Asia/Kolkata"}),
            django_timezone.override("Asia/Tokyo"),
        ):
            time.tzset()
            tracking_event = AnymailTrackingEvent("sent", timestamp=datetime(2024, 3, 4, 5, 6, 7))
            inbound_event = AnymailInboundEvent(timestamp=datetime(2024, 3, 4, 5, 6, 7))
        for event in [tracking_event, inbound_event]:
            with self.subTest(event=type(event).__name__):
                self.assertEqual(event.timestamp, datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC))
                self.assertEqual(event.timestamp.utcoffset(), timedelta(0))

    def test_tracking_event_aware_timestamp_is_kept_as_is(self):
        pacific = timezone(timedelta(hours=-8))
        timestamp = datetime(2024, 3, 4, 5, 6, 7, tzinfo=pacific)
        event = AnymailTrackingEvent(event_type="sent", timestamp=timestamp)
        self.assertEqual(event.timestamp, timestamp)
        self.assertEqual(event.timestamp.utcoffset(), timedelta(hours=-8))

    def test_tracking_event_keeps_given_fields(self):
        metadata = {"order": 1}
        event = AnymailTrackingEvent(
            event_type="bounced",
            message_id="m1",
            recipient="r@example.com",
            metadata=metadata,
            tags=["t"],
            reject_reason="bounced",
            esp_event={"raw": True},
        )
        self.assertIs(event.metadata, metadata)
        self.assertEqual(
            (event.event_type, event.message_id, event.recipient, event.tags, event.reject_reason),
            ("bounced", "m1", "r@example.com", ["t"], "bounced"),
        )
        self.assertEqual(event.esp_event, {"raw": True})

    def test_create_makes_the_same_event_as_calling_the_class(self):
        cases = [
            {"event_type": "delivered"},
            {"event_type": EventType.BOUNCED, "reject_reason": RejectReason.BOUNCED},
            {"event_type": "no-such-type", "reject_reason": "no-such-reason"},
            {"event_type": "sent", "timestamp": datetime(2024, 3, 4, 5, 6, 7)},  # naive
            {
                "event_type": EventType.CLICKED,
                "timestamp": datetime(2024, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2))),
                "event_id": "evt-1",
                "esp_event": {"raw": True},
                "message_id": "m1",
                "recipient": "r@example.com",
                "metadata": {"order": 1},
                "tags": ["t"],
                "description": "d",
                "mta_response": "250 OK",
                "user_agent": "ua",
                "click_url": "https://example.com/",
            },
        ]
        for fields in cases:
            with self.subTest(fields=fields):
                created = AnymailTrackingEvent.create(**fields)
                called = AnymailTrackingEvent(**fields)
                self.assertIs(type(created), AnymailTrackingEvent)
                self.assertEqual(vars(created), vars(called))
                self.assertEqual(list(vars(created)), list(vars(called)))  # (so repr() too)
                self.assertEqual(repr(created), repr(called))

    def test_create_takes_exactly_the_classs_documented_arguments(self):
        # (so the two can't drift apart)
        import inspect

        init_params = list(inspect.signature(AnymailTrackingEvent.__init__).parameters)
        create_params = list(inspect.signature(AnymailTrackingEvent.create).parameters)
        self.assertEqual(init_params[0], "self")
        self.assertEqual(init_params[-1], "kwargs")
        self.assertEqual(create_params, init_params[1:-1])

    def test_create_respects_a_subclass(self):
        class ProjectEvent(AnymailTrackingEvent):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.project_note = "made by ProjectEvent"

        event = ProjectEvent.create("opened", recipient="r@example.com")
        self.assertIs(type(event), ProjectEvent)
        self.assertEqual(event.project_note, "made by ProjectEvent")
        self.assertEqual((event.event_type, event.recipient), ("opened", "r@example.com"))

    def test_inbound_event_type_is_inbound(self):
        event = AnymailInboundEvent()
        self.assertEqual(event.event_type, "inbound")
        self.assertEqual(event.event_type, EventType.INBOUND)
        self.assertIsNone(event.message)
        self.assertIsNone(event.timestamp)
        self.assertIsNone(event.event_id)

    def test_inbound_event_naive_timestamp_is_made_aware_utc(self):
        event = AnymailInboundEvent(timestamp=datetime(2024, 3, 4, 5, 6, 7))
        self.assertEqual(event.timestamp, datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC))


# ---------------------------------------------------------------------------------------------
# Property tests: whatever arrives, a 200 or a 400, never a 5xx
# ---------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
odd_timestamps = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 253402300800, -62135596801]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1700000000", " 1700000000 ", "1e400", "nan", "-inf", "", "0x10", "1_000"]),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    json_values,
)
EVENT_KEYS = ["event", "timestamp", "event_id", "message_id", "recipient", "metadata", "tags"]


@st.composite
def mutated_events(draw) -> dict[str, Any]:
    event = dict(draw(st.sampled_from(sample_events())))
    for key in draw(st.sets(st.sampled_from(sorted(event)), max_size=3)):
        del event[key]
    for key in draw(st.sets(st.sampled_from(EVENT_KEYS), max_size=3)):
        event[key] = draw(odd_timestamps if key == "timestamp" else json_values)
    if draw(st.booleans()):
        event["timestamp"] = draw(odd_timestamps)
    return event


def _encode_text(text: str, charset: str) -> bytes:
    return text.encode(charset, errors="replace")


mutated_payloads = st.one_of(
    st.lists(mutated_events(), max_size=4),
    st.lists(st.one_of(mutated_events(), json_values), max_size=3),
    json_values,
)
charsets = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "utf-32"])
request_bodies = st.one_of(
    st.builds(encode_json, mutated_payloads),
    st.builds(
        lambda payload, charset: _encode_text(json.dumps(payload, ensure_ascii=False), charset),
        mutated_payloads,
        charsets,
    ),
    st.binary(max_size=200),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=no-such-charset",
        "text/plain; charset=x-no-such-charset",  # (a NUL here breaks Django itself)
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "",
    ]
)

VALID_CREDENTIALS = WEBHOOK_SECRET.encode()


def _could_authenticate(header: str | None) -> bool:
    """Whether any token in header base64-decodes to the secret (filters invalid_auth_headers)."""
    for token in (header or "").split():
        for validate in (True, False):
            try:
                if base64.b64decode(token, validate=validate) == VALID_CREDENTIALS:
                    return True
            except (ValueError, TypeError):
                pass
    return False


auth_schemes = st.sampled_from(["Basic", "basic", "BASIC", "Bearer", "Digest", "", "Basic\t"])
invalid_auth_headers = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.builds(
        lambda scheme, credentials: f"{scheme} {base64.b64encode(credentials).decode()}",
        auth_schemes,
        st.binary(max_size=30),
    ),
    st.builds(lambda scheme, text: f"{scheme} {text}", auth_schemes, st.text(max_size=30)),
    st.sampled_from(
        [
            basic_auth_header("username:wrong"),
            basic_auth_header("username:password "),
            basic_auth_header(b"username:password\xff"),
            "Bearer " + base64.b64encode(VALID_CREDENTIALS).decode(),
            "Basic dXNlcm5hbWU6cGFzc3dvcmQ",  # right secret, padding missing
        ]
    ),
).filter(
    lambda header: (
        not _could_authenticate(header) or header.split(maxsplit=1)[0].lower() not in ("basic",)
    )
)

property_settings = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class WebhookPropertyTests(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)
        self.parse_spy = self.spy_on(SampleTrackingWebhookView, "parse_events")
        self.validate_request_spy = self.spy_on(SampleTrackingWebhookView, "validate_request")

    def reset(self):
        for spy in (self.parse_spy, self.validate_request_spy, self.tracking_handler):
            spy.reset_mock()

    @property_settings
    @given(body=request_bodies, content_type=content_types)
    def test_any_body_with_valid_auth_is_200_or_400_never_5xx(self, body, content_type):
        self.reset()
        response = self.post_webhook(body, content_type=content_type)
        self.assertIn(response.status_code, (200, 400), f"body={body!r}")
        if response.status_code == 200:
            # Only a JSON list succeeds, and then every item is delivered: a normalized event
            # with an aware timestamp, or an "unknown" one holding the raw item
            self.parse_spy.assert_called_once()
            events = json.loads(body.decode("utf-8"))
            self.assertIsInstance(events, list)
            delivered = self.received_events()
            self.assertEqual(len(delivered), len(events))
            for event, raw in zip(delivered, events, strict=True):
                self.assertIsInstance(event, AnymailTrackingEvent)
                if event.event_type == "unknown" and event.timestamp is None:
                    self.assertEqual(event.esp_event, raw)
                else:
                    self.assertIsNotNone(event.timestamp.utcoffset())
                self.assertTrue(event.event_id)
        else:
            self.tracking_handler.assert_not_called()

    @property_settings
    @given(body=request_bodies, content_type=content_types, authorization=invalid_auth_headers)
    def test_any_request_with_invalid_auth_is_400_and_never_parsed(
        self, body, content_type, authorization
    ):
        self.reset()
        extra = {"signature": sample_esp_signature(body)}  # validly signed: only auth is wrong
        if authorization is None:
            response = self.post_webhook(body, auth=None, content_type=content_type, **extra)
        else:
            response = self.post_webhook(
                body, authorization=authorization, content_type=content_type, **extra
            )
        self.assertEqual(response.status_code, 400, f"authorization={authorization!r}")
        self.validate_request_spy.assert_not_called()
        self.parse_spy.assert_not_called()
        self.tracking_handler.assert_not_called()

    @property_settings
    @given(body=request_bodies, signature=st.one_of(st.none(), st.text(max_size=70)))
    def test_any_bad_signature_is_400_and_never_parsed(self, body, signature):
        assume(signature != sample_esp_signature(body))
        self.reset()
        response = self.post_webhook(body, signature=signature)
        self.assertEqual(response.status_code, 400)
        self.parse_spy.assert_not_called()
        self.tracking_handler.assert_not_called()


# ---------------------------------------------------------------------------------------------
# Timestamp helpers
# ---------------------------------------------------------------------------------------------


class TimestampHelperTests(SimpleTestCase):
    def assert_value_error(self, func, value):
        """func(value) must raise ValueError specifically (not OverflowError, TypeError...)."""
        try:
            result = func(value)
        except ValueError:
            return
        except Exception as err:
            self.fail(f"{func.__name__}({value!r:.60}) raised {type(err).__name__}, not ValueError")
        self.fail(f"{func.__name__}({value!r:.60}) returned {result!r} instead of raising")

    def test_timestamp_to_datetime_accepts_epoch_ints_floats_and_numeric_strings(self):
        cases = {
            1700000000: datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            1700000000.5: datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC),
            "1700000000": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            "1700000000.25": datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC),
            0: datetime(1970, 1, 1, tzinfo=UTC),
            -86400: datetime(1969, 12, 31, tzinfo=UTC),
        }
        for value, expected in cases.items():
            with self.subTest(value=value):
                result = timestamp_to_datetime(value)
                self.assertEqual(result, expected)
                self.assertEqual(result.utcoffset(), timedelta(0))

    def test_timestamp_to_datetime_rejects_bad_values_with_value_error(self):
        bad_values = [None, "", "abc", math.nan, math.inf, -math.inf, 1e20, -1e20, True, False]
        bad_values += ["nan", "inf", [], {}, [1700000000], object()]
        for value in bad_values:
            with self.subTest(value=value):
                self.assert_value_error(timestamp_to_datetime, value)

    def test_timestamp_to_datetime_rejects_huge_ints_with_value_error(self):
        # FAILS against the current anymail/timestamps.py: float(10**400) raises OverflowError
        # ("int too large to convert to float"), which escapes the (TypeError, ValueError)
        # handler. A JSON payload with a 400-digit timestamp parses to exactly such an int.
        for value in [10**400, -(10**400)]:
            with self.subTest(digits=len(str(value))):
                self.assert_value_error(timestamp_to_datetime, value)

    @settings(max_examples=100, deadline=None, database=None)
    @given(value=odd_timestamps)
    def test_timestamp_to_datetime_returns_aware_datetime_or_raises_value_error(self, value):
        # Also FAILS on the 10**400 bug above (odd_timestamps includes such ints)
        try:
            result = timestamp_to_datetime(value)
        except ValueError:
            return
        except Exception as err:
            self.fail(f"timestamp_to_datetime({value!r:.60}) raised {type(err).__name__}")
        self.assertIsInstance(result, datetime)
        self.assertEqual(result.utcoffset(), timedelta(0))

    def test_parse_iso_datetime_handles_z_offsets_and_naive_values(self):
        cases = {
            "2024-01-02T03:04:05Z": (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), timedelta(0)),
            "2024-01-02T03:04:05+05:30": (
                datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
                timedelta(hours=5, minutes=30),
            ),
            "2024-01-02T03:04:05-08:00": (
                datetime(2024, 1, 2, 11, 4, 5, tzinfo=UTC),
                timedelta(hours=-8),
            ),
            "2024-01-02T03:04:05": (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), timedelta(0)),
            "2024-01-02T03:04:05.123456Z": (
                datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
                timedelta(0),
            ),
        }
        for value, (expected, offset) in cases.items():
            with self.subTest(value=value):
                result = parse_iso_datetime(value)
                self.assertEqual(result, expected)
                self.assertEqual(result.utcoffset(), offset)

    def test_timestamp_to_datetime_errors_say_what_was_wrong(self):
        for value in ["nan", math.nan, "inf", math.inf, "abc", 10**400, True]:
            with self.subTest(value=value), self.assertRaisesMessage(ValueError, "Invalid"):
                timestamp_to_datetime(value)
        for value in [1e20, "1e20", 10**15]:
            with self.subTest(value=value), self.assertRaisesMessage(ValueError, "out of range"):
                timestamp_to_datetime(value)

    def test_timestamp_to_datetime_takes_numeric_strings_with_spaces(self):
        self.assertEqual(
            timestamp_to_datetime(" 1700000000 "), datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        )

    def test_parse_iso_datetime_agrees_with_djangos_parse_datetime(self):
        # parse_iso_datetime tries datetime.fromisoformat() first, as parse_datetime does
        from django.utils.dateparse import parse_datetime

        values = [
            "2024-01-02T03:04:05+00:00",
            "2024-01-02T03:04:05.5+05:30",
            "2024-01-02 03:04:05",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05,123-0800",  # (parse_datetime's own regex takes this one)
            "2024-01-02",
        ]
        for value in values:
            with self.subTest(value=value):
                expected = parse_datetime(value)
                if expected is None:
                    self.assert_value_error(parse_iso_datetime, value)
                    continue
                if expected.tzinfo is None:
                    expected = expected.replace(tzinfo=UTC)
                result = parse_iso_datetime(value)
                self.assertEqual(result, expected)
                self.assertEqual(result.utcoffset(), expected.utcoffset())

    def test_parse_iso_datetime_rejects_bad_values_with_value_error(self):
        bad_values = [None, "", "abc", math.nan, math.inf, 1e20, True, 1700000000, b"2024-01-02"]
        bad_values += ["2024-13-45T00:00:00", "2024-01-02T03:04:05+99:99", "2024-01-02T25:00:00"]
        for value in bad_values:
            with self.subTest(value=value):
                self.assert_value_error(parse_iso_datetime, value)

    def test_parse_rfc2822_datetime_handles_offsets(self):
        cases = {
            "Tue, 02 Jan 2024 03:04:05 +0000": (
                datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
                timedelta(0),
            ),
            "Tue, 02 Jan 2024 03:04:05 -0800": (
                datetime(2024, 1, 2, 11, 4, 5, tzinfo=UTC),
                timedelta(hours=-8),
            ),
            "2 Jan 2024 03:04:05 +0530": (
                datetime(2024, 1, 1, 21, 34, 5, tzinfo=UTC),
                timedelta(hours=5, minutes=30),
            ),
            # -0000 means "timezone unknown"; Anymail still promises an aware (UTC) value
            "Tue, 02 Jan 2024 03:04:05 -0000": (
                datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
                timedelta(0),
            ),
        }
        for value, (expected, offset) in cases.items():
            with self.subTest(value=value):
                result = parse_rfc2822_datetime(value)
                self.assertEqual(result, expected)
                self.assertEqual(result.utcoffset(), offset)

    def test_parse_rfc2822_datetime_rejects_bad_values_with_value_error(self):
        bad_values = [None, "", "abc", math.nan, math.inf, 1e20, True, 1700000000]
        bad_values += [
            "Mon, 01 Jan 99999 00:00:00 +0000",
            "Mon, 01 Jan 2024 00:00:00 +9999",
            "Mon, 01 Jan 2024 25:00:00 +0000",
            "2024-01-02T03:04:05Z",
        ]
        for value in bad_values:
            with self.subTest(value=value):
                self.assert_value_error(parse_rfc2822_datetime, value)


# ---------------------------------------------------------------------------------------------
# Misdirected payloads, and one url serving both signals
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MisdirectedAndCombinedWebhookTests(SampleESPWebhookTestCase):
    def test_inbound_payload_at_tracking_url_says_what_is_wrong(self):
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_webhook({"raw_message": "Subject: hi\n\nbody", "received_at": 1})
        self.assertEqual(response.status_code, 400)
        self.assertIn(b"inbound payload, posted to the tracking webhook", response.content)
        self.assertIn(b"anymail/sampleesp/inbound/", response.content)
        self.assertIn("misconfigured", logs.output[0])
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()

    def test_other_parse_errors_do_not_echo_details(self):
        response = self.post_webhook({"secret_looking": "payload"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.content, b"Malformed SampleESP webhook payload")

    def test_combined_url_sends_each_event_on_its_own_signal(self):
        tracking_event = sample_events()[0]
        inbound_event = {"raw_message": "Subject: Hello inbound\n\nbody"}
        response = self.post_webhook([tracking_event, inbound_event], url="/sampleesp/combined/")
        self.assertEqual(response.status_code, 200)
        (tracked,) = self.received_events(self.tracking_handler)
        (received,) = self.received_events(self.inbound_handler)
        self.assertEqual(tracked.message_id, tracking_event["message_id"])
        self.assertEqual(received.message["Subject"], "Hello inbound")
        self.assertEqual(self.inbound_handler.call_args.kwargs["sender"], SampleCombinedWebhookView)


class ChallengingSampleTrackingWebhookView(SampleTrackingWebhookView):
    basic_auth_challenge = True


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class BasicAuthChallengeTests(SampleESPWebhookTestCase):
    """For ESPs (Amazon SNS) that send a url's credentials only after a 401 challenge."""

    def setUp(self):
        super().setUp()
        urlpatterns.append(
            path("sampleesp/challenging/", ChallengingSampleTrackingWebhookView.as_view())
        )
        self.addCleanup(urlpatterns.pop)
        from django.urls import clear_url_caches

        clear_url_caches()
        self.addCleanup(clear_url_caches)
        self.parse_spy = self.spy_on(ChallengingSampleTrackingWebhookView, "parse_events")

    def test_no_authorization_gets_a_401_challenge(self):
        response = self.post_webhook(sample_events(), url="/sampleesp/challenging/", auth=None)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["WWW-Authenticate"], 'Basic realm="Anymail WEBHOOK_SECRET"')
        self.parse_spy.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_wrong_authorization_is_still_a_400(self):
        response = self.post_webhook(
            sample_events(), url="/sampleesp/challenging/", auth="wrong:secret"
        )
        self.assertEqual(response.status_code, 400)
        self.parse_spy.assert_not_called()

    def test_right_authorization_is_accepted(self):
        response = self.post_webhook(sample_events(), url="/sampleesp/challenging/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_other_esps_answer_400_without_a_challenge(self):
        response = self.post_webhook(sample_events(), auth=None)
        self.assertEqual(response.status_code, 400)
        self.assertNotIn("WWW-Authenticate", response)
