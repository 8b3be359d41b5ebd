# shellcheck shell=bash
# Shared helpers for the bench scripts (sourced, not run).
# Requires: bash >= 5 (EPOCHREALTIME), awk, sort, jq.
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # craterun run defaults to a bridge: not in this machine's own network namespace

export LC_ALL=C   # EPOCHREALTIME with a '.' and awk with '.' decimals

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd -P)
CRATERUN=${CRATERUN:-$REPO_DIR/out/craterun}
CRATERUN_OCI=${CRATERUN_OCI:-$REPO_DIR/out/craterun-oci}
RUNC=${RUNC:-runc}

die() { echo "error: $*" >&2; exit 1; }

need_root_tools() {
    [[ ${EUID} -eq 0 ]] || die "run as root (the runtimes need it)"
    ((BASH_VERSINFO[0] >= 5)) || die "bash >= 5 needed (EPOCHREALTIME)"
    command -v "$RUNC" >/dev/null || die "runc not found (apt-get install runc)"
    command -v jq >/dev/null || die "jq not found (apt-get install jq)"
}

parse_n() {   # parse_n "${1:-}" DEFAULT -> sets N
    N=${1:-$2}
    if ! [[ $N =~ ^[0-9]+$ ]] || ((N == 0)); then die "N must be a positive integer (got '$N')"; fi
    if ((N < 20)); then
        echo "warning: N=$N < 20: too few runs for a meaningful median/p90" >&2
    fi
}

# make_workdir NAME: the run's temp dir and the paths in it every script uses (WORK, BUNDLE,
# CR_STATE, RUNC_ROOT, OUT_FILE, ERR_FILE) and a cgroup name unique to it (CGNAME, bench-NAME-*).
# shellcheck disable=SC2034  # read by the scripts and by timed
make_workdir() {
    WORK=$(mktemp -d "/tmp/craterun-$1bench.XXXXXX")
    BUNDLE=$WORK/bundle
    CR_STATE=$WORK/craterun-state
    RUNC_ROOT=$WORK/runc-root
    OUT_FILE=$WORK/cmd.out
    ERR_FILE=$WORK/cmd.err
    CGNAME=bench-$1-$(basename "$WORK" | cut -d. -f2)
}

# The memory cgroup the machine bounds us with, e.g. /process_api/<id>
own_memory_cgroup() { awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup; }

# Wall time in integer microseconds (no fork: EPOCHREALTIME is a bash variable).
now_us() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }

# --- CPU time of everything a command starts, orphans included ---------------------------
# cpu_acct_enter: moves this shell into a new cgroup of the v1 cpuacct controller, below its
# own. Every process started from here on is charged there - the runtime, its monitor, runc's
# `runc init`, the container (runtimes put a relative cgroupsPath below their own cgroup, and
# cpuacct charges every ancestor), even once orphaned and reaped elsewhere, which wait4's
# rusage misses. Only cpuacct moves; the memory cgroup stays as it is (this-machine.md).
# Without v1 cpuacct (cgroup v2: a cgroup holding this shell could not enable controllers for
# the runtimes' children) CPU_ACCT stays empty and CPU columns print n/a, with the reason in
# CPU_ACCT_WHY.
# shellcheck disable=SC2034  # CPU_ACCT_WHY is printed by the scripts
CPU_ACCT="" CPU_ACCT_PARENT="" CPU_ACCT_WHY="" SETTLE_FIFO=""
cpu_acct_enter() {
    local base=/sys/fs/cgroup/cpuacct own
    # shellcheck disable=SC2034
    if [[ ! -f $base/cpuacct.usage ]]; then CPU_ACCT_WHY="no cgroup v1 cpuacct controller"; return 0; fi
    own=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ { print $3 }' /proc/self/cgroup)
    CPU_ACCT_PARENT=$base${own%/}
    CPU_ACCT=$CPU_ACCT_PARENT/craterun-bench-acct-$$
    mkdir "$CPU_ACCT"
    echo $$ >"$CPU_ACCT/cgroup.procs"
    SETTLE_FIFO=$WORK/settle.fifo
    mkfifo "$SETTLE_FIFO"
}

