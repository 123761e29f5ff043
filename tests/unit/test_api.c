/* Unit tests for src/api/ (request parsing, validation, answers) and the
 * pure parts of src/http/ (routing, content types, metrics). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "http/http.h"
#include "test.h"

static const struct api_maxima maxima = {
	.wall_time_ms = 20000,
	.cpu_time_ms = 15000,
	.memory_bytes = 512ull << 20,
	.max_processes = 256,
	.output_bytes = 8ull << 20,
};

/* Parses a NUL-terminated body; returns the error code (API_E_NONE = ok). */
static enum api_error_code parse(enum api_endpoint ep, const char *body,
				 struct api_request *req, struct api_error *err)
{
	int r = api_parse_request(ep, body, strlen(body), &maxima, NULL, req, err);

	if (r == 0)
		return API_E_NONE;
	if (err->code == API_E_NONE)
		return API_E_COUNT;	/* failed without saying why: a bug */
	return err->code;
}

static enum api_error_code exec_code(const char *body, struct api_error *err)
{
	struct api_request req;
	enum api_error_code c = parse(API_EXECUTE, body, &req, err);

	if (c == API_E_NONE)
		api_request_release(&req);
	return c;
}

static char *nested(int depth)
{
	/* {"code": "x", "extra": [[...]]} with depth levels in all. */
	size_t cap = (size_t)depth * 2 + 64, n;
	char *s = malloc(cap);

	n = (size_t)snprintf(s, cap, "{\"code\": \"x\", \"extra\": ");
	for (int i = 1; i < depth; i++)
		s[n++] = '[';
	for (int i = 1; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

TEST(api_empty_body)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(api_parse_request(API_RUN, "", 0, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_EMPTY_BODY);
	ASSERT_EQ(parse(API_RUN, " \r\n\t ", &req, &err), API_E_EMPTY_BODY);
	ASSERT_EQ(api_error_http_status(err.code), 400);
}

TEST(api_invalid_json)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_RUN, "{\"code\": ", &req, &err), API_E_INVALID_JSON);
	ASSERT_EQ(parse(API_RUN, "{code: 1}", &req, &err), API_E_INVALID_JSON);
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"x\"} trailing", &req, &err), API_E_INVALID_JSON);
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"a\", \"code\": \"b\"}", &req, &err),
		  API_E_INVALID_JSON);
	ASSERT(strstr(err.message, "duplicate"));
	/* A lone surrogate escape is not a character. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"\\ud800\"}", &req, &err), API_E_INVALID_JSON);
}

TEST(api_invalid_utf8)
{
	struct api_request req;
	struct api_error err;
	static const char *bad[] = {
		"{\"code\": \"\xff\"}",
		"{\"code\": \"\xc0\xaf\"}",		/* overlong '/' */
		"{\"code\": \"\xed\xa0\x80\"}",		/* encoded surrogate */
		"{\"code\": \"\xe2\x82\"}",		/* cut sequence */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse(API_RUN, bad[i], &req, &err), API_E_INVALID_UTF8);
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"print('\xc3\xa9\xe2\x82\xac')\"}", &req, &err),
		  API_E_NONE);
	api_request_release(&req);
}

TEST(api_depth)
{
	struct api_request req;
	struct api_error err;
	char *ok = nested(API_MAX_DEPTH), *deep = nested(API_MAX_DEPTH + 1);

	ASSERT_EQ(parse(API_RUN, ok, &req, &err), API_E_NONE);
	api_request_release(&req);
	ASSERT_EQ(parse(API_RUN, deep, &req, &err), API_E_TOO_DEEP);
	/* Brackets inside strings do not count. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[\"}",
			&req, &err), API_E_NONE);
	api_request_release(&req);
	/* Far deeper than jansson's own limit, unterminated: still too_deep. */
	{
		char *huge = malloc(100001);

		memset(huge, '[', 100000);
		huge[100000] = '\0';
		ASSERT_EQ(parse(API_RUN, huge, &req, &err), API_E_TOO_DEEP);
		free(huge);
	}
	free(ok);
	free(deep);
}

TEST(api_root_must_be_object)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_RUN, "[\"code\"]", &req, &err), API_E_INVALID_REQUEST);
	ASSERT_EQ(parse(API_RUN, "\"print(1)\"", &req, &err), API_E_INVALID_REQUEST);
	ASSERT_EQ(parse(API_RUN, "null", &req, &err), API_E_INVALID_REQUEST);
}

TEST(api_code_field)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_RUN, "{}", &req, &err), API_E_MISSING_FIELD);
	ASSERT(strstr(err.message, "code"));
	ASSERT_EQ(parse(API_EXECUTE, "{\"language\": \"python\"}", &req, &err), API_E_MISSING_FIELD);
	ASSERT_EQ(parse(API_RUN, "{\"code\": null}", &req, &err), API_E_MISSING_FIELD);
	ASSERT_EQ(parse(API_RUN, "{\"code\": 42}", &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'code'"));
	ASSERT(strstr(err.message, "integer"));
	ASSERT_EQ(parse(API_RUN, "{\"code\": [\"print(1)\"]}", &req, &err), API_E_INVALID_REQUEST);

	/* NUL characters in code are data, kept with their length. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"a\\u0000b\"}", &req, &err), API_E_NONE);
	ASSERT_MEMEQ(req.code, req.code_len, "a\0b", (size_t)3);
	api_request_release(&req);

	ASSERT_EQ(parse(API_RUN, "{\"code\": \"\"}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.code_len, 0);
	api_request_release(&req);
}

TEST(api_run_is_lenient_execute_is_strict)
{
	struct api_request req;
	struct api_error err;

	/* The original service read only "code"; its clients may send more. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"print(1)\", \"lang\": 3, \"limits\": 7}", &req, &err),
		  API_E_NONE);
	ASSERT_STREQ(req.language, "python");
	ASSERT_EQ(req.limits.wall_ms, SBX_DEFAULT_WALL_MS);
	api_request_release(&req);

	ASSERT_EQ(exec_code("{\"code\": \"x\", \"lang\": \"python\"}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'lang'"));
}

TEST(api_execute_all_fields)
{
	struct api_request req;
	struct api_error err;
	const char *body =
		"{\"language\": \"python3\", \"code\": \"print(1)\", \"stdin\": \"in\\u0000put\","
		" \"args\": [\"a\", \"\", \"c d\"], \"limits\": {\"wall_time_ms\": 1500,"
		" \"cpu_time_ms\": 1000, \"memory_bytes\": 67108864, \"max_processes\": 8,"
		" \"output_bytes\": 4096}}";

	ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
	ASSERT_STREQ(req.language, "python");
	ASSERT_MEMEQ(req.code, req.code_len, "print(1)", (size_t)8);
	ASSERT_MEMEQ(req.stdin_data, req.stdin_len, "in\0put", (size_t)6);
	ASSERT_EQ(req.argc, 3);
	ASSERT_STREQ(req.argv[0], "a");
	ASSERT_STREQ(req.argv[1], "");
	ASSERT_STREQ(req.argv[2], "c d");
	ASSERT_EQ(req.limits.wall_ms, 1500);
	ASSERT_EQ(req.limits.cpu_ms, 1000);
	ASSERT_EQ(req.limits.memory_bytes, 67108864);
	ASSERT_EQ(req.limits.processes, 8);
	ASSERT_EQ(req.limits.output_bytes, 4096);
	/* Not settable through the API: the engine's defaults. */
	ASSERT_EQ(req.limits.file_size_bytes, SBX_DEFAULT_FILE_SIZE);
	ASSERT_EQ(req.limits.open_files, SBX_DEFAULT_OPEN_FILES);

	struct sbx_request sr;

	api_request_sbx(&req, &sr);
	ASSERT_EQ(sr.code_len, 8);
	ASSERT_EQ(sr.argc, 3);
	ASSERT_EQ(sr.stdin_len, 6);
	ASSERT_EQ(sr.limits.wall_ms, 1500);
	api_request_release(&req);
}

TEST(api_execute_defaults)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stdin\": null, \"args\": null,"
			" \"limits\": null, \"language\": null}", &req, &err), API_E_NONE);
	ASSERT_STREQ(req.language, "python");
	ASSERT(req.stdin_data == NULL);
	ASSERT_EQ(req.argc, 0);
	ASSERT_EQ(req.limits.wall_ms, SBX_DEFAULT_WALL_MS);
	ASSERT_EQ(req.limits.cpu_ms, SBX_DEFAULT_CPU_MS);
	ASSERT_EQ(req.limits.memory_bytes, SBX_DEFAULT_MEMORY);
	ASSERT_EQ(req.limits.processes, SBX_DEFAULT_PROCESSES);
	ASSERT_EQ(req.limits.output_bytes, SBX_DEFAULT_OUTPUT);
	api_request_release(&req);
}

TEST(api_default_limits_never_above_maxima)
{
	struct api_maxima low = { 5000, 4000, 64ull << 20, 16, 1024, 0, 0, 0 };
	struct sbx_limits l;

	api_default_limits(&low, &l);
	ASSERT_EQ(l.wall_ms, 5000);
	ASSERT_EQ(l.cpu_ms, 4000);
	ASSERT_EQ(l.memory_bytes, 64ull << 20);
	ASSERT_EQ(l.processes, 16);
	ASSERT_EQ(l.output_bytes, 1024);
	api_default_limits(&maxima, &l);
	ASSERT_EQ(l.wall_ms, SBX_DEFAULT_WALL_MS);
}

TEST(api_language)
{
	struct api_request req;
	struct api_error err;
	static const char *ok[] = { "python", "python3", "py" };
	char body[128];

	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"language\": \"%s\"}", ok[i]);
		ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
		ASSERT_STREQ(req.language, "python");
		api_request_release(&req);
	}
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"language\": \"ruby\"}", &err), API_E_UNKNOWN_LANGUAGE);
	ASSERT(strstr(err.message, "ruby"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"language\": \"Python\"}", &err), API_E_UNKNOWN_LANGUAGE);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"language\": \"python\\u0000x\"}", &err),
		  API_E_UNKNOWN_LANGUAGE);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"language\": 3}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'language'"));
}

TEST(api_stdin_and_args_types)
{
	struct api_error err;

	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stdin\": 5}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'stdin'"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"args\": \"a b\"}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'args'"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"args\": [\"a\", 1]}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "args[1]"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"args\": [\"a\\u0000b\"]}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "NUL"));
}

TEST(api_args_count)
{
	struct api_request req;
	struct api_error err;
	const size_t cap = 16 * 1024;
	char *body = malloc(cap);
	size_t n;

	for (unsigned count = SBX_MAX_ARGS; count <= SBX_MAX_ARGS + 1; count++) {
		n = (size_t)snprintf(body, cap, "{\"code\": \"x\", \"args\": [");
		for (unsigned i = 0; i < count; i++)
			n += (size_t)snprintf(body + n, cap - n, "%s\"%d\"", i ? ", " : "", i);
		snprintf(body + n, cap - n, "]}");
		if (count == SBX_MAX_ARGS) {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
			ASSERT_EQ(req.argc, SBX_MAX_ARGS);
			ASSERT_STREQ(req.argv[255], "255");
			api_request_release(&req);
		} else {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_INVALID_REQUEST);
			ASSERT(strstr(err.message, "256"));
		}
	}
	free(body);
}

