"""Behavioural checks with a bound: invariance, directional expectations, determinism.

A check counts the rows that violate the expectation and fails when the one-sided upper
Clopper-Pearson bound of the violation share exceeds ``max_rate``. One example proves little;
a bound over many rows says how often the model misbehaves, at a stated confidence.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from pytest_mlgate.errors import BehaviourError, ModelError
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.report.tables import fmt, render

__all__ = [
    "BehaviourResult",
    "check_deterministic",
    "check_directional",
    "check_invariant",
    "clopper_pearson",
]

Direction = Literal["increase", "decrease", "non_decreasing", "non_increasing"]
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "non_decreasing", "non_increasing")
_SHOW_ROWS = 5
_VERB = {"increase": "increase", "decrease": "decrease",
         "non_decreasing": "stay level or increase", "non_increasing": "stay level or decrease"}
_METRIC = {
    "invariance": "invariance_violation_rate",
    "directional": "directional_violation_rate",
    "determinism": "determinism_violation_rate",
}


@dataclass(frozen=True)
class BehaviourResult:
    """Outcome of one behavioural check. ``rate`` and ``upper_bound`` are shares (0..1);
    ``worst_rows`` is a DataFrame of the rows that changed most (position, before, after)."""

    passed: bool
    n: int
    n_violations: int
    rate: float
    upper_bound: float
    confidence: float
    message: str
    worst_rows: Any
    kind: str = "invariance"
    max_rate: float = 0.0
    lower_bound: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def measurement(self) -> Measurement:
        """The violation share with its one-sided Clopper-Pearson bounds at ``confidence``."""
        return Measurement(
            name=_METRIC[self.kind], value=self.rate, low=self.lower_bound,
            high=self.upper_bound, level=self.confidence, n=self.n, method="clopper_pearson",
            info={"violations": self.n_violations, "max_rate": self.max_rate,
                  "passed": self.passed, **self.info},
        )

    def raise_if_failed(self) -> None:
        """Raise ``AssertionError(message)`` when the check failed."""
        if not self.passed:
            raise AssertionError(self.message)


def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson (lower, upper) bounds of a share, each at ``confidence``."""
    from scipy.stats import beta

    lower = 0.0 if k == 0 else float(beta.ppf(1 - confidence, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))
    return lower, upper


def rows_needed(max_rate: float, confidence: float) -> int:
    """Rows needed for a check with no violations to pass: (1-max_rate)^n <= 1-confidence."""
    return math.ceil(math.log(1 - confidence) / math.log(1 - max_rate))


# ---------------------------------------------------------------------------------------------


def check_invariant(
    model: Any,
    X: Any,
    perturb: Callable[[Any], Any],
    *,
    max_rate: float = 0.01,
    confidence: float = 0.95,
    method: str = "predict",
    atol: float = 0.0,
) -> BehaviourResult:
    """Predictions must not change under ``perturb``.

    A row violates when its prediction changes by more than ``atol`` (labels: any change;
    ``predict_proba``: the largest change over the classes).
    """
    _check_bounds(max_rate, confidence)
    X2 = _perturbed(X, perturb)
    before = _outputs(model, X, method)
    after = _outputs(model, X2, method)
    missing = _no_answer(before) | _no_answer(after)
    change = np.where(missing, np.inf, _row_change(before, after))
    violated = (change > atol) | missing
    return _result("invariance", violated, change, before, after, X, max_rate, confidence,
                   f"{method} changed under {_name(perturb)}"
                   + (f" by more than {atol:g}" if atol else ""), missing=missing)


