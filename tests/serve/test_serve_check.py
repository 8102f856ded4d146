"""The built-in deploy target ``serve-check`` in real gate-mode runs: the published model served
on loopback, its predictions compared with the in-process model's, its latency measured and held
to ``mlgate_serve_latency_p95_ms``; aliases move only once it passed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_mlgate.delivery import LocalRegistry

from .helpers import PROJECT_TESTS, run_gates, write_project

INI = "mlgate_deploy = serve-check\nmlgate_aliases = staging\n"


def _report(root: Path) -> dict:
    return json.loads((root / "report.json").read_text())


@pytest.mark.both_modes
def test_serve_check_passes_records_latency_and_moves_the_aliases(tmp_path: Path, mode: str) -> None:
    root = write_project(tmp_path / "p", ini=INI)
    proc = run_gates(root, *(["-n", "2"] if mode == "xdist" else []))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    delivery = _report(root)["delivery"]
    assert delivery["status"] == "delivered"
    (step,) = delivery["artifacts"][0]["deploy"]
    assert step["target"] == "serve-check" and step["status"] == "ok"
    check = step["serve_check"]
    assert check["predictions_match"] is True and check["rows"] == 5
    assert check["concurrency"] == 4 and check["requests"] >= 100
    assert 0 < check["latency_p50_ms"] <= check["latency_p95_ms"] <= check["latency_p99_ms"]
    assert check["throughput_rps"] > 0
    assert "match the in-process model" in step["output"] and "p95" in step["output"]
    assert LocalRegistry(root / "registry").aliases("breast-cancer") == {"latest": 1, "staging": 1}


@pytest.mark.both_modes
def test_a_blown_latency_budget_fails_delivery_and_keeps_the_aliases(tmp_path: Path, mode: str) -> None:
    root = write_project(tmp_path / "p", ini=INI + "mlgate_serve_latency_p95_ms = 0.001\n")
    proc = run_gates(root, *(["-n", "2"] if mode == "xdist" else []))
    assert proc.returncode != 0
    delivery = _report(root)["delivery"]
    assert delivery["status"] == "failed"
    assert "over the budget mlgate_serve_latency_p95_ms = 0.001 ms" in delivery["message"]
    assert "(staging not moved)" in delivery["message"]
    (step,) = delivery["artifacts"][0]["deploy"]
    assert step["status"] == "failed" and step["serve_check"]["latency_p95_ms"] > 0.001
    assert LocalRegistry(root / "registry").aliases("breast-cancer") == {"latest": 1}


# A model whose predictions depend on the process it runs in: the same in the pytest process that
# staged it and in publishing's self-check there, different in any other process, such as a server.
STATEFUL = '''
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class ProcessBound(BaseEstimator, ClassifierMixin):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fitted_in_ = os.getpid()
        return self

    def predict(self, X):
        here = os.getpid() == self.fitted_in_
        return np.full(len(X), self.classes_[0] if here else self.classes_[-1])
'''

STATEFUL_CONFTEST = '''
import pytest
from sklearn.datasets import load_breast_cancer

from stateful import ProcessBound


@pytest.fixture(scope="session")
def data():
    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def model(data, mlgate_session):
    X, y = data
    model = ProcessBound().fit(X, y)
    mlgate_session.candidate(model, name="breast-cancer", example=X.head(5))
    return model
'''


def test_served_predictions_that_differ_fail_delivery_and_keep_the_aliases(tmp_path: Path) -> None:
    tests = PROJECT_TESTS.replace('accuracy=">= 0.9"', 'accuracy=">= 0.3"')
    root = write_project(tmp_path / "p", ini=INI, conftest=STATEFUL_CONFTEST, tests=tests)
    (root / "stateful.py").write_text(textwrap.dedent(STATEFUL))
    proc = run_gates(root)  # plain: staging and publishing in one process, as the model needs
    assert proc.returncode != 0
    delivery = _report(root)["delivery"]
    assert delivery["status"] == "failed", delivery
    message = delivery["message"]
    assert "served predictions differ from the in-process model's on 5 of 5 rows" in message
    assert "row 0: served 1, in-process 0" in message and "(staging not moved)" in message
    # published (latest follows it), but the alias a consumer deploys from did not move
    assert LocalRegistry(root / "registry").aliases("breast-cancer") == {"latest": 1}
    assert "serve-check" in proc.stdout + proc.stderr


@pytest.mark.parametrize("value", ["0", "-5", "nan", "fast"])
def test_a_bad_latency_budget_is_refused_at_start(tmp_path: Path, value: str) -> None:
    root = write_project(tmp_path / "p", ini=INI + f"mlgate_serve_latency_p95_ms = {value}\n")
    proc = run_gates(root)
    assert proc.returncode != 0
    assert "mlgate_serve_latency_p95_ms" in proc.stdout + proc.stderr
    assert not (root / "registry").exists()
