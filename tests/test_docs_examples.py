"""Every Python example in docs/ runs here, so the docs can't drift away from the code.

Each ``.. code-block:: python`` in docs/**/*.rst becomes its own test, named after its file
and line (e.g. ``test_sending_rst_L120``), and runs on its own, in a fresh namespace:

* Ordinary examples send through Anymail's test backend (see below for how it's configured,
  MAILERS or EMAIL_BACKEND). On an ESP's page
  (docs/esps/<esp>.rst) they run with that ESP's real backend instead, with its API faked
  (no network), so an example that the ESP's backend would refuse fails here.
* A block whose first line is ``# settings.py`` is a settings fragment: it is executed in a
  namespace, and every name it sets must be a Django setting, every Anymail setting one that
  Anymail's code reads (found by scanning the code for ``get_anymail_setting()`` calls), and
  any ``EMAIL_BACKEND`` importable.
* A block whose first line is ``# docs-test: skip (reason)`` isn't run; the test is skipped
  with that reason.
* A python block may be followed (with only blank lines between) by an rst comment
  ``.. docs-test: webhook <url>`` whose indented body is a payload: after the block runs, the
  payload is posted to that url with Django's test client (with the WEBHOOK_SECRET basic
  auth), which must answer 200. This lets a receiver example be run by a real webhook call.
* Then, a ``.. code-block:: text`` whose ``:caption:`` is "Output" (or starts with "Output,"
  or "Output ") is the exact stdout expected from the block (and any webhook call). An
  Output block anywhere else is an error, so an expectation can't silently go unchecked.
* A block that defines ``unittest.TestCase`` classes (as the testing docs do) has those tests
  run too, and they must pass.

``.. code-block:: json`` blocks must parse; console and text blocks aren't run.

Django 6.1's ``MAILERS`` and the older ``EMAIL_BACKEND`` are two ways to configure mail, and
the docs show both, ``MAILERS`` first. A python block written for one of them says so in its
``:caption:``, by naming "Django 6.1" (the MAILERS form, e.g. "settings.py, Django 6.1 and
later (MAILERS)") or "Django 4.2" (the EMAIL_BACKEND form, e.g. "Django 4.2 to 6.0
(EMAIL_BACKEND)"). A block that uses ``MAILERS``, ``using=`` or ``mail.mailers`` must be
captioned as the MAILERS form, one that uses ``EMAIL_BACKEND``, ``get_connection`` or
``connection=`` as the EMAIL_BACKEND form, and a run of captioned blocks starts with the
MAILERS form and includes the other. Then:

* A MAILERS-form block runs only on Django 6.1 or later (below, it's skipped, saying why), with
  ``MAILERS`` from the last MAILERS-form ``# settings.py`` block above it on its page (if any;
  else one ``"default"`` mailer with the backend described above). A MAILERS settings block is
  checked by running Anymail's system checks for misspelled settings and options (W006,
  W007) and creating each of its mailers through ``django.core.mail.mailers``, with only that
  block's settings: an unknown option or a missing credential fails.
* An EMAIL_BACKEND-form block runs with ``EMAIL_BACKEND`` on every Django (6.1 still allows it
  when ``MAILERS`` isn't set).
* Any other block runs with ``MAILERS`` on Django 6.1 and later, else with ``EMAIL_BACKEND``.
* Except for EMAIL_BACKEND-form blocks on Django 6.1 (which are deprecated there by design),
  Django's deprecation warnings are errors while a block runs, so the docs can't teach an API
  that's on its way out.
* An Output block right after a MAILERS-form block and its EMAIL_BACKEND-form twin (with only
  blank lines between them) is what each of the two must print.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import email.utils
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import tempfile
import textwrap
import tokenize
import unittest
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import django
import requests
from django.core import checks, mail
from django.test import Client, SimpleTestCase, override_settings
from django.utils import deprecation as django_deprecation
from django.utils.module_loading import import_string

from anymail import signals as anymail_signals

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = REPO_ROOT / "docs"
ANYMAIL_DIR = REPO_ROOT / "anymail"
EXAMPLE_LOGO = REPO_ROOT / "example" / "example_app" / "logo.png"

SETTINGS_MARKER = "# settings.py"
SKIP_MARKER = "# docs-test: skip"
WEBHOOK_SECRET = "docs-user:docs-password"

#: Settings every example runs with: credentials for every ESP (whose APIs are faked)
EXAMPLE_ANYMAIL_SETTINGS = {
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "MAILGUN_API_KEY": "docs-mailgun-api-key",
    "MAILJET_API_KEY": "docs-mailjet-api-key",
    "MAILJET_SECRET_KEY": "docs-mailjet-secret-key",
    "MANDRILL_API_KEY": "docs-mandrill-api-key",
    "POSTMARK_SERVER_TOKEN": "docs-postmark-server-token",
    "SENDGRID_API_KEY": "docs-sendgrid-api-key",
    "SENDINBLUE_API_KEY": "docs-sendinblue-api-key",
    "SPARKPOST_API_KEY": "docs-sparkpost-api-key",
    # The docs' sample SNS payloads aren't signed by Amazon (their signing is tested in
    # tests/test_sns.py)
    "AMAZON_SES_VERIFY_SNS_SIGNATURES": False,
}

#: ESPs whose backends need an optional package: ESP -> (import name, pip extra)
ESP_PACKAGES = {"amazon_ses": ("boto3", "amazon_ses"), "sparkpost": ("sparkpost", "sparkpost")}

#: Python block spellings this collector wouldn't see: use ".. code-block:: python"
OTHER_PYTHON_DIRECTIVE = re.compile(
    r"^\s*\.\. (?:(?:code-block|code|sourcecode)::\s*(?:py|python3|pycon|ipython)\s*$"
    r"|(?:code|sourcecode)::\s*python\s*$)",
    re.MULTILINE,
)
CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<language>\S+)\s*$")
DOCS_TEST_COMMENT = re.compile(r"^(?P<indent>\s*)\.\. docs-test:\s*(?P<args>.*?)\s*$")
OPTION = re.compile(r"^\s*:(?P<name>[\w-]+):\s*(?P<value>.*?)\s*$")

#: The two ways to configure mail, and the captions that mark a block as one of them
MAILERS_FORM = "MAILERS"
EMAIL_BACKEND_FORM = "EMAIL_BACKEND"
FORM_CAPTIONS = {
    MAILERS_FORM: re.compile(r"\bDjango 6\.1\b"),
    EMAIL_BACKEND_FORM: re.compile(r"\bDjango 4\.2\b"),
}
#: What code (comments aside) uses that belongs to one form only
FORM_APIS = {
    MAILERS_FORM: re.compile(r"\bMAILERS\b|\busing=|\bmailers\b"),
    EMAIL_BACKEND_FORM: re.compile(r"\bEMAIL_BACKEND\b|\bget_connection\b|\bconnection=(?!=)"),
}
HAS_MAILERS = django.VERSION >= (6, 1)
#: Django's "this is going away" warnings (RemovedInDjango60Warning, ...)
DJANGO_DEPRECATIONS = tuple(
    getattr(django_deprecation, name)
    for name in dir(django_deprecation)
    if name.startswith("RemovedInDjango")
)


# --- Finding the examples ---


@dataclass
class WebhookPost:
    url: str
    content_type: str
    body: str


@dataclass
class DocBlock:
    path: Path  # the .rst file
    line: int  # 1-based line of its ".. code-block::" directive
    language: str
    options: dict[str, str]
    code: str  # dedented
    first_code_line: int  # 1-based line of the code's first line in the .rst
    expected_output: str | None = None
    webhook_posts: list[WebhookPost] = field(default_factory=list)
    #: For a MAILERS-form block: the page's last MAILERS-form settings block above it
    mailers_settings: DocBlock | None = None

    @property
    def relpath(self) -> str:
        return self.path.relative_to(DOCS_DIR).as_posix()

    @property
    def esp(self) -> str | None:
        """The ESP whose page this is (docs/esps/<esp>.rst), else None."""
        parts = self.path.relative_to(DOCS_DIR).parts
        if len(parts) == 2 and parts[0] == "esps" and parts[1] != "index.rst":
            return self.path.stem
        return None

    @property
    def first_line(self) -> str:
        return self.code.lstrip().splitlines()[0].strip() if self.code.strip() else ""

    @property
    def form(self) -> str | None:
        """MAILERS_FORM or EMAIL_BACKEND_FORM, as the caption says; None for either."""
        caption = self.options.get("caption", "")
        for form, pattern in FORM_CAPTIONS.items():
            if pattern.search(caption):
                return form
        return None

    @property
    def is_settings(self) -> bool:
        return self.first_line == SETTINGS_MARKER

    @property
    def where(self) -> str:
        return f"{self.relpath}:{self.line}"

    def forms_used(self) -> set[str]:
        """The forms whose mail APIs this block's code (comments aside) uses."""
        code = code_without_comments(self.code)
        return {form for form, pattern in FORM_APIS.items() if pattern.search(code)}

    @property
    def test_name(self) -> str:
        slug = re.sub(r"\W+", "_", self.relpath).strip("_")
        return f"test_{slug}_L{self.line}"


