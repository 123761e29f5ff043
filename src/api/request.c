/*
 * request.c - request bodies: parsed with jansson, then checked field by
 * field against the configured maxima.  The checks are strict on purpose:
 * a limit that is not a positive integer or above the maximum is refused
 * with a message saying which, never clamped, because a silently lowered
 * limit would make a program fail for a reason its author cannot see.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "util/util.h"

static const char *const python_aliases[] = { "python", "python3", "py" };

const char *api_endpoint_name(enum api_endpoint ep)
{
	switch (ep) {
	case API_RUN: return "run";
	case API_JOBS: return "jobs";
	case API_JUDGE0: return "judge0";
	case API_PISTON: return "piston";
	default: return "execute";
	}
}

void api_default_limits(const struct api_maxima *max, struct sbx_limits *l)
{
	struct sbx_limits most;

	sbx_limits_default(l);
	api_max_limits(max, &most);
	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		if (sbx_limit_get(l, (enum sbx_limit_id)i) > sbx_limit_get(&most, (enum sbx_limit_id)i))
			sbx_limit_set(l, (enum sbx_limit_id)i,
				      sbx_limit_get(&most, (enum sbx_limit_id)i));
}

/*
 * jansson recurses once per level and allows 2048 levels; we want far
 * fewer, and a clear error code.  One pass over the bytes, skipping
 * strings, finds the depth before the parser sees it.
 */
static int check_depth(const char *p, size_t len, struct api_error *err)
{
	unsigned depth = 0;
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			if (++depth > API_MAX_DEPTH)
				return api_fail(err, API_E_TOO_DEEP,
						"JSON nested deeper than %d levels",
						API_MAX_DEPTH);
		} else if ((ch == '}' || ch == ']') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static int all_blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

int api_parse_body(const char *body, size_t len, json_t **out, struct api_error *err)
{
	json_error_t jerr;
	json_t *root;
	int r;

	if (len == 0 || all_blank(body, len))
		return api_fail(err, API_E_EMPTY_BODY, "the request body is empty");
	r = check_depth(body, len, err);
	if (r < 0)
		return r;
	/* JSON_ALLOW_NUL: code and stdin may hold "\u0000"; args are checked
	 * below because they become C strings.  JSON_DECODE_ANY: a bare
	 * string or number is valid JSON, and deserves the clearer "must be
	 * an object" below. */
	root = json_loadb(body, len,
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!root) {
		switch (json_error_code(&jerr)) {
		case json_error_invalid_utf8:
			return api_fail(err, API_E_INVALID_UTF8,
					"the request body is not valid UTF-8");
		case json_error_stack_overflow:
			return api_fail(err, API_E_TOO_DEEP, "JSON nested too deeply");
		case json_error_out_of_memory:
			return api_fail(err, API_E_INTERNAL, "out of memory");
		case json_error_duplicate_key:
			return api_fail(err, API_E_INVALID_JSON,
					"duplicate key at line %d, column %d",
					jerr.line, jerr.column);
		default:
			/* jerr.text may quote the input; the message is made
			 * valid UTF-8 when it is sent (api_error_json). */
			return api_fail(err, API_E_INVALID_JSON,
					"invalid JSON at line %d, column %d: %s",
					jerr.line, jerr.column, jerr.text);
		}
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return api_fail(err, API_E_INVALID_REQUEST,
				"the request body must be a JSON object");
	}
	*out = root;
	return 0;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* A string field; null counts as absent. */
static int get_string(json_t *root, const char *name, int required,
		      const char **s, size_t *len, struct api_error *err)
{
	json_t *v = json_object_get(root, name);

	if (!v || json_is_null(v)) {
		if (required)
			return api_fail(err, API_E_MISSING_FIELD,
					"the field '%s' is required", name);
		return 0;
	}
	if (!json_is_string(v))
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field '%s' must be a string, not %s", name,
				type_name(v));
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* The language and an optional version selector: a runtime of the
 * registry, or the built-in Python when there is no python runtime. */
static int parse_language(json_t *root, const struct rt_registry *runtimes,
			  struct api_request *req, struct api_error *err)
{
	const char *s = "python", *v = NULL;
	size_t len = 6, vlen = 0;
	int r;

	req->language = "python";
	if ((r = get_string(root, "language", 0, &s, &len, err)) < 0 ||
	    (r = get_string(root, "version", 0, &v, &vlen, err)) < 0)
		return r;
	if (!s) {
		s = "python";
		len = 6;
	}
	req->rt = rt_find(runtimes, s, len);
	if (req->rt) {
		req->language = req->rt->name;
		if (v && !rt_version_matches(req->rt, v, vlen))
			return api_fail(err, API_E_UNKNOWN_LANGUAGE,
					"%s is version %s here, not '%.*s'", req->rt->name,
					req->rt->version_text, (int)(vlen > 40 ? 40 : vlen), v);
		return 0;
	}
	if (!rt_find(runtimes, "python", 6))
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(python_aliases); i++)
			if (len == strlen(python_aliases[i]) && memcmp(s, python_aliases[i], len) == 0) {
				if (!v)
					return 0;
				return api_fail(err, API_E_UNKNOWN_LANGUAGE, "the built-in "
						"python has no version '%.*s' to choose",
						(int)(vlen > 40 ? 40 : vlen), v);
			}
	return api_fail(err, API_E_UNKNOWN_LANGUAGE,
			"unknown language '%.*s' (GET /api/v1/languages lists them)",
			(int)(len > 40 ? 40 : len), s);
}

/* Strict RFC 4648 base64 (padding required, no line breaks) of len bytes
 * into out (room for len / 4 * 3).  Returns the decoded length or -1. */
static ssize_t base64_decode(const char *in, size_t len, char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			const char *c = in[i + k] ? strchr(alphabet, in[i + k]) : NULL;
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (!c || pad)
				return -1;
			v = v << 6 | (uint32_t)(c - alphabet);
		}
		out[o++] = (char)(v >> 16);
		if (pad < 2)
			out[o++] = (char)(v >> 8);
		if (pad < 1)
			out[o++] = (char)v;
	}
	return (ssize_t)o;
}

