"""One resolver for every option: command line > ini > default.

Command-line defaults are ``None`` so an ini value is never shadowed by a flag's default. Every
malformed value raises ``ConfigError`` naming the option; the plugin re-raises it as a
``pytest.UsageError``. No pytest import: the getters are passed in.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pytest_mlgate.defaults import DEFAULT_BASELINE, DEFAULT_REGISTRY
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.markers import GATES, GatePath, parse_gate_paths

# The benchmark's defaults: warm-up calls, minimum timed rounds, seconds of timed rounds.
# perf.options.BenchmarkOptions takes its defaults from here, where every ini default lives:
# this module is imported on every pytest run, the perf package (numpy) is not.
BENCHMARK_WARMUP = 2
BENCHMARK_MIN_ROUNDS = 20
BENCHMARK_MAX_TIME_S = 1.0


# NamedTuples, not dataclasses: this module is imported on every pytest run, and creating a
# frozen dataclass of Settings' size costs a few milliseconds.
class Option(NamedTuple):
    """A setting: its ini key, its command-line flag (if any) and its help text. ``shown`` is
    what ``--help`` says the default is when ``default`` is None (not set)."""

    ini: str
    flag: str | None
    kind: str  # "bool", "str", "path", "registry", "int", "float", "choice", "lines"
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    shown: str = "none"

    @property
    def ini_type(self) -> Literal["linelist", "string"]:
        return "linelist" if self.kind == "lines" else "string"

    @property
    def default_text(self) -> str:
        """The default as one would write it in the ini file."""
        d = self.default
        if d is None:
            return self.shown
        if isinstance(d, bool):
            return "true" if d else "false"
        if isinstance(d, (list, tuple)):
            return " ".join(map(str, d)) or "none"
        return str(d)


_DRIFT_DEFAULT = "see docs/drift.md"

OPTIONS: tuple[Option, ...] = (
    Option("mlgate", "--mlgate", "bool", False, "gate mode: evaluate every gate and fail the run when one fails"),
    Option("mlgate_report", "--mlgate-report", "path", None, "write the JSON gate report to this path"),
    Option("mlgate_markdown", "--mlgate-markdown", "path", None, "write the gate report as Markdown to this path"),
    Option("mlgate_html", "--mlgate-html", "path", None,
           "write the gate report as one self-contained HTML page with plots to this path (extra: html)"),
    Option("mlgate_baseline", "--mlgate-baseline", "path", DEFAULT_BASELINE, "baseline file (relative to the rootdir)"),
    Option("mlgate_update_baseline", "--mlgate-update-baseline", "bool", False,
           "write the baseline from this run when every gate passed on a complete run"),
    Option("mlgate_registry", "--mlgate-registry", "registry", DEFAULT_REGISTRY,
           "model registry: a directory, or mlflow:<tracking URI> (extra: mlflow)"),
    Option("mlgate_deliver", "--mlgate-deliver", "bool", False,
           "package, publish and deploy the candidate model when every gate passed on a complete run"),
    Option("mlgate_seed", "--mlgate-seed", "int", None, "session seed; a random one is chosen when absent",
           shown="random"),
    Option("mlgate_gate_paths", None, "lines", [], "assign gates by path: GATE:PATH per line, e.g. unit:tests/unit"),
    Option("mlgate_required_gates", None, "lines", list(GATES),
           "gates that must have at least one test that ran"),
    Option("mlgate_level", None, "float", 0.95, "confidence level of metric intervals"),
    Option("mlgate_alpha", None, "float", 0.05, "significance level of regression verdicts"),
    Option("mlgate_margin", None, "float", 0.0, "non-inferiority margin for regressions against the baseline"),
    Option("mlgate_inconclusive", None, "choice", "pass", "policy for inconclusive verdicts (regressions, timing budgets on a busy machine)",
           choices=("pass", "fail")),
    Option("mlgate_threshold_policy", None, "choice", "point",
           "point: the value must clear the threshold; confident: the whole interval must",
           choices=("point", "confident")),
    Option("mlgate_min_slice_size", None, "int", 30, "slices with fewer rows are skipped"),
    Option("mlgate_bootstrap", None, "int", 1000, "bootstrap resamples for metrics without an analytic interval"),
    Option("mlgate_perf_tolerance", None, "float", 0.10, "relative tolerance for performance regressions"),
    Option("mlgate_benchmark_warmup", None, "int", BENCHMARK_WARMUP, "warm-up calls before timing"),
    Option("mlgate_benchmark_min_rounds", None, "int", BENCHMARK_MIN_ROUNDS, "minimum timed rounds"),
    Option("mlgate_benchmark_max_time", None, "float", BENCHMARK_MAX_TIME_S,
           "time budget in seconds that calibrates rounds"),
    Option("mlgate_benchmark_threads", None, "str", "1", "BLAS/OpenMP threads while timing (a number, or 'none' to leave them)"),
    Option("mlgate_allow_pickle", None, "bool", False, "allow joblib/pickle serialization of candidates"),
    Option("mlgate_deploy", None, "lines", [], "deploy commands, one per line (JSON argv list or shell-like words; no shell)"),
    Option("mlgate_deploy_timeout", None, "float", 600.0, "seconds a deploy command may run"),
    Option("mlgate_serve_latency_p95_ms", None, "float", None,
           "budget of the serve-check deploy target: served latency p95 in ms"),
    Option("mlgate_aliases", None, "lines", [], "registry aliases to move to a delivered version (besides latest)"),
    Option("mlgate_signing_key", None, "str", None,
           "Ed25519 private key that signs delivered artefacts: a PEM file path, or env:VARIABLE (never the key itself)"),
    Option("mlgate_notify", None, "lines", [],
           "notification targets, one per line: webhook URL, slack URL or email ADDRESS (URL may be env:VARIABLE)"),
    Option("mlgate_notify_on", None, "choice", "failure", "when to notify: failure, always, or change (the verdict changed)",
           choices=("failure", "always", "change")),
    Option("mlgate_smtp_host", None, "str", None, "SMTP server for email targets", shown="localhost"),
    Option("mlgate_smtp_port", None, "int", None, "SMTP port (465: implicit TLS; else STARTTLS when offered)",
           shown="25"),
    Option("mlgate_smtp_from", None, "str", None, "sender address of notification e-mails",
           shown="pytest-mlgate@HOSTNAME"),
    Option("mlgate_on_degraded", None, "str", None,
           "command mlgate monitor runs when its verdict is not healthy (JSON argv list or shell-like words; no shell)"),
    # None: check_drift's own defaults apply (docs/drift.md), kept with the drift statistics.
    Option("mlgate_drift_alpha", None, "float", None, "significance level of drift tests",
           shown=_DRIFT_DEFAULT),
    Option("mlgate_drift_numeric_threshold", None, "float", None, "effect-size threshold for numeric drift",
           shown=_DRIFT_DEFAULT),
    Option("mlgate_drift_categorical_threshold", None, "float", None, "effect-size threshold for categorical drift",
           shown=_DRIFT_DEFAULT),
)


def option_dest(opt: Option) -> str:
    """The argparse destination of an option's flag: its ini key."""
    return opt.ini


