#!/bin/bash
# cgv2-vm.sh - run one command inside a throwaway qemu VM that has a pure cgroup v2
# hierarchy, booted with Debian's stock kernel under software emulation (TCG; KVM is
# not usable on the project's machines).
#
# usage: tests/vm/cgv2-vm.sh [OPTIONS] [--] COMMAND [ARGS...]
#   --mem MB            guest memory (default 1024, at least 128)
#   --smp N             guest CPUs (default: host CPUs, at most 8)
#   --timeout SECS      stop the VM after SECS seconds (boot included); exit 124
#   --out DIR           share host DIR read-write at the same path (repeatable)
#   --env NAME[=VALUE]  pass NAME from the caller (or set it to VALUE) (repeatable)
#   --console           stream the guest's kernel console to stderr
#   -h, --help          show this text
#
# The command runs as root in the caller's working directory. The guest sees the
# host's / read-only (virtio-9p) under an overlay with a tmpfs upper layer: host
# binaries and libraries run unchanged and writes succeed but are thrown away, except
# under --out DIR. Only PATH HOME TERM CI LANG (+ --env) are passed; CRATERUN_VM=1.
# Guest stdout/stderr go to this script's stdout/stderr.
#
# Exit status: the command's own; 125 = the VM could not be set up (or the guest did
# not report a status); 124 = --timeout expired; 130/143 = interrupted.
#
# Environment: CRATERUN_VM_CACHE (default /var/cache/craterun-vm) holds the kernel and
# initramfs; CRATERUN_VM_QEMU_ARGS adds qemu arguments (word-split);
# CRATERUN_VM_APPEND adds kernel command-line arguments.
# Needs root (it installs missing Debian packages with apt-get).

set -euo pipefail

readonly EXIT_SETUP=125 EXIT_TIMEOUT=124
readonly PASSED_ENV=(PATH HOME TERM CI LANG)
# Modules the initramfs needs to reach the shared root; the rest of the modules tree
# is bind-mounted from the cache once the root is up (so modprobe works in the guest).
readonly INITRAMFS_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p overlay)

# The caller's environment as it was when this script started (before any of our own
# assignments could shadow a name): what --env NAME and the fixed pass-through read.
declare -A caller_env=()
while IFS= read -r -d '' kv; do caller_env[${kv%%=*}]=${kv#*=}; done < /proc/$$/environ

self=$(realpath "$0")
cache=${CRATERUN_VM_CACHE:-/var/cache/craterun-vm}

say() { echo "cgv2-vm: $*" >&2; }
die() { say "$*"; exit "$EXIT_SETUP"; }
usage() { sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "$self"; }

# ---------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------
mem=1024
smp=$(nproc); (( smp <= 8 )) || smp=8
timeout_s=''
console=''
outs=()
envs=()

need_arg() { [ "$2" -ge 2 ] || die "$1 needs an argument (see --help)"; }
while [ $# -gt 0 ]; do
  case $1 in
    --mem)     need_arg "$1" $#; mem=$2; shift 2 ;;
    --smp)     need_arg "$1" $#; smp=$2; shift 2 ;;
    --timeout) need_arg "$1" $#; timeout_s=$2; shift 2 ;;
    --out)     need_arg "$1" $#; outs+=("$2"); shift 2 ;;
    --env)     need_arg "$1" $#; envs+=("$2"); shift 2 ;;
    --console) console=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --)        shift; break ;;
    -*)        usage >&2; die "unknown option: $1" ;;
    *)         break ;;
  esac
done
[ $# -gt 0 ] || { usage >&2; die "no command given"; }

at_least() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= $2 )); }   # VALUE MIN
at_least "$mem" 128 || die "--mem wants a number of MB >= 128 (the guest hangs with less)"
at_least "$smp" 1 || die "--smp wants a positive number"
[ -z "$timeout_s" ] || at_least "$timeout_s" 1 || die "--timeout wants a positive number of seconds"
for i in "${!outs[@]}"; do
  mkdir -p -- "${outs[$i]}" || die "cannot create --out ${outs[$i]}"
  outs[i]=$(realpath -- "${outs[$i]}")
  [[ ${outs[$i]} != *$'\n'* ]] || die "--out path must not contain a newline"
