"""Mailjet backend: the exact Send API v3 requests it makes, and how it reads the responses.

Mailjet is faked at requests.Session.request (tests/fakes.py); request and response shapes
follow Mailjet's Send API v3 guide.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage

import requests
from django.core import mail
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.test import override_settings

from anymail.backends.mailjet import EmailBackend, MailjetPayload, rfc2047_encode
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import RequestsFakeTestCase, assert_large_attachments_sent_whole

MAILJET_BACKEND = "anymail.backends.mailjet.EmailBackend"
SEND_URL = "https://api.mailjet.com/v3/send"
TEMPLATE_URL = "https://api.mailjet.com/v3/REST/template/176375/detailcontent"
# A 1x1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def mailjet_sent(*recipients: tuple[str, int]) -> dict:
    """A Send API v3 success response: one Sent entry per delivered copy."""
    return {
        "Sent": [
            {
                "Email": email,
                "MessageID": message_id,
                "MessageUUID": f"c1b8e9a0-0000-4000-8000-{message_id % 10**12:012d}",
            }
            for email, message_id in recipients
        ]
    }


def mailjet_template(headers: dict | str) -> dict:
    """A REST template detailcontent GET response (v3 REST's Count/Data/Total envelope)."""
    return {
        "Count": 1,
        "Data": [
            {
                "Headers": headers,
                "Html-part": "<p>Your order {{var:order_no}} has shipped</p>",
                "MJMLContent": "",
                "Text-part": "Your order {{var:order_no}} has shipped",
            }
        ],
        "Total": 1,
    }


# A stored template's headers, as Mailjet's template API gives them
TEMPLATE_HEADERS = {
    "Subject": "Your order has shipped",
    "SenderName": "Shop Team",
    "SenderEmail": "shop@example.com",
    "From": "Shop Team <shop@example.com>",
    "Reply-To": "",
}


@override_settings(
    EMAIL_BACKEND=MAILJET_BACKEND,
    ANYMAIL={"MAILJET_API_KEY": "test-api-key", "MAILJET_SECRET_KEY": "test-secret-key"},
)
class MailjetBackendTestCase(RequestsFakeTestCase):
    default_response_json = mailjet_sent(("to@example.com", 1152921504606846976))

    def setUp(self):
        super().setUp()
        self.message = EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def sent_json(self) -> dict:
        self.assert_api_called("POST", SEND_URL)
        return self.api_call_json()


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


class MailjetSettingsTests(MailjetBackendTestCase):
    def test_request_url_auth_and_headers(self):
        self.message.send()
        kwargs = self.assert_api_called("POST", SEND_URL)
        self.assertEqual(kwargs["auth"], ("test-api-key", "test-secret-key"))
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertEqual(kwargs["timeout"], 30)
        # And on the wire: HTTP basic auth with the API key as user, secret key as password
        response = self.message.anymail_status.esp_response
        self.assertEqual(
            response.request.headers["Authorization"],
            "Basic " + base64.b64encode(b"test-api-key:test-secret-key").decode("ascii"),
        )
        self.assertRegex(response.request.headers["User-Agent"], r"^django-anymail/\S+-mailjet")

    @override_settings(
        ANYMAIL={}, ANYMAIL_MAILJET_API_KEY="prefixed-key", ANYMAIL_MAILJET_SECRET_KEY="prefixed-s"
    )
    def test_prefixed_settings(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["auth"], ("prefixed-key", "prefixed-s"))

    @override_settings(ANYMAIL={}, MAILJET_API_KEY="bare-key", MAILJET_SECRET_KEY="bare-secret")
    def test_bare_settings_fallback(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["auth"], ("bare-key", "bare-secret"))

    @override_settings(
        ANYMAIL={"MAILJET_API_KEY": "anymail-key", "MAILJET_SECRET_KEY": "anymail-secret"},
        MAILJET_API_KEY="bare-key",
        MAILJET_SECRET_KEY="bare-secret",
    )
    def test_anymail_dict_wins_over_bare_settings(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["auth"], ("anymail-key", "anymail-secret"))

    @override_settings(ANYMAIL={"MAILJET_SECRET_KEY": "secret"})
    def test_missing_api_key(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_connection()
        text = str(cm.exception)
        for place in ("MAILJET_API_KEY", "ANYMAIL_MAILJET_API_KEY", '"MAILJET_API_KEY"'):
            self.assertIn(place, text)
        self.assertIn("Mailjet", text)

    @override_settings(ANYMAIL={"MAILJET_API_KEY": "key"})
    def test_missing_secret_key(self):
        with self.assertRaisesMessage(AnymailConfigurationError, "MAILJET_SECRET_KEY"):
            get_connection()

    @override_settings(ANYMAIL={})
    def test_connection_kwargs_override_settings(self):
        connection = get_connection(api_key="kwarg-key", secret_key="kwarg-secret")
        self.message.connection = connection
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["auth"], ("kwarg-key", "kwarg-secret"))

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "key",
            "MAILJET_SECRET_KEY": "secret",
            "MAILJET_API_URL": "https://api.mailjet.example/v3",
        }
    )
    def test_custom_api_url(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.mailjet.example/v3/send")

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "key",
            "MAILJET_SECRET_KEY": "secret",
            "MAILJET_API_URL": "https://api.mailjet.example/v3/",
        }
    )
    def test_custom_api_url_with_trailing_slash(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.mailjet.example/v3/send")

    def test_esp_name(self):
        self.assertEqual(get_connection().esp_name, "Mailjet")


# ---------------------------------------------------------------------------------------------
# Standard Django email features
# ---------------------------------------------------------------------------------------------


class MailjetStandardEmailTests(MailjetBackendTestCase):
    def test_send_mail(self):
        mail.send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com", ["to@example.com"]
        )
        self.assertEqual(
            self.sent_json(),
            {
                "FromEmail": "from@sender.example.com",
                "To": "to@example.com",
                "Subject": "Subject here",
                "Text-part": "Here is the message.",
            },
        )

    def test_name_addr_and_all_recipient_types(self):
        self.set_response(
            200,
            json_data=mailjet_sent(
                ("to1@example.com", 101),
                ("to2@example.com", 102),
                ("cc1@example.com", 103),
                ("cc2@example.com", 104),
                ("bcc1@example.com", 105),
                ("bcc2@example.com", 106),
            ),
        )
        msg = EmailMessage(
            "Subject",
            "Message",
            "From Name <from@example.com>",
            ["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["FromEmail"], "from@example.com")
        self.assertEqual(data["FromName"], "From Name")
        self.assertEqual(data["To"], "Recipient #1 <to1@example.com>, to2@example.com")
        self.assertEqual(data["Cc"], "Carbon Copy <cc1@example.com>, cc2@example.com")
        self.assertEqual(data["Bcc"], "Blind Copy <bcc1@example.com>, bcc2@example.com")
        self.assertNotIn("Recipients", data)  # (Recipients would send separate copies)

    def test_comma_in_display_name_becomes_encoded_word(self):
        # Mailjet's v3 API mis-parses commas in display names, even quoted (docs: quirks)
        msg = EmailMessage(
            "Subject",
            "Message",
            '"Widgets, Inc." <widgets@example.com>',
            ['"Doe, John" <jdoe@example.com>', "Plain Name <plain@example.com>"],
            cc=['"Smith, Ünïcode" <smith@example.com>'],
            bcc=['"Hidden, Person" <hidden@example.com>'],
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["FromName"], "Widgets, Inc.")  # a separate field: no problem
        self.assertEqual(
            data["To"],
            "=?utf-8?b?RG9lLCBKb2hu?= <jdoe@example.com>, Plain Name <plain@example.com>",
        )
        for field, expected_name, addr_spec in [
            ("Cc", "Smith, Ünïcode", "smith@example.com"),
            ("Bcc", "Hidden, Person", "hidden@example.com"),
        ]:
            encoded_name, _, addr = data[field].rpartition(" ")
            self.assertEqual(addr, f"<{addr_spec}>")
            self.assertNotIn(",", data[field])
            self.assertEqual(str(make_header(decode_header(encoded_name))), expected_name)

    def test_long_comma_name_encoded_words_stay_within_limit_and_on_one_line(self):
        name = "Ünïcödé Örgänïzätïön, Départment of Very Long Names and Other Things " * 3
        encoded = rfc2047_encode(name)
        self.assertNotIn("\n", encoded)
        words = encoded.split(" ")
        self.assertGreater(len(words), 1)
        for word in words:
            self.assertLessEqual(len(word), 75)
        self.assertEqual(str(make_header(decode_header(encoded))), name)

    def test_non_ascii_names_and_idn_domains_are_encoded_in_address_strings(self):
        # To, Cc, Bcc and the Reply-To header are header-style strings: RFC 2047 names and
        # IDNA domains, as Django's SMTP backend sends them. FromName/FromEmail are separate
        # fields, so stay Unicode.
        self.set_response(
            200,
            json_data=mailjet_sent(
                ("jorg@xn--bcher-kva.example", 1),
                ("cc@xn--bcher-kva.example", 2),
                ("bcc@example.com", 3),
            ),
        )
        msg = EmailMessage(
            "Subject",
            "Body",
            "Frøm Ñame <from@example.com>",
            ["Jörg <jorg@bücher.example>"],
            cc=['"Ünïcode, Comma" <cc@bücher.example>'],
            bcc=["Tö <bcc@example.com>"],
            reply_to=["Rëply <reply@bücher.example>"],
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["FromName"], "Frøm Ñame")
        self.assertEqual(data["FromEmail"], "from@example.com")
        self.assertIn('"FromName": "Frøm Ñame"'.encode(), self.api_call_kwargs()["data"])
        for field, name, addr in [
            ("To", "Jörg", "jorg@xn--bcher-kva.example"),
            ("Cc", "Ünïcode, Comma", "cc@xn--bcher-kva.example"),
            ("Bcc", "Tö", "bcc@example.com"),
        ]:
            with self.subTest(field=field):
                value = data[field]
                self.assertTrue(value.isascii(), value)
                self.assertNotIn(",", value)
                encoded_name, _, bracketed = value.rpartition(" ")
                self.assertEqual(bracketed, f"<{addr}>")
                self.assertTrue(encoded_name.startswith("=?utf-8?"), encoded_name)
                self.assertEqual(str(make_header(decode_header(encoded_name))), name)
        reply_to = data["Headers"]["Reply-To"]
        self.assertTrue(reply_to.isascii(), reply_to)
        self.assertTrue(reply_to.endswith(" <reply@xn--bcher-kva.example>"), reply_to)
        self.assertEqual(str(make_header(decode_header(reply_to.rpartition(" ")[0]))), "Rëply")
        # Mailjet reports the IDNA-encoded address it sent to: still the same recipient
        recipients = msg.anymail_status.recipients
        self.assertEqual(
            set(recipients), {"jorg@bücher.example", "cc@bücher.example", "bcc@example.com"}
        )
        self.assertEqual(recipients["jorg@bücher.example"].message_id, "1")
        self.assertEqual(recipients["jorg@bücher.example"].status, "sent")
        self.assertEqual(recipients["cc@bücher.example"].message_id, "2")

    def test_html_and_text_bodies(self):
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Text-part"], "Text Body")
        self.assertEqual(data["Html-part"], "<p>HTML Body</p>")

    def test_html_only_message(self):
        msg = EmailMessage("Subject", "<p>HTML Body</p>", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["Html-part"], "<p>HTML Body</p>")
        self.assertNotIn("Text-part", data)

    def test_other_alternative_types_are_refused(self):
        self.message.attach_alternative("{'not': 'html'}", "application/json")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support alternative part with type"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_reply_to_and_extra_headers(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=[
                '"Reply, Name" <reply@example.com>',
                "other@example.com",
            ],
            headers={"X-Custom": "value", "X-Other": "42"},
        )
        msg.send()
        self.assertEqual(
            self.sent_json()["Headers"],
            {
                "Reply-To": "=?utf-8?b?UmVwbHksIE5hbWU=?= <reply@example.com>, other@example.com",
                "X-Custom": "value",
                "X-Other": "42",
            },
        )

    def test_reply_to_header_overrides_reply_to(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["ignored@example.com"],
            headers={"reply-to": "Header Reply <header@example.com>"},
        )
        msg.send()
        self.assertEqual(
            self.sent_json()["Headers"], {"Reply-To": "Header Reply <header@example.com>"}
        )

    def test_from_header_becomes_from_and_from_email_the_envelope_sender(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "envelope@bounces.example.com",
            ["to@example.com"],
            headers={"From": "Header From <header@example.com>"},
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["FromEmail"], "header@example.com")
        self.assertEqual(data["FromName"], "Header From")
        self.assertEqual(data["Sender"], "envelope@bounces.example.com")
        self.assertNotIn("Headers", data)

    def test_spoofed_to_header_is_refused(self):
        msg = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], headers={"To": "x@e.com"}
        )
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support a spoofed To header"
        ):
            msg.send()

    def test_multiple_from_emails_are_refused(self):
        msg = EmailMessage(
            "Subject", "Body", "one@example.com, two@example.com", ["to@example.com"]
        )
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support multiple from emails"
        ):
            msg.send()

    def test_attachments(self):
        text_content = "• Item one\n• Item two\n"
        self.message.attach("test.txt", text_content, "text/plain")
        self.message.attach("test.pdf", b"%PDF-1.4 fake", "application/pdf")
        mime_part = MIMEBase("application", "vnd.example")
        mime_part.set_payload(b"\x00\x01binary")
        mime_part.add_header("Content-Disposition", "attachment", filename="data.bin")
        self.message.attach(mime_part)
        self.message.send()
        data = self.sent_json()
        self.assertEqual(
            data["Attachments"],
            [
                {
                    "Content-type": "text/plain",
                    "Filename": "test.txt",
                    "content": "4oCiIEl0ZW0gb25lCuKAoiBJdGVtIHR3bwo=",
                },
                {
                    "Content-type": "application/pdf",
                    "Filename": "test.pdf",
                    "content": "JVBERi0xLjQgZmFrZQ==",
                },
                {
                    "Content-type": "application/vnd.example",
                    "Filename": "data.bin",
                    "content": "AAFiaW5hcnk=",
                },
            ],
        )
        self.assertNotIn("Inline_attachments", data)

    def test_unnamed_attachment_gets_empty_filename(self):
        self.message.attach(None, b"content", "application/octet-stream")
        self.message.send()
        self.assertEqual(
            self.sent_json()["Attachments"],
            [
                {
                    "Content-type": "application/octet-stream",
                    "Filename": "",
                    "content": "Y29udGVudA==",
                }
            ],
        )

    def test_inline_image_uses_content_id_as_filename(self):
        # v3 inline attachments are referenced in HTML as cid:<Filename>
        cid = attach_inline_image(self.message, PNG_BYTES, filename="logo.png")
        self.message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        self.message.send()
        data = self.sent_json()
        self.assertTrue(cid.endswith("@inline"))
        self.assertEqual(
            data["Inline_attachments"],
            [
                {
                    "Content-type": "image/png",
                    "Filename": cid,
                    "content": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg"
                    "AAACAAFUok9dAAAAAElFTkSuQmCC",
                }
            ],
        )
        self.assertEqual(data["Html-part"], f'<img src="cid:{cid}">')
        self.assertNotIn("Attachments", data)

    def test_image_with_content_id_but_no_disposition_is_inline(self):
        image = MIMEImage(PNG_BYTES, "png")
        image["Content-ID"] = "<my-image@example.com>"
        self.message.attach(image)
        self.message.send()
        (inline,) = self.sent_json()["Inline_attachments"]
        self.assertEqual(inline["Filename"], "my-image@example.com")
        self.assertEqual(inline["Content-type"], "image/png")

    def test_empty_to_with_cc_only(self):
        self.set_response(200, json_data=mailjet_sent(("cc@example.com", 7)))
        msg = EmailMessage("Subject", "Body", "from@example.com", cc=["cc@example.com"])
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["Cc"], "cc@example.com")
        self.assertNotIn("To", data)
        self.assertEqual(msg.anymail_status.recipients["cc@example.com"].message_id, "7")

    def test_empty_subject_is_omitted(self):
        # (so that a stored template's subject applies; see the template tests)
        msg = EmailMessage(body="Body", from_email="from@example.com", to=["to@example.com"])
        msg.send()
        self.assertNotIn("Subject", self.sent_json())

    def test_no_recipients_makes_no_api_call(self):
        msg = EmailMessage("Subject", "Body", "from@example.com", [])
        self.assertEqual(msg.send(), 0)
        self.assert_no_api_call()

    def test_header_line_break_is_refused(self):
        msg = EmailMessage(
            "Subject\nBcc: evil@example.com", "Body", "from@example.com", ["to@example.com"]
        )
        with self.assertRaises(BadHeaderError):
            msg.send()
        self.assert_no_api_call()


