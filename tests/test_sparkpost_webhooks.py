"""SparkPost tracking webhook: event webhook batches, shaped as SparkPost's Webhooks API
"Event Types" reference shows them ({"msys": {"<event class>": {...}}}, in a JSON array).

Webhook events carry Unix timestamps (SparkPost's "Comparing Webhook and Message Event Data"),
sometimes as strings; the reference's own samples show ISO 8601 ones, so both are tested.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from django.test import override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView, SparkPostTrackingWebhookView

from .fakes import (
    EVENT_ID_DIGEST,
    LARGE_BATCH_DEADLINE,
    JsonWebhookTestCase,
    large_batch,
    mangled_json_body,
)

TRACKING_PATH = "/anymail/sparkpost/tracking/"
WEBHOOK_SECRET = "sp-user:sp-pass"
TRANSMISSION_ID = "65832150921904138"

urlpatterns = [
    path(
        "anymail/sparkpost/tracking/",
        SparkPostTrackingWebhookView.as_view(),
        name="sparkpost_tracking_webhook",
    ),
    path(
        "anymail/sparkpost/inbound/",
        SparkPostInboundWebhookView.as_view(),
        name="sparkpost_inbound_webhook",
    ),
]

# 2016-04-18T14:25:07Z, the reference samples' time
TIMESTAMP = 1460989507
EVENT_TIME = datetime(2016, 4, 18, 14, 25, 7, tzinfo=timezone.utc)
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/41.0.2272.118 Safari/537.36"
)
GEO_IP = {
    "country": "US",
    "region": "MD",
    "city": "Columbia",
    "latitude": 39.1749,
    "longitude": -76.8375,
}

# The fields most events share (the reference's samples, for a message Anymail sent with a tag
# and metadata)
COMMON_FIELDS = {
    "campaign_id": "order-confirmation",
    "customer_id": "1",
    "event_id": "92356927693813856",
    "friendly_from": "sender@example.com",
    "injection_time": "2016-04-18T14:25:07.000Z",
    "ip_pool": "Example-Ip-Pool",
    "message_id": "000443ee14578172be22",  # (SparkPost's message_id: not Anymail's)
    "msg_from": "sender@example.com",
    "msg_size": "1337",
    "rcpt_meta": {"order_id": "A-1001", "customer": 42},
    "rcpt_tags": ["male", "US"],
    "rcpt_to": "recipient@example.com",
    "raw_rcpt_to": "recipient@example.com",
    "rcpt_type": "to",
    "routing_domain": "example.com",
    "sending_ip": "127.0.0.1",
    "subaccount_id": "101",
    "subject": "Your order",
    "template_id": "templ-1234",
    "template_version": "1",
    "timestamp": str(TIMESTAMP),
    "transmission_id": TRANSMISSION_ID,
}
RAW_REASON = "554 5.7.1 MAIL REFUSED - IP (17.99.99.99) is in black list"
REASON = "554 5.7.1 MAIL REFUSED - IP (a.b.c.d) is in black list"
DELIVERY_FIELDS = {"delv_method": "esmtp", "ip_address": "127.0.0.1", "num_retries": "2"}


def esp_event(event_class: str, event_type: str, **fields: Any) -> dict[str, Any]:
    """One webhook event, wrapped as SparkPost posts it."""
    return {"msys": {event_class: {"type": event_type, **COMMON_FIELDS, **fields}}}


INJECTION = esp_event("message_event", "injection", recv_method="rest", open_tracking=True)
DELIVERY = esp_event("message_event", "delivery", queue_time="12", **DELIVERY_FIELDS)
BOUNCE = esp_event(
    "message_event",
    "bounce",
    bounce_class="10",
    error_code="550",
    raw_reason="550 5.1.1 <recipient@example.com>: Recipient address rejected: User unknown",
    reason="550 5.1.1 <recipient@example.com>: Recipient address rejected: User unknown",
    **DELIVERY_FIELDS,
)
# Suppressed recipients bounce asynchronously (SparkPost's "Preparing For Asynchronous
# Suppressions"): bounce_class 25, error_code 554
SUPPRESSED_BOUNCE = esp_event(
    "message_event",
    "bounce",
    bounce_class="25",
    error_code="554",
    raw_reason="554 5.7.1 recipient address was suppressed due to customer policy",
    reason="554 5.7.1 recipient address was suppressed due to customer policy",
)
OUT_OF_BAND = esp_event(
    "message_event",
    "out_of_band",
    bounce_class="51",
    error_code="554",
    raw_reason=RAW_REASON,
    reason=REASON,
    **DELIVERY_FIELDS,
)
DELAY = esp_event(
    "message_event",
    "delay",
    bounce_class="22",
    error_code="452",
    raw_reason="452 4.2.2 The email account that you tried to reach is over quota.",
    reason="452 4.2.2 The email account that you tried to reach is over quota.",
    queue_time="3600",
    **DELIVERY_FIELDS,
)
POLICY_REJECTION = esp_event(
    "message_event",
    "policy_rejection",
    bounce_class="25",
    error_code="554",
    raw_reason=RAW_REASON,
    reason=REASON,
    remote_addr="127.0.0.1",
)
SPAM_COMPLAINT = esp_event(
    "message_event",
    "spam_complaint",
    fbtype="abuse",
    report_by="server.email.com",
    report_to="abuse.example.com",
    user_str="Additional Example Information",
    **DELIVERY_FIELDS,
)
GENERATION_FAILURE = esp_event(
    "gen_event",
    "generation_failure",
    error_code="554",
    raw_reason="Substitution failure: unknown variable {{name}}",
    reason="Substitution failure: unknown variable {{name}}",
    rcpt_subs={"country": "US"},
)
GENERATION_REJECTION = esp_event(
    "gen_event",
    "generation_rejection",
    bounce_class="25",
    error_code="554",
    raw_reason=RAW_REASON,
    reason=REASON,
)
OPEN = esp_event(
    "track_event", "open", user_agent=USER_AGENT, geo_ip=GEO_IP, ip_address="127.0.0.1"
)
INITIAL_OPEN = esp_event(
    "track_event", "initial_open", user_agent=USER_AGENT, geo_ip=GEO_IP, ip_address="127.0.0.1"
)
AMP_OPEN = esp_event("track_event", "amp_open", user_agent=USER_AGENT, ip_address="127.0.0.1")
CLICK = esp_event(
    "track_event",
    "click",
    target_link_name="Example Link Name",
    target_link_url="http://example.com/order/A-1001",
    user_agent=USER_AGENT,
    geo_ip=GEO_IP,
    ip_address="127.0.0.1",
)
LIST_UNSUBSCRIBE = esp_event(
    "unsubscribe_event", "list_unsubscribe", mailfrom="recipient@example.com"
)
LINK_UNSUBSCRIBE = esp_event(
    "unsubscribe_event",
    "link_unsubscribe",
    mailfrom="recipient@example.com",
    target_link_url="https://example.com/unsubscribe",
    user_agent=USER_AGENT,
)
RELAY_INJECTION = {
    "msys": {
        "relay_event": {
            "type": "relay_injection",
            "event_id": "84320004715329757",
            "msg_from": "sender@example.com",
            "rcpt_to": "inbound@anymail.example.com",
            "relay_id": "4839201967643219",
            "timestamp": str(TIMESTAMP),
            "webhook_id": "4839201967643219",
        }
    }
}

ALL_SAMPLE_EVENTS = [
    INJECTION,
    DELIVERY,
    BOUNCE,
    SUPPRESSED_BOUNCE,
    OUT_OF_BAND,
    DELAY,
    POLICY_REJECTION,
    SPAM_COMPLAINT,
    GENERATION_FAILURE,
    GENERATION_REJECTION,
    OPEN,
    INITIAL_OPEN,
    AMP_OPEN,
    CLICK,
    LIST_UNSUBSCRIBE,
    LINK_UNSUBSCRIBE,
    RELAY_INJECTION,
]


def with_fields(wrapped: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of a wrapped event with some fields changed (None: removed)."""
    ((event_class, event),) = wrapped["msys"].items()
    event = {**event, **fields}
    return {"msys": {event_class: {k: v for k, v in event.items() if v is not None}}}


