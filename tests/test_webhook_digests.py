"""anymail.webhooks.digests: the same digests as hashlib and hmac, from prepared objects."""

from __future__ import annotations

import hashlib
import hmac

from django.test import SimpleTestCase

from anymail.webhooks.digests import new_hmac, sha256


class DigestTests(SimpleTestCase):
    def test_sha256_is_hashlibs(self):
        for data in [b"", b"a", b"Postmark\0" + b'{"RecordType": "Delivery"}' * 50]:
            with self.subTest(length=len(data)):
                self.assertEqual(sha256(data).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_each_sha256_is_its_own(self):
        first = sha256(b"first")
        second = sha256()
        second.update(b"sec")
        second.update(b"ond")
        first.update(b" and more")
        self.assertEqual(first.hexdigest(), hashlib.sha256(b"first and more").hexdigest())
        self.assertEqual(second.hexdigest(), hashlib.sha256(b"second").hexdigest())
        self.assertEqual(sha256(b"").hexdigest(), hashlib.sha256().hexdigest())

    def test_new_hmac_is_hmacs(self):
        for key in [b"key-one", b"key-two", b""]:
            for digestmod in ["sha256", "sha1"]:
                for message in [b"", b"1714564800token"]:
                    with self.subTest(key=key, digestmod=digestmod, message=message):
                        self.assertEqual(
                            new_hmac(key, message, digestmod).hexdigest(),
                            hmac.new(key, message, digestmod).hexdigest(),
                        )

    def test_new_hmac_of_the_same_key_twice_starts_afresh(self):
        first = new_hmac(b"key", b"message", "sha256").hexdigest()
        self.assertEqual(new_hmac(b"key", b"message", "sha256").hexdigest(), first)
        self.assertNotEqual(new_hmac(b"other key", b"message", "sha256").hexdigest(), first)
