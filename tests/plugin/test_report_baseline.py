"""The JSON report's ``baseline`` object has one shape on every kind of run (docs/reports.md)."""

from __future__ import annotations

import pytest

from .helpers import ALL_GATES, load_report

KEYS = {"path", "loaded", "updated", "status", "message"}

CANDIDATE = '''
import pytest
from sklearn.dummy import DummyClassifier

@pytest.fixture(autouse=True, scope="session")
def candidate(mlgate_session):
    mlgate_session.candidate(DummyClassifier().fit([[0], [1]], [0, 1]), name="dummy")
'''


def _baseline(pytester: pytest.Pytester) -> dict[str, object]:
    b = load_report(pytester.path / "r.json")["baseline"]
    assert set(b) == KEYS, b
    assert isinstance(b["loaded"], bool) and isinstance(b["updated"], bool)
    assert isinstance(b["message"], str)
    return b


@pytest.mark.both_modes
def test_the_baseline_object_has_every_key_on_every_kind_of_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    report = ("--mlgate-report", "r.json")

    run(*report)  # no gate mode: a report all the same
    assert _baseline(pytester) | {"path": ""} == {
        "path": "", "loaded": False, "updated": False, "status": "not_requested", "message": ""}

    assert run("--mlgate", *report).ret == 0  # gate mode, no baseline yet
    b = _baseline(pytester)
    assert (b["loaded"], b["updated"], b["status"]) == (False, False, "not_requested")
    assert b["path"].endswith("baseline.json")

    assert run("--mlgate", "--mlgate-update-baseline", *report).ret == 0  # written
    b = _baseline(pytester)
    assert (b["loaded"], b["updated"], b["status"]) == (False, True, "written")
    assert "wrote" in b["message"]

    assert run("--mlgate", *report).ret == 0  # loaded and compared
    b = _baseline(pytester)
    assert (b["loaded"], b["updated"], b["status"]) == (True, False, "not_requested")

    run("--mlgate", "--mlgate-update-baseline", "-k", "unit", *report)  # refused: partial
    b = _baseline(pytester)
    assert (b["loaded"], b["updated"], b["status"]) == (True, False, "refused")
    assert "incomplete" in b["message"]

    run("--mlgate", "--collect-only", *report)
    assert _baseline(pytester)["status"] == "not_requested"


@pytest.mark.both_modes
def test_the_baseline_object_when_writing_fails_or_delivery_fails(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    # A file appears where the baseline's directory should be while the suite runs (the
    # start-up check of the path saw nothing wrong), so writing the baseline fails at the end.
    pytester.makeconftest('''
import pathlib
import pytest

@pytest.fixture(autouse=True, scope="session")
def blocker():
    pathlib.Path("blocker").write_text("a file where a directory should be")
''')
    result = run("--mlgate", "--mlgate-update-baseline", "--mlgate-baseline", "blocker/b.json",
                 "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    b = _baseline(pytester)
    assert (b["loaded"], b["updated"], b["status"]) == (False, False, "failed")

    # --mlgate-deliver with no candidate: delivery fails, so the baseline is refused.
    (pytester.path / "conftest.py").unlink()
    result = run("--mlgate", "--mlgate-deliver", "--mlgate-update-baseline", "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    b = _baseline(pytester)
    assert (b["updated"], b["status"]) == (False, "refused")
    assert "delivery" in b["message"]

    pytester.makeconftest(CANDIDATE)
    result = run("--mlgate", "--mlgate-deliver", "--mlgate-update-baseline", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    b = _baseline(pytester)
    assert (b["updated"], b["status"]) == (True, "written")


PAIRED_REGRESSION = '''
import os
import numpy as np
import pytest

rng = np.random.default_rng(0)
y = rng.integers(0, 2, 400)
X = np.arange(400).reshape(-1, 1)
pred0 = y.copy()
pred0[:20] = 1 - pred0[:20]  # 95% accurate
BROKEN = int(os.environ.get("BROKEN", "0"))

class M:
    def predict(self, X):
        p = pred0.copy()
        p[20:20 + BROKEN] = 1 - p[20:20 + BROKEN]  # BROKEN more errors, nothing fixed
        return p[X[:, 0]]

@pytest.mark.validation(accuracy=">= 0.8", key="q")
def test_quality(mlgate):
    mlgate.evaluate(M(), X, y)
'''


@pytest.mark.both_modes
def test_a_missing_samples_file_is_refused_not_a_weaker_comparison(
        pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_q=PAIRED_REGRESSION)
    gate = ("--mlgate", "-o", "mlgate_required_gates=validation")
    assert run(*gate, "--mlgate-update-baseline").ret == 0
    side = pytester.path / ".mlgate" / "baseline.samples.npz"
    assert side.is_file()
    monkeypatch.setenv("BROKEN", "7")
    result = run(*gate)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "the paired test sees the 7 new errors"
    side.unlink()  # committed only the JSON, or *.npz in .gitignore
    before = (pytester.path / ".mlgate" / "baseline.json").read_bytes()
    for args in (gate, (*gate, "--mlgate-update-baseline")):
        result = run(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
        result.stderr.fnmatch_lines([
            "*baseline.json records the side file baseline.samples.npz (sha256 *), but "
            "*baseline.samples.npz is missing: commit it next to the baseline*"
            "--mlgate-update-baseline*"])
        assert (pytester.path / ".mlgate" / "baseline.json").read_bytes() == before
