"""Send one feature-rich message through Anymail, then show the send status Anymail reports.

    python example/manage.py send_example            # prints the message (console backend)
    python example/manage.py send_example --backend anymail.backends.mailgun.EmailBackend \\
        --setting api_key=KEY --setting sender_domain=mg.example.com \\
        --from you@mg.example.com --to you@example.com
"""

import argparse
import json
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from anymail.backends.console import EmailBackend as AnymailConsoleBackend
from anymail.exceptions import AnymailConfigurationError, AnymailError
from anymail.message import AnymailStatus

from ...emails import build_example_message

DEFAULT_TO = ["Alice Example <alice@example.com>", "bob@example.com"]
DEFAULT_CC = ["Carol Example <carol@example.com>"]
DEFAULT_BCC = ["archive@example.com"]

# Backends that print messages, and take a stream to print them to
PRINTING_BACKENDS = (AnymailConsoleBackend, DjangoConsoleBackend)


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
        "through Anymail, and print the send status. Uses settings.EMAIL_BACKEND (the console "
        "backend, which only prints the message) unless you give --backend."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            metavar="DOTTED.PATH.EmailBackend",
            help="email backend to send through (default: settings.EMAIL_BACKEND)",
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

        backend = options["backend"] or settings.EMAIL_BACKEND
        backend_options = dict(options["backend_settings"])
        try:
            backend_class = import_string(backend)
            if isinstance(backend_class, type) and issubclass(backend_class, PRINTING_BACKENDS):
                backend_options.setdefault("stream", self.stdout)  # so call_command can capture
            connection = get_connection(backend, **backend_options)
            sent = connection.send_messages([message])
        except (AnymailError, AnymailConfigurationError) as error:
            # (Checked before ImportError: AnymailImproperlyInstalled is both.)
            raise CommandError(f"Sending failed: {one_line(str(error))} ({type(error).__name__})")
        except ImportError as error:
            raise CommandError(f"Can't load email backend {backend!r}: {one_line(str(error))}")

        self.stdout.write(f"Messages sent through {backend}: {sent}")
        self.stdout.write(format_status(message.anymail_status))
