"""Postmark backend: the exact API requests sent, and anymail_status from Postmark's responses.

Postmark is faked at requests.Session.request; responses are shaped as Postmark's API docs show
them (https://postmarkapp.com/developer/api/email-api, .../templates-api).
"""

from __future__ import annotations

import json
from base64 import b64encode
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from typing import Any

import requests
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.test import override_settings
from django.utils.translation import gettext_lazy

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import RequestsFakeTestCase, assert_large_attachments_sent_whole

SERVER_TOKEN = "test-server-token-0123"
API_URL = "https://api.postmarkapp.com/"
POSTMARK_BACKEND = "anymail.backends.postmark.EmailBackend"

# Minimal valid PNG (the inline image helpers sniff the type)
PNG_CONTENT = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def postmark_result(
    to: str = "to@example.com",
    message_id: str = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    error_code: int = 0,
    message: str = "OK",
) -> dict[str, Any]:
    """One send result, as Postmark's /email (and each /email/batch entry) returns it."""
    result = {"ErrorCode": error_code, "Message": message}
    if error_code == 0:
        result.update(
            {"MessageID": message_id, "SubmittedAt": "2010-11-26T12:01:05.1794748-05:00", "To": to}
        )
    return result


@override_settings(EMAIL_BACKEND=POSTMARK_BACKEND, ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN})
class PostmarkBackendTestCase(RequestsFakeTestCase):
    default_response_json = postmark_result()

    def setUp(self) -> None:
        super().setUp()
        self.message = mail.EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def assert_postmark_called(self, endpoint: str, server_token: str = SERVER_TOKEN) -> Any:
        """Checks the request's method, url and headers; returns its JSON body."""
        kwargs = self.assert_api_called("POST", API_URL + endpoint)
        self.assertEqual(kwargs["headers"]["X-Postmark-Server-Token"], server_token)
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertEqual(kwargs["headers"]["Accept"], "application/json")
        self.assertIsNone(kwargs["auth"])
        return self.api_call_json()


