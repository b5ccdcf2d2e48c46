"""Helpers for your own tests of code that sends or receives email through Anymail.

Import them in your test modules (this module imports nothing at Django startup)::

    from anymail.testing import assert_sent, simulate_esp_response, use_test_backend, webhook_post

* ``use_test_backend``: swaps Anymail's test backend in for every mailer (Django 6.1's
  ``MAILERS``) or for ``EMAIL_BACKEND`` (earlier Djangos, or no ``MAILERS``), so the same test
  works on every Django Anymail supports.
* ``sent_messages``, ``last_sent_message``, ``sent_params`` and ``assert_sent``: what the test
  backend recorded, with failure messages that say what differs.
* ``simulate_esp_response``: the ESP's answer (an API error, or per-recipient statuses) for
  every message sent while it's active, to test your failure paths.
* ``webhook_post``: posts a payload to one of Anymail's webhook urls with the authentication
  (basic auth, and Mailgun's or Mandrill's signature) that a real ESP call would have.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import secrets
import uuid
import warnings
from collections.abc import Callable, Mapping
from hashlib import sha256
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.core import mail
from django.test import Client, RequestFactory
from django.test.utils import TestContextDecorator, override_settings
from django.urls import NoReverseMatch, reverse

from .addresses import EmailAddress, parse_address_list
from .conf import get_anymail_setting
from .exceptions import AnymailAPIError, AnymailConfigurationError
from .signals import pre_send

if TYPE_CHECKING:
    # What Django's test client returns: an HttpResponse, plus the test client's additions
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

__all__ = [
    "TEST_BACKEND",
    "assert_sent",
    "last_sent_message",
    "sent_messages",
    "sent_params",
    "simulate_esp_response",
    "use_test_backend",
    "webhook_post",
]

TEST_BACKEND = "anymail.backends.test.EmailBackend"
LOCMEM_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

#: Mailer OPTIONS every Anymail backend (the test backend included) understands: kept when
#: use_test_backend() replaces a mailer's BACKEND. ESP-specific ones (credentials, a sender
#: domain...) are dropped: the test backend would refuse them as unknown options.
SHARED_OPTIONS = frozenset(
    {
        "send_defaults",
        "esp_send_defaults",
        "ignore_recipient_status",
        "ignore_unsupported_features",
        "debug_api_requests",
    }
)


# --- Swapping in the test backend ---


def uses_mailers() -> bool:
    """Whether email goes through Django 6.1's MAILERS (rather than EMAIL_BACKEND)."""
    return hasattr(mail, "mailers") and hasattr(settings, "MAILERS")


def runner_saved_mailers() -> Mapping[str, Any]:
    """MAILERS as settings.py had it, before Django's test runner made every mailer locmem.

    (setup_test_environment() keeps the original in django.test.utils._TestState; this is
    the only place left that has each mailer's OPTIONS.)
    """
    from django.test import utils

    saved = getattr(getattr(utils, "_TestState", None), "saved_data", None)
    mailers = getattr(saved, "mailers", None)
    return mailers if isinstance(mailers, Mapping) else {}


