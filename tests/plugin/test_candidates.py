"""Naming a candidate: free outside gate mode, a clear early error in gate mode."""

from __future__ import annotations

import pytest

LAMBDA_MODEL = '''
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.linear_model import LogisticRegression

X = [[0.0], [1.0], [2.0], [3.0]]
y = [0, 0, 1, 1]

@pytest.fixture(scope="session")
def model(mlgate_session):
    m = make_pipeline(FunctionTransformer(lambda v: v), LogisticRegression()).fit(X, y)
    mlgate_session.candidate(m, name="clf", example=X[:2])
    return m

@pytest.mark.unit
def test_predicts(model):
    assert list(model.predict(X)) == y
'''


@pytest.mark.both_modes
def test_outside_gate_mode_naming_a_candidate_fails_nothing(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LAMBDA_MODEL)
    result = run()
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)


@pytest.mark.both_modes
def test_in_gate_mode_a_model_skops_cannot_serialize_fails_at_once(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LAMBDA_MODEL)
    result = run("--mlgate", "-o", "mlgate_required_gates=unit")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ArtifactError: skops cannot serialize the model of type *Pipeline* "
                                 "(AttributeError: *<lambda>*). Make the model*"])
    # Our message, without the traceback of skops' internals chained to it (~130 lines).
    out = result.stdout.str()
    assert "direct cause" not in out and "skops/io" not in out and "site-packages" not in out


@pytest.mark.both_modes
def test_allow_pickle_does_not_ask_for_what_is_set_and_says_what_failed(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(LAMBDA_MODEL)
    result = run("--mlgate", "-o", "mlgate_required_gates=unit", "-o", "mlgate_allow_pickle=true")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "mlgate_allow_pickle = true` in the ini file" not in out, "it is already set"
    result.stdout.fnmatch_lines([
        "*ArtifactError: neither skops nor joblib can serialize the model of type *Pipeline*",
    ])
    result.stdout.fnmatch_lines(["*lambda*module level*"])


FOREST = '''
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

X, y = load_iris(return_X_y=True, as_frame=True)

@pytest.fixture(scope="session")
def model(mlgate_session):
    m = RandomForestClassifier(5, random_state=0).fit(X, y)
    mlgate_session.candidate(m, name="forest", example=X.head(3))
    return m

@pytest.mark.validation(accuracy=">= 0.9")
def test_quality(model, mlgate):
    mlgate.evaluate(model, X, y)
'''


@pytest.mark.both_modes
def test_the_types_to_trust_reach_the_published_manifest_from_any_worker(pytester: pytest.Pytester, run) -> None:
    import json
    import subprocess
    import sys

    pytester.makepyfile(FOREST)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    manifest = json.loads((pytester.path / ".mlgate/registry/forest/1/manifest.json").read_text())
    assert manifest["model"]["untrusted_types"] == ["sklearn.tree._tree.Tree"]
    shown = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "show", "forest"], cwd=pytester.path,
                           capture_output=True, text=True, check=True).stdout
    assert "trusted=['sklearn.tree._tree.Tree']" in shown


NOT_A_MODEL = '''
import pytest
from sklearn.linear_model import LogisticRegression

@pytest.fixture(scope="session")
def model():
    LogisticRegression()  # forgot `return`

@pytest.mark.validation(accuracy=">= 0.5")
def test_none(mlgate, model):
    mlgate.record("accuracy", 0.9)
    mlgate.candidate(model, name="x")

@pytest.mark.validation(accuracy=">= 0.5")
def test_class(mlgate):
    mlgate.record("accuracy", 0.9)
    mlgate.candidate(LogisticRegression, name="y")
'''


@pytest.mark.both_modes
@pytest.mark.parametrize("gate_mode", [True, False])
def test_none_or_a_class_as_the_candidate_fails_the_test_that_names_it(
        pytester: pytest.Pytester, run, gate_mode: bool) -> None:
    pytester.makepyfile(NOT_A_MODEL)
    args = ["--mlgate", "--mlgate-deliver", "-o", "mlgate_required_gates=validation"] if gate_mode else []
    result = run(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random([
        "*ArtifactError: candidate(None, ...): the model is None*`return model`*",
        "*ArtifactError: candidate(LogisticRegression, ...): that is the class, not a fitted model*",
    ])
    assert not (pytester.path / ".mlgate" / "registry").exists() or \
        not any((pytester.path / ".mlgate" / "registry").iterdir()), "nothing was published"
