"""Anymail's system checks."""

from __future__ import annotations

from unittest import mock

from django.core import checks
from django.test import SimpleTestCase, override_settings

from anymail.checks import check_webhook_security, routed_webhook_views

from .test_base_webhooks import SampleInboundWebhookView, SampleTrackingWebhookView

urlpatterns: list = []  # a project that routes no Anymail webhook


@override_settings(ROOT_URLCONF="tests.test_base_webhooks", ANYMAIL={})
class WebhookSecurityCheckTests(SimpleTestCase):
    def test_routed_webhooks_without_secret_warn(self):
        (warning,) = check_webhook_security()
        self.assertIsInstance(warning, checks.Warning)
        self.assertEqual(warning.id, "anymail.W002")
        self.assertIn("SampleESP", warning.msg)
        self.assertIn("WEBHOOK_SECRET", warning.msg)
        self.assertIn("WEBHOOK_REQUIRE_AUTHENTICATION", warning.hint)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "user:pass"})
    def test_no_warning_with_a_secret(self):
        self.assertEqual(check_webhook_security(), [])

    @override_settings(ROOT_URLCONF=__name__)
    def test_no_warning_when_no_webhook_is_routed(self):
        self.assertEqual(routed_webhook_views(), [])
        self.assertEqual(check_webhook_security(), [])

    def test_an_esp_signature_key_counts_as_authentication(self):
        with (
            mock.patch.object(
                SampleTrackingWebhookView, "signature_key_is_configured", lambda: True
            ),
            mock.patch.object(
                SampleInboundWebhookView, "signature_key_is_configured", lambda: True
            ),
        ):
            self.assertEqual(check_webhook_security(), [])

    def test_finds_views_through_include(self):
        with override_settings(ROOT_URLCONF="tests.urls"):
            esp_names = {view.esp_name for view in routed_webhook_views()}
        self.assertIn("Postmark", esp_names)
        self.assertIn("SendGrid", esp_names)

    def test_registered_with_djangos_checks(self):
        messages = checks.run_checks(tags=[checks.Tags.security])
        self.assertIn("anymail.W002", [message.id for message in messages])
