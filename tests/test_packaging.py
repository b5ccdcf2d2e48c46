"""The built package: what the wheel and sdist hold, their metadata, and the install story.

The wheel and sdist are built once, offline, from a copy of this checkout, with the build
backend pyproject.toml names, called the way pip and ``python -m build`` call it (PEP 517),
without build isolation: so the backend must already be installed (the ``test`` extra has it).
"""

from __future__ import annotations

import configparser
import email.message
import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import ClassVar
from unittest import skipUnless

from django.test import SimpleTestCase

import anymail

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not part of a checkout's source (caches, envs, build output)
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".tox", ".venv", ".ci-venv", "build", "dist", "*.egg-info", "__pycache__",
    ".hypothesis", ".ruff_cache", "_build",
)  # fmt: skip
# One hook per process, as pip and build call them (setuptools keeps state between hooks)
BUILD_SCRIPT = """
import sys
from setuptools import build_meta

hook, out = sys.argv[1:]
print("BUILT:", getattr(build_meta, hook)(out))
"""
# Backend modules that aren't an ESP (so have no extra)
NOT_ESPS = {"__init__", "base", "base_requests", "console", "test"}
DIST_NAME = "django-anymail"


def setuptools_version() -> tuple[int, ...]:
    """The installed setuptools' version, as ints (0 if it isn't installed)."""
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return (0,)
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def normalize(name: str) -> str:
    """A distribution or extra name as packaging metadata compares it (PEP 503/685)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def tested_versions() -> tuple[set[str], set[str]]:
    """The Django and Python versions tox.ini's envlist tests (from djangoXY and pyXY)."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO_ROOT / "tox.ini")
    django_versions, python_versions = set(), set()
    for env in tox["tox"]["envlist"].split():
        for factor in env.split("-"):
            if match := re.fullmatch(r"django(\d)(\d+)", factor):
                django_versions.add(f"{match[1]}.{match[2]}")
            elif match := re.fullmatch(r"py(\d)(\d+)", factor):
                python_versions.add(f"{match[1]}.{match[2]}")
    return django_versions, python_versions


