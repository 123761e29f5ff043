/*
 * response.c - the JSON answers to runs and to GET /api/v1/languages, and
 * the status in words that the web page and API clients show to people.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "util/util.h"

static size_t result_max_bytes(const struct sbx_result *res)
{
	size_t raw = res->out.len + res->err.len + res->output.len, files = 0;

	/* The returned files: base64 in the tree, then again in the text,
	 * and each file's other fields; the dropped entries are small. */
	for (size_t i = 0; i < res->nout_files; i++)
		files += 2 * ((res->out_files[i].len + 2) / 3 * 4) + 256;
	/* The tree's copies of the streams, then the text, where a control
	 * byte takes six ("\u0001"); the rest of the fields are small. */
	return raw + 6 * raw + files + (16u << 10);
}

size_t api_answer_max_bytes(const struct job_result *res)
{
	size_t n = res->compiled ? result_max_bytes(&res->compile) : 0;

	for (size_t i = 0; i < res->ntests; i++)
		n += result_max_bytes(&res->tests[i].res);
	/* The decisive test's fields appear twice with tests. */
	if (res->ntests > 1)
		n += result_max_bytes(&res->tests[res->decisive].res);
	return n;
}

json_t *api_limits_json(const struct sbx_limits *l)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "wall_time_ms", (json_int_t)l->wall_ms,
			 "cpu_time_ms", (json_int_t)l->cpu_ms,
			 "memory_bytes", (json_int_t)l->memory_bytes,
			 "max_processes", (json_int_t)l->processes,
			 "output_bytes", (json_int_t)l->output_bytes,
			 "file_size_bytes", (json_int_t)l->file_size_bytes);
}

/* A test's result fields and its verdict (only the verdict when it did
 * not run). */
