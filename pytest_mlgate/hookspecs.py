"""Hooks pytest-mlgate adds. Implement them in a conftest.py or a plugin.

All hooks are optional. They run on the process that owns the data: the metric hook in the
process that runs the test (a pytest-xdist worker under ``-n``), the verdict and deploy hooks
once, on the controller, at the end of the session. None is ``firstresult``: every
implementation is called (each team's tracking, notification or deploy step runs), and the
plugin uses no return value.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

hookspec = pytest.hookspec

if TYPE_CHECKING:
    from pytest_mlgate.measurement import Measurement
    from pytest_mlgate.results import RunResult


@hookspec
def pytest_mlgate_metric_recorded(item: pytest.Item, measurement: Measurement) -> None:
    """Called each time a test records a metric (by ``record``, ``evaluate``, ``benchmark``, ...).

    ``measurement`` is a frozen :class:`pytest_mlgate.measurement.Measurement`: name, value,
    interval, n, method and info. Use it to stream metrics to a tracking server, for example.
    """


@hookspec
def pytest_mlgate_verdict(config: pytest.Config, result: RunResult) -> None:
    """Called once on the controller when every gate has been decided, before the reports are
    written and before delivery. ``result.passed``, ``result.complete``, ``result.gates`` and
    ``result.to_json()`` (the JSON report's content) tell what happened; send your own
    notification from here. Exceptions raised here fail the run."""


@hookspec
def pytest_mlgate_deploy(artifact: Any, config: pytest.Config) -> None:
    """Called once on the controller after the candidate was published and verified, after the
    command deploy targets ran. ``artifact`` is a
    :class:`pytest_mlgate.delivery.registry.PublishedArtifact` (name, version, path, artifact_id,
    manifest). Raise an exception to mark the deploy as failed; the run then exits non-zero."""
