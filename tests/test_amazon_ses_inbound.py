"""Amazon SES inbound webhook: SES receipt rule notifications ("Received"), delivered by SNS.

Payloads follow "Contents of notifications for Amazon SES email receiving" and its examples: an
SNS action notification carries the message in "content" (Base64 or UTF-8, per the action's
encoding); an S3 action notification names the bucket and object the message is in.
"""

from __future__ import annotations

import base64
import copy
import os
from datetime import datetime, timezone
from typing import Any
from unittest import mock

from django.test import override_settings
from hypothesis import HealthCheck, given, settings

from anymail import __version__ as ANYMAIL_VERSION
from anymail.exceptions import AnymailAPIError, AnymailConfigurationError
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView

from .test_amazon_ses_webhooks import (
    EVENT_DELIVERY,
    INBOUND_PATH,
    NOTIFICATION_BOUNCE_WITH_DSN,
    WEBHOOK_SECRET,
    AmazonSESWebhookTestCase,
    bad_auth,
    mutated_sns_body,
    sns_message_types,
    sns_notification,
)

INBOUND_TOPIC_ARN = "arn:aws:sns:us-east-1:012345678912:SES_Inbound_Events"
SES_MESSAGE_ID = "d6iitobk75ur44p8kdnnp7g2n800"
MiB = 1024 * 1024

# A received message, as the sender's MTA delivered it to SES
RAW_MIME = (
    "Return-Path: <61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>\r\n"
    "Received: from a9-183.smtp-out.amazonses.com (a9-183.smtp-out.amazonses.com "
    "[54.240.9.183])\r\n by inbound-smtp.us-east-1.amazonaws.com with SMTP id "
    "d6iitobk75ur44p8kdnnp7g2n800\r\n for recipient@example.com;\r\n"
    " Fri, 11 Sep 2015 20:32:33 +0000 (UTC)\r\n"
    "From: Sender Name <sender@example.com>\r\n"
    "To: recipient@example.com, Other <other@example.com>\r\n"
    "Cc: cc@example.com\r\n"
    "Subject: =?utf-8?q?Example_subj=C3=ABct?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Date: Fri, 11 Sep 2015 20:32:32 +0000\r\n"
    "Message-ID: <61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="inner"\r\n'
    "\r\n"
    "--inner\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Example c=C3=B6ntent\r\n"
    "--inner\r\n"
    'Content-Type: text/html; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "<p>Example content</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    'Content-Type: text/csv; name="report.csv"\r\n'
    'Content-Disposition: attachment; filename="report.csv"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "YSxiCjEsMgo=\r\n"  # a,b\n1,2\n
    "--outer--\r\n"
)
RAW_MIME_BYTES = RAW_MIME.encode("ascii")

# A message in a legacy charset with 8bit bytes: only Base64 encoding preserves it
LATIN1_MIME_BYTES = (
    b"From: expediteur@example.fr\r\n"
    b"To: recipient@example.com\r\n"
    b"Subject: Bonjour\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="iso-8859-1"\r\n'
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Voil\xe0, \xe7a marche tr\xe8s bien.\r\n"
)