TEST(api_limits_invalid)
{
	struct api_error err;
	static const char *bad[] = { "0", "-1", "1.5", "1e3", "\"1000\"", "true", "[]", "{}" };
	static const char *fields[] = { "wall_time_ms", "cpu_time_ms", "memory_bytes",
					"max_processes", "output_bytes" };
	char body[256];

	for (size_t f = 0; f < 5; f++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(body, sizeof(body), "{\"code\": \"x\", \"limits\": {\"%s\": %s}}",
				 fields[f], bad[i]);
			ASSERT_EQ(exec_code(body, &err), API_E_INVALID_LIMIT);
			ASSERT(strstr(err.message, fields[f]));
		}
	}
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"limits\": {\"wall_time\": 10}}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "limits.wall_time"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"limits\": [1]}", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'limits'"));
}

TEST(api_limits_exceeded_never_clamped)
{
	struct api_request req;
	struct api_error err;
	static const struct {
		const char *field;
		unsigned long long max;
	} f[] = {
		{ "wall_time_ms", 20000 }, { "cpu_time_ms", 15000 },
		{ "memory_bytes", 512ull << 20 }, { "max_processes", 256 },
		{ "output_bytes", 8ull << 20 },
	};
	char body[256], want[64];

	for (size_t i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"limits\": {\"%s\": %llu}}",
			 f[i].field, f[i].max);
		ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
		api_request_release(&req);
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"limits\": {\"%s\": %llu}}",
			 f[i].field, f[i].max + 1);
		ASSERT_EQ(exec_code(body, &err), API_E_LIMIT_EXCEEDED);
		ASSERT(strstr(err.message, f[i].field));
		snprintf(want, sizeof(want), "%llu", f[i].max + 1);
		ASSERT(strstr(err.message, want));	/* the value */
		snprintf(want, sizeof(want), "%llu", f[i].max);
		ASSERT(strstr(err.message, want));	/* the maximum */
	}
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"limits\": {\"memory_bytes\": 9223372036854775807}}",
			    &err), API_E_LIMIT_EXCEEDED);
}

TEST(api_content_type)
{
	struct api_error err;

	ASSERT_EQ(api_check_content_type(NULL, false, &err), 0);
	ASSERT_EQ(api_check_content_type("", false, &err), 0);
	ASSERT_EQ(api_check_content_type("application/json", false, &err), 0);
	ASSERT_EQ(api_check_content_type("Application/JSON; charset=utf-8", false, &err), 0);
	ASSERT_EQ(api_check_content_type(" application/json ;charset=UTF-8", false, &err), 0);
	ASSERT_EQ(api_check_content_type("application/vnd.api+json", false, &err), 0);
	ASSERT_EQ(api_check_content_type("text/plain", false, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_UNSUPPORTED_MEDIA_TYPE);
	ASSERT_EQ(api_error_http_status(err.code), 415);
	ASSERT_EQ(api_check_content_type("application/x-www-form-urlencoded", false, &err), -EINVAL);
	ASSERT_EQ(api_check_content_type("application/jsonx", false, &err), -EINVAL);
	ASSERT_EQ(api_check_content_type("multipart/form-data; boundary=x", false, &err), -EINVAL);
	/* Where text/plain is allowed, JSON so labelled passes, forms do not. */
	ASSERT_EQ(api_check_content_type("text/plain;charset=UTF-8", true, &err), 0);
	ASSERT_EQ(api_check_content_type("application/x-www-form-urlencoded", true, &err),
		  -EINVAL);
	ASSERT_EQ(api_check_content_type("text/plainx", true, &err), -EINVAL);
}

TEST(api_error_codes_and_statuses)
{
	static const struct {
		enum api_error_code c;
		const char *name;
		unsigned http;
	} want[] = {
		{ API_E_EMPTY_BODY, "empty_body", 400 },
		{ API_E_INVALID_JSON, "invalid_json", 400 },
		{ API_E_INVALID_UTF8, "invalid_utf8", 400 },
		{ API_E_TOO_DEEP, "too_deep", 400 },
		{ API_E_INVALID_REQUEST, "invalid_request", 400 },
		{ API_E_MISSING_FIELD, "missing_field", 400 },
		{ API_E_UNKNOWN_LANGUAGE, "unknown_language", 400 },
		{ API_E_INVALID_LIMIT, "invalid_limit", 400 },
		{ API_E_LIMIT_EXCEEDED, "limit_exceeded", 400 },
		{ API_E_PAYLOAD_TOO_LARGE, "payload_too_large", 413 },
		{ API_E_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415 },
		{ API_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405 },
		{ API_E_NOT_FOUND, "not_found", 404 },
		{ API_E_QUEUE_FULL, "queue_full", 503 },
		{ API_E_SHUTTING_DOWN, "shutting_down", 503 },
		{ API_E_INTERNAL, "internal_error", 500 },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ASSERT_STREQ(api_error_name(want[i].c), want[i].name);
		ASSERT_EQ(api_error_http_status(want[i].c), want[i].http);
	}
}

TEST(api_error_json_shape)
{
	struct api_error err;
	json_t *j, *e;

	api_fail(&err, API_E_UNKNOWN_LANGUAGE, "unknown language '%s'", "c\xc3");
	j = api_error_json(&err);
	ASSERT(j != NULL);
	e = json_object_get(j, "error");
	ASSERT(json_is_object(e));
	ASSERT_EQ(json_object_size(j), 1);
	ASSERT_STREQ(json_string_value(json_object_get(e, "code")), "unknown_language");
	/* A cut UTF-8 sequence becomes U+FFFD instead of failing. */
	ASSERT_STREQ(json_string_value(json_object_get(e, "message")),
		     "unknown language 'c\xef\xbf\xbd'");
	json_decref(j);
}

static struct sbx_result result(enum sbx_status s)
{
	struct sbx_result r;

	memset(&r, 0, sizeof(r));
	r.status = s;
	r.output.data = (char *)"out\n";
	r.output.len = 4;
	r.out = r.output;
	r.err.data = (char *)"";
	return r;
}

TEST(api_status_messages)
{
	struct sbx_limits l;
	struct sbx_result r;
	char buf[128];

	sbx_limits_default(&l);
	r = result(SBX_OK);
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "");
	r = result(SBX_RUNTIME_ERROR);
	r.exit_code = 1;
	r.has_exit_code = true;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Exited with code 1");
	r = result(SBX_SIGNALED);
	r.signal = SIGSEGV;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Killed by signal 11 (SIGSEGV)");
	r = result(SBX_TIMEOUT);
	r.cpu_time_ms = 9990;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Time limit exceeded (10 s)");
	l.wall_ms = 1500;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Time limit exceeded (1.5 s)");
	l.wall_ms = 250;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Time limit exceeded (250 ms)");
	l.wall_ms = 10000;
	l.cpu_ms = 2000;
	r.cpu_time_ms = 2001;
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "CPU time limit exceeded (2 s)");
	sbx_limits_default(&l);
	r = result(SBX_MEMORY_LIMIT);
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Memory limit exceeded (128 MiB)");
	r = result(SBX_OUTPUT_LIMIT);
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Output limit exceeded (1 MiB)");
	r = result(SBX_INTERNAL_ERROR);
	snprintf(r.error, sizeof(r.error), "clone: secret internals");
	ASSERT_STREQ(codec_status_message(&r, &l, buf, sizeof(buf)), "Internal error");
}

/* A job's result of one run. */
static const struct job_result *one(const struct sbx_result *r, struct job_result *jr)
{
	static struct job_test_result t;

	t = (struct job_test_result){ .verdict = JOB_ACCEPTED, .res = *r };
	*jr = (struct job_result){ .tests = &t, .ntests = 1 };
	return jr;
}

TEST(api_response_run_and_execute)
{
	struct job_result jr;
	struct api_request req;
	struct api_error err;
	struct sbx_result r = result(SBX_OK);
	json_t *j;
	const char *first;
	void *it;

	ASSERT_EQ(parse(API_RUN, "{\"code\": \"print('out')\"}", &req, &err), API_E_NONE);
	j = api_response_json(API_RUN, 7, &req, one(&r, &jr));
	ASSERT(j != NULL);
	it = json_object_iter(j);
	first = json_object_iter_key(it);
	ASSERT_STREQ(first, "output");
	ASSERT_STREQ(json_string_value(json_object_get(j, "output")), "out\n");
	ASSERT_STREQ(json_string_value(json_object_get(j, "status")), "ok");
	ASSERT_STREQ(json_string_value(json_object_get(j, "message")), "");
	ASSERT_EQ(json_integer_value(json_object_get(j, "id")), 7);
	ASSERT(json_object_get(j, "stdout_truncated") != NULL);
	json_decref(j);
	api_request_release(&req);

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"limits\": {\"max_processes\": 3}}",
			&req, &err), API_E_NONE);
	j = api_response_json(API_EXECUTE, -1, &req, one(&r, &jr));
	ASSERT(j != NULL);
	ASSERT(json_is_null(json_object_get(j, "id")));
	ASSERT_STREQ(json_string_value(json_object_get(j, "language")), "python");
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "limits"), "max_processes")), 3);
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "limits"), "wall_time_ms")),
		  SBX_DEFAULT_WALL_MS);
	static const char *fields[] = { "status", "exit_code", "signal", "stdout", "stderr",
		"output", "stdout_truncated", "stderr_truncated", "wall_time_ms", "cpu_time_ms",
		"memory_bytes", "message" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ASSERT(json_object_get(j, fields[i]) != NULL);
	json_decref(j);
	api_request_release(&req);
}

TEST(api_languages)
{
	json_t *j = api_languages_json(NULL, &maxima, "3.11.2");

	ASSERT(json_is_array(j));
	ASSERT_EQ(json_array_size(j), 1);
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(j, 0), "language")), "python");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(j, 0), "version")), "3.11.2");
	ASSERT_EQ(json_array_size(json_object_get(json_array_get(j, 0), "aliases")), 2);
	json_decref(j);
}

TEST(api_list_query)
{
	struct api_error err;
	unsigned limit;
	int64_t before;

	ASSERT_EQ(api_parse_list_query(NULL, NULL, &limit, &before, &err), 0);
	ASSERT_EQ(limit, 20);
	ASSERT_EQ(before, 0);
	ASSERT_EQ(api_parse_list_query("100", "42", &limit, &before, &err), 0);
	ASSERT_EQ(limit, 100);
	ASSERT_EQ(before, 42);
	ASSERT_EQ(api_parse_list_query("1", NULL, &limit, &before, &err), 0);
	ASSERT_EQ(limit, 1);
	static const char *bad_limit[] = { "0", "101", "-1", "", "ten", "5 ", "+5", "99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad_limit) / sizeof(bad_limit[0]); i++) {
		ASSERT_EQ(api_parse_list_query(bad_limit[i], NULL, &limit, &before, &err), -EINVAL);
		ASSERT_EQ(err.code, API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, "limit"));
	}
	static const char *bad_before[] = { "0", "-3", "", "x", "9223372036854775808" };
	for (size_t i = 0; i < sizeof(bad_before) / sizeof(bad_before[0]); i++) {
		ASSERT_EQ(api_parse_list_query(NULL, bad_before[i], &limit, &before, &err), -EINVAL);
		ASSERT(strstr(err.message, "before"));
	}
}

