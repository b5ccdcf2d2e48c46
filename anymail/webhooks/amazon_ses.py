"""Amazon SES webhooks: tracking (``anymail/amazon_ses/tracking/``) and inbound
(``anymail/amazon_ses/inbound/``), both delivered by Amazon SNS HTTPS subscriptions.

SNS posts a JSON envelope (Amazon SNS "HTTP/HTTPS Notification JSON Format") whose ``Type`` is
SubscriptionConfirmation, Notification or UnsubscribeConfirmation; a Notification's ``Message``
is the SES JSON: "SES Notifications" or "SES Event Publishing" records for tracking, "Received"
notifications for inbound.

Who may post: the WEBHOOK_SECRET basic auth in the subscribed url (checked by the base view);
then SNS's signature on every message (``anymail.webhooks.sns``, unless
AMAZON_SES_VERIFY_SNS_SIGNATURES is off), and the topic, if AMAZON_SES_SNS_TOPIC_ARNS lists the
allowed ones; all before anything else is done with the message. An inbound S3 action may only
name a bucket (and key prefix) in AMAZON_SES_INBOUND_S3_BUCKETS, and its message is downloaded
to a spooled temporary file, up to AMAZON_SES_INBOUND_S3_MAX_SIZE.

What the answer tells SNS: it retries only a 5xx (or no answer), never a 4xx. So a failure that
may pass (S3 or SNS unreachable, throttled, an AWS 5xx) propagates, for a 503; what can never
succeed (a bad signature, a missing S3 object, an oversized message) is a 400.

boto3 is needed only to confirm an SNS subscription or to download an inbound message from S3:
``anymail.urls`` imports this module, which must load without boto3 installed, so then its
``boto3`` is a stand-in that raises AnymailImproperlyInstalled when used.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from base64 import b64decode
from collections.abc import Mapping
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import parseaddr
from tempfile import SpooledTemporaryFile
from types import ModuleType
from typing import Any, NoReturn

from django.conf import settings
from django.http import HttpRequest

from ..conf import get_anymail_setting
from ..exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailImproperlyInstalled,
    AnymailWebhookValidationFailure,
    _LazyError,
)
from ..inbound import AnymailInboundMessage
from ..signals import AnymailInboundEvent, AnymailTrackingEvent, EventType, RejectReason
from ..signals import inbound as inbound_signal
from ..signals import tracking as tracking_signal
from ..timestamps import parse_iso_datetime
from .base import AnymailBaseWebhookView, parse_json_body
from .fields import list_of, optional_dict, optional_str, required_dict, required_str
from .sns import verify_sns_message

try:
    import boto3
except ImportError:
    # anymail.urls imports this module, so it must load without boto3 (the amazon_ses extra);
    # using boto3 then raises the error
    # (a stand-in object where the module would be)
    boto3 = _LazyError(  # type: ignore[assignment]
        AnymailImproperlyInstalled(missing_package="boto3", backend="amazon_ses")
    )

logger = logging.getLogger("anymail.webhooks")

TRACKING_URL = "anymail/amazon_ses/tracking/"
INBOUND_URL = "anymail/amazon_ses/inbound/"
SNS_MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
# "arn:aws:sns:us-west-2:123456789012:MyTopic" (other partitions: aws-cn, aws-us-gov)
SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[\w.-]{1,256}$")
# SES's "Bounce", "Complaint" and "Delivery" notifications (and every event publishing record)
# are tracking; "Received" is inbound
SES_TRACKING_NOTIFICATION_TYPES = ("Bounce", "Complaint", "Delivery")
# Sent once when an SNS topic is first set up to receive SES notifications; no event
SES_SETUP_NOTIFICATION_TYPE = "AmazonSnsSubscriptionSucceeded"
# Likewise when an SNS topic is made an SES event publishing destination: its Message is this
# plain text (not an SES JSON record)
SES_EVENT_PUBLISHING_SETUP_MESSAGE = (
    "Successfully validated SNS topic for Amazon SES event publishing."
)
#: The largest message SES receives ("Amazon SES email receiving ... up to 40 MB"), the default
#: AMAZON_SES_INBOUND_S3_MAX_SIZE
INBOUND_S3_MAX_SIZE = 40 * 1024 * 1024


def amazon_ses_backend() -> ModuleType:
    """The backend module, imported only once a webhook needs boto3 (importing it without
    boto3 raises AnymailImproperlyInstalled)."""
    from ..backends import amazon_ses

    return amazon_ses


def boto3_client(
    service_name: str, session_params: dict[str, Any], client_params: dict[str, Any]
) -> Any:
    """A boto3 client made as the backend makes its own (same settings and user agent), but
    from this module's boto3."""
    backend = amazon_ses_backend()
    return backend.boto3_client(boto3, service_name, session_params, client_params)


