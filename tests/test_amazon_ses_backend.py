"""Amazon SES backend: the exact boto3 SES calls it makes, and how it reads their results.

Most tests fake boto3 at ``boto3.session.Session`` (so they see the exact Session, client and
SendRawEmail / SendBulkTemplatedEmail arguments); the end-to-end tests at the bottom run the
real boto3 client against moto's SES. Response shapes follow the SES v1 API Reference.

The tests without boto3 run everywhere (in tox's noextras env, with boto3 really missing); all
the others skip there.
"""

from __future__ import annotations

import base64
import email
import email.policy
import importlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock, skipIf

from django.core import mail
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives, get_connection
from django.test import RequestFactory, SimpleTestCase, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from anymail import __version__ as ANYMAIL_VERSION
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInvalidAddress,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import basic_auth_header

try:
    import boto3
    from botocore.client import Config
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    from anymail.backends.amazon_ses import AmazonSESPayload, EmailBackend
except ImportError:  # the amazon_ses extra isn't installed (tox's noextras env)
    boto3 = None

needs_boto3 = skipIf(
    boto3 is None, "boto3 is not installed: pip install django-anymail[amazon_ses]"
)

SES_BACKEND = "anymail.backends.amazon_ses.EmailBackend"
# A 1x1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
SES_MESSAGE_ID = "0100017d5e8f7b3c-1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d-000000"
RESPONSE_METADATA = {
    "RequestId": "d3a6f1a1-5b3c-4c2e-9f0e-6f1d2c3b4a59",
    "HTTPStatusCode": 200,
    "HTTPHeaders": {"content-type": "text/xml", "x-amzn-requestid": "d3a6f1a1"},
    "RetryAttempts": 0,
}
# boto3's SendRawEmail result
RAW_RESPONSE = {"MessageId": SES_MESSAGE_ID, "ResponseMetadata": RESPONSE_METADATA}


def bulk_response(*statuses: tuple[str, str | None]) -> dict[str, Any]:
    """boto3's SendBulkTemplatedEmail result: one Status entry per Destination, in order."""
    entries = []
    for status, message_id in statuses:
        entry: dict[str, Any] = {"Status": status}
        if message_id:
            entry["MessageId"] = message_id
        if status != "Success":
            entry["Error"] = f"{status} error description"
        entries.append(entry)
    return {"Status": entries, "ResponseMetadata": RESPONSE_METADATA}


def client_error(code: str, message: str, operation: str, http_status: int = 400) -> ClientError:
    """The botocore error for an SES error response, as boto3 raises it."""
    return ClientError(
        {
            "Error": {"Type": "Sender", "Code": code, "Message": message},
            "ResponseMetadata": {**RESPONSE_METADATA, "HTTPStatusCode": http_status},
        },
        operation,
    )


def decoded(part: email.message.EmailMessage) -> Any:
    """A part's decoded content, with the CRLF line endings of SMTP's canonical form as \\n."""
    content = part.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else content


