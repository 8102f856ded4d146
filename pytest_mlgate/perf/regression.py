"""Regression verdicts for performance readings against a baseline.

Timings are compared on their raw samples: a bootstrap interval on the ratio current/baseline
of the statistic the reading reports (median for p50, 95th percentile for p95, mean for the
mean and for throughput). Only when the whole interval lies beyond the tolerance is it a
failure; an interval that straddles the tolerance is inconclusive. Readings without samples
(memory, size) are compared as points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt

from pytest_mlgate.errors import BenchmarkError
from pytest_mlgate.measurement import Comparison, Measurement, Verdict

BOOTSTRAP_RESAMPLES = 2000
# Fixed so that the same timings always give the same verdict.
BOOTSTRAP_SEED = 20_240_601
# Bound on the bootstrap's working memory (floats per chunk).
_CHUNK_FLOATS = 4_000_000

Stat = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def _percentile(q: float) -> Stat:
    def stat(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(np.percentile(x, q, axis=-1), dtype=np.float64)

    return stat


def _mean(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.mean(x, axis=-1), dtype=np.float64)


def _max(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.max(x, axis=-1), dtype=np.float64)


def _timing_statistic(metric: str) -> tuple[str, Stat, bool] | None:
    """(label, statistic of the timings, whether the reading is inversely proportional)."""
    if metric == "latency_mean_ms":
        return "mean", _mean, False
    if metric == "latency_max_ms":
        return "max", _max, False
    if metric == "throughput_rps":
        return "mean", _mean, True
    if metric.startswith("latency_p") and metric.endswith("_ms"):
        try:
            q = float(metric[len("latency_p") : -len("_ms")])
        except ValueError:
            return None
        if 0 < q < 100:
            return f"p{metric[len('latency_p') : -len('_ms')]}", _percentile(q), False
    return None


def _bootstrap_ratio(
    cur: npt.NDArray[np.float64], ref: npt.NDArray[np.float64], stat: Stat, alpha: float
) -> tuple[float, float, float]:
    """Point ratio stat(cur)/stat(ref) and its percentile-bootstrap interval at 1 - alpha."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    point = float(stat(cur)) / float(stat(ref))
    ratios = np.empty(BOOTSTRAP_RESAMPLES)
    chunk = max(1, _CHUNK_FLOATS // max(len(cur), len(ref)))
    for start in range(0, BOOTSTRAP_RESAMPLES, chunk):
        b = min(chunk, BOOTSTRAP_RESAMPLES - start)
        c = stat(cur[rng.integers(0, len(cur), size=(b, len(cur)))])
        r = stat(ref[rng.integers(0, len(ref), size=(b, len(ref)))])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start : start + b] = c / r
    lo, hi = np.nanquantile(ratios, [alpha / 2.0, 1.0 - alpha / 2.0])
    return point, float(lo), float(hi)


def _samples(
    m: Mapping[str, npt.ArrayLike] | None,
) -> npt.NDArray[np.float64] | None:
    if not m or "timings_s" not in m:
        return None
    t = np.asarray(m["timings_s"], dtype=np.float64).ravel()
    t = t[np.isfinite(t)]
    return t if len(t) >= 2 else None


def _fmt_ratio(x: float) -> str:
    return f"{x:.3g}x"


