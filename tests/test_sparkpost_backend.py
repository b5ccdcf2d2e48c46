"""SparkPost backend: the exact transmissions.send() calls it makes, and how it reads the results.

SparkPost is faked at the sparkpost client (python-sparkpost's ``Transmissions.send``) for the
mapping of each Anymail feature, and at the HTTP layer under the client (requests, and urllib3's
connection pool) for the wire format, errors, and connection reuse. Responses are shaped as
SparkPost's Transmissions API docs show them.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
from base64 import b64encode
from contextlib import redirect_stdout
from datetime import date, datetime, timezone
from email.mime.base import MIMEBase
from pathlib import Path
from typing import Any
from unittest import SkipTest, mock

import requests
import urllib3
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail
from django.test import SimpleTestCase, override_settings
from django.utils.translation import gettext_lazy

try:
    from sparkpost.exceptions import SparkPostAPIException, SparkPostException
    from sparkpost.transmissions import Transmissions
except ImportError:  # the sparkpost extra isn't installed (tox's noextras env)
    raise SkipTest("sparkpost is not installed: pip install django-anymail[sparkpost]") from None

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from anymail.message import AnymailMessage, attach_inline_image

from .fakes import RequestsFakeTestCase, make_response

SPARKPOST_BACKEND = "anymail.backends.sparkpost.EmailBackend"
API_KEY = "test-sparkpost-api-key"
TRANSMISSIONS_URL = "https://api.sparkpost.com/api/v1/transmissions"
TRANSMISSION_ID = "11668787484950529"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A 1x1 transparent PNG
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def transmission_results(accepted: int, rejected: int = 0, tx_id: str = TRANSMISSION_ID) -> dict:
    """The "results" of a POST /transmissions, which is what transmissions.send() returns."""
    return {
        "total_rejected_recipients": rejected,
        "total_accepted_recipients": accepted,
        "id": tx_id,
    }


def sparkpost_error_response(status: int = 400) -> requests.Response:
    """A SparkPost API error response (Transmissions API docs' "Invalid domain" example)."""
    return make_response(
        status,
        json_data={
            "errors": [
                {
                    "description": "Unconfigured or unverified sending domain.",
                    "code": "7001",
                    "message": "Invalid domain",
                }
            ]
        },
        url=TRANSMISSIONS_URL,
    )


@override_settings(EMAIL_BACKEND=SPARKPOST_BACKEND, ANYMAIL={"SPARKPOST_API_KEY": API_KEY})
class SparkPostClientTestCase(SimpleTestCase):
    """Fakes SparkPost at the client's Transmissions.send (python-sparkpost's own method).

    By default every recipient is accepted; set ``self.send_results`` (or a side_effect on
    ``self.mock_send``) to answer otherwise.
    """

    def setUp(self) -> None:
        super().setUp()
        self.send_results: dict[str, Any] | None = None
        patcher = mock.patch.object(Transmissions, "send", autospec=True)
        self.mock_send = patcher.start()
        self.addCleanup(patcher.stop)
        self.mock_send.side_effect = self._send

    def _send(self, transmissions: Transmissions, **kwargs: Any) -> dict[str, Any]:
        if self.send_results is not None:
            return self.send_results
        recipients = kwargs.get("recipients")
        return transmission_results(len(recipients) if isinstance(recipients, list) else 1)

    def send_kwargs(self, index: int = -1) -> dict[str, Any]:
        """The keyword arguments of a transmissions.send() call."""
        if not self.mock_send.call_args_list:
            raise AssertionError("transmissions.send() was not called")
        call = self.mock_send.call_args_list[index]
        self.assertEqual(len(call.args), 1, "send() takes only keyword arguments")
        return call.kwargs

    def send_transmissions(self, index: int = -1) -> Transmissions:
        """The client's Transmissions resource that send() was called on."""
        return self.mock_send.call_args_list[index].args[0]


class SparkPostBackendStandardEmailTests(SparkPostClientTestCase):
    """Django's own EmailMessage features."""

    def test_send_mail(self):
        sent = send_mail(
            "Subject here", "Here is the message.", "from@sender.example.com", ["to@example.com"]
        )
        self.assertEqual(sent, 1)
        self.assertEqual(
            self.send_kwargs(),
            {
                "from_email": "from@sender.example.com",
                "recipients": [{"address": {"email": "to@example.com"}}],
                "subject": "Subject here",
                "text": "Here is the message.",
            },
        )
        transmissions = self.send_transmissions()
        self.assertEqual(transmissions.api_key, API_KEY)
        self.assertEqual(transmissions.uri, TRANSMISSIONS_URL)

    def test_name_addr_and_multiple_recipients(self):
        """Everyone sees the same To and Cc headers (SparkPost's "CC and BCC" guide)."""
        msg = EmailMessage(
            "Subject",
            "Body",
            '"Widgets, Inc." <from@example.com>',
            ["Recipient #1 <to1@example.com>", "to2@example.com"],
            cc=["Carbon Copy <cc1@example.com>", "cc2@example.com"],
            bcc=["Blind Copy <bcc1@example.com>", "bcc2@example.com"],
        )
        msg.send()
        to_header = "Recipient #1 <to1@example.com>, to2@example.com"
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["from_email"], '"Widgets, Inc." <from@example.com>')
        self.assertEqual(
            kwargs["recipients"],
            [
                {
                    "address": {
                        "email": "to1@example.com",
                        "name": "Recipient #1",
                        "header_to": to_header,
                    }
                },
                {"address": {"email": "to2@example.com", "header_to": to_header}},
                {
                    "address": {
                        "email": "cc1@example.com",
                        "name": "Carbon Copy",
                        "header_to": to_header,
                    }
                },
                {"address": {"email": "cc2@example.com", "header_to": to_header}},
                {
                    "address": {
                        "email": "bcc1@example.com",
                        "name": "Blind Copy",
                        "header_to": to_header,
                    }
                },
                {"address": {"email": "bcc2@example.com", "header_to": to_header}},
            ],
        )
        self.assertEqual(
            kwargs["custom_headers"], {"CC": "Carbon Copy <cc1@example.com>, cc2@example.com"}
        )
        self.assertEqual(len(msg.anymail_status.recipients), 6)

    def test_bcc_only(self):
        """Without To addresses, a bcc recipient's To header is just its own address."""
        msg = EmailMessage("Subject", "Body", "from@example.com", bcc=["bcc@example.com"])
        msg.send()
        self.assertEqual(
            self.send_kwargs()["recipients"], [{"address": {"email": "bcc@example.com"}}]
        )
        self.assertNotIn("custom_headers", self.send_kwargs())

    def test_unicode_names_and_idn(self):
        # Header strings (from_email, reply_to, header_to, the CC header) are encoded as
        # Django's SMTP backend writes headers; recipient "address" objects keep the Unicode
        msg = EmailMessage(
            "Sübject",
            "Bödy",
            "Frœm Nåme <from@exämple.com>",
            ["Tö Nåme <to@exämple.com>", "to2@exämple.com"],
            cc=["Çc <cc@exämple.com>"],
            reply_to=["Rèply <reply@exämple.com>"],
        )
        msg.send()
        to_header = "=?utf-8?b?VMO2IE7DpW1l?= <to@xn--exmple-cua.com>, to2@xn--exmple-cua.com"
        self.assertEqual(
            self.send_kwargs(),
            {
                "from_email": "=?utf-8?b?RnLFk20gTsOlbWU=?= <from@xn--exmple-cua.com>",
                "subject": "Sübject",
                "text": "Bödy",
                "reply_to": "=?utf-8?b?UsOocGx5?= <reply@xn--exmple-cua.com>",
                "recipients": [
                    {
                        "address": {
                            "email": "to@exämple.com",
                            "name": "Tö Nåme",
                            "header_to": to_header,
                        }
                    },
                    {"address": {"email": "to2@exämple.com", "header_to": to_header}},
                    {
                        "address": {
                            "email": "cc@exämple.com",
                            "name": "Çc",
                            "header_to": to_header,
                        }
                    },
                ],
                "custom_headers": {"CC": "=?utf-8?b?w4dj?= <cc@xn--exmple-cua.com>"},
            },
        )

    def test_html_and_text_alternative(self):
        msg = EmailMultiAlternatives("Subject", "Text body", "from@example.com", ["to@example.com"])
        msg.attach_alternative("<p>HTML body</p>", "text/html")
        msg.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["text"], "Text body")
        self.assertEqual(kwargs["html"], "<p>HTML body</p>")

    def test_html_only(self):
        msg = EmailMessage("Subject", "<p>HTML only</p>", "from@example.com", ["to@example.com"])
        msg.content_subtype = "html"
        msg.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["html"], "<p>HTML only</p>")
        self.assertNotIn("text", kwargs)

    def test_other_alternatives_refused(self):
        msg = EmailMultiAlternatives("Subject", "Text", "from@example.com", ["to@example.com"])
        msg.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "SparkPost does not support"):
            msg.send()
        self.mock_send.assert_not_called()

    def test_lazy_subject(self):
        msg = EmailMessage(gettext_lazy("Lazy subject"), "Body", "from@example.com", ["t@e.com"])
        msg.send()
        self.assertEqual(self.send_kwargs()["subject"], "Lazy subject")
        self.assertIs(type(self.send_kwargs()["subject"]), str)

    def test_reply_to_and_extra_headers(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["Reply Here <reply@example.com>", "reply2@example.com"],
            headers={"X-Custom": "custom value", "List-Unsubscribe": "<mailto:unsub@example.com>"},
        )
        msg.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["reply_to"], "Reply Here <reply@example.com>, reply2@example.com")
        self.assertEqual(
            kwargs["custom_headers"],
            {"X-Custom": "custom value", "List-Unsubscribe": "<mailto:unsub@example.com>"},
        )

    def test_reply_to_header_overrides_reply_to(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            reply_to=["ignored@example.com"],
            headers={"Reply-To": "header@example.com"},
        )
        msg.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["reply_to"], "header@example.com")
        self.assertNotIn("custom_headers", kwargs)

    def test_from_header_becomes_from_and_envelope_sender(self):
        """As Django's SMTP backend: the header is shown, from_email is the envelope sender."""
        msg = EmailMessage(
            "Subject",
            "Body",
            "envelope@bounces.example.com",
            ["to@example.com"],
            headers={"From": "Shown Sender <shown@example.com>"},
        )
        msg.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["from_email"], "Shown Sender <shown@example.com>")
        self.assertEqual(kwargs["return_path"], "envelope@bounces.example.com")
        self.assertNotIn("custom_headers", kwargs)

    def test_spoofed_to_header_uses_header_to(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["actual@example.com", "other@example.com"],
            headers={"To": "Shown Recipient <shown@example.com>"},
        )
        msg.send()
        self.assertEqual(
            self.send_kwargs()["recipients"],
            [
                {
                    "address": {
                        "email": "actual@example.com",
                        "header_to": "Shown Recipient <shown@example.com>",
                    }
                },
                {
                    "address": {
                        "email": "other@example.com",
                        "header_to": "Shown Recipient <shown@example.com>",
                    }
                },
            ],
        )

    def test_explicit_cc_header_is_kept(self):
        msg = EmailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            cc=["cc@example.com"],
            headers={"Cc": "Everyone <list@example.com>"},
        )
        msg.send()
        self.assertEqual(
            self.send_kwargs()["custom_headers"], {"Cc": "Everyone <list@example.com>"}
        )

    def test_attachments(self):
        msg = EmailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        msg.attach("test.txt", "Text attachment ✓", "text/plain")
        msg.attach("data.bin", b"\x00\x01\xff", "application/octet-stream")
        pdf = MIMEBase("application", "pdf")
        pdf.set_payload(b"%PDF-1.4 fake")
        pdf.add_header("Content-Disposition", "attachment", filename="report.pdf")
        msg.attach(pdf)
        msg.send()
        self.assertEqual(
            self.send_kwargs()["attachments"],
            [
                {
                    "name": "test.txt",
                    "type": "text/plain",
                    "data": b64encode("Text attachment ✓".encode()).decode("ascii"),
                },
                {"name": "data.bin", "type": "application/octet-stream", "data": "AAH/"},
                {
                    "name": "report.pdf",
                    "type": "application/pdf",
                    "data": b64encode(b"%PDF-1.4 fake").decode("ascii"),
                },
            ],
        )
        self.assertNotIn("inline_images", self.send_kwargs())

    def test_inline_images(self):
        msg = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"])
        cid = attach_inline_image(msg, PNG_BYTES, filename="logo.png")
        msg.attach_alternative(f'<img src="cid:{cid}">', "text/html")
        msg.send()
        kwargs = self.send_kwargs()
        self.assertTrue(cid.endswith("@inline"))
        # SparkPost's inline image "name" is its Content-ID
        self.assertEqual(
            kwargs["inline_images"],
            [{"name": cid, "type": "image/png", "data": b64encode(PNG_BYTES).decode("ascii")}],
        )
        self.assertNotIn("attachments", kwargs)

    def test_multiple_from_emails(self):
        msg = EmailMessage(
            "Subject", "Body", 'First <from1@example.com>, "Second, Jr." <from2@example.com>'
        )
        msg.to = ["to@example.com"]
        msg.send()
        self.assertEqual(
            self.send_kwargs()["from_email"],
            'First <from1@example.com>, "Second, Jr." <from2@example.com>',
        )

    def test_invalid_address_refused_before_sending(self):
        from anymail.exceptions import AnymailInvalidAddress

        msg = EmailMessage("Subject", "Body", "from@example.com", ["not an address"])
        with self.assertRaises(AnymailInvalidAddress):
            msg.send()
        self.mock_send.assert_not_called()

    def test_no_recipients_sends_nothing(self):
        self.assertEqual(send_mail("Subject", "Body", "from@example.com", []), 0)
        self.mock_send.assert_not_called()


