"""Tests for the Mandrill EmailBackend, against Mandrill's API faked at requests.Session.

Request and response shapes follow Mandrill's API docs (messages/send.json and
messages/send-template.json): a JSON body with the API key, a "message" dict, and a few top-level
options; a response listing each recipient's status, or HTTP 500 with an error object.
"""

from __future__ import annotations

import sys
import warnings
from base64 import b64encode
from datetime import date, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from typing import Any

import requests
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.test import override_settings
from django.utils.translation import gettext_lazy
from django.views.debug import ExceptionReporter

from anymail.backends.mandrill import EmailBackend, MandrillPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailDeprecationWarning,
    AnymailError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image
from tests.fakes import RequestsFakeTestCase, assert_large_attachments_sent_whole

API_KEY = "test-mandrill-api-key"
SEND_URL = "https://mandrillapp.com/api/1.0/messages/send.json"
SEND_TEMPLATE_URL = "https://mandrillapp.com/api/1.0/messages/send-template.json"
BACKEND = "anymail.backends.mandrill.EmailBackend"

# A tiny valid PNG, for inline images
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def b64(content: bytes) -> str:
    return b64encode(content).decode("ascii")


def mandrill_result(
    email: str, status: str = "sent", _id: str | None = None, reject_reason: str | None = None
) -> dict[str, Any]:
    """One recipient's entry in a messages/send response, as Mandrill returns it."""
    return {
        "email": email,
        "status": status,
        "_id": _id or f"id-{email.split('@')[0]}-0123456789abcdef",
        "reject_reason": reject_reason,
    }


@override_settings(EMAIL_BACKEND=BACKEND, ANYMAIL={"MANDRILL_API_KEY": API_KEY})
class MandrillBackendTestCase(RequestsFakeTestCase):
    default_response_json = [mandrill_result("to@example.com")]

    def setUp(self) -> None:
        super().setUp()
        self.message = mail.EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def set_mandrill_response(self, *results: dict[str, Any]) -> requests.Response:
        return self.set_response(200, json_data=list(results))

    def sent_message(self) -> dict[str, Any]:
        """The "message" dict of the last API call."""
        return self.api_call_json()["message"]


