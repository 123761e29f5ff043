/* run.c - `safexec run`: one program in one sandbox, from the shell. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "codec/codec.h"
#include "sandbox/sandbox.h"
#include "util/util.h"

#define EXIT_USAGE 2
#define EXIT_INTERNAL 125

static void usage(FILE *f)
{
	fputs("usage: safexec run [options] FILE|-  [-- ARGS...]\n"
	      "       safexec run [options] -c CODE [-- ARGS...]\n"
	      "Runs a Python 3 program in a fresh sandbox.\n\n"
	      "  -c CODE            the program's source text\n"
	      "  --json             print the full result as JSON\n"
	      "  --wall-time MS     wall-clock limit (default 10000)\n"
	      "  --cpu-time MS      CPU time of the whole process tree (default 10000)\n"
	      "  --memory SIZE      memory of the whole tree, K/M/G suffixes (default 128M)\n"
	      "  --processes N      processes and threads (default 64)\n"
	      "  --output SIZE      output per stream (default 1M)\n"
	      "  --file-size SIZE   largest file the program may write (default 16M)\n"
	      "  --open-files N     open files per process (default 256)\n"
	      "  --stdin FILE       the program's standard input (default: empty)\n\n"
	      "Exit status: the program's, 128+N when signal N ended it (a limit ends it\n"
	      "with SIGKILL; without a CPU cgroup the CPU limit with SIGXCPU, 24),\n"
	      "125 when safexec itself failed (the sandbox, or reading FILE or --stdin),\n"
	      "2 on a usage error (a bad option, or a program, input or arguments too\n"
	      "large for the sandbox).  Only --json tells these from the program's own.\n", f);
}

/* Reads all of fd, refusing more than max bytes. */
static int read_all(int fd, uint64_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			char *n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int read_path(const char *path, uint64_t max, char **out, size_t *outlen)
{
	int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = read_all(fd, max, out, outlen);
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
       OPT_FSIZE, OPT_NOFILE, OPT_STDIN };

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
};

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

/* Applies one limit option; returns 0 or -1 after printing why. */
static int set_limit(struct sbx_limits *l, int opt, const char *arg)
{
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

static int print_json(const struct sbx_result *res)
{
	json_t *obj = codec_result_json(res);
	int r = -ENOMEM;

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

int cli_run(int argc, char **argv)
{
	struct sbx_request req;
	struct sbx_result res;
	struct sbx_host *host = NULL;
	char *code = NULL, *input = NULL;
	const char *inline_code = NULL, *stdin_path = NULL;
	size_t code_len = 0, input_len = 0;
	bool json = false;
	char why[512];
	int opt, r, rc = EXIT_USAGE;

	sbx_request_init(&req);
	opterr = 0;	/* our own message, with our own name */
	while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': inline_code = optarg; break;
		case 'h': usage(stdout); return 0;
		case OPT_JSON: json = true; break;
		case OPT_STDIN: stdin_path = optarg; break;
		case '?':
			fprintf(stderr, "safexec run: %s: unknown option, or its value is missing\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			if (set_limit(&req.limits, opt, optarg) < 0)
				return EXIT_USAGE;
		}
	}
	if (!inline_code) {
		if (optind >= argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		const char *path = argv[optind++];
		if ((r = read_path(path, SBX_MAX_CODE, &code, &code_len)) < 0) {
			fprintf(stderr, "safexec run: %s: %s\n", path,
				r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
			rc = r == -EFBIG ? EXIT_USAGE : EXIT_INTERNAL;
			goto out;
		}
		req.code = code;
		req.code_len = code_len;
	} else {
		req.code = inline_code;
		req.code_len = strlen(inline_code);
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	req.argv = (const char *const *)argv + optind;
	req.argc = (size_t)(argc - optind);
	if (stdin_path) {
		if ((r = read_path(stdin_path, SBX_MAX_STDIN, &input, &input_len)) < 0) {
			fprintf(stderr, "safexec run: --stdin %s: %s\n", stdin_path,
				r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
			rc = r == -EFBIG ? EXIT_USAGE : EXIT_INTERNAL;
			goto out;
		}
		req.stdin_data = input;
		req.stdin_len = input_len;
	}
	if ((r = sbx_request_check(&req, why, sizeof(why))) < 0) {
		fprintf(stderr, "safexec run: %s\n", why);
		goto out;
	}

	if (sbx_host_open(&host, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec: %s\n", why);
		rc = EXIT_INTERNAL;
		goto out;
	}
	/* A closed reader of our output must not kill us mid-run. */
	signal(SIGPIPE, SIG_IGN);
	r = sbx_run(host, &req, &res);
	if (json) {
		if (print_json(&res) < 0)
			fprintf(stderr, "safexec run: cannot write the result\n");
	} else {
		write_all(1, res.out.data, res.out.len);
		write_all(2, res.err.data, res.err.len);
		explain(&res, &req.limits);
	}
	/* The kernel refused the arguments, or the code did not fit: the
	 * caller's error, not the sandbox's. */
	rc = r == -E2BIG ? EXIT_USAGE : exit_status(&res);
	sbx_result_release(&res);
out:
	sbx_host_close(host);
	free(code);
	free(input);
	return rc;
}
