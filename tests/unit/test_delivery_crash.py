"""Crash safety and concurrency of LocalRegistry.publish, with real processes.

Publishers are forked (fast: scikit-learn is already imported) and killed with SIGKILL, the one
signal a process cannot clean up after.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.delivery import LocalRegistry, stage_candidate, verify_artifact
from pytest_mlgate.delivery.registry import STAGING, STEP_DELAY_ENV
from pytest_mlgate.delivery.staging import StagedCandidate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs fork and SIGKILL")

RUN: dict[str, Any] = {"run": {"complete": True}, "gates": {}, "tests": []}


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagedCandidate:
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    return stage_candidate(model, name="wine", example=X.head(4), data={"train": X},
                           staging_dir=tmp_path_factory.mktemp("staging"))


def _publish_forever(root: str, staged: dict[str, Any], delay: str) -> None:
    os.environ[STEP_DELAY_ENV] = delay
    reg = LocalRegistry(root)
    candidate = StagedCandidate.from_json(staged)
    while True:
        reg.publish(candidate, RUN)


def _publish_once(root: str, staged: dict[str, Any], barrier: Any, out: Any) -> None:
    barrier.wait()
    pub = LocalRegistry(root).publish(StagedCandidate.from_json(staged), RUN)
    out.put((pub.version, pub.artifact_id))


def _check_consistent_view(reg: LocalRegistry) -> list[int]:
    versions = reg.versions("wine")
    for v in versions:
        verify_artifact(reg.root / "wine" / str(v))  # raises on any partial version
    for alias, v in reg.aliases("wine").items():
        assert v in versions, f"alias {alias} points at unlisted version {v}"
    return versions


def test_sigkill_at_any_point_never_leaves_a_partial_version(staged: StagedCandidate,
                                                              tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    reg = LocalRegistry(tmp_path / "reg")
    rng = random.Random(20250101)
    # One publish here first: imports and the distribution list are then inherited by every
    # forked publisher, so the kill times below spread over the publish steps themselves.
    reg.publish(staged, RUN)
    saw_leftover = False
    kills = 0
    start = time.monotonic()
    while kills < 30 and time.monotonic() - start < 9:
        proc = ctx.Process(target=_publish_forever,
                           args=(str(reg.root), staged.to_json(), "0.004"))
        proc.start()
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        kills += 1
        _check_consistent_view(reg)
        staging = reg.root / STAGING
        saw_leftover |= staging.is_dir() and any(staging.iterdir())
    assert kills >= 20
    assert len(reg.versions("wine")) > 2, "no publisher ever finished; widen the kill window"
    assert saw_leftover, "no kill landed mid-publish; the test did not exercise anything"
    before = _check_consistent_view(reg)
    pub = reg.publish(staged, RUN)
    assert pub.version == max(before, default=0) + 1
    assert list((reg.root / STAGING).iterdir()) == [], "leftover staging was not cleaned"
    versions = _check_consistent_view(reg)
    assert reg.aliases("wine")["latest"] == versions[-1]
    # Every listed version is in the history exactly once (recovered if its publisher died
    # between the rename and the log line).
    logged = [e["version"] for e in reg.history("wine") if e["event"] == "publish"]
    assert sorted(logged) == versions


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
