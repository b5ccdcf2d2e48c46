"""Mailgun: sends through Mailgun's v3 messages API (a form POST per message).

API docs: https://documentation.mailgun.com/docs/mailgun/api-reference/ (Messages: "Send an
email"); batch sending with "recipient variables":
https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/batch-sending
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import requests
from requests.structures import CaseInsensitiveDict

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import AnymailConfigurationError, AnymailError, AnymailRequestsAPIError
from ..message import AnymailRecipientStatus
from .base_requests import AnymailRequestsBackend, RequestsBackendOptions, RequestsPayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

DEFAULT_API_URL = "https://api.mailgun.net/v3/"  # (EU region: "https://api.eu.mailgun.net/v3/")


class MailgunOptions(RequestsBackendOptions, total=False):
    """Mailgun's backend options (as MAILGUN_* settings, without the prefix)."""

    api_key: str
    sender_domain: str | None


class EmailBackend(AnymailRequestsBackend["MailgunPayload"]):
    """Anymail's Mailgun EmailBackend (``anymail.backends.mailgun.EmailBackend``)."""

    esp_name = "Mailgun"

    def __init__(self, **kwargs: Unpack[MailgunOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # MAILGUN_API_KEY may also be a bare (un-prefixed) Django setting, as the docs promise
        self.api_key: str = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        self.sender_domain: str | None = get_anymail_setting(
            "sender_domain", esp_name=esp_name, kwargs=options, default=None
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=DEFAULT_API_URL
        )
        # The docs show MAILGUN_API_URL without a trailing slash (".../v3"), but the sender
        # domain is joined to it as a relative path, which would replace a last "v3" segment
        if not api_url.endswith("/"):
            api_url += "/"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> MailgunPayload:
        return MailgunPayload(message, defaults, self)

    def parse_recipient_status(
        self, response: requests.Response, payload: MailgunPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        # Mailgun answers {"id": "<...@domain>", "message": "Queued. Thank you."}, and never
        # reports per-recipient status at send time: every recipient is simply "queued".
        try:
            parsed = response.json()
            message_id = parsed["id"]
        except (ValueError, TypeError, KeyError):
            # A 200 that isn't that JSON (e.g., the text "Mailgun Magnificent API") means the
            # request reached something other than the messages API: a bad sender domain or url.
            raise AnymailRequestsAPIError(
                f"Unexpected response from the Mailgun API: expected JSON with a message 'id'. "
                f"This usually means the sender domain {payload.sender_domain!r} is invalid or "
                f"not one of your Mailgun domains (Anymail took it from "
                f"{payload.sender_domain_source}), or MAILGUN_API_URL {self.api_url!r} is wrong.",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            ) from None
        return payload.recipient_status_for_all(message_id, "queued")


class MailgunPayload(RequestsPayload):
    """Builds the form fields (and files) for POST <api_url>/<sender_domain>/messages."""

    backend: EmailBackend

    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        super().__init__(message, defaults, backend)
        # Set afterwards, not passed in: building the payload (in the base __init__) may raise
        # (an unsupported feature, unserializable metadata), and Django's error reports would
        # show the API key as that frame's ``auth`` variable
        self.auth = ("api", backend.api_key)

    def init_payload(self) -> None:
        # Form fields, in order; a list value becomes a repeated field (e.g., several "to")
        self.data: dict[str, Any] = {}
        # Attachments: (field, (filename, content, mimetype)), as requests' files= takes them
        self.files: list[tuple[str, tuple[str, bytes, str]]] = []
        self.from_domain: str | None = None
        self.envelope_sender_domain: str | None = None
        self.metadata: dict[str, Any] = {}
        self.merge_data: dict[str, dict[str, Any]] | None = None
        self.merge_global_data: dict[str, Any] | None = None
        self.merge_metadata: dict[str, dict[str, Any]] | None = None
        self.esp_extra: dict[str, Any] = {}
        self.esp_extra_sender_domain: str | None = None
        self.to_emails: list[EmailAddress] = []
        self.sender_domain: str = ""
        self.sender_domain_source: str = ""

    def process_message(self) -> None:
        super().process_message()
        # These combine several message attributes, so they're done after all the set_* calls
        self.add_metadata_and_batch_fields()
        self.data.update(self.esp_extra)  # esp_extra goes straight to Mailgun, overriding ours
        self.sender_domain, self.sender_domain_source = self.choose_sender_domain()

    # Sender domain: part of the API url, not the form

    def choose_sender_domain(self) -> tuple[str, str]:
        """The Mailgun sending domain for this message, and where it came from (for errors).

        Per Anymail's Mailgun docs: a message's own choice (esp_extra["sender_domain"], the
        pre-2.0 way, or its envelope_sender's domain) beats MAILGUN_SENDER_DOMAIN, which beats
        the from_email's domain.
        """
        candidates = [
            (self.esp_extra_sender_domain, "esp_extra['sender_domain']"),
            (self.envelope_sender_domain, "the message's envelope_sender"),
            (self.backend.sender_domain, "the MAILGUN_SENDER_DOMAIN setting"),
            (self.from_domain, "the message's from_email"),
        ]
        for domain, source in candidates:
            if domain:
                domain = str(domain)
                if "/" in domain or "%2f" in domain.lower():
                    # The domain is a path segment of the API url: "/" (even %-encoded) would
                    # call some other Mailgun API, which answers a cryptic 200 "Mailgun
                    # Magnificent API" or 404 rather than an error naming the domain
                    raise AnymailError(
                        f"Invalid Mailgun sender domain {domain!r} (from {source}): a domain "
                        f"can't contain '/'.",
                        email_message=self.message,
                        payload=self,
                        backend=self.backend,
                    )
                return domain, source
        raise AnymailConfigurationError(
            "Mailgun needs a sender domain to send this message: set MAILGUN_SENDER_DOMAIN in "
            "your ANYMAIL settings, or give the message a from_email or envelope_sender."
        )

    def get_api_endpoint(self) -> str:
        # (choose_sender_domain refused "/"; quoting keeps "?" or "#" in the path, too)
        return f"{quote(self.sender_domain, safe='')}/messages"

    def get_request_params(self, api_url: str) -> dict[str, Any]:
        params = super().get_request_params(api_url)
        params["files"] = self.files
        if self.files:
            # Built here rather than by Requests: several times faster, and never RFC 2231
            # filename*= for a non-ASCII filename (through urllib3), which Mailgun doesn't
            # understand (it drops the attachment); RFC 7578 calls for the raw UTF-8 filename
            body, content_type = encode_multipart_form(form_fields(params["data"]), self.files)
            params.update(data=body, files=None, headers={"Content-Type": content_type})
        return params

    def serialize_data(self) -> dict[str, str | list[str]]:
        """The form fields for requests' data=: a list value is a repeated field."""
        return {
            field: [str(item) for item in value] if isinstance(value, (list, tuple)) else str(value)
            for field, value in self.data.items()
        }

    # Addresses and content

    # (Mailgun puts address fields into the message's headers as given, so they're sent in
    # their header form: RFC 2047 display names, IDNA domains)

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        # Several From addresses are a repeated "from" field, as for "to"
        self.data["from"] = [email.address for email in emails]
        self.from_domain = idna_domain(emails[0])

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.data[recipient_type] = [email.address for email in emails]
        if recipient_type == "to":
            self.to_emails = emails

    def set_subject(self, subject: str) -> None:
        self.data["subject"] = subject

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.data["h:Reply-To"] = ", ".join(email.address for email in emails)

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        for name, value in headers.items():
            self.data[f"h:{name}"] = value

    def set_text_body(self, body: str) -> None:
        self.data["text"] = body

    def set_html_body(self, body: str) -> None:
        self.data["html"] = body

    def add_attachment(self, attachment: Attachment) -> None:
        # Mailgun silently drops attachments without filenames, and inline parts without
        # Content-IDs; and it uses an inline part's filename as its Content-ID.
        if attachment.inline:
            if not attachment.cid:
                self.unsupported_feature("inline attachments without a Content-ID")
                return
            self.files.append(("inline", (attachment.cid, attachment.content, attachment.mimetype)))
        else:
            if not attachment.name:
                self.unsupported_feature("attachments without filenames")
                return
            self.files.append(
                ("attachment", (attachment.name, attachment.content, attachment.mimetype))
            )

    # Anymail features

    def set_envelope_sender(self, email: EmailAddress) -> None:
        # Mailgun sets the envelope sender (Return-Path) itself; only the domain is used, to
        # choose the sending domain
        self.envelope_sender_domain = idna_domain(email)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata  # sent as v: custom variables, with any merge_metadata

    def set_send_at(self, send_at: datetime | str) -> None:
        # o:deliverytime takes an RFC 2822 date string; a string is the user's own (as in 6.1)
        if isinstance(send_at, str):
            self.data["o:deliverytime"] = send_at
        else:
            self.data["o:deliverytime"] = format_datetime(send_at.astimezone(timezone.utc))

    def set_tags(self, tags: list[str]) -> None:
        self.data["o:tag"] = tags

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.data["o:tracking-clicks"] = "yes" if track_clicks else "no"

    def set_track_opens(self, track_opens: bool) -> None:
        self.data["o:tracking-opens"] = "yes" if track_opens else "no"

    # (No set_template_id: Mailgun has no stored templates in Anymail's sense.)

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.merge_global_data = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.merge_metadata = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        extra = dict(extra)
        # Before envelope_sender existed, esp_extra["sender_domain"] chose the sending domain
        self.esp_extra_sender_domain = extra.pop("sender_domain", None)
        # A dict (e.g., "recipient-variables") can only be sent to Mailgun as JSON
        self.esp_extra = {
            field: self.serialize_json(value) if isinstance(value, dict) else value
            for field, value in extra.items()
        }

    # Metadata and batch sending, which share Mailgun's "recipient-variables"

    def add_metadata_and_batch_fields(self) -> None:
        """Add v: custom variables, and recipient-variables for a batch send.

        Mailgun sends an individual message to each "to" address only when the request has
        recipient-variables: a JSON object of per-recipient values that %recipient.name% in the
        message (including in v: variables) refers to. Mailgun has no global merge values, so
        (as Anymail's Mailgun docs say) merge_global_data is copied into every recipient's
        values, which makes any message with merge_global_data a batch send. merge_metadata
        uses "v:"-prefixed recipient variables, so it can't collide with merge_data keys.
        """
        metadata_keys = set()
        if self.merge_metadata is not None:
            metadata_keys = {key for values in self.merge_metadata.values() for key in values}
        for key, value in self.metadata.items():
            if key not in metadata_keys:
                self.data[f"v:{key}"] = variable_value(value)
        for key in sorted(metadata_keys):
            self.data[f"v:{key}"] = f"%recipient.v:{key}%"

        is_batch = (
            self.merge_data is not None
            or self.merge_metadata is not None
            or bool(self.merge_global_data)
        )
        if not is_batch:
            return
        recipient_variables = {}
        for email in self.to_emails:
            # Mailgun matches these keys against the "to" addresses as sent (IDNA domains);
            # users' merge_data keys are the addresses as they wrote them
            sent_addr_spec = email.formattable_addr_spec()
            values = dict(self.merge_global_data or {})
            values.update(lookup_recipient(self.merge_data, email.addr_spec, sent_addr_spec))
            recipient_metadata = lookup_recipient(
                self.merge_metadata, email.addr_spec, sent_addr_spec
            )
            for key in metadata_keys:
                # A recipient without this key gets the message's metadata value, else ""
                values[f"v:{key}"] = recipient_metadata.get(key, self.metadata.get(key, ""))
            recipient_variables[sent_addr_spec] = values
        self.data["recipient-variables"] = self.serialize_json(recipient_variables)


def lookup_recipient(
    per_recipient: dict[str, dict[str, Any]] | None, *addr_specs: str
) -> dict[str, Any]:
    """A recipient's merge_data (or merge_metadata) values, under any of its addr_specs."""
    for addr_spec in addr_specs:
        if per_recipient and addr_spec in per_recipient:
            return per_recipient[addr_spec]
    return {}


def idna_domain(email: EmailAddress) -> str:
    """The address's domain as Mailgun knows it: an internationalized one in IDNA form."""
    return email.formattable_addr_spec().rpartition("@")[2]


def form_fields(data: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """serialize_data()'s dict as (name, value) pairs, a list value as repeated fields."""
    return [
        (field, item)
        for field, value in data.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def variable_value(value: Any) -> str:
    """A metadata value as a Mailgun v: variable: strings as-is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# (Generic: another ESP posting multipart forms with non-ASCII filenames could use this.)
def encode_multipart_form(
    fields: list[tuple[str, str]], files: list[tuple[str, tuple[str, bytes, str]]]
) -> tuple[bytes, str]:
    """RFC 7578 multipart/form-data: (body, content_type).

    Names and filenames are sent as raw UTF-8 with only '"', CR and LF percent-encoded (the
    HTML5 form encoding that RFC 7578 section 4.2 describes), never as RFC 2231 filename*=.
    """
    contents = [value.encode("utf-8") for _, value in fields] + [file[1] for _, file in files]
    boundary = secrets.token_hex(16)
    while any(boundary.encode("ascii") in content for content in contents):
        boundary = secrets.token_hex(16)  # (astronomically unlikely)

    parts = []
    for name, value in fields:
        disposition = f'form-data; name="{_form_quote(name)}"'
        parts.append((f"Content-Disposition: {disposition}\r\n", value.encode("utf-8")))
    for name, (filename, content, mimetype) in files:
        disposition = f'form-data; name="{_form_quote(name)}"; filename="{_form_quote(filename)}"'
        content_type = mimetype.replace("\r", " ").replace("\n", " ")
        headers = f"Content-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n"
        parts.append((headers, content))

    body = b"".join(
        f"--{boundary}\r\n{headers}\r\n".encode() + content + b"\r\n" for headers, content in parts
    )
    body += f"--{boundary}--\r\n".encode("ascii")
    return body, f"multipart/form-data; boundary={boundary}"


def _form_quote(text: str) -> str:
    return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")
