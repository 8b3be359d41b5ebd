#!/usr/bin/env bash
# output.sh [N]   (N runs of each, default 10: each run moves 200 MiB, about a second)
#
# Targets 7 and 6 of issue 14.
#
# 1. Output: BYTES (default 200 MiB) written to stdout by a container reach `craterun run`'s
#    stdout (a pipe to cat) and the container's log, against the same bytes through a plain pipe,
#    both with the busybox of the same rootfs (BB = ROOTFS/bin/busybox, which the container runs):
#      pipe:     sh -c 'BB head -c BYTES /dev/zero | BB cat >/dev/null'
#      craterun: sh -c 'craterun --root S run --rm --rootfs ROOTFS -- head -c BYTES /dev/zero | BB cat >/dev/null'
#    One sample = wall time of that sh (EPOCHREALTIME around it) and its CPU time (user+sys of
#    every process it started, monitor and container included: cpuacct, lib.sh), alternating
#    every round, WARMUP rounds first; medians. Then the same with one CPU hog per CPU
#    (BENCH_HOG=0: not), where nothing can overlap. With BENCH_BEFORE=BIN, an older build is
#    timed in the same rounds (a third column), so the before/after ratio comes from one run.
#    Checked once first: `run` (not --rm) delivers exactly BYTES to cat and to stdout.log, and
#    stdout.log.times has one line per chunk.
# 2. Memory floor: `craterun run --rm --network none --memory L --rootfs ROOTFS /bin/true` for
#    falling L (BENCH_MEMORY_LIMITS, KiB), 3 tries each: started (exit 0) or how it failed (its
#    one line), and whether anything was left (containers, cgroups); then what a container's
#    memory cgroup has been charged at its peak, read from the host while it sleeps.
#
# Run as root. Everything lives in one temp dir, removed on exit, Ctrl-C or failure.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${1:-10}
if ! [[ $N =~ ^[0-9]+$ ]] || ((N == 0)); then die "N must be a positive integer (got '$N')"; fi
WARMUP=1
BYTES=${BENCH_OUTPUT_BYTES:-$((200 * 1024 * 1024))}
LIMITS=${BENCH_MEMORY_LIMITS:-"512 384 256 224 192 160 128 96 64"}
BEFORE=${BENCH_BEFORE:-}
[[ ${EUID} -eq 0 ]] || die "run as root (the runtime needs it)"
((BASH_VERSINFO[0] >= 5)) || die "bash >= 5 needed (EPOCHREALTIME)"
[[ -x $CRATERUN ]] || die "$CRATERUN not found: cd $REPO_DIR && ./build.sh"
[[ -z $BEFORE || -x $BEFORE ]] || die "BENCH_BEFORE=$BEFORE is not an executable"

make_workdir output
cleanup() {
    local rc=$? id
    trap - EXIT INT TERM
    set +e
    for state in "$CR_STATE" "$CR_STATE-before"; do
        [[ -d $state ]] || continue
        for id in $("$CRATERUN" --root "$state" ps -a -q 2>/dev/null); do
            cleanup_craterun_container "$state" "$id"
        done
    done
    remove_work_and_exit "$rc"
}
install_cleanup_traps

snapshot_binaries "$WORK"
if [[ -n $BEFORE ]]; then
    cp -L "$BEFORE" "$WORK/bin/craterun-before"
    BEFORE_SRC=$BEFORE BEFORE=$WORK/bin/craterun-before
fi
print_header "container output through craterun run vs a plain pipe; memory floor of a start"
[[ -z $BEFORE ]] || echo "before:   $BEFORE_SRC (built $(date -u -r "$BEFORE_SRC" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$BEFORE" | cut -c1-12))"
cpu_acct_enter
echo "cpu:      ${CPU_ACCT:+cgroup $CPU_ACCT (cpuacct.usage: every process of a run, the monitor and the container included)}${CPU_ACCT_WHY:+n/a: $CPU_ACCT_WHY}"
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
ROOTFS=$BUNDLE/rootfs
BB=$ROOTFS/bin/busybox
echo "rootfs:   $ROOTFS (busybox $("$BB" 2>&1 | head -1 | awk '{ print $2 }'), static)"
echo "state:    $CR_STATE ($(stat -f -c %T "$WORK"))"
echo "bytes:    $BYTES per run"
echo

