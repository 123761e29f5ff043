/* run.c - `safexec run`: one program in one sandbox, from the shell. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "codec/codec.h"
#include "pysite/pysite.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "util/util.h"
#include "warm/warm.h"

#define EXIT_USAGE 2
#define EXIT_INTERNAL 125

static void usage(FILE *f)
{
	fputs("usage: safexec run [options] FILE|-  [-- ARGS...]\n"
	      "       safexec run [options] -c CODE [-- ARGS...]\n"
	      "       safexec run [options] --language NAME FILE... [-- ARGS...]\n"
	      "Runs a program in a fresh sandbox: Python 3 (FILE.py, -c), or any\n"
	      "language of the runtime files (--language, or FILE's extension), compiled\n"
	      "first in a sandbox of its own where the language compiles.\n\n"
	      "  -c CODE            the program's source text\n"
	      "  --language NAME    the language (a runtime's name or alias); with it,\n"
	      "                     every FILE before -- is a file of the program, the\n"
	      "                     first the entry point\n"
	      "  --runtimes DIRS    where the runtime files are (colon-separated)\n"
	      "  --compile-wall-time MS, --compile-cpu-time MS, --compile-memory SIZE,\n"
	      "  --compile-processes N, --compile-output SIZE\n"
	      "                     the compile stage's limits (default 10000, 10000,\n"
	      "                     512M, 64, 1M, or the language's)\n"
	      "  --json             print the full result as JSON\n"
	      "  --wall-time MS     wall-clock limit (default 10000)\n"
	      "  --cpu-time MS      CPU time of the whole process tree (default 10000)\n"
	      "  --memory SIZE      memory of the whole tree, K/M/G suffixes (default 128M)\n"
	      "  --processes N      processes and threads (default 64)\n"
	      "  --output SIZE      output per stream (default 1M)\n"
	      "  --file-size SIZE   largest file the program may write (default 16M)\n"
	      "  --open-files N     open files per process (default 256)\n"
	      "  --stdin FILE       the program's standard input (default: empty)\n"
	      "  --collect-out      give the program an empty /box/out ($SAFEXEC_OUT)\n"
	      "                     and, with --json, return the files it leaves there\n"
	      "  --out-max-files N, --out-max-bytes SIZE\n"
	      "                     bounds on what comes back (default 64, 16M; at most\n"
	      "                     1024, 64M)\n"
	      "  --out DIR          write the files the program leaves in /box/out into\n"
	      "                     DIR (made if missing; implies --collect-out); an\n"
	      "                     existing file is never overwritten, unless --force\n"
	      "  --force            with --out: replace existing files\n"
	      "  --warm             run Python as the server's warm starts do, through\n"
	      "                     a zygote started for this one run (slower alone: for\n"
	      "                     testing them); fails unless the run went warm\n\n"
	      "Exit status: the program's, 128+N when signal N ended it (a limit ends it\n"
	      "with SIGKILL; without a CPU cgroup the CPU limit with SIGXCPU, 24),\n"
	      "125 when safexec itself failed (the sandbox, reading FILE or --stdin, or\n"
	      "writing a file into --out's DIR),\n"
	      "2 on a usage error (a bad option, or a program, input or arguments too\n"
	      "large for the sandbox).  Only --json tells these from the program's own.\n", f);
}

/* FILE, or standard input for "-", at most max bytes. */
static int read_path(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = util_read_fd(fd, max, out, outlen);
	close(fd);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

enum { OPT_JSON = 256, OPT_WALL, OPT_CPU, OPT_MEMORY, OPT_PROCS, OPT_OUTPUT,
       OPT_FSIZE, OPT_NOFILE, OPT_STDIN, OPT_LANGUAGE, OPT_RUNTIMES,
       OPT_C_WALL, OPT_C_CPU, OPT_C_MEMORY, OPT_C_PROCS, OPT_C_OUTPUT,
       OPT_COLLECT_OUT, OPT_OUT_FILES, OPT_OUT_BYTES, OPT_OUT_DIR, OPT_FORCE, OPT_WARM };

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "wall-time", required_argument, NULL, OPT_WALL },
	{ "cpu-time", required_argument, NULL, OPT_CPU },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "processes", required_argument, NULL, OPT_PROCS },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "file-size", required_argument, NULL, OPT_FSIZE },
	{ "open-files", required_argument, NULL, OPT_NOFILE },
	{ "stdin", required_argument, NULL, OPT_STDIN },
	{ "language", required_argument, NULL, OPT_LANGUAGE },
	{ "runtimes", required_argument, NULL, OPT_RUNTIMES },
	{ "compile-wall-time", required_argument, NULL, OPT_C_WALL },
	{ "compile-cpu-time", required_argument, NULL, OPT_C_CPU },
	{ "compile-memory", required_argument, NULL, OPT_C_MEMORY },
	{ "compile-processes", required_argument, NULL, OPT_C_PROCS },
	{ "compile-output", required_argument, NULL, OPT_C_OUTPUT },
	{ "collect-out", no_argument, NULL, OPT_COLLECT_OUT },
	{ "out-max-files", required_argument, NULL, OPT_OUT_FILES },
	{ "out-max-bytes", required_argument, NULL, OPT_OUT_BYTES },
	{ "out", required_argument, NULL, OPT_OUT_DIR },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "warm", no_argument, NULL, OPT_WARM },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The limit each option sets, in the sandbox's terms. */
