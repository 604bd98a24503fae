#!/usr/bin/env bash
# Installs what Keywarden's commands need on a fresh machine, idempotently:
# npm packages (from package-lock.json) when node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
