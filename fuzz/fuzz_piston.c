/* libFuzzer target: Piston execute bodies (POST /api/v2/execute) through
 * the translation to a v1 request and the one parser, a made-up answer
 * rendered in Piston's shape with the language and version chosen (and
 * with the body's own, as given), and the input split at its first newline
 * into a version and a SemVer range for pst_semver_satisfies().  Maxima are
 * a default configuration's; the registry is runtimes/ unprobed, every
 * runtime marked available with a made-up version.
 *
 * Invariants (a trap when broken): a refusal comes with a message and no
 * v1 request, an acceptance with a v1 object; the parser's refusals are
 * 4xx; an accepted request passes the sandbox's check; every body the
 * server would send can be serialized. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "piston/piston.h"
#include "sandbox/sandbox.h"
#include "fuzz_registry.h"
#include "util/util.h"

static struct rt_registry *reg;
static struct api_maxima maxima;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cfg c;

	cfg_init(&c);
	maxima = fuzz_maxima(&c);
	reg = fuzz_registry();
	return 0;
}

/* What the server sends must serialize (http_json_response_len()). */
static void sendable(json_t *v)
{
	if (!v || json_dumpb(v, NULL, 0, JSON_ENCODE_ANY) == 0)
		__builtin_trap();
}

#define STAGE_FMT "s:s, s:o, s:o, s:s%, s:s%, s:s%, s:i, s:i, s:I, s:b, s:b, s:s"

/* A made-up v1 answer, one of a few shapes chosen by the input, its output
 * the input's first bytes when they are valid UTF-8. */
static json_t *made_up_answer(const uint8_t *data, size_t size)
{
	static const char *const statuses[] = {
		"ok", "runtime_error", "signaled", "timeout", "memory_limit", "output_limit",
		"internal_error", "compile_error",
	};
	size_t n = size < 256 ? size : 256;
	const char *text = "out";
	size_t tlen = 3;
	unsigned kind = 0;
	const char *st;
	json_t *probe = json_stringn((const char *)data, n), *a;

	if (probe) {
		text = (const char *)data;
		tlen = n;
	}
	for (size_t i = 0; i < size; i++)
		kind = kind * 31 + data[i];
	st = statuses[kind % (sizeof(statuses) / sizeof(statuses[0]))];
	a = json_pack("{" STAGE_FMT "}", "status", st,
		      "exit_code", strcmp(st, "runtime_error") == 0 ? json_integer(kind % 256) :
		      strcmp(st, "ok") == 0 ? json_integer(0) : json_null(),
		      "signal", strcmp(st, "signaled") == 0 || strcmp(st, "timeout") == 0 ?
		      json_integer((kind >> 8) % 70) : json_null(),
		      "stdout", text, tlen, "stderr", text, tlen / 2, "output", text, tlen,
		      "wall_time_ms", (int)(kind % 5000), "cpu_time_ms", (int)(kind % 3000),
		      "memory_bytes", (json_int_t)(kind & 1 ? 0 : 4096),
		      "stdout_truncated", (int)(kind >> 3 & 1),
		      "stderr_truncated", (int)(kind >> 4 & 1), "message", "Something");
	if (a && (kind >> 5 & 1)) {
		/* A compile stage: failed for compile_error, else fine. */
		bool failed = strcmp(st, "compile_error") == 0;
		json_t *comp = json_pack("{" STAGE_FMT "}", "status",
					 failed ? "runtime_error" : "ok", "exit_code",
					 json_integer(failed ? 1 : 0), "signal", json_null(),
					 "stdout", "", (size_t)0, "stderr", text, tlen,
					 "output", text, tlen, "wall_time_ms", 100, "cpu_time_ms", 90,
					 "memory_bytes", (json_int_t)1 << 20, "stdout_truncated", 0,
					 "stderr_truncated", 0, "message", "");

		if (comp)
			json_object_set_new(a, "compile", comp);
	}
	json_decref(probe);
	return a;
}

static void render(const json_t *answer, const char *language, const char *version)
{
	json_t *out = pst_render(answer, language, version);

	sendable(out);
	json_decref(out);
}

static void execute(const json_t *body, const json_t *answer)
{
	char msg[PST_MESSAGE_MAX], why[256];
	enum sbx_limit_id bad;
	const struct runtime *rt = NULL;
	struct api_request req;
	struct api_error err;
	struct sbx_request sreq;
	json_t *v1 = NULL;
	int r;

	memset(msg, 0, sizeof(msg));
	r = pst_request_to_v1(body, reg, FUZZ_PYTHON_VERSION, &maxima, &v1, &rt, msg,
			      sizeof(msg));
	if (r == -ENOMEM)
		return;
	if (r == -EINVAL) {
		json_t *e;

		if (v1 || msg[0] == '\0' || !memchr(msg, '\0', sizeof(msg)))
			__builtin_trap();
		e = pst_error_json(msg);
		sendable(e);
		json_decref(e);
		return;
	}
	if (r != 0 || !json_is_object(v1))
		__builtin_trap();
	if (api_parse_value(API_PISTON, v1, &maxima, reg, &req, &err) < 0) {
		json_t *e;

		if (err.code == API_E_NONE || api_error_http_status(err.code) >= 500)
			__builtin_trap();
		e = api_error_json(&err);
		sendable(e);
		json_decref(e);
		return;
	}
	/* The sandbox's check of limits and sizes; a runtime's language is
	 * rt_execute()'s, which gives the sandbox a command instead. */
	api_request_sbx(&req, &sreq);
	if (req.rt)
		sreq.language = NULL;
	if (sbx_request_check(&sreq, why, sizeof(why)) < 0)
		__builtin_trap();
	if (req.rt && rt_compiles(req.rt) && sbx_limits_check(&req.compile_limits, &bad) < 0)
		__builtin_trap();
	/* As http_peer_answer() renders it. */
	render(answer, req.language, req.rt ? req.rt->version_text : FUZZ_PYTHON_VERSION);
	api_request_release(&req);
}

/* The input split at its first newline: a version and a range. */
static void semver(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t vlen = nl ? (size_t)(nl - data) : size;
	char *version = malloc(vlen + 1), *range = NULL;

	if (!version)
		return;
	memcpy(version, data, vlen);
	version[vlen] = '\0';
	if (nl) {
		size_t rlen = size - vlen - 1;

		range = malloc(rlen + 1);
		if (range) {
			memcpy(range, nl + 1, rlen);
			range[rlen] = '\0';
		}
	}
	(void)pst_semver_satisfies(version, range ? range : "*");
	/* The range against versions of the form ours take. */
	(void)pst_semver_satisfies("1.2.3", range ? range : version);
	(void)pst_semver_satisfies("0.0.0", range ? range : version);
	free(version);
	free(range);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The flags of api_parse_body(), which the server reads these with. */
	json_t *root = json_loadb((const char *)data, size,
				  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
	json_t *answer = made_up_answer(data, size);

	if (json_is_object(root)) {
		const char *lang = json_string_value(json_object_get(root, "language"));
		const char *ver = json_string_value(json_object_get(root, "version"));

		execute(root, answer);
		/* Language and version as a client wrote them. */
		render(answer, lang ? lang : "python", ver);
	}
	json_decref(root);
	json_decref(answer);
	semver(data, size);
	return 0;
}