def check_directional(
    model: Any,
    X: Any,
    perturb: Callable[[Any], Any],
    direction: Direction,
    *,
    max_rate: float = 0.01,
    confidence: float = 0.95,
    method: str = "predict",
    output: int | None = None,
    atol: float = 0.0,
) -> BehaviourResult:
    """Predictions must move in ``direction`` under ``perturb``.

    "increase"/"decrease" need a change of more than ``atol``; "non_decreasing"/"non_increasing"
    tolerate ties and moves of up to ``atol`` the wrong way. ``output`` picks the column of a
    2-D output (default for ``predict_proba`` with two classes: the positive class, 1).
    """
    _check_bounds(max_rate, confidence)
    if direction not in DIRECTIONS:
        raise BehaviourError(f"check_directional: direction must be one of {DIRECTIONS}, "
                             f"got {direction!r}.")
    X2 = _perturbed(X, perturb)
    before = _column(_outputs(model, X, method), output, method)
    after = _column(_outputs(model, X2, method), output, method)
    delta = after - before
    if direction == "increase":
        violated = ~(delta > atol)
    elif direction == "decrease":
        violated = ~(delta < -atol)
    elif direction == "non_decreasing":
        violated = delta < -atol
    else:
        violated = delta > atol
    # How far each row went the wrong way: the most offending rows are shown first. A row with a
    # missing or infinite output before or after moved in no direction: it violates, first.
    wrong = -delta if direction in ("increase", "non_decreasing") else delta
    missing = _no_answer(before) | _no_answer(after)
    violated = violated | missing
    wrong = np.where(missing, np.inf, wrong)
    return _result("directional", violated, wrong, before, after, X, max_rate, confidence,
                   f"{method} did not {_VERB[direction]} under {_name(perturb)}",
                   missing=missing)


def check_deterministic(model: Any, X: Any, *, repeats: int = 2,
                        method: str = "predict") -> BehaviourResult:
    """The same input must give the same output on ``repeats`` calls (exactly). Any differing
    row fails the check, and so does a row without an answer (NaN, infinite, missing)."""
    if repeats < 2:
        raise BehaviourError(f"check_deterministic: repeats must be >= 2, got {repeats}.")
    first = _outputs(model, X, method)
    missing = _no_answer(first)
    change = np.where(missing, np.inf, 0.0)
    after = first
    for _ in range(repeats - 1):
        again = _outputs(model, X, method)
        if again.shape != first.shape:
            raise BehaviourError(f"check_deterministic: {method} returned shape {again.shape} "
                                 f"on a repeat, {first.shape} the first time.")
        gap = _no_answer(again)
        c = np.where(gap, np.inf, _row_change(first, again))
        missing |= gap
        worse = c > change
        if worse.any():
            after = np.where(_expand(worse, first.ndim), again, after)
        change = np.maximum(change, c)
    violated = (change > 0) | missing
    return _result("determinism", violated, change, first, after, X, 0.0, 0.95,
                   f"{method} differed between {repeats} identical calls",
                   require_zero=True, missing=missing)


# ---------------------------------------------------------------------------------------------


def _check_bounds(max_rate: float, confidence: float) -> None:
    if not 0.0 <= max_rate < 1.0:
        raise BehaviourError(f"max_rate must be in [0, 1), got {max_rate!r}.")
    if not 0.5 <= confidence < 1.0:
        raise BehaviourError(f"confidence must be in [0.5, 1), got {confidence!r}.")


def _name(fn: Any) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def _n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) == 0:
        raise BehaviourError(f"X must be an array or DataFrame with rows, got "
                             f"{type(X).__name__}.")
    return int(shape[0])


def _perturbed(X: Any, perturb: Callable[[Any], Any]) -> Any:
    """``perturb`` applied to a copy of ``X``; it may return a new object or edit the copy."""
    if not callable(perturb):
        raise BehaviourError(f"perturb must be a callable taking X, got {type(perturb).__name__}.")
    if _n_rows(X) == 0:
        raise BehaviourError("X has no rows; behavioural checks need data.")
    work = X.copy() if hasattr(X, "copy") else X
    out = perturb(work)
    X2 = work if out is None else out
    shape, shape2 = getattr(X, "shape", None), getattr(X2, "shape", None)
    if shape2 is None or tuple(shape2) != tuple(shape or ()):
        raise BehaviourError(
            f"perturb {_name(perturb)} changed the shape of X from {shape} to {shape2}; "
            "a perturbation must keep every row and column (edit values only)."
        )
    cols, cols2 = getattr(X, "columns", None), getattr(X2, "columns", None)
    if cols is not None and (cols2 is None or list(cols) != list(cols2)):
        raise BehaviourError(f"perturb {_name(perturb)} changed the columns of X; "
                             "keep the same columns in the same order.")
    _check_row_order(X, X2, perturb)
    return X2


