/*
 * host.c - what this host offers, decided once per process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/util.h"

#define PYTHON "/usr/bin/python3"

void sbx_note(char *notes, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(notes, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(notes + used, len - used, fmt, ap);
	va_end(ap);
	used = strnlen(notes, len);
	if (used + 1 < len) {
		notes[used] = '\n';
		notes[used + 1] = '\0';
	}
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

/* Whether fn succeeds (returns 0) in a child process, whose namespaces
 * die with it. */
static bool in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(fn() == 0 ? 0 : 1);
	if (waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int make_namespaces(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET);
}

/* The calls of a sandbox's setup that container engines' seccomp profiles
 * refuse: namespaces (Docker's), and a host name of its own in a new UTS
 * namespace (Podman's, which allows the namespaces).  Not mount, which
 * AppArmor's profile for containers denies too, and which is told apart
 * by the AppArmor note. */
static int set_up_namespaces(void)
{
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS) < 0)
		return -1;
	return sethostname("sandbox", 7);
}

static bool can_userns(void)
{
	return in_child(make_namespaces);
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
	host->cg_lock_fd = -1;
	cg_host_init(host, notes, noteslen);
	if (!f->root)
		sbx_note(notes, noteslen, "%s", "rootless: the sandbox's uid maps to the caller's own uid");
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
	int r;

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
	if ((r = cg_host_claim(host, why, whylen)) < 0) {
		free(host);
		return r;
	}
	host->filter = &sbx_seccomp_filters[!host->f.cg_memory];
#ifdef SBX_TEST_LAYERS
	const char *without = getenv("SAFEXEC_TEST_WITHOUT");
	if (without && strcmp(without, "caps") == 0)
		host->test_without = SBX_TEST_WITHOUT_CAPS;
	else if (without && strcmp(without, "seccomp") == 0)
		host->test_without = SBX_TEST_WITHOUT_SECCOMP;
#endif
	*out = host;
	return 0;
}

void sbx_host_leave(struct sbx_host *host)
{
	cg_host_leave(host);
}

void sbx_host_set_runner(struct sbx_host *host, const struct sbx_runner *runner)
{
	host->runner = runner ? *runner : (struct sbx_runner){ 0 };
}

const struct sbx_etc_entry *sbx_host_etc(const struct sbx_host *host, size_t *n)
{
	*n = host->netc;
	return host->etc;
}

void sbx_host_close(struct sbx_host *host)
{
	if (!host)
		return;
	cg_host_release(host);
	free(host->etc);
	free(host->etc_block);
	free(host);
}

/* Whether the entry's path is the sandbox's own file, or a directory on
 * the way to another's path, or that other's directory. */
static bool etc_clash(const struct sbx_etc_entry *e, const struct sbx_etc_entry *others,
		      size_t n)
{
	static const char *const own[] = { "passwd", "group", "hosts", "hostname" };

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(own); i++)
		if (strcmp(e->path, own[i]) == 0)
			return true;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(e->path), b = strlen(others[i].path);
		size_t m = a < b ? a : b;
		/* "x" against "x", "x/y" against "x" and "x" against "x/y". */
		if (strncmp(e->path, others[i].path, m) == 0 &&
		    (a == b || (a > b ? e->path : others[i].path)[m] == '/'))
			return true;
	}
	return false;
}

int sbx_host_set_etc(struct sbx_host *host, const struct sbx_etc_entry *entries, size_t n)
{
	size_t bytes = 0, block = 0;

	if (n > SBX_MAX_ETC)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const struct sbx_etc_entry *e = &entries[i];
		if (!e->path || !sbx_file_name_ok(e->path) || etc_clash(e, entries, i) ||
		    (e->len && !e->data) ||
		    (e->link && (e->len == 0 || memchr(e->data, '\0', e->len))))
			return -EINVAL;
		if (e->len > SBX_MAX_ETC_BYTES - bytes)
			return -E2BIG;
		bytes += e->len;
		block += strlen(e->path) + 1 + e->len + 1;
	}
	struct sbx_etc_entry *etc = calloc(n ? n : 1, sizeof(*etc));
	char *b = malloc(block ? block : 1), *p = b;
	if (!etc || !b) {
		free(etc);
		free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(entries[i].path) + 1;
		etc[i].path = memcpy(p, entries[i].path, plen);
		p += plen;
		etc[i].data = p;
		if (entries[i].len)
			memcpy(p, entries[i].data, entries[i].len);
		p[entries[i].len] = '\0';
		p += entries[i].len + 1;
		etc[i].len = entries[i].len;
		etc[i].link = entries[i].link;
		etc[i].out_only = entries[i].out_only;
	}
	free(host->etc);
	free(host->etc_block);
	host->etc = etc;
	host->etc_block = b;
	host->netc = n;
	host->etc_bytes = bytes;
	return 0;
}

const struct sbx_features *sbx_host_features(const struct sbx_host *host)
{
	return &host->f;
}

