/*
 * Unit tests of what the warm starts are made of: the sandbox's program
 * hook and cancel descriptor, the wire format between the server and a
 * zygote's supervisor, which requests may go warm, and a warm run through
 * a real zygote.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "test.h"
#include "util/util.h"
#include "warm/internal.h"
#include "warm/warm.h"

static struct sbx_host *open_host(void)
{
	static struct sbx_host *host;
	char why[256];

	if (!host && sbx_host_open(&host, why, sizeof(why)) < 0) {
		fprintf(stderr, "  sbx_host_open: %s\n", why);
		return NULL;
	}
	return host;
}

/* The hook: what the program's process is, written to stdout, as a
 * program would see it; exits 5. */
static void hook(void *arg, char *const argv[], char *const envp[])
{
	char buf[4096], line[256];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	int open_fds = 0;

	buf[n > 0 ? n : 0] = '\0';
	for (int i = 3; i < 1024; i++)
		if (i != fd && fcntl(i, F_GETFD) >= 0)
			open_fds++;
	snprintf(line, sizeof(line), "arg=%s argv0=%s env0=%s dumpable=%d fds=%d\n",
		 (const char *)arg, argv[0], envp[0], prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), open_fds);
	(void)!write(1, line, strlen(line));
	(void)!write(1, buf, strlen(buf));
	_exit(5);
}

TEST(sandbox_program_hook_runs_in_the_same_sandbox)
{
	struct sbx_host *host = open_host();
	struct sbx_request req;
	struct sbx_result res;
	char tag[] = "tag";

	ASSERT(host);
	sbx_request_init(&req);
	req.code = "";
	req.program = hook;
	req.program_arg = tag;
	ASSERT_EQ(sbx_run(host, &req, &res), 0);
	ASSERT_EQ(res.status, SBX_RUNTIME_ERROR);
	ASSERT_EQ(res.exit_code, 5);
	const char *o = res.out.data;
	ASSERT(strstr(o, "arg=tag argv0=/usr/bin/python3 env0=PATH="));
	ASSERT(strstr(o, "dumpable=1 fds=0\n"));	/* as after execve() */
	ASSERT(strstr(o, "\nUid:\t1000\t1000\t1000\t1000\n"));
	ASSERT(strstr(o, "\nCapEff:\t0000000000000000\n"));
	ASSERT(strstr(o, "\nCapBnd:\t0000000000000000\n"));
	ASSERT(strstr(o, "\nNoNewPrivs:\t1\n"));
	ASSERT(strstr(o, "\nSeccomp:\t2\n"));
	sbx_result_release(&res);
}

TEST(sandbox_program_gets_default_signals_whatever_safexec_had)
{
	struct sbx_host *host = open_host();
	struct sbx_request req;
	struct sbx_result res;
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} ign = { (void *)1, 0, NULL, 0 };	/* SIG_IGN */

	ASSERT(host);
	/* The C library's own two signals ignored, as its posix_spawn()
	 * leaves them in a child: the program must not inherit that. */
	for (int sig = 32; sig < 34; sig++)
		ASSERT_EQ(syscall(SYS_rt_sigaction, sig, &ign, NULL, sizeof(ign.mask)), 0);
	sbx_request_init(&req);
	req.code = "print([l for l in open('/proc/self/status') if l.startswith('SigIgn')][0])";
	req.code_len = strlen(req.code);
	ASSERT_EQ(sbx_run(host, &req, &res), 0);
	/* What python3 itself ignores: SIGPIPE and SIGXFSZ, nothing else. */
	ASSERT_STREQ(res.out.data, "SigIgn:\t0000000001001000\n\n");
	sbx_result_release(&res);
}

static void *close_later(void *arg)
{
	usleep(200 * 1000);
	close(*(int *)arg);
	return NULL;
}

TEST(sandbox_cancel_fd_stops_the_run)
{
	struct sbx_host *host = open_host();
	struct sbx_request req;
	struct sbx_result res;
	int p[2];
	pthread_t t;

	ASSERT(host);
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	sbx_request_init(&req);
	req.code = "import time\ntime.sleep(30)\n";
	req.code_len = strlen(req.code);
	req.cancel_fd = p[0];
	ASSERT_EQ(pthread_create(&t, NULL, close_later, &p[1]), 0);
	sbx_run(host, &req, &res);
	pthread_join(t, NULL);
	close(p[0]);
	ASSERT_EQ(res.status, SBX_SIGNALED);
	ASSERT(res.stopped);
	ASSERT_EQ(res.signal, 9);
	ASSERT(res.wall_time_ms < 10000);
	sbx_result_release(&res);
}

struct live {
	char seen[256];
	size_t len;
	int calls;
};

static void on_output(void *arg, int stream, const char *data, size_t len)
{
	struct live *l = arg;
	int n = snprintf(l->seen + l->len, sizeof(l->seen) - l->len, "%d:%.*s|", stream,
			 (int)len, data);

	if (n > 0 && (size_t)n < sizeof(l->seen) - l->len)
		l->len += (size_t)n;
	l->calls++;
}

