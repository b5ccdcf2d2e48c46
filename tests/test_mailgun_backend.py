"""Mailgun backend: each Anymail feature becomes the documented Mailgun v3 messages API request.

Mailgun is faked at requests.Session.request (tests/fakes.py); no test reaches the network.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl

import requests
from django.core import mail
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.http.multipartparser import MultiPartParser
from django.test import override_settings
from django.views.debug import ExceptionReporter

from anymail.backends.mailgun import EmailBackend, MailgunPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image
from tests.fakes import RequestsFakeTestCase

MAILGUN_BACKEND = "anymail.backends.mailgun.EmailBackend"
API_KEY = "key-0123456789abcdef-test"
SENT_ID = "<20160306015544.116301.25145@example.com>"
# The response Mailgun's messages API gives for a successful send
SENT_RESPONSE = {"id": SENT_ID, "message": "Queued. Thank you."}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00fake image data"


@override_settings(EMAIL_BACKEND=MAILGUN_BACKEND, ANYMAIL={"MAILGUN_API_KEY": API_KEY})
class MailgunBackendTestCase(RequestsFakeTestCase):
    default_response_json = SENT_RESPONSE

    def setUp(self):
        super().setUp()
        self.message = EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.net"]
        )

    def sent_request(self) -> dict[str, Any]:
        return self.api_call_kwargs()

    def sent_wire_request(self) -> requests.PreparedRequest:
        """The HTTP request Requests makes of the API call's params (what Mailgun receives)."""
        kwargs = self.sent_request()
        return requests.Request(
            kwargs["method"],
            kwargs["url"],
            data=kwargs["data"],
            files=kwargs["files"],
            headers=kwargs["headers"],
            auth=kwargs["auth"],
        ).prepare()

    def sent_fields(self) -> list[tuple[str, str]]:
        """The form fields Mailgun received, in order (decoding the body as a server would)."""
        request = self.sent_wire_request()
        content_type = request.headers["Content-Type"]
        if content_type.startswith("multipart/form-data"):
            return parse_multipart(request.body, content_type)[0]
        self.assertEqual(content_type, "application/x-www-form-urlencoded")
        return parse_qsl(request.body, keep_blank_values=True, strict_parsing=True)

    def sent_field(self, name: str) -> list[str]:
        return [value for field, value in self.sent_fields() if field == name]

    def sent_files(self) -> list[tuple[str, str, bytes, str]]:
        """(field, filename, content, content_type) of each file in the multipart body."""
        request = self.sent_wire_request()
        content_type = request.headers["Content-Type"]
        self.assertTrue(content_type.startswith("multipart/form-data"), content_type)
        return parse_multipart(request.body, content_type)[1]


def parse_multipart(body: bytes, content_type: str):
    """Decode a multipart/form-data body the way Django (i.e., a real server) would."""
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    parser = MultiPartParser(meta, BytesIO(body), [MemoryFileUploadHandler()], "utf-8")
    post, files = parser.parse()
    fields = [(name, value) for name in post for value in post.getlist(name)]
    file_list = [
        (name, upload.name, upload.read(), upload.content_type)
        for name in files
        for upload in files.getlist(name)
    ]
    return fields, file_list


