"""Threshold verdicts per slice, with Holm's correction across slices.

For each slice, a one-sided test asks "is this slice's metric worse than the threshold?". A slice
FAILs when its Holm-adjusted p-value is below ``alpha``; it PASSes when its value clears the
threshold; otherwise (worse on the point value, but not significantly) it is INCONCLUSIVE.
Holm's step-down procedure keeps the chance of failing any slice wrongly at most ``alpha``
however many slices there are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pytest_mlgate.markers import OPS
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.intervals import z_value

if TYPE_CHECKING:
    from pytest_mlgate.stats.evaluation import EvaluationResult

from pytest_mlgate.stats.holm import holm

__all__ = ["below_threshold_p", "holm", "slice_threshold_verdicts"]

_OPS = (">=", ">", "<=", "<")


def below_threshold_p(m: Measurement, op: str, threshold: float) -> float:
    """One-sided p-value against "``m`` meets the threshold" (small: the slice is worse).

    Exact binomial for Wilson proportions (successes/trials in ``m.info``); otherwise a normal
    test with the standard error read off the interval.
    """
    if op not in _OPS:
        raise ValueError(f"op must be one of {_OPS}, got {op!r}")
    higher = op in (">=", ">")
    succ, trials = m.info.get("successes"), m.info.get("trials")
    if succ is not None and trials and 0.0 < threshold < 1.0:
        from scipy.stats import binom

        if higher:  # P(X <= k) when the true proportion is the threshold
            return float(binom.cdf(int(succ), int(trials), threshold))
        return float(binom.sf(int(succ) - 1, int(trials), threshold))
    if m.low is None or m.high is None:
        worse = m.value < threshold if higher else m.value > threshold
        return 0.0 if worse else 1.0
    zq = z_value(m.level or 0.95)
    # The standard error from the half of the interval that faces the threshold: the test is
    # then the inversion of the interval itself (a threshold outside a 95% interval on the bad
    # side gives p < 0.025), also for the asymmetric intervals of bootstrap metrics, where one
    # symmetric error from the whole width called a slice whose interval lay wholly beyond the
    # threshold "not significant".
    half = (m.high - m.value) if threshold > m.value else (m.value - m.low)
    se = half / zq if half > 0 else (m.high - m.low) / (2.0 * zq)
    if se <= 0:
        worse = m.value < threshold if higher else m.value > threshold
        return 0.0 if worse else 1.0
    # z > 0: the value is on the good side of the threshold. The p-value is the lower tail
    # P(Z <= z): small only when the value lies far on the bad side.
    z = (m.value - threshold) / se if higher else (threshold - m.value) / se
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def slice_threshold_verdicts(
    result: EvaluationResult, metric: str, op: str, threshold: float, alpha: float = 0.05
) -> list[tuple[str, str, float]]:
    """(slice, verdict, Holm-adjusted p) for every evaluated slice of ``metric``.

    verdict is "fail" (significantly worse than the threshold after Holm), "pass" (the value
    clears the threshold) or "inconclusive" (it does not, but not significantly).
    """
    rows = result.slices_of(metric)
    adjusted = holm([below_threshold_p(m, op, threshold) for m in rows])
    out = []
    for m, p in zip(rows, adjusted, strict=True):
        if p < alpha:
            verdict = "fail"
        elif OPS[op](m.value, threshold):
            verdict = "pass"
        else:
            verdict = "inconclusive"
        out.append((str(m.info["slice"]), verdict, p))
    return out