class AmazonSESBaseWebhookView(AnymailBaseWebhookView):
    """Unwraps SNS messages (checking who sent them), confirming SNS subscriptions, for the
    tracking and inbound views."""

    # "The client service must be able to support the HTTP/1.1 401 Unauthorized header
    # response" (Amazon SNS, "Fanout to HTTPS endpoints"): SNS sends the url's credentials
    # only when challenged
    basic_auth_challenge = True
    # An SNS post is at most 256 KiB (SNS's message size limit), inbound mail included: the
    # SNS action's message is in it, the S3 action's is downloaded. So the tracking body cap.
    carries_inbound_mail = False

    esp_name = "Amazon SES"
    webhook_kind = "webhook"  # for messages: "tracking" or "inbound"
    # Settings (class attributes, so as_view() can override them)
    auto_confirm_sns_subscriptions: bool = True
    verify_sns_signatures: bool = True
    sns_topic_arns: frozenset[str] | None = None
    session_params: dict[str, Any] | None = None
    client_params: dict[str, Any] | None = None

    @classmethod
    def check_settings(cls) -> list[Any]:
        from django.core import checks

        messages: list[Any] = []
        esp_name = cls.esp_name
        if not amazon_ses_configured():
            return messages  # anymail.urls routes every ESP's views: check only the ESP in use
        verify = get_anymail_setting("verify_sns_signatures", esp_name=esp_name, default=True)
        if not verify:
            messages.append(
                checks.Warning(
                    "Anymail's Amazon SES webhooks don't check Amazon SNS message signatures "
                    "(AMAZON_SES_VERIFY_SNS_SIGNATURES is False).",
                    hint="Anyone who knows your WEBHOOK_SECRET (or anyone at all, without one) "
                    "can post fake SES events and inbound mail. Turn it off only for local "
                    "testing.",
                    id="anymail.W003",
                )
            )
        else:
            try:
                require_cryptography()
            except AnymailImproperlyInstalled as err:
                messages.append(checks.Error(str(err), id="anymail.E002"))
        if get_anymail_setting("sns_topic_arns", esp_name=esp_name, default=None) is None:
            messages.append(
                checks.Warning(
                    "Anymail's Amazon SES webhooks accept messages from any Amazon SNS topic "
                    "(AMAZON_SES_SNS_TOPIC_ARNS isn't set).",
                    hint="A valid signature only proves a message came through SNS: anyone's "
                    "topic can post to your url. List your SES tracking and inbound topic ARNs.",
                    id="anymail.W004",
                )
            )
        return messages

    def __init__(self, **kwargs: Any) -> None:
        esp_name = self.esp_name
        self.auto_confirm_sns_subscriptions = get_anymail_setting(
            "auto_confirm_sns_subscriptions", esp_name=esp_name, kwargs=kwargs, default=True
        )
        self.verify_sns_signatures = bool(
            get_anymail_setting(
                "verify_sns_signatures", esp_name=esp_name, kwargs=kwargs, default=True
            )
        )
        if self.verify_sns_signatures:
            require_cryptography()
        self.sns_topic_arns = topic_arns_setting(
            get_anymail_setting("sns_topic_arns", esp_name=esp_name, kwargs=kwargs, default=None)
        )
        # With both, only SNS messages from your own topics get in (with or without a secret)
        self.signature_configured = self.verify_sns_signatures and bool(self.sns_topic_arns)
        # The same boto3 settings the backend uses (for the SNS and S3 clients)
        self.session_params = (
            get_anymail_setting("session_params", esp_name=esp_name, kwargs=kwargs, default={})
            or {}
        )
        self.client_params = (
            get_anymail_setting("client_params", esp_name=esp_name, kwargs=kwargs, default={}) or {}
        )
        super().__init__(**kwargs)

    def parse_events(self, request: HttpRequest) -> list[Any]:
        sns_message = parse_sns_message(request)
        # Who sent it, before anything is done with it
        self.check_sns_sender(request, sns_message)
        sns_type = sns_message["Type"]
        if sns_type == "SubscriptionConfirmation":
            self.confirm_subscription(sns_message)
            return []
        if sns_type == "UnsubscribeConfirmation":
            # Nothing to do (re-subscribing is up to the topic owner)
            logger.info(
                "Amazon SNS unsubscribed Anymail's Amazon SES %s webhook from topic %s",
                self.webhook_kind,
                sns_message.get("TopicArn"),
            )
            return []
        if is_event_publishing_setup(sns_message):
            logger.info(
                "Amazon SES validated SNS topic %s as an event publishing destination, "
                "through Anymail's Amazon SES %s webhook",
                sns_message.get("TopicArn"),
                self.webhook_kind,
            )
            return []
        return self.esp_to_anymail_events(ses_message(sns_message), sns_message)

    def check_sns_sender(self, request: HttpRequest, sns_message: dict[str, Any]) -> None:
        """Refuse (400) a message SNS didn't sign, or from a topic not in the allow-list.

        A failure to fetch SNS's certificate that may pass raises AnymailAPIError (503).
        """
        if self.verify_sns_signatures:
            if "Signature" not in sns_message and is_raw_delivery(request):
                raise AnymailWebhookValidationFailure(
                    f"Amazon SNS doesn't sign messages sent with 'raw message delivery', so "
                    f"Anymail's Amazon SES {self.webhook_kind} webhook can't verify them. Turn "
                    f"off raw message delivery for this subscription (topic "
                    f"{sns_message.get('TopicArn')!r}), or (only for local testing) set "
                    f"AMAZON_SES_VERIFY_SNS_SIGNATURES to False."
                )
            verify_sns_message(sns_message)
        if self.sns_topic_arns is not None:
            topic_arn = sns_message.get("TopicArn")
            if topic_arn not in self.sns_topic_arns:
                raise AnymailWebhookValidationFailure(
                    f"Anymail's Amazon SES {self.webhook_kind} webhook refused an Amazon SNS "
                    f"{sns_message.get('Type')} from topic {topic_arn!r}, which isn't in "
                    f"AMAZON_SES_SNS_TOPIC_ARNS"
                )

    def esp_to_anymail_events(
        self, ses_event: dict[str, Any], sns_message: dict[str, Any]
    ) -> list[Any]:
        """The normalized events in an SNS Notification's SES record (tracking or inbound)."""
        raise NotImplementedError(f"{self.__class__.__name__} must implement esp_to_anymail_events")

    # Confirming SNS subscriptions (Anymail docs, "Confirming SNS subscriptions")

    def confirm_subscription(self, sns_message: dict[str, Any]) -> None:
        """Confirm with boto3 SNS ConfirmSubscription, only when this request proves (by its
        valid WEBHOOK_SECRET basic auth, already checked) that it comes from you."""
        topic_arn = required_str(sns_message, "TopicArn")
        token = required_str(sns_message, "Token")
        match = SNS_TOPIC_ARN.match(topic_arn)
        if match is None:
            raise ValueError(f"Invalid SNS TopicArn {topic_arn!r}")
        if not self.auto_confirm_sns_subscriptions:
            self.refuse_subscription(
                sns_message, "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS is off"
            )
        if not self.basic_auth:
            self.refuse_subscription(
                sns_message,
                "WEBHOOK_SECRET isn't set (Anymail confirms only subscriptions whose url includes "
                "your WEBHOOK_SECRET, so it knows the request came from you)",
            )
        # ConfirmSubscription must go to the topic's own region
        client_params = {**(self.client_params or {}), "region_name": match["region"]}
        backend = amazon_ses_backend()
        try:
            client = boto3_client("sns", self.session_params or {}, client_params)
            # AuthenticateOnUnsubscribe: only the topic owner can unsubscribe this webhook
            client.confirm_subscription(
                TopicArn=topic_arn, Token=token, AuthenticateOnUnsubscribe="true"
            )
        except backend.BOTO3_ERRORS as err:
            if backend.is_aws_refusal(err):  # e.g. not authorized, or no such topic
                self.refuse_subscription(sns_message, f"confirming it failed: {err}")
            # Unreachable, throttled, an AWS 5xx...: a 503, so SNS sends the request again
            raise AnymailAPIError(
                f"Anymail couldn't confirm an Amazon SNS subscription to topic {topic_arn!r} "
                f"for its Amazon SES {self.webhook_kind} webhook ({err}); answering 503, so SNS "
                f"can send the request again. (To confirm it by hand: Token={token!r}.)",
                esp_name=self.esp_name,
            ) from err
        logger.info(
            "Anymail confirmed Amazon SNS subscription of its Amazon SES %s webhook to topic %s",
            self.webhook_kind,
            topic_arn,
        )

    def refuse_subscription(self, sns_message: dict[str, Any], reason: str) -> NoReturn:
        """Raise an error (logged by Django) with what the user needs to confirm by hand."""
        raise AnymailWebhookValidationFailure(
            f"Anymail didn't confirm an Amazon SNS subscription request for topic "
            f"{sns_message.get('TopicArn')!r} to its Amazon SES {self.webhook_kind} webhook, "
            f"because {reason}. If you made this subscription, you can confirm it in the Amazon "
            f"SNS console or API with Token={sns_message.get('Token')!r}, or by visiting "
            f"SubscribeURL {sns_message.get('SubscribeURL')!r}."
        )


