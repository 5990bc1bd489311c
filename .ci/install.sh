#!/usr/bin/env bash
# Installs every real tool the tests check kcompile's output with, on Debian 12 as root: openssl,
# kubectl, python3 (tests/suite/releases.rs re-runs scripts/releases.py), then each `.ci/install-*.sh`
# (etcd, kubernetes-validate, haproxy and keepalived, ansible and rsync, strace, systemd-analyze,
# groff, cloud-init, containerd...). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "run as root: the installers use apt-get, and the tests use network namespaces and bind mounts" >&2
  exit 1
fi

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update
  for package in "${need[@]}"; do
    if [ "$package" = kubectl ]; then
      # kubectl from the image's Kubernetes apt source when it has one, else Debian's kubernetes-client.
      apt-get install -y --no-install-recommends kubectl || apt-get install -y --no-install-recommends kubernetes-client
    else
      apt-get install -y --no-install-recommends "$package"
    fi
  done
fi

for installer in .ci/install-*.sh; do
  [ -e "$installer" ] && bash "$installer"
done
