"""A backend for tests: processes messages like a generic ESP, then keeps them in mail.outbox.

Each sent message gets ``anymail_status`` and ``anymail_test_params`` (also reachable as
``anymail_send_params``): what would have gone to an ESP, send defaults merged in. A test can
set ``message.anymail_test_response`` to simulate the ESP's answer, so failure paths can be
tested too: an ``AnymailAPIError`` instance is raised, anything else is read as
``{"recipient_status": {email: status, ...}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.core import mail

from ..addresses import EmailAddress
from ..attachments import Attachment
from ..exceptions import AnymailAPIError
from ..message import AnymailRecipientStatus
from .base import AnymailBackendOptions, AnymailBaseBackend, BasePayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)


# (not "Test...": pytest would try to collect that as a test class)
class AnymailTestBackendOptions(AnymailBackendOptions, total=False):
    """The test backend's options: the general ones, and the payload class to build."""

    payload_class: type[BasePayload] | None  #: None: TestPayload


class EmailBackend(AnymailBaseBackend[BasePayload]):
    """Anymail's test backend (``anymail.backends.test.EmailBackend``)."""

    esp_name = "Test"

    def __init__(self, **kwargs: Unpack[AnymailTestBackendOptions]) -> None:
        options = cast("dict[str, Any]", kwargs)  # (the rest goes on to the base backend)
        # A test can plug in its own payload, e.g. to check what a custom backend's would do
        self.payload_class: type[BasePayload] = options.pop("payload_class", None) or TestPayload
        super().__init__(**options)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> BasePayload:
        return self.payload_class(message=message, defaults=defaults, backend=self)

    def post_to_esp(self, payload: BasePayload, message: Any) -> Any:
        params = getattr(payload, "params", {})
        message.anymail_test_params = params
        message.anymail_send_params = params  # the name Anymail's docs use; the same dict
        if not hasattr(mail, "outbox"):
            mail.outbox = []  # as Django's locmem backend does outside the test runner
        message_id = self.new_message_id(message)
        mail.outbox.append(message)
        response = getattr(message, "anymail_test_response", None)
        if isinstance(response, AnymailAPIError):
            raise response
        if response is None:
            response = {
                "recipient_status": {
                    email.addr_spec: AnymailRecipientStatus(message_id, "sent")
                    for email in payload.all_recipients
                }
            }
        # (parse_recipient_status reads it back; a test's own payload_class gets one, too)
        payload.message_id = message_id  # type: ignore[attr-defined]
        return response

    def new_message_id(self, message: Any) -> Any:
        """The message's index in mail.outbox: unique within a test, and easy to assert."""
        return len(mail.outbox)

    def parse_recipient_status(
        self, response: Any, payload: BasePayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        try:
            recipient_status = response["recipient_status"]
            return {
                email: status
                if isinstance(status, AnymailRecipientStatus)
                else AnymailRecipientStatus(getattr(payload, "message_id", None), status)
                for email, status in recipient_status.items()
            }
        except (KeyError, TypeError, AttributeError) as err:
            raise AnymailAPIError(
                f"Unparsable test response {response!r}: expected "
                '{"recipient_status": {email: status, ...}}',
                backend=self,
                email_message=message,
                payload=payload,
                response=response,
                raised_from=err,
            ) from err


class TestPayload(BasePayload):
    """Records each feature in ``params``, as a generic ESP would receive it.

    Like many ESPs, it has no way to send alternative parts other than HTML, or a To header
    that differs from the recipients, so it refuses those (and several From addresses).
    """

    __test__ = False  # not a test case, despite the name

    def init_payload(self) -> None:
        self.params: dict[str, Any] = {}

    def set_from_email(self, email: EmailAddress) -> None:
        self.params["from"] = email

    def add_recipient(self, recipient_type: str, email: EmailAddress) -> None:
        self.params.setdefault(recipient_type, []).append(email)

    def set_subject(self, subject: str) -> None:
        self.params["subject"] = subject

    def set_reply_to(self, emails: list[EmailAddress]) -> None:
        self.params["reply_to"] = emails

    def set_extra_headers(self, headers: Any) -> None:
        self.params["extra_headers"] = dict(headers)

    def set_text_body(self, body: str) -> None:
        self.params["text_body"] = body

    def set_html_body(self, body: str) -> None:
        self.params["html_body"] = body

    def add_attachment(self, attachment: Attachment) -> None:
        self.params.setdefault("attachments", []).append(attachment)

    def set_envelope_sender(self, email: EmailAddress) -> None:
        self.params["envelope_sender"] = email.addr_spec

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.params["metadata"] = metadata

    def set_send_at(self, send_at: Any) -> None:
        self.params["send_at"] = send_at

    def set_tags(self, tags: list[str]) -> None:
        self.params["tags"] = tags

    def set_track_clicks(self, track_clicks: bool) -> None:
        self.params["track_clicks"] = track_clicks

    def set_track_opens(self, track_opens: bool) -> None:
        self.params["track_opens"] = track_opens

    def set_template_id(self, template_id: Any) -> None:
        self.params["template_id"] = template_id

    def set_merge_data(self, merge_data: dict[str, Any]) -> None:
        self.params["merge_data"] = merge_data

    def set_merge_global_data(self, merge_global_data: dict[str, Any]) -> None:
        self.params["merge_global_data"] = merge_global_data

    def set_merge_metadata(self, merge_metadata: dict[str, Any]) -> None:
        self.params["merge_metadata"] = merge_metadata

    def set_esp_extra(self, extra: dict[str, Any]) -> None:
        # As with a real ESP's esp_extra, these override the params Anymail built
        self.params.update(extra)
