"""Cost of metrics with their 95% intervals, against scikit-learn's point metrics and MLflow.

For 100,000 and 1,000,000 rows, in the same process, medians of ``--reps`` interleaved
repetitions:

1. Each metric on the same precomputed model outputs: scikit-learn's point metric alone against
   ``stats.metrics.estimate`` (value and interval; the path ``evaluate`` takes after its one
   call per model output), with the interval method used.
2. The seven metrics MLflow's default evaluator computes for a binary classifier (accuracy,
   precision, recall, f1, roc_auc, log_loss, average_precision), each repetition running every
   side once in an order that rotates from one repetition to the next:
   - scikit-learn's seven point metrics on precomputed outputs;
   - the seven with intervals through ``estimate`` on the same outputs (goal at 1,000,000 rows:
     at most 2x scikit-learn's seven);
   - ``stats.evaluation.evaluate(model, X, y, seven)``: end to end, model calls, input checks and
     the data fingerprint included;
   - ``mlflow.models.evaluate`` on the same model and rows (default evaluator, explainability
     off, a local file tracking store in a temporary directory), end to end (goal: the plugin's
     evaluate faster at both sizes). Skipped with a note when mlflow is not installed (extra
     ``bench``).

Times are given as CPU seconds of this process (all threads, and child processes; BLAS held to
one thread for every contender), the measure that stays put on a shared machine, with wall-clock
seconds beside them for the end-to-end rows; the range over the repetitions and the machine's
load average (``os.getloadavg``) before each repetition are printed beside the medians, so a
reader can judge the noise.

Run: .venv/bin/python benchmarks/metrics.py [--quick] [--sizes N ...] [--reps R] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from pytest_mlgate.stats.evaluation import evaluate
from pytest_mlgate.stats.metrics import estimate, resolve

SEVEN = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "average_precision")
FEATURES = 10


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished child processes."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    t0, c0 = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - t0, _cpu() - c0


def _data(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, FEATURES))
    coef = np.linspace(1.0, 0.1, FEATURES)
    y = (X @ coef + rng.logistic(size=n) > 0.5).astype(np.int64)
    train = np.random.default_rng(1).normal(size=(20_000, FEATURES))
    y_train = (train @ coef + np.random.default_rng(2).logistic(size=20_000) > 0.5).astype(np.int64)
    clf = LogisticRegression(max_iter=1000).fit(train, y_train)
    proba = clf.predict_proba(X)
    pred = clf.classes_[proba.argmax(axis=1)]
    # Multiclass and regression outputs for the per-metric table.
    y3 = np.digitize(X @ coef + rng.logistic(size=n), [-0.5, 1.0])
    logits = np.stack([-(X @ coef), np.zeros(n), X @ coef], axis=1)
    p3 = np.exp(logits - logits.max(axis=1, keepdims=True))
    p3 /= p3.sum(axis=1, keepdims=True)
    yr = X @ coef + rng.normal(size=n)
    reg = LinearRegression().fit(X[:20_000], yr[:20_000])
    fr = reg.predict(X)
    return {"X": X, "y": y, "clf": clf, "proba": proba, "pred": pred, "y3": y3, "p3": p3,
            "pred3": p3.argmax(axis=1), "yr": yr, "fr": fr}


def _cases(d: dict[str, Any]) -> list[tuple[str, dict[str, Any], Callable[[], Any]]]:
    y, p, pred = d["y"], d["proba"], d["pred"]
    two = np.array(["0", "1"])
    lab = {"y_true": y.astype(np.int16), "y_pred": pred.astype(np.int16), "classes": two}
    score = {"y_true": y == 1, "score": p[:, 1]}
    proba = {"y_true": y.astype(np.int32), "proba": p, "classes": two}
    y3, p3, pred3 = d["y3"], d["p3"], d["pred3"]
    three = np.array(["a", "b", "c"])
    lab3 = {"y_true": y3.astype(np.int16), "y_pred": pred3.astype(np.int16), "classes": three}
    proba3 = {"y_true": y3.astype(np.int32), "proba": p3, "classes": three}
    yr, fr = d["yr"], d["fr"]
    reg = {"y_true": yr, "y_pred": fr}
    return [
        ("accuracy", lab, lambda: skm.accuracy_score(y, pred)),
        ("precision", lab, lambda: skm.precision_score(y, pred)),
        ("recall", lab, lambda: skm.recall_score(y, pred)),
        ("f1", lab, lambda: skm.f1_score(y, pred)),
        ("roc_auc", score, lambda: skm.roc_auc_score(y, p[:, 1])),
        ("log_loss", proba, lambda: skm.log_loss(y, p)),
        ("average_precision", score, lambda: skm.average_precision_score(y, p[:, 1])),
        ("balanced_accuracy", lab, lambda: skm.balanced_accuracy_score(y, pred)),
        ("matthews_corrcoef", lab, lambda: skm.matthews_corrcoef(y, pred)),
        ("brier_score", proba, lambda: skm.brier_score_loss(y, p[:, 1])),
        ("f1_macro", lab3, lambda: skm.f1_score(y3, pred3, average="macro")),
        ("roc_auc_ovr", proba3, lambda: skm.roc_auc_score(y3, p3, multi_class="ovr")),
        ("r2", reg, lambda: skm.r2_score(yr, fr)),
        ("mse", reg, lambda: skm.mean_squared_error(yr, fr)),
        ("mae", reg, lambda: skm.mean_absolute_error(yr, fr)),
        ("rmse", reg, lambda: skm.root_mean_squared_error(yr, fr)),
    ]


class _MLflow:
    """``mlflow.models.evaluate`` of a logged scikit-learn model, in a temporary file store."""

    def __init__(self, clf: Any) -> None:
        # MLflow 3 refuses the file store unless asked; it is the local store this compares with.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        self.mlflow = mlflow
        self.tmp = tempfile.TemporaryDirectory()
        mlflow.set_tracking_uri(f"file:{self.tmp.name}/mlruns")
        mlflow.set_experiment("mlgate-benchmark")
        with mlflow.start_run(), contextlib.redirect_stderr(io.StringIO()):
            info = mlflow.sklearn.log_model(clf, name="model")
        self.uri = info.model_uri
        self.version = mlflow.__version__

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        import pandas as pd

        df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        df["label"] = y
        with self.mlflow.start_run(), contextlib.redirect_stderr(io.StringIO()):
            result = self.mlflow.models.evaluate(
                self.uri, df, targets="label", model_type="classifier", evaluators="default",
                evaluator_config={"log_model_explainability": False},
            )
        return dict(result.metrics)

    def close(self) -> None:
        self.tmp.cleanup()


def _median(xs: list[float]) -> float:
    return statistics.median(xs)


def _load() -> float:
    """The machine's 1-minute load average (runnable processes, all users)."""
    return os.getloadavg()[0]


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{max(xs):.2f}"


