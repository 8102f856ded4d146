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
# The delivered model behind HTTP, briefly: a few rows of new data, and what it answers.
serve_log=$(mktemp)
../../.venv/bin/mlgate serve breast-cancer@staging --registry .mlgate/registry --port 0 >"$serve_log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$serve_log"' EXIT
for _ in $(seq 300); do grep -q "^mlgate: serving" "$serve_log" && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
cat "$serve_log"
url=$(sed -n 's/^mlgate: serving .* on \(http:[^,;]*\).*/\1/p' "$serve_log")
echo "\$ head -4 data/new_batch.csv | curl -H 'Content-Type: text/csv' --data-binary @- $url/invocations"
head -4 data/new_batch.csv | curl -sS --fail-with-body -H 'Content-Type: text/csv' --data-binary @- "$url/invocations"
echo
kill "$server" && wait "$server" 2>/dev/null || true
echo
# The monitoring job that closes the loop: new data against the training profile in the artefact.
../../.venv/bin/mlgate drift breast-cancer@latest data/new_batch.csv --registry .mlgate/registry
