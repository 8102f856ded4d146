"""Options: one resolver, CLI > ini > default, bad values are usage errors naming the option."""

from __future__ import annotations

import pytest

from .helpers import run_pytest


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--mlgate-seed", "abc"], "", "*--mlgate-seed = 'abc' is not an integer*"),
        ([], "mlgate_seed = -3", "*mlgate_seed = -3 must be between 0 and 2**63 - 1*"),
        ([], "mlgate = maybe", "*ini mlgate = 'maybe' is not a boolean; use true or false*"),
        ([], "mlgate_alpha = 1.5", "*ini mlgate_alpha = 1.5 must lie in (0.0, 1.0)*"),
        ([], "mlgate_level = high", "*ini mlgate_level = 'high' is not a number*"),
        ([], "mlgate_inconclusive = ignore", "*ini mlgate_inconclusive = 'ignore': expected one of pass, fail*"),
        ([], "mlgate_threshold_policy = strict", "*expected one of point, confident*"),
        ([], "mlgate_required_gates = unit smoke", "*mlgate_required_gates names unknown gate 'smoke'*"),
        ([], "mlgate_margin = -0.1", "*ini mlgate_margin = -0.1 must be >= 0*"),
        ([], "mlgate_benchmark_threads = many", "*mlgate_benchmark_threads = 'many': give a number of threads or 'none'*"),
        (["--mlgate-update-baseline"], "", "*--mlgate-update-baseline needs gate mode: add --mlgate*"),
        (["--mlgate-deliver"], "", "*--mlgate-deliver needs gate mode*"),
    ],
)
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester, args: list[str], ini: str, expected: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_a(): pass")
    result = run_pytest(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


def test_ini_override_from_command_line(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlgate_required_gates = unit integration\n")
    pytester.makepyfile("import pytest\n@pytest.mark.unit\ndef test_u(): pass\n")
    failing = run_pytest(pytester, "--mlgate")
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    passing = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=unit")
    assert passing.ret == 0


def test_corrupt_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / ".mlgate").mkdir()
    (pytester.path / ".mlgate" / "baseline.json").write_text("{not json")
    pytester.makepyfile("def test_a(): pass")
    result = run_pytest(pytester, "--mlgate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline.json*"])
    assert (pytester.path / ".mlgate" / "baseline.json").read_text() == "{not json"


def _ini_help(pytester: pytest.Pytester) -> dict[str, str]:
    """The ini keys of ``pytest --help`` with their (unwrapped) help texts."""
    import re

    out = run_pytest(pytester, "--help").stdout.str()
    section = out[out.index("[pytest] configuration options"):]
    entries: dict[str, str] = {}
    key = None
    for line in section.splitlines():
        m = re.match(r"^  (mlgate\w*) \([a-z |]+\):\s*(.*)$", line)
        if m:
            key = m.group(1)
            entries[key] = m.group(2).strip()
        elif key is not None and line.startswith(" " * 10):
            entries[key] += " " + line.strip()
        else:
            key = None
    return entries


def test_help_shows_each_ini_default_once_and_never_none(pytester: pytest.Pytester) -> None:
    from pytest_mlgate.perf import BenchmarkOptions
    from pytest_mlgate.settings import OPTIONS

    entries = _ini_help(pytester)
    assert set(entries) == {o.ini for o in OPTIONS}
    for key, text in entries.items():
        assert text.count("(default:") == 1, (key, text)
        assert "(default: None)" not in text, (key, text)
    # The benchmark's own defaults, as BenchmarkOptions applies them.
    defaults = BenchmarkOptions()
    assert entries["mlgate_benchmark_warmup"].endswith(f"(default: {defaults.warmup})")
    assert entries["mlgate_benchmark_min_rounds"].endswith(f"(default: {defaults.min_rounds})")
    assert entries["mlgate_benchmark_max_time"].endswith(f"(default: {defaults.max_time})")
    assert entries["mlgate_required_gates"].endswith(
        "(default: unit integration performance validation)")


