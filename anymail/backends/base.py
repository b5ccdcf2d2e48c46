"""The send pipeline every Anymail backend shares, and the payload builder ESPs fill in.

An ESP backend subclasses ``AnymailBaseBackend`` (settings, ``build_message_payload``,
``post_to_esp``, ``parse_recipient_status``) and ``BasePayload`` (one ``set_*`` or ``add_*``
method per feature it supports). Everything else happens here, once: send defaults, signals,
address and header rules, unsupported-feature refusal, recipient status and error handling.
"""

from __future__ import annotations

import difflib
import json
import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, cast

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import BadHeaderError
from django.utils.encoding import force_str
from requests.structures import CaseInsensitiveDict

from ..addresses import EmailAddress, parse_address_list, parse_single_address
from ..attachments import Attachment
from ..conf import UNSET, get_anymail_setting
from ..exceptions import (
    AnymailCancelSend,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailUnsupportedFeature,
)
from ..lazy import force_non_lazy
from ..message import AnymailRecipientStatus, AnymailStatus
from ..serialization import check_serializable, serialize_json
from ..signals import post_send, pre_send
from ..timestamps import aware_send_at

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

REFUSED_STATUSES = {"invalid", "rejected"}

#: Keyword args Django itself passes to (or reads from) email backends
DJANGO_BACKEND_KWARGS = frozenset({"username", "password", "alias", "_ignore_unknown_kwargs"})


class AnymailBackendOptions(TypedDict, total=False):
    """Keyword args (or MAILERS OPTIONS) every Anymail backend takes.

    Typed, so a type checker catches a misspelled or wrongly typed option in user code. Each
    backend's own TypedDict extends this (or a subclass) with the settings it reads.
    """

    send_defaults: dict[str, Any] | None
    esp_send_defaults: dict[str, Any] | None
    ignore_unsupported_features: bool
    ignore_recipient_status: bool
    debug_api_requests: bool
    fail_silently: bool
    # Django's own (see DJANGO_BACKEND_KWARGS): send_mail's auth_user/auth_password, the
    # MAILERS alias, and what Django 6.1's get_connection() tells the backend to ignore
    username: str | None
    password: str | None
    alias: str | None
    _ignore_unknown_kwargs: set[str] | None


logger = logging.getLogger("anymail.backends")

#: The payload class a backend builds (so its hooks can take that class, for type checkers)
PayloadT = TypeVar("PayloadT", bound="BasePayload")


