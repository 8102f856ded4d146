"""Regression verdicts: is the current metric worse than the reference (a baseline or a champion)?

The question is one of non-inferiority with a margin ``m`` (metric units, >= 0). With
``delta`` = improvement of current over reference (current - reference for higher-is-better
metrics, reference - current for lower-is-better ones):

- FAIL: ``delta < -m`` with significance (one-sided test at ``alpha``);
- IMPROVED: ``delta > +m`` with significance;
- INCONCLUSIVE (only when ``m > 0``): neither, and the data cannot rule out ``delta <= -m``;
- PASS: otherwise.

With ``m == 0`` a drop "larger than zero" can never be ruled out, so there is no inconclusive
band: the gate fails on a significant drop and passes otherwise.

Tests, best first: paired (same evaluation data, per-sample data on both sides) - exact McNemar
(m == 0) or Tango's score test (m > 0) on the discordant pairs for accuracy/error rate/recall,
paired DeLong for ROC AUC, a paired t test on per-row influence differences for means of losses,
regression metrics and average precision (a paired studentized bootstrap where Cochran's rule
fails), multinomial redraws of the joint confusion cells for other label metrics, the paired row
bootstrap otherwise; unpaired normal test from the two intervals when only summaries exist; a
plain comparison of values ("point") when a side has no interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.measurement import Comparison, Measurement, Verdict
from pytest_mlgate.stats.holm import holm, holm_levels
from pytest_mlgate.stats.influence import studentized_replicates, t_value
from pytest_mlgate.stats.intervals import delong, delong_paired, resample_blocks, z_value
from pytest_mlgate.stats.metrics import (
    ConfusionKernel,
    cells_beat_rows,
    kernel,
    multinomial_replicates,
    resolve,
)


class _Summary(Protocol):
    @property
    def value(self) -> float: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def level(self) -> float | None: ...
    @property
    def n(self) -> int | None: ...


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


class _Test:
    """One test of the oriented improvement ``delta``, as a family of one-sided p-values.

    ``p_below(d0)``: p-value against H0 "delta >= d0" (small: delta < d0).
    ``p_above(d0)``: p-value against H0 "delta <= d0" (small: delta > d0).
    ``bounds(a)``: the inversion of both at one-sided level ``a``: (L, U) such that
    ``p_above(d0) < a`` exactly when ``d0 < L`` and ``p_below(d0) < a`` exactly when ``d0 > U``.
    The verdict is read off the p-values and the interval off ``bounds``, so they always agree.
    """

    method = "point"

    def __init__(self, delta: float) -> None:
        self.delta = delta

    def p_below(self, d0: float) -> float:
        return 0.0 if self.delta < d0 else 1.0

    def p_above(self, d0: float) -> float:
        return 0.0 if self.delta > d0 else 1.0

    def bounds(self, a: float) -> tuple[float, float]:
        return self.delta, self.delta


class _NormalTest(_Test):
    def __init__(self, delta: float, se: float, method: str) -> None:
        super().__init__(delta)
        self.se, self.method = se, method

    def p_below(self, d0: float) -> float:
        return _phi((self.delta - d0) / self.se)

    def p_above(self, d0: float) -> float:
        return _phi((d0 - self.delta) / self.se)

    def bounds(self, a: float) -> tuple[float, float]:
        z = z_value(1 - 2 * a)
        return self.delta - z * self.se, self.delta + z * self.se


class _StudentTest(_NormalTest):
    """A t test of the mean of paired per-row influence values, on ``df`` degrees of freedom."""

    def __init__(self, delta: float, se: float, df: int, method: str) -> None:
        super().__init__(delta, se, method)
        self.df = df

    def p_below(self, d0: float) -> float:
        from scipy.stats import t

        return float(t.cdf((self.delta - d0) / self.se, self.df))

    def p_above(self, d0: float) -> float:
        from scipy.stats import t

        return float(t.cdf((d0 - self.delta) / self.se, self.df))

    def bounds(self, a: float) -> tuple[float, float]:
        q = t_value(1 - 2 * a, self.df)
        return self.delta - q * self.se, self.delta + q * self.se


def _normal_test(delta: float, se: float, method: str) -> _Test:
    if se <= 0 or not math.isfinite(se):
        return _Test(delta)
    return _NormalTest(delta, se, method)


class _ExactMcNemar(_Test):
    """Paired proportions at margin 0: McNemar's exact test conditional on the ``s = b + c``
    discordant rows, of which ``c`` went the reference's way. Conditionally the improvement is
    ``s/n * (1 - 2*pi)`` with pi the chance a discordant row favours the reference; its interval
    is the Clopper-Pearson interval of pi on that scale, the exact inversion of the test."""

    method = "mcnemar-exact"

    def __init__(self, b: int, c: int, n: int) -> None:
        super().__init__((b - c) / n)
        self.b, self.c, self.n, self.s = b, c, n, b + c

    def _pi0(self, d0: float) -> float:
        return (1.0 - d0 * self.n / self.s) / 2.0

    def p_below(self, d0: float) -> float:
        from scipy.stats import binom

        if self.s == 0:
            return super().p_below(d0)
        pi0 = self._pi0(d0)
        if pi0 < 0.0:
            return 0.0  # delta >= d0 is impossible: d0 exceeds the share of discordant rows
        return float(binom.sf(self.c - 1, self.s, min(pi0, 1.0)))

    def p_above(self, d0: float) -> float:
        from scipy.stats import binom

        if self.s == 0:
            return super().p_above(d0)
        pi0 = self._pi0(d0)
        if pi0 > 1.0:
            return 0.0
        return float(binom.cdf(self.c, self.s, max(pi0, 0.0)))

    def bounds(self, a: float) -> tuple[float, float]:
        from scipy.stats import beta

        if self.s == 0:
            return 0.0, 0.0
        s, c = self.s, self.c
        pi_low = float(beta.ppf(a, c, s - c + 1)) if c > 0 else 0.0
        pi_high = float(beta.ppf(1 - a, c + 1, s - c)) if c < s else 1.0
        scale = s / self.n
        return scale * (1 - 2 * pi_high), scale * (1 - 2 * pi_low)


class _TangoScore(_Test):
    """Paired proportions with a margin: Tango's (1998) score test of the difference, with the
    restricted maximum-likelihood estimate in closed form; its interval is the score interval."""

    method = "tango-score"

    def __init__(self, b: int, c: int, n: int) -> None:
        super().__init__((b - c) / n)
        self.b, self.c, self.n = b, c, n

    def z(self, d0: float) -> float:
        b, c, n = self.b, self.c, self.n
        a_ = 2.0 * n
        b_ = -b - c + (2.0 * n - b + c) * d0
        c_ = -c * d0 * (1.0 - d0)
        p21 = (math.sqrt(max(b_ * b_ - 4.0 * a_ * c_, 0.0)) - b_) / (2.0 * a_)
        var = n * (2.0 * p21 + d0 * (1.0 - d0))
        top = b - c - n * d0
        if var <= 0:
            return math.inf if top > 0 else (-math.inf if top < 0 else 0.0)
        return top / math.sqrt(var)

    def p_below(self, d0: float) -> float:
        return _phi(self.z(d0))

    def p_above(self, d0: float) -> float:
        return _phi(-self.z(d0))

    def bounds(self, a: float) -> tuple[float, float]:
        from scipy.optimize import brentq

        q = z_value(1 - 2 * a)
        edge = 1.0 - 1e-12
        # z decreases in d0 and is 0 at the estimate: each limit is one root.
        if self.z(-edge) <= q:
            low = -1.0
        else:
            low = float(brentq(lambda d: self.z(d) - q, -edge, self.delta, xtol=1e-13))
        if self.z(edge) >= -q:
            high = 1.0
        else:
            high = float(brentq(lambda d: self.z(d) + q, self.delta, edge, xtol=1e-13))
        return low, high


def _paired_proportion_test(better: int, worse: int, n: int, margin: float) -> _Test:
    """``better`` rows only the current side gets right, ``worse`` rows only the reference gets
    right, out of ``n``: exact McNemar at margin 0, Tango's score test with a margin."""
    if n == 0:
        return _Test(0.0)
    if margin == 0.0:
        return _ExactMcNemar(better, worse, n)
    return _TangoScore(better, worse, n)


