"""Mailgun tracking webhook: current JSON webhooks, legacy form webhooks, and their signatures.

Payloads are shaped as Mailgun's webhook docs show them ("Webhook Payloads", and the legacy
webhook parameter lists).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import warnings
from datetime import datetime, timezone
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, SimpleTestCase, override_settings
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import path
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailConfigurationError, AnymailInsecureWebhookWarning
from anymail.signals import AnymailTrackingEvent, inbound, tracking
from anymail.webhooks.mailgun import (
    MailgunInboundWebhookView,
    MailgunTrackingWebhookView,
    legacy_message_headers,
)

from .fakes import ReadCountingInput, mock_receiver, quiet_webhook_logs

SIGNING_KEY = "whsec-mailgun-signing-key-0123456789"
TRACKING_URL = "/anymail/mailgun/tracking/"
# Most tests post fixed (2018) payloads, often the same token several times: they turn off the
# replay checks, which MailgunReplayTests test (with the default settings)
NO_REPLAY_CHECKS = {"MAILGUN_WEBHOOK_MAX_AGE": None}

urlpatterns = [
    path(
        "anymail/mailgun/tracking/",
        MailgunTrackingWebhookView.as_view(),
        name="mailgun_tracking_webhook",
    ),
    path(
        "anymail/mailgun/inbound/",
        MailgunInboundWebhookView.as_view(),
        name="mailgun_inbound_webhook",
    ),
    path(
        "custom/mailgun/tracking/",
        MailgunTrackingWebhookView.as_view(webhook_signing_key="key-from-as-view"),
    ),
]


def mailgun_signature(timestamp: Any, token: str, key: str = SIGNING_KEY) -> str:
    """Mailgun's documented scheme: hex HMAC-SHA256 of timestamp + token, keyed by the key."""
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signed_json_payload(
    event_data: dict[str, Any],
    timestamp: str = "1534109600",
    token: str = "651869375b9df3c98fc15c4889b102119add1235c38fc92824",
    key: str = SIGNING_KEY,
) -> dict[str, Any]:
    return {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp, token, key),
        },
        "event-data": event_data,
    }


# Realistic current-format event-data, as in Mailgun's webhook payload examples

MESSAGE_ID = "20130503182626.18666.16540@sandboxf3d1.mailgun.org"
TIMESTAMP = 1521472262.908181
TIMESTAMP_DT = datetime(2018, 3, 19, 15, 11, 2, 908181, tzinfo=timezone.utc)


def message_block(**extra_headers: str) -> dict[str, Any]:
    return {
        "headers": {
            "to": "Alice <alice@example.com>",
            "message-id": MESSAGE_ID,
            "from": "Bob <bob@sandboxf3d1.mailgun.org>",
            "subject": "Test webhook",
            **extra_headers,
        },
        "attachments": [],
        "size": 111,
    }