@needs_boto3
@override_settings(EMAIL_BACKEND=SES_BACKEND, ANYMAIL={})
class AmazonSESBackendTestCase(SimpleTestCase):
    """Fakes boto3 at boto3.session.Session; every SES call returns a realistic response."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch("boto3.session.Session", autospec=True)
        self.mock_session_class = patcher.start()
        self.addCleanup(patcher.stop)
        self.mock_session = self.mock_session_class.return_value
        self.mock_client = mock.MagicMock(name="ses_client")
        self.mock_session.client.return_value = self.mock_client
        self.mock_client.send_raw_email.return_value = RAW_RESPONSE
        self.mock_client.send_bulk_templated_email.return_value = bulk_response(
            ("Success", SES_MESSAGE_ID)
        )
        self.message = EmailMultiAlternatives(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    # Inspecting the calls

    def raw_params(self) -> dict[str, Any]:
        self.mock_client.send_bulk_templated_email.assert_not_called()
        self.mock_client.send_raw_email.assert_called_once()
        call = self.mock_client.send_raw_email.call_args
        self.assertEqual(call.args, ())  # boto3 takes only keyword args
        return call.kwargs

    def raw_data(self) -> bytes:
        return self.raw_params()["RawMessage"]["Data"]

    def sent_mime(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw_data(), policy=email.policy.default)

    def template_params(self) -> dict[str, Any]:
        self.mock_client.send_raw_email.assert_not_called()
        self.mock_client.send_bulk_templated_email.assert_called_once()
        return self.mock_client.send_bulk_templated_email.call_args.kwargs

    def client_config(self) -> Config:
        self.mock_session.client.assert_called_once()
        return self.mock_session.client.call_args.kwargs["config"]


# ---------------------------------------------------------------------------------------------
# Settings, boto3 session and client
# ---------------------------------------------------------------------------------------------


class AmazonSESSettingsTests(AmazonSESBackendTestCase):
    def test_default_session_and_client(self):
        self.message.send()
        # boto3 finds its own credentials and region by default
        self.mock_session_class.assert_called_once_with()
        self.mock_session.client.assert_called_once_with("ses", config=mock.ANY)
        config = self.client_config()
        self.assertIsInstance(config, Config)
        # As in Anymail 6.1: "django-anymail/<version>-amazon-ses"
        self.assertEqual(config.user_agent_extra, f"django-anymail/{ANYMAIL_VERSION}-amazon-ses")

    def test_docs_client_and_session_params_examples(self):
        with mock.patch.dict(
            os.environ,
            {
                "AWS_ACCESS_KEY_FOR_ANYMAIL_SES": "AKIDANYMAIL",
                "AWS_SECRET_KEY_FOR_ANYMAIL_SES": "anymail-secret",
            },
        ):
            anymail_settings = {
                "AMAZON_SES_CLIENT_PARAMS": {
                    # example: override normal Boto credentials specifically for Anymail
                    "aws_access_key_id": os.getenv("AWS_ACCESS_KEY_FOR_ANYMAIL_SES"),
                    "aws_secret_access_key": os.getenv("AWS_SECRET_KEY_FOR_ANYMAIL_SES"),
                    "region_name": "us-west-2",
                    # override other default options
                    "config": {
                        "connect_timeout": 30,
                        "read_timeout": 30,
                    },
                },
                "AMAZON_SES_SESSION_PARAMS": {
                    "profile_name": "anymail-testing",
                },
            }
        with override_settings(ANYMAIL=anymail_settings):
            self.message.send()
        self.mock_session_class.assert_called_once_with(profile_name="anymail-testing")
        self.mock_session.client.assert_called_once_with(
            "ses",
            aws_access_key_id="AKIDANYMAIL",
            aws_secret_access_key="anymail-secret",
            region_name="us-west-2",
            config=mock.ANY,
        )
        config = self.client_config()
        self.assertEqual(config.connect_timeout, 30)
        self.assertEqual(config.read_timeout, 30)
        self.assertEqual(config.user_agent_extra, f"django-anymail/{ANYMAIL_VERSION}-amazon-ses")
        # the settings dict itself is untouched (it's reused for every connection)
        self.assertEqual(anymail_settings["AMAZON_SES_CLIENT_PARAMS"]["config"]["read_timeout"], 30)

    def test_client_params_with_botocore_config_and_user_agent(self):
        config = Config(retries={"max_attempts": 2}, user_agent_extra="myapp/1.0")
        with override_settings(ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"config": config}}):
            self.message.send()
        sent_config = self.client_config()
        self.assertEqual(sent_config.retries, {"max_attempts": 2})
        self.assertEqual(
            sent_config.user_agent_extra, f"django-anymail/{ANYMAIL_VERSION}-amazon-ses myapp/1.0"
        )

    def test_invalid_client_config_option(self):
        with (
            override_settings(ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"config": {"timeout": 30}}}),
            self.assertRaisesMessage(AnymailConfigurationError, "AMAZON_SES_CLIENT_PARAMS"),
        ):
            self.message.send()

    def test_connection_kwargs_override_settings(self):
        with override_settings(ANYMAIL={"AMAZON_SES_CONFIGURATION_SET_NAME": "FromSettings"}):
            connection = get_connection(
                SES_BACKEND,
                session_params={"profile_name": "kwarg-profile"},
                client_params={"region_name": "eu-west-1"},
                configuration_set_name="FromKwargs",
            )
            self.message.connection = connection
            self.message.send()
        self.mock_session_class.assert_called_once_with(profile_name="kwarg-profile")
        self.mock_session.client.assert_called_once_with(
            "ses", region_name="eu-west-1", config=mock.ANY
        )
        self.assertEqual(self.raw_params()["ConfigurationSetName"], "FromKwargs")

    def test_prefixed_settings(self):
        with override_settings(
            ANYMAIL=None,
            ANYMAIL_AMAZON_SES_CONFIGURATION_SET_NAME="TrackingConfigSet",
            ANYMAIL_AMAZON_SES_SESSION_PARAMS={"region_name": "ap-south-1"},
        ):
            self.message.send()
        self.mock_session_class.assert_called_once_with(region_name="ap-south-1")
        self.assertEqual(self.raw_params()["ConfigurationSetName"], "TrackingConfigSet")

    def test_esp_name(self):
        self.assertEqual(EmailBackend.esp_name, "Amazon SES")

    def test_invalid_message_tag_name(self):
        with (
            override_settings(ANYMAIL={"AMAZON_SES_MESSAGE_TAG_NAME": "Message Type"}),
            self.assertRaisesMessage(AnymailConfigurationError, "'Message Type'"),
        ):
            self.message.send()

    def test_mocking_the_backend_modules_boto3(self):
        # As code written for Anymail 6.1 may: the backend makes its session from its own
        # module's boto3, as boto3.session.Session(**AMAZON_SES_SESSION_PARAMS)
        with (
            override_settings(
                ANYMAIL={
                    "AMAZON_SES_SESSION_PARAMS": {"profile_name": "anymail-testing"},
                    "AMAZON_SES_CLIENT_PARAMS": {"region_name": "us-west-2"},
                }
            ),
            mock.patch("anymail.backends.amazon_ses.boto3") as mock_boto3,
        ):
            mock_client = mock_boto3.session.Session.return_value.client.return_value
            mock_client.send_raw_email.return_value = RAW_RESPONSE
            self.message.bcc = ["bcc@example.com"]
            self.message.send()
        mock_boto3.session.Session.assert_called_once_with(profile_name="anymail-testing")
        mock_boto3.session.Session.return_value.client.assert_called_once_with(
            "ses", region_name="us-west-2", config=mock.ANY
        )
        mock_client.send_raw_email.assert_called_once_with(
            RawMessage={"Data": mock.ANY}, Destinations=["to@example.com", "bcc@example.com"]
        )
        mock_client.close.assert_called_once_with()
        self.assertEqual(self.message.anymail_status.message_id, SES_MESSAGE_ID)
        self.mock_session_class.assert_not_called()  # (the real boto3 wasn't used)

    def test_mocking_the_backend_modules_boto3_for_a_template_send(self):
        with mock.patch("anymail.backends.amazon_ses.boto3") as mock_boto3:
            mock_client = mock_boto3.session.Session.return_value.client.return_value
            mock_client.send_bulk_templated_email.return_value = bulk_response(
                ("Success", SES_MESSAGE_ID)
            )
            AnymailMessage(template_id="welcome", to=["to@example.com"]).send()
        mock_boto3.session.Session.assert_called_once_with()
        mock_client.send_bulk_templated_email.assert_called_once_with(
            Source="from@example.com",
            Template="welcome",
            DefaultTemplateData="{}",
            Destinations=[{"Destination": {"ToAddresses": ["to@example.com"]}}],
        )

    def test_session_error_is_api_error(self):
        self.mock_session.client.side_effect = NoCredentialsError()
        with self.assertRaisesMessage(AnymailAPIError, "Unable to locate credentials"):
            self.message.send()
        # fail_silently covers it (it happens in open())
        self.assertEqual(
            get_connection(SES_BACKEND, fail_silently=True).send_messages([self.message]), 0
        )


class AmazonSESConnectionTests(AmazonSESBackendTestCase):
    def test_one_client_for_all_messages_in_send_messages(self):
        messages = [
            EmailMessage("One", "Body", "from@example.com", ["one@example.com"]),
            EmailMessage("Two", "Body", "from@example.com", ["two@example.com"]),
        ]
        sent = get_connection().send_messages(messages)
        self.assertEqual(sent, 2)
        self.mock_session_class.assert_called_once()
        self.mock_session.client.assert_called_once()
        self.assertEqual(self.mock_client.send_raw_email.call_count, 2)
        self.mock_client.close.assert_called_once_with()

    def test_explicit_open_keeps_client_until_close(self):
        connection = get_connection()
        self.assertTrue(connection.open())
        self.assertFalse(connection.open())  # already open
        for index in range(3):
            EmailMessage("Hi", "Body", to=[f"to{index}@example.com"], connection=connection).send()
        self.mock_session.client.assert_called_once()
        self.mock_client.close.assert_not_called()
        self.assertEqual(self.mock_client.send_raw_email.call_count, 3)
        connection.close()
        self.mock_client.close.assert_called_once_with()
        connection.close()  # closing twice is harmless
        self.mock_client.close.assert_called_once_with()
        # and a closed connection opens a new client for its next send
        EmailMessage("Again", "Body", to=["to@example.com"], connection=connection).send()
        self.assertEqual(self.mock_session.client.call_count, 2)

    def test_context_manager(self):
        with get_connection() as connection:
            EmailMessage("Hi", "Body", to=["to@example.com"], connection=connection).send()
            self.mock_client.close.assert_not_called()
        self.mock_client.close.assert_called_once_with()


# ---------------------------------------------------------------------------------------------
# SendRawEmail: the message Django builds, plus Anymail's headers
# ---------------------------------------------------------------------------------------------


class AmazonSESRawSendTests(AmazonSESBackendTestCase):
    def test_send_mail(self):
        sent = mail.send_mail(
            "Subject here", "Here is the message.", "from@example.com", ["to@example.com"]
        )
        self.assertEqual(sent, 1)
        params = self.raw_params()
        # Nothing else: no Source (SES uses the From header), no configuration set, no tags
        self.assertEqual(set(params), {"RawMessage", "Destinations"})
        self.assertEqual(params["Destinations"], ["to@example.com"])
        mime = self.sent_mime()
        self.assertEqual(mime["From"], "from@example.com")
        self.assertEqual(mime["To"], "to@example.com")
        self.assertEqual(mime["Subject"], "Subject here")
        self.assertEqual(decoded(mime).rstrip("\n"), "Here is the message.")
        self.assertNotIn("X-Metadata", mime)
        self.assertNotIn("X-Tag", mime)

    def test_raw_message_has_crlf_line_endings(self):
        self.message.attach_alternative("<p>HTML</p>", "text/html")
        self.message.send()
        data = self.raw_data()
        self.assertIn(b"\r\n\r\n", data)
        self.assertNotIn(b"\n", data.replace(b"\r\n", b""))

    def test_all_recipients_are_destinations_but_bcc_not_in_headers(self):
        message = EmailMessage(
            "Subject",
            "Body",
            '"Sender, Inc." <from@example.com>',
            ["to1@example.com", "Recipient Two <to2@example.com>"],
            bcc=["bcc1@example.com", "Blind Copy <bcc2@example.com>"],
            cc=["cc@example.com"],
            reply_to=["Reply Here <reply@example.com>"],
        )
        message.send()
        params = self.raw_params()
        self.assertEqual(
            params["Destinations"],
            [
                "to1@example.com",
                "to2@example.com",
                "cc@example.com",
                "bcc1@example.com",
                "bcc2@example.com",
            ],
        )
        mime = self.sent_mime()
        self.assertEqual(mime["From"], '"Sender, Inc." <from@example.com>')
        self.assertEqual(mime["To"], "to1@example.com, Recipient Two <to2@example.com>")
        self.assertEqual(mime["Cc"], "cc@example.com")
        self.assertEqual(mime["Reply-To"], "Reply Here <reply@example.com>")
        self.assertNotIn("Bcc", mime)
        self.assertNotIn(b"bcc1@example.com", self.raw_data())

    def test_non_ascii_names_and_idn_domains(self):
        message = EmailMessage(
            "Sübject", "Body", "Frøm Ünicode <from@exämple.com>", ["Tø <to@exämple.com>"]
        )
        message.send()
        params = self.raw_params()
        self.assertEqual(params["Destinations"], ["to@xn--exmple-cua.com"])  # Punycode
        mime = self.sent_mime()
        self.assertEqual(mime["Subject"], "Sübject")
        self.assertEqual(str(mime["From"]), "Frøm Ünicode <from@xn--exmple-cua.com>")
        self.assertNotIn(b"\xc3", self.raw_data().split(b"\r\n\r\n")[0])  # ASCII headers
        # anymail_status uses the addresses as given
        self.assertEqual(set(message.anymail_status.recipients), {"to@exämple.com"})

    def test_non_ascii_local_part_is_refused(self):
        # "Amazon SES does not support the SMTPUTF8 extension"
        message = EmailMessage("Subject", "Body", "from@example.com", ["jösé@example.com"])
        with self.assertRaisesMessage(AnymailInvalidAddress, "jösé@example.com"):
            message.send()
        self.mock_client.send_raw_email.assert_not_called()

    def test_extra_headers(self):
        self.message.extra_headers = {
            "X-Custom": "custom value",
            "List-Unsubscribe": "<mailto:u@example.com>",
        }
        self.message.send()
        mime = self.sent_mime()
        self.assertEqual(mime["X-Custom"], "custom value")
        self.assertEqual(mime["List-Unsubscribe"], "<mailto:u@example.com>")

    def test_header_line_break_is_refused(self):
        # As Django's SMTP backend refuses it
        self.message.extra_headers = {"X-Custom": "one\r\nBcc: victim@example.com"}
        with self.assertRaises(BadHeaderError):
            self.message.send()
        self.mock_client.send_raw_email.assert_not_called()

    def test_spoofed_to_header(self):
        # Destinations (the envelope) are the real recipients; the To header is what's shown
        self.message.extra_headers = {"To": "Spoofed <spoofed@example.org>"}
        self.message.send()
        self.assertEqual(self.raw_params()["Destinations"], ["to@example.com"])
        self.assertEqual(self.sent_mime()["To"], "Spoofed <spoofed@example.org>")
        self.assertEqual(set(self.message.anymail_status.recipients), {"to@example.com"})

    def test_multiple_from_emails(self):
        # SES can't take the sender from a From header with several addresses: the first is
        # the Source (as in Anymail 6.1); the header keeps them all
        self.message.from_email = "one@exämple.com, Two <two@example.com>"
        self.message.send()
        self.assertEqual(self.sent_mime()["From"], "one@xn--exmple-cua.com, Two <two@example.com>")
        params = self.raw_params()
        self.assertEqual(params["Source"], "one@xn--exmple-cua.com")
        self.assertEqual(set(params), {"RawMessage", "Destinations", "Source"})

    def test_multiple_from_emails_with_envelope_sender(self):
        self.message.from_email = "one@example.com, two@example.com"
        self.message.envelope_sender = "bounces@example.com"
        self.message.send()
        self.assertEqual(self.raw_params()["Source"], "bounces@example.com")

    def test_from_header_with_from_email_as_envelope(self):
        # As Django's SMTP backend: a From header is what recipients see, from_email the envelope
        self.message.extra_headers = {"From": "Display <display@example.com>"}
        self.message.send()
        self.assertEqual(self.raw_params()["Source"], "from@example.com")
        self.assertEqual(self.sent_mime()["From"], "Display <display@example.com>")

    def test_html_and_arbitrary_alternatives(self):
        self.message.attach_alternative("<p>HTML Body</p>", "text/html")
        self.message.attach_alternative("<!doctype html><html ⚡4email></html>", "text/x-amp-html")
        self.message.attach_alternative("BEGIN:VCALENDAR\nEND:VCALENDAR\n", "text/calendar")
        self.message.send()
        mime = self.sent_mime()
        self.assertEqual(mime.get_content_type(), "multipart/alternative")
        parts = {part.get_content_type(): decoded(part) for part in mime.iter_parts()}
        self.assertEqual(
            list(parts), ["text/plain", "text/html", "text/x-amp-html", "text/calendar"]
        )
        self.assertEqual(
            parts["text/x-amp-html"].rstrip("\n"), "<!doctype html><html ⚡4email></html>"
        )
        self.assertEqual(parts["text/calendar"], "BEGIN:VCALENDAR\nEND:VCALENDAR\n")

    def test_html_only(self):
        message = EmailMessage("Subject", "<p>HTML only</p>", to=["to@example.com"])
        message.content_subtype = "html"
        message.send()
        mime = self.sent_mime()
        self.assertEqual(mime.get_content_type(), "text/html")
        self.assertEqual(decoded(mime).rstrip("\n"), "<p>HTML only</p>")

    def test_attachments_and_inline_image(self):
        message = AnymailMessage("Subject", "Body", to=["to@example.com"])
        message.attach("report.csv", "a,b\n1,2\n", "text/csv")
        message.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        cid = attach_inline_image(message, PNG_BYTES, filename="pixel.png")
        message.attach_alternative(f"<img src='cid:{cid}'>", "text/html")
        message.send()
        mime = self.sent_mime()
        attachments = {part.get_filename(): part for part in mime.iter_attachments()}
        self.assertEqual(decoded(attachments["report.csv"]), "a,b\n1,2\n")
        self.assertEqual(decoded(attachments["data.bin"]), b"\x00\x01\xff")
        inline = [part for part in mime.walk() if part["Content-ID"]]
        self.assertEqual(len(inline), 1)
        self.assertEqual(inline[0]["Content-ID"], f"<{cid}>")
        self.assertEqual(decoded(inline[0]), PNG_BYTES)

    def test_lazy_strings(self):
        from django.utils.translation import gettext_lazy

        message = AnymailMessage(
            gettext_lazy("Lazy subject"), gettext_lazy("Lazy body"), to=["to@example.com"]
        )
        message.tags = [gettext_lazy("lazy-tag")]
        message.send()
        mime = self.sent_mime()
        self.assertEqual(mime["Subject"], "Lazy subject")
        self.assertEqual(mime["X-Tag"], "lazy-tag")

    def test_no_recipients_makes_no_api_call(self):
        self.assertEqual(EmailMessage("Subject", "Body", "from@example.com", []).send(), 0)
        self.mock_client.send_raw_email.assert_not_called()


class AmazonSESNonASCIIBodyTests(AmazonSESBackendTestCase):
    """The v4.0 workaround: SES open/click tracking can corrupt non-ASCII 8bit bodies."""

    def test_8bit_text_parts_become_quoted_printable(self):
        message = EmailMultiAlternatives(
            "Subject", "Hello wörld — “quoted” ✓\n", "from@example.com", ["to@example.com"]
        )
        message.attach_alternative("<p>Hello wörld ✓</p>", "text/html")
        message.attach("notes.txt", "çà et là\n", "text/plain")
        message.send()
        data = self.raw_data()
        self.assertNotIn(b"8bit", data)
        self.assertTrue(data.isascii())  # (so no byte SES could mangle)
        mime = self.sent_mime()
        leaves = [part for part in mime.walk() if not part.is_multipart()]
        self.assertEqual(
            [part["Content-Transfer-Encoding"] for part in leaves],
            ["quoted-printable", "quoted-printable", "quoted-printable"],
        )
        self.assertEqual(decoded(leaves[0]).rstrip("\n"), "Hello wörld — “quoted” ✓")
        self.assertEqual(decoded(leaves[1]).rstrip("\n"), "<p>Hello wörld ✓</p>")
        self.assertEqual(decoded(leaves[2]).rstrip("\n"), "çà et là")
        self.assertIn(b"Hello w=C3=B6rld", data)

    def test_ascii_bodies_unchanged(self):
        self.message.send()
        mime = self.sent_mime()
        self.assertIn(mime["Content-Transfer-Encoding"], ("7bit", None))
        self.assertEqual(decoded(mime).rstrip("\n"), "Text Body")

    def test_long_lines_and_trailing_whitespace_survive(self):
        body = "Ünïcödé " * 200 + "\nline with trailing space \n\ttabbed\n"
        EmailMessage("Subject", body, to=["to@example.com"]).send()
        data = self.raw_data()
        self.assertLessEqual(max(len(line) for line in data.split(b"\r\n")), 78)
        self.assertEqual(decoded(self.sent_mime()), body)

    def test_non_utf8_charset(self):
        message = EmailMessage("Subject", "Grüße", to=["to@example.com"])
        message.encoding = "iso-8859-1"
        message.send()
        mime = self.sent_mime()
        self.assertEqual(mime.get_content_charset(), "iso-8859-1")
        self.assertEqual(decoded(mime).rstrip("\n"), "Grüße")
        self.assertTrue(self.raw_data().isascii())


# ---------------------------------------------------------------------------------------------
# Anymail features with SendRawEmail
# ---------------------------------------------------------------------------------------------


class AmazonSESAnymailFeatureTests(AmazonSESBackendTestCase):
    def setUp(self):
        super().setUp()
        self.message = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"])

    def test_feature_matrix(self):
        # Anymail's feature matrix for Amazon SES
        self.assertEqual(
            AmazonSESPayload.supported_features(),
            {
                "reply_to": True,
                "extra_headers": True,
                "spoofed_to_header": True,
                "alternatives": True,
                "attachments": True,
                "multiple_from_emails": True,
                "envelope_sender": True,
                "metadata": True,
                "send_at": False,
                "tags": True,
                "track_clicks": False,
                "track_opens": False,
                "template_id": True,
                "merge_data": True,
                "merge_global_data": True,
                "merge_metadata": False,
                "esp_extra": True,
            },
        )

    def test_envelope_sender_is_source(self):
        self.message.envelope_sender = "bounces+user@bounces.exämple.com"
        self.message.send()
        self.assertEqual(self.raw_params()["Source"], "bounces+user@bounces.xn--exmple-cua.com")
        self.assertEqual(self.sent_mime()["From"], "from@example.com")

    def test_metadata_is_json_x_metadata_header(self):
        self.message.metadata = {"user_id": "12345", "items": 6, "café": "crème brûlée"}
        self.message.send()
        mime = self.sent_mime()
        self.assertEqual(len(mime.get_all("X-Metadata")), 1)
        self.assertEqual(
            json.loads(mime["X-Metadata"]),
            {"user_id": "12345", "items": 6, "café": "crème brûlée"},
        )
        self.assertNotIn("Tags", self.raw_params())

    def test_long_metadata_header_is_folded(self):
        self.message.metadata = {"key": "word " * 60, "other": "x" * 50}
        self.message.send()
        data = self.raw_data()
        header_block = data.split(b"\r\n\r\n")[0]
        self.assertLessEqual(max(len(line) for line in header_block.split(b"\r\n")), 78)
        self.assertEqual(json.loads(self.sent_mime()["X-Metadata"]), self.message.metadata)

    def test_unserializable_metadata(self):
        from decimal import Decimal

        self.message.metadata = {"price": Decimal("19.99")}
        with self.assertRaisesMessage(AnymailSerializationError, "metadata['price']"):
            self.message.send()

    def test_tags_are_x_tag_headers(self):
        self.message.tags = ["receipt", "Dépôt", "with space"]
        self.message.send()
        mime = self.sent_mime()
        self.assertEqual(mime.get_all("X-Tag"), ["receipt", "Dépôt", "with space"])
        self.assertNotIn("Tags", self.raw_params())  # no SES Message Tags by default

    def test_tag_with_line_break_is_refused(self):
        self.message.tags = ["one\nX-Injected: yes"]
        with self.assertRaises(BadHeaderError):
            self.message.send()

    @override_settings(ANYMAIL={"AMAZON_SES_MESSAGE_TAG_NAME": "Type"})
    def test_docs_message_tag_name_example(self):
        message = EmailMessage("Subject", "Body", to=["to@example.com"])
        message.tags = ["Marketing"]
        message.send()
        self.assertEqual(self.raw_params()["Tags"], [{"Name": "Type", "Value": "Marketing"}])
        # and still in X-Tag, for the tracking webhooks
        self.assertEqual(self.sent_mime().get_all("X-Tag"), ["Marketing"])

    @override_settings(ANYMAIL={"AMAZON_SES_MESSAGE_TAG_NAME": "Type"})
    def test_message_tag_name_allows_only_one_tag(self):
        self.message.tags = ["Marketing", "Newsletter"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Amazon SES does not support multiple tags with AMAZON_SES_MESSAGE_TAG_NAME",
        ):
            self.message.send()
        self.mock_client.send_raw_email.assert_not_called()

    @override_settings(
        ANYMAIL={"AMAZON_SES_MESSAGE_TAG_NAME": "Type", "IGNORE_UNSUPPORTED_FEATURES": True}
    )
    def test_message_tag_name_uses_first_tag_when_ignoring_unsupported(self):
        self.message.tags = ["Marketing", "Newsletter"]
        self.message.send()
        self.assertEqual(self.raw_params()["Tags"], [{"Name": "Type", "Value": "Marketing"}])
        self.assertEqual(self.sent_mime().get_all("X-Tag"), ["Marketing", "Newsletter"])

    @override_settings(ANYMAIL={"AMAZON_SES_MESSAGE_TAG_NAME": "Type"})
    def test_message_tag_value_characters(self):
        self.message.tags = ["Spring Sale!"]
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "'Spring Sale!'"):
            self.message.send()

    def test_configuration_set_setting(self):
        with override_settings(ANYMAIL={"AMAZON_SES_CONFIGURATION_SET_NAME": "TrackingConfigSet"}):
            self.message.send()
        self.assertEqual(self.raw_params()["ConfigurationSetName"], "TrackingConfigSet")

    def test_esp_extra_is_merged_into_params(self):
        self.message.esp_extra = {
            # Override AMAZON_SES_CONFIGURATION_SET_NAME for this message
            "ConfigurationSetName": "NoOpenOrClickTrackingConfigSet",
            # Authorize a custom sender
            "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
            # Set Amazon SES Message Tags
            "Tags": [
                # (Names and values must be A-Z a-z 0-9 - and _ only)
                {"Name": "UserID", "Value": "12345"},
                {"Name": "TestVariation", "Value": "Subject-Emoji-Trial-A"},
            ],
        }
        with override_settings(ANYMAIL={"AMAZON_SES_CONFIGURATION_SET_NAME": "TrackingConfigSet"}):
            self.message.send()
        params = self.raw_params()
        self.assertEqual(
            set(params),
            {"RawMessage", "Destinations", "ConfigurationSetName", "SourceArn", "Tags"},
        )
        self.assertEqual(params["ConfigurationSetName"], "NoOpenOrClickTrackingConfigSet")
        self.assertEqual(
            params["SourceArn"], "arn:aws:ses:us-east-1:123456789012:identity/example.com"
        )
        self.assertEqual(
            params["Tags"],
            [
                {"Name": "UserID", "Value": "12345"},
                {"Name": "TestVariation", "Value": "Subject-Emoji-Trial-A"},
            ],
        )

    def test_esp_extra_none_removes_a_param(self):
        self.message.esp_extra = {"ConfigurationSetName": None}
        with override_settings(ANYMAIL={"AMAZON_SES_CONFIGURATION_SET_NAME": "TrackingConfigSet"}):
            self.message.send()
        self.assertNotIn("ConfigurationSetName", self.raw_params())

    def test_send_defaults_for_anymail_options(self):
        with override_settings(
            ANYMAIL={
                "SEND_DEFAULTS": {
                    "metadata": {"site": "main"},
                    "tags": ["default-tag"],
                    "esp_extra": {"FromArn": "arn:aws:ses:us-east-1:123456789012:identity/a.com"},
                },
                "AMAZON_SES_SEND_DEFAULTS": {"envelope_sender": "bounce@example.com"},
            }
        ):
            self.message.metadata = {"order": 7}
            self.message.tags = ["mine"]
            self.message.send()
        params = self.raw_params()
        self.assertEqual(params["Source"], "bounce@example.com")
        self.assertEqual(params["FromArn"], "arn:aws:ses:us-east-1:123456789012:identity/a.com")
        mime = self.sent_mime()
        self.assertEqual(json.loads(mime["X-Metadata"]), {"site": "main", "order": 7})
        self.assertEqual(mime.get_all("X-Tag"), ["default-tag", "mine"])

    def test_send_defaults_for_django_attrs_are_refused(self):
        # "global send defaults are only supported for Anymail's added message options"
        for attr, value in [
            ("bcc", ["archive@example.com"]),
            ("reply_to", ["replies@example.com"]),
            ("extra_headers", {"X-Default": "yes"}),
        ]:
            message = AnymailMessage("Subject", "Body", to=["to@example.com"])
            with (
                self.subTest(attr=attr),
                override_settings(ANYMAIL={"SEND_DEFAULTS": {attr: value}}),
                self.assertRaisesMessage(
                    AnymailUnsupportedFeature,
                    f"Amazon SES does not support send defaults for the EmailMessage "
                    f"attribute '{attr}'",
                ),
            ):
                message.send()
        self.mock_client.send_raw_email.assert_not_called()

    def test_unsupported_features(self):
        from datetime import datetime, timezone

        for attr, value, feature in [
            ("send_at", datetime(2030, 1, 1, tzinfo=timezone.utc), "send_at"),
            ("track_opens", True, "track_opens"),
            ("track_clicks", False, "track_clicks"),
            ("merge_metadata", {"to@example.com": {"a": 1}}, "merge_metadata"),
            ("merge_data", {"to@example.com": {"a": 1}}, "merge_data without template_id"),
            ("merge_global_data", {"a": 1}, "merge_global_data without template_id"),
        ]:
            with self.subTest(attr=attr):
                message = AnymailMessage("Subject", "Body", to=["to@example.com"])
                setattr(message, attr, value)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, f"Amazon SES does not support {feature}"
                ):
                    message.send()
        self.mock_client.send_raw_email.assert_not_called()

    def test_send_at_is_refused_clearly(self):
        # SES has no scheduled sending: every send_at form (a str is now passed through to the
        # backend as given, as in Anymail 6.1) gets the same clear refusal
        for send_at in ("2030-01-01 12:00:00", 1893499200, datetime(2030, 1, 1)):
            with self.subTest(send_at=send_at):
                self.message.send_at = send_at
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, "Amazon SES does not support send_at"
                ):
                    self.message.send()
        self.mock_client.send_raw_email.assert_not_called()

    @override_settings(ANYMAIL={"IGNORE_UNSUPPORTED_FEATURES": True})
    def test_unsupported_features_ignored(self):
        from datetime import datetime, timezone

        self.message.send_at = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.message.track_opens = True
        self.message.send()
        self.assertEqual(self.raw_params()["Destinations"], ["to@example.com"])


# ---------------------------------------------------------------------------------------------
# SendBulkTemplatedEmail
# ---------------------------------------------------------------------------------------------


class AmazonSESTemplateTests(AmazonSESBackendTestCase):
    def test_batch_send_with_merge_data(self):
        self.mock_client.send_bulk_templated_email.return_value = bulk_response(
            ("Success", "0100017d-aaaa-000000"),
            ("MessageRejected", None),
            ("Success", "0100017d-cccc-000000"),
        )
        message = AnymailMessage(
            template_id="welcome_template",
            from_email='"Fröm, Inc." <from@example.com>',
            to=["alice@example.com", "Bob <bob@example.com>", "carol@exämple.com"],
            cc=["cc@example.com"],
            bcc=["Bcc <bcc@example.com>"],
            reply_to=["Help Desk <help@example.com>", "support@example.com"],
            envelope_sender="bounces@example.com",
            merge_data={
                "alice@example.com": {"name": "Alice", "group": "Developers"},
                "bob@example.com": {"name": "Bob"},  # and nothing for carol
            },
            merge_global_data={"group": "Users", "site": "ExampleCo"},
        )
        message.send()
        self.assertEqual(
            self.template_params(),
            {
                "Source": "=?utf-8?b?RnLDtm0sIEluYy4=?= <from@example.com>",
                "Template": "welcome_template",
                "DefaultTemplateData": '{"group": "Users", "site": "ExampleCo"}',
                "Destinations": [
                    {
                        "Destination": {
                            "ToAddresses": ["alice@example.com"],
                            "CcAddresses": ["cc@example.com"],
                            "BccAddresses": ["Bcc <bcc@example.com>"],
                        },
                        "ReplacementTemplateData": '{"name": "Alice", "group": "Developers"}',
                    },
                    {
                        "Destination": {
                            "ToAddresses": ["Bob <bob@example.com>"],
                            "CcAddresses": ["cc@example.com"],
                            "BccAddresses": ["Bcc <bcc@example.com>"],
                        },
                        "ReplacementTemplateData": '{"name": "Bob"}',
                    },
                    {
                        "Destination": {
                            "ToAddresses": ["carol@xn--exmple-cua.com"],
                            "CcAddresses": ["cc@example.com"],
                            "BccAddresses": ["Bcc <bcc@example.com>"],
                        },
                        "ReplacementTemplateData": "{}",
                    },
                ],
                "ReplyToAddresses": ["Help Desk <help@example.com>", "support@example.com"],
                "ReturnPath": "bounces@example.com",
            },
        )
        status = message.anymail_status
        self.assertEqual(status.status, {"queued", "rejected"})
        self.assertEqual(status.message_id, {"0100017d-aaaa-000000", None, "0100017d-cccc-000000"})
        recipients = status.recipients
        self.assertEqual(recipients["alice@example.com"].status, "queued")
        self.assertEqual(recipients["alice@example.com"].message_id, "0100017d-aaaa-000000")
        self.assertEqual(recipients["bob@example.com"].status, "rejected")
        self.assertIsNone(recipients["bob@example.com"].message_id)
        self.assertEqual(recipients["carol@exämple.com"].message_id, "0100017d-cccc-000000")
        # cc and bcc get a copy of each message; their status is from the first
        self.assertEqual(recipients["cc@example.com"].message_id, "0100017d-aaaa-000000")
        self.assertEqual(recipients["bcc@example.com"].status, "queued")
        self.assertEqual(status.esp_response["Status"][1]["Status"], "MessageRejected")

    def test_template_addresses_are_encoded(self):
        # SES API address fields are formatted addresses: a non-ASCII display name RFC 2047
        # encoded, an IDN domain in Punycode (as EmailAddress.address gives them)
        message = AnymailMessage(
            template_id="welcome_template",
            from_email="Frøm Ünicode <from@exämple.com>",
            to=["Jörg Tø <to@exämple.com>"],
            cc=['"Çopy, Inc." <cc@exämple.com>'],
            bcc=["Blïnd <bcc@example.com>"],
            reply_to=["Rëply <reply@exämple.com>"],
        )
        message.send()
        params = self.template_params()
        self.assertEqual(
            params["Source"], "=?utf-8?b?RnLDuG0gw5xuaWNvZGU=?= <from@xn--exmple-cua.com>"
        )
        self.assertEqual(
            params["Destinations"],
            [
                {
                    "Destination": {
                        "ToAddresses": ["=?utf-8?b?SsO2cmcgVMO4?= <to@xn--exmple-cua.com>"],
                        "CcAddresses": ["=?utf-8?b?w4dvcHksIEluYy4=?= <cc@xn--exmple-cua.com>"],
                        "BccAddresses": ["=?utf-8?b?QmzDr25k?= <bcc@example.com>"],
                    }
                }
            ],
        )
        self.assertEqual(
            params["ReplyToAddresses"], ["=?utf-8?b?UsOrcGx5?= <reply@xn--exmple-cua.com>"]
        )
        self.assertEqual(
            set(message.anymail_status.recipients),
            {"to@exämple.com", "cc@exämple.com", "bcc@example.com"},
        )

    def test_template_without_merge_data_is_one_destination(self):
        message = AnymailMessage(
            template_id="receipt",
            to=["one@example.com", "two@example.com"],
            bcc=["archive@example.com"],
        )
        message.send()
        self.assertEqual(
            self.template_params(),
            {
                "Source": "from@example.com",  # DEFAULT_FROM_EMAIL
                "Template": "receipt",
                "DefaultTemplateData": "{}",
                "Destinations": [
                    {
                        "Destination": {
                            "ToAddresses": ["one@example.com", "two@example.com"],
                            "BccAddresses": ["archive@example.com"],
                        }
                    }
                ],
            },
        )
        self.assertEqual(message.anymail_status.message_id, SES_MESSAGE_ID)
        self.assertEqual(message.anymail_status.status, {"queued"})
        self.assertEqual(
            set(message.anymail_status.recipients),
            {"one@example.com", "two@example.com", "archive@example.com"},
        )

    def test_batch_send_without_to_is_one_destination(self):
        message = AnymailMessage(template_id="receipt", cc=["cc@example.com"], merge_data={})
        message.send()
        self.assertEqual(
            self.template_params()["Destinations"],
            [{"Destination": {"CcAddresses": ["cc@example.com"]}}],
        )
        self.assertEqual(message.anymail_status.recipients["cc@example.com"].status, "queued")

    def test_status_without_status_field(self):
        # (Status is optional in the SES API model; moto, for one, leaves it out)
        self.mock_client.send_bulk_templated_email.return_value = {
            "Status": [{"MessageId": "id-1"}, {}],
            "ResponseMetadata": RESPONSE_METADATA,
        }
        message = AnymailMessage(
            template_id="receipt", to=["one@example.com", "two@example.com"], merge_data={}
        )
        message.send()
        self.assertEqual(message.anymail_status.recipients["one@example.com"].status, "queued")
        self.assertEqual(message.anymail_status.recipients["one@example.com"].message_id, "id-1")
        self.assertEqual(message.anymail_status.recipients["two@example.com"].status, "unknown")

    def test_empty_merge_data_is_still_a_batch_send(self):
        self.mock_client.send_bulk_templated_email.return_value = bulk_response(
            ("Success", "id-1"), ("Success", "id-2")
        )
        message = AnymailMessage(
            template_id="receipt",
            to=["one@example.com", "two@example.com"],
            merge_data={},
            merge_global_data={"total": "$12.00"},
        )
        message.send()
        destinations = self.template_params()["Destinations"]
        self.assertEqual(
            destinations,
            [
                {
                    "Destination": {"ToAddresses": ["one@example.com"]},
                    "ReplacementTemplateData": "{}",
                },
                {
                    "Destination": {"ToAddresses": ["two@example.com"]},
                    "ReplacementTemplateData": "{}",
                },
            ],
        )
        self.assertEqual(self.template_params()["DefaultTemplateData"], '{"total": "$12.00"}')
        self.assertEqual(message.anymail_status.message_id, {"id-1", "id-2"})

    def test_failed_destination_statuses(self):
        self.mock_client.send_bulk_templated_email.return_value = bulk_response(
            ("AccountThrottled", None), ("MessageRejected", None)
        )
        message = AnymailMessage(
            template_id="receipt", to=["one@example.com", "two@example.com"], merge_data={}
        )
        message.send()
        self.assertEqual(message.anymail_status.recipients["one@example.com"].status, "failed")
        self.assertEqual(message.anymail_status.recipients["two@example.com"].status, "rejected")

    def test_all_rejected_raises_recipients_refused(self):
        from anymail.exceptions import AnymailRecipientsRefused

        self.mock_client.send_bulk_templated_email.return_value = bulk_response(
            ("MessageRejected", None)
        )
        message = AnymailMessage(template_id="receipt", to=["one@example.com"])
        with self.assertRaisesMessage(AnymailRecipientsRefused, "one@example.com (rejected)"):
            message.send()

    @override_settings(
        ANYMAIL={
            "AMAZON_SES_MESSAGE_TAG_NAME": "Campaign",
            "AMAZON_SES_CONFIGURATION_SET_NAME": "Cfg",
        }
    )
    def test_tag_name_and_configuration_set(self):
        message = AnymailMessage(template_id="promo", to=["to@example.com"], tags=["Spring_Sale"])
        message.send()
        params = self.template_params()
        self.assertEqual(params["DefaultTags"], [{"Name": "Campaign", "Value": "Spring_Sale"}])
        self.assertEqual(params["ConfigurationSetName"], "Cfg")
        self.assertNotIn("Tags", params)

    def test_esp_extra_template(self):
        message = AnymailMessage(
            template_id="promo",
            to=["to@example.com"],
            esp_extra={
                "TemplateArn": "arn:aws:ses:us-east-1:123456789012:template/promo",
                "DefaultTags": [{"Name": "UserID", "Value": "12345"}],
            },
        )
        message.send()
        params = self.template_params()
        self.assertEqual(params["TemplateArn"], "arn:aws:ses:us-east-1:123456789012:template/promo")
        self.assertEqual(params["DefaultTags"], [{"Name": "UserID", "Value": "12345"}])

    def test_template_refusals(self):
        cases = [
            (
                "attachments",
                lambda m: m.attach("a.txt", "text", "text/plain"),
                "attachments with template_id",
            ),
            (
                "extra_headers",
                lambda m: m.extra_headers.update({"X-Custom": "1"}),
                "extra_headers with template_id",
            ),
            (
                "subject",
                lambda m: setattr(m, "subject", "Override"),
                "overriding the template's subject with template_id",
            ),
            (
                "body",
                lambda m: setattr(m, "body", "Override"),
                "overriding the template's body with template_id",
            ),
            (
                "alternatives",
                lambda m: m.attach_alternative("<p>Hi</p>", "text/html"),
                "overriding the template's body with template_id",
            ),
            (
                "other alternatives",
                lambda m: m.attach_alternative("AMP", "text/x-amp-html"),
                "overriding the template's alternative part with type 'text/x-amp-html' "
                "with template_id",
            ),
            ("metadata", lambda m: setattr(m, "metadata", {"a": 1}), "metadata with template_id"),
            (
                "tags",
                lambda m: setattr(m, "tags", ["t"]),
                "tags with template_id (unless you set AMAZON_SES_MESSAGE_TAG_NAME)",
            ),
            (
                "spoofed To",
                lambda m: m.extra_headers.update({"To": "x@example.com"}),
                "a spoofed To header with template_id",
            ),
            (
                "multiple From",
                lambda m: setattr(m, "from_email", "a@example.com, b@example.com"),
                "multiple from emails with template_id",
            ),
        ]
        for name, change, feature in cases:
            with self.subTest(name):
                message = AnymailMessage(template_id="t", to=["to@example.com"])
                change(message)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, f"Amazon SES does not support {feature}"
                ):
                    message.send()
        self.mock_client.send_bulk_templated_email.assert_not_called()

    @override_settings(ANYMAIL={"IGNORE_UNSUPPORTED_FEATURES": True})
    def test_template_refusals_ignored_leave_them_out(self):
        message = AnymailMessage(
            "Subject", "Body", template_id="t", to=["to@example.com"], metadata={"a": 1}
        )
        message.attach("a.txt", "text", "text/plain")
        message.send()
        params = self.template_params()
        self.assertEqual(set(params), {"Source", "Template", "DefaultTemplateData", "Destinations"})

    def test_send_defaults_work_for_template_sends(self):
        with override_settings(
            ANYMAIL={
                "SEND_DEFAULTS": {
                    "reply_to": ["help@example.com"],
                    "merge_global_data": {"site": "Ex"},
                }
            }
        ):
            AnymailMessage(template_id="t", to=["to@example.com"]).send()
        params = self.template_params()
        self.assertEqual(params["ReplyToAddresses"], ["help@example.com"])
        self.assertEqual(params["DefaultTemplateData"], '{"site": "Ex"}')

    def test_unexpected_status_count_is_api_error(self):
        self.mock_client.send_bulk_templated_email.return_value = bulk_response(("Success", "x"))
        message = AnymailMessage(
            template_id="t", to=["a@example.com", "b@example.com"], merge_data={}
        )
        with self.assertRaisesMessage(
            AnymailAPIError, "Unexpected Amazon SES SendBulkTemplatedEmail response"
        ):
            message.send()


# ---------------------------------------------------------------------------------------------
# Responses and errors
# ---------------------------------------------------------------------------------------------


class AmazonSESResponseTests(AmazonSESBackendTestCase):
    def test_raw_send_status(self):
        self.message.cc = ["cc@example.com"]
        self.message.send()
        status = self.message.anymail_status
        self.assertEqual(status.message_id, SES_MESSAGE_ID)
        self.assertEqual(status.status, {"queued"})
        self.assertEqual(status.recipients["to@example.com"].message_id, SES_MESSAGE_ID)
        self.assertEqual(status.recipients["cc@example.com"].status, "queued")
        self.assertEqual(status.esp_response, RAW_RESPONSE)

    def test_client_error_has_ses_code_and_message(self):
        self.mock_client.send_raw_email.side_effect = client_error(
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in "
            "region US-EAST-1: from@example.com",
            "SendRawEmail",
        )
        with self.assertRaises(AnymailAPIError) as cm:
            self.message.send()
        error = cm.exception
        self.assertIn("Amazon SES SendRawEmail failed", str(error))
        self.assertIn("MessageRejected", str(error))
        self.assertIn("Email address is not verified", str(error))
        self.assertEqual(error.status_code, 400)
        self.assertEqual(error.response["Error"]["Code"], "MessageRejected")
        self.assertIsInstance(error.__cause__, ClientError)
        self.assertIs(error.email_message, self.message)

    def test_template_client_error(self):
        self.mock_client.send_bulk_templated_email.side_effect = client_error(
            "TemplateDoesNotExist",
            "Template MissingTemplate does not exist.",
            "SendBulkTemplatedEmail",
        )
        message = AnymailMessage(template_id="MissingTemplate", to=["to@example.com"])
        with self.assertRaisesMessage(AnymailAPIError, "TemplateDoesNotExist") as cm:
            message.send()
        self.assertIn("SendBulkTemplatedEmail", str(cm.exception))
        self.assertIn("Template MissingTemplate does not exist.", str(cm.exception))

    def test_throttling_error(self):
        self.mock_client.send_raw_email.side_effect = client_error(
            "Throttling", "Maximum sending rate exceeded.", "SendRawEmail", http_status=400
        )
        with self.assertRaisesMessage(AnymailAPIError, "Maximum sending rate exceeded."):
            self.message.send()

    def test_connection_error(self):
        self.mock_client.send_raw_email.side_effect = EndpointConnectionError(
            endpoint_url="https://email.us-east-1.amazonaws.com/"
        )
        with self.assertRaisesMessage(
            AnymailAPIError, "Could not connect to the endpoint URL"
        ) as cm:
            self.message.send()
        self.assertIsNone(cm.exception.status_code)

    def test_no_credentials_error(self):
        self.mock_client.send_raw_email.side_effect = NoCredentialsError()
        with self.assertRaisesMessage(AnymailAPIError, "Unable to locate credentials"):
            self.message.send()

    def test_fail_silently(self):
        self.mock_client.send_raw_email.side_effect = client_error(
            "MessageRejected", "Rejected", "SendRawEmail"
        )
        sent = mail.send_mail(
            "Subject", "Body", "from@example.com", ["to@example.com"], fail_silently=True
        )
        self.assertEqual(sent, 0)

    def test_unexpected_raw_response(self):
        self.mock_client.send_raw_email.return_value = {"ResponseMetadata": RESPONSE_METADATA}
        with self.assertRaisesMessage(
            AnymailAPIError, "Unexpected Amazon SES SendRawEmail response"
        ):
            self.message.send()

    def test_unexpected_bulk_response_entries(self):
        self.mock_client.send_bulk_templated_email.return_value = {"Status": ["Success"]}
        message = AnymailMessage(template_id="welcome", to=["to@example.com"])
        with self.assertRaisesMessage(AnymailAPIError, "Unexpected Amazon SES"):
            message.send()

    def test_other_botocore_errors_are_api_errors(self):
        # botocore raises more than BotoCoreError and ClientError, e.g. for a 200 answer that
        # isn't SES's XML (a captive portal's or proxy's HTML page)
        from botocore.parsers import ResponseParserError

        for error in [
            ResponseParserError("Unable to parse response (mismatched tag), invalid XML"),
            KeyError("SendRawEmailResult"),
            AttributeError("'NoneType' object has no attribute 'get'"),
        ]:
            with self.subTest(error=type(error).__name__):
                self.mock_client.send_raw_email.side_effect = error
                with self.assertRaises(AnymailAPIError) as cm:
                    self.message.send()
                self.assertIn("Amazon SES SendRawEmail failed", str(cm.exception))
                self.assertIn(type(error).__name__, str(cm.exception))
                self.assertIs(cm.exception.__cause__, error)
                # ... so fail_silently works
                sent = mail.send_mail(
                    "Subject", "Body", "from@example.com", ["to@example.com"], fail_silently=True
                )
                self.assertEqual(sent, 0)


class RawBody:
    """A botocore AWSResponse raw body."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **kwargs: Any):
        yield self.content


