"""anymail.testing: the helpers users import in their own tests.

Run on Django 5.2 (EMAIL_BACKEND) and Django 6.1 (where the MAILERS tests also run). Django's
test runner has replaced the backend with locmem here, as it does in users' projects.
"""

from __future__ import annotations

import base64
import json
import unittest
from typing import Any
from unittest import mock

from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.test import SimpleTestCase, override_settings
from django.urls import path

from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailRecipientsRefused,
)
from anymail.message import AnymailMessage
from anymail.signals import inbound, tracking
from anymail.testing import (
    TEST_BACKEND,
    assert_sent,
    last_sent_message,
    sent_messages,
    sent_params,
    simulate_esp_response,
    use_test_backend,
    webhook_post,
)

from .fakes import mock_receiver, quiet_webhook_logs

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
HAS_MAILERS = hasattr(mail, "mailers")

urlpatterns: list[Any] = [path("elsewhere/", lambda request: None)]  # (no anymail.urls)


def send_welcome(to: str = "ana@example.com", **kwargs: Any) -> AnymailMessage:
    message = AnymailMessage(subject="Welcome!", body="Hi", to=[to], **kwargs)
    message.send()
    return message


class UseTestBackendTests(SimpleTestCase):
    def test_runner_backend_is_locmem_without_it(self) -> None:
        # What use_test_backend is for: Django's locmem backend ignores Anymail's features
        send_welcome(tags=["welcome"])
        self.assertFalse(hasattr(mail.outbox[0], "anymail_test_params"))
        self.assertIsNone(mail.outbox[0].anymail_status.status)

    def test_context_manager(self) -> None:
        with use_test_backend():
            send_welcome(tags=["welcome"])
        self.assertEqual(mail.outbox[0].anymail_test_params["tags"], ["welcome"])
        self.assertEqual(mail.outbox[0].anymail_status.status, {"sent"})
        send_welcome()  # restored after the with block
        self.assertFalse(hasattr(mail.outbox[1], "anymail_test_params"))
        self.assertEqual(getattr(settings, "EMAIL_BACKEND", LOCMEM), LOCMEM)

    @use_test_backend()
    def test_function_decorator(self) -> None:
        send_mail("Hi", "Body", "from@example.com", ["ana@example.com"])
        self.assertEqual(sent_params()["subject"], "Hi")

    def test_nested_and_reused(self) -> None:
        swap = use_test_backend()
        with swap:
            with swap:
                send_welcome()
            send_welcome()
        send_welcome()
        self.assertEqual(
            [hasattr(message, "anymail_test_params") for message in mail.outbox],
            [True, True, False],
        )

    def test_send_defaults_apply(self) -> None:
        with (
            override_settings(ANYMAIL={"SEND_DEFAULTS": {"metadata": {"app": "shop"}}}),
            use_test_backend(),
        ):
            send_welcome()
        assert_sent(metadata={"app": "shop"})


@use_test_backend()
class ClassDecoratorTests(SimpleTestCase):
    def test_applies_to_each_test(self) -> None:
        send_welcome()
        self.assertEqual(sent_params()["to"][0].addr_spec, "ana@example.com")

    def test_applies_to_each_test_again(self) -> None:
        send_welcome(tags=["second"])
        assert_sent(tags=["second"], count=1)


