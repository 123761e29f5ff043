/* Unit tests for src/job/: the output comparison, the verdicts' names, and
 * whole jobs run in real sandboxes (the built-in Python, and the C runtime
 * with the compile cache when gcc is there). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "job/job.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "test.h"

static struct sbx_host *host;
static char host_why[256];

/* Opens the host once per test process; skips the test when this machine
 * cannot make sandboxes. */
#define NEED_HOST() do {						\
		if (!host && sbx_host_open(&host, host_why, sizeof(host_why)) < 0) \
			TEST_SKIP(host_why[0] ? host_why : "no sandbox host"); \
	} while (0)

static bool matches(const char *out, const char *expected)
{
	return job_output_matches(out, strlen(out), expected, strlen(expected));
}

TEST(job_output_matches_as_judges_compare)
{
	/* Trailing blanks of each line do not count. */
	ASSERT(matches("a \nb\t\n", "a\nb"));
	ASSERT(matches("a\nb", "a  \t\nb \n"));
	ASSERT(matches("a\n \nb", "a\n\nb"));
	/* CRLF line ends are LF ones with a trailing blank. */
	ASSERT(matches("a\r\nb\r\n", "a\nb\n"));
	ASSERT(matches("a \r\nb", "a\nb"));
	/* Leading and trailing blank lines (and blanks) of the whole. */
	ASSERT(matches("\n\n\na\nb\n\n\n", "a\nb"));
	ASSERT(matches("  \n\t a\nb", "a\nb\n\n  \n"));
	ASSERT(matches("x", "\v\fx\f\v"));
	/* Leading blanks of a line other than the first count. */
	ASSERT(!matches("a\n b", "a\nb"));
	ASSERT(!matches("a\nb c", "a\nbc"));
	/* Blank lines inside count. */
	ASSERT(!matches("a\n\nb", "a\nb"));
	/* A real difference in the middle. */
	ASSERT(!matches("1\n2\n3\n4\n", "1\n2\n5\n4\n"));
	ASSERT(!matches("hello world\n", "hello World\n"));
	/* A missing last line, or a line too many. */
	ASSERT(!matches("a\nb\n", "a\nb\nc\n"));
	ASSERT(!matches("a\nb", "a\nb\nc"));
	ASSERT(!matches("a\nb\nc", "a\nb"));
	ASSERT(!matches("a\nb", "a\nbc"));
	/* Empty and blank are the same; neither is a space-free text. */
	ASSERT(matches("", ""));
	ASSERT(matches("", " \n\t\r\n"));
	ASSERT(matches("\n\n", ""));
	ASSERT(!matches("", "0"));
	ASSERT(!matches("0\n", ""));

	/* NUL is a blank at a line's end or the whole's ends, as in Ruby's
	 * strip, but a byte like any other inside a line. */
	ASSERT(job_output_matches("a\0\nb\0", 5, "a\nb", 3));
	ASSERT(job_output_matches("\0a", 2, "a", 1));
	ASSERT(!job_output_matches("a\0b", 3, "ab", 2));
	ASSERT(!job_output_matches("a\0b", 3, "a b", 3));
	ASSERT(job_output_matches("a\0b\n", 4, "a\0b", 3));
	/* Lengths are taken as given: nothing after len is read. */
	ASSERT(job_output_matches("abcdef", 3, "abcxyz", 3));
	ASSERT(!job_output_matches("abc", 3, "abcd", 4));
	ASSERT(job_output_matches("", 0, "", 0));
}

TEST(job_verdict_names)
{
	struct job_test_result t;
	static const struct {
		enum sbx_status s;
		const char *name;
	} failed[] = {
		{ SBX_RUNTIME_ERROR, "runtime_error" }, { SBX_SIGNALED, "signaled" },
		{ SBX_TIMEOUT, "timeout" }, { SBX_MEMORY_LIMIT, "memory_limit" },
		{ SBX_OUTPUT_LIMIT, "output_limit" }, { SBX_INTERNAL_ERROR, "internal_error" },
	};

	memset(&t, 0, sizeof(t));
	t.verdict = JOB_ACCEPTED;
	ASSERT_STREQ(job_verdict_name(&t), "accepted");
	t.verdict = JOB_WRONG_ANSWER;
	ASSERT_STREQ(job_verdict_name(&t), "wrong_answer");
	t.verdict = JOB_NOT_RUN;
	ASSERT_STREQ(job_verdict_name(&t), "not_run");
	/* The verdict decides over the status for those three. */
	t.res.status = SBX_TIMEOUT;
	ASSERT_STREQ(job_verdict_name(&t), "not_run");
	t.verdict = JOB_FAILED;
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++) {
		t.res.status = failed[i].s;
		ASSERT_STREQ(job_verdict_name(&t), failed[i].name);
	}
}

