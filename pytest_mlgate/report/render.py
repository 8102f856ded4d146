"""The gate table and the metric table, for the terminal and for Markdown.

Both render from the JSON report's content (``RunResult.to_json()``), so the terminal, the
Markdown file and the JSON file can never disagree.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_mlgate.report.tables import fmt, fmt_change, fmt_interval, md_text, render

GATE_HEADERS = ("gate", "passed", "failed", "errored", "skipped", "verdict")
METRIC_HEADERS = ("test", "metric", "value", "interval", "threshold", "baseline", "change", "verdict")


def _verdict_word(v: str | None) -> str:
    return {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "improved": "IMPROVED",
            "not_compared": "NOT COMPARED", "not_run": "NOT RUN", "empty": "-", "none": "-"}.get(v or "none", str(v).upper())


def gate_rows(report: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for gate, g in report["gates"].items():
        verdict = _verdict_word(g["verdict"])
        if g["verdict"] in ("fail", "not_run") and g.get("reason") and not (g["failed"] or g["errored"]):
            verdict += f" ({g['reason']})"
        name = gate + ("" if g["required"] else " (optional)")
        rows.append([name, str(g["passed"]), str(g["failed"]), str(g["errored"]), str(g["skipped"]), verdict])
    return rows


def _short_test(nodeid: str, width: int = 48) -> str:
    """``file.py::test_name`` in at most ``width`` characters, keeping the test's own name.

    Only the file's directories are dropped: a parametrize id may hold ``/`` or ``::``
    (``test_ids[a/b]``), so the id in brackets is never split."""
    path, sep, rest = nodeid.partition("::")
    name = path.rsplit("/", 1)[-1] + sep + rest
    if len(name) <= width:
        return name
    bracket = name.find("[", len(path.rsplit("/", 1)[-1]))
    base, params = (name[:bracket], name[bracket:]) if bracket >= 0 else (name, "")
    head, sep, test = base.rpartition("::")
    test += params
    if not sep or len(test) + 6 >= width:
        return ".." + name[-(width - 2):]
    return head[: width - len(test) - 4] + ".." + sep + test


def _shown_in_terminal(m: Mapping[str, Any]) -> bool:
    # A benchmark records eight readings; the terminal shows those with a budget or a verdict.
    return not (m.get("method") == "benchmark" and m.get("verdict") in (None, "none"))


def _limit(m: Mapping[str, Any]) -> float | None:
    """The metric's threshold value, which its value is printed apart from (tables.fmt)."""
    value = (m.get("threshold") or {}).get("value")
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _threshold_cell(m: Mapping[str, Any]) -> str:
    th = m.get("threshold") or {}
    text = str(th.get("text", "-")) if th else "-"
    if m.get("threshold_p") is not None:  # a slice: judged by a test, Holm across slices
        text += f" (Holm p {fmt(m['threshold_p'])})"
    return text


def metric_rows(report: Mapping[str, Any], markdown: bool = False) -> list[list[str]]:
    rows = []
    for t in report["tests"]:
        for m in t.get("metrics", []):
            if not markdown and not _shown_in_terminal(m):
                continue
            c = m.get("comparison") or {}
            # no change is shown against a baseline the metric was not compared with
            change = "-" if c.get("verdict") == "not_compared" else fmt_change(c.get("change"), c.get("ratio"))
            base = fmt(c.get("reference_value")) if c else "-"
            if c.get("reference") == "champion":
                base = f"{base} (champion)"
            verdict = _verdict_word(m.get("verdict"))
            if m.get("info", {}).get("shared_cpu"):
                verdict += " (shared cpu)"
            rows.append([
                t["nodeid"] if markdown else _short_test(t["nodeid"]),
                m["name"],
                fmt(m["value"], against=_limit(m)) if not isinstance(m["value"], str) else m["value"],
                fmt_interval(m.get("low"), m.get("high")),
                _threshold_cell(m),
                base,
                change,
                verdict,
            ])
    return rows


def _not_run(report: Mapping[str, Any]) -> str:
    """`` (not run: unit, integration)`` for the gates a partial run left out, else ""."""
    gates = [g for g, v in report["gates"].items() if v.get("verdict") == "not_run"]
    return f" (not run: {', '.join(gates)})" if gates else ""


def _headline(report: Mapping[str, Any]) -> str:
    """``gates PASSED``, ``gates FAILED``, or ``gates passed, run FAILED`` when something after
    the gates failed the run (delivery, a test outside the gates, a usage error)."""
    if report["verdict"] == "pass":
        return "gates PASSED"
    gates = report["gates"].values()
    if any(g.get("verdict") == "fail" for g in gates):
        return "gates FAILED"
    if any(g.get("verdict") == "pass" for g in gates):
        return "gates passed, run FAILED"
    return "run FAILED"


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    run = report["run"]
    lines = []
    verdict = _headline(report) + _not_run(report)
    status = "complete" if run["complete"] else "INCOMPLETE"
    first = f"mlgate: {verdict}; run {status}; seed {run.get('seed', 'none')}"
    if report.get("not_compared"):
        first += f"; {len(report['not_compared'])} metric(s) NOT COMPARED with their baseline"
    lines.append(first)
    for r in run.get("incomplete_reasons", []):
        lines.append(f"  incomplete: {r}")
    for f in report.get("failures", []):
        lines.append(f"  failed: {f}")
    b = report.get("baseline") or {}
    if b.get("message") and b.get("status") != "failed":
        lines.append(f"  baseline: {b['message']}")
    d = report.get("delivery")
    if d and d.get("message"):
        if d.get("status") != "failed":
            lines.append(f"  delivery: {d['message']}")
        else:  # its first line is in ``failures``; a deploy command's output follows it
            output = str(d["message"]).partition("\n")[2].rstrip()
            if output:
                lines.append("  delivery output:")
                lines.extend(f"    {line}" for line in output.splitlines())
    return lines