# ---------------------------------------------------------------------------------------------
# Anymail features
# ---------------------------------------------------------------------------------------------


class MailjetAnymailFeatureTests(MailjetBackendTestCase):
    def setUp(self):
        super().setUp()
        self.message = AnymailMessage(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def test_feature_matrix(self):
        self.assertEqual(
            MailjetPayload.supported_features(),
            {
                "reply_to": True,
                "extra_headers": True,
                "spoofed_to_header": False,
                "alternatives": False,
                "attachments": True,
                "multiple_from_emails": False,
                "envelope_sender": True,
                "metadata": True,
                "send_at": False,
                "tags": True,
                "track_clicks": True,
                "track_opens": True,
                "template_id": True,
                "merge_data": True,
                "merge_global_data": True,
                "merge_metadata": True,
                "esp_extra": True,
            },
        )

    def test_envelope_sender(self):
        self.message.envelope_sender = "Bounces <bounce-handler@bounces.example.com>"
        self.message.send()
        self.assertEqual(self.sent_json()["Sender"], "bounce-handler@bounces.example.com")

    def test_metadata_is_json_event_payload(self):
        self.message.metadata = {"user_id": "12345", "items": 6, "nested": {"ok": True}}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(
            json.loads(data["Mj-EventPayLoad"]),
            {"user_id": "12345", "items": 6, "nested": {"ok": True}},
        )
        self.assertIsInstance(data["Mj-EventPayLoad"], str)

    def test_unserializable_metadata(self):
        from decimal import Decimal

        self.message.metadata = {"price": Decimal("19.99")}
        with self.assertRaisesMessage(AnymailSerializationError, "price"):
            self.message.send()
        self.assert_no_api_call()

    def test_send_at_is_refused(self):
        self.message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support send_at"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_send_at_string_is_refused(self):
        # (A str send_at reaches the payload as given; Mailjet can't schedule it either way)
        self.message.send_at = "2030-01-01 12:00:00"
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support send_at"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "k",
            "MAILJET_SECRET_KEY": "s",
            "IGNORE_UNSUPPORTED_FEATURES": True,
        }
    )
    def test_send_at_ignored_when_allowed(self):
        self.message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "FromEmail": "from@example.com",
                "To": "to@example.com",
                "Subject": "Subject",
                "Text-part": "Text Body",
            },
        )

    def test_single_tag_is_campaign(self):
        self.message.tags = ["receipt"]
        self.message.send()
        self.assertEqual(self.sent_json()["Mj-campaign"], "receipt")

    def test_multiple_tags_are_refused(self):
        self.message.tags = ["receipt", "repeat-user"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Mailjet does not support multiple tags"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "k",
            "MAILJET_SECRET_KEY": "s",
            "IGNORE_UNSUPPORTED_FEATURES": True,
        }
    )
    def test_multiple_tags_use_first_when_ignoring_unsupported(self):
        self.message.tags = ["receipt", "repeat-user"]
        self.message.send()
        self.assertEqual(self.sent_json()["Mj-campaign"], "receipt")

    def test_tracking(self):
        # Mailjet: 1 disables tracking, 2 enables it (0 would be the account default)
        self.message.track_opens = True
        self.message.track_clicks = False
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Mj-trackopen"], 2)
        self.assertEqual(data["Mj-trackclick"], 1)

        self.message.track_opens = False
        self.message.track_clicks = True
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Mj-trackopen"], 1)
        self.assertEqual(data["Mj-trackclick"], 2)

    def test_tracking_unset_leaves_account_default(self):
        self.message.send()
        data = self.sent_json()
        self.assertNotIn("Mj-trackopen", data)
        self.assertNotIn("Mj-trackclick", data)

    def test_str_template_id_is_sent_as_given(self):
        self.message.template_id = "176375"
        self.message.merge_global_data = {"ship_date": "May 15"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Mj-TemplateID"], "176375")  # as 6.1: not converted to an int
        self.assertIs(data["Mj-TemplateLanguage"], True)
        self.assertEqual(data["Vars"], {"ship_date": "May 15"})
        self.assertEqual(data["To"], "to@example.com")
        self.assertNotIn("Messages", data)

    def test_int_template_id(self):
        self.message.template_id = 176375
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Mj-TemplateID"], 176375)
        self.assertIs(data["Mj-TemplateLanguage"], True)

    def test_docs_stored_template_example(self):
        # From the Mailjet "Batch sending/merge and ESP templates" docs, unchanged
        self.set_response(200, json_data=mailjet_template(TEMPLATE_HEADERS))
        self.set_response(
            200,
            json_data=mailjet_sent(("alice@example.com", 1001), ("bob@example.com", 1002)),
        )
        message = EmailMessage(
            # omit subject and body (or set to None) to use template content
            to=["alice@example.com", "Bob <bob@example.com>"]
        )
        message.template_id = "176375"  # Mailjet numeric template id
        message.from_email = None  # Use the From address stored with the template
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15",
        }
        message.send()
        # "Use the From address stored with the template": Mailjet's v3 Send API requires
        # FromEmail, so Anymail first asks Mailjet's template API for the template's sender
        self.assertEqual(len(self.api_calls()), 2)
        lookup = self.assert_api_called("GET", TEMPLATE_URL, index=0)
        self.assertEqual(lookup["auth"], ("test-api-key", "test-secret-key"))
        self.assertIsNone(lookup.get("data"))
        sender = {"FromEmail": "shop@example.com", "FromName": "Shop Team"}
        self.assertEqual(
            self.sent_json(),
            {
                "Messages": [
                    {
                        **sender,
                        "Mj-TemplateID": "176375",
                        "Mj-TemplateLanguage": True,
                        "To": "alice@example.com",
                        "Vars": {"ship_date": "May 15", "name": "Alice", "order_no": "12345"},
                    },
                    {
                        **sender,
                        "Mj-TemplateID": "176375",
                        "Mj-TemplateLanguage": True,
                        "To": "Bob <bob@example.com>",
                        "Vars": {"ship_date": "May 15", "name": "Bob", "order_no": "54321"},
                    },
                ]
            },
        )
        self.assertEqual(message.anymail_status.message_id, {"1001", "1002"})
        self.assertEqual(message.anymail_status.status, {"sent"})
        self.assertEqual(message.anymail_status.recipients["alice@example.com"].message_id, "1001")
        self.assertEqual(message.anymail_status.recipients["bob@example.com"].message_id, "1002")

    def test_docs_on_the_fly_template_example(self):
        self.set_response(
            200,
            json_data=mailjet_sent(("alice@example.com", 1001), ("bob@example.com", 1002)),
        )
        message = EmailMessage(
            from_email="orders@example.com",
            to=["alice@example.com", "Bob <bob@example.com>"],
            subject="Your order has shipped",  # subject doesn't support on-the-fly merge fields
            # Use [[var:FIELD]] to for on-the-fly merge into plaintext or html body:
            body="Dear [[var:name]]: Your order [[var:order_no]] shipped on [[var:ship_date]].",
        )
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15",
        }
        message.send()
        common = {
            "FromEmail": "orders@example.com",
            "Subject": "Your order has shipped",
            "Text-part": "Dear [[var:name]]: Your order [[var:order_no]] shipped on "
            "[[var:ship_date]].",
        }
        self.assertEqual(
            self.sent_json(),
            {
                "Messages": [
                    {
                        **common,
                        "To": "alice@example.com",
                        "Vars": {"ship_date": "May 15", "name": "Alice", "order_no": "12345"},
                    },
                    {
                        **common,
                        "To": "Bob <bob@example.com>",
                        "Vars": {"ship_date": "May 15", "name": "Bob", "order_no": "54321"},
                    },
                ]
            },
        )
        self.assertNotIn("Mj-TemplateLanguage", self.sent_json()["Messages"][0])

    def test_merge_data_with_cc_and_bcc(self):
        # Anymail 6.0 removed the limitation on cc/bcc with merge_data: each message has them
        self.set_response(
            200,
            json_data=mailjet_sent(
                ("to1@example.com", 11),
                ("cc@example.com", 12),
                ("bcc@example.com", 13),
                ("to2@example.com", 21),
                ("cc@example.com", 22),
                ("bcc@example.com", 23),
            ),
        )
        self.message.to = ["to1@example.com", "Two <to2@example.com>"]
        self.message.cc = ['"CC, Person" <cc@example.com>']
        self.message.bcc = ["bcc@example.com"]
        self.message.merge_data = {"to1@example.com": {"name": "One"}}
        self.message.send()
        messages = self.sent_json()["Messages"]
        self.assertEqual([m["To"] for m in messages], ["to1@example.com", "Two <to2@example.com>"])
        for message in messages:
            self.assertEqual(message["Cc"], "=?utf-8?b?Q0MsIFBlcnNvbg==?= <cc@example.com>")
            self.assertEqual(message["Bcc"], "bcc@example.com")
        self.assertEqual(messages[0]["Vars"], {"name": "One"})
        self.assertNotIn("Vars", messages[1])  # no merge data for to2, and no global data
        recipients = self.message.anymail_status.recipients
        self.assertEqual(recipients["to1@example.com"].message_id, "11")
        self.assertEqual(recipients["to2@example.com"].message_id, "21")
        # cc and bcc get a copy of each message; Anymail reports the first
        self.assertEqual(recipients["cc@example.com"].message_id, "12")
        self.assertEqual(recipients["bcc@example.com"].message_id, "13")
        self.assertEqual(self.message.anymail_status.status, {"sent"})

    def test_empty_merge_data_is_still_a_batch_send(self):
        self.set_response(
            200, json_data=mailjet_sent(("to1@example.com", 1), ("to2@example.com", 2))
        )
        self.message.to = ["to1@example.com", "to2@example.com"]
        self.message.merge_data = {}
        self.message.send()
        messages = self.sent_json()["Messages"]
        self.assertEqual([m["To"] for m in messages], ["to1@example.com", "to2@example.com"])
        for message in messages:
            self.assertNotIn("Vars", message)
            self.assertEqual(message["Text-part"], "Text Body")

    def test_merge_metadata(self):
        self.set_response(
            200, json_data=mailjet_sent(("wile@example.com", 1), ("rr@example.com", 2))
        )
        self.message.to = ["wile@example.com", "Mr. Runner <rr@example.com>"]
        self.message.metadata = {"notification_batch": "zx912", "order": "default"}
        self.message.merge_metadata = {
            "wile@example.com": {"customer": 123, "order": "acme-zxyw"},
            "rr@example.com": {"customer": 45678, "order": "acme-wblt"},
        }
        self.message.send()
        messages = self.sent_json()["Messages"]
        self.assertEqual(messages[0]["To"], "wile@example.com")
        self.assertEqual(messages[1]["To"], '"Mr. Runner" <rr@example.com>')
        self.assertEqual(
            json.loads(messages[0]["Mj-EventPayLoad"]),
            {"notification_batch": "zx912", "order": "acme-zxyw", "customer": 123},
        )
        self.assertEqual(
            json.loads(messages[1]["Mj-EventPayLoad"]),
            {"notification_batch": "zx912", "order": "acme-wblt", "customer": 45678},
        )

    def test_merge_global_data_alone_is_not_a_batch(self):
        self.message.to = ["to1@example.com", "to2@example.com"]
        self.message.merge_global_data = {"site": "Example"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["To"], "to1@example.com, to2@example.com")
        self.assertEqual(data["Vars"], {"site": "Example"})
        self.assertNotIn("Messages", data)

    def test_esp_extra_docs_example(self):
        my_event_tracking_id = "order-5678"
        self.message.tags = ["receipt"]
        self.message.esp_extra = {
            # Mailjet v3.0 Send API options:
            "Mj-prio": 3,  # Use Mailjet critically-high priority queue
            "Mj-CustomID": my_event_tracking_id,
            "Mj-campaign": "overridden-campaign",  # esp_extra wins conflicts
        }
        self.message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "FromEmail": "from@example.com",
                "To": "to@example.com",
                "Subject": "Subject",
                "Text-part": "Text Body",
                "Mj-campaign": "overridden-campaign",
                "Mj-prio": 3,
                "Mj-CustomID": "order-5678",
            },
        )

    def test_esp_extra_in_batch_applies_to_each_message(self):
        self.set_response(
            200, json_data=mailjet_sent(("to1@example.com", 1), ("to2@example.com", 2))
        )
        self.message.to = ["to1@example.com", "to2@example.com"]
        self.message.merge_data = {}
        self.message.esp_extra = {"Mj-prio": 1, "Vars": {"forced": "yes"}}
        self.message.send()
        for message in self.sent_json()["Messages"]:
            self.assertEqual(message["Mj-prio"], 1)
            self.assertEqual(message["Vars"], {"forced": "yes"})

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "k",
            "MAILJET_SECRET_KEY": "s",
            "SEND_DEFAULTS": {"tags": ["global-tag"], "esp_extra": {"Mj-prio": 1}},
            "MAILJET_SEND_DEFAULTS": {"esp_extra": {"Mj-prio": 3, "Mj-deduplicatecampaign": 1}},
        }
    )
    def test_send_defaults(self):
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["Mj-campaign"], "global-tag")
        self.assertEqual(data["Mj-prio"], 3)
        self.assertEqual(data["Mj-deduplicatecampaign"], 1)


