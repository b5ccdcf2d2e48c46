"""Anymail's version, stated once: pyproject.toml and the docs read it from here."""

__version__ = "6.1.0"

# The same, as a tuple (numeric parts as ints), for code that compares versions
VERSION: tuple[int | str, ...] = tuple(
    int(part) if part.isdigit() else part for part in __version__.split(".")
)
