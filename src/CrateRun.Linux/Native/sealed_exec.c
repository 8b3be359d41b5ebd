/*
 * CVE-2019-5736, before the .NET runtime starts. While `exec` joins a running container (and
 * a health probe runs in one), a clone of this process lives in the container's PID namespace
 * until it execs the user's program; a container holding CAP_SYS_PTRACE could open
 * /proc/PID/exe and, once nobody runs the binary any more, write through it to the host's
 * craterun. So such a process first re-executes itself from a file nobody can write: this
 * binary seen through a read-only overlayfs mount that exists only as an fd (fsopen +
 * fsmount, attached nowhere; runc 1.2 does the same). Its lower layers are the binary's
 * directory and an empty detached tmpfs; with no upper layer every write is EROFS, whatever
 * the mount flags. Here, in the constructor, that costs one exec of the binary; the managed
 * runtime starts once, in the sealed copy. Where the overlay cannot be made (not root in the
 * initial namespaces, no overlayfs, no "lowerdir+", a binary replaced on disk) this returns
 * and the managed side (SealedBinary.cs) runs from a sealed in-memory copy instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

void crt_reexec_sealed(char **argv, char **envp);

/* The name SealedBinary.cs gives its in-memory copy (memfd:craterun-sealed). */
#define SEALED_MEMFD_NAME "memfd:craterun-sealed"

/* Running from a file that cannot be written: the overlay (EROFS) or the sealed memfd. */
static int running_sealed(const char *exe)
{
    if (strstr(exe, SEALED_MEMFD_NAME) != NULL)
        return 1;
    return faccessat(AT_FDCWD, "/proc/self/exe", W_OK, AT_EACCESS) != 0 && errno == EROFS;
}

/* A read-only, nosuid, nodev mount of TYPE, as an fd only: the KEYS[i]=VALUES[i] options (N of
 * them). -1 if the kernel refuses. */
static int detached_mount(const char *type, const char *const *keys, const char *const *values, int n)
{
    int fs = fsopen(type, FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    int mnt = -1;
    for (int i = 0; i < n; i++)
        if (fsconfig(fs, FSCONFIG_SET_STRING, keys[i], values[i], 0) != 0)
            goto out;
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
        goto out;
    mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
out:
    close(fs);
    return mnt;
}

/* Replaces this process with itself run from the read-only overlay (same argv and environment);
 * returns if already sealed, if asked not to (CRATERUN_NO_SEALED_EXEC=1), or if it cannot. */
void crt_reexec_sealed(char **argv, char **envp)
{
    const char *no = getenv("CRATERUN_NO_SEALED_EXEC");
    if (no != NULL && strcmp(no, "1") == 0)
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    if (running_sealed(exe))
        return;
    const char deleted[] = " (deleted)";
    size_t len = (size_t)n;
    char *slash = strrchr(exe, '/');
    if (slash == NULL || slash == exe || (len >= sizeof deleted - 1 && strcmp(exe + len - (sizeof deleted - 1), deleted) == 0))
        return;
    *slash = 0; /* exe: the directory; slash + 1: the file's name */
    int empty = detached_mount("tmpfs", NULL, NULL, 0);
    if (empty < 0)
        return;
    char empty_path[64];
    snprintf(empty_path, sizeof empty_path, "/proc/self/fd/%d", empty);
    const char *keys[] = {"lowerdir+", "lowerdir+"};
    const char *values[] = {exe, empty_path};
    int overlay = detached_mount("overlay", keys, values, 2);
    close(empty);
    if (overlay < 0)
        return;
    int self = openat(overlay, slash + 1, O_PATH | O_CLOEXEC);
    close(overlay);
    if (self < 0)
        return;
    syscall(SYS_execveat, self, "", argv, envp, AT_EMPTY_PATH);
    close(self); /* cannot run from it (e.g. a noexec mount below): the managed side's memfd copy */
}
