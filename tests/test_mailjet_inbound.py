"""Mailjet inbound webhook: Parse API payloads, shaped as Mailjet's Parse API guide shows them."""

from __future__ import annotations

import base64
import json
import random
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.base import stable_event_id
from anymail.webhooks.mailjet import MailjetInboundWebhookView

from .test_mailjet_webhooks import (
    INBOUND_PATH,
    SENT_EVENT,
    WEBHOOK_SECRET,
    MailjetWebhookTestCase,
    json_values,
)

# The Parse API guide's "What is delivered to your webhook" sample
DOCS_PAYLOAD = {
    "Sender": "pilot@mailjet.com",
    "Recipient": "passenger@mailjet.com",
    "Date": "20150410T160638",
    "From": "Pilot <pilot@mailjet.com>",
    "Subject": "Hey! It's Friday!",
    "Headers": {
        "Return-Path": ["<pilot@mailjet.com>"],
        "Received": [
            "by 10.107.134.160 with HTTP; Fri, 10 Apr 2015 09:06:38 -0700 (PDT)",
            "from mail.example.com (mail.example.com [192.0.2.1]) by parse-in1.mailjet.com",
        ],
        "DKIM-Signature": [
            "v=1; a=rsa-sha256; c=relaxed/relaxed;        d=mailjet.com; s=google;        "
            "h=mime-version:date:message-id:subject:from:to:content-type;        "
            "bh=tsc4ruu5r5loLtAFUwhFp8BIbKzV0AYljT0+Bb/QwWI=;        b=............"
        ],
        "MIME-Version": ["1.0"],
        "Content-Transfer-Encoding": ["quoted-printable"],
        "Content-Type": ["multipart/alternative; boundary=001a1141f3c406f1b2051360f37d"],
        "X-CSA-Complaints": ["whitelist-complaints@eco.de"],
        "List-Unsubscribe": ["<mailto:unsub-e7221da9.org1.x61425y8x4pt@bnc3.mailjet.com>"],
        "X-Gm-Message-State": [
            "ALoCoQlJBEYSiauMbHc8RXQpv3sUJvPmYAd7exYJKZIZFRZtFkSHqDEP59rQK6oIp9mCwPKCirCL"
        ],
        "Date": "Fri, 10 Apr 2015 18:06:38 +0200",
        "Message-ID": "<CAE5Zh0ZpHZ6G5DC+He5426a4RkVab7uWaTDwiMcHzOR=YB3urA@mail.gmail.com>",
        "Subject": "Hey! It's Friday!",
        "From": "Pilot <pilot@mailjet.com>",
        "To": "passenger@mailjet.com",
    },
    "Parts": [
        {"Headers": {"Content-Type": "text/plain; charset=UTF-8"}, "ContentRef": "Text-part"},
        {
            "Headers": {
                "Content-Type": "text/html; charset=UTF-8",
                "Content-Transfer-Encoding": "quoted-printable",
            },
            "ContentRef": "Html-part",
        },
    ],
    "Text-part": "Hi,\n\nImportant notice: it's Friday. Friday *afternoon*, even!\n\n\n"
    "Have a *great* weekend!\nThe Anonymous Friday Teller\n",
    "Html-part": '<div dir="ltr">Hi,<div><br></div><div>Important notice: it&#39;s Friday. '
    "Friday <i>afternoon</i>, even!</div><div><br><br></div><div>Have a "
    '<i style="font-weight:bold">great</i> weekend!</div><div>The Anonymous Friday '
    "Teller</div></div>\n",
    "SpamAssassinScore": "0.602",
    "CustomID": "helloworld",
    "Payload": "{'message': 'helloworld'}",
}

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


