#!/usr/bin/env bash
# Every benchmark, one after another; each prints its figures as one JSON line last.
# `make bench` runs this with DATABASE_URL and REDIS_URL set (localnet.devservers).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
status=0
for module in bench/[a-z]*.py; do
  name="$(basename "$module" .py)"
  echo "== bench.$name" >&2
  "$PY" -m "bench.$name" || status=1
done
exit $status
