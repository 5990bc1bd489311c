#!/usr/bin/env bash
# systemd-analyze: tests/suite/hostile_specs.rs has systemd's own parser read the kubelet unit kcompile
# writes (quoting, one ExecStart, no stray directive).
set -euo pipefail
if ! command -v systemd-analyze >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends systemd
fi
systemd-analyze --version | sed -n 1p
