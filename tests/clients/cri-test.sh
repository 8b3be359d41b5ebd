#!/bin/bash
# containerd's CRI plugin (the Kubernetes node path) driven by crictl, with a runtime handler
# whose runc v2 shim runs a runc-compatible binary (BinaryName): pods, containers, exec,
# logs, stats, namespaces shared with the pause container, limits, security contexts, mount
# propagation, seccomp; and (MODE=bench) the time of a pod's start and teardown.
# usage: RUNTIME=/path/to/runtime IMAGES=DIR RESULTS=FILE LOGDIR=DIR [RUNTIME_LABEL=NAME] [WORK=DIR] cri-test.sh
#   RUNTIME        the binary the shim runs for the handler RUNTIME_LABEL (craterun-oci or runc)
#   RUNTIME_LABEL  the runtime handler's name (`crictl runp --runtime NAME`; default from RUNTIME)
#   IMAGES         directory made by images.sh (busybox-docker.tar and pause-docker.tar are imported)
#   WORK           scratch directory for containerd's config, root, state, socket, CNI config
#   CRICTL         crictl (cri-tools 1.26; default: ../shared/bin/crictl beside the repo, else PATH)
#   MODE=bench BENCH_RUNTIMES="label=/path ..." BENCH_N=20 BENCH_PREFIX=DIR/results-
#                  times `crictl runp`+`create`+`start` and `stopp`+`rmp`, the handlers taking turns;
#                  and the CPU of the pod's whole cycle in containerd's tree: containerd runs in a
#                  cpuacct cgroup of its own (that hierarchy only: its memory cgroup stays ours), which
#                  holds the shims, the runtime's calls and, relative to them, the containers' cgroups
# Everything is private: containerd runs with its own config (nothing of /etc/containerd), in
# a network namespace this script makes (pod networks never touch the machine's interfaces
# or firewall), with its own CNI config (bridge + host-local; containerd adds loopback).
# Pitfalls on these machines, handled below:
#  - no CAP_SYS_RESOURCE: the pause container's oom_score_adj -998 is refused unless
#    restrict_oom_score_adj = true.
#  - containerd 1.6: registry.config_path with a hosts.toml that lacks [host] falls back to
#    the real registry; here there is no registry configuration at all and every image is
#    imported (`ctr -n k8s.io images import`), the pause image included (sandbox_image).
#  - cgroupfs with a relative cgroup_parent in each pod config, so that every cgroup lands
#    below the runtime's own (our memory cgroup bounds us).
#  - the shim runs `RUNTIME kill --all ID 9` after every container exit and expects runc's answers.
#  - containerd 1.6 puts shim sockets in /run/containerd/s and libcni its cache in
#    /var/lib/cni whatever its config says: removed afterwards if they are new.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
: "${RUNTIME:?RUNTIME must be the runtime binary}" "${IMAGES:?IMAGES must be the images.sh directory}"
SUITE=${SUITE:-cri}
source "$HERE/lib.sh"

LABEL=${RUNTIME_LABEL:-$(basename "$RUNTIME" | sed 's/-oci$//')}
if [[ ${MODE:-check} == bench ]]; then HANDLERS=${BENCH_RUNTIMES:?}; else HANDLERS="$LABEL=$RUNTIME"; fi
CRICTL=${CRICTL:-$REPO/../shared/bin/crictl}
[[ -x $CRICTL ]] || CRICTL=$(command -v crictl) || { echo "cri-test: crictl not found (../shared/bin/crictl or PATH; cri-tools 1.26)" >&2; exit 2; }

OWN_WORK=0
if [[ -z ${WORK:-} ]]; then WORK=$(mktemp -d /tmp/craterun-cri.XXXXXX); OWN_WORK=1; fi
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd -P)
SOCK=$WORK/containerd.sock
NETNS=$WORK/netns                               # containerd's network namespace (a bind mount)
CG_PARENT=craterun-cri-$$                       # relative: below the runtime's own cgroup
NET=craterun-cri-$$                             # CNI network name
IPAM=$WORK/cni-ipam                             # host-local's allocations
PROP=$WORK/prop                                 # shared mount for the propagation checks
PAUSE=localhost/craterun/pause:1
IMG=docker.io/library/busybox:latest
HOST_DIRS+=(/run/containerd /var/lib/cni)
remember_host_dirs
CPID=
CPU_CG=                                         # MODE=bench: containerd's cpuacct cgroup

# -- containerd config: CRI plugin, one handler per runtime, cgroupfs, no registry --------
{
cat <<EOC
version = 2
root = "$WORK/root"
state = "$WORK/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$WORK/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "${HANDLERS%%=*}"
EOC
for h in $HANDLERS; do
    cat <<EOC
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${h%%=*}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${h%%=*}.options]
        BinaryName = "${h#*=}"
        Root = "$WORK/runtime-root-${h%%=*}"
        SystemdCgroup = false
EOC
done
cat <<EOC
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$WORK/cni"
    max_conf_num = 1
EOC
} >"$WORK/config.toml"

