"""The registry subcommands of the ``mlgate`` console script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_digits
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, stage_candidate


def _run(acc: float, low: float, high: float) -> dict[str, Any]:
    metric = {"name": "accuracy", "value": acc, "low": low, "high": high, "level": 0.95,
              "n": 360, "method": "wilson", "threshold": ">= 0.9", "verdict": "pass",
              "comparison": None}
    return {"run": {"complete": True, "git": {"commit": "c0ffee", "dirty": True}},
            "gates": {"validation": {"verdict": "pass", "passed": 1, "failed": 0}},
            "tests": [{"nodeid": "t.py::test_acc", "gate": "validation", "outcome": "passed",
                       "metrics": [metric]}]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y)
    staged = stage_candidate(model, name="digits", example=X[:2], staging_dir=root / "s")
    reg = LocalRegistry(root / "reg")
    reg.publish(staged, _run(0.95, 0.93, 0.97))
    reg.publish(staged, _run(0.97, 0.95, 0.98))
    return root / "reg"


def test_list_and_show(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "latest->2" in out
    assert main(["show", "digits@1", "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert "digits@1" in out and "c0ffee (dirty)" in out and "[0.93, 0.97]" in out


def test_promote_then_resolve(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["promote", "digits", "1", "--alias", "production",
                 "--registry", str(registry)]) == 0
    assert LocalRegistry(registry).aliases("digits")["production"] == 1
    assert main(["verify", "digits@production", "--registry", str(registry)]) == 0
    # A mistake is a message and exit status 2, not a traceback.
    assert main(["promote", "digits", "7", "--alias", "production",
                 "--registry", str(registry)]) == 2
    assert "no version 7" in capsys.readouterr().err


def test_diff_side_by_side(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "digits@1", "digits@2", "--markdown", "--registry", str(registry)]) == 0
    out = capsys.readouterr().out
    assert "| metric | digits@1 | digits@2 | change |" in out
    assert "| accuracy | 0.95 [0.93, 0.97] | 0.97 [0.95, 0.98] | +0.02 |" in out


def test_diff_headers_are_the_references_typed(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "digits@1", "digits@latest", "--markdown", "--registry", str(registry)]) == 0
    assert "| metric | digits@1 | digits@latest (v2) | change |" in capsys.readouterr().out


def test_diff_shows_a_ratio_for_performance_readings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = load_digits(return_X_y=True)
    staged = stage_candidate(DummyClassifier().fit(X[:20], y[:20]), name="fast",
                             example=X[:2], staging_dir=tmp_path / "s")
    reg = LocalRegistry(tmp_path / "reg")
    for p95 in (2.0, 2.5):
        run = _run(0.95, 0.93, 0.97)
        run["tests"].append({"nodeid": "t.py::test_speed", "gate": "performance", "outcome": "passed",
                             "metrics": [{"name": "latency_p95_ms", "value": p95, "method": "benchmark"}]})
        reg.publish(staged, run)
    assert main(["diff", "fast@1", "fast@2", "--registry", str(tmp_path / "reg")]) == 0
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows == {"accuracy": "+0", "latency_p95_ms": "x1.25"}