class SparkPostWebhookTestCase(JsonWebhookTestCase):
    tracking_view = SparkPostTrackingWebhookView
    esp_name = "SparkPost"
    urlconf = __name__
    tracking_path = TRACKING_PATH
    webhook_secret = WEBHOOK_SECRET


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostTrackingAuthTests(SparkPostWebhookTestCase):
    def test_valid_basic_auth(self):
        self.assertEqual(self.post_webhook([DELIVERY]).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_missing_or_wrong_basic_auth_is_400_without_parsing(self):
        with mock.patch.object(
            SparkPostTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "sp-user:wrong", "other:sp-pass", ""):
                with self.subTest(auth=auth):
                    self.assertEqual(self.post_webhook([DELIVERY], auth=auth).status_code, 400)
            parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_webhook_test_ping(self):
        """SparkPost tests a new (or validated) webhook's target with an empty msys."""
        response = self.post_webhook([{"msys": {}}])
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostTrackingEventTests(SparkPostWebhookTestCase):
    def assert_single_event(self, wrapped: dict[str, Any]) -> AnymailTrackingEvent:
        """Post a batch of one event; check what every event shares; return it."""
        response = self.post_webhook([wrapped])
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(event.esp_event, wrapped)  # the raw, wrapped event
        self.assertEqual(event.timestamp, EVENT_TIME)
        self.assertEqual(event.event_id, "92356927693813856")
        self.assertEqual(event.message_id, TRANSMISSION_ID)  # transmission_id, not message_id
        self.assertEqual(event.recipient, "recipient@example.com")
        self.assertEqual(event.metadata, {"order_id": "A-1001", "customer": 42})
        self.assertEqual(event.tags, ["order-confirmation"])  # (not rcpt_tags)
        return event

    def assert_fields(self, event: AnymailTrackingEvent, **expected: Any) -> None:
        """event_type and all the fields that vary by event type (None unless given)."""
        for field in (
            "reject_reason",
            "description",
            "mta_response",
            "user_agent",
            "click_url",
        ):
            expected.setdefault(field, None)
        actual = {field: getattr(event, field) for field in expected}
        self.assertEqual(actual, expected)

    def test_injection(self):
        event = self.assert_single_event(INJECTION)
        self.assert_fields(event, event_type="queued")

    def test_delivery(self):
        event = self.assert_single_event(DELIVERY)
        self.assert_fields(event, event_type="delivered")

    def test_bounce(self):
        event = self.assert_single_event(BOUNCE)
        self.assert_fields(
            event,
            event_type="bounced",
            reject_reason="invalid",  # bounce_class 10: Invalid Recipient (as 6.1)
            description="550 5.1.1 <recipient@example.com>: Recipient address rejected: "
            "User unknown",
            mta_response="550 5.1.1 <recipient@example.com>: Recipient address rejected: "
            "User unknown",
        )

    def test_suppressed_bounce(self):
        event = self.assert_single_event(SUPPRESSED_BOUNCE)
        self.assert_fields(
            event,
            event_type="bounced",
            reject_reason="blocked",  # bounce_class 25: Admin Failure (SparkPost policy)
            description="554 5.7.1 recipient address was suppressed due to customer policy",
            mta_response="554 5.7.1 recipient address was suppressed due to customer policy",
        )

    def test_out_of_band(self):
        event = self.assert_single_event(OUT_OF_BAND)
        self.assert_fields(
            event,
            event_type="bounced",
            reject_reason="spam",  # bounce_class 51: Spam Block
            description=REASON,
            mta_response=RAW_REASON,
        )

    def test_bounce_classes(self):
        """Each bounce classification code (SparkPost's "Bounce Classification Codes")."""
        expected = {
            "1": ("bounced", "other"),  # Undetermined
            "10": ("bounced", "invalid"),  # Invalid Recipient
            "20": ("bounced", "bounced"),  # Soft Bounce
            "21": ("bounced", "bounced"),  # DNS Failure
            "22": ("bounced", "bounced"),  # Mailbox Full
            "23": ("bounced", "bounced"),  # Too Large
            "24": ("bounced", "timed_out"),  # Timeout
            "25": ("bounced", "blocked"),  # Admin Failure
            "26": ("bounced", "blocked"),  # Smart Send Suppression
            "30": ("bounced", "bounced"),  # Generic Bounce: No RCPT
            "40": ("bounced", "bounced"),  # Generic Bounce
            "50": ("bounced", "blocked"),  # Mail Block
            "51": ("bounced", "spam"),  # Spam Block
            "52": ("bounced", "spam"),  # Spam Content
            "53": ("bounced", "blocked"),  # Prohibited Attachment
            "54": ("bounced", "blocked"),  # Relaying Denied
            "60": ("bounced", "other"),  # Auto-Reply (as 6.1: still a bounce)
            "70": ("bounced", "bounced"),  # Transient Failure
            "80": ("bounced", "other"),  # Subscribe
            "90": ("bounced", "unsubscribed"),  # Unsubscribe
            "100": ("bounced", "other"),  # Challenge-Response
            "999": ("bounced", "other"),  # (a code SparkPost adds later)
            None: ("bounced", "other"),  # (no bounce_class at all)
        }
        for esp_type in ("bounce", "out_of_band"):
            for bounce_class, (event_type, reject_reason) in expected.items():
                with self.subTest(esp_type=esp_type, bounce_class=bounce_class):
                    self.tracking_handler.reset_mock()
                    wrapped = with_fields(OUT_OF_BAND, type=esp_type, bounce_class=bounce_class)
                    event = self.assert_single_event(wrapped)
                    self.assertEqual(event.event_type, event_type)
                    self.assertEqual(event.reject_reason, reject_reason)

    def test_auto_reply_bounce(self):
        # SparkPost's bounce class 60: an auto-reply (e.g., "out of office") to the message
        wrapped = with_fields(
            BOUNCE,
            bounce_class="60",
            error_code="250",
            raw_reason="250 2.0.0 Auto-reply: I am out of the office until Monday",
            reason="250 2.0.0 Auto-reply: I am out of the office until Monday",
        )
        event = self.assert_single_event(wrapped)
        self.assert_fields(
            event,
            event_type="bounced",
            reject_reason="other",
            description="250 2.0.0 Auto-reply: I am out of the office until Monday",
            mta_response="250 2.0.0 Auto-reply: I am out of the office until Monday",
        )

    def test_recipient_keeps_its_case(self):
        # rcpt_to is SparkPost's lowercased copy of the RCPT TO address; raw_rcpt_to is as sent
        wrapped = with_fields(
            DELIVERY, rcpt_to="recipient.name@example.com", raw_rcpt_to="Recipient.Name@Example.com"
        )
        self.post_webhook([wrapped])
        (event,) = self.tracking_events()
        self.assertEqual(event.recipient, "Recipient.Name@Example.com")
        self.tracking_handler.reset_mock()
        # (only without raw_rcpt_to, rcpt_to)
        self.post_webhook([with_fields(wrapped, raw_rcpt_to=None)])
        (event,) = self.tracking_events()
        self.assertEqual(event.recipient, "recipient.name@example.com")

    def test_bounce_class_as_number(self):
        self.post_webhook([with_fields(BOUNCE, bounce_class=24)])
        (event,) = self.tracking_events()
        self.assertEqual(event.reject_reason, "timed_out")

    def test_delay(self):
        event = self.assert_single_event(DELAY)
        self.assert_fields(
            event,
            event_type="deferred",
            description="452 4.2.2 The email account that you tried to reach is over quota.",
            mta_response="452 4.2.2 The email account that you tried to reach is over quota.",
        )

    def test_policy_rejection(self):
        event = self.assert_single_event(POLICY_REJECTION)
        self.assert_fields(
            event,
            event_type="rejected",
            reject_reason="blocked",
            description=REASON,
            mta_response=RAW_REASON,
        )
        self.tracking_handler.reset_mock()
        # Without a bounce_class, still SparkPost's policy
        event = self.assert_single_event(with_fields(POLICY_REJECTION, bounce_class=None))
        self.assertEqual(event.reject_reason, "blocked")

    def test_spam_complaint(self):
        event = self.assert_single_event(SPAM_COMPLAINT)
        self.assert_fields(event, event_type="complained")

    def test_generation_failure(self):
        event = self.assert_single_event(GENERATION_FAILURE)
        self.assert_fields(
            event,
            event_type="failed",
            description="Substitution failure: unknown variable {{name}}",
            mta_response="Substitution failure: unknown variable {{name}}",
        )

    def test_generation_rejection(self):
        event = self.assert_single_event(GENERATION_REJECTION)
        self.assert_fields(
            event,
            event_type="rejected",
            reject_reason="blocked",
            description=REASON,
            mta_response=RAW_REASON,
        )

    def test_opens(self):
        for wrapped in (OPEN, INITIAL_OPEN, AMP_OPEN):
            with self.subTest(wrapped["msys"]["track_event"]["type"]):
                self.tracking_handler.reset_mock()
                event = self.assert_single_event(wrapped)
                self.assert_fields(event, event_type="opened", user_agent=USER_AGENT)

    def test_click(self):
        event = self.assert_single_event(CLICK)
        self.assert_fields(
            event,
            event_type="clicked",
            user_agent=USER_AGENT,
            click_url="http://example.com/order/A-1001",
        )
        self.tracking_handler.reset_mock()
        event = self.assert_single_event(with_fields(CLICK, type="amp_click"))
        self.assertEqual(event.event_type, "clicked")

    def test_list_unsubscribe(self):
        event = self.assert_single_event(LIST_UNSUBSCRIBE)
        self.assert_fields(event, event_type="unsubscribed")

    def test_link_unsubscribe(self):
        event = self.assert_single_event(LINK_UNSUBSCRIBE)
        self.assert_fields(
            event,
            event_type="unsubscribed",
            user_agent=USER_AGENT,
            click_url="https://example.com/unsubscribe",
        )

    def test_other_event_classes_are_unknown(self):
        """E.g., relay events, if the webhook has them checked: still a 200 (no retries)."""
        response = self.post_webhook([RELAY_INJECTION])
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.esp_event, RELAY_INJECTION)
        self.assertEqual(event.event_id, "84320004715329757")
        self.assertEqual(event.recipient, "inbound@anymail.example.com")
        self.assertEqual(event.timestamp, EVENT_TIME)
        self.assertIsNone(event.message_id)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.reject_reason)

    def test_ab_test_and_sms_events_are_unknown(self):
        ab_test = {
            "msys": {
                "ab_test_event": {
                    "type": "ab_test_completed",
                    "ab_test": {"id": "password-reset", "name": "Password Reset", "version": 1},
                    "customer_id": "1",
                    "event_id": "92356927693813857",
                    "timestamp": "1460989507",
                }
            }
        }
        sms = with_fields(DELIVERY, type="sms_status")
        self.assertEqual(self.post_webhook([ab_test, sms]).status_code, 200)
        self.assertEqual([e.event_type for e in self.tracking_events()], ["unknown", "unknown"])

    def test_batch(self):
        """SparkPost batches events; each is its own signal, in order."""
        batch = [INJECTION, DELIVERY, OPEN, CLICK]
        self.assertEqual(self.post_webhook(batch).status_code, 200)
        events = self.tracking_events()
        self.assertEqual(
            [event.event_type for event in events], ["queued", "delivered", "opened", "clicked"]
        )
        self.assertEqual([event.esp_event for event in events], batch)

    def test_transmission_and_recipient_metadata(self):
        """Recipient metadata (merge_metadata) wins over the transmission's."""
        wrapped = with_fields(
            DELIVERY,
            metadata={"batch": "2024-05", "customer": 0},
            rcpt_meta={"customer": 42},
        )
        self.post_webhook([wrapped])
        (event,) = self.tracking_events()
        self.assertEqual(event.metadata, {"batch": "2024-05", "customer": 42})

    def test_minimal_event(self):
        self.post_webhook([{"msys": {"message_event": {"type": "delivery"}}}])
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "delivered")
        for field in ("timestamp", "message_id", "recipient", "description"):
            self.assertIsNone(getattr(event, field))
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)  # (Anymail's, without SparkPost's)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])

    def test_timestamp_formats(self):
        for timestamp in (
            TIMESTAMP,
            str(TIMESTAMP),
            "2016-04-18T14:25:07.000+00:00",
            "2016-04-18T14:25:07.000Z",
            "1460989507.0",
        ):
            with self.subTest(timestamp=timestamp):
                self.tracking_handler.reset_mock()
                self.post_webhook([with_fields(DELIVERY, timestamp=timestamp)])
                (event,) = self.tracking_events()
                self.assertEqual(event.timestamp, EVENT_TIME)

    def test_event_without_event_id_gets_a_stable_id(self):
        delivery, click = (with_fields(wrapped, event_id=None) for wrapped in (DELIVERY, CLICK))
        self.post_webhook([delivery, click])
        self.post_webhook([delivery])  # (SparkPost retrying)
        ids = [event.event_id for event in self.tracking_events()]
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[2], ids[0])
        self.assertNotEqual(ids[1], ids[0])

    def test_receiver_error_is_503_after_every_receiver_and_event(self):
        # SparkPost retries a batch that doesn't get a 200 for 8 hours; the events already
        # delivered keep their event_id then, so receivers can skip them
        response, other = self.post_with_a_failing_receiver([INJECTION, DELIVERY])
        self.assertEqual(response.status_code, 503)
        self.assertEqual(self.tracking_handler.call_count, 2)
        self.assertEqual([event.event_type for event in other], ["queued", "delivered"])

    def test_inbound_payload_posted_to_tracking(self):
        relay = {"msys": {"relay_message": {"content": {"email_rfc822": "Subject: x\r\n\r\nhi"}}}}
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook([relay])
        self.assertEqual(response.status_code, 400)
        self.assertIn("relay webhook (inbound) payload", logs.output[0])
        self.assertIn("anymail/sparkpost/inbound/", logs.output[0])
        self.tracking_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostTrackingMalformedTests(SparkPostWebhookTestCase):
    def assert_400(self, body: Any) -> None:
        response = self.post_webhook(body)
        self.assertEqual(response.status_code, 400, f"for {body!r}")
        self.tracking_handler.assert_not_called()

    def assert_unknown(self, body: Any) -> AnymailTrackingEvent:
        """A batch of one event Anymail can't read: still delivered (a 200), as "unknown"."""
        self.tracking_handler.reset_mock()
        with self.assertLogs("anymail.webhooks", level="WARNING"):
            response = self.post_webhook(body)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)  # (the same when SparkPost retries)
        return event

    def test_not_json_or_not_a_batch(self):
        # Only a body that isn't a batch at all is refused
        for body in ("", "not json", "{", b"\xff\xfe[]", json.dumps(DELIVERY), "null", "42"):
            with self.subTest(body=body):
                self.assert_400(body)

    def test_bad_batch_items(self):
        for item in (
            [],
            "msys",
            None,
            {},
            {"msys": []},
            {"msys": "delivery"},
            {"msys": {"message_event": ["delivery"]}},
        ):
            with self.subTest(item=item):
                self.tracking_handler.reset_mock()
                with self.assertLogs("anymail.webhooks", level="WARNING"):
                    response = self.post_webhook([DELIVERY, item])
                self.assertEqual(response.status_code, 200)
                events = self.tracking_events()
                self.assertEqual([event.event_type for event in events], ["delivered", "unknown"])
                self.assertEqual(events[1].esp_event, item)

    def test_wrong_field_types(self):
        for field, value in [
            ("type", ["delivery"]),
            ("raw_rcpt_to", {"email": "a@example.com"}),
            ("transmission_id", True),
            ("transmission_id", 1.5),
            ("timestamp", "yesterday"),
            ("timestamp", [TIMESTAMP]),
            ("timestamp", 1e300),
            ("rcpt_meta", "order_id=1"),
            ("metadata", ["x"]),
            ("campaign_id", {"id": 1}),
            ("bounce_class", 10.5),
            ("raw_reason", False),
        ]:
            with self.subTest(field=field, value=value):
                wrapped = with_fields(BOUNCE, **{field: value})
                self.assertEqual(self.assert_unknown([wrapped]).esp_event, wrapped)
        # (rcpt_to is read only without raw_rcpt_to)
        self.assert_unknown([with_fields(BOUNCE, raw_rcpt_to=None, rcpt_to={"email": "a@x.com"})])

    def test_one_bad_event_in_a_batch_costs_only_itself(self):
        # 100 events, one with metadata that isn't an object: 99 normal events, in order, and
        # the odd one as "unknown" with its raw data. A 200, so SparkPost doesn't retry.
        batch = [with_fields(DELIVERY, event_id=str(n)) for n in range(100)]
        batch[12] = with_fields(batch[12], metadata="campaign=spring")
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(batch)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual([event.esp_event for event in events], batch)
        self.assertEqual(
            [event.event_type for event in events],
            ["delivered"] * 12 + ["unknown"] + ["delivered"] * 87,
        )
        self.assertEqual(events[13].event_id, "13")
        self.assertIn("campaign=spring", logs.records[0].getMessage())  # (the raw event)

    def test_nan_timestamp(self):
        self.assert_unknown('[{"msys": {"message_event": {"type": "delivery", "timestamp": NaN}}}]')


