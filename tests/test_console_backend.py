"""anymail.backends.console: prints what would be sent, and still sets anymail_status."""

from __future__ import annotations

import io
import re
from unittest import skipUnless

import django
from django.core import mail
from django.core.mail import get_connection
from django.test import SimpleTestCase, override_settings

from anymail.message import AnymailMessage

CONSOLE_BACKEND = "anymail.backends.console.EmailBackend"


class ConsoleBackendTests(SimpleTestCase):
    def send(self, **kwargs):
        stream = io.StringIO()
        connection = get_connection(CONSOLE_BACKEND, stream=stream, **kwargs)
        message = AnymailMessage(
            "Console subject",
            "Console body",
            "from@example.com",
            ["to@example.com"],
            tags=["dev"],
            metadata={"order": "1234"},
        )
        message.attach("notes.txt", "attached text")
        connection.send_messages([message])
        return message, stream.getvalue()

    def test_prints_mime_message_params_and_message_id(self):
        message, output = self.send()
        self.assertIn("Subject: Console subject", output)
        self.assertIn("Console body", output)
        self.assertIn('filename="notes.txt"', output)
        self.assertIn("tags: ['dev']", output)
        self.assertIn("metadata: {'order': '1234'}", output)
        printed_id = re.search(r"message_id ([0-9a-f]{32})", output).group(1)
        self.assertEqual(message.anymail_status.message_id, printed_id)
        self.assertEqual(message.anymail_status.status, {"sent"})

    @override_settings(ANYMAIL={"SEND_DEFAULTS": {"track_clicks": True}})
    def test_send_defaults_shown(self):
        _message, output = self.send()
        self.assertIn("track_clicks: True", output)

    def test_messages_also_kept_in_outbox(self):
        message, _output = self.send()
        self.assertEqual(mail.outbox, [message])


@skipUnless(django.VERSION >= (6, 1), "MAILERS setting is new in Django 6.1")
class DjangoMailersTests(SimpleTestCase):
    def test_mailers_options_reach_backend(self):
        from django.core.mail import mailers

        with override_settings(
            MAILERS={
                "default": {
                    "BACKEND": "anymail.backends.test.EmailBackend",
                    "OPTIONS": {"send_defaults": {"tags": ["from-mailers"]}},
                }
            }
        ):
            message = AnymailMessage(to=["to@example.com"])
            message.send()
            self.assertEqual(mail.outbox[-1].anymail_send_params["tags"], ["from-mailers"])
            self.assertEqual(mailers["default"].alias, "default")

    def test_unknown_mailers_option_is_an_error(self):
        from django.core.mail import InvalidMailer, mailers

        with (
            override_settings(
                MAILERS={
                    "default": {
                        "BACKEND": "anymail.backends.test.EmailBackend",
                        "OPTIONS": {"api_kye": "typo"},
                    }
                }
            ),
            self.assertRaisesMessage(InvalidMailer, "api_kye"),
        ):
            mailers["default"]
