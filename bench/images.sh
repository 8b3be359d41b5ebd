#!/bin/bash
# Image costs: load+unpack of a ~100 MB one-layer image (gzip) against `tar -xzf` of the same
# layer bytes, and `run --rm IMAGE true` against `run --rm --rootfs DIR true` (overlay's cost).
#   bench/images.sh [N]     (root; run under flock /tmp/craterun-suite.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # no bridge in this machine's own network namespace
B=${CRATERUN_BIN:-$PWD/out/craterun}
N=${1:-20}
W=$(mktemp -d /tmp/craterun-bench-images.XXXXXX)
trap 'for id in $("$B" --root "$W/state" ps -a -q 2>/dev/null); do "$B" --root "$W/state" rm -f "$id" >/dev/null; done; rm -rf --one-file-system "$W"' EXIT
tests/fixtures/make-rootfs.sh "$W/rootfs" >/dev/null
mkdir -p "$W/rootfs/payload"
# ~100 MB: half incompressible, half text, in files of 1 MB
for i in $(seq 1 50); do head -c 1048576 /dev/urandom > "$W/rootfs/payload/r$i"; done
for i in $(seq 1 50); do yes "line $i of some text that compresses" | head -c 1048576 > "$W/rootfs/payload/t$i" || true; done
tar --numeric-owner -C "$W/rootfs" -czf "$W/layer.tar.gz" .
ls -l "$W/layer.tar.gz" | awk '{printf "layer: %.1f MB gzip, ", $5/1e6}'; du -sm "$W/rootfs" | awk '{print $1 " MB unpacked"}'
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2 3; do
    rm -rf "$W/x" "$W/state"; mkdir -p "$W/x"; sync
    t=$(ms tar -xzf "$W/layer.tar.gz" -C "$W/x"); echo "tar -xzf: $t ms"
    sync
    t=$(ms "$B" --root "$W/state" import "$W/layer.tar.gz" bench/img); echo "craterun import (store blob + unpack): $t ms"
done
for i in $(seq 1 "$N"); do
    ms "$B" --root "$W/state" run --rm bench/img /bin/true >> "$W/img.ms"
    ms "$B" --root "$W/state" run --rm --rootfs "$W/rootfs" -- /bin/true >> "$W/dir.ms"
done
echo "run --rm IMAGE true: median $(median < "$W/img.ms") ms; run --rm --rootfs DIR true: median $(median < "$W/dir.ms") ms (N=$N, alternating)"
