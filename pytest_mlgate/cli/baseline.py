"""``mlgate baseline show [PATH]`` and ``mlgate baseline diff OLD NEW``."""

from __future__ import annotations

import argparse
from typing import Any

from pytest_mlgate.baseline import Baseline, BaselineEntry, load_baseline
from pytest_mlgate.defaults import DEFAULT_BASELINE
from pytest_mlgate.errors import BaselineError
from pytest_mlgate.report.tables import change_between, fmt, fmt_interval, render
from pytest_mlgate.stats.known_metrics import is_performance_reading


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "baseline", help="show a baseline file, or compare two baseline files"
    )
    sub = parser.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the metrics stored in a baseline")
    show.add_argument(
        "path", nargs="?", default=DEFAULT_BASELINE, help=f"baseline file (default {DEFAULT_BASELINE})"
    )
    show.add_argument("--markdown", action="store_true", help="print a Markdown table")
    show.set_defaults(func=_show)
    diff = sub.add_parser("diff", help="compare two baseline files metric by metric")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--markdown", action="store_true", help="print a Markdown table")
    diff.set_defaults(func=_diff)


def _load(path: str) -> Baseline:
    b = load_baseline(path)
    if b is None:
        raise BaselineError(
            f"baseline {path} does not exist; write one with "
            "`pytest --mlgate --mlgate-update-baseline`"
        )
    return b


def _commit(b: Baseline) -> str:
    return str(b.git.get("commit") or "-")[:12]


def show_text(b: Baseline, markdown: bool = False) -> str:
    """The baseline as a table: one row per (test, metric)."""
    rows = [
        [
            e.test_key,
            e.metric,
            fmt(e.value),
            fmt_interval(e.low, e.high),
            fmt(e.n),
            e.method or "-",
            (e.fingerprint or "-")[:19],
        ]
        for e in b.entries()
    ]
    head = (
        f"baseline {b.path} (schema {b.schema_version}, pytest-mlgate {b.plugin_version or '?'}, "
        f"commit {_commit(b)}, created {b.created or '?'})"
    )
    table = render(["test", "metric", "value", "interval", "n", "method", "data"], rows, markdown)
    return f"{head}\n\n{table}" if rows else f"{head}\n\n(no metrics)"


def diff_text(old: Baseline, new: Baseline, markdown: bool = False) -> str:
    """Values side by side, the change, and metrics added or removed."""
    a = {(e.test_key, e.metric): e for e in old.entries()}
    b = {(e.test_key, e.metric): e for e in new.entries()}
    rows = []
    for key in sorted(set(a) | set(b)):
        ea, eb = a.get(key), b.get(key)
        rows.append([key[0], key[1], _val(ea), _val(eb), _change(ea, eb), _status(ea, eb)])
    head = (
        f"baseline diff: {old.path} (commit {_commit(old)}) -> {new.path} (commit {_commit(new)})"
    )
    table = render(["test", "metric", "old", "new", "change", "status"], rows, markdown)
    return f"{head}\n\n{table}" if rows else f"{head}\n\n(no metrics)"


def _val(e: BaselineEntry | None) -> str:
    if e is None:
        return "-"
    return fmt(e.value) + (f" {fmt_interval(e.low, e.high)}" if e.low is not None else "")


def _change(a: BaselineEntry | None, b: BaselineEntry | None) -> str:
    if a is None or b is None:
        return "-"
    return change_between(a.value, b.value, performance=is_performance_reading(b.metric, b.method))


def _status(a: BaselineEntry | None, b: BaselineEntry | None) -> str:
    if a is None:
        return "added"
    if b is None:
        return "removed"
    if a.fingerprint and b.fingerprint and a.fingerprint != b.fingerprint:
        return "data changed"
    return "changed" if a.value != b.value else "same"


def _show(args: argparse.Namespace) -> int:
    print(show_text(_load(args.path), args.markdown))
    return 0


def _diff(args: argparse.Namespace) -> int:
    print(diff_text(_load(args.old), _load(args.new), args.markdown))
    return 0
