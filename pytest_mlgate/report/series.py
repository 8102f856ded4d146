"""What a test keeps so that its report can draw curves: bounded summaries of large data.

Each function turns what a measurement saw (an evaluation's labels and scores, a benchmark's
timings, a drift check's columns) into a JSON-safe "series item" whose size does not grow with
the number of rows: curves on fixed grids with bootstrap bands, binned histograms, at most
``MAX_POINTS`` scatter points. The items travel with the test's record into the JSON report under
``tests[].series`` (``record.series_document``, docs/reports.md), and the HTML report
draws them. Numbers only: no pytest, no plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Points of an ROC or precision-recall curve (a fixed grid of false-positive rate or recall).
GRID = 101
#: Bootstrap resamples of the binned curves (multinomial over score bins: cost independent of n).
CURVE_RESAMPLES = 200
#: Score bins the curves are computed from (exact when there are fewer distinct scores).
SCORE_BINS = 1000
#: Scatter points kept of a regression's predicted-against-actual plot.
MAX_POINTS = 2000
#: Histogram bins for residuals, latencies and drifted numeric columns.
HIST_BINS = 40
#: Classes shown in a confusion matrix (more would be unreadable).
MAX_CLASSES = 30
#: Categories kept per categorical column in a drift chart (the most frequent ones).
MAX_CATEGORIES = 20
#: Columns that get a reference-against-current histogram in a drift chart.
MAX_DRIFT_HISTOGRAMS = 12

FloatArray = NDArray[np.float64]


def _r(x: Any, digits: int = 6) -> float | None:
    """A float rounded for the JSON file, None for NaN or infinity."""
    v = float(x)
    return round(v, digits) if math.isfinite(v) else None


def _list(a: Any, digits: int = 6) -> list[float | None]:
    return [_r(v, digits) for v in np.asarray(a, dtype=np.float64).ravel()]


def _wilson(k: FloatArray, n: FloatArray, z: float = 1.959964) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


# -- classification ----------------------------------------------------------------------------


def _binned(positive: NDArray[np.bool_], score: FloatArray, w: FloatArray | None
            ) -> tuple[FloatArray, FloatArray]:
    """Positives and negatives per score bin, bins ordered from the highest score down."""
    unique = np.unique(score)
    if unique.size <= SCORE_BINS:
        idx = np.searchsorted(unique, score)
        k = unique.size
    else:
        edges = np.unique(np.quantile(score, np.linspace(0, 1, SCORE_BINS + 1)[1:-1]))
        idx = np.searchsorted(edges, score, side="right")
        k = edges.size + 1
    weight = np.ones(score.size) if w is None else w
    pos = np.bincount(idx, weights=weight * positive, minlength=k)
    neg = np.bincount(idx, weights=weight * ~positive, minlength=k)
    return pos[::-1].astype(np.float64), neg[::-1].astype(np.float64)


def _roc_pr(pos: FloatArray, neg: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(tpr at the FPR grid, precision at the recall grid, AUC) of stacks of binned counts
    (r, bins), highest scores first."""
    grid = np.linspace(0, 1, GRID)
    tp = np.cumsum(pos, axis=1)
    fp = np.cumsum(neg, axis=1)
    p_tot, n_tot = tp[:, -1:], fp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.concatenate([np.zeros_like(p_tot), tp / p_tot], axis=1)
        fpr = np.concatenate([np.zeros_like(n_tot), fp / n_tot], axis=1)
        precision = tp / (tp + fp)
        recall = tp / p_tot
    roc = np.stack([np.interp(grid, f, t) for f, t in zip(fpr, tpr, strict=True)])
    auc = ((fpr[:, 1:] - fpr[:, :-1]) * (tpr[:, 1:] + tpr[:, :-1]) / 2).sum(axis=1)
    pr = np.stack([np.interp(grid, r, np.nan_to_num(p, nan=1.0), left=float(np.nan_to_num(p[0], nan=1.0)))
                   for r, p in zip(recall, precision, strict=True)])
    return roc, pr, np.asarray(auc, dtype=np.float64)


