"""The ``mlgate`` entry point: output into a pipe that closes early, and output paths."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.baseline import BaselineEntry, write_baseline


def _big_baseline(path: Path, rows: int = 4000) -> Path:
    # Far more output than a pipe buffer (64 KiB) holds, so the writer must block until the
    # reader is gone: the write after `head` exits then fails every time, not by timing.
    entries = [BaselineEntry(f"tests/test_m.py::test_{i}", "accuracy", 0.9, 0.88, 0.92, 0.95, 500,
                             "wilson", "sha256:abc") for i in range(rows)]
    write_baseline(path, entries, {}, plugin_version="0", git={}, machine={})
    return path


def _piped(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """``mlgate ARGS | head -n 1`` in a shell: (mlgate's exit status, head's output, mlgate's stderr)."""
    argv = " ".join(f"'{a}'" for a in (sys.executable, "-m", "pytest_mlgate.cli", *args))
    script = f'{argv} 2> err.txt | head -n 1; echo "${{PIPESTATUS[0]}}" > status.txt'
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return (int((tmp_path / "status.txt").read_text()), out,
            (tmp_path / "err.txt").read_text())


@pytest.mark.parametrize("command", [["baseline", "show"], ["baseline", "diff"]])
def test_output_into_a_pipe_closed_early_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    big = str(_big_baseline(tmp_path / "b.json"))
    args = [*command, big] if command[1] == "show" else [*command, big, big]
    status, out, err = _piped(tmp_path, *args)
    assert out.startswith("baseline ")  # head got its line
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored" at shutdown
    assert status == 128 + signal.SIGPIPE  # what a shell reports for `yes | head`


def test_output_to_a_pipe_read_to_the_end_is_unchanged(tmp_path: Path) -> None:
    big = str(_big_baseline(tmp_path / "b.json", rows=50))
    done = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "baseline", "show", big],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test_m.py::test_") == 50


# -- output paths: a clear error, never a silently made directory -------------------------------

@pytest.fixture
def drift_inputs(tmp_path: Path) -> tuple[Path, Path]:
    from pytest_mlgate.profiles import profile

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    prof = tmp_path / "profile.json"
    prof.write_text(json.dumps(profile(frame).to_json()))
    data = tmp_path / "current.csv"
    frame.to_csv(data, index=False)
    return prof, data


def _drift(tmp_path: Path, prof: Path, data: Path, out: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "drift", str(prof), str(data),
                           "--json", out], cwd=tmp_path, capture_output=True, text=True, check=False)


def test_drift_json_into_a_directory_is_a_clear_error(tmp_path: Path, drift_inputs: tuple[Path, Path]) -> None:
    (tmp_path / "out").mkdir()
    done = _drift(tmp_path, *drift_inputs, "out")
    assert done.returncode == 2
    assert done.stderr.startswith("mlgate: error: --json ")
    assert "is a directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_drift_json_in_a_missing_directory_is_refused_and_nothing_is_made(
        tmp_path: Path, drift_inputs: tuple[Path, Path]) -> None:
    done = _drift(tmp_path, *drift_inputs, "missing/dir/x.json")
    assert done.returncode == 2
    assert "directory" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "missing").exists()


def test_drift_json_under_a_file_is_refused(tmp_path: Path, drift_inputs: tuple[Path, Path]) -> None:
    (tmp_path / "afile").write_text("")
    done = _drift(tmp_path, *drift_inputs, "afile/x.json")
    assert done.returncode == 2
    assert "not a directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_drift_json_in_an_existing_directory_is_written(tmp_path: Path, drift_inputs: tuple[Path, Path]) -> None:
    (tmp_path / "out").mkdir()
    done = _drift(tmp_path, *drift_inputs, "out/drift.json")
    assert done.returncode == 0, done.stderr
    assert "columns" in json.loads((tmp_path / "out" / "drift.json").read_text())