@needs_boto3
@override_settings(
    EMAIL_BACKEND=SES_BACKEND,
    ANYMAIL={
        "AMAZON_SES_CLIENT_PARAMS": {
            "region_name": "us-east-1",
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "example-secret",
        }
    },
)
class AmazonSESNotSESResponseTests(SimpleTestCase):
    """The real boto3 client, answered (at botocore's before-send hook, no network) with a 200
    that isn't SES's: what a proxy or captive portal might send."""

    def send(self, content: bytes, fail_silently: bool = False) -> int:
        connection = get_connection(fail_silently=fail_silently)
        connection.open()
        from botocore.awsrequest import AWSResponse

        def answer(request: Any, **kwargs: Any) -> AWSResponse:
            return AWSResponse(request.url, 200, {"Content-Type": "text/html"}, RawBody(content))

        connection.client.meta.events.register_first("before-send.ses", answer)
        message = EmailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        message.connection = connection
        try:
            return message.send()
        finally:
            connection.close()

    def test_html_page_is_api_error(self):
        for content in (
            b"<html><body>Please log in to the proxy</body></html>",  # (botocore: KeyError)
            b"<!DOCTYPE html><html><body><p>Gateway</body></html>",  # (ResponseParserError)
            b"",
        ):
            with self.subTest(content=content):
                with self.assertRaisesMessage(AnymailAPIError, "SendRawEmail failed"):
                    self.send(content)
                self.assertEqual(self.send(content, fail_silently=True), 0)


