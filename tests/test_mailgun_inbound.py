"""Mailgun inbound: a route's forward() action, in "fully parsed" and "raw MIME" formats.

Fields are shaped as Mailgun's "Receiving Messages via HTTP through a forward() action" docs
describe them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from base64 import b64encode, encodebytes
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from unittest import mock

from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.test import Client, SimpleTestCase, override_settings
from django.test.client import encode_multipart
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound, tracking
from anymail.timestamps import timestamp_to_datetime
from anymail.webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView

from .fakes import quiet_webhook_logs

SIGNING_KEY = "whsec-mailgun-inbound-key-0123456789"
INBOUND_URL = "/anymail/mailgun/inbound/"
INBOUND_MIME_URL = "/anymail/mailgun/inbound_mime/"

urlpatterns = [
    path(
        "anymail/mailgun/inbound/",
        MailgunInboundWebhookView.as_view(),
        name="mailgun_inbound_webhook",
    ),
    path(
        "anymail/mailgun/inbound_mime/",
        MailgunInboundWebhookView.as_view(),
        name="mailgun_inbound_webhook_mime",
    ),
    path(
        "anymail/mailgun/tracking/",
        MailgunTrackingWebhookView.as_view(),
        name="mailgun_tracking_webhook",
    ),
]

TOKEN = "c0ffee0123456789c0ffee0123456789c0ffee0123456789ab"
TIMESTAMP = "1461261330"
TIMESTAMP_DT = datetime(2016, 4, 21, 17, 55, 30, tzinfo=timezone.utc)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image \xff\xfe\x00"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nfake pdf"
# These tests post fixed (2016) payloads, often with the same token: they turn off the replay
# checks, which test_mailgun_webhooks.MailgunReplayTests test (inbound calls included)
NO_REPLAY_CHECKS = {"MAILGUN_WEBHOOK_MAX_AGE": None}


def mailgun_signature(timestamp: str, token: str, key: str = SIGNING_KEY) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signature_fields(key: str = SIGNING_KEY) -> dict[str, str]:
    return {
        "timestamp": TIMESTAMP,
        "token": TOKEN,
        "signature": mailgun_signature(TIMESTAMP, TOKEN, key),
    }


MESSAGE_HEADERS = [
    ["X-Mailgun-Sflag", "Yes"],
    ["X-Mailgun-Sscore", "4.8"],
    ["X-Mailgun-Spf", "Pass"],
    [
        "Received",
        "from mail.example.org by mxa.mailgun.org with ESMTP; Thu, 21 Apr 2016 17:55:29 +0000",
    ],
    ["Date", "Thu, 21 Apr 2016 10:55:25 -0700"],
    ["From", "Rïch Sender <from@example.org>"],
    ["To", "Support <support@inbound.example.com>, other@example.com"],
    ["Cc", "cc@example.com"],
    ["Subject", "Re: Sample email ✓"],
    ["Message-Id", "<CAEPk3RKsi@mail.example.org>"],
    ["Mime-Version", "1.0"],
    # (Mailgun sends some header values parsed, as [value, {params}])
    ["Content-Type", ["multipart/mixed", {"boundary": "001a11c10b82fb2e"}]],
]


def fully_parsed_fields(**overrides: Any) -> dict[str, Any]:
    """A fully-parsed forward(), with an attachment and an inline image (so multipart)."""
    fields = {
        "recipient": "support@inbound.example.com",
        "sender": "envelope-from@example.org",
        "from": "Rïch Sender <from@example.org>",
        "subject": "Re: Sample email ✓",
        "body-plain": "Test body plain ✓\n\n> quoted reply\n",
        "stripped-text": "Test body plain ✓",
        "stripped-signature": "",
        "body-html": '<div>Test body html ✓ <img src="cid:ii_139db99fdb3c4a3b"></div>',
        "stripped-html": "<div>Test body html ✓</div>",
        "attachment-count": "2",
        "attachment-1": SimpleUploadedFile("Résumé 東京.pdf", PDF, "application/pdf"),
        "attachment-2": SimpleUploadedFile("image.png", PNG, "image/png"),
        "content-id-map": json.dumps({"<ii_139db99fdb3c4a3b>": "attachment-2"}),
        "message-headers": json.dumps(MESSAGE_HEADERS),
        # (Mailgun also posts each header as its own field)
        "Message-Id": "<CAEPk3RKsi@mail.example.org>",
        "X-Mailgun-Sflag": "Yes",
        **signature_fields(),
    }
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


RAW_MIME = f"""\
X-Mailgun-Sflag: No
X-Mailgun-Sscore: -0.1
Received: from mail.example.org by mxa.mailgun.org with ESMTP
Date: Thu, 21 Apr 2016 10:55:25 -0700
From: =?utf-8?q?R=C3=AFch_Sender?= <from@example.org>
To: support@inbound.example.com
Subject: =?utf-8?q?Raw_MIME_=E2=9C=93?=
Message-ID: <raw-mime-test@mail.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Raw body =E2=9C=93
--alt
Content-Type: text/html; charset="utf-8"