class Settings(NamedTuple):
    """Resolved settings of one run. Paths are absolute (relative ones resolve against rootdir)."""

    gate_mode: bool
    report: Path | None
    markdown: Path | None
    html: Path | None
    baseline: Path
    update_baseline: bool
    registry: Path | str  # a directory, or "mlflow:<tracking URI>"
    deliver: bool
    seed: int | None
    gate_paths: tuple[GatePath, ...]
    required_gates: tuple[str, ...]
    level: float
    alpha: float
    margin: float
    inconclusive: str
    threshold_policy: str
    min_slice_size: int
    bootstrap: int
    perf_tolerance: float
    benchmark_warmup: int
    benchmark_min_rounds: int
    benchmark_max_time: float
    benchmark_threads: int | None
    allow_pickle: bool
    deploy: tuple[str, ...]
    deploy_timeout: float
    serve_latency_p95_ms: float | None
    aliases: tuple[str, ...]
    signing_key: str | None
    notify: tuple[str, ...]
    notify_on: str
    smtp_host: str | None
    smtp_port: int | None
    smtp_from: str | None
    on_degraded: str | None
    drift_alpha: float | None
    drift_numeric_threshold: float | None
    drift_categorical_threshold: float | None


def _name(opt: Option, from_cli: bool) -> str:
    if from_cli and opt.flag:
        return opt.flag
    return f"ini {opt.ini}"