def received_notification(
    action: dict[str, Any], content: str | None = None, spam: str = "PASS"
) -> dict[str, Any]:
    """An SES "Received" notification (receipt rule SNS or S3 action)."""
    notification: dict[str, Any] = {
        "notificationType": "Received",
        "receipt": {
            "timestamp": "2015-09-11T20:32:33.936Z",
            "processingTimeMillis": 222,
            "recipients": ["recipient@example.com"],
            "spamVerdict": {"status": spam},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": action,
        },
        "mail": {
            "timestamp": "2015-09-11T20:32:33.936Z",
            "source": "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com",
            "messageId": SES_MESSAGE_ID,
            "destination": ["recipient@example.com", "other@example.com", "cc@example.com"],
            "headersTruncated": False,
            "headers": [
                {
                    "name": "Return-Path",
                    "value": "<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>",
                },
                {"name": "From", "value": "Sender Name <sender@example.com>"},
                {"name": "To", "value": "recipient@example.com, Other <other@example.com>"},
                {"name": "Cc", "value": "cc@example.com"},
                {"name": "Subject", "value": "=?utf-8?q?Example_subj=C3=ABct?="},
                {"name": "MIME-Version", "value": "1.0"},
                {"name": "Date", "value": "Fri, 11 Sep 2015 20:32:32 +0000"},
                {
                    "name": "Message-ID",
                    "value": "<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>",
                },
            ],
            "commonHeaders": {
                "returnPath": "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com",
                "from": ["Sender Name <sender@example.com>"],
                "date": "Fri, 11 Sep 2015 20:32:32 +0000",
                "to": ["recipient@example.com", "Other <other@example.com>"],
                "cc": ["cc@example.com"],
                "messageId": "<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>",
                "subject": "Example subjëct",
            },
        },
    }
    if content is not None:
        notification["content"] = content
    return notification


def sns_action(encoding: str | None = "BASE64") -> dict[str, Any]:
    action = {"type": "SNS", "topicArn": INBOUND_TOPIC_ARN}
    if encoding is not None:
        action["encoding"] = encoding
    return action


S3_ACTION = {
    "type": "S3",
    "topicArn": INBOUND_TOPIC_ARN,
    "bucketName": "my-inbound-bucket",
    "objectKeyPrefix": "inbound/",
    "objectKey": f"inbound/{SES_MESSAGE_ID}",
}

RECEIVED_BASE64 = received_notification(
    sns_action("BASE64"), base64.b64encode(RAW_MIME_BYTES).decode("ascii")
)
RECEIVED_UTF8 = received_notification(sns_action("UTF8"), RAW_MIME)
RECEIVED_S3 = received_notification(S3_ACTION)