# ---------------------------------------------------------------------------------------------
# What crosses the wire: the real boto3 client against a loopback SES
# ---------------------------------------------------------------------------------------------

LOOPBACK_KEY_ID = "AKIDLOOPBACK"
LOOPBACK_SECRET = "loopback/secret+key="
SEND_RAW_EMAIL_XML = (
    '<SendRawEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
    f"<SendRawEmailResult><MessageId>{SES_MESSAGE_ID}</MessageId></SendRawEmailResult>"
    "<ResponseMetadata><RequestId>d3a6f1a1</RequestId></ResponseMetadata>"
    "</SendRawEmailResponse>"
).encode()


class LoopbackSES:
    """A real HTTP server on 127.0.0.1 answering every SES v1 call with SendRawEmail's success
    response; records each request's path, headers and raw body bytes."""

    def __init__(self) -> None:
        import http.server

        from .fakes import LocalHTTPServer

        self.requests: list[dict[str, Any]] = []
        recorded = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                recorded.append(
                    {
                        "path": self.path,
                        "headers": {name.lower(): value for name, value in self.headers.items()},
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(SEND_RAW_EMAIL_XML)))
                self.end_headers()
                self.wfile.write(SEND_RAW_EMAIL_XML)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LocalHTTPServer(Handler)

    def __enter__(self) -> LoopbackSES:
        self.server.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.server.__exit__(*exc_info)

    @property
    def client_params(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.server.address,
            "region_name": "us-east-1",
            "aws_access_key_id": LOOPBACK_KEY_ID,
            "aws_secret_access_key": LOOPBACK_SECRET,
        }


