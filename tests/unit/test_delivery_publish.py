"""Publishing real scikit-learn pipelines to a LocalRegistry and loading them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import pytest_mlgate
from pytest_mlgate.delivery import LocalRegistry, load, resolve_ref, stage_candidate
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.errors import RegistryError

RUN: dict[str, Any] = {
    "schema": "pytest-mlgate/report", "version": 1,
    "run": {"seed": 7, "complete": True, "started": "2025-01-01T00:00:00Z", "duration_s": 3.5,
            "git": {"commit": "abc123", "dirty": False, "branch": "main"}},
    "gates": {"validation": {"verdict": "pass", "passed": 2, "failed": 0}},
    "tests": [{"nodeid": "tests/test_model.py::test_quality", "gate": "validation",
               "outcome": "passed",
               "metrics": [{"name": "roc_auc", "value": 0.991, "low": 0.982, "high": 0.997,
                            "level": 0.95, "n": 143, "method": "delong", "threshold": ">= 0.95",
                            "verdict": "pass",
                            "comparison": {"verdict": "pass", "reference_value": 0.989,
                                           "change": 0.002}}]}],
}


@pytest.fixture(scope="module")
def cancer() -> tuple[Pipeline, Any, Any]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    return model, X, y


@pytest.fixture
def staged(cancer: tuple[Pipeline, Any, Any], tmp_path: Path) -> StagedCandidate:
    model, X, _ = cancer
    return stage_candidate(model, name="cancer", example=X.head(5),
                           data={"train": X.iloc[:400], "test": X.iloc[400:]},
                           card={"owner": "ml-team", "intended_use": "triage demo"},
                           staging_dir=tmp_path / "staging")


def test_published_model_predicts_exactly_like_the_original(
        cancer: tuple[Pipeline, Any, Any], staged: StagedCandidate, tmp_path: Path) -> None:
    model, X, _ = cancer
    reg = LocalRegistry(tmp_path / "reg")
    pub = reg.publish(staged, RUN)
    assert (pub.name, pub.version) == ("cancer", 1)
    loaded = load("cancer", registry=tmp_path / "reg")
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # The package-level entry point is the same function, and a path works as a reference.
    again = pytest_mlgate.load(pub.path)
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))


def test_artefact_holds_everything_the_layout_promises(staged: StagedCandidate,
                                                       tmp_path: Path) -> None:
    pub = LocalRegistry(tmp_path / "reg").publish(staged, RUN)
    names = set(pub.manifest["files"])
    assert names == {"model.skops", "signature.json", "example.json", "environment.json",
                     "provenance.json", "run.json", "data.json", "profile.json", "README.md"}
    env = json.loads((pub.path / "environment.json").read_text())
    assert env["distributions"]["scikit-learn"]  # exact versions of installed distributions
    assert len(env["distributions"]) > 10
    prov = json.loads((pub.path / "provenance.json").read_text())
    assert prov["git"] == {"commit": "abc123", "dirty": False, "branch": "main"}
    assert prov["run"]["seed"] == 7
    sig = json.loads((pub.path / "signature.json").read_text())
    assert sig["columns"][0] == {"name": "mean radius", "dtype": "float64"}
    assert len(sig["outputs"]["values"]) == 5
    data = json.loads((pub.path / "data.json").read_text())
    assert data["train"]["shape"] == [400, 30] and data["test"]["shape"] == [169, 30]
    assert data["train"]["fingerprint"].startswith("sha256:")
    assert data["train"]["fingerprint"] != data["test"]["fingerprint"]
    assert json.loads((pub.path / "run.json").read_text()) == RUN
    readme = (pub.path / "README.md").read_text()
    assert "roc_auc" in readme and "[0.982, 0.997]" in readme and "ml-team" in readme
    assert "abc123" in readme
    profile = json.loads((pub.path / "profile.json").read_text())
    from pytest_mlgate.profiles import Profile

    assert Profile.from_json(profile).n_rows == 400


def test_identical_models_stage_to_identical_bytes(cancer: tuple[Pipeline, Any, Any],
                                                   tmp_path: Path) -> None:
    model, X, y = cancer
    a = stage_candidate(model, name="m", staging_dir=tmp_path / "a")
    b = stage_candidate(model, name="m", staging_dir=tmp_path / "b")
    assert a.content_hash == b.content_hash
    assert a.model_path.read_bytes() == b.model_path.read_bytes()
    other = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)).fit(X, y)
    c = stage_candidate(other, name="m", staging_dir=tmp_path / "c")
    assert c.content_hash != a.content_hash
    assert StagedCandidate.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_versions_aliases_promote_and_history(staged: StagedCandidate, tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.publish(staged, RUN, aliases=["production"])
    reg.publish(staged, RUN)
    reg.publish(staged, RUN, aliases=["staging"])
    assert reg.names() == ["cancer"]
    assert reg.versions("cancer") == [1, 2, 3]
    assert reg.aliases("cancer") == {"latest": 3, "production": 1, "staging": 3}
    assert reg.resolve("cancer") == tmp_path / "reg" / "cancer" / "3"
    assert reg.resolve("cancer@production").name == "1"
    assert reg.resolve("cancer@2").name == "2"
    reg.promote("cancer", 2, "production")
    assert reg.aliases("cancer")["production"] == 2
    events = reg.history("cancer")
    assert [e["version"] for e in events if e["event"] == "publish"] == [1, 2, 3]
    moves = [(e["alias"], e["version"], e["previous"]) for e in events if e["event"] == "alias"]
    assert moves[-1] == ("production", 2, 1)
    assert ("latest", 3, 2) in moves
    # No staging leftovers after successful publishes.
    assert not any((tmp_path / "reg" / ".staging").iterdir())


def test_unknown_references_say_what_exists(staged: StagedCandidate, tmp_path: Path) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    reg.publish(staged, RUN)
    with pytest.raises(RegistryError, match=r"no version 9 .*versions: 1"):
        reg.resolve("cancer@9")
    with pytest.raises(RegistryError, match=r"no alias 'prod'.*aliases: latest"):
        reg.resolve("cancer@prod")
    with pytest.raises(RegistryError, match=r"no published versions of 'other'.*cancer"):
        reg.resolve("other")
    with pytest.raises(RegistryError, match="no version 5"):
        reg.promote("cancer", 5, "prod")
    with pytest.raises(RegistryError, match="does not exist"):
        resolve_ref(str(tmp_path / "nowhere"))


def test_regression_on_numpy_arrays_round_trips(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(X, y)
    staged = stage_candidate(model, name="diabetes", example=X[:3], data={"train": X},
                             staging_dir=tmp_path / "s")
    assert staged.signature is not None
    assert staged.signature["kind"] == "ndarray" and staged.signature["shape"] == [None, 10]
    assert staged.example_file == "example.npy"
    pub = LocalRegistry(tmp_path / "reg").publish(staged, {})
    loaded = load(pub.path)
    assert np.array_equal(loaded.predict(X), model.predict(X))