def code_without_comments(code: str) -> str:
    """Python code with its comments blanked out (so a comment may mention either form)."""
    lines = code.splitlines(keepends=True)
    try:
        comments = [
            token
            for token in tokenize.generate_tokens(io.StringIO(code).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):
        return code
    for token in reversed(comments):
        row, col = token.start
        lines[row - 1] = lines[row - 1][:col] + "\n"
    return "".join(lines)


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_directive_body(lines: list[str], start: int, indent: int) -> tuple[list[str], int, int]:
    """The lines of a directive body beginning at lines[start], indented past indent.

    Returns (body lines, 0-based index of the first body line, index just past the body).
    """
    end = start
    while end < len(lines) and (not lines[end].strip() or indentation(lines[end]) > indent):
        end += 1
    body_start = start
    while body_start < end and not lines[body_start].strip():
        body_start += 1
    body_end = end
    while body_end > body_start and not lines[body_end - 1].strip():
        body_end -= 1
    return lines[body_start:body_end], body_start, end


def parse_code_block(lines: list[str], index: int, path: Path) -> tuple[DocBlock, int]:
    match = CODE_BLOCK.match(lines[index])
    assert match
    indent = len(match["indent"])
    options = {}
    cursor = index + 1
    while cursor < len(lines) and lines[cursor].strip() and indentation(lines[cursor]) > indent:
        option = OPTION.match(lines[cursor])
        if not option:
            break
        options[option["name"]] = option["value"]
        cursor += 1
    body, body_start, end = read_directive_body(lines, cursor, indent)
    block = DocBlock(
        path=path,
        line=index + 1,
        language=match["language"],
        options=options,
        code=textwrap.dedent("\n".join(body)) + "\n",
        first_code_line=body_start + 1,
    )
    return block, end


def is_output_caption(caption: str | None) -> bool:
    """Whether a caption marks expected output: "Output", or one starting "Output " or "Output,"."""
    return caption is not None and re.match(r"Output(?:$|[ ,:(])", caption) is not None


def collect_blocks(paths: list[Path]) -> list[DocBlock]:
    blocks = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        index = 0
        current_python: DocBlock | None = None  # the python block a follower belongs to
        twin: DocBlock | None = None  # current_python's MAILERS-form twin, just above it
        mailers_settings: DocBlock | None = None  # the last MAILERS-form settings block
        while index < len(lines):
            line = lines[index]
            if not line.strip():
                index += 1
                continue
            if CODE_BLOCK.match(line):
                block, index = parse_code_block(lines, index, path)
                if block.language == "text" and is_output_caption(block.options.get("caption")):
                    if current_python is None:
                        raise ValueError(
                            f"{path}:{block.line}: an Output block must follow its python "
                            "block (with nothing but blank lines or docs-test comments between)"
                        )
                    current_python.expected_output = block.code
                    if twin is not None and twin.expected_output is None:
                        twin.expected_output = block.code
                    current_python = twin = None
                    continue
                blocks.append(block)
                if block.language != "python":
                    current_python = twin = None
                    continue
                twin = None
                if (
                    current_python is not None
                    and current_python.form == MAILERS_FORM
                    and block.form == EMAIL_BACKEND_FORM
                ):
                    twin = current_python
                if block.form == MAILERS_FORM:
                    if block.is_settings:
                        mailers_settings = block
                    else:
                        block.mailers_settings = mailers_settings
                current_python = block
                continue
            comment = DOCS_TEST_COMMENT.match(line)
            if comment:
                body, _, index = read_directive_body(lines, index + 1, len(comment["indent"]))
                args = comment["args"].split()
                if not args or args[0] != "webhook" or len(args) not in (2, 3):
                    raise ValueError(f"{path}:{index}: unknown docs-test comment {line!r}")
                if current_python is None:
                    raise ValueError(f"{path}:{index}: docs-test comment after no python block")
                current_python.webhook_posts.append(
                    WebhookPost(
                        url=args[1],
                        content_type=args[2] if len(args) == 3 else "application/json",
                        body=textwrap.dedent("\n".join(body)),
                    )
                )
                continue
            current_python = twin = None
            index += 1
    return blocks


def doc_files() -> list[Path]:
    if not DOCS_DIR.is_dir():
        return []
    return sorted(
        path for path in DOCS_DIR.rglob("*.rst") if "_build" not in path.relative_to(DOCS_DIR).parts
    )


# --- What Anymail's code reads (so settings examples can be checked against it) ---


@dataclass
class CodeSettings:
    names: set[str]  # ANYMAIL dict keys, e.g. "SEND_DEFAULTS", "MAILGUN_API_KEY"
    bare_names: set[str]  # also read without the ANYMAIL_ prefix, e.g. "MAILGUN_API_KEY"


def esp_prefixes() -> list[str]:
    modules = (ANYMAIL_DIR / "backends").glob("*.py")
    not_esps = {"__init__", "base", "base_requests", "test", "console"}
    return sorted(path.stem.upper() for path in modules if path.stem not in not_esps)


def settings_read_by_code() -> CodeSettings:
    """Every setting Anymail's code looks up with get_anymail_setting()."""
    names, bare_names = set(), set()
    for path in sorted(ANYMAIL_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None))
                == "get_anymail_setting"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                continue
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            setting = node.args[0].value.upper()
            esp_name = keywords.get("esp_name")
            if esp_name is None:
                found = {setting}
            elif isinstance(esp_name, ast.Constant):  # e.g. esp_name="Amazon SES"
                found = {f"{esp_name.value.upper().replace(' ', '_')}_{setting}"}
            elif path.parent.name in ("backends", "webhooks") and path.stem.upper() in set(
                esp_prefixes()
            ):
                found = {f"{path.stem.upper()}_{setting}"}
            else:  # a base class reading a per-ESP setting (e.g., <ESP>_SEND_DEFAULTS)
                found = {f"{prefix}_{setting}" for prefix in esp_prefixes()}
            names |= found
            allow_bare = keywords.get("allow_bare")
            if isinstance(allow_bare, ast.Constant) and allow_bare.value is True:
                bare_names |= found
    return CodeSettings(names, bare_names)