class MandrillBasicSendTests(MandrillBackendTestCase):
    def test_send_mail(self):
        mail.send_mail(
            "Subject here", "Here is the message.", "from@example.com", ["to@example.com"]
        )
        kwargs = self.assert_api_called("POST", SEND_URL)
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertIsNone(kwargs["auth"])  # Mandrill's key goes in the body
        self.assertEqual(kwargs["timeout"], 30)
        self.assertEqual(
            self.api_call_json(),
            {
                "key": API_KEY,
                "message": {
                    "from_email": "from@example.com",
                    "to": [{"email": "to@example.com", "type": "to"}],
                    "subject": "Subject here",
                    "text": "Here is the message.",
                },
            },
        )

    def test_user_agent_names_anymail_and_mandrill(self):
        self.message.send()
        request = self.mock_request.call_args.args[0]  # the Session
        self.assertRegex(request.headers["User-Agent"], r"^django-anymail/\S+-mandrill ")

    def test_name_addr_and_all_recipient_types(self):
        self.set_mandrill_response(
            mandrill_result("to1@example.com"),
            mandrill_result("to2@example.com"),
            mandrill_result("cc1@example.com"),
            mandrill_result("cc2@example.com"),
            mandrill_result("bcc1@example.com"),
            mandrill_result("bcc2@example.com"),
        )
        msg = mail.EmailMessage(
            "Subject",
            "Message",
            '"From, Name" <from@example.com>',
            ["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
        )
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["from_email"], "from@example.com")
        self.assertEqual(message["from_name"], "From, Name")
        self.assertEqual(
            message["to"],
            [
                {"email": "to1@example.com", "name": "Recipient #1", "type": "to"},
                {"email": "to2@example.com", "type": "to"},
                {"email": "cc1@example.com", "name": "Carbon Copy", "type": "cc"},
                {"email": "cc2@example.com", "type": "cc"},
                {"email": "bcc1@example.com", "name": "Blind Copy", "type": "bcc"},
                {"email": "bcc2@example.com", "type": "bcc"},
            ],
        )

    def test_unicode_names_and_content_are_sent_as_utf8_json(self):
        self.message.subject = "Résumé ✓"
        self.message.from_email = "Zoë <from@example.com>"
        self.message.body = "Grüße"
        self.message.send()
        data = self.api_call_kwargs()["data"].decode("utf-8")  # sent as UTF-8 bytes
        self.assertIn("Résumé ✓", data)  # not \u-escaped
        message = self.sent_message()
        self.assertEqual(message["from_name"], "Zoë")
        self.assertEqual(message["subject"], "Résumé ✓")
        self.assertEqual(message["text"], "Grüße")

    def test_html_and_text_bodies(self):
        msg = mail.EmailMultiAlternatives("Subject", "Text", "from@example.com", ["to@example.com"])
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["text"], "Text")
        self.assertEqual(message["html"], "<p>HTML</p>")

    def test_html_only_message(self):
        msg = mail.EmailMessage("Subject", "<p>HTML</p>", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["html"], "<p>HTML</p>")
        self.assertNotIn("text", message)

    def test_reply_to_and_extra_headers(self):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["Reply <reply@example.com>", "other@example.com"],
            headers={"X-Custom": "value", "List-Unsubscribe": "<mailto:unsub@example.com>"},
        )
        msg.send()
        self.assertEqual(
            self.sent_message()["headers"],
            {
                "Reply-To": "Reply <reply@example.com>, other@example.com",
                "X-Custom": "value",
                "List-Unsubscribe": "<mailto:unsub@example.com>",
            },
        )

    def test_reply_to_header_encodes_non_ascii_names_and_idn_domains(self):
        # Reply-To is a header string (RFC 2047 name, IDNA domain); to/cc/bcc have separate
        # name and email fields, which stay Unicode
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "Frøm <from@bücher.example>",
            ["Jörg <jorg@bücher.example>"],
            reply_to=["Rëply <reply@bücher.example>", "plain@example.com"],
        )
        msg.send()
        message = self.sent_message()
        reply_to = message["headers"]["Reply-To"]
        self.assertTrue(reply_to.isascii(), reply_to)
        first, second = reply_to.split(", ")
        encoded_name, _, addr = first.rpartition(" ")
        self.assertEqual(addr, "<reply@xn--bcher-kva.example>")
        self.assertEqual(str(make_header(decode_header(encoded_name))), "Rëply")
        self.assertEqual(second, "plain@example.com")
        self.assertEqual(message["from_email"], "from@bücher.example")
        self.assertEqual(message["from_name"], "Frøm")
        self.assertEqual(
            message["to"], [{"email": "jorg@bücher.example", "type": "to", "name": "Jörg"}]
        )

    def test_reply_to_header_overrides_reply_to_attribute(self):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["ignored@example.com"],
            headers={"reply-to": "header@example.com"},
        )
        msg.send()
        self.assertEqual(self.sent_message()["headers"], {"Reply-To": "header@example.com"})

    def test_from_header_becomes_from_and_from_email_the_envelope_domain(self):
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "bounces@bounce.example.com",
            ["to@example.com"],
            headers={"From": "Shown <shown@example.com>"},
        )
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["from_email"], "shown@example.com")
        self.assertEqual(message["from_name"], "Shown")
        self.assertEqual(message["return_path_domain"], "bounce.example.com")

    def test_lazy_strings(self):
        msg = mail.EmailMessage(
            gettext_lazy("Lazy subject"),
            gettext_lazy("Lazy body"),
            "from@example.com",
            ["to@example.com"],
        )
        msg.tags = [gettext_lazy("Lazy tag")]
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["subject"], "Lazy subject")
        self.assertEqual(message["text"], "Lazy body")
        self.assertEqual(message["tags"], ["Lazy tag"])

    def test_attachments(self):
        self.message.attach("test.txt", "text content", "text/plain")
        self.message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        pdf = MIMEApplication(b"%PDF-1.4 fake", "pdf")
        pdf.add_header("Content-Disposition", "attachment", filename="doc.pdf")
        self.message.attach(pdf)
        self.message.send()
        message = self.sent_message()
        self.assertEqual(
            message["attachments"],
            [
                {"type": "text/plain", "name": "test.txt", "content": b64(b"text content")},
                {
                    "type": "application/octet-stream",
                    "name": "data.bin",
                    "content": b64(b"\x00\x01\xff"),
                },
                {"type": "application/pdf", "name": "doc.pdf", "content": b64(b"%PDF-1.4 fake")},
            ],
        )
        self.assertNotIn("images", message)

    def test_unicode_attachment_filename(self):
        self.message.attach("Une pièce jointe.txt", "contenu", "text/plain")
        self.message.send()
        self.assertEqual(self.sent_message()["attachments"][0]["name"], "Une pièce jointe.txt")

    def test_inline_images_go_in_images_named_by_content_id(self):
        cid = attach_inline_image(self.message, PNG, filename="logo.png", domain="example.com")
        self.message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        self.message.send()
        message = self.sent_message()
        self.assertEqual(
            message["images"], [{"type": "image/png", "name": cid, "content": b64(PNG)}]
        )
        self.assertNotIn("attachments", message)
        self.assertTrue(cid.endswith("@example.com"))

    def test_image_with_content_id_but_no_disposition_is_inline(self):
        image = MIMEImage(PNG, "png")
        image["Content-ID"] = "<abc123@example.com>"
        self.message.attach(image)
        self.message.send()
        self.assertEqual(
            self.sent_message()["images"],
            [{"type": "image/png", "name": "abc123@example.com", "content": b64(PNG)}],
        )

    def test_image_attached_normally_is_an_attachment(self):
        self.message.attach("photo.png", PNG, "image/png")
        self.message.send()
        message = self.sent_message()
        self.assertEqual(
            message["attachments"],
            [{"type": "image/png", "name": "photo.png", "content": b64(PNG)}],
        )
        self.assertNotIn("images", message)

    def test_inline_non_image_is_refused(self):
        # Mandrill's "images" must have an image/* type: anything else would be lost
        part = MIMEApplication(b"data", "pdf")
        part["Content-ID"] = "<doc@example.com>"
        part["Content-Disposition"] = "inline"
        self.message.attach(part)
        with self.assertRaisesRegex(
            AnymailUnsupportedFeature, r"Mandrill.*inline.*application/pdf"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(ANYMAIL={"MANDRILL_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True})
    def test_inline_non_image_sent_as_attachment_when_ignoring_unsupported(self):
        part = MIMEApplication(b"data", "pdf")
        part["Content-ID"] = "<doc@example.com>"
        part["Content-Disposition"] = 'inline; filename="doc.pdf"'
        self.message.attach(part)
        self.message.send()
        message = self.sent_message()
        self.assertEqual(
            message["attachments"],
            [{"type": "application/pdf", "name": "doc.pdf", "content": b64(b"data")}],
        )
        self.assertNotIn("images", message)

    def test_multiple_html_alternatives_refused(self):
        self.message.attach_alternative("<p>First</p>", "text/html")
        self.message.attach_alternative("<p>Second</p>", "text/html")
        with self.assertRaisesRegex(
            AnymailUnsupportedFeature, "Mandrill does not support alternative"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_non_html_alternative_refused(self):
        self.message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with self.assertRaisesRegex(AnymailUnsupportedFeature, "text/calendar"):
            self.message.send()
        self.assert_no_api_call()

    def test_multiple_from_emails_refused(self):
        self.message.from_email = "one@example.com, two@example.com"
        with self.assertRaisesRegex(
            AnymailUnsupportedFeature, "Mandrill does not support multiple from"
        ):
            self.message.send()

    def test_spoofed_to_header_refused(self):
        self.message.extra_headers["To"] = "Everyone <everyone@example.com>"
        with self.assertRaisesRegex(AnymailUnsupportedFeature, "spoofed To header"):
            self.message.send()

    def test_no_recipients_no_api_call(self):
        msg = mail.EmailMessage("Subject", "Body", "from@example.com", [])
        self.assertEqual(msg.send(), 0)
        self.assert_no_api_call()


class MandrillSettingsTests(MandrillBackendTestCase):
    @override_settings(ANYMAIL={})
    def test_missing_api_key(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            mail.send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        message = str(cm.exception)
        self.assertIn('ANYMAIL = {"MANDRILL_API_KEY": ...}', message)
        self.assertIn("ANYMAIL_MANDRILL_API_KEY", message)
        self.assertIn(" or MANDRILL_API_KEY", message)  # bare setting, too

    @override_settings(ANYMAIL={}, ANYMAIL_MANDRILL_API_KEY="prefixed-key")
    def test_prefixed_api_key_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_json()["key"], "prefixed-key")

    @override_settings(ANYMAIL={}, MANDRILL_API_KEY="bare-key")
    def test_bare_api_key_setting(self):
        # Docs: "Anymail will also look for MANDRILL_API_KEY at the root of the settings file"
        self.message.send()
        self.assertEqual(self.api_call_json()["key"], "bare-key")

    @override_settings(ANYMAIL={"MANDRILL_API_KEY": "anymail-key"}, MANDRILL_API_KEY="bare-key")
    def test_anymail_setting_wins_over_bare_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_json()["key"], "anymail-key")

    def test_connection_kwarg_overrides_api_key(self):
        connection = get_connection(api_key="kwarg-key")
        mail.send_mail(
            "Subject", "Body", "from@example.com", ["to@example.com"], connection=connection
        )
        self.assertEqual(self.api_call_json()["key"], "kwarg-key")

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "MANDRILL_API_URL": "https://mandrill.example.com/api/1.0",
        }
    )
    def test_api_url_setting(self):
        self.message.send()
        self.assert_api_called("POST", "https://mandrill.example.com/api/1.0/messages/send.json")

    def test_api_url_kwarg_with_trailing_slash(self):
        connection = get_connection(api_url="https://proxy.example.com/mandrill/1.0/")
        connection.send_messages([self.message])
        self.assert_api_called("POST", "https://proxy.example.com/mandrill/1.0/messages/send.json")

    @override_settings(ANYMAIL={"MANDRILL_API_KEY": API_KEY, "REQUESTS_TIMEOUT": 5})
    def test_requests_timeout(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["timeout"], 5)

    def test_backend_class_and_esp_name(self):
        connection = get_connection()
        self.assertIsInstance(connection, EmailBackend)
        self.assertEqual(connection.esp_name, "Mandrill")


class MandrillAnymailFeatureTests(MandrillBackendTestCase):
    def test_feature_matrix(self):
        # Docs 1.5.9: Mandrill supports every Anymail send option (envelope_sender domain only)
        features = MandrillPayload.supported_features()
        for feature in (
            "envelope_sender",
            "metadata",
            "merge_metadata",
            "send_at",
            "tags",
            "track_clicks",
            "track_opens",
            "template_id",
            "merge_data",
            "merge_global_data",
            "esp_extra",
            "attachments",
            "reply_to",
            "extra_headers",
        ):
            self.assertTrue(features[feature], feature)
        for feature in ("alternatives", "multiple_from_emails", "spoofed_to_header"):
            self.assertFalse(features[feature], feature)

    def test_envelope_sender_uses_only_the_domain(self):
        self.message.envelope_sender = "anything@bounces.example.com"
        self.message.send()
        message = self.sent_message()
        self.assertEqual(message["return_path_domain"], "bounces.example.com")
        self.assertEqual(message["from_email"], "from@example.com")

    def test_metadata(self):
        self.message.metadata = {"user_id": "12345", "items": 6}
        self.message.send()
        self.assertEqual(self.sent_message()["metadata"], {"user_id": "12345", "items": 6})

    def test_unserializable_metadata(self):
        from decimal import Decimal

        self.message.metadata = {"price": Decimal("19.99")}
        with self.assertRaisesRegex(AnymailSerializationError, r"metadata\['price'\].*Mandrill"):
            self.message.send()
        self.assert_no_api_call()

    def test_tags(self):
        self.message.tags = ["receipt", "repeat-customer"]
        self.message.send()
        self.assertEqual(self.sent_message()["tags"], ["receipt", "repeat-customer"])

    def test_tracking(self):
        self.message.track_opens = True
        self.message.track_clicks = False
        self.message.send()
        message = self.sent_message()
        self.assertIs(message["track_opens"], True)
        self.assertIs(message["track_clicks"], False)

    def test_send_at_aware_datetime_is_sent_in_utc(self):
        self.message.send_at = datetime(
            2022, 10, 11, 12, 13, 14, 567, tzinfo=timezone(timedelta(hours=-7))
        )
        self.message.send()
        data = self.api_call_json()
        self.assertEqual(data["send_at"], "2022-10-11 19:13:14")  # top level, UTC, no fraction
        self.assertNotIn("send_at", data["message"])

    def test_send_at_naive_datetime_uses_current_timezone(self):
        # runtests: TIME_ZONE = America/Los_Angeles (UTC-8 in January)
        self.message.send_at = datetime(2022, 1, 11, 12, 13, 14)
        self.message.send()
        self.assertEqual(self.api_call_json()["send_at"], "2022-01-11 20:13:14")

    def test_send_at_date(self):
        self.message.send_at = date(2022, 7, 4)  # midnight Los Angeles = 07:00 UTC in July
        self.message.send()
        self.assertEqual(self.api_call_json()["send_at"], "2022-07-04 07:00:00")

    def test_send_at_timestamp(self):
        self.message.send_at = 1651820889.5
        self.message.send()
        self.assertEqual(self.api_call_json()["send_at"], "2022-05-06 07:08:09")

    def test_send_at_string_is_sent_as_given(self):
        # Mandrill takes "YYYY-MM-DD HH:MM:SS" UTC strings; a str send_at is passed unchanged
        self.message.send_at = "2022-10-11 19:13:14"
        self.message.send()
        data = self.api_call_json()
        self.assertEqual(data["send_at"], "2022-10-11 19:13:14")
        self.assertNotIn("send_at", data["message"])

    def test_default_omits_all_options(self):
        self.message.send()
        data = self.api_call_json()
        self.assertEqual(set(data), {"key", "message"})
        self.assertEqual(set(data["message"]), {"from_email", "to", "subject", "text"})


class MandrillTemplateAndMergeTests(MandrillBackendTestCase):
    def test_template_id_uses_send_template(self):
        self.message.template_id = "welcome-template"
        self.message.send()
        self.assert_api_called("POST", SEND_TEMPLATE_URL)
        data = self.api_call_json()
        self.assertEqual(data["template_name"], "welcome-template")
        self.assertEqual(data["template_content"], [])  # required by send-template
        self.assertNotIn("template_name", data["message"])

    def test_template_with_subject_and_from_none_uses_template_values(self):
        msg = mail.EmailMessage(subject=None, to=["to@example.com"])
        msg.from_email = None
        msg.template_id = "stored"
        msg.send()
        message = self.sent_message()
        self.assertNotIn("subject", message)
        self.assertNotIn("from_email", message)
        self.assertNotIn("from_name", message)
        self.assertNotIn("text", message)

    def test_merge_data_is_a_batch_send(self):
        self.set_mandrill_response(
            mandrill_result("alice@example.com"), mandrill_result("bob@example.com")
        )
        msg = mail.EmailMessage(
            "Order *|order_no|*",
            "Hi *|name|*",
            "from@example.com",
            ["alice@example.com", "Bob <bob@example.com>"],
        )
        msg.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        msg.merge_global_data = {"ship_date": "May 15"}
        msg.send()
        self.assert_api_called("POST", SEND_URL)
        message = self.sent_message()
        self.assertIs(message["preserve_recipients"], False)
        self.assertEqual(
            message["merge_vars"],
            [
                {
                    "rcpt": "alice@example.com",
                    "vars": [
                        {"name": "name", "content": "Alice"},
                        {"name": "order_no", "content": "12345"},
                    ],
                },
                {
                    "rcpt": "bob@example.com",
                    "vars": [
                        {"name": "name", "content": "Bob"},
                        {"name": "order_no", "content": "54321"},
                    ],
                },
            ],
        )
        self.assertEqual(message["global_merge_vars"], [{"name": "ship_date", "content": "May 15"}])
        self.assertNotIn("merge_language", message)  # Mandrill's default MailChimp *|syntax|*

    def test_empty_merge_data_still_a_batch_send(self):
        self.message.merge_data = {}
        self.message.send()
        message = self.sent_message()
        self.assertIs(message["preserve_recipients"], False)
        self.assertEqual(message["merge_vars"], [])

    def test_merge_global_data_alone_is_not_a_batch_send(self):
        self.message.merge_global_data = {"site": "Example"}
        self.message.send()
        message = self.sent_message()
        self.assertNotIn("preserve_recipients", message)
        self.assertEqual(message["global_merge_vars"], [{"name": "site", "content": "Example"}])

    def test_merge_metadata_is_recipient_metadata_and_a_batch_send(self):
        self.message.to = ["wile@example.com", "Mr. Runner <rr@example.com>"]
        self.message.metadata = {"campaign": "spring"}
        self.message.merge_metadata = {
            "wile@example.com": {"customer": 123, "order": "acme-zxyw"},
            "rr@example.com": {"customer": 45678, "order": "acme-wblt"},
        }
        self.message.send()
        message = self.sent_message()
        self.assertIs(message["preserve_recipients"], False)
        self.assertEqual(message["metadata"], {"campaign": "spring"})
        self.assertEqual(
            message["recipient_metadata"],
            [
                {"rcpt": "wile@example.com", "values": {"customer": 123, "order": "acme-zxyw"}},
                {"rcpt": "rr@example.com", "values": {"customer": 45678, "order": "acme-wblt"}},
            ],
        )

    def test_docs_batch_example_runs_unchanged(self):
        # The example from the Mandrill docs' "Batch sending/merge and ESP templates"
        self.set_mandrill_response(
            mandrill_result("alice@example.com", "queued"),
            mandrill_result("bob@example.com", "queued"),
        )
        message = EmailMessage(
            subject="Your order *|order_no|* has shipped",
            body="""Hi *|name|*,
                   We shipped your order *|order_no|*
                    on *|ship_date|*.""",
            to=["alice@example.com", "Bob <bob@example.com>"],
        )
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15",
        }
        message.send()
        sent = self.sent_message()
        self.assertEqual(sent["from_email"], "from@example.com")  # DEFAULT_FROM_EMAIL
        self.assertEqual(sent["subject"], "Your order *|order_no|* has shipped")
        self.assertIs(sent["preserve_recipients"], False)
        self.assertEqual(message.anymail_status.status, {"queued"})

    def test_general_docs_template_example(self):
        # Docs 1.3.3's stored template + merge data example, through Mandrill
        self.set_mandrill_response(
            mandrill_result("wile@example.com"), mandrill_result("rr@example.com")
        )
        message = EmailMessage(
            subject=None,
            from_email="marketing@example.com",
            to=["Wile E. <wile@example.com>", "rr@example.com"],
        )
        message.template_id = "after_sale_followup_offer"
        message.merge_data = {
            "wile@example.com": {"NAME": "Wile E.", "OFFER": "15% off anvils"},
            "rr@example.com": {"NAME": "Mr. Runner"},
        }
        message.merge_global_data = {"PARTNER": "Acme, Inc.", "OFFER": "5% off any Acme product"}
        message.send()
        self.assert_api_called("POST", SEND_TEMPLATE_URL)
        data = self.api_call_json()
        self.assertEqual(data["template_name"], "after_sale_followup_offer")
        self.assertEqual(data["template_content"], [])
        self.assertEqual(
            data["message"],
            {
                "from_email": "marketing@example.com",
                "to": [
                    {"email": "wile@example.com", "name": "Wile E.", "type": "to"},
                    {"email": "rr@example.com", "type": "to"},
                ],
                "preserve_recipients": False,
                "merge_vars": [
                    {
                        "rcpt": "wile@example.com",
                        "vars": [
                            {"name": "NAME", "content": "Wile E."},
                            {"name": "OFFER", "content": "15% off anvils"},
                        ],
                    },
                    {"rcpt": "rr@example.com", "vars": [{"name": "NAME", "content": "Mr. Runner"}]},
                ],
                "global_merge_vars": [
                    {"name": "PARTNER", "content": "Acme, Inc."},
                    {"name": "OFFER", "content": "5% off any Acme product"},
                ],
            },
        )

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "SEND_DEFAULTS": {"merge_global_data": {"SITE": "Ex"}},
        }
    )
    def test_merge_global_data_merges_with_send_defaults(self):
        self.message.merge_global_data = {"NAME": "Al"}
        self.message.send()
        self.assertEqual(
            self.sent_message()["global_merge_vars"],
            [{"name": "SITE", "content": "Ex"}, {"name": "NAME", "content": "Al"}],
        )