/* A job of the built-in Python. */
static void python_job(struct job_spec *spec, const char *code)
{
	memset(spec, 0, sizeof(*spec));
	spec->rt = NULL;
	spec->language = "python";
	spec->code = code;
	spec->code_len = strlen(code);
	sbx_limits_default(&spec->limits);
	spec->runs = 1;
}

static struct job_test test_in(const char *in, const char *expected)
{
	struct job_test t;

	memset(&t, 0, sizeof(t));
	if (in) {
		t.stdin_data = in;
		t.stdin_len = strlen(in);
	}
	if (expected) {
		t.expected = expected;
		t.expected_len = strlen(expected);
		t.has_expected = true;
	}
	return t;
}

/* Every buffer of a result that did not run: there, and empty. */
static bool empty_buffers(const struct sbx_result *r)
{
	return r->out.data && r->err.data && r->output.data && r->out.len == 0 &&
	       r->err.len == 0 && r->output.len == 0 && r->out.data[0] == '\0' &&
	       r->err.data[0] == '\0' && r->output.data[0] == '\0';
}

static const char upper_code[] =
	"import sys\n"
	"data = sys.stdin.read().strip()\n"
	"if data == 'fail':\n"
	"    sys.stderr.write('failing\\n')\n"
	"    sys.exit(1)\n"
	"print(data.upper())\n";

TEST(job_python_tests_verdicts_without_stop)
{
	struct job_test tests[4];
	struct job_spec spec;
	struct job_result res;

	NEED_HOST();
	python_job(&spec, upper_code);
	tests[0] = test_in("ab", "AB");
	tests[1] = test_in("cd", "XX\n");
	tests[2] = test_in("fail\n", "FAIL");
	tests[3] = test_in("ef", "\nEF  \n\n");
	spec.tests = tests;
	spec.ntests = 4;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT(!res.compiled);
	ASSERT(!res.compile_failed);
	ASSERT_EQ(res.ntests, 4);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[0].res.out.data, "AB\n");
	ASSERT_EQ(res.tests[1].verdict, JOB_WRONG_ANSWER);
	ASSERT_EQ(res.tests[1].res.status, SBX_OK);
	ASSERT_STREQ(res.tests[1].res.out.data, "CD\n");
	ASSERT_STREQ(job_verdict_name(&res.tests[1]), "wrong_answer");
	/* A test that fails is failed whatever its expected output. */
	ASSERT_EQ(res.tests[2].verdict, JOB_FAILED);
	ASSERT_EQ(res.tests[2].res.status, SBX_RUNTIME_ERROR);
	ASSERT(res.tests[2].res.has_exit_code);
	ASSERT_EQ(res.tests[2].res.exit_code, 1);
	ASSERT_STREQ(res.tests[2].res.err.data, "failing\n");
	ASSERT_STREQ(job_verdict_name(&res.tests[2]), "runtime_error");
	/* Without stop_on_failure every test runs. */
	ASSERT_EQ(res.tests[3].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[3].res.out.data, "EF\n");
	ASSERT_EQ(res.accepted, 2);
	ASSERT_EQ(res.failed, 2);
	ASSERT_EQ(res.not_run, 0);
	ASSERT_EQ(res.decisive, 1);	/* the first not accepted */
	job_result_release(&res);
	ASSERT(res.tests == NULL);
}