class PostmarkBackendStandardEmailTests(PostmarkBackendTestCase):
    def test_send_mail(self) -> None:
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com", ["to@example.com"]
        )
        self.assertEqual(sent, 1)
        data = self.assert_postmark_called("email")
        self.assertEqual(
            data,
            {
                "From": "from@sender.example.com",
                "To": "to@example.com",
                "Subject": "Subject here",
                "TextBody": "Here is the message.",
            },
        )
        # the timeout the base gives every call
        self.assertEqual(self.api_call_kwargs()["timeout"], 30)

    def test_name_addr_and_multiple_recipients(self) -> None:
        msg = mail.EmailMessage(
            "Subject",
            "Message",
            '"From, Name" <from@example.com>',
            ["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
        )
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["From"], '"From, Name" <from@example.com>')
        self.assertEqual(data["To"], "Recipient #1 <to1@example.com>, to2@example.com")
        self.assertEqual(data["Cc"], "Carbon Copy <cc1@example.com>, cc2@example.com")
        self.assertEqual(data["Bcc"], "Blind Copy <bcc1@example.com>, bcc2@example.com")

    def test_unicode_display_names_and_idn_domains(self) -> None:
        # Postmark's address fields are header strings: a non-ASCII display name goes out
        # RFC 2047 encoded and an IDN domain IDNA encoded, as Django's SMTP backend sends them
        msg = mail.EmailMessage(
            "Sübject",
            "Bödy",
            "Frœm Ñame <from@exämple.com>",
            ["Tø <to@exämple.com>"],
            cc=["Çc Ñame <cc@exämple.com>"],
            bcc=["bcc@exämple.com"],
            reply_to=["Rèply <reply@exämple.com>"],
        )
        msg.send()
        self.assertEqual(self.api_call_kwargs()["data"].count(b"\\u"), 0)  # sent as UTF-8
        data = self.assert_postmark_called("email")
        self.assertEqual(
            data,
            {
                "From": "=?utf-8?b?RnLFk20gw5FhbWU=?= <from@xn--exmple-cua.com>",
                "To": "=?utf-8?b?VMO4?= <to@xn--exmple-cua.com>",
                "Cc": "=?utf-8?b?w4djIMORYW1l?= <cc@xn--exmple-cua.com>",
                "Bcc": "bcc@xn--exmple-cua.com",
                "ReplyTo": "=?utf-8?b?UsOocGx5?= <reply@xn--exmple-cua.com>",
                "Subject": "Sübject",
                "TextBody": "Bödy",
            },
        )
        # (which decode to what was sent)
        self.assertEqual(
            str(make_header(decode_header(data["From"]))), "Frœm Ñame <from@xn--exmple-cua.com>"
        )
        self.assertEqual(
            str(make_header(decode_header(data["Cc"]))), "Çc Ñame <cc@xn--exmple-cua.com>"
        )
        self.assertEqual(
            str(make_header(decode_header(data["ReplyTo"]))), "Rèply <reply@xn--exmple-cua.com>"
        )
        # anymail_status keys keep the addresses as given
        self.assertEqual(
            set(msg.anymail_status.recipients),
            {"to@exämple.com", "cc@exämple.com", "bcc@exämple.com"},
        )

    def test_multiple_from_emails(self) -> None:
        # Postmark's From takes several addresses (it sends from the first), as 6.1 sent them
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            'First <from1@example.com>, "Second, Jr." <from2@example.com>, from3@exämple.com',
            ["to@example.com"],
        )
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(
            data,
            {
                "From": 'First <from1@example.com>, "Second, Jr." <from2@example.com>, '
                "from3@xn--exmple-cua.com",
                "To": "to@example.com",
                "Subject": "Subject",
                "TextBody": "Body",
            },
        )
        self.assertEqual(msg.anymail_status.status, {"sent"})

    def test_email_message_with_everything(self) -> None:
        email = mail.EmailMessage(
            "Subject",
            "Body goes here",
            "from@example.com",
            ["to1@example.com", "Also To <to2@example.com>"],
            bcc=["bcc1@example.com", "Also BCC <bcc2@example.com>"],
            cc=["cc1@example.com", "Also CC <cc2@example.com>"],
            reply_to=["reply1@example.com", "Reply 2 <reply2@example.com>"],
            headers={"X-MyHeader": "my value", "Message-ID": "<mycustommsgid@example.com>"},
        )
        email.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(
            data,
            {
                "From": "from@example.com",
                "To": "to1@example.com, Also To <to2@example.com>",
                "Cc": "cc1@example.com, Also CC <cc2@example.com>",
                "Bcc": "bcc1@example.com, Also BCC <bcc2@example.com>",
                "ReplyTo": "reply1@example.com, Reply 2 <reply2@example.com>",
                "Subject": "Subject",
                "TextBody": "Body goes here",
                "Headers": [
                    {"Name": "X-MyHeader", "Value": "my value"},
                    {"Name": "Message-ID", "Value": "<mycustommsgid@example.com>"},
                ],
            },
        )

    def test_reply_to_header(self) -> None:
        # Older-style Reply-To in headers becomes Postmark's ReplyTo, not a custom header
        self.message.extra_headers = {
            "Reply-To": "Header Reply <hreply@example.com>",
            "X-Other": "v",
        }
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["ReplyTo"], "Header Reply <hreply@example.com>")
        self.assertEqual(data["Headers"], [{"Name": "X-Other", "Value": "v"}])

    def test_html_message(self) -> None:
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["TextBody"], "Text Body")
        self.assertEqual(data["HtmlBody"], "<p>HTML Body</p>")

    def test_html_only_message(self) -> None:
        msg = mail.EmailMessage(
            "Subject", "<p>HTML Body</p>", "from@example.com", ["to@example.com"]
        )
        msg.content_subtype = "html"
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["HtmlBody"], "<p>HTML Body</p>")
        self.assertNotIn("TextBody", data)

    def test_extra_alternative_refused(self) -> None:
        self.message.attach_alternative("{'maybe': 'json'}", "application/json")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Postmark does not support alternative part with type 'application/json'",
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_attachments(self) -> None:
        text_content = "* Item one\n* Item two\n* Item three"
        self.message.attach(filename="test.txt", content=text_content, mimetype="text/plain")
        # Should guess mimetype if not provided...
        png_content = b"PNG\xb4 pretend this is the contents of a png file"
        self.message.attach(filename="test.png", content=png_content)
        # Should work with a MIMEBase object (also tests no filename)...
        pdf_content = b"PDF\xb4 pretend this is valid pdf data"
        mimeattachment = MIMEBase("application", "pdf")
        mimeattachment.set_payload(pdf_content)
        mimeattachment.add_header("Content-Disposition", "attachment", filename="spreadsheet.pdf")
        self.message.attach(mimeattachment)
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(
            data["Attachments"],
            [
                {
                    "Name": "test.txt",
                    "Content": b64encode(text_content.encode("utf-8")).decode("ascii"),
                    "ContentType": "text/plain",
                },
                {
                    "Name": "test.png",
                    "Content": b64encode(png_content).decode("ascii"),
                    "ContentType": "image/png",
                },
                {
                    "Name": "spreadsheet.pdf",
                    "Content": b64encode(pdf_content).decode("ascii"),
                    "ContentType": "application/pdf",
                },
            ],
        )

    def test_unicode_attachment_filename(self) -> None:
        self.message.attach("Une pièce jointe.html", "<p>\u2019</p>", mimetype="text/html")
        self.message.send()
        attachment = self.assert_postmark_called("email")["Attachments"][0]
        self.assertEqual(attachment["Name"], "Une pièce jointe.html")
        self.assertEqual(attachment["Content"], b64encode("<p>\u2019</p>".encode()).decode("ascii"))

    def test_inline_images(self) -> None:
        cid = attach_inline_image(
            self.message, PNG_CONTENT, filename="logo.png", domain="example.com"
        )
        html = f'<p>This has an <img src="cid:{cid}" alt="inline" /> image.</p>'
        self.message.attach_alternative(html, "text/html")
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["HtmlBody"], html)
        self.assertEqual(
            data["Attachments"],
            [
                {
                    "Name": "logo.png",
                    "Content": b64encode(PNG_CONTENT).decode("ascii"),
                    "ContentType": "image/png",
                    "ContentID": f"cid:{cid}",
                }
            ],
        )

    def test_inline_image_without_filename_uses_content_id_as_name(self) -> None:
        image = MIMEImage(PNG_CONTENT, "png")
        image.add_header("Content-Disposition", "inline")
        image.add_header("Content-ID", "<abc123@example.com>")
        self.message.attach(image)
        self.message.send()
        attachment = self.assert_postmark_called("email")["Attachments"][0]
        self.assertEqual(attachment["Name"], "abc123@example.com")
        self.assertEqual(attachment["ContentID"], "cid:abc123@example.com")

    def test_cc_and_bcc_only(self) -> None:
        # (Anymail 6.0) no To is fine; status includes cc and bcc
        self.set_response(200, json_data=postmark_result(to="", message_id="cc-bcc-only-id"))
        msg = mail.EmailMessage(
            "Subject", "Body", "from@example.com", cc=["CC@Example.com"], bcc=["bcc@example.com"]
        )
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertNotIn("To", data)
        self.assertEqual(data["Cc"], "CC@Example.com")
        self.assertEqual(data["Bcc"], "bcc@example.com")
        self.assertEqual(set(msg.anymail_status.recipients), {"CC@Example.com", "bcc@example.com"})
        self.assertEqual(msg.anymail_status.recipients["CC@Example.com"].status, "sent")
        self.assertEqual(
            msg.anymail_status.recipients["bcc@example.com"].message_id, "cc-bcc-only-id"
        )

    def test_no_recipients_sends_nothing(self) -> None:
        msg = mail.EmailMessage("Subject", "Body", "from@example.com", [])
        self.assertEqual(msg.send(), 0)
        self.assert_no_api_call()

    def test_lazy_strings(self) -> None:
        msg = mail.EmailMessage(
            gettext_lazy("Lazy subject"),
            gettext_lazy("Lazy body"),
            "from@example.com",
            ["to@example.com"],
        )
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["Subject"], "Lazy subject")
        self.assertEqual(data["TextBody"], "Lazy body")

    def test_invalid_address_refused_before_calling_postmark(self) -> None:
        msg = mail.EmailMessage("Subject", "Body", "from@example.com", ["not-an-address"])
        with self.assertRaises(AnymailInvalidAddress):
            msg.send()
        self.assert_no_api_call()