@unittest.skipUnless(HAS_MAILERS, "Django < 6.1 has no MAILERS")
class UseTestBackendMailersTests(SimpleTestCase):
    MAILERS = {
        "default": {
            "BACKEND": "anymail.backends.mailgun.EmailBackend",
            "OPTIONS": {
                "api_key": "not-used-in-tests",
                "send_defaults": {"tags": ["app"]},
                "ignore_recipient_status": True,
            },
        },
        "bulk": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "smtp.example.com"},
        },
    }

    def test_every_alias_gets_the_test_backend(self) -> None:
        with override_settings(MAILERS=self.MAILERS):
            with use_test_backend():
                self.assertEqual(
                    settings.MAILERS,
                    {
                        "default": {
                            "BACKEND": TEST_BACKEND,
                            # Shared Anymail options kept; Mailgun's api_key dropped
                            "OPTIONS": {
                                "send_defaults": {"tags": ["app"]},
                                "ignore_recipient_status": True,
                            },
                        },
                        "bulk": {"BACKEND": TEST_BACKEND},  # smtp's host dropped
                    },
                )
                send_mail("Hi", "Body", "from@example.com", ["ana@example.com"])
                assert_sent(tags=["app"])
                send_mail("Bulk", "Body", "from@example.com", ["ben@example.com"], using="bulk")
                assert_sent(subject="Bulk", to=["ben@example.com"], tags=None)
                with simulate_esp_response("rejected"):
                    mail.mailers["default"].send_messages([EmailMessage(to=["cy@example.com"])])
                self.assertEqual(last_sent_message().anymail_status.status, {"rejected"})
                self.assertEqual(len(mail.outbox), 3)
            self.assertEqual(settings.MAILERS, self.MAILERS)  # restored

    def test_options_from_before_the_test_runner(self) -> None:
        # Django's runner made every mailer locmem, dropping OPTIONS; the originals are kept
        from django.test.utils import _TestState

        with (
            override_settings(MAILERS={"default": {"BACKEND": LOCMEM}}),
            mock.patch.object(_TestState.saved_data, "mailers", self.MAILERS, create=True),
            use_test_backend(),
        ):
            send_mail("Hi", "Body", "from@example.com", ["ana@example.com"])
        assert_sent(tags=["app"])

    def test_settings_read_at_each_use(self) -> None:
        swap = use_test_backend()  # created before the settings change, as a decorator is
        with override_settings(MAILERS={"transactional": {"BACKEND": LOCMEM}}), swap:
            self.assertEqual(settings.MAILERS, {"transactional": {"BACKEND": TEST_BACKEND}})
            send_mail("Hi", "Body", "from@example.com", ["ana@example.com"], using="transactional")
        assert_sent(subject="Hi")

    def test_email_backend_override_has_no_effect_with_mailers(self) -> None:
        # Why the old recipe (override_settings(EMAIL_BACKEND=...)) fails under MAILERS
        with (
            override_settings(MAILERS={"default": {"BACKEND": LOCMEM}}),
            override_settings(EMAIL_BACKEND=TEST_BACKEND),
        ):
            send_welcome()
        self.assertFalse(hasattr(last_sent_message(), "anymail_test_params"))


