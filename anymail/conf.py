"""Settings lookup: per-instance kwargs, then ANYMAIL dict, then ANYMAIL_<NAME>, then bare <NAME>.

One function, so every backend and webhook finds (and reports missing) settings the same way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

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


class CachedSettings:
    """get_anymail_setting() for code that runs on every request, such as webhook views.

    A setting's value is looked up once and remembered until Django's settings change (Django's
    setting_changed signal, which override_settings sends), as Django's own caches of settings
    do. (A lookup that misses every place costs a few microseconds: Django raises and catches
    AttributeError for each.) Values given in kwargs are never remembered.
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, str | None, bool], Any] = {}

    def get_anymail_setting(
        self,
        name: str,
        default: Any = UNSET,
        esp_name: str | None = None,
        kwargs: dict[str, Any] | None = None,
        allow_bare: bool = False,
    ) -> Any:
        """Like get_anymail_setting(name, ...), remembered."""
        if kwargs is not None and name in kwargs:
            return kwargs.pop(name)
        key = (name, esp_name, allow_bare)
        try:
            value = self.values[key]
        except KeyError:
            value = get_anymail_setting(
                name, default=_NOT_SET, esp_name=esp_name, allow_bare=allow_bare
            )
            self.values[key] = value
        if value is _NOT_SET:
            if default is UNSET:  # (the error that says where to set it)
                return get_anymail_setting(name, default, esp_name, kwargs, allow_bare)
            return default
        return value

    def clear(self, **kwargs: Any) -> None:
        """Forget every value (a setting_changed receiver)."""
        self.values.clear()


_NOT_SET = object()  # (no setting: distinct from any default a caller gives)

#: The remembered settings lookups (every Anymail module shares them)
cached_settings = CachedSettings()
setting_changed.connect(cached_settings.clear, dispatch_uid="anymail.conf.cached_settings")


def esp_setting_prefix(esp_name: str) -> str:
    """ "Amazon SES" -> "AMAZON_SES", the form ESP names take in setting names."""
    return esp_name.upper().replace(" ", "_")


#: The ESPs whose settings Anymail reads, as they appear in setting names
ESP_SETTING_PREFIXES = (
    "AMAZON_SES",
    "MAILGUN",
    "MAILJET",
    "MANDRILL",
    "POSTMARK",
    "SENDGRID",
    "SENDINBLUE",
    "SPARKPOST",
)

#: Every setting Anymail reads (in ANYMAIL, or as ANYMAIL_<NAME>), so the system checks can
#: catch a misspelled one. (tests/test_conf.py checks it against the code's lookups.)
KNOWN_SETTINGS = frozenset(
    {
        "DEBUG_API_REQUESTS",
        "DEDUPLICATE_WEBHOOK_EVENTS",
        "IGNORE_RECIPIENT_STATUS",
        "IGNORE_UNSUPPORTED_FEATURES",
        "INBOUND_MAX_BODY_SIZE",
        "INBOUND_MAX_HEADER_SIZE",
        "REQUESTS_TIMEOUT",
        "SEND_DEFAULTS",
        "TRACKING_MAX_BODY_SIZE",
        "WEBHOOK_CACHE",
        "WEBHOOK_DEDUPLICATION_TIMEOUT",
        "WEBHOOK_REQUIRE_AUTHENTICATION",
        "WEBHOOK_SECRET",
        "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS",
        "AMAZON_SES_CLIENT_PARAMS",
        "AMAZON_SES_CONFIGURATION_SET_NAME",
        "AMAZON_SES_INBOUND_S3_BUCKETS",
        "AMAZON_SES_INBOUND_S3_MAX_SIZE",
        "AMAZON_SES_MESSAGE_TAG_NAME",
        "AMAZON_SES_SESSION_PARAMS",
        "AMAZON_SES_SNS_TOPIC_ARNS",
        "AMAZON_SES_VERIFY_SNS_SIGNATURES",
        "MAILGUN_API_KEY",
        "MAILGUN_API_URL",
        "MAILGUN_SENDER_DOMAIN",
        "MAILGUN_WEBHOOK_MAX_AGE",
        "MAILGUN_WEBHOOK_SIGNING_KEY",
        "MAILJET_API_KEY",
        "MAILJET_API_URL",
        "MAILJET_SECRET_KEY",
        "MANDRILL_API_KEY",
        "MANDRILL_API_URL",
        "MANDRILL_WEBHOOK_KEY",
        "MANDRILL_WEBHOOK_REPLAY_WINDOW",
        "MANDRILL_WEBHOOK_URL",
        "POSTMARK_API_URL",
        "POSTMARK_SERVER_TOKEN",
        "SENDGRID_API_KEY",
        "SENDGRID_API_URL",
        "SENDGRID_GENERATE_MESSAGE_ID",
        "SENDGRID_MERGE_FIELD_FORMAT",
        "SENDINBLUE_API_KEY",
        "SENDINBLUE_API_URL",
        "SPARKPOST_API_KEY",
        "SPARKPOST_API_URL",
    }
    # <ESP>_SEND_DEFAULTS, for every ESP and the test and console backends
    | {f"{prefix}_SEND_DEFAULTS" for prefix in (*ESP_SETTING_PREFIXES, "TEST", "CONSOLE")}
)


def backend_option_names(esp_name: str) -> set[str]:
    """The keyword args (MAILERS OPTIONS) an ESP's backend may take: its settings, lowercase,
    without the ESP prefix, plus the general ones. (A superset: some are webhook settings.)"""
    prefix = f"{esp_setting_prefix(esp_name)}_"
    esp_prefixes = tuple(f"{name}_" for name in (*ESP_SETTING_PREFIXES, "TEST", "CONSOLE"))
    names = {name.lower() for name in KNOWN_SETTINGS if not name.startswith(esp_prefixes)}
    names |= {
        name.removeprefix(prefix).lower() for name in KNOWN_SETTINGS if name.startswith(prefix)
    }
    return names | {"esp_send_defaults", "fail_silently", "payload_class", "stream", "api_url"}


#: The settings also read without the ANYMAIL_ prefix (names other libraries share)
BARE_SETTINGS = frozenset(
    {
        "MAILGUN_API_KEY",
        "MAILJET_API_KEY",
        "MAILJET_SECRET_KEY",
        "MANDRILL_API_KEY",
        "POSTMARK_SERVER_TOKEN",
        "SENDGRID_API_KEY",
        "SENDINBLUE_API_KEY",
        "SPARKPOST_API_KEY",
    }
)
