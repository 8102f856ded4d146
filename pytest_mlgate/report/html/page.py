"""The HTML page: a view of the JSON report, plots inlined, rendered by a jinja2 template."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from pytest_mlgate.report.failures import (
    Failure,
    comparison_reason,
    failures,
    threshold_reason,
    value_text,
)
from pytest_mlgate.report.html import charts
from pytest_mlgate.report.html.document import check_report
from pytest_mlgate.report.render import _verdict_word
from pytest_mlgate.report.tables import fmt, fmt_interval

GATE_ORDER = ("unit", "integration", "performance", "validation")
_OUTCOME_ORDER = {"failed": 0, "error": 1, "xpassed": 2, "passed": 3, "xfailed": 4, "skipped": 5, "not_run": 6}


def word(verdict: Any) -> str:
    """PASS, FAIL, NOT RUN, ... as the terminal and Markdown tables say them."""
    return _verdict_word(None if verdict is None else str(verdict))


def _anchor(nodeid: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", nodeid).strip("-")[:120]


def _n(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _plot(kind: str, title: str, draw: Callable[[], str]) -> dict[str, Any]:
    """A plot for the page; a plot that cannot be drawn says why in its place."""
    try:
        return {"kind": kind, "title": title, "svg": draw()}
    except Exception as exc:  # a damaged or unexpected series must not cost the whole page
        return {"kind": kind, "title": title, "error": f"could not draw this plot ({type(exc).__name__}: {str(exc)[:200]})"}


def _is_slice(m: Mapping[str, Any]) -> bool:
    info = m.get("info") or {}
    return "slice" in info and "parent" in info


def _decides(m: Mapping[str, Any]) -> bool:
    """In the forest plot: a number with an interval, a threshold or a verdict (a benchmark's
    readings without a budget or a verdict stay in the table)."""
    if isinstance(m.get("value"), str) or _n(m.get("value")) is None:
        return False
    if m.get("method") == "benchmark" and not m.get("threshold") and m.get("verdict") in (None, "none", "pass"):
        return False
    return bool(m.get("threshold") or m.get("comparison") or m.get("low") is not None)


def _metric_row(m: Mapping[str, Any], inconclusive_fails: bool) -> dict[str, Any]:
    c = m.get("comparison") or {}
    change = "-"
    if c.get("ratio") is not None:
        change = f"x{fmt(_n(c['ratio']))}"
    elif c.get("change") is not None:
        delta = _n(c["change"]) or 0.0
        ref = abs(_n(c.get("reference_value")) or 0.0)
        change = f"{0.0 if abs(delta) <= 1e-12 * max(ref, 1.0) else delta:+.4g}"  # float noise is no change
        if c.get("change_low") is not None and c.get("change_high") is not None:
            change += " " + fmt_interval(_n(c["change_low"]), _n(c["change_high"]))
    th = m.get("threshold") or {}
    value = m.get("value")
    return {
        "name": m.get("name"), "value": value if isinstance(value, str) else fmt(_n(value), against=_n(th.get("value"))),
        "interval": fmt_interval(_n(m.get("low")), _n(m.get("high"))),
        "threshold": th.get("text", "-") + (f" (Holm p {fmt(_n(m['threshold_p']))})" if m.get("threshold_p") is not None else ""),
        "baseline": (fmt(_n(c.get("reference_value"))) + (" (champion)" if c.get("reference") == "champion" else "")) if c else "-",
        "change": change, "verdict": word(m.get("verdict")), "verdict_class": str(m.get("verdict") or "none"),
        "reason": "; ".join(r for r in (threshold_reason(m), comparison_reason(m, inconclusive_fails)) if r),
        "unit": charts._unit(m),
        "folded": m.get("method") == "benchmark" and not th and m.get("verdict") in (None, "none"),
    }


def _series_items(test: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], str]:
    series = test.get("series")
    if series is None:
        return [], ""
    if not isinstance(series, Mapping) or series.get("version") != 1:
        version = series.get("version") if isinstance(series, Mapping) else None
        return [], f"plot data of series version {version!r} is not one this pytest-mlgate draws"
    return [i for i in series.get("items") or [] if isinstance(i, Mapping)], ""


def _test_view(t: Mapping[str, Any], inconclusive_fails: bool) -> dict[str, Any]:
    metrics = [m for m in t.get("metrics") or [] if isinstance(m, Mapping) and "name" in m]
    by_name = {str(m["name"]): m for m in metrics}
    plots: list[dict[str, Any]] = []
    main = [m for m in metrics if not _is_slice(m) and _decides(m)]
    if main:
        plots.append(_plot("forest", "Metrics against threshold and baseline", lambda: charts.forest(main))
                     | {"key": charts.FOREST_KEY})
    parents: dict[str, list[Mapping[str, Any]]] = {}
    for m in metrics:
        if _is_slice(m):
            parents.setdefault(str(m["info"]["parent"]), []).append(m)
    for parent, rows in parents.items():
        threshold = (by_name.get(parent) or {}).get("threshold") or rows[0].get("threshold")
        plots.append(_plot("slices", f"{parent} per slice",
                           lambda p=parent, r=rows, th=threshold: charts.slices(p, r, th)))  # type: ignore[misc]
    items, note = _series_items(t)
    for item in items:
        kind = item.get("kind")
        if kind == "classification":
            plots.append(_plot("classification", f"Classifier: {item.get('name', '')} on {item.get('n', 0):,} rows",
                               lambda i=item: charts.classification(i, by_name.get("ece"))))  # type: ignore[misc]
        elif kind == "regression":
            plots.append(_plot("regression", f"Regressor: {item.get('name', '')} on {item.get('n', 0):,} rows",
                               lambda i=item: charts.regression(i)))  # type: ignore[misc]
        elif kind == "latency":
            plots.append(_plot("latency", "Latency", lambda i=item: charts.latency(i, by_name)))  # type: ignore[misc]
        elif kind == "drift":
            plots.append(_plot("drift-effects", "Drift: effect size per column",
                               lambda i=item: charts.drift_effects(i)))  # type: ignore[misc]
            if any(c.get("histogram") for c in item.get("columns") or []):
                plots.append(_plot("drift-histograms", "Drift: reference against current",
                                   lambda i=item: charts.drift_histograms(i)))  # type: ignore[misc]
        elif kind == "error":
            plots.append({"kind": "error", "title": "Plot data", "error": f"the run could not keep plot data: {item.get('message')}"})
    rows = [_metric_row(m, inconclusive_fails) for m in metrics]
    comparisons = [{**r, "reference": "champion" if (m.get("comparison") or {}).get("reference") == "champion" else "baseline",
                        "p": fmt(_n((m.get("comparison") or {}).get("p_value"))),
                        "why": (m.get("comparison") or {}).get("reason", ""),
                        # The comparison's own verdict: the metric's combined one (its threshold
                        # included) showed FAIL beside "change +0, p 1" (new-user trial).
                        "verdict": word((m.get("comparison") or {}).get("verdict")),
                        "verdict_class": str((m.get("comparison") or {}).get("verdict") or "none")}
                   for r, m in zip(rows, metrics, strict=True) if m.get("comparison")]
    outcome = str(t.get("outcome", "not_run"))
    return {
        "nodeid": str(t.get("nodeid", "?")), "anchor": _anchor(str(t.get("nodeid", "?"))),
        "outcome": outcome, "failed": outcome in ("failed", "error"), "message": str(t.get("message") or ""),
        "duration": _n(t.get("duration_s")), "rows": [r for r in rows if not r["folded"]],
        "folded": [r for r in rows if r["folded"]], "plots": plots, "comparisons": comparisons,
        "note": note, "reruns": t.get("reruns") or 0,
    }


def view(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed from the report."""
    run = report.get("run") or {}
    settings = run.get("settings") or {}
    inconclusive_fails = settings.get("inconclusive") == "fail"
    gates = report.get("gates") or {}
    failed: list[Failure] = failures(report)
    tests = [t for t in report.get("tests") or [] if isinstance(t, Mapping)]
    sections = []
    named = [g for g in GATE_ORDER if g in gates] + [g for g in gates if g not in GATE_ORDER]
    named += [g for g in dict.fromkeys(str(t["gate"]) for t in tests if t.get("gate")) if g not in named]
    for gate in [*named, None]:
        members = [t for t in tests if t.get("gate") == gate]
        if not members and gate is None:
            continue
        members.sort(key=lambda t: (_OUTCOME_ORDER.get(str(t.get("outcome")), 9), str(t.get("nodeid"))))
        g = gates.get(gate, {}) if gate else {}
        sections.append({"gate": gate or "not gated", "id": f"gate-{gate or 'other'}",
                         "verdict": str(g.get("verdict", "none")), "verdict_word": word(g.get("verdict")),
                         "reason": g.get("reason", ""), "required": g.get("required", False),
                         "tests": [_test_view(t, inconclusive_fails) for t in members]})
    git = run.get("git") or {}
    n_plots = sum(1 for s in sections for t in s["tests"] for p in t["plots"] if "svg" in p)
    return {
        "verdict": str(report.get("verdict", "fail")), "complete": bool(run.get("complete")),
        "incomplete_reasons": run.get("incomplete_reasons") or [], "seed": run.get("seed"),
        "commit": git.get("commit"), "branch": git.get("branch"), "dirty": git.get("dirty"),
        "started": run.get("started"), "duration": _n(run.get("duration_s")),
        "workers": run.get("xdist_workers"), "plugin_version": report.get("plugin_version", "?"),
        "gates": [{"name": name, "required": g.get("required", False), "passed": g.get("passed", 0),
                   "failed": g.get("failed", 0), "errored": g.get("errored", 0),
                   "skipped": g.get("skipped", 0), "verdict": str(g.get("verdict", "none")),
                   "verdict_word": word(g.get("verdict")), "reason": g.get("reason", "")}
                  for name, g in gates.items() if isinstance(g, Mapping)],
        "failures": [{**f._asdict(), "anchor": _anchor(f.test) if f.test else ""} for f in failed],
        # Led with, as the terminal and the Markdown do: what the verdicts could not judge.
        "not_compared": [{"test": str(it.get("nodeid", "")), "anchor": _anchor(str(it.get("nodeid", ""))),
                          "metric": str(it.get("metric", "")), "reason": str(it.get("reason", ""))}
                         for it in report.get("not_compared") or [] if isinstance(it, Mapping)],
        "inconclusive": [] if inconclusive_fails else _inconclusive(tests),
        "sections": sections, "baseline": report.get("baseline") or {}, "delivery": report.get("delivery"),
        "settings": settings, "n_plots": n_plots,
        "has_series": any(t.get("series") for t in tests),
    }