class MailjetTemplateSenderTests(MailjetBackendTestCase):
    """template_id with from_email = None: the sender stored with the template is used."""

    def setUp(self):
        super().setUp()
        self.message = EmailMessage(to=["to@example.com"])
        self.message.template_id = "176375"
        self.message.from_email = None  # (explicitly, after creation, as the docs say)

    def test_from_header_of_template_becomes_from_email_and_name(self):
        self.set_response(200, json_data=mailjet_template(TEMPLATE_HEADERS))
        self.message.send()
        self.assertEqual(len(self.api_calls()), 2)
        lookup = self.assert_api_called("GET", TEMPLATE_URL, index=0)
        self.assertEqual(lookup["auth"], ("test-api-key", "test-secret-key"))
        self.assertEqual(lookup["timeout"], 30)
        self.assertIsNone(lookup.get("data"))
        self.assertEqual(
            self.sent_json(),
            {
                "FromEmail": "shop@example.com",
                "FromName": "Shop Team",
                "To": "to@example.com",
                "Mj-TemplateID": "176375",
                "Mj-TemplateLanguage": True,
            },
        )
        self.assertEqual(self.message.anymail_status.status, {"sent"})

    def test_comma_in_template_from_name(self):
        # Mailjet doesn't quote the display name in the template's From
        headers = dict(TEMPLATE_HEADERS, From="Widgets, Inc. <shop@example.com>")
        self.set_response(200, json_data=mailjet_template(headers))
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["FromEmail"], "shop@example.com")
        self.assertEqual(data["FromName"], "Widgets, Inc.")

    def test_from_without_display_name(self):
        headers = {"Subject": "Hi", "From": "shop@example.com"}
        self.set_response(200, json_data=mailjet_template(headers))
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["FromEmail"], "shop@example.com")
        self.assertNotIn("FromName", data)

    def test_sender_email_and_name_without_from(self):
        headers = {"Subject": "Hi", "SenderName": "Shop", "SenderEmail": "shop@example.com"}
        self.set_response(200, json_data=mailjet_template(headers))
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["FromEmail"], "shop@example.com")
        self.assertEqual(data["FromName"], "Shop")

    def test_template_without_sender_is_a_clear_error(self):
        for headers in ({"Subject": "Hi", "From": "", "SenderEmail": ""}, {}, ""):
            with self.subTest(headers=headers):
                self.mock_request.reset_mock()
                self.set_response(200, json_data=mailjet_template(headers))
                with self.assertRaises(AnymailRequestsAPIError) as cm:
                    self.message.send()
                self.assertIn("Mailjet template '176375' has no sender", str(cm.exception))
                self.assertIn("from_email", str(cm.exception))
                self.assertIs(cm.exception.email_message, self.message)
                self.assertEqual(len(self.api_calls()), 1)  # no send without a sender
                self.assert_api_called("GET", TEMPLATE_URL)

    def test_unknown_template_is_a_clear_error(self):
        self.set_response(
            404, json_data={"ErrorInfo": "", "ErrorMessage": "Object not found", "StatusCode": 404}
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertEqual(cm.exception.status_code, 404)
        self.assertEqual(
            str(cm.exception).splitlines()[0],
            "Could not get Mailjet template '176375''s sender (from_email is None): "
            "Mailjet API response 404 (NOT_FOUND): Object not found",
        )
        self.assertEqual(len(self.api_calls()), 1)

    def test_malformed_template_response(self):
        for body in ({"Count": 0, "Data": [], "Total": 0}, {"Data": [{}]}, ["x"]):
            with self.subTest(body=body):
                self.mock_request.reset_mock()
                self.set_response(200, json_data=body)
                with self.assertRaisesMessage(
                    AnymailRequestsAPIError,
                    "Invalid Mailjet template API response for template '176375'",
                ):
                    self.message.send()
                self.assertEqual(len(self.api_calls()), 1)

    def test_template_id_is_quoted_in_the_url(self):
        self.message.template_id = "a name/with spaces"
        self.set_response(200, json_data=mailjet_template(TEMPLATE_HEADERS))
        self.message.send()
        self.assert_api_called(
            "GET",
            "https://api.mailjet.com/v3/REST/template/a%20name%2Fwith%20spaces/detailcontent",
            index=0,
        )
        self.assertEqual(self.sent_json()["Mj-TemplateID"], "a name/with spaces")

    @override_settings(
        ANYMAIL={
            "MAILJET_API_KEY": "key",
            "MAILJET_SECRET_KEY": "secret",
            "MAILJET_API_URL": "https://api.mailjet.example/v3",
        }
    )
    def test_custom_api_url(self):
        self.set_response(200, json_data=mailjet_template(TEMPLATE_HEADERS))
        self.message.send()
        self.assert_api_called(
            "GET", "https://api.mailjet.example/v3/REST/template/176375/detailcontent", index=0
        )
        self.assert_api_called("POST", "https://api.mailjet.example/v3/send", index=1)

    def test_from_email_given_makes_no_lookup(self):
        self.message.from_email = "Orders <orders@example.com>"
        self.message.send()
        self.assertEqual(len(self.api_calls()), 1)
        data = self.sent_json()
        self.assertEqual((data["FromEmail"], data["FromName"]), ("orders@example.com", "Orders"))

    def test_from_email_in_esp_extra_makes_no_lookup(self):
        self.message.esp_extra = {"FromEmail": "extra@example.com"}
        self.message.send()
        self.assertEqual(len(self.api_calls()), 1)
        self.assertEqual(self.sent_json()["FromEmail"], "extra@example.com")

    def test_no_template_makes_no_lookup(self):
        msg = EmailMessage("Subject", "Body", to=["to@example.com"])
        msg.from_email = None
        msg.send()
        self.assertEqual(len(self.api_calls()), 1)
        self.assertNotIn("FromEmail", self.sent_json())

    def test_connection_without_send_messages_uses_one_session(self):
        # (post_to_esp opens a session itself when used directly)
        self.set_response(200, json_data=mailjet_template(TEMPLATE_HEADERS))
        connection = get_connection()
        payload = connection.build_message_payload(self.message, connection.send_defaults)
        connection.post_to_esp(payload, self.message)
        sessions = [call.args[0] for call in self.api_calls()]
        self.assertEqual(len(sessions), 2)
        self.assertIs(sessions[0], sessions[1])
        self.assertIsNone(connection.session)  # and closed it again


# ---------------------------------------------------------------------------------------------
# Send status and errors
# ---------------------------------------------------------------------------------------------


class MailjetResponseTests(MailjetBackendTestCase):
    def test_single_recipient_status(self):
        self.set_response(200, json_data=mailjet_sent(("to@example.com", 1152921504606846976)))
        self.assertEqual(self.message.send(), 1)
        status = self.message.anymail_status
        self.assertEqual(status.message_id, "1152921504606846976")
        self.assertEqual(status.status, {"sent"})
        self.assertEqual(status.recipients["to@example.com"].status, "sent")
        self.assertEqual(status.recipients["to@example.com"].message_id, "1152921504606846976")
        self.assertEqual(status.esp_response.json()["Sent"][0]["Email"], "to@example.com")

    def test_per_recipient_message_ids(self):
        self.set_response(
            200,
            json_data=mailjet_sent(
                ("to1@example.com", 20547681647433000), ("cc@example.com", 20547681647433001)
            ),
        )
        msg = EmailMessage(
            "Subject", "Body", "from@example.com", ["to1@example.com"], cc=["cc@example.com"]
        )
        msg.send()
        self.assertEqual(msg.anymail_status.message_id, {"20547681647433000", "20547681647433001"})
        self.assertEqual(
            msg.anymail_status.recipients["cc@example.com"].message_id, "20547681647433001"
        )

    def test_response_emails_match_case_insensitively_and_keep_sent_case(self):
        self.set_response(200, json_data=mailjet_sent(("mixed.case@example.com", 5)))
        msg = EmailMessage("Subject", "Body", "from@example.com", ["Mixed.Case@Example.com"])
        msg.send()
        self.assertEqual(list(msg.anymail_status.recipients), ["Mixed.Case@Example.com"])
        self.assertEqual(msg.anymail_status.recipients["Mixed.Case@Example.com"].message_id, "5")

    def test_recipient_missing_from_sent_is_unknown(self):
        self.set_response(200, json_data=mailjet_sent(("to1@example.com", 9)))
        msg = EmailMessage(
            "Subject", "Body", "from@example.com", ["to1@example.com", "to2@example.com"]
        )
        msg.send()
        recipients = msg.anymail_status.recipients
        self.assertEqual(recipients["to1@example.com"].status, "sent")
        self.assertEqual(recipients["to2@example.com"].status, "unknown")
        self.assertIsNone(recipients["to2@example.com"].message_id)
        self.assertEqual(msg.anymail_status.status, {"sent", "unknown"})

    def test_sent_entries_matching_no_recipient_are_reported(self):
        # E.g., a recipient added through esp_extra: Mailjet says it sent to them, so say so
        self.set_response(
            200,
            json_data=mailjet_sent(("to@example.com", 11), ("Extra@Example.com", 12)),
        )
        self.message.esp_extra = {"Bcc": "Extra@Example.com"}
        self.message.send()
        recipients = self.message.anymail_status.recipients
        self.assertEqual(set(recipients), {"to@example.com", "Extra@Example.com"})
        self.assertEqual(recipients["Extra@Example.com"].status, "sent")
        self.assertEqual(recipients["Extra@Example.com"].message_id, "12")
        self.assertEqual(recipients["to@example.com"].message_id, "11")
        self.assertEqual(self.message.anymail_status.message_id, {"11", "12"})
        self.assertEqual(self.message.anymail_status.status, {"sent"})

    def test_api_error_includes_mailjet_error_message(self):
        self.set_response(
            400,
            json_data={
                "ErrorInfo": "",
                "ErrorMessage": 'Missing "To" or "Recipients" property',
                "StatusCode": 400,
            },
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertEqual(err.status_code, 400)
        self.assertEqual(err.esp_name, "Mailjet")
        first_line = str(err).splitlines()[0]
        self.assertEqual(
            first_line,
            'Mailjet API response 400 (BAD_REQUEST): Missing "To" or "Recipients" property',
        )
        self.assertIsInstance(err, AnymailAPIError)
        self.assertIs(err.email_message, self.message)

    def test_api_error_with_error_info(self):
        self.set_response(
            400,
            json_data={
                "ErrorInfo": "Bad Request",
                "ErrorMessage": "Invalid characters detected",
                "StatusCode": 400,
            },
        )
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, "Invalid characters detected Bad Request"
        ):
            self.message.send()

    def test_unauthorized_with_empty_body(self):
        self.set_response(401, text="", reason="Unauthorized")
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertEqual(
            str(cm.exception).splitlines()[0], "Mailjet API response 401 (Unauthorized)"
        )
        self.assertEqual(cm.exception.status_code, 401)

    def test_server_error_with_html_body(self):
        self.set_response(503, text="<html>Service Unavailable</html>")
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertIn("Mailjet API response 503", str(cm.exception))
        self.assertIn("<html>Service Unavailable</html>", str(cm.exception))

    def test_invalid_json_success_response(self):
        self.set_response(200, text="not json")
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, "Invalid JSON in Mailjet API response"
        ):
            self.message.send()

    def test_success_response_without_sent_list(self):
        self.set_response(200, json_data={"Messages": []})
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, "Invalid Mailjet API response format: expected a 'Sent' list"
        ):
            self.message.send()

    def test_success_response_with_malformed_sent_items(self):
        for sent in (
            [{"Email": "to@example.com"}],
            ["to@example.com"],
            [{"Email": 7, "MessageID": 1}],
        ):
            with self.subTest(sent=sent):
                self.set_response(200, json_data={"Sent": sent})
                with self.assertRaises(AnymailRequestsAPIError):
                    self.message.send()

    def test_network_error(self):
        self.set_error(requests.ConnectionError("connection refused"))
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, "Error calling Mailjet API at https://api.mailjet.com/v3/send"
        ):
            self.message.send()

    def test_fail_silently(self):
        self.set_response(400, json_data={"ErrorMessage": "Bad", "StatusCode": 400})
        self.assertEqual(self.message.send(fail_silently=True), 0)

    def test_all_unknown_status_is_not_refused(self):
        # Mailjet never reports rejected recipients in "Sent", so nothing is "refused" here
        self.set_response(200, json_data={"Sent": []})
        self.message.send()
        self.assertEqual(self.message.anymail_status.status, {"unknown"})

    def test_backend_class(self):
        self.assertIsInstance(get_connection(), EmailBackend)


class MailjetBackendLargeAttachmentTests(MailjetBackendTestCase):
    def test_large_attachment_content_sent_whole(self):
        assert_large_attachments_sent_whole(self, self.message)
