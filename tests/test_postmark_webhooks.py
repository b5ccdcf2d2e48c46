"""Postmark status tracking webhook: every record type, normalized, and hostile input.

Payloads are shaped as Postmark's webhook docs show them
(https://postmarkapp.com/developer/webhooks/webhooks-overview).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from django.test import SimpleTestCase, override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from anymail.webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView

from .fakes import (
    EVENT_ID_DIGEST,
    LARGE_BATCH_DEADLINE,
    basic_auth_header,
    mock_receiver,
    quiet_webhook_logs,
)

WEBHOOK_SECRET = "username:password"
TRACKING_URL = "/anymail/postmark/tracking/"

urlpatterns = [
    path(
        "anymail/postmark/tracking/",
        PostmarkTrackingWebhookView.as_view(),
        name="postmark_tracking_webhook",
    ),
    path(
        "anymail/postmark/inbound/",
        PostmarkInboundWebhookView.as_view(),
        name="postmark_inbound_webhook",
    ),
]


# Realistic payloads, from Postmark's webhook docs

DELIVERY = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Recipient": "john@example.com",
    "Tag": "welcome-email",
    "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
    "Details": "smtp;250 2.0.0 OK 1573101234 a1si123456qkn.31 - gsmtp",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
}

BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox "
    "not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}

SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 100001,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value"},
    "ServerID": 1234,
    "Description": "The subscriber explicitly marked this message as spam.",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}

OPEN = {
    "RecordType": "Open",
    "MessageStream": "outbound",
    "FirstOpen": True,
    "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
    "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
    "Platform": "WebMail",
    "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/35.0.1916.153 Safari/537.36",
    "ReadSeconds": 5,
    "Geo": {
        "CountryISOCode": "RS",
        "Country": "Serbia",
        "RegionISOCode": "VO",
        "Region": "Autonomna Pokrajina Vojvodina",
        "City": "Novi Sad",
        "Zip": "21000",
        "Coords": "45.2517,19.8369",
        "IP": "188.2.95.4",
    },
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ReceivedAt": "2019-11-05T16:33:54.9070259Z",
    "Tag": "welcome-email",
    "Recipient": "john@example.com",
}

CLICK = {
    "RecordType": "Click",
    "MessageStream": "outbound",
    "ClickLocation": "HTML",
    "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
    "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
    "Platform": "Desktop",
    "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/35.0.1916.153 Safari/537.36",
    "OriginalLink": "https://example.com/landing?utm_source=postmark",
    "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad", "IP": "188.2.95.4"},
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value"},
    "ReceivedAt": "2017-10-25T15:21:11.0000000Z",
    "Tag": "welcome-email",
    "Recipient": "john@example.com",
}

SUBSCRIPTION_CHANGE = {
    "RecordType": "SubscriptionChange",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "ServerID": 123456,
    "MessageStream": "outbound",
    "ChangedAt": "2020-02-01T10:53:34.416071Z",
    "Recipient": "bounced-address@wildbit.com",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "my-tag",
    "Metadata": {"example": "value", "example_2": "value"},
}

# A minimal Postmark inbound payload (see test_postmark_inbound for the full one)
INBOUND = {
    "FromName": "Sender",
    "MessageStream": "inbound",
    "From": "sender@example.com",
    "FromFull": {"Email": "sender@example.com", "Name": "Sender", "MailboxHash": ""},
    "To": "inbound@example.com",
    "ToFull": [{"Email": "inbound@example.com", "Name": "", "MailboxHash": ""}],
    "Subject": "Hi",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "TextBody": "Hello",
    "Headers": [],
    "Attachments": [],
}

ALL_TRACKING_PAYLOADS = [DELIVERY, BOUNCE, SPAM_COMPLAINT, OPEN, CLICK, SUBSCRIPTION_CHANGE]


@override_settings(ROOT_URLCONF=__name__, ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class PostmarkTrackingTestCase(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        quiet_webhook_logs(self)
        self.handler = mock_receiver("handler")
        tracking.connect(self.handler)
        self.addCleanup(tracking.disconnect, self.handler)

    def post(self, payload: Any, authorization: str | None = None, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        return self.client.generic(
            "POST",
            TRACKING_URL,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=authorization
            if authorization is not None
            else basic_auth_header(WEBHOOK_SECRET),
        )

    def post_event(self, payload: dict[str, Any]) -> AnymailTrackingEvent:
        """Post payload; check it was accepted and sent exactly one tracking signal."""
        response = self.post(payload)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.handler.call_count, 1)
        kwargs = self.handler.call_args.kwargs
        self.assertEqual(kwargs["sender"], PostmarkTrackingWebhookView)
        self.assertEqual(kwargs["esp_name"], "Postmark")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(event.esp_event, payload)
        return event

    def assert_event(self, event: AnymailTrackingEvent, **expected: Any) -> None:
        """Compare EVERY normalized field (defaults for the ones not given).

        Without an expected event_id, it must be Anymail's own (Postmark's records other
        than bounces and complaints have no id).
        """
        if "event_id" not in expected:
            self.assertRegex(event.event_id, EVENT_ID_DIGEST)
            expected["event_id"] = event.event_id
        fields = {
            "event_type": None,
            "timestamp": None,
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
        fields.update(expected)
        self.assertEqual({name: getattr(event, name) for name in fields}, fields)


class PostmarkTrackingEventTests(PostmarkTrackingTestCase):
    def test_delivery(self) -> None:
        event = self.post_event(DELIVERY)
        self.assert_event(
            event,
            event_type="delivered",
            timestamp=datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc),
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="john@example.com",
            metadata={"a_key": "a_value", "b_key": "b_value"},
            tags=["welcome-email"],
            mta_response="smtp;250 2.0.0 OK 1573101234 a1si123456qkn.31 - gsmtp",
        )

    def test_hard_bounce(self) -> None:
        event = self.post_event(BOUNCE)
        self.assert_event(
            event,
            event_type="bounced",
            timestamp=datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc),
            event_id="4323372036854775807",
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="john@example.com",
            metadata={"a_key": "a_value", "b_key": "b_value"},
            tags=["Test"],
            reject_reason="bounced",
            description="The server was unable to deliver your message (ex: unknown user, "
            "mailbox not found).",
            mta_response="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        )

    def test_spam_complaint(self) -> None:
        event = self.post_event(SPAM_COMPLAINT)
        self.assert_event(
            event,
            event_type="complained",
            timestamp=datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc),
            event_id="42",
            message_id="00000000-0000-0000-0000-000000000000",
            recipient="john@example.com",
            metadata={"a_key": "a_value"},
            tags=["Test"],
            reject_reason="spam",  # (as Anymail 6.1)
            description="The subscriber explicitly marked this message as spam.",
            mta_response="Test spam complaint details",
        )

    def test_open(self) -> None:
        event = self.post_event(OPEN)
        self.assert_event(
            event,
            event_type="opened",
            timestamp=datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc),
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="john@example.com",
            metadata={"a_key": "a_value", "b_key": "b_value"},
            tags=["welcome-email"],
            user_agent=OPEN["UserAgent"],
        )

    def test_click(self) -> None:
        event = self.post_event(CLICK)
        self.assert_event(
            event,
            event_type="clicked",
            timestamp=datetime(2017, 10, 25, 15, 21, 11, tzinfo=timezone.utc),
            message_id="00000000-0000-0000-0000-000000000000",
            recipient="john@example.com",
            metadata={"a_key": "a_value"},
            tags=["welcome-email"],
            user_agent=CLICK["UserAgent"],
            click_url="https://example.com/landing?utm_source=postmark",
        )

    def test_subscription_change_suppressed(self) -> None:
        event = self.post_event(SUBSCRIPTION_CHANGE)
        self.assert_event(
            event,
            event_type="unsubscribed",
            timestamp=datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=timezone.utc),
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="bounced-address@wildbit.com",
            metadata={"example": "value", "example_2": "value"},
            tags=["my-tag"],
            # (Postmark records a recipient's own unsubscribe as a ManualSuppression)
            reject_reason="unsubscribed",
            description="ManualSuppression",
        )

    def test_subscription_change_suppression_reasons(self) -> None:
        # Postmark's documented SuppressionReason values: why it stopped sending to the address
        for suppression_reason, reject_reason in (
            ("HardBounce", "bounced"),
            ("SpamComplaint", "spam"),
            ("ManualSuppression", "unsubscribed"),
            ("SomethingNew", "other"),
        ):
            with self.subTest(suppression_reason=suppression_reason):
                self.handler.reset_mock()
                payload = {**SUBSCRIPTION_CHANGE, "SuppressionReason": suppression_reason}
                event = self.post_event(payload)
                self.assertEqual(event.event_type, "unsubscribed")
                self.assertEqual(event.reject_reason, reject_reason)
                self.assertEqual(event.description, suppression_reason)

    def test_subscription_change_reactivated(self) -> None:
        payload = {
            **SUBSCRIPTION_CHANGE,
            "SuppressSending": False,
            "SuppressionReason": None,
            "Origin": "Customer",
            "Tag": "",
            "Metadata": {},
        }
        event = self.post_event(payload)
        self.assert_event(
            event,
            event_type="subscribed",
            timestamp=datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=timezone.utc),
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="bounced-address@wildbit.com",
        )

    def test_timestamp_with_offset(self) -> None:
        payload = {**DELIVERY, "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00"}
        event = self.post_event(payload)
        self.assertEqual(
            event.timestamp,
            datetime(2014, 8, 1, 13, 28, 10, 273539, tzinfo=timezone(timedelta(hours=-4))),
        )
        self.assertEqual(event.timestamp.utcoffset(), timedelta(hours=-4))

    def test_unknown_record_type(self) -> None:
        payload = {
            "RecordType": "SomethingNew",
            "MessageID": "abc-123",
            "Recipient": "someone@example.com",
            "Tag": "t",
            "Metadata": {"k": "v"},
        }
        event = self.post_event(payload)
        self.assert_event(
            event,
            event_type="unknown",
            message_id="abc-123",
            recipient="someone@example.com",
            metadata={"k": "v"},
            tags=["t"],
        )

    def test_unknown_bounce_type(self) -> None:
        event = self.post_event({**BOUNCE, "Type": "BrandNewBounceType", "TypeCode": 999999})
        self.assertEqual(event.event_type, "unknown")
        self.assertIsNone(event.reject_reason)
        self.assertEqual(event.recipient, "john@example.com")


class PostmarkBounceTypeTests(PostmarkTrackingTestCase):
    """Every Bounce "Type" in Postmark's bounce API docs, to event_type and reject_reason."""

    BOUNCE_TYPES = [
        # (Type, TypeCode, event_type, reject_reason)
        ("HardBounce", 1, EventType.BOUNCED, RejectReason.BOUNCED),
        ("Transient", 2, EventType.DEFERRED, None),
        ("Unsubscribe", 16, EventType.UNSUBSCRIBED, None),
        ("Subscribe", 32, EventType.SUBSCRIBED, None),
        ("AutoResponder", 64, EventType.AUTORESPONDED, None),
        ("AddressChange", 128, EventType.AUTORESPONDED, None),
        ("DnsError", 256, EventType.DEFERRED, None),  # "A temporary DNS error"
        ("SpamNotification", 512, EventType.BOUNCED, RejectReason.SPAM),
        ("OpenRelayTest", 1024, EventType.UNKNOWN, None),
        ("Unknown", 2048, EventType.BOUNCED, RejectReason.OTHER),
        ("SoftBounce", 4096, EventType.BOUNCED, RejectReason.OTHER),
        ("VirusNotification", 8192, EventType.BOUNCED, RejectReason.OTHER),
        ("ChallengeVerification", 16384, EventType.AUTORESPONDED, None),
        ("BadEmailAddress", 100000, EventType.REJECTED, RejectReason.INVALID),
        ("SpamComplaint", 100001, EventType.COMPLAINED, RejectReason.SPAM),
        ("ManuallyDeactivated", 100002, EventType.REJECTED, RejectReason.BLOCKED),
        ("Unconfirmed", 100003, EventType.REJECTED, RejectReason.OTHER),
        ("Blocked", 100006, EventType.BOUNCED, RejectReason.BLOCKED),
        ("SMTPApiError", 100007, EventType.FAILED, None),
        ("InboundError", 100008, EventType.FAILED, None),
        ("DMARCPolicy", 100009, EventType.BOUNCED, RejectReason.BLOCKED),
        ("TemplateRenderingFailed", 100010, EventType.FAILED, None),
    ]

    def test_every_bounce_type(self) -> None:
        for bounce_type, type_code, event_type, reject_reason in self.BOUNCE_TYPES:
            with self.subTest(bounce_type=bounce_type):
                self.handler.reset_mock()
                payload = {
                    **BOUNCE,
                    "Type": bounce_type,
                    "TypeCode": type_code,
                    "Description": f"Description of {bounce_type}",
                    "Details": f"Details of {bounce_type}",
                }
                event = self.post_event(payload)
                self.assert_event(
                    event,
                    event_type=event_type,
                    timestamp=datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=timezone.utc),
                    event_id="4323372036854775807",
                    message_id="883953f4-6105-42a2-a16a-77a8eac79483",
                    recipient="john@example.com",
                    metadata={"a_key": "a_value", "b_key": "b_value"},
                    tags=["Test"],
                    reject_reason=reject_reason,
                    description=f"Description of {bounce_type}",
                    mta_response=f"Details of {bounce_type}",
                )