/* No '/', so every file lands in /box; no leading '-', which a compiler
 * given the name by a glob would read as an option. */
bool api_file_name_ok(const char *s, size_t len)
{
	return util_plain_name_ok(s, len, API_FILE_NAME_MAX);
}

static int parse_file(json_t *f, size_t i, struct api_request *req, size_t *total,
		      struct api_error *err)
{
	static const char *const known[] = { "name", "content", "encoding" };
	const char *name, *content, *enc = "utf8", *key;
	size_t nlen = 0, clen = 0, elen = 4;
	json_t *v;
	int r;

	if (!json_is_object(f))
		return api_fail(err, API_E_INVALID_REQUEST, "files[%zu] must be an object, not %s",
				i, type_name(f));
	json_object_foreach(f, key, v) {
		size_t k = 0;
		while (k < UTIL_ARRAY_SIZE(known) && strcmp(key, known[k]) != 0)
			k++;
		if (k == UTIL_ARRAY_SIZE(known))
			return api_fail(err, API_E_INVALID_REQUEST, "unknown field 'files[%zu].%.64s'; "
					"known: name, content, encoding", i, key);
	}
	name = content = NULL;
	if ((r = get_string(f, "name", 1, &name, &nlen, err)) < 0 ||
	    (r = get_string(f, "content", 1, &content, &clen, err)) < 0 ||
	    (r = get_string(f, "encoding", 0, &enc, &elen, err)) < 0) {
		char msg[API_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "%s", err->message);
		return api_fail(err, err->code, "files[%zu]: %s", i, msg);
	}
	if (!enc) {
		enc = "utf8";
		elen = 4;
	}
	if (!api_file_name_ok(name, nlen) || strlen(name) != nlen) {
		/* Named as sent, control bytes as \xNN, at most 100 bytes. */
		char shown[4 * 100 + 4];
		size_t o = 0;
		for (size_t k = 0; k < nlen && k < 100; k++) {
			unsigned char ch = (unsigned char)name[k];
			if (ch < 0x20 || ch == 0x7f || ch == '\\')
				o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", ch);
			else
				shown[o++] = (char)ch;
		}
		snprintf(shown + o, sizeof(shown) - o, "%s", nlen > 100 ? "..." : "");
		return api_fail(err, API_E_INVALID_REQUEST,
				"files[%zu]: the name '%s' is not allowed: letters, digits, '.', "
				"'_', '+' and '-', at most %d bytes, not starting with '.' or '-'", i, shown,
				API_FILE_NAME_MAX);
	}
	for (size_t k = 0; k < i; k++)
		if (strcmp(req->files[k].name, name) == 0)
			return api_fail(err, API_E_INVALID_REQUEST,
					"files[%zu]: a second file named '%s'", i, name);
	struct sbx_file *out = &req->files[i];
	out->name = name;
	if (elen == 4 && memcmp(enc, "utf8", 4) == 0) {
		out->data = content;
		out->len = clen;
	} else if (elen == 6 && memcmp(enc, "base64", 6) == 0) {
		char *d = malloc(clen / 4 * 3 + 1);
		if (!d)
			return api_fail(err, API_E_INTERNAL, "out of memory");
		req->decoded[i] = d;
		ssize_t n = base64_decode(content, clen, d);
		if (n < 0)
			return api_fail(err, API_E_INVALID_REQUEST,
					"files[%zu] ('%s'): content is not valid base64", i, name);
		out->data = d;
		out->len = (size_t)n;
	} else {
		return api_fail(err, API_E_INVALID_REQUEST,
				"files[%zu]: encoding must be \"utf8\" or \"base64\"", i);
	}
	*total += out->len;
	if (*total > SBX_MAX_CODE)
		return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
				"the files take more than %u bytes", SBX_MAX_CODE);
	return 0;
}

