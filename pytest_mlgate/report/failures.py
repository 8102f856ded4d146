"""Why a run failed, in words: one row per failed metric, failed test or run-level problem.

Read from the JSON report's content only, so the Markdown summary and the HTML page (and a
report rendered later from a saved file) give the same reasons.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from pytest_mlgate.markers import OPS
from pytest_mlgate.report.tables import fmt, fmt_interval

_LOWER_OPS = ("<=", "<")
_GATE_COUNT = re.compile(r"^gate (\w+): \d+ failed, \d+ errored$")


class Failure(NamedTuple):
    """One reason the run failed. ``test`` is a node id, or "" for the run as a whole."""

    test: str
    gate: str | None
    metric: str | None
    value: str  # the reading as shown: "0.912 [0.88, 0.94]", or "-"
    reason: str


def _num(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def is_budget(m: Mapping[str, Any]) -> bool:
    """A performance reading (latency, memory, size...): its threshold is a budget."""
    name = str(m.get("name", ""))
    return m.get("method") in ("benchmark", "size") or name.endswith(("_ms", "_mb", "_rps"))


def value_text(m: Mapping[str, Any]) -> str:
    value = m.get("value")
    text = value if isinstance(value, str) else fmt(_num(value), against=_num((m.get("threshold") or {}).get("value")))
    if m.get("low") is not None and m.get("high") is not None:
        text += " " + fmt_interval(_num(m["low"]), _num(m["high"]))
    return str(text)


def threshold_reason(m: Mapping[str, Any]) -> str:
    """Why the metric failed its threshold, or "" when it did not."""
    if m.get("threshold_verdict") != "fail":
        return ""
    th = m.get("threshold") or {}
    op, limit = str(th.get("op", "")), _num(th.get("value"))
    value = _num(m.get("value"))
    lower = op in _LOWER_OPS
    if m.get("threshold_p") is not None:  # a slice, judged by a test (Holm across slices)
        side = "above" if lower else "below"
        return (f"slice significantly {side} the threshold {th.get('text', '')} "
                f"(Holm p = {fmt(_num(m['threshold_p']))})")
    holds = OPS.get(op)  # a saved report may hold anything
    met = value is not None and limit is not None and holds is not None and holds(value, limit)
    if met:  # mlgate_threshold_policy = confident: the interval must clear it too
        return (f"the interval {fmt_interval(_num(m.get('low')), _num(m.get('high')))} does not clear "
                f"the threshold {th.get('text', '')} (threshold policy: confident)")
    if lower and is_budget(m):
        return f"budget blown: {fmt(value, against=limit)} over the budget {th.get('text', '')}"
    word = "above" if lower else "below"
    return f"{word} the threshold: {fmt(value, against=limit)}, needs {th.get('text', '')}"


def comparison_reason(m: Mapping[str, Any], inconclusive_fails: bool = False) -> str:
    """Why the comparison with the baseline or champion failed the metric, or ""."""
    c = m.get("comparison") or {}
    verdict = c.get("verdict")
    if verdict not in ("fail", "inconclusive") or (verdict == "inconclusive" and not inconclusive_fails):
        return ""
    ref = "champion" if c.get("reference") == "champion" else "baseline"
    if c.get("ratio") is not None:
        change = f"x{fmt(_num(c['ratio']))}"
    else:
        change = f"{_num(c.get('change')) or 0.0:+.4g}"
    head = ("significant regression against the " if verdict == "fail"
            else "inconclusive against the ") + ref
    detail = f"{change} ({fmt(_num(c.get('reference_value')))} -> {fmt(_num(m.get('value')))})"
    if c.get("p_value") is not None:
        detail += f", p = {fmt(_num(c['p_value']))}"
    margin = _num(c.get("margin"))
    if margin:
        detail += f", margin {fmt(margin)}"
    return f"{head}: {detail}"


def drift_reason(test: Mapping[str, Any]) -> str:
    """"drift in columns A and B (2 of 5)" from the test's drift series, or ""."""
    for s in series_items(test, "drift"):
        cols = [c["name"] for c in s.get("columns", []) if c.get("drifted")]
        if cols:
            return f"drift in {_and(cols)} ({len(cols)} of {len(s.get('columns', []))} columns)"
    message = str(test.get("message", ""))
    if message.startswith("data drift in "):
        return message.split(" (drift =", 1)[0]
    return ""


def _and(names: Sequence[str]) -> str:
    quoted = [str(n) for n in names]
    word = "column" if len(quoted) == 1 else "columns"
    if len(quoted) > 4:
        quoted = [*quoted[:4], f"{len(names) - 4} more"]
    text = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"{word} {text}"


def series_items(test: Mapping[str, Any], kind: str) -> Iterator[Mapping[str, Any]]:
    """The test's plot series of ``kind`` (see report/series.py), if it has any."""
    series = test.get("series")
    if not isinstance(series, Mapping) or series.get("version") != 1:
        return
    for item in series.get("items") or []:
        if isinstance(item, Mapping) and item.get("kind") == kind:
            yield item


def failures(report: Mapping[str, Any]) -> list[Failure]:
    """Every reason the run failed, failed tests first, in the report's test order."""
    inconclusive_fails = (report.get("run", {}).get("settings") or {}).get("inconclusive") == "fail"
    out: list[Failure] = []
    for t in report.get("tests", []):
        if t.get("outcome") not in ("failed", "error"):
            continue
        found = False
        for m in t.get("metrics", []):
            if m.get("verdict") != "fail":
                continue
            reasons = [r for r in (threshold_reason(m), comparison_reason(m, inconclusive_fails)) if r]
            out.append(Failure(t["nodeid"], t.get("gate"), m["name"], value_text(m),
                               "; ".join(reasons) or "failed"))
            found = True
        if not found:
            reason = drift_reason(t) or str(t.get("message") or "").strip()
            if t["outcome"] == "error":
                reason = "error in setup or teardown: " + (reason or "see the test log")
            out.append(Failure(t["nodeid"], t.get("gate"), None, "-", reason or "the test failed"))
    for line in report.get("failures", []):
        if not _GATE_COUNT.match(str(line)):  # "gate X: 1 failed, 0 errored" is the rows above
            out.append(Failure("", None, None, "-", str(line)))
    return out
