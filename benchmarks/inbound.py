"""The inbound workload: one inbound message with an N MB attachment, to an ESP's inbound view.

SendGrid's Inbound Parse posts multipart/form-data with the raw MIME message in its ``email``
field (the "POST the raw, full MIME message" option); Postmark posts JSON, the attachment
base64-encoded in ``Attachments``. The request is fed straight to Django's ``WSGIHandler``,
as a WSGI server would, and the inbound signal's receiver reads the attachment's bytes.

Measured, for that one request in a fresh process: the peak RSS it added (VmHWM after the
request, minus VmRSS before it, with the high-water mark reset through /proc/self/clear_refs;
ru_maxrss where /proc lacks them), and its CPU time. The parent runs these cases with
``MALLOC_MMAP_THRESHOLD_=131072``, so glibc returns large buffers to the system when they are
freed and the peak is what was really held at once.
"""

from __future__ import annotations

import base64
import gc
import json
import random
import re
import resource
import time
from typing import Any

from .common import setup_django, wsgi_environ, wsgi_post

TEXT = "Hi,\n\nThe photos from the trip are attached.\n\n-- Sender\n"
#: Environment for an inbound case's process (see the module docstring)
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def sendgrid_request(b64_lines: bytes) -> tuple[str, bytes]:
    """Inbound Parse's multipart post, with the raw MIME message in the "email" field."""
    raw = (
        (
            "From: Sender <sender@example.org>\r\nTo: inbound@bench.example.com\r\n"
            "Subject: Big attachment\r\nDate: Wed, 01 May 2024 12:00:00 +0000\r\n"
            "Message-ID: <big.1@example.org>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="BENCH-MIXED"\r\n\r\n'
            "--BENCH-MIXED\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{TEXT}\r\n--BENCH-MIXED\r\n"
            'Content-Type: application/octet-stream; name="big.bin"\r\n'
            'Content-Disposition: attachment; filename="big.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + b64_lines.replace(b"\n", b"\r\n")
        + b"\r\n--BENCH-MIXED--\r\n"
    )
    fields: list[tuple[str, str | bytes]] = [
        ("to", "inbound@bench.example.com"),
        ("from", "Sender <sender@example.org>"),
        ("subject", "Big attachment"),
        ("spam_score", "0.1"),
        ("SPF", "pass"),
        (
            "envelope",
            json.dumps({"to": ["inbound@bench.example.com"], "from": "sender@example.org"}),
        ),
        ("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"})),
        ("email", raw),
    ]
    boundary = "----BenchFormBoundary7MA4YWxkTrZu0gW"
    parts = []
    for name, value in fields:
        data = value if isinstance(value, bytes) else value.encode()
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def postmark_request(b64_lines: bytes, size: int) -> tuple[str, bytes]:
    """Postmark's inbound JSON, the attachment base64-encoded (one line) in Attachments."""
    head = {
        "FromFull": {"Email": "sender@example.org", "Name": "Sender", "MailboxHash": ""},
        "From": "sender@example.org",
        "FromName": "Sender",
        "ToFull": [{"Email": "inbound@bench.example.com", "Name": "", "MailboxHash": ""}],
        "To": "inbound@bench.example.com",
        "CcFull": [],
        "BccFull": [],
        "OriginalRecipient": "inbound@bench.example.com",
        "Subject": "Big attachment",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Wed, 01 May 2024 12:00:00 +0000",
        "TextBody": TEXT,
        "HtmlBody": "",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": "<big.1@example.org>"},
        ],
    }
    attachment_head = '"Attachments": [{"Name": "big.bin", "Content": "'
    attachment_tail = f'", "ContentType": "application/octet-stream", "ContentLength": {size}}}]}}'
    body = (
        json.dumps(head)[:-1].encode()
        + b", "
        + attachment_head.encode()
        + b64_lines.replace(b"\n", b"")
        + attachment_tail.encode()
    )
    return "application/json", body


def request_for(esp: str, size: int) -> tuple[str, bytes]:
    """(content type, body) of esp's inbound post of a message with a size-byte attachment."""
    attachment = random.Random(size).randbytes(size)
    b64_lines = base64.encodebytes(attachment)
    del attachment
    if esp == "sendgrid":
        return sendgrid_request(b64_lines)
    if esp == "postmark":
        return postmark_request(b64_lines, size)
    raise ValueError(f"No inbound benchmark for {esp!r}")


def proc_status_kb(field: str) -> int | None:
    """A "VmRSS"-style field of /proc/self/status, in kB (None where there's none)."""
    try:
        with open("/proc/self/status") as status:
            match = re.search(field + r":\s+(\d+) kB", status.read())
    except OSError:
        return None
    return int(match.group(1)) if match else None


def run_case(esp: str, megabytes: int) -> dict[str, Any]:
    """Measure one inbound post to esp with a megabytes MB attachment."""
    setup_django()
    from django.core.handlers.wsgi import WSGIHandler

    from anymail.signals import inbound

    size = megabytes * 1024 * 1024
    read: list[int] = []

    def receiver(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
        read.append(sum(len(a.get_content_bytes()) for a in event.message.attachments))

    inbound.connect(receiver, weak=False)
    handler = WSGIHandler()
    # Warm up with a small message (imports, url resolving), so the measured request's
    # numbers are its own
    url = f"/anymail/{esp}/inbound/"
    wsgi_post(handler, wsgi_environ(url, *request_for(esp, 1024)))
    read.clear()
    environ = wsgi_environ(url, *request_for(esp, size))
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # reset VmHWM to the current RSS
        before_kb, method = proc_status_kb("VmRSS"), "VmHWM"
    except OSError:
        before_kb, method = None, "ru_maxrss"
    if before_kb is None:
        before_kb, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
    start = time.process_time()
    status = wsgi_post(handler, environ)
    cpu = time.process_time() - start
    peak_kb = (
        proc_status_kb("VmHWM")
        if method == "VmHWM"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    if not status.startswith("200") or read != [size]:
        raise RuntimeError(f"{esp}: HTTP {status}, attachment bytes read {read}")
    return {
        "cpu_s": cpu,
        "peak_rss_bytes": ((peak_kb or 0) - before_kb) * 1024,
        "body_bytes": int(environ["CONTENT_LENGTH"]),
        "rss_method": method,
    }
