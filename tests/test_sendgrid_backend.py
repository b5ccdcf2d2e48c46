"""SendGrid backend: the exact v3 Mail Send requests it makes, and how it reads the responses.

SendGrid is faked at requests.Session.request (tests/fakes.py). Request shapes follow SendGrid's
v3 Mail Send API reference; responses are what Mail Send really returns: 202 Accepted with an
empty body on success, and ``{"errors": [{"message", "field", "help"}]}`` on failure.
"""

from __future__ import annotations

import base64
import uuid
import warnings
from datetime import date, datetime, timedelta, timezone
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from unittest import mock

import requests
from django.core import mail
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.test import override_settings

from anymail.backends.sendgrid import EmailBackend, SendGridPayload, deep_merge
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
    AnymailWarning,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import RequestsFakeTestCase, assert_large_attachments_sent_whole

SENDGRID_BACKEND = "anymail.backends.sendgrid.EmailBackend"
SEND_URL = "https://api.sendgrid.com/v3/mail/send"
# A 1x1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
# The anymail_ids the (patched) uuid4 hands out, in order
IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 10)]


@override_settings(EMAIL_BACKEND=SENDGRID_BACKEND, ANYMAIL={"SENDGRID_API_KEY": "SG.test-key"})
class SendGridBackendTestCase(RequestsFakeTestCase):
    def setUp(self):
        super().setUp()
        # Mail Send's success response: 202 Accepted, no body
        self.set_response(202, text="")
        patcher = mock.patch(
            "anymail.backends.sendgrid.uuid.uuid4", side_effect=[uuid.UUID(id_) for id_ in IDS]
        )
        self.mock_uuid4 = patcher.start()
        self.addCleanup(patcher.stop)
        self.message = EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def sent_json(self) -> dict:
        self.assert_api_called("POST", SEND_URL)
        return self.api_call_json()


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


class SendGridSettingsTests(SendGridBackendTestCase):
    def test_request_url_auth_and_headers(self):
        self.message.send()
        kwargs = self.assert_api_called("POST", SEND_URL)
        self.assertEqual(kwargs["headers"]["Authorization"], "Bearer SG.test-key")
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertIsNone(kwargs["auth"])
        self.assertEqual(kwargs["timeout"], 30)
        # And on the wire
        request = self.message.anymail_status.esp_response.request
        self.assertEqual(request.headers["Authorization"], "Bearer SG.test-key")
        self.assertRegex(request.headers["User-Agent"], r"^django-anymail/\S+-sendgrid")

    @override_settings(ANYMAIL={}, ANYMAIL_SENDGRID_API_KEY="SG.prefixed")
    def test_prefixed_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["Authorization"], "Bearer SG.prefixed")

    @override_settings(ANYMAIL={}, SENDGRID_API_KEY="SG.bare")
    def test_bare_setting_fallback(self):
        # The docs: "Anymail will also look for SENDGRID_API_KEY at the root of the settings"
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["Authorization"], "Bearer SG.bare")

    @override_settings(ANYMAIL={"SENDGRID_API_KEY": "SG.anymail"}, SENDGRID_API_KEY="SG.bare")
    def test_anymail_dict_wins_over_bare_setting(self):
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["Authorization"], "Bearer SG.anymail")

    @override_settings(ANYMAIL={})
    def test_missing_api_key(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_connection()
        text = str(cm.exception)
        for place in ('"SENDGRID_API_KEY"', "ANYMAIL_SENDGRID_API_KEY", " SENDGRID_API_KEY"):
            self.assertIn(place, text)
        self.assertIn("SendGrid", text)

    @override_settings(ANYMAIL={})
    def test_connection_kwargs_override_settings(self):
        # e.g. for SendGrid subusers: the docs' get_connection(...) kwargs
        self.message.connection = get_connection(api_key="SG.kwarg")
        self.message.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["Authorization"], "Bearer SG.kwarg")

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_API_URL": "https://api.sendgrid.example/v3"}
    )
    def test_custom_api_url(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.sendgrid.example/v3/mail/send")

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_API_URL": "https://api.eu.sendgrid.com/v3/"}
    )
    def test_custom_api_url_with_trailing_slash(self):
        self.message.send()
        self.assert_api_called("POST", "https://api.eu.sendgrid.com/v3/mail/send")

    def test_esp_name(self):
        self.assertEqual(get_connection().esp_name, "SendGrid")

    def test_docs_mixing_backends_example(self):
        # 1.6.2 "Mixing email backends": get_connection by dotted path
        sendgrid_backend = get_connection("anymail.backends.sendgrid.EmailBackend")
        mail.send_mail(
            "Password reset",
            "Here you go",
            "noreply@example.com",
            ["user@example.com"],
            connection=sendgrid_backend,
        )
        self.assertEqual(self.sent_json()["subject"], "Password reset")


# ---------------------------------------------------------------------------------------------
# Standard Django email features
# ---------------------------------------------------------------------------------------------


