"""Mailjet: sends through Mailjet's transactional Send API v3 (``POST <MAILJET_API_URL>/send``).

Reads like the docs' Mailjet section: settings; how each Anymail attribute becomes a v3 Send API
JSON property; how the ``Sent`` response becomes ``anymail_status``; what Mailjet refuses.

Mailjet's v3 Send API reference (dev.mailjet.com, "Send API v3" guide and its "Send API json
properties" table) is the source for every field name used here; its v3 REST "template"
resource reference for the template sender lookup.
"""

from __future__ import annotations

from base64 import b64encode
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urljoin

import requests
from requests.structures import CaseInsensitiveDict

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import AnymailRequestsAPIError
from ..message import AnymailRecipientStatus
from .base_requests import (
    AnymailRequestsBackend,
    RequestsBackendOptions,
    RequestsPayload,
    SupportsRequestParams,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

# (Endpoints are joined to it, so it ends with "/": see EmailBackend.__init__)
DEFAULT_API_URL = "https://api.mailjet.com/v3/"

# Mj-trackopen / Mj-trackclick values (v3 "Send API json properties"):
# 0 = account default, 1 = disable tracking, 2 = enable tracking
MAILJET_TRACKING_DISABLED = 1
MAILJET_TRACKING_ENABLED = 2


class MailjetOptions(RequestsBackendOptions, total=False):
    """Mailjet's backend options (as MAILJET_* settings, without the prefix)."""

    api_key: str
    secret_key: str


class EmailBackend(AnymailRequestsBackend["MailjetPayload"]):
    """Mailjet Send API v3 EmailBackend."""

    esp_name = "Mailjet"

    def __init__(self, **kwargs: Unpack[MailjetOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # The docs promise bare MAILJET_API_KEY / MAILJET_SECRET_KEY fallbacks (not for API_URL)
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        self.secret_key = get_anymail_setting(
            "secret_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=DEFAULT_API_URL
        )
        # The docs show the url without a trailing slash, but urljoin would then replace
        # its last segment ("v3") with the endpoint
        if not api_url.endswith("/"):
            api_url += "/"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> MailjetPayload:
        return MailjetPayload(message, defaults, self)

    def post_to_esp(self, payload: SupportsRequestParams, message: Any) -> requests.Response:
        """Send; first, for a template with no from_email, fetch the template's sender.

        The v3 Send API requires FromEmail even with a stored template (the docs promise that
        ``from_email = None`` uses the template's sender), so ask the template API for it.
        """
        if not isinstance(payload, MailjetPayload) or not payload.needs_template_sender:
            return super().post_to_esp(payload, message)
        created_session = self.open()  # one session for both calls
        try:
            payload.set_from_email(self.get_template_sender(payload, message))
            return super().post_to_esp(payload, message)
        finally:
            if created_session:
                self.close()

    def get_template_sender(self, payload: MailjetPayload, message: Any) -> EmailAddress:
        """The sender stored with payload's template, from GET REST/template/<id>/detailcontent."""
        template_request = TemplateContentRequest(payload)
        try:
            # (The base's post_to_esp makes any API call, with its session, error and debug
            # handling)
            response = super().post_to_esp(template_request, message)
        except AnymailRequestsAPIError as err:
            # Say which call failed (keeping the error's class: it may also be a Timeout...)
            err.args = (
                f"Could not get Mailjet template {payload.template_id!r}'s sender "
                f"(from_email is None): {err.args[0] if err.args else ''}",
                *err.args[1:],
            )
            raise
        parsed = self.deserialize_json_response(response, template_request, message)
        try:
            headers = parsed["Data"][0]["Headers"]
            sender = template_sender(headers)
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise AnymailRequestsAPIError(
                f"Invalid Mailjet template API response for template {payload.template_id!r}: "
                f"expected a 'Data' list with the template's 'Headers', got {parsed!r}",
                email_message=message,
                payload=template_request,
                response=response,
                backend=self,
            ) from err
        if sender is None:
            raise AnymailRequestsAPIError(
                f"Mailjet template {payload.template_id!r} has no sender (no From or SenderEmail "
                "in its headers), and the message's from_email is None. Set the message's "
                "from_email, or give the template a sender in Mailjet.",
                email_message=message,
                payload=template_request,
                response=response,
                backend=self,
            )
        return sender

    def error_detail(self, response: requests.Response) -> str | None:
        # Mailjet's v3 errors are JSON like {"ErrorInfo": "...", "ErrorMessage": "...",
        # "StatusCode": 400}
        return mailjet_error_text(response)

    def parse_recipient_status(
        self, response: requests.Response, payload: MailjetPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """Each recipient's MessageID from Mailjet's ``{"Sent": [{"Email", "MessageID"}...]}``.

        Mailjet returns one Sent entry per delivered copy. (In a batch send, a cc or bcc
        recipient gets one copy per "to" recipient; Anymail reports the first copy's id.)
        """
        parsed = self.deserialize_json_response(response, payload, message)
        try:
            sent: dict[str, tuple[str, str]] = {}  # lowercased email -> (Email, MessageID)
            for item in parsed["Sent"]:
                # Mailjet may change the email's case; match recipients case-insensitively
                sent.setdefault(item["Email"].lower(), (item["Email"], str(item["MessageID"])))
        except (KeyError, TypeError, AttributeError) as err:
            raise AnymailRequestsAPIError(
                f"Invalid Mailjet API response format: expected a 'Sent' list of "
                f"{{'Email', 'MessageID'}} objects, got {parsed!r}",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            ) from err
        statuses = {}
        matched = set()
        for recipient in payload.all_recipients:
            # (An internationalized domain went out, and may come back, IDNA-encoded)
            keys = [recipient.addr_spec.lower(), EmailAddress("", recipient.addr_spec).address]
            key = next((key.lower() for key in keys if key.lower() in sent), None)
            if key is None:
                # A recipient missing from "Sent" wasn't reported sent: don't claim it was
                statuses[recipient.addr_spec] = AnymailRecipientStatus(None, "unknown")
            else:
                matched.add(key)
                statuses[recipient.addr_spec] = AnymailRecipientStatus(sent[key][1], "sent")
        # Copies Mailjet reports sending to any other address (e.g., a recipient added through
        # esp_extra) are reported too, as 6.1 did
        for key, (email, message_id) in sent.items():
            if key not in matched:
                statuses[email] = AnymailRecipientStatus(message_id, "sent")
        return statuses


def mailjet_error_text(response: requests.Response) -> str | None:
    """ErrorMessage (and any ErrorInfo) from a Mailjet error response, if it has them."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    parts = [str(data[key]) for key in ("ErrorMessage", "ErrorInfo") if data.get(key)]
    return " ".join(parts) or None


class MailjetPayload(RequestsPayload):
    """One v3 Send API call: a single message, or a ``Messages`` list for batch sends."""

    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        super().__init__(
            message,
            defaults,
            backend,
            headers={"Content-Type": "application/json"},
            # v3 authenticates with HTTP basic auth: API key as user, secret key as password
            auth=(backend.api_key, backend.secret_key),
        )

    def get_api_endpoint(self) -> str:
        return "send"

    def init_payload(self) -> None:
        self.data: dict[str, Any] = {}  # the Send API properties every message shares
        self.recipients: dict[str, list[EmailAddress]] = {"to": [], "cc": [], "bcc": []}
        self.metadata: dict[str, Any] = {}
        self.merge_global_data: dict[str, Any] = {}
        self.merge_data: dict[str, dict[str, Any]] | None = None
        self.merge_metadata: dict[str, dict[str, Any]] | None = None
        self.esp_extra: dict[str, Any] = {}
        self.template_id: Any = None

    @property
    def needs_template_sender(self) -> bool:
        """A template send with no sender: the backend must look up the template's."""
        return self.template_id is not None and not (
            "FromEmail" in self.data or "FromEmail" in self.esp_extra
        )

    # Serialization: the per-message pieces are only known once every attribute is read

    def is_batch(self) -> bool:
        # An empty merge_data (or merge_metadata) still asks for one message per "to"
        has_merge = self.merge_data is not None or self.merge_metadata is not None
        return has_merge and bool(self.recipients["to"])

    def serialize_data(self) -> str:
        if not self.is_batch():
            return self.serialize_json(self.build_message(self.recipients["to"], None))
        # Batch: Mailjet's "Send in bulk" takes a "Messages" list of complete messages. Each
        # "to" gets its own message (with the shared cc and bcc), so recipients can't see
        # each other and each gets their own Vars and event payload.
        messages = [self.build_message([to], to.addr_spec) for to in self.recipients["to"]]
        return self.serialize_json({"Messages": messages})

    def build_message(self, to: list[EmailAddress], merge_key: str | None) -> dict[str, Any]:
        """The Send API properties for one message; merge_key picks per-recipient data."""
        message = dict(self.data)
        for recipient_type, field in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
            emails = to if recipient_type == "to" else self.recipients[recipient_type]
            if emails:
                message[field] = format_address_list(emails)
        merge_vars = dict(self.merge_global_data)
        metadata = dict(self.metadata)
        if merge_key is not None:
            merge_vars.update((self.merge_data or {}).get(merge_key, {}))
            metadata.update((self.merge_metadata or {}).get(merge_key, {}))
        if merge_vars:
            message["Vars"] = merge_vars
        if metadata:
            # Mailjet returns Mj-EventPayLoad as "Payload" in tracking events
            message["Mj-EventPayLoad"] = self.serialize_json(metadata)
        # esp_extra is merged into each message, taking precedence (as documented)
        message.update(self.esp_extra)
        return message

    # Required fields

    def set_from_email(self, email: EmailAddress) -> None:
        self.data["FromEmail"] = email.addr_spec
        if email.display_name:
            self.data["FromName"] = email.display_name

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        # v3 also has "Recipients" (an individual copy each), but it can't be combined with
        # Cc/Bcc; To/Cc/Bcc give the ordinary shared message Django users expect.
        self.recipients[recipient_type] = emails

    def set_subject(self, subject: str) -> None:
        # Django's default subject is "": omit it then, so a stored template's subject is used
        if subject:
            self.data["Subject"] = subject

    def set_text_body(self, body: str) -> None:
        self.data["Text-part"] = body

    def set_html_body(self, body: str) -> None:
        self.data["Html-part"] = body

    # Optional features Mailjet supports

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        # v3 has no Reply-To property; its docs set it through Headers
        self.data.setdefault("Headers", {})["Reply-To"] = format_address_list(emails)

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        self.data.setdefault("Headers", {}).update(headers)

    def add_attachment(self, attachment: Attachment) -> None:
        if attachment.inline:
            # v3 inline attachments are referenced as cid:<Filename>, so the Content-ID
            # must be sent as the Filename (the original filename can't also be sent)
            field = "Inline_attachments"
            filename = attachment.cid or attachment.name or ""
        else:
            field = "Attachments"
            filename = attachment.name or ""
        self.data.setdefault(field, []).append(
            {
                "Content-type": attachment.mimetype,
                "Filename": filename,
                "content": self.verbatim_base64(attachment.b64content),
            }
        )

    def set_envelope_sender(self, email: EmailAddress) -> None:
        # v3 "Sender": only on API keys Mailjet support has enabled (else an API error)
        self.data["Sender"] = email.addr_spec

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def set_tags(self, tags: list[str]) -> None:
        # Tags use Mailjet's campaign, and a message belongs to only one campaign
        tags = self.at_most_one(tags, "multiple tags")
        if tags:
            self.data["Mj-campaign"] = tags[0]

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.data["Mj-trackclick"] = (
            MAILJET_TRACKING_ENABLED if track_clicks else MAILJET_TRACKING_DISABLED
        )

    def set_track_opens(self, track_opens: bool) -> None:
        self.data["Mj-trackopen"] = (
            MAILJET_TRACKING_ENABLED if track_opens else MAILJET_TRACKING_DISABLED
        )

    def set_template_id(self, template_id: Any) -> None:
        # Sent as given: the docs' own example gives the numeric id as a str ("176375")
        self.template_id = template_id
        self.data["Mj-TemplateID"] = template_id
        # Without this, Mailjet doesn't process {{var:...}} template language in the template
        self.data["Mj-TemplateLanguage"] = True

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.merge_global_data = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.merge_metadata = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.esp_extra = dict(extra)

    # Not overridden, so refused by the base: send_at (Mailjet has no delayed sending; a str
    # send_at too), alternatives other than HTML, a spoofed To header, multiple From addresses.


class TemplateContentRequest:
    """The template API call that finds a stored template's sender (see post_to_esp).

    Quacks like a RequestsPayload for the backend's post_to_esp; authenticated like the send.
    """

    def __init__(self, payload: MailjetPayload) -> None:
        self.template_id = payload.template_id
        self.auth = payload.auth

    def get_request_params(self, api_url: str) -> dict[str, Any]:
        endpoint = f"REST/template/{quote(str(self.template_id), safe='')}/detailcontent"
        return {"method": "GET", "url": urljoin(api_url, endpoint), "auth": self.auth}


def template_sender(headers: dict[str, Any] | str | None) -> EmailAddress | None:
    """The sender in a template's detailcontent Headers, or None if it has none.

    Mailjet gives both a formatted "From" ("Name <email>") and separate SenderName and
    SenderEmail. "From" is split at its last "<" rather than parsed as an address: Mailjet
    doesn't quote a display name containing a comma there.
    """
    if not headers:
        return None  # (empty: "" or null rather than an object)
    if not isinstance(headers, dict):
        raise TypeError(f"template Headers should be an object, not {headers!r}")
    from_header = (headers.get("From") or "").strip()
    if from_header:
        name, bracket, addr = from_header.rpartition("<")
        if bracket and addr.endswith(">"):
            return EmailAddress(name.strip().strip('"').strip(), addr[:-1].strip())
        return EmailAddress("", from_header)
    sender_email = (headers.get("SenderEmail") or "").strip()
    if sender_email:
        return EmailAddress((headers.get("SenderName") or "").strip(), sender_email)
    return None


def format_address_list(emails: list[EmailAddress]) -> str:
    """Addresses as one header-style string, as v3's To, Cc, Bcc (and Headers) want."""
    return ", ".join(format_address(email) for email in emails)


def format_address(email: EmailAddress) -> str:
    """email.address, except display names with commas become RFC 2047 encoded-words.

    Mailjet's v3 API mis-parses a comma in a display name, even properly quoted (confirmed
    with Mailjet API support, July 2017); an encoded-word contains no comma for it to trip on.
    """
    if "," not in email.display_name:
        return email.address
    # (The bare address's .address is its header form: an IDN domain IDNA-encoded)
    addr_spec = EmailAddress("", email.addr_spec).address
    return f"{rfc2047_encode(email.display_name)} <{addr_spec}>"


def rfc2047_encode(text: str) -> str:
    """text as RFC 2047 base64 encoded-words, each within the 75-char limit, on one line.

    (email.header.Header would fold long names onto several lines, which a JSON field
    mustn't contain.) Words split only between characters, so each decodes on its own.
    """
    words, chunk = [], b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > 45:  # 45 bytes -> 60 base64 chars (+12 for =?utf-8?b??=)
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{b64encode(word).decode('ascii')}?=" for word in words)