/* The program: code (as the runtime's source file) or files. */
static int parse_program(json_t *root, enum api_endpoint ep, struct api_request *req,
			 struct api_error *err)
{
	json_t *files = api_endpoint_full(ep) ? json_object_get(root, "files") : NULL;
	size_t total = 0;
	int r;

	if (files && json_is_null(files))
		files = NULL;
	if ((r = get_string(root, "code", !files, &req->code, &req->code_len, err)) < 0)
		return r;
	if (files && req->code)
		return api_fail(err, API_E_INVALID_REQUEST, "give 'code' or 'files', not both");
	if (!files) {
		if (!req->rt)
			return 0;	/* the built-in Python takes code as it is */
		if (!(req->files = calloc(1, sizeof(*req->files))))
			return api_fail(err, API_E_INTERNAL, "out of memory");
		req->files[0] = (struct sbx_file){ req->rt->source_file, req->code, req->code_len,
						   false };
		req->nfiles = 1;
		return 0;
	}
	if (!json_is_array(files) || json_array_size(files) == 0 ||
	    json_array_size(files) > API_MAX_FILES)
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field 'files' must be an array of 1 to %d files", API_MAX_FILES);
	if (!req->rt)
		return api_fail(err, API_E_INVALID_REQUEST, "'files' needs a language of the "
				"runtime files; the built-in Python takes 'code'");
	req->files = calloc(json_array_size(files), sizeof(*req->files));
	req->decoded = calloc(json_array_size(files), sizeof(*req->decoded));
	if (!req->files || !req->decoded)
		return api_fail(err, API_E_INTERNAL, "out of memory");
	for (size_t i = 0; i < json_array_size(files); i++) {
		req->nfiles = i + 1;
		if ((r = parse_file(json_array_get(files, i), i, req, &total, err)) < 0)
			return r;
	}
	/* The entry point is the first file: its text is the code shown in
	 * the history. */
	req->code = req->files[0].data;
	req->code_len = req->files[0].len;
	return 0;
}

/* An array of strings that become C strings (no NUL), within the sandbox's
 * bounds on arguments; name is the field's name in messages. */
static int parse_strings(json_t *v, const char *name, const char ***out, size_t *n,
			 struct api_error *err)
{
	json_t *item;
	size_t i, total = 0;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field '%s' must be an array of strings, not %s", name,
				type_name(v));
	if (json_array_size(v) > SBX_MAX_ARGS)
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field '%s' has %zu items; at most %u are allowed",
				name, json_array_size(v), SBX_MAX_ARGS);
	if (json_array_size(v) == 0)
		return 0;
	*out = calloc(json_array_size(v), sizeof(**out));
	if (!*out)
		return api_fail(err, API_E_INTERNAL, "out of memory");
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return api_fail(err, API_E_INVALID_REQUEST,
					"%s[%zu] must be a string, not %s", name, i,
					type_name(item));
		if (strlen(json_string_value(item)) != json_string_length(item))
			return api_fail(err, API_E_INVALID_REQUEST,
					"%s[%zu] must not contain NUL characters", name, i);
		if (json_string_length(item) > SBX_MAX_ARG_LEN)
			return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
					"%s[%zu] is %zu bytes; at most %u are allowed", name, i,
					json_string_length(item), SBX_MAX_ARG_LEN);
		total += json_string_length(item) + 1;
		if (total > SBX_MAX_ARGS_BYTES)
			return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
					"the %s take more than %u bytes in all (with one "
					"byte more for each)", name, SBX_MAX_ARGS_BYTES);
		(*out)[i] = json_string_value(item);
	}
	*n = json_array_size(v);
	return 0;
}

static int parse_args(json_t *root, struct api_request *req, struct api_error *err)
{
	return parse_strings(json_object_get(root, "args"), "args", &req->argv, &req->argc, err);
}