class SendGridStandardEmailTests(SendGridBackendTestCase):
    def test_send_mail(self):
        mail.send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com", ["to@example.com"]
        )
        self.assertEqual(
            self.sent_json(),
            {
                "personalizations": [
                    {
                        "to": [{"email": "to@example.com"}],
                        "custom_args": {"anymail_id": IDS[0]},
                    }
                ],
                "from": {"email": "from@sender.example.com"},
                "subject": "Subject here",
                "content": [{"type": "text/plain", "value": "Here is the message."}],
            },
        )

    def test_name_addr_and_all_recipient_types(self):
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
        self.assertEqual(data["from"], {"email": "from@example.com", "name": "From Name"})
        self.assertEqual(
            data["personalizations"],
            [
                {
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
                    "custom_args": {"anymail_id": IDS[0]},
                }
            ],
        )

    def test_display_names_with_commas_and_unicode(self):
        # v3 takes the name as its own JSON field: no quoting or encoding needed
        msg = EmailMessage(
            "Subject",
            "Body",
            '"Widgets, Inc." <from@example.com>',
            ['"Ünïcödé, Jr." <to@example.com>'],
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["from"], {"email": "from@example.com", "name": "Widgets, Inc."})
        self.assertEqual(
            data["personalizations"][0]["to"], [{"email": "to@example.com", "name": "Ünïcödé, Jr."}]
        )

    def test_html_and_text_bodies_in_v3_order(self):
        # v3: text/plain first, then text/html
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")
        self.message.send()
        self.assertEqual(
            self.sent_json()["content"],
            [
                {"type": "text/plain", "value": "Text Body"},
                {"type": "text/html", "value": "<p>HTML Body</p>"},
            ],
        )

    def test_html_only_message(self):
        msg = EmailMessage("Subject", "<p>HTML only</p>", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        self.assertEqual(
            self.sent_json()["content"], [{"type": "text/html", "value": "<p>HTML only</p>"}]
        )

    def test_html_body_with_text_alternative_still_sends_plain_first(self):
        msg = EmailMultiAlternatives("Subject", "<p>HTML</p>", "from@example.com", ["to@x.com"])
        msg.content_subtype = "html"
        msg.attach_alternative("Plain", "text/plain")
        msg.send()
        self.assertEqual(
            self.sent_json()["content"],
            [
                {"type": "text/plain", "value": "Plain"},
                {"type": "text/html", "value": "<p>HTML</p>"},
            ],
        )

    def test_other_alternative_types_follow_plain_and_html(self):
        # v3's content list takes other MIME types, after text/plain and text/html
        self.message.attach_alternative("BEGIN:VCALENDAR\r\nEND:VCALENDAR", "text/calendar")
        self.message.attach_alternative("<p>HTML</p>", "text/html")
        self.message.send()
        self.assertEqual(
            self.sent_json()["content"],
            [
                {"type": "text/plain", "value": "Text Body"},
                {"type": "text/html", "value": "<p>HTML</p>"},
                {"type": "text/calendar", "value": "BEGIN:VCALENDAR\r\nEND:VCALENDAR"},
            ],
        )

    def test_empty_body_sends_no_content(self):
        # An empty content value is a v3 API error; SendGrid explains a missing one itself
        msg = EmailMessage("Subject", "", "from@example.com", ["to@example.com"])
        msg.send()
        self.assertNotIn("content", self.sent_json())

    def test_reply_to_and_extra_headers(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["Reply Name <reply@example.com>"],
            headers={"X-Custom": "custom value", "X-Number": 123, "List-Unsubscribe": "<x:y>"},
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["reply_to"], {"email": "reply@example.com", "name": "Reply Name"})
        # v3 header values must be strings: ints are converted (changelog v1.0)
        self.assertEqual(
            data["headers"],
            {"X-Custom": "custom value", "X-Number": "123", "List-Unsubscribe": "<x:y>"},
        )

    def test_multiple_reply_to_is_refused(self):
        # "SendGrid's v3 API only supports a single Reply-To address"
        self.message.reply_to = ["reply1@example.com", "reply2@example.com"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendGrid does not support multiple reply_to addresses"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "IGNORE_UNSUPPORTED_FEATURES": True},
    )
    def test_multiple_reply_to_uses_first_when_ignoring_unsupported(self):
        # "... Anymail will use only the first one"
        self.message.reply_to = ["First <reply1@example.com>", "reply2@example.com"]
        self.message.send()
        self.assertEqual(
            self.sent_json()["reply_to"], {"email": "reply1@example.com", "name": "First"}
        )

    def test_reply_to_header_overrides_reply_to(self):
        self.message.reply_to = ["ignored@example.com"]
        self.message.extra_headers = {"Reply-To": "Header <header@example.com>"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["reply_to"], {"email": "header@example.com", "name": "Header"})
        self.assertNotIn("headers", data)

    def test_from_header_needs_envelope_sender_which_is_refused(self):
        # A From header makes from_email the envelope sender, which SendGrid can't override
        self.message.extra_headers = {"From": "Header From <header@example.com>"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendGrid does not support envelope_sender"
        ):
            self.message.send()

    def test_spoofed_to_header_is_refused(self):
        self.message.extra_headers = {"To": "Someone Else <else@example.com>"}
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "spoofed To header"):
            self.message.send()
        self.assert_no_api_call()

    def test_multiple_from_emails_are_refused(self):
        self.message.from_email = "one@example.com, two@example.com"
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "multiple from emails"):
            self.message.send()

    def test_attachments(self):
        text_content = "• Item one\n• Item two\n"
        self.message.attach("test.txt", text_content, "text/plain")
        self.message.attach("test.pdf", b"%PDF-1.4 binary\x00\xff", "application/pdf")
        mimeattachment = MIMEBase("application", "x-custom")
        mimeattachment.set_payload(b"custom")
        mimeattachment.add_header("Content-Disposition", "attachment", filename="custom.dat")
        self.message.attach(mimeattachment)
        self.message.send()
        self.assertEqual(
            self.sent_json()["attachments"],
            [
                {
                    "content": "4oCiIEl0ZW0gb25lCuKAoiBJdGVtIHR3bwo=",
                    "type": "text/plain",
                    "filename": "test.txt",
                    "disposition": "attachment",
                },
                {
                    "content": "JVBERi0xLjQgYmluYXJ5AP8=",
                    "type": "application/pdf",
                    "filename": "test.pdf",
                    "disposition": "attachment",
                },
                {
                    "content": "Y3VzdG9t",
                    "type": "application/x-custom",
                    "filename": "custom.dat",
                    "disposition": "attachment",
                },
            ],
        )

    def test_unnamed_attachment_gets_a_filename(self):
        # v3 requires a filename
        self.message.attach(None, b"%PDF-1.4", "application/pdf")
        self.message.send()
        attachment = self.sent_json()["attachments"][0]
        self.assertEqual(attachment["filename"], "attachment.pdf")
        self.assertEqual(attachment["type"], "application/pdf")

    def test_inline_image(self):
        msg = AnymailMessage("Subject", "Text", "from@example.com", ["to@example.com"])
        cid = attach_inline_image(msg, PNG_BYTES, filename="pixel.png", domain="example.com")
        msg.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        msg.send()
        self.assertEqual(
            self.sent_json()["attachments"],
            [
                {
                    "content": base64.b64encode(PNG_BYTES).decode("ascii"),
                    "type": "image/png",
                    "filename": "pixel.png",
                    "disposition": "inline",
                    "content_id": cid,
                }
            ],
        )

    def test_image_with_content_id_but_no_disposition_is_inline(self):
        image = MIMEImage(PNG_BYTES, "png")
        image["Content-ID"] = "<abc123@example.com>"
        self.message.attach(image)
        self.message.send()
        attachment = self.sent_json()["attachments"][0]
        self.assertEqual(attachment["disposition"], "inline")
        self.assertEqual(attachment["content_id"], "abc123@example.com")
        # Unnamed inline image: named for its Content-ID (v3 requires a filename)
        self.assertEqual(attachment["filename"], "abc123@example.com")

    def test_inline_attachment_without_content_id_is_refused(self):
        # v3: content_id is required when disposition is inline
        image = MIMEImage(PNG_BYTES, "png")
        image.add_header("Content-Disposition", "inline", filename="pixel.png")
        self.message.attach(image)
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "SendGrid does not support inline attachments without a Content-ID",
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_cc_only_message_is_refused(self):
        # v3: "The to parameter is required for all personalization objects"
        msg = EmailMessage("Subject", "Body", "from@example.com", cc=["cc@example.com"])
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendGrid does not support messages without any 'to'"
        ):
            msg.send()
        self.assert_no_api_call()

    def test_empty_subject_is_omitted(self):
        # v3 refuses an empty subject; omitted, a template (or personalization) can supply it
        self.message.subject = ""
        self.message.send()
        self.assertNotIn("subject", self.sent_json())

    def test_no_recipients_makes_no_api_call(self):
        msg = EmailMessage("Subject", "Body", "from@example.com")
        self.assertEqual(msg.send(), 0)
        self.assert_no_api_call()

    def test_header_line_break_is_refused(self):
        # As Django's SMTP backend refuses it
        self.message.extra_headers = {"X-Bad": "value\r\nBcc: victim@example.com"}
        with self.assertRaisesMessage(BadHeaderError, "line break"):
            self.message.send()
        self.assert_no_api_call()

    def test_idn_and_non_ascii_names_are_not_encoded(self):
        # v3 email objects take the name as plain JSON text: an RFC 2047 encoded-word there
        # would be shown to recipients as is. (SendGrid takes the address as given.)
        msg = EmailMessage(
            "Subject",
            "Body",
            "Frøm Ünicode <from@exämple.com>",
            ["Jörg Tø <to@exämple.com>"],
            reply_to=["Rëply <reply@example.com>"],
        )
        msg.send()
        data = self.sent_json()
        self.assertEqual(data["from"], {"email": "from@exämple.com", "name": "Frøm Ünicode"})
        self.assertEqual(
            data["personalizations"][0]["to"], [{"email": "to@exämple.com", "name": "Jörg Tø"}]
        )
        self.assertEqual(data["reply_to"], {"email": "reply@example.com", "name": "Rëply"})
        self.assertNotIn(b"=?utf-8?", self.api_call_kwargs()["data"])


