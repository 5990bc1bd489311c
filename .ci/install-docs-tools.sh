#!/usr/bin/env bash
# groff: tests/suite/cli.rs renders the man page (`kcompile man`) and requires it free of warnings.
set -euo pipefail
if ! command -v groff >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends groff-base
fi
groff --version | sed -n 1p
