#!/bin/bash
# Image costs: load+unpack of a ~100 MB one-layer image (gzip) against `tar -xzf` of the same
# layer bytes, and `run --rm IMAGE true` against `run --rm --rootfs DIR true` (overlay's cost).
#   bench/images.sh [N]     (root; run under flock /tmp/craterun-suite.lock)
set -euo pipefail
cd "$(dirname "$0")/.."
export CRATERUN_NETWORK=${CRATERUN_NETWORK:-none} # no bridge in this machine's own network namespace
B=${CRATERUN_BIN:-$PWD/out/craterun}
N=${1:-20}
W=$(mktemp -d /tmp/craterun-bench-images.XXXXXX)
# shellcheck disable=SC2154 # id is the for-loop variable inside the trap string
trap 'for id in $("$B" --root "$W/state" ps -a -q 2>/dev/null); do "$B" --root "$W/state" rm -f "$id" >/dev/null; done; rm -rf --one-file-system "$W"' EXIT
tests/fixtures/make-rootfs.sh "$W/rootfs" >/dev/null
mkdir -p "$W/rootfs/payload"
# ~100 MB: half incompressible, half text, in files of 1 MB
for i in $(seq 1 50); do head -c 1048576 /dev/urandom > "$W/rootfs/payload/r$i"; done
for i in $(seq 1 50); do yes "line $i of some text that compresses" | head -c 1048576 > "$W/rootfs/payload/t$i" || true; done
tar --numeric-owner -C "$W/rootfs" -czf "$W/layer.tar.gz" .
ls -l "$W/layer.tar.gz" | awk '{printf "layer: %.1f MB gzip, ", $5/1e6}'; du -sm "$W/rootfs" | awk '{print $1 " MB unpacked"}'
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null || { echo "FAILED: $*" >&2; kill $$; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2 3; do
    rm -rf "$W/x" "$W/state"; mkdir -p "$W/x"; sync
    t=$(ms tar -xzf "$W/layer.tar.gz" -C "$W/x"); echo "tar -xzf: $t ms"
    sync
    t=$(ms "$B" --root "$W/state" import "$W/layer.tar.gz" bench/img); echo "craterun import (store blob + unpack): $t ms"
done
for i in $(seq 1 "$N"); do
    ms "$B" --root "$W/state" run --rm bench/img /bin/true >> "$W/img.ms"
    ms "$B" --root "$W/state" run --rm --rootfs "$W/rootfs" -- /bin/true >> "$W/dir.ms"
done
echo "run --rm IMAGE true: median $(median < "$W/img.ms") ms; run --rm --rootfs DIR true: median $(median < "$W/dir.ms") ms (N=$N, alternating)"

# ---- pull: craterun pull vs podman pull vs skopeo copy + umoci unpack, tar -xzf of the same blobs as the floor ----
# A ~100 MB / ~10,000-file image (busybox layer + a payload layer), pushed by skopeo into Debian's
# docker-registry on 127.0.0.1 (random port, config and storage in the temp dir, stopped by PID).
P=${PULL_ROUNDS:-5}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/reg" "$W/arch" "$W/pl"
cat > "$W/reg/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/reg/storage}}
http: {addr: 127.0.0.1:$PORT}
YML
/usr/bin/docker-registry serve "$W/reg/config.yml" 2>"$W/reg/log" & REG=$!
trap 'kill $REG 2>/dev/null || true; for id in $("$B" --root "$W/state" ps -a -q 2>/dev/null); do "$B" --root "$W/state" rm -f "$id" >/dev/null; done; grep -o " ${W}[^ ]*" /proc/self/mounts | sort -r | xargs -r umount -l 2>/dev/null || true; rm -rf --one-file-system "$W"' EXIT
# payload: 10,000 files of ~10 KB, half random, half text (~100 MB)
for d in $(seq 1 100); do
    mkdir -p "$W/pl/payload/d$d"
    for i in $(seq 1 50); do head -c 10240 /dev/urandom > "$W/pl/payload/d$d/r$i"; yes "file $d/$i text" | head -c 10240 > "$W/pl/payload/d$d/t$i" || true; done
done
tar --numeric-owner -C "$W/rootfs" --exclude=./payload -cf "$W/arch/l1.tar" .
tar --numeric-owner -C "$W/pl" -cf "$W/arch/l2.tar" .
d1=$(sha256sum "$W/arch/l1.tar" | cut -c1-64); d2=$(sha256sum "$W/arch/l2.tar" | cut -c1-64)
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' "$d1" "$d2" > "$W/arch/config.json"
printf '[{"Config":"config.json","RepoTags":["bench/pull:1"],"Layers":["l1.tar","l2.tar"]}]' > "$W/arch/manifest.json"
tar -C "$W/arch" -cf "$W/image.tar" manifest.json config.json l1.tar l2.tar
for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
IMG=127.0.0.1:$PORT/bench/pull:1
skopeo copy --quiet --dest-tls-verify=false "docker-archive:$W/image.tar" "docker://$IMG"
echo "image: $(find "$W/pl" "$W/rootfs" -not -path "$W/rootfs/payload*" | wc -l) files, $(( ($(stat -c %s "$W/arch/l1.tar") + $(stat -c %s "$W/arch/l2.tar")) / 1000000 )) MB of tar"
# the gzip blobs the registry holds, for the tar -xzf floor
skopeo inspect --raw --tls-verify=false "docker://$IMG" > "$W/manifest.json"
mapfile -t BLOBS < <(python3 -c 'import json,sys; [print(l["digest"][7:]) for l in json.load(open(sys.argv[1]))["layers"]]' "$W/manifest.json")
PR="podman --root $W/podman/root --runroot $W/podman/run --storage-driver overlay"
for i in $(seq 1 "$P"); do
    rm -rf --one-file-system "$W/pstate"; sync
    ms "$B" --root "$W/pstate" pull -q "$IMG" >> "$W/pull.cr.ms"
    $PR rmi -a -f >/dev/null 2>&1 || true; sync
    ms $PR pull -q --tls-verify=false "$IMG" >> "$W/pull.podman.ms"
    rm -rf "$W/oci" "$W/bundle"; sync
    s=$(date +%s%N); skopeo copy --quiet --src-tls-verify=false "docker://$IMG" "oci:$W/oci:img"; umoci unpack --image "$W/oci:img" "$W/bundle" >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 )) >> "$W/pull.skopeo.ms"
    rm -rf "$W/floor"; mkdir -p "$W/floor"; sync
    s=$(date +%s%N); for b in "${BLOBS[@]}"; do tar -xzf "$W/reg/storage/docker/registry/v2/blobs/sha256/${b:0:2}/$b/data" -C "$W/floor"; done; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 )) >> "$W/pull.tar.ms"
