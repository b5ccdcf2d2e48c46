"""SHA-256 and HMAC digests for the webhook views, made from prepared hash objects.

With OpenSSL 3, each new hashlib hash (``hashlib.sha256()``, ``hmac.new()``) looks its
algorithm up in OpenSSL's provider tables, under a lock: a few microseconds, and often far more
in a busy process, where those tables have left the CPU's caches. (Python 3.12 and later keep
the lookup.) A copy of a hash object that already has its algorithm skips it, and gives the
same digest. Webhooks make several per call: event ids, replay cache keys, signatures.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.views.decorators.debug import sensitive_variables

_SHA256 = hashlib.sha256()


def sha256(data: bytes = b"") -> hashlib._Hash:
    """The same as hashlib.sha256(data)."""
    digest = _SHA256.copy()
    if data:
        digest.update(data)
    return digest


@sensitive_variables("key")  # (kept out of Django's error reports, as a signing key should be)
def new_hmac(key: bytes, message: bytes, digestmod: str) -> hmac.HMAC:
    """The same as hmac.new(key, message, digestmod), for a key used again and again."""
    mac = _keyed_hmac(key, digestmod).copy()
    mac.update(message)
    return mac


@functools.lru_cache(maxsize=8)  # (an ESP's signing key, or a few while keys are rotated)
@sensitive_variables("key")
def _keyed_hmac(key: bytes, digestmod: str) -> hmac.HMAC:
    return hmac.new(key, digestmod=digestmod)