class _BootstrapTest(_Test):
    """Paired bootstrap: p-values are shares of replicates beyond d0 (with the usual +1), and
    the interval ends are the order statistics at which those p-values cross the level."""

    def __init__(
        self, reps: NDArray[np.float64], delta: float, method: str = "paired-bootstrap"
    ) -> None:
        super().__init__(delta)
        self.r = np.sort(reps)
        self.nb = self.r.size
        self.method = method

    def p_below(self, d0: float) -> float:
        k = self.nb - int(np.searchsorted(self.r, d0, "left"))  # replicates >= d0
        return (k + 1) / (self.nb + 1)

    def p_above(self, d0: float) -> float:
        k = int(np.searchsorted(self.r, d0, "right"))  # replicates <= d0
        return (k + 1) / (self.nb + 1)

    def bounds(self, a: float) -> tuple[float, float]:
        # The largest count k of replicates beyond d0 that still rejects: (k + 1)/(nb + 1) < a.
        k = math.floor(a * (self.nb + 1)) - 1
        while k >= 0 and not (k + 1) / (self.nb + 1) < a:
            k -= 1
        while (k + 2) / (self.nb + 1) < a and k + 1 < self.nb:
            k += 1
        if k < 0:
            return -math.inf, math.inf
        return float(self.r[k]), float(self.r[self.nb - 1 - k])