def sigv4_signature_is_valid(request: dict[str, Any], secret: str) -> bool:
    """Check a recorded request's AWS Signature Version 4 from scratch (not with botocore's code),
    per AWS's "Create a signed AWS API request": over the body bytes that arrived."""
    import hashlib
    import hmac
    import re

    authorization = request["headers"]["authorization"]
    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=[^/]+/(?P<scope>[^,]+), "
        r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})",
        authorization,
    )
    if not match:
        raise AssertionError(f"unexpected Authorization header {authorization!r}")
    scope, signed_headers = match["scope"], match["signed"].split(";")
    path, _, query = request["path"].partition("?")
    canonical_request = "\n".join(
        [
            "POST",
            path,
            query,
            "".join(
                f"{name}:{' '.join(request['headers'][name].split())}\n" for name in signed_headers
            ),
            match["signed"],
            hashlib.sha256(request["body"]).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            request["headers"]["x-amz-date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):  # date, region, service, "aws4_request"
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, match["signature"])


@needs_boto3
@override_settings(EMAIL_BACKEND=SES_BACKEND)
class AmazonSESWireTests(SimpleTestCase):
    """The SendRawEmail form body SES receives: Anymail encodes it itself (once, fast), so check
    it decodes to the right parameters, matches botocore's own encoding byte for byte, and
    carries a valid signature."""

    # Every character form encoding must escape, in addresses, headers and other params
    AWKWARD = "a+b/c=d e&f ü%"
    # ASCII text whose base64 has "+" and "/" (the raw message's, which SES's body escapes)
    BASE64_ESCAPES = "?>" * 3

    def setUp(self) -> None:
        super().setUp()
        self.ses = LoopbackSES().__enter__()  # (not enterContext: that's Python 3.11+)
        self.addCleanup(self.ses.__exit__, None, None, None)
        anymail_settings = override_settings(
            ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": self.ses.client_params}
        )
        anymail_settings.enable()
        self.addCleanup(anymail_settings.disable)

    def awkward_message(self) -> AnymailMessage:
        message = AnymailMessage(
            f"Subject {self.AWKWARD}",
            f"Text {self.AWKWARD} {self.BASE64_ESCAPES}",
            "Sender <from@example.com>",
            ["first+tag@example.com", "Bö Ünïcode <bo=x@exämple.com>"],
            cc=["a&b@example.com"],
            headers={"X-Awkward": self.AWKWARD},
            metadata={"note": self.AWKWARD},
            esp_extra={
                "Tags": [{"Name": "campaign", "Value": self.AWKWARD}],
                "ReturnPathArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
            },
        )
        message.envelope_sender = "bounce+id=1@example.com"
        message.attach("data.bin", bytes([0xFB, 0xEF, 0xFF]) * 200, "application/octet-stream")
        return message

    def test_form_body_decodes_to_the_params(self):
        from urllib.parse import parse_qs

        message = self.awkward_message()
        message.send()
        self.assertEqual(message.anymail_status.message_id, SES_MESSAGE_ID)
        self.assertEqual(len(self.ses.requests), 1)
        request = self.ses.requests[0]
        self.assertEqual(
            request["headers"]["content-type"], "application/x-www-form-urlencoded; charset=utf-8"
        )
        self.assertEqual(int(request["headers"]["content-length"]), len(request["body"]))
        fields = parse_qs(request["body"].decode("ascii"), strict_parsing=True)
        self.assertTrue(all(len(values) == 1 for values in fields.values()))
        params = {name: values[0] for name, values in fields.items()}
        raw_data = params.pop("RawMessage.Data")
        self.assertEqual(
            params,
            {
                "Action": "SendRawEmail",
                "Version": "2010-12-01",
                "Destinations.member.1": "first+tag@example.com",
                "Destinations.member.2": "bo=x@xn--exmple-cua.com",
                "Destinations.member.3": "a&b@example.com",
                "Source": "bounce+id=1@example.com",
                "Tags.member.1.Name": "campaign",
                "Tags.member.1.Value": self.AWKWARD,
                "ReturnPathArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
            },
        )
        # (so the base64 escapes were exercised)
        self.assertTrue({"+", "/"} <= set(raw_data), raw_data[:100])
        mime = email.message_from_bytes(base64.b64decode(raw_data, validate=True))
        mime = email.message_from_bytes(mime.as_bytes(), policy=email.policy.default)
        self.assertEqual(mime["Subject"], f"Subject {self.AWKWARD}")
        self.assertEqual(mime["X-Awkward"], self.AWKWARD)
        self.assertEqual(json.loads(mime["X-Metadata"]), {"note": self.AWKWARD})
        text, attachment = mime.get_payload()
        self.assertEqual(decoded(text).rstrip("\n"), f"Text {self.AWKWARD} {self.BASE64_ESCAPES}")
        self.assertEqual(attachment.get_content(), bytes([0xFB, 0xEF, 0xFF]) * 200)

    def test_body_is_botocores_own_encoding_and_signed(self):
        connection = get_connection()
        connection.open()
        sent_params: list[dict[str, Any]] = []
        connection.client.meta.events.register(
            "before-parameter-build.ses.SendRawEmail",
            lambda params, **kwargs: sent_params.append(dict(params)),
        )
        message = self.awkward_message()
        message.connection = connection
        message.send()
        connection.close()
        # The same params through a plain boto3 client, which encodes the form body itself
        plain_client = boto3.session.Session().client("ses", **self.ses.client_params)
        self.addCleanup(plain_client.close)
        plain_client.send_raw_email(**sent_params[0])
        anymail_request, botocore_request = self.ses.requests
        self.assertEqual(anymail_request["body"], botocore_request["body"])
        self.assertIn(b"%2B", anymail_request["body"])
        self.assertIn(b"%2F", anymail_request["body"])
        for request in (anymail_request, botocore_request):
            with self.subTest(request=request["headers"]["user-agent"]):
                self.assertTrue(sigv4_signature_is_valid(request, LOOPBACK_SECRET))
        # and a body that isn't what was signed fails the check
        tampered = {**anymail_request, "body": anymail_request["body"].replace(b"%2B", b"%2F", 1)}
        self.assertFalse(sigv4_signature_is_valid(tampered, LOOPBACK_SECRET))

    def test_only_anymails_client_encodes_the_body(self):
        """The body-encoding handler is registered on the client Anymail made, not on boto3's
        shared handlers: other clients in the process still leave the body to botocore."""
        bodies: dict[str, Any] = {}

        def record_body(name: str) -> Any:
            def handler(params: dict[str, Any], **kwargs: Any) -> None:
                bodies[name] = params["body"]

            return handler

        connection = get_connection()
        connection.open()
        connection.client.meta.events.register(
            "before-call.ses.SendRawEmail", record_body("anymail")
        )
        other_client = boto3.session.Session().client("ses", **self.ses.client_params)
        self.addCleanup(other_client.close)
        other_client.meta.events.register("before-call.ses.SendRawEmail", record_body("other"))
        EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], connection=connection
        ).send()
        connection.close()
        other_client.send_raw_email(RawMessage={"Data": b"Subject: hi\r\n\r\nBody"})
        self.assertIsInstance(bodies["anymail"], bytes)
        self.assertIsInstance(bodies["other"], dict)  # (what botocore's serializer makes)
        self.assertEqual(len(self.ses.requests), 2)


