"""Candidate intervals for unweighted average precision, on the same data sets (issue 19).

Every candidate starts from the jackknife standard error that ``jackknife-logit`` uses (exact
leave-one-out values after one sort, t quantile on positives - 1 degrees of freedom) and differs
only in where the interval is centred and on which scale it is symmetric:

- ``logit``: the shipped method, symmetric on the logit scale;
- ``raw``: symmetric on the metric's scale, the logit only where that would cross 0 or 1;
- ``bc-raw`` / ``bc-logit``: centred on the jackknife bias-corrected value ``AP + sum(phi)``;
- ``beta<L>``: symmetric on the scale ``g(p) = I_p(1 - L, 1 - L)`` (regularized incomplete beta),
  whose slope is proportional to ``(p (1 - p))**-L``: L = 0 is the identity, L = 1/2 the
  arcsine square root, L -> 1 the logit, so L sets how lopsided the interval is near a bound.

Part 1: coverage over ``benchmarks/interval_coverage.py``'s design (binormal scores, 30%
positives) and seeds (those of ``--metrics average_precision``); ``--offsets`` adds other seeds.
Part 2 (``--extra``): coverage in designs with other prevalences and separations, with the row
bootstrap percentile interval's own coverage (1,000 resamples) where ``--boot-sets`` > 0.
Part 3: breast_cancer, each candidate against the 2,000-resample row bootstrap exactly as
``interval_coverage.py`` measures it (distance in Monte Carlo SDs of the bootstrap's endpoints).

Run: .venv/bin/python benchmarks/ap_interval_candidates.py [--sets N] [--extra] [--boot-sets N]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import numpy as np
from scipy import integrate
from scipy.special import beta as beta_fn
from scipy.special import betainc, betaincinv
from scipy.stats import norm

from pytest_mlgate.stats.influence import Linearized, t_value
from pytest_mlgate.stats.intervals import bootstrap, percentile_interval
from pytest_mlgate.stats.metrics import kernel, resolve

Interval = tuple[float, float]
SPEC = resolve("average_precision")


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit_interval(centre: float, half_raw: float) -> Interval:
    if not 0.0 < centre < 1.0:
        return centre, centre
    mid = math.log(centre / (1.0 - centre))
    half = half_raw / (centre * (1.0 - centre))
    return _expit(mid - half), _expit(mid + half)


def _raw_interval(centre: float, half: float) -> Interval:
    lo, hi = centre - half, centre + half
    return (lo, hi) if lo >= 0.0 and hi <= 1.0 else _logit_interval(centre, half)


def _beta_interval(lam: float) -> Callable[[float, float], Interval]:
    a = 1.0 - lam

    def interval(centre: float, half: float) -> Interval:
        if not 0.0 < centre < 1.0:
            return centre, centre
        mid = float(betainc(a, a, centre))
        h = half * (centre * (1.0 - centre)) ** (-lam) / float(beta_fn(a, a))
        return (float(betaincinv(a, a, max(mid - h, 0.0))),
                float(betaincinv(a, a, min(mid + h, 1.0))))

    return interval


SCALES: dict[str, Callable[[float, float], Interval]] = {
    "logit": _logit_interval, "raw": _raw_interval,
    **{f"beta{lam}": _beta_interval(lam) for lam in (0.5, 0.6, 0.75, 0.85)},
}


def candidates(lin: Linearized) -> dict[str, Interval]:
    half = t_value(0.95, lin.df if lin.df is not None else lin.n - 1) * lin.se
    out = {name: scale(lin.value, half) for name, scale in SCALES.items()}
    corrected = lin.value + float(lin.phi.sum())  # jackknife bias correction
    out["bc-raw"] = _raw_interval(corrected, half)
    out["bc-logit"] = _logit_interval(corrected, half)
    return out


def binormal_truth(prevalence: float, shift: float) -> float:
    """AP of negatives N(0, 1) and positives N(shift, 1) at ``prevalence``, by integration."""

    def precision(s: float) -> float:
        tp = prevalence * norm.sf(s - shift)
        return float(tp / (tp + (1 - prevalence) * norm.sf(s)))

    value, _ = integrate.quad(lambda s: precision(s) * norm.pdf(s - shift), -12, 14, limit=200)
    return float(value)


def coverage(prevalence: float, shift: float, n: int, sets: int, seed: int,
             boot_sets: int = 0) -> dict[str, float]:
    truth = binormal_truth(prevalence, shift)
    rng = np.random.default_rng(seed)
    hits: dict[str, int] = {}
    for i in range(sets):
        y = rng.random(n) < prevalence
        k = kernel(SPEC, {"y_true": y, "score": rng.normal(size=n) + shift * y})
        lin = k.linearize()
        if lin is None or lin.df is None:
            raise SystemExit("a data set with fewer than two positives: raise n")
        found = candidates(lin)
        if i < boot_sets:
            found["boot-pct"] = percentile_interval(bootstrap(k.resample, k.n, n_boot=1000,
                                                              seed=i))
        for name, (lo, hi) in found.items():
            hits[name] = hits.get(name, 0) + int(lo <= truth <= hi)
    return {name: h / (boot_sets if name == "boot-pct" else sets) for name, h in hits.items()}


def real_agreement() -> dict[str, tuple[Interval, float, float, bool]]:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from interval_coverage import _real

    samples = _real()["average_precision"]
    k = kernel(SPEC, samples)
    lin = k.linearize()
    assert lin is not None
    reps = [bootstrap(k.resample, k.n, n_boot=2000, seed=s) for s in range(1, 11)]
    ends = np.array([percentile_interval(r) for r in reps])
    b_lo, b_hi = ends.mean(axis=0)
    sd_lo, sd_hi = ends.std(axis=0, ddof=1)
    width = b_hi - b_lo
    out = {}
    for name, (lo, hi) in candidates(lin).items():
        ok = (abs(lo - b_lo) <= max(3 * sd_lo, 0.05 * width)
              and abs(hi - b_hi) <= max(3 * sd_hi, 0.05 * width))
        out[name] = ((lo, hi), abs(lo - b_lo) / sd_lo, abs(hi - b_hi) / sd_hi, ok)
    print(f"breast_cancer: AP {lin.value:.4f}, bootstrap [{b_lo:.4f}, {b_hi:.4f}], "
          f"MC SD {sd_lo:.5f} {sd_hi:.5f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--sizes", type=int, nargs="*", default=[200, 20_000])
    ap.add_argument("--offsets", type=int, nargs="*", default=[0],
                    help="seed offsets (0 = interval_coverage.py --metrics average_precision)")
    ap.add_argument("--extra", action="store_true", help="other prevalences and separations")
    ap.add_argument("--boot-sets", type=int, default=0,
                    help="data sets per extra design that also get a row bootstrap")
    args = ap.parse_args(argv)
    names = list(candidates_names())
    print(f"coverage of 95% intervals, {args.sets} data sets per cell")
    print(f"  {'design':34s}" + "".join(f" {n:>9s}" for n in [*names, "boot-pct"]))
    for off in args.offsets:
        for j, n in enumerate(args.sizes):
            cov = coverage(0.3, 1.2, n, args.sets, 20261202 + off + j)
            print(f"  {f'p=0.3 d=1.2 n={n} seed+{off + j}':34s}"
                  + "".join(f" {cov[m]:9.4f}" for m in names))
    if args.extra:
        for p, d, n in [(0.1, 1.2, 200), (0.3, 2.5, 200), (0.6, 2.0, 200), (0.63, 2.3, 569)]:
            cov = coverage(p, d, n, args.sets, 11, args.boot_sets)
            print(f"  {f'p={p} d={d} n={n} (AP {binormal_truth(p, d):.3f})':34s}"
                  + "".join(f" {cov[m]:9.4f}" for m in [*names, "boot-pct"] if m in cov))
    print()
    for name, ((lo, hi), d_lo, d_hi, ok) in real_agreement().items():
        print(f"  {name:9s} [{lo:.4f}, {hi:.4f}]  |diff|/MC {d_lo:4.1f} {d_hi:4.1f}  "
              f"{'agrees' if ok else 'DIFFERS'}")
    return 0


def candidates_names() -> list[str]:
    return [*SCALES, "bc-raw", "bc-logit"]


if __name__ == "__main__":
    sys.exit(main())
