"""Tests for anymail.inbound.AnymailInboundMessage: parsing, normalized properties, attachment
helpers, construct(), and robustness against malformed (hostile) mail."""

from __future__ import annotations

import copy
import io
import json
import pickle
import quopri
import random
import re
import time
import tracemalloc
import unicodedata
from base64 import b64encode, encodebytes
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.policy import compat32
from urllib.parse import quote

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.utils import validate_file_name
from django.test import SimpleTestCase, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anymail.addresses import EmailAddress
from anymail.exceptions import AnymailConfigurationError
from anymail.inbound import AnymailInboundMessage
from anymail.inbound_spool import parse_spooled_mime
from anymail.streaming import SpilledString, SpoolView, load_json

PNG_DATA = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
PDF_DATA = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
GIF_DATA = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
)


def b64(data: bytes) -> bytes:
    return encodebytes(data).rstrip(b"\n")


# A typical HTML message with an inline image and a PDF attachment:
# multipart/mixed [ multipart/alternative [ text/plain, multipart/related [ text/html, png ] ],
#                   application/pdf ]
COMPLEX_MESSAGE = b"""Return-Path: <bounces@lists.example.org>
Received: from mail.example.com by mx.example.net; Tue, 2 Jan 2024 09:15:03 +0000
DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=one; b=AAAA
DKIM-Signature: v=1; a=rsa-sha256; d=lists.example.org; s=two; b=BBBB
From: =?utf-8?q?Dr=2E_Justin_Customer=2C_CPA?= <jcustomer@example.com>
To: Support <support@example.net>, "Sales, West" <sales-west@example.net>
To: second-to@example.net
Cc: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jorg@example.de>
Reply-To: replies@example.com
Subject: =?utf-8?b?UmU6IFlvdXIgb3JkZXIg4oCUIGNhZsOp?=
Date: Tue, 02 Jan 2024 10:15:00 +0100
Message-ID: <complex-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==outer=="

This is a multi-part message in MIME format.

--==outer==
Content-Type: multipart/alternative; boundary="==alt=="

--==alt==
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 order =E2=80=94 see the attached report.
Thanks!
--==alt==
Content-Type: multipart/related; boundary="==rel=="

--==rel==
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: 8bit

<p>Caf\xc3\xa9 order <img src="cid:logo.123@example.com"></p>
--==rel==
Content-Type: image/png; name="logo.png"
Content-Disposition: inline; filename="logo.png"
Content-ID: <logo.123@example.com>
Content-Transfer-Encoding: base64

{PNG}
--==rel==--
--==alt==--
--==outer==
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

{PDF}
--==outer==--
""".replace(b"{PNG}", b64(PNG_DATA)).replace(b"{PDF}", b64(PDF_DATA))

# Single-part ISO-8859-1 message, 8bit body, RFC 2047 Q-encoded headers
LATIN1_MESSAGE = b"""From: =?iso-8859-1?q?Andr=E9_Fran=E7ois?= <andre@example.fr>
To: =?ISO-8859-1?Q?Ren=E9e?= <renee@example.fr>
Subject: =?iso-8859-1?q?R=E9sum=E9_de_la_r=E9union?=
Date: Wed, 3 Jan 2024 16:45:00 -0500
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

Voil\xe0 le r\xe9sum\xe9 \xa3100.
"""

# A message forwarded as an attachment (no Content-Disposition on the message/rfc822 part)
FORWARDED_MESSAGE = b"""From: forwarder@example.com
To: inbound@example.net
Subject: Fwd: original
Content-Type: multipart/mixed; boundary="fwd-boundary"

--fwd-boundary
Content-Type: text/plain; charset=us-ascii

See the forwarded message.
--fwd-boundary
Content-Type: message/rfc822

From: Original Sender <original@example.org>
To: forwarder@example.com
Subject: original
Content-Type: text/plain; charset=utf-8

Original body text.
--fwd-boundary--
"""

# Non-ASCII attachment filenames, in every encoding mailers use
FILENAMES_MESSAGE = (
    b"""From: files@example.com
Subject: filenames
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Files attached.
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9%20%E2%82%AC.txt

one
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?utf-8?b?{B64NAME}?="

two
--b
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=iso-8859-1''Gr%FC%DFe;
 filename*1*=%20aus%20K%F6ln.txt

three
--b
Content-Type: application/octet-stream; name="=?utf-8?q?Fu=C3=9Fball.bin?="

four
--b--
"""
).replace(b"{B64NAME}", b64encode("日本語.pdf".encode()))

# Content-ID without Content-Disposition (common from some mailers): still an inline image
CID_NO_DISPOSITION_MESSAGE = (
    b"""From: cid@example.com
Subject: cid
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8
Content-ID: <root-html@example.com>

<img src="cid:spacer@example.com">
--rel
Content-Type: image/gif
Content-ID: <spacer@example.com>
Content-Transfer-Encoding: base64

{GIF}
--rel--
"""
).replace(b"{GIF}", b64(GIF_DATA))

MISSING_HEADERS_MESSAGE = b"""X-Mailer: nothing useful

Body only.
"""

INVALID_HEADERS_MESSAGE = b"""From: not an email address
To: valid@example.com, bogus, Joe Bloggs <joe@example.com>, @incomplete, nodomain@
Cc: also not an address
Date: sometime last Tuesday
Subject:

Body.
"""


def parse(raw: bytes) -> AnymailInboundMessage:
    return AnymailInboundMessage.parse_raw_mime_bytes(raw)


def single_part(headers: str, body: bytes) -> AnymailInboundMessage:
    """A one-part message with the given (str) headers and raw body bytes."""
    return parse(headers.encode("ascii") + b"\n\n" + body)


class ParsingTests(SimpleTestCase):
    def test_parse_raw_mime_bytes(self):
        msg = parse(COMPLEX_MESSAGE)
        self.assertIsInstance(msg, AnymailInboundMessage)
        self.assertIsInstance(msg, Message)
        self.assertEqual(msg["Message-ID"], "<complex-1@example.com>")

    def test_parse_raw_mime_str(self):
        # An ESP that has already decoded the raw message (e.g., to send it in JSON)
        raw = LATIN1_MESSAGE.decode("latin-1").replace(
            "charset=iso-8859-1", "charset=utf-8"
        )  # the text is now Unicode, so whatever charset it claimed is moot; utf-8 declared
        msg = AnymailInboundMessage.parse_raw_mime(raw)
        self.assertEqual(msg.text, "Voilà le résumé £100.\n")
        self.assertEqual(msg.subject, "Résumé de la réunion")

    def test_parse_raw_mime_str_with_utf8_headers(self):
        msg = AnymailInboundMessage.parse_raw_mime(
            "From: Jürgen <jurgen@example.de>\nSubject: Grüße\n\nHallo\n"
        )
        self.assertEqual(msg.subject, "Grüße")
        self.assertEqual(msg.from_email, EmailAddress("Jürgen", "jurgen@example.de"))

    def test_parse_raw_mime_file_binary(self):
        msg = AnymailInboundMessage.parse_raw_mime_file(io.BytesIO(LATIN1_MESSAGE))
        self.assertEqual(msg.text, "Voilà le résumé £100.\n")

    def test_parse_raw_mime_file_text(self):
        raw = COMPLEX_MESSAGE.decode("utf-8")
        msg = AnymailInboundMessage.parse_raw_mime_file(io.StringIO(raw))
        self.assertEqual(msg.subject, "Re: Your order — café")
        self.assertEqual(msg.attachments[0].get_content_bytes(), PDF_DATA)

    def test_crlf_line_endings(self):
        msg = parse(COMPLEX_MESSAGE.replace(b"\n", b"\r\n"))
        self.assertEqual(msg.subject, "Re: Your order — café")
        self.assertEqual(msg.text, "Café order — see the attached report.\r\nThanks!")
        self.assertEqual(msg.attachments[0].get_content_bytes(), PDF_DATA)
        self.assertEqual(
            msg.inline_attachments["logo.123@example.com"].get_content_bytes(), PNG_DATA
        )

    def test_all_parts_are_inbound_messages(self):
        for raw in (COMPLEX_MESSAGE, FORWARDED_MESSAGE, FILENAMES_MESSAGE):
            for part in parse(raw).walk():
                self.assertIsInstance(part, AnymailInboundMessage)
        # including the parts of an attached message
        forwarded = parse(FORWARDED_MESSAGE).attachments[0].get_payload(0)
        self.assertIsInstance(forwarded, AnymailInboundMessage)


class StandardMessageApiTests(SimpleTestCase):
    """The stdlib email.message.Message features the docs promise still work."""

    def setUp(self):
        self.msg = parse(COMPLEX_MESSAGE)

    def test_header_mapping_is_case_insensitive(self):
        self.assertEqual(self.msg["reply-to"], "replies@example.com")
        self.assertEqual(self.msg["REPLY-TO"], "replies@example.com")
        self.assertIsNone(self.msg["X-Not-Present"])

    def test_get_all(self):
        signatures = self.msg.get_all("DKIM-Signature")
        self.assertEqual(len(signatures), 2)
        self.assertIn("s=one", signatures[0])
        self.assertIn("s=two", signatures[1])
        self.assertIsNone(self.msg.get_all("X-Not-Present"))

    def test_getall_alias_from_docs(self):
        # The docs show message.getall(); it behaves exactly like get_all()
        self.assertEqual(self.msg.getall("DKIM-Signature"), self.msg.get_all("DKIM-Signature"))
        self.assertEqual(self.msg.getall("X-Not-Present", []), [])

    def test_headers_read_decoded(self):
        # (The modern email policy decodes RFC 2047 even when using the mapping interface)
        self.assertEqual(self.msg["Subject"], "Re: Your order — café")

    def test_walk_and_content_types(self):
        types = [part.get_content_type() for part in self.msg.walk()]
        self.assertEqual(
            types,
            [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "multipart/related",
                "text/html",
                "image/png",
                "application/pdf",
            ],
        )
        self.assertEqual(self.msg.get_content_maintype(), "multipart")
        self.assertEqual(self.msg.get_content_subtype(), "mixed")


class LegacyPolicyTests(SimpleTestCase):
    """The properties don't depend on the modern policy's header objects (e.g., if a caller
    builds a message with the compat32 policy, or a header is beyond the policy's parser)."""

    def setUp(self):
        self.msg = AnymailInboundMessage(policy=compat32)
        self.msg["From"] = "=?utf-8?q?J=C3=B6rg=2C_M?= <jorg@example.de>"
        self.msg["To"] = "a@example.com, not valid, B <b@example.com>"
        self.msg["Subject"] = "=?iso-8859-1?q?caf=E9?= time"
        self.msg["Date"] = "Tue, 02 Jan 2024 10:15:00 +0100"
        self.msg["Content-Disposition"] = "attachment; filename*=utf-8''%C3%A9t%C3%A9.txt"
        self.msg["Content-Type"] = "text/plain; charset=iso-8859-1"
        self.msg.set_payload("caf\xe9")

    def test_header_values_are_plain_strings(self):
        self.assertEqual(type(self.msg["Subject"]), str)
        self.assertEqual(self.msg["Subject"], "=?iso-8859-1?q?caf=E9?= time")

    def test_properties(self):
        self.assertEqual(self.msg.from_email, EmailAddress("Jörg, M", "jorg@example.de"))
        self.assertEqual(
            self.msg.to, [EmailAddress("", "a@example.com"), EmailAddress("B", "b@example.com")]
        )
        self.assertEqual(self.msg.subject, "café time")
        self.assertEqual(
            self.msg.date, datetime(2024, 1, 2, 10, 15, tzinfo=timezone(timedelta(hours=1)))
        )
        self.assertEqual(self.msg.get_filename(), "été.txt")
        self.assertEqual(self.msg.get_content_disposition(), "attachment")
        self.assertEqual(self.msg.attachments, [self.msg])

    def test_invalid_date(self):
        self.msg.replace_header("Date", "not a date")
        self.assertIsNone(self.msg.date)


