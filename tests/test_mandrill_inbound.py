"""Tests for Mandrill inbound events, which arrive at the same url as tracking events.

Payloads follow Mandrill's KB "Inbound Webhook Format": an "inbound" event whose msg carries the
complete raw MIME message (raw_msg), plus Mandrill's parsed fields, the address where Mandrill
received it (email), and a SpamAssassin spam_report.
"""

from __future__ import annotations

import copy
import json
from base64 import b64encode
from datetime import datetime, timezone
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.mandrill import MandrillCombinedWebhookView
from tests.test_mandrill_webhooks import (
    TRACKING_PATH,
    WEBHOOK_KEY,
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    MandrillWebhookTestCase,
    basic_auth_header,
    expected_signature,
    json_values,
    paths,
    send_event,
    urlpatterns,  # noqa: F401 (this module's ROOT_URLCONF)
)

PNG = b"\x89PNG\r\n\x1a\n fake image data"

RAW_MSG = (
    "Received: from mail-lf0-f44.google.com (mail-lf0-f44.google.com [209.85.215.44])\r\n"
    "\tby inbound.mandrillapp.com (Postfix) with ESMTPS id 3qGgJw2Zl5zN5Tj\r\n"
    "\tfor <inbound@inbound.example.com>; Fri, 1 Apr 2016 18:05:32 +0000 (UTC)\r\n"
    "MIME-Version: 1.0\r\n"
    "Date: Fri, 1 Apr 2016 11:05:30 -0700\r\n"
    "Message-ID: <CAEPk3R+4Zr@mail.example.org>\r\n"
    'From: "Sender, Test" <sender@example.org>\r\n'
    "To: Inbound <inbound@inbound.example.com>, other@example.com\r\n"
    "Cc: cc@example.com\r\n"
    "Subject: =?UTF-8?Q?Test_inbound_=E2=9C=93?=\r\n"
    'Content-Type: multipart/mixed; boundary="mixed-boundary"\r\n'
    "\r\n"
    "--mixed-boundary\r\n"
    'Content-Type: multipart/related; boundary="related-boundary"\r\n'
    "\r\n"
    "--related-boundary\r\n"
    'Content-Type: multipart/alternative; boundary="alt-boundary"\r\n'
    "\r\n"
    "--alt-boundary\r\n"
    'Content-Type: text/plain; charset="UTF-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "It's a body… with ünïcode\r\n"
    "\r\n"
    "--alt-boundary\r\n"
    'Content-Type: text/html; charset="UTF-8"\r\n'
    "\r\n"
    '<div>It\'s a body <img src="cid:ii_logo"></div>\r\n'
    "\r\n"
    "--alt-boundary--\r\n"
    "\r\n"
    "--related-boundary\r\n"
    'Content-Type: image/png; name="logo.png"\r\n'
    'Content-Disposition: inline; filename="logo.png"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <ii_logo>\r\n"
    "\r\n"
    f"{b64encode(PNG).decode('ascii')}\r\n"
    "--related-boundary--\r\n"
    "\r\n"
    "--mixed-boundary\r\n"
    'Content-Type: text/plain; charset="US-ASCII"; name="notes.txt"\r\n'
    'Content-Disposition: attachment; filename="notes.txt"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    f"{b64encode(b'Attached notes').decode('ascii')}\r\n"
    "--mixed-boundary--\r\n"
)


