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

from anymail._version import __version__  # noqa: E402

try:
    import tomllib
except ImportError:  # Python 3.10 (docs/requirements.txt adds tomli there)
    import tomli as tomllib

# The name and supported versions, from pyproject.toml (the one place they're written), for
# the docs to show without restating them
PROJECT = tomllib.loads((DOCS_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def classifier_versions(prefix: str) -> str:
    """Versions in the "<prefix>3.10"-style classifiers, as "3.10, 3.11 and 3.12"."""
    found = [
        classifier.removeprefix(prefix)
        for classifier in PROJECT["classifiers"]
        if re.fullmatch(re.escape(prefix) + r"\d+\.\d+", classifier)  # (not "3 :: Only")
    ]
    found.sort(key=lambda found_version: [int(part) for part in found_version.split(".")])
    return ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else "".join(found)


project = "Anymail"
author = "Anymail contributors"
copyright = "Anymail contributors (see AUTHORS.txt)"
release = __version__
version = ".".join(__version__.split(".")[:2])
dist_name = PROJECT["name"]
# The wheel's file name, as the wheel spec spells it (runs of "-_." in the name become "_")
wheel_file = f"{re.sub(r'[-_.]+', '_', dist_name)}-{release}-py3-none-any.whl"

# |dist_name| etc. work in prose and in parsed-literal blocks (Sphinx itself provides
# |release| and |version|)
rst_epilog = f"""
.. |dist_name| replace:: {dist_name}
.. |wheel_file| replace:: {wheel_file}
.. |python_versions| replace:: {classifier_versions("Programming Language :: Python :: ")}
.. |django_versions| replace:: {classifier_versions("Framework :: Django :: ")}
"""

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
