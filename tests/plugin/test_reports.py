"""JSON and Markdown reports, the GitHub job summary, written on failing runs too."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from .helpers import ALL_GATES, load_report, run_pytest


@pytest.mark.both_modes
def test_json_report_schema(pytester: pytest.Pytester, run, mode: str) -> None:
    pytester.makepyfile(ALL_GATES + "\n@pytest.mark.unit\ndef test_skip():\n    pytest.skip('later')\n")
    result = run("--mlgate", "--mlgate-report", "out/report.json", "--mlgate-seed", "42")
    assert result.ret == 0, result.stdout.str()
    report = load_report(pytester.path / "out" / "report.json")
    assert report["schema"] == "pytest-mlgate/report"
    assert report["schema_version"] == 1
    assert report["verdict"] == "pass"
    assert report["run"]["seed"] == 42
    assert report["run"]["complete"] is True
    assert set(report["gates"]) == {"unit", "integration", "performance", "validation"}
    assert report["gates"]["unit"] == {
        "required": True, "passed": 1, "failed": 0, "errored": 0, "skipped": 1, "verdict": "pass", "reason": "",
    }
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in report["tests"]}
    assert tests["test_skip"]["outcome"] == "skipped"
    (acc,) = tests["test_validation"]["metrics"]
    assert acc["name"] == "accuracy"
    assert acc["value"] == 0.95
    assert acc["threshold"] == {"metric": "accuracy", "op": ">=", "value": 0.9, "text": ">= 0.9"}
    assert acc["threshold_verdict"] == "pass"
    assert acc["verdict"] == "pass"
    assert tests["test_validation"]["gate"] == "validation"
    assert tests["test_validation"]["outcome"] == "passed"


@pytest.mark.both_modes
def test_reports_are_written_on_failing_runs(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES.replace("0.95", "0.5"))
    result = run("--mlgate", "--mlgate-report", "r.json", "--mlgate-markdown", "r.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = load_report(pytester.path / "r.json")
    assert report["verdict"] == "fail"
    assert report["gates"]["validation"]["verdict"] == "fail"
    (acc,) = next(t for t in report["tests"] if t["gate"] == "validation")["metrics"]
    assert acc["verdict"] == "fail"
    md = (pytester.path / "r.md").read_text()
    assert "## pytest-mlgate: gates failed" in md
    assert "| validation | 0 | 1 | 0 | 0 | FAIL |" in md
    assert "| accuracy | 0.5 | - | >= 0.9 | - | - | FAIL |" in md


def test_markdown_is_appended_to_github_step_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(ALL_GATES)
    summary = pytester.path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run_pytest(pytester, "--mlgate")
    assert result.ret == 0
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "## pytest-mlgate: gates passed" in text
    assert "| unit | 1 | 0 | 0 | 0 | PASS |" in text


@pytest.mark.both_modes
def test_report_paths_from_ini_and_cli_precedence(pytester: pytest.Pytester, run) -> None:
    pytester.makeini("[pytest]\nmlgate = true\nmlgate_report = from_ini.json\n")
    pytester.makepyfile(ALL_GATES)
    run()
    assert (pytester.path / "from_ini.json").exists()
    run("--mlgate-report", "from_cli.json")
    assert (pytester.path / "from_cli.json").exists()
    assert load_report(pytester.path / "from_cli.json")["verdict"] == "pass"


@pytest.mark.both_modes
def test_junit_carries_interval_threshold_verdict_and_gate_verdicts(pytester: pytest.Pytester, run) -> None:
    import xml.etree.ElementTree as ET

    pytester.makepyfile(ALL_GATES.replace("0.95", "0.5") + '''
@pytest.mark.validation(auc=">= 0.6")
def test_interval(mlgate):
    from sklearn.dummy import DummyClassifier
    import numpy as np
    X = np.zeros((200, 1)); y = np.arange(200) % 2
    mlgate.evaluate(DummyClassifier(strategy="stratified", random_state=0).fit(X, y), X, y, ["accuracy"])
    mlgate.record("auc", 0.7)
''')
    result = run("--mlgate", "--junitxml", "j.xml", "--mlgate-markdown", "s.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    root = ET.parse(pytester.path / "j.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["mlgate.verdict"] == "fail"
    assert suite_props["mlgate.gate.validation"] == "fail"
    assert suite_props["mlgate.gate.unit"] == "pass"
    cases = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}
             for c in root.iter("testcase")}
    assert cases["test_validation"] == {"mlgate.accuracy": "0.5", "mlgate.accuracy.threshold": ">= 0.9",
                                        "mlgate.accuracy.verdict": "fail"}
    props = cases["test_interval"]
    assert float(props["mlgate.accuracy.low"]) < float(props["mlgate.accuracy"]) < float(props["mlgate.accuracy.high"])
    assert props["mlgate.accuracy.verdict"] == "none" and props["mlgate.auc.verdict"] == "pass"
    md = (pytester.path / "s.md").read_text()
    assert "### What failed" in md and "below the threshold: 0.5, needs >= 0.9" in md


SLASH_IDS = '''
import pytest

@pytest.mark.validation(accuracy=">= 0.5")
@pytest.mark.parametrize("split", ["a/b", "c::d/e"])
def test_ids(mlgate, split):
    mlgate.record("accuracy", 0.9)
'''


@pytest.mark.both_modes
def test_metric_table_keeps_parametrize_ids_holding_slashes_whole(pytester: pytest.Pytester, run) -> None:
    pytester.mkpydir("sub")
    (pytester.path / "sub" / "test_split.py").write_text(SLASH_IDS)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation")
    assert result.ret == 0, result.stdout.str()
    rows = [line.split()[0] for line in result.stdout.lines if " accuracy " in line]
    # The directory goes; the test's own name and its whole parameter id stay.
    assert sorted(rows) == ["test_split.py::test_ids[a/b]", "test_split.py::test_ids[c::d/e]"], rows


def _read_fifo(path: Path, out: list[bytes]) -> threading.Thread:
    """Read the FIFO to the end in a thread. Its open() waits for a writer, and the waiting
    reader already counts as one: a writer's open finds it."""

    def read() -> None:
        with open(path, "rb") as fh:
            out.append(fh.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.both_modes
def test_reports_write_through_symlinks_and_streams_and_never_replace_them(
        pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    (pytester.path / "target.md").write_text("keep\n")
    (pytester.path / "link.md").symlink_to("target.md")
    # What /dev/stdout is: a name for the process's descriptor 1 (here a file pytester reads).
    (pytester.path / "stdout-link").symlink_to("/proc/self/fd/1")
    result = run("--mlgate", "--mlgate-report=stdout-link", "--mlgate-markdown=link.md")
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "stdout-link").is_symlink()
    assert (pytester.path / "link.md").is_symlink(), "the link is kept; the file it names is written"
    assert (pytester.path / "target.md").read_text().startswith("## pytest-mlgate: gates passed")
    out = result.stdout.str()
    start = out.index('{\n  "baseline"')
    report = json.JSONDecoder().raw_decode(out[start:])[0]
    assert report["verdict"] == "pass"
    assert out.index("mlgate gates") > start, "the report sits before the summary pytest prints after it"

    # Both reports to one stream: each is appended, so neither is lost (and neither is refused).
    result = run("--mlgate", "--mlgate-report=stdout-link", "--mlgate-markdown=stdout-link")
    assert result.ret == 0, result.stdout.str()
    assert '"verdict": "pass"' in result.stdout.str() and "## pytest-mlgate: gates passed" in result.stdout.str()

    fifo = pytester.path / "reader.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = _read_fifo(fifo, received)
    time.sleep(0.2)  # the reader is waiting in open() before pytest starts
    result = run("--mlgate", f"--mlgate-report={fifo}")
    reader.join(timeout=60)
    assert result.ret == 0, result.stdout.str()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO"
    assert json.loads(received[0])["verdict"] == "pass"


@pytest.mark.both_modes
def test_a_stream_that_refuses_the_report_fails_the_run_and_stays(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(ALL_GATES)
    fifo = pytester.path / "nobody-reads.fifo"
    os.mkfifo(fifo)
    result = run("--mlgate", f"--mlgate-markdown={fifo}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*failed: could not write the report *nobody-reads.fifo: No such device or address*"])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

NOT_COMPARABLE = '''
import os
import pytest

@pytest.mark.validation(accuracy=">= 0.7", f1=">= 0.9", key="nc")
def test_quality(mlgate):
    # The fingerprint names the evaluation data; another one means other data.
    fp = os.environ.get("DATA", "sha256:first")
    mlgate.record("accuracy", float(os.environ.get("ACC", "0.95")), fingerprint=fp)
    mlgate.record("f1", float(os.environ.get("F1", "0.95")), fingerprint=fp)
'''


def _junit(path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    return {p.get("name", ""): p.get("value", "") for p in ET.parse(path).getroot().iter("property")}


@pytest.mark.both_modes
def test_a_metric_not_compared_with_its_baseline_never_shows_pass(
        pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch) -> None:
    # A model 20 points worse on other evaluation data: the threshold passes, the baseline
    # cannot judge it. The row used to read PASS beside the baseline and a change; only a
    # warning (hidden by -p no:warnings) said otherwise.
    pytester.makepyfile(test_nc=NOT_COMPARABLE)
    args = ("--mlgate", "-o", "mlgate_required_gates=validation", "-p", "no:warnings",
            "--mlgate-report", "r.json", "--mlgate-markdown", "r.md", "--junitxml", "j.xml")
    assert run(*args, "--mlgate-update-baseline").ret == 0
    monkeypatch.setenv("DATA", "sha256:second")
    monkeypatch.setenv("ACC", "0.75")
    monkeypatch.setenv("F1", "0.5")
    result = run(*args)
    # Decided: NOT COMPARED does not fail the gate (the data changed on purpose is how a
    # baseline moves on); thresholds still apply, so f1 under its threshold fails.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    lines = out.splitlines()
    lead = next(i for i, line in enumerate(lines) if line.startswith("NOT COMPARED: 2 metric(s)"))
    assert lead < next(i for i, line in enumerate(lines) if line.startswith("gate "))
    row = next(line for line in lines if "test_nc.py::test_quality  accuracy" in line)
    assert row.split()[-2:] == ["NOT", "COMPARED"] and "PASS" not in row, row
    assert row.split()[-3] == "-", row  # no change against a baseline it was not compared with
    f1_row = next(line for line in lines if "test_nc.py::test_quality  f1" in line)
    assert f1_row.endswith("FAIL"), f1_row
    assert "2 metric(s) NOT COMPARED with their baseline" in out
    report = load_report(pytester.path / "r.json")
    metrics = {m["name"]: m for m in report["tests"][0]["metrics"]}
    assert metrics["accuracy"]["verdict"] == "not_compared"
    assert metrics["accuracy"]["threshold_verdict"] == "pass"
    assert metrics["f1"]["verdict"] == "fail"
    assert [(x["nodeid"], x["metric"]) for x in report["not_compared"]] == [
        ("test_nc.py::test_quality", "accuracy"), ("test_nc.py::test_quality", "f1")]
    assert "different evaluation data" in report["not_compared"][0]["reason"]
    md = (pytester.path / "r.md").read_text()
    assert md.index("**NOT COMPARED: 2 metric(s)") < md.index("### Gates")
    assert "| accuracy | 0.75 | - | >= 0.7 | 0.95 | - | NOT COMPARED |" in md
    props = _junit(pytester.path / "j.xml")
    assert props["mlgate.accuracy"] == "0.75"
    assert props["mlgate.accuracy.verdict"] == "not_compared"
    assert props["mlgate.f1.verdict"] == "fail"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_report_that_cannot_be_written_makes_every_other_report_say_fail(pytester: pytest.Pytester, run) -> None:
    # The HTML page cannot be written (/proc refuses a new directory): the run exits 1, and the
    # JSON, Markdown and JUnit reports say so. They used to say "pass", exit_status 0, no failures.
    pytester.makepyfile(ALL_GATES)
    result = run("--mlgate", "--mlgate-report", "r.json", "--mlgate-markdown", "r.md", "--junitxml", "j.xml",
                 "--mlgate-html", "/proc/nonexistent-mlgate/x.html")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*failed: could not write the HTML report /proc/nonexistent-mlgate/x.html: *"])
    report = load_report(pytester.path / "r.json")
    assert report["verdict"] == "fail" and report["run"]["exit_status"] == 1
    assert any("could not write the HTML report" in f for f in report["failures"])
    md = (pytester.path / "r.md").read_text()
    assert "## pytest-mlgate: gates passed, run failed" in md and "could not write the HTML report" in md
    props = _junit(pytester.path / "j.xml")
    assert props["mlgate.verdict"] == "fail" and props["mlgate.exit_status"] == "1"


HOSTILE = r'''
import numpy as np
import pandas as pd
import pytest

EVIL = ['<script>alert("id")</script>', '[click](javascript:alert(1)) ![t](https://evil.example/t.png)',
        "a|b`c`\n</details>", "\u202eevil"]

@pytest.mark.validation(**{EVIL[0]: ">= 0.9"})
@pytest.mark.parametrize("p", EVIL, ids=EVIL)
def test_v(mlgate, p):
    mlgate.record(EVIL[0], 0.5)
    mlgate.record(p, 0.3)

@pytest.mark.unit
def test_message():
    assert False, 'msg <img src=x onerror=alert(1)> `tick` ![m](https://evil.example/m.png)'

@pytest.mark.integration
def test_drift(mlgate):
    rng = np.random.default_rng(1)
    cols = ['<b>col</b>', '[c](javascript:x)']
    mlgate.check_drift(pd.DataFrame({c: rng.normal(size=300) for c in cols}),
                       pd.DataFrame({c: rng.normal(loc=2.0, size=300) for c in cols}))
'''


def test_hostile_names_are_plain_text_in_the_markdown_summary(pytester: pytest.Pytester, run) -> None:
    # Test ids, metric names, column names and messages are anyone's text: in a GitHub job
    # summary a <script>, an <img> or a [link](javascript:...) from them used to be live.
    import re

    pytester.makepyfile(HOSTILE)
    result = run("--mlgate", "--mlgate-markdown", "s.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    md = (pytester.path / "s.md").read_text()
    assert "### What failed" in md and "col" in md and "evil.example/m.png" in md
    # The only HTML is the renderer's own <details>/<summary>.
    tags = set(re.findall(r"</?[A-Za-z][^\s>]*", md))
    assert tags <= {"<details", "</details", "<summary", "</summary"}, tags
    assert not re.search(r"(?<!\\)\](?=[(\[:])", md), "a link or an image survived"
    assert "`" not in md.replace("\\`", "") and "\u202e" not in md
    assert md.count("<details>") == md.count("</details>") <= 1
    assert "[click\\](javascript:alert(1)) ![t\\](https://evil.example/t.png)" in md


def test_a_metric_recorded_twice_is_one_junit_property_with_the_final_value(pytester: pytest.Pytester, run) -> None:
    import xml.etree.ElementTree as ET

    pytester.makepyfile('''
import pytest

@pytest.mark.validation(accuracy=">= 0.9")
def test_twice(mlgate):
    mlgate.record("accuracy", 0.99)
    mlgate.record("accuracy", 0.5)
''')
    result = run("--mlgate", "--junitxml", "j.xml", "--mlgate-report", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (case,) = ET.parse(pytester.path / "j.xml").getroot().iter("testcase")
    values = [p.get("value") for p in case.iter("property") if p.get("name") == "mlgate.accuracy"]
    assert values == ["0.5"]
    (m,) = next(t for t in load_report(pytester.path / "r.json")["tests"] if "test_twice" in t["nodeid"])["metrics"]
    assert m["value"] == 0.5
