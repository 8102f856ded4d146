"""Fuzzing every file the tool reads back: manifest, history, alias, baseline, samples, profile
and run report. Each is replaced by random bytes, random JSON, or a valid file with a few of
its values replaced, deleted or given absurd numbers (``1e999``, ``NaN``, 5,000-digit integers,
deep nesting); a forged manifest is re-hashed so it stays self-consistent. The consumers
(``load``, ``verify``, the registry, ``mlgate`` commands, the baseline loader) must answer with
a result or a clear MlgateError naming the file, never another exception."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from pytest_mlgate.baseline import BaselineEntry, load_baseline, side_path, write_baseline
from pytest_mlgate.cli import main
from pytest_mlgate.delivery import LocalRegistry, load, stage_candidate, verify_artifact
from pytest_mlgate.delivery.artifact import artifact_id, hash_bytes
from pytest_mlgate.delivery.staging import StagedCandidate
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.profiles import profile

from ..faults.harness import scratch_root

# Every example is real registry work (publishing, loading): shrinking a failure would take
# minutes, so the examples are drawn deterministically and a failure is reported as drawn (the
# labelled draws show the file's bytes). MLGATE_FUZZ_EXAMPLES=1500 runs a longer search.
FUZZ = settings(max_examples=int(os.environ.get("MLGATE_FUZZ_EXAMPLES", "120")), deadline=None,
                derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
X, Y = load_iris(return_X_y=True, as_frame=True)
RUN: dict[str, Any] = {
    "schema": "pytest-mlgate/report", "schema_version": 1,
    "run": {"complete": True, "seed": 3, "git": {"commit": "c0ffee", "dirty": False}},
    "gates": {"validation": {"verdict": "pass", "passed": 1, "failed": 0}},
    "tests": [{"nodeid": "t.py::test_acc", "gate": "validation", "outcome": "passed",
               "metrics": [{"name": "accuracy", "value": 0.95, "low": 0.9, "high": 0.98,
                            "threshold": ">= 0.9", "verdict": "pass",
                            "comparison": {"change": 0.01, "reference_value": 0.94}}]}],
}

# -- strategies ---------------------------------------------------------------------------------
RAW_TOKENS = ("1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 5000, "[" * 50_000 + "]" * 50_000,
              '"\\ud800"', "-0", "1e-400")
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0, -1, 10**400, 2**63, "sha256:" + "0" * 64, "../x", "/etc/passwd"]))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=10)


class Raw:
    """A token written into the JSON text as is (not valid strict JSON)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*here, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*here, i))


@st.composite
def mutations(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with 1-3 of its nodes replaced (by JSON, or a raw token) or removed."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return draw(json_values)
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values | st.sampled_from(RAW_TOKENS).map(Raw))
    return doc


def dumps(doc: Any) -> bytes:
    raws: list[str] = []

    def default(o: Any) -> Any:
        if isinstance(o, Raw):
            raws.append(o.text)
            return f"@@raw{len(raws) - 1}@@"
        raise TypeError(type(o))

    text = json.dumps(doc, default=default)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@raw{i}@@"', raw)
    return text.encode("utf-8", errors="surrogatepass")