class MandrillEspExtraTests(MandrillBackendTestCase):
    def test_esp_extra_docs_example(self):
        self.message.esp_extra = {
            # Mandrill expects 'ip_pool' at top level...
            "ip_pool": "Bulk Pool",
            # ... but 'subaccount' must be within a 'message' dict:
            "message": {"subaccount": "Marketing Dept."},
        }
        self.message.send()
        data = self.api_call_json()
        self.assertEqual(data["ip_pool"], "Bulk Pool")
        self.assertEqual(data["message"]["subaccount"], "Marketing Dept.")
        self.assertEqual(data["message"]["from_email"], "from@example.com")  # merged, not replaced
        self.assertNotIn("subaccount", data)

    def test_esp_extra_merges_nested_dicts_and_overrides_values(self):
        self.message.metadata = {"a": "1"}
        self.message.extra_headers = {"X-One": "1"}
        self.message.merge_data = {}
        self.message.esp_extra = {
            "async": True,
            "message": {
                "metadata": {"b": "2"},
                "headers": {"X-Two": "2"},
                "preserve_recipients": True,  # explicit esp_extra wins over batch default
                "important": True,
            },
        }
        self.message.send()
        data = self.api_call_json()
        self.assertIs(data["async"], True)
        message = data["message"]
        self.assertEqual(message["metadata"], {"a": "1", "b": "2"})
        self.assertEqual(message["headers"], {"X-One": "1", "X-Two": "2"})
        self.assertIs(message["preserve_recipients"], True)
        self.assertIs(message["important"], True)

    def test_esp_extra_is_not_modified(self):
        esp_extra = {
            "template_content": {"main": "<p>Hi</p>"},
            "message": {
                "recipient_metadata": {"to@example.com": {"id": 1}},
                "headers": {"X-A": "a"},
            },
        }
        self.message.esp_extra = esp_extra
        self.message.extra_headers = {"X-B": "b"}
        self.message.send()
        self.assertEqual(
            esp_extra,
            {
                "template_content": {"main": "<p>Hi</p>"},
                "message": {
                    "recipient_metadata": {"to@example.com": {"id": 1}},
                    "headers": {"X-A": "a"},
                },
            },
        )

    def test_pythonic_recipient_metadata(self):
        self.message.esp_extra = {
            "message": {"recipient_metadata": {"to@example.com": {"user_id": 123456}}}
        }
        self.message.send()
        self.assertEqual(
            self.sent_message()["recipient_metadata"],
            [{"rcpt": "to@example.com", "values": {"user_id": 123456}}],
        )

    def test_mandrill_style_recipient_metadata_passes_through(self):
        rm = [{"rcpt": "to@example.com", "values": {"user_id": 123456}}]
        self.message.esp_extra = {"message": {"recipient_metadata": rm}}
        self.message.send()
        self.assertEqual(self.sent_message()["recipient_metadata"], rm)

    def test_pythonic_template_content(self):
        self.message.template_id = "tpl"
        self.message.esp_extra = {"template_content": {"header": "<h1>Hi</h1>", "main": "Body"}}
        self.message.send()
        self.assertEqual(
            self.api_call_json()["template_content"],
            [{"name": "header", "content": "<h1>Hi</h1>"}, {"name": "main", "content": "Body"}],
        )

    def test_mandrill_style_template_content_passes_through(self):
        self.message.template_id = "tpl"
        tc = [{"name": "main", "content": "Body"}]
        self.message.esp_extra = {"template_content": tc}
        self.message.send()
        self.assertEqual(self.api_call_json()["template_content"], tc)

    def test_template_name_in_esp_extra_uses_send_template(self):
        self.message.esp_extra = {"template_name": "from-extra"}
        self.message.send()
        self.assert_api_called("POST", SEND_TEMPLATE_URL)
        self.assertEqual(self.api_call_json()["template_content"], [])

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "MANDRILL_SEND_DEFAULTS": {
                "esp_extra": {"message": {"subaccount": "<your subaccount>"}}
            },
        }
    )
    def test_subaccount_in_send_defaults_docs_example(self):
        # "Migrating from Djrill": MANDRILL_SUBACCOUNT becomes a send-defaults esp_extra
        self.message.send()
        self.message.send()
        for index in (0, 1):
            self.assertEqual(
                self.api_call_json(index)["message"]["subaccount"], "<your subaccount>"
            )

    def test_esp_extra_must_be_a_dict(self):
        self.message.esp_extra = ["ip_pool", "Bulk"]
        with self.assertRaisesRegex(AnymailSerializationError, "Mandrill esp_extra must be a dict"):
            self.message.send()
        self.assert_no_api_call()

    def test_esp_extra_message_must_be_a_dict(self):
        self.message.esp_extra = {"message": "subaccount"}
        with self.assertRaisesRegex(AnymailSerializationError, "'message' dict"):
            self.message.send()

    def test_unserializable_esp_extra(self):
        self.message.esp_extra = {"message": {"metadata": {"when": date(2020, 1, 1)}}}
        with self.assertRaisesRegex(AnymailSerializationError, "Mandrill"):
            self.message.send()


