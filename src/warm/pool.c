/*
 * pool.c - the caller's side of the warm starts: one zygote at a time,
 * started and replaced by a manager thread, and the runner that hands it
 * the requests it can take.
 *
 * A run never waits on a broken zygote: handing the run over does not
 * block, the supervisor must say its pid within HELLO_MS, and until then
 * nothing of the request has left this process, so any failure up to
 * there runs the request cold (a fallback) and has the zygote replaced.
 * A zygote takes at most runs_max runs, for at most seconds_max seconds
 * from its start; a standby, started beforehand, then takes over, and the
 * old one finishes the runs it forked and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "warm/internal.h"
#include "warm/warm.h"

#define HELLO_MS	2000	/* a supervisor's pid, once handed a run */
#define READY_MS	30000	/* a zygote's start */
#define RESULT_SLACK_MS	30000	/* past the wall limit: the result */
#define MAX_RETIRED	64
#define MAX_INFLIGHT	1024

struct zygote {
	pid_t pid;		/* 0: none */
	int ctl;		/* -1: none */
	uint64_t started_ns;
	uint64_t runs;		/* handed to it */
	bool broken;		/* a run found it wanting: replace it */
};

struct warm {
	struct sbx_host *host;
	struct warm_config cfg;
	int etc_fd;		/* memfd: the host's /etc entries (wire_put_etc) */
	int exe_fd;		/* memfd: a sealed copy of the binary, executed */
	char exe_name[PATH_MAX];	/* the binary's path: the zygote's argv[0] */
	pthread_t manager;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* the manager's: replace, retire or close */
	pthread_cond_t ready;	/* warm_open()'s: the first start's outcome */
	struct zygote z;	/* the current: runs go to it */
	struct zygote next;	/* the standby, started beforehand */
	bool first_done, closing, registered;
	int first_error;
	char first_why[400];
	pid_t retired[MAX_RETIRED];
	size_t nretired;
	atomic_int inflight[MAX_INFLIGHT];	/* run sockets, for stop() */
	atomic_ullong runs, fallbacks, started;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- a zygote's life ---- */

static int spawn(struct warm *w, struct zygote *z, char *why, size_t whylen)
{
	static const char *const pass[] = {	/* what chooses the host's cgroups */
		"SAFEXEC_CGROUP", "SAFEXEC_CGROUP_MOUNT", "SAFEXEC_TEST_WITHOUT",
	};
	const char *const base[] = WARM_ENV;
	char *envp[UTIL_ARRAY_SIZE(base) + UTIL_ARRAY_SIZE(pass)], *passed[UTIL_ARRAY_SIZE(pass)];
	char ppid[16], reply[512], exe[32];
	int sv[2] = { -1, -1 }, ctl = -1, r, ne = 0, np = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	pid_t pid = 0;

	for (size_t i = 0; base[i]; i++)
		envp[ne++] = (char *)base[i];
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(pass); i++) {
		const char *v = getenv(pass[i]);
		size_t len = v ? strlen(pass[i]) + strlen(v) + 2 : 0;
		if (v && (passed[np] = malloc(len))) {
			snprintf(passed[np], len, "%s=%s", pass[i], v);
			envp[ne++] = passed[np++];
		}
	}
	envp[ne] = NULL;
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	snprintf(exe, sizeof(exe), "/proc/self/fd/%d", w->exe_fd);
	char cmd[] = "zygote";
	char *argv[] = { w->exe_name, cmd, ppid, NULL };

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		goto out;
	}
	/* Above the two descriptors they are given as, so that no dup2()
	 * overwrites the other's source. */
	ctl = fcntl(sv[1], F_DUPFD_CLOEXEC, 16);
	int etc = fcntl(w->etc_fd, F_DUPFD_CLOEXEC, 16);
	close_fd(&sv[1]);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ctl, WARM_CONTROL_FD);
	posix_spawn_file_actions_adddup2(&fa, etc, WARM_ETC_FD);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	r = ctl < 0 || etc < 0 ? -EMFILE :
	    -posix_spawn(&pid, exe, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close_fd(&ctl);
	close_fd(&etc);
	if (r < 0)
		goto out;

	/* Its answer: 'R', or 'E' and why. */
	struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
	ssize_t n = 0;
	if (poll(&pfd, 1, READY_MS) == 1)
		n = recv(sv[0], reply, sizeof(reply) - 1, 0);
	reply[n > 0 ? n : 0] = '\0';
	if (n >= 1 && reply[0] == 'R') {
		*z = (struct zygote){ .pid = pid, .ctl = sv[0], .started_ns = util_now_ns() };
		sv[0] = -1;
		r = 0;
	} else {
		snprintf(why, whylen, "%.300s", n > 1 && reply[0] == 'E' ? reply + 1 :
			 n == 0 ? "the zygote did not start in time" : "the zygote ended");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		r = -EIO;
	}
out:
	if (r < 0 && !why[0])
		snprintf(why, whylen, "%s", strerror(-r));
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	while (np)
		free(passed[--np]);
	return r;
}