class MailgunBackendStandardEmailTests(MailgunBackendTestCase):
    def test_send_mail(self):
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@example.com", ["to@example.net"]
        )
        self.assertEqual(sent, 1)
        kwargs = self.assert_api_called("POST", "https://api.mailgun.net/v3/example.com/messages")
        self.assertEqual(kwargs["auth"], ("api", API_KEY))
        # Form fields go to Requests as a dict (a list for a field that may repeat)
        self.assertEqual(
            kwargs["data"],
            {
                "from": ["from@example.com"],
                "to": ["to@example.net"],
                "subject": "Subject here",
                "text": "Here is the message.",
            },
        )
        self.assertEqual(kwargs["files"], [])
        self.assertIsNone(kwargs["headers"])
        self.assertEqual(kwargs["timeout"], 30)

    def test_wire_format_is_utf8_form_encoding(self):
        mail.send_mail("Café ☕", "Grüße", "From <from@example.com>", ["to@example.net"])
        request = self.sent_wire_request()
        self.assertEqual(request.headers["Content-Type"], "application/x-www-form-urlencoded")
        self.assertEqual(
            request.body,
            "from=From+%3Cfrom%40example.com%3E&to=to%40example.net"
            "&subject=Caf%C3%A9+%E2%98%95&text=Gr%C3%BC%C3%9Fe",
        )
        # HTTP basic auth with user "api" and the API key
        self.assertEqual(
            request.headers["Authorization"], "Basic YXBpOmtleS0wMTIzNDU2Nzg5YWJjZGVmLXRlc3Q="
        )

    def test_name_addr_and_all_recipient_types(self):
        msg = EmailMessage(
            "Subject",
            "Message",
            '"Widgets, Inc." <from@example.com>',
            ["Recipient #1 <to1@example.net>", "to2@example.net"],
            cc=["Carbon Copy <cc1@example.net>", "cc2@example.net"],
            bcc=["Blind Copy <bcc1@example.net>", "bcc2@example.net"],
        )
        msg.send()
        self.assertEqual(self.sent_field("from"), ['"Widgets, Inc." <from@example.com>'])
        self.assertEqual(
            self.sent_field("to"), ["Recipient #1 <to1@example.net>", "to2@example.net"]
        )
        self.assertEqual(
            self.sent_field("cc"), ["Carbon Copy <cc1@example.net>", "cc2@example.net"]
        )
        self.assertEqual(
            self.sent_field("bcc"), ["Blind Copy <bcc1@example.net>", "bcc2@example.net"]
        )
        # every recipient is reported queued with Mailgun's one message id
        self.assertEqual(
            {email: (s.message_id, s.status) for email, s in msg.anymail_status.recipients.items()},
            dict.fromkeys(
                [
                    "to1@example.net",
                    "to2@example.net",
                    "cc1@example.net",
                    "cc2@example.net",
                    "bcc1@example.net",
                    "bcc2@example.net",
                ],
                (SENT_ID, "queued"),
            ),
        )

    def test_non_ascii_display_names_and_idn_domains_are_sent_encoded(self):
        # Mailgun copies these fields into the message's headers, so they go out as Django's
        # SMTP backend would send them: RFC 2047 display names, IDNA (punycode) domains
        msg = EmailMessage(
            "Subject",
            "Body",
            "Fröm Ünïcode <from@bücher.example>",
            ["Tō 東京 <to@例え.jp>", "plain@bücher.example"],
            cc=["Çc <cc@bücher.example>"],
            bcc=["Bçc <bcc@bücher.example>"],
            reply_to=["Rëply <reply@bücher.example>"],
        )
        msg.send()
        cases = [
            ("from", "Fröm Ünïcode", "<from@xn--bcher-kva.example>"),
            ("to", "Tō 東京", "<to@xn--r8jz45g.jp>"),
            ("cc", "Çc", "<cc@xn--bcher-kva.example>"),
            ("bcc", "Bçc", "<bcc@xn--bcher-kva.example>"),
            ("h:Reply-To", "Rëply", "<reply@xn--bcher-kva.example>"),
        ]
        for field, display_name, angle_addr in cases:
            with self.subTest(field=field):
                value = self.sent_field(field)[0]
                self.assertTrue(value.isascii(), value)
                self.assertTrue(value.endswith(f" {angle_addr}"), value)
                encoded_name = value[: -len(angle_addr) - 1]
                self.assertRegex(encoded_name, r"^=\?utf-8\?[bq]\?")
                self.assertEqual(str(make_header(decode_header(encoded_name))), display_name)
        self.assertEqual(self.sent_field("to")[1], "plain@xn--bcher-kva.example")
        # The sender domain (from the From address) is the IDNA form, too
        self.assert_api_called("POST", "https://api.mailgun.net/v3/xn--bcher-kva.example/messages")
        # anymail_status is keyed by the addresses as given
        self.assertEqual(
            set(msg.anymail_status.recipients),
            {"to@例え.jp", "plain@bücher.example", "cc@bücher.example", "bcc@bücher.example"},
        )

    def test_multiple_from_emails(self):
        # Changelog v0.10: a comma-separated from_email string (not a list) is allowed;
        # Mailgun takes several From addresses as repeated "from" fields
        self.message.from_email = 'first@example.com, "From, also" <second@example.com>'
        self.message.send()
        kwargs = self.assert_api_called("POST", "https://api.mailgun.net/v3/example.com/messages")
        self.assertEqual(
            kwargs["data"]["from"], ["first@example.com", '"From, also" <second@example.com>']
        )
        self.assertEqual(
            self.sent_field("from"), ["first@example.com", '"From, also" <second@example.com>']
        )
        # (the first From's domain chose the Mailgun sender domain, above)

    def test_reply_to_and_extra_headers(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.net"],
            reply_to=["reply@example.com", "Other <reply2@example.com>"],
            headers={"X-Custom": "custom value", "List-Unsubscribe": "<mailto:u@example.com>"},
        )
        msg.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["h:Reply-To"], "reply@example.com, Other <reply2@example.com>")
        self.assertEqual(fields["h:X-Custom"], "custom value")
        self.assertEqual(fields["h:List-Unsubscribe"], "<mailto:u@example.com>")

    def test_reply_to_header_overrides_reply_to(self):
        msg = EmailMessage(
            "S", "B", "from@example.com", ["to@example.net"], reply_to=["ignored@example.com"],
            headers={"Reply-To": "header@example.com"},
        )  # fmt: skip
        msg.send()
        self.assertEqual(self.sent_field("h:Reply-To"), ["header@example.com"])

    def test_from_header_makes_from_email_the_envelope_sender(self):
        # As Django's SMTP backend: the From header is displayed; from_email is the envelope
        # sender, whose domain (only) Mailgun uses as the sender domain
        msg = EmailMessage(
            "S", "B", "bounces@mail.example.org", ["to@example.net"],
            headers={"From": "Display <display@example.com>"},
        )  # fmt: skip
        msg.send()
        self.assertEqual(self.sent_field("from"), ["Display <display@example.com>"])
        self.assert_api_called("POST", "https://api.mailgun.net/v3/mail.example.org/messages")

    def test_html_message(self):
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["text"], "Text Body")
        self.assertEqual(fields["html"], "<p>HTML Body</p>")

    def test_html_only_message(self):
        msg = EmailMessage("Subject", "<p>HTML only</p>", "from@example.com", ["to@example.net"])
        msg.content_subtype = "html"
        msg.send()
        self.assertEqual(self.sent_field("html"), ["<p>HTML only</p>"])
        self.assertEqual(self.sent_field("text"), [])

    def test_other_alternatives_are_unsupported(self):
        self.message.attach_alternative("{}", "application/json")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Mailgun does not support alternative part with type 'application/json'",
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_attachments(self):
        self.message.attach("test.txt", "plain text content", "text/plain")
        self.message.attach("test.csv", b"a,b\n1,2\n", "text/csv")
        # a MIME part attachment with a filename
        part = MIMEBase("application", "pdf")
        part.set_payload(b"%PDF-1.4 fake")
        part.add_header("Content-Disposition", "attachment", filename="doc.pdf")
        self.message.attach(part)
        self.message.send()
        self.assertEqual(
            self.sent_files(),
            [
                ("attachment", "test.txt", b"plain text content", "text/plain"),
                ("attachment", "test.csv", b"a,b\n1,2\n", "text/csv"),
                ("attachment", "doc.pdf", b"%PDF-1.4 fake", "application/pdf"),
            ],
        )
        # Anymail makes the multipart body itself (fields first, then the files, in order)
        kwargs = self.sent_request()
        self.assertIsInstance(kwargs["data"], bytes)
        self.assertIsNone(kwargs["files"])
        self.assertRegex(kwargs["headers"]["Content-Type"], r"^multipart/form-data; boundary=\w+$")
        self.assertLess(
            kwargs["data"].index(b'name="text"'), kwargs["data"].index(b'name="attachment"')
        )
        self.assertEqual(
            self.sent_fields(),
            [
                ("from", "from@example.com"),
                ("to", "to@example.net"),
                ("subject", "Subject"),
                ("text", "Text Body"),
            ],
        )

    def test_non_ascii_attachment_filename_is_rfc7578_raw_utf8(self):
        # Changelog v4.3: Requests/urllib3 could send filename*=utf-8''... (RFC 2231), which
        # Mailgun drops; RFC 7578 (and Mailgun) want the raw UTF-8 filename
        self.message.attach("Fişier 東京.txt", "content", "text/plain")
        self.message.attach('quote"d\r\nname.txt', "content 2", "text/plain")
        self.message.send()
        # so Anymail builds the multipart body itself, rather than handing Requests files=
        kwargs = self.sent_request()
        self.assertIsNone(kwargs["files"])
        self.assertRegex(
            kwargs["headers"]["Content-Type"], r"^multipart/form-data; boundary=[0-9a-f]{32}$"
        )
        body = kwargs["data"]
        self.assertIsInstance(body, bytes)
        boundary = kwargs["headers"]["Content-Type"].split("boundary=")[1].encode()
        self.assertTrue(body.startswith(b"--" + boundary + b"\r\n"))
        self.assertTrue(body.endswith(b"\r\n--" + boundary + b"--\r\n"))
        self.assertIn(
            b'Content-Disposition: form-data; name="to"\r\n\r\nto@example.net\r\n--', body
        )
        self.assertIn(
            'Content-Disposition: form-data; name="attachment"; filename="Fişier 東京.txt"\r\n'
            "Content-Type: text/plain\r\n".encode(),
            body,
        )
        self.assertNotIn(b"filename*=", body)
        self.assertIn(b'filename="quote%22d%0D%0Aname.txt"', body)
        self.assertEqual(
            [(name, filename) for name, filename, _, _ in self.sent_files()],
            # (Django's parser, like most, leaves the HTML5 form escapes as they are)
            [("attachment", "Fişier 東京.txt"), ("attachment", "quote%22d%0D%0Aname.txt")],
        )

    def test_ascii_attachment_filename_with_quotes_is_percent_encoded(self):
        self.message.attach('quote"d\r\nname.txt', "content", "text/plain")
        self.message.send()
        self.assertEqual(
            self.sent_files(), [("attachment", "quote%22d%0D%0Aname.txt", b"content", "text/plain")]
        )
        body = self.sent_wire_request().body
        self.assertIn(b'filename="quote%22d%0D%0Aname.txt"\r\n', body)
        self.assertNotIn(b"filename*=", body)

    def test_non_ascii_field_values_in_multipart(self):
        self.message.subject = "Sübject ✓"
        self.message.body = "Bödy\r\nwith lines"
        self.message.attach("a.txt", "x", "text/plain")
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["subject"], "Sübject ✓")
        self.assertEqual(fields["text"], "Bödy\r\nwith lines")

    def test_inline_images_are_sent_as_inline_with_content_id_filename(self):
        # Mailgun's "inline" files are referenced by filename in html cid: urls
        cid = attach_inline_image(self.message, PNG, filename="picture.png")
        self.message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        self.message.send()
        self.assertEqual(self.sent_files(), [("inline", cid, PNG, "image/png")])
        self.assertTrue(cid.endswith("@inline"))

    def test_mime_image_with_content_id_but_no_disposition_is_inline(self):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-ID", "<logo123>")
        self.message.attach(image)
        self.message.send()
        self.assertEqual(self.sent_files(), [("inline", "logo123", PNG, "image/png")])

    def test_attachment_without_filename_is_refused(self):
        # Mailgun silently drops an attachment without a filename (changelog v4.3)
        self.message.attach(MIMEText("no filename", "plain"))
        part = MIMEBase("application", "octet-stream")
        part.set_payload(b"data")
        part.add_header("Content-Disposition", "attachment")
        self.message.attachments = [part]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailgun does not support attachments without filenames"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_inline_attachment_without_content_id_is_refused(self):
        image = MIMEImage(PNG, "png")
        image.add_header("Content-Disposition", "inline", filename="pic.png")
        self.message.attach(image)
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Mailgun does not support inline attachments without a Content-ID",
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(ANYMAIL={"MAILGUN_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True})
    def test_ignore_unsupported_drops_attachments_mailgun_would_drop(self):
        part = MIMEBase("application", "octet-stream")
        part.set_payload(b"data")
        part.add_header("Content-Disposition", "attachment")
        self.message.attach(part)
        self.message.attach("kept.txt", "kept", "text/plain")
        self.message.send()
        self.assertEqual(self.sent_files(), [("attachment", "kept.txt", b"kept", "text/plain")])

    def test_attached_email_message(self):
        forwarded = EmailMessage("Fwd subject", "fwd body", "a@example.com", ["b@example.com"])
        self.message.attach("forwarded.eml", forwarded.message(), "message/rfc822")
        self.message.send()
        [(field, filename, content, content_type)] = self.sent_files()
        self.assertEqual(
            (field, filename, content_type), ("attachment", "forwarded.eml", "message/rfc822")
        )
        self.assertIn(b"Subject: Fwd subject", content)

    def test_suppressed_to_header_is_unsupported(self):
        self.message.extra_headers = {"To": "Spoofed <spoofed@example.com>"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailgun does not support a spoofed To header"
        ):
            self.message.send()

    def test_invalid_address_is_refused_before_calling_mailgun(self):
        self.message.to = ["not an email"]
        with self.assertRaises(AnymailInvalidAddress):
            self.message.send()
        self.assert_no_api_call()

    def test_no_recipients_sends_nothing(self):
        self.message.to = []
        self.assertEqual(self.message.send(), 0)
        self.assert_no_api_call()


class MailgunBackendSenderDomainTests(MailgunBackendTestCase):
    """The sender domain is part of the API url (Anymail docs, "Email sender domain")."""

    def test_default_is_from_email_domain(self):
        self.message.from_email = "Sender <sender@from-domain.example.com>"
        self.message.send()
        self.assert_api_called(
            "POST", "https://api.mailgun.net/v3/from-domain.example.com/messages"
        )

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_SENDER_DOMAIN": "mail1.example.com"}
    )
    def test_sender_domain_setting(self):
        # the docs' example: sending from orders@example.com through mail1.example.com
        self.message.from_email = "orders@example.com"
        self.message.send()
        self.assert_api_called("POST", "https://api.mailgun.net/v3/mail1.example.com/messages")
        self.assertEqual(self.sent_field("from"), ["orders@example.com"])

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_SENDER_DOMAIN": "mail1.example.com"}
    )
    def test_envelope_sender_domain_overrides_setting_for_one_message(self):
        # the docs' example: "the 'anything@' is ignored"
        message = EmailMessage(from_email="marketing@example.com", to=["to@example.net"])
        message.envelope_sender = "anything@mail2.example.com"
        message.send()
        self.assert_api_called("POST", "https://api.mailgun.net/v3/mail2.example.com/messages")
        fields = dict(self.sent_fields())
        self.assertEqual(fields["from"], "marketing@example.com")
        self.assertNotIn("anything", json.dumps(fields))  # the envelope sender isn't sent

    def test_legacy_esp_extra_sender_domain(self):
        # pre-2.0 way, still supported; it's not passed on as a form field
        self.message.esp_extra = {"sender_domain": "legacy.example.com", "o:testmode": "yes"}
        self.message.envelope_sender = "bounce@envelope.example.com"
        self.message.send()
        self.assert_api_called("POST", "https://api.mailgun.net/v3/legacy.example.com/messages")
        self.assertEqual(self.sent_field("sender_domain"), [])
        self.assertEqual(self.sent_field("o:testmode"), ["yes"])

    def test_sender_domain_with_slash_is_refused(self):
        # A "/" (even %-encoded) would make the domain call some other Mailgun API path
        cases = [
            ({"esp_extra": {"sender_domain": "example.com/../other"}}, "esp_extra"),
            ({"esp_extra": {"sender_domain": "example.com%2Fother"}}, "esp_extra"),
            ({"esp_extra": {"sender_domain": "example.com%2fother"}}, "esp_extra"),
            ({"envelope_sender": "bounces@mg.example.com%2Fevents"}, "envelope_sender"),
            ({"from_email": "from@example.com%2F"}, "from_email"),
        ]
        for attrs, source in cases:
            with self.subTest(attrs=attrs):
                message = AnymailMessage("S", "B", "from@example.com", ["to@example.net"])
                for attr, value in attrs.items():
                    setattr(message, attr, value)
                with self.assertRaises(AnymailError) as cm:
                    message.send()
                domain = next(iter(attrs.values()))
                if isinstance(domain, dict):
                    domain = domain["sender_domain"]
                domain = domain.rpartition("@")[2]
                self.assertIn(f"Invalid Mailgun sender domain {domain!r}", str(cm.exception))
                self.assertIn(source, str(cm.exception))
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_SENDER_DOMAIN": "mg.example.com/v3"}
    )
    def test_sender_domain_setting_with_slash_is_refused(self):
        with self.assertRaisesMessage(
            AnymailError,
            "Invalid Mailgun sender domain 'mg.example.com/v3' (from the MAILGUN_SENDER_DOMAIN "
            "setting): a domain can't contain '/'.",
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_other_url_characters_in_sender_domain_are_quoted(self):
        self.message.esp_extra = {"sender_domain": "example.com?x=1#y"}
        self.message.send()
        self.assert_api_called(
            "POST", "https://api.mailgun.net/v3/example.com%3Fx%3D1%23y/messages"
        )

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3"}
    )
    def test_eu_region_api_url(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.eu.mailgun.net/v3/example.com/messages")

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3/"}
    )
    def test_api_url_with_trailing_slash(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.eu.mailgun.net/v3/example.com/messages")

    def test_no_from_email_and_no_sender_domain(self):
        self.message.from_email = None
        with self.assertRaisesMessage(AnymailConfigurationError, "MAILGUN_SENDER_DOMAIN"):
            self.message.send()
        self.assert_no_api_call()


class MailgunBackendAnymailFeatureTests(MailgunBackendTestCase):
    def test_metadata(self):
        # v: custom variables; non-string values as JSON (Mailgun stores "custom JSON data")
        self.message.metadata = {"user_id": "12345", "items": 6, "float": 98.6, "ok": True}
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["v:user_id"], "12345")
        self.assertEqual(fields["v:items"], "6")
        self.assertEqual(fields["v:float"], "98.6")
        self.assertEqual(fields["v:ok"], "true")
        self.assertNotIn("recipient-variables", fields)  # metadata alone isn't a batch send

    def test_unserializable_metadata(self):
        self.message.metadata = {"total": date(2020, 1, 1)}
        with self.assertRaisesMessage(AnymailSerializationError, "metadata['total']"):
            self.message.send()
        self.assert_no_api_call()

    def test_send_at_aware_datetime(self):
        # o:deliverytime is an RFC 2822 date
        self.message.send_at = datetime(
            2016, 3, 4, 5, 6, 7, 8000, tzinfo=timezone(timedelta(hours=-8))
        )
        self.message.send()
        self.assertEqual(self.sent_field("o:deliverytime"), ["Fri, 04 Mar 2016 13:06:07 +0000"])

    def test_send_at_naive_datetime_date_and_timestamp(self):
        # naive datetimes and dates are in Django's current timezone (America/Los_Angeles)
        cases = [
            (datetime(2022, 10, 11, 12, 13, 14), "Tue, 11 Oct 2022 19:13:14 +0000"),
            (date(2022, 12, 1), "Thu, 01 Dec 2022 08:00:00 +0000"),
            (1651820889, "Fri, 06 May 2022 07:08:09 +0000"),
        ]
        for send_at, expected in cases:
            with self.subTest(send_at=send_at):
                self.message.send_at = send_at
                self.message.send()
                self.assertEqual(self.sent_field("o:deliverytime"), [expected])

    def test_send_at_string_is_sent_as_given(self):
        # o:deliverytime takes an RFC 2822 date string: a user's string goes as is (as in 6.1)
        for send_at in ["Fri, 04 Mar 2016 05:06:07 -0800", "Thu, 13 Oct 2022 18:02:00 GMT"]:
            with self.subTest(send_at=send_at):
                self.message.send_at = send_at
                self.message.send()
                self.assertEqual(self.sent_field("o:deliverytime"), [send_at])

    def test_tags(self):
        self.message.tags = ["receipt", "repeat user"]
        self.message.send()
        self.assertEqual(self.sent_field("o:tag"), ["receipt", "repeat user"])

    def test_tracking(self):
        self.message.track_clicks = True
        self.message.track_opens = False
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["o:tracking-clicks"], "yes")
        self.assertEqual(fields["o:tracking-opens"], "no")

        self.message.track_clicks = False
        self.message.track_opens = True
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["o:tracking-clicks"], "no")
        self.assertEqual(fields["o:tracking-opens"], "yes")

    def test_template_id_is_unsupported(self):
        # The feature matrix: "No" for Mailgun
        self.message.template_id = "welcome_template"
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailgun does not support template_id"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_esp_extra_merged_into_form_data(self):
        # the docs' example
        message = AnymailMessage(
            subject="S", body="B", from_email="from@example.com", to=["to@example.net"]
        )
        message.esp_extra = {
            "o:testmode": "yes",  # use Mailgun's test mode
        }
        message.tags = ["tag"]
        message.send()
        self.assertEqual(
            self.sent_fields(),
            [
                ("from", "from@example.com"),
                ("to", "to@example.net"),
                ("subject", "S"),
                ("text", "B"),
                ("o:tag", "tag"),
                ("o:testmode", "yes"),
            ],
        )

    def test_esp_extra_overrides_and_list_and_dict_values(self):
        self.message.tags = ["from anymail"]
        self.message.esp_extra = {
            "o:tag": ["extra1", "extra2"],  # replaces Anymail's
            "o:require-tls": "true",
            "t:variables": {"name": "Ann"},  # dicts go as JSON
        }
        self.message.send()
        self.assertEqual(self.sent_field("o:tag"), ["extra1", "extra2"])
        self.assertEqual(self.sent_field("o:require-tls"), ["true"])
        self.assertEqual(json.loads(self.sent_field("t:variables")[0]), {"name": "Ann"})

    @override_settings(
        ANYMAIL={
            "MAILGUN_API_KEY": API_KEY,
            "SEND_DEFAULTS": {"tags": ["myapp"], "metadata": {"source": "default"}},
            "MAILGUN_SEND_DEFAULTS": {
                "esp_extra": {"o:dkim": "no"},  # Disable Mailgun DKIM signatures
            },
        }
    )
    def test_send_defaults(self):
        self.message.tags = ["extra"]
        self.message.send()
        self.assertEqual(self.sent_field("o:dkim"), ["no"])
        self.assertEqual(self.sent_field("o:tag"), ["myapp", "extra"])
        self.assertEqual(self.sent_field("v:source"), ["default"])

    def test_supported_features_match_the_feature_matrix(self):
        features = MailgunPayload.supported_features()
        for feature in (
            "envelope_sender", "metadata", "merge_metadata", "send_at", "tags", "track_clicks",
            "track_opens", "merge_data", "merge_global_data", "esp_extra", "attachments",
            "reply_to", "extra_headers", "multiple_from_emails",
        ):  # fmt: skip
            self.assertTrue(features[feature], feature)
        for feature in ("template_id", "alternatives", "spoofed_to_header"):
            self.assertFalse(features[feature], feature)