def parse_sns_message(request: HttpRequest) -> dict[str, Any]:
    """The SNS JSON envelope, checked to be an SNS message of the type its header says."""
    header_type = request.headers.get("x-amz-sns-message-type")
    raw_delivery = is_raw_delivery(request)
    if raw_delivery and header_type == "Notification":
        # "Raw message delivery" posts the Message itself, here the one that isn't JSON
        text = request.body.decode("utf-8", errors="replace")
        if text.strip() == SES_EVENT_PUBLISHING_SETUP_MESSAGE:
            return {
                "Type": "Notification",
                "MessageId": request.headers.get("x-amz-sns-message-id"),
                "TopicArn": request.headers.get("x-amz-sns-topic-arn"),
                "Message": text,
            }
    body: dict[str, Any] = parse_json_body(request, dict)
    if "Type" not in body and header_type == "Notification" and raw_delivery:
        # A subscription with "raw message delivery" posts the SES JSON without an envelope
        return {
            "Type": "Notification",
            "MessageId": request.headers.get("x-amz-sns-message-id"),
            "TopicArn": request.headers.get("x-amz-sns-topic-arn"),
            "Message": body,
        }
    sns_type = body.get("Type")
    if sns_type not in SNS_MESSAGE_TYPES:
        raise ValueError(
            f"Not an Amazon SNS message (its Type is {sns_type!r}, not one of "
            f"{', '.join(SNS_MESSAGE_TYPES)})"
        )
    if header_type is not None and header_type != sns_type:
        raise ValueError(
            f"SNS x-amz-sns-message-type header {header_type!r} doesn't match Type {sns_type!r}"
        )
    return body