# ---------------------------------------------------------------------------------------------
# Property tests: whatever SparkPost (or an attacker) posts, a 200 or a 400 (never a 5xx, which
# SparkPost would retry), in time linear in the batch
# ---------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
odd_timestamps = (
    st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=14)
    | st.sampled_from(
        ["1460989507", "", "0", "-1", "1e20", "99999999999999999999", "2016-13-45T99:99:99Z"]
    )
)
EVENT_KEYS = sorted(
    {key for wrapped in ALL_SAMPLE_EVENTS for event in wrapped["msys"].values() for key in event}
)


@st.composite
def mutated_item(draw: Any) -> Any:
    wrapped = draw(st.sampled_from(ALL_SAMPLE_EVENTS))
    ((event_class, event),) = wrapped["msys"].items()
    event = dict(event)
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=4)):
        event.pop(key, None)  # dropped keys
    for key in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=3)):
        event[key] = draw(json_values)  # wrong types
    if draw(st.booleans()):
        event["timestamp"] = draw(odd_timestamps)
    shape = draw(st.integers(min_value=0, max_value=11))
    if shape == 0:
        return draw(json_values)  # not an item at all
    if shape == 1:
        return {"msys": draw(json_values)}
    if shape == 2:
        return {"msys": {draw(st.text(max_size=12)): event}}  # unknown event class
    return {"msys": {event_class: event}}


