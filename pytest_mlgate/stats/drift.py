"""Column-by-column data drift between a reference (frame or profile) and a current frame.

Numeric columns: two-sample Kolmogorov-Smirnov test, effect size = Wasserstein-1 distance
divided by the reference standard deviation. Categorical columns: chi-square test of the 2 x K
table, effect size = Jensen-Shannon distance (base 2, in [0, 1]). A column drifts only when its
Holm-adjusted p-value is at most ``alpha`` AND its effect exceeds the threshold: significance
alone flags noise on large samples, effect size alone flags noise on small ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pytest_mlgate.errors import DriftError
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.profiles import (
    ColumnProfile,
    Profile,
    category_counts,
    column_kind,
    numeric_values,
)
from pytest_mlgate.report.tables import fmt, render
from pytest_mlgate.stats.holm import holm
from pytest_mlgate.strict_json import number

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CATEGORICAL_THRESHOLD",
    "DEFAULT_NUMERIC_THRESHOLD",
    "ColumnDrift",
    "DriftResult",
    "check_drift",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Family-wise significance level across the compared columns (Holm).
DEFAULT_ALPHA = 0.05
#: Wasserstein-1 distance in reference standard deviations: 0.1 = a tenth of an SD.
DEFAULT_NUMERIC_THRESHOLD = 0.1
#: Jensen-Shannon distance, base 2 (0 = same distribution, 1 = disjoint support).
DEFAULT_CATEGORICAL_THRESHOLD = 0.1

# Below this many values in all numeric columns together, threads cost more than they save.
_PARALLEL_MIN_VALUES = 200_000


@dataclass(frozen=True)
class ColumnDrift:
    """The drift reading of one column. ``effect`` is in the units of ``effect_name``:
    "wasserstein_sd" (reference SDs) or "jensen_shannon" (base-2 distance). ``method`` says how
    the p-value was obtained: the exact two-sample KS distribution where scipy's
    ``ks_2samp(method="auto")`` uses it (both samples of at most 10,000 values), else the
    asymptotic one."""

    name: str
    kind: Literal["numeric", "categorical"]
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    p_adjusted: float
    effect: float
    effect_name: str
    threshold: float
    significant: bool
    drifted: bool
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    new_categories: tuple[str, ...] = ()
    missing_categories: tuple[str, ...] = ()
    #: How the p-value was computed: "ks-exact", "ks-asymptotic" or "chi2".
    method: str = ""

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["new_categories"] = list(self.new_categories)
        d["missing_categories"] = list(self.missing_categories)
        for k in ("statistic", "p_value", "p_adjusted", "effect"):
            d[k] = number(d[k])
        return d


@dataclass(frozen=True)
class DriftResult:
    """All columns' readings; ``drifted`` when any column drifted."""

    columns: list[ColumnDrift]
    alpha: float
    reference_kind: Literal["frame", "profile"]
    n_reference: int
    n_current: int
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return any(c.drifted for c in self.columns)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        """Share of compared columns that drifted (0..1)."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def worst(self) -> ColumnDrift | None:
        """The column whose effect is largest relative to its threshold."""
        if not self.columns:
            return None
        return max(self.columns, key=lambda c: c.effect / c.threshold if c.threshold > 0
                   else math.inf)

    def measurements(self) -> list[Measurement]:
        """``drift_share`` and ``drift_worst_effect`` (the worst column's effect size)."""
        worst = self.worst
        common = {"reference": self.reference_kind, "alpha": self.alpha,
                  "n_reference": self.n_reference, "n_current": self.n_current}
        share = Measurement(
            name="drift_share", value=self.share, n=len(self.columns),
            method="ks/chi2+holm+effect",
            info={**common, "drifted_columns": self.drifted_columns,
                  "tests": {c.name: c.method for c in self.columns}},
        )
        effect = Measurement(
            name="drift_worst_effect", value=worst.effect if worst else 0.0,
            n=self.n_current, method=worst.effect_name if worst else None,
            info={**common, "column": worst.name if worst else None,
                  "threshold": worst.threshold if worst else None,
                  "test": worst.method if worst else None},
        )
        return [share, effect]

    def table(self, markdown: bool = False) -> str:
        """One row per column: test, statistic, Holm p, effect vs threshold, missing rates."""
        headers = ["column", "kind", "test", "statistic", "p (Holm)", "effect", "threshold",
                   "missing ref->cur", "notes", "drifted"]
        rows = []
        for c in self.columns:
            notes = []
            if c.new_categories:
                notes.append("new: " + _short(c.new_categories))
            if c.missing_categories:
                notes.append("gone: " + _short(c.missing_categories))
            rows.append([
                c.name, c.kind, c.method, fmt(c.statistic), fmt(c.p_adjusted),
                f"{fmt(c.effect)} ({'W/sd' if c.kind == 'numeric' else 'JS'})",
                fmt(c.threshold), f"{c.missing_reference:.1%} -> {c.missing_current:.1%}",
                "; ".join(notes) or "-", "DRIFT" if c.drifted else "no",
            ])
        return render(headers, rows, markdown=markdown)

    def message(self) -> str:
        """A summary line and the per-column table, for a failing test."""
        k, n = len(self.drifted_columns), len(self.columns)
        head = (f"data drift in {k} of {n} column(s): {', '.join(self.drifted_columns)}"
                if k else f"no data drift in {n} column(s)")
        rule = (f"(drift = Holm-adjusted p <= {self.alpha:g} and effect above threshold; "
                f"reference: {self.reference_kind}, {self.n_reference} rows; "
                f"current: {self.n_current} rows)")
        return f"{head} {rule}\n{self.table()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted, "share": self.share, "alpha": self.alpha,
            "reference_kind": self.reference_kind, "n_reference": self.n_reference,
            "n_current": self.n_current, "info": dict(self.info),
            "columns": [c.to_json() for c in self.columns],
        }


