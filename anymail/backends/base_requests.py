"""Base for ESPs reached over HTTP with Requests: one Session per open()/close()."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import urljoin, urlsplit

import requests
from django.views.decorators.debug import sensitive_variables

from .._version import __version__
from ..conf import get_anymail_setting
from ..exceptions import AnymailRequestsAPIError
from ..serialization import serialize_json
from .base import AnymailBackendOptions, AnymailBaseBackend, BasePayload

if TYPE_CHECKING:
    from typing_extensions import Unpack  # (typing.Unpack is Python 3.11+)

DEFAULT_REQUESTS_TIMEOUT = 30  # seconds


class RequestsTimeoutOptions(AnymailBackendOptions, total=False):
    """The options of a backend whose API calls go through Requests."""

    #: seconds; a (connect, read) pair; or None for no timeout (as Requests' own timeout)
    requests_timeout: float | tuple[float, float] | None


class RequestsBackendOptions(RequestsTimeoutOptions, total=False):
    """RequestsTimeoutOptions plus the API url: what an ESP's Requests-based backend takes."""

    api_url: str


RequestsPayloadT = TypeVar("RequestsPayloadT", bound="RequestsPayload")


class SupportsRequestParams(Protocol):
    """What post_to_esp needs: a payload, or any other API call an ESP backend makes."""

    def get_request_params(self, api_url: str) -> dict[str, Any]: ...


class EnvironmentCachingSession(requests.Session):
    """A Session that reads proxy and CA-bundle settings from the environment once per origin.

    Requests re-reads them (and evaluates no_proxy) on every call, which costs as much as
    building a payload. A backend connection is short-lived, so reading them when it first
    talks to an ESP's host honours the environment just as well.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment_by_origin: dict[tuple[Any, ...], Any] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:  # (requests' own _Settings TypedDict isn't public)
        if proxies or not self.trust_env:  # (explicit proxies: nothing worth caching)
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        if key not in self._environment_by_origin:
            self._environment_by_origin[key] = super().merge_environment_settings(
                url, {}, stream, verify, cert
            )
        settings = self._environment_by_origin[key]
        return {**settings, "proxies": dict(settings["proxies"])}


class AnymailRequestsBackend(AnymailBaseBackend[RequestsPayloadT]):
    """Posts each payload's request with a shared ``requests.Session``."""

    def __init__(self, api_url: str, **kwargs: Unpack[RequestsTimeoutOptions]) -> None:
        # Used as given (payloads urljoin their endpoint to it), as 6.1 did
        self.api_url = api_url
        options = cast("dict[str, Any]", kwargs)  # (get_anymail_setting pops what it reads)
        self.timeout = get_anymail_setting(
            "requests_timeout", default=DEFAULT_REQUESTS_TIMEOUT, kwargs=options
        )
        super().__init__(**options)
        self.session: requests.Session | None = None

    def open(self) -> bool:
        if self.session is not None:
            return False
        self.session = EnvironmentCachingSession()
        self.session.headers["User-Agent"] = (
            f"django-anymail/{__version__}-{self.esp_name.lower().replace(' ', '')} "
            f"{requests.utils.default_user_agent()}"  # (what a new Session sends)
        )
        return True

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    @sensitive_variables("params")  # (not via method_decorator: its frame would show them)
    def post_to_esp(self, payload: SupportsRequestParams, message: Any) -> requests.Response:
        """Make the payload's API request; AnymailRequestsAPIError for any failure.

        ``params`` holds the API key (in headers, auth or the url), so Django's error reports
        hide it; frames below this one (Requests' internals, whose locals hold the same
        headers) are dropped from any error's traceback for the same reason.
        """
        params = payload.get_request_params(self.api_url)
        params.setdefault("timeout", self.timeout)
        session = self.session
        created_session = session is None  # e.g., a backend used without send_messages()
        if created_session:
            self.open()
            session = self.session
        assert session is not None  # (open() made one)
        try:
            response = session.request(**params)
        except requests.RequestException as err:
            err.with_traceback(None)  # its frames' locals include the request's auth headers
            # (a class is hashable: typeshed's protocol check trips on its __hash__ signature)
            raise network_error_class(type(err))(  # type: ignore[arg-type]
                f"Error calling {self.esp_name} API at {params.get('url')}: {err}",
                email_message=message,
                payload=payload,
                backend=self,
                raised_from=err,
            ) from err
        except Exception as err:
            # Not a network error (e.g., an invalid header value): raise it as it is, but
            # without the frames below this one, whose locals hold the API key
            if err.__traceback__ is not None:
                err.__traceback__.tb_next = None
            raise
        finally:
            if created_session:
                self.close()
        if self.debug_api_requests:
            describe_request_and_response(response, self.esp_name)
        self.raise_for_status(response, payload, message)
        return response

    def raise_for_status(self, response: requests.Response, payload: Any, message: Any) -> None:
        """Raise AnymailRequestsAPIError, with the ESP's error text, for a failed response."""
        if self.response_ok(response):
            return
        try:
            detail = self.error_detail(response)
        except Exception:  # an unexpected error body mustn't hide the API error itself
            detail = None
        raise AnymailRequestsAPIError(
            f"{self.esp_name} API response {response.status_code} ({response.reason})"
            + (f": {detail}" if detail else ""),
            email_message=message,
            payload=payload,
            response=response,
            backend=self,
        )

    def response_ok(self, response: requests.Response) -> bool:
        """Whether the API call succeeded (ESPs that report errors with a 200 override this)."""
        return 200 <= response.status_code <= 299

    def error_detail(self, response: requests.Response) -> str | None:
        """The ESP's own words from an error response, put first in the exception message.

        (The full response body is always included after it, too.)
        """
        return None

    def deserialize_json_response(
        self, response: requests.Response, payload: Any, message: Any
    ) -> Any:
        """response.json(), or AnymailRequestsAPIError if the ESP sent something else."""
        try:
            return response.json()
        except ValueError as err:
            raise AnymailRequestsAPIError(
                f"Invalid JSON in {self.esp_name} API response",
                email_message=message,
                payload=payload,
                response=response,
                backend=self,
            ) from err


