/*
 * cgroup.c - one run's cgroup: limits, accounting, the verdict on memory.
 *
 * cgroup v2 where the host has it (a cgroup2 file system at /sys/fs/cgroup),
 * else v1 with the memory, pids and cpuacct controllers (hybrid hosts like
 * Debian's default before 11), else nothing: the child then relies on
 * rlimits alone, and `safexec check` says so.
 *
 * The supervisor only ever writes to cgroup files it created itself; the
 * sandbox has no cgroup file system mounted, so nothing here is a path the
 * program could have written.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/util.h"

/* Where the cgroup file systems are.  SAFEXEC_CGROUP_MOUNT names another
 * place: the tests point it at a hybrid host's v2 tree to exercise the v2
 * code on a v1 host. */
static const char *cg_mount(void)
{
	const char *env = getenv("SAFEXEC_CGROUP_MOUNT");

	return env && *env ? env : "/sys/fs/cgroup";
}

static const char *const v1_names[CG_NCTRL] = { "memory", "pids", "cpuacct" };

int sbx_write_at(int dirfd, const char *file, const char *value)
{
	int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static ssize_t read_at(int dirfd, const char *file, char *buf, size_t len)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

/* Reads "key value" from a flat-keyed file such as cpu.stat.  0, -ENOENT
 * when the file has no such key, or read_at()'s error. */
static int read_key_at(int dirfd, const char *file, const char *key, uint64_t *v)
{
	char buf[2048];
	size_t klen = strlen(key);
	ssize_t r = read_at(dirfd, file, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*v = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

static int read_u64_at(int dirfd, const char *file, uint64_t *v)
{
	char buf[64];
	ssize_t r = read_at(dirfd, file, buf, sizeof(buf));

	if (r < 0)
		return (int)r;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

/* The cgroup path, in text (the contents of /proc/self/cgroup), of the
 * hierarchy whose line names controller ctrl ("" for the v2 line), with
 * "/" given as "". */
static int own_cgroup(const char *text, const char *ctrl, char *out, size_t len)
{
	size_t clen = strlen(ctrl);

	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		const char *c1 = memchr(line, ':', n);
		const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;

		if (c2) {
			/* The controller list between the colons, comma-separated. */
			int match = clen == 0 && c2 == c1 + 1;
			for (const char *p = c1 + 1; clen && p < c2; p += strcspn(p, ",:") + 1)
				if (strncmp(p, ctrl, clen) == 0 && (p[clen] == ',' || p[clen] == ':'))
					match = 1;
			if (match) {
				int plen = (int)(line + n - (c2 + 1));
				if (plen == 1 && c2[1] == '/')
					plen = 0;
				snprintf(out, len, "%.*s", plen, c2 + 1);
				return 0;
			}
		}
		line += n + (line[n] == '\n');
	}
	return -ENOENT;
}

/* Reads /proc/self/cgroup into buf; "" when it cannot be read. */
static void read_own_cgroups(char *buf, size_t len)
{
	if (read_at(AT_FDCWD, "/proc/self/cgroup", buf, len) < 0)
		buf[0] = '\0';
}

/* The v1 mount point of a controller, e.g. /sys/fs/cgroup/memory or
 * /sys/fs/cgroup/cpu,cpuacct. */
static int v1_mount(const char *ctrl, char *out, size_t len)
{
	/* Where systemd and the usual init scripts mount them. */
	static const char *const prefix[] = { "", "cpu,", "" };
	static const char *const suffix[] = { "", "", ",cpu" };
	struct statfs sfs;

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(prefix); i++) {
		snprintf(out, len, "%s/%s%s%s", cg_mount(), prefix[i], ctrl, suffix[i]);
		if (statfs(out, &sfs) == 0 && sfs.f_type == CGROUP_SUPER_MAGIC)
			return 0;
	}
	return -ENOENT;
}

static int make_parent(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return access(path, W_OK) == 0 ? 0 : -EACCES;
}

/* What a note adds to make_parent()'s error: a read-only cgroup file system
 * is what a container gets unless given a writable one. */
static const char *ro_hint(int r)
{
	return r == -EROFS ? " (a container's read-only cgroup: docs/deploy.md, A container)" : "";
}

static void v2_init(struct sbx_host *host, char *notes, size_t noteslen)
{
	char own[PATH_MAX / 2], buf[256];
	const char *env = getenv("SAFEXEC_CGROUP");
	char *parent = host->cg_parent[0];
	int fd;

	if (env && *env)
		snprintf(parent, PATH_MAX, "%s%s", cg_mount(), env);
	else if (host->f.root)
		snprintf(parent, PATH_MAX, "%s/safexec", cg_mount());
	else {
		/* A user's own cgroup holds the user's processes, and v2 puts
		 * no controller below a cgroup that does: a rootless service
		 * needs a delegated, empty cgroup named in SAFEXEC_CGROUP. */
		char text[4096];
		read_own_cgroups(text, sizeof(text));
		if (own_cgroup(text, "", own, sizeof(own)) == 0)
			sbx_note(notes, noteslen, "cgroup v2: not root and SAFEXEC_CGROUP not set "
			     "(own cgroup %s is not delegated to safexec): limits are rlimits only",
			     own[0] ? own : "/");
		return;
	}
	int r = make_parent(parent);
	if (r < 0) {
		sbx_note(notes, noteslen, "cgroup v2: cannot use %s: %s%s: limits are rlimits only",
			 parent, strerror(-r), ro_hint(r));
		return;
	}
	/* Enable the controllers for the runs below the parent; the parent
	 * of the parent must offer them (the root cgroup always may). */
	char up[PATH_MAX];
	snprintf(up, sizeof(up), "%s", parent);
	*strrchr(up, '/') = '\0';
	fd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		sbx_write_at(fd, "cgroup.subtree_control", "+memory +pids");
		close(fd);
	}
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	sbx_write_at(fd, "cgroup.subtree_control", "+memory +pids");
	if (read_at(fd, "cgroup.subtree_control", buf, sizeof(buf)) >= 0) {
		host->f.cg_memory = strstr(buf, "memory") != NULL;
		host->f.cg_pids = strstr(buf, "pids") != NULL;
	}
	/* CPU time needs no controller: every v2 cgroup has cpu.stat. */
	host->f.cg_cpu = faccessat(fd, "cpu.stat", F_OK, 0) == 0;
	host->f.cgroup_kill = faccessat(fd, "cgroup.kill", F_OK, 0) == 0;
	close(fd);
	if (!host->f.cg_memory || !host->f.cg_pids)
		sbx_note(notes, noteslen, "cgroup v2: the memory and pids controllers are not "
		     "both enabled below %s", parent);
	host->f.cgroup = SBX_CGROUP_V2;
	host->f.cgroup_into = host->f.clone3;
	snprintf(host->f.cgroup_path, sizeof(host->f.cgroup_path), "%s", parent);
}

static void v1_init(struct sbx_host *host, char *notes, size_t noteslen)
{
	bool *have[CG_NCTRL] = { &host->f.cg_memory, &host->f.cg_pids, &host->f.cg_cpu };
	const char *env = getenv("SAFEXEC_CGROUP");
	char text[4096];
	int any = 0;

	read_own_cgroups(text, sizeof(text));
	for (int c = 0; c < CG_NCTRL; c++) {
		char mnt[PATH_MAX / 2], own[PATH_MAX / 4];

		if (v1_mount(v1_names[c], mnt, sizeof(mnt)) < 0) {
			sbx_note(notes, noteslen, "cgroup v1: no %s controller", v1_names[c]);
			continue;
		}
		if (env && *env)
			snprintf(host->cg_parent[c], PATH_MAX, "%s%s", mnt, env);
		else if (own_cgroup(text, v1_names[c], own, sizeof(own)) == 0) {
			char mine[PATH_MAX / 2 + PATH_MAX / 4];
			snprintf(mine, sizeof(mine), "%s%s", mnt, own);
			/* A container engine mounts the container's own cgroup
			 * at the mount point, below which its path is not. */
			snprintf(host->cg_parent[c], PATH_MAX, "%s/safexec",
				 access(mine, F_OK) == 0 ? mine : mnt);
		} else
			snprintf(host->cg_parent[c], PATH_MAX, "%s/safexec", mnt);
		int r = make_parent(host->cg_parent[c]);
		if (r < 0) {
			sbx_note(notes, noteslen, "cgroup v1: cannot use %s: %s%s", host->cg_parent[c],
				 strerror(-r), r == -EROFS ? ro_hint(r) : host->f.root ? "" :
				 " (not root, and no cgroup delegated in SAFEXEC_CGROUP)");
			host->cg_parent[c][0] = '\0';
			continue;
		}
		*have[c] = true;
		any = 1;
	}
	if (!any)
		return;
	host->f.cgroup = SBX_CGROUP_V1;
	snprintf(host->f.cgroup_path, sizeof(host->f.cgroup_path), "%s",
		 host->cg_parent[CG_MEMORY][0] ? host->cg_parent[CG_MEMORY] : host->cg_parent[CG_PIDS]);
	if (host->f.cg_memory) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/memory.memsw.limit_in_bytes", host->cg_parent[CG_MEMORY]);
		if (access(p, F_OK) < 0)
			sbx_note(notes, noteslen, "cgroup v1: %s", "no memory.memsw (swap accounting off): "
			     "swap is not limited");
	}
}

