"""SendGrid inbound webhook: Inbound Parse posts, shaped as SendGrid's Inbound Parse docs show.

Inbound Parse posts multipart/form-data: either parsed fields (headers, from, to, cc, subject,
text, html, attachmentN files with JSON attachment-info, ...) or, with "POST the raw, full MIME
message" checked, the whole message in an ``email`` field. Either way, text fields arrive in the
message's own charsets, declared in the JSON ``charsets`` field, so these tests build the
multipart bodies byte by byte, as SendGrid sends them.
"""

from __future__ import annotations

import json
import os
import random
from base64 import encodebytes
from datetime import datetime, timedelta, timezone
from unittest import mock

from django.http import HttpRequest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.sendgrid import SendGridInboundWebhookView

from .fakes import EVENT_ID_DIGEST, mock_receiver
from .test_sendgrid_webhooks import (
    INBOUND_PATH,
    PROCESSED_EVENT,
    TRACKING_PATH,
    WEBHOOK_SECRET,
    SendGridWebhookTestCase,
    basic_auth_header,
)

BOUNDARY = "xYzZY"
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

Field = tuple[str, bytes]
File = tuple[str, bytes, str, bytes]  # field name, filename (raw bytes), content type, content


def multipart_body(fields: list[Field], files: list[File] = ()) -> bytes:
    """multipart/form-data, byte for byte: field values in whatever charset they're in."""
    parts = []
    for name, value in fields:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
        )
    for name, filename, content_type, content in files:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
            + filename
            + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


RAW_HEADERS = (
    "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 "
    "20:53:06 +0000 (UTC)\n"
    "Received: from mail-io0-f169.google.com (mail-io0-f169.google.com [209.85.223.169]) by "
    "mx0047p1mdw1.sendgrid.net (Postfix) with ESMTPS id AA9FFA817F2 for "
    "<inbound@inbound.example.com>; Wed, 27 Jul 2016 20:53:06 +0000 (UTC)\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=20150623; "
    "h=mime-version:from:date:message-id:subject:to; bh=DpB1CYYeumytcPF3q0Upvx3Sq/oF4ZblEwnuVzF"
    "wvGI=; b=GH5YTxjt6r4HoTa+94w6ZGQszFQSgegF+Jlv69YV76OLycJI4Gxdwfh6Wlqfez5yID\n"
    "MIME-Version: 1.0\n"
    "Received: by 10.107.128.145 with HTTP; Wed, 27 Jul 2016 13:53:06 -0700 (PDT)\n"
    "From: Sender Name <from@example.com>\n"
    "Date: Wed, 27 Jul 2016 14:53:06 -0600\n"
    "Message-ID: <CAEPk3R+4Zr@mail.example.com>\n"
    "Subject: =?UTF-8?Q?Test_subject_=E2=9C=93?=\n"
    'To: "Recipient Name" <inbound@inbound.example.com>\n'
    "Cc: cc@example.com\n"
    "Content-Type: multipart/mixed; boundary=001a113e6afa58d8f90538a4b9a0\n"
)

SPAM_REPORT = (
    'Spam detection software, running on the system "mx0047p1mdw1.sendgrid.net", has\n'
    "identified this incoming email as possible spam.\n\n"
    "Content analysis details:   (1.7 points, 5.0 required)\n\n"
    " pts rule name              description\n"
    "---- ---------------------- --------------------------------------------------\n"
    " 1.5 HTML_MESSAGE           BODY: HTML included in message\n"
)


