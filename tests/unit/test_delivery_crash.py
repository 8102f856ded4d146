"""Concurrency of LocalRegistry.publish, with real processes (forked: scikit-learn is already
imported). Crashes at every write, fsync and rename are in tests/faults."""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.delivery import LocalRegistry, stage_candidate, verify_artifact
from pytest_mlgate.delivery.registry import STAGING
from pytest_mlgate.delivery.staging import StagedCandidate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs fork")

RUN: dict[str, Any] = {"run": {"complete": True}, "gates": {}, "tests": []}


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagedCandidate:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    return stage_candidate(model, name="wine", example=X.head(4), data={"train": X},
                           staging_dir=tmp_path_factory.mktemp("staging"))


def _publish_once(root: str, staged: dict[str, Any], barrier: Any, out: Any) -> None:
    barrier.wait()
    pub = LocalRegistry(root).publish(StagedCandidate.from_json(staged), RUN)
    out.put((pub.version, pub.artifact_id))


def test_eight_concurrent_publishers_get_eight_distinct_versions(staged: StagedCandidate,
                                                                 tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    reg = LocalRegistry(tmp_path / "reg")
    barrier = ctx.Barrier(8)
    out = ctx.Queue()
    procs = [ctx.Process(target=_publish_once, args=(str(reg.root), staged.to_json(), barrier, out))
             for _ in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(v for v, _ in results) == list(range(1, 9))
    assert reg.versions("wine") == list(range(1, 9))
    for v, artifact_id in results:
        assert verify_artifact(reg.root / "wine" / str(v))["artifact_id"] == artifact_id
    history = reg.history("wine")
    published = {e["version"]: e["artifact_id"] for e in history if e["event"] == "publish"}
    assert published == dict(results)
    latest_moves = [e for e in history if e["event"] == "alias" and e["alias"] == "latest"]
    assert [e["version"] for e in latest_moves] == list(range(1, 9))
    assert all(e["previous"] == (e["version"] - 1 or None) for e in latest_moves)
    assert reg.aliases("wine") == {"latest": 8}
    assert list((reg.root / STAGING).iterdir()) == []
