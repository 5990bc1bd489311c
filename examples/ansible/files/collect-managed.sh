#!/bin/sh
# Runs on a host: packs the files `kcompile diff` reads there into one tar, for the controller to
# diff against. usage: collect-managed.sh ROOT BUNDLE_TAR OUTPUT_TAR
#   - every file of the new bundle (BUNDLE_TAR lists them);
#   - every file the host's current MANIFEST lists (so diff can tell what to remove);
#   - the static pod and PKI directories (so diff can report unknown files there).
# Only relative paths that stay inside ROOT are packed; missing ones are skipped. Symlinks are
# packed as symlinks, never followed. Nothing is printed: the files include private keys.
set -eu
root=$1 bundle=$2 output=$3
manifest="$root/etc/kubernetes/kcompile/MANIFEST"
# The MANIFEST is 0600, root's: without it the diff could not list the files to remove.
if [ -e "$manifest" ] && [ ! -r "$manifest" ]; then
  echo "collect-managed.sh: cannot read $manifest (mode 0600): run as root (kcompile_become)" >&2
  exit 1
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
  tar -tf "$bundle" | sed -e '/\/$/d'
  if [ -f "$manifest" ]; then
    sed -n -e 's/^[0-7][0-7][0-7][0-7] [0-9a-f]\{64\} //p' "$manifest"
  fi
  echo etc/kubernetes/manifests
  echo etc/kubernetes/pki
} | sort -u | while IFS= read -r path; do
  case "/$path/" in
    //* | */../* | */./*) continue ;;
  esac
  if [ -e "$root/$path" ] || [ -L "$root/$path" ]; then
    printf '%s\n' "$path"
  fi
done >"$list"
umask 077
tar -C "$root" -cf "$output" --verbatim-files-from --files-from="$list"