def mailer_with_test_backend(alias: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The MAILERS entry that sends alias's messages through the test backend instead."""
    if dict(config) == {"BACKEND": LOCMEM_BACKEND}:
        # Most likely the test runner's stand-in: the settings' own entry has the OPTIONS
        config = runner_saved_mailers().get(alias, config)
    options = {
        name: value
        for name, value in (config.get("OPTIONS") or {}).items()
        if str(name).lower() in SHARED_OPTIONS
    }
    return {"BACKEND": TEST_BACKEND, **({"OPTIONS": options} if options else {})}


class use_test_backend(TestContextDecorator):  # (named like override_settings)
    """Send every message through Anymail's test backend, on any Django.

    A decorator for a test function or a ``TestCase`` class (applied around each test), or a
    context manager. With Django 6.1's ``MAILERS``, every mailer alias gets the test backend,
    keeping the OPTIONS that all Anymail backends share (``send_defaults``,
    ``ignore_recipient_status``...) and dropping ESP-specific ones; otherwise it sets
    ``EMAIL_BACKEND``. The settings are read when each test starts, so this also replaces the
    locmem backend Django's test runner puts in, and any ``override_settings`` applied outside.
    """

    def __init__(self) -> None:
        super().__init__()
        self._overrides: list[override_settings] = []

    def overridden_settings(self) -> dict[str, Any]:
        """The settings to override, computed from the current ones."""
        if uses_mailers():
            return {
                "MAILERS": {
                    alias: mailer_with_test_backend(alias, config)
                    for alias, config in settings.MAILERS.items()
                }
            }
        return {"EMAIL_BACKEND": TEST_BACKEND}

    def enable(self) -> None:
        override = override_settings(**self.overridden_settings())
        with warnings.catch_warnings():
            # Django 6.1 warns about setting EMAIL_BACKEND; the project already sets it
            warnings.filterwarnings("ignore", message="The EMAIL_BACKEND setting is deprecated")
            override.enable()
        self._overrides.append(override)

    def disable(self) -> None:
        self._overrides.pop().disable()


# --- What was sent ---


def sent_messages() -> list[Any]:
    """Every message sent so far in this test (Django's ``mail.outbox``), oldest first."""
    return list(getattr(mail, "outbox", None) or [])


def last_sent_message() -> Any:
    """The most recently sent message; AssertionError if none was sent."""
    messages = sent_messages()
    if not messages:
        raise AssertionError("No message was sent (django.core.mail.outbox is empty)")
    return messages[-1]


def sent_params(message: Any = None) -> dict[str, Any]:
    """What the test backend would have sent the ESP for message (default: the last sent).

    The message's ``anymail_test_params``: an AssertionError explains a message that didn't
    go through the test backend.
    """
    if message is None:
        message = last_sent_message()
    params: dict[str, Any] | None = getattr(message, "anymail_test_params", None)
    if params is None:
        raise AssertionError(
            f"{describe(message)} wasn't sent through Anymail's test backend (it has no "
            "anymail_test_params): wrap the test in anymail.testing.use_test_backend"
        )
    return params


ADDRESS_PARAMS = {"from", "to", "cc", "bcc", "reply_to"}


def assert_sent(message: Any = None, *, count: int | None = None, **expected: Any) -> Any:
    """Check what the test backend sent the (imaginary) ESP; return the message.

    Checks the last message sent, unless given one. Each keyword is a key of its
    ``anymail_test_params`` (``tags``, ``metadata``, ``merge_data``, ``template_id``,
    ``subject``...; ``from_email`` for ``from``); None expects the key to be absent (not set).
    Addresses may be given as strings: "ana@example.com" matches whatever display name was
    sent, "Ana <ana@example.com>" only that one. ``count`` checks how many were sent in all.
    Every difference is listed in the AssertionError.
    """
    if count is not None and len(sent_messages()) != count:
        raise AssertionError(
            f"Expected {count} message{'s' if count != 1 else ''} sent, but "
            f"{len(sent_messages())} {'was' if len(sent_messages()) == 1 else 'were'} sent"
            + "".join(f"\n  {describe(sent)}" for sent in sent_messages())
        )
    if message is None:
        if count == 0:
            return None
        message = last_sent_message()
        which = "The last message sent"
    else:
        which = "The message"
    params = sent_params(message)
    problems = []
    for name, want in expected.items():
        key = "from" if name == "from_email" else name
        have = params.get(key)
        if key in ADDRESS_PARAMS and want is not None and have is not None:
            matched = addresses_match(have, want)
            shown_have = address_text(have)
        else:
            matched = (have is None) if want is None else (key in params and have == want)
            shown_have = repr(have)
        if not matched:
            sent = "not set" if key not in params else f"sent {shown_have}"
            wanted = "not set" if want is None else f"{want!r}"
            problems.append(f"  {key}: expected {wanted}, {sent}{differences(have, want)}")
    if problems:
        raise AssertionError(
            f"{which} ({describe(message)}) doesn't match:\n" + "\n".join(problems)
        )
    return message


def addresses_match(have: Any, want: Any) -> bool:
    have_list = [have] if isinstance(have, EmailAddress) else list(have)
    want_list = [want] if isinstance(want, (str, EmailAddress)) else list(want)
    if len(have_list) != len(want_list):
        return False
    for sent, wanted in zip(have_list, want_list, strict=True):
        if not isinstance(wanted, EmailAddress):
            try:
                parsed = parse_address_list(str(wanted))
            except ValueError:
                return False
            if len(parsed) != 1:
                return False
            wanted = parsed[0]
        if sent.addr_spec.lower() != wanted.addr_spec.lower():
            return False
        if wanted.display_name and sent.display_name != wanted.display_name:
            return False
    return True


def address_text(value: Any) -> str:
    if isinstance(value, EmailAddress):
        return repr(str(value))
    return repr([str(address) for address in value])


def differences(have: Any, want: Any) -> str:
    """For two dicts, which keys differ (a long dict's repr hides that)."""
    if not (isinstance(have, dict) and isinstance(want, dict)):
        return ""
    missing = sorted(map(str, want.keys() - have.keys()))
    unexpected = sorted(map(str, have.keys() - want.keys()))
    changed = sorted(str(key) for key in want.keys() & have.keys() if want[key] != have[key])
    parts = [
        f"{label} {', '.join(keys)}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("differ", changed))
        if keys
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def describe(message: Any) -> str:
    """A short description of a sent message, to say which one an assertion was about."""
    messages = sent_messages()
    position = next((n for n, sent in enumerate(messages, 1) if sent is message), None)
    where = f"message {position} of {len(messages)}" if position else "a message"
    subject, to = getattr(message, "subject", None), getattr(message, "to", None)
    return f"{where}, subject {subject!r}, to {to!r}"


# --- Simulating the ESP's answer ---


class simulate_esp_response(TestContextDecorator):  # (named like override_settings)
    """Have the test backend answer as your ESP might: an API error, or recipient statuses.

    For every message the test backend sends while active (a decorator or context manager):

    * ``error``: an AnymailAPIError (or its message, as a str) raised from ``send()``;
    * otherwise each recipient gets ``status`` ("sent", "queued", "rejected", "invalid"...),
      or its own from ``recipients`` ({address: status}), so a partly rejected send is easy.

    ``times`` limits it to the next that many messages (e.g. an outage that a retry
    survives); later ones are sent normally. A message's own ``anymail_test_response`` wins.
    """

    def __init__(
        self,
        status: str = "sent",
        *,
        recipients: Mapping[str, str] | None = None,
        error: AnymailAPIError | str | None = None,
        times: int | None = None,
    ) -> None:
        super().__init__()
        self.status = status
        self.recipients = {email.lower(): value for email, value in (recipients or {}).items()}
        self.error = error
        self.times = times
        self._active: list[tuple[Callable[..., None], list[Any]]] = []

    def response_for(self, message: Any) -> Any:
        """The anymail_test_response the test backend reads (see anymail/backends/test.py)."""
        if self.error is not None:
            if isinstance(self.error, AnymailAPIError):
                return copy.copy(self.error)  # (each raise gets its own traceback)
            return AnymailAPIError(str(self.error), esp_name="Test")
        statuses = {}
        for field in ("to", "cc", "bcc"):
            for address in parse_address_list(getattr(message, field, None) or [], field):
                statuses[address.addr_spec] = self.recipients.get(
                    address.addr_spec.lower(), self.status
                )
        return {"recipient_status": statuses}

    def enable(self) -> None:
        from .backends.test import EmailBackend as TestEmailBackend

        touched: list[Any] = []
        remaining = [self.times]

        def set_response(sender: Any, message: Any, **kwargs: Any) -> None:
            if not (isinstance(sender, type) and issubclass(sender, TestEmailBackend)):
                return
            own = getattr(message, "anymail_test_response", None)
            if own is not None and own is not getattr(message, "_anymail_simulated", None):
                return  # the test set this message's response itself
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    forget_simulated_response(message)
                    return
                remaining[0] -= 1
            response = self.response_for(message)
            message.anymail_test_response = response
            message._anymail_simulated = response
            touched.append(message)

        pre_send.connect(set_response, weak=False)
        self._active.append((set_response, touched))

    def disable(self) -> None:
        receiver, touched = self._active.pop()
        pre_send.disconnect(receiver)
        for message in touched:  # so a message sent again later isn't answered the same way
            forget_simulated_response(message)


def forget_simulated_response(message: Any) -> None:
    simulated = message.__dict__.pop("_anymail_simulated", None)
    if simulated is not None and getattr(message, "anymail_test_response", None) is simulated:
        del message.anymail_test_response


# --- Posting to Anymail's webhooks ---

#: ESP (as in anymail.urls) -> kinds of webhook it has
WEBHOOK_KINDS = {
    "amazon_ses": ("tracking", "inbound"),
    "mailgun": ("tracking", "inbound"),
    "mailjet": ("tracking", "inbound"),
    "mandrill": ("tracking", "inbound"),
    "postmark": ("tracking", "inbound"),
    "sendgrid": ("tracking", "inbound"),
    "sendinblue": ("tracking",),
    "sparkpost": ("tracking", "inbound"),
}
PLACEHOLDER_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:anymail-test"


class _Unset:
    def __repr__(self) -> str:
        return "<from settings>"


FROM_SETTINGS: Any = _Unset()


def webhook_post(
    client: Client,
    esp: str,
    kind: str = "tracking",
    payload: Any = None,
    *,
    form: bool | None = None,
    basic_auth: str | None = FROM_SETTINGS,
    signing_key: str | None = FROM_SETTINGS,
    url: str | None = None,
    **extra: Any,
) -> TestResponse:
    """Post payload to Anymail's ``esp`` ``kind`` webhook as the ESP would; return the response.

    ``client`` is Django's test client (``self.client``). The request has the basic auth from
    WEBHOOK_SECRET (or ``basic_auth="user:password"``; None for none), and, for Mailgun and
    Mandrill, a valid signature with the key from your settings (or ``signing_key``): every
    call is a new one to their replay checks (Mailgun: a fresh token and the current time).
    The payload is the ESP's JSON, except where the ESP posts a form (Mandrill, SendGrid and
    Mailgun inbound; Mailgun tracking with ``form=True``): a dict of fields (values may be
    files). Conveniences: a Mailgun tracking payload may be just its "event-data"; Mandrill's
    may be the list of events; Amazon SES's may be the SES record, which is wrapped in an SNS
    notification (your test settings must turn off AMAZON_SES_VERIFY_SNS_SIGNATURES, since
    only Amazon can sign one). ``url`` defaults to the url ``anymail.urls`` gives the webhook;
    ``extra`` goes to ``client.post`` (e.g., ``secure=True``, ``headers={...}``).
    """
    if esp not in WEBHOOK_KINDS:
        raise ValueError(f"Unknown ESP {esp!r}: expected one of {', '.join(WEBHOOK_KINDS)}")
    if kind not in WEBHOOK_KINDS[esp]:
        raise ValueError(
            f"Anymail's {esp} webhooks are {' and '.join(WEBHOOK_KINDS[esp])}, not {kind!r}"
        )
    if url is None:
        url = webhook_url(esp, kind)
    if basic_auth is FROM_SETTINGS:
        secret = get_anymail_setting("webhook_secret", default=None)
        basic_auth = secret if isinstance(secret, str) or not secret else next(iter(secret))
    if basic_auth:
        token = base64_text(basic_auth)
        extra.setdefault("HTTP_AUTHORIZATION", f"Basic {token}")
    if form is None:
        form = esp == "mandrill" or (kind == "inbound" and esp in ("mailgun", "sendgrid"))

    if esp == "mailgun":
        return post_mailgun(client, url, kind, payload, form, signing_key, extra)
    if esp == "mandrill":
        return post_mandrill(client, url, payload, signing_key, extra)
    if esp == "amazon_ses":
        payload = sns_notification(payload)
        extra.setdefault("HTTP_X_AMZ_SNS_MESSAGE_TYPE", payload.get("Type", "Notification"))
    return post_payload(client, url, payload, form, extra)


def webhook_url(esp: str, kind: str) -> str:
    name = "mandrill_webhook" if esp == "mandrill" else f"{esp}_{kind}_webhook"
    try:
        return reverse(name)
    except NoReverseMatch:
        raise AnymailConfigurationError(
            f"No url named {name!r}: include anymail.urls in your urlconf (e.g., "
            'path("anymail/", include("anymail.urls"))), or pass url=... to webhook_post'
        ) from None


def base64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def post_payload(
    client: Client, url: str, payload: Any, form: bool, extra: dict[str, Any]
) -> TestResponse:
    if form:
        return client.post(url, payload or {}, **extra)  # multipart/form-data
    if isinstance(payload, (str, bytes)):
        return client.post(url, payload, content_type="application/json", **extra)
    return client.post(url, json.dumps(payload), content_type="application/json", **extra)


def post_mailgun(
    client: Client,
    url: str,
    kind: str,
    payload: Any,
    form: bool,
    signing_key: str | None,
    extra: dict[str, Any],
) -> TestResponse:
    from .webhooks import mailgun

    if signing_key is FROM_SETTINGS:
        signing_key = get_anymail_setting(
            "webhook_signing_key", esp_name="Mailgun", default=None
        ) or get_anymail_setting("api_key", esp_name="Mailgun", default=None, allow_bare=True)
    if not signing_key:
        raise AnymailConfigurationError(
            "webhook_post can't sign a Mailgun webhook: set MAILGUN_WEBHOOK_SIGNING_KEY (or "
            "MAILGUN_API_KEY) in your test settings, or pass signing_key=..."
        )
    # A new call each time, as Mailgun's replay checks expect: fresh token, current time
    timestamp = str(int(mailgun.current_time()))
    token = secrets.token_hex(25)
    signature = hmac.new(
        str(signing_key).encode("utf-8"), f"{timestamp}{token}".encode(), sha256
    ).hexdigest()
    fields = {"timestamp": timestamp, "token": token, "signature": signature}
    payload = dict(payload or {})
    if form:
        return post_payload(client, url, {**payload, **fields}, True, extra)
    if kind == "tracking" and "event-data" not in payload:
        payload = {"event-data": payload}
    payload["signature"] = fields
    return post_payload(client, url, payload, False, extra)


def post_mandrill(
    client: Client, url: str, payload: Any, signing_key: str | None, extra: dict[str, Any]
) -> TestResponse:
    from .webhooks.mandrill import MandrillCombinedWebhookView, mandrill_signature
    from .webhooks.replay import cache_key, webhook_cache

    if not isinstance(payload, Mapping):
        payload = {"mandrill_events": json.dumps(payload if payload is not None else [])}
    body = urlencode(payload, doseq=True)
    content_type = "application/x-www-form-urlencoded"
    # Sign the url exactly as the view will reconstruct it (MANDRILL_WEBHOOK_URL, or the
    # request's own url, with the basic auth credentials put back in)
    view = MandrillCombinedWebhookView()
    probe = RequestFactory(**getattr(client, "defaults", {})).post(
        url, body, content_type=content_type, **extra
    )
    key = view.webhook_key if signing_key is FROM_SETTINGS else signing_key
    if not key:
        raise AnymailConfigurationError(
            "webhook_post can't sign a Mandrill webhook: set MANDRILL_WEBHOOK_KEY in your test "
            "settings, or pass signing_key=..."
        )
    signature = mandrill_signature(key, view.signed_url(probe), probe.POST)
    # Mandrill's replay check refuses a call it has handled: this is a new one
    cast(Any, webhook_cache)().delete(cache_key("mandrill-signature", signature))
    extra.setdefault("HTTP_X_MANDRILL_SIGNATURE", signature)
    return client.post(url, body, content_type=content_type, **extra)


def sns_notification(payload: Any) -> dict[str, Any]:
    """An SNS message (Amazon SES's webhooks' format) for payload, wrapping an SES record."""
    if get_anymail_setting("verify_sns_signatures", esp_name="Amazon SES", default=True):
        raise AnymailConfigurationError(
            "webhook_post can't sign an Amazon SNS message (only Amazon can): set "
            'ANYMAIL = {..., "AMAZON_SES_VERIFY_SNS_SIGNATURES": False} in your test settings'
        )
    if isinstance(payload, Mapping) and "Type" in payload:
        return dict(payload)  # already an SNS message
    topics = get_anymail_setting("sns_topic_arns", esp_name="Amazon SES", default=None)
    if isinstance(topics, str):
        topics = [topics]
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": next(iter(topics)) if topics else PLACEHOLDER_TOPIC_ARN,
        "Message": payload if isinstance(payload, str) else json.dumps(payload),
        "Timestamp": "2024-01-01T00:00:00.000Z",
    }
