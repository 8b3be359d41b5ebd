#!/usr/bin/env bash
# run-vs-runc.sh [N]   (N runs of each runtime, default 30; at least 20 recommended)
#
# Start-to-exit latency of a /bin/true container, in ONE run, alternating each round:
#   craterun: craterun --root S run --rm --rootfs B/rootfs -- /bin/true
#   runc:     runc --root R run --bundle B <unique id>        (create+start+wait+delete)
# Each sample is the wall time of that one command (EPOCHREALTIME around it, in-process,
# no fork for the clock), stdout/stderr to files, and its CPU time: user+sys of every process
# it started (the monitor, the container, runc init; orphans too) from a cpuacct cgroup the
# script moves itself into (lib.sh cpu_acct_enter), read once nothing of the run is left.
# Then the same with one CPU hog per CPU (BENCH_HOG=0: not), where nothing can overlap. 3 warm-ups of each first, not counted.
# Rounds alternate the order (even: craterun first, odd: runc first) so neither always
# runs right after the other. CRATERUN_BASELINE=PATH (an earlier build, copied first) adds it as
# a third runtime, "baseline", in the same rounds (order rotated every round): old vs new vs runc.
#
# Then memory:
#   - monitor of a detached container: `craterun run -d ... -- sleep 30`, 0.5 s later
#     VmHWM (peak RSS) and VmRSS of its monitor (pid from inspect). By then it is in its C
#     waiting phase (`craterun _monitor-wait`, exec'd after a 100 ms grace period; an exec
#     starts a new VmHWM), where it stays as long as the container runs. The peak of its
#     managed create phase before that is passed to it in CRATERUN_MONITOR_CREATE_PEAK_KIB.
#   - one foreground CLI process: /usr/bin/time -f %M craterun run --rm ... /bin/true
#     (ru_maxrss of the craterun process; also runc run for reference).
#
# Everything lives in one temp dir (bundle, craterun state, runc --root) that is removed
# on exit, Ctrl-C or failure, after deleting any container left behind.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_n "${1:-}" 30
WARMUP=3
need_root_tools
[[ -x $CRATERUN ]] || die "$CRATERUN not found: cd $REPO_DIR && dotnet publish src/CrateRun.Cli -c Release -o out"

make_workdir run
MON_PID="" CTR_PID="" DETACHED_ID=""

cleanup() {
    local rc=$? id
    trap - EXIT INT TERM
    set +e
    # craterun containers (the detached one, and any --rm one a failure left behind)
    if [[ -d $CR_STATE ]]; then
        for id in $("$CRATERUN" --root "$CR_STATE" ps -a -q 2>/dev/null); do
            cleanup_craterun_container "$CR_STATE" "$id"
        done
    fi
    if [[ -n ${BASELINE:-} && -d $WORK/baseline-state ]]; then
        for id in $("$BASELINE" --root "$WORK/baseline-state" ps -a -q 2>/dev/null); do
            cleanup_craterun_container "$WORK/baseline-state" "$id"
        done
    fi
    # the detached container's monitor and init: stop them by PID if rm -f did not
    if [[ -n $MON_PID ]] && ! wait_pid_gone "$MON_PID" 5; then
        echo "cleanup: monitor $MON_PID still alive 5 s after rm -f: SIGKILL" >&2
        kill -KILL "$MON_PID" 2>/dev/null
    fi
    if [[ -n $CTR_PID ]] && pid_alive "$CTR_PID" && grep -qa sleep "/proc/$CTR_PID/cmdline" 2>/dev/null; then
        echo "cleanup: container init $CTR_PID still alive: SIGKILL" >&2
        kill -KILL "$CTR_PID" 2>/dev/null
    fi
    [[ -n $DETACHED_ID ]] && remove_cgroup_leftovers "craterun-$DETACHED_ID"
    # runc containers
    if [[ -d $RUNC_ROOT ]]; then
        for id in $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null); do
            echo "cleanup: runc delete -f $id" >&2
            "$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 ||
                echo "cleanup: runc delete -f $id failed" >&2
        done
    fi
    remove_work_and_exit "$rc"
}
install_cleanup_traps

snapshot_binaries "$WORK"
BASELINE=""
if [[ -n ${CRATERUN_BASELINE:-} ]]; then
    [[ -x $CRATERUN_BASELINE ]] || die "CRATERUN_BASELINE=$CRATERUN_BASELINE is not an executable"
    BASELINE=$WORK/baseline-bin/craterun
    mkdir -p "$WORK/baseline-bin"
    cp -L "$CRATERUN_BASELINE" "$BASELINE"
