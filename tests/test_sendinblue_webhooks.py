"""SendinBlue tracking webhook: transactional webhook payloads, shaped as SendinBlue's
"Transactional webhooks" docs show them (one JSON object per call; a JSON array for webhooks
created with SendinBlue's "batched" option).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from django.test import Client, override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailInsecureWebhookWarning
from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.sendinblue import SendinBlueTrackingWebhookView

from .fakes import (
    EVENT_ID_DIGEST,
    LARGE_BATCH_DEADLINE,
    JsonWebhookTestCase,
    basic_auth_header,
    large_batch,
    mangled_json_body,
)

TRACKING_PATH = "/anymail/sendinblue/tracking/"
WEBHOOK_SECRET = "sib-user:sib-pass"

urlpatterns = [
    path(
        "anymail/sendinblue/tracking/",
        SendinBlueTrackingWebhookView.as_view(),
        name="sendinblue_tracking_webhook",
    ),
]

MESSAGE_ID = "<201803011727.12345678901@smtp-relay.mailin.fr>"


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# Transactional webhook samples, one per event type, with Anymail's metadata JSON in
# X-Mailin-custom and its tag in "tag", where a real Anymail send puts them. ("id" is the
# webhook's id. As in real payloads, "ts_epoch" is UTC milliseconds, while "date" and "ts_event"
# are Paris time: ts_event is seconds since the epoch as if Paris's wall clock were UTC, though
# SendinBlue's docs call it UTC.)

REQUEST_EVENT = {
    "event": "request",
    "email": "recipient@example.com",
    "id": 1234567,
    "date": "2018-03-01 18:27:05",
    "ts": 1519925225,
    "message-id": MESSAGE_ID,
    "ts_event": 1519928825,
    "subject": "Your order A-1001",
    "tag": "receipt",
    "X-Mailin-custom": '{"order_id": "A-1001", "customer": 42}',
    "sending_ip": "185.41.28.109",
    "ts_epoch": 1519925225123,
}

DELIVERED_EVENT = dict(
    REQUEST_EVENT,
    event="delivered",
    date="2018-03-01 18:27:08",
    ts=1519925228,
    ts_event=1519928828,
    ts_epoch=1519925228456,
)

HARD_BOUNCE_EVENT = {
    "event": "hard_bounce",
    "email": "bounce@example.com",
    "id": 1234567,
    "date": "2018-03-01 18:27:09",
    "ts": 1519925229,
    "message-id": MESSAGE_ID,
    "ts_event": 1519928829,
    "subject": "Your order A-1001",
    "tag": "receipt",
    "X-Mailin-custom": '{"order_id": "A-1001", "customer": 42}',
    "sending_ip": "185.41.28.109",
    "ts_epoch": 1519925229000,
    "reason": "550 5.1.1 <bounce@example.com>: Recipient address rejected: User unknown",
}

SOFT_BOUNCE_EVENT = dict(
    HARD_BOUNCE_EVENT,
    event="soft_bounce",
    reason="452 4.2.2 The email account that you tried to reach is over quota",
)

DEFERRED_EVENT = dict(
    HARD_BOUNCE_EVENT,
    event="deferred",
    reason="421 4.7.0 Try again later, closing connection.",
)

BLOCKED_EVENT = dict(
    HARD_BOUNCE_EVENT,
    event="blocked",
    email="blocked@example.com",
    reason="blocked : due to blacklist user",
)

INVALID_EMAIL_EVENT = {
    "event": "invalid_email",
    "email": "not-an-address@example",
    "id": 1234567,
    "date": "2018-03-01 18:27:06",
    "ts": 1519925226,
    "message-id": MESSAGE_ID,
    "ts_event": 1519928826,
    "subject": "Your order A-1001",
    "tag": "receipt",
    "X-Mailin-custom": '{"order_id": "A-1001", "customer": 42}',
    "reason": "invalid email address",
}

ERROR_EVENT = dict(INVALID_EMAIL_EVENT, event="error", email="recipient@example.com", reason="")

SPAM_EVENT = {
    "event": "spam",
    "email": "complainer@example.com",
    "id": 1234567,
    "date": "2018-03-02 09:00:00",
    "ts": 1519977600,
    "message-id": MESSAGE_ID,
    "ts_event": 1519981200,
    "subject": "Your order A-1001",
    "tag": "receipt",
    "X-Mailin-custom": '{"order_id": "A-1001", "customer": 42}',
}

# Newer payloads add tags (a list, with "tag" a JSON-encoded list), user_agent and more
UNIQUE_OPENED_EVENT = {
    "event": "unique_opened",
    "email": "recipient@example.com",
    "id": 1234567,
    "date": "2020-10-09 16:54:14",
    "ts": 1602255254,
    "message-id": MESSAGE_ID,
    "ts_event": 1602262454,
    "subject": "Your order A-1001",
    "tag": '["receipt"]',
    "tags": ["receipt"],
    "X-Mailin-custom": '{"order_id": "A-1001", "customer": 42}',
    "sending_ip": "185.41.28.109",
    "ts_epoch": 1602255254712,
    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/81.0",
    "device_used": "DESKTOP",
    "contact_id": 8,
}

OPENED_EVENT = dict(UNIQUE_OPENED_EVENT, event="opened")

PROXY_OPEN_EVENT = dict(UNIQUE_OPENED_EVENT, event="proxy_open", user_agent="Mozilla/5.0")

CLICK_EVENT = dict(
    UNIQUE_OPENED_EVENT,
    event="click",
    date="2020-10-09 16:55:01",
    ts=1602255301,
    ts_event=1602262501,
    ts_epoch=1602255301003,
    link="https://www.example.com/orders/A-1001?utm_source=email",
)

UNSUBSCRIBED_EVENT = {
    "event": "unsubscribed",
    "email": "recipient@example.com",
    "id": 1234567,
    "date": "2020-10-09 17:00:00",
    "ts": 1602255600,
    "message-id": MESSAGE_ID,
    "ts_event": 1602262800,
    "subject": "Your order A-1001",
    "tags": [],
    "sending_ip": "185.41.28.109",
    "ts_epoch": 1602255600000,
}

ALL_SAMPLE_EVENTS = [
    REQUEST_EVENT,
    DELIVERED_EVENT,
    HARD_BOUNCE_EVENT,
    SOFT_BOUNCE_EVENT,
    DEFERRED_EVENT,
    BLOCKED_EVENT,
    INVALID_EMAIL_EVENT,
    ERROR_EVENT,
    SPAM_EVENT,
    UNIQUE_OPENED_EVENT,
    OPENED_EVENT,
    PROXY_OPEN_EVENT,
    CLICK_EVENT,
    UNSUBSCRIBED_EVENT,
]


class SendinBlueWebhookTestCase(JsonWebhookTestCase):
    tracking_view = SendinBlueTrackingWebhookView
    esp_name = "SendinBlue"
    urlconf = __name__
    tracking_path = TRACKING_PATH
    webhook_secret = WEBHOOK_SECRET


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendinBlueTrackingAuthTests(SendinBlueWebhookTestCase):
    def test_valid_basic_auth(self):
        self.assertEqual(self.post_webhook(DELIVERED_EVENT).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_missing_or_wrong_basic_auth_is_400_without_parsing(self):
        with mock.patch.object(
            SendinBlueTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "sib-user:wrong", "other:sib-pass", ""):
                with self.subTest(auth=auth):
                    self.assertEqual(self.post_webhook(DELIVERED_EVENT, auth=auth).status_code, 400)
            parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": ["old:secret", WEBHOOK_SECRET]})
    def test_rotated_secrets(self):
        self.assertEqual(self.post_webhook(DELIVERED_EVENT, auth="old:secret").status_code, 200)
        self.assertEqual(self.post_webhook(DELIVERED_EVENT).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)

    def test_get_not_allowed(self):
        response = Client().get(TRACKING_PATH, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET))
        self.assertEqual(response.status_code, 405)
        self.tracking_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendinBlueTrackingEventTests(SendinBlueWebhookTestCase):
    def assert_single_event(self, esp_event: dict) -> AnymailTrackingEvent:
        response = self.post_webhook(esp_event)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(event.esp_event, esp_event)
        # SendinBlue's "id" is the webhook's, not the event's: Anymail gives a digest
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)
        return event

    def assert_common_fields(
        self, event: AnymailTrackingEvent, esp_event: dict, timestamp: datetime
    ) -> None:
        self.assertEqual(event.message_id, MESSAGE_ID)
        self.assertEqual(event.recipient, esp_event["email"])
        self.assertEqual(event.timestamp, timestamp)
        self.assertEqual(event.metadata, {"order_id": "A-1001", "customer": 42})
        self.assertEqual(event.tags, ["receipt"])

    def test_request_event_is_queued(self):
        event = self.assert_single_event(REQUEST_EVENT)
        self.assertEqual(event.event_type, "queued")
        self.assert_common_fields(event, REQUEST_EVENT, utc(1519925225.123))
        # ts_epoch, not ts_event (which is Paris's wall clock, an hour ahead in March)
        self.assertEqual(
            event.timestamp, datetime(2018, 3, 1, 17, 27, 5, 123000, tzinfo=timezone.utc)
        )
        self.assertEqual(event.timestamp.tzinfo, timezone.utc)
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_delivered_event(self):
        event = self.assert_single_event(DELIVERED_EVENT)
        self.assertEqual(event.event_type, "delivered")
        self.assert_common_fields(event, DELIVERED_EVENT, utc(1519925228.456))
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_hard_bounce_event(self):
        event = self.assert_single_event(HARD_BOUNCE_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assert_common_fields(event, HARD_BOUNCE_EVENT, utc(1519925229))
        self.assertEqual(event.reject_reason, "bounced")
        reason = "550 5.1.1 <bounce@example.com>: Recipient address rejected: User unknown"
        self.assertEqual(event.description, reason)
        self.assertEqual(event.mta_response, reason)
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_soft_bounce_event(self):
        event = self.assert_single_event(SOFT_BOUNCE_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assert_common_fields(event, SOFT_BOUNCE_EVENT, utc(1519925229))
        self.assertEqual(event.reject_reason, "bounced")
        reason = "452 4.2.2 The email account that you tried to reach is over quota"
        self.assertEqual(event.description, reason)
        self.assertEqual(event.mta_response, reason)

    def test_deferred_event(self):
        event = self.assert_single_event(DEFERRED_EVENT)
        self.assertEqual(event.event_type, "deferred")
        self.assert_common_fields(event, DEFERRED_EVENT, utc(1519925229))
        self.assertIsNone(event.reject_reason)
        self.assertEqual(event.description, "421 4.7.0 Try again later, closing connection.")
        self.assertEqual(event.mta_response, "421 4.7.0 Try again later, closing connection.")

    def test_blocked_event_is_rejected(self):
        event = self.assert_single_event(BLOCKED_EVENT)
        self.assertEqual(event.event_type, "rejected")
        self.assert_common_fields(event, BLOCKED_EVENT, utc(1519925229))
        self.assertEqual(event.recipient, "blocked@example.com")
        self.assertEqual(event.reject_reason, "blocked")
        # SendinBlue's one "reason" field fills both (as Anymail 6.1)
        self.assertEqual(event.description, "blocked : due to blacklist user")
        self.assertEqual(event.mta_response, "blocked : due to blacklist user")

    def test_invalid_email_event_is_bounced_invalid(self):
        # As Anymail 6.1: a bounce, with reject_reason "invalid"
        event = self.assert_single_event(INVALID_EMAIL_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assert_common_fields(event, INVALID_EMAIL_EVENT, utc(1519925226))
        self.assertEqual(event.reject_reason, "invalid")
        self.assertEqual(event.description, "invalid email address")
        self.assertEqual(event.mta_response, "invalid email address")
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_error_event_is_failed(self):
        event = self.assert_single_event(ERROR_EVENT)
        self.assertEqual(event.event_type, "failed")
        self.assert_common_fields(event, ERROR_EVENT, utc(1519925226))
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)  # empty reason
        self.assertIsNone(event.mta_response)

    def test_error_event_reason(self):
        event = self.assert_single_event(dict(ERROR_EVENT, reason="Sender domain not verified"))
        self.assertEqual(event.event_type, "failed")
        self.assertIsNone(event.reject_reason)
        self.assertEqual(event.description, "Sender domain not verified")
        self.assertEqual(event.mta_response, "Sender domain not verified")

    def test_spam_event_is_complained(self):
        event = self.assert_single_event(SPAM_EVENT)
        self.assertEqual(event.event_type, "complained")
        self.assert_common_fields(event, SPAM_EVENT, utc(1519977600))
        self.assertEqual(event.recipient, "complainer@example.com")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)

    def test_both_open_types_are_opened(self):
        # "First opening" (unique_opened) and "Opened" both normalize to opened
        for esp_event in (UNIQUE_OPENED_EVENT, OPENED_EVENT, PROXY_OPEN_EVENT):
            with self.subTest(esp_event["event"]):
                self.tracking_handler.reset_mock()
                event = self.assert_single_event(esp_event)
                self.assertEqual(event.event_type, "opened")
                self.assert_common_fields(event, esp_event, utc(1602255254.712))
                self.assertEqual(event.user_agent, esp_event["user_agent"])
                self.assertIsNone(event.reject_reason)
                self.assertIsNone(event.description)
                self.assertIsNone(event.mta_response)
                self.assertIsNone(event.click_url)

    def test_click_event(self):
        event = self.assert_single_event(CLICK_EVENT)
        self.assertEqual(event.event_type, "clicked")
        self.assert_common_fields(event, CLICK_EVENT, utc(1602255301.003))
        self.assertEqual(event.click_url, "https://www.example.com/orders/A-1001?utm_source=email")
        self.assertEqual(
            event.user_agent,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/81.0",
        )
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)

    def test_unsubscribed_event(self):
        for event_name in ("unsubscribed", "unsubscribe"):
            with self.subTest(event_name):
                self.tracking_handler.reset_mock()
                esp_event = dict(UNSUBSCRIBED_EVENT, event=event_name)
                event = self.assert_single_event(esp_event)
                self.assertEqual(event.event_type, "unsubscribed")
                self.assertEqual(event.timestamp, utc(1602255600))  # (from ts_epoch)
                self.assertEqual(event.message_id, MESSAGE_ID)
                self.assertEqual(event.recipient, "recipient@example.com")
                self.assertEqual(event.metadata, {})
                self.assertEqual(event.tags, [])

    def test_list_addition_is_subscribed(self):
        event = self.assert_single_event(dict(UNSUBSCRIBED_EVENT, event="list_addition"))
        self.assertEqual(event.event_type, "subscribed")

    def test_unknown_event_type(self):
        event = self.assert_single_event(dict(DELIVERED_EVENT, event="some_future_event"))
        self.assertEqual(event.event_type, "unknown")
        self.assert_common_fields(event, DELIVERED_EVENT, utc(1519925228.456))
        self.assertIsNone(event.reject_reason)

    def test_batched_events_one_signal_each_in_order(self):
        batch = [REQUEST_EVENT, DELIVERED_EVENT, CLICK_EVENT]
        self.assertEqual(self.post_webhook(batch).status_code, 200)
        events = self.tracking_events()
        self.assertEqual([e.event_type for e in events], ["queued", "delivered", "clicked"])
        self.assertEqual([e.esp_event for e in events], batch)

    def test_empty_batch(self):
        self.assertEqual(self.post_webhook([]).status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_event_id_is_the_same_when_sendinblue_retries(self):
        self.post_webhook(DELIVERED_EVENT)
        self.post_webhook(DELIVERED_EVENT)  # (SendinBlue retrying the same event)
        self.post_webhook([CLICK_EVENT, DELIVERED_EVENT])
        ids = [event.event_id for event in self.tracking_events()]
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[1], ids[0])
        self.assertEqual(ids[3], ids[0])  # (the same event, batched)
        self.assertNotEqual(ids[2], ids[0])

    def test_message_id_matches_backend_anymail_status(self):
        # The send API's {"messageId": "<...>"} is the webhook's "message-id", brackets and all
        event = self.assert_single_event(DELIVERED_EVENT)
        self.assertEqual(event.message_id, "<201803011727.12345678901@smtp-relay.mailin.fr>")


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendinBlueTrackingFieldTests(SendinBlueWebhookTestCase):
    def event_for(self, **fields: Any) -> AnymailTrackingEvent:
        esp_event = {"event": "delivered", "email": "to@example.com", **fields}
        esp_event = {key: value for key, value in esp_event.items() if value is not None}
        response = self.post_webhook(esp_event)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.tracking_handler.reset_mock()
        return event

    def test_timestamp_is_ts_epoch_in_utc(self):
        # A real delivered event, at 2018-03-01 18:27:08 Paris time (17:27:08 UTC): ts_epoch is
        # UTC milliseconds, and ts_event is an hour ahead (Paris's wall clock, read as UTC)
        event = self.event_for(
            ts_event=1519928828, ts_epoch=1519925228456, date="2018-03-01 18:27:08"
        )
        self.assertEqual(
            event.timestamp, datetime(2018, 3, 1, 17, 27, 8, 456000, tzinfo=timezone.utc)
        )
        self.assertEqual(event.timestamp.tzinfo, timezone.utc)
        self.assertEqual(self.event_for(ts_epoch="1519925228456").timestamp, event.timestamp)

    def test_ts_epoch_in_seconds(self):
        # Some of SendinBlue's samples show ts_epoch in seconds
        self.assertEqual(self.event_for(ts_epoch=1604933654).timestamp, utc(1604933654))

    def test_ts_event_fallback_is_paris_wall_clock(self):
        # Without ts_epoch: ts_event's UTC reading is Paris time. Winter: CET (UTC+1)...
        winter = self.event_for(ts_event=1519928828, date="2000-01-01 00:00:00").timestamp
        self.assertEqual(winter, datetime(2018, 3, 1, 17, 27, 8, tzinfo=timezone.utc))
        self.assertEqual(str(winter.tzinfo), "Europe/Paris")
        self.assertEqual(winter.isoformat(), "2018-03-01T18:27:08+01:00")
        # ... summer: CEST (UTC+2); and as a string
        summer = self.event_for(ts_event="1602262454").timestamp
        self.assertEqual(summer, datetime(2020, 10, 9, 14, 54, 14, tzinfo=timezone.utc))

    def test_date_is_paris_time(self):
        # Winter: CET (UTC+1); summer: CEST (UTC+2)
        winter = self.event_for(date="2018-03-01 18:27:05").timestamp
        self.assertEqual(winter, datetime(2018, 3, 1, 17, 27, 5, tzinfo=timezone.utc))
        summer = self.event_for(date="2018-07-01 18:27:05").timestamp
        self.assertEqual(summer, datetime(2018, 7, 1, 16, 27, 5, tzinfo=timezone.utc))
        self.assertEqual(str(winter.tzinfo), "Europe/Paris")

    def test_sample_times_agree(self):
        # In each sample, "date", "ts_event" and "ts_epoch" are the same moment (to the second)
        for esp_event in (REQUEST_EVENT, UNIQUE_OPENED_EVENT, UNSUBSCRIBED_EVENT):
            with self.subTest(esp_event["event"]):
                moments = {
                    self.event_for(date=esp_event["date"]).timestamp,
                    self.event_for(ts_event=esp_event["ts_event"]).timestamp,
                    self.event_for(ts_epoch=esp_event["ts_epoch"]).timestamp.replace(microsecond=0),
                }
                self.assertEqual(len(moments), 1, moments)

    def test_no_timestamp(self):
        self.assertIsNone(self.event_for().timestamp)
        # The "ts" field's time zone isn't documented, so it isn't used
        self.assertIsNone(self.event_for(ts=1519925228).timestamp)

    def test_tags_forms(self):
        self.assertEqual(self.event_for(tag="receipt").tags, ["receipt"])
        self.assertEqual(self.event_for(tag='["a", "b"]').tags, ["a", "b"])
        self.assertEqual(self.event_for(tag="[not json").tags, ["[not json"])
        self.assertEqual(self.event_for(tags=["x", "y"], tag='["x", "y"]').tags, ["x", "y"])
        self.assertEqual(self.event_for(tags=[], tag="").tags, [])
        self.assertEqual(self.event_for().tags, [])

    def test_metadata_forms(self):
        self.assertEqual(self.event_for(**{"X-Mailin-custom": '{"a": "1"}'}).metadata, {"a": "1"})
        # Not Anymail's JSON object (e.g., set directly in extra_headers): no metadata
        self.assertEqual(self.event_for(**{"X-Mailin-custom": "some_custom_header"}).metadata, {})
        self.assertEqual(self.event_for(**{"X-Mailin-custom": "[1, 2]"}).metadata, {})
        self.assertEqual(self.event_for().metadata, {})

    def test_missing_optional_fields(self):
        event = self.event_for(email=None)
        self.assertEqual(event.event_type, "delivered")
        for attr in ("recipient", "message_id", "timestamp", "description", "click_url"):
            self.assertIsNone(getattr(event, attr))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendinBlueTrackingErrorTests(SendinBlueWebhookTestCase):
    def assert_400(self, body: Any) -> None:
        with self.assertLogs("anymail.webhooks", level="WARNING"):
            response = self.post_webhook(body)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def assert_unknown(self, esp_event: Any, expected_log: str | None = None) -> None:
        """An event Anymail can't read is still delivered (a 200), as "unknown", and logged."""
        self.tracking_handler.reset_mock()
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(esp_event)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.esp_event, esp_event)
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)
        if expected_log:
            self.assertIn(expected_log, logs.records[0].getMessage())

    def test_malformed_bodies(self):
        # Only a body that isn't an event or a list of them is refused
        for body in (b"", b"not json", b"\xff\xfe{}", "null", '"delivered"', "42"):
            with self.subTest(body=body):
                self.assert_400(body)

    def test_batch_items_that_arent_events(self):
        self.post_webhook([1, [], DELIVERED_EVENT])
        events = self.tracking_events()
        self.assertEqual(
            [event.event_type for event in events], ["unknown", "unknown", "delivered"]
        )
        self.assertEqual([event.esp_event for event in events], [1, [], DELIVERED_EVENT])

    def test_event_without_type(self):
        esp_event = {key: value for key, value in DELIVERED_EVENT.items() if key != "event"}
        self.assert_unknown(esp_event, "no 'event' type")

    def test_wrong_field_types(self):
        for field, value in [
            ("event", 7),
            ("email", ["a@example.com"]),
            ("message-id", 12345),
            ("ts_epoch", "yesterday"),
            ("ts_epoch", [1519925228456]),
            ("ts_epoch", True),
            ("ts_epoch", 1e300),
            ("X-Mailin-custom", {"already": "parsed"}),
            ("tag", 12),
            ("tags", "receipt"),
            ("tags", [1, 2]),
            ("reason", False),
            ("link", {"url": "x"}),
            ("user_agent", 5),
        ]:
            with self.subTest(field=field, value=value):
                self.assert_unknown(dict(DELIVERED_EVENT, **{field: value}))

    def test_bad_fallback_timestamps(self):
        base = {key: value for key, value in DELIVERED_EVENT.items() if key != "ts_epoch"}
        for fields in (
            {"ts_event": "soon"},
            {"ts_event": True},
            {"ts_event": [1]},
            {"ts_event": 10**400},
            {"ts_event": 1e300},
            {"ts_event": None, "date": "yesterday"},
            {"ts_event": None, "date": "2018-13-45 25:61:00"},
            {"ts_event": None, "date": 1519925228},
        ):
            with self.subTest(**fields):
                esp_event = {**base, **fields}
                self.assert_unknown({k: v for k, v in esp_event.items() if v is not None})

    def test_nan_timestamp(self):
        for body in ('{"event": "delivered", "ts_epoch": NaN}', '[{"ts_event": NaN}]'):
            with self.subTest(body=body):
                self.tracking_handler.reset_mock()
                with self.assertLogs("anymail.webhooks", level="WARNING"):
                    self.assertEqual(self.post_webhook(body).status_code, 200)
                (event,) = self.tracking_events()
                self.assertEqual(event.event_type, "unknown")

    def test_one_bad_event_in_a_batch_costs_only_itself(self):
        # 100 events, one with tags that aren't a list: 99 normal events, in order, and the
        # odd one as "unknown" with its raw data. A 200, so SendinBlue doesn't retry.
        batch = [dict(DELIVERED_EVENT, email=f"to{n}@example.com") for n in range(100)]
        batch[41] = dict(batch[41], tags="receipt")
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(batch)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual([event.esp_event for event in events], batch)
        self.assertEqual(
            [event.event_type for event in events],
            ["delivered"] * 41 + ["unknown"] + ["delivered"] * 58,
        )
        self.assertEqual(events[42].recipient, "to42@example.com")
        self.assertIn("to41@example.com", logs.records[0].getMessage())  # (the raw event)

    def test_receiver_error_is_429_after_every_receiver_and_event(self):
        # A receiver's failure may be temporary, so SendinBlue should retry. Brevo's docs: it
        # discards an event answered with a 5xx, or a 4xx other than 429. So it's a 429 (the
        # 503 other ESPs get), after every receiver has had every event.
        response, other = self.post_with_a_failing_receiver([REQUEST_EVENT, DELIVERED_EVENT])
        self.assertEqual(response.status_code, 429)
        self.assertEqual(len(self.tracking_events()), 2)
        self.assertEqual([event.event_type for event in other], ["queued", "delivered"])

    def test_failure_that_may_pass_is_429(self):
        cases = (
            ({"WEBHOOK_SECRET": WEBHOOK_SECRET}, OSError("storage unreachable")),
            ({"WEBHOOK_REQUIRE_AUTHENTICATION": True}, None),  # (and no secret set)
        )
        for setting, error in cases:
            with (
                self.subTest(setting=setting),
                override_settings(ANYMAIL=setting),
                warnings.catch_warnings(),
                mock.patch.object(
                    SendinBlueTrackingWebhookView, "esp_to_anymail_event", side_effect=error
                ),
                self.assertLogs("anymail.webhooks", level="ERROR"),
            ):
                warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)  # (no secret)
                response = self.post_webhook(DELIVERED_EVENT)
                self.assertEqual(response.status_code, 429)
                self.assertTrue(response.has_header("Retry-After"))
        self.tracking_handler.assert_not_called()


