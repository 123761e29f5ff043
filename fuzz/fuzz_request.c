/* libFuzzer target: request bodies of POST /run and POST /api/v1/execute,
 * through parsing, validation and, when valid, the answer's JSON.  Every
 * request the parser accepts must also pass the sandbox's own check: the
 * maxima here are the widest a configuration may set, the sandbox's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/util.h"

static uint64_t widest(enum sbx_limit_id id)
{
	return sbx_limit_info(id)->max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct api_maxima maxima = {
		widest(SBX_LIMIT_WALL_MS), widest(SBX_LIMIT_CPU_MS), widest(SBX_LIMIT_MEMORY),
		widest(SBX_LIMIT_PROCESSES), widest(SBX_LIMIT_OUTPUT), widest(SBX_LIMIT_FILE_SIZE), 0, 0,
	};
	struct api_request req;
	struct api_error err;
	struct sbx_request sreq;
	struct sbx_result res;
	char why[256];

	for (int ep = API_RUN; ep <= API_EXECUTE; ep++) {
		if (api_parse_request((enum api_endpoint)ep, (const char *)data, size,
				      &maxima, NULL, &req, &err) < 0) {
			/* Every failure must carry a code and a sendable body. */
			if (err.code == API_E_NONE || api_error_http_status(err.code) >= 500)
				__builtin_trap();
			json_decref(api_error_json(&err));
			continue;
		}
		api_request_sbx(&req, &sreq);
		if (sbx_request_check(&sreq, why, sizeof(why)) < 0)
			__builtin_trap();
		memset(&res, 0, sizeof(res));
		res.out.data = res.err.data = res.output.data = (char *)req.code;
		res.out.len = res.err.len = res.output.len = req.code_len;
		/* Every test with the same result: the answer's shape with
		 * the request's tests. */
		size_t n = req.ntests ? req.ntests : 1;
		struct job_test_result *t = calloc(n, sizeof(*t));
		struct job_result jr = { .tests = t, .ntests = t ? n : 0, .decisive = 0 };
		for (size_t i = 0; t && i < n; i++)
			t[i] = (struct job_test_result){ .verdict = JOB_ACCEPTED, .res = res };
		if (t)
			json_decref(api_response_json((enum api_endpoint)ep, 1, &req, &jr));
		free(t);
		api_request_release(&req);
	}
	return 0;
}
