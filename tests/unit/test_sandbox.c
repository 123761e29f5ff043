/*
 * Unit tests of the sandbox engine's supervisor side, calling sbx_run()
 * directly, so that the sanitizer build checks the code that runs outside
 * the seccomp filter: the supervisor, output capture, the verdict.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
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
	enum sbx_limit_id bad = SBX_LIMIT_COUNT;

	sbx_limits_default(&l);
	ASSERT_EQ(l.wall_ms, 10000);
	ASSERT_EQ(l.cpu_ms, 10000);
	ASSERT_EQ(l.memory_bytes, 128 << 20);
	ASSERT_EQ(l.processes, 64);
	ASSERT_EQ(l.output_bytes, 1 << 20);
	ASSERT_EQ(sbx_limits_check(&l, &bad), 0);

	l.memory_bytes = 1 << 20;	/* too small for any interpreter */
	ASSERT_EQ(sbx_limits_check(&l, &bad), -EINVAL);
	ASSERT_EQ(bad, SBX_LIMIT_MEMORY);
	sbx_limits_default(&l);
	l.wall_ms = 0;
	ASSERT_EQ(sbx_limits_check(&l, &bad), -EINVAL);
	ASSERT_EQ(bad, SBX_LIMIT_WALL_MS);
	sbx_limits_default(&l);
	l.processes = 1;
	ASSERT_EQ(sbx_limits_check(&l, &bad), -EINVAL);
	ASSERT_EQ(bad, SBX_LIMIT_PROCESSES);
}

/* Each limit's bounds are exact: the minimum and the maximum pass, one
 * below and one above do not, and the defaults lie within. */
TEST(sandbox_limit_bounds_are_exact)
{
	struct sbx_limits def;

	sbx_limits_default(&def);
	for (int i = 0; i < SBX_LIMIT_COUNT; i++) {
		enum sbx_limit_id id = (enum sbx_limit_id)i, bad;
		const struct sbx_limit_info *li = sbx_limit_info(id);
		struct sbx_limits l = def;

		ASSERT(li->min >= 1 && li->min <= li->max);
		ASSERT(sbx_limit_ok(id, sbx_limit_get(&def, id)));
		sbx_limit_set(&l, id, li->min);
		ASSERT_EQ(sbx_limits_check(&l, &bad), 0);
		sbx_limit_set(&l, id, li->max);
		ASSERT_EQ(sbx_limits_check(&l, &bad), 0);
		ASSERT_EQ(sbx_limit_get(&l, id), li->max);
		sbx_limit_set(&l, id, li->min - 1);
		ASSERT_EQ(sbx_limits_check(&l, &bad), -EINVAL);
		ASSERT_EQ(bad, id);
		sbx_limit_set(&l, id, li->max + 1);
		ASSERT_EQ(sbx_limits_check(&l, &bad), -EINVAL);
		ASSERT_EQ(bad, id);
	}
	ASSERT_EQ(sbx_limit_info(SBX_LIMIT_MEMORY)->min, 4 << 20);
	ASSERT_EQ(sbx_limit_info(SBX_LIMIT_PROCESSES)->min, 2);
}

TEST(sandbox_request_check_sizes)
{
	static char big_arg[SBX_MAX_ARG_LEN + 2];
	const char *argv[SBX_MAX_ARGS + 1];
	struct sbx_request req;
	char why[256];

	sbx_request_init(&req);
	req.code = "";
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), 0);
	req.code_len = SBX_MAX_CODE + 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -E2BIG);
	ASSERT(strstr(why, "code") != NULL);
	req.code_len = 0;
	req.stdin_data = "";
	req.stdin_len = SBX_MAX_STDIN + 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -E2BIG);
	ASSERT(strstr(why, "stdin") != NULL);
	req.stdin_len = 0;

	memset(big_arg, 'a', SBX_MAX_ARG_LEN);
	argv[0] = big_arg;
	req.argv = argv;
	req.argc = 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), 0);
	big_arg[SBX_MAX_ARG_LEN] = 'a';
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -E2BIG);
	ASSERT(strstr(why, "argument 0") != NULL);
	big_arg[SBX_MAX_ARG_LEN] = '\0';

	/* Each argument allowed, but not all of them together. */
	for (size_t i = 0; i < 9; i++)
		argv[i] = big_arg;
	req.argc = 9;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -E2BIG);
	ASSERT(strstr(why, "in all") != NULL);
	for (size_t i = 0; i <= SBX_MAX_ARGS; i++)
		argv[i] = "x";
	req.argc = SBX_MAX_ARGS;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), 0);
	req.argc = SBX_MAX_ARGS + 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -E2BIG);

	req.argc = 0;
	req.limits.processes = 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "processes is 1; it must be from 2 to") != NULL);
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

