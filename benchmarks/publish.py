"""Publishing a ~100 MB model vs writing those bytes (with fsync) and sha256-hashing them;
loading it back vs reading and sha256-hashing them.

The reference is the floor for any durable, verified copy: write + fsync + sha256 of the same
number of bytes. Publish = LocalRegistry.publish of an already staged candidate (hard link or
copy, fsync, manifest, verify + load + predict on the example before the rename, re-verify after).
Load = pytest_mlgate.load of the published version by reference (pinned id, every hash, skops);
its reference is read + sha256 of the model file.
Staging (skops serialization, done by the test that names the candidate) is reported separately.
Medians of several repetitions, measured in the same run. Goal: publish <= 2x reference.

    .venv/bin/python benchmarks/publish.py [--quick] [--mb 100] [--reps 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pytest_mlgate
from pytest_mlgate.delivery import LocalRegistry, stage_candidate
from pytest_mlgate.provenance import git_info


def reference(data: bytes, path: Path) -> float:
    t = time.perf_counter()
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    hashlib.sha256(data).hexdigest()
    elapsed = time.perf_counter() - t
    path.unlink()
    return elapsed


def read_reference(path: Path) -> float:
    t = time.perf_counter()
    hashlib.sha256(path.read_bytes()).hexdigest()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 MB, 3 repetitions")
    ap.add_argument("--mb", type=float, default=100.0, help="model size in MB (default 100)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    mb, reps = (10.0, 3) if args.quick else (args.mb, args.reps)

    # A k-NN regressor stores its training matrix: n_rows x 500 float64 = mb megabytes.
    rng = np.random.default_rng(0)
    n = int(mb * 1e6 / (500 * 8))
    X = rng.standard_normal((n, 500))
    y = X[:, 0] + 0.1 * rng.standard_normal(n)
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(algorithm="brute")).fit(X, y)
    del y

    with tempfile.TemporaryDirectory(dir=".") as tmp:
        root = Path(tmp)
        stage_t, publish_t, ref_t, load_t, read_t = [], [], [], [], []
        reg = LocalRegistry(root / "reg")
        size = 0
        # What the plugin passes: the run report, with git info computed once at session start.
        run = {"run": {"complete": True, "git": git_info()}, "gates": {}, "tests": []}
        for i in range(reps):
            t = time.perf_counter()
            staged = stage_candidate(model, name="knn", example=X[:3], staging_dir=root / "stage")
            stage_t.append(time.perf_counter() - t)
            size = staged.model_path.stat().st_size
            t = time.perf_counter()
            pub = reg.publish(staged, run)
            publish_t.append(time.perf_counter() - t)
            data = staged.model_path.read_bytes()
            ref_t.append(reference(data, root / f"ref-{i}.bin"))
            del data
            t = time.perf_counter()
            pytest_mlgate.load(f"knn@{pub.version}", registry=reg.root)
            load_t.append(time.perf_counter() - t)
            read_t.append(read_reference(pub.path / pub.manifest["model"]["file"]))
            # Keep the disk from filling: drop this version and its staging copy.
            import shutil

            shutil.rmtree(pub.path)
            shutil.rmtree(staged.directory)

    ref = statistics.median(ref_t)
    pub_m = statistics.median(publish_t)
    stage_m = statistics.median(stage_t)
    print(f"model file: {size / 1e6:.1f} MB (skops), {reps} repetitions, medians")
    print(f"reference (write + fsync + sha256): {ref * 1e3:8.1f} ms")
    print(f"publish (staged -> registry)      : {pub_m * 1e3:8.1f} ms   "
          f"ratio {pub_m / ref:.2f}x (goal <= 2.00x)")
    load_m, read_m = statistics.median(load_t), statistics.median(read_t)
    print(f"read + sha256 of the model file   : {read_m * 1e3:8.1f} ms")
    print(f"load (verify + skops, by ref)     : {load_m * 1e3:8.1f} ms   "
          f"ratio {load_m / read_m:.2f}x (informative)")
    print(f"stage (skops serialize + check)   : {stage_m * 1e3:8.1f} ms   "
          f"ratio {stage_m / ref:.2f}x (informative)")
    print(f"stage + publish                   : {(stage_m + pub_m) * 1e3:8.1f} ms   "
          f"ratio {(stage_m + pub_m) / ref:.2f}x (informative)")
    if args.quick:
        # At 10 MB the fixed cost (a dozen small files and fsyncs) dominates; the goal is
        # stated for ~100 MB, so a smoke run only reports.
        print("quick smoke run: the 2x goal applies to the full ~100 MB run")
        return 0
    ok = pub_m <= 2.0 * ref
    print("PASS" if ok else "FAIL: publish costs more than 2x the reference")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
