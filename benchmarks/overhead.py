"""Cost of the plugin on a suite of trivial tests: gate mode versus the plugin switched off.

Writes 2,000 trivial tests (half tagged ``@pytest.mark.unit``, half with no gate) and runs the
same suite in a subprocess with ``--mlgate`` and with ``-p no:mlgate``, alternating the two so
both share the machine's noise. Prints the median wall time of each and the median of the
per-pair ratios; a second suite with no gated test at all shows the cost on tests that carry no
gate. Goal: at most 1.05x.

The runs see Python's bytecode caches as an installed plugin does: pip compiles the package at
install, and pytest caches the modules it assertion-rewrites (every module of a plugin) after the
first run. ``PYTHONDONTWRITEBYTECODE=1`` (set on some CI machines and Docker images) turns pytest's
cache off, so every run re-parses and re-compiles each plugin module it imports; the children of
this script run without it, and ``--no-bytecode-cache`` measures that case instead.

``--callgrind N`` adds a noise-free cross-check: the instructions each variant executes on a suite
of N tests under valgrind's callgrind (hash seed fixed). Instruction counts are not time (tight C
loops such as seeding Mersenne Twister run at many instructions per nanosecond, the interpreter
at far fewer), but they do not move with the machine's load.

    python benchmarks/overhead.py [--tests 2000] [--repeats 15] [--quick] [--gated-only]
                                  [--no-bytecode-cache] [--callgrind N]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
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


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


ENV = dict(os.environ)
# Plugins of the test extra stay off: they would load in both variants and only add noise.
OTHERS = ["-p", "no:randomly", "-p", "no:rerunfailures", "-p", "no:benchmark", "-p", "no:pytest_cov",
          "-p", "no:timeout"]


def run(root: Path, args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pytest run in a subprocess."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *OTHERS, *args]
    cpu0, start = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False, env=ENV)
    elapsed, cpu = time.perf_counter() - start, _child_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def instructions(root: Path, args: list[str]) -> int:
    """Instructions one pytest run executes, counted by callgrind."""
    with tempfile.TemporaryDirectory() as out:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.out", sys.executable, "-m",
               "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *OTHERS, *args]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False,
                              env={**ENV, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"callgrind failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def measure(variants: list[tuple[str, Path, list[str]]], repeats: int) -> dict[str, dict[str, float]]:
    """Run every variant once per round, in a rotating order, so all share the machine's noise.

    Each variant's runs are paired with the plugin-off run of the same suite in the same round.
    """
    for _, root, args in variants:  # warm the caches (bytecode, file system) once
        run(root, args)
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in variants}
    for r in range(repeats):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for label, root, args in order:
            times[label].append(run(root, args))
    med = statistics.median
    out = {}
    for label, _, _ in variants:
        if label.startswith("off:"):
            continue
        ref = times["off:" + label.split(":", 1)[1]]
        pairs = list(zip(ref, times[label], strict=True))
        out[label] = {
            "wall_off": med(p[0][0] for p in pairs), "wall_on": med(p[1][0] for p in pairs),
            "wall_ratio": med(p[1][0] / p[0][0] for p in pairs),
            "cpu_off": med(p[0][1] for p in pairs), "cpu_on": med(p[1][1] for p in pairs),
            "cpu_ratio": med(p[1][1] / p[0][1] for p in pairs),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="500 tests, 3 repeats")
    parser.add_argument("--callgrind", type=int, metavar="N", default=0,
                        help="also count instructions on an N-test suite under valgrind")
    parser.add_argument("--gated-only", action="store_true",
                        help="only the half-gated suite (more repeats in the same time)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run the children with PYTHONDONTWRITEBYTECODE=1")
    args = parser.parse_args()
    if args.no_bytecode_cache:
        ENV["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.quick:
        args.tests, args.repeats = 500, 3
    with tempfile.TemporaryDirectory() as tmp:
        mixed, ungated = Path(tmp, "mixed"), Path(tmp, "ungated")
        write_suite(mixed, args.tests, share_gated=0.5)
        write_suite(ungated, args.tests, share_gated=0.0)
        off = ["-p", "no:mlgate"]
        variants = [
            ("off:mixed", mixed, off),
            ("half gated, --mlgate:mixed", mixed, ["--mlgate"]),
            ("off:ungated", ungated, off),
            ("no gated test, --mlgate:ungated", ungated, ["--mlgate", "-o", "mlgate_required_gates="]),
            ("no gated test, gate mode off:ungated", ungated, []),
        ]
        results = measure(variants[:2] if args.gated_only else variants, args.repeats)
        rows = [(label.split(":", 1)[0], r) for label, r in results.items()]
        counted = callgrind(Path(tmp), args.callgrind) if args.callgrind else []
    cache = "off (PYTHONDONTWRITEBYTECODE=1)" if args.no_bytecode_cache else "on"
    print(f"{args.tests} trivial tests; medians of {args.repeats} alternating runs against -p no:mlgate; "
          f"bytecode cache {cache}")
    print("(CPU = user+sys of the pytest process: less sensitive than wall time to a busy machine)")
    for label, r in rows:
        print(f"  {label:<44} wall {r['wall_off']:6.3f} -> {r['wall_on']:6.3f} s ({r['wall_ratio']:.3f}x)"
              f"   CPU {r['cpu_off']:6.3f} -> {r['cpu_on']:6.3f} s ({r['cpu_ratio']:.3f}x)")
    if counted:
        print(f"instructions on {args.callgrind} tests (callgrind; deterministic):")
        for label, off_n, on_n in counted:
            print(f"  {label:<44} {off_n / 1e6:8.1f} -> {on_n / 1e6:8.1f} M ({on_n / off_n:.3f}x)")
    print("goal: at most 1.05x")


def callgrind(tmp: Path, n: int) -> list[tuple[str, int, int]]:
    if shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind on PATH")
    mixed, ungated = tmp / "cg-mixed", tmp / "cg-ungated"
    write_suite(mixed, n, share_gated=0.5)
    write_suite(ungated, n, share_gated=0.0)
    off = ["-p", "no:mlgate"]
    out = []
    for label, root, args in (("half gated, --mlgate", mixed, ["--mlgate"]),
                              ("no gated test, --mlgate", ungated, ["--mlgate", "-o", "mlgate_required_gates="])):
        run(root, args)  # bytecode caches, as in the timed runs
        run(root, off)
        out.append((label, instructions(root, off), instructions(root, args)))
    return out


if __name__ == "__main__":
    main()
