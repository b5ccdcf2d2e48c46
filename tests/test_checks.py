"""Anymail's system checks, run the way ``manage.py check`` runs them (so registration counts)."""

from django.core import checks
from django.core.checks import run_checks
from django.test import SimpleTestCase, override_settings

from anymail.checks import check_deprecated_settings


def anymail_check_messages() -> list[checks.CheckMessage]:
    return [message for message in run_checks() if (message.id or "").startswith("anymail.")]


class DeprecatedWebhookAuthorizationSettingTests(SimpleTestCase):
    def assert_one_webhook_authorization_error(self, messages):
        self.assertEqual(len(messages), 1, messages)
        (message,) = messages
        self.assertEqual(message.id, "anymail.E001")
        self.assertIsInstance(message, checks.Error)
        self.assertEqual(message.level, checks.ERROR)
        self.assertTrue(message.is_serious())  # so `manage.py check` (and runserver) fails
        self.assertIn("WEBHOOK_SECRET", message.msg)
        self.assertIn("WEBHOOK_AUTHORIZATION", message.msg)

    @override_settings(ANYMAIL={"WEBHOOK_AUTHORIZATION": "abcdefghijklmnop:qrstuvwxyz0123456789"})
    def test_webhook_authorization_in_anymail_dict_is_an_error(self):
        self.assert_one_webhook_authorization_error(anymail_check_messages())

    @override_settings(ANYMAIL_WEBHOOK_AUTHORIZATION="abcdefghijklmnop:qrstuvwxyz0123456789")
    def test_anymail_webhook_authorization_setting_is_an_error(self):
        self.assert_one_webhook_authorization_error(anymail_check_messages())

    @override_settings(
        ANYMAIL={
            "WEBHOOK_AUTHORIZATION": "old:secret",
            "WEBHOOK_SECRET": "abcdefghijklmnop:qrstuvwxyz0123456789",
        }
    )
    def test_webhook_authorization_is_an_error_even_alongside_webhook_secret(self):
        self.assert_one_webhook_authorization_error(anymail_check_messages())

    @override_settings(
        ANYMAIL={"WEBHOOK_AUTHORIZATION": "old:secret"},
        ANYMAIL_WEBHOOK_AUTHORIZATION="old:secret",
    )
    def test_both_forms_of_webhook_authorization_are_each_reported(self):
        messages = anymail_check_messages()
        self.assertEqual([message.id for message in messages], ["anymail.E001", "anymail.E001"])
        for message in messages:
            self.assertIn("WEBHOOK_SECRET", message.msg)

    @override_settings(ANYMAIL={"WEBHOOK_SECRET": "abcdefghijklmnop:qrstuvwxyz0123456789"})
    def test_webhook_secret_alone_is_not_reported(self):
        self.assertEqual(anymail_check_messages(), [])

    @override_settings(ANYMAIL_WEBHOOK_SECRET=["abcdefghijklmnop:qrstuvwxyz0123456789", "a:b"])
    def test_anymail_webhook_secret_setting_alone_is_not_reported(self):
        self.assertEqual(anymail_check_messages(), [])

    def test_no_anymail_settings_is_not_reported(self):
        self.assertEqual(anymail_check_messages(), [])

    @override_settings(ANYMAIL=None)
    def test_anymail_setting_of_none_is_not_reported(self):
        self.assertEqual(anymail_check_messages(), [])

    def test_check_is_registered_for_every_run_not_just_deployment_checks(self):
        self.assertIn(check_deprecated_settings, checks.registry.registry.get_checks())
        with override_settings(ANYMAIL={"WEBHOOK_AUTHORIZATION": "old:secret"}):
            self.assertEqual(
                [m.id for m in run_checks(include_deployment_checks=False)], ["anymail.E001"]
            )
