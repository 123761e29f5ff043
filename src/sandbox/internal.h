/*
 * internal.h - what the files of the sandbox part share.  Nothing outside
 * src/sandbox/ includes this.
 *
 *	host.c     probing the host, struct sbx_host, `safexec check`
 *	cgroup.c   one run's cgroup: v2, v1, or none
 *	seccomp.c  the syscall filter's policy, compiled at build time
 *	           (tools/seccomp-gen.c) into sbx_seccomp_filters
 *	child.c    everything that runs inside: the init and the program
 *	run.c      the supervisor: clone3, id maps, the event loop, the verdict
 *	limits.c   limits, statuses, request and result helpers
 */
#ifndef SAFEXEC_SANDBOX_INTERNAL_H
#define SAFEXEC_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"

/* Inside the sandbox the program and its init run as this uid and gid. */
#define SBX_INNER_ID	1000
/* Started as root, the inner id maps to this otherwise unused host id, so
 * that nothing in the sandbox is ever root, even if it left its namespace. */
#define SBX_ROOT_HOST_ID 2000000000u

#define SBX_MAX_RUNNING	1024	/* slots for sbx_host_kill_all() */

/* Per-user kernel budgets a run may use (see child_limits() in run.c). */
#define SBX_SIGPENDING	256	/* queued signals */
#define SBX_MEMLOCK	(64u << 10) /* bytes of locked memory */

/* The cgroup controllers a run uses. */
enum cg_ctrl { CG_MEMORY, CG_PIDS, CG_CPU, CG_NCTRL };

struct sbx_host {
	struct sbx_features f;
	/* cgroup: the directory shared by every safexec on the host (v2:
	 * only [0]; v1: one per controller, "" when that one is missing),
	 * and this process's own instance directory below each, in which
	 * the runs' cgroups are made.  See cg_host_claim(). */
	char cg_parent[CG_NCTRL][PATH_MAX];
	char cg_inst[CG_NCTRL][PATH_MAX];
	int cg_lock_fd;			/* holds the instance's flock; -1 */
	unsigned ncpu;			/* CPUs online, at least 1 */
	uid_t host_uid;			/* what SBX_INNER_ID maps to */
	gid_t host_gid;
	const struct sock_fprog *filter; /* one of sbx_seccomp_filters */
	atomic_uint running;
	atomic_bool stopping;		/* sbx_host_kill_all() was called */
	atomic_ulong seq;
	atomic_int pidfds[SBX_MAX_RUNNING]; /* -1 = free slot */
	/* sbx_host_set_etc(): the entries, their paths and data in etc_block
	 * (each NUL-terminated); etc_bytes is their data's size together. */
	struct sbx_etc_entry *etc;
	size_t netc;
	char *etc_block;
	size_t etc_bytes;
	struct sbx_runner runner;	/* run == NULL: none */
	unsigned test_without;		/* SBX_TEST_WITHOUT_*, read at open */
};

/* ---- host.c ---- */

/* Appends one line to notes (len bytes, NUL-terminated), as much as fits. */
__attribute__((format(printf, 3, 4)))
void sbx_note(char *notes, size_t len, const char *fmt, ...);

/* ---- cgroup.c ---- */

/* Writes value to file (relative to dirfd, or a path with AT_FDCWD) in one
 * write(): the way cgroup and /proc control files want it.  0 or -errno. */
int sbx_write_at(int dirfd, const char *file, const char *value);

struct cg_run {
	enum sbx_cgroup_mode mode;
	int dirfd[CG_NCTRL];		/* v2: dirfd[0] only; -1 = none */
	int tasks_fd[CG_NCTRL];		/* v1: open "tasks" files; -1 = none */
	char path[CG_NCTRL][PATH_MAX];
};

/* Finds where runs' cgroups go and what controllers are in force; fills
 * host->f.cgroup* and host->cg_parent.  Never fails: a host without usable
 * cgroups gets SBX_CGROUP_NONE and a note. */
void cg_host_init(struct sbx_host *host, char *notes, size_t noteslen);

/*
 * Makes this process's instance directory, inst-<64 random bits>, below
 * each parent and holds an flock on it until cg_host_release() or the
 * process's death.  Before that, removes every instance whose lock is free
 * (its owner is dead, in whatever pid namespace it ran), killing what is
 * left in its runs: only provably abandoned cgroups are touched.  Returns
 * 0 (also without cgroups) or -errno with a message in why.
 */
int cg_host_claim(struct sbx_host *host, char *why, size_t whylen);
/* Removes the instance directories (every run has ended). */
void cg_host_release(struct sbx_host *host);
/* In a fork of the opener: drops this process's hold on the instance and,
 * when no process holds it any more, removes it. */
void cg_host_leave(struct sbx_host *host);

/* Every descriptor at -1: a cg_run may be destroyed from then on. */
void cg_run_init(struct cg_run *cg);

/* Creates the run's cgroup(s) below the instance and writes the limits;
 * cg was initialised by cg_run_init(). */
int cg_run_create(struct sbx_host *host, const struct sbx_limits *l,
		  unsigned long id, struct cg_run *cg, char *err, size_t errlen);
/* Closes the supervisor's copies of the tasks files once the child has
 * them. */
void cg_run_close_tasks(struct cg_run *cg);
/* CPU time of the whole tree in ns; -errno when unknown. */
int cg_run_cpu_ns(struct cg_run *cg, uint64_t *ns);
/* Peak memory in bytes; 0 when unknown. */
uint64_t cg_run_memory_peak(struct cg_run *cg);
/* True when the OOM killer struck inside the run's cgroup. */
int cg_run_oom(struct cg_run *cg);
/* Kills every process in the cgroup (v2 cgroup.kill); no-op elsewhere. */
void cg_run_kill(struct cg_run *cg);
/* Removes the run's cgroup(s), waiting briefly for them to empty. */
void cg_run_destroy(struct cg_run *cg);

