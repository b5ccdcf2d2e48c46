"""SendGrid: sends through SendGrid's Web API v3 (``POST <SENDGRID_API_URL>mail/send``).

Reads like the docs' SendGrid section: settings; how each Anymail attribute becomes a v3
Mail Send JSON field; how the (empty) response becomes ``anymail_status``; what's refused.

Field names and rules come from SendGrid's v3 Mail Send API reference and its
"Personalizations" and "Mail Send Errors" pages (twilio.com/docs/sendgrid).
"""

from __future__ import annotations

import copy
import json
import mimetypes
import re
import uuid
import warnings
from typing import TYPE_CHECKING, Any, cast

import requests
from requests.structures import CaseInsensitiveDict

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import (
    AnymailConfigurationError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
    AnymailWarning,
)
from ..message import AnymailRecipientStatus
from .base import deep_merge
from .base_requests import AnymailRequestsBackend, RequestsBackendOptions, RequestsPayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

DEFAULT_API_URL = "https://api.sendgrid.com/v3/"

#: The custom arg that carries Anymail's generated message id (and comes back in events)
ANYMAIL_ID_ARG = "anymail_id"

#: SendGrid's dynamic transactional template ids all start with this (legacy ids are UUIDs)
DYNAMIC_TEMPLATE_PREFIX = "d-"

#: A legacy substitution key written with its delimiters: it starts or ends with something
#: other than a letter, digit or underscore (e.g. "-name-", ":name", "%name%", "{{name}}")
DELIMITED_MERGE_FIELD = re.compile(r"^\W|\W$")

#: The v2 API's options (SMTP API header JSON), which v3 Mail Send doesn't understand
V2_SMTPAPI_KEY = "x-smtpapi"


class SendGridOptions(RequestsBackendOptions, total=False):
    """SendGrid's backend options (as SENDGRID_* settings, without the prefix)."""

    api_key: str
    generate_message_id: bool
    merge_field_format: str | None


