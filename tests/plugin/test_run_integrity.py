"""What a run may and may not do with partial selections, shared keys, hooks and files."""

from __future__ import annotations

import pytest

from .helpers import ALL_GATES, load_report, run_pytest


@pytest.mark.both_modes
def test_paths_that_cover_part_of_the_suite_make_the_run_incomplete(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_a=ALL_GATES, test_b="import pytest\n@pytest.mark.unit\ndef test_more(): pass\n")
    partial = run("--mlgate", "--mlgate-update-baseline", "test_b.py", "test_a.py::test_unit")
    partial.stdout.fnmatch_lines(["*run INCOMPLETE*", "*node ids on the command line select part of the suite*",
                                  "*baseline: not updated:*"])
    assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    files_only = run("--mlgate", "--mlgate-report", "r.json", "test_b.py")
    files_only.stdout.fnmatch_lines(["*the paths on the command line cover only part of the suite*"])
    whole = run("--mlgate", "--mlgate-report", "r.json", ".")
    assert whole.ret == 0
    assert load_report(pytester.path / "r.json")["run"]["complete"] is True


@pytest.mark.both_modes
def test_ignore_on_the_command_line_makes_the_run_incomplete(pytester: pytest.Pytester, run) -> None:
    """--ignore drops a file before collection: nothing is deselected, so without this the run
    passed as complete and updated the baseline with a failing validation test left out."""
    pytester.makepyfile(test_a=ALL_GATES)
    (pytester.path / "extra").mkdir()
    (pytester.path / "extra" / "test_more.py").write_text(
        "import pytest\n@pytest.mark.validation(score='>= 0.95')\ndef test_low(mlgate): mlgate.record('score', 0.5)\n")
    for flag in ("--ignore=extra", "--ignore-glob=*/extra/*"):
        result = run("--mlgate", "--mlgate-update-baseline", "--mlgate-report", "r.json", flag)
        result.stdout.fnmatch_lines(["*run INCOMPLETE*", f"*{flag.split('=')[0]} on the command line leaves part of "
                                     "the suite out*", "*baseline: not updated:*"])
        assert load_report(pytester.path / "r.json")["run"]["complete"] is False
        assert not (pytester.path / ".mlgate" / "baseline.json").exists()
    # The same --ignore in the project's addopts defines the suite: the run is complete.
    pytester.makeini("[pytest]\naddopts = --ignore=extra\n")
    assert run("--mlgate", "--mlgate-report", "r.json").ret == 0
    assert load_report(pytester.path / "r.json")["run"]["complete"] is True