TEST(sandbox_on_output_sees_what_the_result_keeps_as_it_comes)
{
	struct sbx_host *host = open_host();
	struct sbx_request req;
	struct sbx_result res;
	struct live l = { 0 };

	ASSERT(host);
	sbx_request_init(&req);
	/* One write each: print() writes its text and its end apart, which
	 * the supervisor may read apart. */
	req.code = "import os, time\nos.write(1, b'a\\n')\ntime.sleep(0.2)\n"
		   "os.write(2, b'b\\n')\ntime.sleep(0.2)\nos.write(1, b'c' * 100 + b'\\n')\n";
	req.code_len = strlen(req.code);
	req.limits.output_bytes = 10;
	req.on_output = on_output;
	req.output_arg = &l;
	ASSERT(!warm_eligible(host, &req));	/* live output: never warm */
	ASSERT_EQ(sbx_run(host, &req, &res), 0);
	ASSERT_EQ(res.status, SBX_OUTPUT_LIMIT);
	/* In order, each as it came, and no more than the limit keeps. */
	ASSERT_STREQ(l.seen, "1:a\n|2:b\n|1:cccccccc|");
	ASSERT_EQ(l.calls, 3);
	ASSERT_STREQ(res.out.data, "a\ncccccccc");
	sbx_result_release(&res);
}

TEST(warm_wire_request_round_trip)
{
	const char *argv[] = { "a", "b c" };
	const char *binds[] = { "/etc/alternatives" };
	struct sbx_file files[] = { { "main.py", "print(1)\n", 9, false },
				    { "d/x.sh", "\0bin", 4, true } };
	struct sbx_request req, got;
	struct wire w = { 0 };
	struct wire_in in = { 0 };
	void *arrays;

	sbx_request_init(&req);
	req.limits.wall_ms = 1234;
	req.limits.open_files = 77;
	req.merge_stderr = true;
	req.stdin_data = "in\0put";
	req.stdin_len = 6;
	req.files = files;
	req.nfiles = 2;
	req.argv = argv;
	req.argc = 2;
	req.binds = binds;
	req.nbinds = 1;
	wire_put_request(&w, &req);
	ASSERT_EQ(w.err, 0);
	in.p = w.p;
	in.len = w.len;
	sbx_request_init(&got);
	ASSERT_EQ(wire_get_request(&in, &got, &arrays), 0);
	ASSERT_EQ(got.limits.wall_ms, 1234);
	ASSERT_EQ(got.limits.open_files, 77);
	ASSERT_EQ(got.limits.memory_bytes, req.limits.memory_bytes);
	ASSERT(got.merge_stderr);
	ASSERT_MEMEQ(got.stdin_data, got.stdin_len, "in\0put", 6);
	ASSERT_EQ(got.nfiles, 2);
	ASSERT_STREQ(got.files[1].name, "d/x.sh");
	ASSERT_MEMEQ(got.files[1].data, got.files[1].len, "\0bin", 4);
	ASSERT(got.files[1].executable && !got.files[0].executable);
	ASSERT_EQ(got.argc, 2);
	ASSERT_STREQ(got.argv[1], "b c");
	ASSERT_EQ(got.nbinds, 1);
	ASSERT_STREQ(got.binds[0], "/etc/alternatives");
	free(arrays);

	/* Code without files: files stays NULL, so that code is main.py. */
	req.files = NULL;
	req.nfiles = 0;
	req.code = "x=1";
	req.code_len = 3;
	wire_free(&w);
	wire_put_request(&w, &req);
	in = (struct wire_in){ .p = w.p, .len = w.len };
	sbx_request_init(&got);
	ASSERT_EQ(wire_get_request(&in, &got, &arrays), 0);
	ASSERT(got.files == NULL);
	ASSERT_MEMEQ(got.code, got.code_len, "x=1", 3);
	free(arrays);

	/* Every shorter message, and one byte more, is refused. */
	for (size_t cut = 0; cut < w.len; cut += 7) {
		in = (struct wire_in){ .p = w.p, .len = cut };
		sbx_request_init(&got);
		ASSERT_EQ(wire_get_request(&in, &got, &arrays), -EPROTO);
		free(arrays);
	}
	wire_free(&w);
}

