"""The built-in deploy target ``serve-check`` (a line ``serve-check`` in ini ``mlgate_deploy``).

It starts ``mlgate serve`` on the just-published artefact on 127.0.0.1 (a free port, a process
of its own), sends the stored example and requires the served predictions to be the ones the
in-process model gave on it when it was staged, then measures the served latency from the
client's side: CONCURRENCY clients, each on a kept-alive connection, send the example for
MEASURE_S seconds (at least MIN_REQUESTS requests) after WARMUP requests each. It records
p50/p95/p99 (ms) and throughput (requests/s) and fails when p95 exceeds ini
``mlgate_serve_latency_p95_ms``. The server is stopped, with its whole process group, in every
case.

Floats are compared with a relative tolerance of 1e-9: a served frame may sit in memory in
another layout than the in-process one, and BLAS then sums in another order (differences in
the last bits, never in a class label); anything beyond that is a different prediction.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import ServeError
from pytest_mlgate.strict_json import line as json_line

NAME = "serve-check"
CONCURRENCY = 4  # clients sending at once while latency is measured
WARMUP = 5  # requests per client before timing
MEASURE_S = 2.0  # seconds of timed requests
MIN_REQUESTS = 100  # timed requests at least, however long they take
FLOAT_RTOL = 1e-9
READY = "mlgate: serving"


@dataclass(frozen=True)
class ServeCheckResult:
    """What the check measured: latency percentiles (ms) and throughput (requests/s) at
    ``concurrency`` clients, each request carrying ``rows`` rows."""

    url: str
    rows: int
    predictions_match: bool
    concurrency: int
    requests: int
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    throughput_rps: float
    budget_p95_ms: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        budget = ("" if self.budget_p95_ms is None
                  else f" (budget p95 <= {self.budget_p95_ms:g} ms)")
        return (f"{NAME}: served predictions on the stored example ({self.rows} rows) match the "
                f"in-process model; latency p50 {self.latency_p50_ms:.2f} ms, p95 "
                f"{self.latency_p95_ms:.2f} ms, p99 {self.latency_p99_ms:.2f} ms{budget}, "
                f"{self.throughput_rps:.0f} requests/s at concurrency {self.concurrency} "
                f"({self.requests} requests of {self.rows} rows)")


class ServeCheckFailed(ServeError):
    """serve-check failed; ``result`` holds what was measured (None if nothing was)."""

    def __init__(self, message: str, result: ServeCheckResult | None = None) -> None:
        super().__init__(message)
        self.result = result


def is_serve_check(argv: Sequence[str]) -> bool:
    return tuple(argv) == (NAME,)


def serve_check(path: Path, artifact_id: str, *, trusted: Sequence[str], timeout: float,
                budget_p95_ms: float | None) -> ServeCheckResult:
    """Run the check on the artefact at ``path`` (which must have id ``artifact_id``)."""
    from pytest_mlgate.delivery.serialize import decode_example
    from pytest_mlgate.delivery.verify import Pin, open_artifact

    deadline = time.monotonic() + timeout
    manifest = open_artifact(path, pins=[Pin(artifact_id, "just published")]).manifest
    example_file = manifest.get("example_file")
    if not example_file:
        raise ServeCheckFailed(f"{NAME} needs the example stored with the model to check the "
                               "served predictions, and this artefact has none: pass example= "
                               "(a few input rows) to candidate().")
    verified = open_artifact(path, read=[example_file, "signature.json"],
                             pins=[Pin(artifact_id, "just published")])
    example = decode_example(example_file, verified.files[example_file])
    outputs = json.loads(verified.files["signature.json"]).get("outputs")
    if outputs is None:
        raise ServeCheckFailed(f"{NAME}: the model has no predict(), so there are no stored "
                               "predictions to compare the served ones with.")
    body = _body(example)
    with _server(path, trusted, deadline) as url:
        served = _post(url, body, deadline)
        _compare(outputs["values"], served)
        latencies, elapsed = _measure(url, body, deadline)
    p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
    result = ServeCheckResult(
        url=url, rows=len(example), predictions_match=True, concurrency=CONCURRENCY,
        requests=len(latencies), latency_p50_ms=round(p50, 3), latency_p95_ms=round(p95, 3),
        latency_p99_ms=round(p99, 3), throughput_rps=round(len(latencies) / elapsed, 1),
        budget_p95_ms=budget_p95_ms)
    if budget_p95_ms is not None and not p95 <= budget_p95_ms:
        raise ServeCheckFailed(f"{NAME}: served latency p95 {p95:.2f} ms is over the budget "
                               f"mlgate_serve_latency_p95_ms = {budget_p95_ms:g} ms "
                               f"(p50 {p50:.2f} ms, p99 {p99:.2f} ms at concurrency "
                               f"{CONCURRENCY}, {result.rows} rows per request). Make the model "
                               "faster or raise the budget.", result)
    return result


def _body(example: Any) -> bytes:
    from pytest_mlgate.serve.app import loggable

    data = loggable(example)
    if "columns" in data:
        return json_line({"dataframe_split": data})
    return json_line({"inputs": data["data"]})


@contextlib.contextmanager
def _server(path: Path, trusted: Sequence[str], deadline: float) -> Any:
    cmd = [sys.executable, "-m", "pytest_mlgate.cli", "serve", str(path), "--host", "127.0.0.1",
           "--port", "0"]
    if trusted:
        cmd += ["--trusted", *trusted]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if len(lines) < 200:
                lines.append(line)
            if line.startswith(READY):
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        ready.wait(max(0.0, deadline - time.monotonic()))
        line = next((x for x in lines if x.startswith(READY)), None)
        if line is None:
            raise ServeCheckFailed(f"{NAME}: mlgate serve did not start on {path}"
                                   + ("" if proc.poll() is not None else " in time")
                                   + ". Its output:\n" + "".join(lines)[-3000:])
        yield line.split(" on ", 1)[1].split(",")[0].split(";")[0].strip()
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=2)


def _connection(url: str, deadline: float) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=max(1.0, deadline - time.monotonic()))


def _send(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def _post(url: str, body: bytes, deadline: float) -> Any:
    conn = _connection(url, deadline)
    try:
        status, data = _send(conn, body)
    finally:
        conn.close()
    if status != 200:
        raise ServeCheckFailed(f"{NAME}: the server answered the stored example with HTTP "
                               f"{status}: {data[:500].decode('utf-8', 'replace')}")
    return json.loads(data)["predictions"]


def _compare(expected: Any, served: Any) -> None:
    want, got = np.asarray(expected, dtype=object), np.asarray(served, dtype=object)
    if want.shape != got.shape:
        raise ServeCheckFailed(f"{NAME}: the server returned predictions of shape {got.shape} "
                               f"for the stored example; the in-process model gave {want.shape}.")
    differ = [i for i, (a, b) in enumerate(zip(want.tolist(), got.tolist(), strict=True))
              if not _same(a, b)]
    if differ:
        shown = "; ".join(f"row {i}: served {got[i]!r}, in-process {want[i]!r}" for i in differ[:5])
        raise ServeCheckFailed(f"{NAME}: served predictions differ from the in-process model's on "
                               f"{len(differ)} of {len(want)} rows of the stored example ({shown}). "
                               "The model does not behave the same once loaded in a server "
                               "process: it depends on state outside the artefact.")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
            return a is b
        return bool(np.isclose(float(a), float(b), rtol=FLOAT_RTOL, atol=0.0))
    return bool(a == b and type(a) is type(b))


def _measure(url: str, body: bytes, deadline: float) -> tuple[list[float], float]:
    """Latencies (ms) of every timed request, and the seconds the timed part took."""
    latencies: list[list[float]] = [[] for _ in range(CONCURRENCY)]
    errors: list[str] = []
    start = threading.Barrier(CONCURRENCY + 1)
    stop_at = [float("inf")]  # set once every client is warm

    def client(k: int) -> None:
        conn = _connection(url, deadline)
        try:
            for _ in range(WARMUP):
                _send(conn, body)
            start.wait()
            mine = latencies[k]
            while True:
                t0 = time.perf_counter()
                status, data = _send(conn, body)
                mine.append((time.perf_counter() - t0) * 1e3)
                if status != 200:
                    errors.append(f"HTTP {status}: {data[:200]!r}")
                    return
                done = sum(len(x) for x in latencies)
                if time.perf_counter() >= stop_at[0] and done >= MIN_REQUESTS:
                    return
                if time.monotonic() > deadline:
                    errors.append("the deploy timeout ran out while measuring latency")
                    return
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(CONCURRENCY)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=max(1.0, deadline - time.monotonic()))
    t0 = time.perf_counter()
    stop_at[0] = t0 + MEASURE_S
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - t0
    if errors:
        raise ServeCheckFailed(f"{NAME}: requests failed while latency was measured: {errors[0]}")
    return [x for per in latencies for x in per], elapsed