def inbound_event() -> dict[str, Any]:
    """An inbound event as Mandrill posts it (parsed fields abridged only where irrelevant)."""
    return {
        "event": "inbound",
        "ts": 1459533933,
        "msg": {
            "raw_msg": RAW_MSG,
            "headers": {
                "Received": "from mail-lf0-f44.google.com ...",
                "Mime-Version": "1.0",
                "Date": "Fri, 1 Apr 2016 11:05:30 -0700",
                "Message-Id": "<CAEPk3R+4Zr@mail.example.org>",
                "From": '"Sender, Test" <sender@example.org>',
                "To": "Inbound <inbound@inbound.example.com>, other@example.com",
                "Cc": "cc@example.com",
                "Subject": "Test inbound ✓",
                "Content-Type": 'multipart/mixed; boundary="mixed-boundary"',
            },
            "text": "It's a body… with ünïcode\n",
            "text_flowed": False,
            "html": '<div>It\'s a body <img src="cid:ii_logo"></div>\n',
            "from_email": "sender@example.org",
            "from_name": "Sender, Test",
            "to": [["inbound@inbound.example.com", "Inbound"], ["other@example.com", None]],
            "cc": [["cc@example.com", None]],
            "email": "inbound@inbound.example.com",
            "subject": "Test inbound ✓",
            "tags": [],
            "sender": None,
            "attachments": {
                "notes.txt": {
                    "name": "notes.txt",
                    "type": "text/plain",
                    "content": "Attached notes",
                    "base64": False,
                }
            },
            "images": {
                "ii_logo": {
                    "name": "ii_logo",
                    "type": "image/png",
                    "content": b64encode(PNG).decode("ascii"),
                }
            },
            "dkim": {"signed": True, "valid": True},
            "spf": {"result": "pass", "detail": "sender SPF authorized"},
            "spam_report": {
                "score": 1.7,
                "matched_rules": [
                    {"name": "HTML_MESSAGE", "score": 0, "description": "BODY: HTML included"},
                    {"name": "RDNS_NONE", "score": 1.7, "description": "Delivered without rDNS"},
                ],
            },
        },
    }