static int get_bool(json_t *root, const char *name, bool *out, struct api_error *err)
{
	json_t *v = json_object_get(root, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field '%s' must be a boolean, not %s", name, type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* One test: {stdin?, args?, expected_output?}. */
static int parse_test(json_t *t, size_t i, struct job_test *out, struct api_error *err)
{
	static const char *const known[] = { "stdin", "args", "expected_output" };
	char name[48];
	const char *key;
	json_t *v;
	int r;

	if (!json_is_object(t))
		return api_fail(err, API_E_INVALID_REQUEST,
				"tests[%zu] must be an object, not %s", i, type_name(t));
	json_object_foreach(t, key, v) {
		size_t k;
		for (k = 0; k < UTIL_ARRAY_SIZE(known); k++)
			if (strcmp(key, known[k]) == 0)
				break;
		if (k == UTIL_ARRAY_SIZE(known))
			return api_fail(err, API_E_INVALID_REQUEST,
					"unknown field 'tests[%zu].%.64s'; known: stdin, args, "
					"expected_output", i, key);
	}
	if ((r = get_string(t, "stdin", 0, &out->stdin_data, &out->stdin_len, err)) < 0 ||
	    (r = get_string(t, "expected_output", 0, &out->expected, &out->expected_len, err)) < 0)
		return r;
	out->has_expected = out->expected != NULL;
	if (out->stdin_len > SBX_MAX_STDIN)
		return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
				"tests[%zu].stdin is %zu bytes; at most %u are allowed", i,
				out->stdin_len, SBX_MAX_STDIN);
	v = json_object_get(t, "args");
	out->has_args = v && !json_is_null(v);
	snprintf(name, sizeof(name), "tests[%zu].args", i);
	return parse_strings(v, name, &out->argv, &out->argc, err);
}

/* The output the tests may keep is bounded (API_TESTS_OUTPUT_MAX): with
 * many tests, the default output_bytes is lowered to each one's share,
 * and a larger one asked for is refused, saying what would fit. */
static int bound_tests_output(json_t *root, struct api_request *req, struct api_error *err)
{
	uint64_t share = API_TESTS_OUTPUT_MAX / (2 * req->ntests);
	json_t *limits = json_object_get(root, "limits");
	json_t *asked = json_is_object(limits) ? json_object_get(limits, "output_bytes") : NULL;

	if (req->limits.output_bytes <= share)
		return 0;
	if (asked && !json_is_null(asked))
		return api_fail(err, API_E_LIMIT_EXCEEDED,
				"limits.output_bytes is %llu; with %zu tests it may be at most "
				"%llu (all tests' stdout and stderr together at most %u bytes)",
				(unsigned long long)req->limits.output_bytes, req->ntests,
				(unsigned long long)share, API_TESTS_OUTPUT_MAX);
	req->limits.output_bytes = share;
	return 0;
}

/* tests, stop_on_failure, runs, redirect_stderr, compile_options and
 * callback_url: what a judge and the peers' APIs ask for beyond one run. */
static int parse_judging(json_t *root, struct api_request *req, struct api_error *err)
{
	json_t *v = json_object_get(root, "tests"), *item;
	size_t i, total = 0;
	int r;

	req->runs = 1;
	if (v && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > API_MAX_TESTS)
			return api_fail(err, API_E_INVALID_REQUEST,
					"the field 'tests' must be an array of 1 to %u objects",
					API_MAX_TESTS);
		req->tests = calloc(json_array_size(v), sizeof(*req->tests));
		if (!req->tests)
			return api_fail(err, API_E_INTERNAL, "out of memory");
		req->ntests = json_array_size(v);
		json_array_foreach(v, i, item) {
			if ((r = parse_test(item, i, &req->tests[i], err)) < 0)
				return r;
			total += req->tests[i].stdin_len + req->tests[i].expected_len;
		}
		/* Each test's stdin is held once more while it runs; together
		 * they stay within what one request may bring. */
		if (total > SBX_MAX_STDIN)
			return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
					"the tests' stdin and expected_output take %zu bytes; "
					"at most %u are allowed", total, SBX_MAX_STDIN);
		if ((r = bound_tests_output(root, req, err)) < 0)
			return r;
	}
	if ((r = get_bool(root, "stop_on_failure", &req->stop_on_failure, err)) < 0 ||
	    (r = get_bool(root, "redirect_stderr", &req->redirect_stderr, err)) < 0)
		return r;
	v = json_object_get(root, "runs");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > API_MAX_RUNS)
			return api_fail(err, API_E_INVALID_REQUEST,
					"the field 'runs' must be an integer from 1 to %u",
					API_MAX_RUNS);
		req->runs = (unsigned)json_integer_value(v);
	}
	v = json_object_get(root, "compile_options");
	if (v && !json_is_null(v)) {
		char why[API_MESSAGE_MAX - 32];

		if (!req->rt || !rt_compiles(req->rt))
			return api_fail(err, API_E_INVALID_REQUEST,
					"compile_options: %s is not compiled", req->language);
		if (json_is_array(v) && json_array_size(v) > RT_MAX_OPTIONS)
			return api_fail(err, API_E_INVALID_REQUEST,
					"the field 'compile_options' has %zu items; at most %u "
					"are allowed", json_array_size(v), RT_MAX_OPTIONS);
		if ((r = parse_strings(v, "compile_options", &req->options, &req->noptions,
				       err)) < 0)
			return r;
		for (i = 0; i < req->noptions; i++) {
			if (strlen(req->options[i]) > RT_OPTION_MAX)
				return api_fail(err, API_E_INVALID_REQUEST,
						"compile_options[%zu] is longer than %u bytes", i,
						RT_OPTION_MAX);
			if (!rt_option_allowed(req->rt, req->options[i], why, sizeof(why)))
				return api_fail(err, API_E_INVALID_REQUEST, "compile_options: %s",
						why);
		}
	}
	size_t ulen = 0;
	if ((r = get_string(root, "callback_url", 0, &req->callback_url, &ulen, err)) < 0)
		return r;
	if (req->callback_url && (ulen == 0 || ulen > API_URL_MAX || strlen(req->callback_url) != ulen))
		return api_fail(err, API_E_INVALID_REQUEST,
				"callback_url must be a URL of 1 to %u bytes", API_URL_MAX);
	return 0;
}

