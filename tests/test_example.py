"""The example project's send_example command, run exactly as the README tells a new user to."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import django
from django.test import SimpleTestCase

from anymail.backends.test import EmailBackend as TestEmailBackend
from anymail.conf import get_anymail_setting
from anymail.message import AnymailRecipientStatus

REPO_ROOT = Path(__file__).resolve().parent.parent
MANAGE_PY = REPO_ROOT / "example" / "manage.py"
LOGO_PNG = REPO_ROOT / "example" / "example_app" / "logo.png"
PARAMS_MARKER = "----- Anymail send params"
HAS_MAILERS = django.VERSION >= (6, 1)


class ApiKeyBackend(TestEmailBackend):
    """Needs an api_key (like a real ESP); used via --backend tests.test_example.ApiKeyBackend."""

    esp_name = "Example ESP"

    def __init__(self, **kwargs: Any) -> None:
        self.api_key = get_anymail_setting("api_key", esp_name=self.esp_name, kwargs=kwargs)
        super().__init__(**kwargs)

    def post_to_esp(self, payload: Any, message: Any) -> dict[str, Any]:
        super().post_to_esp(payload, message)
        status = AnymailRecipientStatus(f"sent-with-{self.api_key}", "sent")
        return {"recipient_status": {email.addr_spec: status for email in payload.all_recipients}}


def send_example(*args: str, show_warnings: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `python example/manage.py send_example ARGS` from the repo root.

    With show_warnings, every warning (deprecations included) is printed to stderr.
    """
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py must pick the example's settings
    env.pop("PYTHONWARNINGS", None)  # (so only show_warnings decides)
    if show_warnings:
        env["PYTHONWARNINGS"] = "always"
    # So --backend tests.test_example... resolves to this module (manage.py already adds the
    # repo root, but last, where a stray installed "tests" package could shadow ours)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), "send_example", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def printed_message(stdout: str) -> EmailMessage:
    """Parse the MIME message the console backend printed (ahead of its send params)."""
    mime, marker, _rest = stdout.partition(PARAMS_MARKER)
    assert marker, f"no console backend output in:\n{stdout}"
    return email.message_from_string(mime, policy=email.policy.default)


