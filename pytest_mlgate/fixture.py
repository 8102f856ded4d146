"""The ``mlgate`` fixture object: what a test talks to.

``mlgate.record(...)``, ``mlgate.evaluate(...)``, ``mlgate.benchmark(...)``, ... each produce
``Measurement`` objects kept on the test's ``Record`` (record.py). When the test body ends,
``verdicts.judge`` decides on the record; it then rides to the controller on the test report.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlgate.errors import MetricValueError, MlgateError
from pytest_mlgate.measurement import Measurement, check_metric_value
from pytest_mlgate.record import Record
from pytest_mlgate.settings import Settings
from pytest_mlgate.strict_json import jsonable

if TYPE_CHECKING:
    import numpy as np

    from pytest_mlgate.services import ProcessServices


class Mlgate:
    """The ``mlgate`` fixture: what a test uses to record and check metrics.

    Attributes: ``gate`` (the test's gate or None), ``seed`` (the test's seed), ``rng`` (a
    ``numpy.random.Generator`` seeded with it), ``measurements`` (name -> Measurement so far).
    """

    def __init__(self, item: pytest.Item, record: Record, settings: Settings,
                 services: ProcessServices) -> None:
        self._item = item
        self._record = record
        self._settings = settings
        self._services = services
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
        try:
            number = check_metric_value(name, value)
        except MetricValueError as exc:
            if isinstance(name, str) and name.strip():
                self._record.refused[name] = str(exc)
                self._record.measurements.pop(name, None)
            raise
        self._record.refused.pop(name, None)
        return self._add(Measurement(name=name, value=number, method="recorded", info=jsonable(info)))

    def _add(self, m: Measurement, samples: Mapping[str, Any] | None = None) -> Measurement:
        self._record.measurements[m.name] = m
        if samples:
            self._record.samples[m.name] = samples
        if m.info.get("fingerprint"):
            self._record.fingerprints[m.name] = str(m.info["fingerprint"])
        prop = (f"mlgate.{m.name}", m.value)
        # Recorded again: the JUnit file keeps one property per metric, the final value (as
        # the JSON report does), not one per call.
        earlier = {id(p) for p in self._record.properties if p[0] == prop[0]}
        if earlier:
            self._item.user_properties[:] = [p for p in self._item.user_properties if id(p) not in earlier]
            self._record.properties[:] = [p for p in self._record.properties if id(p) not in earlier]
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
        from pytest_mlgate.report.tables import fmt
        from pytest_mlgate.stats.slices import slice_threshold_verdicts

        spec = self._record.spec
        for t in spec.thresholds if spec else ():
            undefined = [s for s in result.skipped_slices if s.get("metric") == t.metric]
            if undefined:
                # An undefined metric cannot pass a threshold; the slice is named, not dropped.
                detail = "; ".join(f"{s['slice']} ({s['n']} rows): {s['reason']}" for s in undefined)
                self._record.failures.append(
                    f"{t.metric}: slice(s) not evaluated, so they cannot meet {t.text}: {detail}")
            verdicts = slice_threshold_verdicts(result, t.metric, t.op, t.value, alpha=self._settings.alpha)
            for name, verdict, p in verdicts:
                self._record.slice_thresholds[f"{t.metric}[{name}]"] = (t, verdict, p)
            failing = [(name, p) for name, verdict, p in verdicts if verdict == "fail"]
            if failing:
                worst = result.worst_slice(t.metric)
                detail = ", ".join(f"{name} (Holm p={p:.3g})" for name, p in failing)
                self._record.failures.append(
                    f"{t.metric}: slice(s) significantly below {t.text}: {detail}; worst slice "
                    f"{worst.info.get('slice')} = {fmt(worst.value)}"
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

        with self._services.exclusive_timing(), watch() as contention:
            result = run_benchmark(fn, args, kwargs, options)
        extra = {"cpu_contention": round(contention.others_share, 3)}
        if self._services.workers > 1 or contention.busy:
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
        staged = self._services.add_candidate(model, name=name, example=example, data=data, card=card)
        if staged is not None:  # None outside gate mode: nothing was staged
            entry = self._services.candidates[-1]
            entry["tests"] = [self._record.nodeid]  # its artefact carries this test's metrics
            self._record.candidates.append(entry)
        return staged

    # -- data and behaviour ----------------------------------------------------------------
    def fingerprint(self, obj: Any, *, name: str | None = None) -> str:
        """A stable content hash of an array, frame, series or file; kept in the test's report."""
        from pytest_mlgate.fingerprints import fingerprint

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


def discard_record(record: Record, item: pytest.Item, services: ProcessServices) -> None:
    """Take back everything an earlier attempt of a test left behind (its user properties, its
    candidates, its staged samples), so that a rerun starts afresh and only the final attempt
    counts."""
    services.records.pop(item.nodeid, None)
    if record.properties:
        ours = {id(p) for p in record.properties}
        item.user_properties[:] = [p for p in item.user_properties if id(p) not in ours]
    if record.candidates:
        ours = {id(c) for c in record.candidates}
        services.candidates[:] = [c for c in services.candidates if id(c) not in ours]
    if record.samples_file:
        Path(record.samples_file).unlink(missing_ok=True)


def _model_label(model: Any) -> str:
    """The model's class, and its last step's for a pipeline: ``Pipeline(LogisticRegression)``."""
    name = type(model).__name__
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple) and len(steps[-1]) == 2:
        name += f"({type(steps[-1][1]).__name__})"
    return name
