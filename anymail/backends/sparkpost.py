"""SparkPost: sends through SparkPost's official python-sparkpost client (package "sparkpost").

Settings:

* SPARKPOST_API_KEY: optional (also found bare at the root of settings). Without it, the
  SPARKPOST_API_KEY *environment variable* (as the sparkpost client would read it). With
  neither, creating the backend raises AnymailConfigurationError.
* SPARKPOST_API_URL: optional full, versioned endpoint (e.g. SparkPost EU's
  "https://api.eu.sparkpost.com/api/v1"); by default the client's own (US) endpoint.
* REQUESTS_TIMEOUT: applied to the client's HTTP calls too (the client itself has none).

Each message is one ``transmissions.send(**kwargs)`` call. The keyword arguments are the
client's (``from_email``, ``recipients``, ``subject``, ``text``, ``html``, ``reply_to``,
``custom_headers``, ``attachments``, ``inline_images``, ``metadata``, ``substitution_data``,
``campaign``, ``track_opens``, ``track_clicks``, ``start_time``, ``return_path``,
``template``), and ``esp_extra`` adds to or overrides any of them.

SparkPost always generates one message per recipient, so "To", "Cc" and "Bcc" are only what
each recipient's *headers* show (SparkPost's "Using CC and BCC with the REST API" guide): every
recipient of an ordinary send gets the whole To list as its ``header_to``, and Cc recipients
are also named in a "CC" header. A batch send (merge_data or merge_metadata) leaves each To
recipient's To header as just that recipient, with its own ``substitution_data`` and
``metadata``.

The sparkpost package is imported only when this backend is used, so Anymail's webhooks (and
urls) work without it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import requests

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..conf import get_anymail_setting
from ..exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailRequestsAPIError,
    AnymailSerializationError,
)
from ..message import AnymailRecipientStatus
from ..serialization import check_serializable
from .base import AnymailBaseBackend, BasePayload
from .base_requests import (
    DEFAULT_REQUESTS_TIMEOUT,
    EnvironmentCachingSession,
    RequestsTimeoutOptions,
    describe_request_and_response,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)


class SparkPostOptions(RequestsTimeoutOptions, total=False):
    """SparkPost's backend options (as SPARKPOST_* settings, without the prefix)."""

    api_key: str | None  #: None: the sparkpost client reads the SPARKPOST_API_KEY env var
    api_url: str | None  #: None: the sparkpost client's default endpoint


