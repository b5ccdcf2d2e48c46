from django.apps import AppConfig


class ExampleAppConfig(AppConfig):
    name = "example_app"

    def ready(self) -> None:
        # Importing the module connects its signal receivers
        from . import signals  # noqa: F401
