/*
 * host.c - what this host offers, decided once per process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define PYTHON "/usr/bin/python3"

static void add_note(char *notes, size_t len, const char *text)
{
	size_t used = strnlen(notes, len);

	if (used + 1 < len)
		snprintf(notes + used, len - used, "%s\n", text);
}

/* "3.11" from /usr/bin/python3 -> python3.11, without running it. */
static void python_version(const char *path, char *out, size_t len)
{
	char real[PATH_MAX];
	const char *base;

	out[0] = '\0';
	if (!realpath(path, real))
		return;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (strncmp(base, "python", 6) == 0 && base[6] >= '0' && base[6] <= '9')
		snprintf(out, len, "%s", base + 6);
}

static bool can_clone3(void)
{
	/* A NULL argument: EFAULT or EINVAL where the call exists. */
	return syscall(SYS_clone3, NULL, 0) < 0 && errno != ENOSYS;
}

static bool can_userns(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) == 0 ? 0 : 1);
	if (waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int host_init(struct sbx_host *host, char *notes, size_t noteslen)
{
	struct sbx_features *f = &host->f;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	host->ncpu = ncpu > 0 ? (unsigned)ncpu : 1;
	f->root = geteuid() == 0;
	f->seccomp = access("/proc/sys/kernel/seccomp/actions_avail", R_OK) == 0;
	f->clone3 = can_clone3();
	snprintf(f->python, sizeof(f->python), "%s", PYTHON);
	python_version(PYTHON, f->python_version, sizeof(f->python_version));
	host->host_uid = f->root ? SBX_ROOT_HOST_ID : geteuid();
	host->host_gid = f->root ? SBX_ROOT_HOST_ID : getegid();
	for (int i = 0; i < SBX_MAX_RUNNING; i++)
		atomic_init(&host->pidfds[i], -1);
	cg_host_init(host, notes, noteslen);
	if (!f->root)
		add_note(notes, noteslen, "rootless: the sandbox's uid maps to the caller's own uid");
	return 0;
}

/* The first missing piece that safexec cannot do without, or NULL. */
static const char *missing(const struct sbx_features *f)
{
	if (!f->userns)
		return "user namespaces (unshare(CLONE_NEWUSER) fails: see "
		       "/proc/sys/user/max_user_namespaces and kernel.unprivileged_userns_clone)";
	if (!f->seccomp)
		return "seccomp (kernel built without CONFIG_SECCOMP_FILTER)";
	if (!f->clone3)
		return "clone3() (kernel 5.3 or later)";
	if (access(f->python, X_OK) < 0)
		return "the Python interpreter " PYTHON;
	return NULL;
}

/* Pipes made later must never get 0, 1 or 2, or they would be mixed up
 * with the program's stdio in the child: open /dev/null on any that are
 * closed, as daemons do. */
static void open_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) < 0)
			return;
}

int sbx_host_open(struct sbx_host **out, char *why, size_t whylen)
{
	struct sbx_host *host = calloc(1, sizeof(*host));
	char notes[1024] = "";
	const char *miss;

	if (!host)
		return -ENOMEM;
	open_std_fds();
	host_init(host, notes, sizeof(notes));
	/* Creating a user namespace is what every run does first: its
	 * failure will show there, with the kernel's errno. */
	host->f.userns = true;
	if ((miss = missing(&host->f))) {
		snprintf(why, whylen, "this host lacks %s", miss);
		free(host);
		return -ENOTSUP;
	}
	cg_host_sweep(host);
	host->filter = &sbx_seccomp_filters[!host->f.cg_memory];
	*out = host;
	return 0;
}

void sbx_host_close(struct sbx_host *host)
{
	free(host);
}

const struct sbx_features *sbx_host_features(const struct sbx_host *host)
{
	return &host->f;
}

int sbx_probe(struct sbx_features *f, char *notes, size_t noteslen)
{
	struct sbx_host *host = calloc(1, sizeof(*host));
	const char *miss;

	if (!host)
		return -1;
	notes[0] = '\0';
	host_init(host, notes, noteslen);
	host->f.userns = can_userns();
	*f = host->f;
	free(host);
	if ((miss = missing(f))) {
		char line[512];
		snprintf(line, sizeof(line), "missing: %s", miss);
		add_note(notes, noteslen, line);
		return -1;
	}
	return 0;
}

void sbx_host_kill_all(struct sbx_host *host)
{
	atomic_store(&host->stopping, true);
	for (int i = 0; i < SBX_MAX_RUNNING; i++) {
		int fd = atomic_load(&host->pidfds[i]);
		if (fd >= 0)
			syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	}
}

unsigned sbx_host_running(const struct sbx_host *host)
{
	return atomic_load(&((struct sbx_host *)host)->running);
}