class SendExampleTests(SimpleTestCase):
    """The default run: the console backend prints the message, then the status is shown."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.result = send_example()  # slow-ish (a new process), so run it once for these tests

    def setUp(self) -> None:
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.stdout = self.result.stdout
        self.message = printed_message(self.stdout)

    def test_no_errors(self) -> None:
        self.assertNotIn("Traceback", self.result.stderr)

    def test_sent_through_the_settings_default(self) -> None:
        # Django 6.1: MAILERS["default"]; older Django: EMAIL_BACKEND
        if HAS_MAILERS:
            sent_through = 'the "default" mailer (anymail.backends.console.EmailBackend)'
        else:
            sent_through = "anymail.backends.console.EmailBackend"
        self.assertIn(f"Messages sent through {sent_through}: 1\n", self.stdout)

    def test_headers(self) -> None:
        self.assertEqual(self.message["Subject"], "Welcome to the Anymail example")
        self.assertEqual(self.message["From"], "Anymail Example <example@example.com>")
        self.assertEqual(self.message["To"], "Alice Example <alice@example.com>, bob@example.com")
        self.assertEqual(self.message["Cc"], "Carol Example <carol@example.com>")
        self.assertEqual(self.message["Reply-To"], "Example Support <support@example.com>")
        # Bcc recipients get the message, but must not be visible in it
        self.assertIsNone(self.message["Bcc"])
        headers = self.stdout.partition("\n\n")[0]
        self.assertNotIn("archive@example.com", headers)

    def test_text_and_html_alternatives(self) -> None:
        alternatives = [
            part
            for part in self.message.walk()
            if part.get_content_type() == "multipart/alternative"
        ]
        self.assertEqual(len(alternatives), 1)
        text, html = alternatives[0].iter_parts()
        self.assertEqual(text.get_content_type(), "text/plain")
        self.assertIn("Hi there", text.get_content())
        self.assertEqual(html.get_content_type(), "text/html")
        self.assertIn("<a href=", html.get_content())

    def test_inline_image_matches_html_cid(self) -> None:
        html = self.message.get_body(preferencelist=("html",)).get_content()
        match = re.search(r'<img src="cid:([^"]+)"', html)
        self.assertIsNotNone(match, html)
        images = [part for part in self.message.walk() if part.get_content_maintype() == "image"]
        self.assertEqual(len(images), 1)
        image = images[0]
        self.assertEqual(image["Content-ID"], f"<{match.group(1)}>")
        self.assertEqual(image.get_content_type(), "image/png")
        self.assertEqual(image.get_content_disposition(), "inline")
        self.assertEqual(image.get_content(), LOGO_PNG.read_bytes())

    def test_logo_is_a_real_png(self) -> None:
        self.assertTrue(LOGO_PNG.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"))

    def test_attachment(self) -> None:
        attachments = list(self.message.iter_attachments())
        csv_files = [part for part in attachments if part.get_filename() == "example-report.csv"]
        self.assertEqual(len(csv_files), 1)
        self.assertEqual(csv_files[0].get_content_disposition(), "attachment")
        self.assertEqual(csv_files[0].get_content_type(), "text/csv")
        self.assertTrue(csv_files[0].get_content().startswith("feature,"))

    def test_anymail_params(self) -> None:
        params = self.stdout.partition(PARAMS_MARKER)[2]
        # The message's tag follows the settings' SEND_DEFAULTS tag
        self.assertIn("tags: ['anymail-example', 'welcome']", params)
        self.assertIn("metadata: {'user_id': '8675309', 'campaign': 'example'}", params)
        self.assertIn("track_clicks: True", params)
        self.assertIn("track_opens: True", params)
        self.assertIn("bcc: ['archive@example.com']", params)

    def test_status(self) -> None:
        status = self.stdout.partition("Anymail status:")[2]
        self.assertTrue(status, self.stdout)
        message_id = re.search(r"^  message_id: (\w+)$", status, re.MULTILINE)
        self.assertIsNotNone(message_id, status)
        self.assertIn("\n  status: sent\n", status)
        for recipient in (
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "archive@example.com",
        ):
            self.assertIn(
                f"    {recipient}: sent (message_id {message_id.group(1)})\n",
                status,
            )


class SendExampleOptionsTests(SimpleTestCase):
    def assertFailsWithOneLine(self, result: subprocess.CompletedProcess[str]) -> str:
        """The command failed with a single error line on stderr (no traceback); return it."""
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertNotIn("Traceback", result.stderr)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertNotIn("Anymail status", result.stdout)
        return lines[0]

    def test_other_backend(self) -> None:
        result = send_example("--backend", "anymail.backends.test.EmailBackend")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Content-Type:", result.stdout)  # the test backend prints nothing
        self.assertIn("Messages sent through anymail.backends.test.EmailBackend: 1", result.stdout)
        self.assertIn("    alice@example.com: sent (message_id ", result.stdout)

    def test_addresses(self) -> None:
        result = send_example("--to", "you@example.net", "--from", "Me <me@example.net>")
        self.assertEqual(result.returncode, 0, result.stderr)
        message = printed_message(result.stdout)
        self.assertEqual(message["From"], "Me <me@example.net>")
        self.assertEqual(message["To"], "you@example.net")
        self.assertIsNone(message["Cc"])  # --to replaces all the example's recipients
        status = result.stdout.partition("Anymail status:")[2]
        self.assertIn("    you@example.net: sent", status)
        self.assertNotIn("alice@example.com", status)
        self.assertNotIn("archive@example.com", status)

    def test_invalid_address(self) -> None:
        result = send_example("--to", "bad address")
        error = self.assertFailsWithOneLine(result)
        self.assertIn("'bad address'", error)
        self.assertIn("AnymailInvalidAddress", error)

    def test_unknown_backend(self) -> None:
        result = send_example("--backend", "anymail.backends.no_such_esp.EmailBackend")
        error = self.assertFailsWithOneLine(result)
        self.assertIn("Can't load email backend 'anymail.backends.no_such_esp.EmailBackend'", error)

    def test_backend_settings(self) -> None:
        result = send_example(
            "--backend", "tests.test_example.ApiKeyBackend", "--setting", "api_key=KEY123"
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("  message_id: sent-with-KEY123\n", result.stdout)

    def test_missing_backend_setting(self) -> None:
        result = send_example("--backend", "tests.test_example.ApiKeyBackend")
        error = self.assertFailsWithOneLine(result)
        self.assertIn("EXAMPLE_ESP_API_KEY", error)
        self.assertIn("AnymailConfigurationError", error)

    def test_setting_needs_equals(self) -> None:
        result = send_example("--setting", "api_key")
        self.assertEqual(result.returncode, 2)  # argparse's usage error
        self.assertIn("expected KEY=VALUE, got 'api_key'", result.stderr)


class SendExampleDjangoVersionTests(SimpleTestCase):
    """The example is set up the way this Django wants, so it runs without deprecations."""

    def assertNoWarnings(self, result: subprocess.CompletedProcess[str]) -> None:
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Warning", result.stderr)

    def test_settings_use_this_djangos_mail_setting(self) -> None:
        result = subprocess.run(
            [sys.executable, "-c", "import example_project.settings as s; print(dir(s))"],
            cwd=REPO_ROOT / "example",
            capture_output=True,
            text=True,
            timeout=60,
        )
        names = result.stdout
        self.assertEqual(result.returncode, 0, result.stderr)
        # Django 6.1 refuses to start with both, and deprecates EMAIL_BACKEND
        self.assertEqual("'MAILERS'" in names, HAS_MAILERS, names)
        self.assertEqual("'EMAIL_BACKEND'" in names, not HAS_MAILERS, names)

    def test_no_deprecation_warnings(self) -> None:
        self.assertNoWarnings(send_example(show_warnings=True))

    def test_no_deprecation_warnings_with_backend_and_settings(self) -> None:
        result = send_example(
            "--backend",
            "anymail.backends.console.EmailBackend",
            "--setting",
            'send_defaults={"tags": ["from-the-command-line"]}',
            show_warnings=True,
        )
        self.assertNoWarnings(result)
        self.assertIn("tags: ['from-the-command-line', 'welcome']", result.stdout)

    def test_setting_alone_updates_the_default_backend(self) -> None:
        # Without --backend, --setting options go to the settings' default backend
        result = send_example("--setting", 'send_defaults={"tags": ["cli"]}')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("tags: ['cli', 'welcome']", result.stdout)
        sent_through = "Messages sent through anymail.backends.console.EmailBackend: 1"
        self.assertIn(sent_through, result.stdout)

    def test_unknown_setting(self) -> None:
        result = send_example("--setting", "api_kye=KEY123")
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertNotIn("Traceback", result.stderr)
        self.assertIn("'api_kye'", result.stderr)
