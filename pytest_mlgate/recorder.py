"""The ``mlgate`` fixture object and the per-test record it fills.

A test talks to one object: ``mlgate.record(...)``, ``mlgate.evaluate(...)``,
``mlgate.benchmark(...)``, ... Each call produces ``Measurement`` objects kept on the test's
``TestRecord``. When the test body ends, ``finish_record`` checks every threshold of the test's
marker and, in gate mode, every metric against the baseline; the record then rides to the
controller on the test report as plain JSON.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.errors import MetricValueError, MlgateError
from pytest_mlgate.markers import GateSpec, Threshold
from pytest_mlgate.measurement import Comparison, Measurement
from pytest_mlgate.settings import Settings
from pytest_mlgate.stats.registry import METRICS, direction_of

if TYPE_CHECKING:
    import numpy as np

    from pytest_mlgate.services import SessionServices


class MlgateInconclusiveWarning(UserWarning):
    """A regression verdict was inconclusive and the policy let the test pass."""


class MlgateBaselineWarning(UserWarning):
    """A metric could not be compared with the baseline (other data, other machine)."""


@dataclass
class MetricResult:
    """A recorded metric with its threshold and comparison verdicts."""

    measurement: Measurement
    threshold: Threshold | None = None
    # "pass", "fail", "inconclusive" (slices only) or None (no threshold)
    threshold_verdict: str | None = None
    # A slice's Holm-adjusted p-value of "worse than the threshold" (None for other metrics).
    threshold_p: float | None = None
    comparison: Comparison | None = None
    verdict: str = "none"  # combined: fail > inconclusive > improved > pass > not_compared > none

    def to_json(self) -> dict[str, Any]:
        d = self.measurement.to_json()
        d["threshold"] = self.threshold.to_json() if self.threshold else None
        d["threshold_verdict"] = self.threshold_verdict
        d["threshold_p"] = self.threshold_p
        d["comparison"] = self.comparison.to_json() if self.comparison else None
        d["verdict"] = self.verdict
        return d


@dataclass
class TestRecord:
    """Everything one test measured; lives in ``item.stash`` in the process that runs it."""

    nodeid: str
    spec: GateSpec | None
    measurements: dict[str, Measurement] = field(default_factory=dict)
    samples: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    results: list[MetricResult] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    samples_file: str | None = None
    seed: int | None = None
    # Failures found while the body ran that are reported when it ends (worst-slice verdicts).
    failures: list[str] = field(default_factory=list)
    # What this attempt added to the item and the session, taken back if the test is run again
    # (pytest-rerunfailures): its user properties and its candidates.
    properties: list[tuple[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False  # the attempt is over: its body finished, or the fixture was torn down
    # Slice measurement name -> (its metric's threshold, verdict, Holm-adjusted p).
    slice_thresholds: dict[str, tuple[Threshold, str, float]] = field(default_factory=dict)
    # What the report draws (report/series.py): bounded curves, histograms, drift columns.
    series: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gate(self) -> str | None:
        return self.spec.gate if self.spec else None

    @property
    def key(self) -> str:
        return self.spec.key if self.spec and self.spec.key else self.nodeid

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "key": self.key,
            "seed": self.seed,
            "metrics": [r.to_json() for r in self.results],
            "fingerprints": dict(self.fingerprints),
            "samples_file": self.samples_file,
            **({"series": {"version": 1, "items": self.series}} if self.series else {}),
        }

    def add_series(self, build: Callable[[], list[dict[str, Any]]]) -> None:
        """Keep what the report draws of a measurement. Drawing is no gate: should building the
        series fail, the report says so in place of the plot, and the test goes on."""
        try:
            self.series.extend(build())
        except Exception as exc:
            self.series.append({"kind": "error", "message": f"{type(exc).__name__}: {exc}"[:300]})


def check_metric_value(name: Any, value: Any) -> float:
    """The value as a float, or MetricValueError saying why it is not a finite real number."""
    __tracebackhide__ = True
    if not isinstance(name, str) or not name.strip():
        raise MetricValueError(f"metric name must be a non-empty string, got {name!r}")
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        raise MetricValueError(
            f"metric {name!r}: {value!r} is a boolean, not a number; record 1.0/0.0 explicitly"
        )
    if getattr(value, "ndim", 0) != 0 or isinstance(value, (list, tuple, dict, set)):
        raise MetricValueError(
            f"metric {name!r}: got an array-like {type(value).__name__}, not a single number; "
            f"record one value per metric (e.g. the mean)"
        )
    # Real numbers only: Python and numpy ints and floats (numpy 0-d values of kind i, u, f).
    # Strings, bytes, complex numbers and timedeltas are refused, not silently converted.
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("i", "u", "f") or (kind is None and isinstance(value, numbers.Real)):
        try:
            number = float(value)
        except OverflowError:  # an int or Fraction beyond a float's range, such as 10**400
            raise MetricValueError(
                f"metric {name!r}: {type(value).__name__} value is too large for a float "
                f"(about 1.8e308 at most); record a finite number"
            ) from None
    else:
        raise MetricValueError(
            f"metric {name!r}: {value!r} ({type(value).__name__}) is not a real number"
        )
    if math.isnan(number):
        raise MetricValueError(f"metric {name!r} is NaN: a NaN never passes a gate")
    if math.isinf(number):
        raise MetricValueError(f"metric {name!r} is infinite ({number}); record a finite number")
    return number


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, numbers.Real):
        return _json_safe(float(value))
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)


class Mlgate:
    """The ``mlgate`` fixture: what a test uses to record and check metrics.

    Attributes: ``gate`` (the test's gate or None), ``seed`` (the test's seed), ``rng`` (a
    ``numpy.random.Generator`` seeded with it), ``measurements`` (name -> Measurement so far).
    """

    def __init__(self, item: pytest.Item, record: TestRecord, settings: Settings,
                 session: SessionServices) -> None:
        self._item = item
        self._record = record
        self._settings = settings
        self._session = session
        self._rng: np.random.Generator | None = None

    # -- plain recording -------------------------------------------------------------------
    @property
    def gate(self) -> str | None:
        return self._record.gate

    @property
    def seed(self) -> int:
        assert self._record.seed is not None
        return self._record.seed

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(self.seed)
        return self._rng

    @property
    def measurements(self) -> dict[str, Measurement]:
        return dict(self._record.measurements)

    def record(self, name: str, value: float, **info: Any) -> Measurement:
        """Record a metric the test computed itself. ``value`` must be a finite real number."""
        __tracebackhide__ = True
        number = check_metric_value(name, value)
        return self._add(Measurement(name=name, value=number, method="recorded", info=_json_safe(info)))

    def _add(self, m: Measurement, samples: Mapping[str, Any] | None = None) -> Measurement:
        self._record.measurements[m.name] = m
        if samples:
            self._record.samples[m.name] = samples
        if m.info.get("fingerprint"):
            self._record.fingerprints[m.name] = str(m.info["fingerprint"])
        prop = (f"mlgate.{m.name}", m.value)
        self._item.user_properties.append(prop)
        self._record.properties.append(prop)
        self._item.config.hook.pytest_mlgate_metric_recorded(item=self._item, measurement=m)
        return m

    # -- validation gate -------------------------------------------------------------------
    def evaluate(self, model: Any, X: Any, y: Any, metrics: Sequence[str] | str | None = None, *,
                 sample_weight: Any = None, slices: Any = None, against: Any = None) -> Any:
        """Compute metrics with confidence intervals and record them (see docs/evaluate.md).

        ``metrics`` defaults to the metrics named on the test's validation marker.
        """
        __tracebackhide__ = True
        from pytest_mlgate.stats.evaluation import evaluate

        if isinstance(metrics, str):
            metrics = [metrics]
        if metrics is None:
            names = [t.metric for t in self._record.spec.thresholds] if self._record.spec else []
            if not names:
                raise MlgateError(
                    f"{self._record.nodeid}: mlgate.evaluate() was given no metrics and the test's "
                    f"marker names none; pass metrics=[\"accuracy\", ...] or put thresholds on "
                    f"@pytest.mark.validation(...)"
                )
        else:
            names = list(metrics)
        s = self._settings
        result = evaluate(
            model, X, y, names, sample_weight=sample_weight, slices=slices, against=against,
            level=s.level, seed=self.seed, n_boot=s.bootstrap, min_slice_size=s.min_slice_size,
            alpha=s.alpha, margins=self._margins(names),
        )
        for m in result.measurements:
            self._add(m, result.samples.get(m.name))
        from pytest_mlgate.report.series import evaluation_items

        self._record.add_series(lambda: evaluation_items(
            result.samples, names, level=s.level, seed=self.seed, name=_model_label(model)))
        for c in result.comparisons:
            self._record.comparisons[c.metric] = c
        if slices is not None:
            self._check_slices(result)
        return result

    def _check_slices(self, result: Any) -> None:
        """A slice fails when it is significantly worse than its metric's threshold (Holm)."""
        from pytest_mlgate.stats.slices import slice_threshold_verdicts

        spec = self._record.spec
        for t in spec.thresholds if spec else ():
            verdicts = slice_threshold_verdicts(result, t.metric, t.op, t.value, alpha=self._settings.alpha)
            for name, verdict, p in verdicts:
                self._record.slice_thresholds[f"{t.metric}[{name}]"] = (t, verdict, p)
            failing = [(name, p) for name, verdict, p in verdicts if verdict == "fail"]
            if failing:
                worst = result.worst_slice(t.metric)
                detail = ", ".join(f"{name} (Holm p={p:.3g})" for name, p in failing)
                self._record.failures.append(
                    f"{t.metric}: slice(s) significantly below {t.text}: {detail}; worst slice "
                    f"{worst.info.get('slice')} = {_f(worst.value)}"
                )

    def _margins(self, names: Sequence[str]) -> dict[str, float]:
        spec = self._record.spec
        out = {}
        for n in names:
            out[n] = spec.margin_for(n, self._settings.margin) if spec else self._settings.margin
        return out

    # -- performance gate ------------------------------------------------------------------
    def benchmark(self, fn: Callable[..., Any], *args: Any, rows: bool = False,
                  batch_size: int | None = None, warmup: int | None = None,
                  min_rounds: int | None = None, max_time: float | None = None,
                  threads: int | str | None = "ini", **kwargs: Any) -> Any:
        """Time ``fn(*args, **kwargs)`` and record latency percentiles, throughput and memory.

        The keyword-only options configure the benchmark; every other keyword goes to ``fn``.
        """
        __tracebackhide__ = True
        from pytest_mlgate.perf import BenchmarkOptions, run_benchmark

        s = self._settings
        chosen: dict[str, Any] = {"rows": rows, "batch_size": batch_size}
        for key, given, ini in (("warmup", warmup, s.benchmark_warmup),
                                ("min_rounds", min_rounds, s.benchmark_min_rounds),
                                ("max_time", max_time, s.benchmark_max_time)):
            value = given if given is not None else ini
            if value is not None:
                chosen[key] = value
        chosen["threads"] = s.benchmark_threads if threads == "ini" else threads
        options = BenchmarkOptions(**chosen)
        from pytest_mlgate.perf.contention import watch

        with self._session.exclusive_timing(), watch() as contention:
            result = run_benchmark(fn, args, kwargs, options)
        extra = {"cpu_contention": round(contention.others_share, 3)}
        if self._session.workers > 1 or contention.busy:
            extra["shared_cpu"] = True
        samples = result.samples()
        from pytest_mlgate.report.series import latency

        self._record.add_series(lambda: [latency(result.timings_s, name=getattr(fn, "__qualname__", "benchmark"))])
        for m in result.measurements():
            m = dataclasses.replace(m, info={**m.info, **extra})
            timed = m.name.startswith("latency_") or m.name == "throughput_rps"
            self._add(m, samples if timed else None)
        return result

    def measure_size(self, model: Any) -> Measurement:
        """Record ``model_size_mb``: the serialized size of ``model`` in MiB."""
        __tracebackhide__ = True
        from pytest_mlgate.perf import measure_size

        return self._add(measure_size(model, allow_pickle=True))

    # -- delivery --------------------------------------------------------------------------
    def candidate(self, model: Any, *, name: str, example: Any = None,
                  data: Mapping[str, Any] | None = None, card: Mapping[str, Any] | None = None) -> Any:
        """Name ``model`` as the model to deliver when every gate passes (see docs/delivery.md)."""
        __tracebackhide__ = True
        staged = self._session.add_candidate(model, name=name, example=example, data=data, card=card)
        if staged is not None:  # None outside gate mode: nothing was staged
            self._record.candidates.append(self._session.candidates[-1])
        return staged

    # -- data and behaviour ----------------------------------------------------------------
    def fingerprint(self, obj: Any, *, name: str | None = None) -> str:
        """A stable content hash of an array, frame, series or file; kept in the test's report."""
        from pytest_mlgate.data import fingerprint

        digest = fingerprint(obj)
        self._record.fingerprints[name or f"data{len(self._record.fingerprints)}"] = digest
        return digest

    def check_drift(self, reference: Any, current: Any, *, columns: Sequence[str] | None = None,
                    **options: Any) -> Any:
        """Compare two frames (or a profile and a frame) column by column; fail on drift."""
        __tracebackhide__ = True
        from pytest_mlgate.stats.drift import check_drift

        s = self._settings
        for key, value in (("alpha", s.drift_alpha), ("numeric_threshold", s.drift_numeric_threshold),
                           ("categorical_threshold", s.drift_categorical_threshold)):
            if value is not None:
                options.setdefault(key, value)
        result = check_drift(reference, current, columns=columns, **options)
        from pytest_mlgate.report.series import drift

        self._record.add_series(lambda: [drift(result, reference, current)])
        for m in result.measurements():
            self._add(m)
        if result.drifted:
            raise AssertionError(result.message())
        return result

    def assert_invariant(self, model: Any, X: Any, perturb: Callable[[Any], Any], **options: Any) -> Any:
        """Fail when the upper confidence bound of the share of changed predictions exceeds max_rate."""
        __tracebackhide__ = True
        from pytest_mlgate.behaviour import check_invariant

        return self._behaviour(check_invariant(model, X, perturb, **options))

    def assert_directional(self, model: Any, X: Any, perturb: Callable[[Any], Any], direction: str,
                           **options: Any) -> Any:
        """Fail when too many predictions fail to move in ``direction`` under ``perturb``."""
        __tracebackhide__ = True
        from pytest_mlgate.behaviour import check_directional

        return self._behaviour(check_directional(model, X, perturb, direction, **options))  # type: ignore[arg-type]

    def assert_deterministic(self, model: Any, X: Any, **options: Any) -> Any:
        """Fail when predicting the same rows twice gives different answers."""
        __tracebackhide__ = True
        from pytest_mlgate.behaviour import check_deterministic

        return self._behaviour(check_deterministic(model, X, **options))

    def _behaviour(self, result: Any) -> Any:
        __tracebackhide__ = True
        self._add(result.measurement())
        if not result.passed:
            raise AssertionError(result.message)
        return result


