#!/usr/bin/env bash
# Re-checks src/versions/coredns.tsv, the CoreDNS tag kubeadm pins per Kubernetes minor.
#
#   scripts/coredns-pins.sh                 offline: every pin matches its saved read
#                                           (scripts/coredns-pins.sources) and every supported
#                                           minor has one
#   scripts/coredns-pins.sh <k8s-clone>     from a kubernetes/kubernetes clone with its tags:
#                                           prints, per minor, `CoreDNSVersion` at the newest
#                                           v1.MINOR.N tag with the tag's commit and the line, and
#                                           fails where the table differs
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
table="$here/src/versions/coredns.tsv"
sources="$here/scripts/coredns-pins.sources"
status=0

pins() { grep -v '^#' "$1" | awk -F'\t' 'NF >= 2 { print $1 "\t" $2 }'; }

if [ $# -eq 0 ]; then
    oldest=$(sed -n 's/^pub const OLDEST_MINOR: u32 = \([0-9]*\);/\1/p' "$here/src/versions.rs")
    newest=$(sed -n 's/^pub const NEWEST_MINOR: u32 = \([0-9]*\);/\1/p' "$here/src/versions.rs")
    for minor in $(seq "$oldest" "$newest"); do
        grep -q "^$minor	v" "$table" || { echo "coredns.tsv: no pin for 1.$minor" >&2; status=1; }
    done
    if ! diff <(pins "$table") <(pins "$sources") >/dev/null; then
        echo "coredns.tsv and coredns-pins.sources disagree:" >&2
        diff <(pins "$table") <(pins "$sources") >&2 || true
        status=1
    fi
    # Each saved line names the tag it pins (with or without the leading v).
    while IFS=$'\t' read -r minor tag _ line; do
        case "$line" in
            *"${tag#v}"*) ;;
            *) echo "coredns-pins.sources: 1.$minor: the saved line does not name $tag" >&2; status=1 ;;
        esac
    done < <(grep -v '^#' "$sources")
    [ $status -eq 0 ] && echo "coredns.tsv: $(pins "$table" | wc -l) pins match their saved reads"
    exit $status
fi

clone=$1
while IFS=$'\t' read -r minor tag; do
    release=$(git -C "$clone" tag -l "v1.$minor.*" | grep -E '^v1\.[0-9]+\.[0-9]+$' | sort -V | tail -1)
    if [ -z "$release" ]; then
        echo "1.$minor: no release tag in $clone" >&2; status=1; continue
    fi
    commit=$(git -C "$clone" rev-list -n1 "$release")
    found=$(git -C "$clone" show "$release:cmd/kubeadm/app/constants/constants.go" \
        | grep -n 'CoreDNSVersion *= *"' | head -1)
    line=${found%%:*}
    upstream=$(printf '%s' "$found" | sed 's/.*"\(v[^"]*\)".*/\1/')
    printf '%s\t%s\tkubernetes/kubernetes %s %s cmd/kubeadm/app/constants/constants.go:%s\n' \
        "$minor" "$upstream" "$release" "${commit:0:12}" "$line"
    if [ "$upstream" != "$tag" ]; then
        echo "1.$minor: coredns.tsv pins $tag, $release has $upstream" >&2; status=1
    fi
done < <(pins "$table")
exit $status
