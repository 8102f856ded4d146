"""Publish, promote, deploy and the baseline update under a fault at every write, fsync and
rename (see harness.py): after each, every listed version verifies against its pinned id, the
aliases resolve to pinned versions, the message told the truth, and the next operation recovers
to a state where aliases, pins and history agree and the interrupted operation happened
completely or not at all."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.baseline import BaselineEntry, load_baseline, write_baseline
from pytest_mlgate.delivery.deploy import DeployTarget
from pytest_mlgate.delivery.pipeline import deliver_candidate
from pytest_mlgate.delivery.registry import STAGING, LocalRegistry
from pytest_mlgate.delivery.staging import StagedCandidate, stage_candidate

from .harness import FAULTS, Outcome, fresh_copy, record_points, run_faulty, scratch_root

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

RUN: dict[str, Any] = {"run": {"complete": True, "git": {"commit": "f00d", "dirty": False}},
                       "gates": {}, "tests": []}
NAME = "iris"
# Messages that promise a state: each is checked against what is on disk.
NOTHING = "Nothing changed"
HAPPENED = "happened and is recorded"


@pytest.fixture(scope="module")
def scratch() -> Any:
    root = Path(scratch_root()) / f"mlgate-faults-{os.getpid()}-{os.urandom(4).hex()}"
    root.mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def staged(scratch: Path) -> StagedCandidate:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    return stage_candidate(model, name=NAME, example=X.head(3), staging_dir=scratch / "staged")


def _sweep(record_property: Any, label: str, template: Path, base: Path,
           operation: Callable[[], Any], check: Callable[[Outcome], None],
           recover: Callable[[], Any], check_recovered: Callable[[], None],
           covered: Callable[[], Any] | None = None) -> None:
    """Every point of ``operation`` but those of ``covered`` (a part of it swept already)."""
    fresh_copy(template, base)
    skip = set(record_points(base, covered)) if covered is not None else set()
    fresh_copy(template, base)
    points = [p for p in record_points(base, operation) if p not in skip]
    assert len(points) >= 4, points
    problems: list[str] = []
    runs = 0
    for point in points:
        for fault in FAULTS:
            fresh_copy(template, base)
            outcome = run_faulty(base, operation, point, fault)
            runs += 1
            where = f"{fault} at {point!r} ({outcome.kind}: {outcome.message[:300]})"
            try:
                assert outcome.kind != "bug", outcome.message
                check(outcome)
                recover()
                check_recovered()
            except Exception as exc:
                problems.append(f"{where}: {type(exc).__name__}: {exc}")
    record_property("fault_injections", (label, len(points), runs))
    print(f"{label}: {len(points)} injection points, {runs} faulty runs")
    assert not problems, f"{len(problems)} of {runs} faulty runs broke:\n" + "\n".join(problems[:15])


# -- registry invariants ------------------------------------------------------------------------
def check_readable(root: Path) -> LocalRegistry:
    """What any reader relies on, right after the fault: nothing damaged, every pinned version
    verifies, every alias and latest resolve to a pinned version that verifies, and at most the
    interrupted operation's own version is unpinned."""
    reg = LocalRegistry(root)
    state = reg.state(NAME)
    assert not state.problems, state.problems
    for v in state.published:
        assert reg.open(f"{NAME}@{v}").artifact_id == state.pins[v]
    for alias in state.aliases:
        located = reg.locate(f"{NAME}@{alias}")
        assert located.version in state.pins
        reg.open(f"{NAME}@{alias}")
    assert reg.locate(NAME).version == max(state.published)
    unpinned = [v for v in state.versions if v not in state.pins]
    assert unpinned in ([], [max(state.versions)]), f"unpinned versions {unpinned}"
    return reg


def check_agreement(root: Path) -> dict[str, int]:
    """After the next operation: every version pinned, alias files and the history's last move
    of each alias agree (version and id), latest is the newest, nothing left in staging."""
    reg = check_readable(root)
    state = reg.state(NAME)
    assert state.versions == state.published, "a version without a publish record remains"
    assert state.torn is None and state.pending == {}, (state.torn, state.pending)
    last: dict[str, tuple[int, str]] = {}
    for e in state.events:
        if e["event"] == "alias":
            last[e["alias"]] = (e["version"], e["artifact_id"])
    files = {a: (r.version, r.artifact_id) for a, r in state.aliases.items()}
    assert files == last, f"alias files {files} disagree with the history {last}"
    for alias, (v, aid) in files.items():
        assert state.pins[v] == aid, f"alias {alias} pins another id than the history"
    assert files["latest"][0] == max(state.versions)
    assert list((root / STAGING).iterdir()) == [], list((root / STAGING).iterdir())
    assert not list((root / NAME / "aliases").glob(".*"))
    ops: dict[str, list[str]] = {}
    for e in state.events:
        ops.setdefault(e.get("op", ""), []).append(e["event"])
    for token, kinds in ops.items():  # a publish op always brings its latest move along
        if "publish" in kinds:
            assert kinds.count("publish") == 1 and "alias" in kinds, (token, kinds)
    return {a: v for a, (v, _) in files.items()}