class AmazonSESInboundTestCase(AmazonSESWebhookTestCase):
    def setUp(self):
        super().setUp()
        if self.fake_boto3:
            # boto3's S3 download_fileobj writes the object into Fileobj (and returns None)
            self.mock_client.download_fileobj.side_effect = lambda Bucket, Key, Fileobj, **kwargs: (
                Fileobj.write(RAW_MIME_BYTES) and None
            )

    def post_inbound(self, ses_record: dict[str, Any]) -> AnymailInboundEvent:
        response = self.post_sns(
            sns_notification(ses_record, topic=INBOUND_TOPIC_ARN), url=INBOUND_PATH
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.inbound_handler.call_count, 1)
        kwargs = self.inbound_handler.call_args.kwargs
        self.assertIs(kwargs["sender"], AmazonSESInboundWebhookView)
        self.assertEqual(kwargs["esp_name"], "Amazon SES")
        self.tracking_handler.assert_not_called()
        return kwargs["event"]

    def assert_received_message(
        self, event: AnymailInboundEvent, ses_record: dict[str, Any]
    ) -> AnymailInboundMessage:
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertEqual(event.timestamp, datetime(2015, 9, 11, 20, 32, 33, 936000, timezone.utc))
        # SES's id, which (with any prefix) is the S3 object key
        self.assertEqual(event.event_id, SES_MESSAGE_ID)
        self.assertEqual(event.esp_event, ses_record)
        message = event.message
        self.assertIsInstance(message, AnymailInboundMessage)
        self.assertEqual(str(message.from_email), "Sender Name <sender@example.com>")
        self.assertEqual(
            [str(address) for address in message.to],
            ["recipient@example.com", "Other <other@example.com>"],
        )
        self.assertEqual([str(address) for address in message.cc], ["cc@example.com"])
        self.assertEqual(message.subject, "Example subjëct")
        self.assertEqual(message.text, "Example cöntent")  # (the CRLF is the boundary's)
        self.assertEqual(message.html, "<p>Example content</p>")
        [attachment] = message.attachments
        self.assertEqual(attachment.get_filename(), "report.csv")
        self.assertEqual(attachment.get_content_bytes(), b"a,b\n1,2\n")
        # The SMTP envelope, from the notification
        self.assertEqual(
            message.envelope_sender, "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com"
        )
        self.assertEqual(message.envelope_recipient, "recipient@example.com")
        self.assertIs(message.spam_detected, False)
        self.assertIsNone(message.spam_score)
        self.assertIsNone(message.stripped_text)
        self.assertIsNone(message.stripped_html)
        return message


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundSNSActionTests(AmazonSESInboundTestCase):
    def test_base64_content(self):
        event = self.post_inbound(RECEIVED_BASE64)
        self.assert_received_message(event, RECEIVED_BASE64)
        self.mock_session_class.assert_not_called()  # no boto3 needed for SNS actions

    def test_utf8_content(self):
        event = self.post_inbound(RECEIVED_UTF8)
        self.assert_received_message(event, RECEIVED_UTF8)

    def test_no_encoding_given_is_utf8(self):
        # (Amazon's documented SNS action example has no "encoding": its content is UTF-8 text)
        record = received_notification(sns_action(None), RAW_MIME)
        self.assert_received_message(self.post_inbound(record), record)

    def test_base64_preserves_8bit_legacy_charset(self):
        record = received_notification(
            sns_action("BASE64"), base64.b64encode(LATIN1_MIME_BYTES).decode("ascii")
        )
        message = self.post_inbound(record).message
        self.assertEqual(message.text, "Voilà, ça marche très bien.\r\n")
        self.assertEqual(message.subject, "Bonjour")
        self.assertEqual(str(message.from_email), "expediteur@example.fr")

    def test_docs_sns_action_example(self):
        # Amazon's "Notification of an SNS action" example, as published
        content = (
            "Return-Path: <61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>\r\n"
            "Received: from a9-183.smtp-out.amazonses.com (a9-183.smtp-out.amazonses.com "
            "[54.240.9.183])\r\n by inbound-smtp.us-east-1.amazonaws.com with SMTP id "
            "d6iitobk75ur44p8kdnnp7g2n800\r\n for recipient@example.com;\r\n"
            " Fri, 11 Sep 2015 20:32:33 +0000 (UTC)\r\n"
            "From: sender@example.com\r\nTo: recipient@example.com\r\n"
            "Subject: Example subject\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n"
            "Date: Fri, 11 Sep 2015 20:32:32 +0000\r\n"
            "Message-ID: <61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>\r\n"
            "X-SES-Outgoing: 2015.09.11-54.240.9.183\r\n"
            "Feedback-ID: 1.us-east-1.Krv2FKpFdWV+KUYw3Qd6wcpPJ4Sv/pOPpEPSHn2u2o4=:AmazonSES\r\n"
            "\r\nExample content\r\n"
        )
        record = received_notification(sns_action(None), content)
        record["mail"]["source"] = "61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com"
        message = self.post_inbound(record).message
        self.assertEqual(str(message.from_email), "sender@example.com")
        self.assertEqual(message.subject, "Example subject")
        self.assertEqual(message.text, "Example content\r\n")
        self.assertEqual(message["X-SES-Outgoing"], "2015.09.11-54.240.9.183")

    def test_spam_verdicts(self):
        for status, detected in [
            ("PASS", False),
            ("FAIL", True),
            ("GRAY", None),
            ("PROCESSING_FAILED", None),
        ]:
            with self.subTest(status=status):
                self.inbound_handler.reset_mock()
                record = received_notification(sns_action("UTF8"), RAW_MIME, spam=status)
                message = self.post_inbound(record).message
                self.assertIs(message.spam_detected, detected)
                self.assertIsNone(message.spam_score)

    def test_no_spam_scanning(self):
        record = copy.deepcopy(RECEIVED_UTF8)
        del record["receipt"]["spamVerdict"]
        self.assertIsNone(self.post_inbound(record).message.spam_detected)

    def test_several_envelope_recipients(self):
        record = copy.deepcopy(RECEIVED_UTF8)
        record["receipt"]["recipients"] = ["recipient@example.com", "other@example.com"]
        # (the first matched RCPT TO; all of them are in esp_event)
        event = self.post_inbound(record)
        self.assertEqual(event.message.envelope_recipient, "recipient@example.com")
        self.assertEqual(event.esp_event["receipt"]["recipients"][1], "other@example.com")

    def test_ses_setup_notification_has_no_events(self):
        record = {
            "notificationType": "AmazonSnsSubscriptionSucceeded",
            "message": "You have successfully subscribed your Amazon SNS topic "
            f"'{INBOUND_TOPIC_ARN}' to receive 'Received' notifications from Amazon SES.",
        }
        response = self.post_sns(sns_notification(record), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 200)
        self.inbound_handler.assert_not_called()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundS3ActionTests(AmazonSESInboundTestCase):
    def test_s3_action_downloads_message(self):
        event = self.post_inbound(RECEIVED_S3)
        self.assert_received_message(event, RECEIVED_S3)
        self.mock_session_class.assert_called_once_with()
        self.mock_session.client.assert_called_once_with("s3", config=mock.ANY)
        # With boto3's managed download, as Anymail 6.1 did (not get_object)
        self.mock_client.download_fileobj.assert_called_once_with(
            Bucket="my-inbound-bucket", Key=f"inbound/{SES_MESSAGE_ID}", Fileobj=mock.ANY
        )
        self.mock_client.get_object.assert_not_called()

    def test_mocking_the_webhook_modules_boto3(self):
        # As code written for Anymail 6.1 may: the S3 client comes from the webhook module's
        # boto3, as boto3.session.Session(**AMAZON_SES_SESSION_PARAMS).client("s3", ...)
        with mock.patch("anymail.webhooks.amazon_ses.boto3") as mock_boto3:
            mock_client = mock_boto3.session.Session.return_value.client.return_value
            mock_client.download_fileobj.side_effect = lambda Bucket, Key, Fileobj: (
                Fileobj.write(RAW_MIME_BYTES) and None
            )
            event = self.post_inbound(RECEIVED_S3)
        self.assert_received_message(event, RECEIVED_S3)
        mock_boto3.session.Session.assert_called_once_with()
        mock_boto3.session.Session.return_value.client.assert_called_once_with(
            "s3", config=mock.ANY
        )
        mock_client.download_fileobj.assert_called_once_with(
            Bucket="my-inbound-bucket", Key=f"inbound/{SES_MESSAGE_ID}", Fileobj=mock.ANY
        )
        self.mock_session_class.assert_not_called()  # (the real boto3 wasn't used)

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_SESSION_PARAMS": {"profile_name": "inbound-reader"},
            "AMAZON_SES_CLIENT_PARAMS": {"region_name": "us-east-1", "config": {"read_timeout": 5}},
        }
    )
    def test_s3_uses_session_and_client_params(self):
        self.post_inbound(RECEIVED_S3)
        self.mock_session_class.assert_called_once_with(profile_name="inbound-reader")
        self.mock_session.client.assert_called_once_with(
            "s3", region_name="us-east-1", config=mock.ANY
        )
        config = self.mock_session.client.call_args.kwargs["config"]
        self.assertEqual(config.read_timeout, 5)
        self.assertEqual(config.user_agent_extra, f"django-anymail/{ANYMAIL_VERSION}-amazon-ses")

    def assert_503(self, record: dict[str, Any] = RECEIVED_S3) -> BaseException:
        """SNS retries a 5xx (never a 4xx): the message isn't lost."""
        with self.assertLogs("anymail.webhooks", "ERROR") as logs:
            response = self.post_sns(
                sns_notification(record, topic=INBOUND_TOPIC_ARN), url=INBOUND_PATH
            )
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.has_header("Retry-After"))
        self.inbound_handler.assert_not_called()
        [error] = [record.exc_info[1] for record in logs.records if record.exc_info]
        return error

    def test_s3_errors_that_may_pass_are_503(self):
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        for error in [
            s3_client_error("InternalError", "We encountered an internal error.", 500),
            s3_client_error("SlowDown", "Please reduce your request rate.", 503),
            s3_client_error("503", "Service Unavailable", 503, "HeadObject"),
            # with only s3:GetObject, a missing permission (or expired credentials) and a
            # missing object look alike: a permission can be fixed while SNS retries
            s3_client_error("403", "Forbidden", 403, "HeadObject"),
            EndpointConnectionError(endpoint_url="https://my-inbound-bucket.s3.amazonaws.com/"),
            ReadTimeoutError(endpoint_url="https://my-inbound-bucket.s3.amazonaws.com/"),
        ]:
            with self.subTest(error=error):
                self.mock_client.download_fileobj.side_effect = error
                raised = self.assert_503()
                self.assertIsInstance(raised, AnymailAPIError)
                self.assertIn(
                    "couldn't download the received message from S3 bucket "
                    f"'my-inbound-bucket', key 'inbound/{SES_MESSAGE_ID}'",
                    str(raised),
                )
                self.assertIs(raised.__cause__, error)

    def test_missing_s3_object_is_400(self):
        # (a retry can't bring it back; download_fileobj's HeadObject has no error body)
        self.mock_client.download_fileobj.side_effect = s3_client_error(
            "404", "Not Found", 404, "HeadObject"
        )
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(sns_notification(RECEIVED_S3), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        text = logs.records[0].getMessage()
        self.assertEqual(logs.records[0].levelname, "ERROR")
        self.assertIn(
            f"couldn't find the received message in S3 bucket 'my-inbound-bucket', key "
            f"'inbound/{SES_MESSAGE_ID}'",
            text,
        )
        self.assertIn("(404) when calling the HeadObject operation: Not Found", text)


def s3_client_error(code: str, message: str, status: int, operation: str = "GetObject"):
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def s3_record(bucket: str = "my-inbound-bucket", key: str = f"inbound/{SES_MESSAGE_ID}"):
    return received_notification({**S3_ACTION, "bucketName": bucket, "objectKey": key})


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundS3LimitsTests(AmazonSESInboundTestCase):
    """Which S3 objects the webhook may read, and how much of them."""

    def assert_refused_without_download(self, record: dict[str, Any], *text: str) -> None:
        with self.assertLogs("django.security.AnymailWebhookValidationFailure") as logs:
            response = self.post_sns(
                sns_notification(record, topic=INBOUND_TOPIC_ARN), url=INBOUND_PATH
            )
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        self.mock_session_class.assert_not_called()  # no S3 client, so no S3 call
        self.mock_client.download_fileobj.assert_not_called()
        for part in text:
            self.assertIn(part, logs.records[0].getMessage())

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_INBOUND_S3_BUCKETS": ["other-bucket", "my-inbound-bucket/inbound/"],
        }
    )
    def test_allowed_bucket_and_prefix(self):
        self.assert_received_message(self.post_inbound(RECEIVED_S3), RECEIVED_S3)
        self.inbound_handler.reset_mock()
        record = s3_record("other-bucket", "anything/at/all")
        self.post_inbound(record)
        self.mock_client.download_fileobj.assert_called_with(
            Bucket="other-bucket", Key="anything/at/all", Fileobj=mock.ANY
        )

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AMAZON_SES_INBOUND_S3_BUCKETS": ["my-inbound-bucket/inbound/"],
        }
    )
    def test_other_bucket_or_prefix_is_refused(self):
        for bucket, key in [
            ("someone-elses-bucket", f"inbound/{SES_MESSAGE_ID}"),
            ("my-inbound-bucket", "secrets/database-backup.sql"),
            ("my-inbound-bucket", "inboundx/message"),
            ("my-inbound-bucket", "Inbound/message"),
            ("my-inbound-bucket-2", f"inbound/{SES_MESSAGE_ID}"),
            ("my-inbound-bucket", "inbound/../secrets/database-backup.sql"),
            ("my-inbound-bucket", "inbound/./x/../../secrets"),
        ]:
            with self.subTest(bucket=bucket, key=key):
                self.assert_refused_without_download(s3_record(bucket, key), repr(key))

    def test_dot_segments_are_refused_even_without_allow_list(self):
        # (SES's keys never have them)
        for key in ("inbound/../x", "../x", "./x", "inbound/.", ".."):
            with self.subTest(key=key):
                self.assert_refused_without_download(s3_record(key=key), "'.' or '..'")

    def test_any_bucket_without_allow_list(self):
        record = s3_record("any-bucket", "any/key")
        self.post_inbound(record)
        self.mock_client.download_fileobj.assert_called_once_with(
            Bucket="any-bucket", Key="any/key", Fileobj=mock.ANY
        )

    def test_invalid_bucket_settings(self):
        for value in ([""], ["/prefix"], [42], [None]):
            with (
                self.subTest(value=value),
                override_settings(
                    ANYMAIL={
                        "WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "AMAZON_SES_INBOUND_S3_BUCKETS": value,
                    }
                ),
                self.assertRaisesMessage(
                    AnymailConfigurationError, "AMAZON_SES_INBOUND_S3_BUCKETS"
                ),
            ):
                AmazonSESInboundWebhookView()
        for value in (0, -1, "40MB", 1.5, True):
            with (
                self.subTest(value=value),
                override_settings(
                    ANYMAIL={
                        "WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "AMAZON_SES_INBOUND_S3_MAX_SIZE": value,
                    }
                ),
                self.assertRaisesMessage(
                    AnymailConfigurationError, "AMAZON_SES_INBOUND_S3_MAX_SIZE"
                ),
            ):
                AmazonSESInboundWebhookView()

    def fake_download(self, chunk: bytes, count: int) -> list[int]:
        """download_fileobj writing count chunks (as boto3 does, at each part's offset);
        returns the list of writes that got through."""
        written: list[int] = []

        def download_fileobj(Bucket, Key, Fileobj, **kwargs):
            for index in range(count):
                Fileobj.seek(index * len(chunk))
                Fileobj.write(chunk)
                written.append(index)

        self.mock_client.download_fileobj.side_effect = download_fileobj
        return written

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_INBOUND_S3_MAX_SIZE": 3 * MiB}
    )
    def test_download_stops_at_max_size(self):
        written = self.fake_download(b"x" * MiB, count=100)
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(sns_notification(RECEIVED_S3), url=INBOUND_PATH)
        # Refused for good (a retry won't make it smaller): 400, so SNS doesn't retry
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        self.assertEqual(written, [0, 1, 2])  # the 4th MiB was refused: the download stopped
        self.assertEqual(logs.records[0].levelname, "ERROR")
        self.assertIn(
            "refused the received message in S3 bucket 'my-inbound-bucket', key "
            f"'inbound/{SES_MESSAGE_ID}': it's over AMAZON_SES_INBOUND_S3_MAX_SIZE (3145728 bytes)",
            logs.records[0].getMessage(),
        )

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_INBOUND_S3_MAX_SIZE": 3 * MiB}
    )
    def test_message_up_to_max_size_is_received(self):
        # A message of exactly the limit, spooled to disk (over FILE_UPLOAD_MAX_MEMORY_SIZE)
        padding_size = 3 * MiB - len(RAW_MIME_BYTES)
        big_mime = RAW_MIME_BYTES.replace(
            b"YSxiCjEsMgo=\r\n", b"YSxiCjEsMgo=\r\n" + b"\r\n" * (padding_size // 2)
        )
        big_mime += b" " * (3 * MiB - len(big_mime))
        self.assertEqual(len(big_mime), 3 * MiB)

        def download_fileobj(Bucket, Key, Fileobj, **kwargs):
            for offset in range(0, len(big_mime), 256 * 1024):
                Fileobj.seek(offset)
                Fileobj.write(big_mime[offset : offset + 256 * 1024])

        self.mock_client.download_fileobj.side_effect = download_fileobj
        message = self.post_inbound(RECEIVED_S3).message
        self.assertEqual(message.subject, "Example subjëct")
        self.assertEqual(message.attachments[0].get_content_bytes(), b"a,b\n1,2\n")

    def test_default_max_size_is_ses_limit(self):
        self.assertEqual(AmazonSESInboundWebhookView().inbound_s3_max_size, 40 * MiB)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundMalformedTests(AmazonSESInboundTestCase):
    def assert_400(self, ses_record: Any) -> str:
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(sns_notification(ses_record), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        self.tracking_handler.assert_not_called()
        return logs.records[0].getMessage()

    def test_tracking_notifications_posted_to_inbound(self):
        for record in (NOTIFICATION_BOUNCE_WITH_DSN, EVENT_DELIVERY):
            with self.subTest(record=record.get("eventType") or record["notificationType"]):
                text = self.assert_400(record)
                self.assertIn("posted to Anymail's Amazon SES inbound webhook", text)
                self.assertIn("anymail/amazon_ses/tracking/", text)

    def test_other_receipt_actions_are_refused(self):
        record = received_notification(
            {
                "type": "Lambda",
                "topicArn": INBOUND_TOPIC_ARN,
                "functionArn": "arn:aws:lambda:us-east-1:012345678912:function:Example",
                "invocationType": "Event",
            }
        )
        self.assertIn(
            "handles the SNS and S3 receipt rule actions, not 'Lambda'", self.assert_400(record)
        )

    def test_bad_base64(self):
        record = received_notification(sns_action("BASE64"), "this is *not* base64!")
        self.assertIn("isn't base64", self.assert_400(record))

    def test_missing_content(self):
        self.assert_400(received_notification(sns_action("BASE64")))

    def test_wrong_notification_type(self):
        self.assert_400(dict(RECEIVED_UTF8, notificationType="Rejected"))
        self.assert_400({k: v for k, v in RECEIVED_UTF8.items() if k != "notificationType"})

    def test_wrong_field_types(self):
        for path_, value in [
            (("receipt",), "receipt"),
            (("receipt", "action"), ["SNS"]),
            (("receipt", "action", "type"), 5),
            (("receipt", "action", "encoding"), {"name": "BASE64"}),
            (("receipt", "recipients"), "recipient@example.com"),
            (("receipt", "spamVerdict"), "PASS"),
            (("mail",), None),
            (("mail", "source"), ["a@example.com"]),
            (("mail", "timestamp"), "11 Sep 2015"),
            (("content",), 42),
        ]:
            with self.subTest(path=path_, value=value):
                record = copy.deepcopy(RECEIVED_UTF8)
                target = record
                for key in path_[:-1]:
                    target = target[key]
                target[path_[-1]] = value
                self.assert_400(record)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundMotoTests(AmazonSESInboundTestCase):
    """The S3 action, end to end through boto3 against moto's S3."""

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
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            },
        )
        env.start()
        self.addCleanup(env.stop)
        aws = mock_aws()
        aws.start()
        self.addCleanup(aws.stop)
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket="my-inbound-bucket")
        self.s3.put_object(
            Bucket="my-inbound-bucket", Key=f"inbound/{SES_MESSAGE_ID}", Body=RAW_MIME_BYTES
        )

    def test_s3_action(self):
        event = self.post_inbound(RECEIVED_S3)
        self.assert_received_message(event, RECEIVED_S3)

    def test_missing_s3_object(self):
        record = copy.deepcopy(RECEIVED_S3)
        record["receipt"]["action"]["objectKey"] = "inbound/already-deleted"
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(sns_notification(record), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        text = logs.records[0].getMessage()
        self.assertIn("key 'inbound/already-deleted'", text)
        self.assertIn("(404) when calling the HeadObject operation: Not Found", text)
        self.inbound_handler.assert_not_called()

    def big_message(self, attachment_size: int) -> tuple[bytes, bytes]:
        attachment = bytes(range(256)) * (attachment_size // 256)
        mime = (
            b"From: sender@example.com\r\nTo: recipient@example.com\r\nSubject: Big\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n"
            b"--b\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=big.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(attachment).replace(b"\n", b"\r\n")
            + b"--b--\r\n"
        )
        return mime, attachment

    def test_large_message_downloaded_in_parts(self):
        # Over boto3's multipart threshold (8 MiB): parts come down in parallel, each written
        # at its own offset
        mime, attachment = self.big_message(9 * MiB)
        self.assertGreater(len(mime), 12 * MiB)
        self.s3.put_object(Bucket="my-inbound-bucket", Key=f"inbound/{SES_MESSAGE_ID}", Body=mime)
        message = self.post_inbound(RECEIVED_S3).message
        self.assertEqual(message.subject, "Big")
        self.assertEqual(message.attachments[0].get_content_bytes(), attachment)

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "AMAZON_SES_INBOUND_S3_MAX_SIZE": 10 * MiB}
    )
    def test_object_over_max_size_is_refused(self):
        mime, _ = self.big_message(9 * MiB)
        self.s3.put_object(Bucket="my-inbound-bucket", Key=f"inbound/{SES_MESSAGE_ID}", Body=mime)
        with self.assertLogs("anymail.webhooks", "WARNING") as logs:
            response = self.post_sns(sns_notification(RECEIVED_S3), url=INBOUND_PATH)
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()
        self.assertIn("over AMAZON_SES_INBOUND_S3_MAX_SIZE", logs.records[0].getMessage())