# --- 1. output -------------------------------------------------------------------------
q() { printf '%q' "$1"; }
PIPE_CMD="$(q "$BB") head -c $BYTES /dev/zero | $(q "$BB") cat >/dev/null"
cr_cmd() { echo "$(q "$1") --root $(q "$2") run --rm --rootfs $(q "$ROOTFS") -- head -c $BYTES /dev/zero | $(q "$BB") cat >/dev/null"; }
CR_CMD=$(cr_cmd "$CRATERUN" "$CR_STATE")
[[ -z $BEFORE ]] || BEFORE_CMD=$(cr_cmd "$BEFORE" "$CR_STATE-before")
echo "pipe:     sh -c '$PIPE_CMD'"
echo "craterun: sh -c '$CR_CMD'"
[[ -z $BEFORE ]] || echo "before:   sh -c '$BEFORE_CMD'"

# the check: every byte reaches cat and the log; one index line per chunk
timed "$CRATERUN" --root "$CR_STATE" run --cidfile "$WORK/check.cid" --rootfs "$ROOTFS" -- head -c "$BYTES" /dev/zero
CHECK_ID=$(cat "$WORK/check.cid")
got_out=$(stat -c %s "$OUT_FILE") got_log=$(stat -c %s "$CR_STATE/$CHECK_ID/stdout.log")
chunks=$(wc -l <"$CR_STATE/$CHECK_ID/stdout.log.times")
timed "$CRATERUN" --root "$CR_STATE" rm "$CHECK_ID"
: >"$OUT_FILE"
if ((got_out != BYTES || got_log != BYTES)); then
    die "craterun run delivered $got_out bytes to its stdout and $got_log to stdout.log, not $BYTES"
fi
echo "check:    run delivered $got_out bytes to stdout and to stdout.log, in $chunks chunks (stdout.log.times lines; $((BYTES / chunks)) bytes each on average)"
echo

output_phase() {
    local i p c b pu cu bu
    local -a T_P=() T_C=() T_B=() U_P=() U_C=() U_B=()
    for ((i = 0; i < WARMUP + N; i++)); do
        # order: even rounds pipe first, odd rounds craterun first
        if ((i % 2 == 0)); then
            timed sh -c "$PIPE_CMD"; p=$LAST_US pu=${LAST_CPU_US:-0}
            timed sh -c "$CR_CMD"; c=$LAST_US cu=${LAST_CPU_US:-0}
        else
            timed sh -c "$CR_CMD"; c=$LAST_US cu=${LAST_CPU_US:-0}
            timed sh -c "$PIPE_CMD"; p=$LAST_US pu=${LAST_CPU_US:-0}
        fi
        if [[ -n $BEFORE ]]; then timed sh -c "$BEFORE_CMD"; b=$LAST_US bu=${LAST_CPU_US:-0}; fi
        ((i >= WARMUP)) || continue
        T_P+=("$p") T_C+=("$c") U_P+=("$pu") U_C+=("$cu")
        [[ -z $BEFORE ]] || T_B+=("$b") U_B+=("$bu")
    done
    local p_med c_med b_med pu_med cu_med bu_med
    read -r p_med p_p90 p_min p_max < <(stats "${T_P[@]}")
    read -r c_med c_p90 c_min c_max < <(stats "${T_C[@]}")
    read -r pu_med _ < <(stats "${U_P[@]}")
    read -r cu_med _ < <(stats "${U_C[@]}")
    echo "--- $1: loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-10s %9s %9s %9s %9s %9s   (ms, n=%d each)\n' what "wall med" p90 min max "cpu med" "$N"
    printf '%-10s %9s %9s %9s %9s %9s\n' pipe "$p_med" "$p_p90" "$p_min" "$p_max" "$pu_med"
    printf '%-10s %9s %9s %9s %9s %9s\n' craterun "$c_med" "$c_p90" "$c_min" "$c_max" "$cu_med"
    if [[ -n $BEFORE ]]; then
        read -r b_med b_p90 b_min b_max < <(stats "${T_B[@]}")
        read -r bu_med _ < <(stats "${U_B[@]}")
        printf '%-10s %9s %9s %9s %9s %9s\n' before "$b_med" "$b_p90" "$b_min" "$b_max" "$bu_med"
    fi
    echo "ratio craterun/pipe (medians): wall $(ratio "$c_med" "$p_med")x, cpu $([[ -n $CPU_ACCT ]] && echo "$(ratio "$cu_med" "$pu_med")x" || echo n/a)   target: wall <= 1.2x${BEFORE:+; before/pipe: wall $(ratio "$b_med" "$p_med")x, cpu $(ratio "$bu_med" "$pu_med")x}"
}
# shellcheck disable=SC2034  # read by lib.sh timed
SETTLE=1
output_phase "quiet (nothing else of ours running)"
if [[ ${BENCH_HOG:-1} == 1 ]]; then
    start_hogs "$(nproc)"
    output_phase "busy: $(nproc) CPU hogs (pids ${HOG_PIDS[*]}) on $(nproc) CPUs"
    stop_hogs