/*
 * output_files: true (the defaults), false or null (none), or {max_files,
 * max_bytes}, each from 1 to the server's maximum (output_files and
 * output_files_bytes, else the sandbox's).  The defaults are the sandbox's,
 * or the maximum where it is lower; with tests, max_bytes is at most each
 * test's share of API_TESTS_FILES_MAX (the default lowered to it, a larger
 * one asked for refused), since every test's files are in the answer.
 */
static int parse_output_files(json_t *root, const struct api_maxima *max,
			      struct api_request *req, struct api_error *err)
{
	json_t *v = json_object_get(root, "output_files"), *item;
	uint64_t most_files = max->output_files ? max->output_files : SBX_MAX_OUT_FILES;
	uint64_t most_bytes = max->output_files_bytes ? max->output_files_bytes : SBX_MAX_OUT_BYTES;
	bool bytes_asked = false;
	const char *key;

	if (most_files > SBX_MAX_OUT_FILES)
		most_files = SBX_MAX_OUT_FILES;
	if (most_bytes > SBX_MAX_OUT_BYTES)
		most_bytes = SBX_MAX_OUT_BYTES;
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (!json_is_true(v) && !json_is_object(v))
		return api_fail(err, API_E_INVALID_REQUEST, "the field 'output_files' must be "
				"true or an object {max_files, max_bytes}, not %s", type_name(v));
	for (size_t i = 0; i < req->nfiles; i++)
		if (strcmp(req->files[i].name, "out") == 0)
			return api_fail(err, API_E_INVALID_REQUEST, "files[%zu]: with output_files, "
					"out is the output directory", i);
	req->output_files = true;
	req->out_max_files = (uint32_t)(SBX_DEFAULT_OUT_FILES < most_files ? SBX_DEFAULT_OUT_FILES
									   : most_files);
	req->out_max_bytes = SBX_DEFAULT_OUT_BYTES < most_bytes ? SBX_DEFAULT_OUT_BYTES : most_bytes;
	if (json_is_object(v)) json_object_foreach(v, key, item) {
		bool files = strcmp(key, "max_files") == 0;
		uint64_t hi = files ? most_files : most_bytes;
		json_int_t n;

		if (!files && strcmp(key, "max_bytes") != 0)
			return api_fail(err, API_E_INVALID_REQUEST, "unknown field "
					"'output_files.%.64s'; known: max_files, max_bytes", key);
		if (json_is_null(item))
			continue;
		if (!json_is_integer(item) || (n = json_integer_value(item)) < 1)
			return api_fail(err, API_E_INVALID_LIMIT, "output_files.%s must be an "
					"integer from 1 to %llu", key, (unsigned long long)hi);
		if ((uint64_t)n > hi)
			return api_fail(err, API_E_LIMIT_EXCEEDED, "output_files.%s is %lld, above "
					"this server's maximum; it must be from 1 to %llu", key,
					(long long)n, (unsigned long long)hi);
		if (files)
			req->out_max_files = (uint32_t)n;
		else {
			req->out_max_bytes = (uint64_t)n;
			bytes_asked = true;
		}
	}
	if (req->ntests > 1) {
		uint64_t share = API_TESTS_FILES_MAX / req->ntests;
		if (req->out_max_bytes > share && bytes_asked)
			return api_fail(err, API_E_LIMIT_EXCEEDED,
					"output_files.max_bytes is %llu; with %zu tests it may be "
					"at most %llu (all tests' files together at most %u bytes)",
					(unsigned long long)req->out_max_bytes, req->ntests,
					(unsigned long long)share, API_TESTS_FILES_MAX);
		if (req->out_max_bytes > share)
			req->out_max_bytes = share;
	}
	return 0;
}

/* The request's limits: its name for each, and the server's maximum. */
struct limit_field {
	const char *name;
	size_t max_off;		/* in struct api_maxima */
	enum sbx_limit_id id;
};

static const struct limit_field limit_fields[] = {
	{ "wall_time_ms", offsetof(struct api_maxima, wall_time_ms), SBX_LIMIT_WALL_MS },
	{ "cpu_time_ms", offsetof(struct api_maxima, cpu_time_ms), SBX_LIMIT_CPU_MS },
	{ "memory_bytes", offsetof(struct api_maxima, memory_bytes), SBX_LIMIT_MEMORY },
	{ "max_processes", offsetof(struct api_maxima, max_processes), SBX_LIMIT_PROCESSES },
	{ "output_bytes", offsetof(struct api_maxima, output_bytes), SBX_LIMIT_OUTPUT },
	{ "file_size_bytes", offsetof(struct api_maxima, file_size_bytes), SBX_LIMIT_FILE_SIZE },
};

