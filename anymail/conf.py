"""Settings lookup: per-instance kwargs, then ANYMAIL dict, then ANYMAIL_<NAME>, then bare <NAME>.

One function, so every backend and webhook finds (and reports missing) settings the same way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from .exceptions import AnymailConfigurationError


class _Unset:
    """The type of UNSET: one instance, which copying and pickling keep as itself."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"  # pickle by reference to anymail.conf.UNSET

    def __copy__(self) -> _Unset:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Unset:
        return self


UNSET = _Unset()
"""Sentinel for 'no value given', distinct from None (which users set to mean 'no value')."""


def get_anymail_setting(
    name: str,
    default: Any = UNSET,
    esp_name: str | None = None,
    kwargs: dict[str, Any] | None = None,
    allow_bare: bool = False,
) -> Any:
    """Return an Anymail setting, or raise AnymailConfigurationError listing every place looked.

    ``name`` is the lowercase kwarg form ("api_key"). A matching key in ``kwargs`` wins and is
    popped, so callers can pass the rest of kwargs on. ``allow_bare`` also checks the setting
    without the ANYMAIL_ prefix (e.g., MAILGUN_API_KEY), for keys other apps share.
    """
    if kwargs is not None and name in kwargs:
        return kwargs.pop(name)

    setting_name = f"{esp_setting_prefix(esp_name)}_{name}".upper() if esp_name else name.upper()
    anymail_dict = getattr(settings, "ANYMAIL", None) or {}
    if setting_name in anymail_dict:
        return anymail_dict[setting_name]
    prefixed_name = f"ANYMAIL_{setting_name}"
    if hasattr(settings, prefixed_name):
        return getattr(settings, prefixed_name)
    if allow_bare and hasattr(settings, setting_name):
        return getattr(settings, setting_name)

    if default is UNSET:
        places = [f'ANYMAIL = {{"{setting_name}": ...}}', prefixed_name]
        if allow_bare:
            places.append(setting_name)
        raise AnymailConfigurationError(
            f"You must set {' or '.join(places)} in your Django settings"
            + (f" (or pass {name}=... to the backend or view)" if kwargs is not None else "")
            + f" to use {esp_name or 'Anymail'}."
        )
    return default


def esp_setting_prefix(esp_name: str) -> str:
    """ "Amazon SES" -> "AMAZON_SES", the form ESP names take in setting names."""
    return esp_name.upper().replace(" ", "_")