class MandrillDjrillAttributeTests(MandrillBackendTestCase):
    """Djrill-era attributes still work, each with a deprecation warning naming its replacement."""

    def send_warning(self, **attrs: Any) -> list[str]:
        for name, value in attrs.items():
            setattr(self.message, name, value)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.message.send()
        messages = [
            str(w.message) for w in caught if issubclass(w.category, AnymailDeprecationWarning)
        ]
        self.assertEqual(len(messages), len(attrs), messages)
        for warning in caught:
            self.assertTrue(issubclass(warning.category, DeprecationWarning))
        return messages

    def test_top_level_attributes(self):
        messages = self.send_warning(ip_pool="Bulk Pool", **{"async": True})
        data = self.api_call_json()
        self.assertEqual(data["ip_pool"], "Bulk Pool")
        self.assertIs(data["async"], True)
        self.assertTrue(any("message.ip_pool" in m and "esp_extra" in m for m in messages))

    def test_message_option_attributes(self):
        options = {
            "auto_html": True,
            "auto_text": False,
            "google_analytics_campaign": "campaign",
            "google_analytics_domains": ["example.com"],
            "important": True,
            "inline_css": True,
            "merge_language": "handlebars",
            "preserve_recipients": True,
            "signing_domain": "example.com",
            "subaccount": "sub-1",
            "tracking_domain": "click.example.com",
            "url_strip_qs": True,
            "view_content_link": False,
        }
        messages = self.send_warning(**options)
        message = self.sent_message()
        for name, value in options.items():
            self.assertEqual(message[name], value, name)
            self.assertTrue(
                any(f"message.{name} " in m and "esp_extra = {'message'" in m for m in messages),
                name,
            )

    def test_from_name(self):
        messages = self.send_warning(from_name="Djrill Name")
        self.assertEqual(self.sent_message()["from_name"], "Djrill Name")
        self.assertIn("from_email", messages[0])

    def test_return_path_domain(self):
        messages = self.send_warning(return_path_domain="bounce.example.com")
        self.assertEqual(self.sent_message()["return_path_domain"], "bounce.example.com")
        self.assertIn("envelope_sender", messages[0])

    def test_template_name_attribute_is_not_a_mandrill_template(self):
        # Renamed to template_id (docs); other apps' messages use template_name for Django
        # templates (e.g. django-mail-templated, the docs' AnymailMessageMixin example)
        self.message.template_name = "order_confirmation.tpl"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.message.send()
        self.assert_api_called("POST", SEND_URL)
        self.assertNotIn("template_name", self.api_call_json())

    def test_template_content_dict(self):
        self.message.template_id = "tpl"
        messages = self.send_warning(template_content={"main": "Hello"})
        self.assertEqual(
            self.api_call_json()["template_content"], [{"name": "main", "content": "Hello"}]
        )
        self.assertIn("esp_extra", messages[0])

    def test_use_template_from_and_subject(self):
        self.message.template_id = "tpl"
        self.message.from_email = "Name <from@example.com>"
        messages = self.send_warning(use_template_from=True, use_template_subject=True)
        message = self.sent_message()
        for key in ("from_email", "from_name", "subject"):
            self.assertNotIn(key, message)
        self.assertTrue(any("from_email = None" in m for m in messages))
        self.assertTrue(any("subject = None" in m for m in messages))

    def test_merge_vars_global_merge_vars_and_recipient_metadata_dicts(self):
        messages = self.send_warning(
            merge_vars={"to@example.com": {"NAME": "To"}},
            global_merge_vars={"SITE": "Example"},
            recipient_metadata={"to@example.com": {"id": 7}},
        )
        message = self.sent_message()
        self.assertEqual(
            message["merge_vars"],
            [{"rcpt": "to@example.com", "vars": [{"name": "NAME", "content": "To"}]}],
        )
        self.assertEqual(message["global_merge_vars"], [{"name": "SITE", "content": "Example"}])
        self.assertEqual(
            message["recipient_metadata"], [{"rcpt": "to@example.com", "values": {"id": 7}}]
        )
        self.assertNotIn("preserve_recipients", message)  # as in Djrill: not forced
        self.assertTrue(any("merge_data" in m for m in messages))
        self.assertTrue(any("merge_global_data" in m for m in messages))
        self.assertTrue(any("merge_metadata" in m for m in messages))

    def test_merge_vars_mandrill_list_form_passes_through(self):
        mv = [{"rcpt": "to@example.com", "vars": [{"name": "A", "content": "1"}]}]
        self.send_warning(merge_vars=mv)
        self.assertEqual(self.sent_message()["merge_vars"], mv)

    def test_esp_extra_wins_over_djrill_attribute(self):
        self.message.esp_extra = {"ip_pool": "Extra Pool"}
        self.send_warning(ip_pool="Djrill Pool")
        self.assertEqual(self.api_call_json()["ip_pool"], "Extra Pool")

    def test_none_djrill_attributes_are_ignored_without_warning(self):
        self.message.important = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.message.send()
        self.assertNotIn("important", self.sent_message())


