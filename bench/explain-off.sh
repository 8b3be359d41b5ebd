#!/bin/bash
# Cost of --explain when it is off: two builds of craterun, alternating, `run --rm ... /bin/true`.
#   bench/explain-off.sh BEFORE_BIN AFTER_BIN [N]
# BEFORE_BIN: a build without the explain code (e.g. the commit before it), AFTER_BIN: with it.
# Prints median wall and CPU (cpuacct.usage of a v1 cpuacct cgroup the script enters, so the
# monitor and the container are counted too; the memory cgroup is not touched). Run as root.
set -euo pipefail
BEFORE=$1 AFTER=$2 N=${3:-60}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/explain-off.XXXXXX)
tests/fixtures/make-rootfs.sh "$WORK/rootfs" >/dev/null
# the targets of the /etc binds every run makes (builds from just before the explain merge did not create them)
touch "$WORK/rootfs/etc/hosts" "$WORK/rootfs/etc/resolv.conf"
CG=/sys/fs/cgroup/cpuacct/explain-off-$$
mkdir "$CG"
echo $$ >"$CG/cgroup.procs"
cleanup() {
    echo $$ >/sys/fs/cgroup/cpuacct/cgroup.procs
    rmdir "$CG"
    rm -rf "$WORK"
}
trap cleanup EXIT
one() { # BIN -> "wall_us cpu_us"
    local c0 c1 t0 t1
    read -r c0 <"$CG/cpuacct.usage"
    t0=$EPOCHREALTIME
    "$1" --root "$WORK/state" run --rm --network none --rootfs "$WORK/rootfs" -- /bin/true >/dev/null 2>&1
    t1=$EPOCHREALTIME
    sleep 0.05 # the monitor's exit is charged to its run
    read -r c1 <"$CG/cpuacct.usage"
    echo "$((${t1/./} - ${t0/./})) $(((c1 - c0) / 1000))"
}
for _ in 1 2 3; do one "$BEFORE" >/dev/null; one "$AFTER" >/dev/null; done
: >"$WORK/before"
: >"$WORK/after"
for ((i = 0; i < N; i++)); do
    if ((i % 2)); then
        one "$BEFORE" >>"$WORK/before"; one "$AFTER" >>"$WORK/after"
    else
        one "$AFTER" >>"$WORK/after"; one "$BEFORE" >>"$WORK/before"
    fi
done
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for f in before after; do
    printf '%-6s wall median %6d us  CPU median %6d us  (n=%d)\n' "$f" \
        "$(cut -d' ' -f1 "$WORK/$f" | med)" "$(cut -d' ' -f2 "$WORK/$f" | med)" "$(wc -l <"$WORK/$f")"
done