def not_compared_lines(report: Mapping[str, Any], limit: int = 10) -> list[str]:
    """What a report leads with when metrics could not be compared with their baseline."""
    items = report.get("not_compared") or []
    if not items:
        return []
    lines = [f"NOT COMPARED: {len(items)} metric(s) have a baseline they could not be compared "
             "with; their verdicts judge thresholds only, not regressions:"]
    for it in items[:limit]:
        lines.append(f"  {_short_test(str(it['nodeid']))} {it['metric']}: {it['reason']}")
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more (see the JSON report)")
    return lines


def render_terminal(report: Mapping[str, Any]) -> str:
    parts = ["\n".join(not_compared_lines(report))] if report.get("not_compared") else []
    parts.append(render(GATE_HEADERS, gate_rows(report)))
    rows = metric_rows(report)
    if rows:
        table = render(METRIC_HEADERS, rows)
        total = sum(len(t.get("metrics", [])) for t in report["tests"])
        if total > len(rows):
            table += f"\n({total - len(rows)} more benchmark readings without a budget are in the JSON and Markdown reports)"
        parts.append(table)
    parts.append("\n".join(summary_lines(report)))
    return "\n\n".join(parts)


def _decides(m: Mapping[str, Any]) -> bool:
    """Shown in the Markdown summary's main table: the metric has a threshold, or a verdict
    other than PASS, or a comparison that is not a benchmark's budget-less reading passing."""
    if m.get("threshold") or m.get("verdict") not in ("pass", "none", None):
        return True
    return bool(m.get("comparison")) and _shown_in_terminal(m) and m.get("method") != "benchmark"


def _failure_rows(report: Mapping[str, Any]) -> list[list[str]]:
    from pytest_mlgate.report.failures import failures

    return [[f.test or "(run)", f.metric or "-", f.value, f.reason] for f in failures(report)]


FAILURE_HEADERS = ("test", "metric", "value", "reason")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The job summary: a headline, what failed and why, the gates, the metrics that decide;
    everything else folded into a ``<details>`` block (GitHub Markdown, no other HTML)."""
    run = report["run"]
    # Every string from the report goes through md_text (test ids, names, messages are anyone's
    # text); only the headings, bold markers and <details> written here are Markdown or HTML.
    title = md_text(_headline(report).replace("PASSED", "passed").replace("FAILED", "failed") + _not_run(report))
    out = [f"## pytest-mlgate: {title}", ""]
    failed = _failure_rows(report)
    gates = report["gates"]
    n_pass = sum(1 for g in gates.values() if g["verdict"] == "pass")
    git = run.get("git") or {}
    commit = md_text(str(git.get("commit") or "unknown")[:12])
    head = (f"**{len(failed)} failure{'s' if len(failed) != 1 else ''}**" if failed
            else f"**{n_pass} of {len(gates)} gates passed**")
    out += [f"{head} · run {'complete' if run['complete'] else '**incomplete**'} · "
            f"seed {md_text(run.get('seed', 'none'))} · commit {commit}", ""]
    lead = not_compared_lines(report, limit=50)
    if lead:
        out += [f"**{md_text(lead[0])}**", ""] + [f"- {md_text(line.strip())}" for line in lead[1:]] + [""]
    if not run["complete"]:
        out.append("**Incomplete run:** " + md_text("; ".join(map(str, run.get("incomplete_reasons", [])))))
        out.append("")
    if failed:
        out += ["### What failed", "", render(FAILURE_HEADERS, failed, markdown=True), ""]
    out += ["### Gates", "", render(GATE_HEADERS, gate_rows(report), markdown=True), ""]
    rows = metric_rows(report, markdown=True)
    flags = [_decides(m) for t in report["tests"] for m in t.get("metrics", [])]
    main = [r for r, keep in zip(rows, flags, strict=True) if keep]
    rest = [r for r, keep in zip(rows, flags, strict=True) if not keep]
    if main:
        out += ["### Metrics", "", render(METRIC_HEADERS, main, markdown=True), ""]
    if rest:
        what = "metric" if len(rest) == 1 else "metrics"
        out += ["<details>", f"<summary>{len(rest)} more {what} without a threshold or a verdict "
                "(benchmark readings, recorded values)</summary>", "",
                render(METRIC_HEADERS, rest, markdown=True), "", "</details>", ""]
    notes = [line.strip() for line in summary_lines(report)[1:]
             if not line.strip().startswith("failed: ")] if failed else \
        [line.strip() for line in summary_lines(report)[1:]]
    if notes:
        out += ["### Notes", ""] + [f"- {md_text(n)}" for n in notes] + [""]
    out.append(md_text(f"Seed {run.get('seed', 'none')}; commit {git.get('commit') or 'unknown'}; "
                       f"pytest-mlgate {report.get('plugin_version', '?')}."))
    return "\n".join(out) + "\n"
