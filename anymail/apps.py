from django.apps import AppConfig
from django.core import checks

from .checks import (
    check_deprecated_settings,
    check_setting_names,
    check_size_settings,
    check_webhook_security,
)


class AnymailBaseConfig(AppConfig):
    name = "anymail"
    verbose_name = "Anymail"
    default = True

    def ready(self) -> None:
        checks.register(check_deprecated_settings)
        checks.register(check_webhook_security, checks.Tags.security, checks.Tags.urls)
        checks.register(check_size_settings)
        checks.register(check_setting_names)