class PostmarkLegacyPayloadTests(PostmarkTrackingTestCase):
    """Before "modular webhooks" (Anymail 4.0) Postmark's payloads had no RecordType."""

    def test_legacy_bounce(self) -> None:
        payload = {key: value for key, value in BOUNCE.items() if key != "RecordType"}
        payload["Type"] = "SoftBounce"
        event = self.post_event(payload)
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.reject_reason, "other")
        self.assertEqual(event.recipient, "john@example.com")

    def test_legacy_spam_complaint(self) -> None:
        payload = {key: value for key, value in SPAM_COMPLAINT.items() if key != "RecordType"}
        event = self.post_event(payload)
        self.assertEqual(event.event_type, "complained")
        self.assertEqual(event.reject_reason, "spam")
        self.assertEqual(event.recipient, "john@example.com")

    def test_legacy_delivery(self) -> None:
        payload = {
            "ServerId": 23,
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Recipient": "john@example.com",
            "Tag": "welcome-email",
            "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00",
            "Details": "Test delivery webhook details",
        }
        event = self.post_event(payload)
        self.assert_event(
            event,
            event_type="delivered",
            timestamp=datetime(2014, 8, 1, 17, 28, 10, 273539, tzinfo=timezone.utc),
            message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            recipient="john@example.com",
            tags=["welcome-email"],
            mta_response="Test delivery webhook details",
        )

    def test_legacy_open_and_click(self) -> None:
        for payload, event_type in ((OPEN, "opened"), (CLICK, "clicked")):
            with self.subTest(event_type=event_type):
                self.handler.reset_mock()
                legacy = {key: value for key, value in payload.items() if key != "RecordType"}
                self.assertEqual(self.post_event(legacy).event_type, event_type)