/* ---- seccomp.c ---- */

/* Compiles the filter into *prog (prog->filter is malloc'ed).  Without a
 * memory cgroup (no_memcg), memfd_create() and shmget() are refused too:
 * nothing else would count the memory they hold.  Used by the build and
 * the tests; the binary carries the result: */
int sbx_seccomp_build(struct sock_fprog *prog, bool no_memcg, char *err, size_t errlen);

/* Whether the container's profile refuses the call name: every call the
 * filter refuses a program but the few that building a sandbox takes
 * (tools/seccomp-gen.c --container writes the profile). */
bool sbx_seccomp_container_denies(const char *name);

/* The filters sbx_seccomp_build() made at build time: [0] with a memory
 * cgroup, [1] without one.  Generated, see tools/seccomp-gen.c. */
extern const struct sock_fprog sbx_seccomp_filters[2];

/* ---- child.c ---- */

/* Everything the child needs, prepared by the supervisor before clone3 so
 * that the child calls no allocator (the parent may be multi-threaded). */
struct child_args {
	int sync_fd;		/* read end: one byte when the maps are written */
	int report_fd;		/* write end: struct child_report */
	int stdin_fd;		/* memfd with the program's stdin, or -1 */
	int stdout_fd, stderr_fd;
	/* v1: the run's "tasks" files, opened by the supervisor, into which
	 * the child writes "0" to move itself; -1 = none.  See cgroup.c. */
	int cg_tasks_fd[CG_NCTRL];
	bool set_groups;	/* root: drop supplementary groups */
	const char *code;	/* /box/main.py when there are no files */
	size_t code_len;
	const struct sbx_file *files;	/* written to /box in order */
	size_t nfiles;
	char *const *argv;	/* for execve, NULL-terminated */
	char *const *envp;	/* the program's whole environment */
	const char *const *binds;	/* host paths bound read-only */
	size_t nbinds;
	char root[SBX_MAX_PATH + 1];	/* "" = the host's /usr and top dirs */
	/* The host's entries of /etc (sbx_host_set_etc()), data and
	 * paths NUL-terminated. */
	const struct sbx_etc_entry *etc;
	size_t netc;
	/* Write end of the pipe /box's files go into once the program has
	 * ended (struct box_record stream), or -1; at most box_max bytes of
	 * file data, SBX_MAX_FILES files. */
	int box_fd;
	uint64_t box_max;
	/* collect_out: the init makes /box/out, keeps a descriptor of it,
	 * and once the program has ended sends its files through box_fd
	 * instead (struct out_record stream), at most out_max_files files
	 * and out_max_bytes of data. */
	bool collect_out;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	struct {
		int resource;
		uint64_t soft, hard;
	} rlimits[16];
	int nrlimits;
	char root_opts[96];	/* size/nr_inodes options for the new root */
	char tmpfs_opts[96];	/* ... for /tmp */
	char box_opts[96];	/* ... for /box */
	char shm_opts[96];	/* ... for /dev/shm */
	const struct sock_fprog *filter;
	unsigned test_without;	/* SBX_TEST_WITHOUT_*: 0 outside test builds */
	/* struct sbx_request's: called instead of execve(), in a fork */
	void (*program)(void *arg, char *const argv[], char *const envp[]);
	void *program_arg;
};

/*
 * A build made with -DSBX_TEST_LAYERS (`make layers`, for the escape suite
 * only) reads SAFEXEC_TEST_WITHOUT=caps|seccomp and leaves that one layer
 * out, so that the suite can show each remaining layer holding by itself.
 * Other builds contain no trace of it.
 */
#define SBX_TEST_WITHOUT_CAPS	 1u	/* keep every capability of the user
					   namespace, ambient across execve */
#define SBX_TEST_WITHOUT_SECCOMP 2u	/* load no seccomp filter */

enum child_report_kind {
	REPORT_EXITED = 1,	/* wstatus holds the program's wait status */
	REPORT_SETUP_FAILED,	/* step and err say what */
};

/* One file of /box, as the init sends it: the header, name_len bytes of
 * name, len bytes of data.  A header with name_len 0 ends the stream;
 * then flags says whether files were left out. */
struct box_record {
	uint32_t name_len;
	uint32_t flags;		/* BOX_EXECUTABLE; in the end record BOX_TRUNCATED */
	uint64_t len;
};
#define BOX_EXECUTABLE	1u
#define BOX_TRUNCATED	2u

/*
 * One entry of /box/out, as the init sends it: the header, then name_len
 * bytes of name; for OUT_FILE then len bytes of data and a uint32_t, 0
 * when the file was read as it was stat'ed, else the enum
 * sbx_out_drop_reason that voids it (SBX_OUT_CHANGED).  OUT_DROPPED:
 * reason says why (at most SBX_MAX_OUT_DROPPED of these).  OUT_END ends
 * the stream; its len is the number of entries dropped in all.
 */
struct out_record {
	uint16_t kind;
	uint16_t reason;
	uint32_t name_len;	/* at most OUT_RECORD_NAME */
	uint64_t len;
};
enum { OUT_FILE = 1, OUT_DROPPED, OUT_END };
#define OUT_RECORD_NAME	255u	/* NAME_MAX: every name getdents gives */

struct child_report {
	int32_t kind;
	int32_t err;		/* errno */
	int32_t wstatus;
	char step[52];
};

/* Runs in the child after clone3; never returns. */
__attribute__((noreturn)) void sbx_child_main(const struct child_args *a);

#endif
