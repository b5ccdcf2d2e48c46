"""Postmark inbound webhook: Postmark's parsed-message JSON becomes an AnymailInboundMessage.

The payload is shaped as Postmark's inbound webhook docs show it
(https://postmarkapp.com/developer/webhooks/inbound-webhook).
"""

from __future__ import annotations

import copy
import json
import os
import random
from base64 import b64encode, encodebytes
from typing import Any
from unittest import mock

from django.test import SimpleTestCase, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.streaming import SpilledString
from anymail.webhooks.postmark import PostmarkInboundWebhookView

from .fakes import EVENT_ID_DIGEST, basic_auth_header, mock_receiver, quiet_webhook_logs
from .test_postmark_webhooks import DELIVERY, WEBHOOK_SECRET

INBOUND_URL = "/anymail/postmark/inbound/"
URLCONF = "tests.test_postmark_webhooks"  # mounts both Postmark views at their documented urls

PNG_CONTENT = b"\x89PNG\r\n\x1a\n pretend this is a png"
HTML_BODY = '<html><body><p>Test html body.</p><img src="cid:logo@example"></body></html>'
TEXT_ATTACHMENT = "This is attachment contents, base-64 encoded.\n"
# The Received-SPF header Postmark adds to inbound mail (as in its "Parse an email" example)
RECEIVED_SPF = (
    "Pass (sender SPF authorized) identity=mailfrom; client-ip=209.85.160.180; "
    "helo=mail-gy0-f180.google.com; envelope-from=bounces+abc@postmarkapp.com; "
    "receiver=yourhash+SampleHash@inbound.postmarkapp.com"
)


