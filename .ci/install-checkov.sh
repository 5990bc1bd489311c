#!/usr/bin/env bash
# checkov: tests/suite/checkov.rs runs its Kubernetes checks (CIS-derived) on the hardened static pods of
# every example and fails on any finding not listed in docs/hardening.md. Pinned: its checks decide
# what passes. Installed in its own virtualenv (/opt/kcompile-checkov) so its many dependencies do not
# meet the other Python tools', with `checkov` linked into /usr/local/bin.
# Run as root on Debian 12 with CPython 3.11. Idempotent.
set -euo pipefail

CHECKOV_VERSION=3.3.30
VENV=/opt/kcompile-checkov

if command -v checkov >/dev/null 2>&1 && [ "$(checkov --version 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
  exit 0
fi

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends python3-venv
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
ln -sf "$VENV/bin/checkov" /usr/local/bin/checkov

checkov --version
