#!/bin/bash
# Docker 20.10 (Debian's docker.io) running containers through a runc-compatible runtime
# binary: a private dockerd -> its own managed containerd -> runc v2 shim -> RUNTIME.
# usage: RUNTIME=/path/to/runtime IMAGES=DIR RESULTS=FILE LOGDIR=DIR [RUNTIME_LABEL=NAME] [WORK=DIR] docker-test.sh
#   RUNTIME        the OCI runtime binary (craterun-oci or runc)
#   RUNTIME_LABEL  the name dockerd knows it by (--add-runtime NAME=RUNTIME; `docker run --runtime NAME`).
#                  "runc" is dockerd's built-in runtime (the runc on PATH), which must then be RUNTIME.
#   IMAGES         directory made by images.sh (busybox-rootfs.tar is `docker import`ed)
#   WORK           scratch directory for dockerd's data-root, exec-root, socket, pidfile
# The script starts its own dockerd (which starts its own containerd under the exec-root) and
# stops it by PID. Pitfalls on these machines, handled below:
#  - the default bridge network and iptables rules would change the host: --bridge=none
#    --iptables=false --ip-forward=false --ip-masq=false, and every container runs --network none.
#  - the default cgroup parent /docker leaves our memory cgroup: a relative --cgroup-parent
#    (cgroupsPath "PARENT/ID"), so that the runtime creates the cgroups below its own.
#  - dockerd writes /etc/docker/key.json and /run/docker/plugins, its containerd
#    /run/containerd/s (shim sockets) whatever the flags say: removed afterwards if they are new.
#  - Docker sends zero-valued resources that mean "unset" (blockIO.weight 0, cpu.shares 0)
#    with every container; this kernel has no blkio.weight file at all.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
: "${RUNTIME:?RUNTIME must be the runtime binary}" "${IMAGES:?IMAGES must be the images.sh directory}"
SUITE=${SUITE:-docker}
source "$HERE/lib.sh"

RT_NAME=${RUNTIME_LABEL:-$(basename "$RUNTIME" | sed 's/-oci$//')}
OWN_WORK=0
if [[ -z ${WORK:-} ]]; then WORK=$(mktemp -d /tmp/craterun-docker.XXXXXX); OWN_WORK=1; fi
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd -P)
TAG=$RT_NAME-$$                                  # distinct container names per runtime
CG_PARENT=craterun-docker-$$                     # relative: below the runtime's own cgroup
SOCK=$WORK/docker.sock
DOCKER=/usr/bin/docker                           # Debian's client, not /usr/local/bin/docker
D=("$DOCKER" -H "unix://$SOCK")
export DOCKER_CONFIG=$WORK/client                # the client's config.json, not ~/.docker
IMG=craterun/busybox:latest
R=(--runtime "$RT_NAME" --network none)
dk() { echo "+ docker $*" >&2; timeout -k 5 "$T_SHORT" "${D[@]}" "$@"; }
# cap VAR CMD...: CMD's stdout and stderr into VAR (without dk's "+ docker" trace) and into
# the log; returns CMD's exit code
cap() {
    local __v=$1 __o __rc=0; shift
    __o=$("$@" 2>&1) || __rc=$?
    printf '%s\n' "$__o"; printf -v "$__v" '%s' "$(grep -av '^+ docker ' <<<"$__o")"
    return $__rc
}

HOST_DIRS+=(/etc/docker/key.json /run/docker /run/containerd)
remember_host_dirs
links_before=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
DPID=

