"""anymail.urls: loads without optional ESP packages, and mounts under a project's urlconf."""

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from django.test import SimpleTestCase
from django.urls import Resolver404, URLResolver, get_resolver, resolve
from django.utils.module_loading import import_string

from anymail.webhooks.base import AnymailBaseWebhookView

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: optional packages blocked *before* anything imports them
FRESH_IMPORT_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    sys.modules["boto3"] = None
    sys.modules["sparkpost"] = None

    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="not-secret",
        INSTALLED_APPS=["anymail"],
        ROOT_URLCONF="anymail.urls",
        USE_TZ=True,
    )
    django.setup()
    already_imported = "anymail.urls" in sys.modules

    import anymail.urls
    from django.urls import get_resolver

    resolved_patterns = get_resolver().url_patterns  # what Django itself loads

    def blocked(name):
        try:
            __import__(name)
        except ImportError:
            return True
        return False

    print(json.dumps({
        "already_imported": already_imported,
        "urlpatterns_type": type(anymail.urls.urlpatterns).__name__,
        "resolver_uses_module": resolved_patterns is anymail.urls.urlpatterns,
        "boto3_blocked": blocked("boto3"),
        "sparkpost_blocked": blocked("sparkpost"),
    }))
    """
)


class AnymailUrlsImportTests(SimpleTestCase):
    def test_anymail_urls_imports_in_a_fresh_process_without_boto3_or_sparkpost(self):
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        result = subprocess.run(
            [sys.executable, "-c", FRESH_IMPORT_SCRIPT],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, f"stderr:\n{result.stderr}")
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(
            report,
            {
                "already_imported": False,  # so the import really was fresh
                "urlpatterns_type": "list",
                "resolver_uses_module": True,
                "boto3_blocked": True,  # the blocking worked, so the import did not need them
                "sparkpost_blocked": True,
            },
        )

    def test_urlpatterns_is_a_list(self):
        module = importlib.import_module("anymail.urls")
        self.assertIsInstance(module.urlpatterns, list)


class AnymailUrlsIncludeTests(SimpleTestCase):
    def anymail_resolver(self) -> URLResolver:
        """The resolver that tests.urls' include("anymail.urls") created."""
        found = [
            pattern
            for pattern in get_resolver().url_patterns
            if isinstance(pattern, URLResolver) and str(pattern.pattern) == "anymail/"
        ]
        self.assertEqual(len(found), 1, "anymail/ include missing from tests.urls")
        return found[0]

    def test_include_mounts_anymail_urls_under_anymail_prefix(self):
        resolver = self.anymail_resolver()
        self.assertIs(resolver.urlconf_module, importlib.import_module("anymail.urls"))
        self.assertIs(resolver.url_patterns, import_string("anymail.urls.urlpatterns"))

    def test_unknown_anymail_path_is_resolver404(self):
        self.anymail_resolver()
        paths = ["/anymail/", "/anymail/no-such-esp/tracking/", "/anymail/no-such-esp/inbound/"]
        for path in paths:
            with self.subTest(path=path), self.assertRaises(Resolver404):
                resolve(path)

    def test_every_anymail_url_is_a_csrf_exempt_webhook_view(self):
        # Vacuous until ESP urls land; then it checks each one. Meanwhile, prove it can run:
        self.assertIsInstance(self.anymail_resolver().url_patterns, list)
        for pattern in self.anymail_resolver().url_patterns:
            with self.subTest(pattern=str(pattern.pattern)):
                callback = pattern.callback
                self.assertTrue(getattr(callback, "csrf_exempt", False))
                self.assertTrue(issubclass(callback.view_class, AnymailBaseWebhookView))
                if "<" not in str(pattern.pattern):  # a plain path resolves to its own view
                    match = resolve("/anymail/" + str(pattern.pattern))
                    self.assertIs(match.func.view_class, callback.view_class)


class WebhookUrlSlashTests(SimpleTestCase):
    """An ESP configured without the final slash still reaches the webhook."""

    def test_every_url_also_resolves_without_its_slash(self):
        from django.urls import reverse

        for name in [
            "amazon_ses_tracking_webhook",
            "mailgun_inbound_webhook",
            "mandrill_webhook",
            "sendinblue_tracking_webhook",
        ]:
            with self.subTest(name=name):
                url = reverse(name)
                self.assertTrue(url.endswith("/"))  # the documented form keeps its slash
                self.assertIs(
                    resolve(url.rstrip("/")).func.view_class, resolve(url).func.view_class
                )

    def test_post_without_slash_with_append_slash_middleware(self):
        # CommonMiddleware can't redirect a POST: without the slash-less route, this was a 500
        from django.test import Client, override_settings

        from .fakes import basic_auth_header

        with override_settings(
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
            APPEND_SLASH=True,
            DEBUG=True,
            ANYMAIL={"WEBHOOK_SECRET": "user:pass"},
        ):
            response = Client(raise_request_exception=False).post(
                "/anymail/sendinblue/tracking",
                data=json.dumps({"event": "delivered", "email": "a@example.com"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=basic_auth_header("user:pass"),
            )
        self.assertEqual(response.status_code, 200)