TEST(api_ids)
{
	int64_t id;

	ASSERT_EQ(api_parse_id("1", 1, &id), 0);
	ASSERT_EQ(id, 1);
	ASSERT_EQ(api_parse_id("9223372036854775807", 19, &id), 0);
	ASSERT_EQ(id, INT64_MAX);
	ASSERT_EQ(api_parse_id("9223372036854775808", 19, &id), -EINVAL);
	ASSERT_EQ(api_parse_id("0", 1, &id), -EINVAL);
	ASSERT_EQ(api_parse_id("12a", 3, &id), -EINVAL);
	ASSERT_EQ(api_parse_id("", 0, &id), -EINVAL);
	/* Only len bytes are read. */
	ASSERT_EQ(api_parse_id("12/", 2, &id), 0);
	ASSERT_EQ(id, 12);
}

static int route(const char *method, const char *path, struct http_route *r,
		 struct api_error *err)
{
	return http_route_match(method, path, strlen(path), r, err);
}

TEST(http_routes)
{
	struct http_route r;
	struct api_error err;

	ASSERT_EQ(route("POST", "/run", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_RUN);
	ASSERT_EQ(route("POST", "/api/v1/execute", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_EXECUTE);
	ASSERT_EQ(route("GET", "/api/v1/languages", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_LANGUAGES);
	ASSERT_EQ(route("GET", "/api/v1/executions", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_EXECUTIONS);
	ASSERT_EQ(route("GET", "/api/v1/executions/123", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_EXECUTION);
	ASSERT_EQ(r.exec_id, 123);
	ASSERT_EQ(route("HEAD", "/healthz", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_HEALTHZ);
	ASSERT_EQ(route("GET", "/metrics", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_METRICS);
	ASSERT_EQ(route("GET", "/", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_ASSET);
	ASSERT_STREQ(r.asset->path, "/index.html");
	ASSERT_EQ(route("GET", "/index.html", &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_ASSET);
}

TEST(http_routes_errors)
{
	struct http_route r;
	struct api_error err;

	ASSERT_EQ(route("GET", "/run", &r, &err), -EPERM);
	ASSERT_EQ(err.code, API_E_METHOD_NOT_ALLOWED);
	ASSERT_STREQ(r.allow, "POST");
	ASSERT_EQ(route("PUT", "/api/v1/executions", &r, &err), -EPERM);
	ASSERT_STREQ(r.allow, "GET, HEAD");
	ASSERT_EQ(route("DELETE", "/api/v1/executions/5", &r, &err), -EPERM);
	ASSERT_EQ(route("POST", "/", &r, &err), -EPERM);
	ASSERT_EQ(route("GET", "/nope", &r, &err), -ENOENT);
	ASSERT_EQ(err.code, API_E_NOT_FOUND);
	ASSERT_EQ(route("POST", "/run/", &r, &err), -ENOENT);
	ASSERT_EQ(route("GET", "/api/v1/executions/abc", &r, &err), -ENOENT);
	ASSERT_EQ(route("GET", "/api/v1/executions/0", &r, &err), -ENOENT);
	ASSERT_EQ(route("GET", "/api/v1/executions/1/2", &r, &err), -ENOENT);
	ASSERT_EQ(route("GET", "/../../etc/passwd", &r, &err), -ENOENT);
	ASSERT_EQ(route("GET", "", &r, &err), -ENOENT);
	/* Only len bytes count. */
	ASSERT_EQ(http_route_match("POST", "/runx", 4, &r, &err), 0);
	ASSERT_EQ(r.id, HTTP_R_RUN);
}

TEST(http_content_types)
{
	ASSERT_STREQ(http_content_type("/index.html"), "text/html; charset=utf-8");
	ASSERT_STREQ(http_content_type("/app.js"), "text/javascript; charset=utf-8");
	ASSERT_STREQ(http_content_type("/style.css"), "text/css; charset=utf-8");
	ASSERT_STREQ(http_content_type("/favicon.svg"), "image/svg+xml");
	ASSERT_STREQ(http_content_type("/x"), "application/octet-stream");
	ASSERT_STREQ(http_content_type("/a.b/c"), "application/octet-stream");
}

TEST(http_metrics_exposition)
{
	static struct http_metrics m;
	size_t len;
	char *t;

	http_metrics_run(&m, SBX_OK, 20000);		/* 0.02 s */
	http_metrics_run(&m, SBX_TIMEOUT, 10500000);	/* 10.5 s */
	http_metrics_response(&m, 200);
	http_metrics_response(&m, 200);
	http_metrics_response(&m, 503);
	t = http_metrics_text(&m, &(struct http_gauges){ .queue_length = 3, .running = 2,
				.workers = 4, .queue_capacity = 64, .answer_bytes = 5,
				.answer_bytes_max = 256 << 20 }, &len);
	ASSERT(t != NULL);
	ASSERT_EQ(strlen(t), len);
	ASSERT(strstr(t, "safexec_runs_total{status=\"ok\"} 1\n"));
	ASSERT(strstr(t, "safexec_runs_total{status=\"timeout\"} 1\n"));
	ASSERT(strstr(t, "safexec_runs_total{status=\"memory_limit\"} 0\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_bucket{le=\"0.025\"} 1\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_bucket{le=\"10\"} 1\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_bucket{le=\"30\"} 2\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_count 2\n"));
	ASSERT(strstr(t, "safexec_run_duration_seconds_sum 10.520000\n"));
	ASSERT(strstr(t, "safexec_queue_length 3\n"));
	ASSERT(strstr(t, "safexec_sandboxes_running 2\n"));
	ASSERT(strstr(t, "safexec_answer_bytes 5\n"));
	ASSERT(strstr(t, "safexec_answer_bytes_max 268435456\n"));
	ASSERT(strstr(t, "safexec_http_requests_total{code=\"200\"} 2\n"));
	ASSERT(strstr(t, "safexec_http_requests_total{code=\"503\"} 1\n"));
	free(t);
}

TEST(api_check_origin_refuses_other_sites)
{
	struct api_error err;

	/* Not from a browser, or the page itself. */
	ASSERT_EQ(api_check_origin(NULL, NULL, "127.0.0.1:8080", &err), 0);
	ASSERT_EQ(api_check_origin("same-origin", "http://127.0.0.1:8080", "127.0.0.1:8080", &err), 0);
	ASSERT_EQ(api_check_origin("none", NULL, "127.0.0.1:8080", &err), 0);
	ASSERT_EQ(api_check_origin(NULL, "http://127.0.0.1:8080", "127.0.0.1:8080", &err), 0);
	ASSERT_EQ(api_check_origin(NULL, "http://LOCALHOST:8080", "localhost:8080", &err), 0);
	/* Another site's page. */
	ASSERT(api_check_origin("cross-site", "https://evil.example", "127.0.0.1:8080", &err) < 0);
	ASSERT_EQ(err.code, API_E_CROSS_ORIGIN);
	ASSERT_EQ(api_error_http_status(err.code), 403);
	ASSERT_STREQ(api_error_name(err.code), "cross_origin");
	ASSERT(api_check_origin("same-site", NULL, "127.0.0.1:8080", &err) < 0);
	ASSERT(api_check_origin(NULL, "https://evil.example", "127.0.0.1:8080", &err) < 0);
	ASSERT(api_check_origin(NULL, "null", "127.0.0.1:8080", &err) < 0);
	ASSERT(api_check_origin(NULL, "http://127.0.0.1:9999", "127.0.0.1:8080", &err) < 0);
	ASSERT(api_check_origin(NULL, "http://127.0.0.1:8080", NULL, &err) < 0);
}

TEST(api_check_host_stops_dns_rebinding)
{
	struct api_error err;

	ASSERT_EQ(api_check_host(NULL, "", &err), 0);
	ASSERT_EQ(api_check_host("127.0.0.1:8080", "", &err), 0);
	ASSERT_EQ(api_check_host("10.1.2.3", "", &err), 0);
	ASSERT_EQ(api_check_host("[::1]:8080", "", &err), 0);
	ASSERT_EQ(api_check_host("LocalHost:8080", NULL, &err), 0);
	ASSERT(api_check_host("evil.example:8080", "", &err) < 0);
	ASSERT_EQ(err.code, API_E_UNKNOWN_HOST);
	ASSERT_EQ(api_error_http_status(err.code), 403);
	ASSERT(api_check_host("localhost.evil.example", NULL, &err) < 0);
	ASSERT(api_check_host("127.0.0.1.evil.example", NULL, &err) < 0);
	ASSERT_EQ(api_check_host("run.example.org", "docs.example.org, run.example.org", &err), 0);
	ASSERT_EQ(api_check_host("RUN.example.org:443", "run.example.org", &err), 0);
	ASSERT(api_check_host("run.example.org.evil", "run.example.org", &err) < 0);
	ASSERT(api_check_host("example.org", "run.example.org", &err) < 0);
	ASSERT_EQ(api_check_host("anything.example", "*", &err), 0);
}

/* The request fields of /api/v1/execute beyond one run: tests, judging
 * flags, runs, compile options, callback_url, limits.file_size_bytes. */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* A body built with printf's format. */
__attribute__((format(printf, 3, 4)))
static enum api_error_code execf(struct api_request *req, struct api_error *err,
				 const char *fmt, ...)
{
	va_list ap;
	char *body = NULL;
	enum api_error_code c;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		body = NULL;
	va_end(ap);
	if (!body)
		return API_E_COUNT;
	c = parse(API_EXECUTE, body, req, err);
	free(body);
	return c;
}

TEST(api_tests_field)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stdin\": \"job\", \"args\": [\"j\"],"
			" \"tests\": [{\"stdin\": \"a\\u0000b\", \"expected_output\": \"A\\n\"},"
			" {\"args\": [\"p\", \"q r\"]}, {\"expected_output\": \"\"},"
			" {\"args\": [], \"stdin\": \"\"}, {\"args\": null, \"stdin\": null,"
			" \"expected_output\": null}, {}]}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.ntests, 6);
	ASSERT(req.tests != NULL);
	/* 0: stdin with a NUL, an expected output, the job's args. */
	ASSERT_MEMEQ(req.tests[0].stdin_data, req.tests[0].stdin_len, "a\0b", (size_t)3);
	ASSERT(req.tests[0].has_expected);
	ASSERT_MEMEQ(req.tests[0].expected, req.tests[0].expected_len, "A\n", (size_t)2);
	ASSERT(!req.tests[0].has_args);
	/* 1: its own args, the job's stdin, nothing expected. */
	ASSERT(req.tests[1].stdin_data == NULL);
	ASSERT(req.tests[1].has_args);
	ASSERT_EQ(req.tests[1].argc, 2);
	ASSERT_STREQ(req.tests[1].argv[0], "p");
	ASSERT_STREQ(req.tests[1].argv[1], "q r");
	ASSERT(!req.tests[1].has_expected);
	/* 2: an empty expected output is one. */
	ASSERT(req.tests[2].has_expected);
	ASSERT_EQ(req.tests[2].expected_len, 0);
	/* 3: no arguments and an empty stdin are its own. */
	ASSERT(req.tests[3].has_args);
	ASSERT_EQ(req.tests[3].argc, 0);
	ASSERT(req.tests[3].stdin_data != NULL);
	ASSERT_EQ(req.tests[3].stdin_len, 0);
	/* 4 and 5: null is absent. */
	for (size_t i = 4; i < 6; i++) {
		ASSERT(!req.tests[i].has_args);
		ASSERT(!req.tests[i].has_expected);
		ASSERT(req.tests[i].stdin_data == NULL);
	}
	/* The job's own stdin and args stay. */
	ASSERT_MEMEQ(req.stdin_data, req.stdin_len, "job", (size_t)3);
	ASSERT_EQ(req.argc, 1);

	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT(spec.tests == req.tests);
	ASSERT_EQ(spec.ntests, 6);
	ASSERT_EQ(spec.runs, 1);
	ASSERT(!spec.stop_on_failure);
	ASSERT(!spec.redirect_stderr);
	ASSERT(spec.rt == NULL);
	ASSERT_STREQ(spec.language, "python");
	ASSERT_EQ(spec.stdin_len, 3);
	ASSERT_EQ(spec.argc, 1);
	api_request_release(&req);

	/* Without tests: none. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"tests\": null}", &req, &err), API_E_NONE);
	ASSERT(req.tests == NULL);
	ASSERT_EQ(req.ntests, 0);
	api_request_release(&req);
}

TEST(api_tests_field_refused)
{
	struct api_error err;
	static const struct {
		const char *tests, *says;
	} bad[] = {
		{ "[]", "1 to 256" },
		{ "{}", "1 to 256" },
		{ "\"x\"", "1 to 256" },
		{ "5", "1 to 256" },
		{ "[5]", "tests[0] must be an object" },
		{ "[{}, []]", "tests[1] must be an object" },
		{ "[{\"stdin\": \"a\", \"expected\": \"b\"}]", "tests[0].expected'" },
		{ "[{}, {\"input\": \"a\"}]", "tests[1].input" },
		{ "[{\"stdin\": 5}]", "'stdin'" },
		{ "[{\"stdin\": [\"a\"]}]", "'stdin'" },
		{ "[{\"expected_output\": 1}]", "'expected_output'" },
		{ "[{\"expected_output\": true}]", "'expected_output'" },
		{ "[{\"args\": \"a b\"}]", "tests[0].args" },
		{ "[{\"args\": {}}]", "tests[0].args" },
		{ "[{}, {\"args\": [\"a\", 1]}]", "tests[1].args[1]" },
		{ "[{\"args\": [null]}]", "tests[0].args[0]" },
		{ "[{\"args\": [\"a\\u0000b\"]}]", "NUL" },
	};
	char body[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"tests\": %s}", bad[i].tests);
		enum api_error_code c = exec_code(body, &err);
		if (c != API_E_INVALID_REQUEST || !strstr(err.message, bad[i].says))
			fprintf(stderr, "  %s: %d %s\n", bad[i].tests, (int)c, err.message);
		ASSERT_EQ(c, API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, bad[i].says));
	}
	/* The unknown field's message names the known ones. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"tests\": [{\"stdn\": \"\"}]}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "stdin, args, expected_output"));
	/* Too many arguments for one test. */
	{
		size_t cap = 8 * 1024, n;
		char *b = malloc(cap);
		n = (size_t)snprintf(b, cap, "{\"code\": \"x\", \"tests\": [{\"args\": [");
		for (unsigned i = 0; i <= SBX_MAX_ARGS; i++)
			n += (size_t)snprintf(b + n, cap - n, "%s\"a\"", i ? "," : "");
		snprintf(b + n, cap - n, "]}]}");
		ASSERT_EQ(exec_code(b, &err), API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, "tests[0].args"));
		free(b);
	}
}

TEST(api_tests_count_bounds)
{
	struct api_request req;
	struct api_error err;
	size_t cap = 16 * 1024, n;
	char *body = malloc(cap);

	for (unsigned count = API_MAX_TESTS; count <= API_MAX_TESTS + 1; count++) {
		n = (size_t)snprintf(body, cap, "{\"code\": \"x\", \"tests\": [");
		for (unsigned i = 0; i < count; i++)
			n += (size_t)snprintf(body + n, cap - n, "%s{\"stdin\": \"%u\"}",
					      i ? ", " : "", i);
		snprintf(body + n, cap - n, "]}");
		if (count == API_MAX_TESTS) {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
			ASSERT_EQ(req.ntests, 256);
			ASSERT_MEMEQ(req.tests[255].stdin_data, req.tests[255].stdin_len, "255",
				     (size_t)3);
			api_request_release(&req);
		} else {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_INVALID_REQUEST);
			ASSERT(strstr(err.message, "'tests'"));
			ASSERT(strstr(err.message, "256"));
		}
	}
	/* One test is enough. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"tests\": [{}]}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.ntests, 1);
	api_request_release(&req);
	free(body);
}

/* The tests' stdin and expected outputs together stay within what one
 * request may bring (SBX_MAX_STDIN): exactly that passes, a byte more does
 * not.  Built as a json_t, one string shared, to spare memory. */
TEST(api_tests_total_size_bound)
{
	const size_t half = SBX_MAX_STDIN / 2;
	struct api_request req;
	struct api_error err;
	char *big = malloc(half);
	json_t *s, *root;

	ASSERT(big != NULL);
	memset(big, 'x', half);
	s = json_stringn_nocheck(big, half);
	free(big);
	ASSERT(s != NULL);

	root = json_pack("{s:s, s:[{s:O, s:O}]}", "code", "x", "tests", "stdin", s,
			 "expected_output", s);
	ASSERT(root != NULL);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), 0);
	ASSERT_EQ(req.tests[0].stdin_len + req.tests[0].expected_len, SBX_MAX_STDIN);
	api_request_release(&req);

	root = json_pack("{s:s, s:[{s:O, s:O}, {s:s}]}", "code", "x", "tests", "stdin", s,
			 "expected_output", s, "expected_output", "y");
	ASSERT(root != NULL);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_PAYLOAD_TOO_LARGE);
	ASSERT_EQ(api_error_http_status(err.code), 413);
	ASSERT(strstr(err.message, "expected_output"));

	/* The same spread over many tests. */
	root = json_pack("{s:s, s:[{s:O}, {s:O}, {s:s}]}", "code", "x", "tests", "stdin", s,
			 "stdin", s, "stdin", "z");
	ASSERT(root != NULL);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_PAYLOAD_TOO_LARGE);
	json_decref(s);
}

TEST(api_judging_flags_types)
{
	struct api_request req;
	struct api_error err;
	static const char *const flags[] = { "stop_on_failure", "redirect_stderr" };
	static const char *const bad[] = { "1", "0", "\"true\"", "[]", "{}", "1.0" };

	for (size_t f = 0; f < 2; f++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"%s\": %s}", flags[f], bad[i]),
				  API_E_INVALID_REQUEST);
			ASSERT(strstr(err.message, flags[f]));
			ASSERT(strstr(err.message, "boolean"));
		}
		ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"%s\": null}", flags[f]), API_E_NONE);
		ASSERT(!req.stop_on_failure && !req.redirect_stderr);
		api_request_release(&req);
		ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"%s\": false}", flags[f]), API_E_NONE);
		ASSERT(!req.stop_on_failure && !req.redirect_stderr);
		api_request_release(&req);
	}
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stop_on_failure\": true}", &req, &err),
		  API_E_NONE);
	ASSERT(req.stop_on_failure);
	ASSERT(!req.redirect_stderr);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"redirect_stderr\": true}", &req, &err),
		  API_E_NONE);
	ASSERT(req.redirect_stderr);
	ASSERT(!req.stop_on_failure);

	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT(spec.redirect_stderr);
	ASSERT(!spec.stop_on_failure);
	ASSERT(spec.tests == NULL);
	ASSERT_EQ(spec.ntests, 0);
	api_request_release(&req);
	/* stop_on_failure without tests is harmless. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stop_on_failure\": true,"
			" \"tests\": [{}], \"redirect_stderr\": true}", &req, &err), API_E_NONE);
	api_request_job(&req, &spec);
	ASSERT(spec.stop_on_failure && spec.redirect_stderr);
	api_request_release(&req);
}

TEST(api_runs_bounds)
{
	struct api_request req;
	struct api_error err;
	static const char *const bad[] = { "0", "21", "-1", "1.5", "2.0", "\"2\"", "true", "[3]",
					   "9223372036854775807", "-9223372036854775808",
					   "4294967297" };

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\"}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.runs, 1);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"runs\": null}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.runs, 1);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"runs\": 1}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.runs, 1);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"runs\": 20}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.runs, API_MAX_RUNS);

	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT_EQ(spec.runs, 20);
	api_request_release(&req);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"runs\": %s}", bad[i]),
			  API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, "'runs'"));
		ASSERT(strstr(err.message, "1 to 20"));
	}
}

/* The repository's runtimes: from the working directory (the tests run
 * from the tree's top), else beside the binary's build folder. */