fi
# shellcheck disable=SC2034
SETTLE=0
echo

# --- 2. memory floor -------------------------------------------------------------------
echo "memory floor: craterun --root S run --rm --network none --memory L --rootfs ROOTFS /bin/true (3 tries each)"
lowest=""
count_cgroups() { find /sys/fs/cgroup/memory -maxdepth 4 -type d -name 'craterun-*' 2>/dev/null | wc -l; }
cg_before=$(count_cgroups)   # other runtimes' containers may be there: only a change counts
for kib in $LIMITS; do
    ok=0 line=""
    for _ in 1 2 3; do
        rc=0
        "$CRATERUN" --root "$CR_STATE" run --rm --network none --memory "${kib}k" --rootfs "$ROOTFS" /bin/true \
            >"$OUT_FILE" 2>"$ERR_FILE" </dev/null || rc=$?
        if ((rc == 0)); then ok=$((ok + 1)); else line="exit $rc: $(head -c 300 "$ERR_FILE" | tr '\n' ' ')"; fi
    done
    left=$("$CRATERUN" --root "$CR_STATE" ps -a -q | wc -l)
    cgleft=$(($(count_cgroups) - cg_before))
    printf '  %5s KiB: %d/3 started%s; left behind: %d containers, %d memory cgroups named craterun-* more than before\n' \
        "$kib" "$ok" "${line:+; failed: $line}" "$left" "$cgleft"
    ((ok < 3)) || lowest=$kib
done
echo "lowest limit that started /bin/true 3 times out of 3: ${lowest:-none} KiB   target: 256 KiB (crun: under 160 KiB)"

# what a container's memory cgroup is charged: its peak (memory.max_usage_in_bytes, v1) while
# `sleep` runs, i.e. the launch stage, the exec and busybox's first pages
timed "$CRATERUN" --root "$CR_STATE" run -d --network none --memory 64m --rootfs "$ROOTFS" -- /bin/sleep 5
PEAK_ID=$(tr -d '[:space:]' <"$OUT_FILE")
sleep 0.3
cg=$(find /sys/fs/cgroup/memory -maxdepth 4 -type d -name "craterun-$PEAK_ID" | head -1)
if [[ -n $cg && -r $cg/memory.max_usage_in_bytes ]]; then
    echo "charged to a container's memory cgroup (busybox sleep running, --memory 64m): peak $(($(cat "$cg/memory.max_usage_in_bytes") / 1024)) KiB, now $(($(cat "$cg/memory.usage_in_bytes") / 1024)) KiB (kmem peak $(($(cat "$cg/memory.kmem.max_usage_in_bytes" 2>/dev/null || echo 0) / 1024)) KiB)"
else
    echo "charged to a container's memory cgroup: n/a (no v1 memory cgroup craterun-$PEAK_ID found)"
fi
timed "$CRATERUN" --root "$CR_STATE" rm -f "$PEAK_ID"
