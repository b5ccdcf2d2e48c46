"""The webhook base's policies: body size caps, auth before the body, retry statuses,
event ids, de-duplication and failing closed. Through the sample ESP of test_base_webhooks."""

from __future__ import annotations

import email.policy
import json
import time
from typing import Any
from unittest import mock

from django.core.cache import cache
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, RequestFactory, override_settings
from django.urls import path
from hypothesis import given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.base import AnymailBaseWebhookView
from anymail.webhooks.dedup import already_delivered, first_delivery, remember_delivered
from anymail.webhooks.limits import INBOUND_MAX_BODY_SIZE, TRACKING_MAX_BODY_SIZE
from anymail.webhooks.replay import remember_once

from .fakes import ReadCountingInput, basic_auth_header
from .test_base_webhooks import (
    INBOUND_PATH,
    RAW_INBOUND_MESSAGE,
    SIGNATURE_META_KEY,
    TRACKING_PATH,
    WEBHOOK_SECRET,
    SampleESPWebhookTestCase,
    SampleInboundWebhookView,
    SampleTrackingWebhookView,
    encode_json,
    sample_esp_signature,
    sample_events,
    sample_inbound_payload,
)
from .test_base_webhooks import urlpatterns as sample_urlpatterns


class SampleFormInboundWebhookView(AnymailBaseWebhookView):
    """Inbound as SendGrid and Mailgun post it: a multipart form with the raw message."""

    esp_name = "SampleESP"
    signal = inbound

    def parse_events(self, request):
        message = email.message_from_string(request.POST["email"], policy=email.policy.default)
        return [AnymailInboundEvent(esp_event=request, message=message)]


FORM_INBOUND_PATH = "/sampleesp/inbound-form/"
urlpatterns = [
    *sample_urlpatterns,
    path("sampleesp/inbound-form/", SampleFormInboundWebhookView.as_view()),
]

MiB = 1024 * 1024


