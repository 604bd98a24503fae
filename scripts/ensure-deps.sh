#!/usr/bin/env bash
# Installs what Keywarden's commands and tests need on a fresh machine, idempotently:
# - npm packages (from package-lock.json) when node_modules is missing or older than the lock file;
# - Debian packages the tests run against for real (SoftHSM2 for the PKCS#11 tests), with apt-get
#   when running as root; otherwise it names what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || missing+=(softhsm2)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} — install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "==> installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }
fi