static bool repo_runtimes(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (access("runtimes/c.conf", R_OK) == 0) {
		snprintf(buf, len, "runtimes");
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(exe, '/');
		char conf[PATH_MAX + 16];
		if (!slash)
			return false;
		*slash = '\0';
		if ((size_t)snprintf(buf, len, "%.*s/runtimes", PATH_MAX - 16, exe) >= len)
			return false;
		snprintf(conf, sizeof(conf), "%s/c.conf", buf);
		if (access(conf, R_OK) == 0)
			return true;
	}
	return false;
}

/* The real runtime files, with C marked available without probing it (its
 * options are checked, not run); python too when with_python. */
static struct rt_registry *load_runtimes(bool with_python)
{
	struct rt_registry *reg = NULL;
	struct runtime *rt;
	char dir[PATH_MAX], why[256];

	if (!repo_runtimes(dir, sizeof(dir)) || rt_registry_load(&reg, dir, why, sizeof(why)) < 0)
		return NULL;
	if (!(rt = rt_lookup(reg, "c", 1))) {
		rt_registry_free(reg);
		return NULL;
	}
	rt->available = true;
	snprintf(rt->version_text, sizeof(rt->version_text), "12.2.0");
	if (with_python && (rt = rt_lookup(reg, "python", 6)))
		rt->available = true;
	return reg;
}

static enum api_error_code exec_rt(const struct rt_registry *reg, const char *body,
				   struct api_request *req, struct api_error *err)
{
	int r = api_parse_request(API_EXECUTE, body, strlen(body), &maxima, reg, req, err);

