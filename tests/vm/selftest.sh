#!/bin/bash
# selftest.sh - smoke check of tests/vm/cgv2-vm.sh: boots the VM a few times and
# asserts, from inside the guest and from the host, what the harness promises.
# usage: tests/vm/selftest.sh          (as root; the first run fetches the kernel)
# Ends with "N passed, N failed"; exit status 0 only if nothing failed.
#
# Internally it also runs as `selftest.sh --guest ...` inside the VM: that half prints
# one "ok - ..." / "not ok - ..." line per check and exits with the number of failures.

set -uo pipefail

# ---------------------------------------------------------------------------------
# Guest half: runs as root inside the VM
# ---------------------------------------------------------------------------------
# Helpers of the guest checks (each succeeds or fails, quietly).
has_words() {   # FILE WORD...: every WORD is a word of FILE
  local f=$1 w; shift
  for w; do grep -qw -- "$w" "$f" || return 1; done
}
fstype() { [ "$(stat -fc %T "$1")" = "$2" ]; }   # PATH TYPE
mount_opt() {   # MOUNTPOINT OPTION: OPTION among the mount's or the superblock's options
  awk -v m="$1" -v o="$2" '$5 == m && ("," $6 "," $NF ",") ~ "," o "," {f=1} END {exit !f}' \
    /proc/self/mountinfo
}
cg_child() {   # a child cgroup takes a memory limit and a pids limit
  local d=/sys/fs/cgroup/selftest.$$ rc
  mkdir "$d" || return 1
  echo 64M > "$d/memory.max" && echo 32 > "$d/pids.max" &&
    [ "$(cat "$d/memory.max")" = 67108864 ] && [ "$(cat "$d/pids.max")" = 32 ]
  rc=$?
  rmdir "$d"
  return "$rc"
}
run_is_fresh() {   # a tmpfs holding nothing but the harness' own job directory
  local e
  fstype /run tmpfs || return 1
  for e in /run/* /run/.[!.]*; do
    [ ! -e "$e" ] || [ "$e" = /run/craterun-vm ] || return 1
  done
}
lo_is_up() { [ $(( $(cat /sys/class/net/lo/flags) & 1 )) = 1 ]; }
root_writable() { echo x > /etc/selftest-write && rm /etc/selftest-write; }
write_to() { echo "$2" > "$1"; }   # FILE TEXT

guest_checks() {   # OUTDIR HOST_CWD HOST_NOFILE TMP_MARKER
  local out=$1 host_cwd=$2 host_nofile=$3 marker=$4 failed=0
  t() {   # DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then echo "ok - $what"; else echo "not ok - $what"; failed=$((failed + 1)); fi
  }
  t "/sys/fs/cgroup is cgroup2fs"             fstype /sys/fs/cgroup cgroup2fs
  t "subtree_control has memory pids cpu"     has_words /sys/fs/cgroup/cgroup.subtree_control memory pids cpu
  t "every controller is enabled at the root" \
    [ "$(cat /sys/fs/cgroup/cgroup.controllers)" = "$(cat /sys/fs/cgroup/cgroup.subtree_control)" ]
  t "cgroup2 is mounted with nsdelegate"      mount_opt /sys/fs/cgroup nsdelegate
  t "a child cgroup takes memory.max/pids.max" cg_child
  t "cwd is the caller's ($host_cwd)"         [ "$PWD" = "$host_cwd" ]
  t "cwd content is visible"                  [ -r tests/vm/selftest.sh ]
  t "runs as root"                            [ "$(id -u)" = 0 ]
  t "CRATERUN_VM=1"                           [ "${CRATERUN_VM:-}" = 1 ]
  t "--env NAME=VALUE is set"                 [ "${SELFTEST_VALUE:-}" = "a 'b' \$c" ]
  t "ulimit -n >= host's ($host_nofile)"      [ "$(ulimit -n)" -ge "$host_nofile" ]
  t "/ is an overlay"                         fstype / overlayfs
  t "/ is writable (upper layer)"             root_writable
  t "the host's /tmp is visible"              [ -e "$marker" ]
  t "/run is a fresh tmpfs"                   run_is_fresh
  t "/dev/pts is devpts"                      fstype /dev/pts devpts
  t "/dev/shm is tmpfs"                       fstype /dev/shm tmpfs
  t "/dev/mqueue is mqueue"                   fstype /dev/mqueue mqueue
  t "/proc is proc"                           fstype /proc proc
  t "/sys is sysfs"                           fstype /sys sysfs
  t "/dev/null is a char device"              [ -c /dev/null ]
  t "loopback is up"                          lo_is_up
  t "write under --out DIR"                   write_to "$out/from-guest" from-guest
  t "write to the host's /tmp (stays in the guest)" write_to "$marker.guest" guest
  echo "guest-stderr-line" >&2
  return "$failed"
}

if [ "${1:-}" = --guest ]; then
  shift
  guest_checks "$@"
  exit
fi

# ---------------------------------------------------------------------------------
# Host half
# ---------------------------------------------------------------------------------
here=$(cd "$(dirname "$0")" && pwd)
vm=$here/cgv2-vm.sh
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1

work=$(mktemp -d /tmp/craterun-vm-selftest.XXXXXX) || exit 1
export TMPDIR=$work/tmp           # the harness' run directories land here: checked at the end
mkdir -p "$TMPDIR" "$work/out"
bg_pid=''
cleanup() {
  [ -z "$bg_pid" ] || { kill -TERM "$bg_pid" 2>/dev/null; wait "$bg_pid" 2>/dev/null; }
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

passed=0 failed=0
check() {   # DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; passed=$((passed + 1))
  else echo "not ok - $what"; failed=$((failed + 1)); fi
}
status_is() {   # EXPECTED ACTUAL
  [ "$1" = "$2" ] || { echo "  expected exit status $1, got $2" >&2; return 1; }
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# 1. One boot: the guest half checks the guest, the host checks what came back.
marker=$work/marker; touch "$marker"
start=$(now_ms)
"$vm" --out "$work/out" --env "SELFTEST_VALUE=a 'b' \$c" -- \
  "$here/selftest.sh" --guest "$work/out" "$root" "$(ulimit -n)" "$marker" \
  > "$work/stdout" 2> "$work/stderr"
rc=$?
echo "# boot 1 (guest checks) took $(secs "$start") s"
sed 's/^/  guest: /' "$work/stdout"
check "guest checks all passed" status_is 0 "$rc"
check "guest stdout came back" grep -q '^ok - /sys/fs/cgroup is cgroup2fs$' "$work/stdout"
check "guest stderr came back on stderr" grep -q '^guest-stderr-line$' "$work/stderr"
check "stderr did not leak into stdout" bash -c "! grep -q guest-stderr-line '$work/stdout'"
check "file written under --out DIR is on the host" grep -qx from-guest "$work/out/from-guest"
check "guest writes to /tmp do not reach the host" test ! -e "$marker.guest"
[ "$rc" = 0 ] || { echo "# guest stderr:"; sed 's/^/  /' "$work/stderr"; }

# 2. Exit status propagation.
start=$(now_ms)
"$vm" -- sh -c 'exit 7'; rc=$?
echo "# boot 2 (exit 7) took $(secs "$start") s"
check "exit status of the command propagates (7)" status_is 7 "$rc"

# 3. A boot that fails (the kernel finds no init and panics) is a setup failure.
CRATERUN_VM_APPEND=rdinit=/nonexistent "$vm" -- true 2>/dev/null; rc=$?
check "a failing boot returns 125" status_is 125 "$rc"
CRATERUN_VM_QEMU_ARGS=--no-such-option "$vm" -- true 2>/dev/null; rc=$?
check "a qemu that does not start returns 125" status_is 125 "$rc"
"$vm" --mem 64 -- true 2>/dev/null; rc=$?
check "a bad option returns 125" status_is 125 "$rc"

# 4. --timeout: a command that outlives it gives 124.
"$vm" --timeout 8 -- sleep 600 2>/dev/null; rc=$?
check "--timeout expiring returns 124" status_is 124 "$rc"

# 5. SIGTERM to the harness stops the VM and cleans up (exit 143).
"$vm" -- sleep 600 2>/dev/null & bg_pid=$!
sleep 3
kids=$(cat /proc/"$bg_pid"/task/*/children 2>/dev/null)   # qemu and the output readers
kill -TERM "$bg_pid"; wait "$bg_pid"; rc=$?; bg_pid=''
check "SIGTERM stops the harness with 143" status_is 143 "$rc"
alive() { local p; for p in $kids; do [ ! -e "/proc/$p" ] || return 0; done; return 1; }
check "SIGTERM leaves no qemu behind (pids: ${kids:-none seen})" bash -c "[ -n '$kids' ]" && ! alive

# 6. Nothing left behind by any of the runs above.
check "no run directory left behind" test -z "$(ls -A "$TMPDIR")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
