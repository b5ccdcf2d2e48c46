"""python -m benchmarks: run every case, each in a fresh process, and print the result tables.

    python -m benchmarks                       # everything (several minutes)
    python -m benchmarks --quick               # smaller N, one run each: a smoke test
    python -m benchmarks --only send,webhooks --esps mailgun,postmark
    python -m benchmarks --rst                 # tables as RST, for docs/performance.rst
    python -m benchmarks --json results.json   # every number, for comparing runs

Run it from the repository root (it measures the checkout's ``anymail``), in a venv with
Anymail's ``all`` extra installed. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import inbound, send, webhooks
from .common import RESULT_TAG
from .fake_esp import FakeESPProcess
from .report import Row, Table, growth_exponent

REPO_ROOT = Path(__file__).resolve().parent.parent
CASE_TIMEOUT = 900  # seconds, for any one case

#: N for each workload: full run, and --quick
SIZES = {
    "send": ([10, 100, 1_000, 10_000], [10, 100, 1_000]),
    "webhooks": ([1, 10, 100, 1_000, 10_000], [1, 10, 100]),
    "inbound": ([1, 5, 20, 40], [1, 5]),
}
WORKLOAD_ESPS = {
    "send": list(send.ESPS),
    "webhooks": list(webhooks.ESPS),
    "inbound": ["sendgrid", "postmark"],
}

#: The metric tables of each workload: (result key, title, scale to the unit shown,
#: whether the table shows growth exponents)
METRICS: dict[str, list[tuple[str, str, float, bool]]] = {
    "send": [
        ("cpu_s", "Send: CPU per batch send, ms", 1e3, True),
        ("peak_bytes", "Send: peak Python memory, KiB", 1 / 1024, True),
        ("request_bytes", "Send: request size, KiB", 1 / 1024, True),
    ],
    "webhooks": [
        ("cpu_s", "Webhooks: CPU for all N events, ms", 1e3, True),
        ("cpu_per_event_s", "Webhooks: CPU per event, µs", 1e6, False),
        ("peak_bytes", "Webhooks: peak Python memory, KiB", 1 / 1024, True),
    ],
    "inbound": [
        ("peak_rss_bytes", "Inbound: peak RSS added, MiB", 1 / 2**20, True),
        ("cpu_s", "Inbound: CPU, ms", 1e3, True),
    ],
}
N_LABELS = {"send": "recipients", "webhooks": "events", "inbound": "attachment MB"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="How the cost of Anymail's code grows with the work: batch sends, "
        "webhook batches and inbound attachments, each case in a fresh process.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller N and one run each (a smoke run)"
    )
    parser.add_argument(
        "--only",
        default="send,webhooks,inbound",
        help="comma-separated workloads to run (default: send,webhooks,inbound)",
    )
    parser.add_argument(
        "--esps", default="", help="comma-separated ESPs to run (default: each workload's all)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per case; the least CPU is reported (default 3; 1 with --quick)",
    )
    parser.add_argument("--rst", action="store_true", help="print the tables as RST")
    parser.add_argument("--json", metavar="FILE", help="also write every result to FILE")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.only.split(",") if w]
    unknown = set(args.workloads) - set(SIZES)
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(sorted(unknown))}; choose from {list(SIZES)}")
    args.esp_filter = [e for e in args.esps.split(",") if e]
    every_esp = {esp for esps in WORKLOAD_ESPS.values() for esp in esps}
    if set(args.esp_filter) - every_esp:
        parser.error(f"unknown ESP(s); choose from {sorted(every_esp)}")
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_case(spec: dict[str, Any], env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one case in a fresh `python -m benchmarks.case` process; its result (or error)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env_extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "benchmarks.case", json.dumps(spec)]
    try:
        done = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CASE_TIMEOUT} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result: dict[str, Any] = json.loads(line[len(RESULT_TAG) :])
            return result
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return {"error": f"exit status {done.returncode}: {tail}"[:500]}


def run_workload(
    workload: str, ns: list[int], esps: list[str], args: argparse.Namespace
) -> dict[str, dict[int, dict[str, Any]]]:
    """{esp: {n: result}} for every case of one workload."""
    results: dict[str, dict[int, dict[str, Any]]] = {}

    def each_case(run: Callable[[str, int], dict[str, Any]]) -> None:
        for esp in esps:
            for n in ns:
                started = time.monotonic()
                result = run(esp, n)
                results.setdefault(esp, {})[n] = result
                outcome = result.get("error") or f"CPU {result['cpu_s'] * 1e3:,.1f} ms"
                log(f"  {workload} {esp} N={n:,}: {outcome} ({time.monotonic() - started:.1f} s)")

    if workload == "send":
        with FakeESPProcess() as fake_esp:
            each_case(
                lambda esp, n: run_case(
                    {
                        "workload": "send",
                        "esp": esp,
                        "n": n,
                        "repeats": args.repeats,
                        "server_url": fake_esp.url,
                    }
                )
            )
    elif workload == "webhooks":
        each_case(
            lambda esp, n: run_case(
                {"workload": "webhooks", "esp": esp, "n": n, "repeats": args.repeats}
            )
        )
    else:
        each_case(lambda esp, n: inbound_case(esp, n, args.repeats))
    return results


def inbound_case(esp: str, megabytes: int, repeats: int) -> dict[str, Any]:
    """An inbound case run repeats times, each in a fresh process: the least CPU, the median
    peak RSS."""
    spec = {"workload": "inbound", "esp": esp, "n": megabytes}
    runs = [run_case(spec, inbound.ENVIRONMENT) for _ in range(max(repeats, 1))]
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]
    return {
        "cpu_s": min(run["cpu_s"] for run in runs),
        "peak_rss_bytes": statistics.median(run["peak_rss_bytes"] for run in runs),
        "body_bytes": runs[0]["body_bytes"],
        "rss_method": runs[0]["rss_method"],
        "runs": runs,
    }


def tables(
    workload: str, ns: list[int], results: dict[str, dict[int, dict[str, Any]]]
) -> list[Table]:
    """The metric tables of one workload's results."""
    out = []
    for key, title, scale, growth in METRICS[workload]:
        rows = []
        for esp, by_n in results.items():
            label = esp
            if workload == "webhooks":
                batched = webhooks.ESPS[esp][2]
                label = f"{esp} (1 post)" if batched else f"{esp} (N posts)"
            values = {n: (by_n[n][key] * scale if key in by_n.get(n, {}) else None) for n in ns}
            rows.append(Row(label, values))
        out.append(Table(title, N_LABELS[workload], ns, rows, growth))
    return out


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import version

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "commit": checkout_commit(),
    }
    for package in ("django", "django-anymail", "requests", "boto3", "sparkpost"):
        try:
            info[package] = version(package)
        except Exception:
            info[package] = None
    return info


