"""Anymail's system checks."""

from __future__ import annotations

from importlib.util import find_spec
from unittest import mock, skipUnless

from django.core import checks
from django.test import SimpleTestCase, override_settings

from anymail.checks import check_size_settings, check_webhook_security, routed_webhook_views

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


@override_settings(
    ROOT_URLCONF="tests.urls", EMAIL_BACKEND="anymail.backends.amazon_ses.EmailBackend"
)
class AmazonSESCheckTests(SimpleTestCase):
    def ids(self):
        return [message.id for message in check_webhook_security()]

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p"})
    @skipUnless(find_spec("cryptography"), "needs cryptography (the amazon_ses extra)")
    def test_open_allow_lists_warn_once_each(self):
        ids = self.ids()
        self.assertEqual(ids.count("anymail.W004"), 1)  # topics (tracking and inbound views)
        self.assertEqual(ids.count("anymail.W005"), 1)  # S3 buckets (inbound view)
        self.assertNotIn("anymail.W003", ids)

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": "u:p",
            "AMAZON_SES_SNS_TOPIC_ARNS": ["arn:aws:sns:us-east-1:123456789012:ses-events"],
            "AMAZON_SES_INBOUND_S3_BUCKETS": ["inbound-mail/ses/"],
        }
    )
    @skipUnless(find_spec("cryptography"), "needs cryptography (the amazon_ses extra)")
    def test_allow_lists_set_no_warning(self):
        self.assertEqual(self.ids(), [])

    @override_settings(
        ANYMAIL={
            "WEBHOOK_SECRET": "u:p",
            "AMAZON_SES_VERIFY_SNS_SIGNATURES": False,
            "AMAZON_SES_SNS_TOPIC_ARNS": ["arn:aws:sns:us-east-1:123456789012:ses-events"],
            "AMAZON_SES_INBOUND_S3_BUCKETS": [],
        }
    )
    def test_verification_off_warns(self):  # (cryptography isn't needed then)
        (warning,) = check_webhook_security()
        self.assertEqual(warning.id, "anymail.W003")
        self.assertIn("AMAZON_SES_VERIFY_SNS_SIGNATURES", warning.msg)

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRET": "u:p"}, EMAIL_BACKEND="anymail.backends.sendgrid.EmailBackend"
    )
    def test_only_when_amazon_ses_is_in_use(self):
        self.assertEqual(self.ids(), [])
        with override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p", "AMAZON_SES_CLIENT_PARAMS": {}}):
            self.assertIn("anymail.W004", self.ids())

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "u:p"})
    def test_missing_cryptography_is_an_error(self):
        with mock.patch.dict("sys.modules", {"cryptography": None}):
            messages = check_webhook_security()
        (error,) = [message for message in messages if message.id == "anymail.E002"]
        self.assertIsInstance(error, checks.Error)
        self.assertIn("django-anymail[amazon_ses]", error.msg)


class SizeSettingsCheckTests(SimpleTestCase):
    def test_valid_and_default_sizes_pass(self):
        self.assertEqual(check_size_settings(), [])
        with override_settings(
            ANYMAIL={"INBOUND_MAX_BODY_SIZE": 1, "INBOUND_MAX_HEADER_SIZE": None}
        ):
            self.assertEqual(check_size_settings(), [])

    def test_invalid_sizes_are_errors(self):
        for name, value in [
            ("INBOUND_MAX_BODY_SIZE", "50MB"),
            ("TRACKING_MAX_BODY_SIZE", 0),
            ("TRACKING_MAX_BODY_SIZE", True),
            ("INBOUND_MAX_HEADER_SIZE", -1),
        ]:
            with self.subTest(name=name, value=value):
                with override_settings(ANYMAIL={name: value}):
                    (error,) = check_size_settings()
                self.assertEqual(error.id, "anymail.E003")
                self.assertIn(name, error.msg)


@override_settings(ROOT_URLCONF="tests.urls")
class SignedWebhooksCheckTests(SimpleTestCase):
    def unauthenticated_esps(self):
        (warning,) = check_webhook_security()
        return warning.msg

    @override_settings(ANYMAIL={})
    def test_mailgun_always_signs_mandrill_only_with_a_key(self):
        self.assertNotIn("Mailgun", self.unauthenticated_esps())  # it won't run without a key
        self.assertIn("Mandrill", self.unauthenticated_esps())
        self.assertIn("SendGrid", self.unauthenticated_esps())
        with override_settings(ANYMAIL={"MANDRILL_WEBHOOK_KEY": "key"}):
            self.assertNotIn("Mandrill", self.unauthenticated_esps())


class SettingNamesCheckTests(SimpleTestCase):
    def messages(self):
        from anymail.checks import check_setting_names

        return [(m.id, m.msg, m.hint) for m in check_setting_names()]

    @override_settings(
        ANYMAIL={"WEBHOOK_SECRETS": "u:p", "MAILGUN_APIKEY": "k", "SEND_DEFAULTS": {}}
    )
    def test_misspelled_anymail_keys_get_did_you_mean(self):
        messages = self.messages()
        self.assertIn(
            (
                "anymail.W006",
                "Unknown setting 'WEBHOOK_SECRETS' in ANYMAIL.",
                "Did you mean WEBHOOK_SECRET?",
            ),
            messages,
        )
        self.assertIn(
            (
                "anymail.W006",
                "Unknown setting 'MAILGUN_APIKEY' in ANYMAIL.",
                "Did you mean MAILGUN_API_KEY?",
            ),
            messages,
        )
        self.assertEqual(len(messages), 2)  # SEND_DEFAULTS is fine

    @override_settings(ANYMAIL={"MAILGUN_FAVORITE_COLOR": "blue", "EXAMPLE_ESP_API_KEY": "k"})
    def test_unknown_key_for_a_known_esp_but_not_a_custom_backends(self):
        (message,) = self.messages()
        self.assertIn("MAILGUN_FAVORITE_COLOR", message[1])
        self.assertIn("settings reference", message[2])

    @override_settings(ANYMAIL_WEBHOOK_SECRT="u:p", MAILGUN_APIKEY="k", MAILGUN_OTHER_APP="x")
    def test_prefixed_and_bare_settings(self):
        messages = self.messages()
        self.assertIn(
            (
                "anymail.W006",
                "Unknown setting ANYMAIL_WEBHOOK_SECRT.",
                "Did you mean ANYMAIL_WEBHOOK_SECRET?",
            ),
            messages,
        )
        self.assertIn(
            ("anymail.W006", "Unknown setting MAILGUN_APIKEY.", "Did you mean MAILGUN_API_KEY?"),
            messages,
        )
        self.assertEqual(len(messages), 2)  # another app's MAILGUN_OTHER_APP isn't ours to judge

    @override_settings(
        MAILERS={
            "default": {
                "BACKEND": "anymail.backends.mailgun.EmailBackend",
                "OPTIONS": {"api_key": "k", "sender_domian": "mg.example.com", "send_defaults": {}},
            },
            "other": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"x": 1},
            },
        }
    )
    def test_mailer_options(self):
        (message,) = self.messages()
        self.assertEqual(message[0], "anymail.W007")
        self.assertIn("'sender_domian'", message[1])
        self.assertEqual(message[2], "Did you mean 'sender_domain'?")

    def test_the_test_projects_settings_pass(self):
        self.assertEqual(self.messages(), [])
