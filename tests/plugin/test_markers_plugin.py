"""Markers: registration, gate membership, threshold validation at collection."""

from __future__ import annotations

import pytest

from .helpers import load_report, run_pytest


def test_markers_are_registered_with_descriptions(pytester: pytest.Pytester) -> None:
    result = run_pytest(pytester, "--markers")
    out = result.stdout.str()
    for gate in ("unit", "integration", "performance", "validation"):
        assert f"@pytest.mark.{gate}" in out
    assert "accuracy='>= 0.9'" in out


@pytest.mark.both_modes
def test_markers_work_under_strict_markers(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.unit
        def test_a(): pass
        @pytest.mark.validation(accuracy=0.5)
        def test_b(mlgate): mlgate.record("accuracy", 0.75)
        """
    )
    result = run("--strict-markers")
    result.assert_outcomes(passed=2)


@pytest.mark.both_modes
def test_two_gates_is_a_collection_error_naming_both(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.unit
        @pytest.mark.integration
        def test_both(): pass
        """
    )
    result = run()
    assert result.ret != 0  # 2 (interrupted) plain; 1 under pytest-xdist
    result.stdout.fnmatch_lines(["*test_both*marked integration and unit*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.both_modes
def test_module_and_class_markers_put_their_tests_in_a_gate(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_mod="""
        import pytest
        pytestmark = pytest.mark.validation(accuracy=">= 0.9")

        def test_ok(mlgate): mlgate.record("accuracy", 0.95)
        def test_low(mlgate): mlgate.record("accuracy", 0.5)

        class TestPlain:
            def test_in_class(self, mlgate): mlgate.record("accuracy", 0.91)
        """,
        test_cls="""
        import pytest

        class TestIntegration:
            pytestmark = pytest.mark.integration
            def test_a(self): pass

        @pytest.mark.integration
        class TestMarked:
            def test_b(self): pass

        def test_ungated(): pass
        """,
        test_clash="""
        import pytest
        pytestmark = pytest.mark.unit

        @pytest.mark.performance
        def test_both(): pass
        """,
    )
    result = run("--mlgate", "--mlgate-report", "r.json", "--ignore", "test_clash.py", "-o", "mlgate_required_gates=")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*accuracy 0.5 >= 0.9*"])
    gates = {t["nodeid"]: t["gate"] for t in load_report(pytester.path / "r.json")["tests"]}
    assert gates == {
        "test_mod.py::test_ok": "validation",
        "test_mod.py::test_low": "validation",
        "test_mod.py::TestPlain::test_in_class": "validation",
        "test_cls.py::TestIntegration::test_a": "integration",
        "test_cls.py::TestMarked::test_b": "integration",
    }
    clash = run("test_clash.py")
    assert clash.ret != 0
    clash.stdout.fnmatch_lines(["*test_both*marked performance and unit*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('validation(accuracy=">= abc")', "*test_it: threshold accuracy='>= abc': 'abc' is not a number*"),
        ('validation(accuracy="=> 0.9")', "*test_it: threshold accuracy='=> 0.9': unknown operator '=>'*"),
        ('validation(accuracy="~ 0.9")', "*unknown operator '~'*"),
        ("validation(my_score=0.7)", "*test_it: threshold my_score=0.7: a bare number needs a metric whose direction is known*"),
        ('validation(margn={"accuracy": 0.01})', "*test_it: unknown keyword margn=*did you mean 'margin'?*"),
        ('validation(accuracy=float("nan"))', "*threshold accuracy=nan: the threshold must be a finite number*"),
        ('validation(accuracy=True)', "*threshold accuracy=True is a bool*"),
        ('validation(accuracy=">= 0.9", margin={"accuracy": -1})', "*margin for 'accuracy' must be a finite number >= 0*"),
        ('performance(latency_p95_ms="<= 20", margin=0.1)', "*margin= belongs on @pytest.mark.validation*"),
        ('unit(accuracy=">= 0.9")', "*@pytest.mark.unit takes no arguments*"),
        ('validation(">= 0.9")', "*takes keyword arguments only*"),
        ('validation(accuracy=">= 0.9", key="")', "*key='') must be a non-empty string*"),
        ("validation(acuracy=0.9)", "*threshold acuracy=0.9: *did you mean 'accuracy'?*"),
        ("validation(accuracy=10**400)", "*threshold accuracy=1000*: the threshold must be a finite number*"),
        ('validation(accuracy=">= 0.9", margin=10**400)', "*margin for '*' must be a finite number >= 0*"),
        ('validation(accuracy=">=\\u00a00.9")', "*contains '\\xa0' (U+00A0)*"),
    ],
)
def test_malformed_marker_arguments_fail_collection_with_a_clear_message(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest
        @pytest.mark.{marker}
        def test_it(mlgate): pass

        def test_other(): pass
        """
    )
    result = run_pytest(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting*", expected])
    out = result.stdout.str()
    assert "pytest_mlgate" not in out, "no traceback from the plugin's internals"
    assert "INTERNALERROR" not in out + result.stderr.str()


@pytest.mark.both_modes
def test_a_recorded_value_too_large_for_a_float_fails_its_test_clearly(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.validation(accuracy=">= 0.9")
        def test_huge(mlgate):
            mlgate.record("accuracy", 10**400)
        """)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*MetricValueError: metric 'accuracy': int value is too large for a float*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.both_modes
def test_a_function_marker_adds_to_its_class_marker_of_the_same_gate(pytester: pytest.Pytester, run) -> None:
    # docs/markers.md: markers of one gate merge; for a metric both name, the nearest wins.
    pytester.makepyfile("""
        import pytest
        pytestmark = pytest.mark.validation(log_loss="<= 0.5")

        @pytest.mark.validation(accuracy=">= 0.9", roc_auc=">= 0.8")
        class TestModel:
            @pytest.mark.validation(accuracy=">= 0.95")
            def test_strict(self, mlgate):
                mlgate.record("accuracy", 0.93)   # passes the class's 0.9, not the test's 0.95
                mlgate.record("roc_auc", 0.85)
                mlgate.record("log_loss", 0.4)

            @pytest.mark.validation(f1=">= 0.5")
            def test_adds(self, mlgate):
                mlgate.record("accuracy", 0.92)
                mlgate.record("roc_auc", 0.7)     # fails the class's threshold
                mlgate.record("f1", 0.6)
                mlgate.record("log_loss", 0.4)
        """)
    result = run("--mlgate", "-o", "mlgate_required_gates=validation", "--mlgate-report", "r.json")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(["*accuracy 0.93 >= 0.95: threshold not met*",
                                        "*roc_auc 0.7 >= 0.8: threshold not met*"])
    thresholds = {t["nodeid"].rsplit("::", 1)[-1]: {m["name"]: m["threshold"]["text"] for m in t["metrics"]}
                  for t in load_report(pytester.path / "r.json")["tests"]}
    assert thresholds == {
        "test_strict": {"accuracy": ">= 0.95", "roc_auc": ">= 0.8", "log_loss": "<= 0.5"},
        "test_adds": {"accuracy": ">= 0.9", "roc_auc": ">= 0.8", "f1": ">= 0.5", "log_loss": "<= 0.5"},
    }


@pytest.mark.both_modes
def test_bare_number_uses_the_known_direction(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.validation(accuracy=0.9)
        def test_high(mlgate): mlgate.record("accuracy", 0.85)
        @pytest.mark.performance(latency_p95_ms=20)
        def test_low(mlgate): mlgate.record("latency_p95_ms", 25.0)
        @pytest.mark.validation(log_loss=0.5)
        def test_lower_is_better_alias(mlgate): mlgate.record("log_loss", 0.4)
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random([
        "*accuracy 0.85 >= 0.9: threshold not met*",
        "*latency_p95_ms 25 <= 20: threshold not met*",
    ])


@pytest.mark.both_modes
def test_gate_paths_assign_gates_by_directory(pytester: pytest.Pytester, run) -> None:
    pytester.makeini(
        """
        [pytest]
        mlgate_gate_paths =
            unit:tests/unit
            integration:tests/integration
        mlgate_required_gates = unit integration
        """
    )
    pytester.mkpydir("tests")
    (pytester.path / "tests" / "unit").mkdir()
    (pytester.path / "tests" / "integration").mkdir()
    (pytester.path / "tests" / "unit" / "test_u.py").write_text("def test_u(): pass\n")
    (pytester.path / "tests" / "integration" / "test_i.py").write_text(
        "import pytest\n@pytest.mark.validation(accuracy=0.5)\ndef test_marked(mlgate): mlgate.record('accuracy', 0.9)\n"
        "def test_i(): pass\n"
    )
    result = run("--mlgate", "--mlgate-report", "r.json")
    assert result.ret == 0, result.stdout.str()
    from .helpers import load_report

    report = load_report(pytester.path / "r.json")
    gates = {t["nodeid"].rsplit("::", 1)[-1]: t["gate"] for t in report["tests"]}
    assert gates == {"test_u": "unit", "test_i": "integration", "test_marked": "validation"}
    assert report["gates"]["validation"]["required"] is False


@pytest.mark.both_modes
def test_dash_m_selects_tests_gated_by_path(pytester: pytest.Pytester, run) -> None:
    """`pytest --mlgate -m unit` runs the unit gate's tests, whether the marker or
    mlgate_gate_paths put them there (docs/gate-mode.md: `-m performance`, one gate's tests)."""
    pytester.makeini("[pytest]\ntestpaths = tests\nmlgate_gate_paths =\n    unit:tests/unit\n"
                     "mlgate_required_gates = unit validation\n")
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    (pytester.path / "tests" / "unit" / "test_u.py").write_text("def test_by_path(): pass\n")
    (pytester.path / "tests" / "test_q.py").write_text(
        "import pytest\n@pytest.mark.unit\ndef test_by_marker(): pass\n"
        "@pytest.mark.validation(accuracy=0.5)\ndef test_q(mlgate): mlgate.record('accuracy', 0.9)\n")
    result = run("--mlgate", "-m", "unit", "--mlgate-report=r.json")
    assert result.ret == 0, result.stdout.str()
    from .helpers import load_report

    report = load_report(pytester.path / "r.json")
    outcomes = {t["nodeid"].rsplit("::", 1)[-1]: (t["gate"], t["outcome"]) for t in report["tests"]}
    assert outcomes == {"test_by_path": ("unit", "passed"), "test_by_marker": ("unit", "passed")}
    assert report["gates"]["unit"]["verdict"] == "pass"
    assert report["gates"]["validation"]["verdict"] == "not_run"


def test_bad_gate_paths_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlgate_gate_paths = smoke:tests\n")
    pytester.makepyfile("def test_a(): pass")
    result = run_pytest(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini mlgate_gate_paths: 'smoke:tests' names unknown gate 'smoke'*"])