def run_size(n: int, reps: int, use_mlflow: bool) -> bool:
    d = _data(n)
    cases = _cases(d)
    load_start = _load()
    per: dict[str, tuple[list[float], list[float], str]] = {
        name: ([], [], "") for name, _, _ in cases
    }
    for r in range(reps):
        for name, samples, sk in cases:
            spec = resolve(name)
            e = estimate(spec, samples)
            ours = lambda spec=spec, samples=samples: estimate(spec, samples)  # noqa: E731
            # Who goes first alternates, so neither side always runs on a warmer cache.
            if r % 2 == 0:
                t_sk, t_ours = _timed(sk)[1], _timed(ours)[1]
            else:
                t_ours, t_sk = _timed(ours)[1], _timed(sk)[1]
            per[name][0].append(t_sk)
            per[name][1].append(t_ours)
            per[name] = (per[name][0], per[name][1], e.method)
    print(f"\n{n:,} rows (medians of {reps}, CPU time): each metric, value + 95% interval vs "
          "scikit-learn's point value, on precomputed model outputs")
    print(f"  {'metric':18s} {'sklearn':>10s} {'mlgate':>10s} {'ratio':>7s}  method")
    for name, (sk_t, ours_t, method) in per.items():
        a, b = _median(sk_t), _median(ours_t)
        print(f"  {name:18s} {a * 1000:8.1f}ms {b * 1000:8.1f}ms {b / a:6.2f}x  {method}")
    print(f"  (load average {load_start:.1f} at the start, {_load():.1f} at the end, "
          f"{os.cpu_count()} cores)")

    by_name = {name: (samples, sk) for name, samples, sk in cases}
    specs = [resolve(name) for name in SEVEN]

    def sklearn_seven() -> None:
        for name in SEVEN:
            by_name[name][1]()

    def mlgate_seven() -> None:
        for spec in specs:
            estimate(spec, by_name[spec.name][0])

    clf, X, y = d["clf"], d["X"], d["y"]
    sides: list[tuple[str, Callable[[], Any]]] = [
        ("sklearn7", sklearn_seven),
        ("mlgate7", mlgate_seven),
        ("evaluate", lambda: evaluate(clf, X, y, list(SEVEN))),
    ]
    mlf = _MLflow(clf) if use_mlflow else None
    if mlf is not None:
        sides.append(("mlflow", lambda: mlf.evaluate(X, y)))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in sides}
    loads: list[float] = []
    try:
        for r in range(reps):
            # One repetition runs every side once; the order rotates from one repetition to the
            # next, so a burst of load from other processes does not always hit the same side.
            loads.append(_load())
            order = sides[r % len(sides):] + sides[: r % len(sides)]
            for name, fn in order:
                times[name].append(_timed(fn))
        loads.append(_load())
        got = mlf.evaluate(X, y) if mlf is not None else {}
    finally:
        if mlf is not None:
            mlf.close()

    def cpu(name: str) -> list[float]:
        return [c for _, c in times[name]]

    def wall(name: str) -> list[float]:
        return [w for w, _ in times[name]]

    print(f"\n{n:,} rows: the seven metrics of MLflow's default classifier evaluator "
          f"({reps} repetitions, sides interleaved in rotating order; median, and range, of "
          "CPU s and wall s)")
    print(f"  load average (1 min) before each repetition and after the last: "
          f"{', '.join(f'{x:.1f}' for x in loads)}; {os.cpu_count()} cores")
    s7, o7 = _median(cpu("sklearn7")), _median(cpu("mlgate7"))
    ev, ev_wall = _median(cpu("evaluate")), _median(wall("evaluate"))

    def row(label: str, name: str) -> str:
        return (f"  {label:46s} {_median(cpu(name)):8.2f} ({_spread(cpu(name))}) "
                f"{_median(wall(name)):8.2f} ({_spread(wall(name))})")

    print(f"  {'':46s} {'CPU s':>8s} {'(range)':11s} {'wall s':>8s} (range)")
    print(row("scikit-learn, seven point metrics", "sklearn7"))
    print(row("mlgate estimate, seven with 95% intervals", "mlgate7")
          + f"   {o7 / s7:5.2f}x sklearn" + ("  (goal <= 2x)" if n >= 1_000_000 else ""))
    print(row("mlgate evaluate(model, X, y), end to end", "evaluate"))
    ok = o7 <= 2 * s7 if n >= 1_000_000 else True
    if mlf is not None:
        mf, mf_wall = _median(cpu("mlflow")), _median(wall("mlflow"))
        print(row(f"mlflow {mlf.version} models.evaluate, end to end", "mlflow"))
        print(f"  mlgate evaluate is {mf / ev:4.1f}x faster than mlflow in CPU time, "
              f"{mf_wall / ev_wall:4.1f}x in wall time (goal > 1x)")
        ours = evaluate(clf, X, y, list(SEVEN))
        for name in ("accuracy", "roc_auc", "log_loss"):
            key = {"accuracy": "accuracy_score", "log_loss": "log_loss"}.get(name, name)
            if key in got:
                assert abs(got[key] - ours.get(name).value) < 1e-9, (name, got[key])
        ok &= mf > ev and mf_wall > ev_wall
    else:
        print("  mlflow not installed (pip install -e '.[bench]'): comparison skipped")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 rows only, 2 repetitions")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--no-mlflow", action="store_true")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    reps = args.reps or (2 if args.quick else 3)
    use_mlflow = not args.no_mlflow
    if use_mlflow:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            use_mlflow = False
    from threadpoolctl import threadpool_limits

    ok = True
    # One BLAS thread for every contender: idle OpenBLAS threads spin after a call and would be
    # counted in the CPU time of whatever runs next.
    with threadpool_limits(1):
        for n in sizes:
            ok &= run_size(n, reps, use_mlflow)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