# ---------------------------------------------------------------------------------------------
# Anymail features
# ---------------------------------------------------------------------------------------------


class SendGridAnymailFeatureTests(SendGridBackendTestCase):
    def setUp(self):
        super().setUp()
        self.message = AnymailMessage(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def test_feature_matrix(self):
        # 1.5.9: SendGrid supports everything but envelope_sender
        features = SendGridPayload.supported_features()
        for feature in (
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
            "reply_to",
            "extra_headers",
            "attachments",
        ):
            self.assertTrue(features[feature], feature)
        for feature in ("envelope_sender", "spoofed_to_header", "multiple_from_emails"):
            self.assertFalse(features[feature], feature)

    def test_envelope_sender_is_refused(self):
        self.message.envelope_sender = "bounces@example.com"
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SendGrid does not support envelope_sender"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_metadata_is_custom_args_as_strings(self):
        # custom_args values must be strings: numbers etc. become JSON text
        self.message.metadata = {"user_id": 12345, "ratio": 0.5, "flag": True, "name": "Ünï"}
        self.message.send()
        self.assertEqual(
            self.sent_json()["personalizations"][0]["custom_args"],
            {
                "user_id": "12345",
                "ratio": "0.5",
                "flag": "true",
                "name": "Ünï",
                "anymail_id": IDS[0],
            },
        )

    def test_unserializable_metadata(self):
        self.message.metadata = {"price": object()}
        with self.assertRaisesMessage(AnymailSerializationError, "metadata['price']"):
            self.message.send()
        self.assert_no_api_call()

    def test_send_at(self):
        self.message.send_at = datetime(2026, 3, 4, 5, 6, 7, 800000, tzinfo=timezone.utc)
        self.message.send()
        # v3 send_at: an integer unix timestamp
        self.assertEqual(self.sent_json()["send_at"], 1772600767)

    def test_send_at_naive_datetime_and_date_use_current_timezone(self):
        # runtests.py TIME_ZONE is America/Los_Angeles (PST is UTC-8 in March)
        self.message.send_at = datetime(2026, 3, 4, 5, 6, 7)
        self.message.send()
        self.assertEqual(self.sent_json()["send_at"], 1772629567)
        self.message.send_at = date(2026, 3, 4)
        self.message.send()
        self.assertEqual(self.sent_json()["send_at"], 1772611200)

    def test_send_at_timestamp(self):
        self.message.send_at = 1772600767.9
        self.message.send()
        self.assertEqual(self.sent_json()["send_at"], 1772600767)

    def test_send_at_str_is_sent_as_given(self):
        # As in Anymail 6.1: a str is passed through unchanged (SendGrid wants a unix
        # timestamp; a str is the caller's responsibility)
        self.message.send_at = "1772600767"
        self.message.send()
        self.assertEqual(self.sent_json()["send_at"], "1772600767")

    def test_tags_are_categories(self):
        self.message.tags = ["receipt", "Test Variant A"]
        self.message.send()
        self.assertEqual(self.sent_json()["categories"], ["receipt", "Test Variant A"])

    def test_tracking(self):
        self.message.track_clicks = False
        self.message.track_opens = True
        self.message.send()
        self.assertEqual(
            self.sent_json()["tracking_settings"],
            {"click_tracking": {"enable": False}, "open_tracking": {"enable": True}},
        )

    def test_tracking_unset_leaves_account_default(self):
        self.message.send()
        self.assertNotIn("tracking_settings", self.sent_json())

    def test_template_with_empty_body_sends_no_content(self):
        # changelog v0.6: an empty Django body mustn't hide the template's own content
        message = AnymailMessage(from_email="from@example.com", to=["to@example.com"])
        message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "personalizations": [
                    {"to": [{"email": "to@example.com"}], "custom_args": {"anymail_id": IDS[0]}}
                ],
                "from": {"email": "from@example.com"},
                "template_id": "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f",
            },
        )

    def test_legacy_template_with_subject_and_body(self):
        # Legacy templates use <%subject%> and <%body%> for the message's own content
        self.message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["subject"], "Subject")
        self.assertEqual(data["content"], [{"type": "text/plain", "value": "Text Body"}])

    def test_docs_stored_template_example_dynamic(self):
        # 1.3.3's example, with a SendGrid dynamic template id: each "to" gets its own
        # personalization with dynamic_template_data (merge_global_data under merge_data)
        message = EmailMessage(
            subject=None,
            from_email="marketing@example.com",
            to=["Wile E. <wile@example.com>", "rr@example.com"],
        )
        message.template_id = "d-5a963add2ec84305813ff860db277d7a"
        message.merge_data = {
            "wile@example.com": {"NAME": "Wile E.", "OFFER": "15% off anvils"},
            "rr@example.com": {"NAME": "Mr. Runner"},
        }
        message.merge_global_data = {
            "PARTNER": "Acme, Inc.",
            "OFFER": "5% off any Acme product",
        }
        message.send()
        self.assertEqual(
            self.sent_json(),
            {
                "personalizations": [
                    {
                        "to": [{"email": "wile@example.com", "name": "Wile E."}],
                        "custom_args": {"anymail_id": IDS[0]},
                        "dynamic_template_data": {
                            "PARTNER": "Acme, Inc.",
                            "OFFER": "15% off anvils",
                            "NAME": "Wile E.",
                        },
                    },
                    {
                        "to": [{"email": "rr@example.com"}],
                        "custom_args": {"anymail_id": IDS[1]},
                        "dynamic_template_data": {
                            "PARTNER": "Acme, Inc.",
                            "OFFER": "5% off any Acme product",
                            "NAME": "Mr. Runner",
                        },
                    },
                ],
                "from": {"email": "marketing@example.com"},
                "template_id": "d-5a963add2ec84305813ff860db277d7a",
            },
        )
        # changelog v6.0: a separate message_id for each "to"
        status = message.anymail_status
        self.assertEqual(status.message_id, {IDS[0], IDS[1]})
        self.assertEqual(status.recipients["wile@example.com"].message_id, IDS[0])
        self.assertEqual(status.recipients["rr@example.com"].message_id, IDS[1])
        self.assertEqual(status.status, {"queued"})

    def test_dynamic_template_data_keeps_json_types(self):
        self.message.template_id = "d-5a963add2ec84305813ff860db277d7a"
        self.message.merge_global_data = {"items": [{"sku": "A1", "qty": 2}], "vip": True}
        self.message.send()
        self.assertEqual(
            self.sent_json()["personalizations"][0]["dynamic_template_data"],
            {"items": [{"sku": "A1", "qty": 2}], "vip": True},
        )

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_MERGE_FIELD_FORMAT": "-{}-"},
    )
    def test_legacy_template_merge_field_format_setting(self):
        self.message.to = ["alice@example.com", "Bob <bob@example.com>"]
        self.message.cc = ["cc@example.com"]
        self.message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        self.message.merge_data = {
            "alice@example.com": {"name": "Alice", "group": "Developers"},
            "bob@example.com": {"name": "Bob", "count": 3},
        }
        self.message.merge_global_data = {"group": "Users", "site": "ExampleCo"}
        self.message.send()
        data = self.sent_json()
        # Legacy merge_global_data is in each personalization's substitutions, never "sections"
        # (changelog v6.0); substitution values must be strings
        self.assertNotIn("sections", data)
        self.assertEqual(
            data["personalizations"],
            [
                {
                    "to": [{"email": "alice@example.com"}],
                    "cc": [{"email": "cc@example.com"}],
                    "custom_args": {"anymail_id": IDS[0]},
                    "substitutions": {
                        "-group-": "Developers",
                        "-site-": "ExampleCo",
                        "-name-": "Alice",
                    },
                },
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "cc": [{"email": "cc@example.com"}],
                    "custom_args": {"anymail_id": IDS[1]},
                    "substitutions": {
                        "-group-": "Users",
                        "-site-": "ExampleCo",
                        "-name-": "Bob",
                        "-count-": "3",
                    },
                },
            ],
        )
        status = self.message.anymail_status
        # cc is in every copy: its status carries the first copy's id
        self.assertEqual(status.recipients["cc@example.com"].message_id, IDS[0])
        self.assertEqual(status.recipients["bob@example.com"].message_id, IDS[1])

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_MERGE_FIELD_FORMAT": "-{}-"},
    )
    def test_esp_extra_merge_field_format_overrides_setting(self):
        # The docs' "{{{{{}}}}}" makes Handlebars-style {{field}} delimiters
        self.message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        self.message.merge_global_data = {"name": "Alice"}
        self.message.esp_extra = {"merge_field_format": "{{{{{}}}}}"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["personalizations"][0]["substitutions"], {"{{name}}": "Alice"})
        self.assertNotIn("merge_field_format", data)

    def test_legacy_template_without_format_uses_keys_as_given(self):
        self.message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        self.message.merge_data = {"to@example.com": {"-name-": "Alice", "-order_no-": 12345}}
        self.message.merge_global_data = {":site": "ExampleCo", "%year%": 2026, "{{x}}": "y"}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # delimited keys: no warning
            self.message.send()
        self.assertEqual(
            self.sent_json()["personalizations"][0]["substitutions"],
            {
                ":site": "ExampleCo",
                "%year%": "2026",
                "{{x}}": "y",
                "-name-": "Alice",
                "-order_no-": "12345",
            },
        )

    def test_legacy_merge_fields_without_delimiters_warn(self):
        # Without a merge_field_format, a bare "name" key would replace every "name" in the
        # template's text: Anymail sends it as given, but warns
        self.message.template_id = "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f"
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {
            "alice@example.com": {"name": "Alice"},
            "bob@example.com": {"name": "Bob"},
        }
        self.message.merge_global_data = {"-site-": "ExampleCo"}
        with self.assertWarnsMessage(AnymailWarning, "'name'") as cm:
            self.message.send()
        self.assertIn("SENDGRID_MERGE_FIELD_FORMAT", str(cm.warning))
        self.assertEqual(
            [p["substitutions"] for p in self.sent_json()["personalizations"]],
            [{"-site-": "ExampleCo", "name": "Alice"}, {"-site-": "ExampleCo", "name": "Bob"}],
        )

    def test_on_the_fly_merge_fields_without_delimiters_warn_once(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {"alice@example.com": {"x": 1}, "bob@example.com": {"x": 2}}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.message.send()
        self.assertEqual([w.category for w in caught], [AnymailWarning])
        self.assertEqual(
            [p["substitutions"] for p in self.sent_json()["personalizations"]],
            [{"x": "1"}, {"x": "2"}],
        )

    def test_dynamic_template_fields_need_no_delimiters(self):
        self.message.template_id = "d-5a963add2ec84305813ff860db277d7a"
        self.message.merge_global_data = {"name": "Alice"}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.message.send()
        personalization = self.sent_json()["personalizations"][0]
        self.assertEqual(personalization["dynamic_template_data"], {"name": "Alice"})

    def test_esp_extra_use_dynamic_template(self):
        # Forces the template type, whatever the id looks like; not sent to SendGrid
        for use_dynamic, template_id, expected in [
            (
                True,
                "5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f",
                {"dynamic_template_data": {"name": "Alice", "items": [1, 2]}},
            ),
            (
                False,
                "d-5a963add2ec84305813ff860db277d7a",
                {"substitutions": {"-name-": "Alice", "-items-": "[1, 2]"}},
            ),
        ]:
            with self.subTest(use_dynamic_template=use_dynamic):
                self.message.template_id = template_id
                self.message.merge_global_data = {"name": "Alice", "items": [1, 2]}
                self.message.esp_extra = {
                    "use_dynamic_template": use_dynamic,
                    "merge_field_format": "-{}-",
                }
                self.message.send()
                data = self.sent_json()
                self.assertEqual(
                    data["personalizations"],
                    [
                        {
                            "to": [{"email": "to@example.com"}],
                            "custom_args": {"anymail_id": mock.ANY},
                            **expected,
                        }
                    ],
                )
                self.assertEqual(data["template_id"], template_id)
                self.assertNotIn("use_dynamic_template", data)
                self.assertNotIn("merge_field_format", data)

    def test_esp_extra_v2_x_smtpapi_is_refused(self):
        self.message.esp_extra = {"x-smtpapi": {"asm_group_id": 1, "category": ["receipts"]}}
        with self.assertRaisesMessage(AnymailConfigurationError, "x-smtpapi") as cm:
            self.message.send()
        self.assertIn("v3", str(cm.exception))
        self.assertIn("'asm'", str(cm.exception))
        self.assert_no_api_call()

    def test_invalid_merge_field_format(self):
        self.message.merge_global_data = {"name": "Alice"}
        self.message.esp_extra = {"merge_field_format": "{0}-{1}"}
        with self.assertRaisesMessage(AnymailConfigurationError, "merge_field_format"):
            self.message.send()

    def test_on_the_fly_template(self):
        # Merge fields in the message itself: a legacy-style template (no template_id)
        self.message.subject = "Hello -name-"
        self.message.body = "Your order -order- shipped"
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {
            "alice@example.com": {"name": "Alice", "order": "A1"},
            "bob@example.com": {"name": "Bob", "order": "B2"},
        }
        self.message.esp_extra = {"merge_field_format": "-{}-"}
        self.message.send()
        data = self.sent_json()
        self.assertNotIn("template_id", data)
        self.assertEqual(data["subject"], "Hello -name-")
        self.assertEqual(
            [p["substitutions"] for p in data["personalizations"]],
            [{"-name-": "Alice", "-order-": "A1"}, {"-name-": "Bob", "-order-": "B2"}],
        )

    def test_merge_data_for_recipient_not_in_to_is_ignored(self):
        self.message.merge_data = {"other@example.com": {"name": "Other"}}
        self.message.send()
        personalization = self.sent_json()["personalizations"][0]
        self.assertNotIn("substitutions", personalization)
        self.assertEqual(personalization["to"], [{"email": "to@example.com"}])

    def test_merge_data_values_must_be_dicts(self):
        self.message.merge_data = {"to@example.com": "Alice"}
        with self.assertRaisesMessage(
            AnymailSerializationError, "merge_data['to@example.com'] must be a dict"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_merge_data_with_cc_and_bcc(self):
        # "any cc's or bcc's will be duplicated for every to-recipient"
        self.message.to = ["to1@example.com", "to2@example.com"]
        self.message.cc = ["cc@example.com"]
        self.message.bcc = ["bcc@example.com"]
        self.message.merge_data = {}
        self.message.send()
        personalizations = self.sent_json()["personalizations"]
        self.assertEqual(len(personalizations), 2)
        for index, personalization in enumerate(personalizations):
            self.assertEqual(personalization["to"], [{"email": f"to{index + 1}@example.com"}])
            self.assertEqual(personalization["cc"], [{"email": "cc@example.com"}])
            self.assertEqual(personalization["bcc"], [{"email": "bcc@example.com"}])
            self.assertEqual(personalization["custom_args"], {"anymail_id": IDS[index]})
        recipients = self.message.anymail_status.recipients
        self.assertEqual(recipients["bcc@example.com"].message_id, IDS[0])
        self.assertEqual(recipients["to2@example.com"].message_id, IDS[1])

    def test_empty_merge_data_is_still_a_batch_send(self):
        self.message.to = ["alice@example.com", "Bob <bob@example.com>"]
        self.message.merge_data = {}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(
            data["personalizations"],
            [
                {"to": [{"email": "alice@example.com"}], "custom_args": {"anymail_id": IDS[0]}},
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "custom_args": {"anymail_id": IDS[1]},
                },
            ],
        )

    def test_merge_global_data_alone_is_not_a_batch(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_global_data = {"-site-": "ExampleCo"}
        self.message.send()
        personalizations = self.sent_json()["personalizations"]
        self.assertEqual(len(personalizations), 1)
        self.assertEqual(
            personalizations[0]["to"],
            [{"email": "alice@example.com"}, {"email": "bob@example.com"}],
        )
        self.assertEqual(personalizations[0]["substitutions"], {"-site-": "ExampleCo"})
        self.assertEqual(self.message.anymail_status.message_id, IDS[0])

    def test_merge_data_with_cc_only_is_refused(self):
        # changelog v0.3.1: SendGrid needs a "to" in every personalization
        message = AnymailMessage("Subject", "Body", "from@example.com", cc=["cc@example.com"])
        message.merge_data = {"cc@example.com": {"name": "CC"}}
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "without any 'to' recipients"):
            message.send()
        self.assert_no_api_call()

    def test_merge_metadata(self):
        self.message.to = ["alice@example.com", "Bob <bob@example.com>"]
        self.message.metadata = {"campaign": "spring", "tier": "free"}
        self.message.merge_metadata = {
            "alice@example.com": {"order": 123, "tier": "gold"},
            "bob@example.com": {"order": 678},
        }
        self.message.send()
        # merge_metadata wins over metadata for that recipient; anymail_id is always added
        self.assertEqual(
            [p["custom_args"] for p in self.sent_json()["personalizations"]],
            [
                {"campaign": "spring", "tier": "gold", "order": "123", "anymail_id": IDS[0]},
                {"campaign": "spring", "tier": "free", "order": "678", "anymail_id": IDS[1]},
            ],
        )

    def test_esp_extra_docs_example(self):
        # The docs' esp_extra example (with its asm group settings in "asm", as v3 defines)
        message = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        message.open_tracking = True  # (as written in the docs; not an Anymail attribute)
        message.track_opens = True
        message.esp_extra = {
            "asm": {
                "group_id": 1,
                "groups_to_display": [1, 2, 3],
            },
            "tracking_settings": {
                "open_tracking": {
                    # Anymail will automatically set `"enable": True` here,
                    # based on message.track_opens.
                    "substitution_tag": "%%OPEN_TRACKING_PIXEL%%",
                },
            },
            # Because "personalizations" is a dict, Anymail will merge "future_feature"
            # into the SendGrid personalizations array for each message recipient
            "personalizations": {
                "future_feature": {"future": "data"},
            },
        }
        message.send()
        data = self.sent_json()
        self.assertEqual(data["asm"], {"group_id": 1, "groups_to_display": [1, 2, 3]})
        self.assertEqual(
            data["tracking_settings"],
            {"open_tracking": {"enable": True, "substitution_tag": "%%OPEN_TRACKING_PIXEL%%"}},
        )
        self.assertEqual(
            data["personalizations"],
            [
                {
                    "to": [{"email": "to@example.com"}],
                    "custom_args": {"anymail_id": IDS[0]},
                    "future_feature": {"future": "data"},
                }
            ],
        )

    def test_esp_extra_personalizations_dict_merges_into_each_batch_personalization(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {}
        self.message.esp_extra = {
            "personalizations": {"custom_args": {"source": "extra"}, "send_at": 1772600767}
        }
        self.message.send()
        self.assertEqual(
            self.sent_json()["personalizations"],
            [
                {
                    "to": [{"email": "alice@example.com"}],
                    "custom_args": {"anymail_id": IDS[0], "source": "extra"},
                    "send_at": 1772600767,
                },
                {
                    "to": [{"email": "bob@example.com"}],
                    "custom_args": {"anymail_id": IDS[1], "source": "extra"},
                    "send_at": 1772600767,
                },
            ],
        )

    def test_esp_extra_personalizations_list_replaces_anymails(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.cc = ["cc@example.com"]
        personalizations = [
            {"to": [{"email": "alice@example.com"}], "subject": "For Alice"},
            {
                "to": [{"email": "bob@example.com", "name": "Bob"}],
                "cc": [{"email": "cc@example.com"}],
                "subject": "For Bob",
                "custom_args": {"order": "B-2"},
            },
        ]
        self.message.esp_extra = {"personalizations": personalizations}
        self.message.send()
        data = self.sent_json()
        # Each of the caller's personalizations still gets its own anymail_id custom arg,
        # as Anymail's own do (so their events can be tracked)
        self.assertEqual(
            data["personalizations"],
            [
                {
                    "to": [{"email": "alice@example.com"}],
                    "subject": "For Alice",
                    "custom_args": {"anymail_id": IDS[0]},
                },
                {
                    "to": [{"email": "bob@example.com", "name": "Bob"}],
                    "cc": [{"email": "cc@example.com"}],
                    "subject": "For Bob",
                    "custom_args": {"order": "B-2", "anymail_id": IDS[1]},
                },
            ],
        )
        self.assertNotIn("custom_args", data)
        status = self.message.anymail_status
        self.assertEqual(status.message_id, {IDS[0], IDS[1]})
        self.assertEqual(status.recipients["alice@example.com"].message_id, IDS[0])
        self.assertEqual(status.recipients["bob@example.com"].message_id, IDS[1])
        self.assertEqual(status.recipients["cc@example.com"].message_id, IDS[1])
        self.assertEqual(status.status, {"queued"})
        # The caller's esp_extra is left as it was
        self.assertNotIn("custom_args", personalizations[0])

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_GENERATE_MESSAGE_ID": False},
    )
    def test_esp_extra_personalizations_list_without_generated_ids(self):
        self.message.esp_extra = {"personalizations": [{"to": [{"email": "to@example.com"}]}]}
        self.message.send()
        self.assertEqual(
            self.sent_json()["personalizations"], [{"to": [{"email": "to@example.com"}]}]
        )
        self.assertIsNone(self.message.anymail_status.message_id)

    def test_esp_extra_personalizations_list_of_wrong_items(self):
        self.message.esp_extra = {"personalizations": ["to@example.com"]}
        with self.assertRaisesMessage(AnymailSerializationError, "list items must be dicts"):
            self.message.send()
        self.assert_no_api_call()

    def test_esp_extra_personalizations_of_wrong_type(self):
        self.message.esp_extra = {"personalizations": "nope"}
        with self.assertRaisesMessage(
            AnymailSerializationError, "esp_extra['personalizations'] must be a dict"
        ):
            self.message.send()

    def test_esp_extra_overrides_anymail_fields(self):
        self.message.tags = ["tag"]
        self.message.esp_extra = {
            "categories": ["from extra"],
            "mail_settings": {"sandbox_mode": {"enable": True}},
            "from": {"name": "Extra Name"},
        }
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["categories"], ["from extra"])
        self.assertEqual(data["mail_settings"], {"sandbox_mode": {"enable": True}})
        self.assertEqual(data["from"], {"email": "from@example.com", "name": "Extra Name"})

    @override_settings(
        ANYMAIL={
            "SENDGRID_API_KEY": "key",
            "SEND_DEFAULTS": {"tags": ["global"], "metadata": {"app": "shop"}},
            "SENDGRID_SEND_DEFAULTS": {
                "esp_extra": {"ip_pool_name": "transactional", "merge_field_format": "%{}%"}
            },
        },
    )
    def test_send_defaults(self):
        self.message.tags = ["message"]
        self.message.merge_global_data = {"name": "Alice"}
        self.message.send()
        data = self.sent_json()
        self.assertEqual(data["categories"], ["global", "message"])
        self.assertEqual(data["ip_pool_name"], "transactional")
        personalization = data["personalizations"][0]
        self.assertEqual(personalization["custom_args"], {"app": "shop", "anymail_id": IDS[0]})
        self.assertEqual(personalization["substitutions"], {"%name%": "Alice"})

    @override_settings(
        ANYMAIL={"SENDGRID_API_KEY": "key", "SENDGRID_GENERATE_MESSAGE_ID": False},
    )
    def test_generate_message_id_false(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {}
        self.message.send()
        personalizations = self.sent_json()["personalizations"]
        self.assertEqual(
            personalizations,
            [{"to": [{"email": "alice@example.com"}]}, {"to": [{"email": "bob@example.com"}]}],
        )
        # "... in which case sent messages will have a message_id of None"
        status = self.message.anymail_status
        self.assertIsNone(status.message_id)
        self.assertEqual(status.status, {"queued"})
        self.assertIsNone(status.recipients["alice@example.com"].message_id)


class DeepMergeTests(SendGridBackendTestCase):
    def test_deep_merge(self):
        base = {"a": {"b": 1, "c": {"d": 2}}, "list": [1], "keep": "x"}
        merged = deep_merge(base, {"a": {"c": {"e": 3}, "b": 9}, "list": [2], "new": None})
        self.assertEqual(
            merged,
            {"a": {"b": 9, "c": {"d": 2, "e": 3}}, "list": [2], "keep": "x", "new": None},
        )
        # base is untouched
        self.assertEqual(base, {"a": {"b": 1, "c": {"d": 2}}, "list": [1], "keep": "x"})


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


class SendGridResponseTests(SendGridBackendTestCase):
    def test_queued_status_with_generated_id(self):
        msg = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], cc=["Cc <cc@example.com>"]
        )
        self.assertEqual(msg.send(), 1)
        status = msg.anymail_status
        self.assertEqual(status.status, {"queued"})
        self.assertEqual(status.message_id, IDS[0])
        self.assertEqual(status.recipients["to@example.com"].status, "queued")
        self.assertEqual(status.recipients["to@example.com"].message_id, IDS[0])
        self.assertEqual(status.recipients["cc@example.com"].message_id, IDS[0])
        self.assertEqual(status.esp_response.status_code, 202)
        # The id sent is the id reported
        custom_args = self.sent_json()["personalizations"][0]["custom_args"]
        self.assertEqual(custom_args["anymail_id"], status.message_id)

    def test_sandbox_200_response_is_also_queued(self):
        self.responses.clear()
        self.set_response(200, text="")
        self.message.send()
        self.assertEqual(self.message.anymail_status.status, {"queued"})

    def test_2xx_that_isnt_from_sendgrid_is_an_error(self):
        # E.g., a proxy's or captive portal's page, or a body cut off: the message wasn't sent
        for response_kwargs, problem in (
            (
                {
                    "text": "<html><body>Please log in to the network</body></html>",
                    "headers": {"Content-Type": "text/html; charset=utf-8"},
                },
                "an HTML page",
            ),
            ({"text": "<!DOCTYPE html><html>Gateway</html>"}, "isn't JSON"),
            ({"text": '{"message": "succ'}, "isn't JSON"),
            ({"text": "OK", "headers": {"Content-Type": "text/plain"}}, "isn't JSON"),
            ({"json_data": {"errors": [{"message": "Quota exceeded"}]}}, "Quota exceeded"),
        ):
            with self.subTest(response=response_kwargs):
                self.responses.clear()
                self.set_response(200, **response_kwargs)
                message = EmailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
                with self.assertRaises(AnymailRequestsAPIError) as cm:
                    message.send()
                first_line = str(cm.exception).splitlines()[0]
                self.assertTrue(first_line.startswith("SendGrid API response 200 (OK) isn't"))
                self.assertIn(problem, first_line)
                self.assertEqual(cm.exception.status_code, 200)
                self.assertIsNone(message.anymail_status.status)
        # ... and, like other API errors, quiet with fail_silently
        self.responses.clear()
        self.set_response(202, text="<html>Accepted?</html>")
        self.assertEqual(self.message.send(fail_silently=True), 0)

    def test_2xx_with_an_empty_or_json_body_is_queued(self):
        for response_kwargs in (
            {"text": ""},
            {"text": "  \r\n", "headers": {"Content-Type": "text/html"}},  # (no page at all)
            {"text": "", "headers": {"Content-Type": "text/plain; charset=utf-8"}},
            {"json_data": {}},
        ):
            with self.subTest(response=response_kwargs):
                self.responses.clear()
                self.set_response(202, **response_kwargs)
                self.assertEqual(self.message.send(), 1)
                self.assertEqual(self.message.anymail_status.status, {"queued"})

    def test_real_uuids_are_generated(self):
        self.mock_uuid4.side_effect = None
        self.mock_uuid4.return_value = uuid.UUID("a6e9b7d0-3c1e-4f39-9f56-9b0f3b5f6e21")
        self.message.send()
        self.assertEqual(
            self.message.anymail_status.message_id, "a6e9b7d0-3c1e-4f39-9f56-9b0f3b5f6e21"
        )

    def test_each_send_gets_a_new_id(self):
        self.message.send()
        self.message.send()
        self.assertEqual(self.message.anymail_status.message_id, IDS[1])
        self.assertEqual(
            self.api_call_json(0)["personalizations"][0]["custom_args"]["anymail_id"], IDS[0]
        )
        self.assertEqual(
            self.api_call_json(1)["personalizations"][0]["custom_args"]["anymail_id"], IDS[1]
        )

    def test_api_error_includes_sendgrid_error_messages(self):
        self.responses.clear()
        self.set_response(
            400,
            reason="Bad Request",
            json_data={
                "errors": [
                    {
                        "message": "The from email does not contain a valid address.",
                        "field": "from.email",
                        "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.from",
                    },
                    {
                        "message": "The subject is required.",
                        "field": "subject",
                        "help": None,
                    },
                ]
            },
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertEqual(err.status_code, 400)
        first_line = str(err).splitlines()[0]
        self.assertEqual(
            first_line,
            "SendGrid API response 400 (Bad Request): "
            "The from email does not contain a valid address. (field from.email); "
            "The subject is required. (field subject)",
        )
        self.assertIn('"help": null', str(err))  # and the full response below
        self.assertIsInstance(err, AnymailAPIError)
        self.assertIsInstance(err, requests.RequestException)
        self.assertEqual(self.message.anymail_status.status, None)

    def test_unauthorized(self):
        self.responses.clear()
        self.set_response(
            401,
            reason="Unauthorized",
            json_data={
                "errors": [
                    {
                        "field": None,
                        "message": "The provided authorization grant is invalid, expired, "
                        "or revoked",
                    }
                ]
            },
        )
        with self.assertRaisesMessage(
            AnymailRequestsAPIError,
            "SendGrid API response 401 (Unauthorized): The provided authorization grant is "
            "invalid, expired, or revoked",
        ):
            self.message.send()

    def test_server_error_with_html_body(self):
        self.responses.clear()
        self.set_response(
            503, reason="Service Unavailable", text="<html><body>Service Unavailable</body></html>"
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        text = str(cm.exception)
        self.assertTrue(text.startswith("SendGrid API response 503 (Service Unavailable)\n"))
        self.assertIn("Service Unavailable</body>", text)

    def test_errors_of_unexpected_shape(self):
        self.responses.clear()
        self.set_response(400, reason="Bad Request", json_data={"errors": "nope"})
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            self.message.send()
        self.assertEqual(
            str(cm.exception).splitlines()[0], "SendGrid API response 400 (Bad Request)"
        )

    def test_network_error(self):
        self.responses.clear()
        self.set_error(requests.ConnectionError("connection refused"))
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, f"Error calling SendGrid API at {SEND_URL}: connection refused"
        ):
            self.message.send()

    def test_fail_silently(self):
        self.responses.clear()
        self.set_response(500, text="")
        self.assertEqual(self.message.send(fail_silently=True), 0)

    def test_queued_is_never_refused(self):
        # SendGrid reports bad recipients later (as dropped events), never at send time
        try:
            self.message.send()
        except AnymailRecipientsRefused:  # pragma: no cover
            self.fail("queued recipients were refused")
        self.assertEqual(self.message.anymail_status.status, {"queued"})

    def test_backend_class(self):
        self.assertIsInstance(get_connection(), EmailBackend)

    def test_send_at_in_the_future_still_queued(self):
        self.message.send_at = datetime.now(timezone.utc) + timedelta(hours=1)
        self.message.send()
        self.assertEqual(self.message.anymail_status.status, {"queued"})


class SendGridBackendLargeAttachmentTests(SendGridBackendTestCase):
    def test_large_attachment_content_sent_whole(self):
        assert_large_attachments_sent_whole(self, self.message)
