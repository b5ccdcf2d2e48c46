"""System checks for settings Anymail no longer reads, so they fail loudly, not silently."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import checks

if TYPE_CHECKING:
    from .webhooks.base import AnymailBaseWebhookView


def check_deprecated_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    anymail_settings = getattr(settings, "ANYMAIL", None) or {}
    # Renamed in 1.4 so Django's error reports redact it (CVE-2018-1000089); dropped in 2.0
    if "WEBHOOK_AUTHORIZATION" in anymail_settings:
        errors.append(
            checks.Error(
                "The ANYMAIL setting 'WEBHOOK_AUTHORIZATION' has been renamed 'WEBHOOK_SECRET' "
                "to improve security.",
                hint="You must update your settings.py. Until you do, every webhook call fails "
                "with 'missing or invalid basic auth'.",
                id="anymail.E001",
            )
        )
    if hasattr(settings, "ANYMAIL_WEBHOOK_AUTHORIZATION"):
        errors.append(
            checks.Error(
                "The ANYMAIL_WEBHOOK_AUTHORIZATION setting has been renamed "
                "ANYMAIL_WEBHOOK_SECRET to improve security.",
                hint="You must update your settings.py. Until you do, every webhook call fails "
                "with 'missing or invalid basic auth'.",
                id="anymail.E001",
            )
        )
    return errors


def check_webhook_security(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about routed Anymail webhooks that anyone on the web could post to."""
    from .conf import get_anymail_setting

    views = routed_webhook_views()
    messages: list[checks.CheckMessage] = []
    for view in dict.fromkeys(views):  # each view class once, in url order
        for message in view.check_settings():
            if message not in messages:  # (an ESP's tracking and inbound views share some)
                messages.append(message)
    if not views or get_anymail_setting("webhook_secret", default=None):
        return messages
    # Without basic auth, only an ESP signature (Mailgun's, Mandrill's) authenticates calls
    unauthenticated = sorted(
        {view.esp_name for view in views if not view.signature_key_is_configured()}
    )
    if not unauthenticated:
        return messages
    return [
        *messages,
        checks.Warning(
            f"Anymail webhooks for {', '.join(unauthenticated)} are routed, but WEBHOOK_SECRET "
            "is not set, so anyone who finds their urls can post fake events and mail to them.",
            hint="Set ANYMAIL['WEBHOOK_SECRET'] (a random 'user:password') and give it to your "
            "ESP in the webhook url; set WEBHOOK_REQUIRE_AUTHENTICATION = True to refuse "
            "unauthenticated calls. See 'Securing webhooks' in the Anymail docs.",
            id="anymail.W002",
        ),
    ]


def routed_webhook_views() -> list[type[AnymailBaseWebhookView]]:
    """The Anymail webhook view classes in the project's URLconf."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from .webhooks.base import AnymailBaseWebhookView

    found: list[type[AnymailBaseWebhookView]] = []
    pending = [get_resolver()]
    while pending:  # iterative: include() nesting can't exhaust the stack
        resolver = pending.pop()
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                pending.append(pattern)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "view_class", None)
                if isinstance(view_class, type) and issubclass(view_class, AnymailBaseWebhookView):
                    found.append(view_class)
    return found


def check_size_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Size limits must be numbers of bytes: a bad one would otherwise show up only when
    mail arrives, as refused webhook calls the ESP may give up on."""
    from .conf import get_anymail_setting
    from .exceptions import AnymailConfigurationError
    from .inbound import max_header_size

    errors: list[checks.CheckMessage] = []
    for name in ("inbound_max_body_size", "tracking_max_body_size"):
        value = get_anymail_setting(name, default=1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            errors.append(
                checks.Error(
                    f"{name.upper()} must be a positive number of bytes, not {value!r}.",
                    id="anymail.E003",
                )
            )
    try:
        max_header_size()
    except AnymailConfigurationError as err:
        errors.append(checks.Error(str(err), id="anymail.E003"))
    return errors


def check_setting_names(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Catch a misspelled Anymail setting, which would otherwise be silently ignored."""
    from .conf import BARE_SETTINGS, ESP_SETTING_PREFIXES, KNOWN_SETTINGS

    esp_prefixes = tuple(f"{prefix}_" for prefix in ESP_SETTING_PREFIXES)

    def unknown_setting_hint(name: str, prefix: str = "") -> str | None:
        """None for a known name (or plausibly a custom backend's); else a hint."""
        if name in KNOWN_SETTINGS or name == "WEBHOOK_AUTHORIZATION":  # (that one: E001)
            return None
        close = difflib.get_close_matches(name, KNOWN_SETTINGS, n=1, cutoff=0.8)
        if close:
            return f"Did you mean {prefix}{close[0]}?"
        if name.startswith(esp_prefixes):
            return "Anymail doesn't read a setting by that name: see its settings reference."
        return None

    warnings: list[checks.CheckMessage] = []
    for name in getattr(settings, "ANYMAIL", None) or {}:
        hint = unknown_setting_hint(str(name))
        if hint:
            warnings.append(
                checks.Warning(
                    f"Unknown setting {name!r} in ANYMAIL.", hint=hint, id="anymail.W006"
                )
            )
    for setting_name in dir(settings):
        hint = None
        if setting_name.startswith("ANYMAIL_"):
            hint = unknown_setting_hint(setting_name.removeprefix("ANYMAIL_"), prefix="ANYMAIL_")
        elif setting_name.startswith(esp_prefixes) and setting_name not in BARE_SETTINGS:
            # Bare names are shared with other apps: only a near miss of one Anymail reads
            close = difflib.get_close_matches(setting_name, BARE_SETTINGS, n=1, cutoff=0.85)
            hint = f"Did you mean {close[0]}?" if close else None
        if hint:
            warnings.append(
                checks.Warning(f"Unknown setting {setting_name}.", hint=hint, id="anymail.W006")
            )
    warnings.extend(check_mailer_options())
    return warnings


def check_mailer_options() -> list[checks.CheckMessage]:
    """Django 6.1 MAILERS: OPTIONS of an Anymail backend that no Anymail backend reads."""
    from .conf import backend_option_names

    mailers = getattr(settings, "MAILERS", None) or {}
    warnings: list[checks.CheckMessage] = []
    for alias, config in mailers.items():
        backend = str(config.get("BACKEND", "")) if isinstance(config, dict) else ""
        if not backend.startswith("anymail.backends."):
            continue
        known = backend_option_names(backend.split(".")[2].replace("_", " "))
        for option in config.get("OPTIONS", {}) or {}:
            if str(option) in known:
                continue
            close = difflib.get_close_matches(str(option), known, n=1, cutoff=0.7)
            warnings.append(
                checks.Warning(
                    f"MAILERS[{alias!r}] OPTIONS has {option!r}, which {backend} doesn't take.",
                    hint=f"Did you mean {close[0]!r}?" if close else None,
                    id="anymail.W007",
                )
            )
    return warnings
