"""Postmark: sends through Postmark's HTTP email API (https://postmarkapp.com/developer).

Settings: POSTMARK_SERVER_TOKEN (required; also found bare at the root of settings) and
POSTMARK_API_URL (default https://api.postmarkapp.com/).

Postmark has four send endpoints, and the message decides which one Anymail uses:

=====================  =============================  ====================================
                       plain message                  stored template (``template_id``)
=====================  =============================  ====================================
single message         ``email``                      ``email/withTemplate/``
batch (``merge_data``  ``email/batch`` (JSON list)    ``email/batchWithTemplates``
or ``merge_metadata``)                                (JSON ``{"Messages": [...]}``)
=====================  =============================  ====================================

A batch send is one Postmark message per "to" address (cc and bcc are copied into each), and
Postmark answers with one result per message, so anymail_status comes per recipient.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import requests
from django.views.decorators.debug import sensitive_variables

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import AnymailRequestsAPIError
from ..message import AnymailRecipientStatus
from .base_requests import AnymailRequestsBackend, RequestsBackendOptions, RequestsPayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

DEFAULT_API_URL = "https://api.postmarkapp.com/"

# Postmark "API error codes" (https://postmarkapp.com/developer/api/overview#error-codes) that
# are about the recipients rather than the request: anymail_status reports these, rather than
# raising an API error.
INVALID_EMAIL_REQUEST = 300  # (only when Postmark's message names a To/Cc/Bcc address)
INACTIVE_RECIPIENT = 406  # hard bounced, complained, or manually suppressed earlier

# "Found inactive addresses: a@example.com, b@example.com. Inactive recipients are ..." (406)
# "Message OK, but will not deliver to these inactive addresses: a@example.com. ..." (0)
INACTIVE_ADDRESSES_RE = re.compile(r"inactive addresses:\s*(.+?)\.(?:\s|$)", re.IGNORECASE)
# "Error parsing 'To': Illegal email address 'bob'." or "Invalid 'Cc' address: ..."
RECIPIENT_FIELD_RE = re.compile(r"'(?:To|Cc|Bcc)'", re.IGNORECASE)


class PostmarkOptions(RequestsBackendOptions, total=False):
    """Postmark's backend options (as POSTMARK_* settings, without the prefix)."""

    server_token: str


