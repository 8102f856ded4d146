"""Served throughput and latency: ``mlgate serve`` against ``mlflow models serve``, same model.

The quickstart-like model (StandardScaler + LogisticRegression on the breast cancer data, 30
float columns) is published to a temporary registry and saved as an MLflow model; both servers
run on 127.0.0.1 with one process each. For 1-row and 100-row ``dataframe_split`` requests at
concurrency 1, 8 and 32 (clients on kept-alive connections, in this process), each point is
measured for ``--seconds`` after a warm-up, ``--reps`` times with the two servers interleaved;
the table gives medians over the repetitions of requests/s and of the p50/p95/p99 latency (ms)
seen by the clients, and the ratios mlgate/MLflow (goal: rps ratio >= 1, p95 ratio <= 1).
The machine is shared: read the ratios, measured in the same run, not the absolute figures.
MLflow is skipped with a note when it is not installed (extra ``bench``).

Run: .venv/bin/python benchmarks/serve.py [--quick] [--seconds S] [--reps R] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.delivery import LocalRegistry, stage_candidate

SIZES = (1, 100)
CONCURRENCY = (1, 8, 32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ping(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not answer /ping in {timeout:.0f} s")


@contextlib.contextmanager
def _server(cmd: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    try:
        _wait_ping(port, proc)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def load(port: int, body: bytes, concurrency: int, seconds: float) -> tuple[float, list[float]]:
    """Requests/s and every latency (ms) of ``concurrency`` clients sending ``body`` for
    ``seconds`` after 3 warm-up requests each."""
    lat: list[list[float]] = [[] for _ in range(concurrency)]
    gate = threading.Barrier(concurrency + 1)
    end = [float("inf")]
    failures: list[str] = []
    headers = {"Content-Type": "application/json"}

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for _ in range(3):
                conn.request("POST", "/invocations", body=body, headers=headers)
                conn.getresponse().read()
            gate.wait()
            while time.perf_counter() < end[0]:
                t0 = time.perf_counter()
                conn.request("POST", "/invocations", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                lat[k].append((time.perf_counter() - t0) * 1e3)
                if resp.status != 200:
                    failures.append(f"HTTP {resp.status}")
                    return
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        gate.wait()
    t0 = time.perf_counter()
    end[0] = t0 + seconds
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"requests failed: {failures[0]}")
    every = [x for per in lat for x in per]
    return len(every) / elapsed, every


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 s per point, 1 repetition")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    seconds, reps = (1.0, 1) if args.quick else (args.seconds, args.reps)

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    work = Path(tempfile.mkdtemp(prefix="mlgate-serve-bench-"))
    servers: dict[str, list[str]] = {}
    # One BLAS thread in both servers; the interpreter's bin first on PATH (mlflow starts
    # `uvicorn` by name).
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    try:
        reg = LocalRegistry(work / "registry")
        reg.publish(stage_candidate(model, name="bc", example=X.head(5),
                                    staging_dir=work / "staging"), {})
        port = _free_port()
        servers["mlgate"] = [sys.executable, "-m", "pytest_mlgate.cli", "serve", "bc",
                             "--registry", str(work / "registry"), "--port", str(port)]
        mlflow_note = ""
        if not args.no_mlflow:
            try:
                import mlflow.sklearn

                mlflow.sklearn.save_model(model, str(work / "mlflow-model"))
                mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
                mport = _free_port()
                servers["mlflow"] = [mlflow_bin, "models", "serve", "-m", str(work / "mlflow-model"),
                                     "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mport)]
                import mlflow as _mlflow

                mlflow_note = f"mlflow {_mlflow.__version__}"
            except ImportError:
                mlflow_note = "mlflow not installed: skipped (pip install 'pytest-mlgate[bench]')"
        bodies = {n: json.dumps({"dataframe_split": {
            "columns": list(X.columns),
            "data": np.resize(X.to_numpy(), (n, X.shape[1])).tolist()}}).encode() for n in SIZES}
        results: dict[tuple[str, int, int], list[tuple[float, float, float, float]]] = {}
        with contextlib.ExitStack() as stack:
            ports = {}
            for name, cmd in servers.items():
                ports[name] = stack.enter_context(_server(cmd, int(cmd[-1]), env=env))
            for _ in range(reps):
                for n in SIZES:
                    for c in CONCURRENCY:
                        for name in servers:  # interleaved: both see the same machine
                            rps, lat = load(ports[name], bodies[n], c, seconds)
                            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
                            results.setdefault((name, n, c), []).append((rps, p50, p95, p99))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(key: tuple[str, int, int], i: int) -> float:
        return statistics.median(r[i] for r in results[key])

    print(f"served throughput and latency, {seconds:g} s per point, median of {reps}; "
          f"{mlflow_note or 'mlflow not measured'}; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus")
    head = f"{'server':<8}{'rows':>5}{'conc':>5}{'rps':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    if "mlflow" in servers:
        head += f"{'rps/mlflow':>12}{'p95/mlflow':>12}"
    print(head)
    for n in SIZES:
        for c in CONCURRENCY:
            for name in servers:
                key = (name, n, c)
                line = (f"{name:<8}{n:>5}{c:>5}{med(key, 0):>9.0f}{med(key, 1):>9.2f}"
                        f"{med(key, 2):>9.2f}{med(key, 3):>9.2f}")
                if name == "mlgate" and "mlflow" in servers:
                    ref = ("mlflow", n, c)
                    line += f"{med(key, 0) / med(ref, 0):>12.2f}{med(key, 2) / med(ref, 2):>12.2f}"
                print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