def _check_row_order(X: Any, X2: Any, perturb: Callable[[Any], Any]) -> None:
    """Rows are compared by position. A pandas result whose index holds X's labels in another
    order has moved rows (``sample``, ``sort_values``): comparing it by position would pair
    different rows, so it is refused. A fresh index (a frame rebuilt from values) is fine."""
    index, index2 = getattr(X, "index", None), getattr(X2, "index", None)
    if index is None or index2 is None or index.equals(index2) or not index.is_unique:
        return
    if index2.is_unique and index.isin(index2).all():
        raise BehaviourError(
            f"perturb {_name(perturb)} reordered the rows of X (same index labels, another "
            "order); rows are compared by position, so keep them in place (edit values only, "
            "or put the rows back with .loc[X.index])."
        )


def _outputs(model: Any, X: Any, method: str) -> np.ndarray[Any, Any]:
    fn = getattr(model, method, None)
    if not callable(fn):
        raise ModelError(f"model {type(model).__name__} has no method {method!r}; pass "
                         "method='predict' or a method the model has.")
    out = np.asarray(fn(X))
    if out.ndim == 0 or out.shape[0] != _n_rows(X):
        raise ModelError(f"{type(model).__name__}.{method} returned shape {out.shape} for "
                         f"{_n_rows(X)} rows; expected one output per row.")
    return out