class MandrillDjrillSendDefaultsTests(MandrillBackendTestCase):
    """Djrill's MANDRILL_SETTINGS keys, moved into MANDRILL_SEND_DEFAULTS, still apply."""

    def send_warnings(self, message: Any = None) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (message or self.message).send()
        for warning in caught:
            self.assertTrue(issubclass(warning.category, AnymailDeprecationWarning))
        return [str(w.message) for w in caught]

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "MANDRILL_SEND_DEFAULTS": {
                "subaccount": "legacy-sub",
                "preserve_recipients": False,
                "important": True,
                "ip_pool": "Legacy Pool",
            },
        }
    )
    def test_djrill_keys_apply_to_the_api_call_with_warnings(self):
        messages = self.send_warnings()
        self.assertEqual(
            self.api_call_json(),
            {
                "key": API_KEY,
                "ip_pool": "Legacy Pool",
                "message": {
                    "from_email": "from@example.com",
                    "to": [{"email": "to@example.com", "type": "to"}],
                    "subject": "Subject",
                    "text": "Text Body",
                    "subaccount": "legacy-sub",
                    "preserve_recipients": False,
                    "important": True,
                },
            },
        )
        self.assertEqual(len(messages), 4, messages)
        self.assertIn(
            "The Djrill-style 'subaccount' key in MANDRILL_SEND_DEFAULTS (or SEND_DEFAULTS) is "
            "deprecated in Anymail's Mandrill backend; use {'esp_extra': {'message': "
            "{'subaccount': ...}}} instead.",
            messages,
        )
        self.assertIn(
            "The Djrill-style 'ip_pool' key in MANDRILL_SEND_DEFAULTS (or SEND_DEFAULTS) is "
            "deprecated in Anymail's Mandrill backend; use {'esp_extra': {'ip_pool': ...}} "
            "instead.",
            messages,
        )

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "SEND_DEFAULTS": {"tracking_domain": "click.example.com"},
            "MANDRILL_SEND_DEFAULTS": {
                "global_merge_vars": {"SITE": "Example"},
                "use_template_subject": True,
            },
        }
    )
    def test_global_send_defaults_and_renamed_keys(self):
        self.message.template_id = "tpl"
        messages = self.send_warnings()
        message = self.sent_message()
        self.assertEqual(message["tracking_domain"], "click.example.com")
        self.assertEqual(message["global_merge_vars"], [{"name": "SITE", "content": "Example"}])
        self.assertNotIn("subject", message)
        self.assertEqual(len(messages), 3, messages)
        self.assertTrue(
            any("'global_merge_vars' key" in m and "merge_global_data" in m for m in messages)
        )

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "MANDRILL_SEND_DEFAULTS": {"subaccount": "default-sub", "important": True},
        }
    )
    def test_message_values_and_esp_extra_win(self):
        self.message.subaccount = "message-sub"  # (also deprecated)
        self.message.important = None  # None on the message suppresses the default
        self.message.esp_extra = {"message": {"subaccount": "extra-sub"}}
        messages = self.send_warnings()
        message = self.sent_message()
        self.assertEqual(message["subaccount"], "extra-sub")
        self.assertNotIn("important", message)
        self.assertEqual(len(messages), 1, messages)
        self.assertIn("message.subaccount attribute", messages[0])

    @override_settings(
        ANYMAIL={
            "MANDRILL_API_KEY": API_KEY,
            "MANDRILL_SEND_DEFAULTS": {"esp_extra": {"message": {"subaccount": "sub"}}},
        }
    )
    def test_esp_extra_send_default_is_not_deprecated(self):
        self.assertEqual(self.send_warnings(), [])
        self.assertEqual(self.sent_message()["subaccount"], "sub")