void cg_host_init(struct sbx_host *host, char *notes, size_t noteslen)
{
	struct statfs sfs;

	host->f.cgroup = SBX_CGROUP_NONE;
	if (statfs(cg_mount(), &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
		v2_init(host, notes, noteslen);
	else
		v1_init(host, notes, noteslen);
	if (host->f.cgroup == SBX_CGROUP_NONE)
		sbx_note(notes, noteslen, "%s", "no usable cgroup: memory, CPU and process limits "
		     "are per-process rlimits (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC)");
	else {
		if (!host->f.cg_memory)
			sbx_note(notes, noteslen, "%s", "memory limit: per-process RLIMIT_AS only");
		if (!host->f.cg_pids)
			sbx_note(notes, noteslen, "%s", "process limit: RLIMIT_NPROC only");
		if (!host->f.cg_cpu)
			sbx_note(notes, noteslen, "%s", "CPU limit: per-process RLIMIT_CPU only");
	}
}

/* Whether pid is listed in dirfd's cgroup.procs. */
static bool cg_has_pid(int dirfd, long pid)
{
	char buf[4096];

	if (read_at(dirfd, "cgroup.procs", buf, sizeof(buf)) < 0)
		return false;
	for (char *p = buf; *p;) {
		if (strtol(p, &p, 10) == pid)
			return true;
		while (*p == '\n')
			p++;
	}
	return false;
}

/* Kills every process listed in dirfd's cgroup.procs (v1, where there is
 * no cgroup.kill).  Never by the bare pid read from the file, which may
 * name another process by the time the signal goes: each is opened as a
 * pidfd first, and signalled only if it is still in the cgroup then. */
static void kill_procs(int dirfd)
{
	char buf[4096];

	if (read_at(dirfd, "cgroup.procs", buf, sizeof(buf)) < 0)
		return;
	for (char *p = buf; *p;) {
		long pid = strtol(p, &p, 10);
		while (*p == '\n')
			p++;
		if (pid <= 0)
			continue;
		int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pidfd < 0)
			continue;
		if (cg_has_pid(dirfd, pid))
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		close(pidfd);
	}
}

/* Empties and removes the cgroup at path, a run's that is ours to remove.
 * The last task leaves a moment after it is reaped: retry for a second. */
static void remove_cgroup(const char *path, bool v2)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < 1000 && rmdir(path) < 0 && errno == EBUSY; i++) {
		if (v2)
			sbx_write_at(fd, "cgroup.kill", "1");
		else
			kill_procs(fd);
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	close(fd);
}