def contents(seed: Any) -> st.SearchStrategy[bytes]:
    """Bytes of a damaged or forged version of the JSON document ``seed``."""
    mutated = mutations(seed).map(dumps)
    torn = st.tuples(mutated, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
    return st.one_of(mutated, mutated, torn, json_values.map(dumps), st.binary(max_size=300))


# -- the check ----------------------------------------------------------------------------------
def answers_clearly(call: Callable[[], Any], *names: str) -> None:
    """``call`` returns, or raises an MlgateError whose message names one of ``names``."""
    try:
        call()
    except MlgateError as exc:
        assert any(n in str(exc) for n in names), f"{exc!s:.500} does not name {names}"


def cli_answers_clearly(args: list[str], capsys: pytest.CaptureFixture[str], *names: str) -> None:
    status = main(args)
    err = capsys.readouterr().err
    assert status in (0, 1, 2)
    assert "Traceback" not in err
    if status == 2:
        assert any(n in err for n in names), f"{err[:500]} does not name {names}"


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    root = scratch_root() / f"mlgate-fuzz-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def staged(scratch: Path) -> StagedCandidate:
    model = LogisticRegression(max_iter=300).fit(X, Y)
    return stage_candidate(model, name="iris", example=X.head(2), data={"train": X},
                           staging_dir=scratch / "staged")


@pytest.fixture(scope="module")
def template(scratch: Path, staged: StagedCandidate) -> Path:
    """A registry with iris 1 and 2, alias production -> 1."""
    reg = LocalRegistry(scratch / "template")
    reg.publish(staged, RUN, aliases=["production"])
    reg.publish(staged, RUN)
    return reg.root


@pytest.fixture
def fresh(scratch: Path, template: Path) -> Callable[[], Path]:
    def make() -> Path:
        root = scratch / f"reg-{uuid.uuid4().hex[:8]}"
        shutil.copytree(template, root)
        return root
    return make


def _rehash(artefact: Path, changed: dict[str, bytes] | None = None,
            manifest: dict[str, Any] | None = None) -> None:
    """Write ``changed`` files and a manifest listing them, with a recomputed artifact_id (what
    an attacker with write access does)."""
    doc = manifest if manifest is not None else json.loads((artefact / "manifest.json").read_text())
    for rel, data in (changed or {}).items():
        (artefact / rel).write_bytes(data)
        doc["files"][rel] = {"sha256": hash_bytes(data), "size": len(data)}
    with contextlib.suppress(TypeError, ValueError, KeyError, AttributeError):
        doc["artifact_id"] = artifact_id(doc)
    (artefact / "manifest.json").write_bytes(dumps(doc))


# -- manifest -----------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
@example(data=None)
def test_manifest(fresh: Callable[[], Path], capsys: pytest.CaptureFixture[str],
                  data: st.DataObject | None) -> None:
    root = fresh()
    artefact = root / "iris" / "2"
    seed = json.loads((artefact / "manifest.json").read_text())
    if data is None:  # the case: nested 200,000 deep
        (artefact / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    elif data.draw(st.booleans(), label="forged"):
        doc = data.draw(mutations(seed), label="manifest")
        _rehash(artefact, manifest=doc if isinstance(doc, dict) else {"files": {}})
    else:
        (artefact / "manifest.json").write_bytes(data.draw(contents(seed), label="bytes"))
    # Copied out of the registry too: no pin, so the forged content itself is all that is checked.
    outside = root / "outside"
    shutil.copytree(artefact, outside)
    names = (str(artefact), str(outside), "manifest.json")
    answers_clearly(lambda: verify_artifact(outside), *names)
    answers_clearly(lambda: load(outside), *names)
    answers_clearly(lambda: load("iris@2", registry=root), *names)
    cli_answers_clearly(["show", str(outside)], capsys, *names)
    cli_answers_clearly(["verify", "iris", "--registry", str(root)], capsys, *names)


# -- history ------------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_history(fresh: Callable[[], Path], staged: StagedCandidate,
                 capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    root = fresh()
    history = root / "iris" / "history.jsonl"
    lines = history.read_bytes().splitlines()
    seeds = [json.loads(line) for line in lines]
    for _ in range(data.draw(st.integers(1, 3), label="damaged lines")):
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        lines[i] = data.draw(contents(seeds[i]), label="line content").replace(b"\n", b" ")
    tail = data.draw(st.sampled_from([b"\n", b"", b'\n{"event": "publ']), label="tail")
    history.write_bytes(b"\n".join(lines) + tail)
    names = ("history.jsonl", "aliases", "iris")
    for ref in ("iris", "iris@1", "iris@2", "iris@production"):
        answers_clearly(lambda ref=ref: load(ref, registry=root), *names)  # type: ignore[misc]
    cli_answers_clearly(["list", "--registry", str(root)], capsys, *names)
    # A damaged history never blocks publishing, and what is published is loadable.
    published = LocalRegistry(root).publish(staged, {})
    assert load(f"iris@{published.version}", registry=root) is not None
    assert LocalRegistry(root).locate("iris").version == published.version


# -- alias --------------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_alias(fresh: Callable[[], Path], capsys: pytest.CaptureFixture[str],
               data: st.DataObject) -> None:
    root = fresh()
    alias = root / "iris" / "aliases" / "production.json"
    alias.write_bytes(data.draw(contents(json.loads(alias.read_text())), label="alias"))
    answers_clearly(lambda: load("iris@production", registry=root), "production.json",
                    "history.jsonl")
    cli_answers_clearly(["list", "--registry", str(root)], capsys, "production.json")
    LocalRegistry(root).promote("iris", 2, "production")  # rewrites it
    assert LocalRegistry(root).locate("iris@production").version == 2


# -- run report ---------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_run_report(fresh: Callable[[], Path], capsys: pytest.CaptureFixture[str],
                    data: st.DataObject) -> None:
    root = fresh()
    a, b = root / "a", root / "b"
    shutil.copytree(root / "iris" / "1", a)
    shutil.copytree(root / "iris" / "2", b)
    for artefact in (a, b):
        _rehash(artefact, {"run.json": data.draw(contents(RUN), label="run.json")})
    cli_answers_clearly(["show", str(a)], capsys, "run.json")
    cli_answers_clearly(["diff", str(a), str(b), "--markdown"], capsys, "run.json")