	if (r == 0)
		return API_E_NONE;
	return err->code == API_E_NONE ? API_E_COUNT : err->code;
}

/* One compile option for C: whether it passes. */
static enum api_error_code c_option(const struct rt_registry *reg, const char *opt,
				    struct api_error *err)
{
	struct api_request req;
	char body[512];
	enum api_error_code c;

	snprintf(body, sizeof(body), "{\"language\": \"c\", \"code\": \"int main(void){}\","
		 " \"compile_options\": [\"%s\"]}", opt);
	c = exec_rt(reg, body, &req, err);
	if (c == API_E_NONE) {
		if (req.noptions != 1 || strcmp(req.options[0], opt) != 0)
			c = API_E_COUNT;
		api_request_release(&req);
	}
	return c;
}

TEST(api_compile_options_per_runtime)
{
	struct rt_registry *reg = load_runtimes(false);
	struct api_request req;
	struct api_error err;
	static const char *const good[] = { "-O0", "-O3", "-Os", "-g", "-w", "-Wall", "-Wextra",
					    "-Werror", "-pedantic", "-std=c99", "-std=gnu11",
					    "-DNDEBUG", "-DN=10", "-UX", "-lm", "-pthread",
					    "-lpthread" };
	static const char *const bad[] = { "-o", "-ofoo", "-O4", "-fplugin=/tmp/x.so",
					   "-specs=/box/s", "-B/box", "-lcrypt", "-L/box",
					   "-I/etc", "-include/etc/passwd", "--version", "main.c",
					   "/etc/passwd", "-x", "", "-O0 -o x", " -O0", "-O0 " };

	if (!reg)
		TEST_SKIP("no runtimes directory with c.conf");
	ASSERT(rt_find(reg, "c", 1) != NULL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		enum api_error_code c = c_option(reg, good[i], &err);
		if (c != API_E_NONE)
			fprintf(stderr, "  refused '%s': %s\n", good[i], err.message);
		ASSERT_EQ(c, API_E_NONE);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum api_error_code c = c_option(reg, bad[i], &err);
		if (c != API_E_INVALID_REQUEST)
			fprintf(stderr, "  allowed '%s'\n", bad[i]);
		ASSERT_EQ(c, API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, "compile_options"));
	}
	/* The refusal names the option and lists what is allowed. */
	ASSERT_EQ(c_option(reg, "-fplugin=x", &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'-fplugin=x'"));
	ASSERT(strstr(err.message, "-O0"));
	ASSERT(strstr(err.message, "-std=*"));
	ASSERT(strstr(err.message, "-lpthread"));

	/* Several, in order, into the job. */
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"gcc\", \"code\": \"int main(void){}\","
			  " \"compile_options\": [\"-O0\", \"-DX=1\", \"-lm\"]}", &req, &err),
		  API_E_NONE);
	ASSERT_STREQ(req.language, "c");
	ASSERT(req.rt != NULL);
	ASSERT_EQ(req.noptions, 3);
	ASSERT_STREQ(req.options[0], "-O0");
	ASSERT_STREQ(req.options[1], "-DX=1");
	ASSERT_STREQ(req.options[2], "-lm");

	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT(spec.options == (const char *const *)req.options);
	ASSERT_EQ(spec.noptions, 3);
	ASSERT(spec.rt == req.rt);
	ASSERT_EQ(spec.nfiles, 1);
	ASSERT_STREQ(spec.files[0].name, "main.c");
	api_request_release(&req);

	/* None, empty, null. */
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"code\": \"\", \"compile_options\": []}",
			  &req, &err), API_E_NONE);
	ASSERT_EQ(req.noptions, 0);
	api_request_release(&req);
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"code\": \"\", \"compile_options\": null}",
			  &req, &err), API_E_NONE);
	ASSERT_EQ(req.noptions, 0);
	ASSERT(req.options == NULL);
	api_request_release(&req);

	/* Types. */
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"code\": \"\", \"compile_options\": \"-O0\"}",
			  &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "compile_options"));
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"code\": \"\", \"compile_options\": [1]}",
			  &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "compile_options[0]"));
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"code\": \"\", \"compile_options\":"
			  " [\"-O0\", \"-DA\\u0000B\"]}", &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "compile_options[1]"));
	ASSERT(strstr(err.message, "NUL"));
	rt_registry_free(reg);
}

TEST(api_compile_options_counts_and_lengths)
{
	struct rt_registry *reg = load_runtimes(false);
	struct api_request req;
	struct api_error err;
	char body[8192], opt[RT_OPTION_MAX + 2];
	size_t n;

	if (!reg)
		TEST_SKIP("no runtimes directory with c.conf");
	/* 32 options pass, 33 do not. */
	for (unsigned count = RT_MAX_OPTIONS; count <= RT_MAX_OPTIONS + 1; count++) {
		n = (size_t)snprintf(body, sizeof(body),
				     "{\"language\": \"c\", \"code\": \"\", \"compile_options\": [");
		for (unsigned i = 0; i < count; i++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"-DV%u\"",
					      i ? ", " : "", i);
		snprintf(body + n, sizeof(body) - n, "]}");
		if (count == RT_MAX_OPTIONS) {
			ASSERT_EQ(exec_rt(reg, body, &req, &err), API_E_NONE);
			ASSERT_EQ(req.noptions, 32);
			ASSERT_STREQ(req.options[31], "-DV31");
			api_request_release(&req);
		} else {
			ASSERT_EQ(exec_rt(reg, body, &req, &err), API_E_INVALID_REQUEST);
			ASSERT(strstr(err.message, "compile_options"));
			ASSERT(strstr(err.message, "33"));
			ASSERT(strstr(err.message, "32"));
		}
	}
	/* 128 bytes pass, 129 do not. */
	memset(opt, 'A', sizeof(opt));
	opt[0] = '-';
	opt[1] = 'D';
	opt[RT_OPTION_MAX] = '\0';
	ASSERT_EQ(c_option(reg, opt, &err), API_E_NONE);
	opt[RT_OPTION_MAX] = 'A';
	opt[RT_OPTION_MAX + 1] = '\0';
	ASSERT_EQ(strlen(opt), 129);
	ASSERT_EQ(c_option(reg, opt, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "compile_options[0]"));
	ASSERT(strstr(err.message, "128"));
	rt_registry_free(reg);
}

TEST(api_compile_options_only_for_compiled_languages)
{
	struct rt_registry *reg;
	struct api_request req;
	struct api_error err;

	/* The built-in Python, without runtimes. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"compile_options\": [\"-O2\"]}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "compile_options"));
	ASSERT(strstr(err.message, "python"));
	/* Even empty: the field has no meaning there. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"compile_options\": []}", &err),
		  API_E_INVALID_REQUEST);
	/* null is absent. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"compile_options\": null}", &err), API_E_NONE);

	/* The built-in Python beside the C runtime. */
	if (!(reg = load_runtimes(false)))
		TEST_SKIP("no runtimes directory with c.conf");
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"python\", \"code\": \"x\", \"compile_options\":"
			  " [\"-O0\"]}", &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "python"));
	rt_registry_free(reg);
	/* Python as a runtime file (not compiled). */
	reg = load_runtimes(true);
	ASSERT(reg != NULL);
	ASSERT(rt_find(reg, "python", 6) != NULL);
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"py\", \"code\": \"x\", \"compile_options\":"
			  " [\"-O0\"]}", &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "python is not compiled"));
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"py\", \"code\": \"x\"}", &req, &err), API_E_NONE);
	ASSERT(req.rt != NULL);
	ASSERT_EQ(req.noptions, 0);
	api_request_release(&req);
	rt_registry_free(reg);
}

TEST(api_callback_url)
{
	struct api_request req;
	struct api_error err;
	char *body;
	size_t n;

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"callback_url\":"
			" \"https://example.com/hook?id=1\"}", &req, &err), API_E_NONE);
	ASSERT_STREQ(req.callback_url, "https://example.com/hook?id=1");
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"callback_url\": null}", &req, &err),
		  API_E_NONE);
	ASSERT(req.callback_url == NULL);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\"}", &req, &err), API_E_NONE);
	ASSERT(req.callback_url == NULL);
	api_request_release(&req);

	static const char *const bad_types[] = { "5", "true", "[\"http://a\"]", "{}" };
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"callback_url\": %s}", bad_types[i]),
			  API_E_INVALID_REQUEST);
		ASSERT(strstr(err.message, "callback_url"));
	}
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"callback_url\": \"\"}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "callback_url"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"callback_url\": \"http://a/\\u0000b\"}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "callback_url"));

	/* 2048 bytes pass, 2049 do not. */
	body = malloc(API_URL_MAX + 128);
	ASSERT(body != NULL);
	for (size_t len = API_URL_MAX; len <= API_URL_MAX + 1; len++) {
		n = (size_t)snprintf(body, API_URL_MAX + 128,
				     "{\"code\": \"x\", \"callback_url\": \"http://h/");
		size_t fill = len - strlen("http://h/");
		memset(body + n, 'a', fill);
		n += fill;
		snprintf(body + n, API_URL_MAX + 128 - n, "\"}");
		if (len == API_URL_MAX) {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_NONE);
			ASSERT_EQ(strlen(req.callback_url), API_URL_MAX);
			api_request_release(&req);
		} else {
			ASSERT_EQ(parse(API_EXECUTE, body, &req, &err), API_E_INVALID_REQUEST);
			ASSERT(strstr(err.message, "callback_url"));
			ASSERT(strstr(err.message, "2048"));
		}
	}
	free(body);
}

TEST(api_limit_file_size_bytes)
{
	const struct sbx_limit_info *li = sbx_limit_info(SBX_LIMIT_FILE_SIZE);
	struct api_maxima low = maxima;
	struct api_request req;
	struct api_error err;
	struct sbx_limits l;

	/* No maximum configured: the sandbox's. */
	ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %llu}}",
			(unsigned long long)li->min), API_E_NONE);
	ASSERT_EQ(req.limits.file_size_bytes, li->min);
	api_request_release(&req);
	ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %llu}}",
			(unsigned long long)li->max), API_E_NONE);
	ASSERT_EQ(req.limits.file_size_bytes, li->max);
	api_request_release(&req);
	ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %llu}}",
			(unsigned long long)li->max + 1), API_E_LIMIT_EXCEEDED);
	ASSERT(strstr(err.message, "limits.file_size_bytes"));
	static const char *const bad[] = { "0", "-1", "1.5", "\"1024\"", "true", "[]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(execf(&req, &err, "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %s}}",
				bad[i]), API_E_INVALID_LIMIT);
		ASSERT(strstr(err.message, "file_size_bytes"));
	}
	/* Absent: the engine's default. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"limits\": {\"wall_time_ms\": 1000}}",
			&req, &err), API_E_NONE);
	ASSERT_EQ(req.limits.file_size_bytes, SBX_DEFAULT_FILE_SIZE);

	/* Into the job, and into the answer's limits. */
	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT_EQ(spec.limits.file_size_bytes, SBX_DEFAULT_FILE_SIZE);
	api_request_release(&req);

	/* The unknown field's message lists it among the known. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"limits\": {\"file_size\": 10}}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "limits.file_size'"));
	ASSERT(strstr(err.message, "known:"));
	ASSERT(strstr(err.message, "file_size_bytes"));

	/* A configured maximum: exactly it passes, a byte more does not. */
	low.file_size_bytes = 1u << 20;
	api_max_limits(&low, &l);
	ASSERT_EQ(l.file_size_bytes, 1u << 20);
	{
		char body[128];
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %u}}",
			 1u << 20);
		ASSERT_EQ(api_parse_request(API_EXECUTE, body, strlen(body), &low, NULL, &req, &err),
			  0);
		ASSERT_EQ(req.limits.file_size_bytes, 1u << 20);
		json_t *j = api_limits_json(&req.limits);
		ASSERT_EQ(json_integer_value(json_object_get(j, "file_size_bytes")), 1u << 20);
		json_decref(j);
		api_request_release(&req);
		snprintf(body, sizeof(body), "{\"code\": \"x\", \"limits\": {\"file_size_bytes\": %u}}",
			 (1u << 20) + 1);
		ASSERT_EQ(api_parse_request(API_EXECUTE, body, strlen(body), &low, NULL, &req, &err),
			  -EINVAL);
		ASSERT_EQ(err.code, API_E_LIMIT_EXCEEDED);
		ASSERT(strstr(err.message, "1048576"));
	}
}

