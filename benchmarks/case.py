"""Runs one benchmark case in this (fresh) process, and prints its result as a JSON line.

    python -m benchmarks.case '{"workload": "send", "esp": "mailgun", "n": 100, ...}'

The parent (:mod:`benchmarks.__main__`) starts one of these per case, so that no case's
memory (or warmed-up cache) shows in another's numbers.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from .common import emit


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """The case's measurements, from the workload module that runs it."""
    workload = spec["workload"]
    if workload == "send":
        from . import send

        return send.run_case(spec["esp"], spec["n"], spec["repeats"], spec["server_url"])
    if workload == "webhooks":
        from . import webhooks

        return webhooks.run_case(spec["esp"], spec["n"], spec["repeats"])
    if workload == "inbound":
        from . import inbound

        return inbound.run_case(spec["esp"], spec["n"])
    raise ValueError(f"Unknown workload {workload!r}")


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    try:
        result = run(spec)
    except Exception as err:  # reported as this case's error; the other cases go on
        traceback.print_exc()
        emit({"error": f"{type(err).__name__}: {err}"[:500]})
        return 1
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
