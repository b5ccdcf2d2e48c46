"""Mailjet tracking webhook: Event API payloads, shaped as Mailjet's Event API guide shows them.

Mailjet posts a JSON array of events when its "group events" option is on, and a single JSON
object per event when it's off; both must work.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from django.test import Client, override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.signals import AnymailTrackingEvent
from anymail.webhooks.mailjet import MailjetInboundWebhookView, MailjetTrackingWebhookView

from .fakes import JsonWebhookTestCase, basic_auth_header, mangled_json_body

TRACKING_PATH = "/anymail/mailjet/tracking/"
INBOUND_PATH = "/anymail/mailjet/inbound/"
WEBHOOK_SECRET = "mj-user:mj-pass"

urlpatterns = [
    path(
        "anymail/mailjet/tracking/",
        MailjetTrackingWebhookView.as_view(),
        name="mailjet_tracking_webhook",
    ),
    path(
        "anymail/mailjet/inbound/",
        MailjetInboundWebhookView.as_view(),
        name="mailjet_inbound_webhook",
    ),
]


def utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


# Event API samples, one per event type, as Mailjet documents them (with Anymail's metadata
# JSON in Payload and its tag in customcampaign where a real Anymail send would put them)

SENT_EVENT = {
    "event": "sent",
    "time": 1433333949,
    "MessageID": 19421777835146490,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2j",
    "email": "api@mailjet.com",
    "mj_campaign_id": 7257,
    "mj_contact_id": 4,
    "customcampaign": "receipt",
    "mj_message_id": "19421777835146490",
    "smtp_reply": "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)",
    "CustomID": "helloworld",
    "Payload": '{"order_id": "A-1001", "customer": 42}',
}

OPEN_EVENT = {
    "event": "open",
    "time": 1433103519,
    "MessageID": 19421777396190490,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2k",
    "email": "api@mailjet.com",
    "mj_campaign_id": 7173,
    "mj_contact_id": 320,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "ip": "127.0.0.1",
    "geo": "US",
    "agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0",
}

CLICK_EVENT = {
    "event": "click",
    "time": 1433334653,
    "MessageID": 19421777836302490,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2l",
    "email": "api@mailjet.com",
    "mj_campaign_id": 7272,
    "mj_contact_id": 4,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "url": "https://mailjet.com",
    "ip": "127.0.0.1",
    "geo": "FR",
    "agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36",
}

BOUNCE_EVENT = {
    "event": "bounce",
    "time": 1430812195,
    "MessageID": 13792286917004336,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2m",
    "email": "bounce@mailjet.com",
    "mj_campaign_id": 0,
    "mj_contact_id": 0,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "blocked": True,
    "hard_bounce": True,
    "error_related_to": "recipient",
    "error": "user unknown",
    "comment": "Host or domain name not found. Name service error for name=lvnet.lv type=A",
}

SOFT_BOUNCE_EVENT = dict(
    BOUNCE_EVENT,
    blocked=False,
    hard_bounce=False,
    error_related_to="recipient",
    error="quota exceeded",
    comment="452 4.2.2 The email account that you tried to reach is over quota",
)

# A greylisting: "a temporary error due to possible unrecognised senders", which Mailjet retries
GREYLISTED_EVENT = dict(
    BOUNCE_EVENT,
    blocked=False,
    hard_bounce=False,
    error_related_to="domain",
    error="greylisted",
    comment="450 4.2.0 <bounce@mailjet.com>: Recipient address rejected: Greylisted",
)

BLOCKED_EVENT = {
    "event": "blocked",
    "time": 1430812195,
    "MessageID": 13792286917004336,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2n",
    "email": "bounce@mailjet.com",
    "mj_campaign_id": 0,
    "mj_contact_id": 0,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "error_related_to": "mailjet",
    "error": "preblocked",
}

SPAM_EVENT = {
    "event": "spam",
    "time": 1430812195,
    "MessageID": 13792286917004336,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2o",
    "email": "bounce@mailjet.com",
    "mj_campaign_id": 0,
    "mj_contact_id": 0,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "source": "JMRPP",
}

UNSUB_EVENT = {
    "event": "unsub",
    "time": 1433334941,
    "MessageID": 20547674933128000,
    "Message_GUID": "1ab23cd4-e567-8901-2345-6789f0gh1i2p",
    "email": "api@mailjet.com",
    "mj_campaign_id": 7276,
    "mj_contact_id": 126,
    "customcampaign": "",
    "CustomID": "helloworld",
    "Payload": "",
    "mj_list_id": 1,
    "ip": "127.0.0.1",
    "geo": "FR",
    "agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/42.0.2311.135 Safari/537.36",
}

ALL_SAMPLE_EVENTS = [
    SENT_EVENT,
    OPEN_EVENT,
    CLICK_EVENT,
    BOUNCE_EVENT,
    SOFT_BOUNCE_EVENT,
    GREYLISTED_EVENT,
    BLOCKED_EVENT,
    SPAM_EVENT,
    UNSUB_EVENT,
]

# The Event API guide's "Grouping events" sample: older events have only mj_message_id
GROUPED_SENT_EVENTS = [
    {
        "customcampaign": "test",
        "email": "api@mailjet.com",
        "event": "sent",
        "mj_campaign_id": 483,
        "mj_contact_id": 4,
        "mj_message_id": "18858825588804172",
        "smtp_reply": "sent (250 2.0.0 OK 1424873937 fn1si2587485pab.205 - gsmtp)",
        "time": 1424873938,
    },
    {
        "customcampaign": "test",
        "email": "api@mailjet.com",
        "event": "sent",
        "mj_campaign_id": 483,
        "mj_contact_id": 4,
        "mj_message_id": "18858825588803684",
        "smtp_reply": "sent (250 2.0.0 OK 1424873937 av4si15414111pbd.46 - gsmtp)",
        "time": 1424873938,
    },
]


class MailjetWebhookTestCase(JsonWebhookTestCase):
    tracking_view = MailjetTrackingWebhookView
    esp_name = "Mailjet"
    urlconf = __name__
    tracking_path = TRACKING_PATH
    webhook_secret = WEBHOOK_SECRET


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetTrackingAuthTests(MailjetWebhookTestCase):
    def test_valid_basic_auth(self):
        self.assertEqual(self.post_webhook(SENT_EVENT).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_missing_or_wrong_basic_auth_is_400_without_parsing(self):
        with mock.patch.object(
            MailjetTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "mj-user:wrong", "other:mj-pass", ""):
                with self.subTest(auth=auth):
                    response = self.post_webhook(SENT_EVENT, auth=auth)
                    self.assertEqual(response.status_code, 400)
            parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_head_request_for_url_check(self):
        response = Client().head(
            TRACKING_PATH, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
        )
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetTrackingEventTests(MailjetWebhookTestCase):
    def assert_single_event(self, esp_event: dict) -> AnymailTrackingEvent:
        """Post esp_event alone ("group events" off); return the one normalized event."""
        response = self.post_webhook(esp_event)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertIsInstance(event, AnymailTrackingEvent)
        self.assertEqual(event.esp_event, esp_event)
        # Mailjet events have no id of their own: Anymail's is a digest of the event
        self.assertIsInstance(event.event_id, str)
        self.assertTrue(event.event_id)
        return event

    def test_event_id_is_the_same_when_mailjet_posts_the_event_again(self):
        self.post_webhook([SENT_EVENT, OPEN_EVENT])
        self.post_webhook(SENT_EVENT)  # (a retry, with "group events" since turned off)
        first_sent, first_open, retried_sent = self.tracking_events()
        self.assertEqual(retried_sent.event_id, first_sent.event_id)
        self.assertNotEqual(first_open.event_id, first_sent.event_id)

    def test_sent_event(self):
        event = self.assert_single_event(SENT_EVENT)
        self.assertEqual(event.event_type, "delivered")
        self.assertEqual(event.timestamp, datetime(2015, 6, 3, 12, 19, 9, tzinfo=timezone.utc))
        self.assertEqual(event.message_id, "19421777835146490")
        self.assertEqual(event.recipient, "api@mailjet.com")
        self.assertEqual(event.metadata, {"order_id": "A-1001", "customer": 42})
        self.assertEqual(event.tags, ["receipt"])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertEqual(
            event.mta_response, "sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)"
        )
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_open_event(self):
        event = self.assert_single_event(OPEN_EVENT)
        self.assertEqual(event.event_type, "opened")
        self.assertEqual(event.timestamp, utc(1433103519))
        self.assertEqual(event.message_id, "19421777396190490")
        self.assertEqual(event.recipient, "api@mailjet.com")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(
            event.user_agent, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
        )
        self.assertIsNone(event.click_url)

    def test_click_event(self):
        event = self.assert_single_event(CLICK_EVENT)
        self.assertEqual(event.event_type, "clicked")
        self.assertEqual(event.timestamp, utc(1433334653))
        self.assertEqual(event.message_id, "19421777836302490")
        self.assertEqual(event.recipient, "api@mailjet.com")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(
            event.user_agent,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_0) AppleWebKit/537.36",
        )
        self.assertEqual(event.click_url, "https://mailjet.com")

    def test_hard_bounce_event(self):
        event = self.assert_single_event(BOUNCE_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.timestamp, utc(1430812195))
        self.assertEqual(event.message_id, "13792286917004336")
        self.assertEqual(event.recipient, "bounce@mailjet.com")
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertEqual(event.reject_reason, "bounced")
        self.assertIsNone(event.description)  # (Mailjet's error is in reject_reason)
        self.assertEqual(
            event.mta_response,
            "Host or domain name not found. Name service error for name=lvnet.lv type=A",
        )
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_soft_bounce_is_bounced(self):
        # As 6.1: only a greylisting is 'deferred'
        event = self.assert_single_event(SOFT_BOUNCE_EVENT)
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.timestamp, utc(1430812195))
        self.assertEqual(event.message_id, "13792286917004336")
        self.assertEqual(event.recipient, "bounce@mailjet.com")
        self.assertEqual(event.reject_reason, "bounced")
        self.assertIsNone(event.description)
        self.assertEqual(
            event.mta_response,
            "452 4.2.2 The email account that you tried to reach is over quota",
        )
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_greylisted_soft_bounce_is_deferred(self):
        event = self.assert_single_event(GREYLISTED_EVENT)
        self.assertEqual(event.event_type, "deferred")
        self.assertEqual(event.timestamp, utc(1430812195))
        self.assertEqual(event.message_id, "13792286917004336")
        self.assertEqual(event.recipient, "bounce@mailjet.com")
        self.assertEqual(event.reject_reason, "other")
        self.assertIsNone(event.description)
        self.assertEqual(
            event.mta_response,
            "450 4.2.0 <bounce@mailjet.com>: Recipient address rejected: Greylisted",
        )
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_greylisted_hard_bounce_is_bounced(self):
        event = self.assert_single_event(dict(GREYLISTED_EVENT, hard_bounce=True))
        self.assertEqual(event.event_type, "bounced")
        self.assertEqual(event.reject_reason, "other")

    def test_smtp_reply_is_the_mta_response(self):
        event = self.assert_single_event(
            dict(GREYLISTED_EVENT, smtp_reply="450 4.7.1 Try again later")
        )
        self.assertEqual(event.mta_response, "450 4.7.1 Try again later")
        self.assertIsNone(event.description)

    def test_blocked_event_is_rejected(self):
        event = self.assert_single_event(BLOCKED_EVENT)
        self.assertEqual(event.event_type, "rejected")
        self.assertEqual(event.timestamp, utc(1430812195))
        self.assertEqual(event.message_id, "13792286917004336")
        self.assertEqual(event.recipient, "bounce@mailjet.com")
        self.assertEqual(event.reject_reason, "blocked")  # preblocked: Mailjet's own blocking
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_spam_event_is_complained(self):
        event = self.assert_single_event(SPAM_EVENT)
        self.assertEqual(event.event_type, "complained")
        self.assertEqual(event.timestamp, utc(1430812195))
        self.assertEqual(event.message_id, "13792286917004336")
        self.assertEqual(event.recipient, "bounce@mailjet.com")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertIsNone(event.user_agent)
        self.assertIsNone(event.click_url)

    def test_unsub_event(self):
        event = self.assert_single_event(UNSUB_EVENT)
        self.assertEqual(event.event_type, "unsubscribed")
        self.assertEqual(event.timestamp, utc(1433334941))
        self.assertEqual(event.message_id, "20547674933128000")
        self.assertEqual(event.recipient, "api@mailjet.com")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)
        self.assertIsNone(event.mta_response)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertEqual(event.user_agent, UNSUB_EVENT["agent"])
        self.assertIsNone(event.click_url)

    def test_unknown_event_type(self):
        esp_event = dict(OPEN_EVENT, event="some_future_event")
        event = self.assert_single_event(esp_event)
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.message_id, "19421777396190490")
        self.assertEqual(event.recipient, "api@mailjet.com")

    def test_grouped_events_one_signal_each_in_order(self):
        response = self.post_webhook(ALL_SAMPLE_EVENTS)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual(
            [event.event_type for event in events],
            [
                "delivered",
                "opened",
                "clicked",
                "bounced",
                "bounced",
                "deferred",
                "rejected",
                "complained",
                "unsubscribed",
            ],
        )
        self.assertEqual([event.esp_event for event in events], ALL_SAMPLE_EVENTS)
        self.inbound_handler.assert_not_called()

    def test_docs_grouped_sample_with_only_mj_message_id(self):
        response = self.post_webhook(GROUPED_SENT_EVENTS)
        self.assertEqual(response.status_code, 200)
        first, second = self.tracking_events()
        self.assertEqual(first.event_type, "delivered")
        self.assertEqual(first.message_id, "18858825588804172")
        self.assertEqual(second.message_id, "18858825588803684")
        self.assertEqual(first.tags, ["test"])
        self.assertEqual(first.timestamp, utc(1424873938))
        self.assertEqual(
            second.mta_response, "sent (250 2.0.0 OK 1424873937 av4si15414111pbd.46 - gsmtp)"
        )

    def test_empty_group_is_200_with_no_signal(self):
        self.assertEqual(self.post_webhook([]).status_code, 200)
        self.tracking_handler.assert_not_called()

    def test_message_id_matches_backend_anymail_status_format(self):
        # The backend reports str(MessageID); events must use the same str
        event = self.assert_single_event(dict(SENT_EVENT, MessageID=1152921504606846976))
        self.assertEqual(event.message_id, "1152921504606846976")

    def test_non_json_payload_is_not_anymail_metadata(self):
        # (e.g., Mj-EventPayLoad set directly through esp_extra)
        for payload in ("Eticket,1234,row,15,seat,B", "[1, 2]", '"a string"', "{bad json"):
            with self.subTest(payload=payload):
                self.tracking_handler.reset_mock()
                self.post_webhook(dict(SENT_EVENT, Payload=payload))
                (event,) = self.tracking_events()
                self.assertEqual(event.metadata, {})

    def test_string_time_is_accepted(self):
        event = self.assert_single_event(dict(SENT_EVENT, time="1433333949"))
        self.assertEqual(event.timestamp, utc(1433333949))

    def test_missing_time_gives_no_timestamp(self):
        esp_event = {key: value for key, value in SENT_EVENT.items() if key != "time"}
        event = self.assert_single_event(esp_event)
        self.assertIsNone(event.timestamp)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetRejectReasonTests(MailjetWebhookTestCase):
    """error_related_to/error (the Event API's "Possible values for errors") -> reject_reason."""

    def reject_reason(self, event_type: str = "bounce", **fields) -> str | None:
        self.tracking_handler.reset_mock()
        esp_event = {key: value for key, value in BOUNCE_EVENT.items() if key not in fields}
        esp_event.update({key: value for key, value in fields.items() if value is not None})
        esp_event["event"] = event_type
        response = self.post_webhook(esp_event)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        return event.reject_reason

    def test_documented_errors(self):
        # As 6.1 normalized them
        cases = [
            ("recipient", "user unknown", "bounced"),
            ("recipient", "mailbox inactive", "bounced"),
            ("recipient", "quota exceeded", "bounced"),
            ("recipient", "blacklisted", "blocked"),
            ("recipient", "spam reporter", "spam"),
            ("domain", "invalid domain", "bounced"),
            ("domain", "no mail host", "bounced"),
            ("domain", "relay/access denied", "bounced"),
            ("domain", "greylisted", "other"),
            ("domain", "typofix", "invalid"),
            ("spam", "sender blocked", "blocked"),
            ("spam", "content blocked", "blocked"),
            ("spam", "policy issue", "blocked"),
            ("system", "system issue", "other"),
            ("system", "protocol issue", "other"),
            ("system", "connection issue", "other"),
            ("mailjet", "preblocked", "blocked"),
            ("mailjet", "duplicate in campaign", "other"),
        ]
        for event_type in ("bounce", "blocked"):
            for related_to, error, expected in cases:
                with self.subTest(event=event_type, error=error):
                    self.assertEqual(
                        self.reject_reason(
                            event_type, error_related_to=related_to, error=error, hard_bounce=True
                        ),
                        expected,
                    )

    def test_unknown_error_is_other(self):
        cases = [
            ("recipient", "some new recipient problem"),
            ("domain", "some new domain problem"),
            ("spam", "some new spam problem"),
            ("mailjet", "some new mailjet policy"),
            ("something-new", "whatever"),
            (None, "whatever"),
        ]
        for related_to, error in cases:
            with self.subTest(related_to=related_to, error=error):
                self.assertEqual(
                    self.reject_reason(error_related_to=related_to, error=error), "other"
                )

    def test_error_text_matches_case_insensitively(self):
        self.assertEqual(
            self.reject_reason(error_related_to="Domain", error="Invalid Domain"), "bounced"
        )
        self.assertEqual(
            self.reject_reason(error_related_to="spam", error="Policy Issue"), "blocked"
        )

    def test_no_error_info_is_no_reject_reason(self):
        self.assertIsNone(self.reject_reason(error_related_to="", error=""))
        esp_event = {
            key: value
            for key, value in BLOCKED_EVENT.items()
            if key not in ("error", "error_related_to")
        }
        self.tracking_handler.reset_mock()
        self.post_webhook(esp_event)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "rejected")
        self.assertIsNone(event.reject_reason)
        self.assertIsNone(event.description)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetTrackingErrorTests(MailjetWebhookTestCase):
    def assert_400(self, body: Any, expected_log: str | None = None) -> None:
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(body)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        if expected_log:
            self.assertIn(expected_log, logs.records[0].getMessage())

    def test_inbound_payload_posted_to_tracking_url(self):
        inbound_payload = {
            "Sender": "pilot@mailjet.com",
            "Recipient": "passenger@mailjet.com",
            "From": "Pilot <pilot@mailjet.com>",
            "Subject": "Hey! It's Friday!",
            "Headers": {"Subject": "Hey! It's Friday!"},
            "Parts": [{"Headers": {"Content-Type": "text/plain"}, "ContentRef": "Text-part"}],
            "Text-part": "Hi",
        }
        self.assert_400(inbound_payload, "Mailjet Parse API (inbound) payload")
        self.assert_400(inbound_payload, "anymail/mailjet/inbound/")

    def test_malformed_bodies(self):
        # Not an Event API payload at all: retrying can't help
        for body in (b"not json", b"\xff\xfe{}", "null", '"sent"', "42", "{bad json"):
            with self.subTest(body=body):
                self.assert_400(body)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetOddEventTests(MailjetWebhookTestCase):
    """An event Anymail can't normalize reaches receivers as "unknown", with its raw data,
    and costs neither the rest of its batch nor a retry loop (Mailjet retries non-200s)."""

    def assert_unknown_event(self, body: Any, esp_event: Any) -> AnymailTrackingEvent:
        response = self.post_webhook(body)
        self.assertEqual(response.status_code, 200)
        (event,) = self.tracking_events()
        self.assertEqual(event.event_type, "unknown")
        self.assertEqual(event.esp_event, esp_event)
        self.assertTrue(event.event_id)
        return event

    def test_event_without_type(self):
        esp_event = {key: value for key, value in SENT_EVENT.items() if key != "event"}
        self.assert_unknown_event(esp_event, esp_event)

    def test_wrong_field_types(self):
        for field, value in [
            ("event", 7),
            ("email", ["a@example.com"]),
            ("MessageID", {"id": 1}),
            ("MessageID", True),
            ("MessageID", 1.5),
            ("time", "soon"),
            ("time", [1433333949]),
            ("time", 1e300),
            ("Payload", {"already": "parsed"}),  # metadata JSON that isn't a string
            ("customcampaign", 12),
            ("smtp_reply", False),
        ]:
            with self.subTest(field=field, value=value):
                self.tracking_handler.reset_mock()
                esp_event = dict(SENT_EVENT, **{field: value})
                self.assert_unknown_event(esp_event, esp_event)
                self.tracking_handler.reset_mock()
                self.assert_unknown_event([esp_event], esp_event)

    def test_items_that_are_not_event_objects(self):
        for item in (1, ["nested"], None, "sent"):
            with self.subTest(item=item):
                self.tracking_handler.reset_mock()
                self.assert_unknown_event([item], item)

    def test_nan_timestamp(self):
        event = self.assert_unknown_event(
            '{"event": "sent", "time": NaN, "email": "a@example.com"}', mock.ANY
        )
        self.assertEqual(event.esp_event["email"], "a@example.com")

    def test_one_bad_event_among_many_costs_nothing(self):
        good_events = [
            dict(SENT_EVENT, MessageID=1000 + n, email=f"to{n}@example.com") for n in range(150)
        ]
        bad_event = dict(OPEN_EVENT, time="soon")
        batch = good_events[:75] + [bad_event] + good_events[75:]
        response = self.post_webhook(batch)
        self.assertEqual(response.status_code, 200)
        events = self.tracking_events()
        self.assertEqual([event.esp_event for event in events], batch)  # all, in order
        self.assertEqual(events[75].event_type, "unknown")
        others = events[:75] + events[76:]
        self.assertEqual({event.event_type for event in others}, {"delivered"})
        self.assertEqual(
            [event.recipient for event in others], [f"to{n}@example.com" for n in range(150)]
        )
        self.assertEqual(len({event.event_id for event in events}), 151)

    def test_a_bad_event_is_logged_with_its_data(self):
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            self.post_webhook([SENT_EVENT, dict(OPEN_EVENT, time="soon")])
        self.assertIn("'time': 'soon'", "\n".join(logs.output))


