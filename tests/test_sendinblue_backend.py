"""SendinBlue backend: the exact API v3 ``smtp/email`` requests it makes, and how it reads the
responses.

SendinBlue is faked at requests.Session.request (tests/fakes.py); request and response shapes
follow SendinBlue's API v3 reference ("Send a transactional email", error model).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from email import encoders
from email.mime.base import MIMEBase

import requests
from django.core import mail
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.backends.sendinblue import EmailBackend, SendinBluePayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import RequestsFakeTestCase, assert_large_attachments_sent_whole

SENDINBLUE_BACKEND = "anymail.backends.sendinblue.EmailBackend"
SEND_URL = "https://api.sendinblue.com/v3/smtp/email"
MESSAGE_ID = "<201801020304.78901234567@smtp-relay.mailin.fr>"
# A 1x1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@override_settings(EMAIL_BACKEND=SENDINBLUE_BACKEND, ANYMAIL={"SENDINBLUE_API_KEY": "test-key"})
class SendinBlueBackendTestCase(RequestsFakeTestCase):
    default_response_json = {"messageId": MESSAGE_ID}

    def setUp(self):
        super().setUp()
        self.message = EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")

    def sent_json(self) -> dict:
        self.assert_api_called("POST", SEND_URL)
        return self.api_call_json()

    def template_message(self, **kwargs) -> EmailMessage:
        """The docs' SendinBlue template example, as written there."""
        message = EmailMessage(subject=None, body=None, to=["alice@example.com"], **kwargs)
        message.from_email = None
        message.template_id = 3
        message.merge_global_data = {"name": "Alice", "order_no": "12345", "ship_date": "May 15"}
        return message


# ---------------------------------------------------------------------------------------------
# Settings and the request itself
# ---------------------------------------------------------------------------------------------


class SendinBlueSettingsTests(SendinBlueBackendTestCase):
    def test_request_url_method_and_headers(self):
        self.message.send()
        kwargs = self.assert_api_called("POST", SEND_URL)
        self.assertEqual(kwargs["headers"]["api-key"], "test-key")
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertEqual(kwargs["headers"]["Accept"], "application/json")
        self.assertIsNone(kwargs["auth"])
        self.assertIsNone(kwargs["files"])
        self.assertEqual(kwargs["timeout"], 30)
        # And on the wire
        request = self.message.anymail_status.esp_response.request
        self.assertEqual(request.headers["api-key"], "test-key")
        self.assertNotIn("Authorization", request.headers)
        self.assertRegex(request.headers["User-Agent"], r"^django-anymail/\S+-sendinblue")

    @override_settings(ANYMAIL={}, ANYMAIL_SENDINBLUE_API_KEY="prefixed-key")
    def test_prefixed_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["api-key"], "prefixed-key")

    @override_settings(ANYMAIL={}, SENDINBLUE_API_KEY="bare-key")
    def test_bare_setting_fallback(self):
        # Documented: "Anymail will also look for SENDINBLUE_API_KEY at the root of settings"
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["api-key"], "bare-key")

    @override_settings(ANYMAIL={"SENDINBLUE_API_KEY": "anymail-key"}, SENDINBLUE_API_KEY="bare")
    def test_anymail_setting_wins_over_bare(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["api-key"], "anymail-key")

    def test_api_key_kwarg(self):
        connection = get_connection(api_key="kwarg-key")
        self.message.connection = connection
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["api-key"], "kwarg-key")

    @override_settings(ANYMAIL={})
    def test_missing_api_key(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_connection()
        text = str(cm.exception)
        for place in ('"SENDINBLUE_API_KEY"', "ANYMAIL_SENDINBLUE_API_KEY", " SENDINBLUE_API_KEY"):
            self.assertIn(place, text)
        self.assertIn("SendinBlue", text)
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "SENDINBLUE_API_URL": "https://proxy.test/v3"}
    )
    def test_custom_api_url(self):
        # A missing trailing slash must not drop the "v3" path segment
        self.message.send()
        self.assert_api_called("POST", "https://proxy.test/v3/smtp/email")

    def test_default_api_url(self):
        self.assertEqual(get_connection().api_url, "https://api.sendinblue.com/v3/")

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "REQUESTS_TIMEOUT": 5, "DEBUG_API_REQUESTS": 0}
    )
    def test_requests_timeout_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["timeout"], 5)

    def test_supported_features(self):
        # The feature matrix: SendinBlue column of the Anymail docs
        self.assertEqual(
            SendinBluePayload.supported_features(),
            {
                "reply_to": True,
                "extra_headers": True,
                "spoofed_to_header": False,
                "alternatives": False,
                "attachments": True,
                "multiple_from_emails": False,
                "envelope_sender": False,
                "metadata": True,
                "send_at": False,
                "tags": True,
                "track_clicks": False,
                "track_opens": False,
                "template_id": True,
                "merge_data": False,
                "merge_global_data": True,
                "merge_metadata": False,
                "esp_extra": True,
            },
        )


