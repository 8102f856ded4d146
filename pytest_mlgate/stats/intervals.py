"""Confidence intervals: Wilson score, DeLong for ROC AUC (plain and paired), seeded bootstrap.

Every function is vectorized numpy; none loops over rows in Python. Levels are two-sided
(``level=0.95`` gives a 95% interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Bootstrap resamples are drawn in blocks of (block, n) indices; this caps one block's size in
# elements so memory stays near 16 MiB of int64 whatever n is.
BLOCK_ELEMENTS = 2_000_000


def z_value(level: float) -> float:
    """The standard normal quantile for a two-sided interval at ``level``."""
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(norm.ppf(0.5 + level / 2.0))


def wilson(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n`` trials (Wilson 1927).

    With ``n == 0`` there is no information: the interval is [0, 1].
    """
    if n <= 0:
        return 0.0, 1.0
    z = z_value(level)
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clip rounding noise: the exact interval always lies in [0, 1] and contains p.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


@dataclass(frozen=True)
class DeLong:
    """ROC AUC with DeLong's variance, and the per-sample structural components.

    ``components`` holds one value per row (V10 for positives, V01 for negatives, DeLong et al.
    1988) so two models scored on the same rows can be compared with their covariance.
    """

    auc: float
    variance: float
    n_pos: int
    n_neg: int
    components: FloatArray
    positive: NDArray[np.bool_]

    @property
    def se(self) -> float:
        return math.sqrt(max(self.variance, 0.0))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        z = z_value(level)
        return max(0.0, self.auc - z * self.se), min(1.0, self.auc + z * self.se)


def delong(y_true: NDArray[np.bool_], scores: FloatArray) -> DeLong:
    """ROC AUC and its DeLong variance in O(n log n): one sort, then counts per tied group.

    ``y_true`` is True for the positive class. Raises ValueError when a class is absent.
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n = y.size
    n_pos = int(np.count_nonzero(y))
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes")
    order = np.argsort(s, kind="quicksort")
    s_sorted = s[order]
    y_sorted = y[order]
    # Group rows with equal scores: ties count one half (midranks), as in the Mann-Whitney U.
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(s_sorted[1:], s_sorted[:-1], out=starts[1:])
    group = np.cumsum(starts) - 1
    n_groups = int(group[-1]) + 1
    pos_in = np.bincount(group, weights=y_sorted, minlength=n_groups)
    size = np.bincount(group, minlength=n_groups).astype(np.float64)
    neg_in = size - pos_in
    neg_below = np.cumsum(neg_in) - neg_in
    pos_above = n_pos - np.cumsum(pos_in)
    # Per group: a positive's share of negatives it outranks, a negative's share of positives
    # that outrank it.
    v10 = (neg_below + 0.5 * neg_in) / n_neg
    v01 = (pos_above + 0.5 * pos_in) / n_pos
    auc = float(np.dot(pos_in, v10) / n_pos)
    s10 = float(np.dot(pos_in, (v10 - auc) ** 2) / (n_pos - 1)) if n_pos > 1 else 0.0
    s01 = float(np.dot(neg_in, (v01 - auc) ** 2) / (n_neg - 1)) if n_neg > 1 else 0.0
    variance = s10 / n_pos + s01 / n_neg
    comp_sorted = np.where(y_sorted, v10[group], v01[group])
    components = np.empty(n, dtype=np.float64)
    components[order] = comp_sorted
    return DeLong(auc, variance, n_pos, n_neg, components, y)


def delong_paired(a: DeLong, b: DeLong) -> tuple[float, float]:
    """Difference ``a.auc - b.auc`` of two models scored on the same rows, and its variance.

    The covariance comes from the structural components (DeLong, DeLong & Clarke-Pearson 1988).
    """
    if a.components.shape != b.components.shape or not np.array_equal(a.positive, b.positive):
        raise ValueError("paired DeLong needs both models scored on the same rows and labels")
    pos = a.positive
    d10 = a.components[pos] - b.components[pos]
    d01 = a.components[~pos] - b.components[~pos]
    var10 = float(np.var(d10, ddof=1)) if d10.size > 1 else 0.0
    var01 = float(np.var(d01, ddof=1)) if d01.size > 1 else 0.0
    return a.auc - b.auc, var10 / d10.size + var01 / d01.size


def resample_blocks(n: int, n_boot: int, seed: int) -> list[NDArray[np.intp]]:
    """Bootstrap row indices, ``n_boot`` resamples of ``n`` rows, in (block, n) arrays.

    The same ``seed`` gives the same indices, so two models compared on the same rows see the
    same resamples (a paired bootstrap).
    """
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, BLOCK_ELEMENTS // max(n, 1)))
    out: list[NDArray[np.intp]] = []
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        out.append(rng.integers(0, n, size=(b, n), dtype=np.intp))
        done += b
    return out


def bootstrap(
    stat: Callable[[NDArray[np.intp]], FloatArray], n: int, *, n_boot: int = 1000, seed: int = 0
) -> FloatArray:
    """Replicates of ``stat`` over seeded resamples (``stat``: (block, n) indices -> (block,))."""
    parts = [np.asarray(stat(idx), dtype=np.float64) for idx in resample_blocks(n, n_boot, seed)]
    return np.concatenate(parts) if parts else np.empty(0)


def percentile_interval(replicates: FloatArray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates; undefined replicates (NaN) are left out."""
    r = replicates[np.isfinite(replicates)]
    if r.size == 0:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(r, [tail, 100.0 - tail])
    return float(lo), float(hi)
