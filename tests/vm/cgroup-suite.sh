#!/bin/bash
# cgroup-suite.sh - what CrateRun's cgroup code promises, asserted against the kernel.
#
#   tests/vm/cgroup-suite.sh            # as root; needs out/craterun (dotnet publish ... -o out)
#   tests/vm/cgv2-vm.sh --timeout 280 -- tests/vm/cgroup-suite.sh   # the same on cgroup v2
#   tests/vm/run-v2-suite.sh            # both: in the v2 VM, then on this (v1 hybrid) host
#
# Runs on whatever host it is on and detects the layout itself, by the filesystem type of
# /sys/fs/cgroup (cgroup2fs: pure v2; tmpfs: v1 hierarchies, pure or hybrid), never by
# whether a write worked. Limits are read back from the host side (the container's cgroup
# directory as `inspect` / `state` report it) and enforced for real (an OOM kill, a failed
# fork, cpu throttling, a frozen cgroup). On v1 the v1 files stand in (memory.limit_in_bytes,
# memory.memsw.limit_in_bytes, cpu.cfs_quota_us, freezer.state); checks that only mean
# something on v2 are printed as "SKIP name: v2 only ..." there.
#
# Output: one line per check, "PASS name" or "FAIL name: details" (plus "SKIP name: why" and
# "INFO ..." lines), then "N skipped" and, last, "N passed, N failed". Exit status 0 only if
# nothing failed (2: could not start at all).
#
# Everything it makes lives in a temp directory (state roots, bundles, the rootfs) and in
# cgroups named craterun-* / craterun-suite-*: all removed at the end, also on failure or
# SIGINT/SIGTERM. Processes are stopped by PID only. Mounts are made by the runtime in the
# containers' own mount namespaces; the suite checks that none appears in its own.
#
# Environment: CRATERUN_BIN / CRATERUN_OCI_BIN (default out/craterun, out/craterun-oci; the
# suite runs private copies of them, so a rebuild of out/ during a run does not mix versions);
# CGSUITE_ROOTFS: a ready busybox rootfs to use (read only; run-v2-suite.sh passes one built
# on the host, since building it under TCG takes ~25 s); else tests/fixtures/make-rootfs.sh
# builds one, else a minimal one is made from busybox. CGSUITE_TMP: parent of the temp
# directory (default /tmp). CGSUITE_KNOWN_BUGS=1: also run the checks of known runtime bugs
# (section 8; they fail until fixed).
#
# The guest is slow (TCG: each craterun invocation ~1-2 s, each jq ~0.5 s), so the suite
# forks little: one inspect per container, bash builtins for parsing where they do.

set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CR=${CRATERUN_BIN:-$REPO/out/craterun}
OCI=${CRATERUN_OCI_BIN:-$REPO/out/craterun-oci}
CG=/sys/fs/cgroup
T0=$EPOCHREALTIME
# `craterun run` as root defaults to a CNI bridge, which would change this machine's own
# network (the v1 half runs on the host, in its root namespace): these checks need none.
export CRATERUN_NETWORK=none

die() { echo "cgroup-suite: $*" >&2; echo "0 passed, 1 failed"; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$CR" ] || die "no $CR: build it first (dotnet publish src/CrateRun.Cli -c Release -o out)"
[ -x "$OCI" ] || die "no $OCI"
command -v jq >/dev/null || die "needs jq (apt-get install -y jq)"

case "$(stat -fc %T "$CG")" in
  cgroup2fs) V2=1 ;;
  tmpfs) V2=0 ;;
  *) die "$CG is neither cgroup2 nor a tmpfs of v1 hierarchies ($(stat -fc %T "$CG"))" ;;
esac

# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { local d=${2//$'\n'/ }; echo "FAIL $1: ${d:0:700}"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
info() { echo "INFO $*"; }
# check NAME DETAILS COMMAND...: PASS if COMMAND succeeds, else FAIL with DETAILS
check() {
  local name=$1 details=$2; shift 2
  if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$details"; fi
}
all_of() { local c; for c; do eval "$c" || return 1; done; }   # every shell condition holds
v2only() { [ "$V2" = 1 ] && return 0; skip "$1" "v2 only (this host is cgroup v1)"; return 1; }
section() { info "[$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%5.1f s", b - a }')] --- $*"; }

# ---------------------------------------------------------------------------------------
# Temp directory, bookkeeping and cleanup
# ---------------------------------------------------------------------------------------
TMP=$(mktemp -d "${CGSUITE_TMP:-/tmp}/craterun-cgsuite.XXXXXX") || die "mktemp"
ST=$TMP/state        # state root of the Docker-like face
OST=$TMP/oci-state   # state root of craterun-oci
mkdir -p "$ST" "$OST" "$TMP/bin"
: > "$TMP/cgdirs"    # every container cgroup directory seen: must be gone at the end
: > "$TMP/cgparents" # parent directories the runtime created on the way (left by design)
: > "$TMP/pids"      # processes the suite found and may have to stop
# mounts that concern the suite (others may come and go: the host is shared)
our_mounts() { awk -v t="$TMP" -v c="$CG" '$5 == t || index($5, t "/") == 1 || $5 == c || index($5, c "/") == 1 {print $5}' /proc/self/mountinfo | sort; }
MOUNTS_BEFORE=$(our_mounts)

# shellcheck disable=SC2046 # unquoted on purpose: word splitting puts the pids on one line
cg_pids_of() { local d=$1; [ -r "$d/cgroup.procs" ] && echo $(< "$d/cgroup.procs"); }

cleanup() {
  local id d p
  trap - EXIT INT TERM HUP
  for d in "$ST"/*; do [ -e "$d" ] || continue; id=${d##*/}; timeout 30 "$CR" --root "$ST" rm -f "$id" >/dev/null 2>&1; done
  for d in "$OST"/*; do [ -e "$d" ] || continue; id=${d##*/}; timeout 30 "$OCI" --root "$OST" delete --force "$id" >/dev/null 2>&1; done
  for p in $(cat "$TMP/pids"); do kill -9 "$p" 2>/dev/null; done
  # whatever the runtime left: its processes (by pid), then the directories, deepest first
  for d in $(sort -u "$TMP/cgdirs" "$TMP/cgparents" | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2-); do
    [ -d "$d" ] || continue
    for _ in 1 2 3 4 5; do
      [ -e "$d/cgroup.kill" ] && echo 1 > "$d/cgroup.kill" 2>/dev/null
      for p in $(cg_pids_of "$d"); do kill -9 "$p" 2>/dev/null; done
      rmdir "$d" 2>/dev/null && break
      sleep 0.2
    done
    [ -d "$d" ] && echo "cgroup-suite: could not remove $d" >&2
  done
  if awk '{print $5}' /proc/self/mountinfo | grep -q "^$TMP"; then
    echo "cgroup-suite: mounts left below $TMP, not removing it" >&2
  else
    rm -rf --one-file-system "$TMP"
  fi
}
trap cleanup EXIT
trap 'echo "cgroup-suite: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# Run a private copy of the binaries: others may rebuild out/ during the run (and in the VM an
# exec from the guest's tmpfs is faster than over 9p). craterun-oci is craterun by another name.
cp "$CR" "$TMP/bin/craterun" || die "cannot copy $CR"
if [ "$(readlink -f "$OCI")" = "$(readlink -f "$CR")" ]; then ln -s craterun "$TMP/bin/craterun-oci"
else cp "$OCI" "$TMP/bin/craterun-oci" || die "cannot copy $OCI"; fi
CR=$TMP/bin/craterun OCI=$TMP/bin/craterun-oci

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
cr() { timeout -k 5 90 "$CR" --root "$ST" "$@"; }
oci() { timeout -k 5 90 "$OCI" --root "$OST" "$@"; }

