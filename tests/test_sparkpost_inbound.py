"""SparkPost inbound webhook: relay webhook batches, shaped as SparkPost's Relay Webhooks API
"Relay Webhook Payload" shows them ({"msys": {"relay_message": {...}}}, in a JSON array).
"""

from __future__ import annotations

import base64
import random
from typing import Any
from unittest import mock

from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.base import stable_event_id
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView

from .fakes import (
    EVENT_ID_DIGEST,
    LARGE_BATCH_DEADLINE,
    large_batch,
    mangled_json_body,
    mock_receiver,
)
from .test_sparkpost_webhooks import (
    DELIVERY,
    WEBHOOK_SECRET,
    SparkPostWebhookTestCase,
    json_values,
)
from .test_sparkpost_webhooks import urlpatterns as urlpatterns  # (ROOT_URLCONF=__name__)

INBOUND_PATH = "/anymail/sparkpost/inbound/"

# The Relay Webhooks API docs' sample message
SAMPLE_RFC822 = (
    "Return-Path: <me@here.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "From: me@here.com\r\n"
    "Received: by 10.114.82.10 with HTTP; Mon, 4 Jul 2016 07:53:14 -0700 (PDT)\r\n"
    "Date: Mon, 4 Jul 2016 15:53:14 +0100\r\n"
    "Message-ID: <484810298443-112311-xqxbby@mail.there.com>\r\n"
    "Subject: Relay webhooks rawk!\r\n"
    "To: you@there.com\r\n"
    "Content-Type: multipart/alternative; boundary=deaddeaffeedf00fall45dbhail980dhypnot0ad\r\n"
    "\r\n"
    "--deaddeaffeedf00fall45dbhail980dhypnot0ad\r\n"
    "Content-Type: text/plain; charset=UTF-8\r\n"
    "\r\n"
    "Hi there SparkPostians.\r\n"
    "\r\n"
    "--deaddeaffeedf00fall45dbhail980dhypnot0ad\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "\r\n"
    "<p>Hi there <strong>SparkPostians</strong></p>\r\n"
    "\r\n"
    "--deaddeaffeedf00fall45dbhail980dhypnot0ad--\r\n"
)