def _column(out: np.ndarray[Any, Any], output: int | None,
            method: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    if out.ndim == 2:
        if output is None:
            if out.shape[1] == 1:
                output = 0
            elif out.shape[1] == 2 and method == "predict_proba":
                output = 1
            else:
                raise BehaviourError(f"{method} returns {out.shape[1]} columns; choose the one "
                                     "whose direction is checked with output=<column index>.")
        if not -out.shape[1] <= output < out.shape[1]:
            raise BehaviourError(f"output={output} is out of range for {out.shape[1]} columns.")
        out = out[:, output]
    elif out.ndim != 1:
        raise BehaviourError(f"{method} returned a {out.ndim}-D output; directional checks need "
                             "one number per row.")
    if out.dtype.kind == "O":
        out = _object_numbers(out, method)
    if out.dtype.kind not in "biuf":
        raise BehaviourError(f"{method} returns {out.dtype} values; directional checks need "
                             "numbers (use predict_proba or decision_function for classifiers).")
    return np.asarray(out, dtype=np.float64)


def _object_numbers(out: np.ndarray[Any, Any], method: str) -> np.ndarray[Any, Any]:
    """Object values that are all real numbers or missing (pandas nullable Int64/Float64 give
    these) as floats, missing as NaN; anything else as it was."""
    import pandas as pd

    missing = np.asarray(pd.isna(out), dtype=bool)
    if not all(isinstance(v, numbers.Real) for v in out[~missing]):
        return out
    values = np.where(missing, np.nan, out)
    return values.astype(np.float64)


def _no_answer(out: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per row: a numeric output (a prediction, any class's probability, numbers held as
    objects) is missing or not finite somewhere. Such a row answered nothing, so it violates
    every check: a NaN never passes a gate. A missing *label* (None or pd.NA among strings) is a
    model's "no opinion" and compares equal to another missing label instead."""
    flat = out.reshape(out.shape[0], -1)
    if flat.dtype.kind in "fc":
        return np.asarray(~np.isfinite(flat).all(axis=1), dtype=bool)
    if flat.dtype.kind != "O":
        return np.zeros(flat.shape[0], dtype=bool)
    import pandas as pd

    missing = np.asarray(pd.isna(flat), dtype=bool)
    present = flat[~missing]
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present):
        return np.zeros(flat.shape[0], dtype=bool)  # labels
    bad = missing.copy()
    bad[~missing] = [not math.isfinite(float(v)) for v in present]
    return np.asarray(bad.any(axis=1), dtype=bool)


def _row_change(a: np.ndarray[Any, Any],
                b: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Per row: the largest absolute change for numbers, 1.0/0.0 for any change of labels."""
    a2 = a.reshape(a.shape[0], -1)
    b2 = b.reshape(b.shape[0], -1)
    if a2.dtype.kind in "biuf" and b2.dtype.kind in "biuf":
        x, y = a2.astype(np.float64), b2.astype(np.float64)
        with np.errstate(invalid="ignore"):
            d = np.abs(x - y)
        both_nan = np.isnan(x) & np.isnan(y)
        d = np.where(both_nan, 0.0, np.where(np.isnan(d), np.inf, d))
        out: np.ndarray[Any, np.dtype[np.float64]] = d.max(axis=1)
        return out
    if a2.dtype.kind in "US" and a2.dtype.kind == b2.dtype.kind:
        return np.asarray((a2 != b2).any(axis=1), dtype=np.float64)
    # Labels held as Python objects (pandas string, category and object columns give these): a
    # missing label (None, NaN, pd.NA) equals another missing one, as NaN == NaN for numbers.
    import pandas as pd

    a_missing = np.asarray(pd.isna(a2), dtype=bool)
    b_missing = np.asarray(pd.isna(b2), dtype=bool)
    differs = a_missing != b_missing
    both = ~(a_missing | b_missing)
    try:
        differs[both] = np.asarray(a2[both] != b2[both], dtype=bool)
    except (TypeError, ValueError):  # labels that are themselves arrays, or do not compare
        differs[both] = np.frompyfunc(_differ, 2, 1)(a2[both], b2[both]).astype(bool)
    return np.asarray(differs.any(axis=1), dtype=np.float64)


def _differ(a: Any, b: Any) -> bool:
    try:
        return not bool(np.all(a == b))
    except (TypeError, ValueError):  # values that cannot be compared are not the same answer
        return True


def _expand(mask: np.ndarray[Any, Any], ndim: int) -> np.ndarray[Any, Any]:
    return mask.reshape((-1,) + (1,) * (ndim - 1))


def _result(kind: str, violated: np.ndarray[Any, Any], score: np.ndarray[Any, Any],
            before: np.ndarray[Any, Any], after: np.ndarray[Any, Any], X: Any,
            max_rate: float, confidence: float, what: str,
            require_zero: bool = False,
            missing: np.ndarray[Any, Any] | None = None) -> BehaviourResult:
    n = int(violated.shape[0])
    k = int(np.count_nonzero(violated))
    n_missing = 0 if missing is None else int(np.count_nonzero(missing))
    if n_missing:
        what += (f" or gave no answer ({n_missing} row(s) with a NaN, infinite or missing "
                 "output, each a violation: a NaN never passes)")
    lower, upper = clopper_pearson(k, n, confidence)
    passed = k == 0 if require_zero else upper <= max_rate
    worst = _worst_rows(violated, score, before, after, X)
    rate = k / n
    if require_zero:
        head = (f"{kind}: {k} of {n} rows ({rate:.2%}) {what}" if k
                else f"{kind}: all {n} rows gave identical output")
    else:
        verdict = "<=" if passed else ">"
        head = (f"{kind}: {k} of {n} rows ({rate:.2%}) {what}; the {confidence:.0%} upper "
                f"bound of the violation rate is {upper:.2%} {verdict} max_rate {max_rate:.2%}")
        if not passed and k == 0 and max_rate > 0:
            head += (f". No row violated, but {n} rows cannot show a rate below "
                     f"{max_rate:.2%}: use at least {rows_needed(max_rate, confidence)} rows "
                     "or raise max_rate")
    message = head
    if k:
        message += "\nrows that changed the most:\n" + _render_rows(worst)
    return BehaviourResult(
        passed=passed, n=n, n_violations=k, rate=rate, upper_bound=upper,
        confidence=confidence, message=message, worst_rows=worst, kind=kind,
        max_rate=max_rate, lower_bound=lower,
        info={"no_answer": n_missing} if n_missing else {},
    )


def _worst_rows(violated: np.ndarray[Any, Any], score: np.ndarray[Any, Any],
                before: np.ndarray[Any, Any], after: np.ndarray[Any, Any], X: Any) -> Any:
    import pandas as pd

    idx = np.flatnonzero(violated)
    order = idx[np.argsort(-score[idx], kind="stable")][:_SHOW_ROWS]
    labels = list(X.index[order]) if isinstance(X, (pd.DataFrame, pd.Series)) else list(order)

    def show(v: Any) -> Any:
        # numpy values become Python ones; a label held as a Python object stays as it is.
        if isinstance(v, np.ndarray):
            return v.tolist()
        return v.item() if isinstance(v, np.generic) else v

    return pd.DataFrame({
        "row": labels,
        "before": [show(before[i]) for i in order],
        "after": [show(after[i]) for i in order],
        "change": [float(score[i]) for i in order],
    })


def _render_rows(rows: Any) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) if isinstance(x, float) else str(x) for x in v) + "]"
        return fmt(v) if isinstance(v, float) else str(v)

    body = [[cell(v) for v in r] for r in rows.itertuples(index=False)]
    return render(list(rows.columns), body)