class SparkPostBackendAnymailFeatureTests(SparkPostClientTestCase):
    """Anymail's additions (metadata, tags, send_at, templates, merge data, esp_extra)."""

    def setUp(self) -> None:
        super().setUp()
        self.message = AnymailMessage(
            "Subject", "Text Body", "from@example.com", ["to@example.com"]
        )

    def test_envelope_sender(self):
        self.message.envelope_sender = "Bounce Handler <bounce-handler@bounces.example.com>"
        self.message.send()
        self.assertEqual(self.send_kwargs()["return_path"], "bounce-handler@bounces.example.com")

    def test_metadata(self):
        self.message.metadata = {"user_id": "12345", "items": 6}
        self.message.send()
        self.assertEqual(self.send_kwargs()["metadata"], {"user_id": "12345", "items": 6})

    def test_send_at(self):
        self.message.send_at = datetime(2022, 10, 11, 12, 13, 14, 567, tzinfo=timezone.utc)
        self.message.send()
        self.assertEqual(self.send_kwargs()["start_time"], "2022-10-11T12:13:14+00:00")

    def test_send_at_naive_and_date_use_current_timezone(self):
        # runtests' TIME_ZONE is America/Los_Angeles (PDT in July, PST in January)
        self.message.send_at = datetime(2022, 7, 1, 9, 30, 0)
        self.message.send()
        self.assertEqual(self.send_kwargs()["start_time"], "2022-07-01T09:30:00-07:00")
        self.message.send_at = date(2023, 1, 2)
        self.message.send()
        self.assertEqual(self.send_kwargs()["start_time"], "2023-01-02T00:00:00-08:00")

    def test_send_at_string_sent_as_given(self):
        # SparkPost's options.start_time is an ISO string: a string send_at goes as given
        self.message.send_at = "2022-10-11T12:13:14.567-07:00"
        self.message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "from_email": "from@example.com",
                "recipients": [{"address": {"email": "to@example.com"}}],
                "subject": "Subject",
                "text": "Text Body",
                "start_time": "2022-10-11T12:13:14.567-07:00",
            },
        )

    def test_send_at_timestamp(self):
        self.message.send_at = 1651820889  # 2022-05-06T07:08:09Z
        self.message.send()
        self.assertEqual(self.send_kwargs()["start_time"], "2022-05-06T07:08:09+00:00")

    def test_tag_is_campaign(self):
        self.message.tags = ["receipt"]
        self.message.send()
        self.assertEqual(self.send_kwargs()["campaign"], "receipt")

    def test_multiple_tags_refused(self):
        self.message.tags = ["receipt", "repeat-customer"]
        with self.assertRaisesMessage(
            AnymailUnsupportedFeature, "SparkPost does not support multiple tags"
        ):
            self.message.send()
        self.mock_send.assert_not_called()

    @override_settings(ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True})
    def test_multiple_tags_ignored_uses_first(self):
        self.message.tags = ["receipt", "repeat-customer"]
        self.message.send()
        self.assertEqual(self.send_kwargs()["campaign"], "receipt")

    def test_tracking(self):
        self.message.track_opens = True
        self.message.track_clicks = False
        self.message.send()
        kwargs = self.send_kwargs()
        self.assertIs(kwargs["track_opens"], True)
        self.assertIs(kwargs["track_clicks"], False)

    def test_no_tracking_options_by_default(self):
        self.message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "from_email": "from@example.com",
                "recipients": [{"address": {"email": "to@example.com"}}],
                "subject": "Subject",
                "text": "Text Body",
            },
        )

    def test_on_the_fly_template_with_merge_data(self):
        """Merge fields right in the message; each To recipient gets its own message."""
        message = AnymailMessage(
            "Your order {{order_no}}",
            "Hi {{name}}, your order {{order_no}} ships {{ship_date}}",
            "shipping@example.com",
            ["alice@example.com", "Bob <bob@example.com>"],
            cc=["orders@example.com"],
        )
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {"ship_date": "May 15"}
        message.send()
        kwargs = self.send_kwargs()
        self.assertEqual(
            kwargs["recipients"],
            [
                {
                    "address": {"email": "alice@example.com"},
                    "substitution_data": {"name": "Alice", "order_no": "12345"},
                },
                {
                    "address": {"email": "bob@example.com", "name": "Bob"},
                    "substitution_data": {"name": "Bob", "order_no": "54321"},
                },
                {
                    # (a cc recipient still sees whom the message was to)
                    "address": {
                        "email": "orders@example.com",
                        "header_to": "alice@example.com, Bob <bob@example.com>",
                    }
                },
            ],
        )
        self.assertEqual(kwargs["substitution_data"], {"ship_date": "May 15"})
        self.assertEqual(kwargs["subject"], "Your order {{order_no}}")
        self.assertEqual(kwargs["custom_headers"], {"CC": "orders@example.com"})

    def test_spec_stored_template_example(self):
        """The SparkPost section's batch/template example, run as written."""
        message = EmailMessage(to=["alice@example.com", "Bob <bob@example.com>"])
        message.template_id = "11806290401558530"  # SparkPost id
        message.merge_data = {
            "alice@example.com": {"name": "Alice", "order_no": "12345"},
            "bob@example.com": {"name": "Bob", "order_no": "54321"},
        }
        message.merge_global_data = {
            "ship_date": "May 15",
            # Can use SparkPost's special "dynamic" keys for nested substitutions (see notes):
            "dynamic_html": {
                "status_html": "<a href='https://example.com/order/{{order_no}}'>Status</a>",
            },
            "dynamic_plain": {
                "status_plain": "Status: https://example.com/order/{{order_no}}",
            },
        }
        message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "template": "11806290401558530",
                "recipients": [
                    {
                        "address": {"email": "alice@example.com"},
                        "substitution_data": {"name": "Alice", "order_no": "12345"},
                    },
                    {
                        "address": {"email": "bob@example.com", "name": "Bob"},
                        "substitution_data": {"name": "Bob", "order_no": "54321"},
                    },
                ],
                "substitution_data": message.merge_global_data,
            },
        )
        self.assertEqual(message.anymail_status.status, {"queued"})
        self.assertEqual(message.anymail_status.message_id, TRANSMISSION_ID)

    def test_generic_stored_template_example(self):
        """The batch sending section's example: from_email is the template's, so not sent."""
        message = EmailMessage(
            subject=None,  # use the subject in our stored template
            from_email="marketing@example.com",
            to=["Wile E. <wile@example.com>", "rr@example.com"],
        )
        message.template_id = "after_sale_followup_offer"  # use this ESP stored template
        message.merge_data = {  # per-recipient data to merge into the template
            "wile@example.com": {"NAME": "Wile E.", "OFFER": "15% off anvils"},
            "rr@example.com": {"NAME": "Mr. Runner"},
        }
        message.merge_global_data = {  # merge data for all recipients
            "PARTNER": "Acme, Inc.",
            "OFFER": "5% off any Acme product",  # a default if OFFER missing for recipient
        }
        message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "template": "after_sale_followup_offer",
                "recipients": [
                    {
                        "address": {"email": "wile@example.com", "name": "Wile E."},
                        "substitution_data": {"NAME": "Wile E.", "OFFER": "15% off anvils"},
                    },
                    {
                        "address": {"email": "rr@example.com"},
                        "substitution_data": {"NAME": "Mr. Runner"},
                    },
                ],
                "substitution_data": {"PARTNER": "Acme, Inc.", "OFFER": "5% off any Acme product"},
            },
        )

    def test_template_refuses_content_sparkpost_would_ignore(self):
        cases = {
            "a subject": {"subject": "Not the template's"},
            "a text body": {"body": "Not the template's"},
            "reply_to": {"reply_to": ["reply@example.com"]},
            "extra_headers": {"extra_headers": {"X-Custom": "value"}},
            "cc recipients": {"cc": ["cc@example.com"]},
        }
        for feature, attrs in cases.items():
            with self.subTest(feature=feature):
                message = AnymailMessage(subject="", body="", to=["to@example.com"])
                message.template_id = "my-template"
                for attr, value in attrs.items():
                    setattr(message, attr, value)
                with self.assertRaisesMessage(
                    AnymailUnsupportedFeature,
                    f"SparkPost does not support {feature} with a stored template_id",
                ):
                    message.send()
        message = AnymailMessage(subject="", body="", to=["to@example.com"])
        message.template_id = "my-template"
        message.attach("file.txt", "content", "text/plain")
        with self.assertRaisesMessage(AnymailUnsupportedFeature, "attachments with a stored"):
            message.send()
        self.mock_send.assert_not_called()

    @override_settings(ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_UNSUPPORTED_FEATURES": True})
    def test_template_ignoring_unsupported_content_drops_it(self):
        message = AnymailMessage(
            "Subject",
            "Body",
            "from@example.com",
            ["to@example.com"],
            cc=["cc@example.com"],
            headers={"X-A": "b"},
        )
        message.template_id = 12345
        message.attach("file.txt", "content", "text/plain")
        message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "template": "12345",
                "recipients": [
                    {"address": {"email": "to@example.com"}},
                    {"address": {"email": "cc@example.com", "header_to": "to@example.com"}},
                ],
            },
        )

    def test_merge_metadata(self):
        self.message.to = ["alice@example.com", "Bob <bob@example.com>"]
        self.message.metadata = {"batch": "2024-05"}
        self.message.merge_metadata = {
            "alice@example.com": {"customer": 123, "order": "acme-zxyw"},
            "bob@example.com": {"customer": 45678},
        }
        self.message.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["metadata"], {"batch": "2024-05"})
        self.assertEqual(
            kwargs["recipients"],
            [
                {
                    "address": {"email": "alice@example.com"},
                    "metadata": {"customer": 123, "order": "acme-zxyw"},
                },
                {
                    "address": {"email": "bob@example.com", "name": "Bob"},
                    "metadata": {"customer": 45678},
                },
            ],
        )

    def test_empty_merge_data_is_still_a_batch(self):
        self.message.to = ["alice@example.com", "bob@example.com"]
        self.message.merge_data = {}
        self.message.send()
        # no header_to: each recipient sees only its own address
        self.assertEqual(
            self.send_kwargs()["recipients"],
            [
                {"address": {"email": "alice@example.com"}},
                {"address": {"email": "bob@example.com"}},
            ],
        )

    def test_esp_extra(self):
        """The SparkPost section's esp_extra example: extra transmissions.send() kwargs."""
        message = self.message
        message.tags = ["anymail-tag"]
        message.esp_extra = {
            "transactional": True,  # treat as transactional for unsubscribe and suppression
            "description": "Marketing test-run for new templates",
            "use_draft_template": True,
            "campaign": "overrides anymail-tag",
        }
        message.send()
        self.assertEqual(
            self.send_kwargs(),
            {
                "from_email": "from@example.com",
                "recipients": [{"address": {"email": "to@example.com"}}],
                "subject": "Subject",
                "text": "Text Body",
                "campaign": "overrides anymail-tag",
                "transactional": True,
                "description": "Marketing test-run for new templates",
                "use_draft_template": True,
            },
        )

    @override_settings(
        ANYMAIL={
            "SPARKPOST_API_KEY": API_KEY,
            "SEND_DEFAULTS": {"metadata": {"site": "main"}, "tags": ["default"]},
            "SPARKPOST_SEND_DEFAULTS": {"esp_extra": {"ip_pool": "transactional"}},
        }
    )
    def test_send_defaults(self):
        self.message.metadata = {"user": "a"}
        self.message.send()
        kwargs = self.send_kwargs()
        self.assertEqual(kwargs["metadata"], {"site": "main", "user": "a"})
        self.assertEqual(kwargs["campaign"], "default")
        self.assertEqual(kwargs["ip_pool"], "transactional")

    def test_esp_extra_must_be_a_json_dict(self):
        self.message.esp_extra = ["transactional"]
        with self.assertRaisesMessage(AnymailSerializationError, "must be a dict"):
            self.message.send()
        self.message.esp_extra = {"start_time": datetime(2022, 1, 1)}
        with self.assertRaisesMessage(AnymailSerializationError, "esp_extra['start_time']"):
            self.message.send()
        self.mock_send.assert_not_called()

    def test_unserializable_metadata(self):
        from decimal import Decimal

        self.message.metadata = {"price": Decimal("19.99")}
        with self.assertRaisesMessage(AnymailSerializationError, "Decimal"):
            self.message.send()
        self.mock_send.assert_not_called()


