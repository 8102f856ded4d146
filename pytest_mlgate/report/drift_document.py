"""``mlgate drift``'s result as a report document, so that the HTML page draws it like a run's.

The document follows the JSON report schema (``pytest-mlgate/report``, version 1) with no gates
and one entry, ``gate: "drift"``, holding the drift readings and their series.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from pytest_mlgate import __version__
from pytest_mlgate.record import series_document


def drift_document(result: Any, series_item: Mapping[str, Any], *, reference: str, data: str,
                   started: float | None = None) -> dict[str, Any]:
    """A report document for ``result`` (a DriftResult) of ``data`` against ``reference``."""
    started = time.time() if started is None else started
    drifted = result.drifted_columns
    message = result.message().splitlines()[0] if drifted else ""
    return {
        "schema": "pytest-mlgate/report", "schema_version": 1, "plugin_version": __version__,
        "verdict": "fail" if drifted else "pass",
        "failures": [],
        "run": {"started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
                "duration_s": round(time.time() - started, 3), "seed": None, "complete": True,
                "incomplete_reasons": [], "git": {}, "args": [], "settings": {
                    "alpha": result.alpha, "reference": reference, "data": data}},
        "gates": {},
        "tests": [{
            "nodeid": f"{data} against {reference}", "gate": "drift", "key": data,
            "outcome": "failed" if drifted else "passed", "message": message, "reruns": 0,
            "duration_s": 0.0, "fingerprints": {},
            "metrics": [{**m.to_json(), "threshold": None, "threshold_verdict": None,
                         "threshold_p": None, "comparison": None, "verdict": "none"}
                        for m in result.measurements()],
            "series": series_document([dict(series_item)]),
        }],
        "baseline": {}, "delivery": None,
    }
