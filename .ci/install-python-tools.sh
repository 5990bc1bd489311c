#!/usr/bin/env bash
# Python tools the tests check the compiled files with: kubernetes-validate validates the static
# pods (and other Kubernetes API objects) against the JSON schemas of each Kubernetes version, in
# strict mode (tests/suite/schema.rs). Pinned: its schemas decide what passes.
# Run as root on Debian 12 with CPython 3.11 and pip. Idempotent.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0

if command -v kubernetes-validate >/dev/null 2>&1 &&
  [ "$(kubernetes-validate --version 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]; then
  exit 0
fi

bash "$(dirname "$0")/pip-install.sh" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

kubernetes-validate --version