mkdir -p "$WORK/cni" "$IPAM" "$WORK/podlogs"
cat >"$WORK/cni/10-craterun.conflist" <<EOC
{
  "cniVersion": "0.4.0",
  "name": "$NET",
  "plugins": [
    { "type": "bridge", "bridge": "crcni0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$IPAM", "ranges": [[{ "subnet": "10.88.77.0/24" }]] } }
  ]
}
EOC
cat >"$WORK/crictl.yaml" <<EOC
runtime-endpoint: unix://$SOCK
image-endpoint: unix://$SOCK
timeout: 30
EOC
CC=("$CRICTL" --config "$WORK/crictl.yaml")
cri() { echo "+ crictl $*" >&2; timeout -k 5 "$T_SHORT" "${CC[@]}" "$@"; }
# cap VAR CMD...: CMD's stdout and stderr into VAR (without the "+ crictl" trace) and the log
cap() {
    local __v=$1 __o __rc=0; shift
    __o=$("$@" 2>&1) || __rc=$?
    printf '%s\n' "$__o"; printf -v "$__v" '%s' "$(grep -av '^+ crictl ' <<<"$__o")"
    return $__rc
}

# -- teardown of everything, by PID and by path --------------------------------------------
shim_pids() { # the shims of this containerd: their command line names its socket
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "containerd-shim-runc-v2 .*-address $SOCK " && echo "${p#/proc/}"
    done
}
cg_dirs() { # cgroups below our parent (containers and pods), deepest first
    local own; own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
    for c in /sys/fs/cgroup/*/"$CG_PARENT" "/sys/fs/cgroup/memory$own/$CG_PARENT" ${CPU_CG:+"$CPU_CG/$CG_PARENT"}; do
        [[ -d $c ]] && find "$c" -mindepth 1 -type d
    done | sort -r
}
cleanup() {
    local p
    if [[ -n $CPID ]] && kill -0 "$CPID" 2>/dev/null; then
        local pods; pods=$("${CC[@]}" pods -q 2>/dev/null)
        for p in $pods; do timeout 20 "${CC[@]}" stopp "$p" >/dev/null 2>&1; timeout 20 "${CC[@]}" rmp -f "$p" >/dev/null 2>&1; done
        kill "$CPID" 2>/dev/null
        wait_for 10 eval '! kill -0 "$CPID" 2>/dev/null' || kill -9 "$CPID" 2>/dev/null
        wait "$CPID" 2>/dev/null
    fi
    for p in $(shim_pids); do echo "cri-test: killing shim $p" >&2; kill -9 "$p" 2>/dev/null; done
    # container processes a failed teardown left: SIGKILL by pid, wait until they are gone
    local d
    for d in $(cg_dirs); do xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null; done
    wait_for 5 eval '[[ -z $(for d in $(cg_dirs); do cat "$d/cgroup.procs"; done) ]]'
    for d in $(cg_dirs); do rmdir "$d" 2>/dev/null || echo "cri-test: cannot remove cgroup $d" >&2; done
    local own; own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
    rmdir /sys/fs/cgroup/*/"$CG_PARENT" "/sys/fs/cgroup/memory$own/$CG_PARENT" 2>/dev/null
    if [[ -n $CPU_CG ]]; then rmdir ${CPU_CG:+"$CPU_CG/$CG_PARENT"} 2>/dev/null; rmdir "$CPU_CG" || echo "cri-test: cannot remove cgroup $CPU_CG" >&2; fi
    umount_under "$WORK"
    forget_new_host_dirs
    if ((OWN_WORK)); then rm -rf --one-file-system "$WORK"; fi
}
trap cleanup EXIT

# -- containerd, inside a network namespace of its own ------------------------------------
touch "$NETNS"
unshare --net="$NETNS" true || { echo "cri-test: cannot make a network namespace" >&2; exit 2; }
nsenter --net="$NETNS" ip link set lo up
# the shared mount for the propagation checks (containerd refuses rslave/rshared otherwise)
mkdir -p "$PROP" && mount --bind "$PROP" "$PROP" && mount --make-rshared "$PROP"
if [[ ${MODE:-check} == bench ]]; then
    CPU_CG=/sys/fs/cgroup/cpuacct$(awk -F: '$2 == "cpuacct" { print $3 }' /proc/self/cgroup | sed 's:/$::')/craterun-cri-cpu-$$
    mkdir "$CPU_CG" || { echo "cri-test: cannot make the cpuacct cgroup $CPU_CG" >&2; CPU_CG=; exit 2; }
fi
nsenter --net="$NETNS" containerd --config "$WORK/config.toml" >"$LOGDIR/$SUITE-containerd-$LABEL.log" 2>&1 &
CPID=$!
# before it starts anything: its shims, their runtime calls and the containers follow it there
[[ -z $CPU_CG ]] || echo "$CPID" >"$CPU_CG/cgroup.procs" || { echo "cri-test: cannot move containerd to $CPU_CG" >&2; exit 2; }
if ! wait_for 20 "${CC[@]}" version >/dev/null 2>&1; then
    tail -n 20 "$LOGDIR/$SUITE-containerd-$LABEL.log"; echo "cri-test: containerd (CRI) did not start" >&2; exit 2
