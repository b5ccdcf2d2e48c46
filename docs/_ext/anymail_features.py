"""The ``.. anymail-feature-matrix::`` directive: the ESP feature table, generated from code.

Each ESP backend module (``anymail.backends.<esp>``) defines its payload as a
``BasePayload`` subclass, and ``PayloadClass.supported_features()`` says which optional
features it implements: yes/no in this table always comes from there. The webhook rows come
from the url names in ``anymail.urls``. ``ANNOTATIONS`` below only adds a short note to a
"Yes" (e.g., "max 1" for ESPs that take a single tag); it can never turn a "No" into a "Yes".

A backend module that doesn't exist yet (or can't be imported) is left out of the table, and
named under it, without failing the build.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: The ESPs Anymail supports, in table order (any other backend module found is added after)
KNOWN_ESPS = [
    "amazon_ses",
    "mailgun",
    "mailjet",
    "mandrill",
    "postmark",
    "sendgrid",
    "sendinblue",
    "sparkpost",
]

#: anymail.backends modules that aren't ESPs
NOT_ESPS = {"base", "base_requests", "test", "console"}

#: Row labels, in table order: OPTIONAL_FEATURES names -> how the docs refer to them
FEATURE_LABELS = {
    "envelope_sender": ":attr:`~anymail.message.AnymailMessage.envelope_sender`",
    "metadata": ":attr:`~anymail.message.AnymailMessage.metadata`",
    "merge_metadata": ":attr:`~anymail.message.AnymailMessage.merge_metadata`",
    "send_at": ":attr:`~anymail.message.AnymailMessage.send_at`",
    "tags": ":attr:`~anymail.message.AnymailMessage.tags`",
    "track_clicks": ":attr:`~anymail.message.AnymailMessage.track_clicks`",
    "track_opens": ":attr:`~anymail.message.AnymailMessage.track_opens`",
    "template_id": ":attr:`~anymail.message.AnymailMessage.template_id`",
    "merge_data": ":attr:`~anymail.message.AnymailMessage.merge_data`",
    "merge_global_data": ":attr:`~anymail.message.AnymailMessage.merge_global_data`",
    "esp_extra": ":attr:`~anymail.message.AnymailMessage.esp_extra`",
    "reply_to": "``reply_to`` (Django)",
    "extra_headers": "``extra_headers`` (Django)",
    "attachments": "``attachments`` (Django)",
    "alternatives": "other alternative parts (besides HTML)",
    "multiple_from_emails": "several addresses in ``from_email``",
    "spoofed_to_header": "a ``To`` header that differs from ``to``",
}

#: Row groups: (title, features)
FEATURE_GROUPS = [
    (
        "Anymail send options",
        ["envelope_sender", "metadata", "merge_metadata", "send_at", "tags"]
        + ["track_clicks", "track_opens", "esp_extra"],
    ),
    ("Templates and batch sending", ["template_id", "merge_data", "merge_global_data"]),
    (
        "Django email features",
        ["reply_to", "extra_headers", "attachments", "alternatives"]
        + ["multiple_from_emails", "spoofed_to_header"],
    ),
]

#: Short notes added to a "Yes" cell: ESP module -> feature -> note
ANNOTATIONS: dict[str, dict[str, str]] = {
    "amazon_ses": {
        "tags": "as headers",
        "merge_data": "templates",
        "merge_global_data": "templates",
    },
    "mailgun": {"envelope_sender": "domain only", "merge_global_data": "emulated"},
    "mailjet": {"tags": "max 1", "envelope_sender": "needs approval"},
    "mandrill": {"envelope_sender": "domain only", "attachments": "inline: images"},
    "postmark": {"tags": "max 1", "merge_data": "templates", "merge_global_data": "templates"},
    "sendgrid": {"reply_to": "max 1"},
    "sendinblue": {
        "tags": "max 1",
        "reply_to": "max 1",
        "attachments": "not inline",
        "merge_global_data": "templates",
    },
    "sparkpost": {"tags": "max 1"},
}


@dataclass
class EspColumn:
    module_name: str  # "mailgun"
    esp_name: str  # "Mailgun"
    features: dict[str, bool]
    webhooks: set[str] = field(default_factory=set)  # {"tracking", "inbound"}


def payload_class(module: Any) -> type | None:
    """The BasePayload subclass defined in (not just imported into) a backend module."""
    from anymail.backends.base import BasePayload

    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, BasePayload)
            and value is not BasePayload
            and value.__module__ == module.__name__
        ):
            return value
    return None


def esp_module_names() -> list[str]:
    import anymail.backends

    found = {
        info.name
        for info in pkgutil.iter_modules(anymail.backends.__path__)
        if info.name not in NOT_ESPS and not info.name.startswith("_")
    }
    return KNOWN_ESPS + sorted(found - set(KNOWN_ESPS))


def webhook_kinds() -> dict[str, set[str]]:
    """ESP module name -> {"tracking", "inbound"}, from anymail.urls' url names."""
    from anymail.urls import urlpatterns

    kinds: dict[str, set[str]] = {}
    for pattern in urlpatterns:
        name = pattern.name or ""
        for kind in ("tracking", "inbound"):
            if name.endswith(f"_{kind}_webhook") or name.endswith(f"_{kind}_webhook_mime"):
                kinds.setdefault(name.split(f"_{kind}_webhook")[0], set()).add(kind)
        if name == "mandrill_webhook":  # one url for both kinds
            kinds.setdefault("mandrill", set()).update({"tracking", "inbound"})
    return kinds


