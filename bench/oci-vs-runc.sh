#!/usr/bin/env bash
# oci-vs-runc.sh [N]   (N cycles of each runtime, default 30; at least 20 recommended)
#
# The OCI CLI (what podman/containerd drive), craterun-oci vs runc, same bundle, same
# commands, alternating each round (order swapped every round), 3 warm-ups each first.
# One timed CYCLE, for either runtime X with its own --root in a temp dir, of a container
# running `sleep 1000` (so that every short command meets a live container):
#     X --root R create --bundle B ID          (container ready, not yet started)
#     X --root R start ID
#     X --root R state ID                      (once: "running")
#     X --root R kill ID KILL
#     X --root R state ID   ... repeated, no sleep, until its JSON says "stopped" (step "wait")
#     X --root R delete ID
# Each step and the whole cycle are timed: wall (EPOCHREALTIME around the command, no fork
# for the clock) and CPU: user+sys of every process the command started, the container and
# orphans (runc init, a monitor) included, from a cpuacct cgroup that the script moves
# itself into (lib.sh cpu_acct_enter; the memory cgroup is left alone). Then the same
# again with one CPU hog per CPU (BENCH_HOG=0: not), where nothing can overlap.
# stdout/stderr of every command go to files.
#
# If `craterun-oci --root R create --bundle B ID` fails (the OCI face is not written yet,
# or out/craterun-oci does not exist), it prints "craterun-oci: not available" with the
# error, measures runc alone for reference, and exits 0. Any other failure of a runtime
# invocation exits 1. Override the binaries with CRATERUN_OCI=... RUNC=...
# CRATERUN_OCI_BASELINE=PATH (an earlier build, copied first) adds it as a third runtime,
# "baseline", in the same alternating rounds (order rotated every round): old vs new vs runc
# from one run, and the per-step table gets its columns.
# BENCH_OCI_COMPAT=1 removes process.capabilities.ambient from the bundle (for both
# runtimes): runc's default spec lists ambient caps but no inheritable ones, so raising
# them fails with EPERM; runc 1.1.5 ignores that (CapAmb ends up 0), craterun-oci (build
# of 2026-11-28 18:20) aborts create with "container setup failed: prctl: Operation not
# permitted".
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_n "${1:-}" 30
WARMUP=3
POLL_TIMEOUT_S=10
need_root_tools

make_workdir oci
declare -A ROOT_OF=([craterun-oci]=$WORK/craterun-oci-root [runc]=$WORK/runc-root [baseline]=$WORK/baseline-root)
declare -A BIN_OF=([craterun-oci]=$CRATERUN_OCI [runc]=$RUNC)
declare -a CREATED=()   # "name id" of every container we asked a runtime to create

cleanup() {
    local rc=$? entry name id ids
    trap - EXIT INT TERM
    set +e
    # delete -f every container we created (a runtime's `list`, if it has one, as well)
    for name in runc craterun-oci baseline; do
        [[ -d ${ROOT_OF[$name]} && -n ${BIN_OF[$name]:-} ]] || continue
        ids=$("${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" list -q 2>/dev/null)
        for entry in "${CREATED[@]}"; do
            [[ ${entry%% *} == "$name" ]] && ids+=$'\n'"${entry#* }"
        done
        for id in $(sort -u <<<"$ids"); do
            "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" state "$id" >/dev/null 2>&1 || continue
            echo "cleanup: $name delete -f $id" >&2
            "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" delete -f "$id" >/dev/null 2>&1 ||
                echo "cleanup: $name delete -f $id failed" >&2
        done
    done
    remove_work_and_exit "$rc"
}
install_cleanup_traps

# must CMD...: runs CMD (stdout/stderr to files); a failure is fatal, with the exact command.
# Sets LAST_US and LAST_CPU_US as `timed` does.
must() { timed "$@"; }

