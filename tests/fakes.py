"""Shared fakes: the ESPs, faked where our code meets them (never a network call)."""

from __future__ import annotations

import base64
import inspect
import io
import json
import logging
from datetime import timedelta
from typing import Any, NamedTuple
from unittest import mock

import requests
from django.test import Client, SimpleTestCase, override_settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from anymail.addresses import EmailAddress
from anymail.backends.base import AnymailBaseBackend, BasePayload
from anymail.backends.test import EmailBackend as TestEmailBackend
from anymail.backends.test import TestPayload
from anymail.message import AnymailRecipientStatus


def make_response(
    status_code: int = 200,
    json_data: Any = None,
    text: str | None = None,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
    url: str = "https://api.example.com/",
) -> requests.Response:
    """A real requests.Response, as an ESP's server would have sent it."""
    response = requests.Response()
    response.status_code = status_code
    response.reason = reason or requests.status_codes._codes.get(status_code, ("",))[0].upper()
    if json_data is not None:
        text = json.dumps(json_data)
        headers = {"Content-Type": "application/json", **(headers or {})}
    response._content = (text or "").encode("utf-8")
    response.encoding = "utf-8"
    response.headers = CaseInsensitiveDict(headers or {})
    response.url = url
    response.request = requests.Request("POST", url).prepare()
    return response


