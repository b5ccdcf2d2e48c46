"""Amazon SES tracking webhook: SNS-delivered SES Notifications and SES Event Publishing records.

Payloads are shaped as Amazon documents them: the SNS "HTTP/HTTPS Notification JSON Format"
envelope (with its x-amz-sns-* headers), whose Message is an SES record from "Amazon SNS
notification examples for Amazon SES" or "Examples of event data that Amazon SES publishes to
Amazon SNS", with the X-Metadata and X-Tag headers an Anymail send adds.
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from datetime import datetime, timezone
from typing import Any
from unittest import SkipTest, mock

from .fakes import basic_auth_header, quiet_webhook_logs

try:
    from botocore.exceptions import ClientError
except ImportError:  # the amazon_ses extra isn't installed (tox's noextras env)
    raise SkipTest("boto3 is not installed: pip install django-anymail[amazon_ses]") from None
from django.core.mail import get_connection
from django.test import Client, SimpleTestCase, override_settings
from django.urls import path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail import __version__ as ANYMAIL_VERSION
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailInsecureWebhookWarning,
)
from anymail.message import AnymailMessage
from anymail.signals import AnymailTrackingEvent, inbound, tracking
from anymail.webhooks.amazon_ses import (
    AmazonSESInboundWebhookView,
    AmazonSESTrackingWebhookView,
)

from .test_sns import (  # (skips this module too, without cryptography)
    OTHER_CERT_URL,
    TEST_CERT_URL,
    serve_test_certificates,
    sign_sns_message,
)

TRACKING_PATH = "/anymail/amazon_ses/tracking/"
INBOUND_PATH = "/anymail/amazon_ses/inbound/"
WEBHOOK_SECRET = "sns-user:sns-pass"
TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:SES_Tracking_Events"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
OTHER_TOPIC_ARN = "arn:aws:sns:us-west-2:999999999999:Someone_Elses_Topic"
SNS_TOKEN = (
    "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854"
    "e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b78"
)

#: Settings for tests about parsing, not SNS signatures: e.g., for payloads SNS could never have
#: signed (a non-string Message), or raw message delivery (which SNS doesn't sign)
UNVERIFIED = {"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_VERIFY_SNS_SIGNATURES": False}

urlpatterns = [
    path(
        "anymail/amazon_ses/tracking/",
        AmazonSESTrackingWebhookView.as_view(),
        name="amazon_ses_tracking_webhook",
    ),
    path(
        "anymail/amazon_ses/inbound/",
        AmazonSESInboundWebhookView.as_view(),
        name="amazon_ses_inbound_webhook",
    ),
    path(
        "manual/amazon_ses/tracking/",
        AmazonSESTrackingWebhookView.as_view(auto_confirm_sns_subscriptions=False),
    ),
]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


SNS_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")

# When SNS published a notification (its envelope's Timestamp), which is the tracking event's
# timestamp, as in Anymail 6.1; later than (and so distinguishable from) every SES timestamp
SNS_TIMESTAMP = "2018-03-26T17:58:59.675Z"


# ---------------------------------------------------------------------------------------------
# SNS envelopes (Amazon SNS "HTTP/HTTPS ... JSON Format")
# ---------------------------------------------------------------------------------------------


def sns_notification(
    ses_record: Any,
    message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    topic: str = TOPIC_ARN,
) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": json.dumps(ses_record),
        "Timestamp": SNS_TIMESTAMP,
        "SignatureVersion": "1",
        "Signature": "EXAMPLEw6JRNwm1LFQL4ICB0bnXrdB8ClRMTQFGBqwLpGbM78tJ4etTwC5zU7O3tS6tGpey3e=",
        "SigningCertURL": TEST_CERT_URL,
        "UnsubscribeURL": f"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION_ARN}",
    }


def sns_subscription_confirmation(topic: str = TOPIC_ARN) -> dict[str, Any]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": SNS_TOKEN,
        "TopicArn": topic,
        "Message": (
            f"You have chosen to subscribe to the topic {topic}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        ),
        "SubscribeURL": (
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic}&Token={SNS_TOKEN}"
        ),
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2"
        "egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+g"
        "LPoBc1Q=",
        "SigningCertURL": TEST_CERT_URL,
    }


def sns_unsubscribe_confirmation() -> dict[str, Any]:
    return {
        "Type": "UnsubscribeConfirmation",
        "MessageId": "47138184-6831-46b8-8f7c-afc488602d7d",
        "Token": SNS_TOKEN,
        "TopicArn": TOPIC_ARN,
        "Message": (
            f"You have chosen to deactivate subscription {SUBSCRIPTION_ARN}.\n"
            "To cancel this operation and restore the subscription, visit the SubscribeURL "
            "included in this message."
        ),
        "SubscribeURL": (
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={TOPIC_ARN}&Token={SNS_TOKEN}"
        ),
        "Timestamp": "2012-04-26T20:06:41.581Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEHXgJmXqnqsHTlqOCk7TIZsnk8zpJJoQbr8leD+8kAHcke3ClC4VPOvdpZo9s/vR9GOznK"
        "ab6sjGxE8uwqDI9HwpDm8lGxSlFGuwCruWeecnt7MdJCNh0XK4XQCbtGoXB762ePJfaSWi9tYwzW65zAFU04WkNBk"
        "NsIf60=",
        "SigningCertURL": TEST_CERT_URL,
    }


# ---------------------------------------------------------------------------------------------
# SES records
# ---------------------------------------------------------------------------------------------

# What an Anymail send adds: metadata as JSON in X-Metadata; each tag in an X-Tag header
# (non-ASCII ones RFC 2047 encoded)
ANYMAIL_HEADERS = [
    {"name": "X-Metadata", "value": '{"order_id": "A-1001", "customer": 42}'},
    {"name": "X-Tag", "value": "receipt"},
    {"name": "X-Tag", "value": "=?utf-8?b?RMOpcMO0dA==?="},  # "Dépôt"
]
ANYMAIL_METADATA = {"order_id": "A-1001", "customer": 42}
ANYMAIL_TAGS = ["receipt", "Dépôt"]


def notification_mail(message_id: str, destination: list[str]) -> dict[str, Any]:
    """An SES Notifications "mail" object, with "Include original headers" on."""
    return {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "john@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "callerIdentity": "IAM_user_or_role_name",
        "messageId": message_id,
        "destination": destination,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": '"John Doe" <john@example.com>'},
            {
                "name": "To",
                "value": '"Jane Doe" <jane@example.com>, "Mary Doe" <mary@example.com>, '
                '"Richard Doe" <richard@example.com>',
            },
            {"name": "Message-ID", "value": "custom-message-ID"},
            {"name": "Subject", "value": "Hello"},
            {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
            {"name": "Content-Transfer-Encoding", "value": "base64"},
            {"name": "Date", "value": "Wed, 27 Jan 2016 14:05:45 +0000"},
            *ANYMAIL_HEADERS,
        ],
        "commonHeaders": {
            "from": ["John Doe <john@example.com>"],
            "date": "Wed, 27 Jan 2016 14:05:45 +0000",
            "to": [
                "Jane Doe <jane@example.com>, Mary Doe <mary@example.com>, "
                "Richard Doe <richard@example.com>"
            ],
            "messageId": "custom-message-ID",
            "subject": "Hello",
        },
    }


THREE_RECIPIENTS = ["jane@example.com", "mary@example.com", "richard@example.com"]

# SES Notifications ("notificationType")
NOTIFICATION_BOUNCE_WITH_DSN = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": notification_mail(
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000", THREE_RECIPIENTS
    ),
}

NOTIFICATION_BOUNCE_NO_DSN = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {"emailAddress": "jane@example.com"},
            {"emailAddress": "richard@example.com"},
        ],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": notification_mail(
        "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000", THREE_RECIPIENTS
    ),
}

NOTIFICATION_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:39.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": notification_mail(
        "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000", THREE_RECIPIENTS
    ),
}

NOTIFICATION_DELIVERY = {
    "notificationType": "Delivery",
    "mail": notification_mail(
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000", ["jane@example.com"]
    ),
    "delivery": {
        "timestamp": "2016-01-27T14:59:40.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    },
}

EVENT_MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


def event_mail(
    destination: list[str] | None = None, timestamp: str = "2017-08-05T00:40:02.012Z"
) -> dict[str, Any]:
    """An SES Event Publishing "mail" object (headers are always included)."""
    destination = destination or ["recipient@example.com"]
    return {
        "timestamp": timestamp,
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": EVENT_MESSAGE_ID,
        "destination": destination,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Sender Name <sender@example.com>"},
            {"name": "To", "value": ", ".join(destination)},
            {"name": "Subject", "value": "Message sent from Amazon SES"},
            {"name": "MIME-Version", "value": "1.0"},
            {
                "name": "Content-Type",
                "value": "multipart/alternative; "
                'boundary="----=_Part_7307378_1629847660.1516840721503"',
            },
            *ANYMAIL_HEADERS,
        ],
        "commonHeaders": {
            "from": ["Sender Name <sender@example.com>"],
            "to": destination,
            "messageId": EVENT_MESSAGE_ID,
            "subject": "Message sent from Amazon SES",
        },
        "tags": {
            "ses:configuration-set": ["ConfigSet"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["ses_user"],
            "Type": ["Marketing"],
        },
    }


# SES Event Publishing ("eventType")
EVENT_BOUNCE = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "NoEmail",
        "bouncedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": event_mail(),
}
EVENT_COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "mail": event_mail(),
}
EVENT_DELIVERY = {
    "eventType": "Delivery",
    "mail": event_mail(),
    "delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    },
}
EVENT_SEND = {
    "eventType": "Send",
    "mail": event_mail(["recipient@example.com", "Second <second@example.com>"]),
    "send": {},
}
EVENT_REJECT = {
    "eventType": "Reject",
    "mail": event_mail(),
    "reject": {"reason": "Bad content"},
}
EVENT_OPEN = {
    "eventType": "Open",
    "mail": event_mail(["to@example.com", "cc@example.com", "bcc@example.com"]),
    "open": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2017-08-09T22:00:19.652Z",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) "
        "AppleWebKit/603.3.8 (KHTML, like Gecko) Mobile/14G60",
    },
}
EVENT_CLICK = {
    "eventType": "Click",
    "click": {
        "ipAddress": "192.0.2.1",
        "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
        "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/60.0.3112.90 Safari/537.36",
    },
    "mail": event_mail(),
}
EVENT_RENDERING_FAILURE = {
    "eventType": "Rendering Failure",
    "mail": {
        "timestamp": "2018-01-22T18:43:06.197Z",
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": EVENT_MESSAGE_ID,
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["ConfigSet"]},
    },
    "failure": {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    },
}
EVENT_DELIVERY_DELAY = {
    "eventType": "DeliveryDelay",
    "mail": {
        "timestamp": "2020-06-16T00:15:40.641Z",
        "source": "sender@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": EVENT_MESSAGE_ID,
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["ConfigSet"]},
    },
    "deliveryDelay": {
        "timestamp": "2020-06-16T00:25:40.095Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {
                "emailAddress": "recipient@example.com",
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
        ],
    },
}

ALL_TRACKING_RECORDS = [
    NOTIFICATION_BOUNCE_WITH_DSN,
    NOTIFICATION_BOUNCE_NO_DSN,
    NOTIFICATION_COMPLAINT,
    NOTIFICATION_DELIVERY,
    EVENT_BOUNCE,
    EVENT_COMPLAINT,
    EVENT_DELIVERY,
    EVENT_SEND,
    EVENT_REJECT,
    EVENT_OPEN,
    EVENT_CLICK,
    EVENT_RENDERING_FAILURE,
    EVENT_DELIVERY_DELAY,
]

# An SES receipt notification (inbound), for posting to the wrong webhook
RECEIVED_NOTIFICATION = {
    "notificationType": "Received",
    "receipt": {
        "timestamp": "2015-09-11T20:32:33.936Z",
        "processingTimeMillis": 222,
        "recipients": ["recipient@example.com"],
        "spamVerdict": {"status": "PASS"},
        "virusVerdict": {"status": "PASS"},
        "spfVerdict": {"status": "PASS"},
        "dkimVerdict": {"status": "PASS"},
        "action": {
            "type": "SNS",
            "topicArn": "arn:aws:sns:us-east-1:012345678912:example-topic",
            "encoding": "UTF8",
        },
    },
    "mail": {
        "timestamp": "2015-09-11T20:32:33.936Z",
        "source": "sender@example.com",
        "messageId": "d6iitobk75ur44p8kdnnp7g2n800",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "headers": [{"name": "From", "value": "sender@example.com"}],
        "commonHeaders": {"from": ["sender@example.com"], "subject": "Example subject"},
    },
    "content": "From: sender@example.com\r\nTo: recipient@example.com\r\n"
    "Subject: Example subject\r\n\r\nExample content\r\n",
}


# ---------------------------------------------------------------------------------------------
# Test case
# ---------------------------------------------------------------------------------------------


class AmazonSESWebhookTestCase(SimpleTestCase):
    """Routes to the Amazon SES views, records signals, fakes boto3, serves a local SNS signing
    certificate, and keeps logs quiet. post_sns() signs SNS messages as SNS would."""

    fake_boto3 = True  # False: the real boto3 (with moto)

    def setUp(self):
        super().setUp()
        self.tracking_handler = mock.Mock()
        self.inbound_handler = mock.Mock()
        tracking.connect(self.tracking_handler, weak=False)
        inbound.connect(self.inbound_handler, weak=False)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        self.addCleanup(inbound.disconnect, self.inbound_handler)
        urlconf = override_settings(ROOT_URLCONF=__name__)
        urlconf.enable()
        self.addCleanup(urlconf.disable)
        self.certificates = serve_test_certificates(self)
        if self.fake_boto3:
            # boto3, faked: any SNS or S3 client the views create
            patcher = mock.patch("boto3.session.Session", autospec=True)
            self.mock_session_class = patcher.start()
            self.addCleanup(patcher.stop)
            self.mock_session = self.mock_session_class.return_value
            self.mock_client = mock.MagicMock(name="boto3_client")
            self.mock_session.client.return_value = self.mock_client
            self.mock_client.confirm_subscription.return_value = {
                "SubscriptionArn": SUBSCRIPTION_ARN
            }
        quiet_webhook_logs(self)

    def post_sns(
        self,
        body: Any,
        url: str = TRACKING_PATH,
        auth: str | None = WEBHOOK_SECRET,
        message_type: str | None = "auto",
        extra_headers: dict[str, str] | None = None,
        sign: bool | str = True,
    ):
        """POST as Amazon SNS does: text/plain JSON, with its x-amz-sns-* headers.

        An SNS message given as a dict is signed (sign: True or "1" for SignatureVersion 1,
        "2" for 2; False to post it as it is).
        """
        if sign and isinstance(body, dict) and body.get("Type") in SNS_TYPES:
            body = sign_sns_message(body, version="2" if sign == "2" else "1")
        if message_type == "auto":  # the header SNS would send with this body
            try:
                parsed = json.loads(body) if isinstance(body, (bytes, str)) else body
            except ValueError:
                parsed = None
            message_type = parsed.get("Type") if isinstance(parsed, dict) else None
            message_type = message_type if isinstance(message_type, str) else None
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        headers = {"HTTP_USER_AGENT": "Amazon Simple Notification Service Agent"}
        if message_type is not None:
            headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = message_type
            headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = str(uuid.uuid4())
            headers["HTTP_X_AMZ_SNS_TOPIC_ARN"] = TOPIC_ARN
        if auth is not None:
            headers["HTTP_AUTHORIZATION"] = basic_auth_header(auth)
        headers.update(extra_headers or {})
        return Client().post(url, data=body, content_type="text/plain; charset=utf-8", **headers)

    def tracking_events(self) -> list[AnymailTrackingEvent]:
        for call in self.tracking_handler.call_args_list:
            self.assertIs(call.kwargs["sender"], AmazonSESTrackingWebhookView)
            self.assertEqual(call.kwargs["esp_name"], "Amazon SES")
        return [call.kwargs["event"] for call in self.tracking_handler.call_args_list]

    def post_tracking(self, ses_record: dict[str, Any]) -> list[AnymailTrackingEvent]:
        response = self.post_sns(sns_notification(ses_record))
        self.assertEqual(response.status_code, 200)
        return self.tracking_events()

    def assert_event(self, event: AnymailTrackingEvent, **expected: Any) -> None:
        """Check every normalized field (those not given must be empty)."""
        defaults = {
            "timestamp": None,
            "event_id": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "message_id": None,
            "recipient": None,
            "metadata": {},
            "tags": [],
            "reject_reason": None,
            "description": None,
            "mta_response": None,
            "user_agent": None,
            "click_url": None,
        }
        self.assertIsInstance(event, AnymailTrackingEvent)
        for field, value in {**defaults, **expected}.items():
            self.assertEqual(getattr(event, field), value, field)


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESWebhookAuthTests(AmazonSESWebhookTestCase):
    def test_valid_basic_auth(self):
        self.assertEqual(self.post_sns(sns_notification(EVENT_DELIVERY)).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_wrong_basic_auth_is_400_without_parsing(self):
        for path_ in (TRACKING_PATH, INBOUND_PATH):
            for auth in ("sns-user:wrong", "", "sns-user"):
                with (
                    self.subTest(path=path_, auth=auth),
                    mock.patch.object(
                        AmazonSESTrackingWebhookView, "parse_events", autospec=True
                    ) as tracking_parse,
                    mock.patch.object(
                        AmazonSESInboundWebhookView, "parse_events", autospec=True
                    ) as inbound_parse,
                ):
                    response = self.post_sns(sns_notification(EVENT_DELIVERY), url=path_, auth=auth)
                    self.assertEqual(response.status_code, 400)
                    tracking_parse.assert_not_called()
                    inbound_parse.assert_not_called()
        self.tracking_handler.assert_not_called()
        self.mock_session_class.assert_not_called()

    def test_missing_auth_gets_401_challenge(self):
        # SNS sends the url's basic auth credentials only after a 401 challenge
        for path_ in (TRACKING_PATH, INBOUND_PATH):
            with (
                self.subTest(path=path_),
                mock.patch.object(
                    AmazonSESTrackingWebhookView, "parse_events", autospec=True
                ) as parse_events,
            ):
                response = self.post_sns(sns_subscription_confirmation(), url=path_, auth=None)
                self.assertEqual(response.status_code, 401)
                self.assertEqual(
                    response["WWW-Authenticate"], 'Basic realm="Anymail WEBHOOK_SECRET"'
                )
                parse_events.assert_not_called()
        self.mock_session_class.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()

    def test_head_is_ok(self):
        self.assertEqual(Client().head(TRACKING_PATH).status_code, 200)

    def test_get_not_allowed(self):
        self.assertEqual(Client().get(TRACKING_PATH).status_code, 405)


class AmazonSESWebhookNoSecretTests(AmazonSESWebhookTestCase):
    @override_settings(ANYMAIL={})
    def test_without_secret_notifications_are_processed_with_warning(self):
        with self.assertWarns(AnymailInsecureWebhookWarning):
            response = self.post_sns(sns_notification(EVENT_DELIVERY), auth=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)


# ---------------------------------------------------------------------------------------------
# SNS signatures and topics: checked before anything is done with a message
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESSignatureTests(AmazonSESWebhookTestCase):
    def assert_refused(self, body: Any, url: str = TRACKING_PATH, **kwargs: Any) -> str:
        """400, and nothing done: no signal, no boto3 (so no confirmation, no S3 download)."""
        with self.assertLogs("django.security.AnymailWebhookValidationFailure") as logs:
            response = self.post_sns(body, url=url, **kwargs)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()
        self.mock_session_class.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()
        self.mock_client.download_fileobj.assert_not_called()
        return logs.records[0].getMessage()

    def test_signed_messages_are_accepted(self):
        for version in ("1", "2"):
            with self.subTest(version=version):
                self.tracking_handler.reset_mock()
                self.mock_client.reset_mock()
                response = self.post_sns(sns_notification(EVENT_DELIVERY), sign=version)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(self.tracking_handler.call_count, 1)
                response = self.post_sns(sns_subscription_confirmation(), sign=version)
                self.assertEqual(response.status_code, 200)
                self.mock_client.confirm_subscription.assert_called_once()
        self.assertEqual(self.certificates.fetched, [TEST_CERT_URL])  # (then cached)

    def test_unsigned_messages_are_refused(self):
        for body, url in [
            (sns_notification(EVENT_DELIVERY), TRACKING_PATH),
            (sns_notification(RECEIVED_NOTIFICATION), INBOUND_PATH),
            (sns_subscription_confirmation(), TRACKING_PATH),
            (sns_subscription_confirmation(), INBOUND_PATH),
            (sns_unsubscribe_confirmation(), TRACKING_PATH),
        ]:
            unsigned = {k: v for k, v in body.items() if k != "Signature"}
            for message in (body, unsigned):  # (the AWS example's signature; none at all)
                with self.subTest(type=body["Type"], url=url, signature="Signature" in message):
                    self.assert_refused(message, url=url, sign=False)
        self.assertEqual(self.certificates.fetched, [TEST_CERT_URL])  # (for the example's)

    def test_tampered_messages_are_refused(self):
        signed = sign_sns_message(sns_notification(EVENT_DELIVERY))
        other_record = dict(EVENT_DELIVERY, eventType="Bounce")
        for field, value in [
            ("Message", json.dumps(other_record)),
            ("MessageId", "replayed-with-a-new-id"),
            ("Timestamp", "2030-01-01T00:00:00.000Z"),
            ("TopicArn", OTHER_TOPIC_ARN),
        ]:
            with self.subTest(field=field):
                text = self.assert_refused({**signed, field: value}, sign=False)
                self.assertIn("invalid signature", text)
        # A subscription confirmation whose Token or SubscribeURL was swapped isn't confirmed
        signed = sign_sns_message(sns_subscription_confirmation())
        for field in ("Token", "SubscribeURL", "TopicArn"):
            with self.subTest(field=field):
                tampered = {**signed, field: signed[field].replace("us-west-2", "us-east-1") + "0"}
                self.assert_refused(tampered, sign=False)
        # An S3 action pointed elsewhere is never downloaded
        received = sign_sns_message(sns_notification(RECEIVED_NOTIFICATION))
        message = json.loads(received["Message"])
        message["receipt"]["action"] = {
            "type": "S3",
            "bucketName": "private-bucket",
            "objectKey": "secrets.txt",
        }
        tampered = {**received, "Message": json.dumps(message)}
        self.assert_refused(tampered, url=INBOUND_PATH, sign=False)

    def test_bad_signing_cert_url_is_refused_without_fetching(self):
        for url in [
            "https://sns.us-west-2.amazonaws.com.evil.com/SimpleNotificationService-1.pem",
            "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.txt",
            "https://evil.com/SimpleNotificationService-1.pem",
            "https://evil.com#@sns.us-west-2.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.us-west-2.amazonaws.com:444/SimpleNotificationService-1.pem",
        ]:
            with self.subTest(url=url):
                self.certificates.certificates[url] = self.certificates.certificates[TEST_CERT_URL]
                body = sign_sns_message(sns_notification(EVENT_DELIVERY), cert_url=url)
                self.assertIn("SigningCertURL", self.assert_refused(body, sign=False))
        self.assertEqual(self.certificates.fetched, [])

    def test_signed_with_another_certificate_is_refused(self):
        body = sign_sns_message(sns_subscription_confirmation(), key="other")
        self.assertIn("invalid signature", self.assert_refused(body, sign=False))
        # (it's the key of the certificate *at SigningCertURL* that counts)
        body = sign_sns_message(
            sns_subscription_confirmation(), key="other", cert_url=OTHER_CERT_URL
        )
        self.assertEqual(self.post_sns(body, sign=False).status_code, 200)

    def test_unknown_signature_version_is_refused(self):
        signed = sign_sns_message(sns_notification(EVENT_DELIVERY))
        for version in ("3", None, 1):
            with self.subTest(version=version):
                body = {**signed, "SignatureVersion": version}
                self.assertIn("SignatureVersion", self.assert_refused(body, sign=False))

    def test_raw_message_delivery_is_refused(self):
        # SNS doesn't sign raw message delivery: say how to fix it
        text = self.assert_refused(
            EVENT_DELIVERY,
            message_type="Notification",
            extra_headers={"HTTP_X_AMZ_SNS_RAWDELIVERY": "true"},
        )
        self.assertIn("raw message delivery", text)
        self.assertIn("AMAZON_SES_VERIFY_SNS_SIGNATURES", text)

    def test_certificate_fetch_failure_is_503(self):
        # e.g. SNS's certificate server timed out: SNS retries a 5xx, and it may work then
        self.certificates.error = AnymailAPIError("Couldn't fetch the certificate: timed out")
        for body in (sns_notification(EVENT_DELIVERY), sns_subscription_confirmation()):
            with self.subTest(type=body["Type"]), self.assertLogs("anymail.webhooks", "ERROR"):
                response = self.post_sns(body)
            self.assertEqual(response.status_code, 503)
            self.assertTrue(response.has_header("Retry-After"))
        self.tracking_handler.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()

    @override_settings(ANYMAIL=UNVERIFIED)
    def test_verification_can_be_turned_off(self):
        unsigned = {k: v for k, v in sns_notification(EVENT_DELIVERY).items() if k != "Signature"}
        self.assertEqual(self.post_sns(unsigned, sign=False).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)
        self.assertEqual(self.certificates.fetched, [])

    def test_verification_can_be_turned_off_per_view(self):
        view = AmazonSESTrackingWebhookView(verify_sns_signatures=False)
        self.assertFalse(view.verify_sns_signatures)
        self.assertTrue(AmazonSESTrackingWebhookView().verify_sns_signatures)  # the default


@override_settings(
    ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_SNS_TOPIC_ARNS": [TOPIC_ARN]}
)
class AmazonSESTopicAllowListTests(AmazonSESWebhookTestCase):
    def test_listed_topic_is_accepted(self):
        self.assertEqual(self.post_sns(sns_notification(EVENT_DELIVERY)).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 1)
        self.assertEqual(self.post_sns(sns_subscription_confirmation()).status_code, 200)
        self.mock_client.confirm_subscription.assert_called_once_with(
            TopicArn=TOPIC_ARN, Token=SNS_TOKEN, AuthenticateOnUnsubscribe="true"
        )

    def test_other_topic_is_refused(self):
        for body, url in [
            (sns_notification(EVENT_DELIVERY, topic=OTHER_TOPIC_ARN), TRACKING_PATH),
            (sns_notification(RECEIVED_NOTIFICATION, topic=OTHER_TOPIC_ARN), INBOUND_PATH),
            (sns_subscription_confirmation(OTHER_TOPIC_ARN), TRACKING_PATH),
            (sns_subscription_confirmation(OTHER_TOPIC_ARN), INBOUND_PATH),
        ]:
            with (
                self.subTest(type=body["Type"], url=url),
                self.assertLogs("django.security.AnymailWebhookValidationFailure") as logs,
            ):
                response = self.post_sns(body, url=url)  # (signed by SNS)
            self.assertEqual(response.status_code, 400)
            self.assertIn(OTHER_TOPIC_ARN, logs.records[0].getMessage())
            self.assertIn("AMAZON_SES_SNS_TOPIC_ARNS", logs.records[0].getMessage())
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()
        self.mock_session_class.assert_not_called()  # no confirmation, no S3 download

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_SNS_TOPIC_ARNS": [TOPIC_ARN],
            "AMAZON_SES_VERIFY_SNS_SIGNATURES": False,
        }
    )
    def test_raw_delivery_topic_is_checked(self):
        # (raw message delivery has no envelope: the topic is in the x-amz-sns-topic-arn header)
        headers = {"HTTP_X_AMZ_SNS_RAWDELIVERY": "true"}
        response = self.post_sns(EVENT_DELIVERY, message_type="Notification", extra_headers=headers)
        self.assertEqual(response.status_code, 200)
        with self.assertLogs("django.security.AnymailWebhookValidationFailure"):
            response = self.post_sns(
                EVENT_DELIVERY,
                message_type="Notification",
                extra_headers={**headers, "HTTP_X_AMZ_SNS_TOPIC_ARN": OTHER_TOPIC_ARN},
            )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.tracking_handler.call_count, 1)

    def test_setting_forms(self):
        for value, expected in [
            (None, None),
            (TOPIC_ARN, frozenset({TOPIC_ARN})),
            ([TOPIC_ARN, OTHER_TOPIC_ARN], frozenset({TOPIC_ARN, OTHER_TOPIC_ARN})),
            ((TOPIC_ARN,), frozenset({TOPIC_ARN})),
            ([], frozenset()),
        ]:
            with self.subTest(value=value):
                view = AmazonSESTrackingWebhookView(sns_topic_arns=value)
                self.assertEqual(view.sns_topic_arns, expected)

    def test_invalid_setting(self):
        for value in (["SES_Tracking_Events"], [42], "arn:aws:sqs:us-east-1:123456789012:q"):
            with (
                self.subTest(value=value),
                self.assertRaisesMessage(AnymailConfigurationError, "AMAZON_SES_SNS_TOPIC_ARNS"),
            ):
                AmazonSESTrackingWebhookView(sns_topic_arns=value)


# ---------------------------------------------------------------------------------------------
# SES Notifications
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESNotificationTests(AmazonSESWebhookTestCase):
    def test_bounce_with_dsn(self):
        [event] = self.post_tracking(NOTIFICATION_BOUNCE_WITH_DSN)
        self.assert_event(
            event,
            event_type="bounced",
            timestamp=utc(SNS_TIMESTAMP),
            message_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            recipient="jane@example.com",
            metadata=ANYMAIL_METADATA,
            tags=ANYMAIL_TAGS,
            reject_reason="bounced",
            description="Permanent: General",
            mta_response="smtp; 550 5.1.1 <jane@example.com>... User",
        )
        self.assertEqual(event.esp_event, NOTIFICATION_BOUNCE_WITH_DSN)

    def test_bounce_for_several_recipients(self):
        events = self.post_tracking(NOTIFICATION_BOUNCE_NO_DSN)
        self.assertEqual(
            [event.recipient for event in events], ["jane@example.com", "richard@example.com"]
        )
        for event in events:
            self.assert_event(
                event,
                event_type="bounced",
                timestamp=utc(SNS_TIMESTAMP),
                message_id="00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
                recipient=event.recipient,
                metadata=ANYMAIL_METADATA,
                tags=ANYMAIL_TAGS,
                reject_reason="bounced",
                description="Permanent: General",
            )

    def test_complaint(self):
        [event] = self.post_tracking(NOTIFICATION_COMPLAINT)
        self.assert_event(
            event,
            event_type="complained",
            timestamp=utc(SNS_TIMESTAMP),
            message_id="000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
            recipient="richard@example.com",
            metadata=ANYMAIL_METADATA,
            tags=ANYMAIL_TAGS,
            reject_reason="spam",  # the recipient reported it as spam
            description="abuse",
        )

    def test_delivery(self):
        [event] = self.post_tracking(NOTIFICATION_DELIVERY)
        self.assert_event(
            event,
            event_type="delivered",
            timestamp=utc(SNS_TIMESTAMP),
            message_id="0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
            recipient="jane@example.com",
            metadata=ANYMAIL_METADATA,
            tags=ANYMAIL_TAGS,
            mta_response="250 ok:  Message 64111812 accepted",
        )

    def test_without_original_headers(self):
        # "When ... not configured to include the original email headers, the mail object ...
        # does not include the headersTruncated, headers, and commonHeaders fields"
        record = copy.deepcopy(NOTIFICATION_DELIVERY)
        for key in ("headersTruncated", "headers", "commonHeaders"):
            del record["mail"][key]
        [event] = self.post_tracking(record)
        self.assertEqual(event.metadata, {})
        self.assertEqual(event.tags, [])
        self.assertEqual(event.recipient, "jane@example.com")

    def test_ses_setup_notification_has_no_events(self):
        record = {
            "notificationType": "AmazonSnsSubscriptionSucceeded",
            "message": f"You have successfully subscribed your Amazon SNS topic '{TOPIC_ARN}' to "
            "receive 'Bounce' notifications from Amazon SES.",
        }
        self.assertEqual(self.post_tracking(record), [])

    def test_event_publishing_setup_notification_is_ignored(self):
        # SES's first post to an SNS topic added as an event publishing destination: a
        # Notification whose Message is plain text, not an SES record. 200, and no events.
        notification = dict(
            sns_notification({}),
            Message="Successfully validated SNS topic for Amazon SES event publishing.",
        )
        for path_ in (TRACKING_PATH, INBOUND_PATH):
            with self.subTest(path=path_), self.assertLogs("anymail.webhooks", "INFO") as logs:
                response = self.post_sns(notification, url=path_)
                self.assertEqual(response.status_code, 200)
                self.assertIn(TOPIC_ARN, logs.records[0].getMessage())
        # (and by a subscription with "raw message delivery": just the text, which SNS
        # doesn't sign)
        with (
            override_settings(ANYMAIL=UNVERIFIED),
            self.assertLogs("anymail.webhooks", "INFO"),
        ):
            response = self.post_sns(
                notification["Message"],
                message_type="Notification",
                extra_headers={"HTTP_X_AMZ_SNS_RAWDELIVERY": "true"},
            )
        self.assertEqual(response.status_code, 200)
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()
        self.mock_session_class.assert_not_called()


# ---------------------------------------------------------------------------------------------
# SES Event Publishing
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESEventPublishingTests(AmazonSESWebhookTestCase):
    common = {
        "message_id": EVENT_MESSAGE_ID,
        "metadata": ANYMAIL_METADATA,
        "tags": ANYMAIL_TAGS,
    }

    def test_bounce_no_email(self):
        [event] = self.post_tracking(EVENT_BOUNCE)
        self.assert_event(
            event,
            **self.common,
            event_type="bounced",
            timestamp=utc(SNS_TIMESTAMP),
            recipient="recipient@example.com",
            reject_reason="invalid",
            description="Permanent: NoEmail",
            mta_response="smtp; 550 5.1.1 user unknown",
        )
        # SES Message Tags are in esp_event (Anymail docs: "obtain SES Message Tags")
        self.assertEqual(event.esp_event["mail"]["tags"]["Type"], ["Marketing"])

    def test_complaint(self):
        [event] = self.post_tracking(EVENT_COMPLAINT)
        self.assert_event(
            event,
            **self.common,
            event_type="complained",
            timestamp=utc(SNS_TIMESTAMP),
            recipient="recipient@example.com",
            reject_reason="spam",
            description="abuse",
        )

    def test_delivery(self):
        [event] = self.post_tracking(EVENT_DELIVERY)
        self.assert_event(
            event,
            **self.common,
            event_type="delivered",
            timestamp=utc(SNS_TIMESTAMP),
            recipient="recipient@example.com",
            mta_response="250 2.6.0 Message received",
        )

    def test_send_for_each_destination(self):
        events = self.post_tracking(EVENT_SEND)
        self.assertEqual(
            [event.recipient for event in events], ["recipient@example.com", "second@example.com"]
        )
        for event in events:
            self.assert_event(
                event,
                **self.common,
                event_type="sent",
                timestamp=utc(SNS_TIMESTAMP),
                recipient=event.recipient,
            )

    def test_reject(self):
        [event] = self.post_tracking(EVENT_REJECT)
        self.assert_event(
            event,
            **self.common,
            event_type="rejected",
            timestamp=utc(SNS_TIMESTAMP),
            recipient="recipient@example.com",
            reject_reason="blocked",
            description="Bad content",
        )

    def test_open_goes_to_every_original_recipient(self):
        events = self.post_tracking(EVENT_OPEN)
        self.assertEqual(
            [event.recipient for event in events],
            ["to@example.com", "cc@example.com", "bcc@example.com"],
        )
        for event in events:
            self.assert_event(
                event,
                **self.common,
                event_type="opened",
                timestamp=utc(SNS_TIMESTAMP),
                recipient=event.recipient,
                user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) "
                "AppleWebKit/603.3.8 (KHTML, like Gecko) Mobile/14G60",
            )

    def test_click(self):
        [event] = self.post_tracking(EVENT_CLICK)
        self.assert_event(
            event,
            **self.common,
            event_type="clicked",
            timestamp=utc(SNS_TIMESTAMP),
            recipient="recipient@example.com",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/60.0.3112.90 Safari/537.36",
            click_url="http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        )

    def test_rendering_failure(self):
        [event] = self.post_tracking(EVENT_RENDERING_FAILURE)
        self.assert_event(
            event,
            event_type="failed",
            timestamp=utc(SNS_TIMESTAMP),
            message_id=EVENT_MESSAGE_ID,
            recipient="recipient@example.com",
            description="Attribute 'attributeName' is not present in the rendering data.",
        )

    def test_delivery_delay(self):
        [event] = self.post_tracking(EVENT_DELIVERY_DELAY)
        self.assert_event(
            event,
            event_type="deferred",
            timestamp=utc(SNS_TIMESTAMP),
            message_id=EVENT_MESSAGE_ID,
            recipient="recipient@example.com",
            description="TransientCommunicationFailure",
            mta_response="smtp; 421 4.4.1 Unable to connect to remote host",
        )

    def test_unknown_event_type(self):
        record = {
            "eventType": "Subscription",
            "mail": event_mail(["a@example.com", "b@example.com"]),
            "subscription": {
                "contactList": "SystemMonitor-Canary",
                "timestamp": "2022-01-12T01:00:14.340Z",
            },
        }
        events = self.post_tracking(record)
        self.assertEqual([event.recipient for event in events], ["a@example.com", "b@example.com"])
        for event in events:
            self.assert_event(
                event,
                **self.common,
                event_type="unknown",
                timestamp=utc(SNS_TIMESTAMP),
                recipient=event.recipient,
            )
            self.assertEqual(event.esp_event, record)

    def test_bounce_reject_reasons(self):
        # The SES "Bounce types" table
        for bounce_type, subtype, reason in [
            ("Undetermined", "Undetermined", "other"),
            ("Permanent", "General", "bounced"),
            ("Permanent", "NoEmail", "invalid"),
            ("Permanent", "Suppressed", "blocked"),
            ("Permanent", "OnAccountSuppressionList", "blocked"),
            ("Transient", "General", "bounced"),
            ("Transient", "MailboxFull", "bounced"),
            ("Transient", "MessageTooLarge", "other"),
            ("Transient", "ContentRejected", "spam"),
            ("Transient", "AttachmentRejected", "blocked"),
            ("Permanent", "SomeFutureSubtype", "bounced"),
            ("Transient", None, "bounced"),
            (None, None, "other"),
        ]:
            with self.subTest(bounce_type=bounce_type, subtype=subtype):
                self.tracking_handler.reset_mock()
                record = copy.deepcopy(EVENT_BOUNCE)
                record["bounce"]["bounceType"] = bounce_type
                record["bounce"]["bounceSubType"] = subtype
                [event] = self.post_tracking(record)
                self.assertEqual(event.event_type, "bounced")
                self.assertEqual(event.reject_reason, reason)

    def test_recipient_with_display_name(self):
        record = copy.deepcopy(EVENT_DELIVERY)
        record["delivery"]["recipients"] = ['"Recipient, Esq." <recipient@example.com>']
        [event] = self.post_tracking(record)
        self.assertEqual(event.recipient, "recipient@example.com")

    def test_no_recipients_at_all(self):
        record = copy.deepcopy(EVENT_SEND)
        record["mail"]["destination"] = []
        [event] = self.post_tracking(record)
        self.assertIsNone(event.recipient)
        self.assertEqual(event.event_type, "sent")

    @override_settings(ANYMAIL=UNVERIFIED)
    def test_raw_message_delivery(self):
        # An SNS subscription with "raw message delivery" posts the SES record itself (unsigned,
        # so this works only with AMAZON_SES_VERIFY_SNS_SIGNATURES off)
        response = self.post_sns(
            EVENT_DELIVERY,
            message_type="Notification",
            extra_headers={
                "HTTP_X_AMZ_SNS_RAWDELIVERY": "true",
                "HTTP_X_AMZ_SNS_MESSAGE_ID": "da41e39f-ea4d-435a-b922-c6aae3915ebe",
            },
        )
        self.assertEqual(response.status_code, 200)
        [event] = self.tracking_events()
        self.assert_event(
            event,
            **self.common,
            event_id="da41e39f-ea4d-435a-b922-c6aae3915ebe",
            event_type="delivered",
            # (no SNS envelope, so no SNS Timestamp: when SES says it was delivered)
            timestamp=utc("2016-10-19T23:21:04.133Z"),
            recipient="recipient@example.com",
            mta_response="250 2.6.0 Message received",
        )


# ---------------------------------------------------------------------------------------------
# Metadata and tags, as an Anymail send really encodes them
# ---------------------------------------------------------------------------------------------


def raw_header_values(raw_message: bytes, name: str) -> list[str]:
    """A header's values as SES reports them: the raw (still encoded) text, unfolded."""
    head = raw_message.split(b"\r\n\r\n", 1)[0].decode("ascii")
    pattern = rf"^{re.escape(name)}: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)"
    return [re.sub(r"\r\n(?=[ \t])", "", value) for value in re.findall(pattern, head, re.M | re.I)]


