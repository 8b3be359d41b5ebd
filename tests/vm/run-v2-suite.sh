#!/bin/bash
# run-v2-suite.sh - tests/vm/cgroup-suite.sh on both cgroup layouts: first in the throwaway
# cgroup v2 VM (tests/vm/cgv2-vm.sh), then on this host (cgroup v1 in hybrid mode here).
#
#   tests/vm/run-v2-suite.sh [--vm-only | --host-only]
#
# Builds nothing: it expects out/craterun (dotnet publish src/CrateRun.Cli -c Release -o out).
# Run as root from anywhere. The guest's output is streamed as it comes, each part is
# timed, and a summary ends the run. Exit status 0 only if every part that ran passed;
# a VM that does not boot (cgv2-vm.sh exit 125) or times out (124) is a failure, never a skip.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

VM=1 HOST=1
case "${1:-}" in
  "") ;;
  --vm-only) HOST=0 ;;
  --host-only) VM=0 ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--vm-only | --host-only]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "run-v2-suite.sh: must run as root" >&2; exit 2; }
[ -x "${CRATERUN_BIN:-out/craterun}" ] || {
  echo "run-v2-suite.sh: no out/craterun: dotnet publish src/CrateRun.Cli -c Release -o out" >&2; exit 2; }

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
tally() { grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n1; }

LOG=$(mktemp -d /tmp/run-v2-suite.XXXXXX)
trap 'rm -rf --one-file-system "$LOG"' EXIT
# A snapshot of the binaries, taken now: others may rebuild out/ while the VM runs, and the
# guest's cached view of a file replaced under it is not to be trusted.
mkdir "$LOG/bin"
cp "${CRATERUN_BIN:-out/craterun}" "$LOG/bin/craterun" || exit 2
if [ -n "${CRATERUN_OCI_BIN:-}" ]; then cp "$CRATERUN_OCI_BIN" "$LOG/bin/craterun-oci" || exit 2
else ln -s craterun "$LOG/bin/craterun-oci"; fi
export CRATERUN_BIN=$LOG/bin/craterun CRATERUN_OCI_BIN=$LOG/bin/craterun-oci
failed=0
summary=()

if [ "$VM" = 1 ]; then
  # The rootfs is built here, where it takes a second (~25 s of forks under TCG); the guest
  # sees the host's /tmp read-only, which is all the suite needs of it.
  envs=()
  if [ -f tests/fixtures/make-rootfs.sh ] && bash tests/fixtures/make-rootfs.sh "$LOG/rootfs" >/dev/null; then
    envs=(--env "CGSUITE_ROOTFS=$LOG/rootfs")
  fi
  envs+=(--env CRATERUN_BIN --env CRATERUN_OCI_BIN)
  [ -n "${CGSUITE_KNOWN_BUGS:-}" ] && envs+=(--env CGSUITE_KNOWN_BUGS)
  echo "=== cgroup v2 VM: tests/vm/cgv2-vm.sh --timeout 280 ${envs[*]} -- tests/vm/cgroup-suite.sh"
  t0=$(now)
  tests/vm/cgv2-vm.sh --timeout 280 "${envs[@]}" -- tests/vm/cgroup-suite.sh 2>&1 | tee "$LOG/vm.out"
  rc=${PIPESTATUS[0]}
  t=$(secs "$t0" "$(now)")
  what="exit $rc"
  case $rc in
    125) what="the VM could not be set up or did not boot (cgv2-vm.sh exit 125)" ;;
    124) what="timed out after 280 s (cgv2-vm.sh exit 124)" ;;
    0) if ! grep -q '^INFO host: .*cgroup v2' "$LOG/vm.out"; then
         rc=1; what="the suite did not find cgroup v2 in the guest"
       elif [ -z "$(tally "$LOG/vm.out")" ]; then
         rc=1; what="the suite printed no final tally"
       fi ;;
  esac
  if [ "$rc" = 0 ]; then
    summary+=("v2 (VM):   ok     $(tally "$LOG/vm.out"), ${t} s including boot")
  else
    failed=1
    tl=$(tally "$LOG/vm.out"); summary+=("v2 (VM):   FAILED $what; ${tl:+$tl, }${t} s")
  fi
fi

if [ "$HOST" = 1 ]; then
  layout=$([ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && echo v2 || echo v1)
  echo "=== this host (cgroup $layout): tests/vm/cgroup-suite.sh"
  t0=$(now)
  tests/vm/cgroup-suite.sh 2>&1 | tee "$LOG/host.out"
  rc=${PIPESTATUS[0]}
  t=$(secs "$t0" "$(now)")
  if [ "$rc" = 0 ] && [ -n "$(tally "$LOG/host.out")" ]; then
    summary+=("$layout (host): ok     $(tally "$LOG/host.out"), ${t} s")
  else
    failed=1
    tl=$(tally "$LOG/host.out"); summary+=("$layout (host): FAILED exit $rc; ${tl:+$tl, }${t} s")
  fi
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
