"""The performance, drift and behaviour calls of the fixture, through the plugin."""

from __future__ import annotations

import pytest

from pytest_mlgate.perf.contention import BUSY_SHARE

from .helpers import load_report, run_pytest

PERF_TESTS = '''
import time
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

X, y = load_diabetes(return_X_y=True)
model = Ridge().fit(X, y)

@pytest.mark.performance(latency_p95_ms="<= 1000", throughput_rps=">= 10", model_size_mb="<= 1", key="ridge")
def test_speed(mlgate):
    result = mlgate.benchmark(model.predict, X, rows=True, max_time=0.1)
    assert result.rounds >= 20 and len(result.timings_s) == result.rounds
    assert result.throughput_rps > 1000   # rows per second of a batch
    mlgate.measure_size(model)

@pytest.mark.performance(latency_p50_ms="<= 0.001")
def test_blown_budget(mlgate):
    mlgate.benchmark(time.sleep, 0.002, max_time=0.05)

@pytest.mark.performance
def test_function_error_is_its_own(mlgate):
    def broken():
        raise ZeroDivisionError("inside the model")
    mlgate.benchmark(broken)
'''


@pytest.mark.both_modes
def test_benchmark_readings_budgets_and_errors(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(test_perf=PERF_TESTS)
    result = run("--mlgate", "-o", "mlgate_required_gates=performance", "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random([
        "*latency_p50_ms * <= 0.001: threshold not met*",
        "*ZeroDivisionError: inside the model*",
    ])
    report = load_report(pytester.path / "r.json")
    blown = next(t for t in report["tests"] if t["nodeid"].endswith("test_blown_budget"))
    p50 = next(m for m in blown["metrics"] if m["name"] == "latency_p50_ms")
    # A 2 ms sleep takes at least 2 ms; a busy machine makes it longer, never shorter.
    assert p50["value"] >= 1.9
    # On a busy machine a blown budget is inconclusive (and passes by default, with a warning).
    busy_blown = p50["info"]["cpu_contention"] > BUSY_SHARE
    assert p50["threshold_verdict"] == ("inconclusive" if busy_blown else "fail")
    speed = next(t for t in report["tests"] if t["nodeid"].endswith("test_speed"))
    names = {m["name"] for m in speed["metrics"]}
    assert {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "latency_max_ms",
            "throughput_rps", "peak_memory_mb", "rss_peak_mb", "model_size_mb"} <= names
    p95 = next(m for m in speed["metrics"] if m["name"] == "latency_p95_ms")
    assert p95["verdict"] == "pass" and p95["method"] == "benchmark"
    # marked shared when other xdist workers ran, or when other processes held the CPUs
    busy = p95["info"]["cpu_contention"] > BUSY_SHARE
    assert bool(p95["info"].get("shared_cpu")) == (mode == "xdist" or busy)
    outcomes = {t["nodeid"].rsplit("::", 1)[-1]: t["outcome"] for t in report["tests"]}
    assert outcomes == {"test_speed": "passed", "test_function_error_is_its_own": "failed",
                        "test_blown_budget": "passed" if busy_blown else "failed"}


@pytest.mark.serial  # a real slowdown reads as FAIL on an idle machine: run it alone
def test_performance_regression_against_baseline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_perf='''
import os, time, pytest

@pytest.mark.performance(latency_p50_ms="<= 1000", key="sleepy")
def test_sleepy(mlgate):
    ms = float(os.environ.get("SLEEP_MS", "2"))
    mlgate.benchmark(time.sleep, ms / 1000, max_time=0.1, min_rounds=20)
''')
    args = ("--mlgate", "-o", "mlgate_required_gates=performance")
    assert run_pytest(pytester, *args, "--mlgate-update-baseline").ret == 0
    monkeypatch.setenv("SLEEP_MS", "6")
    slow = run_pytest(pytester, *args, "--mlgate-report", "r.json")
    (p50,) = [m for m in load_report(pytester.path / "r.json")["tests"][0]["metrics"] if m["name"] == "latency_p50_ms"]
    share = p50["info"]["cpu_contention"]
    if share > BUSY_SHARE:
        # A busy machine: the gate cannot tell a slowdown from contention, and must say so.
        assert p50["comparison"]["verdict"] == "inconclusive" and slow.ret == 0, (
            f"other processes used {share:.0%} of the CPUs while timing: the 3x slowdown must read "
            f"INCONCLUSIVE (not FAIL, not PASS)\n{slow.stdout.str()}")
        return
    assert slow.ret == pytest.ExitCode.TESTS_FAILED, f"a 3x slowdown on an idle machine must FAIL\n{slow.stdout.str()}"
    assert p50["comparison"]["verdict"] == "fail"
    slow.stdout.fnmatch_lines(["*latency_p50_ms regressed against the baseline*"])


