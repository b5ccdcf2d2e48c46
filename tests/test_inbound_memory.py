"""Inbound webhooks handle a large attachment in (nearly) constant memory.

Each case runs in a fresh interpreter (so nothing else in the test run affects its memory),
with MALLOC_MMAP_THRESHOLD_ set so freed large buffers really leave the process. It posts one
message with a 20 MB attachment straight to Django's WSGIHandler, whose receiver reads the
attachment's bytes, and reports the peak resident memory during the request beyond what the
process held before it (the high-water mark is reset through /proc/self/clear_refs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import skipUnless

from django.test import SimpleTestCase

ATTACHMENT_SIZE = 20 * 1024 * 1024
#: The receiver's own copy of the attachment is 20 MB; allow twice that again for the rest
MAX_PEAK_MB = 60


def can_reset_peak_memory() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


# Runs in the subprocess: prints one JSON line {"status", "attachment_bytes", "peak_mb"}
SCRIPT = textwrap.dedent(
    r"""
    import base64, gc, io, json, random, re, sys, types
    import django
    from django.conf import settings

    case = sys.argv[1]
    size = int(sys.argv[2])
    urls = types.ModuleType("memory_test_urls")
    sys.modules["memory_test_urls"] = urls
    settings.configure(
        SECRET_KEY="memory-test", ALLOWED_HOSTS=["*"], INSTALLED_APPS=["anymail"],
        MIDDLEWARE=[], ROOT_URLCONF="memory_test_urls", LOGGING_CONFIG=None,
        ANYMAIL={"WEBHOOK_SECRET": "user:pass"},
    )
    django.setup()
    from django.urls import include, path
    urls.urlpatterns = [path("anymail/", include("anymail.urls"))]
    from django.core.handlers.wsgi import WSGIHandler
    from anymail.signals import inbound

    received = {}

    def receiver(sender, event, esp_name, **kwargs):
        received["bytes"] = sum(len(a.get_content_bytes()) for a in event.message.attachments)

    inbound.connect(receiver, weak=False)

    attachment = base64.encodebytes(random.Random(1).randbytes(size))
    if case == "sendgrid":
        raw = (
            b"From: sender@example.org\r\nTo: inbound@example.com\r\nSubject: Big\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
            b"--MIX\r\nContent-Type: text/plain\r\n\r\nHello\r\n--MIX\r\n"
            b'Content-Type: application/octet-stream; name="big.bin"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + attachment.replace(b"\n", b"\r\n") + b"--MIX--\r\n"
        )
        fields = [
            (b"envelope", b'{"to": ["inbound@example.com"], "from": "sender@example.org"}'),
            (b"charsets", b'{"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}'),
            (b"email", raw),
        ]
        boundary = b"FormBoundary7MA4YWxkTrZu0gW"
        body = b"".join(
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name
            + b'"\r\n\r\n' + value + b"\r\n"
            for name, value in fields
        ) + b"--" + boundary + b"--\r\n"
        content_type = "multipart/form-data; boundary=" + boundary.decode()
        del raw, fields
    else:
        head = json.dumps({
            "FromFull": {"Email": "sender@example.org", "Name": "Sender"},
            "ToFull": [{"Email": "inbound@example.com", "Name": ""}],
            "Subject": "Big", "MessageID": "0f1e2d3c-memory-test", "TextBody": "Hello",
            "Headers": [],
        })
        body = (
            head[:-1].encode() + b', "Attachments": [{"Name": "big.bin", "Content": "'
            + attachment.replace(b"\n", b"")
            + b'", "ContentType": "application/octet-stream"}]}'
        )
        content_type = "application/json"
    del attachment

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": f"/anymail/{case}/inbound/", "SCRIPT_NAME": "",
        "QUERY_STRING": "", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"user:pass").decode(),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }

    def memory_kb(key):
        with open("/proc/self/status") as status:
            return int(re.search(key + r":\s+(\d+) kB", status.read()).group(1))

    handler = WSGIHandler()
    statuses = []
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # (resets VmHWM to the current VmRSS)
    before = memory_kb("VmRSS")
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(response)
    response.close()
    peak = memory_kb("VmHWM")
    print(json.dumps({
        "status": statuses[0] if statuses else None,
        "attachment_bytes": received.get("bytes"),
        "peak_mb": (peak - before) / 1024,
    }))
    """
)


@skipUnless(can_reset_peak_memory(), "needs /proc/self/clear_refs to measure peak memory")
class InboundMemoryTests(SimpleTestCase):
    def peak_memory(self, case: str) -> dict:
        env = {
            **os.environ,
            "MALLOC_MMAP_THRESHOLD_": "131072",
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent)]),
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, case, str(ATTACHMENT_SIZE)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def assert_constant_memory(self, case: str) -> None:
        measured = self.peak_memory(case)
        self.assertEqual(measured["status"], "200 OK")
        self.assertEqual(measured["attachment_bytes"], ATTACHMENT_SIZE)
        self.assertLess(measured["peak_mb"], MAX_PEAK_MB, measured)

    def test_sendgrid_raw_mime_attachment(self):
        self.assert_constant_memory("sendgrid")

    def test_postmark_json_attachment(self):
        self.assert_constant_memory("postmark")