class AssertionHelperTests(SimpleTestCase):
    def test_sent_messages_and_last(self) -> None:
        self.assertEqual(sent_messages(), [])
        with self.assertRaisesMessage(AssertionError, "No message was sent"):
            last_sent_message()
        with use_test_backend():
            first, second = send_welcome(), send_welcome("ben@example.com")
        self.assertEqual(sent_messages(), [first, second])
        self.assertIs(last_sent_message(), second)
        self.assertEqual(sent_params(first)["to"][0].addr_spec, "ana@example.com")

    @use_test_backend()
    def test_assert_sent_passes(self) -> None:
        message = AnymailMessage(
            subject="Order",
            from_email="Shop <shop@example.com>",
            to=["Ana <ana@example.com>", "ben@example.com"],
            tags=["order"],
            metadata={"order": 12},
            template_id="order-tpl",
            merge_data={"ana@example.com": {"name": "Ana"}},
        )
        message.send()
        self.assertIs(
            assert_sent(
                count=1,
                from_email="shop@example.com",  # any display name
                to=["Ana <ana@example.com>", "BEN@example.com"],
                subject="Order",
                tags=["order"],
                metadata={"order": 12},
                template_id="order-tpl",
                merge_data={"ana@example.com": {"name": "Ana"}},
                track_clicks=None,  # not set
            ),
            message,
        )
        assert_sent(message, from_email="Shop <shop@example.com>")

    @use_test_backend()
    def test_failure_lists_every_difference(self) -> None:
        send_welcome(tags=["welcome"], metadata={"app": "shop", "user": 7}, track_opens=True)
        with self.assertRaises(AssertionError) as raised:
            assert_sent(
                tags=["welcome", "vip"],
                metadata={"app": "shop", "user": 8, "plan": "pro"},
                to=["Ana <ana@example.com>"],
                template_id="welcome",
                track_opens=None,
                subject="Welcome!",  # (matches: not listed)
            )
        self.assertEqual(
            str(raised.exception),
            "The last message sent (message 1 of 1, subject 'Welcome!', to "
            "['ana@example.com']) doesn't match:\n"
            "  tags: expected ['welcome', 'vip'], sent ['welcome']\n"
            "  metadata: expected {'app': 'shop', 'user': 8, 'plan': 'pro'}, sent "
            "{'app': 'shop', 'user': 7} (missing plan; differ user)\n"
            "  to: expected ['Ana <ana@example.com>'], sent ['ana@example.com']\n"
            "  template_id: expected 'welcome', not set\n"
            "  track_opens: expected not set, sent True",
        )

    @use_test_backend()
    def test_count_failure_lists_the_messages(self) -> None:
        send_welcome()
        send_welcome("ben@example.com")
        with self.assertRaises(AssertionError) as raised:
            assert_sent(count=1)
        self.assertEqual(
            str(raised.exception),
            "Expected 1 message sent, but 2 were sent\n"
            "  message 1 of 2, subject 'Welcome!', to ['ana@example.com']\n"
            "  message 2 of 2, subject 'Welcome!', to ['ben@example.com']",
        )
        with self.assertRaisesMessage(AssertionError, "Expected 0 messages sent, but 2 were"):
            assert_sent(count=0)

    def test_message_not_sent_through_the_test_backend(self) -> None:
        send_welcome()  # through the runner's locmem backend
        with self.assertRaisesMessage(
            AssertionError,
            "message 1 of 1, subject 'Welcome!', to ['ana@example.com'] wasn't sent through "
            "Anymail's test backend (it has no anymail_test_params): wrap the test in "
            "anymail.testing.use_test_backend",
        ):
            assert_sent(tags=["welcome"])

    def test_nothing_sent(self) -> None:
        with self.assertRaisesMessage(AssertionError, "No message was sent"):
            assert_sent(tags=["welcome"])
        self.assertIsNone(assert_sent(count=0))


@use_test_backend()
class SimulateESPResponseTests(SimpleTestCase):
    def test_api_error_from_text(self) -> None:
        with (
            simulate_esp_response(error="ESP unavailable"),
            self.assertRaisesMessage(AnymailAPIError, "ESP unavailable"),
        ):
            send_welcome()
        self.assertEqual(len(mail.outbox), 1)  # (the test backend records it first)
        send_welcome()  # sent normally afterwards
        self.assertEqual(last_sent_message().anymail_status.status, {"sent"})

    def test_api_error_instance(self) -> None:
        class RateLimited(AnymailAPIError):
            pass

        with simulate_esp_response(error=RateLimited("slow down", status_code=429)):
            for _ in range(2):
                with self.assertRaises(RateLimited) as raised:
                    send_welcome()
                self.assertEqual(raised.exception.status_code, 429)

    def test_one_status_for_everyone(self) -> None:
        with simulate_esp_response("queued"):
            message = send_welcome()
        self.assertEqual(message.anymail_status.status, {"queued"})

    def test_per_recipient_statuses(self) -> None:
        message = AnymailMessage(
            to=["Ana <ana@example.com>", "ben@example.com"], cc=["cy@example.com"]
        )
        with simulate_esp_response(recipients={"BEN@example.com": "rejected"}):
            message.send()  # not all refused: no error
        recipients = message.anymail_status.recipients
        self.assertEqual(
            {email: status.status for email, status in recipients.items()},
            {"ana@example.com": "sent", "ben@example.com": "rejected", "cy@example.com": "sent"},
        )

    def test_all_rejected_raises(self) -> None:
        with simulate_esp_response("rejected"), self.assertRaises(AnymailRecipientsRefused):
            send_welcome()

    def test_times(self) -> None:
        with simulate_esp_response(error="outage", times=1):
            with self.assertRaises(AnymailAPIError):
                send_welcome()
            message = send_welcome()  # the retry works
        self.assertEqual(message.anymail_status.status, {"sent"})

    def test_message_own_response_wins(self) -> None:
        message = AnymailMessage(to=["ana@example.com"])
        message.anymail_test_response = {"recipient_status": {"ana@example.com": "invalid"}}
        with simulate_esp_response(error="ignored"), self.assertRaises(AnymailRecipientsRefused):
            message.send()
        self.assertEqual(message.anymail_status.status, {"invalid"})

    def test_nested_inner_wins_then_outer_again(self) -> None:
        message = AnymailMessage(to=["ana@example.com"])
        with simulate_esp_response("queued"):
            with simulate_esp_response("failed"):
                message.send()
                self.assertEqual(message.anymail_status.status, {"failed"})
            message.send()  # resent: the outer answer now, not the stale inner one
            self.assertEqual(message.anymail_status.status, {"queued"})
        message.send()
        self.assertEqual(message.anymail_status.status, {"sent"})
        self.assertFalse(hasattr(message, "anymail_test_response"))

    @simulate_esp_response(error="down")
    def test_decorator(self) -> None:
        with self.assertRaises(AnymailAPIError):
            send_welcome()