fi
print_header "craterun run --rm vs runc run: /bin/true on a busybox rootfs"
[[ -z $BASELINE ]] || echo "baseline: $CRATERUN_BASELINE (an earlier build, a third runtime in the same rounds)"
cpu_acct_enter
echo "cpu:      ${CPU_ACCT:+cgroup $CPU_ACCT (cpuacct.usage: every process of a run, the monitor and the container included)}${CPU_ACCT_WHY:+n/a: $CPU_ACCT_WHY}"
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
echo "bundle:   $BUNDLE (cgroupsPath $CGNAME, relative)"
echo "runs:     $N each after $WARMUP warm-ups each, alternating (order swapped every round)"
echo

run_craterun() { timed "$CRATERUN" --root "$CR_STATE" run --rm --rootfs "$BUNDLE/rootfs" -- /bin/true; }
run_baseline() { timed "$BASELINE" --root "$WORK/baseline-state" run --rm --rootfs "$BUNDLE/rootfs" -- /bin/true; }
SEQ=0
run_runc() {
    SEQ=$((SEQ + 1))
    timed "$RUNC" --root "$RUNC_ROOT" run --bundle "$BUNDLE" "bench-$$-$SEQ"
}

# phase LABEL: WARMUP + N alternating runs of each; prints wall and CPU (user+sys of every
# process a run started, the monitor included: cpuacct, SETTLE=1 waits for the monitor's exit).
# With CRATERUN_BASELINE, three runtimes, the order rotated every round.
phase() {
    local i name
    local -a order
    declare -A T=() U=()
    for ((i = 0; i < WARMUP + N; i++)); do
        if [[ -n $BASELINE ]]; then
            order=(craterun baseline runc)
            order=("${order[@]:i%3}" "${order[@]:0:i%3}")
        elif ((i % 2 == 0)); then
            order=(craterun runc)
        else
            order=(runc craterun)
        fi
        for name in "${order[@]}"; do
            "run_$name"
            ((i >= WARMUP)) || continue
            T[$name]+=" $LAST_US" U[$name]+=" ${LAST_CPU_US:-0}"
        done
    done
    # Nothing may be left behind by the --rm runs
    left=$("$CRATERUN" --root "$CR_STATE" ps -a -q)
    [[ -z $left ]] || echo "ODD: craterun run --rm left containers in its state: $left" >&2
    echo "--- $1: loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-10s %9s %9s %9s %9s %9s   (ms, n=%d each)\n' runtime "wall med" p90 min max "cpu med" "$N"
    local -A MED=() CPU=()
    for name in craterun ${BASELINE:+baseline} runc; do
        # shellcheck disable=SC2086  # lists of numbers
        read -r MED[$name] p90 lo hi < <(stats ${T[$name]})
        # shellcheck disable=SC2086
        read -r CPU[$name] _ < <(stats ${U[$name]})
        [[ -n $CPU_ACCT ]] || CPU[$name]=n/a
        printf '%-10s %9s %9s %9s %9s %9s\n' "$name" "${MED[$name]}" "$p90" "$lo" "$hi" "${CPU[$name]}"
    done
    echo "ratio craterun/runc (medians): wall $(ratio "${MED[craterun]}" "${MED[runc]}")x, cpu $([[ -n $CPU_ACCT ]] && echo "$(ratio "${CPU[craterun]}" "${CPU[runc]}")x" || echo n/a)   target: <= 0.33x runc"
    [[ -z $BASELINE ]] || echo "ratio baseline/runc (medians): wall $(ratio "${MED[baseline]}" "${MED[runc]}")x, cpu $([[ -n $CPU_ACCT ]] && echo "$(ratio "${CPU[baseline]}" "${CPU[runc]}")x" || echo n/a)"
}
# shellcheck disable=SC2034  # read by lib.sh timed
SETTLE=1
phase "quiet (nothing else of ours running)"
if [[ ${BENCH_HOG:-1} == 1 ]]; then
    start_hogs "$(nproc)"
    phase "busy: $(nproc) CPU hogs (sh -c 'while :; do :; done', pids ${HOG_PIDS[*]}) on $(nproc) CPUs"
    stop_hogs
fi
# shellcheck disable=SC2034
SETTLE=0
# For scale only (not alternated, not a runtime): the bare floor of namespaces + exec,
# no cgroup, no pivot_root, no mounts (unshare makes the new mount namespace private).
if command -v unshare >/dev/null; then
    declare -a T_FLOOR=()
    for ((i = 0; i < WARMUP + N; i++)); do
        timed unshare -m -u -i -n -p -f chroot "$BUNDLE/rootfs" /bin/true
        ((i < WARMUP)) || T_FLOOR+=("$LAST_US")
    done
    read -r fl_med fl_p90 fl_min _ < <(stats "${T_FLOOR[@]}")
    echo "for scale: unshare -m -u -i -n -p -f chroot ROOTFS /bin/true: median $fl_med ms, p90 $fl_p90, min $fl_min (n=$N)"
