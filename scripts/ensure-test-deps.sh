#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing (Debian; root).
# Used by `npm test` (pretest) and .ci/run, so a fresh machine needs no step the README does not show.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
# The storage contract tests start a throwaway PostgreSQL cluster (packages/update-server/src/testing).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -n "${PG_BIN:-}" ] || missing+=(postgresql)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "the tests need: ${missing[*]} (Debian packages). Install them, or set CHROMIUM_PATH to a Chromium binary and PG_BIN to PostgreSQL's bin directory." >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)…"
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