class EmailBackend(AnymailBaseBackend["SparkPostPayload"]):
    """Django EmailBackend for SparkPost: one sparkpost client (and HTTP session) per open()."""

    esp_name = "SparkPost"

    def __init__(self, **kwargs: Unpack[SparkPostOptions]) -> None:
        esp_name = self.esp_name
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        # Spec: optional, and also read bare (SPARKPOST_API_KEY at the settings root)
        self.api_key = get_anymail_setting(
            "api_key", esp_name=esp_name, kwargs=options, default=None, allow_bare=True
        )
        # None: the sparkpost client's own default endpoint
        self.api_url = get_anymail_setting(
            "api_url", esp_name=esp_name, kwargs=options, default=None
        )
        self.timeout = get_anymail_setting(
            "requests_timeout", default=DEFAULT_REQUESTS_TIMEOUT, kwargs=options
        )
        super().__init__(**options)
        self.sparkpost = import_sparkpost()  # AnymailImproperlyInstalled if it's missing
        # The client's own fallback, checked now (as 6.1 did) rather than at the first send
        self.api_key = self.api_key or os.environ.get("SPARKPOST_API_KEY")
        if not self.api_key:
            raise AnymailConfigurationError(
                'You must set ANYMAIL = {"SPARKPOST_API_KEY": ...} or ANYMAIL_SPARKPOST_API_KEY '
                "or SPARKPOST_API_KEY in your Django settings, or the SPARKPOST_API_KEY "
                "environment variable, to use SparkPost."
            )
        self.client: Any = None
        self.session: requests.Session | None = None

    # Connection: python-sparkpost makes a requests.Session per API resource, per client. Anymail
    # instead shares one session (so one keep-alive connection) across a send_messages() batch.

    def open(self) -> bool:
        if self.client is not None:
            return False
        session = EnvironmentCachingSession()
        if self.debug_api_requests:
            session.hooks["response"].append(
                lambda response, *args, **kwargs: describe_request_and_response(
                    response, self.esp_name
                )
            )
        self.client = sparkpost_client_class()(
            session, self.timeout, api_key=self.api_key, api_url=self.api_url
        )
        self.session = session
        return True

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None
        self.client = None

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> SparkPostPayload:
        return SparkPostPayload(message, defaults, self)

    def post_to_esp(self, payload: SparkPostPayload, message: Any) -> Any:
        """Call transmissions.send; wrap every client or network error in an Anymail error."""
        opened = self.open()  # (normally already open, from send_messages)
        exceptions = self.sparkpost.exceptions
        try:
            return self.client.transmissions.send(**payload.send_kwargs)
        except exceptions.SparkPostAPIException as err:
            # err.errors: SparkPost's "{message} Code: {code} Description: {description}" lines
            details = "; ".join(error.strip() for error in err.errors if error.strip())
            raise AnymailRequestsAPIError(
                f"SparkPost API response {err.status}: {details}",
                email_message=message,
                payload=payload,
                response=err.response,
                backend=self,
            ) from err
        except (requests.RequestException, exceptions.SparkPostException) as err:
            raise AnymailRequestsAPIError(
                f"Error calling the SparkPost API: {err}",
                email_message=message,
                payload=payload,
                backend=self,
            ) from err
        finally:
            if opened:
                self.close()

    def parse_recipient_status(
        self, response: Any, payload: SparkPostPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        """The transmission id is every recipient's message_id.

        SparkPost answers {"id", "total_accepted_recipients", "total_rejected_recipients"}
        (python-sparkpost returns the "results" object), without saying *which* recipients it
        rejected. So: every recipient accepted (and none rejected), all queued; none accepted,
        all rejected; otherwise (including counts that don't add up to the recipients sent)
        unknown.
        """
        try:
            transmission_id = response["id"]
            accepted = int(response["total_accepted_recipients"])
            rejected = int(response["total_rejected_recipients"])
            if not isinstance(transmission_id, (str, int)) or isinstance(transmission_id, bool):
                raise TypeError("transmission id is not a string")
        except (KeyError, TypeError, ValueError) as err:
            raise AnymailAPIError(
                f"Invalid SparkPost API response format: {response!r}",
                email_message=message,
                payload=payload,
                backend=self,
            ) from err
        if rejected == 0 and accepted == payload.recipient_count():
            status = "queued"
        elif accepted == 0:
            status = "rejected"
        else:
            status = "unknown"
        return payload.recipient_status_for_all(str(transmission_id), status)


class SparkPostPayload(BasePayload):
    """Collects ``transmissions.send`` keyword arguments; ``send_kwargs`` is the finished set."""

    def init_payload(self) -> None:
        self.params: dict[str, Any] = {}  # send() kwargs set directly by a message attribute
        self.recipients: dict[str, list[EmailAddress]] = {"to": [], "cc": [], "bcc": []}
        self.custom_headers: dict[str, str] = {}
        self.attachments: list[dict[str, str]] = []
        self.inline_images: list[dict[str, str]] = []
        self.spoofed_to: str | None = None
        self.merge_data: dict[str, Any] = {}
        self.merge_metadata: dict[str, Any] = {}
        self.esp_extra: dict[str, Any] = {}
        self.send_kwargs: dict[str, Any] = {}

    def process_message(self) -> None:
        super().process_message()
        # Some checks need the whole message (e.g., a template_id refuses an earlier subject)
        self.send_kwargs = self.build_send_kwargs()

    # Sender, recipients and content

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        # SparkPost takes a From header string, which may hold several addresses (RFC 5322)
        self.params["from_email"] = ", ".join(email.address for email in emails)

    def set_from_email(self, email: EmailAddress) -> None:
        self.set_from_email_list([email])

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.recipients[recipient_type] = emails

    def set_spoofed_to_header(self, header_to: str) -> None:
        # SparkPost's per-recipient header_to is exactly "show this To header instead"
        self.spoofed_to = header_to

    def set_subject(self, subject: str) -> None:
        self.params["subject"] = subject

    def set_text_body(self, body: str) -> None:
        self.params["text"] = body

    def set_html_body(self, body: str) -> None:
        self.params["html"] = body

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.params["reply_to"] = ", ".join(email.address for email in emails)

    def set_extra_headers(self, headers: Mapping[str, str]) -> None:
        self.custom_headers.update(headers)

    def add_attachment(self, attachment: Attachment) -> None:
        if attachment.inline and attachment.cid:
            # An inline image's "name" becomes its Content-ID (SparkPost has no separate
            # filename for these), for <img src="cid:...">
            self.inline_images.append(
                {"name": attachment.cid, "type": attachment.mimetype, "data": attachment.b64content}
            )
        else:
            self.attachments.append(
                {
                    "name": attachment.name or "",
                    "type": attachment.mimetype,
                    "data": attachment.b64content,
                }
            )

    # Anymail extras

    def set_envelope_sender(self, email: EmailAddress) -> None:
        # SparkPost may keep only the domain, substituting its own bounce mailbox (spec quirk)
        self.params["return_path"] = email.addr_spec

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.params["metadata"] = metadata

    def set_send_at(self, send_at: datetime | str) -> None:
        if isinstance(send_at, str):
            # options.start_time is an ISO string: a user's string goes as given (as 6.1 did)
            self.params["start_time"] = send_at
        else:
            # options.start_time format: YYYY-MM-DDTHH:MM:SS+-HH:MM (whole seconds)
            self.params["start_time"] = send_at.replace(microsecond=0).isoformat()

    def set_tags(self, tags: list[str]) -> None:
        # SparkPost's single campaign_id is the only message-level tag
        tags = self.at_most_one(tags, "multiple tags")
        if tags:
            self.params["campaign"] = tags[0]

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.params["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens: bool) -> None:
        self.params["track_opens"] = track_opens

    def set_template_id(self, template_id: Any) -> None:
        self.params["template"] = str(template_id)

    def set_merge_data(self, merge_data: dict[str, dict[str, Any]]) -> None:
        self.merge_data = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.params["substitution_data"] = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, dict[str, Any]]) -> None:
        # SparkPost merges recipient metadata over the transmission's, as Anymail specifies
        self.merge_metadata = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        if not isinstance(extra, Mapping):
            raise AnymailSerializationError(
                "SparkPost esp_extra must be a dict of transmissions.send keyword arguments, "
                f"not {type(extra).__name__} ({extra!r})",
                email_message=self.message,
                backend=self.backend,
            )
        check_serializable(
            dict(extra),
            "esp_extra",
            self.esp_name,
            email_message=self.message,
            backend=self.backend,
        )
        self.esp_extra = dict(extra)

    def recipient_count(self) -> int:
        """How many recipients the transmission names (esp_extra may replace Anymail's)."""
        recipients = self.send_kwargs.get("recipients")
        return len(recipients) if isinstance(recipients, list) else len(self.all_recipients)

    # The send() keyword arguments

    def build_send_kwargs(self) -> dict[str, Any]:
        if "template" in self.params:
            self.refuse_template_content()
        kwargs = dict(self.params)
        kwargs["recipients"] = self.build_recipients()
        headers = self.build_headers()
        if headers:
            kwargs["custom_headers"] = headers
        if self.attachments:
            kwargs["attachments"] = self.attachments
        if self.inline_images:
            kwargs["inline_images"] = self.inline_images
        # Spec: esp_extra keys override Anymail's value for that send() argument
        kwargs.update(self.esp_extra)
        return kwargs

    def refuse_template_content(self) -> None:
        """A stored template brings its own content: refuse what SparkPost would drop.

        SparkPost's "Send a Template" content is only template_id (and use_draft_template);
        it prohibits a subject or body alongside one, and ignores other inline content (e.g.
        python-sparkpost issue #230: a from_email doesn't override the template's From).
        """
        for param, feature in [
            ("subject", "a subject"),
            ("text", "a text body"),
            ("html", "an html body"),
            ("reply_to", "reply_to"),
        ]:
            if self.params.get(param):
                self.unsupported_feature(f"{feature} with a stored template_id")
            self.params.pop(param, None)
        if self.custom_headers:
            self.unsupported_feature("extra_headers with a stored template_id")
            self.custom_headers = {}
        if self.attachments or self.inline_images:
            self.unsupported_feature("attachments with a stored template_id")
            self.attachments, self.inline_images = [], []
        if self.recipients["cc"]:
            # (its recipients would still get the message, but no one would see a Cc header)
            self.unsupported_feature("cc recipients with a stored template_id")
        # The template's own From is always used; Django fills from_email in by default, so
        # (unlike the fields above) it's not refused, just not sent
        self.params.pop("from_email", None)

    def build_recipients(self) -> list[dict[str, Any]]:
        to_header = ", ".join(email.address for email in self.recipients["to"])
        recipients = []
        for recipient_type, emails in self.recipients.items():
            for email in emails:
                address = {"email": email.addr_spec}
                if email.display_name:
                    address["name"] = email.display_name
                header_to = self.header_to_for(recipient_type, to_header)
                if header_to:
                    address["header_to"] = header_to
                recipient: dict[str, Any] = {"address": address}
                if self.merge_metadata.get(email.addr_spec):
                    recipient["metadata"] = self.merge_metadata[email.addr_spec]
                if self.merge_data.get(email.addr_spec):
                    recipient["substitution_data"] = self.merge_data[email.addr_spec]
                recipients.append(recipient)
        return recipients

    def header_to_for(self, recipient_type: str, to_header: str) -> str | None:
        """What this recipient's To header should show; None: just its own address."""
        if self.spoofed_to is not None:
            return self.spoofed_to
        if recipient_type == "to":
            # A batch send's To recipients each see only themselves; so does a lone To
            if self.is_batch() or len(self.recipients["to"]) < 2:
                return None
            return to_header
        return to_header or None  # cc and bcc see the To list (bcc-only: their own address)

    def build_headers(self) -> dict[str, str]:
        headers = dict(self.custom_headers)
        cc = self.recipients["cc"]
        # (a stored template's send has no inline headers: see refuse_template_content)
        if cc and "template" not in self.params and not any(n.lower() == "cc" for n in headers):
            headers["CC"] = ", ".join(email.address for email in cc)
        return headers


