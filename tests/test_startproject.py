"""A new user's path, end to end: a fresh `startproject`, set up only as the quickstart says,
sends through a (fake) ESP on 127.0.0.1, receives a signed webhook through anymail.urls, and
passes a test written from docs/testing.rst.

On Django 6.1 the project uses the MAILERS form of the settings; before it, EMAIL_BACKEND.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import django
from django.test import SimpleTestCase, tag

REPO_ROOT = Path(__file__).resolve().parent.parent
USES_MAILERS = django.VERSION >= (6, 1)

SIGNING_KEY = "quickstart-signing-key"
WEBHOOK_SECRET = "quickstart-user:quickstart-password"

# Step 2 of the quickstart (with the ESP's API url pointed at the fake), in each form
MAILERS_SETTINGS = """
MAILERS = {
    "default": {
        "BACKEND": "anymail.backends.mailgun.EmailBackend",
        "OPTIONS": {
            "api_key": "quickstart-api-key",
            "sender_domain": "mg.example.com",
            "api_url": os.environ["FAKE_ESP_URL"],
        },
    },
}
"""
EMAIL_BACKEND_SETTINGS = """
EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
ANYMAIL_MAILGUN_API_KEY = "quickstart-api-key"
ANYMAIL_MAILGUN_SENDER_DOMAIN = "mg.example.com"
ANYMAIL_MAILGUN_API_URL = os.environ["FAKE_ESP_URL"]
"""

# Steps 3 and 4: send a message, receive a signed tracking webhook (in the project, with a
# fake Mailgun on 127.0.0.1 that records what it was sent)
SEND_AND_RECEIVE_SCRIPT = """
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []

class FakeMailgun(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        answer = json.dumps({"id": "<20240101.1@mg.example.com>", "message": "Queued."}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMailgun)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["FAKE_ESP_URL"] = "http://127.0.0.1:%d/v3/" % server.server_address[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")

import django
django.setup()

from django.core.mail import send_mail
from django.dispatch import receiver
from django.test import Client
from anymail.signals import tracking
from anymail.testing import webhook_post

sent = send_mail("Your order has shipped", "Order 1234 is on its way.", None,
                 ["Customer <customer@example.com>"])
assert sent == 1, sent
(request,) = received
assert request["path"] == "/v3/mg.example.com/messages", request["path"]
assert request["auth"].startswith("Basic "), request["auth"]
assert b"customer%40example.com" in request["body"], request["body"][:500]

events = []

@receiver(tracking)
def handle_bounce(sender, event, esp_name, **kwargs):
    events.append((esp_name, event.event_type, event.recipient))

response = webhook_post(Client(SERVER_NAME="localhost"), "mailgun", "tracking", {
    "event": "failed", "severity": "permanent", "timestamp": 1700000000.5,
    "id": "quickstart-event-1", "recipient": "customer@example.com",
    "message": {"headers": {"message-id": "20240101.1@mg.example.com"}},
    "delivery-status": {"code": 550, "message": "No such mailbox", "description": ""},
})
assert response.status_code == 200, (response.status_code, response.content[:300])
assert events == [("Mailgun", "bounced", "customer@example.com")], events
print("sent and received")
"""

# A test written from docs/testing.rst, in the project's own app
APP_TESTS = """
from django.test import SimpleTestCase

from anymail.message import AnymailMessage
from anymail.testing import assert_sent, last_sent_message, use_test_backend


def send_welcome(address):
    message = AnymailMessage(subject="Welcome!", body="Thanks for joining.", to=[address],
                             tags=["welcome"], track_clicks=True)
    message.send()


@use_test_backend()
class WelcomeEmailTests(SimpleTestCase):
    def test_sends_welcome_email(self):
        send_welcome("ana@example.com")
        assert_sent(count=1, to=["ana@example.com"], subject="Welcome!", tags=["welcome"],
                    track_clicks=True, track_opens=None)
        self.assertEqual(last_sent_message().anymail_status.status, {"sent"})
"""


@tag("slow")
class FreshProjectQuickstartTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.tempdir = tempfile.TemporaryDirectory()
        cls.project = Path(cls.tempdir.name) / "shopsite"
        cls.project.mkdir()
        cls.run_in_project(sys.executable, "-m", "django", "startproject", "shopsite", ".")
        cls.run_in_project(sys.executable, "manage.py", "startapp", "shop")
        cls.follow_quickstart()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tempdir.cleanup()
        super().tearDownClass()

    @classmethod
    def run_in_project(cls, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONWARNINGS")
        }
        env["FAKE_ESP_URL"] = "http://127.0.0.1:9/v3/"  # (overridden where a server runs)
        result = subprocess.run(
            args, cwd=cls.project, env=env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    @classmethod
    def follow_quickstart(cls) -> None:
        settings_py = cls.project / "shopsite" / "settings.py"
        settings = settings_py.read_text()
        installed_apps_end = settings.index("]", settings.index("INSTALLED_APPS"))
        settings = (
            settings[:installed_apps_end]
            + '    "anymail",\n    "shop",\n'
            + settings[installed_apps_end:]
        )
        if USES_MAILERS:
            # startproject wrote a MAILERS block: edit it, as the quickstart says
            start = settings.index("MAILERS = {")
            end = settings.index("\n}\n", start) + 3
            settings = settings[:start] + MAILERS_SETTINGS.lstrip() + settings[end:]
        else:
            settings += EMAIL_BACKEND_SETTINGS
        settings = (
            "import os\n"
            + settings
            + textwrap.dedent(
                f"""
            DEFAULT_FROM_EMAIL = "Example Store <store@example.com>"
            SERVER_EMAIL = "errors@example.com"
            ANYMAIL = {{
                "WEBHOOK_SECRET": "{WEBHOOK_SECRET}",
                "MAILGUN_WEBHOOK_SIGNING_KEY": "{SIGNING_KEY}",
            }}
            """
            )
        )
        settings_py.write_text(settings)
        urls_py = cls.project / "shopsite" / "urls.py"
        urls = urls_py.read_text().replace(
            "from django.urls import path", "from django.urls import include, path"
        )
        urls = urls.replace(
            "urlpatterns = [", 'urlpatterns = [\n    path("anymail/", include("anymail.urls")),'
        )
        urls_py.write_text(urls)
        (cls.project / "shop" / "tests.py").write_text(APP_TESTS)
        (cls.project / "send_and_receive.py").write_text(SEND_AND_RECEIVE_SCRIPT)

    def test_settings_form_matches_the_django_version(self):
        settings = (self.project / "shopsite" / "settings.py").read_text()
        self.assertEqual("MAILERS = {" in settings, USES_MAILERS)
        self.assertEqual("EMAIL_BACKEND" in settings, not USES_MAILERS)

    def test_check_passes_without_errors(self):
        result = self.run_in_project(
            sys.executable,
            "-W",
            "error::DeprecationWarning",
            "manage.py",
            "check",
            "--fail-level",
            "ERROR",
        )
        self.assertIn("System check identified", result.stdout + result.stderr)

    def test_sends_through_the_esp_and_receives_a_signed_webhook(self):
        result = self.run_in_project(sys.executable, "send_and_receive.py")
        self.assertIn("sent and received", result.stdout)

    def test_a_test_written_from_the_testing_docs_passes(self):
        result = self.run_in_project(sys.executable, "manage.py", "test", "shop", check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Ran 1 test", result.stderr)
        self.assertIn("OK", result.stderr)