static const struct {
	int opt;
	enum sbx_limit_id id;
} limit_opts[] = {
	{ OPT_WALL, SBX_LIMIT_WALL_MS },    { OPT_CPU, SBX_LIMIT_CPU_MS },
	{ OPT_MEMORY, SBX_LIMIT_MEMORY },   { OPT_OUTPUT, SBX_LIMIT_OUTPUT },
	{ OPT_FSIZE, SBX_LIMIT_FILE_SIZE }, { OPT_PROCS, SBX_LIMIT_PROCESSES },
	{ OPT_NOFILE, SBX_LIMIT_OPEN_FILES },
	{ OPT_C_WALL, SBX_LIMIT_WALL_MS },  { OPT_C_CPU, SBX_LIMIT_CPU_MS },
	{ OPT_C_MEMORY, SBX_LIMIT_MEMORY }, { OPT_C_OUTPUT, SBX_LIMIT_OUTPUT },
	{ OPT_C_PROCS, SBX_LIMIT_PROCESSES },
};

/* Limits given on the command line, for the run or the compile stage:
 * applied over whatever defaults the language has. */
struct given {
	struct sbx_limits run, compile;	/* a field 0: not given */
};

static bool is_compile_opt(int opt)
{
	return opt >= OPT_C_WALL && opt <= OPT_C_OUTPUT;
}

