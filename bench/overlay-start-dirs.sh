#!/bin/bash
# bench/overlay-start.sh with BENCH_DIRS: `run --rm IMAGE true` vs `run --rm --rootfs DIR true` with the
# state root on each filesystem of BENCH_DIRS ("loop": an ext4 made here, mkfs defaults, mounted without
# discard, in a file under /var/tmp), every command of every filesystem in each round, the order rotated
# round by round. Root; run under flock /tmp/craterun-suite.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # no bridge in this machine's own network namespace
B=${CRATERUN_BIN:-$PWD/out/craterun}
N=${1:-30}
read -r -a PLACES <<< "$BENCH_DIRS"
LOOPFILE="" LOOPMNT=""
WS=()
cleanup() {
    for w in "${WS[@]}"; do
        for id in $("$B" --root "$w/state" ps -a -q 2>/dev/null); do "$B" --root "$w/state" rm -f "$id" >/dev/null; done
        rm -rf --one-file-system "$w"
    done
    if [ -n "$LOOPMNT" ]; then umount "$LOOPMNT" && rmdir "$LOOPMNT"; fi
    [ -z "$LOOPFILE" ] || rm -f "$LOOPFILE"
}
trap cleanup EXIT
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null || { echo "FAILED: $*" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
CMDS=() # "k img" / "k dir": place k's image or --rootfs run
for k in "${!PLACES[@]}"; do
    place=${PLACES[$k]}
    if [ "$place" = loop ]; then
        LOOPFILE=$(mktemp /var/tmp/craterun-bench-ext4.XXXXXX)
        truncate -s 1G "$LOOPFILE"
        mkfs.ext4 -q -F "$LOOPFILE"
        LOOPMNT=$(mktemp -d /tmp/craterun-bench-loop.XXXXXX)
        mount -o loop "$LOOPFILE" "$LOOPMNT"
        place=$LOOPMNT
        PLACES[k]="loop ext4 ($LOOPFILE)"
    fi
    w=$(mktemp -d "$place/craterun-bench-overlay.XXXXXX")
    WS+=("$w")
    tests/fixtures/make-rootfs.sh "$w/rootfs" >/dev/null
    tar --numeric-owner -C "$w/rootfs" -cf "$w/layer.tar" .
    "$B" --root "$w/state" import "$w/layer.tar" bench/overlay >/dev/null
    echo "place $k: ${PLACES[$k]}: $(findmnt -n -o FSTYPE,OPTIONS -T "$w" | head -1)"
    CMDS+=("$k img" "$k dir")
done
run() { # K KIND
    local w=${WS[$1]}
    if [ "$2" = img ]; then ms "$B" --root "$w/state" run --rm bench/overlay /bin/true >> "$w/img.us"
    else ms "$B" --root "$w/state" run --rm --rootfs "$w/rootfs" -- /bin/true >> "$w/dir.us"; fi
}
for _ in 1 2 3; do for c in "${CMDS[@]}"; do run $c; done; done
for w in "${WS[@]}"; do : > "$w/img.us"; : > "$w/dir.us"; done
M=${#CMDS[@]}
for i in $(seq 1 "$N"); do
    for j in $(seq 0 $((M - 1))); do
        if [ $((i % 2)) -eq 0 ]; then c=${CMDS[$(((i + j) % M))]}; else c=${CMDS[$(((i + M - 1 - j) % M))]}; fi
        run $c
    done
done
for k in "${!PLACES[@]}"; do
    w=${WS[$k]}
    awk -v i="$(median < "$w/img.us")" -v d="$(median < "$w/dir.us")" -v n="$N" -v p="${PLACES[$k]}" \
        'BEGIN {printf "%s: run --rm IMAGE true median %.1f ms; run --rm --rootfs DIR true median %.1f ms; overlay adds %.2f ms (N=%d)\n", p, i / 1000, d / 1000, (i - d) / 1000, n}'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
