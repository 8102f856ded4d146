"""A user's mistake inside the plugin's code is shown at the user's line, with the message and
without the plugin's own frames; the plugin's modules are left as they were loaded."""

from __future__ import annotations

import pytest

from .helpers import run_pytest

MISTAKE = '''
import numpy as np
from sklearn.dummy import DummyClassifier

def test_lengths_differ(mlgate):
    X, y = np.zeros((20, 2)), np.array([0, 1] * 10)
    model = DummyClassifier().fit(X, y)
    mlgate.evaluate(model, X, y[:5], metrics=["accuracy"])  # the user's line
'''


def test_a_mistake_shows_the_users_line_and_no_plugin_frame(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mistake=MISTAKE)
    result = run_pytest(pytester, "--tb=long")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "DataError" in out and "# the user's line" in out
    assert "pytest_mlgate/" not in out, out  # no frame of the plugin's files


def test_making_an_error_changes_no_module() -> None:
    import sys

    from pytest_mlgate.errors import DataError

    DataError("x")
    ours = [m for n, m in sys.modules.items() if n.startswith("pytest_mlgate") and m is not None]
    assert ours and not [m.__name__ for m in ours if "__tracebackhide__" in vars(m)]