def big_message(size: int) -> str:
    """A raw message of about size bytes (a long plain-text body)."""
    line = "The quick brown fox jumps over the lazy dog. " * 2 + "\n"
    return RAW_INBOUND_MESSAGE + line * (size // len(line))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}, ROOT_URLCONF=__name__)
class WebhookTestCase(SampleESPWebhookTestCase):
    def setUp(self):
        super().setUp()
        urlconf = override_settings(ROOT_URLCONF=__name__)
        urlconf.enable()
        self.addCleanup(urlconf.disable)
        self.client = Client(raise_request_exception=False)

    def post_counting_reads(self, url: str, body: bytes, **extra: Any) -> tuple[int, int]:
        """Post body straight to the view through a wsgi.input that counts what it reads.

        Returns (status code, body bytes read).
        """
        environ = (
            RequestFactory()
            .generic("POST", url, data=body, content_type="application/json", **extra)
            .environ
        )
        wsgi_input = ReadCountingInput(body)
        environ["wsgi.input"] = wsgi_input
        view_class = SampleInboundWebhookView if url == INBOUND_PATH else SampleTrackingWebhookView
        try:
            status = view_class.as_view()(WSGIRequest(environ)).status_code
        except AnymailWebhookValidationFailure:
            status = 400  # (Django answers a SuspiciousOperation with a 400)
        return status, wsgi_input.bytes_read


class BodySizeTests(WebhookTestCase):
    def test_inbound_message_over_djangos_upload_limit_is_accepted(self):
        # Django's DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MiB; inbound mail is often bigger
        payload = dict(sample_inbound_payload(), raw_message=big_message(6 * MiB))
        response = self.post_webhook(payload, url=INBOUND_PATH, signature=None)
        self.assertEqual(response.status_code, 200)
        (call,) = self.inbound_handler.call_args_list
        self.assertGreater(len(call.kwargs["event"].message.get_content()), 6 * MiB - 1000)

    def test_multipart_form_field_over_djangos_upload_limit_is_accepted(self):
        raw = big_message(4 * MiB)
        response = self.client.post(
            FORM_INBOUND_PATH,
            {"email": raw, "to": "support@example.com"},
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assertEqual(response.status_code, 200)
        (call,) = self.inbound_handler.call_args_list
        message = call.kwargs["event"].message
        self.assertEqual(message["Subject"], "Order A-1001 question")
        self.assertGreater(len(message.get_content()), 4 * MiB - 1000)

    def test_tracking_batch_over_djangos_upload_limit_is_accepted(self):
        events = [dict(sample_events()[0], event_id=f"evt-{n}") for n in range(15000)]
        body = encode_json(events)
        self.assertGreater(len(body), 3 * MiB)
        self.assertEqual(self.post_webhook(body).status_code, 200)
        self.assertEqual(self.tracking_handler.call_count, 15000)

    def test_declared_size_over_the_limit_is_413_before_reading(self):
        body = encode_json(sample_events())
        with (
            override_settings(
                ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "TRACKING_MAX_BODY_SIZE": len(body) - 1}
            ),
            self.assertLogs("anymail.webhooks", level="WARNING") as logs,
        ):
            status, bytes_read = self.post_counting_reads(
                TRACKING_PATH, body, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
            )
        self.assertEqual(status, 413)
        self.assertEqual(bytes_read, 0)
        self.tracking_handler.assert_not_called()
        self.assertIn("limit", logs.output[0])

    def test_inbound_limit_is_separate_and_configurable(self):
        payload = dict(sample_inbound_payload(), raw_message=big_message(MiB))
        with override_settings(
            ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "INBOUND_MAX_BODY_SIZE": MiB // 2}
        ):
            response = self.post_webhook(payload, url=INBOUND_PATH, signature=None)
            self.assertEqual(response.status_code, 413)
            # the tracking view keeps its own limit
            self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.inbound_handler.assert_not_called()

    def test_defaults(self):
        self.assertGreaterEqual(INBOUND_MAX_BODY_SIZE, 40 * 1000 * 1000)  # SES's largest
        self.assertGreaterEqual(TRACKING_MAX_BODY_SIZE, 5 * MiB)

    def test_invalid_content_length_is_400(self):
        response = self.client.generic(
            "POST",
            TRACKING_PATH,
            data=b"[]",
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            CONTENT_LENGTH="lots",
        )
        self.assertEqual(response.status_code, 400)

    def test_malformed_multipart_is_400(self):
        response = self.client.generic(
            "POST",
            FORM_INBOUND_PATH,
            data=b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--xyz--",
            content_type="multipart/form-data; boundary=xyz",
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
        )
        self.assertEqual(response.status_code, 400)
        self.inbound_handler.assert_not_called()


class AuthBeforeBodyTests(WebhookTestCase):
    def test_bad_basic_auth_reads_no_body_byte(self):
        body = encode_json(sample_events())
        for authorization in [None, basic_auth_header("username:wrong"), "Bearer x"]:
            with self.subTest(authorization=authorization):
                extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
                status, bytes_read = self.post_counting_reads(TRACKING_PATH, body, **extra)
                self.assertEqual(status, 400)
                self.assertEqual(bytes_read, 0)
        self.tracking_handler.assert_not_called()

    def test_good_basic_auth_reads_the_body(self):
        body = encode_json(sample_events())
        status, bytes_read = self.post_counting_reads(
            TRACKING_PATH,
            body,
            HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            **{SIGNATURE_META_KEY: sample_esp_signature(body)},
        )
        self.assertEqual(status, 200)
        self.assertEqual(bytes_read, len(body))


class RetryStatusTests(WebhookTestCase):
    """4xx only for what can never succeed: SNS, SendGrid Inbound Parse and Brevo drop on 4xx."""

    def post_with_parser_error(self, error: BaseException):
        with mock.patch.object(SampleTrackingWebhookView, "parse_events", side_effect=error):
            return self.post_webhook(sample_events())

    def test_transient_failures_while_parsing_are_503(self):
        for error in [
            OSError("S3 unreachable"),
            ConnectionError("database is down"),
            MemoryError(),
            RuntimeError("dependency failed"),
        ]:
            with self.subTest(error=repr(error)):
                with self.assertLogs("anymail.webhooks", level="ERROR"):
                    response = self.post_with_parser_error(error)
                self.assertEqual(response.status_code, 503)
                self.assertEqual(response["Retry-After"], "60")
        self.tracking_handler.assert_not_called()

    def test_payloads_that_can_never_parse_are_400(self):
        for error in [
            ValueError("bad JSON"),
            KeyError("event"),
            TypeError("not a list"),
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            RecursionError("too deep"),
        ]:
            with self.subTest(error=repr(error)):
                self.assertEqual(self.post_with_parser_error(error).status_code, 400)


@override_settings(
    ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "DEDUPLICATE_WEBHOOK_EVENTS": True},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)
