#!/usr/bin/env bash
# What tests/suite/crash.rs needs, as root on Debian 12: Debian's strace, which kills kcompile at each
# system call it makes on the state dir (`-e inject=SYSCALL:signal=SIGKILL:when=N`) and traces
# those calls with their paths (`-y`). The test fails, never skips, without it.
# Idempotent: does nothing that is already done.
set -euo pipefail

if ! command -v strace >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-strace.sh: run as root (apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends strace
fi

strace -V | sed -n 1p