/* The first hierarchy in use: where the instance locks are. */
static int first_hierarchy(const struct sbx_host *host)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (host->cg_parent[c][0])
			return c;
	return -1;
}

/* Removes instance name below every parent: its runs, then itself. */
static void remove_instance(const struct sbx_host *host, const char *name)
{
	for (int c = 0; c < CG_NCTRL; c++) {
		char inst[PATH_MAX], run[PATH_MAX + 300];
		DIR *d;
		struct dirent *e;

		if (!host->cg_parent[c][0])
			continue;
		snprintf(inst, sizeof(inst), "%s/%s", host->cg_parent[c], name);
		if (!(d = opendir(inst)))
			continue;
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "run-", 4) == 0) {
				snprintf(run, sizeof(run), "%s/%s", inst, e->d_name);
				remove_cgroup(run, host->f.cgroup == SBX_CGROUP_V2);
			}
		closedir(d);
		remove_cgroup(inst, host->f.cgroup == SBX_CGROUP_V2);
	}
}

/*
 * Removes the instances whose owner is gone.  Each live instance holds an
 * flock on its directory for as long as its process lives, whatever pid
 * namespace that process is in: an instance whose lock can be taken is
 * provably abandoned.  Called with the parent's lock held, so that no
 * instance is between its mkdir and its flock.
 */