def relay_message(
    email_rfc822: str = SAMPLE_RFC822,
    is_base64: bool = False,
    msg_from: str = "me@here.com",
    rcpt_to: str = "you@there.com",
) -> dict[str, Any]:
    """One relay webhook batch item, as SparkPost documents it."""
    return {
        "msys": {
            "relay_message": {
                "content": {
                    "email_rfc822": email_rfc822,
                    "email_rfc822_is_base64": is_base64,
                    "headers": [
                        {"Return-Path": "<me@here.com>"},
                        {"MIME-Version": "1.0"},
                        {"From": "me@here.com"},
                        {"Subject": "Relay webhooks rawk!"},
                        {"To": "you@there.com"},
                    ],
                    "html": "<p>Hi there <strong>SparkPostians</strong>.</p>",
                    "subject": "We come in peace",
                    "text": "Hi there SparkPostians.",
                    "to": ["your@yourdomain.com"],
                },
                "customer_id": "1337",
                "friendly_from": "me@here.com",
                "msg_from": msg_from,
                "rcpt_to": rcpt_to,
                "webhook_id": "4839201967643219",
            }
        }
    }


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostInboundTests(SparkPostWebhookTestCase):
    def post_inbound(self, body: Any, auth: str | None = WEBHOOK_SECRET):
        return self.post_webhook(body, url=INBOUND_PATH, auth=auth)

    def inbound_events(self) -> list[AnymailInboundEvent]:
        for call in self.inbound_handler.call_args_list:
            self.assertIs(call.kwargs["sender"], SparkPostInboundWebhookView)
            self.assertEqual(call.kwargs["esp_name"], "SparkPost")
        return [call.kwargs["event"] for call in self.inbound_handler.call_args_list]

    def unreadable_messages(self) -> list[Any]:
        """The "unknown" events the inbound view sent tracking receivers."""
        for call in self.tracking_handler.call_args_list:
            self.assertIs(call.kwargs["sender"], SparkPostInboundWebhookView)
        return [call.kwargs["event"] for call in self.tracking_handler.call_args_list]

    def test_docs_sample(self):
        item = relay_message()
        response = self.post_inbound([item])
        self.assertEqual(response.status_code, 200)
        (event,) = self.inbound_events()
        self.assertIsInstance(event, AnymailInboundEvent)
        self.assertEqual(event.event_type, "inbound")
        self.assertIsNone(event.timestamp)
        self.assertRegex(event.event_id, EVENT_ID_DIGEST)  # (SparkPost gives none: Anymail's)
        self.assertEqual(event.esp_event, item)
        message = event.message
        self.assertIsInstance(message, AnymailInboundMessage)
        # From the raw message (not SparkPost's separately parsed "subject", etc.)
        self.assertEqual(message.subject, "Relay webhooks rawk!")
        self.assertEqual(str(message.from_email), "me@here.com")
        self.assertEqual([str(to) for to in message.to], ["you@there.com"])
        self.assertEqual(message["Message-ID"], "<484810298443-112311-xqxbby@mail.there.com>")
        self.assertEqual(message.text, "Hi there SparkPostians.\r\n")
        self.assertEqual(message.html, "<p>Hi there <strong>SparkPostians</strong></p>\r\n")
        self.assertEqual(message.envelope_sender, "me@here.com")
        self.assertEqual(message.envelope_recipient, "you@there.com")
        self.assertIsNone(message.spam_score)
        self.assertEqual(message.attachments, [])

    def test_base64_message_with_non_utf8_content_and_attachment(self):
        """SparkPost base64-encodes email_rfc822 when it isn't valid UTF-8."""
        raw = (
            b"From: =?iso-8859-1?q?Fran=E7ois?= <francois@example.fr>\r\n"
            b"To: Support <support@inbound.example.com>\r\n"
            b"Cc: copy@example.com\r\n"
            b"Subject: =?iso-8859-1?q?R=E9clamation?=\r\n"
            b"Date: Tue, 5 Jul 2016 09:00:00 +0200\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n'
            b"\r\n"
            b"--BOUNDARY\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n"
            b"Voil\xe0 la facture.\r\n"
            b"--BOUNDARY\r\n"
            b'Content-Type: application/pdf; name="facture.pdf"\r\n'
            b'Content-Disposition: attachment; filename="facture.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n" + base64.encodebytes(b"%PDF-1.4 facture") + b"--BOUNDARY--\r\n"
        )
        item = relay_message(
            email_rfc822=base64.b64encode(raw).decode("ascii"),
            is_base64=True,
            msg_from="bounces+francois=example.fr@mailer.example.fr",
            rcpt_to="support@inbound.example.com",
        )
        self.assertEqual(self.post_inbound([item]).status_code, 200)
        (event,) = self.inbound_events()
        message = event.message
        self.assertEqual(message.subject, "Réclamation")
        self.assertEqual(message.from_email.display_name, "François")
        self.assertEqual(message.from_email.addr_spec, "francois@example.fr")
        self.assertEqual([str(cc) for cc in message.cc], ["copy@example.com"])
        self.assertEqual(message.text, "Voilà la facture.")  # (the CRLF is the boundary's)
        self.assertIsNone(message.html)
        (attachment,) = message.attachments
        self.assertEqual(attachment.get_filename(), "facture.pdf")
        self.assertEqual(attachment.get_content_type(), "application/pdf")
        self.assertEqual(attachment.get_content_bytes(), b"%PDF-1.4 facture")
        self.assertEqual(message.envelope_sender, "bounces+francois=example.fr@mailer.example.fr")
        self.assertEqual(message.envelope_recipient, "support@inbound.example.com")

    def test_non_ascii_utf8_message_not_base64(self):
        raw = (
            "From: Zoë <zoe@example.com>\r\nTo: in@example.com\r\nSubject: Grüße\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nHallo, schöne Grüße ✓\r\n"
        )
        self.assertEqual(self.post_inbound([relay_message(email_rfc822=raw)]).status_code, 200)
        (event,) = self.inbound_events()
        self.assertEqual(event.message.subject, "Grüße")
        self.assertEqual(event.message.from_email.display_name, "Zoë")
        self.assertEqual(event.message.text, "Hallo, schöne Grüße ✓\r\n")

    def test_batch_of_messages(self):
        first = relay_message(rcpt_to="one@there.com")
        second = relay_message(
            email_rfc822=SAMPLE_RFC822.replace("Relay webhooks rawk!", "Second"),
            rcpt_to="two@there.com",
        )
        self.assertEqual(self.post_inbound([first, second]).status_code, 200)
        events = self.inbound_events()
        self.assertEqual([e.message.subject for e in events], ["Relay webhooks rawk!", "Second"])
        self.assertEqual(
            [e.message.envelope_recipient for e in events], ["one@there.com", "two@there.com"]
        )
        self.assertEqual([e.esp_event for e in events], [first, second])

    def test_event_id_is_the_same_when_sparkpost_retries(self):
        first = relay_message()
        second = relay_message(rcpt_to="two@there.com")
        self.post_inbound([first, second])
        self.post_inbound([first])  # (SparkPost retrying)
        ids = [event.event_id for event in self.inbound_events()]
        self.assertRegex(ids[0], EVENT_ID_DIGEST)
        self.assertEqual(ids[2], ids[0])
        self.assertNotEqual(ids[1], ids[0])

    def test_receiver_error_is_503_after_every_receiver_and_message(self):
        other_receiver = mock_receiver("other_receiver")
        inbound.connect(other_receiver, weak=False)
        self.addCleanup(inbound.disconnect, other_receiver)
        self.inbound_handler.side_effect = RuntimeError("database down")
        first, second = relay_message(rcpt_to="one@there.com"), relay_message(rcpt_to="two@x.com")
        with self.assertLogs("anymail.webhooks", level="ERROR"):
            response = self.post_inbound([first, second])
        self.assertEqual(response.status_code, 503)
        self.assertTrue(response.has_header("Retry-After"))
        self.assertEqual(len(self.inbound_events()), 2)
        self.assertEqual(
            [call.kwargs["event"].esp_event for call in other_receiver.call_args_list],
            [first, second],
        )

    def test_envelope_missing(self):
        item = relay_message()
        del item["msys"]["relay_message"]["msg_from"]
        del item["msys"]["relay_message"]["rcpt_to"]
        self.post_inbound([item])
        (event,) = self.inbound_events()
        self.assertIsNone(event.message.envelope_sender)
        self.assertIsNone(event.message.envelope_recipient)

    def test_empty_ping(self):
        self.assertEqual(self.post_inbound([{"msys": {}}]).status_code, 200)
        self.inbound_handler.assert_not_called()

    def test_bad_basic_auth_is_400_without_parsing(self):
        with mock.patch.object(
            SparkPostInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            for auth in (None, "sp-user:wrong", ""):
                with self.subTest(auth=auth):
                    response = self.post_inbound([relay_message()], auth=auth)
                    self.assertEqual(response.status_code, 400)
            parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()

    def test_tracking_payload_posted_to_inbound(self):
        with self.assertLogs("anymail.webhooks", level="WARNING") as logs:
            response = self.post_inbound([relay_message(), DELIVERY])
        self.assertEqual(response.status_code, 400)
        self.assertIn("'message_event' (tracking) payload", logs.output[0])
        self.assertIn("anymail/sparkpost/tracking/", logs.output[0])
        self.inbound_handler.assert_not_called()
        self.tracking_handler.assert_not_called()

    def test_malformed(self):
        for body in ("not json", {"msys": {"relay_message": {}}}):  # (the second: not a batch)
            with self.subTest(body=body):
                self.assertEqual(self.post_inbound(body).status_code, 400)
        self.inbound_handler.assert_not_called()

    def test_unreadable_relay_messages_cost_only_themselves(self):
        # Each is logged and sent to *tracking* receivers as an "unknown" event with the raw
        # item (inbound receivers can rely on event.message); the batch's other messages are
        # delivered, and SparkPost gets a 200 (it would retry, then discard, the whole batch)
        def without(key: str) -> dict[str, Any]:
            item = relay_message()
            del item["msys"]["relay_message"]["content"][key]
            return item

        bad_content = relay_message()
        bad_content["msys"]["relay_message"]["content"] = "Subject: hi"
        for bad_item in (
            [],
            {"msys": "relay_message"},
            {"msys": {"relay_message": "raw"}},
            {"msys": {"relay_message": {}}},
            bad_content,
            without("email_rfc822"),
            relay_message(email_rfc822="Not base64 at all!!!x", is_base64=True),
            relay_message(is_base64="false"),
            relay_message(rcpt_to=["you@there.com"]),
        ):
            with self.subTest(bad_item=bad_item):
                self.inbound_handler.reset_mock()
                self.tracking_handler.reset_mock()
                good = [relay_message(rcpt_to=f"{n}@there.com") for n in range(3)]
                with self.assertLogs("anymail.webhooks", level="WARNING"):
                    response = self.post_inbound([good[0], bad_item, good[1], good[2]])
                self.assertEqual(response.status_code, 200)
                self.assertEqual([event.esp_event for event in self.inbound_events()], good)
                (unknown,) = self.unreadable_messages()
                self.assertEqual(unknown.event_type, "unknown")
                self.assertEqual(unknown.esp_event, bad_item)
                self.assertRegex(unknown.event_id, EVENT_ID_DIGEST)

    def test_one_bad_message_among_many(self):
        batch = [relay_message(rcpt_to=f"{n}@there.com") for n in range(100)]
        batch[70] = relay_message(email_rfc822="Not base64 at all!!!x", is_base64=True)
        with self.assertLogs("anymail.webhooks", level="WARNING"):
            self.assertEqual(self.post_inbound(batch).status_code, 200)
        events = self.inbound_events()
        self.assertEqual([event.esp_event for event in events], batch[:70] + batch[71:])
        self.assertEqual(events[70].message.envelope_recipient, "71@there.com")
        (unknown,) = self.unreadable_messages()
        self.assertEqual(unknown.esp_event, batch[70])


@st.composite
def mutated_inbound_body(draw: Any) -> bytes:
    items = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        raw = draw(st.sampled_from([SAMPLE_RFC822, ""]) | st.text(max_size=80))
        is_base64 = draw(st.booleans())
        if is_base64:
            encoded = draw(st.sampled_from([raw.encode(), raw.encode("latin-1", "replace")]))
            raw = base64.b64encode(encoded).decode("ascii")
        item = relay_message(email_rfc822=raw, is_base64=is_base64)
        fields = item["msys"]["relay_message"]
        if draw(st.integers(min_value=0, max_value=2)) == 0:  # mutations
            for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)):
                fields.pop(key, None)
            keys = st.sampled_from(["content", "msg_from", "rcpt_to"])
            for key in draw(st.lists(keys, max_size=2)):
                fields[key] = draw(json_values)
            if isinstance(fields.get("content"), dict):
                content = fields["content"]
                content["email_rfc822"] = draw(st.binary(max_size=80).map(bytes.hex) | json_values)
                content["email_rfc822_is_base64"] = draw(json_values)
        items.append(item if draw(st.integers(min_value=0, max_value=7)) else draw(json_values))
    return draw(mangled_json_body(items, reencode_latin1=False))


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostInboundPropertyTests(SparkPostWebhookTestCase):
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=mutated_inbound_body())
    def test_mangled_bodies_are_200_or_400(self, body):
        # (never a 5xx, which SparkPost would retry)
        self.inbound_handler.reset_mock()
        response = self.post_webhook(body, url=INBOUND_PATH)
        self.assertIn(response.status_code, (200, 400))
        if response.status_code == 200:
            for call in self.inbound_handler.call_args_list:
                message = call.kwargs["event"].message
                self.assertIsInstance(message, AnymailInboundMessage)
                # the parsed message's common properties don't blow up on odd content
                for attr in ("subject", "from_email", "to", "cc", "text", "html", "attachments"):
                    getattr(message, attr)
        else:
            self.inbound_handler.assert_not_called()

    @settings(
        max_examples=5,
        deadline=LARGE_BATCH_DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        batch=large_batch(
            [relay_message(rcpt_to=f"{n}@there.com") for n in range(3)],
            st.sampled_from(
                [relay_message(email_rfc822="Not base64!!x", is_base64=True), {"msys": []}, 7]
            ),
            min_size=200,
            max_size=800,
        )
    )
    def test_large_batch_with_odd_messages(self, batch):
        # Hundreds of messages (megabytes), a few odd: each good one is delivered, in order
        # (a quadratic path would miss the deadline)
        self.inbound_handler.reset_mock()
        self.assertEqual(self.post_webhook(batch.events, url=INBOUND_PATH).status_code, 200)
        self.assertEqual(
            [call.kwargs["event"].esp_event for call in self.inbound_handler.call_args_list],
            [batch.events[index] for index in batch.normal_indexes],
        )

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        body=mutated_inbound_body(),
        auth=st.one_of(
            st.none(), st.just(""), st.text(max_size=20).filter(lambda a: a != WEBHOOK_SECRET)
        ),
    )
    def test_bad_auth_is_always_400_before_parsing(self, body, auth):
        self.inbound_handler.reset_mock()
        with mock.patch.object(
            SparkPostInboundWebhookView, "parse_events", autospec=True
        ) as parse_events:
            response = self.post_webhook(body, url=INBOUND_PATH, auth=auth)
        self.assertEqual(response.status_code, 400)
        parse_events.assert_not_called()
        self.inbound_handler.assert_not_called()


