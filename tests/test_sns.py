"""Amazon SNS message signatures (anymail.webhooks.sns), and the helpers other tests use to sign.

Messages are signed here with a locally generated RSA key and self-signed certificate, served
through a stand-in for ``fetch_signing_certificate`` (no network). The string to sign is built
by this module's own code, from AWS's documentation ("Verifying the signature of an Amazon SNS
message"), not by Anymail's; one test also spells it out byte for byte.
"""

from __future__ import annotations

import base64
import functools
import http.server
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import SkipTest, mock

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # the amazon_ses extra isn't installed (tox's noextras env)
    raise SkipTest(
        "cryptography is not installed: pip install django-anymail[amazon_ses]"
    ) from None
from django.test import SimpleTestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from anymail.webhooks import sns
from anymail.webhooks.sns import (
    clear_certificate_cache,
    fetch_signing_certificate,
    verify_sns_message,
)

from .fakes import LocalHTTPServer

#: The SigningCertURL of every signed test message (as in AWS's examples)
TEST_CERT_URL = (
    "https://sns.us-west-2.amazonaws.com/"
    "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
)
OTHER_CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem"


# ---------------------------------------------------------------------------------------------
# Signing, as SNS does (with a local key), for this and the Amazon SES webhook tests
# ---------------------------------------------------------------------------------------------


def signing_key(name: str = "sns") -> rsa.RSAPrivateKey:
    """A locally generated RSA key, one per name (generated once per test run)."""
    return _signing_key(name)


