"""anymail.utils (6.1's helper module, kept for code that imports from it) and 6.1's error API."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone
from email.mime.text import MIMEText

from django.http import QueryDict
from django.test import RequestFactory, SimpleTestCase, override_settings
from django.utils.translation import gettext_lazy

from anymail import utils
from anymail.addresses import EmailAddress as RealEmailAddress
from anymail.exceptions import (
    AnymailError,
    AnymailImproperlyInstalled,
    AnymailSerializationError,
    _LazyError,
)

from .fakes import basic_auth_header

UTC = timezone.utc  # (datetime.UTC is Python 3.11+)


class UtilsExportsTests(SimpleTestCase):
    def test_every_61_name_is_importable(self):
        names = [
            "get_anymail_setting",
            "UNSET",
            "EmailAddress",
            "parse_address_list",
            "parse_single_address",
            "Attachment",
            "is_lazy",
            "force_non_lazy",
            "force_non_lazy_list",
            "force_non_lazy_dict",
            "update_deep",
            "combine",
            "last",
            "getfirst",
            "querydict_getfirst",
            "get_request_basic_auth",
            "get_request_uri",
            "parse_rfc2822date",
            "rfc2822date",
            "timestamp",
            "angle_wrap",
            "get_content_disposition",
            "CaseInsensitiveCasePreservingDict",
            "BASIC_NUMERIC_TYPES",
            "EPOCH",
            "collect_all_methods",
        ]
        for name in names:
            with self.subTest(name=name):
                self.assertTrue(hasattr(utils, name), name)
        self.assertEqual(sorted(utils.__all__), sorted(names))

    def test_reexports_are_the_real_things(self):
        self.assertIs(utils.EmailAddress, RealEmailAddress)
        from anymail.conf import UNSET, get_anymail_setting

        self.assertIs(utils.UNSET, UNSET)
        self.assertIs(utils.get_anymail_setting, get_anymail_setting)

    @override_settings(ANYMAIL={"MAILGUN_API_KEY": "key-from-dict"})
    def test_get_anymail_setting(self):
        self.assertEqual(utils.get_anymail_setting("api_key", esp_name="Mailgun"), "key-from-dict")
        self.assertEqual(utils.get_anymail_setting("missing", default=None), None)

    def test_unset_survives_copy_and_pickle_as_itself(self):
        unset = utils.UNSET
        self.assertIs(copy.copy(unset), unset)
        self.assertIs(copy.deepcopy({"value": unset})["value"], unset)
        self.assertIs(pickle.loads(pickle.dumps(unset)), unset)
        self.assertFalse(unset)
        self.assertEqual(repr(unset), "UNSET")


class UtilsHelpersTests(SimpleTestCase):
    def test_lazy_helpers(self):
        lazy = gettext_lazy("text")
        self.assertTrue(utils.is_lazy(lazy))
        self.assertFalse(utils.is_lazy("text"))
        self.assertIs(type(utils.force_non_lazy(lazy)), str)
        self.assertEqual(utils.force_non_lazy_list([lazy, 1]), ["text", 1])
        self.assertIs(type(utils.force_non_lazy_list((lazy,))[0]), str)
        self.assertEqual(
            utils.force_non_lazy_dict({"k": lazy, "n": {"d": lazy}}),
            {
                "k": "text",
                "n": {"d": "text"},
            },
        )
        self.assertIsNone(utils.force_non_lazy_list(None))
        self.assertIsNone(utils.force_non_lazy_dict(None))

    def test_combine(self):
        unset = utils.UNSET
        self.assertIs(utils.combine(), unset)
        self.assertIs(utils.combine(unset, unset), unset)
        self.assertEqual(utils.combine({"a": 1, "b": 1}, unset, {"b": 2}), {"a": 1, "b": 2})
        self.assertEqual(utils.combine(["a"], ("b",), unset, ["c"]), ["a", "b", "c"])
        self.assertEqual(utils.combine("first", unset, "second"), "second")
        self.assertIsNone(utils.combine(["a"], None))
        original = {"a": 1}
        utils.combine(original, {"a": 2})
        self.assertEqual(original, {"a": 1})  # not modified

    def test_last(self):
        self.assertEqual(utils.last(1, 2, utils.UNSET), 2)
        self.assertIsNone(utils.last("x", None, utils.UNSET))
        self.assertIs(utils.last(utils.UNSET), utils.UNSET)

    def test_update_deep_merges_in_place(self):
        dct = {"a": {"b": 1, "c": 2}, "d": 3}
        result = utils.update_deep(dct, {"a": {"c": 20, "e": 5}, "d": {"new": True}})
        self.assertEqual(dct, {"a": {"b": 1, "c": 20, "e": 5}, "d": {"new": True}})
        self.assertIs(result, dct)

    def test_getfirst(self):
        self.assertEqual(utils.getfirst({"b": 2, "c": 3}, ["a", "b", "c"]), 2)
        self.assertEqual(utils.getfirst({}, ["a"], default="none"), "none")
        self.assertIsNone(utils.getfirst({}, ["a"], default=None))
        with self.assertRaises(KeyError):
            utils.getfirst({"x": 1}, ["a", "b"])

    def test_querydict_getfirst(self):
        qdict = QueryDict("event=first&event=second&empty=")
        self.assertEqual(qdict.get("event"), "second")  # why this helper exists
        self.assertEqual(utils.querydict_getfirst(qdict, "event"), "first")
        self.assertEqual(utils.querydict_getfirst(qdict, "empty"), "")
        self.assertEqual(utils.querydict_getfirst(qdict, "missing", default=None), None)
        with self.assertRaises(KeyError):
            utils.querydict_getfirst(qdict, "missing")

    @override_settings(ALLOWED_HOSTS=["hooks.example.com"])
    def test_request_basic_auth_and_uri(self):
        factory = RequestFactory()
        request = factory.post(
            "/anymail/mandrill/?x=1",
            HTTP_AUTHORIZATION=basic_auth_header("user:pa:ss"),
            HTTP_HOST="hooks.example.com",
        )
        self.assertEqual(utils.get_request_basic_auth(request), "user:pa:ss")
        self.assertEqual(
            utils.get_request_uri(request),
            "http://user:pa:ss@hooks.example.com/anymail/mandrill/?x=1",
        )
        plain = factory.post("/anymail/mandrill/", HTTP_HOST="hooks.example.com", secure=True)
        self.assertIsNone(utils.get_request_basic_auth(plain))
        self.assertEqual(
            utils.get_request_uri(plain), "https://hooks.example.com/anymail/mandrill/"
        )

    def test_dates(self):
        parsed = utils.parse_rfc2822date("Tue, 05 Jan 2016 13:00:00 -0800")
        self.assertEqual(parsed, datetime(2016, 1, 5, 21, 0, 0, tzinfo=UTC))
        self.assertIsNone(utils.parse_rfc2822date("not a date"))
        self.assertIsNone(utils.parse_rfc2822date(""))
        self.assertEqual(utils.timestamp(datetime(2016, 1, 5, 21, 0, 0, tzinfo=UTC)), 1452027600)
        self.assertEqual(utils.timestamp(utils.EPOCH), 0)
        self.assertEqual(utils.EPOCH, datetime(1970, 1, 1, tzinfo=UTC))
        self.assertEqual(
            utils.rfc2822date(datetime(2016, 1, 5, 21, 0, 0, tzinfo=UTC)),
            "Tue, 05 Jan 2016 21:00:00 -0000",
        )

    @override_settings(TIME_ZONE="America/Los_Angeles", USE_TZ=True)
    def test_timestamp_of_naive_datetime_uses_current_timezone(self):
        self.assertEqual(utils.timestamp(datetime(2016, 1, 5, 13, 0, 0)), 1452027600)

    def test_angle_wrap(self):
        self.assertEqual(utils.angle_wrap("abc@example.com"), "<abc@example.com>")
        self.assertEqual(utils.angle_wrap("<abc@example.com>"), "<abc@example.com>")

    def test_get_content_disposition(self):
        part = MIMEText("hi")
        self.assertIsNone(utils.get_content_disposition(part))
        part["Content-Disposition"] = 'Attachment; filename="a.txt"'
        self.assertEqual(utils.get_content_disposition(part), "attachment")

    def test_case_insensitive_case_preserving_dict(self):
        headers = utils.CaseInsensitiveCasePreservingDict({"Reply-To": "a@example.com"})
        headers["reply-to"] = "b@example.com"
        headers["X-New"] = "1"
        self.assertEqual(dict(headers), {"Reply-To": "b@example.com", "X-New": "1"})
        self.assertEqual(headers["REPLY-TO"], "b@example.com")

    def test_numeric_types(self):
        self.assertIsInstance(3, utils.BASIC_NUMERIC_TYPES)
        self.assertIsInstance(3.5, utils.BASIC_NUMERIC_TYPES)
        self.assertNotIsInstance("3", utils.BASIC_NUMERIC_TYPES)

    def test_collect_all_methods(self):
        class Base:
            def check(self):
                return "base"

        class Middle(Base):
            pass

        class Leaf(Middle):
            def check(self):
                return "leaf"

        self.assertEqual(utils.collect_all_methods(Leaf, "check"), [Leaf.check, Base.check])
        self.assertEqual(utils.collect_all_methods(Middle, "check"), [Base.check])
        self.assertEqual(utils.collect_all_methods(Leaf, "missing"), [])

    def test_attachment_content_id(self):
        image = MIMEText("x")
        image["Content-ID"] = "<logo@example.com>"
        attachment = utils.Attachment(image, "utf-8")
        self.assertEqual(attachment.content_id, "<logo@example.com>")
        self.assertEqual(attachment.cid, "logo@example.com")
        self.assertIsNone(utils.Attachment(("a.txt", "text", "text/plain")).content_id)


class ExceptionSignatureTests(SimpleTestCase):
    """The keyword arguments 6.1 code (custom backends) passes to Anymail's errors."""

    def test_raised_from(self):
        cause = ValueError("the real problem")
        error = AnymailError("Couldn't send", raised_from=cause)
        self.assertIs(error.raised_from, cause)
        self.assertEqual(str(error), "Couldn't send\nValueError: the real problem")

    def test_serialization_error_orig_err(self):
        cause = TypeError("Object of type Decimal is not JSON serializable")
        error = AnymailSerializationError(orig_err=cause, esp_name="Postmark")
        self.assertIs(error.orig_err, cause)
        self.assertIn("Don't know how to send this data to Postmark", str(error))
        self.assertIn("Decimal is not JSON serializable", str(error))
        self.assertIsInstance(error, TypeError)
        custom = AnymailSerializationError("Bad metadata", orig_err=cause)
        self.assertTrue(str(custom).startswith("Bad metadata\n"))

    def test_improperly_installed_backend_keyword(self):
        error = AnymailImproperlyInstalled("boto3", backend="amazon_ses")
        self.assertIn("pip install django-anymail[amazon_ses]", str(error))
        self.assertEqual(error.missing_package, "boto3")
        self.assertIsInstance(error, ImportError)
        positional = AnymailImproperlyInstalled("sparkpost", "sparkpost")
        self.assertIn("django-anymail[sparkpost]", str(positional))

    def test_lazy_error_raises_only_when_used(self):
        boto3 = _LazyError(AnymailImproperlyInstalled("boto3", backend="amazon_ses"))
        self.assertFalse(boto3)
        with self.assertRaisesMessage(AnymailImproperlyInstalled, "amazon_ses"):
            boto3.session.Session()
        with self.assertRaises(AnymailImproperlyInstalled):
            boto3()
