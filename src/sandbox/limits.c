/* limits.c - limits, statuses, and the request and result helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox.h"
#include "util/util.h"

void sbx_limits_default(struct sbx_limits *l)
{
	*l = (struct sbx_limits){
		.wall_ms = SBX_DEFAULT_WALL_MS,
		.cpu_ms = SBX_DEFAULT_CPU_MS,
		.memory_bytes = SBX_DEFAULT_MEMORY,
		.output_bytes = SBX_DEFAULT_OUTPUT,
		.file_size_bytes = SBX_DEFAULT_FILE_SIZE,
		.processes = SBX_DEFAULT_PROCESSES,
		.open_files = SBX_DEFAULT_OPEN_FILES,
	};
}

/* The most any request may ask for. */
#define MAX_WALL_MS	(10u * 60 * 1000)
#define MAX_MEMORY	(16ull << 30)
#define MAX_PROCESSES	4096u
#define MAX_OUTPUT	(64ull << 20)

/* Below 4 MiB the interpreter cannot even start; with fewer than 2
 * processes a program could not start a thread or a child. */
static const struct sbx_limit_info limit_info[SBX_LIMIT_COUNT] = {
	[SBX_LIMIT_WALL_MS] = { "wall_ms", 1, MAX_WALL_MS, false },
	[SBX_LIMIT_CPU_MS] = { "cpu_ms", 1, MAX_WALL_MS, false },
	[SBX_LIMIT_MEMORY] = { "memory_bytes", 4u << 20, MAX_MEMORY, true },
	[SBX_LIMIT_OUTPUT] = { "output_bytes", 1, MAX_OUTPUT, true },
	[SBX_LIMIT_FILE_SIZE] = { "file_size_bytes", 1, MAX_MEMORY, true },
	[SBX_LIMIT_PROCESSES] = { "processes", 2, MAX_PROCESSES, false },
	[SBX_LIMIT_OPEN_FILES] = { "open_files", 16, 65536, false },
};

const struct sbx_limit_info *sbx_limit_info(enum sbx_limit_id id)
{
	return &limit_info[id];
}

uint64_t sbx_limit_get(const struct sbx_limits *l, enum sbx_limit_id id)
{
	switch (id) {
	case SBX_LIMIT_WALL_MS: return l->wall_ms;
	case SBX_LIMIT_CPU_MS: return l->cpu_ms;
	case SBX_LIMIT_MEMORY: return l->memory_bytes;
	case SBX_LIMIT_OUTPUT: return l->output_bytes;
	case SBX_LIMIT_FILE_SIZE: return l->file_size_bytes;
	case SBX_LIMIT_PROCESSES: return l->processes;
	case SBX_LIMIT_OPEN_FILES: return l->open_files;
	case SBX_LIMIT_COUNT: break;
	}
	return 0;
}

void sbx_limit_set(struct sbx_limits *l, enum sbx_limit_id id, uint64_t v)
{
	uint32_t v32 = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;

	switch (id) {
	case SBX_LIMIT_WALL_MS: l->wall_ms = v; break;
	case SBX_LIMIT_CPU_MS: l->cpu_ms = v; break;
	case SBX_LIMIT_MEMORY: l->memory_bytes = v; break;
	case SBX_LIMIT_OUTPUT: l->output_bytes = v; break;
	case SBX_LIMIT_FILE_SIZE: l->file_size_bytes = v; break;
	case SBX_LIMIT_PROCESSES: l->processes = v32; break;
	case SBX_LIMIT_OPEN_FILES: l->open_files = v32; break;
	case SBX_LIMIT_COUNT: break;
	}
}

bool sbx_limit_ok(enum sbx_limit_id id, uint64_t v)
{
	return v >= limit_info[id].min && v <= limit_info[id].max;
}

void sbx_limits_apply(struct sbx_limits *l, const struct sbx_limits *set)
{
	for (int i = 0; i < SBX_LIMIT_COUNT; i++) {
		uint64_t v = sbx_limit_get(set, (enum sbx_limit_id)i);
		if (v)
			sbx_limit_set(l, (enum sbx_limit_id)i, v);
	}
}