fi
for tar in busybox-docker.tar pause-docker.tar; do
    if ! ctr --address "$SOCK" -n k8s.io images import "$IMAGES/$tar" >>"$LOGDIR/$SUITE-import.log" 2>&1; then
        cat "$LOGDIR/$SUITE-import.log"; echo "cri-test: cannot import $tar" >&2; exit 2
    fi
done
MOUNTS_BASE=$(mounts_under "$WORK")
if [[ ${MODE:-check} == bench ]]; then echo "== CRI timings: $HANDLERS"
else echo "== CRI (containerd $(containerd --version | awk '{print $3}'), $("${CC[@]}" --version | awk '{print $3}')) handler $LABEL: $RUNTIME"; fi

# -- pod and container configs --------------------------------------------------------------
# pod_json NAME [SECURITY-CONTEXT-JSON]: a pod config file; default namespaces: network, IPC,
# UTS of the pod (POD = 0), PID per container (CONTAINER = 1)
# (a pod with the host's network has the host's UTS namespace too: no hostname then)
pod_json() {
    local n=$1 sc=${2:-'"namespace_options": {"network": 0, "pid": 1, "ipc": 0}'} hn="\"hostname\": \"$1-host\","
    [[ $sc == *'"network": 2'* ]] && hn=
    mkdir -p "$WORK/podlogs/$n"
    cat >"$WORK/$n-pod.json" <<EOC
{ "metadata": {"name": "$n", "namespace": "craterun", "uid": "$n-$$", "attempt": 0},
  $hn "log_directory": "$WORK/podlogs/$n",
  "linux": {"cgroup_parent": "$CG_PARENT", "security_context": {$sc}} }
EOC
    echo "$WORK/$n-pod.json"
}
# ctr_json NAME COMMAND-JSON [EXTRA-JSON]: a container config file (busybox)
ctr_json() {
    local n=$1 cmd=$2 extra=${3:+, $3}
    cat >"$WORK/$n-ctr.json" <<EOC
{ "metadata": {"name": "$n"}, "image": {"image": "$IMG"}, "command": $cmd,
  "log_path": "$n.log", "linux": {"security_context": {"namespace_options": {"pid": 1}}}$extra }
EOC
    echo "$WORK/$n-ctr.json"
}
inspect_field() { "${CC[@]}" inspect "$1" 2>/dev/null | jq -r "$2"; }
inspectp_field() { "${CC[@]}" inspectp "$1" 2>/dev/null | jq -r "$2"; }
state() { inspect_field "$1" .status.state; }
# run_ctr POD NAME COMMAND-JSON [EXTRA-JSON]: create and start; the container id on stdout
run_ctr() {
    local pod=$1 n=$2 id
    id=$(cri create "$pod" "$(ctr_json "$n" "$3" "${4:-}")" "$WORK/$PODNAME-pod.json") || return 1
    cri start "$id" >/dev/null || { echo "$id"; return 1; }
    echo "$id"
}
# wait_exited ID SECONDS: until the container is CONTAINER_EXITED
is_exited() { [[ $(state "$1") == CONTAINER_EXITED ]]; }
wait_exited() { wait_for "$2" is_exited "$1"; }
# exec_out VAR ID CMD...: `crictl exec -s` output into VAR
exec_out() { local __v=$1 id=$2; shift 2; cap "$__v" cri exec -s "$id" "$@"; }
ns_inode() { readlink "/proc/$1/ns/$2" 2>/dev/null | tr -dc 0-9; }