# cpu_acct_leave: back to the parent cgroup; removes the accounting cgroup (children first).
cpu_acct_leave() {
    [[ -n $CPU_ACCT && -d $CPU_ACCT ]] || return 0
    echo $$ >"$CPU_ACCT_PARENT/cgroup.procs" 2>/dev/null
    local c
    while read -r c; do
        echo "cleanup: leftover cgroup $c" >&2
        rmdir "$c" 2>/dev/null || echo "cleanup: could not rmdir $c" >&2
    done < <(find "$CPU_ACCT" -mindepth 1 -depth -type d 2>/dev/null)
    rmdir "$CPU_ACCT" 2>/dev/null || echo "cleanup: could not rmdir $CPU_ACCT (still has tasks?)" >&2
}

# settle: waits (up to 2 s, no fork) until no process but this shell is left in the accounting
# cgroup, so that work finishing after a command returned (a monitor's exit) is charged to it.
settle() {
    [[ -n $CPU_ACCT ]] || return 0
    local deadline=$((${EPOCHREALTIME/[.,]/} + 2000000)) p others
    while :; do
        others=0
        while read -r p; do [[ $p == "$$" ]] || others=1; done <"$CPU_ACCT/cgroup.procs"
        ((others)) || return 0
        ((${EPOCHREALTIME/[.,]/} < deadline)) || return 0
        read -rt 0.001 <>"$SETTLE_FIFO" || true   # a 1 ms pause without forking sleep
    done
}

# CPU hogs: N busy loops, kept out of the accounting cgroup, stopped by PID.
HOG_PIDS=()
start_hogs() {   # start_hogs N
    local i pid
    for ((i = 0; i < $1; i++)); do
        sh -c 'while :; do :; done' &
        pid=$!
        HOG_PIDS+=("$pid")
        [[ -z $CPU_ACCT_PARENT ]] || echo "$pid" >"$CPU_ACCT_PARENT/cgroup.procs"
    done
}
stop_hogs() {
    local pid
    for pid in "${HOG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
    HOG_PIDS=()
    return 0
}

# timed CMD...: runs CMD with stdout/stderr captured in $OUT_FILE/$ERR_FILE, sets LAST_US
# (wall, until CMD returns) and LAST_CPU_US (user+sys of everything it started, charged until
# it returned; with SETTLE=1 also what its leftovers did until they exited; empty without
# accounting). The figure includes this shell's fork+exec of CMD (the same for every runtime).
# A failing CMD is fatal: prints the exact command, its exit code and output, then exits 1
# (the EXIT trap cleans up).
timed() {
    local t0 t1 rc=0 c0="" c1=""
    [[ -z $CPU_ACCT ]] || read -r c0 <"$CPU_ACCT/cpuacct.usage"
    t0=${EPOCHREALTIME/[.,]/}
    "$@" >"$OUT_FILE" 2>"$ERR_FILE" </dev/null || rc=$?
    t1=${EPOCHREALTIME/[.,]/}
    if [[ -n $CPU_ACCT ]]; then
        [[ ${SETTLE:-0} != 1 ]] || settle
        read -r c1 <"$CPU_ACCT/cpuacct.usage"
    fi
    # shellcheck disable=SC2034  # read by the scripts
    LAST_US=$((t1 - t0))
    # shellcheck disable=SC2034
    LAST_CPU_US=${c0:+$(((c1 - c0) / 1000))}
    if ((rc != 0)); then
        report_failure "$rc" "$@"
        exit 1
    fi
}

report_failure() {   # report_failure RC CMD...
    local rc=$1; shift
    {
        echo "FAILED (exit $rc): $(printf '%q ' "$@")"
        if [[ -n ${CRATERUN_SRC:-} && "$*" == *"$WORK/bin/"* ]]; then
            echo "    ($WORK/bin/craterun is a copy of $CRATERUN_SRC${CRATERUN_OCI_SRC:+; craterun-oci of $CRATERUN_OCI_SRC})"
        fi
        if [[ -s $OUT_FILE ]]; then echo "--- stdout:"; cat "$OUT_FILE"; fi
        if [[ -s $ERR_FILE ]]; then echo "--- stderr:"; cat "$ERR_FILE"; fi
    } >&2
}

