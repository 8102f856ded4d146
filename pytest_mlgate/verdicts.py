"""The verdict engine: when a test body ends, every threshold of its marker and, in gate mode,
every metric against the baseline, decided on its ``Record``. Plain Python: the plugin's
``_finish`` (when the test body returns) calls ``judge`` and fails the test with the lines it
returns.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import TYPE_CHECKING

from pytest_mlgate.markers import Threshold
from pytest_mlgate.measurement import Comparison, Measurement
from pytest_mlgate.record import MetricResult, Record
from pytest_mlgate.settings import Settings
from pytest_mlgate.stats.known_metrics import direction_of, is_drift_reading, is_performance_reading

if TYPE_CHECKING:
    from pytest_mlgate.baseline import Baseline


class MlgateInconclusiveWarning(UserWarning):
    """A verdict was inconclusive (a regression, or a timing budget on a busy machine) and the
    policy let the test pass."""


class MlgateBaselineWarning(UserWarning):
    """A metric could not be compared with the baseline (other data, other machine)."""


# A metric with a baseline entry it could not be compared with is NOT COMPARED even when its
# threshold passed: a PASS beside a baseline would read as "no worse than the baseline".
_RANK = {"fail": 5, "inconclusive": 4, "not_compared": 3, "improved": 2, "pass": 1, "none": 0}


def threshold_verdict(t: Threshold, m: Measurement, policy: str) -> tuple[str, str | None]:
    """("pass"|"fail", failure text or None)."""
    value = m.value
    if math.isnan(value) or not t.holds(value):
        return "fail", f"{m.name} {_f(value, t.value)} {t.op} {_f(t.value)}: threshold not met"
    if policy == "confident" and m.has_interval:
        edge = m.low if t.higher_is_better else m.high
        assert edge is not None
        if not t.holds(edge):
            return "fail", (
                f"{m.name} {_f(value)} {t.op} {_f(t.value)}, but the {m.level or 0.95:.0%} interval "
                f"[{_f(m.low)}, {_f(m.high)}] does not clear the threshold "
                f"(mlgate_threshold_policy = confident)"
            )
    return "pass", None


def _busy_share(m: Measurement) -> float | None:
    """The share of the CPUs other processes used while a timing reading was taken, when it was
    above the busy share; None for other readings, a quiet machine or a NaN."""
    from pytest_mlgate.perf.contention import BUSY_SHARE

    if math.isnan(m.value) or not (m.name.startswith("latency_") or m.name == "throughput_rps"):
        return None
    share = float(m.info.get("cpu_contention") or 0.0)
    return share if share > BUSY_SHARE else None


def _f(x: float | None, against: float | None = None) -> str:
    from pytest_mlgate.report.tables import fmt

    return fmt(x, against=against)


def _compare_baseline(record: Record, m: Measurement, settings: Settings,
                      baseline: Baseline) -> Comparison | None:
    entry = baseline.get(record.key, m.name)
    if entry is None:
        return None
    if is_drift_reading(m.name):
        # The baseline's reading is of another batch of data: a worst effect of 0.206 against
        # 0.200 last time is noise, not a regression, and failed runs in which nothing drifted.
        # check_drift decides drift itself (and a marker threshold bounds the share).
        return None
    threshold = record.spec.threshold_for(m.name) if record.spec else None
    direction = direction_of(m.name) or (
        ("higher" if threshold.higher_is_better else "lower") if threshold else None)
    if direction is None:
        # Without a threshold or a known name there is no "worse": the value is kept in the
        # baseline and shown, but not judged.
        return None
    spec = record.spec
    if is_performance_reading(m.name, m.method):
        from pytest_mlgate.perf import compare_performance
        from pytest_mlgate.provenance import machine_info, same_machine

        tol = spec.tolerance_for(m.name, settings.perf_tolerance) if spec else settings.perf_tolerance
        comparison = compare_performance(
            m, entry.value, direction=direction, tolerance=tol, alpha=settings.alpha,
            current_samples=record.samples.get(m.name),
            reference_samples=baseline.samples(record.key, m.name),
            machine_match=same_machine(baseline.machine, machine_info()),
        )
        from pytest_mlgate.perf.contention import BUSY_SHARE

        share = float(m.info.get("cpu_contention") or 0.0)
        if comparison.verdict == "fail" and share > BUSY_SHARE:
            # Slower while other processes held the cores is not evidence against the code.
            comparison = dataclasses.replace(
                comparison, verdict="inconclusive",
                reason=f"other processes used {share:.0%} of the CPUs while timing, so the "
                       f"slowdown cannot be told from contention; {comparison.reason}")
        return comparison
    from pytest_mlgate.stats.compare import compare

    margin = spec.margin_for(m.name, settings.margin) if spec else settings.margin
    return compare(
        m, entry, direction=direction, margin=margin, alpha=settings.alpha,
        current_samples=record.samples.get(m.name),
        reference_samples=baseline.samples(record.key, m.name),
        current_fingerprint=m.info.get("fingerprint"), reference_fingerprint=entry.fingerprint,
        seed=record.seed or 0,
    )


def _is_slice(m: Measurement) -> bool:
    return "slice" in m.info and "parent" in m.info


def _compare_slices(record: Record, settings: Settings, baseline: Baseline) -> dict[str, Comparison]:
    """Slices of each metric against the baseline, Holm-corrected across the metric's slices."""
    from pytest_mlgate.stats.compare import compare_holm, prepare

    groups: dict[str, list[Measurement]] = {}
    for name, m in record.measurements.items():
        if _is_slice(m) and name not in record.comparisons:
            groups.setdefault(str(m.info["parent"]), []).append(m)
    spec = record.spec
    out: dict[str, Comparison] = {}
    for parent, members in groups.items():
        threshold = spec.threshold_for(parent) if spec else None
        direction = members[0].info.get("direction") or direction_of(parent) or (
            ("higher" if threshold.higher_is_better else "lower") if threshold else None)
        if direction not in ("higher", "lower"):
            continue
        margin = spec.margin_for(parent, settings.margin) if spec else settings.margin
        names, prepared = [], []
        for m in members:
            entry = baseline.get(record.key, m.name)
            if entry is None:
                continue
            names.append(m.name)
            prepared.append(prepare(
                m, entry, direction=str(direction), margin=margin,
                current_samples=record.samples.get(m.name),
                reference_samples=baseline.samples(record.key, m.name),
                current_fingerprint=m.info.get("fingerprint"),
                reference_fingerprint=entry.fingerprint, seed=record.seed or 0,
            ))
        out.update(zip(names, compare_holm(prepared, settings.alpha), strict=True))
    return out


