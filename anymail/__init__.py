"""Anymail: send and receive email through any supported ESP with Django's mail API."""

from ._version import VERSION, __version__

__all__ = ["VERSION", "__version__"]