def _bootstrap_test(
    reps: NDArray[np.float64], delta: float, method: str = "paired-bootstrap"
) -> _Test:
    r = reps[np.isfinite(reps)]
    if r.size == 0:
        return _Test(delta)
    return _BootstrapTest(r, delta, method)


def _summary_se(m: _Summary) -> float | None:
    if m.low is None or m.high is None or not (math.isfinite(m.low) and math.isfinite(m.high)):
        return None
    return (m.high - m.low) / (2.0 * z_value(m.level or 0.95))


def _remap(samples: Mapping[str, NDArray[Any]], union: list[str]) -> dict[str, NDArray[Any]]:
    """Re-encode class codes of ``samples`` against the class list ``union``."""
    classes = [str(c) for c in samples["classes"]]
    lut = np.array([union.index(c) for c in classes], dtype=np.int64)
    out = dict(samples)
    for key in ("y_true", "y_pred"):
        if key in out and np.asarray(out[key]).dtype.kind in "iu":
            out[key] = lut[np.asarray(out[key], dtype=np.int64)]
    out["classes"] = np.asarray(union, dtype=np.str_)
    return out


def _aligned(
    cur: Mapping[str, NDArray[Any]], ref: Mapping[str, NDArray[Any]]
) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[Any]]] | None:
    """Both sides on one class encoding, or None when they are not the same rows and labels."""
    cur, ref = dict(cur), dict(ref)
    if "classes" in cur and "classes" in ref:
        if "proba" in cur or "proba" in ref:
            if not np.array_equal(cur["classes"], ref["classes"]):
                return None
        elif [str(c) for c in cur["classes"]] != [str(c) for c in ref["classes"]]:
            # Classes in order of appearance, current first: the positive class stays last
            # whenever both sides are binary on the same labels.
            union = list(dict.fromkeys([*map(str, cur["classes"]), *map(str, ref["classes"])]))
            cur, ref = _remap(cur, union), _remap(ref, union)
    yc, yr = cur.get("y_true"), ref.get("y_true")
    if yc is None or yr is None or np.shape(yc) != np.shape(yr) or not np.array_equal(yc, yr):
        return None
    wc, wr = cur.get("weight"), ref.get("weight")
    if wc is None or wr is None:
        return (cur, ref) if wc is None and wr is None else None
    if not np.array_equal(wc, wr):
        return None
    return cur, ref


