#!/usr/bin/env bash
# make-bundle.sh DIR [CGROUP_NAME]
#
# Builds a minimal OCI bundle in DIR for the benchmarks:
#   DIR/rootfs       busybox rootfs (static /bin/busybox from Debian's busybox-static,
#                    one symlink per applet in /bin)
#   DIR/config.json  `runc spec` output, adjusted with jq:
#                      process.args        ["/bin/true"]
#                      process.terminal    false
#                      root.path           "rootfs"
#                      linux.cgroupsPath   CGROUP_NAME (default "bench-<random>"): a RELATIVE
#                                          path, so every runtime puts the container's cgroup
#                                          below its own cgroup (memory: /process_api/<id>/...)
#                      process.rlimits     removed (runc's default spec asks for NOFILE 1024;
#                                          craterun's `run` sets none, and nothing may exceed
#                                          the hard limit here: no CAP_SYS_RESOURCE)
# DIR must not exist, or be empty. Prints DIR on success.
set -euo pipefail

usage() { echo "usage: $0 DIR [CGROUP_NAME]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
dir=$1
cg=${2:-bench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')}

case $cg in
    /*) echo "$0: cgroup name '$cg' must be relative (no leading /): see this-machine.md" >&2; exit 2 ;;
    *..*) echo "$0: cgroup name '$cg' must not contain '..'" >&2; exit 2 ;;
esac

for tool in runc jq; do
    command -v "$tool" >/dev/null || { echo "$0: '$tool' not found (apt-get install $tool)" >&2; exit 1; }
done
busybox=/bin/busybox
if ! [[ -x $busybox ]] || ! dpkg -S "$busybox" 2>/dev/null | grep -q '^busybox-static:'; then
    # /bin/busybox may be the dynamic one from the "busybox" package; we need the static one
    echo "$0: $busybox is not from busybox-static (apt-get install busybox-static)" >&2
    exit 1
fi

if [[ -e $dir ]] && [[ -n $(ls -A "$dir") ]]; then
    echo "$0: $dir exists and is not empty" >&2
    exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)

rootfs=$dir/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc,root,run,var}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

(cd "$dir" && runc spec)   # writes $dir/config.json; fails if one already exists
tmp=$dir/config.json.tmp
jq --arg cg "$cg" '
    .process.args = ["/bin/true"]
  | .process.terminal = false
  | .root.path = "rootfs"
  | .linux.cgroupsPath = $cg
  | del(.process.rlimits)
' "$dir/config.json" >"$tmp"
mv "$tmp" "$dir/config.json"

echo "$dir"
