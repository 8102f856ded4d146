#!/usr/bin/env bash
# The test suite: lint, types, then the tests in parallel, then the timing-sensitive ones alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pytest_mlgate tests benchmarks examples
.venv/bin/mypy
.venv/bin/python -m pytest -n 2 -m "not serial" "$@"
.venv/bin/python -m pytest -m serial -p no:randomly "$@"
