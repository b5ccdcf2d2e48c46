"""anymail.conf.get_anymail_setting: lookup order and the missing-setting error."""

from __future__ import annotations

from django.conf import settings
from django.test import SimpleTestCase, override_settings

from anymail.conf import esp_setting_prefix, get_anymail_setting
from anymail.exceptions import AnymailConfigurationError


class SettingsLookupTests(SimpleTestCase):
    @override_settings(
        ANYMAIL={"MAILGUN_API_KEY": "from-dict"},
        ANYMAIL_MAILGUN_API_KEY="from-prefixed",
        MAILGUN_API_KEY="from-bare",
    )
    def test_kwargs_then_dict_then_prefixed_then_bare(self):
        def lookup(**kwargs):
            return get_anymail_setting("api_key", esp_name="Mailgun", **kwargs)

        kwargs = {"api_key": "from-kwargs", "other": 1}
        self.assertEqual(lookup(kwargs=kwargs, allow_bare=True), "from-kwargs")
        self.assertEqual(kwargs, {"other": 1})  # consumed, so the rest can be passed on
        self.assertEqual(lookup(allow_bare=True), "from-dict")
        with override_settings():
            del settings.ANYMAIL
            self.assertEqual(lookup(allow_bare=True), "from-prefixed")
            del settings.ANYMAIL_MAILGUN_API_KEY
            self.assertEqual(lookup(allow_bare=True), "from-bare")
            with self.assertRaises(AnymailConfigurationError):
                lookup()  # bare settings count only where the ESP allows them

    def test_default_used_when_unset_including_none(self):
        self.assertEqual(get_anymail_setting("ignore_recipient_status", default=False), False)
        self.assertIsNone(get_anymail_setting("something_optional", default=None))

    @override_settings(ANYMAIL={"IGNORE_RECIPIENT_STATUS": None})
    def test_explicit_none_setting_is_returned(self):
        self.assertIsNone(get_anymail_setting("ignore_recipient_status", default=True))

    def test_missing_setting_error_lists_places(self):
        with self.assertRaises(AnymailConfigurationError) as cm:
            get_anymail_setting("server_token", esp_name="Postmark", kwargs={}, allow_bare=True)
        message = str(cm.exception)
        self.assertIn('ANYMAIL = {"POSTMARK_SERVER_TOKEN": ...}', message)
        self.assertIn("ANYMAIL_POSTMARK_SERVER_TOKEN", message)
        self.assertIn("or POSTMARK_SERVER_TOKEN", message)
        self.assertIn("server_token=", message)
        self.assertIn("Postmark", message)

    def test_multi_word_esp_prefix(self):
        self.assertEqual(esp_setting_prefix("Amazon SES"), "AMAZON_SES")
        with override_settings(ANYMAIL={"AMAZON_SES_CLIENT_PARAMS": {"region_name": "us-west-2"}}):
            self.assertEqual(
                get_anymail_setting("client_params", esp_name="Amazon SES"),
                {"region_name": "us-west-2"},
            )