class SparkPostBackendRecipientsStatusTests(SparkPostClientTestCase):
    """anymail_status from SparkPost's {"id", "total_accepted_recipients", ...} results."""

    def test_all_accepted_are_queued(self):
        msg = EmailMessage("Subject", "Body", "from@example.com", ["to1@example.com"])
        msg.cc = ["cc@example.com"]
        msg.send()
        status = msg.anymail_status
        self.assertEqual(status.status, {"queued"})
        self.assertEqual(status.message_id, TRANSMISSION_ID)
        self.assertEqual(set(status.recipients), {"to1@example.com", "cc@example.com"})
        self.assertEqual(status.recipients["cc@example.com"].message_id, TRANSMISSION_ID)
        self.assertEqual(status.recipients["cc@example.com"].status, "queued")
        self.assertEqual(status.esp_response, transmission_results(2))

    def test_accepted_count_not_matching_recipients_is_unknown(self):
        """Nothing rejected, but fewer (or more) accepted than were sent: not all queued."""
        msg = EmailMessage("Subject", "Body", "from@example.com", ["a@example.com", "b@x.com"])
        msg.cc = ["c@example.com"]
        for accepted in (2, 4):
            with self.subTest(accepted=accepted):
                self.send_results = transmission_results(accepted, rejected=0)
                msg.send()
                self.assertEqual(msg.anymail_status.status, {"unknown"})
                self.assertEqual(
                    {
                        email: status.status
                        for email, status in msg.anymail_status.recipients.items()
                    },
                    {"a@example.com": "unknown", "b@x.com": "unknown", "c@example.com": "unknown"},
                )
                self.assertEqual(msg.anymail_status.message_id, TRANSMISSION_ID)

    def test_accepted_count_is_for_the_recipients_sent(self):
        """(esp_extra may replace the recipients Anymail would send)"""
        self.send_results = transmission_results(1, rejected=0)
        msg = AnymailMessage("Subject", "Body", "from@example.com", ["a@example.com", "b@x.com"])
        msg.esp_extra = {"recipients": [{"address": {"email": "only@example.com"}}]}
        msg.send()
        self.assertEqual(msg.anymail_status.status, {"queued"})

    def test_some_rejected_is_unknown(self):
        """SparkPost doesn't say which recipients it rejected."""
        self.send_results = {
            **transmission_results(1, rejected=1),
            "rcpt_to_errors": [
                {
                    "message": "required field is missing",
                    "description": "address.email is required for each recipient",
                    "code": "1400",
                }
            ],
        }
        msg = EmailMessage("Subject", "Body", "from@example.com", ["a@example.com", "b@x.com"])
        msg.send()
        self.assertEqual(msg.anymail_status.status, {"unknown"})
        self.assertEqual(msg.anymail_status.recipients["b@x.com"].status, "unknown")
        self.assertEqual(msg.anymail_status.message_id, TRANSMISSION_ID)

    def test_all_rejected_raises_recipients_refused(self):
        self.send_results = transmission_results(0, rejected=2)
        msg = EmailMessage("Subject", "Body", "from@example.com", ["a@example.com", "b@x.com"])
        with self.assertRaisesMessage(AnymailRecipientsRefused, "a@example.com (rejected)"):
            msg.send()
        self.assertEqual(msg.anymail_status.status, {"rejected"})

    @override_settings(ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "IGNORE_RECIPIENT_STATUS": True})
    def test_all_rejected_with_ignore_recipient_status(self):
        self.send_results = transmission_results(0, rejected=1)
        msg = EmailMessage("Subject", "Body", "from@example.com", ["a@example.com"])
        self.assertEqual(msg.send(), 1)
        self.assertEqual(msg.anymail_status.recipients["a@example.com"].status, "rejected")

    def test_invalid_response_is_api_error(self):
        for results in [{"id": TRANSMISSION_ID}, {"total_accepted_recipients": 1}, True, []]:
            with self.subTest(results=results):
                self.send_results = results
                with self.assertRaisesMessage(AnymailAPIError, "Invalid SparkPost API response"):
                    send_mail("Subject", "Body", "from@example.com", ["to@example.com"])

    def test_client_api_exception_is_api_error(self):
        self.mock_send.side_effect = SparkPostAPIException(sparkpost_error_response())
        with self.assertRaises(AnymailAPIError) as cm:
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        err = cm.exception
        self.assertEqual(err.status_code, 400)
        self.assertEqual(err.esp_name, "SparkPost")
        self.assertIsInstance(err.__cause__, SparkPostAPIException)
        # SparkPost's own error text is in the message
        self.assertIn(
            "SparkPost API response 400: Invalid domain Code: 7001 Description: Unconfigured or "
            "unverified sending domain.",
            str(err),
        )
        self.assertIn('"code": "7001"', str(err))  # and the whole response body

    def test_api_error_fail_silently(self):
        self.mock_send.side_effect = SparkPostAPIException(sparkpost_error_response(500))
        sent = send_mail(
            "Subject", "Body", "from@example.com", ["to@example.com"], fail_silently=True
        )
        self.assertEqual(sent, 0)

    def test_network_error_is_api_error(self):
        self.mock_send.side_effect = requests.ConnectionError("Name or service not known")
        with self.assertRaisesMessage(AnymailAPIError, "Name or service not known") as cm:
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        # (also a requests exception, as with every requests-based Anymail backend)
        self.assertIsInstance(cm.exception, requests.RequestException)

    def test_other_client_error_is_api_error(self):
        self.mock_send.side_effect = SparkPostException("recipients must be a list")
        with self.assertRaisesMessage(AnymailAPIError, "recipients must be a list"):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])


