/* limits.c - limits, statuses, and the request and result helpers. */
#include <errno.h>
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

int sbx_limits_check(const struct sbx_limits *l, const char **why)
{
	/* Below 4 MiB the interpreter cannot even start; below 8 processes
	 * neither can the sandbox's own init and the program's threads. */
	static const struct {
		const char *name;
		size_t off;
		int is32;
		uint64_t min, max;
	} f[] = {
#define F(field, bits, lo, hi) { #field, offsetof(struct sbx_limits, field), bits, lo, hi }
		F(wall_ms, 0, 1, SBX_MAX_WALL_MS),
		F(cpu_ms, 0, 1, SBX_MAX_WALL_MS),
		F(memory_bytes, 0, 4u << 20, SBX_MAX_MEMORY),
		F(output_bytes, 0, 1, SBX_MAX_OUTPUT),
		F(file_size_bytes, 0, 1, SBX_MAX_MEMORY),
		F(processes, 1, 2, SBX_MAX_PROCESSES),
		F(open_files, 1, 16, 65536),
#undef F
	};

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(f); i++) {
		const char *p = (const char *)l + f[i].off;
		uint64_t v = f[i].is32 ? *(const uint32_t *)p : *(const uint64_t *)p;
		if (v < f[i].min || v > f[i].max) {
			*why = f[i].name;
			return -EINVAL;
		}
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

void sbx_result_release(struct sbx_result *res)
{
	free(res->out.data);
	free(res->err.data);
	free(res->output.data);
	res->out = res->err = res->output = (struct sbx_buf){ 0 };
}
