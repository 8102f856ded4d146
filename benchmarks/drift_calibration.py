"""Soundness of check_drift by simulation.

    .venv/bin/python benchmarks/drift_calibration.py [--quick] [--null-runs N] [--power-runs N]

1. False alarms: reference and current frames of 1,000,000 rows x 20 columns (18 numeric of
   assorted shapes, 2 categorical) drawn from one distribution. Dataset-level false-alarm rate =
   share of runs in which any column is flagged; must be <= 5%.
2. Power: frames of 10,000 rows, one numeric column of the current frame shifted by 0.15 SD.
   Detection rate = share of runs in which that column is flagged; must be >= 95%.
Default thresholds: alpha 0.05 (Holm across columns), Wasserstein 0.1 SD, Jensen-Shannon 0.1.
Rates are printed with their Monte Carlo standard error and a 95% Clopper-Pearson interval.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from pytest_mlgate.behaviour import clopper_pearson
from pytest_mlgate.stats.drift import check_drift

N_NUMERIC = 18
CATS = np.array(["a", "b", "c", "d", "e"])
CAT_P = np.array([0.4, 0.3, 0.15, 0.1, 0.05])


def draw(rng: np.random.Generator, rows: int, shift_sd: float = 0.0) -> pd.DataFrame:
    """One frame: normal, log-normal, uniform, exponential, Student-t and integer columns."""
    cols: dict[str, np.ndarray] = {}
    for j in range(N_NUMERIC):
        kind = j % 6
        if kind == 0:
            x = rng.normal(size=rows)
        elif kind == 1:
            x = rng.lognormal(0.0, 0.5, size=rows)
        elif kind == 2:
            x = rng.uniform(-1, 1, size=rows)
        elif kind == 3:
            x = rng.exponential(size=rows)
        elif kind == 4:
            x = rng.standard_t(5, size=rows)
        else:
            x = rng.poisson(4.0, size=rows).astype(np.float64)  # many ties
        cols[f"x{j}"] = x
    cols["x0"] = cols["x0"] + shift_sd  # x0 is N(0, 1): a shift of s is s SDs
    for j in range(2):
        cols[f"c{j}"] = CATS[rng.choice(len(CATS), size=rows, p=CAT_P)]
    return pd.DataFrame(cols)


def report(label: str, hits: int, runs: int) -> str:
    p = hits / runs
    se = math.sqrt(p * (1 - p) / runs)
    lo, _ = clopper_pearson(hits, runs, 0.975)
    _, hi = clopper_pearson(hits, runs, 0.975)
    return (f"{label}: {hits}/{runs} = {p:.1%} (MC SE {se:.1%}; 95% CI "
            f"[{lo:.1%}, {hi:.1%}])")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--null-runs", type=int, default=None)
    ap.add_argument("--power-runs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    null_runs = args.null_runs or (5 if args.quick else 60)
    power_runs = args.power_runs or (40 if args.quick else 400)
    null_rows = 200_000 if args.quick else 1_000_000
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    alarms = significant_only = 0
    for _ in range(null_runs):
        ref, cur = draw(rng, null_rows), draw(rng, null_rows)
        r = check_drift(ref, cur)
        alarms += r.drifted
        significant_only += any(c.significant for c in r.columns)
    print(f"null: {null_runs} runs of 2 x {null_rows:,} rows x 20 columns, same distribution "
          f"({time.perf_counter() - t0:.0f} s)")
    print("  " + report("dataset-level false alarms (significant AND effect)", alarms,
                        null_runs) + "  target <= 5%")
    print("  " + report("any column significant (Holm), effect ignored", significant_only,
                        null_runs))

    t0 = time.perf_counter()
    caught = other = 0
    for _ in range(power_runs):
        ref, cur = draw(rng, 10_000), draw(rng, 10_000, shift_sd=0.15)
        r = check_drift(ref, cur)
        caught += "x0" in r.drifted_columns
        other += any(c != "x0" for c in r.drifted_columns)
    print(f"power: {power_runs} runs of 2 x 10,000 rows x 20 columns, x0 shifted by 0.15 SD "
          f"({time.perf_counter() - t0:.0f} s)")
    print("  " + report("shift detected", caught, power_runs) + "  target >= 95%")
    print("  " + report("runs with a false alarm in another column", other, power_runs))

    # Why the effect threshold: at 1,000,000 rows a 0.02 SD shift is 'significant' every time.
    big_runs = 3 if args.quick else 10
    sig = flagged = 0
    for _ in range(big_runs):
        ref, cur = draw(rng, null_rows), draw(rng, null_rows, shift_sd=0.02)
        col = next(c for c in check_drift(ref, cur, columns=["x0"]).columns)
        sig += col.significant
        flagged += col.drifted
    print(f"negligible shift (0.02 SD) at {null_rows:,} rows: significant in {sig}/{big_runs}, "
          f"flagged as drift in {flagged}/{big_runs}")


if __name__ == "__main__":
    main()