def _model_label(model: Any) -> str:
    """The model's class, and its last step's for a pipeline: ``Pipeline(LogisticRegression)``."""
    name = type(model).__name__
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple) and len(steps[-1]) == 2:
        name += f"({type(steps[-1][1]).__name__})"
    return name


# -- the end of a test body: thresholds and regressions -----------------------------------------

_RANK = {"fail": 5, "inconclusive": 4, "improved": 3, "pass": 2, "not_compared": 1, "none": 0}


def _threshold_verdict(t: Threshold, m: Measurement, policy: str) -> tuple[str, str | None]:
    """("pass"|"fail", failure text or None)."""
    value = m.value
    if math.isnan(value) or not t.holds(value):
        return "fail", f"{m.name} {_f(value)} {t.op} {_f(t.value)}: threshold not met"
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


def _f(x: float | None) -> str:
    from pytest_mlgate.report.tables import fmt

    return fmt(x)


def _compare_baseline(record: TestRecord, m: Measurement, settings: Settings,
                      session: SessionServices) -> Comparison | None:
    baseline = session.baseline
    if baseline is None:
        return None
    entry = baseline.get(record.key, m.name)
    if entry is None:
        return None
    threshold = record.spec.threshold_for(m.name) if record.spec else None
    direction = direction_of(m.name) or (
        ("higher" if threshold.higher_is_better else "lower") if threshold else None)
    if direction is None:
        # Without a threshold or a known name there is no "worse": the value is kept in the
        # baseline and shown, but not judged.
        return None
    spec = record.spec
    info = METRICS.get(m.name)
    if (info is not None and info.kind == "performance") or m.method == "benchmark":
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