# ---------------------------------------------------------------------------------------------
# Property test: whatever SNS (or an attacker) posts, never a 5xx
# ---------------------------------------------------------------------------------------------

INBOUND_RECORDS = [RECEIVED_BASE64, RECEIVED_UTF8, RECEIVED_S3]


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class AmazonSESInboundPropertyTests(AmazonSESInboundTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_sns_body(INBOUND_RECORDS), message_type=sns_message_types)
    def test_valid_auth_is_200_or_400_never_5xx(self, body, message_type):
        self.inbound_handler.reset_mock()
        response = self.post_sns(body, url=INBOUND_PATH, message_type=message_type)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            for call in self.inbound_handler.call_args_list:
                event = call.kwargs["event"]
                self.assertIsInstance(event, AnymailInboundEvent)
                self.assertIsInstance(event.message, AnymailInboundMessage)
                self.assertIn(event.message.spam_detected, (True, False, None))
                if event.timestamp is not None:
                    self.assertIsNotNone(event.timestamp.tzinfo)
        else:
            self.inbound_handler.assert_not_called()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_sns_body(INBOUND_RECORDS), message_type=sns_message_types, auth=bad_auth)
    def test_bad_auth_is_always_rejected_before_parsing(self, body, message_type, auth):
        self.inbound_handler.reset_mock()
        self.mock_client.reset_mock()
        with mock.patch.object(
            AmazonSESInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_sns(body, url=INBOUND_PATH, auth=auth, message_type=message_type)
        self.assertEqual(response.status_code, 401 if auth is None else 400)
        parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()
        self.mock_client.download_fileobj.assert_not_called()
        self.mock_client.confirm_subscription.assert_not_called()