/* Closes the zygote's control socket (it then finishes its runs and exits)
 * and keeps its pid to reap.  A broken one (stopped, say) is killed: its
 * supervisors, processes of their own, finish their runs without it.
 * Called with the lock held. */
static void retire(struct warm *w, struct zygote *z)
{
	if (z->ctl < 0)
		return;
	close_fd(&z->ctl);
	if (z->broken)
		kill(z->pid, SIGKILL);
	if (w->nretired < MAX_RETIRED)
		w->retired[w->nretired++] = z->pid;
	else {
		kill(z->pid, SIGKILL);
		waitpid(z->pid, NULL, 0);
	}
	z->pid = 0;
}

static void reap(struct warm *w, bool wait)
{
	for (size_t i = 0; i < w->nretired;) {
		pid_t p = waitpid(w->retired[i], NULL, wait ? 0 : WNOHANG);
		if (p == w->retired[i] || (p < 0 && errno != EINTR))
			w->retired[i] = w->retired[--w->nretired];
		else if (!wait || p < 0)
			i++;
	}
}

/* Whether z may take a run now: started, not broken, within both bounds. */
static bool usable(const struct warm *w, const struct zygote *z)
{
	return z->ctl >= 0 && !z->broken && z->runs < w->cfg.runs_max &&
	       util_now_ns() - z->started_ns < w->cfg.seconds_max * 1000000000ull;
}

/* When the current zygote may take no more runs, retires it and makes the
 * standby current, if that one may.  Returns whether the current zygote
 * may take a run.  Called with the lock held. */
static bool promote(struct warm *w)
{
	if (usable(w, &w->z))
		return true;
	retire(w, &w->z);
	if (usable(w, &w->next)) {
		w->z = w->next;
		w->next = (struct zygote){ .ctl = -1 };
	}
	pthread_cond_signal(&w->wake);	/* a new standby */
	return usable(w, &w->z);
}

/*
 * The manager: keeps a standby zygote started beside the current one, so
 * that a zygote past its bounds is replaced at once, without a cold run;
 * reaps the retired ones; at close retires the last and waits for them
 * all.  It is the zygotes' parent thread, whose end their parent-death
 * signal follows: it ends last.
 */
static void *manage(void *arg)
{
	struct warm *w = arg;
	uint64_t retry_ns = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->closing) {
		promote(w);
		if (!w->first_done && w->z.ctl >= 0) {
			w->first_done = true;
			pthread_cond_broadcast(&w->ready);
		}
		if (!usable(w, &w->next) && util_now_ns() >= retry_ns) {
			struct zygote nz;
			char why[400] = "";
			retire(w, &w->next);
			pthread_mutex_unlock(&w->lock);
			int r = spawn(w, &nz, why, sizeof(why));
			pthread_mutex_lock(&w->lock);
			if (r == 0) {
				atomic_fetch_add(&w->started, 1);
				w->next = nz;
				continue;
			}
			retry_ns = util_now_ns() + 1000000000ull;
			if (!w->first_done) {
				w->first_done = true;
				w->first_error = r;
				snprintf(w->first_why, sizeof(w->first_why), "%s", why);
				pthread_cond_broadcast(&w->ready);
			}
		}
		reap(w, false);
		/* Wake for a zygote used up or broken, or each second for the
		 * age bound and to reap. */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&w->wake, &w->lock, &until);
	}
	retire(w, &w->z);
	retire(w, &w->next);
	pthread_mutex_unlock(&w->lock);
	reap(w, true);
	return NULL;
}

/* ---- the runner ---- */