class PostmarkTrackingErrorTests(PostmarkTrackingTestCase):
    def test_bad_basic_auth(self) -> None:
        for authorization in ("", basic_auth_header("username:wrong"), "Bearer username:password"):
            with self.subTest(authorization=authorization):
                response = self.post(DELIVERY, authorization=authorization)
                self.assertEqual(response.status_code, 400)
        self.handler.assert_not_called()

    def test_inbound_payload_posted_to_tracking_url(self) -> None:
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post(INBOUND)
        self.assertEqual(response.status_code, 400)
        self.handler.assert_not_called()
        self.assertIn(
            "*inbound* webhook to Anymail's Postmark *tracking* webhook URL", logs.output[0]
        )

    def test_malformed_bodies(self) -> None:
        bodies = [
            b"",
            b"not json",
            b"[]",  # Postmark posts one object per call
            json.dumps([DELIVERY]).encode(),
            b'"string"',
            b"\xff\xfe\x00bad utf-8",
        ]
        for body in bodies:
            with self.subTest(body=body):
                with self.assertLogs("anymail.webhooks", "WARNING"):
                    response = self.post(None, raw=body)
                self.assertEqual(response.status_code, 400)
        self.handler.assert_not_called()

    def test_odd_field_types_are_an_unknown_event(self) -> None:
        # A record Anymail can't read is still delivered, as "unknown" with its raw data, and
        # accepted (a 400 would have Postmark retry it, to the same end)
        payloads = [
            {**DELIVERY, "DeliveredAt": "not a date"},
            {**DELIVERY, "DeliveredAt": 1573101234},
            {**DELIVERY, "Metadata": ["not", "a", "dict"]},
            {**DELIVERY, "Recipient": {"Email": "john@example.com"}},
            {**BOUNCE, "ID": {"nested": 1}},
            {**SUBSCRIPTION_CHANGE, "SuppressSending": "yes"},
            {**BOUNCE, "Type": ["HardBounce"]},
            {**DELIVERY, "RecordType": 7},
        ]
        for payload in payloads:
            with self.subTest(payload=payload):
                self.handler.reset_mock()
                with self.assertLogs("anymail.webhooks", "WARNING"):
                    event = self.post_event(payload)
                self.assert_event(event, event_type="unknown")
                self.assertEqual(event.esp_event, payload)

    def test_one_odd_record_among_many_costs_only_itself(self) -> None:
        # Postmark posts each record separately: 100 posts, one odd, all accepted
        payloads = [{**DELIVERY, "Recipient": f"to{n}@example.com"} for n in range(100)]
        payloads[63] = {**payloads[63], "Metadata": "not an object"}
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            statuses = [self.post(payload).status_code for payload in payloads]
        self.assertEqual(statuses, [200] * 100)
        events = [call.kwargs["event"] for call in self.handler.call_args_list]
        self.assertEqual([event.esp_event for event in events], payloads)
        self.assertEqual(
            [event.event_type for event in events],
            ["delivered"] * 63 + ["unknown"] + ["delivered"] * 36,
        )
        self.assertEqual(len(logs.records), 1)
        self.assertIn("to63@example.com", logs.records[0].getMessage())  # (the raw record)

    def test_event_id_is_the_same_when_postmark_retries(self) -> None:
        for payload in (DELIVERY, DELIVERY, OPEN, BOUNCE):
            self.post(payload)
        ids = [call.kwargs["event"].event_id for call in self.handler.call_args_list]
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[1], ids[0])
        self.assertNotEqual(ids[2], ids[0])
        self.assertEqual(ids[3], "4323372036854775807")  # (Postmark's own bounce ID)

    def test_missing_optional_fields(self) -> None:
        # Sparse records still normalize (Postmark omits some fields, e.g. Tag, on some records)
        event = self.post_event({"RecordType": "Open", "MessageID": "only-an-id"})
        self.assert_event(event, event_type="opened", message_id="only-an-id")

    def test_receiver_error_is_503_after_every_receiver(self) -> None:
        # Postmark retries anything but a 200, so a receiver's error that may be temporary
        # gets a 503
        other_receiver = mock_receiver("other_receiver")
        tracking.connect(other_receiver)
        self.addCleanup(tracking.disconnect, other_receiver)
        self.handler.side_effect = RuntimeError("database down")
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post(DELIVERY)
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.has_header("Retry-After"))
        self.assertEqual(other_receiver.call_args.kwargs["event"].esp_event, DELIVERY)

    def test_get_not_allowed(self) -> None:
        response = self.client.get(
            TRACKING_URL, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
        )
        self.assertEqual(response.status_code, 405)


