"""A number beyond any float (10**400) in a marker or a recorded value is a clear error naming
the test, never an INTERNALERROR or a raw OverflowError."""

from __future__ import annotations

import pytest

from .helpers import run_pytest


def test_a_threshold_of_10_to_the_400_is_a_marker_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.validation(accuracy=10**400)
def test_quality(mlgate):
    mlgate.record("accuracy", 0.9)

@pytest.mark.validation(accuracy=">= 0.5", margin=10**400)
def test_margin(mlgate):
    mlgate.record("accuracy", 0.9)
''')
    result = run_pytest(pytester, "--mlgate")
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out and "OverflowError" not in out
    result.stdout.fnmatch_lines(["*test_quality: threshold accuracy=1000*the threshold must be a finite number*"])
    result.stdout.fnmatch_lines(["*test_margin: validation(margin=1000*must be a finite number >= 0*"])


def test_a_recorded_value_of_10_to_the_400_fails_its_test_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.integration
def test_rows(mlgate):
    mlgate.record("rows_out", 10**400)
''')
    result = run_pytest(pytester, "--mlgate")
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out and "OverflowError" not in out
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*metric 'rows_out': int value is too large for a float*"])
