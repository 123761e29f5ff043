/*
 * Unit tests of the sandbox engine's supervisor side, calling sbx_run()
 * directly, so that the sanitizer build checks the code that runs outside
 * the seccomp filter: the supervisor, output capture, the verdict.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "sandbox/sandbox.h"
#include "test.h"

static struct sbx_host *host;

static int run(const char *code, struct sbx_limits *l, struct sbx_result *res)
{
	char why[256];
	struct sbx_request req;

	if (!host && sbx_host_open(&host, why, sizeof(why)) < 0) {
		fprintf(stderr, "  sbx_host_open: %s\n", why);
		return -1;
	}
	sbx_request_init(&req);
	if (l)
		req.limits = *l;
	req.code = code;
	req.code_len = strlen(code);
	return sbx_run(host, &req, res);
}

TEST(sandbox_limits_defaults_and_check)
{
	struct sbx_limits l;
	const char *why = NULL;

	sbx_limits_default(&l);
	ASSERT_EQ(l.wall_ms, 10000);
	ASSERT_EQ(l.cpu_ms, 10000);
	ASSERT_EQ(l.memory_bytes, 128 << 20);
	ASSERT_EQ(l.processes, 64);
	ASSERT_EQ(l.output_bytes, 1 << 20);
	ASSERT_EQ(sbx_limits_check(&l, &why), 0);

	l.memory_bytes = 1 << 20;	/* too small for any interpreter */
	ASSERT_EQ(sbx_limits_check(&l, &why), -EINVAL);
	ASSERT_STREQ(why, "memory_bytes");
	sbx_limits_default(&l);
	l.wall_ms = 0;
	ASSERT_EQ(sbx_limits_check(&l, &why), -EINVAL);
	ASSERT_STREQ(why, "wall_ms");
	sbx_limits_default(&l);
	l.processes = SBX_MAX_PROCESSES + 1;
	ASSERT_EQ(sbx_limits_check(&l, &why), -EINVAL);
	ASSERT_STREQ(why, "processes");
}

TEST(sandbox_status_names)
{
	ASSERT_STREQ(sbx_status_name(SBX_OK), "ok");
	ASSERT_STREQ(sbx_status_name(SBX_RUNTIME_ERROR), "runtime_error");
	ASSERT_STREQ(sbx_status_name(SBX_SIGNALED), "signaled");
	ASSERT_STREQ(sbx_status_name(SBX_TIMEOUT), "timeout");
	ASSERT_STREQ(sbx_status_name(SBX_MEMORY_LIMIT), "memory_limit");
	ASSERT_STREQ(sbx_status_name(SBX_OUTPUT_LIMIT), "output_limit");
	ASSERT_STREQ(sbx_status_name(SBX_INTERNAL_ERROR), "internal_error");
}

