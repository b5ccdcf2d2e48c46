"""Tests for Mandrill's combined webhook: tracking events, signatures, and robustness.

Payloads are shaped as Mandrill's KB documents them ("Webhook Format", "Message Event Webhook
Format", "Sync Event Webhook Format"): a form-encoded ``mandrill_events`` field holding a JSON
array, signed in X-Mandrill-Signature with base64(HMAC-SHA1(key, url + sorted key/values)).
Inbound events (which share the url) are tested in test_mandrill_inbound.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import sys
import time
import warnings
from base64 import b64encode
from datetime import datetime, timezone
from typing import Any
from unittest import mock
from urllib.parse import quote, urlencode

from django.core.cache import caches
from django.http import QueryDict
from django.test import Client, RequestFactory, SimpleTestCase, override_settings
from django.urls import path
from django.views.debug import ExceptionReporter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
    AnymailWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailTrackingEvent, inbound, tracking
from anymail.webhooks.mandrill import MandrillCombinedWebhookView, MandrillTrackingWebhookView

from .fakes import ReadCountingInput, basic_auth_header, mock_receiver

WEBHOOK_KEY = "Zk3pQx7TnWv0bYcD1eRfGh"
WEBHOOK_SECRET = "user123:pass456"
WEBHOOK_PATH = "/anymail/mandrill/"
TRACKING_PATH = "/anymail/mandrill/tracking/"

urlpatterns = [
    path("anymail/mandrill/", MandrillCombinedWebhookView.as_view(), name="mandrill_webhook"),
    path(
        "anymail/mandrill/tracking/",
        MandrillTrackingWebhookView.as_view(),
        name="mandrill_tracking_webhook",
    ),
    path(
        "custom/mandrill/",
        MandrillCombinedWebhookView.as_view(
            webhook_key="as-view-key", webhook_url="https://public.example.com/hook/"
        ),
    ),
]


def expected_signature(key: str, url: str, params: dict[str, str] | list[tuple[str, str]]) -> str:
    """Mandrill's documented algorithm, written out independently of the view's code."""
    items = sorted(params.items() if isinstance(params, dict) else params, key=lambda kv: kv[0])
    signed_data = url + "".join(f"{name}{value}" for name, value in items)
    mac = hmac.new(key.encode("utf-8"), signed_data.encode("utf-8"), hashlib.sha1)
    return b64encode(mac.digest()).decode("ascii")


def quiet_loggers(test: SimpleTestCase, *names: str) -> None:
    """Keep expected 400s' log output out of the test run (assertLogs still sees it)."""
    for name in names:
        logger = logging.getLogger(name)
        saved = (logger.handlers[:], logger.propagate)
        logger.handlers, logger.propagate = [logging.NullHandler()], False

        def restore(logger: logging.Logger = logger, saved: tuple = saved) -> None:
            logger.handlers, logger.propagate = saved

        test.addCleanup(restore)


def utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# Realistic events, modeled on the examples Mandrill's "send test" button posts


def send_event() -> dict[str, Any]:
    return {
        "event": "send",
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "opens": [],
            "clicks": [],
            "state": "sent",
            "metadata": {"user_id": 111},
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
            "_version": "exampleaaaaaaaaaaaaaaa",
        },
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ts": 1384954004,
    }


def deferral_event() -> dict[str, Any]:
    return {
        "event": "deferral",
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "opens": [],
            "clicks": [],
            "state": "deferred",
            "metadata": {"user_id": 111},
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa1",
            "_version": "exampleaaaaaaaaaaaaaaa",
            "smtp_events": [
                {
                    "destination_ip": "127.0.0.1",
                    "diag": "451 4.3.5 Temporarily unavailable, try again later.",
                    "source_ip": "127.0.0.1",
                    "ts": 1365111111,
                    "type": "deferred",
                    "size": 0,
                }
            ],
        },
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa1",
        "ts": 1384954004,
    }


def hard_bounce_event() -> dict[str, Any]:
    return {
        "event": "hard_bounce",
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "state": "bounced",
            "metadata": {"user_id": 111},
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa2",
            "_version": "exampleaaaaaaaaaaaaaaa",
            "bounce_description": "bad_mailbox",
            "bgtools_code": 10,
            "diag": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        },
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa2",
        "ts": 1384954004,
    }


def soft_bounce_event() -> dict[str, Any]:
    return {
        "event": "soft_bounce",
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "state": "soft-bounced",
            "metadata": {"user_id": 111},
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa3",
            "_version": "exampleaaaaaaaaaaaaaaa",
            "bounce_description": "mailbox_full",
            "bgtools_code": 22,
            "diag": "smtp;552 5.2.2 Over Quota",
        },
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa3",
        "ts": 1384954004,
    }


def open_event() -> dict[str, Any]:
    return {
        "event": "open",
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "opens": [{"ts": 1365111111}],
            "clicks": [{"ts": 1365111111, "url": "http://mandrill.com"}],
            "state": "sent",
            "metadata": {"user_id": 111},
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa4",
            "_version": "exampleaaaaaaaaaaaaaaa1",
        },
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa4",
        "ip": "127.0.0.1",
        "location": {
            "country_short": "US",
            "country": "United States",
            "region": "Oklahoma",
            "city": "Oklahoma City",
            "latitude": 35.4675598145,
            "longitude": -97.5164337158,
            "postal_code": "73101",
            "timezone": "-05:00",
        },
        "user_agent": "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) "
        "Gecko/20100317 Postbox/1.1.3",
        "user_agent_parsed": {
            "type": "Email Client",
            "ua_family": "Postbox",
            "ua_name": "Postbox 1.1.3",
            "ua_version": "1.1.3",
            "ua_url": "http://www.postbox-inc.com/",
            "ua_company": "Postbox, Inc.",
            "ua_company_url": "http://www.postbox-inc.com/",
            "ua_icon": "http://cdn.mandrill.com/img/email-client-icons/postbox.png",
            "os_family": "OS X",
            "os_name": "OS X 10.6 Snow Leopard",
            "os_url": "http://www.apple.com/osx/",
            "os_company": "Apple Computer, Inc.",
            "os_company_url": "http://www.apple.com/",
            "os_icon": "http://cdn.mandrill.com/img/email-client-icons/macosx.png",
            "mobile": False,
        },
        "ts": 1384954004,
    }