/* A request that asks for no file size limit gets the default, or the
 * server's maximum where that is lower, as every other limit does. */
TEST(api_default_file_size_never_above_maximum)
{
	struct api_maxima low = maxima;
	struct api_request req;
	struct api_error err;
	struct sbx_limits l;

	low.file_size_bytes = 1u << 20;	/* below SBX_DEFAULT_FILE_SIZE */
	api_default_limits(&low, &l);
	ASSERT(l.file_size_bytes <= low.file_size_bytes);
	ASSERT_EQ(api_parse_request(API_EXECUTE, "{\"code\": \"x\"}", 13, &low, NULL, &req, &err),
		  0);
	if (req.limits.file_size_bytes > low.file_size_bytes)
		fprintf(stderr, "  file_size_bytes %llu above the maximum %llu\n",
			(unsigned long long)req.limits.file_size_bytes,
			(unsigned long long)low.file_size_bytes);
	ASSERT(req.limits.file_size_bytes <= low.file_size_bytes);
	api_request_release(&req);
}

TEST(api_run_ignores_the_execute_fields)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_RUN, "{\"code\": \"print(1)\", \"tests\": [{\"stdin\": 5}],"
			" \"stop_on_failure\": \"yes\", \"redirect_stderr\": 1, \"runs\": 0,"
			" \"compile_options\": [\"-fplugin=x\"], \"callback_url\": 7,"
			" \"limits\": {\"file_size_bytes\": 0, \"wall_time_ms\": 1},"
			" \"stdin\": 3, \"args\": {}}", &req, &err), API_E_NONE);
	ASSERT(req.tests == NULL);
	ASSERT_EQ(req.ntests, 0);
	ASSERT(!req.stop_on_failure);
	ASSERT(!req.redirect_stderr);
	ASSERT_EQ(req.runs, 1);
	ASSERT(req.options == NULL);
	ASSERT_EQ(req.noptions, 0);
	ASSERT(req.callback_url == NULL);
	ASSERT_EQ(req.limits.file_size_bytes, SBX_DEFAULT_FILE_SIZE);
	ASSERT_EQ(req.limits.wall_ms, SBX_DEFAULT_WALL_MS);
	ASSERT(req.stdin_data == NULL);
	ASSERT_EQ(req.argc, 0);

	struct job_spec spec;

	api_request_job(&req, &spec);
	ASSERT_EQ(spec.runs, 1);
	ASSERT(spec.tests == NULL);
	api_request_release(&req);

	/* Valid values are ignored too. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"x\", \"tests\": [{\"stdin\": \"a\"}], \"runs\": 5,"
			" \"redirect_stderr\": true, \"callback_url\": \"http://a/\"}", &req, &err),
		  API_E_NONE);
	ASSERT(req.tests == NULL);
	ASSERT_EQ(req.runs, 1);
	ASSERT(!req.redirect_stderr);
	ASSERT(req.callback_url == NULL);
	api_request_release(&req);
}

TEST(api_parse_value_takes_a_json_value)
{
	struct api_request req;
	struct api_error err;
	json_t *root;

	root = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:[s]}], s:b, s:i, s:s, s:{s:i}}",
			 "language", "python3", "code", "print(input())",
			 "tests", "stdin", "a", "expected_output", "a", "args", "x",
			 "stop_on_failure", 1, "runs", 3, "callback_url", "http://127.0.0.1:9/cb",
			 "limits", "file_size_bytes", 4096);
	ASSERT(root != NULL);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), 0);
	ASSERT(req.root == root);
	ASSERT_STREQ(req.language, "python");
	ASSERT_MEMEQ(req.code, req.code_len, "print(input())", (size_t)14);
	ASSERT_EQ(req.ntests, 2);
	ASSERT(req.tests[0].has_expected);
	ASSERT(req.tests[1].has_args);
	ASSERT_STREQ(req.tests[1].argv[0], "x");
	ASSERT(req.stop_on_failure);
	ASSERT_EQ(req.runs, 3);
	ASSERT_STREQ(req.callback_url, "http://127.0.0.1:9/cb");
	ASSERT_EQ(req.limits.file_size_bytes, 4096);
	api_request_release(&req);	/* releases root */

	/* The same checks as a body's: an unknown field, a bad runs. */
	root = json_pack("{s:s, s:i}", "code", "x", "run", 2);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "'run'"));
	root = json_pack("{s:s, s:i}", "code", "x", "runs", 21);
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT(strstr(err.message, "'runs'"));
	/* Not an object: refused, and consumed all the same. */
	root = json_array();
	ASSERT_EQ(api_parse_value(API_EXECUTE, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_INVALID_REQUEST);
	root = json_string("code");
	ASSERT_EQ(api_parse_value(API_JUDGE0, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_INVALID_REQUEST);
	/* A missing field. */
	root = json_pack("{s:[{}]}", "tests");
	ASSERT_EQ(api_parse_value(API_PISTON, root, &maxima, NULL, &req, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_MISSING_FIELD);
	/* The peers' endpoints take every field. */
	root = json_pack("{s:s, s:i, s:b}", "code", "x", "runs", 2, "redirect_stderr", 1);
	ASSERT_EQ(api_parse_value(API_JUDGE0, root, &maxima, NULL, &req, &err), 0);
	ASSERT_EQ(req.runs, 2);
	ASSERT(req.redirect_stderr);
	api_request_release(&req);
	/* API_RUN through it ignores them, as from a body. */
	root = json_pack("{s:s, s:i}", "code", "x", "runs", 99);
	ASSERT_EQ(api_parse_value(API_RUN, root, &maxima, NULL, &req, &err), 0);
	ASSERT_EQ(req.runs, 1);
	api_request_release(&req);
}

/* A result of the three verdicts by hand: test 0 accepted, 1 a wrong
 * answer (decisive), 2 not run; each with its own numbers. */
struct three {
	struct job_test_result t[3];
	struct job_result jr;
};

static void three_tests(struct three *x, enum job_verdict second, enum sbx_status second_status)
{
	static char empty[3][1];

	memset(x, 0, sizeof(*x));
	x->t[0].verdict = JOB_ACCEPTED;
	x->t[0].res = result(SBX_OK);
	x->t[0].res.out = (struct sbx_buf){ (char *)"1\n", 2 };
	x->t[0].res.output = x->t[0].res.out;
	x->t[0].res.has_exit_code = true;
	x->t[0].res.wall_time_ms = 11;
	x->t[0].res.cpu_time_ms = 5;
	x->t[0].res.memory_bytes = 1000;

	x->t[1].verdict = second;
	x->t[1].res = result(second_status);
	x->t[1].res.out = (struct sbx_buf){ (char *)"2\n", 2 };
	x->t[1].res.err = (struct sbx_buf){ (char *)"warn\n", 5 };
	x->t[1].res.output = (struct sbx_buf){ (char *)"2\nwarn\n", 7 };
	x->t[1].res.has_exit_code = second_status == SBX_OK;
	x->t[1].res.exit_code = 0;
	x->t[1].res.wall_time_ms = 22;
	x->t[1].res.cpu_time_ms = 6;
	x->t[1].res.memory_bytes = 2000;
	x->t[1].res.stdout_truncated = true;

	x->t[2].verdict = JOB_NOT_RUN;
	x->t[2].res.out = (struct sbx_buf){ empty[0], 0 };
	x->t[2].res.err = (struct sbx_buf){ empty[1], 0 };
	x->t[2].res.output = (struct sbx_buf){ empty[2], 0 };

	x->jr.tests = x->t;
	x->jr.ntests = 3;
	x->jr.decisive = 1;
	x->jr.accepted = 1;
	x->jr.failed = 1;
	x->jr.not_run = 1;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

TEST(api_response_with_tests)
{
	static const char *const fields[] = { "verdict", "status", "exit_code", "signal", "stdout",
		"stderr", "output", "stdout_truncated", "stderr_truncated", "wall_time_ms",
		"cpu_time_ms", "memory_bytes", "message" };
	struct api_request req;
	struct api_error err;
	struct three x;
	json_t *j, *tests, *totals, *t;

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stop_on_failure\": true, \"tests\":"
			" [{\"expected_output\": \"1\"}, {\"expected_output\": \"3\"},"
			" {\"expected_output\": \"4\"}]}", &req, &err), API_E_NONE);
	three_tests(&x, JOB_WRONG_ANSWER, SBX_OK);
	j = api_response_json(API_EXECUTE, 9, &req, &x.jr);
	ASSERT(j != NULL);
	ASSERT_EQ(num(j, "id"), 9);
	ASSERT_STREQ(str(j, "language"), "python");
	ASSERT_STREQ(str(j, "verdict"), "wrong_answer");
	/* The top-level fields are the decisive test's. */
	ASSERT_STREQ(str(j, "status"), "ok");
	ASSERT_STREQ(str(j, "stdout"), "2\n");
	ASSERT_STREQ(str(j, "stderr"), "warn\n");
	ASSERT_STREQ(str(j, "output"), "2\nwarn\n");
	ASSERT_EQ(num(j, "exit_code"), 0);
	ASSERT(json_is_integer(json_object_get(j, "exit_code")));
	ASSERT(json_is_null(json_object_get(j, "signal")));
	ASSERT_EQ(num(j, "wall_time_ms"), 22);
	ASSERT_EQ(num(j, "cpu_time_ms"), 6);
	ASSERT_EQ(num(j, "memory_bytes"), 2000);
	ASSERT(json_is_true(json_object_get(j, "stdout_truncated")));
	ASSERT(json_is_false(json_object_get(j, "stderr_truncated")));
	ASSERT(json_object_get(j, "limits") != NULL);
	ASSERT(json_object_get(j, "compile") == NULL);
	/* The totals. */
	totals = json_object_get(j, "totals");
	ASSERT(json_is_object(totals));
	ASSERT_EQ(json_object_size(totals), 4);
	ASSERT_EQ(num(totals, "tests"), 3);
	ASSERT_EQ(num(totals, "accepted"), 1);
	ASSERT_EQ(num(totals, "failed"), 1);
	ASSERT_EQ(num(totals, "not_run"), 1);
	/* Each test. */
	tests = json_object_get(j, "tests");
	ASSERT(json_is_array(tests));
	ASSERT_EQ(json_array_size(tests), 3);
	t = json_array_get(tests, 0);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		ASSERT(json_object_get(t, fields[i]) != NULL);
	ASSERT_EQ(json_object_size(t), sizeof(fields) / sizeof(fields[0]));
	ASSERT_STREQ(str(t, "verdict"), "accepted");
	ASSERT_STREQ(str(t, "status"), "ok");
	ASSERT_STREQ(str(t, "stdout"), "1\n");
	ASSERT_STREQ(str(t, "stderr"), "");
	ASSERT_EQ(num(t, "exit_code"), 0);
	ASSERT_EQ(num(t, "wall_time_ms"), 11);
	ASSERT_EQ(num(t, "memory_bytes"), 1000);
	ASSERT_STREQ(str(t, "message"), "");
	t = json_array_get(tests, 1);
	ASSERT_EQ(json_object_size(t), sizeof(fields) / sizeof(fields[0]));
	ASSERT_STREQ(str(t, "verdict"), "wrong_answer");
	ASSERT_STREQ(str(t, "status"), "ok");
	ASSERT_STREQ(str(t, "stdout"), "2\n");
	ASSERT_STREQ(str(t, "stderr"), "warn\n");
	ASSERT_EQ(num(t, "wall_time_ms"), 22);
	ASSERT(json_is_true(json_object_get(t, "stdout_truncated")));
	t = json_array_get(tests, 2);
	ASSERT_EQ(json_object_size(t), 1);
	ASSERT_STREQ(str(t, "verdict"), "not_run");
	json_decref(j);

	/* The tests part alone, for the history: the same three keys. */
	j = api_tests_json(&req, &x.jr);
	ASSERT(j != NULL);
	ASSERT_EQ(json_object_size(j), 3);
	ASSERT_STREQ(str(j, "verdict"), "wrong_answer");
	ASSERT_EQ(json_array_size(json_object_get(j, "tests")), 3);
	ASSERT_EQ(num(json_object_get(j, "totals"), "not_run"), 1);
	ASSERT_STREQ(str(json_array_get(json_object_get(j, "tests"), 2), "verdict"), "not_run");
	json_decref(j);

	/* A failed test's status is its verdict. */
	three_tests(&x, JOB_FAILED, SBX_TIMEOUT);
	j = api_response_json(API_EXECUTE, -1, &req, &x.jr);
	ASSERT(j != NULL);
	ASSERT_STREQ(str(j, "verdict"), "timeout");
	ASSERT_STREQ(str(j, "status"), "timeout");
	ASSERT(json_is_null(json_object_get(j, "exit_code")));
	ASSERT(strstr(str(j, "message"), "Time limit exceeded"));
	t = json_array_get(json_object_get(j, "tests"), 1);
	ASSERT_STREQ(str(t, "verdict"), "timeout");
	ASSERT(strstr(str(t, "message"), "Time limit exceeded"));
	json_decref(j);

	/* All accepted: the last decides. */
	three_tests(&x, JOB_ACCEPTED, SBX_OK);
	x.t[2] = x.t[0];
	x.t[2].res.out = (struct sbx_buf){ (char *)"3\n", 2 };
	x.jr.decisive = 2;
	x.jr.accepted = 3;
	x.jr.failed = x.jr.not_run = 0;
	j = api_response_json(API_EXECUTE, 1, &req, &x.jr);
	ASSERT_STREQ(str(j, "verdict"), "accepted");
	ASSERT_STREQ(str(j, "stdout"), "3\n");
	ASSERT_EQ(num(json_object_get(j, "totals"), "accepted"), 3);
	json_decref(j);

	/* The compile failed: compile_error, every test not run. */
	three_tests(&x, JOB_NOT_RUN, SBX_OK);
	x.t[0].verdict = JOB_NOT_RUN;
	x.jr.compiled = true;
	x.jr.compile_failed = true;
	x.jr.compile = result(SBX_RUNTIME_ERROR);
	x.jr.compile.err = (struct sbx_buf){ (char *)"main.c:1: error\n", 16 };
	x.jr.compile.has_exit_code = true;
	x.jr.compile.exit_code = 1;
	x.jr.decisive = 0;
	x.jr.accepted = x.jr.failed = 0;
	x.jr.not_run = 3;
	j = api_response_json(API_EXECUTE, 2, &req, &x.jr);
	ASSERT(j != NULL);
	ASSERT_STREQ(str(j, "verdict"), "compile_error");
	ASSERT(json_is_object(json_object_get(j, "compile")));
	ASSERT_STREQ(str(json_object_get(j, "compile"), "stderr"), "main.c:1: error\n");
	ASSERT_EQ(num(json_object_get(j, "totals"), "not_run"), 3);
	ASSERT_EQ(num(json_object_get(j, "totals"), "failed"), 0);
	for (size_t i = 0; i < 3; i++) {
		t = json_array_get(json_object_get(j, "tests"), i);
		ASSERT_STREQ(str(t, "verdict"), "not_run");
		ASSERT_EQ(json_object_size(t), 1);
	}
	json_decref(j);
	j = api_tests_json(&req, &x.jr);
	ASSERT_STREQ(str(j, "verdict"), "compile_error");
	json_decref(j);
	api_request_release(&req);

	/* Without tests in the request: no verdict, tests or totals. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\"}", &req, &err), API_E_NONE);
	three_tests(&x, JOB_ACCEPTED, SBX_OK);
	x.jr.ntests = 1;
	x.jr.decisive = 0;
	ASSERT(api_tests_json(&req, &x.jr) == NULL);
	j = api_response_json(API_EXECUTE, 3, &req, &x.jr);
	ASSERT(j != NULL);
	ASSERT(json_object_get(j, "verdict") == NULL);
	ASSERT(json_object_get(j, "tests") == NULL);
	ASSERT(json_object_get(j, "totals") == NULL);
	ASSERT_STREQ(str(j, "stdout"), "1\n");
	json_decref(j);
	api_request_release(&req);
}

/* Many tests share a bound on the output they keep: the default is lowered
 * to each one's share, a larger limit asked for is refused. */
TEST(api_tests_output_is_bounded)
{
	struct api_request req;
	struct api_error err;
	char *body = malloc(64 << 10);
	size_t n;

	ASSERT(body != NULL);
	for (int explicit = 0; explicit <= 2; explicit++) {
		n = (size_t)snprintf(body, 64 << 10, "{\"code\": \"x\", %s\"tests\": [",
				     explicit == 1 ? "\"limits\": {\"output_bytes\": 1048576}, " :
				     explicit == 2 ? "\"limits\": {\"output_bytes\": 600000}, " : "");
		for (int i = 0; i < 50; i++)
			n += (size_t)snprintf(body + n, (64 << 10) - n, "%s{\"stdin\": \"%d\"}",
					      i ? ", " : "", i);
		snprintf(body + n, (64 << 10) - n, "]}");
		enum api_error_code c = parse(API_EXECUTE, body, &req, &err);
		if (explicit == 1) {
			ASSERT_EQ(c, API_E_LIMIT_EXCEEDED);
			ASSERT(strstr(err.message, "with 50 tests it may be at most 671088"));
			continue;
		}
		ASSERT_EQ(c, API_E_NONE);
		ASSERT_EQ(req.limits.output_bytes, explicit ? 600000 : API_TESTS_OUTPUT_MAX / 100);
		api_request_release(&req);
	}
	/* One test keeps the usual default. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"tests\": [{}]}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.limits.output_bytes, SBX_DEFAULT_OUTPUT);
	api_request_release(&req);
	free(body);
}

/* output_files: true for the defaults, an object for bounds within the
 * server's maxima, false or null for none; refused otherwise. */
TEST(api_output_files_parsing)
{
	struct api_request req;
	struct api_error err;
	struct api_maxima low = maxima;
	struct job_spec spec;
	struct sbx_request sreq;
	char why[256];

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\"}", &req, &err), API_E_NONE);
	ASSERT(!req.output_files);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": false}", &req, &err),
		  API_E_NONE);
	ASSERT(!req.output_files);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": true}", &req, &err),
		  API_E_NONE);
	ASSERT(req.output_files);
	ASSERT_EQ(req.out_max_files, SBX_DEFAULT_OUT_FILES);
	ASSERT_EQ(req.out_max_bytes, SBX_DEFAULT_OUT_BYTES);
	api_request_job(&req, &spec);
	ASSERT(spec.collect_out);
	ASSERT_EQ(spec.out_max_files, SBX_DEFAULT_OUT_FILES);
	api_request_sbx(&req, &sreq);
	ASSERT(sreq.collect_out);
	ASSERT_EQ(sbx_request_check(&sreq, why, sizeof(why)), 0);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": {\"max_files\": 3, "
			"\"max_bytes\": 1000}}", &req, &err), API_E_NONE);
	ASSERT(req.output_files);
	ASSERT_EQ(req.out_max_files, 3);
	ASSERT_EQ(req.out_max_bytes, 1000);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": {}}", &req, &err),
		  API_E_NONE);
	ASSERT_EQ(req.out_max_files, SBX_DEFAULT_OUT_FILES);
	api_request_release(&req);
	/* The sandbox's maxima when the server sets none. */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_files\": 1024, "
			    "\"max_bytes\": 67108864}}", &err), API_E_NONE);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_files\": 1025}}", &err),
		  API_E_LIMIT_EXCEEDED);
	ASSERT(strstr(err.message, "from 1 to 1024"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_bytes\": 67108865}}",
			    &err), API_E_LIMIT_EXCEEDED);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_files\": 0}}", &err),
		  API_E_INVALID_LIMIT);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_files\": \"3\"}}", &err),
		  API_E_INVALID_LIMIT);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_file\": 3}}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "output_files.max_file"));
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": 3}", &err), API_E_INVALID_REQUEST);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": [true]}", &err),
		  API_E_INVALID_REQUEST);
	/* The server's maxima bound both what is asked and the defaults. */
	low.output_files = 4;
	low.output_files_bytes = 4096;
	const char *b = "{\"code\": \"x\", \"output_files\": true}";
	ASSERT_EQ(api_parse_request(API_EXECUTE, b, strlen(b), &low, NULL, &req, &err), 0);
	ASSERT_EQ(req.out_max_files, 4);
	ASSERT_EQ(req.out_max_bytes, 4096);
	api_request_release(&req);
	b = "{\"code\": \"x\", \"output_files\": {\"max_files\": 5}}";
	ASSERT(api_parse_request(API_EXECUTE, b, strlen(b), &low, NULL, &req, &err) < 0);
	ASSERT_EQ(err.code, API_E_LIMIT_EXCEEDED);
	b = "{\"code\": \"x\", \"output_files\": {\"max_bytes\": 4097}}";
	ASSERT(api_parse_request(API_EXECUTE, b, strlen(b), &low, NULL, &req, &err) < 0);
	ASSERT_EQ(err.code, API_E_LIMIT_EXCEEDED);
	/* POST /run keeps its few fields: output_files is ignored there. */
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"x\", \"output_files\": true}", &req, &err),
		  API_E_NONE);
	ASSERT(!req.output_files);
	api_request_release(&req);
	/* With tests, each test's share of API_TESTS_FILES_MAX. */
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": true, \"tests\": "
			"[{}, {}, {}, {}, {}, {}, {}, {}]}", &req, &err), API_E_NONE);
	ASSERT_EQ(req.out_max_bytes, API_TESTS_FILES_MAX / 8);
	api_request_release(&req);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"output_files\": {\"max_bytes\": 16777216}, "
			    "\"tests\": [{}, {}, {}, {}, {}, {}, {}, {}]}", &err),
		  API_E_LIMIT_EXCEEDED);
	ASSERT(strstr(err.message, "with 8 tests"));
	/* out is the output directory's name. */
	struct rt_registry *reg = load_runtimes(false);
	if (!reg)
		TEST_SKIP("the runtime files are not found");
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"output_files\": true, \"files\": "
			  "[{\"name\": \"main.c\", \"content\": \"\"}, {\"name\": \"out\", "
			  "\"content\": \"\"}]}", &req, &err), API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "files[1]: with output_files"));
	ASSERT_EQ(exec_rt(reg, "{\"language\": \"c\", \"output_files\": true, \"files\": "
			  "[{\"name\": \"main.c\", \"content\": \"\"}, {\"name\": \"out.c\", "
			  "\"content\": \"\"}]}", &req, &err), API_E_NONE);
	ASSERT(req.output_files);
	api_request_release(&req);
	rt_registry_free(reg);
}

