#!/bin/bash
# podman (Debian 4.3) running containers through a runc-compatible runtime binary.
# usage: RUNTIME=/path/to/runtime IMAGES=DIR RESULTS=FILE LOGDIR=DIR [WORK=DIR] podman-test.sh
#   RUNTIME  the OCI runtime podman is told to use (--runtime): craterun-oci or runc
#   IMAGES   directory made by images.sh (busybox-docker.tar is loaded)
#   WORK     scratch directory for podman's storage (default: a new temp dir, removed after)
# Pitfalls on these machines, handled below:
#  - root lacks CAP_SYS_RESOURCE and the nofile hard limit is low: podman's default ulimits
#    (nofile 1048576) make any runtime fail at setrlimit -> --ulimit nofile=HARD:HARD.
#  - the default cgroup parent /libpod_parent leaves our memory cgroup: --cgroup-parent=.
#    (relative) and --cgroups=no-conmon; --cgroup-manager=cgroupfs (no systemd).
#  - the default bridge network rewrites iptables: --network=none.
#  - podman 4.3 passes --runtime-flag values to create/start but not to `delete --force`:
#    the runtime's state must stay in its default --root (/run/runc, /run/craterun).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
: "${RUNTIME:?RUNTIME must be the runtime binary}" "${IMAGES:?IMAGES must be the images.sh directory}"
SUITE=${SUITE:-podman}
source "$HERE/lib.sh"

OWN_WORK=0
if [[ -z ${WORK:-} ]]; then WORK=$(mktemp -d /tmp/craterun-podman.XXXXXX); OWN_WORK=1; fi
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd -P)
# conmon writes an `oom` marker into its working directory when a container is OOM-killed:
# work in WORK, never in the caller's directory (the repository's root in CI).
cd "$WORK" || exit 2
TAG=$(basename "$RUNTIME" | tr -c 'a-zA-Z0-9\n' '-')-$$      # distinct container names per runtime
HARD=$(ulimit -Hn)

P=(podman --root "$WORK/root" --runroot "$WORK/run" --tmpdir "$WORK/tmp" --storage-driver=overlay
   --cgroup-manager=cgroupfs --events-backend=file --runtime "$RUNTIME")
R=(--network=none --ulimit "nofile=$HARD:$HARD" --ulimit nproc=32768:32768
   --cgroups=no-conmon --cgroup-parent=.)
IMG=docker.io/library/busybox:latest
pod() { echo "+ podman $*"; timeout -k 5 "$T_SHORT" "${P[@]}" "$@"; }

cleanup() {
    local ids
    ids=$("${P[@]}" ps -aq --no-trunc 2>/dev/null)
    [[ -n $ids ]] && timeout -k 5 60 "${P[@]}" rm -f -t 0 $ids >/dev/null 2>&1
    timeout -k 5 60 "${P[@]}" rmi -af >/dev/null 2>&1
    local left; left=$(cgroup_leftovers $ids)
    [[ -n $left ]] && { echo "podman-test: cgroups left behind: $left" >&2; for d in $left; do rmdir "$d" 2>/dev/null; done; }
    umount_under "$WORK"
    forget_new_host_dirs
    if ((OWN_WORK)); then rm -rf --one-file-system "$WORK"; fi
}
remember_host_dirs
trap cleanup EXIT

if [[ ${MODE:-check} == bench ]]; then echo "== podman timings: ${BENCH_RUNTIMES:-}"
else echo "== podman with $RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -n 1))"; fi
if ! "${P[@]}" load -q -i "$IMAGES/busybox-docker.tar" >"$LOGDIR/$SUITE-load.log" 2>&1; then
    cat "$LOGDIR/$SUITE-load.log"; echo "podman-test: cannot load the image" >&2; exit 2
fi