# --- Faking the ESPs' APIs ---


def json_body(kwargs: dict[str, Any]) -> Any:
    data = kwargs.get("data")
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data) if data else None


def addresses_in(*fields: Any) -> list[str]:
    """addr-specs from header-style address strings (or lists of them)."""
    texts = []
    for value in fields:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend(str(item) for item in value)
    return [addr for _, addr in email.utils.getaddresses(texts) if addr]


def fake_api_answer(host: str, kwargs: dict[str, Any]) -> tuple[int, Any]:
    """(status, JSON answer) that the ESP at host would give to a successful send."""
    if host.endswith("mailgun.net"):
        return 200, {"id": "<20240102030405.1.DOCS@mg.example.com>", "message": "Queued."}
    if host.endswith("mailjet.com"):
        data = json_body(kwargs)
        messages = data.get("Messages", [data])
        emails = [
            addr
            for message in messages
            for addr in addresses_in(message.get("To"), message.get("Cc"), message.get("Bcc"))
        ]
        return 200, {
            "Sent": [{"Email": addr, "MessageID": 1000 + n} for n, addr in enumerate(emails)]
        }
    if host.endswith("mandrillapp.com"):
        recipients = json_body(kwargs)["message"].get("to", [])
        return 200, [
            {"email": item["email"], "status": "sent", "_id": f"mandrill-{n}"}
            for n, item in enumerate(recipients)
        ]
    if host.endswith("postmarkapp.com"):
        data = json_body(kwargs)
        messages = data["Messages"] if isinstance(data, dict) and "Messages" in data else data

        def result(n: int, message: dict[str, Any]) -> dict[str, Any]:
            return {"ErrorCode": 0, "Message": "OK", "MessageID": f"postmark-{n}"}

        if isinstance(messages, list):
            return 200, [result(n, message) for n, message in enumerate(messages)]
        return 200, result(0, messages)
    if host.endswith("sendgrid.com"):
        return 202, None
    if host.endswith("sendinblue.com"):
        return 201, {"messageId": "<202401020304.1@smtp-relay.sendinblue.com>"}
    if host.endswith("sparkpost.com"):
        recipients = json_body(kwargs).get("recipients", [])
        count = len(recipients) if isinstance(recipients, list) else 1
        return 200, {
            "results": {
                "id": "7000000000000001",
                "total_accepted_recipients": count,
                "total_rejected_recipients": 0,
            }
        }
    raise AssertionError(f"A docs example tried to call {host}, which isn't a faked ESP API")