@override_settings(
    ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET},
    EMAIL_BACKEND="anymail.backends.amazon_ses.EmailBackend",
)
class AmazonSESMetadataRoundTripTests(AmazonSESWebhookTestCase):
    def sent_headers(self, **attrs: Any) -> list[dict[str, str]]:
        self.mock_client.send_raw_email.return_value = {"MessageId": EVENT_MESSAGE_ID}
        message = AnymailMessage("Subject", "Body", "from@example.com", ["to@example.com"], **attrs)
        message.connection = get_connection()
        message.send()
        raw = self.mock_client.send_raw_email.call_args.kwargs["RawMessage"]["Data"]
        return [
            {"name": name, "value": value}
            for name in ("X-Metadata", "X-Tag")
            for value in raw_header_values(raw, name)
        ]

    def test_metadata_and_tags_round_trip(self):
        metadata = {
            "long_word": "x,y;z" * 80,  # no whitespace to fold at
            "spaces": "word " * 40,
            "unicode": "crème brûlée ✓",
            "nested": {"list": [1, 2.5, None, True], "quote": 'say "hi"'},
            "looks_encoded": "=?utf-8?q?not_really?=",
        }
        tags = ["receipt", "Dépôt", "a" * 120, "with  two  spaces"]
        headers = self.sent_headers(metadata=metadata, tags=tags)
        record = copy.deepcopy(EVENT_DELIVERY)
        record["mail"]["headers"] = record["mail"]["headers"][:5] + headers
        [event] = self.post_tracking(record)
        self.assertEqual(event.metadata, metadata)
        self.assertEqual(event.tags, tags)

    def test_other_x_metadata_is_ignored(self):
        record = copy.deepcopy(EVENT_DELIVERY)
        record["mail"]["headers"] = [{"name": "X-Metadata", "value": "not json"}]
        [event] = self.post_tracking(record)
        self.assertEqual(event.metadata, {})
        record["mail"]["headers"] = [{"name": "x-metadata", "value": "[1, 2]"}]
        self.tracking_handler.reset_mock()
        [event] = self.post_tracking(record)
        self.assertEqual(event.metadata, {})