def _compare_slices(record: TestRecord, settings: Settings,
                    session: SessionServices) -> dict[str, Comparison]:
    """Slices of each metric against the baseline, Holm-corrected across the metric's slices."""
    from pytest_mlgate.stats.compare import compare_holm, prepare

    baseline = session.baseline
    if baseline is None:
        return {}
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


def finish_record(record: TestRecord, settings: Settings, session: SessionServices) -> list[str]:
    """Check thresholds and regressions of a finished test body; return failure lines."""
    failures: list[str] = list(record.failures)
    results: list[MetricResult] = []
    thresholds = {t.metric: t for t in record.spec.thresholds} if record.spec else {}
    for name in thresholds:
        if name not in record.measurements:
            failures.append(f"threshold for {name}, but no {name} was recorded")
    slice_comparisons = _compare_slices(record, settings, session) if settings.gate_mode else {}
    for name, m in record.measurements.items():
        r = MetricResult(measurement=m, threshold=thresholds.get(name))
        if r.threshold is not None:
            r.threshold_verdict, why = _threshold_verdict(r.threshold, m, settings.threshold_policy)
            if why:
                failures.append(why)
        elif name in record.slice_thresholds:
            # Judged per slice with Holm when evaluate() ran; its failure line is already kept.
            r.threshold, r.threshold_verdict, r.threshold_p = record.slice_thresholds[name]
        if math.isnan(m.value) and r.threshold is None:
            failures.append(f"{name} is NaN: a NaN never passes a gate")
            r.threshold_verdict = "fail"
        r.comparison = record.comparisons.get(name)
        if r.comparison is None and settings.gate_mode:
            r.comparison = (slice_comparisons.get(name) if _is_slice(m)
                            else _compare_baseline(record, m, settings, session))
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


