"""Soundness of the regression gate by simulation.

Prints, with Monte Carlo standard errors:
- the false-alarm rate (FAIL under no real change) for paired accuracy (McNemar), paired ROC AUC
  (DeLong) and unpaired summaries; each must be <= alpha + 0.01;
- the power (FAIL rate) for a real drop of 2 accuracy points at n = 5,000 with paired data; must
  be >= 0.90.

The simulated models: a reference model is right on each row with probability 0.85; the current
model agrees with it except on a share of rows ("churn", as when a model is retrained), where it
flips. Under no change the flips balance out; under a drop, extra correct rows turn wrong.

Run: .venv/bin/python benchmarks/gate_calibration.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from pytest_mlgate.measurement import Measurement
from pytest_mlgate.stats.compare import compare
from pytest_mlgate.stats.intervals import delong, wilson

ALPHA = 0.05
FP = "sha256:simulated"


def accuracy_side(correct: np.ndarray) -> tuple[Measurement, dict[str, np.ndarray]]:
    n, k = correct.size, int(correct.sum())
    lo, hi = wilson(k, n)
    m = Measurement("accuracy", k / n, lo, hi, 0.95, n, "wilson", {"fingerprint": FP})
    samples = {
        "y_true": np.zeros(n, np.int16),
        "y_pred": (~correct).astype(np.int16),
        "classes": np.array(["0", "1"]),
    }
    return m, samples


def churned(
    rng: np.random.Generator, ref: np.ndarray, churn: float, drop: float, p: float
) -> np.ndarray:
    """Current correctness: flip a balanced ``churn`` share of rows, plus ``drop`` net losses."""
    u = rng.random(ref.size)
    lose = (churn / 2 + drop) / p  # P(correct -> wrong)
    gain = (churn / 2) / (1 - p)  # P(wrong -> correct)
    return np.where(ref, u >= lose, u < gain)


def rate(fails: int, runs: int) -> tuple[float, float]:
    r = fails / runs
    return r, math.sqrt(r * (1 - r) / runs)


def paired_accuracy(
    rng: np.random.Generator, runs: int, n: int, drop: float, churn: float, margin: float = 0.0
) -> tuple[float, float]:
    fails = 0
    for _ in range(runs):
        ref = rng.random(n) < 0.85
        cur = churned(rng, ref, churn, drop, 0.85) if churn < 1 else rng.random(n) < 0.85 - drop
        (mc, sc), (mr, sr) = accuracy_side(cur), accuracy_side(ref)
        c = compare(
            mc,
            mr,
            direction="higher",
            margin=margin,
            alpha=ALPHA,
            current_samples=sc,
            reference_samples=sr,
        )
        fails += c.verdict == "fail"
    return rate(fails, runs)


def unpaired_accuracy(
    rng: np.random.Generator, runs: int, n: int, drop: float
) -> tuple[float, float]:
    """Summaries only (value, interval, n) from two independent samples of the same size."""
    fails = 0
    for _ in range(runs):
        k_ref = rng.binomial(n, 0.85)
        k_cur = rng.binomial(n, 0.85 - drop)
        mr = Measurement("accuracy", k_ref / n, *wilson(k_ref, n), 0.95, n, "wilson", {})
        mc = Measurement("accuracy", k_cur / n, *wilson(k_cur, n), 0.95, n, "wilson", {})
        fails += compare(mc, mr, direction="higher", margin=0.0, alpha=ALPHA).verdict == "fail"
    return rate(fails, runs)


def paired_auc(rng: np.random.Generator, runs: int, n: int) -> tuple[float, float]:
    """Two scorers of equal true AUC, correlated, on the same rows."""
    fails = 0
    for _ in range(runs):
        y = rng.random(n) < 0.3
        signal = rng.normal(size=n)
        s_ref = signal + 1.2 * y + 0.7 * rng.normal(size=n)
        s_cur = signal + 1.2 * y + 0.7 * rng.normal(size=n)
        sides = []
        for s in (s_cur, s_ref):
            d = delong(y, s)
            lo, hi = d.interval()
            sides.append(
                (
                    Measurement("roc_auc", d.auc, lo, hi, 0.95, n, "delong", {"fingerprint": FP}),
                    {"y_true": y, "score": s},
                )
            )
        (mc, sc), (mr, sr) = sides
        c = compare(
            mc,
            mr,
            direction="higher",
            margin=0.0,
            alpha=ALPHA,
            current_samples=sc,
            reference_samples=sr,
        )
        fails += c.verdict == "fail"
    return rate(fails, runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 runs per scenario (smoke test)")
    ap.add_argument("--runs", type=int, default=None, help="runs per scenario (default 4000)")
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args(argv)
    runs = args.runs or (200 if args.quick else 4000)
    rng = np.random.default_rng(args.seed)
    n = 5000
    t0 = time.perf_counter()
    print(f"regression gate calibration: alpha={ALPHA}, runs per scenario={runs}, n={n}")
    rows = [
        ("no change, paired accuracy (4% churn)", paired_accuracy(rng, runs, n, 0.0, 0.04), "fa"),
        ("no change, paired accuracy (15% churn)", paired_accuracy(rng, runs, n, 0.0, 0.15), "fa"),
        (
            "no change, paired accuracy, margin 0.005",
            paired_accuracy(rng, runs, n, 0.0, 0.04, 0.005),
            "fa",
        ),
        ("no change, unpaired summaries", unpaired_accuracy(rng, runs, n, 0.0), "fa"),
        ("no change, paired ROC AUC (DeLong)", paired_auc(rng, runs, 2000), "fa"),
        (
            "2-point drop, paired accuracy (4% churn)",
            paired_accuracy(rng, runs, n, 0.02, 0.04),
            "pw",
        ),
        (
            "2-point drop, paired accuracy (15% churn)",
            paired_accuracy(rng, runs, n, 0.02, 0.15),
            "pw",
        ),
        (
            "2-point drop, independent models (worst case)",
            paired_accuracy(rng, runs, n, 0.02, 1.0),
            "info",
        ),
        ("2-point drop, unpaired summaries", unpaired_accuracy(rng, runs, n, 0.02), "info"),
    ]
    ok = True
    for label, (r, se), kind in rows:
        if kind == "fa":
            good = r <= ALPHA + 0.01
            target = f"<= {ALPHA + 0.01:.2f}"
        elif kind == "pw":
            good = r >= 0.90
            target = ">= 0.90"
        else:
            good, target = True, "(reported)"
        ok &= good
        what = "false-alarm rate" if kind == "fa" else "FAIL rate (power)"
        print(
            f"  {label:48s} {what:18s} {r:.4f} +- {se:.4f}  target {target:10s} "
            f"{'ok' if good else 'MISSED'}"
        )
    print(f"elapsed {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