TEST(job_python_stop_on_failure)
{
	struct job_test tests[4];
	struct job_spec spec;
	struct job_result res;

	NEED_HOST();
	python_job(&spec, upper_code);
	tests[0] = test_in("ab", "AB");
	tests[1] = test_in("fail", NULL);
	tests[2] = test_in("cd", "CD");
	tests[3] = test_in("ef", "nope");
	spec.tests = tests;
	spec.ntests = 4;
	spec.stop_on_failure = true;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.ntests, 4);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_EQ(res.tests[1].verdict, JOB_FAILED);
	ASSERT_EQ(res.tests[1].res.status, SBX_RUNTIME_ERROR);
	ASSERT_EQ(res.tests[1].res.exit_code, 1);
	ASSERT_EQ(res.tests[2].verdict, JOB_NOT_RUN);
	ASSERT_EQ(res.tests[3].verdict, JOB_NOT_RUN);
	ASSERT(empty_buffers(&res.tests[2].res));
	ASSERT(empty_buffers(&res.tests[3].res));
	ASSERT_STREQ(job_verdict_name(&res.tests[3]), "not_run");
	ASSERT_EQ(res.accepted, 1);
	ASSERT_EQ(res.failed, 1);
	ASSERT_EQ(res.not_run, 2);
	ASSERT_EQ(res.decisive, 1);
	job_result_release(&res);

	/* A wrong answer stops the tests too. */
	tests[1] = test_in("xy", "yx");
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[1].verdict, JOB_WRONG_ANSWER);
	ASSERT_EQ(res.tests[2].verdict, JOB_NOT_RUN);
	ASSERT_EQ(res.tests[3].verdict, JOB_NOT_RUN);
	ASSERT_EQ(res.accepted, 1);
	ASSERT_EQ(res.failed, 1);
	ASSERT_EQ(res.not_run, 2);
	ASSERT_EQ(res.decisive, 1);
	job_result_release(&res);

	/* All accepted: the last test decides, nothing is skipped. */
	tests[1] = test_in("xy", "XY");
	tests[3] = test_in("ef", "EF");
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	for (size_t i = 0; i < 4; i++)
		ASSERT_EQ(res.tests[i].verdict, JOB_ACCEPTED);
	ASSERT_EQ(res.accepted, 4);
	ASSERT_EQ(res.failed, 0);
	ASSERT_EQ(res.not_run, 0);
	ASSERT_EQ(res.decisive, 3);
	ASSERT_STREQ(res.tests[res.decisive].res.out.data, "EF\n");
	job_result_release(&res);

	/* The first test failing leaves all the others not run. */
	tests[0] = test_in("fail", "x");
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[0].verdict, JOB_FAILED);
	for (size_t i = 1; i < 4; i++)
		ASSERT_EQ(res.tests[i].verdict, JOB_NOT_RUN);
	ASSERT_EQ(res.not_run, 3);
	ASSERT_EQ(res.decisive, 0);
	job_result_release(&res);
}

TEST(job_python_plain_run)
{
	struct job_spec spec;
	struct job_result res;
	const char *argv[] = { "one", "two" };

	NEED_HOST();
	/* No tests: one run of the job's stdin and arguments. */
	python_job(&spec, "import sys\nprint(sys.stdin.read(), *sys.argv[1:])\n");
	spec.stdin_data = "in";
	spec.stdin_len = 2;
	spec.argv = argv;
	spec.argc = 2;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.ntests, 1);
	ASSERT_EQ(res.decisive, 0);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[0].res.out.data, "in one two\n");
	ASSERT_EQ(res.accepted, 1);
	ASSERT_EQ(res.failed, 0);
	job_result_release(&res);

	python_job(&spec, "raise SystemExit(3)\n");
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[0].verdict, JOB_FAILED);
	ASSERT_EQ(res.tests[0].res.status, SBX_RUNTIME_ERROR);
	ASSERT_EQ(res.tests[0].res.exit_code, 3);
	ASSERT_EQ(res.failed, 1);
	ASSERT_EQ(res.accepted, 0);
	job_result_release(&res);
}