class SparkPostBackendSettingsTests(SparkPostClientTestCase):
    """SPARKPOST_API_KEY (in settings, bare, or the client's environment variable) and API_URL."""

    def send_and_get_transmissions(self, **connection_kwargs: Any) -> Transmissions:
        connection = get_connection(SPARKPOST_BACKEND, **connection_kwargs)
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"], connection=connection)
        return self.send_transmissions()

    @override_settings(ANYMAIL=None, ANYMAIL_SPARKPOST_API_KEY="prefixed-key")
    def test_prefixed_setting(self):
        self.assertEqual(self.send_and_get_transmissions().api_key, "prefixed-key")

    @override_settings(ANYMAIL=None, SPARKPOST_API_KEY="bare-key")
    def test_bare_setting(self):
        self.assertEqual(self.send_and_get_transmissions().api_key, "bare-key")

    def test_connection_kwarg(self):
        self.assertEqual(self.send_and_get_transmissions(api_key="kwarg-key").api_key, "kwarg-key")

    @override_settings(ANYMAIL={})
    def test_client_reads_environment_variable(self):
        with mock.patch.dict(os.environ, {"SPARKPOST_API_KEY": "env-key"}):
            self.assertEqual(self.send_and_get_transmissions().api_key, "env-key")

    @override_settings(ANYMAIL={"SPARKPOST_API_KEY": "settings-key"})
    def test_setting_wins_over_environment(self):
        with mock.patch.dict(os.environ, {"SPARKPOST_API_KEY": "env-key"}):
            self.assertEqual(self.send_and_get_transmissions().api_key, "settings-key")

    @override_settings(ANYMAIL={})
    def test_missing_api_key(self):
        # Reported when the backend is created (as 6.1), not at the first send
        env = {k: v for k, v in os.environ.items() if k != "SPARKPOST_API_KEY"}
        with (
            mock.patch.dict(os.environ, env, clear=True),
            self.assertRaises(AnymailConfigurationError) as cm,
        ):
            get_connection(SPARKPOST_BACKEND)
        message = str(cm.exception)
        self.assertIn("ANYMAIL_SPARKPOST_API_KEY", message)
        self.assertIn("SPARKPOST_API_KEY environment variable", message)
        self.mock_send.assert_not_called()

    def test_default_api_url_is_the_clients(self):
        self.assertEqual(self.send_and_get_transmissions().uri, TRANSMISSIONS_URL)

    @override_settings(
        ANYMAIL={
            "SPARKPOST_API_KEY": API_KEY,
            "SPARKPOST_API_URL": "https://api.eu.sparkpost.com/api/v1",  # use SparkPost EU
        }
    )
    def test_api_url_eu(self):
        self.assertEqual(
            self.send_and_get_transmissions().uri,
            "https://api.eu.sparkpost.com/api/v1/transmissions",
        )

    def test_api_url_kwarg_enterprise(self):
        transmissions = self.send_and_get_transmissions(
            api_url="https://demo.sparkpostelite.com/api/v1/"
        )
        self.assertEqual(transmissions.uri, "https://demo.sparkpostelite.com/api/v1/transmissions")

    def test_sparkpost_not_installed(self):
        with (
            mock.patch.dict(sys.modules, {"sparkpost": None}),
            self.assertRaises(AnymailImproperlyInstalled) as cm,
        ):
            get_connection(SPARKPOST_BACKEND)
        self.assertIn("pip install django-anymail[sparkpost]", str(cm.exception))
        self.assertEqual(cm.exception.missing_package, "sparkpost")


