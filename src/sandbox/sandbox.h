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

/* Hard ceilings no request or flag may exceed. */
#define SBX_MAX_WALL_MS		 (10u * 60 * 1000)
#define SBX_MAX_MEMORY		 (16ull << 30)
#define SBX_MAX_PROCESSES	 4096u
#define SBX_MAX_OUTPUT		 (64ull << 20)
#define SBX_MAX_CODE		 (16u << 20)
#define SBX_MAX_STDIN		 (64u << 20)
#define SBX_MAX_ARGS		 256u

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

/* Fills *l with the SBX_DEFAULT_* values. */
void sbx_limits_default(struct sbx_limits *l);

/* Checks every field against the SBX_MAX_* ceilings and zero.  Returns 0,
 * or -EINVAL with a static message naming the field in *why. */
int sbx_limits_check(const struct sbx_limits *l, const char **why);

/* One run.  All pointers are borrowed for the duration of sbx_run(). */
struct sbx_request {
	const char *language;	/* "python"; NULL means "python" */
	const char *code;	/* source text, code_len bytes, not NUL-terminated */
	size_t code_len;
	const char *stdin_data;	/* may be NULL; stdin_len bytes */
	size_t stdin_len;
	const char *const *argv; /* the program's own arguments, argc of them */
	size_t argc;
	struct sbx_limits limits;
};

void sbx_request_init(struct sbx_request *req);

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

/* Probes without keeping anything, for `safexec check`: fills *f, and, one
 * per line, what is missing or degraded into notes.  Returns 0 when every
 * required feature is there, -1 otherwise. */
int sbx_probe(struct sbx_features *f, char *notes, size_t noteslen);

/* Runs one request.  Always fills *res (see the top of this file).  Returns
 * 0, or a negative errno when the result is SBX_INTERNAL_ERROR. */
int sbx_run(struct sbx_host *host, const struct sbx_request *req,
	    struct sbx_result *res);

/* Asks every run in progress to stop now (SIGKILL); used at shutdown after
 * the grace period.  Those runs end as SBX_INTERNAL_ERROR ("the service
 * stopped before the run ended").  Async-signal-safe. */
void sbx_host_kill_all(struct sbx_host *host);

/* Number of sandboxes running right now. */
unsigned sbx_host_running(const struct sbx_host *host);

#endif