TEST(job_python_test_args_and_stdin_override_the_jobs)
{
	static const char code[] =
		"import sys\nprint(repr(sys.stdin.read()), repr(sys.argv[1:]))\n";
	const char *job_argv[] = { "jobarg" };
	const char *t_argv[] = { "x", "y z" };
	struct job_test tests[5];
	struct job_spec spec;
	struct job_result res;

	NEED_HOST();
	python_job(&spec, code);
	spec.stdin_data = "JOB";
	spec.stdin_len = 3;
	spec.argv = job_argv;
	spec.argc = 1;
	/* Neither: the job's. */
	tests[0] = test_in(NULL, "'JOB' ['jobarg']");
	/* Its stdin, the job's arguments. */
	tests[1] = test_in("T\n", "'T\\n' ['jobarg']");
	/* Its arguments, the job's stdin. */
	tests[2] = test_in(NULL, "'JOB' ['x', 'y z']");
	tests[2].argv = t_argv;
	tests[2].argc = 2;
	tests[2].has_args = true;
	/* An empty stdin and no arguments are its own too. */
	tests[3] = test_in("", "'' []");
	tests[3].has_args = true;
	/* Arguments without has_args are not taken. */
	tests[4] = test_in(NULL, "'JOB' ['jobarg']");
	tests[4].argv = t_argv;
	tests[4].argc = 2;
	spec.tests = tests;
	spec.ntests = 5;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	for (size_t i = 0; i < 5; i++) {
		if (res.tests[i].verdict != JOB_ACCEPTED)
			fprintf(stderr, "  test %zu printed %s", i, res.tests[i].res.out.data);
		ASSERT_EQ(res.tests[i].verdict, JOB_ACCEPTED);
	}
	ASSERT_EQ(res.accepted, 5);
	ASSERT_EQ(res.decisive, 4);
	job_result_release(&res);
}

/* Writes to stdout and stderr by turns; pause (seconds) between writes. */
static void redirect_code(char *buf, size_t len, const char *pause)
{
	snprintf(buf, len,
		 "import sys, time\n"
		 "def w(f, s):\n"
		 "    f.write(s); f.flush(); time.sleep(%s)\n"
		 "w(sys.stdout, 'one\\n')\n"
		 "w(sys.stderr, 'two\\n')\n"
		 "w(sys.stdout, 'three\\n')\n"
		 "w(sys.stderr, 'four\\n')\n", pause);
}

TEST(job_python_redirect_stderr)
{
	char code[512];
	struct job_test tests[1];
	struct job_spec spec;
	struct job_result res;

	NEED_HOST();
	/* Pauses between the writes, so that the order cannot depend on how
	 * the two pipes are read. */
	redirect_code(code, sizeof(code), "0.1");
	python_job(&spec, code);
	/* Without: the streams apart. */
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_STREQ(res.tests[0].res.out.data, "one\nthree\n");
	ASSERT_STREQ(res.tests[0].res.err.data, "two\nfour\n");
	job_result_release(&res);

	/* With: stdout holds both in the order written, stderr nothing. */
	spec.redirect_stderr = true;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[0].res.status, SBX_OK);
	ASSERT_MEMEQ(res.tests[0].res.out.data, res.tests[0].res.out.len,
		     "one\ntwo\nthree\nfour\n", (size_t)19);
	ASSERT_EQ(res.tests[0].res.err.len, 0);
	ASSERT(res.tests[0].res.err.data != NULL);
	ASSERT_STREQ(res.tests[0].res.err.data, "");
	ASSERT_STREQ(res.tests[0].res.output.data, "one\ntwo\nthree\nfour\n");
	job_result_release(&res);

	/* The verdict compares both streams. */
	tests[0] = test_in(NULL, "one\ntwo\nthree\nfour");
	spec.tests = tests;
	spec.ntests = 1;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[0].res.err.data, "");
	job_result_release(&res);
	spec.redirect_stderr = false;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT_EQ(res.tests[0].verdict, JOB_WRONG_ANSWER);
	job_result_release(&res);
}

/* stderr redirected to stdout is one stream, as "2>&1" makes it: writes
 * keep their order however quickly they follow each other. */
TEST(job_python_redirect_stderr_keeps_write_order)
{
	char code[512];
	struct job_spec spec;
	struct job_result res;

	NEED_HOST();
	redirect_code(code, sizeof(code), "0");
	python_job(&spec, code);
	spec.redirect_stderr = true;
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
		if (strcmp(res.tests[0].res.out.data, "one\ntwo\nthree\nfour\n") != 0)
			fprintf(stderr, "  stdout: \"%s\"\n", res.tests[0].res.out.data);
		ASSERT_STREQ(res.tests[0].res.out.data, "one\ntwo\nthree\nfour\n");
		ASSERT_STREQ(res.tests[0].res.err.data, "");
		job_result_release(&res);
	}
}