/* Identity of what fds 0..2 refer to. */
static void std_fds(struct stat st[3])
{
	for (int fd = 0; fd < 3; fd++)
		if (fstat(fd, &st[fd]) < 0)
			memset(&st[fd], 0, sizeof(st[fd]));
}

/* A request the engine refuses is refused before anything is made, and
 * releasing the run touches no descriptor it does not own (it once closed
 * fd 0 six times, and with it whatever held fd 0 then). */
TEST(sandbox_run_rejects_out_of_bounds_request)
{
	struct sbx_limits l;
	struct sbx_result res;
	struct stat before[3], after[3];

	std_fds(before);
	for (int i = 0; i < 4; i++) {
		sbx_limits_default(&l);
		if (i % 2)
			l.processes = 1;
		else
			l.memory_bytes = 1;
		ASSERT_EQ(run("print(1)", &l, &res), -EINVAL);
		ASSERT_EQ(res.status, SBX_INTERNAL_ERROR);
		ASSERT(strstr(res.error, i % 2 ? "processes" : "memory_bytes") != NULL);
		ASSERT(res.out.data != NULL && res.out.len == 0);
		sbx_result_release(&res);
	}
	std_fds(after);
	for (int fd = 0; fd < 3; fd++) {
		ASSERT(after[fd].st_ino != 0);
		ASSERT_EQ(after[fd].st_ino, before[fd].st_ino);
		ASSERT_EQ(after[fd].st_dev, before[fd].st_dev);
	}
	/* And the engine still runs. */
	ASSERT_EQ(run("print(1)", NULL, &res), 0);
	ASSERT_STREQ(res.out.data, "1\n");
	sbx_result_release(&res);
}

/* Code that does not fit in /box is the request's fault, not the
 * engine's.  With a memory cgroup its pages count against the memory
 * limit, which strikes first (memory_limit); without one, /box is a share
 * of the limit and sbx_run() says -E2BIG. */
TEST(sandbox_run_code_larger_than_box)
{
	struct sbx_limits l;
	struct sbx_result res;
	size_t n = 5u << 20;
	char *code = malloc(n + 1);

	ASSERT(code != NULL);
	memset(code, '#', n);
	code[n] = '\0';
	sbx_limits_default(&l);
	l.memory_bytes = 4u << 20;	/* /box is at most this big */
	int r = run(code, &l, &res);
	if (sbx_host_features(host)->cg_memory) {
		ASSERT_EQ(r, 0);
		ASSERT_EQ(res.status, SBX_MEMORY_LIMIT);
	} else {
		ASSERT_EQ(r, -E2BIG);
		ASSERT_EQ(res.status, SBX_INTERNAL_ERROR);
		ASSERT(strstr(res.error, "write /box") != NULL);
	}
	sbx_result_release(&res);
	free(code);
}

/* Output the supervisor cannot hold (allocation failure) ends the run as
 * the engine's failure, with a message: never as a timeout or a silent
 * truncation.  The supervisor runs in a child with its address space
 * capped a little above what it uses. */
#include <sys/resource.h>
#include <sys/wait.h>

#if !defined(__SANITIZE_ADDRESS__)
static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
#endif