# Property tests: mutated realistic payloads get a 200 or 400 (never a 5xx, which Postmark would
# retry), large ones in linear time; and bad auth never parses


def _mutations() -> st.SearchStrategy:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=5,
    )
    odd_timestamps = st.sampled_from(
        [
            "",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.9999999+14:00",
            "2019-13-45T25:61:61Z",
            "2019-11-05T16:33:54.9070259",
            "yesterday",
            "2019-11-05T16:33:54.9070259+99:99",
        ]
    )
    return st.tuples(
        st.sampled_from(ALL_TRACKING_PAYLOADS + [INBOUND]),
        st.lists(
            st.tuples(
                st.sampled_from(["drop", "replace", "timestamp", "add"]),
                st.sampled_from(
                    [
                        "RecordType",
                        "Type",
                        "MessageID",
                        "Recipient",
                        "Email",
                        "Tag",
                        "Metadata",
                        "ID",
                        "BouncedAt",
                        "DeliveredAt",
                        "ReceivedAt",
                        "ChangedAt",
                        "SuppressSending",
                        "Details",
                        "Description",
                        "UserAgent",
                        "OriginalLink",
                        "FromFull",
                    ]
                ),
                json_values,
                odd_timestamps,
            ),
            max_size=4,
        ),
        st.sampled_from(["utf-8", "latin-1", "utf-16", "truncate"]),
    )


