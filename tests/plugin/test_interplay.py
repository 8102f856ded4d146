"""pytest-mlgate next to the plugins teams run it with: pytest-rerunfailures, pytest-randomly,
pytest-cov, pytest-timeout, pytest-benchmark, and pytest's own xfail / skip / parametrize.

Each scenario runs plain and under ``-n 2`` (the ``run`` fixture). The plugin under test is
turned on with ``-p NAME``: tests/plugin/conftest.py turns the others off for every scenario.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.baseline import load_baseline

from .helpers import load_report, run_pytest


def _metrics(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """test name -> metric name -> value, from a JSON report."""
    return {t["nodeid"].rsplit("::", 1)[-1]: {m["name"]: m["value"] for m in t["metrics"]}
            for t in report["tests"]}


def _tests(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].rsplit("::", 1)[-1]: t for t in report["tests"]}


def _junit_properties(path: Path) -> list[list[tuple[str, str]]]:
    """The properties of every <testcase> element, in document order."""
    root = ET.parse(path).getroot()
    return [[(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
            for case in root.iter("testcase")]


# -- pytest-rerunfailures ------------------------------------------------------------------------

# The first attempt evaluates a model that always says "setosa" (accuracy 1/3) and fails its
# threshold; the rerun evaluates a real one. A file in the project directory counts attempts.
FLAKY_QUALITY = '''
import pathlib
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)

def attempt():
    counter = pathlib.Path("attempts")
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    return n

@pytest.mark.validation(accuracy=">= 0.9")
def test_quality(mlgate):
    if attempt() == 1:
        model = DummyClassifier(strategy="constant", constant=0).fit(X, y)
    else:
        model = LogisticRegression(max_iter=500).fit(X, y)
    mlgate.evaluate(model, X, y)
    mlgate.candidate(model, name="iris")
'''


@pytest.mark.both_modes
def test_only_the_final_attempt_of_a_rerun_test_counts_everywhere(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_flaky=FLAKY_QUALITY)
    result = run("-p", "rerunfailures", "--reruns", "1", "--mlgate", "-o", "mlgate_required_gates=validation",
                 "--mlgate-report", "r.json", "--mlgate-markdown", "s.md", "--junitxml", "j.xml",
                 "--mlgate-update-baseline", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "attempts").read_text() == "2"
    X, y = load_iris(return_X_y=True)
    good = LogisticRegression(max_iter=500).fit(X, y)
    accuracy = float((good.predict(X) == y).mean())
    out = result.stdout.str()
    table = [line for line in out.splitlines() if line.startswith("test_flaky.py::test_quality")]
    assert len(table) == 1 and f"{accuracy:.4g}" in table[0] and "PASS" in table[0], out
    assert "0.3333" not in out, "the failed attempt's accuracy must not be shown"

    report = load_report(pytester.path / "r.json")
    (test,) = report["tests"]
    assert test["outcome"] == "passed" and test["reruns"] == 1
    assert [(m["name"], m["value"], m["verdict"]) for m in test["metrics"]] == [("accuracy", accuracy, "pass")]
    assert report["gates"]["validation"]["passed"] == 1
    markdown = (pytester.path / "s.md").read_text()
    assert f"{accuracy:.4g}" in markdown and "0.3333" not in markdown

    cases = _junit_properties(pytester.path / "j.xml")
    assert [p for p in cases[-1] if not p[0].endswith((".low", ".high"))] == [
        ("mlgate.accuracy", str(accuracy)), ("mlgate.accuracy.threshold", ">= 0.9"),
        ("mlgate.accuracy.verdict", "pass")], cases
    assert all(("mlgate.accuracy", str(1 / 3)) not in props for props in cases), cases

    baseline = load_baseline(pytester.path / ".mlgate" / "baseline.json")
    key = test["key"]
    entry = baseline.get(key, "accuracy")
    assert entry is not None and entry.value == accuracy
    samples = baseline.samples(key, "accuracy")
    assert samples is not None
    np.testing.assert_array_equal(samples["y_pred"], good.predict(X))

    (artifact,) = report["delivery"]["artifacts"]
    stored = json.loads((Path(artifact["path"]) / "run.json").read_text())
    assert _metrics(stored)["test_quality"] == {"accuracy": accuracy}
    card = (Path(artifact["path"]) / "README.md").read_text()
    assert "0.3333" not in card


RERUN_CASES = '''
import pathlib
import pytest

def attempt(name):
    counter = pathlib.Path(f"attempts-{name}")
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    return n

@pytest.fixture
def flaky_resource():
    if attempt("setup") == 1:
        raise RuntimeError("resource not ready on the first attempt")
    return 0.91

@pytest.mark.validation(score=">= 0.9")
def test_steady(mlgate):
    attempt("steady")
    mlgate.record("score", 0.97)

@pytest.mark.validation(score=">= 0.9")
def test_always_low(mlgate):
    mlgate.record("score", 0.5 + attempt("low") / 100)

@pytest.mark.validation(score=">= 0.9")
def test_setup_error_then_pass(mlgate, flaky_resource):
    mlgate.record("score", flaky_resource)
'''


@pytest.mark.both_modes
def test_reruns_of_a_passing_a_failing_and_a_setup_error_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(RERUN_CASES)
    result = run("-p", "rerunfailures", "--reruns", "2", "--mlgate", "-o", "mlgate_required_gates=validation",
                 "--mlgate-report", "r.json", "--mlgate-update-baseline", "--junitxml", "j.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    attempts = {name: int((pytester.path / f"attempts-{name}").read_text()) for name in ("steady", "low", "setup")}
    assert attempts == {"steady": 1, "low": 3, "setup": 2}
    report = load_report(pytester.path / "r.json")
    tests = _tests(report)
    assert {n: (t["outcome"], t["reruns"]) for n, t in tests.items()} == {
        "test_steady": ("passed", 0), "test_always_low": ("failed", 2), "test_setup_error_then_pass": ("passed", 1)}
    assert _metrics(report) == {"test_steady": {"score": 0.97}, "test_always_low": {"score": 0.53},
                                "test_setup_error_then_pass": {"score": 0.91}}
    assert "0.53" in tests["test_always_low"]["message"], "the message is the final attempt's"
    gate = report["gates"]["validation"]
    assert (gate["passed"], gate["failed"], gate["errored"], gate["verdict"]) == (2, 1, 0, "fail")
    assert report["baseline"]["status"] == "refused"
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    final_scores = [p for props in _junit_properties(pytester.path / "j.xml") for p in props
                    if p[0] in ("mlgate.score", "mlgate.score.verdict")]
    assert sorted(final_scores) == [("mlgate.score", "0.53"), ("mlgate.score", "0.91"), ("mlgate.score", "0.97"),
                                    ("mlgate.score.verdict", "fail"), ("mlgate.score.verdict", "pass"),
                                    ("mlgate.score.verdict", "pass")]


# -- pytest-randomly -----------------------------------------------------------------------------

RANDOM_DRAWS = '''
import random
import numpy as np
import pytest

@pytest.fixture
def noisy_rows():
    return float(np.random.random())

@pytest.mark.validation(score=">= 0")
def test_gated(mlgate, noisy_rows):
    mlgate.record("score", 1.0, fixture=noisy_rows, body_np=float(np.random.random()), body_py=random.random())

def test_fixture_user(mlgate):
    mlgate.record("draw", float(np.random.random()))

def test_ungated():
    with open("ungated.log", "a") as fh:
        fh.write(f"{np.random.random()!r} {random.random()!r}\\n")
'''


def _draws(pytester: pytest.Pytester, run, *args: str) -> dict[str, Any]:
    """Run the scenario; the random numbers the gated test and the fixture user drew, and the
    line the ungated test wrote."""
    log = pytester.path / "ungated.log"
    log.unlink(missing_ok=True)
    result = run("-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json", *args)
    assert result.ret == 0, result.stdout.str()
    tests = _tests(load_report(pytester.path / "r.json"))
    (gated,) = tests["test_gated"]["metrics"]
    (user,) = tests["test_fixture_user"]["metrics"]
    return {"gated": gated["info"], "fixture_user": user["value"], "ungated": log.read_text(),
            "stdout": result.stdout.str()}


@pytest.mark.both_modes
def test_mlgate_seed_wins_over_pytest_randomly_in_gated_tests(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(RANDOM_DRAWS)
    alone = _draws(pytester, run, "--mlgate", "--mlgate-seed", "5")  # pytest-randomly off
    fixed = {s: _draws(pytester, run, "-p", "randomly", f"--randomly-seed={s}", "--mlgate", "--mlgate-seed", "5")
             for s in (7, 8)}
    for other in fixed.values():
        assert other["gated"] == alone["gated"], "a gated test draws the same numbers with or without pytest-randomly"
        assert other["fixture_user"] == alone["fixture_user"], "so does a test using the mlgate fixture"
    assert len({alone["gated"]["fixture"], alone["gated"]["body_np"], alone["fixture_user"]}) == 3
    # Tests without a gate or the fixture are pytest-randomly's: its seed decides what they draw.
    again = _draws(pytester, run, "-p", "randomly", "--randomly-seed=7", "--mlgate", "--mlgate-seed", "5")
    assert again["ungated"] == fixed[7]["ungated"] != fixed[8]["ungated"]
    assert "mlgate: pytest-randomly reseeds every test (--randomly-seed=7); gated tests and tests using " \
           "the mlgate fixture are seeded from the mlgate seed 5 after it" in fixed[7]["stdout"]
    assert "pytest-randomly" not in alone["stdout"]


@pytest.mark.both_modes
def test_without_mlgate_seeding_pytest_randomly_seeds_every_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(RANDOM_DRAWS)
    # Gate mode off and no --mlgate-seed: pytest-mlgate seeds nothing, pytest-randomly everything.
    first, second = (_draws(pytester, run, "-p", "randomly", "--randomly-seed=7") for _ in range(2))
    assert first["gated"] == second["gated"] and first["ungated"] == second["ungated"]
    assert "mlgate: pytest-randomly seeds every test (--randomly-seed=7); --mlgate or --mlgate-seed seeds " \
           "gated tests and tests using the mlgate fixture from the mlgate seed instead" in first["stdout"]
    # Gate mode without --mlgate-seed: a fresh mlgate seed each run, whatever pytest-randomly's.
    runs = [_draws(pytester, run, "-p", "randomly", "--randomly-seed=7", "--mlgate") for _ in range(2)]
    assert runs[0]["gated"] != runs[1]["gated"]
    assert runs[0]["ungated"] == runs[1]["ungated"] == first["ungated"]


# -- xfail, xpass, skip and parametrize ----------------------------------------------------------

OUTCOMES = '''
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)

@pytest.mark.validation(accuracy=">= 0.9")
def test_plain(mlgate):
    mlgate.evaluate(LogisticRegression(max_iter=500).fit(X, y), X, y)
    mlgate.candidate(LogisticRegression(max_iter=500).fit(X, y), name="iris")

@pytest.mark.validation(score=">= 0.9")
@pytest.mark.parametrize("value", [0.91, 0.92])
def test_param(mlgate, value):
    mlgate.record("score", value)

@pytest.mark.validation(score=">= 0.9")
@pytest.mark.xfail(reason="known to break after recording")
def test_xfail(mlgate):
    mlgate.record("score", 0.97)
    raise AssertionError("the known bug")

@pytest.mark.validation(score=">= 0.9")
@pytest.mark.xfail(reason="flaky, not strict", strict=False)
def test_xpass(mlgate):
    mlgate.record("score", 0.98)

@pytest.mark.validation(score=">= 0.9")
def test_skip(mlgate):
    mlgate.record("score", 0.99)
    pytest.skip("no data today")
'''


@pytest.mark.both_modes
def test_only_plain_passes_reach_the_baseline_and_the_artefact(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(OUTCOMES)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json",
                 "--mlgate-update-baseline", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    tests = _tests(report)
    assert {n: t["outcome"] for n, t in tests.items()} == {
        "test_plain": "passed", "test_param[0.91]": "passed", "test_param[0.92]": "passed",
        "test_xfail": "xfailed", "test_xpass": "xpassed", "test_skip": "skipped"}
    gate = report["gates"]["validation"]
    assert (gate["passed"], gate["failed"], gate["errored"], gate["skipped"], gate["verdict"]) == (3, 0, 0, 3, "pass")
    assert _metrics(report)["test_xfail"] == {"score": 0.97}, "the report still shows what the test measured"

    baseline = json.loads((pytester.path / ".mlgate" / "baseline.json").read_text())["metrics"]
    assert sorted(k.rsplit("::", 1)[-1] for k in baseline) == ["test_param[0.91]", "test_param[0.92]", "test_plain"]

    (artifact,) = report["delivery"]["artifacts"]
    stored = _metrics(json.loads((Path(artifact["path"]) / "run.json").read_text()))
    assert {n for n, m in stored.items() if m} == {"test_plain", "test_param[0.91]", "test_param[0.92]"}
    card = (Path(artifact["path"]) / "README.md").read_text()
    rows = [line for line in card.splitlines() if line.startswith("| score ")]
    assert sorted(row.split("|")[2].strip() for row in rows) == ["0.91", "0.92"], card


@pytest.mark.both_modes
def test_a_strict_xpass_fails_its_gate(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.validation(score=">= 0.9")
def test_plain(mlgate):
    mlgate.record("score", 0.95)

@pytest.mark.validation(score=">= 0.9")
@pytest.mark.xfail(reason="should be broken", strict=True)
def test_strict(mlgate):
    mlgate.record("score", 0.96)
''')
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json",
                 "--mlgate-update-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    assert _tests(report)["test_strict"]["outcome"] == "failed"
    gate = report["gates"]["validation"]
    assert (gate["passed"], gate["failed"], gate["verdict"]) == (1, 1, "fail")
    assert report["baseline"]["status"] == "refused"
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()


# -- pytest-cov ----------------------------------------------------------------------------------

MODEL_CODE = '''
def features(rows):
    return [r * 2 for r in rows]

def never_called():
    return "not covered"
'''

COVERED = '''
import pytest
from model_code import features

@pytest.mark.unit
def test_features():
    assert features([1, 2]) == [2, 4]

@pytest.mark.validation(accuracy=">= 0.9")
def test_quality(mlgate):
    mlgate.record("accuracy", 0.95)
'''


@pytest.mark.both_modes
def test_coverage_measurement_leaves_the_verdict_alone(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(model_code=MODEL_CODE, test_covered=COVERED)
    gate_args = ("--mlgate", "-o", "mlgate_required_gates=unit validation", "--mlgate-report", "r.json")
    plain = run(*gate_args)
    assert plain.ret == 0, plain.stdout.str()
    without = load_report(pytester.path / "r.json")
    covered = run("-p", "pytest_cov", f"--cov={pytester.path}", "--cov-report=json:cov.json", *gate_args)
    assert covered.ret == 0, covered.stdout.str()
    report = load_report(pytester.path / "r.json")
    assert report["gates"] == without["gates"] and report["verdict"] == "pass"
    assert _metrics(report) == _metrics(without) == {"test_features": {}, "test_quality": {"accuracy": 0.95}}
    files = json.loads((pytester.path / "cov.json").read_text())["files"]
    summary = files["model_code.py"]["summary"]
    assert summary["covered_lines"] == 3 and summary["missing_lines"] == 1, summary


# -- pytest-timeout ------------------------------------------------------------------------------

HANGS = '''
import time
import pytest

@pytest.mark.unit
def test_fast():
    pass

@pytest.mark.validation(accuracy=">= 0.9")
def test_hangs(mlgate):
    mlgate.record("accuracy", 0.95)
    time.sleep(60)
'''


@pytest.mark.both_modes
def test_a_gated_test_that_times_out_fails_its_gate(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(HANGS)
    result = run("-p", "timeout", "--timeout=2", "--mlgate", "-o", "mlgate_required_gates=unit validation",
                 "--mlgate-report", "r.json", "--mlgate-update-baseline")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines_random(["*validation*0*1*0*0*FAIL*", "*gates FAILED*"])
    report = load_report(pytester.path / "r.json")
    hung = _tests(report)["test_hangs"]
    assert hung["outcome"] == "failed" and "Timeout" in hung["message"]
    assert report["gates"]["validation"]["verdict"] == "fail" and report["gates"]["unit"]["verdict"] == "pass"
    assert report["baseline"]["status"] == "refused"
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()


@pytest.mark.both_modes
def test_a_timeout_that_kills_the_process_fails_the_run(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(HANGS)
    result = run("-p", "timeout", "--timeout=2", "--timeout-method=thread", "--mlgate",
                 "-o", "mlgate_required_gates=unit validation", "--mlgate-report", "r.json",
                 "--mlgate-update-baseline")
    assert result.ret != 0, result.stdout.str()
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    if mode == "xdist":  # the worker died; the controller says so and fails the run
        report = load_report(pytester.path / "r.json")
        assert report["verdict"] == "fail" and report["run"]["complete"] is False
        assert any("crashed" in reason for reason in report["run"]["incomplete_reasons"])
        assert report["baseline"]["status"] == "refused"
    else:  # the only process died: no verdict, no report, and a failing exit status
        assert not (pytester.path / "r.json").exists()


# -- pytest-benchmark ----------------------------------------------------------------------------

BOTH_BENCHMARKS = '''
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

X, y = load_diabetes(return_X_y=True)
model = Ridge().fit(X, y)

@pytest.mark.performance(latency_p95_ms="<= 1000")
def test_both_fixtures(benchmark, mlgate):
    assert benchmark(model.predict, X).shape == (len(X),)
    mlgate.benchmark(model.predict, X, max_time=0.05)

def test_theirs_only(benchmark):
    benchmark(sum, range(100))
'''


@pytest.mark.both_modes
def test_pytest_benchmark_beside_mlgate_benchmark(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(BOTH_BENCHMARKS)
    result = run("-p", "benchmark", "--mlgate", "-o", "mlgate_required_gates=performance",
                 "--mlgate-report", "r.json", "--mlgate-update-baseline")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    if mode == "xdist":  # pytest-benchmark switches itself off (and says so on stderr); the gate does not
        assert "benchmark: 2 tests" not in out
    else:
        result.stdout.fnmatch_lines(["*benchmark: 2 tests*"])
    report = load_report(pytester.path / "r.json")
    gate = report["gates"]["performance"]
    assert (gate["passed"], gate["failed"], gate["verdict"]) == (1, 0, "pass")
    p95 = _metrics(report)["test_both_fixtures"]["latency_p95_ms"]
    assert 0 < p95 <= 1000
    baseline = load_baseline(pytester.path / ".mlgate" / "baseline.json")
    key = _tests(report)["test_both_fixtures"]["key"]
    entry = baseline.get(key, "latency_p95_ms")
    assert entry is not None and entry.value == p95


# -- all of them at once -------------------------------------------------------------------------

EVERYTHING = '''
import pathlib
import random
import numpy as np
import pytest
from model_code import features

def attempt():
    counter = pathlib.Path("attempts")
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    return n

@pytest.mark.unit
@pytest.mark.parametrize("rows", [[1], [1, 2]])
def test_features(rows):
    assert len(features(rows)) == len(rows)

@pytest.mark.integration
def test_pipeline(mlgate):
    mlgate.record("rows_out", 150)

@pytest.mark.performance(latency_p95_ms="<= 1000")
def test_speed(mlgate):
    mlgate.benchmark(features, list(range(100)), max_time=0.05)

@pytest.mark.validation(accuracy=">= 0.9")
def test_flaky_quality(mlgate):
    mlgate.record("accuracy", 0.5 if attempt() == 1 else 0.9 + float(np.random.random()) / 20,
                  py=random.random())

@pytest.mark.validation(accuracy=">= 0.9")
@pytest.mark.xfail(reason="known bad slice")
def test_known_bad(mlgate):
    mlgate.record("accuracy", 0.99)
    raise AssertionError("known")

@pytest.mark.validation
def test_skipped(mlgate):
    pytest.skip("no data")
'''


@pytest.mark.both_modes
def test_every_plugin_at_once(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(model_code=MODEL_CODE, test_everything=EVERYTHING)
    args = ("-p", "randomly", "-p", "rerunfailures", "-p", "pytest_cov", "-p", "timeout", "-p", "benchmark",
            "--reruns", "1", "--timeout", "60", f"--cov={pytester.path}", "--cov-report=json:cov.json",
            "--mlgate", "--mlgate-seed", "3", "--mlgate-report", "r.json", "--mlgate-update-baseline")
    result = run(*args)
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    counts = {g: (r["passed"], r["failed"], r["errored"], r["skipped"], r["verdict"]) for g, r in report["gates"].items()}
    assert counts == {"unit": (2, 0, 0, 0, "pass"), "integration": (1, 0, 0, 0, "pass"),
                      "performance": (1, 0, 0, 0, "pass"), "validation": (1, 0, 0, 2, "pass")}
    tests = _tests(report)
    assert tests["test_flaky_quality"]["reruns"] == 1
    metrics = _metrics(report)
    quality = metrics["test_flaky_quality"]["accuracy"]
    assert 0.9 <= quality <= 0.95
    baseline = json.loads((pytester.path / ".mlgate" / "baseline.json").read_text())["metrics"]
    assert {k.rsplit("::", 1)[-1]: sorted(v) for k, v in baseline.items()} == {
        "test_pipeline": ["rows_out"], "test_flaky_quality": ["accuracy"],
        "test_speed": sorted(metrics["test_speed"])}
    assert next(v for k, v in baseline.items() if k.endswith("test_flaky_quality"))["accuracy"]["value"] == quality
    assert (pytester.path / "cov.json").exists()

    # The same seed, without the flaky first attempt and without pytest-randomly: the same draws.
    (pytester.path / "attempts").write_text("1")
    again = run("--mlgate", "--mlgate-seed", "3", "--mlgate-report", "r2.json")
    assert again.ret == 0, again.stdout.str()
    repeated = _tests(load_report(pytester.path / "r2.json"))["test_flaky_quality"]
    assert repeated["metrics"][0]["value"] == quality
    assert repeated["metrics"][0]["info"] == tests["test_flaky_quality"]["metrics"][0]["info"]


def test_pytest_repeat_count_is_refused_in_gate_mode_and_left_alone_outside(pytester: pytest.Pytester) -> None:
    # pytest-repeat renames each test (q[1-2], q[2-2]): no test matched its baseline entry, so a
    # regression passed with exit 0 and --mlgate-update-baseline rewrote the keys. Refused now.
    pytester.makepyfile(test_q='''
import pytest

@pytest.mark.validation(accuracy=">= 0.5")
def test_q(mlgate):
    mlgate.record("accuracy", 0.9)
''')
    gate = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=validation",
                                         "-p", "repeat", "--count", "2")
    assert gate.ret == pytest.ExitCode.USAGE_ERROR
    gate.stderr.fnmatch_lines(["*pytest-repeat's --count 2 renames every test*Run repeats without --mlgate*"])
    plain = run_pytest(pytester, "-p", "repeat", "--count", "2")
    assert plain.ret == 0
    plain.assert_outcomes(passed=2)
    once = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=validation",
                                         "-p", "repeat", "--count", "1")
    assert once.ret == 0, once.stdout.str()
