"""The send workload: one batch send to N recipients, through each ESP's real backend.

The message has N "to" recipients (with display names, where the ESP allows them with a
template), ``merge_data`` for each of them and ``merge_global_data``, and a stored template id
or a text and HTML body, as the ESP needs for a batch send. It goes through the ESP's backend,
over HTTP/1.1 keep-alive, to :mod:`benchmarks.fake_esp` (Amazon SES through boto3 with
``endpoint_url`` pointed there too).

Measured, for the ``send_messages()`` call alone (building the message is the user's code):

* CPU: the least ``time.process_time()`` of several sends (this process only: the fake ESP
  runs in another one);
* peak Python memory: tracemalloc's peak during one more send;
* request bytes: what the fake ESP received for one send.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from .common import best_cpu_seconds, peak_python_bytes, setup_django

#: Each ESP: (backend, the API url setting's path on the fake ESP (None: Amazon SES, through
#: boto3's endpoint_url), template_id (None: a text and HTML body instead),
#: whether recipients may have display names, whether merge_data is supported)
ESPS: dict[str, tuple[str, str | None, Any, bool, bool]] = {
    "mailgun": ("anymail.backends.mailgun.EmailBackend", "/mailgun/v3/", None, True, True),
    "postmark": ("anymail.backends.postmark.EmailBackend", "/postmark/", 1234567, True, True),
    "sendgrid": (
        "anymail.backends.sendgrid.EmailBackend",
        "/sendgrid/v3/",
        "d-5a963add2ec84305813ff860db277d7a",
        True,
        True,
    ),
    "sparkpost": (
        "anymail.backends.sparkpost.EmailBackend",
        "/sparkpost/api/v1",
        "order-shipped",
        True,
        True,
    ),
    "mailjet": ("anymail.backends.mailjet.EmailBackend", "/mailjet/v3/", None, True, True),
    "mandrill": (
        "anymail.backends.mandrill.EmailBackend",
        "/mandrill/api/1.0/",
        "order-shipped",
        True,
        True,
    ),
    # SendinBlue has no batch sending (merge_data): one message to all N, with template params;
    # and its templates refuse display names
    "sendinblue": ("anymail.backends.sendinblue.EmailBackend", "/sendinblue/v3/", 7, False, False),
    "amazon_ses": ("anymail.backends.amazon_ses.EmailBackend", None, "OrderShipped", True, True),
}

TEXT = "Hi {{name}},\n\nYour order {{order_id}} has shipped.\n\n-- {{shop}}\n"
HTML = "<p>Hi {{name}},</p><p>Your order <b>{{order_id}}</b> has shipped.</p><p>{{shop}}</p>"


def esp_settings(esp: str, server_url: str) -> dict[str, Any]:
    """ANYMAIL settings that point esp's backend at the fake ESP."""
    api_path = ESPS[esp][1]
    if api_path is None:
        return {
            "AMAZON_SES_CLIENT_PARAMS": {
                "endpoint_url": server_url,
                "region_name": "us-east-1",
                "aws_access_key_id": "AKIDBENCHMARK",
                "aws_secret_access_key": "bench-secret",
            }
        }
    return {f"{esp.upper()}_API_URL": server_url + api_path}


def build_message(esp: str, n: int, batch: int = 0) -> Any:
    """The batch message for esp: n recipients (batch makes addresses differ between sends)."""
    from anymail.message import AnymailMessage

    _backend, _path, template_id, display_names, merge_data = ESPS[esp]
    to, per_recipient = [], {}
    for i in range(n):
        addr = f"customer{batch}.{i}@example.com"
        to.append(f"Customer {i} <{addr}>" if display_names else addr)
        per_recipient[addr] = {"name": f"Customer {i}", "order_id": f"A-{100000 + i}"}
    message = AnymailMessage(from_email="Bench Shop <shop@mg.example.com>", to=to)
    if template_id is None:
        message.subject = "Your order has shipped"
        message.body = TEXT
        message.attach_alternative(HTML, "text/html")
    else:
        message.template_id = template_id
        if esp == "sendinblue":
            # (SendinBlue templates refuse another sender; None means the template's own)
            message.from_email = None  # type: ignore[assignment]
    if merge_data:
        message.merge_data = per_recipient
    message.merge_global_data = {"shop": "Bench Shop", "support": "https://shop.example.com/help"}
    return message


def received(server_url: str) -> dict[str, int]:
    """The fake ESP's running totals."""
    with urllib.request.urlopen(server_url + "/__stats__", timeout=30) as response:
        stats: dict[str, int] = json.load(response)
    return stats


def run_case(esp: str, n: int, repeats: int, server_url: str) -> dict[str, Any]:
    """Measure one batch send of n recipients through esp's backend."""
    setup_django(esp_settings(esp, server_url))
    from django.utils.module_loading import import_string

    backend = import_string(ESPS[esp][0])(fail_silently=False)
    backend.open()
    batches = iter(range(1, 10_000))

    def send(message: Any) -> None:
        sent = backend.send_messages([message])
        statuses = message.anymail_status.recipients
        if sent != 1 or len(statuses) != len(message.to):
            raise RuntimeError(f"{esp}: sent {sent}, with {len(statuses)} of {n} statuses")
        bad = {status.status for status in statuses.values()} - {"queued", "sent"}
        if bad:
            raise RuntimeError(f"{esp}: recipient status {bad}")

    try:
        send(build_message(esp, 2))  # warm up: imports, connection, caches
        before = received(server_url)
        cpu = best_cpu_seconds(send, repeats, lambda: build_message(esp, n, next(batches)))
        after = received(server_url)
        requests = after["requests"] - before["requests"]
        peak = peak_python_bytes(send, build_message(esp, n, next(batches)))
    finally:
        backend.close()
    return {
        "cpu_s": cpu,
        "peak_bytes": peak,
        "request_bytes": (after["bytes"] - before["bytes"]) / max(repeats, 1),
        "requests_per_send": requests / max(repeats, 1),
    }
