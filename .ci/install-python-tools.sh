#!/usr/bin/env bash
# Python tools the tests check the compiled files with: kubernetes-validate validates the static
# pods (and other Kubernetes API objects) against the JSON schemas of each Kubernetes version, in
# strict mode (tests/schema.rs). Pinned: its schemas decide what passes.
# Run as root on Debian 12 with CPython 3.11 and pip. Idempotent.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0

if command -v kubernetes-validate >/dev/null 2>&1 &&
  [ "$(kubernetes-validate --version 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]; then
  exit 0
fi

if python3 -m pip --version >/dev/null 2>&1; then
  pip=(python3 -m pip)
elif command -v pip3 >/dev/null 2>&1; then
  pip=(pip3)
else
  apt-get update
  apt-get install -y --no-install-recommends python3-pip
  pip=(python3 -m pip)
fi

# Debian's own python3 is "externally managed" (PEP 668): allow a system-wide install there; older
# pips ignore the variable.
PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "${pip[@]}" install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

# pyenv puts console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then
  pyenv rehash || true
fi

kubernetes-validate --version
