/*
 * Unit tests of the runtime files: parsing, lookups, limits, and runs in a
 * root directory the test builds itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "test.h"
#include "util/util.h"

static int parse(struct runtime *rt, const char *text, char *why, size_t len)
{
	return rt_parse(rt, text, strlen(text), "t.conf", why, len);
}

TEST(runtime_parse_every_key)
{
	static const char text[] =
		"# a comment\n"
		"name = c\n"
		"display_name = C (GCC)\n"
		"aliases = gcc, cc\n"
		"extensions = c, h\n"
		"source_file = main.c\n"
		"compile = /bin/sh -c \"exec gcc -o main *.c \\\"-DX=1\\\"\"\n"
		"run = /box/main\n"
		"version = /usr/bin/gcc -dumpfullversion\n"
		"env = A=1\n"
		"env = B=two words\n"
		"path = /etc/alternatives\n"
		"hello = int main(void)\\n{\\n\\treturn 0;\\n}\\n\n"
		"memory_bytes = 256M\n"
		"max_memory_bytes = 1G\n"
		"processes = 100\n"
		"compile_max_processes = 200\n"
		"compile_max_wall_time_ms = 30000\n";
	struct runtime rt;
	char why[256];

	ASSERT_EQ(parse(&rt, text, why, sizeof(why)), 0);
	ASSERT_STREQ(rt.name, "c");
	ASSERT_STREQ(rt.display_name, "C (GCC)");
	ASSERT_EQ(rt.naliases, 2);
	ASSERT_STREQ(rt.aliases[1], "cc");
	ASSERT_EQ(rt.nextensions, 2);
	ASSERT_STREQ(rt.extensions[1], "h");
	ASSERT_STREQ(rt.compile[0], "/bin/sh");
	ASSERT_STREQ(rt.compile[1], "-c");
	ASSERT_STREQ(rt.compile[2], "exec gcc -o main *.c \"-DX=1\"");
	ASSERT(rt.compile[3] == NULL);
	ASSERT_STREQ(rt.run[0], "/box/main");
	ASSERT_EQ(rt.nenv, 2);
	ASSERT_STREQ(rt.env[1], "B=two words");
	ASSERT_EQ(rt.npaths, 1);
	ASSERT_STREQ(rt.hello, "int main(void)\n{\n\treturn 0;\n}\n");
	ASSERT_EQ(rt.run_limits.def.memory_bytes, 256u << 20);
	ASSERT_EQ(rt.run_limits.max.memory_bytes, 1u << 30);
	ASSERT_EQ(rt.run_limits.def.processes, 100);
	ASSERT_EQ(rt.compile_limits.max.processes, 200);
	ASSERT_EQ(rt.compile_limits.max.wall_ms, 30000);
	ASSERT(rt_compiles(&rt));
	rt_runtime_release(&rt);
}

TEST(runtime_parse_refuses_bad_files)
{
	static const char *const bad[][2] = {
		{ "name = C\nsource_file = a\nrun = /x\nversion = /x\n", "name" },
		{ "name = c\nrun = /x\nversion = /x\n", "required" },
		{ "name = c\nsource_file = ../a\nrun = /x\nversion = /x\n", "source_file" },
		{ "name = c\nsource_file = a\nrun = x\nversion = /x\n", "absolute" },
		{ "name = c\nsource_file = a\nrun = /x \"y\nversion = /x\n", "quote" },
		{ "name = c\nsource_file = a\nrun = /x\nversion = /x\npath = /a/../b\n", "path" },
		{ "name = c\nsource_file = a\nrun = /x\nversion = /x\nroot = rel\n", "root" },
		{ "name = c\nsource_file = a\nrun = /x\nversion = /x\nmemory_bytes = 1K\n", "memory" },
		{ "name = c\nsource_file = a\nrun = /x\nversion = /x\nenv = =x\n", "env" },
		{ "name = c\nsource_file = a\nrun = /x\nversion = /x\ncolour = red\n", "unknown key" },
	};
	struct runtime rt;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ASSERT_EQ(parse(&rt, bad[i][0], why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i][1]))
			fprintf(stderr, "  case %zu: %s\n", i, why);
		ASSERT(strstr(why, bad[i][1]) != NULL);
	}
}

TEST(runtime_limits_under_the_server)
{
	static const char text[] = "name = j\nsource_file = M.j\nrun = /x\nversion = /x\n"
				   "memory_bytes = 256M\nmax_memory_bytes = 1G\n"
				   "compile_memory_bytes = 1G\n";
	struct runtime rt;
	struct sbx_limits base, server_max, def, max;
	char why[256];

	ASSERT_EQ(parse(&rt, text, why, sizeof(why)), 0);
	sbx_limits_default(&base);
	server_max = base;
	server_max.memory_bytes = 512u << 20;
	rt_run_limits(&rt, &base, &server_max, &def, &max);
	ASSERT_EQ(def.memory_bytes, 256u << 20);	/* the runtime's */
	ASSERT_EQ(max.memory_bytes, 512u << 20);	/* the server's is lower */
	ASSERT_EQ(def.wall_ms, base.wall_ms);		/* not set: the server's */
	server_max.memory_bytes = 128u << 20;
	rt_run_limits(&rt, &base, &server_max, &def, &max);
	ASSERT_EQ(def.memory_bytes, 128u << 20);	/* never above the maximum */
	rt_compile_limits(&rt, &def, &max);
	ASSERT_EQ(def.memory_bytes, 1u << 30);
	ASSERT_EQ(max.memory_bytes, 2u << 30);
	ASSERT_EQ(def.wall_ms, RT_COMPILE_DEFAULT_MS);
	ASSERT_EQ(def.processes, RT_COMPILE_DEFAULT_PROCS);
	rt_runtime_release(&rt);
}

