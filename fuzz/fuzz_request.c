/* libFuzzer target: request bodies of POST /run and POST /api/v1/execute,
 * through parsing, validation and, when valid, the answer's JSON. */
#include <stdint.h>
#include <string.h>

#include "api/api.h"

static const struct api_maxima maxima = { 20000, 15000, 512ull << 20, 256, 8ull << 20 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_request req;
	struct api_error err;
	struct sbx_result res;

	for (int ep = API_RUN; ep <= API_EXECUTE; ep++) {
		if (api_parse_request((enum api_endpoint)ep, (const char *)data, size,
				      &maxima, &req, &err) < 0) {
			/* Every failure must carry a code and a sendable body. */
			if (err.code == API_E_NONE || api_error_http_status(err.code) >= 500)
				__builtin_trap();
			json_decref(api_error_json(&err));
			continue;
		}
		memset(&res, 0, sizeof(res));
		res.out.data = res.err.data = res.output.data = (char *)req.code;
		res.out.len = res.err.len = res.output.len = req.code_len;
		json_decref(api_response_json((enum api_endpoint)ep, 1, &req, &res));
		api_request_release(&req);
	}
	return 0;
}