# stop_dockerd: SIGTERM to dockerd by PID (it stops its containers and its containerd),
# SIGKILL after 20 s; then the shims it may have left, by the pid files they wrote.
stop_dockerd() {
    if [[ -n $DPID ]] && kill -0 "$DPID" 2>/dev/null; then
        kill "$DPID"
        wait_for 20 eval '! kill -0 "$DPID" 2>/dev/null' || kill -9 "$DPID" 2>/dev/null
        wait "$DPID" 2>/dev/null
    fi
    DPID=
    local f p
    for f in "$WORK"/exec/containerd/containerd.pid "$WORK"/exec/containerd/daemon/io.containerd.runtime.v2.task/*/*/shim.pid; do
        [[ -f $f ]] || continue
        p=$(cat "$f"); [[ -n $p ]] && kill -0 "$p" 2>/dev/null && { echo "docker-test: killing $f ($p)" >&2; kill -9 "$p"; }
    done
}
cgroup_left() { cgroup_leftovers "$CG_PARENT"; }
cleanup() {
    stop_dockerd
    # container processes a failed stop left: SIGKILL by pid, then remove the cgroups
    local left d; left=$(cgroup_left)
    if [[ -n $left ]]; then
        while IFS= read -r d; do xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null; done < <(find $left -type d)
        wait_for 5 eval '[[ -z $(find $left -name cgroup.procs -exec cat {} +) ]]'
        for d in $(sort -r <<<"$left"); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    fi
    umount_under "$WORK"
    forget_new_host_dirs
    if ((OWN_WORK)); then rm -rf --one-file-system "$WORK"; fi
}
trap cleanup EXIT