DELIVERED = {
    "id": "CPgfbmQMTCKtHW6uIWtuVe",
    "timestamp": TIMESTAMP,
    "log-level": "info",
    "event": "delivered",
    "delivery-status": {
        "tls": True,
        "mx-host": "smtp-in.example.com",
        "code": 250,
        "description": "",
        "session-seconds": 0.4331989288330078,
        "utf8": True,
        "attempt-no": 1,
        "message": "OK",
        "certificate-verified": True,
    },
    "flags": {
        "is-routed": False,
        "is-authenticated": True,
        "is-system-test": False,
        "is-test-mode": False,
    },
    "envelope": {
        "transport": "smtp",
        "sender": "bob@sandboxf3d1.mailgun.org",
        "sending-ip": "209.61.154.250",
        "targets": "alice@example.com",
    },
    "message": message_block(),
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "storage": {
        "url": "https://se.api.mailgun.net/v3/domains/sandboxf3d1.mailgun.org/messages/message_key",
        "key": "message_key",
    },
    "campaigns": [],
    "tags": ["my_tag_1", "my_tag_2"],
    "user-variables": {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
}

PERMANENT_FAILURE = {
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "timestamp": TIMESTAMP,
    "log-level": "error",
    "event": "failed",
    "severity": "permanent",
    "reason": "bounce",
    "delivery-status": {
        "attempt-no": 1,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "code": 550,
        "description": "",
        "session-seconds": 0.7,
        "mx-host": "mx.example.com",
    },
    "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
    "envelope": {"sender": "bob@sandboxf3d1.mailgun.org", "transport": "smtp"},
    "message": message_block(),
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "campaigns": [],
    "tags": ["my_tag_1"],
    "user-variables": {"order": "12345"},
}

SUPPRESSED_FAILURE = {
    **PERMANENT_FAILURE,
    "reason": "suppress-bounce",
    "delivery-status": {
        "attempt-no": 1,
        "message": "",
        "code": 605,
        "description": "Not delivering to previously bounced address",
        "session-seconds": 0.0,
    },
}

TEMPORARY_FAILURE = {
    **PERMANENT_FAILURE,
    "log-level": "warn",
    "severity": "temporary",
    "reason": "generic",
    "delivery-status": {
        "attempt-no": 1,
        "message": "4.2.2 The email account that you tried to reach is over quota.",
        "code": 452,
        "description": "",
        "retry-seconds": 600,
        "session-seconds": 0.1,
    },
}

REJECTED = {
    "id": "Ow3aYH9jRcKGj_1glqSfSw",
    "timestamp": TIMESTAMP,
    "log-level": "warn",
    "event": "rejected",
    "reject": {
        "reason": "Sandbox subdomains are for test purposes only.",
        "description": "",
    },
    "flags": {"is-test-mode": False},
    "message": message_block(),
    "recipient": "alice@example.com",
    "tags": [],
    "user-variables": {},
}

OPENED = {
    "id": "-Agny091SquKnsrW2NEKUA",
    "timestamp": TIMESTAMP,
    "log-level": "info",
    "event": "opened",
    "ip": "50.56.129.169",
    "geolocation": {"country": "US", "region": "CA", "city": "San Francisco"},
    "client-info": {
        "client-os": "Linux",
        "device-type": "desktop",
        "client-name": "Chrome",
        "client-type": "browser",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
    },
    "message": {"headers": {"message-id": MESSAGE_ID}},
    "recipient": "alice@example.com",
    "recipient-domain": "example.com",
    "campaigns": [],
    "tags": ["my_tag_1"],
    "user-variables": {"my_var_1": "Mailgun Variable #1"},
}

CLICKED = {
    **OPENED,
    "id": "Ase7i2zsRYeDXztHGENqRA",
    "event": "clicked",
    "url": "https://example.com/landing?ref=1",
}

COMPLAINED = {
    "id": "-Agny091SquKnsrW2NEKUA",
    "timestamp": TIMESTAMP,
    "log-level": "warn",
    "event": "complained",
    "envelope": {"sending-ip": "173.193.210.33"},
    "flags": {"is-test-mode": False},
    "message": message_block(),
    "recipient": "alice@example.com",
    "campaigns": [],
    "tags": [],
    "user-variables": {},
}

UNSUBSCRIBED = {**OPENED, "event": "unsubscribed", "tags": [], "user-variables": {}}

ACCEPTED = {
    "id": "CCXMjJ7nQi2N3BPigGOdgQ",
    "timestamp": TIMESTAMP,
    "log-level": "info",
    "event": "accepted",
    "method": "HTTP",
    "envelope": {
        "sender": "sender@sample.mailgun.com",
        "targets": "recipient@sample.mailgun.com",
        "transport": "smtp",
    },
    "flags": {"is-authenticated": True, "is-test-mode": False},
    "message": message_block(),
    "recipient": "recipient@sample.mailgun.com",
    "recipient-domain": "sample.mailgun.com",
    "tags": [],
    "user-variables": {},
}

SAMPLE_EVENT_DATA = [
    DELIVERED,
    PERMANENT_FAILURE,
    SUPPRESSED_FAILURE,
    TEMPORARY_FAILURE,
    REJECTED,
    OPENED,
    CLICKED,
    COMPLAINED,
    UNSUBSCRIBED,
    ACCEPTED,
]

# Legacy webhooks: form fields. message-headers is a JSON list of [name, value], where Mailgun
# sends some values parsed, as [value, {param: value}] (as in its legacy webhook examples)

LEGACY_HEADERS = json.dumps(
    [
        [
            "Received",
            "by luna.mailgun.net with SMTP mgrt 8734663311733; Fri, 03 May 2013 18:26:27 +0000",
        ],
        [
            "Content-Type",
            ["multipart/alternative", {"boundary": "eb663d73ae0a4d6c9153cc0aec8b7520"}],
        ],
        ["Mime-Version", "1.0"],
        ["Subject", "Test deliver webhook"],
        ["From", "Bob <bob@sandboxf3d1.mailgun.org>"],
        ["To", "Alice <alice@example.com>"],
        ["Message-Id", f"<{MESSAGE_ID}>"],
        ["X-Mailgun-Tag", "legacy-tag-1"],
        ["X-Mailgun-Tag", "legacy-tag-2"],
        ["X-Mailgun-Variables", '{"my_var_1": "Mailgun Variable #1"}'],
        ["X-Mailgun-Variables", '{"my-var-2": "awesome", "body-plain": "not really"}'],
        ["Date", "Fri, 03 May 2013 18:26:27 +0000"],
        ["Sender", "bob@sandboxf3d1.mailgun.org"],
    ]
)

LEGACY_DELIVERED = [
    ("event", "delivered"),
    ("recipient", "alice@example.com"),
    ("domain", "sandboxf3d1.mailgun.org"),
    ("message-headers", LEGACY_HEADERS),
    ("Message-Id", f"<{MESSAGE_ID}>"),
    ("X-Mailgun-Sid", "WyIwNzI5MCIsICJhbGljZUBleGFtcGxlLmNvbSIsICI2Il0="),
    # Legacy webhooks also repeat custom variables as fields (ambiguously: see metadata test)
    ("my_var_1", "Mailgun Variable #1"),
    ("my-var-2", "awesome"),
    ("timestamp", "1521472262"),
    ("token", "f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4e5f6a7b8c9d"),
]

LEGACY_DROPPED = [
    ("event", "dropped"),
    ("recipient", "alice@example.com"),
    ("domain", "sandboxf3d1.mailgun.org"),
    ("message-headers", LEGACY_HEADERS),
    ("Message-Id", f"<{MESSAGE_ID}>"),
    ("reason", "hardfail"),
    ("code", "605"),
    ("description", "Not delivering to previously bounced address"),
    ("attachment-count", "0"),
    ("timestamp", "1521472262"),
    ("token", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829"),
]

LEGACY_BOUNCED = [
    ("event", "bounced"),
    ("recipient", "alice@example.com"),
    ("domain", "sandboxf3d1.mailgun.org"),
    ("message-headers", LEGACY_HEADERS),
    ("Message-Id", f"<{MESSAGE_ID}>"),
    ("code", "550"),
    ("error", "5.1.1 The email account that you tried to reach does not exist."),
    ("notification", ""),
    ("timestamp", "1521472262"),
    ("token", "0a9b8c7d6e5f40312a3b4c5d6e7f8091a2b3c4d5e6f7081920"),
]

LEGACY_CLICKED = [
    ("event", "clicked"),
    ("recipient", "alice@example.com"),
    ("domain", "sandboxf3d1.mailgun.org"),
    ("ip", "50.56.129.169"),
    ("country", "US"),
    ("region", "CA"),
    ("city", "San Francisco"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0"),
    ("device-type", "desktop"),
    ("client-type", "browser"),
    ("client-name", "Chrome"),
    ("client-os", "Linux"),
    ("campaign-id", "xkc2"),
    ("campaign-name", "Spring"),
    ("tag", "legacy-tag-1"),
    ("tag", "legacy-tag-2"),
    ("mailing-list", ""),
    ("message-id", MESSAGE_ID),
    ("url", "https://example.com/landing?ref=1"),
    # custom variables (metadata), mixed in with Mailgun's own fields
    ("order_id", "42"),
    ("customer", "Zoë"),
    ("timestamp", "1521472262"),
    ("token", "9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271"),
]

LEGACY_OPENED = [
    (name, value) for name, value in LEGACY_CLICKED if name != "url" and name != "event"
] + [("event", "opened")]

SAMPLE_LEGACY_FIELDS = [
    LEGACY_DELIVERED,
    LEGACY_DROPPED,
    LEGACY_BOUNCED,
    LEGACY_CLICKED,
    LEGACY_OPENED,
]

# What Mailgun's route forward() posts (fully-parsed inbound): belongs at .../inbound/
INBOUND_FIELDS = [
    ("recipient", "support@inbound.example.com"),
    ("sender", "envelope-from@example.org"),
    ("from", "Sender <from@example.org>"),
    ("subject", "Re: Sample email"),
    ("body-plain", "Test body plain"),
    ("stripped-text", "Test body plain"),
    ("message-headers", json.dumps([["Subject", "Re: Sample email"]])),
    ("timestamp", "1521472262"),
    ("token", "c0ffee0123456789c0ffee0123456789c0ffee0123456789ab"),
]


def legacy_body(fields: list[tuple[str, str]], key: str = SIGNING_KEY) -> str:
    timestamp = dict(fields)["timestamp"]
    token = dict(fields)["token"]
    return urlencode([*fields, ("signature", mailgun_signature(timestamp, token, key))])


@override_settings(
    ROOT_URLCONF=__name__,
    ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, **NO_REPLAY_CHECKS},
)
class MailgunWebhookTestCase(SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client()
        self.tracking_handler = mock_receiver("tracking_handler")
        self.inbound_handler = mock_receiver("inbound_handler")
        tracking.connect(self.tracking_handler, weak=False)
        inbound.connect(self.inbound_handler, weak=False)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        self.addCleanup(inbound.disconnect, self.inbound_handler)
        quiet_webhook_logs(self)

    def post_json(self, payload: Any, url: str = TRACKING_URL, **extra: Any):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.client.generic("POST", url, data=body, content_type="application/json", **extra)

    def post_form(self, body: str | bytes, url: str = TRACKING_URL, **extra: Any):
        return self.client.generic(
            "POST", url, data=body, content_type="application/x-www-form-urlencoded", **extra
        )

    def the_event(self) -> AnymailTrackingEvent:
        self.assertEqual(self.tracking_handler.call_count, 1)
        kwargs = self.tracking_handler.call_args.kwargs
        self.assertEqual(kwargs["sender"], MailgunTrackingWebhookView)
        self.assertEqual(kwargs["esp_name"], "Mailgun")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailTrackingEvent)
        return event

    def assert_event(self, event: AnymailTrackingEvent, **expected: Any) -> None:
        """Check every normalized field (so nothing unexpected sneaks in)."""
        defaults = {
            "event_id": None,
            "message_id": None,
            "recipient": None,
            "metadata": {},
            "tags": [],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
        }
        for attr, value in {**defaults, **expected}.items():
            self.assertEqual(getattr(event, attr), value, attr)


class MailgunTrackingCurrentWebhookTests(MailgunWebhookTestCase):
    TOKEN = "651869375b9df3c98fc15c4889b102119add1235c38fc92824"

    def test_delivered(self):
        payload = signed_json_payload(DELIVERED)
        response = self.post_json(payload)
        self.assertEqual(response.status_code, 200)
        event = self.the_event()
        self.assert_event(
            event,
            event_type="delivered",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,  # the signature token, not event-data's day-unique id
            message_id=f"<{MESSAGE_ID}>",  # as the send API's id
            recipient="alice@example.com",
            metadata={"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome"},
            tags=["my_tag_1", "my_tag_2"],
            description="",  # Mailgun's empty delivery-status description, kept as "" (6.1)
            mta_response="OK",
        )
        self.assertEqual(event.esp_event, payload)
        self.assertEqual(event.esp_event["event-data"]["id"], "CPgfbmQMTCKtHW6uIWtuVe")

    def test_permanent_failure_is_bounced(self):
        self.assertEqual(self.post_json(signed_json_payload(PERMANENT_FAILURE)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="bounced",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"order": "12345"},
            tags=["my_tag_1"],
            reject_reason="bounced",
            description="",
            mta_response="5.1.1 The email account that you tried to reach does not exist.",
        )

    def test_suppressed_failure_is_rejected(self):
        # Mailgun didn't try: the recipient is on its bounce suppression list
        self.assertEqual(self.post_json(signed_json_payload(SUPPRESSED_FAILURE)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="rejected",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"order": "12345"},
            tags=["my_tag_1"],
            reject_reason="bounced",
            description="Not delivering to previously bounced address",
        )

    def test_temporary_failure_is_deferred(self):
        # Changelog v5.0: "temporary failure" is deferred, not bounced
        self.assertEqual(self.post_json(signed_json_payload(TEMPORARY_FAILURE)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="deferred",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"order": "12345"},
            tags=["my_tag_1"],
            # Mailgun's "generic" reason, as for permanent failures (as in 6.1)
            reject_reason="other",
            description="",
            mta_response="4.2.2 The email account that you tried to reach is over quota.",
        )

    def test_failure_reject_reasons(self):
        cases = {
            ("permanent", "bounce"): ("bounced", "bounced"),
            ("permanent", "old"): ("bounced", "timed_out"),
            ("permanent", "espblock"): ("bounced", "blocked"),
            ("permanent", "generic"): ("bounced", "other"),
            ("permanent", "something-new"): ("bounced", "other"),
            ("permanent", None): ("bounced", "other"),
            ("permanent", "suppress-bounce"): ("rejected", "bounced"),
            ("permanent", "suppress-unsubscribe"): ("rejected", "unsubscribed"),
            ("permanent", "suppress-complaint"): ("rejected", "spam"),
            ("temporary", "generic"): ("deferred", "other"),
            ("temporary", "greylisted"): ("deferred", "other"),
            ("temporary", None): ("deferred", "other"),
            # (Mailgun's last retry, when it gives up, is still a "temporary" failure)
            ("temporary", "old"): ("deferred", "timed_out"),
            (None, "bounce"): ("bounced", "bounced"),
        }
        for (severity, reason), (event_type, reject_reason) in cases.items():
            with self.subTest(severity=severity, reason=reason):
                self.tracking_handler.reset_mock()
                event_data = {**PERMANENT_FAILURE, "severity": severity, "reason": reason}
                event_data = {k: v for k, v in event_data.items() if v is not None}
                self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
                event = self.the_event()
                self.assertEqual(event.event_type, event_type)
                self.assertEqual(event.reject_reason, reject_reason)

    def test_rejected(self):
        self.assertEqual(self.post_json(signed_json_payload(REJECTED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="rejected",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            reject_reason="other",
            description="Sandbox subdomains are for test purposes only.",
        )

    def test_rejected_without_recipient_uses_to_header(self):
        # Mailgun's rejected events may have no "recipient": the message's To header has it
        event_data = {key: value for key, value in REJECTED.items() if key != "recipient"}
        self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="rejected",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",  # from "Alice <alice@example.com>"
            reject_reason="other",
            description="Sandbox subdomains are for test purposes only.",
        )

    def test_rejected_recipient_from_odd_to_headers(self):
        cases = [
            ("bob@example.com", "bob@example.com"),
            ('"Smith, Ann" <ann@example.com>, bob@example.com', "ann@example.com"),
            ("undisclosed-recipients:;", None),
            ("", None),
        ]
        for to, recipient in cases:
            with self.subTest(to=to):
                self.tracking_handler.reset_mock()
                event_data = {k: v for k, v in REJECTED.items() if k != "recipient"}
                event_data["message"] = message_block(to=to)
                self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
                self.assertEqual(self.the_event().recipient, recipient)
        self.tracking_handler.reset_mock()
        event_data = {k: v for k, v in REJECTED.items() if k != "recipient"}
        event_data["message"] = {"headers": {"message-id": MESSAGE_ID}}  # no To at all
        self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
        self.assertIsNone(self.the_event().recipient)

    def test_opened(self):
        self.assertEqual(self.post_json(signed_json_payload(OPENED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="opened",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"my_var_1": "Mailgun Variable #1"},
            tags=["my_tag_1"],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
        )

    def test_clicked(self):
        self.assertEqual(self.post_json(signed_json_payload(CLICKED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="clicked",
            timestamp=TIMESTAMP_DT,
            event_id=self.TOKEN,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"my_var_1": "Mailgun Variable #1"},
            tags=["my_tag_1"],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
            click_url="https://example.com/landing?ref=1",
        )

    def test_complained_unsubscribed_accepted(self):
        cases = [
            (COMPLAINED, "complained", "alice@example.com", None),
            (
                UNSUBSCRIBED,
                "unsubscribed",
                "alice@example.com",
                OPENED["client-info"]["user-agent"],
            ),
            (ACCEPTED, "queued", "recipient@sample.mailgun.com", None),
        ]
        for event_data, event_type, recipient, user_agent in cases:
            with self.subTest(event_type=event_type):
                self.tracking_handler.reset_mock()
                self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
                self.assert_event(
                    self.the_event(),
                    event_type=event_type,
                    timestamp=TIMESTAMP_DT,
                    event_id=self.TOKEN,
                    message_id=f"<{MESSAGE_ID}>",
                    recipient=recipient,
                    user_agent=user_agent,
                )

    def test_unknown_event_type(self):
        event_data = {**ACCEPTED, "event": "list_member_uploaded"}
        self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
        event = self.the_event()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.esp_event["event-data"]["event"], "list_member_uploaded")

    def test_non_ascii_metadata_and_tags(self):
        event_data = {**DELIVERED, "tags": ["café"], "user-variables": {"name": "Zoë 東京", "n": 1}}
        self.assertEqual(self.post_json(signed_json_payload(event_data)).status_code, 200)
        event = self.the_event()
        self.assertEqual(event.tags, ["café"])
        self.assertEqual(event.metadata, {"name": "Zoë 東京", "n": 1})

    def test_minimal_event_data(self):
        # Missing optional blocks are just missing values, not errors
        self.assertEqual(
            self.post_json(signed_json_payload({"event": "delivered"})).status_code, 200
        )
        self.assert_event(
            self.the_event(), event_type="delivered", timestamp=None, event_id=self.TOKEN
        )

    def test_odd_event_data_is_delivered_as_an_unknown_event(self):
        # Mailgun retries anything but a 200 (or 406) for 8 hours, then drops the event: an
        # authentic event Anymail can't read is delivered as "unknown", with its raw data
        bad_event_data = [
            "not an object",
            {**DELIVERED, "timestamp": "yesterday"},
            {**DELIVERED, "timestamp": 1e300},
            {**DELIVERED, "tags": "not-a-list"},
            {**DELIVERED, "tags": [1, 2]},
            {**DELIVERED, "user-variables": ["x"]},
            {**DELIVERED, "message": "x"},
            {**DELIVERED, "event": ["delivered"]},
            {**DELIVERED, "recipient": {"email": "x"}},
            {k: v for k, v in DELIVERED.items() if k != "event"},
        ]
        event_ids = set()
        for event_data in bad_event_data:
            with self.subTest(event_data=str(event_data)[:60]):
                self.tracking_handler.reset_mock()
                payload = signed_json_payload(event_data)
                response = self.post_json(payload)
                self.assertEqual(response.status_code, 200)
                event = self.the_event()
                self.assertEqual(event.event_type, "unknown")
                self.assertEqual(event.esp_event, payload)
                self.assertTrue(event.event_id.startswith("anymail-"))
                event_ids.add(event.event_id)
                # the same payload again (Mailgun's retry) has the same id
                self.tracking_handler.reset_mock()
                self.assertEqual(self.post_json(payload).status_code, 200)
                self.assertEqual(self.the_event().event_id, event.event_id)
        self.assertEqual(len(event_ids), len(bad_event_data))  # a different id for each

    def test_malformed_payloads_are_406(self):
        # Mailgun retries every other 4xx for 8 hours; 406 tells it not to
        payload = signed_json_payload(DELIVERED)
        del payload["event-data"]
        self.assertEqual(self.post_json(payload).status_code, 406)
        # (a body too broken to find the signature in fails authentication: 400)
        self.assertEqual(self.post_json(b'{"signature": ').status_code, 400)
        self.tracking_handler.assert_not_called()


class MailgunTrackingLegacyWebhookTests(MailgunWebhookTestCase):
    def test_legacy_delivered(self):
        response = self.post_form(legacy_body(LEGACY_DELIVERED))
        self.assertEqual(response.status_code, 200)
        event = self.the_event()
        self.assert_event(
            event,
            event_type="delivered",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4e5f6a7b8c9d",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            # from the X-Mailgun-Variables headers: reliable, even for a "body-plain" key
            metadata={
                "my_var_1": "Mailgun Variable #1",
                "my-var-2": "awesome",
                "body-plain": "not really",
            },
            tags=["legacy-tag-1", "legacy-tag-2"],
        )
        # The legacy esp_event is the POST QueryDict
        self.assertEqual(event.esp_event["X-Mailgun-Sid"], dict(LEGACY_DELIVERED)["X-Mailgun-Sid"])

    def test_legacy_dropped(self):
        self.assertEqual(self.post_form(legacy_body(LEGACY_DROPPED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="rejected",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={
                "my_var_1": "Mailgun Variable #1",
                "my-var-2": "awesome",
                "body-plain": "not really",
            },
            tags=["legacy-tag-1", "legacy-tag-2"],
            reject_reason="bounced",
            description="Not delivering to previously bounced address",
        )

    def test_legacy_dropped_reasons(self):
        cases = [
            ("hardfail", "605", "rejected", "bounced"),
            ("hardfail", "606", "rejected", "unsubscribed"),
            ("hardfail", "607", "rejected", "spam"),
            ("hardfail", "", "rejected", "bounced"),
            # Mailgun gave up retrying: still a rejected event (as in 6.1)
            ("old", "", "rejected", "timed_out"),
            ("maxfails", "", "rejected", "timed_out"),
        ]
        for reason, code, event_type, reject_reason in cases:
            with self.subTest(reason=reason, code=code):
                self.tracking_handler.reset_mock()
                fields = [(k, v) for k, v in LEGACY_DROPPED if k not in ("reason", "code")]
                fields += [("reason", reason), ("code", code)]
                self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
                event = self.the_event()
                self.assertEqual(
                    (event.event_type, event.reject_reason), (event_type, reject_reason)
                )

    def test_legacy_bounced(self):
        self.assertEqual(self.post_form(legacy_body(LEGACY_BOUNCED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="bounced",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="0a9b8c7d6e5f40312a3b4c5d6e7f8091a2b3c4d5e6f7081920",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={
                "my_var_1": "Mailgun Variable #1",
                "my-var-2": "awesome",
                "body-plain": "not really",
            },
            tags=["legacy-tag-1", "legacy-tag-2"],
            reject_reason="bounced",
            mta_response="5.1.1 The email account that you tried to reach does not exist.",
        )

    def test_legacy_clicked(self):
        self.assertEqual(self.post_form(legacy_body(LEGACY_CLICKED)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="clicked",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            # custom variables are every field that isn't one of Mailgun's own
            metadata={"order_id": "42", "customer": "Zoë"},
            tags=["legacy-tag-1", "legacy-tag-2"],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
            click_url="https://example.com/landing?ref=1",
        )

    def test_legacy_opened_multipart(self):
        # Mailgun may post legacy webhooks as multipart/form-data, too
        fields = LEGACY_OPENED
        signature = mailgun_signature(dict(fields)["timestamp"], dict(fields)["token"])
        data: dict[str, Any] = {}
        for name, value in [*fields, ("signature", signature)]:
            data.setdefault(name, []).append(value)
        response = self.client.post(TRACKING_URL, data)  # (the test client's multipart)
        self.assertEqual(response.status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="opened",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"order_id": "42", "customer": "Zoë"},
            tags=["legacy-tag-1", "legacy-tag-2"],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
        )

    def test_legacy_structured_message_headers(self):
        # Mailgun's real message-headers: parsed values as [value, {params}] (a 400 for these
        # lost every legacy delivered, dropped, bounced and complained event)
        headers = json.loads(LEGACY_HEADERS) + [
            ["Content-Disposition", ["inline", {"filename": 'a "b" \\ c.txt'}]],
            ["X-Odd-Number", 42],  # anything else that isn't header text is skipped...
            ["X-Odd-Object", {"a": "b"}],
            ["X-Odd-Params", ["text/plain", {"charset": ["utf-8"]}]],
            ["Only-A-Name"],
            ["Too", "many", "parts"],
            [7, "not a name"],
            "not a pair",
        ]
        fields = [
            (k, json.dumps(headers) if k == "message-headers" else v) for k, v in LEGACY_BOUNCED
        ]
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
        self.assert_event(
            self.the_event(),
            event_type="bounced",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id="0a9b8c7d6e5f40312a3b4c5d6e7f8091a2b3c4d5e6f7081920",
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            # ... and the rest of the headers are used as usual
            metadata={
                "my_var_1": "Mailgun Variable #1",
                "my-var-2": "awesome",
                "body-plain": "not really",
            },
            tags=["legacy-tag-1", "legacy-tag-2"],
            reject_reason="bounced",
            mta_response="5.1.1 The email account that you tried to reach does not exist.",
        )

    def test_legacy_message_headers_as_header_text(self):
        headers = json.loads(LEGACY_HEADERS) + [
            ["Content-Disposition", ["inline", {"filename": 'a "b" \\ c.txt'}]],
            ["Content-Type", ["text/plain", {"charset": "utf-8", "format": "flowed"}]],
            ["X-Odd-Number", 42],
            ["Only-A-Name"],
        ]
        parsed = legacy_message_headers(json.dumps(headers))
        self.assertEqual(len(parsed), len(headers) - 2)
        self.assertEqual(
            parsed[1],
            ("Content-Type", 'multipart/alternative; boundary="eb663d73ae0a4d6c9153cc0aec8b7520"'),
        )
        self.assertEqual(
            parsed[-2:],
            [
                ("Content-Disposition", 'inline; filename="a \\"b\\" \\\\ c.txt"'),
                ("Content-Type", 'text/plain; charset="utf-8"; format="flowed"'),
            ],
        )
        self.assertEqual(parsed[2:], [tuple(header) for header in headers[2:13]] + parsed[-2:])

    def test_legacy_metadata_named_like_mailgun_fields(self):
        # Mailgun appends custom variables after its own fields, and the signature fields
        # after those. Mailgun's own values win: the first "event" or "recipient", and the
        # last "timestamp", "token" or "signature"; metadata has only the other variables.
        mailgun_token = "9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271"
        fields = [
            (k, v) for k, v in LEGACY_CLICKED if k not in ("timestamp", "token", "order_id")
        ] + [
            ("event", "user-event"),
            ("recipient", "user@example.org"),
            ("url", "https://user.example.org/"),
            ("timestamp", "1000000000"),
            ("token", "user-token"),
            ("signature", "user-signature"),
            ("order_id", "42"),
            ("timestamp", "1521472262"),
            ("token", mailgun_token),
        ]
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
        event = self.the_event()
        self.assert_event(
            event,
            event_type="clicked",
            timestamp=datetime(2018, 3, 19, 15, 11, 2, tzinfo=timezone.utc),
            event_id=mailgun_token,
            message_id=f"<{MESSAGE_ID}>",
            recipient="alice@example.com",
            metadata={"customer": "Zoë", "order_id": "42"},
            tags=["legacy-tag-1", "legacy-tag-2"],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 Chrome/26.0",
            click_url="https://example.com/landing?ref=1",
        )
        self.assertEqual(event.esp_event.getlist("event"), ["clicked", "user-event"])

    def test_legacy_metadata_named_like_mailgun_fields_with_message_headers(self):
        # (Delivered events' metadata and tags come from the message's X-Mailgun-Variables and
        # X-Mailgun-Tag headers, so every custom variable is there, and nothing else)
        fields = LEGACY_DELIVERED[:-2] + [
            ("event", "user-event"),
            ("recipient", "user@example.org"),
            ("token", "user-token"),
            ("tag", "user-tag"),
            *LEGACY_DELIVERED[-2:],
        ]
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
        event = self.the_event()
        self.assertEqual(event.event_type, "delivered")
        self.assertEqual(event.recipient, "alice@example.com")
        self.assertEqual(event.event_id, "f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4e5f6a7b8c9d")
        self.assertEqual(event.tags, ["legacy-tag-1", "legacy-tag-2"])  # from the headers
        self.assertEqual(
            event.metadata,
            {"my_var_1": "Mailgun Variable #1", "my-var-2": "awesome", "body-plain": "not really"},
        )

    def test_legacy_unknown_event(self):
        fields = [(k, v) for k, v in LEGACY_CLICKED if k != "event"] + [("event", "stored")]
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
        self.assertEqual(self.the_event().event_type, "unknown")

    def test_legacy_odd_fields_are_delivered_as_an_unknown_event(self):
        cases = [
            [(k, "not json" if k == "message-headers" else v) for k, v in LEGACY_DELIVERED],
            [(k, '{"To": "x"}' if k == "message-headers" else v) for k, v in LEGACY_DELIVERED],
            [(k, "soon" if k == "timestamp" else v) for k, v in LEGACY_CLICKED],
            [(k, v) for k, v in LEGACY_CLICKED if k != "event"],
        ]
        for fields in cases:
            with self.subTest(fields=fields[3]):
                self.tracking_handler.reset_mock()
                self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
                event = self.the_event()
                self.assertEqual(event.event_type, "unknown")
                self.assertEqual(event.esp_event.getlist("token"), [dict(fields)["token"]])
                self.assertEqual(event.esp_event.get("recipient"), "alice@example.com")
                self.assertTrue(event.event_id.startswith("anymail-"))

    def test_inbound_payload_at_tracking_url_says_so(self):
        # Changelog v5.0: a route forwarding to the tracking url gets a helpful error
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_form(legacy_body(INBOUND_FIELDS))
        self.assertEqual(response.status_code, 406)
        self.assertIn(
            "Mailgun *inbound* route to Anymail's Mailgun *tracking* webhook", logs.output[0]
        )
        self.assertIn("anymail/mailgun/inbound/", logs.output[0])
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()


class MailgunWebhookSecurityTests(MailgunWebhookTestCase):
    def test_bad_signature_is_400_without_parsing(self):
        payload = signed_json_payload(DELIVERED, key="some-other-key")
        with mock.patch.object(MailgunTrackingWebhookView, "parse_events") as parse_events:
            response = self.post_json(payload)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_signature_must_match_timestamp_and_token(self):
        payload = signed_json_payload(DELIVERED)
        payload["signature"]["timestamp"] = "1534109601"  # replayed with a new timestamp
        self.assertEqual(self.post_json(payload).status_code, 400)
        payload = signed_json_payload(DELIVERED)
        payload["signature"]["token"] += "x"
        self.assertEqual(self.post_json(payload).status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_missing_or_malformed_signature_is_400(self):
        payloads = [{"event-data": DELIVERED}, {"signature": "abc", "event-data": DELIVERED}]
        for field in ("timestamp", "token", "signature"):
            payload = signed_json_payload(DELIVERED)
            del payload["signature"][field]
            payloads.append(payload)
        payload = signed_json_payload(DELIVERED)
        payload["signature"]["token"] = 12345
        payloads.append(payload)
        for payload in payloads:
            with self.subTest(payload=str(payload)[:70]):
                self.assertEqual(self.post_json(payload).status_code, 400)
        self.assertEqual(self.post_json(b"{not json").status_code, 400)
        self.assertEqual(self.post_json(b"\xff\xfe").status_code, 400)
        self.assertEqual(self.post_json([signed_json_payload(DELIVERED)]).status_code, 400)
        fields = [(k, v) for k, v in LEGACY_CLICKED]
        self.assertEqual(self.post_form(urlencode(fields)).status_code, 400)  # unsigned legacy
        self.tracking_handler.assert_not_called()

    def test_integer_timestamp_in_signature(self):
        # Mailgun sends a string; an integer must verify the same way, not crash
        payload = signed_json_payload(DELIVERED, timestamp="1534109600")
        payload["signature"]["timestamp"] = 1534109600
        self.assertEqual(self.post_json(payload).status_code, 200)

    @override_settings(ANYMAIL={"MAILGUN_API_KEY": SIGNING_KEY, **NO_REPLAY_CHECKS})
    def test_falls_back_to_api_key(self):
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)

    @override_settings(ANYMAIL=NO_REPLAY_CHECKS, MAILGUN_API_KEY=SIGNING_KEY)
    def test_falls_back_to_bare_api_key(self):
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)

    @override_settings(
        ANYMAIL={
            "MAILGUN_API_KEY": "rotated-api-key",
            "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            **NO_REPLAY_CHECKS,
        }
    )
    def test_signing_key_is_preferred_over_api_key(self):
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)
        self.assertEqual(
            self.post_json(signed_json_payload(DELIVERED, key="rotated-api-key")).status_code, 400
        )

    @override_settings(
        ANYMAIL=None,
        ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY=SIGNING_KEY,
        ANYMAIL_MAILGUN_WEBHOOK_MAX_AGE=None,
    )
    def test_prefixed_signing_key_setting(self):
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)

    def test_as_view_signing_key(self):
        payload = signed_json_payload(DELIVERED, key="key-from-as-view")
        self.assertEqual(self.post_json(payload, url="/custom/mailgun/tracking/").status_code, 200)
        self.assertEqual(self.post_json(payload).status_code, 400)  # not the settings key

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": "api-key", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    )
    def test_webhook_signing_key_attribute(self):
        # The view exposes the key it verifies with, as bytes (as Anymail 6.1's did)
        view = MailgunTrackingWebhookView()
        self.assertEqual(view.webhook_signing_key, SIGNING_KEY.encode())
        view = MailgunInboundWebhookView(webhook_signing_key="key-from-as-view")
        self.assertEqual(view.webhook_signing_key, b"key-from-as-view")
        with override_settings(ANYMAIL={"MAILGUN_API_KEY": "api-key"}):
            self.assertEqual(MailgunTrackingWebhookView().webhook_signing_key, b"api-key")
        # the as_view() class attribute is left alone
        self.assertIsNone(MailgunTrackingWebhookView.webhook_signing_key)

    @override_settings(ANYMAIL={})
    def test_no_key_is_a_configuration_error_naming_both_settings(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            self.post_json(signed_json_payload(DELIVERED))
        self.assertIn("MAILGUN_WEBHOOK_SIGNING_KEY", str(cm.exception))
        self.assertIn("MAILGUN_API_KEY", str(cm.exception))

    def test_no_insecure_warning_without_webhook_secret(self):
        # Mailgun's signature makes WEBHOOK_SECRET optional (Anymail's Mailgun docs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)
        self.assertFalse(
            [w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)]
        )

    @override_settings(
        ANYMAIL={
            "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            "WEBHOOK_SECRET": "user:pass",
            **NO_REPLAY_CHECKS,
        }
    )
    def test_webhook_secret_checked_too(self):
        payload = signed_json_payload(DELIVERED)
        with mock.patch.object(MailgunTrackingWebhookView, "parse_events") as parse_events:
            self.assertEqual(self.post_json(payload).status_code, 400)
            parse_events.assert_not_called()
        response = self.post_json(payload, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)


# ---------------------------------------------------------------------------------------------
# Replay protection, retries, and requests that aren't authenticated
# ---------------------------------------------------------------------------------------------

NOW = 1_700_000_000  # the tests' clock


def fresh_payload(event_data: dict[str, Any], token: str, timestamp: int = NOW) -> dict[str, Any]:
    return signed_json_payload(event_data, timestamp=str(timestamp), token=token)


@override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY})  # default replay checks
class MailgunReplayTests(MailgunWebhookTestCase):
    def setUp(self):
        super().setUp()
        caches["default"].clear()  # (where Anymail remembers tokens: WEBHOOK_CACHE's default)
        self.addCleanup(caches["default"].clear)
        self.now = NOW
        clock = mock.patch("anymail.webhooks.mailgun.current_time", side_effect=lambda: self.now)
        clock.start()
        self.addCleanup(clock.stop)

    def test_signature_timestamp_must_be_within_five_minutes_of_now(self):
        cases = [
            (NOW - 299, 200),
            (NOW + 299, 200),  # (a little clock difference either way)
            (NOW - 301, 400),
            (NOW + 301, 400),
            (NOW - 86400, 400),
        ]
        for index, (timestamp, status) in enumerate(cases):
            with self.subTest(seconds_from_now=timestamp - NOW):
                self.tracking_handler.reset_mock()
                payload = fresh_payload(DELIVERED, f"token-{index:02d}", timestamp=timestamp)
                self.assertEqual(self.post_json(payload).status_code, status)
                self.assertEqual(self.tracking_handler.call_count, 1 if status == 200 else 0)

    def test_unreadable_signed_timestamps_are_400(self):
        for index, timestamp in enumerate(["soon", "NaN", "inf", "1e400", ""]):
            with self.subTest(timestamp=timestamp):
                payload = signed_json_payload(DELIVERED, timestamp=timestamp, token=f"t-{index}")
                self.assertEqual(self.post_json(payload).status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_a_handled_token_is_refused_again(self):
        payload = fresh_payload(DELIVERED, "token-replayed")
        self.assertEqual(self.post_json(payload).status_code, 200)
        self.now += 10
        self.assertEqual(self.post_json(payload).status_code, 400)  # replayed as it was
        grafted = copy.deepcopy(payload)
        grafted["event-data"] = {**OPENED, "recipient": "mallory@example.com"}
        self.assertEqual(self.post_json(grafted).status_code, 400)  # or with other content
        self.assertEqual(self.tracking_handler.call_count, 1)
        # ... and once the timestamp is too old, the age check refuses it
        self.now += 3600
        self.assertEqual(self.post_json(payload).status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_legacy_form_token_is_refused_again(self):
        fields = [(k, str(NOW) if k == "timestamp" else v) for k, v in LEGACY_CLICKED]
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 200)
        self.assertEqual(self.post_form(legacy_body(fields)).status_code, 400)
        grafted = [(k, "mallory@example.com" if k == "recipient" else v) for k, v in fields]
        self.assertEqual(self.post_form(legacy_body(grafted)).status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_bad_signature_does_not_use_up_the_token(self):
        # Else anyone who saw a token could get Mailgun's own call with it refused
        payload = fresh_payload(DELIVERED, "token-guarded")
        forged = copy.deepcopy(payload)
        forged["signature"]["signature"] = mailgun_signature(NOW, "token-guarded", "wrong-key")
        self.assertEqual(self.post_json(forged).status_code, 400)
        self.assertEqual(self.post_json(payload).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_receiver_error_is_503_and_mailguns_retries_are_accepted(self):
        # Mailgun retries (with the first attempt's signature) after 5, 10, 15 minutes, 1, 2
        # and 4 hours: each retry of a call that failed must get through the replay checks
        payload = fresh_payload(PERMANENT_FAILURE, "token-retried")
        self.tracking_handler.side_effect = RuntimeError("database down")
        response = self.post_json(payload)
        self.assertEqual(response.status_code, 503)
        self.assertIn("Retry-After", response)
        for minutes in (5, 15, 30, 90, 210):
            self.now = NOW + minutes * 60
            self.assertEqual(self.post_json(payload).status_code, 503, minutes)
        self.tracking_handler.side_effect = None
        self.now = NOW + 450 * 60
        self.assertEqual(self.post_json(payload).status_code, 200)
        event_ids = {call.kwargs["event"].event_id for call in self.tracking_handler.mock_calls}
        self.assertEqual(event_ids, {"token-retried"})  # the same event_id every time
        self.assertEqual(self.tracking_handler.call_count, 7)
        # Handled now: no more
        self.assertEqual(self.post_json(payload).status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 7)

    def test_retry_may_be_encoded_differently_but_not_say_something_else(self):
        payload = fresh_payload(DELIVERED, "token-pending")
        self.tracking_handler.side_effect = RuntimeError("database down")
        self.assertEqual(self.post_json(payload).status_code, 503)
        self.tracking_handler.side_effect = None
        self.now += 600
        grafted = copy.deepcopy(payload)
        grafted["event-data"]["recipient"] = "mallory@example.com"
        self.assertEqual(self.post_json(grafted).status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 1)  # (the failed first attempt)
        reencoded = json.dumps(payload, indent=2, sort_keys=True).encode()
        self.assertEqual(self.post_json(reencoded).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)
        self.assertEqual(self.the_event_from(-1).recipient, "alice@example.com")

    def the_event_from(self, index: int) -> AnymailTrackingEvent:
        return self.tracking_handler.call_args_list[index].kwargs["event"]

    def test_a_stale_call_never_seen_before_is_refused(self):
        # (A retry is accepted only if Anymail saw the first attempt, which was fresh)
        self.now = NOW + 600
        self.assertEqual(self.post_json(fresh_payload(DELIVERED, "token-late")).status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_receiver_error_runs_the_other_receivers(self):
        other_receiver = mock_receiver("other_receiver")
        tracking.connect(other_receiver, weak=False)
        self.addCleanup(tracking.disconnect, other_receiver)
        self.tracking_handler.side_effect = RuntimeError("database down")
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post_json(fresh_payload(DELIVERED, "token-two-receivers"))
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "60")
        self.assertEqual(other_receiver.call_count, 1)
        self.assertEqual(other_receiver.call_args.kwargs["event"].event_type, "delivered")

    @override_settings(
        ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "MAILGUN_WEBHOOK_MAX_AGE": 3600}
    )
    def test_max_age_setting(self):
        payload = fresh_payload(DELIVERED, "token-hour", timestamp=NOW - 3500)
        self.assertEqual(self.post_json(payload).status_code, 200)
        self.assertEqual(self.post_json(payload).status_code, 400)
        payload = fresh_payload(DELIVERED, "token-too-old", timestamp=NOW - 3700)
        self.assertEqual(self.post_json(payload).status_code, 400)

    @override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, **NO_REPLAY_CHECKS})
    def test_max_age_none_turns_the_checks_off(self):
        payload = fresh_payload(DELIVERED, "token-any", timestamp=NOW - 10**6)
        self.assertEqual(self.post_json(payload).status_code, 200)
        self.assertEqual(self.post_json(payload).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)

    def test_invalid_max_age_is_a_configuration_error(self):
        for value in ("300", 0, -5, True):
            with (
                self.subTest(value=value),
                self.assertRaisesRegex(AnymailConfigurationError, "MAILGUN_WEBHOOK_MAX_AGE"),
            ):
                MailgunTrackingWebhookView(webhook_max_age=value)

    @override_settings(
        ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY},
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "webhooks": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "mailgun-replay-tests",
            },
        },
    )
    def test_tokens_are_remembered_in_the_webhook_cache(self):
        payload = fresh_payload(DELIVERED, "token-cached")
        with override_settings(
            ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "WEBHOOK_CACHE": "webhooks"}
        ):
            self.assertEqual(self.post_json(payload).status_code, 200)
            self.assertEqual(self.post_json(payload).status_code, 400)
            caches["webhooks"].clear()  # a cache that lost its entries (or isn't shared)...
            self.assertEqual(self.post_json(payload).status_code, 200)  # ... can't protect


