#!/usr/bin/env bash
# containerd: tests/node.rs has Debian's containerd (bookworm: 1.6.x) read the containerd 1.x
# configuration kcompile writes (`containerd --config FILE config dump`) and checks the cgroup
# driver and sandbox image it resolves. No containerd 2.x can be installed here; the 2.x drop-in is
# checked against keys read from containerd's source (src/versions/containerd/).
set -euo pipefail
if ! command -v containerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends containerd
fi
containerd --version
