"""mlgate.record(): values, thresholds checked at the end of the body, with or without --mlgate."""

from __future__ import annotations

import pytest

from .helpers import load_report, run_pytest


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("float('nan')", "*metric 'accuracy' is NaN: a NaN never passes a gate*"),
        ("float('inf')", "*metric 'accuracy' is infinite*"),
        ("'0.9'", "*metric 'accuracy': '0.9' (str) is not a real number*"),
        ("[0.9, 0.8]", "*metric 'accuracy': got an array-like list, not a single number*"),
        ("__import__('numpy').array([0.9, 0.8])", "*got an array-like ndarray*"),
        ("True", "*is a boolean, not a number*"),
        ("None", "*None (NoneType) is not a real number*"),
    ],
)
def test_values_that_are_not_finite_real_numbers_fail_the_test(
    pytester: pytest.Pytester, value: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.validation(accuracy=">= 0.5")
        def test_it(mlgate):
            mlgate.record("accuracy", {value})
        """
    )
    result = run_pytest(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([expected])
    # The user's line is shown, the plugin's internals are not.
    result.stdout.fnmatch_lines(["*mlgate.record(\"accuracy\"*"])
    assert "pytest_mlgate/" not in result.stdout.str()


def test_numpy_scalars_are_accepted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np, pytest
        @pytest.mark.validation(accuracy=">= 0.5", rows=">= 10")
        def test_it(mlgate):
            m = mlgate.record("accuracy", np.float32(0.75), note="np")
            mlgate.record("rows", np.int64(12))
            assert m.value == pytest.approx(0.75)
            assert m.info == {"note": "np"}
        """
    )
    run_pytest(pytester).assert_outcomes(passed=1)


@pytest.mark.both_modes
@pytest.mark.parametrize("gate_mode", [False, True])
def test_unmet_and_missing_thresholds_fail_with_or_without_gate_mode(
    pytester: pytest.Pytester, run, gate_mode: bool
) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.validation(accuracy=">= 0.9", f1_macro=">= 0.8")
        def test_unmet(mlgate):
            mlgate.record("accuracy", 0.8123)
            mlgate.record("f1_macro", 0.85)

        @pytest.mark.validation(accuracy=">= 0.9")
        def test_missing(mlgate):
            pass

        @pytest.mark.validation(accuracy=">= 0.9")
        def test_without_fixture():
            pass

        @pytest.mark.performance(latency_p95_ms="< 20")
        def test_met(mlgate):
            mlgate.record("latency_p95_ms", 19.9)
        """
    )
    result = run(*(["--mlgate"] if gate_mode else []))
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines_random([
        "*accuracy 0.8123 >= 0.9: threshold not met*",
        "*threshold for accuracy, but no accuracy was recorded*",
    ])
    assert "f1_macro 0.85" not in result.stdout.str()


def test_failing_body_keeps_its_own_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.validation(accuracy=">= 0.9")
        def test_it(mlgate):
            mlgate.record("accuracy", 0.95)
            raise RuntimeError("model exploded")
        """
    )
    result = run_pytest(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: model exploded*"])


@pytest.mark.both_modes
def test_metrics_appear_as_junit_properties(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.validation(accuracy=">= 0.9")
        def test_it(mlgate):
            mlgate.record("accuracy", 0.95)
        """
    )
    run("--junitxml=junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert '<property name="mlgate.accuracy" value="0.95"' in xml


SWALLOWED = '''
import pytest

def log_metric(mlgate, name, value):
    try:  # a helper that logs and carries on
        mlgate.record(name, value)
    except Exception:
        pass

@pytest.mark.validation(accuracy=">= 0.5")
def test_good_then_nan_swallowed(mlgate):
    mlgate.record("accuracy", 0.9)
    log_metric(mlgate, "accuracy", float("nan"))

@pytest.mark.validation(accuracy=">= 0.5")
def test_nan_then_good(mlgate):
    log_metric(mlgate, "accuracy", float("nan"))
    mlgate.record("accuracy", 0.9)

@pytest.mark.integration
def test_untracked_name_swallowed(mlgate):
    mlgate.record("rows", 10)
    log_metric(mlgate, "rows", "ten")
'''


@pytest.mark.both_modes
def test_a_refused_record_poisons_its_metric_even_when_the_error_is_caught(
        pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(SWALLOWED)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report=r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    outcomes = {t["nodeid"].rsplit("::", 1)[-1]: t for t in load_report(pytester.path / "r.json")["tests"]}
    assert outcomes["test_good_then_nan_swallowed"]["outcome"] == "failed"
    assert outcomes["test_good_then_nan_swallowed"]["metrics"] == [], "0.9 is not reported as passing"
    assert outcomes["test_untracked_name_swallowed"]["outcome"] == "failed"
    assert outcomes["test_nan_then_good"]["outcome"] == "passed", "a later valid value is the last one"
    result.stdout.fnmatch_lines_random([
        "*metric 'accuracy' is NaN: a NaN never passes a gate; record() refused the last value of "
        "accuracy, so no earlier value counts*",
        "*metric 'rows': 'ten' (str) is not a real number; record() refused the last value of rows*",
    ])
