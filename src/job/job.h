/*
 * job.h - one submission from its compile to its verdicts: the compile
 * stage once (or its result from the compile cache), then each test in a
 * fresh sandbox, each run as many times as asked, and a verdict per test.
 * Knows nothing of HTTP or JSON: the API layer builds a job_spec from a
 * request and writes the job_result as its answer.
 */
#ifndef SAFEXEC_JOB_H
#define SAFEXEC_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/runtime.h"
#include "sandbox/sandbox.h"

struct cache;

/* One test: its stdin and arguments, and the output it must print. */
struct job_test {
	const char *stdin_data;		/* NULL: the job's stdin */
	size_t stdin_len;
	const char **argv;		/* with has_args; else the job's */
	size_t argc;
	bool has_args;
	const char *expected;		/* with has_expected */
	size_t expected_len;
	bool has_expected;
};

struct job_spec {
	const struct runtime *rt;	/* NULL: the built-in Python, code */
	const char *language;
	const char *code;		/* the built-in Python's program */
	size_t code_len;
	const struct sbx_file *files;	/* a runtime's, the entry point first */
	size_t nfiles;
	const char *const *options;	/* compile options, checked */
	size_t noptions;
	const char *stdin_data;
	size_t stdin_len;
	const char *const *argv;
	size_t argc;
	struct sbx_limits limits, compile_limits;
	const struct job_test *tests;	/* NULL: one run of stdin and argv */
	size_t ntests;
	bool stop_on_failure;
	bool redirect_stderr;		/* 2>&1: stdout gets both streams */
	unsigned runs;			/* of each test, >= 1 */
	/* The run stage's output directory (struct sbx_request's fields of
	 * the same names); never the compile stage's. */
	bool collect_out;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	/* Live output: struct sbx_request's on_output and output_arg, given
	 * to each run stage (never the compile stage's: its messages come
	 * with the result); NULL: none. */
	void (*on_output)(void *arg, int stream, const char *data, size_t len);
	void *output_arg;
	/* struct sbx_request's cancel_fd, given to every stage, the compile
	 * stage's too: the caller gave up on the whole job.  0: none. */
	int cancel_fd;
};

enum job_verdict {
	JOB_ACCEPTED,		/* status ok, and the expected output if any */
	JOB_WRONG_ANSWER,	/* status ok, another output */
	JOB_FAILED,		/* another status: the result names it */
	JOB_NOT_RUN,		/* after a failure, with stop_on_failure */
};

struct job_test_result {
	enum job_verdict verdict;
	struct sbx_result res;		/* unless JOB_NOT_RUN */
};

struct job_result {
	bool compiled;			/* a compile stage was needed: compile set */
	bool compile_cached;		/* ... and came from the cache */
	struct sbx_result compile;
	bool compile_failed;		/* no test ran */
	struct job_test_result *tests;	/* one per test, or one for a plain run */
	size_t ntests;
	size_t decisive;		/* the first test not accepted, else the last */
	size_t accepted, failed, not_run;
};

/*
 * Runs the job.  Returns 0, or a negative errno as sbx_run() (-E2BIG: the
 * request was too large for the sandbox; -ENOMEM).  *out is filled either
 * way (release with job_result_release()).  cache may be NULL.
 */
int job_execute(struct sbx_host *host, struct cache *cache, const struct job_spec *spec,
		struct job_result *out);
void job_result_release(struct job_result *r);

/* "accepted", "wrong_answer", "not_run", or the status's name. */
const char *job_verdict_name(const struct job_test_result *t);

/* Whether output matches expected as judges compare them: each line with
 * its trailing blanks removed, then the whole with its leading and trailing
 * blanks removed. */
bool job_output_matches(const char *out, size_t len, const char *expected, size_t elen);

#endif