def _mutated_body(draw_result: tuple) -> bytes:
    base, mutations, encoding = draw_result
    payload = copy.deepcopy(base)
    for action, key, value, timestamp in mutations:
        if action == "drop":
            payload.pop(key, None)
        elif action == "replace" and key in payload:
            payload[key] = value
        elif action == "timestamp":
            payload[key] = timestamp
        else:
            payload[key] = value
    text = json.dumps(payload, ensure_ascii=False)
    if encoding == "truncate":
        return text.encode("utf-8")[: len(text) // 2]
    return text.encode(encoding, errors="replace")


property_settings = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@override_settings(ROOT_URLCONF=__name__, ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class PostmarkTrackingPropertyTests(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        quiet_webhook_logs(self)

    @property_settings
    @given(mutation=_mutations())
    def test_mutated_payloads_are_200_or_400(self, mutation: tuple) -> None:
        body = _mutated_body(mutation)
        handler = mock_receiver("handler")
        tracking.connect(handler)
        try:
            with self.assertNoLogs("anymail.webhooks", "ERROR"):
                response = self.client.generic(
                    "POST",
                    TRACKING_URL,
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
                )
        finally:
            tracking.disconnect(handler)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            self.assertEqual(handler.call_count, 1)
            event = handler.call_args.kwargs["event"]
            self.assertIn(event.event_type, set(EventType))
            if event.timestamp is not None:
                self.assertIsNotNone(event.timestamp.tzinfo)
        else:
            handler.assert_not_called()

    @settings(
        max_examples=8,
        deadline=LARGE_BATCH_DEADLINE,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        payload=st.sampled_from(ALL_TRACKING_PAYLOADS),
        entries=st.integers(min_value=10_000, max_value=50_000),
        odd=st.booleans(),
    )
    def test_large_record(self, payload: dict[str, Any], entries: int, odd: bool) -> None:
        # A record with tens of thousands of metadata entries (megabytes of JSON), and perhaps
        # an odd field, is handled in linear time
        metadata = {f"key{n}": "value " * (n % 20) for n in range(entries)}
        payload = {**payload, "Metadata": metadata, "Details": "x" * entries}
        if odd:
            payload["Tag"] = ["not", "a", "string"]
        handler = mock_receiver("handler")
        tracking.connect(handler)
        try:
            response = self.client.generic(
                "POST",
                TRACKING_URL,
                json.dumps(payload),
                content_type="application/json",
                HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            )
        finally:
            tracking.disconnect(handler)
        self.assertEqual(response.status_code, 200)
        event = handler.call_args.kwargs["event"]
        self.assertEqual(event.event_type == "unknown", odd)
        if not odd:
            self.assertEqual(len(event.metadata), entries)

    @property_settings
    @given(
        mutation=_mutations(),
        authorization=st.one_of(
            st.just(""),
            st.text(max_size=40),
            st.builds(basic_auth_header, st.text(max_size=30)),
        ).filter(lambda authorization: authorization != basic_auth_header(WEBHOOK_SECRET)),
    )
    def test_bad_auth_always_400_without_parsing(self, mutation: tuple, authorization: str) -> None:
        body = _mutated_body(mutation)
        handler = mock_receiver("handler")
        tracking.connect(handler)
        try:
            with mock.patch.object(
                PostmarkTrackingWebhookView, "parse_events", autospec=True
            ) as parse_events:
                response = self.client.generic(
                    "POST",
                    TRACKING_URL,
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=authorization,
                )
        finally:
            tracking.disconnect(handler)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        handler.assert_not_called()