# Code run in a fresh interpreter in which "import sparkpost" fails
WITHOUT_SPARKPOST_SCRIPT = """
import json, sys
sys.modules["sparkpost"] = None  # any "import sparkpost" now raises ImportError
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["anymail"], ROOT_URLCONF="anymail.urls", USE_TZ=True,
    EMAIL_BACKEND="anymail.backends.sparkpost.EmailBackend",
    ANYMAIL={"SPARKPOST_API_KEY": "key", "WEBHOOK_SECRET": "u:p"},
)
django.setup()
import anymail.urls
import anymail.webhooks.sparkpost
from anymail.exceptions import AnymailImproperlyInstalled
from django.core.mail import get_connection
try:
    get_connection()
    error = None
except AnymailImproperlyInstalled as err:
    error = str(err)
print(json.dumps({"webhooks_imported": True, "backend_error": error}))
"""


class SparkPostWithoutPackageTests(SimpleTestCase):
    def test_webhooks_and_urls_import_without_sparkpost(self):
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
        result = subprocess.run(
            [sys.executable, "-c", WITHOUT_SPARKPOST_SCRIPT],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, f"stderr:\n{result.stderr}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(report["webhooks_imported"], True)
        self.assertEqual(
            report["backend_error"],
            "sparkpost is not installed, and this ESP needs it. "
            "Install it with: pip install django-anymail[sparkpost]",
        )


@override_settings(EMAIL_BACKEND=SPARKPOST_BACKEND, ANYMAIL={"SPARKPOST_API_KEY": API_KEY})
class SparkPostBackendHTTPTests(RequestsFakeTestCase):
    """What actually goes over the wire, faked at requests.Session.request under the client."""

    default_response_json = {"results": transmission_results(1)}

    def test_transmission_request(self):
        msg = EmailMultiAlternatives(
            "Subject ✓",
            "Text",
            '"Sender, Inc." <from@example.com>',
            ["Ann Example <ann@example.com>"],
            reply_to=["reply@example.com"],
        )
        msg.attach_alternative("<p>HTML</p>", "text/html")
        msg.tags = ["welcome"]
        msg.track_opens = False
        msg.metadata = {"user": "u1"}
        msg.send()
        kwargs = self.assert_api_called("POST", TRANSMISSIONS_URL)
        self.assertEqual(kwargs["headers"]["Authorization"], API_KEY)
        self.assertEqual(kwargs["headers"]["Content-Type"], "application/json")
        self.assertEqual(kwargs["timeout"], 30)  # (Anymail's default REQUESTS_TIMEOUT)
        # The Transmissions API's request body
        self.assertEqual(
            self.api_call_json(),
            {
                "campaign_id": "welcome",
                "metadata": {"user": "u1"},
                "options": {"open_tracking": False},
                "recipients": [{"address": {"email": "ann@example.com", "name": "Ann Example"}}],
                "content": {
                    "from": {"email": "from@example.com", "name": "Sender, Inc."},
                    "subject": "Subject ✓",
                    "text": "Text",
                    "html": "<p>HTML</p>",
                    "reply_to": "reply@example.com",
                },
            },
        )
        self.assertEqual(msg.anymail_status.message_id, TRANSMISSION_ID)
        self.assertEqual(msg.anymail_status.status, {"queued"})

    def test_multiple_from_reaches_sparkpost_intact(self):
        """python-sparkpost alone would keep only the first From address."""
        send_mail(
            "Subject", "Body", "First <from1@example.com>, from2@example.com", ["to@example.com"]
        )
        self.assertEqual(
            self.api_call_json()["content"]["from"],
            "First <from1@example.com>, from2@example.com",
        )

    def test_unicode_names_and_idn_on_the_wire(self):
        """content.from, reply_to and the To/CC headers go out header-encoded."""
        msg = EmailMessage(
            "Sübject",
            "Bödy",
            "Frœm Nåme <from@exämple.com>",
            ["Tö Nåme <to@exämple.com>", "to2@example.com"],
            cc=["cc@exämple.com"],
            reply_to=["Rèply <reply@exämple.com>"],
        )
        msg.send()
        to_header = "=?utf-8?b?VMO2IE7DpW1l?= <to@xn--exmple-cua.com>, to2@example.com"
        self.assertEqual(
            self.api_call_json(),
            {
                "recipients": [
                    {
                        "address": {
                            "email": "to@exämple.com",
                            "name": "Tö Nåme",
                            "header_to": to_header,
                        }
                    },
                    {"address": {"email": "to2@example.com", "header_to": to_header}},
                    {"address": {"email": "cc@exämple.com", "header_to": to_header}},
                ],
                "content": {
                    # (python-sparkpost splits a single From into name and email)
                    "from": {
                        "email": "from@xn--exmple-cua.com",
                        "name": "=?utf-8?b?RnLFk20gTsOlbWU=?=",
                    },
                    "subject": "Sübject",
                    "text": "Bödy",
                    "reply_to": "=?utf-8?b?UsOocGx5?= <reply@xn--exmple-cua.com>",
                    "headers": {"CC": "cc@xn--exmple-cua.com"},
                },
            },
        )

    def test_quoted_display_name_round_trips(self):
        send_mail("Subject", "Body", '"Name \\"Nick\\" Last" <from@example.com>', ["t@example.com"])
        self.assertEqual(
            self.api_call_json()["content"]["from"],
            {"email": "from@example.com", "name": 'Name "Nick" Last'},
        )

    def test_cc_bcc_and_attachments_on_the_wire(self):
        msg = EmailMessage(
            "Subject", "Body", "from@example.com", ["to@example.com"], cc=["cc@example.com"]
        )
        msg.attach("a.txt", "hi", "text/plain")
        msg.send()
        body = self.api_call_json()
        self.assertEqual(
            body["recipients"],
            [
                {"address": {"email": "to@example.com"}},
                {"address": {"email": "cc@example.com", "header_to": "to@example.com"}},
            ],
        )
        self.assertEqual(body["content"]["headers"], {"CC": "cc@example.com"})
        self.assertEqual(
            body["content"]["attachments"],
            [{"type": "text/plain", "name": "a.txt", "data": "aGk="}],
        )

    def test_template_on_the_wire(self):
        msg = EmailMessage(subject="", body="", to=["to@example.com"])
        msg.template_id = "black_friday"
        msg.merge_global_data = {"discount": "25%"}
        msg.esp_extra = {"use_draft_template": True}
        msg.send()
        self.assertEqual(
            self.api_call_json(),
            {
                "content": {"template_id": "black_friday", "use_draft_template": True},
                "substitution_data": {"discount": "25%"},
                "recipients": [{"address": {"email": "to@example.com"}}],
            },
        )

    @override_settings(
        ANYMAIL={
            "SPARKPOST_API_KEY": API_KEY,
            "SPARKPOST_API_URL": "https://api.eu.sparkpost.com/api/v1",
            "REQUESTS_TIMEOUT": 5.5,
        }
    )
    def test_eu_endpoint_and_timeout(self):
        send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        kwargs = self.assert_api_called("POST", "https://api.eu.sparkpost.com/api/v1/transmissions")
        self.assertEqual(kwargs["timeout"], 5.5)

    def test_error_response(self):
        self.responses.append(sparkpost_error_response(400))
        with self.assertRaises(AnymailAPIError) as cm:
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        self.assertEqual(cm.exception.status_code, 400)
        self.assertIn("Invalid domain Code: 7001", str(cm.exception))
        self.assertIn("Unconfigured or unverified sending domain.", str(cm.exception))

    def test_sending_limit_error(self):
        self.set_response(
            420,
            json_data={"errors": [{"message": "Exceed Sending Limit (hourly)", "code": "2101"}]},
        )
        with self.assertRaisesMessage(AnymailAPIError, "Exceed Sending Limit (hourly)"):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])

    def test_partial_rejection_response(self):
        """The Transmissions API docs' "transmission created, but with validation errors"."""
        self.set_response(
            200,
            json_data={
                "errors": [
                    {"message": "transmission created, but with validation errors", "code": "2000"}
                ],
                "results": {
                    "rcpt_to_errors": [
                        {
                            "message": "required field is missing",
                            "description": "address.email is required for each recipient",
                            "code": "1400",
                        }
                    ],
                    "total_rejected_recipients": 1,
                    "total_accepted_recipients": 1,
                    "id": "11668787484950530",
                },
            },
        )
        msg = EmailMessage("Subject", "Body", "from@example.com", ["a@example.com", "b@x.com"])
        msg.send()
        self.assertEqual(msg.anymail_status.status, {"unknown"})
        self.assertEqual(msg.anymail_status.message_id, "11668787484950530")

    def test_non_json_response(self):
        self.set_response(200, text="<html>Gateway</html>")
        with self.assertRaises(AnymailAPIError):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])

    def test_connection_error(self):
        self.set_error(requests.ConnectTimeout("timed out"))
        with self.assertRaisesMessage(AnymailAPIError, "timed out"):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])

    def test_one_session_for_send_messages(self):
        """Every API call in a send_messages() batch uses the same (single) requests.Session."""
        created = []
        original_init = requests.Session.__init__

        def counting_init(session, *args, **kwargs):
            created.append(session)
            original_init(session, *args, **kwargs)

        messages = [
            EmailMessage(f"Subject {n}", "Body", "from@example.com", [f"to{n}@example.com"])
            for n in range(3)
        ]
        connection = get_connection()
        with (
            mock.patch.object(requests.Session, "__init__", counting_init),
            mock.patch.object(requests.Session, "close", autospec=True) as mock_close,
        ):
            self.assertEqual(connection.send_messages(messages), 3)
        self.assertEqual(len(created), 1)
        sessions = {id(call.args[0]) for call in self.api_calls()}
        self.assertEqual(len(self.api_calls()), 3)
        self.assertEqual(sessions, {id(created[0])})
        mock_close.assert_called_once_with(created[0])  # closed when the batch is done
        self.assertIsNone(connection.client)

    def test_open_connection_is_reused_until_closed(self):
        connection = get_connection()
        self.assertTrue(connection.open())
        self.assertFalse(connection.open())  # already open
        client = connection.client
        send_mail("One", "Body", "from@example.com", ["to@example.com"], connection=connection)
        send_mail("Two", "Body", "from@example.com", ["to@example.com"], connection=connection)
        self.assertIs(connection.client, client)
        self.assertEqual(len({id(call.args[0]) for call in self.api_calls()}), 1)
        connection.close()
        self.assertIsNone(connection.client)