static json_t *test_json(const struct api_request *req, const struct job_test_result *t)
{
	json_t *obj = json_pack("{s:s}", "verdict", job_verdict_name(t));
	char msg[128];

	if (!obj || t->verdict == JOB_NOT_RUN)
		return obj;
	codec_status_message(&t->res, &req->limits, msg, sizeof(msg));
	if (codec_result_add(obj, &t->res) < 0 ||
	    (req->output_files && codec_out_files_add(obj, &t->res) < 0) ||
	    json_object_set_new(obj, "message", json_string(msg)) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *api_tests_json(const struct api_request *req, const struct job_result *res)
{
	json_t *obj, *list;

	if (!req->tests)
		return NULL;
	obj = json_pack("{s:s, s:[], s:{s:I, s:I, s:I, s:I}}", "verdict",
			res->compile_failed ? "compile_error"
					    : job_verdict_name(&res->tests[res->decisive]),
			"tests", "totals", "tests", (json_int_t)res->ntests,
			"accepted", (json_int_t)res->accepted, "failed", (json_int_t)res->failed,
			"not_run", (json_int_t)res->not_run);
	list = obj ? json_object_get(obj, "tests") : NULL;
	for (size_t i = 0; list && i < res->ntests; i++) {
		if (json_array_append_new(list, test_json(req, &res->tests[i])) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *api_response_json(enum api_endpoint ep, int64_t id, const struct api_request *req,
			  const struct job_result *jr)
{
	const struct sbx_result *res = &jr->tests[jr->decisive].res;
	const struct sbx_result *compile = jr->compiled ? &jr->compile : NULL;
	json_t *obj = json_object(), *idv, *tests;
	char msg[128];

	if (!obj)
		return NULL;
	idv = id > 0 ? json_integer(id) : json_null();
	if (ep == API_RUN) {
		/* The original service answered {"output": ...}: keep that
		 * key first for people reading the raw answer. */
		if (json_object_set_new(obj, "output",
					codec_string(res->output.data, res->output.len)) < 0)
			goto fail;
	} else {
		if (json_object_set(obj, "id", idv) < 0 ||
		    json_object_set_new(obj, "language", json_string(req->language)) < 0)
			goto fail;
	}
	if (codec_result_add(obj, res) < 0)
		goto fail;
	if (ep != API_RUN && req->output_files && codec_out_files_add(obj, res) < 0)
		goto fail;
	codec_status_message(res, &req->limits, msg, sizeof(msg));
	if (json_object_set_new(obj, "message", json_string(msg)) < 0)
		goto fail;
	if (compile && codec_compile_add(obj, compile, &req->compile_limits) < 0)
		goto fail;
	if (req->tests) {
		if (!(tests = api_tests_json(req, jr)) || json_object_update(obj, tests) < 0) {
			json_decref(tests);
			goto fail;
		}
		json_decref(tests);
	}
	if (ep == API_RUN) {
		if (json_object_set(obj, "id", idv) < 0)
			goto fail;
	} else {
		if (json_object_set_new(obj, "limits", api_limits_json(&req->limits)) < 0)
			goto fail;
		if (compile && json_object_set_new(obj, "compile_limits",
						   api_limits_json(&req->compile_limits)) < 0)
			goto fail;
	}
	json_decref(idv);
	return obj;
fail:
	json_decref(idv);
	json_decref(obj);
	return NULL;
}

static json_t *stage_json(const struct sbx_limits *def, const struct sbx_limits *max)
{
	return json_pack("{s:o, s:o}", "default", api_limits_json(def), "max", api_limits_json(max));
}

static json_t *strings(const char (*list)[RT_NAME_MAX], size_t n, size_t size)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string((const char *)list + i * size));
	return a;
}

json_t *api_languages_json(const struct rt_registry *reg, const struct api_maxima *max,
			   const char *python_version)
{
	struct sbx_limits base, server_max, def, most;
	json_t *list = json_array();

	if (!list)
		return NULL;
	api_default_limits(max, &base);
	api_max_limits(max, &server_max);
	for (size_t i = 0; reg && i < reg->n; i++) {
		const struct runtime *rt = &reg->rt[i];
		if (!rt->available)
			continue;
		rt_run_limits(rt, &base, &server_max, &def, &most);
		json_t *limits = json_pack("{s:o}", "run", stage_json(&def, &most));
		if (limits && rt_compiles(rt)) {
			rt_compile_limits(rt, &def, &most);
			json_object_set_new(limits, "compile", stage_json(&def, &most));
		}
		json_t *exts = json_array();
		for (size_t e = 0; exts && e < rt->nextensions; e++)
			json_array_append_new(exts, json_string(rt->extensions[e]));
		json_t *item = json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:s, s:s, s:o}",
					 "language", rt->name, "display_name", rt->display_name,
					 "version", rt->version_text,
					 "aliases", strings(rt->aliases, rt->naliases, RT_NAME_MAX),
					 "compiled", rt_compiles(rt), "extensions", exts,
					 "source_file", rt->source_file, "hello",
					 rt->hello ? rt->hello : "", "limits", limits);
		if (!item || json_array_append_new(list, item) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	if (!rt_find(reg, "python", 6)) {
		json_t *item = json_pack("{s:s, s:s, s:s, s:[s, s], s:b, s:[s], s:s, s:s, s:{s:o}}",
					 "language", "python", "display_name", "Python 3",
					 "version", python_version ? python_version : "",
					 "aliases", "python3", "py", "compiled", 0, "extensions", "py",
					 "source_file", "main.py", "hello", "print(\"Hello World\")\n",
					 "limits", "run", stage_json(&base, &server_max));
		if (!item || json_array_insert_new(list, 0, item) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* --- Live output (Server-Sent Events) ------------------------------------- */

char *api_event(const char *name, json_t *v, size_t *outlen)
{
	static const char data[] = "\ndata: ";
	size_t nlen = strlen(name), head = 7 + nlen + sizeof(data) - 1, n;
	char *text = NULL;

	*outlen = 0;
	if (!v)
		return NULL;
	/* Without JSON_INDENT jansson writes one line, and every line break
	 * of a string is an escape: the data stays on its "data:" line. */
	n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
	if (n && n <= SIZE_MAX - head - 2)
		text = malloc(head + n + 2);
	if (text && json_dumpb(v, text + head, n, JSON_ENCODE_ANY) == n) {
		memcpy(text, "event: ", 7);
		memcpy(text + 7, name, nlen);
		memcpy(text + 7 + nlen, data, sizeof(data) - 1);
		text[head + n] = '\n';
		text[head + n + 1] = '\n';
		*outlen = head + n + 2;
	} else {
		free(text);
		text = NULL;
	}
	json_decref(v);
	return text;
}

char *api_output_event(int stream, const char *data, size_t len, size_t *outlen)
{
	json_t *s = codec_string(data, len);

	*outlen = 0;
	if (!s)
		return NULL;
	return api_event(stream == 2 ? "stderr" : "stdout", json_pack("{s:o}", "data", s), outlen);
}

size_t api_output_event_max(size_t len)
{
	/* A byte becomes at most six in JSON ("\u0001"); U+FFFD for an
	 * invalid one takes three.  The rest: "event: stderr\ndata:
	 * {"data": ""}\n\n". */
	return 6 * len + 64;
}