@override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY})
class MailgunReplayPropertyTests(MailgunWebhookTestCase):
    """A retry must say exactly what the first attempt said, however large."""

    def setUp(self):
        super().setUp()
        self.addCleanup(caches["default"].clear)
        self.now = NOW
        clock = mock.patch("anymail.webhooks.mailgun.current_time", side_effect=lambda: self.now)
        clock.start()
        self.addCleanup(clock.stop)

    field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12).filter(
        lambda name: name not in {"timestamp", "token", "signature", "event"}
    )

    @settings(
        max_examples=25,
        deadline=3000,  # (ms) a slow path over big bodies fails the test
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        extra=st.lists(st.tuples(field_names, st.text(max_size=200)), max_size=100),
        padding=st.sampled_from([0, 1000, 500_000, 3_000_000]),
        change=st.data(),
    )
    def test_retry_accepted_only_with_the_same_content(self, extra, padding, change):
        caches["default"].clear()
        self.tracking_handler.reset_mock()
        self.now = NOW
        fields = [(k, str(NOW) if k == "timestamp" else v) for k, v in LEGACY_CLICKED[:-2]]
        fields += [*extra, ("padding", "x" * padding)]
        fields += [("timestamp", str(NOW)), ("token", "token-property")]
        self.tracking_handler.side_effect = RuntimeError("database down")
        with override_settings(
            ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "TRACKING_MAX_BODY_SIZE": 10**8}
        ):
            self.assertEqual(self.post_form(legacy_body(fields)).status_code, 503)
            self.tracking_handler.side_effect = None
            self.now = NOW + 3600
            # any one value changed: refused
            index = change.draw(st.integers(min_value=0, max_value=len(fields) - 3))
            name, value = fields[index]
            changed = list(fields)
            changed[index] = (name, value + change.draw(st.text(min_size=1, max_size=3)))
            self.assertEqual(self.post_form(legacy_body(changed)).status_code, 400)
            # the same fields (different names in any order): Mailgun's retry, accepted
            names = sorted({name for name, _ in fields[:-2]})
            order = change.draw(st.permutations(names))
            retry = [field for name in order for field in fields[:-2] if field[0] == name]
            retry += fields[-2:]
            self.assertEqual(self.post_form(legacy_body(retry)).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)