class MandrillRecipientStatusTests(MandrillBackendTestCase):
    def test_sent_status_and_message_id(self):
        self.set_mandrill_response(mandrill_result("to@example.com", "sent", "abc123abc123"))
        msg = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        self.assertEqual(msg.send(), 1)
        status = msg.anymail_status
        self.assertEqual(status.status, {"sent"})
        self.assertEqual(status.message_id, "abc123abc123")
        self.assertEqual(status.recipients["to@example.com"].status, "sent")
        self.assertEqual(status.recipients["to@example.com"].message_id, "abc123abc123")
        self.assertEqual(status.esp_response.json()[0]["_id"], "abc123abc123")

    def test_each_mandrill_status(self):
        self.set_mandrill_response(
            mandrill_result("sent@example.com", "sent", "id1"),
            mandrill_result("queued@example.com", "queued", "id2"),
            mandrill_result("scheduled@example.com", "scheduled", "id3"),
            mandrill_result("rejected@example.com", "rejected", "id4", "hard-bounce"),
            mandrill_result("invalid@example.com", "invalid", "id5"),
            mandrill_result("odd@example.com", "something-new", "id6"),
        )
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["sent@example.com", "queued@example.com", "scheduled@example.com"],
            cc=["rejected@example.com", "invalid@example.com"],
            bcc=["odd@example.com"],
        )
        msg.send()
        recipients = msg.anymail_status.recipients
        self.assertEqual(
            {email: (r.status, r.message_id) for email, r in recipients.items()},
            {
                "sent@example.com": ("sent", "id1"),
                "queued@example.com": ("queued", "id2"),
                "scheduled@example.com": ("queued", "id3"),
                "rejected@example.com": ("rejected", "id4"),
                "invalid@example.com": ("invalid", "id5"),
                "odd@example.com": ("unknown", "id6"),
            },
        )
        self.assertEqual(
            msg.anymail_status.status, {"sent", "queued", "rejected", "invalid", "unknown"}
        )
        self.assertEqual(msg.anymail_status.message_id, {"id1", "id2", "id3", "id4", "id5", "id6"})

    def test_partial_rejection_is_not_an_error(self):
        self.set_mandrill_response(
            mandrill_result("ok@example.com", "sent", "id1"),
            mandrill_result("bad@example.com", "rejected", "id2", "unsub"),
        )
        msg = mail.EmailMessage("S", "B", "from@example.com", ["ok@example.com", "bad@example.com"])
        self.assertEqual(msg.send(), 1)
        self.assertEqual(msg.anymail_status.status, {"sent", "rejected"})

    def test_all_rejected_raises_recipients_refused(self):
        self.set_mandrill_response(
            mandrill_result("a@example.com", "rejected", "id1", "hard-bounce"),
            mandrill_result("b@example.com", "invalid", "id2"),
        )
        msg = mail.EmailMessage("S", "B", "from@example.com", ["a@example.com", "b@example.com"])
        with self.assertRaisesRegex(
            AnymailRecipientsRefused, r"Mandrill.*a@example.com \(rejected\)"
        ):
            msg.send()
        self.assertEqual(msg.anymail_status.status, {"rejected", "invalid"})

    @override_settings(ANYMAIL={"MANDRILL_API_KEY": API_KEY, "IGNORE_RECIPIENT_STATUS": True})
    def test_ignore_recipient_status(self):
        self.set_mandrill_response(mandrill_result("to@example.com", "rejected", "id1", "spam"))
        self.assertEqual(self.message.send(), 1)
        self.assertEqual(self.message.anymail_status.status, {"rejected"})

    def test_fail_silently_on_recipients_refused(self):
        self.set_mandrill_response(mandrill_result("to@example.com", "rejected", "id1"))
        self.assertEqual(self.message.send(fail_silently=True), 0)


