"""anymail.addresses: parsing what users write, refusing what would send to the wrong place."""

from __future__ import annotations

from email.header import decode_header, make_header

from django.core.mail.message import BadHeaderError
from django.test import SimpleTestCase
from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st

from anymail.addresses import EmailAddress, parse_address_list, parse_single_address
from anymail.exceptions import AnymailInvalidAddress


class ParseAddressListTests(SimpleTestCase):
    def parsed(self, value):
        return [(a.display_name, a.addr_spec) for a in parse_address_list(value)]

    def test_valid_forms(self):
        cases = {
            "a@example.com": [("", "a@example.com")],
            "A <a@example.com>": [("A", "a@example.com")],
            '"Widgets, Inc." <w@example.com>': [("Widgets, Inc.", "w@example.com")],
            "Wile E. Coyote <wile@example.com>": [("Wile E. Coyote", "wile@example.com")],
            "a@example.com, B <b@example.com>": [("", "a@example.com"), ("B", "b@example.com")],
            "a@example.com,": [("", "a@example.com")],
            "a@example.com, , b@example.com": [("", "a@example.com"), ("", "b@example.com")],
            "Ünïcödé <u@example.com>": [("Ünïcödé", "u@example.com")],
            '"Quote \\"Q\\"" <q@example.com>': [('Quote "Q"', "q@example.com")],
            '"a@b" <c@example.com>': [("a@b", "c@example.com")],
            "root@localhost": [("", "root@localhost")],
            # No stricter about case than a mail server (6.1 accepted these too)
            "Invalid@LocalHost": [("", "Invalid@LocalHost")],
            "ROOT@LOCALHOST": [("", "ROOT@LOCALHOST")],
            "用户@例子.广告": [("", "用户@例子.广告")],
            "": [],
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                self.assertEqual(self.parsed(text), expected)

    def test_list_of_strings_and_lazy(self):
        self.assertEqual(
            self.parsed(["a@example.com, b@example.com", gettext_lazy("c@example.com")]),
            [("", "a@example.com"), ("", "b@example.com"), ("", "c@example.com")],
        )
        self.assertEqual(parse_address_list(None), [])

    def test_invalid_forms_refused_naming_the_text(self):
        for text in [
            "Widgets, Inc. <widgets@example.com>",
            "no-at-sign",
            "<@bad>",
            "a@b@example.com",
            "x@",
            "@example.com",
            "Name <a@example.com> trailing",
            "a b@example.com",
            "alice@example.org)<bob@example.org>",
            "a@nodot",
            "a@example.com;b@example.com",
        ]:
            with self.subTest(text=text), self.assertRaises(AnymailInvalidAddress) as cm:
                parse_address_list([text], field="to")
            self.assertIn(repr(text), str(cm.exception))
            self.assertIn("`to`", str(cm.exception))

    def test_line_breaks_and_nul_refused(self):
        for text in ["a@example.com\nBcc: x@example.com", "a@example.com\r", "a\x00@example.com"]:
            with (
                self.subTest(text=text),
                self.assertRaisesMessage(AnymailInvalidAddress, "line break or NUL"),
            ):
                parse_address_list(text)

    def test_line_breaks_are_also_djangos_header_injection_error(self):
        # Code written for Django's SMTP backend catches BadHeaderError
        with self.assertRaises(BadHeaderError) as cm:
            parse_address_list(["ok@example.com", "a@example.com\nBcc: x@example.com"], "cc")
        self.assertIsInstance(cm.exception, AnymailInvalidAddress)
        self.assertIn("`cc`", str(cm.exception))

    def test_non_string_refused(self):
        with self.assertRaisesMessage(AnymailInvalidAddress, "expected a str, not int"):
            parse_address_list([123])

    def test_parse_single_address(self):
        self.assertEqual(parse_single_address("A <a@example.com>").addr_spec, "a@example.com")
        with self.assertRaisesMessage(AnymailInvalidAddress, "found 2"):
            parse_single_address("a@example.com, b@example.com", field="envelope_sender")

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=60))
    def test_arbitrary_text_parses_or_raises_anymail_invalid_address(self, text):
        try:
            addresses = parse_address_list(text)
        except AnymailInvalidAddress:
            return
        for address in addresses:
            self.assertIn("@", address.addr_spec)
            self.assertNotRegex(address.addr_spec, r"[\r\n\s]")