static void sweep(const struct sbx_host *host, int first)
{
	DIR *d = opendir(host->cg_parent[first]);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "inst-", 5) != 0)
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			remove_instance(host, e->d_name);
		close(fd);
	}
	closedir(d);
}

int cg_host_claim(struct sbx_host *host, char *why, size_t whylen)
{
	int first = first_hierarchy(host), parent_fd, r = 0;
	uint64_t id;
	char name[32];

	if (host->f.cgroup == SBX_CGROUP_NONE || first < 0)
		return 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		snprintf(why, whylen, "getrandom: %s", strerror(errno));
		return -errno;
	}
	snprintf(name, sizeof(name), "inst-%016llx", (unsigned long long)id);

	parent_fd = open(host->cg_parent[first], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent_fd < 0 || flock(parent_fd, LOCK_EX) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot lock %s: %s", host->cg_parent[first], strerror(-r));
		goto out;
	}
	sweep(host, first);
	for (int c = first; c < CG_NCTRL; c++) {
		if (!host->cg_parent[c][0])
			continue;
		snprintf(host->cg_inst[c], PATH_MAX, "%s/%s", host->cg_parent[c], name);
		if (mkdir(host->cg_inst[c], 0755) < 0) {
			r = -errno;
			snprintf(why, whylen, "cannot create %s: %s", host->cg_inst[c], strerror(-r));
			host->cg_inst[c][0] = '\0';
			goto out;
		}
	}
	host->cg_lock_fd = open(host->cg_inst[first], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (host->cg_lock_fd < 0 || flock(host->cg_lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot lock %s: %s", host->cg_inst[first], strerror(-r));
		goto out;
	}
	/* v2: the runs below the instance get the controllers it has. */
	if (host->f.cgroup == SBX_CGROUP_V2 && (host->f.cg_memory || host->f.cg_pids) &&
	    (r = sbx_write_at(host->cg_lock_fd, "cgroup.subtree_control",
			      host->f.cg_memory && host->f.cg_pids ? "+memory +pids" :
			      host->f.cg_memory ? "+memory" : "+pids")) < 0) {
		snprintf(why, whylen, "cannot enable controllers in %s: %s", host->cg_inst[first],
			 strerror(-r));
		goto out;
	}
out:
	if (parent_fd >= 0)
		close(parent_fd);	/* releases the parent's lock */
	if (r < 0)
		cg_host_release(host);
	return r;
}

void cg_host_release(struct sbx_host *host)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (host->cg_inst[c][0]) {
			remove_cgroup(host->cg_inst[c], host->f.cgroup == SBX_CGROUP_V2);
			host->cg_inst[c][0] = '\0';
		}
	if (host->cg_lock_fd >= 0)
		close(host->cg_lock_fd);
	host->cg_lock_fd = -1;
}

