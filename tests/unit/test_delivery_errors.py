"""Bad input gives a clear error and leaves nothing partial behind."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from pytest_mlgate.delivery import (
    DeployTarget,
    LocalRegistry,
    parse_deploy_targets,
    run_deploy_target,
    stage_candidate,
)
from pytest_mlgate.delivery.registry import PublishedArtifact
from pytest_mlgate.errors import ArtifactError, ConfigError, DeployError, RegistryError


class Streaming(LogisticRegression):
    """An estimator holding a generator, which no serializer can write."""

    def fit(self, X: Any, y: Any) -> Streaming:
        super().fit(X, y)
        self.batches_ = (i for i in range(3))
        return self


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(iris: tuple[Any, Any]) -> LogisticRegression:
    return LogisticRegression(max_iter=300).fit(*iris)


def test_model_skops_cannot_serialize_names_type_and_opt_in(iris: tuple[Any, Any],
                                                            tmp_path: Path) -> None:
    X, y = iris
    with pytest.raises(ArtifactError, match=r"skops cannot serialize the model of type "
                       r".*Streaming.*mlgate_allow_pickle = true"):
        stage_candidate(Streaming(max_iter=300).fit(X, y), name="s", staging_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_lambda_is_refused_at_staging_not_at_load(iris: tuple[Any, Any], tmp_path: Path) -> None:
    X, y = iris
    model = make_pipeline(FunctionTransformer(lambda x: x * 2.0),
                          LogisticRegression(max_iter=300)).fit(X, y)
    with pytest.raises(ArtifactError, match=r"Pipeline.*mlgate_allow_pickle"):
        stage_candidate(model, name="lam", staging_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pickle_formats_need_the_opt_in(fitted: LogisticRegression, tmp_path: Path) -> None:
    model = fitted
    with pytest.raises(ArtifactError, match="mlgate_allow_pickle = true"):
        stage_candidate(model, name="m", staging_dir=tmp_path, serializer="pickle")
    with pytest.raises(ArtifactError, match="unknown"):
        stage_candidate(model, name="m", staging_dir=tmp_path, serializer="onnx",
                        allow_pickle=True)


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "..", ".hidden", "", "sp ace",
                                  "x" * 200])
def test_unsafe_names_are_refused(fitted: LogisticRegression, tmp_path: Path,
                                  name: str) -> None:
    with pytest.raises(ArtifactError, match=r"model name .* (not allowed|must be)"):
        stage_candidate(fitted, name=name, staging_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_registry_is_a_clear_error_with_nothing_written(fitted: LogisticRegression,
                                                                   tmp_path: Path) -> None:
    staged = stage_candidate(fitted, name="m",
                             staging_dir=tmp_path / "s")
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a directory\n")
    with pytest.raises(RegistryError, match=r"cannot write to the registry .*file/reg.*"
                       r"mlgate_registry"):
        LocalRegistry(blocker / "reg").publish(staged, {})
    assert blocker.read_text() == "I am a file, not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "s"]


def test_example_the_model_rejects_fails_at_staging(fitted: LogisticRegression,
                                                    tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="failed to predict on the example"):
        stage_candidate(fitted, name="m",
                        example=np.ones((2, 7)), staging_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- deploy ------------------------------------------------------------------------------------
@pytest.fixture
def artifact(fitted: LogisticRegression, tmp_path: Path) -> PublishedArtifact:
    staged = stage_candidate(fitted, name="iris",
                             staging_dir=tmp_path / "s")
    return LocalRegistry(tmp_path / "reg").publish(staged, {})


def test_deploy_lines_parse_as_json_or_words() -> None:
    targets = parse_deploy_targets(['["python", "deploy.py", "a b"]', "",
                                    "# a comment", "rsync -a 'x y' host:/m"],
                                   default_timeout=30)
    assert targets == [DeployTarget(("python", "deploy.py", "a b"), 30.0),
                       DeployTarget(("rsync", "-a", "x y", "host:/m"), 30.0)]
    with pytest.raises(ConfigError, match="JSON array"):
        parse_deploy_targets(["[1, 2]"])
    with pytest.raises(ConfigError, match="quotes"):
        parse_deploy_targets(["deploy 'unterminated"])


def test_deploy_command_sees_the_artefact(artifact: PublishedArtifact) -> None:
    code = ("import os, json; print(json.dumps({k: v for k, v in os.environ.items() "
            "if k.startswith('MLGATE_ARTIFACT_')}))")
    out = run_deploy_target(DeployTarget((sys.executable, "-c", code), 30), artifact)
    env = json.loads(out)
    assert env == {"MLGATE_ARTIFACT_PATH": str(artifact.path.resolve()),
                   "MLGATE_ARTIFACT_ID": artifact.artifact_id,
                   "MLGATE_ARTIFACT_NAME": "iris", "MLGATE_ARTIFACT_VERSION": "1"}


def test_deploy_failures_are_clear(artifact: PublishedArtifact) -> None:
    with pytest.raises(DeployError, match=r"'no-such-deployer-xyz' was not found"):
        run_deploy_target(DeployTarget(("no-such-deployer-xyz", "--go"), 30), artifact)
    fail = (sys.executable, "-c", "import sys; print('bucket denied'); sys.exit(3)")
    with pytest.raises(DeployError, match=r"exited with status 3(.|\n)*bucket denied"):
        run_deploy_target(DeployTarget(fail, 30), artifact)
    slow = (sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)")
    with pytest.raises(DeployError, match=r"longer than 0.5 s(.|\n)*started"):
        run_deploy_target(DeployTarget(slow, 0.5), artifact)
    # A failed deploy does not touch the published artefact.
    assert LocalRegistry(artifact.path.parent.parent).versions("iris") == [1]


# -- truthful outcomes when the history cannot be written -----------------------------------------
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name an fd's file")
def test_a_publish_the_history_cannot_record_did_not_happen(
        fitted: LogisticRegression, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = LocalRegistry(tmp_path / "reg")
    staged = stage_candidate(fitted, name="iris", staging_dir=tmp_path / "s")
    reg.publish(staged, {}, aliases=["production"])
    real = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("history.jsonl"):
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(RegistryError, match=r"Input/output error\. Nothing changed"):
        reg.publish(staged, {}, aliases=["production"])
    with pytest.raises(RegistryError, match=r"Input/output error\. Nothing changed"):
        reg.promote("iris", 1, "staging")
    monkeypatch.undo()
    # What the messages said: no version 2, no alias moved, nothing half-recorded.
    assert reg.versions("iris") == [1]
    assert reg.aliases("iris") == {"latest": 1, "production": 1}
    assert [e["event"] for e in reg.history("iris")] == ["publish", "alias", "alias"]
    assert reg.publish(staged, {}).version == 2
