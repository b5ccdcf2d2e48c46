"""The shared send pipeline, through the test backend (every feature) and a minimal ESP."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.mime.image import MIMEImage
from email.mime.text import MIMEText
from unittest import mock
from zoneinfo import ZoneInfo

from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail
from django.core.mail.message import BadHeaderError
from django.test import SimpleTestCase, override_settings
from django.utils.translation import gettext_lazy

from anymail.addresses import EmailAddress
from anymail.backends.base import OPTIONAL_FEATURES, BasePayload, deep_merge
from anymail.backends.test import TestPayload
from anymail.exceptions import (
    AnymailAPIError,
    AnymailCancelSend,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, AnymailRecipientStatus, attach_inline_image
from anymail.signals import post_send, pre_send

from .fakes import (
    EVERY_FEATURE_BACKEND,
    MINIMAL_BACKEND,
    EveryFeaturePayload,
    MinimalEmailBackend,
    MinimalPayload,
    formatted,
)

UTC = timezone.utc  # (datetime.UTC is Python 3.11+)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 16
TEST_BACKEND = "anymail.backends.test.EmailBackend"


def sent_params(index: int = -1) -> dict:
    return mail.outbox[index].anymail_send_params


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class SendDefaultsTests(SimpleTestCase):
    @override_settings(
        ANYMAIL={
            "SEND_DEFAULTS": {
                "metadata": {"district": "North", "source": "unknown"},
                "tags": ["myapp", "version3"],
                "track_clicks": True,
                "track_opens": True,
            }
        }
    )
    def test_defaults_merge_with_message_attributes(self):
        message = AnymailMessage(to=["to@example.com"], tags=["welcome"], track_opens=False)
        message.metadata = {"user_id": "12345", "source": "mobile"}
        message.send()
        params = sent_params()
        self.assertEqual(
            params["metadata"], {"district": "North", "source": "mobile", "user_id": "12345"}
        )
        self.assertEqual(params["tags"], ["myapp", "version3", "welcome"])
        self.assertIs(params["track_clicks"], True)
        self.assertIs(params["track_opens"], False)

    @override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["myapp"], "metadata": {"a": "1"}}})
    def test_none_on_message_suppresses_default(self):
        message = AnymailMessage(to=["to@example.com"], tags=None)
        message.metadata = None
        message.send()
        self.assertNotIn("tags", sent_params())
        self.assertNotIn("metadata", sent_params())

    @override_settings(
        ANYMAIL={
            "SEND_DEFAULTS": {"tags": ["myapp", "version3"], "track_clicks": True},
            "TEST_SEND_DEFAULTS": {"tags": ["version3"]},
        }
    )
    def test_esp_send_defaults_replace_global_value_for_same_key(self):
        AnymailMessage(to=["to@example.com"]).send()
        self.assertEqual(sent_params()["tags"], ["version3"])  # replaced, not merged
        self.assertIs(sent_params()["track_clicks"], True)  # other global defaults still apply

    @override_settings(
        ANYMAIL={
            "SEND_DEFAULTS": {
                "bcc": ["always-copy@example.com"],
                "extra_headers": {"X-App": "myapp"},
                "reply_to": ["help@example.com"],
            }
        }
    )
    def test_defaults_work_for_django_attributes(self):
        EmailMessage(
            "Subject",
            "Body",
            to=["to@example.com"],
            bcc=["bcc@example.com"],
            headers={"X-Other": "1"},
        ).send()
        params = sent_params()
        self.assertEqual(formatted(params["bcc"]), ["always-copy@example.com", "bcc@example.com"])
        self.assertEqual(params["extra_headers"], {"X-App": "myapp", "X-Other": "1"})
        self.assertEqual(formatted(params["reply_to"]), ["help@example.com"])

    @override_settings(ANYMAIL={"SEND_DEFAULTS": {"merge_global_data": {"SITE": "Example"}}})
    def test_merge_global_data_default_merges_with_message(self):
        message = AnymailMessage(to=["to@example.com"], merge_global_data={"OFFER": "5%"})
        message.send()
        self.assertEqual(sent_params()["merge_global_data"], {"SITE": "Example", "OFFER": "5%"})

    @override_settings(ANYMAIL={"SEND_DEFAULTS": {"tags": ["from-settings"]}})
    def test_get_connection_kwargs_override_settings(self):
        connection = get_connection(
            TEST_BACKEND,
            send_defaults={"tags": ["from-kwargs"]},
            esp_send_defaults={"metadata": {"esp": "kwargs"}},
        )
        AnymailMessage(to=["to@example.com"], connection=connection).send()
        self.assertEqual(sent_params()["tags"], ["from-kwargs"])
        self.assertEqual(sent_params()["metadata"], {"esp": "kwargs"})

    @override_settings(ANYMAIL_SEND_DEFAULTS={"tags": ["prefixed-setting"]})
    def test_prefixed_setting_form(self):
        AnymailMessage(to=["to@example.com"]).send()
        self.assertEqual(sent_params()["tags"], ["prefixed-setting"])

    def test_attributes_read_from_any_email_message(self):
        message = EmailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        message.tags = ["plain-django-message"]
        message.metadata = {"order": "1234"}
        message.template_id = "welcome-template"
        message.envelope_sender = "bounces@example.com"
        message.esp_extra = {"anything": ["goes"]}
        message.send()
        params = sent_params()
        self.assertEqual(params["tags"], ["plain-django-message"])
        self.assertEqual(params["metadata"], {"order": "1234"})
        self.assertEqual(params["template_id"], "welcome-template")
        self.assertEqual(params["envelope_sender"], "bounces@example.com")
        self.assertEqual(params["anything"], ["goes"])  # esp_extra is merged into the params
        self.assertNotIn("esp_extra", params)
        self.assertEqual(message.anymail_status.status, {"sent"})


class SignalTests(SimpleTestCase):
    def setUp(self):
        MinimalEmailBackend.sent_payloads = []

    def connect(self, signal, receiver):
        signal.connect(receiver, weak=False)
        self.addCleanup(signal.disconnect, receiver)

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_pre_send_can_modify_message_and_sees_esp_name(self):
        calls = []

        def filter_blocked(sender, message, esp_name, **kwargs):
            calls.append((sender, esp_name))
            message.to = [addr for addr in message.to if "blocked" not in addr]

        self.connect(pre_send, filter_blocked)
        EmailMessage("S", "B", to=["ok@example.com", "blocked@example.com"]).send()
        self.assertEqual(calls, [(MinimalEmailBackend, "Minimal")])
        self.assertEqual(MinimalEmailBackend.sent_payloads[0].data["to"], ["ok@example.com"])

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_cancel_send_drops_only_that_message(self):
        def cancel_some(sender, message, **kwargs):
            if message.subject == "cancel me":
                raise AnymailCancelSend("Blocked from_email")

        self.connect(pre_send, cancel_some)
        messages = [
            EmailMessage("keep 1", "B", to=["a@example.com"]),
            EmailMessage("cancel me", "B", to=["b@example.com"]),
            EmailMessage("keep 2", "B", to=["c@example.com"]),
        ]
        sent = get_connection().send_messages(messages)
        self.assertEqual(sent, 2)
        self.assertEqual(
            [payload.data["subject"] for payload in MinimalEmailBackend.sent_payloads],
            ["keep 1", "keep 2"],
        )
        self.assertIsNone(messages[1].anymail_status.status)
        self.assertEqual(messages[2].anymail_status.status, {"queued"})

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_pre_send_removing_every_recipient_skips_send(self):
        self.connect(pre_send, lambda sender, message, **kw: setattr(message, "to", []))
        self.assertEqual(EmailMessage("S", "B", to=["a@example.com"]).send(), 0)
        self.assertEqual(MinimalEmailBackend.sent_payloads, [])

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_post_send_gets_status(self):
        received = []
        self.connect(
            post_send,
            lambda sender, message, status, esp_name, **kw: received.append(
                (sender, message.subject, status, esp_name)
            ),
        )
        message = EmailMessage("Hello", "B", to=["a@example.com"])
        message.send()
        sender, subject, status, esp_name = received[0]
        self.assertEqual((sender, subject, esp_name), (MinimalEmailBackend, "Hello", "Minimal"))
        self.assertIs(status, message.anymail_status)
        self.assertEqual(status.message_id, "minimal-1")

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_every_post_send_receiver_runs_even_if_one_raises(self):
        called = []

        def failing(sender, **kwargs):
            called.append("failing")
            raise ValueError("receiver bug")

        def logging_receiver(sender, **kwargs):
            called.append("logging")

        self.connect(post_send, failing)
        self.connect(post_send, logging_receiver)
        with self.assertLogs("anymail.backends", "ERROR") as logs:
            # The message was sent: a post_send bug is logged, not raised into the send
            sent = EmailMessage("S", "B", to=["a@example.com"]).send()
        self.assertEqual(sent, 1)
        self.assertEqual(called, ["failing", "logging"])
        self.assertEqual(len(MinimalEmailBackend.sent_payloads), 1)
        self.assertIn("post_send receiver", logs.output[0])
        self.assertIn("minimal-1", logs.output[0])
        self.assertIsInstance(logs.records[0].exc_info[1], ValueError)


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class AddressTests(SimpleTestCase):
    def test_several_addresses_in_one_string_and_display_names(self):
        EmailMessage(
            "S",
            "B",
            '"Widgets, Inc." <widgets@example.com>',
            ["one@example.com, Two <two@example.com>", "Ünïcödé Name <u@example.com>"],
        ).send()
        params = sent_params()
        self.assertEqual(params["from"], EmailAddress("Widgets, Inc.", "widgets@example.com"))
        self.assertEqual(
            params["to"],
            [
                EmailAddress("", "one@example.com"),
                EmailAddress("Two", "two@example.com"),
                EmailAddress("Ünïcödé Name", "u@example.com"),
            ],
        )
        self.assertEqual(
            set(mail.outbox[0].anymail_status.recipients),
            {"one@example.com", "two@example.com", "u@example.com"},
        )

    def test_unquoted_comma_in_display_name_is_refused_with_the_address(self):
        message = EmailMessage("S", "B", "Widgets, Inc. <widgets@example.com>", ["to@example.com"])
        with self.assertRaises(AnymailInvalidAddress) as cm:
            message.send()
        self.assertIn("Widgets, Inc. <widgets@example.com>", str(cm.exception))
        self.assertIn("from_email", str(cm.exception))
        self.assertIn("double quotes", str(cm.exception))
        self.assertEqual(mail.outbox, [])

    def test_invalid_recipient_names_field(self):
        for field in ("to", "cc", "bcc", "reply_to"):
            with self.subTest(field=field):
                kwargs = {"to": ["ok@example.com"], field: ["not-an-address"]}
                with self.assertRaisesMessage(
                    AnymailInvalidAddress, f"Invalid email address 'not-an-address' in `{field}`"
                ):
                    EmailMessage("S", "B", **kwargs).send()

    def test_header_injection_in_address_is_refused(self):
        with self.assertRaisesMessage(AnymailInvalidAddress, "line break"):
            EmailMessage("S", "B", to=["victim@example.com\nBcc: spam@example.com"]).send()

    def test_invalid_envelope_sender(self):
        message = AnymailMessage(to=["to@example.com"], envelope_sender="bounces")
        with self.assertRaisesMessage(AnymailInvalidAddress, "envelope_sender"):
            message.send()

    def test_invalid_address_is_value_error_and_anymail_error(self):
        with self.assertRaises(AnymailInvalidAddress) as cm:
            EmailMessage("S", "B", to=["@example.com"]).send()
        self.assertIsInstance(cm.exception, ValueError)
        self.assertIsInstance(cm.exception, AnymailError)

    def test_lazy_strings_everywhere(self):
        message = AnymailMessage(
            subject=gettext_lazy("Lazy subject"),
            body=gettext_lazy("Lazy body"),
            from_email=gettext_lazy("Lazy <from@example.com>"),
            to=[gettext_lazy("to@example.com")],
            reply_to=[gettext_lazy("reply@example.com")],
            headers={"X-Lazy": gettext_lazy("header")},
            tags=[gettext_lazy("tag")],
            metadata={"key": gettext_lazy("value")},
            merge_global_data={"GREETING": gettext_lazy("Hello")},
            template_id=gettext_lazy("template"),
        )
        message.attach_alternative(gettext_lazy("<p>lazy html</p>"), "text/html")
        message.send()
        params = sent_params()
        self.assertEqual(params["subject"], "Lazy subject")
        self.assertEqual(params["text_body"], "Lazy body")
        self.assertEqual(params["html_body"], "<p>lazy html</p>")
        self.assertEqual(params["from"].formatted(), "Lazy <from@example.com>")
        self.assertEqual(formatted(params["to"]), ["to@example.com"])
        self.assertEqual(formatted(params["reply_to"]), ["reply@example.com"])
        self.assertEqual(params["extra_headers"], {"X-Lazy": "header"})
        self.assertEqual(params["tags"], ["tag"])
        self.assertEqual(params["metadata"], {"key": "value"})
        self.assertEqual(params["merge_global_data"], {"GREETING": "Hello"})
        self.assertEqual(params["template_id"], "template")
        for value in (params["subject"], params["tags"][0], params["metadata"]["key"]):
            self.assertIs(type(value), str)


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class HeaderTests(SimpleTestCase):
    def test_header_names_are_case_insensitive_last_wins(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.extra_headers = {"x-custom": "first", "X-Custom": "second"}
        message.send()
        self.assertEqual(sent_params()["extra_headers"], {"X-Custom": "second"})

    def test_reply_to_header_overrides_reply_to_attribute(self):
        EmailMessage(
            "S",
            "B",
            to=["to@example.com"],
            reply_to=["attr@example.com"],
            headers={"reply-to": "Header <header@example.com>"},
        ).send()
        self.assertEqual(formatted(sent_params()["reply_to"]), ["Header <header@example.com>"])
        self.assertNotIn("extra_headers", sent_params())

    def test_from_header_becomes_from_and_from_email_the_envelope_sender(self):
        EmailMessage(
            "S",
            "B",
            "envelope@example.com",
            ["to@example.com"],
            headers={"From": "Displayed <displayed@example.com>"},
        ).send()
        self.assertEqual(sent_params()["from"].formatted(), "Displayed <displayed@example.com>")
        self.assertEqual(sent_params()["envelope_sender"], "envelope@example.com")

    def test_explicit_envelope_sender_wins_over_from_header_rule(self):
        message = AnymailMessage(
            from_email="from@example.com",
            to=["to@example.com"],
            headers={"From": "displayed@example.com"},
            envelope_sender="bounce@example.com",
        )
        message.send()
        self.assertEqual(sent_params()["envelope_sender"], "bounce@example.com")

    @override_settings(EMAIL_BACKEND=EVERY_FEATURE_BACKEND)
    def test_to_header_is_spoofed_to_for_esps_that_allow_it(self):
        EmailMessage("S", "B", to=["real@example.com"], headers={"To": "shown@example.com"}).send()
        self.assertEqual(sent_params()["spoofed_to_header"], "shown@example.com")
        self.assertEqual(formatted(sent_params()["to"]), ["real@example.com"])

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_to_header_unsupported_by_most_esps(self):
        message = EmailMessage("S", "B", to=["real@example.com"], headers={"To": "x@example.com"})
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Minimal does not support a spoofed To header"
        ):
            message.send()

    def test_header_value_with_newline_is_refused(self):
        # Django's own error, as its SMTP backend raises, so existing except clauses catch it
        message = EmailMessage("S", "B", to=["to@example.com"], headers={"X-Evil": "a\r\nBcc: x"})
        with self.assertRaisesMessage(BadHeaderError, "'X-Evil' contains a line break"):
            message.send()
        self.assertEqual(mail.outbox, [])

    def test_header_name_with_newline_or_colon_is_refused(self):
        for name in ["X-Evil\r\nBcc", "X-Evil: x\nBcc", "Bcc: a@example.com\nX"]:
            with self.subTest(name=name):
                message = EmailMessage("S", "B", to=["to@example.com"], headers={name: "v"})
                with self.assertRaisesMessage(BadHeaderError, "Invalid header name"):
                    message.send()

    def test_subject_with_newline_is_refused(self):
        with self.assertRaisesMessage(BadHeaderError, "'Subject'"):
            EmailMessage("Hi\nBcc: x@example.com", "B", to=["to@example.com"]).send()

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_header_injection_refused_for_every_esp(self):
        # Not just where the ESP gets a MIME message: the base checks before any ESP payload
        for message in [
            EmailMessage("Hi\rBcc: x@example.com", "B", to=["to@example.com"]),
            EmailMessage("S", "B", "from@example.com\nBcc: x@example.com", ["to@example.com"]),
            EmailMessage("S", "B", to=["to@example.com", "cc@example.com\r\nBcc: x@ex.com"]),
        ]:
            with self.subTest(message=message), self.assertRaises(BadHeaderError):
                message.send()

    def test_non_string_header_values_become_strings(self):
        EmailMessage("S", "B", to=["to@example.com"], headers={"X-Number": 12345}).send()
        self.assertEqual(sent_params()["extra_headers"], {"X-Number": "12345"})


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class BodyAndAttachmentTests(SimpleTestCase):
    def test_html_alternative_becomes_html_body(self):
        message = EmailMultiAlternatives("S", "text body", to=["to@example.com"])
        message.attach_alternative("<p>html</p>", "text/html")
        message.send()
        self.assertEqual(sent_params()["text_body"], "text body")
        self.assertEqual(sent_params()["html_body"], "<p>html</p>")
        self.assertNotIn("alternatives", sent_params())

    def test_send_mail_html_message(self):
        send_mail("S", "text", "from@example.com", ["to@example.com"], html_message="<b>hi</b>")
        self.assertEqual(sent_params()["html_body"], "<b>hi</b>")

    def test_html_content_subtype_and_plain_alternative(self):
        message = EmailMultiAlternatives("S", "<p>html body</p>", to=["to@example.com"])
        message.content_subtype = "html"
        message.attach_alternative("plain version", "text/plain")
        message.send()
        self.assertEqual(sent_params()["html_body"], "<p>html body</p>")
        self.assertEqual(sent_params()["text_body"], "plain version")

    def test_test_backend_refuses_other_alternatives_like_most_esps(self):
        message = EmailMultiAlternatives("S", "text", to=["to@example.com"])
        message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Test does not support alternative part with type"
        ):
            message.send()

    @override_settings(EMAIL_BACKEND=EVERY_FEATURE_BACKEND)
    def test_other_alternatives_passed_on_where_supported(self):
        message = EmailMultiAlternatives("S", "text", to=["to@example.com"])
        message.attach_alternative("<p>one</p>", "text/html")
        message.attach_alternative("<p>two</p>", "text/html")
        message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        message.send()
        self.assertEqual(
            sent_params()["alternatives"],
            [("<p>two</p>", "text/html"), ("BEGIN:VCALENDAR", "text/calendar")],
        )

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_other_alternatives_unsupported_by_most_esps(self):
        message = EmailMultiAlternatives("S", "text", to=["to@example.com"])
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature,
            "Minimal does not support alternative part with type 'text/calendar'",
        ):
            message.send()

    def test_attachments_from_tuples_and_mime(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.attach("report.csv", "a,b\n1,2\n")  # mimetype guessed from filename
        message.attach("data.bin", b"\x00\x01\x02", "application/x-custom")
        message.attach(MIMEText("mime text", "plain", "utf-8"))
        message.send()
        csv, binary, mime = sent_params()["attachments"]
        self.assertEqual(
            (csv.name, csv.mimetype, csv.content), ("report.csv", "text/csv", b"a,b\n1,2\n")
        )
        self.assertFalse(csv.inline)
        self.assertEqual(
            (binary.name, binary.mimetype, binary.content),
            ("data.bin", "application/x-custom", b"\x00\x01\x02"),
        )
        self.assertEqual(binary.b64content, "AAEC")
        self.assertEqual(
            (mime.name, mime.mimetype, mime.content), (None, "text/plain", b"mime text")
        )

    def test_inline_image_helper(self):
        message = EmailMultiAlternatives("S", "B", to=["to@example.com"])
        cid = attach_inline_image(message, PNG, "logo.png")
        message.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        message.send()
        (image,) = sent_params()["attachments"]
        self.assertTrue(image.inline)
        self.assertEqual(image.cid, cid)
        self.assertTrue(cid.endswith("@inline"))
        self.assertEqual(
            (image.name, image.mimetype, image.content), ("logo.png", "image/png", PNG)
        )

    def test_content_id_without_disposition_is_inline(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        image = MIMEImage(PNG, "png")
        image["Content-ID"] = "<abc123@example.com>"
        message.attach(image)
        message.send()
        (attachment,) = sent_params()["attachments"]
        self.assertTrue(attachment.inline)
        self.assertEqual(attachment.cid, "abc123@example.com")

    def test_attachment_disposition_with_content_id_is_not_inline(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        image = MIMEImage(PNG, "png")
        image["Content-ID"] = "<abc123@example.com>"
        image["Content-Disposition"] = 'attachment; filename="pic.png"'
        message.attach(image)
        message.send()
        self.assertFalse(sent_params()["attachments"][0].inline)

    def test_forwarded_message_attachment(self):
        forwarded = EmailMessage("Original subject", "Original body", to=["x@example.com"])
        message = EmailMessage("Fwd", "See attached", to=["to@example.com"])
        message.attach(None, forwarded, "message/rfc822")
        message.send()
        (attachment,) = sent_params()["attachments"]
        self.assertEqual(attachment.mimetype, "message/rfc822")
        self.assertIn(b"Subject: Original subject", attachment.content)
        self.assertIn(b"Original body", attachment.content)

    @override_settings(EMAIL_BACKEND=MINIMAL_BACKEND)
    def test_attachments_unsupported_by_minimal_esp(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.attach("a.txt", "text")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Minimal does not support attachments"
        ):
            message.send()


class UnsupportedFeatureTests(SimpleTestCase):
    """Every optional feature is refused by an ESP that doesn't implement it, in one wording."""

    feature_attrs = {
        "envelope_sender": "bounce@example.com",
        "metadata": {"a": "1"},
        "merge_metadata": {"to@example.com": {"a": "1"}},
        "send_at": datetime(2030, 1, 1, tzinfo=UTC),
        "tags": ["tag"],
        "track_clicks": True,
        "track_opens": False,
        "template_id": "tmpl",
        "merge_data": {},
        "merge_global_data": {"A": "1"},
        "esp_extra": {"x": 1},
    }

    def setUp(self):
        MinimalEmailBackend.sent_payloads = []

    def test_each_unsupported_feature_refused_naming_feature_and_esp(self):
        connection = get_connection(MINIMAL_BACKEND)
        for attr, value in self.feature_attrs.items():
            with self.subTest(attr=attr):
                message = EmailMessage("S", "B", to=["to@example.com"], connection=connection)
                setattr(message, attr, value)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature, f"Minimal does not support {attr}."
                ):
                    message.send()
        self.assertEqual(MinimalEmailBackend.sent_payloads, [])

    def test_multiple_from_emails_unsupported(self):
        message = EmailMessage("S", "B", "a@example.com, b@example.com", ["to@example.com"])
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "Minimal does not support multiple from emails"
        ):
            get_connection(MINIMAL_BACKEND).send_messages([message])

    def test_error_message_says_how_to_ignore(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.tags = ["x"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "ANYMAIL_IGNORE_UNSUPPORTED_FEATURES = True"
        ):
            get_connection(MINIMAL_BACKEND).send_messages([message])

    @override_settings(ANYMAIL={"IGNORE_UNSUPPORTED_FEATURES": True})
    def test_ignore_unsupported_features_sends_without_them(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        for attr, value in self.feature_attrs.items():
            setattr(message, attr, value)
        message.attach("a.txt", "text")
        self.assertEqual(get_connection(MINIMAL_BACKEND).send_messages([message]), 1)
        self.assertEqual(
            MinimalEmailBackend.sent_payloads[0].data,
            {
                "from": "from@example.com",
                "to": ["to@example.com"],
                "cc": [],
                "bcc": [],
                "subject": "S",
                "text": "B",
            },
        )

    def test_ignore_unsupported_features_kwarg(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.tags = ["x"]
        connection = get_connection(MINIMAL_BACKEND, ignore_unsupported_features=True)
        self.assertEqual(connection.send_messages([message]), 1)

    def test_supported_features_is_read_off_the_payload_class(self):
        self.assertEqual(set(MinimalPayload.supported_features()), set(OPTIONAL_FEATURES))
        self.assertFalse(any(MinimalPayload.supported_features().values()))
        self.assertTrue(all(EveryFeaturePayload.supported_features().values()))
        # Like many ESPs, the test backend has no other alternatives or spoofed To header
        unsupported = {f for f, ok in TestPayload.supported_features().items() if not ok}
        self.assertEqual(unsupported, {"alternatives", "spoofed_to_header", "multiple_from_emails"})
        for method in OPTIONAL_FEATURES.values():
            self.assertTrue(hasattr(BasePayload, method), method)


class RecipientStatusTests(SimpleTestCase):
    def setUp(self):
        MinimalEmailBackend.sent_payloads = []

    def send(self, recipient_statuses, **settings_kwargs):
        connection = get_connection(
            MINIMAL_BACKEND, recipient_statuses=recipient_statuses, **settings_kwargs
        )
        message = EmailMessage(
            "S", "B", to=["a@example.com", "B <b@example.com>"], cc=["c@example.com"]
        )
        connection.send_messages([message])
        return message

    def test_all_refused_raises(self):
        statuses = {
            "a@example.com": "rejected",
            "b@example.com": "invalid",
            "c@example.com": "rejected",
        }
        with self.assertRaises(AnymailRecipientsRefused) as cm:
            self.send(statuses)
        self.assertIn("b@example.com (invalid)", str(cm.exception))
        self.assertIn("ANYMAIL_IGNORE_RECIPIENT_STATUS", str(cm.exception))
        # status is still available on the message for inspection
        self.assertEqual(cm.exception.email_message.anymail_status.status, {"rejected", "invalid"})

    def test_some_refused_does_not_raise(self):
        message = self.send({"a@example.com": "rejected", "b@example.com": "queued"})
        status = message.anymail_status
        self.assertEqual(status.status, {"rejected", "queued"})
        self.assertEqual(status.recipients["a@example.com"].status, "rejected")
        self.assertEqual(status.recipients["c@example.com"].status, "queued")
        # different ids per recipient -> message_id is the set of them
        self.assertEqual(
            status.message_id,
            {"minimal-1-a@example.com", "minimal-1-b@example.com", "minimal-1-c@example.com"},
        )

    def test_ignore_recipient_status_setting(self):
        statuses = dict.fromkeys(["a@example.com", "b@example.com", "c@example.com"], "rejected")
        with override_settings(ANYMAIL={"IGNORE_RECIPIENT_STATUS": True}):
            message = self.send(statuses)
        self.assertEqual(message.anymail_status.status, {"rejected"})

    def test_failed_send_leaves_empty_status(self):
        message = AnymailMessage(to=["to@example.com"])
        self.assertIsNone(message.anymail_status.status)  # initialized before any send
        failing_post = mock.patch.object(
            MinimalEmailBackend, "post_to_esp", side_effect=AnymailError("x")
        )
        with failing_post, self.assertRaises(AnymailError):
            get_connection(MINIMAL_BACKEND).send_messages([message])
        self.assertIsNone(message.anymail_status.message_id)
        self.assertIsNone(message.anymail_status.status)
        self.assertEqual(message.anymail_status.recipients, {})


class FailSilentlyTests(SimpleTestCase):
    def test_fail_silently_suppresses_anymail_errors(self):
        messages = [
            EmailMessage("S", "B", to=["bad address"]),
            EmailMessage("S", "B", to=["ok@example.com"]),
        ]
        connection = get_connection(MINIMAL_BACKEND, fail_silently=True)
        self.assertEqual(connection.send_messages(messages), 1)

    def test_without_fail_silently_errors_propagate(self):
        connection = get_connection(MINIMAL_BACKEND)
        with self.assertRaises(AnymailInvalidAddress):
            connection.send_messages([EmailMessage("S", "B", to=["bad address"])])

    def test_send_messages_counts_and_empty_list(self):
        connection = get_connection(MINIMAL_BACKEND)
        self.assertEqual(connection.send_messages([]), 0)
        messages = [EmailMessage("S", "B", to=[f"{n}@example.com"]) for n in range(3)]
        self.assertEqual(connection.send_messages(messages), 3)

    def test_non_anymail_errors_are_not_swallowed(self):
        connection = get_connection(MINIMAL_BACKEND, fail_silently=True)
        buggy_post = mock.patch.object(
            MinimalEmailBackend, "post_to_esp", side_effect=KeyError("bug")
        )
        with buggy_post, self.assertRaises(KeyError):
            connection.send_messages([EmailMessage("S", "B", to=["a@example.com"])])


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class SerializationTests(SimpleTestCase):
    def test_unserializable_metadata_names_the_field(self):
        message = AnymailMessage(to=["to@example.com"], metadata={"total": Decimal("19.99")})
        with self.assertRaises(AnymailSerializationError) as cm:
            message.send()
        error = str(cm.exception)
        self.assertIn("metadata['total']", error)
        self.assertIn("Decimal", error)
        self.assertIn("Test", error)  # the ESP name
        self.assertIsInstance(cm.exception, TypeError)

    def test_unserializable_merge_data_names_recipient_and_key(self):
        message = AnymailMessage(
            to=["to@example.com"],
            merge_data={"to@example.com": {"SHIP_DATE": date(2015, 11, 18)}},
        )
        with self.assertRaisesMessage(
            AnymailSerializationError, "merge_data['to@example.com']['SHIP_DATE']"
        ):
            message.send()

    def test_unserializable_merge_global_data_and_merge_metadata(self):
        for attr, value, path in [
            ("merge_global_data", {"PRODUCT": object()}, "merge_global_data['PRODUCT']"),
            (
                "merge_metadata",
                {"a@example.com": {"n": {1, 2}}},
                "merge_metadata['a@example.com']['n']",
            ),
            ("metadata", {"nan": float("nan")}, "metadata['nan']"),
        ]:
            with self.subTest(attr=attr):
                message = AnymailMessage(to=["to@example.com"], **{attr: value})
                with self.assertRaisesMessage(AnymailSerializationError, path):
                    message.send()

    def test_empty_merge_data_still_requests_batch_send(self):
        AnymailMessage(to=["a@example.com", "b@example.com"], merge_data={}).send()
        self.assertEqual(sent_params()["merge_data"], {})


@override_settings(EMAIL_BACKEND=TEST_BACKEND, TIME_ZONE="America/Los_Angeles", USE_TZ=True)
class SendAtTests(SimpleTestCase):
    def send_at(self, value):
        AnymailMessage(to=["to@example.com"], send_at=value).send()
        return sent_params()["send_at"]

    def test_aware_datetime_kept(self):
        value = datetime(2030, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
        self.assertEqual(self.send_at(value), value)

    def test_naive_datetime_in_current_timezone(self):
        result = self.send_at(datetime(2030, 7, 4, 12, 0, 0))
        self.assertEqual(
            result, datetime(2030, 7, 4, 12, 0, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
        )
        self.assertEqual(result.utcoffset(), timedelta(hours=-7))  # PDT

    def test_date_is_midnight_in_current_timezone(self):
        result = self.send_at(date(2030, 1, 15))
        self.assertEqual(result, datetime(2030, 1, 15, 8, 0, 0, tzinfo=UTC))

    def test_posix_timestamps(self):
        self.assertEqual(self.send_at(1900000000), datetime(2030, 3, 17, 17, 46, 40, tzinfo=UTC))
        self.assertEqual(
            self.send_at(1900000000.5), datetime(2030, 3, 17, 17, 46, 40, 500000, tzinfo=UTC)
        )

    def test_string_passed_through_for_esps_that_take_one(self):
        # As 6.1 did: the user formats it for their ESP's API
        self.assertEqual(self.send_at("2030-03-04 05:06:07"), "2030-03-04 05:06:07")
        self.assertEqual(self.send_at(gettext_lazy("tomorrow")), "tomorrow")

    def test_invalid_type_refused(self):
        with self.assertRaisesMessage(TypeError, "send_at must be a datetime"):
            self.send_at(["2030-01-01"])


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class TestBackendTests(SimpleTestCase):
    def test_unique_message_id_per_message(self):
        messages = [AnymailMessage(to=["to@example.com"]) for _ in range(3)]
        get_connection().send_messages(messages)
        ids = {message.anymail_status.message_id for message in messages}
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(mail.outbox), 3)
        self.assertEqual(messages[0].anymail_status.recipients["to@example.com"].status, "sent")

    def test_spec_example_test_case_pattern(self):
        message = AnymailMessage(to=["user@example.com"], tags=["confirmation"])
        message.track_clicks = True
        message.send()
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["user@example.com"])
        self.assertEqual(mail.outbox[0].tags, ["confirmation"])
        self.assertTrue(mail.outbox[0].anymail_send_params["track_clicks"])

    def test_pickled_message_sends_the_same(self):
        """django-mailer and similar queues pickle messages before sending them."""
        message = AnymailMessage(
            "S", "B", "from@example.com", ["to@example.com"], tags=["queued"], metadata={"a": "1"}
        )
        attach_inline_image(message, PNG, "logo.png")
        restored = pickle.loads(pickle.dumps(message))
        restored.send()
        self.assertEqual(sent_params()["tags"], ["queued"])
        self.assertEqual(sent_params()["metadata"], {"a": "1"})
        self.assertTrue(sent_params()["attachments"][0].inline)
        self.assertEqual(restored.anymail_status.status, {"sent"})

    def test_no_recipients_sends_nothing(self):
        self.assertEqual(get_connection().send_messages([EmailMessage("S", "B")]), 0)
        self.assertEqual(mail.outbox, [])


class DeepMergeTests(SimpleTestCase):
    def test_nested_dicts_merge_and_overrides_win(self):
        base = {"a": 1, "nested": {"x": 1, "y": {"deep": 1}}, "list": [1]}
        overrides = {"nested": {"y": {"deeper": 2}, "z": 3}, "list": [2], "a": None}
        self.assertEqual(
            deep_merge(base, overrides),
            {"a": None, "nested": {"x": 1, "y": {"deep": 1, "deeper": 2}, "z": 3}, "list": [2]},
        )

    def test_neither_argument_is_modified_or_shared(self):
        base = {"nested": {"x": 1}}
        overrides = {"nested": {"y": 2}, "new": {"z": 3}}
        merged = deep_merge(base, overrides)
        merged["nested"]["x"] = "changed"
        merged["new"]["z"] = "changed"
        self.assertEqual(base, {"nested": {"x": 1}})
        self.assertEqual(overrides, {"nested": {"y": 2}, "new": {"z": 3}})

    def test_dict_replaces_non_dict(self):
        self.assertEqual(deep_merge({"k": "text"}, {"k": {"a": 1}}), {"k": {"a": 1}})


class OneByOnePayload(BasePayload):
    """A 6.1-style custom payload: overrides only the lowest hook of each chain."""

    def init_payload(self):
        self.calls = []

    def set_from_email(self, email):
        self.calls.append(("from", email.addr_spec))

    def add_recipient(self, recipient_type, email):
        self.calls.append((recipient_type, email.addr_spec))

    def set_subject(self, subject):
        self.calls.append(("subject", subject))

    def set_text_body(self, body):
        self.calls.append(("text", body))

    def set_html_body(self, body):
        self.calls.append(("html", body))

    def add_attachment(self, attachment):
        self.calls.append(("attachment", attachment.name))


class ListPayload(OneByOnePayload):
    """Overrides the upper hooks instead, as a batch-style API would."""

    def set_to(self, emails):
        self.calls.append(("set_to", [email.addr_spec for email in emails]))

    def set_attachments(self, attachments):
        self.calls.append(("set_attachments", [a.name for a in attachments]))

    def set_alternatives(self, alternatives):
        self.calls.append(("set_alternatives", alternatives))


class HookChainTests(SimpleTestCase):
    """Custom backends written for 6.1 override whichever level of each hook chain suits them."""

    def payload(self, payload_class, message, defaults=None):
        backend = get_connection(TEST_BACKEND, ignore_unsupported_features=True)
        return payload_class(message, defaults or {}, backend)

    def message(self):
        message = EmailMultiAlternatives(
            "S", "text", "from@example.com", ["a@example.com", "b@example.com"], cc=["c@ex.com"]
        )
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach("one.txt", "1", "text/plain")
        message.attach("two.txt", "2", "text/plain")
        return message

    def test_add_recipient_called_once_per_address(self):
        payload = self.payload(OneByOnePayload, self.message())
        self.assertEqual(
            payload.calls,
            [
                ("from", "from@example.com"),
                ("to", "a@example.com"),
                ("to", "b@example.com"),
                ("cc", "c@ex.com"),
                ("subject", "S"),
                ("text", "text"),
                ("html", "<p>html</p>"),  # set_alternatives sends text/html to set_html_body
                ("attachment", "one.txt"),
                ("attachment", "two.txt"),
            ],
        )

    def test_upper_hooks_get_whole_lists(self):
        payload = self.payload(ListPayload, self.message())
        self.assertIn(("set_to", ["a@example.com", "b@example.com"]), payload.calls)
        self.assertIn(("cc", "c@ex.com"), payload.calls)  # set_cc still goes one by one
        self.assertIn(("set_alternatives", [("<p>html</p>", "text/html")]), payload.calls)
        self.assertIn(("set_attachments", ["one.txt", "two.txt"]), payload.calls)
        self.assertNotIn(("html", "<p>html</p>"), payload.calls)
        features = ListPayload.supported_features()
        self.assertTrue(features["attachments"])
        self.assertTrue(features["alternatives"])
        self.assertFalse(OneByOnePayload.supported_features()["alternatives"])

    def test_other_alternatives_go_to_add_alternative(self):
        message = self.message()
        message.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "does not support alternative part with type 'text/calendar'"
        ):
            OneByOnePayload(message, {}, get_connection(TEST_BACKEND))

    def test_is_batch(self):
        message = AnymailMessage(to=["a@example.com"])
        self.assertFalse(self.payload(OneByOnePayload, message).is_batch())
        message.merge_data = {}
        self.assertTrue(self.payload(OneByOnePayload, message).is_batch())
        message = AnymailMessage(to=["a@example.com"], merge_metadata={"a@example.com": {}})
        self.assertTrue(self.payload(OneByOnePayload, message).is_batch())
        plain = AnymailMessage(to=["a@example.com"])
        self.assertTrue(self.payload(OneByOnePayload, plain, {"merge_data": {}}).is_batch())


@override_settings(EMAIL_BACKEND=TEST_BACKEND)
class FromEmailAndLazyAttachmentTests(SimpleTestCase):
    def test_blank_from_email_refused(self):
        for from_email in ["", " ", " , "]:
            with self.subTest(from_email=from_email):
                message = EmailMessage("S", "B", to=["to@example.com"])
                message.from_email = from_email  # the constructor would use DEFAULT_FROM_EMAIL
                with self.assertRaisesMessage(AnymailInvalidAddress, "`from_email`"):
                    message.send()
        self.assertEqual(mail.outbox, [])

    def test_none_from_email_sends_no_from(self):
        # E.g., ESP templates that have their own sender (Django uses DEFAULT_FROM_EMAIL
        # when None is passed to the constructor, so this is set afterwards)
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.from_email = None
        message.send()
        self.assertNotIn("from", sent_params())

    def test_lazy_attachment_name_content_and_mimetype(self):
        message = EmailMessage("S", "B", to=["to@example.com"])
        message.attach(
            gettext_lazy("Invoice.txt"), gettext_lazy("Amount due"), gettext_lazy("text/plain")
        )
        message.send()
        (attachment,) = sent_params()["attachments"]
        self.assertEqual(attachment.name, "Invoice.txt")
        self.assertIs(type(attachment.name), str)
        self.assertEqual(attachment.content, b"Amount due")
        self.assertEqual(attachment.mimetype, "text/plain")
        self.assertIs(type(attachment.mimetype), str)


class TestBackendParamsTests(SimpleTestCase):
    """The test backend records what 6.1's did, under the same keys."""

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_params_keys_and_types(self):
        message = AnymailMessage(
            subject="Subject",
            body="Text",
            from_email="Sender <from@example.com>",
            to=["To <to@example.com>"],
            cc=["cc@example.com"],
            bcc=["bcc@example.com"],
            reply_to=["reply@example.com"],
            headers={"X-Custom": "1"},
            envelope_sender="Bounces <bounce@example.com>",
            metadata={"order": 12},
            tags=["tag"],
            track_clicks=True,
            track_opens=False,
            send_at="2030-01-01 10:00",
            template_id="welcome",
            merge_data={"to@example.com": {"name": "To"}},
            merge_global_data={"site": "Example"},
            merge_metadata={"to@example.com": {"n": 1}},
        )
        message.attach_alternative("<p>html</p>", "text/html")
        message.attach("a.txt", "A", "text/plain")
        message.send()
        params = message.anymail_test_params
        self.assertIs(message.anymail_send_params, params)
        self.assertEqual(params["from"], EmailAddress("Sender", "from@example.com"))
        self.assertEqual(params["to"], [EmailAddress("To", "to@example.com")])
        self.assertEqual(params["cc"], [EmailAddress("", "cc@example.com")])
        self.assertEqual(params["bcc"], [EmailAddress("", "bcc@example.com")])
        self.assertEqual(params["reply_to"], [EmailAddress("", "reply@example.com")])
        self.assertEqual(params["envelope_sender"], "bounce@example.com")
        (attachment,) = params.pop("attachments")
        self.assertEqual((attachment.name, attachment.content), ("a.txt", b"A"))
        for key in ("from", "to", "cc", "bcc", "reply_to"):
            params.pop(key)
        self.assertEqual(
            params,
            {
                "subject": "Subject",
                "text_body": "Text",
                "html_body": "<p>html</p>",
                "extra_headers": {"X-Custom": "1"},
                "envelope_sender": "bounce@example.com",
                "metadata": {"order": 12},
                "tags": ["tag"],
                "track_clicks": True,
                "track_opens": False,
                "send_at": "2030-01-01 10:00",
                "template_id": "welcome",
                "merge_data": {"to@example.com": {"name": "To"}},
                "merge_global_data": {"site": "Example"},
                "merge_metadata": {"to@example.com": {"n": 1}},
            },
        )

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_esp_extra_is_merged_into_params(self):
        message = AnymailMessage(to=["to@example.com"], tags=["a"], esp_extra={"tags": ["b"]})
        message.esp_extra["custom_option"] = True
        message.send()
        self.assertEqual(sent_params()["tags"], ["b"])
        self.assertIs(sent_params()["custom_option"], True)

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_message_id_is_index_in_outbox(self):
        messages = [AnymailMessage(to=["a@example.com", "b@example.com"]) for _ in range(3)]
        get_connection().send_messages(messages)
        self.assertEqual([m.anymail_status.message_id for m in messages], [0, 1, 2])
        for index, message in enumerate(messages):
            self.assertIs(mail.outbox[index], message)
            self.assertEqual(
                {r.message_id for r in message.anymail_status.recipients.values()}, {index}
            )

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_simulated_api_error_is_raised(self):
        message = AnymailMessage(to=["to@example.com"])
        message.anymail_test_response = AnymailAPIError("ESP is down", status_code=503)
        with self.assertRaises(AnymailAPIError) as cm:
            message.send()
        self.assertIs(cm.exception, message.anymail_test_response)
        self.assertEqual(len(mail.outbox), 1)  # it reached the (test) ESP
        quiet = get_connection(fail_silently=True)
        self.assertEqual(quiet.send_messages([message]), 0)
        self.assertEqual(len(mail.outbox), 2)  # attempted again, failed silently

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_simulated_recipient_status(self):
        message = AnymailMessage(to=["a@example.com", "b@example.com"])
        message.anymail_test_response = {
            "recipient_status": {
                "a@example.com": "queued",
                "b@example.com": AnymailRecipientStatus("esp-id-b", "rejected"),
            }
        }
        message.send()
        status = message.anymail_status
        self.assertEqual(status.status, {"queued", "rejected"})
        self.assertEqual(status.recipients["a@example.com"].message_id, 0)
        self.assertEqual(status.recipients["b@example.com"].message_id, "esp-id-b")
        self.assertEqual(status.recipients["b@example.com"].status, "rejected")

        refused = AnymailMessage(to=["a@example.com"])
        refused.anymail_test_response = {"recipient_status": {"a@example.com": "invalid"}}
        with self.assertRaises(AnymailRecipientsRefused):
            refused.send()

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_unparsable_simulated_response(self):
        message = AnymailMessage(to=["a@example.com"])
        message.anymail_test_response = {"status": "sent"}
        with self.assertRaisesMessage(AnymailAPIError, "Unparsable test response"):
            message.send()

    def test_payload_class_argument(self):
        connection = get_connection(TEST_BACKEND, payload_class=OneByOnePayload)
        message = EmailMessage("S", "B", "f@example.com", ["to@example.com"], connection=connection)
        message.send()
        self.assertEqual(message.anymail_status.status, {"sent"})
        self.assertEqual(mail.outbox[-1].anymail_status.recipients["to@example.com"].message_id, 0)

    @override_settings(EMAIL_BACKEND=TEST_BACKEND)
    def test_refuses_spoofed_to_and_several_from_like_an_esp_without_them(self):
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "Test does not support a spoofed"):
            EmailMessage("S", "B", to=["a@example.com"], headers={"To": "x@example.com"}).send()
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "multiple from emails"):
            EmailMessage("S", "B", "a@example.com, b@example.com", ["to@example.com"]).send()


class UnknownBackendOptionTests(SimpleTestCase):
    def test_unknown_keyword_is_a_type_error_naming_it(self):
        from anymail.backends.test import EmailBackend

        with self.assertRaisesMessage(
            TypeError,
            "anymail.backends.test.EmailBackend() got unexpected keyword argument(s) "
            "'send_default' (did you mean 'send_defaults'?), 'zzz'",
        ):
            EmailBackend(send_default={"tags": ["x"]}, zzz=1)

    def test_djangos_own_keywords_are_accepted(self):
        from anymail.backends.test import EmailBackend

        # send_mail(auth_user=..., auth_password=...) passes these to get_connection()
        backend = EmailBackend(username="u", password="p", fail_silently=True)
        self.assertTrue(backend.fail_silently)

    def test_esp_settings_given_as_keywords_are_known(self):
        connection = get_connection(
            "anymail.backends.mailgun.EmailBackend", api_key="k", sender_domain="mg.example.com"
        )
        self.assertEqual(connection.sender_domain, "mg.example.com")
        with self.assertRaisesMessage(TypeError, "'sender_domian' (did you mean 'sender_domain'?)"):
            get_connection("anymail.backends.mailgun.EmailBackend", api_key="k", sender_domian="x")
