"""anymail.conf's declared table of settings matches what the code reads."""

from __future__ import annotations

from django.test import SimpleTestCase

from anymail.conf import BARE_SETTINGS, ESP_SETTING_PREFIXES, KNOWN_SETTINGS

from .test_docs_examples import esp_prefixes, settings_read_by_code


class KnownSettingsTests(SimpleTestCase):
    def test_declared_settings_are_the_ones_the_code_reads(self):
        # (The docs test checks the settings reference against the same scan of the code)
        read = settings_read_by_code()
        declared = {name for name in KNOWN_SETTINGS if not name.startswith(("TEST_", "CONSOLE_"))}
        self.assertEqual(sorted(declared), sorted(read.names))
        self.assertEqual(sorted(BARE_SETTINGS), sorted(read.bare_names))

    def test_esp_prefixes(self):
        self.assertEqual(sorted(ESP_SETTING_PREFIXES), esp_prefixes())