@functools.cache
def _signing_key(name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed_certificate(private_key: Any) -> bytes:
    """A PEM certificate for private_key, signed by itself (subject as SNS's certificates)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_pem(name: str = "sns") -> bytes:
    """The self-signed certificate of signing_key(name)."""
    return _certificate_pem(name)


@functools.cache
def _certificate_pem(name: str) -> bytes:
    return self_signed_certificate(signing_key(name))


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    """AWS: for a Notification, Message, MessageId, Subject (if present), Timestamp, TopicArn
    and Type; for a (Un)SubscriptionConfirmation, Message, MessageId, SubscribeURL, Timestamp,
    Token, TopicArn and Type: each as its name, a newline, its value, a newline."""
    if message.get("Type") == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{message[name]}\n" for name in names if name in message)
    return text.encode("utf-8", "surrogatepass")


def sign_sns_message(
    message: dict[str, Any],
    version: str = "1",
    key: str = "sns",
    cert_url: str = TEST_CERT_URL,
) -> dict[str, Any]:
    """message, signed as SNS signs (SignatureVersion 1: SHA1; 2: SHA256) with key's key."""
    signed = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = signing_key(key).sign(sns_string_to_sign(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode("ascii")
    return signed


class FakeCertificates:
    """Stands in for fetch_signing_certificate: serves local certificates by url (any other
    url gets what SNS's servers answer for an unknown file, a 404), and records each fetch."""

    def __init__(self) -> None:
        self.certificates: dict[str, bytes] = {
            TEST_CERT_URL: certificate_pem("sns"),
            OTHER_CERT_URL: certificate_pem("other"),
        }
        self.fetched: list[str] = []
        self.error: BaseException | None = None

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.error is not None:
            raise self.error
        if url not in self.certificates:
            raise AnymailWebhookValidationFailure(
                f"Amazon SNS signing certificate {url} answered HTTP 404"
            )
        return self.certificates[url]


def serve_test_certificates(test_case: SimpleTestCase) -> FakeCertificates:
    """Have Anymail fetch SNS certificates from a FakeCertificates, for one test (with an empty
    certificate cache before and after)."""
    fake = FakeCertificates()
    patcher = mock.patch("anymail.webhooks.sns.fetch_signing_certificate", new=fake)
    patcher.start()
    test_case.addCleanup(patcher.stop)
    clear_certificate_cache()
    test_case.addCleanup(clear_certificate_cache)
    return fake


# Messages, as AWS documents them (before signing)

NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Subject": "My First Message",
    "Message": "Hello world!",
    "Timestamp": "2012-05-02T00:54:06.655Z",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"
    "&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0",
}
SUBSCRIPTION_CONFIRMATION = {
    "Type": "SubscriptionConfirmation",
    "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    "Token": "2336412f37fb687f5d51e6e241d08ef",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Message": "You have chosen to subscribe to the topic "
    "arn:aws:sns:us-west-2:123456789012:MyTopic.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message.",
    "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
    "&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37fb687f5d51e6e241d08ef",
    "Timestamp": "2012-04-26T20:45:04.751Z",
}
UNSUBSCRIBE_CONFIRMATION = {**SUBSCRIPTION_CONFIRMATION, "Type": "UnsubscribeConfirmation"}

SIGNED_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SIGNED_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)

#: SigningCertURLs that aren't SNS's: each must be refused without being fetched
BAD_CERT_URLS = [
    "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",  # not https
    "https://sns.us-west-2.amazonaws.com.evil.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.txt",
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem?x=.pem",
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem#.pem",
    "https://sns.us-west-2.amazonaws.com/x.pem/../../evil.pem",
    "https://sns.us-west-2.amazonaws.com/%2e%2e/evil.pem",
    "https://sns.us-west-2.amazonaws.com/.pem",
    "https://user:pass@sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://evil.com@sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com@evil.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com:8443/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com./SimpleNotificationService-f3ecfb72.pem",
    "https://SNS.US-WEST-2.AMAZONAWS.COM/SimpleNotificationService-f3ecfb72.pem",
    "https://evilsns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.evil.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://s3.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com.cn.evil.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com\\@evil.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem\n",
    " https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "//sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem",
    "https://sns.us-west-2.amazonaws.com",
    "",
    None,
    42,
    ["https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72.pem"],
]
GOOD_CERT_URLS = [
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
    "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-3250158c6506cb5f0e6ee8e8ef2a1c2e.pem",
    "https://sns.ap-southeast-3.amazonaws.com/SimpleNotificationService-abc.pem",
]


class SNSTestCase(SimpleTestCase):
    def setUp(self):
        super().setUp()
        self.certificates = serve_test_certificates(self)

    def assert_refused(self, message: Any, *text: str) -> AnymailWebhookValidationFailure:
        with self.assertRaises(AnymailWebhookValidationFailure) as cm:
            verify_sns_message(message)
        for part in text:
            self.assertIn(part, str(cm.exception))
        return cm.exception


# ---------------------------------------------------------------------------------------------
# Verifying
# ---------------------------------------------------------------------------------------------


class SNSVerifyTests(SNSTestCase):
    def test_signed_messages_verify(self):
        notification_without_subject = {k: v for k, v in NOTIFICATION.items() if k != "Subject"}
        for message in (
            NOTIFICATION,
            notification_without_subject,
            SUBSCRIPTION_CONFIRMATION,
            UNSUBSCRIBE_CONFIRMATION,
        ):
            for version in ("1", "2"):
                with self.subTest(type=message["Type"], version=version):
                    verify_sns_message(sign_sns_message(message, version))  # doesn't raise
        self.assertEqual(set(self.certificates.fetched), {TEST_CERT_URL})

    def test_string_to_sign_as_documented(self):
        # AWS's format, byte for byte: each signed field's name and value, each on its line
        # (and a final newline), in this order; for a Notification, no SubscribeURL or Token
        expected = (
            b"Message\nHello world!\n"
            b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
            b"Subject\nMy First Message\n"
            b"Timestamp\n2012-05-02T00:54:06.655Z\n"
            b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
            b"Type\nNotification\n"
        )
        for version, algorithm in (("1", hashes.SHA1()), ("2", hashes.SHA256())):
            with self.subTest(version=version):
                signature = signing_key().sign(expected, padding.PKCS1v15(), algorithm)
                message = {
                    **NOTIFICATION,
                    "SignatureVersion": version,
                    "Signature": base64.b64encode(signature).decode("ascii"),
                    "SigningCertURL": TEST_CERT_URL,
                }
                verify_sns_message(message)
                self.assertEqual(sns_string_to_sign(message), expected)  # (the helper agrees)

    def test_tampered_signed_field_is_refused(self):
        for original, fields in (
            (NOTIFICATION, SIGNED_NOTIFICATION_FIELDS),
            (SUBSCRIPTION_CONFIRMATION, SIGNED_CONFIRMATION_FIELDS),
        ):
            for version in ("1", "2"):
                signed = sign_sns_message(original, version)
                for field in fields:
                    with self.subTest(type=original["Type"], version=version, field=field):
                        tampered = dict(signed)
                        if field == "Type":  # (another type that SNS signs)
                            tampered[field] = {
                                "Notification": "SubscriptionConfirmation",
                                "SubscriptionConfirmation": "UnsubscribeConfirmation",
                            }[signed[field]]
                            self.assert_refused(tampered)
                        else:
                            tampered[field] = signed[field] + "x"
                            self.assert_refused(tampered, "invalid signature")

    def test_added_or_removed_subject_is_refused(self):
        without_subject = {k: v for k, v in NOTIFICATION.items() if k != "Subject"}
        signed = sign_sns_message(without_subject)
        self.assert_refused({**signed, "Subject": "Added"}, "invalid signature")
        signed = sign_sns_message(NOTIFICATION)
        self.assert_refused(
            {k: v for k, v in signed.items() if k != "Subject"}, "invalid signature"
        )

    def test_fields_moved_between_values_are_refused(self):
        # "Message\nA\nMessageId\nB\n": a value holding a newline can't forge another field
        signed = sign_sns_message(NOTIFICATION)
        forged = dict(signed)
        forged["Message"] = "Hello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
        forged["MessageId"] = "other"
        self.assert_refused(forged, "invalid signature")

    def test_unsigned_fields_may_change(self):
        # (SNS doesn't sign UnsubscribeURL or SigningCertURL; the url is checked instead)
        signed = sign_sns_message(NOTIFICATION)
        verify_sns_message({**signed, "UnsubscribeURL": "https://example.com/"})

    def test_wrong_signature_version_is_refused(self):
        # signed with SHA256, but claiming SHA1 (and the reverse)
        self.assert_refused({**sign_sns_message(NOTIFICATION, "2"), "SignatureVersion": "1"})
        self.assert_refused({**sign_sns_message(NOTIFICATION, "1"), "SignatureVersion": "2"})

    def test_signed_by_another_key_is_refused(self):
        # Signed with another key than the certificate's at SigningCertURL
        signed = sign_sns_message(NOTIFICATION, key="other", cert_url=TEST_CERT_URL)
        self.assert_refused(signed, "invalid signature")
        # ... and with the right certificate
        verify_sns_message(sign_sns_message(NOTIFICATION, key="other", cert_url=OTHER_CERT_URL))

    def test_missing_or_malformed_signature_is_refused_without_fetching(self):
        signed = sign_sns_message(NOTIFICATION)
        unsigned = {k: v for k, v in signed.items() if k != "Signature"}
        for message, text in [
            (unsigned, "not signed"),
            ({**signed, "Signature": ""}, "not signed"),
            ({**signed, "Signature": None}, "not signed"),
            ({**signed, "Signature": 12345}, "not signed"),
            ({**signed, "Signature": "not base64!"}, "isn't base64"),
            ({**signed, "Signature": signed["Signature"][:-3]}, "isn't base64"),
            (
                {**signed, "Signature": base64.b64encode(b"\0" * 256).decode()},
                "invalid signature",
            ),
        ]:
            with self.subTest(signature=message.get("Signature")):
                self.certificates.fetched.clear()
                clear_certificate_cache()
                self.assert_refused(message, text)
                if text != "invalid signature":
                    self.assertEqual(self.certificates.fetched, [])

    def test_unknown_signature_version_is_refused_without_fetching(self):
        signed = sign_sns_message(NOTIFICATION)
        for version in ("3", "0", "", " 1", "1.0", 1, 2, None, ["1"]):
            with self.subTest(version=version):
                self.assert_refused({**signed, "SignatureVersion": version}, "SignatureVersion")
        no_version = {k: v for k, v in signed.items() if k != "SignatureVersion"}
        self.assert_refused(no_version, "SignatureVersion")
        self.assertEqual(self.certificates.fetched, [])

    def test_unknown_type_is_refused(self):
        for message_type in ("Other", "", None, 1):
            with self.subTest(type=message_type):
                signed = sign_sns_message({**NOTIFICATION, "Type": message_type})
                self.assert_refused(signed)
        self.assertEqual(self.certificates.fetched, [])

    def test_missing_or_non_string_signed_field_is_refused(self):
        for field in ("Message", "MessageId", "Timestamp", "TopicArn"):
            for value in (None, 42, ["x"], {"x": 1}):
                with self.subTest(field=field, value=value):
                    message = sign_sns_message({**NOTIFICATION, field: value})
                    self.assert_refused(message, field)
        confirmation = {k: v for k, v in SUBSCRIPTION_CONFIRMATION.items() if k != "Token"}
        self.assert_refused(sign_sns_message(confirmation), "Token")

    def test_bad_cert_urls_are_refused_without_fetching(self):
        signed = sign_sns_message(NOTIFICATION)
        for url in BAD_CERT_URLS:
            with self.subTest(url=url):
                # (the certificate would even be served: it must not be asked for)
                if isinstance(url, str):
                    self.certificates.certificates[url] = certificate_pem()
                self.assert_refused({**signed, "SigningCertURL": url}, "SigningCertURL")
        no_url = {k: v for k, v in signed.items() if k != "SigningCertURL"}
        self.assert_refused(no_url, "SigningCertURL")
        self.assertEqual(self.certificates.fetched, [])

    def test_sns_cert_urls_of_every_partition_are_accepted(self):
        for url in GOOD_CERT_URLS:
            with self.subTest(url=url):
                self.certificates.certificates[url] = certificate_pem()
                verify_sns_message(sign_sns_message(NOTIFICATION, cert_url=url))
        self.assertEqual(self.certificates.fetched, GOOD_CERT_URLS)

    def test_unknown_certificate_is_refused(self):
        # an SNS-looking url that SNS's servers don't have (404)
        url = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-nonexistent.pem"
        self.assert_refused(sign_sns_message(NOTIFICATION, cert_url=url), "404")

    def test_not_a_certificate_or_not_rsa_is_refused(self):
        ec_key = ec.generate_private_key(ec.SECP256R1())
        for content, text in [
            (b"", "isn't a PEM certificate"),
            (b"<html>Not found</html>", "isn't a PEM certificate"),
            (certificate_pem()[:200], "isn't a PEM certificate"),
            (self_signed_certificate(ec_key), "doesn't have an RSA key"),
        ]:
            with self.subTest(text=text, content=content[:30]):
                clear_certificate_cache()
                self.certificates.certificates[TEST_CERT_URL] = content
                self.assert_refused(sign_sns_message(NOTIFICATION), text)

    def test_certificate_fetch_failure_that_may_pass_propagates(self):
        self.certificates.error = AnymailAPIError("Couldn't fetch: timed out")
        with self.assertRaisesMessage(AnymailAPIError, "timed out"):
            verify_sns_message(sign_sns_message(NOTIFICATION))

    def test_not_a_mapping_is_refused(self):
        for message in ({}, {"Type": "Notification"}):
            with self.subTest(message=message):
                self.assert_refused(message)


class SNSCertificateCacheTests(SNSTestCase):
    def test_certificate_is_fetched_once(self):
        for _ in range(5):
            verify_sns_message(sign_sns_message(NOTIFICATION))
            verify_sns_message(sign_sns_message(SUBSCRIPTION_CONFIRMATION, "2"))
        self.assertEqual(self.certificates.fetched, [TEST_CERT_URL])

    def test_failed_fetch_is_not_cached(self):
        self.certificates.error = AnymailAPIError("Couldn't fetch: HTTP 503")
        with self.assertRaises(AnymailAPIError):
            verify_sns_message(sign_sns_message(NOTIFICATION))
        self.certificates.error = None
        verify_sns_message(sign_sns_message(NOTIFICATION))
        self.assertEqual(self.certificates.fetched, [TEST_CERT_URL, TEST_CERT_URL])

    def test_cache_is_bounded(self):
        urls = [
            f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{n}.pem"
            for n in range(40)
        ]
        for url in urls:
            self.certificates.certificates[url] = certificate_pem()
        with mock.patch.object(sns, "CERT_CACHE_SIZE", 3):
            for url in urls:
                verify_sns_message(sign_sns_message(NOTIFICATION, cert_url=url))
            self.assertEqual(len(sns._cache), 3)
            # The most recently used stay; the oldest is fetched again
            self.certificates.fetched.clear()
            verify_sns_message(sign_sns_message(NOTIFICATION, cert_url=urls[-1]))
            verify_sns_message(sign_sns_message(NOTIFICATION, cert_url=urls[0]))
            self.assertEqual(self.certificates.fetched, [urls[0]])


# ---------------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------------

field_text = st.text(max_size=40) | st.sampled_from(["", "\n", "a\nb", "é✓", "x" * 300_000])


class SNSPropertyTests(SNSTestCase):
    @settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
    @given(
        values=st.fixed_dictionaries(dict.fromkeys(SIGNED_NOTIFICATION_FIELDS, field_text)),
        version=st.sampled_from(["1", "2"]),
        changed=st.sampled_from(SIGNED_NOTIFICATION_FIELDS),
        replacement=field_text,
    )
    def test_any_signed_text_verifies_and_any_change_is_refused(
        self, values, version, changed, replacement
    ):
        values = {**values, "Type": "Notification"}
        signed = sign_sns_message(values, version)
        verify_sns_message(signed)  # (values with newlines, non-ASCII, 300 KB: all fine)
        if changed != "Type" and replacement != values[changed]:
            tampered = {**signed, changed: replacement}
            with self.assertRaises(AnymailWebhookValidationFailure):
                verify_sns_message(tampered)

    @settings(max_examples=200, deadline=1000)
    @given(
        url=st.one_of(
            st.text(max_size=200),
            st.builds(
                lambda prefix, suffix: prefix + "sns.us-west-2.amazonaws.com" + suffix,
                st.sampled_from(["https://", "http://", "https://x.", "https://a@", ""]),
                st.text(max_size=60),
            ),
        )
    )
    def test_only_sns_cert_urls_are_ever_fetched(self, url):
        signed = sign_sns_message(NOTIFICATION, cert_url=url)
        self.certificates.fetched.clear()
        try:
            verify_sns_message(signed)
        except AnymailWebhookValidationFailure:
            pass
        for fetched in self.certificates.fetched:
            host_and_path = fetched.removeprefix("https://")
            host, _, path = host_and_path.partition("/")
            self.assertRegex(host, r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
            self.assertTrue(path.endswith(".pem"))
            self.assertNotIn("/", path)
            self.assertNotRegex(path, r"[?#@:\\%\s]")


# ---------------------------------------------------------------------------------------------
# Fetching certificates, from a real local server
# ---------------------------------------------------------------------------------------------


class CertificateServer(LocalHTTPServer):
    """An HTTP server on 127.0.0.1 answering each GET with ``status``, ``body`` (after
    ``delay`` seconds), and ``headers``; records the paths asked for."""

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0,
    ) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler, poll_interval=0.05)

    def url(self, path: str = "/SimpleNotificationService-test.pem") -> str:
        return f"{self.address}{path}"