# teardown_pod POD: stopp + rmp, then nothing of the pod may be left anywhere
teardown_pod() {
    cri stopp "$1" >/dev/null && cri rmp "$1" >/dev/null || { echo "detail: stopp/rmp of $1 failed"; return 1; }
    clean_state
}
# clean_state: no pod, container, shim, container process, cgroup, mount or CNI state left
clean_state() {
    local left=() x
    x=$("${CC[@]}" pods -q); [[ -z $x ]] || left+=("pods: $(tr '\n' ' ' <<<"$x")")
    x=$("${CC[@]}" ps -aq); [[ -z $x ]] || left+=("containers: $(tr '\n' ' ' <<<"$x")")
    wait_for 5 test -z "$(shim_pids)"
    x=$(shim_pids); [[ -z $x ]] || left+=("shims: $(tr '\n' ' ' <<<"$x")")
    x=$(for d in $(cg_dirs); do cat "$d/cgroup.procs"; done | sort -u); [[ -z $x ]] || left+=("container processes: $(tr '\n' ' ' <<<"$x")")
    x=$(cg_dirs); [[ -z $x ]] || left+=("cgroups: $(tr '\n' ' ' <<<"$x")")
    x=$(comm -13 <(sort <<<"$MOUNTS_BASE") <(mounts_under "$WORK" | sort)); [[ -z $x ]] || left+=("mounts: $(tr '\n' ' ' <<<"$x")")
    # shellcheck disable=SC2010 # IPAM's file names are IP addresses; the listing is only printed
    x=$(ls "$IPAM/$NET" 2>/dev/null | grep -v '^lock$\|^last_reserved_ip'); [[ -z $x ]] || left+=("IPs allocated: $(tr '\n' ' ' <<<"$x")")
    x=$(nsenter --net="$NETNS" ip -o link show type veth | awk -F': ' '{ print $2 }'); [[ -z $x ]] || left+=("veths: $(tr '\n' ' ' <<<"$x")")
    x=$(grep -rls -- "$NET" /var/lib/cni/results 2>/dev/null); [[ -z $x ]] || left+=("CNI cache: $(tr '\n' ' ' <<<"$x")")
    # shellcheck disable=SC2010 # ls over several dirs, headers dropped: container ids, only printed
    x=$(ls "$WORK"/runtime-root-*/k8s.io 2>/dev/null | grep -v ':$' | grep .); [[ -z $x ]] || left+=("runtime state: $(tr '\n' ' ' <<<"$x")")
    if ((${#left[@]})); then printf '%s\n' "${left[@]}"; echo "detail: left behind: ${left[*]}"; return 1; fi
    echo "detail: nothing left (pods, containers, shims, processes, cgroups, mounts, IPs, veths, CNI cache, runtime state)"
}

# -- MODE=bench: a pod with one container up (runp + create + start) and down (stopp + rmp),
#    the handlers taking turns run by run; BENCH_N runs each after one warm-up run ----------
if [[ ${MODE:-check} == bench ]]; then
    declare -A up=() down=() cpu=()
    cpu_ns() { cat "$CPU_CG/cpuacct.usage"; }
    PODNAME=bench
    pod_json bench >/dev/null
    ctr_json bench-c '["sleep", "300"]' >/dev/null
    for i in $(seq 0 "${BENCH_N:-20}"); do
        for lr in $HANDLERS; do
            h=${lr%%=*}
            [[ " ${up[$h]:-}" == *" FAIL "* ]] && continue     # failed once: not again (timeouts)
            sed -i "s/\"uid\": \"[^\"]*\"/\"uid\": \"bench-$h-$i\"/" "$WORK/bench-pod.json"
            c0=$(cpu_ns); t0=${EPOCHREALTIME/[.,]/}
            p=$(timeout -k 5 "$T_SHORT" "${CC[@]}" runp --runtime "$h" "$WORK/bench-pod.json" 2>>"$LOGDIR/$SUITE-bench.log") &&
                c=$(timeout -k 5 "$T_SHORT" "${CC[@]}" create "$p" "$WORK/bench-c-ctr.json" "$WORK/bench-pod.json" 2>>"$LOGDIR/$SUITE-bench.log") &&
                timeout -k 5 "$T_SHORT" "${CC[@]}" start "$c" >/dev/null 2>>"$LOGDIR/$SUITE-bench.log"
            rc=$?
            t1=${EPOCHREALTIME/[.,]/}
            [[ -n ${p:-} ]] && timeout -k 5 "$T_SHORT" "${CC[@]}" stopp "$p" >/dev/null 2>>"$LOGDIR/$SUITE-bench.log" &&
                timeout -k 5 "$T_SHORT" "${CC[@]}" rmp "$p" >/dev/null 2>>"$LOGDIR/$SUITE-bench.log" || rc=1
            t2=${EPOCHREALTIME/[.,]/}; c2=$(cpu_ns)
            p=
            ((i == 0 && rc == 0)) && continue
            if ((rc == 0)); then up[$h]+="$(((t1 - t0) / 1000)) "; down[$h]+="$(((t2 - t1) / 1000)) "; cpu[$h]+="$(((c2 - c0) / 1000000)) "
            else up[$h]+="FAIL "; down[$h]+="FAIL "; cpu[$h]+="FAIL "; fi
        done
    done
    for lr in $HANDLERS; do
        h=${lr%%=*}
        echo "  bench $h runp+create+start (ms): ${up[$h]}"
        echo "  bench $h stopp+rmp (ms): ${down[$h]}"
        echo "  bench $h pod cycle CPU, containerd's tree (ms): ${cpu[$h]}"
        for k in up down cpu; do
            case $k in
                up) name="crictl runp+create+start" vals=${up[$h]} ;;
                down) name="crictl stopp+rmp" vals=${down[$h]} ;;
                cpu) name="crictl pod cycle CPU" vals=${cpu[$h]} ;;
            esac
            if [[ " $vals" == *" FAIL "* ]]; then med=FAIL; else med=$(tr ' ' '\n' <<<"$vals" | grep . | median); fi
            printf '%s\t%s\tBENCH\t%s\n' "$SUITE" "$name" "$med" >>"${BENCH_PREFIX:?}$h.tsv"
        done
    done
    clean_state >>"$LOGDIR/$SUITE-bench.log" || echo "cri-test: the bench left state behind (see $LOGDIR/$SUITE-bench.log)" >&2
    exit 0
fi