def parsed_fields(**overrides: bytes | None) -> list[Field]:
    """Inbound Parse's default (parsed) fields, in UTF-8 unless overridden."""
    fields: dict[str, bytes | None] = {
        "headers": RAW_HEADERS.encode(),
        "dkim": b"{@example.com : pass}",
        "content-ids": b'{"ii_139db99fdb676a9b":"attachment2"}',
        "to": b'"Recipient Name" <inbound@inbound.example.com>',
        "html": '<p>Test body ✓ <img src="cid:ii_139db99fdb676a9b"></p>\n'.encode(),
        "from": b"Sender Name <from@example.com>",
        "text": "Test body ✓\n".encode(),
        "sender_ip": b"209.85.223.169",
        "spam_report": SPAM_REPORT.encode(),
        "envelope": b'{"to":["inbound@inbound.example.com"],"from":"envelope-from@example.org"}',
        "attachments": b"2",
        "subject": "Test subject ✓".encode(),
        "spam_score": b"1.7",
        "attachment-info": json.dumps(
            {
                "attachment1": {
                    "filename": "report.pdf",
                    "name": "report.pdf",
                    "type": "application/pdf",
                },
                "attachment2": {
                    "filename": "image.png",
                    "name": "image.png",
                    "type": "image/png",
                    "content-id": "ii_139db99fdb676a9b",
                },
            }
        ).encode(),
        "charsets": b'{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8",'
        b'"text":"UTF-8"}',
        "SPF": b"pass",
    }
    fields.update(overrides)
    return [(name, value) for name, value in fields.items() if value is not None]


PARSED_FILES: list[File] = [
    ("attachment1", b"report.pdf", "application/pdf", PDF_BYTES),
    ("attachment2", b"image.png", "image/png", PNG_BYTES),
]

RAW_MIME = (
    b"Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 "
    b"20:53:06 +0000 (UTC)\r\n"
    b"MIME-Version: 1.0\r\n"
    b"From: Sender Name <from@example.com>\r\n"
    b"Date: Wed, 27 Jul 2016 14:53:06 -0600\r\n"
    b"Message-ID: <CAEPk3R+4Zr@mail.example.com>\r\n"
    b"Subject: =?iso-8859-1?q?Caf=E9?=\r\n"
    b'To: "Recipient Name" <inbound@inbound.example.com>\r\n'
    b'Content-Type: multipart/mixed; boundary="mixed"\r\n'
    b"\r\n"
    b"--mixed\r\n"
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Caf\xe9 cr\xe8me\r\n"
    b"--alt\r\n"
    b'Content-Type: text/html; charset="UTF-8"\r\n'
    b"\r\n"
    b"<p>Caf\xc3\xa9 cr\xc3\xa8me</p>\r\n"
    b"--alt--\r\n"
    b"--mixed\r\n"
    b'Content-Type: text/plain; charset="US-ASCII"; name="notes.txt"\r\n'
    b'Content-Disposition: attachment; filename="notes.txt"\r\n'
    b"\r\n"
    b"Some notes.\r\n"
    b"--mixed--\r\n"
)


def raw_fields(**overrides: bytes | None) -> list[Field]:
    """Inbound Parse's fields with "POST the raw, full MIME message" checked."""
    fields: dict[str, bytes | None] = {
        "dkim": b"{@example.com : pass}",
        "email": RAW_MIME,
        "to": b'"Recipient Name" <inbound@inbound.example.com>',
        "from": b"Sender Name <from@example.com>",
        "sender_ip": b"209.85.223.169",
        "spam_report": SPAM_REPORT.encode(),
        "envelope": b'{"to":["inbound@inbound.example.com"],"from":"envelope-from@example.org"}',
        "subject": b"Caf\xe9",
        "spam_score": b"1.7",
        "charsets": b'{"to":"UTF-8","subject":"iso-8859-1","from":"UTF-8"}',
        "SPF": b"pass",
    }
    fields.update(overrides)
    return [(name, value) for name, value in fields.items() if value is not None]