class MailgunBackendBatchSendTests(MailgunBackendTestCase):
    """Batch sending: Mailgun "recipient-variables" (one message per "to" recipient)."""

    def recipient_variables(self) -> dict[str, Any]:
        [value] = self.sent_field("recipient-variables")
        return json.loads(value)

    def test_docs_example_merge_data_and_global_data(self):
        # The example from Anymail's Mailgun docs, unchanged
        message = EmailMessage(
            from_email="from@example.com",
            subject="Your order %recipient.order_no% has shipped",
            body="""Hi %recipient.name%,
                    We shipped your order %recipient.order_no%
                    on %recipient.ship_date%.""",
            to=["alice@example.com", "Bob <bob@example.com>"],
        )
        # (you'd probably also set a similar html body with %recipient._____% variables)
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15"  # Anymail maps globals to all recipients
        }
        message.send()
        self.assertEqual(
            self.recipient_variables(),
            {
                "alice@example.com": {"name": "Alice", "order_no": "12345", "ship_date": "May 15"},
                "bob@example.com": {"name": "Bob", "order_no": "54321", "ship_date": "May 15"},
            },
        )
        self.assertEqual(self.sent_field("to"), ["alice@example.com", "Bob <bob@example.com>"])
        self.assertEqual(
            self.sent_field("subject"), ["Your order %recipient.order_no% has shipped"]
        )
        self.assertEqual(message.anymail_status.message_id, SENT_ID)
        self.assertEqual(message.anymail_status.status, {"queued"})

    def test_recipient_values_override_globals_and_missing_recipients_get_globals(self):
        self.message.to = ["a@example.net", "b@example.net", "c@example.net"]
        self.message.merge_data = {"a@example.net": {"offer": "15% off"}, "b@example.net": {}}
        self.message.merge_global_data = {"offer": "5% off", "partner": "Acme"}
        self.message.send()
        self.assertEqual(
            self.recipient_variables(),
            {
                "a@example.net": {"offer": "15% off", "partner": "Acme"},
                "b@example.net": {"offer": "5% off", "partner": "Acme"},
                "c@example.net": {"offer": "5% off", "partner": "Acme"},
            },
        )

    def test_empty_merge_data_is_still_a_batch_send(self):
        self.message.to = ["a@example.net", "Bee <b@example.net>"]
        self.message.merge_data = {}
        self.message.send()
        self.assertEqual(self.recipient_variables(), {"a@example.net": {}, "b@example.net": {}})

    def test_non_ascii_merge_data(self):
        self.message.merge_data = {"to@example.net": {"name": "Zoë 東京"}}
        self.message.send()
        self.assertEqual(self.recipient_variables(), {"to@example.net": {"name": "Zoë 東京"}})

    def test_merge_global_data_alone_is_a_batch_send(self):
        # Anymail's Mailgun docs: merge_global_data is copied to each recipient's section of
        # recipient-variables, which makes the message a batch send (as in 6.1)
        self.message.to = ["a@example.net", "Bee <b@example.net>"]
        self.message.cc = ["cc@example.net"]
        self.message.subject = "Shipped %recipient.ship_date%"
        self.message.merge_global_data = {"ship_date": "May 15", "n": 3}
        self.message.send()
        self.assertEqual(
            self.sent_request()["data"],
            {
                "from": ["from@example.com"],
                "to": ["a@example.net", "Bee <b@example.net>"],
                "cc": ["cc@example.net"],
                "subject": "Shipped %recipient.ship_date%",
                "text": "Text Body",
                "recipient-variables": json.dumps(
                    {
                        "a@example.net": {"ship_date": "May 15", "n": 3},
                        "b@example.net": {"ship_date": "May 15", "n": 3},
                    }
                ),
            },
        )
        self.assertEqual(self.message.anymail_status.status, {"queued"})

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "SEND_DEFAULTS": {"merge_global_data": {"site": "S"}}}
    )
    def test_merge_global_data_from_send_defaults(self):
        # Defaults are merged into every message's merge_global_data, with the same result
        self.message.merge_global_data = {"extra": "E"}
        self.message.send()
        self.assertEqual(
            self.recipient_variables(), {"to@example.net": {"site": "S", "extra": "E"}}
        )
        message = EmailMessage("S", "B", "from@example.com", ["to@example.net"])
        message.send()
        self.assertEqual(self.recipient_variables(), {"to@example.net": {"site": "S"}})

    def test_empty_merge_global_data_is_not_a_batch_send(self):
        self.message.merge_global_data = {}
        self.message.send()
        self.assertEqual(self.sent_field("recipient-variables"), [])

    def test_idn_recipient_variables_match_the_sent_address(self):
        # Mailgun matches recipient-variables keys to the "to" addresses as sent (IDNA); the
        # user's merge_data keys are the addresses as given
        self.message.to = ["Zoë <zoe@bücher.example>", "ascii@example.net"]
        self.message.merge_data = {"zoe@bücher.example": {"name": "Zoë"}}
        self.message.merge_global_data = {"g": 1}
        self.message.send()
        self.assertEqual(self.sent_field("to")[0].rpartition(" ")[2], "<zoe@xn--bcher-kva.example>")
        self.assertEqual(
            self.recipient_variables(),
            {"zoe@xn--bcher-kva.example": {"g": 1, "name": "Zoë"}, "ascii@example.net": {"g": 1}},
        )

    def test_merge_metadata(self):
        # Per-recipient metadata: v: variables that refer to "v:"-prefixed recipient variables
        self.message.to = ["wile@example.com", "Mr. Runner <rr@example.com>", "x@example.com"]
        self.message.metadata = {"notification_batch": "zx912", "order": "default-order"}
        self.message.merge_metadata = {
            "wile@example.com": {"customer": 123, "order": "acme-zxyw"},
            "rr@example.com": {"customer": 45678},
        }
        self.message.merge_data = {"wile@example.com": {"name": "Wile"}}
        self.message.send()
        fields = dict(self.sent_fields())
        self.assertEqual(fields["v:notification_batch"], "zx912")
        self.assertEqual(fields["v:customer"], "%recipient.v:customer%")
        self.assertEqual(fields["v:order"], "%recipient.v:order%")
        self.assertEqual(
            self.recipient_variables(),
            {
                "wile@example.com": {"name": "Wile", "v:customer": 123, "v:order": "acme-zxyw"},
                # missing keys: metadata's value if any, else ""
                "rr@example.com": {"v:customer": 45678, "v:order": "default-order"},
                "x@example.com": {"v:customer": "", "v:order": "default-order"},
            },
        )

    def test_merge_metadata_alone_is_a_batch_send(self):
        self.message.to = ["a@example.net", "b@example.net"]
        self.message.merge_metadata = {"a@example.net": {"id": "A"}}
        self.message.merge_global_data = {"g": "global"}
        self.message.send()
        self.assertEqual(
            self.recipient_variables(),
            {
                "a@example.net": {"g": "global", "v:id": "A"},
                "b@example.net": {"g": "global", "v:id": ""},
            },
        )
        self.assertEqual(self.sent_field("v:id"), ["%recipient.v:id%"])

    def test_merge_data_with_attachments_uses_multipart(self):
        self.message.merge_data = {"to@example.net": {"name": "N"}}
        self.message.attach("a.txt", "A", "text/plain")
        self.message.send()
        self.assertEqual(self.recipient_variables(), {"to@example.net": {"name": "N"}})
        self.assertEqual(len(self.sent_files()), 1)