void cg_host_leave(struct sbx_host *host)
{
	int first = first_hierarchy(host), fd;

	if (host->cg_lock_fd < 0 || first < 0)
		return;
	close(host->cg_lock_fd);
	host->cg_lock_fd = -1;
	/* A lock of a new description is had only once every copy of the
	 * opener's is closed: no process of the instance is left. */
	fd = open(host->cg_inst[first], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		host->cg_lock_fd = fd;
		cg_host_release(host);
	} else if (fd >= 0)
		close(fd);
}

/* Creates the run's cgroup below the instance; path is set only once the
 * directory is ours, so that a failure never removes another's.  The name
 * has the supervising process's pid: the forks of one process that opened
 * the host (the warm starts' supervisors) share its instance and count. */
static int cg_mkdir(const char *inst, unsigned long id, char *path, int *dirfd)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/run-%ld-%lu", inst, (long)getpid(), id);
	if (mkdir(p, 0755) < 0)
		return -errno;
	memcpy(path, p, sizeof(p));
	*dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *dirfd < 0 ? -errno : 0;
}

void cg_run_init(struct cg_run *cg)
{
	memset(cg, 0, sizeof(*cg));
	for (int c = 0; c < CG_NCTRL; c++)
		cg->dirfd[c] = cg->tasks_fd[c] = -1;
}

int cg_run_create(struct sbx_host *host, const struct sbx_limits *l,
		  unsigned long id, struct cg_run *cg, char *err, size_t errlen)
{
	char mem[32], pids[32];
	int r = 0;

	cg_run_init(cg);
	cg->mode = host->f.cgroup;
	if (cg->mode == SBX_CGROUP_NONE)
		return 0;

	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)l->memory_bytes);
	/* One more than asked for: the sandbox's init is in the cgroup too. */
	snprintf(pids, sizeof(pids), "%u", l->processes + 1);

	if (cg->mode == SBX_CGROUP_V2) {
		r = cg_mkdir(host->cg_inst[0], id, cg->path[0], &cg->dirfd[0]);
		if (r < 0)
			goto fail;
		int fd = cg->dirfd[0];
		if (host->f.cg_memory) {
			if ((r = sbx_write_at(fd, "memory.max", mem)) < 0)
				goto fail;
			sbx_write_at(fd, "memory.swap.max", "0");	/* absent without swap */
			sbx_write_at(fd, "memory.oom.group", "1");
		}
		if (host->f.cg_pids && (r = sbx_write_at(fd, "pids.max", pids)) < 0)
			goto fail;
		return 0;
	}

	for (int c = 0; c < CG_NCTRL; c++) {
		if (!host->cg_parent[c][0])
			continue;
		r = cg_mkdir(host->cg_inst[c], id, cg->path[c], &cg->dirfd[c]);
		if (r < 0)
			goto fail;
	}
	if (cg->dirfd[CG_MEMORY] >= 0) {
		int fd = cg->dirfd[CG_MEMORY];
		if ((r = sbx_write_at(fd, "memory.limit_in_bytes", mem)) < 0)
			goto fail;
		/* memory+swap equal to memory: no swap at all.  Absent when the
		 * kernel runs without swap accounting. */
		r = sbx_write_at(fd, "memory.memsw.limit_in_bytes", mem);
		if (r < 0 && r != -ENOENT)
			goto fail;
		sbx_write_at(fd, "memory.swappiness", "0");
	}
	if (cg->dirfd[CG_PIDS] >= 0 && (r = sbx_write_at(cg->dirfd[CG_PIDS], "pids.max", pids)) < 0)
		goto fail;
	/*
	 * Moving another process in (writing its pid to cgroup.procs) takes
	 * the global cgroup_threadgroup_rwsem for writing, which waits for an
	 * RCU grace period: about 10 ms, longer than the rest of the sandbox.
	 * A single-threaded process moving itself ("0" into "tasks") skips
	 * that lock, so the child does it, through files opened here: the
	 * write is allowed by the opener's credentials, not the child's.
	 */
	for (int c = 0; c < CG_NCTRL; c++) {
		if (cg->dirfd[c] < 0)
			continue;
		cg->tasks_fd[c] = openat(cg->dirfd[c], "tasks", O_WRONLY | O_CLOEXEC);
		if (cg->tasks_fd[c] < 0) {
			r = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "cgroup setup: %s", strerror(-r));
	cg_run_destroy(cg);
	return r;
}