def _convert(opt: Option, raw: Any, from_cli: bool, rootdir: Path) -> Any:
    where = _name(opt, from_cli)
    if opt.kind == "lines":
        return [str(x).strip() for x in raw if str(x).strip()]
    if raw is None:
        return None
    if opt.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where} = {raw!r} is not a boolean; use true or false")
    text = str(raw).strip()
    if opt.kind in ("str", "choice"):
        if opt.choices and text not in opt.choices:
            raise ConfigError(f"{where} = {raw!r}: expected one of {', '.join(opt.choices)}")
        return text
    if opt.kind == "registry" and text.startswith("mlflow:"):
        return text  # a tracking URI, not a path (Path would fold its "//")
    if opt.kind in ("path", "registry"):
        if not text:
            raise ConfigError(f"{where} is empty; give a file or directory path")
        p = Path(text).expanduser()
        return p if p.is_absolute() else rootdir / p
    if opt.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where} = {raw!r} is not an integer") from None
    if opt.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{where} = {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{where} = {raw!r} must be a finite number")
        return value
    raise AssertionError(opt.kind)  # pragma: no cover


def resolve(
    getoption: Callable[[str], Any],
    getini: Callable[[str], Any],
    rootdir: Path,
) -> Settings:
    """Resolve every option once. ``getoption(dest)`` returns the CLI value or None;
    ``getini(key)`` the ini value (pytest returns the declared default of a line list when unset,
    an empty string for an unset string)."""
    values: dict[str, Any] = {}
    from_cli: dict[str, bool] = {}  # ini key -> whether the value came from its flag
    for opt in OPTIONS:
        cli = getoption(option_dest(opt)) if opt.flag else None
        from_cli[opt.ini] = cli is not None
        if cli is not None:
            values[opt.ini] = _convert(opt, cli, True, rootdir)
            continue
        raw = getini(opt.ini)
        if opt.kind == "lines":
            raw = opt.default if raw is None else raw
        elif raw is None or (isinstance(raw, str) and raw.strip() == ""):
            raw = opt.default
        values[opt.ini] = _convert(opt, raw, False, rootdir)
    key = values["mlgate_signing_key"]
    if key and ("-----BEGIN" in key or "PRIVATE KEY" in key):
        raise ConfigError(
            "ini mlgate_signing_key holds a key itself; it must name where the key is: a PEM file "
            "path (outside the repository) or env:VARIABLE. Remove the key from the configuration "
            "file and make a new one with `mlgate keygen PATH`: a key written into a file that is "
            "committed is no longer secret.")
    if key and not key.startswith("env:"):
        path = Path(key).expanduser()
        values["mlgate_signing_key"] = str(path if path.is_absolute() else rootdir / path)
    return _validate(values, from_cli)


def _check_range(key: str, value: float | None, low: float, high: float, *, closed: bool = False) -> None:
    if value is None:
        return
    ok = low <= value <= high if closed else low < value < high
    if not ok:
        bounds = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise ConfigError(f"ini {key} = {value!r} must lie in {bounds}")


def _check_paths(settings: Settings, from_cli: dict[str, bool]) -> None:
    """Paths the run will write, checked before any test runs (not after the suite): a file
    path that is a directory, or under a file, is refused. Missing directories are made when
    the file is written, as pytest's own --junitxml does."""
    from pytest_mlgate.atomic import output_file_problem

    by_ini = {opt.ini: opt for opt in OPTIONS}
    for key, path in (("mlgate_report", settings.report), ("mlgate_markdown", settings.markdown),
                      ("mlgate_html", settings.html), ("mlgate_baseline", settings.baseline)):
        problem = None if path is None else output_file_problem(path, make_parents=True)
        if problem:
            raise ConfigError(f"{_name(by_ini[key], from_cli[key])} = {path}: {problem}")
    if settings.html is not None:
        from pytest_mlgate.report.html import html_extra_missing

        missing = html_extra_missing()
        if missing:  # said now, not after the suite ran
            raise ConfigError(f"{_name(by_ini['mlgate_html'], from_cli['mlgate_html'])} = {settings.html}: {missing}")
    _check_collisions(settings, from_cli)
    registry = settings.registry
    if isinstance(registry, str):  # mlflow:<tracking URI>: the extra must be installed
        from pytest_mlgate.delivery.registry_uri import tracking_uri
        from pytest_mlgate.errors import RegistryError

        try:
            tracking_uri(registry)
        except RegistryError as exc:
            raise ConfigError(f"{_name(by_ini['mlgate_registry'], from_cli['mlgate_registry'])} = "
                              f"{registry}: {exc}") from None
        return
    try:
        not_dir = registry.exists() and not registry.is_dir()
    except OSError as exc:
        raise ConfigError(f"{_name(by_ini['mlgate_registry'], from_cli['mlgate_registry'])} = "
                          f"{registry}: {exc.strerror or exc}; give a shorter or accessible "
                          "path") from None
    if not_dir:
        raise ConfigError(f"{_name(by_ini['mlgate_registry'], from_cli['mlgate_registry'])} = "
                          f"{registry}: {registry} is a file, not a directory; give the registry's "
                          "directory")


def _check_collisions(settings: Settings, from_cli: dict[str, bool]) -> None:
    """Two outputs that are one file would overwrite each other: a report written over the
    baseline (or its samples file) loses the committed baseline, and two reports at one path
    keep only the last. Compared after resolving symlinks."""
    by_ini = {opt.ini: opt for opt in OPTIONS}

    def label(key: str) -> str:
        return _name(by_ini[key], from_cli[key])

    named: list[tuple[str, Path]] = []
    for key, path in (("mlgate_report", settings.report), ("mlgate_markdown", settings.markdown),
                      ("mlgate_html", settings.html)):
        if path is not None:
            named.append((f"{label(key)} = {path}", path))
    if not named:
        return
    from pytest_mlgate.baseline import side_path  # numpy: only when a report is asked for

    base = label("mlgate_baseline")
    named.append((f"{base} = {settings.baseline}", settings.baseline))
    named.append((f"the baseline's samples file {side_path(settings.baseline)} (from {base})",
                  side_path(settings.baseline)))
    from pytest_mlgate.atomic import same_file_problem

    problem = same_file_problem(named)
    if problem:
        raise ConfigError(problem)


def _validate(v: dict[str, Any], from_cli: dict[str, bool]) -> Settings:
    try:
        gate_paths = parse_gate_paths(v["mlgate_gate_paths"])
    except ValueError as exc:
        raise ConfigError(f"ini mlgate_gate_paths: {exc}") from None
    required: list[str] = []
    for line in v["mlgate_required_gates"]:
        for gate in line.replace(",", " ").split():
            if gate not in GATES:
                raise ConfigError(
                    f"ini mlgate_required_gates names unknown gate {gate!r}; gates are {', '.join(GATES)}"
                )
            required.append(gate)
    _check_range("mlgate_level", v["mlgate_level"], 0.0, 1.0)
    _check_range("mlgate_alpha", v["mlgate_alpha"], 0.0, 1.0)
    _check_range("mlgate_drift_alpha", v["mlgate_drift_alpha"], 0.0, 1.0)
    for key in ("mlgate_margin", "mlgate_perf_tolerance", "mlgate_drift_numeric_threshold",
                "mlgate_drift_categorical_threshold", "mlgate_benchmark_max_time"):
        if v[key] is not None and v[key] < 0:
            raise ConfigError(f"ini {key} = {v[key]!r} must be >= 0")
    if v["mlgate_serve_latency_p95_ms"] is not None and not v["mlgate_serve_latency_p95_ms"] > 0:
        raise ConfigError(f"ini mlgate_serve_latency_p95_ms = {v['mlgate_serve_latency_p95_ms']!r} "
                          "must be a number of milliseconds > 0")
    if v["mlgate_deploy_timeout"] <= 0:
        raise ConfigError(f"ini mlgate_deploy_timeout = {v['mlgate_deploy_timeout']!r} must be > 0")
    for key in ("mlgate_min_slice_size", "mlgate_bootstrap", "mlgate_benchmark_min_rounds"):
        if v[key] is not None and v[key] < 1:
            raise ConfigError(f"ini {key} = {v[key]!r} must be >= 1")
    if v["mlgate_benchmark_warmup"] is not None and v["mlgate_benchmark_warmup"] < 0:
        raise ConfigError(f"ini mlgate_benchmark_warmup = {v['mlgate_benchmark_warmup']!r} must be >= 0")
    seed = v["mlgate_seed"]
    if seed is not None and not 0 <= seed < 2**63:
        raise ConfigError(f"--mlgate-seed / ini mlgate_seed = {seed} must be between 0 and 2**63 - 1")
    threads_text = str(v["mlgate_benchmark_threads"]).strip().lower()
    threads: int | None
    if threads_text in ("none", ""):
        threads = None
    else:
        try:
            threads = int(threads_text)
        except ValueError:
            raise ConfigError(
                f"ini mlgate_benchmark_threads = {v['mlgate_benchmark_threads']!r}: give a number of "
                f"threads or 'none'"
            ) from None
        if threads < 1:
            raise ConfigError(f"ini mlgate_benchmark_threads = {threads} must be >= 1 (or 'none')")
    # Every other field is named after its ini key without the "mlgate_" prefix.
    fields = {key.removeprefix("mlgate_"): value for key, value in v.items() if key != "mlgate"}
    fields.update(
        gate_mode=v["mlgate"],
        seed=seed,
        gate_paths=gate_paths,
        required_gates=tuple(dict.fromkeys(required)),
        benchmark_threads=threads,
        deploy=tuple(v["mlgate_deploy"]),
        aliases=tuple(v["mlgate_aliases"]),
        notify=tuple(v["mlgate_notify"]),
    )
    settings = Settings(**fields)
    _check_paths(settings, from_cli)
    _check_delivery(settings)
    _check_notify(settings)
    if (settings.update_baseline or settings.deliver) and not settings.gate_mode:
        key = "mlgate_update_baseline" if settings.update_baseline else "mlgate_deliver"
        flag = "--mlgate-update-baseline" if settings.update_baseline else "--mlgate-deliver"
        where = flag if from_cli.get(key) else f"ini {key} = true"
        raise ConfigError(f"{where} needs gate mode: add --mlgate (or ini mlgate = true)")
    return settings


def _check_notify(settings: Settings) -> None:
    """Notification targets and the retraining command are checked at start-up."""
    if settings.notify or settings.on_degraded or settings.smtp_port is not None:
        from pytest_mlgate.notify.config import NotifyConfig

        NotifyConfig.from_ini(lambda key: getattr(settings, key.removeprefix("mlgate_")), Path("."))


def _check_delivery(settings: Settings) -> None:
    """Deploy lines, aliases and the signing key are checked at start-up, not after the suite
    ran. The delivery modules are imported only when these are set."""
    if settings.deploy:
        from pytest_mlgate.delivery.deploy import parse_deploy_targets

        parse_deploy_targets(settings.deploy)
    if settings.aliases:
        from pytest_mlgate.delivery.artifact import validate_alias
        from pytest_mlgate.errors import ArtifactError

        for alias in settings.aliases:
            if alias == "latest":
                raise ConfigError("ini mlgate_aliases lists 'latest', which always follows the newest "
                                  "published version by itself; list other aliases (such as staging)")
            try:
                validate_alias(alias)
            except ArtifactError as exc:
                raise ConfigError(f"ini mlgate_aliases: {exc}") from None
    if settings.signing_key and settings.deliver:
        from pytest_mlgate.delivery.signing import load_signing_key

        load_signing_key(settings.signing_key)
