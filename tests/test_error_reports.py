"""No ESP's API key shows up in Django's error reports (emailed to ADMINS, shown with DEBUG)."""

from __future__ import annotations

import sys
from importlib.util import find_spec

from django.core.mail import get_connection
from django.test import SimpleTestCase, override_settings
from django.views.debug import ExceptionReporter

from anymail.message import AnymailMessage

KEY = "k3y-that-must-stay-private"

ESP_SETTINGS = {
    "mailgun": {"MAILGUN_API_KEY": KEY},
    "mailjet": {"MAILJET_API_KEY": KEY, "MAILJET_SECRET_KEY": KEY},
    "mandrill": {"MANDRILL_API_KEY": KEY},
    "postmark": {"POSTMARK_SERVER_TOKEN": KEY},
    "sendgrid": {"SENDGRID_API_KEY": KEY},
    "sendinblue": {"SENDINBLUE_API_KEY": KEY},
    "sparkpost": {"SPARKPOST_API_KEY": KEY},
}


class PayloadErrorReportTests(SimpleTestCase):
    def reports_for_send_error(self, esp: str) -> tuple[str, str]:
        # Metadata that can't be serialized fails while the payload is being built, with the
        # key already in the payload's request headers or auth
        with override_settings(ANYMAIL=ESP_SETTINGS[esp]):
            message = AnymailMessage(
                "S",
                "B",
                "from@example.com",
                ["to@example.com"],
                metadata={"order": object()},
                connection=get_connection(f"anymail.backends.{esp}.EmailBackend"),
            )
            try:
                message.send()
            except Exception:
                reporter = ExceptionReporter(None, *sys.exc_info())
                return reporter.get_traceback_text(), reporter.get_traceback_html()
        self.fail(f"{esp}: send() didn't raise")

    def test_api_keys_are_not_in_error_reports(self):
        for esp in ESP_SETTINGS:
            if esp == "sparkpost" and find_spec("sparkpost") is None:
                continue
            with self.subTest(esp=esp):
                text, html = self.reports_for_send_error(esp)
                self.assertIn("metadata", text)  # the report is about the real error
                # The key in a repr'd value ends with a single quote ("Bearer <key>'"); this
                # test's own source, which reports quote, writes it in double quotes
                for report in (text, html.replace("&#x27;", "'")):
                    self.assertFalse(f"{KEY}'" in report, f"{esp}'s API key is in the report")