class AttributeTests(SimpleTestCase):
    def test_esp_attributes_default_none(self):
        for msg in (
            parse(COMPLEX_MESSAGE),
            AnymailInboundMessage(),
            AnymailInboundMessage.construct(),
        ):
            for attr in (
                "envelope_sender",
                "envelope_recipient",
                "spam_detected",
                "spam_score",
                "stripped_text",
                "stripped_html",
            ):
                with self.subTest(attr=attr):
                    self.assertIsNone(getattr(msg, attr))

    def test_esp_attributes_are_settable_per_instance(self):
        msg = parse(COMPLEX_MESSAGE)
        msg.envelope_sender = "bounces@lists.example.org"
        msg.envelope_recipient = "support@example.net"
        msg.spam_detected = False
        msg.spam_score = 1.5
        msg.stripped_text = "Café order"
        msg.stripped_html = "<p>Café order</p>"
        self.assertEqual(msg.envelope_sender, "bounces@lists.example.org")
        self.assertEqual(msg.envelope_recipient, "support@example.net")
        self.assertIs(msg.spam_detected, False)
        self.assertEqual(msg.spam_score, 1.5)
        self.assertEqual(msg.stripped_text, "Café order")
        self.assertEqual(msg.stripped_html, "<p>Café order</p>")
        self.assertIsNone(AnymailInboundMessage().spam_score)  # not shared between instances


class AddressPropertyTests(SimpleTestCase):
    def test_from_email(self):
        from_email = parse(COMPLEX_MESSAGE).from_email
        self.assertIsInstance(from_email, EmailAddress)
        self.assertEqual(str(from_email), '"Dr. Justin Customer, CPA" <jcustomer@example.com>')
        self.assertEqual(from_email.addr_spec, "jcustomer@example.com")
        self.assertEqual(from_email.display_name, "Dr. Justin Customer, CPA")
        self.assertEqual(from_email.domain, "example.com")
        self.assertEqual(from_email.username, "jcustomer")

    def test_from_email_without_display_name(self):
        from_email = parse(FORWARDED_MESSAGE).from_email
        self.assertEqual(from_email.display_name, "")
        self.assertEqual(str(from_email), "forwarder@example.com")

    def test_from_email_iso_8859_1_display_name(self):
        self.assertEqual(
            parse(LATIN1_MESSAGE).from_email, EmailAddress("André François", "andre@example.fr")
        )

    def test_from_email_raw_utf8_header(self):
        # RFC 6532: unencoded UTF-8 in headers
        msg = parse("From: Zoë Ñandú <zoe@example.com>\n\nHi\n".encode())
        self.assertEqual(msg.from_email, EmailAddress("Zoë Ñandú", "zoe@example.com"))

    def test_from_email_uses_first_from_header(self):
        msg = parse(b"From: first@example.com\nFrom: second@example.com\n\n")
        self.assertEqual(msg.from_email, EmailAddress("", "first@example.com"))
        msg = parse(b"From: First <first@example.com>, second@example.com\n\n")
        self.assertEqual(msg.from_email, EmailAddress("First", "first@example.com"))

    def test_to_includes_all_to_headers(self):
        self.assertEqual(
            parse(COMPLEX_MESSAGE).to,
            [
                EmailAddress("Support", "support@example.net"),
                EmailAddress("Sales, West", "sales-west@example.net"),
                EmailAddress("", "second-to@example.net"),
            ],
        )

    def test_cc_decodes_display_name(self):
        self.assertEqual(
            parse(COMPLEX_MESSAGE).cc, [EmailAddress("Jörg Müller", "jorg@example.de")]
        )

    def test_group_syntax(self):
        msg = parse(b"To: undisclosed-recipients:;\nCc: Team: a@example.com, b@example.com;\n\nx")
        self.assertEqual(msg.to, [])
        self.assertEqual([addr.addr_spec for addr in msg.cc], ["a@example.com", "b@example.com"])

    def test_missing_address_headers(self):
        msg = parse(MISSING_HEADERS_MESSAGE)
        self.assertIsNone(msg.from_email)
        self.assertEqual(msg.to, [])
        self.assertEqual(msg.cc, [])

    def test_invalid_address_headers(self):
        msg = parse(INVALID_HEADERS_MESSAGE)
        self.assertIsNone(msg.from_email)
        # just the valid addresses, in order
        self.assertEqual(
            msg.to,
            [EmailAddress("", "valid@example.com"), EmailAddress("Joe Bloggs", "joe@example.com")],
        )
        self.assertEqual(msg.cc, [])

    def test_unparseable_from_header(self):
        # The stdlib's modern header parser raises IndexError for this one
        msg = parse(b"From:\x80<\nSubject: still readable\n\nBody\n")
        self.assertIsNone(msg.from_email)
        self.assertIsInstance(msg["From"], str)  # raw header text, rather than an exception
        self.assertEqual(msg.subject, "still readable")
        self.assertEqual(msg.text, "Body\n")


class SubjectAndDatePropertyTests(SimpleTestCase):
    def test_subject_utf8_base64(self):
        self.assertEqual(parse(COMPLEX_MESSAGE).subject, "Re: Your order — café")

    def test_subject_iso_8859_1_quoted_printable(self):
        self.assertEqual(parse(LATIN1_MESSAGE).subject, "Résumé de la réunion")

    def test_subject_mixed_encoded_words_and_plain_text(self):
        msg = parse(b"Subject: Fwd: =?utf-8?q?caf=C3=A9?= =?iso-8859-15?q?=A4?= and more\n\n")
        self.assertEqual(msg.subject, "Fwd: café€ and more")

    def test_subject_unknown_charset_in_encoded_word(self):
        subject = parse(b"Subject: =?x-unknown?q?caf=E9?= ok\n\n").subject
        self.assertTrue(subject.startswith("caf"))
        self.assertTrue(subject.endswith(" ok"))

    def test_subject_missing_and_empty(self):
        self.assertIsNone(parse(MISSING_HEADERS_MESSAGE).subject)
        self.assertEqual(parse(INVALID_HEADERS_MESSAGE).subject, "")

    def test_date(self):
        date = parse(COMPLEX_MESSAGE).date
        self.assertEqual(date, datetime(2024, 1, 2, 10, 15, tzinfo=timezone(timedelta(hours=1))))
        self.assertEqual(date.utcoffset(), timedelta(hours=1))
        self.assertEqual(
            parse(LATIN1_MESSAGE).date.utcoffset(), timedelta(hours=-5)
        )  # aware, with the sender's offset

    def test_date_unknown_timezone_is_naive(self):
        # "-0000" means the sender had no timezone info (RFC 5322 3.3), per the docs
        date = parse(b"Date: Wed, 3 Jan 2024 16:45:00 -0000\n\n").date
        self.assertEqual(date, datetime(2024, 1, 3, 16, 45))
        self.assertIsNone(date.tzinfo)

    def test_date_missing_or_invalid(self):
        self.assertIsNone(parse(MISSING_HEADERS_MESSAGE).date)
        self.assertIsNone(parse(INVALID_HEADERS_MESSAGE).date)
        for bad in (b"", b"Thu, 32 Jan 2024 10:00:00 +0000", b"Mon, 1 Jan 2024 10:00:00 +9999"):
            with self.subTest(bad=bad):
                self.assertIsNone(parse(b"Date: " + bad + b"\n\nx").date)


class BodyPropertyTests(SimpleTestCase):
    def test_text_and_html(self):
        msg = parse(COMPLEX_MESSAGE)
        self.assertEqual(msg.text, "Café order — see the attached report.\nThanks!")
        self.assertEqual(msg.html, '<p>Café order <img src="cid:logo.123@example.com"></p>')

    def test_text_only_message(self):
        msg = parse(LATIN1_MESSAGE)
        self.assertEqual(msg.text, "Voilà le résumé £100.\n")
        self.assertIsNone(msg.html)

    def test_html_only_message(self):
        msg = single_part("Content-Type: text/html; charset=utf-8", "<b>Grüße</b>".encode())
        self.assertIsNone(msg.text)
        self.assertEqual(msg.html, "<b>Grüße</b>")

    def test_message_without_content_type_is_text(self):
        self.assertEqual(parse(MISSING_HEADERS_MESSAGE).text, "Body only.\n")

    def test_first_body_part_wins(self):
        msg = parse(
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b"--b\nContent-Type: text/plain\n\nfirst\n"
            b"--b\nContent-Type: text/plain\n\nmailing list footer\n--b--\n"
        )
        self.assertEqual(msg.text, "first")
        self.assertEqual(msg.attachments, [])

    def test_text_attachment_is_not_the_body(self):
        msg = parse(
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b'--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename="a.txt"\n\n'
            b"attached text\n"
            b"--b\nContent-Type: text/html\n\n<p>real body</p>\n--b--\n"
        )
        self.assertIsNone(msg.text)
        self.assertEqual(msg.html, "<p>real body</p>")
        self.assertEqual(len(msg.attachments), 1)
        self.assertEqual(msg.attachments[0].get_content_text(), "attached text")

    def test_inline_text_with_filename_is_an_attachment(self):
        msg = parse(
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b"--b\nContent-Type: text/plain\nContent-Disposition: inline\n\nthe body\n"
            b'--b\nContent-Type: text/plain\nContent-Disposition: inline; filename="notes.txt"\n\n'
            b"notes\n--b--\n"
        )
        self.assertEqual(msg.text, "the body")
        self.assertEqual([part.get_filename() for part in msg.attachments], ["notes.txt"])
        self.assertTrue(msg.attachments[0].is_inline_attachment())

    def test_forwarded_message_body_is_not_the_outer_body(self):
        msg = parse(FORWARDED_MESSAGE)
        self.assertEqual(msg.text, "See the forwarded message.")
        # A forwarded message alone isn't the body, either
        only_forwarded = parse(b"Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n")
        self.assertIsNone(only_forwarded.text)

    def test_quoted_printable_and_base64_bodies(self):
        qp = single_part(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
            b"Soft=\n break and =C3=BC",
        )
        self.assertEqual(qp.text, "Soft break and ü")
        b64_msg = single_part(
            "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64",
            b64("<p>naïve</p>".encode()),
        )
        self.assertEqual(b64_msg.html, "<p>naïve</p>")


class CharsetTests(SimpleTestCase):
    def test_iso_8859_1(self):
        msg = single_part("Content-Type: text/plain; charset=iso-8859-1", b"caf\xe9")
        self.assertEqual(msg.text, "café")

    def test_windows_1252(self):
        msg = single_part("Content-Type: text/plain; charset=windows-1252", b"\x93Hi\x94 \x97 \x80")
        self.assertEqual(msg.text, "\u201cHi\u201d \u2014 €")

    def test_shift_jis(self):
        body = "日本語テキスト".encode("shift_jis")
        msg = single_part(
            "Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: base64",
            b64(body),
        )
        self.assertEqual(msg.text, "日本語テキスト")

    def test_gb2312_label_decodes_as_superset(self):
        # Mailers label GBK text "gb2312"; this character is in GBK but not GB 2312
        msg = single_part("Content-Type: text/plain; charset=gb2312", "镕".encode("gbk"))
        self.assertEqual(msg.text, "镕")

    def test_unknown_charset_falls_back_to_utf8(self):
        msg = single_part("Content-Type: text/plain; charset=x-made-up", "naïve".encode())
        self.assertEqual(msg.text, "naïve")

    def test_non_text_codec_charset_falls_back_to_utf8(self):
        # "base64" and "idna" are Python codecs, but not usable text charsets
        for charset in ("base64", "idna", "rot13"):
            with self.subTest(charset=charset):
                msg = single_part(f"Content-Type: text/plain; charset={charset}", "ça".encode())
                self.assertEqual(msg.text, "ça")

    def test_undecodable_bytes_are_replaced(self):
        msg = single_part("Content-Type: text/plain; charset=utf-8", b"ok \xff\xfe bytes")
        self.assertEqual(msg.text, "ok \ufffd\ufffd bytes")

    def test_missing_charset_is_utf8(self):
        self.assertEqual(single_part("Content-Type: text/plain", "ünï".encode()).text, "ünï")


