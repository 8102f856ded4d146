"""Regression verdicts: is the current metric worse than the reference (a baseline or a champion)?

The question is one of non-inferiority with a margin ``m`` (metric units, >= 0). With
``delta`` = improvement of current over reference (current - reference for higher-is-better
metrics, reference - current for lower-is-better ones):

- FAIL: ``delta < -m`` with significance (one-sided test at ``alpha``);
- IMPROVED: ``delta > +m`` with significance;
- INCONCLUSIVE (only when ``m > 0``): neither, and the data cannot rule out ``delta <= -m``;
- PASS: otherwise.

With ``m == 0`` a drop "larger than zero" can never be ruled out, so there is no inconclusive
band: the gate fails on a significant drop and passes otherwise.

Tests, best first: paired (same evaluation data, per-sample data on both sides) - exact McNemar
(m == 0) or Tango's score test (m > 0) on the discordant pairs for accuracy/error rate/recall,
paired DeLong for ROC AUC, paired bootstrap otherwise; unpaired normal test from the two
intervals when only summaries exist; a plain comparison of values ("point") when a side has no
interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.measurement import Comparison, Measurement, Verdict
from pytest_mlgate.stats.intervals import delong, delong_paired, resample_blocks, z_value


class _Summary(Protocol):
    @property
    def value(self) -> float: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def level(self) -> float | None: ...
    @property
    def n(self) -> int | None: ...


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


class _Test:
    """p-values of the three one-sided questions, as functions of the margin point."""

    def __init__(
        self,
        delta: float,
        method: str,
        p_below: Callable[[float], float],
        p_above: Callable[[float], float],
        interval: tuple[float, float],
    ) -> None:
        self.delta = delta  # estimated improvement (oriented)
        self.method = method
        self.p_below = p_below  # p-value against H0: delta >= d0 (small: delta < d0)
        self.p_above = p_above  # p-value against H0: delta <= d0 (small: delta > d0)
        self.interval = interval  # oriented interval of delta at level 1 - 2 alpha


def _normal_test(delta: float, se: float, alpha: float, method: str) -> _Test:
    if se <= 0 or not math.isfinite(se):
        return _point_test(delta, method)
    z = z_value(1 - 2 * alpha)
    return _Test(
        delta,
        method,
        lambda d0: _phi((delta - d0) / se),
        lambda d0: _phi((d0 - delta) / se),
        (delta - z * se, delta + z * se),
    )


def _point_test(delta: float, method: str = "point") -> _Test:
    return _Test(
        delta,
        method,
        lambda d0: 0.0 if delta < d0 else 1.0,
        lambda d0: 0.0 if delta > d0 else 1.0,
        (delta, delta),
    )


def _mcnemar_test(better: int, worse: int, n: int, alpha: float) -> _Test:
    """Paired proportions: ``better`` rows only the current side gets right, ``worse`` rows only
    the reference gets right, out of ``n``. Exact binomial at d0 == 0, Tango (1998) score test
    for a non-zero margin."""
    from scipy.stats import binom

    b, c = better, worse
    delta = (b - c) / n if n else 0.0

    def tango_z(d0: float) -> float:
        a_ = 2.0 * n
        b_ = -b - c + (2.0 * n - b + c) * d0
        c_ = -c * d0 * (1.0 - d0)
        p21 = (math.sqrt(max(b_ * b_ - 4.0 * a_ * c_, 0.0)) - b_) / (2.0 * a_)
        var = n * (2.0 * p21 + d0 * (1.0 - d0))
        if var <= 0:
            return (
                math.inf if (b - c - n * d0) > 0 else (-math.inf if (b - c - n * d0) < 0 else 0.0)
            )
        return (b - c - n * d0) / math.sqrt(var)

    def p_below(d0: float) -> float:
        if d0 == 0.0:
            return float(binom.sf(c - 1, b + c, 0.5)) if b + c else 1.0
        return _phi(tango_z(d0))

    def p_above(d0: float) -> float:
        if d0 == 0.0:
            return float(binom.sf(b - 1, b + c, 0.5)) if b + c else 1.0
        return _phi(-tango_z(d0))

    se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n if n else 0.0
    z = z_value(1 - 2 * alpha)
    method = "mcnemar-exact" if b + c < 10**7 else "mcnemar"
    return _Test(delta, method, p_below, p_above, (delta - z * se, delta + z * se))


def _bootstrap_test(reps: NDArray[np.float64], delta: float, alpha: float) -> _Test:
    r = reps[np.isfinite(reps)]
    if r.size == 0:
        return _point_test(delta)
    nb = r.size
    lo, hi = np.percentile(r, [100 * alpha, 100 * (1 - alpha)])
    return _Test(
        delta,
        "paired-bootstrap",
        lambda d0: (np.count_nonzero(r >= d0) + 1) / (nb + 1),
        lambda d0: (np.count_nonzero(r <= d0) + 1) / (nb + 1),
        (float(lo), float(hi)),
    )


def _summary_se(m: _Summary) -> float | None:
    if m.low is None or m.high is None or not (math.isfinite(m.low) and math.isfinite(m.high)):
        return None
    return (m.high - m.low) / (2.0 * z_value(m.level or 0.95))


def _remap(samples: Mapping[str, NDArray[Any]], union: list[str]) -> dict[str, NDArray[Any]]:
    """Re-encode class codes of ``samples`` against the class list ``union``."""
    classes = [str(c) for c in samples["classes"]]
    lut = np.array([union.index(c) for c in classes], dtype=np.int64)
    out = dict(samples)
    for key in ("y_true", "y_pred"):
        if key in out and np.asarray(out[key]).dtype.kind in "iu":
            out[key] = lut[np.asarray(out[key], dtype=np.int64)]
    out["classes"] = np.asarray(union, dtype=np.str_)
    return out


def _aligned(
    cur: Mapping[str, NDArray[Any]], ref: Mapping[str, NDArray[Any]]
) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[Any]]] | None:
    """Both sides on one class encoding, or None when they are not the same rows and labels."""
    cur, ref = dict(cur), dict(ref)
    if "classes" in cur and "classes" in ref:
        if "proba" in cur or "proba" in ref:
            if not np.array_equal(cur["classes"], ref["classes"]):
                return None
        elif [str(c) for c in cur["classes"]] != [str(c) for c in ref["classes"]]:
            # Classes in order of appearance, current first: the positive class stays last
            # whenever both sides are binary on the same labels.
            union = list(dict.fromkeys([*map(str, cur["classes"]), *map(str, ref["classes"])]))
            cur, ref = _remap(cur, union), _remap(ref, union)
    yc, yr = cur.get("y_true"), ref.get("y_true")
    if yc is None or yr is None or np.shape(yc) != np.shape(yr) or not np.array_equal(yc, yr):
        return None
    wc, wr = cur.get("weight"), ref.get("weight")
    if wc is None or wr is None:
        return (cur, ref) if wc is None and wr is None else None
    if not np.array_equal(wc, wr):
        return None
    return cur, ref


def _paired_test(
    metric: str,
    cur: Mapping[str, NDArray[Any]],
    ref: Mapping[str, NDArray[Any]],
    sign: float,
    alpha: float,
    n_boot: int,
    seed: int,
) -> _Test | None:
    from pytest_mlgate.stats.metrics import kernel, resolve

    try:
        spec = resolve(metric)
    except MlgateError:
        return None
    pair = _aligned(cur, ref)
    if pair is None:
        return None
    cur, ref = pair
    weighted = "weight" in cur
    if (
        spec.family == "confusion"
        and spec.canonical in ("accuracy", "error_rate", "recall")
        and not weighted
    ):
        yt = np.asarray(cur["y_true"])
        if spec.canonical == "recall":
            if len(cur["classes"]) > 2:
                return None
            rows = yt == len(cur["classes"]) - 1
        else:
            rows = np.ones(yt.shape[0], dtype=bool)
        ok_c = (np.asarray(cur["y_pred"]) == yt)[rows]
        ok_r = (np.asarray(ref["y_pred"]) == yt)[rows]
        better = int(np.count_nonzero(ok_c & ~ok_r))
        worse = int(np.count_nonzero(ok_r & ~ok_c))
        return _mcnemar_test(better, worse, int(rows.sum()), alpha)
    if spec.family == "ranking" and not weighted:
        yt = np.asarray(cur["y_true"], dtype=bool)
        diff, var = delong_paired(delong(yt, cur["score"]), delong(yt, ref["score"]))
        return _normal_test(sign * diff, math.sqrt(max(var, 0.0)), alpha, "paired-delong")
    kc, kr = kernel(spec, cur), kernel(spec, ref)
    delta = sign * (kc.point() - kr.point())
    reps = np.concatenate(
        [
            sign * (kc.resample(idx) - kr.resample(idx))
            for idx in resample_blocks(kc.n, n_boot, seed)
        ]
    )
    return _bootstrap_test(reps, delta, alpha)


def compare(
    current: Measurement,
    reference: Any,
    *,
    direction: str,
    margin: float,
    alpha: float,
    current_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_kind: str = "baseline",
    current_fingerprint: str | None = None,
    reference_fingerprint: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """The verdict of ``current`` against ``reference`` (a BaselineEntry or a Measurement).

    ``margin`` is in the metric's units; ``alpha`` the one-sided significance level. Fingerprints
    default to ``current.info["fingerprint"]`` and the reference's ``fingerprint`` field.
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    sign = 1.0 if direction == "higher" else -1.0
    ref_value = float(reference.value)
    cur_fp = current_fingerprint or current.info.get("fingerprint")
    ref_fp = (
        reference_fingerprint
        or getattr(reference, "fingerprint", None)
        or (getattr(reference, "info", None) or {}).get("fingerprint")
    )
    metric = current.name
    change = float(current.value) - ref_value
    ratio = float(current.value) / ref_value if ref_value != 0 else None
    base: dict[str, Any] = {
        "metric": metric,
        "reference": reference_kind,
        "reference_value": ref_value,
        "margin": margin,
    }
    if cur_fp and ref_fp and cur_fp != ref_fp:
        return Comparison(
            verdict="not_compared",
            change=change,
            ratio=ratio,
            **base,
            reason=(
                f"the {reference_kind} of {metric!r} was measured on different evaluation data "
                f"(fingerprint {str(ref_fp)[:19]} vs {str(cur_fp)[:19]} now); the values are not "
                f"comparable: update the baseline on purpose (--mlgate-update-baseline) if the "
                f"evaluation data changed on purpose"
            ),
        )
    if not (math.isfinite(ref_value) and math.isfinite(float(current.value))):
        return Comparison(verdict="not_compared", **base, reason="a value is not finite")

    test: _Test | None = None
    if current_samples and reference_samples and cur_fp and ref_fp:
        parent = current.info.get("parent", metric)
        test = _paired_test(
            str(parent), current_samples, reference_samples, sign, alpha, n_boot, seed
        )
    if test is None:
        se_c, se_r = _summary_se(current), _summary_se(reference)
        if se_c is None or se_r is None:
            test = _point_test(sign * change)
        else:
            test = _normal_test(sign * change, math.hypot(se_c, se_r), alpha, "unpaired-normal")

    verdict: Verdict
    p_fail = test.p_below(-margin)
    p_improved = test.p_above(margin)
    if p_fail < alpha:
        verdict, p = "fail", p_fail
    elif p_improved < alpha and test.delta > 0:
        verdict, p = "improved", p_improved
    elif margin > 0 and test.p_above(-margin) >= alpha:
        verdict, p = "inconclusive", p_fail
    else:
        verdict, p = "pass", p_fail
    lo, hi = test.interval
    # Report the interval of the raw change (current - reference), not the oriented one.
    change_low, change_high = (lo, hi) if sign > 0 else (-hi, -lo)
    reason = _reason(verdict, metric, change, margin, alpha, test.method, reference_kind)
    return Comparison(
        verdict=verdict,
        change=change,
        ratio=ratio,
        change_low=change_low,
        change_high=change_high,
        p_value=None if test.method == "point" else p,
        method=test.method,
        reason=reason,
        **base,
    )


def _reason(
    verdict: str, metric: str, change: float, margin: float, alpha: float, method: str, ref: str
) -> str:
    m = f" by more than the margin {margin:g}" if margin > 0 else ""
    if method == "point":
        return {
            "fail": f"{metric} is worse than the {ref}{m} (no interval: plain comparison)",
            "improved": f"{metric} is better than the {ref}{m} (no interval: plain comparison)",
        }.get(verdict, f"{metric} is not worse than the {ref}{m} (no interval: plain comparison)")
    if verdict == "fail":
        return f"{metric} is worse than the {ref}{m}, significant at alpha={alpha:g} ({method})"
    if verdict == "improved":
        return (
            f"{metric} is better than the {ref}{m}, significant at alpha={alpha:g}; "
            "consider moving the baseline forward"
        )
    if verdict == "inconclusive":
        return (
            f"{metric} changed by {change:+.4g}; the data cannot rule out a drop larger than "
            f"the margin {margin:g} ({method}); more evaluation rows would settle it"
        )
    return f"no significant drop of {metric}{m} ({method})"