WEBHOOK_SECRET = "hook-user:hook-pass"
WEBHOOK_SETTINGS = {
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "MAILGUN_WEBHOOK_SIGNING_KEY": "mailgun-signing-key",
    "MANDRILL_WEBHOOK_KEY": "mandrill-webhook-key",
    "AMAZON_SES_VERIFY_SNS_SIGNATURES": False,
}
RAW_MIME = (
    "From: Ana <ana@example.com>\r\nTo: support@example.com\r\nSubject: Help\r\n"
    "Message-ID: <help-1@example.com>\r\n\r\nIt broke.\r\n"
)


@override_settings(ROOT_URLCONF="tests.urls", ANYMAIL=WEBHOOK_SETTINGS)
class WebhookPostTests(SimpleTestCase):
    """A round trip per ESP: webhook_post -> anymail.urls -> the view -> a receiver."""

    def setUp(self) -> None:
        super().setUp()
        quiet_webhook_logs(self)
        self.tracking_handler = mock_receiver("tracking_handler")
        self.inbound_handler = mock_receiver("inbound_handler")
        tracking.connect(self.tracking_handler)
        inbound.connect(self.inbound_handler)
        self.addCleanup(tracking.disconnect, self.tracking_handler)
        self.addCleanup(inbound.disconnect, self.inbound_handler)

    def tracked(self, response: Any) -> Any:
        self.assertEqual(response.status_code, 200, response.content)
        self.inbound_handler.assert_not_called()
        self.assertEqual(self.tracking_handler.call_count, 1)
        event = self.tracking_handler.call_args.kwargs["event"]
        self.tracking_handler.reset_mock()
        return event

    def received(self, response: Any) -> Any:
        self.assertEqual(response.status_code, 200, response.content)
        self.tracking_handler.assert_not_called()
        self.assertEqual(self.inbound_handler.call_count, 1)
        event = self.inbound_handler.call_args.kwargs["event"]
        self.inbound_handler.reset_mock()
        return event

    def test_amazon_ses(self) -> None:
        bounce = {
            "notificationType": "Bounce",
            "mail": {"messageId": "ses-1", "destination": ["ana@example.com"]},
            "bounce": {
                "bounceType": "Permanent",
                "bouncedRecipients": [{"emailAddress": "ana@example.com"}],
                "timestamp": "2024-01-02T03:04:05.000Z",
            },
        }
        event = self.tracked(webhook_post(self.client, "amazon_ses", "tracking", bounce))
        self.assertEqual((event.event_type, event.recipient), ("bounced", "ana@example.com"))
        received = {
            "notificationType": "Received",
            "mail": {"messageId": "ses-2", "source": "ana@example.com"},
            "receipt": {
                "action": {"type": "SNS", "encoding": "UTF8"},
                "recipients": ["support@example.com"],
            },
            "content": RAW_MIME,
        }
        event = self.received(webhook_post(self.client, "amazon_ses", "inbound", received))
        self.assertEqual(event.message.subject, "Help")

    def test_amazon_ses_needs_unverified_sns(self) -> None:
        with (
            override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}),
            self.assertRaisesMessage(AnymailConfigurationError, "VERIFY_SNS_SIGNATURES"),
        ):
            webhook_post(self.client, "amazon_ses", "tracking", {})

    def test_mailgun_json_and_form(self) -> None:
        event_data = {
            "event": "delivered",
            "recipient": "ana@example.com",
            "timestamp": 1704164645.0,
            "message": {"headers": {"message-id": "mg-1@example.com"}},
        }
        for payload in (event_data, {"event-data": event_data}):
            for _ in range(2):  # a fresh token each time: no replay refusal
                event = self.tracked(webhook_post(self.client, "mailgun", "tracking", payload))
                self.assertEqual(event.event_type, "delivered")
                self.assertEqual(event.message_id, "<mg-1@example.com>")
        legacy = {"event": "delivered", "recipient": "ana@example.com", "Message-Id": "<m@x>"}
        event = self.tracked(webhook_post(self.client, "mailgun", "tracking", legacy, form=True))
        self.assertEqual(event.event_type, "delivered")
        fields = {
            "recipient": "support@example.com",
            "sender": "ana@example.com",
            "from": "Ana <ana@example.com>",
            "subject": "Help",
            "body-plain": "It broke.",
        }
        event = self.received(webhook_post(self.client, "mailgun", "inbound", fields))
        self.assertEqual(event.message.subject, "Help")

    def test_mailgun_wrong_key_is_refused(self) -> None:
        response = webhook_post(
            self.client, "mailgun", "tracking", {"event": "delivered"}, signing_key="wrong"
        )
        self.assertEqual(response.status_code, 400)
        self.tracking_handler.assert_not_called()

    def test_mailgun_needs_a_key(self) -> None:
        with (
            override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}),
            self.assertRaisesMessage(AnymailConfigurationError, "MAILGUN_WEBHOOK_SIGNING_KEY"),
        ):
            webhook_post(self.client, "mailgun", "tracking", {})

    def test_mailjet(self) -> None:
        sent = {"event": "sent", "time": 1704164645, "MessageID": 123, "email": "a@example.com"}
        event = self.tracked(webhook_post(self.client, "mailjet", "tracking", sent))
        self.assertEqual(event.event_type, "delivered")  # (Mailjet's "sent" means delivered)
        parsed = {
            "Sender": "ana@example.com",
            "Recipient": "support@example.com",
            "From": "Ana <ana@example.com>",
            "Subject": "Help",
            "Headers": {"Subject": "Help", "From": "Ana <ana@example.com>"},
            "Text-part": "It broke.",
        }
        event = self.received(webhook_post(self.client, "mailjet", "inbound", parsed))
        self.assertEqual(event.message.subject, "Help")

    def test_mandrill(self) -> None:
        send = {"event": "send", "_id": "m-1", "ts": 1704164645, "msg": {"email": "a@example.com"}}
        for _ in range(2):  # the same call twice: both delivered (a new call each time)
            event = self.tracked(webhook_post(self.client, "mandrill", "tracking", [send]))
            self.assertEqual(event.event_type, "sent")
        inbound_event = {"event": "inbound", "ts": 1704164645, "msg": {"raw_msg": RAW_MIME}}
        event = self.received(webhook_post(self.client, "mandrill", "inbound", [inbound_event]))
        self.assertEqual(event.message.subject, "Help")

    def test_mandrill_signs_the_configured_url(self) -> None:
        send = {"event": "send", "_id": "m-1", "ts": 1704164645, "msg": {"email": "a@example.com"}}
        public = {
            **WEBHOOK_SETTINGS,
            "MANDRILL_WEBHOOK_URL": "https://example.com/anymail/mandrill/",
        }
        with override_settings(ANYMAIL=public):
            event = self.tracked(webhook_post(self.client, "mandrill", "tracking", [send]))
        self.assertEqual(event.event_type, "sent")
        response = webhook_post(self.client, "mandrill", "tracking", [send], signing_key="wrong")
        self.assertEqual(response.status_code, 400)

    def test_postmark(self) -> None:
        bounce = {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "Email": "ana@example.com",
            "MessageID": "pm-1",
            "BouncedAt": "2024-01-02T03:04:05Z",
        }
        event = self.tracked(webhook_post(self.client, "postmark", "tracking", bounce))
        self.assertEqual(event.event_type, "bounced")
        message = {
            "FromFull": {"Email": "ana@example.com", "Name": "Ana"},
            "ToFull": [{"Email": "support@example.com", "Name": ""}],
            "Subject": "Help",
            "MessageID": "pm-2",
            "TextBody": "It broke.",
            "Headers": [],
        }
        event = self.received(webhook_post(self.client, "postmark", "inbound", message))
        self.assertEqual(event.message.subject, "Help")

    def test_sendgrid(self) -> None:
        delivered = [{"event": "delivered", "email": "a@example.com", "timestamp": 1704164645}]
        event = self.tracked(webhook_post(self.client, "sendgrid", "tracking", delivered))
        self.assertEqual(event.event_type, "delivered")
        fields = {"email": RAW_MIME, "to": "support@example.com", "from": "ana@example.com"}
        event = self.received(webhook_post(self.client, "sendgrid", "inbound", fields))
        self.assertEqual(event.message.subject, "Help")

    def test_sendinblue(self) -> None:
        delivered = {"event": "delivered", "email": "a@example.com", "message-id": "<b-1@x>"}
        event = self.tracked(webhook_post(self.client, "sendinblue", "tracking", delivered))
        self.assertEqual(event.event_type, "delivered")

    def test_sparkpost(self) -> None:
        delivery = {
            "type": "delivery",
            "rcpt_to": "a@example.com",
            "timestamp": "1704164645",
            "event_id": "sp-1",
        }
        batch = [{"msys": {"message_event": delivery}}]
        event = self.tracked(webhook_post(self.client, "sparkpost", "tracking", batch))
        self.assertEqual(event.event_type, "delivered")
        relay = {
            "content": {"email_rfc822": RAW_MIME, "email_rfc822_is_base64": False},
            "msg_from": "ana@example.com",
            "rcpt_to": "support@example.com",
        }
        batch = [{"msys": {"relay_message": relay}}]
        event = self.received(webhook_post(self.client, "sparkpost", "inbound", batch))
        self.assertEqual(event.message.subject, "Help")

    def test_basic_auth(self) -> None:
        delivered = [{"event": "delivered", "email": "a@example.com", "timestamp": 1704164645}]
        for credentials, status in ((None, 400), ("hook-user:wrong", 400)):
            response = webhook_post(
                self.client, "sendgrid", "tracking", delivered, basic_auth=credentials
            )
            self.assertEqual(response.status_code, status)
        self.tracking_handler.assert_not_called()
        rotated = {**WEBHOOK_SETTINGS, "WEBHOOK_SECRET": ["new-user:new-pass", WEBHOOK_SECRET]}
        with override_settings(ANYMAIL=rotated):
            self.tracked(webhook_post(self.client, "sendgrid", "tracking", delivered))
        response = webhook_post(
            self.client, "sendgrid", "tracking", delivered, basic_auth="new-user:new-pass"
        )
        self.assertEqual(response.status_code, 400)  # (not in WEBHOOK_SETTINGS)

    def test_sends_the_header_the_view_reads(self) -> None:
        with mock.patch.object(self.client, "post", wraps=self.client.post) as post:
            webhook_post(self.client, "postmark", "tracking", {"RecordType": "Open"})
        token = base64.b64encode(WEBHOOK_SECRET.encode()).decode()
        self.assertEqual(post.call_args.kwargs["HTTP_AUTHORIZATION"], f"Basic {token}")
        self.assertEqual(post.call_args.args[0], "/anymail/postmark/tracking/")
        self.assertEqual(json.loads(post.call_args.args[1]), {"RecordType": "Open"})

    def test_bad_arguments(self) -> None:
        with self.assertRaisesMessage(ValueError, "Unknown ESP 'mailchimp'"):
            webhook_post(self.client, "mailchimp", "tracking", {})
        with self.assertRaisesMessage(
            ValueError, "sendinblue webhooks are tracking, not 'inbound'"
        ):
            webhook_post(self.client, "sendinblue", "inbound", {})
        with (
            override_settings(ROOT_URLCONF="tests.test_testing"),
            self.assertRaisesMessage(AnymailConfigurationError, "include anymail.urls"),
        ):
            webhook_post(self.client, "postmark", "tracking", {})