# ---------------------------------------------------------------------------------------------
# Standard Django EmailMessage features
# ---------------------------------------------------------------------------------------------


class SendinBlueStandardEmailTests(SendinBlueBackendTestCase):
    def test_send_mail(self):
        sent = mail.send_mail(
            "Subject here",
            "Here is the message.",
            "from@sender.example.com",
            ["to@example.com"],
            html_message="<p>Here is the <b>message</b>.</p>",
        )
        self.assertEqual(sent, 1)
        self.assertEqual(
            self.sent_json(),
            {
                "sender": {"email": "from@sender.example.com"},
                "to": [{"email": "to@example.com"}],
                "subject": "Subject here",
                "htmlContent": "<p>Here is the <b>message</b>.</p>",
                "textContent": "Here is the message.",
            },
        )

    def test_complete_message(self):
        message = EmailMultiAlternatives(
            "Subject",
            "Text body",
            '"Sender, Inc." <from@example.com>',
            ["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
            reply_to=["Reply Here <reply@example.com>"],
            headers={"X-Custom": "custom value", "List-Unsubscribe": "<mailto:unsub@example.com>"},
        )
        message.attach_alternative("<p>HTML body</p>", "text/html")
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "sender": {"email": "from@example.com", "name": "Sender, Inc."},
                "to": [
                    {"email": "to1@example.com", "name": "Recipient #1"},
                    {"email": "to2@example.com"},
                ],
                "cc": [
                    {"email": "cc1@example.com", "name": "Carbon Copy"},
                    {"email": "cc2@example.com"},
                ],
                "bcc": [
                    {"email": "bcc1@example.com", "name": "Blind Copy"},
                    {"email": "bcc2@example.com"},
                ],
                "replyTo": {"email": "reply@example.com", "name": "Reply Here"},
                "subject": "Subject",
                "htmlContent": "<p>HTML body</p>",
                "textContent": "Text body",
                "headers": {
                    "X-Custom": "custom value",
                    "List-Unsubscribe": "<mailto:unsub@example.com>",
                },
            },
        )

    def test_html_only(self):
        message = EmailMessage(
            "Subject", "<p>Only HTML</p>", "from@example.com", ["to@example.com"]
        )
        message.content_subtype = "html"
        message.send()
        data = self.sent_json()
        self.assertEqual(data["htmlContent"], "<p>Only HTML</p>")
        self.assertNotIn("textContent", data)

    def test_text_only_is_sent_for_sendinblue_to_judge(self):
        # Documented quirk: SendinBlue's API (not Anymail) refuses a text-only message
        mail.send_mail("Subject", "Just text", "from@example.com", ["to@example.com"])
        data = self.sent_json()
        self.assertEqual(data["textContent"], "Just text")
        self.assertNotIn("htmlContent", data)

    def test_unicode_on_the_wire(self):
        message = EmailMultiAlternatives(
            "Ünïcödé ✓ 😀",
            "Text ✓",
            "Frânçois Müller <from@example.com>",
            ["Zoë 李 <to@example.com>"],
        )
        message.attach_alternative("<p>Ünïcödé ✓ 😀</p>", "text/html")
        message.send()
        body = self.api_call_kwargs()["data"]
        # UTF-8 bytes (a str body would be sent as Latin-1 by http.client, and fail)
        self.assertIsInstance(body, bytes)
        data = json.loads(body.decode("utf-8"))
        self.assertEqual(data["subject"], "Ünïcödé ✓ 😀")
        self.assertEqual(data["sender"], {"email": "from@example.com", "name": "Frânçois Müller"})
        self.assertEqual(data["to"], [{"email": "to@example.com", "name": "Zoë 李"}])
        self.assertEqual(data["htmlContent"], "<p>Ünïcödé ✓ 😀</p>")
        # The request as prepared for the wire
        prepared = message.anymail_status.esp_response.request
        self.assertEqual(prepared.body, body)

    def test_lazy_strings(self):
        message = EmailMultiAlternatives(
            gettext_lazy("Lazy subject"),
            gettext_lazy("Lazy body"),
            "from@example.com",
            ["to@example.com"],
        )
        message.send()
        data = self.sent_json()
        self.assertEqual(data["subject"], "Lazy subject")
        self.assertEqual(data["textContent"], "Lazy body")

    def test_reply_to_header_overrides_reply_to(self):
        self.message.reply_to = ["ignored@example.com"]
        self.message.extra_headers = {"Reply-To": "Header Reply <header@example.com>"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["replyTo"], {"email": "header@example.com", "name": "Header Reply"})
        self.assertNotIn("headers", data)

    def test_multiple_reply_to_refused(self):
        self.message.reply_to = ["one@example.com", "two@example.com"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendinBlue does not support multiple reply_to addresses"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_multiple_reply_to_ignored_uses_first(self):
        self.message.reply_to = ["One <one@example.com>", "two@example.com"]
        self.message.send()
        self.assertEqual(self.sent_json()["replyTo"], {"email": "one@example.com", "name": "One"})

    def test_from_header_needs_envelope_sender(self):
        # As Django's SMTP backend: the header is the visible From, from_email the envelope
        # sender, which SendinBlue can't set
        self.message.extra_headers = {"From": "Visible <visible@example.com>"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendinBlue does not support envelope_sender"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_spoofed_to_header_refused(self):
        self.message.extra_headers = {"To": "Someone Else <else@example.com>"}
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "a spoofed To header"):
            self.message.send()
        self.assert_no_api_call()

    def test_multiple_from_refused(self):
        self.message.from_email = "one@example.com, two@example.com"
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "multiple from emails"):
            self.message.send()

    def test_attachments(self):
        text_content = "• Item one\n• Item two\n"
        self.message.attach("test.txt", text_content, "text/plain")
        self.message.attach("test.png", PNG_BYTES, "image/png")
        pdf = MIMEBase("application", "pdf")
        pdf.set_payload(b"%PDF-1.4 fake")
        encoders.encode_base64(pdf)
        pdf.add_header("Content-Disposition", "attachment", filename="invoice.pdf")
        self.message.attach(pdf)
        self.message.send()
        self.assertEqual(
            self.sent_json()["attachment"],
            [
                {
                    "name": "test.txt",
                    "content": base64.b64encode(text_content.encode("utf-8")).decode("ascii"),
                },
                {"name": "test.png", "content": base64.b64encode(PNG_BYTES).decode("ascii")},
                {"name": "invoice.pdf", "content": base64.b64encode(b"%PDF-1.4 fake").decode()},
            ],
        )

    def test_attachment_without_name_is_left_for_sendinblue_to_refuse(self):
        # Documented: SendinBlue needs a filename; without one, its API reports the error
        self.message.attach(None, b"data", "application/octet-stream")
        self.message.send()
        self.assertEqual(
            self.sent_json()["attachment"], [{"content": base64.b64encode(b"data").decode()}]
        )

    def test_inline_image_refused(self):
        message = EmailMultiAlternatives("Subject", "Text", "from@example.com", ["to@example.com"])
        cid = attach_inline_image(message, PNG_BYTES, "logo.png")
        message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendinBlue does not support inline content"
        ):
            message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_inline_image_ignored_sends_ordinary_attachment(self):
        attach_inline_image(self.message, PNG_BYTES, "logo.png")
        self.message.send()
        self.assertEqual(
            self.sent_json()["attachment"],
            [{"name": "logo.png", "content": base64.b64encode(PNG_BYTES).decode("ascii")}],
        )

    def test_non_html_alternative_refused(self):
        self.message.attach_alternative("{amp}", "text/x-amp-html")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "alternative part with type 'text/x-amp-html'"
        ):
            self.message.send()

    def test_no_recipients_no_api_call(self):
        self.assertEqual(EmailMessage("Subject", "Body", "from@example.com", []).send(), 0)
        self.assert_no_api_call()

    def test_header_injection_refused(self):
        # Django's own error for this, as its SMTP backend raises
        self.message.extra_headers = {"X-Custom": "one\nBcc: victim@example.com"}
        with self.assertRaisesMessage(BadHeaderError, "X-Custom"):
            self.message.send()
        self.assert_no_api_call()


