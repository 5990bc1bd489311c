#!/usr/bin/env bash
# What tests/suite/ansible.rs needs: ansible-core (ansible-playbook runs examples/ansible/kcompile.yml
# against a local connection), GNU tar (the playbook packs and unpacks bundles with it) and rsync
# (the rsync recipe of examples/ansible/README.md). ansible-core is pinned: the playbook is tested
# with this version (2.19 needs Python >= 3.11 on the controller: Debian 12's 3.11 is enough).
# Run as root on Debian 12 with CPython 3.11 and pip. Idempotent: does nothing that is already done.
set -euo pipefail

ANSIBLE_CORE_VERSION=2.19.14

if [ "$(id -u)" -ne 0 ]; then
  echo "install-ansible.sh: run as root (apt-get, system-wide pip)" >&2
  exit 1
fi

need=()
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v tar >/dev/null 2>&1 || need+=(tar)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${need[@]}"
fi

installed_version() {
  ansible-playbook --version 2>/dev/null | sed -n '1s/.*core \([0-9][0-9.]*\).*/\1/p'
}

if [ "$(installed_version)" != "$ANSIBLE_CORE_VERSION" ]; then
  bash "$(dirname "$0")/pip-install.sh" "ansible-core==$ANSIBLE_CORE_VERSION"
fi

ansible-playbook --version | sed -n 1p
rsync --version | sed -n 1p