class MandrillErrorTests(MandrillBackendTestCase):
    def test_mandrill_error_response(self):
        # Mandrill API errors are HTTP 500 with a JSON error object
        self.set_response(
            500,
            json_data={
                "status": "error",
                "code": -1,
                "name": "Invalid_Key",
                "message": "Invalid API key",
            },
        )
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertIsInstance(err, AnymailRequestsAPIError)
        self.assertEqual(err.status_code, 500)
        self.assertEqual(err.esp_name, "Mandrill")
        first_line = str(err).splitlines()[0]
        self.assertEqual(
            first_line,
            "Mandrill API response 500 (INTERNAL_SERVER_ERROR): Invalid_Key: Invalid API key",
        )
        self.assertIs(self.message.anymail_status.status, None)
        self.assertEqual(self.message.anymail_status.recipients, {})

    def test_error_object_with_200_status_is_still_an_error(self):
        self.set_response(
            200,
            json_data={
                "status": "error",
                "code": 12,
                "name": "Unknown_Subaccount",
                "message": "No subaccount exists with the id 'customer-123'",
            },
        )
        with self.assertRaisesRegex(
            AnymailAPIError, "Unknown_Subaccount: No subaccount exists with the id 'customer-123'"
        ):
            self.message.send()

    def test_non_json_error_includes_body_text(self):
        self.set_response(502, text="<html>Bad Gateway</html>")
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        self.assertIn("Mandrill API response 502", str(cm.exception))
        self.assertIn("<html>Bad Gateway</html>", str(cm.exception))

    def test_invalid_json_success_response(self):
        self.set_response(200, text="not json")
        with self.assertRaisesRegex(AnymailAPIError, "Invalid JSON in Mandrill API response"):
            self.message.send()

    def test_unexpected_success_response_shape(self):
        for body in ({"email": "to@example.com"}, [{"status": "sent"}], ["to@example.com"]):
            with self.subTest(body=body):
                self.set_response(200, json_data=body)
                with self.assertRaisesRegex(
                    AnymailAPIError, "Invalid Mandrill API response format"
                ):
                    self.message.send()

    def test_connection_error(self):
        self.set_error(requests.ConnectionError("connection refused"))
        with self.assertRaisesRegex(
            AnymailAPIError, r"Error calling Mandrill API.*connection refused"
        ):
            self.message.send()

    def test_fail_silently(self):
        self.set_response(
            500, json_data={"status": "error", "code": -1, "name": "GeneralError", "message": "x"}
        )
        self.assertEqual(self.message.send(fail_silently=True), 0)

    def test_send_messages_shares_one_session(self):
        connection = get_connection()
        sent = connection.send_messages([self.message, self.message])
        self.assertEqual(sent, 2)
        sessions = {call.args[0] for call in self.api_calls()}
        self.assertEqual(len(sessions), 1)