# -- a pod's life: runp, create, start, ps, exec, logs, stats, inspect, limits, shared namespaces,
#    stop, rm, stopp, rmp ------------------------------------------------------------------------
# each check runs in a subshell: the ids live in files
PODNAME=life
mkdir -p "$WORK/ids"
save() { echo "$2" >"$WORK/ids/$1"; }
load() { P1=$(cat "$WORK/ids/P1" 2>/dev/null); C1=$(cat "$WORK/ids/C1" 2>/dev/null); C2=$(cat "$WORK/ids/C2" 2>/dev/null); }
t_runp() {
    local P1; P1=$(cri runp --runtime "$LABEL" "$(pod_json life)") || return 1
    save P1 "$P1"; echo "pod $P1"
    local st handler ip; st=$(inspectp_field "$P1" .status.state); handler=$(inspectp_field "$P1" .info.runtimeHandler)
    ip=$(inspectp_field "$P1" .status.network.ip)
    expect_eq "state/handler/IP from the pod network" "SANDBOX_READY/$LABEL/10.88.77.x" "$st/$handler/${ip%.*}.x"
}
t_create() {
    load; [[ -n $P1 ]] || { echo "detail: no pod"; return 1; }
    # 64 MiB, 20 ms per 100 ms, 512 shares: the CRI's LinuxContainerResources
    C1=$(cri create "$P1" "$(ctr_json c1 '["sh", "-c", "trap \"exit 0\" TERM; echo started; while :; do sleep 0.2; done"]' \
        '"linux": {"resources": {"memory_limit_in_bytes": 67108864, "cpu_period": 100000, "cpu_quota": 20000, "cpu_shares": 512},
                   "security_context": {"namespace_options": {"pid": 1}}}')" "$WORK/life-pod.json") || return 1
    save C1 "$C1"
    expect_eq state CONTAINER_CREATED "$(state "$C1")"
}
t_start() {
    load
    cri start "$C1" || return 1
    expect_eq state CONTAINER_RUNNING "$(state "$C1")"
}
t_ps() {
    load
    local out; cap out cri ps --pod "$P1" -o json || return 1
    expect_eq "crictl ps: name/state" "c1/CONTAINER_RUNNING" "$(jq -r '.containers[] | "\(.metadata.name)/\(.state)"' <<<"$out")"
}
t_exec_sync() {
    load
    # crictl 1.26 exits 1 for any non-zero exit code and names the code in its message
    local out rc=0 out3; exec_out out "$C1" sh -c 'echo hi-exec' || rc=$?
    exec_out out3 "$C1" sh -c 'exit 3'
    expect_eq "output/exit, exit of sh -c 'exit 3'" "hi-exec/0, exited with 3" "$(tail -n 1 <<<"$out")/$rc, $(grep -ao 'exited with [0-9]*' <<<"$out3")"
}
t_exec_tty() {
    load
    local out rc=0
    # the CRI's streaming server listens on 127.0.0.1 of containerd's network namespace
    out=$(printf 'typed\n' | timeout -k 5 "$T_SHORT" script -qec \
        "nsenter --net=$NETNS ${CC[*]} exec -it $C1 sh -c 'tty; read x; echo got=\$x'" /dev/null) || rc=$?
    out=$(tr -d '\r' <<<"$out"); echo "$out"
    expect_eq "tty/stdin/exit" "/dev/pts/0/got=typed/0" "$(grep -ao '^/dev/[a-z0-9/]*' <<<"$out" | head -n 1)/$(grep -ao 'got=.*' <<<"$out" | tail -n 1)/$rc"
}
t_logs() {
    load
    local out; cap out cri logs "$C1" || return 1
    expect_eq logs started "$out"
}
t_stats() {
    load
    local out; cap out cri stats -o json "$C1" || return 1
    local mem cpu; mem=$(jq -r '.stats[0].memory.workingSetBytes.value // 0' <<<"$out"); cpu=$(jq -r '.stats[0].cpu.usageCoreNanoSeconds.value // 0' <<<"$out")
    expect_eq "working set and CPU time are non-zero" "yes/yes" "$( ((mem > 0)) && echo yes || echo "no ($mem)")/$( ((cpu > 0)) && echo yes || echo "no ($cpu)")"
}
t_inspect() {
    load
    local out; cap out cri inspect "$C1" >/dev/null || return 1
    local pid bin; pid=$(jq -r .info.pid <<<"$out"); bin=$(jq -r .info.runtimeOptions.binary_name <<<"$out")
    expect_eq "state/pid alive/runtime binary" "CONTAINER_RUNNING/yes/$RUNTIME" \
        "$(jq -r .status.state <<<"$out")/$( [[ $pid -gt 0 ]] && kill -0 "$pid" 2>/dev/null && echo yes || echo "no ($pid)")/$bin"
}
t_limits() {
    # the container config's resources, read from the container's own cgroup inside it; then
    # past the memory limit: a 96 MiB dd buffer in an exec is killed
    load
    local out rc; exec_out out "$C1" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares' || return 1
    # shellcheck disable=SC2034 # dd is assigned by name (exec_out VAR) and not needed: only rc is
    local dd; rc=0; exec_out dd "$C1" dd if=/dev/zero of=/dev/null bs=96M count=1 || rc=$?
    expect_eq "memory.limit quota period shares, dd 96M" "67108864 20000 100000 512, killed" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//'), $( ((rc != 0)) && echo killed || echo "exit 0")"
}
t_shared_ns() {
    # a second container joins the pause container's network, IPC and UTS namespaces by path;
    # its PID namespace is its own (pid: CONTAINER)
    load
    C2=$(run_ctr "$P1" c2 '["sleep", "300"]'); local rc=$?; save C2 "$C2"; ((rc == 0)) || return 1
    local spid spec; spid=$(inspectp_field "$P1" .info.pid)
    spec=$(inspect_field "$C2" '[.info.runtimeSpec.linux.namespaces[] | select(.path) | .type] | sort | join(",")')
    local out; exec_out out "$C2" sh -c 'for n in net ipc uts pid; do readlink /proc/self/ns/$n | tr -dc 0-9; echo -n " "; done; echo; hostname; tr "\0" " " </proc/1/cmdline' || return 1
    local want; want="$(ns_inode "$spid" net) $(ns_inode "$spid" ipc) $(ns_inode "$spid" uts) "
    local got; got=$(head -n 1 <<<"$out")
    local pidns three; pidns=$(awk '{ print $4 }' <<<"$got"); three="$(cut -d' ' -f1-3 <<<"$got") "
    expect_eq "joined by path / net ipc uts same as pause / pid not / hostname / pid 1" \
        "ipc,network,uts/same/own/life-host/sleep 300" \
        "$spec/$( [[ $three == "$want" ]] && echo same || echo "differ ($got vs $want)")/$( [[ $pidns != "$(ns_inode "$spid" pid)" ]] && echo own || echo shared)/$(sed -n 2p <<<"$out")/$(sed -n 3p <<<"$out" | sed 's/ $//')"
}
t_stop() {
    load
    local t0=$SECONDS
    cri stop -t 20 "$C1" || return 1
    ((SECONDS - t0 < 10)) || { echo "detail: stop took $((SECONDS - t0)) s: SIGTERM was not delivered"; return 1; }
    expect_eq "state/exit code" "CONTAINER_EXITED/0" "$(state "$C1")/$(inspect_field "$C1" .status.exitCode)"
}
t_rm() {
    load
    cri stop -t 0 "$C2" >/dev/null
    cri rm "$C1" "$C2" || return 1
    local x; x=$("${CC[@]}" ps -aq --pod "$P1")
    [[ -z $x ]] || { echo "detail: still listed: $x"; return 1; }
    # shellcheck disable=SC2010 # container ids only; the listing is only printed
    x=$(ls "$WORK/runtime-root-$LABEL/k8s.io" 2>/dev/null | grep -v "^$P1") && [[ -n $x ]] && { echo "detail: runtime state left: $x"; return 1; }
    echo "detail: removed, no runtime state left but the pod's"
}
t_stopp() {
    load
    local ip; ip=$(inspectp_field "$P1" .status.network.ip)
    cri stopp "$P1" || return 1
    local st; st=$(inspectp_field "$P1" .status.state)
    local alloc=released; [[ -e $IPAM/$NET/$ip ]] && alloc="still allocated"
    expect_eq "state/IP $ip" "SANDBOX_NOTREADY/released" "$st/$alloc"
}
t_rmp() {
    load
    cri rmp "$P1" || return 1
    save P1 ""
    clean_state
}
check runp             t_runp
check create           t_create
check start            t_start
check ps               t_ps
check exec-sync        t_exec_sync
check exec-tty         t_exec_tty
check logs             t_logs
check stats            t_stats
check inspect          t_inspect
check cgroup-limits    t_limits
check pod-shared-ns    t_shared_ns
check stop             t_stop
check rm               t_rm
check stopp            t_stopp
check rmp-nothing-left t_rmp
load
[[ -n $P1 ]] && { "${CC[@]}" stopp "$P1" >/dev/null 2>&1; "${CC[@]}" rmp -f "$P1" >/dev/null 2>&1; }

