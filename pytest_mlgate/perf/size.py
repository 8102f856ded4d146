"""``measure_size``: the serialized size of a model, in MiB."""

from __future__ import annotations

import pickle
from typing import Any

from pytest_mlgate.errors import ArtifactError
from pytest_mlgate.measurement import Measurement
from pytest_mlgate.perf.memory import MIB


def measure_size(model: Any, *, allow_pickle: bool = True) -> Measurement:
    """``model_size_mb``: bytes of the serialized model / 2**20 (uncompressed).

    skops is tried first (the format artefacts use); pickle is the fallback when skops cannot
    serialize the object and ``allow_pickle`` is true. ``info["format"]`` says which was used.
    """
    import skops.io

    try:
        data = skops.io.dumps(model)
        fmt = "skops"
    except Exception as skops_exc:  # skops raises several types for unsupported objects
        if not allow_pickle:
            raise ArtifactError(
                f"measure_size: skops cannot serialize {type(model).__name__} ({skops_exc}); "
                f"pass allow_pickle=True to measure its pickled size instead"
            ) from skops_exc
        try:
            data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            fmt = "pickle"
        except Exception as pickle_exc:
            raise ArtifactError(
                f"measure_size: {type(model).__name__} can be serialized neither by skops "
                f"({skops_exc}) nor by pickle ({pickle_exc}); measure the object that is "
                f"deployed (the fitted estimator or pipeline)"
            ) from pickle_exc
    return Measurement(
        name="model_size_mb",
        value=len(data) / MIB,
        n=1,
        method="serialized size",
        info={"units": "MiB", "format": fmt, "bytes": len(data)},
    )