void api_max_limits(const struct api_maxima *max, struct sbx_limits *l)
{
	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		sbx_limit_set(l, (enum sbx_limit_id)i, sbx_limit_info((enum sbx_limit_id)i)->max);
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(limit_fields); i++) {
		uint64_t v = *(const uint64_t *)((const char *)max + limit_fields[i].max_off);
		if (v)
			sbx_limit_set(l, limit_fields[i].id, v);
	}
}

/*
 * A limit must lie between the sandbox's minimum and the stage's maximum
 * (this server's, the lower of the runtime's where it has one): the
 * message gives the range, so that a client can correct the request
 * without guessing.
 */
static int parse_limits(json_t *root, const char *field, const struct sbx_limits *max,
			struct sbx_limits *l, struct api_error *err)
{
	json_t *obj = json_object_get(root, field), *v;
	const char *key;

	if (!obj || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return api_fail(err, API_E_INVALID_REQUEST,
				"the field '%s' must be an object, not %s", field, type_name(obj));
	json_object_foreach(obj, key, v) {
		size_t i;
		json_int_t n;

		for (i = 0; i < UTIL_ARRAY_SIZE(limit_fields); i++)
			if (strcmp(key, limit_fields[i].name) == 0)
				break;
		if (i == UTIL_ARRAY_SIZE(limit_fields))
			return api_fail(err, API_E_INVALID_REQUEST,
					"unknown field '%s.%.64s'; known: wall_time_ms, "
					"cpu_time_ms, memory_bytes, max_processes, output_bytes, "
					"file_size_bytes",
					field, key);
		if (json_is_null(v))
			continue;

		const struct sbx_limit_info *li = sbx_limit_info(limit_fields[i].id);
		uint64_t hi = sbx_limit_get(max, limit_fields[i].id);

		if (!json_is_integer(v) || (n = json_integer_value(v)) <= 0)
			return api_fail(err, API_E_INVALID_LIMIT,
					"%s.%s must be an integer from %llu to %llu", field, key,
					(unsigned long long)li->min, (unsigned long long)hi);
		if ((uint64_t)n < li->min)
			return api_fail(err, API_E_INVALID_LIMIT,
					"%s.%s is %lld, below the sandbox's minimum; it must "
					"be from %llu to %llu", field, key, (long long)n,
					(unsigned long long)li->min, (unsigned long long)hi);
		if ((uint64_t)n > hi)
			return api_fail(err, API_E_LIMIT_EXCEEDED,
					"%s.%s is %lld, above this server's maximum; it must "
					"be from %llu to %llu", field, key, (long long)n,
					(unsigned long long)li->min, (unsigned long long)hi);
		sbx_limit_set(l, limit_fields[i].id, (uint64_t)n);
	}
	return 0;
}

/* Both stages' limits: the runtime's defaults and maxima under the
 * server's, then the request's. */
static int parse_stage_limits(json_t *root, enum api_endpoint ep, const struct api_maxima *max,
			      struct api_request *req, struct api_error *err)
{
	struct sbx_limits server_max, run_max, compile_max;
	int r;

	api_max_limits(max, &server_max);
	if (!req->rt) {
		run_max = server_max;
	} else {
		struct sbx_limits base = req->limits;
		rt_run_limits(req->rt, &base, &server_max, &req->limits, &run_max);
		rt_compile_limits(req->rt, &req->compile_limits, &compile_max);
	}
	if (!api_endpoint_full(ep))
		return 0;
	if ((r = parse_limits(root, "limits", &run_max, &req->limits, err)) < 0)
		return r;
	if (!req->rt || !rt_compiles(req->rt)) {
		json_t *c = json_object_get(root, "compile_limits");
		if (c && !json_is_null(c))
			return api_fail(err, API_E_INVALID_REQUEST,
					"compile_limits: %s is not compiled", req->language);
		return 0;
	}
	return parse_limits(root, "compile_limits", &compile_max, &req->compile_limits, err);
}

/* The sizes the sandbox takes: bodies can be raised past them (max_body). */
static int check_sizes(const struct api_request *req, struct api_error *err)
{
	if (req->code_len > SBX_MAX_CODE)
		return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
				"the code is %zu bytes; at most %u are allowed",
				req->code_len, SBX_MAX_CODE);
	if (req->stdin_len > SBX_MAX_STDIN)
		return api_fail(err, API_E_PAYLOAD_TOO_LARGE,
				"stdin is %zu bytes; at most %u are allowed",
				req->stdin_len, SBX_MAX_STDIN);
	return 0;
}

int api_check_stream(const struct api_request *req, struct api_error *err)
{
	/* One run's output is one story; the outputs of many tests or runs
	 * interleaved in one stream would be another API. */
	if (req->tests || req->runs > 1)
		return api_fail(err, API_E_INVALID_REQUEST,
				"stream: a streamed run takes no tests and a single run (runs 1)");
	return 0;
}

