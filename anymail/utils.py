"""Anymail 6.1's ``anymail.utils``, kept so code written against it runs unchanged.

Custom backends and webhooks import these names from here. Each is a re-export of the module
that really holds it (settings lookup, addresses, attachments, lazy strings...), or a few lines
where 6.1 had a small helper we otherwise don't need. New code should import from those modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import datetime, timezone
from email.message import Message
from email.utils import formatdate
from typing import Any

from django.http import HttpRequest
from django.utils import timezone as django_timezone
from requests.structures import CaseInsensitiveDict

from .addresses import EmailAddress, parse_address_list, parse_single_address
from .attachments import Attachment
from .conf import UNSET, get_anymail_setting
from .lazy import force_non_lazy, force_non_lazy_dict, force_non_lazy_list, is_lazy
from .timestamps import parse_rfc2822_datetime
from .webhooks.base import collect_all_methods, request_basic_auth
from .webhooks.base import request_uri as get_request_uri

__all__ = [
    "BASIC_NUMERIC_TYPES",
    "EPOCH",
    "UNSET",
    "Attachment",
    "CaseInsensitiveCasePreservingDict",
    "EmailAddress",
    "angle_wrap",
    "collect_all_methods",
    "combine",
    "force_non_lazy",
    "force_non_lazy_dict",
    "force_non_lazy_list",
    "get_anymail_setting",
    "get_content_disposition",
    "get_request_basic_auth",
    "get_request_uri",
    "getfirst",
    "is_lazy",
    "last",
    "parse_address_list",
    "parse_rfc2822date",
    "parse_single_address",
    "querydict_getfirst",
    "rfc2822date",
    "timestamp",
    "update_deep",
]

BASIC_NUMERIC_TYPES = (int, float)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def combine(*args: Any) -> Any:
    """Combine the args that aren't UNSET: later mappings update earlier ones (shallow), later
    lists extend earlier ones, and any other value replaces what came before."""
    result: object = UNSET
    for value in args:
        if value is UNSET:
            continue
        if isinstance(result, Mapping) and isinstance(value, Mapping):
            result = {**result, **value}
        elif isinstance(result, (list, tuple)) and isinstance(value, (list, tuple)):
            result = [*result, *value]
        else:
            result = value
    return result


def last(*args: Any) -> Any:
    """The last arg that isn't UNSET (or UNSET if none)."""
    for value in reversed(args):
        if value is not UNSET:
            return value
    return UNSET


def update_deep(
    dct: MutableMapping[Any, Any], other: Mapping[Any, Any]
) -> MutableMapping[Any, Any]:
    """Merge other into dct in place, recursing where both hold a mapping; returns dct."""
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(dct.get(key), MutableMapping):
            update_deep(dct[key], value)
        else:
            dct[key] = value
    return dct


def getfirst(dct: Mapping[Any, Any], keys: Iterable[Any], default: Any = UNSET) -> Any:
    """dct's value for the first of keys it has; default (or KeyError) if none."""
    for key in keys:
        if key in dct:
            return dct[key]
    if default is UNSET:
        raise KeyError(f"None of {list(keys)!r} found")
    return default


def querydict_getfirst(qdict: Any, field: str, default: Any = UNSET) -> Any:
    """A QueryDict field's *first* value (``QueryDict.get`` gives the last)."""
    values = qdict.getlist(field)
    if values:
        return values[0]
    if default is UNSET:
        raise KeyError(field)
    return default


def get_request_basic_auth(request: HttpRequest) -> str | None:
    """The "username:password" of a request's HTTP basic auth, or None."""
    return request_basic_auth(request)


def parse_rfc2822date(value: str) -> datetime | None:
    """An RFC 2822 date (as in a Date header) as an aware datetime; None if it can't be read."""
    try:
        return parse_rfc2822_datetime(value)
    except ValueError:
        return None


def timestamp(dt: datetime) -> float:
    """POSIX timestamp of dt (a naive dt is taken in Django's current timezone)."""
    if django_timezone.is_naive(dt):
        dt = django_timezone.make_aware(dt, django_timezone.get_current_timezone())
    return dt.timestamp()


def rfc2822date(dt: datetime) -> str:
    """dt as an RFC 2822 date string (in UTC), as email headers and some ESP APIs want."""
    return formatdate(timestamp(dt))


def angle_wrap(s: str) -> str:
    """s in <angle brackets> (as a Message-ID or Content-ID header wants), unless it is already."""
    if s.startswith("<") and s.endswith(">"):
        return s
    return f"<{s}>"


def get_content_disposition(mimeobj: Message) -> str | None:
    """The lowercased Content-Disposition ("inline", "attachment"), or None."""
    value = mimeobj.get("Content-Disposition")
    if value is None:
        return None
    return str(value).split(";", 1)[0].strip().lower() or None


class CaseInsensitiveCasePreservingDict(CaseInsensitiveDict[Any]):
    """A case-insensitive dict that keeps the case of a key as it was *first* set.

    (requests' CaseInsensitiveDict keeps the last.) So a header set as "Reply-To" and later
    updated as "reply-to" still goes out as "Reply-To".
    """

    def __setitem__(self, key: str, value: Any) -> None:
        lower_key = key.lower()
        existing = next((name for name in self if name.lower() == lower_key), key)
        super().__setitem__(existing, value)