@override_settings(ROOT_URLCONF=__name__)
class MandrillInboundTests(MandrillWebhookTestCase):
    def only_inbound_event(self) -> AnymailInboundEvent:
        self.assertEqual(self.inbound_handler.call_count, 1)
        kwargs = self.inbound_handler.call_args.kwargs
        self.assertEqual(kwargs["esp_name"], "Mandrill")
        self.assertIs(kwargs["sender"], MandrillCombinedWebhookView)
        self.tracking_handler.assert_not_called()
        return kwargs["event"]

    def test_inbound_event(self):
        esp_event = inbound_event()
        response = self.post_events([esp_event])
        self.assertEqual(response.status_code, 200)
        event = self.only_inbound_event()
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertEqual(event.timestamp, datetime(2016, 4, 1, 18, 5, 33, tzinfo=timezone.utc))
        self.assertRegex(event.event_id, r"^anymail-[0-9a-f]+$")  # (see test_inbound_event_ids)
        self.assertEqual(event.esp_event, esp_event)

        message = event.message
        self.assertIsInstance(message, AnymailInboundMessage)
        self.assertEqual(str(message.from_email), '"Sender, Test" <sender@example.org>')
        self.assertEqual(message.from_email.addr_spec, "sender@example.org")
        self.assertEqual(
            [str(addr) for addr in message.to],
            ["Inbound <inbound@inbound.example.com>", "other@example.com"],
        )
        self.assertEqual([str(addr) for addr in message.cc], ["cc@example.com"])
        self.assertEqual(message.subject, "Test inbound ✓")
        self.assertEqual(message.date, datetime(2016, 4, 1, 18, 5, 30, tzinfo=timezone.utc))
        self.assertEqual(message["Message-ID"], "<CAEPk3R+4Zr@mail.example.org>")
        self.assertEqual(message.text, "It's a body… with ünïcode\r\n")
        self.assertEqual(message.html, '<div>It\'s a body <img src="cid:ii_logo"></div>\r\n')

        self.assertEqual(message.envelope_recipient, "inbound@inbound.example.com")
        self.assertIsNone(message.envelope_sender)  # Mandrill doesn't report one
        self.assertEqual(message.spam_score, 1.7)
        self.assertIsNone(message.spam_detected)
        self.assertIsNone(message.stripped_text)
        self.assertIsNone(message.stripped_html)

        attachments = message.attachments
        self.assertEqual(len(attachments), 1)
        self.assertEqual(attachments[0].get_filename(), "notes.txt")
        self.assertEqual(attachments[0].get_content_type(), "text/plain")
        self.assertEqual(attachments[0].get_content_bytes(), b"Attached notes")
        inline = message.inline_attachments
        self.assertEqual(list(inline), ["ii_logo"])
        self.assertEqual(inline["ii_logo"].get_content_type(), "image/png")
        self.assertEqual(inline["ii_logo"].get_content_bytes(), PNG)

    def test_inbound_at_the_older_tracking_url(self):
        # Docs: existing installs can put the .../tracking/ url on an inbound route
        response = self.post_events([inbound_event()], path=TRACKING_PATH)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.only_inbound_event().message.subject, "Test inbound ✓")

    def test_mixed_batch_routes_each_event_to_its_signal(self):
        esp_events = [send_event(), inbound_event(), send_event()]
        self.assertEqual(self.post_events(esp_events).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 2)
        self.assertEqual(self.inbound_handler.call_count, 1)
        self.assertEqual(self.inbound_handler.call_args.kwargs["event"].esp_event, esp_events[1])

    def test_integer_spam_score_and_no_spam_report(self):
        esp_event = inbound_event()
        esp_event["msg"]["spam_report"]["score"] = 5
        second = inbound_event()
        del second["msg"]["spam_report"]
        self.assertEqual(self.post_events([esp_event, second]).status_code, 200)
        events = [call.kwargs["event"] for call in self.inbound_handler.call_args_list]
        self.assertEqual(events[0].message.spam_score, 5.0)
        self.assertIsInstance(events[0].message.spam_score, float)
        self.assertIsNone(events[1].message.spam_score)

    def test_event_id_when_present(self):
        esp_event = inbound_event()
        esp_event["_id"] = "inbound-event-id"
        self.post_events([esp_event])
        self.assertEqual(self.only_inbound_event().event_id, "inbound-event-id")

    def test_missing_envelope_recipient(self):
        esp_event = inbound_event()
        del esp_event["msg"]["email"]
        self.post_events([esp_event])
        self.assertIsNone(self.only_inbound_event().message.envelope_recipient)

    def test_inbound_event_ids(self):
        # Mandrill's inbound events have no _id: each gets a stable one, the same whenever
        # Mandrill posts that event (in whatever batch), different for another message
        first, second = inbound_event(), inbound_event()
        second["msg"]["raw_msg"] = second["msg"]["raw_msg"].replace("CAEPk3R+4Zr@", "other@")
        self.assertEqual(self.post_events([first]).status_code, 200)
        self.assertEqual(self.post_events([send_event(), first, second]).status_code, 200)
        ids = [call.kwargs["event"].event_id for call in self.inbound_handler.call_args_list]
        self.assertEqual(len(ids), 3)
        self.assertRegex(ids[0], r"^anymail-[0-9a-f]+$")
        self.assertEqual(ids[1], ids[0])
        self.assertNotEqual(ids[2], ids[0])

    def test_receiver_error_is_503_and_mandrills_retry_is_handled(self):
        self.inbound_handler.side_effect = RuntimeError("storage down")
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post_events([inbound_event(), send_event()])
        self.assertEqual(response.status_code, 503)
        self.assertIn("Retry-After", response)
        self.assertEqual(self.tracking_handler.call_count, 1)  # the rest of the batch, too
        # Mandrill retries the same call (same signature): not refused as a replay
        self.inbound_handler.side_effect = None
        self.assertEqual(self.post_events([inbound_event(), send_event()]).status_code, 200)
        self.assertEqual(self.inbound_handler.call_count, 2)

    def test_unreadable_inbound_event_is_delivered_as_unknown(self):
        # (To tracking receivers, as an "unknown" event with Mandrill's raw data, and logged)
        mutations = [
            ("msg", None),
            ("msg", "raw"),
            ("raw_msg", None),
            ("raw_msg", ["not", "text"]),
            ("email", 12),
            ("spam_report", "high"),
            ("score", "lots"),
            ("score", True),
            ("ts", "2016-04-01"),
        ]
        for key, value in mutations:
            with self.subTest(key=key, value=value):
                self.tracking_handler.reset_mock()
                esp_event = inbound_event()
                if key in ("msg", "ts"):
                    esp_event[key] = value
                elif key == "score":
                    esp_event["msg"]["spam_report"]["score"] = value
                else:
                    esp_event["msg"][key] = value
                with self.assertLogs("anymail.webhooks", "WARNING") as logs:
                    response = self.post_events([esp_event, inbound_event()])
                self.assertEqual(response.status_code, 200)
                unknown = self.tracking_handler.call_args.kwargs["event"]
                self.assertEqual(unknown.event_type, "unknown")
                self.assertEqual(unknown.esp_event, esp_event)
                self.assertIn("inbound", logs.output[0])
                # the good one in the same batch is delivered
                inbound_event_ = self.inbound_handler.call_args.kwargs["event"]
                self.assertEqual(inbound_event_.message.subject, "Test inbound ✓")

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MANDRILL_WEBHOOK_KEY": WEBHOOK_KEY,
            "TRACKING_MAX_BODY_SIZE": 50_000,
            "INBOUND_MAX_BODY_SIZE": 500_000,
        }
    )
    def test_inbound_mail_gets_the_inbound_size_limit(self):
        # Mandrill's one url takes inbound mail too: a message over the tracking limit is mail
        # to accept (and over the inbound limit, a 413)
        big = inbound_event()
        big["msg"]["raw_msg"] = RAW_MSG.replace("It's a body", "A long body. " * 8_000)
        self.assertEqual(self.post_events([big]).status_code, 200)
        self.assertGreater(len(self.only_inbound_event().message.text), 100_000)
        huge = inbound_event()
        huge["msg"]["raw_msg"] = RAW_MSG.replace("It's a body", "A long body. " * 80_000)
        self.assertEqual(self.post_events([huge]).status_code, 413)
        self.assertEqual(self.inbound_handler.call_count, 1)

    def test_inbound_needs_the_signature_too(self):
        response = self.post_events([inbound_event()], key="wrong-key")
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()

    def test_garbled_raw_message_still_parses(self):
        esp_event = inbound_event()
        esp_event["msg"]["raw_msg"] = (
            "Subject: =?bogus?Q?x?=\r\nFrom: not an address\r\n\r\n\udcff body"
        )
        self.assertEqual(self.post_events([esp_event]).status_code, 200)
        message = self.only_inbound_event().message
        self.assertIsNone(message.from_email)
        self.assertEqual(message.envelope_recipient, "inbound@inbound.example.com")

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_mutated_inbound_payloads_are_200_or_400(self, data):
        esp_event = copy.deepcopy(inbound_event())
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            target = data.draw(st.sampled_from(paths(esp_event)[1:]))
            parent = esp_event
            for step in target[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                del parent[target[-1]]
            elif target[-1] == "raw_msg":
                parent["raw_msg"] = data.draw(st.text(max_size=300))
            else:
                parent[target[-1]] = data.draw(json_values)
        self.inbound_handler.reset_mock()
        self.forget_handled_calls()  # (examples may repeat a payload)
        response = self.post_events([esp_event])
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 400:
            self.inbound_handler.assert_not_called()

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(signature=st.text(max_size=40))
    def test_bad_signature_never_reaches_the_inbound_parser(self, signature):
        params = {"mandrill_events": json.dumps([inbound_event()])}
        url = f"http://{WEBHOOK_SECRET}@testserver{WEBHOOK_PATH}"
        if signature == expected_signature(WEBHOOK_KEY, url, params):
            signature += "x"
        with mock.patch.object(MandrillCombinedWebhookView, "inbound_event") as parse:
            try:
                response = self.client.post(
                    WEBHOOK_PATH,
                    urlencode(params),
                    content_type="application/x-www-form-urlencoded",
                    HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
                    HTTP_X_MANDRILL_SIGNATURE=signature,
                )
            except ValueError:
                return  # the test client refuses some header values (e.g. newlines)
        self.assertEqual(response.status_code, 400)
        parse.assert_not_called()
        self.inbound_handler.assert_not_called()
