"""The validation gate through the plugin: evaluate, slices, champion, baseline regressions."""

from __future__ import annotations

import pytest

from .helpers import load_report, run_pytest

MODEL_TESTS = '''
import os
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)


def fit(k):
    """A pipeline that uses only the first k features (fewer features: a real regression)."""
    keep = ColumnTransformer([("keep", "passthrough", list(X.columns[:k]))])
    return make_pipeline(keep, StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)

# MLGATE_DEGRADE=k: the model under test sees only k features; evaluation data stay the same.
model = fit(int(os.environ.get("MLGATE_DEGRADE", "0")) or X.shape[1])
X_eval = X_te

@pytest.mark.validation(accuracy=">= 0.6", roc_auc=">= 0.6", key="quality")
def test_quality(mlgate):
    result = mlgate.evaluate(model, X_eval, y_te)
    acc = result.get("accuracy")
    assert acc.low < acc.value < acc.high and acc.method == "wilson" and acc.n == len(y_te)
'''


@pytest.mark.both_modes
def test_evaluate_records_metrics_with_intervals(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    metrics = {m["name"]: m for m in report["tests"][0]["metrics"]}
    assert set(metrics) == {"accuracy", "roc_auc"}
    assert metrics["roc_auc"]["method"] == "delong"
    assert metrics["accuracy"]["low"] < metrics["accuracy"]["value"] < metrics["accuracy"]["high"]
    assert metrics["accuracy"]["info"]["fingerprint"].startswith("sha256:")
    result.stdout.fnmatch_lines(["test_model.py::test_quality*accuracy*0.9*[0.9*, 0.9*]*>= 0.6*PASS*"])


@pytest.mark.both_modes
def test_baseline_update_then_real_regression_fails(pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS)
    args = ("--mlgate", "-o", "mlgate_required_gates=validation")
    first = run(*args, "--mlgate-update-baseline")
    assert first.ret == 0, first.stdout.str()
    first.stdout.fnmatch_lines(["*baseline: wrote 2 metric(s) to*baseline.json*"])
    baseline = pytester.path / ".mlgate" / "baseline.json"
    assert baseline.exists()
    assert (pytester.path / ".mlgate" / "baseline.samples.npz").exists()

    same = run(*args, "--mlgate-report", "same.json")
    assert same.ret == 0, same.stdout.str()
    (acc,) = [m for m in load_report(pytester.path / "same.json")["tests"][0]["metrics"] if m["name"] == "accuracy"]
    assert acc["comparison"]["verdict"] == "pass"
    assert acc["comparison"]["reference_value"] == acc["value"]

    monkeypatch.setenv("MLGATE_DEGRADE", "2")
    worse = run(*args, "--mlgate-report", "worse.json")
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(["*accuracy regressed against the baseline*"])
    (acc,) = [m for m in load_report(pytester.path / "worse.json")["tests"][0]["metrics"] if m["name"] == "accuracy"]
    assert acc["comparison"]["verdict"] == "fail"
    assert acc["comparison"]["method"].startswith("mcnemar") or "paired" in acc["comparison"]["method"]
    assert acc["comparison"]["change"] < 0


@pytest.mark.both_modes
def test_baseline_is_not_written_from_a_failing_or_incomplete_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS + "\n@pytest.mark.unit\ndef test_broken():\n    assert False\n")
    failing = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-update-baseline")
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.stdout.fnmatch_lines(["*baseline: not updated: gates failed*"])
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    partial = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-update-baseline", "-k", "quality")
    partial.stdout.fnmatch_lines(["*baseline: not updated: the run was incomplete*"])
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()


@pytest.mark.both_modes
def test_baseline_measured_on_other_data_is_not_compared(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS)
    args = ("--mlgate", "-o", "mlgate_required_gates=validation")
    assert run(*args, "--mlgate-update-baseline").ret == 0
    (pytester.path / "test_model.py").write_text(
        (pytester.path / "test_model.py").read_text().replace("random_state=0, stratify", "random_state=1, stratify"))
    result = run(*args, "--mlgate-report", "r.json")
    assert result.ret == 0
    (acc,) = [m for m in load_report(pytester.path / "r.json")["tests"][0]["metrics"] if m["name"] == "accuracy"]
    assert acc["comparison"]["verdict"] == "not_compared"
    assert "different evaluation data" in acc["comparison"]["reason"]


@pytest.mark.both_modes
def test_champion_comparison_fails_a_worse_candidate(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS + '''
@pytest.mark.validation(accuracy=">= 0.5")
def test_against_champion(mlgate):
    mlgate.evaluate(fit(1), X_te, y_te, against=model)
''')
    result = run("--mlgate", "-o", "mlgate_required_gates=validation")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*accuracy regressed against the champion*"])


def test_worst_slice_fails_with_holm_correction(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=5000).fit(X, y)
X = X.assign(size=np.where(X["mean radius"] > 15, "large", "small"))

class Flip:
    """Wrong on every large tumour: fine on average, terrible on one slice."""
    def predict(self, X):
        p = model.predict(X.drop(columns="size"))
        return np.where(X["size"] == "large", 1 - p, p)

@pytest.mark.validation(accuracy=">= 0.6")
def test_slices(mlgate):
    result = mlgate.evaluate(Flip(), X, y, slices="size")
    assert result.get("accuracy").value > 0.6
''')
    result = run_pytest(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*accuracy: slice(s) significantly below >= 0.6: size=large (Holm p=*; worst slice size=large = 0.0*"])


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("mlgate.evaluate(model, X_eval, y_te[:10])", "*X has 285 rows but y has 10*"),
        ("mlgate.evaluate(model, X_eval, y_te, metrics=['acuracy'])", "*acuracy*accuracy*"),
        ("mlgate.evaluate(object(), X_eval, y_te, metrics=['roc_auc'])", "*roc_auc*"),
        ("mlgate.evaluate(model, X_eval, y_te * 0, metrics=['roc_auc'])", "*one class*"),
    ],
)
def test_evaluate_bad_input_is_a_clear_failure(pytester: pytest.Pytester, call: str, expected: str) -> None:
    pytester.makepyfile(test_model=MODEL_TESTS.replace("result = mlgate.evaluate(model, X_eval, y_te)", f"result = {call}"))
    result = run_pytest(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([expected])
    assert "pytest_mlgate/stats" not in result.stdout.str()