class AttachmentPropertyTests(SimpleTestCase):
    def test_attachments_and_inline_attachments(self):
        msg = parse(COMPLEX_MESSAGE)
        self.assertEqual(len(msg.attachments), 1)
        pdf = msg.attachments[0]
        self.assertIsInstance(pdf, AnymailInboundMessage)
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertEqual(pdf.get_filename(), "report.pdf")
        self.assertEqual(pdf.get_content_bytes(), PDF_DATA)

        self.assertEqual(list(msg.inline_attachments), ["logo.123@example.com"])
        logo = msg.inline_attachments["logo.123@example.com"]
        self.assertIsInstance(logo, AnymailInboundMessage)
        self.assertEqual(logo.get_content_type(), "image/png")
        self.assertEqual(logo.get_filename(), "logo.png")
        self.assertEqual(logo.get_content_bytes(), PNG_DATA)

    def test_no_attachments(self):
        msg = parse(LATIN1_MESSAGE)
        self.assertEqual(msg.attachments, [])
        self.assertEqual(msg.inline_attachments, {})

    def test_content_id_without_disposition_is_inline(self):
        msg = parse(CID_NO_DISPOSITION_MESSAGE)
        self.assertEqual(list(msg.inline_attachments), ["spacer@example.com"])
        gif = msg.inline_attachments["spacer@example.com"]
        self.assertIsNone(gif.get_content_disposition())
        self.assertTrue(gif.is_inline_attachment())
        self.assertFalse(gif.is_attachment())
        self.assertEqual(gif.get_content_bytes(), GIF_DATA)
        self.assertEqual(msg.attachments, [])
        # ... but a Content-ID on the html body part doesn't make it an attachment
        self.assertEqual(msg.html, '<img src="cid:spacer@example.com">')

    def test_inline_without_content_id_is_listed_in_attachments(self):
        # Apple Mail's inline photos in plaintext messages: nothing could reference them by cid
        msg = parse(
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b"--b\nContent-Type: text/plain\n\nLook:\n"
            b'--b\nContent-Type: image/gif\nContent-Disposition: inline; filename="pic.gif"\n'
            b"Content-Transfer-Encoding: base64\n\n" + b64(GIF_DATA) + b"\n--b--\n"
        )
        self.assertEqual(msg.inline_attachments, {})
        self.assertEqual(len(msg.attachments), 1)
        self.assertTrue(msg.attachments[0].is_inline_attachment())
        self.assertEqual(msg.attachments[0].get_content_bytes(), GIF_DATA)

    def test_duplicate_content_id_keeps_first_and_lists_the_rest(self):
        msg = parse(
            b'Content-Type: multipart/related; boundary="b"\n\n'
            b"--b\nContent-Type: text/html\n\n<img src='cid:dup'>\n"
            b"--b\nContent-Type: image/gif\nContent-ID: <dup>\n\nfirst\n"
            b"--b\nContent-Type: image/gif\nContent-ID: <dup>\n\nsecond\n--b--\n"
        )
        self.assertEqual(msg.inline_attachments["dup"].get_content_bytes(), b"first")
        self.assertEqual([a.get_content_bytes() for a in msg.attachments], [b"second"])

    def test_content_id_key_is_unquoted(self):
        msg = parse(
            b'Content-Type: multipart/related; boundary="b"\n\n'
            b"--b\nContent-Type: text/html\n\nx\n"
            b"--b\nContent-Type: image/gif\nContent-ID:   < spaced@example.com >  \n\ng\n"
            b"--b\nContent-Type: image/gif\nContent-Disposition: inline\nContent-ID: bare-id\n\nb\n"
            b"--b--\n"
        )
        self.assertEqual(sorted(msg.inline_attachments), ["bare-id", "spaced@example.com"])

    def test_forwarded_message_attachment(self):
        msg = parse(FORWARDED_MESSAGE)
        self.assertEqual(msg.inline_attachments, {})
        self.assertEqual(len(msg.attachments), 1)
        forwarded = msg.attachments[0]
        self.assertEqual(forwarded.get_content_type(), "message/rfc822")
        self.assertTrue(forwarded.is_attachment())  # even with no Content-Disposition
        self.assertIsNone(forwarded.get_content_disposition())

        # The attachment's content is the whole attached message...
        content = forwarded.get_content_bytes()
        self.assertIn(b"Subject: original\n", content)
        self.assertTrue(content.rstrip().endswith(b"Original body text."))
        reparsed = AnymailInboundMessage.parse_raw_mime_bytes(content)
        self.assertEqual(reparsed.from_email.addr_spec, "original@example.org")
        self.assertEqual(reparsed.text.rstrip(), "Original body text.")
        self.assertEqual(forwarded.get_content_text().rstrip()[-19:], "Original body text.")

        # ... and the parsed message is available as its payload
        inner = forwarded.get_payload(0)
        self.assertEqual(inner.subject, "original")
        self.assertEqual(inner.from_email, EmailAddress("Original Sender", "original@example.org"))
        self.assertEqual(inner.text.rstrip(), "Original body text.")

    def test_unrecognized_disposition_is_attachment(self):
        # RFC 2183: treat unrecognized disposition types as "attachment"
        part = single_part("Content-Type: text/plain\nContent-Disposition: x-weird", b"abc")
        self.assertTrue(part.is_attachment())
        self.assertEqual(part.get_content_disposition(), "x-weird")
        self.assertIsNone(part.text)
        self.assertEqual(part.attachments, [part])

    def test_part_without_disposition_or_content_id(self):
        msg = parse(
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b"--b\nContent-Type: text/plain\n\nbody\n"
            b"--b\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--b--\n"
        )
        self.assertEqual(msg.text, "body")
        self.assertEqual([a.get_content_type() for a in msg.attachments], ["text/calendar"])


class PartMethodTests(SimpleTestCase):
    def setUp(self):
        msg = parse(COMPLEX_MESSAGE)
        parts = list(msg.walk())
        self.root, self.alternative, self.text_part, self.related = parts[:4]
        self.html_part, self.png_part, self.pdf_part = parts[4:]

    def test_is_attachment(self):
        self.assertTrue(self.pdf_part.is_attachment())
        for part in (self.root, self.alternative, self.text_part, self.related, self.html_part):
            self.assertFalse(part.is_attachment(), part.get_content_type())
        self.assertFalse(self.png_part.is_attachment())  # inline

    def test_is_inline_attachment(self):
        self.assertTrue(self.png_part.is_inline_attachment())
        for part in (self.root, self.alternative, self.text_part, self.html_part, self.pdf_part):
            self.assertFalse(part.is_inline_attachment(), part.get_content_type())

    def test_get_content_disposition(self):
        self.assertEqual(self.pdf_part.get_content_disposition(), "attachment")
        self.assertEqual(self.png_part.get_content_disposition(), "inline")
        self.assertIsNone(self.text_part.get_content_disposition())
        upper = single_part('Content-Disposition: ATTACHMENT; filename="x"', b"")
        self.assertEqual(upper.get_content_disposition(), "attachment")
        self.assertIsNone(single_part("Content-Disposition:", b"").get_content_disposition())

    def test_get_content_bytes_decodes_transfer_encoding(self):
        self.assertEqual(self.pdf_part.get_content_bytes(), PDF_DATA)  # base64
        self.assertEqual(
            self.text_part.get_content_bytes(),
            "Café order — see the attached report.\nThanks!".encode(),  # quoted-printable
        )
        self.assertEqual(self.html_part.get_content_bytes()[:8], b"<p>Caf\xc3\xa9")  # 8bit

    def test_get_content_text(self):
        self.assertEqual(
            self.text_part.get_content_text(), "Café order — see the attached report.\nThanks!"
        )

    def test_get_content_text_charset_override(self):
        # Declared utf-8, but really latin-1:
        part = single_part("Content-Type: text/plain; charset=utf-8", b"caf\xe9")
        self.assertEqual(part.get_content_text(), "caf\ufffd")
        self.assertEqual(part.get_content_text(charset="iso-8859-1"), "café")
        self.assertEqual(part.get_content_text("iso-8859-1"), "café")

    def test_get_content_text_uses_declared_charset(self):
        part = single_part("Content-Type: application/octet-stream; charset=koi8-r", b"\xf0\xd2")
        self.assertEqual(part.get_content_text(), "Пр")

    def test_get_content_text_errors(self):
        part = single_part("Content-Type: text/plain; charset=utf-8", b"ok\xff!")
        self.assertEqual(part.get_content_text(), "ok\ufffd!")  # default: replace
        self.assertEqual(part.get_content_text(errors="ignore"), "ok!")
        with self.assertRaises(UnicodeDecodeError):
            part.get_content_text(errors="strict")
        # strict still works with an unknown charset (decoding as utf-8)
        unknown = single_part("Content-Type: text/plain; charset=x-unknown", b"ok\xff!")
        with self.assertRaises(UnicodeDecodeError):
            unknown.get_content_text(errors="strict")
        self.assertEqual(unknown.get_content_text(), "ok\ufffd!")

    def test_as_uploaded_file(self):
        uploaded = self.pdf_part.as_uploaded_file()
        self.assertIsInstance(uploaded, UploadedFile)
        self.assertEqual(uploaded.name, "report.pdf")
        self.assertEqual(uploaded.content_type, "application/pdf")
        self.assertIsNone(uploaded.charset)
        self.assertEqual(uploaded.size, len(PDF_DATA))
        self.assertEqual(uploaded.read(), PDF_DATA)

    def test_as_uploaded_file_text_charset(self):
        part = single_part(
            'Content-Type: text/csv; charset="ISO-8859-1"\n'
            'Content-Disposition: attachment; filename="data.csv"',
            b"caf\xe9,1\n",
        )
        uploaded = part.as_uploaded_file()
        self.assertEqual(uploaded.name, "data.csv")
        self.assertEqual(uploaded.content_type, "text/csv")
        self.assertEqual(uploaded.charset, "iso-8859-1")
        self.assertEqual(uploaded.read(), b"caf\xe9,1\n")

    def test_as_uploaded_file_unsafe_names(self):
        def uploaded_name(filename: str) -> str | None:
            part = single_part(
                f"Content-Type: application/octet-stream\n"
                f'Content-Disposition: attachment; filename="{filename}"',
                b"x",
            )
            self.assertEqual(part.get_filename(), filename)  # as the sender gave it
            return part.as_uploaded_file().name

        self.assertEqual(uploaded_name("../../settings.py"), "settings.py")
        self.assertEqual(uploaded_name("/etc/passwd"), "passwd")
        self.assertEqual(uploaded_name("..\\..\\boot.ini"), "boot.ini")
        # nothing usable left: a name from the content type
        self.assertEqual(uploaded_name(".."), "attachment.bin")
        self.assertEqual(uploaded_name("evil/"), "attachment.bin")

    def test_as_uploaded_file_without_filename(self):
        uploaded = single_part("Content-Type: image/gif", GIF_DATA).as_uploaded_file()
        self.assertEqual(uploaded.name, "attachment.gif")
        self.assertEqual(uploaded.read(), GIF_DATA)


