#!/bin/bash
# bench/network.sh [N]: what the default bridge network costs per container — CNI ADD before the
# process starts plus DEL after it exits — for craterun and for podman (4.3, CNI backend, the
# same Debian plugins in the same order: bridge + host-local, portmap, firewall, tuning).
# Root; run under flock /tmp/craterun-suite.lock. Everything runs in a network namespace made
# here (tests/fixtures/in-netns.sh), deleted at the end: this machine's own network is untouched.
#
# Each round, alternating: craterun run --rm with the bridge / with --network none, podman run
# --rm with its bridge network / with --network none (podman --rootfs, runc). The network's cost
# is median(bridge) - median(none) per tool; the ratio is craterun's cost over podman's.
# The floor: the same ADD and DEL chains exec'd directly (python3 timing only the plugin
# execs, a fresh namespace each round): what any CNI caller pays.
set -euo pipefail
N=${1:-20}
REPO=$(cd "$(dirname "$0")/.." && pwd)
B=${CRATERUN_BIN:-$REPO/out/craterun}
IN=$REPO/tests/fixtures/in-netns.sh
W=$(mktemp -d /tmp/craterun-bench-net.XXXXXX)
NS=crnet-bench-$$
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    rm -rf --one-file-system "$W"
}
trap cleanup EXIT
ip netns add "$NS"
"$IN" "$NS" ip link set lo up
"$REPO/tests/fixtures/make-rootfs.sh" "$W/rootfs" >/dev/null

mkdir -p "$W/cni" "$W/p"
cat > "$W/cni/bench.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "bench", "plugins": [
  { "type": "bridge", "bridge": "cni-bench0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$W/p/ipam", "routes": [{ "dst": "0.0.0.0/0" }],
              "ranges": [[{ "subnet": "10.213.0.0/16", "gateway": "10.213.0.1" }]] } },
  { "type": "portmap", "capabilities": { "portMappings": true } },
  { "type": "firewall" },
  { "type": "tuning" } ] }
JSON
cat > "$W/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = "$W/cni"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$W/containers.conf
P=(podman --root "$W/p/root" --runroot "$W/p/run" --tmpdir "$W/p/tmp" --storage-driver=overlay --runtime "$(command -v runc)")
PR=(--cgroups=no-conmon --cgroup-parent=. --rootfs "$W/rootfs" /bin/true)
C=("$B" --root "$W/c")

ms() { local t0 t1; t0=$(date +%s%N); "$IN" "$NS" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }

# warm-up: the default network's conflist is written, podman's storage made, caches filled
ms "${C[@]}" run --rm --rootfs "$W/rootfs" -- /bin/true >/dev/null
ms "${P[@]}" run --rm --network bench "${PR[@]}" >/dev/null
for _ in $(seq "$N"); do
    ms "${C[@]}" run --rm --rootfs "$W/rootfs" -- /bin/true >> "$W/c-bridge"
    ms "${C[@]}" run --rm --network none --rootfs "$W/rootfs" -- /bin/true >> "$W/c-none"
    ms "${P[@]}" run --rm --network bench "${PR[@]}" >> "$W/p-bridge"
    ms "${P[@]}" run --rm --network none "${PR[@]}" >> "$W/p-none"
done

# the floor: ADD then DEL of the same list, exec'd directly, timing the execs only
cat > "$W/floor.py" <<'PY'
import json, os, subprocess, sys, time
conf, n = json.load(open(sys.argv[1])), int(sys.argv[2])
times = []
for i in range(n):
    holder = subprocess.Popen(["unshare", "-n", "sleep", "30"])
    time.sleep(0.05)
    netns = f"/proc/{holder.pid}/ns/net"
    def call(cmd, plugin, prev):
        p = dict(plugin, cniVersion=conf["cniVersion"], name=conf["name"])
        if prev is not None: p["prevResult"] = prev
        env = {"PATH": os.environ["PATH"], "CNI_COMMAND": cmd, "CNI_CONTAINERID": f"floor{i}", "CNI_NETNS": netns,
               "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/lib/cni/" + plugin["type"]], input=json.dumps(p).encode(), env=env, capture_output=True)
        dt = time.perf_counter() - t0
        if r.returncode: sys.exit(f"{plugin['type']} {cmd}: {r.stdout} {r.stderr}")
        return dt, (json.loads(r.stdout) if cmd == "ADD" else prev)
    total, prev = 0.0, None
    for pl in conf["plugins"]:
        dt, prev = call("ADD", pl, prev); total += dt
    for pl in reversed(conf["plugins"]):
        dt, _ = call("DEL", pl, prev); total += dt
    holder.kill(); holder.wait()
    times.append(total * 1000)
times.sort()
print(f"{times[len(times)//2]:.1f}")
PY
floor=$("$IN" "$NS" python3 "$W/floor.py" "$W/c/.networks/bridge.conflist" "$N")

cb=$(median < "$W/c-bridge"); cn=$(median < "$W/c-none"); pb=$(median < "$W/p-bridge"); pn=$(median < "$W/p-none")
awk -v cb="$cb" -v cn="$cn" -v pb="$pb" -v pn="$pn" -v fl="$floor" -v n="$N" 'BEGIN {
    printf "N=%d rounds, alternating, medians (ms of wall time per run --rm /bin/true)\n", n
    printf "craterun: bridge %.1f, none %.1f -> network %.1f ms\n", cb, cn, cb - cn
    printf "podman:   bridge %.1f, none %.1f -> network %.1f ms\n", pb, pn, pb - pn
    printf "ratio craterun/podman (network setup+teardown): %.2fx\n", (cb - cn) / (pb - pn)
    printf "plugins exec'\''d directly (4 ADD + 4 DEL, the floor): %.1f ms = %.0f%% of craterun'\''s network cost\n", fl, 100 * fl / (cb - cn)
}'