<p>Raw body <img src="cid:logo@example.org"></p>
--alt--
--related
Content-Type: image/png
Content-Disposition: inline; filename="logo.png"
Content-ID: <logo@example.org>
Content-Transfer-Encoding: base64

{b64encode(PNG).decode()}
--related--
--outer
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

{b64encode(PDF).decode()}
--outer--
"""


@override_settings(
    ROOT_URLCONF=__name__,
    ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, **NO_REPLAY_CHECKS},
)
class MailgunInboundTestCase(SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client()
        self.inbound_handler = mock.Mock(return_value=None)
        self.tracking_handler = mock.Mock(return_value=None)
        inbound.connect(self.inbound_handler, weak=False)
        tracking.connect(self.tracking_handler, weak=False)
        self.addCleanup(inbound.disconnect, self.inbound_handler)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        quiet_webhook_logs(self)

    def the_event(
        self, timestamp: Any = TIMESTAMP_DT, event_id: Any = TOKEN
    ) -> AnymailInboundEvent:
        self.assertEqual(self.inbound_handler.call_count, 1)
        kwargs = self.inbound_handler.call_args.kwargs
        self.assertEqual(kwargs["sender"], MailgunInboundWebhookView)
        self.assertEqual(kwargs["esp_name"], "Mailgun")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertEqual(event.timestamp, timestamp)
        self.assertEqual(event.event_id, event_id)
        self.assertIsInstance(event.esp_event, HttpRequest)
        self.assertIsInstance(event.message, AnymailInboundMessage)
        return event


class MailgunInboundFullyParsedTests(MailgunInboundTestCase):
    def test_fully_parsed_multipart(self):
        response = self.client.post(INBOUND_URL, fully_parsed_fields())  # multipart/form-data
        self.assertEqual(response.status_code, 200)
        event = self.the_event()
        message = event.message
        self.assertEqual(message.envelope_sender, "envelope-from@example.org")
        self.assertEqual(message.envelope_recipient, "support@inbound.example.com")
        self.assertEqual(
            (message.from_email.display_name, message.from_email.addr_spec),
            ("Rïch Sender", "from@example.org"),
        )
        self.assertEqual(
            [str(addr) for addr in message.to],
            ["Support <support@inbound.example.com>", "other@example.com"],
        )
        self.assertEqual([str(addr) for addr in message.cc], ["cc@example.com"])
        self.assertEqual(message.subject, "Re: Sample email ✓")
        self.assertEqual(message.date, parsedate_to_datetime("Thu, 21 Apr 2016 10:55:25 -0700"))
        self.assertEqual(message["Message-Id"], "<CAEPk3RKsi@mail.example.org>")
        self.assertEqual(message.text, "Test body plain ✓\n\n> quoted reply\n")
        self.assertEqual(
            message.html, '<div>Test body html ✓ <img src="cid:ii_139db99fdb3c4a3b"></div>'
        )
        self.assertEqual(message.stripped_text, "Test body plain ✓")
        self.assertEqual(message.stripped_html, "<div>Test body html ✓</div>")
        self.assertIs(message.spam_detected, True)
        self.assertEqual(message.spam_score, 4.8)

        [attachment] = message.attachments
        self.assertEqual(attachment.get_filename(), "Résumé 東京.pdf")
        self.assertEqual(attachment.get_content_type(), "application/pdf")
        self.assertEqual(attachment.get_content_bytes(), PDF)
        self.assertTrue(attachment.is_attachment())

        self.assertEqual(list(message.inline_attachments), ["ii_139db99fdb3c4a3b"])
        inline = message.inline_attachments["ii_139db99fdb3c4a3b"]
        self.assertEqual(inline.get_filename(), "image.png")
        self.assertEqual(inline.get_content_type(), "image/png")
        self.assertEqual(inline.get_content_bytes(), PNG)
        self.assertTrue(inline.is_inline_attachment())

        # the event's esp_event is the request, with Mailgun's raw fields
        self.assertEqual(event.esp_event.POST["attachment-count"], "2")

    def test_attachment_order_follows_field_numbers(self):
        fields = fully_parsed_fields(
            **{
                "attachment-count": "11",
                "attachment-2": SimpleUploadedFile("two.txt", b"2", "text/plain"),
                "attachment-10": SimpleUploadedFile("ten.txt", b"10", "text/plain"),
                "content-id-map": None,
            }
        )
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
        message = self.the_event().message
        self.assertEqual(
            [a.get_filename() for a in message.attachments],
            ["Résumé 東京.pdf", "two.txt", "ten.txt"],
        )
        self.assertEqual(message.inline_attachments, {})

    def test_rfc2231_encoded_attachment_filename(self):
        # Some senders (and urllib3 < 1.25) encode a non-ASCII filename as filename*=
        boundary = "BoUnDaRy"
        parts = [
            (f'name="{name}"', value.encode())
            for name, value in fully_parsed_fields(
                **{"attachment-1": None, "attachment-2": None, "content-id-map": None}
            ).items()
        ]
        parts.append(
            (
                "name=\"attachment-1\"; filename*=utf-8''na%C3%AFve%20file.txt\r\n"
                "Content-Type: text/plain; charset=utf-8",
                "naïve content".encode(),
            )
        )
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode()
                + content
                + b"\r\n"
                for disposition, content in parts
            )
            + f"--{boundary}--\r\n".encode()
        )
        response = self.client.generic(
            "POST", INBOUND_URL, data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
        self.assertEqual(response.status_code, 200)
        [attachment] = self.the_event().message.attachments
        self.assertEqual(attachment.get_filename(), "naïve file.txt")
        self.assertEqual(attachment.get_content_text(), "naïve content")

    def test_urlencoded_without_attachments(self):
        # Mailgun posts application/x-www-form-urlencoded when there are no attachments
        from urllib.parse import urlencode

        fields = fully_parsed_fields(
            **{
                "attachment-1": None,
                "attachment-2": None,
                "attachment-count": None,
                "content-id-map": None,
                "body-html": None,
                "stripped-html": None,
                "message-headers": json.dumps(
                    [h for h in MESSAGE_HEADERS if not h[0].startswith("X-Mailgun-S")]
                ),
            }
        )
        response = self.client.generic(
            "POST",
            INBOUND_URL,
            data=urlencode(fields),
            content_type="application/x-www-form-urlencoded",
        )
        self.assertEqual(response.status_code, 200)
        message = self.the_event().message
        self.assertEqual(message.text, "Test body plain ✓\n\n> quoted reply\n")
        self.assertIsNone(message.html)
        self.assertIsNone(message.stripped_html)
        self.assertEqual(message.attachments, [])
        # no spam headers: no spam info
        self.assertIsNone(message.spam_detected)
        self.assertIsNone(message.spam_score)

    def test_message_with_an_event_header_is_still_inbound(self):
        # Mailgun also posts each of the message's headers as a field: even one named "event"
        fields = fully_parsed_fields(event="custom header value")
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
        self.assertEqual(self.the_event().message.subject, "Re: Sample email ✓")

    def test_without_message_headers_uses_from_and_subject_fields(self):
        fields = fully_parsed_fields(**{"message-headers": None})
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
        message = self.the_event().message
        self.assertEqual(
            (message.from_email.display_name, message.from_email.addr_spec),
            ("Rïch Sender", "from@example.org"),
        )
        self.assertEqual(message.subject, "Re: Sample email ✓")

    def test_message_headers_mailgun_sends_parsed_or_odd(self):
        # A header that can't be made into text is skipped, rather than losing the message;
        # From and Subject then come from Mailgun's fields of those names
        headers = [
            ["Subject"],
            ["From", ["Not", "text"]],
            ["Content-Type", ["text/plain", {"charset": "utf-8"}]],
            ["X-Custom", ["value", {"param": 'a "quoted" value'}]],
            ["X-Number", 42],
            ["Cc", "cc@example.com"],
        ]
        fields = fully_parsed_fields(**{"message-headers": json.dumps(headers)})
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
        message = self.the_event().message
        self.assertEqual(message.subject, "Re: Sample email ✓")
        self.assertEqual(message.from_email.addr_spec, "from@example.org")
        self.assertEqual([addr.addr_spec for addr in message.cc], ["cc@example.com"])
        self.assertEqual(message["X-Custom"], 'value; param="a \\"quoted\\" value"')
        self.assertIsNone(message["X-Number"])
        # (the constructed message's own Content-Type describes its constructed body)
        self.assertEqual(message.get_content_type(), "multipart/mixed")

    def test_odd_spam_headers(self):
        cases = [
            (["X-Mailgun-Sflag", "no"], ["X-Mailgun-Sscore", " 12 "], False, 12.0),
            (["X-Mailgun-Sflag", "maybe"], ["X-Mailgun-Sscore", "nan"], None, None),
            (["X-Mailgun-Sflag", ""], ["X-Mailgun-Sscore", "lots"], None, None),
        ]
        for flag, score, spam_detected, spam_score in cases:
            with self.subTest(flag=flag, score=score):
                self.inbound_handler.reset_mock()
                headers = [flag, score] + MESSAGE_HEADERS[2:]
                fields = fully_parsed_fields(**{"message-headers": json.dumps(headers)})
                self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
                message = self.the_event().message
                self.assertEqual(message.spam_detected, spam_detected)
                self.assertEqual(message.spam_score, spam_score)

    def test_malformed_is_400(self):
        # 406 for a body Mailgun needn't retry; 400 for a signature that can't be checked
        cases = [
            ({"message-headers": "not json"}, 406),
            ({"message-headers": json.dumps({"Subject": "not a list"})}, 406),
            ({"content-id-map": "[1, 2]"}, 406),
            ({"timestamp": "yesterday", "signature": None}, 406),
            ({"body-plain": None, "message-headers": None, "recipient": None, "sender": None}, 406),
        ]
        for overrides, status in cases:
            with self.subTest(overrides=overrides):
                fields = fully_parsed_fields(**overrides)
                if overrides.get("timestamp"):
                    fields["signature"] = mailgun_signature(fields["timestamp"], TOKEN)
                self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, status)
        self.inbound_handler.assert_not_called()


class MailgunInboundRawMimeTests(MailgunInboundTestCase):
    def test_raw_mime(self):
        fields = {
            "recipient": "support@inbound.example.com",
            "sender": "envelope-from@example.org",
            "from": "Rïch Sender <from@example.org>",
            "subject": "Raw MIME ✓",
            "body-mime": RAW_MIME,
            **signature_fields(),
        }
        response = self.client.post(INBOUND_MIME_URL, fields)
        self.assertEqual(response.status_code, 200)
        message = self.the_event().message
        self.assertEqual(message.envelope_sender, "envelope-from@example.org")
        self.assertEqual(message.envelope_recipient, "support@inbound.example.com")
        self.assertEqual(
            (message.from_email.display_name, message.from_email.addr_spec),
            ("Rïch Sender", "from@example.org"),
        )
        self.assertEqual([str(addr) for addr in message.to], ["support@inbound.example.com"])
        self.assertEqual(message.subject, "Raw MIME ✓")
        self.assertEqual(message["Message-ID"], "<raw-mime-test@mail.example.org>")
        self.assertEqual(message.text, "Raw body ✓")
        self.assertEqual(message.html, '<p>Raw body <img src="cid:logo@example.org"></p>')
        self.assertIsNone(message.stripped_text)
        self.assertIs(message.spam_detected, False)
        self.assertEqual(message.spam_score, -0.1)
        [attachment] = message.attachments
        self.assertEqual(attachment.get_filename(), "Résumé.pdf")
        self.assertEqual(attachment.get_content_bytes(), PDF)
        self.assertEqual(list(message.inline_attachments), ["logo@example.org"])
        self.assertEqual(message.inline_attachments["logo@example.org"].get_content_bytes(), PNG)

    def test_raw_mime_as_uploaded_file(self):
        fields = {
            "recipient": "support@inbound.example.com",
            "sender": "envelope-from@example.org",
            "body-mime": SimpleUploadedFile("message.mime", RAW_MIME.encode(), "message/rfc822"),
            **signature_fields(),
        }
        self.assertEqual(self.client.post(INBOUND_MIME_URL, fields).status_code, 200)
        self.assertEqual(self.the_event().message.subject, "Raw MIME ✓")

    def test_raw_mime_at_fully_parsed_url_works_too(self):
        fields = {"recipient": "r@example.com", "body-mime": RAW_MIME, **signature_fields()}
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 200)
        self.assertEqual(self.the_event().message.envelope_recipient, "r@example.com")


class MailgunInboundSecurityTests(MailgunInboundTestCase):
    def test_bad_signature_is_400_without_parsing(self):
        fields = fully_parsed_fields(**signature_fields(key="wrong-key"))
        with mock.patch.object(MailgunInboundWebhookView, "parse_events") as parse_events:
            self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 400)
        parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()

    def test_missing_signature_is_400(self):
        fields = fully_parsed_fields(signature=None)
        self.assertEqual(self.client.post(INBOUND_URL, fields).status_code, 400)
        self.inbound_handler.assert_not_called()

    @override_settings(ANYMAIL={"MAILGUN_API_KEY": SIGNING_KEY, **NO_REPLAY_CHECKS})
    def test_api_key_fallback(self):
        self.assertEqual(self.client.post(INBOUND_URL, fully_parsed_fields()).status_code, 200)

    def test_tracking_payloads_at_inbound_url_say_so(self):
        # Changelog v5.0: a tracking webhook pointed at the inbound url gets a helpful error
        json_payload = {
            "signature": signature_fields(),
            "event-data": {"event": "delivered", "timestamp": 1521472262.9},
        }
        legacy_fields = {"event": "delivered", "recipient": "a@example.com", **signature_fields()}
        for kwargs in (
            {"data": json.dumps(json_payload), "content_type": "application/json"},
            {"data": legacy_fields},
        ):
            with self.subTest(kwargs=str(kwargs)[:40]):
                with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
                    response = self.client.post(INBOUND_URL, **kwargs)
                self.assertEqual(response.status_code, 406)
                self.assertIn(
                    "Mailgun's *tracking* webhook to Anymail's Mailgun *inbound* url",
                    logs.output[0],
                )
                self.assertIn("anymail/mailgun/tracking/", logs.output[0])
        self.inbound_handler.assert_not_called()
        self.tracking_handler.assert_not_called()


NOW = 1_700_000_000  # the replay tests' clock


def fresh_fields(token: str, timestamp: int = NOW, **overrides: Any) -> dict[str, Any]:
    """fully_parsed_fields() (new uploaded files each time), signed at timestamp."""
    return fully_parsed_fields(
        timestamp=str(timestamp),
        token=token,
        signature=mailgun_signature(str(timestamp), token),
        **overrides,
    )


@override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY})  # default replay checks
class MailgunInboundReplayTests(MailgunInboundTestCase):
    def setUp(self):
        super().setUp()
        caches["default"].clear()
        self.addCleanup(caches["default"].clear)
        self.now = NOW
        clock = mock.patch("anymail.webhooks.mailgun.current_time", side_effect=lambda: self.now)
        clock.start()
        self.addCleanup(clock.stop)
        self.inbound_handler.__qualname__ = "inbound_handler"  # (send_robust logs it)

    def post_multipart(self, fields: dict[str, Any], boundary: str = "BoUnDaRyStRiNg"):
        return self.client.generic(
            "POST",
            INBOUND_URL,
            encode_multipart(boundary, fields),
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    def test_inbound_token_is_refused_again(self):
        self.assertEqual(self.post_multipart(fresh_fields("inbound-1")).status_code, 200)
        self.assertEqual(self.post_multipart(fresh_fields("inbound-1")).status_code, 400)
        self.assertEqual(self.inbound_handler.call_count, 1)

    def test_stale_inbound_call_is_refused(self):
        response = self.post_multipart(fresh_fields("inbound-old", timestamp=NOW - 3600))
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()

    def test_receiver_error_is_503_and_mailguns_retry_is_accepted(self):
        self.inbound_handler.side_effect = RuntimeError("storage down")
        response = self.post_multipart(fresh_fields("inbound-retried"))
        self.assertEqual(response.status_code, 503)
        self.assertIn("Retry-After", response)
        # Mailgun retries routes after 10 and 15 minutes, ... with the same signature; a
        # retry's multipart encoding may differ, and another sender's content may not
        self.inbound_handler.side_effect = None
        self.now = NOW + 25 * 60
        tampered = fresh_fields(
            "inbound-retried",
            **{
                "attachment-1": SimpleUploadedFile(
                    "Résumé 東京.pdf", b"%PDF evil", "application/pdf"
                )
            },
        )
        self.assertEqual(self.post_multipart(tampered, boundary="other").status_code, 400)
        self.assertEqual(self.inbound_handler.call_count, 1)
        response = self.post_multipart(fresh_fields("inbound-retried"), boundary="retry-boundary")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.inbound_handler.call_count, 2)
        event = self.the_last_event()
        self.assertEqual(event.event_id, "inbound-retried")
        # (the replay check's look at the attachments left them whole for the receivers)
        self.assertEqual(event.message.attachments[0].get_content_bytes(), PDF)
        inline = event.message.inline_attachments["ii_139db99fdb3c4a3b"]
        self.assertEqual(inline.get_content_bytes(), PNG)
        self.assertEqual(self.post_multipart(fresh_fields("inbound-retried")).status_code, 400)

    def test_receiver_error_runs_the_other_receivers(self):
        other_receiver = mock.Mock(return_value=None)
        other_receiver.__qualname__ = "other_receiver"
        inbound.connect(other_receiver, weak=False)
        self.addCleanup(inbound.disconnect, other_receiver)
        self.inbound_handler.side_effect = RuntimeError("storage down")
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post_multipart(fresh_fields("inbound-two-receivers"))
        self.assertEqual(response.status_code, 503)
        self.assertEqual(other_receiver.call_count, 1)
        self.assertEqual(
            other_receiver.call_args.kwargs["event"].message.subject, "Re: Sample email ✓"
        )

    def the_last_event(self) -> AnymailInboundEvent:
        return self.inbound_handler.call_args.kwargs["event"]


property_settings = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

text_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "not json", "[]", "{}", '[["To"]]', "[[1, 2]]", "1e999", "\x00"]),
)


class MailgunInboundPropertyTests(MailgunInboundTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)

    @property_settings
    @given(
        drop=st.sets(st.sampled_from(sorted(fully_parsed_fields()))),
        replace=st.dictionaries(
            st.sampled_from(
                [
                    "message-headers",
                    "content-id-map",
                    "body-plain",
                    "body-html",
                    "from",
                    "subject",
                    "sender",
                    "recipient",
                    "timestamp",
                    "attachment-1",
                    "body-mime",
                ]
            ),  # fmt: skip
            text_values,
            max_size=4,
        ),
        attachment=st.tuples(
            # (any filename the test client can send; Django refuses path-like ones itself)
            st.text(min_size=1, max_size=20).filter(
                lambda name: name.strip(". ") and not set(name) & set("/\\\x00\r\n")
            ),
            st.binary(max_size=40),
            st.text(max_size=20),
        ),
        raw_mime=st.booleans(),
    )
    def test_mutated_inbound_payloads_are_200_or_400(self, drop, replace, attachment, raw_mime):
        fields = fully_parsed_fields()
        filename, content, content_type = attachment
        fields["attachment-3"] = SimpleUploadedFile(filename, content, content_type or None)
        for name in drop:
            fields.pop(name, None)
        fields.update(replace)
        if raw_mime and "body-mime" not in fields:
            fields["body-mime"] = RAW_MIME
        if isinstance(fields.get("timestamp"), str) and isinstance(fields.get("token"), str):
            fields["signature"] = mailgun_signature(fields["timestamp"], fields["token"])
        self.inbound_handler.reset_mock()
        response = self.client.post(INBOUND_URL, fields)
        self.assertIn(response.status_code, (200, 400, 406))
        if response.status_code == 200:
            message = self.the_event(
                timestamp=timestamp_to_datetime(fields["timestamp"]), event_id=fields["token"]
            ).message
            # all the documented conveniences work on whatever arrived
            _ = (message.text, message.html, message.subject, message.from_email, message.to)
            for part in message.attachments + list(message.inline_attachments.values()):
                part.get_content_bytes()
                part.get_filename()
        else:
            self.inbound_handler.assert_not_called()

    @property_settings
    @given(
        body=st.binary(max_size=300),
        content_type=st.sampled_from(
            [
                "multipart/form-data; boundary=b",
                "application/x-www-form-urlencoded",
                "application/json",
            ]
        ),
        valid_signature=st.booleans(),
    )
    def test_garbage_bodies_are_400_and_bad_signatures_never_parsed(
        self, body, content_type, valid_signature
    ):
        if valid_signature and content_type.startswith("multipart"):
            body = (
                b'--b\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n'
                + body
                + b"\r\n"
                + b"".join(
                    f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                    + f"{value}\r\n".encode()
                    for name, value in signature_fields().items()
                )
                + b"--b--\r\n"
            )
        with mock.patch.object(
            MailgunInboundWebhookView,
            "parse_events",
            autospec=True,
            side_effect=MailgunInboundWebhookView.parse_events,
        ) as parse_events:
            self.inbound_handler.reset_mock()
            response = self.client.generic(
                "POST", INBOUND_URL, data=body, content_type=content_type
            )
        self.assertIn(response.status_code, (200, 400))
        if not (valid_signature and content_type.startswith("multipart")):
            # no valid signature in the body: rejected before parsing
            self.assertEqual(response.status_code, 400)
            parse_events.assert_not_called()
            self.inbound_handler.assert_not_called()


BIG_DATA = random.Random(6).randbytes(300_000)
# RAW_MIME with a large base64 attachment added (far over SPILL_SIZE)
BIG_RAW_MIME = RAW_MIME.replace(
    "\n--outer--",
    "\n--outer\nContent-Type: application/zip; name=big.zip\n"
    "Content-Transfer-Encoding: base64\n\n" + encodebytes(BIG_DATA).decode() + "--outer--",
)


class MailgunInboundLargeMessageTests(MailgunInboundTestCase):
    """A large body-mime (or attachment) is read from, and decoded to, temporary files."""

    def read_during_signal(self, read, url: str, fields: dict[str, Any]):
        """read(event), called in a receiver (large content is readable until the response)."""
        results = []
        receiver = lambda sender, event, **kwargs: results.append(read(event))  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.assertEqual(self.client.post(url, fields).status_code, 200)
        (result,) = results
        return result

    def test_large_raw_mime(self):
        fields = {"recipient": "r@example.com", "body-mime": BIG_RAW_MIME, **signature_fields()}

        def read(event):
            message = event.message
            return (
                message.subject,
                [part.get_content_bytes() for part in message.attachments],
                message.as_bytes(),
                event.esp_event.POST["body-mime"] == BIG_RAW_MIME,
            )

        self.assertIn("--outer\nContent-Type: application/zip", BIG_RAW_MIME)
        self.assertEqual(
            self.read_during_signal(read, INBOUND_MIME_URL, fields),
            (
                "Raw MIME ✓",
                [PDF, BIG_DATA],
                AnymailInboundMessage.parse_raw_mime(BIG_RAW_MIME).as_bytes(),
                True,
            ),
        )

    def test_large_raw_mime_not_in_utf8_is_read_as_django_reads_it(self):
        # (Mailgun posts UTF-8, but the bytes are what they are: decoded as request.POST is)
        raw = BIG_RAW_MIME.encode().replace(b"<p>Raw body", b"<p>Raw b\xe9dy")
        body = encode_multipart("BoUnDaRy", {"recipient": "r@example.com", **signature_fields()})
        body = body.replace(
            b"--BoUnDaRy--",
            b'--BoUnDaRy\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n'
            + raw
            + b"\r\n--BoUnDaRy--",
        )
        results = []
        receiver = lambda sender, event, **kwargs: results.append(event.message.html)  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        response = self.client.generic(
            "POST", INBOUND_MIME_URL, body, content_type="multipart/form-data; boundary=BoUnDaRy"
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(results, ['<p>Raw b\ufffddy <img src="cid:logo@example.org"></p>'])

    def test_large_attachment_file(self):
        fields = fully_parsed_fields()
        fields["attachment-1"] = SimpleUploadedFile("big.zip", BIG_DATA, "application/zip")
        fields["attachment-count"] = "1"
        fields.pop("attachment-2", None)

        def read(event):
            return [
                (part.get_filename(), part.get_content_bytes())
                for part in event.message.attachments
            ]

        self.assertIn(("big.zip", BIG_DATA), self.read_during_signal(read, INBOUND_URL, fields))