/* A root directory of its own: a shell and its C library, nothing else. */
static int copy(const char *from, const char *to)
{
	char *data = NULL, dir[256];
	size_t len;
	int fd, r = util_read_file(from, 16u << 20, &data, &len);

	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s", to);
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	r = fd < 0 || write(fd, data, len) != (ssize_t)len ? -1 : 0;
	if (fd >= 0)
		close(fd);
	free(data);
	return r;
}

static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct env {
	char dir[64], root[128], rts[128];
};

static int make_root(struct env *e)
{
	char p[256];
	const char *const tops[][2] = { { "usr/bin", "bin" }, { "usr/lib", "lib" },
					{ "usr/lib64", "lib64" } };

	snprintf(e->dir, sizeof(e->dir), "/tmp/safexec-rt-XXXXXX");
	/* The sandbox's user reads the root as anyone would /usr. */
	if (!mkdtemp(e->dir) || chmod(e->dir, 0755) < 0)
		return -1;
	snprintf(e->root, sizeof(e->root), "%s/root", e->dir);
	snprintf(e->rts, sizeof(e->rts), "%s/runtimes", e->dir);
	snprintf(p, sizeof(p), "%s/usr/bin/sh", e->root);
	if (copy("/usr/bin/dash", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/usr/lib/x86_64-linux-gnu/libc.so.6", e->root);
	if (copy("/usr/lib/x86_64-linux-gnu/libc.so.6", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/usr/lib64/ld-linux-x86-64.so.2", e->root);
	if (copy("/usr/lib64/ld-linux-x86-64.so.2", p) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", e->root, tops[i][1]);
		if (symlink(tops[i][0], p) < 0)
			return -1;
	}
	return mkdir(e->rts, 0755);
}

static void remove_env(struct env *e)
{
	nftw(e->dir, unlink_one, 16, FTW_DEPTH | FTW_PHYS);
}

TEST(runtime_runs_in_its_own_root)
{
	struct env e;
	struct rt_registry *reg = NULL;
	struct sbx_host *host = NULL;
	struct rt_result res;
	struct rt_job job = { 0 };
	char why[256], conf[512], path[256];
	const char *args[] = { "arg1" };

	if (access("/usr/bin/dash", X_OK) < 0 ||
	    access("/usr/lib64/ld-linux-x86-64.so.2", R_OK) < 0)
		TEST_SKIP("no /usr/bin/dash or x86-64 loader to build a root from");
	ASSERT_EQ(make_root(&e), 0);
	snprintf(conf, sizeof(conf),
		 "name = tinysh\nextensions = tsh\nsource_file = main.sh\nroot = %s\n"
		 "run = /usr/bin/sh {file}\nversion = /usr/bin/sh -c \"echo tiny 1.2.3\"\n"
		 "env = GREETING=hello from the root\n", e.root);
	snprintf(path, sizeof(path), "%s/tinysh.conf", e.rts);
	FILE *f = fopen(path, "w");
	ASSERT(f != NULL);
	fputs(conf, f);
	fclose(f);

	ASSERT_EQ(rt_registry_load(&reg, e.rts, why, sizeof(why)), 0);
	ASSERT_EQ(reg->n, 1);
	ASSERT(rt_find(reg, "tinysh", 6) == NULL);	/* not probed: not offered */
	ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	rt_registry_probe(reg, host);
	if (!reg->rt[0].available)
		fprintf(stderr, "  tinysh: %s\n", reg->rt[0].why);
	const struct runtime *rt = rt_find(reg, "tinysh", 6);
	ASSERT(rt != NULL);
	ASSERT_STREQ(rt->version_text, "1.2.3");
	ASSERT(rt_version_matches(rt, "1.2", 3));
	ASSERT(!rt_version_matches(rt, "1.23", 4));
	ASSERT(rt_for_file(reg, "x/prog.tsh") == rt);

	/* Only the root's files: the host's /usr/bin has python3. */
	static const char prog[] = "read x; echo \"$GREETING $1 $x\"; "
				   "for f in /usr/bin/*; do echo \"${f##*/}\"; done; "
				   "test -e /usr/bin/python3 && echo HOST\n";
	struct sbx_file file = { "main.sh", prog, sizeof(prog) - 1, false };
	job.files = &file;
	job.nfiles = 1;
	job.stdin_data = "in";
	job.stdin_len = 2;
	job.argv = args;
	job.argc = 1;
	sbx_limits_default(&job.run_limits);
	ASSERT_EQ(rt_execute(rt, host, &job, &res), 0);
	ASSERT(!res.compiled);
	ASSERT_EQ(res.run.status, SBX_RUNTIME_ERROR);	/* the test's exit status */
	ASSERT_STREQ(res.run.out.data, "hello from the root arg1 in\nsh\n");
	rt_result_release(&res);

	/* A root without the command: not offered, and why. */
	snprintf(conf, sizeof(conf), "name = gone\nsource_file = a\nroot = %s\n"
		 "run = /usr/bin/python3 {file}\nversion = /usr/bin/python3 -V\n", e.root);
	f = fopen(path, "w");
	ASSERT(f != NULL);
	fputs(conf, f);
	fclose(f);
	rt_registry_free(reg);
	ASSERT_EQ(rt_registry_load(&reg, e.rts, why, sizeof(why)), 0);
	rt_registry_probe(reg, host);
	ASSERT(rt_find(reg, "gone", 4) == NULL);
	ASSERT(strstr(reg->rt[0].why, "python3") != NULL);

	rt_registry_free(reg);
	sbx_host_close(host);
	remove_env(&e);
}

TEST(runtime_compile_stage_output_directory_stays_behind)
{
	struct runtime rt;
	struct sbx_host *host = NULL;
	struct rt_result res;
	struct rt_job job = { 0 };
	char why[256];
	static const char conf[] =
		"name = twostage\nsource_file = main.sh\n"
		"compile = /bin/sh -c \"mkdir out out/sub && echo c > out/c.txt && "
		"echo d > out/sub/d.txt && echo o > outside.txt && echo ${SAFEXEC_OUT-none}\"\n"
		"run = /bin/sh -c \"ls -A /box/out; echo r > $SAFEXEC_OUT/r.txt; cat outside.txt\"\n"
		"version = /bin/sh -c \"echo 1\"\n";

	ASSERT_EQ(parse(&rt, conf, why, sizeof(why)), 0);
	ASSERT_EQ(sbx_host_open(&host, why, sizeof(why)), 0);
	sbx_limits_default(&job.run_limits);
	sbx_limits_default(&job.compile_limits);
	job.collect_out = true;
	ASSERT_EQ(rt_execute(&rt, host, &job, &res), 0);
	/* The compile stage has no output directory of its own; what it left
	 * in /box/out is not the run's, which starts empty. */
	ASSERT_STREQ(res.compile.out.data, "none\n");
	ASSERT_EQ(res.run.status, SBX_OK);
	ASSERT_STREQ(res.run.out.data, "o\n");
	ASSERT_EQ(res.run.nout_files, 1);
	ASSERT_STREQ(res.run.out_files[0].name, "r.txt");
	rt_result_release(&res);

	/* Without the run's output directory the compile's files all carry. */
	job.collect_out = false;
	rt_runtime_release(&rt);
	static const char conf2[] =
		"name = carry\nsource_file = main.sh\n"
		"compile = /bin/sh -c \"mkdir out && echo c > out/c.txt\"\n"
		"run = /bin/cat out/c.txt\nversion = /bin/sh -c \"echo 1\"\n";
	ASSERT_EQ(parse(&rt, conf2, why, sizeof(why)), 0);
	ASSERT_EQ(rt_execute(&rt, host, &job, &res), 0);
	ASSERT_EQ(res.run.status, SBX_OK);
	ASSERT_STREQ(res.run.out.data, "c\n");
	rt_result_release(&res);
	rt_runtime_release(&rt);
	sbx_host_close(host);
}
