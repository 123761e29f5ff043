/* libFuzzer target: Judge0 submission bodies (POST /submissions and one
 * item of POST /submissions/batch), with base64_encoded off and on, through
 * the translation to a v1 request, the one parser, and the submission
 * rendered back in each state with several fields= values.  Settings are a
 * default configuration's; the registry is runtimes/ unprobed, every
 * runtime marked available, so that every language id maps.
 *
 * Invariants (a trap when broken): a refused submission comes with a 422
 * body and nothing else; an accepted one with its v1 request and its
 * normalized submission and no errors; the batch's one item agrees with
 * the single submission; every body the server would send can be
 * serialized; a v1 request the parser accepts passes the sandbox's check. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "judge0/judge0.h"
#include "sandbox/sandbox.h"
#include "fuzz_registry.h"
#include "util/util.h"

static struct rt_registry *reg;
static struct j0_settings settings;
static struct api_maxima maxima;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cfg c;

	cfg_init(&c);
	j0_settings_from_cfg(&c, &settings);
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

/* A made-up v1 answer, one of a few shapes chosen by the input, with text
 * from the input when it is valid UTF-8. */
static json_t *made_up_answer(const uint8_t *data, size_t size)
{
	size_t n = size < 256 ? size : 256;
	json_t *text = json_stringn((const char *)data, n);
	unsigned kind = 0;
	json_t *a;

	for (size_t i = 0; i < size; i++)
		kind = kind * 31 + data[i];
	if (!text)
		text = json_string("out");
	switch (kind % 7) {
	case 0:
		a = json_pack("{s:s, s:i, s:n, s:O, s:s, s:i, s:i, s:I, s:s}", "status", "ok",
			      "exit_code", 0, "signal", "stdout", text, "stderr", "", "cpu_time_ms",
			      12, "wall_time_ms", 35, "memory_bytes", (json_int_t)778240, "message",
			      "");
		break;
	case 1:
		a = json_pack("{s:s, s:s, s:O}", "status", "ok", "verdict", "wrong_answer",
			      "stdout", text);
		break;
	case 2:
		a = json_pack("{s:s, s:i, s:O, s:n, s:s}", "status", "runtime_error", "exit_code",
			      3, "stderr", text, "signal", "message", "Exited with code 3");
		break;
	case 3:
		a = json_pack("{s:s, s:n, s:i}", "status", "signaled", "exit_code", "signal",
			      (int)(kind % 70));
		break;
	case 4:
		a = json_pack("{s:s, s:i, s:i, s:{s:i}}", "status", "timeout", "wall_time_ms",
			      10003, "signal", 9, "limits", "wall_time_ms", 10000);
		break;
	case 5:
		a = json_pack("{s:s, s:s, s:n, s:i, s:{s:s, s:O}}", "status", "compile_error",
			      "stdout", "", "exit_code", "cpu_time_ms", 0, "compile", "status",
			      "runtime_error", "output", text);
		break;
	default:
		a = json_pack("{s:s, s:O, s:I}", "status", "memory_limit", "message", text,
			      "memory_bytes", (json_int_t)INT64_MAX);
		break;
	}
	json_decref(text);
	return a;
}

static const char *const field_sets[] = {
	NULL,
	"*",
	"token,stdout,status",
	"source_code,stdin,expected_output,language,additional_files,compile_output,message",
	"time,wall_time,memory,exit_code,exit_signal,status_id,created_at,finished_at,"
	"cpu_time_limit,memory_limit,command_line_arguments,compiler_options,callback_url",
};

static void render_all(const json_t *normalized, const json_t *answer)
{
	static const enum j0_state states[] = { J0_QUEUED, J0_RUNNING, J0_DONE };

	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++)
		for (size_t f = 0; f < sizeof(field_sets) / sizeof(field_sets[0]); f++)
			for (int b64 = 0; b64 <= 1; b64++) {
				struct j0_view v = {
					.token = "0123456789abcdef0123456789abcdef",
					.state = states[s],
					.created_ms = 1704110400123,
					.started_ms = states[s] == J0_QUEUED ? 0 : 1704110400200,
					.finished_ms = states[s] == J0_DONE ? 1704110401000 : 0,
					.normalized = normalized,
					.answer = states[s] == J0_DONE ? answer : NULL,
					.reg = reg,
					.python_version = FUZZ_PYTHON_VERSION,
				};
				json_t *out = j0_render(&v, b64, field_sets[f]);

				sendable(out);
				(void)j0_status_id(&v);
				json_decref(out);
			}
}

/* The v1 request through the one parser, as judge0_submit() does. */
static void parse_v1(json_t *v1)
{
	struct api_request req;
	struct api_error err;
	struct sbx_request sreq;
	char why[256];
	enum sbx_limit_id bad;

	if (api_parse_value(API_JUDGE0, v1, &maxima, reg, &req, &err) < 0) {
		if (err.code == API_E_NONE || api_error_http_status(err.code) >= 500)
			__builtin_trap();
		json_t *e = j0_error_json(err.message);

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
	api_request_release(&req);
}

/* One submission; returns whether it was accepted. */
static bool submit(const json_t *root, bool base64, const json_t *answer)
{
	json_t *v1 = NULL, *normalized = NULL, *errors = NULL;
	int r = j0_submission_to_v1(root, base64, &settings, reg, &v1, &normalized, &errors);

	if (r == -ENOMEM)
		return false;
	if (r == -EINVAL) {
		if (!json_is_object(errors) || v1 || normalized)
			__builtin_trap();
		sendable(errors);
		json_decref(errors);
		return false;
	}
	if (r != 0 || !json_is_object(v1) || !json_is_object(normalized) || errors)
		__builtin_trap();
	parse_v1(v1);	/* consumed */
	render_all(normalized, answer);
	json_decref(normalized);
	return true;
}

static void batch(json_t *root, bool base64, bool single_ok)
{
	json_t *body = json_pack("{s:[O]}", "submissions", root), *error = NULL;
	struct j0_batch_item *items = NULL;
	size_t n = 0;
	int r;

	if (!body)
		return;
	r = j0_batch_to_v1(body, base64, &settings, reg, &items, &n, &error);
	json_decref(body);
	if (r == -ENOMEM)
		return;
	if (r != 0 || n != 1 || !items || error)
		__builtin_trap();
	if (items[0].errors) {
		if (!json_is_object(items[0].errors) || items[0].v1 || items[0].normalized ||
		    single_ok)
			__builtin_trap();
		sendable(items[0].errors);
	} else if (!json_is_object(items[0].v1) || !json_is_object(items[0].normalized) ||
		   !single_ok) {
		__builtin_trap();
	}
	j0_batch_free(items, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The flags of api_parse_body(), which the server reads these with. */
	json_t *root = json_loadb((const char *)data, size,
				  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
	json_t *answer;

	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	answer = made_up_answer(data, size);
	for (int b64 = 0; b64 <= 1; b64++) {
		bool ok = submit(root, b64, answer);

		batch(root, b64, ok);
	}
	json_decref(answer);
	json_decref(root);
	return 0;
}
