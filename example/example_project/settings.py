"""Settings for Anymail's example project: the few lines a real project adds to use Anymail.

For development only (DEBUG is on, and the secrets have insecure defaults).
"""

import os

import django

DEBUG = True
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-anymail-example-key")
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "example_project.urls"
USE_TZ = True

INSTALLED_APPS = [
    "anymail",
    "example_app",
]

# The console backend prints each message instead of sending it. To send for real, switch to
# an ESP's backend (e.g., "anymail.backends.mailgun.EmailBackend") and give it its settings --
# or try one first with `manage.py send_example --backend ... --setting ...`.
if django.VERSION >= (6, 1):
    # Django 6.1's MAILERS: the ESP's settings go in OPTIONS, lowercase, without the ESP's
    # name (e.g., "OPTIONS": {"api_key": "..."} for Mailgun). Django refuses EMAIL_BACKEND here.
    MAILERS = {
        "default": {
            "BACKEND": "anymail.backends.console.EmailBackend",
            "OPTIONS": {},
        },
    }
else:
    # Django 4.2 to 6.0: the ESP's settings go in ANYMAIL (e.g., "MAILGUN_API_KEY": "...").
    EMAIL_BACKEND = "anymail.backends.console.EmailBackend"

DEFAULT_FROM_EMAIL = "Anymail Example <example@example.com>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Settings for every Anymail backend (and the webhooks), whichever form selects the backend
ANYMAIL = {
    # Merged into every message sent through Anymail (a message's own tags are added to these)
    "SEND_DEFAULTS": {
        "tags": ["anymail-example"],
    },
    # HTTP basic auth "user:password" that ESPs must use to call the webhooks in urls.py
    "WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "example:insecure-webhook-secret"),
}

# Show the example app's log messages (e.g., tracking events) on the console
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"example_app": {"handlers": ["console"], "level": "INFO"}},
}
