"""JSON serialization that says exactly which field could not be serialized."""

from __future__ import annotations

import json
from typing import Any

from .exceptions import AnymailSerializationError


def find_unserializable(value: Any, path: str = "") -> tuple[str, Any] | None:
    """Return (path, value) of the first thing in value that json cannot encode, else None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{path}[{key!r}] (a {type(key).__name__} key)", key
            found = find_unserializable(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_unserializable(item, f"{path}[{index}]")
            if found:
                return found
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return path, value
    return None


def check_serializable(value: Any, field: str, esp_name: str, **error_kwargs: Any) -> None:
    """Raise AnymailSerializationError naming ``field`` if value can't be sent as JSON."""
    found = find_unserializable(value, field)
    if found:
        raise _serialization_error(found, esp_name, **error_kwargs)


def serialize_json(data: Any, esp_name: str, field: str = "data", **error_kwargs: Any) -> str:
    """json.dumps(data), or AnymailSerializationError naming the offending part."""
    try:
        return json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        found = find_unserializable(data, field) or (field, data)
        raise _serialization_error(found, esp_name, **error_kwargs) from err


def _serialization_error(
    found: tuple[str, Any], esp_name: str, **error_kwargs: Any
) -> AnymailSerializationError:
    path, bad_value = found
    return AnymailSerializationError(
        f"Don't know how to send {path} = {bad_value!r} (a {type(bad_value).__name__}) "
        f"to {esp_name}. Convert it to a string or number first "
        "(e.g., str(value), or format dates and Decimals yourself).",
        esp_name=esp_name,
        **error_kwargs,
    )