def is_raw_delivery(request: HttpRequest) -> bool:
    """Whether the post says it's from a "raw message delivery" subscription (which SNS
    doesn't sign)."""
    return request.headers.get("x-amz-sns-rawdelivery", "").lower() == "true"


def topic_arns_setting(value: Any) -> frozenset[str] | None:
    """AMAZON_SES_SNS_TOPIC_ARNS: None (any topic), or the SNS topic ARNs allowed."""
    if value is None:
        return None
    arns = [value] if isinstance(value, str) else value
    try:
        arns = list(arns)
    except TypeError:
        arns = [arns]
    for arn in arns:
        if not isinstance(arn, str) or SNS_TOPIC_ARN.match(arn) is None:
            raise AnymailConfigurationError(
                f"AMAZON_SES_SNS_TOPIC_ARNS should be a list of SNS topic ARNs "
                f"('arn:aws:sns:<region>:<account>:<topic name>'), but has {arn!r}"
            )
    return frozenset(arns)


def amazon_ses_configured() -> bool:
    """Whether the project uses Amazon SES: its backend, or any AMAZON_SES_ setting."""
    from django.conf import settings

    # (Django 6.1 warns about reading EMAIL_BACKEND in a project that has MAILERS)
    backends = [] if hasattr(settings, "MAILERS") else [getattr(settings, "EMAIL_BACKEND", "")]
    backends += [
        str(mailer.get("BACKEND", ""))
        for mailer in (getattr(settings, "MAILERS", None) or {}).values()
        if isinstance(mailer, dict)
    ]
    if any("amazon_ses" in backend for backend in backends):
        return True
    anymail_settings = getattr(settings, "ANYMAIL", None) or {}
    return any(str(name).startswith("AMAZON_SES_") for name in anymail_settings) or any(
        name.startswith("ANYMAIL_AMAZON_SES_") for name in dir(settings)
    )


def require_cryptography() -> None:
    """Checking SNS signatures needs cryptography (in the amazon_ses extra)."""
    try:
        import cryptography  # noqa: F401
    except ImportError as err:
        raise AnymailImproperlyInstalled(
            missing_package="cryptography", backend="amazon_ses"
        ) from err


def is_event_publishing_setup(sns_message: dict[str, Any]) -> bool:
    """Whether this is SES's (plain text) note that it can publish events to the topic."""
    message = sns_message.get("Message")
    return isinstance(message, str) and message.strip() == SES_EVENT_PUBLISHING_SETUP_MESSAGE


def ses_message(sns_message: dict[str, Any]) -> dict[str, Any]:
    """An SNS Notification's Message: the SES JSON record, as a dict."""
    message = sns_message.get("Message")
    if isinstance(message, str):
        message = json.loads(message)
    if not isinstance(message, dict):
        raise ValueError("Amazon SNS Notification's Message isn't an Amazon SES JSON notification")
    return message


def ses_type(ses_event: dict[str, Any]) -> str | None:
    # "If you did not set up event publishing this field is named notificationType"
    if "eventType" in ses_event:
        return required_str(ses_event, "eventType")
    return optional_str(ses_event, "notificationType")


