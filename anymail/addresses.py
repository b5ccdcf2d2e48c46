"""Parsing and formatting of email addresses.

Every address Anymail sends or receives goes through here, so a malformed address is refused
with the same clear error everywhere (rather than silently truncated, or worse, split into a
different recipient than the user meant).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.header import Header
from email.headerregistry import Address
from email.utils import getaddresses
from functools import lru_cache
from typing import Any

from django.core.mail.message import BadHeaderError

from .exceptions import AnymailInvalidAddress
from .lazy import force_non_lazy

_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_UNSAFE_CHARS = re.compile(r"[\r\n\x00]")
# Used only for internationalized local parts, which Address() refuses to parse
_EAI_ADDR_SPEC = re.compile(
    r"^[^\s@<>()\[\],;:\\\"]+@[^\s@<>()\[\],;:\\\"]+\.[^\s@<>()\[\],;:\\\"]+$"
)
# The everyday forms, "user@example.com" and "Plain Name <user@example.com>" (atoms only), which
# the full parser would accept unchanged: recognized without it (see _address_pairs)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_SIMPLE_ADDRESS = re.compile(
    rf"(?:(?P<name>{_ATOM}(?: {_ATOM})*) <(?P<bracketed>{_SIMPLE_ADDR_SPEC})>"
    rf"|(?P<bare>{_SIMPLE_ADDR_SPEC}))"
)


class AnymailHeaderInjectionAddress(AnymailInvalidAddress, BadHeaderError):
    """An address with a line break: refused like Django's SMTP backend refuses header injection.

    (Catchable both as AnymailInvalidAddress and as Django's BadHeaderError.)
    """


class EmailAddress:
    """A parsed address: ``display_name`` and ``addr_spec`` (plus ``username`` and ``domain``).

    Mirrors the attributes of Python's ``email.headerregistry.Address``, which keep the Unicode
    text. ``address`` (and ``str()``) is the form to put in a header or an ESP's address string:
    the domain IDNA-encoded and a non-ASCII display name RFC 2047-encoded, as Django's SMTP
    backend sends them. ESP APIs with separate name and email fields use the attributes instead.
    Also accepts one ``(display_name, addr_spec)`` tuple, as ``email.utils`` produces.
    """

    def __init__(self, display_name: Any = "", addr_spec: str | None = None) -> None:
        if isinstance(display_name, tuple) and addr_spec is None:
            display_name, addr_spec = display_name
        self.display_name = force_non_lazy(display_name) or ""
        self.addr_spec = force_non_lazy(addr_spec) or ""

    @property
    def username(self) -> str:
        return self.addr_spec.rpartition("@")[0] if "@" in self.addr_spec else self.addr_spec

    @property
    def domain(self) -> str:
        return self.addr_spec.rpartition("@")[2] if "@" in self.addr_spec else ""

    @property
    def address(self) -> str:
        """The full formatted address, e.g. ``"Widgets, Inc." <widgets@example.com>``.

        Encoded for a header: ``=?utf-8?q?J=C3=B6rg?= <jorg@xn--exmple-cua.com>``.
        """
        return self.formatted(encode=True)

    def formattable_addr_spec(self) -> str:
        """addr_spec with an internationalized domain in its IDNA (punycode) form."""
        username, at, domain = self.addr_spec.rpartition("@")
        if not at or domain.isascii():
            return self.addr_spec
        try:
            return f"{username}@{domain.encode('idna').decode('ascii')}"
        except UnicodeError:  # not a valid IDN; send it as given and let the ESP judge
            return self.addr_spec

    def formatted(self, quote_always: bool = False, encode: bool = False) -> str:
        """The RFC 5322 form; with encode, ready for a header (RFC 2047 name, IDNA domain)."""
        if isinstance(self.display_name, str) and isinstance(self.addr_spec, str):
            return _formatted_address(self.display_name, self.addr_spec, quote_always, encode)
        return _format_address(self, quote_always, encode)

    def __str__(self) -> str:
        return self.address

    def __repr__(self) -> str:
        return f"EmailAddress({self.display_name!r}, {self.addr_spec!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EmailAddress):
            return (self.display_name, self.addr_spec) == (other.display_name, other.addr_spec)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.display_name, self.addr_spec))


def _format_address(address: EmailAddress, quote_always: bool, encode: bool) -> str:
    addr_spec = address.formattable_addr_spec() if encode else address.addr_spec
    if not address.display_name:
        return addr_spec
    if encode and not address.display_name.isascii():
        # A long name folds into several encoded-words; keep them on one line
        encoded_name = " ".join(Header(address.display_name, "utf-8").encode().split())
        return f"{encoded_name} <{addr_spec}>"
    try:
        formatted = str(Address(display_name=address.display_name, addr_spec=addr_spec))
    except (ValueError, HeaderParseError, IndexError):
        # Address() rejects internationalized local parts; quote the name ourselves
        formatted = f'"{_escape_quoted(address.display_name)}" <{addr_spec}>'
    if quote_always and not formatted.startswith('"'):
        formatted = f'"{_escape_quoted(address.display_name)}" <{addr_spec}>'
    return formatted


@lru_cache(maxsize=1024)
def _formatted_address(display_name: str, addr_spec: str, quote_always: bool, encode: bool) -> str:
    """Formatting is pure and the same few senders recur in every message: remember it."""
    return _format_address(EmailAddress(display_name, addr_spec), quote_always, encode)


def _escape_quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _is_valid_addr_spec(addr_spec: str) -> bool:
    try:
        parsed = Address(addr_spec=addr_spec)
    except NonASCIILocalPartDefect:
        return bool(_EAI_ADDR_SPEC.match(addr_spec))
    except (ValueError, HeaderParseError, IndexError, TypeError):
        return False
    has_domain = "." in parsed.domain.strip(".") or parsed.domain.lower() == "localhost"
    return bool(parsed.username) and has_domain


def parse_address_list(
    addresses: str | Iterable[str] | None, field: str | None = None
) -> list[EmailAddress]:
    """Parse one address string or a list of them; each string may hold several addresses.

    Raises AnymailInvalidAddress naming the field and the offending text for anything that is
    not a clean, complete address list.
    """
    if addresses is None:
        return []
    addresses = force_non_lazy(addresses)
    if isinstance(addresses, str):
        addresses = [addresses]
    parsed: list[EmailAddress] = []
    for text in addresses:
        text = force_non_lazy(text)
        if isinstance(text, EmailAddress):
            parsed.append(text)
            continue
        if isinstance(text, tuple) and len(text) == 2:
            text = EmailAddress(text).formatted()  # a (display_name, addr_spec) pair
        if not isinstance(text, str):
            raise AnymailInvalidAddress(
                f"Invalid email address {text!r}{_in_field(field)}: expected a str, "
                f"not {type(text).__name__}"
            )
        parsed.extend(_parse_address_string(text, field))
    return parsed


def parse_single_address(address: str, field: str | None = None) -> EmailAddress:
    """Parse a string that must hold exactly one address."""
    parsed = parse_address_list(address, field=field)
    if len(parsed) != 1:
        raise AnymailInvalidAddress(
            f"Expected a single email address{_in_field(field)}, found {len(parsed)} in {address!r}"
        )
    return parsed[0]


def _parse_address_string(text: str, field: str | None) -> list[EmailAddress]:
    if _UNSAFE_CHARS.search(text):
        raise AnymailHeaderInjectionAddress(
            f"Invalid email address {text!r}{_in_field(field)}: "
            "it contains a line break or NUL character"
        )
    # Leading and trailing commas are harmless separators (Python 3.13's parser, unlike
    # earlier ones, rejects a whole list that ends with one)
    core = text.strip(" \t,")
    if not core:
        return []
    pairs = _address_pairs(core)
    if pairs is None:
        hint = ""
        if "," in text and '"' not in text:
            hint = " (if a display name contains a comma, put it in double quotes)"
        raise AnymailInvalidAddress(f"Invalid email address {text!r}{_in_field(field)}{hint}")
    return [EmailAddress(name, addr_spec) for name, addr_spec in pairs]


@lru_cache(maxsize=1024)
def _address_pairs(core: str) -> tuple[tuple[str, str], ...] | None:
    """The (display_name, addr_spec) pairs in an address list, or None if it isn't one.

    Parsing is pure, and the same sender and recipients recur across messages: remember it.
    """
    simple = _SIMPLE_ADDRESS.fullmatch(core)
    if simple:
        if simple["bare"]:
            return (("", simple["bare"]),)
        return ((simple["name"], simple["bracketed"]),)
    return _parsed_address_pairs(core)


def _parsed_address_pairs(core: str) -> tuple[tuple[str, str], ...] | None:
    """The general case of _address_pairs, through the email package's parser."""
    all_pairs = getaddresses([core])
    pairs = tuple(pair for pair in all_pairs if pair != ("", ""))
    # The parser skips what it can't understand, yielding an empty pair. That is harmless only
    # for blank entries between commas ("a@example.com, , b@example.com"); anything else was
    # dropped text (e.g., "alice@example.org)<bob@example.org>").
    unquoted = _QUOTED_STRING.sub('""', core)
    blank_entries = sum(1 for entry in unquoted.split(",") if not entry.strip())
    dropped_text = len(all_pairs) - len(pairs) > blank_entries
    # Every address has exactly one unquoted "@". If the parser found a different number of
    # addresses, it merged or split part of the text (e.g., an unquoted comma in a display
    # name), so refuse rather than send to the wrong recipients.
    if (
        dropped_text
        or unquoted.count("@") != len(pairs)
        or not all(_is_valid_addr_spec(addr_spec) for _, addr_spec in pairs)
    ):
        return None
    return pairs


def _in_field(field: str | None) -> str:
    return f" in `{field}`" if field else ""
