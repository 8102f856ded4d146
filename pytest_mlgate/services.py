"""What the fixture needs from the process it runs in: candidates, staging, timing lock, the
baseline, the records waiting for their report. One instance per process (plain pytest, an
xdist controller or worker), in ``config.stash``.

Kept apart from the fixture so that a run whose tests never use the fixture does not import it.

PYTEST_DONT_REWRITE: loaded on every pytest run; its asserts need no rewriting.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.markers import GATES

if TYPE_CHECKING:
    from pytest_mlgate.baseline import Baseline
    from pytest_mlgate.markers import GateSpec
    from pytest_mlgate.record import Record
    from pytest_mlgate.settings import Settings


# What a report of a gated test carries before its teardown; shared, never changed.
_GATE_DATA: dict[str | None, dict[str, Any]] = {
    gate: {"gate": gate} for gate in (None, *GATES)}


class ProcessServices:
    """What the fixture needs from its process: candidates, staging, timing exclusivity."""

    def __init__(self, settings: Settings, staging: Path | None, workers: int) -> None:
        self.settings = settings
        self.staging = staging
        self.workers = workers
        self.candidates: list[dict[str, Any]] = []
        # By node id (at the end of collection) the gated tests' specs; and each fixture's record.
        self.gated: dict[str, GateSpec] = {}
        self.records: dict[str, Record] = {}
        self._baseline: Baseline | None = None
        self._baseline_loaded = False

    def take_report_data(self, nodeid: str, when: str) -> dict[str, Any] | None:
        """What the controller needs from a test's report: its gate, and with the teardown
        report its record (metrics, thresholds, verdicts), which is then final and leaves
        ``records``. None for a test without either."""
        spec = self.gated.get(nodeid)
        record = self.records.get(nodeid)
        if record is not None and when == "teardown":
            del self.records[nodeid]  # the record is final now; its JSON is all that is kept
            return record.to_json()
        if spec is None and record is None:
            return None
        return _GATE_DATA[spec.gate if spec is not None else None]

    def staging_dir(self, sub: str) -> Path:
        """A directory under the run's staging area (shared by pytest-xdist workers), made on use."""
        if self.staging is None:  # a worker of a controller that did not hand one over
            import tempfile

            self.staging = Path(tempfile.mkdtemp(prefix="mlgate-staging-"))
        path = self.staging / sub
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_candidate(self, model: Any, *, name: str, example: Any, data: Any, card: Any) -> Any:
        """Stage the candidate at once in gate mode, so a model that cannot be packaged fails
        the test that names it. Outside gate mode nothing is delivered: only the name is
        checked (a mistake in the test's own code, like a bad marker argument) and None
        returned; the model is not touched."""
        __tracebackhide__ = True
        from pytest_mlgate.delivery.artifact import validate_model, validate_name

        validate_model(model)
        if not self.settings.gate_mode:
            validate_name(name)
            return None
        from pytest_mlgate.delivery.staging import stage_candidate

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        staged = stage_candidate(
            model, name=name, example=example, data=data, card=card,
            staging_dir=self.staging_dir(f"candidates-{worker}"),
            allow_pickle=self.settings.allow_pickle,
        )
        self.candidates.append(staged.to_json())
        return staged

    @contextlib.contextmanager
    def exclusive_timing(self) -> Iterator[None]:
        """Hold a lock shared by every pytest-xdist worker of this run while timing, so that two
        benchmarks never run at the same time."""
        if self.workers <= 1:
            yield
            return
        from filelock import FileLock

        with FileLock(str(self.staging_dir("locks") / "timing.lock")):
            yield

    @property
    def baseline(self) -> Baseline | None:
        if not self._baseline_loaded:
            self._baseline_loaded = True
            # Most runs have no baseline yet: skip importing the baseline module then.
            if self.settings.gate_mode and self.settings.baseline.exists():
                from pytest_mlgate.baseline import load_baseline

                self._baseline = load_baseline(self.settings.baseline)
        return self._baseline