/* stream: a boolean, for POST /api/v1/execute only. */
static int parse_stream(json_t *root, enum api_endpoint ep, struct api_request *req,
			struct api_error *err)
{
	json_t *v = json_object_get(root, "stream");
	int r;

	if (!v || json_is_null(v))
		return 0;
	if ((r = get_bool(root, "stream", &req->stream, err)) < 0)
		return r;
	if (ep != API_EXECUTE)
		return api_fail(err, API_E_INVALID_REQUEST,
				"stream: only POST /api/v1/execute streams its answer");
	req->stream_given = true;
	return req->stream ? api_check_stream(req, err) : 0;
}

bool api_accepts_event_stream(const char *accept)
{
	static const char want[] = "text/event-stream";
	const size_t wlen = sizeof(want) - 1;

	for (const char *p = accept; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		size_t t = strcspn(p, ";,");
		size_t tl = t;
		while (tl && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
			tl--;
		if (tl == wlen && strncasecmp(p, want, wlen) == 0) {
			/* Parameters: only q=0 (q=0.0, ...) says no. */
			bool refused = false;
			for (size_t i = t; i < n; i++) {
				if (p[i] != ';')
					continue;
				size_t j = i + 1;
				while (j < n && (p[j] == ' ' || p[j] == '\t'))
					j++;
				if (j + 1 < n && (p[j] == 'q' || p[j] == 'Q') && p[j + 1] == '=') {
					refused = true;
					for (j += 2; j < n && p[j] != ';' && p[j] != ' ' && p[j] != '\t'; j++)
						if (p[j] != '0' && p[j] != '.')
							refused = false;
				}
			}
			if (!refused)
				return true;
		}
		p += n;
	}
	return false;
}

static int check_fields(json_t *root, struct api_error *err)
{
	static const char *const known[] = { "language", "version", "code", "files", "stdin",
					     "args", "limits", "compile_limits", "tests",
					     "stop_on_failure", "runs", "redirect_stderr",
					     "compile_options", "callback_url", "output_files",
					     "stream" };
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		size_t i;

		for (i = 0; i < UTIL_ARRAY_SIZE(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == UTIL_ARRAY_SIZE(known))
			return api_fail(err, API_E_INVALID_REQUEST,
					"unknown field '%.64s'; known: language, version, code, "
					"files, stdin, args, limits, compile_limits, tests, "
					"stop_on_failure, runs, redirect_stderr, compile_options, "
					"callback_url, output_files, stream", key);
	}
	return 0;
}

int api_parse_value(enum api_endpoint ep, json_t *root, const struct api_maxima *max,
		    const struct rt_registry *runtimes, struct api_request *req,
		    struct api_error *err)
{
	int r;

	memset(req, 0, sizeof(*req));
	err->code = API_E_NONE;
	err->message[0] = '\0';
	api_default_limits(max, &req->limits);
	req->language = "python";
	req->runs = 1;
	req->root = root;
	if (!json_is_object(root)) {
		r = api_fail(err, API_E_INVALID_REQUEST, "the request body must be a JSON object");
		goto out;
	}
	if ((api_endpoint_full(ep) && (r = check_fields(req->root, err)) < 0) ||
	    (r = parse_language(req->root, runtimes, req, err)) < 0 ||
	    (r = parse_program(req->root, ep, req, err)) < 0 ||
	    (r = parse_stage_limits(req->root, ep, max, req, err)) < 0)
		goto out;
	if (api_endpoint_full(ep) &&
	    ((r = get_string(req->root, "stdin", 0, &req->stdin_data, &req->stdin_len, err)) < 0 ||
	     (r = parse_args(req->root, req, err)) < 0 ||
	     (r = parse_judging(req->root, req, err)) < 0 ||
	     (r = parse_output_files(req->root, max, req, err)) < 0 ||
	     (r = parse_stream(req->root, ep, req, err)) < 0))
		goto out;
	r = check_sizes(req, err);
out:
	if (r < 0)
		api_request_release(req);
	return r;
}

int api_parse_request(enum api_endpoint ep, const char *body, size_t len,
		      const struct api_maxima *max, const struct rt_registry *runtimes,
		      struct api_request *req, struct api_error *err)
{
	json_t *root = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	r = api_parse_body(body, len, &root, err);
	if (r < 0)
		return r;
	return api_parse_value(ep, root, max, runtimes, req, err);
}

void api_request_release(struct api_request *req)
{
	for (size_t i = 0; req->decoded && i < req->nfiles; i++)
		free(req->decoded[i]);
	free(req->decoded);
	free(req->files);
	free(req->argv);
	for (size_t i = 0; req->tests && i < req->ntests; i++)
		free(req->tests[i].argv);
	free(req->tests);
	free(req->options);
	json_decref(req->root);
	req->decoded = NULL;
	req->files = NULL;
	req->nfiles = 0;
	req->argv = NULL;
	req->tests = NULL;
	req->ntests = 0;
	req->options = NULL;
	req->noptions = 0;
	req->root = NULL;
	req->argc = 0;
	req->code = req->stdin_data = NULL;
}

void api_request_sbx(const struct api_request *req, struct sbx_request *out)
{
	sbx_request_init(out);
	out->language = req->language;
	out->code = req->code;
	out->code_len = req->code_len;
	out->stdin_data = req->stdin_data;
	out->stdin_len = req->stdin_len;
	out->argv = req->argv;
	out->argc = req->argc;
	out->collect_out = req->output_files;
	out->out_max_files = req->out_max_files;
	out->out_max_bytes = req->out_max_bytes;
	out->limits = req->limits;
}

void api_request_job(const struct api_request *req, struct job_spec *out)
{
	*out = (struct job_spec){
		.rt = req->rt, .language = req->language,
		.code = req->code, .code_len = req->code_len,
		.files = req->files, .nfiles = req->nfiles,
		.options = req->options, .noptions = req->noptions,
		.stdin_data = req->stdin_data, .stdin_len = req->stdin_len,
		.argv = req->argv, .argc = req->argc,
		.limits = req->limits, .compile_limits = req->compile_limits,
		.tests = req->tests, .ntests = req->ntests,
		.stop_on_failure = req->stop_on_failure,
		.redirect_stderr = req->redirect_stderr,
		.runs = req->runs,
		.collect_out = req->output_files,
		.out_max_files = req->out_max_files,
		.out_max_bytes = req->out_max_bytes,
	};
}

int api_check_content_type(const char *ct, bool text_plain_ok, struct api_error *err)
{
	size_t n, a = 0;

	if (!ct)
		return 0;
	while (ct[a] == ' ' || ct[a] == '\t')
		a++;
	ct += a;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 0)
		return 0;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 0;
	if (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + n - 5, "+json", 5) == 0)
		return 0;
	if (text_plain_ok && n == 10 && strncasecmp(ct, "text/plain", 10) == 0)
		return 0;
	return api_fail(err, API_E_UNSUPPORTED_MEDIA_TYPE,
			"the request body must be JSON (Content-Type: application/json)");
}

