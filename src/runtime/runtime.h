/*
 * runtime.h - the languages: runtime files (docs/runtimes.md) loaded into a
 * registry, their versions probed in a sandbox, and one execution as a
 * compile stage and a run stage, each a sandbox of its own.
 *
 * Usage:
 *	struct rt_registry *reg;
 *	rt_registry_load(&reg, "runtimes:/etc/safexec/runtimes", why, len);
 *	rt_registry_probe(reg, host);		   versions, availability
 *	const struct runtime *rt = rt_find(reg, "c++");
 *	rt_execute(rt, host, &job, &res); ... rt_result_release(&res);
 *	rt_registry_free(reg);
 *
 * A registry is read-only once probed: any thread may use it.
 */
#ifndef SAFEXEC_RUNTIME_H
#define SAFEXEC_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"

#define RT_NAME_MAX	32	/* a name or alias, with its NUL */
#define RT_MAX_ALIASES	8
#define RT_MAX_EXTS	8
#define RT_VERSION_MAX	64
#define RT_MAX_RUNTIMES	128

/* Limits a stage takes unless a runtime file or a request says otherwise. */
#define RT_COMPILE_DEFAULT_MS	  10000u
#define RT_COMPILE_DEFAULT_MEMORY (512ull << 20)
#define RT_COMPILE_DEFAULT_PROCS  64u
#define RT_COMPILE_DEFAULT_OUTPUT (1ull << 20)
#define RT_COMPILE_MAX_MS	  60000u
#define RT_COMPILE_MAX_MEMORY	  (2ull << 30)
#define RT_COMPILE_MAX_PROCS	  256u
#define RT_COMPILE_MAX_OUTPUT	  (4ull << 20)

/* A stage's limits as a runtime file gives them: a field 0 is not set. */
struct rt_stage_limits {
	struct sbx_limits def, max;
};

struct runtime {
	char name[RT_NAME_MAX];
	char display_name[64];
	char aliases[RT_MAX_ALIASES][RT_NAME_MAX];
	size_t naliases;
	char extensions[RT_MAX_EXTS][16];
	size_t nextensions;
	char source_file[64];
	char **compile, **run, **version;	/* NULL-terminated words */
	char **compile_options;			/* fnmatch patterns of the options
						   a request may give ({options}) */
	char **env;				/* "NAME=value" */
	size_t nenv;
	char **paths;				/* host paths, read-only */
	size_t npaths;
	char root[SBX_MAX_PATH + 1];		/* "" = the host's */
	char *hello;
	char origin[256];			/* the file it came from */
	struct rt_stage_limits run_limits, compile_limits;

	/* Set by rt_registry_probe(). */
	bool available;
	char version_text[RT_VERSION_MAX];	/* "12.2.0" */
	char why[160];				/* when not available */
};

struct rt_registry {
	struct runtime *rt;
	size_t n;
};

/* The directories searched when none is configured: $SAFEXEC_RUNTIMES, or
 * the runtimes folder beside the binary's folder (the source tree's for
 * build/safexec), or the folder `make install` puts them in
 * ($(PREFIX)/share/safexec/runtimes, compiled in as SAFEXEC_RUNTIMES_DIR)
 * when it exists, or /usr/share/safexec/runtimes.  Colon-separated. */
const char *rt_default_dirs(char *buf, size_t len);

/* Loads every *.conf of the colon-separated dirs (a missing directory is
 * skipped, a bad file is an error naming FILE:LINE).  A later file with a
 * name already loaded replaces it.  Returns 0 or a negative errno. */
int rt_registry_load(struct rt_registry **out, const char *dirs, char *why, size_t whylen);
void rt_registry_free(struct rt_registry *reg);

/* Parses one runtime file's text into *rt (released with
 * rt_runtime_release()).  For the loader and the tests. */
int rt_parse(struct runtime *rt, const char *text, size_t len, const char *origin,
	     char *why, size_t whylen);
void rt_runtime_release(struct runtime *rt);

/* Decides which runtimes are available: their commands exist and their
 * version command runs in a sandbox; fills version_text or why. */
