/*
 * sandbox.h - the sandbox engine: run one untrusted program, return its result.
 *
 * The engine owns everything about *how* a program runs: namespaces, the new
 * root, cgroups, rlimits, seccomp, output capture and the final kill.  Callers
 * (the command line, the HTTP service) decide *what* runs and *when*.
 *
 * Usage:
 *	struct sbx_host *host;
 *	if (sbx_host_open(&host, &err) < 0) ...	   once per process
 *	struct sbx_request req;  sbx_request_init(&req);  fill it in
 *	struct sbx_result res;
 *	sbx_run(host, &req, &res);		   any number of times, any thread
 *	sbx_result_release(&res);
 *	sbx_host_close(host);
 *
 * sbx_run() is thread-safe: the HTTP service calls it from several worker
 * threads at once.  It always fills *res; a failure of the engine itself is
 * reported as SBX_INTERNAL_ERROR with a message in res->error.
 */
#ifndef SAFEXEC_SANDBOX_H
#define SAFEXEC_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults: the limits the original service promised. */
#define SBX_DEFAULT_WALL_MS	 10000u
#define SBX_DEFAULT_CPU_MS	 10000u
#define SBX_DEFAULT_MEMORY	 (128ull << 20)
#define SBX_DEFAULT_PROCESSES	 64u
#define SBX_DEFAULT_OUTPUT	 (1ull << 20)	/* per stream */
#define SBX_DEFAULT_FILE_SIZE	 (16ull << 20)
#define SBX_DEFAULT_OPEN_FILES	 256u

/* What a request may hold.  The kernel refuses an argument of 128 KiB or
 * more (MAX_ARG_STRLEN) and all of them together past a quarter of the
 * stack limit, which the program gets as SBX_STACK: 2 MiB. */
#define SBX_MAX_CODE		 (16u << 20)
#define SBX_MAX_STDIN		 (64u << 20)
#define SBX_MAX_ARGS		 256u
#define SBX_MAX_ARG_LEN		 ((128u << 10) - 1)	/* bytes, without the NUL */
#define SBX_MAX_ARGS_BYTES	 (1u << 20)		/* all of them, with NULs */
#define SBX_STACK		 (8ull << 20)	/* the program's stack limit: arguments
						   get a quarter of it, 2 MiB */
#define SBX_MAX_FILES		 1024u	/* files in /box, given or returned */
#define SBX_MAX_FILES_BYTES	 (64u << 20)	/* all of them together */
#define SBX_MAX_NAME		 255u	/* a file's path below /box */
#define SBX_MAX_CMD		 64u	/* words of a command */
#define SBX_MAX_ENV		 32u
#define SBX_MAX_BINDS		 8u
#define SBX_MAX_PATH		 255u	/* a bind's or a root's path */

/* The output directory (collect_out): what a run may return of /box/out.
 * A request's out_max_files and out_max_bytes of 0 take the defaults; more
 * than the maxima is refused.  At most SBX_MAX_OUT_DROPPED dropped entries
 * are listed, each with the first SBX_OUT_DROP_NAME bytes of its name. */
#define SBX_OUT_DIR		 "/box/out"
#define SBX_DEFAULT_OUT_FILES	 64u
#define SBX_DEFAULT_OUT_BYTES	 (16u << 20)
#define SBX_MAX_OUT_FILES	 1024u
#define SBX_MAX_OUT_BYTES	 (64u << 20)
#define SBX_MAX_OUT_NAME	 64u	/* a returned file's name, in bytes */
#define SBX_MAX_OUT_DROPPED	 32u
#define SBX_OUT_DROP_NAME	 64u

/* A file in /box.  name is relative to /box ("main.c", "pkg/A.class"):
 * no leading '/', no empty, "." or ".." component, no component starting
 * with '-' (a command given the name, by a glob say, would take it for an
 * option), at most SBX_MAX_NAME bytes (see sbx_file_name_ok()). */
struct sbx_file {
	const char *name;
	const char *data;	/* len bytes */
	size_t len;
	bool executable;	/* mode 0755 instead of 0644 */
};