class SendGridInboundTestCase(SendGridWebhookTestCase):
    def post_inbound(
        self,
        fields: list[Field],
        files: list[File] = (),
        auth: str | None = WEBHOOK_SECRET,
        url: str = INBOUND_PATH,
    ):
        headers = {"HTTP_AUTHORIZATION": basic_auth_header(auth)} if auth is not None else {}
        return Client().post(
            url,
            data=multipart_body(fields, files),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            **headers,
        )

    def inbound_event(self) -> AnymailInboundEvent:
        self.inbound_handler.assert_called_once()
        kwargs = self.inbound_handler.call_args.kwargs
        self.assertIs(kwargs["sender"], SendGridInboundWebhookView)
        self.assertEqual(kwargs["esp_name"], "SendGrid")
        event = kwargs["event"]
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertIsNone(event.timestamp)
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)  # (SendGrid gives none: Anymail's)
        self.assertIsInstance(event.esp_event, HttpRequest)
        self.assertIsInstance(event.message, AnymailInboundMessage)
        return event


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridInboundParsedTests(SendGridInboundTestCase):
    def test_parsed_fields(self):
        response = self.post_inbound(parsed_fields(), PARSED_FILES)
        self.assertEqual(response.status_code, 200)
        event = self.inbound_event()
        message = event.message
        self.assertEqual(message.envelope_sender, "envelope-from@example.org")
        self.assertEqual(message.envelope_recipient, "inbound@inbound.example.com")
        self.assertEqual(str(message.from_email), "Sender Name <from@example.com>")
        self.assertEqual(
            [str(email) for email in message.to], ["Recipient Name <inbound@inbound.example.com>"]
        )
        self.assertEqual([str(email) for email in message.cc], ["cc@example.com"])
        self.assertEqual(message.subject, "Test subject ✓")
        self.assertEqual(
            message.date, datetime(2016, 7, 27, 14, 53, 6, tzinfo=timezone(timedelta(hours=-6)))
        )
        self.assertEqual(message["Message-ID"], "<CAEPk3R+4Zr@mail.example.com>")
        self.assertEqual(len(message.get_all("Received")), 3)
        self.assertEqual(message.text, "Test body ✓\n")
        self.assertEqual(message.html, '<p>Test body ✓ <img src="cid:ii_139db99fdb676a9b"></p>\n')
        self.assertEqual(message.spam_score, 1.7)
        self.assertIsNone(message.spam_detected)  # SendGrid gives only a score (and report)
        self.assertIsNone(message.stripped_text)
        self.assertIsNone(message.stripped_html)

        (attachment,) = message.attachments
        self.assertEqual(attachment.get_filename(), "report.pdf")
        self.assertEqual(attachment.get_content_type(), "application/pdf")
        self.assertEqual(attachment.get_content_bytes(), PDF_BYTES)
        self.assertTrue(attachment.is_attachment())
        inline = message.inline_attachments["ii_139db99fdb676a9b"]
        self.assertEqual(inline.get_filename(), "image.png")
        self.assertEqual(inline.get_content_type(), "image/png")
        self.assertEqual(inline.get_content_bytes(), PNG_BYTES)
        self.assertTrue(inline.is_inline_attachment())

        # The raw request, with its other fields (dkim, SPF, sender_ip, spam_report...)
        request = event.esp_event
        self.assertEqual(request.POST["SPF"], "pass")
        self.assertEqual(request.POST["sender_ip"], "209.85.223.169")
        self.assertEqual(request.POST["spam_report"], SPAM_REPORT)
        self.assertEqual(request.POST["subject"], "Test subject ✓")
        self.assertEqual(request.FILES["attachment1"].name, "report.pdf")

    def test_non_utf8_charsets(self):
        # Each text field in the charset "charsets" declares for it (here, the body in
        # iso-8859-1 and the subject in windows-1252): decoded by that, not by UTF-8
        response = self.post_inbound(
            parsed_fields(
                headers=None,
                text="Café crème — déjà vu\n".encode("iso-8859-1", "replace"),
                html="<p>Café crème</p>".encode("iso-8859-1"),
                subject="Café “quoted”".encode("windows-1252"),
                **{
                    "from": "Zoë Sender <from@example.com>".encode("iso-8859-1"),
                    "attachment-info": None,
                    "content-ids": None,
                    "attachments": b"0",
                    "charsets": b'{"to":"UTF-8","html":"iso-8859-1","subject":"windows-1252",'
                    b'"from":"ISO-8859-1","text":"iso-8859-1"}',
                },
            )
        )
        self.assertEqual(response.status_code, 200)
        event = self.inbound_event()
        message = event.message
        self.assertEqual(message.text, "Café crème ? déjà vu\n")
        self.assertEqual(message.html, "<p>Café crème</p>")
        self.assertEqual(message.subject, "Café “quoted”")
        self.assertEqual(message.from_email.display_name, "Zoë Sender")
        self.assertEqual(message.from_email.addr_spec, "from@example.com")
        self.assertEqual(
            [str(email) for email in message.to], ["Recipient Name <inbound@inbound.example.com>"]
        )
        # The rebuilt body parts keep their original charsets
        text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        self.assertEqual(text_part.get_content_charset(), "iso-8859-1")
        self.assertEqual(text_part.get_content_bytes(), "Café crème ? déjà vu\n".encode("latin-1"))
        self.assertEqual(message.attachments, [])
        # And receivers looking at the raw request see the decoded text, too
        self.assertEqual(event.esp_event.POST["text"], "Café crème ? déjà vu\n")
        self.assertEqual(event.esp_event.POST["subject"], "Café “quoted”")

    def test_utf8_is_the_default_charset(self):
        self.post_inbound(parsed_fields(charsets=None, text="Ünïcödé ✓".encode()))
        self.assertEqual(self.inbound_event().message.text, "Ünïcödé ✓")

    def test_unknown_charset_is_read_as_utf8(self):
        self.post_inbound(
            parsed_fields(
                text="Ünïcödé".encode(), charsets=b'{"text":"x-no-such-charset","html":"base64"}'
            )
        )
        message = self.inbound_event().message
        self.assertEqual(message.text, "Ünïcödé")
        self.assertEqual(message.html, '<p>Test body ✓ <img src="cid:ii_139db99fdb676a9b"></p>\n')

    def test_invalid_bytes_for_the_declared_charset_are_replaced(self):
        self.post_inbound(parsed_fields(text=b"bad \xff\xfe utf-8"))
        self.assertEqual(self.inbound_event().message.text, "bad \ufffd\ufffd utf-8")

    def test_headers_win_over_separate_fields(self):
        # The raw headers are what was sent; the separate fields only fill gaps
        self.post_inbound(parsed_fields(subject=b"Different", to=b"other@example.com"))
        message = self.inbound_event().message
        self.assertEqual(message.subject, "Test subject ✓")
        self.assertEqual([email.addr_spec for email in message.to], ["inbound@inbound.example.com"])

    def test_fields_without_headers(self):
        self.post_inbound(parsed_fields(headers=None, cc=b"Copy <copy@example.com>"))
        message = self.inbound_event().message
        self.assertEqual(str(message.from_email), "Sender Name <from@example.com>")
        self.assertEqual([str(email) for email in message.cc], ["Copy <copy@example.com>"])
        self.assertEqual(message.subject, "Test subject ✓")
        self.assertIsNone(message.date)

    def test_non_ascii_attachment_filename(self):
        # attachment-info names it exactly; the multipart filename (raw UTF-8) is the fallback
        # (and also the name of the upload in esp_event.FILES)
        info = {"attachment1": {"filename": "Résumé ✓.pdf", "type": "application/pdf"}}
        self.post_inbound(
            parsed_fields(**{"attachment-info": json.dumps(info).encode(), "attachments": b"2"}),
            [
                ("attachment1", "Résumé ✓.pdf".encode(), "application/pdf", PDF_BYTES),
                ("attachment2", "Données ü.txt".encode(), "text/plain", b"data"),
            ],
        )
        event = self.inbound_event()
        attachments = event.message.attachments
        self.assertEqual([a.get_filename() for a in attachments], ["Résumé ✓.pdf", "Données ü.txt"])
        self.assertEqual(event.esp_event.FILES["attachment2"].name, "Données ü.txt")
        self.assertEqual(attachments[1].get_content_bytes(), b"data")
        self.assertEqual(attachments[1].get_content_type(), "text/plain")

    def test_attachment_content_type_with_charset(self):
        # SendGrid posts each attachment with its original Content-Type, parameters and all
        # (Django's parser gives the charset as bytes); the attachment keeps its own charset
        info = {
            "attachment1": {
                "filename": "notes.txt",
                "name": "notes.txt",
                "type": "text/plain",
            }
        }
        notes = "Café crème, déjà vu\n".encode("iso-8859-1")
        response = self.post_inbound(
            parsed_fields(**{"attachment-info": json.dumps(info).encode(), "attachments": b"1"}),
            [("attachment1", b"notes.txt", 'text/plain; charset="iso-8859-1"', notes)],
        )
        self.assertEqual(response.status_code, 200)
        event = self.inbound_event()
        (attachment,) = event.message.attachments
        self.assertEqual(attachment.get_filename(), "notes.txt")
        self.assertEqual(attachment.get_content_type(), "text/plain")
        self.assertEqual(attachment.get_content_charset(), "iso-8859-1")
        self.assertEqual(attachment.get_content_bytes(), notes)
        self.assertEqual(attachment.get_content_text(), "Café crème, déjà vu\n")
        self.assertTrue(attachment.is_attachment())
        self.assertEqual(event.message.text, "Test body ✓\n")
        self.assertEqual(event.esp_event.FILES["attachment1"].content_type, "text/plain")

    def test_attachments_in_numeric_order(self):
        files = [
            (f"attachment{n}", f"file{n}.txt".encode(), "text/plain", f"content {n}".encode())
            for n in (10, 2, 1)
        ]
        self.post_inbound(parsed_fields(**{"attachment-info": None, "attachments": b"3"}), files)
        attachments = self.inbound_event().message.attachments
        self.assertEqual(
            [a.get_filename() for a in attachments], ["file1.txt", "file2.txt", "file10.txt"]
        )

    def test_no_spam_check(self):
        self.post_inbound(parsed_fields(spam_score=None, spam_report=None))
        self.assertIsNone(self.inbound_event().message.spam_score)

    def test_no_envelope(self):
        self.post_inbound(parsed_fields(envelope=None))
        message = self.inbound_event().message
        self.assertIsNone(message.envelope_sender)
        self.assertIsNone(message.envelope_recipient)

    def test_text_only(self):
        self.post_inbound(
            parsed_fields(html=None, **{"attachment-info": None, "attachments": b"0"})
        )
        message = self.inbound_event().message
        self.assertEqual(message.text, "Test body ✓\n")
        self.assertIsNone(message.html)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridInboundRawTests(SendGridInboundTestCase):
    def test_raw_mime(self):
        response = self.post_inbound(raw_fields())
        self.assertEqual(response.status_code, 200)
        event = self.inbound_event()
        message = event.message
        self.assertEqual(message.envelope_sender, "envelope-from@example.org")
        self.assertEqual(message.envelope_recipient, "inbound@inbound.example.com")
        self.assertEqual(str(message.from_email), "Sender Name <from@example.com>")
        self.assertEqual([email.addr_spec for email in message.to], ["inbound@inbound.example.com"])
        self.assertEqual(message.cc, [])
        self.assertEqual(message.subject, "Café")
        self.assertEqual(
            message.date, datetime(2016, 7, 27, 14, 53, 6, tzinfo=timezone(timedelta(hours=-6)))
        )
        # The 8-bit iso-8859-1 body arrives intact: the MIME is parsed as the bytes sent
        self.assertEqual(message.text, "Café crème")
        self.assertEqual(message.html, "<p>Café crème</p>")
        (attachment,) = message.attachments
        self.assertEqual(attachment.get_filename(), "notes.txt")
        self.assertEqual(attachment.get_content_text(), "Some notes.")
        self.assertEqual(message.inline_attachments, {})
        self.assertEqual(message.spam_score, 1.7)
        self.assertIsNone(message.spam_detected)
        # The separate subject field, in its declared charset, on the raw request
        self.assertEqual(event.esp_event.POST["subject"], "Café")
        self.assertEqual(event.esp_event.POST["SPF"], "pass")

    def test_raw_mime_is_used_even_with_parsed_fields_present(self):
        self.post_inbound(raw_fields(text=b"ignored", headers=b"Subject: ignored\n"))
        message = self.inbound_event().message
        self.assertEqual(message.subject, "Café")
        self.assertEqual(message.text, "Café crème")

    def test_event_id_is_the_same_when_sendgrid_retries(self):
        posts = [
            (parsed_fields(), PARSED_FILES),
            (parsed_fields(), PARSED_FILES),  # (SendGrid retrying)
            (parsed_fields(), PARSED_FILES[:1]),  # (one attachment fewer)
            (parsed_fields(subject=b"Another message"), PARSED_FILES),
            (raw_fields(), []),
            (raw_fields(), []),
            (raw_fields(email=RAW_MIME.replace(b"Some notes.", b"Other notes.")), []),
        ]
        ids = []
        for fields, files in posts:
            self.inbound_handler.reset_mock()
            self.assertEqual(self.post_inbound(fields, files).status_code, 200)
            ids.append(self.inbound_event().event_id)
        self.assertEqual(ids[1], ids[0])
        self.assertEqual(ids[5], ids[4])
        self.assertEqual(len({ids[0], ids[2], ids[3], ids[4], ids[6]}), 5, ids)

    def test_unparseable_raw_mime_is_still_delivered(self):
        # Inbound mail is hostile input; the message parser never raises on it
        self.post_inbound(raw_fields(email=b"\xff\xfe not really an email"))
        message = self.inbound_event().message
        self.assertIsNone(message.from_email)
        self.assertEqual(message.envelope_sender, "envelope-from@example.org")


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridInboundErrorTests(SendGridInboundTestCase):
    def assert_400(self, response):
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()

    def test_bad_auth_is_400_without_parsing(self):
        with mock.patch.object(
            SendGridInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "sg-user:wrong", ""):
                with self.subTest(auth=auth):
                    self.assert_400(self.post_inbound(parsed_fields(), auth=auth))
            parse_events.assert_not_called()

    def test_malformed_json_fields(self):
        for field in ("envelope", "charsets", "attachment-info"):
            for value in (b"{not json", b'["a list"]'):
                with self.subTest(field=field, value=value):
                    self.assert_400(
                        self.post_inbound(parsed_fields(**{field: value}), PARSED_FILES)
                    )

    def test_malformed_envelope_contents(self):
        for value in (b'{"from": 7}', b'{"to": [1]}', b'{"to": {"a": "b"}}'):
            with self.subTest(value=value):
                self.assert_400(self.post_inbound(parsed_fields(envelope=value)))

    def test_malformed_attachment_info_entry(self):
        info = json.dumps({"attachment1": "report.pdf"}).encode()
        self.assert_400(self.post_inbound(parsed_fields(**{"attachment-info": info}), PARSED_FILES))

    def test_invalid_spam_score(self):
        self.assert_400(self.post_inbound(parsed_fields(spam_score=b"very spammy")))

    def test_no_message_fields(self):
        self.assert_400(self.post_inbound([("SPF", b"pass"), ("envelope", b"{}")]))

    def test_tracking_payload_posted_to_inbound_url(self):
        response = Client().post(
            INBOUND_PATH,
            data=json.dumps([PROCESSED_EVENT]),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assert_400(response)

    def test_tracking_payload_error_says_so(self):
        request = mock.Mock(content_type="application/json", body=b"[]")
        with self.assertRaisesMessage(
            ValueError,
            "This looks like a SendGrid Event Webhook (tracking) payload, posted to Anymail's "
            "SendGrid inbound webhook. Set your SendGrid Event Webhook HTTP POST url to "
            "anymail/sendgrid/tracking/ (not anymail/sendgrid/inbound/).",
        ):
            SendGridInboundWebhookView().parse_events(request)

    def test_inbound_payload_posted_to_tracking_url(self):
        self.assertEqual(self.post_inbound(parsed_fields(), url=TRACKING_PATH).status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_other_content_type(self):
        response = Client().post(
            INBOUND_PATH,
            data=b"hello",
            content_type="text/plain",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assert_400(response)

    def test_urlencoded_form_is_read_as_utf8(self):
        # (SendGrid always posts multipart; a urlencoded form is UTF-8 by definition)
        response = Client().post(
            INBOUND_PATH,
            data="text=Caf%C3%A9&from=a%40example.com&charsets=%7B%22text%22%3A%22iso-8859-1%22%7D",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assertEqual(response.status_code, 200)
        message = self.inbound_event().message
        self.assertEqual(message.text, "Café")
        self.assertEqual(message.from_email.addr_spec, "a@example.com")

    def test_receiver_error_is_503_so_sendgrid_retries(self):
        # Inbound Parse drops the message for a 4xx; it retries a 5xx (for up to 72 hours)
        other_receiver = mock_receiver("other_receiver")
        inbound.connect(other_receiver, weak=False)
        self.addCleanup(inbound.disconnect, other_receiver)
        self.inbound_handler.side_effect = RuntimeError("database down")
        with self.assertLogs("anymail.webhooks", level="ERROR"):
            response = self.post_inbound(parsed_fields(), PARSED_FILES)
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.has_header("Retry-After"))
        other_receiver.assert_called_once()
        self.assertEqual(other_receiver.call_args.kwargs["event"].message.subject, "Test subject ✓")


# ---------------------------------------------------------------------------------------------
# Property tests: whatever arrives, the answer is a 200 or a 400 (never a 5xx, which SendGrid
# would retry for 72 hours)
# ---------------------------------------------------------------------------------------------

odd_bytes = st.binary(max_size=40) | st.sampled_from(
    [
        b"",
        b"{}",
        b"[]",
        b"null",
        b"{not json",
        b'{"to": 1}',
        b'{"text": "no-such-charset"}',
        b'{"text": "utf-16"}',
        b'{"text": "rot13"}',
        b'{"attachment1": 7}',
        b'{"attachment1": {"content-id": 5, "filename": ["x"]}}',
        b"NaN",
        b"1e999",
        b"\xff\xfe\xfd",
        "Zoë <zoë@exämple.com>".encode("latin-1", "replace"),
        b"=?utf-8?b?////?= <a@b>",
    ]
)


@st.composite
def mutated_form(draw) -> tuple[list[Field], list[File]]:
    fields = dict(draw(st.sampled_from([parsed_fields(), raw_fields()])))
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=5)):
        fields.pop(name, None)  # dropped fields
    for name in draw(
        st.lists(
            st.sampled_from(
                sorted(fields) + ["envelope", "charsets", "attachment-info", "spam_score"]
            ),
            max_size=4,
        )
    ):
        fields[name] = draw(odd_bytes)  # odd values, bad charsets and bytes
    files = draw(st.lists(st.sampled_from(PARSED_FILES), max_size=2, unique=True))
    return list(fields.items()), files


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridInboundPropertyTests(SendGridInboundTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(form=mutated_form())
    def test_mangled_forms_are_200_or_400(self, form):
        self.inbound_handler.reset_mock()
        fields, files = form
        response = self.post_inbound(fields, files)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            message = self.inbound_event().message
            # The normalized properties never raise, whatever arrived
            for attr in ("from_email", "to", "cc", "subject", "date", "text", "html"):
                getattr(message, attr)
            for attachment in message.attachments:
                attachment.get_content_bytes()
        else:
            self.inbound_handler.assert_not_called()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        form=mutated_form(),
        auth=st.one_of(
            st.none(),
            st.just(""),
            st.just("sg-user:wrong"),
            st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
        ),
    )
    def test_bad_auth_is_always_400_and_never_parsed(self, form, auth):
        fields, files = form
        with mock.patch.object(
            SendGridInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_inbound(fields, files, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()


BIG_DATA = random.Random(4).randbytes(300_000)
# RAW_MIME with a large base64 attachment added (far over SPILL_SIZE)
BIG_RAW_MIME = RAW_MIME.replace(
    b"--mixed--\r\n",
    b'--mixed\r\nContent-Type: application/zip; name="big.zip"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    + encodebytes(BIG_DATA).replace(b"\n", b"\r\n")
    + b"--mixed--\r\n",
)


def open_file_count() -> int | None:
    """How many file descriptors this process has open (None where that can't be told)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SendGridInboundLargeMessageTests(SendGridInboundTestCase):
    """A large raw message (or attachment) is read from, and decoded to, temporary files."""

    def read_during_signal(self, read, fields: list[Field], files: list[File] = ()):
        """read(event), called in a receiver (large content is readable until the response)."""
        results = []
        receiver = lambda sender, event, **kwargs: results.append(read(event))  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.assertEqual(self.post_inbound(fields, files).status_code, 200)
        (result,) = results
        return result

    def test_large_raw_mime(self):
        def read(event):
            message = event.message
            return (
                message.subject,
                message.text,
                [part.get_content_bytes() for part in message.attachments],
                message.as_bytes(),
                event.esp_event.POST["email"],  # (read from its file when asked for)
                event.esp_event.POST["subject"],
            )

        expected = AnymailInboundMessage.parse_raw_mime_bytes(BIG_RAW_MIME)
        self.assertEqual(
            self.read_during_signal(read, raw_fields(email=BIG_RAW_MIME)),
            (
                "Café",
                "Café crème",
                [b"Some notes.", BIG_DATA],
                expected.as_bytes(),
                BIG_RAW_MIME.decode("utf-8", "replace"),
                "Café",
            ),
        )

    def test_large_attachment_file(self):
        files = [("attachment1", b"big.zip", "application/zip", BIG_DATA)]
        info = b'{"attachment1": {"filename": "big.zip", "type": "application/zip"}}'

        def read(event):
            (attachment,) = event.message.attachments
            return attachment.get_filename(), attachment.get_content_bytes()

        self.assertEqual(
            self.read_during_signal(read, parsed_fields(**{"attachment-info": info}), files),
            ("big.zip", BIG_DATA),
        )

    def test_event_id_is_the_digest_of_what_was_posted(self):
        ids = []
        for spool_body in (True, False):
            self.inbound_handler.reset_mock()
            with mock.patch.object(SendGridInboundWebhookView, "spool_body", spool_body):
                self.post_inbound(raw_fields(email=BIG_RAW_MIME))
            ids.append(self.inbound_event().event_id)
        self.assertEqual(ids[0], ids[1])  # (digested a chunk at a time, or all at once)

    def test_no_file_descriptors_leak(self):
        kept = []  # (even with receivers keeping everything they were given)
        receiver = lambda sender, event, **kwargs: kept.append(event)  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.post_inbound(raw_fields(email=BIG_RAW_MIME))  # (anything opened once)
        before = open_file_count()
        if before is None:
            self.skipTest("can't count open files here")
        for _ in range(5):
            self.assertEqual(self.post_inbound(raw_fields(email=BIG_RAW_MIME)).status_code, 200)
        self.assertEqual(open_file_count(), before)

    def test_same_statuses_as_reading_into_memory(self):
        body = multipart_body(raw_fields(email=BIG_RAW_MIME))
        cases = {
            "no closing form boundary": body[: -len(f"--{BOUNDARY}--\r\n")],
            "form cut off in the message": body[: body.index(b"--mixed--")],
            "message without its closing boundary": body.replace(b"--mixed--", b""),
            "truncated base64": body.replace(b"\r\n--mixed--", b"A\r\n--mixed--"),
            "fine": body,
        }
        for name, data in cases.items():
            with self.subTest(name):
                statuses = []
                for spool_body in (True, False):
                    with mock.patch.object(SendGridInboundWebhookView, "spool_body", spool_body):
                        response = Client().post(
                            INBOUND_PATH,
                            data=data,
                            content_type=f"multipart/form-data; boundary={BOUNDARY}",
                            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
                        )
                    statuses.append(response.status_code)
                self.assertEqual(statuses[0], statuses[1])
                self.assertLess(statuses[0], 500)