void rt_registry_probe(struct rt_registry *reg, struct sbx_host *host);

/* The same for one runtime. */
void rt_probe(struct runtime *rt, struct sbx_host *host);
/* Only the first half of that: whether its programs are there (sets
 * available or why, not the version).  The command line, which shows no
 * version, runs no version command. */
bool rt_check(struct runtime *rt);

/* The available runtime named name or one of its aliases (case counts),
 * or NULL. */
const struct runtime *rt_find(const struct rt_registry *reg, const char *name, size_t len);
/* The same, available or not (not yet probed). */
struct runtime *rt_lookup(struct rt_registry *reg, const char *name, size_t len);
/* The runtime for a file name's extension, available or not, or NULL. */
struct runtime *rt_for_file(struct rt_registry *reg, const char *file);

#define RT_MAX_OPTIONS	  32	/* compile options of one request */
#define RT_OPTION_MAX	  128	/* bytes of one */

/* Whether a request may pass this option to the compiler: the runtime's
 * compile command takes {options} and one of its compile_options patterns
 * matches the whole word.  On a refusal, why says so and lists them. */
bool rt_option_allowed(const struct runtime *rt, const char *opt, char *why, size_t whylen);

/* Whether the runtime's version matches a request's selector: equal, or a
 * prefix of it ending at a '.' ("3.11" matches "3.11.2"). */
bool rt_version_matches(const struct runtime *rt, const char *sel, size_t len);

/* A stage's effective limits.  Run: the runtime's defaults where set, else
 * base_def; maxima the lower of the runtime's and base_max.  Compile: the
 * runtime's, else the RT_COMPILE_* ones. */
void rt_run_limits(const struct runtime *rt, const struct sbx_limits *base_def,
		   const struct sbx_limits *base_max, struct sbx_limits *def,
		   struct sbx_limits *max);
void rt_compile_limits(const struct runtime *rt, struct sbx_limits *def,
		       struct sbx_limits *max);
static inline bool rt_compiles(const struct runtime *rt) { return rt->compile != NULL; }

/* One execution. */
struct rt_job {
	const struct sbx_file *files;	/* the entry point first */
	size_t nfiles;
	const char *stdin_data;
	size_t stdin_len;
	const char *const *argv;
	size_t argc;
	const char *const *options;	/* compile options, checked with
					   rt_option_allowed() */
	size_t noptions;
	bool merge_stderr;		/* the run's stderr is its stdout */
	/* The run stage's output directory (struct sbx_request's fields of
	 * the same names); never the compile stage's. */
	bool collect_out;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	struct sbx_limits run_limits, compile_limits;
	/* The run stage's live output (struct sbx_request's fields of the
	 * same names); never the compile stage's.  NULL: none. */
	void (*on_output)(void *arg, int stream, const char *data, size_t len);
	void *output_arg;
	/* struct sbx_request's cancel_fd, for both stages.  0: none. */
	int cancel_fd;
};

struct rt_result {
	bool compiled;			/* a compile stage ran: compile is set */
	struct sbx_result compile;
	bool ran;			/* the run stage ran: run is set */
	struct sbx_result run;		/* always has (empty) buffers */
};

/* The compile stage failed (any status but ok): the run did not start. */
static inline bool rt_compile_failed(const struct rt_result *r)
{
	return r->compiled && r->compile.status != SBX_OK;
}

/* The compile stage alone (rt_compiles(rt)): /box's files as it left
 * them are in out->files.  Returns 0 or a negative errno as sbx_run(). */
int rt_compile(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	       struct sbx_result *out);
/* The run stage alone, on files (the compile's, or the job's own); with
 * collect_out, those in out/ (what a compile stage left in /box/out) are
 * left out: the run's output directory starts empty. */
int rt_run(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	   const struct sbx_file *files, size_t nfiles, struct sbx_result *out);
/* Compiles (when the runtime does) then runs.  Returns 0, or a negative
 * errno as sbx_run() does (-E2BIG: the request was too large for it);
 * *res is filled either way. */
int rt_execute(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	       struct rt_result *res);
void rt_result_release(struct rt_result *res);

#endif
