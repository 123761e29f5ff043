/*
 * peers.c - the Judge0 and Piston endpoints.  Each request is translated
 * into an /api/v1 request (src/judge0/, src/piston/), parsed and checked by
 * the one parser, and run by the same queue, workers and history; answers
 * are translated back.  Nothing here runs code of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "judge0/judge0.h"
#include "piston/piston.h"
#include "util/util.h"

static bool query_true(struct conn_ctx *ctx, const char *name)
{
	const char *v = http_query(ctx, name);

	return v && strcmp(v, "true") == 0;
}

/* The body as JSON, or an answer (400) already sent. */
static json_t *body_json(struct conn_ctx *ctx, enum MHD_Result *sent)
{
	struct api_error err;
	json_t *root = NULL;

	if (api_parse_body(ctx->body ? ctx->body : "", ctx->body_len, &root, &err) < 0) {
		*sent = http_send_error(ctx, &err);
		root = NULL;
	}
	free(ctx->body);
	ctx->body = NULL;
	ctx->body_len = ctx->body_cap = 0;
	return root;
}

/* Judge0's query: base64_encoded and fields (checked: 400 when unknown). */
static int judge0_query(struct conn_ctx *ctx, enum MHD_Result *sent)
{
	const char *fields = http_query(ctx, "fields");
	json_t *error = NULL;

	ctx->base64 = query_true(ctx, "base64_encoded");
	if (fields && strlen(fields) >= sizeof(ctx->fields)) {
		*sent = http_send_json(ctx, MHD_HTTP_BAD_REQUEST,
				       j0_error_json("the fields parameter is too long"));
		return -EINVAL;
	}
	if (j0_fields_check(fields, &error) < 0) {
		*sent = http_send_json(ctx, MHD_HTTP_BAD_REQUEST, error);
		return -EINVAL;
	}
	snprintf(ctx->fields, sizeof(ctx->fields), "%s", fields ? fields : "");
	return 0;
}

/* A translated request through the one parser; Judge0 words its errors as
 * 422 {"error": ...}, the translator having named the field where it can. */
static int parse_v1(struct conn_ctx *ctx, enum api_endpoint ep, json_t *v1, struct api_request *req,
		    struct api_error *err)
{
	return api_parse_value(ep, v1, &ctx->maxima, ctx->srv->cfg.runtimes, req, err);
}

static uint64_t lower(uint64_t a, uint64_t b)
{
	return b && b < a ? b : a;
}

/* Judge0's settings under the request's maxima (a key's may be lower than
 * the server's): the defaults lowered with them, as at the start. */
static void judge0_settings(const struct conn_ctx *ctx, struct j0_settings *s)
{
	const struct api_maxima *m = &ctx->maxima;

	*s = ctx->srv->cfg.judge0;
	s->max_cpu_time_limit_ms = lower(s->max_cpu_time_limit_ms, m->cpu_time_ms);
	s->cpu_time_limit_ms = lower(s->cpu_time_limit_ms, s->max_cpu_time_limit_ms);
	s->max_wall_time_limit_ms = lower(s->max_wall_time_limit_ms, m->wall_time_ms);
	s->wall_time_limit_ms = lower(s->wall_time_limit_ms, s->max_wall_time_limit_ms);
	s->max_memory_limit_kb = lower(s->max_memory_limit_kb, m->memory_bytes / 1024);
	s->memory_limit_kb = lower(s->memory_limit_kb, s->max_memory_limit_kb);
	s->max_max_processes_and_or_threads = lower(s->max_max_processes_and_or_threads,
						    m->max_processes);
	s->max_processes_and_or_threads = lower(s->max_processes_and_or_threads,
						s->max_max_processes_and_or_threads);
	s->max_output_bytes = lower(s->max_output_bytes, m->output_bytes);
}

static enum MHD_Result judge0_submit(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	enum MHD_Result sent = MHD_NO;
	json_t *root, *v1 = NULL, *normalized = NULL, *errors = NULL;
	struct api_error err;
	struct j0_settings js;
	int r;

	if (judge0_query(ctx, &sent) < 0 || !(root = body_json(ctx, &sent)))
		return sent;
	judge0_settings(ctx, &js);
	r = j0_submission_to_v1(root, ctx->base64, &js, srv->cfg.runtimes, &v1,
				&normalized, &errors);
	json_decref(root);
	if (r == -EINVAL)
		return http_send_json(ctx, MHD_HTTP_UNPROCESSABLE_CONTENT, errors);
	if (r < 0) {
		api_fail(&err, API_E_INTERNAL, "out of memory");
		return http_send_error(ctx, &err);
	}
	ctx->ep = API_JUDGE0;
	if (parse_v1(ctx, API_JUDGE0, v1, &ctx->req, &err) < 0) {
		json_decref(normalized);
		return http_send_error(ctx, &err);
	}
	ctx->wait = query_true(ctx, "wait");
	sent = http_submit(ctx, normalized);
	json_decref(normalized);
	return sent;
}