def inbound_payload() -> dict[str, Any]:
    """Postmark's documented example inbound JSON, with an inline image added."""
    return {
        "FromName": "Postmarkapp Support",
        "MessageStream": "inbound",
        "From": "support@postmarkapp.com",
        "FromFull": {
            "Email": "support@postmarkapp.com",
            "Name": "Postmarkapp Support",
            "MailboxHash": "",
        },
        "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
        "ToFull": [
            {
                "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
                "Name": "Firstname Lastname",
                "MailboxHash": "SampleHash",
            }
        ],
        "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com',
        "CcFull": [
            {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
            {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
        ],
        "Bcc": '"First Bcc" <firstbcc@postmarkapp.com>',
        "BccFull": [{"Email": "firstbcc@postmarkapp.com", "Name": "First Bcc", "MailboxHash": ""}],
        "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
        "Subject": "Test subject",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "replyto@postmarkapp.com",
        "MailboxHash": "SampleHash",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "TextBody": "This is a test text body.",
        "HtmlBody": HTML_BODY,
        "StrippedTextReply": "This is the reply text",
        "Tag": "TestTag",
        "Headers": [
            # (the sender wrote Return-Path; Postmark's own Received-SPF has the envelope)
            {"Name": "Return-Path", "Value": "<written-by-sender@example.com>"},
            {"Name": "X-Header-Test", "Value": ""},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "-0.1"},
            {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_PASS"},
            {"Name": "Message-ID", "Value": "<CAF8=abc123@mail.gmail.com>"},
            {"Name": "Received", "Value": "by 10.0.0.1 with SMTP id abc; Fri, 1 Aug 2014"},
            {"Name": "Received", "Value": "from mail.example.com by mx.postmarkapp.com"},
            {"Name": "Received-SPF", "Value": RECEIVED_SPF},
        ],
        "Attachments": [
            {
                "Name": "test.txt",
                "Content": b64encode(TEXT_ATTACHMENT.encode()).decode("ascii"),
                "ContentType": "text/plain",
                "ContentLength": len(TEXT_ATTACHMENT),
                "ContentID": "",
            },
            {
                "Name": "logo.png",
                "Content": b64encode(PNG_CONTENT).decode("ascii"),
                "ContentType": "image/png",
                "ContentLength": len(PNG_CONTENT),
                "ContentID": "logo@example",
            },
        ],
    }


@override_settings(ROOT_URLCONF=URLCONF, ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class PostmarkInboundTestCase(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        quiet_webhook_logs(self)
        self.handler = mock_receiver("handler")
        inbound.connect(self.handler)
        self.addCleanup(inbound.disconnect, self.handler)

    def post(self, payload: Any, authorization: str | None = None, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        return self.client.generic(
            "POST",
            INBOUND_URL,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=authorization
            if authorization is not None
            else basic_auth_header(WEBHOOK_SECRET),
        )

    def post_inbound(self, payload: dict[str, Any]) -> AnymailInboundEvent:
        response = self.post(payload)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.handler.call_count, 1)
        kwargs = self.handler.call_args.kwargs
        self.assertEqual(kwargs["sender"], PostmarkInboundWebhookView)
        self.assertEqual(kwargs["esp_name"], "Postmark")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.esp_event, payload)
        self.assertIsInstance(event.message, AnymailInboundMessage)
        return event


class PostmarkInboundTests(PostmarkInboundTestCase):
    def test_inbound_basics(self) -> None:
        event = self.post_inbound(inbound_payload())
        self.assertEqual(event.event_type, "inbound")
        self.assertIsNone(event.timestamp)  # Postmark gives only the message's own Date
        self.assertEqual(event.event_id, "73e6d360-66eb-11e1-8e72-a8904824019b")

        message = event.message
        self.assertEqual(str(message.from_email), "Postmarkapp Support <support@postmarkapp.com>")
        self.assertEqual(
            [str(address) for address in message.to],
            ["Firstname Lastname <yourhash+SampleHash@inbound.postmarkapp.com>"],
        )
        self.assertEqual(
            [str(address) for address in message.cc],
            ["First Cc <firstcc@postmarkapp.com>", "secondCc@postmarkapp.com"],
        )
        self.assertEqual(message.subject, "Test subject")
        self.assertEqual(message.date.isoformat(), "2014-08-01T16:45:32-04:00")
        self.assertEqual(message["Reply-To"], "replyto@postmarkapp.com")
        self.assertEqual(message["Message-ID"], "<CAF8=abc123@mail.gmail.com>")
        self.assertEqual(message["X-Header-Test"], "")
        self.assertEqual(len(message.get_all("Received")), 2)
        self.assertIsNone(message["Bcc"])  # (received mail doesn't show Bcc)

        self.assertEqual(message.text, "This is a test text body.")
        self.assertEqual(
            message.html,
            HTML_BODY,
        )

        # The envelope-from of Postmark's Received-SPF header (not the Return-Path header)
        self.assertEqual(message.envelope_sender, "bounces+abc@postmarkapp.com")
        self.assertEqual(message["Return-Path"], "<written-by-sender@example.com>")
        self.assertEqual(message.envelope_recipient, "yourhash+SampleHash@inbound.postmarkapp.com")
        self.assertEqual(message.stripped_text, "This is the reply text")
        self.assertIsNone(message.stripped_html)
        self.assertEqual(message.spam_score, -0.1)
        self.assertIs(message.spam_detected, False)

    def test_attachments(self) -> None:
        message = self.post_inbound(inbound_payload()).message
        attachments = message.attachments
        self.assertEqual(len(attachments), 1)
        self.assertEqual(attachments[0].get_filename(), "test.txt")
        self.assertEqual(attachments[0].get_content_type(), "text/plain")
        self.assertEqual(attachments[0].get_content_text(), TEXT_ATTACHMENT)
        self.assertTrue(attachments[0].is_attachment())

        inlines = message.inline_attachments
        self.assertEqual(list(inlines), ["logo@example"])
        logo = inlines["logo@example"]
        self.assertEqual(logo.get_filename(), "logo.png")
        self.assertEqual(logo.get_content_type(), "image/png")
        self.assertEqual(logo.get_content_bytes(), PNG_CONTENT)
        self.assertTrue(logo.is_inline_attachment())

    def test_spam_detected(self) -> None:
        payload = inbound_payload()
        payload["Headers"] = [
            {"Name": "X-Spam-Status", "Value": "Yes, score=6.8 required=5.0 tests=BAYES_99"},
            {"Name": "X-Spam-Score", "Value": "6.8"},
        ]
        message = self.post_inbound(payload).message
        self.assertIs(message.spam_detected, True)
        self.assertEqual(message.spam_score, 6.8)
        self.assertIsNone(message.envelope_sender)  # no Received-SPF header

    def test_no_spam_headers(self) -> None:
        payload = inbound_payload()
        payload["Headers"] = [{"Name": "X-Spam-Score", "Value": "not a number"}]
        message = self.post_inbound(payload).message
        self.assertIsNone(message.spam_score)
        self.assertIsNone(message.spam_detected)

    def envelope_sender_for(self, headers: list[dict[str, str]]) -> str | None:
        payload = inbound_payload()
        payload["Headers"] = headers
        self.handler.reset_mock()
        return self.post_inbound(payload).message.envelope_sender

    def test_envelope_sender_needs_a_passing_received_spf(self) -> None:
        spf = "Received-SPF"
        neutral = RECEIVED_SPF.replace("Pass (sender SPF authorized)", "Neutral (no opinion)")
        cases = [
            # Only Return-Path (which the sender wrote): no envelope sender
            ([{"Name": "Return-Path", "Value": "<bounces+abc@postmarkapp.com>"}], None),
            ([{"Name": "received-spf", "Value": RECEIVED_SPF}], "bounces+abc@postmarkapp.com"),
            ([{"Name": spf, "Value": neutral}], "bounces+abc@postmarkapp.com"),
            ([{"Name": spf, "Value": "pass envelope-from=a@example.com"}], "a@example.com"),
            # Any other SPF result
            ([{"Name": spf, "Value": RECEIVED_SPF.replace("Pass", "Fail")}], None),
            ([{"Name": spf, "Value": RECEIVED_SPF.replace("Pass", "SoftFail")}], None),
            ([{"Name": spf, "Value": RECEIVED_SPF.replace("Pass", "None")}], None),
            ([{"Name": spf, "Value": RECEIVED_SPF.replace("Pass", "TempError")}], None),
            ([{"Name": spf, "Value": RECEIVED_SPF.replace("Pass", "Passed")}], None),
            # Two Received-SPF headers: one arrived with the message, and could say anything
            (
                [
                    {"Name": spf, "Value": RECEIVED_SPF},
                    {"Name": spf, "Value": "pass envelope-from=forged@example.com"},
                ],
                None,
            ),
            # No envelope-from (or the null sender of a bounce)
            ([{"Name": spf, "Value": "Pass (sender SPF authorized) identity=helo"}], None),
            ([{"Name": spf, "Value": "Pass"}], None),
            ([{"Name": spf, "Value": ""}], None),
            ([{"Name": spf, "Value": "pass envelope-from=<>; helo=x.example.com"}], None),
        ]
        for headers, expected in cases:
            with self.subTest(headers=headers):
                self.assertEqual(self.envelope_sender_for(headers), expected)

    def test_received_spf_param_forms(self) -> None:
        # RFC 7208 section 9.1: a quoted-string value, and a comment that isn't a param
        header = {
            "Name": "Received-SPF",
            "Value": 'pass (mx.example: domain of "envelope-from=nope@example.com" '
            "(as it says) designates 192.0.2.1) receiver=mx.example; client-ip=192.0.2.1;"
            ' envelope-from="first.last@example.com"; helo=foo.example.com;',
        }
        self.assertEqual(self.envelope_sender_for([header]), "first.last@example.com")

    def test_minimal_payload(self) -> None:
        payload = {
            "From": "sender@example.com",
            "FromFull": {"Email": "sender@example.com", "Name": "", "MailboxHash": ""},
            "To": "inbound@example.com",
            "ToFull": [{"Email": "inbound@example.com", "Name": "", "MailboxHash": ""}],
            "CcFull": [],
            "Subject": "",
            "MessageID": "minimal-id",
            "TextBody": "",
            "HtmlBody": "",
            "StrippedTextReply": "",
            "Headers": [],
            "Attachments": [],
        }
        event = self.post_inbound(payload)
        message = event.message
        self.assertEqual(str(message.from_email), "sender@example.com")
        self.assertEqual([str(a) for a in message.to], ["inbound@example.com"])
        self.assertEqual(message.cc, [])
        self.assertIsNone(message.subject)
        self.assertIsNone(message.text)
        self.assertIsNone(message.html)
        self.assertEqual(message.attachments, [])
        self.assertIsNone(message.stripped_text)
        self.assertIsNone(message.envelope_recipient)
        self.assertIsNone(message.spam_score)
        self.assertEqual(event.event_id, "minimal-id")

    def test_unicode_and_date_header_precedence(self) -> None:
        payload = inbound_payload()
        payload["Subject"] = "Grüße — 你好"
        payload["FromFull"]["Name"] = "Søren, Ltd."
        payload["TextBody"] = "Ünïcode body ✓"
        payload["Headers"].append({"Name": "Date", "Value": "Sat, 2 Aug 2014 10:00:00 +0000"})
        message = self.post_inbound(payload).message
        self.assertEqual(message.subject, "Grüße — 你好")
        self.assertEqual(message.from_email.display_name, "Søren, Ltd.")
        self.assertEqual(message.from_email.addr_spec, "support@postmarkapp.com")
        self.assertEqual(message.text, "Ünïcode body ✓")
        # The Headers list's own Date wins over the top-level field
        self.assertEqual(message.date.isoformat(), "2014-08-02T10:00:00+00:00")

    def test_raw_email(self) -> None:
        # Postmark's "include raw email content in JSON payload" option
        raw = (
            "Return-Path: <raw-bounces@example.com>\r\n"
            "From: Raw Sender <raw@example.com>\r\n"
            "To: inbound@example.com\r\n"
            "Subject: From the raw message\r\n"
            "Message-ID: <raw-1@example.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "Raw body ✓\r\n"
        )
        payload = {**inbound_payload(), "RawEmail": raw}
        payload["Headers"] = [
            {"Name": "Return-Path", "Value": "<raw-bounces@example.com>"},
            {
                "Name": "Received-SPF",
                "Value": "Pass identity=mailfrom; envelope-from=raw-envelope@example.com",
            },
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "1.5"},
        ]
        message = self.post_inbound(payload).message
        self.assertEqual(str(message.from_email), "Raw Sender <raw@example.com>")
        self.assertEqual(message.subject, "From the raw message")
        self.assertEqual(message.text, "Raw body ✓\r\n")
        self.assertEqual(message.envelope_sender, "raw-envelope@example.com")
        self.assertEqual(message.envelope_recipient, "yourhash+SampleHash@inbound.postmarkapp.com")
        self.assertEqual(message.spam_score, 1.5)
        self.assertIs(message.spam_detected, False)
        self.assertEqual(message.stripped_text, "This is the reply text")

    def test_raw_email_without_headers_list(self) -> None:
        raw = (
            "Return-Path: <only-in-raw@example.com>\r\n"
            "Received-SPF: Neutral (no policy) envelope-from=spf-in-raw@example.com\r\n"
            "X-Spam-Status: Yes, score=9.1\r\n"
            "X-Spam-Score: 9.1\r\n"
            "From: raw@example.com\r\n"
            "Subject: Raw\r\n"
            "\r\n"
            "Body\r\n"
        )
        payload = {**inbound_payload(), "RawEmail": raw, "Headers": []}
        message = self.post_inbound(payload).message
        self.assertEqual(message.envelope_sender, "spf-in-raw@example.com")
        self.assertEqual(message.spam_score, 9.1)
        self.assertIs(message.spam_detected, True)

    def test_non_finite_spam_score(self) -> None:
        payload = inbound_payload()
        payload["Headers"] = [{"Name": "X-Spam-Score", "Value": "NaN"}]
        self.assertIsNone(self.post_inbound(payload).message.spam_score)

    def test_tracking_payload_posted_to_inbound_url(self) -> None:
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post(DELIVERY)
        self.assertEqual(response.status_code, 400)
        self.handler.assert_not_called()
        self.assertIn(
            "*tracking* webhook to Anymail's Postmark *inbound* webhook URL", logs.output[0]
        )

    def test_bad_basic_auth(self) -> None:
        for authorization in ("", basic_auth_header("username:wrong")):
            with self.subTest(authorization=authorization):
                self.assertEqual(self.post(inbound_payload(), authorization).status_code, 400)
        self.handler.assert_not_called()

    def test_malformed_bodies(self) -> None:
        bad_attachment = inbound_payload()
        bad_attachment["Attachments"][0]["Content"] = "not base64!"
        bodies = [
            b"",
            b"{",
            b"[]",
            json.dumps({"Unrelated": "object"}).encode(),
            json.dumps({**inbound_payload(), "ToFull": "to@example.com"}).encode(),
            json.dumps({**inbound_payload(), "FromFull": ["not", "a", "dict"]}).encode(),
            json.dumps({**inbound_payload(), "Headers": {"Name": "X", "Value": "y"}}).encode(),
            json.dumps({**inbound_payload(), "Headers": [{"Name": 1, "Value": "y"}]}).encode(),
            json.dumps({**inbound_payload(), "Attachments": ["not an object"]}).encode(),
            json.dumps({**inbound_payload(), "Subject": 42}).encode(),
            json.dumps(bad_attachment).encode(),
        ]
        for body in bodies:
            with self.subTest(body=body[:60]), self.assertLogs("anymail.webhooks", "WARNING"):
                self.assertEqual(self.post(None, raw=body).status_code, 400)
        self.handler.assert_not_called()

    def test_receiver_error_is_503_after_every_receiver(self) -> None:
        # Postmark retries an inbound post that doesn't get a 200 (10 times over about 10.5
        # hours), except after a 403; a receiver's error that may be temporary is a 503
        other_receiver = mock_receiver("other_receiver")
        inbound.connect(other_receiver)
        self.addCleanup(inbound.disconnect, other_receiver)
        self.handler.side_effect = RuntimeError("database down")
        with self.assertLogs("anymail.webhooks", "ERROR"):
            response = self.post(inbound_payload())
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.has_header("Retry-After"))
        self.assertEqual(other_receiver.call_args.kwargs["event"].message.subject, "Test subject")

    def test_event_id_without_message_id_is_stable(self) -> None:
        payload = inbound_payload()
        del payload["MessageID"]
        other = {**payload, "Subject": "Another message"}
        ids = []
        for body in (payload, payload, other):  # (the second: Postmark retrying)
            self.handler.reset_mock()
            ids.append(self.post_inbound(body).event_id)
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[1], ids[0])
        self.assertNotEqual(ids[2], ids[0])

    def test_odd_header_names_skipped(self) -> None:
        payload = inbound_payload()
        payload["Headers"].append({"Name": "Bad Header: Name", "Value": "x"})
        payload["Headers"].append({"Name": "X-Multi", "Value": "line1\r\nInjected: yes"})
        message = self.post_inbound(payload).message
        self.assertIsNone(message["Bad Header"])
        self.assertIsNone(message["Injected"])  # (construct() unfolds header values)
        self.assertEqual(message["X-Multi"], "line1 Injected: yes")