class AnymailBaseBackend(BaseEmailBackend, Generic[PayloadT]):
    """Django EmailBackend that sends each message through an ESP payload."""

    esp_name = "Anymail"  #: Shown in errors and signals; also the settings prefix ("Mailgun")

    def __init__(self, **kwargs: Unpack[AnymailBackendOptions]) -> None:
        # (the same dict: get_anymail_setting() pops each setting it reads from it)
        options = cast("dict[str, Any]", kwargs)
        fail_silently = options.pop("fail_silently", False)
        self.ignore_unsupported_features = get_anymail_setting(
            "ignore_unsupported_features", default=False, kwargs=options
        )
        self.ignore_recipient_status = get_anymail_setting(
            "ignore_recipient_status", default=False, kwargs=options
        )
        self.debug_api_requests = get_anymail_setting(
            "debug_api_requests", default=False, kwargs=options
        )
        send_defaults = get_anymail_setting("send_defaults", default={}, kwargs=options)
        esp_send_defaults = options.pop("esp_send_defaults", UNSET)
        if esp_send_defaults is UNSET:
            esp_send_defaults = get_anymail_setting(
                "send_defaults", default={}, esp_name=self.esp_name
            )
        # ESP-specific defaults replace (not merge with) the global value for the same key
        self.send_defaults: dict[str, Any] = {**(send_defaults or {}), **(esp_send_defaults or {})}
        # What's left should be Django's: send_mail's username/password, Django 6.1's alias
        # (Under Django 6.1's MAILERS, Django itself refuses unknown OPTIONS, naming the alias)
        unknown = set(options) - DJANGO_BACKEND_KWARGS
        if unknown and options.get("alias") is None:
            raise TypeError(unknown_kwargs_message(type(self), unknown))
        super().__init__(**options)
        self.fail_silently = fail_silently

    # open() and close() are no-ops here; backends with connections override them.
    def open(self) -> bool:
        """Open any connection; return True if this call opened it (so must close it)."""
        return False

    def close(self) -> None:
        pass

    def send_messages(self, email_messages: Iterable[Any]) -> int:
        """Send each message, reusing one connection; return how many were sent."""
        email_messages = list(email_messages or [])
        if not email_messages:
            return 0
        try:
            created_connection = self.open()
        except AnymailError:
            if self.fail_silently:
                return 0
            raise
        num_sent = 0
        try:
            for message in email_messages:
                try:
                    if self._send(message):
                        num_sent += 1
                except AnymailError:
                    if not self.fail_silently:
                        raise
        finally:
            if created_connection:
                self.close()
        return num_sent

    def _send(self, message: Any) -> bool:
        message.anymail_status = AnymailStatus()
        if not self.run_pre_send(message):
            return False  # cancelled by a pre_send receiver
        if not message.recipients():
            return False  # as Django's own backends do
        payload = self.build_message_payload(message, self.send_defaults)
        response = self.post_to_esp(payload, message)
        message.anymail_status.esp_response = response
        recipient_status = self.parse_recipient_status(response, payload, message)
        message.anymail_status.set_recipient_status(recipient_status)
        self.run_post_send(message)
        self.raise_for_recipient_status(message.anymail_status, response, payload, message)
        return True

    def run_pre_send(self, message: Any) -> bool:
        """Send pre_send; False if a receiver cancelled the message."""
        try:
            pre_send.send(self.__class__, message=message, esp_name=self.esp_name)
        except AnymailCancelSend:
            return False
        return True

    def run_post_send(self, message: Any) -> None:
        """Send post_send to every receiver; log (don't raise) a receiver's error.

        The message has already been sent: raising would make the caller think it wasn't (and
        perhaps send it again), and would defeat fail_silently.
        """
        results = post_send.send_robust(
            self.__class__, message=message, status=message.anymail_status, esp_name=self.esp_name
        )
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.error(
                    "Error in post_send receiver %s, after %s sent the message (message_id %s)",
                    getattr(receiver, "__qualname__", receiver),
                    self.esp_name,
                    message.anymail_status.message_id,
                    exc_info=(type(result), result, result.__traceback__),
                )

    def raise_for_recipient_status(
        self, status: AnymailStatus, response: Any, payload: Any, message: Any
    ) -> None:
        if self.ignore_recipient_status or not status.status:
            return
        if status.status <= REFUSED_STATUSES:
            refused = ", ".join(
                f"{email} ({recipient.status})" for email, recipient in status.recipients.items()
            )
            raise AnymailRecipientsRefused(
                f"{self.esp_name} refused every recipient of the message: {refused}. "
                "(Set ANYMAIL_IGNORE_RECIPIENT_STATUS = True to treat this as sent.)",
                backend=self,
                email_message=message,
                payload=payload,
                response=response,
            )

    # The three hooks an ESP backend implements:

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> PayloadT:
        """Return the ESP's payload object for message (usually ``SomePayload(...)``)."""
        raise NotImplementedError(f"{self.__class__.__name__} must implement build_message_payload")

    def post_to_esp(self, payload: PayloadT, message: Any) -> Any:
        """Call the ESP's send API; return its response, or raise AnymailAPIError."""
        raise NotImplementedError(f"{self.__class__.__name__} must implement post_to_esp")

    def parse_recipient_status(
        self, response: Any, payload: PayloadT, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """Map each recipient's addr_spec to its AnymailRecipientStatus, from the response."""
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement parse_recipient_status"
        )