def compare_performance(
    current: Measurement,
    reference_value: float,
    *,
    direction: Literal["higher", "lower"],
    tolerance: float,
    alpha: float = 0.05,
    current_samples: Mapping[str, npt.ArrayLike] | None = None,
    reference_samples: Mapping[str, npt.ArrayLike] | None = None,
    machine_match: tuple[bool, list[str]] = (True, []),
) -> Comparison:
    """Verdict of a performance reading against its baseline value, with relative tolerance.

    ``tolerance`` is relative (0.10 = 10%): for a lower-is-better reading the bad side is a
    ratio current/baseline above 1 + tolerance, the good side below 1 / (1 + tolerance);
    mirrored for higher-is-better (bad below 1 / (1 + tolerance)). With ``timings_s`` samples on both sides the ratio's bootstrap
    interval at level 1 - alpha decides: fail only when all of it is on the bad side,
    inconclusive when it straddles, improved when all of it is on the good side. A baseline
    from another machine is never compared (verdict "not_compared").
    """
    name = current.name
    if direction not in ("higher", "lower"):
        raise BenchmarkError(
            f"compare_performance({name}): direction must be 'higher' or 'lower', "
            f"got {direction!r}"
        )
    if isinstance(tolerance, bool) or not math.isfinite(tolerance) or tolerance < 0:
        raise BenchmarkError(
            f"compare_performance({name}): tolerance must be a relative amount >= 0 "
            f"(0.10 = 10%), got {tolerance!r}; set mlgate_perf_tolerance accordingly"
        )
    if not 0.0 < alpha < 1.0:
        raise BenchmarkError(
            f"compare_performance({name}): alpha must be in (0, 1), got {alpha!r}"
        )

    def verdict(v: Verdict, reason: str, **kw: float | str | None) -> Comparison:
        return Comparison(
            metric=name, verdict=v, reference="baseline", reference_value=reference_value,
            margin=tolerance, reason=reason, **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    same, differing = machine_match
    if not same:
        fields = ", ".join(differing) if differing else "machine info"
        return verdict(
            "not_compared",
            f"baseline recorded on another machine: {fields} differ; performance is not "
            f"compared across machines (re-record the baseline on this machine)",
        )
    ref = float(reference_value)
    cur = float(current.value)
    if not (math.isfinite(ref) and math.isfinite(cur)) or ref <= 0:
        return verdict(
            "not_compared",
            f"{name}: a relative comparison needs finite readings and a positive baseline "
            f"(baseline {ref:g}, current {cur:g}); use an absolute budget on the marker instead",
        )

    # Symmetric in ratio: a 10% tolerance allows latency x1.1 and throughput x1/1.1, so any
    # tolerance (even 100%: "twice as slow") means the same thing in both directions.
    bad = 1.0 + tolerance if direction == "lower" else 1.0 / (1.0 + tolerance)
    good = 1.0 / (1.0 + tolerance) if direction == "lower" else 1.0 + tolerance

    def beyond_bad(x: float) -> bool:
        return x > bad if direction == "lower" else x < bad

    def beyond_good(x: float) -> bool:
        return x < good if direction == "lower" else x > good

    point_ratio = cur / ref
    stat = _timing_statistic(name)
    cur_t = _samples(current_samples)
    ref_t = _samples(reference_samples)
    tol_text = f"tolerance {tolerance:.0%}"

    if stat is not None and cur_t is not None and ref_t is not None:
        label, fn, inverse = stat
        t_point, t_lo, t_hi = _bootstrap_ratio(cur_t, ref_t, fn, alpha)
        if not (math.isfinite(t_point) and t_point > 0 and math.isfinite(t_lo) and t_lo > 0):
            return verdict("not_compared", f"{name}: timings too close to zero to compare")
        # Scale the interval of the timing ratio onto the reported reading, so the interval
        # is consistent with the values shown (throughput is inversely proportional).
        if inverse:
            lo, hi = point_ratio * t_point / t_hi, point_ratio * t_point / t_lo
        else:
            lo, hi = point_ratio * t_lo / t_point, point_ratio * t_hi / t_point
        level = f"{1 - alpha:.0%}"
        what = (
            f"{name} is {_fmt_ratio(point_ratio)} the baseline ({level} interval "
            f"{_fmt_ratio(lo)} to {_fmt_ratio(hi)}, bootstrap on the {label} of "
            f"{len(cur_t)} vs {len(ref_t)} rounds; {tol_text})"
        )
        if beyond_bad(lo) and beyond_bad(hi):
            v: Verdict = "fail"
        elif beyond_bad(lo) or beyond_bad(hi):
            v = "inconclusive"
        elif beyond_good(lo) and beyond_good(hi):
            v = "improved"
        else:
            v = "pass"
        return verdict(
            v, what, change=cur - ref, ratio=point_ratio,
            change_low=(lo - 1.0) * ref, change_high=(hi - 1.0) * ref,
            method=f"bootstrap ratio of {label}",
        )  # fmt: skip

    what = (
        f"{name} is {_fmt_ratio(point_ratio)} the baseline "
        f"({tol_text}, no samples: point comparison)"
    )
    if beyond_bad(point_ratio):
        v = "fail"
    elif beyond_good(point_ratio):
        v = "improved"
    else:
        v = "pass"
    return verdict(v, what, change=cur - ref, ratio=point_ratio, method="point ratio")