@override_settings(
    ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "TRACKING_MAX_BODY_SIZE": 20_000}
)
class MailgunUnauthenticatedRequestTests(MailgunWebhookTestCase):
    """Without basic auth, the signature is all there is: the body is read (capped) first."""

    def post_counting_reads(self, body: bytes, content_type: str) -> tuple[int, int]:
        wsgi_input = ReadCountingInput(body)
        response = Client(raise_request_exception=False).generic(
            "POST", TRACKING_URL, data=body, content_type=content_type, **{"wsgi.input": wsgi_input}
        )
        return response.status_code, wsgi_input.bytes_read

    def multipart_body(self, file_size: int) -> tuple[bytes, str]:
        fields = dict(LEGACY_OPENED, signature="0" * 64)  # a bad signature
        fields["attachment-1"] = SimpleUploadedFile("big.bin", b"x" * file_size)
        return encode_multipart("BoUnDaRy", fields), MULTIPART_CONTENT.replace(
            "BoUnDaRyStRiNg", "BoUnDaRy"
        )

    def test_over_the_tracking_limit_is_413_before_reading_anything(self):
        body, content_type = self.multipart_body(50_000)
        with mock.patch(
            "django.core.files.uploadhandler.TemporaryFileUploadHandler.new_file"
        ) as spool:
            status, bytes_read = self.post_counting_reads(body, content_type)
        self.assertEqual(status, 413)
        self.assertEqual(bytes_read, 0)
        spool.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_under_the_limit_bad_signature_is_400_and_receivers_never_run(self):
        body, content_type = self.multipart_body(5_000)
        with self.spy_parse_events() as parse_events:
            status, bytes_read = self.post_counting_reads(body, content_type)
        self.assertEqual(status, 400)
        self.assertEqual(bytes_read, len(body))
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    def spy_parse_events(self) -> Any:
        return mock.patch.object(MailgunTrackingWebhookView, "parse_events")

    @override_settings(
        ANYMAIL={
            "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            "WEBHOOK_REQUIRE_AUTHENTICATION": True,
            **NO_REPLAY_CHECKS,
        }
    )
    def test_signing_key_satisfies_require_authentication(self):
        # Mailgun's signature authenticates every call: no WEBHOOK_SECRET needed to fail closed
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)
        self.assertEqual(self.the_event().event_type, "delivered")
        inbound_body = legacy_body(INBOUND_FIELDS)
        response = self.post_form(inbound_body, url="/anymail/mailgun/inbound/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.inbound_handler.call_count, 1)

    @override_settings(
        ANYMAIL={
            "MAILGUN_API_KEY": SIGNING_KEY,
            "WEBHOOK_REQUIRE_AUTHENTICATION": True,
            **NO_REPLAY_CHECKS,
        }
    )
    def test_api_key_fallback_satisfies_require_authentication(self):
        self.assertEqual(self.post_json(signed_json_payload(DELIVERED)).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)


# ---------------------------------------------------------------------------------------------
# Property tests: mutated realistic payloads
# ---------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
odd_timestamps = st.one_of(
    st.sampled_from(["", "0", "-1", "1e400", "NaN", "inf", "2018-03-19T15:11:02Z", "١٢٣"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
)


def all_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += all_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += all_paths(item, (*prefix, index))
    return paths


def mutate(data: st.DataObject, payload: Any) -> Any:
    """Drop keys, change types and values, and oddify timestamps anywhere in payload."""
    payload = copy.deepcopy(payload)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = all_paths(payload)
        if not paths:
            break
        target = data.draw(st.sampled_from(paths))
        parent = payload
        for step in target[:-1]:
            parent = parent[step]
        key = target[-1]
        operation = data.draw(st.sampled_from(["drop", "replace", "timestamp"]))
        if operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = data.draw(json_values)
        else:
            parent[key] = data.draw(odd_timestamps)
    return payload


def resign(payload: Any, key: str = SIGNING_KEY) -> None:
    """Give a (mutated) payload a valid signature, where its signature fields allow one."""
    signature = payload.get("signature") if isinstance(payload, dict) else None
    if isinstance(signature, dict):
        timestamp, token = signature.get("timestamp"), signature.get("token")
        if (
            isinstance(timestamp, (str, int))
            and not isinstance(timestamp, bool)
            and isinstance(token, str)
        ):
            signature["signature"] = mailgun_signature(timestamp, token, key)


property_settings = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class MailgunTrackingPropertyTests(MailgunWebhookTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)

    def spy_parse_events(self) -> Any:
        """A context manager: patches parse_events with a spy that runs the original."""
        original = MailgunTrackingWebhookView.parse_events
        return mock.patch.object(
            MailgunTrackingWebhookView, "parse_events", autospec=True, side_effect=original
        )

    @property_settings
    @given(data=st.data(), base=st.sampled_from(SAMPLE_EVENT_DATA))
    def test_mutated_json_payloads_are_200_or_400(self, data, base):
        payload = mutate(data, signed_json_payload(base))
        resign(payload)
        self.tracking_handler.reset_mock()
        response = self.post_json(json.dumps(payload, ensure_ascii=False).encode())
        self.assertIn(response.status_code, (200, 400, 406))
        if response.status_code == 200:
            event = self.the_event()
            self.assertTrue(event.timestamp is None or event.timestamp.utcoffset() is not None)
            self.assertIsInstance(event.metadata, dict)
            self.assertTrue(all(isinstance(tag, str) for tag in event.tags))
        else:
            self.tracking_handler.assert_not_called()

    @property_settings
    @given(
        data=st.data(),
        base=st.sampled_from(SAMPLE_LEGACY_FIELDS + [INBOUND_FIELDS]),
        content_type=st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin-1",
                "application/x-www-form-urlencoded; charset=bogus",
            ]
        ),
        noise=st.binary(max_size=8),
    )
    def test_mutated_legacy_payloads_are_200_or_400(self, data, base, content_type, noise):
        fields = list(base)
        for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
            index = data.draw(st.integers(min_value=0, max_value=len(fields) - 1))
            name = fields[index][0]
            if data.draw(st.booleans()):
                del fields[index]
            else:
                fields[index] = (
                    name,
                    data.draw(st.one_of(st.text(max_size=30), odd_timestamps.map(str))),
                )
            if not fields:
                break
        names = dict(fields)
        if "timestamp" in names and "token" in names:
            fields.append(("signature", mailgun_signature(names["timestamp"], names["token"])))
        body = urlencode(fields).encode() + (b"&x=" + noise if noise else b"")
        self.tracking_handler.reset_mock()
        response = self.client.generic("POST", TRACKING_URL, data=body, content_type=content_type)
        self.assertIn(response.status_code, (200, 400, 406))  # 400: signature; 406: body
        if response.status_code != 200:
            self.tracking_handler.assert_not_called()

    @property_settings
    @given(
        body=st.one_of(
            st.binary(max_size=200),
            st.sampled_from(SAMPLE_EVENT_DATA).map(
                lambda e: json.dumps(signed_json_payload(e)).encode()
            ),
        ),
        content_type=st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=xyz",
                "text/plain",
            ]
        ),
        cut=st.integers(min_value=0, max_value=400),
    )
    def test_arbitrary_bytes_are_200_or_400(self, body, content_type, cut):
        body = body[:cut]
        response = self.client.generic("POST", TRACKING_URL, data=body, content_type=content_type)
        self.assertIn(response.status_code, (200, 400))

    @property_settings
    @given(
        data=st.data(),
        base=st.sampled_from(SAMPLE_EVENT_DATA),
        bad_signature=st.one_of(st.text(max_size=70), st.none(), json_values),
        legacy=st.sampled_from(SAMPLE_LEGACY_FIELDS),
    )
    def test_bad_signatures_are_400_and_never_parsed(self, data, base, bad_signature, legacy):
        payload = mutate(data, signed_json_payload(base))
        if not isinstance(payload.get("signature"), dict):
            payload["signature"] = {"timestamp": "1534109600", "token": "t"}
        signature = payload["signature"]
        valid = None
        if isinstance(signature.get("timestamp"), (str, int)) and isinstance(
            signature.get("token"), str
        ):
            valid = mailgun_signature(signature["timestamp"], signature["token"])
        assume(bad_signature != valid)
        signature["signature"] = bad_signature
        self.tracking_handler.reset_mock()
        with self.spy_parse_events() as parse_events:
            self.assertEqual(self.post_json(payload).status_code, 400)
            # the same for legacy form posts, signed with the wrong key
            self.assertEqual(self.post_form(legacy_body(legacy, key="wrong-key")).status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
