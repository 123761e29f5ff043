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
	struct api_maxima low = { 5000, 4000, 64ull << 20, 16, 1024, 0 };
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

	ASSERT_EQ(api_check_content_type(NULL, true, &err), 0);
	ASSERT_EQ(api_check_content_type("", true, &err), 0);
	ASSERT_EQ(api_check_content_type("application/json", true, &err), 0);
	ASSERT_EQ(api_check_content_type("Application/JSON; charset=utf-8", true, &err), 0);
	ASSERT_EQ(api_check_content_type(" application/json ;charset=UTF-8", true, &err), 0);
	ASSERT_EQ(api_check_content_type("application/vnd.api+json", true, &err), 0);
	ASSERT_EQ(api_check_content_type("text/plain", true, &err), -EINVAL);
	ASSERT_EQ(err.code, API_E_UNSUPPORTED_MEDIA_TYPE);
	ASSERT_EQ(api_error_http_status(err.code), 415);
	ASSERT_EQ(api_check_content_type("application/x-www-form-urlencoded", true, &err), -EINVAL);
	ASSERT_EQ(api_check_content_type("application/jsonx", true, &err), -EINVAL);
	ASSERT_EQ(api_check_content_type("multipart/form-data; boundary=x", true, &err), -EINVAL);
	/* Not from a browser: JSON labelled text/plain passes, forms do not. */
	ASSERT_EQ(api_check_content_type("text/plain;charset=UTF-8", false, &err), 0);
	ASSERT_EQ(api_check_content_type("application/x-www-form-urlencoded", false, &err),
		  -EINVAL);
	ASSERT_EQ(api_check_content_type("text/plainx", false, &err), -EINVAL);
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
