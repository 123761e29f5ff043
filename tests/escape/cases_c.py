"""The escape-and-abuse cases written in C, run as `safexec run --language c`.

Each case is an untrusted C program: the compile stage (gcc in a sandbox of
its own) builds it, the run stage runs the binary in a fresh sandbox under
the same policy as Python.  The cases are made by case() of cases.py with
language="c", and follow its rules (expect, check, setup, layers, skip...);
C_PRELUDE (below) is put before the code, so that every program has the
usual headers and the helpers

  say(fmt, ...)   printf, a new line and a flush
  ename(e)        an errno's name: "EPERM"
  SC(nr, ...)     a raw syscall: "OK" or the errno's name
  RC(call)        the same for a libc call that returns -1 on failure
  flt(nr, ...)    the call made in a child under a filter of the child's own
                  that answers it with SECCOMP_RET_TRACE: the sandbox's
                  EPERM takes precedence, so that EPERM is the sandbox
                  filter's own answer and ENOSYS means it let the call
                  through, whatever the kernel would say (see cases.py's
                  PRELUDE)
  in_thread(fn)   runs fn in a second thread while the main one waits: for
                  the calls that must kill the whole process, not the thread

Two kinds of case:

  run stage      the program compiles cleanly (`compile` status ok, no
                 diagnostics) and does the damage when it runs;
  compile stage  the source itself is the attack on the compiler: what gcc
                 and the assembler may read (`#include`, `__has_include`,
                 `.incbin` of host files), a compile that never ends, one
                 that eats memory, writes gigabytes or floods its output.

Expectations name the compile stage's result in `compile`, a dict judged
like the run's (status, exit_code, signal, stdout, stderr, stderr_re,
stderr_bytes, message, wall_min, wall_max, cpu_min, cpu_max, mem_max...);
a failed compile has the status compile_error and no run (null exit code
and signal, no output).  The host secret (safexec's environment) and the
host marker (a line in a file anyone may read on the host, M.marker in
M.marker_file; as root also in /etc) must appear nowhere in the answer,
which run.py checks for every case; the compile-stage cases also look for
the lines of the host's /etc/shadow (as root), and check with the host's
own gcc that what they look for is there to find outside the sandbox.
"""

import os
import re
import subprocess

import cases as C
from cases import KILL, MiB, SIGSYS, case, exact_lines, section

# --------------------------------------------------------------------------

C_PRELUDE = r'''
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#define UNUSED __attribute__((unused))

static UNUSED __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static UNUSED const char *ename(int e)
{
	static char buf[8][16];
	static unsigned i;
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf[i % 8], sizeof(buf[0]), "E%d", e);
	return buf[i++ % 8];
}

static UNUSED const char *rc(long r)
{
	return r == -1 ? ename(errno) : "OK";
}

#define SC(...) rc(syscall(__VA_ARGS__))
#define RC(call) rc((long)(call))

static UNUSED const char *flt(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	static char out[8][64];
	static unsigned i;
	char *buf = out[i++ % 8];
	int p[2];
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0)
		return "NOPIPE";
	pid = fork();
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
		char msg[64];

		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			snprintf(msg, sizeof(msg), "NOFILTER-%s", ename(errno));
		else
			snprintf(msg, sizeof(msg), "%s", SC(nr, a0, a1, a2, a3, a4, a5));
		(void)!write(p[1], msg, strlen(msg));
		_exit(0);
	}
	close(p[1]);
	n = pid < 0 ? -1 : read(p[0], buf, 63);
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (n > 0)
		buf[n] = 0;
	else
		snprintf(buf, 64, "NOREPORT");
	return buf;
}

static void *in_thread_run(void *fn)
{
	long r = ((long (*)(void))fn)();

	say("after %ld", r);
	return NULL;
}

/* Runs fn in a second thread; the main thread waits 3 s and says whether
 * both are still alive.  A call that kills the whole process leaves
 * "before" alone; one that kills its thread only leaves the main thread to
 * say so; one refused with an errno lets the thread say "after". */
static UNUSED void in_thread(long (*fn)(void))
{
	pthread_t t;
	struct timespec ts;
	int alive;

	say("before");
	if (pthread_create(&t, NULL, in_thread_run, (void *)fn) != 0) {
		say("pthread_create failed");
		exit(1);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	alive = pthread_timedjoin_np(t, NULL, &ts) == ETIMEDOUT;
	say("main thread alive; call thread alive: %s", alive ? "True" : "False");
}
'''

C_OK = dict(status="ok", exit_code=0, signal=None, stdout="", stderr="")


def ran(**run):
    """The expectation of a run-stage case: a clean compile, then run."""
    e = dict(compile=dict(C_OK))
    e.update(run)
    return e


def ccase(name, code, **kw):
    """A C case: C_PRELUDE + code, run with --language c."""
    case(name, C_PRELUDE + code, language="c", **kw)


