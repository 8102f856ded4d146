"""Known metric names and the direction in which each one improves.

A bare number on a marker (``accuracy=0.9``) is only meaningful when the metric's direction is
known; this table is where that knowledge lives. Names follow scikit-learn's scorer names, plus
readable aliases and the plugin's own performance and drift readings.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

Direction = Literal["higher", "lower"]


class MetricInfo(NamedTuple):
    """What the plugin knows about a metric name."""

    name: str
    direction: Direction
    # "proportion": a share of counted events (Wilson intervals, McNemar);
    # "ranking": ROC AUC (DeLong); "score": anything else computed from predictions (bootstrap);
    # "performance"/"drift": readings of the plugin's own measurements.
    kind: str
    description: str = ""


def _table() -> dict[str, MetricInfo]:
    t: dict[str, MetricInfo] = {}

    def add(name: str, direction: Direction, kind: str, description: str = "") -> None:
        t[name] = MetricInfo(name, direction, kind, description)

    for n in ("accuracy", "balanced_accuracy", "top_k_accuracy"):
        add(n, "higher", "proportion")
    for base in ("precision", "recall", "f1", "jaccard"):
        add(base, "higher", "proportion" if base in ("precision", "recall") else "score")
        for avg in ("micro", "macro", "weighted", "samples"):
            add(f"{base}_{avg}", "higher", "score")
    add("balanced_accuracy", "higher", "score")
    for n in ("roc_auc", "roc_auc_ovr", "roc_auc_ovo", "roc_auc_ovr_weighted", "roc_auc_ovo_weighted"):
        add(n, "higher", "ranking" if n == "roc_auc" else "score")
    for n in ("average_precision", "matthews_corrcoef", "r2", "explained_variance", "d2_log_loss_score",
              "d2_absolute_error_score", "adjusted_rand_score", "rand_score", "mutual_info_score",
              "adjusted_mutual_info_score", "normalized_mutual_info_score", "homogeneity_score",
              "completeness_score", "v_measure_score", "fowlkes_mallows_score", "cohen_kappa"):
        add(n, "higher", "score")
    for n in ("neg_log_loss", "neg_brier_score", "neg_mean_squared_error", "neg_mean_absolute_error",
              "neg_root_mean_squared_error", "neg_mean_squared_log_error", "neg_median_absolute_error",
              "neg_mean_absolute_percentage_error", "neg_mean_poisson_deviance",
              "neg_mean_gamma_deviance", "neg_max_error", "neg_root_mean_squared_log_error"):
        add(n, "higher", "score")
    for n in ("log_loss", "brier_score", "mse", "mae", "rmse", "mean_squared_error",
              "mean_absolute_error", "root_mean_squared_error", "median_absolute_error",
              "mean_absolute_percentage_error", "max_error", "error_rate", "zero_one_loss",
              "hamming_loss"):
        add(n, "lower", "score")
    add("ece", "lower", "score", "expected calibration error: |accuracy - confidence| over 15 "
        "equal-width bins of the top-label probability, weighted by rows")
    # The plugin's performance readings (issue: performance gate).
    for n in ("latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms",
              "latency_mean_ms", "latency_max_ms", "latency_min_ms"):
        add(n, "lower", "performance", "per-call latency in milliseconds")
    add("throughput_rps", "higher", "performance", "calls or rows per second")
    add("peak_memory_mb", "lower", "performance", "peak traced allocation in MiB")
    add("rss_peak_mb", "lower", "performance", "peak resident set size in MiB")
    add("model_size_mb", "lower", "performance", "serialized model size in MiB")
    # Drift readings (issue: data and behaviour gates).
    add("drift_share", "lower", "drift", "share of drifted columns")
    add("drift_worst_effect", "lower", "drift", "largest effect size across columns")
    add("invariance_violation_rate", "lower", "drift")
    add("directional_violation_rate", "lower", "drift")
    add("determinism_violation_rate", "lower", "drift")
    return t


METRICS: dict[str, MetricInfo] = _table()

_UNIT = re.compile(r"(accuracy|balanced_accuracy|top_k_accuracy|precision|recall|f1|jaccard|roc_auc|"
                   r"average_precision)(_(micro|macro|weighted|samples|ovr|ovo|ovr_weighted|ovo_weighted))?$"
                   r"|brier_score|error_rate|zero_one_loss|hamming_loss|ece|rand_score|homogeneity_score|"
                   r"completeness_score|v_measure_score|fowlkes_mallows_score|normalized_mutual_info_score$")
_NON_NEGATIVE = {"log_loss", "mse", "mae", "rmse", "mean_squared_error", "mean_absolute_error",
                 "root_mean_squared_error", "median_absolute_error", "mean_absolute_percentage_error",
                 "max_error"}
_PLUS_MINUS_ONE = {"matthews_corrcoef", "cohen_kappa"}


def value_range(name: str) -> tuple[float, float] | None:
    """The values a known metric can take, when it is bounded: an interval that runs past them
    (a normal interval of an AUC of 0.9997 reaching 1.001) is cut at them."""
    if _UNIT.fullmatch(name):
        return 0.0, 1.0
    if name in _NON_NEGATIVE:
        return 0.0, float("inf")
    if name in _PLUS_MINUS_ONE:
        return -1.0, 1.0
    return None

# Readable names users type for scikit-learn's scorer names (lower-is-better spelled plainly).
ALIASES: dict[str, str] = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "rmse": "root_mean_squared_error",
    "auc": "roc_auc",
}

_SUFFIX_RULES: tuple[tuple[re.Pattern[str], Direction], ...] = (
    (re.compile(r"^latency_.*_ms$"), "lower"),
    (re.compile(r".*_(ms|seconds|s|mb|mib|bytes)$"), "lower"),
    (re.compile(r"^neg_.*"), "higher"),
    (re.compile(r".*_(rps|per_second)$"), "higher"),
)


def direction_of(name: str) -> Direction | None:
    """The direction in which ``name`` improves, or ``None`` when it is not known."""
    info = METRICS.get(name)
    if info is not None:
        return info.direction
    for pattern, direction in _SUFFIX_RULES:
        if pattern.match(name):
            return direction
    return None


def is_performance_reading(name: str, method: str | None) -> bool:
    """A reading judged by a relative budget (latency, throughput, memory, a benchmark): its
    change is shown as a ratio, a quality metric's as a difference (docs/reports.md)."""
    info = METRICS.get(name)
    return (info is not None and info.kind == "performance") or method == "benchmark"


def is_drift_reading(name: str) -> bool:
    """``drift_share`` or ``drift_worst_effect``: judged by the drift test that produced it (and
    a threshold on the marker), never against the baseline's reading of another batch."""
    # Not the behaviour rates (invariance, determinism, ...), also of kind "drift": those are
    # measured on the test's own data and compare with the baseline like any proportion.
    return name in ("drift_share", "drift_worst_effect")


def closest_names(name: str, n: int = 3) -> list[str]:
    """Known metric names that look like ``name``, best first (for 'did you mean')."""
    import difflib

    return difflib.get_close_matches(name, list(METRICS) + list(ALIASES), n=n, cutoff=0.6)
