#!/usr/bin/env bash
# Installs what Keywarden's commands and tests need on a fresh machine, idempotently:
# - npm packages (from package-lock.json) when node_modules is missing or older than the lock file;
# - Debian packages the tests run against for real (SoftHSM2 for the PKCS#11 tests, PostgreSQL 15
#   for the PostgreSQL store tests), with apt-get
#   when running as root; otherwise it names what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || missing+=(softhsm2)
# PostgreSQL 15 server binaries: test/support/postgres.ts starts a throwaway cluster with them.
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} — install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "==> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }
fi

# initdb refuses to run as root: as root, the PostgreSQL test fixture runs it as the `postgres` OS
# user (which the Debian packages create; a machine with the binaries but not the user gets one).
if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
  echo "==> creating the postgres system user" >&2
  useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
fi