class MailgunBackendResponseTests(MailgunBackendTestCase):
    def test_anymail_status(self):
        msg = AnymailMessage("S", "B", "from@example.com", ["to1@example.net", "to2@example.net"])
        sent = msg.send()
        self.assertEqual(sent, 1)
        self.assertEqual(msg.anymail_status.message_id, SENT_ID)
        self.assertEqual(msg.anymail_status.status, {"queued"})
        self.assertEqual(msg.anymail_status.recipients["to1@example.net"].status, "queued")
        self.assertEqual(msg.anymail_status.recipients["to2@example.net"].message_id, SENT_ID)
        self.assertEqual(msg.anymail_status.esp_response.json(), SENT_RESPONSE)

    def test_api_error_includes_mailgun_error_text(self):
        self.set_response(
            400,
            json_data={
                "message": "to parameter is not a valid address. please check documentation"
            },
        )
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertIsInstance(err, AnymailRequestsAPIError)
        self.assertEqual(err.status_code, 400)
        self.assertIn("Mailgun API response 400", str(err))
        self.assertIn("to parameter is not a valid address", str(err))
        self.assertIsNone(self.message.anymail_status.message_id)
        self.assertEqual(self.message.anymail_status.recipients, {})

    def test_auth_error(self):
        # Mailgun answers a bad API key with a plain-text 401
        self.set_response(401, text="Forbidden", reason="UNAUTHORIZED")
        with self.assertRaisesMessage(AnymailAPIError, "Forbidden") as cm:
            self.message.send()
        self.assertEqual(cm.exception.status_code, 401)

    def test_domain_not_found(self):
        self.set_response(404, json_data={"message": "Domain not found: example.com"})
        with self.assertRaisesMessage(AnymailAPIError, "Domain not found: example.com"):
            self.message.send()

    def test_server_error(self):
        self.set_response(500, text="Internal Server Error")
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        self.assertEqual(cm.exception.status_code, 500)

    def test_invalid_sender_domain_200_response(self):
        # Changelog v6.0: a bad sender domain got a cryptic "200: OK Mailgun Magnificent API"
        self.set_response(
            200, text="Mailgun Magnificent API", headers={"Content-Type": "text/plain"}
        )
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        message = str(cm.exception)
        self.assertIn("Unexpected response from the Mailgun API", message)
        self.assertIn("sender domain 'example.com' is invalid", message)
        self.assertIn("the message's from_email", message)
        self.assertIn("https://api.mailgun.net/v3/", message)
        self.assertIn("Mailgun Magnificent API", message)  # Mailgun's own text is included

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "MAILGUN_SENDER_DOMAIN": "typo.example.com"}
    )
    def test_invalid_sender_domain_names_the_setting(self):
        self.set_response(200, json_data={"message": "ok?"})  # JSON, but no id
        with self.assertRaisesMessage(
            AnymailAPIError, "sender domain 'typo.example.com' is invalid or not one of your "
            "Mailgun domains (Anymail took it from the MAILGUN_SENDER_DOMAIN setting)"
        ):  # fmt: skip
            self.message.send()

    def test_json_but_not_an_object(self):
        self.set_response(200, json_data=["unexpected"])
        with self.assertRaisesMessage(AnymailAPIError, "Unexpected response from the Mailgun API"):
            self.message.send()

    def test_connection_error(self):
        self.set_error(requests.ConnectionError("Connection refused"))
        with self.assertRaisesMessage(AnymailAPIError, "Connection refused"):
            self.message.send()

    def test_fail_silently(self):
        self.set_response(500, text="Internal Server Error")
        sent = mail.send_mail("S", "B", "from@example.com", ["to@example.net"], fail_silently=True)
        self.assertEqual(sent, 0)

    def test_one_session_for_several_messages(self):
        messages = [
            EmailMessage("S1", "B", "from@example.com", ["a@example.net"]),
            EmailMessage("S2", "B", "from@example.com", ["b@example.net"]),
        ]
        connection = get_connection()
        self.assertEqual(connection.send_messages(messages), 2)
        sessions = {call.args[0] for call in self.api_calls()}
        self.assertEqual(len(sessions), 1)
        self.assertEqual([m.anymail_status.status for m in messages], [{"queued"}, {"queued"}])


