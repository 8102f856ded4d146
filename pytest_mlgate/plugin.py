"""pytest wiring only: options, ini keys, markers, the fixtures and hook registration.

The work happens elsewhere: ``markers`` validates marker arguments, ``fixture`` is the fixture
object, ``verdicts`` decides a test's thresholds and regressions, ``controller`` decides the gates,
``finish`` does the end-of-run work, ``xdist`` carries data between pytest-xdist workers and the
controller, ``report`` renders, ``delivery`` ships the model.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_mlgate import hookspecs
from pytest_mlgate.errors import ConfigError, MarkerError, MlgateError, without_plugin_frames
from pytest_mlgate.markers import (
    GATES,
    MARKER_HELP,
    GateSpec,
    gate_for_path,
    merge_specs,
    spec_from_marker,
)
from pytest_mlgate.seeds import (
    GlobalState,
    global_state,
    restore_global_state,
    seed_for_test,
    seed_globals,
)
from pytest_mlgate.settings import OPTIONS, Settings, option_dest, resolve

if TYPE_CHECKING:
    from _pytest.nodes import Node

    from pytest_mlgate.controller import Controller  # noqa: F401 - named in a StashKey string
    from pytest_mlgate.fixture import Mlgate
    from pytest_mlgate.record import Record
    from pytest_mlgate.services import ProcessServices

# The fixture and the controller are imported when first needed: pytest imports this module for
# every run, and a suite without gated tests should not pay for them.

SETTINGS_KEY = pytest.StashKey[Settings]()
SERVICES_KEY = pytest.StashKey["ProcessServices"]()
CONTROLLER_KEY = pytest.StashKey["Controller"]()
SEED_KEY = pytest.StashKey[int]()
DESELECTED_KEY = pytest.StashKey[dict[str, int]]()  # gate -> gated tests deselected
SPEC_KEY = pytest.StashKey[GateSpec]()
GATED_ITEMS_KEY = pytest.StashKey[list[pytest.Item]]()  # gated tests as collected
RECORD_KEY = pytest.StashKey["Record"]()
ITEM_SEED_KEY = pytest.StashKey[int]()
SETUP_STATE_KEY = pytest.StashKey[GlobalState]()

PERF_GROUP = "mlgate-performance"
T = TypeVar("T")


def _stashed(item: pytest.Item, key: pytest.StashKey[T]) -> T | None:
    # ``Stash.get`` raises and catches a KeyError on a miss: a cost on every test without a gate.
    return item.stash[key] if key in item.stash else None  # noqa: SIM401


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlgate", "model CI/CD gates (pytest-mlgate)")
    for opt in OPTIONS:
        if opt.flag:
            if opt.kind == "bool":
                group.addoption(opt.flag, action="store_true", default=None, dest=option_dest(opt),
                                help=f"{opt.help} (ini: {opt.ini})")
            else:
                group.addoption(opt.flag, action="store", default=None, dest=option_dest(opt),
                                metavar="N" if opt.kind == "int" else "PATH",
                                help=f"{opt.help} (ini: {opt.ini})")
        default = list(opt.default) if opt.kind == "lines" else None
        parser.addini(opt.ini, f"{opt.help} (default: {opt.default_text})", type=_ini_type(opt), default=default)


# pytest 9.2 takes a union of types for an ini key: a native TOML table ([tool.pytest]) may then
# write `mlgate = true` or `mlgate_margin = 0.01`, while an INI file or -o still gives the text,
# which settings.resolve converts and checks with its own messages. Earlier pytest: text only.
_NATIVE_INI_TYPES: dict[str, Any] = {"bool": str | bool, "int": str | int, "float": str | float | int}


def _ini_type(opt: Any) -> Any:
    if opt.ini_type != "string" or pytest.version_tuple[:2] < (9, 2):
        return opt.ini_type
    return _NATIVE_INI_TYPES.get(opt.kind, "string")


def _worker_input(config: pytest.Config) -> dict[str, Any] | None:
    return getattr(config, "workerinput", None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for gate in GATES:
        config.addinivalue_line("markers", MARKER_HELP[gate])
    try:
        settings = resolve(lambda dest: config.getoption(dest, None), config.getini, config.rootpath)
    except ConfigError as exc:
        raise pytest.UsageError(f"pytest-mlgate: {exc}") from None
    config.stash[SETTINGS_KEY] = settings
    repeats = config.getoption("count", None) if config.pluginmanager.hasplugin("repeat") else None
    if settings.gate_mode and isinstance(repeats, int) and repeats > 1:
        # pytest-repeat renames each test (test_x[1-3], ...), so no test would match its baseline
        # entry and every comparison would silently stop; a gate must not pass on that.
        raise pytest.UsageError(
            f"pytest-mlgate: pytest-repeat's --count {repeats} renames every test "
            f"(test[1-{repeats}], ...), so none would match its baseline entry and regressions would "
            f"go unseen. Run repeats without --mlgate, or raise the rounds inside the test instead "
            f"(mlgate.benchmark(..., min_rounds=N)).")
    workerinput = _worker_input(config)
    if settings.gate_mode and config.inipath is None and workerinput is None:
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            f"pytest-mlgate: gate mode runs without a configuration file (none found from rootdir "
            f"{config.rootpath}), so every mlgate_* ini setting is at its default. If the project "
            "has one, a path given after an option moved the rootdir: write options with '=' "
            "(--mlgate-registry=/abs/dir), or pass --rootdir or -c."), stacklevel=2)
    if workerinput is not None:
        seed = int(workerinput["mlgate_seed"])
        staging = Path(workerinput["mlgate_staging"]) if workerinput.get("mlgate_staging") else None
        workers = int(workerinput.get("workercount", 1))
    else:
        seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**32)
        # A path, not a directory yet: it is made on first use (a candidate, baseline samples, the
        # timing lock) and removed when pytest unconfigures, whatever happened in between.
        staging = Path(tempfile.gettempdir()) / f"mlgate-staging-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        config.add_cleanup(lambda: shutil.rmtree(staging, ignore_errors=True))
        workers = 1
    config.stash[SEED_KEY] = seed
    config.stash[DESELECTED_KEY] = {}
    config.stash[GATED_ITEMS_KEY] = []
    from pytest_mlgate.services import ProcessServices

    services = ProcessServices(settings, staging, workers)
    config.stash[SERVICES_KEY] = services
    if workerinput is None and (settings.gate_mode or settings.report or settings.markdown or settings.html):
        from pytest_mlgate.controller import Controller

        controller = Controller(config, settings, seed, services)
        config.stash[CONTROLLER_KEY] = controller
        config.pluginmanager.register(controller, "mlgate-controller")
        if settings.gate_mode:
            try:
                services.baseline  # noqa: B018 - load now so a corrupt file stops the run at once
            except MlgateError as exc:
                raise pytest.UsageError(f"pytest-mlgate: {exc}") from None
    if settings.gate_mode or settings.seed is not None:
        seeder = SeederAfterOthers if _randomly_reseeds(config) else Seeder
        config.pluginmanager.register(seeder(seed), "mlgate-seeder")
    if config.pluginmanager.hasplugin("rerunfailures"):
        config.pluginmanager.register(RerunReports(), "mlgate-rerun-reports")
    distributing = workerinput is None and config.getoption("dist", "no") != "no"  # xdist's controller
    if not distributing and (settings.gate_mode or settings.report or settings.markdown or settings.html):
        config.pluginmanager.register(ReportData(services), "mlgate-report-data")
    if distributing:
        from pytest_mlgate.xdist import XdistHooks

        config.pluginmanager.register(XdistHooks(seed, staging, config.stash.get(CONTROLLER_KEY, None)),
                                      "mlgate-xdist")


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash[SETTINGS_KEY]
    seed = config.stash[SEED_KEY]
    randomly = _randomly_line(config, seed, settings.gate_mode or settings.seed is not None)
    if not settings.gate_mode:
        return [f"mlgate: seed {seed} (gate mode off; --mlgate turns it on)", *randomly]
    parts = [f"mlgate: gate mode on, seed {seed} (--mlgate-seed {seed} repeats it)", *randomly]
    parts.append(f"mlgate: required gates {', '.join(settings.required_gates) or 'none'}; "
                 f"baseline {_rel(config, settings.baseline)}"
                 + (" (update)" if settings.update_baseline else ""))
    if settings.deliver:
        parts.append(f"mlgate: deliver to {_rel(config, settings.registry)}")
    return parts


def _randomly_reseeds(config: pytest.Config) -> bool:
    """pytest-randomly is active and reseeds the global random state in every test's hooks."""
    pm = config.pluginmanager
    return (pm.hasplugin("randomly") or pm.hasplugin("pytest_randomly")) \
        and bool(config.getoption("randomly_reset_seed", False))


