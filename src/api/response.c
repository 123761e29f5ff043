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

/* 10000 -> "10 s", 1500 -> "1.5 s", 250 -> "250 ms". */
static void format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000) {
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	} else if (ms % 1000 == 0) {
		snprintf(buf, len, "%" PRIu64 " s", ms / 1000);
	} else {
		unsigned frac = (unsigned)(ms % 1000);
		int digits = 3;

		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(buf, len, "%" PRIu64 ".%0*u s", ms / 1000, digits, frac);
	}
}

char *api_status_message(const struct sbx_result *res, const struct sbx_limits *l,
			 char *buf, size_t len)
{
	char v[48];
	const char *abbrev;

	switch (res->status) {
	case SBX_OK:
		snprintf(buf, len, "%s", "");
		break;
	case SBX_RUNTIME_ERROR:
		snprintf(buf, len, "Exited with code %d", res->exit_code);
		break;
	case SBX_SIGNALED:
		abbrev = sigabbrev_np(res->signal);
		if (abbrev)
			snprintf(buf, len, "Killed by signal %d (SIG%s)", res->signal, abbrev);
		else
			snprintf(buf, len, "Killed by signal %d", res->signal);
		break;
	case SBX_TIMEOUT:
		/* Name the CPU limit only when it is the tighter one and was
		 * reached; with equal limits "time" is what people expect. */
		if (l->cpu_ms < l->wall_ms && res->cpu_time_ms >= l->cpu_ms) {
			format_ms(l->cpu_ms, v, sizeof(v));
			snprintf(buf, len, "CPU time limit exceeded (%s)", v);
		} else {
			format_ms(l->wall_ms, v, sizeof(v));
			snprintf(buf, len, "Time limit exceeded (%s)", v);
		}
		break;
	case SBX_MEMORY_LIMIT:
		snprintf(buf, len, "Memory limit exceeded (%s)",
			 util_format_size(l->memory_bytes, v, sizeof(v)));
		break;
	case SBX_OUTPUT_LIMIT:
		snprintf(buf, len, "Output limit exceeded (%s)",
			 util_format_size(l->output_bytes, v, sizeof(v)));
		break;
	default:
		snprintf(buf, len, "%s", "Internal error");
		break;
	}
	return buf;
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
	api_status_message(res, &req->limits, msg, sizeof(msg));
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
