"""compare_performance: verdicts on synthetic timings, point readings and other machines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_mlgate.errors import BenchmarkError
from pytest_mlgate.measurement import Comparison, Measurement
from pytest_mlgate.perf import compare_performance


def timings(n: int, median_s: float, seed: int, sigma: float = 0.2) -> np.ndarray:
    """Right-skewed latencies like real ones: lognormal around ``median_s`` seconds."""
    return np.random.default_rng(seed).lognormal(np.log(median_s), sigma, size=n)


def latency(name: str, t: np.ndarray) -> Measurement:
    q = {"latency_p50_ms": 50, "latency_p95_ms": 95, "latency_p99_ms": 99}[name]
    return Measurement(name, float(np.percentile(t, q)) * 1e3)


def compare_timings(
    name: str, cur: np.ndarray, ref: np.ndarray, tolerance: float = 0.10
) -> Comparison:
    q = {"latency_p50_ms": 50, "latency_p95_ms": 95, "latency_p99_ms": 99}[name]
    return compare_performance(
        latency(name, cur),
        float(np.percentile(ref, q)) * 1e3,
        direction="lower",
        tolerance=tolerance,
        current_samples={"timings_s": cur},
        reference_samples={"timings_s": ref},
    )


@pytest.mark.parametrize("name", ["latency_p50_ms", "latency_p95_ms"])
@pytest.mark.parametrize("seed", range(5))
def test_same_distribution_does_not_fail(name: str, seed: int) -> None:
    ref = timings(300, 0.002, seed)
    cur = timings(300, 0.002, seed + 100)
    c = compare_timings(name, cur, ref)
    assert c.verdict in ("pass", "inconclusive")
    assert c.change_low is not None and c.change_high is not None
    assert c.change_low <= c.change <= c.change_high  # type: ignore[operator]


def test_same_distribution_with_many_rounds_passes() -> None:
    c = compare_timings("latency_p50_ms", timings(1000, 0.002, 1), timings(1000, 0.002, 2))
    assert c.verdict == "pass"
    assert c.method == "bootstrap ratio of p50"


@pytest.mark.parametrize("name", ["latency_p50_ms", "latency_p95_ms"])
def test_thirty_percent_slower_fails(name: str) -> None:
    c = compare_timings(name, timings(300, 0.0026, 7), timings(300, 0.002, 8))
    assert c.verdict == "fail"
    assert c.ratio == pytest.approx(1.3, rel=0.1)
    assert "baseline" in c.reason and "tolerance 10%" in c.reason


def test_thirty_percent_faster_is_improved() -> None:
    c = compare_timings("latency_p50_ms", timings(300, 0.0014, 3), timings(300, 0.002, 4))
    assert c.verdict == "improved"


def test_noisy_small_samples_near_the_tolerance_are_inconclusive() -> None:
    # 12% slower, but 30 noisy rounds cannot tell 12% from 8%.
    c = compare_timings(
        "latency_p50_ms",
        timings(30, 0.00224, 5, sigma=0.3),
        timings(30, 0.002, 6, sigma=0.3),
    )
    assert c.verdict == "inconclusive"


def test_throughput_drop_fails_when_timings_grow() -> None:
    ref = timings(300, 0.001, 11)
    cur = timings(300, 0.0013, 12)
    c = compare_performance(
        Measurement("throughput_rps", 1.0 / float(np.mean(cur))),
        1.0 / float(np.mean(ref)),
        direction="higher",
        tolerance=0.10,
        current_samples={"timings_s": cur},
        reference_samples={"timings_s": ref},
    )
    assert c.verdict == "fail"
    assert c.ratio is not None and c.ratio < 0.85


def test_another_machine_is_not_compared_and_says_why() -> None:
    c = compare_timings("latency_p50_ms", timings(100, 0.01, 1), timings(100, 0.001, 2))
    assert c.verdict == "fail"  # a 10x slowdown on the same machine...
    c = compare_performance(
        Measurement("latency_p50_ms", 10.0),
        1.0,
        direction="lower",
        tolerance=0.1,
        current_samples={"timings_s": timings(100, 0.01, 1)},
        reference_samples={"timings_s": timings(100, 0.001, 2)},
        machine_match=(False, ["cpu_model", "cpu_count"]),
    )
    # ...is not judged when the baseline came from another machine.
    assert c.verdict == "not_compared"
    assert "another machine" in c.reason and "cpu_model, cpu_count" in c.reason


@pytest.mark.parametrize(
    ("current", "verdict"), [(125.0, "fail"), (105.0, "pass"), (95.0, "pass"), (80.0, "improved")]
)
def test_point_comparison_without_samples(current: float, verdict: str) -> None:
    c = compare_performance(
        Measurement("peak_memory_mb", current), 100.0, direction="lower", tolerance=0.10
    )
    assert c.verdict == verdict
    assert c.method == "point ratio"
    assert c.ratio == pytest.approx(current / 100.0)


def test_zero_baseline_is_not_compared() -> None:
    c = compare_performance(
        Measurement("peak_memory_mb", 3.0), 0.0, direction="lower", tolerance=0.10
    )
    assert c.verdict == "not_compared" and "positive baseline" in c.reason


def test_verdict_is_reproducible_and_json_safe() -> None:
    cur, ref = timings(200, 0.0021, 1), timings(200, 0.002, 2)
    a = compare_timings("latency_p95_ms", cur, ref)
    b = compare_timings("latency_p95_ms", cur, ref)
    assert a == b
    assert Comparison.from_json(json.loads(json.dumps(a.to_json()))) == a


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "up", "tolerance": 0.1}, "direction must be 'higher' or 'lower'"),
        ({"direction": "lower", "tolerance": -0.1}, "tolerance must be a relative amount >= 0"),
        ({"direction": "lower", "tolerance": 0.1, "alpha": 1.5}, "alpha must be in"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BenchmarkError, match=message):
        compare_performance(Measurement("latency_p50_ms", 1.0), 1.0, **kwargs)  # type: ignore[arg-type]
