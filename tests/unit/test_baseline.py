"""The baseline file: round trip, side file, atomic writes, refusing corrupt or future files,
and the `mlgate baseline` commands."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mlgate import atomic
from pytest_mlgate.baseline import (
    SCHEMA_VERSION,
    BaselineEntry,
    load_baseline,
    side_path,
    write_baseline,
)
from pytest_mlgate.cli import main
from pytest_mlgate.errors import BaselineError

KEY = "tests/test_model.py::test_quality[lr]"


def _entries(value: float = 0.91) -> list[BaselineEntry]:
    return [
        BaselineEntry(
            KEY,
            "accuracy",
            value,
            value - 0.02,
            value + 0.02,
            0.95,
            500,
            "wilson",
            "sha256:abc",
            {"direction": "higher"},
        ),
        BaselineEntry("churn-model", "mse", 3.5, 3.1, 3.9, 0.95, 500, "bootstrap", "sha256:abc"),
        BaselineEntry("churn-model", "size_kb", 120.0),
    ]


def _samples() -> dict[tuple[str, str], dict[str, np.ndarray]]:
    return {
        (KEY, "accuracy"): {
            "y_true": np.arange(500, dtype=np.int16) % 2,
            "y_pred": np.ones(500, dtype=np.int16),
            "classes": np.array(["0", "1"]),
        }
    }


def _write(path: Path, value: float = 0.91) -> None:
    write_baseline(
        path,
        _entries(value),
        _samples(),
        plugin_version="0.1.0",
        git={"commit": "0123456789abcdef", "dirty": False},
        machine={"system": "Linux"},
    )


def test_round_trip_with_side_file(tmp_path: Path) -> None:
    path = tmp_path / ".mlgate" / "baseline.json"
    _write(path)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["git"]["commit"] == "0123456789abcdef"
    assert list(doc["metrics"]) == sorted(doc["metrics"])  # key-sorted, reviewable
    assert doc["metrics"][KEY]["accuracy"]["fingerprint"] == "sha256:abc"
    assert side_path(path).name == "baseline.samples.npz" and side_path(path).exists()
    b = load_baseline(path)
    assert b is not None
    e = b.get(KEY, "accuracy")
    assert e is not None and e.value == 0.91 and e.method == "wilson" and e.n == 500
    assert b.get("churn-model", "size_kb") == BaselineEntry("churn-model", "size_kb", 120.0)
    assert b.get("nope", "accuracy") is None
    assert len(b.entries()) == 3 and b.plugin_version == "0.1.0" and b.created
    s = b.samples(KEY, "accuracy")
    assert s is not None
    np.testing.assert_array_equal(s["y_pred"], np.ones(500))
    assert s["y_pred"].dtype == np.int16
    assert b.samples("churn-model", "mse") is None


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "baseline.json") is None


def test_corrupt_and_future_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("{not json")
    with pytest.raises(BaselineError, match=r"baseline\.json is not valid JSON.*delete it"):
        load_baseline(path)
    path.write_text(
        json.dumps({"schema_version": SCHEMA_VERSION + 1, "plugin_version": "9.0", "metrics": {}})
    )
    with pytest.raises(BaselineError, match=r"newer pytest-mlgate.*upgrade"):
        load_baseline(path)
    path.write_text(json.dumps({"metrics": {}}))
    with pytest.raises(BaselineError, match="schema_version"):
        load_baseline(path)
    path.write_text(json.dumps({"schema_version": 1, "metrics": {"t": {"accuracy": {"low": 1}}}}))
    with pytest.raises(BaselineError, match="'accuracy' of 't' is malformed"):
        load_baseline(path)


def test_side_file_hash_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    _write(path)
    np.savez_compressed(side_path(path), other=np.zeros(3))
    with pytest.raises(BaselineError, match="were not written together"):
        load_baseline(path)


class _FailRename(atomic.FileOps):
    """The disk fails when the baseline JSON is renamed into place (after the side file was
    written)."""

    def rename(self, src: str, dst: str) -> None:
        if Path(dst).name == "baseline.json":
            raise OSError(28, "No space left on device")
        super().rename(src, dst)


def test_failed_write_leaves_previous_pair_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    _write(path, 0.91)
    before = (path.read_bytes(), side_path(path).read_bytes())
    # A non-finite value is refused before any file is touched.
    bad = [BaselineEntry(KEY, "accuracy", float("nan"))]
    with pytest.raises(BaselineError, match="finite"):
        write_baseline(path, bad, {}, plugin_version="0.1.0", git={}, machine={})
    assert (path.read_bytes(), side_path(path).read_bytes()) == before

    monkeypatch.setattr(atomic, "OPS", _FailRename())
    with pytest.raises(BaselineError, match=r"No space left.*previous baseline is unchanged"):
        _write(path, 0.5)
    assert (path.read_bytes(), side_path(path).read_bytes()) == before
    b = load_baseline(path)
    assert b is not None and b.get(KEY, "accuracy").value == 0.91  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.samples.npz"]


def _write_value(path: Path, value: float) -> None:
    """A baseline whose samples encode its value, so a mismatched pair is visible."""
    samples = {(KEY, "accuracy"): {"y_pred": np.full(50, round(value * 1000), np.int32)}}
    write_baseline(path, [BaselineEntry(KEY, "accuracy", value)], samples,
                   plugin_version="0.1.0", git={}, machine={})


def _value_of_consistent_pair(path: Path) -> float:
    b = load_baseline(path)
    assert b is not None
    value = b.get(KEY, "accuracy").value  # type: ignore[union-attr]
    arrays = b.samples(KEY, "accuracy")
    assert arrays is not None and set(arrays["y_pred"].tolist()) == {round(value * 1000)}
    return value


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_a_kill_between_the_side_file_and_the_json_leaves_a_loadable_pair(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    _write_value(path, 0.91)
    pid = os.fork()
    if pid == 0:  # the writer, killed just before its JSON replaces the old one
        real = os.replace

        def replace(src: Any, dst: Any) -> None:
            if Path(dst).name == "baseline.json":
                os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst)

        os.replace = replace  # type: ignore[assignment]
        try:
            _write_value(path, 0.5)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert _value_of_consistent_pair(path) == 0.91
    _write_value(path, 0.7)  # the next writer cleans up after the killed one
    assert _value_of_consistent_pair(path) == 0.7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.samples.npz"]


def _keep_writing(path: str, offset: int) -> None:
    for i in range(15):
        _write_value(Path(path), round(0.1 + offset * 0.2 + i * 0.01, 2))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_concurrent_writers_never_leave_a_mismatched_pair(tmp_path: Path) -> None:
    import multiprocessing as mp

    path = tmp_path / "baseline.json"
    _write_value(path, 0.9)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_keep_writing, args=(str(path), k)) for k in range(4)]
    for p in procs:
        p.start()
    seen = set()
    while any(p.is_alive() for p in procs):
        seen.add(_value_of_consistent_pair(path))  # readers never see a mismatched pair either
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = _value_of_consistent_pair(path)
    assert final in {round(0.1 + k * 0.2 + 14 * 0.01, 2) for k in range(4)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.samples.npz"]


def test_stale_temp_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    _write(path)
    stale = [".baseline.json.k3j2h1g0.tmp", ".baseline.samples.npz.a1b2c3d4.tmp",
             ".baseline.samples.npz.next"]
    for name in stale:
        (tmp_path / name).write_bytes(b"left by a killed writer")
    (tmp_path / "notes.tmp").write_text("not ours")
    _write(path, 0.8)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "baseline.json", "baseline.samples.npz", "notes.tmp"]


@pytest.mark.parametrize("metric", [
    {"value": "high"}, {"value": True}, {"value": 10**400}, {"value": 0.9, "n": 1.5},
    {"value": 0.9, "n": 10**30}, {"value": 0.9, "n": -1}, {"value": 0.9, "low": "x"},
    {"value": 0.9, "info": [1, 2]}, {"value": 0.9, "samples": 5}, {"value": 0.9, "method": 3},
    {"value": 0.9, "fingerprint": {"a": 1}}, [0.9],
])
def test_fields_of_the_wrong_type_or_absurd_size_are_named(tmp_path: Path, metric: Any) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"schema_version": 1, "metrics": {"t": {"accuracy": metric}}}))
    with pytest.raises(BaselineError, match=r"baseline .*baseline\.json: metric 'accuracy' of 't' "
                       r"is malformed .*restore it"):
        load_baseline(path)


@pytest.mark.parametrize(("doc", "match"), [
    ('{"schema_version": 1, "metrics": {}, "git": "main"}', "field 'git' must be a dict"),
    ('{"schema_version": 1, "metrics": {}, "machine": 5}', "field 'machine' must be a dict"),
    ('{"schema_version": true, "metrics": {}}', "invalid schema_version"),
    ('{"schema_version": 1, "metrics": {"t": {"accuracy": {"value": 1e999}}}}', "not valid JSON"),
    ('{"schema_version": 1, "metrics": {}, "samples_file": {"name": "../x", "sha256": "0"}}',
     "'samples_file' must name a file next to it"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"schema_version": 1, "metrics": {}, "created": 5}', "field 'created' must be a str"),
])
def test_malformed_documents_are_named(tmp_path: Path, doc: str, match: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(doc)
    with pytest.raises(BaselineError, match=match):
        load_baseline(path)


def test_a_samples_file_with_a_matching_hash_but_junk_inside_is_refused(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "baseline.json"
    _write(path)
    junk = b"PK\x03\x04 not really a zip"
    side_path(path).write_bytes(junk)
    doc = json.loads(path.read_text())
    doc["samples_file"]["sha256"] = hashlib.sha256(junk).hexdigest()
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match=r"matches the sha256 recorded .* but is not a valid "
                       "samples file"):
        load_baseline(path)


def test_cli_show_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    _write(old, 0.91)
    entries = [*_entries(0.93)[:2], BaselineEntry("churn-model", "f1", 0.7)]
    write_baseline(new, entries, {}, plugin_version="0.1.0", git={}, machine={})
    assert main(["baseline", "show", str(old)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "0.91" in out and "[0.89, 0.93]" in out and "wilson" in out
    assert main(["baseline", "diff", str(old), str(new), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| test | metric | old | new | change | status |" in out
    assert "+0.02" in out and "added" in out and "removed" in out
    assert main(["baseline", "show", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_samples_file_that_is_a_device_is_refused_not_read_forever(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "baseline.json"
    _write(path)
    side_path(path).unlink()
    side_path(path).symlink_to("/dev/zero")
    with pytest.raises(BaselineError, match=r"baseline side file .*samples\.npz cannot be read "
                       r"\(it is not a regular file"):
        load_baseline(path)
    assert main(["baseline", "show", str(path)]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize(("fields", "why"), [
    ({"level": 7}, "level is 7, not a confidence level"),
    ({"level": 0}, "level is 0, not a confidence level"),
    ({"level": 1.0}, "level is 1, not a confidence level"),
    ({"low": 0.99, "high": 0.95}, r"its interval is \[0\.99, 0\.95\]: low is above high"),
])
def test_a_nonsense_interval_is_refused_naming_the_file(
        tmp_path: Path, fields: dict[str, Any], why: str) -> None:
    path = tmp_path / "baseline.json"
    metric = {"value": 0.9733, "low": 0.95, "high": 0.99, "level": 0.95, **fields}
    path.write_text(json.dumps({"schema_version": 1, "metrics": {"t": {"accuracy": metric}}}))
    with pytest.raises(BaselineError, match=rf"baseline .*baseline\.json: metric 'accuracy' of "
                       rf"'t' is malformed \({why}"):
        load_baseline(path)