/* Whether name is acceptable as a struct sbx_file's. */
bool sbx_file_name_ok(const char *name);

/* Whether the len bytes at name may name a file returned from the output
 * directory: util_plain_name_ok() with SBX_MAX_OUT_NAME, the rule of a
 * request's file names ([A-Za-z0-9._+-], not starting with '.' or '-'). */
bool sbx_out_name_ok(const char *name, size_t len);

/*
 * An entry of the sandbox's own /etc besides its passwd, group, hosts and
 * hostname, which a caller gives the runs of a host (sbx_host_set_etc()):
 * a language's site configuration, say (src/pysite/).  path is relative
 * to /etc, a name as sbx_file_name_ok() allows (parents are made, 0755);
 * the entry is a file of mode 0644 holding the len bytes of data, or, with
 * link, a symbolic link to the len bytes of data (no NUL among them).  With
 * out_only it is there only in runs with an output directory
 * (collect_out): what a program needs only when files go back, at a cost
 * others should not pay.  Like the rest of the root it is read-only to the
 * program.
 */
struct sbx_etc_entry {
	const char *path;
	const char *data;
	size_t len;
	bool link;
	bool out_only;
};

#define SBX_MAX_ETC		 32u		/* entries */
#define SBX_MAX_ETC_BYTES	 (4u << 20)	/* their data together */

struct sbx_limits {
	uint64_t wall_ms;	/* wall clock, from start to the end of the run */
	uint64_t cpu_ms;	/* CPU time of the whole process tree */
	uint64_t memory_bytes;	/* peak resident memory of the tree, no swap;
				   tmpfs pages written by the program count */
	uint64_t output_bytes;	/* per stream (stdout, stderr) */
	uint64_t file_size_bytes; /* largest file the program may write */
	uint32_t processes;	/* processes plus threads */
	uint32_t open_files;	/* per process */
};

/*
 * Every limit and the range the engine can honour.  This is the one source
 * of the bounds: the API, the configuration and the command line ask it
 * and name the limit in their own words.
 */
enum sbx_limit_id {
	SBX_LIMIT_WALL_MS,
	SBX_LIMIT_CPU_MS,
	SBX_LIMIT_MEMORY,
	SBX_LIMIT_OUTPUT,
	SBX_LIMIT_FILE_SIZE,
	SBX_LIMIT_PROCESSES,
	SBX_LIMIT_OPEN_FILES,
	SBX_LIMIT_COUNT
};

struct sbx_limit_info {
	const char *name;	/* the field of struct sbx_limits */
	uint64_t min, max;	/* inclusive */
	bool is_size;		/* bytes: shown with a K/M/G suffix */
};

/* The limit's name and bounds; id < SBX_LIMIT_COUNT. */
const struct sbx_limit_info *sbx_limit_info(enum sbx_limit_id id);
uint64_t sbx_limit_get(const struct sbx_limits *l, enum sbx_limit_id id);
/* Stores v; a 32-bit field takes min(v, UINT32_MAX). */
void sbx_limit_set(struct sbx_limits *l, enum sbx_limit_id id, uint64_t v);
/* True when v is within the limit's bounds. */
bool sbx_limit_ok(enum sbx_limit_id id, uint64_t v);

/* Each field of set that is not 0 replaces l's (limits given in part). */
void sbx_limits_apply(struct sbx_limits *l, const struct sbx_limits *set);

/* Fills *l with the SBX_DEFAULT_* values. */
void sbx_limits_default(struct sbx_limits *l);

/* Checks every field against its bounds.  Returns 0, or -EINVAL with the
 * first limit out of range in *bad. */
int sbx_limits_check(const struct sbx_limits *l, enum sbx_limit_id *bad);