# ---------------------------------------------------------------------------------------------
# Property test: whatever Mailjet (or an attacker) posts, never a 5xx
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
    | st.text(max_size=12)
    | st.sampled_from(["1433333949", "", "0", "-1", "1e20", "2015-06-03T12:19:09Z"])
)
EVENT_KEYS = sorted({key for esp_event in ALL_SAMPLE_EVENTS for key in esp_event})


@st.composite
def mutated_event(draw: Any) -> Any:
    esp_event = dict(draw(st.sampled_from(ALL_SAMPLE_EVENTS)))
    for key in draw(st.lists(st.sampled_from(sorted(esp_event)), max_size=4)):
        esp_event.pop(key, None)  # dropped keys
    for key in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=3)):
        esp_event[key] = draw(json_values)  # wrong types
    if draw(st.booleans()):
        esp_event["time"] = draw(odd_times)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(json_values)  # not an event object at all
    return esp_event


@st.composite
def mutated_body(draw: Any) -> bytes:
    events = draw(st.lists(mutated_event(), max_size=4))
    payload = events if draw(st.booleans()) or not events else events[0]
    return draw(mangled_json_body(payload))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetTrackingPropertyTests(MailjetWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_body())
    def test_valid_auth_is_200_or_400_never_5xx(self, body):
        self.tracking_handler.reset_mock()
        response = self.post_webhook(body)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            # every event posted reaches receivers (as "unknown" if it can't be read)
            posted = json.loads(body)
            self.assertEqual(
                len(self.tracking_events()), len(posted) if isinstance(posted, list) else 1
            )
            for event in self.tracking_events():
                self.assertIsInstance(event, AnymailTrackingEvent)
                self.assertIsInstance(event.event_type, str)
                self.assertIsInstance(event.metadata, dict)
                if event.timestamp is not None:
                    self.assertIsNotNone(event.timestamp.tzinfo)
        else:
            self.tracking_handler.assert_not_called()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_body(),
        auth=st.one_of(
            st.none(),
            st.just(""),
            st.just("mj-user:wrong"),
            st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_before_parsing(self, body, auth):
        self.tracking_handler.reset_mock()
        with mock.patch.object(
            MailjetTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