# -- one pod, containers with their own security context, each run to its end ----------------
PODNAME=sec
# privileged: the rshared check's container mounts inside (a pod must allow privileged containers)
P2=$(cri runp --runtime "$LABEL" "$(pod_json sec '"namespace_options": {"network": 0, "pid": 1, "ipc": 0}, "privileged": true')" 2>>"$LOGDIR/$SUITE-sec-pod.log")
# one_shot VAR NAME COMMAND-JSON [EXTRA-JSON]: runs a container to its end; its log into VAR
# (and the check's log), its exit code into $EXIT, its reason into $REASON; removes it
EXIT='' REASON=''
one_shot() {
    local __v=$1 id; shift
    id=$(run_ctr "$P2" "$@") || { [[ -n $id ]] && cri rm -f "$id" >/dev/null; return 1; }
    # what the container printed is the effect under test; that the CRI sees its end in time
    # is exits-by-itself's business, so a late exit is only noted here
    wait_exited "$id" 5 || echo "note: not reported exited 5 s after the start"
    EXIT=$(inspect_field "$id" .status.exitCode); REASON=$(inspect_field "$id" .status.reason)
    cap "$__v" "${CC[@]}" logs "$id"
    cri rm -f "$id" >/dev/null
    return 0
}
sc() { echo "\"linux\": {\"security_context\": {\"namespace_options\": {\"pid\": 1}, $1}}"; }
t_exits_itself() {
    [[ -n $P2 ]] || { echo "detail: no pod"; return 1; }
    # polled from the moment `crictl start` returns; each poll is one `crictl inspect`
    local id t0 st ms; id=$(run_ctr "$P2" exit7 '["sh", "-c", "exit 7"]') || return 1
    t0=${EPOCHREALTIME/[.,]/}
    while :; do
        st=$(state "$id"); ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
        echo "$ms ms: $st"
        [[ $st == CONTAINER_EXITED ]] || ((ms > 2000)) && break
        sleep 0.05
    done
    local code; code=$(inspect_field "$id" .status.exitCode)
    cri rm "$id" >/dev/null
    expect_eq "state/exit code within 2 s (${ms} ms)" "CONTAINER_EXITED/7" "$st/$code"
}
t_oom() {
    local out; one_shot out oom '["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]' \
        '"linux": {"resources": {"memory_limit_in_bytes": 33554432}, "security_context": {"namespace_options": {"pid": 1}}}' || return 1
    expect_eq "exit code/reason" "137/OOMKilled" "$EXIT/$REASON"
}
t_readonly() {
    local out; one_shot out ro '["sh", "-c", "touch /x; touch /dev/shm/y && echo shm-ok; grep NoNewPrivs /proc/self/status"]' "$(sc '"readonly_rootfs": true')" || return 1
    expect_eq "touch /x, /dev/shm, NoNewPrivs by default" "read-only/shm-ok/0" \
        "$(grep -aqi 'read-only file system' <<<"$out" && echo read-only || echo writable)/$(grep -ax shm-ok <<<"$out")/$(awk '/NoNewPrivs/ { print $2 }' <<<"$out")"
}
t_user_group() {
    local out; one_shot out user '["sh", "-c", "echo $(id -u):$(id -g); touch /root/x"]' "$(sc '"run_as_user": {"value": 1000}, "run_as_group": {"value": 1000}')" || return 1
    expect_eq "uid:gid, write to /root" "1000:1000/denied" "$(grep -ax '[0-9]*:[0-9]*' <<<"$out")/$(grep -aqi 'permission denied' <<<"$out" && echo denied || echo allowed)"
}
t_nnp() {
    local out; one_shot out nnp '["grep", "NoNewPrivs", "/proc/self/status"]' "$(sc '"no_new_privs": true')" || return 1
    expect_eq NoNewPrivs 1 "$(awk '{ print $2 }' <<<"$out")"
}
# seccomp: containerd's default profile allows unshare(2) only with CAP_SYS_ADMIN
SECCOMP_CMD='["sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true && echo unshare-ok"]'
t_seccomp_default() {
    local out; one_shot out sdef "$SECCOMP_CMD" "$(sc '"seccomp": {"profile_type": 0}')" || return 1
    expect_eq "Seccomp mode/unshare -U" "2/denied" "$(awk '/Seccomp:/ { print $2 }' <<<"$out")/$(grep -aqx unshare-ok <<<"$out" && echo allowed || echo denied)"
}
t_seccomp_unconfined() {
    local out; one_shot out sunc "$SECCOMP_CMD" "$(sc '"seccomp": {"profile_type": 1}')" || return 1
    expect_eq "Seccomp mode/unshare -U" "0/allowed" "$(awk '/Seccomp:/ { print $2 }' <<<"$out")/$(grep -aqx unshare-ok <<<"$out" && echo allowed || echo denied)"
}
t_mount_propagation() {
    # PRIVATE and HOST_TO_CONTAINER (rslave) mounts of a shared host directory: a mount made on
    # the host after the start reaches the rslave one, not the private one
    mkdir -p "$PROP/priv/sub" "$PROP/slave/sub"
    local m='"mounts": [{"container_path": "/m/priv", "host_path": "'$PROP/priv'", "propagation": 0},
        {"container_path": "/m/slave", "host_path": "'$PROP/slave'", "propagation": 1}]'
    local id; id=$(run_ctr "$P2" prop '["sleep", "300"]' "$m") || { [[ -n $id ]] && cri rm -f "$id" >/dev/null; return 1; }
    local d; for d in priv slave; do mount -t tmpfs "host-$d" "$PROP/$d/sub"; done
    local inside; exec_out inside "$id" sh -c 'for d in priv slave; do grep -q " /m/$d/sub " /proc/self/mountinfo && echo -n "$d:seen " || echo -n "$d:unseen "; done'
    cri rm -f "$id" >/dev/null
    for d in priv slave; do umount "$PROP/$d/sub"; done
    expect_eq "host mounts seen inside" "priv:unseen slave:seen" "$(sed 's/ $//' <<<"$inside")"
}
t_mount_rshared() {
    # BIDIRECTIONAL (rshared, so the rootfs is rshared too): a mount made on the host reaches
    # the container and a mount made inside reaches the host (privileged: it mounts)
    mkdir -p "$PROP/shared/sub" "$PROP/shared/fromctr"
    local m='"mounts": [{"container_path": "/m/shared", "host_path": "'$PROP/shared'", "propagation": 2}]'
    local id; id=$(run_ctr "$P2" rshared '["sh", "-c", "mount -t tmpfs ctr /m/shared/fromctr && echo mounted; sleep 300"]' \
        "$m, $(sc '"privileged": true')") || { [[ -n $id ]] && cri rm -f "$id" >/dev/null; return 1; }
    mount -t tmpfs host-shared "$PROP/shared/sub"
    wait_for 5 mountpoint -q "$PROP/shared/fromctr"
    local host=unseen; mountpoint -q "$PROP/shared/fromctr" && host=seen
    local inside; exec_out inside "$id" sh -c 'grep -q " /m/shared/sub " /proc/self/mountinfo && echo seen || echo unseen'
    "${CC[@]}" logs "$id" 2>&1
    cri rm -f "$id" >/dev/null
    umount "$PROP/shared/sub"; umount "$PROP/shared/fromctr" 2>/dev/null
    expect_eq "host mount seen inside; container mount seen on the host" "seen; seen" "$inside; $host"
}
t_sec_teardown() { [[ -n $P2 ]] || { echo "detail: no pod"; return 1; }; teardown_pod "$P2"; }
check exits-by-itself     t_exits_itself
check oom-killed          t_oom
check readonly-rootfs     t_readonly
check run-as-user-group   t_user_group
check no-new-privs        t_nnp
check seccomp-default     t_seccomp_default
check seccomp-unconfined  t_seccomp_unconfined
check mount-private-rslave t_mount_propagation
check mount-rshared       t_mount_rshared
check sec-pod-nothing-left t_sec_teardown

