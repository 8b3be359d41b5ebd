#!/usr/bin/env bash
# many.sh [N] [TOTAL]   (N containers started 10 at a time, default 100; `ps` then over TOTAL, default 500)
#
# Issue 14's target 5: many detached containers.
#   1. N `craterun run -d --rootfs R -- sleep 1000`, 10 at a time (each batch of 10 in parallel,
#      then the next): total wall time, and CPU time of everything they started (the CLIs, the
#      monitors, the containers; lib.sh cpu_acct_enter), and per container.
#   2. 0.5 s later, every monitor is in its C waiting phase: its VmRSS and Pss, summed and per
#      monitor (target: <= 2 MiB each).
#   3. More containers the same way until TOTAL run; then `craterun ps` (running: all TOTAL)
#      and `craterun ps -a`, 30 times each: median wall and CPU (target: <= 30 ms).
#   4. rm -f of all of them, 10 at a time (timed, for scale).
# For scale, runc: N `runc run -d` (same bundle shape, /bin/sleep 1000) 10 at a time, and
# `runc list` over them.
# Everything lives in one temp dir (state roots, bundle) removed on exit, after rm -f / delete -f
# of every container left.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${1:-100}
TOTAL=${2:-500}
[[ $N =~ ^[0-9]+$ && $TOTAL =~ ^[0-9]+$ ]] && ((N > 0 && TOTAL >= N)) || die "usage: many.sh [N] [TOTAL >= N]"
need_root_tools
[[ -x $CRATERUN ]] || die "$CRATERUN not found: cd $REPO_DIR && ./build.sh"

make_workdir many
RUNC_IDS=()

cleanup() {
    local rc=$? id
    trap - EXIT INT TERM
    set +e
    if [[ -d $CR_STATE ]]; then
        "$CRATERUN" --root "$CR_STATE" ps -a -q 2>/dev/null | xargs -r -n 10 -P 4 "$CRATERUN" --root "$CR_STATE" rm -f >/dev/null 2>&1
    fi
    for id in "${RUNC_IDS[@]}"; do "$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1; done
    remove_work_and_exit "$rc"
}
install_cleanup_traps

snapshot_binaries "$WORK"
print_header "many detached containers: craterun run -d, 10 at a time; monitors' memory; ps"
cpu_acct_enter
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
jq '.process.args = ["/bin/sleep", "1000"]' "$BUNDLE/config.json" >"$WORK/config.json"
mv "$WORK/config.json" "$BUNDLE/config.json"
echo "cpu:      ${CPU_ACCT:+cgroup $CPU_ACCT (every process the commands start)}${CPU_ACCT_WHY:+n/a: $CPU_ACCT_WHY}"
echo

cpu_now() { local c=0; [[ -z $CPU_ACCT ]] || read -r c <"$CPU_ACCT/cpuacct.usage"; echo "$c"; }

# start_batches FROM TO: containers FROM..TO-1, 10 at a time; each command's failure is fatal
start_batches() {
    local from=$1 to=$2 i j pids
    for ((i = from; i < to; i += 10)); do
        pids=()
        for ((j = i; j < to && j < i + 10; j++)); do
            "$CRATERUN" --root "$CR_STATE" run -d --name "many-$j" --rootfs "$BUNDLE/rootfs" -- /bin/sleep 1000 >"$WORK/run-$j.out" 2>&1 &
            pids+=("$!")
        done
        for j in "${pids[@]}"; do wait "$j" || { cat "$WORK"/run-*.out >&2; die "a craterun run -d failed"; }; done
    done
}

# --- 1. N containers, 10 at a time ---------------------------------------------------------
c0=$(cpu_now) t0=$(now_us)
start_batches 0 "$N"
t1=$(now_us)
sleep 0.5   # every monitor in its waiting phase; what they did until then is charged too
c1=$(cpu_now)
wall_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
echo "--- $N x craterun run -d (10 at a time): loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wall:  $wall_ms ms in all, $(awk -v w="$wall_ms" -v n="$N" 'BEGIN { printf "%.2f", w / n }') ms per container"
[[ -z $CPU_ACCT ]] || echo "cpu:   $(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN { printf "%.1f ms in all, %.2f ms per container", (b - a) / 1e6, (b - a) / 1e6 / n }') (CLIs, monitors, containers, until 0.5 s after the last start)"