# Property tests


def _inbound_mutations() -> st.SearchStrategy:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=5,
    )
    keys = st.sampled_from(
        [
            "FromFull",
            "ToFull",
            "CcFull",
            "From",
            "To",
            "Subject",
            "Date",
            "ReplyTo",
            "TextBody",
            "HtmlBody",
            "StrippedTextReply",
            "OriginalRecipient",
            "Headers",
            "Attachments",
            "MessageID",
            "RawEmail",
            "RecordType",
        ]
    )
    return st.tuples(
        st.lists(st.tuples(st.sampled_from(["drop", "set"]), keys, json_values), max_size=4),
        st.lists(  # nested mutations: attachments and headers
            st.tuples(
                st.sampled_from(["Attachments", "Headers"]),
                st.sampled_from(["Name", "Value", "Content", "ContentType", "ContentID"]),
                json_values,
            ),
            max_size=3,
        ),
        st.sampled_from(["utf-8", "latin-1", "utf-16", "truncate"]),
    )


def _mutated_inbound_body(mutation: tuple) -> bytes:
    top_level, nested, encoding = mutation
    payload = copy.deepcopy(inbound_payload())
    for action, key, value in top_level:
        if action == "drop":
            payload.pop(key, None)
        else:
            payload[key] = value
    for list_key, field, value in nested:
        items = payload.get(list_key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            items[0][field] = value
    text = json.dumps(payload, ensure_ascii=False)
    if encoding == "truncate":
        return text.encode("utf-8")[: len(text) // 2]
    return text.encode(encoding, errors="replace")


property_settings = settings(max_examples=100, deadline=None, database=None)


@override_settings(ROOT_URLCONF=URLCONF, ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class PostmarkInboundPropertyTests(SimpleTestCase):
    def setUp(self) -> None:
        super().setUp()
        quiet_webhook_logs(self)

    @property_settings
    @given(mutation=_inbound_mutations())
    def test_mutated_payloads_are_200_or_400(self, mutation: tuple) -> None:
        # (never a 5xx: Postmark would retry a malformed message for hours)
        handler = mock_receiver("handler")
        inbound.connect(handler)
        try:
            response = self.client.generic(
                "POST",
                INBOUND_URL,
                _mutated_inbound_body(mutation),
                content_type="application/json",
                HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            )
        finally:
            inbound.disconnect(handler)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            self.assertEqual(handler.call_count, 1)
            message = handler.call_args.kwargs["event"].message
            # the normalized properties never raise, whatever arrived
            for attr in ("from_email", "to", "cc", "subject", "date", "text", "html"):
                getattr(message, attr)
            for attachment in message.attachments:
                attachment.get_content_bytes()
        else:
            handler.assert_not_called()

    @property_settings
    @given(
        mutation=_inbound_mutations(),
        authorization=st.one_of(
            st.just(""),
            st.text(max_size=40),
            st.builds(basic_auth_header, st.text(max_size=30)),
        ).filter(lambda authorization: authorization != basic_auth_header(WEBHOOK_SECRET)),
    )
    def test_bad_auth_always_400_without_parsing(self, mutation: tuple, authorization: str) -> None:
        handler = mock_receiver("handler")
        inbound.connect(handler)
        try:
            with mock.patch.object(
                PostmarkInboundWebhookView, "parse_events", autospec=True
            ) as parse_events:
                response = self.client.generic(
                    "POST",
                    INBOUND_URL,
                    _mutated_inbound_body(mutation),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=authorization,
                )
        finally:
            inbound.disconnect(handler)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        handler.assert_not_called()


def open_file_count() -> int | None:
    """How many file descriptors this process has open (None where that can't be told)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class PostmarkInboundLargeMessageTests(PostmarkInboundTestCase):
    """Long strings (a large attachment's base64) are read from, and decoded to, files."""

    def setUp(self) -> None:
        super().setUp()
        self.data = random.Random(2).randbytes(400_000)  # (base64 far over SPILL_SIZE)
        self.payload = inbound_payload()
        self.payload["Attachments"] = [
            {
                "Name": "big.zip",
                "Content": b64encode(self.data).decode("ascii"),
                "ContentType": "application/zip",
                "ContentLength": len(self.data),
            }
        ]

    def read_during_signal(self, payload: dict[str, Any], read) -> Any:
        """read(event), called in a receiver (large content is readable until the response)."""
        results = []
        receiver = lambda sender, event, **kwargs: results.append(read(event))  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.assertEqual(self.post(payload).status_code, 200)
        (result,) = results
        return result

    def test_large_attachment(self) -> None:
        def read(event):
            (attachment,) = event.message.attachments
            content = event.esp_event["Attachments"][0]["Content"]
            return (
                attachment.get_content_bytes(),
                attachment.get_filename(),
                attachment.get_content_type(),
                type(content),  # (still in its file...)
                event.esp_event == self.payload,  # (...and equal to what was posted)
            )

        self.assertEqual(
            self.read_during_signal(self.payload, read),
            (self.data, "big.zip", "application/zip", SpilledString, True),
        )

    def test_large_raw_email(self) -> None:
        raw = (
            "From: a@example.com\nSubject: Big raw\nContent-Type: multipart/mixed; boundary=b\n\n"
            "--b\nContent-Type: text/plain\n\nCafé\n--b\nContent-Type: application/zip\n"
            "Content-Transfer-Encoding: base64\n\n" + encodebytes(self.data).decode() + "--b--\n"
        )

        def read(event):
            message = event.message
            return (
                message.subject,
                message.text,
                message.attachments[0].get_content_bytes(),
                message.as_string(),
            )

        self.assertEqual(
            self.read_during_signal({**inbound_payload(), "RawEmail": raw}, read),
            ("Big raw", "Café", self.data, AnymailInboundMessage.parse_raw_mime(raw).as_string()),
        )

    def test_attachment_readable_during_the_signal_and_closed_after(self) -> None:
        uploads = []

        def receiver(sender, event, **kwargs):
            upload = event.message.attachments[0].as_uploaded_file()
            uploads.append(upload)
            self.assertEqual(upload.read(), self.data)  # (during the signal: readable)

        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.assertEqual(self.post(self.payload).status_code, 200)
        with self.assertRaises(ValueError):  # (the request is over: its files are closed)
            uploads[0].seek(0) or uploads[0].read()

    def test_no_file_descriptors_leak(self) -> None:
        kept = []  # (even with receivers keeping everything they were given)
        receiver = lambda sender, event, **kwargs: kept.append(event)  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.post(self.payload)  # (anything opened once, e.g. by imports)
        before = open_file_count()
        if before is None:
            self.skipTest("can't count open files here")
        for _ in range(5):
            self.assertEqual(self.post(self.payload).status_code, 200)
        self.assertEqual(open_file_count(), before)
        self.assertEqual(kept[-1].message.attachments[0].get_filename(), "big.zip")

    def test_same_statuses_as_reading_into_memory(self) -> None:
        content = self.payload["Attachments"][0]["Content"]
        good = json.dumps(self.payload).encode()
        bodies = {
            "truncated base64": good.replace(content.encode(), content[:-3].encode()),
            "not ascii": good.replace(
                content[:10].encode(), "\u00e9".encode() + content[1:10].encode()
            ),
            "string never ends": good[: good.index(content[:20].encode()) + 100_000],
            "bad escape": good.replace(content[:10].encode(), b"\\x" + content[2:10].encode()),
            "control character": good.replace(
                content[:2].encode(), b"\x01" + content[1:2].encode()
            ),
            "not utf-8": good.replace(content[:2].encode(), b"\xff" + content[1:2].encode()),
            "fine": good,
        }
        for name, body in bodies.items():
            with self.subTest(name):
                spooled = self.post(None, raw=body).status_code
                with mock.patch.object(PostmarkInboundWebhookView, "spool_body", False):
                    in_memory = self.post(None, raw=body).status_code
                self.assertEqual(spooled, in_memory)
                self.assertEqual(spooled, 200 if name == "fine" else 400)