# -- the daemon ---------------------------------------------------------------------------
mkdir -p "$WORK/client" && echo '{}' >"$WORK/daemon.json"
DOPTS=(--config-file "$WORK/daemon.json" --data-root "$WORK/data" --exec-root "$WORK/exec"
    --host "unix://$SOCK" --pidfile "$WORK/docker.pid"
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$CG_PARENT" --storage-driver overlay2)
if [[ $RT_NAME == runc ]]; then
    [[ $(command -v runc) == "$RUNTIME" ]] || { echo "docker-test: the built-in runtime runc is $(command -v runc), not $RUNTIME" >&2; exit 2; }
else
    DOPTS+=(--add-runtime "$RT_NAME=$RUNTIME")
fi
dockerd "${DOPTS[@]}" >"$LOGDIR/$SUITE-dockerd.log" 2>&1 &
DPID=$!
if ! wait_for 30 "${D[@]}" version >/dev/null 2>&1; then
    tail -n 20 "$LOGDIR/$SUITE-dockerd.log"; echo "docker-test: dockerd did not start" >&2; exit 2
fi
echo "== docker ($("${D[@]}" version -f '{{.Server.Version}}')) with $RUNTIME as --runtime $RT_NAME"
if ! "${D[@]}" import -c 'CMD ["/bin/sh"]' "$IMAGES/busybox-rootfs.tar" "$IMG" >"$LOGDIR/$SUITE-import.log" 2>&1; then
    cat "$LOGDIR/$SUITE-import.log"; echo "docker-test: cannot import the image" >&2; exit 2
fi

inspect() { "${D[@]}" inspect -f "$1" "$2" 2>/dev/null; }
# drun NAME ARGS...: `docker run --rm` with the runtime under test; output and exit code are the result
drun() { local n=$1; shift; dk run --rm --name "$TAG-$n" "${R[@]}" "$@"; }

# -- run: output and exit code ------------------------------------------------------------
t_run_output() {
    local out rc=0; cap out drun out "$IMG" echo hi || rc=$?
    expect_eq "stdout/exit" hi/0 "$(tail -n 1 <<<"$out")/$rc"
}
t_run_exit_code() {
    local rc; run_rc rc "${D[@]}" run --rm --name "$TAG-exit" "${R[@]}" "$IMG" sh -c 'exit 3'
    expect_eq "exit code" 3 "$rc"
}
t_run_tty() {
    # -it through a real pty (script(1)): the container's stdio is a pty of its own and what
    # is typed reaches it (stdin: "typed" read back through the pty)
    local out rc=0
    out=$(printf 'typed\n' | timeout -k 5 "$T_SHORT" script -qec \
        "${D[*]} run --rm -it --name $TAG-tty ${R[*]} $IMG sh -c 'tty; read x; echo got=\$x; exit 4'" /dev/null) || rc=$?
    out=$(tr -d '\r' <<<"$out"); echo "$out"
    expect_eq "tty/stdin/exit" "/dev/pts/0/got=typed/4" "$(grep -a '^/dev/' <<<"$out" | head -n 1)/$(grep -ao 'got=.*' <<<"$out" | tail -n 1)/$rc"
}

# -- run -d, exec, logs, stop, rm -f ------------------------------------------------------
DC=$TAG-d
t_run_detached() {
    # sh as pid 1 ignores SIGTERM unless it traps it: trap it so that `stop` tests delivery
    dk run -d --name "$DC" "${R[@]}" "$IMG" sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.2; done' || return 1
    wait_for 5 test "$(inspect '{{.State.Status}}' "$DC")" = running
    expect_eq status running "$(inspect '{{.State.Status}}' "$DC")"
}
t_exec() {
    local out rc=0 rc2
    cap out dk exec "$DC" sh -c 'echo hi-exec; cat /proc/1/comm' || rc=$?
    run_rc rc2 "${D[@]}" exec "$DC" sh -c 'exit 5'
    expect_eq "stdout/exit, exit code of sh -c 'exit 5'" "hi-exec sh/0, 5" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')/$rc, $rc2"
}
t_logs() {
    local out; cap out dk logs "$DC"
    expect_eq "logs" started "$out"
}
t_stop() {
    local t0=$SECONDS
    dk stop -t 20 "$DC" || return 1
    local st code; st=$(inspect '{{.State.Status}}' "$DC"); code=$(inspect '{{.State.ExitCode}}' "$DC")
    # SIGTERM reached the trap if it stopped well before the 20 s SIGKILL fallback, with exit 0
    ((SECONDS - t0 < 10)) || { echo "detail: stop took $((SECONDS - t0)) s: SIGTERM was not delivered"; return 1; }
    expect_eq "status/exit/last log line" "exited/0/got-term" "$st/$code/$("${D[@]}" logs "$DC" 2>&1 | tail -n 1)"
}
t_rm_f() {
    # rm -f of the stopped container, then of a running one (SIGKILL through the runtime)
    dk rm -f "$DC" || return 1
    local c=$TAG-rmf t0
    dk run -d --name "$c" "${R[@]}" "$IMG" sleep 300 || return 1
    t0=$SECONDS
    dk rm -f "$c" || return 1
    local left=()
    for x in "$DC" "$c"; do "${D[@]}" inspect "$x" >/dev/null 2>&1 && left+=("$x"); done
    ((${#left[@]} == 0)) || { echo "detail: still there after rm -f: ${left[*]}"; return 1; }
    ((SECONDS - t0 < 10)) || { echo "detail: rm -f of a running container took $((SECONDS - t0)) s"; return 1; }
    echo "detail: stopped and running container removed"
}

# -- resource limits: each pushes past the limit or reads the cgroup from inside ---------------
t_memory_oom() {
    # dd's 64 MiB buffer is filled from /dev/zero: past 32 MiB the cgroup's OOM killer fires
    local c=$TAG-oom rc oom
    run_rc rc "${D[@]}" run --name "$c" "${R[@]}" --memory 32m --memory-swap 32m "$IMG" dd if=/dev/zero of=/dev/null bs=64M count=1
    oom=$(inspect '{{.State.OOMKilled}}' "$c")
    "${D[@]}" rm -f "$c" >/dev/null 2>&1
    local rc2; run_rc rc2 "${D[@]}" run --rm --name "$c-ctl" "${R[@]}" "$IMG" dd if=/dev/zero of=/dev/null bs=64M count=1
    expect_eq "exit/OOMKilled with --memory 32m, exit without" "137/true, 0" "$rc/$oom, $rc2"
}
t_pids_limit() {
    # 20 background sleeps cannot all start under pids.max 10: ash gives up with "can't fork"
    local out
    cap out drun pids --pids-limit 10 "$IMG" sh -c \
        'i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo started=$i; done; echo all-started'
    local started; started=$(grep -ao 'started=[0-9]*' <<<"$out" | tail -n 1 | cut -d= -f2)
    if grep -aqx all-started <<<"$out"; then echo "detail: all 20 processes started: no limit"; return 1; fi
    grep -aqi "can't fork" <<<"$out" || { echo "detail: no fork failure seen (started=${started:-?})"; return 1; }
    echo "detail: fork failed inside after ${started:-?} of 20"
}
t_cpus() {
    # --cpus 0.1 is a CFS quota of 10 ms per 100 ms; a busy loop for 1 s must be throttled
    # (0.1, not more: on a loaded 2-core machine a loop may get less than half a CPU anyway)
    local out
    cap out drun cpus --cpus 0.1 "$IMG" sh -c 'cd /sys/fs/cgroup/cpu; echo quota=$(cat cpu.cfs_quota_us)/$(cat cpu.cfs_period_us);
        (while :; do :; done) & sleep 1; kill $!; grep nr_throttled cpu.stat'
    local thr; thr=$(awk '$1 == "nr_throttled" { print $2 }' <<<"$out")
    expect_eq "quota/period, throttled" "quota=10000/100000, yes" "$(grep -a '^quota=' <<<"$out"), $( ((${thr:-0} > 0)) && echo yes || echo "no (nr_throttled=${thr:-?})")"
}
t_blkio_weight() {
    # Docker sends blockIO.weight (and every other zero resource) whether or not the kernel
    # has the file; where the kernel has no weight, dockerd discards 300 with a warning and
    # the runtime must take the 0 it sends as "unset".
    local f out rc=0
    for f in blkio.weight blkio.bfq.weight; do [[ -e /sys/fs/cgroup/blkio/$f ]] && break; f=; done
    cap out drun blkio --blkio-weight 300 "$IMG" sh -c "echo ran; [ -z '$f' ] || cat /sys/fs/cgroup/blkio/$f" || rc=$?
    if [[ -n $f ]]; then
        expect_eq "exit/$f" "0/300" "$rc/$(grep -ax '[0-9 ]*' <<<"$out" | awk '{ print $NF }' | tail -n 1)"
    else
        local warned=no; grep -aqi 'does not support Block I/O weight' <<<"$out" && warned=yes
        expect_eq "exit/output/dockerd's 'weight discarded' warning (no blkio.weight here)" "0/ran/yes" "$rc/$(grep -ax ran <<<"$out")/$warned"
    fi
}
t_device_read_bps() {
    local dev majmin out
    dev=$(lsblk -dno NAME,TYPE | awk '$2 == "disk" && $1 !~ /^zram/ { print $1; exit }')
    [[ -n $dev ]] || { echo "detail: no block device on this machine"; return 1; }
    majmin=$(lsblk -dno MAJ:MIN "/dev/$dev" | tr -d ' ')
    cap out drun bps --device-read-bps "/dev/$dev:1mb" "$IMG" cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device
    expect_eq "blkio.throttle.read_bps_device" "$majmin 1048576" "$(tail -n 1 <<<"$out")"
}
t_ulimit() {
    local out; cap out drun ulimit --ulimit nofile=1024:2048 "$IMG" sh -c 'echo $(ulimit -Sn)/$(ulimit -Hn)'
    expect_eq "nofile soft/hard" 1024/2048 "$(tail -n 1 <<<"$out")"
}
t_cap_drop() {
    # without CAP_CHOWN, root cannot give a file away; with the default set it can
    local script='touch /tmp/f; chown 65534 /tmp/f && echo chown-ok; grep CapBnd /proc/self/status' out1 out2
    cap out1 drun capd --cap-drop CHOWN "$IMG" sh -c "$script"
    cap out2 drun capk "$IMG" sh -c "$script"
    local bnd1; bnd1=$(awk '$1 == "CapBnd:" { print $2 }' <<<"$out1")
    local bit0=set; [[ -n $bnd1 ]] && (((16#$bnd1 & 1) == 0)) && bit0=clear
    expect_eq "dropped: chown/CAP_CHOWN in CapBnd; default: chown" "denied/clear; chown-ok" \
        "$(grep -aqi 'operation not permitted' <<<"$out1" && echo denied || echo allowed)/$bit0; $(grep -ax chown-ok <<<"$out2")"
}
t_read_only() {
    local out; cap out drun ro --read-only "$IMG" sh -c 'touch /x 2>&1; touch /dev/shm/y && echo shm-ok; awk "\$2 == \"/\" { print \$4 }" /proc/mounts | cut -d, -f1'
    expect_eq "touch /x, /dev/shm, / mount" "read-only/shm-ok/ro" \
        "$(grep -aqi 'read-only file system' <<<"$out" && echo read-only || echo writable)/$(grep -ax shm-ok <<<"$out")/$(tail -n 1 <<<"$out")"
}
t_user() {
    local out; cap out drun user --user 65534:65534 "$IMG" sh -c 'echo $(id -u):$(id -g); touch /root/x 2>&1 | grep -o "Permission denied"'
    expect_eq "uid:gid, write to /root" "65534:65534 Permission denied" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
}

# -- pause / unpause: the container's output stops while frozen ---------------------------
t_pause() {
    local c=$TAG-pause n1 n2 n3 s1 s2
    dk run -d --name "$c" "${R[@]}" "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done' || return 1
    sleep 0.5
    dk pause "$c" || { "${D[@]}" rm -f "$c"; return 1; }
    s1=$(inspect '{{.State.Status}}' "$c")
    n1=$("${D[@]}" logs "$c" 2>&1 | wc -l); sleep 1; n2=$("${D[@]}" logs "$c" 2>&1 | wc -l)
    dk unpause "$c"
    s2=$(inspect '{{.State.Status}}' "$c")
    sleep 1; n3=$("${D[@]}" logs "$c" 2>&1 | wc -l)
    dk rm -f "$c" >/dev/null
    echo "log lines: $n1 paused, $n2 a second later, $n3 a second after unpause"
    expect_eq "status paused/unpaused, output frozen, resumed" "paused/running, frozen, resumed" \
        "$s1/$s2, $( ((n1 == n2)) && echo frozen || echo "grew $n1->$n2"), $( ((n3 > n2)) && echo resumed || echo "stuck at $n3")"
}

# -- update --memory on a running container -----------------------------------------------
t_update_memory() {
    # 56 MiB fits below 64 MiB; after `update --memory 48m` the same dd is killed
    local c=$TAG-upd lim rc1 rc2
    dk run -d --name "$c" "${R[@]}" --memory 64m --memory-swap 64m "$IMG" sleep 300 || return 1
    run_rc rc1 "${D[@]}" exec "$c" dd if=/dev/zero of=/dev/null bs=56M count=1
    dk update --memory 48m --memory-swap 48m "$c"
    lim=$("${D[@]}" exec "$c" cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
    run_rc rc2 "${D[@]}" exec "$c" dd if=/dev/zero of=/dev/null bs=56M count=1
    dk rm -f "$c" >/dev/null
    expect_eq "dd 56M before/limit after update/dd 56M after" "0/50331648/137" "$rc1/$lim/$rc2"
}

# -- top and stats of a running container -------------------------------------------------
t_top() {
    local c=$TAG-top top
    dk run -d --name "$c" "${R[@]}" "$IMG" sh -c 'sleep 300 & sleep 301' || return 1
    local rc=0; cap top dk top "$c" || rc=$?
    dk rm -f "$c" >/dev/null
    # the shim asks the runtime (`ps --format json ID`) for the pids; sh execs its last command
    expect_eq "processes in docker top (exit $rc)" "sleep 300,sleep 301" \
        "$(grep -ao 'sleep 30[01]$' <<<"$top" | sort | tr '\n' ',' | sed 's/,$//')"
}
t_stats() {
    local c=$TAG-stats stats
    dk run -d --name "$c" "${R[@]}" --memory 64m "$IMG" sh -c 'sleep 300 & sleep 301' || return 1
    cap stats dk stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' "$c"
    dk rm -f "$c" >/dev/null
    local used; used=$(cut -d' ' -f1 <<<"$stats")
    # usage is a non-zero size, the limit is --memory, 2 processes (sh execs its last command)
    expect_eq "memory limit|pids (usage $used)" "64MiB|2" "$(sed 's/^.* \/ //' <<<"$stats")" || return 1
    [[ $used =~ ^[0-9.]+[KMG]i?B$ && $used != 0B ]] || { echo "detail: memory usage '$used'"; return 1; }
}

# -- --init: docker-init is pid 1 and the command its child -------------------------------
t_init() {
    local out; cap out drun init --init "$IMG" sh -c 'cat /proc/1/comm; echo pid=$$'
    local pid; pid=$(grep -ao 'pid=[0-9]*' <<<"$out" | cut -d= -f2)
    expect_eq "pid 1, command not pid 1" "docker-init, yes" "$(head -n 1 <<<"$out"), $( ((${pid:-1} > 1)) && echo yes || echo "no (pid=$pid)")"
}

# -- --restart on-failure:2: dockerd restarts the failing container twice through the runtime
t_restart() {
    local c=$TAG-restart n st code runs
    dk run -d --name "$c" "${R[@]}" --restart on-failure:2 "$IMG" sh -c 'echo run; exit 1' || return 1
    wait_for 20 eval '[[ $(inspect "{{.RestartCount}}/{{.State.Status}}" "$c") == 2/exited ]]'
    n=$(inspect '{{.RestartCount}}' "$c"); st=$(inspect '{{.State.Status}}' "$c"); code=$(inspect '{{.State.ExitCode}}' "$c")
    runs=$("${D[@]}" logs "$c" 2>&1 | grep -cx run)
    dk rm -f "$c" >/dev/null
    expect_eq "restarts/status/exit/runs" "2/exited/1/3" "$n/$st/$code/$runs"
}

check run-output        t_run_output
check run-exit-code     t_run_exit_code
check run-it-tty        t_run_tty
check run-detached      t_run_detached
check exec              t_exec
check logs              t_logs
check stop              t_stop
check rm-f              t_rm_f
check memory-oom-137    t_memory_oom
check pids-limit        t_pids_limit
check cpus              t_cpus
check blkio-weight      t_blkio_weight
check device-read-bps   t_device_read_bps
check ulimit            t_ulimit
check cap-drop          t_cap_drop
check read-only         t_read_only
check user              t_user
check pause-unpause     t_pause
check update-memory     t_update_memory
check top               t_top
check stats             t_stats
check init              t_init
check restart-on-failure t_restart

# -- every container above is gone: nothing in dockerd, the runtime's state, cgroups, mounts
t_no_leftovers() {
    # a check that failed may have left its container in dockerd's list (e.g. "created" after a
    # failed start): removing it goes through the runtime too; what counts is what is left after
    local left=() ids
    ids=$("${D[@]}" ps -aq)
    if [[ -n $ids ]]; then
        echo "removing $(wc -w <<<"$ids") container(s) of failed checks: $(tr '\n' ' ' <<<"$ids")"
        timeout -k 5 60 "${D[@]}" rm -f $ids >/dev/null
        ids=$("${D[@]}" ps -aq); [[ -z $ids ]] || left+=("containers rm -f cannot remove: $(tr '\n' ' ' <<<"$ids")")
    fi
    local st; st=$(ls "$WORK/exec/runtime-$RT_NAME/moby" 2>/dev/null); [[ -z $st ]] || left+=("runtime state: $(tr '\n' ' ' <<<"$st")")  # (a hidden lock file of the runtime itself is not a container's state)
    local cg; cg=$(cgroup_left | xargs -r -n1 sh -c 'find "$0" -mindepth 1 -type d' | head); [[ -n $cg ]] && left+=("cgroups: $(tr '\n' ' ' <<<"$cg")")
    local mnt; mnt=$(mounts_under "$WORK/data/overlay2"); [[ -n $mnt ]] && left+=("mounts: $(tr '\n' ' ' <<<"$mnt")")
    if ((${#left[@]})); then printf '%s\n' "${left[@]}"; echo "detail: ${left[*]}"; return 1; fi
    echo "detail: none"
}
check no-leftovers t_no_leftovers

# -- dockerd stopped by PID: its containerd and shims gone, no mounts, links or cgroups left --
t_daemon_stop() {
    local cpid; cpid=$(cat "$WORK/exec/containerd/containerd.pid" 2>/dev/null)
    stop_dockerd
    local left=()
    [[ -n $cpid ]] && kill -0 "$cpid" 2>/dev/null && left+=("containerd $cpid still running")
    local mnt; mnt=$(mounts_under "$WORK"); [[ -n $mnt ]] && left+=("mounts: $(tr '\n' ' ' <<<"$mnt")")
    local links; links=$(comm -13 <(echo "$links_before") <(ip -o link show | awk -F': ' '{ print $2 }' | sort))
    [[ -n $links ]] && left+=("links: $(tr '\n' ' ' <<<"$links")")
    local cg; cg=$(cgroup_left); [[ -n $cg ]] && echo "empty parent cgroups (removed): $cg"
    for d in $(sort -r <<<"$cg"); do rmdir "$d" 2>/dev/null || left+=("cgroup $d cannot be removed"); done
    if ((${#left[@]})); then printf '%s\n' "${left[@]}"; echo "detail: ${left[*]}"; return 1; fi
    echo "detail: dockerd and containerd exited; no mounts, links or cgroups left"
}
check daemon-stop t_daemon_stop
exit 0
