#!/usr/bin/env bash
# Installs what tests/suite/load_balancer.rs needs, as root on Debian 12: Debian's haproxy and
# keepalived, whose own checkers (`haproxy -c -f`, `keepalived --config-test -f`) the test runs
# on the rendered configs. Their services are not wanted: they are stopped and disabled when the
# package started them (the test never runs them as daemons).
# Idempotent: does nothing that is already done.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-lb.sh: run as root (apt-get)" >&2
  exit 1
fi

need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v keepalived >/dev/null 2>&1 || need+=(keepalived)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # policy-rc.d exit code 101 keeps the packages' postinst scripts from starting the services
  # (where invoke-rc.d is used); a policy-rc.d that already exists is left alone.
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    added_policy=true
  fi
  status=0
  apt-get install -y --no-install-recommends "${need[@]}" || status=$?
  if [ "$added_policy" = true ]; then
    rm -f "$policy"
  fi
  [ "$status" -eq 0 ] || exit "$status"
fi
# Where systemd runs, the packages enable their units: stop and disable them.
for unit in haproxy.service keepalived.service; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    else
      systemctl disable "$unit" >/dev/null 2>&1 || true
    fi
  fi
done

haproxy -v | sed -n 1p
keepalived --version 2>&1 | sed -n 1p
exit 0