def _randomly_line(config: pytest.Config, seed: int, seeding: bool) -> list[str]:
    """Who seeds what, when pytest-randomly reseeds every test too (docs/seeds.md)."""
    if not _randomly_reseeds(config):
        return []
    theirs = f"--randomly-seed={config.getoption('randomly_seed', '?')}"
    if seeding:
        return [f"mlgate: pytest-randomly reseeds every test ({theirs}); gated tests and tests using "
                f"the mlgate fixture are seeded from the mlgate seed {seed} after it"]
    return [f"mlgate: pytest-randomly seeds every test ({theirs}); --mlgate or --mlgate-seed seeds "
            f"gated tests and tests using the mlgate fixture from the mlgate seed instead"]


def _rel(config: pytest.Config, path: Path | str) -> str:
    if isinstance(path, str):  # an MLflow registry URI
        return path
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


# -- collection ---------------------------------------------------------------------------------

def _gate_marks(node: Node) -> list[Any]:
    return [mark for mark in node.own_markers if mark.name in GATES]


def _spec_for(item: pytest.Item, inherited: list[Any], settings: Settings) -> GateSpec | None:
    """The item's gate spec, validated; MarkerError for a bad marker. ``inherited`` are the gate
    markers of its collectors (module, classes), nearest first."""
    found: dict[str, list[Any]] = {}
    for mark in (*_gate_marks(item), *inherited):  # nearest first, as in iter_markers
        found.setdefault(mark.name, []).append(mark)
    if len(found) > 1:
        raise MarkerError(
            f"{item.nodeid}: a test belongs to one gate, but it is marked {' and '.join(sorted(found))}; "
            f"keep one of the markers"
        )
    if found:
        (gate, marks), = found.items()
        spec = merge_specs([spec_from_marker(item.nodeid, gate, m.args, m.kwargs) for m in marks])
        callspec = getattr(item, "callspec", None)
        if spec.key and callspec is not None:
            # One key on a parametrized test: each parameter set keeps its own baseline entry.
            spec = spec._replace(key=f"{spec.key}[{callspec.id}]")
        return spec
    if settings.gate_paths:
        try:
            rel = Path(item.path).relative_to(item.config.rootpath)
        except ValueError:
            return None
        path_gate = gate_for_path(rel, settings.gate_paths)
        if path_gate is not None:
            return GateSpec(gate=path_gate, source="path")
    return None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    # Once per collector (module, class), not once per name in a module: a bad marker turns
    # the collector's report into a collection error naming the test, as pytest does for a bad
    # parametrize, and none of its tests run.
    report = yield
    if report.outcome != "passed" or not report.result:
        return report
    settings = collector.config.stash[SETTINGS_KEY]
    gated_items = collector.config.stash[GATED_ITEMS_KEY]
    # The collectors' gate markers are looked up once here; for each test only its own markers.
    inherited = [mark for node in reversed(collector.listchain()) for mark in _gate_marks(node)]
    xdist = None
    errors = []
    for node in report.result:
        if not isinstance(node, pytest.Item) or not (inherited or settings.gate_paths or _gate_marks(node)):
            continue
        try:
            spec = _spec_for(node, inherited, settings)
        except MarkerError as exc:
            errors.append(str(exc))
            continue
        if spec is None:
            continue
        node.stash[SPEC_KEY] = spec
        gated_items.append(node)
        if spec.source == "path":
            # So that `-m unit` selects it, as it selects a test that carries the marker itself.
            node.add_marker(spec.gate)
        if spec.gate == "performance":
            if xdist is None:
                xdist = collector.config.pluginmanager.hasplugin("xdist")
            if xdist:
                node.add_marker(pytest.mark.xdist_group(PERF_GROUP))
    if errors:
        report.outcome = "failed"
        report.longrepr = "\n".join(errors)
        report.result = []
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    counts = items[0].config.stash[DESELECTED_KEY]
    for item in items:
        spec = _stashed(item, SPEC_KEY)
        if spec is not None:
            counts[spec.gate] = counts.get(spec.gate, 0) + 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    owners: dict[str, str] = {}
    for item in items:
        spec = _stashed(item, SPEC_KEY)
        if spec is None or spec.key is None:
            continue
        other = owners.setdefault(spec.key, item.nodeid)
        if other != item.nodeid:
            message = (f"pytest-mlgate: key={spec.key!r} is used by {other} and {item.nodeid}; a "
                       f"baseline key names one test, so give each test its own key")
            controller = config.stash.get(CONTROLLER_KEY, None)
            if controller is not None:
                controller.usage_error = message  # the reports lead with it, not with gates that ran nothing
            if hasattr(config, "workerinput"):
                # A pytest-xdist worker: a UsageError here kills the worker and xdist fails with an
                # INTERNALERROR. Report it as a collection error instead (the controller shows it
                # once, however many workers found it) and run nothing.
                # The attribute travels with the report (xdist sends a report's __dict__), so the
                # controller reports the usage error as a plain run does.
                report = pytest.CollectReport("", "failed", message, [], sections=[])
                report.mlgate_usage_error = message  # type: ignore[attr-defined]
                config.hook.pytest_collectreport(report=report)
                items[:] = []
                return
            raise pytest.UsageError(message)


