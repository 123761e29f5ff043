/*
 * child.c - everything that runs inside the sandbox before the program.
 *
 * The child is cloned from the supervisor, which may be multi-threaded (the
 * HTTP service), so until execve() it calls only async-signal-safe functions:
 * system calls and the string functions POSIX lists as safe.  Everything it
 * needs (paths, options, rlimits, the compiled seccomp filter) was prepared
 * by the supervisor before clone3().  A few calls go to the kernel directly
 * (sys_* below): the C library's versions take locks that another thread
 * of the supervisor may have held at the moment of the clone (fork(), so
 * the program is started with the bare clone() wrapper), or signal every
 * thread of the process to change its ids too (setresuid() and friends),
 * threads that do not exist in the child.
 *
 * It runs as PID 1 of the new pid namespace, in new user, mount, network,
 * ipc, uts and cgroup namespaces.  sbx_child_main() takes these steps, in
 * order, each a function below:
 *
 *	keep_fds         close every fd it was not given
 *	set_death_signal SIGKILL when the supervisor dies
 *	join_cgroup      v1: move itself into the run's cgroups; then a new
 *	                 cgroup namespace rooted there
 *	wait_for_maps    block until the supervisor wrote uid_map and gid_map
 *	set_ids          become SBX_INNER_ID, drop supplementary groups
 *	setup_root       build the new root on a tmpfs and pivot into it
 *	setup_out_dir    collect_out: make /box/out and open it, for good
 *	scrub_cmdline    hide the supervisor's command line from /proc/1
 *	setup_uts        hostname "sandbox"
 *	protect_init     not dumpable: the program cannot ptrace or read it
 *	setup_session    setsid(): no controlling terminal (TIOCSTI class)
 *	setup_signals    default dispositions, nothing blocked (inherited)
 *	drop_privileges  no capabilities in any set, no_new_privs: for the
 *	                 init itself from here on, and for the program
 *	start_program    then reap_all until the program exits
 *
 * and exec_program(), in the program's own process:
 *
 *	setup_session    a session of its own, apart from the init's
 *	setup_stdio      0, 1, 2 from the supervisor; cwd /box
 *	setup_rlimits    hard = soft (lowering needs no capability)
 *	close_fds        everything above 2 closes at execve()
 *	setup_seccomp    the very last step before execve()
 *
 * When the program exits, init reports its wait status and exits; the kernel
 * then kills every other process of the namespace (daemons, stopped ones,
 * children holding the pipes) and the mounts go with the mount namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/util.h"

/* The new root is built on a tmpfs mounted over /tmp of the child's private
 * copy of the host's mounts: /tmp exists on every host, and the mount is
 * invisible outside the new mount namespace. */
#define NEWROOT "/tmp"
#define R(path) NEWROOT path

static const char passwd[] =
	"sandbox:x:1000:1000:sandbox:/box:/bin/sh\n"
	"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char group[] =
	"sandbox:x:1000:\n"
	"nogroup:x:65534:\n";
static const char hosts[] =
	"127.0.0.1\tlocalhost\n"
	"::1\tlocalhost ip6-localhost ip6-loopback\n"
	"127.0.1.1\tsandbox\n";

static const char *const devices[] = { "null", "zero", "full", "random", "urandom" };

static int sys_setgroups0(void)
{
	return (int)syscall(SYS_setgroups, 0, NULL);
}

static int sys_setresid(long nr, unsigned id)
{
	return (int)syscall(nr, id, id, id);
}

static void report(int fd, int kind, int err, int wstatus, const char *step)
{
	struct child_report rep;

	memset(&rep, 0, sizeof(rep));
	rep.kind = kind;
	rep.err = err;
	rep.wstatus = wstatus;
	if (step) {
		size_t n = strlen(step);
		if (n >= sizeof(rep.step))
			n = sizeof(rep.step) - 1;
		memcpy(rep.step, step, n);
	}
	/* One write below PIPE_BUF: atomic. */
	(void)!write(fd, &rep, sizeof(rep));
}

__attribute__((noreturn)) static void fail(const struct child_args *a, const char *step)
{
	report(a->report_fd, REPORT_SETUP_FAILED, errno, 0, step);
	_exit(127);
}

