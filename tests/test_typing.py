"""Typing: user code type-checks against Anymail with useful types, and the normalized event
values are string enums that still behave as the documented plain strings."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest
from datetime import datetime, timezone
from enum import Enum
from importlib import metadata
from pathlib import Path

from django.template import Context, Engine
from django.test import SimpleTestCase

from anymail.signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    _PlainStrEnum,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

UTC = timezone.utc  # (datetime.UTC is Python 3.11+)

# Each reveal_type() line says what mypy must show for it ("# expect: <text>"), and no
# revealed type may be (or contain) Any.
USER_CODE = """
import io
from typing import Any

from django.dispatch import receiver

from anymail.backends.console import EmailBackend as ConsoleBackend
from anymail.backends.mailgun import EmailBackend as MailgunBackend
from anymail.message import AnymailMessage
from anymail.signals import (
    AnymailInboundEvent,
    AnymailTrackingEvent,
    EventType,
    RejectReason,
    inbound,
    tracking,
)


@receiver(tracking)
def handle_tracking(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    reveal_type(event.event_type)  # expect: anymail.signals.EventType
    reveal_type(event.reject_reason)  # expect: anymail.signals.RejectReason | None
    reveal_type(event.timestamp)  # expect: datetime.datetime | None
    reveal_type(event.recipient)  # expect: str | None
    reveal_type(event.tags)  # expect: list[str]
    if event.event_type == EventType.BOUNCED and event.reject_reason == RejectReason.SPAM:
        print(f"{event.recipient} complained ({event.event_type})")
    if event.event_type == "clicked":  # the documented strings still compare equal
        print(event.click_url)


@receiver(inbound)
def handle_inbound(
    sender: object, event: AnymailInboundEvent, esp_name: str, **kwargs: Any
) -> None:
    message = event.message
    reveal_type(message)  # expect: anymail.inbound.AnymailInboundMessage | None
    if message is None:
        return
    reveal_type(message.attachments)  # expect: list[anymail.inbound.AnymailInboundMessage]
    reveal_type(message.attachments[0].get_filename())  # expect: str | None
    reveal_type(message.attachments[0].get_content_bytes())  # expect: bytes
    reveal_type(message.from_email)  # expect: anymail.addresses.EmailAddress | None
    reveal_type(message.text)  # expect: str | None


def send() -> None:
    message = AnymailMessage(
        subject="Hi",
        body="Hello",
        to=["a@x"],
        tags=["welcome"],
        metadata={"user_id": 42},
        track_clicks=True,
    )
    message.send()
    status = message.anymail_status
    reveal_type(status.recipients)  # expect: dict[str, anymail.message.AnymailRecipientStatus]
    reveal_type(status.recipients["a@x"].status)  # expect: str
    reveal_type(status.recipients["a@x"].message_id)  # expect: str | None
    reveal_type(status.status)  # expect: set[str] | None
    reveal_type(message.tags)  # expect: list[str] | None


def backend() -> None:
    reveal_type(MailgunBackend(api_key="key"))  # expect: anymail.backends.mailgun.EmailBackend
    # Each backend's options are typed (USER_MISTAKES has the misspelled and mistyped ones)
    MailgunBackend(api_key="k", sender_domain="mg.example.com")
    MailgunBackend(api_key="k", requests_timeout=(3.05, 27), fail_silently=True, alias="eu")
    ConsoleBackend(stream=io.StringIO(), send_defaults={"tags": ["dev"]})
"""

# Mistakes a type checker should catch in user code (each line alone in a file)
USER_MISTAKES = {
    'AnymailMessage(tag=["misspelled"])': 'Unexpected keyword argument "tag"',
    'AnymailMessage(track_clicks="yes")': 'Argument "track_clicks" to "AnymailMessage"',
    # (an event's reject_reason may be None)
    "AnymailTrackingEvent(EventType.SENT).reject_reason.upper()": 'Item "None" of',
    # a backend's options (MAILERS OPTIONS, or get_connection() keywords)
    'MailgunBackend(api_kee="k")': 'Unexpected keyword argument "api_kee" for "EmailBackend"',
    'MailgunBackend(requests_timeout="30")': 'Argument "requests_timeout" to "EmailBackend"',
}


def mypy_available() -> bool:
    if importlib.util.find_spec("mypy") is None:
        return False
    try:
        metadata.version("django-stubs")
    except metadata.PackageNotFoundError:
        return False
    return True


def run_mypy(code: str, directory: str) -> tuple[int, str]:
    path = os.path.join(directory, "user_code.py")
    with open(path, "w", encoding="utf-8") as file:
        file.write(code)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mypy.ini"),
            "--cache-dir",
            os.path.join(directory, "mypy_cache"),
            "--no-error-summary",
            "--hide-error-context",
            path,
        ],
        cwd=REPO_ROOT,  # (so "anymail" is this checkout)
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


@unittest.skipUnless(mypy_available(), "mypy and django-stubs aren't installed")
class UserCodeTypeCheckTests(SimpleTestCase):
    """mypy --strict on a user's code: it passes, and the types it sees are useful."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.tempdir = tempfile.TemporaryDirectory()
        cls.returncode, cls.output = run_mypy(USER_CODE, cls.tempdir.name)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tempdir.cleanup()
        super().tearDownClass()

    def test_user_code_passes_mypy_strict(self) -> None:
        errors = [line for line in self.output.splitlines() if ": error:" in line]
        self.assertEqual(errors, [], self.output)
        self.assertEqual(self.returncode, 0, self.output)

    def test_revealed_types_are_useful(self) -> None:
        revealed = {
            int(line_number): revealed_type
            for line_number, revealed_type in re.findall(
                r'user_code\.py:(\d+): note: Revealed type is "(.*)"', self.output
            )
        }
        expectations = {
            number: line.split("# expect: ", 1)[1].strip()
            for number, line in enumerate(USER_CODE.splitlines(), start=1)
            if "# expect: " in line
        }
        self.assertEqual(len(expectations), 17)  # (so a change to USER_CODE can't skip them)
        for number, expected in expectations.items():
            with self.subTest(expected):
                self.assertIn(number, revealed, self.output)
                # mypy may spell builtins with or without the module ("builtins.str")
                self.assertEqual(revealed[number].replace("builtins.", ""), expected)
                self.assertNotRegex(revealed[number], r"\bAny\b")

    def test_mistakes_are_caught(self) -> None:
        for mistake, expected_error in USER_MISTAKES.items():
            with self.subTest(mistake), tempfile.TemporaryDirectory() as directory:
                code = textwrap.dedent(
                    f"""\
                    from anymail.backends.mailgun import EmailBackend as MailgunBackend
                    from anymail.message import AnymailMessage
                    from anymail.signals import AnymailTrackingEvent, EventType

                    {mistake}
                    """
                )
                returncode, output = run_mypy(code, directory)
                self.assertEqual(returncode, 1, output)
                self.assertIn(expected_error, output)


class StringEnumTests(SimpleTestCase):
    """EventType and RejectReason members are the documented strings, in every way that shows."""

    def test_members_equal_the_documented_strings(self) -> None:
        documented_event_types = {
            "queued", "sent", "rejected", "failed", "bounced", "deferred", "delivered",
            "autoresponded", "opened", "clicked", "complained", "unsubscribed", "subscribed",
            "inbound", "inbound_failed", "unknown",
        }  # fmt: skip
        documented_reject_reasons = {
            "invalid", "bounced", "timed_out", "blocked", "spam", "unsubscribed", "other",
        }  # fmt: skip
        self.assertEqual(set(EventType), documented_event_types)
        self.assertEqual(set(RejectReason), documented_reject_reasons)
        for member in [*EventType, *RejectReason]:
            with self.subTest(member=member.name):
                self.assertIsInstance(member, str)
                self.assertEqual(member, member.value)
                self.assertEqual(member.value, member.name.lower())
                self.assertEqual(hash(member), hash(member.value))  # (as dict keys, too)
        self.assertEqual(EventType.SENT, "sent")
        self.assertNotEqual(EventType.SENT, "SENT")
        self.assertEqual({"bounced": 1}[RejectReason.BOUNCED], 1)

    def test_str_and_format_give_the_plain_value(self) -> None:
        for member in [EventType.INBOUND_FAILED, RejectReason.TIMED_OUT]:
            with self.subTest(member=member.name):
                value = member.value
                self.assertEqual(str(member), value)
                self.assertEqual(f"{member}", value)
                self.assertEqual(f"{member:>20}", f"{value:>20}")
                self.assertEqual("{}".format(member), value)  # noqa: UP032 (format() itself)
                self.assertEqual("%s" % member, value)  # noqa: UP031 (%-formatting itself)
                self.assertEqual(format(member), value)
                self.assertIs(type(str(member)), str)
                rendered = Engine().from_string("{{ value }}").render(Context({"value": member}))
                self.assertEqual(rendered, value)

    def test_python_310_fallback_behaves_like_strenum(self) -> None:
        # (On 3.11+ the enums are enum.StrEnum; this is what they are on 3.10.)
        class Color(_PlainStrEnum):
            RED = "red"

        self.assertTrue(issubclass(Color, str) and issubclass(Color, Enum))
        self.assertEqual(Color.RED, "red")
        self.assertEqual(str(Color.RED), "red")
        self.assertEqual(f"{Color.RED}", "red")
        self.assertEqual(f"{Color.RED:^7}", "  red  ")
        self.assertEqual("%s" % Color.RED, "red")  # noqa: UP031 (%-formatting itself)
        self.assertEqual(json.dumps(Color.RED), '"red"')

    def test_members_pickle_and_copy_as_themselves(self) -> None:
        for member in [EventType.CLICKED, RejectReason.SPAM]:
            for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                with self.subTest(member=member.name, protocol=protocol):
                    self.assertIs(pickle.loads(pickle.dumps(member, protocol)), member)
            self.assertIs(copy.deepcopy(member), member)

    def test_events_pickle_with_their_enum_fields(self) -> None:
        event = AnymailTrackingEvent(
            event_type="bounced", reject_reason="spam", recipient="a@example.com"
        )
        restored = pickle.loads(pickle.dumps(event))
        self.assertIs(restored.event_type, EventType.BOUNCED)
        self.assertIs(restored.reject_reason, RejectReason.SPAM)
        self.assertEqual(restored.recipient, "a@example.com")

    def test_event_fields_dump_as_json(self) -> None:
        event = AnymailTrackingEvent(
            event_type=EventType.BOUNCED,
            timestamp=datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC),
            reject_reason=RejectReason.TIMED_OUT,
            recipient="a@example.com",
            tags=["welcome"],
            metadata={"user_id": 42},
        )
        fields = {key: value for key, value in vars(event).items() if key != "esp_event"}
        dumped = json.loads(json.dumps(fields, default=str))
        self.assertEqual(dumped["event_type"], "bounced")
        self.assertEqual(dumped["reject_reason"], "timed_out")
        self.assertEqual(dumped["timestamp"], "2024-03-04 05:06:07+00:00")
        self.assertEqual(dumped["metadata"], {"user_id": 42})
        self.assertEqual(json.dumps({"type": EventType.OPENED}), '{"type": "opened"}')
        self.assertEqual(json.dumps([RejectReason.OTHER]), '["other"]')

    def test_strings_given_to_events_become_members(self) -> None:
        event = AnymailTrackingEvent(event_type="delivered", reject_reason="blocked")
        self.assertIs(event.event_type, EventType.DELIVERED)
        self.assertIs(event.reject_reason, RejectReason.BLOCKED)
        self.assertIs(AnymailInboundEvent().event_type, EventType.INBOUND)
        self.assertIs(AnymailInboundEvent("inbound_failed").event_type, EventType.INBOUND_FAILED)
        self.assertIsNone(AnymailTrackingEvent("delivered").reject_reason)

    def test_undocumented_strings_become_unknown_and_other(self) -> None:
        # Receivers only ever see the documented values (as with an ESP event Anymail can't
        # normalize); the ESP's own data is still in esp_event
        event = AnymailTrackingEvent(
            event_type="delivered-ish", reject_reason="mailbox-on-fire", esp_event={"raw": 1}
        )
        self.assertIs(event.event_type, EventType.UNKNOWN)
        self.assertIs(event.reject_reason, RejectReason.OTHER)
        self.assertEqual(event.esp_event, {"raw": 1})
        self.assertIs(AnymailTrackingEvent("SENT").event_type, EventType.UNKNOWN)  # (exact)
