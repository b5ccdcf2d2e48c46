"""SendinBlue: sends through SendinBlue's API v3 transactional email call, ``POST smtp/email``.

Settings: SENDINBLUE_API_KEY (required; a v3 key, also found bare at the root of settings) and
SENDINBLUE_API_URL (default https://api.sendinblue.com/v3/).

The request is SendinBlue's JSON "send a transactional email" body: ``sender``, ``to``/``cc``/
``bcc`` and ``replyTo`` as ``{"email", "name"}`` objects, ``subject``, ``htmlContent``,
``textContent``, ``headers``, ``attachment`` (``{"name", "content"}``, base64), and for
stored templates ``templateId`` with ``params``. SendinBlue answers
``201 {"messageId": "<...>"}``: the message is only queued (SendinBlue finds most problems
later, and reports them in its logs and tracking webhooks), so every recipient's
anymail_status is "queued".

What SendinBlue can't do (Anymail docs, "SendinBlue: limitations and quirks"), refused with
AnymailUnsupportedFeature unless IGNORE_UNSUPPORTED_FEATURES: inline images (with ignoring:
sent as ordinary attachments), more than one reply_to or tag (with ignoring: the first),
merge_data and merge_metadata (no batch sending), send_at, track_clicks, track_opens,
envelope_sender, non-HTML alternative parts. With a template_id, SendinBlue's template sets
the from, subject and body, and recipients and reply_to can't have display names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import requests
from django.views.decorators.debug import sensitive_variables
from requests.structures import CaseInsensitiveDict

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import AnymailRequestsAPIError, AnymailSerializationError
from ..message import AnymailRecipientStatus
from .base_requests import AnymailRequestsBackend, RequestsBackendOptions, RequestsPayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

DEFAULT_API_URL = "https://api.sendinblue.com/v3/"

# SendinBlue's own headers (SendinBlue SMTP docs): the dashboard tag, and custom data that
# SendinBlue echoes back (as "X-Mailin-custom") in every tracking webhook event
TAG_HEADER = "X-Mailin-tag"
METADATA_HEADER = "X-Mailin-custom"


class SendinBlueOptions(RequestsBackendOptions, total=False):
    """Sendinblue's backend options (as SENDINBLUE_* settings, without the prefix)."""

    api_key: str


