#!/usr/bin/env bash
# Installs Python packages system-wide for the tests' tools: `bash .ci/pip-install.sh PKG==VER...`.
# Used by the .ci/install-*.sh scripts (not run on its own by .ci/run). Run as root on Debian 12.
set -euo pipefail

if python3 -m pip --version >/dev/null 2>&1; then
  pip=(python3 -m pip)
elif command -v pip3 >/dev/null 2>&1; then
  pip=(pip3)
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends python3-pip
  pip=(python3 -m pip)
fi

# Debian's own python3 is "externally managed" (PEP 668): allow a system-wide install there; older
# pips ignore the variable.
PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "${pip[@]}" install --quiet "$@"

# pyenv puts console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then
  pyenv rehash || true
fi