@skipUnless(
    setuptools_version() >= (77,), 'needs setuptools>=77 (pip install -e ".[test]") to build'
)
class BuiltPackageTests(SimpleTestCase):
    tmp: ClassVar[tempfile.TemporaryDirectory[str]]
    build_output: ClassVar[str]
    wheel_path: ClassVar[Path]
    sdist_path: ClassVar[Path]
    wheel_names: ClassVar[set[str]]
    meta: ClassVar[email.message.Message]
    source: ClassVar[Path]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.source = Path(cls.tmp.name) / "source"
        out = Path(cls.tmp.name) / "dist"
        shutil.copytree(REPO_ROOT, cls.source, ignore=NOT_SOURCE)
        out.mkdir()
        built, output = [], []
        for hook in ("build_wheel", "build_sdist"):
            result = subprocess.run(
                [sys.executable, "-c", BUILD_SCRIPT, hook, str(out)],
                cwd=cls.source,
                capture_output=True,
                text=True,
                timeout=300,
                # (with PYTHONDONTWRITEBYTECODE, setuptools logs "byte-compiling is disabled")
                env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "default"},
            )
            if result.returncode != 0:
                raise AssertionError(f"{hook} failed:\n{result.stdout}\n{result.stderr}")
            output.append(result.stdout + result.stderr)
            built.append(re.findall(r"^BUILT: (\S+)$", result.stdout, re.MULTILINE)[-1])
        cls.build_output = "\n".join(output)
        cls.wheel_path, cls.sdist_path = out / built[0], out / built[1]
        with zipfile.ZipFile(cls.wheel_path) as wheel:
            cls.wheel_names = set(wheel.namelist())
            dist_info = next(n for n in cls.wheel_names if n.endswith(".dist-info/METADATA"))
            cls.meta = email.parser.Parser().parsestr(wheel.read(dist_info).decode())

    def test_wheel_ships_py_typed(self) -> None:
        self.assertIn("anymail/py.typed", self.wheel_names)

    def test_wheel_holds_the_package_and_nothing_else(self) -> None:
        package = {
            path.relative_to(self.source).as_posix()
            for path in (self.source / "anymail").rglob("*")
            if path.is_file() and path.suffix in (".py", ".typed")
        }
        self.assertIn("anymail/backends/mailgun.py", package)
        packaged = {name for name in self.wheel_names if ".dist-info/" not in name}
        self.assertEqual(packaged, package)  # so no tests/, example/ or docs/
        self.assertFalse(
            {name for name in self.wheel_names if name.startswith(("tests/", "example/"))}
        )

    def test_wheel_file_name(self) -> None:
        # docs/conf.py's |wheel_file| (used by docs/install.rst) is spelled this way
        self.assertEqual(
            self.wheel_path.name, f"django_anymail-{anymail.__version__}-py3-none-any.whl"
        )

    def test_build_prints_no_warning(self) -> None:
        # e.g. setuptools' deprecation of a license classifier beside a license expression
        self.assertEqual(re.findall(r".*(?:Warning\b|DEPRECAT).*", self.build_output), [])

    def test_name_version_license(self) -> None:
        self.assertEqual(self.meta["Name"], DIST_NAME)
        self.assertEqual(self.meta["Version"], anymail.__version__)  # read from _version.py
        self.assertEqual(self.meta["License-Expression"], "BSD-3-Clause")  # SPDX
        self.assertIn("LICENSE", self.meta.get_all("License-File"))
        self.assertIn("dist-info/licenses/LICENSE", " ".join(self.wheel_names))
        classifiers = self.meta.get_all("Classifier")
        self.assertFalse([c for c in classifiers if c.startswith("License ::")])
        self.assertIn("Typing :: Typed", classifiers)
        self.assertEqual(self.meta["Requires-Python"], ">=3.10")
        self.assertEqual(self.meta["Description-Content-Type"], "text/x-rst")

    def test_project_urls(self) -> None:
        urls = dict(url.split(", ", 1) for url in self.meta.get_all("Project-URL"))
        self.assertEqual(set(urls), {"Source", "Documentation", "Changelog"})
        # The docs live in this repository, so their url is within its url
        self.assertTrue(urls["Documentation"].startswith(urls["Source"] + "/"))
        self.assertTrue(urls["Changelog"].startswith(urls["Documentation"] + "/"))
        for url in urls.values():  # not another project's pages (the one with our name)
            self.assertNotRegex(url, r"readthedocs|pypi\.org|github\.com/anymail")

    def test_requirements(self) -> None:
        requires = self.meta.get_all("Requires-Dist")
        core = [req for req in requires if "extra ==" not in req]
        self.assertEqual(sorted(core), ["django>=4.2", "requests>=2.30"])

    def extra_requirements(self) -> dict[str, set[str]]:
        extras: dict[str, set[str]] = {name: set() for name in self.meta.get_all("Provides-Extra")}
        for req in self.meta.get_all("Requires-Dist"):
            if match := re.fullmatch(r'(.+?); extra == "(.+)"', req):
                extras[match[2]].add(match[1])
        return extras

    def test_every_esp_has_an_extra_and_all_is_their_union(self) -> None:
        extras = self.extra_requirements()
        esps = {
            normalize(path.stem)
            for path in (REPO_ROOT / "anymail" / "backends").glob("*.py")
            if path.stem not in NOT_ESPS
        }
        self.assertIn("amazon-ses", esps)
        self.assertEqual(set(extras), esps | {"all", "test"})
        self.assertEqual(extras["all"], set().union(*(extras[esp] for esp in esps)))
        self.assertEqual(extras["sparkpost"], {"sparkpost"})
        self.assertEqual(extras["amazon-ses"], {"boto3", "cryptography"})
        # test: everything the suite imports (all the ESP packages, too), and this test's backend
        self.assertLessEqual(extras["all"], extras["test"])
        self.assertLessEqual({"hypothesis", "moto[s3,ses,sns]", "setuptools>=77"}, extras["test"])

    def test_supported_versions_are_the_tested_ones(self) -> None:
        classifiers = self.meta.get_all("Classifier")
        django_classified = {
            c.split(" :: ")[-1]
            for c in classifiers
            if re.fullmatch(r"Framework :: Django :: [\d.]+", c)
        }
        python_classified = {
            c.split(" :: ")[-1]
            for c in classifiers
            if re.fullmatch(r"Programming Language :: Python :: \d+\.\d+", c)
        }
        self.assertEqual((django_classified, python_classified), tested_versions())
        self.assertEqual(django_classified, {"4.2", "5.2", "6.0", "6.1"})
        self.assertEqual(python_classified, {"3.10", "3.11", "3.12", "3.13"})
        lowest_python = min(python_classified, key=lambda v: [int(p) for p in v.split(".")])
        self.assertEqual(self.meta["Requires-Python"], f">={lowest_python}")

    def test_sdist(self) -> None:
        with tarfile.open(self.sdist_path) as sdist:
            names = {name.split("/", 1)[-1] for name in sdist.getnames()}
        for needed in ("pyproject.toml", "setup.py", "README.rst", "LICENSE", "anymail/py.typed"):
            self.assertIn(needed, names)
        self.assertFalse({name for name in names if name.startswith(("tests/", "example/"))})