fi
echo

# --- where one craterun run's time goes ---------------------------------------------------
step_table "craterun run --rm /bin/true" "front returns" "$CRATERUN" --root "$CR_STATE" run --rm --rootfs "$BUNDLE/rootfs" -- /bin/true
echo

# --- monitor RSS of a detached container ----------------------------------------------
t0=$(now_us)
timed "$CRATERUN" --root "$CR_STATE" run -d --rootfs "$BUNDLE/rootfs" -- sleep 30
DETACHED_ID=$(tr -d '[:space:]' <"$OUT_FILE")
[[ -n $DETACHED_ID ]] || die "craterun run -d printed no id"
echo "craterun run -d (returns after start): $(awk -v u=$(($(now_us) - t0)) 'BEGIN{printf "%.2f", u/1000}') ms, id $DETACHED_ID"
sleep 0.5
timed "$CRATERUN" --root "$CR_STATE" inspect "$DETACHED_ID"
MON_PID=$(jq -r '(if type == "array" then .[0] else . end).monitorPid // empty' "$OUT_FILE")
CTR_PID=$(jq -r '(if type == "array" then .[0] else . end).pid // empty' "$OUT_FILE")
[[ -n $MON_PID ]] || die "inspect $DETACHED_ID shows no monitorPid"
# cross-check: the pid is this container's monitor, in its waiting phase
tr '\0' ' ' <"/proc/$MON_PID/cmdline" | grep -q "_monitor-wait .*$DETACHED_ID" ||
    die "pid $MON_PID (monitorPid) is not the waiting monitor of $DETACHED_ID: $(tr '\0' ' ' <"/proc/$MON_PID/cmdline")"
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$MON_PID/status"; }
hwm=$(status_kib VmHWM) rss=$(status_kib VmRSS) anon=$(status_kib RssAnon) file=$(status_kib RssFile)
pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$MON_PID/smaps_rollup" 2>/dev/null || echo "?")
create_peak=$(tr '\0' '\n' <"/proc/$MON_PID/environ" | sed -n 's/^CRATERUN_MONITOR_CREATE_PEAK_KIB=//p')
echo "monitor peak RSS: $hwm KiB (target <= 4096 KiB), waiting phase (C, the container's whole life)"
echo "                  ${create_peak:-?} KiB in its managed phase before it (create, start, 100 ms of watching, then exec)"
echo "monitor VmRSS:    $rss KiB now (RssAnon $anon KiB, RssFile $file KiB; Pss $pss KiB)"
t0=$(now_us)
timed "$CRATERUN" --root "$CR_STATE" rm -f "$DETACHED_ID"
t_rm=$(($(now_us) - t0))
if wait_pid_gone "$MON_PID" 5; then
    t_gone=$(($(now_us) - t0))
    echo "rm -f: returned after $(awk -v u=$t_rm 'BEGIN{printf "%.1f", u/1000}') ms; monitor gone after $(awk -v u=$t_gone 'BEGIN{printf "%.1f", u/1000}') ms"
else
    echo "ODD: monitor $MON_PID still alive 5 s after 'rm -f $DETACHED_ID' returned" >&2
fi
MON_PID="" CTR_PID="" DETACHED_ID=""
echo

# --- peak RSS of one foreground CLI process -------------------------------------------
if [[ -x /usr/bin/time ]]; then
    maxrss() {   # maxrss CMD... -> KiB (ru_maxrss of CMD, from GNU time %M)
        local f=$WORK/time.out rc=0
        /usr/bin/time -f %M -o "$f" "$@" >"$OUT_FILE" 2>"$ERR_FILE" </dev/null || rc=$?
        if ((rc != 0)); then report_failure "$rc" "$@"; exit 1; fi
        tail -1 "$f"
    }
    declare -a M_CR=() M_RUNC=()
    for ((i = 0; i < 5; i++)); do
        M_CR+=("$(maxrss "$CRATERUN" --root "$CR_STATE" run --rm --rootfs "$BUNDLE/rootfs" -- /bin/true)")
        SEQ=$((SEQ + 1))
        M_RUNC+=("$(maxrss "$RUNC" --root "$RUNC_ROOT" run --bundle "$BUNDLE" "bench-$$-$SEQ")")
    done
    echo "foreground CLI peak RSS (GNU time %M, 5 runs): craterun run --rm: $(printf '%s ' "${M_CR[@]}")KiB;" \
        "runc run: $(printf '%s ' "${M_RUNC[@]}")KiB"
else
    echo "foreground CLI peak RSS: /usr/bin/time not installed (apt-get install time)"
fi