class DeduplicationTests(WebhookTestCase):
    def setUp(self):
        super().setUp()
        cache.clear()
        self.addCleanup(cache.clear)

    def received_ids(self):
        return [event.event_id for event in self.received_events()]

    def test_a_retried_batch_reaches_receivers_once(self):
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(self.received_ids(), ["evt-0001", "evt-0002", "evt-0003"])

    def test_an_event_whose_receiver_failed_is_delivered_again(self):
        failures = {"evt-0002"}

        def flaky(sender, event, esp_name, **kwargs):
            if event.event_id in failures:
                failures.discard(event.event_id)
                raise RuntimeError("temporary")

        self.tracking_handler.side_effect = flaky
        with self.assertLogs("anymail.webhooks", level="ERROR"):
            self.assertEqual(self.post_webhook(sample_events()).status_code, 503)
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)  # the ESP's retry
        self.assertEqual(self.received_ids(), ["evt-0001", "evt-0002", "evt-0003", "evt-0002"])

    def test_events_without_esp_ids_use_their_digest(self):
        events = sample_events()
        for event in events:
            del event["event_id"]
        self.post_webhook(events)
        self.post_webhook(events)
        self.assertEqual(len(self.received_ids()), 3)
        self.assertEqual(len(set(self.received_ids())), 3)

    def test_off_by_default(self):
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET}):
            self.post_webhook(sample_events())
            self.post_webhook(sample_events())
        self.assertEqual(len(self.received_ids()), 6)

    def test_receiver_side_helper(self):
        event = AnymailInboundEvent(event_id="inb-1")
        self.assertFalse(already_delivered(event))
        self.assertTrue(first_delivery(event))
        self.assertFalse(first_delivery(event))
        self.assertTrue(already_delivered(event))
        other = AnymailInboundEvent(event_id="inb-2")
        remember_delivered(other)
        self.assertFalse(first_delivery(other))
        no_id = AnymailInboundEvent()
        self.assertTrue(first_delivery(no_id))
        self.assertTrue(first_delivery(no_id))  # can't tell: always a first delivery

    def test_remember_once_expires(self):
        with mock.patch("time.time", return_value=time.time()) as clock:
            self.assertTrue(remember_once("test", "token-1", timeout=60))
            self.assertFalse(remember_once("test", "token-1", timeout=60))
            self.assertTrue(remember_once("other-namespace", "token-1", timeout=60))
            clock.return_value += 61
            self.assertTrue(remember_once("test", "token-1", timeout=60))