# -- share_process_namespace: the containers see the pause process as pid 1 ------------------
t_shared_pid() {
    PODNAME=spid
    local p id; p=$(cri runp --runtime "$LABEL" "$(pod_json spid '"namespace_options": {"network": 0, "pid": 0, "ipc": 0}')") || return 1
    id=$(run_ctr "$p" c '["sleep", "300"]' '"linux": {"security_context": {"namespace_options": {"pid": 0}}}') || { teardown_pod "$p"; return 1; }
    local spid; spid=$(inspectp_field "$p" .info.pid)
    local out; exec_out out "$id" sh -c 'tr "\0" " " </proc/1/cmdline; echo; readlink /proc/self/ns/pid | tr -dc 0-9'
    local r; r=$(expect_eq "pid 1 inside/pid namespace" "/pause/pause's" "$(head -n 1 <<<"$out" | sed 's/ $//')/$( [[ $(tail -n 1 <<<"$out") == "$(ns_inode "$spid" pid)" ]] && echo "pause's" || echo other)")
    local ok=$?; echo "$r"
    cri stop -t 0 "$id" >/dev/null; cri rm "$id" >/dev/null
    teardown_pod "$p" || return 1
    echo "$r"; return $ok
}
# -- privileged container with the host's network, PID and IPC namespaces --------------------
t_host_ns_privileged() {
    PODNAME=host
    local p id; p=$(cri runp --runtime "$LABEL" "$(pod_json host '"namespace_options": {"network": 2, "pid": 2, "ipc": 2}, "privileged": true')") || return 1
    id=$(run_ctr "$p" c '["sleep", "300"]' '"linux": {"security_context": {"namespace_options": {"network": 2, "pid": 2, "ipc": 2}, "privileged": true}}') || { teardown_pod "$p"; return 1; }
    local out; exec_out out "$id" sh -c 'for n in net pid ipc; do readlink /proc/self/ns/$n | tr -dc 0-9; echo -n " "; done; echo; grep CapEff /proc/self/status; ls /dev | wc -l'
    local want; want="$(stat -L -c %i "$NETNS") $(ns_inode self pid) $(ns_inode self ipc) "
    local capeff want_cap ndev; capeff=$(awk '/CapEff/ { print $2 }' <<<"$out"); want_cap=$(awk '/CapEff/ { print $2 }' "/proc/$CPID/status")
    ndev=$(tail -n 1 <<<"$out")
    local r; r=$(expect_eq "net pid ipc of the host (containerd's netns)/CapEff as containerd's/host devices" "same/$want_cap/yes" \
        "$( [[ $(head -n 1 <<<"$out") == "$want" ]] && echo same || echo "differ ($(head -n 1 <<<"$out")vs $want)")/$capeff/$( ((ndev > 20)) && echo yes || echo "no ($ndev in /dev)")")
    local ok=$?; echo "$r"
    cri stop -t 0 "$id" >/dev/null; cri rm "$id" >/dev/null
    teardown_pod "$p" || return 1
    echo "$r"; return $ok
}
check pod-shared-pid      t_shared_pid
check host-ns-privileged  t_host_ns_privileged
check nothing-left        clean_state
exit 0
