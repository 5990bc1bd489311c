#!/bin/sh
# Runs on a host after the new bundle is unpacked: removes the files `kcompile diff` listed as
# removed (the host's old MANIFEST lists them, the build no longer produces them) by the rules
# `kcompile build --out` prunes by. A path is removed only if it is a regular file, in a directory
# kcompile owns (etc/kubernetes, etc/haproxy, etc/keepalived, var/lib/kubelet, var/lib/kube-proxy,
# etc/systemd/system/kubelet.service.d, or below), reached through no symlink, and its content
# still has the sha256 the old MANIFEST recorded. Anything else is left in place. Then the
# directories kcompile owns that this emptied are removed.
# usage: prune-removed.sh ROOT CURRENT_TAR PATH...
#   CURRENT_TAR: the tar collect-managed.sh packed before the unpack; it holds the old MANIFEST
#   (the unpack has replaced the one in ROOT).
# Prints one line per path, `removed PATH` or `left PATH: why`, and `removed DIR/` for each
# directory it emptied and removed. Only paths are printed, never contents.
set -eu
root=$1 current=$2
shift 2
old=$(mktemp)
trap 'rm -f "$old"' EXIT
# A MANIFEST packed as a symlink extracts as nothing: no entry, nothing removed.
tar -xOf "$current" etc/kubernetes/kcompile/MANIFEST >"$old" 2>/dev/null || : >"$old"

owned() {
  case "$1/" in
    etc/kubernetes/* | etc/haproxy/* | etc/keepalived/* | var/lib/kubelet/* | \
      var/lib/kube-proxy/* | etc/systemd/system/kubelet.service.d/*) return 0 ;;
  esac
  return 1
}

# Why PATH must stay, or nothing when it may go.
why_left() {
  path=$1
  case "/$path/" in
    //* | */../* | */./* | *//*) echo "not a plain relative path"; return ;;
  esac
  case $path in
    */*) parent=${path%/*} ;;
    *) parent= ;;
  esac
  if ! owned "$parent"; then
    echo "outside the directories kcompile owns; never removed"; return
  fi
  dir=
  rest=$parent
  while [ -n "$rest" ]; do
    dir=${dir:+$dir/}${rest%%/*}
    case $rest in
      */*) rest=${rest#*/} ;;
      *) rest= ;;
    esac
    if [ -L "$root/$dir" ]; then
      echo "$dir is a symlink; kcompile never follows it"; return
    fi
  done
  if [ -L "$root/$path" ] || [ ! -f "$root/$path" ]; then
    echo "not a regular file now, not the file kcompile wrote"; return
  fi
  # MANIFEST entries: `MODE SHA256 PATH`, the path from the 71st character.
  want=$(awk -v p="$path" '
    length($1) == 4 && $1 ~ /^[0-7]+$/ && length($2) == 64 && $2 ~ /^[0-9a-f]+$/ &&
      substr($0, 71) == p { print $2; exit }' "$old")
  if [ -z "$want" ]; then
    echo "not in the MANIFEST the host had"; return
  fi
  have=$(sha256sum <"$root/$path")
  if [ "${have%% *}" != "$want" ]; then
    echo "changed since kcompile wrote it"; return
  fi
}

emptied=
for path in "$@"; do
  if [ ! -e "$root/$path" ] && [ ! -L "$root/$path" ]; then
    continue
  fi
  why=$(why_left "$path")
  if [ -n "$why" ]; then
    printf 'left %s: %s\n' "$path" "$why"
    continue
  fi
  rm -f -- "$root/$path"
  printf 'removed %s\n' "$path"
  emptied="$emptied${path%/*}
"
done

# Each emptied directory, then its parents while kcompile owns them; children before parents.
printf '%s' "$emptied" | while IFS= read -r dir; do
  while owned "$dir"; do
    printf '%s\n' "$dir"
    case $dir in
      */*) dir=${dir%/*} ;;
      *) break ;;
    esac
  done
done | sort -r -u | while IFS= read -r dir; do
  if [ ! -L "$root/$dir" ] && rmdir -- "$root/$dir" 2>/dev/null; then
    printf 'removed %s/\n' "$dir"
  fi
done
