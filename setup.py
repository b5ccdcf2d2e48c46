"""A shim for tools that still call setup.py: the metadata is all in pyproject.toml."""

from setuptools import setup

setup()
