"""The webhook base's policies: body size caps, auth before the body, retry statuses,
event ids, de-duplication and failing closed. Through the sample ESP of test_base_webhooks."""

from __future__ import annotations

import email.policy
import io
import json
import time
from typing import Any
from unittest import mock

from django.core.cache import cache
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, RequestFactory, SimpleTestCase, override_settings
from django.urls import path
from hypothesis import given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.streaming import SPILL_SIZE, SPOOL_MEMORY_SIZE, SpilledString, load_json
from anymail.webhooks.base import AnymailBaseWebhookView, stable_event_id
from anymail.webhooks.dedup import already_delivered, first_delivery, remember_delivered
from anymail.webhooks.limits import (
    INBOUND_MAX_BODY_SIZE,
    TRACKING_MAX_BODY_SIZE,
    SpooledBodyMixin,
    close_spools,
    read_body,
    request_spools,
    spooled_body,
    spooled_event_id,
    spooled_field,
)
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


class SpooledFormInboundWebhookView(SpooledBodyMixin, SampleFormInboundWebhookView):
    """The form view, reading a large field from its temporary file."""

    def parse_events(self, request):
        raw = spooled_field(request, "email")
        if raw is None:
            return super().parse_events(request)
        message = AnymailInboundMessage.parse_raw_mime_spool(raw, request_spools(request))
        return [AnymailInboundEvent(esp_event=request, message=message)]


class SpooledJsonInboundWebhookView(SpooledBodyMixin, AnymailBaseWebhookView):
    """The sample ESP's JSON inbound view, reading its body (and a long raw_message) from
    temporary files."""

    esp_name = "SampleESP"
    signal = inbound

    def parse_events(self, request):
        payload = load_json(
            spooled_body(request),
            keep_spilled=lambda key: key == "raw_message",
            spools=request_spools(request),
        )
        raw = payload["raw_message"]
        message = (
            AnymailInboundMessage.parse_raw_mime_spool(raw.open(), request_spools(request))
            if isinstance(raw, SpilledString)
            else AnymailInboundMessage.parse_raw_mime(raw)
        )
        return [AnymailInboundEvent(event_id=payload.get("id"), esp_event=payload, message=message)]


