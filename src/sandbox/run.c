/*
 * run.c - the supervisor of one run.
 *
 *	prepare          cgroup with its limits, pipes, stdin memfd, argv
 *	clone3           CLONE_NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS,
 *	                 CLONE_PIDFD, and on v2 CLONE_INTO_CGROUP (on v1 the
 *	                 child moves itself; either way it then makes its own
 *	                 cgroup namespace)
 *	write_id_maps    uid_map, setgroups, gid_map (in that order:
 *	                 CVE-2014-8989), then "go"
 *	supervise        one epoll loop over the pidfd, the output pipes, a
 *	                 timerfd for the wall limit and one for the CPU limit
 *	verdict          status from the child's report and the cgroup
 *	cleanup          the pid namespace is dead with its init; remove the
 *	                 cgroup
 *
 * Wall time is on CLOCK_MONOTONIC.  CPU time comes from the cgroup, which
 * counts every process of the tree, orphans too.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/util.h"

#define READ_CHUNK 65536

/* A byte buffer that never grows past max. */
struct obuf {
	char *data;
	size_t len, cap, max;
};

static int obuf_append(struct obuf *b, const char *p, size_t n)
{
	if (n > b->max - b->len)
		n = b->max - b->len;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		char *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static struct sbx_buf obuf_take(struct obuf *b)
{
	struct sbx_buf out = { b->data, b->len };

	if (!out.data)
		out.data = calloc(1, 1);
	*b = (struct obuf){ 0 };
	return out;
}

/* Everything one run holds; released by run_release(). */
struct run {
	struct sbx_host *host;
	const struct sbx_request *req;
	struct cg_run cg;
	int out_pipe[2], err_pipe[2], sync_pipe[2], report_pipe[2];
	int stdin_fd, pidfd, epfd, wall_tfd, cpu_tfd;
	int slot;
	pid_t pid;
	char **argv, **envp;
	int box_pipe[2];		/* collect_files: /box's files from the init;
					   collect_out: /box/out's (out_record) */
	struct obuf out, err, output, box;
	uint64_t out_total, err_total;	/* bytes the program wrote */
	uint64_t start_ns;
	enum sbx_status killed_for;	/* SBX_OK: not killed by us */
	const char *failed;		/* why we killed it for SBX_INTERNAL_ERROR */
	bool exited;
	bool cancelled;			/* the request's cancel_fd fired */
};

/* Every descriptor at -1: releasing a run is safe from its declaration on. */
static void run_init(struct run *run, struct sbx_host *host, const struct sbx_request *req)
{
	*run = (struct run){
		.host = host, .req = req, .slot = -1, .stdin_fd = -1, .pidfd = -1,
		.epfd = -1, .wall_tfd = -1, .cpu_tfd = -1,
		.out_pipe = { -1, -1 }, .err_pipe = { -1, -1 },
		.sync_pipe = { -1, -1 }, .report_pipe = { -1, -1 }, .box_pipe = { -1, -1 },
	};
	cg_run_init(&run->cg);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Marks the result as the engine's failure; r is a negative errno, and is
 * returned. */
static int set_error(struct sbx_result *res, int r, const char *what)
{
	res->status = SBX_INTERNAL_ERROR;
	if (!res->error[0])
		snprintf(res->error, sizeof(res->error), "%s: %s", what, strerror(-r));
	return r;
}

static void kill_run(struct run *run, enum sbx_status why)
{
	if (run->killed_for == SBX_OK)
		run->killed_for = why;
	else if (why == SBX_INTERNAL_ERROR)
		run->killed_for = why;	/* the engine's failure outranks the rest */
	if (run->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, run->pidfd, SIGKILL, NULL, 0);
	cg_run_kill(&run->cg);
}

static int make_stdin(const struct sbx_request *req)
{
	int fd = memfd_create("stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	const char *p = req->stdin_data;
	size_t left = req->stdin_len;

	if (fd < 0)
		return -errno;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			int r = -errno;
			close(fd);
			return r;
		}
		p += n;
		left -= (size_t)n;
	}
	/* The program reads its input; it may not change it. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* A NULL-terminated vector in one block: the pointers, then copies of
 * the strings of head (nhead of them) and tail (ntail).  Copies, because
 * the child blanks the supervisor's own argument area (see
 * scrub_cmdline() in child.c), where a caller's strings may be. */
static char **make_vector(const char *const *head, size_t nhead,
			  const char *const *tail, size_t ntail)
{
	size_t bytes = (nhead + ntail + 1) * sizeof(char *);

	for (size_t i = 0; i < nhead; i++)
		bytes += strlen(head[i]) + 1;
	for (size_t i = 0; i < ntail; i++)
		bytes += strlen(tail[i]) + 1;
	char **v = calloc(1, bytes);
	if (!v)
		return NULL;
	char *p = (char *)(v + nhead + ntail + 1);
	for (size_t i = 0; i < nhead + ntail; i++) {
		const char *s = i < nhead ? head[i] : tail[i - nhead];
		size_t len = strlen(s) + 1;
		v[i] = memcpy(p, s, len);
		p += len;
	}
	return v;
}

/* The program's argv: the request's command, or Python on /box/main.py;
 * then the program's own arguments. */
static char **make_argv(const struct sbx_host *host, const struct sbx_request *req)
{
	const char *python[] = { host->f.python, "-E", "-s", "-u", "/box/main.py", NULL };
	const char *const *cmd = req->cmd ? req->cmd : python;
	size_t n = 0;

	while (cmd[n])
		n++;
	return make_vector(cmd, n, req->argv, req->argc);
}

/* The program's whole environment: the sandbox's own, then the request's
 * (a same NAME replaces the sandbox's). */
static char **make_envp(const struct sbx_request *req)
{
	static const char *const base[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/box", "LANG=C.UTF-8", "TMPDIR=/tmp",
		("SAFEXEC_OUT=" SBX_OUT_DIR),	/* last: only with collect_out */
	};
	const char *keep[UTIL_ARRAY_SIZE(base)];
	size_t nkeep = 0, nbase = UTIL_ARRAY_SIZE(base) - (req->collect_out ? 0 : 1);

	for (size_t i = 0; i < nbase; i++) {
		size_t name = strcspn(base[i], "=") + 1;
		bool replaced = false;
		for (size_t j = 0; j < req->nenv; j++)
			if (strncmp(req->env[j], base[i], name) == 0)
				replaced = true;
		if (!replaced)
			keep[nkeep++] = base[i];
	}
	return make_vector(keep, nkeep, req->env, req->nenv);
}

static void add_rlimit(struct child_args *a, int resource, uint64_t soft, uint64_t hard)
{
	a->rlimits[a->nrlimits].resource = resource;
	a->rlimits[a->nrlimits].soft = soft;
	a->rlimits[a->nrlimits].hard = hard;
	a->nrlimits++;
}

static void child_limits(const struct sbx_host *host, const struct sbx_limits *l,
			 struct child_args *a)
{
	uint64_t cpu_s = (l->cpu_ms + 999) / 1000;

	/* With the cgroup watching CPU time of the whole tree, RLIMIT_CPU is
	 * only a backstop a second later.  Without it, it is the limit, in
	 * whole seconds: SIGXCPU at the soft limit tells the verdict that the
	 * CPU limit struck, SIGKILL a second later if the program ignores it. */
	if (host->f.cg_cpu)
		add_rlimit(a, RLIMIT_CPU, cpu_s + 1, cpu_s + 1);
	else
		add_rlimit(a, RLIMIT_CPU, cpu_s, cpu_s + 1);
	add_rlimit(a, RLIMIT_FSIZE, l->file_size_bytes, l->file_size_bytes);
	add_rlimit(a, RLIMIT_NOFILE, l->open_files, l->open_files);
	add_rlimit(a, RLIMIT_CORE, 0, 0);
	/* Fixed, so that the room for arguments (a quarter of it) is what
	 * sbx_request_check() allows for, whatever the supervisor's is; below
	 * a hard limit the sandbox could not raise. */
	struct rlimit stack;
	uint64_t st = SBX_STACK;
	if (getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_max < st)
		st = stack.rlim_max;
	add_rlimit(a, RLIMIT_STACK, st, st);
	/* Counted per user namespace (kernel 5.14+): this run's processes,
	 * plus its init. */
	add_rlimit(a, RLIMIT_NPROC, (uint64_t)l->processes + 1, (uint64_t)l->processes + 1);
	if (!host->f.cg_memory)
		add_rlimit(a, RLIMIT_AS, l->memory_bytes, l->memory_bytes);
	/* The user namespace is created by the supervisor's uid, so what the
	 * kernel counts per user (queued signals, POSIX message queues,
	 * locked memory) is charged to that uid on the host as well: keep
	 * the program's share small, or it could exhaust root's budget.  No
	 * real-time priority, no raised niceness. */
	add_rlimit(a, RLIMIT_SIGPENDING, SBX_SIGPENDING, SBX_SIGPENDING);
	add_rlimit(a, RLIMIT_MSGQUEUE, 0, 0);
	add_rlimit(a, RLIMIT_MEMLOCK, SBX_MEMLOCK, SBX_MEMLOCK);
	add_rlimit(a, RLIMIT_RTPRIO, 0, 0);
	add_rlimit(a, RLIMIT_NICE, 0, 0);

	/* With a memory cgroup, tmpfs pages are charged to it: the sizes only
	 * keep one file system from taking all of the limit.  Without one,
	 * nothing else counts them: the three share one memory limit. */
	uint64_t tmp = l->memory_bytes, box = l->memory_bytes, shm = l->memory_bytes;
	if (!host->f.cg_memory) {
		tmp = l->memory_bytes / 2;
		box = shm = l->memory_bytes / 4;
	}
	/* The root's own files take a few KiB; the host's /etc entries, their
	 * data with a page each at most, and an inode each for them and for
	 * up to two directories on their way. */
	snprintf(a->root_opts, sizeof(a->root_opts), "mode=0755,size=%llu,nr_inodes=%zu",
		 (unsigned long long)((1u << 20) + host->etc_bytes + host->netc * 4096),
		 (size_t)128 + 3 * host->netc);
	snprintf(a->tmpfs_opts, sizeof(a->tmpfs_opts), "mode=1777,size=%llu,nr_inodes=4096",
		 (unsigned long long)tmp);
	snprintf(a->box_opts, sizeof(a->box_opts), "mode=0755,size=%llu,nr_inodes=1024",
		 (unsigned long long)box);
	snprintf(a->shm_opts, sizeof(a->shm_opts), "mode=1777,size=%llu,nr_inodes=1024",
		 (unsigned long long)shm);
}

static int write_proc_file(pid_t pid, const char *file, const char *value)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	return sbx_write_at(AT_FDCWD, path, value);
}

static int write_id_maps(struct run *run)
{
	const struct sbx_host *host = run->host;
	char map[64];
	int r;

	snprintf(map, sizeof(map), "%u %u 1\n", SBX_INNER_ID, (unsigned)host->host_uid);
	if ((r = write_proc_file(run->pid, "uid_map", map)) < 0)
		return r;
	/* An unprivileged writer must deny setgroups before gid_map. */
	if (!host->f.root && (r = write_proc_file(run->pid, "setgroups", "deny")) < 0)
		return r;
	snprintf(map, sizeof(map), "%u %u 1\n", SBX_INNER_ID, (unsigned)host->host_gid);
	return write_proc_file(run->pid, "gid_map", map);
}

/* The request's bounds on the output directory, 0 meaning the default. */
static uint32_t out_max_files(const struct sbx_request *req)
{
	return req->out_max_files ? req->out_max_files : SBX_DEFAULT_OUT_FILES;
}

static uint64_t out_max_bytes(const struct sbx_request *req)
{
	return req->out_max_bytes ? req->out_max_bytes : SBX_DEFAULT_OUT_BYTES;
}

static int start_child(struct run *run, struct sbx_result *res)
{
	struct sbx_host *host = run->host;
	struct child_args a;
	struct clone_args ca;
	long ret;

	memset(&a, 0, sizeof(a));
	a.sync_fd = run->sync_pipe[0];
	a.report_fd = run->report_pipe[1];
	a.stdin_fd = run->stdin_fd;
	a.stdout_fd = run->out_pipe[1];
	/* 2>&1: one pipe keeps the order the program wrote in. */
	a.stderr_fd = run->req->merge_stderr ? run->out_pipe[1] : run->err_pipe[1];
	for (int c = 0; c < CG_NCTRL; c++)
		a.cg_tasks_fd[c] = run->cg.tasks_fd[c];
	a.set_groups = host->f.root;
	a.code = run->req->code;
	a.code_len = run->req->code_len;
	a.files = run->req->files;
	a.nfiles = run->req->nfiles;
	a.argv = run->argv;
	a.envp = run->envp;
	a.binds = run->req->binds;
	a.nbinds = run->req->nbinds;
	snprintf(a.root, sizeof(a.root), "%s", run->req->root ? run->req->root : "");
	a.etc = host->etc;
	a.netc = host->netc;
	a.box_fd = run->box_pipe[1];
	a.box_max = SBX_MAX_FILES_BYTES;
	a.collect_out = run->req->collect_out;
	a.out_max_files = out_max_files(run->req);
	a.out_max_bytes = out_max_bytes(run->req);
	a.filter = host->filter;
	a.test_without = host->test_without;
	a.program = run->req->program;
	a.program_arg = run->req->program_arg;
	child_limits(host, &run->req->limits, &a);

	memset(&ca, 0, sizeof(ca));
	/* No CLONE_NEWCGROUP: the child makes its cgroup namespace once it
	 * is in its own cgroup, so that it sees that one as its root. */
	ca.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
		   CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&run->pidfd;
	ca.exit_signal = SIGCHLD;
	if (host->f.cgroup_into && run->cg.dirfd[0] >= 0) {
		/* Charged to the run's cgroup from its first instruction. */
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)run->cg.dirfd[0];
	}
	ret = syscall(SYS_clone3, &ca, sizeof(ca));
	if (ret < 0)
		return set_error(res, -errno, "clone3");
	if (ret == 0)
		sbx_child_main(&a);
	run->pid = (pid_t)ret;
	return 0;
}

