"""pytest-xdist integration: ``XdistHooks`` on the controller of a distributed run.

The controller picks the session seed and a staging directory and hands both to every worker;
workers send session data (candidates, deselection counts) back through ``workeroutput``;
per-test data rides on the test reports, as in a plain run (plugin.ReportData). A worker that
goes down with an error fails the run.

PYTEST_DONT_REWRITE: its asserts need no rewriting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_mlgate.controller import Controller


class XdistHooks:
    """On the controller: the seed and staging path out to each worker, collection and worker
    output back to the ``Controller`` (None when no gate-mode report is asked for)."""

    def __init__(self, seed: int, staging: Path | None, controller: Controller | None) -> None:
        self.seed = seed
        self.staging = staging
        self.controller = controller

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["mlgate_seed"] = self.seed
        node.workerinput["mlgate_staging"] = str(self.staging)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.controller is not None:
            self.controller.add_collected(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        controller = self.controller
        if controller is None:
            return
        if error:
            gateway = getattr(node, "gateway", None)
            controller.crashed_workers.append(str(getattr(gateway, "id", node)))
        data = getattr(node, "workeroutput", {}).get("mlgate")
        if data:
            controller.add_worker_output(data)