class PostmarkBackendAnymailFeatureTests(PostmarkBackendTestCase):
    def test_metadata(self) -> None:
        self.message.metadata = {"user_id": "12345", "items": 6}
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["Metadata"], {"user_id": "12345", "items": 6})

    def test_metadata_not_serializable(self) -> None:
        self.message.metadata = {"price": object()}
        with self.assertRaises(AnymailSerializationError):
            self.message.send()
        self.assert_no_api_call()

    def test_tag(self) -> None:
        self.message.tags = ["receipt"]
        self.message.send()
        self.assertEqual(self.assert_postmark_called("email")["Tag"], "receipt")

    def test_multiple_tags_refused(self) -> None:
        self.message.tags = ["receipt", "repeat-customer"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support multiple tags"
        ):
            self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN, "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_multiple_tags_ignored_uses_first(self) -> None:
        self.message.tags = ["receipt", "repeat-customer"]
        self.message.send()
        self.assertEqual(self.assert_postmark_called("email")["Tag"], "receipt")

    def test_track_opens(self) -> None:
        for track_opens in (True, False):
            with self.subTest(track_opens=track_opens):
                self.message.track_opens = track_opens
                self.message.send()
                self.assertIs(self.assert_postmark_called("email")["TrackOpens"], track_opens)

    def test_track_clicks(self) -> None:
        # The spec: True is Postmark's "HtmlAndText"; False is "None"
        for track_clicks, track_links in ((True, "HtmlAndText"), (False, "None")):
            with self.subTest(track_clicks=track_clicks):
                self.message.track_clicks = track_clicks
                self.message.send()
                self.assertEqual(self.assert_postmark_called("email")["TrackLinks"], track_links)

    def test_esp_extra_track_links_option(self) -> None:
        # The spec's suggestion for Postmark's other link-tracking options
        self.message.track_clicks = True
        self.message.esp_extra = {"TrackLinks": "HtmlOnly"}
        self.message.send()
        self.assertEqual(self.assert_postmark_called("email")["TrackLinks"], "HtmlOnly")

    def test_no_tracking_fields_unless_set(self) -> None:
        self.message.send()
        data = self.assert_postmark_called("email")
        for field in ("TrackOpens", "TrackLinks", "Tag", "Metadata", "Headers", "ReplyTo"):
            self.assertNotIn(field, data)

    def test_send_at_refused(self) -> None:
        # Postmark can't schedule a message: every kind of send_at is refused, clearly (a
        # string too, which Anymail 6.1 passed to ESPs as given)
        for send_at in (
            1651820889,
            datetime(2022, 10, 11, 12, 13, 14, tzinfo=timezone.utc),
            "2022-10-11T12:13:14Z",
        ):
            with self.subTest(send_at=send_at):
                self.message.send_at = send_at
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature,
                    "Postmark does not support send_at. "
                    "(Set ANYMAIL_IGNORE_UNSUPPORTED_FEATURES = True to send anyway, without it.)",
                ):
                    self.message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN, "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_send_at_ignored_sends_now(self) -> None:
        self.message.send_at = "2022-10-11T12:13:14Z"
        self.message.send()
        self.assertEqual(
            self.assert_postmark_called("email"),
            {
                "From": "from@example.com",
                "To": "to@example.com",
                "Subject": "Subject",
                "TextBody": "Text Body",
            },
        )

    def test_envelope_sender_refused(self) -> None:
        self.message.envelope_sender = "bounces@example.com"
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support envelope_sender"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_from_header_refused_as_envelope_sender(self) -> None:
        # Django SMTP semantics: a From header makes from_email the envelope sender
        self.message.extra_headers = {"From": "Header From <header@example.com>"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support envelope_sender"
        ):
            self.message.send()

    def test_spoofed_to_header_refused(self) -> None:
        self.message.extra_headers = {"To": "Someone Else <else@example.com>"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support a spoofed To"
        ):
            self.message.send()

    def test_esp_extra(self) -> None:
        # The spec's example, unchanged
        message = self.message
        message.esp_extra = {
            "HypotheticalFuturePostmarkParam": "2022",  # merged into send params
            "server_token": "<API server token for just this message>",
        }
        message.send()
        data = self.assert_postmark_called(
            "email", server_token="<API server token for just this message>"
        )
        self.assertEqual(data["HypotheticalFuturePostmarkParam"], "2022")
        self.assertNotIn("server_token", data)

    def test_esp_extra_overrides_anymail_fields(self) -> None:
        self.message.esp_extra = {"MessageStream": "broadcasts", "Subject": "From esp_extra"}
        self.message.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["MessageStream"], "broadcasts")
        self.assertEqual(data["Subject"], "From esp_extra")

    @override_settings(
        ANYMAIL={
            "POSTMARK_SERVER_TOKEN": SERVER_TOKEN,
            "POSTMARK_SEND_DEFAULTS": {
                "esp_extra": {"MessageStream": "default-stream", "server_token": "defaults-token"},
                "tags": ["version3"],
            },
        }
    )
    def test_esp_send_defaults(self) -> None:
        self.message.esp_extra = {"InlineCss": False}
        self.message.send()
        data = self.assert_postmark_called("email", server_token="defaults-token")
        self.assertEqual(data["MessageStream"], "default-stream")
        self.assertIs(data["InlineCss"], False)
        self.assertEqual(data["Tag"], "version3")

    def test_esp_extra_server_token_only_for_that_message(self) -> None:
        connection = get_connection()
        first = AnymailMessage(
            "One",
            "Body",
            "from@example.com",
            ["to@example.com"],
            esp_extra={"server_token": "other-server"},
            connection=connection,
        )
        second = AnymailMessage(
            "Two", "Body", "from@example.com", ["to@example.com"], connection=connection
        )
        connection.send_messages([first, second])
        self.assertEqual(
            self.api_call_kwargs(0)["headers"]["X-Postmark-Server-Token"], "other-server"
        )
        self.assertEqual(
            self.api_call_kwargs(1)["headers"]["X-Postmark-Server-Token"], SERVER_TOKEN
        )


