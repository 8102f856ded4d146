"""The quickstart example end to end: all four gates, its committed baseline, delivery."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    target = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(
        "registry", "mlgate-report.*", "__pycache__", ".pytest_cache", ".hypothesis"))
    return target


@pytest.mark.parametrize("workers", [None, "2"], ids=["plain", "xdist"])
def test_quickstart_passes_every_gate_and_delivers(quickstart: Path, workers: str | None) -> None:
    cmd = [sys.executable, "-m", "pytest", "--mlgate", "--mlgate-deliver", "-p", "no:cacheprovider"]
    if workers:
        cmd += ["-n", workers]
    proc = subprocess.run(cmd, cwd=quickstart, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    report = json.loads((quickstart / "mlgate-report.json").read_text())
    assert report["verdict"] == "pass" and report["run"]["complete"]
    assert {g: r["verdict"] for g, r in report["gates"].items()} == dict.fromkeys(
        ("unit", "integration", "performance", "validation"), "pass")
    metrics = {(t["key"], m["name"]): m for t in report["tests"] for m in t["metrics"]}
    accuracy = metrics[("holdout", "accuracy")]
    assert accuracy["low"] < accuracy["value"] < accuracy["high"]
    # the committed baseline was measured on the same data: a paired comparison, no regression
    assert accuracy["comparison"]["verdict"] in ("pass", "improved")
    assert report["delivery"]["status"] == "delivered"
    page = (quickstart / "mlgate-report.html").read_text(encoding="utf-8")
    assert "Gates passed" in page and 'data-kind="classification"' in page and "Reliability (ECE" in page
    # the champion comparison, side by side with the baseline's
    assert "<td>champion</td>" in page and "<td>baseline</td>" in page
    (artifact,) = report["delivery"]["artifacts"]
    assert "loaded and verified" in artifact["deploy"][0]["output"]
    verify = subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "verify", "breast-cancer@latest"],
                            cwd=quickstart, capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the monitoring job: new data against the training profile stored in the artefact
    def drift(csv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "drift", "breast-cancer@latest", csv],
                              cwd=quickstart, capture_output=True, text=True, check=False)

    same = drift("data/new_batch.csv")
    assert same.returncode == 0, same.stdout + same.stderr
    import pandas as pd

    batch = pd.read_csv(quickstart / "data" / "new_batch.csv")
    batch["mean radius"] *= 1.4
    batch.to_csv(quickstart / "shifted.csv", index=False)
    shifted = drift("shifted.csv")
    assert shifted.returncode == 1, shifted.stdout + shifted.stderr
    assert "mean radius" in shifted.stdout
