"""A backend for tests: processes messages like a generic ESP, then keeps them in mail.outbox.

Each sent message gets ``anymail_status`` (with a unique message_id) and
``anymail_send_params``: what would have gone to an ESP, send defaults merged in.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core import mail

from ..message import AnymailRecipientStatus
from .base import AnymailBaseBackend, BasePayload


class EmailBackend(AnymailBaseBackend):
    esp_name = "Test"

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> TestPayload:
        return TestPayload(message, defaults, self)

    def post_to_esp(self, payload: TestPayload, message: Any) -> dict[str, Any]:
        message.anymail_send_params = payload.params
        if not hasattr(mail, "outbox"):
            mail.outbox = []  # as Django's locmem backend does outside the test runner
        mail.outbox.append(message)
        return {"message_id": uuid.uuid4().hex, "status": "sent"}

    def parse_recipient_status(
        self, response: dict[str, Any], payload: TestPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        return payload.recipient_status_for_all(response["message_id"], response["status"])


class TestPayload(BasePayload):
    """Supports every feature, recording each in ``params`` as the base hands it over."""

    __test__ = False  # not a test case, despite the name

    def init_payload(self) -> None:
        self.params: dict[str, Any] = {}

    def set_from_email_list(self, emails: list[Any]) -> None:
        self.params["from_email"] = ", ".join(str(email) for email in emails)

    def set_recipients(self, recipient_type: str, emails: list[Any]) -> None:
        self.params[recipient_type] = [str(email) for email in emails]

    def set_subject(self, subject: str) -> None:
        self.params["subject"] = subject

    def set_reply_to(self, emails: list[Any]) -> None:
        self.params["reply_to"] = [str(email) for email in emails]

    def set_extra_headers(self, headers: Any) -> None:
        self.params["extra_headers"] = dict(headers)

    def set_spoofed_to_header(self, header_to: str) -> None:
        self.params["spoofed_to_header"] = header_to

    def set_text_body(self, body: str) -> None:
        self.params["text_body"] = body

    def set_html_body(self, body: str) -> None:
        self.params["html_body"] = body

    def add_alternative(self, content: str, mimetype: str) -> None:
        self.params.setdefault("alternatives", []).append((content, mimetype))

    def add_attachment(self, attachment: Any) -> None:
        self.params.setdefault("attachments", []).append(attachment)

    def set_envelope_sender(self, email: Any) -> None:
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
        self.params["esp_extra"] = extra