/* Reads a small file into buf; "" when it cannot. */
static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static bool file_is(const char *path, const char *value)
{
	char buf[32];

	read_small(path, buf, sizeof(buf));
	return strncmp(buf, value, strlen(value)) == 0 && (buf[strlen(value)] == '\n' ||
							  buf[strlen(value)] == '\0');
}

/* Mount points of this process's mount table (/proc/self/mountinfo, as
 * seen from its root): whether "/" is one; whether anything is mounted
 * below /proc but binfmt_misc (what container engines do to hide
 * /proc/kcore and friends, and what makes the kernel refuse a fresh proc
 * mount in a new user namespace: mount_too_revealing()); and the first
 * mount point below /usr, which the sandbox binds alone (a bind without
 * the mounts below it, which the kernel refuses in a user namespace when
 * they are locked there). */
static void scan_mounts(bool *root_is_mount, bool *proc_masked, char *below_usr, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	*root_is_mount = *proc_masked = false;
	below_usr[0] = '\0';
	if (!f) {
		*root_is_mount = true;	/* unknown: claim nothing */
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char mnt[1024];
		/* id parent major:minor root mount-point ... */
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
			continue;
		if (strcmp(mnt, "/") == 0)
			*root_is_mount = true;
		else if (strncmp(mnt, "/proc/", 6) == 0 && strcmp(mnt, "/proc/sys/fs/binfmt_misc") != 0)
			*proc_masked = true;
		else if (strncmp(mnt, "/usr/", 5) == 0 && !below_usr[0])
			snprintf(below_usr, len, "%.200s", mnt);
	}
	fclose(f);
}

/* A chroot: the root is not that of pid 1 (when that can be seen), or no
 * mount is at "/" (the mount table hides what lies above a chroot). */
static bool chrooted(bool root_is_mount)
{
	struct stat root, init_root;

	if (stat("/", &root) == 0 && stat("/proc/1/root/", &init_root) == 0 &&
	    (root.st_dev != init_root.st_dev || root.st_ino != init_root.st_ino))
		return true;
	return !root_is_mount;
}

/* Whether this user namespace maps id (an id of its own) in the map
 * /proc/self/uid_map or gid_map. */
static bool id_mapped(const char *map, unsigned long id)
{
	char buf[1024];
	unsigned long in, out, count;
	int n;

	read_small(map, buf, sizeof(buf));
	for (const char *p = buf; sscanf(p, "%lu %lu %lu%n", &in, &out, &count, &n) == 3; p += n)
		if (id >= in && id - in < count)
			return true;
	return false;
}

