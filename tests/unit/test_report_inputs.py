"""What ``mlgate report`` and ``mlgate drift`` read and write: a damaged report, a file that is
no report, an output that is an input or another output, an output that cannot be written.
Every one is ``mlgate: error: ...`` and exit 2, never a traceback, and leaves no file behind."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_mlgate.atomic import STALE_TEMP_S, replace
from pytest_mlgate.cli import main

SUITE = '''
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

@pytest.mark.unit
def test_unit():
    pass

@pytest.mark.validation(accuracy=">= 0.99", roc_auc=">= 0.5")
def test_model(mlgate):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :4]
    model = LogisticRegression(max_iter=500).fit(X, y)
    X = X.assign(size=np.where(X.iloc[:, 0] > 14, "large", "small"))
    class M:
        classes_ = model.classes_
        def predict(self, X): return model.predict(X.iloc[:, :4])
        def predict_proba(self, X): return model.predict_proba(X.iloc[:, :4])
    mlgate.evaluate(M(), X, y, slices="size")

@pytest.mark.integration
def test_drift(mlgate):
    rng = np.random.default_rng(0)
    mlgate.check_drift(pd.DataFrame({"a": rng.normal(size=300)}), pd.DataFrame({"a": rng.normal(1, size=300)}))
'''


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of a real failing gate-mode run (metrics, slices, series, drift)."""
    d = tmp_path_factory.mktemp("run")
    (d / "test_suite.py").write_text(SUITE)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--mlgate", "--mlgate-report", "r.json",
                           "-p", "no:cacheprovider", "-q"], cwd=d, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads((d / "r.json").read_text())
    return report


def _report_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``mlgate report ...`` in this process: an exception from our code propagates and fails
    the test, as it would print a traceback to a user."""
    status = main(["report", *argv])
    return status, capsys.readouterr().err


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


_DELETE = object()


def _test_index(report: dict[str, Any], nodeid_part: str) -> int:
    return next(i for i, t in enumerate(report["tests"]) if nodeid_part in t["nodeid"])


def _metric_path(report: dict[str, Any], key: str) -> tuple[Any, ...]:
    i = _test_index(report, "test_model")
    j = next(j for j, m in enumerate(report["tests"][i]["metrics"]) if m.get("comparison") is not None
             or m.get("threshold")) if key in ("threshold", "comparison") else 0
    return ("tests", i, "metrics", j, key)


# The damaged reports of the trial: (where, the wrong value, what the message names).
DAMAGED = {
    "a gate that is text": (("gates", "unit"), "pass", 'gates["unit"]'),
    "git that is text": (("run", "git"), "abc", "run.git"),
    "settings that are a list": (("run", "settings"), [1, 2], "run.settings"),
    "a commit that is a number": (("run", "git", "commit"), 12345, "run.git.commit"),
    "a test that is a number": (("tests", 0), 7, "tests[0]"),
    "failures that are text": (("failures",), "boom", "failures"),
    "a baseline that is text": (("baseline",), "x", "baseline"),
    "a delivery that is text": (("delivery",), "x", "delivery"),
    "incomplete reasons that are text": (("run", "incomplete_reasons"), "x", "run.incomplete_reasons"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_report_is_an_error_naming_the_field(real_report: dict[str, Any], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], case: str) -> None:
    where, value, named = DAMAGED[case]
    doc = copy.deepcopy(real_report)
    _set(doc, where, value)
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"),
                              "--markdown", str(tmp_path / "o.md"))
    assert status == 2 and err.startswith("mlgate: error:") and f"damaged: {named} is " in err, err
    assert not (tmp_path / "o.html").exists() and not (tmp_path / "o.md").exists()


@pytest.mark.parametrize("key,value", [("metrics", "x"), ("reruns", "many"), ("nodeid", _DELETE),
                                       ("series", [1])])
def test_a_damaged_test_entry_is_an_error_naming_the_field(real_report: dict[str, Any], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], key: str,
                                                           value: Any) -> None:
    doc = copy.deepcopy(real_report)
    i = _test_index(doc, "test_model")
    _set(doc, ("tests", i, key), value)
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--markdown", str(tmp_path / "o.md"))
    assert status == 2 and f"tests[{i}].{key} is" in err, err


@pytest.mark.parametrize("key", ["threshold", "comparison", "info", "name"])
def test_a_damaged_metric_is_an_error_naming_the_field(real_report: dict[str, Any], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], key: str) -> None:
    doc = copy.deepcopy(real_report)
    path = _metric_path(doc, key)
    _set(doc, path, 5 if key == "name" else "text")
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"))
    assert status == 2 and f"tests[{path[1]}].metrics[{path[3]}].{key} is" in err, err


def test_a_series_count_that_is_text_is_an_error(real_report: dict[str, Any], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(real_report)
    i = next(i for i, t in enumerate(doc["tests"]) if (t.get("series") or {}).get("items"))
    doc["tests"][i]["series"]["items"][0]["n"] = "many"
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"))
    assert status == 2 and f"tests[{i}].series.items[0].n is \"many\"" in err, err


def test_a_bare_nan_in_a_report_is_refused(real_report: dict[str, Any], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The plugin writes a NaN as "nan"; a bare NaN (json.dumps' default) is no report it wrote,
    and was rendered as if it were (newcomer review)."""
    doc = copy.deepcopy(real_report)
    doc["tests"][1]["metrics"][0]["value"] = float("nan")
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"))
    assert status == 2 and "NaN is not a JSON number" in err, err
    assert not (tmp_path / "o.html").exists()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, (*prefix, i))
    return out


