#!/usr/bin/env bash
# Starts the insecure dev server on the embedded default (SQLite, dev seal). Extra args go to `keywarden dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx src/cli/main.ts dev "$@"
