"""SendGrid tracking webhook: Event Webhook payloads, shaped as SendGrid's Event Webhook
reference shows them (a JSON array of events, custom args at each event's top level).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from unittest import mock

from django.test import Client, override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.sendgrid import SendGridInboundWebhookView, SendGridTrackingWebhookView

from .fakes import (
    EVENT_ID_DIGEST,
    LARGE_BATCH_DEADLINE,
    JsonWebhookTestCase,
    basic_auth_header,
    large_batch,
    mangled_json_body,
)

TRACKING_PATH = "/anymail/sendgrid/tracking/"
INBOUND_PATH = "/anymail/sendgrid/inbound/"
WEBHOOK_SECRET = "sg-user:sg-pass"

urlpatterns = [
    path(
        "anymail/sendgrid/tracking/",
        SendGridTrackingWebhookView.as_view(),
        name="sendgrid_tracking_webhook",
    ),
    path(
        "anymail/sendgrid/inbound/",
        SendGridInboundWebhookView.as_view(),
        name="sendgrid_inbound_webhook",
    ),
]


def utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


ANYMAIL_ID = "0f8bd1c5-3d3f-4b1f-9d7e-6e2f1a0c4b11"
SG_MESSAGE_ID = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
SMTP_ID = "<14c5d75ce93.dfd.64b469@ismtpd-555>"

# Event Webhook samples, one per event type, as SendGrid's reference shows them, plus the
# anymail_id and metadata custom args an Anymail send adds (at the top level, as SendGrid
# delivers custom args)

PROCESSED_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299569,
    "smtp-id": SMTP_ID,
    "event": "processed",
    "category": "cat facts",
    "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
    "sg_message_id": SG_MESSAGE_ID,
    "anymail_id": ANYMAIL_ID,
    "order_id": "A-1001",
    "customer": "42",
}

DEFERRED_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299570,
    "smtp-id": SMTP_ID,
    "event": "deferred",
    "ip": "168.1.1.1",
    "category": "cat facts",
    "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==",
    "sg_message_id": SG_MESSAGE_ID,
    "response": "400 try again later",
    "attempt": "5",
    "anymail_id": ANYMAIL_ID,
}

DELIVERED_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299571,
    "smtp-id": SMTP_ID,
    "event": "delivered",
    "ip": "168.1.1.1",
    "category": ["cat facts", "receipts"],
    "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
    "sg_message_id": SG_MESSAGE_ID,
    "response": "250 OK",
    "tls": 1,
    "anymail_id": ANYMAIL_ID,
    "order_id": "A-1001",
}

OPEN_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299572,
    "event": "open",
    "sg_machine_open": False,
    "category": "cat facts",
    "sg_event_id": "FOTFFO0ecsBE-zxFXfs6WA==",
    "sg_message_id": SG_MESSAGE_ID,
    "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
    "ip": "255.255.255.255",
    "anymail_id": ANYMAIL_ID,
}

CLICK_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299573,
    "event": "click",
    "category": "cat facts",
    "sg_event_id": "kCAi1KttyQdEKHhdC-nuEA==",
    "sg_message_id": SG_MESSAGE_ID,
    "useragent": "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 Chrome/41.0.2228.0",
    "ip": "255.255.255.255",
    "url": "http://www.sendgrid.com/",
    "url_offset": {"index": 0, "type": "html"},
    "anymail_id": ANYMAIL_ID,
}

BOUNCE_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299574,
    "smtp-id": SMTP_ID,
    "event": "bounce",
    "category": "cat facts",
    "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
    "sg_message_id": SG_MESSAGE_ID,
    "reason": "500 unknown recipient",
    "status": "5.0.0",
    "type": "bounce",
    "bounce_classification": "Invalid Address",
    "tls": 0,
    "anymail_id": ANYMAIL_ID,
}

BLOCKED_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299575,
    "smtp-id": SMTP_ID,
    "event": "bounce",
    "sg_event_id": "Ym91bmNlLTQtNTA0ODUxOTUtZXVvMmlLeGRTYXlQRjRZRTQtLUk3QS0w",
    "sg_message_id": SG_MESSAGE_ID,
    "reason": "550 5.7.1 Message rejected due to sender IP reputation",
    "status": "5.7.1",
    "type": "blocked",
    "bounce_classification": "Reputation",
    "anymail_id": ANYMAIL_ID,
}

DROPPED_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299576,
    "smtp-id": SMTP_ID,
    "event": "dropped",
    "category": "cat facts",
    "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
    "sg_message_id": SG_MESSAGE_ID,
    "reason": "Bounced Address",
    "status": "5.0.0",
    "anymail_id": ANYMAIL_ID,
}

SPAMREPORT_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299577,
    "event": "spamreport",
    "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
    "sg_message_id": SG_MESSAGE_ID,
    "anymail_id": ANYMAIL_ID,
}

UNSUBSCRIBE_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299578,
    "event": "unsubscribe",
    "category": "cat facts",
    "sg_event_id": "zz_BjPgU_5pS-J8vlfB1sg==",
    "sg_message_id": SG_MESSAGE_ID,
    "anymail_id": ANYMAIL_ID,
}

GROUP_UNSUBSCRIBE_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299579,
    "event": "group_unsubscribe",
    "category": "cat facts",
    "sg_event_id": "ahSCB7xYcXFb-hEaawsPRw==",
    "sg_message_id": SG_MESSAGE_ID,
    "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
    "ip": "255.255.255.255",
    "url": "http://www.sendgrid.com/",
    "asm_group_id": 10,
    "anymail_id": ANYMAIL_ID,
}

GROUP_RESUBSCRIBE_EVENT = {
    "email": "recipient@example.com",
    "timestamp": 1513299580,
    "event": "group_resubscribe",
    "category": "cat facts",
    "sg_event_id": "w_u0vJhLT-OFfprar5N93g==",
    "sg_message_id": SG_MESSAGE_ID,
    "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
    "ip": "255.255.255.255",
    "url": "http://www.sendgrid.com/",
    "asm_group_id": 10,
    "anymail_id": ANYMAIL_ID,
}

ALL_SAMPLE_EVENTS = [
    PROCESSED_EVENT,
    DEFERRED_EVENT,
    DELIVERED_EVENT,
    OPEN_EVENT,
    CLICK_EVENT,
    BOUNCE_EVENT,
    BLOCKED_EVENT,
    DROPPED_EVENT,
    SPAMREPORT_EVENT,
    UNSUBSCRIBE_EVENT,
    GROUP_UNSUBSCRIBE_EVENT,
    GROUP_RESUBSCRIBE_EVENT,
]


class SendGridWebhookTestCase(JsonWebhookTestCase):
    tracking_view = SendGridTrackingWebhookView
    esp_name = "SendGrid"
    urlconf = __name__
    tracking_path = TRACKING_PATH
    webhook_secret = WEBHOOK_SECRET


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridTrackingAuthTests(SendGridWebhookTestCase):
    def test_valid_basic_auth(self):
        self.assertEqual(self.post_webhook([PROCESSED_EVENT]).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_missing_or_wrong_basic_auth_is_400_without_parsing(self):
        with mock.patch.object(
            SendGridTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "sg-user:wrong", "other:sg-pass", ""):
                with self.subTest(auth=auth):
                    response = self.post_webhook([PROCESSED_EVENT], auth=auth)
                    self.assertEqual(response.status_code, 400)
            parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old:secret", WEBHOOK_SECRET]})
    def test_secret_rotation_list(self):
        for auth in ("old:secret", WEBHOOK_SECRET):
            self.assertEqual(self.post_webhook([PROCESSED_EVENT], auth=auth).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)

    @override_settings(ANYMAIL={})
    def test_no_secret_warns_insecure(self):
        with self.assertWarns(AnymailInsecureWebhookWarning):
            response = self.post_webhook([PROCESSED_EVENT], auth=None)
        self.assertEqual(response.status_code, 200)

    def test_get_not_allowed(self):
        response = Client().get(TRACKING_PATH, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET))
        self.assertEqual(response.status_code, 405)
        self.tracking_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridTrackingEventTests(SendGridWebhookTestCase):
    def assert_single_event(self, esp_event: dict) -> AnymailTrackingEvent:
        """Post esp_event in a batch of one (as SendGrid does); return the normalized event."""
        response = self.post_webhook([esp_event])
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(event.esp_event, esp_event)
        self.assertEqual(event.recipient, "recipient@example.com")
        self.assertEqual(event.message_id, ANYMAIL_ID)
        self.assertEqual(event.event_id, esp_event["sg_event_id"])
        self.assertEqual(event.timestamp, utc(esp_event["timestamp"]))
        return event

    def test_processed_event(self):
        event = self.assert_single_event(PROCESSED_EVENT)
        self.assertEqual(event.event_type, "queued")
        self.assertEqual(event.timestamp, datetime(2017, 12, 15, 0, 59, 29, tzinfo=timezone.utc))
        # Custom args (other than anymail_id) are the metadata; SendGrid's own fields aren't
        self.assertEqual(event.metadata, {"order_id": "A-1001", "customer": "42"})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_deferred_event(self):
        event = self.assert_single_event(DEFERRED_EVENT)
        self.assertEqual(event.event_type, "deferred")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertEqual(event.mta_response, "400 try again later")
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_delivered_event_with_category_list(self):
        event = self.assert_single_event(DELIVERED_EVENT)
        self.assertEqual(event.event_type, "delivered")
        self.assertEqual(event.metadata, {"order_id": "A-1001"})
        self.assertEqual(event.tags, ["cat facts", "receipts"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertEqual(event.mta_response, "250 OK")
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_open_event(self):
        event = self.assert_single_event(OPEN_EVENT)
        self.assertEqual(event.event_type, "opened")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(
            event.user_agent,
            "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
        )
        self.assertIsNone(event.click_url)

    def test_click_event(self):
        event = self.assert_single_event(CLICK_EVENT)
        self.assertEqual(event.event_type, "clicked")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(
            event.user_agent,
            "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 Chrome/41.0.2228.0",
        )
        self.assertEqual(event.click_url, "http://www.sendgrid.com/")

    def test_bounce_event(self):
        event = self.assert_single_event(BOUNCE_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.reject_reason, "bounced")
        self.assertEqual(event.description, "500 unknown recipient")
        # A bounce's "reason" is the receiving server's SMTP reply: its mta_response, too
        self.assertEqual(event.mta_response, "500 unknown recipient")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_blocked_bounce_event(self):
        event = self.assert_single_event(BLOCKED_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.reject_reason, "blocked")
        self.assertEqual(
            event.description, "550 5.7.1 Message rejected due to sender IP reputation"
        )
        self.assertEqual(
            event.mta_response, "550 5.7.1 Message rejected due to sender IP reputation"
        )
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_bounce_without_type_is_bounced(self):
        esp_event = {key: value for key, value in BOUNCE_EVENT.items() if key != "type"}
        event = self.assert_single_event(esp_event)
        self.assertEqual(event.reject_reason, "bounced")

    def test_bounce_of_unknown_type_is_other(self):
        event = self.assert_single_event(dict(BOUNCE_EVENT, type="something new"))
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.reject_reason, "other")

    def test_dropped_event(self):
        event = self.assert_single_event(DROPPED_EVENT)
        self.assertEqual(event.event_type, "rejected")
        self.assertEqual(event.reject_reason, "bounced")
        self.assertEqual(event.description, "Bounced Address")
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_dropped_reasons(self):
        # The drop reasons SendGrid documents
        expected = {
            "Bounced Address": "bounced",
            "Unsubscribed Address": "unsubscribed",
            "Invalid": "invalid",
            "Spam Reporting Address": "spam",
            "Spam Content (if spam checker app enabled)": "spam",
            "Invalid SMTPAPI header": "other",
            "Recipient List over Package Quota": "other",
        }
        self.post_webhook([dict(DROPPED_EVENT, reason=reason) for reason in expected])
        events = self.tracking_events()
        self.assertEqual({event.description: event.reject_reason for event in events}, expected)
        self.assertEqual({event.event_type for event in events}, {"rejected"})

    def test_dropped_without_reason_is_other(self):
        esp_event = {key: value for key, value in DROPPED_EVENT.items() if key != "reason"}
        event = self.assert_single_event(esp_event)
        self.assertEqual(event.reject_reason, "other")
        self.assertIsNone(event.description)

    def test_spamreport_event(self):
        event = self.assert_single_event(SPAMREPORT_EVENT)
        self.assertEqual(event.event_type, "complained")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_unsubscribe_event(self):
        event = self.assert_single_event(UNSUBSCRIBE_EVENT)
        self.assertEqual(event.event_type, "unsubscribed")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_group_unsubscribe_event(self):
        event = self.assert_single_event(GROUP_UNSUBSCRIBE_EVENT)
        self.assertEqual(event.event_type, "unsubscribed")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})  # (asm_group_id is SendGrid's, not metadata)
        self.assertEqual(event.tags, ["cat facts"])
        self.assertEqual(
            event.user_agent,
            "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
        )
        self.assertEqual(event.click_url, "http://www.sendgrid.com/")

    def test_group_resubscribe_event(self):
        event = self.assert_single_event(GROUP_RESUBSCRIBE_EVENT)
        self.assertEqual(event.event_type, "subscribed")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, ["cat facts"])
        self.assertEqual(
            event.user_agent,
            "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322)",
        )
        self.assertEqual(event.click_url, "http://www.sendgrid.com/")

    def test_unknown_event_type(self):
        esp_event = {
            "email": "recipient@example.com",
            "timestamp": 1513299581,
            "event": "account_status_change",
            "sg_event_id": "dW5rbm93bg==",
            "anymail_id": ANYMAIL_ID,
        }
        event = self.assert_single_event(esp_event)
        self.assertEqual(event.event_type, "unknown")
        self.assertIsNone(event.reject_reason)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])

    def test_batch_of_every_event_type(self):
        # SendGrid batches events: each becomes its own signal, in order
        response = self.post_webhook(ALL_SAMPLE_EVENTS)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual(
            [event.event_type for event in events],
            [
                "queued",
                "deferred",
                "delivered",
                "opened",
                "clicked",
                "bounced",
                "bounced",
                "rejected",
                "complained",
                "unsubscribed",
                "unsubscribed",
                "subscribed",
            ],
        )
        self.assertEqual([event.esp_event for event in events], ALL_SAMPLE_EVENTS)

    def test_empty_batch(self):
        self.assertEqual(self.post_webhook([]).status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_message_id_falls_back_to_smtp_id(self):
        # Messages sent before Anymail 3.0 (or with SENDGRID_GENERATE_MESSAGE_ID off)
        esp_event = {key: value for key, value in DELIVERED_EVENT.items() if key != "anymail_id"}
        self.post_webhook([esp_event])
        (event,) = self.tracking_events()
        self.assertEqual(event.message_id, SMTP_ID)

    def test_no_message_id(self):
        esp_event = {key: value for key, value in OPEN_EVENT.items() if key != "anymail_id"}
        self.post_webhook([esp_event])
        (event,) = self.tracking_events()
        self.assertIsNone(event.message_id)

    def test_metadata_excludes_sendgrid_fields(self):
        esp_event = dict(
            CLICK_EVENT,
            marketing_campaign_id=12345,
            marketing_campaign_name="spring",
            sg_template_id="d-abc",
            pool={"name": "transactional", "id": 210},
            user_id="12345",
            plan="gold",
        )
        self.post_webhook([esp_event])
        (event,) = self.tracking_events()
        self.assertEqual(event.metadata, {"user_id": "12345", "plan": "gold"})

    def test_event_without_sg_event_id_gets_a_stable_id(self):
        # (SendGrid's legacy webhook versions had no sg_event_id)
        processed, delivered = (
            {key: value for key, value in esp_event.items() if key != "sg_event_id"}
            for esp_event in (PROCESSED_EVENT, DELIVERED_EVENT)
        )
        self.post_webhook([processed, delivered])
        self.post_webhook([processed])  # (SendGrid retrying)
        ids = [event.event_id for event in self.tracking_events()]
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[2], ids[0])
        self.assertNotEqual(ids[1], ids[0])

    def test_receiver_error_is_503_after_every_receiver_and_event(self):
        # SendGrid retries anything but a 2xx (for up to 24 hours); the events already
        # delivered keep their event_id (sg_event_id), so receivers can skip them then
        response, other = self.post_with_a_failing_receiver([PROCESSED_EVENT, DELIVERED_EVENT])
        self.assertEqual(response.status_code, 503)
        self.assertEqual(self.tracking_handler.call_count, 2)
        self.assertEqual(
            [event.event_id for event in other],
            [PROCESSED_EVENT["sg_event_id"], DELIVERED_EVENT["sg_event_id"]],
        )


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridTrackingMalformedTests(SendGridWebhookTestCase):
    def assert_400(self, body: Any, content_type: str = "application/json"):
        response = self.post_webhook(body, content_type=content_type)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        return response

    def assert_unknown(self, esp_event: Any) -> AnymailTrackingEvent:
        """An event Anymail can't read is still delivered (a 200), as "unknown", and logged."""
        self.tracking_handler.reset_mock()
        with self.assertLogs("anymail.webhooks", level="WARNING"):
            response = self.post_webhook([esp_event])
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.esp_event, esp_event)
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)  # (the same when SendGrid retries)
        return event

    def test_not_json(self):
        self.assert_400(b"this is not json")

    def test_single_object_instead_of_array(self):
        self.assert_400(PROCESSED_EVENT)

    def test_non_object_event(self):
        self.post_webhook([PROCESSED_EVENT, "delivered"])
        events = self.tracking_events()
        self.assertEqual([event.event_type for event in events], ["queued", "unknown"])
        self.assertEqual(events[1].esp_event, "delivered")
        self.assertRegex(events[1].event_id, EVENT_ID_DIGEST)

    def test_event_without_type(self):
        self.assert_unknown({k: v for k, v in PROCESSED_EVENT.items() if k != "event"})

    def test_wrong_field_types(self):
        for key, value in (
            ("event", 7),
            ("email", ["recipient@example.com"]),
            ("timestamp", "yesterday"),
            ("timestamp", 1e300),
            ("sg_event_id", {"id": 1}),
            ("anymail_id", 123),
            ("category", [1, 2]),
            ("reason", False),
        ):
            with self.subTest(key=key, value=value):
                self.assert_unknown(dict(DROPPED_EVENT, **{key: value}))

    def test_invalid_utf8(self):
        self.assert_400(b'[{"event": "processed", "email": "\xff"}]')

    def test_one_bad_event_in_a_batch_costs_only_itself(self):
        # 100 events, one with a category list holding a number: 99 normal events, in order,
        # and the odd one as "unknown" with its raw data. A 200: SendGrid doesn't retry.
        batch = [dict(DELIVERED_EVENT, sg_event_id=f"event-{n}") for n in range(100)]
        batch[57] = dict(batch[57], category=["a", 2024])
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(batch)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual([event.esp_event for event in events], batch)
        self.assertEqual(
            [event.event_type for event in events],
            ["delivered"] * 57 + ["unknown"] + ["delivered"] * 42,
        )
        self.assertEqual(events[56].event_id, "event-56")
        self.assertRegex(events[57].event_id, EVENT_ID_DIGEST)  # (Anymail's, for "unknown")
        self.assertIn("2024", logs.records[0].getMessage())  # (the raw event is logged)

    def test_inbound_payload_posted_to_tracking_url(self):
        response = Client().post(
            TRACKING_PATH,
            data={"from": "sender@example.com", "to": "inbound@example.com", "text": "Hi"},
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_inbound_payload_error_says_so(self):
        view = SendGridTrackingWebhookView()
        request = mock.Mock(content_type="multipart/form-data")
        with self.assertRaisesMessage(
            ValueError,
            "This looks like a SendGrid Inbound Parse payload, posted to Anymail's SendGrid "
            "tracking webhook. Set your SendGrid Inbound Parse destination url to "
            "anymail/sendgrid/inbound/ (not anymail/sendgrid/tracking/).",
        ):
            view.parse_events(request)


# ---------------------------------------------------------------------------------------------
# Property tests: whatever arrives, the answer is a 200 or a 400 (never a 5xx, which SendGrid
# would retry), in time linear in the batch
# ---------------------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
odd_timestamps = (
    st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["1513299569", "", "0", "-1", "1e20", "2017-12-15T00:59:29Z"])
)
EVENT_KEYS = sorted({key for esp_event in ALL_SAMPLE_EVENTS for key in esp_event})