done
cr=$(median < "$W/pull.cr.ms"); pd=$(median < "$W/pull.podman.ms"); sk=$(median < "$W/pull.skopeo.ms"); tf=$(median < "$W/pull.tar.ms")
echo "pull+unpack (median of $P, alternating): craterun $cr ms; podman pull $pd ms; skopeo copy + umoci unpack $sk ms; tar -xzf of the blobs $tf ms"
awk -v c="$cr" -v p="$pd" -v s="$sk" -v t="$tf" 'BEGIN {printf "ratios: craterun/podman %.2f; craterun/(skopeo+umoci) %.2f; craterun/tar %.2f\n", c/p, c/s, c/t}'
# run --rm IMAGE true, the image present, vs podman run --rm (podman: --network none, as craterun sets up no network;
# nofile at the hard limit: podman's default 1048576 is refused here without CAP_SYS_RESOURCE)
for i in $(seq 1 "$N"); do
    ms "$B" --root "$W/pstate" run --rm "$IMG" /bin/true >> "$W/run.cr.ms"
    ms $PR run --rm --network none --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=32768:32768 "$IMG" /bin/true >> "$W/run.podman.ms"
done
awk -v c="$(median < "$W/run.cr.ms")" -v p="$(median < "$W/run.podman.ms")" 'BEGIN {printf "run --rm IMAGE true (median of N=%d): craterun %d ms; podman run --rm %d ms; ratio %.2f\n", '"$N"', c, p, c/p}'
$PR rmi -a -f >/dev/null 2>&1 || true
