"""Send one feature-rich message through Anymail, then show the send status Anymail reports.

    python example/manage.py send_example            # prints the message (console backend)
    python example/manage.py send_example --backend anymail.backends.mailgun.EmailBackend \\
        --setting api_key=KEY --setting sender_domain=mg.example.com \\
        --from you@mg.example.com --to you@example.com

Without --backend or --setting, it sends the way any app code would (message.send()), through
the project's settings: Django 6.1's "default" mailer (MAILERS), or EMAIL_BACKEND before 6.1.
"""

import argparse
import json
from typing import Any

from django.conf import settings
from django.core import mail
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from anymail.backends.console import EmailBackend as AnymailConsoleBackend
from anymail.exceptions import AnymailConfigurationError, AnymailError
from anymail.message import AnymailMessage, AnymailStatus

from ...emails import build_example_message

DEFAULT_TO = ["Alice Example <alice@example.com>", "bob@example.com"]
DEFAULT_CC = ["Carol Example <carol@example.com>"]
DEFAULT_BCC = ["archive@example.com"]

# Backends that print messages, and take a stream to print them to
PRINTING_BACKENDS = (AnymailConsoleBackend, DjangoConsoleBackend)

# Django 6.1's error for a bad MAILERS entry (older Django has no such class)
INVALID_MAILER_ERRORS: tuple[type[Exception], ...] = tuple(
    error for error in [getattr(mail, "InvalidMailer", None)] if error is not None
)


def uses_mailers() -> bool:
    """Whether the settings configure mail with Django 6.1's MAILERS (else EMAIL_BACKEND)."""
    return hasattr(settings, "MAILERS")


def default_backend() -> tuple[str, dict[str, Any]]:
    """The settings' default backend: its dotted path, and the options it's created with."""
    if uses_mailers():
        config = settings.MAILERS["default"]
        backend = config.get("BACKEND", "django.core.mail.backends.smtp.EmailBackend")
        return backend, dict(config.get("OPTIONS", {}))
    return settings.EMAIL_BACKEND, {}


def parse_setting(text: str) -> tuple[str, Any]:
    """Parse a --setting KEY=VALUE; VALUE is JSON when it can be (true, 30, {...}), else a str."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def one_line(text: str) -> str:
    """Collapse a (possibly multi-line) error into one line, for a terminal."""
    return " ".join(text.split())


def format_status(status: AnymailStatus) -> str:
    """Describe message.anymail_status: what the ESP said about the send, per recipient."""
    if status.status is None:
        return "Anymail status: none (this backend does not report Anymail send status)\n"
    message_id = status.message_id
    if isinstance(message_id, set):  # some ESPs assign a different id to each recipient
        message_id = ", ".join(sorted(str(each) for each in message_id))
    lines = [
        "Anymail status:",
        f"  message_id: {message_id}",
        f"  status: {', '.join(sorted(status.status))}",
        "  recipients:",
    ]
    for email, recipient in status.recipients.items():
        lines.append(f"    {email}: {recipient.status} (message_id {recipient.message_id})")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = (
        "Send one example message (html, inline image, attachment, tags, metadata, tracking) "
        "through Anymail, and print the send status. Uses the settings' default mailer "
        "(MAILERS['default'] on Django 6.1, else EMAIL_BACKEND: here, the console backend, "
        "which only prints the message) unless you give --backend."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            metavar="DOTTED.PATH.EmailBackend",
            help="email backend to send through (default: the settings' default mailer)",
        )
        parser.add_argument(
            "--setting",
            dest="backend_settings",
            action="append",
            default=[],
            type=parse_setting,
            metavar="KEY=VALUE",
            help="backend option, e.g. api_key=KEY (repeatable; VALUE is parsed as JSON if it "
            "can be, else used as a string)",
        )
        parser.add_argument(
            "--from", dest="from_email", help="sender (default: settings.DEFAULT_FROM_EMAIL)"
        )
        for field, defaults in (("to", DEFAULT_TO), ("cc", DEFAULT_CC), ("bcc", DEFAULT_BCC)):
            parser.add_argument(
                f"--{field}",
                action="append",
                metavar="ADDRESS",
                help=f"{field} recipient (repeatable). Giving any of --to, --cc or --bcc "
                f"replaces all the example recipients (default {field}: {', '.join(defaults)})",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["to"] or options["cc"] or options["bcc"]:
            recipients = {field: options[field] or [] for field in ("to", "cc", "bcc")}
        else:
            recipients = {"to": DEFAULT_TO, "cc": DEFAULT_CC, "bcc": DEFAULT_BCC}
        message = build_example_message(from_email=options["from_email"], **recipients)

        backend_options = dict(options["backend_settings"])
        backend = options["backend"] or default_backend()[0]
        try:
            if options["backend"] or backend_options:
                via, sent = self.send_with_backend(message, options["backend"], backend_options)
            else:
                via, sent = self.send_as_apps_do(message)
        except (AnymailError, AnymailConfigurationError, *INVALID_MAILER_ERRORS) as error:
            # (Checked before ImportError: AnymailImproperlyInstalled is both.)
            raise CommandError(f"Sending failed: {one_line(str(error))} ({type(error).__name__})")
        except ImportError as error:
            raise CommandError(f"Can't load email backend {backend!r}: {one_line(str(error))}")

        self.stdout.write(f"Messages sent through {via}: {sent}")
        self.stdout.write(format_status(message.anymail_status))

    def send_as_apps_do(self, message: AnymailMessage) -> tuple[str, int]:
        """Send with message.send(): the default mailer (Django 6.1) or EMAIL_BACKEND."""
        backend, _options = default_backend()
        via = f'the "default" mailer ({backend})' if uses_mailers() else backend
        return via, message.send()

    def send_with_backend(
        self, message: AnymailMessage, backend: str | None, backend_options: dict[str, Any]
    ) -> tuple[str, int]:
        """Send through a backend made here: --backend (or the default's) with --setting options.

        The backend is created directly, as Django's get_connection(backend, **options) did:
        that call is deprecated in Django 6.1, and refused there once MAILERS is set.
        """
        if backend is None:  # --setting alone: the default backend, with its options updated
            backend, default_options = default_backend()
            backend_options = {**default_options, **backend_options}
        backend_class = import_string(backend)
        if isinstance(backend_class, type) and issubclass(backend_class, PRINTING_BACKENDS):
            backend_options.setdefault("stream", self.stdout)  # so call_command can capture
        try:
            connection = backend_class(**backend_options)
        except TypeError as error:  # e.g., a misspelled --setting
            raise CommandError(f"Can't create {backend}: {one_line(str(error))}")
        return backend, connection.send_messages([message])