static int release_child(struct run *run, struct sbx_result *res)
{
	int r;

	close_fd(&run->sync_pipe[0]);
	close_fd(&run->report_pipe[1]);
	close_fd(&run->out_pipe[1]);
	close_fd(&run->err_pipe[1]);
	close_fd(&run->stdin_fd);
	close_fd(&run->box_pipe[1]);
	cg_run_close_tasks(&run->cg);

	if ((r = write_id_maps(run)) < 0)
		return set_error(res, r, "uid/gid map");
	/* The write end stays open until the run ends: the child takes a
	 * hang-up on it for the supervisor's death. */
	if (write(run->sync_pipe[1], "g", 1) != 1)
		return set_error(res, -errno, "release child");
	return 0;
}

/* Arms a one-shot timer ms from now.  0 or -errno. */
static int arm_timer(int tfd, uint64_t ms)
{
	struct itimerspec its = { 0 };

	if (ms == 0)
		ms = 1;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	return timerfd_settime(tfd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* Ends the run as the engine's failure: a limit it can no longer watch, or
 * output it can no longer hold, must not let the run go on unnoticed. */
static void fail_run(struct run *run, const char *why)
{
	if (!run->failed)
		run->failed = why;
	kill_run(run, SBX_INTERNAL_ERROR);
}

/* The CPU limit: look at the cgroup's counter when the tree could have
 * used the rest of its allowance on every CPU at once, so that short runs
 * are never polled and long ones overshoot little. */
static void arm_cpu_check(struct run *run, uint64_t used_ns)
{
	const uint64_t limit_ns = run->req->limits.cpu_ms * 1000000ull;
	uint64_t next_ms = (limit_ns - used_ns) / 1000000ull / run->host->ncpu;

	if (arm_timer(run->cpu_tfd, next_ms < 5 ? 5 : next_ms) < 0)
		fail_run(run, "cannot arm the CPU time check");
}

static void check_cpu(struct run *run)
{
	uint64_t used;

	if (cg_run_cpu_ns(&run->cg, &used) < 0) {
		if (arm_timer(run->cpu_tfd, 100) < 0)	/* try again */
			fail_run(run, "cannot arm the CPU time check");
		return;
	}
	if (used >= run->req->limits.cpu_ms * 1000000ull)
		kill_run(run, SBX_TIMEOUT);
	else
		arm_cpu_check(run, used);
}

/* Reads what is there on one output pipe.  Returns 0 at EOF (or when the
 * pipe is unusable), 1 otherwise. */
static int drain(struct run *run, int fd, struct obuf *b, uint64_t *total, bool *truncated)
{
	char chunk[READ_CHUNK];
	const uint64_t limit = run->req->limits.output_bytes;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return 1;
			fail_run(run, "cannot read the program's output");
			return 0;
		}
		uint64_t before = *total;
		*total += (uint64_t)n;
		size_t keep = before >= limit ? 0 : (size_t)(limit - before < (uint64_t)n ? limit - before : (uint64_t)n);
		if (keep && (obuf_append(b, chunk, keep) < 0 ||
			     obuf_append(&run->output, chunk, keep) < 0)) {
			fail_run(run, "out of memory holding the program's output");
			return 0;
		}
		if (keep && run->req->on_output)
			run->req->on_output(run->req->output_arg, b == &run->err ? 2 : 1, chunk, keep);
		if (*total > limit) {
			*truncated = true;
			kill_run(run, SBX_OUTPUT_LIMIT);
		}
	}
}