def fill(code, **kw):
    """@NAME@ in code becomes str(kw[NAME])."""
    for k, v in kw.items():
        code = code.replace("@%s@" % k, str(v))
    assert "@" not in re.sub(r'"[^"\n]*"', "", code), code
    return code


NS_FLAGS = C.NS_FLAGS
NEWUSER = C.NEWUSER


# --------------------------------------------------------------------------
# Run stage: raw system calls the policy denies

section("the seccomp filter's policy, from C")

ccase("c_ptrace", r'''
int main(void)
{
	char buf[16] = "x";
	struct iovec io = { buf, sizeof(buf) };
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	say("traceme %s", SC(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
	say("attach_child %s", SC(SYS_ptrace, 16 /* PTRACE_ATTACH */, pid, 0, 0));
	say("seize_child %s", SC(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, pid, 0, 0));
	say("attach_init %s", SC(SYS_ptrace, 16, 1, 0, 0));
	say("vm_readv %s", SC(SYS_process_vm_readv, pid, &io, 1, &io, 1, 0));
	say("vm_writev %s", SC(SYS_process_vm_writev, pid, &io, 1, &io, 1, 0));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("traceme", "attach_child", "seize_child", "attach_init",
                            "vm_readv", "vm_writev")])),
    layers=("seccomp",))

ccase("c_unshare", fill(r'''
int main(void)
{
	static const struct { const char *name; long flag; } ns[] = { @NS@ };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		say("%s %s", ns[i].name, SC(SYS_unshare, ns[i].flag));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		if (ns[i].flag == CLONE_NEWTIME)
			continue;	/* not a clone() flag */
		long r = syscall(SYS_clone, ns[i].flag | SIGCHLD, 0, 0, 0, 0);
		if (r == 0)
			_exit(0);	/* a child: the clone got through */
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		say("clone_%s %s", ns[i].name, r > 0 ? "CLONED" : ename(errno));
	}
	return 0;
}
''', NS=", ".join('{ "%s", %#x }' % f for f in NS_FLAGS)),
    expect=ran(status="ok", exit_code=0, stdout=exact_lines(
        [(n, "EPERM") for n, f in NS_FLAGS]
        + [("clone_" + n, "EPERM") for n, f in NS_FLAGS if n != "NEWTIME"])),
    layers=("seccomp", "caps"))

ccase("c_unshare_user", fill(r'''
int main(void)
{
	long r;

	say("unshare %s", SC(SYS_unshare, @NEWUSER@));
	r = syscall(SYS_clone, @NEWUSER@ | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	say("clone %s", r > 0 ? "CLONED" : ename(errno));
	say("uid_map %s", access("/proc/self/uid_map", F_OK) == 0 ? "present" : "absent");
	return 0;
}
''', NEWUSER=NEWUSER),
    expect=ran(status="ok", exit_code=0, stdout="unshare EPERM\nclone EPERM\nuid_map present\n"),
    layers=("seccomp",), skip=dict(seccomp=C.NO_USERNS))

ccase("c_mount", r'''
int main(void)
{
	say("tmpfs %s", SC(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
	say("bind %s", SC(SYS_mount, "/usr", "/tmp", NULL, MS_BIND, NULL));
	say("remount_rw %s", SC(SYS_mount, NULL, "/", NULL, MS_REMOUNT, NULL));
	say("proc %s", SC(SYS_mount, "proc", "/tmp", "proc", 0, NULL));
	say("sysfs %s", SC(SYS_mount, "sysfs", "/tmp", "sysfs", 0, NULL));
	say("umount_usr %s", SC(SYS_umount2, "/usr", MNT_DETACH));
	say("umount_proc %s", SC(SYS_umount2, "/proc", 0));
	return 0;
}
''',
    expect=ran(status="ok", exit_code=0, stdout=exact_lines(
        [(k, "EPERM") for k in ("tmpfs", "bind", "remount_rw", "proc", "sysfs",
                                "umount_usr", "umount_proc")])),
    layers=("seccomp", "caps"))

ccase("c_bpf", r'''
int main(void)
{
	/* BPF_MAP_CREATE of an array: type 2, key 4, value 8, 1 entry */
	uint32_t map[32] = { 2, 4, 8, 1 };
	char prog[128] = { 0 };

	say("map_create %s", SC(SYS_bpf, 0, map, sizeof(map)));
	say("prog_load %s", SC(SYS_bpf, 5, prog, sizeof(prog)));
	say("bad_cmd %s", SC(SYS_bpf, 0x7fff, prog, sizeof(prog)));	/* the kernel: EINVAL */
	return 0;
}
''', expect=ran(status="ok", exit_code=0,
                stdout="map_create EPERM\nprog_load EPERM\nbad_cmd EPERM\n"),
    layers=("seccomp",))

ccase("c_io_uring", r'''
int main(void)
{
	char params[120] = { 0 };

	say("setup %s", SC(SYS_io_uring_setup, 8, params));
	say("enter %s", SC(SYS_io_uring_enter, 3, 1, 0, 0, NULL, 0));
	say("register %s", SC(SYS_io_uring_register, 3, 0, NULL, 0));
	return 0;
}
''', expect=ran(status="ok", exit_code=0,
                stdout="setup EPERM\nenter EPERM\nregister EPERM\n"),
    layers=("seccomp",))

ccase("c_perf_event_open", r'''
int main(void)
{
	/* struct perf_event_attr: type PERF_TYPE_SOFTWARE, size 128,
	 * config PERF_COUNT_SW_CPU_CLOCK */
	uint32_t attr[32] = { 1, 128 };

	say("self_cpu_clock %s", SC(SYS_perf_event_open, attr, 0, -1, -1, 0));
	say("all_cpu0 %s", SC(SYS_perf_event_open, attr, -1, 0, -1, 0));
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout="self_cpu_clock EPERM\nall_cpu0 EPERM\n"),
    layers=("seccomp",))

ccase("c_userfaultfd", r'''
int main(void)
{
	say("userfaultfd %s", SC(SYS_userfaultfd, 0));
	say("userfaultfd_user %s", SC(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */));
	say("dev_userfaultfd %s", RC(open("/dev/userfaultfd", O_RDWR)));
	return 0;
}
''', expect=ran(status="ok", exit_code=0,
                stdout="userfaultfd EPERM\nuserfaultfd_user EPERM\ndev_userfaultfd ENOENT\n"),
    layers=("seccomp",))

ccase("c_keyctl", r'''
int main(void)
{
	say("add_key %s", SC(SYS_add_key, "user", "k", "v", 1, -2 /* process keyring */));
	say("request_key %s", SC(SYS_request_key, "user", "k", NULL, 0));
	say("keyctl_get %s", SC(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0));
	say("keyctl_join %s", SC(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, "evil"));
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("add_key", "request_key", "keyctl_get", "keyctl_join")])),
    layers=("seccomp",))

ccase("c_personality", r'''
int main(void)
{
	char buf[32] = "";
	int fd;

	say("query %s", SC(SYS_personality, 0xffffffffL));
	say("addr_no_randomize %s", SC(SYS_personality, 0x0040000));
	say("read_implies_exec %s", SC(SYS_personality, 0x0400000));
	fd = open("/proc/self/personality", O_RDONLY);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		buf[strcspn(buf, "\n")] = 0;
	say("persona %s", buf);
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("query", "addr_no_randomize", "read_implies_exec")])
    + "persona 00000000\n"),
    layers=("seccomp",),
    skip=dict(seccomp="personality() needs no capability (turning ASLR off, "
              "READ_IMPLIES_EXEC): the filter alone refuses it"))

