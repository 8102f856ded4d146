"""``evaluate``: a model's metrics on held-out data, each with its confidence interval.

The model is called once per kind of output (one ``predict``, one ``predict_proba`` or
``decision_function``), whatever the number of metrics; every metric, slice and resample is then
computed from those outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate.errors import DataError, ModelError
from pytest_mlgate.measurement import Comparison, Measurement
from pytest_mlgate.stats.known_metrics import value_range
from pytest_mlgate.stats.metrics import MetricSpec, Samples, estimate, resolve, subset

_NEEDS_PROBA_FIX = (
    "wrap the model in sklearn.calibration.CalibratedClassifierCV, use a classifier that "
    "provides predict_proba (e.g. SVC(probability=True)), or drop the metric"
)


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` measured.

    ``measurements`` holds one Measurement per metric, named as typed, then one per
    (metric, slice) named ``"metric[slice]"`` with ``info["slice"]``/``info["parent"]``.
    ``samples`` maps each metric name (slices included) to the per-sample arrays a paired
    comparison needs.
    ``comparisons`` are the paired verdicts against ``against=`` (reference "champion").
    """

    measurements: list[Measurement]
    samples: dict[str, dict[str, NDArray[Any]]]
    fingerprint: str
    n: int
    comparisons: list[Comparison] = field(default_factory=list)
    skipped_slices: list[dict[str, Any]] = field(default_factory=list)
    champion_measurements: list[Measurement] = field(default_factory=list)

    def get(self, name: str) -> Measurement:
        """The measurement named ``name`` (``"accuracy"`` or ``"accuracy[slice]"``)."""
        for m in self.measurements:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def overall(self) -> list[Measurement]:
        """Measurements on all rows (no slices)."""
        return [m for m in self.measurements if "slice" not in m.info]

    def slices_of(self, metric: str) -> list[Measurement]:
        """Slice measurements of ``metric``, in slice order."""
        return [m for m in self.measurements if m.info.get("parent") == metric]

    def worst_slice(self, metric: str) -> Measurement | None:
        """The slice whose ``metric`` value is worst in the metric's direction, if any."""
        rows = self.slices_of(metric)
        if not rows:
            return None
        lower_better = rows[0].info.get("direction") == "lower"
        return (
            max(rows, key=lambda m: m.value) if lower_better else min(rows, key=lambda m: m.value)
        )


def _fingerprint(obj: Any) -> str:
    from pytest_mlgate.fingerprints import fingerprint

    return fingerprint(obj)


def _take_rows(X: Any, rows: NDArray[np.intp]) -> Any:
    """The rows ``rows`` (positions) of X, in a form ``fingerprint`` hashes: a frame or series
    keeps its index labels, so the same rows hash alike and different rows differently."""
    iloc = getattr(X, "iloc", None)
    if iloc is not None:
        return iloc[rows]
    if isinstance(X, np.ndarray):
        return X[rows]
    if isinstance(X, (list, tuple)):
        return [X[int(i)] for i in rows]
    raise TypeError(type(X).__name__)


def _slice_fingerprint(X: Any, y: NDArray[Any], weight: NDArray[np.float64] | None,
                       mask: NDArray[np.bool_], whole: str) -> str:
    """The fingerprint of a slice's own rows (features, labels, weights): a slice is compared
    with its baseline only when it holds the very rows it held then. An X whose rows cannot be
    taken apart is identified by the whole evaluation set's fingerprint and the row positions."""
    rows = np.flatnonzero(mask)
    try:
        taken = _take_rows(X, rows)
    except Exception:  # any container: the fallback below identifies the rows as well
        return _fingerprint({"evaluation_set": whole.encode(), "rows": rows.astype(np.int64)})
    parts = (taken, y[rows])
    return _fingerprint(parts if weight is None else (*parts, weight[rows]))


def _n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(X)
    except TypeError as exc:
        raise DataError(
            f"X must be an array, a DataFrame or a sequence of rows, got {type(X).__name__}"
        ) from exc