/* One run.  All pointers are borrowed for the duration of sbx_run(). */
struct sbx_request {
	const char *language;	/* for the default command: "python" or NULL */
	const char *code;	/* without files: /box/main.py, code_len bytes */
	size_t code_len;
	/* The command: argv of at most SBX_MAX_CMD words, NULL-terminated,
	 * cmd[0] an absolute path inside the sandbox; the program's own
	 * arguments (argv below) follow it.  NULL: Python on /box/main.py. */
	const char *const *cmd;
	/* Written to /box before the command starts, instead of code. */
	const struct sbx_file *files;
	size_t nfiles;
	/* "NAME=value" each, added to the sandbox's own environment (PATH,
	 * HOME=/box, LANG, TMPDIR), a same NAME replacing it. */
	const char *const *env;
	size_t nenv;
	/* Host paths (absolute, no "..") bound read-only at the same place,
	 * for what a runtime needs besides /usr (e.g. /etc/alternatives). */
	const char *const *binds;
	size_t nbinds;
	/* NULL or "": /usr and /bin, /lib, ... are the host's; else this
	 * directory's (a root exported from an image, say). */
	const char *root;
	/* After the program ends, return the regular files in /box (a
	 * compile stage's output) in the result's files. */
	bool collect_files;
	/* Give the program an empty /box/out (SBX_OUT_DIR, mode 0700, its
	 * path in SAFEXEC_OUT) and return the regular files it leaves there
	 * in the result's out_files, at most out_max_files of them and
	 * out_max_bytes of data together (0: SBX_DEFAULT_OUT_FILES,
	 * SBX_DEFAULT_OUT_BYTES); the rest is listed in out_dropped.  Not
	 * with collect_files, and no file of files may lie below out/. */
	bool collect_out;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	/* The program's stderr is its stdout (2>&1): the result's stdout has
	 * both streams in the order written, its stderr is empty. */
	bool merge_stderr;
	const char *stdin_data;	/* may be NULL; stdin_len bytes */
	size_t stdin_len;
	const char *const *argv; /* the program's own arguments, argc of them */
	size_t argc;
	struct sbx_limits limits;
	/* NULL, or what the program's process calls instead of execve(): a
	 * function of the caller's, run in a copy of the caller's memory (a
	 * fork, never shared) once the process is set up exactly as for
	 * execve() (session, stdio, rlimits, no capabilities, no_new_privs,
	 * the seccomp filter) and every descriptor above 2 is closed.  argv
	 * and envp are what execve() would have had.  It must not return.
	 * The warm starts of src/warm/ run an initialised interpreter so. */
	void (*program)(void *arg, char *const argv[], char *const envp[]);
	void *program_arg;
	/* 0, or a descriptor above 2 that becomes readable or hangs up when
	 * the caller gives up: the run is then killed and reported as
	 * SBX_SIGNALED with stopped set, as sbx_host_kill_all() does. */
	int cancel_fd;
	/* NULL, or called with each piece of the output as the supervisor
	 * reads it (stream 1: stdout, with merge_stderr both; 2: stderr), in
	 * the order read, only what the result keeps (within output_bytes per
	 * stream), from the thread in sbx_run(), before the result is done:
	 * live output.  It must not block for long: the run's timers wait. */
	void (*on_output)(void *arg, int stream, const char *data, size_t len);
	void *output_arg;
};

void sbx_request_init(struct sbx_request *req);

/* Checks a request before it runs: its limits (-EINVAL) and the sizes of
 * its code, stdin and arguments (-E2BIG), as sbx_run() will.  Returns 0 or
 * that error with a message for the caller's user in why. */
int sbx_request_check(const struct sbx_request *req, char *why, size_t whylen);

enum sbx_status {
	SBX_OK,			/* exited with 0 */
	SBX_RUNTIME_ERROR,	/* exited with non-zero */
	SBX_SIGNALED,		/* killed by a signal it did not get from us */
	SBX_TIMEOUT,		/* wall or CPU limit reached */
	SBX_MEMORY_LIMIT,	/* the memory limit's OOM killer struck */
	SBX_OUTPUT_LIMIT,	/* a stream went over output_bytes */
	SBX_INTERNAL_ERROR,	/* the engine failed; see error */
};

/* "ok", "runtime_error", ... as in the JSON result. */
const char *sbx_status_name(enum sbx_status s);