def fake_session_request(
    session: requests.Session, method: str, url: str, **kwargs: Any
) -> requests.Response:
    status, answer = fake_api_answer(urlsplit(url).hostname or "", kwargs)
    response = requests.Response()
    response.status_code = status
    response.reason = {200: "OK", 201: "Created", 202: "Accepted"}[status]
    response.url = url
    response.encoding = "utf-8"
    response._content = b"" if answer is None else json.dumps(answer).encode("utf-8")
    response.headers["Content-Type"] = "application/json"
    response.request = requests.Request(method, url).prepare()
    return response


class FakeSESClient:
    """Enough of boto3's SES client for Anymail's Amazon SES backend."""

    def send_raw_email(self, **params: Any) -> dict[str, Any]:
        return {"MessageId": "0100018c-docs-ses-message"}

    def send_bulk_templated_email(self, **params: Any) -> dict[str, Any]:
        return {
            "Status": [
                {"Status": "Success", "MessageId": f"0100018c-docs-ses-{n}"}
                for n, _ in enumerate(params["Destinations"])
            ]
        }

    def close(self) -> None:
        pass


@contextlib.contextmanager
def fake_esp_apis() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(
                requests.Session, "request", autospec=True, side_effect=fake_session_request
            )
        )
        if importlib.util.find_spec("boto3") is not None:
            # (Without boto3, the Amazon SES backend can't be imported, as in 6.1)
            stack.enter_context(
                mock.patch(
                    "anymail.backends.amazon_ses.boto3_client",
                    side_effect=lambda *args, **kwargs: FakeSESClient(),
                )
            )
        yield


# --- Running the examples ---


@contextlib.contextmanager
def restored_signal_receivers() -> Iterator[None]:
    """Disconnect whatever receivers an example connects, once it's done."""
    signals = [anymail_signals.tracking, anymail_signals.inbound]
    signals += [anymail_signals.pre_send, anymail_signals.post_send]
    saved = [(signal, list(signal.receivers)) for signal in signals]
    try:
        yield
    finally:
        for signal, receivers in saved:
            with signal.lock:
                signal.receivers = receivers
                signal.sender_receivers_cache.clear()


