"""Gate mode: the gate table, required gates, completeness, exit status."""

from __future__ import annotations

import pytest

from pytest_mlgate.markers import GATES

from .helpers import ALL_GATES, load_report, run_pytest


@pytest.mark.both_modes
def test_all_gates_pass_prints_tables_and_exits_zero(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(ALL_GATES)
    result = run("--mlgate")
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str()
    assert out.count("mlgate gates") == 1, "only the controller prints the gate summary"
    result.stdout.fnmatch_lines([
        "*= mlgate gates =*",
        "gate*passed*failed*errored*skipped*verdict*",
        "unit*1*0*0*0*PASS*",
        "integration*1*0*0*0*PASS*",
        "performance*1*0*0*0*PASS*",
        "validation*1*0*0*0*PASS*",
        "test*metric*value*interval*threshold*baseline*change*verdict*",
    ])
    result.stdout.fnmatch_lines_random([
        "*test_performance*latency_p95_ms*12.5*<= 50*PASS*",
        "*test_validation*accuracy*0.95*>= 0.9*PASS*",
        "mlgate: gates PASSED; run complete; seed *",
    ])


@pytest.mark.both_modes
def test_without_gate_mode_no_gate_table(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    result = run()
    assert result.ret == 0
    assert "mlgate gates" not in result.stdout.str()


@pytest.mark.both_modes
def test_ini_turns_gate_mode_on(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate = true\n")
    pytester.makepyfile(ALL_GATES)
    result = run()
    assert "mlgate gates" in result.stdout.str()


@pytest.mark.both_modes
def test_a_required_gate_with_no_test_fails_the_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.unit
        def test_unit(): pass
        @pytest.mark.performance
        def test_skipped(): pytest.skip("no GPU")
        """
    )
    result = run("--mlgate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random([
        "*integration*0*0*0*0*FAIL (required gate, but no test ran)*",
        "*performance*0*0*0*1*FAIL (required gate, but no test ran)*",
        "*gates FAILED*",
    ])


@pytest.mark.both_modes
def test_required_gates_ini_limits_what_must_run(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate_required_gates = unit\n")
    pytester.makepyfile("import pytest\n@pytest.mark.unit\ndef test_u(): pass\n")
    result = run("--mlgate")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["integration (optional)*-*"])


@pytest.mark.both_modes
def test_failing_gate_test_fails_gate_and_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_broken():\n    assert 0\n")
    result = run("--mlgate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(["unit*1*1*0*0*FAIL*", "*failed: gate unit: 1 failed, 0 errored*"])


@pytest.mark.both_modes
def test_fixture_error_counts_as_errored(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES + """
@pytest.fixture
def broken():
    raise RuntimeError("no data")

@pytest.mark.integration
def test_needs_data(broken):
    pass
""")
    result = run("--mlgate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["integration*1*0*1*0*FAIL*"])


@pytest.mark.both_modes
@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["-k", "not test_unit"], "*1 gated test(s) deselected*"),
        (["-m", "not unit"], "*1 gated test(s) deselected*"),
        (["-x"], "*collected test(s) did not run*"),
    ],
)
def test_incomplete_runs_are_marked(pytester: pytest.Pytester, run, mode: str, args: list[str], reason: str) -> None:
    body = ALL_GATES
    if args == ["-x"]:
        body = body.replace("assert 1 + 1 == 2", "assert 1 + 1 == 3")
        if mode == "xdist":
            pytest.skip("-x under xdist may let the other worker finish every test first")
    pytester.makepyfile(body)
    result = run("--mlgate", "--mlgate-report", "r.json", *args)
    result.stdout.fnmatch_lines(["*run INCOMPLETE*", reason])
    report = load_report(pytester.path / "r.json")
    assert report["run"]["complete"] is False
    assert report["run"]["incomplete_reasons"]


@pytest.mark.both_modes
def test_collection_error_marks_run_incomplete(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_ok=ALL_GATES, test_broken="import no_such_module_here\n")
    result = run("--mlgate", "--mlgate-report", "r.json", "--continue-on-collection-errors")
    result.stdout.fnmatch_lines(["*run INCOMPLETE*", "*1 collection error(s)*"])
    assert load_report(pytester.path / "r.json")["run"]["complete"] is False


@pytest.mark.both_modes
def test_a_collection_error_is_named_first_not_hidden_behind_empty_gates(pytester: pytest.Pytester, run) -> None:
    """Every gate read "required gate, but no test ran", the run "was interrupted" and tests "did
    not run (-x/--maxfail or an interrupt)": nothing named the file that failed to import, or
    why (new-user trial of the HTML report)."""
    pytester.makepyfile(test_ok=ALL_GATES, test_broken="import no_such_module_here\n")
    result = run("--mlgate", "--mlgate-report", "r.json")
    report = load_report(pytester.path / "r.json")
    assert report["failures"][0] == ("collection error in test_broken.py: "
                                     "ModuleNotFoundError: No module named 'no_such_module_here'")
    reasons = report["run"]["incomplete_reasons"]
    assert "the run was interrupted" not in reasons
    assert not any("-x/--maxfail" in r for r in reasons), reasons
    if result.ret == pytest.ExitCode.INTERRUPTED:  # plain pytest runs nothing after the error
        assert any("pytest stops after a collection error" in r for r in reasons), reasons
    for name in GATES:  # pytest-xdist's workers may run the other tests
        gate = report["gates"][name]
        assert gate["verdict"] == "pass" or "collection failed in test_broken.py" in gate["reason"], gate
    result.stdout.fnmatch_lines(["*failed: collection error in test_broken.py: ModuleNotFoundError*"])
    assert result.ret != 0 and report["verdict"] == "fail"


def test_last_failed_marks_run_incomplete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ALL_GATES.replace("assert 1 + 1 == 2", "assert 1 + 1 == 3"))
    run_pytest(pytester, cache=True)  # --lf reads what this run left in the cache
    result = run_pytest(pytester, "--mlgate", "--lf", cache=True)
    result.stdout.fnmatch_lines(["*run INCOMPLETE*"])


@pytest.mark.both_modes
def test_complete_run_is_marked_complete(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES + "\ndef test_ungated():\n    pass\n")
    result = run("--mlgate", "--mlgate-report", "r.json")
    assert result.ret == 0
    report = load_report(pytester.path / "r.json")
    assert report["run"]["complete"] is True
    assert report["run"]["incomplete_reasons"] == []


def test_crashed_xdist_worker_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_crash():\n    import os\n    os._exit(3)\n")
    result = run_pytest(pytester, "--mlgate", "--mlgate-report", "r.json", workers=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(["*run INCOMPLETE*", "*worker(s) crashed: gw*"])
    report = load_report(pytester.path / "r.json")
    assert report["verdict"] == "fail"
    assert report["run"]["complete"] is False


def test_interrupted_run_is_incomplete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_stop():\n    raise KeyboardInterrupt\n")
    result = run_pytest(pytester, "--mlgate", "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = load_report(pytester.path / "r.json")
    assert report["run"]["complete"] is False
    assert "the run was interrupted" in report["run"]["incomplete_reasons"]


RERUN_CONFTEST = '''
import pytest
from _pytest.runner import runtestprotocol

# What pytest-rerunfailures does: a failed attempt is logged with outcome "rerun", then retried.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    if any(r.failed for r in reports):
        for r in reports:
            if r.failed:
                r.outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=r)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for r in reports:
        item.ihook.pytest_runtest_logreport(report=r)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
'''


@pytest.mark.both_modes
def test_a_gated_test_that_passes_on_a_rerun_counts_as_passed(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(RERUN_CONFTEST)
    pytester.makepyfile('''
import pathlib
import pytest

@pytest.mark.unit
def test_flaky():
    marker = pathlib.Path("attempted")  # in the project directory, where pytest runs
    if not marker.exists():
        marker.write_text("1")
        raise AssertionError("first attempt fails")
''')
    result = run("--mlgate", "-o", "mlgate_required_gates=unit", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    (test,) = load_report(pytester.path / "r.json")["tests"]
    assert test["outcome"] == "passed"
    assert load_report(pytester.path / "r.json")["gates"]["unit"]["verdict"] == "pass"


# -- partial runs: part of the suite in gate mode ------------------------------------------------

def _two_files() -> dict[str, str]:
    """ALL_GATES as two modules: the performance test in test_speed.py, the others in
    test_model.py (the validation test named test_quality, as in docs/gate-mode.md)."""
    head, *tests = ALL_GATES.replace("def test_validation", "def test_quality").split("\n@pytest.mark.")
    speed = [t for t in tests if t.startswith("performance")]
    model = [t for t in tests if not t.startswith("performance")]
    return {"test_model": "\n@pytest.mark.".join([head, *model]),
            "test_speed": "\n@pytest.mark.".join([head, *speed])}


TWO_FILES = _two_files()


@pytest.mark.both_modes
@pytest.mark.parametrize(
    ("args", "ran", "not_run"),
    [
        # docs/gate-mode.md: "pytest --mlgate -k quality" while you work
        (["-k", "quality"], "validation", ["unit", "integration", "performance"]),
        # docs/performance.md: "pytest --mlgate -m performance", and with --dist loadgroup
        (["-m", "performance"], "performance", ["unit", "integration", "validation"]),
        (["-m", "performance", "--dist", "loadgroup"], "performance", ["unit", "integration", "validation"]),
        # a path, and a node id
        (["test_speed.py"], "performance", ["unit", "integration", "validation"]),
        (["test_model.py::test_quality"], "validation", ["unit", "integration", "performance"]),
    ],
)
def test_a_partial_run_reports_unselected_gates_as_not_run_and_exits_zero(
        pytester: pytest.Pytester, run, mode: str, args: list[str], ran: str, not_run: list[str]) -> None:
    if "--dist" in args and mode != "xdist":
        pytest.skip("--dist needs -n")
    pytester.makepyfile(**TWO_FILES)
    result = run("--mlgate", "--mlgate-report", "r.json", "--mlgate-markdown", "r.md", *args)
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "r.md").read_text().startswith(
        f"## pytest-mlgate: gates passed (not run: {', '.join(g for g in GATES if g in not_run)})")
    result.stdout.fnmatch_lines_random(
        [f"{ran} *1*0*0*0*PASS*"] + [f"{g} *0*0*0*0*NOT RUN*" for g in not_run]
        + ["mlgate: gates PASSED (not run: *); run INCOMPLETE; seed *",
           "*incomplete: required gate(s) not run: *"])
    report = load_report(pytester.path / "r.json")
    assert report["verdict"] == "pass"
    assert report["failures"] == []
    assert report["run"]["complete"] is False
    assert {g: v["verdict"] for g, v in report["gates"].items()} == {
        **{g: "not_run" for g in not_run}, ran: "pass"}
    assert report["run"]["exit_status"] == 0


@pytest.mark.both_modes
def test_a_failing_test_fails_a_partial_run(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(**TWO_FILES)
    (pytester.path / "test_speed.py").write_text(TWO_FILES["test_speed"].replace("12.5", "80.0"))
    result = run("--mlgate", "-m", "performance")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(["performance*0*1*0*0*FAIL*", "mlgate: gates FAILED*"])


@pytest.mark.both_modes
def test_selection_excuses_only_the_gates_whose_tests_it_left_out(pytester: pytest.Pytester, run) -> None:
    # -k leaves integration out; performance was selected but skipped, and the suite has no
    # validation test at all: neither of those is the selection's doing, so both still fail.
    pytester.makepyfile('''
import pytest

@pytest.mark.unit
def test_unit_quick():
    pass

@pytest.mark.integration
def test_integration_slow():
    pass

@pytest.mark.performance
def test_quick_latency():
    pytest.skip("no GPU")
''')
    result = run("--mlgate", "--mlgate-report", "r.json", "-k", "quick")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    gates = load_report(pytester.path / "r.json")["gates"]
    assert {g: v["verdict"] for g, v in gates.items()} == {
        "unit": "pass", "integration": "not_run", "performance": "fail", "validation": "fail"}


@pytest.mark.both_modes
def test_a_partial_run_never_updates_the_baseline_nor_delivers(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(**TWO_FILES)
    pytester.makepyfile(conftest='''
import pytest
from sklearn.dummy import DummyClassifier

@pytest.fixture(autouse=True, scope="session")
def candidate(mlgate_session):
    mlgate_session.candidate(DummyClassifier().fit([[0], [1]], [0, 1]), name="dummy")
''')
    result = run("--mlgate", "--mlgate-update-baseline", "--mlgate-deliver", "--mlgate-report", "r.json",
                 "-k", "quality")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines_random(["*baseline: not updated: the run was incomplete*",
                                        "*delivery: nothing delivered: the run was incomplete*"])
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    assert not (pytester.path / ".mlgate" / "registry").exists()
    report = load_report(pytester.path / "r.json")
    assert report["baseline"]["status"] == "refused"
    assert report["delivery"]["status"] == "skipped"


@pytest.mark.both_modes
def test_a_complete_run_still_requires_every_gate(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_model=TWO_FILES["test_model"])
    result = run("--mlgate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(["performance*FAIL (required gate, but no test ran)*",
                                        "mlgate: gates FAILED; run complete*"])


@pytest.mark.both_modes
@pytest.mark.parametrize("flag", ["--lf", "--sw"])
def test_lf_and_sw_without_earlier_failures_run_the_whole_suite_and_are_complete(
        pytester: pytest.Pytester, mode: str, flag: str) -> None:
    # The cache provider stays on here: --lf and --sw keep their state in it.
    workers = 2 if mode == "xdist" else None
    pytester.makepyfile(ALL_GATES)
    result = run_pytest(pytester, "--mlgate", flag, "--mlgate-update-baseline", "--mlgate-report", "r.json",
                        workers=workers, cache=True)
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "r.json")
    assert report["run"]["incomplete_reasons"] == [] and report["run"]["complete"] is True
    assert report["baseline"]["status"] == "written"
    result.stdout.fnmatch_lines(["*run complete*"])
    if flag == "--sw":
        # After a failure --sw resumes from it: the tests before it are left out.
        pytester.makepyfile(ALL_GATES.replace("0.95", "0.5"))
        assert run_pytest(pytester, "--mlgate", flag, workers=workers, cache=True).ret != 0  # stops there
        pytester.makepyfile(ALL_GATES)
        result = run_pytest(pytester, "--mlgate", flag, "--mlgate-report", "r.json", workers=workers, cache=True)
        assert load_report(pytester.path / "r.json")["run"]["complete"] is False, result.stdout.str()