# ---------------------------------------------------------------------------------------------
# Anymail features
# ---------------------------------------------------------------------------------------------


class SendinBlueAnymailFeatureTests(SendinBlueBackendTestCase):
    def test_metadata_in_x_mailin_custom_header(self):
        self.message.metadata = {"user_id": "12345", "items": 6, "note": "ça va"}
        self.message.send()
        headers = self.sent_json()["headers"]
        self.assertEqual(list(headers), ["X-Mailin-custom"])
        self.assertEqual(
            json.loads(headers["X-Mailin-custom"]),
            {"user_id": "12345", "items": 6, "note": "ça va"},
        )
        self.assertTrue(headers["X-Mailin-custom"].isascii())  # it's an email header

    def test_single_tag_in_x_mailin_tag_header(self):
        self.message.tags = ["receipt"]
        self.message.extra_headers = {"X-Other": "other"}
        self.message.send()
        self.assertEqual(
            self.sent_json()["headers"], {"X-Other": "other", "X-Mailin-tag": "receipt"}
        )

    def test_tag_with_line_break_refused(self):
        # The tag becomes an email header
        self.message.tags = ["receipt\nBcc: victim@example.com"]
        with self.assertRaisesMessage(BadHeaderError, "X-Mailin-tag"):
            self.message.send()
        self.assert_no_api_call()

    def test_multiple_tags_refused(self):
        self.message.tags = ["receipt", "repeat-customer"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendinBlue does not support multiple tags"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_multiple_tags_ignored_sends_first(self):
        self.message.tags = ["receipt", "repeat-customer"]
        self.message.send()
        self.assertEqual(self.sent_json()["headers"], {"X-Mailin-tag": "receipt"})

    def test_unsupported_features_refused(self):
        cases = {
            "track_clicks": ("track_clicks", True),
            "track_opens": ("track_opens", False),
            "envelope_sender": ("envelope_sender", "bounces@example.com"),
            "merge_data": ("merge_data", {"to@example.com": {"name": "To"}}),
            "merge_metadata": ("merge_metadata", {"to@example.com": {"order": 1}}),
        }
        for feature, (attr, value) in cases.items():
            with self.subTest(feature=feature):
                message = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
                setattr(message, attr, value)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, f"SendinBlue does not support {feature}"
                ):
                    message.send()
        self.assert_no_api_call()

    def test_empty_merge_data_still_refused(self):
        # An empty merge_data still asks for a batch send, which SendinBlue can't do
        self.message.merge_data = {}
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "merge_data"):
            self.message.send()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_unsupported_features_ignored(self):
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            track_clicks=True,
            track_opens=True,
            envelope_sender="bounces@example.com",
        )
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "sender": {"email": "from@example.com"},
                "to": [{"email": "to@example.com"}],
                "subject": "Subject",
                "textContent": "Body",
            },
        )

    def test_send_at_refused(self):
        # SendinBlue's transactional API has no scheduled sending in Anymail 6.1's mapping
        for send_at in ("2022-10-11T12:13:14.567+02:00", datetime(2030, 1, 2, tzinfo=timezone.utc)):
            with self.subTest(send_at=send_at):
                message = AnymailMessage("S", "B", "from@example.com", ["to@example.com"])
                message.send_at = send_at
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, "SendinBlue does not support send_at"
                ):
                    message.send()
        self.assert_no_api_call()

    def test_merge_global_data_without_template_is_params(self):
        # SendinBlue applies params to {{ params.name }} in the message's own HTML too
        self.message.merge_global_data = {"name": "Alice"}
        self.message.send()
        self.assertEqual(self.sent_json()["params"], {"name": "Alice"})

    def test_esp_extra_merged_into_json(self):
        self.message.esp_extra = {"hypotheticalFutureSendinBlueParam": "2022", "tags": ["t1"]}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["hypotheticalFutureSendinBlueParam"], "2022")
        self.assertEqual(data["tags"], ["t1"])
        self.assertEqual(data["subject"], "Subject")

    def test_esp_extra_can_override_anymail_fields(self):
        self.message.esp_extra = {"subject": "From esp_extra", "headers": {"sender.ip": "1.2.3.4"}}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["subject"], "From esp_extra")
        self.assertEqual(data["headers"], {"sender.ip": "1.2.3.4"})

    @override_settings(
        ANYMAIL={
            "SENDINBLUE_API_KEY": "test-key",
            "SEND_DEFAULTS": {"esp_extra": {"global": "1"}, "tags": ["global-tag"]},
            "SENDINBLUE_SEND_DEFAULTS": {"esp_extra": {"sib": "2"}},
        }
    )
    def test_send_defaults(self):
        self.message.esp_extra = {"message": "3"}
        self.message.send()
        data = self.sent_json()
        # ESP defaults replace the global value for the same key; message dicts merge over it
        self.assertEqual((data.get("global"), data["sib"], data["message"]), (None, "2", "3"))
        self.assertEqual(data["headers"], {"X-Mailin-tag": "global-tag"})

    def test_unserializable_metadata(self):
        self.message.metadata = {"when": datetime(2030, 1, 1)}
        with self.assertRaisesMessage(AnymailSerializationError, "metadata['when']"):
            self.message.send()
        self.assert_no_api_call()