# stats US... -> "median p90 min max" in milliseconds (p90: nearest rank, ceil(0.9 n)).
stats() {
    printf '%s\n' "$@" | sort -n | awk '
        { a[NR] = $1 }
        END {
            n = NR
            med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            r = int(0.9 * n); if (r < 0.9 * n) r++
            printf "%.2f %.2f %.2f %.2f\n", med / 1000, a[r] / 1000, a[1] / 1000, a[n] / 1000
        }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# snapshot_binaries DIR: copies craterun (and craterun-oci, as a symlink to the copy when
# it is the same file, like out/) into DIR/bin and points CRATERUN/CRATERUN_OCI there, so
# that a concurrent `dotnet publish -o out` cannot swap the binary in the middle of a run.
# The originals are kept in CRATERUN_SRC/CRATERUN_OCI_SRC for the header.
snapshot_binaries() {
    local bin=$1/bin
    mkdir -p "$bin"
    CRATERUN_SRC=$CRATERUN CRATERUN_OCI_SRC=$CRATERUN_OCI
    if [[ -x $CRATERUN ]]; then
        cp -L "$CRATERUN" "$bin/craterun"
        CRATERUN=$bin/craterun
    fi
    if [[ -x $CRATERUN_OCI ]]; then
        if [[ -x $CRATERUN_SRC && $(readlink -f "$CRATERUN_OCI") == "$(readlink -f "$CRATERUN_SRC")" ]]; then
            ln -s craterun "$bin/craterun-oci"
        else
            cp -L "$CRATERUN_OCI" "$bin/craterun-oci"
        fi
        CRATERUN_OCI=$bin/craterun-oci
    fi
}

print_header() {   # print_header TITLE
    local rev dirty=""
    rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "?")
    git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || dirty=", uncommitted changes in the tree"
    echo "== $1"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')   host: $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    local src=${CRATERUN_SRC:-$CRATERUN}
    if [[ -e $src ]]; then
        echo "craterun: $src (tree $rev$dirty; binary built $(date -u -r "$src" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$CRATERUN" | cut -c1-12); run from a copy in the temp dir)"
    else
        echo "craterun: $src (not found)"
    fi
    echo "runc:     $("$RUNC" --version | head -1)"
}

# Mounts (mount points) at or below DIR in our mount namespace.
mounts_below() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# Unmounts anything left below DIR (deepest first), then removes DIR without crossing
# file systems. Reports what it had to unmount.
remove_tree() {
    local d=$1 m
    [[ -n $d && -d $d ]] || return 0
    while read -r m; do
        [[ -n $m ]] || continue
        echo "cleanup: unmounting leaked mount $m" >&2
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done < <(mounts_below "$d" | sort -r)
    rm -rf --one-file-system "$d"
}

# Removes cgroup NAME (relative, as a runtime resolves it) in every v1 controller, both
# at the controller root and below our own memory cgroup, if it is still there. rmdir only
# ever removes an empty cgroup. Reports each leftover found.
remove_cgroup_leftovers() {
    local name=$1 own base c
    own=$(own_memory_cgroup)
    for base in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/memory"$own"/"$name"; do
        [[ -d $base ]] || continue
        echo "cleanup: leftover cgroup $base" >&2
        # children first
        while read -r c; do rmdir "$c" 2>/dev/null || echo "cleanup: could not rmdir $c" >&2; done \
            < <(find "$base" -mindepth 1 -depth -type d 2>/dev/null)
        rmdir "$base" 2>/dev/null || echo "cleanup: could not rmdir $base (still has tasks?)" >&2
    done
    return 0
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z ]]
}

# wait_pid_gone PID TIMEOUT_S: polls every 10 ms; returns 1 if still alive at the deadline.
wait_pid_gone() {
    local pid=$1 deadline=$(($(now_us) + $2 * 1000000))
    while pid_alive "$pid"; do
        (($(now_us) < deadline)) || return 1
        sleep 0.01
    done
    return 0
}