# ---------------------------------------------------------------------------------------------
# Property tests: whatever SendinBlue (or an attacker) posts, a 200 or a 400 (never a 429,
# which SendinBlue would retry), in time linear in the batch
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
odd_times = (
    st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["1519925228", "", "0", "-1", "1e20", "2018-03-01 18:27:05", "2018-03-25 02:30:00"]
    )
)
EVENT_KEYS = sorted({key for esp_event in ALL_SAMPLE_EVENTS for key in esp_event})
TIME_KEYS = ["ts_event", "ts_epoch", "date"]


@st.composite
def mutated_event(draw: Any) -> Any:
    esp_event = dict(draw(st.sampled_from(ALL_SAMPLE_EVENTS)))
    for key in draw(st.lists(st.sampled_from(sorted(esp_event)), max_size=4)):
        esp_event.pop(key, None)  # dropped keys
    for key in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=3)):
        esp_event[key] = draw(json_values)  # wrong types
    for key in draw(st.lists(st.sampled_from(TIME_KEYS), max_size=3)):
        esp_event[key] = draw(odd_times)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)  # not an event object at all
    return esp_event


@st.composite
def mutated_body(draw: Any) -> bytes:
    events = draw(st.lists(mutated_event(), max_size=3))
    payload = events if draw(st.booleans()) or not events else events[0]
    return draw(mangled_json_body(payload))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendinBlueTrackingPropertyTests(SendinBlueWebhookTestCase):
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
            self.assertNotEqual(events[index].event_type, "unknown")

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_body(),
        auth=st.one_of(
            st.none(),
            st.just(""),
            st.just("sib-user:wrong"),
            st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_before_parsing(self, body, auth):
        self.tracking_handler.reset_mock()
        with mock.patch.object(
            SendinBlueTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
