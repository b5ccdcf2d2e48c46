"""Resolve Django lazy translation strings, so ESP payloads hold only plain data."""

from __future__ import annotations

from typing import Any

from django.utils.encoding import force_str
from django.utils.functional import Promise

_PLAIN_TYPES = frozenset({str, int, float, bool, bytes, type(None)})


def is_lazy(value: Any) -> bool:
    """True for ``gettext_lazy()`` and similar proxies."""
    return isinstance(value, Promise)


def force_non_lazy(value: Any) -> Any:
    """Return value with every lazy string (at any depth in lists, tuples, dicts) made a str."""
    if type(value) in _PLAIN_TYPES:  # (most values: answered without the checks below)
        return value
    if isinstance(value, Promise):
        return force_str(value)
    if isinstance(value, dict):
        return {force_non_lazy(key): force_non_lazy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [force_non_lazy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(force_non_lazy(item) for item in value)
    return value


def force_non_lazy_list(value: Any) -> list[Any] | None:
    """A list of value's items with lazy strings resolved (None stays None)."""
    if value is None:
        return None
    return [force_non_lazy(item) for item in value]


def force_non_lazy_dict(value: Any) -> dict[Any, Any] | None:
    """A dict with lazy keys and values (at any depth) resolved (None stays None)."""
    if value is None:
        return None
    return {force_non_lazy(key): force_non_lazy(item) for key, item in value.items()}
