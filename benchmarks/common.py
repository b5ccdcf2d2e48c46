"""What every benchmark case shares: Django's settings, the credentials, and how a case reports.

A case runs in its own process (see :mod:`benchmarks.case`), configures Django here, and
prints its result as one JSON line that the parent process picks out of its output.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

#: The prefix of the one stdout line that carries a case's result
RESULT_TAG = "BENCHMARK-RESULT "

#: Basic auth the webhook views require (WEBHOOK_SECRET)
WEBHOOK_USER, WEBHOOK_PASSWORD = "bench", "bench-webhook-pass"
WEBHOOK_SECRET = f"{WEBHOOK_USER}:{WEBHOOK_PASSWORD}"

MAILGUN_SIGNING_KEY = "bench-mailgun-signing-key"
MANDRILL_WEBHOOK_KEY = "bench-mandrill-webhook-key"
#: The url Mandrill is told to call (and signs): fixed, so signatures don't depend on the host
MANDRILL_WEBHOOK_URL = "https://bench.example.com/anymail/mandrill/"
SES_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses-tracking"

#: Body caps raised above Anymail's defaults (10 MiB tracking, 50 MiB inbound): the largest
#: cases (10,000 events in one post; a 40 MB attachment, base64-encoded) are bigger than any
#: ESP posts, and are here to show the growth curve, not to test the caps
MAX_BODY_SIZE = 256 * 1024 * 1024


def anymail_settings() -> dict[str, Any]:
    """The ANYMAIL setting for every case: credentials for each ESP (none is real)."""
    return {
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRACKING_MAX_BODY_SIZE": MAX_BODY_SIZE,
        "INBOUND_MAX_BODY_SIZE": MAX_BODY_SIZE,
        "MAILGUN_API_KEY": "key-bench",
        "MAILGUN_SENDER_DOMAIN": "mg.example.com",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "MAILJET_API_KEY": "mj-bench-key",
        "MAILJET_SECRET_KEY": "mj-bench-secret",
        "MANDRILL_API_KEY": "md-bench",
        "MANDRILL_WEBHOOK_KEY": MANDRILL_WEBHOOK_KEY,
        "MANDRILL_WEBHOOK_URL": MANDRILL_WEBHOOK_URL,
        "POSTMARK_SERVER_TOKEN": "pm-bench",
        "SENDGRID_API_KEY": "SG.bench",
        "SENDINBLUE_API_KEY": "xkeysib-bench",
        "SPARKPOST_API_KEY": "sp-bench",
        "AMAZON_SES_SNS_TOPIC_ARNS": [SES_TOPIC_ARN],
    }


def setup_django(extra_anymail: dict[str, Any] | None = None) -> None:
    """Configure a minimal Django project with Anymail's urls at ``/anymail/``."""
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks-not-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        INSTALLED_APPS=["anymail"],
        MIDDLEWARE=[],
        ROOT_URLCONF="benchmarks.urls",
        DEFAULT_FROM_EMAIL="Bench Shop <shop@mg.example.com>",
        LOGGING_CONFIG=None,
        ANYMAIL={**anymail_settings(), **(extra_anymail or {})},
    )
    django.setup()


def emit(result: dict[str, Any]) -> None:
    """Print a case's result where the parent process looks for it."""
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


def best_cpu_seconds(run: Callable[[Any], Any], repeats: int, prepare: Callable[[], Any]) -> float:
    """The least CPU time (of this process) that ``run(prepared)`` took over ``repeats`` runs.

    ``prepare()`` builds each run's input outside the timed region. The minimum, as timeit
    reports, is the run least disturbed by the rest of a shared machine.
    """
    best = float("inf")
    for _ in range(max(repeats, 1)):
        prepared = prepare()
        gc.collect()
        start = time.process_time()
        run(prepared)
        best = min(best, time.process_time() - start)
    return best


def peak_python_bytes(run: Callable[[Any], Any], prepared: Any) -> int:
    """The most Python memory that ``run(prepared)`` had allocated at once (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        run(prepared)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - baseline


def wsgi_environ(
    path: str, content_type: str, body: bytes, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The WSGI environ of a POST of body to path, with the WEBHOOK_SECRET basic auth, as a
    WSGI server makes it (headers: more ``HTTP_...`` keys)."""
    auth = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode("ascii")
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": auth,
        **(headers or {}),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def wsgi_post(handler: Any, environ: dict[str, Any]) -> str:
    """Have a WSGI handler answer a request, as a WSGI server would; the response status."""
    statuses: list[str] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        b"".join(response)
    finally:
        response.close()
    return statuses[0] if statuses else "no status"
