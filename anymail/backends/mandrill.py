"""Mandrill (Mailchimp Transactional): sends through Mandrill's JSON API 1.0.

Spec: Anymail docs 1.5.4 "Mandrill", including "Migrating from Djrill". ESP reference:
Mandrill API docs, https://mandrillapp.com/api/docs/messages.JSON.html (messages/send.json and
messages/send-template.json). Mandrill authenticates with a ``key`` inside the JSON body, and
expects most message options in a ``message`` sub-dict (a few, like ``send_at``, at top level).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

import requests

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import UNSET, get_anymail_setting
from ..exceptions import (
    AnymailDeprecationWarning,
    AnymailRequestsAPIError,
    AnymailSerializationError,
)
from ..message import AnymailRecipientStatus
from .base import deep_merge
from .base_requests import AnymailRequestsBackend, RequestsBackendOptions, RequestsPayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

# (Endpoints are joined to it, so it ends with "/": see EmailBackend.__init__)
DEFAULT_API_URL = "https://mandrillapp.com/api/1.0/"

# messages/send response "status" -> Anymail send status. ("scheduled" is Mandrill holding the
# message for send_at: accepted, and will be sent later, which is what 'queued' means.)
SEND_STATUSES = {
    "sent": "sent",
    "queued": "queued",
    "scheduled": "queued",
    "rejected": "rejected",
    "invalid": "invalid",
}


class MandrillOptions(RequestsBackendOptions, total=False):
    """Mandrill's backend options (as MANDRILL_* settings, without the prefix)."""

    api_key: str