def discard_record(record: TestRecord, item: pytest.Item, session: SessionServices) -> None:
    """Take back everything an earlier attempt of a test left behind (its user properties, its
    candidates, its staged samples), so that a rerun starts afresh and only the final attempt
    counts."""
    session.records.pop(item.nodeid, None)
    if record.properties:
        ours = {id(p) for p in record.properties}
        item.user_properties[:] = [p for p in item.user_properties if id(p) not in ours]
    if record.candidates:
        ours = {id(c) for c in record.candidates}
        session.candidates[:] = [c for c in session.candidates if id(c) not in ours]
    if record.samples_file:
        Path(record.samples_file).unlink(missing_ok=True)


def write_samples(record: TestRecord, directory: Path) -> None:
    """Stage the per-sample data of a record for a baseline update (controller merges them)."""
    if not record.samples:
        return
    import numpy as np

    arrays: dict[str, Any] = {}
    index: dict[str, list[str]] = {}
    for metric, parts in record.samples.items():
        index[metric] = []
        for part, arr in parts.items():
            slot = f"a{len(arrays)}"
            arrays[slot] = np.asarray(arr)
            index[metric].append(f"{part}={slot}")
    digest = hashlib.sha256(record.nodeid.encode()).hexdigest()[:24]
    path = directory / f"{digest}.npz"
    np.savez_compressed(path, __index__=np.array(json.dumps(index)), **arrays)
    record.samples_file = str(path)


def read_samples(path: str) -> dict[str, dict[str, Any]]:
    import numpy as np

    with np.load(path, allow_pickle=False) as npz:
        index = json.loads(str(npz["__index__"]))
        out: dict[str, dict[str, Any]] = {}
        for metric, parts in index.items():
            out[metric] = {}
            for entry in parts:
                part, slot = entry.split("=", 1)
                out[metric][part] = npz[slot]
    return out