def pytest_collection_finish(session: pytest.Session) -> None:
    # By node id as the reports will carry it (pytest-xdist's loadgroup renames items first).
    # Deselected tests stay in the map; they send no report to look them up.
    services = session.config.stash[SERVICES_KEY]
    services.gated.update((item.nodeid, item.stash[SPEC_KEY]) for item in session.config.stash[GATED_ITEMS_KEY])
    controller = session.config.stash.get(CONTROLLER_KEY, None)
    if controller is not None:
        controller.add_collected(item.nodeid for item in session.items)
        deselected: dict[str, int] = session.config.stash[DESELECTED_KEY]
        controller.deselected = dict(deselected)


# -- running ------------------------------------------------------------------------------------

def _test_id(item: pytest.Item) -> str:
    # pytest-xdist's loadgroup appends "@group" to node ids; baselines and seeds use the real id.
    # The suffix is "@" + the sorted names of all the item's xdist_group markers joined by "_"
    # (ours and the user's): strip exactly that, so the seed and the baseline key are the plain
    # run's also when the user groups a gated test themselves.
    nodeid = item.nodeid
    names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
    suffix = "@" + "_".join(sorted(names))
    return nodeid[: -len(suffix)] if names and nodeid.endswith(suffix) else nodeid


def _item_seed(item: pytest.Item) -> int:
    seed = _stashed(item, ITEM_SEED_KEY)
    if seed is None:
        seed = item.stash[ITEM_SEED_KEY] = seed_for_test(item.config.stash[SEED_KEY], _test_id(item))
    return seed