void cg_run_close_tasks(struct cg_run *cg)
{
	for (int c = 0; c < CG_NCTRL; c++)
		if (cg->tasks_fd[c] >= 0) {
			close(cg->tasks_fd[c]);
			cg->tasks_fd[c] = -1;
		}
}

int cg_run_cpu_ns(struct cg_run *cg, uint64_t *ns)
{
	uint64_t v;

	if (cg->mode == SBX_CGROUP_V2 && cg->dirfd[0] >= 0) {
		int r = read_key_at(cg->dirfd[0], "cpu.stat", "usage_usec", &v);
		if (r < 0)
			return r;
		*ns = v * 1000;
		return 0;
	}
	if (cg->mode == SBX_CGROUP_V1 && cg->dirfd[CG_CPU] >= 0)
		return read_u64_at(cg->dirfd[CG_CPU], "cpuacct.usage", ns);
	return -ENOENT;
}

uint64_t cg_run_memory_peak(struct cg_run *cg)
{
	uint64_t v = 0;

	if (cg->mode == SBX_CGROUP_V2 && cg->dirfd[0] >= 0)
		read_u64_at(cg->dirfd[0], "memory.peak", &v);	/* kernel 5.19+ */
	else if (cg->mode == SBX_CGROUP_V1 && cg->dirfd[CG_MEMORY] >= 0)
		read_u64_at(cg->dirfd[CG_MEMORY], "memory.max_usage_in_bytes", &v);
	return v;
}

int cg_run_oom(struct cg_run *cg)
{
	uint64_t v = 0;

	if (cg->mode == SBX_CGROUP_V2 && cg->dirfd[0] >= 0)
		read_key_at(cg->dirfd[0], "memory.events", "oom_kill", &v);
	else if (cg->mode == SBX_CGROUP_V1 && cg->dirfd[CG_MEMORY] >= 0)
		read_key_at(cg->dirfd[CG_MEMORY], "memory.oom_control", "oom_kill", &v);
	return v > 0;
}

void cg_run_kill(struct cg_run *cg)
{
	if (cg->mode == SBX_CGROUP_V2 && cg->dirfd[0] >= 0)
		sbx_write_at(cg->dirfd[0], "cgroup.kill", "1");
}

void cg_run_destroy(struct cg_run *cg)
{
	cg_run_close_tasks(cg);
	for (int c = 0; c < CG_NCTRL; c++) {
		if (cg->dirfd[c] >= 0)
			close(cg->dirfd[c]);
		cg->dirfd[c] = -1;
		if (!cg->path[c][0])
			continue;
		remove_cgroup(cg->path[c], cg->mode == SBX_CGROUP_V2);
		cg->path[c][0] = '\0';
	}
}