class EmailBackend(AnymailRequestsBackend["SendinBluePayload"]):
    """Django EmailBackend for SendinBlue (API v3)."""

    esp_name = "SendinBlue"

    def __init__(self, **kwargs: Unpack[SendinBlueOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # The docs promise a bare SENDINBLUE_API_KEY fallback at the root of settings
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=DEFAULT_API_URL
        )
        if not api_url.endswith("/"):
            # (the endpoint is urljoin()ed: without the slash, "v3" would be dropped)
            api_url += "/"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> SendinBluePayload:
        return SendinBluePayload(message, defaults, self)

    def raise_for_status(self, response: requests.Response, payload: Any, message: Any) -> None:
        """Like the base, but with SendinBlue's error ``code`` and ``message`` in the summary.

        SendinBlue API v3 errors are ``{"code": "invalid_parameter", "message": "..."}``.
        """
        if 200 <= response.status_code <= 299:
            return
        detail = ""
        try:
            error = response.json()
        except ValueError:
            error = None
        if isinstance(error, dict) and ("code" in error or "message" in error):
            detail = f": {error.get('code', '')}: {error.get('message', '')}"
        raise AnymailRequestsAPIError(
            f"SendinBlue API response {response.status_code} ({response.reason}){detail}",
            email_message=message,
            payload=payload,
            response=response,
            backend=self,
        )

    def parse_recipient_status(
        self, response: requests.Response, payload: SendinBluePayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """``{"messageId": "<...>"}``: one id for the whole message, queued for everyone."""
        parsed = self.deserialize_json_response(response, payload, message)
        message_id = parsed.get("messageId") if isinstance(parsed, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise AnymailRequestsAPIError(
                "Invalid SendinBlue API response format: expected a messageId",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            )
        return payload.recipient_status_for_all(message_id, "queued")


class SendinBluePayload(RequestsPayload):
    """One ``smtp/email`` call. Fields are collected here and built into JSON at the end,
    because a template_id changes what the rest of the message may contain."""

    @sensitive_variables("headers")  # the API key: kept out of Django's error reports
    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        headers = {
            "api-key": backend.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        super().__init__(message, defaults, backend, headers=headers)

    def get_api_endpoint(self) -> str:
        return "smtp/email"

    def init_payload(self) -> None:
        self.sender: EmailAddress | None = None
        self.recipients: dict[str, list[EmailAddress]] = {}
        self.reply_to: EmailAddress | None = None
        self.subject: str | None = None
        self.html_body: str | None = None
        self.text_body: str | None = None
        self.email_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        self.attachments: list[dict[str, str]] = []
        self.template_id: int | None = None
        self.params: dict[str, Any] | None = None
        self.esp_extra: dict[str, Any] = {}

    # Addresses, subject and body

    def set_from_email(self, email: EmailAddress) -> None:
        self.sender = email

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.recipients[recipient_type] = emails

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        # API v3 "replyTo" is a single {email, name}
        self.reply_to = self.at_most_one(emails, "multiple reply_to addresses")[0]

    def set_subject(self, subject: str) -> None:
        self.subject = subject

    def set_html_body(self, body: str) -> None:
        self.html_body = body

    def set_text_body(self, body: str) -> None:
        # Sent as given: SendinBlue's API itself refuses a message with only a text body
        # (the docs' "HTML body required" quirk), and its error explains that best.
        self.text_body = body

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        self.email_headers.update(headers)

    # Attachments: no inline images in API v3 (confirmed by SendinBlue support, Feb 2018)

    def add_attachment(self, attachment: Attachment) -> None:
        if attachment.inline:
            self.unsupported_feature("inline content")
            # ignoring unsupported features: send it as an ordinary attachment
        # SendinBlue picks the content type from the name's extension. Without a name, its API
        # refuses the attachment (documented): Anymail can't send a content type instead.
        item = {"content": self.verbatim_base64(attachment.b64content)}
        if attachment.name:
            item = {"name": attachment.name, **item}
        self.attachments.append(item)

    # Anymail extras

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        # Default (ASCII-only) JSON: this becomes an email header
        self.email_headers[METADATA_HEADER] = json.dumps(metadata)

    def set_tags(self, tags: list[str]) -> None:
        tags = self.at_most_one(tags, "multiple tags")
        self.email_headers[TAG_HEADER] = self.header_value(TAG_HEADER, tags[0])

    def set_template_id(self, template_id: Any) -> None:
        self.template_id = numeric_template_id(template_id, self)

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        # The template's variables (SendinBlue calls them "params")
        self.params = merge_global_data

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.esp_extra = extra

    # Building the request

    def serialize_data(self) -> str:
        if self.template_id is not None:
            self.apply_template_limitations()
        data: dict[str, Any] = {}
        if self.sender is not None:
            data["sender"] = address_json(self.sender)
        for recipient_type in ("to", "cc", "bcc"):
            if self.recipients.get(recipient_type):
                data[recipient_type] = [
                    address_json(email) for email in self.recipients[recipient_type]
                ]
        if self.reply_to is not None:
            data["replyTo"] = address_json(self.reply_to)
        if self.subject is not None:
            data["subject"] = self.subject
        if self.html_body is not None:
            data["htmlContent"] = self.html_body
        if self.text_body is not None:
            data["textContent"] = self.text_body
        if self.email_headers:
            data["headers"] = dict(self.email_headers)
        if self.attachments:
            data["attachment"] = self.attachments
        if self.template_id is not None:
            data["templateId"] = self.template_id
        if self.params is not None:
            data["params"] = self.params
        data.update(self.esp_extra)  # esp_extra is merged into the JSON (documented)
        return self.serialize_json(data)

    def apply_template_limitations(self) -> None:
        """With a template, SendinBlue uses the template's from, subject and body, and doesn't
        allow display names (Anymail docs, "Batch sending/merge and ESP templates")."""
        if self.sender is not None:
            self.unsupported_feature(
                "overriding a template's from_email (set message.from_email = None to use the "
                "template's sender)"
            )
            self.sender = None
        if self.subject:
            self.unsupported_feature("overriding a template's subject (set message.subject = None)")
        # (Django's default empty subject just means "not set": the template's is used)
        self.subject = None
        if self.html_body is not None or self.text_body is not None:
            self.unsupported_feature("overriding a template's body (set message.body = None)")
            self.html_body = self.text_body = None
        addresses = [*self.all_recipients, *([self.reply_to] if self.reply_to else [])]
        if any(email.display_name for email in addresses):
            self.unsupported_feature(
                "display names in recipient or reply_to emails when sending with a template_id"
            )
            self.recipients = {
                recipient_type: [EmailAddress("", email.addr_spec) for email in emails]
                for recipient_type, emails in self.recipients.items()
            }
            if self.reply_to is not None:
                self.reply_to = EmailAddress("", self.reply_to.addr_spec)


def address_json(email: EmailAddress) -> dict[str, str]:
    """API v3's ``{"email", "name"}`` (name only when there is one)."""
    if email.display_name:
        return {"email": email.addr_spec, "name": email.display_name}
    return {"email": email.addr_spec}


def numeric_template_id(template_id: Any, payload: SendinBluePayload) -> int:
    """SendinBlue template ids are numbers (``templateId`` is an integer): 3 or "3"."""
    if isinstance(template_id, int) and not isinstance(template_id, bool):
        return template_id
    text = template_id.strip() if isinstance(template_id, str) else ""
    if text.isascii() and text.isdigit():
        return int(text)
    raise AnymailSerializationError(
        f"SendinBlue template_id must be the template's numeric ID (e.g., 3), not {template_id!r}",
        email_message=payload.message,
        payload=payload,
        backend=payload.backend,
    )
