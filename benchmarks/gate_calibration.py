"""Soundness of every verdict path by simulation: false alarms under no change, power under a real one.

For each metric (accuracy, roc_auc, f1, r2, rmse, mae, log_loss) and each statistical verdict path:

- regression: the current model against its baseline on the same rows (paired, as the gate does
  with per-row data in the baseline): no real change must FAIL at most alpha + 0.01 of the runs;
- slices vs baseline: three slices compared with their baselines, Holm across the slices: the
  chance that any slice FAILs under no change must be at most alpha + 0.01;
- slice thresholds: three slices whose true metric sits exactly on the threshold, Holm across
  slices: the chance that any slice FAILs must be at most alpha + 0.01.

A no-change row also says how many Monte Carlo standard errors its rate lies from alpha: with
2,000 runs one SE is 0.0049, so a rate of 0.058 is 1.6 SE above 0.05, which chance explains one
run in twenty. (The regression row for mae read 0.0580 at 2,000 runs; 180,000 runs over nine
seeds give 0.0505 +- 0.0005.)

Power (the FAIL rate) is printed for a stated real change: the current model (or one slice) worse
by the amount in the row's label. The simulated models: labels and scores are drawn afresh each
run; two models of equal true quality disagree on some rows ("churn", as when a model is
retrained), so a paired test sees noise, not a change. Every function called is the one the gate
calls (stats.compare.compare / compare_holm, stats.slices.slice_threshold_verdicts,
stats.metrics.estimate); numpy does the simulation.

Run: .venv/bin/python benchmarks/gate_calibration.py [--quick] [--runs N] [--jobs J]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from scipy.stats import norm

from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.compare import compare, compare_holm, prepare
from pytest_mlgate.stats.evaluation import EvaluationResult
from pytest_mlgate.stats.metrics import estimate, resolve
from pytest_mlgate.stats.slices import slice_threshold_verdicts

ALPHA = 0.05
FP = "sha256:simulated"
N_BOOT_METRIC = 1000  # mlgate_bootstrap default
N_ROWS = 600  # rows of a whole evaluation set
N_SLICE = 300  # rows per slice, three slices
SLICES = 3
METRICS = ("accuracy", "roc_auc", "f1", "r2", "rmse", "mae", "log_loss")

Samples = dict[str, np.ndarray]


# ---- simulated evaluation data: (reference samples, current samples) on the same rows --------


def _labels(rng: np.random.Generator, n: int, prevalence: float = 0.4) -> np.ndarray:
    return rng.random(n) < prevalence


def _classify(y: np.ndarray, right: np.ndarray) -> Samples:
    pred = np.where(right, y, ~y)
    return {"y_true": y.astype(np.int16), "y_pred": pred.astype(np.int16),
            "classes": np.array(["0", "1"])}


def _churned(rng: np.random.Generator, ref: np.ndarray, p: float, churn: float,
             drop: float) -> np.ndarray:
    """Current correctness: a balanced ``churn`` share of rows flips, plus ``drop`` net losses."""
    u = rng.random(ref.size)
    return np.where(ref, u >= (churn / 2 + drop) / p, u < (churn / 2) / (1 - p))


def simulate(metric: str, rng: np.random.Generator, n: int, drop: float,
             level: float = 0.0) -> tuple[Samples, Samples]:
    """(reference, current) samples for ``metric``; the current model is worse by ``drop`` in
    the metric's natural parameter, and both are shifted by ``level`` (used to place a slice's
    true value)."""
    if metric in ("accuracy", "f1"):
        p = 0.85 - level
        y = _labels(rng, n)
        ref = rng.random(n) < p
        return _classify(y, ref), _classify(y, _churned(rng, ref, p, 0.06, drop))
    if metric == "roc_auc":
        y = _labels(rng, n, 0.3)
        signal = rng.normal(size=n)
        sep = 1.2 - level
        s_ref = signal + sep * y + 0.7 * rng.normal(size=n)
        s_cur = signal + (sep - drop) * y + 0.7 * rng.normal(size=n)
        return {"y_true": y, "score": s_ref}, {"y_true": y, "score": s_cur}
    if metric in ("r2", "rmse", "mae"):
        y = rng.normal(0.0, 2.0, n)
        sigma = 1.0 + level
        shared = rng.normal(size=n)
        # Errors of two retrained models: correlated, of equal variance unless drop > 0.
        e_ref = sigma * (0.8 * shared + 0.6 * rng.normal(size=n))
        e_cur = (sigma + drop) * (0.8 * shared + 0.6 * rng.normal(size=n))
        return {"y_true": y, "y_pred": y + e_ref}, {"y_true": y, "y_pred": y + e_cur}
    if metric == "log_loss":
        y = _labels(rng, n).astype(np.int32)
        shared = rng.normal(size=n)  # what both models get wrong alike
        sep = 2.0 - level

        def proba(extra: float) -> np.ndarray:
            # A worse model: more noise on its logit (drop = extra noise SD).
            z = sep * (2 * y - 1) + shared + (0.5 + extra) * rng.normal(size=n)
            p1 = 1 / (1 + np.exp(-z))
            return np.stack([1 - p1, p1], axis=1)

        return ({"y_true": y, "proba": proba(0.0), "classes": np.array(["0", "1"])},
                {"y_true": y, "proba": proba(drop), "classes": np.array(["0", "1"])})
    raise ValueError(metric)


def measure(metric: str, samples: Samples, seed: int, name: str | None = None,
            info: dict[str, Any] | None = None) -> Measurement:
    spec = resolve(metric)
    e = estimate(spec, samples, n_boot=N_BOOT_METRIC, seed=seed)
    full = {"direction": spec.direction, "fingerprint": FP, **(info or {}), **e.info}
    n = len(samples["y_true"])
    return Measurement(name or metric, e.value, e.low, e.high, 0.95, n, e.method, full)


# ---- true values, for thresholds placed exactly on the truth -------------------------------------


def true_value(metric: str, level: float) -> float:
    """The population value of ``metric`` for the reference model at ``level`` (by a large
    simulation for the metrics without a closed form)."""
    if metric == "accuracy":
        return 0.85 - level
    if metric == "roc_auc":
        # score = signal + sep*y + 0.7*noise: classes differ by sep, each with variance 1.49.
        return float(norm.cdf((1.2 - level) / math.sqrt(2 * 1.49)))
    if metric == "rmse":
        return 1.0 + level
    if metric == "mae":
        return (1.0 + level) * math.sqrt(2.0 / math.pi)
    if metric == "r2":
        return 1.0 - (1.0 + level) ** 2 / 4.0
    rng = np.random.default_rng(12345)
    ref, _ = simulate(metric, rng, 4_000_000, 0.0, level)
    spec = resolve(metric)
    from pytest_mlgate.stats.metrics import kernel

    return kernel(spec, ref).point()


# ---- one run of each verdict path ---------------------------------------------------------------


def run_regression(metric: str, rng: np.random.Generator, drop: float, seed: int) -> bool:
    ref, cur = simulate(metric, rng, N_ROWS, drop)
    c = compare(measure(metric, cur, seed), measure(metric, ref, seed),
                direction=resolve(metric).direction, margin=0.0, alpha=ALPHA,
                current_samples=cur, reference_samples=ref, seed=seed)
    return c.verdict == "fail"


def run_regression_margin(metric: str, rng: np.random.Generator, drop: float,
                          seed: int) -> bool:
    """Paired, with a margin of 0.005 (Tango's score test for accuracy)."""
    ref, cur = simulate(metric, rng, N_ROWS, drop)
    c = compare(measure(metric, cur, seed), measure(metric, ref, seed),
                direction=resolve(metric).direction, margin=0.005, alpha=ALPHA,
                current_samples=cur, reference_samples=ref, seed=seed)
    return c.verdict == "fail"


def run_unpaired(metric: str, rng: np.random.Generator, drop: float, seed: int) -> bool:
    """Summaries only (value, interval, n), as with a baseline without per-row data."""
    ref, cur = simulate(metric, rng, N_ROWS, drop)
    c = compare(measure(metric, cur, seed), measure(metric, ref, seed),
                direction=resolve(metric).direction, margin=0.0, alpha=ALPHA, seed=seed)
    return c.verdict == "fail"


def run_slices_vs_baseline(metric: str, rng: np.random.Generator, drop: float,
                           seed: int) -> bool:
    prepared = []
    for k in range(SLICES):
        ref, cur = simulate(metric, rng, N_SLICE, drop if k == 0 else 0.0)
        name = f"{metric}[s={k}]"
        info = {"slice": f"s={k}", "parent": metric}
        prepared.append(prepare(
            measure(metric, cur, seed, name, info), measure(metric, ref, seed, name, info),
            direction=resolve(metric).direction, margin=0.0, current_samples=cur,
            reference_samples=ref, seed=seed))
    return any(c.verdict == "fail" for c in compare_holm(prepared, ALPHA))


def run_slice_thresholds(metric: str, rng: np.random.Generator, drop: float, seed: int,
                         threshold: float) -> bool:
    ms = []
    for k in range(SLICES):
        _, cur = simulate(metric, rng, N_SLICE, drop if k == 0 else 0.0)
        ms.append(measure(metric, cur, seed, f"{metric}[s={k}]",
                          {"slice": f"s={k}", "parent": metric}))
    result = EvaluationResult(ms, {}, FP, SLICES * N_SLICE)
    op = ">=" if resolve(metric).direction == "higher" else "<="
    verdicts = slice_threshold_verdicts(result, metric, op, threshold, ALPHA)
    return any(v == "fail" for _, v, _ in verdicts)


# Real changes for the power rows: (parameter change, how it reads).
CHANGES = {
    "accuracy": (0.04, "4 points of accuracy"),
    "roc_auc": (0.35, "separation 1.2 -> 0.85, AUC -0.06"),
    "f1": (0.04, "4 points more wrong rows"),
    "r2": (0.25, "error SD x1.25"),
    "rmse": (0.25, "error SD x1.25"),
    "mae": (0.25, "error SD x1.25"),
    "log_loss": (0.6, "logit noise SD 0.5 -> 1.1"),
}


def scenario(args: tuple[str, str, bool, int, int]) -> tuple[str, str, bool, float, float, float]:
    metric, path, real, runs, seed = args
    rng = np.random.default_rng(seed)
    drop = CHANGES[metric][0] if real else 0.0
    t0 = time.perf_counter()
    threshold = true_value(metric, 0.0) if path == "slice thresholds" else math.nan
    fails = 0
    for r in range(runs):
        s = seed * 100_003 + r
        if path == "regression":
            fails += run_regression(metric, rng, drop, s)
        elif path == "regression, margin":
            fails += run_regression_margin(metric, rng, drop, s)
        elif path == "unpaired":
            fails += run_unpaired(metric, rng, drop, s)
        elif path == "slices vs baseline":
            fails += run_slices_vs_baseline(metric, rng, drop, s)
        else:
            fails += run_slice_thresholds(metric, rng, drop, s, threshold)
    rate = fails / runs
    return metric, path, real, rate, math.sqrt(rate * (1 - rate) / runs), time.perf_counter() - t0


PATHS = ("regression", "slices vs baseline", "slice thresholds")
# Further paths, for accuracy: Tango's test with a margin, and summaries without per-row data.
EXTRA_PATHS = ("regression, margin", "unpaired")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 runs per row (smoke test)")
    ap.add_argument("--runs", type=int, default=None, help="runs per row (default 2000)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--metrics", nargs="*", default=list(METRICS))
    ap.add_argument("--paths", nargs="*", default=list(PATHS))
    args = ap.parse_args(argv)
    runs = args.runs or (100 if args.quick else 2000)
    combos = [(m, p) for m in args.metrics for p in args.paths]
    if "accuracy" in args.metrics and args.paths == list(PATHS):
        combos += [("accuracy", p) for p in EXTRA_PATHS]
    tasks = [(m, p, real, runs, args.seed + 17 * i)
             for i, (m, p, real) in enumerate(
                 (m, p, real) for m, p in combos for real in (False, True))]
    t0 = time.perf_counter()
    print(f"gate calibration: alpha={ALPHA}, runs per row={runs}, rows: whole set {N_ROWS}, "
          f"slices {SLICES} x {N_SLICE}; bootstrap {N_BOOT_METRIC} (metric), 2000 (comparison)")
    ok = True
    header = f"  {'metric':9s} {'path':19s} {'case':40s} {'FAIL rate':>16s}  {'goal':10s} status"
    print(header)
    print("  " + "-" * (len(header) - 2), flush=True)
    pool = ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1 else None
    # Rows are printed as they finish (in table order), so a long run shows its progress.
    results = pool.map(scenario, tasks) if pool is not None else map(scenario, tasks)
    for metric, path, real, rate, se, _ in results:
        if real:
            case, goal, good = f"real change: {CHANGES[metric][1]}", "(power)", True
        else:
            case = "no change" if path != "slice thresholds" else "every slice on the threshold"
            goal, good = f"<= {ALPHA + 0.01:.2f}", rate <= ALPHA + 0.01
        ok &= good
        # How far a false-alarm rate sits from the nominal alpha, in Monte Carlo SEs (of a rate
        # at alpha): the goal allows alpha + 0.01, this tells noise from a real excess.
        off = "" if real else f"  {(rate - ALPHA) / math.sqrt(ALPHA * (1 - ALPHA) / runs):+5.1f} SE"
        print(f"  {metric:9s} {path:19s} {case:40s} {rate:7.4f} +- {se:.4f}  {goal:10s} "
              f"{'ok' if good else 'MISSED'}{off}", flush=True)
    if pool is not None:
        pool.shutdown()
    print(f"elapsed {time.perf_counter() - t0:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