class BasePayload:
    """Reads a message (merged with send defaults) and calls the ESP's ``set_*`` methods.

    Every optional feature's method below refuses the feature; an ESP supports a feature by
    overriding its method. (So ``supported_features()`` is also the ESP's feature matrix.)
    List-valued attributes go through a chain of hooks, so a payload can override whichever
    level suits its API: ``set_to``/``set_cc``/``set_bcc`` -> ``set_recipients(type, emails)``
    -> ``add_recipient(type, email)``; ``set_attachments`` -> ``add_attachment``;
    ``set_alternatives`` -> ``set_html_body`` or ``add_alternative``.
    """

    def __init__(
        self, message: Any, defaults: dict[str, Any], backend: AnymailBaseBackend[Any]
    ) -> None:
        self.message = message
        self.defaults = defaults
        self.backend = backend
        self.esp_name = backend.esp_name
        self.all_recipients: list[EmailAddress] = []  # to + cc + bcc, as parsed
        self.verbatim_json_strings: dict[str, str] = {}  # see verbatim_base64
        self.init_payload()
        self.process_message()

    # Reading the message

    def value(self, attr: str) -> Any:
        """The message's value for attr, combined with any send default.

        None on the message suppresses the default. Lists are appended to the default, dicts
        merged over it; other values replace it (an empty string counts as not given).
        """
        value = getattr(self.message, attr, UNSET)
        default = self.defaults.get(attr, UNSET)
        if value is None or default is UNSET or default is None:
            return None if value is UNSET else value
        if value is UNSET or value == "":
            return default
        if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
            return [*default, *value]
        if isinstance(default, dict) and isinstance(value, dict):
            return {**default, **value}
        return value

    def process_message(self) -> None:
        message = self.message
        headers = CaseInsensitiveDict(self.value("extra_headers") or {})
        from_email = self.value("from_email")
        envelope_sender = self.value("envelope_sender")
        if "From" in headers:
            # As Django's SMTP backend: the header is what recipients see, from_email the envelope
            if envelope_sender is None:
                envelope_sender = from_email
            from_email = headers.pop("From")
        reply_to = self.value("reply_to")
        if "Reply-To" in headers:
            reply_to = headers.pop("Reply-To")
        spoofed_to = headers.pop("To", None)

        if from_email is not None:  # None: the ESP may have a default (e.g., a template's)
            from_emails = parse_address_list(from_email, "from_email")
            if not from_emails:
                raise AnymailInvalidAddress(
                    f"Invalid email address {force_non_lazy(from_email)!r} in `from_email`: "
                    "a message needs a sender (set from_email or DEFAULT_FROM_EMAIL)"
                )
            self.set_from_email_list(from_emails)
        for recipient_type in ("to", "cc", "bcc"):
            emails = parse_address_list(self.value(recipient_type), recipient_type)
            self.all_recipients.extend(emails)
            if emails:
                getattr(self, f"set_{recipient_type}")(emails)
        if spoofed_to is not None:
            self.set_spoofed_to_header(self.header_value("To", spoofed_to))
        subject = self.value("subject")
        if subject is not None:
            self.set_subject(self.header_value("Subject", subject))
        reply_to_emails = parse_address_list(reply_to, "reply_to")
        if reply_to_emails:
            self.set_reply_to(reply_to_emails)
        if headers:
            self.set_extra_headers(
                CaseInsensitiveDict(
                    {force_str(name): self.header_value(name, val) for name, val in headers.items()}
                )
            )
        body = force_non_lazy(self.value("body"))
        self.body_is_html = getattr(message, "content_subtype", "plain") == "html"
        if body:
            (self.set_html_body if self.body_is_html else self.set_text_body)(body)
        self.has_html_body, self.has_text_body = (
            self.body_is_html and bool(body),
            not self.body_is_html and bool(body),
        )
        alternatives = self.value("alternatives")
        if alternatives:
            self.set_alternatives([tuple(force_non_lazy(alt))[:2] for alt in alternatives])
        attachments = self.value("attachments")
        if attachments:
            encoding = getattr(message, "encoding", None)
            self.set_attachments([Attachment(item, encoding) for item in attachments])
        self.process_anymail_attrs(envelope_sender)

    def process_anymail_attrs(self, envelope_sender: Any) -> None:
        if envelope_sender:
            self.set_envelope_sender(parse_single_address(envelope_sender, "envelope_sender"))
        metadata = self.json_value("metadata")
        if metadata:
            self.set_metadata(metadata)
        send_at = force_non_lazy(self.value("send_at"))
        if send_at is not None:
            # A string is passed on as given, for ESPs whose API takes a date string (as 6.1 did)
            self.set_send_at(send_at if isinstance(send_at, str) else aware_send_at(send_at))
        tags = force_non_lazy(self.value("tags"))
        if tags:
            self.set_tags([tags] if isinstance(tags, str) else [str(tag) for tag in tags])
        for attr in ("track_clicks", "track_opens"):
            tracking = self.value(attr)
            if tracking is not None:
                getattr(self, f"set_{attr}")(bool(tracking))
        template_id = force_non_lazy(self.value("template_id"))
        if template_id is not None and template_id != "":
            self.set_template_id(template_id)
        # An empty merge_data (or merge_metadata) still asks for a batch send
        merge_data = self.json_value("merge_data")
        if merge_data is not None:
            self.set_merge_data(merge_data)
        merge_global_data = self.json_value("merge_global_data")
        if merge_global_data:
            self.set_merge_global_data(merge_global_data)
        merge_metadata = self.json_value("merge_metadata")
        if merge_metadata is not None:
            self.set_merge_metadata(merge_metadata)
        esp_extra = force_non_lazy(self.value("esp_extra"))
        if esp_extra:
            self.set_esp_extra(esp_extra)

    def json_value(self, attr: str) -> Any:
        """value(attr) with lazy strings resolved, refused if it can't be sent as JSON."""
        value = force_non_lazy(self.value(attr))
        if value is not None:
            check_serializable(
                value, attr, self.esp_name, email_message=self.message, backend=self.backend
            )
        return value

    def header_value(self, name: str, value: Any) -> str:
        """A header value as str; refuses line breaks (header injection), as Django's SMTP does."""
        text = force_str(value)
        if any(char in force_str(name) for char in "\r\n:"):
            raise BadHeaderError(f"Invalid header name {force_str(name)!r}")
        if "\n" in text or "\r" in text:
            raise BadHeaderError(
                f"Header {name!r} contains a line break, which would let it inject other headers: "
                f"{text!r}"
            )
        return text

    def is_batch(self) -> bool:
        """Whether this is a batch send: each to-recipient gets a separate message."""
        return any(self.value(attr) is not None for attr in ("merge_data", "merge_metadata"))

    def serialize_json(self, data: Any) -> str:
        """JSON for the ESP, or AnymailSerializationError naming what can't be sent."""
        text = serialize_json(data, self.esp_name, email_message=self.message, backend=self.backend)
        return self.restore_verbatim_json(text)

    def verbatim_base64(self, text: str) -> str:
        """A stand-in for base64 text (an attachment's content) to put in the payload's data.

        JSON encoding escapes a string a character at a time: about 80 µs for a 20 KB
        attachment, more than the rest of a payload, for text that needs no escapes at all.
        serialize_json puts the text back in whole, in place of its stand-in.
        """
        if len(text) < 1024:  # (not worth it)
            return text
        if not self.verbatim_json_strings:
            self._verbatim_nonce = secrets.token_hex(8)
        stand_in = (
            f"\x00anymail-verbatim-{self._verbatim_nonce}-{len(self.verbatim_json_strings)}\x00"
        )
        self.verbatim_json_strings[json.dumps(stand_in)] = f'"{text}"'
        return stand_in

    def restore_verbatim_json(self, text: str) -> str:
        """text (JSON made of this payload's data) with each verbatim_base64 stand-in replaced."""
        for stand_in, json_string in getattr(self, "verbatim_json_strings", {}).items():
            text = text.replace(stand_in, json_string)
        return text

    # Helpers for ESP payloads

    def unsupported_feature(self, feature: str) -> None:
        """Refuse feature (unless IGNORE_UNSUPPORTED_FEATURES): one error wording for all ESPs."""
        if not self.backend.ignore_unsupported_features:
            raise AnymailUnsupportedFeature(
                f"{self.esp_name} does not support {feature}. "
                "(Set ANYMAIL_IGNORE_UNSUPPORTED_FEATURES = True to send anyway, without it.)",
                email_message=self.message,
                payload=self,
                backend=self.backend,
            )

    def at_most_one(self, values: list[Any], feature: str) -> list[Any]:
        """For ESPs that take a single tag (etc.): refuse more, or keep only the first."""
        if len(values) > 1:
            self.unsupported_feature(feature)
        return values[:1]

    def recipient_status_for_all(
        self, message_id: Any, status: str
    ) -> dict[str, AnymailRecipientStatus]:
        """The same id and status for every recipient: the common case for one-call sends."""
        return {
            recipient.addr_spec: AnymailRecipientStatus(message_id, status)
            for recipient in self.all_recipients
        }

    @classmethod
    def supported_features(cls) -> dict[str, bool]:
        """Which optional features this payload class implements (its feature matrix)."""
        return {
            feature: any(
                getattr(cls, method) is not getattr(BasePayload, method)
                for method in ([methods] if isinstance(methods, str) else methods)
            )
            for feature, methods in OPTIONAL_FEATURES_WITH_HOOK_CHAINS.items()
        }

    # What every ESP payload must implement

    def init_payload(self) -> None:
        """Set up the empty ESP payload (before any set_* call)."""

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        if len(emails) > 1:
            self.unsupported_feature("multiple from emails")
        self.set_from_email(emails[0])

    def set_from_email(self, email: EmailAddress) -> None:
        raise NotImplementedError(f"{self.__class__.__name__} must implement set_from_email")

    def set_to(self, emails: list[EmailAddress]) -> None:
        self.set_recipients("to", emails)

    def set_cc(self, emails: list[EmailAddress]) -> None:
        self.set_recipients("cc", emails)

    def set_bcc(self, emails: list[EmailAddress]) -> None:
        self.set_recipients("bcc", emails)

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        """recipient_type is "to", "cc" or "bcc"."""
        for email in emails:
            self.add_recipient(recipient_type, email)

    def add_recipient(self, recipient_type: str, email: EmailAddress) -> None:
        raise NotImplementedError(
            f"{self.__class__.__name__} must implement set_recipients or add_recipient"
        )

    def set_subject(self, subject: str) -> None:
        raise NotImplementedError(f"{self.__class__.__name__} must implement set_subject")

    def set_text_body(self, body: str) -> None:
        raise NotImplementedError(f"{self.__class__.__name__} must implement set_text_body")

    def set_html_body(self, body: str) -> None:
        raise NotImplementedError(f"{self.__class__.__name__} must implement set_html_body")

    # Optional features: refused unless the ESP payload overrides them

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.unsupported_feature("reply_to")

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        self.unsupported_feature("extra_headers")

    def set_spoofed_to_header(self, header_to: str) -> None:
        # Django's SMTP backend lets a To header differ from the envelope recipients
        self.unsupported_feature("a spoofed To header")

    def set_alternatives(self, alternatives: list[tuple[str, str]]) -> None:
        """(content, mimetype) pairs: the first HTML (or, beside an HTML body, the first plain
        text) fills the missing body; any other goes to add_alternative (never replacing a body).
        """
        for content, mimetype in alternatives:
            if mimetype == "text/html" and not self.has_html_body:
                self.set_html_body(content)
                self.has_html_body = True
            elif mimetype == "text/plain" and not self.has_text_body and self.body_is_html:
                self.set_text_body(content)
                self.has_text_body = True
            else:
                self.add_alternative(content, mimetype)

    def add_alternative(self, content: str, mimetype: str) -> None:
        self.unsupported_feature(f"alternative part with type '{mimetype}'")

    def set_attachments(self, attachments: list[Attachment]) -> None:
        for attachment in attachments:
            self.add_attachment(attachment)

    def add_attachment(self, attachment: Attachment) -> None:
        self.unsupported_feature("attachments")

    def set_envelope_sender(self, email: EmailAddress) -> None:
        self.unsupported_feature("envelope_sender")

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.unsupported_feature("metadata")

    def set_send_at(self, send_at: Any) -> None:
        self.unsupported_feature("send_at")

    def set_tags(self, tags: list[str]) -> None:
        self.unsupported_feature("tags")

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.unsupported_feature("track_clicks")

    def set_track_opens(self, track_opens: bool) -> None:
        self.unsupported_feature("track_opens")

    def set_template_id(self, template_id: Any) -> None:
        self.unsupported_feature("template_id")

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.unsupported_feature("merge_data")

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.unsupported_feature("merge_global_data")

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.unsupported_feature("merge_metadata")

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.unsupported_feature("esp_extra")


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A new dict: base with overrides merged in, recursively for dicts; overrides win.

    How ESPs with nested APIs merge esp_extra into their payload. Neither argument is modified,
    so a shared dict (from send defaults, say) is never changed by one message's send.
    """
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict):
            existing = merged.get(key)
            merged[key] = deep_merge(existing if isinstance(existing, dict) else {}, value)
        else:
            merged[key] = value
    return merged


#: Feature name -> the BasePayload method an ESP overrides to support it
OPTIONAL_FEATURES = {
    "reply_to": "set_reply_to",
    "extra_headers": "set_extra_headers",
    "spoofed_to_header": "set_spoofed_to_header",
    "alternatives": "add_alternative",
    "attachments": "add_attachment",
    "multiple_from_emails": "set_from_email_list",
    "envelope_sender": "set_envelope_sender",
    "metadata": "set_metadata",
    "send_at": "set_send_at",
    "tags": "set_tags",
    "track_clicks": "set_track_clicks",
    "track_opens": "set_track_opens",
    "template_id": "set_template_id",
    "merge_data": "set_merge_data",
    "merge_global_data": "set_merge_global_data",
    "merge_metadata": "set_merge_metadata",
    "esp_extra": "set_esp_extra",
}

# A payload may also support a feature by overriding the hook above the one named there
OPTIONAL_FEATURES_WITH_HOOK_CHAINS: dict[str, str | tuple[str, ...]] = {
    **OPTIONAL_FEATURES,
    "alternatives": ("add_alternative", "set_alternatives"),
    "attachments": ("add_attachment", "set_attachments"),
}


def unknown_kwargs_message(backend_class: type, unknown: set[str]) -> str:
    """A TypeError's message for options no Anymail backend setting matches."""
    from ..conf import backend_option_names

    known = backend_option_names(getattr(backend_class, "esp_name", ""))
    parts = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"{backend_class.__module__}.{backend_class.__qualname__}() got unexpected keyword "
        f"argument(s) {', '.join(parts)}"
    )