DATA_TESTS = '''
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=5000).fit(X, y)
first, second = X.iloc[::2], X.iloc[1::2]

@pytest.mark.integration
def test_no_drift(mlgate):
    result = mlgate.check_drift(first, second)
    assert not result.drifted

@pytest.mark.integration
def test_drift(mlgate):
    shifted = second.assign(**{"mean radius": second["mean radius"] * 1.5})
    mlgate.check_drift(first, shifted)

@pytest.mark.integration
def test_invariant(mlgate):
    mlgate.assert_invariant(model, X, lambda X: X * 1.0000001, max_rate=0.05)

@pytest.mark.integration
def test_not_invariant(mlgate):
    mlgate.assert_invariant(model, X, lambda X: X * 3, max_rate=0.01)

@pytest.mark.integration
def test_deterministic(mlgate):
    mlgate.assert_deterministic(model, X)
    assert len(mlgate.fingerprint(X, name="X")) == len("sha256:") + 64
'''


@pytest.mark.both_modes
def test_drift_and_behaviour(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_data=DATA_TESTS)
    result = run("--mlgate", "-o", "mlgate_required_gates=integration", "--mlgate-report", "r.json")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines_random(["*mean radius*", "*invariance*"])
    report = load_report(pytester.path / "r.json")
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in report["tests"]}
    drift = {m["name"]: m["value"] for m in tests["test_drift"]["metrics"]}
    assert drift["drift_share"] > 0
    assert tests["test_deterministic"]["fingerprints"]["X"].startswith("sha256:")
    assert tests["test_not_invariant"]["outcome"] == "failed"


BATCH_DRIFT = '''
import os
import pytest
from sklearn.datasets import load_breast_cancer

X, _ = load_breast_cancer(return_X_y=True, as_frame=True)

@pytest.mark.integration
def test_batch_has_not_drifted(mlgate):
    # Two halves of one data set: nothing drifts, but the worst column's effect differs by batch.
    start = int(os.environ["BATCH_START"])
    result = mlgate.check_drift(X.iloc[::2], X.iloc[start::3])
    assert not result.drifted
'''