/* Why an entry of the output directory was not returned. */
enum sbx_out_drop_reason {
	SBX_OUT_NOT_REGULAR = 1,	/* a directory, symlink, FIFO, socket... */
	SBX_OUT_BAD_NAME,		/* fails sbx_out_name_ok() */
	SBX_OUT_OVER_COUNT,		/* out_max_files returned already */
	SBX_OUT_OVER_SIZE,		/* its st_size past what out_max_bytes left */
	SBX_OUT_CHANGED,		/* shorter, longer or changed while read */
	SBX_OUT_UNREADABLE,		/* its mode refuses reading */
};

/* "not a regular file", "name not allowed", ... */
const char *sbx_out_drop_reason_text(enum sbx_out_drop_reason r);

/* One dropped entry: name is the first SBX_OUT_DROP_NAME bytes of its
 * name escaped to printable ASCII (a byte outside 0x20..0x7e, and the
 * backslash, as \xNN), "..." appended when it was longer. */
struct sbx_out_drop {
	char name[SBX_OUT_DROP_NAME * 4 + 4];
	enum sbx_out_drop_reason reason;
};

/* A byte buffer owned by the result; data is NUL-terminated for convenience
 * but may hold NUL bytes and invalid UTF-8: always use len. */
struct sbx_buf {
	char *data;
	size_t len;
};

struct sbx_result {
	enum sbx_status status;
	int exit_code;		/* valid when has_exit_code */
	bool has_exit_code;	/* false when a signal ended the program */
	int signal;		/* 0 when none */
	struct sbx_buf out;	/* stdout */
	struct sbx_buf err;	/* stderr */
	struct sbx_buf output;	/* both, in the order read from their pipes:
				   the order written unless both floods */
	bool stdout_truncated;
	bool stderr_truncated;
	bool stopped;		/* SBX_SIGNALED by sbx_host_kill_all() */
	/* With collect_files: /box's regular files as the program left them
	 * (at most SBX_MAX_FILES, SBX_MAX_FILES_BYTES together; more sets
	 * files_truncated).  Owned by the result. */
	struct sbx_file *files;
	size_t nfiles;
	bool files_truncated;
	char *files_block;	/* what files point into */
	/* With collect_out: the files of /box/out (name, data, len; never
	 * executable), and the first SBX_MAX_OUT_DROPPED entries that were
	 * not returned; out_dropped_total counts them all.  Owned by the
	 * result.  Drops leave status as it is. */
	struct sbx_file *out_files;
	size_t nout_files;
	char *out_block;	/* what out_files point into */
	struct sbx_out_drop *out_dropped;
	size_t nout_dropped;
	uint64_t out_dropped_total;
	uint64_t wall_time_ms;
	uint64_t cpu_time_ms;	/* whole tree */
	uint64_t memory_bytes;	/* peak of the whole tree; 0 if unknown */
	char error[256];	/* for SBX_INTERNAL_ERROR: for logs, not clients */
};

/* Frees the buffers; the struct may be reused. */
void sbx_result_release(struct sbx_result *res);

/* What this host offers; see sbx_host_report(). */
enum sbx_cgroup_mode {
	SBX_CGROUP_NONE,	/* rlimits only */
	SBX_CGROUP_V1,
	SBX_CGROUP_V2,
};

struct sbx_features {
	bool root;			/* started as (real) root */
	bool userns;			/* user namespaces can be created */
	bool seccomp;			/* seccomp filters can be loaded */
	bool clone3;			/* clone3() with CLONE_PIDFD */
	bool cgroup_kill;		/* v2 cgroup.kill */
	bool cgroup_into;		/* CLONE_INTO_CGROUP usable */
	enum sbx_cgroup_mode cgroup;	/* what will be in force */
	bool cg_memory, cg_pids, cg_cpu; /* controllers in force */
	char cgroup_path[4096];		/* parent of the runs' cgroups */
	char python[256];		/* interpreter used */
	char python_version[64];	/* e.g. "3.11.2"; "" if not probed */
};

struct sbx_host;