class PostmarkBackendTemplateTests(PostmarkBackendTestCase):
    def test_template_id_numeric(self) -> None:
        message = mail.EmailMessage(from_email="from@example.com", to=["to@example.com"])
        message.template_id = 1234567
        message.merge_global_data = {"name": "Alice", "group": "Developers"}
        message.send()
        # Postmark's "Send email with template" endpoint, with its documented trailing slash
        self.assert_api_called("POST", "https://api.postmarkapp.com/email/withTemplate/")
        data = self.assert_postmark_called("email/withTemplate/")
        # Django's default empty subject and body are left out (Anymail 4.2)
        self.assertEqual(
            data,
            {
                "From": "from@example.com",
                "To": "to@example.com",
                "TemplateId": 1234567,
                "TemplateModel": {"name": "Alice", "group": "Developers"},
            },
        )
        self.assertEqual(message.anymail_status.status, {"sent"})

    def test_template_alias(self) -> None:
        # (Anymail 5.0) a string is Postmark's TemplateAlias
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="welcome-message",
            tags=["onboarding"],
        )
        message.send()
        data = self.assert_postmark_called("email/withTemplate/")
        self.assertEqual(data["TemplateAlias"], "welcome-message")
        self.assertNotIn("TemplateId", data)
        self.assertEqual(data["TemplateModel"], {})  # required by Postmark, even if empty
        self.assertEqual(data["Tag"], "onboarding")

    def test_template_id_numeric_string(self) -> None:
        # Postmark aliases must start with a letter: a number in a string is a TemplateId
        message = AnymailMessage(
            from_email="from@example.com", to=["to@example.com"], template_id="80801"
        )
        message.send()
        data = self.assert_postmark_called("email/withTemplate/")
        self.assertEqual(data["TemplateId"], 80801)
        self.assertNotIn("TemplateAlias", data)

    def test_template_with_subject_refused(self) -> None:
        self.message.body = ""
        self.message.template_id = 1234567
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support overriding a template's subject"
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_template_with_body_refused(self) -> None:
        message = mail.EmailMessage(
            body="Not from the template", from_email="from@example.com", to=["to@example.com"]
        )
        message.template_id = 1234567
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support overriding a template's body"
        ):
            message.send()
        self.assert_no_api_call()

    @override_settings(
        ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN, "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_template_with_subject_and_body_ignored(self) -> None:
        self.message.template_id = 1234567
        self.message.send()
        data = self.assert_postmark_called("email/withTemplate/")
        for field in ("Subject", "TextBody", "HtmlBody"):
            self.assertNotIn(field, data)

    def test_template_with_attachment_metadata_and_tracking(self) -> None:
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            template_id="receipt",
            metadata={"order": "12345"},
            track_opens=True,
            track_clicks=False,
        )
        message.attach("receipt.txt", "Total: $1", "text/plain")
        message.send()
        data = self.assert_postmark_called("email/withTemplate/")
        self.assertEqual(data["Metadata"], {"order": "12345"})
        self.assertIs(data["TrackOpens"], True)
        self.assertEqual(data["TrackLinks"], "None")
        self.assertEqual(data["Attachments"][0]["Name"], "receipt.txt")

    def test_merge_global_data_without_template_refused(self) -> None:
        # Postmark only merges into stored templates: the data would be silently lost
        self.message.merge_global_data = {"name": "Alice"}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Postmark does not support merge_global_data without a template_id",
        ):
            self.message.send()
        self.assert_no_api_call()

    def test_merge_data_without_template_refused(self) -> None:
        self.message.merge_data = {"to@example.com": {"name": "Alice"}}
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Postmark does not support merge_data without a template_id"
        ):
            self.message.send()
        self.assert_no_api_call()


