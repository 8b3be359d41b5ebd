#!/usr/bin/env bash
# oci-vs-runc.sh [N]   (N cycles of each runtime, default 30; at least 20 recommended)
#
# The OCI CLI (what podman/containerd drive), craterun-oci vs runc, same bundle, same
# commands, alternating each round (order swapped every round), 3 warm-ups each first.
# One timed CYCLE, for either runtime X with its own --root in a temp dir:
#     X --root R create --bundle B ID          (container ready, /bin/true not yet run)
#     X --root R start ID
#     X --root R state ID   ... repeated, no sleep, until its JSON says "status": "stopped"
#     X --root R delete ID
# Sample = wall time of the whole cycle (EPOCHREALTIME before create and after delete,
# in-process). Each phase is timed too. stdout/stderr of every command go to files.
#
# If `craterun-oci --root R create --bundle B ID` fails (the OCI face is not written yet,
# or out/craterun-oci does not exist), it prints "craterun-oci: not available" with the
# error, measures runc alone for reference, and exits 0. Any other failure of a runtime
# invocation exits 1. Override the binaries with CRATERUN_OCI=... RUNC=...
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
declare -A ROOT_OF=([craterun-oci]=$WORK/craterun-oci-root [runc]=$WORK/runc-root)
declare -A BIN_OF=([craterun-oci]=$CRATERUN_OCI [runc]=$RUNC)
declare -a CREATED=()   # "name id" of every container we asked a runtime to create

cleanup() {
    local rc=$? entry name id ids
    trap - EXIT INT TERM
    set +e
    # delete -f every container we created (a runtime's `list`, if it has one, as well)
    for name in runc craterun-oci; do
        [[ -d ${ROOT_OF[$name]} ]] || continue
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
must() {
    local rc=0
    "$@" >"$OUT_FILE" 2>"$ERR_FILE" </dev/null || rc=$?
    if ((rc != 0)); then report_failure "$rc" "$@"; exit 1; fi
}

# Any cgroup of the bundle's cgroupsPath still there after delete: reported, removed.
check_cgroup_gone() {   # check_cgroup_gone RUNTIME
    local own d
    own=$(own_memory_cgroup)
    for d in /sys/fs/cgroup/memory"$own"/"$CGNAME" /sys/fs/cgroup/pids/"$CGNAME" /sys/fs/cgroup/cpu/"$CGNAME"; do
        if [[ -d $d ]]; then
            echo "ODD: $1 delete left cgroup $d behind" >&2
            remove_cgroup_leftovers "$CGNAME"
            return
        fi
    done
}

SEQ=0
# cycle RUNTIME: one create/start/wait/delete; sets C_CREATE C_START C_WAIT C_DELETE C_TOTAL
# (microseconds) and C_POLLS.
cycle() {
    local name=$1 bin=${BIN_OF[$1]} root=${ROOT_OF[$1]} id t0 t1 t2 t3 t4 st deadline
    SEQ=$((SEQ + 1))
    id=bench-$$-$SEQ
    CREATED+=("$name $id")
    C_POLLS=0
    t0=${EPOCHREALTIME/[.,]/}
    must "$bin" --root "$root" create --bundle "$BUNDLE" "$id"
    t1=${EPOCHREALTIME/[.,]/}
    must "$bin" --root "$root" start "$id"
    t2=${EPOCHREALTIME/[.,]/}
    deadline=$((t2 + POLL_TIMEOUT_S * 1000000))
    while :; do
        must "$bin" --root "$root" state "$id"
        C_POLLS=$((C_POLLS + 1))
        st=""
        read -r -d '' st <"$OUT_FILE" || true     # no fork
        [[ $st =~ \"status\"[[:space:]]*:[[:space:]]*\"stopped\" ]] && break
        if ((${EPOCHREALTIME/[.,]/} > deadline)); then
            echo "FAILED: $name container $id not 'stopped' ${POLL_TIMEOUT_S}s after start; last state: $st" >&2
            exit 1
        fi
    done
    t3=${EPOCHREALTIME/[.,]/}
    must "$bin" --root "$root" delete "$id"
    t4=${EPOCHREALTIME/[.,]/}
    C_CREATE=$((t1 - t0)) C_START=$((t2 - t1)) C_WAIT=$((t3 - t2)) C_DELETE=$((t4 - t3)) C_TOTAL=$((t4 - t0))
    check_cgroup_gone "$name"
}

snapshot_binaries "$WORK"
BIN_OF=([craterun-oci]=$CRATERUN_OCI [runc]=$RUNC)
print_header "OCI CLI cycle (create, start, state until stopped, delete): craterun-oci vs runc"
echo "oci:      $CRATERUN_OCI_SRC"
"$BENCH_DIR/make-bundle.sh" "$BUNDLE" "$CGNAME" >/dev/null
echo "bundle:   $BUNDLE (/bin/true, cgroupsPath $CGNAME, relative)"
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
fi
echo "runs:     $N cycles each after $WARMUP warm-ups each${probe_err:+ (runc only)}, alternating (order swapped every round)"
echo

declare -A S_TOTAL=() S_CREATE=() S_START=() S_WAIT=() S_DELETE=() S_POLLS=()
for ((i = 0; i < WARMUP + N; i++)); do
    order=("${RUNTIMES[@]}")
    if ((i % 2 == 1 && ${#RUNTIMES[@]} == 2)); then order=("${RUNTIMES[1]}" "${RUNTIMES[0]}"); fi
    for name in "${order[@]}"; do
        cycle "$name"
        if ((i >= WARMUP)); then
            S_TOTAL[$name]+=" $C_TOTAL"; S_CREATE[$name]+=" $C_CREATE"; S_START[$name]+=" $C_START"
            S_WAIT[$name]+=" $C_WAIT"; S_DELETE[$name]+=" $C_DELETE"; S_POLLS[$name]+=" $C_POLLS"
        fi
    done
done

# shellcheck disable=SC2086  # unquoted on purpose: a list of numbers
med() { stats $1 | cut -d' ' -f1; }
printf '%-13s %9s %9s %9s %9s   (ms, n=%d each; whole cycle)\n' runtime median p90 min max "$N"
for name in "${RUNTIMES[@]}"; do
    # shellcheck disable=SC2086
    read -r m p lo hi < <(stats ${S_TOTAL[$name]})
    printf '%-13s %9s %9s %9s %9s\n' "$name" "$m" "$p" "$lo" "$hi"
done
echo
printf '%-13s %9s %9s %9s %9s %11s   (medians, ms)\n' runtime create start wait delete "state polls"
for name in "${RUNTIMES[@]}"; do
    polls=$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }' <<<"${S_POLLS[$name]}")
    printf '%-13s %9s %9s %9s %9s %11s\n' "$name" "$(med "${S_CREATE[$name]}")" "$(med "${S_START[$name]}")" \
        "$(med "${S_WAIT[$name]}")" "$(med "${S_DELETE[$name]}")" "$polls (mean)"
done
echo
if [[ -z $probe_err ]]; then
    echo "ratio craterun-oci/runc (medians of the whole cycle): $(ratio "$(med "${S_TOTAL[craterun-oci]}")" "$(med "${S_TOTAL[runc]}")")x   target: <= 0.33x runc"
else
    echo "ratio craterun-oci/runc: n/a (craterun-oci not available)   target: <= 0.33x runc"
fi
