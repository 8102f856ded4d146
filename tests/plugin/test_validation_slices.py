"""Slices through the plugin: per-slice thresholds shown in every report, slices vs the baseline."""

from __future__ import annotations

import pytest

from .helpers import load_report

# Each scenario runs plain and under pytest-xdist (-n 2): the mode fixture, tests/conftest.py.
pytestmark = pytest.mark.both_modes

SLICED = '''
import os
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0)
forest = RandomForestRegressor(n_estimators=60, min_samples_leaf=5,
                               random_state=int(os.environ.get("MLGATE_FOREST_SEED", "0")))
forest.fit(X_tr, y_tr)


class Damaged:
    """The forest, except that on one sex its predictions are pulled to the training mean:
    a real loss of quality on that slice only, by construction."""

    def __init__(self, share):
        self.share = share

    def predict(self, X):
        p = forest.predict(X)
        hit = (X["sex"] == 2).to_numpy()
        p[hit] = (1 - self.share) * p[hit] + self.share * y_tr.mean()
        return p


model = Damaged(float(os.environ.get("MLGATE_DAMAGE", "0")))


@pytest.mark.validation(r2=">= " + os.environ.get("MLGATE_R2_MIN", "0.1"), rmse="<= 75",
                        key="sliced")
def test_sliced(mlgate):
    mlgate.evaluate(model, X_te, y_te, slices="sex")
'''


def _by_name(path) -> dict:
    return {m["name"]: m for m in load_report(path)["tests"][0]["metrics"]}


def test_every_slice_row_shows_its_threshold_holm_p_and_verdict(
        pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_sliced=SLICED)
    monkeypatch.setenv("MLGATE_DAMAGE", "1")  # sex=2: the training mean, r2 about 0
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json",
                 "--mlgate-markdown", "r.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*r2: slice(s) significantly below >= 0.1: sex=2.0*"])
    m = _by_name(pytester.path / "r.json")
    good, bad = m["r2[sex=1.0]"], m["r2[sex=2.0]"]
    assert good["threshold"]["text"] == bad["threshold"]["text"] == ">= 0.1"
    assert good["threshold_verdict"] == "pass" and good["threshold_p"] > 0.5
    assert bad["threshold_verdict"] == "fail" and bad["threshold_p"] < 0.05
    assert bad["verdict"] == "fail" and good["verdict"] == "pass"
    assert m["rmse[sex=1.0]"]["threshold"]["text"] == "<= 75"
    result.stdout.fnmatch_lines([
        "*test_sliced*r2[[]sex=1.0[]]*>= 0.1 (Holm p *)*PASS*",
        "*test_sliced*r2[[]sex=2.0[]]*>= 0.1 (Holm p *)*FAIL*",
    ])
    md = (pytester.path / "r.md").read_text()
    assert "| r2[sex=2.0] |" in md and "(Holm p " in md and "| FAIL |" in md


def test_slices_are_compared_with_the_baseline_with_holm(
        pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_sliced=SLICED)
    monkeypatch.setenv("MLGATE_R2_MIN", "-1")  # only the comparison with the baseline can fail
    args = ("--mlgate", "-o", "mlgate_required_gates=validation")
    first = run(*args, "--mlgate-update-baseline")
    assert first.ret == 0, first.stdout.str()

    # Noise: the same forest grown from another seed. No slice may fail.
    monkeypatch.setenv("MLGATE_FOREST_SEED", "1")
    noise = run(*args, "--mlgate-report", "noise.json")
    assert noise.ret == 0, noise.stdout.str()
    m = _by_name(pytester.path / "noise.json")
    for name in ("r2[sex=1.0]", "r2[sex=2.0]", "rmse[sex=1.0]", "rmse[sex=2.0]"):
        c = m[name]["comparison"]
        assert c["verdict"] in ("pass", "improved"), (name, c)
        # Paired t on per-row influence differences (bootstrap-t where they are too skewed).
        assert c["method"] in ("paired-t+holm", "paired-bootstrap-t+holm"), (name, c)

    # A real drop on one slice: that slice fails against the baseline, the other does not.
    monkeypatch.setenv("MLGATE_FOREST_SEED", "0")
    monkeypatch.setenv("MLGATE_DAMAGE", "1")
    worse = run(*args, "--mlgate-report", "worse.json")
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(["*r2[[]sex=2.0[]] regressed against the baseline*Holm*"])
    m = _by_name(pytester.path / "worse.json")
    bad, good = m["r2[sex=2.0]"]["comparison"], m["r2[sex=1.0]"]["comparison"]
    assert bad["verdict"] == "fail" and bad["change_high"] < 0 and bad["p_value"] < 0.05
    assert good["verdict"] == "pass" and good["change"] == 0.0
    assert m["rmse[sex=2.0]"]["comparison"]["verdict"] == "fail"
    # The slice's interval is at its Holm level and excludes 0, as its verdict says.
    assert bad["level"] > 0.9 and bad["method"] in ("paired-t+holm", "paired-bootstrap-t+holm")