@needs_boto3
class AmazonSESFormEncodingTests(SimpleTestCase):
    """form_urlencode must give exactly what botocore's urlencode(doseq=True) of the UTF-8
    encoded fields gives (AWSRequestPreparer), whatever the field values."""

    @staticmethod
    def botocore_encoding(fields: dict[str, Any]) -> bytes:
        from urllib.parse import urlencode

        def utf8(value: Any) -> Any:
            return value.encode("utf-8") if isinstance(value, str) else value

        return urlencode(
            [(utf8(name), utf8(value)) for name, value in fields.items()], doseq=True
        ).encode("ascii")

    @given(
        st.dictionaries(
            st.text(min_size=1, max_size=20),
            st.one_of(
                st.text(),
                st.text(alphabet="ABCXYZabcxyz0189+/=_.~-", max_size=200),
                st.binary(max_size=100).map(lambda data: base64.b64encode(data).decode()),
                st.integers(),
            ),
            max_size=6,
        )
    )
    @settings(max_examples=300, deadline=None)
    def test_same_as_botocores_encoding(self, fields):
        from anymail.backends.amazon_ses import form_urlencode

        self.assertEqual(form_urlencode(fields), self.botocore_encoding(fields))

    def test_base64_value(self):
        from anymail.backends.amazon_ses import form_urlencode

        self.assertEqual(
            form_urlencode({"RawMessage.Data": "+/8=", "Action": "SendRawEmail"}),
            b"RawMessage.Data=%2B%2F8%3D&Action=SendRawEmail",
        )