class RequestsFakeTestCase(SimpleTestCase):
    """Fakes the ESP at ``requests.Session.request`` and records each API call.

    Queue responses with ``set_response()`` / ``set_responses()`` (default: 200 with
    ``default_response_json``); inspect calls with ``api_call()`` and friends.
    """

    default_response_json: Any = {}

    def setUp(self) -> None:
        super().setUp()
        self.responses: list[Any] = []
        patcher = mock.patch("requests.Session.request", autospec=True)
        self.mock_request = patcher.start()
        self.addCleanup(patcher.stop)
        self.mock_request.side_effect = self._next_response

    def _next_response(self, session: requests.Session, method: str, url: str, **kwargs: Any):
        response = self.responses.pop(0) if self.responses else None
        if response is None:
            response = make_response(200, json_data=self.default_response_json, url=url)
        if isinstance(response, BaseException):
            raise response
        prepared = session.prepare_request(
            requests.Request(
                method,
                url,
                params=kwargs.get("params"),
                data=kwargs.get("data"),
                headers=kwargs.get("headers"),
                files=kwargs.get("files"),
                auth=kwargs.get("auth"),
                json=kwargs.get("json"),
            )
        )
        response.request = prepared
        response.url = url
        return response

    def set_response(self, *args: Any, **kwargs: Any) -> requests.Response:
        """Queue one response (args as make_response) for the next API call."""
        response = make_response(*args, **kwargs)
        self.responses.append(response)
        return response

    def set_error(self, error: BaseException) -> None:
        """Make the next API call raise error (e.g., requests.ConnectionError)."""
        self.responses.append(error)

    # Inspecting calls

    def api_calls(self) -> list[mock._Call]:
        return self.mock_request.call_args_list

    def api_call(self, index: int = -1) -> mock._Call:
        calls = self.api_calls()
        if not calls:
            raise AssertionError("No ESP API call was made")
        return calls[index]

    def api_call_kwargs(self, index: int = -1) -> dict[str, Any]:
        """All arguments of the call by name (method, url, data, headers, timeout, ...)."""
        call = self.api_call(index)
        bound = inspect.signature(requests.Session.request).bind(*call.args, **call.kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self")
        return {**arguments.pop("kwargs", {}), **arguments}

    def api_call_json(self, index: int = -1) -> Any:
        """The JSON body of the API call (as sent on the wire)."""
        data = self.api_call_kwargs(index)["data"]
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return json.loads(data)

    def assert_api_called(self, method: str, url: str, index: int = -1) -> dict[str, Any]:
        kwargs = self.api_call_kwargs(index)
        self.assertEqual(kwargs["method"], method)
        self.assertEqual(kwargs["url"], url)
        return kwargs

    def assert_no_api_call(self) -> None:
        if self.api_calls():
            raise AssertionError(f"Unexpected ESP API call(s): {self.api_calls()}")


# A sample ESP: the smallest backend that exercises the shared base code


class MinimalPayload(BasePayload):
    """Supports only what every ESP must; every optional feature stays refused."""

    def init_payload(self) -> None:
        self.data: dict[str, Any] = {"to": [], "cc": [], "bcc": []}

    def set_from_email(self, email: EmailAddress) -> None:
        self.data["from"] = str(email)

    def set_recipients(self, recipient_type: str, emails: list[EmailAddress]) -> None:
        self.data[recipient_type] = [email.addr_spec for email in emails]

    def set_subject(self, subject: str) -> None:
        self.data["subject"] = subject

    def set_text_body(self, body: str) -> None:
        self.data["text"] = body

    def set_html_body(self, body: str) -> None:
        self.data["html"] = body


class MinimalEmailBackend(AnymailBaseBackend):
    """Statuses come from ``recipient_statuses`` ({addr_spec: status}; default "queued").

    With recipient_statuses given, each recipient gets its own message id (as some ESPs do).
    """

    esp_name = "Minimal"
    sent_payloads: list[MinimalPayload] = []  # shared record; tests clear it in setUp

    def __init__(self, **kwargs: Any) -> None:
        self.recipient_statuses = kwargs.pop("recipient_statuses", {})
        super().__init__(**kwargs)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> MinimalPayload:
        return MinimalPayload(message, defaults, self)

    def post_to_esp(self, payload: MinimalPayload, message: Any) -> dict[str, str]:
        MinimalEmailBackend.sent_payloads.append(payload)
        return {"id": f"minimal-{len(MinimalEmailBackend.sent_payloads)}"}

    def parse_recipient_status(
        self, response: dict[str, str], payload: MinimalPayload, message: Any
    ) -> dict[str, AnymailRecipientStatus]:
        if not self.recipient_statuses:
            return payload.recipient_status_for_all(response["id"], "queued")
        return {
            recipient.addr_spec: AnymailRecipientStatus(
                f"{response['id']}-{recipient.addr_spec}",
                self.recipient_statuses.get(recipient.addr_spec, "queued"),
            )
            for recipient in payload.all_recipients
        }


MINIMAL_BACKEND = "tests.fakes.MinimalEmailBackend"


class EveryFeaturePayload(TestPayload):
    """The test backend's payload, plus the features it refuses (as some ESPs support them)."""

    __test__ = False

    def set_from_email_list(self, emails: list[EmailAddress]) -> None:
        self.params["from"] = emails[0] if len(emails) == 1 else emails

    def set_spoofed_to_header(self, header_to: str) -> None:
        self.params["spoofed_to_header"] = header_to

    def add_alternative(self, content: str, mimetype: str) -> None:
        self.params.setdefault("alternatives", []).append((content, mimetype))


class EveryFeatureEmailBackend(TestEmailBackend):
    """The test backend, recording every optional feature: for tests of the shared pipeline."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("payload_class", EveryFeaturePayload)
        super().__init__(**kwargs)


EVERY_FEATURE_BACKEND = "tests.fakes.EveryFeatureEmailBackend"


def formatted(emails: list[EmailAddress]) -> list[str]:
    """The test backend records EmailAddress objects; their Unicode text, for assertions."""
    return [email.formatted() for email in emails]


class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1, in a thread, answering with handler_class.

    Use as a context manager; ``address`` is its "http://host:port".
    """

    def __init__(self, handler_class: type, poll_interval: float = 0.5) -> None:
        import http.server
        import threading

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # (don't wait out a deliberately slow answer)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": poll_interval},
            daemon=True,
        )

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class LocalESPServer(LocalHTTPServer):
    """A real HTTP/1.1 server on 127.0.0.1 playing an ESP's API, for tests of what crosses the wire.

    Records each request (method, path, headers, raw body bytes, client port) and answers with
    ``response_json``. Use as a context manager; ``url`` is its base url.
    """

    def __init__(self, response_json: Any = None, status: int = 200) -> None:
        import http.server

        self.requests: list[dict[str, Any]] = []
        self.response_json = response_json if response_json is not None else {}
        self.status = status
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": self.rfile.read(length),
                        "client_port": self.client_address[1],
                    }
                )
                body = json.dumps(server.response_json).encode("utf-8")
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"{self.address}/"