def judge(record: Record, settings: Settings, baseline: Baseline | None) -> list[str]:
    """Decide the thresholds and regressions of a finished test body into ``record.results``;
    return its failure lines. ``baseline`` is None outside gate mode or without a baseline."""
    failures: list[str] = list(record.failures)
    results: list[MetricResult] = []
    thresholds = {t.metric: t for t in record.spec.thresholds} if record.spec else {}
    for name, refusal in record.refused.items():
        failures.append(f"{refusal}; record() refused the last value of {name}, so no earlier value "
                        "counts (even when the test caught the error)")
    for name in thresholds:
        if name not in record.measurements and name not in record.refused:
            failures.append(f"threshold for {name}, but no {name} was recorded")
    if not settings.gate_mode:
        baseline = None
    slice_comparisons = _compare_slices(record, settings, baseline) if baseline is not None else {}
    for name, m in record.measurements.items():
        r = MetricResult(measurement=m, threshold=thresholds.get(name))
        if r.threshold is not None:
            r.threshold_verdict, why = threshold_verdict(r.threshold, m, settings.threshold_policy)
            busy = _busy_share(m) if why else None
            if busy is not None:
                # Contention only slows timings down: a budget met on a busy machine is met, a
                # budget blown there cannot be told from the neighbour, so it is inconclusive.
                r.threshold_verdict = "inconclusive"
                why = (f"{why}, but other processes used {busy:.0%} of the CPUs while timing, so "
                       f"the reading cannot be told from contention")
                if settings.inconclusive == "fail":
                    failures.append(f"{why} (mlgate_inconclusive = fail)")
                else:
                    warnings.warn(MlgateInconclusiveWarning(f"{record.nodeid}: {why}"), stacklevel=1)
            elif why:
                failures.append(why)
        elif name in record.slice_thresholds:
            # Judged per slice with Holm when evaluate() ran; its failure line is already kept.
            r.threshold, r.threshold_verdict, r.threshold_p = record.slice_thresholds[name]
        if math.isnan(m.value) and r.threshold is None:
            failures.append(f"{name} is NaN: a NaN never passes a gate")
            r.threshold_verdict = "fail"
        r.comparison = record.comparisons.get(name)
        if r.comparison is None and baseline is not None:
            r.comparison = (slice_comparisons.get(name) if _is_slice(m)
                            else _compare_baseline(record, m, settings, baseline))
        c = r.comparison
        if c is not None:
            label = "champion" if c.reference == "champion" else "baseline"
            if c.verdict == "fail":
                failures.append(f"{name} regressed against the {label}: {c.reason}")
            elif c.verdict == "inconclusive":
                if settings.inconclusive == "fail":
                    failures.append(
                        f"{name} against the {label} is inconclusive (mlgate_inconclusive = fail): {c.reason}")
                else:
                    warnings.warn(MlgateInconclusiveWarning(
                        f"{record.nodeid}: {name} against the {label} is inconclusive: {c.reason}"), stacklevel=1)
            elif c.verdict == "not_compared" and c.reason:
                warnings.warn(MlgateBaselineWarning(f"{record.nodeid}: {name} not compared: {c.reason}"),
                              stacklevel=1)
        verdicts = [r.threshold_verdict or "none", c.verdict if c else "none"]
        if r.threshold_verdict == "pass" and c is not None and c.verdict == "inconclusive" \
                and settings.inconclusive == "pass":
            verdicts = ["inconclusive"]
        r.verdict = max(verdicts, key=lambda v: _RANK.get(v, 0))
        results.append(r)
    record.results = results
    return failures
