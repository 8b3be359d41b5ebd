#!/bin/bash
# The copy-on-write rootfs of an image container at start: how long the engine's overlay set-up
# takes (upper and work dirs, fsopen/fsconfig/fsmount/move_mount: CRATERUN_TIMING's "spec loaded"
# to "image overlay mounted", in the monitor), and what `run --rm IMAGE true` costs over
# `run --rm --rootfs DIR true` of the same files (mount, unmount, upper dir removal), alternating,
# order swapped every other round. Issue 12's target: the overlay adds <= 2 ms. No peer has a
# step to compare with (runc binds a rootfs; podman's storage mounts inside `podman run`, see images.sh).
#   bench/overlay-start.sh [N]      (root; run under flock /tmp/craterun-suite.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # no bridge in this machine's own network namespace
B=${CRATERUN_BIN:-$PWD/out/craterun}
N=${1:-30}
W=$(mktemp -d /tmp/craterun-bench-overlay.XXXXXX)
# shellcheck disable=SC2154 # id is the for-loop variable inside the trap string
trap 'for id in $("$B" --root "$W/state" ps -a -q 2>/dev/null); do "$B" --root "$W/state" rm -f "$id" >/dev/null; done; rm -rf --one-file-system "$W"' EXIT
tests/fixtures/make-rootfs.sh "$W/rootfs" >/dev/null
tar --numeric-owner -C "$W/rootfs" -cf "$W/layer.tar" .
"$B" --root "$W/state" import "$W/layer.tar" bench/overlay >/dev/null
IMG=("$B" --root "$W/state" run --rm bench/overlay /bin/true)
DIR=("$B" --root "$W/state" run --rm --rootfs "$W/rootfs" -- /bin/true)
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null || { echo "FAILED: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for _ in 1 2 3; do "${IMG[@]}" >/dev/null; "${DIR[@]}" >/dev/null; done
for i in $(seq 1 "$N"); do
    if [ $((i % 2)) -eq 0 ]; then ms "${IMG[@]}" >> "$W/img.us"; ms "${DIR[@]}" >> "$W/dir.us"
    else ms "${DIR[@]}" >> "$W/dir.us"; ms "${IMG[@]}" >> "$W/img.us"; fi
    # the set-up alone, from the monitor's timing marks (a run of its own: printing them costs time)
    CRATERUN_TIMING=1 "${IMG[@]}" 2>&1 >/dev/null | awk '/spec loaded/ {s=$3} /image overlay mounted/ && s != "" {d = $3 - s; if (d < 0) d += 100000; printf "%d\n", d * 1000}' >> "$W/setup.us"
done
[ -s "$W/setup.us" ] || { echo "no timing marks: is $B built with the 'image overlay mounted' mark?" >&2; exit 1; }
img=$(median < "$W/img.us"); dir=$(median < "$W/dir.us"); setup=$(median < "$W/setup.us")
echo "overlay set-up at start (median of N=$N, CRATERUN_TIMING=1 craterun ${IMG[*]:1}): $(awk -v u="$setup" 'BEGIN {printf "%.2f", u / 1000}') ms (target <= 2 ms)"
awk -v i="$img" -v d="$dir" -v n="$N" -v ic="craterun ${IMG[*]:1}" -v dc="craterun ${DIR[*]:1}" 'BEGIN {printf "%s: median %.1f ms; %s: median %.1f ms; overlay adds %.2f ms end to end (N=%d, alternating)\n", ic, i / 1000, dc, d / 1000, (i - d) / 1000, n}'