def _paired_test(
    metric: str,
    cur: Mapping[str, NDArray[Any]],
    ref: Mapping[str, NDArray[Any]],
    sign: float,
    margin: float,
    n_boot: int,
    seed: int,
) -> _Test | None:
    try:
        spec = resolve(metric)
    except MlgateError:
        return None
    pair = _aligned(cur, ref)
    if pair is None:
        return None
    cur, ref = pair
    weighted = "weight" in cur
    if (
        spec.family == "confusion"
        and spec.canonical in ("accuracy", "error_rate", "recall")
        and not weighted
    ):
        yt = np.asarray(cur["y_true"])
        if spec.canonical == "recall":
            if len(cur["classes"]) > 2:
                return None
            rows = yt == len(cur["classes"]) - 1
        else:
            rows = np.ones(yt.shape[0], dtype=bool)
        ok_c = (np.asarray(cur["y_pred"]) == yt)[rows]
        ok_r = (np.asarray(ref["y_pred"]) == yt)[rows]
        better = int(np.count_nonzero(ok_c & ~ok_r))
        worse = int(np.count_nonzero(ok_r & ~ok_c))
        return _paired_proportion_test(better, worse, int(rows.sum()), margin)
    if spec.family == "ranking" and not weighted:
        yt = np.asarray(cur["y_true"], dtype=bool)
        diff, var = delong_paired(delong(yt, cur["score"]), delong(yt, ref["score"]))
        return _normal_test(sign * diff, math.sqrt(max(var, 0.0)), "paired-delong")
    kc, kr = kernel(spec, cur), kernel(spec, ref)
    delta = sign * (kc.point() - kr.point())
    if (isinstance(kc, ConfusionKernel) and isinstance(kr, ConfusionKernel) and not weighted
            and kc.k == kr.k and cells_beat_rows(kc.k**3, kc.n)):
        return _paired_multinomial(kc, kr, sign, delta, n_boot, seed)
    lc, lr = kc.linearize(), kr.linearize()
    if lc is not None and lr is not None:
        lin = lc.minus(lr, sign)
        if lin.se == 0.0:
            return _Test(delta)
        if lin.t_ok():
            return _StudentTest(delta, lin.se, lin.n - 1, "paired-t")
        reps = studentized_replicates(
            lin, lambda idx: sign * (kc.resample(idx) - kr.resample(idx)), n_boot=n_boot,
            seed=seed,
        )
        return _bootstrap_test(reps, delta, "paired-bootstrap-t")
    reps = np.concatenate(
        [
            sign * (kc.resample(idx) - kr.resample(idx))
            for idx in resample_blocks(kc.n, n_boot, seed)
        ]
    )
    return _bootstrap_test(reps, delta)


def _paired_multinomial(
    kc: ConfusionKernel, kr: ConfusionKernel, sign: float, delta: float, n_boot: int,
    seed: int,
) -> _Test:
    """The paired row bootstrap of a confusion-matrix metric, drawn as multinomial counts of the
    joint cells (true class, current prediction, reference prediction): the same distribution at
    O(k**3) per replicate."""
    k = kc.k
    yt, pc = np.divmod(kc.cells, k)
    pr = kr.cells % k
    joint = np.bincount((yt * k + pc) * k + pr, minlength=k**3).astype(np.float64)

    def stat(draws: NDArray[np.float64]) -> NDArray[np.float64]:
        d = draws.reshape(-1, k, k, k)
        cur = d.sum(axis=3).reshape(-1, k * k)  # (true, current)
        ref = d.sum(axis=2).reshape(-1, k * k)  # (true, reference)
        return np.asarray(sign * (kc.metric_of(cur) - kr.metric_of(ref)), dtype=np.float64)

    reps = multinomial_replicates(joint, stat, n_boot, seed)
    return _bootstrap_test(reps, delta, "paired-multinomial-bootstrap")