def checkout_commit() -> str | None:
    """The checkout's commit ("+" if it has uncommitted changes), or None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+" if changes else "")


def load_average() -> float | None:
    """The system's 1-minute load average (None where there's none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    loads = [load_average()]
    all_results: dict[str, Any] = {}
    all_tables: list[Table] = []
    for workload in args.workloads:
        full, quick = SIZES[workload]
        ns = quick if args.quick else full
        esps = [e for e in WORKLOAD_ESPS[workload] if not args.esp_filter or e in args.esp_filter]
        if not esps:
            continue
        log(f"{workload}: {len(esps)} ESPs x N = {', '.join(f'{n:,}' for n in ns)}")
        results = run_workload(workload, ns, esps, args)
        all_results[workload] = {
            esp: {str(n): r for n, r in by_n.items()} for esp, by_n in results.items()
        }
        all_tables += tables(workload, ns, results)

    loads.append(load_average())
    info = machine()
    info["load_average"] = loads
    summary = (
        f"{info['cores']} cores, Python {info['python']}, Django {info['django']}, "
        f"anymail {info['django-anymail']} (commit {info['commit'] or 'unknown'}); "
        f"{args.repeats} timed run(s) per case, least CPU{' (--quick)' if args.quick else ''}; "
        f"took {time.monotonic() - started:.0f} s; system load average "
        + " then ".join("n/a" if load is None else f"{load:.1f}" for load in loads)
    )
    if args.rst:
        print(f"Measured {info['date']}: {summary}.\n")
        print("\n".join(table.rst() for table in all_tables))
    else:
        print(summary + "\n")
        print("\n".join(table.text() for table in all_tables))
    if args.json:
        exponents = {
            table.title: {
                row.label: growth_exponent((n, row.values.get(n)) for n in table.ns)
                for row in table.rows
            }
            for table in all_tables
            if table.growth
        }
        with open(args.json, "w") as out:
            json.dump(
                {
                    "machine": info,
                    "options": {"quick": args.quick, "repeats": args.repeats},
                    "results": all_results,
                    "exponents": exponents,
                },
                out,
                indent=1,
            )
    errors = sum(
        "error" in result
        for by_esp in all_results.values()
        for by_n in by_esp.values()
        for result in by_n.values()
    )
    if errors:
        log(f"{errors} case(s) failed: see n/a in the tables, and the progress lines above")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
