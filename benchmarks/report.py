"""Rendering the HTML report: the quickstart's run, and a run with an ``evaluate`` on 1,000,000 rows.

For each, the run itself (pytest --mlgate --mlgate-report, in a subprocess, wall time) is timed
beside the rendering of its JSON report into the page (render_html in this process, after one
warm-up render so that imports and the template's compilation are counted once, separately).
Medians of several renders, wall and CPU time. Goals: quickstart < 1 s, 1,000,000 rows < 3 s.

    .venv/bin/python benchmarks/report.py [--reps 5] [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BIG_SUITE = '''
import numpy as np
import pytest

class Scores:
    """A classifier of {rows:,} rows whose probabilities are drawn once (the model is not the point)."""
    classes_ = np.array([0, 1])
    def __init__(self, p):
        self.p = p
    def predict_proba(self, X):
        return np.stack([1 - self.p, self.p], axis=1)
    def predict(self, X):
        return (self.p > 0.5).astype(int)

@pytest.mark.validation(roc_auc=">= 0.8", accuracy=">= 0.7", ece="<= 0.1")
def test_a_million_rows(mlgate):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, {rows})
    p = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1.5, y.size))))
    mlgate.evaluate(Scores(p), np.zeros((y.size, 1)), y)
'''


def run_suite(directory: Path, *args: str) -> float:
    """Seconds of ``pytest --mlgate --mlgate-report`` in ``directory``."""
    cmd = [sys.executable, "-m", "pytest", "--mlgate", "-q", "-p", "no:cacheprovider",
           "--mlgate-report", "mlgate-report.json", *args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t
    if not (directory / "mlgate-report.json").exists():
        sys.exit(f"the run in {directory} wrote no report:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return took


def time_render(report_path: Path, reps: int) -> tuple[float, float, float, int]:
    """(first render s, median wall s, median CPU s, page bytes) of rendering ``report_path``."""
    t = time.perf_counter()
    from pytest_mlgate.report.html import render_html

    report = json.loads(report_path.read_text(encoding="utf-8"))
    render_html(report)
    first = time.perf_counter() - t
    walls, cpus = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        page = render_html(report)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return first, statistics.median(walls), statistics.median(cpus), len(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="leave the runs' directories here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlgate-bench-report-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    quick = work / "quickstart"
    shutil.rmtree(quick, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "quickstart", quick, ignore=shutil.ignore_patterns(
        "registry", "mlgate-report.*", "__pycache__", ".pytest_cache", ".hypothesis"))
    big = work / "million"
    shutil.rmtree(big, ignore_errors=True)
    big.mkdir()
    (big / "test_big.py").write_text(textwrap.dedent(BIG_SUITE.format(rows=args.rows)))
    (big / "pytest.ini").write_text("[pytest]\nmlgate_required_gates = validation\n")
    goals = {"quickstart": 1.0, f"evaluate on {args.rows:,} rows": 3.0}
    rows = []
    for (name, goal), directory in zip(goals.items(), (quick, big), strict=True):
        run_s = run_suite(directory)
        report = directory / "mlgate-report.json"
        first, wall, cpu, size = time_render(report, args.reps)
        rows.append((name, run_s, report.stat().st_size, first, wall, cpu, size, goal))
    print(f"{'run':<28} {'run s':>7} {'json KB':>8} {'1st render s':>13} {'render s':>9} "
          f"{'render cpu s':>13} {'page KB':>8} {'goal s':>7}  verdict")
    for name, run_s, jsize, first, wall, cpu, size, goal in rows:
        print(f"{name:<28} {run_s:>7.2f} {jsize / 1024:>8.0f} {first:>13.2f} {wall:>9.3f} {cpu:>13.3f} "
              f"{size / 1024:>8.0f} {goal:>7.1f}  {'ok' if wall < goal else 'SLOW'}")
    print("render s: median wall time of a render after a first one (which pays imports and the "
          "template's compilation, shown as 1st render s).")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
