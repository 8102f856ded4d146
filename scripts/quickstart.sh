#!/usr/bin/env bash
# The main job: the quickstart model through all four gates, published to the local registry
# and deployed, exactly as CI on main would run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd examples/quickstart
../../.venv/bin/python -m pytest --mlgate --mlgate-deliver -n 2 "$@"
echo
../../.venv/bin/mlgate list --registry .mlgate/registry
echo
# The monitoring job that closes the loop: new data against the training profile in the artefact.
../../.venv/bin/mlgate drift breast-cancer@latest data/new_batch.csv --registry .mlgate/registry