@st.composite
def mutated_event(draw) -> Any:
    esp_event = dict(draw(st.sampled_from(ALL_SAMPLE_EVENTS)))
    for key in draw(st.lists(st.sampled_from(sorted(esp_event)), max_size=4)):
        esp_event.pop(key, None)  # dropped keys
    for key in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=3)):
        esp_event[key] = draw(json_values)  # wrong types
    if draw(st.booleans()):
        esp_event["timestamp"] = draw(odd_timestamps)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)  # not an event object at all
    return esp_event


@st.composite
def mutated_body(draw) -> bytes:
    events = draw(st.lists(mutated_event(), max_size=4))
    payload = events if draw(st.booleans()) or not events else events[0]
    return draw(mangled_json_body(payload))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridTrackingPropertyTests(SendGridWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_body())
    def test_mangled_bodies_are_200_or_400(self, body):
        self.tracking_handler.reset_mock()
        response = self.post_webhook(body)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            for event in self.tracking_events():
                self.assertIsInstance(event, AnymailTrackingEvent)
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
    @given(batch=large_batch(ALL_SAMPLE_EVENTS, mutated_event()))
    def test_large_batch_with_odd_events(self, batch):
        # Thousands of events, a few odd: each is delivered, in order (a quadratic path
        # would miss the deadline)
        events = self.post_large_batch(batch.events)
        self.assertEqual(len(events), len(batch.events))
        for index in batch.normal_indexes:
            self.assertEqual(events[index].esp_event, batch.events[index])
            self.assertEqual(events[index].event_id, batch.events[index]["sg_event_id"])

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_body(),
        auth=st.one_of(
            st.none(),
            st.just(""),
            st.just("sg-user:wrong"),
            st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_and_never_parsed(self, body, auth):
        with mock.patch.object(
            SendGridTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
