/*
 * job.c - the compile once, the tests each in a fresh sandbox, the runs of
 * each, the verdicts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "job/job.h"
#include "util/util.h"

/* What Ruby's strip and rstrip remove, as the judges that compare so do. */
static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
	       c == '\0';
}

/* Each line without its trailing blanks, then the whole without leading and
 * trailing blanks; written into out (len bytes at most), returns its length. */
static size_t normalize(const char *s, size_t len, char *out)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		size_t end = i;
		while (end > start && blank(s[end - 1]))
			end--;
		memcpy(out + n, s + start, end - start);
		n += end - start;
		if (i < len)
			out[n++] = '\n';
		start = i + 1;
	}
	size_t a = 0;
	while (a < n && blank(out[a]))
		a++;
	while (n > a && blank(out[n - 1]))
		n--;
	memmove(out, out + a, n - a);
	return n - a;
}

bool job_output_matches(const char *out, size_t len, const char *expected, size_t elen)
{
	char *a = malloc(len + 1), *b = malloc(elen + 1);
	bool same = false;

	if (a && b) {
		size_t na = normalize(out, len, a), nb = normalize(expected, elen, b);
		same = na == nb && memcmp(a, b, na) == 0;
	}
	free(a);
	free(b);
	return same;
}

const char *job_verdict_name(const struct job_test_result *t)
{
	switch (t->verdict) {
	case JOB_ACCEPTED: return "accepted";
	case JOB_WRONG_ANSWER: return "wrong_answer";
	case JOB_NOT_RUN: return "not_run";
	default: return sbx_status_name(t->res.status);
	}
}

/* Empty buffers, so that a result nobody ran still reads as empty text. */
static int empty_result(struct sbx_result *r)
{
	r->out.data = calloc(1, 1);
	r->err.data = calloc(1, 1);
	r->output.data = calloc(1, 1);
	return r->out.data && r->err.data && r->output.data ? 0 : -ENOMEM;
}

/* One run of a test. */
static int run_once(struct sbx_host *host, const struct job_spec *spec, const struct job_test *t,
		    const struct sbx_file *files, size_t nfiles, struct sbx_result *out)
{
	struct rt_job job = {
		.files = spec->files, .nfiles = spec->nfiles,
		.stdin_data = t && t->stdin_data ? t->stdin_data : spec->stdin_data,
		.stdin_len = t && t->stdin_data ? t->stdin_len : spec->stdin_len,
		.argv = t && t->has_args ? (const char *const *)t->argv : spec->argv,
		.argc = t && t->has_args ? t->argc : spec->argc,
		.merge_stderr = spec->redirect_stderr,
		.collect_out = spec->collect_out,
		.out_max_files = spec->out_max_files,
		.out_max_bytes = spec->out_max_bytes,
		.run_limits = spec->limits,
		.on_output = spec->on_output,
		.output_arg = spec->output_arg,
		.cancel_fd = spec->cancel_fd,
	};

	if (spec->rt)
		return rt_run(spec->rt, host, &job, files, nfiles, out);

	struct sbx_request req;

	sbx_request_init(&req);
	req.language = spec->language;
	req.code = spec->code;
	req.code_len = spec->code_len;
	req.stdin_data = job.stdin_data;
	req.stdin_len = job.stdin_len;
	req.argv = job.argv;
	req.argc = job.argc;
	req.merge_stderr = job.merge_stderr;
	req.collect_out = job.collect_out;
	req.out_max_files = job.out_max_files;
	req.out_max_bytes = job.out_max_bytes;
	req.limits = spec->limits;
	req.on_output = job.on_output;
	req.output_arg = job.output_arg;
	req.cancel_fd = job.cancel_fd;
	return sbx_run(host, &req, out);
}

/* A test's runs: the last one's result, with the times and the memory
 * averaged over all of them.  A run that fails ends the series. */
static int run_test(struct sbx_host *host, const struct job_spec *spec, const struct job_test *t,
		    const struct sbx_file *files, size_t nfiles, struct sbx_result *out)
{
	uint64_t wall = 0, cpu = 0, mem = 0;
	unsigned n = 0;
	int r = 0;

	for (unsigned i = 0; i < (spec->runs ? spec->runs : 1); i++) {
		if (i)
			sbx_result_release(out);
		memset(out, 0, sizeof(*out));
		r = run_once(host, spec, t, files, nfiles, out);
		n++;
		wall += out->wall_time_ms;
		cpu += out->cpu_time_ms;
		mem += out->memory_bytes;
		if (r < 0 || out->status != SBX_OK)
			break;
	}
	out->wall_time_ms = wall / n;
	out->cpu_time_ms = cpu / n;
	out->memory_bytes = mem / n;
	return r;
}