TEST(sandbox_run_output_allocation_failure_is_internal_error)
{
#if defined(__SANITIZE_ADDRESS__)
	TEST_SKIP("AddressSanitizer reserves the address space an RLIMIT_AS cap would need");
#else
	char why[256];
	int pipefd[2];

	if (!host)
		ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	ASSERT_EQ(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct sbx_limits l;
		struct sbx_result res;
		struct rlimit rl;
		char msg[300];

		sbx_limits_default(&l);
		l.output_bytes = 64u << 20;
		/* The soft limit only: the sandbox sets its own. */
		getrlimit(RLIMIT_AS, &rl);
		rl.rlim_cur = vm_size() + (24u << 20);
		setrlimit(RLIMIT_AS, &rl);
		run("import os\nb = b'x' * (1 << 20)\nfor i in range(60): os.write(1, b)\n", &l, &res);
		snprintf(msg, sizeof(msg), "%s|%s", sbx_status_name(res.status), res.error);
		(void)!write(pipefd[1], msg, strlen(msg));
		_exit(0);
	}
	close(pipefd[1]);
	char got[300] = "";
	ssize_t n = read(pipefd[0], got, sizeof(got) - 1);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	ASSERT(n > 0);
	got[n] = '\0';
	ASSERT_STREQ(got, "internal_error|out of memory holding the program's output");
#endif
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

/* Instance directories below a cgroup parent, ignoring "keep" (a name to
 * leave out, or NULL). */
static int count_instances_but(const char *parent, const char *keep)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "inst-", 5) == 0 && (!keep || strcmp(e->d_name, keep) != 0))
			n++;
	closedir(d);
	return n;
}

static int count_instances(const char *parent)
{
	return count_instances_but(parent, NULL);
}

/* The name of an instance below parent that is not in the list before,
 * a NUL-separated block; "" when none. */
static void new_instance(const char *parent, const char *before, char *out, size_t len)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	out[0] = '\0';
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "inst-", 5) != 0)
			continue;
		bool seen = false;
		for (const char *p = before; *p; p += strlen(p) + 1)
			if (strcmp(p, e->d_name) == 0)
				seen = true;
		if (!seen)
			snprintf(out, len, "%s", e->d_name);
	}
	closedir(d);
}

/* The instance names below parent, NUL-separated, ending in "". */
static void list_instances(const char *parent, char *out, size_t len)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	size_t used = 0;

	out[0] = out[1] = '\0';
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "inst-", 5) == 0 && used + strlen(e->d_name) + 2 < len) {
			memcpy(out + used, e->d_name, strlen(e->d_name) + 1);
			used += strlen(e->d_name) + 1;
			out[used] = '\0';
		}
	closedir(d);
}

/*
 * Each safexec has an instance directory of its own below the shared
 * parent, locked while it lives.  Opening a host removes the instances
 * whose owner is dead (a SIGKILLed one, a made-up leftover with a run
 * cgroup inside), and none whose owner lives, in any pid namespace: the
 * owner here is a child in a pid namespace of its own.
 */
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>

