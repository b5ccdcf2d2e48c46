"""The shared Requests backend, through a small sample HTTP ESP faked at requests.Session."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any
from unittest import mock

import requests
from django.core.mail import EmailMessage, get_connection
from django.test import SimpleTestCase, override_settings

from anymail import __version__
from anymail.backends.base_requests import AnymailRequestsBackend, RequestsPayload
from anymail.conf import get_anymail_setting
from anymail.exceptions import (
    AnymailAPIError,
    AnymailConfigurationError,
    AnymailRequestsAPIError,
    AnymailSerializationError,
)
from anymail.message import AnymailMessage, AnymailRecipientStatus

from .fakes import LocalESPServer, RequestsFakeTestCase

SAMPLE_BACKEND = "tests.test_base_requests_backend.SampleEmailBackend"


class SampleEmailBackend(AnymailRequestsBackend):
    """A JSON API in the style of most ESPs: bearer key, one id, per-recipient results."""

    esp_name = "Sample ESP"

    def __init__(self, **kwargs: Any) -> None:
        self.api_key = get_anymail_setting(
            "api_key", esp_name=self.esp_name, kwargs=kwargs, allow_bare=True
        )
        api_url = get_anymail_setting(
            "api_url",
            esp_name=self.esp_name,
            kwargs=kwargs,
            default="https://api.sample-esp.example/v1/",
        )
        super().__init__(api_url, **kwargs)

    def build_message_payload(self, message: Any, defaults: dict[str, Any]) -> SamplePayload:
        return SamplePayload(message, defaults, self)

    def response_ok(self, response):
        # Like some real ESPs, this one may report a failure in a 200 response
        return super().response_ok(response) and "error" not in response.text

    def error_detail(self, response):
        return response.json().get("error")

    def parse_recipient_status(self, response, payload, message):
        parsed = self.deserialize_json_response(response, payload, message)
        return {
            email: AnymailRecipientStatus(parsed["id"], status)
            for email, status in parsed["results"].items()
        }


class SamplePayload(RequestsPayload):
    def __init__(self, message, defaults, backend):
        headers = {"Authorization": f"Bearer {backend.api_key}"}
        super().__init__(message, defaults, backend, headers=headers)

    def get_api_endpoint(self) -> str:
        return "messages/send"

    def init_payload(self) -> None:
        self.data = {}

    def serialize_data(self) -> str:
        return self.serialize_json(self.data)

    def set_from_email(self, email):
        self.data["from"] = {"email": email.addr_spec, "name": email.display_name}

    def set_recipients(self, recipient_type, emails):
        self.data[recipient_type] = [email.address for email in emails]

    def set_subject(self, subject):
        self.data["subject"] = subject

    def set_text_body(self, body):
        self.data["text"] = body

    def set_html_body(self, body):
        self.data["html"] = body

    def set_extra_headers(self, headers):
        self.data["headers"] = dict(headers)

    def set_esp_extra(self, extra):
        self.data.update(extra)


def accepted(*emails: str, message_id: str = "msg-1") -> dict:
    return {"id": message_id, "results": dict.fromkeys(emails, "queued")}


@override_settings(EMAIL_BACKEND=SAMPLE_BACKEND, ANYMAIL={"SAMPLE_ESP_API_KEY": "test-key"})
class RequestsBackendTests(RequestsFakeTestCase):
    default_response_json = accepted("to@example.com")

    def test_request_url_method_auth_json_and_user_agent(self):
        EmailMessage("Subject", "Body", "From <from@example.com>", ["to@example.com"]).send()
        kwargs = self.assert_api_called("POST", "https://api.sample-esp.example/v1/messages/send")
        self.assertEqual(kwargs["headers"], {"Authorization": "Bearer test-key"})
        self.assertEqual(kwargs["timeout"], 30)
        self.assertEqual(
            self.api_call_json(),
            {
                "from": {"email": "from@example.com", "name": "From"},
                "to": ["to@example.com"],
                "subject": "Subject",
                "text": "Body",
            },
        )
        session = self.api_call().args[0]
        self.assertTrue(
            session.headers["User-Agent"].startswith(f"django-anymail/{__version__}-sampleesp ")
        )

    def test_status_parsed_from_response(self):
        self.set_response(200, json_data=accepted("to@example.com", message_id="abc-123"))
        message = AnymailMessage(to=["to@example.com"])
        message.send()
        self.assertEqual(message.anymail_status.message_id, "abc-123")
        self.assertEqual(message.anymail_status.status, {"queued"})
        self.assertEqual(message.anymail_status.esp_response.json()["id"], "abc-123")

    def test_one_session_reused_across_send_messages(self):
        messages = [EmailMessage("S", "B", to=["to@example.com"]) for _ in range(3)]
        connection = get_connection()
        self.assertEqual(connection.send_messages(messages), 3)
        sessions = {call.args[0] for call in self.api_calls()}
        self.assertEqual(len(sessions), 1)
        self.assertIsNone(connection.session)  # closed after the batch

    def test_explicit_open_keeps_session_until_close(self):
        connection = get_connection()
        with connection:
            EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
            EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
            self.assertIsNotNone(connection.session)
        self.assertIsNone(connection.session)
        self.assertEqual(len({call.args[0] for call in self.api_calls()}), 1)

    def test_error_response_raises_with_esp_error_text(self):
        self.set_response(
            400, json_data={"error": "Sender domain not verified"}, reason="Bad Request"
        )
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            EmailMessage("S", "B", to=["to@example.com"]).send()
        error = cm.exception
        self.assertEqual(error.status_code, 400)
        self.assertEqual(error.response.status_code, 400)
        first_line = str(error).splitlines()[0]
        self.assertEqual(
            first_line, "Sample ESP API response 400 (Bad Request): Sender domain not verified"
        )
        self.assertIn('"error": "Sender domain not verified"', str(error))  # the whole body too
        # ... introduced without repeating the status line
        self.assertEqual(str(error).count("API response 400"), 1)
        self.assertEqual(str(error).splitlines()[1], "Response body:")
        self.assertIsInstance(error, AnymailAPIError)
        self.assertIsInstance(error, requests.RequestException)

    def test_error_reported_in_200_response(self):
        self.set_response(200, json_data={"error": "Quota exceeded"})
        with self.assertRaisesMessage(AnymailRequestsAPIError, "response 200 (OK): Quota exceeded"):
            EmailMessage("S", "B", to=["to@example.com"]).send()

    def test_server_error_with_html_body(self):
        self.set_response(503, text="<html>Service Unavailable</html>")
        with self.assertRaisesMessage(AnymailRequestsAPIError, "Service Unavailable"):
            EmailMessage("S", "B", to=["to@example.com"]).send()

    def test_network_error_wrapped(self):
        self.set_error(requests.ConnectionError("Connection refused"))
        with self.assertRaises(AnymailRequestsAPIError) as cm:
            EmailMessage("S", "B", to=["to@example.com"]).send()
        self.assertIn("Connection refused", str(cm.exception))
        self.assertIn("https://api.sample-esp.example/v1/messages/send", str(cm.exception))
        self.assertIsInstance(cm.exception.__cause__, requests.ConnectionError)
        self.assertIs(cm.exception.raised_from, cm.exception.__cause__)

    def test_network_errors_are_also_the_original_requests_exception(self):
        # So `except requests.exceptions.Timeout:` written around send() still works
        for error in [
            requests.exceptions.ReadTimeout("read timed out"),
            requests.exceptions.ConnectTimeout("connect timed out"),
            requests.exceptions.SSLError("certificate verify failed"),
            requests.exceptions.ConnectionError("Connection refused"),
            requests.exceptions.ChunkedEncodingError("connection broken"),
        ]:
            with self.subTest(error=type(error).__name__):
                self.set_error(error)
                with self.assertRaises(type(error)) as cm:
                    EmailMessage("S", "B", to=["to@example.com"]).send()
                self.assertIsInstance(cm.exception, AnymailRequestsAPIError)
                self.assertIsInstance(cm.exception, requests.HTTPError)
                self.assertIn(str(error), str(cm.exception))
                self.assertIsNone(cm.exception.response)
        # Each requests class gets one combined class, not a new one per error
        errors = []
        for _ in range(2):
            self.set_error(requests.exceptions.ReadTimeout("again"))
            with self.assertRaises(AnymailRequestsAPIError) as cm:
                EmailMessage("S", "B", to=["to@example.com"]).send()
            errors.append(type(cm.exception))
        self.assertIs(errors[0], errors[1])

    def test_api_errors_are_requests_http_errors(self):
        self.set_response(500, text="Internal error")
        with self.assertRaises(requests.HTTPError) as cm:
            EmailMessage("S", "B", to=["to@example.com"]).send()
        self.assertIsInstance(cm.exception, AnymailRequestsAPIError)
        self.assertEqual(cm.exception.status_code, 500)
        self.assertEqual(cm.exception.response.status_code, 500)

    def test_timeout_wrapped_and_fail_silently(self):
        self.set_error(requests.Timeout("read timed out"))
        sent = EmailMessage("S", "B", to=["to@example.com"]).send(fail_silently=True)
        self.assertEqual(sent, 0)

    def test_invalid_json_response(self):
        self.set_response(200, text="this is not json")
        with self.assertRaisesMessage(AnymailRequestsAPIError, "Invalid JSON in Sample ESP API"):
            EmailMessage("S", "B", to=["to@example.com"]).send()

    def test_unserializable_esp_extra_names_path(self):
        message = AnymailMessage(to=["to@example.com"], esp_extra={"options": {"when": object()}})
        with self.assertRaisesMessage(AnymailSerializationError, "data['options']['when']"):
            message.send()
        self.assert_no_api_call()

    @override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "k", "REQUESTS_TIMEOUT": (3.5, 20)})
    def test_requests_timeout_setting(self):
        EmailMessage("S", "B", to=["to@example.com"]).send()
        self.assertEqual(self.api_call_kwargs()["timeout"], (3.5, 20))

    def test_requests_timeout_none_and_kwarg(self):
        connection = get_connection(requests_timeout=None)
        EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
        self.assertIsNone(self.api_call_kwargs()["timeout"])
        connection = get_connection(requests_timeout=1.5)
        EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
        self.assertEqual(self.api_call_kwargs()["timeout"], 1.5)

    def test_api_url_is_used_as_given(self):
        # As in 6.1: the endpoint is urljoin()ed to api_url, so a base url needs its final "/"
        for api_url, expected in [
            ("https://eu.sample-esp.example/v2/", "https://eu.sample-esp.example/v2/messages/send"),
            ("https://eu.sample-esp.example/v2", "https://eu.sample-esp.example/messages/send"),
        ]:
            with self.subTest(api_url=api_url):
                connection = get_connection(api_url=api_url)
                EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
                self.assertEqual(self.api_call_kwargs()["url"], expected)
                self.assertEqual(connection.api_url, api_url)

    def test_payload_without_endpoint_posts_to_api_url_itself(self):
        # RequestsPayload.get_api_endpoint() defaults to None: api_url is the whole url
        with mock.patch.object(SamplePayload, "get_api_endpoint", RequestsPayload.get_api_endpoint):
            connection = get_connection(api_url="https://hook.example/send?key=1")
            EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
        self.assertEqual(self.api_call_kwargs()["url"], "https://hook.example/send?key=1")

    @override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "k", "DEBUG_API_REQUESTS": True})
    def test_debug_api_requests_prints_exchange(self):
        output = io.StringIO()
        with redirect_stdout(output):
            EmailMessage("Debug subject", "B", to=["to@example.com"]).send()
        printed = output.getvalue()
        self.assertIn("POST https://api.sample-esp.example/v1/messages/send", printed)
        self.assertIn('"subject": "Debug subject"', printed)
        self.assertIn("200", printed)
        self.assertIn('"id": "msg-1"', printed)

    def test_no_debug_output_by_default(self):
        output = io.StringIO()
        with redirect_stdout(output):
            EmailMessage("S", "B", to=["to@example.com"]).send()
        self.assertEqual(output.getvalue(), "")


class RequestsBackendSettingsTests(RequestsFakeTestCase):
    default_response_json = accepted("to@example.com")

    def send_with(self, **kwargs):
        connection = get_connection(SAMPLE_BACKEND, **kwargs)
        EmailMessage("S", "B", to=["to@example.com"], connection=connection).send()
        return self.api_call_kwargs()["headers"]["Authorization"]

    def test_missing_api_key_names_every_place_looked(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_connection(SAMPLE_BACKEND)
        error = str(cm.exception)
        self.assertIn('ANYMAIL = {"SAMPLE_ESP_API_KEY": ...}', error)
        self.assertIn("ANYMAIL_SAMPLE_ESP_API_KEY", error)
        self.assertIn(" SAMPLE_ESP_API_KEY", error)
        self.assertIn("api_key", error)

    def test_lookup_order(self):
        with override_settings(SAMPLE_ESP_API_KEY="bare"):
            self.assertEqual(self.send_with(), "Bearer bare")
            with override_settings(ANYMAIL_SAMPLE_ESP_API_KEY="prefixed"):
                self.assertEqual(self.send_with(), "Bearer prefixed")
                with override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "dict"}):
                    self.assertEqual(self.send_with(), "Bearer dict")
                    self.assertEqual(self.send_with(api_key="kwarg"), "Bearer kwarg")

    @override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "k"})
    def test_unknown_kwargs_from_send_mail_are_ignored(self):
        # django.core.mail.send_mail passes username/password for SMTP; they mean nothing here
        self.assertEqual(self.send_with(username=None, password=None), "Bearer k")


@override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "wire-key"})
class RealHTTPServerTests(SimpleTestCase):
    """Through requests, urllib3 and http.client to a server on 127.0.0.1: nothing faked."""

    def test_non_latin_text_is_sent_as_utf8_json(self):
        with LocalESPServer(accepted("to@example.com", message_id="wire-1")) as server:
            connection = get_connection(SAMPLE_BACKEND, api_url=server.url + "v1/")
            message = AnymailMessage(
                "Grüße 🎉 你好",
                "Body ✓",
                "Frøm <from@example.com>",
                ["to@example.com"],
                connection=connection,
            )
            message.send()
        (request,) = server.requests
        self.assertEqual(request["path"], "/v1/messages/send")
        self.assertEqual(request["headers"]["Authorization"], "Bearer wire-key")
        self.assertTrue(request["headers"]["User-Agent"].startswith("django-anymail/"))
        sent = json.loads(request["body"].decode("utf-8"))
        self.assertEqual(sent["subject"], "Grüße 🎉 你好")
        self.assertEqual(sent["from"], {"email": "from@example.com", "name": "Frøm"})
        self.assertEqual(message.anymail_status.message_id, "wire-1")

    def test_send_messages_reuses_one_connection(self):
        with LocalESPServer(accepted("to@example.com")) as server:
            connection = get_connection(SAMPLE_BACKEND, api_url=server.url)
            messages = [EmailMessage("S", "B", to=["to@example.com"]) for _ in range(4)]
            self.assertEqual(connection.send_messages(messages), 4)
            connection.send_messages([EmailMessage("S", "B", to=["to@example.com"])])
        ports = [request["client_port"] for request in server.requests]
        self.assertEqual(len(ports), 5)
        self.assertEqual(len(set(ports[:4])), 1)  # one keep-alive connection for the batch
        self.assertNotEqual(ports[4], ports[0])  # closed after it; a new one for the next call

    def test_error_status_from_real_server(self):
        with LocalESPServer({"error": "Invalid API key"}, status=401) as server:
            connection = get_connection(SAMPLE_BACKEND, api_url=server.url)
            with self.assertRaisesMessage(AnymailRequestsAPIError, "401 (Unauthorized)"):
                connection.send_messages([EmailMessage("S", "B", to=["to@example.com"])])


@override_settings(ANYMAIL={"SAMPLE_ESP_API_KEY": "wire-key"})
class ProxyEnvironmentTests(SimpleTestCase):
    """Proxy settings from the environment still apply, read once per connection and host."""

    def test_http_proxy_from_the_environment_carries_every_request(self):
        with LocalESPServer(accepted("to@example.com")) as proxy:
            environment = {"HTTP_PROXY": proxy.address, "NO_PROXY": ""}
            with mock.patch.dict("os.environ", environment):
                connection = get_connection(SAMPLE_BACKEND, api_url="http://esp.invalid/v1/")
                messages = [EmailMessage("S", "B", to=["to@example.com"]) for _ in range(3)]
                self.assertEqual(connection.send_messages(messages), 3)
        # A proxy is sent the absolute url: the ESP's host was never contacted directly
        self.assertEqual(
            [request["path"] for request in proxy.requests],
            ["http://esp.invalid/v1/messages/send"] * 3,
        )

    def test_no_proxy_from_the_environment_is_honoured(self):
        with LocalESPServer(accepted("to@example.com")) as server:
            environment = {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
            with mock.patch.dict("os.environ", environment):
                connection = get_connection(SAMPLE_BACKEND, api_url=server.url)
                connection.send_messages([EmailMessage("S", "B", to=["to@example.com"])])
        self.assertEqual(server.requests[0]["path"], "/messages/send")

    def test_environment_read_once_per_connection(self):
        with (
            LocalESPServer(accepted("to@example.com")) as server,
            mock.patch(
                "requests.sessions.get_environ_proxies", wraps=requests.utils.get_environ_proxies
            ) as read_environment,
        ):
            connection = get_connection(SAMPLE_BACKEND, api_url=server.url)
            messages = [EmailMessage("S", "B", to=["to@example.com"]) for _ in range(4)]
            connection.send_messages(messages)
            self.assertEqual(read_environment.call_count, 1)
            connection.send_messages(messages[:1])  # a new connection reads it afresh
            self.assertEqual(read_environment.call_count, 2)
        self.assertEqual(len(server.requests), 5)


@override_settings(
    EMAIL_BACKEND=SAMPLE_BACKEND, ANYMAIL={"SAMPLE_ESP_API_KEY": "SECRET-API-KEY-123"}
)
class ErrorReportRedactionTests(RequestsFakeTestCase):
    """Django's error reports (emailed to ADMINS, shown with DEBUG) must not show API keys."""

    def report_for_send_error(self) -> tuple[str, str]:
        import sys

        from django.views.debug import ExceptionReporter

        message = EmailMessage("S", "B", to=["to@example.com"])
        try:
            message.send()
        except Exception:
            reporter = ExceptionReporter(None, *sys.exc_info())
            return reporter.get_traceback_text(), reporter.get_traceback_html()
        self.fail("send() didn't raise")

    def test_network_error_report_hides_the_api_key(self):
        self.set_error(requests.ConnectionError("Connection refused"))
        text, html = self.report_for_send_error()
        self.assertIn("Connection refused", text)
        self.assertIn("post_to_esp", text)  # the frame is there, its params hidden
        for report in (text, html):
            self.assertNotIn("SECRET-API-KEY-123", report)

    def test_unexpected_error_report_hides_the_api_key(self):
        self.set_error(RuntimeError("unexpected failure inside requests"))
        text, html = self.report_for_send_error()
        self.assertIn("unexpected failure inside requests", text)
        for report in (text, html):
            self.assertNotIn("SECRET-API-KEY-123", report)

    def test_api_error_report_hides_the_api_key(self):
        self.set_response(401, json_data={"error": "Invalid API key"})
        text, html = self.report_for_send_error()
        self.assertIn("Invalid API key", text)
        for report in (text, html):
            self.assertNotIn("SECRET-API-KEY-123", report)
