"""Growth exponents, and the result tables (plain text for a terminal, or RST for the docs).

A curve's growth exponent is the slope of log(cost) against log(N): 1 is linear (twice the
work costs twice as much), 0 is a constant, 2 quadratic. Small N are dominated by fixed
overhead (a request, a view call), which flattens the slope, so it is fitted over the upper
half of the curve only: the largest ceil(k/2) of its k points, and at least two.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: A curve steeper than this is flagged (some slack over 1 for timing noise)
WORSE_THAN_LINEAR = 1.15
FLAG = "worse than linear"


def growth_exponent(points: Iterable[tuple[float, float | None]]) -> float | None:
    """Least-squares slope of log(cost) on log(N) over the upper half of (N, cost) points.

    Points without a positive cost are left out; None if fewer than two remain.
    """
    usable = sorted((n, cost) for n, cost in points if n > 0 and cost is not None and cost > 0)
    if len(usable) < 2:
        return None
    upper = usable[-max(2, math.ceil(len(usable) / 2)) :]
    xs = [math.log(n) for n, _ in upper]
    ys = [math.log(cost) for _, cost in upper]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def flag(exponent: float | None) -> str:
    return FLAG if exponent is not None and exponent > WORSE_THAN_LINEAR else ""


@dataclass
class Row:
    """One case's curve: its label, a value per N (None: failed or not run)."""

    label: str
    values: dict[int, float | None]


@dataclass
class Table:
    """One metric of one workload: a row per case, a column per N."""

    title: str
    n_label: str  # what N counts, for the column headings ("recipients", "MB"...)
    ns: Sequence[int]
    rows: list[Row]
    growth: bool = True  # whether to show each row's growth exponent and flag

    def cells(self) -> tuple[list[str], list[list[str]]]:
        """The header and body cells, as text."""
        header = ["case", *(f"{n:,}" for n in self.ns)]
        if self.growth:
            header += ["exponent", "flag"]
        body = []
        for row in self.rows:
            cells = [row.label, *(number(row.values.get(n)) for n in self.ns)]
            if self.growth:
                exponent = growth_exponent((n, row.values.get(n)) for n in self.ns)
                cells += ["n/a" if exponent is None else f"{exponent:.2f}", flag(exponent)]
            body.append(cells)
        return header, body

    def text(self) -> str:
        """The table for a terminal."""
        header, body = self.cells()
        widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
            return "  ".join([first, *rest]).rstrip()

        rule = "-" * len(line(header))
        heading = f"{self.title}  [N = {self.n_label}]"
        return "\n".join([heading, rule, line(header), rule, *map(line, body), ""])

    def rst(self) -> str:
        """The table as an RST simple table, in a ``table`` directive with the title."""
        header, body = self.cells()  # (only the first column may not have empty cells)
        widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
        rule = "   " + "  ".join("=" * width for width in widths)

        def line(cells: list[str]) -> str:
            return (
                "   " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            )

        return "\n".join(
            [
                f".. table:: {self.title} (N = {self.n_label})",
                "",
                rule,
                line(header),
                rule,
                *map(line, body),
                rule,
                "",
            ]
        )


def number(value: float | None) -> str:
    """A value with about three significant digits ("n/a" for a missing one)."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