class PostmarkBackendBatchTests(PostmarkBackendTestCase):
    def test_spec_template_batch_example(self) -> None:
        # The spec's Postmark example, unchanged (plus a from_email default and the response)
        self.set_response(
            200,
            json_data=[
                postmark_result("alice@example.com", "alice-message-id"),
                postmark_result("Bob <bob@example.com>", "bob-message-id"),
            ],
        )
        message = EmailMessage(
            # (subject and body come from the template, so don't include those)
            to=["alice@example.com", "Bob <bob@example.com>"]
        )
        message.template_id = 80801  # Postmark template id or alias
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15",
        }
        message.send()

        data = self.assert_postmark_called("email/batchWithTemplates")
        self.assertEqual(
            data,
            {
                "Messages": [
                    {
                        "From": "from@example.com",
                        "To": "alice@example.com",
                        "TemplateId": 80801,
                        "TemplateModel": {
                            "ship_date": "May 15",
                            "name": "Alice",
                            "order_no": "12345",
                        },
                    },
                    {
                        "From": "from@example.com",
                        "To": "Bob <bob@example.com>",
                        "TemplateId": 80801,
                        "TemplateModel": {
                            "ship_date": "May 15",
                            "name": "Bob",
                            "order_no": "54321",
                        },
                    },
                ]
            },
        )
        status = message.anymail_status
        self.assertEqual(status.status, {"sent"})
        self.assertEqual(status.message_id, {"alice-message-id", "bob-message-id"})
        self.assertEqual(status.recipients["alice@example.com"].message_id, "alice-message-id")
        self.assertEqual(status.recipients["bob@example.com"].message_id, "bob-message-id")

    def test_batch_with_template_alias_cc_metadata_and_esp_extra(self) -> None:
        self.set_response(
            200,
            json_data=[
                postmark_result("to1@example.com", "id-1"),
                postmark_result("to2@example.com", "id-2"),
            ],
        )
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to1@example.com", "Second <to2@example.com>"],
            cc=["cc@example.com"],
            template_id="order-shipped",
            merge_data={"to1@example.com": {"name": "One"}},  # (no entry for to2)
            merge_global_data={"name": "Customer", "site": "Example"},
            metadata={"batch": "b1", "kind": "shipping"},
            merge_metadata={"to1@example.com": {"customer": 1}, "to2@example.com": {"kind": "vip"}},
            tags=["shipping"],
            esp_extra={"MessageStream": "outbound", "server_token": "batch-token"},
        )
        message.send()
        data = self.assert_postmark_called("email/batchWithTemplates", server_token="batch-token")
        shared = {
            "From": "from@example.com",
            "Cc": "cc@example.com",
            "TemplateAlias": "order-shipped",
            "Tag": "shipping",
            "MessageStream": "outbound",
        }
        self.assertEqual(
            data["Messages"],
            [
                {
                    **shared,
                    "To": "to1@example.com",
                    "TemplateModel": {"name": "One", "site": "Example"},
                    "Metadata": {"batch": "b1", "kind": "shipping", "customer": 1},
                },
                {
                    **shared,
                    "To": "Second <to2@example.com>",
                    "TemplateModel": {"name": "Customer", "site": "Example"},
                    "Metadata": {"batch": "b1", "kind": "vip"},
                },
            ],
        )
        recipients = message.anymail_status.recipients
        self.assertEqual(recipients["to1@example.com"].message_id, "id-1")
        self.assertEqual(recipients["to2@example.com"].message_id, "id-2")
        # the cc got a copy of each message: its status is from the first
        self.assertEqual(recipients["cc@example.com"].message_id, "id-1")
        self.assertEqual(recipients["cc@example.com"].status, "sent")

    def test_batch_without_template(self) -> None:
        # The spec: merge_data = {} asks for a batch send of a regular message
        self.set_response(
            200,
            json_data=[
                postmark_result("to1@example.com", "id-1"),
                postmark_result("to2@example.com", "id-2"),
            ],
        )
        message = mail.EmailMultiAlternatives(
            "Subject", "Body", "from@example.com", ["to1@example.com", "To2 <to2@example.com>"]
        )
        message.attach_alternative("<p>Body</p>", "text/html")
        message.merge_data = {}
        message.send()
        data = self.assert_postmark_called("email/batch")
        shared = {
            "From": "from@example.com",
            "Subject": "Subject",
            "TextBody": "Body",
            "HtmlBody": "<p>Body</p>",
        }
        self.assertEqual(
            data, [{**shared, "To": "to1@example.com"}, {**shared, "To": "To2 <to2@example.com>"}]
        )
        self.assertEqual(message.anymail_status.message_id, {"id-1", "id-2"})

    def test_merge_metadata_alone_is_a_batch(self) -> None:
        self.set_response(
            200,
            json_data=[
                postmark_result("to1@example.com", "id-1"),
                postmark_result("to2@example.com", "id-2"),
            ],
        )
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to1@example.com", "to2@example.com"],
            merge_metadata={"to1@example.com": {"order": "1"}},
        )
        message.send()
        data = self.assert_postmark_called("email/batch")
        self.assertEqual(data[0]["Metadata"], {"order": "1"})
        self.assertNotIn("Metadata", data[1])

    def test_batch_partial_failure(self) -> None:
        # Postmark answers 200 for the batch, with each message's own ErrorCode
        self.set_response(
            200,
            json_data=[
                postmark_result("good@example.com", "good-id"),
                postmark_result(
                    error_code=406,
                    message="You tried to send to recipient(s) that have been marked as inactive. "
                    "Found inactive addresses: inactive@example.com. Inactive recipients are ones "
                    "that have generated a hard bounce, a spam complaint, or a manual suppression.",
                ),
                postmark_result(
                    error_code=300,
                    message="Error parsing 'To': Illegal email address 'bad@example'.",
                ),
                postmark_result(
                    error_code=1101, message="The template you specified does not exist."
                ),
            ],
        )
        message = AnymailMessage(
            from_email="from@example.com",
            to=["good@example.com", "Inactive@Example.com", "bad@example.com", "other@example.com"],
            template_id=1234,
            merge_data={},
        )
        message.send()  # no exception: one message was sent
        recipients = message.anymail_status.recipients
        self.assertEqual(recipients["good@example.com"].status, "sent")
        self.assertEqual(recipients["good@example.com"].message_id, "good-id")
        self.assertEqual(recipients["Inactive@Example.com"].status, "rejected")
        self.assertIsNone(recipients["Inactive@Example.com"].message_id)
        self.assertEqual(recipients["bad@example.com"].status, "invalid")
        self.assertEqual(recipients["other@example.com"].status, "failed")
        self.assertEqual(message.anymail_status.status, {"sent", "rejected", "invalid", "failed"})

    def test_batch_all_recipients_refused(self) -> None:
        inactive = (
            "You tried to send to recipient(s) that have been marked as inactive. "
            "Found inactive addresses: {}. Inactive recipients are ones that have generated a "
            "hard bounce, a spam complaint, or a manual suppression."
        )
        self.set_response(
            200,
            json_data=[
                postmark_result(error_code=406, message=inactive.format("one@example.com")),
                postmark_result(error_code=406, message=inactive.format("two@example.com")),
            ],
        )
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["one@example.com", "two@example.com"],
            merge_data={},
        )
        with self.assertRaises(AnymailRecipientsRefused):
            message.send()
        self.assertEqual(message.anymail_status.status, {"rejected"})

    def test_batch_every_message_failed_is_an_api_error(self) -> None:
        self.set_response(
            200,
            json_data=[
                postmark_result(
                    error_code=1101, message="The template you specified does not exist."
                ),
                postmark_result(
                    error_code=1101, message="The template you specified does not exist."
                ),
            ],
        )
        message = AnymailMessage(
            from_email="from@example.com",
            to=["one@example.com", "two@example.com"],
            template_id="missing",
            merge_data={},
        )
        with self.assertRaisesMessage(
            AnymailAPIError, "ErrorCode 1101: The template you specified does not exist."
        ):
            message.send()

    def test_batch_request_refused_as_a_whole(self) -> None:
        self.set_response(422, json_data={"ErrorCode": 410, "Message": "Too many batch messages."})
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["one@example.com", "two@example.com"],
            merge_data={},
        )
        with self.assertRaisesMessage(
            AnymailRequestsAPIError, "ErrorCode 410: Too many batch messages."
        ) as cm:
            message.send()
        self.assertEqual(cm.exception.status_code, 422)

    def test_batch_cc_only(self) -> None:
        self.set_response(200, json_data=[postmark_result("", "cc-only-id")])
        message = AnymailMessage(
            "Subject", "Body", "from@example.com", cc=["cc@example.com"], merge_data={}
        )
        message.send()
        data = self.assert_postmark_called("email/batch")
        self.assertEqual(
            data,
            [
                {
                    "From": "from@example.com",
                    "Cc": "cc@example.com",
                    "Subject": "Subject",
                    "TextBody": "Body",
                }
            ],
        )
        self.assertEqual(
            message.anymail_status.recipients["cc@example.com"].message_id, "cc-only-id"
        )

    def test_batch_response_length_mismatch(self) -> None:
        self.set_response(200, json_data=[postmark_result("one@example.com", "id-1")])
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["one@example.com", "two@example.com"],
            merge_data={},
        )
        with self.assertRaisesMessage(AnymailAPIError, "Invalid Postmark API response format"):
            message.send()