class InstallStoryTests(SimpleTestCase):
    """The README and docs/install.rst install this project, and say each fact once."""

    files = [REPO_ROOT / "README.rst", REPO_ROOT / "docs" / "install.rst"]

    def test_never_installs_the_name_from_an_index(self) -> None:
        # "pip install django-anymail[...]" would fetch an unrelated project of the same name
        # from PyPI; a name is only used with a direct reference ("name[extra] @ url")
        for path in self.files:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                command = re.match(r"\s*(\$ |\.venv/|python)", line)  # (not prose)
                if command and "pip install" in line and re.search(r"anymail\b|dist_name", line):
                    with self.subTest(f"{path.name}:{number}"):
                        self.assertIn(" @ ", line)

    def test_version_and_supported_versions_not_restated(self) -> None:
        install = (REPO_ROOT / "docs" / "install.rst").read_text()
        self.assertNotIn(anymail.__version__, install)  # |release| and |wheel_file| instead
        self.assertIn("|release|", install)
        self.assertIn("|django_versions|", install)
        self.assertIn("|python_versions|", install)
        self.assertIn("|dist_name|", install)

    def test_readme_requirements_are_the_tested_versions(self) -> None:
        readme = (REPO_ROOT / "README.rst").read_text()
        line = next(line for line in readme.splitlines() if line.startswith("Requirements:"))
        django_part, python_part = line.split("Django", 1)[1], line.split("Django", 1)[0]
        self.assertEqual(
            (set(re.findall(r"\d+\.\d+", django_part)), set(re.findall(r"\d+\.\d+", python_part))),
            tested_versions(),
        )

    def test_readme_test_command_is_what_ci_runs(self) -> None:
        ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        ci_command = ci[ci.index("# The README's test command:") + 1].split(" 2>&1")[0]
        readme = (REPO_ROOT / "README.rst").read_text()
        self.assertRegex(readme, rf"\.venv/bin/{re.escape(ci_command)}(\s|$)")

    def test_readme_suite_command_installs_what_the_suite_needs(self) -> None:
        readme = (REPO_ROOT / "README.rst").read_text()
        (command,) = [
            line for line in readme.splitlines() if "runtests.py" in line and "pip" in line
        ]
        self.assertIn('pip install -e ".[all,test]"', command)