def binary_curves(positive: Any, score: Any, weight: Any = None, *, level: float = 0.95,
                  seed: int = 0) -> dict[str, Any]:
    """ROC and precision-recall curves with pointwise bootstrap bands at ``level``.

    Rows are resampled as a multinomial over (score bin, label) cells, which is the row bootstrap
    of the binned curve: its cost depends on the number of bins, not of rows."""
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    pos, neg = _binned(positive, score, w)
    roc, pr, auc = _roc_pr(pos[None, :], neg[None, :])
    cells = np.concatenate([pos, neg])
    rng = np.random.default_rng(seed)
    n = int(positive.size)
    draws = rng.multinomial(n, cells / cells.sum(), size=CURVE_RESAMPLES).astype(np.float64)
    k = pos.size
    ok = (draws[:, :k].sum(axis=1) > 0) & (draws[:, k:].sum(axis=1) > 0)
    b_roc, b_pr, _ = _roc_pr(draws[ok, :k], draws[ok, k:])
    tail = (1 - level) / 2 * 100
    grid = np.linspace(0, 1, GRID)
    prevalence = float(pos.sum() / cells.sum())
    return {
        "level": level, "resamples": int(ok.sum()),
        "roc": {"fpr": _list(grid, 4), "tpr": _list(roc[0], 4),
                "low": _list(np.percentile(b_roc, tail, axis=0), 4),
                "high": _list(np.percentile(b_roc, 100 - tail, axis=0), 4), "auc": _r(auc[0])},
        "pr": {"recall": _list(grid, 4), "precision": _list(pr[0], 4),
               "low": _list(np.percentile(b_pr, tail, axis=0), 4),
               "high": _list(np.percentile(b_pr, 100 - tail, axis=0), 4),
               "prevalence": _r(prevalence)},
    }


def reliability(y_true: Any, proba: Any, weight: Any = None) -> dict[str, Any]:
    """The reliability diagram of the top-label confidence, in the bins ``ece`` uses, with a
    Wilson interval of each bin's accuracy, and the ECE itself."""
    from pytest_mlgate.stats.metrics import ECE_BINS, confidence_bins

    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    idx, conf, top = confidence_bins(p)
    w = np.ones(y.size) if weight is None else np.asarray(weight, dtype=np.float64)
    total = np.bincount(idx, weights=w, minlength=ECE_BINS)
    hits = np.bincount(idx, weights=w * (top == y), minlength=ECE_BINS)
    sure = np.bincount(idx, weights=w * conf, minlength=ECE_BINS)
    rows = np.bincount(idx, minlength=ECE_BINS).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc, mean_conf = hits / total, sure / total
    low, high = _wilson(acc * rows, rows)
    ece = float(np.abs(hits - sure).sum() / total.sum())
    keep = rows > 0
    edges = np.linspace(0, 1, ECE_BINS + 1)
    return {"bins": ECE_BINS, "ece": _r(ece),
            "low": _list(edges[:-1][keep], 4), "high": _list(edges[1:][keep], 4),
            "n": [int(v) for v in rows[keep]], "confidence": _list(mean_conf[keep], 4),
            "accuracy": _list(acc[keep], 4), "accuracy_low": _list(low[keep], 4),
            "accuracy_high": _list(high[keep], 4)}


def confusion(y_true: Any, y_pred: Any, classes: Sequence[str], weight: Any = None) -> dict[str, Any] | None:
    """Counts of (true class, predicted class); None beyond ``MAX_CLASSES`` classes."""
    k = len(classes)
    if k > MAX_CLASSES or k < 2:
        return None
    cells = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    counts = np.bincount(cells, weights=None if weight is None else np.asarray(weight, dtype=np.float64),
                         minlength=k * k).reshape(k, k)
    return {"classes": [str(c) for c in classes],
            "counts": [[_r(v, 3) for v in row] for row in counts]}