TEST(warm_wire_result_round_trip_and_bounds)
{
	struct sbx_result res = { 0 }, got;
	struct wire w = { 0 };
	struct wire_in in;
	int r;

	res.status = SBX_TIMEOUT;
	res.signal = 9;
	res.stopped = true;
	res.wall_time_ms = 5;
	res.memory_bytes = 1 << 20;
	res.out = (struct sbx_buf){ (char *)"out", 3 };
	res.err = (struct sbx_buf){ (char *)"e\0r", 3 };
	res.output = (struct sbx_buf){ (char *)"oute\0r", 6 };
	snprintf(res.error, sizeof(res.error), "why");
	wire_put_result(&w, -7, &res);
	in = (struct wire_in){ .p = w.p, .len = w.len };
	ASSERT_EQ(wire_get_result(&in, &got, &r, 3), 0);
	ASSERT_EQ(r, -7);
	ASSERT_EQ(got.status, SBX_TIMEOUT);
	ASSERT_EQ(got.signal, 9);
	ASSERT(got.stopped && !got.has_exit_code);
	ASSERT_EQ(got.memory_bytes, 1 << 20);
	ASSERT_STREQ(got.error, "why");
	ASSERT_MEMEQ(got.err.data, got.err.len, "e\0r", 3);
	ASSERT_MEMEQ(got.output.data, got.output.len, "oute\0r", 6);
	sbx_result_release(&got);
	/* A stream longer than the request's output limit is refused. */
	in = (struct wire_in){ .p = w.p, .len = w.len };
	ASSERT_EQ(wire_get_result(&in, &got, &r, 2), -EPROTO);
	sbx_result_release(&got);
	wire_free(&w);
}

TEST(warm_eligible_requests)
{
	struct sbx_host *host = open_host();
	const char *python = NULL;
	struct sbx_request req;

	ASSERT(host);
	python = sbx_host_features(host)->python;
	const char *cmd[] = { python, "-E", "-s", "-u", "/box/main.py", NULL };
	const char *other[] = { python, "-E", "-s", "-u", "/box/prog.py", NULL };
	const char *longer[] = { python, "-E", "-s", "-u", "/box/main.py", "x", NULL };
	const char *env[] = { "A=1" };

	sbx_request_init(&req);
	ASSERT(warm_eligible(host, &req));		/* the built-in Python */
	req.cmd = cmd;
	ASSERT(warm_eligible(host, &req));		/* the python runtime's */
	req.cmd = other;
	ASSERT(!warm_eligible(host, &req));
	req.cmd = longer;
	ASSERT(!warm_eligible(host, &req));
	req.cmd = cmd;
	req.env = env;
	req.nenv = 1;
	ASSERT(!warm_eligible(host, &req));
	req.nenv = 0;
	req.collect_out = true;
	ASSERT(!warm_eligible(host, &req));
	req.collect_out = false;
	req.root = "/srv/root";
	ASSERT(!warm_eligible(host, &req));
}

TEST(warm_run_through_a_zygote)
{
	struct sbx_host *host;
	struct warm *w;
	struct warm_config cfg = { .runs_max = 2, .seconds_max = 600 };
	char self[4096], binary[4200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct warm_stats st;
	struct sbx_request req;
	struct sbx_result res;
	char why[400];

	/* The zygote is safexec beside these tests (build/, build/asan/). */
	ASSERT(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(binary, sizeof(binary), "%s/safexec", self);
	if (access(binary, X_OK) < 0)
		TEST_SKIP("no safexec beside the unit tests");
	cfg.binary = binary;
	if (sbx_host_open(&host, why, sizeof(why)) < 0)
		TEST_FAIL_("sbx_host_open: %s", why);
	if (warm_open(&w, host, &cfg, why, sizeof(why)) < 0)
		TEST_FAIL_("warm_open: %s", why);
	for (int i = 0; i < 5; i++) {
		/* A zygote ready: the standby has started once the current
		 * is used up (otherwise a run may go cold, by design). */
		for (int t = 0; t < 200; t++) {
			warm_get_stats(w, &st);
			if (st.up)
				break;
			usleep(25 * 1000);
		}
		sbx_request_init(&req);
		req.code = "import sys\nprint(sys.argv[1:], __file__)\nsys.exit(4)\n";
		req.code_len = strlen(req.code);
		const char *args[] = { "one" };
		req.argv = args;
		req.argc = 1;
		ASSERT_EQ(sbx_run(host, &req, &res), 0);
		ASSERT_EQ(res.status, SBX_RUNTIME_ERROR);
		ASSERT_EQ(res.exit_code, 4);
		ASSERT_STREQ(res.out.data, "['one'] /box/main.py\n");
		sbx_result_release(&res);
	}
	warm_get_stats(w, &st);
	/* Each ran warm, none went cold. */
	ASSERT_EQ(st.runs, 5);
	ASSERT_EQ(st.fallbacks, 0);
	/* A zygote past its two runs is replaced. */
	for (int i = 0; i < 100 && st.started < 2; i++) {
		usleep(50 * 1000);
		warm_get_stats(w, &st);
	}
	ASSERT(st.started >= 2);
	warm_close(w);
	/* Not warm any more: the host runs it itself. */
	sbx_request_init(&req);
	req.code = "print(2)";
	req.code_len = 8;
	ASSERT_EQ(sbx_run(host, &req, &res), 0);
	ASSERT_STREQ(res.out.data, "2\n");
	sbx_result_release(&res);
	sbx_host_close(host);
}