# Webhook test helpers


def basic_auth_header(credentials: str | bytes) -> str:
    """An HTTP basic Authorization header value for "user:password" credentials."""
    if isinstance(credentials, str):
        credentials = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(credentials).decode("ascii")


class ReadCountingInput(io.BytesIO):
    """A wsgi.input that records how many body bytes the app read."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


def mock_receiver(name: str = "receiver") -> mock.Mock:
    """A Mock to connect to a signal; named, as Django's send_robust() logs a failing
    receiver's __qualname__."""
    receiver = mock.Mock(return_value=None)
    receiver.__qualname__ = receiver.__name__ = name
    return receiver


def quiet_webhook_logs(test_case: SimpleTestCase) -> None:
    """Silence the logging of expected 400s for one test (assertLogs still sees the records)."""
    for name in ("django.request", "django.security", "django.dispatch", "anymail.webhooks"):
        logger = logging.getLogger(name)
        test_case.addCleanup(setattr, logger, "handlers", logger.handlers)
        test_case.addCleanup(setattr, logger, "propagate", logger.propagate)
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False


@st.composite
def mangled_json_body(draw: st.DrawFn, payload: Any, reencode_latin1: bool = True) -> bytes:
    """payload as a webhook's JSON body bytes, often mangled as a broken or hostile sender might.

    (Re-encoded as Latin-1, invalid UTF-8 inserted, truncated, or replaced by random bytes.)
    """
    body = json.dumps(payload, allow_nan=True).encode("utf-8")
    mutations = ["none", "none", "bad-bytes", "truncate", "raw"]
    if reencode_latin1:
        mutations.append("latin-1")
    mutation = draw(st.sampled_from(mutations))
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


class JsonWebhookTestCase(SimpleTestCase):
    """Base for an ESP's webhook tests: routes to the test module's own ``urlpatterns``,
    records tracking and inbound receiver calls, keeps expected-400 logging quiet, and posts
    JSON bodies with basic auth.

    Subclasses set ``tracking_view``, ``esp_name``, ``tracking_path``, ``webhook_secret`` and
    ``urlconf`` (usually ``__name__``: the module with the views' test ``urlpatterns``).
    """

    urlconf = ""
    tracking_view: type | None = None
    esp_name = ""
    tracking_path = ""
    webhook_secret = ""

    def setUp(self) -> None:
        from anymail.signals import inbound, tracking

        super().setUp()
        self.tracking_handler = mock_receiver("tracking_handler")
        self.inbound_handler = mock_receiver("inbound_handler")
        for signal, handler in ((tracking, self.tracking_handler), (inbound, self.inbound_handler)):
            signal.connect(handler, weak=False)
            self.addCleanup(signal.disconnect, handler)
        urlconf = override_settings(ROOT_URLCONF=self.urlconf)
        urlconf.enable()
        self.addCleanup(urlconf.disable)
        quiet_webhook_logs(self)

    def post_webhook(
        self,
        body: Any,
        url: str | None = None,
        auth: str | None | type = ...,
        content_type: str = "application/json",
    ):
        """POST body (JSON-encoded unless bytes or str) with basic auth (auth=None: none)."""
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        auth = self.webhook_secret if auth is ... else auth
        headers = {"HTTP_AUTHORIZATION": basic_auth_header(auth)} if auth is not None else {}
        return Client().post(
            url or self.tracking_path, data=body, content_type=content_type, **headers
        )

    def tracking_events(self) -> list[Any]:
        """The events the tracking receiver got, checking sender and esp_name on each."""
        for call in self.tracking_handler.call_args_list:
            self.assertIs(call.kwargs["sender"], self.tracking_view)
            self.assertEqual(call.kwargs["esp_name"], self.esp_name)
        return [call.kwargs["event"] for call in self.tracking_handler.call_args_list]

    def post_with_a_failing_receiver(self, events: list[Any]) -> tuple[Any, list[Any]]:
        """Post events while the tracking receiver raises: (response, the events another,
        working receiver got). The error must be logged and the answer ask for a retry."""
        from anymail.signals import tracking

        other_receiver = mock_receiver("other_receiver")
        tracking.connect(other_receiver, weak=False)
        self.addCleanup(tracking.disconnect, other_receiver)
        self.tracking_handler.side_effect = RuntimeError("database down")
        with self.assertLogs("anymail.webhooks", level="ERROR"):
            response = self.post_webhook(events)
        self.assertTrue(response.has_header("Retry-After"))
        self.assertEqual(self.tracking_handler.call_count, len(self.tracking_events()))
        return response, [call.kwargs["event"] for call in other_receiver.call_args_list]

    def post_large_batch(self, events: list[Any]) -> list[Any]:
        """Post a large batch (see large_batch): it must be a 200, with nothing logged as an
        error; returns the tracking events delivered."""
        self.tracking_handler.reset_mock()
        with self.assertNoLogs("anymail.webhooks", level="ERROR"):
            response = self.post_webhook(events)
        self.assertEqual(response.status_code, 200)
        return self.tracking_events()