class FakeSocket:
    """Just enough socket for http.client.HTTPResponse to read a canned response from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self.data)


@override_settings(EMAIL_BACKEND=SPARKPOST_BACKEND, ANYMAIL={"SPARKPOST_API_KEY": API_KEY})
class SparkPostConnectionReuseTests(SimpleTestCase):
    """TCP connections, counted in urllib3's connection pool (no socket is really opened).

    The original python-sparkpost usage made a new connection per message (spec, "Batch send
    performance"); one client per open()/close() keeps a single keep-alive connection.
    """

    def setUp(self) -> None:
        super().setUp()
        self.new_connections = 0
        self.request_bodies: list[dict[str, Any]] = []
        test = self
        original_new_conn = urllib3.HTTPSConnectionPool._new_conn

        def counting_new_conn(pool):
            test.new_connections += 1
            return original_new_conn(pool)

        def fake_make_request(pool, conn, method, url, body=None, headers=None, **kwargs):
            test.assertEqual(
                (pool.host, method, url), ("api.sparkpost.com", "POST", "/api/v1/transmissions")
            )
            test.request_bodies.append(json.loads(body))
            # SparkPost's answer, read by http.client (as from a socket) and wrapped by urllib3
            # as the real _make_request does, so that reading it returns conn to the pool
            content = json.dumps({"results": transmission_results(1)}).encode()
            raw = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            httplib_response = http.client.HTTPResponse(FakeSocket(raw), method=method)
            httplib_response.begin()
            return urllib3.HTTPResponse(
                body=httplib_response,
                headers=httplib_response.msg.items(),
                status=httplib_response.status,
                version=httplib_response.version,
                reason=httplib_response.reason,
                preload_content=False,
                decode_content=kwargs.get("decode_content", True),
                original_response=httplib_response,
                pool=pool,
                connection=kwargs.get("response_conn"),
                request_method=method,
                request_url=url,
            )

        for name, replacement in [
            ("_new_conn", counting_new_conn),
            ("_make_request", fake_make_request),
        ]:
            patcher = mock.patch.object(urllib3.HTTPSConnectionPool, name, replacement)
            patcher.start()
            self.addCleanup(patcher.stop)

    def messages(self, count: int) -> list[EmailMessage]:
        return [
            EmailMessage(f"Subject {n}", "Body", "from@example.com", [f"to{n}@example.com"])
            for n in range(count)
        ]

    def test_send_messages_uses_one_connection(self):
        self.assertEqual(get_connection().send_messages(self.messages(4)), 4)
        self.assertEqual(
            [body["content"]["subject"] for body in self.request_bodies],
            ["Subject 0", "Subject 1", "Subject 2", "Subject 3"],
        )
        self.assertEqual(self.new_connections, 1)

    def test_separate_sends_each_connect(self):
        """(The control: each message.send() is its own open()/close().)"""
        for message in self.messages(3):
            message.send()
        self.assertEqual(len(self.request_bodies), 3)
        self.assertEqual(self.new_connections, 3)

    def test_mail_outbox_untouched(self):
        get_connection().send_messages(self.messages(1))
        self.assertEqual(len(getattr(mail, "outbox", [])), 0)

    @override_settings(ANYMAIL={"SPARKPOST_API_KEY": API_KEY, "DEBUG_API_REQUESTS": True})
    def test_debug_api_requests(self):
        output = io.StringIO()
        with redirect_stdout(output):
            send_mail("Subject", "Body", "from@example.com", ["to@example.com"])
        text = output.getvalue()
        self.assertIn(f"POST {TRANSMISSIONS_URL}", text)
        self.assertIn('"subject": "Subject"', text)
        self.assertIn(TRANSMISSION_ID, text)