def _as_array(y: Any, what: str) -> NDArray[Any]:
    to_numpy = getattr(y, "to_numpy", None)
    arr = np.asarray(to_numpy() if callable(to_numpy) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(
            f"{what} must be one-dimensional (one value per row), got shape {arr.shape}"
        )
    return arr


def _missing(arr: NDArray[Any]) -> NDArray[np.bool_]:
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        return np.asarray(~np.isfinite(arr))
    if arr.dtype.kind == "O":
        import pandas as pd

        return np.asarray(pd.isna(arr), dtype=bool)
    return np.zeros(arr.shape[0] if arr.ndim else 0, dtype=bool)


def _check_missing(arr: NDArray[Any], what: str, fix: str) -> None:
    bad = _missing(arr)
    if bad.ndim > 1:
        bad = np.asarray(bad.any(axis=tuple(range(1, bad.ndim))), dtype=bool)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{what} contain {rows.size} missing or non-finite value(s) "
            f"(first at row {int(rows[0])}); {fix}"
        )


def _model_name(model: Any) -> str:
    return type(model).__name__


class _Outputs:
    """The model's outputs, each obtained by at most one call."""

    def __init__(self, model: Any, X: Any, n: int) -> None:
        self.model, self.X, self.n = model, X, n
        self._cache: dict[str, NDArray[Any]] = {}

    def _call(self, method: str, metric: str) -> NDArray[Any]:
        if method not in self._cache:
            fn = getattr(self.model, method, None)
            if not callable(fn):
                raise ModelError(
                    f"model {_model_name(self.model)} has no {method}(), "
                    f"needed for metric {metric!r}"
                )
            out = np.asarray(fn(self.X))
            if out.ndim == 0 or out.shape[0] != self.n:
                raise DataError(
                    f"{_model_name(self.model)}.{method}(X) returned "
                    f"{out.shape[0] if out.ndim else 0} "
                    f"rows for {self.n} rows of X; the model must return one prediction per row"
                )
            _check_missing(
                out,
                f"predictions of {_model_name(self.model)}.{method}(X)",
                "check the model's inputs for missing values or impute them",
            )
            self._cache[method] = out
        return self._cache[method]

    def predict(self, metric: str) -> NDArray[Any]:
        out = self._call("predict", metric)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim != 1:
            raise DataError(
                f"{_model_name(self.model)}.predict(X) returned shape {out.shape}, but metric "
                f"{metric!r} needs one prediction per row (shape ({self.n},)): a model with "
                "several outputs is evaluated one output at a time (wrap it so predict returns "
                "one column), and class probabilities belong in predict_proba")
        return out

    def proba(self, metric: str) -> NDArray[np.float64]:
        if not callable(getattr(self.model, "predict_proba", None)):
            raise ModelError(
                f"metric {metric!r} needs class probabilities but model {_model_name(self.model)} "
                f"has no predict_proba(); {_NEEDS_PROBA_FIX}"
            )
        raw = self._call("predict_proba", metric)
        if raw.ndim > 2:
            raise DataError(
                f"{_model_name(self.model)}.predict_proba(X) returned shape {raw.shape}, but "
                f"metric {metric!r} needs one row of class probabilities per row of X "
                f"(shape ({self.n}, n_classes))")
        p = np.asarray(raw, dtype=np.float64)
        p = p if p.ndim == 2 else np.stack([1 - p, p], axis=1)
        _check_probabilities(p, raw.dtype, f"{_model_name(self.model)}.predict_proba(X)", metric)
        return p

    def scores(self, metric: str) -> NDArray[np.float64]:
        """A binary ranking score for the positive (greater) class."""
        if callable(getattr(self.model, "predict_proba", None)):
            p = self.proba(metric)
            if p.shape[1] != 2:
                raise DataError(
                    f"metric {metric!r} is for binary targets but the model predicts {p.shape[1]} "
                    f"classes; use 'roc_auc_ovr' (or 'roc_auc_ovr_weighted')"
                )
            return p[:, 1]
        if callable(getattr(self.model, "decision_function", None)):
            d = np.asarray(self._call("decision_function", metric), dtype=np.float64)
            if d.ndim == 2:
                raise DataError(f"metric {metric!r} is for binary targets; use 'roc_auc_ovr'")
            return d
        raise ModelError(
            f"metric {metric!r} needs scores but model {_model_name(self.model)} has neither "
            f"predict_proba() nor decision_function(); {_NEEDS_PROBA_FIX}"
        )