# The sparkpost package, imported only when the backend is used


def import_sparkpost() -> Any:
    """The sparkpost module, or AnymailImproperlyInstalled (naming the pip extra)."""
    try:
        import sparkpost
        import sparkpost.exceptions
    except ImportError as err:
        raise AnymailImproperlyInstalled("sparkpost", backend="sparkpost") from err
    return sparkpost


@functools.cache
def sparkpost_client_class() -> type:
    """A sparkpost.SparkPost whose API resources all share one given requests.Session.

    (Defined on first use, since it subclasses the optional package's classes.)
    """
    import_sparkpost()  # (AnymailImproperlyInstalled if it's missing)
    from email.utils import getaddresses

    from sparkpost import RequestsTransport, SparkPost
    from sparkpost import Transmissions as BaseTransmissions
    from sparkpost.base import Resource

    class SessionTransport(RequestsTransport):
        """python-sparkpost's transport, on a shared session and with a timeout."""

        def __init__(self, session: requests.Session, timeout: Any) -> None:
            # (not super().__init__(), which would make a new Session)
            self.sess = session
            self.timeout = timeout

        def request(self, method: str, uri: str, headers: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", self.timeout)
            return super().request(method, uri, headers, **kwargs)

    parsed_from_addresses: dict[str, Any] = {}  # (the same sender, message after message)

    class Transmissions(BaseTransmissions):
        def _parse_address(self, address: str) -> Any:
            # python-sparkpost turns a from_email string into {"email", "name"} with
            # parseaddr(), which keeps only the first of several From addresses. SparkPost
            # itself takes a From string, so leave a multi-address one as it is.
            parsed = parsed_from_addresses.get(address)
            if parsed is None:
                if len(getaddresses([address])) > 1:
                    parsed = address
                else:
                    parsed = super()._parse_address(address)
                if len(parsed_from_addresses) < 256:
                    parsed_from_addresses[address] = parsed
            return dict(parsed) if isinstance(parsed, dict) else parsed

    class SparkPostClient(SparkPost):
        def __init__(
            self,
            session: requests.Session,
            timeout: Any,
            api_key: str | None = None,
            api_url: str | None = None,
        ) -> None:
            # (SparkPost.__init__ builds each resource with self.TRANSPORT_CLASS())
            self.TRANSPORT_CLASS = functools.partial(SessionTransport, session, timeout)
            super().__init__(api_key=api_key)  # with no key: the SPARKPOST_API_KEY env var
            if api_url:
                # SPARKPOST_API_URL is the full versioned endpoint: the client's base_uri
                self.base_uri = api_url.rstrip("/")
                for resource in vars(self).values():
                    if isinstance(resource, Resource):
                        resource.base_uri = self.base_uri
            self.transmissions = self.transmission = Transmissions(
                self.base_uri, self.api_key, self.TRANSPORT_CLASS
            )

    return SparkPostClient
