"""A fake ESP on 127.0.0.1: answers each ESP's send API as the real one does on success.

It runs in a process of its own (``python -m benchmarks.fake_esp``), so the CPU and memory
it spends parsing our requests aren't counted as ours. Each answer covers every recipient of
the request, in the shape the ESP documents (the same shapes as the backends' tests use), so
the backend's response parsing does its full work. Batch size caps that real ESPs enforce are
not: any size is accepted.

Urls are ``/<esp>/<the ESP's own API path>``; Amazon SES's query API is at ``/``. The server
also counts what it receives: ``GET /__stats__`` answers ``{"requests", "bytes"}``, where bytes
are the request line, headers and body, as they came over the wire.

The server stops when its standard input closes (so when the process that started it ends),
or after :data:`MAX_LIFETIME` seconds, whichever comes first.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

#: Seconds after which the server stops by itself, however it was started
MAX_LIFETIME = 4 * 3600

SES_XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"


class Stats:
    """What the server has received so far (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0

    def add(self, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += size

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {"requests": self.requests, "bytes": self.bytes}


def json_answer(data: Any, status: int = 200) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(data).encode("utf-8")


def addresses(field: Any) -> list[str]:
    """The addr-specs in a To/Cc/Bcc string like "Name <a@example.com>, b@example.com"."""
    if not field:
        return []
    return [addr for _name, addr in getaddresses([field]) if addr]


def postmark_answer(path: str, body: bytes) -> tuple[int, str, bytes]:
    """email and email/withTemplate: one result; email/batch(WithTemplates): one per message."""

    def result(message: dict[str, Any], n: int) -> dict[str, Any]:
        return {
            "To": message.get("To", ""),
            "SubmittedAt": "2024-05-01T12:00:00.0000000-04:00",
            "MessageID": f"b7bc2f4a-e38e-4336-af7d-{n:012d}",
            "ErrorCode": 0,
            "Message": "OK",
        }

    data = json.loads(body)
    if "/batch" in path:
        messages = data["Messages"] if isinstance(data, dict) else data
        return json_answer([result(message, n) for n, message in enumerate(messages)])
    return json_answer(result(data, 0))


def sparkpost_answer(body: bytes) -> tuple[int, str, bytes]:
    """Transmissions: counts only (SparkPost doesn't say which recipients it took)."""
    recipients = json.loads(body).get("recipients", [])
    count = len(recipients) if isinstance(recipients, list) else 1
    return json_answer(
        {
            "results": {
                "total_rejected_recipients": 0,
                "total_accepted_recipients": count,
                "id": "11668787484950529",
            }
        }
    )


def mailjet_answer(body: bytes) -> tuple[int, str, bytes]:
    """Send API v3: a "Sent" entry for every copy of every message (to, cc and bcc)."""
    data = json.loads(body)
    messages = data.get("Messages", [data])
    sent: list[dict[str, Any]] = []
    for message in messages:
        for field in ("To", "Cc", "Bcc"):
            for addr in addresses(message.get(field)):
                sent.append({"Email": addr, "MessageID": 288230376150000000 + len(sent)})
    return json_answer({"Sent": sent})


def mandrill_answer(body: bytes) -> tuple[int, str, bytes]:
    """messages/send(-template).json: one result per recipient."""
    recipients = json.loads(body).get("message", {}).get("to", [])
    return json_answer(
        [
            {"email": r["email"], "status": "sent", "_id": f"{n:032x}", "reject_reason": None}
            for n, r in enumerate(recipients)
        ]
    )


def ses_answer(body: bytes) -> tuple[int, str, bytes]:
    """The SES v1 query API: SendRawEmail, or SendBulkTemplatedEmail (a Status per
    Destination)."""
    form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    action = form.get("Action")
    request_id = "<ResponseMetadata><RequestId>e0abcdfa-bench</RequestId></ResponseMetadata>"
    if action == "SendBulkTemplatedEmail":
        destinations = {
            match[1]
            for key in form
            if (match := re.match(r"Destinations\.member\.(\d+)\.", key)) is not None
        }
        members = "".join(
            f"<member><Status>Success</Status><MessageId>0100018f-bulk-{n:08d}</MessageId></member>"
            for n in range(len(destinations))
        )
        xml = (
            f'<SendBulkTemplatedEmailResponse xmlns="{SES_XMLNS}"><SendBulkTemplatedEmailResult>'
            f"<Status>{members}</Status></SendBulkTemplatedEmailResult>{request_id}"
            "</SendBulkTemplatedEmailResponse>"
        )
    elif action == "SendRawEmail":
        xml = (
            f'<SendRawEmailResponse xmlns="{SES_XMLNS}"><SendRawEmailResult>'
            f"<MessageId>0100018f-bench-raw</MessageId></SendRawEmailResult>{request_id}"
            "</SendRawEmailResponse>"
        )
    else:
        return 400, "text/plain", f"fake SES: unexpected Action {action!r}".encode()
    return 200, "text/xml", xml.encode("utf-8")


def answer(path: str, body: bytes) -> tuple[int, str, bytes]:
    """(status, content type, body) for a POST to path."""
    if path == "/" or path.startswith("/?"):
        return ses_answer(body)
    esp = path.split("/", 2)[1]
    if esp == "mailgun":
        return json_answer(
            {"id": "<20240501120000.1.bench@mg.example.com>", "message": "Queued. Thank you."}
        )
    if esp == "postmark":
        return postmark_answer(path, body)
    if esp == "sendgrid":
        return 202, "text/plain", b""  # Mail Send: 202 Accepted, empty body
    if esp == "sparkpost":
        return sparkpost_answer(body)
    if esp == "mailjet":
        return mailjet_answer(body)
    if esp == "mandrill":
        return mandrill_answer(body)
    if esp == "sendinblue":
        return json_answer(
            {"messageId": "<202405011200.12345678901@smtp-relay.mailin.fr>"}, status=201
        )
    return 404, "text/plain", f"fake ESP: no API at {path}".encode()


def make_server(port: int = 0) -> ThreadingHTTPServer:
    """A fake ESP server on 127.0.0.1 (not yet serving)."""
    stats = Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the ESPs' APIs
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/__stats__":
                self.reply(*json_answer(stats.as_dict()))
            else:
                self.reply(404, "text/plain", b"not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # The request line and each "Name: value" header with their CRLFs, a blank line
            head = len(self.requestline) + 2 + 2
            head += sum(len(name) + len(value) + 4 for name, value in self.headers.items())
            stats.add(head + len(body))
            try:
                self.reply(*answer(self.path, body))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                self.reply(400, "text/plain", f"fake ESP: bad request: {err!r}".encode())

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


class FakeESPProcess:
    """Runs the fake ESP in a child process, for as long as the ``with`` block lasts."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeESPProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fake_esp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"The fake ESP didn't start (said {self.url!r})")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the server's cue to stop
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def main() -> None:
    """Serve until standard input closes; print the base url first."""
    server = make_server()
    port = server.server_address[1]
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
    ).start()
    print(f"http://127.0.0.1:{port}", flush=True)
    stopper = threading.Timer(MAX_LIFETIME, server.shutdown)
    stopper.daemon = True
    stopper.start()
    done = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    done.wait(MAX_LIFETIME)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