def _check_probabilities(p: NDArray[np.float64], dtype: np.dtype[Any], what: str, metric: str) -> None:
    """Probabilities are in [0, 1] and each row sums to 1, within the rounding of the model's
    own float type (scikit-learn's rule): a log loss of values outside [0, 1] or of rows that
    do not sum to 1 is a number with no meaning, and clipping it can pass a gate."""
    eps = float(np.finfo(dtype if np.issubdtype(dtype, np.floating) else np.float64).eps)
    tol = math.sqrt(eps)
    bad = np.flatnonzero(((p < -tol) | (p > 1 + tol)).any(axis=1))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"metric {metric!r}: {what} returned {bad.size} row(s) with probabilities outside "
            f"[0, 1] (first at row {row}: {np.round(p[row], 6).tolist()}); return class "
            "probabilities (a softmax or sigmoid of the scores), not raw scores")
    sums = p.sum(axis=1)
    bad = np.flatnonzero(~np.isclose(sums, 1.0, rtol=0.0, atol=tol * p.shape[1]))
    if bad.size:
        row = int(bad[0])
        raise DataError(
            f"metric {metric!r}: {what} returned {bad.size} row(s) whose probabilities do not "
            f"sum to 1 (first at row {row}: {np.round(p[row], 6).tolist()}, sum "
            f"{float(sums[row]):.6g}); return one probability per class that sum to 1 per row")


def _classes(*arrays: NDArray[Any]) -> NDArray[Any]:
    try:
        return np.unique(np.concatenate([np.asarray(a).ravel() for a in arrays]))
    except TypeError as exc:
        raise DataError(
            f"labels mix types that cannot be ordered ({exc}); use one type for y and predictions"
        ) from exc


def _codes(values: NDArray[Any], classes: NDArray[Any], what: str) -> NDArray[np.int32]:
    idx = np.searchsorted(classes, values)
    idx = np.clip(idx, 0, len(classes) - 1)
    if not np.array_equal(classes[idx], values):
        unknown = values[classes[idx] != values][:3]
        raise DataError(
            f"{what} hold label(s) {list(unknown)} unknown to the model's classes {list(classes)}"
        )
    return idx.astype(np.int32)


def _sorted_order(classes: NDArray[Any]) -> NDArray[np.intp] | None:
    """The permutation that sorts a model's ``classes_``; None when they are sorted already."""
    try:
        order = np.argsort(classes, kind="stable")
    except TypeError as exc:
        raise DataError(
            f"the model's classes_ {list(classes)[:5]} mix types that cannot be ordered; "
            "use one type of label"
        ) from exc
    if np.unique(classes).size != classes.size:
        raise DataError(f"the model's classes_ {list(classes)[:10]} repeat a class")
    return None if bool((order == np.arange(order.size)).all()) else order


def _class_names(classes: NDArray[Any]) -> NDArray[np.str_]:
    return np.asarray([str(c) for c in classes], dtype=np.str_)


def _model_classes(model: Any) -> NDArray[Any] | None:
    c = getattr(model, "classes_", None)
    return None if c is None else np.asarray(c)