def click_event() -> dict[str, Any]:
    event = open_event()
    event.update(
        {
            "event": "click",
            "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa5",
            "url": "http://mandrill.com",
            "ts": 1384954005,
        }
    )
    event["msg"]["_id"] = "exampleaaaaaaaaaaaaaaaaaaaaaaaaa5"
    return event


def simple_msg_event(event: str, state: str, n: int) -> dict[str, Any]:
    return {
        "event": event,
        "msg": {
            "ts": 1365109999,
            "subject": "This an example webhook message",
            "email": "example.webhook@mandrillapp.com",
            "sender": "example.sender@mandrillapp.com",
            "tags": ["webhook-example"],
            "opens": [],
            "clicks": [],
            "state": state,
            "metadata": {"user_id": 111},
            "_id": f"exampleaaaaaaaaaaaaaaaaaaaaaaaaa{n}",
            "_version": "exampleaaaaaaaaaaaaaaa",
        },
        "_id": f"exampleaaaaaaaaaaaaaaaaaaaaaaaaa{n}",
        "ts": 1384954004,
    }


def blacklist_event() -> dict[str, Any]:
    return {
        "type": "blacklist",
        "action": "add",
        "reject": {
            "reason": "hard-bounce",
            "detail": "Example detail",
            "last_event_at": "2014-02-01 12:43:56",
            "email": "example.webhook@mandrillapp.com",
            "created_at": "2014-01-15 11:32:19",
            "expires_at": "2014-03-01 12:43:56",
            "expired": False,
            "subaccount": "example_subaccount",
            "sender": "example.sender@mandrillapp.com",
        },
        "ts": 1384954004,
    }


def whitelist_event() -> dict[str, Any]:
    return {
        "type": "whitelist",
        "action": "add",
        "entry": {
            "email": "example.webhook@mandrillapp.com",
            "detail": "example details",
            "created_at": "2014-01-15 12:03:19",
        },
        "ts": 1384954004,
    }


def all_tracking_events() -> list[dict[str, Any]]:
    return [
        send_event(),
        deferral_event(),
        hard_bounce_event(),
        soft_bounce_event(),
        open_event(),
        click_event(),
        simple_msg_event("spam", "sent", 6),
        simple_msg_event("unsub", "sent", 7),
        simple_msg_event("reject", "rejected", 8),
        blacklist_event(),
        whitelist_event(),
    ]