# The guide's "Manage attachments" shape, with an inline image and a non-ASCII filename added
ATTACHMENTS_PAYLOAD = {
    "Sender": "sender@example.org",
    "Recipient": "inbound@example.com",
    "From": '"Sender, Esq." <sender@example.org>',
    "Subject": "Files attached",
    "Headers": {
        "Received": ["from mx.example.org by parse-in1.mailjet.com"],
        "Content-Type": ["multipart/mixed; boundary=XYZ"],
        "From": '"Sender, Esq." <sender@example.org>',
        "To": "Inbound <inbound@example.com>, other@example.com",
        "Cc": "cc@example.net",
        "Subject": "Files attached",
        "Message-ID": "<files-1@example.org>",
    },
    "Parts": [
        {"Headers": {"Content-Type": "text/plain; charset=utf-8"}, "ContentRef": "Text-part"},
        {"Headers": {"Content-Type": "text/html; charset=utf-8"}, "ContentRef": "Html-part"},
        {
            "Headers": {
                "Content-Type": "text/plain; charset=utf-8; name=helloworld.txt",
                "Content-Transfer-Encoding": "base64",
                "Content-Disposition": "attachment; filename=helloworld.txt",
            },
            "ContentRef": "Attachment1",
        },
        {
            "Headers": {
                "Content-Type": "image/png; name=logo.png",
                "Content-Transfer-Encoding": "base64",
                "Content-Disposition": "inline; filename=logo.png",
                "Content-ID": "<logo@example.org>",
            },
            "ContentRef": "Attachment2",
        },
        {
            "Headers": {
                "Content-Type": "application/pdf",
                "Content-Transfer-Encoding": "base64",
                "Content-Disposition": "attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf",
            },
            "ContentRef": "Attachment3",
        },
    ],
    "Text-part": "See attached.\n",
    "Html-part": '<p>See attached. <img src="cid:logo@example.org"></p>',
    "Attachment1": "SGVsbG8gV29ybGQh",  # "Hello World!", as in the guide
    "Attachment2": b64(PNG_BYTES),
    "Attachment3": b64(b"%PDF-1.4 fake resume"),
    "SpamAssassinScore": "-1.2",
}


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetInboundTests(MailjetWebhookTestCase):
    def post_inbound(self, payload: Any, **kwargs: Any):
        return self.post_webhook(payload, url=INBOUND_PATH, **kwargs)

    def inbound_event(self, payload: dict) -> AnymailInboundEvent:
        response = self.post_inbound(payload)
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()
        self.assertEqual(self.inbound_handler.call_count, 1)
        kwargs = self.inbound_handler.call_args.kwargs
        self.assertIs(kwargs["sender"], MailjetInboundWebhookView)
        self.assertEqual(kwargs["esp_name"], "Mailjet")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertIsInstance(event.message, AnymailInboundMessage)
        return event

    def test_docs_sample_payload(self):
        event = self.inbound_event(DOCS_PAYLOAD)
        self.assertEqual(event.event_type, "inbound")
        self.assertIsNone(event.timestamp)
        # (the Parse API gives no id: Anymail's is a digest, the same if Mailjet posts it again)
        self.assertIsInstance(event.event_id, str)
        self.assertTrue(event.event_id)
        self.assertEqual(event.esp_event, DOCS_PAYLOAD)

        message = event.message
        self.assertEqual(message.envelope_sender, "pilot@mailjet.com")
        self.assertEqual(message.envelope_recipient, "passenger@mailjet.com")
        self.assertEqual(message.from_email.addr_spec, "pilot@mailjet.com")
        self.assertEqual(message.from_email.display_name, "Pilot")
        self.assertEqual([str(addr) for addr in message.to], ["passenger@mailjet.com"])
        self.assertEqual(message.cc, [])
        self.assertEqual(message.subject, "Hey! It's Friday!")
        self.assertEqual(
            message.date, datetime(2015, 4, 10, 18, 6, 38, tzinfo=timezone(timedelta(hours=2)))
        )
        self.assertEqual(message.text, DOCS_PAYLOAD["Text-part"])
        self.assertEqual(message.html, DOCS_PAYLOAD["Html-part"])
        self.assertEqual(message.spam_score, 0.602)
        self.assertIsNone(message.spam_detected)
        self.assertIsNone(message.stripped_text)
        self.assertIsNone(message.stripped_html)
        self.assertEqual(message.attachments, [])
        self.assertEqual(message.inline_attachments, {})
        # Every header, multi-line ones as repeated headers, in order
        self.assertEqual(message.get_all("Received"), DOCS_PAYLOAD["Headers"]["Received"])
        self.assertEqual(message["Return-Path"], "<pilot@mailjet.com>")
        self.assertEqual(
            message["Message-ID"],
            "<CAE5Zh0ZpHZ6G5DC+He5426a4RkVab7uWaTDwiMcHzOR=YB3urA@mail.gmail.com>",
        )
        self.assertEqual(message["X-CSA-Complaints"], "whitelist-complaints@eco.de")
        self.assertTrue(message["DKIM-Signature"].startswith("v=1; a=rsa-sha256;"))
        self.assertEqual(len(message.get_all("Subject")), 1)
        self.assertEqual(len(message.get_all("From")), 1)
        # The original body headers describe Mailjet's split-out parts, not this message
        self.assertNotIn("boundary=001a1141f3c406f1b2051360f37d", message["Content-Type"])

    def test_attachments_and_inline_images(self):
        event = self.inbound_event(ATTACHMENTS_PAYLOAD)
        message = event.message
        self.assertEqual(message.envelope_sender, "sender@example.org")
        self.assertEqual(message.envelope_recipient, "inbound@example.com")
        self.assertEqual(message.from_email.display_name, "Sender, Esq.")
        self.assertEqual(
            [addr.addr_spec for addr in message.to], ["inbound@example.com", "other@example.com"]
        )
        self.assertEqual([addr.addr_spec for addr in message.cc], ["cc@example.net"])
        self.assertEqual(message.spam_score, -1.2)
        self.assertEqual(message.text, "See attached.\n")
        self.assertEqual(message.html, '<p>See attached. <img src="cid:logo@example.org"></p>')

        text_attachment, pdf = message.attachments
        self.assertEqual(text_attachment.get_filename(), "helloworld.txt")
        self.assertEqual(text_attachment.get_content_type(), "text/plain")
        self.assertEqual(text_attachment.get_content_charset(), "utf-8")
        self.assertEqual(text_attachment.get_content_bytes(), b"Hello World!")
        self.assertEqual(text_attachment.get_content_text(), "Hello World!")
        self.assertTrue(text_attachment.is_attachment())
        self.assertEqual(pdf.get_filename(), "Résumé.pdf")
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertEqual(pdf.get_content_bytes(), b"%PDF-1.4 fake resume")

        self.assertEqual(list(message.inline_attachments), ["logo@example.org"])
        logo = message.inline_attachments["logo@example.org"]
        self.assertEqual(logo.get_content_type(), "image/png")
        self.assertEqual(logo.get_filename(), "logo.png")
        self.assertEqual(logo.get_content_bytes(), PNG_BYTES)
        self.assertTrue(logo.is_inline_attachment())
        uploaded = logo.as_uploaded_file()
        self.assertEqual(uploaded.name, "logo.png")
        self.assertEqual(uploaded.read(), PNG_BYTES)

    def test_inline_attachment_content_refs(self):
        # The Parse API posts inline parts' content as InlineAttachmentN (not AttachmentN)
        payload = dict(
            ATTACHMENTS_PAYLOAD,
            Parts=[
                {
                    "Headers": {"Content-Type": "text/plain; charset=utf-8"},
                    "ContentRef": "Text-part",
                },
                {
                    "Headers": {"Content-Type": "text/html; charset=utf-8"},
                    "ContentRef": "Html-part",
                },
                {
                    "Headers": {
                        "Content-Type": "text/plain; charset=utf-8; name=helloworld.txt",
                        "Content-Transfer-Encoding": "base64",
                        "Content-Disposition": "attachment; filename=helloworld.txt",
                    },
                    "ContentRef": "Attachment1",
                },
                {
                    "Headers": {
                        "Content-Type": 'image/png; name="logo.png"',
                        "Content-Transfer-Encoding": "base64",
                        "Content-Disposition": 'inline; filename="logo.png"',
                        "Content-ID": "<logo@example.org>",
                    },
                    "ContentRef": "InlineAttachment1",
                },
                {
                    "Headers": {
                        "Content-Type": "image/gif",
                        "Content-Transfer-Encoding": "base64",
                        "Content-ID": "<spacer@example.org>",
                    },
                    "ContentRef": "InlineAttachment2",
                },
            ],
            **{
                "Html-part": '<p><img src="cid:logo@example.org"><img src="cid:spacer@example.org">'
                "</p>",
                "Attachment1": "SGVsbG8gV29ybGQh",
                "InlineAttachment1": b64(PNG_BYTES),
                "InlineAttachment2": b64(b"GIF89a fake"),
            },
        )
        del payload["Attachment2"], payload["Attachment3"]
        message = self.inbound_event(payload).message
        self.assertEqual(
            list(message.inline_attachments), ["logo@example.org", "spacer@example.org"]
        )
        logo = message.inline_attachments["logo@example.org"]
        self.assertEqual(logo.get_content_type(), "image/png")
        self.assertEqual(logo.get_filename(), "logo.png")
        self.assertEqual(logo.get_content_bytes(), PNG_BYTES)
        self.assertTrue(logo.is_inline_attachment())
        spacer = message.inline_attachments["spacer@example.org"]
        self.assertEqual(spacer.get_content_type(), "image/gif")
        self.assertIsNone(spacer.get_filename())
        self.assertEqual(spacer.get_content_bytes(), b"GIF89a fake")
        (text_attachment,) = message.attachments
        self.assertEqual(text_attachment.get_filename(), "helloworld.txt")
        self.assertEqual(text_attachment.get_content_bytes(), b"Hello World!")

    def test_inline_attachment_without_parts_entry_is_kept(self):
        payload = dict(DOCS_PAYLOAD, InlineAttachment1=b64(b"orphan inline content"))
        message = self.inbound_event(payload).message
        (attachment,) = message.attachments  # (no Content-ID to list it by)
        self.assertEqual(attachment.get_content_bytes(), b"orphan inline content")
        self.assertEqual(message.inline_attachments, {})

    def test_attachment_without_parts_entry_is_kept(self):
        payload = dict(DOCS_PAYLOAD, Attachment1=b64(b"orphan content"))
        message = self.inbound_event(payload).message
        (attachment,) = message.attachments
        self.assertEqual(attachment.get_content_type(), "application/octet-stream")
        self.assertEqual(attachment.get_content_bytes(), b"orphan content")
        self.assertIsNone(attachment.get_filename())

    def test_body_charset_from_parts(self):
        payload = dict(
            DOCS_PAYLOAD,
            Parts=[
                {
                    "Headers": {"Content-Type": "text/plain; charset=iso-8859-1"},
                    "ContentRef": "Text-part",
                },
                {
                    "Headers": {"Content-Type": "text/html; charset=x-unknown-charset"},
                    "ContentRef": "Html-part",
                },
            ],
            **{"Text-part": "Café crème\n", "Html-part": "<p>Ça va? ✓</p>"},
        )
        message = self.inbound_event(payload).message
        self.assertEqual(message.text, "Café crème\n")
        self.assertEqual(message.html, "<p>Ça va? ✓</p>")

    def test_text_only_without_parts(self):
        payload = {
            "Sender": "a@example.org",
            "Recipient": "b@example.com",
            "From": "a@example.org",
            "Subject": "Just text",
            "Text-part": "Plain body",
        }
        message = self.inbound_event(payload).message
        self.assertEqual(message.text, "Plain body")
        self.assertIsNone(message.html)
        # No Headers: the top-level From and Subject are used
        self.assertEqual(message.from_email.addr_spec, "a@example.org")
        self.assertEqual(message.subject, "Just text")
        self.assertIsNone(message.spam_score)

    def test_top_level_from_and_subject_fill_missing_headers_only(self):
        payload = dict(
            DOCS_PAYLOAD,
            Headers={"To": "passenger@mailjet.com"},
            From="Top Level <top@example.org>",
            Subject="Top subject",
        )
        message = self.inbound_event(payload).message
        self.assertEqual(message.from_email.addr_spec, "top@example.org")
        self.assertEqual(message.subject, "Top subject")

    def test_numeric_spam_score(self):
        message = self.inbound_event(dict(DOCS_PAYLOAD, SpamAssassinScore=3.5)).message
        self.assertEqual(message.spam_score, 3.5)

    def test_bad_auth_is_400_without_parsing(self):
        with mock.patch.object(
            MailjetInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "mj-user:wrong"):
                with self.subTest(auth=auth):
                    self.assertEqual(self.post_inbound(DOCS_PAYLOAD, auth=auth).status_code, 400)
            parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetInboundCostTests(MailjetWebhookTestCase):
    """What a request costs stays proportional to its size, whatever it holds."""

    def post_measured(self, payload: dict) -> tuple[Any, int, float, int]:
        """Post payload; return the response, peak memory and time taken, and body size."""
        body = json.dumps(payload).encode()
        tracemalloc.start()
        try:
            start = time.perf_counter()
            response = self.post_webhook(body, url=INBOUND_PATH)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return response, peak, elapsed, len(body)

    def test_repeated_content_refs_decode_the_content_once(self):
        # Each reference used to decode (and keep) the content again: a 1.4 MiB request
        # could cost 1.4 GiB
        content = random.Random(8).randbytes(256 * 1024)
        parts = [
            {
                "Headers": {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": f'attachment; filename="copy{n}.pdf"',
                },
                "ContentRef": "Attachment1",
            }
            for n in range(300)
        ]
        payload = dict(DOCS_PAYLOAD, Parts=DOCS_PAYLOAD["Parts"] + parts, Attachment1=b64(content))
        # (a large attachment's content is in a file until the request ends: read it in time)
        contents = []
        self.inbound_handler.side_effect = lambda event, **kwargs: contents.append(
            [part.get_content_bytes() for part in event.message.attachments]
        )
        response, peak, _, size = self.post_measured(payload)
        self.assertEqual(response.status_code, 200)
        self.assertLess(peak, 12 * size)  # (it was over 400 times)
        message = self.inbound_handler.call_args.kwargs["event"].message
        (attachment,) = message.attachments  # the first reference describes it
        self.assertEqual(attachment.get_filename(), "copy0.pdf")
        self.assertEqual(contents, [[content]])
        self.assertEqual(message.text, DOCS_PAYLOAD["Text-part"])

    def test_header_bombs(self):
        subject = "=?utf-8?q?a?= " * (64 * 1024)  # ~900 KiB of RFC 2047 words
        reply_to = '""' * (45 * 1024)  # 90 KiB of quoted strings
        disposition = "attachment; filename=" + ";" * (256 * 1024)
        payload = dict(
            ATTACHMENTS_PAYLOAD,
            Headers=dict(
                ATTACHMENTS_PAYLOAD["Headers"],
                Subject=subject,
                **{"Reply-To": reply_to, "X-Commas": "," * (256 * 1024)},
            ),
            Parts=ATTACHMENTS_PAYLOAD["Parts"]
            + [
                {
                    "Headers": {
                        "Content-Type": "application/pdf; name=" + '";' * (128 * 1024),
                        "Content-Disposition": disposition,
                    },
                    "ContentRef": "Attachment4",
                }
            ],
            Attachment4=b64(b"%PDF-1.4 bomb"),
        )
        response, peak, elapsed, size = self.post_measured(payload)
        self.assertEqual(response.status_code, 200)
        self.assertLess(elapsed, 5.0)
        self.assertLess(peak, 8 * size)
        message = self.inbound_handler.call_args.kwargs["event"].message
        self.assertIsNone(message.subject)  # too long to parse
        self.assertEqual(message.raw_header("Subject"), subject)
        self.assertEqual(message["Reply-To"], reply_to)
        self.assertEqual(message.from_email.display_name, "Sender, Esq.")
        self.assertEqual(len(message.attachments), 3)
        bomb = message.attachments[-1]
        self.assertEqual(bomb.get_content_bytes(), b"%PDF-1.4 bomb")
        self.assertEqual(bomb.get_content_type(), "application/pdf")
        self.assertEqual(bomb.safe_filename, "attachment.pdf")


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetInboundErrorTests(MailjetWebhookTestCase):
    def assert_400(self, body: Any, expected_log: str | None = None) -> None:
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_webhook(body, url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        self.tracking_handler.assert_not_called()
        if expected_log:
            self.assertIn(expected_log, logs.records[0].getMessage())

    def test_tracking_payloads_posted_to_inbound_url(self):
        for body in (SENT_EVENT, [SENT_EVENT], []):
            with self.subTest(body=body):
                self.assert_400(body, "Mailjet Event API (tracking) payload")
        self.assert_400(SENT_EVENT, "anymail/mailjet/tracking/")

    def test_not_a_parse_api_payload(self):
        self.assert_400({}, "none of the Parse API's")
        self.assert_400({"Sender": "a@example.org"}, "none of the Parse API's")

    def test_malformed_bodies(self):
        for body in (b"not json", b"\xff{}", "null", '"text"', "3"):
            with self.subTest(body=body):
                self.assert_400(body)

    def test_invalid_attachment_base64(self):
        self.assert_400(dict(ATTACHMENTS_PAYLOAD, Attachment1="not*base64!"), "base64")
        self.assert_400(dict(DOCS_PAYLOAD, InlineAttachment1="not*base64!"), "base64")

    def test_wrong_field_types(self):
        for field, value in [
            ("Headers", ["Subject: x"]),
            ("Headers", {"Received": [1, 2]}),
            ("Headers", {"Bad Name:": "value"}),
            ("Parts", {"ContentRef": "Text-part"}),
            ("Parts", ["Text-part"]),
            ("Text-part", 42),
            ("Sender", ["a@example.org"]),
            ("SpamAssassinScore", "high"),
            ("SpamAssassinScore", True),
            ("Attachment1", 12345),
        ]:
            with self.subTest(field=field, value=value):
                self.assert_400(dict(ATTACHMENTS_PAYLOAD, **{field: value}))


# ---------------------------------------------------------------------------------------------
# Property test: whatever is posted to the inbound url, never a 5xx
# ---------------------------------------------------------------------------------------------

INBOUND_KEYS = sorted(set(DOCS_PAYLOAD) | set(ATTACHMENTS_PAYLOAD))
odd_strings = st.text(max_size=30) | st.sampled_from(
    ["", "=?utf-8?b?!!!?=", "multipart/mixed; boundary=", "\r\nBcc: x@example.com", "\x00\udcff"]
)


@st.composite
def mutated_inbound(draw: Any) -> bytes:
    payload = json.loads(json.dumps(draw(st.sampled_from([DOCS_PAYLOAD, ATTACHMENTS_PAYLOAD]))))
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=4)):
        payload.pop(key, None)
    for key in draw(st.lists(st.sampled_from(INBOUND_KEYS), max_size=3)):
        payload[key] = draw(json_values | odd_strings)
    if draw(st.booleans()) and isinstance(payload.get("Headers"), dict):
        payload["Headers"][draw(odd_strings)] = draw(odd_strings | st.lists(odd_strings))
    if draw(st.booleans()) and isinstance(payload.get("Parts"), list) and payload["Parts"]:
        part = payload["Parts"][-1]
        if isinstance(part, dict):
            part["Headers"] = {
                draw(st.sampled_from(["Content-Type", "Content-Disposition", "Content-ID"])): draw(
                    odd_strings
                )
            }
    body = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "bad-bytes", "truncate", "raw"]))
    if mutation == "bad-bytes" and body:
        index = draw(st.integers(min_value=0, max_value=len(body) - 1))
        body = body[:index] + b"\xfe\x80" + body[index:]
    elif mutation == "truncate":
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    elif mutation == "raw":
        body = draw(st.binary(max_size=60))
    return body


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetInboundPropertyTests(MailjetWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_inbound())
    def test_valid_auth_is_200_or_400_never_5xx(self, body):
        self.inbound_handler.reset_mock()
        response = self.post_webhook(body, url=INBOUND_PATH)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            (call,) = self.inbound_handler.call_args_list
            message = call.kwargs["event"].message
            # The normalized accessors never raise, whatever arrived
            for attr in ("from_email", "to", "cc", "subject", "date", "text", "html"):
                getattr(message, attr)
            for attachment in message.attachments:
                attachment.get_content_bytes()
        else:
            self.inbound_handler.assert_not_called()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_inbound(),
        auth=st.one_of(
            st.none(),
            st.just("mj-user:wrong"),
            st.text(max_size=20).filter(lambda a: a != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_before_parsing(self, body, auth):
        self.inbound_handler.reset_mock()
        with mock.patch.object(
            MailjetInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, url=INBOUND_PATH, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class MailjetInboundLargeMessageTests(MailjetWebhookTestCase):
    """A long AttachmentN is read from, and decoded to, temporary files."""

    def test_large_attachment(self):
        data = random.Random(11).randbytes(300_000)
        payload = dict(
            DOCS_PAYLOAD,
            Parts=DOCS_PAYLOAD["Parts"]
            + [
                {
                    "Headers": {
                        "Content-Type": "application/zip",
                        "Content-Disposition": 'attachment; filename="big.zip"',
                    },
                    "ContentRef": "Attachment1",
                }
            ],
            Attachment1=b64(data),
        )
        results = []
        self.inbound_handler.side_effect = lambda event, **kwargs: results.append(
            (
                [
                    (part.get_filename(), part.get_content_bytes())
                    for part in event.message.attachments
                ],
                event.esp_event == payload,  # (a SpilledString, equal to what was posted)
                event.event_id,
            )
        )
        self.assertEqual(self.post_webhook(payload, url=INBOUND_PATH).status_code, 200)
        expected_id = stable_event_id(AnymailInboundEvent(esp_event=payload), "Mailjet")
        self.assertEqual(results, [([("big.zip", data)], True, expected_id)])

    def test_bad_base64_is_400(self):
        payload = dict(DOCS_PAYLOAD, Attachment1=b64(bytes(300_000))[:-3])
        self.assertEqual(self.post_webhook(payload, url=INBOUND_PATH).status_code, 400)
        self.inbound_handler.assert_not_called()
