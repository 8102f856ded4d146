"""The report's plots: matplotlib figures saved as SVG text to inline in the page.

Every function takes plain values from the JSON report (a metric, a series item) and returns an
SVG document as a string. Figures are made with ``matplotlib.figure.Figure`` directly, never
through pyplot: no global figure state, no GUI backend. Text stays text in the SVG (smaller files,
crisp at any zoom, searchable in the page).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

#: Width of a full-width plot, inches (72 pt each: 9 in is 864 CSS pixels, the page's column).
WIDTH = 9.0
# Colours that read in greyscale and for the common colour-vision deficiencies (Okabe-Ito).
PASS = "#009E73"
FAIL = "#D55E00"
NEUTRAL = "#0072B2"
REFERENCE = "#E69F00"
MUTED = "#6b7280"
BAND = "#56B4E9"
UNSURE = "#CC79A7"

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text as <text>, drawn with the page's fonts
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"],
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    # A name is text, never mathtext: "$x$" drawn as math, "$\\frac{a}{$" a crash of the plot.
    "text.parse_math": False,
}

#: Characters of a name drawn on a plot; a longer one ends in an ellipsis (the table has it whole).
LABEL_CHARS = 48


def style() -> Any:
    """The context every chart is drawn in: the report's matplotlib settings, set once per page
    (setting them per figure copied all of matplotlib's settings each time) and restored after,
    so a test suite's own plots keep theirs."""
    return mpl.rc_context(_RC)


class _Counter:
    """Distinct id salts for the SVGs of one page: several inline SVGs share one id space."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"mlg{self.n}"


SALT = _Counter()


def _num(x: Any) -> float | None:
    try:
        v = None if x is None else float(x)
    except (TypeError, ValueError):
        return None
    return v if v is not None and math.isfinite(v) else None


def _svg(fig: Figure, label: str) -> str:
    """The figure as SVG markup for inline use (no XML prolog), with an accessible label."""
    buf = io.StringIO()
    mpl.rcParams["svg.hashsalt"] = SALT.next()  # inside style(): restored when the page is done
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    start = text.find("<svg")
    from markupsafe import escape

    return text[start:].replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


def _figure(width: float, height: float, *, left: float = 0.65, right: float = 0.2, top: float = 0.35,
            bottom: float = 0.5, wspace: float = 0.3, hspace: float = 0.5) -> Figure:
    """A figure of ``width`` x ``height`` inches with fixed margins in inches. Fixed, not
    constrained or tight: a layout engine draws every figure twice, the page's main cost."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, wspace=wspace, hspace=hspace)
    return fig


def label(name: Any) -> str:
    """``name`` as a plot draws it: bidirectional controls removed (U+202E would reverse the
    text after it), at most LABEL_CHARS characters, a longer one cut with an ellipsis."""
    from pytest_mlgate.report.tables import BIDI_CONTROLS

    text = BIDI_CONTROLS.sub("", " ".join(str(name).splitlines()))
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _label_width(labels: Sequence[str], size: float = 9.0) -> float:
    """Inches that the longest of ``labels`` needs at font ``size`` (a generous estimate), at
    most what LABEL_CHARS characters need: the plot keeps most of the figure's width."""
    longest = min(max((len(str(x)) for x in labels), default=4), LABEL_CHARS)
    return 0.25 + longest * size * 0.0085


def _style(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    # Five ticks a side are enough to read a value off, and each tick is several artists to make.
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    for key, value in (("top", False), ("right", False)):
        ax.spines[key].set_visible(value)
    ax.grid(True, color="#e5e7eb", linewidth=0.6)
    ax.set_axisbelow(True)


def _metric_color(verdict: str | None) -> str:
    if verdict == "fail":
        return FAIL
    if verdict == "inconclusive":
        return UNSURE
    return PASS if verdict in ("pass", "improved") else NEUTRAL


def _unit(m: Mapping[str, Any]) -> str:
    units = (m.get("info") or {}).get("units")
    if units:
        return str(units)
    name = str(m.get("name", ""))
    for suffix, unit in (("_ms", "ms"), ("_mb", "MiB"), ("_rps", "per second")):
        if name.endswith(suffix):
            return unit
    return ""


FOREST_KEY = ("dot and bar: value and interval (green pass, red fail, purple inconclusive); dashed: "
              "threshold, the failing side shaded; diamond: baseline or champion; each row on its own scale")


def forest(metrics: Sequence[Mapping[str, Any]]) -> str:
    """One row per metric, each on its own scale (its ends are labelled): the value and its
    interval, the threshold (a dashed line, the failing side shaded) and the baseline or champion
    value (a diamond). One axes for all rows: metrics of different units share no axis."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Affine2D

    n = len(metrics)
    labels = [label(str(m.get("name")) + (f" ({_unit(m)})" if _unit(m) else "")) for m in metrics]
    left, right, top, bottom = _label_width(labels) + 0.1, 0.35, 0.2, 0.05
    height = 0.3 + 0.42 * n
    fig = Figure(figsize=(WIDTH, height))
    # No axes: the rows are drawn in the figure itself, x in [-0.02, 1.02] across the plot area
    # and row i at y = i, top down. An axes (with ticks it would hide) was most of the cost.
    x0, x1, y_top, y_bottom = -0.02, 1.02, -0.75, n - 0.4
    fx0, fw = left / WIDTH, 1 - (left + right) / WIDTH
    fy0, fh = bottom / height, 1 - (top + bottom) / height
    where = Affine2D().translate(-x0, -y_bottom).scale(fw / (x1 - x0), fh / (y_top - y_bottom)) \
        .translate(fx0, fy0) + fig.transFigure

    def text(x: float, y: float, s: str, **kw: Any) -> None:
        fig.text(x, y, s, transform=where, **kw)

    def line(xs: Sequence[float], ys: Sequence[float], **kw: Any) -> None:
        fig.add_artist(Line2D(xs, ys, transform=where, **kw))

    for i, m in enumerate(metrics):
        value = _num(m.get("value"))
        low, high = _num(m.get("low")), _num(m.get("high"))
        th = m.get("threshold") or {}
        limit = _num(th.get("value"))
        comp = m.get("comparison") or {}
        ref = _num(comp.get("reference_value"))
        color = _metric_color(m.get("verdict"))
        xs = [x for x in (value, low, high, limit, ref) if x is not None]
        text(-0.03, i, labels[i], ha="right", va="center", fontsize=9)
        if not xs:
            continue
        span = (max(xs) - min(xs)) or abs(xs[0]) * 0.1 or 1.0
        lo_x, hi_x = min(xs) - 0.15 * span, max(xs) + 0.15 * span

        def at(x: float, lo: float = lo_x, hi: float = hi_x) -> float:
            return (x - lo) / (hi - lo)

        line([0, 1], [i, i], color="#d1d5db", lw=0.8)
        for end, ha in ((0.0, "left"), (1.0, "right")):
            text(end, i + 0.32, f"{lo_x if end == 0 else hi_x:.4g}", ha=ha, va="center", fontsize=7, color=MUTED)
        if limit is not None:
            op = str(th.get("op", ""))
            x = at(limit)
            bad = (x, 1.0) if op in ("<=", "<") else (0.0, x)
            fig.add_artist(Rectangle((bad[0], i - 0.3), bad[1] - bad[0], 0.6, transform=where, color=FAIL,
                                     alpha=0.08, lw=0))
            line([x, x], [i - 0.3, i + 0.3], color=FAIL, ls="--", lw=1.2)
            text(x, i - 0.36, f"{th.get('text', '')}", ha="center", va="bottom", fontsize=7, color=FAIL)
        if low is not None and high is not None:
            line([at(low), at(high)], [i, i], color=color, lw=2.5, solid_capstyle="butt")
        if ref is not None:
            line([at(ref)], [i], marker="D", ms=6, color=REFERENCE, ls="none")
        if value is not None:
            line([at(value)], [i], marker="o", ms=7, color=color, ls="none")
            text(at(value), i + 0.32, f"{value:.4g}", ha="center", va="center", fontsize=7.5, color=color,
                 fontweight="bold")
    # The key is the figure's caption in the page (FOREST_KEY): a legend per figure costs
    # as much to draw as the rows.
    return _svg(fig, "metrics against thresholds and baseline")


def slices(parent: str, rows: Sequence[Mapping[str, Any]], threshold: Mapping[str, Any] | None) -> str:
    """Each slice's value and interval on one axis, the threshold as a line, failing slices red."""
    names = [label((r.get("info") or {}).get("slice", r.get("name"))) for r in rows]
    fig = _figure(WIDTH, 0.8 + 0.32 * len(rows), left=_label_width(names), top=0.15)
    ax = fig.subplots()
    _style(ax)
    for i, r in enumerate(rows):
        color = _metric_color(r.get("verdict"))
        low, high, value = _num(r.get("low")), _num(r.get("high")), _num(r.get("value"))
        if low is not None and high is not None:
            ax.hlines(i, low, high, color=color, lw=2.5)
        if value is not None:
            ax.plot([value], [i], "o", color=color, ms=6)
    limit = _num((threshold or {}).get("value"))
    if limit is not None:
        ax.axvline(limit, color=FAIL, ls="--", lw=1.2, label=f"threshold {threshold.get('text', '')}" if threshold else "")
        ax.legend(loc="best")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first slice on top, no dot on the frame
    ax.set_xlabel(f"{parent} per slice (dot: value; bar: interval; red: fails; purple: inconclusive)")
    return _svg(fig, f"{parent} per slice")


def classification(item: Mapping[str, Any], ece_metric: Mapping[str, Any] | None = None) -> str:
    """ROC and precision-recall with bands, the reliability diagram, the confusion matrix:
    whichever the evaluation's outputs allow, side by side."""
    curves: Any = item.get("curves")
    rel: Any = item.get("reliability")
    conf: Any = item.get("confusion")
    panels = [p for p, present in (("roc", curves), ("pr", curves), ("rel", rel), ("cm", conf)) if present]
    if not panels:
        raise ValueError("no curves, reliability or confusion data")
    cols = min(len(panels), 2)
    rows = math.ceil(len(panels) / cols)
    fig = _figure(4.5 * cols, 3.5 * rows, left=0.6, top=0.3, bottom=0.55, wspace=0.35, hspace=0.45)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    level = curves.get("level", 0.95) if curves else 0.95
    for ax, panel in zip(axes, panels, strict=False):
        _style(ax)
        if panel == "roc":
            roc = curves["roc"]
            ax.fill_between(roc["fpr"], roc["low"], roc["high"], color=BAND, alpha=0.35, lw=0,
                            label=f"{level:.0%} band")
            ax.plot(roc["fpr"], roc["tpr"], color=NEUTRAL, lw=1.8, label=f"AUC {roc['auc']:.3f}")
            ax.plot([0, 1], [0, 1], color=MUTED, ls=":", lw=1, label="chance")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve",
                   xlim=(0, 1), ylim=(0, 1.02))
            ax.legend(loc="lower right")
        elif panel == "pr":
            pr = curves["pr"]
            ax.fill_between(pr["recall"], pr["low"], pr["high"], color=BAND, alpha=0.35, lw=0,
                            label=f"{level:.0%} band")
            ax.plot(pr["recall"], pr["precision"], color=NEUTRAL, lw=1.8, label="precision")
            prev = _num(pr.get("prevalence"))
            if prev is not None:
                ax.axhline(prev, color=MUTED, ls=":", lw=1, label=f"prevalence {prev:.2f}")
            ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve",
                   xlim=(0, 1), ylim=(0, 1.02))
            ax.legend(loc="lower left")
        elif panel == "rel":
            conf_x = rel["confidence"]
            acc = rel["accuracy"]
            err_lo = [max(a - lo, 0) for a, lo in zip(acc, rel["accuracy_low"], strict=True)]
            err_hi = [max(hi - a, 0) for a, hi in zip(acc, rel["accuracy_high"], strict=True)]
            ax.plot([0, 1], [0, 1], color=MUTED, ls=":", lw=1, label="perfect calibration")
            ax.errorbar(conf_x, acc, yerr=[err_lo, err_hi], fmt="o-", color=NEUTRAL, ms=4, lw=1.2,
                        capsize=2, label="observed (95% Wilson)")
            ece = f"ECE {rel['ece']:.3f}"
            if ece_metric is not None and _num(ece_metric.get("low")) is not None:
                ece += f" [{float(ece_metric['low']):.3f}, {float(ece_metric['high']):.3f}]"
            ax.set(xlabel="predicted probability of the predicted class",
                   ylabel="observed accuracy", title=f"Reliability ({ece})", xlim=(0, 1), ylim=(0, 1.02))
            ax.legend(loc="upper left")
        else:
            classes = conf["classes"]
            counts = [[c or 0 for c in row] for row in conf["counts"]]
            k = len(classes)
            ax.grid(False)
            ax.imshow(counts, cmap="Blues")
            top = max(max(r) for r in counts) or 1
            for i in range(k):
                for j in range(k):
                    value = counts[i][j]
                    ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8 if k < 10 else 6,
                            color="white" if value > top / 2 else "#111827")
            ax.set_xticks(range(k))
            ax.set_yticks(range(k))
            names = [label(c) for c in classes]
            ax.set_xticklabels(names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
            ax.set_yticklabels(names)
            ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix (rows)")
    return _svg(fig, "classifier curves")


def regression(item: Mapping[str, Any]) -> str:
    """Predicted against actual (a sample of the rows) and the residuals' histogram."""
    fig = _figure(WIDTH, 3.2, top=0.3, wspace=0.3)
    a, b = fig.subplots(1, 2)
    for ax in (a, b):
        _style(ax)
    x, y = item["actual"], item["predicted"]
    pairs = [(p, q) for p, q in zip(x, y, strict=True) if p is not None and q is not None]
    if pairs:
        xs, ys = zip(*pairs, strict=True)
        a.scatter(xs, ys, s=6, alpha=0.5, color=NEUTRAL, lw=0)
        lo, hi = min(*xs, *ys), max(*xs, *ys)
        a.plot([lo, hi], [lo, hi], color=MUTED, ls=":", lw=1, label="predicted = actual")
        a.legend(loc="upper left")
    shown = len(pairs)
    a.set(xlabel="actual", ylabel="predicted",
          title=f"Predicted vs actual ({shown:,} of {item.get('n', shown):,} rows)")
    r = item["residuals"]
    edges, counts = r["edges"], r["counts"]
    b.stairs(counts, edges, fill=True, color=BAND, alpha=0.8)
    b.axvline(0, color=MUTED, ls=":", lw=1)
    b.set(xlabel="residual (predicted - actual)", ylabel="rows",
          title=f"Residuals (mean {r.get('mean', 0):.3g}, sd {r.get('std', 0):.3g})")
    return _svg(fig, "regression: predicted against actual, residuals")


def latency(item: Mapping[str, Any], readings: Mapping[str, Mapping[str, Any]]) -> str:
    """The per-call latency histogram with p50/p95/p99 and any latency budget."""
    fig = _figure(WIDTH, 2.8, top=0.3)
    ax = fig.subplots()
    _style(ax)
    ax.stairs(item["counts"], item["edges"], fill=True, color=BAND, alpha=0.8, label="calls")
    styles = {"latency_p50_ms": ("p50", ":"), "latency_p95_ms": ("p95", "-."), "latency_p99_ms": ("p99", "--")}
    for name, (label, ls) in styles.items():
        m = readings.get(name)
        value = _num(m.get("value")) if m else None
        if value is not None:
            ax.axvline(value, color=NEUTRAL, ls=ls, lw=1.2, label=f"{label} {value:.3g} ms")
    for name, m in readings.items():
        th = m.get("threshold") or {}
        limit = _num(th.get("value"))
        if limit is not None and name.startswith("latency_"):
            ax.axvline(limit, color=FAIL, lw=2, label=f"budget {name.removeprefix('latency_').removesuffix('_ms')} {th.get('text')} ms")
    outside = item.get("outside") or 0
    ax.set(xlabel="latency per call (ms)", ylabel="calls",
           title=f"Latency of {item.get('name', 'the benchmark')}: {item.get('n', 0):,} timed rounds"
                 + (f" ({outside} slower ones beyond the axis)" if outside else ""))
    ax.legend(loc="upper right")
    return _svg(fig, "latency histogram")


def drift_effects(item: Mapping[str, Any]) -> str:
    """Every column's effect size against its threshold; drifted columns in red."""
    cols = item["columns"]
    names = [label(c["name"]) for c in cols]
    fig = _figure(WIDTH, 1.0 + 0.2 * len(cols), left=_label_width(names, 8), top=0.3, bottom=0.7)
    ax = fig.subplots()
    _style(ax)
    ax.tick_params(axis="y", labelsize=8)
    effects = [c.get("effect") or 0.0 for c in cols]
    colors = [FAIL if c.get("drifted") else PASS for c in cols]
    ax.barh(range(len(cols)), effects, color=colors, height=0.6)
    for i, c in enumerate(cols):
        t = _num(c.get("threshold"))
        if t is not None:
            ax.plot([t, t], [i - 0.4, i + 0.4], color="#111827", lw=1.5)
    ax.set_yticks(range(len(cols)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("effect size (numeric columns: Wasserstein distance / reference SD;\n"
                  "categorical columns: Jensen-Shannon distance); black tick: the threshold", fontsize=8)
    drifted = sum(1 for c in cols if c.get("drifted"))
    ax.set_title(f"Drift per column: {drifted} of {len(cols)} drifted (red: significant and above threshold)")
    return _svg(fig, "drift effect sizes")


def drift_histograms(item: Mapping[str, Any]) -> str:
    """Reference against current distribution of each column kept with a histogram."""
    cols = [c for c in item["columns"] if c.get("histogram")]
    if not cols:
        raise ValueError("no column histograms")
    per_row = 3 if len(cols) > 2 else len(cols)
    rows = math.ceil(len(cols) / per_row)
    fig = _figure(3.0 * per_row, 2.5 * rows, left=0.75, top=0.3, bottom=0.7, wspace=0.55, hspace=0.85)
    axes = fig.subplots(rows, per_row, squeeze=False).ravel()
    for ax in axes[len(cols):]:
        ax.set_visible(False)
    for ax, c in zip(axes, cols, strict=False):
        _style(ax)
        h = c["histogram"]
        if "categories" in h:
            k = len(h["categories"])
            idx = list(range(k))
            ax.bar([i - 0.2 for i in idx], h["reference"], width=0.4, color=MUTED, label="reference")
            ax.bar([i + 0.2 for i in idx], h["current"], width=0.4,
                   color=FAIL if c.get("drifted") else NEUTRAL, label="current")
            ax.set_xticks(idx)
            ax.set_xticklabels([label(x) for x in h["categories"]], rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center",
                               fontsize=7)
        else:
            ax.stairs(h["reference"], h["edges"], fill=True, color=MUTED, alpha=0.45, label="reference")
            ax.stairs(h["current"], h["edges"], color=FAIL if c.get("drifted") else NEUTRAL, lw=1.6,
                      label="current")
        outside = int(h.get("current_outside") or 0)
        ax.set_xlabel(label(c["name"]) + (f"\n({outside} current rows outside the reference range)"
                                          if outside else ""), fontsize=7 if outside else 9)
        ax.set_ylabel("share of rows")
        ax.set_title(("DRIFT: " if c.get("drifted") else "") + f"effect {c.get('effect') or 0:.3g}",
                     color=FAIL if c.get("drifted") else "#111827", fontsize=9)
    axes[0].legend(loc="upper right")
    return _svg(fig, "reference against current distributions")
