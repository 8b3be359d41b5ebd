/*
 * The init of `run --init` (init.c), built by native.targets as a static program of its own
 * and linked into craterun here as bytes. crt_init_memfd() hands it out as a sealed memfd,
 * which launch.c executes as the container's PID 1 (execveat): a container can read its
 * /proc/1/exe but never write through it, and nothing is put into the container's root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CRT_INIT_ELF
#error "CRT_INIT_ELF: the path of the built init (native.targets)"
#endif

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".hidden crt_init_elf_start\n"
        "crt_init_elf_start:\n"
        ".incbin \"" CRT_INIT_ELF "\"\n"
        ".hidden crt_init_elf_end\n"
        "crt_init_elf_end:\n"
        ".previous\n");

extern const unsigned char crt_init_elf_start[], crt_init_elf_end[];
int crt_init_memfd(void);

/* A sealed, close-on-exec memfd holding the init; -1 with errno on failure. */
int crt_init_memfd(void)
{
    int fd = memfd_create("craterun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    const unsigned char *p = crt_init_elf_start;
    while (p < crt_init_elf_end) {
        ssize_t n = write(fd, p, (size_t)(crt_init_elf_end - p));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}