# Large batches, for the ESPs' webhook property tests

#: Anymail's own event_id, for an event the ESP gives no id: a digest of the event
EVENT_ID_DIGEST = r"^anymail-[0-9a-f]{40}$"

#: Time allowed for a webhook post of thousands of events: ample for handling each event once,
#: too little for anything that handles the whole batch again for each event
LARGE_BATCH_DEADLINE = timedelta(seconds=2)


class LargeBatch(NamedTuple):
    events: list[Any]
    normal_indexes: list[int]  # which of events are unchanged samples


@st.composite
def large_batch(
    draw: st.DrawFn,
    samples: list[Any],
    odd_events: st.SearchStrategy,
    min_size: int = 2000,
    max_size: int = 8000,
) -> LargeBatch:
    """Thousands of sample events (in turn), with up to five odd_events among them."""
    size = draw(st.integers(min_value=min_size, max_value=max_size))
    odd = draw(
        st.dictionaries(st.integers(min_value=0, max_value=size - 1), odd_events, max_size=5)
    )
    events = [
        odd[index] if index in odd else samples[index % len(samples)] for index in range(size)
    ]
    return LargeBatch(events, [index for index in range(size) if index not in odd])


# Large attachments in JSON payloads


def json_strings(value: Any) -> list[str]:
    """Every string value anywhere in decoded JSON."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in json_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in json_strings(item)]
    return []


def assert_large_attachments_sent_whole(
    test_case: RequestsFakeTestCase, message: Any, inline_image: bool = True
) -> None:
    """Send message with a 20 KB attachment and a 3 KB inline image; check the API call's JSON
    carries both contents exactly (they skip JSON escaping: see BasePayload.verbatim_base64)."""
    import base64
    import random

    from django.core.mail import EmailMultiAlternatives

    from anymail.message import attach_inline_image

    document = random.Random(7).randbytes(20_000)
    image = random.Random(8).randbytes(3_000)
    message.attach("report.bin", document, "application/octet-stream")
    inline_image = inline_image and isinstance(message, EmailMultiAlternatives)
    if inline_image:
        cid = attach_inline_image(message, image, "logo.png", subtype="png")
        message.attach_alternative(f"<img src='cid:{cid}'>", "text/html")
    message.send()
    body = test_case.api_call_kwargs()["data"]
    body_text = body.decode("utf-8") if isinstance(body, bytes) else body
    test_case.assertNotIn("anymail-verbatim", body_text)
    sent = json_strings(json.loads(body_text))
    test_case.assertIn(base64.b64encode(document).decode("ascii"), sent)
    if inline_image:
        test_case.assertIn(base64.b64encode(image).decode("ascii"), sent)
