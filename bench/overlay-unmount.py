#!/usr/bin/env python3
# The cost of unmounting a container's overlay (MNT_DETACH, as the engine does) with and without
# "volatile": without it, overlayfs syncs the whole filesystem its upper dir is on at unmount.
#   sudo python3 bench/overlay-unmount.py [N]      (mounts only under a temp dir in /tmp; removes it)
import ctypes, os, shutil, statistics, sys, tempfile, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 40
D = tempfile.mkdtemp(prefix="craterun-ovl.", dir="/tmp")
try:
    os.makedirs(D + "/l"); open(D + "/l/a", "w").write("hi"); os.makedirs(D + "/m")
    for opt in ["", ",volatile"]:
        mounts, umounts = [], []
        for _ in range(N):
            for s in ("u", "w"):
                shutil.rmtree(f"{D}/{s}", ignore_errors=True); os.makedirs(f"{D}/{s}")
            data = f"lowerdir={D}/l,upperdir={D}/u,workdir={D}/w{opt}".encode()
            t0 = time.perf_counter()
            if libc.mount(b"overlay", (D + "/m").encode(), b"overlay", 0, data) != 0: raise OSError(ctypes.get_errno(), "mount")
            t1 = time.perf_counter()
            if libc.umount2((D + "/m").encode(), 2) != 0: raise OSError(ctypes.get_errno(), "umount2")
            t2 = time.perf_counter()
            mounts.append((t1 - t0) * 1000); umounts.append((t2 - t1) * 1000)
        print(f"{opt.strip(',') or 'default'}: mount median {statistics.median(mounts):.2f} ms, umount2(MNT_DETACH) median {statistics.median(umounts):.2f} ms (N={N})")
finally:
    libc.umount2((D + "/m").encode(), 2)
    shutil.rmtree(D, ignore_errors=True)