class MandrillErrorReportTests(MandrillBackendTestCase):
    """Mandrill's API key travels in the JSON body: Django's error reports mustn't show it."""

    def error_reports(self, message: Any) -> list[str]:
        try:
            message.send()
        except AnymailError:
            reporter = ExceptionReporter(None, *sys.exc_info())
            return [reporter.get_traceback_text(), reporter.get_traceback_html()]
        self.fail("send() didn't raise")

    def test_errors_building_the_payload_and_calling_the_api(self):
        unserializable = AnymailMessage(to=["to@example.com"], subject="s", body="b")
        unserializable.metadata = {"order": object()}
        unreachable = AnymailMessage(to=["to@example.com"], subject="s", body="b")
        for message, error in ((unserializable, None), (unreachable, requests.Timeout("slow"))):
            if error is not None:
                self.set_error(error)
            for report in self.error_reports(message):
                self.assertIn("send_messages", report)  # (the report has the frames)
                self.assertFalse(API_KEY in report, "API key in error report")


class MandrillEmailMultiAlternativesTests(MandrillBackendTestCase):
    def test_anymail_message_constructor_attrs(self):
        msg = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            tags=["Onboarding"],
            metadata={"onboarding_experiment": "variation 1"},
            track_clicks=True,
        )
        msg.send()
        message = self.sent_message()
        self.assertEqual(message["tags"], ["Onboarding"])
        self.assertEqual(message["metadata"], {"onboarding_experiment": "variation 1"})
        self.assertIs(message["track_clicks"], True)

    def test_plain_email_multi_alternatives(self):
        msg = EmailMultiAlternatives("S", "T", "from@example.com", ["to@example.com"])
        msg.attach_alternative("<b>H</b>", "text/html")
        msg.send()
        self.assertEqual(self.sent_message()["html"], "<b>H</b>")


class MandrillBackendLargeAttachmentTests(MandrillBackendTestCase):
    def test_large_attachment_content_sent_whole(self):
        assert_large_attachments_sent_whole(self, self.message)