TEST(api_output_files_mime_types)
{
	ASSERT_STREQ(codec_mime_type("plot.png"), "image/png");
	ASSERT_STREQ(codec_mime_type("a.JPG"), "image/jpeg");
	ASSERT_STREQ(codec_mime_type("a.jpeg"), "image/jpeg");
	ASSERT_STREQ(codec_mime_type("a.gif"), "image/gif");
	ASSERT_STREQ(codec_mime_type("a.svg"), "image/svg+xml");
	ASSERT_STREQ(codec_mime_type("a.pdf"), "application/pdf");
	ASSERT_STREQ(codec_mime_type("data.csv"), "text/csv");
	ASSERT_STREQ(codec_mime_type("a.txt"), "text/plain");
	ASSERT_STREQ(codec_mime_type("a.json"), "application/json");
	ASSERT_STREQ(codec_mime_type("page.html"), "text/plain");
	ASSERT_STREQ(codec_mime_type("page.htm"), "text/plain");
	ASSERT_STREQ(codec_mime_type("a.bin"), "application/octet-stream");
	ASSERT_STREQ(codec_mime_type("png"), "application/octet-stream");
	ASSERT_STREQ(codec_mime_type("a.png.exe"), "application/octet-stream");
	char *e = codec_base64("\x89PNG", 4);
	ASSERT_STREQ(e, "iVBORw==");
	free(e);
	e = codec_base64("", 0);
	ASSERT_STREQ(e, "");
	free(e);
}

