"""Metrics computed from predictions, with a vectorized kernel for resampling.

A metric name (scikit-learn scorer name or readable alias) resolves to a :class:`MetricSpec`:
which model output it needs, its direction, and how its interval is computed. The per-sample
data a metric needs (``samples``: labels, predictions, probabilities as numpy arrays) is turned
into a :class:`Kernel` that gives the point value and the value on many bootstrap resamples at
once. The same kernels serve the paired bootstrap in ``compare``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate.errors import DataError, UnknownMetricError
from pytest_mlgate.stats import influence, known_metrics
from pytest_mlgate.stats.influence import Linearized
from pytest_mlgate.stats.intervals import (
    BLOCK_ELEMENTS,
    FloatArray,
    delong,
    percentile_interval,
    wilson,
)

Output = Literal["predict", "proba", "scores", "values"]
Samples = dict[str, NDArray[Any]]
_EPS = float(np.finfo(np.float64).eps)

# Confusion-matrix metrics: rows are true classes, columns predicted. Binary ones use the
# positive class; "_macro"/"_micro"/"_weighted" average over classes as scikit-learn does.
_CONFUSION_BASES = ("precision", "recall", "f1", "jaccard")
_CONFUSION_OTHER = (
    "accuracy",
    "balanced_accuracy",
    "error_rate",
    "zero_one_loss",
    "hamming_loss",
    "matthews_corrcoef",
    "cohen_kappa",
)
_PROBA = ("log_loss", "neg_log_loss", "brier_score", "neg_brier_score")
_REGRESSION = {
    # name: (canonical formula, sign)
    "r2": ("r2", 1.0),
    "explained_variance": ("explained_variance", 1.0),
    "mse": ("mse", 1.0),
    "mean_squared_error": ("mse", 1.0),
    "neg_mean_squared_error": ("mse", -1.0),
    "rmse": ("rmse", 1.0),
    "root_mean_squared_error": ("rmse", 1.0),
    "neg_root_mean_squared_error": ("rmse", -1.0),
    "mae": ("mae", 1.0),
    "mean_absolute_error": ("mae", 1.0),
    "neg_mean_absolute_error": ("mae", -1.0),
    "mean_absolute_percentage_error": ("mape", 1.0),
    "neg_mean_absolute_percentage_error": ("mape", -1.0),
    "neg_mean_squared_log_error": ("msle", -1.0),
    "neg_root_mean_squared_log_error": ("rmsle", -1.0),
}
# Metrics without a closed-form resampling kernel: scikit-learn's function is called once per
# resample. name -> (sklearn function name, output, sign, takes sample_weight)
_GENERIC: dict[str, tuple[str, Output, float, bool]] = {
    "median_absolute_error": ("median_absolute_error", "values", 1.0, True),
    "neg_median_absolute_error": ("median_absolute_error", "values", -1.0, True),
    "max_error": ("max_error", "values", 1.0, False),
    "neg_max_error": ("max_error", "values", -1.0, False),
    "neg_mean_poisson_deviance": ("mean_poisson_deviance", "values", -1.0, True),
    "neg_mean_gamma_deviance": ("mean_gamma_deviance", "values", -1.0, True),
    "d2_absolute_error_score": ("d2_absolute_error_score", "values", 1.0, True),
    "roc_auc_ovo": ("roc_auc_score", "proba", 1.0, False),
    "roc_auc_ovo_weighted": ("roc_auc_score", "proba", 1.0, False),
    "top_k_accuracy": ("top_k_accuracy_score", "proba", 1.0, True),
    "d2_log_loss_score": ("d2_log_loss_score", "proba", 1.0, True),
    "adjusted_rand_score": ("adjusted_rand_score", "predict", 1.0, False),
    "rand_score": ("rand_score", "predict", 1.0, False),
    "mutual_info_score": ("mutual_info_score", "predict", 1.0, False),
    "adjusted_mutual_info_score": ("adjusted_mutual_info_score", "predict", 1.0, False),
    "normalized_mutual_info_score": ("normalized_mutual_info_score", "predict", 1.0, False),
    "homogeneity_score": ("homogeneity_score", "predict", 1.0, False),
    "completeness_score": ("completeness_score", "predict", 1.0, False),
    "v_measure_score": ("v_measure_score", "predict", 1.0, False),
    "fowlkes_mallows_score": ("fowlkes_mallows_score", "predict", 1.0, False),
}


@dataclass(frozen=True)
class MetricSpec:
    """How to compute one metric.

    ``name`` is the name as typed; ``canonical`` the formula; ``output`` the model output it
    needs ("predict" labels, "values" regression predictions, "proba" class probabilities,
    "scores" a binary ranking score from predict_proba or decision_function); ``family`` picks the
    kernel; ``sign`` is -1 for scikit-learn's ``neg_`` scorers.
    """

    name: str
    canonical: str
    direction: known_metrics.Direction
    output: Output
    family: str
    sign: float = 1.0

    @property
    def is_classification(self) -> bool:
        return self.output != "values"


def supported_names() -> list[str]:
    """Every metric name ``evaluate`` can compute."""
    names = set(_CONFUSION_OTHER) | set(_PROBA) | set(_REGRESSION) | set(_GENERIC)
    for base in _CONFUSION_BASES:
        names |= {base, *(f"{base}_{avg}" for avg in ("micro", "macro", "weighted"))}
    names |= {"roc_auc", "auc", "average_precision", "roc_auc_ovr", "roc_auc_ovr_weighted", "ece"}
    return sorted(names)


def resolve(name: str) -> MetricSpec:
    """The spec of metric ``name``; UnknownMetricError (with the closest names) otherwise."""
    direction = known_metrics.direction_of(known_metrics.ALIASES.get(name, name)) or known_metrics.direction_of(
        name
    )
    if name in _CONFUSION_OTHER or (
        name.split("_")[0] in _CONFUSION_BASES
        and (name in _CONFUSION_BASES or name.rsplit("_", 1)[-1] in ("micro", "macro", "weighted"))
    ):
        canonical = "error_rate" if name in ("zero_one_loss", "hamming_loss") else name
        return MetricSpec(name, canonical, direction or "higher", "predict", "confusion")
    if name in ("roc_auc", "auc"):
        return MetricSpec(name, "roc_auc", "higher", "scores", "ranking")
    if name == "average_precision":
        return MetricSpec(name, name, "higher", "scores", "ap")
    if name in ("roc_auc_ovr", "roc_auc_ovr_weighted"):
        return MetricSpec(name, name, "higher", "proba", "ovr")
    if name == "ece":
        return MetricSpec(name, name, "lower", "proba", "ece")
    if name in _PROBA:
        sign = -1.0 if name.startswith("neg_") else 1.0
        return MetricSpec(
            name, name.removeprefix("neg_"), direction or "lower", "proba", "proba", sign
        )
    if name in _REGRESSION:
        canonical, sign = _REGRESSION[name]
        return MetricSpec(name, canonical, direction or "higher", "values", "regression", sign)
    if name in _GENERIC:
        fn, output, sign, _ = _GENERIC[name]
        return MetricSpec(name, fn, direction or "higher", output, "generic", sign)
    close = known_metrics.closest_names(name) or []
    close = [c for c in close if c in supported_names()] or close
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    if name in known_metrics.METRICS:
        raise UnknownMetricError(
            f"metric {name!r} cannot be computed from a model's predictions by evaluate; "
            f"record it with mlgate.record({name!r}, value) instead.{hint}"
        )
    raise UnknownMetricError(
        f"unknown metric {name!r}: expected a scikit-learn scorer name such as 'accuracy', "
        f"'roc_auc', 'f1_macro', 'neg_log_loss', 'r2' or an alias ('log_loss', 'mse', 'mae', "
        f"'rmse').{hint}"
    )


def analytic_method(spec: MetricSpec, weighted: bool) -> str | None:
    """'wilson' or 'delong' where a closed-form interval applies, else None (see estimate)."""
    if weighted:
        return None
    if spec.canonical in ("accuracy", "error_rate", "precision", "recall"):
        return "wilson"
    if spec.canonical == "roc_auc":
        return "delong"
    return None


# ----------------------------------------------------------------------------- kernels


class Kernel:
    """A metric on fixed per-sample data: ``point()`` on all rows, ``resample(idx)`` on
    (block, n) row indices, vectorized over the block."""

    n: int

    def point(self) -> float:
        raise NotImplementedError

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        raise NotImplementedError

    def linearize(self) -> Linearized | None:
        """Value and per-row influence contributions, where the metric has them (else None)."""
        return None


def _weights_of(samples: Mapping[str, NDArray[Any]], n: int) -> FloatArray | None:
    w = samples.get("weight")
    return None if w is None else np.asarray(w, dtype=np.float64).reshape(n)


class ConfusionKernel(Kernel):
    def __init__(self, spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> None:
        yt = np.asarray(samples["y_true"], dtype=np.int64)
        yp = np.asarray(samples["y_pred"], dtype=np.int64)
        self.n = yt.size
        self.k = len(samples["classes"])
        self.cells = yt * self.k + yp
        self.w = _weights_of(samples, self.n)
        self.pos = int(samples["pos"]) if "pos" in samples else self.k - 1
        self.spec = spec
        if spec.canonical in _CONFUSION_BASES and self.k > 2:
            raise DataError(
                f"metric {spec.name!r} is for binary targets but the data has {self.k} classes; "
                f"use {spec.name + '_macro'!r} or {spec.name + '_weighted'!r}"
            )

    def _matrices(self, cells: NDArray[np.int64], w: FloatArray | None) -> FloatArray:
        b = cells.shape[0]
        kk = self.k * self.k
        flat = (cells + (np.arange(b, dtype=np.int64) * kk)[:, None]).ravel()
        counts = np.bincount(flat, weights=None if w is None else w.ravel(), minlength=b * kk)
        return counts.astype(np.float64).reshape(b, self.k, self.k)

    def point(self) -> float:
        c = self._matrices(self.cells[None, :], None if self.w is None else self.w[None, :])
        return float(confusion_metric(self.spec.canonical, c, self.pos)[0])

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        return confusion_metric(
            self.spec.canonical,
            self._matrices(self.cells[idx], None if self.w is None else self.w[idx]),
            self.pos,
        )

    def cell_counts(self) -> FloatArray:
        """Rows per (true, predicted) cell, flattened: (k * k,). Unweighted."""
        return np.bincount(self.cells, minlength=self.k * self.k).astype(np.float64)

    def metric_of(self, counts: FloatArray) -> FloatArray:
        """The metric of a stack of flattened cell counts (b, k * k)."""
        return confusion_metric(
            self.spec.canonical, counts.reshape(-1, self.k, self.k), self.pos
        )

    def counts(self) -> tuple[float, float]:
        """(successes, trials) behind a proportion metric, for Wilson intervals."""
        c = self._matrices(self.cells[None, :], None)[0]
        tp = c[self.pos, self.pos]
        name = self.spec.canonical
        if name == "accuracy":
            return float(np.trace(c)), float(c.sum())
        if name == "error_rate":
            return float(c.sum() - np.trace(c)), float(c.sum())
        if name == "precision":
            return float(tp), float(c[:, self.pos].sum())
        return float(tp), float(c[self.pos, :].sum())  # recall


def _div(a: FloatArray, b: FloatArray, fill: float = 0.0) -> FloatArray:
    """a / b with ``fill`` where b == 0 (scikit-learn's zero_division=0 convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(b != 0, a / np.where(b != 0, b, 1.0), fill)
    return np.asarray(out, dtype=np.float64)


def confusion_metric(name: str, c: FloatArray, pos: int) -> FloatArray:
    """Metric ``name`` of a stack of confusion matrices ``c`` (b, k, k); returns (b,)."""
    total = c.sum(axis=(1, 2))
    diag = np.diagonal(c, axis1=1, axis2=2)
    true_n = c.sum(axis=2)
    pred_n = c.sum(axis=1)
    if name == "accuracy":
        return _div(diag.sum(axis=1), total, math.nan)
    if name == "error_rate":
        return 1.0 - _div(diag.sum(axis=1), total, math.nan)
    if name == "balanced_accuracy":
        rec = _div(diag, true_n, math.nan)
        present = true_n > 0
        return _div(
            np.where(present, rec, 0.0).sum(axis=1), present.sum(axis=1).astype(float), math.nan
        )
    if name == "matthews_corrcoef":
        s = total
        cov = diag.sum(axis=1) * s - (true_n * pred_n).sum(axis=1)
        den = np.sqrt((s * s - (pred_n**2).sum(axis=1)) * (s * s - (true_n**2).sum(axis=1)))
        return _div(cov, den)
    if name == "cohen_kappa":
        po = _div(diag.sum(axis=1), total, math.nan)
        pe = _div((true_n * pred_n).sum(axis=1), total * total, math.nan)
        return _div(po - pe, 1.0 - pe)
    base, _, avg = name.partition("_")
    tp, fp, fn = diag, pred_n - diag, true_n - diag
    if not avg:
        tp, fp, fn = tp[:, pos], fp[:, pos], fn[:, pos]
    elif avg == "micro":
        tp, fp, fn = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
    if base == "precision":
        per = _div(tp, tp + fp)
    elif base == "recall":
        per = _div(tp, tp + fn)
    elif base == "f1":
        per = _div(2 * tp, 2 * tp + fp + fn)
    elif base == "jaccard":
        per = _div(tp, tp + fp + fn)
    else:  # pragma: no cover - resolve() admits only the names above
        raise ValueError(name)
    if avg in ("", "micro"):
        return per
    # Classes absent from both truth and prediction in a resample do not count, as in sklearn.
    present = (true_n + pred_n) > 0
    if avg == "macro":
        return _div(
            np.where(present, per, 0.0).sum(axis=1), present.sum(axis=1).astype(float), math.nan
        )
    return _div((per * true_n).sum(axis=1), true_n.sum(axis=1), math.nan)  # weighted


class _MeanKernel(Kernel):
    """The (weighted) mean of a per-sample loss, times ``sign``."""

    def __init__(self, values: FloatArray, w: FloatArray | None, sign: float = 1.0) -> None:
        self.v, self.w, self.sign, self.n = values, w, sign, values.size

    def point(self) -> float:
        m = np.average(self.v, weights=self.w)
        return float(self.sign * m)

    def linearize(self) -> Linearized:
        return influence.mean(self.v, self.w, self.sign)

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        if self.w is None:
            return np.asarray(self.sign * self.v[idx].mean(axis=1), dtype=np.float64)
        w = self.w[idx]
        return self.sign * _div((self.v[idx] * w).sum(axis=1), w.sum(axis=1), math.nan)


def _proba_kernel(spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> Kernel:
    yt = np.asarray(samples["y_true"], dtype=np.int64)
    p = np.asarray(samples["proba"], dtype=np.float64)
    n = yt.size
    if spec.canonical == "log_loss":
        loss = -np.log(np.clip(p[np.arange(n), yt], _EPS, 1 - _EPS))
    elif p.shape[1] == 2:
        loss = (p[:, 1] - (yt == 1)) ** 2
    else:
        onehot = np.zeros_like(p)
        onehot[np.arange(n), yt] = 1.0
        loss = ((p - onehot) ** 2).sum(axis=1)
    return _MeanKernel(loss, _weights_of(samples, n), spec.sign)


#: Equal-width bins of the top-label confidence for ``ece`` (and the reliability diagram).
ECE_BINS = 15


def confidence_bins(proba: FloatArray, bins: int = ECE_BINS) -> tuple[NDArray[np.intp], FloatArray, NDArray[np.intp]]:
    """(bin index, top-label confidence, predicted class) of each row of ``proba``: bins of
    equal width on [0, 1], the last one closed."""
    top = np.argmax(proba, axis=1)
    conf = proba[np.arange(proba.shape[0]), top]
    idx = np.minimum((conf * bins).astype(np.intp), bins - 1)
    return idx, conf, top


class _EceKernel(Kernel):
    """Expected calibration error: the row-weighted mean over confidence bins of
    |accuracy - mean confidence|, for the predicted (top-label) class."""

    def __init__(self, samples: Mapping[str, NDArray[Any]]) -> None:
        yt = np.asarray(samples["y_true"], dtype=np.int64)
        p = np.asarray(samples["proba"], dtype=np.float64)
        self.n = yt.size
        self.bin, conf, top = confidence_bins(p)
        w = _weights_of(samples, self.n)
        self.w = np.ones(self.n) if w is None else w
        # Per bin, |sum of (hit - confidence)| is |hits - summed confidence|: one sum per bin.
        self.gap = ((top == yt) - conf) * self.w

    def _ece(self, b: NDArray[np.intp], gap: FloatArray, total: FloatArray) -> FloatArray:
        k = b.shape[0]
        flat = (b + (np.arange(k, dtype=np.intp) * ECE_BINS)[:, None]).ravel()
        per_bin = np.bincount(flat, weights=gap.ravel(), minlength=k * ECE_BINS)
        return _div(np.abs(per_bin.reshape(k, ECE_BINS)).sum(axis=1), total, math.nan)

    def point(self) -> float:
        return float(self._ece(self.bin[None, :], self.gap[None, :], np.array([self.w.sum()]))[0])

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        return self._ece(self.bin[idx], self.gap[idx], self.w[idx].sum(axis=1))


class _RegressionKernel(Kernel):
    """Regression metrics from weighted sums of per-sample columns."""

    def __init__(self, spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> None:
        y = np.asarray(samples["y_true"], dtype=np.float64)
        f = np.asarray(samples["y_pred"], dtype=np.float64)
        self.n = y.size
        self.spec = spec
        w = _weights_of(samples, self.n)
        self.w = np.ones(self.n) if w is None else w
        kind = spec.canonical
        if kind in ("msle", "rmsle"):
            if (y < 0).any() or (f < 0).any():
                raise DataError(f"metric {spec.name!r} needs non-negative targets and predictions")
            y, f = np.log1p(y), np.log1p(f)
        e = f - y
        self._y, self._e = y, e
        if kind in ("r2", "explained_variance"):
            self.cols = [y, y * y, e, e * e]
        elif kind == "mae":
            self.cols = [np.abs(e)]
        elif kind == "mape":
            self.cols = [np.abs(e) / np.maximum(np.abs(y), _EPS)]
        else:
            self.cols = [e * e]

    def _finish(self, w: FloatArray, s: list[FloatArray]) -> FloatArray:
        kind = self.spec.canonical
        if kind in ("r2", "explained_variance"):
            sy, syy, se, see = s
            ss_tot = syy - _div(sy * sy, w)
            ss_res = see if kind == "r2" else see - _div(se * se, w)
            # scikit-learn's force_finite: constant target -> 1 if perfect else 0.
            perfect = np.where(ss_res <= 0, 1.0, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.where(
                    ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), perfect
                )
            return np.asarray(out, dtype=np.float64)
        m = _div(s[0], w, math.nan)
        if kind in ("rmse", "rmsle"):
            m = np.sqrt(m)
        return self.spec.sign * m

    def point(self) -> float:
        w = np.array([self.w.sum()])
        return float(self._finish(w, [np.array([(c * self.w).sum()]) for c in self.cols])[0])

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        w = self.w[idx]
        return self._finish(w.sum(axis=1), [(c[idx] * w).sum(axis=1) for c in self.cols])

    def linearize(self) -> Linearized:
        kind = self.spec.canonical
        w = self.w
        if kind in ("r2", "explained_variance"):
            total = float(w.sum())
            y, e = self._y, self._e
            b = (y - np.dot(w, y) / total) ** 2
            a = e * e if kind == "r2" else (e - np.dot(w, e) / total) ** 2
            # Centring on the weighted means is second order in the expansion: left out.
            return influence.one_minus_ratio(a, b, w)
        if kind in ("rmse", "rmsle"):
            return influence.root_mean(self.cols[0], w, self.spec.sign)
        return influence.mean(self.cols[0], w, self.spec.sign)


class _GroupedRanking(Kernel):
    """Binary ROC AUC or average precision under resampling: rows sorted once by score, tied
    scores grouped; a resample only changes how many times each row counts."""

    def __init__(
        self, positive: NDArray[np.bool_], score: FloatArray, w: FloatArray | None, kind: str
    ) -> None:
        self.n = positive.size
        order = np.argsort(score, kind="stable")
        s = score[order]
        starts = np.empty(self.n, dtype=bool)
        starts[:1] = True
        np.not_equal(s[1:], s[:-1], out=starts[1:])
        group_sorted = np.cumsum(starts) - 1
        self.g = np.empty(self.n, dtype=np.int64)
        self.g[order] = group_sorted
        self.n_groups = int(group_sorted[-1]) + 1 if self.n else 0
        self.pos = positive
        self._score = score
        self.w = np.ones(self.n) if w is None else w
        self.kind = kind

    def _counts(
        self, g: NDArray[np.int64], wpos: FloatArray, wneg: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        b = g.shape[0]
        flat = (g + (np.arange(b, dtype=np.int64) * self.n_groups)[:, None]).ravel()
        size = b * self.n_groups
        pos = np.bincount(flat, weights=wpos.ravel(), minlength=size).astype(np.float64)
        neg = np.bincount(flat, weights=wneg.ravel(), minlength=size).astype(np.float64)
        return pos.reshape(b, self.n_groups), neg.reshape(b, self.n_groups)

    def _finish(self, pos: FloatArray, neg: FloatArray) -> FloatArray:
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        if self.kind == "roc_auc":
            neg_below = np.cumsum(neg, axis=1) - neg
            u = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
            return _div(u, n_pos * n_neg, math.nan)
        # Average precision: thresholds at distinct scores, from the highest down.
        tp = np.cumsum(pos[:, ::-1], axis=1)[:, ::-1]
        pp = tp + np.cumsum(neg[:, ::-1], axis=1)[:, ::-1]
        prec = _div(tp, pp)
        return _div((pos * prec).sum(axis=1), n_pos, math.nan)

    def point(self) -> float:
        p = self.pos.astype(np.float64) * self.w
        return float(
            self._finish(*self._counts(self.g[None, :], p[None, :], (self.w - p)[None, :]))[0]
        )

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        w = self.w[idx]
        p = self.pos[idx] * w
        return self._finish(*self._counts(self.g[idx], p, w - p))

    def linearize(self) -> Linearized | None:
        if self.kind == "average_precision":
            if np.all(self.w == 1.0):
                jack = influence.average_precision_jackknife(self.g, self.n_groups, self.pos)
                if jack is not None:
                    return jack
            return influence.average_precision(self.g, self.n_groups, self.pos, self.w)
        if self.kind == "roc_auc" and np.all(self.w == 1.0):
            # DeLong's components are the AUC's influence values (unweighted only).
            d = delong(self.pos, self._score)
            return Linearized(d.auc, influence.roc_auc_components(self.pos, d.components, d.auc))
        return None


class _OvrKernel(Kernel):
    """One-vs-rest ROC AUC averaged over classes (macro, or weighted by prevalence)."""

    def __init__(self, spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> None:
        yt = np.asarray(samples["y_true"], dtype=np.int64)
        p = np.asarray(samples["proba"], dtype=np.float64)
        self.n = yt.size
        w = _weights_of(samples, self.n)
        present = np.unique(yt)
        if present.size < 2:
            raise DataError(f"metric {spec.name!r} needs at least two classes in y")
        self.parts = [(_GroupedRanking(yt == k, p[:, k], w, "roc_auc"), yt == k) for k in present]
        self.w = np.ones(self.n) if w is None else w
        self.unit_weights = w is None
        self.weighted = spec.name.endswith("_weighted")

    def _combine(self, aucs: FloatArray, prevalence: FloatArray) -> FloatArray:
        if not self.weighted:
            return np.asarray(np.nanmean(aucs, axis=1), dtype=np.float64)
        ok = np.isfinite(aucs)
        return _div(
            np.where(ok, aucs * prevalence, 0.0).sum(axis=1),
            np.where(ok, prevalence, 0.0).sum(axis=1),
            math.nan,
        )

    def point(self) -> float:
        aucs = np.array([[k.point() for k, _ in self.parts]])
        prev = np.array([[(self.w * m).sum() for _, m in self.parts]])
        return float(self._combine(aucs, prev)[0])

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        aucs = np.stack([k.resample(idx) for k, _ in self.parts], axis=1)
        prev = np.stack([(self.w[idx] * m[idx]).sum(axis=1) for _, m in self.parts], axis=1)
        return self._combine(aucs, prev)

    def linearize(self) -> Linearized | None:
        if not self.unit_weights:
            return None
        lins = [k.linearize() for k, _ in self.parts]
        if any(lin is None for lin in lins):
            return None
        aucs = np.array([lin.value for lin in lins if lin is not None])
        phis = np.stack([lin.phi for lin in lins if lin is not None])
        if not self.weighted:
            return Linearized(float(aucs.mean()), phis.mean(axis=0))
        # Prevalence weights vary with the sample too: their share of the expansion.
        member = np.stack([m for _, m in self.parts]).astype(np.float64)
        share = member.mean(axis=1)
        value = float(np.dot(share, aucs))
        phi = share @ phis + ((member - share[:, None]) / self.n * (aucs - value)[:, None]).sum(
            axis=0
        )
        return Linearized(value, phi)


class _GenericKernel(Kernel):
    """scikit-learn's own function, once per resample (no closed form to vectorize)."""

    def __init__(self, spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> None:
        import sklearn.metrics

        fn_name, output, sign, takes_weight = _GENERIC[spec.name]
        self.fn: Callable[..., float] = getattr(sklearn.metrics, fn_name)
        self.sign = sign
        self.y = np.asarray(samples["y_true"])
        self.f = np.asarray(samples["proba" if output == "proba" else "y_pred"])
        self.n = self.y.size
        self.w = _weights_of(samples, self.n)
        self.kwargs: dict[str, Any] = {}
        if output == "proba":
            self.kwargs["labels"] = np.arange(self.f.shape[1])
            if self.f.shape[1] == 2 and fn_name in ("roc_auc_score", "top_k_accuracy_score"):
                self.f = self.f[:, 1]
        if spec.name.startswith("roc_auc_ovo"):
            self.kwargs.update(
                multi_class="ovo", average="weighted" if spec.name.endswith("weighted") else "macro"
            )
            self.kwargs.pop("labels", None)
        if self.w is not None and not takes_weight:
            raise DataError(f"metric {spec.name!r} does not support sample_weight")
        self.takes_weight = takes_weight

    def _one(self, rows: NDArray[np.intp] | slice) -> float:
        kw = dict(self.kwargs)
        if self.w is not None:
            kw["sample_weight"] = self.w[rows]
        try:
            return float(self.sign * self.fn(self.y[rows], self.f[rows], **kw))
        except ValueError:
            return math.nan  # e.g. a resample that lost a class

    def point(self) -> float:
        kw = dict(self.kwargs)
        if self.w is not None:
            kw["sample_weight"] = self.w
        try:
            return float(self.sign * self.fn(self.y, self.f, **kw))
        except ValueError as exc:
            raise DataError(f"cannot compute this metric on the given data: {exc}") from exc

    def resample(self, idx: NDArray[np.intp]) -> FloatArray:
        return np.array([self._one(row) for row in idx], dtype=np.float64)


def kernel(spec: MetricSpec, samples: Mapping[str, NDArray[Any]]) -> Kernel:
    """The kernel of metric ``spec`` on per-sample data ``samples``."""
    if spec.family == "confusion":
        return ConfusionKernel(spec, samples)
    if spec.family == "proba":
        return _proba_kernel(spec, samples)
    if spec.family == "regression":
        return _RegressionKernel(spec, samples)
    if spec.family in ("ranking", "ap"):
        pos = np.asarray(samples["y_true"], dtype=bool)
        return _GroupedRanking(
            pos,
            np.asarray(samples["score"], dtype=np.float64),
            _weights_of(samples, pos.size),
            spec.canonical,
        )
    if spec.family == "ovr":
        return _OvrKernel(spec, samples)
    if spec.family == "ece":
        return _EceKernel(samples)
    return _GenericKernel(spec, samples)


@dataclass(frozen=True)
class Estimate:
    """A metric's value and interval (at ``level``) with how it was obtained."""

    value: float
    low: float
    high: float
    method: str
    info: dict[str, Any]


def multinomial_replicates(
    counts: FloatArray, stat: Callable[[FloatArray], FloatArray], n_boot: int, seed: int
) -> FloatArray:
    """``stat`` of ``n_boot`` multinomial redraws of the cell counts ``counts`` (c,).

    Resampling n rows with replacement and counting them per cell gives exactly this
    distribution, so a metric of the cell counts gets the row bootstrap's replicates at O(c)
    per replicate instead of O(n). ``stat`` maps (block, c) counts to (block,) values; draws
    are made in blocks of at most ``BLOCK_ELEMENTS`` counts.
    """
    total = round(float(counts.sum()))
    rng = np.random.default_rng(seed)
    p = counts / max(total, 1)
    block = max(1, min(n_boot, BLOCK_ELEMENTS // max(counts.size, 1)))
    parts = []
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        parts.append(stat(rng.multinomial(total, p, size=b).astype(np.float64)))
        done += b
    return np.concatenate(parts) if parts else np.empty(0)


def cells_beat_rows(cells: int, n: int) -> bool:
    """Whether resampling ``cells`` cell counts is cheaper than resampling ``n`` rows."""
    return cells <= n


def linear_interval(
    k: Kernel, lin: Linearized, *, level: float, n_boot: int, seed: int, method: str
) -> tuple[float, float, str, dict[str, Any]]:
    """The t interval of ``lin`` where it is trusted (see ``influence``), else the studentized
    bootstrap over rows with ``k`` recomputing the metric. Returns (low, high, method, info)."""
    info: dict[str, Any] = {"se": lin.se}
    if lin.t_ok() or lin.se == 0.0:
        lo, hi = lin.interval(level)
        return lo, hi, method, info
    reps = influence.studentized_replicates(lin, k.resample, n_boot=n_boot, seed=seed)
    lo, hi = percentile_interval(reps, level)
    info.update(n_boot=int(np.count_nonzero(np.isfinite(reps))), seed=seed,
                skewness=lin.skewness)
    return lo, hi, "bootstrap-t", info


# Method names for the t interval on influence values, per family (see docs/intervals.md).
_LINEAR_METHOD = {"proba": "t", "ap": "influence-logit", "ovr": "delong-ovr"}


def estimate(
    spec: MetricSpec,
    samples: Mapping[str, NDArray[Any]],
    *,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Value and confidence interval of ``spec`` on ``samples``.

    Per family (docs/intervals.md): Wilson for unweighted proportions, DeLong for unweighted
    binary ROC AUC, multinomial resampling of the confusion cells for other unweighted
    confusion-matrix metrics, a t interval on per-row influence values for means of losses,
    regression metrics, average precision and one-vs-rest AUC (bootstrap-t where the t interval
    is not trusted), otherwise a seeded percentile bootstrap of ``n_boot`` row resamples.
    """
    from pytest_mlgate.stats.intervals import bootstrap

    weighted = "weight" in samples
    method = analytic_method(spec, weighted)
    if spec.family == "ranking" or spec.family == "ap":
        pos = np.asarray(samples["y_true"], dtype=bool)
        if pos.all() or not pos.any():
            raise DataError(
                f"metric {spec.name!r} needs both classes in y, but y holds only one class "
                f"({pos.size} rows); evaluate on data with positives and negatives"
            )
    if method == "wilson":
        ck = ConfusionKernel(spec, samples)
        succ, trials = ck.counts()
        lo, hi = wilson(succ, trials, level)
        value = ck.point()
        return Estimate(value, lo, hi, method, {"successes": int(succ), "trials": int(trials)})
    if method == "delong":
        d = delong(
            np.asarray(samples["y_true"], dtype=bool),
            np.asarray(samples["score"], dtype=np.float64),
        )
        lo, hi = d.interval(level)
        return Estimate(d.auc, lo, hi, method, {"se": d.se, "n_pos": d.n_pos, "n_neg": d.n_neg})
    k = kernel(spec, samples)
    value = k.point()
    info: dict[str, Any]
    if isinstance(k, ConfusionKernel) and not weighted and cells_beat_rows(k.k * k.k, k.n):
        reps = multinomial_replicates(k.cell_counts(), k.metric_of, n_boot, seed)
        method = "multinomial-bootstrap"
    else:
        lin = k.linearize()
        if lin is not None and lin.n >= 3:
            name = lin.method or _LINEAR_METHOD.get(spec.family)
            if name is None:  # regression
                name = "t" if spec.canonical in ("mse", "mae", "mape", "msle") else "delta-t"
            lo, hi, method, info = linear_interval(
                k, lin, level=level, n_boot=n_boot, seed=seed, method=name
            )
            return Estimate(value, lo, hi, method, info)
        reps = bootstrap(k.resample, k.n, n_boot=n_boot, seed=seed)
        method = "bootstrap"
    lo, hi = percentile_interval(reps, level)
    info = {"n_boot": int(reps.size), "seed": seed}
    undefined = int(np.count_nonzero(~np.isfinite(reps)))
    if undefined:
        info["undefined_resamples"] = undefined
    return Estimate(value, lo, hi, method, info)


def subset(samples: Mapping[str, NDArray[Any]], rows: NDArray[Any]) -> Samples:
    """The per-sample data of ``rows`` (a boolean mask or indices); shared fields are kept."""
    return {k: (v if k in ("classes", "pos") else v[rows]) for k, v in samples.items()}
