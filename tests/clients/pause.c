/* The pod sandbox's process for the CRI suite (what Kubernetes' pause image does): it holds
 * the pod's namespaces open, reaps the children that other containers of the pod leave to it
 * when they share its PID namespace, and exits 0 on SIGTERM or SIGINT.
 * Built static (gcc -static) so that the image needs no libc: tests/clients/images.sh. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }

static void on_child(int sig)
{
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int main(void)
{
    handle(SIGTERM, on_stop, 0);
    handle(SIGINT, on_stop, 0);
    handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART);
    for (;;)
        pause();
}