# cleanup_craterun_container STATE ID: rm -f a container of the Docker-like face left
# behind, then makes sure its monitor is gone (it finishes asynchronously after rm -f
# returns; SIGKILL by PID after 5 s) and that no cgroup of it is left.
cleanup_craterun_container() {
    local state=$1 id=$2 mon err
    mon=$("$CRATERUN" --root "$state" inspect "$id" 2>/dev/null |
        jq -r '(if type == "array" then .[0] else . end).monitorPid // empty' 2>/dev/null) || mon=""
    echo "cleanup: craterun rm -f $id (monitor pid ${mon:-?})" >&2
    if ! err=$("$CRATERUN" --root "$state" rm -f "$id" 2>&1 >/dev/null); then
        if [[ $err == *"no such container"* ]]; then
            # a --rm container whose monitor removed it between `ps` and `rm -f`
            echo "cleanup: $id already removed (by its monitor)" >&2
        else
            echo "cleanup: 'craterun rm -f $id' failed: $err" >&2
        fi
    fi
    if [[ -n $mon ]] && ! wait_pid_gone "$mon" 5; then
        if tr '\0' ' ' 2>/dev/null <"/proc/$mon/cmdline" | grep -q "_monitor"; then
            echo "cleanup: monitor $mon of $id still alive 5 s after rm -f: SIGKILL" >&2
            kill -KILL "$mon" 2>/dev/null || true
        fi
    fi
    remove_cgroup_leftovers "craterun-$id"
}

# kill_leftover_processes DIR: SIGKILL, by PID, any process whose command line mentions
# DIR (our unique temp dir: a monitor or runtime started with --root DIR/...), except
# this shell. Reports each one: there should be none.
kill_leftover_processes() {
    local dir=$1 p pid cmd
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        if [[ $cmd == *"$dir"* ]]; then
            echo "cleanup: leftover process $pid ($cmd): SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# step_table LABEL LAST CMD...: N runs of CMD with CRATERUN_TIMING=1 (stdout, stderr to files), and
# the median of each step: a step's mark (wall clock, ms modulo 100 s) minus the previous one;
# "exec -> main" is from the script's clock right before the command to the first managed mark
# (the process start and the .NET runtime's), "-> LAST" from the last mark to the command's end.
step_table() {
    local label=$1 last=$2 i t0 t1 steps=$WORK/steps
    shift 2
    : >"$steps"
    for ((i = 0; i < N; i++)); do
        t0=$EPOCHREALTIME
        CRATERUN_TIMING=1 "$@" 2>"$WORK/timing.err" >/dev/null </dev/null
        t1=$EPOCHREALTIME
        awk -v t0="$t0" -v t1="$t1" -v run="$i" -v last="$last" '
            function mod100k(epoch) { return (epoch * 1000) % 100000 }
            /^\[timing / { t = $3 + 0; step = $0; sub(/^\[timing [0-9]+\] +[0-9.]+ ms  /, "", step)
                           if (!n++) { print run "\texec -> " step "\t" t - mod100k(t0) } else print run "\t" step "\t" t - prev
                           prev = t }
            END { if (n) print run "\t-> " last "\t" mod100k(t1) - prev }' "$WORK/timing.err" >>"$steps"
    done
    echo "where a $label spends its wall time (CRATERUN_TIMING=1, medians of $N runs, ms)"
    awk -F'\t' '{ if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 } v[$2, ++c[$2]] = $3 }
        END { total = 0
              for (i = 1; i <= k; i++) { s = order[i]; m = c[s]
                  # insertion sort of the m samples, then the median
                  for (a = 1; a <= m; a++) x[a] = v[s, a]
                  for (a = 2; a <= m; a++) { y = x[a]; b = a - 1; while (b > 0 && x[b] > y) { x[b + 1] = x[b]; b-- } x[b + 1] = y }
                  med = (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
                  total += med
                  printf "  %-34s %7.2f\n", s, med }
              printf "  %-34s %7.2f\n", "(sum of the medians)", total }' "$steps"
}

# The end of every script's cleanup(): leftover processes, cgroups and $WORK go, then exit.
remove_work_and_exit() {
    stop_hogs
    kill_leftover_processes "$WORK"
    cpu_acct_leave
    remove_cgroup_leftovers "$CGNAME"
    remove_tree "$WORK"
    exit "$1"
}

# cleanup() runs on every exit, Ctrl-C and SIGTERM included.
install_cleanup_traps() {
    trap cleanup EXIT
    trap 'echo "interrupted" >&2; exit 130' INT
    trap 'exit 143' TERM
}
