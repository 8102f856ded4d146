"""The baseline file: round trip, side file, atomic writes, refusing corrupt or future files,
and the `mlgate baseline` commands."""

from __future__ import annotations

import json
from pathlib import Path

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

    # The disk fails while the JSON is written, after the side file was replaced.
    def disk_full(p: object, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "write_text", disk_full)
    with pytest.raises(BaselineError, match="No space left"):
        _write(path, 0.5)
    assert (path.read_bytes(), side_path(path).read_bytes()) == before
    b = load_baseline(path)
    assert b is not None and b.get(KEY, "accuracy").value == 0.91  # type: ignore[union-attr]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


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
