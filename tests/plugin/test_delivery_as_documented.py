"""What a delivered artefact tells its consumer works as printed (issue 18)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import run_pytest

CANDIDATE = '''
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

X = [[0.0], [1.0], [0.1], [0.9]] * 5
y = [0, 1, 0, 1] * 5

@pytest.mark.validation(accuracy=">= 0.5")
def test_v(mlgate):
    m = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=2).fit(X, y)
    mlgate.record("accuracy", 0.9)
    mlgate.candidate(m, name="hgb", example=X[:2])
'''


def _python(cwd: object, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False)


def test_card_loading_snippet_names_a_registry_that_is_not_the_default(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlgate_required_gates = validation\nmlgate_registry = models/reg\n")
    pytester.makepyfile(test_m=CANDIDATE)
    result = run_pytest(pytester, "--mlgate", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    card = (pytester.path / "models" / "reg" / "hgb" / "1" / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", card, re.DOTALL)
    assert "registry='models/reg'" in snippet
    loaded = _python(pytester.path, snippet + "\nprint(type(model).__name__)")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "HistGradientBoostingClassifier"


def test_load_error_names_the_python_parameter(tmp_path: Path) -> None:
    import pytest_mlgate
    from pytest_mlgate.errors import MlgateError

    with pytest.raises(MlgateError, match=r"or pass registry='PATH'\.$"):
        pytest_mlgate.load("hgb@latest", trusted=[], registry=tmp_path)


TWO_CANDIDATES = '''
import pytest
from sklearn.dummy import DummyClassifier

@pytest.mark.parametrize("kind", ["champion", "challenger"])
@pytest.mark.validation(accuracy=">= 0.5")
def test_model(mlgate, kind):
    m = DummyClassifier(strategy="constant", constant=int(kind == "champion")).fit([[0], [1]], [0, 1])
    mlgate.record("accuracy", 0.95 if kind == "champion" else 0.85)
    mlgate.candidate(m, name=kind)

@pytest.mark.integration
def test_shared(mlgate):
    mlgate.record("rows_out", 150)
'''


def test_each_artefact_carries_only_the_metrics_of_the_tests_that_named_it(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate_required_gates = validation integration\n")
    pytester.makepyfile(test_two=TWO_CANDIDATES)
    result = run("--mlgate", "--mlgate-deliver")
    assert result.ret == 0, result.stdout.str()
    registry = pytester.path / ".mlgate" / "registry"
    for name, other in (("champion", "challenger"), ("challenger", "champion")):
        run_json = json.loads((registry / name / "1" / "run.json").read_text())
        tests = sorted(t["nodeid"].rsplit("::", 1)[-1] for t in run_json["tests"] if t["metrics"])
        # A test that named no candidate (test_shared) may be about either model: both keep it.
        assert tests == [f"test_model[{name}]", "test_shared"]
        card = (registry / name / "1" / "README.md").read_text()
        assert f"test_model[{name}]" in card and f"test_model[{other}]" not in card
    diff = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "diff", "champion", "challenger"],
                          cwd=pytester.path, capture_output=True, text=True, check=False)
    assert diff.returncode == 0, diff.stderr
    rows = {line.split()[0]: line.split() for line in diff.stdout.splitlines()[2:]}
    assert diff.stdout.splitlines()[0].split() == ["metric", "champion", "(v1)", "challenger", "(v1)", "change"]
    assert rows["accuracy"][1:] == ["0.95", "0.85", "-0.1"]
    assert rows["rows_out"][1:] == ["150", "150", "+0"]
