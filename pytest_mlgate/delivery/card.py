"""The model card: README.md in every artefact, from the card fields, gates, metrics and data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_mlgate.report.tables import fmt, fmt_change, fmt_interval, render

# Card fields shown first, in this order, when given; any others follow alphabetically.
KNOWN_FIELDS: tuple[str, ...] = ("description", "intended_use", "limitations", "owner", "license")


def metric_rows(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat dict per recorded metric: test, gate, name, value, interval, threshold, change."""
    rows: list[dict[str, Any]] = []
    tests = run.get("tests")
    for test in tests if isinstance(tests, list) else ():
        if not isinstance(test, Mapping):
            continue
        metrics = test.get("metrics")
        for m in metrics if isinstance(metrics, list) else ():
            if not isinstance(m, Mapping):
                continue
            comp = m.get("comparison") if isinstance(m.get("comparison"), Mapping) else None
            rows.append({
                "test": str(test.get("nodeid", "?")), "gate": test.get("gate"),
                "name": str(m.get("name", "?")), "value": m.get("value"), "low": m.get("low"),
                "high": m.get("high"), "threshold": (m.get("threshold") or {}).get("text") if isinstance(m.get("threshold"), dict) else m.get("threshold"), "verdict": m.get("verdict"),
                "change": comp.get("change") if comp else None,
                "ratio": comp.get("ratio") if comp else None, "method": m.get("method"),
                "baseline": comp.get("reference_value") if comp else None,
            })
    return rows


def trusted_for_load(model_info: Any) -> list[str] | None:
    """The ``trusted=[...]`` a consumer passes to ``pytest_mlgate.load`` for an artefact's model
    (its manifest's ``model`` entry): the skops types recorded at staging, or the opt-in token of
    a pickle-based format. None when the artefact does not record them. Information for the
    consumer to review: ``load`` never reads it."""
    if not isinstance(model_info, Mapping):
        return None
    fmt = model_info.get("format")
    if fmt in ("joblib", "pickle"):
        return [str(fmt)]
    types = model_info.get("untrusted_types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return None
    return list(types)


def _loading(name: str, model_info: Any, registry: str | None) -> list[str]:
    """The card's "Loading" section: a snippet that loads this model as published from
    ``registry`` (as the project names it; None for the default ``.mlgate/registry``)."""
    trusted = trusted_for_load(model_info) or []
    fmt = model_info.get("format") if isinstance(model_info, Mapping) else None
    lines = ["## Loading", ""]
    if fmt in ("joblib", "pickle"):
        lines += [f"The model is stored with {fmt}, which runs code from the file when it is "
                  f"loaded: load it only if you trust where it came from, with "
                  f"`trusted=[{fmt!r}]`.", ""]
    elif trusted:
        lines += ["Loading asks you to trust these types beyond skops' defaults (recorded when the "
                  "model was staged; review them, `load` never trusts anything by itself):", ""]
        lines += [f"- `{t}`" for t in trusted]
        lines.append("")
    else:
        lines += ["Every type in the model is within skops' trusted defaults: no `trusted=` is "
                  "needed.", ""]
    lines += ["```python", "import pytest_mlgate", "", "model = pytest_mlgate.load("]
    if registry is None:
        lines.append(f"    {name + '@latest'!r},  # from the project root, or pass registry=\"PATH\"")
    else:
        lines += [f"    {name + '@latest'!r},",
                  f"    registry={registry!r},  # where it was published"
                  + (" (from the project root)" if not registry.startswith(("/", "mlflow:"))
                     else "")]
    if trusted:
        lines.append("    trusted=[")
        lines += [f"        {t!r}," for t in trusted]
        lines.append("    ],")
    lines += [")  # verifies every file first", "```", ""]
    return lines


def _change(row: Mapping[str, Any]) -> str:
    number = (int, float)
    change = row["change"] if isinstance(row["change"], number) and not isinstance(row["change"], bool) else None
    ratio = row["ratio"] if isinstance(row["ratio"], number) and not isinstance(row["ratio"], bool) else None
    return fmt_change(change, ratio)


def _num(x: Any) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return fmt(x)
    return "-" if x is None else str(x)


def render_card(*, name: str, manifest_meta: Mapping[str, Any], run: Mapping[str, Any],
                card: Mapping[str, Any], data: Mapping[str, Any],
                signature: Mapping[str, Any] | None, registry: str | None = None) -> str:
    """The README.md text (GitHub-flavoured Markdown). ``registry``: where the model was
    published, as the Loading snippet should name it (None: the default registry)."""
    lines = [f"# {name}", ""]
    git = manifest_meta.get("git") or {}
    commit = git.get("commit") or "unknown"
    dirty = " (uncommitted changes)" if git.get("dirty") else ""
    lines += [f"Published by pytest-mlgate {manifest_meta.get('mlgate_version', '?')} on "
              f"{manifest_meta.get('created', '?')} from commit `{commit}`{dirty}. "
              f"Model format: {manifest_meta.get('format', '?')}.", ""]
    keys = [k for k in KNOWN_FIELDS if k in card] + sorted(k for k in card if k not in KNOWN_FIELDS)
    if keys:
        lines += ["## Model details", ""]
        for k in keys:
            v = card[k]
            text = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
            lines.append(f"- **{k.replace('_', ' ').capitalize()}**: {text}")
        lines.append("")
    gates = run.get("gates") if isinstance(run.get("gates"), Mapping) else {}
    if gates:
        lines += ["## Gates", ""]
        rows = [[g, str(v.get("verdict", "?")), _num(v.get("passed")), _num(v.get("failed"))]
                for g, v in gates.items() if isinstance(v, Mapping)]
        lines += [render(["gate", "verdict", "passed", "failed"], rows, markdown=True), ""]
    metrics = metric_rows(run)
    if metrics:
        lines += ["## Metrics", ""]
        rows = [[r["name"], _num(r["value"]), fmt_interval(r["low"], r["high"]),
                 _num(r["threshold"]), _num(r["baseline"]), _change(r),
                 str(r["verdict"] or "-"), r["test"]] for r in metrics]
        lines += [render(["metric", "value", "interval", "threshold", "baseline", "change",
                          "verdict", "test"], rows, markdown=True), ""]
    if data:
        lines += ["## Data", ""]
        rows = [[role, "x".join(map(str, d.get("shape") or [])) or "-", str(d.get("fingerprint"))]
                for role, d in data.items()]
        lines += [render(["role", "shape", "fingerprint"], rows, markdown=True), ""]
    if signature and signature.get("kind") == "dataframe":
        lines += ["## Input signature", ""]
        rows = [[c["name"], c["dtype"]] for c in signature.get("columns", [])]
        lines += [render(["column", "dtype"], rows, markdown=True), ""]
    elif signature:
        lines += ["## Input signature", "", f"Array of dtype `{signature.get('dtype')}`, "
                  f"shape `{signature.get('shape')}`.", ""]
    lines += _loading(name, manifest_meta.get("model"), registry)
    return "\n".join(lines)
