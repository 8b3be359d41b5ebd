# shellcheck shell=bash
# Shared helpers for the client suites (sourced, not run).
# A suite runs checks; each check is a shell function whose output goes to a log file.
# Results are appended to $RESULTS as "suite<TAB>check<TAB>PASS|FAIL<TAB>detail".
#   RESULTS  file the results go to (required)
#   LOGDIR   directory for one log per check (required)
#   SUITE    suite name, e.g. podman, containerd

: "${RESULTS:?RESULTS must name the results file}" "${LOGDIR:?LOGDIR must name a log directory}"
mkdir -p "$LOGDIR"

export LC_ALL=C

# Every command of a check runs under a timeout so a hung runtime fails the check, not CI.
T_SHORT=${T_SHORT:-30}

# check NAME FUNCTION [ARGS...]: run FUNCTION with output to $LOGDIR/NAME.log.
# FUNCTION returns 0 for PASS; on failure its last line "detail: ..." (if any) is reported.
check() {
    local name=$1; shift
    local log=$LOGDIR/$SUITE-$name.log rc=0 t0=${EPOCHREALTIME/[.,]/} ms detail
    ( set +e; "$@" ) >"$log" 2>&1 </dev/null || rc=$?
    ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
    detail=$(grep -a '^detail: ' "$log" | tail -n 1 | cut -c9- | tr '\t' ' ' | cut -c1-160)
    if ((rc == 0)); then
        printf '%s\t%s\tPASS\t%s\n' "$SUITE" "$name" "${detail:-${ms} ms}" >>"$RESULTS"
        printf '  PASS  %-22s %s\n' "$name" "${detail:-${ms} ms}"
    else
        # no detail line: the last line of output (usually the client's error) says most
        if [[ -z $detail ]]; then
            detail=$(grep -av '^+ ' "$log" | grep -ai 'error\|fail\|denied\|not permitted' | tail -n 1)
            [[ -n $detail ]] || detail=$(grep -av '^+ ' "$log" | grep -a . | tail -n 1)
            detail="exit $rc: $(tr '\t' ' ' <<<"$detail" | cut -c1-140)"
        fi
        printf '%s\t%s\tFAIL\t%s\n' "$SUITE" "$name" "$detail" >>"$RESULTS"
        printf '  FAIL  %-22s %s (log: %s)\n' "$name" "$detail" "$log"
        sed 's/^/        | /' "$log" | tail -n 15
    fi
}

# expect_eq WHAT EXPECTED ACTUAL: prints a detail line and fails when they differ.
expect_eq() {
    if [[ "$2" == "$3" ]]; then echo "detail: $1 = '$3'"; return 0; fi
    echo "detail: $1: expected '$2', got '$3'"; return 1
}

# run_rc VAR CMD...: runs CMD (with the short timeout), echoes its output, stores the exit code in VAR.
run_rc() {
    local __var=$1; shift
    local __rc=0
    echo "+ $*"
    timeout -k 5 "$T_SHORT" "$@" || __rc=$?
    printf -v "$__var" '%s' "$__rc"
}

# median of the numbers on stdin
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# time_ms CMD...: wall time of CMD in ms on stdout (CMD's output discarded); fails when CMD fails.
time_ms() {
    local t0=${EPOCHREALTIME/[.,]/}
    timeout -k 5 "$T_SHORT" "$@" >/dev/null 2>&1 </dev/null || return 1
    echo $(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
}

# mounts_under DIR: mount points at or below DIR in our mount namespace, deepest first.
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# umount_under DIR: unmount everything at or below DIR (lazily as a last resort).
umount_under() {
    local m
    for m in $(mounts_under "$1"); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

# cgroup_leftovers NAME...: cgroup directories (v1 hierarchies, below our own memory cgroup
# and at the hierarchy roots) whose name contains one of NAME.
cgroup_leftovers() {
    local own c n
    own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
    for c in /sys/fs/cgroup/*/ "/sys/fs/cgroup/memory$own/"; do
        for n in "$@"; do
            find "$c" -mindepth 1 -maxdepth 2 -type d -name "*$n*" 2>/dev/null
        done
    done | sort -u
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
    local end=$(( ${EPOCHREALTIME/[.,]/} + $1 * 1000000 )); shift
    until "$@"; do
        (( ${EPOCHREALTIME/[.,]/} < end )) || return 1
        sleep 0.1
    done
}

# Host directories that podman and skopeo create whatever --root says (a blob-info cache, a
# network run dir). forget_new_host_dirs removes the ones that did not exist before
# remember_host_dirs, so that a run leaves the host as it found it.
HOST_DIRS=(/var/lib/containers /run/containers)
NEW_HOST_DIRS=()
remember_host_dirs() { local d; for d in "${HOST_DIRS[@]}"; do [[ -e $d ]] || NEW_HOST_DIRS+=("$d"); done; }
forget_new_host_dirs() { local d; for d in "${NEW_HOST_DIRS[@]}"; do rm -rf --one-file-system "$d"; done; }