class PostmarkBackendRecipientsRefusedTests(PostmarkBackendTestCase):
    """Postmark's per-recipient errors, in single (non-batch) sends."""

    INACTIVE_406 = {
        "ErrorCode": 406,
        "Message": "You tried to send to recipient(s) that have been marked as inactive. Found "
        "inactive addresses: hardbounce@example.com, spam@example.com. Inactive recipients are "
        "ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
    }

    def test_success_status(self) -> None:
        self.set_response(
            200, json_data=postmark_result("Recipient <Recipient@Example.com>", "abcdef-1234")
        )
        msg = mail.EmailMessage(
            "Subject", "Body", "from@example.com", ["Recipient <Recipient@Example.com>"]
        )
        sent = msg.send()
        self.assertEqual(sent, 1)
        status = msg.anymail_status
        self.assertEqual(status.status, {"sent"})
        self.assertEqual(status.message_id, "abcdef-1234")
        # (Anymail 6.0) the case used in the message, not lowercased
        self.assertEqual(list(status.recipients), ["Recipient@Example.com"])
        self.assertEqual(status.recipients["Recipient@Example.com"].status, "sent")
        self.assertEqual(status.recipients["Recipient@Example.com"].message_id, "abcdef-1234")
        self.assertEqual(status.esp_response.json()["MessageID"], "abcdef-1234")

    def test_all_recipients_inactive(self) -> None:
        self.set_response(422, json_data=self.INACTIVE_406)
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["HardBounce@example.com"],
            cc=["spam@example.com"],
        )
        with self.assertRaises(AnymailRecipientsRefused) as cm:
            msg.send()
        self.assertIn("inactive addresses: hardbounce@example.com", str(cm.exception))
        self.assertEqual(msg.anymail_status.status, {"rejected"})
        self.assertEqual(msg.anymail_status.recipients["HardBounce@example.com"].status, "rejected")
        self.assertEqual(msg.anymail_status.recipients["spam@example.com"].status, "rejected")
        self.assertIsNone(msg.anymail_status.message_id)

    @override_settings(
        ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN, "IGNORE_RECIPIENT_STATUS": True}
    )
    def test_all_recipients_inactive_ignore_recipient_status(self) -> None:
        self.set_response(422, json_data=self.INACTIVE_406)
        msg = mail.EmailMessage("Subject", "Body", "from@example.com", ["hardbounce@example.com"])
        self.assertEqual(msg.send(), 1)
        self.assertEqual(msg.anymail_status.recipients["hardbounce@example.com"].status, "rejected")

    def test_some_recipients_inactive(self) -> None:
        # Postmark sends to the active ones, and says which it skipped
        self.set_response(
            200,
            json_data={
                "ErrorCode": 0,
                "Message": "Message OK, but will not deliver to these inactive addresses: "
                "hardbounce@example.com, spam@example.com. Inactive recipients are ones that "
                "have generated a hard bounce or a spam complaint.",
                "MessageID": "abcd-1234",
                "SubmittedAt": "2016-03-12T22:59:06.2505871-05:00",
                "To": "hardbounce@example.com, valid@example.com, Hates Spam <spam@example.com>",
            },
        )
        msg = mail.EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["HardBounce@Example.com", "valid@example.com", "Hates Spam <spam@example.com>"],
        )
        self.assertEqual(msg.send(), 1)
        recipients = msg.anymail_status.recipients
        self.assertEqual(recipients["HardBounce@Example.com"].status, "rejected")
        self.assertEqual(recipients["valid@example.com"].status, "sent")
        self.assertEqual(recipients["spam@example.com"].status, "rejected")
        self.assertEqual(recipients["valid@example.com"].message_id, "abcd-1234")
        self.assertEqual(msg.anymail_status.status, {"sent", "rejected"})

    def test_invalid_recipient_address(self) -> None:
        # ErrorCode 300 naming a recipient field: the recipients are "invalid"
        self.set_response(
            422,
            json_data={
                "ErrorCode": 300,
                "Message": "Error parsing 'To': Illegal email address 'invalid@localhost'. "
                "It must contain the '@' symbol.",
            },
        )
        msg = mail.EmailMessage("Subject", "Body", "from@example.com", ["invalid@localhost"])
        with self.assertRaises(AnymailRecipientsRefused) as cm:
            msg.send()
        self.assertIn("Illegal email address", str(cm.exception))
        self.assertEqual(msg.anymail_status.recipients["invalid@localhost"].status, "invalid")

    def test_other_invalid_request_is_an_api_error(self) -> None:
        self.set_response(
            422,
            json_data={
                "ErrorCode": 300,
                "Message": "Provide either email TextBody or HtmlBody or both.",
            },
        )
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        err = cm.exception
        self.assertNotIsInstance(err, AnymailRecipientsRefused)
        self.assertIn(
            "Postmark API response 422 (UNPROCESSABLE_ENTITY): ErrorCode 300: Provide either email "
            "TextBody or HtmlBody or both.",
            str(err),
        )
        self.assertEqual(err.status_code, 422)

    def test_sender_signature_error(self) -> None:
        self.set_response(
            422,
            json_data={
                "ErrorCode": 400,
                "Message": "The 'From' address you supplied (from@example.com) is not a Sender "
                "Signature on your account. Please add and confirm this address in order to be "
                "able to use it in the 'From' field of your messages.",
            },
        )
        with self.assertRaisesMessage(
            AnymailAPIError, "ErrorCode 400: The 'From' address you supplied"
        ):
            self.message.send()

    def test_bad_server_token(self) -> None:
        self.set_response(
            401,
            json_data={
                "ErrorCode": 10,
                "Message": "The Server Token you provided in the X-Postmark-Server-Token request "
                "header was invalid. Please verify that you are using a valid token.",
            },
        )
        with self.assertRaisesMessage(
            AnymailAPIError, "ErrorCode 10: The Server Token you provided"
        ) as cm:
            self.message.send()
        self.assertEqual(cm.exception.status_code, 401)

    def test_non_json_error(self) -> None:
        self.set_response(500, text="Internal Server Error")
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        self.assertIn("Postmark API response 500", str(cm.exception))
        self.assertIn("Internal Server Error", str(cm.exception))

    def test_invalid_json_success_response(self) -> None:
        self.set_response(200, text="{not json")
        with self.assertRaisesMessage(AnymailAPIError, "Invalid JSON in Postmark API response"):
            self.message.send()

    def test_unexpected_success_response_shape(self) -> None:
        self.set_response(200, json_data=["not", "a", "result"])
        with self.assertRaisesMessage(AnymailAPIError, "Invalid Postmark API response format"):
            self.message.send()

    def test_nonzero_error_code_in_200_response(self) -> None:
        self.set_response(200, json_data={"ErrorCode": 405, "Message": "Not allowed to send"})
        with self.assertRaisesMessage(AnymailAPIError, "ErrorCode 405: Not allowed to send"):
            self.message.send()

    def test_connection_error(self) -> None:
        self.set_error(requests.ConnectionError("Connection refused"))
        with self.assertRaisesMessage(
            AnymailRequestsAPIError,
            "Error calling Postmark API at https://api.postmarkapp.com/email: Connection refused",
        ):
            self.message.send()

    def test_fail_silently(self) -> None:
        self.set_response(500, text="Internal Server Error")
        sent = mail.send_mail(
            "Subject", "Body", "from@example.com", ["to@example.com"], fail_silently=True
        )
        self.assertEqual(sent, 0)

    def test_error_keeps_payload_for_debugging(self) -> None:
        self.set_response(422, json_data={"ErrorCode": 402, "Message": "Invalid JSON"})
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        self.assertEqual(json.loads(cm.exception.payload.serialize_data())["To"], "to@example.com")