class MailgunBackendErrorReportTests(MailgunBackendTestCase):
    """Django's error reports (e.g., mailed to ADMINS) must not show the API key."""

    def assert_error_report_hides_api_key(self, message: Any) -> None:
        try:
            message.send()
        except AnymailError:
            reporter = ExceptionReporter(None, *sys.exc_info())
            reports = [reporter.get_traceback_text(), reporter.get_traceback_html()]
        else:
            self.fail("send() didn't raise")
        for report in reports:
            self.assertIn("send_messages", report)  # (the report has the frames)
            self.assertFalse(API_KEY in report, "API key in error report")

    def test_error_building_the_payload(self):
        message = AnymailMessage(to=["to@example.com"], subject="s", body="b")
        message.metadata = {"order": object()}  # can't be sent
        self.assert_error_report_hides_api_key(message)
        message = AnymailMessage(to=["to@example.com"], subject="s", body="b")
        message.template_id = "unsupported"
        self.assert_error_report_hides_api_key(message)

    def test_error_calling_the_api(self):
        self.set_error(requests.ConnectionError("unreachable"))
        message = AnymailMessage(to=["to@example.com"], subject="s", body="b")
        self.assert_error_report_hides_api_key(message)


class MailgunBackendSettingsTests(RequestsFakeTestCase):
    default_response_json = SENT_RESPONSE

    @override_settings(ANYMAIL={}, EMAIL_BACKEND=MAILGUN_BACKEND)
    def test_missing_api_key(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            mail.send_mail("S", "B", "from@example.com", ["to@example.net"])
        message = str(cm.exception)
        self.assertIn('ANYMAIL = {"MAILGUN_API_KEY": ...}', message)
        self.assertIn("ANYMAIL_MAILGUN_API_KEY", message)
        self.assertIn(" or MAILGUN_API_KEY", message)

    @override_settings(ANYMAIL={}, MAILGUN_API_KEY="bare-key", EMAIL_BACKEND=MAILGUN_BACKEND)
    def test_bare_api_key_setting(self):
        mail.send_mail("S", "B", "from@example.com", ["to@example.net"])
        self.assertEqual(self.api_call_kwargs()["auth"], ("api", "bare-key"))

    @override_settings(
        ANYMAIL=None,
        ANYMAIL_MAILGUN_API_KEY="prefixed-key",
        ANYMAIL_MAILGUN_SENDER_DOMAIN="mg.example.com",
        EMAIL_BACKEND=MAILGUN_BACKEND,
    )
    def test_prefixed_settings(self):
        mail.send_mail("S", "B", "from@example.com", ["to@example.net"])
        self.assert_api_called("POST", "https://api.mailgun.net/v3/mg.example.com/messages")
        self.assertEqual(self.api_call_kwargs()["auth"], ("api", "prefixed-key"))

    @override_settings(ANYMAIL={"MAILGUN_API_KEY": API_KEY}, EMAIL_BACKEND=MAILGUN_BACKEND)
    def test_backend_kwargs_override_settings(self):
        # the docs' "Mixing email backends" example
        alt_mailgun_backend = get_connection(
            "anymail.backends.mailgun.EmailBackend",
            api_key="MAILGUN_API_KEY_FOR_MARKETING",
            sender_domain="marketing.example.com",
            api_url="https://api.eu.mailgun.net/v3",
        )
        self.assertIsInstance(alt_mailgun_backend, EmailBackend)
        EmailMessage(
            "S", "B", "from@example.com", ["to@example.net"], connection=alt_mailgun_backend
        ).send()
        self.assert_api_called(
            "POST", "https://api.eu.mailgun.net/v3/marketing.example.com/messages"
        )
        self.assertEqual(self.api_call_kwargs()["auth"], ("api", "MAILGUN_API_KEY_FOR_MARKETING"))

    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": API_KEY, "REQUESTS_TIMEOUT": 5}, EMAIL_BACKEND=MAILGUN_BACKEND
    )
    def test_requests_timeout(self):
        mail.send_mail("S", "B", "from@example.com", ["to@example.net"])
        self.assertEqual(self.api_call_kwargs()["timeout"], 5)