# ---------------------------------------------------------------------------------------------
# SNS: subscriptions and malformed messages
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESSubscriptionTests(AmazonSESWebhookTestCase):
    def test_auto_confirms_subscription(self):
        for path_ in (TRACKING_PATH, INBOUND_PATH):
            with self.subTest(path=path_):
                self.mock_session_class.reset_mock()
                self.mock_client.reset_mock()
                response = self.post_sns(sns_subscription_confirmation(), url=path_)
                self.assertEqual(response.status_code, 200)
                self.mock_session_class.assert_called_once_with()
                # SNS ConfirmSubscription goes to the topic's region
                self.mock_session.client.assert_called_once_with(
                    "sns", region_name="us-west-2", config=mock.ANY
                )
                self.assertEqual(
                    self.mock_session.client.call_args.kwargs["config"].user_agent_extra,
                    f"django-anymail/{ANYMAIL_VERSION}-amazon-ses",
                )
                self.mock_client.confirm_subscription.assert_called_once_with(
                    TopicArn=TOPIC_ARN, Token=SNS_TOKEN, AuthenticateOnUnsubscribe="true"
                )
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_SESSION_PARAMS": {"profile_name": "anymail-testing"},
            "AMAZON_SES_CLIENT_PARAMS": {"region_name": "eu-west-1", "aws_access_key_id": "AKID"},
        }
    )
    def test_confirm_uses_session_and_client_params(self):
        response = self.post_sns(sns_subscription_confirmation())
        self.assertEqual(response.status_code, 200)
        self.mock_session_class.assert_called_once_with(profile_name="anymail-testing")
        self.mock_session.client.assert_called_once_with(
            "sns", region_name="us-west-2", aws_access_key_id="AKID", config=mock.ANY
        )

    def assert_not_confirmed(self, response, *reason_parts: str) -> None:
        self.assertEqual(response.status_code, 400)
        self.mock_client.confirm_subscription.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_auto_confirm_disabled_by_setting(self):
        with (
            override_settings(
                ANYMAIL={
                    "WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
                }
            ),
            self.assertLogs("django.security.AnymailWebhookValidationFailure", "ERROR") as logs,
        ):
            response = self.post_sns(sns_subscription_confirmation())
        self.assertEqual(response.status_code, 400)
        self.mock_session_class.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()
        [record] = logs.records
        text = record.getMessage()
        self.assertIn("AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS is off", text)
        self.assertIn(TOPIC_ARN, text)
        self.assertIn(f"Token={SNS_TOKEN!r}", text)  # to confirm it by hand
        self.assertIn(
            "SubscribeURL 'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", text
        )
        self.assertIn("tracking webhook", text)

    def test_auto_confirm_disabled_by_view_kwarg(self):
        with self.assertLogs("django.security.AnymailWebhookValidationFailure", "ERROR"):
            response = self.post_sns(
                sns_subscription_confirmation(), url="/manual/amazon_ses/tracking/"
            )
        self.assertEqual(response.status_code, 400)
        self.mock_client.confirm_subscription.assert_not_called()

    @override_settings(ANYMAIL={})
    def test_no_auto_confirm_without_webhook_secret(self):
        with (
            self.assertWarns(AnymailInsecureWebhookWarning),
            self.assertLogs("django.security.AnymailWebhookValidationFailure", "ERROR") as logs,
        ):
            response = self.post_sns(sns_subscription_confirmation(), auth=None)
        self.assertEqual(response.status_code, 400)
        self.mock_session_class.assert_not_called()
        self.assertIn("WEBHOOK_SECRET isn't set", logs.records[0].getMessage())
        self.assertIn(SNS_TOKEN, logs.records[0].getMessage())

    def test_confirm_failure_reports_token(self):
        self.mock_client.confirm_subscription.side_effect = ClientError(
            {
                "Error": {
                    "Type": "Sender",
                    "Code": "AuthorizationError",
                    "Message": "User is not authorized to perform: SNS:ConfirmSubscription",
                },
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            "ConfirmSubscription",
        )
        with self.assertLogs("django.security.AnymailWebhookValidationFailure", "ERROR") as logs:
            response = self.post_sns(sns_subscription_confirmation(), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        text = logs.records[0].getMessage()
        self.assertIn("AuthorizationError", text)
        self.assertIn("SNS:ConfirmSubscription", text)
        self.assertIn(SNS_TOKEN, text)
        self.assertIn("inbound webhook", text)

    def test_confirm_failure_that_may_pass_is_503(self):
        # SNS retries a 5xx, never a 4xx: a confirmation that may work later gets a 503
        from botocore.exceptions import EndpointConnectionError

        for error in [
            ClientError(
                {
                    "Error": {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "ConfirmSubscription",
            ),
            ClientError(
                {
                    "Error": {"Type": "Receiver", "Code": "InternalError", "Message": "Oops"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                "ConfirmSubscription",
            ),
            EndpointConnectionError(endpoint_url="https://sns.us-west-2.amazonaws.com/"),
        ]:
            with self.subTest(error=error):
                self.mock_client.confirm_subscription.side_effect = error
                with self.assertLogs("anymail.webhooks", "ERROR") as logs:
                    response = self.post_sns(sns_subscription_confirmation())
                self.assertEqual(response.status_code, 503)
                self.assertTrue(response.has_header("Retry-After"))
                [raised] = [record.exc_info[1] for record in logs.records if record.exc_info]
                self.assertIn(f"Token={SNS_TOKEN!r}", str(raised))  # (to confirm by hand)

    def test_invalid_topic_arn_is_not_confirmed(self):
        for topic in ("not-an-arn", "arn:aws:sqs:us-west-2:123456789012:queue", ""):
            with self.subTest(topic=topic):
                confirmation = sns_subscription_confirmation(topic)
                self.assertEqual(self.post_sns(confirmation).status_code, 400)
        self.mock_client.confirm_subscription.assert_not_called()

    def test_unsubscribe_confirmation(self):
        response = self.post_sns(sns_unsubscribe_confirmation())
        self.assertEqual(response.status_code, 200)
        self.mock_session_class.assert_not_called()
        self.tracking_handler.assert_not_called()

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_SESSION_PARAMS": {"profile_name": "anymail-testing"},
        }
    )
    def test_mocking_the_webhook_modules_boto3(self):
        # As code written for Anymail 6.1 may: the webhooks make their sessions from their own
        # module's boto3, as boto3.session.Session(**AMAZON_SES_SESSION_PARAMS)
        with mock.patch("anymail.webhooks.amazon_ses.boto3") as mock_boto3:
            response = self.post_sns(sns_subscription_confirmation())
        self.assertEqual(response.status_code, 200)
        mock_boto3.session.Session.assert_called_once_with(profile_name="anymail-testing")
        session = mock_boto3.session.Session.return_value
        session.client.assert_called_once_with("sns", region_name="us-west-2", config=mock.ANY)
        self.assertEqual(
            session.client.call_args.kwargs["config"].user_agent_extra,
            f"django-anymail/{ANYMAIL_VERSION}-amazon-ses",
        )
        session.client.return_value.confirm_subscription.assert_called_once_with(
            TopicArn=TOPIC_ARN, Token=SNS_TOKEN, AuthenticateOnUnsubscribe="true"
        )
        self.mock_session_class.assert_not_called()  # (the real boto3 wasn't used)


# (Not signature tests: some of these payloads couldn't have been signed by SNS at all)
@override_settings(ANYMAIL=UNVERIFIED)
class AmazonSESMalformedTests(AmazonSESWebhookTestCase):
    def assert_400(self, body: Any, url: str = TRACKING_PATH, **kwargs: Any) -> str:
        self.tracking_handler.reset_mock()
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(body, url=url, **kwargs)
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()
        self.inbound_handler.assert_not_called()
        return logs.records[0].getMessage()

    def test_not_sns(self):
        for body in ({"event": "delivered"}, [], "not json", b"\xff\xfe", {"Type": "Other"}):
            with self.subTest(body=body):
                self.assertIn("Malformed Amazon SES webhook payload", self.assert_400(body))

    def test_unwrapped_ses_record_is_not_sns(self):
        # (without SNS's raw delivery headers, an SES record isn't a valid SNS post)
        text = self.assert_400(EVENT_DELIVERY, message_type=None)
        self.assertIn("Not an Amazon SNS message", text)

    def test_header_type_must_match_body(self):
        text = self.assert_400(
            sns_notification(EVENT_DELIVERY), message_type="SubscriptionConfirmation"
        )
        self.assertIn("doesn't match Type 'Notification'", text)

    def test_message_must_be_ses_json(self):
        for message in ("Hello world!", "[1, 2]", 42, None):
            with self.subTest(message=message):
                body = dict(sns_notification(EVENT_DELIVERY), Message=message)
                self.assert_400(body)

    def test_inbound_notification_posted_to_tracking(self):
        text = self.assert_400(sns_notification(RECEIVED_NOTIFICATION))
        self.assertIn(
            "inbound (receipt rule) notification, posted to Anymail's Amazon SES tracking webhook",
            text,
        )
        self.assertIn("anymail/amazon_ses/inbound/", text)

    def test_wrong_field_types(self):
        for path_, value in [
            (("eventType",), 7),
            (("mail",), "mail"),
            (("mail", "messageId"), ["id"]),
            (("mail", "headers"), {"X-Tag": "x"}),
            (("mail", "headers", 0), "From: x"),
            (("delivery",), []),
            (("delivery", "recipients"), [{"emailAddress": "x@example.com"}]),
            (("delivery", "smtpResponse"), 250),
        ]:
            with self.subTest(path=path_, value=value):
                record = copy.deepcopy(EVENT_DELIVERY)
                target = record
                for key in path_[:-1]:
                    target = target[key]
                target[path_[-1]] = value
                self.assert_400(sns_notification(record))

    def test_wrong_sns_timestamp(self):
        # The event's timestamp is SNS's Timestamp
        for value in ("yesterday", 1522087139, ["2018-03-26T17:58:59.675Z"]):
            with self.subTest(value=value):
                self.assert_400(dict(sns_notification(EVENT_DELIVERY), Timestamp=value))

    def test_wrong_destination_type(self):
        record = copy.deepcopy(EVENT_SEND)
        record["mail"]["destination"] = "recipient@example.com"
        self.assert_400(sns_notification(record))

    def test_missing_mail(self):
        record = dict(EVENT_DELIVERY)
        del record["mail"]
        self.assert_400(sns_notification(record))

    def test_missing_bounced_recipient_address(self):
        record = copy.deepcopy(EVENT_BOUNCE)
        record["bounce"]["bouncedRecipients"] = [{"status": "5.1.1"}]
        self.assert_400(sns_notification(record))


# ---------------------------------------------------------------------------------------------
# SNS subscription confirmation, end to end through boto3 against moto's SNS
# ---------------------------------------------------------------------------------------------


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESMotoSubscriptionTests(AmazonSESWebhookTestCase):
    fake_boto3 = False

    def setUp(self):
        super().setUp()
        import boto3
        from moto import mock_aws

        env = mock.patch.dict(
            os.environ,
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            },
        )
        env.start()
        self.addCleanup(env.stop)
        aws = mock_aws()
        aws.start()
        self.addCleanup(aws.stop)
        self.sns = boto3.client("sns", region_name="us-west-2")
        self.topic_arn = self.sns.create_topic(Name="SES_Tracking_Events")["TopicArn"]

    def test_confirms_existing_topic(self):
        self.assertEqual(self.topic_arn, TOPIC_ARN)
        response = self.post_sns(sns_subscription_confirmation(self.topic_arn))
        self.assertEqual(response.status_code, 200)

    def test_unknown_topic_is_not_confirmed(self):
        other_topic = "arn:aws:sns:us-west-2:123456789012:Someone_Elses_Topic"
        with self.assertLogs("django.security.AnymailWebhookValidationFailure", "ERROR") as logs:
            response = self.post_sns(sns_subscription_confirmation(other_topic))
        self.assertEqual(response.status_code, 400)
        self.assertIn("NotFound", logs.records[0].getMessage())


# ---------------------------------------------------------------------------------------------
# Property test: whatever SNS (or an attacker) posts, never a 5xx
# ---------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
odd_timestamps = st.sampled_from(
    [
        "",
        "2017-13-45T99:99:99Z",
        "1475000000",
        "2017-08-05T00:41:02.669+25:00",
        "9999-12-31T23:59:59.999999-23:59",
        "0001-01-01T00:00:00Z",
        "2017-08-05",
        "now",
    ]
) | st.text(max_size=25)


def json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (of keys and indexes) into nested dicts and lists."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.extend(json_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths.extend(json_paths(item, (*prefix, index)))
    return paths


@st.composite
def mutated_json(draw: Any, sample: Any) -> Any:
    """sample with some keys dropped, values replaced (wrong types, odd timestamps)."""
    value = copy.deepcopy(sample)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4]))):
        paths = json_paths(value)
        if not paths:
            break
        target_path = draw(st.sampled_from(paths))
        parent = value
        for key in target_path[:-1]:
            parent = parent[key]
        last = target_path[-1]
        action = draw(st.sampled_from(["drop", "replace", "timestamp"]))
        if action == "drop":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(json_values)
        else:
            parent[last] = draw(odd_timestamps)
    return value


