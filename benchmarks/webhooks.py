"""The webhooks workload: N tracking events posted to an ESP's tracking view.

Events are delivered, opened and clicked in turn, shaped as each ESP documents them (as in the
webhook tests), and posted with Django's test client with the WEBHOOK_SECRET basic auth, every
signature the ESP adds (Mailgun, Mandrill, Amazon SNS) made as the ESP makes it. An ESP that
batches events gets one post of N events; Mailgun, Postmark and Amazon SES (one SNS message
per event) post each event on its own, so for them the case is N posts of one event.

Measured: CPU for all N events (the least of several runs; per event is that divided by N),
and the peak Python memory while all N are handled (tracemalloc; these posts go straight to
Django's WSGIHandler, as the test client keeps a little memory of its own per request). Each
run starts with an empty Django cache, as Mailgun's and Mandrill's replay protection remembers
what it has seen, and every event must reach the tracking signal's receiver.

Amazon SNS messages are signed with a locally generated RSA key, whose certificate Anymail gets
from a stand-in for ``anymail.webhooks.sns.fetch_signing_certificate`` (no network). Signing
is slow, so at most :data:`SES_DISTINCT_MESSAGES` different messages are signed and reposted
in turn; each post is still verified in full.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from .common import (
    MAILGUN_SIGNING_KEY,
    MANDRILL_WEBHOOK_KEY,
    MANDRILL_WEBHOOK_URL,
    SES_TOPIC_ARN,
    WEBHOOK_PASSWORD,
    WEBHOOK_SECRET,
    WEBHOOK_USER,
    best_cpu_seconds,
    peak_python_bytes,
    setup_django,
    wsgi_environ,
    wsgi_post,
)

#: A post: (content type, body, extra request headers as Django test client kwargs)
Post = tuple[str, bytes, dict[str, Any]]

KINDS = ("delivered", "opened", "clicked")
TS0 = 1714564800  # 2024-05-01T12:00:00Z
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
LINK = "https://shop.example.com/orders/A-100042"
SES_DISTINCT_MESSAGES = 1000
SES_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bench.pem"


def json_post(body: Any) -> Post:
    return "application/json", json.dumps(body).encode("utf-8"), {}


# Batching ESPs: one post of n events


def sendgrid_posts(n: int) -> list[Post]:
    events = []
    for i in range(n):
        kind = KINDS[i % 3]
        event: dict[str, Any] = {
            "email": f"customer{i}@example.com",
            "timestamp": TS0 + i,
            "smtp-id": f"<{i}.bench@ismtpd-1>",
            "category": ["orders"],
            "sg_event_id": f"sg_evt_{i:010d}",
            "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001.{i}.0",
            "anymail_id": f"0c2e4b7a-3a1f-4c2e-9b7a-{i:012d}",
            "order_id": f"A-{100000 + i}",
            "event": {"delivered": "delivered", "opened": "open", "clicked": "click"}[kind],
        }
        if kind == "delivered":
            event.update(response="250 2.0.0 OK", tls=1, ip="198.51.100.7")
        else:
            event.update(useragent=USER_AGENT, ip="198.51.100.8")
            if kind == "clicked":
                event["url"] = LINK
        events.append(event)
    return [json_post(events)]


def sparkpost_posts(n: int) -> list[Post]:
    events = []
    for i in range(n):
        kind = KINDS[i % 3]
        event: dict[str, Any] = {
            "type": {"delivered": "delivery", "opened": "open", "clicked": "click"}[kind],
            "campaign_id": "orders",
            "customer_id": "1",
            "event_id": str(92356927693813850 + i),
            "friendly_from": "shop@mg.example.com",
            "message_id": f"000443ee14578172be{i:06d}",
            "rcpt_meta": {"order_id": f"A-{100000 + i}"},
            "rcpt_tags": ["orders"],
            "rcpt_to": f"customer{i}@example.com",
            "raw_rcpt_to": f"customer{i}@example.com",
            "subject": "Your order has shipped",
            "timestamp": str(TS0 + i),
            "transmission_id": "11668787484950529",
            "ip_address": "198.51.100.7",
        }
        if kind == "delivered":
            event.update(delv_method="esmtp", num_retries="0", queue_time="12", msg_size="2823")
            event["raw_reason"] = "250 2.0.0 OK"
            events.append({"msys": {"message_event": event}})
        else:
            event["user_agent"] = USER_AGENT
            if kind == "clicked":
                event["target_link_url"] = LINK
            events.append({"msys": {"track_event": event}})
    return [json_post(events)]


def mailjet_posts(n: int) -> list[Post]:
    # Mailjet's "group events" option: one post of an array
    events = []
    for i in range(n):
        kind = KINDS[i % 3]
        event: dict[str, Any] = {
            "event": {"delivered": "sent", "opened": "open", "clicked": "click"}[kind],
            "time": TS0 + i,
            "MessageID": 19421777835146490 + i,
            "Message_GUID": f"1ab23cd4-e567-8901-2345-{i:012d}",
            "email": f"customer{i}@example.com",
            "mj_campaign_id": 7257,
            "mj_contact_id": 4 + i,
            "customcampaign": "orders",
            "CustomID": "",
            "Payload": json.dumps({"order_id": f"A-{100000 + i}"}),
        }
        if kind == "delivered":
            event["mj_message_id"] = str(19421777835146490 + i)
            event["smtp_reply"] = "sent (250 2.0.0 OK 1714564800 fa5si855896wjc.199 - gsmtp)"
        else:
            event.update(ip="198.51.100.8", geo="US", agent=USER_AGENT)
            if kind == "clicked":
                event["url"] = LINK
        events.append(event)
    return [json_post(events)]


def sendinblue_posts(n: int) -> list[Post]:
    events = []
    for i in range(n):
        kind = KINDS[i % 3]
        ts = TS0 + i
        event: dict[str, Any] = {
            "event": {"delivered": "delivered", "opened": "unique_opened", "clicked": "click"}[
                kind
            ],
            "email": f"customer{i}@example.com",
            "id": 1234567,
            "date": datetime.fromtimestamp(ts + 7200, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "ts": ts,
            "message-id": f"<202405011200.{12345678901 + i}@smtp-relay.mailin.fr>",
            "ts_event": ts + 7200,
            "subject": "Your order has shipped",
            "tag": "orders",
            "X-Mailin-custom": json.dumps({"order_id": f"A-{100000 + i}"}),
            "sending_ip": "185.41.28.109",
            "ts_epoch": ts * 1000 + 123,
        }
        if kind == "clicked":
            event["link"] = LINK
        events.append(event)
    return [json_post(events)]


def mandrill_event(i: int) -> dict[str, Any]:
    kind = KINDS[i % 3]
    msg = {
        "ts": TS0 + i,
        "subject": "Your order has shipped",
        "email": f"customer{i}@example.com",
        "sender": "shop@mg.example.com",
        "tags": ["orders"],
        "opens": [{"ts": TS0 + i + 60}] if kind != "delivered" else [],
        "clicks": [{"ts": TS0 + i + 90, "url": LINK}] if kind == "clicked" else [],
        "state": "sent",
        "metadata": {"order_id": f"A-{100000 + i}"},
        "_id": f"{i:032x}",
        "_version": "exampleaaaaaaaaaaaaaaa",
    }
    event: dict[str, Any] = {
        "event": {"delivered": "send", "opened": "open", "clicked": "click"}[kind],
        "msg": msg,
        "_id": f"{i:032x}",
        "ts": TS0 + i + 100,
    }
    if kind != "delivered":
        event.update(ip="198.51.100.8", user_agent=USER_AGENT)
        event["location"] = {"country_short": "US", "country": "United States", "city": "Tulsa"}
        if kind == "clicked":
            event["url"] = LINK
    return event


def mandrill_posts(n: int) -> list[Post]:
    """One form post of n events, signed as Mandrill documents ("Authenticating webhook
    requests"): base64 HMAC-SHA1 of the url (with its basic auth) and each field's name and
    value, in name order."""
    events = json.dumps([mandrill_event(i) for i in range(n)])
    scheme, rest = MANDRILL_WEBHOOK_URL.split("://", 1)
    signed_url = f"{scheme}://{WEBHOOK_USER}:{WEBHOOK_PASSWORD}@{rest}"
    mac = hmac.new(
        MANDRILL_WEBHOOK_KEY.encode(), f"{signed_url}mandrill_events{events}".encode(), "sha1"
    )
    signature = base64.b64encode(mac.digest()).decode("ascii")
    body = urlencode({"mandrill_events": events}).encode("ascii")
    return [("application/x-www-form-urlencoded", body, {"HTTP_X_MANDRILL_SIGNATURE": signature})]


# One event a post: n posts


def mailgun_posts(n: int) -> list[Post]:
    """Webhooks API (JSON) events, signed with the webhook signing key, timestamped now (each
    signature is only accepted for MAILGUN_WEBHOOK_MAX_AGE seconds), each with its own token."""
    now = int(time.time())
    posts = []
    for i in range(n):
        kind = KINDS[i % 3]
        token = secrets.token_hex(25)  # (50 hex digits, as Mailgun's; never reused)
        signature = hmac.new(
            MAILGUN_SIGNING_KEY.encode(), f"{now}{token}".encode(), hashlib.sha256
        ).hexdigest()
        event: dict[str, Any] = {
            "event": kind,
            "timestamp": now + 0.123,
            "id": f"G9Bn5sl1TC6nu79C8C0bw{i:08d}",
            "log-level": "info",
            "recipient": f"customer{i}@example.com",
            "recipient-domain": "example.com",
            "tags": ["orders"],
            "user-variables": {"order_id": f"A-{100000 + i}"},
            "message": {
                "headers": {
                    "to": f"Customer {i} <customer{i}@example.com>",
                    "message-id": f"20240501120000.{i}.bench@mg.example.com",
                    "from": "Bench Shop <shop@mg.example.com>",
                    "subject": "Your order has shipped",
                },
                "attachments": [],
                "size": 2823,
            },
        }
        if kind == "delivered":
            event["envelope"] = {"transport": "smtp", "sender": "shop@mg.example.com"}
            event["delivery-status"] = {
                "tls": True,
                "mx-host": "mx.example.com",
                "code": 250,
                "description": "",
                "attempt-no": 1,
                "message": "OK",
            }
        else:
            event["client-info"] = {"client-type": "browser", "user-agent": USER_AGENT}
            event["geolocation"] = {"country": "US", "region": "OK", "city": "Tulsa"}
            event["ip"] = "198.51.100.8"
            if kind == "clicked":
                event["url"] = LINK
        posts.append(
            json_post(
                {
                    "signature": {"timestamp": str(now), "token": token, "signature": signature},
                    "event-data": event,
                }
            )
        )
    return posts


def postmark_posts(n: int) -> list[Post]:
    posts = []
    for i in range(n):
        kind = KINDS[i % 3]
        record: dict[str, Any] = {
            "MessageID": f"883953f4-6105-42a2-a16a-{i:012d}",
            "Recipient": f"customer{i}@example.com",
            "Tag": "orders",
            "Metadata": {"order_id": f"A-{100000 + i}"},
            "MessageStream": "outbound",
            "ServerID": 23,
        }
        if kind == "delivered":
            record.update(
                RecordType="Delivery",
                DeliveredAt="2024-05-01T16:34:52Z",
                Details="smtp;250 2.0.0 OK",
            )
        else:
            record.update(
                Client={"Name": "Firefox", "Company": "Mozilla", "Family": "Firefox"},
                OS={"Name": "Linux", "Company": "-", "Family": "Linux"},
                Platform="Desktop",
                UserAgent=USER_AGENT,
                Geo={"CountryISOCode": "US", "Country": "United States", "City": "Tulsa"},
                ReceivedAt="2024-05-01T16:40:12Z",
            )
            if kind == "opened":
                record.update(RecordType="Open", FirstOpen=True, ReadSeconds=5)
            else:
                record.update(RecordType="Click", ClickLocation="HTML", OriginalLink=LINK)
        posts.append(json_post(record))
    return posts


def ses_posts(n: int) -> list[Post]:
    """SNS notifications of SES event publishing records, signed (SignatureVersion 1) with
    the key of the certificate that :func:`serve_ses_certificate` serves."""
    key = ses_signing_key()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    distinct: list[Post] = []
    for i in range(min(n, SES_DISTINCT_MESSAGES)):
        kind = KINDS[i % 3]
        recipient = f"customer{i}@example.com"
        mail = {
            "timestamp": "2024-05-01T12:00:00.000Z",
            "source": "shop@mg.example.com",
            "sendingAccountId": "123456789012",
            "messageId": f"0100018f-bench-{i:08d}",
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": "Bench Shop <shop@mg.example.com>"},
                {"name": "To", "value": f"Customer {i} <{recipient}>"},
                {"name": "Subject", "value": "Your order has shipped"},
                {"name": "X-Metadata", "value": json.dumps({"order_id": f"A-{100000 + i}"})},
                {"name": "X-Tag", "value": "orders"},
            ],
            "commonHeaders": {
                "from": ["Bench Shop <shop@mg.example.com>"],
                "to": [f"Customer {i} <{recipient}>"],
                "subject": "Your order has shipped",
            },
            "tags": {"ses:configuration-set": ["bench"]},
        }
        record: dict[str, Any] = {"mail": mail}
        if kind == "delivered":
            record["eventType"] = "Delivery"
            record["delivery"] = {
                "timestamp": "2024-05-01T12:00:02.133Z",
                "processingTimeMillis": 2133,
                "recipients": [recipient],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
            }
        else:
            action = {"ipAddress": "198.51.100.8", "timestamp": "2024-05-01T12:30:19.652Z"}
            action["userAgent"] = USER_AGENT
            if kind == "opened":
                record.update(eventType="Open", open=action)
            else:
                record.update(eventType="Click", click={**action, "link": LINK, "linkTags": {}})
        message = {
            "Type": "Notification",
            "MessageId": f"22b80b92-fdea-4c2c-8f9d-{i:012d}",
            "TopicArn": SES_TOPIC_ARN,
            "Message": json.dumps(record),
            "Timestamp": "2024-05-01T12:30:20.001Z",
            "SignatureVersion": "1",
            "SigningCertURL": SES_CERT_URL,
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        }
        to_sign = "".join(
            f"{name}\n{message[name]}\n"
            for name in ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
        )
        signature = key.sign(to_sign.encode("utf-8"), padding.PKCS1v15(), hashes.SHA1())
        message["Signature"] = base64.b64encode(signature).decode("ascii")
        # SNS posts its JSON as text/plain
        distinct.append(("text/plain; charset=UTF-8", json.dumps(message).encode("utf-8"), {}))
    return [distinct[i % len(distinct)] for i in range(n)]


_ses_key: Any = None


def ses_signing_key() -> Any:
    """This process's stand-in for SNS's signing key (an RSA key, as SNS's)."""
    global _ses_key
    if _ses_key is None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        _ses_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _ses_key


def serve_ses_certificate() -> None:
    """Have Anymail get a self-signed certificate for :func:`ses_signing_key` (no network)."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from anymail.webhooks import sns

    key = ses_signing_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(timezone.utc)
    pem = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )

    def fetch_signing_certificate(url: str) -> bytes:
        if url != SES_CERT_URL:
            raise ValueError(f"benchmark: unexpected certificate url {url}")
        return pem

    sns.fetch_signing_certificate = fetch_signing_certificate
    sns.clear_certificate_cache()


#: Each ESP: (tracking url, posts for n events, whether all n events go in one post)
ESPS: dict[str, tuple[str, Callable[[int], list[Post]], bool]] = {
    "sendgrid": ("/anymail/sendgrid/tracking/", sendgrid_posts, True),
    "sparkpost": ("/anymail/sparkpost/tracking/", sparkpost_posts, True),
    "mailjet": ("/anymail/mailjet/tracking/", mailjet_posts, True),
    "mandrill": ("/anymail/mandrill/", mandrill_posts, True),
    "sendinblue": ("/anymail/sendinblue/tracking/", sendinblue_posts, True),
    "mailgun": ("/anymail/mailgun/tracking/", mailgun_posts, False),
    "postmark": ("/anymail/postmark/tracking/", postmark_posts, False),
    "amazon_ses": ("/anymail/amazon_ses/tracking/", ses_posts, False),
}


def run_case(esp: str, n: int, repeats: int) -> dict[str, Any]:
    """Measure posting n tracking events to esp's tracking view."""
    setup_django()
    from django.core.cache import caches
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import Client

    from anymail.signals import tracking

    url, make_posts, batched = ESPS[esp]
    if esp == "amazon_ses":
        serve_ses_certificate()
    received = [0]

    def receiver(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
        received[0] += 1

    tracking.connect(receiver, weak=False)
    client = Client()
    auth = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode("ascii")

    def post_all(posts: list[Post]) -> None:
        for content_type, body, headers in posts:
            response = client.post(
                url, data=body, content_type=content_type, HTTP_AUTHORIZATION=auth, **headers
            )
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.content!r}")

    def wsgi_post_all(posts: list[Post]) -> None:
        for content_type, body, headers in posts:
            status = wsgi_post(handler, wsgi_environ(url, content_type, body, headers))
            if not status.startswith("200"):
                raise RuntimeError(f"{url} answered {status}")

    def checked(post: Callable[[list[Post]], None], events: int = n) -> Callable[[Any], None]:
        def run(posts: list[Post]) -> None:
            received[0] = 0
            post(posts)
            if received[0] != events:
                raise RuntimeError(f"{esp}: {received[0]} of {events} events reached the receiver")

        return run

    cached_posts: list[list[Post]] = []

    def prepare() -> list[Post]:
        caches["default"].clear()  # (replay protection remembers tokens and signatures)
        if esp == "mailgun" or not cached_posts:
            # (Mailgun's signatures must be fresh; the others' bodies can be posted again)
            cached_posts[:] = [make_posts(n)]
        return cached_posts[0]

    caches["default"].clear()
    checked(post_all, min(n, 10))(make_posts(min(n, 10)))  # warm up: imports, urls, caches
    cpu = best_cpu_seconds(checked(post_all), repeats, prepare)
    # Memory: through Django's WSGIHandler, as a WSGI server calls it. (Django's test client
    # keeps a little memory for each request it has made, which isn't ours to count.)
    handler = WSGIHandler()
    caches["default"].clear()
    checked(wsgi_post_all, min(n, 10))(make_posts(min(n, 10)))
    peak = peak_python_bytes(checked(wsgi_post_all), prepare())
    return {
        "cpu_s": cpu,
        "cpu_per_event_s": cpu / n,
        "posts": 1 if batched else n,
        "peak_bytes": peak,
    }