/* A test the sandbox refuses (sbx_run() fails): job_execute() says so, and
 * the result it fills still reads right: that test is not accepted, the
 * later ones did not run, the totals count every test once. */
TEST(job_python_refused_test_is_not_accepted)
{
	static char big[SBX_MAX_ARG_LEN + 2];
	const char *argv[] = { big };
	struct job_test tests[3];
	struct job_spec spec;
	struct job_result res;
	int r;

	NEED_HOST();
	memset(big, 'a', SBX_MAX_ARG_LEN + 1);
	python_job(&spec, upper_code);
	tests[0] = test_in("ab", "AB");
	tests[1] = test_in("cd", "CD");
	tests[1].argv = argv;
	tests[1].argc = 1;
	tests[1].has_args = true;
	tests[2] = test_in("ef", "EF");
	spec.tests = tests;
	spec.ntests = 3;
	r = job_execute(host, NULL, &spec, &res);
	ASSERT_EQ(r, -E2BIG);
	ASSERT_EQ(res.ntests, 3);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_EQ(res.decisive, 1);
	ASSERT(res.tests[1].res.status != SBX_OK);
	ASSERT(res.tests[1].res.out.data != NULL);
	ASSERT_EQ(res.tests[2].verdict, JOB_NOT_RUN);
	ASSERT(empty_buffers(&res.tests[2].res));
	if (res.tests[1].verdict == JOB_ACCEPTED)
		fprintf(stderr, "  the refused test reads as accepted (status %s)\n",
			sbx_status_name(res.tests[1].res.status));
	ASSERT(res.tests[1].verdict != JOB_ACCEPTED);
	ASSERT_EQ(res.accepted + res.failed + res.not_run, 3);
	job_result_release(&res);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

TEST(job_python_runs_are_averaged)
{
	struct job_spec spec;
	struct job_result res;
	uint64_t t0, took;

	NEED_HOST();
	python_job(&spec, "import time\ntime.sleep(0.3)\nprint('done')\n");
	spec.runs = 3;
	t0 = now_ms();
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	took = now_ms() - t0;
	/* Three runs happened ... */
	ASSERT(took >= 900);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[0].res.out.data, "done\n");
	/* ... and the times are one run's, not their sum. */
	const struct sbx_result *r = &res.tests[0].res;
	if (r->wall_time_ms < 300 || r->wall_time_ms >= 900)
		fprintf(stderr, "  wall_time_ms %llu\n", (unsigned long long)r->wall_time_ms);
	ASSERT(r->wall_time_ms >= 300);
	ASSERT(r->wall_time_ms < 900);
	ASSERT(r->cpu_time_ms < 900);
	/* Python's peak, where the host measures it: megabytes, not three
	 * times the limit. */
	if (r->memory_bytes) {
		ASSERT(r->memory_bytes >= (1u << 20));
		ASSERT(r->memory_bytes <= spec.limits.memory_bytes);
	}
	job_result_release(&res);

	/* A run that fails ends the series: one run, not three. */
	python_job(&spec, "import time, sys\ntime.sleep(0.5)\nsys.exit(2)\n");
	spec.runs = 3;
	t0 = now_ms();
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	took = now_ms() - t0;
	ASSERT_EQ(res.tests[0].verdict, JOB_FAILED);
	ASSERT_EQ(res.tests[0].res.exit_code, 2);
	ASSERT(res.tests[0].res.wall_time_ms >= 500);
	ASSERT(took < 1500);
	job_result_release(&res);
}

/* The repository's runtimes directory: from the working directory (the
 * tests run from the tree's top), else beside the binary's build folder. */
static bool runtimes_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (access("runtimes/c.conf", R_OK) == 0) {
		snprintf(buf, len, "runtimes");
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return false;
		*slash = '\0';
		if ((size_t)snprintf(buf, len, "%.*s/runtimes", PATH_MAX - 16, exe) >= len)
			return false;
		char conf[PATH_MAX + 16];
		snprintf(conf, sizeof(conf), "%s/c.conf", buf);
		if (access(conf, R_OK) == 0)
			return true;
	}
	return false;
}

