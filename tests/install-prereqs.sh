#!/bin/bash
# Installs what the test suites need on a Debian 12 machine (as root). Used by .ci/run and the README.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# busybox-static: the test rootfs; util-linux: script (pty tests), unshare (bind-mounted / test);
# procps: ps; gcc, libc6-dev, zlib1g-dev: the C stage, hello-world and the NativeAOT link;
# runc: the reference runtime (benchmarks, client tests); file: make-rootfs.sh checks busybox;
# uidmap: newuidmap for rootless ranges; podman, containerd, umoci, skopeo, jq: the client tests;
# docker.io (dockerd, /usr/bin/docker, docker-init), containernetworking-plugins (CNI bridge,
# host-local, loopback in /usr/lib/cni): the Docker and CRI client suites (crictl is not packaged
# in Debian: the CRI suite takes ../shared/bin/crictl beside the repo, or CRICTL, or PATH);
# qemu-system-x86, cpio, xz-utils: the cgroup v2 VM (tests/vm, which also fetches a kernel);
# libseccomp2, golang-github-containers-common: the seccomp tests compare with libseccomp itself and
# compile podman's profile (/usr/share/containers/seccomp.json); runc and podman pull them in anyway;
# e2fsprogs: chattr (an immutable state root, CliInputTests); strace: ReapedPidTests (signals
# after a reap, pidfd_open failing by fault injection); apparmor: apparmor_parser, which the
# cgroup v2 VM (whose Debian kernel enables AppArmor) uses to load a profile for apparmorProfile.
# docker-registry, apache2-utils (htpasswd), openssl, zstd, libcap2-bin (setcap, getcap): RegistryTests.
# and the linter shellcheck: .ci/run checks every shell script (severity warning and above).
# slirp4netns: rootless networking (the default network of a rootless run; RootlessTests).
# zsh, fish: CompletionManTests parse (and, for fish, run) the completion scripts craterun generates.
PACKAGES=(busybox-static util-linux procps gcc libc6-dev zlib1g-dev runc file iproute2 ca-certificates uidmap
    podman containerd umoci skopeo jq docker.io containernetworking-plugins qemu-system-x86 cpio xz-utils time
    libseccomp2 golang-github-containers-common e2fsprogs strace apparmor docker-registry apache2-utils openssl zstd
    libcap2-bin shellcheck slirp4netns zsh fish)
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# rootless networking opens /dev/net/tun as the user: udev makes it 0666 on Debian (50-udev-default.rules),
# a machine without udev (these VMs) keeps the kernel's 0600
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then chmod 0666 /dev/net/tun; fi