class PostmarkBackendConfigurationTests(RequestsFakeTestCase):
    default_response_json = postmark_result()

    def send(self, **connection_kwargs: Any) -> None:
        connection = get_connection(POSTMARK_BACKEND, **connection_kwargs)
        EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], connection=connection
        ).send()

    @override_settings(ANYMAIL={})
    def test_missing_server_token(self) -> None:
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_connection(POSTMARK_BACKEND)
        message = str(cm.exception)
        self.assertIn('ANYMAIL = {"POSTMARK_SERVER_TOKEN": ...}', message)
        self.assertIn("ANYMAIL_POSTMARK_SERVER_TOKEN", message)
        self.assertIn(" or POSTMARK_SERVER_TOKEN", message)

    @override_settings(ANYMAIL={}, ANYMAIL_POSTMARK_SERVER_TOKEN="prefixed-token")
    def test_prefixed_setting(self) -> None:
        self.send()
        self.assertEqual(
            self.api_call_kwargs()["headers"]["X-Postmark-Server-Token"], "prefixed-token"
        )

    @override_settings(ANYMAIL={}, POSTMARK_SERVER_TOKEN="bare-token")
    def test_bare_setting(self) -> None:
        self.send()
        self.assertEqual(self.api_call_kwargs()["headers"]["X-Postmark-Server-Token"], "bare-token")

    @override_settings(
        ANYMAIL={"POSTMARK_SERVER_TOKEN": "anymail-dict-token"}, POSTMARK_SERVER_TOKEN="bare-token"
    )
    def test_anymail_dict_wins_over_bare(self) -> None:
        self.send()
        self.assertEqual(
            self.api_call_kwargs()["headers"]["X-Postmark-Server-Token"], "anymail-dict-token"
        )

    @override_settings(ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN})
    def test_connection_kwarg(self) -> None:
        self.send(server_token="kwarg-token")
        self.assertEqual(
            self.api_call_kwargs()["headers"]["X-Postmark-Server-Token"], "kwarg-token"
        )

    @override_settings(
        ANYMAIL={
            "POSTMARK_SERVER_TOKEN": SERVER_TOKEN,
            "POSTMARK_API_URL": "https://proxy.example.com/pm",
        }
    )
    def test_api_url_setting(self) -> None:
        self.send()
        self.assert_api_called("POST", "https://proxy.example.com/pm/email")

    @override_settings(ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN})
    def test_default_api_url(self) -> None:
        self.send()
        self.assert_api_called("POST", "https://api.postmarkapp.com/email")

    @override_settings(ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN})
    def test_supported_features(self) -> None:
        # The spec's feature matrix column for Postmark
        from anymail.backends.postmark import PostmarkPayload

        features = PostmarkPayload.supported_features()
        for feature in (
            "metadata",
            "tags",
            "track_clicks",
            "track_opens",
            "template_id",
            "merge_data",
            "merge_global_data",
            "merge_metadata",
            "esp_extra",
            "attachments",
            "reply_to",
            "extra_headers",
            "multiple_from_emails",
        ):
            self.assertTrue(features[feature], feature)
        for feature in ("envelope_sender", "send_at", "spoofed_to_header", "alternatives"):
            self.assertFalse(features[feature], feature)


