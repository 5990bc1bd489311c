#!/usr/bin/env bash
# cloud-init and Ignition: tests/suite/provisioning.rs checks the cloud-config kcompile writes with
# `cloud-init schema` and cloud-init's own write_files module, and the Ignition config with
# `ignition-validate` and Ignition's own files stage (both from Debian's packages). Debian 12's
# ignition is 2.14.0, which knows spec 3.4.0 as 3.4.0-experimental (the test says so).
# Run as root on Debian 12. Idempotent.
set -euo pipefail

need=()
command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
if ! command -v ignition-validate >/dev/null 2>&1 ||
  [ ! -x /usr/lib/dracut/modules.d/30ignition/ignition ]; then
  need+=(ignition)
fi
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${need[@]}"
fi

# Only its validator and modules are wanted: cloud-init must never provision this machine itself
# at its next boot (cloud-init's documented off switch; `cloud-init schema` still works).
mkdir -p /etc/cloud
touch /etc/cloud/cloud-init.disabled

cloud-init --version 2>&1 | sed -n 1p
ignition-validate --version | sed -n 1p
