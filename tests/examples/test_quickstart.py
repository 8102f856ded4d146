"""The quickstart example end to end: all four gates, its committed baseline, delivery.

Its JSON report at a fixed seed, with what depends on the clock, the machine or the paths taken
out, is compared with ``quickstart-report.golden.json``: a restructuring of the plugin must leave
it the same, plain and under pytest-xdist. ``MLGATE_UPDATE_GOLDEN=1`` rewrites the file (for a
change that means to change the report; say why in its commit).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_mlgate.stats.known_metrics import is_performance_reading

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
GOLDEN = Path(__file__).with_name("quickstart-report.golden.json")
SEED = "12345"
# Readings of the clock and of the machine's load: their values, and the verdicts decided on
# them, change from run to run; their names, units, thresholds and the keys they carry do not.
TIMED_METHODS = ("benchmark",)
# How peak RSS was read depends on what the process ran before (an xdist worker runs other tests).
VOLATILE_INFO = ("cpu_contention", "shared_cpu", "rounds", "rss_method")
SERVED_TIMINGS = ("url", "requests", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                  "throughput_rps")
DROPPED_RUN = ("started", "duration_s", "args", "rootdir", "git", "machine", "xdist_workers")


def _rounded(obj: Any) -> Any:
    """Floats to 10 significant digits: the same statistics, whatever the last bits of BLAS."""
    if isinstance(obj, float):
        return float(f"{obj:.10g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def normalised_report(report: dict[str, Any], root: Path) -> dict[str, Any]:
    """The report without timings, seeds of the clock, paths, dates and the hashes that depend
    on them (the artefact id covers the manifest, which holds the publication time)."""
    text = json.dumps(report, sort_keys=True)
    text = text.replace(json.dumps(str(root))[1:-1], "<root>")
    text = text.replace(json.dumps(sys.executable)[1:-1], "<python>")
    out: dict[str, Any] = json.loads(text)
    for key in DROPPED_RUN:
        out["run"].pop(key, None)
    for test in out["tests"]:
        test.pop("duration_s")
        for item in (test.get("series") or {}).get("items", []):
            if item.get("kind") == "latency":  # a histogram of timings
                for key in ("n", "edges", "counts", "outside"):
                    item[key] = "<timed>"
        for m in test["metrics"]:
            if m["method"] in TIMED_METHODS:
                # "level" too: a p99 has an interval (and so a level) only after enough rounds.
                for key in ("value", "low", "high", "level", "n", "comparison", "threshold_verdict",
                            "threshold_p", "verdict"):
                    m[key] = "<timed>"
                for key in VOLATILE_INFO:
                    m["info"].pop(key, None)
    # Performance readings are compared only on the machine the baseline was recorded on: their
    # comparison, and the verdict and not-compared entry it gives, depend on the machine.
    for test in out["tests"]:
        for m in test["metrics"]:
            if is_performance_reading(m["name"], m["method"]):
                m["comparison"] = m["verdict"] = "<machine>"
    out["not_compared"] = [e for e in out.get("not_compared", [])
                           if "another machine" not in e["reason"]]
    for artifact in (out.get("delivery") or {}).get("artifacts", []):
        aid = artifact["artifact_id"]
        artifact["artifact_id"] = "<artifact id>"
        for step in artifact["deploy"]:
            step["output"] = step["output"].replace(aid[:19], "<artifact id>")
            if "serve_check" in step:  # served latency: a reading of the clock
                step["output"] = re.sub(r"(?<!<= )\b\d+(\.\d+)? (ms|requests)", r"<timed> \2", step["output"])
                step["serve_check"].update(dict.fromkeys(SERVED_TIMINGS, "<timed>"))
    return dict(_rounded(out))


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    target = tmp_path / "quickstart"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(
        "registry", "mlgate-report.*", "__pycache__", ".pytest_cache", ".hypothesis"))
    return target


@pytest.mark.both_modes
def test_quickstart_passes_every_gate_and_delivers(quickstart: Path, mode: str) -> None:
    workers = mode == "xdist"
    cmd = [sys.executable, "-m", "pytest", "--mlgate", "--mlgate-deliver", f"--mlgate-seed={SEED}",
           "-p", "no:cacheprovider"]
    if workers:
        cmd += ["-n", "2"]
    proc = subprocess.run(cmd, cwd=quickstart, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    report = json.loads((quickstart / "mlgate-report.json").read_text())
    normalised = normalised_report(report, quickstart)
    if os.environ.get("MLGATE_UPDATE_GOLDEN") and not workers:
        GOLDEN.write_text(json.dumps(normalised, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # The same report plain and under pytest-xdist, and the same as before any restructuring.
    assert normalised == json.loads(GOLDEN.read_text(encoding="utf-8"))
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
    served = artifact["deploy"][1]
    assert served["target"] == "serve-check" and served["serve_check"]["predictions_match"]
    assert served["serve_check"]["latency_p95_ms"] <= 250
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