TEST(sandbox_run_hello_world)
{
	struct sbx_result res;
	ASSERT_EQ(run("print('Hello World')", NULL, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT(res.has_exit_code);
	ASSERT_EQ(res.exit_code, 0);
	ASSERT_MEMEQ(res.out.data, res.out.len, "Hello World\n", 12);
	ASSERT_EQ(res.err.len, 0);
	ASSERT_MEMEQ(res.output.data, res.output.len, "Hello World\n", 12);
	ASSERT(res.wall_time_ms < 10000);
	sbx_result_release(&res);
}

TEST(sandbox_run_interleaves_output_in_write_order)
{
	struct sbx_result res;
	ASSERT_EQ(run("import sys, time\n"
		      "for i in range(3):\n"
		      "    print('o', i); time.sleep(0.01)\n"
		      "    print('e', i, file=sys.stderr); time.sleep(0.01)\n"
		      "sys.exit(3)\n", NULL, &res), 0);
	ASSERT_EQ(res.status, SBX_RUNTIME_ERROR);
	ASSERT_EQ(res.exit_code, 3);
	ASSERT_STREQ(res.output.data, "o 0\ne 0\no 1\ne 1\no 2\ne 2\n");
	ASSERT_STREQ(res.out.data, "o 0\no 1\no 2\n");
	ASSERT_STREQ(res.err.data, "e 0\ne 1\ne 2\n");
	sbx_result_release(&res);
}

TEST(sandbox_run_output_limit_truncates_exactly)
{
	struct sbx_limits l;
	struct sbx_result res;

	sbx_limits_default(&l);
	l.output_bytes = 1000;
	ASSERT_EQ(run("import sys\nwhile True: sys.stdout.write('x' * 4096)\n", &l, &res), 0);
	ASSERT_EQ(res.status, SBX_OUTPUT_LIMIT);
	ASSERT(res.stdout_truncated);
	ASSERT(!res.stderr_truncated);
	ASSERT_EQ(res.out.len, 1000);
	ASSERT_EQ(res.output.len, 1000);
	ASSERT(!res.has_exit_code);
	sbx_result_release(&res);
}

TEST(sandbox_run_wall_timeout)
{
	struct sbx_limits l;
	struct sbx_result res;

	sbx_limits_default(&l);
	l.wall_ms = 300;
	ASSERT_EQ(run("import time\ntime.sleep(30)\n", &l, &res), 0);
	ASSERT_EQ(res.status, SBX_TIMEOUT);
	ASSERT_EQ(res.signal, 9);
	ASSERT(res.wall_time_ms >= 300 && res.wall_time_ms < 5000);
	sbx_result_release(&res);
}

TEST(sandbox_run_cpu_timeout_counts_the_tree)
{
	struct sbx_limits l;
	struct sbx_result res;

	sbx_limits_default(&l);
	l.cpu_ms = 600;
	l.wall_ms = 20000;
	/* Two processes spinning: the tree reaches 600 ms of CPU long before
	 * either process alone would. */
	ASSERT_EQ(run("import os\nos.fork()\nwhile True: pass\n", &l, &res), 0);
	ASSERT_EQ(res.status, SBX_TIMEOUT);
	ASSERT(res.cpu_time_ms >= 600);
	ASSERT(res.wall_time_ms < 5000);
	sbx_result_release(&res);
}

TEST(sandbox_run_memory_limit)
{
	struct sbx_limits l;
	struct sbx_result res;

	sbx_limits_default(&l);
	l.memory_bytes = 64 << 20;
	ASSERT_EQ(run("x = 'a' * (200 << 20)\nprint('survived')\n", &l, &res), 0);
	/* With a memory cgroup the OOM killer ends it; with rlimits only the
	 * allocation fails.  Either way it never prints. */
	ASSERT(res.status == SBX_MEMORY_LIMIT || res.status == SBX_RUNTIME_ERROR);
	ASSERT(strstr(res.out.data, "survived") == NULL);
	sbx_result_release(&res);
}

TEST(sandbox_run_stdin_and_args)
{
	char why[256];
	struct sbx_request req;
	struct sbx_result res;
	const char *argv[] = { "one", "two words" };

	if (!host)
		ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	sbx_request_init(&req);
	req.code = "import sys\nprint(sys.argv[1:], sys.stdin.read())";
	req.code_len = strlen(req.code);
	req.stdin_data = "in\0put";
	req.stdin_len = 6;
	req.argv = argv;
	req.argc = 2;
	ASSERT_EQ(sbx_run(host, &req, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.out.data, "['one', 'two words'] in\x00put\n");
	sbx_result_release(&res);
}

TEST(sandbox_run_rejects_out_of_bounds_request)
{
	struct sbx_limits l;
	struct sbx_result res;

	sbx_limits_default(&l);
	l.processes = 0;
	ASSERT(run("print(1)", &l, &res) < 0);
	ASSERT_EQ(res.status, SBX_INTERNAL_ERROR);
	ASSERT(res.error[0] != '\0');
	ASSERT(res.out.data != NULL && res.out.len == 0);
	sbx_result_release(&res);
}

/* The HTTP service calls sbx_run() from several threads while others
 * allocate: the child of a multi-threaded process must not take any lock
 * another thread may hold (malloc's, the C library's setxid broadcast), or
 * it hangs.  Runs under the harness's timeout. */
#include <pthread.h>

static atomic_int stop_churn;

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_churn)) {
		void *p = malloc(4096);
		free(p);
	}
	return NULL;
}