@override_settings(EMAIL_BACKEND=POSTMARK_BACKEND, ANYMAIL={"POSTMARK_SERVER_TOKEN": SERVER_TOKEN})
class PostmarkBackendMultiAlternativesTests(PostmarkBackendTestCase):
    def test_message_class_agnostic(self) -> None:
        # Anymail attributes work on any EmailMessage, not just AnymailMessage
        msg = EmailMultiAlternatives("Subject", "Body", "from@example.com", ["to@example.com"])
        msg.tags = ["plain-django"]
        msg.metadata = {"k": "v"}
        msg.send()
        data = self.assert_postmark_called("email")
        self.assertEqual(data["Tag"], "plain-django")
        self.assertEqual(data["Metadata"], {"k": "v"})


class PostmarkBackendLargeAttachmentTests(PostmarkBackendTestCase):
    def test_large_attachment_content_sent_whole(self):
        assert_large_attachments_sent_whole(self, self.message)

    def test_large_attachment_in_every_message_of_a_batch(self):
        import base64

        content = bytes(range(256)) * 40  # (10 KB: past the verbatim threshold)
        self.set_response(
            json_data=[postmark_result("alice@example.com"), postmark_result("bob@example.com")]
        )
        message = AnymailMessage(
            template_id=1234,
            from_email="from@example.com",
            to=["alice@example.com", "bob@example.com"],
            merge_data={"alice@example.com": {"name": "Alice"}, "bob@example.com": {}},
        )
        message.attach("big.bin", content, "application/octet-stream")
        message.send()
        sent = self.api_call_json()
        self.assertEqual(len(sent["Messages"]), 2)
        for each in sent["Messages"]:
            self.assertEqual(each["Attachments"][0]["Content"], base64.b64encode(content).decode())