def _samples_for(spec: MetricSpec, y: NDArray[Any], out: _Outputs, model: Any) -> Samples:
    """The per-sample arrays metric ``spec`` needs, from the (cached) model outputs."""
    name = spec.name
    if spec.output == "values":
        try:
            yf = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"metric {name!r} is a regression metric but y is not numeric ({y.dtype})"
            ) from exc
        pred = out.predict(name)
        try:
            pf = pred.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"metric {name!r} needs numeric predictions, got {pred.dtype}") from exc
        return {"y_true": yf, "y_pred": pf}
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise DataError(
            f"metric {name!r} is a classification metric but y holds continuous values; "
            f"use a regression metric such as 'r2' or 'mse'"
        )
    mc = _model_classes(model)
    if spec.output == "predict":
        pred = out.predict(name)
        classes = _classes(y, pred, *([] if mc is None else [mc]))
        dt = np.int16 if len(classes) < 2**15 else np.int32
        return {
            "y_true": _codes(y, classes, "y").astype(dt),
            "y_pred": _codes(pred, classes, "predictions").astype(dt),
            "classes": _class_names(classes),
        }
    if spec.output == "scores":
        classes = mc if mc is not None else _classes(y)
        if len(np.unique(y)) > 2 or len(classes) > 2:
            raise DataError(
                f"metric {name!r} is for binary targets but y has more than two classes; "
                "use 'roc_auc_ovr'"
            )
        score = out.scores(name).astype(np.float64)
        if mc is not None and len(mc) == 2 and _sorted_order(mc) is not None:
            # The model's score is for classes_[1]; the positive class is the greater label,
            # classes_[0] here, whose score ranks in the opposite order.
            return {"y_true": y == mc[0], "score": -score}
        positive = y == classes[-1]
        return {"y_true": positive, "score": score}
    proba = out.proba(name)
    classes = mc if mc is not None else np.arange(proba.shape[1])
    if len(classes) != proba.shape[1]:
        raise DataError(
            f"predict_proba returned {proba.shape[1]} columns for {len(classes)} classes"
        )
    # Column j of predict_proba is classes_[j], in whatever order the model keeps them: put
    # both in sorted order, which the label codes (and a baseline's samples) are read in.
    order = _sorted_order(classes)
    if order is not None:
        classes, proba = classes[order], proba[:, order]
    return {
        "y_true": _codes(y, classes, "y").astype(np.int32),
        "proba": proba,
        "classes": _class_names(classes),
    }


def _slice_masks(
    X: Any, slices: str | Mapping[str, Any], n: int
) -> list[tuple[str, NDArray[np.bool_]]]:
    if isinstance(slices, str):
        columns = getattr(X, "columns", None)
        if columns is None or slices not in columns:
            raise DataError(
                f"slices={slices!r} names a column, but X "
                + ("has no such column" if columns is not None else "is not a DataFrame")
                + "; pass a DataFrame with that column or a mapping of slice name to boolean mask"
            )
        col = _as_array(X[slices], f"column {slices!r}")
        missing = _missing(col)
        out: list[tuple[str, NDArray[np.bool_]]] = []
        present = col[~missing]
        for value in _classes(present) if present.size else []:
            out.append((f"{slices}={value}", np.asarray(col == value) & ~missing))
        if missing.any():
            out.append((f"{slices}=<missing>", missing))
        return out
    result = []
    for name, mask in slices.items():
        m = _as_array(mask, f"slice {name!r}")
        if m.dtype != bool or m.shape[0] != n:
            raise DataError(
                f"slice {name!r} must be a boolean mask with one value per row ({n}), "
                f"got dtype {m.dtype} and {m.shape[0]} values"
            )
        result.append((str(name), m))
    return result