def _record_for(item: pytest.Item) -> Record:
    """The record of the test's current attempt. A record whose attempt ended (the test body
    finished, or the fixture was torn down) while the test is set up or run again was left by an
    earlier attempt (pytest-rerunfailures): only the final attempt counts, so it is discarded
    with everything it added and a fresh one is made."""
    record = _stashed(item, RECORD_KEY)
    if record is None or record.ended:
        from pytest_mlgate.fixture import discard_record
        from pytest_mlgate.record import Record

        services = item.config.stash[SERVICES_KEY]
        if record is not None:
            discard_record(record, item, services)
        record = Record(nodeid=_test_id(item), spec=_stashed(item, SPEC_KEY))
        record.seed = _item_seed(item)
        item.stash[RECORD_KEY] = record
        services.records[item.nodeid] = record
    return record


class ReportData:
    """In the process that runs the tests (plain pytest or a pytest-xdist worker): put each
    gated test's data on its reports, which is where the controller reads it, before anyone
    else sees them (pytest-xdist sends a worker's reports on from this same hook)."""

    def __init__(self, services: ProcessServices) -> None:
        self.services = services

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.services.take_report_data(report.nodeid, report.when)
        if data is not None:
            report.mlgate = data  # type: ignore[attr-defined]


class RerunReports:
    """With pytest-rerunfailures: the reports of an attempt that is run again (outcome "rerun",
    and that attempt's teardown) carry none of its ``mlgate.*`` user properties, so a JUnit file
    holds the metrics of the final attempt only."""

    def __init__(self) -> None:
        self._superseded: set[str] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if str(report.outcome) == "rerun":  # pytest-rerunfailures sets it; pytest does not know it
            self._superseded.add(nodeid)
        elif nodeid not in self._superseded:
            return
        if report.when != "setup" and report.when != "call":
            self._superseded.discard(nodeid)
        report.user_properties = [p for p in report.user_properties if not str(p[0]).startswith("mlgate.")]


