"""What the serving tests share: a model published by a real gate-mode run, ``mlgate serve`` as
a subprocess on a free loopback port, and a small HTTP client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY = "mlgate: serving"

PROJECT_CONFTEST = '''
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def model(data, mlgate_session):
    X, y = data
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    mlgate_session.candidate(model, name="breast-cancer", example=X.head(5), data={"train": X})
    return model
'''

PROJECT_TESTS = '''
import pytest


@pytest.mark.unit
def test_unit():
    assert 1 + 1 == 2


@pytest.mark.integration
def test_integration(model, data):
    assert len(model.predict(data[0].head(3))) == 3


@pytest.mark.performance(latency_p95_ms="<= 500")
def test_latency(model, data, mlgate):
    mlgate.benchmark(model.predict, data[0].head(1), max_time=0.2)


@pytest.mark.validation(accuracy=">= 0.9")
def test_accuracy(model, data, mlgate):
    X, y = data
    mlgate.evaluate(model, X, y, metrics=["accuracy"])
'''


def write_project(root: Path, *, ini: str = "", conftest: str = PROJECT_CONFTEST,
                  tests: str = PROJECT_TESTS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "conftest.py").write_text(textwrap.dedent(conftest))
    (root / "test_model.py").write_text(textwrap.dedent(tests))
    (root / "pytest.ini").write_text("[pytest]\nmlgate_registry = registry\n" + ini)
    return root


def run_gates(root: Path, *args: str, env: dict[str, str] | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """pytest --mlgate --mlgate-deliver on the project at ``root``, in a subprocess."""
    cmd = [sys.executable, "-m", "pytest", "--mlgate", "--mlgate-deliver", "--mlgate-seed=7",
           "-p", "no:cacheprovider", "-p", "no:randomly", "--mlgate-report", "report.json",
           *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False,
                          timeout=600, env=env)


def publish_by_run(root: Path) -> Path:
    """A quickstart-like project run in gate mode; returns its registry (breast-cancer@1)."""
    proc = run_gates(write_project(root))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return root / "registry"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    lines: list[str]

    def alive(self) -> bool:
        return self.proc.poll() is None


def _pump(stream: Any, lines: list[str], ready: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if line.startswith(READY):
            ready.set()
    ready.set()


@contextmanager
def serving(ref: str, *args: str, registry: Path | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[Server]:
    """``mlgate serve REF --port 0 ...`` as a subprocess until the block ends (then SIGTERM,
    and SIGKILL if it does not stop)."""
    cmd = [sys.executable, "-m", "pytest_mlgate.cli", "serve", ref, "--port", "0", *args]
    if registry is not None:
        cmd += ["--registry", str(registry)]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines: list[str] = []
    ready = threading.Event()
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines, ready), daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or not any(line.startswith(READY) for line in lines):
            raise AssertionError("mlgate serve did not start:\n" + "".join(lines))
        line = next(line for line in lines if line.startswith(READY))
        url = line.split(" on ", 1)[1].split(",")[0].split(";")[0].strip()
        yield Server(url=url, proc=proc, lines=lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)


def run_serve(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``mlgate serve`` expected to stop by itself (it refuses to start)."""
    return subprocess.run([sys.executable, "-m", "pytest_mlgate.cli", "serve", *args],
                          cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout,
                          env=env)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, body: bytes | dict[str, Any] | None = None, *,
            content_type: str = "application/json", method: str | None = None,
            headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()})
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()})


def env_with_path(*paths: Path) -> dict[str, str]:
    """The environment with ``paths`` first on PYTHONPATH (a module of custom types)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [env.get("PYTHONPATH")])])
    return env


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def columns(frame: Any) -> Sequence[str]:
    return [str(c) for c in frame.columns]