@override_settings(
    ROOT_URLCONF=__name__,
    ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY},
)
class MandrillWebhookTestCase(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.client = Client(raise_request_exception=False)
        self.tracking_handler = mock_receiver("tracking_handler")
        self.inbound_handler = mock_receiver("inbound_handler")
        tracking.connect(self.tracking_handler)
        inbound.connect(self.inbound_handler)
        # Anymail remembers the signatures of handled calls (in WEBHOOK_CACHE, "default"), and
        # many tests post the same batch: each test starts with none remembered
        self.forget_handled_calls()
        self.addCleanup(self.forget_handled_calls)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        self.addCleanup(inbound.disconnect, self.inbound_handler)
        quiet_loggers(
            self, "anymail.webhooks", "django.request", "django.security", "django.dispatch"
        )

    def post_events(
        self,
        events: Any,
        path: str = WEBHOOK_PATH,
        key: str = WEBHOOK_KEY,
        credentials: str | None = WEBHOOK_SECRET,
        signed_url: str | None = None,
        extra_params: dict[str, str] | None = None,
        signature: str | None = None,
    ):
        """Post as Mandrill does: form-encoded mandrill_events, signed over the url it was given."""
        params = {"mandrill_events": events if isinstance(events, str) else json.dumps(events)}
        params.update(extra_params or {})
        if signed_url is None:
            userinfo = f"{credentials}@" if credentials else ""
            signed_url = f"http://{userinfo}testserver{path}"
        headers = {
            "HTTP_X_MANDRILL_SIGNATURE": signature or expected_signature(key, signed_url, params)
        }
        if credentials:
            headers["HTTP_AUTHORIZATION"] = basic_auth_header(credentials)
        return self.client.post(
            path, urlencode(params), content_type="application/x-www-form-urlencoded", **headers
        )

    def forget_handled_calls(self) -> None:
        caches["default"].clear()

    def tracking_events(self) -> list[AnymailTrackingEvent]:
        return [call.kwargs["event"] for call in self.tracking_handler.call_args_list]

    def only_tracking_event(self) -> AnymailTrackingEvent:
        self.assertEqual(self.tracking_handler.call_count, 1)
        kwargs = self.tracking_handler.call_args.kwargs
        self.assertEqual(kwargs["esp_name"], "Mandrill")
        self.assertIs(kwargs["sender"], MandrillCombinedWebhookView)
        self.inbound_handler.assert_not_called()
        return kwargs["event"]

    def assert_event_fields(self, event: AnymailTrackingEvent, **expected: Any) -> None:
        """Every normalized field, so nothing is left unchecked."""
        fields = [
            "event_type",
            "timestamp",
            "event_id",
            "message_id",
            "recipient",
            "metadata",
            "tags",
            "reject_reason",
            "description",
            "mta_response",
            "user_agent",
            "click_url",
            "esp_event",
        ]
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(set(expected), set(fields))
        for name in fields:
            self.assertEqual(getattr(event, name), expected[name], name)


class MandrillTrackingEventTests(MandrillWebhookTestCase):
    def test_send_event(self):
        esp_event = send_event()
        response = self.post_events([esp_event])
        self.assertEqual(response.status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="sent",
            timestamp=utc(1384954004),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,
            description=None,
            mta_response=None,
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_deferral_event_mta_response_from_smtp_events(self):
        esp_event = deferral_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="deferred",
            timestamp=utc(1384954004),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa1",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa1",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,
            description=None,
            mta_response="451 4.3.5 Temporarily unavailable, try again later.",
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_latest_smtp_event_diag_is_the_mta_response(self):
        esp_event = deferral_event()
        esp_event["msg"]["smtp_events"].append(
            {
                "destination_ip": "127.0.0.1",
                "diag": "421 4.7.0 Try later",
                "ts": 1365112222,
                "type": "deferred",
                "size": 0,
                "source_ip": "127.0.0.1",
            }
        )
        self.post_events([esp_event])
        self.assertEqual(self.only_tracking_event().mta_response, "421 4.7.0 Try later")

    def test_hard_bounce_event(self):
        esp_event = hard_bounce_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="bounced",
            timestamp=utc(1384954004),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa2",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa2",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,  # (as 6.1: Mandrill's bounce_description isn't normalized)
            description="bad_mailbox",
            mta_response="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_soft_bounce_is_bounced_not_deferred(self):
        # Changelog v0.9: Mandrill soft bounces normalize to 'bounced'
        esp_event = soft_bounce_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="bounced",
            timestamp=utc(1384954004),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa3",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa3",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,
            description="mailbox_full",
            mta_response="smtp;552 5.2.2 Over Quota",
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_no_reject_reason_for_any_event(self):
        # 6.1 gave None for every Mandrill event (the spec's "None: Anymail isn't able to
        # normalize a reject/bounce reason for this ESP"); the bounce description is description
        descriptions = [
            "bad_mailbox",
            "invalid_domain",
            "mailbox_full",
            "spam_related",
            "policy_related",
            "general",
            None,
        ]
        for description in descriptions:
            for make_event in (hard_bounce_event, soft_bounce_event):
                with self.subTest(description=description, event=make_event.__name__):
                    self.tracking_handler.reset_mock()
                    esp_event = make_event()
                    esp_event["msg"]["bounce_description"] = description
                    self.assertEqual(self.post_events([esp_event]).status_code, 200)
                    event = self.only_tracking_event()
                    self.assertEqual(event.event_type, "bounced")
                    self.assertIsNone(event.reject_reason)
                    self.assertEqual(event.description, description)
        self.tracking_handler.reset_mock()
        self.assertEqual(self.post_events(all_tracking_events()).status_code, 200)
        events = self.tracking_events()
        self.assertEqual(len(events), 11)
        self.assertEqual([event.reject_reason for event in events], [None] * 11)

    def test_open_event(self):
        esp_event = open_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="opened",
            timestamp=utc(1384954004),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa4",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa4",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,
            description=None,
            mta_response=None,
            user_agent="Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) "
            "Gecko/20100317 Postbox/1.1.3",
            click_url=None,
            esp_event=esp_event,
        )

    def test_click_event(self):
        esp_event = click_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assert_event_fields(
            self.only_tracking_event(),
            event_type="clicked",
            timestamp=utc(1384954005),
            event_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa5",
            message_id="exampleaaaaaaaaaaaaaaaaaaaaaaaaa5",
            recipient="example.webhook@mandrillapp.com",
            metadata={"user_id": 111},
            tags=["webhook-example"],
            reject_reason=None,
            description=None,
            mta_response=None,
            user_agent="Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) "
            "Gecko/20100317 Postbox/1.1.3",
            click_url="http://mandrill.com",
            esp_event=esp_event,
        )

    def test_spam_unsub_reject_events(self):
        cases = [
            ("spam", "sent", 6, "complained"),
            ("unsub", "sent", 7, "unsubscribed"),
            ("reject", "rejected", 8, "rejected"),
        ]
        for esp_type, state, n, event_type in cases:
            with self.subTest(esp_type=esp_type):
                self.tracking_handler.reset_mock()
                esp_event = simple_msg_event(esp_type, state, n)
                self.assertEqual(self.post_events([esp_event]).status_code, 200)
                self.assert_event_fields(
                    self.only_tracking_event(),
                    event_type=event_type,
                    timestamp=utc(1384954004),
                    event_id=f"exampleaaaaaaaaaaaaaaaaaaaaaaaaa{n}",
                    message_id=f"exampleaaaaaaaaaaaaaaaaaaaaaaaaa{n}",
                    recipient="example.webhook@mandrillapp.com",
                    metadata={"user_id": 111},
                    tags=["webhook-example"],
                    reject_reason=None,
                    description=None,
                    mta_response=None,
                    user_agent=None,
                    click_url=None,
                    esp_event=esp_event,
                )

    def test_delivered_event_from_newer_accounts(self):
        self.post_events([simple_msg_event("delivered", "sent", 9)])
        self.assertEqual(self.only_tracking_event().event_type, "delivered")

    def test_unknown_message_event_type(self):
        esp_event = simple_msg_event("some_future_event", "sent", 9)
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        event = self.only_tracking_event()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.message_id, "exampleaaaaaaaaaaaaaaaaaaaaaaaaa9")
        self.assertEqual(event.esp_event, esp_event)

    def test_blacklist_sync_event_is_unknown(self):
        # Docs: 'Mandrill "whitelist" and "blacklist" change events will show up as unknown'
        esp_event = blacklist_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        event = self.only_tracking_event()
        self.assert_event_fields(
            event,
            event_type="unknown",
            timestamp=utc(1384954004),
            event_id=event.event_id,  # (Mandrill gives none: see test_sync_event_ids)
            message_id=None,
            recipient="example.webhook@mandrillapp.com",
            metadata={},
            tags=[],
            reject_reason=None,
            description="Example detail",
            mta_response=None,
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_blacklist_sync_event_description_falls_back_to_reason(self):
        # A reject without a detail: its reason describes it
        for detail in (None, ""):
            with self.subTest(detail=detail):
                self.tracking_handler.reset_mock()
                esp_event = blacklist_event()
                esp_event["reject"]["detail"] = detail
                self.assertEqual(self.post_events([esp_event]).status_code, 200)
                event = self.only_tracking_event()
                self.assertEqual(event.event_type, "unknown")
                self.assertEqual(event.description, "hard-bounce")
                self.assertEqual(event.recipient, "example.webhook@mandrillapp.com")
                self.assertIsNone(event.reject_reason)
        self.tracking_handler.reset_mock()
        esp_event = blacklist_event()
        del esp_event["reject"]["detail"]
        esp_event["reject"]["reason"] = "spam"
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        self.assertEqual(self.only_tracking_event().description, "spam")

    def test_whitelist_sync_event_is_unknown(self):
        esp_event = whitelist_event()
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        event = self.only_tracking_event()
        self.assert_event_fields(
            event,
            event_type="unknown",
            timestamp=utc(1384954004),
            event_id=event.event_id,  # (Mandrill gives none: see test_sync_event_ids)
            message_id=None,
            recipient="example.webhook@mandrillapp.com",
            metadata={},
            tags=[],
            reject_reason=None,
            description="example details",
            mta_response=None,
            user_agent=None,
            click_url=None,
            esp_event=esp_event,
        )

    def test_batch_is_one_signal_per_event_in_order(self):
        esp_events = all_tracking_events()
        self.assertEqual(self.post_events(esp_events).status_code, 200)
        events = self.tracking_events()
        self.assertEqual(
            [event.event_type for event in events],
            [
                "sent",
                "deferred",
                "bounced",
                "bounced",
                "opened",
                "clicked",
                "complained",
                "unsubscribed",
                "rejected",
                "unknown",
                "unknown",
            ],
        )
        self.assertEqual([event.esp_event for event in events], esp_events)
        self.inbound_handler.assert_not_called()

    def test_null_optional_fields(self):
        # Mandrill sends null for e.g. location, user_agent on non-open events
        esp_event = send_event()
        esp_event["msg"].update({"metadata": None, "tags": None})
        esp_event.update({"user_agent": None, "url": None, "location": None})
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        event = self.only_tracking_event()
        self.assertEqual((event.metadata, event.tags, event.user_agent), ({}, [], None))

    def test_empty_batch(self):
        # What Mandrill posts when checking a url that didn't answer its HEAD request
        self.assertEqual(self.post_events([]).status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_sync_event_ids(self):
        # Sync events have no _id: each gets a stable one, the same whenever Mandrill posts
        # that event (in whatever batch), so receivers can recognize a retried one
        blacklisted, whitelisted = blacklist_event(), whitelist_event()
        self.assertEqual(self.post_events([blacklisted]).status_code, 200)
        self.assertEqual(
            self.post_events([send_event(), blacklisted, whitelisted]).status_code, 200
        )
        ids = [event.event_id for event in self.tracking_events()]
        self.assertRegex(ids[0], r"^anymail-[0-9a-f]+$")
        self.assertEqual(ids[2], ids[0])  # the same event: the same id
        self.assertNotEqual(ids[3], ids[0])  # another event: another id
        self.assertEqual(ids[1], "exampleaaaaaaaaaaaaaaaaaaaaaaaaa")  # (Mandrill's own _id)

    def test_receiver_error_is_503_after_every_event_reached_every_receiver(self):
        # Mandrill retries the batch on a 5xx (a 4xx too): receivers recognize the events
        # they've already handled by event_id
        other_receiver = mock_receiver("other_receiver")
        tracking.connect(other_receiver)
        self.addCleanup(tracking.disconnect, other_receiver)
        self.tracking_handler.side_effect = [None, RuntimeError("database down"), None]
        batch = [send_event(), deferral_event(), hard_bounce_event()]
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post_events(batch)
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "60")
        for receiver in (self.tracking_handler, other_receiver):
            self.assertEqual(
                [call.kwargs["event"].event_type for call in receiver.call_args_list],
                ["sent", "deferred", "bounced"],
            )


class MandrillUrlTests(MandrillWebhookTestCase):
    def test_older_tracking_url_still_works(self):
        # Docs: ".../anymail/mandrill/tracking/ ... the older url is still supported"
        response = self.post_events([send_event()], path=TRACKING_PATH)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.only_tracking_event().event_type, "sent")

    def test_head_validation_request_answers_200_without_key_or_auth(self):
        # Mandrill checks a new url with HEAD before it has issued the webhook key
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}):
            for url in (WEBHOOK_PATH, TRACKING_PATH):
                self.assertEqual(self.client.head(url).status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_get_not_allowed(self):
        self.assertEqual(self.client.get(WEBHOOK_PATH).status_code, 405)


class MandrillSignatureTests(MandrillWebhookTestCase):
    def test_signature_covers_basic_auth_credentials_in_url(self):
        # Changelog v0.8: the url Mandrill signs includes "user:pass@" when using basic auth
        without_credentials = "http://testserver/anymail/mandrill/"
        response = self.post_events([send_event()], signed_url=without_credentials)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    @override_settings(ANYMAIL={"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY})
    def test_without_basic_auth_url_has_no_credentials(self):
        response = self.post_events([send_event()], credentials=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.only_tracking_event().event_type, "sent")

    @override_settings(ANYMAIL={"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY})
    def test_no_insecure_webhook_warning_without_webhook_secret(self):
        # Mandrill signs every call, so (as in 6.1) no AnymailInsecureWebhookWarning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MandrillCombinedWebhookView()
            MandrillTrackingWebhookView.as_view()(RequestFactory().head(TRACKING_PATH))
            response = self.post_events([send_event()], credentials=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            [w for w in caught if issubclass(w.category, AnymailInsecureWebhookWarning)], []
        )

    def test_signature_header_as_bytes(self):
        # E.g., a test client putting bytes in META: the same signature, so accepted
        params = {"mandrill_events": json.dumps([send_event()])}
        signature = expected_signature(
            WEBHOOK_KEY, f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}", params
        )
        for header, status in ((signature.encode("ascii"), 200), (b"bm90IHNpZ25lZA==", 400)):
            with self.subTest(header=header):
                self.tracking_handler.reset_mock()
                response = self.client.post(
                    WEBHOOK_PATH,
                    urlencode(params),
                    content_type="application/x-www-form-urlencoded",
                    HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
                    HTTP_X_MANDRILL_SIGNATURE=header,
                )
                self.assertEqual(response.status_code, status)
                events = self.tracking_events()
                self.assertEqual([e.event_type for e in events], ["sent"] if status == 200 else [])

    def test_wrong_key(self):
        response = self.post_events([send_event()], key="some-other-key")
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_tampered_payload(self):
        good = expected_signature(
            WEBHOOK_KEY,
            f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}",
            {"mandrill_events": json.dumps([send_event()])},
        )
        tampered = send_event()
        tampered["msg"]["email"] = "attacker@example.com"
        response = self.post_events([tampered], signature=good)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_missing_signature_header(self):
        response = self.client.post(
            WEBHOOK_PATH,
            urlencode({"mandrill_events": "[]"}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assertEqual(response.status_code, 400)

    def test_bad_basic_auth_is_rejected_even_with_valid_signature(self):
        response = self.post_events([send_event()], credentials="user123:wrong")
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_query_string_is_part_of_the_signed_url(self):
        path = WEBHOOK_PATH + "?source=mandrill"
        self.assertEqual(self.post_events([send_event()], path=path).status_code, 200)
        self.tracking_handler.reset_mock()
        response = self.post_events(
            [send_event()],
            path=path,
            signed_url=f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}",
        )
        self.assertEqual(response.status_code, 400)

    def test_all_post_fields_are_signed_in_key_order(self):
        extra = {"aaa": "first", "zzz": "last"}
        self.assertEqual(self.post_events([send_event()], extra_params=extra).status_code, 200)
        # Signed without the extra fields: fails
        signature = expected_signature(
            WEBHOOK_KEY,
            f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}",
            {"mandrill_events": json.dumps([send_event()])},
        )
        response = self.post_events([send_event()], extra_params=extra, signature=signature)
        self.assertEqual(response.status_code, 400)

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
            "MANDRILL_WEBHOOK_URL": "https://user123:pass456@www.example.com/anymail/mandrill/",
        }
    )
    def test_webhook_url_setting_with_credentials_still_works_with_a_warning(self):
        # Django sees http://testserver, but Mandrill was given the public https url. (As in
        # 6.1, the setting may hold the credentials; but error reports would show them.)
        public_url = "https://user123:pass456@www.example.com/anymail/mandrill/"
        with self.assertWarnsRegex(AnymailWarning, "MANDRILL_WEBHOOK_URL has credentials"):
            response = self.post_events([send_event()], signed_url=public_url)
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.reset_mock()
        # ... and then the url Django sees is not accepted
        with self.assertWarns(AnymailWarning):
            self.assertEqual(self.post_events([send_event()]).status_code, 400)

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
            "MANDRILL_WEBHOOK_URL": "https://www.example.com/anymail/mandrill/",
        }
    )
    def test_webhook_url_setting_without_credentials(self):
        # The url Mandrill signed has the credentials it sends (WEBHOOK_SECRET's): Anymail
        # adds them, so the setting (which error reports show) needn't hold them
        public_url = f"https://{WEBHOOK_SECRET}@www.example.com/anymail/mandrill/"
        with warnings.catch_warnings():
            warnings.simplefilter("error", AnymailWarning)
            response = self.post_events([send_event()], signed_url=public_url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.only_tracking_event().event_type, "sent")
        self.tracking_handler.reset_mock()
        # (not the url without them, nor the one Django sees)
        public_url = "https://www.example.com/anymail/mandrill/"
        self.assertEqual(self.post_events([open_event()], signed_url=public_url).status_code, 400)
        self.assertEqual(self.post_events([open_event()]).status_code, 400)
        self.tracking_handler.assert_not_called()

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}, ANYMAIL_MANDRILL_WEBHOOK_KEY="flat-key"
    )
    def test_prefixed_webhook_key_setting(self):
        self.assertEqual(self.post_events([send_event()], key="flat-key").status_code, 200)

    def test_as_view_kwargs(self):
        response = self.post_events(
            [send_event()],
            path="/custom/mandrill/",
            key="as-view-key",
            # (the webhook_url has no credentials: the ones Mandrill sent are added)
            signed_url=f"https://{WEBHOOK_SECRET}@public.example.com/hook/",
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
    def test_missing_webhook_key_rejects_posts_with_a_clear_error(self):
        response = self.post_events([send_event()])
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        request = RequestFactory().post(
            WEBHOOK_PATH,
            urlencode({"mandrill_events": "[]"}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        with self.assertRaisesRegex(AnymailWebhookValidationFailure, "MANDRILL_WEBHOOK_KEY"):
            MandrillCombinedWebhookView().run_validators(request)

    def test_signature_error_names_the_url_without_the_password(self):
        request = RequestFactory().post(
            WEBHOOK_PATH,
            urlencode({"mandrill_events": "[]"}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            HTTP_X_MANDRILL_SIGNATURE="bm90IHRoZSBzaWduYXR1cmU=",
        )
        with self.assertRaises(AnymailWebhookValidationFailure) as cm:
            MandrillCombinedWebhookView().run_validators(request)
        message = str(cm.exception)
        self.assertIn("http://user123:***@testserver/anymail/mandrill/", message)
        self.assertNotIn("pass456", message)
        self.assertIn("MANDRILL_WEBHOOK_URL", message)

    def test_signature_is_checked_before_parsing(self):
        with mock.patch.object(MandrillCombinedWebhookView, "parse_events") as parse_events:
            self.post_events([send_event()], key="wrong")
        parse_events.assert_not_called()


class MandrillReplayTests(MandrillWebhookTestCase):
    """Mandrill's signature covers the url and every field: the same signature is the same
    call. Once handled, its events aren't delivered again; until then, it's Mandrill
    retrying, and handled."""

    def test_a_handled_call_is_not_delivered_again(self):
        batch = [send_event(), open_event()]
        self.assertEqual(self.post_events(batch).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)
        # Replayed (or Mandrill's retry after it timed out waiting for the first answer):
        # a 200, so Mandrill doesn't keep retrying it, but no events
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            self.assertEqual(self.post_events(batch).status_code, 200)
        self.assertIn("already handled", logs.output[0])
        self.assertEqual(self.tracking_handler.call_count, 2)
        # Another call is handled as usual
        self.assertEqual(self.post_events([send_event()]).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 3)

    def test_a_replay_with_other_content_is_refused(self):
        batch = [send_event()]
        self.assertEqual(self.post_events(batch).status_code, 200)
        good = expected_signature(
            WEBHOOK_KEY,
            f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}",
            {"mandrill_events": json.dumps(batch)},
        )
        response = self.post_events([open_event()], signature=good)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_mandrills_retry_after_a_503_is_delivered(self):
        batch = [send_event(), open_event()]
        self.tracking_handler.side_effect = [RuntimeError("database down"), None]
        self.assertEqual(self.post_events(batch).status_code, 503)
        self.tracking_handler.side_effect = None
        self.assertEqual(self.post_events(batch).status_code, 200)  # the retry: delivered
        self.assertEqual(self.post_events(batch).status_code, 200)  # a replay: not
        self.assertEqual(
            [event.event_type for event in self.tracking_events()],
            ["sent", "opened", "sent", "opened"],
        )

    def test_retry_after_a_failed_parse_is_not_refused_as_a_replay(self):
        # (e.g., a dependency failing while parsing: a 503)
        with mock.patch.object(
            MandrillCombinedWebhookView, "parse_events", side_effect=OSError("disk full")
        ):
            self.assertEqual(self.post_events([send_event()]).status_code, 503)
        self.assertEqual(self.post_events([send_event()]).status_code, 200)

    def test_empty_batches_may_repeat(self):
        # Mandrill posts one to check the url, each time the webhook is saved
        with mock.patch("anymail.webhooks.mandrill.logger") as logger:
            for _ in range(3):
                self.assertEqual(self.post_events([]).status_code, 200)
        logger.warning.assert_not_called()

    def test_a_bad_signature_is_not_remembered(self):
        self.assertEqual(self.post_events([send_event()], key="wrong").status_code, 400)
        self.assertEqual(self.post_events([send_event()]).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_window_is_a_day_by_default(self):
        start = time.time()
        for hours, delivered in ((0, 1), (23, 1), (25, 2)):
            with mock.patch("time.time", return_value=start + hours * 3600):
                self.assertEqual(self.post_events([send_event()]).status_code, 200)
            self.assertEqual(self.tracking_handler.call_count, delivered, hours)

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
            "MANDRILL_WEBHOOK_REPLAY_WINDOW": None,
        }
    )
    def test_window_none_turns_the_check_off(self):
        for _ in range(2):
            self.assertEqual(self.post_events([send_event()]).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)

    def test_invalid_window_is_a_configuration_error(self):
        for value in ("3600", 0, -1, 1.5, True):
            with (
                self.subTest(value=value),
                self.assertRaisesRegex(AnymailConfigurationError, "REPLAY_WINDOW"),
            ):
                MandrillCombinedWebhookView(webhook_replay_window=value)


class MandrillUnauthenticatedRequestTests(MandrillWebhookTestCase):
    """Without basic auth, Mandrill's signature is all there is: the body is read (within
    the limit) to check it."""

    def post_counting_reads(self, body: bytes, signature: str = "bm90IHNpZ25lZA==") -> Any:
        wsgi_input = ReadCountingInput(body)
        response = self.client.generic(
            "POST",
            WEBHOOK_PATH,
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_X_MANDRILL_SIGNATURE=signature,
            **{"wsgi.input": wsgi_input},
        )
        return response.status_code, wsgi_input.bytes_read

    @override_settings(
        ANYMAIL={"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY, "INBOUND_MAX_BODY_SIZE": 20_000}
    )
    def test_over_the_limit_is_413_before_reading_anything(self):
        body = urlencode({"mandrill_events": json.dumps([send_event()] * 40)}).encode()
        self.assertGreater(len(body), 20_000)
        status, bytes_read = self.post_counting_reads(body)
        self.assertEqual(status, 413)
        self.assertEqual(bytes_read, 0)
        self.tracking_handler.assert_not_called()

    @override_settings(
        ANYMAIL={"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY, "INBOUND_MAX_BODY_SIZE": 20_000}
    )
    def test_under_the_limit_bad_signature_is_400_and_never_parsed(self):
        body = urlencode({"mandrill_events": json.dumps([send_event()] * 5)}).encode()
        with mock.patch.object(MandrillCombinedWebhookView, "parse_events") as parse_events:
            status, bytes_read = self.post_counting_reads(body)
        self.assertEqual(status, 400)
        self.assertEqual(bytes_read, len(body))
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    @override_settings(
        ANYMAIL={"MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY, "WEBHOOK_REQUIRE_AUTHENTICATION": True}
    )
    def test_webhook_key_satisfies_require_authentication(self):
        response = self.post_events([send_event()], credentials=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.only_tracking_event().event_type, "sent")

    @override_settings(ANYMAIL={"WEBHOOK_REQUIRE_AUTHENTICATION": True})
    def test_without_key_or_secret_require_authentication_fails_closed(self):
        response = self.post_events([send_event()], credentials=None)
        self.assertEqual(response.status_code, 503)  # (Mandrill keeps the events meanwhile)
        self.tracking_handler.assert_not_called()


class MandrillErrorReportTests(MandrillWebhookTestCase):
    """Django's error reports (e.g., mailed to ADMINS for a refused signature) must not show
    the basic auth password that Mandrill's signed url holds."""

    SECRET = "mandrill:Pa55-w0rd-In-The-Url"
    PASSWORD = "Pa55-w0rd-In-The-Url"

    def error_report(self, path: str = WEBHOOK_PATH, signature: str = "bm90IHNpZ25lZA==") -> Any:
        """The text and HTML reports for the exception handling a call raises."""
        request = RequestFactory().post(
            path,
            urlencode({"mandrill_events": json.dumps([send_event()])}),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(self.SECRET),
            HTTP_X_MANDRILL_SIGNATURE=signature,
        )
        try:
            MandrillCombinedWebhookView.as_view()(request)
        except AnymailWebhookValidationFailure:
            reporter = ExceptionReporter(request, *sys.exc_info())
            return reporter.get_traceback_text(), reporter.get_traceback_html()
        self.fail("the call was not refused")

    def assert_no_password(self, reports: Any) -> None:
        for report in reports:
            self.assertIn("validate_request", report)  # (the report has the frames)
            # (assertNotIn would print the whole report)
            self.assertFalse(self.PASSWORD in report, "password in error report")
            self.assertFalse(quote(self.PASSWORD) in report, "password in error report")

    def test_url_django_sees(self):
        with override_settings(
            ANYMAIL={"WEBHOOK_SECRET": self.SECRET, "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}
        ):
            self.assert_no_password(self.error_report())

    def test_webhook_url_setting(self):
        with override_settings(
            ANYMAIL={
                "WEBHOOK_SECRET": self.SECRET,
                "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
                "MANDRILL_WEBHOOK_URL": "https://www.example.com/anymail/mandrill/",
            }
        ):
            self.assert_no_password(self.error_report())

    def test_error_while_computing_the_signature(self):
        with (
            override_settings(
                ANYMAIL={"WEBHOOK_SECRET": self.SECRET, "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY}
            ),
            mock.patch("anymail.webhooks.mandrill.hmac.new", side_effect=MemoryError),
        ):
            reports = self.error_report()
        self.assert_no_password(reports)
        self.assertIn("mandrill_signature", reports[0])
        for report in reports:
            self.assertFalse(WEBHOOK_KEY in report, "webhook key in error report")


class MandrillMalformedPayloadTests(MandrillWebhookTestCase):
    def assert_400(self, events: Any, **kwargs: Any) -> None:
        response = self.post_events(events, **kwargs)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()

    def test_missing_mandrill_events(self):
        signed_url = f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}"
        params = {"other": "x"}
        response = self.client.post(
            WEBHOOK_PATH,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            HTTP_X_MANDRILL_SIGNATURE=expected_signature(WEBHOOK_KEY, signed_url, params),
        )
        self.assertEqual(response.status_code, 400)

    def test_not_json(self):
        self.assert_400("this is not json")

    def test_not_a_json_array(self):
        self.assert_400(json.dumps(send_event()))

    def assert_unknown_events(self, batch: list[Any], unknown: list[int]) -> None:
        """batch is delivered whole (200), with the events at indexes unknown as "unknown"."""
        self.tracking_handler.reset_mock()
        response = self.post_events(batch)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual(len(events), len(batch))
        for index, (event, esp_event) in enumerate(zip(events, batch, strict=True)):
            self.assertEqual(event.esp_event, esp_event)
            if index in unknown:
                self.assertEqual(event.event_type, "unknown")
                self.assertRegex(event.event_id, r"^anymail-[0-9a-f]+$")
            else:
                self.assertNotEqual(event.event_type, "unknown")

    def test_event_not_an_object_is_an_unknown_event(self):
        self.assert_unknown_events(["send"], unknown=[0])

    def test_odd_field_types_make_an_unknown_event(self):
        mutations = [
            ("ts", "yesterday"),
            ("ts", True),
            ("ts", 10**30),
            ("event", 42),
            ("msg", "not an object"),
            ("_id", {"id": 1}),
            ("user_agent", 5),
        ]
        for key, value in mutations:
            with self.subTest(key=key, value=value):
                esp_event = send_event()
                esp_event[key] = value
                self.assert_unknown_events([esp_event], unknown=[0])
        msg_mutations = [
            ("metadata", ["not", "a", "dict"]),
            ("tags", "webhook-example"),
            ("tags", [1, 2]),
            ("email", ["a@example.com"]),
            ("smtp_events", [None]),
            ("diag", 550),
        ]
        for key, value in msg_mutations:
            with self.subTest(msg_key=key, value=value):
                esp_event = send_event()
                esp_event["msg"][key] = value
                self.assert_unknown_events([esp_event], unknown=[0])

    def test_one_odd_event_doesnt_cost_the_rest_of_the_batch(self):
        # Before, the whole batch was refused, on every one of Mandrill's retries
        bad_ts, bad_msg = send_event(), deferral_event()
        bad_ts["ts"] = "not a time"
        bad_msg["msg"] = ["not", "an", "object"]
        batch = [open_event(), bad_ts, click_event(), bad_msg, hard_bounce_event()]
        self.assert_unknown_events(batch, unknown=[1, 3])
        ids = [event.event_id for event in self.tracking_events()]
        self.assertEqual(len(set(ids)), 5)

    def test_json_nan_timestamp(self):
        self.tracking_handler.reset_mock()
        response = self.post_events('[{"event": "send", "ts": NaN, "msg": {}}]')
        self.assertEqual(response.status_code, 200)
        [event] = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")


# Property tests: whatever Mandrill (or an attacker) posts, the answer is 200 or 400, never 5xx;
# and without a valid signature, the parser is never reached.

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indexes) into a JSON value."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths(child, (*prefix, index)))
    return found


@st.composite
def mutated_batches(draw) -> Any:
    batch = copy.deepcopy(
        draw(st.lists(st.sampled_from(all_tracking_events()), min_size=1, max_size=3))
    )
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target_path = draw(st.sampled_from(paths(batch)))
        if not target_path:
            return draw(json_values)
        parent = batch
        for step in target_path[:-1]:
            parent = parent[step]
        last = target_path[-1]
        action = draw(st.sampled_from(["drop", "replace", "odd_timestamp"]))
        if action == "drop" and isinstance(parent, dict):
            del parent[last]
        elif action == "odd_timestamp":
            parent[last] = draw(
                st.one_of(
                    st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12),
                )
            )
        else:
            parent[last] = draw(json_values)
    return batch


raw_bodies = st.one_of(
    st.binary(max_size=200).map(lambda b: b"mandrill_events=" + b),
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: urlencode({"mandrill_events": t}).encode("utf-8")),
    st.binary(max_size=60).map(
        lambda b: b"mandrill_events=" + "".join(f"%{byte:02X}" for byte in b).encode("ascii")
    ),
)


class MandrillWebhookPropertyTests(MandrillWebhookTestCase):
    signed_url = f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}"

    def post_raw(self, body: bytes, signature: str):
        return self.client.generic(
            "POST",
            WEBHOOK_PATH,
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            HTTP_X_MANDRILL_SIGNATURE=signature,
        )

    def valid_signature_for(self, body: bytes) -> str:
        # Sign what Django will read from the body (bad bytes become U+FFFD there)
        post = QueryDict(body)
        fields = [(key, value) for key, values in post.lists() for value in values]
        return expected_signature(WEBHOOK_KEY, self.signed_url, fields)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(batch=mutated_batches())
    def test_mutated_payloads_with_valid_signature_are_200_or_400(self, batch):
        self.forget_handled_calls()  # (examples may repeat a batch)
        body = urlencode({"mandrill_events": json.dumps(batch)}).encode("ascii")
        response = self.post_raw(body, self.valid_signature_for(body))
        self.assertIn(response.status_code, (200, 400))

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=raw_bodies)
    def test_arbitrary_bodies_with_valid_signature_are_200_or_400(self, body):
        self.forget_handled_calls()
        response = self.post_raw(body, self.valid_signature_for(body))
        self.assertIn(response.status_code, (200, 400))

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=st.one_of(
            mutated_batches().map(
                lambda batch: urlencode({"mandrill_events": json.dumps(batch)}).encode("ascii")
            ),
            raw_bodies,
        ),
        signature=st.one_of(st.just(""), st.text(max_size=40), st.just("AAAA" * 7)),
    )
    def test_bad_signature_is_always_400_and_never_parsed(self, body, signature):
        if signature and signature == self.valid_signature_for(body):
            signature = "x" + signature
        with mock.patch.object(MandrillCombinedWebhookView, "parse_events") as parse_events:
            try:
                response = self.post_raw(body, signature)
            except ValueError:
                return  # the test client itself refuses some header values (e.g. newlines)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