@needs_boto3
class AmazonSESMimeBytesTests(SimpleTestCase):
    """mime_bytes() flattens faster than the stdlib's BytesGenerator, to the same bytes."""

    @staticmethod
    def stdlib_bytes(mime: Any) -> bytes:
        from email.generator import BytesGenerator
        from io import BytesIO

        buffer = BytesIO()
        BytesGenerator(buffer, mangle_from_=False).flatten(mime, linesep="\r\n")
        return buffer.getvalue()

    def assert_same_bytes(self, message: EmailMessage) -> None:
        import copy
        import random

        from anymail.backends.amazon_ses import encode_8bit_text_parts, mime_bytes

        mime = message.message()
        encode_8bit_text_parts(mime)
        mime_copy = copy.deepcopy(mime)  # (flattening sets the multipart boundaries)
        state = random.getstate()  # (the generators draw each boundary from random)
        expected = self.stdlib_bytes(mime)
        random.setstate(state)
        self.assertEqual(mime_bytes(mime_copy), expected)

    def test_same_bytes_as_the_stdlib_generator(self):
        long_word = "x" * 90
        messages = {
            "plain": EmailMessage("Subject", "Body", "from@example.com", ["to@example.com"]),
            "awkward": EmailMessage(
                "Sübject long enough to need folding, because it goes on and on and on and on",
                "Line\r\nCRLF\rCR\nLF\n\nFrom the start of a line\n  indented \n",
                '"Fröm, Name" <from@exämple.com>',
                ["a@example.com", "B <b@example.com>"] * 5,
                headers={
                    "X-Trailing-Space": "value ",
                    "X-Two-Trailing": "value  ",
                    "X-Tab": "a\tb",
                    "X-Long": f"{long_word} {long_word}",
                    "X-Long-Word": long_word,
                    "X-Empty": "",
                    "X-Leading": "  lead",
                    # (Header folds at a space once a line passes 78 characters)
                    "X-Exactly-78": ("y " * 40)[: 78 - len("X-Exactly-78: ")],
                    "X-Exactly-79": ("y " * 40)[: 79 - len("X-Exactly-79: ")],
                },
            ),
        }
        alternatives = EmailMultiAlternatives(
            "Subject", "Tëxt", "from@example.com", ["to@example.com"]
        )
        alternatives.attach_alternative("<p>HTML é</p>" * 40, "text/html")
        alternatives.attach("notes.txt", "a\nb\r\nc\n" * 50, "text/plain")
        alternatives.attach("data.bin", bytes(range(256)) * 20, "application/octet-stream")
        alternatives.attach(
            "forwarded.eml", EmailMessage("Inner", "Inner body", "x@example.com", ["y@example.com"])
        )
        attach_inline_image(alternatives, PNG_BYTES)
        messages["alternatives and attachments"] = alternatives
        for name, message in messages.items():
            with self.subTest(name):
                self.assert_same_bytes(message)

    def test_boundary_is_never_in_the_content(self):
        import random
        from email.generator import Generator

        from anymail.backends.amazon_ses import mime_bytes

        state = random.getstate()
        first_choice = Generator._make_boundary()  # (the boundary the next draw will make)
        message = EmailMultiAlternatives(
            "Subject", f"--{first_choice}\n", "from@example.com", ["to@example.com"]
        )
        message.attach_alternative(f"<p>{first_choice}</p>", "text/html")
        mime = message.message()
        random.setstate(state)
        raw = mime_bytes(mime)
        boundary = mime.get_boundary()
        self.assertNotEqual(boundary, first_choice)
        self.assertNotIn(boundary.encode(), f"--{first_choice}".encode())
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        text, html = parsed.get_payload()
        self.assertEqual(decoded(text), f"--{first_choice}\n")
        # (Django 6's messages end a text part with a line break)
        self.assertEqual(decoded(html).rstrip("\n"), f"<p>{first_choice}</p>")

    @given(
        name=st.from_regex(r"X-[A-Za-z0-9-]{1,30}", fullmatch=True),
        value=st.one_of(
            st.text(max_size=120),
            st.text(alphabet=' \t\r\nxy;,=?"ü', max_size=90),  # (spaces, breaks, near 78)
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=90),
        ),
    )
    @settings(max_examples=200, deadline=None)
    def test_header_folding_same_as_compat32(self, name, value):
        from email.policy import compat32

        from anymail.backends.amazon_ses import FAST_FOLD_COMPAT32

        for linesep in ("\n", "\r\n"):
            fast, stdlib = (
                policy.clone(linesep=linesep) for policy in (FAST_FOLD_COMPAT32, compat32)
            )
            try:
                expected = stdlib.fold_binary(name, value)
            except Exception as error:  # (e.g. HeaderParseError for an embedded header)
                with self.assertRaises(type(error)):
                    fast.fold_binary(name, value)
            else:
                self.assertEqual(fast.fold_binary(name, value), expected)


# ---------------------------------------------------------------------------------------------
# Without boto3 installed
# ---------------------------------------------------------------------------------------------


#: The modules a project imports that may touch boto3
SES_MODULES = ("anymail.urls", "anymail.webhooks.amazon_ses", "anymail.backends.amazon_ses")
WEBHOOK_SECRET = "user:pass"