class EmailBackend(AnymailRequestsBackend["MandrillPayload"]):
    """Django EmailBackend for Mandrill."""

    esp_name = "Mandrill"

    def __init__(self, **kwargs: Unpack[MandrillOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # Docs: MANDRILL_API_KEY is also found at the root of settings (a Djrill leftover)
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url", default=DEFAULT_API_URL, esp_name=esp_name, kwargs=options
        )
        # The docs show the url without a trailing slash, but urljoin would then replace
        # its last segment ("1.0") with the endpoint
        if not api_url.endswith("/"):
            api_url += "/"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> MandrillPayload:
        return MandrillPayload(message, defaults, self)

    # Mandrill answers API errors with HTTP 500 (or even 200) and a body like
    # {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"}

    def response_ok(self, response: requests.Response) -> bool:
        return super().response_ok(response) and mandrill_error_text(response) is None

    def error_detail(self, response: requests.Response) -> str | None:
        return mandrill_error_text(response)

    def parse_recipient_status(
        self, response: requests.Response, payload: MandrillPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        # messages/send answers with one entry per recipient (to, cc and bcc):
        # [{"email": "...", "status": "sent", "_id": "abc123...", "reject_reason": null}, ...]
        results = self.deserialize_json_response(response, payload, message)
        if not isinstance(results, list) or not all(
            isinstance(result, dict) and isinstance(result.get("email"), str) for result in results
        ):
            raise AnymailRequestsAPIError(
                "Invalid Mandrill API response format: expected a list of recipient results",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            )
        return {
            result["email"]: AnymailRecipientStatus(
                result.get("_id"), SEND_STATUSES.get(result.get("status"), "unknown")
            )
            for result in results
        }


def mandrill_error_text(response: requests.Response) -> str | None:
    """Mandrill error body -> its "Name: message" text; None for any other body."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("status") != "error":
        return None
    name, text = body.get("name") or "Error", body.get("message")
    return f"{name}: {text}" if text else str(name)


class MandrillPayload(RequestsPayload):
    """One messages/send (or messages/send-template) call."""

    backend: EmailBackend

    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        super().__init__(message, defaults, backend, headers={"Content-Type": "application/json"})

    def get_api_endpoint(self) -> str:
        if "template_name" in self.data:
            return "messages/send-template.json"
        return "messages/send.json"

    def serialize_data(self) -> str:
        return self.serialize_json(self.data)

    def init_payload(self) -> None:
        self.data: dict[str, Any] = {"key": self.backend.api_key, "message": {}}
        self.esp_extra: dict[str, Any] = {}

    @property
    def msg(self) -> dict[str, Any]:
        """The 'message' sub-dict, where Mandrill wants most options."""
        message: dict[str, Any] = self.data["message"]
        return message

    def process_message(self) -> None:
        super().process_message()
        # Deprecated Djrill attributes, then esp_extra: explicit esp_extra has the last word
        apply_djrill_attributes(self)
        self.merge_esp_extra(self.esp_extra)
        if "template_name" in self.data:
            # send-template requires template_content, even when there are no editable regions
            self.data.setdefault("template_content", [])

    # Sender, recipients, content

    def set_from_email(self, email: EmailAddress) -> None:
        self.msg["from_email"] = email.addr_spec
        if email.display_name:
            self.msg["from_name"] = email.display_name

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        # Mandrill takes to, cc and bcc in one "to" list, each with its "type"
        to = self.msg.setdefault("to", [])
        for email in emails:
            recipient = {"email": email.addr_spec, "type": recipient_type}
            if email.display_name:
                recipient["name"] = email.display_name
            to.append(recipient)

    def set_subject(self, subject: str) -> None:
        self.msg["subject"] = subject

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        # No reply_to field: Mandrill's own example sends it as a header (so in header form:
        # .address encodes a non-ASCII name and an IDN domain)
        self.msg.setdefault("headers", {})["Reply-To"] = ", ".join(e.address for e in emails)

    def set_extra_headers(self, headers: Any) -> None:
        self.msg.setdefault("headers", {}).update(headers)

    def set_text_body(self, body: str) -> None:
        self.msg["text"] = body

    def set_html_body(self, body: str) -> None:
        self.msg["html"] = body

    def add_attachment(self, attachment: Attachment) -> None:
        # Inline images go in "images", where "name" is the Content-ID (so the filename is lost);
        # Mandrill requires images' type to start with "image/".
        if attachment.inline and attachment.cid:
            if attachment.mimetype.startswith("image/"):
                self.msg.setdefault("images", []).append(
                    {
                        "type": attachment.mimetype,
                        "name": attachment.cid,
                        "content": self.verbatim_base64(attachment.b64content),
                    }
                )
                return
            self.unsupported_feature(
                f"inline attachments other than images ('{attachment.mimetype}')"
            )
            # (ignoring unsupported features: send it as an ordinary attachment)
        self.msg.setdefault("attachments", []).append(
            {
                "type": attachment.mimetype,
                "name": attachment.name or "",
                "content": self.verbatim_base64(attachment.b64content),
            }
        )

    # Anymail send options

    def set_envelope_sender(self, email: EmailAddress) -> None:
        # Docs: "Domain only". Mandrill generates its own bounce mailbox at return_path_domain.
        self.msg["return_path_domain"] = email.domain

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.msg["metadata"] = metadata

    def set_send_at(self, send_at: datetime | str) -> None:
        # Mandrill: "a UTC timestamp in YYYY-MM-DD HH:MM:SS format" (top level, not in message).
        # A str is sent as given (as 6.1 did): presumably already in Mandrill's format.
        if isinstance(send_at, str):
            self.data["send_at"] = send_at
        else:
            self.data["send_at"] = send_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def set_tags(self, tags: list[str]) -> None:
        self.msg["tags"] = tags

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.msg["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens: bool) -> None:
        self.msg["track_opens"] = track_opens

    # Templates and batch sending

    def set_template_id(self, template_id: Any) -> None:
        # A template switches the call to messages/send-template.json (see get_api_endpoint)
        self.data["template_name"] = template_id

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        # Batch send: each "to" recipient gets a message showing only their own address
        self.msg["preserve_recipients"] = False
        self.msg["merge_vars"] = [
            {"rcpt": rcpt, "vars": name_content_list(merge_vars)}
            for rcpt, merge_vars in merge_data.items()
        ]

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.msg["global_merge_vars"] = name_content_list(merge_global_data)

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.msg["preserve_recipients"] = False
        self.msg["recipient_metadata"] = rcpt_values_list(merge_metadata)

    # esp_extra

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.esp_extra = extra  # merged last, in process_message

    def merge_esp_extra(self, extra: Any) -> None:
        """Merge esp_extra into the API call: top-level keys, and 'message' options within it.

        Docs: esp_extra['message']['recipient_metadata'] and esp_extra['template_content'] may
        also be given as pythonic dicts, like merge_metadata and merge_global_data.
        """
        if not extra:
            return
        if not isinstance(extra, dict) or not isinstance(extra.get("message", {}), dict):
            raise AnymailSerializationError(
                "Mandrill esp_extra must be a dict (with any message options in a 'message' "
                f"dict), not {extra!r}",
                email_message=self.message,
                payload=self,
                backend=self.backend,
            )
        extra = dict(extra)  # never modify the caller's (possibly shared, send-defaults) dict
        if isinstance(extra.get("template_content"), dict):
            extra["template_content"] = name_content_list(extra["template_content"])
        if isinstance(extra.get("message", {}).get("recipient_metadata"), dict):
            extra["message"] = {
                **extra["message"],
                "recipient_metadata": rcpt_values_list(extra["message"]["recipient_metadata"]),
            }
        self.data = deep_merge(self.data, extra)


def name_content_list(values: dict[str, Any]) -> list[dict[str, Any]]:
    """{name: content} -> Mandrill's [{"name": name, "content": content}, ...]."""
    return [{"name": name, "content": content} for name, content in values.items()]


def rcpt_values_list(values: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """{email: {...}} -> Mandrill's recipient_metadata [{"rcpt": email, "values": {...}}]."""
    return [{"rcpt": rcpt, "values": rcpt_values} for rcpt, rcpt_values in values.items()]


# Deprecated Djrill-style message attributes and send-defaults keys ("Migrating from Djrill" in
# the docs: Djrill's MANDRILL_SETTINGS became MANDRILL_SEND_DEFAULTS, so its keys may turn up
# there). They still work, but each warns with its replacement.

#: Djrill attributes that are Mandrill top-level API parameters
DJRILL_TOP_LEVEL_ATTRS = ("async", "ip_pool", "template_content")

#: Djrill attributes that are Mandrill 'message' options
DJRILL_MESSAGE_ATTRS = (
    "auto_html",
    "auto_text",
    "from_name",
    "google_analytics_campaign",
    "google_analytics_domains",
    "important",
    "inline_css",
    "merge_language",
    "preserve_recipients",
    "return_path_domain",
    "signing_domain",
    "subaccount",
    "tracking_domain",
    "url_strip_qs",
    "view_content_link",
)

#: Djrill attributes Anymail renamed or replaced with a normalized attribute. (Not Djrill's
#: template_name, which the docs say became template_id: other packages' EmailMessages, such as
#: django-mail-templated's, use template_name for a *Django* template, so reading it here would
#: turn their messages into Mandrill template sends.)
DJRILL_RENAMED_ATTRS = {
    "use_template_from": "from_email = None (to use the template's from address)",
    "use_template_subject": "subject = None (to use the template's subject)",
    "merge_vars": "merge_data",
    "global_merge_vars": "merge_global_data",
    "recipient_metadata": "merge_metadata",
}


def djrill_replacement(attr: str, in_send_defaults: bool) -> str:
    """What to write instead of a Djrill attr, on a message or in the send defaults."""
    if attr == "return_path_domain":
        return "envelope_sender (Anymail uses only its domain)"
    if attr == "from_name":
        return 'a display name in from_email ("Name <addr@example.com>")'
    if attr in DJRILL_RENAMED_ATTRS:
        instead = DJRILL_RENAMED_ATTRS[attr]
        return f"the {instead!r} key" if in_send_defaults else f"message.{instead}"
    extra = f"{{{attr!r}: ...}}"
    if attr in DJRILL_MESSAGE_ATTRS:
        extra = f"{{'message': {extra}}}"
    return f"{{'esp_extra': {extra}}}" if in_send_defaults else f"message.esp_extra = {extra}"


def apply_djrill_attributes(payload: MandrillPayload) -> None:
    """Honor (with an AnymailDeprecationWarning) any Djrill-era attributes or send defaults."""
    for attr in DJRILL_TOP_LEVEL_ATTRS:
        value = djrill_value(payload, attr)
        if value is not UNSET:
            payload.merge_esp_extra({attr: value})
    for attr in DJRILL_MESSAGE_ATTRS:
        value = djrill_value(payload, attr)
        if value is not UNSET:
            payload.merge_esp_extra({"message": {attr: value}})

    renamed = {attr: djrill_value(payload, attr) for attr in DJRILL_RENAMED_ATTRS}
    if renamed["use_template_from"]:
        payload.msg.pop("from_email", None)
        payload.msg.pop("from_name", None)
    if renamed["use_template_subject"]:
        payload.msg.pop("subject", None)
    # Djrill took these as pythonic dicts; Mandrill's own list form passes through unchanged
    merge_vars = renamed["merge_vars"]
    if merge_vars is not UNSET:
        if isinstance(merge_vars, dict):
            merge_vars = [
                {"rcpt": rcpt, "vars": name_content_list(rcpt_vars)}
                for rcpt, rcpt_vars in merge_vars.items()
            ]
        payload.msg["merge_vars"] = merge_vars
    global_merge_vars = renamed["global_merge_vars"]
    if global_merge_vars is not UNSET:
        if isinstance(global_merge_vars, dict):
            global_merge_vars = name_content_list(global_merge_vars)
        payload.msg["global_merge_vars"] = global_merge_vars
    recipient_metadata = renamed["recipient_metadata"]
    if recipient_metadata is not UNSET:
        payload.merge_esp_extra({"message": {"recipient_metadata": recipient_metadata}})


def djrill_value(payload: MandrillPayload, attr: str) -> Any:
    """The message's value for a Djrill attr, else the send defaults' (warning that it's
    deprecated); UNSET if neither has one. None on the message suppresses the default.
    """
    value = getattr(payload.message, attr, UNSET)
    if value is UNSET:
        value = payload.defaults.get(attr, UNSET)
        if value is None or value is UNSET:
            return UNSET
        where = f"{attr!r} key in MANDRILL_SEND_DEFAULTS (or SEND_DEFAULTS)"
        instead = djrill_replacement(attr, in_send_defaults=True)
    elif value is None:
        return UNSET
    else:
        where = f"message.{attr} attribute"
        instead = djrill_replacement(attr, in_send_defaults=False)
    warnings.warn(
        f"The Djrill-style {where} is deprecated in Anymail's Mandrill backend; "
        f"use {instead} instead.",
        AnymailDeprecationWarning,
        stacklevel=2,
    )
    return value
