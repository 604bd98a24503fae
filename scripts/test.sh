#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, type-checks, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "==> typecheck" >&2
npx tsc -p tsconfig.json --noEmit
echo "==> tests" >&2
node scripts/run-tests.mjs "$@"
