"""Speed of check_drift against scipy.stats.ks_2samp column by column, and fingerprint speed.

    .venv/bin/python benchmarks/drift.py [--quick]

Prints medians of several repetitions, measured in the same run on the same data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from pytest_mlgate.fingerprints import fingerprint
from pytest_mlgate.stats.drift import check_drift


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller frames, fewer repetitions")
    args = ap.parse_args()
    rows = 200_000 if args.quick else 1_000_000
    cols = 20
    reps = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(cols)]
    ref = pd.DataFrame(rng.normal(size=(rows, cols)), columns=names)
    cur = pd.DataFrame(rng.normal(size=(rows, cols)), columns=names)
    check_drift(ref.iloc[:1000], cur.iloc[:1000])  # import scipy pieces outside the timing
    stats.ks_2samp(ref["x0"].to_numpy()[:1000], cur["x0"].to_numpy()[:1000])

    def scipy_loop() -> None:
        for c in names:
            stats.ks_2samp(ref[c].to_numpy(), cur[c].to_numpy())

    t_ks = median_seconds(scipy_loop, reps)
    t_ours = median_seconds(lambda: check_drift(ref, cur), reps)
    t_one = median_seconds(lambda: check_drift(ref, cur, threads=1), reps)
    t_sort = median_seconds(lambda: [np.sort(ref[c].to_numpy()) for c in names]
                            + [np.sort(cur[c].to_numpy()) for c in names], reps)
    # Unequal sizes take the merged path (one pass over both sorted samples).
    short = cur.iloc[: rows * 9 // 10]

    def scipy_unequal() -> None:
        for c in names:
            stats.ks_2samp(ref[c].to_numpy(), short[c].to_numpy())

    t_ks_u = median_seconds(scipy_unequal, reps)
    t_u = median_seconds(lambda: check_drift(ref, short), reps)
    print(f"drift: 2 x {rows:,} rows x {cols} numeric columns, {os.cpu_count()} cores, "
          f"median of {reps}")
    print(f"  scipy ks_2samp per column      {t_ks * 1e3:8.0f} ms  (KS only)")
    print(f"  check_drift (all cores)        {t_ours * 1e3:8.0f} ms  (KS + Wasserstein + Holm)"
          f"  ratio {t_ks / t_ours:.1f}x")
    print(f"  check_drift (threads=1)        {t_one * 1e3:8.0f} ms  ratio {t_ks / t_one:.1f}x")
    print(f"  np.sort of every column, once  {t_sort * 1e3:8.0f} ms  (floor for one core)")
    print(f"  unequal sizes ({rows:,} vs {len(short):,} rows):")
    print(f"  scipy ks_2samp per column      {t_ks_u * 1e3:8.0f} ms")
    print(f"  check_drift (all cores)        {t_u * 1e3:8.0f} ms  ratio {t_ks_u / t_u:.1f}x")

    mb = 100 if args.quick else 400
    n = mb * 1_000_000 // 8 // 10
    frame = pd.DataFrame(rng.random((n, 10)), columns=[f"c{i}" for i in range(10)])
    nbytes = int(frame.memory_usage(index=False).sum())
    t_fp = median_seconds(lambda: fingerprint(frame), reps)
    print(f"fingerprint: {nbytes / 1e6:.0f} MB frame (10 float64 columns), median of {reps}")
    print(f"  {t_fp * 1e3:.0f} ms  ->  {nbytes / t_fp / 1e9:.2f} GB/s")


if __name__ == "__main__":
    main()
