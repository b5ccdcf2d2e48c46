"""Typed reads from an ESP's (untrusted) webhook payload.

A field of the wrong type raises ValueError, which the base webhook view answers with a 400:
hostile or garbled input never reaches receivers as the wrong type, and never causes a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def optional_str(data: Mapping[str, Any], key: str, numbers_ok: bool = False) -> str | None:
    """data[key] as a str; None if missing, null or empty. numbers_ok: also accept (and str())
    integers, for ESPs that send ids or codes as either."""
    value = data.get(key)
    if value.__class__ is str and value:  # (the usual case first: read per field per event)
        return value
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if numbers_ok and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"Field {key!r} should be a string, not {type(value).__name__}")


def required_str(data: Any, key: str, numbers_ok: bool = False) -> str:
    """data[key] as a non-empty str; ValueError if data isn't an object or the field is missing."""
    if not isinstance(data, Mapping):
        raise ValueError(f"Expected an object with {key!r}, not {type(data).__name__}")
    value = optional_str(data, key, numbers_ok=numbers_ok)
    if value is None:
        raise ValueError(f"Field {key!r} is missing")
    return value


def optional_dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """data[key] as a dict; {} if missing or null."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"Field {key!r} should be an object, not {type(value).__name__}")
    return value


def required_dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """data[key] as a dict; ValueError if it's missing."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"Field {key!r} is missing or not an object")
    return value


def list_of(data: Mapping[str, Any], key: str, item_type: type) -> list[Any]:
    """data[key] as a list of item_type; [] if missing or null."""
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, item_type) for item in items):
        raise ValueError(f"Field {key!r} should be a list of {item_type.__name__}")
    return items
