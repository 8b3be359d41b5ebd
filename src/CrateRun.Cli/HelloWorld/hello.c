/*
 * hello.c - the embedded hello-world container: a static program with no libc, small
 * enough to ship inside craterun. It tells what the runtime just did, and proves it from
 * inside: its pid (1, a new PID namespace) and its hostname (the container's own).
 * The next step is `craterun run --explain hello-world`: the same run, every step shown.
 */
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static void put(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    sys3(SYS_write, 1, (long)s, (long)n);
}

static void put_num(long v)
{
    char buf[24];
    int i = sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    put(buf + i);
}

void _start(void)
{
    struct utsname u;
    sys3(SYS_uname, (long)&u, 0, 0);
    put("\nHello from CrateRun!\n\n"
        "This message comes from a program inside a container. To get here, craterun:\n"
        " 1. turned your flags into an OCI config.json (the same one podman would send),\n"
        " 2. created a cgroup for the container's limits,\n"
        " 3. cloned a process into new PID, mount, UTS, IPC, network and cgroup namespaces,\n"
        " 4. mounted /proc, /dev and /sys for it, then pivot_root'ed into its rootfs,\n"
        " 5. dropped capabilities, set no_new_privs, loaded a seccomp filter, and exec'd this program.\n\n");
    put("Seen from inside: my pid is ");
    put_num(sys3(SYS_getpid, 0, 0, 0));
    put(" and my hostname is ");
    put(u.nodename);
    put(".\n\nSee every step, with its kernel call and its cost:  craterun run --rm --explain hello-world\n"
        "(each step names its page in docs/), or try a shell:  craterun run -it --rootfs DIR -- /bin/sh\n\n");
    sys3(SYS_exit_group, 0, 0, 0);
    for (;;) {
    }
}
