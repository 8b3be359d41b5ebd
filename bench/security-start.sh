#!/usr/bin/env bash
# security-start.sh [N]   (N runs of each, default 20)
#
# What the default protections cost at start: the median wall time of
#   craterun run --rm --rootfs B/rootfs -- /bin/true               (defaults: Docker's 14 caps,
#                                                                    seccomp BPF, no_new_privs,
#                                                                    masked/read-only paths, devices cgroup)
#   craterun run --rm --privileged --rootfs B/rootfs -- /bin/true  (none of those)
#   runc run --bundle B <id>                                        (runc's default spec from make-bundle.sh)
# in ONE run, rotating the order every round so that none always follows another.
# 3 warm-ups of each first, not counted. Everything lives in one temp dir, removed on exit,
# Ctrl-C or failure (see lib.sh: binaries copied there first, leftovers reported).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_n "${1:-}" 20
WARMUP=3
need_root_tools
[[ -x $CRATERUN ]] || die "$CRATERUN not found: cd $REPO_DIR && dotnet publish src/CrateRun.Cli -c Release -o out"

make_workdir sec

cleanup() {
    local rc=$? id
    trap - EXIT INT TERM
    set +e
    if [[ -d $CR_STATE ]]; then
        for id in $("$CRATERUN" --root "$CR_STATE" ps -a -q 2>/dev/null); do
            cleanup_craterun_container "$CR_STATE" "$id"
        done
    fi
    if [[ -d $RUNC_ROOT ]]; then
        for id in $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null); do
            echo "cleanup: runc delete -f $id" >&2
            "$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || echo "cleanup: runc delete -f $id failed" >&2
        done
    fi
    remove_work_and_exit "$rc"
}
install_cleanup_traps

snapshot_binaries "$WORK"
print_header "start latency: craterun run --rm (defaults) vs --privileged vs runc run: /bin/true on a busybox rootfs"
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
echo "bundle:   $BUNDLE (runc's default spec, cgroupsPath $CGNAME, relative)"
echo "runs:     $N each after $WARMUP warm-ups each, order rotated every round"

# One sanity check first: the two craterun modes really differ (seccomp 2 vs 0, 14 caps vs all).
show_mode() {   # show_mode LABEL FLAGS...
    local label=$1; shift
    # shellcheck disable=SC2016  # expanded by the container's shell
    timed "$CRATERUN" --root "$CR_STATE" run --rm "$@" --rootfs "$BUNDLE/rootfs" -- /bin/sh -c \
        'echo "$(grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status | tr -s "\t\n" "  ")"'
    printf 'mode:     %-12s %s\n' "$label" "$(cat "$OUT_FILE")"
}
show_mode default
show_mode privileged --privileged
echo

SEQ=0
run_default() { timed "$CRATERUN" --root "$CR_STATE" run --rm --rootfs "$BUNDLE/rootfs" -- /bin/true; }
run_privileged() { timed "$CRATERUN" --root "$CR_STATE" run --rm --privileged --rootfs "$BUNDLE/rootfs" -- /bin/true; }
run_runc() {
    SEQ=$((SEQ + 1))
    timed "$RUNC" --root "$RUNC_ROOT" run --bundle "$BUNDLE" "bench-$$-$SEQ"
}

declare -a T_DEF=() T_PRIV=() T_RUNC=()
order=(run_default run_privileged run_runc)
for ((i = 0; i < WARMUP + N; i++)); do
    for ((k = 0; k < 3; k++)); do
        fn=${order[$(((i + k) % 3))]}
        "$fn"
        if ((i >= WARMUP)); then
            case $fn in
                run_default) T_DEF+=("$LAST_US") ;;
                run_privileged) T_PRIV+=("$LAST_US") ;;
                run_runc) T_RUNC+=("$LAST_US") ;;
            esac
        fi
    done
done

left=$("$CRATERUN" --root "$CR_STATE" ps -a -q)
[[ -z $left ]] || echo "ODD: craterun run --rm left containers in its state: $left" >&2

read -r d_med d_p90 d_min d_max < <(stats "${T_DEF[@]}")
read -r p_med p_p90 p_min p_max < <(stats "${T_PRIV[@]}")
read -r r_med r_p90 r_min r_max < <(stats "${T_RUNC[@]}")
printf '%-22s %9s %9s %9s %9s   (ms, n=%d each)\n' runtime median p90 min max "$N"
printf '%-22s %9s %9s %9s %9s\n' "craterun (defaults)" "$d_med" "$d_p90" "$d_min" "$d_max"
printf '%-22s %9s %9s %9s %9s\n' "craterun --privileged" "$p_med" "$p_p90" "$p_min" "$p_max"
printf '%-22s %9s %9s %9s %9s\n' "runc run (default)" "$r_med" "$r_p90" "$r_min" "$r_max"
echo "cost of the defaults (medians): $(awk -v a="$d_med" -v b="$p_med" 'BEGIN { printf "%+.2f ms", a - b }') vs --privileged" \
    "(ratio $(ratio "$d_med" "$p_med")x); craterun defaults / runc: $(ratio "$d_med" "$r_med")x"