TEST(sandbox_cgroup_instances_sweep_only_abandoned)
{
	char why[256], parent[4096], before[8192], live[300], path[4400];
	int ready[2];
	struct sbx_host *a, *c;

	if (geteuid() != 0)
		TEST_SKIP("needs root for a cgroup parent of its own");
	ASSERT_EQ(sbx_host_open(&a, why, sizeof(why)), 0);
	if (sbx_host_features(a)->cgroup == SBX_CGROUP_NONE)
		TEST_SKIP("no cgroup in use on this host");
	snprintf(parent, sizeof(parent), "%s", sbx_host_features(a)->cgroup_path);

	/* A live owner in another pid namespace, as its pid 1.  The keeper
	 * between them passes on the owner's word that it is ready ("1":
	 * it is pid 1 there), then the owner's pid here. */
	ASSERT_EQ(pipe(ready), 0);
	list_instances(parent, before, sizeof(before));
	pid_t keeper = fork();
	if (keeper == 0) {
		struct sbx_host *b;
		int inner_ready[2];
		char word = 0;
		pid_t inner;

		if (pipe(inner_ready) < 0 || unshare(CLONE_NEWPID) < 0)
			_exit(1);
		inner = fork();
		if (inner > 0) {
			close(inner_ready[1]);
			if (read(inner_ready[0], &word, 1) != 1 || write(ready[1], &word, 1) != 1 ||
			    write(ready[1], &inner, sizeof(inner)) != sizeof(inner))
				kill(inner, SIGKILL);
			waitpid(inner, NULL, 0);
			_exit(0);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (inner < 0 || sbx_host_open(&b, why, sizeof(why)) < 0)
			_exit(1);
		(void)!write(inner_ready[1], getpid() == 1 ? "1" : "0", 1);
		pause();
		_exit(0);
	}
	pid_t owner = 0;
	char pid1 = 0;
	ASSERT_EQ(read(ready[0], &pid1, 1), 1);
	ASSERT_EQ(read(ready[0], &owner, sizeof(owner)), (ssize_t)sizeof(owner));
	ASSERT_EQ(pid1, '1');
	new_instance(parent, before, live, sizeof(live));
	ASSERT(live[0] != '\0');

	/* A leftover of a dead one, with a run cgroup in it. */
	snprintf(path, sizeof(path), "%s/inst-00000000deadbeef", parent);
	ASSERT_EQ(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/inst-00000000deadbeef/run-7", parent);
	ASSERT_EQ(mkdir(path, 0755), 0);

	ASSERT_EQ(sbx_host_open(&c, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/inst-00000000deadbeef", parent);
	ASSERT(access(path, F_OK) < 0);		/* swept */
	snprintf(path, sizeof(path), "%s/%s", parent, live);
	ASSERT_EQ(access(path, F_OK), 0);	/* kept: its owner lives */
	sbx_host_close(c);

	/* Killed, the owner leaves its instance behind: the next sweeps it. */
	kill(owner, SIGKILL);
	waitpid(keeper, NULL, 0);
	for (int i = 0; i < 100 && access(path, F_OK) == 0; i++) {
		ASSERT_EQ(sbx_host_open(&c, why, sizeof(why)), 0);
		sbx_host_close(c);
		if (access(path, F_OK) == 0)
			usleep(20000);	/* the lock goes with the last process */
	}
	ASSERT(access(path, F_OK) < 0);
	sbx_host_close(a);
}

TEST(sandbox_run_cgroup_v2_on_hybrid_host)
{
	struct statfs sfs;
	char why[256];
	struct sbx_limits l;
	struct sbx_result res;

	if (geteuid() != 0)
		TEST_SKIP("needs root to make cgroups in the v2 tree");
	if (statfs(UNIFIED, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		TEST_SKIP("no hybrid v2 tree (" UNIFIED ") on this host");
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

	/* Nothing left below the parent once the host is closed. */
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", f->cgroup_path);
	sbx_host_close(host);
	host = NULL;
	ASSERT_EQ(count_instances(parent), 0);
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

/* A compile stage and a run stage: the files the first leaves in /box are
 * the second's, executable bit and all, and nothing else crosses over. */
TEST(sandbox_files_carry_from_one_run_to_the_next)
{
	static const char src[] = "#include <stdio.h>\nint main(int c, char **v)"
				  "{ printf(\"hi %s\\n\", v[1]); return 0; }\n";
	const char *cc[] = { "/usr/bin/gcc", "-o", "main", "main.c", NULL };
	const char *run_cmd[] = { "/box/main", NULL };
	const char *args[] = { "there" };
	struct sbx_file in[] = { { "main.c", src, sizeof(src) - 1, false },
				 { "sub/dir/note.txt", "x", 1, false } };
	struct sbx_request req;
	struct sbx_result c, r;
	char why[256];

	if (access("/usr/bin/gcc", X_OK) < 0)
		TEST_SKIP("no /usr/bin/gcc");
	if (!host)
		ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	sbx_request_init(&req);
	req.cmd = cc;
	req.files = in;
	req.nfiles = 2;
	req.collect_files = true;
	req.limits.memory_bytes = 512u << 20;
	ASSERT_EQ(sbx_run(host, &req, &c), 0);
	ASSERT_EQ(c.status, SBX_OK);
	ASSERT(!c.files_truncated);
	ASSERT_EQ(c.nfiles, 3);
	bool exe = false, note = false;
	for (size_t i = 0; i < c.nfiles; i++) {
		if (strcmp(c.files[i].name, "main") == 0)
			exe = c.files[i].executable && c.files[i].len > 1000;
		if (strcmp(c.files[i].name, "sub/dir/note.txt") == 0)
			note = c.files[i].len == 1 && c.files[i].data[0] == 'x';
	}
	ASSERT(exe);
	ASSERT(note);

	sbx_request_init(&req);
	req.cmd = run_cmd;
	req.files = c.files;
	req.nfiles = c.nfiles;
	req.argv = args;
	req.argc = 1;
	ASSERT_EQ(sbx_run(host, &req, &r), 0);
	ASSERT_EQ(r.status, SBX_OK);
	ASSERT_STREQ(r.out.data, "hi there\n");
	ASSERT_EQ(r.nfiles, 0);
	sbx_result_release(&r);
	sbx_result_release(&c);
}

TEST(sandbox_file_names)
{
	static const char *const good[] = { "main.c", "pkg/A.class", "a-b", "x.-y", "a/b-c/d" };
	static const char *const bad[] = { "", "/etc/passwd", "../x", "a/../b", "./a", "a//b",
					   "a/", "-specs=s.c", "dir/-v.c", ".", ".." };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT(sbx_file_name_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sbx_file_name_ok(bad[i]))
			fprintf(stderr, "  accepted: '%s'\n", bad[i]);
		ASSERT(!sbx_file_name_ok(bad[i]));
	}
}

/* A run with the output directory; bounds of 0 take the defaults. */
static int run_out(const char *code, uint32_t max_files, uint64_t max_bytes,
		   struct sbx_result *res)
{
	char why[256];
	struct sbx_request req;

	if (!host && sbx_host_open(&host, why, sizeof(why)) < 0) {
		fprintf(stderr, "  sbx_host_open: %s\n", why);
		return -1;
	}
	sbx_request_init(&req);
	req.code = code;
	req.code_len = strlen(code);
	req.collect_out = true;
	req.out_max_files = max_files;
	req.out_max_bytes = max_bytes;
	return sbx_run(host, &req, res);
}

static const struct sbx_file *out_file(const struct sbx_result *res, const char *name)
{
	for (size_t i = 0; i < res->nout_files; i++)
		if (strcmp(res->out_files[i].name, name) == 0)
			return &res->out_files[i];
	return NULL;
}

/* How many of the listed drops have this reason. */
static size_t drops(const struct sbx_result *res, enum sbx_out_drop_reason reason)
{
	size_t n = 0;

	for (size_t i = 0; i < res->nout_dropped; i++)
		n += res->out_dropped[i].reason == reason;
	return n;
}

TEST(sandbox_out_file_comes_back)
{
	struct sbx_result res;
	const struct sbx_file *f;

	ASSERT_EQ(run_out("import os\n"
			  "d = os.environ['SAFEXEC_OUT']\n"
			  "st = os.stat(d)\n"
			  "print(d, oct(st.st_mode & 0o777), st.st_uid, os.listdir(d))\n"
			  "open(os.path.join(d, 'plot.png'), 'wb').write(b'\\x89PNG\\0data')\n"
			  "open('/box/elsewhere.txt', 'w').write('not returned')\n",
			  0, 0, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.out.data, "/box/out 0o700 1000 []\n");
	ASSERT_EQ(res.nout_files, 1);
	ASSERT((f = out_file(&res, "plot.png")) != NULL);
	ASSERT_MEMEQ(f->data, f->len, "\x89PNG\0data", 9);
	ASSERT_EQ(res.nout_dropped, 0);
	ASSERT_EQ(res.out_dropped_total, 0);
	ASSERT_EQ(res.nfiles, 0);
	sbx_result_release(&res);

	/* Without collect_out: no directory, no variable. */
	ASSERT_EQ(run("import os\nprint(os.path.exists('/box/out'), 'SAFEXEC_OUT' in os.environ)\n",
		      NULL, &res), 0);
	ASSERT_STREQ(res.out.data, "False False\n");
	ASSERT_EQ(res.nout_files, 0);
	sbx_result_release(&res);
}

TEST(sandbox_out_bounds_on_count_and_bytes)
{
	struct sbx_result res;
	uint64_t bytes = 0;

	/* 40 files of 100 bytes, 3 allowed: 37 over the count, 32 listed. */
	ASSERT_EQ(run_out("import os\n"
			  "for i in range(40):\n"
			  "    open('/box/out/f%02d.txt' % i, 'w').write('x' * 100)\n",
			  3, 0, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_EQ(res.nout_files, 3);
	ASSERT_EQ(res.nout_dropped, SBX_MAX_OUT_DROPPED);
	ASSERT_EQ(res.out_dropped_total, 37);
	ASSERT_EQ(drops(&res, SBX_OUT_OVER_COUNT), SBX_MAX_OUT_DROPPED);
	ASSERT_STREQ(sbx_out_drop_reason_text(SBX_OUT_OVER_COUNT), "over the count bound");
	sbx_result_release(&res);

	/* 1000 bytes allowed: the 600-byte file fits, the second one does
	 * not, the 300-byte one fits in what is left. */
	ASSERT_EQ(run_out("import os\n"
			  "open('/box/out/a.bin', 'w').write('a' * 600)\n"
			  "open('/box/out/b.bin', 'w').write('b' * 600)\n"
			  "open('/box/out/c.bin', 'w').write('c' * 300)\n"
			  "open('/box/out/huge.bin', 'w').truncate(8 << 20)\n",
			  0, 1000, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	for (size_t i = 0; i < res.nout_files; i++)
		bytes += res.out_files[i].len;
	ASSERT(bytes <= 1000);
	ASSERT(out_file(&res, "c.bin") != NULL);
	ASSERT_EQ(res.nout_files, 2);
	ASSERT_EQ(drops(&res, SBX_OUT_OVER_SIZE), 2);	/* one of a, b; and huge */
	ASSERT_EQ(res.out_dropped_total, 2);
	ASSERT_STREQ(sbx_out_drop_reason_text(SBX_OUT_OVER_SIZE), "over the size bound");
	sbx_result_release(&res);
}

TEST(sandbox_out_subdirectory_and_links_dropped)
{
	struct sbx_result res;

	ASSERT_EQ(run_out("import os\n"
			  "os.makedirs('/box/out/sub/deeper')\n"
			  "open('/box/out/sub/inner.txt', 'w').write('inner')\n"
			  "os.symlink('/etc/passwd', '/box/out/passwd')\n"
			  "os.mkfifo('/box/out/fifo')\n"
			  "open('/box/out/ok.txt', 'w').write('ok')\n",
			  0, 0, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_EQ(res.nout_files, 1);
	ASSERT(out_file(&res, "ok.txt") != NULL);
	ASSERT_EQ(res.nout_dropped, 3);
	ASSERT_EQ(res.out_dropped_total, 3);
	ASSERT_EQ(drops(&res, SBX_OUT_NOT_REGULAR), 3);
	bool sub = false;
	for (size_t i = 0; i < res.nout_dropped; i++)
		sub |= strcmp(res.out_dropped[i].name, "sub") == 0;
	ASSERT(sub);
	sbx_result_release(&res);
}

TEST(sandbox_out_bad_names_dropped_and_escaped)
{
	struct sbx_result res;
	bool newline = false, utf8 = false, dot = false, longname = false;

	ASSERT_EQ(run_out("import os\n"
			  "open(b'/box/out/evil\\nname', 'w').write('x')\n"
			  "open(b'/box/out/\\xff\\xfe\\\\.txt', 'w').write('x')\n"
			  "open('/box/out/.hidden', 'w').write('x')\n"
			  "open('/box/out/' + 'n' * 65, 'w').write('x')\n"
			  "open('/box/out/' + 'n' * 64, 'w').write('kept')\n",
			  0, 0, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_EQ(res.nout_files, 1);
	ASSERT_EQ(res.out_files[0].len, 4);
	ASSERT_EQ(res.out_dropped_total, 4);
	ASSERT_EQ(drops(&res, SBX_OUT_BAD_NAME), 4);
	for (size_t i = 0; i < res.nout_dropped; i++) {
		const char *n = res.out_dropped[i].name;
		for (const char *p = n; *p; p++)
			ASSERT(*p >= 0x20 && *p < 0x7f);
		newline |= strcmp(n, "evil\\x0aname") == 0;
		utf8 |= strcmp(n, "\\xff\\xfe\\x5c.txt") == 0;
		dot |= strcmp(n, ".hidden") == 0;
		longname |= strlen(n) == SBX_OUT_DROP_NAME + 3 && strcmp(n + SBX_OUT_DROP_NAME, "...") == 0;
	}
	ASSERT(newline);
	ASSERT(utf8);
	ASSERT(dot);
	ASSERT(longname);
	sbx_result_release(&res);
}

TEST(sandbox_out_request_checks)
{
	struct sbx_request req;
	struct sbx_file f = { "out/x", "", 0, false };
	char why[256];

	sbx_request_init(&req);
	req.code = "";
	req.collect_out = true;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), 0);
	req.out_max_files = SBX_MAX_OUT_FILES + 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -EINVAL);
	req.out_max_files = SBX_MAX_OUT_FILES;
	req.out_max_bytes = SBX_MAX_OUT_BYTES + 1ull;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -EINVAL);
	req.out_max_bytes = SBX_MAX_OUT_BYTES;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), 0);
	req.files = &f;
	req.nfiles = 1;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "output directory") != NULL);
	req.files = NULL;
	req.nfiles = 0;
	req.collect_files = true;
	ASSERT_EQ(sbx_request_check(&req, why, sizeof(why)), -EINVAL);

	ASSERT(sbx_out_name_ok("plot.png", 8));
	ASSERT(sbx_out_name_ok("a+b_c-d.1", 9));
	ASSERT(!sbx_out_name_ok(".x", 2));
	ASSERT(!sbx_out_name_ok("-x", 2));
	ASSERT(!sbx_out_name_ok("..", 2));
	ASSERT(!sbx_out_name_ok("a/b", 3));
	ASSERT(!sbx_out_name_ok("a b", 3));
	ASSERT(!sbx_out_name_ok("", 0));
	ASSERT(!sbx_out_name_ok("a\0b", 3));
}

static struct sbx_host *open_host(void)
{
	char why[256];

	if (!host && sbx_host_open(&host, why, sizeof(why)) < 0)
		fprintf(stderr, "  sbx_host_open: %s\n", why);
	return host;
}

TEST(sandbox_etc_entries_are_checked)
{
	struct sbx_etc_entry ok[] = {
		{ "site/a.conf", "a", 1, false, false },
		{ "site/b", "/usr/bin", 8, true, false },
	};
	struct sbx_etc_entry e[2];

	ASSERT(open_host() != NULL);
	ASSERT_EQ(sbx_host_set_etc(host, ok, 2), 0);
	static const char *const bad_paths[] = { "passwd", "hostname", "/abs", "a/../b", "./a",
						 "a//b", "a/", "", "-x", ".." };
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		e[0] = (struct sbx_etc_entry){ bad_paths[i], "x", 1, false, false };
		if (sbx_host_set_etc(host, e, 1) != -EINVAL)
			fprintf(stderr, "  accepted: \"%s\"\n", bad_paths[i]);
		ASSERT_EQ(sbx_host_set_etc(host, e, 1), -EINVAL);
	}
	/* Twice the same path; a file where another's directory must be. */
	e[0] = (struct sbx_etc_entry){ "x/y", "1", 1, false, false };
	e[1] = (struct sbx_etc_entry){ "x/y", "2", 1, false, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 2), -EINVAL);
	e[1] = (struct sbx_etc_entry){ "x", "2", 1, false, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 2), -EINVAL);
	e[1] = (struct sbx_etc_entry){ "x/y/z", "2", 1, false, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 2), -EINVAL);
	e[1] = (struct sbx_etc_entry){ "x/yz", "2", 1, false, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 2), 0);
	/* A link's target: not empty, no NUL. */
	e[0] = (struct sbx_etc_entry){ "l", "", 0, true, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 1), -EINVAL);
	e[0] = (struct sbx_etc_entry){ "l", "/a\0b", 4, true, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 1), -EINVAL);
	/* The bounds. */
	struct sbx_etc_entry many[SBX_MAX_ETC + 1];
	char names[SBX_MAX_ETC + 1][8];
	for (size_t i = 0; i <= SBX_MAX_ETC; i++) {
		snprintf(names[i], sizeof(names[i]), "f%zu", i);
		many[i] = (struct sbx_etc_entry){ names[i], "", 0, false, false };
	}
	ASSERT_EQ(sbx_host_set_etc(host, many, SBX_MAX_ETC), 0);
	ASSERT_EQ(sbx_host_set_etc(host, many, SBX_MAX_ETC + 1), -E2BIG);
	char *big = calloc(1, SBX_MAX_ETC_BYTES + 1);
	ASSERT(big != NULL);
	e[0] = (struct sbx_etc_entry){ "big", big, SBX_MAX_ETC_BYTES, false, false };
	ASSERT_EQ(sbx_host_set_etc(host, e, 1), 0);
	e[0].len = SBX_MAX_ETC_BYTES + 1;
	ASSERT_EQ(sbx_host_set_etc(host, e, 1), -E2BIG);
	free(big);
}