struct worker { int ok; };

static void *worker(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 5; i++) {
		struct sbx_request req;
		struct sbx_result res;
		sbx_request_init(&req);
		req.code = "import os\nprint(os.getuid())\n";
		req.code_len = strlen(req.code);
		if (sbx_run(host, &req, &res) == 0 && res.status == SBX_OK &&
		    strcmp(res.out.data, "1000\n") == 0)
			w->ok++;
		sbx_result_release(&res);
	}
	return NULL;
}

TEST(sandbox_run_from_many_threads)
{
	char why[256];
	pthread_t churners[2], workers[4];
	struct worker w[4] = { 0 };

	if (!host)
		ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&churners[i], NULL, churn, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&workers[i], NULL, worker, &w[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(workers[i], NULL);
	atomic_store(&stop_churn, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(churners[i], NULL);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(w[i].ok, 5);
	ASSERT_EQ(sbx_host_running(host), 0);
}

/* The cgroup v2 code on a hybrid host: its v2 tree has no memory or pids
 * controller, but CLONE_INTO_CGROUP, cpu.stat and cgroup.kill work there.
 * Skipped (and said so) where there is no such tree or no root. */
#include <dirent.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#define UNIFIED "/sys/fs/cgroup/unified"

TEST(sandbox_run_cgroup_v2_on_hybrid_host)
{
	struct statfs sfs;
	char why[256];
	struct sbx_limits l;
	struct sbx_result res;

	if (geteuid() != 0 || statfs(UNIFIED, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		printf("  (skipped: no hybrid v2 tree here)\n");
		return;
	}
	setenv("SAFEXEC_CGROUP_MOUNT", UNIFIED, 1);
	ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	const struct sbx_features *f = sbx_host_features(host);
	ASSERT_EQ(f->cgroup, SBX_CGROUP_V2);
	ASSERT(f->cgroup_into);
	ASSERT(f->cg_cpu);

	sbx_limits_default(&l);
	l.cpu_ms = 500;
	ASSERT_EQ(run("import os\nos.fork()\nwhile True: pass\n", &l, &res), 0);
	ASSERT_EQ(res.status, SBX_TIMEOUT);
	ASSERT(res.cpu_time_ms >= 500);
	sbx_result_release(&res);

	ASSERT_EQ(run("import os\nprint(open('/proc/self/cgroup').read())\n", NULL, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	/* Its own cgroup is the root of its cgroup namespace. */
	ASSERT(strstr(res.out.data, "0::/\n") != NULL);
	ASSERT(strstr(res.out.data, "safexec") == NULL);
	sbx_result_release(&res);

	/* Nothing left below the parent. */
	DIR *d = opendir(f->cgroup_path);
	ASSERT(d != NULL);
	struct dirent *e;
	int left = 0;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "safexec-run-", 12) == 0)
			left++;
	closedir(d);
	ASSERT_EQ(left, 0);
}

/* The binary carries the filters libseccomp made at build time: they must
 * be what the policy in seccomp.c makes now. */
#include <linux/filter.h>
#include "sandbox/internal.h"

TEST(sandbox_carried_seccomp_filters_match_the_policy)
{
	for (int no_memcg = 0; no_memcg <= 1; no_memcg++) {
		struct sock_fprog built;
		char err[256];

		ASSERT_EQ(sbx_seccomp_build(&built, no_memcg, err, sizeof(err)), 0);
		ASSERT_EQ(built.len, sbx_seccomp_filters[no_memcg].len);
		ASSERT(memcmp(built.filter, sbx_seccomp_filters[no_memcg].filter,
			      built.len * sizeof(struct sock_filter)) == 0);
		free(built.filter);
	}
	/* Without a memory cgroup the filter refuses more. */
	ASSERT(sbx_seccomp_filters[1].len > sbx_seccomp_filters[0].len);
}