# -- profile ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def current(scratch: Path) -> Path:
    path = scratch / "current.csv"
    X.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path


@FUZZ
@given(data=st.data())
def test_profile(scratch: Path, current: Path, capsys: pytest.CaptureFixture[str],
                 data: st.DataObject) -> None:
    where = scratch / f"profile-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    seed = profile(X).to_json()
    (where / "profile.json").write_bytes(data.draw(contents(seed), label="profile"))
    cli_answers_clearly(["drift", str(where / "profile.json"), str(current)], capsys,
                        "profile.json")


# -- baseline and samples -----------------------------------------------------------------------
KEY = "t.py::test_acc"


def _write_seed(path: Path) -> None:
    samples = {(KEY, "accuracy"): {"y_true": np.arange(20) % 2, "y_pred": np.ones(20, np.int8)}}
    write_baseline(path, [BaselineEntry(KEY, "accuracy", 0.9, 0.8, 0.95, 0.95, 20, "wilson",
                                        "sha256:abc", {"direction": "higher"})], samples,
                   plugin_version="0.1.0", git={"commit": "c0ffee"}, machine={"system": "x"})


@FUZZ
@given(data=st.data())
def test_baseline(scratch: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    path = scratch / f"b-{uuid.uuid4().hex[:8]}" / "baseline.json"
    _write_seed(path)
    path.write_bytes(data.draw(contents(json.loads(path.read_text())), label="baseline"))
    answers_clearly(lambda: load_baseline(path), "baseline.json", "samples")
    cli_answers_clearly(["baseline", "show", str(path)], capsys, "baseline.json", "samples")


@FUZZ
@given(junk=st.binary(max_size=400) | st.sampled_from([b"PK\x03\x04", b"PK\x05\x06" + b"\0" * 18]))
def test_samples_file_with_a_matching_hash(scratch: Path, junk: bytes) -> None:
    path = scratch / f"s-{uuid.uuid4().hex[:8]}" / "baseline.json"
    _write_seed(path)
    side_path(path).write_bytes(junk)
    doc = json.loads(path.read_text())
    doc["samples_file"]["sha256"] = hashlib.sha256(junk).hexdigest()
    path.write_text(json.dumps(doc))
    answers_clearly(lambda: load_baseline(path), "baseline.samples.npz")


# -- journal ------------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_journal(fresh: Callable[[], Path], scratch: Path, data: st.DataObject) -> None:
    """A journal planted in .staging (as someone with write access to the registry can):
    the next operation replays it only when every field passes the live commands' rules, and
    never writes outside the registry."""
    root = fresh()
    victim = scratch / f"victim-{uuid.uuid4().hex[:8]}"
    victim.mkdir()
    (victim / "config.json").write_text("{}")
    token = uuid.uuid4().hex
    aid = json.loads((root / "iris" / "2" / "manifest.json").read_text())["artifact_id"]
    event = {"event": "alias", "alias": "staging", "version": 2, "artifact_id": aid,
             "previous": None, "time": "2026-01-01T00:00:00Z", "op": token}
    seed = {"op": token, "kind": "alias", "name": "iris", "version": 2, "artifact_id": aid,
            "events": [event]}
    doc = data.draw(mutations(seed), label="journal")
    if isinstance(doc, dict) and data.draw(st.booleans(), label="aim outside"):
        doc.setdefault("events", [{}])
        if isinstance(doc["events"], list) and doc["events"] and isinstance(doc["events"][0], dict):
            doc["events"][0]["alias"] = data.draw(st.sampled_from(
                [str(victim / "config"), os.path.relpath(victim / "config",
                                                         root / "iris" / "aliases")]))
    raw = dumps(doc).replace(b"/etc/passwd", str(victim / "passwd").encode())
    if data.draw(st.booleans(), label="committed"):
        with open(root / "iris" / "history.jsonl", "ab") as fh:
            fh.write((json.dumps(event) + "\n").encode())
    (root / ".staging" / f"{token}.lock").write_bytes(raw)
    before = sorted(p.name for p in scratch.iterdir())
    answers_clearly(lambda: LocalRegistry(root).promote("iris", 1, "qa"), f"{token}.lock")
    assert sorted(p.name for p in victim.iterdir()) == ["config.json"]
    assert (victim / "config.json").read_text() == "{}"
    assert sorted(p.name for p in scratch.iterdir()) == before, "written outside the registry"
