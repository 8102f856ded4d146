"""Cost of ROC AUC with its 95% interval against scikit-learn's ``roc_auc_score`` alone.

On 1,000,000 rows (30% positives, tied scores rounded to 3 decimals), in the same process:
- reference: ``sklearn.metrics.roc_auc_score(y, s)`` (point value only);
- mlgate: ``intervals.delong(y, s)`` then ``.interval(0.95)`` (value, DeLong SE, 95% interval);
- mlgate through ``estimate`` (the path ``evaluate`` takes after the model call);
- naive bootstrap: 1,000 resamples of ``roc_auc_score``, extrapolated from a few timed ones.

The figure of merit is mlgate / sklearn; the goal is at most 1.5x. Medians of repetitions.

Run: ``.venv/bin/python benchmarks/metrics.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from pytest_mlgate.stats.intervals import delong
from pytest_mlgate.stats.metrics import estimate, resolve


def median_time(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 rows, 3 repetitions")
    ap.add_argument("--rows", type=int, default=None)
    args = ap.parse_args(argv)
    n = args.rows or (100_000 if args.quick else 1_000_000)
    reps = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    y = rng.random(n) < 0.3
    s = np.round(rng.normal(size=n) + 0.8 * y, 3)
    samples = {"y_true": y, "score": s}
    spec = resolve("roc_auc")

    def ours() -> tuple[float, float, float]:
        d = delong(y, s)
        lo, hi = d.interval(0.95)
        return d.auc, lo, hi

    auc, lo, hi = ours()
    assert abs(auc - roc_auc_score(y, s)) < 1e-12
    # Interleave the two so machine noise hits both alike.
    t_sk, t_ours, t_est = [], [], []
    for _ in range(reps):
        t_sk.append(median_time(lambda: roc_auc_score(y, s), 1))
        t_ours.append(median_time(ours, 1))
        t_est.append(median_time(lambda: estimate(spec, samples), 1))
    sk, mine, est = statistics.median(t_sk), statistics.median(t_ours), statistics.median(t_est)
    few = 3 if args.quick else 5
    idx = [rng.integers(0, n, n) for _ in range(few)]
    t0 = time.perf_counter()
    for i in idx:
        roc_auc_score(y[i], s[i])
    naive = (time.perf_counter() - t0) / few * 1000
    print(f"ROC AUC on {n:,} rows (medians of {reps}): AUC {auc:.4f}, 95% CI [{lo:.4f}, {hi:.4f}]")
    print(f"  sklearn roc_auc_score alone         {sk * 1000:9.1f} ms")
    print(
        f"  mlgate DeLong AUC + 95% interval    {mine * 1000:9.1f} ms   ratio {mine / sk:.2f}x"
        "  (goal <= 1.5x)"
    )
    print(f"  mlgate estimate('roc_auc')          {est * 1000:9.1f} ms   ratio {est / sk:.2f}x")
    print(
        f"  naive 1,000-resample bootstrap      {naive:9.1f} s "
        f"   ({few} resamples timed, extrapolated)"
        f"   ratio {naive / sk:.0f}x"
    )
    return 0 if est / sk <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