class FetchSigningCertificateTests(SimpleTestCase):
    """fetch_signing_certificate itself (it trusts its caller to have checked the url, so it
    can be pointed at a local server here)."""

    def test_fetches_certificate(self):
        with CertificateServer(certificate_pem()) as server:
            self.assertEqual(fetch_signing_certificate(server.url()), certificate_pem())
        self.assertEqual(server.paths, ["/SimpleNotificationService-test.pem"])

    def test_not_found_is_refused(self):
        for status in (403, 404, 410):
            with (
                self.subTest(status=status),
                CertificateServer(b"nope", status) as server,
                self.assertRaisesMessage(AnymailWebhookValidationFailure, f"HTTP {status}"),
            ):
                fetch_signing_certificate(server.url())

    def test_redirect_is_not_followed(self):
        headers = {"Location": "http://127.0.0.1:9/elsewhere.pem"}
        with (
            CertificateServer(b"", 302, headers) as server,
            self.assertRaisesMessage(AnymailWebhookValidationFailure, "HTTP 302"),
        ):
            fetch_signing_certificate(server.url())
        self.assertEqual(len(server.paths), 1)

    def test_server_error_may_pass(self):
        for status in (500, 503, 429):
            with self.subTest(status=status), CertificateServer(b"busy", status) as server:
                with self.assertRaisesMessage(AnymailAPIError, f"HTTP {status}") as cm:
                    fetch_signing_certificate(server.url())
                self.assertNotIsInstance(cm.exception, AnymailWebhookValidationFailure)

    def test_oversized_answer_is_refused(self):
        with (
            CertificateServer(b"x" * (sns.MAX_CERT_SIZE + 1)) as server,
            self.assertRaisesMessage(AnymailWebhookValidationFailure, "over"),
        ):
            fetch_signing_certificate(server.url())

    def test_timeout(self):
        with (
            mock.patch.object(sns, "CERT_FETCH_TIMEOUT", (0.5, 0.5)),
            CertificateServer(certificate_pem(), delay=5) as server,
        ):
            start = time.monotonic()
            with self.assertRaisesMessage(AnymailAPIError, "Couldn't fetch"):
                fetch_signing_certificate(server.url())
            self.assertLess(time.monotonic() - start, 3)

    def test_default_timeout_is_well_within_snss_wait(self):
        # SNS waits 15 seconds for the webhook's whole answer
        connect, read = sns.CERT_FETCH_TIMEOUT
        self.assertLessEqual(connect + read, 10)

    def test_unreachable_may_pass(self):
        with CertificateServer() as server:
            url = server.url()
        # (the server is gone: connection refused)
        with self.assertRaisesMessage(AnymailAPIError, "Couldn't fetch"):
            fetch_signing_certificate(url)