# ---------------------------------------------------------------------------------------------
# Stored templates
# ---------------------------------------------------------------------------------------------


class SendinBlueTemplateTests(SendinBlueBackendTestCase):
    def test_docs_template_example(self):
        message = self.template_message()
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "to": [{"email": "alice@example.com"}],
                "templateId": 3,
                "params": {"name": "Alice", "order_no": "12345", "ship_date": "May 15"},
            },
        )
        self.assertEqual(message.anymail_status.status, {"queued"})

    def test_template_with_django_default_empty_subject(self):
        # EmailMessage's subject defaults to "": that's no subject (the template's is used),
        # not an override of the template's subject
        message = EmailMessage(to=["alice@example.com"])
        self.assertEqual(message.subject, "")
        message.from_email = None
        message.template_id = 3
        message.merge_global_data = {"name": "Alice"}
        message.send()
        self.assertEqual(
            self.sent_json(),
            {"to": [{"email": "alice@example.com"}], "templateId": 3, "params": {"name": "Alice"}},
        )
        self.assertEqual(message.anymail_status.status, {"queued"})

    def test_template_with_other_fields(self):
        message = self.template_message(
            cc=["cc@example.com"], bcc=["bcc@example.com"], reply_to=["reply@example.com"]
        )
        message.template_id = "7"  # numeric string: sent as the integer SendinBlue expects
        message.tags = ["welcome"]
        message.metadata = {"user": 1}
        message.attach("terms.pdf", b"%PDF", "application/pdf")
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "to": [{"email": "alice@example.com"}],
                "cc": [{"email": "cc@example.com"}],
                "bcc": [{"email": "bcc@example.com"}],
                "replyTo": {"email": "reply@example.com"},
                "headers": {"X-Mailin-custom": '{"user": 1}', "X-Mailin-tag": "welcome"},
                "attachment": [
                    {"name": "terms.pdf", "content": base64.b64encode(b"%PDF").decode()}
                ],
                "templateId": 7,
                "params": {"name": "Alice", "order_no": "12345", "ship_date": "May 15"},
            },
        )

    def test_template_without_merge_data(self):
        message = self.template_message()
        message.merge_global_data = None
        message.send()
        self.assertNotIn("params", self.sent_json())

    def test_non_numeric_template_id(self):
        for template_id in ("welcome", "3a", " ", "³", 3.5, True):
            with self.subTest(template_id=template_id):
                message = self.template_message()
                message.template_id = template_id
                with self.assertRaisesMessage(
                    AnymailSerializationError,
                    "SendinBlue template_id must be the template's numeric ID",
                ):
                    message.send()
        self.assert_no_api_call()

    def test_empty_template_id_is_no_template(self):
        self.message.template_id = ""
        self.message.send()
        data = self.sent_json()
        self.assertNotIn("templateId", data)
        self.assertEqual(data["subject"], "Subject")

    def test_template_refuses_overrides(self):
        cases = {
            "from_email": ("from_email", "from@example.com", "template's from_email"),
            "subject": ("subject", "Subject", "template's subject"),
            "body": ("body", "Body", "template's body"),
        }
        for name, (attr, value, expected) in cases.items():
            with self.subTest(name):
                message = self.template_message()
                setattr(message, attr, value)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature,
                    f"SendinBlue does not support overriding a {expected}",
                ):
                    message.send()
        self.assert_no_api_call()

    def test_template_refuses_html_body(self):
        message = EmailMultiAlternatives(subject=None, to=["alice@example.com"])
        message.from_email = None
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.template_id = 3
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "template's body"):
            message.send()

    def test_template_refuses_display_names(self):
        for kwargs in (
            {"to": ["Alice <alice@example.com>"]},
            {"cc": ["Carol <cc@example.com>"]},
            {"bcc": ["Bob <bcc@example.com>"]},
            {"reply_to": ["Reply <reply@example.com>"]},
        ):
            with self.subTest(**kwargs):
                message = EmailMessage(
                    subject=None, body=None, **{"to": ["a@example.com"], **kwargs}
                )
                message.from_email = None
                message.template_id = 3
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature,
                    "SendinBlue does not support display names in recipient or reply_to emails",
                ):
                    message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDINBLUE_API_KEY": "test-key", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_template_limitations_ignored(self):
        message = EmailMultiAlternatives(
            "Subject",
            "Body",
            "Sender <from@example.com>",
            ["Alice <alice@example.com>"],
            reply_to=["Reply <reply@example.com>"],
        )
        message.attach_alternative("<p>HTML</p>", "text/html")
        message.template_id = 3
        message.send()
        # Only what SendinBlue can take with a template
        self.assertEqual(
            self.sent_json(),
            {
                "to": [{"email": "alice@example.com"}],
                "replyTo": {"email": "reply@example.com"},
                "templateId": 3,
            },
        )


