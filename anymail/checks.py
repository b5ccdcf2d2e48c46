"""System checks for settings Anymail no longer reads, so they fail loudly, not silently."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def check_deprecated_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors = []
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