def _short(items: Sequence[str], k: int = 3) -> str:
    head = ", ".join(repr(x) for x in items[:k])
    return head + (f" (+{len(items) - k})" if len(items) > k else "")


# ---------------------------------------------------------------------------------------------


def check_drift(
    reference: pd.DataFrame | Profile,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    numeric_threshold: float = DEFAULT_NUMERIC_THRESHOLD,
    categorical_threshold: float = DEFAULT_CATEGORICAL_THRESHOLD,
    threads: int | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column (see the module docstring).

    ``reference`` is a DataFrame or a :class:`Profile` of one. ``columns`` defaults to all of
    the reference's columns, which must then match the current frame's. ``threads`` caps the
    worker threads for numeric columns (default: all cores).
    """
    import pandas as pd

    if not 0.0 < alpha < 1.0:
        raise DriftError(f"check_drift: alpha must be in (0, 1), got {alpha!r}.")
    for label, thr in (("numeric_threshold", numeric_threshold),
                       ("categorical_threshold", categorical_threshold)):
        if not (isinstance(thr, (int, float)) and thr >= 0 and math.isfinite(thr)):
            raise DriftError(f"check_drift: {label} must be a finite number >= 0, got {thr!r}.")
    if not isinstance(current, pd.DataFrame):
        raise DriftError(f"check_drift: current must be a pandas DataFrame, "
                         f"got {type(current).__name__}.")
    if isinstance(reference, Profile):
        ref_names = reference.names
        ref_kind: Literal["frame", "profile"] = "profile"
        n_ref_rows = reference.n_rows
    elif isinstance(reference, pd.DataFrame):
        ref_names = [str(c) for c in reference.columns]
        ref_kind = "frame"
        n_ref_rows = int(reference.shape[0])
    else:
        raise DriftError(f"check_drift: reference must be a pandas DataFrame or a Profile, "
                         f"got {type(reference).__name__}.")
    cur_names = [str(c) for c in current.columns]
    for label, names in (("reference", ref_names), ("current", cur_names)):
        if len(set(names)) != len(names):
            raise DriftError(f"check_drift: the {label} frame has duplicate column names.")
    if n_ref_rows == 0:
        raise DriftError("check_drift: the reference frame is empty (0 rows); "
                         "pass the training data or its profile.")
    if current.shape[0] == 0:
        raise DriftError("check_drift: the current frame is empty (0 rows); "
                         "there is nothing to compare.")

    if columns is None:
        missing = [c for c in ref_names if c not in cur_names]
        extra = [c for c in cur_names if c not in ref_names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing from current: {_short(missing, 8)}")
            if extra:
                parts.append(f"not in reference: {_short(extra, 8)}")
            raise DriftError("check_drift: the frames' columns differ (" + "; ".join(parts)
                             + "). Align them, or choose the columns with columns=[...].")
        selected = list(ref_names)
    else:
        if isinstance(columns, str):
            raise DriftError("check_drift: columns must be a list of names, not a string.")
        selected = [str(c) for c in columns]
        if not selected:
            raise DriftError("check_drift: columns=[] selects nothing to compare.")
        for label, names in (("reference", ref_names), ("current", cur_names)):
            absent = [c for c in selected if c not in names]
            if absent:
                raise DriftError(f"check_drift: column(s) {_short(absent, 8)} not in the "
                                 f"{label} frame.")

    cur_pos = {n: i for i, n in enumerate(cur_names)}
    ref_pos = {n: i for i, n in enumerate(ref_names)}
    readings: dict[str, _Reading] = {}
    numeric_jobs: list[tuple[str, Any, FloatArray, ColumnProfile | None]] = []
    for name in selected:
        cur = current.iloc[:, cur_pos[name]]
        cur_kind = column_kind(cur, name, error=DriftError)
        if isinstance(reference, Profile):
            rp = reference.column(name)
            rkind = rp.kind
            ref_series = None
        else:
            ref_series = reference.iloc[:, ref_pos[name]]
            rkind = column_kind(ref_series, name, error=DriftError)
            rp = None
        if rkind != cur_kind:
            raise DriftError(f"check_drift: column {name!r} is {rkind} in the reference but "
                             f"{cur_kind} in the current frame; fix its dtype.")
        miss_cur = float(cur.isna().mean())
        if rp is not None:
            miss_ref, n_ref = rp.missing_rate, rp.n_present
        else:
            assert ref_series is not None
            miss_ref, n_ref = float(ref_series.isna().mean()), int(ref_series.notna().sum())
        if n_ref == 0:
            raise DriftError(f"check_drift: column {name!r} is entirely missing in the "
                             "reference; leave it out with columns=[...].")
        if miss_cur == 1.0:
            raise DriftError(f"check_drift: column {name!r} is entirely missing in the current "
                             "frame; leave it out with columns=[...] or fix the data feed.")
        if cur_kind == "categorical":
            readings[name] = _categorical(name, ref_series, rp, cur, miss_ref, miss_cur)
        else:
            ref_vals = numeric_values(ref_series) if ref_series is not None else None
            numeric_jobs.append((name, ref_vals, numeric_values(cur), rp))
            readings[name] = _Reading(name, "numeric", "ks", 0, 0, 0, 0, miss_ref, miss_cur)

    def run(job: tuple[str, Any, FloatArray, ColumnProfile | None]) -> tuple[str, _Reading]:
        name, ref_vals, cur_vals, rp = job
        base = readings[name]
        return name, _numeric(name, ref_vals, rp, cur_vals, base.missing_ref, base.missing_cur)

    size = sum(j[2].size + (0 if j[1] is None else j[1].size) for j in numeric_jobs)
    workers = min(threads or os.cpu_count() or 1, len(numeric_jobs))
    if workers > 1 and size >= _PARALLEL_MIN_VALUES:
        # numpy sorts and ufuncs release the GIL, so columns run truly in parallel.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(run, numeric_jobs))
    else:
        done = [run(j) for j in numeric_jobs]
    readings.update(done)

    ordered = [readings[n] for n in selected]
    adjusted = holm([r.p_value for r in ordered])
    out: list[ColumnDrift] = []
    for r, p_adj in zip(ordered, adjusted, strict=True):
        thr = numeric_threshold if r.kind == "numeric" else categorical_threshold
        significant = p_adj <= alpha
        out.append(ColumnDrift(
            name=r.name, kind=r.kind, test=r.test, statistic=r.statistic, p_value=r.p_value,
            p_adjusted=p_adj, effect=r.effect,
            effect_name="wasserstein_sd" if r.kind == "numeric" else "jensen_shannon",
            threshold=float(thr), significant=significant,
            drifted=significant and r.effect > thr, n_reference=r.n_ref, n_current=r.n_cur,
            missing_reference=r.missing_ref, missing_current=r.missing_cur,
            new_categories=r.new_categories, missing_categories=r.missing_categories,
            method=r.method,
        ))
    return DriftResult(columns=out, alpha=alpha, reference_kind=ref_kind,
                       n_reference=n_ref_rows, n_current=int(current.shape[0]))


@dataclass
class _Reading:
    name: str
    kind: Literal["numeric", "categorical"]
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    effect: float
    n_ref: int
    missing_ref: float
    missing_cur: float
    n_cur: int = 0
    new_categories: tuple[str, ...] = ()
    missing_categories: tuple[str, ...] = ()
    method: str = "chi2"


#: Largest sample size for which the exact KS distribution is used (scipy's MAX_AUTO_N).
KS_EXACT_MAX_N = 10_000


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def ks_pvalue(d: float, n: int, m: int) -> tuple[float, str]:
    """Two-sided two-sample KS p-value of statistic ``d`` for sizes ``n`` and ``m``, and the
    method: "ks-exact" when both sizes are at most 10,000 (scipy's ``method="auto"`` rule),
    else "ks-asymptotic" (Smirnov's limit through scipy's ``kstwo`` with n*m/(n+m) points).

    Complete separation (``d == 1``) is always exact: two of the C(n+m, n) orderings reach it.
    """
    t = round(d * n * m)  # D is a multiple of 1/(n*m)
    if t <= 0:
        return 1.0, "ks-exact" if max(n, m) <= KS_EXACT_MAX_N else "ks-asymptotic"
    if t >= n * m:
        p = math.exp(math.log(2.0) - _log_comb(n + m, n))
        return min(1.0, p), "ks-exact"
    if max(n, m) <= KS_EXACT_MAX_N:
        return _ks_exact(t, n, m), "ks-exact"
    from scipy.stats import kstwo

    en = max(1, round(n * m / (n + m)))
    return float(min(1.0, max(0.0, kstwo.sf(d, en)))), "ks-asymptotic"


def _ks_exact(t: int, n: int, m: int) -> float:
    """P(D >= t/(n*m)) under H0 for samples of sizes n and m (no ties): the share of the
    C(n+m, n) orderings whose path (i values of one sample, j of the other) reaches
    |i*m - j*n| >= t."""
    if n == m:
        # Closed form: 2 * sum_k (-1)^(k+1) C(2n, n - k*h) / C(2n, n), h = t / n.
        h = t // n
        if h == 0:
            return 1.0
        k_max = n // h
        idx = np.arange(k_max * h, dtype=np.float64)
        ratio = np.cumprod((n - idx) / (n + 1.0 + idx))[h - 1 :: h]
        signs = np.where(np.arange(k_max) % 2 == 0, 1.0, -1.0)
        return float(min(1.0, max(0.0, 2.0 * math.fsum((signs * ratio).tolist()))))
    # A uniformly random ordering is a lattice path from (0, 0) to (n, m); walk it one
    # anti-diagonal (i + j = k) at a time as a Markov chain (from (i, j) the next value is from
    # the first sample with chance (n - i)/(n + m - k)). q holds the chance of being at each cell
    # of the diagonal without having left the band |i*m - j*n| < t; what steps out of the band
    # is added to the answer directly, so small p-values keep their precision.
    total = n + m
    q = np.ones(1)
    lo = 0  # i of q[0]
    out = 0.0
    for k in range(total):
        i = np.arange(lo, lo + q.size, dtype=np.float64)
        rest = float(total - k)
        step_a = q * ((n - i) / rest)
        nxt = np.zeros(q.size + 1)
        nxt[1:] = step_a
        nxt[:-1] += q - step_a
        # Cells of diagonal k + 1 inside the band: (k+1)*n - t < i*(n+m) < (k+1)*n + t.
        first = max(lo, ((k + 1) * n - t) // total + 1)
        last = min(lo + q.size, ((k + 1) * n + t - 1) // total)
        if last < first:
            return float(min(1.0, out + float(nxt.sum())))
        a, b = first - lo, last - lo + 1
        out += float(nxt[:a].sum()) + float(nxt[b:].sum())
        q = nxt[a:b]
        lo = first
    return float(min(1.0, max(0.0, out)))


# ---- numeric ---------------------------------------------------------------------------------


def _numeric(name: str, ref: FloatArray | None, rp: ColumnProfile | None, cur: FloatArray,
             missing_ref: float, missing_cur: float) -> _Reading:
    m = cur.size
    if ref is not None:
        n = ref.size
        d, w = _two_sample(ref, cur)
        sd = float(ref.std())
    else:
        assert rp is not None
        n = rp.n_present
        d, w = _against_profile(rp, np.sort(cur))
        sd = float(rp.std or 0.0)
    # A constant reference column that moved at all is pure drift.
    effect = w / sd if sd > 0 else (0.0 if w == 0 else math.inf)
    p, method = ks_pvalue(d, n, m)
    return _Reading(name, "numeric", "ks", d, p, effect, n, missing_ref, missing_cur, n_cur=m,
                    method=method)


_GRID = 4096


def _two_sample(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """(KS statistic, Wasserstein-1 distance) of two samples: one sort of each, then work on
    the sorted arrays that costs far less than a sort."""
    sa, sb = np.sort(a), np.sort(b)
    if a.size != b.size:
        return _two_sample_merged(sa, sb)
    if not (np.isfinite(sa[0]) and np.isfinite(sa[-1]) and np.isfinite(sb[0])
            and np.isfinite(sb[-1])):
        return _two_sample_merged(sa, sb)
    d = _ks_sorted(sa, sb)
    if d is None:
        return _two_sample_merged(sa, sb)
    return d, _wasserstein_sorted(sa, sb)


def _ks_sorted(sa: FloatArray, sb: FloatArray) -> float | None:
    """Exact KS statistic of sorted samples: evaluate both CDFs on a coarse grid, bound the
    difference inside each grid interval, and merge exactly only the intervals whose bound
    beats the best grid value. None when too many intervals need it (the caller merges all)."""
    n, m = sa.size, sb.size
    grid = np.unique(np.concatenate([
        sa[np.linspace(0, n - 1, min(n, _GRID // 2)).astype(np.int64)],
        sb[np.linspace(0, m - 1, min(m, _GRID // 2)).astype(np.int64)],
    ]))
    ar, al = np.searchsorted(sa, grid, "right"), np.searchsorted(sa, grid, "left")
    br, bl = np.searchsorted(sb, grid, "right"), np.searchsorted(sb, grid, "left")
    # Work in units of 1/(n*m) with integers: exact comparisons.
    at_right = ar * m - br * n
    at_left = al * m - bl * n
    best = int(max(np.abs(at_right).max(), np.abs(at_left).max()))
    # Inside (g_i, g_i+1): F_a in [ar_i, al_i+1]/n and F_b in [br_i, bl_i+1]/m.
    upper = np.maximum(al[1:] * m - br[:-1] * n, bl[1:] * n - ar[:-1] * m)
    todo = np.flatnonzero(upper > best)
    if todo.size > len(grid) // 4:
        return None
    for i in todo.tolist():
        xa = sa[ar[i]:al[i + 1]]
        xb = sb[br[i]:bl[i + 1]]
        vals = np.concatenate([xa, xb])
        order = np.argsort(vals, kind="stable")
        steps = np.where(order < xa.size, m, -n)
        cum = int(ar[i]) * m - int(br[i]) * n + np.cumsum(steps)
        v = vals[order]
        ends = np.r_[v[1:] != v[:-1], True]
        if cum.size:
            best = max(best, int(np.abs(cum[ends]).max()))
    return best / (float(n) * float(m))


def _wasserstein_sorted(sa: FloatArray, sb: FloatArray) -> float:
    """Wasserstein-1 distance of equal-size sorted samples: the integral of |Q_a - Q_b| dp."""
    n, m = sa.size, sb.size
    # Equal sizes: the quantile functions step together, so the integral is a mean.
    assert n == m
    return float(np.abs(sa - sb).mean())


def _two_sample_merged(sa: FloatArray, sb: FloatArray) -> tuple[float, float]:
    """(KS statistic, Wasserstein-1 distance) of two sorted samples, from their merged order.

    A stable sort of two sorted runs is a linear merge (timsort finds the runs); values are
    compared as floats, so only equal values are ties (one ulp apart is not a tie, and -0.0
    equals 0.0).
    """
    n, m = sa.size, sb.size
    both = np.concatenate([sa, sb])
    order = np.argsort(both, kind="stable")
    vals = both[order]
    # F_a - F_b scaled by n*m after position k: m * (#a so far) - n * (#b so far).
    step = np.where(order < n, m, -n)
    cum = np.cumsum(step, dtype=np.int64)
    gaps = np.diff(vals)
    ties = gaps == 0
    if not bool(ties.any()):
        d = float(max(int(cum.max()), -int(cum.min())))
    else:
        # With ties only the last position of a run of equal values is a point of both CDFs.
        inner = cum[:-1][~ties]
        d = float(max(np.abs(inner).max() if inner.size else 0, abs(int(cum[-1]))))
    absolute = np.abs(cum[:-1]).astype(np.float64)
    if not np.isfinite(gaps).all():  # infinities: only gaps where the CDFs differ count
        gaps[np.isnan(gaps)] = 0.0
        gaps = np.where(absolute > 0, gaps, 0.0)
    w = float(np.dot(absolute, gaps))
    scale = float(n) * float(m)
    return d / scale, w / scale


def _knots(rp: ColumnProfile) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The profile's CDF as knots x with left limits L and values R; linear in between."""
    if rp.exact:
        x = np.asarray(rp.values, dtype=np.float64)
        c = np.asarray(rp.counts, dtype=np.float64)
        r = np.cumsum(c) / c.sum()
        return x, r - c / c.sum(), r
    if rp.knots:
        x = np.asarray(rp.knots, dtype=np.float64)
        below = np.asarray(rp.below, dtype=np.float64)
        total = float(rp.n_present)
        return x, below / total, (below + np.asarray(rp.at, dtype=np.float64)) / total
    # Schema 1: quantiles at uniform levels, knots as observed values with F(q) >= p.
    q = np.asarray(rp.quantiles, dtype=np.float64)
    p = np.asarray(rp.levels, dtype=np.float64)
    x, first = np.unique(q, return_index=True)
    last = np.r_[first[1:] - 1, q.size - 1]
    left, right = p[first].copy(), p[last].copy()
    left[0], right[-1] = 0.0, 1.0
    return x, left, right


def _against_profile(rp: ColumnProfile, s: FloatArray) -> tuple[float, float]:
    """(KS statistic, Wasserstein-1) of sorted sample ``s`` against a profile's CDF."""
    x, left, right = _knots(rp)
    m = s.size
    grid = np.union1d(s, x)
    fc_r = np.searchsorted(s, grid, "right") / m
    fc_l = np.searchsorted(s, grid, "left") / m
    idx = np.searchsorted(x, grid, "left")
    hit = (idx < x.size) & (x[np.minimum(idx, x.size - 1)] == grid)
    lo = np.clip(idx - 1, 0, x.size - 1)
    hi = np.clip(idx, 0, x.size - 1)
    span = x[hi] - x[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span > 0, (grid - x[lo]) / span, 0.0)
    between = right[lo] + (left[hi] - right[lo]) * frac
    between = np.where(idx == 0, 0.0, np.where(idx >= x.size, 1.0, between))
    fr_r = np.where(hit, right[np.minimum(idx, x.size - 1)], between)
    fr_l = np.where(hit, left[np.minimum(idx, x.size - 1)], between)
    d = float(max(np.abs(fc_r - fr_r).max(), np.abs(fc_l - fr_l).max()))
    # On [grid_k, grid_k+1) the sample CDF is flat and the profile's is linear: integrate
    # |linear| exactly (a sign change inside the interval splits it into two triangles).
    h = np.diff(grid)
    d0 = fr_r[:-1] - fc_r[:-1]
    d1 = fr_l[1:] - fc_r[:-1]
    a0, a1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(a0 + a1 > 0, (d0 * d0 + d1 * d1) / (2 * (a0 + a1)), 0.0)
    area = np.where(d0 * d1 >= 0, (a0 + a1) / 2, crossing) * h
    return d, float(np.nansum(area))


# ---- categorical -----------------------------------------------------------------------------


def _categorical(name: str, ref: pd.Series | None, rp: ColumnProfile | None, cur: pd.Series,
                 missing_ref: float, missing_cur: float) -> _Reading:
    from scipy.stats import chi2

    if ref is not None:
        rcats, rcounts = category_counts(ref)
    else:
        assert rp is not None
        rcats, rcounts = list(rp.categories), np.asarray(rp.counts, dtype=np.int64)
    ccats, ccounts = category_counts(cur)
    allcats = sorted(set(rcats) | set(ccats))
    pos = {c: i for i, c in enumerate(allcats)}
    table = np.zeros((2, len(allcats)), dtype=np.float64)
    table[0, [pos[c] for c in rcats]] = rcounts
    table[1, [pos[c] for c in ccats]] = ccounts
    table = table[:, table.sum(axis=0) > 0]
    n_ref, n_cur = int(table[0].sum()), int(table[1].sum())
    if table.shape[1] < 2:
        stat, p = 0.0, 1.0
    else:
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        stat = float(((table - expected) ** 2 / expected).sum())
        p = float(chi2.sf(stat, table.shape[1] - 1))
    js = _jensen_shannon(table[0] / n_ref, table[1] / n_cur)
    rset, cset = set(rcats), set(ccats)
    return _Reading(
        name, "categorical", "chi2", stat, p, js, n_ref, missing_ref, missing_cur, n_cur=n_cur,
        new_categories=tuple(c for c in ccats if c not in rset),
        missing_categories=tuple(c for c in rcats if c not in cset),
    )


def _jensen_shannon(p: FloatArray, q: FloatArray) -> float:
    """Jensen-Shannon distance in base 2 (square root of the divergence), in [0, 1]."""
    mid = (p + q) / 2

    def kl(a: FloatArray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / mid[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))
