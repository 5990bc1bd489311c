#!/usr/bin/env bash
# containerd: tests/suite/node.rs has Debian's containerd (bookworm: 1.6.x) read the containerd 1.x
# configuration kcompile writes (`containerd --config FILE config dump`) and checks the cgroup
# driver and sandbox image it resolves. No containerd 2.x can be installed here; the 2.x drop-in is
# checked against keys read from containerd's source (src/versions/node/containerd_keys.tsv).
# Idempotent: does nothing that is already done.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-containerd.sh: run as root (apt-get)" >&2
  exit 1
fi
if ! command -v containerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends containerd
fi
# The package enables (and, where systemd runs, starts) containerd. The tests only read configs
# with `containerd config dump` and need no daemon.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet containerd.service 2>/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now containerd.service >/dev/null 2>&1 || true
  else
    systemctl disable containerd.service >/dev/null 2>&1 || true
  fi
fi
containerd --version
