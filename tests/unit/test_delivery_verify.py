"""Verification catches every kind of tampering, and load refuses what does not verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, load, stage_candidate, verify_artifact
from pytest_mlgate.delivery.registry import PublishedArtifact
from pytest_mlgate.errors import ArtifactError, VerificationError


def clip(x: np.ndarray) -> np.ndarray:
    """A module-level function: skops stores it by name, outside its trusted defaults."""
    return np.clip(x, -3.0, 3.0)


@pytest.fixture
def published(tmp_path: Path) -> PublishedArtifact:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    staged = stage_candidate(model, name="iris", example=X.head(3), staging_dir=tmp_path / "s")
    return LocalRegistry(tmp_path / "reg").publish(staged, {})


def test_intact_artefact_verifies(published: PublishedArtifact) -> None:
    manifest = verify_artifact(published.path)
    assert manifest["artifact_id"] == published.artifact_id
    assert main(["verify", str(published.path)]) == 0


def test_flipped_byte_is_caught_and_named(published: PublishedArtifact,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    model = published.path / "model.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match=r"'model\.skops' has sha256 .* modified"):
        verify_artifact(published.path)
    with pytest.raises(VerificationError, match=r"model\.skops"):
        load(published.path)
    assert main(["verify", str(published.path)]) == 1
    assert "model.skops" in capsys.readouterr().out


def test_missing_file_is_caught(published: PublishedArtifact) -> None:
    (published.path / "README.md").unlink()
    with pytest.raises(VerificationError, match=r"'README\.md' .* missing"):
        verify_artifact(published.path)
    assert main(["verify", str(published.path)]) == 1


def test_extra_file_is_caught(published: PublishedArtifact) -> None:
    (published.path / "evil.py").write_text("import os\n")
    with pytest.raises(VerificationError, match=r"'evil\.py' is not listed"):
        verify_artifact(published.path)
    with pytest.raises(VerificationError, match=r"evil\.py"):
        load(published.path)


def test_edited_or_broken_manifest_is_caught(published: PublishedArtifact) -> None:
    mpath = published.path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["card"] = {"owner": "someone else"}
    mpath.write_text(json.dumps(manifest))
    with pytest.raises(VerificationError, match="was edited"):
        verify_artifact(published.path)
    mpath.write_text("{not json")
    with pytest.raises(VerificationError, match="not valid JSON"):
        verify_artifact(published.path)
    mpath.unlink()
    with pytest.raises(VerificationError, match=r"'manifest\.json' is missing"):
        verify_artifact(published.path)


@pytest.mark.timeout(60)
def test_a_fifo_or_directory_for_a_manifest_is_refused_without_hanging(
        published: PublishedArtifact, capsys: pytest.CaptureFixture[str]) -> None:
    """Opening a FIFO blocks until a writer comes; verify must refuse it instead (an attacker or a
    stray `mkfifo` must not hang a deploy)."""
    mpath = published.path / "manifest.json"
    mpath.unlink()
    os.mkfifo(mpath)
    with pytest.raises(VerificationError, match=r"'manifest\.json' is not a regular file"):
        verify_artifact(published.path)
    assert main(["verify", str(published.path)]) == 1
    assert "not a regular file" in capsys.readouterr().out
    mpath.unlink()
    mpath.mkdir()
    with pytest.raises(VerificationError, match=r"'manifest\.json' cannot be read \(Is a directory\)"):
        load(published.path)


def test_size_change_is_caught(published: PublishedArtifact) -> None:
    with open(published.path / "signature.json", "a") as fh:
        fh.write(" ")
    with pytest.raises(VerificationError, match=r"'signature\.json' is \d+ bytes"):
        verify_artifact(published.path)


def test_skops_types_beyond_defaults_need_the_callers_trust(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(FunctionTransformer(clip), LogisticRegression(max_iter=500)).fit(X, y)
    staged = stage_candidate(model, name="clipped", example=X[:4], staging_dir=tmp_path / "s")
    pub = LocalRegistry(tmp_path / "reg").publish(staged, {})
    name = f"{clip.__module__}.clip"
    with pytest.raises(ArtifactError, match=rf"outside skops' trusted defaults: {name}"):
        load(pub.path)
    loaded = load(pub.path, trusted=[name])
    assert np.array_equal(loaded.predict(X), model.predict(X))
    # Nothing stored in the artefact can widen the trust: a "trusted" list in the manifest
    # breaks verification instead.
    mpath = pub.path / "manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["trusted"] = [name]
    mpath.write_text(json.dumps(manifest))
    with pytest.raises(VerificationError):
        load(pub.path)


def test_pickle_artefacts_load_only_with_explicit_opt_in(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    staged = stage_candidate(model, name="pickled", example=X[:2], staging_dir=tmp_path / "s",
                             allow_pickle=True, serializer="joblib")
    assert staged.format == "joblib" and staged.model_file == "model.joblib"
    pub = LocalRegistry(tmp_path / "reg").publish(staged, {})
    with pytest.raises(ArtifactError, match=r"runs code .* trusted=\['joblib'\]"):
        load(pub.path)
    with pytest.raises(ArtifactError):
        load(pub.path, trusted=["sklearn.linear_model.LogisticRegression"])
    assert np.array_equal(load(pub.path, trusted=["joblib"]).predict(X), model.predict(X))
