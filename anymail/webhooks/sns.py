"""Amazon SNS message signatures: proof that a message posted to a webhook came from SNS.

SNS signs every message it posts to an HTTP/S subscription (AWS docs, "Verifying the signatures
of Amazon SNS messages"): ``Signature`` is an RSA signature (SHA1 for ``SignatureVersion`` "1",
SHA256 for "2") over a string built from some of the message's fields, made with the key of the
X.509 certificate at ``SigningCertURL``. Anyone can publish a *certificate*, so the url must be
one of SNS's own (``https://sns.<region>.amazonaws.com[.cn]/<name>.pem``), fetched over HTTPS.

Everything cheap (the url, the fields, the signature's encoding) is checked before the
certificate is fetched, so an unsigned or malformed message costs no network request. The
certificate is fetched by :func:`fetch_signing_certificate` (the only place that does, so tests
can serve their own), with a timeout and a size cap, and kept in a small in-process cache.

``cryptography`` (part of the amazon_ses extra) is imported only when a signature is checked:
``anymail.urls`` imports the SES webhooks, and must load without it.
"""

from __future__ import annotations

import binascii
import re
import threading
from base64 import b64decode
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import requests

from .._version import __version__
from ..exceptions import (
    AnymailAPIError,
    AnymailImproperlyInstalled,
    AnymailWebhookValidationFailure,
)

#: SNS's signing certificate urls: https, an SNS regional host (including China's .com.cn),
#: and a single .pem file name. Matched against the *whole* url, so there's no room for user
#: info, a port, a query or a fragment, and no other host (e.g. "...amazonaws.com.evil.com").
SIGNING_CERT_URL = re.compile(
    r"https://sns\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(?:\.cn)?"
    r"/[A-Za-z0-9_-][A-Za-z0-9._-]{0,250}\.pem"
)

#: SignatureVersion -> the hash SNS signs with
SIGNATURE_HASHES = {"1": "SHA1", "2": "SHA256"}

#: The fields SNS signs, in the order they go into the string to sign (AWS docs, "Verifying the
#: signature of an Amazon SNS message"); a Notification's Subject only when it has one
NOTIFICATION_SIGNED_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_SIGNED_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS = {
    "Notification": NOTIFICATION_SIGNED_FIELDS,
    "SubscriptionConfirmation": CONFIRMATION_SIGNED_FIELDS,
    "UnsubscribeConfirmation": CONFIRMATION_SIGNED_FIELDS,
}
OPTIONAL_SIGNED_FIELDS = frozenset({"Subject"})

#: Fetching a certificate: (connect, read) timeouts in seconds, well inside SNS's 15-second
#: wait for the webhook's answer; and the most we'll read (a certificate is ~2 KB)
CERT_FETCH_TIMEOUT: tuple[float, float] = (5.0, 5.0)
MAX_CERT_SIZE = 64 * 1024
#: How many certificates (one per SNS region and key rotation) the cache keeps
CERT_CACHE_SIZE = 32


def verify_sns_message(message: Mapping[str, Any]) -> None:
    """Raise AnymailWebhookValidationFailure (so a 400) unless message, a parsed SNS JSON post,
    is signed by Amazon SNS.

    Raises AnymailAPIError when the signing certificate couldn't be fetched for a reason that
    may pass (a timeout, an AWS 5xx), so the caller can ask SNS to try again later.
    """
    message_type = message.get("Type")
    if message_type not in SIGNED_FIELDS:
        raise AnymailWebhookValidationFailure(f"Not an Amazon SNS message type: {message_type!r}")
    version = message.get("SignatureVersion")
    hash_name = SIGNATURE_HASHES.get(version) if isinstance(version, str) else None
    if hash_name is None:
        raise AnymailWebhookValidationFailure(
            f"Amazon SNS message has an unknown SignatureVersion {version!r} "
            f"(Anymail checks versions {', '.join(SIGNATURE_HASHES)})"
        )
    signature = decode_signature(message.get("Signature"))
    cert_url = check_signing_cert_url(message.get("SigningCertURL"))
    data = string_to_sign(message)
    public_key = signing_public_key(cert_url)

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        public_key.verify(signature, data, padding.PKCS1v15(), getattr(hashes, hash_name)())
    except InvalidSignature:
        raise AnymailWebhookValidationFailure(
            f"Amazon SNS message {message.get('MessageId')!r} has an invalid signature"
        ) from None