def collect_columns() -> tuple[list[EspColumn], list[str]]:
    """(columns for importable ESP backends, names of ESP modules left out)."""
    columns, missing = [], []
    webhooks = webhook_kinds()
    for module_name in esp_module_names():
        dotted = f"anymail.backends.{module_name}"
        try:
            if importlib.util.find_spec(dotted) is None:
                raise ImportError(f"No module named {dotted!r}")
            module = importlib.import_module(dotted)
        except ImportError as err:
            logger.info("anymail-feature-matrix: leaving out %s (%s)", dotted, err)
            missing.append(module_name)
            continue
        payload = payload_class(module)
        if payload is None:
            logger.info("anymail-feature-matrix: no BasePayload subclass in %s", dotted)
            missing.append(module_name)
            continue
        backend = getattr(module, "EmailBackend", None)
        esp_name = getattr(backend, "esp_name", module_name)
        columns.append(
            EspColumn(
                module_name=module_name,
                esp_name=esp_name,
                features=payload.supported_features(),
                webhooks=webhooks.get(module_name, set()),
            )
        )
    return columns, missing


def cell(supported: bool, note: str | None = None) -> str:
    if not supported:
        return "No"
    return f"**Yes** ({note})" if note else "**Yes**"


class FeatureMatrixDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        columns, missing = collect_columns()
        self.env.note_dependency(__file__)  # rebuild when this extension changes, too
        for module_name in [column.module_name for column in columns]:
            spec = importlib.util.find_spec(f"anymail.backends.{module_name}")
            if spec is not None and spec.origin:
                self.env.note_dependency(spec.origin)  # rebuild when the code changes

        def header(column: EspColumn) -> str:
            docname = f"esps/{column.module_name}"
            if docname in self.env.found_docs:
                return f":doc:`{column.esp_name} </{docname}>`"
            return column.esp_name

        width = len(columns) + 1
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :stub-columns: 1",
            "   :class: anymail-feature-matrix",
            "",
            "   * - Feature",
        ]
        lines += [f"     - {header(column)}" for column in columns]

        def group_row(title: str) -> None:
            lines.append(f"   * - *{title}*")
            lines.extend(["     -"] * (width - 1))

        for title, features in FEATURE_GROUPS:
            group_row(title)
            for feature in features:
                lines.append(f"   * - {FEATURE_LABELS[feature]}")
                for column in columns:
                    note = ANNOTATIONS.get(column.module_name, {}).get(feature)
                    lines.append(f"     - {cell(column.features.get(feature, False), note)}")

        group_row("Webhooks")
        for kind, label in (
            ("tracking", ":doc:`Tracking events </tracking>`"),
            ("inbound", ":doc:`Inbound mail </inbound>`"),
        ):
            lines.append(f"   * - {label}")
            lines += [f"     - {cell(kind in column.webhooks)}" for column in columns]

        if missing:
            lines += [
                "",
                "Not shown (no importable backend module yet): "
                + ", ".join(f"``anymail.backends.{name}``" for name in missing)
                + ".",
            ]

        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="<anymail-feature-matrix>"), 0, container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("anymail-feature-matrix", FeatureMatrixDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