static enum MHD_Result judge0_batch(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	enum MHD_Result sent = MHD_NO;
	struct j0_batch_item *items = NULL;
	json_t *root, *error = NULL, *out;
	struct j0_settings js;
	size_t n = 0, good = 0;
	int r;

	if (judge0_query(ctx, &sent) < 0)
		return sent;
	if (!(root = body_json(ctx, &sent)))
		return sent;
	judge0_settings(ctx, &js);
	r = j0_batch_to_v1(root, ctx->base64, &js, srv->cfg.runtimes, &items, &n,
			   &error);
	json_decref(root);
	if (r == -EINVAL)
		return http_send_json(ctx, MHD_HTTP_BAD_REQUEST, error);
	if (r < 0 || !(out = json_array())) {
		struct api_error err;
		j0_batch_free(items, n);
		api_fail(&err, API_E_INTERNAL, "out of memory");
		return http_send_error(ctx, &err);
	}
	for (size_t i = 0; i < n; i++) {
		struct api_request req;
		struct api_error err;
		char token[HTTP_TOKEN_LEN + 1];
		json_t *item;

		if (items[i].errors) {
			json_array_append(out, items[i].errors);
			continue;
		}
		if (parse_v1(ctx, API_JUDGE0, json_incref(items[i].v1), &req, &err) < 0 ||
		    http_submit_one(srv, ctx->client, API_JUDGE0, &req, items[i].normalized,
				    token, &err) < 0) {
			api_request_release(&req);
			item = http_peer_error(ctx, &err);
		} else {
			api_request_release(&req);
			item = json_pack("{s:s}", "token", token);
			good++;
		}
		json_array_append_new(out, item);
	}
	j0_batch_free(items, n);
	return http_send_json(ctx, good ? MHD_HTTP_CREATED : MHD_HTTP_UNPROCESSABLE_CONTENT, out);
}

static enum MHD_Result judge0_read(struct conn_ctx *ctx)
{
	enum MHD_Result sent = MHD_NO;

	if (judge0_query(ctx, &sent) < 0)
		return sent;
	if (ctx->is_delete && !ctx->srv->cfg.allow_delete)
		return http_send_json(ctx, MHD_HTTP_FORBIDDEN,
				      j0_error_json("deleting submissions is not enabled on this "
						    "server (allow_delete)"));
	return http_enqueue_read(ctx);
}

/* GET /workers: the one queue of submissions. */
static json_t *judge0_workers(struct http_server *srv)
{
	uint64_t queued = 0, running = 0;
	unsigned busy;

	pthread_mutex_lock(&srv->q.lock);
	queued = srv->q.length + srv->q.jlength;
	busy = srv->q.running;
	pthread_mutex_unlock(&srv->q.lock);
	running = busy;
	return j0_workers_json("default", queued, srv->nworkers,
			       srv->nworkers > running ? srv->nworkers - running : 0, running, 0, 0);
}

static enum MHD_Result piston_execute(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	enum MHD_Result sent = MHD_NO;
	char msg[PST_MESSAGE_MAX];
	struct api_error err;
	json_t *root, *v1 = NULL;
	int r;

	if (!(root = body_json(ctx, &sent)))
		return sent;
	r = pst_request_to_v1(root, srv->cfg.runtimes,
			      sbx_host_features(srv->host)->python_version, &ctx->maxima, &v1,
			      NULL, msg, sizeof(msg));
	json_decref(root);
	if (r < 0) {
		api_fail(&err, r == -EINVAL ? API_E_INVALID_REQUEST : API_E_INTERNAL, "%s",
			 r == -EINVAL ? msg : "out of memory");
		return http_send_error(ctx, &err);
	}
	ctx->ep = API_PISTON;
	if (parse_v1(ctx, API_PISTON, v1, &ctx->req, &err) < 0)
		return http_send_error(ctx, &err);
	return http_enqueue(ctx);
}