class EmailAddressTests(SimpleTestCase):
    def test_attributes(self):
        address = EmailAddress("Dr. Justin Customer, CPA", "jcustomer@example.com")
        self.assertEqual(str(address), '"Dr. Justin Customer, CPA" <jcustomer@example.com>')
        self.assertEqual(address.addr_spec, "jcustomer@example.com")
        self.assertEqual(address.display_name, "Dr. Justin Customer, CPA")
        self.assertEqual(address.domain, "example.com")
        self.assertEqual(address.username, "jcustomer")

    def test_str_quotes_only_when_needed(self):
        self.assertEqual(str(EmailAddress("", "a@example.com")), "a@example.com")
        self.assertEqual(
            str(EmailAddress("Plain Name", "a@example.com")), "Plain Name <a@example.com>"
        )
        self.assertEqual(EmailAddress("Ünï", "a@example.com").formatted(), "Ünï <a@example.com>")
        self.assertEqual(
            str(EmailAddress('Say "hi"', "a@example.com")), '"Say \\"hi\\"" <a@example.com>'
        )
        self.assertEqual(
            EmailAddress("Plain", "a@example.com").formatted(quote_always=True),
            '"Plain" <a@example.com>',
        )

    def test_address_is_encoded_for_headers(self):
        # As Django's SMTP backend sends them: RFC 2047 name, IDNA (punycode) domain
        address = EmailAddress("Jörg Ünïcode", "jorg@exämple.com")
        self.assertEqual(
            address.address, "=?utf-8?b?SsO2cmcgw5xuw69jb2Rl?= <jorg@xn--exmple-cua.com>"
        )
        self.assertEqual(str(address), address.address)
        self.assertEqual(address.display_name, "Jörg Ünïcode")  # the attributes stay Unicode
        self.assertEqual(address.addr_spec, "jorg@exämple.com")
        self.assertEqual(address.formatted(), "Jörg Ünïcode <jorg@exämple.com>")
        # A long name is several encoded-words, but never a folded (multi-line) header
        long_name = EmailAddress("Ü" * 60, "a@example.com").address
        self.assertNotIn("\n", long_name)
        self.assertEqual(str(make_header(decode_header(long_name))), "Ü" * 60 + " <a@example.com>")
        # ASCII names keep their RFC 5322 quoting
        self.assertEqual(
            EmailAddress("A, B", "a@exämple.com").address, '"A, B" <a@xn--exmple-cua.com>'
        )

    def test_accepts_display_name_addr_spec_tuple(self):
        address = EmailAddress(("Name", "n@example.com"))
        self.assertEqual((address.display_name, address.addr_spec), ("Name", "n@example.com"))
        self.assertEqual(
            parse_address_list([("A, Inc.", "a@example.com"), "b@example.com"]),
            [EmailAddress("A, Inc.", "a@example.com"), EmailAddress("", "b@example.com")],
        )

    def test_round_trip_through_parser(self):
        for name in ["Widgets, Inc.", 'Q "uoted"', "Ünïcödé", "a(b)c", "semi;colon"]:
            with self.subTest(name=name):
                (parsed,) = parse_address_list(EmailAddress(name, "x@example.com").formatted())
                self.assertEqual((parsed.display_name, parsed.addr_spec), (name, "x@example.com"))

    def test_equality(self):
        self.assertEqual(EmailAddress("A", "a@example.com"), EmailAddress("A", "a@example.com"))
        self.assertNotEqual(EmailAddress("A", "a@example.com"), EmailAddress("B", "a@example.com"))
        self.assertEqual(
            len({EmailAddress("A", "a@example.com"), EmailAddress("A", "a@example.com")}), 1
        )


ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
ADDRESS_PIECES = st.sampled_from(
    [*ATEXT, ".", "@", " ", "  ", "<", ">", '"', ",", "(", ")", "\\", "é", "[", "]", ":", ";"]
)


class FastPathTests(SimpleTestCase):
    """The everyday forms skip the email package's parser: it must not change any result."""

    @given(
        name=st.lists(ADDRESS_PIECES, max_size=12).map("".join),
        local=st.lists(ADDRESS_PIECES, min_size=1, max_size=10).map("".join),
        domain=st.lists(ADDRESS_PIECES, min_size=1, max_size=12).map("".join),
        bracketed=st.booleans(),
    )
    @settings(max_examples=400)
    def test_fast_path_agrees_with_full_parser(self, name, local, domain, bracketed):
        from anymail.addresses import _SIMPLE_ADDRESS, _address_pairs, _parsed_address_pairs

        text = f"{name} <{local}@{domain}>" if bracketed else f"{local}@{domain}"
        core = text.strip(" \t,")
        if not core or "\r" in core or "\n" in core:
            return
        self.assertEqual(_address_pairs(core), _parsed_address_pairs(core), text)
        if _SIMPLE_ADDRESS.fullmatch(core):
            self.assertIsNotNone(_address_pairs(core))

    def test_everyday_forms_take_the_fast_path(self):
        from anymail.addresses import _SIMPLE_ADDRESS

        for text in ["shop@mg.example.com", "Bench Shop <shop@mg.example.com>", "a.b+c@x-y.io"]:
            self.assertIsNotNone(_SIMPLE_ADDRESS.fullmatch(text), text)
        for text in ['"Shop, Inc." <s@example.com>', "x@localhost", "Jörg <j@example.com>"]:
            self.assertIsNone(_SIMPLE_ADDRESS.fullmatch(text), text)

    def test_cached_results_are_fresh_objects(self):
        first = parse_single_address("Bench Shop <shop@example.com>")
        first.display_name = "Changed"
        second = parse_single_address("Bench Shop <shop@example.com>")
        self.assertEqual(second.display_name, "Bench Shop")
        self.assertIsNot(first, second)

    def test_a_cached_invalid_address_still_names_its_field(self):
        for field in ("to", "cc"):
            with self.assertRaisesRegex(AnymailInvalidAddress, f"in `{field}`"):
                parse_address_list(["not-an-address"], field=field)