class EmailBackend(AnymailRequestsBackend["PostmarkPayload"]):
    """Django EmailBackend for Postmark."""

    esp_name = "Postmark"

    def __init__(self, **kwargs: Unpack[PostmarkOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # The spec documents a bare POSTMARK_SERVER_TOKEN fallback (Postmark's own libraries
        # read that name too)
        self.server_token = get_anymail_setting(
            "server_token", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=DEFAULT_API_URL
        )
        if not api_url.endswith("/"):
            # (endpoints are urljoin()ed: without the slash, a path's last segment would go)
            api_url += "/"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> PostmarkPayload:
        return PostmarkPayload(message, defaults, self)

    def raise_for_status(
        self, response: requests.Response, payload: PostmarkPayload, message: Any
    ) -> None:
        """Like the base, but a single send refused only for its recipients isn't an API error.

        Postmark answers 422 with ErrorCode 406 when every recipient is inactive; that (and an
        invalid recipient address) becomes anymail_status, so AnymailRecipientsRefused is raised
        (or not, with IGNORE_RECIPIENT_STATUS) as for any ESP. A batch call that fails as a whole
        is always an API error.
        """
        if (
            response.status_code == 422
            and not payload.is_batch()
            and is_recipient_error(_json_or_none(response))
        ):
            return
        super().raise_for_status(response, payload, message)

    def error_detail(self, response: requests.Response) -> str | None:
        error = _json_or_none(response)
        if isinstance(error, dict) and "ErrorCode" in error:
            return f"ErrorCode {error.get('ErrorCode')}: {error.get('Message', '')}"
        return None

    def parse_recipient_status(
        self, response: requests.Response, payload: PostmarkPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """Postmark's result for each message sent, spread over that message's recipients."""
        parsed = self.deserialize_json_response(response, payload, message)
        results = parsed if payload.is_batch() else [parsed]
        expected = len(payload.recipients_per_message)
        if (
            not isinstance(results, list)
            or len(results) != expected
            or not all(isinstance(result, dict) for result in results)
        ):
            raise AnymailRequestsAPIError(
                f"Invalid Postmark API response format: expected {expected} message result(s)",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            )
        statuses: dict[str, AnymailRecipientStatus] = {}
        for result, recipients in zip(results, payload.recipients_per_message, strict=True):
            for addr_spec, status in result_recipient_status(result, recipients).items():
                # A batch repeats cc and bcc in every message: report the first result for them
                statuses.setdefault(addr_spec, status)

        # Every message failed, and not just for its recipients (e.g., a template error
        # reported per message in a batch): that's an API error, not a partial send
        if statuses and not any(s.status == "sent" for s in statuses.values()):
            failures = [r for r in results if r.get("ErrorCode") != 0 and not is_recipient_error(r)]
            if failures:
                reasons = "; ".join(
                    f"ErrorCode {r.get('ErrorCode')}: {r.get('Message', '')}" for r in failures
                )
                raise AnymailRequestsAPIError(
                    f"Postmark did not send the message: {reasons}",
                    email_message=message,
                    payload=payload,
                    response=response,
                    backend=self,
                )
        return statuses


def result_recipient_status(
    result: dict[str, Any], recipients: list[EmailAddress]
) -> dict[str, AnymailRecipientStatus]:
    """One Postmark send result ({"ErrorCode", "Message", "MessageID", "To", ...}) per recipient.

    Keys keep the case used in the sent message (Anymail 6.0 stopped lowercasing them); the
    addresses in Postmark's messages are compared case-insensitively.
    """
    error_code = result.get("ErrorCode")
    message_id = result.get("MessageID") or None
    text = str(result.get("Message") or "")
    inactive = inactive_addresses(text) if error_code == 0 else set()

    def status_for(recipient: EmailAddress) -> str:
        if error_code == 0:
            # Postmark sends to the others, and mentions any inactive addresses it skipped
            return "rejected" if recipient.addr_spec.lower() in inactive else "sent"
        if error_code == INACTIVE_RECIPIENT:
            # (Postmark only refuses the whole message when every recipient is inactive)
            return "rejected"
        if error_code == INVALID_EMAIL_REQUEST and RECIPIENT_FIELD_RE.search(text):
            return "invalid"
        return "failed"

    return {
        recipient.addr_spec: AnymailRecipientStatus(message_id, status_for(recipient))
        for recipient in recipients
    }


def inactive_addresses(text: str) -> set[str]:
    """The (lowercased) addresses listed in Postmark's "inactive addresses: ..." message."""
    match = INACTIVE_ADDRESSES_RE.search(text)
    if not match:
        return set()
    return {address.strip().lower() for address in match.group(1).split(",") if address.strip()}


def is_recipient_error(error: Any) -> bool:
    """Whether a Postmark error result is about the recipients (see anymail_status)."""
    if not isinstance(error, dict):
        return False
    error_code = error.get("ErrorCode")
    return error_code == INACTIVE_RECIPIENT or (
        error_code == INVALID_EMAIL_REQUEST
        and bool(RECIPIENT_FIELD_RE.search(str(error.get("Message") or "")))
    )


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class PostmarkPayload(RequestsPayload):
    """Collects the message's fields, then lays them out as one or more Postmark messages."""

    headers: dict[str, str]  # (always given: they carry the server token)

    @sensitive_variables("headers")  # the API key: kept out of Django's error reports
    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Postmark-Server-Token": backend.server_token,
        }
        super().__init__(message, defaults, backend, headers=headers)

    def init_payload(self) -> None:
        self.data: dict[str, Any] = {}  # fields every Postmark message in this send shares
        self.to_emails: list[EmailAddress] = []
        self.cc_and_bcc_emails: list[EmailAddress] = []
        self.subject: str | None = None
        self.text_body: str | None = None
        self.html_body: str | None = None
        self.metadata: dict[str, Any] = {}
        self.template_id: int | str | None = None
        self.merge_data: dict[str, dict[str, Any]] | None = None
        self.merge_global_data: dict[str, Any] = {}
        self.merge_metadata: dict[str, dict[str, Any]] | None = None
        self.esp_extra: dict[str, Any] = {}
        # Set by process_message(), once every attribute is known:
        self.messages: list[dict[str, Any]] = []
        self.recipients_per_message: list[list[EmailAddress]] = []

    def process_message(self) -> None:
        super().process_message()
        self.check_template_conflicts()
        self.messages = self.build_messages()

    def get_api_endpoint(self) -> str:
        if self.is_batch():
            return "email/batchWithTemplates" if self.template_id is not None else "email/batch"
        # (Postmark documents the single-template endpoint with its trailing slash)
        return "email/withTemplate/" if self.template_id is not None else "email"

    def serialize_data(self) -> str:
        if not self.is_batch():
            return self.serialize_json(self.messages[0])
        if self.template_id is not None:
            return self.serialize_json({"Messages": self.messages})
        return self.serialize_json(self.messages)

    # Message fields (Postmark's JSON message format)

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        # Postmark's From is a header-style string: it takes several addresses (and sends from
        # the first). Formatted with .address, so names and IDN domains are header-encoded.
        self.data["From"] = ", ".join(email.address for email in emails)

    def set_from_email(self, email: EmailAddress) -> None:
        self.set_from_email_list([email])

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        # Postmark takes each recipient field as one comma-separated string. "To" is laid out
        # per message in build_messages(), since a batch sends each "to" its own message.
        if recipient_type == "to":
            self.to_emails = emails
        else:
            self.data[recipient_type.capitalize()] = ", ".join(email.address for email in emails)
            self.cc_and_bcc_emails.extend(emails)

    def set_subject(self, subject: str) -> None:
        self.subject = subject

    def set_text_body(self, body: str) -> None:
        self.text_body = body

    def set_html_body(self, body: str) -> None:
        self.html_body = body

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.data["ReplyTo"] = ", ".join(email.address for email in emails)

    def set_extra_headers(self, headers: Any) -> None:
        self.data["Headers"] = [{"Name": name, "Value": value} for name, value in headers.items()]

    def add_attachment(self, attachment: Attachment) -> None:
        postmark_attachment = {
            "Name": attachment.name or "",
            "Content": self.verbatim_base64(attachment.b64content),
            "ContentType": attachment.mimetype,
        }
        if attachment.inline:
            # Postmark's docs give inline images as "ContentID": "cid:image.jpg"
            postmark_attachment["ContentID"] = f"cid:{attachment.cid}"
            # (Name is required; Postmark's own libraries fall back to the content id)
            postmark_attachment["Name"] = attachment.name or attachment.cid
        self.data.setdefault("Attachments", []).append(postmark_attachment)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def set_tags(self, tags: list[str]) -> None:
        # Postmark allows one Tag per message
        tags = self.at_most_one(tags, "multiple tags")
        if tags:
            self.data["Tag"] = tags[0]

    def set_track_clicks(self, track_clicks: bool) -> None:
        # Postmark's TrackLinks is "None", "HtmlAndText", "HtmlOnly" or "TextOnly"; the spec
        # makes True "HtmlAndText" (esp_extra can ask for the others)
        self.data["TrackLinks"] = "HtmlAndText" if track_clicks else "None"

    def set_track_opens(self, track_opens: bool) -> None:
        self.data["TrackOpens"] = track_opens

    # Stored templates and batch sends

    def set_template_id(self, template_id: Any) -> None:
        # A numeric TemplateID, or a string TemplateAlias (Anymail 5.0). Postmark aliases must
        # start with a letter, so an all-digit string is an id too.
        if isinstance(template_id, str) and template_id.strip().isdigit():
            template_id = int(template_id)
        self.template_id = template_id
        if isinstance(template_id, int) and not isinstance(template_id, bool):
            self.data["TemplateId"] = template_id
        else:
            self.data["TemplateAlias"] = str(template_id)

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.merge_global_data = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.merge_metadata = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        extra = dict(extra)
        # The spec documents esp_extra["server_token"] to send one message with another server
        server_token = extra.pop("server_token", None)
        if server_token:
            self.headers["X-Postmark-Server-Token"] = server_token
        self.esp_extra = extra  # merged into each Postmark message, over Anymail's fields

    def check_template_conflicts(self) -> None:
        """Refuse what Postmark would reject or silently drop, given template_id (or not)."""
        if self.template_id is not None:
            # Postmark's template sends take subject and body only from the template. Django's
            # default empty subject and body are simply left out (Anymail 4.2).
            if self.subject:
                self.unsupported_feature("overriding a template's subject (set subject=None)")
            if self.text_body or self.html_body:
                self.unsupported_feature("overriding a template's body")
        else:
            # Only Postmark templates use merge fields: without one the data would be lost
            if self.merge_data:
                self.unsupported_feature("merge_data without a template_id")
            if self.merge_global_data:
                self.unsupported_feature("merge_global_data without a template_id")

    def build_messages(self) -> list[dict[str, Any]]:
        """The Postmark message(s) to send: one, or one per "to" address for a batch."""
        shared = dict(self.data)
        if self.template_id is None:
            for field, value in (
                ("Subject", self.subject),
                ("TextBody", self.text_body),
                ("HtmlBody", self.html_body),
            ):
                if value is not None:
                    shared[field] = value

        if not self.is_batch():
            # A cc- or bcc-only message simply has no "To" (Anymail 6.0)
            to_groups: list[list[EmailAddress]] = [self.to_emails]
        else:
            # (cc and bcc only: still one message, to them)
            to_groups = [[to] for to in self.to_emails] or [[]]

        messages = []
        self.recipients_per_message = []
        for to_emails in to_groups:
            message = dict(shared)
            if to_emails:
                message["To"] = ", ".join(email.address for email in to_emails)
            metadata = {**self.metadata, **self._for_recipient(self.merge_metadata, to_emails)}
            if metadata:
                message["Metadata"] = metadata
            if self.template_id is not None:
                message["TemplateModel"] = {
                    **self.merge_global_data,
                    **self._for_recipient(self.merge_data, to_emails),
                }
            message.update(self.esp_extra)
            messages.append(message)
            self.recipients_per_message.append(to_emails + self.cc_and_bcc_emails)
        return messages

    def _for_recipient(
        self, per_recipient: dict[str, dict[str, Any]] | None, to_emails: list[EmailAddress]
    ) -> dict[str, Any]:
        """A batch message's entry from merge_data or merge_metadata (keyed by addr_spec)."""
        if not per_recipient or len(to_emails) != 1:
            return {}
        return per_recipient.get(to_emails[0].addr_spec) or {}