static const char *opt_name(int opt)
{
	for (const struct option *o = options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "";
}

/* A limit's value as its option takes it: "4M" for a size, else a number. */
static const char *limit_text(const struct sbx_limit_info *li, uint64_t v, char *buf, size_t len)
{
	if (li->is_size)
		return util_format_size(v, buf, len);
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* Records one limit option; returns 0 or -1 after printing why. */
static int set_limit(struct given *g, int opt, const char *arg)
{
	struct sbx_limits *l = is_compile_opt(opt) ? &g->compile : &g->run;

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(limit_opts); i++) {
		if (limit_opts[i].opt != opt)
			continue;
		const struct sbx_limit_info *li = sbx_limit_info(limit_opts[i].id);
		char lo[32], hi[32];
		uint64_t v;
		int r = li->is_size ? util_parse_size(arg, UINT64_MAX, &v)
				    : util_parse_u64(arg, UINT64_MAX, &v);

		if (r == 0 && sbx_limit_ok(limit_opts[i].id, v)) {
			sbx_limit_set(l, limit_opts[i].id, v);
			return 0;
		}
		fprintf(stderr, "safexec run: --%s %s: %s from %s to %s\n", opt_name(opt), arg,
			r == 0 || r == -ERANGE ? "out of range: it must be" : "not a valid value: give a number",
			limit_text(li, li->min, lo, sizeof(lo)), limit_text(li, li->max, hi, sizeof(hi)));
		return -1;
	}
	return -1;
}

/* One line on stderr when a limit, not the program, ended the run. */
static void explain(const struct sbx_result *res, const struct sbx_limits *l)
{
	char size[32];

	switch (res->status) {
	case SBX_TIMEOUT:
		fprintf(stderr, "safexec: time limit exceeded (wall %llu ms, CPU %llu ms)\n",
			(unsigned long long)l->wall_ms, (unsigned long long)l->cpu_ms);
		break;
	case SBX_MEMORY_LIMIT:
		fprintf(stderr, "safexec: memory limit exceeded (%s)\n",
			util_format_size(l->memory_bytes, size, sizeof(size)));
		break;
	case SBX_OUTPUT_LIMIT:
		fprintf(stderr, "safexec: output limit exceeded (%s per stream)\n",
			util_format_size(l->output_bytes, size, sizeof(size)));
		break;
	case SBX_INTERNAL_ERROR:
		fprintf(stderr, "safexec: sandbox failed: %s\n", res->error);
		break;
	default:
		break;
	}
}

/* --collect-out: out_files [{name, size, content_base64}], out_dropped
 * [{name, reason}] and out_dropped_total. */
static int add_out(json_t *obj, const struct sbx_result *res)
{
	json_t *files = json_array(), *dropped = json_array();
	int bad = !files || !dropped;

	for (size_t i = 0; !bad && i < res->nout_files; i++) {
		const struct sbx_file *f = &res->out_files[i];
		char *enc = codec_base64(f->data, f->len);
		bad = !enc || json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name",
			f->name, "size", (json_int_t)f->len, "content_base64", enc)) < 0;
		free(enc);
	}
	for (size_t i = 0; !bad && i < res->nout_dropped; i++)
		bad = json_array_append_new(dropped, json_pack("{s:s, s:s}", "name",
			res->out_dropped[i].name, "reason",
			sbx_out_drop_reason_text(res->out_dropped[i].reason))) < 0;
	bad = bad || json_object_set_new(obj, "out_files", files) < 0;
	files = NULL;
	bad = bad || json_object_set_new(obj, "out_dropped", dropped) < 0;
	dropped = NULL;
	bad = bad || json_object_set_new(obj, "out_dropped_total",
					 json_integer((json_int_t)res->out_dropped_total)) < 0;
	json_decref(files);
	json_decref(dropped);
	return bad ? -ENOMEM : 0;
}

static int print_json(const struct sbx_result *res, bool out)
{
	json_t *obj = codec_result_json(res);
	int r = -ENOMEM;

	if (obj && out && add_out(obj, res) < 0) {
		json_decref(obj);
		obj = NULL;
	}
	if (obj && res->status == SBX_INTERNAL_ERROR)
		json_object_set_new(obj, "error", json_string(res->error));
	if (obj && json_dumpf(obj, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF &&
	    fflush(stdout) == 0)
		r = 0;
	json_decref(obj);
	return r;
}

static int exit_status(const struct sbx_result *res)
{
	if (res->status == SBX_INTERNAL_ERROR)
		return EXIT_INTERNAL;
	if (res->signal)
		return 128 + res->signal;
	return res->exit_code;
}

/* What the command line asked for. */
struct opts {
	const char *inline_code, *stdin_path, *language, *runtimes;
	bool json;
	bool collect_out;
	uint32_t out_max_files;
	uint64_t out_max_bytes;
	const char *out_dir;	/* --out DIR */
	int out_fd;		/* DIR, opened before the run; -1: none */
	bool force;
	bool warm;		/* --warm */
	struct given given;
	char **paths;		/* the FILEs */
	size_t npaths;
	const char *const *args;
	size_t nargs;
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* --out DIR: made if missing (its last component), then opened, before the
 * run, so that a DIR that cannot be used fails before anything runs.
 * Returns the descriptor or -1 (said on stderr). */
static int open_out_dir(const char *dir)
{
	int fd;

	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "safexec run: --out %s: %s\n", dir, strerror(errno));
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "safexec run: --out %s: %s\n", dir, strerror(errno));
	return fd;
}

