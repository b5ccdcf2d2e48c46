from django.apps import AppConfig
from django.core import checks

from .checks import check_deprecated_settings


class AnymailBaseConfig(AppConfig):
    name = "anymail"
    verbose_name = "Anymail"
    default = True

    def ready(self) -> None:
        checks.register(check_deprecated_settings)