def evaluation_items(samples: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], *,
                     level: float = 0.95, seed: int = 0, name: str = "evaluate") -> list[dict[str, Any]]:
    """Series items of one ``evaluate`` call from the per-sample arrays it computed
    (``EvaluationResult.samples``), using only the model outputs the metrics asked for."""
    overall = [samples[m] for m in metrics if m in samples]
    by_part: dict[str, Mapping[str, Any]] = {}
    for s in overall:
        if "score" in s:
            by_part.setdefault("scores", s)
        elif "proba" in s:
            by_part.setdefault("proba", s)
        elif "classes" in s:
            by_part.setdefault("predict", s)
        elif "y_pred" in s:
            by_part.setdefault("values", s)
    items: list[dict[str, Any]] = []
    if "values" in by_part:
        s = by_part["values"]
        items.append(regression(s["y_true"], s["y_pred"], seed=seed, name=name))
    if not ({"scores", "proba", "predict"} & set(by_part)):
        return items
    item: dict[str, Any] = {"kind": "classification", "name": name}
    proba = by_part.get("proba")
    if "scores" in by_part:
        s = by_part["scores"]
        item.update(n=len(s["y_true"]), curves=binary_curves(
            s["y_true"], s["score"], s.get("weight"), level=level, seed=seed))
    elif proba is not None and np.asarray(proba["proba"]).shape[1] == 2:
        p = np.asarray(proba["proba"])
        item.update(n=len(proba["y_true"]), curves=binary_curves(
            np.asarray(proba["y_true"]) == 1, p[:, 1], proba.get("weight"), level=level, seed=seed))
        item["positive"] = str(proba["classes"][-1])
    if proba is not None:
        item["n"] = len(proba["y_true"])
        item["reliability"] = reliability(proba["y_true"], proba["proba"], proba.get("weight"))
    pred = by_part.get("predict")
    if pred is not None:
        item["n"] = len(pred["y_true"])
        item["confusion"] = confusion(pred["y_true"], pred["y_pred"], list(pred["classes"]), pred.get("weight"))
    elif proba is not None:
        p = np.asarray(proba["proba"])
        item["confusion"] = confusion(proba["y_true"], np.argmax(p, axis=1), list(proba["classes"]),
                                      proba.get("weight"))
    return [*items, item]


