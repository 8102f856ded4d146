"""The MLflow ``python_function`` flavour of an artefact: the ``MLmodel`` beside it, naming
the loader module MLflow calls (``mlflow_pyfunc``).

Layout of the model directory logged to an MLflow run (``<run artifacts>/model/``)::

    MLmodel             flavour python_function, loader_module = mlflow_pyfunc, data = artifact
    python_env.yaml     the Python version and requirements.txt, for MLflow's environments
    requirements.txt    what loading needs: pytest-mlgate, mlflow and the model's libraries
    artifact/           the verified artefact, exactly as published (manifest.json + files)

The ``MLmodel`` is outside the artefact, so the artefact id is the same as a local publish of
the same candidate would make; ``pytest_mlgate.load`` never reads the ``MLmodel``.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ARTIFACT_DIR = "artifact"
LOADER_MODULE = "pytest_mlgate.delivery.mlflow_pyfunc"
#: What mlflow.pyfunc.load_model(..., model_config=...) may set, with the values that mean unset.
CONSUMER_CONFIG = {"trusted": [], "expect_id": "", "public_key": ""}
# The distributions loading needs, besides the model's own library (from the manifest).
_ALWAYS = ("pytest-mlgate", "mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy",
           "cryptography", "filelock")


def write_mlflow_model(model_dir: Path, environment: Mapping[str, Any]) -> None:
    """Write ``MLmodel``, ``python_env.yaml`` and ``requirements.txt`` into ``model_dir`` (which
    holds the artefact in ``artifact/``). ``environment``: the artefact's environment.json."""
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    requirements = _requirements(environment)
    (model_dir / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements),
                                                encoding="utf-8")
    python = str(environment.get("python") or platform.python_version()).split()[0]
    (model_dir / "python_env.yaml").write_text(
        f"python: {python}\nbuild_dependencies:\n  - pip\ndependencies:\n"
        "  - -r requirements.txt\n", encoding="utf-8")
    model = Model()
    # The keys a consumer may set with load_model(..., model_config=...): MLflow passes only the
    # keys the MLmodel declares and drops every other with a warning (new-user trial: the pin
    # and the trusted types were silently ignored).
    add_to_model(model, loader_module=LOADER_MODULE, data=ARTIFACT_DIR,  # type: ignore[no-untyped-call]
                 python_env="python_env.yaml", model_config=dict(CONSUMER_CONFIG))
    model.save(str(model_dir / "MLmodel"))


def _requirements(environment: Mapping[str, Any]) -> list[str]:
    """Pinned requirements from the recorded environment (its ``distributions`` map)."""
    dists = environment.get("distributions")
    known = {str(k).lower().replace("_", "-"): str(v) for k, v in dists.items()} \
        if isinstance(dists, Mapping) else {}
    return [f"{name}=={known[name]}" if name in known else name for name in _ALWAYS]
