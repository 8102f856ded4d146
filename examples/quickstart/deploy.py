"""The quickstart's deploy step: load the published artefact (verified) and smoke-test it.

pytest-mlgate runs this after a successful publish with the artefact in the environment:
MLGATE_ARTIFACT_PATH, MLGATE_ARTIFACT_ID, MLGATE_ARTIFACT_NAME, MLGATE_ARTIFACT_VERSION.
A real project would push to a serving platform here.
"""

from __future__ import annotations

import os

import pytest_mlgate


def main() -> None:
    # expect_id: load exactly the artefact this deploy was started for, whatever is in the
    # directory now (load checks every file's hash against the manifest, and the manifest's id).
    path = os.environ["MLGATE_ARTIFACT_PATH"]
    model = pytest_mlgate.load(path, expect_id=os.environ["MLGATE_ARTIFACT_ID"])
    print(f"deployed {os.environ['MLGATE_ARTIFACT_NAME']} v{os.environ['MLGATE_ARTIFACT_VERSION']} "
          f"({os.environ['MLGATE_ARTIFACT_ID'][:19]}): {type(model).__name__} loaded and verified")


if __name__ == "__main__":
    main()
