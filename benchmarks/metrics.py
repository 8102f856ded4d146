"""Cost of metrics with their 95% intervals, against scikit-learn's point metrics and MLflow.

For 100,000 and 1,000,000 rows, in the same process, medians of ``--reps`` interleaved
repetitions:

1. Each metric on the same precomputed model outputs: scikit-learn's point metric alone against
   ``stats.metrics.estimate`` (value and interval; the path ``evaluate`` takes after its one
   call per model output), with the interval method used.
2. The seven metrics MLflow's default evaluator computes for a binary classifier (accuracy,
   precision, recall, f1, roc_auc, log_loss, average_precision):
   - scikit-learn's seven point metrics on precomputed outputs;
   - the seven with intervals through ``estimate`` on the same outputs (goal at 1,000,000 rows:
     at most 2x scikit-learn's seven);
   - ``stats.evaluation.evaluate(model, X, y, seven)``: end to end, model calls, input checks and
     the data fingerprint included;
   - ``mlflow.models.evaluate`` on the same model and rows (default evaluator, explainability
     off, a local file tracking store in a temporary directory), end to end (goal: the plugin's
     evaluate faster at both sizes). Skipped with a note when mlflow is not installed (extra
     ``bench``).

Times are given as CPU seconds of this process (all threads, and child processes; BLAS held to one thread for every
contender), the measure that stays put on a shared machine, with wall-clock seconds beside them
for the end-to-end rows.

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


def run_size(n: int, reps: int, use_mlflow: bool) -> bool:
    d = _data(n)
    cases = _cases(d)
    per: dict[str, tuple[list[float], list[float], str]] = {
        name: ([], [], "") for name, _, _ in cases
    }
    for _ in range(reps):
        for name, samples, sk in cases:
            spec = resolve(name)
            t_sk = _timed(sk)[1]
            e = estimate(spec, samples)
            t_ours = _timed(lambda spec=spec, samples=samples: estimate(spec, samples))[1]
            per[name][0].append(t_sk)
            per[name][1].append(t_ours)
            per[name] = (per[name][0], per[name][1], e.method)
    print(f"\n{n:,} rows (medians of {reps}, CPU time): each metric, value + 95% interval vs "
          "scikit-learn's point value, on precomputed model outputs")
    print(f"  {'metric':18s} {'sklearn':>10s} {'mlgate':>10s} {'ratio':>7s}  method")
    for name, (sk_t, ours_t, method) in per.items():
        a, b = _median(sk_t), _median(ours_t)
        print(f"  {name:18s} {a * 1000:8.1f}ms {b * 1000:8.1f}ms {b / a:6.2f}x  {method}")
    seven = {name: per[name] for name in SEVEN}
    sk7 = [sum(v[0][i] for v in seven.values()) for i in range(reps)]
    ours7 = [sum(v[1][i] for v in seven.values()) for i in range(reps)]
    clf, X, y = d["clf"], d["X"], d["y"]
    t_eval: list[tuple[float, float]] = []
    t_mlflow: list[tuple[float, float]] = []
    mlf = _MLflow(clf) if use_mlflow else None
    try:
        for _ in range(reps):
            t_eval.append(_timed(lambda: evaluate(clf, X, y, list(SEVEN))))
            if mlf is not None:
                t_mlflow.append(_timed(lambda: mlf.evaluate(X, y)))
        if mlf is not None:
            got = mlf.evaluate(X, y)
    finally:
        if mlf is not None:
            mlf.close()
    print(f"\n{n:,} rows: the seven metrics of MLflow's default classifier evaluator "
          f"(medians of {reps}; CPU s, wall s)")
    s7, o7 = _median(sk7), _median(ours7)
    ev, ev_wall = _median([c for _, c in t_eval]), _median([w for w, _ in t_eval])
    print(f"  scikit-learn, seven point metrics                {s7:8.2f}")
    print(f"  mlgate estimate, seven with 95% intervals        {o7:8.2f}   {o7 / s7:5.2f}x sklearn"
          + ("   (goal <= 2x)" if n >= 1_000_000 else ""))
    print(f"  mlgate evaluate(model, X, y), end to end         {ev:8.2f} {ev_wall:8.2f}")
    ok = o7 <= 2 * s7 if n >= 1_000_000 else True
    if mlf is not None:
        mf, mf_wall = _median([c for _, c in t_mlflow]), _median([w for w, _ in t_mlflow])
        print(f"  mlflow {mlf.version} models.evaluate, end to end    {mf:8.2f} {mf_wall:8.2f}"
              f"   mlgate evaluate {mf / ev:4.1f}x faster in CPU, {mf_wall / ev_wall:4.1f}x in "
              "wall time (goal > 1x)")
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