# --- 2. the monitors' memory -----------------------------------------------------------------
rss=0 pss=0 max=0 count=0
while read -r mon; do
    [[ -n $mon && -r /proc/$mon/status ]] || continue
    r=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$mon/status")
    p=$(awk '$1 == "Pss:" { s += $2 } END { print s + 0 }' "/proc/$mon/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + r)) pss=$((pss + p)) count=$((count + 1))
    ((r <= max)) || max=$r
done < <(mapfile -t ids < <("$CRATERUN" --root "$CR_STATE" ps -q)
    "$CRATERUN" --root "$CR_STATE" inspect "${ids[@]}" | jq -r '(if type == "array" then .[] else . end).monitorPid')
echo "monitors: $count, VmRSS $((rss / 1024)) MiB in all ($((rss / count)) KiB each on average, the largest $max KiB; target <= 2048 KiB each), Pss $((pss / 1024)) MiB in all"

# --- 3. ps over TOTAL ---------------------------------------------------------------------------
if ((TOTAL > N)); then start_batches "$N" "$TOTAL"; fi
running=$("$CRATERUN" --root "$CR_STATE" ps -q | wc -l)
[[ $running == "$TOTAL" ]] || die "$running containers run, not $TOTAL"
for what in "ps" "ps -a"; do
    W=() U=()
    for ((i = 0; i < 33; i++)); do
        # shellcheck disable=SC2086
        timed "$CRATERUN" --root "$CR_STATE" $what
        ((i < 3)) || { W+=("$LAST_US"); U+=("${LAST_CPU_US:-0}"); }
    done
    read -r wm wp _ < <(stats "${W[@]}")
    read -r um _ < <(stats "${U[@]}")
    echo "craterun $what over $TOTAL running containers: wall median $wm ms (p90 $wp), cpu median $([[ -n $CPU_ACCT ]] && echo "$um ms" || echo n/a)   target: <= 30 ms"
done

# --- 4. rm -f of all of them ---------------------------------------------------------------------
t0=$(now_us)
"$CRATERUN" --root "$CR_STATE" ps -a -q | xargs -r -n 10 -P 1 "$CRATERUN" --root "$CR_STATE" rm -f >/dev/null
echo "rm -f of $TOTAL, 10 per command: $(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1000 }') ms"
echo

# --- for scale: runc run -d ---------------------------------------------------------------------
mkdir -p "$RUNC_ROOT"
t0=$(now_us) c0=$(cpu_now)
for ((i = 0; i < N; i += 10)); do
    pids=()
    for ((j = i; j < N && j < i + 10; j++)); do
        mkdir -p "$WORK/runc-bundle-$j"
        jq --arg cg "$CGNAME-runc-$j" --arg root "$BUNDLE/rootfs" '.linux.cgroupsPath = $cg | .root.path = $root' \
            "$BUNDLE/config.json" >"$WORK/runc-bundle-$j/config.json"
        RUNC_IDS+=("many-$$-$j")
        "$RUNC" --root "$RUNC_ROOT" run -d --bundle "$WORK/runc-bundle-$j" "many-$$-$j" </dev/null >"$WORK/runc-$j.out" 2>&1 &
        pids+=("$!")
    done
    for j in "${pids[@]}"; do wait "$j" || { cat "$WORK"/runc-*.out >&2; die "a runc run -d failed"; }; done
done
t1=$(now_us)
sleep 0.5
c1=$(cpu_now)
echo "for scale, $N x runc run -d (10 at a time; no monitor: runc leaves the container to its caller): wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }') ms${CPU_ACCT:+, cpu $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }') ms}"
W=()
for ((i = 0; i < 13; i++)); do
    timed "$RUNC" --root "$RUNC_ROOT" list
    ((i < 3)) || W+=("$LAST_US")
done
echo "runc list over $N: wall median $(stats "${W[@]}" | cut -d' ' -f1) ms"