def _seeds_test(item: pytest.Item) -> bool:
    """Only tests that can decide a gate (gated, or using the fixture, whose metrics meet the
    baseline) must repeat exactly; any other test is left alone and costs nothing."""
    return _stashed(item, SPEC_KEY) is not None or "mlgate" in getattr(item, "fixturenames", ())


class Seeder:
    """Seeds the global random state (docs/seeds.md); registered in gate mode or with
    --mlgate-seed.

    A test that can decide a gate is seeded with its own seed when its setup starts; its
    fixtures and then its body go on from there. A fixture wider than one test is seeded from
    the session seed and its own name, then the test gets its own state back: such a fixture is
    the same whichever test sets it up first.
    """

    def __init__(self, session_seed: int) -> None:
        self.session_seed = session_seed
        self._pending: int | None = None  # a test's seed, until its first fixture is set up

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if _seeds_test(item):
            seed_globals(_item_seed(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: Any) -> Any:
        if self._pending is not None:
            seed_globals(self._pending)
            self._pending = None
        if fixturedef.scope == "function":
            return (yield)
        saved = global_state()
        seed_globals(seed_for_test(self.session_seed, f"fixture {fixturedef.baseid}::{fixturedef.argname}"))
        try:
            return (yield)
        finally:
            restore_global_state(saved)


class SeederAfterOthers(Seeder):
    """The Seeder when another plugin reseeds every test in its own setup and call hooks
    (pytest-randomly): the test is seeded again just before its first fixture is set up, and its
    body gets back the state its fixtures left, after every plugin's call hook has run. Its
    random numbers are the same as without that plugin. (Registered only then: it costs two
    more seedings and a save and restore of the random state per test.)"""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:  # type: ignore[override]
        if not _seeds_test(item):
            return (yield)
        seed = _item_seed(item)
        seed_globals(seed)
        self._pending = seed
        try:
            result = yield
        finally:
            if self._pending is not None:  # no fixture was set up after the other setup hooks
                seed_globals(seed)
                self._pending = None
        if isinstance(item, pytest.Function):
            item.stash[SETUP_STATE_KEY] = global_state()
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Any:
        # Called inside pytest_runtest_call, after every plugin's own call hook has run.
        state = _stashed(pyfuncitem, SETUP_STATE_KEY)
        if state is not None:
            del pyfuncitem.stash[SETUP_STATE_KEY]
            restore_global_state(state)
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    spec = _stashed(item, SPEC_KEY)
    try:
        result = yield
    except BaseException:
        record = _stashed(item, RECORD_KEY)
        if record is not None and not record.ended:
            _finish(item, record)
        raise
    record = _stashed(item, RECORD_KEY)
    if (record is None or record.ended) and spec is not None and spec.thresholds:
        record = _record_for(item)
    elif record is not None and record.ended:  # an earlier attempt's; this one recorded nothing
        record = None
    if record is not None:
        failures = _finish(item, record)
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    # A user's mistake is shown at the user's line, without the plugin's frames (errors.py).
    if call.excinfo is not None and isinstance(call.excinfo.value, MlgateError):
        call.excinfo = pytest.ExceptionInfo.from_exception(without_plugin_frames(call.excinfo.value))


def _finish(item: pytest.Item, record: Record) -> list[str]:
    from pytest_mlgate.verdicts import judge

    settings = item.config.stash[SETTINGS_KEY]
    services = item.config.stash[SERVICES_KEY]
    record.ended = True
    failures = judge(record, settings, services.baseline)
    if getattr(item.config.option, "xmlpath", None):  # --junitxml: interval, threshold, verdict beside each value
        from pytest_mlgate.report.junit import metric_properties

        props = [p for r in record.results for p in metric_properties(r.to_json())]
        item.user_properties.extend(props)
        record.properties.extend(props)
    if settings.update_baseline and record.samples:
        from pytest_mlgate.baseline import write_samples

        record.samples_file = write_samples(record.samples, record.nodeid, services.staging_dir("samples"))
    return failures


# -- fixtures -----------------------------------------------------------------------------------

@pytest.fixture
def mlgate(request: pytest.FixtureRequest) -> Iterator[Mlgate]:
    """pytest-mlgate's fixture: ``record``, ``evaluate``, ``benchmark``, ``candidate``, ...

    See docs/fixture.md.
    """
    item = request.node
    assert isinstance(item, pytest.Item)
    config = request.config
    from pytest_mlgate.fixture import Mlgate

    record = _record_for(item)
    yield Mlgate(item, record, config.stash[SETTINGS_KEY], config.stash[SERVICES_KEY])
    record.ended = True  # even when a later fixture failed and the body never ran


class SessionFixture:
    """The session-scoped side of the fixture: register the candidate from a session fixture."""

    def __init__(self, services: ProcessServices, seed: int) -> None:
        self._services = services
        self.seed = seed

    def candidate(self, model: Any, *, name: str, example: Any = None, data: Any = None,
                  card: Any = None) -> Any:
        """Same as ``mlgate.candidate``: name the model to deliver when every gate passes."""
        __tracebackhide__ = True
        return self._services.add_candidate(model, name=name, example=example, data=data, card=card)


@pytest.fixture(scope="session")
def mlgate_session(request: pytest.FixtureRequest) -> SessionFixture:
    """Session-scoped access to ``candidate`` and the session ``seed``."""
    config = request.config
    return SessionFixture(config.stash[SERVICES_KEY], config.stash[SEED_KEY])


# -- the end ------------------------------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)  # before pytest's JUnit writer: the verdicts go in its file
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    services = config.stash[SERVICES_KEY]
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["mlgate"] = {
            "deselected": config.stash[DESELECTED_KEY],
            "candidates": services.candidates,
        }
        return
    controller = config.stash.get(CONTROLLER_KEY, None)
    if controller is None:
        return
    status = controller.finish(int(exitstatus))
    if controller.result is not None:
        _junit_properties(config, controller.result)
    if status != int(exitstatus):
        session.exitstatus = status


def _junit_properties(config: pytest.Config, result: Any) -> None:
    """With --junitxml, the run's verdict, exit status and failures as properties of the test
    suite, so the JUnit file says what the other reports say (a failed delivery is no test)."""
    try:
        from _pytest.junitxml import xml_key  # pytest has no public handle on its JUnit writer
    except ImportError:  # pragma: no cover - a pytest without it writes the file without them
        return
    xml = config.stash.get(xml_key, None)
    if xml is None or "exit_status" not in result.run:
        return
    from pytest_mlgate.report.junit import suite_properties

    for name, value in suite_properties(result.to_json(provenance=False)):
        xml.add_global_property(name, value)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    controller = config.stash.get(CONTROLLER_KEY, None)
    if controller is None or controller.result is None or not config.stash[SETTINGS_KEY].gate_mode:
        return
    if config.option.collectonly:
        terminalreporter.write_line("mlgate: --collect-only ran no test; no gate was decided")
        return
    from pytest_mlgate.report.render import render_terminal

    report = controller.result.to_json(provenance=False, metrics_only=True)
    terminalreporter.write_sep("=", "mlgate gates")
    for line in render_terminal(report).splitlines():
        markup = {}
        if "FAIL" in line or "INCOMPLETE" in line:
            markup = {"red": True}
        elif "NOT COMPARED" in line:
            markup = {"yellow": True}
        terminalreporter.write_line(line, **markup)
    for outcome in controller.result.notifications:  # a failed target never fails the run
        terminalreporter.write_line(f"mlgate: {outcome}", **({} if outcome.ok else {"yellow": True}))