# Any cgroup of the bundle's cgroupsPath still there after delete: reported, removed.
check_cgroup_gone() {   # check_cgroup_gone RUNTIME
    local own d
    own=$(own_memory_cgroup)
    for d in /sys/fs/cgroup/memory"$own"/"$CGNAME" /sys/fs/cgroup/pids/"$CGNAME" /sys/fs/cgroup/cpu/"$CGNAME" ${CPU_ACCT:+"$CPU_ACCT/$CGNAME"}; do
        if [[ -d $d ]]; then
            echo "ODD: $1 delete left cgroup $d behind" >&2
            remove_cgroup_leftovers "$CGNAME"
            [[ -z $CPU_ACCT ]] || rmdir "$CPU_ACCT/$CGNAME" 2>/dev/null
            return
        fi
    done
}

STEPS=(create start state kill wait delete)
SEQ=0
# cycle RUNTIME: one create/start/state/kill/wait/delete of a `sleep` container. Sets, per
# step and for the whole cycle, C[W,step] (wall) and C[U,step] (CPU) in microseconds, and C_POLLS.
declare -A C=()
cycle() {
    local name=$1 bin=${BIN_OF[$1]} root=${ROOT_OF[$1]} id st deadline t0 u=0 w=0
    SEQ=$((SEQ + 1))
    id=bench-$$-$SEQ
    CREATED+=("$name $id")
    C_POLLS=0
    t0=${EPOCHREALTIME/[.,]/}
    must "$bin" --root "$root" create --bundle "$BUNDLE" "$id"; C[W,create]=$LAST_US C[U,create]=${LAST_CPU_US:-0}
    must "$bin" --root "$root" start "$id"; C[W,start]=$LAST_US C[U,start]=${LAST_CPU_US:-0}
    must "$bin" --root "$root" state "$id"; C[W,state]=$LAST_US C[U,state]=${LAST_CPU_US:-0}
    st=""
    read -r -d '' st <"$OUT_FILE" || true     # no fork
    [[ $st =~ \"status\"[[:space:]]*:[[:space:]]*\"running\" ]] || { echo "FAILED: $name $id not running after start: $st" >&2; exit 1; }
    must "$bin" --root "$root" kill "$id" KILL; C[W,kill]=$LAST_US C[U,kill]=${LAST_CPU_US:-0}
    deadline=$((${EPOCHREALTIME/[.,]/} + POLL_TIMEOUT_S * 1000000))
    while :; do
        must "$bin" --root "$root" state "$id"
        C_POLLS=$((C_POLLS + 1)) w=$((w + LAST_US)) u=$((u + ${LAST_CPU_US:-0}))
        st=""
        read -r -d '' st <"$OUT_FILE" || true
        [[ $st =~ \"status\"[[:space:]]*:[[:space:]]*\"stopped\" ]] && break
        if ((${EPOCHREALTIME/[.,]/} > deadline)); then
            echo "FAILED: $name container $id not 'stopped' ${POLL_TIMEOUT_S}s after kill; last state: $st" >&2
            exit 1
        fi
    done
    C[W,wait]=$w C[U,wait]=$u
    must "$bin" --root "$root" delete "$id"; C[W,delete]=$LAST_US C[U,delete]=${LAST_CPU_US:-0}
    C[W,cycle]=$((${EPOCHREALTIME/[.,]/} - t0))
    C[U,cycle]=$((C[U,create] + C[U,start] + C[U,state] + C[U,kill] + C[U,wait] + C[U,delete]))
    check_cgroup_gone "$name"
}

# shellcheck disable=SC2086  # unquoted on purpose: a list of numbers
med() { stats $1 | cut -d' ' -f1; }

# phase LABEL: WARMUP + N alternating cycles of each runtime; prints the tables.
phase() {
    local label=$1 i name k
    declare -A S=() POLLS=()
    for ((i = 0; i < WARMUP + N; i++)); do
        order=("${RUNTIMES[@]}")
        if ((i % 2 == 1 && ${#RUNTIMES[@]} == 2)); then order=("${RUNTIMES[1]}" "${RUNTIMES[0]}"); fi
        if ((${#RUNTIMES[@]} == 3)); then order=("${RUNTIMES[@]:i%3}" "${RUNTIMES[@]:0:i%3}"); fi
        for name in "${order[@]}"; do
            cycle "$name"
            ((i >= WARMUP)) || continue
            for k in "${STEPS[@]}" cycle; do
                S[$name,W,$k]+=" ${C[W,$k]}"
                S[$name,U,$k]+=" ${C[U,$k]}"
            done
            POLLS[$name]+=" $C_POLLS"
        done
    done
    echo "--- $label: $N cycles each after $WARMUP warm-ups each, alternating; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-13s %9s %9s %9s %9s %12s   (ms; whole cycle: create, start, state, kill, wait, delete)\n' runtime "wall med" p90 min max "cpu med"
    for name in "${RUNTIMES[@]}"; do
        # shellcheck disable=SC2086
        read -r m p lo hi < <(stats ${S[$name,W,cycle]})
        printf '%-13s %9s %9s %9s %9s %12s\n' "$name" "$m" "$p" "$lo" "$hi" "$(cpu_med "${S[$name,U,cycle]}")"
    done
    echo
    if ((${#RUNTIMES[@]} == 3)); then
        printf '%-8s %9s %9s %9s %7s   %9s %9s %9s %7s   (medians, ms; ratio: oci/runc)\n' step "oci wall" "base wall" "runc wall" ratio "oci cpu" "base cpu" "runc cpu" ratio
        for k in "${STEPS[@]}" cycle; do
            local cw bw rw cu bu ru
            cw=$(med "${S[craterun-oci,W,$k]}") bw=$(med "${S[baseline,W,$k]}") rw=$(med "${S[runc,W,$k]}")
            cu=$(cpu_med "${S[craterun-oci,U,$k]}") bu=$(cpu_med "${S[baseline,U,$k]}") ru=$(cpu_med "${S[runc,U,$k]}")
            printf '%-8s %9s %9s %9s %7s   %9s %9s %9s %7s\n' "$k" "$cw" "$bw" "$rw" "$(ratio "$cw" "$rw")x" "$cu" "$bu" "$ru" "$( [[ $cu == n/a ]] && echo n/a || echo "$(ratio "$cu" "$ru")x")"
        done
        echo
    elif ((${#RUNTIMES[@]} == 2)); then
        printf '%-8s %11s %9s %7s   %11s %9s %7s   (medians, ms)\n' step "oci wall" "runc wall" ratio "oci cpu" "runc cpu" ratio
        for k in "${STEPS[@]}" cycle; do
            local cw rw cu ru
            cw=$(med "${S[craterun-oci,W,$k]}") rw=$(med "${S[runc,W,$k]}")
            cu=$(cpu_med "${S[craterun-oci,U,$k]}") ru=$(cpu_med "${S[runc,U,$k]}")
            printf '%-8s %11s %9s %7s   %11s %9s %7s\n' "$k" "$cw" "$rw" "$(ratio "$cw" "$rw")x" "$cu" "$ru" "$( [[ $cu == n/a ]] && echo n/a || echo "$(ratio "$cu" "$ru")x")"
        done
        for name in "${RUNTIMES[@]}"; do
            printf '  %s: %s state polls per wait (mean)\n' "$name" "$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }' <<<"${POLLS[$name]}")"
        done
        echo "ratio craterun-oci/runc, whole cycle: wall $(ratio "$(med "${S[craterun-oci,W,cycle]}")" "$(med "${S[runc,W,cycle]}")")x, cpu $( [[ -z $CPU_ACCT ]] && echo n/a || echo "$(ratio "$(med "${S[craterun-oci,U,cycle]}")" "$(med "${S[runc,U,cycle]}")")x")   target: <= 0.33x runc"
    else
        for k in "${STEPS[@]}"; do printf '  %-8s wall %s ms, cpu %s ms (median)\n' "$k" "$(med "${S[runc,W,$k]}")" "$(cpu_med "${S[runc,U,$k]}")"; done
    fi
    echo
}
cpu_med() { if [[ -z $CPU_ACCT ]]; then echo n/a; else med "$1"; fi; }

snapshot_binaries "$WORK"
BIN_OF=([craterun-oci]=$CRATERUN_OCI [runc]=$RUNC)
if [[ -n ${CRATERUN_OCI_BASELINE:-} ]]; then
    [[ -x $CRATERUN_OCI_BASELINE ]] || die "CRATERUN_OCI_BASELINE=$CRATERUN_OCI_BASELINE is not an executable"
    # the OCI face is chosen by the program's name: the copy is called craterun-oci as well
    mkdir -p "$WORK/baseline-bin"
    cp -L "$CRATERUN_OCI_BASELINE" "$WORK/baseline-bin/craterun-oci"
    BIN_OF[baseline]=$WORK/baseline-bin/craterun-oci
fi
print_header "OCI CLI cycle (create, start, state until stopped, delete): craterun-oci vs runc"
echo "oci:      $CRATERUN_OCI_SRC"
[[ -z ${BIN_OF[baseline]:-} ]] || echo "baseline: $CRATERUN_OCI_BASELINE"
cpu_acct_enter
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
jq '.process.args = ["/bin/sleep", "1000"]' "$BUNDLE/config.json" >"$WORK/config.json"
mv "$WORK/config.json" "$BUNDLE/config.json"
echo "cpu:      ${CPU_ACCT:+cgroup $CPU_ACCT (cpuacct.usage: every process of a step, orphans included)}${CPU_ACCT_WHY:+n/a: $CPU_ACCT_WHY}"
echo "bundle:   $BUNDLE (/bin/sleep 1000, cgroupsPath $CGNAME, relative)"
if [[ ${BENCH_OCI_COMPAT:-0} == 1 ]]; then
    # Workaround, opt-in: the part of runc's default spec that craterun-oci rejected when
    # this was written (see README). Applied to the one bundle both runtimes use.
    jq 'del(.process.capabilities.ambient)' "$BUNDLE/config.json" >"$WORK/config.json"
    mv "$WORK/config.json" "$BUNDLE/config.json"
    echo "bundle:   BENCH_OCI_COMPAT=1: removed process.capabilities.ambient (runc ignores them anyway)"
fi

# --- is the OCI face there? -------------------------------------------------------------
RUNTIMES=(craterun-oci runc)
probe_err=""
if [[ ! -x $CRATERUN_OCI ]]; then
    probe_err="$CRATERUN_OCI does not exist"
else
    CREATED+=("craterun-oci probe-$$")
    if ! "$CRATERUN_OCI" --root "${ROOT_OF[craterun-oci]}" create --bundle "$BUNDLE" "probe-$$" \
        >"$OUT_FILE" 2>"$ERR_FILE" </dev/null; then
        probe_err="'$CRATERUN_OCI --root ${ROOT_OF[craterun-oci]} create --bundle $BUNDLE probe-$$' failed: $(cat "$ERR_FILE" "$OUT_FILE" 2>/dev/null | head -c 500 | tr '\n' ' ')"
    else
        must "$CRATERUN_OCI" --root "${ROOT_OF[craterun-oci]}" delete -f "probe-$$"
        check_cgroup_gone craterun-oci
    fi
fi
if [[ -n $probe_err ]]; then
    echo "craterun-oci: not available ($probe_err)"
    echo "measuring runc alone, for reference"
    RUNTIMES=(runc)
elif [[ -n ${BIN_OF[baseline]:-} ]]; then
    RUNTIMES=(craterun-oci baseline runc)
fi
echo "runs:     $N cycles each after $WARMUP warm-ups each${probe_err:+ (runc only)}, alternating (order swapped every round)"
echo

# --- exec: /bin/true into a running container (issue 14's target 3) ------------------------
# One running container per runtime (create + start of the same config: sleep 1000, each in a
# cgroup of its own, not the cycles'); then `X exec ID /bin/true`, alternating, wall and CPU as
# above (the exec'd process included).
declare -A EXEC_ID=()
exec_setup() {
    local name bundle
    for name in "${RUNTIMES[@]}"; do
        EXEC_ID[$name]=bench-$$-exec
        CREATED+=("$name ${EXEC_ID[$name]}")
        bundle=$WORK/exec-bundle-$name
        mkdir -p "$bundle"
        jq --arg root "$BUNDLE/rootfs" --arg cg "$CGNAME-exec-$name" '.root.path = $root | .linux.cgroupsPath = $cg' \
            "$BUNDLE/config.json" >"$bundle/config.json"
        must "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" create --bundle "$bundle" "${EXEC_ID[$name]}"
        must "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" start "${EXEC_ID[$name]}"
    done
}
exec_teardown() {
    local name
    for name in "${RUNTIMES[@]}"; do
        must "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" delete -f "${EXEC_ID[$name]}"
    done
}
exec_phase() {
    local label=$1 i name order
    declare -A E=()
    for ((i = 0; i < WARMUP + N; i++)); do
        order=("${RUNTIMES[@]}")
        if ((i % 2 == 1 && ${#RUNTIMES[@]} == 2)); then order=("${RUNTIMES[1]}" "${RUNTIMES[0]}"); fi
        if ((${#RUNTIMES[@]} == 3)); then order=("${RUNTIMES[@]:i%3}" "${RUNTIMES[@]:0:i%3}"); fi
        for name in "${order[@]}"; do
            must "${BIN_OF[$name]}" --root "${ROOT_OF[$name]}" exec "${EXEC_ID[$name]}" /bin/true
            ((i >= WARMUP)) || continue
            E[$name,W]+=" $LAST_US"
            E[$name,U]+=" ${LAST_CPU_US:-0}"
        done
    done
    echo "--- exec /bin/true into a running container, $label: $N each after $WARMUP warm-ups, alternating; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-13s %9s %9s %9s %9s %12s   (ms)\n' runtime "wall med" p90 min max "cpu med"
    for name in "${RUNTIMES[@]}"; do
        # shellcheck disable=SC2086
        read -r m p lo hi < <(stats ${E[$name,W]})
        printf '%-13s %9s %9s %9s %9s %12s\n' "$name" "$m" "$p" "$lo" "$hi" "$(cpu_med "${E[$name,U]}")"
    done
    if [[ -n ${E[runc,W]:-} && -n ${E[craterun-oci,W]:-} ]]; then
        echo "ratio craterun-oci/runc, exec: wall $(ratio "$(med "${E[craterun-oci,W]}")" "$(med "${E[runc,W]}")")x, cpu $( [[ -z $CPU_ACCT ]] && echo n/a || echo "$(ratio "$(med "${E[craterun-oci,U]}")" "$(med "${E[runc,U]}")")x")   target: <= 0.33x runc"
    fi
    echo
}

exec_setup
phase "quiet (nothing else of ours running)"
exec_phase "quiet"
if [[ -n ${EXEC_ID[craterun-oci]:-} ]]; then
    step_table "craterun-oci exec ID /bin/true" "exec returns" "$CRATERUN_OCI" --root "${ROOT_OF[craterun-oci]}" exec "${EXEC_ID[craterun-oci]}" /bin/true
    echo
fi
if [[ ${BENCH_HOG:-1} == 1 ]]; then
    start_hogs "$(nproc)"
    phase "busy: $(nproc) CPU hogs (sh -c 'while :; do :; done', pids ${HOG_PIDS[*]}) on $(nproc) CPUs"
    exec_phase "busy: $(nproc) CPU hogs"
    stop_hogs
fi
exec_teardown