def _inconclusive(tests: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Metrics whose verdict is INCONCLUSIVE (worse, but not significantly, or timed on a busy
    machine) that the policy let pass: each with its reason in words, not only in a tooltip."""
    out = []
    for t in tests:
        for m in t.get("metrics") or []:
            if not isinstance(m, Mapping) or m.get("verdict") != "inconclusive":
                continue
            c = m.get("comparison") or {}
            if c.get("verdict") == "inconclusive":
                reason = str(c.get("reason") or comparison_reason(m, True))
            else:
                th = m.get("threshold") or {}
                p = m.get("threshold_p")
                reason = (f"misses the threshold {th.get('text', '')} on its value, but not significantly"
                          + (f" (p = {fmt(_n(p))})" if p is not None else ""))
            nodeid = str(t.get("nodeid", ""))
            out.append({"test": nodeid, "anchor": _anchor(nodeid), "metric": str(m.get("name", "")),
                        "value": value_text(m), "reason": reason})
    return out


@functools.cache
def _template() -> Any:
    """The page template, compiled once per process."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("pytest_mlgate.report.html", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.ChainableUndefined)  # a field an old report lacks shows empty
    env.filters["num"] = lambda x: fmt(_n(x))
    return env.get_template("report.html.j2")


def render_html(report: Mapping[str, Any], *, title: str = "pytest-mlgate report",
                source: str = "the report", headline: str | None = None) -> str:
    """The self-contained page (styles and plots inline, no scripts, no network) for ``report``;
    ``headline`` replaces "Gates passed/failed" (``mlgate drift`` says "Drift" or "No drift")."""
    from markupsafe import Markup

    doc = check_report(report, source)
    started = time.perf_counter()
    with charts.style():
        page = view(doc)
    page["headline"] = headline or ("Gates passed" if page["verdict"] == "pass" else "Gates failed")
    for s in page["sections"]:
        for t in s["tests"]:
            for p in t["plots"]:
                if "svg" in p:
                    p["svg"] = Markup(p["svg"])
    html: str = _template().render(page=page, title=title)
    elapsed = (time.perf_counter() - started) * 1e3
    return html.replace("<!--render-ms-->", f"{elapsed:.0f} ms")