/* The answer's files, files_dropped and files_dropped_total; none of them
 * without output_files. */
TEST(api_output_files_answer)
{
	struct job_result jr;
	struct api_request req;
	struct api_error err;
	struct sbx_result r = result(SBX_OK);
	struct sbx_file files[2] = {
		{ "plot.png", "\x89PNG\r\n", 6, false },
		{ "data.csv", "a,b\n", 4, false },
	};
	struct sbx_out_drop drops[1] = { { "link", SBX_OUT_NOT_REGULAR } };
	json_t *j, *f;

	r.out_files = files;
	r.nout_files = 2;
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\"}", &req, &err), API_E_NONE);
	j = api_response_json(API_EXECUTE, 1, &req, one(&r, &jr));
	ASSERT(j != NULL);
	ASSERT(json_object_get(j, "files") == NULL);
	json_decref(j);
	api_request_release(&req);

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": true}", &req, &err),
		  API_E_NONE);
	j = api_response_json(API_EXECUTE, 1, &req, one(&r, &jr));
	ASSERT(j != NULL);
	f = json_object_get(j, "files");
	ASSERT_EQ(json_array_size(f), 2);
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "name")), "plot.png");
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(f, 0), "size")), 6);
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "mime_type")),
		     "image/png");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "content")),
		     "iVBORw0K");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 1), "mime_type")),
		     "text/csv");
	ASSERT(json_object_get(j, "files_dropped") == NULL);
	ASSERT(json_object_get(j, "files_dropped_total") == NULL);
	json_decref(j);

	r.nout_files = 0;
	r.out_dropped = drops;
	r.nout_dropped = 1;
	r.out_dropped_total = 40;
	j = api_response_json(API_EXECUTE, 1, &req, one(&r, &jr));
	ASSERT(j != NULL);
	ASSERT_EQ(json_array_size(json_object_get(j, "files")), 0);
	f = json_object_get(j, "files_dropped");
	ASSERT_EQ(json_array_size(f), 1);
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "name")), "link");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(f, 0), "reason")),
		     "not a regular file");
	ASSERT_EQ(json_integer_value(json_object_get(j, "files_dropped_total")), 40);
	json_decref(j);
	api_request_release(&req);

	/* With tests, each test has its own. */
	r.out_files = files;
	r.nout_files = 1;
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"output_files\": true, "
			"\"tests\": [{}]}", &req, &err), API_E_NONE);
	j = api_response_json(API_EXECUTE, 1, &req, one(&r, &jr));
	ASSERT(j != NULL);
	f = json_object_get(json_array_get(json_object_get(j, "tests"), 0), "files");
	ASSERT_EQ(json_array_size(f), 1);
	ASSERT_EQ(json_array_size(json_object_get(j, "files")), 1);
	json_decref(j);
	api_request_release(&req);
	/* The answer's memory bound counts the files. */
	r.nout_files = 2;
	size_t with = api_answer_max_bytes(one(&r, &jr));
	r.nout_files = 0;
	ASSERT(with > api_answer_max_bytes(one(&r, &jr)));
}

TEST(api_stream_field)
{
	struct api_request req;
	struct api_error err;

	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stream\": true}", &req, &err), API_E_NONE);
	ASSERT(req.stream && req.stream_given);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stream\": false}", &req, &err), API_E_NONE);
	ASSERT(!req.stream && req.stream_given);
	api_request_release(&req);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"stream\": null}", &req, &err), API_E_NONE);
	ASSERT(!req.stream && !req.stream_given);
	ASSERT_EQ(api_check_stream(&req, &err), 0);
	api_request_release(&req);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stream\": 1}", &err), API_E_INVALID_REQUEST);
	/* One run only: no tests, no runs beyond 1 (false passes: no stream). */
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stream\": true, \"tests\": [{}]}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT(strstr(err.message, "stream") != NULL);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stream\": true, \"runs\": 2}", &err),
		  API_E_INVALID_REQUEST);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stream\": true, \"runs\": 1}", &err), API_E_NONE);
	ASSERT_EQ(exec_code("{\"code\": \"x\", \"stream\": false, \"tests\": [{}]}", &err),
		  API_E_NONE);
	ASSERT_EQ(parse(API_EXECUTE, "{\"code\": \"x\", \"tests\": [{}]}", &req, &err), API_E_NONE);
	ASSERT_EQ(api_check_stream(&req, &err), -EINVAL);
	api_request_release(&req);
	/* Only /api/v1/execute streams; /run ignores the field as any other. */
	ASSERT_EQ(parse(API_JOBS, "{\"code\": \"x\", \"stream\": true}", &req, &err),
		  API_E_INVALID_REQUEST);
	ASSERT_EQ(parse(API_RUN, "{\"code\": \"x\", \"stream\": true}", &req, &err), API_E_NONE);
	ASSERT(!req.stream);
	api_request_release(&req);
}

TEST(api_accepts_event_stream)
{
	ASSERT(!api_accepts_event_stream(NULL));
	ASSERT(!api_accepts_event_stream(""));
	ASSERT(!api_accepts_event_stream("*/*"));
	ASSERT(!api_accepts_event_stream("application/json"));
	ASSERT(!api_accepts_event_stream("text/event-streams"));
	ASSERT(!api_accepts_event_stream("text/event"));
	ASSERT(api_accepts_event_stream("text/event-stream"));
	ASSERT(api_accepts_event_stream("Text/Event-Stream"));
	ASSERT(api_accepts_event_stream("application/json, text/event-stream"));
	ASSERT(api_accepts_event_stream("application/json,text/event-stream ;q=0.5"));
	ASSERT(api_accepts_event_stream("text/event-stream; charset=utf-8"));
	ASSERT(!api_accepts_event_stream("text/event-stream;q=0"));
	ASSERT(!api_accepts_event_stream("text/event-stream; q=0.000, application/json"));
	ASSERT(api_accepts_event_stream("text/event-stream;q=0.1"));
}

TEST(api_stream_events)
{
	size_t n;
	char *e = api_output_event(1, "a\nb\"\x01", 5, &n);

	ASSERT(e != NULL);
	ASSERT_MEMEQ(e, n, "event: stdout\ndata: {\"data\": \"a\\nb\\\"\\u0001\"}\n\n",
		     strlen("event: stdout\ndata: {\"data\": \"a\\nb\\\"\\u0001\"}\n\n"));
	ASSERT(n <= api_output_event_max(5));
	free(e);
	/* Bytes that are not UTF-8: U+FFFD, as in the answers. */
	e = api_output_event(2, "\xff", 1, &n);
	ASSERT(e != NULL);
	ASSERT_MEMEQ(e, n, "event: stderr\ndata: {\"data\": \"\xef\xbf\xbd\"}\n\n",
		     strlen("event: stderr\ndata: {\"data\": \"\xef\xbf\xbd\"}\n\n"));
	free(e);
	/* The worst case stays within the bound. */
	char ctl[64];
	memset(ctl, 1, sizeof(ctl));
	e = api_output_event(1, ctl, sizeof(ctl), &n);
	ASSERT(e != NULL && n <= api_output_event_max(sizeof(ctl)));
	free(e);
	e = api_event("result", json_pack("{s:s}", "status", "ok"), &n);
	ASSERT(e != NULL);
	ASSERT_MEMEQ(e, n, "event: result\ndata: {\"status\": \"ok\"}\n\n",
		     strlen("event: result\ndata: {\"status\": \"ok\"}\n\n"));
	free(e);
	ASSERT(api_event("error", NULL, &n) == NULL);
	ASSERT_EQ(n, 0);
}
