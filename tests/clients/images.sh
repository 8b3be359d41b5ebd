#!/bin/bash
# Build a tiny busybox image offline, in the formats the client tests feed to podman and
# containerd. Nothing is downloaded: the rootfs comes from Debian's busybox-static.
#   $W/rootfs/              plain rootfs directory
#   $W/busybox-rootfs.tar   rootfs tarball               (podman import)
#   $W/oci/                 OCI image layout, busybox:latest (umoci)
#   $W/busybox-docker.tar   docker-archive, as `docker save` writes it (skopeo; ctr import)
#   $W/pause-docker.tar     the CRI suite's pod sandbox image localhost/craterun/pause:1: one
#                           static binary built from pause.c (gcc -static), as docker-archive
# needs: apt-get install -y busybox-static umoci skopeo gcc libc6-dev
# usage: images.sh DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
W=${1:?usage: images.sh DIR}
mkdir -p "$W"
W=$(cd "$W" && pwd -P)
cd "$W"
rm -rf --one-file-system rootfs oci busybox-rootfs.tar busybox-docker.tar pause-rootfs pause-docker.tar
# skopeo keeps a blob-info cache in /var/lib/containers/cache: remove it if we made it
[[ -e /var/lib/containers ]] || trap 'rm -rf --one-file-system /var/lib/containers' EXIT

BB=/bin/busybox
[ -x "$BB" ] && "$BB" --list >/dev/null 2>&1 || { echo "images.sh: needs busybox-static (apt-get install -y busybox-static)" >&2; exit 2; }
# a dynamically linked busybox would not run in a rootfs that has no libc
if command -v file >/dev/null && ! file -L "$BB" | grep -q 'statically linked'; then
  echo "images.sh: $BB is not static: install busybox-static" >&2; exit 2
fi

# -- rootfs: busybox and its applet links, a passwd/group, the empty mount points
R=$W/rootfs
mkdir -p "$R"/{bin,dev,proc,sys,etc,tmp,root,run,var}
chmod 1777 "$R/tmp"
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
: > "$R/etc/hosts"; : > "$R/etc/resolv.conf"; echo busybox > "$R/etc/hostname"

# -- rootfs tarball (numeric owners: root), for `podman import`
tar --numeric-owner --owner=0 --group=0 -C "$R" -cf busybox-rootfs.tar .

# -- OCI image layout with one layer, then a docker-archive for `ctr image import`
umoci init --layout oci
umoci new --image oci:busybox:latest
umoci insert --image oci:busybox:latest "$R" /
umoci config --image oci:busybox:latest --config.cmd /bin/sh \
  --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --architecture amd64 --os linux
umoci gc --layout oci                      # insert leaves unreferenced blobs behind
skopeo copy -q "oci:$W/oci:busybox:latest" "docker-archive:$W/busybox-docker.tar:docker.io/library/busybox:latest"

# -- the pause image: /pause only, run as 65535 like Kubernetes' own (no registry is used)
mkdir -p pause-rootfs
gcc -static -Os -Wall -Wextra -Werror -o pause-rootfs/pause "$HERE/pause.c"
umoci new --image oci:pause:latest
umoci insert --image oci:pause:latest "$W/pause-rootfs" /
umoci config --image oci:pause:latest --config.entrypoint /pause --config.user 65535:65535 \
  --architecture amd64 --os linux
umoci gc --layout oci
skopeo copy -q "oci:$W/oci:pause:latest" "docker-archive:$W/pause-docker.tar:localhost/craterun/pause:1"
echo "images ready in $W: rootfs/ busybox-rootfs.tar oci/ busybox-docker.tar pause-docker.tar"
