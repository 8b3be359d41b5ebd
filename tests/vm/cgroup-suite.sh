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
# cpu.cfs_quota_us, freezer.state, ...); checks that only mean something on v2 are printed as
# "SKIP name: v2 only" there.
#
# Output: one line per check, "PASS name" or "FAIL name: details" (and "SKIP name: why",
# "INFO ..."), then "N skipped" and, last, "N passed, N failed". Exit status 0 only if
# nothing failed (2: could not start at all).
#
# Everything it makes lives in a temp directory (state roots, bundles, the rootfs) and in
# cgroups named craterun-* / craterun-suite-*: all removed at the end, also on failure or
# SIGINT/SIGTERM. Processes are stopped by PID only.
#
# Environment: CRATERUN_BIN / CRATERUN_OCI_BIN (default out/craterun, out/craterun-oci),
# CGSUITE_TMP (parent of the temp directory, default /tmp).

set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CR=${CRATERUN_BIN:-$REPO/out/craterun}
OCI=${CRATERUN_OCI_BIN:-$REPO/out/craterun-oci}
CG=/sys/fs/cgroup
T0=$(date +%s.%N)

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
fail() { echo "FAIL $1: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-600)"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
info() { echo "INFO $*"; }
# check NAME DETAILS COMMAND...: PASS if COMMAND succeeds, else FAIL with DETAILS
check() {
  local name=$1 details=$2; shift 2
  if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$details"; fi
}
all_of() { local c; for c; do eval "$c" || return 1; done; }   # every shell condition holds
v2only() { [ "$V2" = 1 ] || { skip "$1" "v2 only (this host is cgroup v1)"; return 1; }; }

# ---------------------------------------------------------------------------------------
# Temp directory, bookkeeping and cleanup
# ---------------------------------------------------------------------------------------
TMP=$(mktemp -d "${CGSUITE_TMP:-/tmp}/craterun-cgsuite.XXXXXX") || die "mktemp"
ST=$TMP/state        # state root of the Docker-like face
OST=$TMP/oci-state   # state root of craterun-oci
mkdir -p "$ST" "$OST"
: > "$TMP/cgdirs"    # every container cgroup directory seen: must be gone at the end
: > "$TMP/cgparents" # parent directories the runtime created on the way (not its to remove)
: > "$TMP/pids"      # pids of processes the suite started outside containers' cleanup
MOUNTS_BEFORE=$(awk '{print $5}' /proc/self/mountinfo | sort)

cg_pids_of() {   # DIR: pids in a cgroup directory (empty if gone)
  [ -r "$1/cgroup.procs" ] && cat "$1/cgroup.procs" 2>/dev/null
}

cleanup() {
  local id d p i
  trap - EXIT INT TERM HUP
  for id in $(ls "$ST" 2>/dev/null); do timeout 30 "$CR" --root "$ST" rm -f "$id" >/dev/null 2>&1; done
  for id in $(ls "$OST" 2>/dev/null); do timeout 30 "$OCI" --root "$OST" delete --force "$id" >/dev/null 2>&1; done
  for p in $(cat "$TMP/pids"); do kill -9 "$p" 2>/dev/null; done
  # whatever the runtime left: its processes (by pid), then the directories, deepest first
  for d in $(sort -u "$TMP/cgdirs" "$TMP/cgparents" | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2-); do
    [ -d "$d" ] || continue
    for i in 1 2 3 4 5; do
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

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
cr() { timeout -k 5 90 "$CR" --root "$ST" "$@"; }
oci() { timeout -k 5 90 "$OCI" --root "$OST" "$@"; }

wait_for() {   # SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.1
  done
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
gone() { ! alive "$1"; }
no_dir() { [ ! -d "$1" ]; }

# own cgroup path in hierarchy C (v1 controller name) or in the unified one ("")
own_cgroup() {
  if [ -z "${1:-}" ]; then sed -n 's/^0:://p' /proc/self/cgroup; return; fi
  awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup
}
joinp() { local p="${1%/}/${2#/}"; printf '%s\n' "$p"; }

# expected_dirs CGROUPSPATH: where the runtime should put a container with this OCI cgroupsPath
# (relative: below our own cgroup, per controller on v1). One "controller dir" line each.
V1_CTRLS="cpu cpuacct cpuset memory devices freezer blkio pids"
expected_dirs() {
  local p=$1 c base
  if [ "$V2" = 1 ]; then
    case $p in /*) base=$p ;; *) base=$(joinp "$(own_cgroup)" "$p") ;; esac
    echo "unified $(joinp "$CG" "$base")"
  else
    for c in $V1_CTRLS; do
      [ -d "$CG/$c" ] || continue
      case $p in /*) base=$p ;; *) base=$(joinp "$(own_cgroup "$c")" "$p") ;; esac
      echo "$c $(joinp "$CG/$c" "$base")"
    done
  fi
}
# remember the ancestors of DIR that do not exist yet (the runtime creates them, leaves them)
note_parents() {
  local d
  d=$(dirname "$1")
  while [ ! -d "$d" ] && [ "$d" != / ]; do echo "$d" >> "$TMP/cgparents"; d=$(dirname "$d"); done
}

inspect() { cr inspect "$1" 2>/dev/null; }
cgpaths_json() { inspect "$1" | jq -c '.[0].cgroupPaths // {}'; }
# cgdir ID CONTROLLER: the container's directory for CONTROLLER (v2: the one unified dir)
cgdir() {
  local key=$2
  [ "$V2" = 1 ] && key=unified
  inspect "$1" | jq -r --arg k "$key" '.[0].cgroupPaths[$k] // empty'
}
record_dirs() {   # ID: add the container's cgroup dirs to the list that must be gone at the end
  inspect "$1" | jq -r '.[0].cgroupPaths // {} | .[]' >> "$TMP/cgdirs"
}
all_gone() {   # FILE-OF-DIRS
  local d
  while read -r d; do [ -z "$d" ] || [ ! -d "$d" ] || return 1; done < "$1"
}
leftover() {   # DIR...: those that still exist
  local d out=""
  for d; do [ -d "$d" ] && out="$out $d"; done
  echo "${out# }"
}

# file names per layout
if [ "$V2" = 1 ]; then
  MEM_MAX=memory.max; PIDS_MAX=pids.max
else
  MEM_MAX=memory.limit_in_bytes; PIDS_MAX=pids.max
fi
rd() { cat "$1" 2>/dev/null | head -c 2000; }   # a control file, or empty
stat_of() { awk -v k="$2" '$1 == k {print $2}' "$1" 2>/dev/null; }   # FILE KEY (flat keyed)
cpu_limit() {   # DIR: "quota period" in v2's spelling whatever the layout
  if [ "$V2" = 1 ]; then rd "$1/cpu.max"; else echo "$(rd "$1/cpu.cfs_quota_us") $(rd "$1/cpu.cfs_period_us")"; fi
}
is_frozen() {   # DIR (v2) / freezer DIR (v1)
  if [ "$V2" = 1 ]; then [ "$(stat_of "$1/cgroup.events" frozen)" = 1 ]; else [ "$(rd "$1/freezer.state")" = FROZEN ]; fi
}
is_thawed() {
  if [ "$V2" = 1 ]; then [ "$(stat_of "$1/cgroup.events" frozen)" = 0 ]; else [ "$(rd "$1/freezer.state")" = THAWED ]; fi
}
# pids of processes whose command line is exactly ARGS (joined by spaces)
pids_by_cmdline() {
  local want="$*" p c
  for p in /proc/[0-9]*; do
    c=$( { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null ) || continue
    [ "$c" = "$want " ] && echo "${p#/proc/}"
  done
}

# ---------------------------------------------------------------------------------------
# Rootfs: tests/fixtures/make-rootfs.sh when it is there, else a minimal busybox tree
# ---------------------------------------------------------------------------------------
ROOTFS=$TMP/rootfs
if [ -x "$REPO/tests/fixtures/make-rootfs.sh" ] || [ -f "$REPO/tests/fixtures/make-rootfs.sh" ]; then
  bash "$REPO/tests/fixtures/make-rootfs.sh" "$ROOTFS" >/dev/null || die "tests/fixtures/make-rootfs.sh failed"
  info "rootfs: tests/fixtures/make-rootfs.sh"
else
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

info "host: $(uname -r), $([ "$V2" = 1 ] && echo "cgroup v2 (cgroup2fs)" || echo "cgroup v1 ($CG is a tmpfs)"), own cgroup $(own_cgroup "$([ "$V2" = 1 ] || echo memory)")${CRATERUN_VM:+, in the VM}"

# =======================================================================================
# 1. A long-running container with memory and cpu limits; B a sibling with --cpus, --pids
# =======================================================================================
A=$(cr run -d --memory 32m --cpu "50000 100000" --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/a.err")
if [ -z "$A" ] || ! inspect "$A" >/dev/null; then
  fail "run -d (container A)" "no container: $(cat "$TMP/a.err")"
  A=""
else
  record_dirs "$A"
  A_PID=$(inspect "$A" | jq -r '.[0].pid')
  check "run -d (container A) is running" "status $(inspect "$A" | jq -r '.[0].status')" \
    [ "$(inspect "$A" | jq -r '.[0].status')" = running ]
fi
B=$(cr run -d --cpus 0.5 --pids 10 --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/b.err")
if [ -z "$B" ] || ! inspect "$B" >/dev/null; then
  fail "run -d (container B)" "no container: $(cat "$TMP/b.err")"; B=""
else
  record_dirs "$B"
fi

if [ -n "$A" ]; then
  P=$(cgpaths_json "$A")
  if [ "$V2" = 1 ]; then
    U=$(jq -r '.unified // empty' <<<"$P")
    want=$(expected_dirs "craterun-$A" | awk '{print $2}')
    check "layout: cgroupPaths is one \"unified\" dir under $CG" "cgroupPaths $P" \
      [ "$(jq -r 'keys | join(",")' <<<"$P")" = unified -a "${U#"$CG"/}" != "$U" -a -d "$U" ]
    check "layout: the default cgroup is craterun-<id> below our own cgroup" "got $U, expected $want" [ "$U" = "$want" ]
  else
    check "layout: cgroupPaths has per-controller keys (v1)" "cgroupPaths $P" \
      [ "$(jq -r '[.memory, .pids, .cpu, .freezer] | map(select(. != null)) | length' <<<"$P")" = 4 ]
    bad=""
    while read -r c want; do
      got=$(jq -r --arg c "$c" '.[$c] // empty' <<<"$P")
      [ "$got" = "$want" ] && [ -d "$got" ] || bad="$bad $c=$got (expected $want)"
    done < <(expected_dirs "craterun-$A")
    check "layout: each controller's dir is craterun-<id> below our own cgroup (memory below the machine's bound)" "$bad" [ -z "$bad" ]
  fi
  D=$(cgdir "$A" pids)
  check "container A: its init ($A_PID) is in its cgroup" "cgroup.procs of $D: $(cg_pids_of "$D" | tr '\n' ' ')" \
    grep -qx "$A_PID" "$D/cgroup.procs"

  MD=$(cgdir "$A" memory)
  check "memory: --memory 32m sets $MEM_MAX = 33554432" "$MD/$MEM_MAX = $(rd "$MD/$MEM_MAX")" \
    [ "$(rd "$MD/$MEM_MAX")" = 33554432 ]
  if [ "$V2" = 1 ]; then
    check "memory: memory.swap.max = 0 (no swap beyond the limit)" "$MD/memory.swap.max = $(rd "$MD/memory.swap.max")" \
      [ "$(rd "$MD/memory.swap.max")" = 0 ]
  elif [ -e "$MD/memory.memsw.limit_in_bytes" ]; then
    check "memory: memory.memsw.limit_in_bytes = limit (no swap beyond the limit)" \
      "$MD/memory.memsw.limit_in_bytes = $(rd "$MD/memory.memsw.limit_in_bytes")" \
      [ "$(rd "$MD/memory.memsw.limit_in_bytes")" = 33554432 ]
  else
    skip "memory: no swap beyond the limit" "this v1 host has no swap accounting (memory.memsw.*)"
  fi
  CD=$(cgdir "$A" cpu)
  check "cpu: --cpu \"50000 100000\" sets $([ "$V2" = 1 ] && echo cpu.max || echo cpu.cfs_quota_us/cfs_period_us)" \
    "$CD: $(cpu_limit "$CD")" [ "$(cpu_limit "$CD")" = "50000 100000" ]
fi
if [ -n "$B" ]; then
  CD=$(cgdir "$B" cpu)
  check "cpu: --cpus 0.5 sets $([ "$V2" = 1 ] && echo cpu.max || echo cpu.cfs_quota_us/cfs_period_us) = 50000 100000" \
    "$CD: $(cpu_limit "$CD")" [ "$(cpu_limit "$CD")" = "50000 100000" ]
  PD=$(cgdir "$B" pids)
  check "pids: --pids 10 sets pids.max = 10" "$PD/pids.max = $(rd "$PD/pids.max")" [ "$(rd "$PD/pids.max")" = 10 ]
fi

# =======================================================================================
# 2. What the container sees (cgroup namespace), with A and B running as siblings
# =======================================================================================
if [ "$V2" = 1 ]; then SEEN=$CG; else SEEN=$CG/pids; fi
  # (read by the shell itself: a cat would list itself and be gone before the check)
out=$(cr run --rm --cidfile "$TMP/ns.cid" --rootfs "$ROOTFS" -- sh -c "
  cat /proc/self/cgroup; echo ---
  while read p; do if [ -d /proc/\$p ]; then echo \$p; else echo foreign:\$p; fi; done < $SEEN/cgroup.procs; echo ---
  ls $SEEN | grep craterun; echo ---" 2>&1)
rc=$?
NS_ID=$(cat "$TMP/ns.cid" 2>/dev/null)
[ -n "$NS_ID" ] && expected_dirs "craterun-$NS_ID" | awk '{print $2}' >> "$TMP/cgdirs"
sec() { awk -v n="$1" 'BEGIN{RS="---\n"} NR == n' <<<"$out"; }
if [ "$rc" != 0 ]; then
  fail "cgroupns: run --rm a container that looks at its cgroups" "exit $rc: $out"
else
  if [ "$V2" = 1 ]; then
    check "cgroupns: /proc/self/cgroup in the container is exactly 0::/" "got: $(sec 1)" [ "$(sec 1)" = "0::/" ]
  else
    check "cgroupns: every /proc/self/cgroup line in the container ends in :/ (v1)" "got: $(sec 1)" \
      [ -z "$(grep -v ':/$' <<<"$(sec 1)")" -a -n "$(sec 1)" ]
  fi
  procs=$(sec 2)
  check "cgroupns: $SEEN/cgroup.procs inside lists only the container's pids" "got: $procs" \
    [ -n "$procs" -a -z "$(grep foreign <<<"$procs")" -a "$(head -n1 <<<"$procs")" = 1 ]
  check "cgroupns: no sibling craterun-* cgroup is visible inside ($SEEN)" "visible: $(sec 3)" [ -z "$(sec 3)" ]
  [ -n "$A" ] && [ -n "$B" ] || info "(siblings A/B were not running: the sibling check proves less)"
fi
if [ -n "$NS_ID" ]; then
  dirs=$(expected_dirs "craterun-$NS_ID" | awk '{print $2}')
  check "run --rm: the cgroup dir is gone after exit" "left: $(leftover $dirs)" [ -z "$(leftover $dirs)" ]
  check "run --rm: the state is gone after exit" "inspect still finds $NS_ID" bash -c "! '$CR' --root '$ST' inspect '$NS_ID'"
fi

# =======================================================================================
# 3. exec joins the container's cgroup; cpu throttling under cpu.max
# =======================================================================================
if [ -n "$A" ]; then
  out=$(cr exec "$A" -- cat /proc/self/cgroup 2>&1)
  if [ "$V2" = 1 ]; then
    check "exec: /proc/self/cgroup inside is 0::/ (joined the cgroup namespace)" "got: $out" [ "$out" = "0::/" ]
  fi
  cr exec -d "$A" -- sleep 4242 >"$TMP/exec.out" 2>&1
  wait_for 15 test -n "$(pids_by_cmdline sleep 4242)"
  EP=$(pids_by_cmdline sleep 4242 | head -n1)
  if [ -z "$EP" ]; then
    fail "exec: the exec'd process joins the container's cgroup" "exec -d sleep 4242 did not show up: $(cat "$TMP/exec.out")"
  else
    echo "$EP" >> "$TMP/pids"
    mine=$(cat "/proc/$EP/cgroup" 2>/dev/null); theirs=$(cat "/proc/$A_PID/cgroup" 2>/dev/null)
    check "exec: the exec'd process joins the container's cgroup (host view of /proc/PID/cgroup equals init's)" \
      "exec'd $EP: $(tr '\n' ' ' <<<"$mine") / init $A_PID: $(tr '\n' ' ' <<<"$theirs")" [ -n "$mine" -a "$mine" = "$theirs" ]
    kill -9 "$EP" 2>/dev/null
  fi

  CD=$(cgdir "$A" cpu)
  before=$(stat_of "$CD/cpu.stat" nr_throttled)
  # two spinning loops (a noisy host may give one loop less than the 0.5 CPU quota)
  cr exec "$A" -- sh -c 'while :; do :; done & p=$!; while :; do :; done & q=$!; sleep 1.5; kill $p $q' >/dev/null 2>&1
  after=$(stat_of "$CD/cpu.stat" nr_throttled)
  check "cpu: 1.5 s of busy loops under 50000/100000 is throttled (cpu.stat nr_throttled > 0)" \
    "nr_throttled ${before:-?} -> ${after:-?}; cpu.stat: $(tr '\n' ' ' < "$CD/cpu.stat" 2>/dev/null)" \
    [ "${after:-0}" -gt 0 ]
fi

# =======================================================================================
# 4. pids.max enforced
# =======================================================================================
out=$(cr run --rm --pids 10 --rootfs "$ROOTFS" -- sh -c \
  'i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); echo started $i; done; echo all-20-started' 2>&1)
rc=$?
n=$(grep -c '^started' <<<"$out")
check "pids: under --pids 10, forking 20 sleeps fails inside" \
  "exit $rc, $n forks succeeded: $(grep -v '^started' <<<"$out" | head -3)" \
  [ "$n" -lt 20 -a "$n" -ge 1 -a -z "$(grep all-20-started <<<"$out")" -a -n "$(grep -i 'fork\|resource temporarily' <<<"$out")" ]

# =======================================================================================
# 5. memory.max enforced: OOM kill, exit 137, oomKilled; cgroup gone after it
# =======================================================================================
HOG="dd if=/dev/zero of=/dev/null bs=64M count=1"
cr run --cidfile "$TMP/oom.cid" --memory 32m --rootfs "$ROOTFS" -- $HOG >"$TMP/oom.out" 2>&1
rc=$?
OOM_ID=$(cat "$TMP/oom.cid" 2>/dev/null)
check "memory: a 64 MiB hog under --memory 32m is killed, exit 137" "exit $rc: $(tail -c 300 "$TMP/oom.out")" [ "$rc" = 137 ]
if [ -n "$OOM_ID" ]; then
  expected_dirs "craterun-$OOM_ID" | awk '{print $2}' >> "$TMP/cgdirs"
  J=$(inspect "$OOM_ID" | jq -c '.[0] | {status, exitCode, oomKilled}')
  check "memory: inspect says oomKilled true, exitCode 137" "inspect: $J" \
    [ "$(jq -r '.oomKilled' <<<"$J")" = true -a "$(jq -r '.exitCode' <<<"$J")" = 137 ]
  dirs=$(expected_dirs "craterun-$OOM_ID" | awk '{print $2}')
  check "memory: the cgroup dir is gone once the OOM-killed container exited" "left: $(leftover $dirs)" [ -z "$(leftover $dirs)" ]
  cr rm "$OOM_ID" >/dev/null 2>&1
  check "rm: an OOM-killed container is removed" "inspect still finds $OOM_ID" bash -c "! '$CR' --root '$ST' inspect '$OOM_ID'"
fi
cr run --rm --cidfile "$TMP/oomrm.cid" --memory 32m --rootfs "$ROOTFS" -- $HOG >"$TMP/oomrm.out" 2>&1
rc=$?
OID=$(cat "$TMP/oomrm.cid" 2>/dev/null)
[ -n "$OID" ] && expected_dirs "craterun-$OID" | awk '{print $2}' >> "$TMP/cgdirs"
dirs=$([ -n "$OID" ] && expected_dirs "craterun-$OID" | awk '{print $2}')
check "run --rm after an OOM kill: exit 137, cgroup dir and state gone" \
  "exit $rc, id ${OID:-?}, left: $(leftover $dirs)" \
  [ "$rc" = 137 -a -n "$OID" -a -z "$(leftover $dirs)" -a ! -e "$ST/$OID" ]

# =======================================================================================
# 6. rm -f of running containers; of one whose monitor was SIGKILLed; --cgroup-parent
# =======================================================================================
for X in A B; do
  id=${!X}
  [ -n "$id" ] || continue
  dirs=$(inspect "$id" | jq -r '.[0].cgroupPaths // {} | .[]')
  ipid=$(inspect "$id" | jq -r '.[0].pid')
  cr rm -f "$id" >/dev/null 2>"$TMP/rm.err"
  rc=$?
  wait_for 5 gone "$ipid"
  left=$(leftover $dirs)
  check "rm -f (running container $X): cgroup dir, process and state gone" \
    "rc $rc $(cat "$TMP/rm.err"); left: $left; pid $ipid $(alive "$ipid" && echo alive || echo gone)" \
    all_of "[ $rc = 0 ]" "[ -z '$left' ]" "[ ! -e $ST/$id ]" "gone $ipid"
done

PARENT=craterun-suite-parent-$$
M=$(cr run -d --cgroup-parent "$PARENT" --memory 48m --rootfs "$ROOTFS" -- sleep 1000 2>"$TMP/m.err")
if [ -z "$M" ] || ! inspect "$M" >/dev/null; then
  fail "run -d --cgroup-parent" "no container: $(cat "$TMP/m.err")"
else
  record_dirs "$M"
  expected_dirs "$PARENT" | awk '{print $2}' >> "$TMP/cgparents"
  MD=$(cgdir "$M" memory)
  want=$(expected_dirs "$PARENT/craterun-$M" | awk '$1 == "unified" || $1 == "memory" {print $2}')
  check "--cgroup-parent: the cgroup is <own cgroup>/$PARENT/craterun-<id>, limit applied" \
    "memory dir $MD (expected $want), $MEM_MAX = $(rd "$MD/$MEM_MAX")" \
    [ "$MD" = "$want" -a "$(rd "$MD/$MEM_MAX")" = 50331648 ]
  MON=$(inspect "$M" | jq -r '.[0].monitorPid // 0')
  ipid=$(inspect "$M" | jq -r '.[0].pid')
  dirs=$(inspect "$M" | jq -r '.[0].cgroupPaths // {} | .[]')
  if [ "${MON:-0}" -gt 1 ] && [ "$MON" != $$ ] && alive "$MON"; then
    kill -9 "$MON"
    wait_for 10 gone "$MON"
    cr rm -f "$M" >/dev/null 2>"$TMP/rm.err"
    rc=$?
    wait_for 5 gone "$ipid"
    left=$(leftover $dirs)
    check "rm -f after the monitor was SIGKILLed: cgroup dir, process and state gone" \
      "monitor $MON; rc $rc $(cat "$TMP/rm.err"); left: $left; init $ipid $(alive "$ipid" && echo alive || echo gone)" \
      all_of "[ $rc = 0 ]" "[ -z '$left' ]" "[ ! -e $ST/$M ]" "gone $ipid"
  else
    fail "rm -f after the monitor was SIGKILLed" "inspect gave no live monitorPid (${MON:-none})"
    cr rm -f "$M" >/dev/null 2>&1
  fi
fi

# =======================================================================================
# 7. OCI face: relative and absolute cgroupsPath, pause/resume, update, events --stats
# =======================================================================================
BUNDLE=$TMP/bundle
mkdir -p "$BUNDLE"
if ! oci spec -b "$BUNDLE" >/dev/null 2>"$TMP/spec.err"; then
  fail "oci: spec" "$(cat "$TMP/spec.err")"
else
  make_config() {   # CGROUPSPATH
    jq --arg r "$ROOTFS" --arg cp "$1" '
      .process.terminal = false | .process.args = ["sleep", "1000"] | .root.path = $r | .root.readonly = false
      | .linux.cgroupsPath = $cp
      | .linux.resources = ((.linux.resources // {}) + {memory: {limit: 33554432}, pids: {limit: 10}})' \
      "$TMP/spec.json" > "$BUNDLE/config.json"
  }
  cp "$BUNDLE/config.json" "$TMP/spec.json"
  REL=craterun-suite-rel-$$/o1
  if [ "$V2" = 1 ]; then ABS=/craterun-suite-abs-$$; else ABS=$(joinp "$(own_cgroup memory)" "craterun-suite-abs-$$"); fi
  n=0
  for CP in "$REL" "$ABS"; do
    n=$((n + 1)); O=cgsuite-o$n-$$
    kind=$([ "$n" = 1 ] && echo relative || echo absolute)
    make_config "$CP"
    exp=$(expected_dirs "$CP")
    while read -r c d; do note_parents "$d"; echo "$d" >> "$TMP/cgdirs"; done <<<"$exp"
    if ! oci create --bundle "$BUNDLE" "$O" >"$TMP/o.out" 2>"$TMP/o.err" </dev/null; then
      fail "oci: create with $kind cgroupsPath $CP" "$(cat "$TMP/o.err")"
      continue
    fi
    ipid=$(oci state "$O" | jq -r .pid)
    bad=""
    while read -r c d; do
      [ -d "$d" ] && grep -qx "$ipid" "$d/cgroup.procs" 2>/dev/null || bad="$bad $c:$d"
    done <<<"$exp"
    check "oci: $kind cgroupsPath $CP lands in $(awk 'NR==1{print $2}' <<<"$exp")$([ "$V2" = 1 ] || echo " (and the other controllers')")" \
      "init $ipid not in:$bad" [ -z "$bad" ]
    oci start "$O" >/dev/null 2>"$TMP/o.err" || fail "oci: start ($kind)" "$(cat "$TMP/o.err")"
    [ "$n" = 2 ] && { oci delete --force "$O" >/dev/null 2>&1; check "oci: delete --force removes the $kind cgroup dir" \
      "left: $(leftover $(awk '{print $2}' <<<"$exp"))" [ -z "$(leftover $(awk '{print $2}' <<<"$exp"))" ]; continue; }

    # the relative one gets the full treatment
    if [ "$V2" = 1 ]; then D=$(awk '{print $2}' <<<"$exp"); FD=$D; MD=$D; PD=$D
    else FD=$(awk '$1=="freezer"{print $2}' <<<"$exp"); MD=$(awk '$1=="memory"{print $2}' <<<"$exp"); PD=$(awk '$1=="pids"{print $2}' <<<"$exp"); fi
    check "oci: state is running after start" "$(oci state "$O" 2>&1 | jq -c '{status}' 2>/dev/null)" \
      [ "$(oci state "$O" | jq -r .status)" = running ]
    oci pause "$O" >/dev/null 2>"$TMP/o.err"
    st=$(oci state "$O" | jq -r .status)
    check "oci: pause: state paused, $([ "$V2" = 1 ] && echo "cgroup.events frozen 1" || echo "freezer.state FROZEN")" \
      "rc/err: $(cat "$TMP/o.err"); status $st; $([ "$V2" = 1 ] && echo "frozen=$(stat_of "$FD/cgroup.events" frozen) cgroup.freeze=$(rd "$FD/cgroup.freeze")" || echo "freezer.state=$(rd "$FD/freezer.state")")" \
      all_of "[ $st = paused ]" "is_frozen $FD"
    if [ "$V2" = 1 ]; then
      check "oci: pause writes cgroup.freeze = 1" "cgroup.freeze=$(rd "$FD/cgroup.freeze")" [ "$(rd "$FD/cgroup.freeze")" = 1 ]
    fi
    check "oci: a paused container's init is stopped (state in /proc)" "$(grep State: /proc/$ipid/status)" \
      grep -q '^State:.*[DT(]' "/proc/$ipid/status"
    oci resume "$O" >/dev/null 2>"$TMP/o.err"
    st=$(oci state "$O" | jq -r .status)
    check "oci: resume: state running, thawed" \
      "err: $(cat "$TMP/o.err"); status $st; $([ "$V2" = 1 ] && echo "frozen=$(stat_of "$FD/cgroup.events" frozen)" || echo "freezer.state=$(rd "$FD/freezer.state")")" \
      all_of "[ $st = running ]" "is_thawed $FD"

    oci update --memory 64m "$O" >/dev/null 2>"$TMP/o.err"
    check "oci: update --memory 64m sets $MEM_MAX = 67108864" "err: $(cat "$TMP/o.err"); $MEM_MAX = $(rd "$MD/$MEM_MAX")" \
      [ "$(rd "$MD/$MEM_MAX")" = 67108864 ]
    if [ "$V2" = 1 ]; then
      check "oci: update --memory keeps memory.swap.max = 0" "memory.swap.max = $(rd "$MD/memory.swap.max")" \
        [ "$(rd "$MD/memory.swap.max")" = 0 ]
    fi
    oci update --pids-limit 20 "$O" >/dev/null 2>"$TMP/o.err"
    check "oci: update --pids-limit 20 sets pids.max = 20" "err: $(cat "$TMP/o.err"); pids.max = $(rd "$PD/pids.max")" \
      [ "$(rd "$PD/pids.max")" = 20 ]
    CD=$([ "$V2" = 1 ] && echo "$D" || awk '$1=="cpu"{print $2}' <<<"$exp")
    echo '{"cpu": {"quota": 25000, "period": 100000}}' | oci update --resources - "$O" >/dev/null 2>"$TMP/o.err"
    check "oci: update --resources - (cpu quota 25000/100000)" "err: $(cat "$TMP/o.err"); $(cpu_limit "$CD")" \
      [ "$(cpu_limit "$CD")" = "25000 100000" ]
    ev=$(oci events --stats "$O" 2>&1 | head -n1)
    usage=$(jq -r '.data.memory.usage.usage // empty' <<<"$ev" 2>/dev/null)
    limit=$(jq -r '.data.memory.usage.limit // empty' <<<"$ev" 2>/dev/null)
    check "oci: events --stats prints memory usage (> 0, limit 64m)" "event: $(cut -c1-400 <<<"$ev")" \
      [ "$(jq -r .type <<<"$ev" 2>/dev/null)" = stats -a "${usage:-0}" -gt 0 -a "$limit" = 67108864 ]
    oci delete --force "$O" >/dev/null 2>"$TMP/o.err"
    check "oci: delete --force removes the $kind cgroup dir and the state" \
      "err: $(cat "$TMP/o.err"); left: $(leftover $(awk '{print $2}' <<<"$exp"))" \
      [ -z "$(leftover $(awk '{print $2}' <<<"$exp"))" -a ! -e "$OST/$O" ]
  done
fi

# =======================================================================================
# 8. Nothing left behind
# =======================================================================================
check "cleanup: every container cgroup dir the suite saw is gone" "left: $(leftover $(sort -u "$TMP/cgdirs"))" \
  all_gone "$TMP/cgdirs"
check "cleanup: no container left in the state roots" "left: $(ls "$ST" "$OST" | tr '\n' ' ')" \
  [ -z "$(ls "$ST")" -a -z "$(ls "$OST")" ]
check "cleanup: no mount left in our mount namespace" "" \
  [ "$(awk '{print $5}' /proc/self/mountinfo | sort)" = "$MOUNTS_BEFORE" ]

info "took $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