@st.composite
def mutated_body(draw: Any) -> bytes:
    payload = draw(st.lists(mutated_item(), max_size=4))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        payload = payload[0] if payload else {}  # not a batch
    return draw(mangled_json_body(payload))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostTrackingPropertyTests(SparkPostWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_body())
    def test_mangled_bodies_are_200_or_400(self, body):
        self.tracking_handler.reset_mock()
        response = self.post_webhook(body)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            for event in self.tracking_events():
                self.assertIsInstance(event.event_type, str)
                self.assertIsInstance(event.metadata, dict)
                self.assertIsInstance(event.tags, list)
                if event.timestamp is not None:
                    self.assertIsNotNone(event.timestamp.tzinfo)
        else:
            self.tracking_handler.assert_not_called()

    @settings(
        max_examples=8,
        deadline=LARGE_BATCH_DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        batch=large_batch(
            ALL_SAMPLE_EVENTS, mutated_item().filter(lambda item: item not in ALL_SAMPLE_EVENTS)
        )
    )
    def test_large_batch_with_odd_events(self, batch):
        # Thousands of events, a few odd: each is delivered, in order (a quadratic path
        # would miss the deadline)
        events = self.post_large_batch(batch.events)
        # (an odd item may hold no event, or several)
        normal_events = [event for event in events if event.esp_event in ALL_SAMPLE_EVENTS]
        self.assertEqual(
            [event.esp_event for event in normal_events],
            [batch.events[index] for index in batch.normal_indexes],
        )

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_body(),
        auth=st.one_of(
            st.none(),
            st.just(""),
            st.just("sp-user:wrong"),
            st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_before_parsing(self, body, auth):
        self.tracking_handler.reset_mock()
        with mock.patch.object(
            SparkPostTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