def regression(y_true: Any, y_pred: Any, *, seed: int = 0, name: str = "evaluate") -> dict[str, Any]:
    """Predicted against actual (at most ``MAX_POINTS`` rows, drawn at random) and the residuals'
    histogram over all rows (1st to 99th percentile; the rest counted as outside)."""
    y = np.asarray(y_true, dtype=np.float64)
    f = np.asarray(y_pred, dtype=np.float64)
    n = y.size
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(n, MAX_POINTS, replace=False)) if n > MAX_POINTS else np.arange(n)
    resid = f - y
    lo, hi = np.percentile(resid, [1, 99]) if n >= 100 else (resid.min(), resid.max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(resid, bins=HIST_BINS, range=(float(lo), float(hi)))
    return {"kind": "regression", "name": name, "n": int(n),
            "actual": _list(y[keep]), "predicted": _list(f[keep]),
            "residuals": {"edges": _list(edges), "counts": [int(c) for c in counts],
                          "outside": int(n - counts.sum()), "mean": _r(resid.mean()),
                          "std": _r(resid.std())}}


# -- performance -------------------------------------------------------------------------------


def latency(timings_s: Any, name: str = "benchmark") -> dict[str, Any]:
    """A histogram of per-call latency in milliseconds (up to the 99.9th percentile)."""
    t = np.asarray(timings_s, dtype=np.float64) * 1e3
    lo, hi = (np.percentile(t, [0, 99.9]) if t.size else (0.0, 1.0))
    if not hi > lo:
        lo, hi = lo * 0.9, hi * 1.1 + 1e-6
    counts, edges = np.histogram(t, bins=HIST_BINS, range=(float(lo), float(hi)))
    return {"kind": "latency", "name": name, "unit": "ms", "n": int(t.size),
            "edges": _list(edges), "counts": [int(c) for c in counts],
            "outside": int(t.size - counts.sum())}


# -- drift -------------------------------------------------------------------------------------


def drift(result: Any, reference: Any, current: Any) -> dict[str, Any]:
    """Every column's effect against its threshold, and reference-against-current histograms (or
    category shares) for the drifted columns and the ones closest to drifting."""
    cols = list(result.columns)
    ranked = sorted(cols, key=lambda c: (not c.drifted, -(c.effect / c.threshold if c.threshold else 0.0)))
    shown = {c.name for c in ranked[:MAX_DRIFT_HISTOGRAMS] if c.drifted} or {
        c.name for c in ranked[:3]}
    out = []
    for c in cols:
        entry: dict[str, Any] = {"name": c.name, "kind": c.kind, "effect": _r(c.effect),
                                 "effect_name": c.effect_name, "threshold": _r(c.threshold),
                                 "p_adjusted": _r(c.p_adjusted), "drifted": bool(c.drifted)}
        if c.name in shown:
            entry["histogram"] = _drift_histogram(c.name, c.kind, reference, current)
        out.append(entry)
    return {"kind": "drift", "alpha": _r(result.alpha), "n_reference": int(result.n_reference),
            "n_current": int(result.n_current), "reference": result.reference_kind, "columns": out}


def _drift_histogram(name: str, kind: str, reference: Any, current: Any) -> dict[str, Any]:
    from pytest_mlgate.profiles import Profile, category_counts, numeric_values

    cur = current[name]
    if kind == "categorical":
        cats, counts = category_counts(cur)
        cur_map = dict(zip(cats, counts.tolist(), strict=True))
        if isinstance(reference, Profile):
            rp = reference.column(name)
            ref_map = dict(zip(rp.categories, rp.counts, strict=True))
        else:
            rc, rn = category_counts(reference[name])
            ref_map = dict(zip(rc, rn.tolist(), strict=True))
        names = sorted(set(ref_map) | set(cur_map), key=lambda k: -(ref_map.get(k, 0) + cur_map.get(k, 0)))
        names = names[:MAX_CATEGORIES]
        r_tot, c_tot = max(sum(ref_map.values()), 1), max(sum(cur_map.values()), 1)
        return {"categories": names, "reference": [_r(ref_map.get(k, 0) / r_tot, 5) for k in names],
                "current": [_r(cur_map.get(k, 0) / c_tot, 5) for k in names]}
    cur_v = numeric_values(cur)
    if isinstance(reference, Profile) and reference.column(name).hist_edges:
        rp = reference.column(name)
        edges = np.asarray(rp.hist_edges, dtype=np.float64)
        ref_counts = np.asarray(rp.hist_counts, dtype=np.float64)
    else:
        if isinstance(reference, Profile):  # few distinct values: stored exactly
            rp = reference.column(name)
            ref_v = np.repeat(np.asarray(rp.values, dtype=np.float64), np.asarray(rp.counts, dtype=np.int64))
        else:
            ref_v = numeric_values(reference[name])
        # The axis is the reference's range, as a profile's histogram is: then "current rows
        # outside the reference range" says what it means (an axis clipped at percentiles of
        # both counted rows outside the axis under that name, and hid reference rows).
        ref_fin = ref_v[np.isfinite(ref_v)]
        edges = np.histogram_bin_edges(ref_fin if ref_fin.size else np.zeros(1), bins=30)
        ref_counts = np.histogram(np.clip(ref_fin, edges[0], edges[-1]), bins=edges)[0].astype(np.float64)
    # Current values beyond the reference's range are counted in the end bins, and said so.
    cur_counts = np.histogram(np.clip(cur_v, edges[0], edges[-1]), bins=edges)[0].astype(np.float64)
    outside = int(((cur_v < edges[0]) | (cur_v > edges[-1])).sum())
    return {"edges": _list(edges), "reference": _list(ref_counts / max(ref_counts.sum(), 1), 5),
            "current": _list(cur_counts / max(cur_counts.sum(), 1), 5), "current_outside": outside}