TEST(sandbox_etc_entries_in_every_run_read_only)
{
	static const char conf[] = "setting = 1\n";
	char *big = malloc(3u << 20);
	struct sbx_etc_entry e[] = {
		{ "site/deep/a.conf", conf, sizeof(conf) - 1, false, false },
		{ "site/python", "/usr/bin/python3", 16, true, false },
		{ "empty", "", 0, false, false },
		{ "big", big, 3u << 20, false, false },	/* more than the root's usual 1 MiB */
	};
	struct sbx_result res;

	ASSERT(big != NULL);
	memset(big, 'b', 3u << 20);
	ASSERT(open_host() != NULL);
	ASSERT_EQ(sbx_host_set_etc(host, e, 4), 0);
	memset(big, 0, 3u << 20);	/* copied: the caller's own may go */
	free(big);
	ASSERT_EQ(run("import os\n"
		      "print(open('/etc/site/deep/a.conf').read(), end='')\n"
		      "print(os.readlink('/etc/site/python'), os.path.realpath('/etc/site/python').startswith('/usr/bin/python3.'))\n"
		      "print(os.path.getsize('/etc/empty'), oct(os.stat('/etc/site').st_mode))\n"
		      "b = open('/etc/big', 'rb').read()\n"
		      "print(len(b), b == b'b' * len(b))\n"
		      "for p in ('/etc/site/deep/a.conf', '/etc/site/new'):\n"
		      "    try:\n"
		      "        open(p, 'a')\n"
		      "        print('WRITABLE', p)\n"
		      "    except OSError as e:\n"
		      "        print(e.strerror)\n"
		      "print(sorted(os.listdir('/etc')))\n", NULL, &res), 0);
	ASSERT_EQ(res.status, SBX_OK);
	ASSERT_STREQ(res.out.data, "setting = 1\n"
		     "/usr/bin/python3 True\n"
		     "0 0o40755\n"
		     "3145728 True\n"
		     "Read-only file system\nRead-only file system\n"
		     "['big', 'empty', 'group', 'hostname', 'hosts', 'passwd', 'site']\n");
	sbx_result_release(&res);

	/* None: the sandbox's four files again. */
	ASSERT_EQ(sbx_host_set_etc(host, NULL, 0), 0);
	ASSERT_EQ(run("import os\nprint(sorted(os.listdir('/etc')))\n", NULL, &res), 0);
	ASSERT_STREQ(res.out.data, "['group', 'hostname', 'hosts', 'passwd']\n");
	sbx_result_release(&res);
}

TEST(sandbox_etc_entries_out_only_with_an_output_directory)
{
	struct sbx_etc_entry e[] = {
		{ "always.conf", "a", 1, false, false },
		{ "site/out.conf", "o", 1, false, true },
		{ "site/out-link", "/usr", 4, true, true },
	};
	struct sbx_result res;
	static const char code[] = "import os\n"
				   "print(sorted(os.listdir('/etc')), os.path.isdir('/etc/site') and "
				   "sorted(os.listdir('/etc/site')))\n";

	ASSERT(open_host() != NULL);
	ASSERT_EQ(sbx_host_set_etc(host, e, 3), 0);
	ASSERT_EQ(run(code, NULL, &res), 0);
	ASSERT_STREQ(res.out.data, "['always.conf', 'group', 'hostname', 'hosts', 'passwd'] False\n");
	sbx_result_release(&res);
	ASSERT_EQ(run_out(code, 0, 0, &res), 0);
	ASSERT_STREQ(res.out.data, "['always.conf', 'group', 'hostname', 'hosts', 'passwd', 'site'] "
		     "['out-link', 'out.conf']\n");
	sbx_result_release(&res);
}