class AmazonSESTrackingWebhookView(AmazonSESBaseWebhookView):
    """SES Notifications and SES Event Publishing records: one event per affected recipient."""

    signal = tracking_signal
    webhook_kind = "tracking"

    # SES Notification "notificationType" and Event Publishing "eventType" values
    event_types = {
        "Send": EventType.SENT,
        "Reject": EventType.REJECTED,
        "Bounce": EventType.BOUNCED,
        "Complaint": EventType.COMPLAINED,
        "Delivery": EventType.DELIVERED,
        "Open": EventType.OPENED,
        "Click": EventType.CLICKED,
        "Rendering Failure": EventType.FAILED,
        "DeliveryDelay": EventType.DEFERRED,
    }
    # Each type's own object in the record ("send" is always empty)
    event_objects = {
        "Send": "send",
        "Reject": "reject",
        "Bounce": "bounce",
        "Complaint": "complaint",
        "Delivery": "delivery",
        "Open": "open",
        "Click": "click",
        "Rendering Failure": "failure",
        "DeliveryDelay": "deliveryDelay",
    }
    # SES "Bounce types" table: (bounceType, bounceSubType) -> reject_reason
    bounce_reject_reasons: dict[tuple[str | None, str | None], RejectReason] = {
        ("Undetermined", "Undetermined"): RejectReason.OTHER,
        ("Permanent", "General"): RejectReason.BOUNCED,
        ("Permanent", "NoEmail"): RejectReason.INVALID,  # "the target email address does not exist"
        ("Permanent", "Suppressed"): RejectReason.BLOCKED,  # on SES's global suppression list
        ("Permanent", "OnAccountSuppressionList"): RejectReason.BLOCKED,
        ("Transient", "General"): RejectReason.BOUNCED,
        ("Transient", "MailboxFull"): RejectReason.BOUNCED,
        ("Transient", "MessageTooLarge"): RejectReason.OTHER,
        ("Transient", "ContentRejected"): RejectReason.SPAM,  # the receiver's content filter
        ("Transient", "AttachmentRejected"): RejectReason.BLOCKED,
    }

    def esp_to_anymail_events(
        self, ses_event: dict[str, Any], sns_message: dict[str, Any]
    ) -> list[AnymailTrackingEvent]:
        kind = ses_type(ses_event)
        if kind == "Received":
            raise ValueError(
                "This is an Amazon SES inbound (receipt rule) notification, posted to Anymail's "
                f"Amazon SES tracking webhook. Subscribe {INBOUND_URL} (not {TRACKING_URL}) to "
                "your inbound SNS topic."
            )
        if kind == SES_SETUP_NOTIFICATION_TYPE:
            return []
        if kind is None:
            raise ValueError("Amazon SES notification has no eventType or notificationType")
        mail = required_dict(ses_event, "mail")
        details = optional_dict(ses_event, self.event_objects.get(kind, ""))
        headers = mail_headers(mail)
        common: dict[str, Any] = {
            "event_type": self.event_types.get(kind, EventType.UNKNOWN),
            # When SNS published the notification, as in Anymail 6.1. (A raw delivery
            # subscription has no SNS envelope: then when SES says the event happened.)
            "timestamp": (
                optional_timestamp(sns_message, "Timestamp")
                or optional_timestamp(details, "timestamp")
                or optional_timestamp(mail, "timestamp")
            ),
            # Unique per SNS notification (one SES record, maybe several recipients)
            "event_id": optional_str(sns_message, "MessageId"),
            "esp_event": ses_event,
            "message_id": optional_str(mail, "messageId"),
            "metadata": header_metadata(headers),
            "tags": header_tags(headers),
        }
        common.update(self.event_details(kind, details))
        return [
            AnymailTrackingEvent.create(**common, recipient=recipient, **recipient_fields)
            for recipient, recipient_fields in self.event_recipients(kind, details, mail)
        ]

    def event_details(self, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        """The normalized fields from each event type's own object."""
        if kind == "Bounce":
            bounce_type = optional_str(details, "bounceType")
            bounce_subtype = optional_str(details, "bounceSubType")
            return {
                "reject_reason": self.bounce_reject_reasons.get(
                    (bounce_type, bounce_subtype),
                    RejectReason.BOUNCED if bounce_type else RejectReason.OTHER,
                ),
                "description": ": ".join(filter(None, [bounce_type, bounce_subtype])) or None,
            }
        if kind == "Complaint":
            # The recipient reported it as spam (complaintFeedbackType, e.g. "abuse", says more)
            return {
                "reject_reason": RejectReason.SPAM,
                "description": optional_str(details, "complaintFeedbackType"),
            }
        if kind == "Delivery":
            return {"mta_response": optional_str(details, "smtpResponse")}
        if kind == "Reject":
            # "The only possible value is Bad content, which means ... a virus"
            return {
                "reject_reason": RejectReason.BLOCKED,
                "description": optional_str(details, "reason"),
            }
        if kind == "Open":
            return {"user_agent": optional_str(details, "userAgent")}
        if kind == "Click":
            return {
                "user_agent": optional_str(details, "userAgent"),
                "click_url": optional_str(details, "link"),
            }
        if kind == "Rendering Failure":
            return {"description": optional_str(details, "errorMessage")}
        if kind == "DeliveryDelay":
            return {"description": optional_str(details, "delayType")}
        return {}

    def event_recipients(
        self, kind: str, details: dict[str, Any], mail: dict[str, Any]
    ) -> list[tuple[str | None, dict[str, Any]]]:
        """Each recipient the event is about, with its own fields (e.g., its SMTP response).

        Bounces, complaints, deliveries and delays list their recipients. Other events are about
        the whole message: SES's open and click tracking can't tell recipients apart, so (as
        Anymail's docs say) they go to every original recipient in mail.destination.
        """
        if kind == "Bounce":
            recipients = [
                (
                    required_str(item, "emailAddress"),
                    {"mta_response": optional_str(item, "diagnosticCode")},
                )
                for item in list_of(details, "bouncedRecipients", dict)
            ]
        elif kind == "Complaint":
            recipients = [
                (required_str(item, "emailAddress"), {})
                for item in list_of(details, "complainedRecipients", dict)
            ]
        elif kind == "Delivery":
            recipients = [(address, {}) for address in list_of(details, "recipients", str)]
        elif kind == "DeliveryDelay":
            recipients = [
                (
                    required_str(item, "emailAddress"),
                    {"mta_response": optional_str(item, "diagnosticCode")},
                )
                for item in list_of(details, "delayedRecipients", dict)
            ]
        else:
            recipients = []
        if not recipients:
            recipients = [(address, {}) for address in list_of(mail, "destination", str)]
        if not recipients:
            return [(None, {})]
        return [(addr_spec(address), fields) for address, fields in recipients]


class AmazonSESInboundWebhookView(AmazonSESBaseWebhookView):
    """SES receipt rule notifications ("Received"), from an SNS action or an S3 action."""

    signal = inbound_signal
    webhook_kind = "inbound"
    # Settings (class attributes, so as_view() can override them)
    inbound_s3_buckets: list[tuple[str, str]] | None = None
    inbound_s3_max_size: int = INBOUND_S3_MAX_SIZE

    @classmethod
    def check_settings(cls) -> list[Any]:
        from django.core import checks

        messages = super().check_settings()
        if not amazon_ses_configured():
            return messages
        if get_anymail_setting("inbound_s3_buckets", esp_name=cls.esp_name, default=None) is None:
            messages.append(
                checks.Warning(
                    "Anymail's Amazon SES inbound webhook will download mail from any S3 "
                    "bucket a notification names (AMAZON_SES_INBOUND_S3_BUCKETS isn't set).",
                    hint="Set it to your receipt rule's 'bucket/prefix' (or [] if you use "
                    "only SNS actions).",
                    id="anymail.W005",
                )
            )
        return messages

    def __init__(self, **kwargs: Any) -> None:
        esp_name = self.esp_name
        self.inbound_s3_buckets = s3_buckets_setting(
            get_anymail_setting(
                "inbound_s3_buckets", esp_name=esp_name, kwargs=kwargs, default=None
            )
        )
        self.inbound_s3_max_size = s3_max_size_setting(
            get_anymail_setting(
                "inbound_s3_max_size",
                esp_name=esp_name,
                kwargs=kwargs,
                default=INBOUND_S3_MAX_SIZE,
            )
        )
        super().__init__(**kwargs)

    def esp_to_anymail_events(
        self, ses_event: dict[str, Any], sns_message: dict[str, Any]
    ) -> list[AnymailInboundEvent]:
        kind = ses_type(ses_event)
        if "eventType" in ses_event or kind in SES_TRACKING_NOTIFICATION_TYPES:
            raise ValueError(
                f"This is an Amazon SES tracking ({kind}) notification, posted to Anymail's "
                f"Amazon SES inbound webhook. Subscribe {TRACKING_URL} (not {INBOUND_URL}) to "
                "your tracking SNS topic."
            )
        if kind == SES_SETUP_NOTIFICATION_TYPE:
            return []
        if kind != "Received":
            raise ValueError(
                f"Amazon SES inbound notificationType should be 'Received', not {kind!r}"
            )
        mail = required_dict(ses_event, "mail")
        receipt = required_dict(ses_event, "receipt")
        message = self.inbound_message(ses_event, required_dict(receipt, "action"))
        message.envelope_sender = optional_str(mail, "source")  # the MAIL FROM
        # "recipients": "the envelope RCPT TO addresses ... matched by the active receipt rule"
        recipients = list_of(receipt, "recipients", str)
        message.envelope_recipient = recipients[0] if recipients else None
        message.spam_detected = spam_detected(receipt)
        message.spam_score = None  # SES gives only a verdict
        return [
            AnymailInboundEvent(
                event_type=EventType.INBOUND,
                timestamp=optional_timestamp(mail, "timestamp"),  # when SES received it
                # SES's id, which is also the S3 object key (after any prefix)
                event_id=optional_str(mail, "messageId"),
                esp_event=ses_event,
                message=message,
            )
        ]

    def inbound_message(
        self, ses_event: dict[str, Any], action: dict[str, Any]
    ) -> AnymailInboundMessage:
        """The received message's MIME: in the notification (SNS action), or in S3."""
        action_type = required_str(action, "type")
        if action_type == "SNS":
            # "content": the raw email, in the SNS action's Encoding (Base64 or UTF-8)
            content = required_str(ses_event, "content")
            encoding = (optional_str(action, "encoding") or "UTF8").upper().replace("-", "")
            if encoding == "BASE64":
                try:
                    raw = b64decode(content, validate=True)
                except (binascii.Error, ValueError) as err:
                    raise ValueError("Amazon SES inbound content isn't base64") from err
                return AnymailInboundMessage.parse_raw_mime_bytes(raw)
            return AnymailInboundMessage.parse_raw_mime(content)
        if action_type == "S3":
            bucket = required_str(action, "bucketName")
            key = required_str(action, "objectKey")
            self.check_s3_location(bucket, key)
            with self.download_s3_object(bucket, key) as file:
                return AnymailInboundMessage.parse_raw_mime_file(file)
        raise ValueError(
            f"Anymail's Amazon SES inbound webhook handles the SNS and S3 receipt rule actions, "
            f"not {action_type!r}"
        )

    def check_s3_location(self, bucket: str, key: str) -> None:
        """Refuse (400) an S3 object outside AMAZON_SES_INBOUND_S3_BUCKETS (if set)."""
        if any(segment in (".", "..") for segment in key.split("/")):
            # (SES's keys never have them; some HTTP layers would resolve them, escaping a prefix)
            raise AnymailWebhookValidationFailure(
                f"Amazon SES inbound S3 object key {key!r} has '.' or '..' path segments"
            )
        if self.inbound_s3_buckets is None:
            return
        for allowed_bucket, allowed_prefix in self.inbound_s3_buckets:
            if bucket == allowed_bucket and key.startswith(allowed_prefix):
                return
        raise AnymailWebhookValidationFailure(
            f"Anymail's Amazon SES inbound webhook refused to download S3 bucket {bucket!r}, "
            f"key {key!r}: it isn't in AMAZON_SES_INBOUND_S3_BUCKETS"
        )

    def download_s3_object(self, bucket: str, key: str) -> CappedSpooledFile:
        """The received message, downloaded into a spooled temporary file (at most
        AMAZON_SES_INBOUND_S3_MAX_SIZE; the caller closes it).

        A missing object or one over the size limit raises ValueError (a 400: a retry can't
        help, so it's logged here); any other failure AnymailAPIError (a 503: SNS retries).
        """
        backend = amazon_ses_backend()  # (first: it raises if boto3 isn't installed)
        file = CappedSpooledFile(
            max_size=self.inbound_s3_max_size,
            spool_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
        )
        where = f"S3 bucket {bucket!r}, key {key!r}"
        try:
            client = boto3_client("s3", self.session_params or {}, self.client_params or {})
            # (boto3's managed transfer, as in 6.1: large messages come down in parallel parts,
            # each written at its offset in the file)
            client.download_fileobj(Bucket=bucket, Key=key, Fileobj=file)
        except FileTooLarge:
            file.close()
            logger.error(
                "Anymail's Amazon SES inbound webhook refused the received message in %s: it's "
                "over AMAZON_SES_INBOUND_S3_MAX_SIZE (%d bytes). Answering 400 (SNS won't retry): "
                "the message is left in S3.",
                where,
                self.inbound_s3_max_size,
            )
            raise InboundMessageRefused(
                f"Amazon SES inbound message in {where} is over AMAZON_SES_INBOUND_S3_MAX_SIZE"
            ) from None
        except backend.BOTO3_ERRORS as err:
            file.close()
            if backend.boto3_error_status(err) == 404:  # no such key (or bucket)
                logger.error(
                    "Anymail's Amazon SES inbound webhook couldn't find the received message in "
                    "%s (%s). Answering 400 (a retry won't bring it back).",
                    where,
                    err,
                )
                raise InboundMessageRefused(
                    f"Anymail's Amazon SES inbound webhook couldn't download the received "
                    f"message from {where}: {err}"
                ) from err
            raise AnymailAPIError(
                f"Anymail's Amazon SES inbound webhook couldn't download the received message "
                f"from {where}: {err}",
                esp_name=self.esp_name,
            ) from err
        except BaseException:
            file.close()
            raise
        file.seek(0)
        return file


class FileTooLarge(Exception):
    """Raised by a CappedSpooledFile write that would pass its max_size."""


class InboundMessageRefused(ValueError):
    """An inbound message that can never be received (so a 400)."""


class CappedSpooledFile:
    """A SpooledTemporaryFile (in memory up to spool_size, then on disk) that refuses to grow
    past max_size (FileTooLarge). Seekable, so boto3 writes each part at its own offset."""

    def __init__(self, max_size: int, spool_size: int) -> None:
        self.max_size = max_size
        # (closed by close(), or __exit__, once the message is parsed)
        self._file = SpooledTemporaryFile(max_size=spool_size)  # noqa: SIM115

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def write(self, data: bytes) -> int:
        if self._file.tell() + len(data) > self.max_size:
            raise FileTooLarge(f"over {self.max_size} bytes")
        return self._file.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CappedSpooledFile:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def s3_buckets_setting(value: Any) -> list[tuple[str, str]] | None:
    """AMAZON_SES_INBOUND_S3_BUCKETS: None (any bucket), or [(bucket, key prefix), ...] from
    "bucket" (any key) and "bucket/prefix" entries."""
    if value is None:
        return None
    entries = [value] if isinstance(value, str) else value
    try:
        entries = list(entries)
    except TypeError:
        entries = [entries]
    locations = []
    for entry in entries:
        bucket, _, prefix = entry.partition("/") if isinstance(entry, str) else ("", "", "")
        if not bucket:
            raise AnymailConfigurationError(
                f"AMAZON_SES_INBOUND_S3_BUCKETS should be a list of 'bucket' or "
                f"'bucket/key-prefix' strings, but has {entry!r}"
            )
        locations.append((bucket, prefix))
    return locations


def s3_max_size_setting(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AnymailConfigurationError(
            f"AMAZON_SES_INBOUND_S3_MAX_SIZE should be a number of bytes, not {value!r}"
        )
    return value


def spam_detected(receipt: dict[str, Any]) -> bool | None:
    # spamVerdict.status: PASS, FAIL, GRAY (undetermined) or PROCESSING_FAILED
    status = optional_str(optional_dict(receipt, "spamVerdict"), "status")
    return {"PASS": False, "FAIL": True}.get((status or "").upper())


# Anymail's metadata and tags, from the original message's headers (which SES Notifications
# include only if "Include original headers" is on)


def mail_headers(mail: dict[str, Any]) -> list[tuple[str, str]]:
    """mail.headers, [{"name": ..., "value": ...}, ...], as (lowercase name, value) pairs."""
    headers = mail.get("headers")
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise ValueError("Amazon SES mail.headers should be a list")
    return [
        (required_str(header, "name").lower(), optional_str(header, "value") or "")
        for header in list_of(mail, "headers", dict)
    ]


def header_text(value: str) -> str:
    """A raw header value, unfolded and RFC 2047 decoded (as Anymail's sends may encode it)."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value).strip()
    try:
        return str(make_header(decode_header(unfolded)))
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return unfolded


def header_metadata(headers: list[tuple[str, str]]) -> dict[str, Any]:
    """Anymail's metadata, sent as JSON in X-Metadata."""
    for name, value in headers:
        if name == "x-metadata":
            try:
                metadata = json.loads(header_text(value))
            except ValueError:
                return {}  # someone else's X-Metadata, not Anymail's JSON
            return metadata if isinstance(metadata, dict) else {}
    return {}


def header_tags(headers: list[tuple[str, str]]) -> list[str]:
    """Anymail's tags, each in its own X-Tag header."""
    return [header_text(value) for name, value in headers if name == "x-tag"]


# Reading SES JSON: wrong types raise ValueError (so a 400), never a 500


def optional_timestamp(data: Mapping[str, Any], key: str) -> datetime | None:
    # SES: "ISO8601 format (YYYY-MM-DDThh:mm:ss.sZ)"; SNS Timestamp likewise
    value = optional_str(data, key)
    return parse_iso_datetime(value) if value is not None else None


def addr_spec(address: str) -> str:
    """Just the address, should SES give a display name too (e.g. "Name <addr@example.com>")."""
    return parseaddr(address)[1] or address