BIG_DATA = random.Random(9).randbytes(300_000)
# The docs' sample message, with a large base64 attachment (far over SPILL_SIZE)
BIG_RFC822 = (
    "From: me@here.com\r\nTo: you@there.com\r\nSubject: Big\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n--mix\r\n'
    "Content-Type: text/plain; charset=utf-8\r\n\r\nCaf\u00e9\r\n--mix\r\n"
    "Content-Type: application/zip; name=big.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(BIG_DATA).decode().replace("\n", "\r\n")
    + "--mix--\r\n"
)


@override_settings(ANYMAIL={"WEBHOOK_SECRET": WEBHOOK_SECRET})
class SparkPostInboundLargeMessageTests(SparkPostWebhookTestCase):
    """A long email_rfc822 is read from, and parsed in, a temporary file."""

    def read_during_signal(self, read, body: Any) -> list[Any]:
        """read(event) for each event, called in a receiver (until the response, files are
        readable)."""
        results = []
        receiver = lambda sender, event, **kwargs: results.append(read(event))  # noqa: E731
        inbound.connect(receiver)
        self.addCleanup(inbound.disconnect, receiver)
        self.assertEqual(self.post_webhook(body, url=INBOUND_PATH).status_code, 200)
        return results

    def read(self, event: AnymailInboundEvent) -> Any:
        message = event.message
        return (message.text, message.attachments[0].get_content_bytes(), message.as_bytes())

    def test_large_message(self):
        expected = AnymailInboundMessage.parse_raw_mime(BIG_RFC822).as_bytes()
        for is_base64, email_rfc822 in (
            (False, BIG_RFC822),
            (True, base64.b64encode(BIG_RFC822.encode()).decode()),
            (True, base64.encodebytes(BIG_RFC822.encode()).decode()),  # (with line breaks)
        ):
            with self.subTest(is_base64=is_base64):
                body = [relay_message(email_rfc822, is_base64=is_base64)]
                self.assertEqual(
                    self.read_during_signal(self.read, body), [("Café", BIG_DATA, expected)]
                )

    def test_event_id_is_the_digest_of_the_item(self):
        item = relay_message(BIG_RFC822)
        ids = self.read_during_signal(lambda event: event.event_id, [item])
        self.assertEqual(ids, [stable_event_id(AnymailInboundEvent(esp_event=item), "SparkPost")])

    def test_bad_base64_costs_only_its_message(self):
        bad = base64.b64encode(BIG_RFC822.encode()).decode()[:-3]  # (truncated)
        texts = self.read_during_signal(
            lambda event: event.message.text,
            [relay_message(bad, is_base64=True), relay_message(BIG_RFC822)],
        )
        self.assertEqual(texts, ["Café"])
        (call,) = self.tracking_handler.call_args_list  # (the unreadable one)
        self.assertEqual(call.kwargs["event"].event_type, "unknown")