static const char c_code[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tlong n;\n"
	"\tif (scanf(\"%ld\", &n) != 1)\n"
	"\t\treturn 2;\n"
	"\tif (n < 0) {\n"
	"\t\tfprintf(stderr, \"negative\\n\");\n"
	"\t\treturn 3;\n"
	"\t}\n"
	"\tprintf(\"%ld\\n\", n * 2);\n"
	"\treturn 0;\n"
	"}\n";

static void c_job(struct job_spec *spec, const struct runtime *rt, const struct sbx_file *file)
{
	struct sbx_limits base, server_max, max;

	memset(spec, 0, sizeof(*spec));
	sbx_limits_default(&base);
	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		sbx_limit_set(&server_max, (enum sbx_limit_id)i,
			      sbx_limit_info((enum sbx_limit_id)i)->max);
	spec->rt = rt;
	spec->language = rt->name;
	spec->files = file;
	spec->nfiles = 1;
	rt_run_limits(rt, &base, &server_max, &spec->limits, &max);
	rt_compile_limits(rt, &spec->compile_limits, &max);
	spec->runs = 1;
}

TEST(job_c_compiles_once_and_caches)
{
	struct rt_registry *reg = NULL;
	const struct runtime *rt;
	struct job_test tests[3];
	struct job_spec spec;
	struct job_result res;
	struct cache *cache;
	struct sbx_file file;
	char dir[PATH_MAX], why[256];

	if (access("/usr/bin/gcc", X_OK) < 0)
		TEST_SKIP("no /usr/bin/gcc");
	if (!runtimes_dir(dir, sizeof(dir)))
		TEST_SKIP("no runtimes directory with c.conf");
	NEED_HOST();
	ASSERT_EQ(rt_registry_load(&reg, dir, why, sizeof(why)), 0);
	rt_registry_probe(reg, host);
	rt = rt_find(reg, "c", 1);
	if (!rt) {
		rt_registry_free(reg);
		TEST_SKIP("the C runtime is not available here");
	}
	ASSERT(rt_compiles(rt));
	ASSERT((cache = cache_new(64 << 20)) != NULL);

	file = (struct sbx_file){ rt->source_file, c_code, sizeof(c_code) - 1, false };
	c_job(&spec, rt, &file);
	tests[0] = test_in("21\n", "42");
	tests[1] = test_in("5", "11");
	tests[2] = test_in("-1", NULL);
	spec.tests = tests;
	spec.ntests = 3;

	/* The first job compiles. */
	ASSERT_EQ(job_execute(host, cache, &spec, &res), 0);
	ASSERT(res.compiled);
	ASSERT(!res.compile_cached);
	ASSERT(!res.compile_failed);
	if (res.compile.status != SBX_OK)
		fprintf(stderr, "  compile: %s\n", res.compile.err.data);
	ASSERT_EQ(res.compile.status, SBX_OK);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_STREQ(res.tests[0].res.out.data, "42\n");
	ASSERT_EQ(res.tests[1].verdict, JOB_WRONG_ANSWER);
	ASSERT_STREQ(res.tests[1].res.out.data, "10\n");
	ASSERT_EQ(res.tests[2].verdict, JOB_FAILED);
	ASSERT_EQ(res.tests[2].res.status, SBX_RUNTIME_ERROR);
	ASSERT_EQ(res.tests[2].res.exit_code, 3);
	ASSERT_STREQ(res.tests[2].res.err.data, "negative\n");
	ASSERT_EQ(res.accepted, 1);
	ASSERT_EQ(res.failed, 2);
	ASSERT_EQ(res.not_run, 0);
	ASSERT_EQ(res.decisive, 1);
	job_result_release(&res);

	/* The same job again: the compile comes from the cache, the verdicts
	 * are the same. */
	ASSERT_EQ(job_execute(host, cache, &spec, &res), 0);
	ASSERT(res.compiled);
	ASSERT(res.compile_cached);
	ASSERT(!res.compile_failed);
	ASSERT_EQ(res.compile.status, SBX_OK);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	ASSERT_EQ(res.tests[1].verdict, JOB_WRONG_ANSWER);
	ASSERT_EQ(res.tests[2].verdict, JOB_FAILED);
	ASSERT_STREQ(res.tests[0].res.out.data, "42\n");
	ASSERT_EQ(res.accepted, 1);
	ASSERT_EQ(res.failed, 2);
	ASSERT_EQ(res.decisive, 1);
	job_result_release(&res);

	/* Other compile options are another compile. */
	const char *opts[] = { "-O0" };
	spec.options = opts;
	spec.noptions = 1;
	ASSERT_EQ(job_execute(host, cache, &spec, &res), 0);
	ASSERT(res.compiled);
	ASSERT(!res.compile_cached);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	job_result_release(&res);
	spec.options = NULL;
	spec.noptions = 0;

	/* With stop_on_failure, from the cache too. */
	spec.stop_on_failure = true;
	ASSERT_EQ(job_execute(host, cache, &spec, &res), 0);
	ASSERT(res.compile_cached);
	ASSERT_EQ(res.tests[1].verdict, JOB_WRONG_ANSWER);
	ASSERT_EQ(res.tests[2].verdict, JOB_NOT_RUN);
	ASSERT(empty_buffers(&res.tests[2].res));
	ASSERT_EQ(res.not_run, 1);
	job_result_release(&res);
	spec.stop_on_failure = false;

	/* Without a cache: compiled, not cached. */
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT(res.compiled);
	ASSERT(!res.compile_cached);
	ASSERT_EQ(res.tests[0].verdict, JOB_ACCEPTED);
	job_result_release(&res);

	cache_free(cache);
	rt_registry_free(reg);
}

TEST(job_c_compile_error_runs_no_test)
{
	static const char bad[] = "int main(void) { return undeclared; }\n";
	struct rt_registry *reg = NULL;
	const struct runtime *rt;
	struct job_test tests[3];
	struct job_spec spec;
	struct job_result res;
	struct cache *cache;
	struct sbx_file file;
	char dir[PATH_MAX], why[256];

	if (access("/usr/bin/gcc", X_OK) < 0)
		TEST_SKIP("no /usr/bin/gcc");
	if (!runtimes_dir(dir, sizeof(dir)))
		TEST_SKIP("no runtimes directory with c.conf");
	NEED_HOST();
	ASSERT_EQ(rt_registry_load(&reg, dir, why, sizeof(why)), 0);
	rt_registry_probe(reg, host);
	rt = rt_find(reg, "c", 1);
	if (!rt) {
		rt_registry_free(reg);
		TEST_SKIP("the C runtime is not available here");
	}
	ASSERT((cache = cache_new(64 << 20)) != NULL);
	file = (struct sbx_file){ rt->source_file, bad, sizeof(bad) - 1, false };
	c_job(&spec, rt, &file);
	tests[0] = test_in("1", "2");
	tests[1] = test_in("2", "4");
	tests[2] = test_in("3", NULL);
	spec.tests = tests;
	spec.ntests = 3;
	for (int round = 0; round < 2; round++) {
		ASSERT_EQ(job_execute(host, cache, &spec, &res), 0);
		ASSERT(res.compiled);
		ASSERT(res.compile_failed);
		ASSERT(res.compile.status != SBX_OK);
		ASSERT(res.compile.err.data && strstr(res.compile.err.data, "undeclared"));
		ASSERT_EQ(res.ntests, 3);
		for (size_t i = 0; i < 3; i++) {
			ASSERT_EQ(res.tests[i].verdict, JOB_NOT_RUN);
			ASSERT(empty_buffers(&res.tests[i].res));
		}
		ASSERT_EQ(res.accepted, 0);
		ASSERT_EQ(res.failed, 0);
		ASSERT_EQ(res.not_run, 3);
		ASSERT(res.decisive < 3);
		job_result_release(&res);
	}

	/* A plain run (no tests) of it: one result, not run. */
	spec.tests = NULL;
	spec.ntests = 0;
	ASSERT_EQ(job_execute(host, NULL, &spec, &res), 0);
	ASSERT(res.compile_failed);
	ASSERT_EQ(res.ntests, 1);
	ASSERT_EQ(res.tests[0].verdict, JOB_NOT_RUN);
	ASSERT_EQ(res.decisive, 0);
	job_result_release(&res);

	cache_free(cache);
	rt_registry_free(reg);
}
