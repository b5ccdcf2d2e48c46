"""Sphinx configuration for Anymail's docs.

Built with ``tox -e docs`` (``sphinx-build -W``: every warning fails the build). Nothing here
reaches the network: no intersphinx, so links to other projects' docs are plain urls.
"""

import re
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS_DIR.parent))  # the anymail package, for autodoc
sys.path.insert(0, str(DOCS_DIR / "_ext"))  # local Sphinx extensions

# autodoc imports anymail's modules, and some of them need configured Django settings
import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=["anymail"],
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        # (set, so importing the webhook views doesn't warn about insecure webhooks)
        ANYMAIL={"WEBHOOK_SECRET": "docs:build"},
        USE_TZ=True,
    )
    django.setup()

from anymail import __version__  # noqa: E402

project = "Anymail"
author = "Anymail contributors"
copyright = "Anymail contributors (see AUTHORS.txt)"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "anymail_features",  # docs/_ext/anymail_features.py: the generated feature matrix
]

exclude_patterns = ["_build"]
root_doc = "index"
default_role = "literal"  # `text` is code, as in most of Django's ecosystem
pygments_style = "sphinx"

# autodoc: document what the code's docstrings say, in source order
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"  # (only params a docstring explains)
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True

html_theme = "furo"
html_title = f"Anymail {release}"
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["anymail.css"]


# Docstrings are written for people reading the code, so a few plain-text habits would be
# (mis)read as reStructuredText markup: "**kwargs" as the start of bold text, and a name
# ending in "_" (as in "the ANYMAIL_ prefix") as a hyperlink reference. Escape just those.
KWARGS_PATTERN = re.compile(r"(?<![\\`*])(\*{1,2})(args|kwargs)\b")
TRAILING_UNDERSCORE_PATTERN = re.compile(r"\b([A-Z][A-Z0-9_]*[A-Z0-9])_(?=[\s.,;:)\"'<]|$)")


def escape_plain_text_markup(app, what, name, obj, options, lines):
    for index, line in enumerate(lines):
        line = KWARGS_PATTERN.sub(lambda m: "\\*" * len(m[1]) + m[2], line)
        lines[index] = TRAILING_UNDERSCORE_PATTERN.sub(r"\1\\_", line)


def setup(app):
    app.connect("autodoc-process-docstring", escape_plain_text_markup)
    # :setting:`NAME` links to the ``.. setting:: NAME`` entry in settings.rst
    app.add_object_type(
        "setting",
        "setting",
        indextemplate="pair: %s; Anymail setting",
    )