def evaluate(
    model: Any,
    X: Any,
    y: Any,
    metrics: Sequence[str],
    *,
    sample_weight: Any = None,
    slices: str | Mapping[str, Any] | None = None,
    against: Any = None,
    level: float = 0.95,
    seed: int = 0,
    n_boot: int = 1000,
    min_slice_size: int = 30,
    alpha: float = 0.05,
    margins: Mapping[str, float] | None = None,
) -> EvaluationResult:
    """Compute ``metrics`` of ``model`` on (X, y) with ``level`` confidence intervals.

    Slices smaller than ``min_slice_size`` rows are skipped and listed in ``skipped_slices``.
    With ``against=champion`` the champion is evaluated on the same rows and each metric gets a
    paired verdict (``margins`` per metric, default 0; one-sided tests at ``alpha``).
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics:
        raise DataError("no metrics to evaluate: name them on the marker or pass metrics=[...]")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, got {level!r}")
    specs = [resolve(m) for m in metrics]
    y_arr = _as_array(y, "y")
    n = y_arr.shape[0]
    if n == 0:
        raise DataError("y is empty: evaluate needs at least one row")
    n_x = _n_rows(X)
    if n_x != n:
        raise DataError(
            f"X has {n_x} rows but y has {n}; pass features and labels of the same rows"
        )
    _check_missing(y_arr, "labels y", "drop or fill the rows with missing labels before evaluating")
    weight: NDArray[np.float64] | None = None
    if sample_weight is not None:
        weight = _as_array(sample_weight, "sample_weight").astype(np.float64)
        if weight.shape[0] != n:
            raise DataError(f"sample_weight has {weight.shape[0]} values but y has {n}")
        if not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
            raise DataError("sample_weight must be finite, non-negative and not all zero")
    fp = _fingerprint((X, y_arr) if weight is None else (X, y_arr, weight))

    def run(m: Any) -> dict[str, Samples]:
        outputs = _Outputs(m, X, n)
        per: dict[str, Samples] = {}
        for spec in specs:
            s = _samples_for(spec, y_arr, outputs, m)
            if weight is not None:
                s["weight"] = weight
            per[spec.name] = s
        return per

    samples = run(model)
    measurements: list[Measurement] = []
    for spec in specs:
        measurements.append(
            _measure(spec, samples[spec.name], n, level, n_boot, seed, {"fingerprint": fp})
        )
    skipped: list[dict[str, Any]] = []
    slice_samples: dict[str, Samples] = {}
    if slices is not None:
        for sname, mask in _slice_masks(X, slices, n):
            size = int(mask.sum())
            if size < min_slice_size:
                skipped.append(
                    {
                        "slice": sname,
                        "n": size,
                        "reason": f"{size} rows < min_slice_size {min_slice_size}",
                    }
                )
                continue
            slice_fp = _slice_fingerprint(X, y_arr, weight, mask, fp)
            for spec in specs:
                info = {"slice": sname, "parent": spec.name, "n": size, "fingerprint": slice_fp}
                part = subset(samples[spec.name], mask)
                name = f"{spec.name}[{sname}]"
                try:
                    sm = _measure(spec, part, size, level, n_boot, seed, info, name=name)
                    if sm.info.get("trials") == 0:
                        # precision with no predicted positive, recall with no positive: the
                        # value is a zero_division convention, not a measurement.
                        raise DataError(f"{spec.name} is undefined on this slice: it has no "
                                        f"row to count ({sm.info.get('successes', 0)}/0)")
                    measurements.append(sm)
                except DataError as exc:
                    skipped.append(
                        {"slice": sname, "n": size, "metric": spec.name, "reason": str(exc)}
                    )
                    continue
                # Kept for paired comparisons of the slice with its baseline.
                slice_samples[name] = part
    comparisons: list[Comparison] = []
    champion: list[Measurement] = []
    if against is not None:
        from pytest_mlgate.stats.compare import compare

        ref_samples = run(against)
        for spec, current in zip(specs, measurements, strict=False):
            ref = _measure(
                spec,
                ref_samples[spec.name],
                n,
                level,
                n_boot,
                seed,
                {"fingerprint": fp, "model": _model_name(against)},
            )
            champion.append(ref)
            comparisons.append(
                compare(
                    current,
                    ref,
                    direction=spec.direction,
                    margin=float((margins or {}).get(spec.name, 0.0)),
                    alpha=alpha,
                    current_samples=samples[spec.name],
                    reference_samples=ref_samples[spec.name],
                    reference_kind="champion",
                    current_fingerprint=fp,
                    reference_fingerprint=fp,
                    n_boot=max(n_boot, 1000),
                    seed=seed,
                )
            )
    return EvaluationResult(
        measurements, {**samples, **slice_samples}, fp, n, comparisons, skipped, champion
    )


def _measure(
    spec: MetricSpec,
    s: Samples,
    n: int,
    level: float,
    n_boot: int,
    seed: int,
    info: dict[str, Any],
    name: str | None = None,
) -> Measurement:
    est = estimate(spec, s, level=level, n_boot=n_boot, seed=seed)
    full = {"direction": spec.direction, **info, **est.info}
    if spec.family == "confusion" and "classes" in s and len(s["classes"]) == 2:
        full["pos_label"] = str(s["classes"][-1])
    low, high = est.low, est.high
    bounds = value_range(spec.name)
    if bounds is not None:  # the true value lies in the range, so cutting there loses no coverage
        low = max(low, bounds[0]) if low == low else low
        high = min(high, bounds[1]) if high == high else high
    return Measurement(name or spec.name, est.value, low, high, level, n, est.method, full)