class RequestsPayload(BasePayload):
    """A payload that becomes one HTTP request: ESPs fill in data, headers, files, etc."""

    # headers, auth and params may hold the API key: keep it out of Django's error reports
    @sensitive_variables("headers", "auth", "params")
    def __init__(
        self,
        message: Any,
        defaults: dict[str, Any],
        backend: AnymailRequestsBackend[Any],
        method: str = "POST",
        params: dict[str, Any] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
        auth: Any = None,
    ) -> None:
        self.method = method
        self.params = params
        self.data = data
        self.headers = headers
        self.files = files
        self.auth = auth
        super().__init__(message, defaults, backend)

    def get_request_params(self, api_url: str) -> dict[str, Any]:
        """Keyword args for ``Session.request()``."""
        data = self.serialize_data()
        if isinstance(data, str):
            # http.client would encode a str body as Latin-1, failing on most non-Latin text
            data = data.encode("utf-8")
        endpoint = self.get_api_endpoint()
        return {
            "method": self.method,
            "url": api_url if endpoint is None else urljoin(api_url, endpoint),
            "params": self.params,
            "data": data,
            "headers": self.headers,
            "files": self.files,
            "auth": self.auth,
        }

    def get_api_endpoint(self) -> str | None:
        """The endpoint path, joined to the backend's api_url; None posts to api_url itself."""
        return None

    def serialize_data(self) -> Any:
        """The request body as sent (JSON APIs return ``self.serialize_json(self.data)``)."""
        return self.data

    def serialize_json(self, data: Any) -> str:
        text = serialize_json(data, self.esp_name, email_message=self.message, backend=self.backend)
        return self.restore_verbatim_json(text)


@cache
def network_error_class(requests_error_class: type) -> type[AnymailRequestsAPIError]:
    """AnymailRequestsAPIError that is also requests_error_class (Timeout, ConnectionError...).

    So ``except requests.exceptions.Timeout:`` around ``send()`` still catches a timeout.
    """
    if issubclass(AnymailRequestsAPIError, requests_error_class):
        return AnymailRequestsAPIError
    return type(
        f"AnymailRequestsAPIError_{requests_error_class.__name__}",
        (AnymailRequestsAPIError, requests_error_class),
        {"__module__": AnymailRequestsAPIError.__module__},
    )


def describe_request_and_response(response: requests.Response, esp_name: str) -> None:
    """DEBUG_API_REQUESTS: print the raw API exchange (may include API keys: dev only)."""
    request = response.request
    out = sys.stdout
    out.write(f"===== Anymail API request ({esp_name})\n{request.method} {request.url}\n")
    for name, value in request.headers.items():
        out.write(f"{name}: {value}\n")
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    out.write(f"\n{body or ''}\n")
    out.write(f"===== Anymail API response\n{response.status_code} {response.reason}\n")
    for name, value in response.headers.items():
        out.write(f"{name}: {value}\n")
    out.write(f"\n{response.text}\n")