class FilenameTests(SimpleTestCase):
    def setUp(self):
        self.parts = parse(FILENAMES_MESSAGE).attachments

    def test_all_listed(self):
        self.assertEqual(len(self.parts), 4)

    def test_rfc2231_filename(self):
        self.assertEqual(self.parts[0].get_filename(), "été €.txt")
        self.assertEqual(self.parts[0].as_uploaded_file().name, "été €.txt")

    def test_rfc2047_filename(self):
        # Not standard for parameters, but very common
        self.assertEqual(self.parts[1].get_filename(), "日本語.pdf")

    def test_rfc2231_continuation_with_charset(self):
        self.assertEqual(self.parts[2].get_filename(), "Grüße aus Köln.txt")

    def test_content_type_name_fallback(self):
        self.assertEqual(self.parts[3].get_filename(), "Fußball.bin")

    def test_no_filename(self):
        self.assertIsNone(parse(COMPLEX_MESSAGE).get_filename())
        self.assertEqual(parse(COMPLEX_MESSAGE).get_filename("default"), "default")


class ConstructTests(SimpleTestCase):
    def test_text_only(self):
        msg = AnymailInboundMessage.construct(
            from_email="Sender <sender@example.com>", subject="Hi", text="Hello\n"
        )
        self.assertIsInstance(msg, AnymailInboundMessage)
        self.assertFalse(msg.is_multipart())
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.text, "Hello\n")
        self.assertIsNone(msg.html)
        self.assertEqual(msg.from_email, EmailAddress("Sender", "sender@example.com"))
        self.assertEqual(msg.subject, "Hi")
        self.assertEqual(msg.attachments, [])
        self.assertEqual(msg.inline_attachments, {})

    def test_html_only(self):
        msg = AnymailInboundMessage.construct(html="<p>Hi</p>")
        self.assertEqual(msg.get_content_type(), "text/html")
        self.assertIsNone(msg.text)
        self.assertEqual(msg.html, "<p>Hi</p>")

    def test_text_and_html_is_alternative(self):
        msg = AnymailInboundMessage.construct(text="Grüße", html="<p>Grüße</p>")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        self.assertEqual(
            [part.get_content_type() for part in msg.get_payload()], ["text/plain", "text/html"]
        )
        self.assertEqual(msg.text, "Grüße")
        self.assertEqual(msg.html, "<p>Grüße</p>")

    def test_empty(self):
        msg = AnymailInboundMessage.construct()
        self.assertIsNone(msg.text)
        self.assertIsNone(msg.html)
        self.assertEqual(msg.attachments, [])
        self.assertIsNone(msg.from_email)
        self.assertIsNone(msg.subject)
        self.assertEqual(msg.keys(), [])

    def test_text_preserves_line_endings_and_whitespace(self):
        text = "line one\r\nline two  \n\n  indented\r\n"
        msg = AnymailInboundMessage.construct(text=text)
        self.assertEqual(msg.text, text)
        self.assertEqual(parse(msg.as_bytes()).text, text)

    def test_charsets(self):
        msg = AnymailInboundMessage.construct(
            text="café", text_charset="iso-8859-1", html="<p>日本</p>", html_charset="shift_jis"
        )
        text_part, html_part = msg.get_payload()
        self.assertEqual(text_part.get_content_charset(), "iso-8859-1")
        self.assertEqual(text_part.get_content_bytes(), b"caf\xe9")
        self.assertEqual(html_part.get_content_charset(), "shift_jis")
        self.assertEqual(html_part.get_content_bytes(), "<p>日本</p>".encode("shift_jis"))
        self.assertEqual(msg.text, "café")
        self.assertEqual(msg.html, "<p>日本</p>")

    def test_charset_that_cannot_encode_falls_back_to_utf8(self):
        for charset in ("us-ascii", "x-not-a-charset", "base64"):
            with self.subTest(charset=charset):
                msg = AnymailInboundMessage.construct(text="€uro", text_charset=charset)
                self.assertEqual(msg.get_content_charset(), "utf-8")
                self.assertEqual(msg.text, "€uro")

    def test_with_attachments(self):
        pdf = AnymailInboundMessage.construct_attachment(
            "application/pdf", PDF_DATA, filename="report.pdf"
        )
        png = AnymailInboundMessage.construct_attachment(
            "image/png", PNG_DATA, filename="logo.png", content_id="logo@example.com"
        )
        msg = AnymailInboundMessage.construct(
            text="See attached", html='<img src="cid:logo@example.com">', attachments=[pdf, png]
        )
        # structure: multipart/mixed [ multipart/alternative [ text, html ], pdf, png ]
        self.assertEqual(
            [part.get_content_type() for part in msg.walk()],
            [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "text/html",
                "application/pdf",
                "image/png",
            ],
        )
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.text, "See attached")
        self.assertEqual(msg.html, '<img src="cid:logo@example.com">')
        self.assertEqual(msg.attachments, [pdf])
        self.assertEqual(msg.inline_attachments, {"logo@example.com": png})

    def test_attachments_without_body(self):
        pdf = AnymailInboundMessage.construct_attachment("application/pdf", PDF_DATA)
        msg = AnymailInboundMessage.construct(attachments=[pdf])
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(msg.get_payload(), [pdf])
        self.assertIsNone(msg.text)
        self.assertEqual(msg.attachments, [pdf])

    def test_text_only_with_attachment(self):
        att = AnymailInboundMessage.construct_attachment("text/csv", "a,b\n", filename="x.csv")
        msg = AnymailInboundMessage.construct(text="body", attachments=[att])
        self.assertEqual(
            [part.get_content_type() for part in msg.get_payload()], ["text/plain", "text/csv"]
        )
        self.assertEqual(msg.text, "body")
        self.assertEqual(msg.attachments[0].get_content_text(), "a,b\n")

    def test_round_trip_through_serialization(self):
        pdf = AnymailInboundMessage.construct_attachment(
            "application/pdf", PDF_DATA, filename="Résumé.pdf"
        )
        png = AnymailInboundMessage.construct_attachment(
            "image/png", PNG_DATA, content_id="<img1@example.com>", filename="日本.png"
        )
        forwarded = AnymailInboundMessage.construct_attachment(
            "message/rfc822", b"Subject: inner\nFrom: in@example.com\n\ninner body\n"
        )
        msg = AnymailInboundMessage.construct(
            from_email='"Ünïcode, Name" <from@example.com>',
            to=["to1@example.com", "Tö Two <to2@example.com>"],
            cc="cc@example.com",
            subject="Grüße — ☃",
            headers={"Date": "Tue, 02 Jan 2024 10:15:00 +0100", "X-Custom": "Ünïcode value"},
            text="Plain ünïcode",
            html="<p>HTML ünïcode</p>",
            attachments=[pdf, png, forwarded],
        )
        for reparsed in (
            parse(msg.as_bytes()),
            AnymailInboundMessage.parse_raw_mime(msg.as_string()),
        ):
            self.assertEqual(reparsed.from_email, EmailAddress("Ünïcode, Name", "from@example.com"))
            self.assertEqual(
                reparsed.to,
                [EmailAddress("", "to1@example.com"), EmailAddress("Tö Two", "to2@example.com")],
            )
            self.assertEqual(reparsed.cc, [EmailAddress("", "cc@example.com")])
            self.assertEqual(reparsed.subject, "Grüße — ☃")
            self.assertEqual(reparsed.date, datetime(2024, 1, 2, 9, 15, tzinfo=timezone.utc))
            self.assertEqual(reparsed["X-Custom"], "Ünïcode value")
            self.assertEqual(reparsed.text, "Plain ünïcode")
            self.assertEqual(reparsed.html, "<p>HTML ünïcode</p>")
            self.assertEqual(
                [(a.get_filename(), a.get_content_type()) for a in reparsed.attachments],
                [("Résumé.pdf", "application/pdf"), (None, "message/rfc822")],
            )
            self.assertEqual(reparsed.attachments[0].get_content_bytes(), PDF_DATA)
            self.assertEqual(reparsed.attachments[1].get_payload(0).subject, "inner")
            self.assertEqual(list(reparsed.inline_attachments), ["img1@example.com"])
            inline = reparsed.inline_attachments["img1@example.com"]
            self.assertEqual(inline.get_filename(), "日本.png")
            self.assertEqual(inline.get_content_bytes(), PNG_DATA)

    def test_raw_headers(self):
        msg = AnymailInboundMessage.construct(
            raw_headers=(
                "Received: from a by b; Tue, 2 Jan 2024 10:00:00 +0000\r\n"
                "Received: from c by d; Tue, 2 Jan 2024 09:59:00 +0000\r\n"
                "From: Raw Sender <raw@example.com>\r\n"
                "Subject: =?utf-8?q?r=C3=A5w?=\r\n"
                "X-Folded: first\r\n second\r\n"
                "Content-Type: multipart/alternative; boundary=original\r\n"
                "\r\n"
            ),
            text="body",
        )
        self.assertEqual(len(msg.get_all("Received")), 2)
        self.assertEqual(msg.from_email, EmailAddress("Raw Sender", "raw@example.com"))
        self.assertEqual(msg.subject, "råw")
        self.assertEqual(msg["X-Folded"], "first second")
        # The original Content-Type described a body we don't have
        self.assertEqual(msg.get_all("Content-Type"), ['text/plain; charset="utf-8"'])
        self.assertEqual(msg.text, "body")

    def test_raw_headers_with_unicode(self):
        msg = AnymailInboundMessage.construct(raw_headers="Subject: Grüße\nX-Name: Zoë\n")
        self.assertEqual(msg.subject, "Grüße")
        self.assertEqual(msg["X-Name"], "Zoë")

    def test_headers_as_pairs_allow_repeats(self):
        msg = AnymailInboundMessage.construct(
            headers=[
                ("To", "one@example.com"),
                ("To", "Two <two@example.com>"),
                ("Cc", "cc@example.com"),
                ("X-Tag", "a"),
                ("X-Tag", "b"),
            ]
        )
        self.assertEqual(
            msg.to, [EmailAddress("", "one@example.com"), EmailAddress("Two", "two@example.com")]
        )
        self.assertEqual(msg.cc, [EmailAddress("", "cc@example.com")])
        self.assertEqual(msg.get_all("X-Tag"), ["a", "b"])

    def test_headers_as_dict(self):
        msg = AnymailInboundMessage.construct(
            headers={"Message-ID": "<abc@example.com>", "Reply-To": "r@example.com"}
        )
        self.assertEqual(msg["Message-ID"], "<abc@example.com>")
        self.assertEqual(msg["reply-to"], "r@example.com")

    def test_fields_replace_headers(self):
        msg = AnymailInboundMessage.construct(
            raw_headers="From: raw@example.com\nTo: raw-to@example.com\nSubject: raw\n",
            headers=[("Cc", "header-cc@example.com"), ("Subject", "from headers")],
            from_email="field@example.com",
            to=["field-to@example.com"],
            cc=[EmailAddress("Field Cc", "field-cc@example.com")],
            subject="field subject",
        )
        self.assertEqual(msg.get_all("From"), ["field@example.com"])
        self.assertEqual(msg.get_all("To"), ["field-to@example.com"])
        self.assertEqual(msg.get_all("Subject"), ["field subject"])
        self.assertEqual(msg.cc, [EmailAddress("Field Cc", "field-cc@example.com")])
        self.assertEqual(len(msg.get_all("Cc")), 1)

    def test_from_email_accepts_email_address(self):
        msg = AnymailInboundMessage.construct(from_email=EmailAddress("A, B", "ab@example.com"))
        self.assertEqual(msg.from_email, EmailAddress("A, B", "ab@example.com"))

    def test_invalid_from_field_reads_as_none(self):
        msg = AnymailInboundMessage.construct(from_email="not valid", to="also not valid")
        self.assertIsNone(msg.from_email)
        self.assertEqual(msg.to, [])

    def test_header_injection_in_values_is_neutralized(self):
        msg = AnymailInboundMessage.construct(
            subject="Hello\r\nBcc: victim@example.com",
            from_email="a@example.com\nBcc: victim2@example.com",
            headers=[("X-Note", "one\nX-Injected: yes"), ("X-Folded", "first\r\n second")],
            text="body",
        )
        for checked in (msg, parse(msg.as_bytes())):
            self.assertIsNone(checked["Bcc"])
            self.assertIsNone(checked["X-Injected"])
            self.assertEqual(checked.subject, "Hello Bcc: victim@example.com")
            self.assertEqual(checked["X-Note"], "one X-Injected: yes")
            self.assertEqual(checked["X-Folded"], "first second")
            self.assertEqual(checked.text, "body")
        serialized = msg.as_bytes()
        self.assertNotIn(b"\nBcc:", serialized)
        self.assertNotIn(b"\nX-Injected:", serialized)

    def test_unicode_line_separators_in_values(self):
        msg = AnymailInboundMessage.construct(subject="a\u2028b\x85c\x0bd")
        self.assertEqual(msg.subject, "a b c d")

    def test_invalid_header_names_rejected(self):
        for name in ("X-Evil\r\nBcc", "Bad:Name", "Has Space", ""):
            with self.subTest(name=name), self.assertRaises(ValueError):
                AnymailInboundMessage.construct(headers=[(name, "value")])

    def test_injection_in_attachment_fields_is_neutralized(self):
        att = AnymailInboundMessage.construct_attachment(
            "text/plain\r\nX-Injected: 1",
            "content",
            filename="a.txt\r\nX-Injected: 2",
            content_id="cid\nX-Injected: 3",
        )
        reparsed = parse(AnymailInboundMessage.construct(attachments=[att]).as_bytes())
        for part in reparsed.walk():
            self.assertIsNone(part["X-Injected"])
        self.assertEqual(len(reparsed.get_payload()), 1)