@st.composite
def mutated_sns_body(draw: Any, records: list[dict[str, Any]], confirmations: bool = True) -> bytes:
    kinds = ["notification"] * 6 + (["subscribe", "unsubscribe"] if confirmations else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "notification":
        record = draw(mutated_json(draw(st.sampled_from(records))))
        envelope = sns_notification(record)
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            envelope["Message"] = draw(json_values)  # not a JSON string
    elif kind == "subscribe":
        envelope = sns_subscription_confirmation()
    else:
        envelope = sns_unsubscribe_confirmation()
    payload = draw(mutated_json(envelope)) if draw(st.booleans()) else envelope
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        payload = draw(json_values)
    # Usually signed as SNS would sign it (so the parsing behind the signature check is
    # tested too), whatever the mutations; sometimes left with its example signature
    if isinstance(payload, dict) and draw(st.integers(min_value=0, max_value=9)) > 0:
        payload = sign_sns_message(payload, version=draw(st.sampled_from(["1", "2"])))
    body = json.dumps(payload, allow_nan=True).encode("utf-8")
    mutation = draw(
        st.sampled_from(["none", "none", "none", "latin-1", "bad-bytes", "truncate", "raw"])
    )
    if mutation == "latin-1":
        body = json.dumps(payload, ensure_ascii=False).encode("latin-1", errors="replace")
    elif mutation == "bad-bytes" and body:
        index = draw(st.integers(min_value=0, max_value=len(body) - 1))
        body = body[:index] + b"\xff\xc3" + body[index:]
    elif mutation == "truncate":
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    elif mutation == "raw":
        body = draw(st.binary(max_size=60))
    return body


sns_message_types = st.sampled_from(
    # usually the header SNS would send; sometimes missing or contradicting the body
    ["auto"] * 6 + [None, "Notification", "SubscriptionConfirmation", "Other"]
)
bad_auth = st.one_of(
    st.none(),
    st.just(""),
    st.just("sns-user:wrong"),
    st.text(max_size=20).filter(lambda auth: auth != WEBHOOK_SECRET),
)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESTrackingPropertyTests(AmazonSESWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_sns_body(ALL_TRACKING_RECORDS + [RECEIVED_NOTIFICATION]),
        message_type=sns_message_types,
    )
    def test_valid_auth_is_200_or_400_never_5xx(self, body, message_type):
        self.tracking_handler.reset_mock()
        response = self.post_sns(body, message_type=message_type)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            for event in self.tracking_events():
                self.assertIsInstance(event, AnymailTrackingEvent)
                self.assertIsInstance(event.event_type, str)
                self.assertIsInstance(event.metadata, dict)
                self.assertIsInstance(event.tags, list)
                self.assertTrue(event.recipient is None or isinstance(event.recipient, str))
                if event.timestamp is not None:
                    self.assertIsNotNone(event.timestamp.tzinfo)
        else:
            self.tracking_handler.assert_not_called()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_sns_body(ALL_TRACKING_RECORDS), message_type=sns_message_types, auth=bad_auth
    )
    def test_bad_auth_is_always_rejected_before_parsing(self, body, message_type, auth):
        self.tracking_handler.reset_mock()
        self.mock_client.reset_mock()
        with mock.patch.object(
            AmazonSESTrackingWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_sns(body, auth=auth, message_type=message_type)
        # no credentials: a 401 challenge; wrong credentials: a 400
        self.assertEqual(response.status_code, 401 if auth is None else 400)
        parse_events.assert_not_called()
        self.tracking_handler.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()
