#!/bin/bash
# bench/network.sh [N]: what the default bridge network costs per container — CNI ADD before the
# process starts plus DEL after it exits — for craterun and for podman (4.3, CNI backend, the
# same Debian plugins in the same order: bridge + host-local, portmap, firewall, tuning).
# Root; run under flock /tmp/craterun-suite.lock. Everything runs in a network namespace made
# here (tests/fixtures/in-netns.sh), deleted at the end: this machine's own network is untouched.
#
# Each round, alternating: craterun run --rm with the bridge / with --network none, podman run
# --rm with its bridge network / with --network none (podman --rootfs, runc). The network's cost
# is median(bridge) - median(none) per tool, for wall time and for CPU time (user+sys of the whole
# process tree: cpuacct.usage of a v1 cpuacct cgroup this script enters, bench/lib.sh, charged
# until every process of the run has exited); the ratio is craterun's cost over podman's.
# Two phases: quiet, then with both cores busy (one busy loop per CPU, outside the accounting).
# The floor: the plugin chains exec'd directly (python3 timing only the plugin execs, wall and
# CPU of the plugins and what they exec, a fresh namespace each round): the full list (what
# podman runs) and the list craterun runs for a container without ports (bridge, firewall:
# portmap and tuning have nothing to do then, CniProtocol.PluginsToRun), its DEL after the
# namespace is gone as craterun's is. What any CNI caller pays; CPU also per plugin.
# CRATERUN_OLD_BIN=PATH: an older craterun also runs in every round (before/after in one run).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export CRATERUN_NETWORK= # the product's default (bridge), inside the namespace made here
need_root_tools
parse_n "${1:-}" 20
make_workdir net
B=$CRATERUN
IN=$REPO_DIR/tests/fixtures/in-netns.sh
NS=crnet-bench-$$
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    remove_work_and_exit $?
}
install_cleanup_traps
snapshot_binaries "$WORK"
B=$CRATERUN
ip netns add "$NS"
"$IN" "$NS" ip link set lo up
"$REPO_DIR/tests/fixtures/make-rootfs.sh" "$WORK/rootfs" >/dev/null

mkdir -p "$WORK/cni" "$WORK/p"
cat > "$WORK/cni/bench.conflist" <<JSON
{ "cniVersion": "1.0.0", "name": "bench", "plugins": [
  { "type": "bridge", "bridge": "cni-bench0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$WORK/p/ipam", "routes": [{ "dst": "0.0.0.0/0" }],
              "ranges": [[{ "subnet": "10.213.0.0/16", "gateway": "10.213.0.1" }]] } },
  { "type": "portmap", "capabilities": { "portMappings": true } },
  { "type": "firewall" },
  { "type": "tuning" } ] }
JSON
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = "$WORK/cni"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$WORK/containers.conf
P=(podman --root "$WORK/p/root" --runroot "$WORK/p/run" --tmpdir "$WORK/p/tmp" --storage-driver=overlay --runtime "$(command -v runc)")
PR=(--cgroups=no-conmon --cgroup-parent=. --rootfs "$WORK/rootfs" /bin/true)
C=("$B" --root "$WORK/c")
# CRATERUN_OLD_BIN=PATH: an older build runs in the same rounds (its own state root), for before/after
O=()
if [[ -n ${CRATERUN_OLD_BIN:-} ]]; then
    cp "$CRATERUN_OLD_BIN" "$WORK/craterun-old"
    O=("$WORK/craterun-old" --root "$WORK/o")
fi