class EmailBackend(AnymailRequestsBackend["SendGridPayload"]):
    """SendGrid Web API v3 EmailBackend."""

    esp_name = "SendGrid"

    def __init__(self, **kwargs: Unpack[SendGridOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # The docs promise a bare SENDGRID_API_KEY fallback (for the key only)
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, allow_bare=True
        )
        self.generate_message_id = get_anymail_setting(
            "generate_message_id", esp_name=esp_name, kwargs=options, default=True
        )
        self.merge_field_format = get_anymail_setting(
            "merge_field_format", esp_name=esp_name, kwargs=options, default=None
        )
        api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=DEFAULT_API_URL
        )
        if not api_url.endswith("/"):
            api_url += "/"  # the endpoint is joined to it: ".../v3" must not lose its "v3"
        super().__init__(api_url, **options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> SendGridPayload:
        return SendGridPayload(message, defaults, self)

    def error_detail(self, response: requests.Response) -> str | None:
        # v3 errors are JSON {"errors": [{"message": "...", "field": "...", "help": ...}]}
        return sendgrid_error_text(response)

    def raise_for_status(self, response: requests.Response, payload: Any, message: Any) -> None:
        """Also refuse a 2xx response that SendGrid didn't send (so the message wasn't sent).

        Mail Send answers 202 with an empty body. A proxy's or captive portal's HTML page, or
        a truncated body, arrives with a 2xx too, and mustn't be taken for "queued".
        """
        super().raise_for_status(response, payload, message)
        problem = unexpected_success_body(response)
        if problem:
            raise AnymailRequestsAPIError(
                f"{self.esp_name} API response {response.status_code} ({response.reason}) "
                f"isn't from SendGrid's Mail Send: {problem}",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            )

    def parse_recipient_status(
        self, response: requests.Response, payload: SendGridPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """Every recipient is "queued", with the anymail_id generated for its copy.

        Mail Send answers 202 Accepted with an empty body: it has no id or per-recipient
        result to report (SendGrid finds bad recipients later, as "dropped" events).
        """
        return {
            recipient.addr_spec: AnymailRecipientStatus(
                payload.message_ids.get(recipient.addr_spec), "queued"
            )
            for recipient in payload.all_recipients
        }


def unexpected_success_body(response: requests.Response) -> str | None:
    """What's wrong with a 2xx Mail Send response's body, or None if it could be SendGrid's.

    SendGrid's own success body is empty. (A non-empty JSON body is let through, unless it
    holds SendGrid's {"errors": [...]}.)
    """
    body = response.content or b""
    if not body.strip():
        return None
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        return f"an HTML page ({content_type})"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # (including truncated JSON, and invalid UTF-8)
        return "a body that isn't JSON"
    if isinstance(data, dict) and "errors" in data:
        return sendgrid_error_text(response) or "an errors response"
    return None


def sendgrid_error_text(response: requests.Response) -> str | None:
    """The messages (and their fields) from a v3 ``{"errors": [...]}`` response, if any."""
    try:
        errors = response.json()["errors"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(errors, list):
        return None
    messages = []
    for error in errors:
        if isinstance(error, dict) and error.get("message"):
            field = error.get("field")
            messages.append(f"{error['message']}" + (f" (field {field})" if field else ""))
    return "; ".join(messages) or None


class SendGridPayload(RequestsPayload):
    """One v3 Mail Send call; "personalizations" are built once every attribute is known."""

    def __init__(self, message: Any, defaults: dict[str, Any], backend: EmailBackend) -> None:
        self.generate_message_id: bool = backend.generate_message_id
        self.merge_field_format: str | None = backend.merge_field_format
        self.message_ids: dict[str, str] = {}  # addr_spec -> anymail_id
        super().__init__(
            message,
            defaults,
            backend,
            headers={
                "Authorization": f"Bearer {backend.api_key}",
                "Content-Type": "application/json",
            },
        )
        self.data = self.build_request_data()

    def get_api_endpoint(self) -> str:
        return "mail/send"

    def serialize_data(self) -> str:
        return self.serialize_json(self.data)

    def init_payload(self) -> None:
        self.data: dict[str, Any] = {}  # root-level Mail Send fields
        self.recipients: dict[str, list[EmailAddress]] = {"to": [], "cc": [], "bcc": []}
        self.text_body: str | None = None
        self.html_body: str | None = None
        self.alternatives: list[dict[str, str]] = []
        self.metadata: dict[str, Any] = {}
        self.template_id: str | None = None
        self.merge_data: dict[str, dict[str, Any]] | None = None
        self.merge_global_data: dict[str, Any] = {}
        self.merge_metadata: dict[str, dict[str, Any]] | None = None
        self.esp_extra: dict[str, Any] = {}
        self.use_dynamic_template: bool | None = None  # (from esp_extra)
        self.warned_undelimited = False

    # Building the request, after every set_* call

    def build_request_data(self) -> dict[str, Any]:
        esp_extra = dict(self.esp_extra)
        if V2_SMTPAPI_KEY in esp_extra:
            raise AnymailConfigurationError(
                "SendGrid esp_extra['x-smtpapi'] is an option of SendGrid's old v2 API, which "
                "Anymail no longer uses. Give the same settings as SendGrid v3 Mail Send "
                "fields in esp_extra instead (e.g. x-smtpapi 'sub' becomes personalizations "
                "'substitutions', 'unique_args' becomes 'custom_args', 'category' becomes "
                "'categories', 'asm_group_id' becomes 'asm', 'filters' become 'mail_settings' "
                "and 'tracking_settings'); see SendGrid's v3 Mail Send API reference."
            )
        # merge_field_format and use_dynamic_template are Anymail's options, not SendGrid fields
        merge_field_format = esp_extra.pop("merge_field_format", self.merge_field_format)
        self.use_dynamic_template = esp_extra.pop("use_dynamic_template", None)
        extra_personalizations = esp_extra.pop("personalizations", None)

        data = dict(self.data)
        content = self.build_content()
        if content:
            data["content"] = content
        if isinstance(extra_personalizations, list):
            # The documented escape hatch: the caller's personalizations replace Anymail's
            data["personalizations"] = self.with_message_ids(extra_personalizations)
        else:
            if extra_personalizations is not None and not isinstance(extra_personalizations, dict):
                raise AnymailSerializationError(
                    "SendGrid esp_extra['personalizations'] must be a dict (merged into each "
                    "personalization) or a list (replacing them), "
                    f"not {type(extra_personalizations).__name__}",
                    email_message=self.message,
                    payload=self,
                    backend=self.backend,
                )
            personalizations = self.build_personalizations(merge_field_format)
            if extra_personalizations:
                personalizations = [
                    deep_merge(personalization, extra_personalizations)
                    for personalization in personalizations
                ]
            data["personalizations"] = personalizations
        # esp_extra is deeply merged, with precedence (docs: "esp_extra support")
        return deep_merge(data, esp_extra)

    def build_content(self) -> list[dict[str, str]]:
        # v3 requires text/plain first, then text/html, then any other types. An empty value
        # is an API error, and with a template_id it would also hide the template's own
        # content (Anymail v0.6 fix), so empty bodies are left out.
        content = []
        if self.text_body:
            content.append({"type": "text/plain", "value": self.text_body})
        if self.html_body:
            content.append({"type": "text/html", "value": self.html_body})
        return content + self.alternatives

    def with_message_ids(self, personalizations: list[Any]) -> list[Any]:
        """The caller's own personalizations, each with an anymail_id custom arg (as Anymail's
        own get), so their events can still be tracked. (A copy: esp_extra is left as given.)"""
        personalizations = copy.deepcopy(personalizations)
        if not self.generate_message_id:
            return personalizations
        for personalization in personalizations:
            if not isinstance(personalization, dict):
                raise AnymailSerializationError(
                    "SendGrid esp_extra['personalizations'] list items must be dicts "
                    f"(personalization objects), not {type(personalization).__name__}",
                    email_message=self.message,
                    payload=self,
                    backend=self.backend,
                )
            anymail_id = str(uuid.uuid4())
            custom_args = personalization.get("custom_args")
            custom_args = dict(custom_args) if isinstance(custom_args, dict) else {}
            personalization["custom_args"] = {**custom_args, ANYMAIL_ID_ARG: anymail_id}
            for recipient_type in ("to", "cc", "bcc"):
                recipients = personalization.get(recipient_type)
                for recipient in recipients if isinstance(recipients, list) else []:
                    email = recipient.get("email") if isinstance(recipient, dict) else None
                    if isinstance(email, str):
                        self.message_ids.setdefault(email, anymail_id)
        return personalizations

    def is_batch(self) -> bool:
        # An empty merge_data (or merge_metadata) still asks for one message per "to"
        has_merge = self.merge_data is not None or self.merge_metadata is not None
        return has_merge and bool(self.recipients["to"])

    def build_personalizations(self, merge_field_format: str | None) -> list[dict[str, Any]]:
        to = self.recipients["to"]
        if not to:
            # v3: "The to parameter is required for all personalization objects"
            self.unsupported_feature("messages without any 'to' recipients (cc or bcc only)")
        if not self.is_batch():
            return [self.build_personalization(to, None, merge_field_format)]
        # Batch: a personalization per "to" (each sees only their own address); cc and bcc
        # are repeated in every one, as the docs describe
        return [
            self.build_personalization([email], email.addr_spec, merge_field_format) for email in to
        ]

    def build_personalization(
        self, to: list[EmailAddress], merge_key: str | None, merge_field_format: str | None
    ) -> dict[str, Any]:
        """One personalization; merge_key (a "to" addr_spec) picks per-recipient data."""
        personalization: dict[str, Any] = {}
        for recipient_type in ("to", "cc", "bcc"):
            emails = to if recipient_type == "to" else self.recipients[recipient_type]
            if emails:
                personalization[recipient_type] = [email_object(email) for email in emails]

        custom_args = dict(self.metadata)
        if merge_key is not None:
            custom_args.update(self.recipient_data("merge_metadata", merge_key))
        custom_args = {key: custom_arg_value(value) for key, value in custom_args.items()}
        if self.generate_message_id:
            # In a batch, each "to" gets its own id; cc and bcc (in every copy) keep the
            # first one, so each recipient's status has a single id to track
            custom_args[ANYMAIL_ID_ARG] = self.new_message_id(
                [*to, *self.recipients["cc"], *self.recipients["bcc"]]
            )
        if custom_args:
            personalization["custom_args"] = custom_args

        merge_values = dict(self.merge_global_data)
        if merge_key is not None:
            merge_values.update(self.recipient_data("merge_data", merge_key))
        if merge_values:
            if self.is_dynamic_template:
                # Dynamic templates use Handlebars and take any JSON values, as given
                personalization["dynamic_template_data"] = merge_values
            else:
                # Legacy (and on-the-fly) templates: string substitutions, keys delimited as
                # the template expects. (merge_global_data goes here too, not in "sections":
                # those could clash with the template's own section tags.)
                if merge_field_format is None:
                    self.warn_if_undelimited(merge_values)
                personalization["substitutions"] = {
                    format_merge_field(key, merge_field_format): custom_arg_value(value)
                    for key, value in merge_values.items()
                }
        return personalization

    def recipient_data(self, attr: str, addr_spec: str) -> dict[str, Any]:
        """merge_data or merge_metadata for one "to" recipient ({} if none)."""
        data = (getattr(self, attr) or {}).get(addr_spec, {})
        if not isinstance(data, dict):
            raise AnymailSerializationError(
                f"{attr}[{addr_spec!r}] must be a dict of values for that recipient, "
                f"not {type(data).__name__}; can't send it to SendGrid",
                email_message=self.message,
                payload=self,
                backend=self.backend,
            )
        return data

    def warn_if_undelimited(self, merge_values: dict[str, Any]) -> None:
        """Warn (once per message) about legacy merge fields sent without any delimiters.

        Legacy substitution is plain text replacement: a bare "name" key would also replace
        every "name" in the template's text, which is almost never what was meant.
        """
        if self.warned_undelimited:
            return
        undelimited = [key for key in merge_values if not DELIMITED_MERGE_FIELD.search(str(key))]
        if undelimited:
            self.warned_undelimited = True
            warnings.warn(
                f"Your SendGrid merge fields {', '.join(map(repr, undelimited))} don't seem to "
                "have delimiters, so SendGrid would replace that text anywhere in a legacy "
                "template or message. Set SENDGRID_MERGE_FIELD_FORMAT (or "
                "esp_extra['merge_field_format']) to how your template writes its fields, e.g. "
                "'-{}-', or use a dynamic template (see Anymail's SendGrid docs).",
                AnymailWarning,
                stacklevel=2,
            )

    @property
    def is_dynamic_template(self) -> bool:
        """Dynamic (Handlebars) template handling: from esp_extra['use_dynamic_template'] if
        given, else from the template_id (dynamic template ids start with "d-")."""
        if self.use_dynamic_template is not None:
            return bool(self.use_dynamic_template)
        return self.template_id is not None and self.template_id.startswith(DYNAMIC_TEMPLATE_PREFIX)

    def new_message_id(self, recipients: list[EmailAddress]) -> str:
        """A fresh anymail_id, recorded as the message_id of recipients (unless already set)."""
        anymail_id = str(uuid.uuid4())
        for recipient in recipients:
            self.message_ids.setdefault(recipient.addr_spec, anymail_id)
        return anymail_id

    # Required fields

    def set_from_email(self, email: EmailAddress) -> None:
        self.data["from"] = email_object(email)

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.recipients[recipient_type] = emails

    def set_subject(self, subject: str) -> None:
        # An empty subject is an API error; omitting it lets a template supply one
        if subject:
            self.data["subject"] = subject

    def set_text_body(self, body: str) -> None:
        self.text_body = body

    def set_html_body(self, body: str) -> None:
        self.html_body = body

    # Optional features SendGrid supports

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        # v3's reply_to is a single email object
        emails = self.at_most_one(emails, "multiple reply_to addresses")
        self.data["reply_to"] = email_object(emails[0])

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        # v3 header values must be strings (the base has already made them str)
        self.data["headers"] = dict(headers)

    def add_alternative(self, content: str, mimetype: str) -> None:
        # v3's content list takes other MIME types (e.g. text/calendar) after plain and html
        if content:
            self.alternatives.append({"type": mimetype, "value": content})

    def add_attachment(self, attachment: Attachment) -> None:
        item = {
            "content": self.verbatim_base64(attachment.b64content),
            "type": attachment.mimetype,
            "filename": attachment.name or default_filename(attachment),
            "disposition": "attachment",
        }
        if attachment.inline:
            if attachment.cid:
                item["disposition"] = "inline"
                item["content_id"] = attachment.cid
            else:
                # v3: "content_id is required if the disposition is set to inline"
                self.unsupported_feature("inline attachments without a Content-ID")
        self.data.setdefault("attachments", []).append(item)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        # Sent as each personalization's custom_args (with any merge_metadata and anymail_id)
        self.metadata = metadata

    def set_send_at(self, send_at: Any) -> None:
        if isinstance(send_at, str):
            # As Anymail 6.1 did, a str is sent as given: it's up to the caller to make it
            # something SendGrid takes (v3 wants an integer unix timestamp)
            self.data["send_at"] = send_at
        else:
            # v3 send_at is an integer unix timestamp
            self.data["send_at"] = int(send_at.timestamp())

    def set_tags(self, tags: list[str]) -> None:
        self.data["categories"] = tags

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.data.setdefault("tracking_settings", {})["click_tracking"] = {"enable": track_clicks}

    def set_track_opens(self, track_opens: bool) -> None:
        self.data.setdefault("tracking_settings", {})["open_tracking"] = {"enable": track_opens}

    def set_template_id(self, template_id: Any) -> None:
        self.template_id = str(template_id)
        self.data["template_id"] = self.template_id

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.merge_global_data = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        self.merge_metadata = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.esp_extra = dict(extra)

    # Not overridden, so refused by the base: envelope_sender (v3 can't override it per
    # message), multiple From addresses, a spoofed To header.


def email_object(email: EmailAddress) -> dict[str, str]:
    """A v3 email object: {"email", "name"} (name only when there is one)."""
    obj = {"email": email.addr_spec}
    if email.display_name:
        obj["name"] = email.display_name
    return obj


def custom_arg_value(value: Any) -> str:
    """custom_args and legacy substitutions take only strings: numbers etc. as JSON text."""
    if isinstance(value, str):
        return value
    # (already checked JSON-serializable by the base)
    return json.dumps(value, ensure_ascii=False)


def format_merge_field(key: str, merge_field_format: str | None) -> str:
    """A legacy template's substitution tag for key: e.g. "-{}-" makes "name" "-name-"."""
    if merge_field_format is None:
        return key
    try:
        return merge_field_format.format(key)
    except (IndexError, KeyError, ValueError) as err:
        raise AnymailConfigurationError(
            f"Invalid SendGrid merge_field_format {merge_field_format!r} (from "
            "SENDGRID_MERGE_FIELD_FORMAT or esp_extra): it must be a str.format() string with "
            "one {} for the field name, and any literal braces doubled."
        ) from err


def default_filename(attachment: Attachment) -> str:
    # v3 requires a filename; an unnamed inline image is named for its Content-ID
    if attachment.cid:
        return attachment.cid
    return "attachment" + (mimetypes.guess_extension(attachment.mimetype) or "")


# --- Generic (candidate for the base): a deep merge, for ESPs that merge esp_extra deeply ---
