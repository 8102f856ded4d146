"""The verdict engine in-process: a test's record, its marker's thresholds and the baseline go
in; the failure lines a user reads and the per-metric verdicts in the report come out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.baseline import BaselineEntry, load_baseline, write_baseline
from pytest_mlgate.markers import spec_from_marker
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.record import Record
from pytest_mlgate.settings import Settings, resolve
from pytest_mlgate.verdicts import judge


def settings(tmp_path: Path, **ini: str) -> Settings:
    """Settings as a project's ini would give them (``gate_mode`` as --mlgate does)."""
    cli = {"mlgate": True} if ini.pop("gate_mode", "") else {}
    return resolve(lambda dest: cli.get(dest), lambda key: ini.get(key), tmp_path)


def record(**thresholds: Any) -> Record:
    spec = spec_from_marker("test_q", "validation", (), thresholds)
    return Record(nodeid="test_q.py::test_q", spec=spec, seed=1)


def wilson(value: float, n: int = 400) -> Measurement:
    from pytest_mlgate.stats.intervals import wilson as interval

    successes = round(value * n)
    low, high = interval(successes, n, 0.95)
    return Measurement("accuracy", successes / n, float(low), float(high), 0.95, n, "wilson",
                       {"successes": successes, "trials": n})


def test_a_threshold_not_met_is_a_failure_line_and_a_fail_verdict(tmp_path: Path) -> None:
    rec = record(accuracy=">= 0.9")
    rec.measurements["accuracy"] = Measurement("accuracy", 0.85, method="recorded")
    failures = judge(rec, settings(tmp_path), None)
    assert failures == ["accuracy 0.85 >= 0.9: threshold not met"]
    (result,) = rec.results
    assert (result.threshold_verdict, result.verdict) == ("fail", "fail")


def test_a_threshold_named_but_never_recorded_fails(tmp_path: Path) -> None:
    failures = judge(record(accuracy=">= 0.9"), settings(tmp_path), None)
    assert failures == ["threshold for accuracy, but no accuracy was recorded"]


def test_the_confident_policy_asks_the_whole_interval_to_clear(tmp_path: Path) -> None:
    rec = record(accuracy=">= 0.9")
    rec.measurements["accuracy"] = wilson(0.91, n=100)  # point clears, the interval does not
    assert judge(rec, settings(tmp_path), None) == []
    rec.results = []
    (line,) = judge(rec, settings(tmp_path, mlgate_threshold_policy="confident"), None)
    assert "does not clear the threshold" in line


def _baseline(tmp_path: Path, m: Measurement) -> Any:
    path = tmp_path / "baseline.json"
    write_baseline(path, [BaselineEntry.of("test_q.py::test_q", m)], {}, plugin_version="t",
                   git={}, machine={})
    return load_baseline(path)


def test_a_real_drop_against_the_baseline_fails_in_gate_mode_only(tmp_path: Path) -> None:
    baseline = _baseline(tmp_path, wilson(0.95, n=2000))
    rec = record(accuracy=">= 0.5")
    rec.measurements["accuracy"] = wilson(0.80, n=2000)
    (line,) = judge(rec, settings(tmp_path, gate_mode="1"), baseline)
    assert line.startswith("accuracy regressed against the baseline: ")
    assert rec.results[0].comparison is not None and rec.results[0].verdict == "fail"
    rec.results = []
    assert judge(rec, settings(tmp_path), baseline) == []  # outside gate mode: no comparison
    assert rec.results[0].comparison is None


def test_a_small_drop_on_few_rows_is_no_regression(tmp_path: Path) -> None:
    baseline = _baseline(tmp_path, wilson(0.95, n=40))
    rec = record(accuracy=">= 0.5")
    rec.measurements["accuracy"] = wilson(0.90, n=40)
    assert judge(rec, settings(tmp_path, gate_mode="1"), baseline) == []
    assert rec.results[0].comparison is not None and rec.results[0].verdict == "pass"


def test_a_baseline_entry_is_built_from_the_measurement() -> None:
    m = Measurement("accuracy", 0.9, 0.85, 0.93, 0.95, 200, "wilson",
                    {"fingerprint": "sha256:ab", "successes": 180})
    entry = BaselineEntry.of("k", m)
    assert (entry.test_key, entry.metric, entry.value, entry.low, entry.high, entry.level,
            entry.n, entry.method) == ("k", "accuracy", 0.9, 0.85, 0.93, 0.95, 200, "wilson")
    assert entry.fingerprint == "sha256:ab" and dict(entry.info) == {"successes": 180}


@pytest.mark.parametrize("value", [0.5, 1.0])
def test_nan_without_a_threshold_still_fails(tmp_path: Path, value: float) -> None:
    rec = record(accuracy=f">= {value}")
    rec.measurements["loss"] = Measurement("loss", float("nan"), method="recorded")
    rec.measurements["accuracy"] = Measurement("accuracy", 1.0, method="recorded")
    failures = judge(rec, settings(tmp_path), None)
    assert failures == ["loss is NaN: a NaN never passes a gate"]