@pytest.mark.both_modes
def test_paths_naming_every_test_file_make_a_complete_run(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    (pytester.path / "tests" / "unit" / "test_u.py").write_text("import pytest\n@pytest.mark.unit\ndef test_u(): pass\n")
    (pytester.path / "tests" / "test_all.py").write_text(ALL_GATES)
    (pytester.path / "tests" / "helpers.py").write_text("")  # not a test file: need not be named
    every = run("--mlgate", "--mlgate-report=r.json", "tests/unit", "tests/test_all.py")
    assert every.ret == 0, every.stdout.str()
    assert load_report(pytester.path / "r.json")["run"]["complete"] is True
    some = run("--mlgate", "--mlgate-report=r.json", "tests/test_all.py")
    some.stdout.fnmatch_lines(["*the paths on the command line cover only part of the suite*"])
    assert load_report(pytester.path / "r.json")["run"]["complete"] is False


@pytest.mark.both_modes
def test_key_on_a_parametrized_test_keeps_one_entry_per_parameter(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.parametrize("score", [0.6, 0.9])
@pytest.mark.validation(score=">= 0.5", key="clf")
def test_score(mlgate, score):
    mlgate.record("score", score)
''')
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-update-baseline")
    assert result.ret == 0, result.stdout.str()
    import json

    stored = json.loads((pytester.path / ".mlgate" / "baseline.json").read_text())["metrics"]
    assert {k: v["score"]["value"] for k, v in stored.items()} == {"clf[0.6]": 0.6, "clf[0.9]": 0.9}
    again = run("--mlgate", "-o", "mlgate_required_gates=validation")
    assert again.ret == 0, again.stdout.str()


def test_two_tests_with_one_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.validation(score=">= 0.5", key="clf")
def test_one(mlgate): mlgate.record("score", 0.7)

@pytest.mark.validation(score=">= 0.5", key="clf")
def test_two(mlgate): mlgate.record("score", 0.8)
''')
    result = run_pytest(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*key='clf' is used by *test_one and *test_two*"])


def test_a_duplicate_key_leads_the_gate_summary_and_the_report(pytester: pytest.Pytester, run) -> None:
    """Not "required gate, but no test ran" or "did not run (-x/--maxfail...)": the usage error.
    Under pytest-xdist too, where the workers find it (a usage error raised there crashed xdist
    with an INTERNALERROR)."""
    pytester.makeini("[pytest]\nmlgate_required_gates = validation\n")
    pytester.makepyfile('''
import pytest

@pytest.mark.validation(score=">= 0.5", key="clf")
def test_one(mlgate): mlgate.record("score", 0.7)

@pytest.mark.validation(score=">= 0.5", key="clf")
def test_two(mlgate): mlgate.record("score", 0.8)
''')
    result = run("--mlgate", "--mlgate-report=r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    message = "pytest-mlgate: key='clf' is used by *::test_one and *::test_two; a baseline key names one test*"
    result.stdout.fnmatch_lines(["validation*NOT RUN (a usage error stopped the run)",
                                 "mlgate: run FAILED (not run: validation); run INCOMPLETE; seed *",
                                 "  incomplete: a usage error stopped the run before any test ran",
                                 f"  failed: {message}"])
    assert "no test ran" not in result.stdout.str() and "did not run" not in result.stdout.str()
    report = load_report(pytester.path / "r.json")
    (failure,) = report["failures"]
    assert failure.startswith("pytest-mlgate: key='clf' is used by ")
    assert report["run"]["exit_status"] == pytest.ExitCode.USAGE_ERROR
    assert report["gates"]["validation"]["verdict"] == "not_run"


@pytest.mark.both_modes
def test_gate_paths_on_one_line(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate_gate_paths = unit:tests/unit integration:tests/integration\n"
                     "mlgate_required_gates = unit integration\n")
    for gate in ("unit", "integration"):
        (pytester.path / "tests" / gate).mkdir(parents=True)
        (pytester.path / "tests" / gate / f"test_{gate}.py").write_text("def test_it(): pass\n")
    result = run("--mlgate")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines_random(["unit*1*0*0*0*PASS*", "integration*1*0*0*0*PASS*"])


@pytest.mark.both_modes
def test_a_raising_verdict_hook_fails_the_run_cleanly(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest("def pytest_mlgate_verdict(config, result):\n    raise RuntimeError('chat is down')\n")
    pytester.makepyfile(ALL_GATES)
    result = run("--mlgate", "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*failed: pytest_mlgate_verdict hook raised RuntimeError: chat is down*"])
    assert load_report(pytester.path / "r.json")["verdict"] == "fail"
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


BLOCK_DURING_RUN = '''
import pathlib
import pytest

@pytest.fixture(autouse=True, scope="session")
def blocker():
    # Made while the suite runs: the start-up check of the path saw nothing wrong with it.
    pathlib.Path("blocker").write_text("a file, not a directory")
'''


@pytest.mark.both_modes
def test_an_unwritable_report_path_fails_the_run_cleanly(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    pytester.makeconftest(BLOCK_DURING_RUN)
    result = run("--mlgate", "--mlgate-report", "blocker/r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*could not write the report *blocker/r.json*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_collect_only_in_gate_mode_does_not_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ALL_GATES)
    result = run_pytest(pytester, "--mlgate", "--collect-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--collect-only ran no test; no gate was decided*"])


@pytest.mark.both_modes
def test_maxfail_stops_early_and_marks_the_run_incomplete(pytester: pytest.Pytester, run) -> None:
    many = "\n".join(f"@pytest.mark.unit\ndef test_u{i}():\n    import time; time.sleep(0.05)\n" for i in range(40))
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_a_first_failure():\n    assert False\n" + many)
    result = run("--mlgate", "--maxfail=1", "--mlgate-report", "r.json")
    assert result.ret != 0
    report = load_report(pytester.path / "r.json")
    assert report["run"]["complete"] is False
    assert any("did not run" in r for r in report["run"]["incomplete_reasons"])


@pytest.mark.both_modes
def test_no_staging_directory_is_left_behind(pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile('''
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

@pytest.mark.integration
def test_candidate(mlgate):
    X, y = load_iris(return_X_y=True, as_frame=True)
    mlgate.candidate(LogisticRegression(max_iter=500).fit(X, y), name="iris", example=X.head(2))
''')
    tmp = pytester.path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the runs' own temp dir, apart from other tests'
    assert run().ret == 0
    assert run("--mlgate", "-o", "mlgate_required_gates=integration").ret == 0
    assert not list(tmp.glob("mlgate-staging-*"))


def test_a_test_the_user_groups_for_xdist_keeps_its_baseline_key_and_seed(pytester: pytest.Pytester) -> None:
    """pytest-xdist's loadgroup can rename a grouped test "...::test_q@db" on its workers (its
    remote.py does when the worker sees --dist loadgroup); the plugin stripped only its own
    group's suffix, so a gated test in the user's group would get another baseline key under
    -n 2 and its regression would never be compared (newcomer review). Whatever xdist does, the
    key, the seed and the comparison must be the plain run's."""
    pytester.makeini("[pytest]\nmlgate_required_gates = validation\n")
    pytester.makepyfile('''
import os
import pytest

@pytest.mark.xdist_group("db")
@pytest.mark.validation(score=">= 0.1")
def test_q(mlgate):
    mlgate.record("score", float(os.environ["SCORE"]))
    mlgate.record("seed", float(mlgate.seed % 1000))
''')
    import os
    os.environ["SCORE"] = "0.9"
    try:
        first = run_pytest(pytester, "--mlgate", "--mlgate-seed", "5", "--mlgate-update-baseline", "--mlgate-report", "a.json")
        assert first.ret == 0, first.stdout.str()
        os.environ["SCORE"] = "0.2"
        result = run_pytest(pytester, "--mlgate", "--mlgate-seed", "5", "--mlgate-report", "b.json", "--dist", "loadgroup",
                            workers=2)
    finally:
        del os.environ["SCORE"]
    plain, grouped = (load_report(pytester.path / f)["tests"][0] for f in ("a.json", "b.json"))
    assert plain["key"] == grouped["key"]
    seeds = [{m["name"]: m["value"] for m in t["metrics"]}["seed"] for t in (plain, grouped)]
    assert seeds[0] == seeds[1], "the test's seed must not depend on xdist's renaming"
    score = {m["name"]: m for m in grouped["metrics"]}["score"]
    assert score["comparison"] is not None and score["comparison"]["verdict"] == "fail", score
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