def test_configuration_page_lists_the_defaults_help_shows(pytester: pytest.Pytester) -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    documented = {}
    for row in re.findall(r"^\|(.+)\|\s*$", page, re.MULTILINE):
        cells = [c.strip() for c in row.split("|")]
        keys = [c for c in cells if re.fullmatch(r"`mlgate\w*`", c)]
        if keys:
            documented[keys[0].strip("`")] = cells[cells.index(keys[0]) + 1].replace("`", "")
    entries = _ini_help(pytester)
    assert set(documented) == set(entries)
    for key, doc in documented.items():
        shown = re.search(r"\(default: (.*)\)$", entries[key]).group(1)  # type: ignore[union-attr]
        try:
            assert float(doc) == float(shown), key
        except ValueError:
            assert doc == shown or (doc.startswith("see") and shown.startswith("see")), (key, doc, shown)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--mlgate-report", "adir"], "*--mlgate-report = *adir is a directory; give a file path in it*"),
        (["--mlgate-markdown", "afile/summary.md"], "*--mlgate-markdown = *afile is not a directory*"),
        (["--mlgate-baseline", "adir"], "*--mlgate-baseline = *adir is a directory*"),
        (["-o", "mlgate_report=adir"], "*ini mlgate_report = *adir is a directory*"),
        (["--mlgate-registry=afile"], "*--mlgate-registry = *afile is a file, not a directory*"),
    ],
)
def test_an_unusable_output_path_is_a_usage_error_at_start(
        pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    (pytester.path / "adir").mkdir()
    (pytester.path / "afile").write_text("")
    pytester.makepyfile("import pytest\n@pytest.mark.unit\ndef test_a(): pass\n")
    result = run_pytest(pytester, "--mlgate", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "passed" not in result.stdout.str(), "refused before any test ran"


LONG_NAME = "x" * 300  # beyond NAME_MAX (255) on every common filesystem


@pytest.mark.both_modes
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Finding 6: a report over the committed baseline (or its samples file) would lose it.
        (["--mlgate-report=.mlgate/baseline.json"],
         "*--mlgate-report = *baseline.json and ini mlgate_baseline = *baseline.json are the same file*"),
        (["--mlgate-markdown=.mlgate/baseline.samples.npz"],
         "*--mlgate-markdown = *baseline.samples.npz and the baseline's samples file *baseline.samples.npz*"
         " are the same file*"),
        (["--mlgate-baseline=b/base.json", "--mlgate-report=b/base.samples.npz"],
         "*--mlgate-report = *base.samples.npz and the baseline's samples file * (from --mlgate-baseline)*"),
        (["--mlgate-report=r.json", "--mlgate-markdown=./sub/../r.json"],
         "*--mlgate-report = *r.json and --mlgate-markdown = *r.json are the same file*"),
        (["--mlgate-report=link.json", "--mlgate-markdown=r.json"],
         "*--mlgate-report = *link.json and --mlgate-markdown = *r.json are the same file*"),
        # Finding 7: a name too long for the filesystem is the option's fault, not an INTERNALERROR.
        ([f"--mlgate-report={LONG_NAME}/r.json"], "*--mlgate-report = *x/r.json: File name too long*"),
        ([f"--mlgate-markdown={LONG_NAME}.md"], "*--mlgate-markdown = *x.md: File name too long*"),
        ([f"--mlgate-registry={LONG_NAME}"], "*--mlgate-registry = *: File name too long*"),
        ([f"--mlgate-baseline={LONG_NAME}.json"], "*--mlgate-baseline = *: File name too long*"),
    ],
)
def test_outputs_that_collide_or_cannot_exist_are_refused_at_start(
        pytester: pytest.Pytester, run, args: list[str], expected: str) -> None:
    (pytester.path / "link.json").symlink_to("r.json")
    (pytester.path / "sub").mkdir()
    pytester.makepyfile("import pytest\n@pytest.mark.unit\ndef test_a(): pass\n")
    result = run("--mlgate", "-o", "mlgate_required_gates=unit", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([expected])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "passed" not in result.stdout.str(), "refused before any test ran"


def test_report_directories_are_made_as_for_junitxml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.unit\ndef test_a(): pass\n")
    result = run_pytest(pytester, "--mlgate", "-o", "mlgate_required_gates=unit",
                                           "--mlgate-report", "reports/ci/r.json")
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "reports" / "ci" / "r.json").is_file()


@pytest.mark.both_modes
@pytest.mark.skipif(pytest.version_tuple[:2] < (9, 2), reason="native ini types need pytest 9.2")
def test_native_toml_table_takes_booleans_and_numbers(pytester: pytest.Pytester, run) -> None:
    """pytest 9's [tool.pytest] table keeps TOML types: `mlgate = true` was refused with
    "config option 'mlgate' expects a string, got bool"."""
    pytester.makepyprojecttoml("[tool.pytest]\nmlgate = true\nmlgate_margin = 0.01\nmlgate_bootstrap = 200\n"
                               'mlgate_required_gates = ["validation"]\n')
    pytester.makepyfile('''
import pytest

@pytest.mark.validation(accuracy=">= 0.5")
def test_v(mlgate):
    mlgate.record("accuracy", 0.9)
''')
    result = run("--mlgate-report=r.json")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    from .helpers import load_report

    report = load_report(pytester.path / "r.json")
    assert report["run"]["settings"]["margin"] == 0.01
    assert report["run"]["settings"]["required_gates"] == ["validation"]
    result.stdout.fnmatch_lines(["mlgate: gates PASSED; run complete; *"])


def test_the_warning_classes_can_be_filtered_by_their_public_names(pytester: pytest.Pytester) -> None:
    """-W ignore::pytest_mlgate.MlgateInconclusiveWarning stopped pytest with "module
    'pytest_mlgate' has no attribute ..." (new-user trial): the classes lived in a private module."""
    pytester.makeini("[pytest]\nmlgate_required_gates = validation\n")
    pytester.makepyfile('''
import warnings
import pytest
from pytest_mlgate.verdicts import MlgateInconclusiveWarning

@pytest.mark.validation
def test_warns():
    warnings.warn(MlgateInconclusiveWarning("inconclusive on purpose"))
''')
    shown = run_pytest(pytester, "--mlgate")
    assert shown.ret == 0 and "inconclusive on purpose" in shown.stdout.str()
    for flag in ("ignore::pytest_mlgate.MlgateInconclusiveWarning", "error::pytest_mlgate.MlgateBaselineWarning"):
        result = run_pytest(pytester, "--mlgate", "-W", flag)
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        assert ("inconclusive on purpose" in result.stdout.str()) == flag.startswith("error"), result.stdout.str()