class ConstructAttachmentTests(SimpleTestCase):
    def test_bytes_content(self):
        att = AnymailInboundMessage.construct_attachment(
            "application/pdf", PDF_DATA, filename="report.pdf"
        )
        self.assertIsInstance(att, AnymailInboundMessage)
        self.assertEqual(att.get_content_type(), "application/pdf")
        self.assertEqual(att.get_filename(), "report.pdf")
        self.assertEqual(att.get_content_disposition(), "attachment")
        self.assertTrue(att.is_attachment())
        self.assertFalse(att.is_inline_attachment())
        self.assertIsNone(att["Content-ID"])
        self.assertEqual(att.get_content_bytes(), PDF_DATA)
        self.assertIsNone(att.get_content_charset())

    def test_str_content_declares_its_encoding(self):
        att = AnymailInboundMessage.construct_attachment("text/plain", "Grüße")
        self.assertEqual(att.get_content_charset(), "utf-8")
        self.assertEqual(att.get_content_bytes(), "Grüße".encode())
        self.assertEqual(att.get_content_text(), "Grüße")

    def test_str_content_with_charset(self):
        att = AnymailInboundMessage.construct_attachment("text/plain", "café", charset="iso-8859-1")
        self.assertEqual(att.get_content_charset(), "iso-8859-1")
        self.assertEqual(att.get_content_bytes(), b"caf\xe9")
        self.assertEqual(att.get_content_text(), "café")

    def test_charset_in_content_type(self):
        att = AnymailInboundMessage.construct_attachment("text/plain; charset=iso-8859-1", "café")
        self.assertEqual(att.get_content_bytes(), b"caf\xe9")
        self.assertEqual(att.get_content_text(), "café")

    def test_bytes_content_with_charset(self):
        att = AnymailInboundMessage.construct_attachment(
            "text/plain", b"caf\xe9", charset="iso-8859-1"
        )
        self.assertEqual(att.get_content_bytes(), b"caf\xe9")
        self.assertEqual(att.get_content_text(), "café")

    def test_base64_content(self):
        for content in (b64encode(PNG_DATA).decode("ascii"), b64encode(PNG_DATA), b64(PNG_DATA)):
            with self.subTest(content=content):
                att = AnymailInboundMessage.construct_attachment(
                    "image/png", content, base64=True, filename="logo.png"
                )
                self.assertEqual(att.get_content_bytes(), PNG_DATA)

    def test_base64_text_content_with_charset(self):
        att = AnymailInboundMessage.construct_attachment(
            "text/plain", b64encode(b"caf\xe9").decode(), charset="iso-8859-1", base64=True
        )
        self.assertEqual(att.get_content_text(), "café")

    def test_invalid_base64_raises(self):
        with self.assertRaises(ValueError):
            AnymailInboundMessage.construct_attachment("image/png", "not*base64!", base64=True)

    def test_content_id_makes_inline(self):
        for content_id in ("img1@example.com", "<img1@example.com>", " <img1@example.com> "):
            with self.subTest(content_id=content_id):
                att = AnymailInboundMessage.construct_attachment(
                    "image/png", PNG_DATA, content_id=content_id
                )
                self.assertEqual(att["Content-ID"], "<img1@example.com>")
                self.assertEqual(att.get_content_disposition(), "inline")
                self.assertTrue(att.is_inline_attachment())
                self.assertFalse(att.is_attachment())

    def test_non_ascii_filename(self):
        att = AnymailInboundMessage.construct_attachment(
            "application/octet-stream", b"x", filename="Fußball €.bin"
        )
        self.assertEqual(att.get_filename(), "Fußball €.bin")
        reparsed = parse(AnymailInboundMessage.construct(attachments=[att]).as_bytes())
        self.assertEqual(reparsed.attachments[0].get_filename(), "Fußball €.bin")

    def test_message_rfc822(self):
        raw = b"From: inner@example.com\nSubject: inner\n\ninner body\n"
        att = AnymailInboundMessage.construct_attachment("message/rfc822", raw)
        self.assertTrue(att.is_multipart())
        inner = att.get_payload(0)
        self.assertIsInstance(inner, AnymailInboundMessage)
        self.assertEqual(inner.subject, "inner")
        self.assertEqual(inner.text, "inner body\n")
        self.assertEqual(att.get_content_bytes(), raw)
        self.assertIsNone(att["Content-Transfer-Encoding"])  # RFC 2046: must not be encoded

    def test_construct_attachment_from_uploaded_file(self):
        upload = SimpleUploadedFile("notes.txt", "naïve".encode(), "text/plain")
        upload.charset = "utf-8"
        att = AnymailInboundMessage.construct_attachment_from_uploaded_file(upload)
        self.assertEqual(att.get_filename(), "notes.txt")
        self.assertEqual(att.get_content_type(), "text/plain")
        self.assertEqual(att.get_content_charset(), "utf-8")
        self.assertEqual(att.get_content_text(), "naïve")
        self.assertTrue(att.is_attachment())

    def test_construct_attachment_from_uploaded_file_bytes_charset(self):
        # Django's multipart parser stores an uploaded file's charset as bytes
        upload = SimpleUploadedFile("notes.txt", "naïve".encode("iso-8859-1"), "text/plain")
        upload.charset = b"iso-8859-1"
        att = AnymailInboundMessage.construct_attachment_from_uploaded_file(upload)
        self.assertEqual(att.get_content_charset(), "iso-8859-1")
        self.assertEqual(att.get_content_text(), "naïve")

    def test_construct_attachment_from_uploaded_file_inline(self):
        upload = SimpleUploadedFile("logo.png", PNG_DATA, "image/png")
        upload.read()  # already consumed by something else
        att = AnymailInboundMessage.construct_attachment_from_uploaded_file(
            upload, content_id="logo"
        )
        self.assertEqual(att["Content-ID"], "<logo>")
        self.assertTrue(att.is_inline_attachment())
        self.assertEqual(att.get_content_bytes(), PNG_DATA)
        self.assertIsNone(att.get_content_charset())
        msg = AnymailInboundMessage.construct(html='<img src="cid:logo">', attachments=[att])
        self.assertEqual(msg.inline_attachments["logo"].get_content_bytes(), PNG_DATA)

    def test_uploaded_file_round_trip(self):
        original = AnymailInboundMessage.construct_attachment(
            "text/csv", b"a,b\n", charset="utf-8", filename="data.csv"
        )
        att = AnymailInboundMessage.construct_attachment_from_uploaded_file(
            original.as_uploaded_file()
        )
        self.assertEqual(att.get_filename(), "data.csv")
        self.assertEqual(att.get_content_type(), "text/csv")
        self.assertEqual(att.get_content_charset(), "utf-8")
        self.assertEqual(att.get_content_bytes(), b"a,b\n")


def read_everything(msg: AnymailInboundMessage) -> None:
    """Read every convenience property (and each attachment's helpers), checking types."""
    from_email = msg.from_email
    assert from_email is None or isinstance(from_email, EmailAddress)
    for addresses in (msg.to, msg.cc):
        assert isinstance(addresses, list)
        assert all(isinstance(address, EmailAddress) for address in addresses)
    assert msg.subject is None or isinstance(msg.subject, str)
    assert msg.date is None or isinstance(msg.date, datetime)
    assert msg.text is None or isinstance(msg.text, str)
    assert msg.html is None or isinstance(msg.html, str)
    assert isinstance(msg.attachments, list)
    assert isinstance(msg.inline_attachments, dict)
    for part in list(msg.attachments) + list(msg.inline_attachments.values()):
        assert isinstance(part, AnymailInboundMessage)
        assert isinstance(part.get_content_bytes(), bytes)
        assert isinstance(part.get_content_text(), str)
        part.get_filename()
        part.get_content_disposition()
        part.is_attachment()
        part.is_inline_attachment()
        part.as_uploaded_file()


SAMPLES = [
    COMPLEX_MESSAGE,
    LATIN1_MESSAGE,
    FORWARDED_MESSAGE,
    FILENAMES_MESSAGE,
    CID_NO_DISPOSITION_MESSAGE,
    INVALID_HEADERS_MESSAGE,
]
# Fragments that tend to trip MIME and header parsers
TRICKY_BYTES = [
    b"\n",
    b"\r\n",
    b"\n\n",
    b";",
    b":",
    b"<",
    b">",
    b"@",
    b",",
    b'"',
    b"\\",
    b"(",
    b"=?",
    b"?=",
    b"=?utf-8?q?",
    b"=?x?b?",
    b"*0*=",
    b"''",
    b"%",
    b"\x00",
    b"\x80",
    b"\xc3",
    b"\xff",
    b"--",
    b"boundary=",
    b"charset=idna",
    b"charset=utf-16",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Type: multipart/mixed; boundary=x\n\n--x\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Disposition: inline\n",
    b"Content-ID: <>\n",
    b"Date: +9999 99 Jan\n",
]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 10))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["insert", "delete", "random", "truncate"]))
        if operation == "insert":
            data[position:position] = draw(st.sampled_from(TRICKY_BYTES))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif operation == "random":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
    return bytes(data)