@contextlib.contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """Silence loggers an example is expected to trigger (e.g., a webhook's 400 warning)."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, saved, strict=True):
            logger.disabled = disabled


@contextlib.contextmanager
def example_files_dir() -> Iterator[Path]:
    """A scratch working directory holding the files examples open (logo.png, etc.)."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="anymail-docs-") as tmp:
        tmp_path = Path(tmp)
        if EXAMPLE_LOGO.exists():
            shutil.copy(EXAMPLE_LOGO, tmp_path / "logo.png")
        else:  # a 1x1 PNG
            (tmp_path / "logo.png").write_bytes(
                base64.b64decode(
                    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
                )
            )
        (tmp_path / "invoice.pdf").write_bytes(b"%PDF-1.4\n% docs example\n%%EOF\n")
        (tmp_path / "prices.csv").write_text("item,price\nanvil,19.99\n", encoding="utf-8")
        os.chdir(tmp_path)
        try:
            yield tmp_path
        finally:
            os.chdir(cwd)


def normalized_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


class DocsExamplesTests(SimpleTestCase):
    """One generated test per code block in docs/ (see the module docstring)."""

    maxDiff = None

    def run_doc_block(self, block: DocBlock) -> None:
        if block.language == "json":
            json.loads(block.code)
            return
        if block.first_line.startswith(SKIP_MARKER):
            raise unittest.SkipTest(
                f"{block.relpath}:{block.line}: {block.first_line.removeprefix('# ')}"
            )
        if block.form == MAILERS_FORM and not HAS_MAILERS:
            raise unittest.SkipTest(
                f"{block.where}: the MAILERS form needs Django 6.1 or later (this is Django "
                f"{django.get_version()}); the EMAIL_BACKEND form beside it runs instead"
            )
        self.skip_without_esp_package(block)
        with self.deprecations_as_errors(block):
            if block.is_settings:
                self.check_settings_block(block)
            else:
                self.run_python_block(block)

    @contextlib.contextmanager
    def deprecations_as_errors(self, block: DocBlock) -> Iterator[None]:
        """Make Django's deprecation warnings errors, but where the docs show a deprecated form."""
        with warnings.catch_warnings():
            if not (block.form == EMAIL_BACKEND_FORM and HAS_MAILERS):
                for category in DJANGO_DEPRECATIONS:
                    warnings.filterwarnings("error", category=category)
            yield

    def mail_settings(self, block: DocBlock) -> dict[str, Any]:
        """MAILERS or EMAIL_BACKEND for running a block (see the module docstring)."""
        backend = "anymail.backends.test.EmailBackend"
        if block.esp is not None:
            backend = f"anymail.backends.{block.esp}.EmailBackend"
        if block.form == EMAIL_BACKEND_FORM or not HAS_MAILERS:
            return {"EMAIL_BACKEND": backend}
        if block.form == MAILERS_FORM and block.mailers_settings is not None:
            return {"MAILERS": settings_namespace(block.mailers_settings)["MAILERS"]}
        return {"MAILERS": {"default": {"BACKEND": backend}}}

    def skip_without_esp_package(self, block: DocBlock) -> None:
        package, extra = ESP_PACKAGES.get(block.esp, (None, None))
        if package and importlib.util.find_spec(package) is None:
            raise unittest.SkipTest(
                f"{block.relpath}:{block.line}: needs {package} "
                f"(pip install django-anymail[{extra}])"
            )

    def compiled(self, block: DocBlock) -> Any:
        # Padded, so tracebacks point at the example's real lines in the .rst file
        source = "\n" * (block.first_code_line - 1) + block.code
        return compile(source, str(block.path), "exec")

    def run_python_block(self, block: DocBlock) -> None:
        stdout = io.StringIO()
        namespace = {"__name__": "docs_example"}
        with (
            override_settings(
                **self.mail_settings(block),
                ANYMAIL=dict(EXAMPLE_ANYMAIL_SETTINGS),
                ROOT_URLCONF="tests.urls",
                DEFAULT_FROM_EMAIL="Example <from@example.com>",
            ),
            restored_signal_receivers(),
            quiet_loggers("anymail.webhooks", "django.request", "django.security"),
            fake_esp_apis(),
            example_files_dir(),
            contextlib.redirect_stdout(stdout),
        ):
            mail.outbox = []
            exec(self.compiled(block), namespace)
            for post in block.webhook_posts:
                self.post_webhook(block, post)
            self.run_example_test_cases(block, namespace)
        if block.expected_output is not None:
            self.assertEqual(
                normalized_output(stdout.getvalue()),
                normalized_output(block.expected_output),
                f"{block.relpath}:{block.line}: the example's output differs from the docs'",
            )

    def run_example_test_cases(self, block: DocBlock, namespace: dict[str, Any]) -> None:
        """Run the TestCase classes an example defines; they must pass."""
        test_cases = [
            value
            for value in namespace.values()
            if isinstance(value, type)
            and issubclass(value, unittest.TestCase)
            and value.__module__ == namespace["__name__"]
        ]
        if not test_cases:
            return
        loader = unittest.defaultTestLoader
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in test_cases)
        report = io.StringIO()
        result = unittest.TextTestRunner(stream=report, verbosity=2).run(suite)
        self.assertTrue(
            result.wasSuccessful(),
            f"{block.relpath}:{block.line}: the example's tests failed:\n{report.getvalue()}",
        )
        self.assertTrue(result.testsRun, f"{block.relpath}:{block.line}: no tests ran")

    def post_webhook(self, block: DocBlock, post: WebhookPost) -> None:
        credentials = base64.b64encode(WEBHOOK_SECRET.encode("utf-8")).decode("ascii")
        response = Client().post(
            post.url,
            data=post.body,
            content_type=post.content_type,
            HTTP_AUTHORIZATION=f"Basic {credentials}",
        )
        self.assertEqual(
            response.status_code,
            200,
            f"{block.relpath}:{block.line}: posting the example payload to {post.url} got "
            f"{response.status_code} {response.content[:500]!r}",
        )

    def check_settings_block(self, block: DocBlock) -> None:
        namespace = settings_namespace(block)
        code_settings = settings_read_by_code()
        where = block.where
        names = list(namespace)
        self.assertTrue(names, f"{where}: a settings example that sets nothing")
        if "MAILERS" in names:
            self.assertNotIn(
                "EMAIL_BACKEND", names, f"{where}: Django refuses EMAIL_BACKEND beside MAILERS"
            )
            if HAS_MAILERS:  # (else test_mail_forms_are_captioned_and_paired complains)
                self.check_mailers(block, namespace)
        for name in names:
            self.assertTrue(name.isupper(), f"{where}: {name} isn't a (capitalized) setting")
            if name == "ANYMAIL":
                anymail_settings = namespace[name]
                self.assertIsInstance(anymail_settings, dict, f"{where}: ANYMAIL")
                unknown = set(anymail_settings) - code_settings.names
                self.assertFalse(unknown, f"{where}: Anymail doesn't read ANYMAIL {unknown}")
            elif name.startswith("ANYMAIL_"):
                self.assertIn(
                    name.removeprefix("ANYMAIL_"),
                    code_settings.names,
                    f"{where}: Anymail doesn't read {name}",
                )
            elif any(name.startswith(f"{prefix}_") for prefix in esp_prefixes()):
                self.assertIn(
                    name,
                    code_settings.bare_names,
                    f"{where}: Anymail doesn't read {name} without the ANYMAIL_ prefix",
                )
            elif name == "EMAIL_BACKEND":
                import_string(namespace[name])  # (ESP packages are imported only when used)
            elif name == "INSTALLED_APPS":
                self.assertIn("anymail", namespace[name], f"{where}: INSTALLED_APPS")

    def check_mailers(self, block: DocBlock, namespace: dict[str, Any]) -> None:
        """Check each mailer as Django will create it, with only the block's own settings."""
        mailers = namespace["MAILERS"]
        self.assertIsInstance(mailers, dict, f"{block.where}: MAILERS")
        for alias, config in mailers.items():
            unknown = set(config) - {"BACKEND", "OPTIONS"}
            self.assertFalse(unknown, f"{block.where}: MAILERS[{alias!r}] has {unknown}")
            self.assertIn("BACKEND", config, f"{block.where}: MAILERS[{alias!r}]")
        # Settings the block doesn't set mustn't help: no ANYMAIL but its own
        overrides = {name: value for name, value in namespace.items() if name != "INSTALLED_APPS"}
        overrides.setdefault("ANYMAIL", {})
        with override_settings(**overrides):
            # Anymail's system checks find nothing misspelled (OPTIONS or settings)
            misspelled = [
                message
                for message in checks.run_checks()
                if message.id in ("anymail.W006", "anymail.W007")
            ]
            self.assertEqual(misspelled, [], f"{block.where}: the system checks warn")
            for alias in mailers:
                try:
                    mail.mailers[alias].close()
                except Exception as error:
                    self.fail(
                        f"{block.where}: creating the {alias!r} mailer failed: "
                        f"{type(error).__name__}: {error}"
                    )