def decode_signature(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise AnymailWebhookValidationFailure("Amazon SNS message is not signed (no Signature)")
    try:
        return b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AnymailWebhookValidationFailure(
            "Amazon SNS message's Signature isn't base64"
        ) from None


def check_signing_cert_url(url: Any) -> str:
    """Refuse any SigningCertURL but an https url of a .pem file on an SNS regional host.

    Returns the url (now known to be a str).
    """
    if not isinstance(url, str) or SIGNING_CERT_URL.fullmatch(url) is None:
        raise AnymailWebhookValidationFailure(
            f"Amazon SNS message's SigningCertURL {url!r} isn't an Amazon SNS certificate url "
            "(https://sns.<region>.amazonaws.com/<name>.pem)"
        )
    return url


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """What SNS signs: "<name>\\n<value>\\n" for each signed field, in order, as UTF-8."""
    parts = []
    for name in SIGNED_FIELDS[message["Type"]]:
        value = message.get(name)
        if value is None and name in OPTIONAL_SIGNED_FIELDS:
            continue
        if not isinstance(value, str):
            raise AnymailWebhookValidationFailure(
                f"Amazon SNS message's signed field {name!r} is missing or not a string"
            )
        parts.append(f"{name}\n{value}\n")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, from "\ud800" escapes in the JSON
        raise AnymailWebhookValidationFailure(
            "Amazon SNS message's signed fields aren't valid text"
        ) from None


# The signing certificates, cached in-process (each url's certificate never changes)

_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


def signing_public_key(url: str) -> Any:
    """The RSA public key of the SNS signing certificate at url (cached)."""
    check_signing_cert_url(url)  # (again: this is what makes fetching it safe)
    with _cache_lock:
        if url in _cache:
            _cache.move_to_end(url)
            return _cache[url]
    public_key = load_public_key(fetch_signing_certificate(url), url)
    with _cache_lock:
        _cache[url] = public_key
        while len(_cache) > CERT_CACHE_SIZE:
            _cache.popitem(last=False)
    return public_key


def clear_certificate_cache() -> None:
    """Forget every cached certificate (for tests)."""
    with _cache_lock:
        _cache.clear()


def load_public_key(pem: bytes, url: str) -> Any:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as err:
        raise AnymailImproperlyInstalled(
            missing_package="cryptography", backend="amazon_ses"
        ) from err
    try:
        public_key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise AnymailWebhookValidationFailure(f"{url} isn't a PEM certificate") from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise AnymailWebhookValidationFailure(f"The certificate at {url} doesn't have an RSA key")
    return public_key


def fetch_signing_certificate(url: str) -> bytes:
    """The certificate file at url (a checked SNS signing certificate url).

    Every certificate is fetched here: tests serve their own by replacing this function.
    A failure that may pass (no connection, a timeout, an AWS 5xx or 429) raises
    AnymailAPIError; any other answer (e.g. a 404) means url is no SNS certificate.
    """
    try:
        response = requests.get(
            url,
            timeout=CERT_FETCH_TIMEOUT,
            allow_redirects=False,
            stream=True,
            headers={"User-Agent": f"django-anymail/{__version__}"},
        )
        with response:
            status = response.status_code
            if status >= 500 or status == 429:
                raise AnymailAPIError(
                    f"Couldn't fetch the Amazon SNS signing certificate {url}: HTTP {status}",
                    esp_name="Amazon SES",
                    status_code=status,
                )
            if status != 200:
                raise AnymailWebhookValidationFailure(
                    f"Amazon SNS signing certificate {url} couldn't be fetched: HTTP {status}"
                )
            content = b""
            for chunk in response.iter_content(chunk_size=8192):
                content += chunk
                if len(content) > MAX_CERT_SIZE:
                    raise AnymailWebhookValidationFailure(
                        f"{url} is over {MAX_CERT_SIZE} bytes: not an SNS certificate"
                    )
    except requests.RequestException as err:
        raise AnymailAPIError(
            f"Couldn't fetch the Amazon SNS signing certificate {url}: {err}",
            esp_name="Amazon SES",
        ) from err
    return content