void sbx_diagnose(char *notes, size_t len)
{
	char status[4096];
	const char *p;
	bool root_user = geteuid() == 0, root_is_mount, masked;
	char below_usr[256];

	scan_mounts(&root_is_mount, &masked, below_usr, sizeof(below_usr));
	if (chrooted(root_is_mount))
		sbx_note(notes, len, "%s", "cause: this process is inside a chroot, where the kernel "
			 "refuses new user namespaces; fix: enter the root with its own mount "
			 "namespace and pivot_root (unshare -m, then pivot_root), not chroot");
	if (file_is("/proc/sys/user/max_user_namespaces", "0"))
		sbx_note(notes, len, "%s", "cause: user namespaces are disabled "
			 "(user.max_user_namespaces = 0); fix: sysctl -w user.max_user_namespaces=15000");
	if (!root_user && file_is("/proc/sys/kernel/unprivileged_userns_clone", "0"))
		sbx_note(notes, len, "%s", "cause: unprivileged user namespaces are disabled "
			 "(kernel.unprivileged_userns_clone = 0); fix: sysctl -w "
			 "kernel.unprivileged_userns_clone=1, or run safexec as root");
	if (!root_user && file_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"))
		sbx_note(notes, len, "%s", "cause: AppArmor restricts unprivileged user namespaces "
			 "(kernel.apparmor_restrict_unprivileged_userns = 1); fix: an AppArmor profile "
			 "for safexec that allows userns, or run it as root");
	read_small("/proc/self/status", status, sizeof(status));
	if ((p = strstr(status, "\nSeccomp:")))
		p += strspn(p + 9, " \t") + 9;
	if (p && *p >= '1' && *p <= '9' && !in_child(set_up_namespaces))
		sbx_note(notes, len, "%s", "cause: this process already runs under a seccomp filter "
			 "(a container's default profile refuses namespaces and mount); fix: run the "
			 "container with safexec's profile, which allows namespaces and mount: "
			 "--security-opt seccomp=dist/container/seccomp.json (in the image: "
			 "/usr/share/safexec/seccomp.json)");
	/* Root maps the sandbox's uid and gid to others than its own
	 * (SBX_ROOT_HOST_ID), which takes CAP_SETUID and CAP_SETGID. */
	const char *capeff = strstr(status, "\nCapEff:");
	unsigned long long caps = capeff ? strtoull(capeff + 8, NULL, 16) : ~0ull;
	if (root_user && (~caps & (1ull << CAP_SETUID | 1ull << CAP_SETGID)))
		sbx_note(notes, len, "%s", "cause: root without CAP_SETUID and CAP_SETGID, which "
			 "map the sandbox's uid and gid; fix: give safexec both (docker run "
			 "--cap-add SETUID --cap-add SETGID), or run it as another user than root "
			 "(rootless)");
	if (root_user && (!id_mapped("/proc/self/uid_map", SBX_ROOT_HOST_ID) ||
			  !id_mapped("/proc/self/gid_map", SBX_ROOT_HOST_ID)))
		sbx_note(notes, len, "cause: root in a user namespace that does not map id %u, "
			 "to which root maps the sandbox's uid and gid (rootless Podman maps 65536 "
			 "ids); fix: run safexec as another user than root (podman run --user 1000)",
			 SBX_ROOT_HOST_ID);
	/* AppArmor's profile for containers (docker-default, and Podman's
	 * containers-default) denies mount. */
	char label[128];
	read_small("/proc/self/attr/apparmor/current", label, sizeof(label));
	if (!label[0])
		read_small("/proc/self/attr/current", label, sizeof(label));
	label[strcspn(label, "\n")] = '\0';
	if (label[0] && strcmp(label, "unconfined") != 0 && strstr(label, "(enforce)"))
		sbx_note(notes, len, "cause: AppArmor confines this process (%s), and the profiles "
			 "of container engines deny mount; fix: run the container with "
			 "--security-opt apparmor=unconfined", label);
	if (masked)
		sbx_note(notes, len, "%s", "cause: /proc has masked submounts (a container's "
			 "/proc/kcore, /proc/keys, ...), so the kernel refuses the sandbox its own "
			 "/proc; fix: run the container with --security-opt systempaths=unconfined "
			 "(Podman: --security-opt unmask=/proc/*)");
	if (below_usr[0])
		sbx_note(notes, len, "cause: %s is a mount point below /usr, which the sandbox "
			 "binds without what is mounted below it, and the kernel refuses such a bind "
			 "in a user namespace (`docker run --init` mounts its init at /sbin/docker-init, "
			 "which is /usr/sbin/docker-init where /sbin links to /usr/sbin); fix: mount "
			 "nothing below /usr (the image has an init of its own: no --init)", below_usr);
	if (access("/.dockerenv", F_OK) == 0 || access("/run/.containerenv", F_OK) == 0)
		sbx_note(notes, len, "%s", "inside a container: it needs namespaces, mount and an "
			 "unmasked /proc allowed (docs/deploy.md, A container)");
}

int sbx_host_selftest(struct sbx_host *host, char *why, size_t whylen)
{
	static const char code[] = "pass\n";
	struct sbx_request req;
	struct sbx_result res;
	int r;

	sbx_request_init(&req);
	req.code = code;
	req.code_len = sizeof(code) - 1;
	r = sbx_run(host, &req, &res);
	if (r == 0 && res.status != SBX_OK) {
		snprintf(res.error, sizeof(res.error), "a test program ended as %s (exit %d)",
			 sbx_status_name(res.status), res.exit_code);
		r = -EIO;
	}
	if (r < 0)
		snprintf(why, whylen, "%s", res.error);
	sbx_result_release(&res);
	return r;
}

int sbx_probe(struct sbx_features *f, char *notes, size_t noteslen)
{
	struct sbx_host *host = calloc(1, sizeof(*host));
	const char *miss;
	char why[512];
	int r = 0;

	if (!host)
		return -1;
	notes[0] = '\0';
	host_init(host, notes, noteslen);
	host->f.userns = can_userns();
	*f = host->f;
	free(host);
	if ((miss = missing(f))) {
		sbx_note(notes, noteslen, "missing: %s", miss);
		r = -1;
	} else if (sbx_host_open(&host, why, sizeof(why)) < 0) {
		sbx_note(notes, noteslen, "failed: %s", why);
		r = -1;
	} else {
		if (sbx_host_selftest(host, why, sizeof(why)) < 0) {
			sbx_note(notes, noteslen, "failed: a sandbox run: %s", why);
			r = -1;
		}
		sbx_host_close(host);
	}
	if (r < 0)
		sbx_diagnose(notes, noteslen);
	return r;
}

void sbx_host_kill_all(struct sbx_host *host)
{
	atomic_store(&host->stopping, true);
	for (int i = 0; i < SBX_MAX_RUNNING; i++) {
		int fd = atomic_load(&host->pidfds[i]);
		if (fd >= 0)
			syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	}
	if (host->runner.stop)
		host->runner.stop(host->runner.ctx);
}

unsigned sbx_host_running(const struct sbx_host *host)
{
	return atomic_load(&((struct sbx_host *)host)->running);
}