def settings_namespace(block: DocBlock) -> dict[str, Any]:
    """The settings a ``# settings.py`` block sets (its capitalized names, imports aside)."""
    namespace: dict[str, Any] = {}
    source = "\n" * (block.first_code_line - 1) + block.code
    exec(compile(source, str(block.path), "exec"), namespace)
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("__") and not isinstance(value, type(os))
    }


def make_test(block: DocBlock) -> Any:
    def test(self: DocsExamplesTests) -> None:
        self.run_doc_block(block)

    test.__name__ = block.test_name
    test.__doc__ = f"docs/{block.relpath}:{block.line} ({block.language})"
    return test


DOC_BLOCKS = [
    block for block in collect_blocks(doc_files()) if block.language in ("python", "json")
]
for _block in DOC_BLOCKS:
    assert not hasattr(DocsExamplesTests, _block.test_name), _block.test_name
    setattr(DocsExamplesTests, _block.test_name, make_test(_block))


class DocsExamplesCollectionTests(SimpleTestCase):
    """The collector above sees every example, and the docs' settings match the code's."""

    def test_docs_have_examples(self) -> None:
        python_blocks = [block for block in DOC_BLOCKS if block.language == "python"]
        self.assertGreater(len(python_blocks), 20, "found (almost) no python examples in docs/")

    def test_python_examples_use_code_block_python(self) -> None:
        # Other spellings would render fine, but this module wouldn't run them
        for path in doc_files():
            text = path.read_text(encoding="utf-8")
            match = OTHER_PYTHON_DIRECTIVE.search(text)
            line = text[: match.start()].count("\n") + 1 if match else 0
            self.assertIsNone(
                match, f"{path}:{line}: use '.. code-block:: python' for Python examples"
            )
            for literal in re.finditer(r"::\n\n((?:[ \t]+.*\n|\n)+)", text):
                self.assertNotRegex(
                    literal[1],
                    r"^\s*(?:from \S+ )?import ",
                    f"{path}: a '::' literal block holds Python: use '.. code-block:: python'",
                )

    def test_settings_reference_matches_code(self) -> None:
        """docs/settings.rst documents every setting Anymail reads, and no others."""
        settings_rst = DOCS_DIR / "settings.rst"
        if not settings_rst.exists():
            self.skipTest("no docs/settings.rst")
        documented = set(
            re.findall(r"^\.\. setting:: (\S+)\s*$", settings_rst.read_text(), re.MULTILINE)
        )
        read_by_code = {
            "<ESP>_SEND_DEFAULTS"
            if name.endswith("_SEND_DEFAULTS") and name != "SEND_DEFAULTS"
            else name
            for name in settings_read_by_code().names
        }
        self.assertEqual(sorted(read_by_code - documented), [], "settings missing from the docs")
        self.assertEqual(sorted(documented - read_by_code), [], "documented, but never read")

    def test_collector_conventions(self) -> None:
        """The conventions in this module's docstring, on a small sample document."""
        sample = textwrap.dedent(
            """\
            Title
            =====

            .. code-block:: python

               print("hello")

            .. docs-test: webhook /anymail/postmark/tracking/
               {"RecordType": "Open"}

            .. code-block:: text
               :caption: Output, after the webhook

               hello

            .. code-block:: python

               # docs-test: skip (needs live ESP)
               send_for_real()

            .. code-block:: python

               # settings.py
               ANYMAIL = {"SEND_DEFAULTS": {}}
            """
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sample.rst"
            path.write_text(sample, encoding="utf-8")
            first, skipped, settings_block = collect_blocks([path])
            orphan = Path(tmp) / "orphan.rst"
            orphan.write_text(
                "Text.\n\n.. code-block:: text\n   :caption: Output\n\n   lost\n", encoding="utf-8"
            )
            with self.assertRaisesMessage(ValueError, "must follow its python block"):
                collect_blocks([orphan])
        self.assertEqual((first.line, first.first_code_line), (4, 6))
        self.assertEqual(first.expected_output, "hello\n")
        self.assertEqual(len(first.webhook_posts), 1)
        self.assertEqual(first.webhook_posts[0].url, "/anymail/postmark/tracking/")
        self.assertEqual(json.loads(first.webhook_posts[0].body), {"RecordType": "Open"})
        self.assertEqual(skipped.first_line, "# docs-test: skip (needs live ESP)")
        self.assertEqual(settings_block.first_line, SETTINGS_MARKER)

    def test_mail_forms_are_captioned_and_paired(self) -> None:
        """MAILERS-only and EMAIL_BACKEND-only code is captioned so, MAILERS first, twinned."""
        problems = []
        for path in doc_files():
            blocks = [b for b in DOC_BLOCKS if b.path == path and b.language == "python"]
            for block in blocks:
                used = block.forms_used()
                if len(used) > 1:
                    problems.append(f"{block.where}: mixes the MAILERS and EMAIL_BACKEND forms")
                elif used and block.form not in used:
                    (form,) = used
                    problems.append(
                        f"{block.where}: uses {form}-form mail APIs, so its caption must name "
                        + ("Django 6.1" if form == MAILERS_FORM else "Django 4.2")
                    )
            run: list[DocBlock] = []
            for block in [*blocks, None]:
                if block is not None and block.form is not None:
                    run.append(block)
                    continue
                if run and run[0].form != MAILERS_FORM:
                    problems.append(f"{run[0].where}: the MAILERS form comes first")
                if run and EMAIL_BACKEND_FORM not in {each.form for each in run}:
                    problems.append(f"{run[0].where}: no EMAIL_BACKEND form follows")
                run = []
        self.assertEqual(problems, [])

    def test_collector_mail_forms(self) -> None:
        """Captions mark the two forms; a twin shares its Output; MAILERS come from settings."""
        sample = textwrap.dedent(
            """\
            .. code-block:: python
               :caption: settings.py, Django 6.1 and later (MAILERS)

               # settings.py
               MAILERS = {"bulk": {"BACKEND": "anymail.backends.test.EmailBackend"}}

            .. code-block:: python
               :caption: Django 6.1 and later (MAILERS)

               print(send_mail("Hi", "Hi", None, ["to@example.com"], using="bulk"))

            .. code-block:: python
               :caption: Django 4.2 to 6.0 (EMAIL_BACKEND)

               print(send_mail("Hi", "Hi", None, ["to@example.com"]))

            .. code-block:: text
               :caption: Output

               1

            .. code-block:: python

               print("either")
            """
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sample.rst"
            path.write_text(sample, encoding="utf-8")
            settings_block, mailers_block, backend_block, plain = collect_blocks([path])
        self.assertEqual(settings_block.form, MAILERS_FORM)
        self.assertTrue(settings_block.is_settings)
        self.assertEqual((mailers_block.form, backend_block.form), (MAILERS_FORM, "EMAIL_BACKEND"))
        self.assertIs(mailers_block.mailers_settings, settings_block)
        self.assertEqual(mailers_block.expected_output, "1\n")
        self.assertEqual(backend_block.expected_output, "1\n")
        self.assertIsNone(plain.form)
        self.assertEqual(mailers_block.forms_used(), {MAILERS_FORM})
        self.assertEqual(plain.forms_used(), set())
        # Comments don't count: only code
        comment_only = DocBlock(path, 1, "python", {}, "# EMAIL_BACKEND or MAILERS\nx = 1\n", 2)
        self.assertEqual(comment_only.forms_used(), set())


def sample_block(code: str, caption: str = "") -> DocBlock:
    """A python block as if from docs/sample.rst (not an ESP page)."""
    options = {"caption": caption} if caption else {}
    return DocBlock(DOCS_DIR / "sample.rst", 1, "python", options, textwrap.dedent(code), 2)


class DocsExamplesHarnessTests(SimpleTestCase):
    """How the harness runs each form, on this Django."""

    def run_block(self, block: DocBlock) -> None:
        DocsExamplesTests(methodName="run_doc_block").run_doc_block(block)

    mailers_settings = """\
        # settings.py
        MAILERS = {
            "default": {
                "BACKEND": "anymail.backends.mailgun.EmailBackend",
                "OPTIONS": {"api_key": "key", "sender_domian": "mg.example.com"},
            },
        }
        """

    @unittest.skipIf(HAS_MAILERS, "runs on Django 6.1")
    def test_mailers_form_skipped_below_61(self) -> None:
        block = sample_block(self.mailers_settings, "Django 6.1 and later")
        with self.assertRaisesRegex(unittest.SkipTest, r"needs Django 6\.1 or later"):
            self.run_block(block)

    @unittest.skipUnless(HAS_MAILERS, "needs Django 6.1")
    def test_mailers_settings_checked_by_creating_mailers(self) -> None:
        block = sample_block(self.mailers_settings, "Django 6.1 and later")
        with self.assertRaisesRegex(AssertionError, "sender_domian"):  # (checks or creation)
            self.run_block(block)
        # Correctly spelled, it passes; without its api_key (only in ANYMAIL elsewhere), not
        fixed = self.mailers_settings.replace("domian", "domain")
        self.run_block(sample_block(fixed, "Django 6.1 and later"))
        no_key = self.mailers_settings.replace('"api_key": "key", ', "")
        with self.assertRaisesRegex(AssertionError, "MAILGUN_API_KEY"):
            self.run_block(sample_block(no_key.replace("domian", "domain"), "Django 6.1 and later"))

    @unittest.skipUnless(HAS_MAILERS, "needs Django 6.1")
    def test_mailers_form_runs_with_its_settings(self) -> None:
        settings_block = sample_block(
            """\
            # settings.py
            MAILERS = {"bulk": {"BACKEND": "anymail.backends.test.EmailBackend"}}
            """,
            "Django 6.1 and later",
        )
        block = sample_block(
            """\
            from django.core import mail
            print(type(mail.mailers["bulk"]).__module__, "bulk" in mail.mailers)
            """,
            "Django 6.1 and later",
        )
        block.mailers_settings = settings_block
        block.expected_output = "anymail.backends.test True\n"
        self.run_block(block)

    @unittest.skipUnless(HAS_MAILERS, "needs Django 6.1")
    def test_deprecated_mail_api_fails_outside_email_backend_form(self) -> None:
        code = """\
            from django.core.mail import get_connection
            get_connection()
            """
        with self.assertRaisesRegex(Warning, "get_connection"):
            self.run_block(sample_block(code))
        # ... but the EMAIL_BACKEND form is deprecated on 6.1 by design
        self.run_block(sample_block(code, "Django 4.2 to 6.0"))

    def test_plain_block_uses_this_djangos_preferred_form(self) -> None:
        block = sample_block(
            """\
            from django.conf import settings
            print(hasattr(settings, "MAILERS"))
            """
        )
        block.expected_output = f"{HAS_MAILERS}\n"
        self.run_block(block)