# -- MODE=bench: wall time of `podman run --rm true`, the runtimes taking turns run by run ---
#   BENCH_RUNTIMES="label=/path/to/runtime ..."  BENCH_N runs each (after one warm-up run)
#   writes "SUITE<TAB>podman run --rm true<TAB>BENCH<TAB>median ms" to ${BENCH_PREFIX}LABEL.tsv
if [[ ${MODE:-check} == bench ]]; then
    declare -A times=()
    for i in $(seq 0 "${BENCH_N:-10}"); do
        for lr in ${BENCH_RUNTIMES:?}; do
            label=${lr%%=*} rt=${lr#*=}
            ms=$(time_ms "${P[@]}" --runtime "$rt" run --rm --name "$TAG-b$label$i" "${R[@]}" "$IMG" true) || ms=FAIL
            ((i == 0)) || times[$label]+="$ms "
        done
    done
    for lr in $BENCH_RUNTIMES; do
        label=${lr%%=*}
        echo "  bench $label podman run --rm true (ms): ${times[$label]}"
        if [[ " ${times[$label]}" == *" FAIL "* ]]; then med=FAIL; else med=$(tr ' ' '\n' <<<"${times[$label]}" | grep . | median); fi
        printf '%s\t%s\tBENCH\t%s\n' "$SUITE" "podman run --rm true" "$med" >>"${BENCH_PREFIX:?}$label.tsv"
    done
    exit 0
fi

# -- run --rm: output and exit code -------------------------------------------------------
t_run_output() {
    local out rc=0; out=$(pod run --rm --name "$TAG-out" "${R[@]}" "$IMG" echo hi) || rc=$?
    echo "$out"; expect_eq "stdout/exit" hi/0 "$(tail -n 1 <<<"$out")/$rc"
}
t_run_exit_code() {
    local rc; run_rc rc "${P[@]}" run --rm --name "$TAG-exit" "${R[@]}" "$IMG" sh -c 'exit 3'
    expect_eq "exit code" 3 "$rc"
}

# -- run -d, exec, stop, rm ---------------------------------------------------------------
D=$TAG-d
status() { "${P[@]}" inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
t_run_detached() {
    # sh as pid 1 ignores SIGTERM unless it traps it: trap it so that `stop` tests delivery
    pod run -d --name "$D" "${R[@]}" "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done' || return 1
    wait_for 5 test "$(status "$D")" = running
    expect_eq status running "$(status "$D")"
}
t_exec_output() {
    local out rc=0; out=$(pod exec "$D" echo hi-exec) || rc=$?
    echo "$out"; expect_eq "stdout/exit" hi-exec/0 "$(tail -n 1 <<<"$out")/$rc"
}
t_exec_exit_code() {
    local rc; run_rc rc "${P[@]}" exec "$D" sh -c 'exit 5'
    expect_eq "exit code" 5 "$rc"
}
t_stop() {
    local t0=$SECONDS
    pod stop -t 20 "$D" || return 1
    local st code; st=$(status "$D"); code=$("${P[@]}" inspect -f '{{.State.ExitCode}}' "$D")
    # SIGTERM reached the trap if it stopped well before the 20 s SIGKILL fallback, with exit 0
    ((SECONDS - t0 < 10)) || { echo "detail: stop took $((SECONDS - t0)) s: SIGTERM was not delivered"; return 1; }
    expect_eq "status/exit" "exited/0" "$st/$code"
}
t_rm() {
    pod rm "$D" || return 1
    if "${P[@]}" container exists "$D"; then echo "detail: container still exists after rm"; return 1; fi
    echo "detail: removed"
}

# -- run -t through conmon's console socket ------------------------------------------------
t_tty() {
    # The runtime's part of -t: it opens a pty in the container, sends the master to conmon's
    # console socket and makes the slave the process's stdio; conmon logs what it reads.
    # Detached, so that the check does not depend on podman's attach path, which hangs now
    # and then whatever the runtime (reproduced with runc too: `podman --log-level=debug
    # run --rm -t` under script(1) never returns).
    local c=$TAG-tty out code
    pod run -d -t --name "$c" "${R[@]}" "$IMG" tty || return 1
    code=$(timeout -k 5 "$T_SHORT" "${P[@]}" wait "$c")
    out=$("${P[@]}" logs "$c" 2>&1 | tr -d '\r')
    "${P[@]}" rm -f -t 0 "$c" >/dev/null
    echo "$out"
    expect_eq "tty/exit" /dev/pts/0/0 "$(grep -a '^/dev/' <<<"$out" | tail -n 1)/$code"
}

# -- pause / unpause ----------------------------------------------------------------------
t_pause() {
    local c=$TAG-pause s1 s2
    pod run -d --name "$c" "${R[@]}" "$IMG" sleep 300 || return 1
    pod pause "$c" || { "${P[@]}" rm -f -t 0 "$c"; return 1; }
    s1=$(status "$c")
    pod unpause "$c"
    s2=$(status "$c")
    pod rm -f -t 0 "$c" >/dev/null
    expect_eq "status after pause/unpause" "paused/running" "$s1/$s2"
}

# -- device cgroup: podman sends only "deny all" and relies on the runtime's default allows -
t_devices() {
    # /dev/null and /dev/zero work; a node made for loop0 (block 7:0) exists but cannot be opened
    local out
    out=$(pod run --rm --name "$TAG-dev" "${R[@]}" --cap-add MKNOD "$IMG" sh -c \
        'echo x >/dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; mknod /tmp/loop0 b 7 0 && echo mknod-ok; head -c 1 /tmp/loop0 >/dev/null' 2>&1)
    echo "$out"
    local got; got="$(grep -ax 'null-ok' <<<"$out")/$(grep -ax '[[:space:]]*4' <<<"$out" | tr -d ' ')/$(grep -ax 'mknod-ok' <<<"$out")/$(grep -aoi 'loop0: operation not permitted' <<<"$out" | head -n 1 | tr 'A-Z' 'a-z')"
    expect_eq "null/zero/mknod/open denied" "null-ok/4/mknod-ok/loop0: operation not permitted" "$got"
}

# -- resource limits ----------------------------------------------------------------------
t_memory_limit() {
    # dd's 64 MiB buffer is filled from /dev/zero: past 32 MiB the cgroup's OOM killer fires
    local c=$TAG-oom rc oom
    run_rc rc "${P[@]}" run --name "$c" "${R[@]}" --memory 32m --memory-swap 32m "$IMG" dd if=/dev/zero of=/dev/null bs=64M count=1
    oom=$("${P[@]}" inspect -f '{{.State.OOMKilled}}' "$c" 2>/dev/null)
    "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1
    echo "OOMKilled=$oom"
    expect_eq "exit code (OOMKilled=$oom)" 137 "$rc"
}
t_memory_unlimited_control() {
    # the same hog without --memory must succeed, or the check above proves nothing
    local rc; run_rc rc "${P[@]}" run --rm --name "$TAG-nooom" "${R[@]}" "$IMG" dd if=/dev/zero of=/dev/null bs=64M count=1
    expect_eq "exit code without a limit" 0 "$rc"
}
t_pids_limit() {
    # 20 background sleeps cannot all start under pids.max 10: ash gives up with "can't fork"
    local out
    out=$(pod run --rm --name "$TAG-pids" "${R[@]}" --pids-limit 10 "$IMG" sh -c \
        'i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo started=$i; done; echo all-started' 2>&1)
    echo "$out"
    local started; started=$(grep -ao 'started=[0-9]*' <<<"$out" | tail -n 1 | cut -d= -f2)
    if grep -aqx all-started <<<"$out"; then echo "detail: all 20 processes started: no limit"; return 1; fi
    grep -aqi "can't fork" <<<"$out" || { echo "detail: no fork failure seen (started=${started:-?})"; return 1; }
    echo "detail: fork failed inside after ${started:-?} of 20"
}

check run-output           t_run_output
check run-exit-code        t_run_exit_code
check run-detached         t_run_detached
check exec-output          t_exec_output
check exec-exit-code       t_exec_exit_code
check stop                 t_stop
check rm                   t_rm
check run-tty              t_tty
check pause-unpause        t_pause
check devices-cgroup       t_devices
check memory-32m-oom       t_memory_limit
check memory-control       t_memory_unlimited_control
check pids-limit-10        t_pids_limit

# -- every container above is gone: nothing left in podman, the runtime, cgroups, mounts ---
t_no_leftovers() {
    local ids left=() id
    ids=$("${P[@]}" events --stream=false --filter type=container --filter event=create --format '{{.ID}}' 2>/dev/null | sort -u)
    echo "containers created: $(wc -w <<<"$ids")"
    [[ -n $ids ]] || { echo "detail: no create events recorded"; return 1; }
    [[ -z $("${P[@]}" ps -aq) ]] || left+=("podman containers: $("${P[@]}" ps -aq | tr '\n' ' ')")
    for id in $ids; do
        for d in /run/runc/$id /run/craterun/$id; do [[ -e $d ]] && left+=("runtime state $d"); done
    done
    local cg; cg=$(cgroup_leftovers $ids); [[ -n $cg ]] && left+=("cgroups: $(tr '\n' ' ' <<<"$cg")")
    local mnt; mnt=$(mounts_under "$WORK/root/overlay" | grep -v "^$WORK/root/overlay\$"); [[ -n $mnt ]] && left+=("mounts: $(tr '\n' ' ' <<<"$mnt")")
    if ((${#left[@]})); then printf '%s\n' "${left[@]}"; echo "detail: ${left[*]}"; return 1; fi
    echo "detail: none left by $(wc -w <<<"$ids") containers"
}
check no-leftovers t_no_leftovers
exit 0
