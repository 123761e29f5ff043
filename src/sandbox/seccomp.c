/*
 * seccomp.c - the syscall filter every sandboxed program runs under.
 *
 * A deny-list on top of the namespaces: the namespaces and the dropped
 * capabilities already refuse most of these calls, but each of them has been
 * the way in for a real kernel exploit, so the filter refuses them before the
 * kernel code behind them runs at all.
 *
 * The filter is compiled with libseccomp when safexec is built
 * (tools/seccomp-gen.c writes the BPF into the binary: compiling it at every
 * start cost a `safexec run` 0.2 ms), and handed to the child as plain BPF.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "util/util.h"

/* Refused with EPERM.  Names, not numbers: libseccomp resolves them for the
 * native architecture and skips the ones this kernel's table lacks. */
static const char *const denied[] = {
	/* Namespaces and mounts: a new user namespace regains every
	 * capability; the mount API rewrites what the program sees. */
	"unshare", "setns", "mount", "umount", "umount2", "pivot_root",
	"chroot", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
	"move_mount", "mount_setattr",
	/* Large kernel attack surface with no use for a program. */
	"keyctl", "add_key", "request_key", "bpf", "perf_event_open",
	"userfaultfd", "io_uring_setup", "io_uring_enter",
	"io_uring_register",	/* io_uring also runs calls behind the filter */
	/* Reaching into other processes. */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd", "process_madvise",
	/* File handles bypass path checks (the "shocker" escape). */
	"open_by_handle_at", "name_to_handle_at",
	/* The machine itself. */
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
	"quotactl_fd", "syslog", "settimeofday", "clock_settime",
	"clock_adjtime", "adjtimex", "iopl", "ioperm", "uselib", "ustat",
	"sysfs", "_sysctl", "lookup_dcookie", "nfsservctl", "vhangup",
	"personality", "fanotify_init", "setdomainname", "sethostname",
	/* inotify instances are counted per user on the host: the user
	 * namespace's creator, root for the service. */
	"inotify_init", "inotify_init1",
};

/* The calls of denied[] that safexec itself makes to build a sandbox: the
 * seccomp profile a container engine loads for safexec (dist/container/
 * seccomp.json) allows these and refuses the rest of denied[]. */
static const char *const supervisor_needs[] = {
	"unshare", "mount", "umount2", "pivot_root", "sethostname",
};

/* Refused when no memory cgroup counts what they hold (rlimits do not). */
static const char *const denied_without_memcg[] = { "memfd_create", "shmget" };

static const uint64_t clone_ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

bool sbx_seccomp_container_denies(const char *name)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(supervisor_needs); i++)
		if (strcmp(name, supervisor_needs[i]) == 0)
			return false;
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(denied); i++)
		if (strcmp(name, denied[i]) == 0)
			return true;
	return false;
}

/* Socket families other than AF_UNIX (1), AF_INET (2) and AF_INET6 (10):
 * refuse 0 and 3..9 one by one and everything above 10 at once.  A value
 * with high bits set to smuggle a family past the equality tests is above
 * 10 as a 64-bit number, so it is refused too. */
static int deny_socket_families(scmp_filter_ctx ctx, int nr)
{
	static const uint64_t small[] = { 0, 3, 4, 5, 6, 7, 8, 9 };
	int r;

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(small); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
				     SCMP_A0(SCMP_CMP_EQ, small[i], 0));
		if (r < 0)
			return r;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
				SCMP_A0(SCMP_CMP_GT, 10, 0));
}

/* Refuses each named call with EPERM; names this architecture lacks are
 * skipped. */
static int deny_all(scmp_filter_ctx ctx, const char *const *names, size_t n, const char **what)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		*what = names[i];
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, bool no_memcg, const char **what)
{
	int r;

	r = deny_all(ctx, denied, UTIL_ARRAY_SIZE(denied), what);
	if (r == 0 && no_memcg)
		r = deny_all(ctx, denied_without_memcg,
			     UTIL_ARRAY_SIZE(denied_without_memcg), what);
	if (r < 0)
		return r;

	/* clone() may not make namespaces; clone3() passes its flags in
	 * memory the filter cannot read, so it answers ENOSYS and the C
	 * library falls back to clone(). */
	*what = "clone";
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(clone_ns_flags); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i],
					     clone_ns_flags[i]));
		if (r < 0)
			return r;
	}
	*what = "clone3";
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return r;

	/* TIOCSTI pushes bytes into a terminal's input; TIOCLINUX can too.
	 * The request is an int: compare the low 32 bits only, or a request
	 * with high bits set slips past (CVE-2019-10063). */
	*what = "ioctl";
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	if (r < 0)
		return r;

	*what = "socket";
	r = deny_socket_families(ctx, SCMP_SYS(socket));
	if (r < 0)
		return r;
	*what = "socketpair";
	return deny_socket_families(ctx, SCMP_SYS(socketpair));
}

int sbx_seccomp_build(struct sock_fprog *prog, bool no_memcg, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	const char *what = "init";
	int fd = -1, r;
	off_t size;
	void *buf = NULL;

	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	/* Calls through another architecture's table (i386 int 0x80, x32)
	 * would skip every rule below: kill the process instead.  For x86_64,
	 * libseccomp also sends x32 numbers (bit 30 set) to this action. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		goto out;
	/* The filter is loaded by hand; no_new_privs is set by the child. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		goto out;
	/* A binary tree of syscall numbers rather than a list: loading the
	 * filter makes the kernel run it for every syscall number to cache the
	 * ones it always allows, which costs a list filter ~0.1 ms per run;
	 * every call the program makes walks fewer instructions too. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		goto out;
	r = add_rules(ctx, no_memcg, &what);
	if (r < 0)
		goto out;

	what = "export";
	fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0) {
		r = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)size);
	if (!buf || pread(fd, buf, (size_t)size, 0) != size) {
		r = buf ? -EIO : -ENOMEM;
		goto out;
	}
	prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	prog->filter = buf;
	buf = NULL;
	r = 0;
out:
	if (r < 0)
		snprintf(err, errlen, "seccomp filter (%s): %s", what, strerror(-r));
	free(buf);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return r;
}
