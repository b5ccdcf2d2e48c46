"""Remembering what a webhook has already seen, so a captured request can't be replayed.

Uses Django's cache (the one named by the ``WEBHOOK_CACHE`` setting, "default" unless set), so
a deployment with several processes needs a shared cache (Redis, Memcached, database) for this
to hold across them; Django's default local-memory cache protects each process separately.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from ..conf import cached_settings
from .digests import sha256


def webhook_cache() -> BaseCache:
    """The Django cache Anymail's webhooks remember things in."""
    alias: str = cached_settings.get_anymail_setting("webhook_cache", default="default")
    return caches[alias]


def cache_key(namespace: str, key: str) -> str:
    # Hashed: ESP tokens and signatures may hold characters some cache backends refuse
    digest = sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"anymail:{namespace}:{digest}"


def remember_once(namespace: str, key: str, timeout: int) -> bool:
    """True the first time key is seen in namespace within timeout seconds; False after that.

    Atomic where the cache backend's ``add()`` is (all of Django's built-in ones).
    """
    added: bool = webhook_cache().add(cache_key(namespace, key), True, timeout=timeout)
    return added