/* Probes the host, picks the cgroup mode, prepares the seccomp filter and
 * the cgroup parent.  On failure returns a negative errno and writes a
 * message naming the missing piece into why (whylen bytes). */
int sbx_host_open(struct sbx_host **out, char *why, size_t whylen);
void sbx_host_close(struct sbx_host *host);
const struct sbx_features *sbx_host_features(const struct sbx_host *host);

/* Replaces the entries the later runs of host find in their /etc (copies
 * of them: entries stays the caller's; n 0 removes them).  Not while a run
 * of host is in progress: a program calls it before it starts running.
 * Returns 0, -EINVAL (a path not allowed, given twice, one of the four
 * files, or a file's and a directory's at once; a link's data empty or
 * holding a NUL), -E2BIG (more than SBX_MAX_ETC entries or
 * SBX_MAX_ETC_BYTES) or -ENOMEM; on failure the host keeps its entries. */
int sbx_host_set_etc(struct sbx_host *host, const struct sbx_etc_entry *entries, size_t n);

/* Probes for `safexec check`: fills *f, and, one per line, what is missing
 * or degraded into notes; then runs a test program in a sandbox as
 * sbx_host_selftest() does.  Returns 0 when every required feature is there
 * and the run works, -1 otherwise, with the likely causes and their fixes
 * (sbx_diagnose()) in notes. */
int sbx_probe(struct sbx_features *f, char *notes, size_t noteslen);

/* Runs a test program (`pass`) with the default limits: the proof that
 * runs can work here.  Returns 0, or a negative errno with the failure
 * (e.g. "sandbox setup: mount /proc: Operation not permitted") in why. */
int sbx_host_selftest(struct sbx_host *host, char *why, size_t whylen);

/* Appends to notes, one line each, what in this process's surroundings
 * can keep sandboxes from starting, with the fix: a chroot, user
 * namespaces disabled by sysctl or AppArmor, a seccomp filter over this
 * process (a container's profile), a masked /proc. */
void sbx_diagnose(char *notes, size_t len);

/* Runs one request.  Always fills *res (see the top of this file).  Returns
 * 0, or a negative errno when the result is SBX_INTERNAL_ERROR: -EINVAL or
 * -E2BIG when the request itself is at fault (sbx_request_check() refuses
 * it, or the kernel refused its arguments or its code did not fit in
 * /box), the caller's error rather than the engine's. */
int sbx_run(struct sbx_host *host, const struct sbx_request *req,
	    struct sbx_result *res);

/* Asks every run in progress to stop now (SIGKILL); used at shutdown after
 * the grace period.  Those runs end as SBX_SIGNALED with signal SIGKILL and
 * stopped set.  Async-signal-safe. */
void sbx_host_kill_all(struct sbx_host *host);

/* Number of sandboxes running right now. */
unsigned sbx_host_running(const struct sbx_host *host);

/*
 * Another runner that may take a host's requests (the warm starts of
 * src/warm/).  sbx_run() first offers it every request without program:
 * run() returns -EAGAIN to leave the request to the host, having left *res
 * alone, or else what sbx_run() returns, having filled *res.  stop() is
 * called by sbx_host_kill_all() and must be async-signal-safe.  Set before
 * the first run, or NULL to remove it when no run is in progress.
 */
struct sbx_runner {
	int (*run)(void *ctx, const struct sbx_request *req, struct sbx_result *res);
	void (*stop)(void *ctx);
	void *ctx;
};
void sbx_host_set_runner(struct sbx_host *host, const struct sbx_runner *runner);

/* For a fork of the process that opened host, once its runs are over (a
 * warm start's supervisor): drops its hold on the host's cgroups and, when
 * no other process holds them any more (the opener and its other forks
 * have ended), removes them as sbx_host_close() would.  Nothing else is
 * freed: the process is about to end. */
void sbx_host_leave(struct sbx_host *host);

/* The entries sbx_host_set_etc() gave the host (n of them; borrowed). */
const struct sbx_etc_entry *sbx_host_etc(const struct sbx_host *host, size_t *n);

#endif