# -- publish ------------------------------------------------------------------------------------
def test_publish_survives_a_fault_at_every_point(scratch: Path, staged: StagedCandidate,
                                                 record_property: Any) -> None:
    template, base = scratch / "t-publish", scratch / "publish"
    LocalRegistry(template).publish(staged, RUN, aliases=["production"])
    reg = LocalRegistry(base)

    def check(outcome: Outcome) -> None:
        state = check_readable(base).state(NAME)
        aliases = {a: r.version for a, r in state.aliases.items()}
        if outcome.kind == "ok" or HAPPENED in outcome.message:
            assert state.published == [1, 2]
        if outcome.kind == "ok":
            assert aliases == {"latest": 2, "production": 1, "staging": 2}
        if NOTHING in outcome.message:
            assert state.versions == [1] and aliases == {"latest": 1, "production": 1}
        if outcome.kind == "error":
            assert "publish" in outcome.message

    def recovered() -> None:
        aliases = check_agreement(base)
        versions = reg.versions(NAME)
        if versions == [1, 2, 3]:  # the interrupted publish happened, completely
            assert aliases == {"latest": 3, "production": 1, "staging": 2}
        else:  # it did not happen at all
            assert versions == [1, 2] and aliases == {"latest": 2, "production": 1}

    _sweep(record_property, "publish", template, base,
           lambda: reg.publish(staged, RUN, aliases=["staging"]).version, check,
           lambda: reg.publish(staged, RUN), recovered)


# -- promote ------------------------------------------------------------------------------------
def test_promote_survives_a_fault_at_every_point(scratch: Path, staged: StagedCandidate,
                                                 record_property: Any) -> None:
    template, base = scratch / "t-promote", scratch / "promote"
    seed = LocalRegistry(template)
    seed.publish(staged, RUN, aliases=["production"])
    seed.publish(staged, RUN)
    reg = LocalRegistry(base)

    def check(outcome: Outcome) -> None:
        aliases = check_readable(base).aliases(NAME)
        if outcome.kind == "ok":
            assert aliases["production"] == 2
        if NOTHING in outcome.message:
            assert aliases["production"] == 1

    def recovered() -> None:
        aliases = check_agreement(base)
        assert aliases["production"] in (1, 2) and aliases["qa"] == 1

    _sweep(record_property, "promote", template, base, lambda: reg.promote(NAME, 2, "production"),
           check, lambda: reg.promote(NAME, 1, "qa"), recovered)


# -- deploy -------------------------------------------------------------------------------------
def _deployed_ok(reg: LocalRegistry) -> set[int]:
    return {e["version"] for e in reg.history(NAME)
            if e["event"] == "deploy" and e["status"] == "ok"}


def test_deploy_survives_a_fault_at_every_point(scratch: Path, staged: StagedCandidate,
                                                record_property: Any) -> None:
    template, base = scratch / "t-deploy", scratch / "deploy"
    LocalRegistry(template).publish(staged, RUN, aliases=["production"])
    reg = LocalRegistry(base)
    true = shutil.which("true")
    assert true is not None
    targets = [DeployTarget((true,), 30.0)]

    def deliver() -> dict[str, Any]:
        entry, failure = deliver_candidate(reg, staged, RUN, targets=targets, aliases=["staging"])
        return {"version": entry["version"], "failure": failure}

    def check(outcome: Outcome) -> None:
        reader = check_readable(base)
        aliases = reader.aliases(NAME)
        # An alias other than latest only ever points at a version whose deploy succeeded.
        assert "staging" not in aliases or aliases["staging"] in _deployed_ok(reader)
        if outcome.kind == "ok" and outcome.value["failure"] is None:
            assert aliases["staging"] == 2 and 2 in _deployed_ok(reader)
        if outcome.kind == "ok" and outcome.value["failure"] is not None:
            assert "published" in outcome.value["failure"]

    def recovered() -> None:
        aliases = check_agreement(base)
        assert "staging" not in aliases or aliases["staging"] in _deployed_ok(reg)

    # The publish inside the delivery is swept by the publish test: here, the points after it
    # (verifying, recording each deploy result, moving the aliases).
    _sweep(record_property, "deploy", template, base, deliver, check,
           lambda: reg.publish(staged, RUN), recovered, covered=lambda: reg.publish(staged, RUN))


# -- baseline update ----------------------------------------------------------------------------
KEY = "tests/test_model.py::test_quality"


def _baseline(path: Path, value: float) -> None:
    n = 60
    rng = np.random.default_rng(int(value * 100))
    samples = {(KEY, "accuracy"): {"y_true": rng.integers(0, 2, n).astype(np.int8),
                                   "y_pred": np.full(n, int(value * 100), dtype=np.int16)}}
    write_baseline(path, [BaselineEntry(KEY, "accuracy", value, value - 0.05, value + 0.05, 0.95,
                                        n, "wilson")], samples,
                   plugin_version="0.1.0", git={}, machine={})


def _loaded_value(path: Path) -> float:
    """The baseline's value, after checking its side file is the one written with it."""
    b = load_baseline(path)
    assert b is not None
    entry = b.get(KEY, "accuracy")
    assert entry is not None
    arrays = b.samples(KEY, "accuracy")
    assert arrays is not None, "the per-sample arrays are missing"
    assert set(arrays["y_pred"].tolist()) == {int(entry.value * 100)}, "mismatched pair"
    return entry.value


def test_baseline_update_survives_a_fault_at_every_point(scratch: Path,
                                                         record_property: Any) -> None:
    template, base = scratch / "t-baseline", scratch / "baseline"
    _baseline(template / "baseline.json", 0.91)
    path = base / "baseline.json"

    def check(outcome: Outcome) -> None:
        value = _loaded_value(path)
        assert value in (0.91, 0.5)
        if outcome.kind == "ok" or "in place" in outcome.message:
            assert value == 0.5
        if "unchanged" in outcome.message:
            assert value == 0.91

    def recovered() -> None:
        assert _loaded_value(path) == 0.7
        assert sorted(p.name for p in base.iterdir()) == ["baseline.json", "baseline.samples.npz"]

    _sweep(record_property, "baseline update", template, base, lambda: _baseline(path, 0.5),
           check, lambda: _baseline(path, 0.7), recovered)