/* The compile stage, or its result from the cache. */
static int compile(struct sbx_host *host, struct cache *cache, const struct job_spec *spec,
		   struct job_result *out)
{
	struct rt_job job = {
		.files = spec->files, .nfiles = spec->nfiles,
		.options = spec->options, .noptions = spec->noptions,
		.compile_limits = spec->compile_limits,
		.cancel_fd = spec->cancel_fd,
	};
	struct cache_key_input in = {
		.runtime = spec->rt->name, .version = spec->rt->version_text,
		.words = (const char *const *)spec->rt->compile,
		.options = spec->options, .noptions = spec->noptions,
		.limits = &spec->compile_limits,
		.files = spec->files, .nfiles = spec->nfiles,
	};
	uint8_t key[CACHE_KEY_SIZE];
	int r;

	out->compiled = true;
	if (cache) {
		cache_key(key, &in);
		if (cache_get(cache, key, &out->compile)) {
			out->compile_cached = true;
			return 0;
		}
	}
	r = rt_compile(spec->rt, host, &job, &out->compile);
	if (r == 0 && cache)
		cache_put(cache, key, &out->compile);
	return r;
}

int job_execute(struct sbx_host *host, struct cache *cache, const struct job_spec *spec,
		struct job_result *out)
{
	const struct sbx_file *files = spec->files;
	size_t nfiles = spec->nfiles, n = spec->ntests ? spec->ntests : 1;
	bool stop = false;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->tests = calloc(n, sizeof(*out->tests));
	if (!out->tests)
		return -ENOMEM;
	out->ntests = n;
	if (spec->rt && rt_compiles(spec->rt)) {
		r = compile(host, cache, spec, out);
		if (r < 0 || out->compile.status != SBX_OK) {
			out->compile_failed = true;
			for (size_t i = 0; i < n; i++) {
				out->tests[i].verdict = JOB_NOT_RUN;
				if (empty_result(&out->tests[i].res) < 0)
					r = r < 0 ? r : -ENOMEM;
			}
			out->not_run = n;
			return r;
		}
		files = out->compile.files;
		nfiles = out->compile.nfiles;
	}
	out->decisive = n - 1;
	for (size_t i = 0; i < n; i++) {
		struct job_test_result *t = &out->tests[i];
		const struct job_test *test = spec->tests ? &spec->tests[i] : NULL;

		if (stop) {
			t->verdict = JOB_NOT_RUN;
			out->not_run++;
			if ((r = empty_result(&t->res)) < 0)
				break;
			continue;
		}
		r = run_test(host, spec, test, files, nfiles, &t->res);
		if (r < 0) {
			/* The sandbox refused it: a failure, and the end. */
			t->verdict = JOB_FAILED;
			out->failed++;
			if (!t->res.out.data && empty_result(&t->res) < 0)
				r = -ENOMEM;
			for (size_t j = i + 1; j < n; j++) {
				out->tests[j].verdict = JOB_NOT_RUN;
				out->not_run++;
				empty_result(&out->tests[j].res);
			}
			out->decisive = i;
			return r;
		}
		if (t->res.status != SBX_OK)
			t->verdict = JOB_FAILED;
		else if (test && test->has_expected &&
			 !job_output_matches(t->res.out.data, t->res.out.len, test->expected,
					     test->expected_len))
			t->verdict = JOB_WRONG_ANSWER;
		else
			t->verdict = JOB_ACCEPTED;
		if (t->verdict == JOB_ACCEPTED) {
			out->accepted++;
			continue;
		}
		if (!out->failed)
			out->decisive = i;
		out->failed++;
		stop = spec->stop_on_failure;
	}
	return r;
}

void job_result_release(struct job_result *r)
{
	sbx_result_release(&r->compile);
	for (size_t i = 0; r->tests && i < r->ntests; i++)
		sbx_result_release(&r->tests[i].res);
	free(r->tests);
	r->tests = NULL;
	r->ntests = 0;
}