/* Reads a readable output pipe; at EOF stops watching it. */
static void read_stream(struct run *run, int fd, struct obuf *b, uint64_t *total, bool *truncated)
{
	if (!drain(run, fd, b, total, truncated))
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Reads what the init sent of /box.  Returns 0 at EOF, 1 otherwise. */
static int read_box(struct run *run)
{
	char chunk[READ_CHUNK];

	for (;;) {
		ssize_t n = read(run->box_pipe[0], chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EINTR || errno == EAGAIN;
		if ((size_t)n > run->box.max - run->box.len) {
			fail_run(run, "the init sent more of /box than it may");
			return 0;
		}
		if (obuf_append(&run->box, chunk, (size_t)n) < 0) {
			fail_run(run, "out of memory holding the files of /box");
			return 0;
		}
	}
}

/* The files of the stream the init sent, into res; every record checked:
 * the bytes are the program's. */
static int take_files(struct run *run, struct sbx_result *res)
{
	const char *p = run->box.data, *end = run->box.data + run->box.len;
	size_t n = 0, bytes = 0;
	bool ended = false;

	res->files_truncated = true;
	/* Count and check first, then copy into one block. */
	for (const char *q = p; q && !ended;) {
		struct box_record rec;
		if ((size_t)(end - q) < sizeof(rec))
			break;
		memcpy(&rec, q, sizeof(rec));
		q += sizeof(rec);
		if (rec.name_len == 0) {
			ended = true;
			res->files_truncated = (rec.flags & BOX_TRUNCATED) != 0;
			break;
		}
		if (rec.name_len > SBX_MAX_NAME || rec.len > (uint64_t)(end - q) - rec.name_len ||
		    (size_t)(end - q) < rec.name_len || n >= SBX_MAX_FILES)
			break;
		q += rec.name_len + rec.len;
		bytes += rec.name_len + 1 + rec.len;
		n++;
	}
	if (!ended)
		n = 0;	/* a cut stream: nothing of it is trusted */
	res->files = calloc(n ? n : 1, sizeof(*res->files));
	res->files_block = malloc(bytes ? bytes : 1);
	if (!res->files || !res->files_block)
		return set_error(res, -ENOMEM, "files of /box");
	char *b = res->files_block;
	for (size_t i = 0; i < n; i++) {
		struct box_record rec;
		memcpy(&rec, p, sizeof(rec));
		p += sizeof(rec);
		memcpy(b, p, rec.name_len);
		b[rec.name_len] = '\0';
		p += rec.name_len;
		if (!sbx_file_name_ok(b) || strlen(b) != rec.name_len) {
			p += rec.len;	/* not a name below /box: left out */
			res->files_truncated = true;
			continue;
		}
		struct sbx_file *f = &res->files[res->nfiles++];
		f->name = b;
		b += rec.name_len + 1;
		f->data = memcpy(b, p, rec.len);
		f->len = rec.len;
		f->executable = (rec.flags & BOX_EXECUTABLE) != 0;
		b += rec.len;
		p += rec.len;
	}
	return 0;
}

/* name (len bytes, the program's) as printable ASCII into dst, cut to
 * SBX_OUT_DROP_NAME bytes (see struct sbx_out_drop). */
static void escape_name(char dst[SBX_OUT_DROP_NAME * 4 + 4], const char *name, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len > SBX_OUT_DROP_NAME ? SBX_OUT_DROP_NAME : len, o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (len > n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static void add_drop(struct sbx_result *res, const char *name, size_t len,
		     enum sbx_out_drop_reason reason)
{
	if (res->nout_dropped >= SBX_MAX_OUT_DROPPED)
		return;
	struct sbx_out_drop *d = &res->out_dropped[res->nout_dropped++];
	escape_name(d->name, name, len);
	d->reason = reason;
}

/* One pass over the init's /box/out stream: checks every record against
 * the request's bounds (the bytes came from inside the sandbox), and with
 * res fills its out_files (into block) and out_dropped.  Returns 0, or -1
 * for a stream that is cut short or breaks a rule. */
static int out_stream(const struct run *run, struct sbx_result *res, char *block,
		      size_t *nfiles, size_t *block_len, uint64_t *total)
{
	const char *q = run->box.data, *end = run->box.data + run->box.len;
	const uint32_t max_files = out_max_files(run->req);
	const uint64_t max_bytes = out_max_bytes(run->req);
	uint64_t bytes = 0, listed = 0, voided = 0;

	*nfiles = *block_len = 0;
	while (q && (size_t)(end - q) >= sizeof(struct out_record)) {
		struct out_record rec;
		memcpy(&rec, q, sizeof(rec));
		q += sizeof(rec);
		if (rec.kind == OUT_END) {
			/* The last record, and the count is at least what
			 * was seen dropped. */
			if (rec.name_len || q != end || rec.len < listed + voided)
				return -1;
			*total = rec.len;
			return 0;
		}
		if (rec.name_len == 0 || rec.name_len > OUT_RECORD_NAME ||
		    (size_t)(end - q) < rec.name_len)
			return -1;
		const char *name = q;
		q += rec.name_len;
		if (rec.kind == OUT_DROPPED) {
			if (rec.len || rec.reason < SBX_OUT_NOT_REGULAR ||
			    rec.reason > SBX_OUT_UNREADABLE || ++listed > SBX_MAX_OUT_DROPPED)
				return -1;
			if (res)
				add_drop(res, name, rec.name_len, rec.reason);
			continue;
		}
		uint32_t verdict;
		if (rec.kind != OUT_FILE || !sbx_out_name_ok(name, rec.name_len) ||
		    *nfiles + voided >= max_files || rec.len > max_bytes - bytes ||
		    (uint64_t)(end - q) < rec.len + sizeof(verdict))
			return -1;
		memcpy(&verdict, q + rec.len, sizeof(verdict));
		if (verdict != 0 && verdict != SBX_OUT_CHANGED)
			return -1;
		bytes += rec.len;
		if (verdict) {
			voided++;
			if (res)
				add_drop(res, name, rec.name_len, SBX_OUT_CHANGED);
		} else {
			if (res) {
				struct sbx_file *f = &res->out_files[res->nout_files++];
				char *b = block + *block_len;
				f->name = memcpy(b, name, rec.name_len);
				b[rec.name_len] = '\0';
				f->data = memcpy(b + rec.name_len + 1, q, rec.len);
				f->len = rec.len;
				b[rec.name_len + 1 + rec.len] = '\0';
			}
			++*nfiles;
			*block_len += rec.name_len + 1 + rec.len + 1;
		}
		q += rec.len + sizeof(verdict);
	}
	return -1;
}

/* collect_out: the files and drops of the init's stream, into res.  A
 * stream cut short is the engine's failure, unless the supervisor killed
 * the run (a limit, a stop): then its init died with it and nothing of
 * /box/out comes back. */
static int take_out(struct run *run, struct sbx_result *res)
{
	size_t n, len;
	uint64_t total = 0;

	if (out_stream(run, NULL, NULL, &n, &len, &total) < 0) {
		if (run->killed_for != SBX_OK || res->stopped)
			return 0;
		res->status = SBX_INTERNAL_ERROR;
		snprintf(res->error, sizeof(res->error), "the output directory's stream is cut "
			 "short or malformed");
		return -EIO;
	}
	res->out_files = calloc(n ? n : 1, sizeof(*res->out_files));
	res->out_block = malloc(len ? len : 1);
	res->out_dropped = calloc(SBX_MAX_OUT_DROPPED, sizeof(*res->out_dropped));
	if (!res->out_files || !res->out_block || !res->out_dropped)
		return set_error(res, -ENOMEM, "files of /box/out");
	out_stream(run, res, res->out_block, &n, &len, &total);
	res->out_dropped_total = total;
	return 0;
}

static int supervise(struct run *run, struct sbx_result *res)
{
	enum { EV_PID, EV_OUT, EV_ERR, EV_WALL, EV_CPU, EV_BOX, EV_CANCEL };
	struct epoll_event ev;
	int r;

	/* A failure here must not leave the program running unwatched: the
	 * caller's waitid() would then wait without a limit. */
#define ADD(fd, tag) do {						\
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = (tag) }; \
		if (epoll_ctl(run->epfd, EPOLL_CTL_ADD, (fd), &ev) < 0) { \
			kill_run(run, SBX_INTERNAL_ERROR);		\
			return set_error(res, -errno, "epoll_ctl");	\
		}							\
	} while (0)
	ADD(run->pidfd, EV_PID);
	ADD(run->out_pipe[0], EV_OUT);
	ADD(run->err_pipe[0], EV_ERR);
	ADD(run->wall_tfd, EV_WALL);
	if (run->cpu_tfd >= 0)
		ADD(run->cpu_tfd, EV_CPU);
	if (run->box_pipe[0] >= 0)
		ADD(run->box_pipe[0], EV_BOX);
	if (run->req->cancel_fd > 2)
		ADD(run->req->cancel_fd, EV_CANCEL);
#undef ADD
	if ((r = arm_timer(run->wall_tfd, run->req->limits.wall_ms)) < 0) {
		kill_run(run, SBX_INTERNAL_ERROR);
		return set_error(res, r, "timerfd");
	}
	if (run->cpu_tfd >= 0)
		arm_cpu_check(run, 0);

	while (!run->exited) {
		struct epoll_event evs[8];
		int n = epoll_wait(run->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			kill_run(run, SBX_INTERNAL_ERROR);
			return set_error(res, -errno, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t ticks;
			switch (evs[i].data.u32) {
			case EV_PID:
				run->exited = true;
				break;
			case EV_OUT:
				read_stream(run, run->out_pipe[0], &run->out, &run->out_total,
					    &res->stdout_truncated);
				break;
			case EV_ERR:
				read_stream(run, run->err_pipe[0], &run->err, &run->err_total,
					    &res->stderr_truncated);
				break;
			case EV_WALL:
				(void)!read(run->wall_tfd, &ticks, sizeof(ticks));
				kill_run(run, SBX_TIMEOUT);
				break;
			case EV_CPU:
				(void)!read(run->cpu_tfd, &ticks, sizeof(ticks));
				check_cpu(run);
				break;
			case EV_BOX:
				if (!read_box(run))
					epoll_ctl(run->epfd, EPOLL_CTL_DEL, run->box_pipe[0], NULL);
				break;
			case EV_CANCEL:
				epoll_ctl(run->epfd, EPOLL_CTL_DEL, run->req->cancel_fd, NULL);
				if (run->killed_for == SBX_OK)
					run->cancelled = true;
				kill_run(run, SBX_SIGNALED);
				break;
			}
		}
	}
	/* The whole namespace is gone once its init is: what is in the pipes
	 * now is all there will be.  Read it without waiting for EOF, which
	 * a concurrent run's child may hold off for a moment. */
	drain(run, run->out_pipe[0], &run->out, &run->out_total, &res->stdout_truncated);
	drain(run, run->err_pipe[0], &run->err, &run->err_total, &res->stderr_truncated);
	if (run->box_pipe[0] >= 0)
		read_box(run);
	return 0;
}

/* Whether a step that failed inside did so because of the request: the
 * kernel refused its arguments, or its code did not fit in /box. */
static bool request_at_fault(const struct child_report *rep)
{
	if (strncmp(rep->step, "execve", sizeof(rep->step)) == 0)
		return rep->err == E2BIG;
	if (strncmp(rep->step, "write /box", sizeof(rep->step)) == 0)
		return rep->err == ENOSPC || rep->err == EFBIG;
	return false;
}

/* Fills the result's status and figures.  Returns 0, or -E2BIG when the
 * sandbox refused the request itself (see request_at_fault()). */
static int verdict(struct run *run, struct sbx_result *res, const siginfo_t *si,
		   const struct rusage *ru)
{
	struct child_report rep[2];
	ssize_t n = read(run->report_pipe[0], rep, sizeof(rep));
	int nrep = n > 0 ? (int)(n / (ssize_t)sizeof(rep[0])) : 0;
	const struct child_report *exited = NULL;
	uint64_t cpu_ns;

	for (int i = 0; i < nrep; i++) {
		if (rep[i].kind == REPORT_SETUP_FAILED) {
			res->status = SBX_INTERNAL_ERROR;
			snprintf(res->error, sizeof(res->error), "sandbox setup: %.*s: %s",
				 (int)sizeof(rep[i].step), rep[i].step, strerror(rep[i].err));
			return request_at_fault(&rep[i]) ? -E2BIG : 0;
		}
		if (rep[i].kind == REPORT_EXITED)
			exited = &rep[i];
	}

	res->memory_bytes = cg_run_memory_peak(&run->cg);
	if (cg_run_cpu_ns(&run->cg, &cpu_ns) == 0)
		res->cpu_time_ms = cpu_ns / 1000000;
	else	/* init reaped every process of the tree it saw exit */
		res->cpu_time_ms = (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000 +
				   (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
	if (!res->memory_bytes)
		res->memory_bytes = (uint64_t)ru->ru_maxrss * 1024;

	if (run->killed_for == SBX_INTERNAL_ERROR) {
		res->status = SBX_INTERNAL_ERROR;
		if (run->failed)
			snprintf(res->error, sizeof(res->error), "%s", run->failed);
		return 0;
	}
	if (exited) {
		int st = exited->wstatus;
		if (WIFEXITED(st)) {
			res->has_exit_code = true;
			res->exit_code = WEXITSTATUS(st);
		} else if (WIFSIGNALED(st))
			res->signal = WTERMSIG(st);
	} else if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
		res->signal = si->si_status;	/* init killed: by us */
		if (run->cancelled ||
		    (run->killed_for == SBX_OK && atomic_load(&run->host->stopping))) {
			/* sbx_host_kill_all() or cancel_fd: reported as the
			 * kill it was. */
			res->stopped = true;
			res->status = SBX_SIGNALED;
			return 0;
		}
	} else if (run->killed_for == SBX_OK) {
		res->status = SBX_INTERNAL_ERROR;
		snprintf(res->error, sizeof(res->error), "sandbox init ended without a report");
		return 0;
	}

	bool cpu_over = res->cpu_time_ms >= run->req->limits.cpu_ms;
	/* SIGXCPU comes only from RLIMIT_CPU's soft limit; a SIGKILL with the
	 * CPU time over the limit, from its hard limit. */
	if (run->killed_for == SBX_TIMEOUT || (res->signal == SIGXCPU && !run->host->f.cg_cpu) ||
	    (cpu_over && res->signal == SIGKILL))
		res->status = SBX_TIMEOUT;
	else if (cg_run_oom(&run->cg))
		res->status = SBX_MEMORY_LIMIT;
	else if (run->killed_for == SBX_OUTPUT_LIMIT)
		res->status = SBX_OUTPUT_LIMIT;
	else if (res->signal)
		res->status = SBX_SIGNALED;
	else if (res->exit_code != 0)
		res->status = SBX_RUNTIME_ERROR;
	else
		res->status = SBX_OK;
	if (res->status == SBX_OUTPUT_LIMIT || res->status == SBX_TIMEOUT) {
		/* We ended it: the program's own exit status says nothing. */
		if (!res->signal) {
			res->has_exit_code = false;
			res->signal = SIGKILL;
		}
	}
	return 0;
}

static int slot_claim(struct sbx_host *host, int pidfd)
{
	for (int i = 0; i < SBX_MAX_RUNNING; i++) {
		int expected = -1;
		if (atomic_compare_exchange_strong(&host->pidfds[i], &expected, pidfd))
			return i;
	}
	return -1;
}

static void run_release(struct run *run)
{
	if (run->slot >= 0)
		atomic_store(&run->host->pidfds[run->slot], -1);
	close_fd(&run->out_pipe[0]);
	close_fd(&run->out_pipe[1]);
	close_fd(&run->err_pipe[0]);
	close_fd(&run->err_pipe[1]);
	close_fd(&run->sync_pipe[0]);
	close_fd(&run->sync_pipe[1]);
	close_fd(&run->report_pipe[0]);
	close_fd(&run->report_pipe[1]);
	close_fd(&run->stdin_fd);
	close_fd(&run->epfd);
	close_fd(&run->wall_tfd);
	close_fd(&run->cpu_tfd);
	close_fd(&run->pidfd);
	close_fd(&run->box_pipe[0]);
	close_fd(&run->box_pipe[1]);
	cg_run_destroy(&run->cg);
	free(run->argv);
	free(run->envp);
	free(run->box.data);
	free(run->out.data);
	free(run->err.data);
	free(run->output.data);
}

int sbx_run(struct sbx_host *host, const struct sbx_request *req, struct sbx_result *res)
{
	struct run run;
	siginfo_t si = { 0 };
	struct rusage ru = { 0 };
	int r = 0;

	run_init(&run, host, req);
	memset(res, 0, sizeof(*res));
	run.start_ns = util_now_ns();
	atomic_fetch_add(&host->running, 1);

	if (host->runner.run && !req->program &&
	    (r = host->runner.run(host->runner.ctx, req, res)) != -EAGAIN) {
		atomic_fetch_sub(&host->running, 1);
		return r;
	}
	memset(res, 0, sizeof(*res));
	r = 0;

	if ((r = sbx_request_check(req, res->error, sizeof(res->error))) < 0) {
		res->status = SBX_INTERNAL_ERROR;
		goto out;
	}
	run.out.max = run.err.max = req->limits.output_bytes;
	run.output.max = 2 * req->limits.output_bytes;

	if ((r = cg_run_create(host, &req->limits, atomic_fetch_add(&host->seq, 1), &run.cg,
			       res->error, sizeof(res->error))) < 0) {
		set_error(res, r, "cgroup");
		goto out;
	}
	if (pipe2(run.out_pipe, O_CLOEXEC) < 0 || pipe2(run.err_pipe, O_CLOEXEC) < 0 ||
	    pipe2(run.sync_pipe, O_CLOEXEC) < 0 || pipe2(run.report_pipe, O_CLOEXEC) < 0) {
		r = set_error(res, -errno, "pipe2");
		goto out;
	}
	fcntl(run.out_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(run.err_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(run.report_pipe[0], F_SETFL, O_NONBLOCK);
	run.epfd = epoll_create1(EPOLL_CLOEXEC);
	run.wall_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (host->f.cg_cpu)
		run.cpu_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (run.epfd < 0 || run.wall_tfd < 0 || (host->f.cg_cpu && run.cpu_tfd < 0)) {
		r = set_error(res, -errno, "epoll/timerfd");
		goto out;
	}
	if (req->stdin_data && req->stdin_len) {
		run.stdin_fd = make_stdin(req);
		if (run.stdin_fd < 0) {
			r = set_error(res, run.stdin_fd, "stdin memfd");
			goto out;
		}
	}
	run.argv = make_argv(host, req);
	run.envp = make_envp(req);
	if (!run.argv || !run.envp) {
		r = set_error(res, -ENOMEM, "argv");
		goto out;
	}
	if (req->collect_files || req->collect_out) {
		if (pipe2(run.box_pipe, O_CLOEXEC) < 0) {
			r = set_error(res, -errno, "pipe2");
			goto out;
		}
		fcntl(run.box_pipe[0], F_SETFL, O_NONBLOCK);
		if (req->collect_files)
			run.box.max = SBX_MAX_FILES_BYTES +
				      (SBX_MAX_FILES + 1) * (sizeof(struct box_record) + SBX_MAX_NAME);
		else	/* files, each with a verdict, then drops, then the end */
			run.box.max = out_max_bytes(req) +
				      (out_max_files(req) + SBX_MAX_OUT_DROPPED + 1) *
				      (sizeof(struct out_record) + OUT_RECORD_NAME + sizeof(uint32_t));
	}

	if ((r = start_child(&run, res)) < 0)
		goto out;
	run.slot = slot_claim(host, run.pidfd);
	if ((r = release_child(&run, res)) < 0) {
		kill_run(&run, SBX_INTERNAL_ERROR);
		waitid(P_PIDFD, (id_t)run.pidfd, &si, WEXITED | __WALL);
		goto out;
	}
	r = supervise(&run, res);
	/* The raw call, for the rusage of the init: its own and that of every
	 * process it reaped, which is the whole tree but for the processes
	 * still alive when the namespace died. */
	if (syscall(SYS_waitid, P_PIDFD, run.pidfd, &si, WEXITED | __WALL, &ru) < 0 && r == 0)
		r = set_error(res, -errno, "waitid");
	res->wall_time_ms = (util_now_ns() - run.start_ns) / 1000000;
	if (r == 0)
		r = verdict(&run, res, &si, &ru);
	if (r == 0 && req->collect_files && res->status != SBX_INTERNAL_ERROR)
		r = take_files(&run, res);
	if (r == 0 && req->collect_out && res->status != SBX_INTERNAL_ERROR)
		r = take_out(&run, res);
	if (res->status == SBX_INTERNAL_ERROR && r == 0)
		r = -EIO;
out:
	res->out = obuf_take(&run.out);
	res->err = obuf_take(&run.err);
	res->output = obuf_take(&run.output);
	run_release(&run);
	atomic_fetch_sub(&host->running, 1);
	return r;
}