/* One returned file into the --out directory, never through a symlink or
 * onto an existing file: O_CREAT | O_EXCL | O_NOFOLLOW relative to its
 * descriptor; with --force an existing entry is unlinked first (a
 * symlink itself, never what it points to; a directory is refused). */
static int write_out_file(const struct opts *o, const struct sbx_file *f)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fd, r;

	/* The sandbox checked the name; a name with '/' or ".." never gets
	 * here even so. */
	if (!sbx_out_name_ok(f->name, strlen(f->name))) {
		fprintf(stderr, "safexec run: --out: a file name refused\n");
		return -EINVAL;
	}
	fd = openat(o->out_fd, f->name, flags, 0666);
	if (fd < 0 && errno == EEXIST && o->force) {
		if (unlinkat(o->out_fd, f->name, 0) < 0) {
			fprintf(stderr, "safexec run: %s/%s: cannot replace it: %s\n", o->out_dir,
				f->name, strerror(errno));
			return -errno;
		}
		fd = openat(o->out_fd, f->name, flags, 0666);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			fprintf(stderr, "safexec run: %s/%s exists; not overwritten (--force "
				"replaces it)\n", o->out_dir, f->name);
		else
			fprintf(stderr, "safexec run: %s/%s: %s\n", o->out_dir, f->name,
				strerror(-r));
		return r;
	}
	r = write_all(fd, f->data, f->len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "safexec run: %s/%s: %s\n", o->out_dir, f->name, strerror(-r));
	return r;
}

/* Writes res's returned files into --out's directory and, without --json,
 * names on stderr the entries that were not returned.  Returns 0, or -1
 * when a file could not be written (the others still are). */
static int write_out_files(const struct opts *o, const struct sbx_result *res)
{
	int bad = 0;

	if (o->out_fd < 0)
		return 0;
	for (size_t i = 0; i < res->nout_files; i++)
		bad |= write_out_file(o, &res->out_files[i]) < 0;
	for (size_t i = 0; !o->json && i < res->nout_dropped; i++)
		fprintf(stderr, "safexec run: out/%s: not returned: %s\n", res->out_dropped[i].name,
			sbx_out_drop_reason_text(res->out_dropped[i].reason));
	if (!o->json && res->out_dropped_total > res->nout_dropped)
		fprintf(stderr, "safexec run: %llu more entries of out/ not returned\n",
			(unsigned long long)(res->out_dropped_total - res->nout_dropped));
	return bad ? -1 : 0;
}

/* The result of a language's run: its fields, with the compile stage's
 * when there was one.  Returns the exit status. */