class RobustnessTests(SimpleTestCase):
    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.binary(max_size=3000))
    def test_arbitrary_bytes(self, raw: bytes):
        read_everything(AnymailInboundMessage.parse_raw_mime_bytes(raw))

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(mutated_messages())
    def test_mutated_messages(self, raw: bytes):
        read_everything(AnymailInboundMessage.parse_raw_mime_bytes(raw))

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.text(max_size=1000))
    def test_arbitrary_str(self, raw: str):
        read_everything(AnymailInboundMessage.parse_raw_mime(raw))

    def test_known_stdlib_parser_crashes(self):
        # Each of these makes the stdlib's modern header parser or the generator raise
        for raw in (b"From:\x80<", b"From:<\x80@", b"To::\x80@", b"!:=?utf?q?\x80_=C2=A0?="):
            with self.subTest(raw=raw):
                msg = parse(raw)
                read_everything(msg)
                self.assertIsInstance(msg.as_string(), str)  # headers re-serialize as received
                self.assertIsInstance(msg.as_bytes(), bytes)

    def test_deeply_nested_multiparts(self):
        depth = 5000
        raw = b"Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
        for level in range(1, depth):
            raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (level - 1, level)
        raw += b"--b%d\nContent-Type: text/plain\n\ndeep\n" % (depth - 1)
        msg = parse(raw)
        self.assertEqual(msg.subject, "deep")  # headers still readable
        read_everything(msg)

    def test_moderately_nested_multiparts(self):
        depth = 150
        raw = b"Content-Type: multipart/mixed; boundary=b0\n\n"
        for level in range(1, depth):
            raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (level - 1, level)
        raw += b"--b%d\nContent-Type: text/plain\n\ndeep\n" % (depth - 1)
        self.assertEqual(parse(raw).text, "deep")

    def test_random_corruption_of_samples(self):
        # A fixed-seed sweep, complementing hypothesis with many cheap byte flips
        rng = random.Random(1234)
        for _ in range(300):
            data = bytearray(rng.choice(SAMPLES))
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            read_everything(parse(bytes(data)))

    def test_construct_with_hostile_values(self):
        msg = AnymailInboundMessage.construct(
            raw_headers="From:\x80<\nSubject: =?bogus?q?x?=\n",
            from_email=None,
            to="\udcff@example.com",
            subject="\ud800 lone surrogate",
            text="\udcff",
            html="\x00",
            headers={"X-Null": "\x00"},
        )
        read_everything(msg)
        # Lone surrogates become U+FFFD (they can't be encoded); NUL survives as data
        self.assertEqual(msg.subject, "\ufffd lone surrogate")
        self.assertEqual(len(msg.get_all("Subject")), 1)
        self.assertEqual(msg["To"], "\ufffd@example.com")
        self.assertTrue(msg.text)
        self.assertEqual(set(msg.text), {"\ufffd"})
        self.assertEqual(msg.html, "\x00")
        self.assertEqual(msg["X-Null"], "\x00")


# ---------------------------------------------------------------------------------------------
# Header bombs: CPython's header parsers are quadratic in time or memory on some long headers,
# and anyone who can send the app an email controls them
# ---------------------------------------------------------------------------------------------

KIB = 1024
MIB = 1024 * KIB
HEADER_LIMIT = 16 * KIB  # INBOUND_MAX_HEADER_SIZE's default

# Each, repeated, makes the modern header parser or Message's param splitter quadratic
BOMB_UNITS = [
    "=?utf-8?q?a?= ",  # RFC 2047 encoded-words
    '"a\\"" <a@b.example>, ',  # quoted-strings with escapes
    '""',
    ",",  # many commas in an address list
    "a@b.example, ",
    "a.",
    ";",  # many parameters
    '";',
    "\\",
    "(",
    "<",
    ":",
    "=?",
]
BOMB_HEADERS = [
    "Subject",
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Content-Type",
    "Content-Disposition",
    "Content-ID",
    "X-Custom",
]