int api_check_origin(const char *sec_fetch_site, const char *origin, const char *host,
		     struct api_error *err)
{
	const char *hostport;

	if (sec_fetch_site && *sec_fetch_site) {
		if (strcasecmp(sec_fetch_site, "same-origin") == 0 ||
		    strcasecmp(sec_fetch_site, "none") == 0)
			return 0;
		goto refuse;
	}
	if (!origin || !*origin)
		return 0;
	/* "scheme://host[:port]": compare what follows the scheme. */
	hostport = strstr(origin, "://");
	if (hostport && host && strcasecmp(hostport + 3, host) == 0)
		return 0;
refuse:
	return api_fail(err, API_E_CROSS_ORIGIN,
			"requests from another site's web page may not run code here");
}

/* True when the list (comma-separated, spaces allowed) holds name[0..len). */
static bool list_has(const char *list, const char *name, size_t len)
{
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n && ((n == 1 && *p == '*') || (n == len && strncasecmp(p, name, len) == 0)))
			return true;
		p += n;
	}
	return false;
}

int api_check_host(const char *host, const char *allowed, struct api_error *err)
{
	char name[256];
	struct in_addr a4;
	size_t n;

	if (!host || !*host || host[0] == '[')	/* none, or an IPv6 address */
		return 0;
	n = strcspn(host, ":");
	if (n >= sizeof(name))
		goto refuse;
	memcpy(name, host, n);
	name[n] = '\0';
	if (inet_pton(AF_INET, name, &a4) == 1 || strcasecmp(name, "localhost") == 0)
		return 0;
	if (allowed && list_has(allowed, name, n))
		return 0;
refuse:
	return api_fail(err, API_E_UNKNOWN_HOST,
			"this server does not answer to that host name (see allowed_hosts)");
}

int api_parse_id(const char *s, size_t len, int64_t *id)
{
	uint64_t v;

	if (util_parse_u64n(s, len, INT64_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*id = (int64_t)v;
	return 0;
}

int api_parse_list_query(const char *limit, const char *before,
			 unsigned *limit_out, int64_t *before_out,
			 struct api_error *err)
{
	uint64_t v;

	*limit_out = API_LIST_DEFAULT;
	*before_out = 0;
	if (limit) {
		if (util_parse_u64(limit, API_LIST_MAX, &v) < 0 || v == 0)
			return api_fail(err, API_E_INVALID_REQUEST,
					"the parameter 'limit' must be an integer from 1 to %d",
					API_LIST_MAX);
		*limit_out = (unsigned)v;
	}
	if (before) {
		if (api_parse_id(before, strlen(before), before_out) < 0)
			return api_fail(err, API_E_INVALID_REQUEST,
					"the parameter 'before' must be a positive integer id");
	}
	return 0;
}