FORM_INBOUND_PATH = "/sampleesp/inbound-form/"
SPOOLED_FORM_PATH = "/sampleesp/inbound-form-spooled/"
SPOOLED_JSON_PATH = "/sampleesp/inbound-spooled/"
urlpatterns = [
    *sample_urlpatterns,
    path("sampleesp/inbound-form/", SampleFormInboundWebhookView.as_view()),
    path("sampleesp/inbound-form-spooled/", SpooledFormInboundWebhookView.as_view()),
    path("sampleesp/inbound-spooled/", SpooledJsonInboundWebhookView.as_view()),
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
        view_class = {
            INBOUND_PATH: SampleInboundWebhookView,
            SPOOLED_JSON_PATH: SpooledJsonInboundWebhookView,
        }.get(url, SampleTrackingWebhookView)
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
        assert_malformed_multipart_refused(self, FORM_INBOUND_PATH)


def assert_malformed_multipart_refused(test_case: Any, path: str) -> None:
    """A multipart body whose part has no name: a 400, and no receiver runs."""
    response = test_case.client.generic(
        "POST",
        path,
        data=b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--xyz--",
        content_type="multipart/form-data; boundary=xyz",
        HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
    )
    test_case.assertEqual(response.status_code, 400)
    test_case.inbound_handler.assert_not_called()


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


class SpooledBodyTests(WebhookTestCase):
    """Views with SpooledBodyMixin: the body is read into temporary files, within the same caps."""

    def read_during_signal(self, read, response_of):
        """read(event), called in a receiver; and the response (files are closed after it)."""
        results = []
        receiver = lambda sender, event, **kwargs: results.append(read(event))  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        response = response_of()
        return results, response

    def test_declared_size_over_the_limit_is_413_before_reading(self):
        body = encode_json(dict(sample_inbound_payload(), raw_message=big_message(MiB)))
        with (
            override_settings(
                ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET, "INBOUND_MAX_BODY_SIZE": MiB // 2}
            ),
            self.assertLogs("anymail.webhooks", level="WARNING"),
        ):
            status, bytes_read = self.post_counting_reads(
                SPOOLED_JSON_PATH, body, HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET)
            )
        self.assertEqual((status, bytes_read), (413, 0))
        self.inbound_handler.assert_not_called()

    def test_bad_auth_reads_no_body_byte(self):
        body = encode_json(sample_inbound_payload())
        status, bytes_read = self.post_counting_reads(
            SPOOLED_JSON_PATH, body, HTTP_AUTHORIZATION=basic_auth_header("user:wrong")
        )
        self.assertEqual((status, bytes_read), (400, 0))

    def test_large_json_body(self):
        raw_message = big_message(2 * SPOOL_MEMORY_SIZE)  # (the body goes to disk)
        payload = dict(sample_inbound_payload(), raw_message=raw_message)

        def read(event):
            return (
                type(event.esp_event["raw_message"]),
                event.message["Subject"],
                event.message.get_content_text(),
            )

        results, response = self.read_during_signal(
            read, lambda: self.post_webhook(payload, url=SPOOLED_JSON_PATH, signature=None)
        )
        self.assertEqual(response.status_code, 200)
        expected = AnymailInboundMessage.parse_raw_mime(raw_message)
        self.assertEqual(
            results, [(SpilledString, "Order A-1001 question", expected.get_content_text())]
        )

    def test_request_body_still_works(self):
        for size in (1000, 2 * SPOOL_MEMORY_SIZE):  # (in memory, or on disk)
            with self.subTest(size=size):
                body = b"x" * size
                request = WSGIRequest(
                    RequestFactory()
                    .generic("POST", "/", data=body, content_type="application/json")
                    .environ
                )
                read_body(request, INBOUND_MAX_BODY_SIZE, spool=True)
                self.assertEqual(spooled_body(request).read(), body)
                with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
                    self.assertEqual(request.body, body)  # (within Django's own limit)
                close_spools(request)

    def test_large_form_field_is_spooled_but_still_in_post(self):
        raw = big_message(4 * MiB)

        def read(event):
            request = event.esp_event
            return (
                spooled_field(request, "email").read() == raw.encode(),
                request.POST["email"] == raw,  # (read from the file when asked for)
                request.POST.getlist("email") == [raw],
                request.POST["to"],
                "email" in request.FILES,
                spooled_field(request, "to"),
                event.message["Subject"],
            )

        results, response = self.read_during_signal(
            read,
            lambda: self.client.post(
                SPOOLED_FORM_PATH,
                {"email": raw, "to": "support@example.com"},
                HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            ),
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            results,
            [(True, True, True, "support@example.com", False, None, "Order A-1001 question")],
        )

    def test_field_just_over_the_spill_size(self):
        value = "x" * (SPILL_SIZE + 1)
        results, response = self.read_during_signal(
            lambda event: (event.esp_event.POST["email"], spooled_field(event.esp_event, "email")),
            lambda: self.client.post(
                SPOOLED_FORM_PATH,
                {"email": value},
                HTTP_AUTHORIZATION=basic_auth_header(WEBHOOK_SECRET),
            ),
        )
        self.assertEqual(response.status_code, 200)
        ((posted, spooled),) = results
        self.assertEqual(posted, value)
        self.assertEqual(spooled.size, SPILL_SIZE + 1)

    def test_files_are_closed_when_the_response_is(self):
        payload = dict(sample_inbound_payload(), raw_message=big_message(MiB))
        results, response = self.read_during_signal(
            lambda event: event.esp_event["raw_message"],
            lambda: self.post_webhook(payload, url=SPOOLED_JSON_PATH, signature=None),
        )
        self.assertEqual(response.status_code, 200)
        ((spilled,),) = [results]
        with self.assertRaises(ValueError):
            str(spilled)

    def test_files_are_closed_when_the_view_raises(self):
        spools = []

        def failing_parse(view, request):
            spools.append(request_spools(request).new_file())
            raise AnymailWebhookValidationFailure("bad")

        with mock.patch.object(SpooledJsonInboundWebhookView, "parse_events", failing_parse):
            response = self.post_webhook(sample_inbound_payload(), url=SPOOLED_JSON_PATH)
        self.assertEqual(response.status_code, 400)
        self.assertTrue(spools[0].closed)

    def test_malformed_multipart_is_400(self):
        assert_malformed_multipart_refused(self, SPOOLED_FORM_PATH)


class SpooledEventIdTests(SimpleTestCase):
    def test_same_id_as_the_base_view_gives(self):
        payload = {
            "id": None,
            "nested": [{"text": 'caf\u00e9 \U0001f600 \\ "' * 20_000}, 1, None],
            "short": "x",
        }
        loaded = load_json(io.BytesIO(json.dumps(payload).encode()), keep_spilled=lambda key: True)
        self.assertIsInstance(loaded["nested"][0]["text"], SpilledString)
        self.assertEqual(
            spooled_event_id(loaded, "SampleESP"),
            stable_event_id(AnymailInboundEvent(esp_event=payload), "SampleESP"),
        )

    def test_none_without_spilled_strings(self):
        self.assertIsNone(spooled_event_id({"a": ["b"]}, "SampleESP"))