@dataclass(frozen=True)
class Prepared:
    """A comparison whose test is chosen but whose verdict is not yet decided.

    ``test`` is None when no comparison is possible (``final`` then holds the answer)."""

    metric: str
    reference_kind: str
    reference_value: float
    change: float
    margin: float
    sign: float
    test: _Test | None = None
    final: Comparison | None = None

    @property
    def p_fail(self) -> float:
        """The one-sided p-value of "worse than the reference by more than the margin"."""
        return 1.0 if self.test is None else self.test.p_below(-self.margin)


def prepare(
    current: Measurement,
    reference: Any,
    *,
    direction: str,
    margin: float,
    current_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_kind: str = "baseline",
    current_fingerprint: str | None = None,
    reference_fingerprint: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Prepared:
    """Choose the test of ``current`` against ``reference`` (see :func:`compare`)."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    sign = 1.0 if direction == "higher" else -1.0
    ref_value = float(reference.value)
    cur_fp = current_fingerprint or current.info.get("fingerprint")
    ref_fp = (
        reference_fingerprint
        or getattr(reference, "fingerprint", None)
        or (getattr(reference, "info", None) or {}).get("fingerprint")
    )
    metric = current.name
    change = float(current.value) - ref_value
    base = Prepared(metric, reference_kind, ref_value, change, margin, sign)
    common: dict[str, Any] = {
        "metric": metric,
        "reference": reference_kind,
        "reference_value": ref_value,
        "margin": margin,
    }
    if cur_fp and ref_fp and cur_fp != ref_fp:
        return dataclasses.replace(base, final=Comparison(
            verdict="not_compared",
            change=change,
            **common,
            reason=(
                f"the {reference_kind} of {metric!r} was measured on different evaluation data "
                f"(fingerprint {str(ref_fp)[:19]} vs {str(cur_fp)[:19]} now); the values are not "
                f"comparable: update the baseline on purpose (--mlgate-update-baseline) if the "
                f"evaluation data changed on purpose"
            ),
        ))
    if not (math.isfinite(ref_value) and math.isfinite(float(current.value))):
        return dataclasses.replace(base, final=Comparison(
            verdict="not_compared", **common, reason="a value is not finite"))

    test: _Test | None = None
    if current_samples and reference_samples and cur_fp and ref_fp:
        parent = current.info.get("parent", metric)
        test = _paired_test(
            str(parent), current_samples, reference_samples, sign, margin, n_boot, seed
        )
    if test is None:
        se_c, se_r = _summary_se(current), _summary_se(reference)
        if se_c is None or se_r is None:
            test = _Test(sign * change)
        else:
            test = _normal_test(sign * change, math.hypot(se_c, se_r), "unpaired-normal")
    return dataclasses.replace(base, test=test)


@dataclass(frozen=True)
class _HolmMember:
    size: int  # hypotheses in the family
    alpha: float  # the family's level
    adjusted: float  # Holm-adjusted p-value of this member's fail question


def conclude(p: Prepared, alpha: float, *, holm_member: _HolmMember | None = None) -> Comparison:
    """The verdict of a prepared comparison at one-sided level ``alpha``, with the change
    interval at level ``1 - 2*alpha`` read off the same test.

    In a Holm family ``alpha`` is this member's own level (see ``holm_levels``) and the p-value
    reported is the Holm-adjusted one: below the family's level exactly when the member fails.
    """
    if p.final is not None:
        return p.final
    test = p.test
    assert test is not None
    margin = p.margin
    verdict: Verdict
    p_fail = test.p_below(-margin)
    p_improved = test.p_above(margin)
    if p_fail < alpha:
        verdict, pv = "fail", p_fail
    elif p_improved < alpha:
        verdict, pv = "improved", p_improved
    elif margin > 0 and test.p_above(-margin) >= alpha:
        verdict, pv = "inconclusive", p_fail
    else:
        verdict, pv = "pass", p_fail
    method = test.method
    if holm_member is not None:
        pv = (holm_member.adjusted if verdict != "improved"
              else min(1.0, pv * holm_member.alpha / alpha))
        method = f"{method}+holm"
    lo, hi = test.bounds(alpha)
    # Report the interval of the raw change (current - reference), not the oriented one.
    change_low, change_high = (lo, hi) if p.sign > 0 else (-hi, -lo)
    reason = _reason(verdict, p.metric, p.change, margin, alpha, method, p.reference_kind,
                     holm_member)
    return Comparison(
        metric=p.metric,
        verdict=verdict,
        reference=p.reference_kind,
        reference_value=p.reference_value,
        change=p.change,
        change_low=change_low,
        change_high=change_high,
        level=1.0 - 2.0 * alpha,
        margin=margin,
        p_value=None if method == "point" else pv,
        method=method,
        reason=reason,
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")


def compare(
    current: Measurement,
    reference: Any,
    *,
    direction: str,
    margin: float,
    alpha: float,
    current_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_samples: Mapping[str, NDArray[Any]] | None = None,
    reference_kind: str = "baseline",
    current_fingerprint: str | None = None,
    reference_fingerprint: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> Comparison:
    """The verdict of ``current`` against ``reference`` (a BaselineEntry or a Measurement).

    ``margin`` is in the metric's units; ``alpha`` the one-sided significance level. Fingerprints
    default to ``current.info["fingerprint"]`` and the reference's ``fingerprint`` field. The
    change interval is at level ``1 - 2*alpha``; it lies wholly below ``-margin`` (oriented)
    exactly when the verdict is FAIL, wholly above ``+margin`` exactly when it is IMPROVED.
    """
    _check_alpha(alpha)
    return conclude(prepare(
        current, reference, direction=direction, margin=margin, current_samples=current_samples,
        reference_samples=reference_samples, reference_kind=reference_kind,
        current_fingerprint=current_fingerprint, reference_fingerprint=reference_fingerprint,
        n_boot=n_boot, seed=seed,
    ), alpha)


def compare_holm(members: Sequence[Prepared], alpha: float) -> list[Comparison]:
    """Verdicts of several comparisons of one metric (its slices) with Holm's step-down
    correction of the fail question: the chance that any member FAILs wrongly is at most
    ``alpha``. Each member's verdict and interval are taken at its own Holm level, so an
    interval excludes the margin exactly when its member is significant after correction."""
    _check_alpha(alpha)
    tested = [i for i, m in enumerate(members) if m.final is None]
    ps = [members[i].p_fail for i in tested]
    levels = dict(zip(tested, holm_levels(ps, alpha), strict=True))
    adjusted = dict(zip(tested, holm(ps), strict=True))
    out = []
    for i, m in enumerate(members):
        if i not in levels:
            out.append(conclude(m, alpha))
            continue
        out.append(conclude(m, levels[i],
                            holm_member=_HolmMember(len(tested), alpha, adjusted[i])))
    return out


def _reason(
    verdict: str, metric: str, change: float, margin: float, alpha: float, method: str, ref: str,
    holm_member: _HolmMember | None,
) -> str:
    m = f" by more than the margin {margin:g}" if margin > 0 else ""
    if method == "point":
        return {
            "fail": f"{metric} is worse than the {ref}{m} (no interval: plain comparison)",
            "improved": f"{metric} is better than the {ref}{m} (no interval: plain comparison)",
        }.get(verdict, f"{metric} is not worse than the {ref}{m} (no interval: plain comparison)")
    if holm_member is not None:
        level = (f"alpha={holm_member.alpha:g} after Holm's correction over "
                 f"{holm_member.size} slices")
    else:
        level = f"alpha={alpha:g}"
    if verdict == "fail":
        return f"{metric} is worse than the {ref}{m}, significant at {level} ({method})"
    if verdict == "improved":
        return (
            f"{metric} is better than the {ref}{m}, significant at {level}; "
            "consider moving the baseline forward"
        )
    if verdict == "inconclusive":
        return (
            f"{metric} changed by {change:+.4g}; the data cannot rule out a drop larger than "
            f"the margin {margin:g} ({method}); more evaluation rows would settle it"
        )
    return f"no significant drop of {metric}{m} ({method})"