done
for e in ${envs[@]+"${envs[@]}"}; do
  [[ ${e%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env wants NAME or NAME=VALUE, got: $e"
done

# ---------------------------------------------------------------------------------
# Host packages (Debian): qemu, cpio, xz and a static busybox for the initramfs
# ---------------------------------------------------------------------------------
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local lists=(/var/lib/apt/lists/*_Packages*)
  [ -e "${lists[0]}" ] || apt-get -qq update >&2 || true
  apt-get -qq install -y --no-install-recommends "$@" >&2 && return 0
  apt-get -qq update >&2 && apt-get -qq install -y --no-install-recommends "$@" >&2
}

ensure_host_packages() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v xz >/dev/null || missing+=(xz-utils)
  # The package "busybox" is dynamically linked; the initramfs needs the static one.
  [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] ||
    missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing host packages: ${missing[*]}"
  apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------------------------
# Guest kernel: the package that linux-image-amd64 currently depends on, fetched with
# `apt-get download` (never installed on the host) and unpacked into the cache.
# ---------------------------------------------------------------------------------
kernel_package_from_apt() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# Print the kernel package name. `apt-cache depends` costs ~0.5 s, so the answer is
# kept in the cache and asked again only when the apt lists change.
resolve_kernel_package() {
  local memo=$cache/kernel-package pkg=''
  if [ -s "$memo" ] && ! [ /var/lib/apt/lists -nt "$memo" ]; then
    cat "$memo"; return 0
  fi
  pkg=$(kernel_package_from_apt)
  if [ -z "$pkg" ]; then
    apt-get -qq update >&2 || true
    pkg=$(kernel_package_from_apt)
  fi
  if [ -n "$pkg" ]; then
    echo "$pkg" > "$memo.$$" && mv "$memo.$$" "$memo"
  elif [ -s "$memo" ]; then
    pkg=$(cat "$memo")          # apt is unusable (offline?): keep the last known one
  fi
  [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
  echo "$pkg"
}

# Decompress the ELF vmlinux out of a bzImage. qemu boots an ELF vmlinux through its
# PVH entry point, which skips several seconds of in-guest xz decompression under TCG.
# The bzImage header says where the compressed payload is (Documentation/arch/x86/boot.rst).
extract_vmlinux() {
  local bz=$1 dst=$2 setup_sects pm_start payload_off payload_len
  le() { od -An -tu"$2" -j "$1" -N "$2" "$bz" | tr -d ' '; }
  setup_sects=$(le $((0x1f1)) 1); [ "$setup_sects" != 0 ] || setup_sects=4
  pm_start=$(( (setup_sects + 1) * 512 ))
  payload_off=$(le $((0x248)) 4)
  payload_len=$(le $((0x24c)) 4)
  # The payload is an xz stream followed by 4 bytes of size: --single-stream ignores them.
  # Only xz's status counts (tail may die of SIGPIPE once head has its bytes).
  if ! (set +o pipefail
        tail -c +$((pm_start + payload_off + 1)) "$bz" | head -c "$payload_len" |
          xz -dc --single-stream) > "$dst.tmp" 2>/dev/null; then
    rm -f "$dst.tmp"; return 1
  fi
  [ "$(head -c 4 "$dst.tmp" | tail -c 3)" = ELF ] || { rm -f "$dst.tmp"; return 1; }
  mv "$dst.tmp" "$dst"
}

# Fill $kdir once: the unpacked kernel package, modules.dep, and the boot image.
# Returns 1 if the download failed (other failures are fatal).
fetch_kernel() {
  local pkg=$1
  say "fetching $pkg into $kdir (one-time)"
  rm -rf --one-file-system "$kdir"
  mkdir -p "$kdir/download"
  # APT::Sandbox::User=root: as root, apt would otherwise hand the download to _apt,
  # which may not be able to write here.
  if ! (cd "$kdir/download" && apt-get -qq -o APT::Sandbox::User=root download "$pkg" >&2); then
    rm -rf --one-file-system "$kdir"
    return 1
  fi
  dpkg-deb -x "$kdir"/download/*.deb "$kdir/root" || die "cannot unpack $pkg"
  rm -rf "$kdir/download"
  local moddir kver
  moddir=$(find "$kdir/root" -mindepth 3 -maxdepth 4 -type d -path '*/lib/modules/*' -print -quit)
  [ -n "$moddir" ] || die "$pkg has no modules directory"
  kver=${moddir##*/}
  # The .deb ships no modules.dep (its postinst runs depmod); busybox's depmod writes
  # the modules.dep/modules.alias that the guest's busybox modprobe reads.
  /bin/busybox depmod -b "${moddir%/lib/modules/*}" "$kver" || die "depmod failed"
  echo "$kver" > "$kdir/kver"
  echo "${moddir#"$kdir/root"}" > "$kdir/moddir"
  extract_vmlinux "$kdir/root/boot/vmlinuz-$kver" "$kdir/vmlinux" ||
    say "cannot extract vmlinux, booting the compressed kernel (slower)"
  touch "$kdir/.complete"
}

# The guest's /init (PID 1, busybox sh). It runs from the initramfs, mounts the host's
# root and the job share, builds the guest's filesystem tree under /newroot, runs the
# job chrooted there and powers the VM off. A status file in the job share tells the
# host how the command ended; no status file means the VM setup failed.
guest_init() {
  cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
fail() { echo "craterun-vm init: $*"; sync; poweroff -f; }

# Kernel module requests (even from inside the job's chroot) go to busybox modprobe.
echo /bin/modprobe > /proc/sys/kernel/modprobe
modprobe -a virtio_pci virtio_console 9pnet_virtio 9p overlay || fail "cannot load modules"

P9=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /job /lower /upper /newroot
mount -t 9p -o $P9,cache=none craterun-job /job || fail "cannot mount the job share"
. /job/params                   # MODDIR: host path of the guest kernel's modules

# / = host root (read-only, cached) + tmpfs upper layer.
R=/newroot
mount -t 9p -o $P9,ro,cache=loose hostroot /lower || fail "cannot mount the host root"
mount -t tmpfs -o mode=0755 upper /upper && mkdir /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay $R ||
  fail "cannot mount the overlay root"

mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "cannot mount cgroup2"
for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > $R/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable controller $c"
done
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $R/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev shm $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue
ln -sfn /proc/self/fd $R/dev/fd
ln -sfn /proc/self/fd/0 $R/dev/stdin
ln -sfn /proc/self/fd/1 $R/dev/stdout
ln -sfn /proc/self/fd/2 $R/dev/stderr
mount -t tmpfs -o mode=0755,nosuid,nodev run $R/run

# The guest kernel's modules, for modprobe both here and inside the chroot.
K=/lib/modules/$(uname -r)
mkdir -p $K $R$K
mount --bind "$R$MODDIR" $K && mount --bind "$R$MODDIR" $R$K || fail "cannot bind the modules"

# --out directories: read-write at the same path (tags out0, out1, ...).
i=0
while IFS= read -r d; do
  mkdir -p "$R$d" && mount -t 9p -o $P9,cache=none "out$i" "$R$d" || fail "cannot mount --out $d"
  i=$((i + 1))
done < /job/outs

ip link set lo up
hostname craterun-vm

# virtio serial ports show up asynchronously: wait for stderr (port 2).
i=0
while set -- /dev/vport*p2; [ ! -e "$1" ]; do
  i=$((i + 1)); [ $i -le 200 ] || fail "no virtio serial ports"; sleep 0.05
done
port=${1%2}

mkdir -p $R/run/craterun-vm && cp /job/job.sh $R/run/craterun-vm/job.sh
env -i /bin/chroot $R /bin/bash /run/craterun-vm/job.sh </dev/null >"${port}1" 2>"${port}2"
echo $? > /job/status
sync
poweroff -f
INIT
}

# Build the initramfs (uncompressed cpio: static busybox, /init, the few modules).
build_initramfs() {
  local dst=$1 kver moddir t m f
  kver=$(cat "$kdir/kver"); moddir=$(cat "$kdir/moddir")
  t=$(mktemp -d "$kdir/initramfs.XXXXXX")
  (
    set -e
    cd "$t"
    mkdir -p bin dev proc sys "lib/modules/$kver"
    cp /bin/busybox bin/busybox
    guest_init > init && chmod 0755 init
    # Each needed module plus its dependencies, with a matching modules.dep subset.
    for m in "${INITRAMFS_MODULES[@]}"; do
      grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$kdir/root$moddir/modules.dep" | tr -d : | tr ' ' '\n'
    done | sort -u | while read -r f; do
      [ -n "$f" ] || continue
      mkdir -p "lib/modules/$kver/${f%/*}"
      cp "$kdir/root$moddir/$f" "lib/modules/$kver/$f"
      grep "^$f:" "$kdir/root$moddir/modules.dep"
    done > "lib/modules/$kver/modules.dep"
    cp "$kdir/root$moddir/modules.builtin" "lib/modules/$kver/" 2>/dev/null || true
    find . -mindepth 1 | cpio -o -H newc --quiet > "$dst.tmp"
  ) || { rm -rf --one-file-system "$t"; die "building the initramfs failed"; }
  rm -rf --one-file-system "$t"
  mv "$dst.tmp" "$dst"
}

# Once a new kernel is in place, the trees of older kernels (~440 MB each) go.
prune_old_kernels() {
  local d
  for d in "$cache"/linux-image-*/; do
    [ "$d" = "$kdir/" ] || { say "removing the old ${d%/}"; rm -rf --one-file-system "$d"; }
  done
}

# Set $kdir, $kernel and $initramfs, fetching/building whatever the cache lacks.
ensure_guest_image() {
  local pkg hash
  mkdir -p "$cache" || die "cannot create the cache $cache"
  pkg=$(resolve_kernel_package)
  kdir=$cache/$pkg
  # The initramfs name carries a hash of what goes in it, so editing /init rebuilds it
  # (older variants are kept: another checkout of the project may still use them).
  hash=$({ guest_init; echo "${INITRAMFS_MODULES[*]}"; } | md5sum | cut -c1-12)
  initramfs=$kdir/initramfs-$hash.cpio
  if ! [ -e "$kdir/.complete" ] || ! [ -e "$initramfs" ]; then
    exec 8>"$cache/.lock"
    flock 8                              # one builder at a time; others wait and reuse
    if ! [ -e "$kdir/.complete" ]; then
      if ! fetch_kernel "$pkg"; then
        # Stale apt lists name a .deb the mirror no longer has: refresh and ask again.
        say "apt-get download failed; refreshing the apt lists and retrying"
        apt-get -qq update >&2 || true
        rm -f "$cache/kernel-package"
        pkg=$(resolve_kernel_package)
        kdir=$cache/$pkg
        initramfs=$kdir/initramfs-$hash.cpio
        [ -e "$kdir/.complete" ] || fetch_kernel "$pkg" || die "apt-get download $pkg failed"
      fi
      prune_old_kernels
    fi
    [ -e "$initramfs" ] || build_initramfs "$initramfs"
    exec 8>&-
  fi
  kernel=$kdir/vmlinux
  [ -e "$kernel" ] || kernel=$kdir/root/boot/vmlinuz-$(cat "$kdir/kver")
}

# ---------------------------------------------------------------------------------
# The job: a bash script the guest runs in a chroot of its overlay root
# ---------------------------------------------------------------------------------
write_job() {
  local e
  # Sourced by the guest's busybox sh: POSIX single quotes, not bash's %q.
  local moddir
  moddir=$kdir/root$(cat "$kdir/moddir")
  printf "MODDIR='%s'\n" "${moddir//\'/\'\\\'\'}" > "$run/params"
  : > "$run/outs"
  [ ${#outs[@]} -eq 0 ] || printf '%s\n' "${outs[@]}" > "$run/outs"
  {
    echo '# generated by cgv2-vm.sh'
    printf 'cd -- %q || { echo "cgv2-vm: working directory not visible in the guest" >&2; exit %d; }\n' \
      "$PWD" "$EXIT_SETUP"
    printf 'umask %s\n' "$(umask)"
    # The guest's PID 1 starts with the kernel's 1024/4096: give the job the host's limits.
    printf 'ulimit -Hn %s 2>/dev/null; ulimit -Sn %s 2>/dev/null\n' "$(ulimit -Hn)" "$(ulimit -Sn)"
    [ -n "${caller_env[PATH]+set}" ] ||
      echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    for e in "${PASSED_ENV[@]}" ${envs[@]+"${envs[@]}"}; do
      if [[ $e == *=* ]]; then
        printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
      elif [ -n "${caller_env[$e]+set}" ]; then
        printf 'export %s=%q\n' "$e" "${caller_env[$e]}"
      fi                                  # NAME not set by the caller: not set inside
    done
    echo 'export CRATERUN_VM=1'
    printf 'exec'; printf ' %q' "$@"; echo
  } > "$run/job.sh"
}

# ---------------------------------------------------------------------------------
# Boot
# ---------------------------------------------------------------------------------
run=''
qemu_pid=''
readers=()
interrupted=''
launching=''

# shellcheck disable=SC2317  # cleanup and on_signal run from traps
cleanup() {
  if [ -n "$qemu_pid" ]; then
    kill -TERM "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  release_fifos
  [ ${#readers[@]} -eq 0 ] || wait "${readers[@]}" 2>/dev/null || true
  [ -z "$run" ] || rm -rf --one-file-system "$run"
}

# SIGINT/SIGTERM/SIGHUP: before qemu runs, just exit (the EXIT trap cleans up); once
# it runs, stop it and let boot() wait for it to go before exiting.
# shellcheck disable=SC2317
on_signal() {
  interrupted=$1
  if [ -n "$qemu_pid" ]; then
    kill -TERM "$qemu_pid" 2>/dev/null || true
  elif [ -z "$launching" ]; then       # (while launching, boot() sees $interrupted)
    say "interrupted"; exit "$interrupted"
  fi
}

# qemu opens its chardev files by path. Rather than the caller's stdout/stderr (which
# may be sockets, or files whose offset a reopen would not share), it gets FIFOs that a
# `cat` copies to our own stdout/stderr.
start_reader() {   # FIFO TARGET_FD
  mkfifo "$1"
  cat "$1" >&"$2" &
  readers+=($!)
}

# A reader whose qemu never opened its FIFO would block forever: opening the FIFO
# read-write (which never blocks) and closing it gives such a reader its EOF.
release_fifos() {
  local f fd
  for f in "$run"/*.fifo; do
    [ -p "$f" ] || continue
    exec {fd}<>"$f"
    exec {fd}>&-
  done
}

boot() {
  local qarg extra=() cmdline con
  q() { printf '%s' "${1//,/,,}"; }   # qemu option values escape commas by doubling
  start_reader "$run/stdout.fifo" 1
  start_reader "$run/stderr.fifo" 2
  con=$run/console.log
  if [ -n "$console" ]; then con=$run/console.fifo; start_reader "$con" 2; fi

  cmdline="console=ttyS0 quiet panic=-1 acpi=noirq mitigations=off cryptomgr.notests"
  cmdline+=" tsc=reliable no_timer_check i8042.noaux i8042.nomux i8042.nopnp"
  cmdline+=" ${CRATERUN_VM_APPEND:-}"

  # shellcheck disable=SC2054  # the commas separate qemu sub-options
  qarg=(
    -nodefaults -no-user-config -display none -no-reboot
    -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem"
    -kernel "$kernel" -initrd "$initramfs" -append "$cmdline"
    -serial chardev:console -chardev "file,id=console,path=$(q "$con")"
    -device virtio-serial-pci,max_ports=4
    -chardev "file,id=stdout,path=$(q "$run/stdout.fifo")" -device virtserialport,chardev=stdout,nr=1
    -chardev "file,id=stderr,path=$(q "$run/stderr.fifo")" -device virtserialport,chardev=stderr,nr=2
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap
    -virtfs "local,path=$(q "$run"),mount_tag=craterun-job,security_model=none"
  )
  local i
  for i in "${!outs[@]}"; do
    qarg+=(-virtfs "local,path=$(q "${outs[$i]}"),mount_tag=out$i,security_model=none,multidevs=remap")
  done
  # shellcheck disable=SC2206  # word splitting of the extra arguments is the point
  extra=(${CRATERUN_VM_QEMU_ARGS:-})

  # qemu runs in the background (so it ignores the terminal's SIGINT) and is stopped
  # by PID from the signal trap or the EXIT trap. Its own messages go to stderr.
  launching=1
  if [ -n "$timeout_s" ]; then
    timeout -k 5 "$timeout_s" qemu-system-x86_64 "${qarg[@]}" ${extra[@]+"${extra[@]}"} >&2 &
  else
    qemu-system-x86_64 "${qarg[@]}" ${extra[@]+"${extra[@]}"} >&2 &
  fi
  qemu_pid=$!
  [ -z "$interrupted" ] || kill -TERM "$qemu_pid" 2>/dev/null || true   # signal came just now
  local qrc=0
  wait "$qemu_pid" || qrc=$?
  if [ -n "$interrupted" ]; then
    wait "$qemu_pid" 2>/dev/null || true   # the first wait returned on the signal
    qemu_pid=''
    say "interrupted"
    exit "$interrupted"
  fi
  qemu_pid=''
  # Let the readers drain before deciding, so that output comes before our messages.
  release_fifos
  wait "${readers[@]}" 2>/dev/null || true
  readers=()

  if [ -s "$run/status" ]; then
    local status
    status=$(tr -dc 0-9 < "$run/status")
    [ -n "$status" ] || die "bad status from the guest"
    exit "$status"
  fi
  if [ -n "$timeout_s" ] && [ "$qrc" = 124 ]; then
    say "timed out after ${timeout_s}s"
    exit "$EXIT_TIMEOUT"
  fi
  if [ -z "$console" ] && [ -s "$run/console.log" ]; then
    say "guest console (last lines):"
    tail -n 30 "$run/console.log" | tr -d '\r' >&2
  fi
  die "the guest reported no exit status (qemu exit status $qrc)"
}

main() {
  [ "$(id -u)" = 0 ] || die "needs root (apt-get, virtio-9p passthrough of /)"
  ensure_host_packages
  ensure_guest_image
  trap cleanup EXIT
  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  trap 'on_signal 129' HUP
  run=$(mktemp -d "${TMPDIR:-/tmp}/craterun-vm.XXXXXX") || die "mktemp failed"
  write_job "$@"
  boot
}

main "$@"