int sbx_limits_check(const struct sbx_limits *l, enum sbx_limit_id *bad)
{
	for (int id = 0; id < SBX_LIMIT_COUNT; id++)
		if (!sbx_limit_ok((enum sbx_limit_id)id, sbx_limit_get(l, (enum sbx_limit_id)id))) {
			*bad = (enum sbx_limit_id)id;
			return -EINVAL;
		}
	return 0;
}

bool sbx_file_name_ok(const char *name)
{
	size_t n = strnlen(name, SBX_MAX_NAME + 1);

	if (n == 0 || n > SBX_MAX_NAME || name[0] == '/')
		return false;
	for (const char *p = name; *p;) {
		size_t c = strcspn(p, "/");
		if (c == 0 || (c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		/* A name a command could read as an option ("-specs=x" given
		 * to a compiler by a glob): never. */
		if (p[0] == '-')
			return false;
		p += c;
		if (*p == '/' && !*++p)
			return false;	/* a trailing slash */
	}
	return true;
}

bool sbx_out_name_ok(const char *name, size_t len)
{
	return util_plain_name_ok(name, len, SBX_MAX_OUT_NAME);
}

/* An absolute path without "." or ".." components, at most SBX_MAX_PATH. */
static bool abs_path_ok(const char *path)
{
	return path[0] == '/' && (path[1] == '\0' || sbx_file_name_ok(path + 1)) &&
	       strnlen(path, SBX_MAX_PATH + 1) <= SBX_MAX_PATH;
}

static int check_parts(const struct sbx_request *req, char *why, size_t whylen)
{
	size_t total = 0, n;

	for (n = 0; req->cmd && req->cmd[n]; n++)
		if (n >= SBX_MAX_CMD)
			break;
	if (req->cmd && (n == 0 || n >= SBX_MAX_CMD || req->cmd[0][0] != '/')) {
		snprintf(why, whylen, "the command must be 1 to %u words, the first an absolute path",
			 SBX_MAX_CMD - 1);
		return -EINVAL;
	}
	if (req->nfiles > SBX_MAX_FILES) {
		snprintf(why, whylen, "more than %u files", SBX_MAX_FILES);
		return -E2BIG;
	}
	for (size_t i = 0; i < req->nfiles; i++) {
		if (!sbx_file_name_ok(req->files[i].name)) {
			snprintf(why, whylen, "file %zu: not a name below /box", i);
			return -EINVAL;
		}
		total += req->files[i].len;
		if (total > SBX_MAX_FILES_BYTES) {
			snprintf(why, whylen, "the files take more than %u bytes", SBX_MAX_FILES_BYTES);
			return -E2BIG;
		}
	}
	if (req->collect_out && req->collect_files) {
		snprintf(why, whylen, "collect_out and collect_files exclude each other");
		return -EINVAL;
	}
	if (req->out_max_files > SBX_MAX_OUT_FILES || req->out_max_bytes > SBX_MAX_OUT_BYTES) {
		snprintf(why, whylen, "out_max_files is %u and out_max_bytes %llu; they must be "
			 "at most %u and %u (0: %u and %u)", req->out_max_files,
			 (unsigned long long)req->out_max_bytes, SBX_MAX_OUT_FILES,
			 SBX_MAX_OUT_BYTES, SBX_DEFAULT_OUT_FILES, SBX_DEFAULT_OUT_BYTES);
		return -EINVAL;
	}
	/* The output directory starts empty, and is made by the sandbox. */
	for (size_t i = 0; req->collect_out && i < req->nfiles; i++)
		if (strcmp(req->files[i].name, "out") == 0 ||
		    strncmp(req->files[i].name, "out/", 4) == 0) {
			snprintf(why, whylen, "file %zu: out/ is the output directory", i);
			return -EINVAL;
		}
	if (req->nenv > SBX_MAX_ENV || req->nbinds > SBX_MAX_BINDS) {
		snprintf(why, whylen, "more than %u variables or %u paths", SBX_MAX_ENV,
			 SBX_MAX_BINDS);
		return -EINVAL;
	}
	for (size_t i = 0; i < req->nenv; i++)
		if (!strchr(req->env[i], '=') || req->env[i][0] == '=' ||
		    strnlen(req->env[i], 4097) > 4096) {
			snprintf(why, whylen, "environment entry %zu is not NAME=value", i);
			return -EINVAL;
		}
	for (size_t i = 0; i < req->nbinds; i++)
		if (!abs_path_ok(req->binds[i]) || strcmp(req->binds[i], "/") == 0) {
			snprintf(why, whylen, "path %zu is not an absolute path", i);
			return -EINVAL;
		}
	if (req->root && req->root[0] && (!abs_path_ok(req->root) || strcmp(req->root, "/") == 0)) {
		snprintf(why, whylen, "the root is not an absolute path");
		return -EINVAL;
	}
	return 0;
}

int sbx_request_check(const struct sbx_request *req, char *why, size_t whylen)
{
	enum sbx_limit_id bad;
	size_t total = 0;
	int r;

	if (sbx_limits_check(&req->limits, &bad) < 0) {
		const struct sbx_limit_info *li = sbx_limit_info(bad);
		snprintf(why, whylen, "%s is %llu; it must be from %llu to %llu", li->name,
			 (unsigned long long)sbx_limit_get(&req->limits, bad),
			 (unsigned long long)li->min, (unsigned long long)li->max);
		return -EINVAL;
	}
	if (!req->cmd && req->language && strcmp(req->language, "python") != 0) {
		snprintf(why, whylen, "unknown language");
		return -EINVAL;
	}
	if ((r = check_parts(req, why, whylen)) < 0)
		return r;
	if (req->code_len > SBX_MAX_CODE) {
		snprintf(why, whylen, "the code is larger than %u bytes", SBX_MAX_CODE);
		return -E2BIG;
	}
	if (req->stdin_len > SBX_MAX_STDIN) {
		snprintf(why, whylen, "stdin is larger than %u bytes", SBX_MAX_STDIN);
		return -E2BIG;
	}
	if (req->argc > SBX_MAX_ARGS) {
		snprintf(why, whylen, "more than %u arguments", SBX_MAX_ARGS);
		return -E2BIG;
	}
	for (size_t i = 0; i < req->argc; i++) {
		size_t n = strnlen(req->argv[i], SBX_MAX_ARG_LEN + 1);
		if (n > SBX_MAX_ARG_LEN) {
			snprintf(why, whylen, "argument %zu is longer than %u bytes", i,
				 SBX_MAX_ARG_LEN);
			return -E2BIG;
		}
		total += n + 1;
	}
	if (total > SBX_MAX_ARGS_BYTES) {
		snprintf(why, whylen, "the arguments take more than %u bytes in all",
			 SBX_MAX_ARGS_BYTES);
		return -E2BIG;
	}
	return 0;
}

void sbx_request_init(struct sbx_request *req)
{
	memset(req, 0, sizeof(*req));
	req->language = "python";
	sbx_limits_default(&req->limits);
}

const char *sbx_status_name(enum sbx_status s)
{
	switch (s) {
	case SBX_OK: return "ok";
	case SBX_RUNTIME_ERROR: return "runtime_error";
	case SBX_SIGNALED: return "signaled";
	case SBX_TIMEOUT: return "timeout";
	case SBX_MEMORY_LIMIT: return "memory_limit";
	case SBX_OUTPUT_LIMIT: return "output_limit";
	case SBX_INTERNAL_ERROR: return "internal_error";
	}
	return "internal_error";
}

const char *sbx_out_drop_reason_text(enum sbx_out_drop_reason r)
{
	switch (r) {
	case SBX_OUT_NOT_REGULAR: return "not a regular file";
	case SBX_OUT_BAD_NAME: return "name not allowed";
	case SBX_OUT_OVER_COUNT: return "over the count bound";
	case SBX_OUT_OVER_SIZE: return "over the size bound";
	case SBX_OUT_CHANGED: return "changed while read";
	case SBX_OUT_UNREADABLE: return "not readable";
	}
	return "dropped";
}

void sbx_result_release(struct sbx_result *res)
{
	free(res->out.data);
	free(res->err.data);
	free(res->output.data);
	free(res->files);
	free(res->files_block);
	free(res->out_files);
	free(res->out_block);
	free(res->out_dropped);
	res->out_files = NULL;
	res->out_block = NULL;
	res->out_dropped = NULL;
	res->nout_files = res->nout_dropped = 0;
	res->out = res->err = res->output = (struct sbx_buf){ 0 };
	res->files = NULL;
	res->files_block = NULL;
	res->nfiles = 0;
}
