"""Cost of the plugin on a suite of trivial tests: gate mode versus the plugin switched off.

Writes 2,000 trivial tests (half tagged ``@pytest.mark.unit``, half with no gate) and runs the
same suite in a subprocess with ``--mlgate`` and with ``-p no:mlgate``, alternating the two so
both share the machine's noise. Prints the median wall time of each and the median of the
per-pair ratios; a second suite with no gated test at all shows the cost on tests that carry no
gate. Goal: at most 1.05x.

    python benchmarks/overhead.py [--tests 2000] [--repeats 9] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GATED = "\n@pytest.mark.unit\ndef test_{i}():\n    assert {i} >= 0\n"
PLAIN = "\ndef test_{i}():\n    assert {i} >= 0\n"
# Registering the marker in the ini keeps the plugin-off run free of unknown-marker warnings.
INI = "[pytest]\nmlgate_required_gates = unit\nmarkers =\n    unit: gate marker\n"


def write_suite(root: Path, n: int, share_gated: float) -> None:
    root.mkdir()
    per_file = 100
    every = round(1 / share_gated) if share_gated else 0
    for f in range(n // per_file):
        parts = ["import pytest\n"]
        for j in range(per_file):
            i = f * per_file + j
            parts.append((GATED if every and i % every == 0 else PLAIN).format(i=i))
        (root / f"test_suite_{f:03d}.py").write_text("".join(parts))
    (root / "pytest.ini").write_text(INI)


def run(root: Path, args: list[str]) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def compare(root: Path, on_args: list[str], repeats: int) -> tuple[float, float, float]:
    run(root, on_args)
    run(root, ["-p", "no:mlgate"])
    on, off, ratios = [], [], []
    for _ in range(repeats):
        t_off = run(root, ["-p", "no:mlgate"])
        t_on = run(root, on_args)
        on.append(t_on)
        off.append(t_off)
        ratios.append(t_on / t_off)
    return statistics.median(off), statistics.median(on), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="500 tests, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.tests, args.repeats = 500, 3
    with tempfile.TemporaryDirectory() as tmp:
        mixed, ungated = Path(tmp, "mixed"), Path(tmp, "ungated")
        write_suite(mixed, args.tests, share_gated=0.5)
        write_suite(ungated, args.tests, share_gated=0.0)
        rows = [
            ("half gated, --mlgate", compare(mixed, ["--mlgate"], args.repeats)),
            ("no gated test, --mlgate", compare(ungated, ["--mlgate", "-o", "mlgate_required_gates="], args.repeats)),
            ("no gated test, plugin loaded, gate mode off", compare(ungated, [], args.repeats)),
        ]
    print(f"{args.tests} trivial tests; medians of {args.repeats} alternating runs against -p no:mlgate")
    for label, (off, on, ratio) in rows:
        print(f"  {label:<46} off {off:6.3f} s  on {on:6.3f} s  ratio {ratio:.3f}x")
    print("goal: at most 1.05x")


if __name__ == "__main__":
    main()