# kexec_load() needs CAP_SYS_BOOT of the initial user namespace, which no
# sandbox has: the kernel's answer is EPERM too, so flt() shows the filter's.
ccase("c_kexec_load", r'''
int main(void)
{
	say("kexec_load %s", SC(SYS_kexec_load, 0, 0, NULL, 0));
	say("kexec_file_load %s", SC(SYS_kexec_file_load, -1, -1, 0, "", 0));
	say("kexec_load_filter %s", flt(SYS_kexec_load, 0, 0, 0, 0, 0, 0));
	say("kexec_file_load_filter %s", flt(SYS_kexec_file_load, -1, -1, 0, 0, 0, 0));
	say("probe_works %s", flt(SYS_getppid, 0, 0, 0, 0, 0, 0));
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout=exact_lines(
    [(k, "EPERM") for k in ("kexec_load", "kexec_file_load", "kexec_load_filter",
                            "kexec_file_load_filter")]) + "probe_works ENOSYS\n"),
    layers=("seccomp",))

# The shocker escape: a file handle opens any file of the mount's file
# system, whatever the path view.
ccase("c_open_by_handle_at", r'''
int main(void)
{
	struct { uint32_t bytes; int type; unsigned char h[128]; } fh = { 128, 0, { 0 } };
	int mnt = 0;

	say("name_to_handle_at %s", SC(SYS_name_to_handle_at, AT_FDCWD, "/usr", &fh, &mnt, 0));
	say("open_by_handle_at %s", SC(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	say("open_by_handle_at_filter %s",
	    flt(SYS_open_by_handle_at, AT_FDCWD, (long)&fh, O_RDONLY, 0, 0, 0));
	return 0;
}
''', expect=ran(status="ok", exit_code=0,
                stdout="name_to_handle_at EPERM\nopen_by_handle_at EPERM\n"
                "open_by_handle_at_filter EPERM\n"),
    layers=("seccomp",))

# A call through another architecture's table kills the whole process
# (SECCOMP_RET_KILL_PROCESS) from a second thread: were only the thread
# killed, the main thread would say so; were the call refused with an
# errno, the thread would say "after".  The call is unshare(CLONE_NEWUSER):
# let through, it would succeed ("after 0").
ccase("c_i386_int80", fill(r'''
static long call(void)
{
	long r;

	/* i386 unshare is 310 */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"(@NEWUSER@L)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

int main(void)
{
	in_thread(call);
	return 0;
}
''', NEWUSER=NEWUSER),
    expect=lambda M: ran(status="signaled", exit_code=None,
                         # Where the host has no i386 emulation int 0x80
                         # faults (SIGSEGV) before any filter runs.
                         signal=SIGSYS if M.int80 else 11, stdout="before\n"),
    layers=("seccomp",))

ccase("c_x32_unshare", fill(r'''
static long call(void)
{
	return syscall(0x40000000L | SYS_unshare, @NEWUSER@L);
}

int main(void)
{
	in_thread(call);
	return 0;
}
''', NEWUSER=NEWUSER),
    expect=ran(status="signaled", exit_code=None, signal=SIGSYS, stdout="before\n"),
    layers=("seccomp",))


# --------------------------------------------------------------------------
# Run stage: limits

section("the process and memory limits, from C")


# --processes 16: the cgroup's pids.max is 16 + 1 (the init), and
# RLIMIT_NPROC (16, per user namespace) does not count the init either:
# the program and 15 children, either way.


ccase("c_fork_bomb", r'''
int main(void)
{
	int n = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0)
			break;
		n++;
	}
	say("%s %d", ename(errno), n);
	return 0;
}
''', opts=["--processes", "16", "--wall-time", "5000"],
    expect=ran(status="ok", exit_code=0, stdout="EAGAIN 15\n", wall_max=3000))

ccase("c_fork_bomb_classic", r'''
int main(void)
{
	say("bomb");
	for (;;)
		fork();
}
''', opts=["--processes", "16", "--wall-time", "1500"],
    expect=ran(**C.timeout_expect(1500, stdout="bomb\n")))


def _mmap_expect(M):
    if M.cg_memory:
        return ran(status="memory_limit", exit_code=None, signal=KILL,
                   stdout="start\nmapped\n", mem_max=64 * MiB + MiB)
    # RLIMIT_AS (the memory limit) refuses the mapping itself.
    return ran(status="runtime_error", exit_code=3, signal=None,
               stdout="start\nmmap ENOMEM\n")


ccase("c_mmap_4g", r'''
int main(void)
{
	size_t len = (size_t)4 << 30;
	char *m;

	say("start");
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED) {
		say("mmap %s", ename(errno));
		return 3;
	}
	say("mapped");
	for (size_t off = 0; off < len; off += 4096)
		m[off] = 1;
	say("touched");
	return 0;
}
''', opts=["--memory", "64M", "--wall-time", "10000"], expect=_mmap_expect)


# --------------------------------------------------------------------------
# Run stage: the file system, devices, privileges

section("/proc, devices and privileges, from C")

PROC_SYS_C = C.PROC_SYS + ["/proc/sys/fs/binfmt_misc/register",
                           "/proc/sys/kernel/yama/ptrace_scope",
                           "/proc/sys/user/max_user_namespaces"]

ccase("c_proc_sys_write", fill(r'''
int main(void)
{
	static const char *const paths[] = { @PATHS@ };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open(paths[i], O_WRONLY);

		/* Opened for writing: that alone is the failure; write nothing. */
		say("%s %s", paths[i], fd >= 0 ? "OPENED" : ename(errno));
	}
	say("proc_sys %s", RC(access("/proc/sys", F_OK)));
	return 0;
}
''', PATHS=", ".join('"%s"' % p for p in PROC_SYS_C)),
    # /proc is mounted with subset=pid: no /proc/sys at all.
    expect=ran(status="ok", exit_code=0, stdout=exact_lines(
        [(p, "ENOENT") for p in PROC_SYS_C]) + "proc_sys ENOENT\n"),
    setup=C._procsys_setup, teardown=C._procsys_teardown)

ccase("c_mknod", r'''
int main(void)
{
	say("blk_tmp %s", RC(mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0))));
	say("chr_tmp %s", RC(mknod("/tmp/mem", S_IFCHR | 0600, makedev(1, 1))));
	say("chr_box %s", RC(mknod("/box/kmsg", S_IFCHR | 0600, makedev(1, 11))));
	say("chr_shm %s", RC(mknod("/dev/shm/port", S_IFCHR | 0600, makedev(1, 4))));
	say("chr_dev %s", RC(mknod("/dev/sda", S_IFBLK | 0600, makedev(8, 0))));
	/* The controls: a FIFO, and a whiteout (a character device 0:0, no
	 * device at all), need no privilege. */
	say("whiteout_tmp %s", RC(mknod("/tmp/wh", S_IFCHR | 0600, makedev(0, 0))));
	say("fifo_tmp %s", RC(mknod("/tmp/fifo", S_IFIFO | 0600, 0)));
	say("mem_open %s", RC(open("/dev/mem", O_RDONLY)));
	return 0;
}
''', expect=ran(status="ok", exit_code=0, stdout=exact_lines(
    [("blk_tmp", "EPERM"), ("chr_tmp", "EPERM"), ("chr_box", "EPERM"),
     ("chr_shm", "EPERM"), ("chr_dev", "EROFS"), ("whiteout_tmp", "OK"),
     ("fifo_tmp", "OK"), ("mem_open", "ENOENT")])))

SUID_BINS = ["/usr/bin/su", "/usr/bin/passwd", "/usr/bin/mount"]


def _suid_skip(M):
    found = [p for p in SUID_BINS if os.path.isfile(p) and os.stat(p).st_mode & 0o4000
             and os.stat(p).st_uid == 0]
    if found != SUID_BINS:
        return ("the host lacks set-user-ID root copies of %s: the case could not "
                "tell the sandbox from the host" % ", ".join(sorted(set(SUID_BINS) - set(found))))
    return None


# A set-user-ID root binary started inside: its stdin is a pipe nobody
# writes, its stdout and stderr a full pipe, so that it stops at its first
# read or write.  Its credentials are then read from /proc: the ids it
# runs with, its capabilities, and AT_SECURE from its auxiliary vector
# (the kernel sets it when an exec changes privileges; a process that
# gained privileges would also be undumpable, its auxv unreadable).
ccase("c_suid_exec", fill(r'''
static void field(const char *status, const char *key, char *out, size_t n)
{
	const char *p = strstr(status, key);

	snprintf(out, n, "?");
	if (p) {
		p += strlen(key);
		p += strspn(p, " \t");
		snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
		for (char *q = out; *q; q++)
			if (*q == '\t')
				*q = ' ';
	}
}