wait_for() {   # SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -le "$end" ] || return 1
    sleep 0.1
  done
}
alive() { [ -d "/proc/$1" ] && [[ ! "$(< "/proc/$1/stat")" =~ ^[0-9]+\ \(.*\)\ [ZX] ]]; } 2>/dev/null
gone() { ! alive "$1"; }
rd() { local v; v=$(< "$1") 2>/dev/null && printf '%s' "$v"; }   # a control file, or empty
stat_of() {   # FILE KEY: the value of KEY in a flat-keyed file (cpu.stat, cgroup.events)
  local k v
  while read -r k v; do [ "$k" = "$2" ] && { echo "$v"; return; }; done < "$1"
} 2>/dev/null
json_str() {  # JSON KEY: the first "KEY": string-or-scalar value in JSON text (objects skipped)
  [[ $1 =~ \"$2\":\ *(\"([^\"]*)\"|([0-9.eE+-]+|true|false|null)) ]] && echo "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
}
has_word() { [[ " ${1//$'\n'/ } " == *" $2 "* ]]; }   # LIST WORD
leftover() { local d out=""; for d; do [ -d "$d" ] && out="$out $d"; done; echo "${out# }"; }
leftover_expected() { local -a ps; mapfile -t ps < <(expected_paths "$1"); leftover "${ps[@]}"; }   # CGROUPSPATH
all_gone() { local d; while read -r d; do [ -z "$d" ] || [ ! -d "$d" ] || return 1; done < "$1"; }
joinp() { local p="${1%/}/${2#/}"; echo "${p%/}"; }

# own cgroup, per v1 controller ("" for the unified hierarchy), read once
declare -A OWN
while IFS=: read -r _ ctrls path; do
  if [ -z "$ctrls" ]; then OWN[unified]=$path; else
    IFS=, read -ra cs <<<"$ctrls"; for c in "${cs[@]}"; do OWN[$c]=$path; done
  fi
done < /proc/self/cgroup
V1_CTRLS="cpu cpuacct cpuset memory devices freezer blkio pids"

# expected_dirs CGROUPSPATH: where the runtime should put a container with this OCI
# cgroupsPath (relative: below our own cgroup, per controller on v1): "controller dir" lines.
expected_dirs() {
  local p=$1 c base
  if [ "$V2" = 1 ]; then
    case $p in /*) base=$p ;; *) base=$(joinp "${OWN[unified]:-/}" "$p") ;; esac
    echo "unified $(joinp "$CG" "$base")"
  else
    for c in $V1_CTRLS; do
      [ -d "$CG/$c" ] || continue
      case $p in /*) base=$p ;; *) base=$(joinp "${OWN[$c]:-/}" "$p") ;; esac
      echo "$c $(joinp "$CG/$c" "$base")"
    done
  fi
}
expected_paths() { local c d; while read -r c d; do echo "$d"; done < <(expected_dirs "$1"); }
expected_dir() {   # CGROUPSPATH CONTROLLER (v2: the unified dir whatever CONTROLLER)
  local c d; while read -r c d; do [ "$V2" = 1 ] || [ "$c" = "$2" ] && { echo "$d"; return; }; done < <(expected_dirs "$1")
}
note_parents() {   # DIR: remember its ancestors that do not exist yet (the runtime leaves them)
  local d=${1%/*}
  while [ ! -d "$d" ] && [ -n "$d" ]; do echo "$d" >> "$TMP/cgparents"; d=${d%/*}; done
}

# load PREFIX ID: one inspect + one jq; sets PREFIX_status _pid _monitor _exit _oom _paths
# (cgroupPaths as JSON), _dirs (its directories) and _d_<controller> ("unified" on v2)
load() {
  local js
  js=$(cr inspect "$2" 2>/dev/null) || return 1
  eval "$(jq -r --arg p "$1" '.[0] |
    "\($p)_status=\(.status // "" | tostring | @sh)",
    "\($p)_pid=\(.pid // 0 | tostring | @sh)",
    "\($p)_monitor=\(.monitorPid // 0 | tostring | @sh)",
    "\($p)_exit=\(.exitCode // "" | tostring | @sh)",
    "\($p)_oom=\(.oomKilled // "" | tostring | @sh)",
    "\($p)_paths=\(.cgroupPaths // {} | tojson | @sh)",
    "\($p)_dirs=\([.cgroupPaths // {} | .[]] | join(" ") | @sh)",
    (.cgroupPaths // {} | to_entries[] | "\($p)_d_\(.key)=\(.value | @sh)")' <<<"$js")"
  eval "printf '%s\n' \${${1}_dirs}" >> "$TMP/cgdirs"
}
dir_of() {   # PREFIX CONTROLLER: the loaded container's directory for CONTROLLER
  local v; v="${1}_d_$([ "$V2" = 1 ] && echo unified || echo "$2")"
  echo "${!v:-}"
}

if [ "$V2" = 1 ]; then MEM_MAX=memory.max; else MEM_MAX=memory.limit_in_bytes; fi
cpu_limit() {   # DIR: "quota period" in v2's spelling whatever the layout
  if [ "$V2" = 1 ]; then rd "$1/cpu.max"; else echo "$(rd "$1/cpu.cfs_quota_us") $(rd "$1/cpu.cfs_period_us")"; fi
}
CPU_FILES=$([ "$V2" = 1 ] && echo cpu.max || echo cpu.cfs_quota_us/cfs_period_us)
freezer_says() {   # DIR: the freezer's view in one word: frozen / thawed / other
  if [ "$V2" = 1 ]; then
    case $(stat_of "$1/cgroup.events" frozen) in 1) echo frozen ;; 0) echo thawed ;; *) echo "?" ;; esac
  else
    case $(rd "$1/freezer.state") in FROZEN) echo frozen ;; THAWED) echo thawed ;; *) echo "$(rd "$1/freezer.state")" ;; esac
  fi
}
pids_by_cmdline() {   # ARGS...: pids of processes whose command line is exactly ARGS
  local want="$*" p a
  for p in /proc/[0-9]*; do
    mapfile -d '' -t a < "$p/cmdline" 2>/dev/null || continue
    [ "${a[*]:-}" = "$want" ] && echo "${p#/proc/}"
  done
}
oci_state() {   # ID: sets OS_status
  local s; s=$(oci state "$1" 2>&1)
  OS_status=$(json_str "$s" status)
}

# ---------------------------------------------------------------------------------------
# Rootfs
# ---------------------------------------------------------------------------------------
if [ -n "${CGSUITE_ROOTFS:-}" ] && [ -x "${CGSUITE_ROOTFS}/bin/busybox" ]; then
  ROOTFS=$CGSUITE_ROOTFS
  info "rootfs: $ROOTFS (CGSUITE_ROOTFS)"
elif [ -f "$REPO/tests/fixtures/make-rootfs.sh" ]; then
  ROOTFS=$TMP/rootfs
  bash "$REPO/tests/fixtures/make-rootfs.sh" "$ROOTFS" >/dev/null || die "tests/fixtures/make-rootfs.sh failed"
  info "rootfs: built by tests/fixtures/make-rootfs.sh"
else
  ROOTFS=$TMP/rootfs
  BB=$(command -v busybox || true)
  [ -n "$BB" ] || die "no busybox (apt-get install -y busybox-static)"
  mkdir -p "$ROOTFS"/{bin,dev,proc,sys,etc,tmp,root}
  cp "$BB" "$ROOTFS/bin/busybox"
  for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOTFS/etc/passwd"
  echo 'root:x:0:' > "$ROOTFS/etc/group"
  chmod 1777 "$ROOTFS/tmp"
  info "rootfs: busybox from $BB (tests/fixtures/make-rootfs.sh not found)"
fi

info "host: $(uname -r), $([ "$V2" = 1 ] && echo "cgroup v2 (cgroup2fs)" || echo "cgroup v1 ($CG is a tmpfs)"), own cgroup ${OWN[$([ "$V2" = 1 ] && echo unified || echo memory)]:-?}${CRATERUN_VM:+, in the VM}"

# =======================================================================================
section "1. limits as written: A (--memory 32m --cpu), B (--cpus 0.5 --pids 10)"
# =======================================================================================
A=$(cr run -d --memory 32m --cpu "50000 100000" --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/a.err")
# shellcheck disable=SC2154 # A_* are set by load() through eval
if [ -n "$A" ] && load A "$A"; then
  check "run -d (container A) is running" "status $A_status" [ "$A_status" = running ]
else
  fail "run -d (container A)" "no container: $(< "$TMP/a.err")"; A=""
fi
B=$(cr run -d --cpus 0.5 --pids 10 --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/b.err")
if [ -z "$B" ] || ! load B "$B"; then
  fail "run -d (container B)" "no container: $(< "$TMP/b.err")"; B=""
fi

# shellcheck disable=SC2154 # A_* are set by load() through eval
if [ -n "$A" ]; then
  if [ "$V2" = 1 ]; then
    want=$(expected_dir "craterun-$A")
    check "layout: v2 detected: cgroupPaths is a single \"unified\" dir under $CG" "cgroupPaths $A_paths" \
      all_of "[ '$A_paths' = '{\"unified\":\"${A_d_unified:-}\"}' ]" "[ -d '${A_d_unified:-/nonexistent}' ]" \
             "[ '${A_d_unified#"$CG"/}' != '${A_d_unified:-}' ]"
    check "layout: the default cgroup is craterun-<id> below our own cgroup" "got ${A_d_unified:-}, expected $want" \
      [ "${A_d_unified:-}" = "$want" ]
  else
    check "layout: v1 detected: cgroupPaths has per-controller keys" "cgroupPaths $A_paths" \
      all_of "[ -n '${A_d_memory:-}' -a -n '${A_d_pids:-}' -a -n '${A_d_cpu:-}' -a -n '${A_d_freezer:-}' ]" \
             "[ -z '${A_d_unified:-}' ]"
    bad=""
    while read -r c want; do
      got=$(dir_of A "$c")
      [ "$got" = "$want" ] && [ -d "$got" ] || bad="$bad $c=$got (expected $want)"
    done < <(expected_dirs "craterun-$A")
    check "layout: each controller's dir is craterun-<id> below our own cgroup (memory: below the machine's bound)" "$bad" \
      [ -z "$bad" ]
  fi
  D=$(dir_of A pids)
  procs=$(cg_pids_of "$D")
  check "container A: its init ($A_pid) is in its cgroup" "cgroup.procs of $D: $procs" has_word "$procs" "$A_pid"
  # and only the container's processes: the monitor's launcher thread, which joined the cgroup
  # to clone the init there, has left (the monitor itself lives on)
  foreign=""
  for p in $procs; do
    [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$(readlink "/proc/$A_pid/ns/pid")" ] || foreign="$foreign $p"
  done
  check "container A: no process from outside the container in its cgroup (the monitor left it)" "foreign:$foreign" [ -z "$foreign" ]

  MD=$(dir_of A memory)
  check "memory: --memory 32m sets $MEM_MAX = 33554432" "$MD/$MEM_MAX = $(rd "$MD/$MEM_MAX")" \
    [ "$(rd "$MD/$MEM_MAX")" = 33554432 ]
  if [ "$V2" = 1 ]; then
    check "memory: memory.swap.max = 0 (no swap beyond the limit)" "$MD/memory.swap.max = $(rd "$MD/memory.swap.max")" \
      [ "$(rd "$MD/memory.swap.max")" = 0 ]
  elif [ -e "$MD/memory.memsw.limit_in_bytes" ]; then
    check "memory: memory.memsw.limit_in_bytes = the limit (no swap beyond it)" \
      "$MD/memory.memsw.limit_in_bytes = $(rd "$MD/memory.memsw.limit_in_bytes")" \
      [ "$(rd "$MD/memory.memsw.limit_in_bytes")" = 33554432 ]
  else
    skip "memory: no swap beyond the limit" "this v1 host has no swap accounting (memory.memsw.*)"
  fi
  CD=$(dir_of A cpu)
  check "cpu: --cpu \"50000 100000\" sets $CPU_FILES" "$CD: $(cpu_limit "$CD")" [ "$(cpu_limit "$CD")" = "50000 100000" ]
fi
if [ -n "$B" ]; then
  CD=$(dir_of B cpu)
  check "cpu: --cpus 0.5 sets $CPU_FILES = 50000 100000" "$CD: $(cpu_limit "$CD")" [ "$(cpu_limit "$CD")" = "50000 100000" ]
  PD=$(dir_of B pids)
  check "pids: --pids 10 sets pids.max = 10" "$PD/pids.max = $(rd "$PD/pids.max")" [ "$(rd "$PD/pids.max")" = 10 ]
fi

# =======================================================================================
section "2. what a container sees (cgroup namespace), A and B running as siblings"
# =======================================================================================
if [ "$V2" = 1 ]; then SEEN=$CG; else SEEN=$CG/pids; fi
# cgroup.procs is read by the shell itself: a cat would list itself and be gone by the check
out=$(cr run --rm --cidfile "$TMP/ns.cid" --rootfs "$ROOTFS" -- sh -c "
  cat /proc/self/cgroup; echo ---
  while read p; do if [ -d /proc/\$p ]; then echo \$p; else echo foreign:\$p; fi; done < $SEEN/cgroup.procs; echo ---
  ls $SEEN | grep craterun; echo ---" 2>&1)
rc=$?
NS_ID=$(rd "$TMP/ns.cid")
[ -n "$NS_ID" ] && expected_paths "craterun-$NS_ID" >> "$TMP/cgdirs"
secs=() cur=""
while IFS= read -r line; do
  if [ "$line" = --- ]; then secs+=("${cur%$'\n'}"); cur=""; else cur+="$line"$'\n'; fi
done <<<"$out"
if [ "$rc" != 0 ] || [ "${#secs[@]}" != 3 ]; then
  fail "cgroupns: run --rm a container that looks at its cgroups" "exit $rc: $out"
else
  if [ "$V2" = 1 ]; then
    check "cgroupns: /proc/self/cgroup in the container is exactly 0::/" "got: ${secs[0]}" [ "${secs[0]}" = "0::/" ]
  else
    check "cgroupns: every /proc/self/cgroup line in the container ends in :/ (v1)" "got: ${secs[0]}" \
      all_of "[ -n '${secs[0]}' ]" "! grep -qv ':/\$' <<<'${secs[0]}'"
  fi
  check "cgroupns: $SEEN/cgroup.procs inside lists only the container's pids" "got: ${secs[1]}" \
    all_of "[ '${secs[1]%%$'\n'*}' = 1 ]" "[[ '${secs[1]}' != *foreign* ]]"
  check "cgroupns: no sibling craterun-* cgroup is visible inside $SEEN" "visible: ${secs[2]}" [ -z "${secs[2]}" ]
  [ -n "$A" ] && [ -n "$B" ] || info "(siblings A/B were not running: the sibling check proves less)"
fi
if [ -n "$NS_ID" ]; then
  left=$(leftover_expected "craterun-$NS_ID")
  check "run --rm: cgroup dir and state gone after exit" "left: $left $(ls -d "$ST/$NS_ID" 2>/dev/null)" \
    all_of "[ -z '$left' ]" "[ ! -e '$ST/$NS_ID' ]"
fi

# =======================================================================================
section "3. exec joins the container's cgroup; cpu throttling under the quota"
# =======================================================================================
# shellcheck disable=SC2154 # A_* are set by load() through eval
if [ -n "$A" ]; then
  out=$(cr exec "$A" -- cat /proc/self/cgroup 2>&1)
  if [ "$V2" = 1 ]; then
    check "exec: /proc/self/cgroup inside is 0::/ (joined the cgroup namespace)" "got: $out" [ "$out" = "0::/" ]
  else
    check "exec: every /proc/self/cgroup line inside ends in :/ (joined the cgroup namespace, v1)" "got: $out" \
      all_of "[ -n \"\$out\" ]" "! grep -qv ':/\$' <<<\"\$out\""
  fi
  cr exec -d "$A" -- sleep 4242 >"$TMP/exec.out" 2>&1
  EP=""
  for _ in $(seq 50); do EP=$(pids_by_cmdline sleep 4242); [ -n "$EP" ] && break; sleep 0.1; done
  EP=${EP%%$'\n'*}
  if [ -z "$EP" ]; then
    fail "exec: the exec'd process joins the container's cgroup" "exec -d sleep 4242 did not show up: $(< "$TMP/exec.out")"
  else
    echo "$EP" >> "$TMP/pids"
    mine=$(rd "/proc/$EP/cgroup"); theirs=$(rd "/proc/$A_pid/cgroup")
    check "exec: the exec'd process joins the container's cgroup (host view: /proc/PID/cgroup equals init's)" \
      "exec'd $EP: $mine / init $A_pid: $theirs" all_of "[ -n '$mine' ]" "[ '$mine' = '$theirs' ]"
    kill -9 "$EP" 2>/dev/null
  fi

  CD=$(dir_of A cpu)
  before=$(stat_of "$CD/cpu.stat" nr_throttled)
  # two spinning loops: on a busy host one loop may get less than the 0.5 CPU quota
  cr exec "$A" -- sh -c 'while :; do :; done & p=$!; while :; do :; done & q=$!; sleep 1.5; kill $p $q' >/dev/null 2>&1
  after=$(stat_of "$CD/cpu.stat" nr_throttled)
  check "cpu: 1.5 s of busy loops under 50000/100000 are throttled (cpu.stat nr_throttled > 0)" \
    "nr_throttled ${before:-?} -> ${after:-?}; cpu.stat: $(rd "$CD/cpu.stat")" [ "${after:-0}" -gt 0 ]
fi

if v2only "clone3: the container process is started directly in its cgroup (CLONE_INTO_CGROUP)"; then
  out=$(CRATERUN_TIMING=1 cr run --rm --rootfs "$ROOTFS" -- cat /proc/self/cgroup 2>&1)
  check "clone3: the container process is started directly in its cgroup (CLONE_INTO_CGROUP)" "$out" \
    all_of '[[ $out == *"cloned into its cgroup (CLONE_INTO_CGROUP)"* ]]' '[[ $out == *"0::/"* ]]' '[[ $out != *"moved into its cgroup"* ]]'
fi

# =======================================================================================
section "3b. devices: only the default nodes (v1 devices controller, v2 eBPF device program)"
# =======================================================================================
# A block device node can be made (CAP_MKNOD) but not opened; /dev/null keeps working.
out=$(cr run --rm --rootfs "$ROOTFS" -- sh -c \
  'mknod /tmp/blk b 7 0 && echo made; if head -c 1 /tmp/blk >/dev/null 2>/tmp/err; then echo OPENED; else cat /tmp/err; fi; echo x > /dev/null && echo null-ok' 2>&1)
check "devices: a mknod'ed block device 7:0 cannot be opened, /dev/null can ($([ "$V2" = 1 ] && echo "BPF program" || echo "devices.deny/allow"))" \
  "$out" all_of '[[ $out == *made* ]]' '[[ $out != *OPENED* ]]' '[[ $out == *"not permitted"* ]]' '[[ $out == *null-ok* ]]'
out=$(cr run --rm --privileged --rootfs "$ROOTFS" -- sh -c \
  'mknod /tmp/blk b 7 0 && if head -c 1 /tmp/blk >/dev/null 2>/tmp/err; then echo OPENED; else cat /tmp/err; fi' 2>&1)
check "devices: with --privileged the same node is not refused by the device rules" \
  "$out" all_of '[[ $out != *"not permitted"* ]]'

# =======================================================================================
section "4. pids.max enforced"
# =======================================================================================
out=$(cr run --rm --pids 10 --rootfs "$ROOTFS" -- sh -c \
  'i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo started $i; done; echo all-20-started' 2>&1)
rc=$?
n=$(grep -c '^started' <<<"$out")
check "pids: under --pids 10, forking 20 sleeps fails inside" \
  "exit $rc, $n forks succeeded: $(grep -v '^started' <<<"$out" | head -3)" \
  all_of "[ $n -ge 1 -a $n -lt 20 ]" "! grep -q all-20-started <<<\"\$out\"" "grep -qi 'fork\|resource temporarily' <<<\"\$out\""

# =======================================================================================
section "5. memory.max enforced: OOM kill, exit 137, oomKilled, cgroup gone"
# =======================================================================================
HOG="dd if=/dev/zero of=/dev/null bs=64M count=1"
cr run --cidfile "$TMP/oom.cid" --memory 32m --rootfs "$ROOTFS" -- $HOG >"$TMP/oom.out" 2>&1
rc=$?
OOM_ID=$(rd "$TMP/oom.cid")
check "memory: a 64 MiB hog under --memory 32m is killed, exit 137" "exit $rc: $(tail -c 300 "$TMP/oom.out")" [ "$rc" = 137 ]
if [ -n "$OOM_ID" ]; then
  dirs=$(expected_paths "craterun-$OOM_ID"); echo "$dirs" >> "$TMP/cgdirs"
  load O "$OOM_ID"
  check "memory: inspect says oomKilled true, exitCode 137" "status ${O_status:-?}, exitCode ${O_exit:-?}, oomKilled ${O_oom:-?}" \
    all_of "[ '${O_oom:-}' = true ]" "[ '${O_exit:-}' = 137 ]"
  left=$(leftover $dirs)
  check "memory: the cgroup dir is gone once the OOM-killed container exited" "left: $left" [ -z "$left" ]
  cr rm "$OOM_ID" >/dev/null 2>&1
  check "rm: an OOM-killed container's state is removed" "$ST/$OOM_ID still there" [ ! -e "$ST/$OOM_ID" ]
fi
cr run --rm --cidfile "$TMP/oomrm.cid" --memory 32m --rootfs "$ROOTFS" -- $HOG >"$TMP/oomrm.out" 2>&1
rc=$?
OID=$(rd "$TMP/oomrm.cid")
dirs=$([ -n "$OID" ] && expected_paths "craterun-$OID"); echo "$dirs" >> "$TMP/cgdirs"
left=$(leftover $dirs)
check "run --rm after an OOM kill: exit 137, cgroup dir and state gone" "exit $rc, id ${OID:-?}, left: $left" \
  all_of "[ $rc = 137 ]" "[ -n '$OID' ]" "[ -z '$left' ]" "[ ! -e '$ST/$OID' ]"

# =======================================================================================
section "6. rm -f: running containers, one whose monitor was SIGKILLed; --cgroup-parent"
# =======================================================================================
for X in A B; do
  id=${!X}
  [ -n "$id" ] || continue
  dv=${X}_dirs; pv=${X}_pid
  dirs=${!dv}; ipid=${!pv}
  cr rm -f "$id" >/dev/null 2>"$TMP/rm.err"
  rc=$?
  wait_for 5 gone "$ipid"
  left=$(leftover $dirs)
  check "rm -f (running container $X): cgroup dir, process and state gone" \
    "rc $rc $(< "$TMP/rm.err"); left: $left; init $ipid $(alive "$ipid" && echo alive || echo gone)" \
    all_of "[ $rc = 0 ]" "[ -z '$left' ]" "[ ! -e '$ST/$id' ]" "gone $ipid"
done

PARENT=craterun-suite-parent-$$
expected_paths "$PARENT" >> "$TMP/cgparents"
M=$(cr run -d --cgroup-parent "$PARENT" --memory 48m --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/m.err")
# shellcheck disable=SC2154 # M_* are set by load() through eval
if [ -z "$M" ] || ! load M "$M"; then
  fail "run -d --cgroup-parent" "no container: $(< "$TMP/m.err")"
else
  MD=$(dir_of M memory)
  want=$(expected_dir "$PARENT/craterun-$M" memory)
  check "--cgroup-parent: the cgroup is <own cgroup>/$PARENT/craterun-<id>, limit applied" \
    "memory dir $MD (expected $want), $MEM_MAX = $(rd "$MD/$MEM_MAX")" \
    all_of "[ '$MD' = '$want' ]" "[ '$(rd "$MD/$MEM_MAX")' = 50331648 ]"
  if [ "${M_monitor:-0}" -gt 1 ] && [ "$M_monitor" != $$ ] && alive "$M_monitor"; then
    kill -9 "$M_monitor"
    wait_for 10 gone "$M_monitor"
    cr rm -f "$M" >/dev/null 2>"$TMP/rm.err"
    rc=$?
    wait_for 5 gone "$M_pid"
    left=$(leftover $M_dirs)
    check "rm -f after the monitor was SIGKILLed: cgroup dir, process and state gone" \
      "monitor $M_monitor; rc $rc $(< "$TMP/rm.err"); left: $left; init $M_pid $(alive "$M_pid" && echo alive || echo gone)" \
      all_of "[ $rc = 0 ]" "[ -z '$left' ]" "[ ! -e '$ST/$M' ]" "gone $M_pid"
    left=$(leftover_expected "$PARENT")
    check "--cgroup-parent: the parent dirs the runtime made are gone with the container" "left: $left" [ -z "$left" ]
  else
    fail "rm -f after the monitor was SIGKILLed" "inspect gave no live monitorPid (${M_monitor:-none})"
    cr rm -f "$M" >/dev/null 2>&1
  fi
fi

# =======================================================================================
section "7. OCI: relative and absolute cgroupsPath, pause/resume, update, events --stats"
# =======================================================================================
BUNDLE=$TMP/bundle
mkdir -p "$BUNDLE"
REL=craterun-suite-rel-$$/o1   # two levels: controllers must be enabled in the middle one too
# absolute: v1 keeps memory below our own memory cgroup (the machine's bound on this host)
if [ "$V2" = 1 ]; then ABS=/craterun-suite-abs-$$; else ABS=$(joinp "${OWN[memory]:-/}" "craterun-suite-abs-$$"); fi
if ! oci spec -b "$BUNDLE" >/dev/null 2>"$TMP/spec.err"; then
  fail "oci: spec" "$(< "$TMP/spec.err")"
else
  mv "$BUNDLE/config.json" "$TMP/spec.json"
  n=0
  for CP in "$REL" "$ABS"; do
    n=$((n + 1)); O=cgsuite-o$n-$$
    kind=$([ "$n" = 1 ] && echo relative || echo absolute)
    jq --arg r "$ROOTFS" --arg cp "$CP" '
      .process.terminal = false | .root.path = $r | .root.readonly = false
      | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/tick; sleep 0.3; done"]
      | .linux.cgroupsPath = $cp
      | .linux.resources = ((.linux.resources // {}) + {memory: {limit: 33554432}, pids: {limit: 10}})' \
      "$TMP/spec.json" > "$BUNDLE/config.json"
    exp=$(expected_dirs "$CP")
    while read -r c d; do note_parents "$d"; echo "$d" >> "$TMP/cgdirs"; done <<<"$exp"
    if ! oci create --bundle "$BUNDLE" --pid-file "$TMP/o.pid" "$O" >"$TMP/o.out" 2>"$TMP/o.err" </dev/null; then
      fail "oci: create with the $kind cgroupsPath $CP" "$(< "$TMP/o.err")"
      continue
    fi
    ipid=$(rd "$TMP/o.pid")
    bad=""
    # created, not started: its init is the only process there (the runtime's launcher thread,
    # which joined the cgroup to clone it there on v1, has left)
    while read -r c d; do
      procs=$(cg_pids_of "$d")
      [ -n "$ipid" ] && [ "$procs" = "$ipid" ] || bad="$bad $c:$d=[$procs]"
    done <<<"$exp"
    first=${exp%%$'\n'*}
    check "oci: $kind cgroupsPath $CP lands in ${first#* }$([ "$V2" = 1 ] || echo " (and the other controllers')"), its init alone" \
      "init ${ipid:-?}; cgroup.procs:$bad" [ -z "$bad" ]
    if [ "$n" = 2 ]; then   # (created, not started: enough to see where it landed)
      oci delete --force "$O" >/dev/null 2>&1
      left=$(leftover_expected "$CP")
      check "oci: delete --force removes the $kind cgroup dir" "left: $left" [ -z "$left" ]
      continue
    fi

    # the relative one gets the full treatment
    oci start "$O" >/dev/null 2>"$TMP/o.err" || fail "oci: start ($kind)" "$(< "$TMP/o.err")"
    tick_exists() { [ -n "$(rd "/proc/$ipid/root/tmp/tick")" ]; }
    wait_for 5 tick_exists   # the ticker's first write, before it is frozen
    D=$(expected_dir "$CP" unified)
    FD=$(expected_dir "$CP" freezer); MD=$(expected_dir "$CP" memory); PD=$(expected_dir "$CP" pids); CD=$(expected_dir "$CP" cpu)
    oci_state "$O"
    check "oci: state is running after start" "status $OS_status" [ "$OS_status" = running ]
    oci pause "$O" >/dev/null 2>"$TMP/o.err"
    oci_state "$O"; fz=$(freezer_says "$FD")
    check "oci: pause: state paused, $([ "$V2" = 1 ] && echo "cgroup.events frozen 1" || echo "freezer.state FROZEN")" \
      "err: $(< "$TMP/o.err"); status $OS_status; freezer: $fz" all_of "[ '$OS_status' = paused ]" "[ $fz = frozen ]"
    if v2only "oci: pause writes cgroup.freeze = 1"; then
      check "oci: pause writes cgroup.freeze = 1" "cgroup.freeze=$(rd "$FD/cgroup.freeze")" [ "$(rd "$FD/cgroup.freeze")" = 1 ]
    fi
    # the container's shell bumps /tmp/tick every 0.3 s: frozen, it must not
    t1=$(rd "/proc/$ipid/root/tmp/tick"); sleep 1; t2=$(rd "/proc/$ipid/root/tmp/tick")
    check "oci: a paused container makes no progress (its 0.3 s ticker stays put for 1 s)" "tick ${t1:-none} -> ${t2:-none}" \
      all_of "[ -n '$t1' ]" "[ '$t1' = '$t2' ]"
    oci resume "$O" >/dev/null 2>"$TMP/o.err"
    oci_state "$O"; fz=$(freezer_says "$FD")
    check "oci: resume: state running, thawed" "err: $(< "$TMP/o.err"); status $OS_status; freezer: $fz" \
      all_of "[ '$OS_status' = running ]" "[ $fz = thawed ]"
    tick_moved() { [ "$(rd "/proc/$ipid/root/tmp/tick")" != "$t2" ]; }
    wait_for 5 tick_moved
    check "oci: a resumed container runs again (its ticker moves)" "tick $t2 -> $(rd "/proc/$ipid/root/tmp/tick")" tick_moved

    oci update --memory 64m --pids-limit 20 "$O" >/dev/null 2>"$TMP/o.err"
    uerr=$(< "$TMP/o.err")
    check "oci: update --memory 64m sets $MEM_MAX = 67108864" "err: $uerr; $MEM_MAX = $(rd "$MD/$MEM_MAX")" \
      [ "$(rd "$MD/$MEM_MAX")" = 67108864 ]
    if [ "$V2" = 1 ]; then
      check "oci: update --memory keeps memory.swap.max = 0" "memory.swap.max = $(rd "$MD/memory.swap.max")" \
        [ "$(rd "$MD/memory.swap.max")" = 0 ]
    elif [ -e "$MD/memory.memsw.limit_in_bytes" ]; then
      check "oci: update --memory raises memory.memsw.limit_in_bytes with it (no swap)" \
        "memory.memsw.limit_in_bytes = $(rd "$MD/memory.memsw.limit_in_bytes")" [ "$(rd "$MD/memory.memsw.limit_in_bytes")" = 67108864 ]
    else
      skip "oci: update --memory keeps swap off" "this v1 host has no swap accounting (memory.memsw.*)"
    fi
    check "oci: update --pids-limit 20 sets pids.max = 20" "err: $uerr; pids.max = $(rd "$PD/pids.max")" \
      [ "$(rd "$PD/pids.max")" = 20 ]
    echo '{"cpu": {"quota": 25000, "period": 100000}}' | oci update --resources - "$O" >/dev/null 2>"$TMP/o.err"
    check "oci: update --resources - (cpu quota 25000, period 100000)" "err: $(< "$TMP/o.err"); $(cpu_limit "$CD")" \
      [ "$(cpu_limit "$CD")" = "25000 100000" ]
    ev=$(oci events --stats "$O" 2>&1); ev=${ev%%$'\n'*}
    mem=${ev#*\"memory\":}
    usage=$(json_str "$mem" usage); limit=$(json_str "$mem" limit)
    check "oci: events --stats prints memory usage (> 0, limit 64m)" "event: ${ev:0:400}" \
      all_of "[ '$(json_str "$ev" type)' = stats ]" "[ '${usage:-0}' -gt 0 ]" "[ '$limit' = 67108864 ]"
    oci delete --force "$O" >/dev/null 2>"$TMP/o.err"
    left=$(leftover_expected "$CP")
    check "oci: delete --force removes the $kind cgroup dir and the state" "err: $(< "$TMP/o.err"); left: $left" \
      all_of "[ -z '$left' ]" "[ ! -e '$OST/$O' ]"
  done
fi

# =======================================================================================
section "7b. what other clients send: zeros, --pids 1, io/hugetlb/rdma, v1-only fields, frozen and busy cgroups"
# =======================================================================================
out=$(cr run --rm --pids 1 --rootfs "$ROOTFS" -- true 2>&1); rc=$?
check "--pids 1 runs true (the runtime's own threads do not count)" "exit $rc: $out" [ "$rc" = 0 ]
out=$(cr run --rm --pids 2 --rootfs "$ROOTFS" -- sh -c 'sleep 2 & sleep 2 & wait; echo waited' 2>&1)
check "--pids 2: sh and one sleep fit, a second sleep is refused" "out: $out" grep -qi 'fork\|resource temporarily' <<<"$out"
out=$(cr run --rm --pids 99999999999 --rootfs "$ROOTFS" -- true 2>&1); rc=$?
check "--pids 99999999999: one line naming --pids" "exit $rc: $out" \
  all_of "[ $rc != 0 ]" "[ $(wc -l <<<"$out") = 1 ]" "grep -q -- --pids <<<\"\$out\""

if [ -f "$TMP/spec.json" ]; then
  n7=0
  # oci_try NAME JQ-EDIT: writes the bundle's config (process: true) and runs create; sets OUT, RC, CID
  oci_try() {
    n7=$((n7 + 1)); CID=cgsuite-7b-$n7-$$
    jq --arg r "$ROOTFS" '.process.terminal = false | .process.args = ["true"] | .root.path = $r | '"$1" "$TMP/spec.json" > "$BUNDLE/config.json"
    # output to a file: a created init keeps the inherited stdout open, a $(...) would wait for it
    oci create --bundle "$BUNDLE" "$CID" >"$TMP/7b.out" 2>&1 </dev/null; RC=$?; OUT=$(< "$TMP/7b.out")
  }
  oci_gone() { oci delete --force "$CID" >/dev/null 2>&1; [ ! -e "$OST/$CID" ]; }

  oci_try '.linux.resources = {blockIO: {weight: 0}, cpu: {shares: 0, quota: 0, period: 0}, memory: {limit: 0, swap: 0}, pids: {limit: 0}}'
  check "Docker 20.10's zero resources (blockIO.weight 0, cpu.shares 0) mean unset: create works" "exit $RC: $OUT" [ "$RC" = 0 ]
  oci_gone
  oci_try '.linux.resources = {cpu: {realtimeRuntime: 10000, realtimePeriod: 1000000}}'
  if [ "$V2" = 1 ]; then
    check "v2: realtime cpu limits are refused in one line (v1 only)" "exit $RC: $OUT" \
      all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q real-time <<<\"\$OUT\""
  else
    D=$(expected_dir "craterun-$CID" cpu)
    check "v1: realtime runtime/period are written" "exit $RC: $OUT; rt_runtime $(rd "$D/cpu.rt_runtime_us")" \
      all_of "[ $RC = 0 ]" "[ '$(rd "$D/cpu.rt_runtime_us")' = 10000 ]"
  fi
  oci_gone
  if [ "$V2" = 1 ]; then
    oci_try '.linux.resources = {network: {classID: 1048577}}'
    check "v2: linux.resources.network is refused in one line (net_cls is v1 only)" "exit $RC: $OUT" \
      all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q network <<<\"\$OUT\""
  else
    oci_try '.linux.resources = {unified: {"memory.high": "50000000"}}'
    check "v1: linux.resources.unified is refused in one line" "exit $RC: $OUT" \
      all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q unified <<<\"\$OUT\""
  fi
  oci_gone
  # io (v2) / blkio (v1): throttling on the first real block device
  DEV=""; for b in /sys/block/*; do case ${b##*/} in loop*|ram*|zram*) ;; *) [ -r "$b/dev" ] && { DEV=$(< "$b/dev"); break; } ;; esac; done
  if [ -z "$DEV" ]; then
    for b in /sys/block/*; do [ -r "$b/dev" ] && { DEV=$(< "$b/dev"); break; }; done
  fi
  LOOPDEV=""
  if [ -z "$DEV" ]; then   # (the VM has no disk): a loop device over a file in the temp directory
    modprobe loop 2>/dev/null; truncate -s 8M "$TMP/blk.img"
    LOOPDEV=$(losetup -f --show "$TMP/blk.img" 2>/dev/null) && DEV=$(rd "/sys/block/${LOOPDEV##*/}/dev")
  fi
  if [ -z "$DEV" ]; then
    # the VM has no disk and no loop driver: io.max is covered by the unit tests only (see tests/vm/README.md)
    skip "blockIO throttling (io.max / blkio.throttle.*)" "no block device in /sys/block and no loop device could be set up"
  else
    MAJ=${DEV%:*} MIN=${DEV#*:}
    oci_try ".linux.resources = {blockIO: {throttleReadBpsDevice: [{major: $MAJ, minor: $MIN, rate: 1048576}], throttleWriteIOPSDevice: [{major: $MAJ, minor: $MIN, rate: 50}]}}"
    if [ "$V2" = 1 ]; then
      D=$(expected_dir "craterun-$CID" unified); io=$(rd "$D/io.max")
      check "v2: blockIO throttling lands in io.max ($DEV rbps=1048576 wiops=50)" "exit $RC: $OUT; io.max: $io" \
        all_of "[ $RC = 0 ]" "grep -q '^$DEV rbps=1048576 .*wiops=50' <<<\"\$io\""
    else
      D=$(expected_dir "craterun-$CID" blkio)
      check "v1: blockIO throttling lands in blkio.throttle.*" "exit $RC: $OUT; $(rd "$D/blkio.throttle.read_bps_device")" \
        all_of "[ $RC = 0 ]" "[ '$(rd "$D/blkio.throttle.read_bps_device")' = '$DEV 1048576' ]" "[ '$(rd "$D/blkio.throttle.write_iops_device")' = '$DEV 50' ]"
    fi
    oci_gone
  fi
  [ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV"
  oci_try '.linux.resources = {hugepageLimits: [{pageSize: "2MB", limit: 4194304}]}'
  if [ "$V2" = 1 ] && has_word "$(rd "$CG/cgroup.controllers")" hugetlb; then
    D=$(expected_dir "craterun-$CID" unified)
    check "v2: hugepageLimits land in hugetlb.2MB.max" "exit $RC: $OUT; $(rd "$D/hugetlb.2MB.max")" \
      all_of "[ $RC = 0 ]" "[ '$(rd "$D/hugetlb.2MB.max")' = 4194304 ]"
  elif [ "$V2" = 1 ]; then
    check "v2 without hugetlb: hugepageLimits refused in one line naming hugetlb" "exit $RC: $OUT" \
      all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q hugetlb <<<\"\$OUT\""
  else
    [ -d "$CG/hugetlb" ] && info "v1 host mounts hugetlb: hugepageLimits accepted ($RC)" || \
      check "v1 without a hugetlb hierarchy: hugepageLimits refused in one line naming hugetlb" "exit $RC: $OUT" \
        all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q hugetlb <<<\"\$OUT\""
  fi
  oci_gone
  # rdma: no RDMA device here; the controller must be asked, and its answer (or its absence) named
  oci_try '.linux.resources = {rdma: {"mlx5_1": {hcaHandles: 3, hcaObjects: 10000}}}'
  left=$(leftover_expected "craterun-$CID")
  check "rdma without such a device: create fails in one line naming rdma, nothing left" "exit $RC: $OUT; left: $left" \
    all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q rdma <<<\"\$OUT\"" "[ -z '$left' ]"
  oci_gone

  # cpu.burst / cpu.idle (v2: cpu.max.burst, cpu.idle; v1: cpu.cfs_burst_us, cpu.idle)
  oci_try '.linux.resources = {cpu: {quota: 50000, period: 100000, burst: 20000, idle: 1}}'
  if [ "$V2" = 1 ]; then D=$(expected_dir "craterun-$CID" unified); BF=cpu.max.burst; else D=$(expected_dir "craterun-$CID" cpu); BF=cpu.cfs_burst_us; fi
  if [ -e "$D/$BF" ] || [ "$RC" != 0 ]; then
    check "cpu.burst 20000 and cpu.idle 1 land in $BF and cpu.idle" "exit $RC: $OUT; $BF '$(rd "$D/$BF")' idle '$(rd "$D/cpu.idle")'" \
      all_of "[ $RC = 0 ]" "[ '$(rd "$D/$BF")' = 20000 ]" "[ '$(rd "$D/cpu.idle")' = 1 ]"
  else
    skip "cpu.burst and cpu.idle" "this kernel has no $BF"
  fi
  oci_gone
  oci_try '.linux.resources = {cpu: {quota: 50000, period: 100000, burst: 80000}}'
  left=$(leftover_expected "craterun-$CID")
  check "cpu.burst above the quota: the kernel's EINVAL in one line naming the file, nothing left" "exit $RC: $OUT; left: $left" \
    all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q burst <<<\"\$OUT\"" "[ -z '$left' ]"
  oci_gone
  # memory.kernel / kernelTCP: runc 1.0+ warns and ignores them; v1 still enforces kernelTCP (memory.kmem.tcp.limit_in_bytes)
  oci_try '.linux.resources = {memory: {limit: 67108864, kernel: 33554432, kernelTCP: 16777216}}'
  if [ "$V2" = 1 ]; then
    D=$(expected_dir "craterun-$CID" unified)
    check "v2: memory.kernel/kernelTCP ignored with one warning line, the limit applied" "exit $RC: $OUT; memory.max $(rd "$D/memory.max")" \
      all_of "[ $RC = 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q 'warning.*kernel' <<<\"\$OUT\"" "[ '$(rd "$D/memory.max")' = 67108864 ]"
  else
    D=$(expected_dir "craterun-$CID" memory)
    check "v1: memory.kernelTCP lands in memory.kmem.tcp.limit_in_bytes, memory.kernel warned" "exit $RC: $OUT; tcp $(rd "$D/memory.kmem.tcp.limit_in_bytes")" \
      all_of "[ $RC = 0 ]" "[ '$(rd "$D/memory.kmem.tcp.limit_in_bytes")' = 16777216 ]" "grep -q 'warning.*memory.kernel' <<<\"\$OUT\""
  fi
  oci_gone

  # process.apparmorProfile: applied where AppArmor is enabled (the VM's Debian kernel enables
  # it; this host's kernel has no AppArmor), looked at from inside; an unknown profile and a
  # host without AppArmor are refused in one line naming the field
  aa_run() {   # PROFILE: runs cat /proc/self/attr/current under it; sets OUT, RC, CID
    n7=$((n7 + 1)); CID=cgsuite-aa-$n7-$$
    jq --arg r "$ROOTFS" --arg p "$1" '.process.terminal = false | .process.args = ["cat", "/proc/self/attr/current"] | .root.path = $r | .process.apparmorProfile = $p' \
      "$TMP/spec.json" > "$BUNDLE/config.json"
    oci run --bundle "$BUNDLE" "$CID" >"$TMP/aa.out" 2>&1 </dev/null; RC=$?; OUT=$(< "$TMP/aa.out")
  }
  if [ "$(rd /sys/module/apparmor/parameters/enabled)" = Y ]; then
    [ -e /sys/kernel/security/apparmor/profiles ] || mount -t securityfs securityfs /sys/kernel/security
    if ! command -v apparmor_parser >/dev/null; then
      fail "AppArmor is enabled: process.apparmorProfile" "apparmor_parser is missing (apt-get install apparmor, tests/install-prereqs.sh)"
    else
      AAP=craterun-suite-$$
      # allows everything a busybox container does: the test is that the profile is the process's, not what it denies
      printf 'profile %s flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  pivot_root,\n}\n' "$AAP" > "$TMP/aa.prof"
      if out=$(apparmor_parser -r -K "$TMP/aa.prof" 2>&1); then
        aa_run "$AAP"
        check "AppArmor: process.apparmorProfile is the container process's profile (/proc/self/attr/current)" "exit $RC: $OUT" \
          all_of "[ $RC = 0 ]" "[ \"\$OUT\" = '$AAP (enforce)' ]"
        oci_gone
        aa_run "$AAP-not-loaded"
        check "AppArmor: a profile that is not loaded is refused in one line naming it, nothing left" "exit $RC: $OUT" \
          all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q \"apparmorProfile '$AAP-not-loaded'\" <<<\"\$OUT\"" "[ ! -e '$OST/$CID' ]"
        oci_gone
        apparmor_parser -R "$TMP/aa.prof" >/dev/null 2>&1
      else
        fail "AppArmor: load a test profile with apparmor_parser" "$out"
      fi
    fi
  else
    aa_run unconfined-or-not
    check "no AppArmor on this host: process.apparmorProfile is refused in one line naming the field" "exit $RC: $OUT" \
      all_of "[ $RC != 0 ]" "[ $(wc -l <<<"$OUT") = 1 ]" "grep -q apparmorProfile <<<\"\$OUT\""
    oci_gone
  fi

  # a frozen cgroupsPath: refused as runc does, no hang
  FZ=craterun-suite-frozen-$$
  FD=$(expected_dir "$FZ" freezer); note_parents "$FD"; mkdir -p "$FD"
  echo "$FD" >> "$TMP/cgparents"   # the suite's own: removed at exit; the runtime's others must go
  expected_paths "$FZ" | grep -vxF "$FD" >> "$TMP/cgdirs"
  if [ "$V2" = 1 ]; then echo 1 > "$FD/cgroup.freeze"; else echo FROZEN > "$FD/freezer.state"; fi
  oci_try ".linux.cgroupsPath = \"$FZ\""
  check "create into a frozen cgroup: refused (\"container's cgroup unexpectedly frozen\"), no hang" "exit $RC: $OUT" \
    all_of "[ $RC != 0 ]" "grep -q \"container's cgroup unexpectedly frozen\" <<<\"\$OUT\"" "[ ! -e '$OST/$CID' ]"
  if [ "$V2" = 1 ]; then echo 0 > "$FD/cgroup.freeze"; else echo THAWED > "$FD/freezer.state"; fi
  oci_gone
  # delete --force of a container that made cgroups of its own below its cgroup
  jq --arg r "$ROOTFS" '.process.terminal = false | .process.args = ["sleep", "100"] | .root.path = $r' "$TMP/spec.json" > "$BUNDLE/config.json"
  CID=cgsuite-7b-child-$$
  if oci create --bundle "$BUNDLE" "$CID" >/dev/null 2>"$TMP/o.err" </dev/null; then
    for d in $(expected_paths "craterun-$CID"); do echo "$d" >> "$TMP/cgdirs"; [ -d "$d" ] && mkdir -p "$d/sub/deeper"; done
    oci delete --force "$CID" >/dev/null 2>"$TMP/o.err"; rc=$?
    left=$(leftover_expected "craterun-$CID")
    check "delete --force removes the cgroups the container made below its own (depth first)" "exit $rc $(< "$TMP/o.err"); left: $left" \
      all_of "[ $rc = 0 ]" "[ -z '$left' ]"
  else
    fail "delete --force with child cgroups" "create: $(< "$TMP/o.err")"
  fi
fi

# =======================================================================================
section "8. known runtime bugs (run with CGSUITE_KNOWN_BUGS=1; see tests/vm/README.md)"
# =======================================================================================
# Both fail at the time of writing; they stay out of the default run so that the suite
# guards what works. Drop the gate once they are fixed.
NAME8A="a limit the kernel refuses (cpuset.cpus 4000): create fails and leaves no cgroup dir"
NAME8B="v2: a caller in a populated non-root cgroup runs a container with --memory 32m"
if [ "${CGSUITE_KNOWN_BUGS:-0}" != 1 ]; then
  info "not run (known bugs; CGSUITE_KNOWN_BUGS=1 runs them): \"$NAME8A\"; \"$NAME8B\""
else
  # (a) Apply failing after Create: the directories must not stay behind
  if [ -f "$TMP/spec.json" ]; then
    CP=craterun-suite-refused-$$
    jq --arg r "$ROOTFS" --arg cp "$CP" '.process.terminal = false | .process.args = ["true"] | .root.path = $r
      | .linux.cgroupsPath = $cp | .linux.resources = {cpu: {cpus: "4000"}}' "$TMP/spec.json" > "$BUNDLE/config.json"
    dirs=$(expected_paths "$CP"); echo "$dirs" >> "$TMP/cgdirs"
    oci create --bundle "$BUNDLE" cgsuite-refused-$$ >/dev/null 2>"$TMP/o.err" </dev/null
    rc=$?
    left=$(leftover $dirs)
    check "$NAME8A" "exit $rc ($(< "$TMP/o.err")); left: $left" all_of "[ $rc != 0 ]" "[ -z '$left' ]"
  fi
  # (b) On a real v2 host the runtime runs inside a cgroup that has processes (a session
  # scope, a service); v2 enables no controller below such a cgroup ("no internal processes")
  if v2only "$NAME8B"; then
    if [ "${OWN[unified]:-}" != / ]; then
      info "not run: \"$NAME8B\" needs the suite in the root cgroup (as in the VM)"
    else
      SL=$CG/craterun-suite-caller-$$.slice
      printf '%s\n' "$SL" "$SL/session.scope" >> "$TMP/cgparents"
      mkdir -p "$SL/session.scope"
      # only this subshell (and the runtime it starts) moves; the scope is empty once it exits
      out=$(echo "$BASHPID" > "$SL/session.scope/cgroup.procs" &&
        "$CR" --root "$ST" run --rm --cidfile "$TMP/caller.cid" --memory 32m --rootfs "$ROOTFS" -- cat /sys/fs/cgroup/memory.max 2>&1)
      rc=$?
      id=$(rd "$TMP/caller.cid")
      [ -n "$id" ] && printf '%s\n' "$SL/session.scope/craterun-$id" "$SL/craterun-$id" >> "$TMP/cgdirs"
      check "$NAME8B" "exit $rc: $out" all_of "[ $rc = 0 ]" "[ '$out' = 33554432 ]"
    fi
  fi
fi

# =======================================================================================
section "9. nothing left behind"
# =======================================================================================
check "cleanup: every container cgroup dir the suite saw is gone" "left: $(mapfile -t ds < <(sort -u "$TMP/cgdirs"); leftover "${ds[@]}")" \
  all_gone "$TMP/cgdirs"
check "cleanup: no container left in the state roots" "left: $(ls "$ST" "$OST")" \
  all_of "[ -z '$(ls "$ST")' ]" "[ -z '$(ls "$OST")' ]"
now_mounts=$(our_mounts)
check "cleanup: no mount left below $TMP or $CG in the suite's mount namespace" \
  "new: $(comm -13 <(echo "$MOUNTS_BEFORE") <(echo "$now_mounts") | tr '\n' ' ')" [ "$now_mounts" = "$MOUNTS_BEFORE" ]

section "done"
info "took $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