bool warm_eligible(const struct sbx_host *host, const struct sbx_request *req)
{
	const char *python[] = { sbx_host_features(host)->python, "-E", "-s", "-u", WARM_SCRIPT, NULL };
	size_t i;

	if (req->nenv || (req->root && req->root[0]) || req->collect_files || req->collect_out ||
	    req->program || req->cancel_fd || req->on_output)
		return false;
	if (!req->cmd)
		return true;
	for (i = 0; python[i] && req->cmd[i] && strcmp(python[i], req->cmd[i]) == 0; i++)
		;
	return !python[i] && !req->cmd[i];
}

/* Hands the zygote one end of a new run socket; returns the other, and
 * the zygote's pid in *zygote, or -1 when there is no usable zygote. */
static int hand_over(struct warm *w, pid_t *zygote)
{
	int sv[2], fd = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pthread_mutex_lock(&w->lock);
	/* Rootless, the sandbox's uid owns the binary's copy: a program may
	 * have changed its mode (never its bytes: sealed, and running).  The
	 * next run finds it as the first did. */
	fchmod(w->exe_fd, 0555);
	if (promote(w)) {
		if (wire_send_fd(w->z.ctl, sv[1]) == 0) {
			fd = sv[0];
			*zygote = w->z.pid;
			w->z.runs++;
		} else {
			w->z.broken = true;
			pthread_cond_signal(&w->wake);
		}
	}
	pthread_mutex_unlock(&w->lock);
	close(sv[1]);
	if (fd < 0)
		close(sv[0]);
	return fd;
}

