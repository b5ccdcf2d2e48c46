"""Amazon SES: sends through the SES v1 API with boto3 (the AWS SDK for Python).

An ordinary message goes out whole, as the MIME Django's ``message()`` builds, with SES's
SendRawEmail call; a ``template_id`` message uses SendBulkTemplatedEmail, which sends an SES
stored template personalized with ``merge_data`` and ``merge_global_data``.

API docs: Amazon SES API Reference (v1, "email" 2010-12-01): SendRawEmail,
SendBulkTemplatedEmail; and boto3's SES client. This module needs boto3 (the ``amazon_ses``
extra): importing it without boto3 raises AnymailImproperlyInstalled, as in Anymail 6.1. (The
Amazon SES webhooks import it only when they need boto3, so ``anymail.urls`` works without it.)
"""

from __future__ import annotations

import json
import re
from email import quoprimime
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32
from io import BytesIO
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote_plus, urlencode

from django.utils.encoding import punycode
from requests.structures import CaseInsensitiveDict

from .._version import __version__
from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailInvalidAddress,
)
from ..message import AnymailRecipientStatus
from ..serialization import serialize_json
from .base import AnymailBackendOptions, AnymailBaseBackend, BasePayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

try:
    # (boto3 first: with boto3 blocked or missing, botocore may still be importable)
    import boto3
    import boto3.exceptions
    from botocore.client import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as err:
    raise AnymailImproperlyInstalled(missing_package="boto3", backend="amazon_ses") from err

#: Added to boto3's User-Agent, so IAM policies (and AWS logs) can tell Anymail's requests
USER_AGENT_EXTRA = f"django-anymail/{__version__}-amazon-ses"

#: What a boto3 call raises: AWS error responses (ClientError), everything else botocore
#: raises (no credentials, connection errors, invalid parameters...), and boto3's own errors
#: (e.g. an S3 download's S3TransferFailedError)
BOTO3_ERRORS: tuple[type[Exception], ...] = (
    BotoCoreError,
    ClientError,
    boto3.exceptions.Boto3Error,
)

#: EmailMessage attributes a raw send takes from Django's own message(), which knows nothing of
#: Anymail's SEND_DEFAULTS (so a default for one of these would be silently lost)
DJANGO_MESSAGE_ATTRS = (
    "from_email",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "body",
    "alternatives",
    "attachments",
    "extra_headers",
)

# SES Message Tag names and values: "Contain only ASCII letters (a-z, A-Z), numbers (0-9),
# underscores (_), or dashes (-). Contain 256 characters or fewer." (API Reference, MessageTag)
SES_MESSAGE_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# SendBulkTemplatedEmail's per-destination Status (API Reference, BulkEmailDestinationStatus):
# "Success" means SES accepted the message; "MessageRejected" that it contained a virus; every
# other value (AccountThrottled, TemplateDoesNotExist, ...) is a failure to send.
BULK_STATUSES = {"Success": "queued", "MessageRejected": "rejected"}


# boto3 clients (the webhooks make theirs here, too)


def boto3_client(
    boto3_module: Any,
    service_name: str,
    session_params: dict[str, Any],
    client_params: dict[str, Any],
) -> Any:
    """A new boto3 client for service_name, from AMAZON_SES_SESSION_PARAMS/_CLIENT_PARAMS.

    The session is ``boto3_module.session.Session(**session_params)``: callers pass their own
    module's ``boto3``, so code that mocks ``anymail.backends.amazon_ses.boto3`` (or the
    webhooks' ``boto3``) sees every call. ``client_params["config"]`` may be a botocore Config
    or a dict of Config options (as the Anymail docs show); either way Anymail adds its user
    agent to it.
    """
    client_params = dict(client_params or {})
    config = Config(user_agent_extra=USER_AGENT_EXTRA)
    try:
        user_config = client_params.pop("config", None)
        if isinstance(user_config, dict):
            user_config = Config(**user_config)
        if user_config is not None:
            config = config.merge(user_config)
            if user_config.user_agent_extra:
                config = config.merge(
                    Config(user_agent_extra=f"{USER_AGENT_EXTRA} {user_config.user_agent_extra}")
                )
        session = boto3_module.session.Session(**(session_params or {}))
        return session.client(service_name, config=config, **client_params)
    except TypeError as err:  # an unknown Session, client or Config option
        raise AnymailConfigurationError(
            f"Invalid AMAZON_SES_SESSION_PARAMS or AMAZON_SES_CLIENT_PARAMS for boto3: {err}"
        ) from err


