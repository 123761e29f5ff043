/*
 * zygote.c - `safexec zygote`: the process that holds an initialised
 * interpreter and forks, per run, a supervisor that runs the request.
 *
 * Started by pool.c with a clean environment, the control socket as fd 3
 * and the host's /etc entries as fd 4 (see internal.h).  In this order:
 * the parent-death signal, its own sandbox host (from the variables that
 * choose the cgroups, read before the environment is cleared), the /etc
 * entries, the environment of a sandboxed program, Python's start; then
 * 'R', and from then on only forks.  No request's byte ever enters this
 * process: a supervisor reads its request after the fork, so that each
 * run inherits the zygote as it was after the start and nothing else.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"
#include "warm/internal.h"
#include "warm/warm.h"

/* The largest request a supervisor reads: every part at its maximum. */
#define MAX_REQUEST ((size_t)SBX_MAX_CODE + SBX_MAX_STDIN + SBX_MAX_FILES_BYTES + \
		     SBX_MAX_ARGS_BYTES + (SBX_MAX_FILES + SBX_MAX_ARGS + SBX_MAX_BINDS) * \
		     (SBX_MAX_NAME + 64) + 4096)

static void say(int ctl, char kind, const char *why)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%c%s", kind, why);

	(void)!send(ctl, msg, n < 0 ? 1 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
		    MSG_NOSIGNAL);
}

/* The supervisor of one run: says its pid, reads the request, runs it,
 * sends the result, exits. */
static __attribute__((noreturn)) void supervise(struct sbx_host *host, int fd)
{
	uint32_t pid = (uint32_t)getpid();
	struct sbx_request req;
	struct sbx_result res;
	struct wire out = { 0 };
	struct wire_in in = { 0 };
	void *arrays = NULL;
	char *buf;
	int r;

	if (write(fd, &pid, sizeof(pid)) != sizeof(pid) ||
	    wire_recv(fd, &buf, &in.len, MAX_REQUEST, -1) < 0)
		_exit(1);
	in.p = buf;
	sbx_request_init(&req);
	if ((r = wire_get_request(&in, &req, &arrays)) < 0) {
		memset(&res, 0, sizeof(res));
		res.status = SBX_INTERNAL_ERROR;
		snprintf(res.error, sizeof(res.error), "warm start: a request it cannot read");
	} else {
		req.program = warm_py_program;
		/* The caller's shutdown, or its death, ends the run. */
		req.cancel_fd = fd;
		r = sbx_run(host, &req, &res);
	}
	wire_put_result(&out, r, &res);
	r = wire_send(fd, &out);
	/* The last of a zygote that is gone removes its cgroups. */
	sbx_host_leave(host);
	_exit(r < 0);
}

static int read_etc(struct sbx_host *host, char *why, size_t whylen)
{
	struct stat st;
	struct wire_in in = { 0 };
	struct sbx_etc_entry *e = NULL;
	size_t n = 0;
	char *buf;
	int r;

	if (fstat(WARM_ETC_FD, &st) < 0 || st.st_size < 0 || st.st_size > 2 * SBX_MAX_ETC_BYTES) {
		snprintf(why, whylen, "the /etc entries: no file");
		return -EINVAL;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		return -ENOMEM;
	in.p = buf;
	in.len = (size_t)st.st_size;
	if (pread(WARM_ETC_FD, buf, in.len, 0) != (ssize_t)in.len)
		r = -EIO;
	else if ((r = wire_get_etc(&in, &e, &n)) == 0)
		r = sbx_host_set_etc(host, e, n);
	if (r < 0)
		snprintf(why, whylen, "the /etc entries: %s", strerror(-r));
	free(e);
	free(buf);
	close(WARM_ETC_FD);
	return r;
}

/* The environment every program of this zygote gets (warm_eligible()). */
static void set_environment(void)
{
	static const char *const env[] = WARM_ENV;

	clearenv();
	for (size_t i = 0; env[i]; i++)
		putenv((char *)env[i]);	/* never changed: the strings stay */
}

static int start(struct sbx_host **host, char *why, size_t whylen)
{
	const struct sbx_features *f;
	int type = 0;
	socklen_t tl = sizeof(type);
	int r;

	if (getsockopt(WARM_CONTROL_FD, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
	    type != SOCK_SEQPACKET) {
		snprintf(why, whylen, "not started by safexec (no control socket)");
		return -EINVAL;
	}
	if ((r = sbx_host_open(host, why, whylen)) < 0 || (r = read_etc(*host, why, whylen)) < 0)
		return r;
	set_environment();
	if (chdir("/") < 0)
		return -errno;
	f = sbx_host_features(*host);
	return warm_py_init(f->python, f->python_version, why, whylen);
}

int warm_zygote_main(int argc, char **argv)
{
	struct sbx_host *host = NULL;
	char why[400];
	int ctl = WARM_CONTROL_FD;

	/* Run from a copy in memory: its name is the descriptor's number. */
	prctl(PR_SET_NAME, "safexec", 0, 0, 0);
	/* With the caller, whatever it was: its pid is the argument. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || argc != 3 ||
	    getppid() != (pid_t)strtol(argv[2], NULL, 10)) {
		fprintf(stderr, "safexec zygote: not started by safexec\n");
		return 2;
	}
	if (start(&host, why, sizeof(why)) < 0) {
		say(ctl, 'E', why);
		return 1;
	}
	say(ctl, 'R', "");
	for (;;) {
		struct pollfd pfd = { .fd = ctl, .events = POLLIN };
		int p = poll(&pfd, 1, 1000);

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (p < 0 && errno != EINTR)
			break;
		if (p <= 0)
			continue;
		int fd = wire_recv_fd(ctl);
		if (fd == 0)
			break;
		if (fd < 0) {
			if (pfd.revents & (POLLHUP | POLLERR))
				break;
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(ctl);
			supervise(host, fd);
		}
		close(fd);	/* a failed fork: the caller sees EOF, runs cold */
	}
	/* Retired: the runs in progress end first, then their cgroups go. */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	sbx_host_close(host);
	return 0;
}