#define TRY(a, step, call) do { if ((call) < 0) fail(a, step); } while (0)

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int r;

	if (fd < 0)
		return -1;
	r = write_all(fd, data, len);
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* Closes every fd but the ones in keep[] (unsorted, -1 entries ignored). */
static int keep_fds(int *keep, int n)
{
	unsigned next = 0;

	for (int i = 1; i < n; i++)	/* insertion sort: n is 9 */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < next)
			continue;
		if ((unsigned)keep[i] > next &&
		    syscall(SYS_close_range, next, (unsigned)keep[i] - 1, 0) < 0)
			return -1;
		next = (unsigned)keep[i] + 1;
	}
	return (int)syscall(SYS_close_range, next, ~0u, 0);
}

/* The flags of the mount at path that a bind remount must repeat: inside a
 * user namespace the kernel refuses to clear them ("locked" flags). */
static unsigned long locked_flags(const char *path)
{
	struct statfs s;
	unsigned long f = 0;

	if (statfs(path, &s) < 0)
		return 0;
	if (s.f_flags & ST_NOSUID) f |= MS_NOSUID;
	if (s.f_flags & ST_NODEV) f |= MS_NODEV;
	if (s.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
	if (s.f_flags & ST_NOATIME) f |= MS_NOATIME;
	if (s.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (s.f_flags & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

/* Binds host path src at dst, then makes that mount read-only, nosuid and
 * nodev.  Not recursive: what is mounted below src stays out. */
static int bind_ro(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -1;
	return mount(NULL, dst, NULL,
		     MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(src),
		     NULL);
}

/* dst = a + b, cut to len; no allocator in the child. */
static void join(char *dst, size_t len, const char *a, const char *b)
{
	size_t na = strnlen(a, len - 1), nb = strnlen(b, len - 1 - na);

	memcpy(dst, a, na);
	memcpy(dst + na, b, nb);
	dst[na + nb] = '\0';
}

/*
 * The host paths the new root takes from (the runtime's root, its extra
 * paths), opened before the new root's tmpfs covers /tmp, where they may
 * be, and reached through /proc/self/fd afterwards.
 */
struct sources {
	int root;			/* the root whose usr, bin, lib... */
	int binds[SBX_MAX_BINDS];
};

/* "/proc/self/fd/N/name" (name may be "") into buf, without snprintf. */
static void fd_path(char *buf, size_t len, int fd, const char *name)
{
	char num[16];
	size_t n = sizeof(num);

	num[--n] = '\0';
	do
		num[--n] = (char)('0' + fd % 10);
	while ((fd /= 10) && n);
	join(buf, len, "/proc/self/fd/", num + n);
	if (name[0]) {
		join(buf, len, buf, "/");
		join(buf, len, buf, name);
	}
}

static void open_sources(const struct child_args *a, struct sources *src)
{
	TRY(a, "open the root", src->root = open(a->root[0] ? a->root : "/",
						 O_PATH | O_DIRECTORY | O_CLOEXEC));
	for (size_t i = 0; i < a->nbinds; i++)
		TRY(a, "open a runtime path", src->binds[i] = open(a->binds[i],
								   O_PATH | O_CLOEXEC));
}

static void close_sources(const struct child_args *a, struct sources *src)
{
	close(src->root);
	for (size_t i = 0; i < a->nbinds; i++)
		close(src->binds[i]);
}

/* /bin, /lib, ... are symlinks into /usr on merged-/usr hosts and
 * directories elsewhere: repeat whichever the root has. */
static void setup_top_dir(const struct child_args *a, const struct sources *src,
			  const char *name)
{
	char from[64], inner[32] = R("/"), target[64];
	struct stat st;
	ssize_t n;

	memcpy(inner + strlen(inner), name, strlen(name) + 1);
	if (fstatat(src->root, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(src->root, name, target, sizeof(target) - 1);
		if (n <= 0)
			fail(a, "readlink top dir");
		target[n] = '\0';
		TRY(a, "symlink top dir", symlink(target, inner));
	} else if (S_ISDIR(st.st_mode)) {
		fd_path(from, sizeof(from), src->root, name);
		TRY(a, "mkdir top dir", mkdir(inner, 0755));
		TRY(a, "bind top dir", bind_ro(from, inner));
	}
}

/* mkdir -p of path's parents (path is inside the new root's writable
 * parts); path itself is not made. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The runtime's extra host paths, read-only at the same place. */
static void setup_binds(const struct child_args *a, const struct sources *src)
{
	char inner[SBX_MAX_PATH + sizeof(NEWROOT)], from[32];
	struct stat st;

	for (size_t i = 0; i < a->nbinds; i++) {
		join(inner, sizeof(inner), NEWROOT, a->binds[i]);
		if (fstat(src->binds[i], &st) < 0)
			fail(a, "stat a runtime path");
		TRY(a, "make a runtime path", make_parents(inner));
		if (S_ISDIR(st.st_mode))
			TRY(a, "make a runtime path", mkdir(inner, 0755) < 0 && errno != EEXIST ? -1 : 0);
		else
			TRY(a, "make a runtime path", write_file(inner, "", 0, 0644));
		fd_path(from, sizeof(from), src->binds[i], "");
		TRY(a, "bind a runtime path", bind_ro(from, inner));
	}
}

/* The host's entries of /etc (sbx_host_set_etc()): safexec's own files,
 * such as a language's site configuration, never a bind of the host's;
 * those for runs with an output directory only in those. */
static void setup_etc(const struct child_args *a)
{
	char path[SBX_MAX_NAME + sizeof(R("/etc/"))];

	for (size_t i = 0; i < a->netc; i++) {
		const struct sbx_etc_entry *e = &a->etc[i];
		if (e->out_only && !a->collect_out)
			continue;
		join(path, sizeof(path), R("/etc/"), e->path);
		TRY(a, "write /etc", make_parents(path));
		if (e->link)
			TRY(a, "write /etc", symlink(e->data, path));
		else
			TRY(a, "write /etc", write_file(path, e->data, e->len, 0644));
	}
}

/* The program's files in /box, or its code as /box/main.py. */
static void setup_box_files(const struct child_args *a)
{
	char path[SBX_MAX_NAME + sizeof(R("/box/"))];

	if (!a->files) {
		TRY(a, "write /box", write_file(R("/box/main.py"), a->code, a->code_len, 0644));
		return;
	}
	for (size_t i = 0; i < a->nfiles; i++) {
		join(path, sizeof(path), R("/box/"), a->files[i].name);
		TRY(a, "write /box", make_parents(path));
		TRY(a, "write /box", write_file(path, a->files[i].data, a->files[i].len,
						a->files[i].executable ? 0755 : 0644));
	}
}

static void setup_dev(const struct child_args *a)
{
	char host[32], inner[48];

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(devices); i++) {
		size_t n = strlen(devices[i]);
		memcpy(host, "/dev/", 5);
		memcpy(host + 5, devices[i], n + 1);
		memcpy(inner, R("/dev/"), sizeof(R("/dev/")) - 1);
		memcpy(inner + sizeof(R("/dev/")) - 1, devices[i], n + 1);
		TRY(a, "create device node", write_file(inner, "", 0, 0666));
		TRY(a, "bind device node", mount(host, inner, NULL, MS_BIND, NULL));
	}
	TRY(a, "/dev/fd", symlink("/proc/self/fd", R("/dev/fd")));
	TRY(a, "/dev/stdin", symlink("/proc/self/fd/0", R("/dev/stdin")));
	TRY(a, "/dev/stdout", symlink("/proc/self/fd/1", R("/dev/stdout")));
	TRY(a, "/dev/stderr", symlink("/proc/self/fd/2", R("/dev/stderr")));
	TRY(a, "mkdir /dev/shm", mkdir(R("/dev/shm"), 0755));
	TRY(a, "mount /dev/shm", mount("tmpfs", R("/dev/shm"), "tmpfs",
				       MS_NOSUID | MS_NODEV, a->shm_opts));
}

static void setup_root(const struct child_args *a)
{
	static const char *const top[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

	struct sources src;

	/* Nothing done here may reach the host's mount tree. */
	TRY(a, "private /", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	open_sources(a, &src);
	TRY(a, "mount new root", mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				       a->root_opts));

	char usr[32];
	fd_path(usr, sizeof(usr), src.root, "usr");
	TRY(a, "mkdir /usr", mkdir(R("/usr"), 0755));
	TRY(a, "bind /usr", bind_ro(usr, R("/usr")));
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(top); i++)
		setup_top_dir(a, &src, top[i]);

	/* An /etc of its own: never the host's files. */
	TRY(a, "mkdir /etc", mkdir(R("/etc"), 0755));
	TRY(a, "/etc/passwd", write_file(R("/etc/passwd"), passwd, sizeof(passwd) - 1, 0644));
	TRY(a, "/etc/group", write_file(R("/etc/group"), group, sizeof(group) - 1, 0644));
	TRY(a, "/etc/hosts", write_file(R("/etc/hosts"), hosts, sizeof(hosts) - 1, 0644));
	TRY(a, "/etc/hostname", write_file(R("/etc/hostname"), "sandbox\n", 8, 0644));
	setup_etc(a);
	setup_binds(a, &src);
	close_sources(a, &src);

	/* /dev is a directory of the root tmpfs, read-only with it; its
	 * nodes are binds of the host's, which keep their own mount flags. */
	TRY(a, "mkdir /dev", mkdir(R("/dev"), 0755));
	setup_dev(a);

	/* The pid namespace's own /proc, showing only its processes; where
	 * the kernel has it (5.8+), without the host-wide files either. */
	TRY(a, "mkdir /proc", mkdir(R("/proc"), 0555));
	if (mount("proc", R("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0)
		TRY(a, "mount /proc", mount("proc", R("/proc"), "proc",
					    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));

	TRY(a, "mkdir /tmp", mkdir(R("/tmp"), 0755));
	TRY(a, "mount /tmp", mount("tmpfs", R("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV,
				   a->tmpfs_opts));
	TRY(a, "mkdir /box", mkdir(R("/box"), 0755));
	TRY(a, "mount /box", mount("tmpfs", R("/box"), "tmpfs", MS_NOSUID | MS_NODEV,
				   a->box_opts));
	setup_box_files(a);

	/* pivot_root, not chroot: a chroot is escapable, and the old root
	 * must be detached from the namespace altogether. */
	TRY(a, "chdir new root", chdir(NEWROOT));
	TRY(a, "pivot_root", (int)syscall(SYS_pivot_root, ".", "."));
	TRY(a, "detach old root", umount2(".", MNT_DETACH));
	TRY(a, "chdir /", chdir("/"));
	TRY(a, "read-only /", mount(NULL, "/", NULL,
				    MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				    NULL));
}

/* Parses the unsigned decimal number at *p, moving p past it. */
static unsigned long parse_ulong(const char **p)
{
	unsigned long v = 0;

	while (**p >= '0' && **p <= '9')
		v = v * 10 + (unsigned long)(*(*p)++ - '0');
	return v;
}

/*
 * The init is a copy of the supervisor, and /proc/1/cmdline (readable by
 * anyone, unlike environ) would show the supervisor's command line: its
 * paths and options.  Blank the argument area, found through the
 * arg_start and arg_end fields (48 and 49) of /proc/self/stat.
 */
static void scrub_cmdline(const struct child_args *a)
{
	static const char name[] = "safexec-init";
	char buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	TRY(a, "open /proc/self/stat", fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fail(a, "read /proc/self/stat");
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start after its last ')'. */
	p = buf + n;
	while (p > buf && *p != ')')
		p--;
	for (field = 2; *p && field < 48; p++)
		if (*p == ' ')
			field++;
	unsigned long start = parse_ulong(&p);
	if (*p++ != ' ')
		fail(a, "parse /proc/self/stat");
	unsigned long end = parse_ulong(&p);
	if (field != 48 || end <= start || end - start > (1ul << 20))
		fail(a, "parse /proc/self/stat");
	memset((void *)start, 0, end - start);
	memcpy((void *)start, name, end - start > sizeof(name) ? sizeof(name) : end - start - 1);
}

static void setup_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	/* The kernel's struct: the C library's sigaction() refuses its own
	 * two signals (32, 33), which its posix_spawn() leaves ignored in a
	 * child, so that a program would inherit them ignored or not
	 * depending on how safexec itself was started. */
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} dfl = { 0 };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* fails for KILL and STOP: fine */
	for (int sig = 32; sig < SIGRTMIN; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

#ifdef SBX_TEST_LAYERS
/* Test builds only: every capability of the user namespace stays, through
 * execve() too (ambient), so that seccomp is the only layer left. */
static void keep_all_caps(const struct child_args *a)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	TRY(a, "capget", (int)syscall(SYS_capget, &hdr, data));
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].inheritable = data[i].permitted;
	TRY(a, "capset", (int)syscall(SYS_capset, &hdr, data));
	for (int cap = 0; prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) == 0; cap++)
		;
	TRY(a, "no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}
#endif

static void drop_privileges(const struct child_args *a)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

#ifdef SBX_TEST_LAYERS
	if (a->test_without & SBX_TEST_WITHOUT_CAPS) {
		keep_all_caps(a);
		return;
	}
#endif
	/* Nothing may ever give capabilities back: not a setuid-root file,
	 * not a uid change, not the ambient set. */
	TRY(a, "securebits", prctl(PR_SET_SECUREBITS,
				   SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
				   SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
				   SECBIT_KEEP_CAPS_LOCKED |
				   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
				   0, 0, 0));
	/* Up to the first number the kernel does not know (CAP_LAST_CAP). */
	for (int cap = 0;; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno != EINVAL || cap == 0)
				fail(a, "drop bounding set");
			break;
		}
	TRY(a, "clear ambient", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	memset(data, 0, sizeof(data));
	TRY(a, "capset", (int)syscall(SYS_capset, &hdr, data));
	TRY(a, "no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

static void setup_session(const struct child_args *a)
{
	TRY(a, "setsid", setsid());
}

static void setup_stdio(const struct child_args *a)
{
	int in = a->stdin_fd;

	if (in < 0)
		TRY(a, "open /dev/null", in = open("/dev/null", O_RDONLY));
	TRY(a, "stdin", dup2(in, 0));
	TRY(a, "stdout", dup2(a->stdout_fd, 1));
	TRY(a, "stderr", dup2(a->stderr_fd, 2));
	/* dup2() onto itself keeps close-on-exec: clear it on all three. */
	for (int fd = 0; fd <= 2; fd++)
		TRY(a, "stdio flags", fcntl(fd, F_SETFD, 0));
	TRY(a, "chdir /box", chdir("/box"));
	umask(022);
}

static void setup_rlimits(const struct child_args *a)
{
	for (int i = 0; i < a->nrlimits; i++) {
		struct rlimit rl = { a->rlimits[i].soft, a->rlimits[i].hard };
		TRY(a, "setrlimit", setrlimit(a->rlimits[i].resource, &rl));
	}
}

/* Every fd above 2 closes at execve(); the report pipe stays open until
 * then so that a failed execve() can still be told. */
static void close_fds(const struct child_args *a)
{
	TRY(a, "close_range", (int)syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC));
}

static void setup_seccomp(const struct child_args *a)
{
#ifdef SBX_TEST_LAYERS
	if (a->test_without & SBX_TEST_WITHOUT_SECCOMP)
		return;
#endif
	TRY(a, "seccomp", (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, a->filter));
}

/* The program's process.  Signals need nothing: the init reset them
 * before the clone. */
static int exec_program(void *arg)
{
	const struct child_args *a = arg;

	setup_session(a);
	setup_stdio(a);
	setup_rlimits(a);
	close_fds(a);
	/* What execve() would have done: the program's process is dumpable
	 * again (the init stays not), and keeps no other descriptor. */
	if (a->program)
		TRY(a, "dumpable", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	setup_seccomp(a);
	if (a->program) {
		if (syscall(SYS_close_range, 3, ~0u, 0) < 0)
			_exit(127);
		a->program(a->program_arg, a->argv, a->envp);
		_exit(127);
	}
	execve(a->argv[0], a->argv, a->envp);
	fail(a, "execve");
}

/*
 * The program's process shares the init's memory until its execve()
 * (CLONE_VM | CLONE_VFORK: the init waits), which spares copying the page
 * tables of a copy of the whole supervisor.  Its stack is this one.  A
 * program that is a function of the caller's (a warm start) runs in a
 * copy instead, on the init's own stack, which grows to RLIMIT_STACK like
 * any program's.
 */
static char prog_stack[256 * 1024] __attribute__((aligned(64)));

static pid_t start_program(const struct child_args *a)
{
	pid_t prog;

	if (a->program) {
		if ((prog = fork()) == 0)
			exec_program((void *)a);
	} else
		prog = clone(exec_program, prog_stack + sizeof(prog_stack),
			     CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)a);
	if (prog < 0)
		fail(a, "start the program");
	return prog;
}

static void set_death_signal(const struct child_args *a)
{
	TRY(a, "pdeathsig", prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
}

static void join_cgroup(const struct child_args *a)
{
	for (int c = 0; c < CG_NCTRL; c++) {
		if (a->cg_tasks_fd[c] < 0)
			continue;
		TRY(a, "join cgroup", (int)write(a->cg_tasks_fd[c], "0", 1));
		close(a->cg_tasks_fd[c]);
	}
	TRY(a, "cgroup namespace", unshare(CLONE_NEWCGROUP));
}

/* EOF instead of the byte: the supervisor is gone. */
static void wait_for_maps(const struct child_args *a)
{
	char go;

	if (read(a->sync_fd, &go, 1) != 1)
		_exit(127);
}

static void set_ids(const struct child_args *a)
{
	/* Root: drop the host's supplementary groups (root's, mapped to
	 * nobody, would still count for access checks on host files). */
	if (a->set_groups)
		TRY(a, "setgroups", sys_setgroups0());
	TRY(a, "setresgid", sys_setresid(SYS_setresgid, SBX_INNER_ID));
	TRY(a, "setresuid", sys_setresid(SYS_setresuid, SBX_INNER_ID));
	/* A change of uid clears the parent-death signal (as root the kernel
	 * uid changed): set it again, then make sure the supervisor did not
	 * die in between.  It holds the sync pipe's write end until the run
	 * ends, so a hang-up means it is gone. */
	set_death_signal(a);
	struct pollfd pfd = { .fd = a->sync_fd, .events = POLLIN };
	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLHUP | POLLERR)))
		_exit(127);
	close(a->sync_fd);
}

static void setup_uts(const struct child_args *a)
{
	TRY(a, "sethostname", sethostname("sandbox", 7));
}

/* The program runs with our uid: make /proc/1 and ptrace refuse it. */
static void protect_init(const struct child_args *a)
{
	TRY(a, "dumpable", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
}

/*
 * What the init sends of /box once the program has ended (a compile
 * stage's output): every other process is killed and reaped first, so
 * that nothing changes /box while it is read.  Regular files only, read as
 * the sandbox's uid with O_NOFOLLOW, directories to a depth of 8: what the
 * program left is data to the supervisor, never a path it follows.
 */
struct box_walk {
	int fd;			/* the pipe */
	uint64_t left;		/* bytes of data still allowed */
	unsigned files;		/* files sent */
	bool truncated;
	char path[SBX_MAX_NAME + 1];
};

static char copy_buf[65536];

static int send_file(struct box_walk *w, int dirfd, const char *name, size_t plen)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return 0;	/* unreadable or not a file: not sent */
	}
	if (w->files >= SBX_MAX_FILES || (uint64_t)st.st_size > w->left) {
		close(fd);
		w->truncated = true;
		return 0;
	}
	struct box_record rec = { (uint32_t)plen, (st.st_mode & 0100) ? BOX_EXECUTABLE : 0,
				  (uint64_t)st.st_size };
	uint64_t todo = rec.len;
	int r = write_all(w->fd, (const char *)&rec, sizeof(rec)) < 0 ||
		write_all(w->fd, w->path, plen) < 0 ? -1 : 0;
	while (r == 0 && todo) {
		ssize_t n = read(fd, copy_buf, todo < sizeof(copy_buf) ? todo : sizeof(copy_buf));
		if (n <= 0) {
			r = -1;	/* shorter than it was: the stream cannot go on */
			break;
		}
		r = write_all(w->fd, copy_buf, (size_t)n);
		todo -= (uint64_t)n;
	}
	close(fd);
	w->left -= rec.len;
	w->files++;
	return r;
}

static int walk_box(struct box_walk *w, int dirfd, size_t plen, int depth)
{
	static char dents[8][4096];	/* one buffer per level */
	long n;

	while ((n = syscall(SYS_getdents64, dirfd, dents[depth], sizeof(dents[depth]))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(dents[depth] + off);
			size_t nlen = strlen(d->name);

			off += d->reclen;
			if ((nlen == 1 && d->name[0] == '.') || (nlen == 2 && d->name[0] == '.' &&
								  d->name[1] == '.'))
				continue;
			if (plen + (plen ? 1 : 0) + nlen > SBX_MAX_NAME) {
				w->truncated = true;
				continue;
			}
			size_t at = plen;
			if (plen)
				w->path[at++] = '/';
			memcpy(w->path + at, d->name, nlen + 1);
			if (d->type == DT_DIR) {
				if (depth + 1 >= 8) {
					w->truncated = true;
					continue;
				}
				int sub = openat(dirfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
				if (sub < 0)
					continue;
				int r = walk_box(w, sub, at + nlen, depth + 1);
				close(sub);
				if (r < 0)
					return r;
			} else if (d->type == DT_REG && send_file(w, dirfd, d->name, at + nlen) < 0) {
				return -1;
			}
			w->path[plen] = '\0';
		}
	}
	return n < 0 ? -1 : 0;
}

/* Nothing else may run once the program has ended: kill(-1) from the init
 * reaches every other process of its pid namespace. */
static void end_the_rest(void)
{
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR)
		;
}

static void send_box(const struct child_args *a)
{
	struct box_walk w = { .fd = a->box_fd, .left = a->box_max };
	int dirfd;

	end_the_rest();
	dirfd = open("/box", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0 || walk_box(&w, dirfd, 0, 0) < 0)
		_exit(127);	/* no end record: the supervisor sees a cut stream */
	close(dirfd);
	struct box_record end = { 0, w.truncated ? BOX_TRUNCATED : 0, 0 };
	(void)!write_all(a->box_fd, (const char *)&end, sizeof(end));
	close(a->box_fd);
}

/*
 * collect_out: the output directory.  Made empty before the program starts
 * and opened then; the descriptor is the init's alone (close-on-exec, and
 * the init is not dumpable, so not in the program's reach through /proc).
 * Whatever the program does to the path /box/out later (a rename, a
 * symlink in its place) does not change what the descriptor names.
 */
static int setup_out_dir(const struct child_args *a)
{
	int fd;

	if (!a->collect_out)
		return -1;
	TRY(a, "mkdir /box/out", mkdir(SBX_OUT_DIR, 0700));
	TRY(a, "open /box/out", fd = open(SBX_OUT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					  O_CLOEXEC));
	TRY(a, "chmod /box/out", fchmod(fd, 0700));	/* whatever the umask */
	return fd;
}

/* What the init sends of the output directory once the program has ended:
 * a struct out_record stream (internal.h). */
struct out_walk {
	int fd;			/* the pipe */
	uint32_t files_left;
	uint64_t bytes_left;
	uint64_t dropped;	/* entries not returned, in all */
	uint64_t listed;	/* OUT_DROPPED records sent */
};

static const char zeros[4096];

static int send_record(struct out_walk *w, unsigned kind, unsigned reason, const char *name,
		       size_t nlen, uint64_t len)
{
	struct out_record rec = { (uint16_t)kind, (uint16_t)reason, (uint32_t)nlen, len };

	if (write_all(w->fd, (const char *)&rec, sizeof(rec)) < 0)
		return -1;
	return write_all(w->fd, name, nlen);
}

static int drop_out(struct out_walk *w, const char *name, size_t nlen, unsigned reason)
{
	w->dropped++;
	if (w->listed >= SBX_MAX_OUT_DROPPED)
		return 0;
	w->listed++;
	return send_record(w, OUT_DROPPED, reason, name, nlen, 0);
}

/* The entry name of dirfd, opened for reading without following anything:
 * no symlink (RESOLVE_NO_SYMLINKS, O_NOFOLLOW), no /proc magic link, no
 * other mount, nothing outside the directory.  O_NONBLOCK: a FIFO opens
 * at once, for fstat() to turn away.  Kernels before 5.6 lack openat2();
 * there O_NOFOLLOW holds alone, since the name has no '/' and is no "..". */
static int open_beneath(int dirfd, const char *name)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	struct open_how how = {
		.flags = flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, name, flags);
	return fd;
}

/* One regular file: the header with its st_size, exactly that many bytes
 * (zeros where it came up short), then whether it was read as stat'ed. */
static int send_out_file(struct out_walk *w, int fd, const struct stat *st, const char *name,
			 size_t nlen)
{
	uint64_t todo = (uint64_t)st->st_size;
	uint32_t verdict = 0;
	struct stat after;
	char extra;

	if (send_record(w, OUT_FILE, 0, name, nlen, todo) < 0)
		return -1;
	w->files_left--;
	w->bytes_left -= todo;
	while (todo) {
		ssize_t n = read(fd, copy_buf, todo < sizeof(copy_buf) ? todo : sizeof(copy_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(w->fd, copy_buf, (size_t)n) < 0)
			return -1;
		todo -= (uint64_t)n;
	}
	if (todo)
		verdict = SBX_OUT_CHANGED;	/* shorter than its size */
	while (todo) {
		size_t n = todo < sizeof(zeros) ? todo : sizeof(zeros);
		if (write_all(w->fd, zeros, n) < 0)
			return -1;
		todo -= n;
	}
	if (!verdict && (read(fd, &extra, 1) != 0 || fstat(fd, &after) < 0 ||
			 after.st_size != st->st_size ||
			 after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
			 after.st_mtim.tv_nsec != st->st_mtim.tv_nsec))
		verdict = SBX_OUT_CHANGED;
	if (verdict)
		w->dropped++;
	return write_all(w->fd, (const char *)&verdict, sizeof(verdict));
}

static int send_out_entry(struct out_walk *w, int dirfd, const char *name, size_t nlen)
{
	struct stat st;
	int fd, r;

	if (!sbx_out_name_ok(name, nlen))
		return drop_out(w, name, nlen, SBX_OUT_BAD_NAME);
	fd = open_beneath(dirfd, name);
	if (fd < 0)
		return drop_out(w, name, nlen, errno == EACCES ? SBX_OUT_UNREADABLE
							       : SBX_OUT_NOT_REGULAR);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = drop_out(w, name, nlen, SBX_OUT_NOT_REGULAR);
	else if (w->files_left == 0)
		r = drop_out(w, name, nlen, SBX_OUT_OVER_COUNT);
	else if ((uint64_t)st.st_size > w->bytes_left)
		r = drop_out(w, name, nlen, SBX_OUT_OVER_SIZE);	/* never read */
	else
		r = send_out_file(w, fd, &st, name, nlen);
	close(fd);
	return r;
}

/* Top level only: a subdirectory is an entry that is not a regular file. */
static void send_out(const struct child_args *a, int dirfd)
{
	static char dents[4096];
	struct out_walk w = { .fd = a->box_fd, .files_left = a->out_max_files,
			      .bytes_left = a->out_max_bytes };
	long n;

	end_the_rest();
	/* Ours: undo a chmod of the program's, which would refuse us the
	 * directory's search permission (the init holds no capability). */
	if (fchmod(dirfd, 0700) < 0)
		_exit(127);
	while ((n = syscall(SYS_getdents64, dirfd, dents, sizeof(dents))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(dents + off);
			size_t nlen = strnlen(d->name, OUT_RECORD_NAME);

			off += d->reclen;
			if ((nlen == 1 && d->name[0] == '.') ||
			    (nlen == 2 && d->name[0] == '.' && d->name[1] == '.'))
				continue;
			if (send_out_entry(&w, dirfd, d->name, nlen) < 0)
				_exit(127);	/* no end record: a cut stream */
		}
	}
	if (n < 0)
		_exit(127);
	struct out_record end = { OUT_END, 0, 0, w.dropped };
	if (write_all(a->box_fd, (const char *)&end, sizeof(end)) < 0)
		_exit(127);
	close(a->box_fd);
	close(dirfd);
}

/* PID 1: reap everything; the run ends when the program does.  A traced
 * program's stops are reported here too: they are not its end. */
__attribute__((noreturn)) static void reap_all(const struct child_args *a, pid_t prog,
						int out_dirfd)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, __WALL);
		if (p == prog && (WIFEXITED(st) || WIFSIGNALED(st))) {
			if (a->box_fd >= 0 && out_dirfd >= 0)
				send_out(a, out_dirfd);
			else if (a->box_fd >= 0)
				send_box(a);
			report(a->report_fd, REPORT_EXITED, 0, st, NULL);
			_exit(0);
		}
		if (p < 0 && errno != EINTR)
			fail(a, "waitpid");
	}
}

void sbx_child_main(const struct child_args *a)
{
	int keep[] = { a->sync_fd, a->report_fd, a->stdin_fd, a->stdout_fd, a->stderr_fd,
		       a->cg_tasks_fd[0], a->cg_tasks_fd[1], a->cg_tasks_fd[2], a->box_fd };

	/* The supervisor may have other runs' fds open right now: keep none. */
	if (keep_fds(keep, (int)(UTIL_ARRAY_SIZE(keep))) < 0)
		_exit(127);
	set_death_signal(a);
	join_cgroup(a);		/* before anything else: all it does is charged */
	wait_for_maps(a);
	set_ids(a);
	setup_root(a);
	int out_dirfd = setup_out_dir(a);
	scrub_cmdline(a);
	setup_uts(a);
	protect_init(a);
	setup_session(a);
	setup_signals();
	drop_privileges(a);
	reap_all(a, start_program(a), out_dirfd);
}