static int report_language(const struct opts *o, const struct rt_result *res,
			   const struct rt_job *job)
{
	const struct sbx_result *last = rt_compile_failed(res) ? &res->compile : &res->run;

	if (o->json) {
		json_t *obj = codec_result_json(&res->run);
		int bad = !obj;
		if (obj && o->collect_out)
			bad |= add_out(obj, &res->run) < 0;
		if (obj && res->compiled)
			bad |= codec_compile_add(obj, &res->compile, &job->compile_limits) < 0;
		if (obj && last->status == SBX_INTERNAL_ERROR)
			json_object_set_new(obj, "error", json_string(last->error));
		if (bad || json_dumpf(obj, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
		    fflush(stdout) != 0)
			fprintf(stderr, "safexec run: cannot write the result\n");
		json_decref(obj);
	} else {
		/* The compiler's messages go to stderr, warnings too. */
		if (res->compiled)
			write_all(2, res->compile.output.data, res->compile.output.len);
		if (rt_compile_failed(res)) {
			fprintf(stderr, "safexec: compilation failed\n");
			explain(&res->compile, &job->compile_limits);
		} else {
			write_all(1, res->run.out.data, res->run.out.len);
			write_all(2, res->run.err.data, res->run.err.len);
			explain(&res->run, &job->run_limits);
		}
	}
	return exit_status(last);
}

/* A program in a language of the runtime files. */
/* The sandbox, with Python's site: a plot works as under the server, only
 * slower, since no font list is built for one run (each Python run builds
 * its own).  A host whose Python has no site of ours runs without one. */
static int open_host(const struct opts *o, struct sbx_host **host, struct warm **warm,
		     char *why, size_t whylen)
{
	char note[256];
	int r;

	*warm = NULL;
	if ((r = sbx_host_open(host, why, whylen)) < 0)
		return r;
	if ((r = pysite_install(*host, 0, note, sizeof(note))) < 0 && r != -ENOENT)
		snprintf(why, whylen, "%s", note);
	else if (o->warm) {
		struct warm_config wc = { .runs_max = 1, .seconds_max = 3600 };
		if ((r = warm_open(warm, *host, &wc, note, sizeof(note))) < 0)
			snprintf(why, whylen, "--warm: %s", note);
	} else
		r = 0;
	if (r < 0) {
		sbx_host_close(*host);
		*host = NULL;
		return r;
	}
	return 0;
}

/* Ends what open_host() opened; with --warm, rc unless the run went warm. */
static int close_host(struct sbx_host *host, struct warm *warm, int rc)
{
	struct warm_stats st;

	if (warm) {
		warm_get_stats(warm, &st);
		if (st.runs != 1) {
			fprintf(stderr, "safexec run: --warm: the run did not run warm (only the "
				"built-in Python's command does, without --collect-out)\n");
			rc = EXIT_INTERNAL;
		}
	}
	warm_close(warm);
	sbx_host_close(host);
	return rc;
}

static int run_language(const struct opts *o, const char *input, size_t input_len)
{
	struct rt_registry *reg = NULL;
	struct sbx_host *host = NULL;
	struct warm *warm = NULL;
	struct runtime *rt;
	struct sbx_file *files = NULL;
	char **data = NULL;
	size_t *lens = NULL;
	struct rt_job job = { 0 };
	struct rt_result res;
	struct sbx_limits def, max;
	char why[512], dirs[4096];
	size_t n = o->inline_code ? 1 : o->npaths, total = 0;
	int r, rc = EXIT_USAGE;

	r = rt_registry_load(&reg, o->runtimes ? o->runtimes : rt_default_dirs(dirs, sizeof(dirs)),
			     why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "safexec run: runtimes: %s\n", why);
		return EXIT_INTERNAL;
	}
	files = calloc(n, sizeof(*files));
	data = calloc(n, sizeof(*data));
	lens = calloc(n, sizeof(*lens));
	if (!files || !data || !lens) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	for (size_t i = 0; !o->inline_code && i < n; i++)
		if ((r = read_path(o->paths[i], SBX_MAX_CODE, &data[i], &lens[i])) < 0) {
			fprintf(stderr, "safexec run: %s: %s\n", o->paths[i],
				r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
			rc = r == -EFBIG ? EXIT_USAGE : EXIT_INTERNAL;
			goto out;
		}
	rt = o->language ? rt_lookup(reg, o->language, strlen(o->language))
			 : rt_for_file(reg, o->paths[0]);
	if (!rt) {
		if (o->language)
			fprintf(stderr, "safexec run: --language %s: no such language\n", o->language);
		else
			fprintf(stderr, "safexec run: %s: no language for its extension "
				"(give --language)\n", o->paths[0]);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = lens[i];
		if (o->inline_code) {
			files[i] = (struct sbx_file){ rt->source_file, o->inline_code,
						      strlen(o->inline_code), false };
			break;
		}
		const char *path = o->paths[i];
		/* "-" is the program from standard input, named as the
		 * language names its source. */
		const char *name = strcmp(path, "-") == 0 ? rt->source_file : base_name(path);
		if (!sbx_file_name_ok(name)) {
			fprintf(stderr, "safexec run: %s: not a file name\n", path);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(files[j].name, name) == 0) {
				fprintf(stderr, "safexec run: %s: a second file named %s\n", path, name);
				goto out;
			}
		files[i] = (struct sbx_file){ name, data[i], len, false };
		total += len;
	}
	if (total > SBX_MAX_CODE) {
		fprintf(stderr, "safexec run: the files take more than 16 MiB\n");
		goto out;
	}

	if (!rt_check(rt)) {
		fprintf(stderr, "safexec run: %s is not available here: %s\n", rt->name, rt->why);
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (open_host(o, &host, &warm, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec: %s\n", why);
		rc = EXIT_INTERNAL;
		goto out;
	}
	struct sbx_limits engine_def, engine_max;
	sbx_limits_default(&engine_def);
	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		sbx_limit_set(&engine_max, (enum sbx_limit_id)i,
			      sbx_limit_info((enum sbx_limit_id)i)->max);
	rt_run_limits(rt, &engine_def, &engine_max, &job.run_limits, &max);
	rt_compile_limits(rt, &job.compile_limits, &def);
	sbx_limits_apply(&job.run_limits, &o->given.run);
	sbx_limits_apply(&job.compile_limits, &o->given.compile);
	job.files = files;
	job.nfiles = n;
	job.stdin_data = input;
	job.stdin_len = input_len;
	job.argv = o->args;
	job.argc = o->nargs;
	job.collect_out = o->collect_out;
	job.out_max_files = o->out_max_files;
	job.out_max_bytes = o->out_max_bytes;

	/* A closed reader of our output must not kill us mid-run. */
	signal(SIGPIPE, SIG_IGN);
	r = rt_execute(rt, host, &job, &res);
	rc = r == -E2BIG ? EXIT_USAGE : report_language(o, &res, &job);
	if (r != -E2BIG && write_out_files(o, &res.run) < 0)
		rc = EXIT_INTERNAL;
	rt_result_release(&res);
out:
	rc = close_host(host, warm, rc);
	for (size_t i = 0; data && i < n; i++)
		free(data[i]);
	free(data);
	free(lens);
	free(files);
	rt_registry_free(reg);
	return rc;
}

/* Python on /box/main.py: the original, built-in language. */
static int run_python(const struct opts *o, const char *input, size_t input_len)
{
	struct sbx_request req;
	struct sbx_result res;
	struct sbx_host *host = NULL;
	struct warm *warm = NULL;
	char *code = NULL;
	size_t code_len = 0;
	char why[512];
	int r, rc = EXIT_USAGE;

	sbx_request_init(&req);
	sbx_limits_apply(&req.limits, &o->given.run);
	if (!o->inline_code) {
		const char *path = o->paths[0];
		if ((r = read_path(path, SBX_MAX_CODE, &code, &code_len)) < 0) {
			fprintf(stderr, "safexec run: %s: %s\n", path,
				r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
			return r == -EFBIG ? EXIT_USAGE : EXIT_INTERNAL;
		}
		req.code = code;
		req.code_len = code_len;
	} else {
		req.code = o->inline_code;
		req.code_len = strlen(o->inline_code);
	}
	req.argv = o->args;
	req.argc = o->nargs;
	req.stdin_data = input;
	req.stdin_len = input_len;
	req.collect_out = o->collect_out;
	req.out_max_files = o->out_max_files;
	req.out_max_bytes = o->out_max_bytes;
	if ((r = sbx_request_check(&req, why, sizeof(why))) < 0) {
		fprintf(stderr, "safexec run: %s\n", why);
		goto out;
	}
	if (open_host(o, &host, &warm, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec: %s\n", why);
		rc = EXIT_INTERNAL;
		goto out;
	}
	/* A closed reader of our output must not kill us mid-run. */
	signal(SIGPIPE, SIG_IGN);
	r = sbx_run(host, &req, &res);
	if (o->json) {
		if (print_json(&res, o->collect_out) < 0)
			fprintf(stderr, "safexec run: cannot write the result\n");
	} else {
		write_all(1, res.out.data, res.out.len);
		write_all(2, res.err.data, res.err.len);
		explain(&res, &req.limits);
	}
	/* The kernel refused the arguments, or the code did not fit: the
	 * caller's error, not the sandbox's. */
	rc = r == -E2BIG ? EXIT_USAGE : exit_status(&res);
	if (r != -E2BIG && write_out_files(o, &res) < 0)
		rc = EXIT_INTERNAL;
	sbx_result_release(&res);
out:
	rc = close_host(host, warm, rc);
	free(code);
	return rc;
}

/* Whether the built-in Python runs this: no language asked for, and -c,
 * standard input or a .py file (what safexec run always took). */
static bool builtin_python(const struct opts *o)
{
	const char *p = o->npaths ? o->paths[0] : "-";
	size_t n = strlen(p);

	return !o->language && (o->inline_code || strcmp(p, "-") == 0 ||
				(n > 3 && strcmp(p + n - 3, ".py") == 0));
}

int cli_run(int argc, char **argv)
{
	struct opts o = { .out_fd = -1 };
	char *input = NULL;
	size_t input_len = 0;
	int opt, r, rc;

	opterr = 0;	/* our own message, with our own name */
	while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': o.inline_code = optarg; break;
		case 'h': usage(stdout); return 0;
		case OPT_JSON: o.json = true; break;
		case OPT_STDIN: o.stdin_path = optarg; break;
		case OPT_LANGUAGE: o.language = optarg; break;
		case OPT_RUNTIMES: o.runtimes = optarg; break;
		case OPT_COLLECT_OUT: o.collect_out = true; break;
		case OPT_OUT_DIR: o.out_dir = optarg; o.collect_out = true; break;
		case OPT_FORCE: o.force = true; break;
		case OPT_WARM: o.warm = true; break;
		case OPT_OUT_FILES:
		case OPT_OUT_BYTES: {
			uint64_t v;
			bool files = opt == OPT_OUT_FILES;
			uint64_t max = files ? SBX_MAX_OUT_FILES : SBX_MAX_OUT_BYTES;
			r = files ? util_parse_u64(optarg, UINT64_MAX, &v)
				  : util_parse_size(optarg, UINT64_MAX, &v);
			if (r < 0 || v < 1 || v > max) {
				fprintf(stderr, "safexec run: --%s %s: it must be from 1 to %llu\n",
					opt_name(opt), optarg, (unsigned long long)max);
				return EXIT_USAGE;
			}
			if (files)
				o.out_max_files = (uint32_t)v;
			else
				o.out_max_bytes = v;
			break;
		}
		case '?':
			fprintf(stderr, "safexec run: %s: unknown option, or its value is missing\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			if (set_limit(&o.given, opt, optarg) < 0)
				return EXIT_USAGE;
		}
	}
	if (!o.inline_code) {
		if (optind >= argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		/* One FILE, then the arguments; with a language from the
		 * runtime files, every FILE up to "--". */
		o.paths = argv + optind++;
		o.npaths = 1;
		if (!builtin_python(&o))
			while (optind < argc && strcmp(argv[optind], "--") != 0) {
				optind++;
				o.npaths++;
			}
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	o.args = (const char *const *)argv + optind;
	o.nargs = (size_t)(argc - optind);
	if (o.nargs > SBX_MAX_ARGS) {
		fprintf(stderr, "safexec run: more than %u arguments\n", SBX_MAX_ARGS);
		return EXIT_USAGE;
	}
	if (o.stdin_path) {
		if ((r = read_path(o.stdin_path, SBX_MAX_STDIN, &input, &input_len)) < 0) {
			fprintf(stderr, "safexec run: --stdin %s: %s\n", o.stdin_path,
				r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
			return r == -EFBIG ? EXIT_USAGE : EXIT_INTERNAL;
		}
	}
	if (o.force && !o.out_dir) {
		fprintf(stderr, "safexec run: --force goes with --out DIR\n");
		free(input);
		return EXIT_USAGE;
	}
	if (o.out_dir && (o.out_fd = open_out_dir(o.out_dir)) < 0) {
		free(input);
		return EXIT_USAGE;
	}
	rc = builtin_python(&o) ? run_python(&o, input, input_len)
				: run_language(&o, input, input_len);
	if (o.out_fd >= 0)
		close(o.out_fd);
	free(input);
	return rc;
}