cpu_acct_enter
export SETTLE=1 # CPU charged until the monitor (conmon) of each run has exited
one() { # FILE CMD...: one timed run in the namespace, "wall_us cpu_us" appended to FILE
    local file=$1; shift
    timed "$IN" "$NS" "$@"
    echo "$LAST_US ${LAST_CPU_US:-0}" >> "$WORK/$file"
}
rounds() { # PHASE
    local i
    for ((i = 0; i < N; i++)); do
        one "$1-c-bridge" "${C[@]}" run --rm --rootfs "$WORK/rootfs" -- /bin/true
        one "$1-c-none" "${C[@]}" run --rm --network none --rootfs "$WORK/rootfs" -- /bin/true
        if ((${#O[@]})); then
            one "$1-o-bridge" "${O[@]}" run --rm --rootfs "$WORK/rootfs" -- /bin/true
            one "$1-o-none" "${O[@]}" run --rm --network none --rootfs "$WORK/rootfs" -- /bin/true
        fi
        one "$1-p-bridge" "${P[@]}" run --rm --network bench "${PR[@]}"
        one "$1-p-none" "${P[@]}" run --rm --network none "${PR[@]}"
    done
}
# warm-up: the default network's conflist is written, podman's storage made, caches filled
for _ in 1 2; do
    one warm "${C[@]}" run --rm --rootfs "$WORK/rootfs" -- /bin/true
    one warm "${P[@]}" run --rm --network bench "${PR[@]}"
    ((${#O[@]} == 0)) || one warm "${O[@]}" run --rm --rootfs "$WORK/rootfs" -- /bin/true
done
rounds quiet
start_hogs "$(nproc)"
rounds busy
stop_hogs

# the floor: ADD then DEL of a list, exec'd directly, timing the execs only (wall, and CPU of the
# plugins and their children: RUSAGE_CHILDREN, every plugin waits for what it execs)
cat > "$WORK/floor.py" <<'PY'
# floor.py CONFLIST N [TYPES [gone]]: median wall and CPU (ms) of ADD then DEL of the list's plugins
# (only TYPES when given), then the median CPU of each plugin's ADD+DEL. "gone": DEL runs after the
# namespace is gone, with CNI_NETNS empty, as craterun's does once the container has exited
# (podman's DEL runs while its namespace is still mounted).
import json, os, resource, subprocess, sys, time
conf, n = json.load(open(sys.argv[1])), int(sys.argv[2])
if len(sys.argv) > 3: conf["plugins"] = [p for p in conf["plugins"] if p["type"] in sys.argv[3].split(",")]
gone = len(sys.argv) > 4 and sys.argv[4] == "gone"
walls, cpus, per = [], [], {p["type"]: [] for p in conf["plugins"]}
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for i in range(n):
    holder = subprocess.Popen(["unshare", "-n", "sleep", "30"])
    time.sleep(0.05)
    netns = f"/proc/{holder.pid}/ns/net"
    def call(cmd, plugin, prev, ns):
        p = dict(plugin, cniVersion=conf["cniVersion"], name=conf["name"])
        if prev is not None: p["prevResult"] = prev
        env = {"PATH": os.environ["PATH"], "CNI_COMMAND": cmd, "CNI_CONTAINERID": f"floor{os.getpid()}-{i}", "CNI_NETNS": ns,
               "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}
        t0, c0 = time.perf_counter(), cpu()
        r = subprocess.run(["/usr/lib/cni/" + plugin["type"]], input=json.dumps(p).encode(), env=env, capture_output=True)
        dt, dc = time.perf_counter() - t0, cpu() - c0
        if r.returncode: sys.exit(f"{plugin['type']} {cmd}: {r.stdout} {r.stderr}")
        return dt, dc, (json.loads(r.stdout) if cmd == "ADD" else prev)
    wall = cput = 0.0
    prev = None
    mine = {}
    for pl in conf["plugins"]:
        dt, dc, prev = call("ADD", pl, prev, netns); wall += dt; cput += dc; mine[pl["type"]] = dc
    if gone:
        holder.kill(); holder.wait()
    for pl in reversed(conf["plugins"]):
        dt, dc, _ = call("DEL", pl, prev, "" if gone else netns); wall += dt; cput += dc; mine[pl["type"]] += dc
    if not gone:
        holder.kill(); holder.wait()
    walls.append(wall * 1000); cpus.append(cput * 1000)
    for t, c in mine.items(): per[t].append(c * 1000)
med = lambda v: sorted(v)[len(v) // 2]
print(f"{med(walls):.1f} {med(cpus):.1f} " + ",".join(f"{t}={med(v):.1f}" for t, v in per.items()))
PY
floor_full=$("$IN" "$NS" python3 "$WORK/floor.py" "$WORK/c/.networks/bridge.conflist" "$N")
floor_ours=$("$IN" "$NS" python3 "$WORK/floor.py" "$WORK/c/.networks/bridge.conflist" "$N" bridge,firewall gone)

col() { cut -d' ' -f"$1" "$WORK/$2" | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
print_header "network setup+teardown per container: craterun vs podman (CNI), N=$N"
[[ -n $CPU_ACCT ]] || echo "CPU: n/a ($CPU_ACCT_WHY)"
for phase in quiet busy; do
    for k in 1 2; do
        what=$([[ $k == 1 ]] && echo wall || echo CPU)
        awk -v ph="$phase" -v w="$what" -v cb="$(col $k "$phase-c-bridge")" -v cn="$(col $k "$phase-c-none")" \
            -v pb="$(col $k "$phase-p-bridge")" -v pn="$(col $k "$phase-p-none")" 'BEGIN {
            printf "%-5s %-4s craterun: bridge %6.1f none %6.1f -> network %6.1f ms | podman: bridge %6.1f none %6.1f -> network %6.1f ms | ratio %.2fx\n",
                ph, w, cb, cn, cb - cn, pb, pn, pb - pn, ((pb - pn) > 0 ? (cb - cn) / (pb - pn) : 0)
        }'
        if ((${#O[@]})); then
            awk -v ph="$phase" -v w="$what" -v cb="$(col $k "$phase-o-bridge")" -v cn="$(col $k "$phase-o-none")" \
                -v nb="$(col $k "$phase-c-bridge")" -v nn="$(col $k "$phase-c-none")" -v pb="$(col $k "$phase-p-bridge")" -v pn="$(col $k "$phase-p-none")" 'BEGIN {
                printf "%-5s %-4s old build: bridge %6.1f none %6.1f -> network %6.1f ms | ratio to podman %.2fx | new/old %.2fx\n",
                    ph, w, cb, cn, cb - cn, ((pb - pn) > 0 ? (cb - cn) / (pb - pn) : 0), ((cb - cn) > 0 ? (nb - nn) / (cb - cn) : 0)
            }'
        fi
    done
done
[[ -z ${CRATERUN_OLD_BIN:-} ]] || echo "old build: $CRATERUN_OLD_BIN (sha256 $(sha256sum "$WORK/craterun-old" | cut -c1-12))"
read -r fw fc fper <<<"$floor_full"
read -r ow oc oper <<<"$floor_ours"
echo "floor, plugins exec'd directly (quiet): full list (4 ADD + 4 DEL, podman's) wall $fw ms CPU $fc ms ($fper)"
echo "floor of craterun's list without ports (bridge, firewall: 2 ADD + 2 DEL, DEL after the namespace is gone, as craterun's): wall $ow ms CPU $oc ms ($oper)"
echo "CPU per plugin: ADD+DEL, median, with what it execs (bridge: host-local; firewall: iptables, ip6tables)"
# BENCH_SAMPLES=DIR keeps every sample ("wall_us cpu_us" per line, one file per phase, tool and network)
[[ -z ${BENCH_SAMPLES:-} ]] || cp "$WORK"/quiet-* "$WORK"/busy-* "$BENCH_SAMPLES"/
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