static void probe(const char *path)
{
	static char fill[65536];
	struct stat st;
	int in[2], out[2];
	char name[16], want[16], proc[64], status[4096], uid[64], gid[64], cap[32];
	const char *base = strrchr(path, '/') + 1;
	long secure = -1;
	pid_t pid;
	ssize_t n;
	int fd;

	if (stat(path, &st) < 0) {
		say("%s stat %s", base, ename(errno));
		return;
	}
	if (pipe(in) < 0 || pipe2(out, O_NONBLOCK) < 0)
		exit(2);
	memset(fill, '.', sizeof(fill));
	while (write(out[1], fill, sizeof(fill)) > 0)
		;
	fcntl(out[1], F_SETFL, 0);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	snprintf(want, sizeof(want), "%.15s", base);
	for (int i = 0; i < 500; i++) {	/* until it runs the binary and waits */
		char stat_line[512];
		char *s;

		usleep(10000);
		snprintf(proc, sizeof(proc), "/proc/%d/comm", pid);
		fd = open(proc, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, name, sizeof(name) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		name[strcspn(name, "\n") < (size_t)n ? strcspn(name, "\n") : (size_t)n] = 0;
		snprintf(proc, sizeof(proc), "/proc/%d/stat", pid);
		fd = open(proc, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, stat_line, sizeof(stat_line) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			continue;
		stat_line[n] = 0;
		s = strrchr(stat_line, ')');
		if (strcmp(name, want) == 0 && s && (s[2] == 'S' || s[2] == 'Z'))
			break;
	}
	snprintf(proc, sizeof(proc), "/proc/%d/status", pid);
	fd = open(proc, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, status, sizeof(status) - 1);
	if (fd >= 0)
		close(fd);
	status[n > 0 ? n : 0] = 0;
	field(status, "Uid:", uid, sizeof(uid));
	field(status, "Gid:", gid, sizeof(gid));
	field(status, "CapEff:", cap, sizeof(cap));
	snprintf(proc, sizeof(proc), "/proc/%d/auxv", pid);
	fd = open(proc, O_RDONLY);
	if (fd >= 0) {
		unsigned long av[2];

		while (read(fd, av, sizeof(av)) == sizeof(av) && av[0] != 0)
			if (av[0] == 23 /* AT_SECURE */)
				secure = (long)av[1];
		close(fd);
	}
	say("%s suid_bit %d owner %u comm %s uid %s gid %s cap %s secure %ld", base,
	    !!(st.st_mode & S_ISUID), (unsigned)st.st_uid, name, uid, gid, cap, secure);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

int main(void)
{
	static const char *const bins[] = { @BINS@ };

	for (size_t i = 0; i < sizeof(bins) / sizeof(bins[0]); i++)
		probe(bins[i]);
	return 0;
}
''', BINS=", ".join('"%s"' % p for p in SUID_BINS)),
    expect=ran(status="ok", exit_code=0, stdout="".join(
        "%s suid_bit 1 owner 65534 comm %s uid 1000 1000 1000 1000 "
        "gid 1000 1000 1000 1000 cap 0000000000000000 secure 0\n"
        % (os.path.basename(p), os.path.basename(p)) for p in SUID_BINS)),
    skip_if=_suid_skip)


# --------------------------------------------------------------------------
# The compile stage: what the compiler reads, how long and how much

section("the compile stage")


def _marker_setup(M, st):
    """A marker file in /etc as well (root only: a host directory the
    sandbox has one of its own of)."""
    st["etc_marker"] = None
    if os.getuid() == 0:
        path = "/etc/%s.h" % M.token
        with open(path, "w") as f:
            f.write(M.marker_text)
        os.chmod(path, 0o644)
        st["etc_marker"] = path


def _marker_teardown(M, st, res):
    p = st.get("etc_marker")
    if p and os.path.exists(p):
        os.unlink(p)
    return []


def host_paths(M):
    """Host files a compiler must not reach: (label, path).  The marker
    files are readable by anyone on the host; /etc/shadow only by root."""
    out = [("shadow", "/etc/shadow"), ("gshadow", "/etc/gshadow"),
           ("marker", M.marker_file),
           ("marker_etc", "/etc/%s.h" % M.token),
           ("marker_via_proc_root", "/proc/1/root" + M.marker_file),
           ("marker_via_self_root", "/proc/self/root" + M.marker_file),
           ("marker_via_cwd", "/proc/self/cwd/../.." + M.marker_file),
           ("suite", os.path.abspath(__file__)),
           ("root_home", "/root/.bashrc"),
           ("init_environ", "/proc/1/environ"),
           ("kcore", "/proc/kcore"),
           ("core_pattern", "/proc/sys/kernel/core_pattern"),
           ("sys", "/sys/kernel/notes"),
           ("host_passwd_via_proc", "/proc/1/root/etc/passwd")]
    return out


def has_include_paths(M):
    """host_paths() that __has_include can ask about: a file that exists
    but may not be opened (the init's /proc/1, refused to the program)
    makes it a fatal error, which c_include_init_environ and the .incbin
    case show."""
    return [(l, p) for l, p in host_paths(M) if not p.startswith("/proc/1/")]


def _shadow_lines():
    """The host's /etc/shadow lines (root only), to look for in answers."""
    try:
        with open("/etc/shadow") as f:
            return [ln for ln in f.read().splitlines() if len(ln) >= 8]
    except OSError:
        return []


def _host_leak_check(res, M):
    """No line of the host's /etc/shadow anywhere in the answer (the
    markers are run.py's, for every case)."""
    raw = res.get("_raw", "")
    out = []
    for ln in _shadow_lines():
        if ln in raw:
            out.append("a line of the host's /etc/shadow appears in the answer: %s..."
                       % ln.split(":")[0])
    return out


def _host_compile(M, source, tag):
    """The control: the same source compiled by the host's gcc, outside
    any sandbox (as nobody when root, like the sandbox's files would be
    read), so that the case is shown to catch what it looks for."""
    d = os.path.join(M.tmp, "host-" + tag)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)
    src = os.path.join(d, "main.c")
    with open(src, "w") as f:
        f.write(source)
    os.chmod(src, 0o644)
    who = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
           if os.getuid() == 0 else [])
    r = subprocess.run(who + ["gcc", "-std=gnu17", "-O2", "-pipe", "-o",
                              os.path.join(d, "main"), src],
                       capture_output=True, text=True, timeout=60, cwd=d)
    run = None
    if r.returncode == 0:
        run = subprocess.run(who + [os.path.join(d, "main")], capture_output=True,
                             text=True, timeout=60).stdout
    return r, run


# What the compiler finds, asked without failing the compile:
# __has_include of each host path, and .incbin of the sandbox's own files
# (which the program prints): the compiler sees the sandbox's /etc, never
# the host's.
def _view_source(M):
    probes = "".join(
        '#if __has_include("%s")\n\tsay("%s PRESENT");\n#else\n\tsay("%s absent");\n#endif\n'
        % (p, label, label) for label, p in has_include_paths(M))
    return C_PRELUDE + fill(r'''
__asm__(".section .rodata\n"
	"passwd: .incbin \"/etc/passwd\"\n passwd_end:\n"
	"hostname: .incbin \"/etc/hostname\"\n hostname_end:\n"
	"env_blob: .incbin \"/proc/self/environ\"\n env_blob_end:\n"
	".previous\n");
extern const char passwd[], passwd_end[], hostname[], hostname_end[];
extern const char env_blob[], env_blob_end[];

int main(void)
{
#if __has_include("/usr/include/stdio.h")
	say("control_usr_include PRESENT");
#endif
#if __has_include("/etc/passwd")
	say("control_etc_passwd PRESENT");
#endif
@PROBES@
	say("passwd %.*s", (int)(passwd_end - passwd), passwd);
	say("hostname %.*s", (int)(hostname_end - hostname), hostname);
	say("environ %d", (int)(env_blob_end - env_blob));
	return 0;
}
''', PROBES=probes)


def _view_expect(M):
    return ran(status="ok", exit_code=0, stdout_re=re.escape(
        "control_usr_include PRESENT\ncontrol_etc_passwd PRESENT\n"
        + "".join("%s absent\n" % label for label, _ in has_include_paths(M)))
        + r"passwd (?P<passwd>.*)\nhostname sandbox\n\nenviron 0\n")


def _view_check(res, M):
    out = _host_leak_check(res, M)
    m = re.search(r"^passwd (.*?)\nhostname ", res["stdout"], re.S | re.M)
    users = sorted(ln.split(":")[0] for ln in (m.group(1) if m else "").splitlines() if ln)
    if users not in (["nobody", "sandbox"], ["nobody", "root", "sandbox"]):
        out.append("the compiler's /etc/passwd holds %s: not the sandbox's own" % users)
    # The mutation: outside the sandbox the same probe finds the marker.
    r, run = _host_compile(M, C_PRELUDE + (
        '#if __has_include("%s")\nint main(void)\n{\n\tsay("marker PRESENT");\n'
        '\treturn 0;\n}\n#endif\n' % M.marker_file), "view")
    if run != "marker PRESENT\n":
        out.append("control: the host's gcc did not find the marker file either "
                   "(exit %s: %s; %r): the case proves nothing" % (
                       r.returncode, r.stderr[-300:], run))
    return out


case("c_compiler_view", _view_source, language="c",
     expect=_view_expect, check=_view_check, setup=_marker_setup,
     teardown=_marker_teardown)


# A failed compile: no run, the compile stage's own status and diagnostics.
def _compile_failed(stderr_re, exit_code=1, message="Exited with code %d"):
    return dict(status="compile_error", exit_code=None, signal=None, stdout="", stderr="",
                compile=dict(status="runtime_error", exit_code=exit_code, signal=None,
                             stdout="", stderr_re=stderr_re,
                             message=message % exit_code))


# A compile ended by a time limit.
def _timeout(wall_min, wall_max, **more):
    c = dict(status="timeout", exit_code=None, signal=KILL, stdout="", stderr="",
             wall_min=wall_min, wall_max=wall_max)
    c.update(more)
    return dict(status="compile_error", exit_code=None, signal=None, stdout="", stderr="",
                compile=c)


def _include_error_re(name, line, path, why):
    """gcc's fatal error for an #include "path" at line of the case's file
    (named after the case)."""
    return (r"%s\.c:%d:10: fatal error: %s: %s\n\s+%d \| #include \"%s\"\n"
            r"\s+\|\s+\^~+\ncompilation terminated\.\n"
            % (name, line, re.escape(path), why, line, re.escape(path)))


INCLUDE_LAST = 'int main(void)\n{\n\treturn 0;\n}\n#include "%s"\n'

case("c_include_shadow", INCLUDE_LAST % "/etc/shadow", language="c",
     expect=_compile_failed(_include_error_re("c_include_shadow", 5, "/etc/shadow",
                                              "No such file or directory")),
     check=lambda res, M: _host_leak_check(res, M))

case("c_include_host_file", lambda M: INCLUDE_LAST % M.marker_file, language="c",
     expect=lambda M: _compile_failed(_include_error_re(
         "c_include_host_file", 5, M.marker_file, "No such file or directory")),
     check=lambda res, M: _host_leak_check(res, M))

# /proc's files have size 0: the preprocessor and the assembler read what
# stat() says is there, nothing.  What matters is that they are the
# sandbox's own, and the init's environ (the supervisor's: safexec's own
# environment) is refused.
case("c_include_proc_environ", """int a =
#include "/proc/self/environ"
#include "/proc/self/cmdline"
#include "/proc/1/cmdline"
	1;

int main(void)
{
	return a == 1 ? 0 : 1;
}
""", language="c", expect=dict(compile=dict(C_OK), status="ok", exit_code=0, stdout=""))

case("c_include_init_environ", INCLUDE_LAST % "/proc/1/environ", language="c",
     expect=_compile_failed(_include_error_re("c_include_init_environ", 5,
                                              "/proc/1/environ", "Permission denied")))



def _stdio_pipes_expect(M):
    if not M.rootless:
        # The pipes belong to root, whom the sandbox does not map.
        return _compile_failed(_include_error_re("c_include_stdio_pipes", 5,
                                                 "/proc/self/fd/2", "Permission denied"))
    # Rootless they are the caller's, whose uid the sandbox's maps to: the
    # preprocessor reads its own stderr, a pipe whose writers never close
    # it (itself among them), and waits forever, on nothing but its own
    # output; the wall limit ends it.
    return _timeout(1990, 3500, cpu_max=1000)


# The compiler's stdout and stderr are the supervisor's pipes, reopened
# through /proc: a compile that would wait on them forever.
case("c_include_stdio_pipes", INCLUDE_LAST % "/proc/self/fd/2", language="c",
     opts=["--compile-wall-time", "2000"], expect=lambda M: _stdio_pipes_expect(M))


def _incbin_source(M):
    lines = "".join('\t".incbin \\"%s\\"\\n"\n' % p for _, p in host_paths(M))
    return ('__asm__(".section .rodata\\n"\n%s\t".previous\\n");\n\n'
            'int main(void)\n{\n\treturn 0;\n}\n' % lines)


def _incbin_expect(M):
    # The assembler reads its input from a pipe (gcc -pipe).
    errs = "".join(r"\{standard input\}:\d+: Error: file not found: %s\n" % re.escape(p)
                   for _, p in host_paths(M))
    return _compile_failed(r"\{standard input\}: Assembler messages:\n" + errs)


def _incbin_check(res, M):
    out = _host_leak_check(res, M)
    r, run = _host_compile(M, _incbin_source(M), "incbin")
    if "file not found: %s\n" % M.marker_file in r.stderr:
        out.append("control: the host's assembler did not find the marker file "
                   "either: the case proves nothing")
    return out


case("c_incbin_host_files", _incbin_source, language="c",
     expect=_incbin_expect, check=_incbin_check, setup=_marker_setup,
     teardown=_marker_teardown)


# A compile that never ends: a file that includes itself twice, 40 levels
# deep (2^40 inclusions), each inclusion skipping a 200 KB line (CPU, and
# little memory per inclusion).  The compile stage's default wall limit
# (10 s) ends it: its CPU limit is raised, since cc1 and as running side by
# side (-pipe) on two CPUs could spend 10 s of CPU first.
NEVER_ENDS = """#if __INCLUDE_LEVEL__ < 40
#include __FILE__
#include __FILE__
#endif
#if __INCLUDE_LEVEL__ == 0
int main(void)
{
	return 0;
}
#endif
#if 0
""" + " ".join("x%d" % i for i in range(30000)) + "\n#endif\n"


case("c_compile_never_ends", NEVER_ENDS, language="c",
     opts=["--compile-cpu-time", "60000"],
     expect=_timeout(9990, 11500, mem_max=256 * MiB), timeout=60)

# The same without the long line: the compile's CPU limit ends it.
RECURSION = """#if __INCLUDE_LEVEL__ < 40
#include __FILE__
#include __FILE__
#endif
#if __INCLUDE_LEVEL__ == 0
int main(void)
{
	return 0;
}
#endif
"""


def _cpu_limit_expect(M):
    if M.cg_cpu:
        # Ended by the CPU limit, well before the (default) wall limit.
        return _timeout(900, 9000, cpu_min=950)
    # Without a CPU cgroup RLIMIT_CPU holds per process (in whole seconds):
    # SIGXCPU ends cc1, and gcc, the compile's own process, reports it.
    return _compile_failed(
        r"gcc: internal compiler error: CPU time limit exceeded signal terminated "
        r"program cc1\nPlease submit a full bug report, with preprocessed source \(by "
        r"using -freport-bug\)\.\nSee <[^>]+> for instructions\.\n", exit_code=4)


case("c_compile_cpu_limit", RECURSION, language="c", opts=["--compile-cpu-time", "1000"],
     expect=_cpu_limit_expect)


def _dev_zero_expect(M):
    if not M.cg_memory:
        # RLIMIT_AS: cc1 fails its allocation and says so.
        return _compile_failed(r"\ncc1: out of memory allocating \d+ bytes after a total "
                               r"of \d+ bytes\n")
    e = _compile_failed("gcc: fatal error: Killed signal terminated program cc1\n"
                        "compilation terminated.\n")
    e["compile"].update(status="memory_limit", mem_max=512 * MiB + MiB)
    if M.features.get("cgroup") == "v2":
        # memory.oom.group: the OOM killer ends the whole compile at once.
        e["compile"].update(exit_code=None, signal=KILL, stderr_re="")
        del e["compile"]["message"]
    else:
        # v1: it kills the largest process, cc1, and gcc says so.
        e["compile"].update(message="Memory limit exceeded (512 MiB)")
    return e


# The preprocessor reads a file that never ends into memory.
case("c_include_dev_zero", '#include "/dev/zero"\nint main(void)\n{\n\treturn 0;\n}\n',
     language="c", expect=_dev_zero_expect)


def _huge_object_expect(M):
    # A 4 GiB .data section: the assembler's object file in /tmp meets
    # the file-size limit first (SIGXFSZ; gcc reports it and exits 4).
    return _compile_failed(
        r"gcc: internal compiler error: File size limit exceeded signal terminated "
        r"program as\nPlease submit a full bug report, with preprocessed source \(by "
        r"using -freport-bug\)\.\nSee <[^>]+> for instructions\.\n", exit_code=4)


# A compile that writes gigabytes: a 4 GiB initialised array.
case("c_compile_huge_object", """char big[1UL << 32] = { 1 };

int main(void)
{
	return big[4096];
}
""", language="c", expect=_huge_object_expect)

# A compile that floods its output: #error in each of 2^31 inclusions.
case("c_compile_error_flood", """#if __INCLUDE_LEVEL__ < 30
#include __FILE__
#include __FILE__
#endif
#error flood
#if __INCLUDE_LEVEL__ == 0
int main(void)
{
	return 0;
}
#endif
""", language="c",
    expect=dict(status="compile_error", exit_code=None, signal=None, stdout="", stderr="",
                compile=dict(status="output_limit", exit_code=None, signal=KILL,
                             stdout="", stderr_bytes=1 << 20, stderr_truncated=True,
                             stdout_truncated=False, wall_max=5000,
                             message="Output limit exceeded (1 MiB)")))