def test_a_null_field_reads_as_a_missing_one(real_report: dict[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A null optional field renders as a missing one. A null threshold text and a null failures
    list crashed the page (CI, hypothesis): a renderer's ``.get(key, default)`` got None instead
    of the default. Every optional field of one depth is nulled at once (a null parent would
    hide its children), so the page is rendered once per depth, not once per field."""
    def optional(path: tuple[Any, ...]) -> bool:  # not a required field, a list item or a gate's
        return not (isinstance(path[-1], int) or path[0] == "gates"
                    or path in (("run",), ("tests",), ("verdict",), ("run", "complete"))
                    or path[-1] in ("name", "nodeid", "schema", "schema_version")
                    or (len(path) == 5 and path[2] == "metrics" and path[4] == "value"))

    paths = [p for p in _paths(real_report) if optional(p)]
    for depth in sorted({len(p) for p in paths}):
        doc = copy.deepcopy(real_report)
        for path in paths:
            if len(path) == depth:
                _set(doc, path, None)
        (tmp_path / "r.json").write_text(json.dumps(doc))
        status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"),
                                  "--markdown", str(tmp_path / "o.md"))
        assert status == 0, f"optional fields at depth {depth} set to null: {err}"


WRONG = st.sampled_from(["text", 7, -1.5, True, [], [1, "x"], {}, {"k": 1}, None])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_field_of_any_type_renders_or_is_a_clear_error(real_report: dict[str, Any], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           data: st.DataObject) -> None:
    doc = copy.deepcopy(real_report)
    paths = [p for p in _paths(doc) if p[0] not in ("schema", "schema_version")]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            _set(doc, path, copy.deepcopy(data.draw(WRONG)))  # a shared value could form a cycle
        except (KeyError, IndexError, TypeError):  # an earlier change removed its parent
            continue
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"),
                              "--markdown", str(tmp_path / "o.md"))
    assert status == 0 or (status == 2 and err.startswith("mlgate: error:")), err


def test_a_device_and_a_fifo_are_refused_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not hasattr(os, "mkfifo") or not Path("/dev/zero").exists():
        pytest.skip("needs /dev/zero and FIFOs")
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    for source in ("/dev/zero", str(fifo)):
        done: list[tuple[int, str]] = []

        def read(source: str = source, done: list[tuple[int, str]] = done) -> None:
            done.append(_report_cli(capsys, source, "--html", str(tmp_path / "o.html")))

        worker = threading.Thread(target=read, daemon=True)
        worker.start()
        worker.join(20)
        assert done, f"mlgate report {source} did not return (read forever or blocked)"
        status, err = done[0]
        assert status == 2 and "not a regular file" in err, err


@pytest.mark.parametrize("outputs", [("--html", "r.json"), ("--markdown", "r.json"),
                                     ("--html", "x", "--markdown", "x"), ("--html", "link.md", "--markdown", "x")])
def test_an_output_that_is_an_input_or_another_output_is_refused(
        real_report: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, outputs: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("r.json").write_text(json.dumps(real_report))
    Path("link.md").symlink_to("x")
    status, err = _report_cli(capsys, "r.json", *outputs)
    assert status == 2 and "are the same file" in err, err
    assert json.loads(Path("r.json").read_text()) == real_report
    assert not Path("x").exists()


@pytest.mark.parametrize("target", ["/sys/mlgate-x.html", "/proc/nonexistent-mlgate/x.html"])
def test_an_output_that_cannot_be_written_is_a_clear_error(real_report: dict[str, Any], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], target: str) -> None:
    try:
        with open(target, "x"):
            pass
    except OSError:
        pass
    else:
        os.unlink(target)
        pytest.skip(f"{target} is writable here")
    (tmp_path / "r.json").write_text(json.dumps(real_report))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", target)
    assert status == 2 and err.startswith(f"mlgate: error: cannot write {target}: "), err


def test_an_output_symlink_is_followed_and_kept(real_report: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.json").write_text(json.dumps(real_report))
    (tmp_path / "target.md").write_text("old")
    (tmp_path / "link.md").symlink_to("target.md")
    (tmp_path / "target.html").write_text("old")
    (tmp_path / "link.html").symlink_to("target.html")
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--markdown", str(tmp_path / "link.md"),
                              "--html", str(tmp_path / "link.html"))
    assert status == 0, err
    for name in ("md", "html"):
        assert (tmp_path / f"link.{name}").is_symlink(), "the link was replaced by a file"
        assert (tmp_path / f"target.{name}").read_text() != "old"


def test_mlgate_drift_refuses_to_write_over_its_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pandas as pd

    from pytest_mlgate.atomic import write_json
    from pytest_mlgate.profiles import profile

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    write_json("P.json", profile(pd.DataFrame({"a": rng.normal(size=200)})).to_json())
    pd.DataFrame({"a": rng.normal(size=200)}).to_csv("cur.csv", index=False)
    before = {p: Path(p).read_bytes() for p in ("P.json", "cur.csv")}
    for outputs in (("--html", "cur.csv"), ("--html", "P.json"), ("--json", "cur.csv"), ("--html", "f", "--json", "f")):
        status = main(["drift", "P.json", "cur.csv", *outputs])
        err = capsys.readouterr().err
        assert status == 2 and "are the same file" in err, (outputs, err)
    assert {p: Path(p).read_bytes() for p in before} == before and not Path("f").exists()


def test_a_temp_file_a_killed_writer_left_is_removed_by_the_next_write(tmp_path: Path) -> None:
    # kill -9 between creating the temp file and renaming it leaves .x.html.XXXXXXXX.tmp behind.
    stale = tmp_path / ".x.html.ab12cd34.tmp"
    fresh = tmp_path / ".x.html.zz99yy88.tmp"  # a writer still at work: left alone
    other = tmp_path / ".y.html.ab12cd34.tmp"  # another file's
    for p in (stale, fresh, other):
        p.write_text("half")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    replace(tmp_path / "x.html", b"page")
    assert (tmp_path / "x.html").read_bytes() == b"page"
    assert not stale.exists() and fresh.exists() and other.exists()


def test_long_mathtext_and_bidi_names_are_drawn_not_replaced_by_an_error(
        real_report: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A name over ~110 characters made the label margin wider than the figure ("left cannot be
    # >= right"), "$\frac{a}{$" was parsed as mathtext and failed: the plot was replaced by an
    # error. U+202E in a name reversed the text after it.
    long_name, math_name, bidi = "m" * 300, "$\\frac{a}{$ " + "x", "\u202eevil"
    doc = copy.deepcopy(real_report)
    model = doc["tests"][_test_index(doc, "test_model")]
    for m, new in zip((m for m in model["metrics"] if "slice" not in (m.get("info") or {})),
                      (long_name, math_name), strict=False):
        m["name"] = new
    for m in model["metrics"]:
        if "slice" in (m.get("info") or {}):
            m["info"]["slice"] = bidi + " " + "s" * 200
    drift = doc["tests"][_test_index(doc, "test_drift")]
    for item in drift["series"]["items"]:
        for c in item.get("columns", []):
            c["name"] = "$x^2$ " + "c" * 400
    (tmp_path / "r.json").write_text(json.dumps(doc))
    status, err = _report_cli(capsys, str(tmp_path / "r.json"), "--html", str(tmp_path / "o.html"))
    assert status == 0, err
    html = (tmp_path / "o.html").read_text()
    assert "could not draw this plot" not in html
    assert html.count("<svg") >= 4
    svgs = "".join(html.split("<svg")[1:])
    assert "\u202e" not in svgs and "\u2026" in svgs  # stripped from, and cut short on, the plots
    assert long_name in html  # the table keeps the name whole
