#!/usr/bin/env bash
# One command for the quick start: install apirun into .venv, start a local Keystone on
# 127.0.0.1 (scripts/keystone/up.sh), and run specs/users.yaml against it.
#   bash scripts/demo.sh [SPEC_OR_DIR...]      (default: specs/users.yaml)
# Stop Keystone afterwards with: bash scripts/keystone/down.sh
# The first run takes about a minute (pip installs Keystone and ~95 OpenStack packages
# into a private virtualenv, then Keystone creates its database); later runs take seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
# Installed once, editable (a pulled change to the code needs nothing); again only when
# pyproject.toml (the dependencies) changed since, or the install is gone.
stamp=.venv/.apirun-demo-installed
wanted="$(sha256sum pyproject.toml | cut -d ' ' -f 1)"
if [[ ! -x .venv/bin/apirun || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]] \
    || ! .venv/bin/python -c 'import runner' 2>/dev/null; then
  echo "[demo] installing apirun into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
  echo "$wanted" >"$stamp"
fi

echo "[demo] starting a local Keystone (first run: about a minute)" >&2
url="$(bash scripts/keystone/up.sh | tail -n 1)"
echo "[demo] Keystone is at $url" >&2

if [[ $# -eq 0 ]]; then set -- specs/users.yaml; fi
OS_AUTH_URL="$url/v3" exec .venv/bin/apirun "$@"