/* The /api/v1 field an error names first, and Judge0's name for it. */
static const struct {
	const char *ours, *judge0;
} fields[] = {
	{ "compile_options", "compiler_options" },
	{ "callback_url", "callback_url" },
	{ "args", "command_line_arguments" },
	{ "stdin", "stdin" },
	{ "tests", "expected_output" },
	{ "code", "source_code" },
	{ "files", "additional_files" },
	{ "limits.wall_time_ms", "wall_time_limit" },
	{ "limits.cpu_time_ms", "cpu_time_limit" },
	{ "limits.memory_bytes", "memory_limit" },
	{ "limits.max_processes", "max_processes_and_or_threads" },
	{ "limits.file_size_bytes", "max_file_size" },
	{ "limits.output_bytes", "max_file_size" },
	{ "runs", "number_of_runs" },
	{ "language", "language_id" },
};

const char *http_peer_field(const struct api_error *err)
{
	const char *m = err->message;

	/* Messages start with the field, or say "the field 'X' ...". */
	if (strncmp(m, "the field '", 11) == 0)
		m += 11;
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(fields); i++) {
		size_t n = strlen(fields[i].ours);
		if (strncmp(m, fields[i].ours, n) == 0 && strchr(":.[' ", m[n]) && m[n])
			return fields[i].judge0;
	}
	if (err->code == API_E_UNKNOWN_LANGUAGE)
		return "language_id";
	return NULL;
}

json_t *http_peer_error(const struct conn_ctx *ctx, const struct api_error *err)
{
	const char *field;

	if (ctx->route.family == HTTP_F_PISTON)
		return pst_error_json(err->message);
	if (api_error_http_status(err->code) == 400 && (field = http_peer_field(err)))
		return json_pack("{s:[s]}", field, err->message);
	return j0_error_json(err->message);
}

json_t *http_peer_answer(const struct conn_ctx *ctx, json_t *answer)
{
	const struct runtime *rt = ctx->req.rt;
	json_t *out;

	if (ctx->route.family != HTTP_F_PISTON)
		return answer;
	out = pst_render(answer, ctx->req.language,
			 rt ? rt->version_text : sbx_host_features(ctx->srv->host)->python_version);
	json_decref(answer);
	return out;
}

enum MHD_Result http_serve_peer(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	const struct rt_registry *reg = srv->cfg.runtimes;
	const char *pyver = sbx_host_features(srv->host)->python_version;
	struct api_error err;
	json_t *v;

	switch (ctx->route.id) {
	case HTTP_R_J0_SUBMIT: return judge0_submit(ctx);
	case HTTP_R_J0_BATCH:
		if (ctx->route.has_body)
			return judge0_batch(ctx);
		return judge0_read(ctx);
	case HTTP_R_J0_SUBMISSION: return judge0_read(ctx);
	case HTTP_R_J0_LANGUAGES: return http_send_json(ctx, MHD_HTTP_OK, j0_languages_json(reg, pyver));
	case HTTP_R_J0_LANGUAGE:
		v = j0_language_json(reg, pyver, (long)ctx->route.exec_id);
		if (v)
			return http_send_json(ctx, MHD_HTTP_OK, v);
		api_fail(&err, API_E_NOT_FOUND, "no language with id %lld",
			 (long long)ctx->route.exec_id);
		return http_send_error(ctx, &err);
	case HTTP_R_J0_STATUSES: return http_send_json(ctx, MHD_HTTP_OK, j0_statuses_json());
	case HTTP_R_J0_ABOUT: return http_send_json(ctx, MHD_HTTP_OK, j0_about_json(NULL, NULL, NULL));
	case HTTP_R_J0_CONFIG:
		return http_send_json(ctx, MHD_HTTP_OK, j0_config_info_json(&srv->cfg.judge0));
	case HTTP_R_J0_SYSTEM: return http_send_json(ctx, MHD_HTTP_OK, j0_system_info_json());
	case HTTP_R_J0_WORKERS: return http_send_json(ctx, MHD_HTTP_OK, judge0_workers(srv));
	case HTTP_R_PISTON_RUNTIMES:
		return http_send_json(ctx, MHD_HTTP_OK, pst_runtimes_json(reg, pyver));
	case HTTP_R_PISTON_EXECUTE: return piston_execute(ctx);
	default: break;
	}
	api_fail(&err, API_E_NOT_FOUND, "no such path");
	return http_send_error(ctx, &err);
}