# ---------------------------------------------------------------------------------------------
# anymail_status and errors
# ---------------------------------------------------------------------------------------------


class SendinBlueResponseTests(SendinBlueBackendTestCase):
    def test_queued_for_every_recipient(self):
        self.set_response(201, json_data={"messageId": MESSAGE_ID})
        message = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["To <to1@example.com>", "to2@example.com"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
        )
        self.assertEqual(message.send(), 1)
        status = message.anymail_status
        self.assertEqual(status.status, {"queued"})
        self.assertEqual(status.message_id, MESSAGE_ID)
        self.assertEqual(
            set(status.recipients),
            {"to1@example.com", "to2@example.com", "cc@example.com", "bcc@example.com"},
        )
        for recipient in status.recipients.values():
            self.assertEqual((recipient.status, recipient.message_id), ("queued", MESSAGE_ID))
        self.assertEqual(status.esp_response.status_code, 201)
        self.assertEqual(status.esp_response.json(), {"messageId": MESSAGE_ID})

    def test_api_error_includes_sendinblue_code_and_message(self):
        self.set_response(
            400,
            json_data={
                "code": "invalid_parameter",
                "message": "attachment name has an unsupported extension",
            },
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertIsInstance(err, AnymailAPIError)
        self.assertEqual(err.status_code, 400)
        text = str(err)
        self.assertIn("SendinBlue API response 400", text)
        self.assertIn("invalid_parameter: attachment name has an unsupported extension", text)
        self.assertIsNone(self.message.anymail_status.message_id)
        self.assertEqual(self.message.anymail_status.recipients, {})

    def test_unauthorized(self):
        self.set_response(401, json_data={"code": "unauthorized", "message": "Key not found"})
        with self.assertRaisesMessage(AnymailRequestsAPIError, "unauthorized: Key not found"):
            self.message.send()

    def test_error_without_json(self):
        self.set_response(502, text="<html>Bad Gateway</html>")
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertIn("SendinBlue API response 502", str(cm.exception))
        self.assertIn("<html>Bad Gateway</html>", str(cm.exception))

    def test_invalid_json_success_response(self):
        self.set_response(201, text="not json")
        with self.assertRaisesMessage(AnymailRequestsAPIError, "Invalid JSON in SendinBlue"):
            self.message.send()

    def test_success_response_without_message_id(self):
        for body in ({}, {"messageIds": [MESSAGE_ID]}, [MESSAGE_ID], {"messageId": None}):
            with self.subTest(body=body):
                self.set_response(201, json_data=body)
                with self.assertRaisesMessage(AnymailRequestsAPIError, "expected a messageId"):
                    self.message.send()

    def test_network_error(self):
        self.set_error(requests.ConnectionError("connection refused"))
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertIn("Error calling SendinBlue API at " + SEND_URL, str(cm.exception))
        self.assertIn("connection refused", str(cm.exception))

    def test_fail_silently(self):
        self.set_response(400, json_data={"code": "invalid_parameter", "message": "bad"})
        self.assertEqual(self.message.send(fail_silently=True), 0)
        self.assertIsNone(self.message.anymail_status.status)

    def test_send_messages_reuses_one_session(self):
        self.set_response(201, json_data={"messageId": "<one@smtp-relay.mailin.fr>"})
        self.set_response(201, json_data={"messageId": "<two@smtp-relay.mailin.fr>"})
        first = EmailMessage("One", "Body", "from@example.com", ["one@example.com"])
        second = EmailMessage("Two", "Body", "from@example.com", ["two@example.com"])
        self.assertEqual(get_connection().send_messages([first, second]), 2)
        sessions = {id(call.args[0]) for call in self.api_calls()}
        self.assertEqual(len(sessions), 1)
        self.assertEqual(first.anymail_status.message_id, "<one@smtp-relay.mailin.fr>")
        self.assertEqual(second.anymail_status.message_id, "<two@smtp-relay.mailin.fr>")

    def test_backend_class(self):
        self.assertIsInstance(get_connection(), EmailBackend)


class SendinBlueBackendLargeAttachmentTests(SendinBlueBackendTestCase):
    def test_large_attachment_content_sent_whole(self):
        assert_large_attachments_sent_whole(self, self.message, inline_image=False)