def bomb_value(name: str, unit: str, size: int) -> str:
    """About size characters of unit (after a plausible start for MIME headers)."""
    prefix = {
        "Content-Type": "application/pdf; name=",
        "Content-Disposition": "attachment; filename=",
    }.get(name, "")
    return prefix + unit * max(1, (size - len(prefix)) // len(unit))


def bomb_message(name: str, value: str, in_part: bool) -> bytes:
    """A message with the header name: value at the top, or in an attachment part."""
    header = f"{name}: {value}\n".encode()
    if not in_part:
        others = [("From", "sender@example.com"), ("To", "inbound@example.com")]
        return (
            header
            + b"".join(f"{other}: {text}\n".encode() for other, text in others if other != name)
            + b"\nbody\n"
        )
    part_type = b"" if name == "Content-Type" else b"Content-Type: application/pdf\n"
    return (
        b"From: sender@example.com\nSubject: part bomb\n"
        b"Content-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nbody\n"
        b"--b\n"
        + part_type
        + header
        + b"Content-Transfer-Encoding: base64\n\n"
        + b64(PDF_DATA)
        + b"\n--b--\n"
    )


def assert_reads_as_missing(test: SimpleTestCase, msg: AnymailInboundMessage, name: str) -> None:
    """The property that parses header name treats the over-long header as missing."""
    if name == "Subject":
        test.assertIsNone(msg.subject)
    elif name == "From":
        test.assertIsNone(msg.from_email)
    elif name in ("To", "Cc"):
        test.assertEqual(getattr(msg, name.lower()), [])
    elif name == "Date":
        test.assertIsNone(msg.date)
    elif name in ("Content-Type", "Content-Disposition"):
        test.assertIsNone(msg.get_filename())
        test.assertIsNone(msg.get_param("name", header=name))


class HeaderSizeLimitTests(SimpleTestCase):
    """No header longer than INBOUND_MAX_HEADER_SIZE is parsed; its raw text stays readable."""

    def assert_bounded(self, raw: bytes, budget: float = 2.0) -> AnymailInboundMessage:
        """Parse raw and read everything, within budget seconds and a small multiple of
        its size in memory (the stdlib alone needed 671 MiB for a 156 KiB Subject)."""
        tracemalloc.start()
        try:
            start = time.perf_counter()
            msg = parse(raw)
            read_everything(msg)
            for part in msg.walk():
                part.get_filename()
                part.get_content_charset()
            msg.as_bytes()
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(elapsed, budget)
        self.assertLess(peak, 20 * len(raw) + MIB)
        return msg

    def test_rfc2047_subject(self):
        for size in (156 * KIB, MIB):
            with self.subTest(size=size):
                value = bomb_value("Subject", "=?utf-8?q?a?= ", size)
                msg = self.assert_bounded(bomb_message("Subject", value, in_part=False))
                self.assertIsNone(msg.subject)
                # the raw text is still there (not decoded, not parsed)
                self.assertEqual(msg.raw_header("Subject"), value)
                self.assertEqual(msg["Subject"], value)
                self.assertEqual(msg.get_all("Subject"), [value])
                self.assertEqual(msg.from_email, EmailAddress("", "sender@example.com"))

    def test_quoted_strings_in_from(self):
        value = '"' + 'a\\"' * (MIB // 3) + '" <evil@example.com>'
        msg = self.assert_bounded(f"From: {value}\nSubject: hi\n\nbody\n".encode())
        self.assertIsNone(msg.from_email)
        self.assertEqual(msg.subject, "hi")
        self.assertEqual(msg.raw_header("From"), value)

    def test_many_commas_in_to(self):
        value = "," * (512 * KIB) + "hidden@example.com"
        raw = f"To: {value}\nTo: Real <real@example.com>\n\nbody\n".encode()
        msg = self.assert_bounded(raw)
        # (only the over-long header is skipped: a truncated list could name someone else)
        self.assertEqual(msg.to, [EmailAddress("Real", "real@example.com")])
        self.assertEqual(msg.get_all("To")[0], value)

    def test_parameter_bomb_in_an_attachment(self):
        value = "attachment; filename=" + ";" * (256 * KIB) + "; filename=evil.exe"
        raw = bomb_message("Content-Disposition", value, in_part=True)
        raw = raw.replace(
            b"Content-Type: application/pdf\n", b'Content-Type: application/pdf; name="r.pdf"\n'
        )
        msg = self.assert_bounded(raw)
        (attachment,) = msg.attachments  # still an attachment, with its content
        self.assertEqual(attachment.get_content_disposition(), "attachment")
        self.assertEqual(attachment.get_filename(), "r.pdf")  # the over-long header's ignored
        self.assertEqual(attachment.get_content_bytes(), PDF_DATA)
        self.assertEqual(attachment.raw_header("Content-Disposition"), value)

    def test_multipart_content_type_bomb(self):
        value = "multipart/mixed; boundary=b" + ";" * (256 * KIB)
        raw = f"Content-Type: {value}\n\n--b\nContent-Type: text/plain\n\nhi\n--b--\n".encode()
        msg = self.assert_bounded(raw)
        self.assertIsNone(msg.get_boundary())  # (its params are never parsed)
        self.assertEqual(msg.raw_header("Content-Type"), value)

    @settings(
        max_examples=30,
        deadline=timedelta(seconds=3),
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        name=st.sampled_from(BOMB_HEADERS),
        unit=st.sampled_from(BOMB_UNITS)
        | st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=4),
        size=st.integers(min_value=100 * KIB, max_value=MIB),
        in_part=st.booleans(),
    )
    def test_huge_headers_are_bounded(self, name, unit, size, in_part):
        value = bomb_value(name, unit, size)
        msg = parse(bomb_message(name, value, in_part))
        read_everything(msg)
        msg.as_bytes()
        part = msg.get_payload()[1] if in_part else msg
        assert_reads_as_missing(self, part, name)
        self.assertEqual(part.raw_header(name), value.lstrip(" \t"))
        self.assertIsInstance(part[name], str)

    @settings(
        max_examples=60,
        deadline=timedelta(seconds=1),
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        name=st.sampled_from(BOMB_HEADERS),
        unit=st.sampled_from(BOMB_UNITS),
        in_part=st.booleans(),
    )
    def test_pathological_headers_within_the_limit_are_fast(self, name, unit, in_part):
        # Just under the limit, the properties do parse them: in linear time
        value = bomb_value(name, unit, HEADER_LIMIT - 100)
        msg = parse(bomb_message(name, value, in_part))
        read_everything(msg)
        for part in msg.walk():
            part.get_filename()
            part.get_params()
        msg.as_bytes()

    def test_construct_with_a_huge_header(self):
        # Postmark (and others) post headers as name/value pairs, which construct() stores
        # (the stdlib spent 34 s on a 90 KiB Reply-To)
        reply_to = '""' * (45 * KIB)
        start = time.perf_counter()
        msg = AnymailInboundMessage.construct(
            from_email="Sender <sender@example.com>",
            to="inbound@example.com",
            subject="Hi",
            headers=[("Reply-To", reply_to), ("Message-ID", "<1@example.com>")],
            text="body",
        )
        read_everything(msg)
        self.assertEqual(msg["Reply-To"], reply_to)
        self.assertEqual(msg.raw_header("Reply-To"), reply_to)
        serialized = msg.as_bytes()
        self.assertLess(time.perf_counter() - start, 2.0)
        self.assertEqual(msg.from_email, EmailAddress("Sender", "sender@example.com"))
        self.assertEqual(msg["Message-ID"], "<1@example.com>")
        self.assertEqual(parse(serialized).raw_header("Reply-To"), reply_to)

    @override_settings(ANYMAIL={"INBOUND_MAX_HEADER_SIZE": 100})
    def test_limit_setting(self):
        long_subject = "=?utf-8?q?" + "caf=C3=A9_" * 12 + "?="  # 130 characters
        msg = parse(f"Subject: {long_subject}\nFrom: a@example.com\n\n".encode())
        self.assertIsNone(msg.subject)
        self.assertEqual(msg["Subject"], long_subject)  # raw, undecoded
        self.assertEqual(msg.from_email, EmailAddress("", "a@example.com"))
        short = parse(b"Subject: =?utf-8?q?caf=C3=A9?=\n\n")
        self.assertEqual(short.subject, "caf\u00e9")

    @override_settings(ANYMAIL={"INBOUND_MAX_HEADER_SIZE": None})
    def test_no_limit(self):
        subject = "word " * (5 * KIB)  # 25 KiB of ordinary text
        self.assertEqual(parse(f"Subject: {subject}\n\n".encode()).subject, subject)

    def test_invalid_limit_setting(self):
        for value in ("16k", 0, -1, True, 1.5):
            with (
                self.subTest(value=value),
                override_settings(ANYMAIL={"INBOUND_MAX_HEADER_SIZE": value}),
                self.assertRaisesMessage(AnymailConfigurationError, "INBOUND_MAX_HEADER_SIZE"),
            ):
                _ = parse(COMPLEX_MESSAGE).subject

    def test_raw_header(self):
        msg = parse(b"X-Folded: first\r\n second\r\nSubject: =?utf-8?q?r=C3=A5w?=\r\n\r\n")
        self.assertEqual(msg.raw_header("x-folded"), "first\r\n second")
        self.assertEqual(msg.raw_header("Subject"), "=?utf-8?q?r=C3=A5w?=")
        self.assertIsNone(msg.raw_header("X-Missing"))
        self.assertEqual(msg.raw_header("X-Missing", ""), "")

    def test_param_parsing_matches_the_stdlib(self):
        # (AnymailInboundMessage parses MIME params in linear time, but the same way)
        for value in (
            'text/plain; charset="utf-8"; format=flowed',
            'attachment; filename="a;b.txt"',
            'attachment; filename="quote\\"d;x.txt"; size=3',
            "attachment; filename*=utf-8''%C3%A9t%C3%A9.txt",
            "attachment; filename*0*=iso-8859-1''Gr%FC%DFe; filename*1*=%20K%F6ln.txt",
            'multipart/mixed; boundary="==b=="',
            "text/plain;; charset=us-ascii;",
            "text/plain; charset",
            'text/plain; name="unterminated; x=y',
            "",
        ):
            with self.subTest(value=value):
                msg = single_part(f"Content-Disposition: {value}", b"x")
                for unquote in (True, False):
                    expected = Message.get_params(msg, None, "content-disposition", unquote)
                    # (empty params, like those between ";;", are left out)
                    expected = [item for i, item in enumerate(expected) if i == 0 or item[0]]
                    self.assertEqual(msg.get_params(None, "content-disposition", unquote), expected)
                    for name, _ in expected[1:]:
                        self.assertEqual(
                            msg.get_param(name, None, "content-disposition", unquote),
                            Message.get_param(msg, name, None, "content-disposition", unquote),
                        )


class StructureCacheTests(SimpleTestCase):
    """The body/attachment structure is found once, not on every access."""

    def test_many_parts(self):
        count = 10_000
        raw = (
            b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
            b"Content-Type: text/plain\n\nbody\n"
            + b"".join(
                b'--b\nContent-Type: application/octet-stream; name="f%d.bin"\n'
                b'Content-Disposition: attachment; filename="f%d.bin"\n\nx\n' % (n, n)
                for n in range(count)
            )
            + b"--b--\n"
        )
        msg = parse(raw)
        self.assertEqual(len(msg.attachments), count)
        start = time.perf_counter()
        for _ in range(5):  # (the stdlib-based walk took about 2 s each time)
            self.assertEqual(len(msg.attachments), count)
            self.assertEqual(msg.inline_attachments, {})
            self.assertEqual(msg.text, "body")
            self.assertIsNone(msg.html)
        self.assertLess(time.perf_counter() - start, 0.5)
        self.assertEqual(msg.attachments[9].get_filename(), "f9.bin")

    def test_changes_are_seen(self):
        msg = parse(COMPLEX_MESSAGE)
        self.assertEqual(len(msg.attachments), 1)
        pdf = msg.attachments[0]
        # a change to a part's headers
        pdf.replace_header("Content-Disposition", "inline")
        pdf["Content-ID"] = "<report@example.com>"
        self.assertEqual(msg.attachments, [])
        self.assertEqual(
            list(msg.inline_attachments), ["logo.123@example.com", "report@example.com"]
        )
        # parts added, through Message's methods or straight into the payload list
        msg.attach(AnymailInboundMessage.construct_attachment("text/csv", "a,b", filename="a.csv"))
        msg.get_payload().append(
            AnymailInboundMessage.construct_attachment("text/csv", "c,d", filename="c.csv")
        )
        self.assertEqual([att.get_filename() for att in msg.attachments], ["a.csv", "c.csv"])
        # a new body
        msg.get_payload(0).get_payload(0).set_payload("New text")
        self.assertEqual(msg.text, "New text")
        # what receivers get are copies: changing them doesn't change the message
        msg.attachments.clear()
        msg.inline_attachments.clear()
        self.assertEqual(len(msg.attachments), 2)
        self.assertEqual(len(msg.inline_attachments), 2)

    def test_pickled_and_copied_messages(self):
        msg = parse(COMPLEX_MESSAGE)
        self.assertEqual(len(msg.attachments), 1)
        for copied in (pickle.loads(pickle.dumps(msg)), copy.deepcopy(msg)):
            self.assertEqual([att.get_filename() for att in copied.attachments], ["report.pdf"])
            self.assertIsNot(copied.attachments[0], msg.attachments[0])


# ---------------------------------------------------------------------------------------------
# Inbound values are safe to use
# ---------------------------------------------------------------------------------------------


def attachment_named(filename: str, content_type: str = "application/pdf") -> AnymailInboundMessage:
    """An attachment part whose (RFC 2231 encoded) filename is exactly filename."""
    return single_part(
        f"Content-Type: {content_type}\n"
        f"Content-Disposition: attachment; filename*=utf-8''{quote(filename, safe='')}",
        b"x",
    )


UNSAFE_IN_TEXT = re.compile(r"[\r\n\x00]")


class SafeValueTests(SimpleTestCase):
    def test_safe_filename(self):
        for filename, expected in [
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\evil.exe", "evil.exe"),
            ("dir\\../x.pdf", "x.pdf"),
            ("evil\u202etxt.exe", "eviltxt.exe"),  # (displays as "evilexe.txt")
            ("in\u2066vis\u2069ible\u200e\u200f.doc", "invisible.doc"),
            ("zero\u200bwidth.txt", "zerowidth.txt"),
            ("tab\there\x7f.txt", "tabhere.txt"),
            ("nbsp\u00a0name.txt", "nbsp name.txt"),
            ("  spaced.txt  ", "spaced.txt"),
            ("line\r\nbreak.txt", "line break.txt"),
            ("nul\x00.txt", "nul .txt"),
            ("ファイル.pdf", "ファイル.pdf"),
            ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
            ("\u00e9" * 200 + ".txt", "\u00e9" * 125 + ".txt"),  # (255 bytes of UTF-8, at most)
            ("..", "attachment.pdf"),
            (".", "attachment.pdf"),
            ("", "attachment.pdf"),
            ("a/", "attachment.pdf"),
            ("\u202e\u200f", "attachment.pdf"),
        ]:
            with self.subTest(filename=filename):
                part = attachment_named(filename)
                self.assertEqual(part.safe_filename, expected)
                self.assertEqual(part.as_uploaded_file().name, expected)

    def test_get_filename_stays_raw(self):
        for filename in ("../../etc/passwd", "evil\u202etxt.exe", "C:\\x.exe", ".."):
            with self.subTest(filename=filename):
                self.assertEqual(attachment_named(filename).get_filename(), filename)

    def test_fallback_name_from_content_type(self):
        for content_type, expected in [
            ("image/gif", "attachment.gif"),
            ("text/plain", "attachment.txt"),
            ("application/octet-stream", "attachment.bin"),
            ("application/x-unheard-of", "attachment"),
        ]:
            with self.subTest(content_type=content_type):
                part = single_part(f"Content-Type: {content_type}", b"x")
                self.assertEqual(part.safe_filename, expected)

    @settings(max_examples=300, deadline=None, database=None)
    @given(filename=st.text(max_size=300))
    def test_safe_filename_is_always_usable(self, filename):
        part = attachment_named(filename)
        name = part.safe_filename
        self.assertNotIn(name, ("", ".", ".."))
        self.assertNotIn("/", name)
        self.assertNotIn("\\", name)
        self.assertEqual(name, name.strip())
        self.assertLessEqual(len(name.encode("utf-8")), 255)
        for char in name:
            self.assertNotIn(unicodedata.category(char), ("Cc", "Cf", "Cs", "Zl", "Zp"))
        self.assertEqual(validate_file_name(name), name)
        self.assertEqual(part.as_uploaded_file().name, name)

    def test_decoded_values_have_no_line_breaks_or_nul(self):
        msg = parse(
            b"Subject: =?utf-8?q?Hello=0D=0ABcc:_victim@example.com=00?=\n"
            b"From: =?utf-8?q?Evil=0D=0AName?= <evil@example.com>\n"
            b"To: =?utf-8?b?" + b64encode(b"A\r\nB\x00") + b"?= <a@example.com>\n"
            b"Content-Disposition: attachment; filename*=utf-8''a%0D%0Ab%00.txt\n\n"
        )
        self.assertEqual(msg.subject, "Hello Bcc: victim@example.com ")
        self.assertEqual(msg.from_email, EmailAddress("Evil Name", "evil@example.com"))
        self.assertEqual(msg.to, [EmailAddress("A B ", "a@example.com")])
        self.assertEqual(msg.get_filename(), "a b .txt")

    @settings(max_examples=200, deadline=None, database=None)
    @given(text=st.text(max_size=60))
    def test_decoded_values_never_have_line_breaks_or_nul(self, text):
        encoded = "=?utf-8?b?" + b64encode(text.encode("utf-8")).decode("ascii") + "?="
        msg = parse(
            f"Subject: {encoded}\nFrom: {encoded} <from@example.com>\n"
            f"Content-Disposition: attachment; filename*=utf-8''{quote(text, safe='')}\n\n"
            f"x".encode()
        )
        values = [msg.subject, msg.get_filename()]
        if msg.from_email is not None:
            values.append(msg.from_email.display_name)
        for value in values:
            if value is not None:
                self.assertIsNone(UNSAFE_IN_TEXT.search(value))
        kept = re.sub(r"\s", "", UNSAFE_IN_TEXT.sub("", text))
        self.assertEqual(re.sub(r"\s", "", msg.subject or ""), kept)

    def test_reserializing_never_adds_headers(self):
        # Characters that str.splitlines() treats as line breaks, inside received headers
        raw = b"Subject: a\x0bBcc: victim@example.com\nX-Other: b\x1cTo: victim2@example.com\n\nx\n"
        msg = parse(raw)
        for serialized in (msg.as_bytes(), msg.as_string().encode("utf-8")):
            reparsed = parse(serialized)
            self.assertIsNone(reparsed["Bcc"])
            self.assertIsNone(reparsed["To"])
            self.assertEqual(reparsed.raw_header("Subject"), "a\x0bBcc: victim@example.com")


# --- Large parts, left in a file (anymail.inbound_spool) ---


def spooled_parse(raw: bytes, spill_size: int = 0, chunk_size: int = 7) -> AnymailInboundMessage:
    """raw parsed from a file, each leaf body longer than spill_size left there (or None)."""
    message = parse_spooled_mime(
        SpoolView(io.BytesIO(raw)),
        AnymailInboundMessage,
        AnymailInboundMessage().policy,
        spill_size=spill_size,
        chunk_size=chunk_size,
    )
    assert message is None or isinstance(message, AnymailInboundMessage)
    return message  # type: ignore[return-value]


def everything_about(msg: Message) -> list:
    """What a reader could learn from each part: type, defects, payload (both ways), etc."""
    described = []
    for part in msg.walk():
        item: list = [part.get_content_type(), part.get_filename(), list(part.raw_items())]
        if part.is_multipart():
            item += [part.preamble, part.epilogue]
        else:
            item += [part.get_payload(), part.get_payload(decode=True)]
        item.append([type(defect).__name__ for defect in part.defects])  # (after decoding)
        described.append(item)
    return described


@st.composite
def generated_messages(draw: st.DrawFn, depth: int = 0, line_end: bytes | None = None) -> bytes:
    """A MIME message (or part) of random structure, encodings and line breaks, sometimes
    malformed: missing close boundaries, stray boundaries, bodies that run into headers."""
    line_end = line_end or draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    headers = b"From: a@example.com" + line_end if depth == 0 else b""
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        boundary = draw(st.sampled_from([b"b1", b"b2", b"=_x"])) + str(depth).encode()
        subtype = draw(st.sampled_from([b"mixed", b"digest", b"alternative"]))
        body = draw(st.sampled_from([b"", b"preamble" + line_end]))
        for child in draw(st.lists(generated_messages(depth + 1, line_end), max_size=3)):
            body += b"--" + boundary + draw(st.sampled_from([b"", b"  "])) + line_end
            body += child + line_end
        if draw(st.integers(0, 4)):
            body += b"--" + boundary + b"--" + line_end
            body += draw(st.sampled_from([b"", b"epilogue" + line_end]))
        content_type = b"multipart/" + subtype + b'; boundary="' + boundary + b'"'
        return headers + b"Content-Type: " + content_type + line_end + line_end + body
    if depth < 2 and draw(st.integers(0, 6)) == 0:
        nested = draw(generated_messages(depth + 1, line_end))
        return headers + b"Content-Type: message/rfc822" + line_end + line_end + nested
    data = draw(st.binary(max_size=300))
    encoding = draw(st.sampled_from([b"base64", b"quoted-printable", b"8bit", b"x-uuencode"]))
    if encoding == b"base64":
        body = encodebytes(data)
        if draw(st.booleans()):  # (damaged, as real mail sometimes is)
            body = body[: draw(st.integers(0, len(body)))] + draw(
                st.sampled_from([b"", b"!", b"=", b"A", b" x", b"==A"])
            )
    elif encoding == b"quoted-printable":
        body = quopri.encodestring(data)
    else:
        body = data + draw(
            st.sampled_from([b"", b"\n-- \nsig\n", b"\r-x\n", b"--b1\n", b"--b20\n"])
        )
    body = body.replace(b"\n", line_end) if line_end != b"\n" else body
    headers += b"Content-Type: " + draw(
        st.sampled_from([b"application/octet-stream", b"text/plain; charset=latin-1"])
    )
    headers += line_end + b"Content-Transfer-Encoding: " + encoding + line_end
    separator = draw(st.sampled_from([line_end, line_end, b"not a header" + line_end, b""]))
    return headers + separator + body


def outcome(read, msg: AnymailInboundMessage):
    """read(msg), or the type of exception it raised."""
    try:
        return read(msg)
    except Exception as error:
        return type(error)


class SpooledParsingTests(SimpleTestCase):
    """Parsing from a file, leaving long bodies there, reads exactly like parsing in memory."""

    def assert_same_message(self, raw: bytes, spooled: AnymailInboundMessage | None) -> None:
        if spooled is None:
            return  # (declined: the caller parses in memory instead)
        expected = AnymailInboundMessage.parse_raw_mime_bytes(raw)
        for read in (
            lambda msg: msg.as_bytes(),  # (the stdlib can fail on hostile structure: alike)
            everything_about,
            lambda msg: (msg.text, msg.html),
            lambda msg: [part.get_content_bytes() for part in msg.attachments],
        ):
            self.assertEqual(outcome(read, spooled), outcome(read, expected))

    @settings(max_examples=200, deadline=None, database=None)
    @given(generated_messages(), st.integers(0, 40), st.integers(1, 50))
    def test_generated_messages(self, raw, spill_size, chunk_size):
        self.assert_same_message(raw, spooled_parse(raw, spill_size, chunk_size))

    @settings(max_examples=300, deadline=None, database=None)
    @given(mutated_messages(), st.integers(0, 40), st.integers(1, 50))
    def test_mutated_messages(self, raw, spill_size, chunk_size):
        self.assert_same_message(raw, spooled_parse(raw, spill_size, chunk_size))

    def test_samples(self):
        for raw in SAMPLES:
            for spill_size in (0, 10, 1000):
                with self.subTest(raw=raw[:40], spill_size=spill_size):
                    spooled = spooled_parse(raw, spill_size)
                    self.assertIsNotNone(spooled)
                    self.assert_same_message(raw, spooled)

    def test_large_parts_are_left_in_the_file(self):
        spooled = spooled_parse(COMPLEX_MESSAGE, spill_size=10)
        spooled_types = [
            part.get_content_type()
            for part in spooled.walk()
            if getattr(part, "_spooled_content", None) is not None
        ]
        self.assertEqual(spooled_types, ["text/plain", "text/html", "image/png", "application/pdf"])

    def test_unexpected_structure_is_parsed_in_memory(self):
        # A body that stops at the boundary of a multipart that already ended: the scan stops
        # following the structure (and whatever it did spill must still check out)
        raw = (
            b"Content-Type: multipart/mixed; boundary=in\n\n--in\n\nfirst\n--in--\n"
            b"Content-Type: text/plain\n\n" + b"x\n" * 50 + b"--in\n" + b"y\n" * 50
        )
        self.assert_same_message(raw, spooled_parse(raw))


def large_message(data: bytes) -> bytes:
    """A message with text and html bodies, a large base64 attachment and an inline image."""
    return (
        b"From: sender@example.com\nTo: inbound@example.net\nSubject: Big\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="mix"\n\n'
        b"--mix\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + "Caf\u00e9 \u2014 ".encode()
        * 20_000
        + b"\n--mix\nContent-Type: text/html; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        + b"<p>caf=E9</p>=\n"
        * 10_000
        + b"\n--mix\nContent-Type: application/pdf; name=report.pdf\n"
        b'Content-Disposition: attachment; filename="report.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\n" + encodebytes(data) + b"--mix\n"
        b"Content-Type: image/png\nContent-ID: <logo@example.com>\n"
        b"Content-Transfer-Encoding: base64\n\n" + encodebytes(PNG_DATA * 10_000) + b"--mix--\n"
    )


class SpooledPartTests(SimpleTestCase):
    """A large part left in a file answers every documented API as an ordinary part does."""

    def setUp(self):
        self.data = random.Random(5).randbytes(300_000)
        self.raw = large_message(self.data)
        self.expected = AnymailInboundMessage.parse_raw_mime_bytes(self.raw)
        self.msg = AnymailInboundMessage.parse_raw_mime_file(io.BytesIO(self.raw))
        self.spooled = [part for part in self.msg.walk() if getattr(part, "_spooled_content", None)]

    def test_large_parts_stay_in_a_file(self):
        self.assertEqual(len(self.spooled), 4)
        for part in self.spooled:
            self.assertEqual(part._payload, "")  # (nothing held in memory)

    def test_body_and_attachment_properties(self):
        self.assertEqual(self.msg.text, self.expected.text)
        self.assertEqual(self.msg.html, self.expected.html)
        self.assertIn("café", self.msg.html)
        (pdf,) = self.msg.attachments
        self.assertEqual(pdf.get_content_bytes(), self.data)
        self.assertEqual(pdf.get_content_text(), self.expected.attachments[0].get_content_text())
        self.assertEqual(pdf.get_payload(decode=True), self.data)
        self.assertEqual(pdf.get_payload(), self.expected.attachments[0].get_payload())
        self.assertEqual(pdf.get_filename(), "report.pdf")
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertTrue(pdf.is_attachment())
        self.assertFalse(pdf.is_inline_attachment())
        logo = self.msg.inline_attachments["logo@example.com"]
        self.assertTrue(logo.is_inline_attachment())
        self.assertEqual(logo.get_content_bytes(), PNG_DATA * 10_000)

    def test_as_uploaded_file_hands_over_the_file(self):
        (pdf,) = self.msg.attachments
        uploaded = pdf.as_uploaded_file()
        self.assertIsInstance(uploaded, UploadedFile)
        self.assertIsInstance(uploaded.file, SpoolView)  # (the decoded file itself: no copy)
        self.assertEqual(uploaded.name, "report.pdf")
        self.assertEqual(uploaded.content_type, "application/pdf")
        self.assertEqual(uploaded.size, len(self.data))
        self.assertEqual(b"".join(uploaded.chunks(10_000)), self.data)
        uploaded.seek(0)
        self.assertEqual(uploaded.read(), self.data)
        # Each call is a file of its own (reading one doesn't move the other)
        other = pdf.as_uploaded_file()
        self.assertEqual(other.read(5), self.data[:5])

    def test_whole_message_serializes_as_received(self):
        self.assertEqual(self.msg.as_bytes(), self.expected.as_bytes())
        self.assertEqual(self.msg.as_string(), self.expected.as_string())
        self.assertEqual(bytes(self.msg), bytes(self.expected))
        self.assertEqual(str(self.msg), str(self.expected))
        for part in self.spooled:
            self.assertEqual(part._payload, "")  # (the text was only lent to the generator)

    def test_copies_hold_their_own_content(self):
        for copied in (pickle.loads(pickle.dumps(self.msg)), copy.deepcopy(self.msg)):
            self.assertEqual(copied.as_bytes(), self.expected.as_bytes())
            self.assertEqual(copied.attachments[0].get_content_bytes(), self.data)

    def test_changing_the_payload_replaces_the_file(self):
        (pdf,) = self.msg.attachments
        pdf.set_payload("bmV3")
        self.assertIsNone(pdf._spooled_content)
        self.assertEqual(pdf.get_payload(), "bmV3")
        self.assertEqual(pdf.get_content_bytes(), b"new")

    def test_8bit_text_is_decoded_as_the_stdlib_does(self):
        (text,) = [part for part in self.spooled if part.get_content_type() == "text/plain"]
        expected = self.expected.get_payload(0)
        self.assertEqual(text.get_payload(), expected.get_payload())  # (charset-decoded text)
        self.assertEqual(text.get_payload(decode=True), expected.get_payload(decode=True))

    def test_file_that_reads_in_short_pieces(self):
        class Trickle(io.RawIOBase):  # (as a pipe or socket reads: never more than 1000 bytes)
            def __init__(self, data: bytes) -> None:
                self.data, self.position = data, 0

            def readable(self) -> bool:
                return True

            def read(self, size: int | None = -1) -> bytes:
                size = 1000 if size is None or size < 0 else min(size, 1000)
                piece = self.data[self.position : self.position + size]
                self.position += len(piece)
                return piece

        for raw in (self.raw, COMPLEX_MESSAGE):
            msg = AnymailInboundMessage.parse_raw_mime_file(Trickle(raw))
            self.assertEqual(msg.as_bytes(), parse(raw).as_bytes())

    def test_small_file_is_parsed_in_memory(self):
        msg = AnymailInboundMessage.parse_raw_mime_file(io.BytesIO(COMPLEX_MESSAGE))
        self.assertFalse(any(getattr(p, "_spooled_content", None) for p in msg.walk()))
        self.assertEqual(msg.as_bytes(), parse(COMPLEX_MESSAGE).as_bytes())


class SpooledConstructAttachmentTests(SimpleTestCase):
    def test_base64_content_still_in_a_file(self):
        data = random.Random(7).randbytes(200_000)
        text = b64encode(data).decode("ascii")
        content = load_json(
            io.BytesIO(json.dumps({"Content": text}).encode()), keep_spilled=lambda key: True
        )["Content"]
        self.assertIsInstance(content, SpilledString)
        part = AnymailInboundMessage.construct_attachment(
            "application/zip", content, filename="big.zip", base64=True
        )
        self.assertIsNotNone(part._spooled_content)
        self.assertEqual(part.get_content_bytes(), data)
        self.assertEqual(part.get_payload(), encodebytes(data).decode("ascii"))
        self.assertEqual(part.as_uploaded_file().read(), data)
        expected = AnymailInboundMessage.construct_attachment(
            "application/zip", text, filename="big.zip", base64=True
        )
        self.assertEqual(part.as_bytes(), expected.as_bytes())

    def test_bad_base64_in_a_file_is_an_error(self):
        for text in ("QUJD" * 50_000 + "Q", "QUJD" * 50_000 + "\u00e9"):
            content = load_json(
                io.BytesIO(json.dumps({"C": text}).encode()), keep_spilled=lambda key: True
            )["C"]
            with self.assertRaises(ValueError):
                AnymailInboundMessage.construct_attachment("a/b", content, base64=True)

    def test_uploaded_file_content_is_not_copied(self):
        data = random.Random(8).randbytes(200_000)
        upload = SimpleUploadedFile("big.bin", data, "application/octet-stream")
        part = AnymailInboundMessage.construct_attachment_from_uploaded_file(upload)
        self.assertIsNotNone(part._spooled_content)
        self.assertEqual(part.get_content_bytes(), data)
        self.assertEqual(part.get_filename(), "big.bin")
