#!/bin/bash
# The copy-on-write rootfs of an image container at start: how long the engine's overlay set-up
# takes (upper and work dirs, fsopen/fsconfig/fsmount/move_mount: CRATERUN_TIMING's "spec loaded"
# to "image overlay mounted", in the monitor), and what `run --rm IMAGE true` costs over
# `run --rm --rootfs DIR true` of the same files (mount, unmount, upper dir removal), alternating,
# order swapped every other round. Issue 12's target: the overlay adds <= 2 ms. No peer has a
# step to compare with (runc binds a rootfs; podman's storage mounts inside `podman run`, see images.sh).
#   bench/overlay-start.sh [N]      (root; run under flock /tmp/craterun-suite.lock)
#   CRATERUN_OLD_BIN=/path/to/old/craterun bench/overlay-start.sh [N]   also the same two runs of an older build,
#       in the same rounds (the four commands rotate), and the image container new vs old
#   BENCH_DIRS="/tmp /dev/shm loop" bench/overlay-start.sh [N]   the same two runs with the state root (and rootfs)
#       on each filesystem named, in the same rounds (all the commands rotate); "loop" is an ext4 made here
#       (mkfs.ext4 defaults: a journal, mounted without discard) in a file under /var/tmp, removed at the end.
#       This machine's / is ext4 mounted `discard` without a journal: every removed directory is a
#       synchronous discard, and an image container removes more of them (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${BENCH_DIRS:-}" ]; then
    [ -z "${CRATERUN_OLD_BIN:-}" ] || { echo "BENCH_DIRS and CRATERUN_OLD_BIN: one at a time" >&2; exit 2; }
    exec bench/overlay-start-dirs.sh "${1:-30}"
fi
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # no bridge in this machine's own network namespace
B=${CRATERUN_BIN:-$PWD/out/craterun}
OLD=${CRATERUN_OLD_BIN:-}
N=${1:-30}
W=$(mktemp -d /tmp/craterun-bench-overlay.XXXXXX)
# shellcheck disable=SC2154 # id is the for-loop variable inside the trap string
trap 'for id in $("$B" --root "$W/state" ps -a -q 2>/dev/null); do "$B" --root "$W/state" rm -f "$id" >/dev/null; done; [ -z "$OLD" ] || for id in $("$OLD" --root "$W/old-state" ps -a -q 2>/dev/null); do "$OLD" --root "$W/old-state" rm -f "$id" >/dev/null; done; rm -rf --one-file-system "$W"' EXIT
tests/fixtures/make-rootfs.sh "$W/rootfs" >/dev/null
tar --numeric-owner -C "$W/rootfs" -cf "$W/layer.tar" .
"$B" --root "$W/state" import "$W/layer.tar" bench/overlay >/dev/null
IMG=("$B" --root "$W/state" run --rm bench/overlay /bin/true)
DIR=("$B" --root "$W/state" run --rm --rootfs "$W/rootfs" -- /bin/true)
# the old build runs in a state root of its own (its store may be laid out otherwise), with the same files
if [ -n "$OLD" ]; then
    "$OLD" --root "$W/old-state" import "$W/layer.tar" bench/overlay >/dev/null
    cp -a "$W/rootfs" "$W/old-rootfs"
    OIMG=("$OLD" --root "$W/old-state" run --rm bench/overlay /bin/true)
    ODIR=("$OLD" --root "$W/old-state" run --rm --rootfs "$W/old-rootfs" -- /bin/true)
fi
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null || { echo "FAILED: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for _ in 1 2 3; do "${IMG[@]}" >/dev/null; "${DIR[@]}" >/dev/null; [ -z "$OLD" ] || { "${OIMG[@]}" >/dev/null; "${ODIR[@]}" >/dev/null; }; done
for i in $(seq 1 "$N"); do
    if [ -n "$OLD" ]; then
        case $((i % 4)) in
            0) ms "${IMG[@]}" >> "$W/img.us"; ms "${DIR[@]}" >> "$W/dir.us"; ms "${OIMG[@]}" >> "$W/oimg.us"; ms "${ODIR[@]}" >> "$W/odir.us" ;;
            1) ms "${ODIR[@]}" >> "$W/odir.us"; ms "${OIMG[@]}" >> "$W/oimg.us"; ms "${DIR[@]}" >> "$W/dir.us"; ms "${IMG[@]}" >> "$W/img.us" ;;
            2) ms "${OIMG[@]}" >> "$W/oimg.us"; ms "${IMG[@]}" >> "$W/img.us"; ms "${ODIR[@]}" >> "$W/odir.us"; ms "${DIR[@]}" >> "$W/dir.us" ;;
            3) ms "${DIR[@]}" >> "$W/dir.us"; ms "${ODIR[@]}" >> "$W/odir.us"; ms "${IMG[@]}" >> "$W/img.us"; ms "${OIMG[@]}" >> "$W/oimg.us" ;;
        esac
    elif [ $((i % 2)) -eq 0 ]; then ms "${IMG[@]}" >> "$W/img.us"; ms "${DIR[@]}" >> "$W/dir.us"
    else ms "${DIR[@]}" >> "$W/dir.us"; ms "${IMG[@]}" >> "$W/img.us"; fi
    # the set-up alone, from the monitor's timing marks (a run of its own: printing them costs time)
    CRATERUN_TIMING=1 "${IMG[@]}" 2>&1 >/dev/null | awk '/spec loaded/ {s=$3} /image overlay mounted/ && s != "" {d = $3 - s; if (d < 0) d += 100000; printf "%d\n", d * 1000}' >> "$W/setup.us"
done
[ -s "$W/setup.us" ] || { echo "no timing marks: is $B built with the 'image overlay mounted' mark?" >&2; exit 1; }
img=$(median < "$W/img.us"); dir=$(median < "$W/dir.us"); setup=$(median < "$W/setup.us")
echo "overlay set-up at start (median of N=$N, CRATERUN_TIMING=1 craterun ${IMG[*]:1}): $(awk -v u="$setup" 'BEGIN {printf "%.2f", u / 1000}') ms (target <= 2 ms)"
awk -v i="$img" -v d="$dir" -v n="$N" -v ic="craterun ${IMG[*]:1}" -v dc="craterun ${DIR[*]:1}" 'BEGIN {printf "%s: median %.1f ms; %s: median %.1f ms; overlay adds %.2f ms end to end (N=%d, alternating)\n", ic, i / 1000, dc, d / 1000, (i - d) / 1000, n}'
if [ -n "$OLD" ]; then
    oimg=$(median < "$W/oimg.us"); odir=$(median < "$W/odir.us")
    awk -v i="$oimg" -v d="$odir" -v n="$N" -v o="$OLD" 'BEGIN {printf "old build (%s), same rounds: image median %.1f ms; --rootfs median %.1f ms; overlay adds %.2f ms end to end (N=%d)\n", o, i / 1000, d / 1000, (i - d) / 1000, n}'
    awk -v i="$img" -v o="$oimg" 'BEGIN {printf "run --rm IMAGE true, new vs old build: %.1f vs %.1f ms (%+.2f ms)\n", i / 1000, o / 1000, (i - o) / 1000}'
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
