/*
 * response.c - the JSON answers to runs and to GET /api/v1/languages, and
 * the status in words that the web page and API clients show to people.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "util/util.h"

size_t api_answer_max_bytes(const struct sbx_result *res)
{
	size_t raw = res->out.len + res->err.len + res->output.len;

	/* The tree's copies of the streams, then the text, where a control
	 * byte takes six ("\u0001"); the rest of the fields are small. */
	return raw + 6 * raw + (16u << 10);
}

json_t *api_limits_json(const struct sbx_limits *l)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}",
			 "wall_time_ms", (json_int_t)l->wall_ms,
			 "cpu_time_ms", (json_int_t)l->cpu_ms,
			 "memory_bytes", (json_int_t)l->memory_bytes,
			 "max_processes", (json_int_t)l->processes,
			 "output_bytes", (json_int_t)l->output_bytes);
}

json_t *api_response_json(enum api_endpoint ep, int64_t id,
			  const struct api_request *req,
			  const struct sbx_result *res)
{
	json_t *obj = json_object(), *idv;
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
	codec_status_message(res, &req->limits, msg, sizeof(msg));
	if (json_object_set_new(obj, "message", json_string(msg)) < 0)
		goto fail;
	if (ep == API_RUN) {
		if (json_object_set(obj, "id", idv) < 0)
			goto fail;
	} else {
		if (json_object_set_new(obj, "limits", api_limits_json(&req->limits)) < 0)
			goto fail;
	}
	json_decref(idv);
	return obj;
fail:
	json_decref(idv);
	json_decref(obj);
	return NULL;
}

json_t *api_languages_json(const char *python_version)
{
	return json_pack("[{s:s, s:s, s:[s, s]}]", "language", "python",
			 "version", python_version ? python_version : "",
			 "aliases", "python3", "py");
}