class StableEventIdTests(WebhookTestCase):
    def test_same_event_same_id_different_event_different_id(self):
        events = sample_events()
        for event in events:
            del event["event_id"]
        self.post_webhook(events)
        self.post_webhook(events)
        ids = [event.event_id for event in self.received_events()]
        self.assertEqual(ids[:3], ids[3:])
        self.assertEqual(len(set(ids[:3])), 3)
        for event_id in ids:
            self.assertRegex(event_id, r"^anymail-[0-9a-f]{40}$")

    def test_esp_ids_are_kept(self):
        self.post_webhook(sample_events())
        self.assertEqual(
            [e.event_id for e in self.received_events()], ["evt-0001", "evt-0002", "evt-0003"]
        )

    def test_inbound_without_id_gets_a_digest_of_the_message(self):
        payload = sample_inbound_payload()
        del payload["id"]
        self.post_webhook(payload, url=INBOUND_PATH, signature=None)
        self.post_webhook(payload, url=INBOUND_PATH, signature=None)
        payload["raw_message"] += "\nP.S. another line"
        self.post_webhook(payload, url=INBOUND_PATH, signature=None)
        ids = [c.kwargs["event"].event_id for c in self.inbound_handler.call_args_list]
        self.assertEqual(ids[0], ids[1])
        self.assertNotEqual(ids[0], ids[2])


class FailClosedTests(WebhookTestCase):
    @override_settings(ANYMAIL={"WEBHOOK_REQUIRE_AUTHENTICATION": True})
    def test_no_secret_fails_closed_with_503(self):
        with self.assertLogs("anymail.webhooks", level="ERROR") as logs:
            response = self.post_webhook(sample_events(), auth=None)
        self.assertEqual(response.status_code, 503)  # so the ESP keeps the events
        self.tracking_handler.assert_not_called()
        self.assertIn("WEBHOOK_REQUIRE_AUTHENTICATION", logs.output[0])

    @override_settings(
        ANYMAIL={"WEBHOOK_REQUIRE_AUTHENTICATION": True, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    )
    def test_with_a_secret_works_normally(self):
        self.assertEqual(self.post_webhook(sample_events()).status_code, 200)
        self.assertEqual(self.post_webhook(sample_events(), auth="u:wrong").status_code, 400)

    @override_settings(ANYMAIL={"WEBHOOK_REQUIRE_AUTHENTICATION": True})
    def test_views_with_their_own_signature_count_as_authenticated(self):
        with mock.patch.object(SampleTrackingWebhookView, "signature_configured", True):
            self.assertEqual(self.post_webhook(sample_events(), auth=None).status_code, 200)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class LargeBatchPropertyTests(WebhookTestCase):
    @settings(max_examples=5, deadline=5000, database=None)
    @given(
        size=st.integers(min_value=1000, max_value=5000),
        odd=st.sets(st.integers(min_value=0, max_value=999), max_size=20),
    )
    def test_large_batches_with_odd_events_cost_linear_time(self, size, odd):
        self.tracking_handler.reset_mock()
        events = [dict(sample_events()[n % 3], event_id=f"evt-{n}") for n in range(size)]
        for index in odd:
            events[index]["metadata"] = ["not", "an", "object"]
        response = self.post_webhook(events)
        self.assertEqual(response.status_code, 200)
        received = self.received_events()
        self.assertEqual(len(received), size)
        unknown = {n for n, event in enumerate(received) if event.event_type == "unknown"}
        self.assertEqual(unknown, odd)
        self.assertEqual(json.loads(encode_json(received[0].esp_event)), events[0])


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class BodySizePropertyTests(WebhookTestCase):
    @settings(max_examples=30, deadline=2000, database=None)
    @given(limit=st.integers(min_value=200, max_value=300_000), offset=st.integers(-3, 3))
    def test_bodies_at_the_limit_pass_and_one_byte_over_is_413(self, limit, offset):
        self.tracking_handler.reset_mock()
        compact = encode_json(sample_events())
        size = max(len(compact), limit + offset)
        body = compact[:-1] + b" " * (size - len(compact)) + b"]"  # JSON padded to size
        with override_settings(
            ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "TRACKING_MAX_BODY_SIZE": limit}
        ):
            response = self.post_webhook(body)
        if len(body) <= limit:
            self.assertEqual(response.status_code, 200)
            self.assertEqual(self.tracking_handler.call_count, 3)
        else:
            self.assertEqual(response.status_code, 413)
            self.tracking_handler.assert_not_called()
