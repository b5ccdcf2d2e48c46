"""Datetime conversions: what users give as ``send_at``, and what ESPs send in webhooks.

Every datetime leaving this module is timezone-aware.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from django.utils import timezone as django_timezone
from django.utils.dateparse import parse_datetime


def aware_send_at(value: datetime | date | float | int) -> datetime:
    """Normalize a ``send_at`` value to an aware datetime.

    Naive datetimes and dates are taken in Django's current timezone (as the docs promise);
    numbers are POSIX timestamps.
    """
    if isinstance(value, datetime):
        if django_timezone.is_naive(value):
            return django_timezone.make_aware(value, django_timezone.get_current_timezone())
        return value
    if isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day)
        return django_timezone.make_aware(midnight, django_timezone.get_current_timezone())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timestamp_to_datetime(value)
    raise TypeError(
        f"send_at must be a datetime, date, or POSIX timestamp number, "
        f"not {type(value).__name__} ({value!r})"
    )


def timestamp_to_datetime(value: Any) -> datetime:
    """POSIX seconds (int, float, or numeric string) -> aware UTC datetime.

    Raises ValueError for anything that is not a finite, representable timestamp, so webhook
    parsers can turn hostile input into a 400 rather than a crash.
    """
    value_type = value.__class__
    if value_type is int or value_type is float or value_type is str:
        # The usual case, in one step (webhooks read one per event). Anything odd (NaN, out of
        # range, not a number) fails here too, and gets its precise error below.
        try:
            # (tz given positionally: a keyword argument costs a C function call more)
            return datetime.fromtimestamp(
                float(value) if value_type is str else value, timezone.utc
            )
        except (OverflowError, OSError, ValueError):
            pass
    if isinstance(value, bool):
        raise ValueError(f"Invalid timestamp {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError) as err:  # OverflowError: float(10**400)
        raise ValueError(f"Invalid timestamp {value!r}") from err
    if not math.isfinite(seconds):
        raise ValueError(f"Invalid timestamp {value!r}")
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as err:
        raise ValueError(f"Timestamp out of range: {value!r}") from err


def parse_iso_datetime(value: Any) -> datetime:
    """ISO 8601 string -> aware datetime (UTC assumed when the ESP gives no offset).

    Raises ValueError for anything unparseable.
    """
    if not isinstance(value, str):
        raise ValueError(f"Invalid ISO 8601 datetime {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        # (what parse_datetime tries first, without its call; it then tries a looser regex)
        iso = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return iso if iso.tzinfo is not None else iso.replace(tzinfo=timezone.utc)
    try:
        parsed = parse_datetime(text)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"Invalid ISO 8601 datetime {value!r}") from err
    if parsed is None:
        raise ValueError(f"Invalid ISO 8601 datetime {value!r}")
    if django_timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def parse_rfc2822_datetime(value: Any) -> datetime:
    """RFC 2822 date string (as in a Date header) -> aware datetime; ValueError if invalid."""
    if not isinstance(value, str):
        raise ValueError(f"Invalid RFC 2822 date {value!r}")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError) as err:
        raise ValueError(f"Invalid RFC 2822 date {value!r}") from err
    if parsed is None:
        raise ValueError(f"Invalid RFC 2822 date {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