def test_drift_readings_are_not_judged_against_another_batchs_baseline(
        pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    """drift_worst_effect was compared with the baseline as a plain comparison: any batch whose
    worst column moved a little more than last time's failed the gate though nothing drifted."""
    pytester.makepyfile(test_batch=BATCH_DRIFT)
    args = ("--mlgate", "-o", "mlgate_required_gates=integration", "--mlgate-report", "r.json")
    effects = {}
    for start in ("2", "1"):
        monkeypatch.setenv("BATCH_START", start)
        first = start == "2"
        result = run(*args, *(["--mlgate-update-baseline"] if first else []))
        assert result.ret == 0, result.stdout.str()
        (test,) = load_report(pytester.path / "r.json")["tests"]
        metrics = {m["name"]: m for m in test["metrics"]}
        effects[start] = metrics["drift_worst_effect"]["value"]
        assert metrics["drift_share"]["value"] == 0
        assert all(metrics[n]["comparison"] is None for n in ("drift_share", "drift_worst_effect"))
    assert effects["1"] > effects["2"], "the case needs a second batch whose worst effect is larger"


NAN_MODEL = '''
import numpy as np
import pandas as pd
import pytest


class NaNModel:
    def predict(self, X):
        return np.full(len(X), np.nan)

    def predict_proba(self, X):
        return np.full((len(X), 2), np.nan)


X = pd.DataFrame({"a": np.arange(400.0), "b": np.arange(400.0)})


@pytest.mark.integration
def test_invariant(mlgate):
    mlgate.assert_invariant(NaNModel(), X, lambda f: f.assign(b=0.0))


@pytest.mark.integration
def test_invariant_proba(mlgate):
    mlgate.assert_invariant(NaNModel(), X, lambda f: f.assign(b=0.0), method="predict_proba")


@pytest.mark.integration
def test_deterministic(mlgate):
    mlgate.assert_deterministic(NaNModel(), X)
'''


@pytest.mark.both_modes
def test_a_model_predicting_nan_everywhere_fails_the_behaviour_gate(pytester: pytest.Pytester, run) -> None:
    # Invariance and determinism passed with 0 violations: NaN compared equal to NaN.
    pytester.makepyfile(test_nan=NAN_MODEL)
    result = run("--mlgate", "-o", "mlgate_required_gates=integration", "--mlgate-report", "r.json")
    result.assert_outcomes(failed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*gave no answer (400 row(s) with a NaN, infinite or missing output*"])
    report = load_report(pytester.path / "r.json")
    assert report["gates"]["integration"]["verdict"] == "fail"
    for t in report["tests"]:
        (m,) = t["metrics"]
        assert m["value"] == 1.0 and m["info"]["no_answer"] == 400, m


def test_slowdown_under_cpu_contention_is_inconclusive_not_a_failure(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess
    import sys

    pytester.makepyfile(test_perf='''
import os, time, pytest

def work(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

@pytest.mark.performance(latency_p50_ms="<= 1000", key="busy")
def test_busy(mlgate):
    mlgate.benchmark(work, float(os.environ.get("WORK_MS", "2")), max_time=0.3, min_rounds=20)
''')
    args = ("--mlgate", "-o", "mlgate_required_gates=performance")
    assert run_pytest(pytester, *args, "--mlgate-update-baseline").ret == 0
    monkeypatch.setenv("WORK_MS", "6")
    spin = "import time\nend = time.time() + 30\nwhile time.time() < end:\n    pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 1)]
    try:
        result = run_pytest(pytester, *args, "--mlgate-report", "r.json")
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    p50 = next(m for m in report["tests"][0]["metrics"] if m["name"] == "latency_p50_ms")
    assert p50["info"]["cpu_contention"] > 0.2
    assert p50["comparison"]["verdict"] == "inconclusive"
    assert "other processes used" in p50["comparison"]["reason"]


def test_budget_blown_under_cpu_contention_is_inconclusive(pytester: pytest.Pytester) -> None:
    """A latency budget blown while other processes held the CPUs cannot be told from the
    neighbour: INCONCLUSIVE, passing by default with a warning, failing with
    mlgate_inconclusive = fail; a memory budget is not excused by a busy CPU."""
    import os
    import subprocess
    import sys

    pytester.makepyfile(test_perf='''
import time, pytest

def work(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

@pytest.mark.performance(latency_p50_ms="<= 0.001")
def test_blown(mlgate):
    mlgate.benchmark(work, 2, max_time=0.3, min_rounds=20)

@pytest.mark.performance(peak_memory_mb="<= 0.000001")
def test_memory(mlgate):
    mlgate.benchmark(lambda: bytearray(10_000_000), max_time=0.3, min_rounds=5)
''')
    args = ("--mlgate", "-o", "mlgate_required_gates=performance",
            "--mlgate-report", "r.json")
    spin = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 1)]
    try:
        lenient = run_pytest(pytester, *args)
        lenient_report = load_report(pytester.path / "r.json")
        strict = run_pytest(pytester, *args, "-o", "mlgate_inconclusive=fail")
        strict_report = load_report(pytester.path / "r.json")
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    for report, result, policy in ((lenient_report, lenient, "pass"), (strict_report, strict, "fail")):
        tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in report["tests"]}
        p50 = next(m for m in tests["test_blown"]["metrics"] if m["name"] == "latency_p50_ms")
        memory = next(m for m in tests["test_memory"]["metrics"] if m["name"] == "peak_memory_mb")
        assert memory["threshold_verdict"] == "fail" and tests["test_memory"]["outcome"] == "failed"
        if p50["info"]["cpu_contention"] <= BUSY_SHARE:
            # The spinners did not show in the reading (the scheduler kept them away): the
            # budget is judged as on a quiet machine.
            assert p50["threshold_verdict"] == "fail"
            continue
        assert p50["threshold_verdict"] == "inconclusive" and p50["verdict"] == "inconclusive"
        assert tests["test_blown"]["outcome"] == ("passed" if policy == "pass" else "failed")
        result.stdout.fnmatch_lines(["*latency_p50_ms * <= 0.001: threshold not met, but other "
                                     "processes used *% of the CPUs while timing*"])