static void mark_broken(struct warm *w, pid_t zygote)
{
	pthread_mutex_lock(&w->lock);
	if (w->z.pid == zygote) {
		w->z.broken = true;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
}

static int slot_claim(struct warm *w, int fd)
{
	for (int i = 0; i < MAX_INFLIGHT; i++) {
		int expected = -1;
		if (atomic_compare_exchange_strong(&w->inflight[i], &expected, fd))
			return i;
	}
	return -1;
}

static int run(void *ctx, const struct sbx_request *req, struct sbx_result *res)
{
	struct warm *w = ctx;
	struct wire msg = { 0 };
	struct wire_in in = { 0 };
	pid_t zygote = 0, sup = 0;
	uint32_t pid;
	char *buf = NULL;
	int fd, slot, r, rr;

	if (!warm_eligible(w->host, req))
		return -EAGAIN;
	if ((fd = hand_over(w, &zygote)) < 0)
		goto cold;
	/* Nothing of the request has gone yet: a silent zygote costs a
	 * moment, then the run goes cold. */
	if (wire_read_exact(fd, &pid, sizeof(pid), HELLO_MS) < 0) {
		mark_broken(w, zygote);
		goto cold;
	}
	sup = (pid_t)pid;
	wire_put_request(&msg, req);
	r = wire_send(fd, &msg);
	wire_free(&msg);
	if (r < 0) {	/* it died before reading all: nothing ran */
		mark_broken(w, zygote);
		goto cold;
	}
	slot = slot_claim(w, fd);
	r = wire_recv(fd, &buf, &in.len, 4 * req->limits.output_bytes + 65536,
		      (int)(req->limits.wall_ms < INT32_MAX - RESULT_SLACK_MS ?
			    req->limits.wall_ms + RESULT_SLACK_MS : INT32_MAX));
	if (slot >= 0)
		atomic_store(&w->inflight[slot], -1);
	in.p = buf;
	if (r == 0)
		r = wire_get_result(&in, res, &rr, req->limits.output_bytes);
	free(buf);
	close(fd);
	if (r < 0) {
		/* It may have run: not again.  Its supervisor is ended. */
		int pfd = (int)syscall(SYS_pidfd_open, sup, 0);
		if (pfd >= 0) {
			syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
			close(pfd);
		}
		sbx_result_release(res);
		memset(res, 0, sizeof(*res));
		res->status = SBX_INTERNAL_ERROR;
		snprintf(res->error, sizeof(res->error), "warm start: no result from the run's supervisor: %s",
			 strerror(-r));
		mark_broken(w, zygote);
		return -EIO;
	}
	atomic_fetch_add(&w->runs, 1);
	return rr;
cold:
	if (fd >= 0)
		close(fd);
	atomic_fetch_add(&w->fallbacks, 1);
	return -EAGAIN;
}

/* Async-signal-safe: each run in progress is asked to stop; its
 * supervisor kills it and answers as sbx_host_kill_all()'s runs do. */
static void stop(void *ctx)
{
	struct warm *w = ctx;

	for (int i = 0; i < MAX_INFLIGHT; i++) {
		int fd = atomic_load(&w->inflight[i]);
		if (fd >= 0)
			shutdown(fd, SHUT_WR);
	}
}

/* ---- open, close, figures ---- */

/*
 * The zygote runs a sealed copy of the binary in memory (as runc does), so
 * that /proc/self/exe of a warm program, which is the zygote's, is no file
 * of the host: it names no host path and nothing can write it.
 */
static int make_exe(struct warm *w)
{
	const char *path = w->cfg.binary ? w->cfg.binary : "/proc/self/exe";
	int in = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len = readlink("/proc/self/exe", w->exe_name, sizeof(w->exe_name) - 1);

	/* ps shows which binary the zygote is a copy of. */
	if (w->cfg.binary)
		snprintf(w->exe_name, sizeof(w->exe_name), "%s", w->cfg.binary);
	else
		w->exe_name[len > 0 ? len : 0] = '\0';
	if (!w->exe_name[0])
		snprintf(w->exe_name, sizeof(w->exe_name), "safexec");
	char buf[65536];
	ssize_t n = 0;
	int r = 0;

	if (in < 0)
		return -errno;
	w->exe_fd = memfd_create("safexec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (w->exe_fd < 0)
		r = -errno;
	while (r == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(w->exe_fd, buf, (size_t)n) != n)
			r = -EIO;
	if (r == 0 && n < 0)
		r = -errno;
	/* Read-only to everyone, its owner too (a rootless sandbox's uid is
	 * its owner's), as python3's own file is: opening it to write fails
	 * with EACCES before the seals or ETXTBSY are reached. */
	if (r == 0 && (fchmod(w->exe_fd, 0555) < 0 ||
		       fcntl(w->exe_fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
			     F_SEAL_WRITE) < 0))
		r = -errno;
	close(in);
	return r;
}

static int make_etc(struct warm *w)
{
	struct wire msg = { 0 };
	size_t n;
	const struct sbx_etc_entry *e = sbx_host_etc(w->host, &n);
	int r = 0;

	wire_put_etc(&msg, e, n);
	if (msg.err)
		r = msg.err;
	else if ((w->etc_fd = memfd_create("safexec-etc", MFD_CLOEXEC)) < 0)
		r = -errno;
	else if (write(w->etc_fd, msg.p, msg.len) != (ssize_t)msg.len)
		r = -EIO;
	wire_free(&msg);
	return r;
}

int warm_open(struct warm **out, struct sbx_host *host, const struct warm_config *cfg,
	      char *why, size_t whylen)
{
	struct warm *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->host = host;
	w->cfg = *cfg;
	w->etc_fd = w->exe_fd = -1;
	w->z.ctl = w->next.ctl = -1;
	for (int i = 0; i < MAX_INFLIGHT; i++)
		atomic_init(&w->inflight[i], -1);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->ready, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = make_etc(w)) < 0 || (r = make_exe(w)) < 0 ||
	    (r = -pthread_create(&w->manager, NULL, manage, w)) < 0) {
		snprintf(why, whylen, "%s", strerror(-r));
		close_fd(&w->etc_fd);
		close_fd(&w->exe_fd);
		free(w);
		return r;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->first_done)
		pthread_cond_wait(&w->ready, &w->lock);
	r = w->first_error;
	snprintf(why, whylen, "%s", w->first_why);
	pthread_mutex_unlock(&w->lock);
	if (r < 0) {
		warm_close(w);
		return r;
	}
	sbx_host_set_runner(host, &(struct sbx_runner){ .run = run, .stop = stop, .ctx = w });
	w->registered = true;
	*out = w;
	return 0;
}

void warm_close(struct warm *w)
{
	if (!w)
		return;
	if (w->registered)
		sbx_host_set_runner(w->host, NULL);
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->manager, NULL);
	close_fd(&w->etc_fd);
	close_fd(&w->exe_fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->ready);
	free(w);
}

void warm_get_stats(struct warm *w, struct warm_stats *st)
{
	st->runs = atomic_load(&w->runs);
	st->fallbacks = atomic_load(&w->fallbacks);
	st->started = atomic_load(&w->started);
	pthread_mutex_lock(&w->lock);
	st->up = usable(w, &w->z) || usable(w, &w->next);
	pthread_mutex_unlock(&w->lock);
}
