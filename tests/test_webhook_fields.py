"""anymail.webhooks.fields: typed reads of untrusted webhook payloads."""

from __future__ import annotations

from django.test import SimpleTestCase

from anymail.webhooks.fields import (
    list_of,
    optional_dict,
    optional_str,
    required_dict,
    required_str,
)


class FieldReaderTests(SimpleTestCase):
    def test_optional_str(self):
        data = {"s": "text", "empty": "", "null": None, "n": 42, "f": 1.5, "b": True, "l": ["x"]}
        self.assertEqual(optional_str(data, "s"), "text")
        self.assertIsNone(optional_str(data, "empty"))
        self.assertIsNone(optional_str(data, "null"))
        self.assertIsNone(optional_str(data, "missing"))
        self.assertEqual(optional_str(data, "n", numbers_ok=True), "42")
        for key in ("n", "f", "b", "l"):
            with self.subTest(key=key), self.assertRaisesMessage(ValueError, f"Field {key!r}"):
                optional_str(data, key)
        for key in ("f", "b", "l"):
            with self.subTest(key=key, numbers_ok=True), self.assertRaises(ValueError):
                optional_str(data, key, numbers_ok=True)

    def test_required_str(self):
        self.assertEqual(required_str({"id": "abc"}, "id"), "abc")
        self.assertEqual(required_str({"id": 7}, "id", numbers_ok=True), "7")
        with self.assertRaisesMessage(ValueError, "Field 'id' is missing"):
            required_str({"id": ""}, "id")
        with self.assertRaisesMessage(ValueError, "Expected an object with 'id', not list"):
            required_str(["id"], "id")

    def test_dicts(self):
        self.assertEqual(optional_dict({"d": {"a": 1}}, "d"), {"a": 1})
        self.assertEqual(optional_dict({"d": None}, "d"), {})
        self.assertEqual(optional_dict({}, "d"), {})
        with self.assertRaisesMessage(ValueError, "should be an object, not str"):
            optional_dict({"d": "x"}, "d")
        self.assertEqual(required_dict({"d": {}}, "d"), {})
        with self.assertRaisesMessage(ValueError, "missing or not an object"):
            required_dict({"d": []}, "d")

    def test_list_of(self):
        self.assertEqual(list_of({"tags": ["a", "b"]}, "tags", str), ["a", "b"])
        self.assertEqual(list_of({"tags": None}, "tags", str), [])
        self.assertEqual(list_of({}, "tags", str), [])
        for bad in ("a", ["a", 1], {"a": 1}):
            with self.subTest(bad=bad), self.assertRaisesMessage(ValueError, "list of str"):
                list_of({"tags": bad}, "tags", str)