def boto3_error_status(error: Exception) -> int | None:
    """The HTTP status of an AWS error response (botocore ClientError), if there was one."""
    response = getattr(error, "response", None) or {}
    status: int | None = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def is_aws_refusal(error: Exception) -> bool:
    """Whether error is AWS's answer that the call is wrong (a 4xx ClientError other than
    throttling), so the same call will fail again; not a failure that may pass (no connection,
    a timeout, throttling, an AWS 5xx)."""
    if not isinstance(error, ClientError):
        return False
    status = boto3_error_status(error) or 0
    code = str(error.response.get("Error", {}).get("Code", ""))
    throttled = status == 429 or "throttl" in code.lower() or code in AWS_RETRYABLE_CODES
    return 400 <= status < 500 and not throttled


#: AWS error codes (with a 4xx status) that mean "try again later"
AWS_RETRYABLE_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


class AmazonSESOptions(AnymailBackendOptions, total=False):
    """Amazon SES's backend options (as AMAZON_SES_* settings, without the prefix)."""

    session_params: dict[str, Any] | None  #: boto3.session.Session() kwargs
    client_params: dict[str, Any] | None  #: session.client() kwargs
    configuration_set_name: str | None
    message_tag_name: str | None


class EmailBackend(AnymailBaseBackend["AmazonSESPayload"]):
    """Anymail's Amazon SES EmailBackend (``anymail.backends.amazon_ses.EmailBackend``)."""

    esp_name = "Amazon SES"

    def __init__(self, **kwargs: Unpack[AmazonSESOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # boto3 Session and client kwargs; by default boto3 finds its own credentials and region
        self.session_params: dict[str, Any] = (
            get_anymail_setting("session_params", esp_name=esp_name, kwargs=options, default={})
            or {}
        )
        self.client_params: dict[str, Any] = (
            get_anymail_setting("client_params", esp_name=esp_name, kwargs=options, default={})
            or {}
        )
        self.configuration_set_name: str | None = get_anymail_setting(
            "configuration_set_name", esp_name=esp_name, kwargs=options, default=None
        )
        self.message_tag_name: str | None = get_anymail_setting(
            "message_tag_name", esp_name=esp_name, kwargs=options, default=None
        )
        if self.message_tag_name is not None and not SES_MESSAGE_TAG.match(
            str(self.message_tag_name)
        ):
            raise AnymailConfigurationError(
                f"AMAZON_SES_MESSAGE_TAG_NAME {self.message_tag_name!r} isn't a valid SES "
                "Message Tag name: use only ASCII letters, digits, '_' and '-' (at most 256)."
            )
        super().__init__(**options)
        self.client: Any = None

    # One boto3 client per connection: open() makes it, send_messages() reuses it, close() ends it

    def open(self) -> bool:
        if self.client is not None:
            return False
        try:
            self.client = boto3_client(boto3, "ses", self.session_params, self.client_params)
        except BOTO3_ERRORS as err:  # e.g., an unknown profile_name, or no region
            raise AnymailAPIError(
                f"Amazon SES: couldn't create the boto3 SES client: {err}",
                backend=self,
                esp_name=self.esp_name,
            ) from err
        register_fast_form_encoding(self.client)
        return True

    def close(self) -> None:
        if self.client is None:
            return
        client, self.client = self.client, None
        try:
            client.close()  # botocore >= 1.17 clients release their connection pool
        except Exception:  # closing is best-effort, as with Django's SMTP backend
            pass

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> AmazonSESPayload:
        return AmazonSESPayload(message, defaults, self)

    def post_to_esp(self, payload: AmazonSESPayload, message: Any) -> dict[str, Any]:
        if self.client is None:
            self.open()  # (send_messages() opens it; this is for direct callers)
        try:
            return payload.call_send_api(self.client)
        except BOTO3_ERRORS as err:
            # str(ClientError) gives SES's error code and message, e.g. "An error occurred
            # (MessageRejected) when calling the SendRawEmail operation: Email address is not
            # verified."
            raise AnymailAPIError(
                f"Amazon SES {payload.api_name} failed: {err}",
                backend=self,
                email_message=message,
                payload=payload,
                response=getattr(err, "response", None),
                status_code=boto3_error_status(err),
            ) from err
        except Exception as err:
            # botocore raises more than BOTO3_ERRORS: e.g. ResponseParserError, or a KeyError,
            # for a 200 answer that isn't SES's (a proxy's HTML page). Still a failed API call,
            # which fail_silently must cover.
            raise AnymailAPIError(
                f"Amazon SES {payload.api_name} failed: {type(err).__name__}: {err}",
                backend=self,
                email_message=message,
                payload=payload,
            ) from err

    def parse_recipient_status(
        self, response: dict[str, Any], payload: AmazonSESPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        try:
            return payload.parse_response(response)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise AnymailAPIError(
                f"Unexpected Amazon SES {payload.api_name} response {response!r}: {err!r}",
                backend=self,
                email_message=message,
                payload=payload,
                response=response,
            ) from err


class AmazonSESPayload(BasePayload):
    """Collects the message, then builds the params for SendRawEmail or SendBulkTemplatedEmail.

    Which call depends on template_id, which the base reads only after everything else, so each
    ``set_*`` just records its value and ``process_message`` decides at the end.
    """

    backend: EmailBackend

    def init_payload(self) -> None:
        self.params: dict[str, Any] = {}
        self.from_emails: list[EmailAddress] = []
        self.recipients: dict[str, list[EmailAddress]] = {"to": [], "cc": [], "bcc": []}
        self.reply_to: list[EmailAddress] = []
        self.spoofed_to: str | None = None
        self.subject: str = ""
        self.content: list[str] = []  # what a body or alternative would override in a template
        self.extra_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        self.attachments: list[Attachment] = []
        self.envelope_sender: EmailAddress | None = None
        self.metadata: dict[str, Any] = {}
        self.tags: list[str] = []
        self.template_id: str | None = None
        self.merge_data: dict[str, dict[str, Any]] | None = None
        self.merge_global_data: dict[str, Any] = {}
        self.esp_extra: dict[str, Any] = {}
        # For template sends: the recipients of each SendBulkTemplatedEmail Destination, in order
        self.destination_recipients: list[list[EmailAddress]] = []

    @property
    def is_template_send(self) -> bool:
        return self.template_id is not None

    @property
    def api_name(self) -> str:
        return "SendBulkTemplatedEmail" if self.is_template_send else "SendRawEmail"

    def process_message(self) -> None:
        super().process_message()
        if self.is_template_send:
            self.build_template_params()
        else:
            self.build_raw_params()
        # "esp_extra ... will be merged into the params for the SendRawEmail or
        # SendBulkTemplatedEmail SES API call"; a None value removes a param Anymail set
        # (e.g., {"ConfigurationSetName": None} sends this message without the default set).
        self.params.update(self.esp_extra)
        self.params = {key: value for key, value in self.params.items() if value is not None}

    def call_send_api(self, client: Any) -> dict[str, Any]:
        """Call the SES API (client: a boto3 SES client); return its parsed response."""
        api_call = (
            client.send_bulk_templated_email if self.is_template_send else client.send_raw_email
        )
        response: dict[str, Any] = api_call(**self.params)
        return response

    # Recording the message (see build_raw_params and build_template_params for their use)

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        # SES sends any From header Django builds, including several addresses
        self.from_emails = emails

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.recipients[recipient_type] = emails

    def set_spoofed_to_header(self, header_to: str) -> None:
        # A raw send's To header can differ from its Destinations (the envelope recipients)
        self.spoofed_to = header_to

    def set_subject(self, subject: str) -> None:
        self.subject = subject

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.reply_to = emails

    def set_extra_headers(self, headers: CaseInsensitiveDict[str]) -> None:
        self.extra_headers = headers

    def set_text_body(self, body: str) -> None:
        self.content.append("body")

    def set_html_body(self, body: str) -> None:
        self.content.append("body")

    def add_alternative(self, content: str, mimetype: str) -> None:
        # SES sends whatever alternative parts the raw MIME has
        self.content.append(f"alternative part with type '{mimetype}'")

    def add_attachment(self, attachment: Attachment) -> None:
        self.attachments.append(attachment)

    def set_envelope_sender(self, email: EmailAddress) -> None:
        self.envelope_sender = email

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def set_tags(self, tags: list[str]) -> None:
        self.tags = tags

    def set_template_id(self, template_id: Any) -> None:
        self.template_id = str(template_id)  # an SES template's name

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.merge_global_data = merge_global_data

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        self.esp_extra = dict(extra)

    # SendRawEmail

    def build_raw_params(self) -> None:
        """SendRawEmail: Django's MIME message, plus Anymail's metadata and tag headers.

        "Custom email headers are available to all SNS notifications (webhooks)": metadata goes
        as JSON in X-Metadata, and each tag in its own X-Tag header.
        """
        self.refuse_for_raw_send()
        mime = self.message.message()
        if self.metadata:
            mime["X-Metadata"] = metadata_header(self.metadata)
        for tag in self.tags:
            mime["X-Tag"] = self.header_value("X-Tag", tag)
        encode_8bit_text_parts(mime)
        self.params = {
            "RawMessage": {"Data": mime_bytes(mime)},
            # The envelope recipients: the MIME has no Bcc header (and To may be spoofed)
            "Destinations": [self.ses_addr_spec(email) for email in self.all_recipients],
        }
        if self.envelope_sender is not None:
            # "If you specify the Source parameter ... bounces and complaints are sent to this
            # email address. This takes precedence over any Return-Path header" (SendRawEmail)
            self.params["Source"] = self.ses_addr_spec(self.envelope_sender)
        elif len(self.from_emails) > 1:
            # Without Source, SES takes the sender from the From header, which it can't do
            # when that lists several addresses: send as the first (the header keeps them all)
            self.params["Source"] = self.ses_addr_spec(self.from_emails[0])
        self.params["ConfigurationSetName"] = self.backend.configuration_set_name
        self.params["Tags"] = self.ses_message_tags()

    def refuse_for_raw_send(self) -> None:
        # Only SES templates have merge fields
        if self.merge_data is not None:
            self.unsupported_feature("merge_data without template_id")
        if self.merge_global_data:
            self.unsupported_feature("merge_global_data without template_id")
        # Django's message() can't see SEND_DEFAULTS for its own attributes
        for attr in DJANGO_MESSAGE_ATTRS:
            if self.defaults.get(attr) is not None:
                self.unsupported_feature(
                    f"send defaults for the EmailMessage attribute '{attr}' (with Amazon SES, "
                    "SEND_DEFAULTS may set only Anymail's own options, like metadata and "
                    "esp_extra)"
                )

    # SendBulkTemplatedEmail

    def build_template_params(self) -> None:
        """SendBulkTemplatedEmail: the stored template, personalized for each Destination.

        With merge_data (even {}), each "to" gets its own Destination (so its own message, with
        its own ReplacementTemplateData); without it, all recipients share one Destination.
        """
        self.refuse_for_template_send()
        self.params = {
            "Source": self.ses_address(self.from_emails[0]) if self.from_emails else None,
            "Template": self.template_id,
            "DefaultTemplateData": serialize_json(
                self.merge_global_data or {}, self.esp_name, "merge_global_data"
            ),
            "Destinations": self.template_destinations(),
        }
        if self.reply_to:
            self.params["ReplyToAddresses"] = [self.ses_address(email) for email in self.reply_to]
        if self.envelope_sender is not None:
            self.params["ReturnPath"] = self.ses_addr_spec(self.envelope_sender)
        self.params["ConfigurationSetName"] = self.backend.configuration_set_name
        self.params["DefaultTags"] = self.ses_message_tags()

    def refuse_for_template_send(self) -> None:
        """What SES's templated email API can't send (per Anymail's Amazon SES docs)."""
        if len(self.from_emails) > 1:
            self.unsupported_feature("multiple from emails with template_id")
        if self.spoofed_to is not None:
            self.unsupported_feature("a spoofed To header with template_id")
        if self.attachments:
            self.unsupported_feature("attachments with template_id")
        if self.extra_headers:
            self.unsupported_feature("extra_headers with template_id")
        if self.subject:
            self.unsupported_feature("overriding the template's subject with template_id")
        for content in dict.fromkeys(self.content):
            self.unsupported_feature(f"overriding the template's {content} with template_id")
        if self.metadata:
            # SendBulkTemplatedEmail has no custom headers, where Anymail's metadata goes
            self.unsupported_feature("metadata with template_id")
        if self.tags and not self.backend.message_tag_name:
            self.unsupported_feature(
                "tags with template_id (unless you set AMAZON_SES_MESSAGE_TAG_NAME)"
            )

    def template_destinations(self) -> list[dict[str, Any]]:
        to, cc, bcc = (self.recipients[kind] for kind in ("to", "cc", "bcc"))
        copies: dict[str, list[str]] = {}
        if cc:
            copies["CcAddresses"] = [self.ses_address(email) for email in cc]
        if bcc:
            copies["BccAddresses"] = [self.ses_address(email) for email in bcc]
        if self.merge_data is None or not to:
            self.destination_recipients = [[*to, *cc, *bcc]]
            destination = dict(copies)
            if to:
                destination = {"ToAddresses": [self.ses_address(email) for email in to], **copies}
            return [{"Destination": destination}]
        # A batch send: cc and bcc get a copy of every "to" recipient's individual message
        destinations = []
        for email in to:
            self.destination_recipients.append([email, *cc, *bcc])
            destinations.append(
                {
                    "Destination": {"ToAddresses": [self.ses_address(email)], **copies},
                    "ReplacementTemplateData": serialize_json(
                        self.merge_data.get(email.addr_spec, {}),
                        self.esp_name,
                        f"merge_data[{email.addr_spec!r}]",
                    ),
                }
            )
        return destinations

    # Shared by both calls

    def ses_message_tags(self) -> list[dict[str, str]] | None:
        """The SES Message Tag for AMAZON_SES_MESSAGE_TAG_NAME, valued with the single tag."""
        tag_name = self.backend.message_tag_name
        if not tag_name or not self.tags:
            return None
        tag = self.at_most_one(self.tags, "multiple tags with AMAZON_SES_MESSAGE_TAG_NAME")[0]
        if not SES_MESSAGE_TAG.match(tag):
            self.unsupported_feature(
                f"the tag {tag!r} as an SES Message Tag (AMAZON_SES_MESSAGE_TAG_NAME tags may "
                "have only ASCII letters, digits, '_' and '-', at most 256)"
            )
            return None
        return [{"Name": tag_name, "Value": tag}]

    def ses_addr_spec(self, email: EmailAddress) -> str:
        """The bare address, as SES takes it: 7-bit ASCII, with a Punycode domain.

        "Amazon SES does not support the SMTPUTF8 extension ... the email address string must
        be 7-bit ASCII ... encode the domain using Punycode. Punycode is not permitted in the
        local part" (SendRawEmail and SendBulkTemplatedEmail, Source).
        """
        if not email.username.isascii():
            raise AnymailInvalidAddress(
                f"Amazon SES can't send to or from {email.addr_spec!r}: SES doesn't support "
                "non-ASCII characters before the @ (no SMTPUTF8).",
                email_message=self.message,
                payload=self,
                backend=self.backend,
            )
        return f"{email.username}@{punycode(email.domain)}"

    def ses_address(self, email: EmailAddress) -> str:
        """The full address for a SES API field: a non-ASCII display name must be RFC 2047
        encoded ("encode the 'friendly from' name using MIME encoded-word syntax"), and the
        domain Punycode: EmailAddress.address, once the local part is known to be ASCII."""
        self.ses_addr_spec(email)  # (refuses a non-ASCII local part)
        return email.address

    # The response

    def parse_response(self, response: dict[str, Any]) -> dict[str, AnymailRecipientStatus]:
        if not self.is_template_send:
            # SendRawEmail: {"MessageId": "..."}; SES has only queued the message so far
            return self.recipient_status_for_all(response["MessageId"], "queued")
        # SendBulkTemplatedEmail: {"Status": [{"Status", "MessageId", "Error"}, ...]}, one per
        # Destination, in order
        statuses = response["Status"]
        if len(statuses) != len(self.destination_recipients):
            raise ValueError(
                f"expected {len(self.destination_recipients)} Status entries, got {len(statuses)}"
            )
        result: dict[str, AnymailRecipientStatus] = {}
        for recipients, status in zip(self.destination_recipients, statuses, strict=True):
            message_id = status.get("MessageId")
            if status.get("Status") is None:
                # (Status is optional in the API model: a MessageId means SES took the message)
                anymail_status = "queued" if message_id else "unknown"
            else:
                anymail_status = BULK_STATUSES.get(status["Status"], "failed")
            recipient_status = AnymailRecipientStatus(message_id, anymail_status)
            for email in recipients:
                # (In a batch send, cc and bcc get one copy per "to"; report the first.)
                result.setdefault(email.addr_spec, recipient_status)
        return result


# The SES v1 (query protocol) request body


#: The bytes a form value may hold to be percent-encoded by replacing just "+", "/" and "=":
#: the base64 alphabet (botocore sends RawMessage Data as base64) and the unreserved characters
FORM_BASE64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-+/="


def form_urlencode(params: dict[str, Any]) -> bytes:
    """``urlencode(params, doseq=True)``, as botocore would encode the query-protocol body, but
    fast for base64 values.

    urlencode percent-encodes in a Python loop over every byte: about 2 ms for the base64 of a
    30 KB message, which botocore pays twice (once to sign the body, once to send it). A
    base64 value needs only three replacements, done in C; every other value goes through
    urlencode itself, so the result is the same.
    """
    parts = []
    for key, value in params.items():
        if isinstance(key, str) and isinstance(value, str) and value.isascii():
            data = value.encode("ascii")
            if not data.translate(None, FORM_BASE64_BYTES):  # (nothing else in it)
                encoded = data.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
                parts.append(b"%s=%s" % (quote_plus(key).encode("ascii"), encoded))
                continue
        part = urlencode([(key, value)], doseq=True)
        if part:  # (doseq: an empty list value encodes to nothing)
            parts.append(part.encode("ascii"))
    return b"&".join(parts)


def encode_query_body(params: dict[str, Any], **kwargs: Any) -> None:
    """botocore ``before-call`` handler: form-encode the request body once, ahead of botocore.

    botocore's query serializer leaves the body as a dict of form fields, which botocore
    url-encodes each time it prepares the request (to sign it, then again to send it). Bytes
    go through untouched, so the body is encoded once, and SigV4 signs the bytes that are sent.
    The serializer already set the Content-Type (application/x-www-form-urlencoded).
    """
    body = params.get("body")
    if isinstance(body, dict):
        params["body"] = form_urlencode(body)


def register_fast_form_encoding(client: Any) -> None:
    """Hook encode_query_body into this one client (boto3 gives each client its own copy of
    the event handlers, so other boto3 clients in the process are untouched)."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is not None:  # (tests may mock boto3 with a client that has no event system)
        for operation in ("SendRawEmail", "SendBulkTemplatedEmail"):
            events.register(
                f"before-call.ses.{operation}",
                encode_query_body,
                unique_id=f"anymail-encode-query-body-{operation}",
            )


# The raw MIME message


def encode_8bit_text_parts(mime: Message) -> None:
    """Re-encode every 8bit text part as quoted-printable.

    Works around an SES bug: with SES open or click tracking enabled, SES can corrupt non-ASCII
    message bodies sent with Content-Transfer-Encoding 8bit (which Django uses for utf-8 text
    with short lines). Quoted-printable text arrives intact. (Anymail changelog, v4.0.)
    """
    for part in mime.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if str(part.get("Content-Transfer-Encoding", "")).strip().lower() != "8bit":
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = b""
        # (quoprimime works on text; latin-1 maps each byte to one character and back)
        part.set_payload(quoprimime.body_encode(data.decode("latin-1")))
        part.replace_header("Content-Transfer-Encoding", "quoted-printable")


def metadata_header(metadata: dict[str, Any]) -> str:
    """Metadata as the X-Metadata header's JSON: ASCII only, and never containing "=?".

    Python's email package may still fold a long value into RFC 2047 encoded-words (Django 6's
    modern email policy does, for long unbroken words), so the tracking webhook decodes
    encoded-words before parsing the JSON. Escaping every "=?" (JSON allows "\\u003f" for "?")
    means any encoded-word it finds is the email package's, never text from the metadata.
    """
    return json.dumps(metadata, ensure_ascii=True, allow_nan=False).replace("=?", "=\\u003f")


class FastFoldCompat32(Compat32):
    """The compat32 policy, writing a header that needs no folding without the Header machinery.

    compat32 folds every header through email.header.Header (a few dozen Python calls each,
    for the twenty-odd headers of a message with attachments). A short single-line ASCII
    value comes out of it unchanged, so it's written as is; anything else goes to compat32.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()  # (no line breaks or tabs, which Header rewrites)
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii", "surrogateescape")
        return super().fold_binary(name, value)


FAST_FOLD_COMPAT32 = FastFoldCompat32()


class FastBytesGenerator(BytesGenerator):
    """BytesGenerator writing each body in one piece, and checking boundaries without a regex.

    The stdlib generator writes a body line by line (two calls for each of an attachment's
    hundreds of base64 lines), and checks each new multipart boundary against the parts' text
    with a freshly compiled regex. Same output, fewer Python calls: a test compares the two.
    """

    # (Both override private stdlib methods, unchanged in every Python Anymail supports; typeshed
    # doesn't declare them.)

    def _write_lines(self, lines: str) -> None:
        # The stdlib writes each line of lines, with its line break changed to the policy's
        # linesep (which flatten() keeps in self._NL)
        linesep: str = self._NL  # type: ignore[attr-defined]
        if "\r" in lines:
            lines = NEWLINE.sub(linesep, lines)
        elif linesep != "\n":
            lines = lines.replace("\n", linesep)  # (the same, much faster than the regex)
        if lines:
            self.write(lines)

    @classmethod
    def _make_boundary(cls, text: bytes | None = None) -> str:
        # The stdlib refuses a boundary only when a line of text (the parts, flattened) is
        # "--boundary" (or with a trailing "--"); refusing one found anywhere is stricter,
        # and cheap.
        while True:
            boundary: str = super()._make_boundary()  # type: ignore[misc]
            if text is None or boundary.encode("ascii") not in text:
                return boundary


NEWLINE = re.compile(r"\r\n|\r|\n")  # (what the stdlib generator counts as a line break)


def mime_bytes(mime: Message) -> bytes:
    """The message as SES's RawMessage Data: bytes, with RFC 5322 CRLF line endings."""
    buffer = BytesIO()
    policy = mime.policy
    if type(policy) is Compat32:  # (Django < 6's SafeMIME messages)
        # (the same settings, as set by Compat32(**settings) or clone(**settings))
        policy = FAST_FOLD_COMPAT32.clone(**vars(policy))
    FastBytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(mime, linesep="\r\n")
    return buffer.getvalue()