class AmazonSESWithoutBoto3Tests(SimpleTestCase):
    """As if boto3 weren't installed: fresh imports of the Amazon SES modules, boto3 blocked.

    (In tox's noextras env, where boto3 really isn't installed, blocking it changes nothing.)
    """

    def setUp(self):
        super().setUp()
        modules = mock.patch.dict(sys.modules, {"boto3": None, "botocore": None})
        modules.start()
        self.addCleanup(modules.stop)  # (also restores the modules popped below)
        for name in SES_MODULES:
            sys.modules.pop(name, None)
            # `from package import module` finds an already imported module as the package's
            # attribute: hide it too, until the end of the test
            parent_name, _, attr = name.rpartition(".")
            parent = sys.modules[parent_name]
            if attr in vars(parent):
                self.addCleanup(setattr, parent, attr, vars(parent)[attr])
                delattr(parent, attr)
            else:
                self.addCleanup(vars(parent).pop, attr, None)

    def assert_improperly_installed(self, err: BaseException) -> None:
        self.assertIsInstance(err, AnymailImproperlyInstalled)
        self.assertIsInstance(err, ImportError)
        self.assertIn("boto3", str(err))
        self.assertIn("pip install django-anymail[amazon_ses]", str(err))

    def test_anymail_urls_imports(self):
        urls = importlib.import_module("anymail.urls")
        names = {pattern.name for pattern in urls.urlpatterns}
        self.assertIn("amazon_ses_tracking_webhook", names)
        self.assertIn("amazon_ses_inbound_webhook", names)

    def test_backend_module_needs_boto3(self):
        # As in Anymail 6.1: importing the backend raises AnymailImproperlyInstalled
        with self.assertRaises(AnymailImproperlyInstalled) as cm:
            importlib.import_module("anymail.backends.amazon_ses")
        self.assert_improperly_installed(cm.exception)
        with self.assertRaises(AnymailImproperlyInstalled) as cm:
            get_connection(SES_BACKEND)
        self.assert_improperly_installed(cm.exception)

    def test_webhook_modules_boto3_raises_when_used(self):
        webhooks = importlib.import_module("anymail.webhooks.amazon_ses")
        self.assertFalse(webhooks.boto3)
        with self.assertRaises(AnymailImproperlyInstalled) as cm:
            webhooks.boto3.session.Session()
        self.assert_improperly_installed(cm.exception)

    # (not about SNS signatures: these messages are unsigned)
    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_VERIFY_SNS_SIGNATURES": False}
    )
    def test_webhooks_need_boto3_only_to_call_aws(self):
        from anymail.signals import tracking

        webhooks = importlib.import_module("anymail.webhooks.amazon_ses")
        handler = mock.Mock()
        tracking.connect(handler, weak=False)
        self.addCleanup(tracking.disconnect, handler)

        def post(view_class: type, body: dict[str, Any]):
            request = RequestFactory().post(
                "/",
                data=json.dumps(body),
                content_type="text/plain",
                HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
                HTTP_X_AMZ_SNS_MESSAGE_TYPE=body["Type"],
            )
            return view_class.as_view()(request)

        # A tracking notification needs no boto3
        record = {"eventType": "Send", "mail": {"destination": ["to@example.com"]}, "send": {}}
        notification = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(record)}
        response = post(webhooks.AmazonSESTrackingWebhookView, notification)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(handler.call_args.kwargs["event"].recipient, "to@example.com")
        # Confirming an SNS subscription, or downloading from S3, does: a 400 that says so
        confirmation = {
            "Type": "SubscriptionConfirmation",
            "Token": "abc",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:Topic",
        }
        received = {
            "notificationType": "Received",
            "mail": {"source": "sender@example.com"},
            "receipt": {
                "recipients": ["inbound@example.com"],
                "action": {"type": "S3", "bucketName": "bucket", "objectKey": "key"},
            },
        }
        s3_notification = {
            "Type": "Notification",
            "MessageId": "2",
            "Message": json.dumps(received),
        }
        for view_class, body in [
            (webhooks.AmazonSESTrackingWebhookView, confirmation),
            (webhooks.AmazonSESInboundWebhookView, s3_notification),
        ]:
            with self.subTest(body["Type"]), self.assertLogs("anymail.webhooks", "WARNING"):
                response = post(view_class, body)
                self.assertEqual(response.status_code, 400)
                self.assertIn(b"pip install django-anymail[amazon_ses]", response.content)

    def test_import_anymail_urls_without_boto3(self):
        # tox's noextras env in miniature: a fresh interpreter with boto3 (and cryptography,
        # for SNS signatures) hidden
        script = textwrap.dedent(
            """
            import sys
            for name in ("boto3", "botocore", "cryptography"):
                sys.modules[name] = None  # as if not installed
            import django
            from django.conf import settings
            settings.configure(INSTALLED_APPS=["anymail"])
            django.setup()
            import anymail.urls
            print("anymail.urls:", len(anymail.urls.urlpatterns) > 0)
            try:
                import anymail.backends.amazon_ses
            except ImportError as err:
                print("backend:", type(err).__name__)
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines(),
            ["anymail.urls: True", "backend: AnymailImproperlyInstalled"],
        )


class AmazonSESWithoutCryptographyTests(SimpleTestCase):
    """As if cryptography (for SNS signatures, in the amazon_ses extra) weren't installed."""

    def setUp(self):
        super().setUp()
        modules = mock.patch.dict(sys.modules, {"cryptography": None})
        modules.start()
        self.addCleanup(modules.stop)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
    def test_webhooks_need_cryptography_to_verify_signatures(self):
        from anymail.webhooks.amazon_ses import (
            AmazonSESInboundWebhookView,
            AmazonSESTrackingWebhookView,
        )

        for view_class in (AmazonSESTrackingWebhookView, AmazonSESInboundWebhookView):
            with (
                self.subTest(view=view_class.__name__),
                self.assertRaises(AnymailImproperlyInstalled) as cm,
            ):
                view_class()
            self.assertIn("cryptography", str(cm.exception))
            self.assertIn("pip install django-anymail[amazon_ses]", str(cm.exception))
            view_class(verify_sns_signatures=False)  # (without verification, no need)


# ---------------------------------------------------------------------------------------------
# End to end, through the real boto3 client, against moto's SES
# ---------------------------------------------------------------------------------------------


@needs_boto3
@override_settings(
    EMAIL_BACKEND=SES_BACKEND, ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"region_name": "us-east-1"}}
)
class AmazonSESMotoTests(SimpleTestCase):
    def setUp(self):
        super().setUp()
        from moto import mock_aws

        env = mock.patch.dict(
            os.environ,
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            },
        )
        env.start()
        self.addCleanup(env.stop)
        aws = mock_aws()
        aws.start()
        self.addCleanup(aws.stop)
        self.ses = boto3.client("ses", region_name="us-east-1")
        self.ses.verify_email_identity(EmailAddress="from@example.com")

    def moto_sent_messages(self) -> list[Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages

    def test_raw_send(self):
        message = AnymailMessage(
            "Sübject",
            "Hello wörld",
            "Sender <from@example.com>",
            ["to@example.com"],
            bcc=["bcc@example.com"],
            metadata={"order": 42},
            tags=["receipt"],
        )
        message.send()
        sent = self.moto_sent_messages()
        self.assertEqual(len(sent), 1)
        self.assertEqual(message.anymail_status.message_id, sent[0].id)
        self.assertEqual(message.anymail_status.status, {"queued"})
        self.assertIn("bcc@example.com", sent[0].destinations)
        mime = email.message_from_string(sent[0].raw_data, policy=email.policy.default)
        self.assertEqual(mime["Subject"], "Sübject")
        self.assertEqual(json.loads(mime["X-Metadata"]), {"order": 42})
        self.assertEqual(mime["X-Tag"], "receipt")
        self.assertEqual(decoded(mime).rstrip("\n"), "Hello wörld")

    def test_user_agent_header(self):
        user_agents = []
        connection = get_connection()
        connection.open()
        connection.client.meta.events.register(
            "before-send.ses",
            lambda request, **kwargs: user_agents.append(request.headers["User-Agent"]),
        )
        EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], connection=connection
        ).send()
        connection.close()
        self.assertEqual(len(user_agents), 1)
        user_agent = (
            user_agents[0].decode() if isinstance(user_agents[0], bytes) else user_agents[0]
        )
        self.assertIn(f"django-anymail/{ANYMAIL_VERSION}", user_agent)
        self.assertIn("Boto3/", user_agent)

    def test_unverified_sender_is_api_error(self):
        message = EmailMessage("Subject", "Body", "unverified@example.org", ["to@example.com"])
        message.envelope_sender = "unverified@example.org"
        with self.assertRaisesMessage(AnymailAPIError, "MessageRejected") as cm:
            message.send()
        self.assertIn("unverified@example.org", str(cm.exception))
        self.assertEqual(cm.exception.status_code, 400)

    def test_template_batch_send(self):
        self.ses.create_template(
            Template={
                "TemplateName": "welcome",
                "SubjectPart": "Welcome, {{name}}",
                "TextPart": "Hi {{name}}, welcome to {{site}}",
                "HtmlPart": "<p>Hi {{name}}, welcome to {{site}}</p>",
            }
        )
        message = AnymailMessage(
            template_id="welcome",
            from_email="from@example.com",
            to=["alice@example.com", "bob@example.com"],
            merge_data={"alice@example.com": {"name": "Alice"}, "bob@example.com": {"name": "Bob"}},
            merge_global_data={"site": "ExampleCo"},
        )
        message.send()
        status = message.anymail_status
        self.assertEqual(status.status, {"queued"})
        self.assertEqual(len(status.message_id), 2)
        sent = self.moto_sent_messages()
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0].template, "welcome")
        self.assertEqual(json.loads(sent[0].template_data), {"site": "ExampleCo"})

    def test_missing_template_is_api_error(self):
        message = AnymailMessage(
            template_id="nope", from_email="from@example.com", to=["to@example.com"]
        )
        with self.assertRaisesMessage(AnymailAPIError, "TemplateDoesNotExist"):
            message.send()
