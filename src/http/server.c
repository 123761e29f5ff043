/*
 * server.c - libmicrohttpd glue, the execution queue and the workers.
 *
 * Threads: one libmicrohttpd thread (epoll) runs every callback here
 * except worker_main() and reader_main(); N workers run sandboxes, one
 * reader answers history reads.  They share only the queues (each under
 * its lock), the atomics in struct http_server and, for a queued request,
 * its conn_ctx, which passes wholly to the worker or reader when it is
 * queued and back to the event thread by MHD_resume_connection().  A
 * streamed run's context passes to its worker likewise, but its connection
 * goes on meanwhile: the two share only its struct http_stream (stream.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "cache/cache.h"
#include "callback/callback.h"
#include "http/internal.h"
#include "store/store.h"
#include "util/util.h"
#include "warm/warm.h"

int64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'self'; img-src 'self' data:");
}

void http_common_headers(struct MHD_Response *resp)
{
	add_common_headers(resp);
}

/* Serializes a JSON value (consumed) with a final newline into a response,
 * with the body's size in *len. */
struct MHD_Response *http_json_response_len(json_t *v, size_t *len)
{
	struct MHD_Response *resp;
	char *text;
	size_t n;

	if (!v)
		return NULL;
	/* Sized first, then written once into a buffer of its exact size:
	 * no second copy of a large answer (see api_answer_max_bytes()). */
	n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
	text = n ? malloc(n + 1) : NULL;
	if (text && json_dumpb(v, text, n, JSON_ENCODE_ANY) != n) {
		free(text);
		text = NULL;
	}
	json_decref(v);
	if (!text)
		return NULL;
	text[n++] = '\n';
	*len = n;
	resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	add_common_headers(resp);
	return resp;
}

struct MHD_Response *http_json_response(json_t *v)
{
	size_t len;

	return http_json_response_len(v, &len);
}

unsigned http_error_status(const struct conn_ctx *ctx, const struct api_error *err)
{
	unsigned code = api_error_http_status(err->code);

	/* Judge0 answers a submission it cannot take with 422. */
	if (ctx->route.family == HTTP_F_JUDGE0 && code == 400 && http_peer_field(err))
		return MHD_HTTP_UNPROCESSABLE_CONTENT;
	return code;
}

struct MHD_Response *http_error_response(const struct conn_ctx *ctx, const struct api_error *err,
					 const char *allow)
{
	struct MHD_Response *resp;
	json_t *body;

	/* Each API's clients read errors in its own shape. */
	body = ctx->route.family == HTTP_F_SAFEXEC ? api_error_json(err)
						    : http_peer_error(ctx, err);
	if (!(resp = http_json_response(body)))
		return NULL;
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (err->code == API_E_QUEUE_FULL || err->code == API_E_SHUTTING_DOWN ||
	    err->code == API_E_STORE_UNAVAILABLE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return resp;
}

enum MHD_Result http_send_response(struct conn_ctx *ctx, unsigned code,
				   struct MHD_Response *resp)
{
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;	/* out of memory: drop the connection */
	http_guard_headers(ctx, resp);
	r = MHD_queue_response(ctx->conn, code, resp);
	MHD_destroy_response(resp);
	if (r == MHD_YES) {
		ctx->answered = true;
		http_metrics_response(&ctx->srv->metrics, code);
	}
	return r;
}

static enum MHD_Result send_error_allow(struct conn_ctx *ctx, const struct api_error *err,
					const char *allow)
{
	return http_send_response(ctx, http_error_status(ctx, err),
				  http_error_response(ctx, err, allow));
}

enum MHD_Result http_send_error(struct conn_ctx *ctx, const struct api_error *err)
{
	return send_error_allow(ctx, err, NULL);
}

enum MHD_Result http_send_json(struct conn_ctx *ctx, unsigned code, json_t *v)
{
	struct api_error err;

	if (!v) {
		api_fail(&err, API_E_INTERNAL, "out of memory");
		return http_send_error(ctx, &err);
	}
	return http_send_response(ctx, code, http_json_response(v));
}

const char *http_query(struct conn_ctx *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* --- The workers --------------------------------------------------------- */

/* Reserves bytes of answer memory, waiting while they do not fit (unless
 * nothing is held, or the server is giving up on its runs). */
static void mem_reserve(struct http_server *srv, size_t bytes)
{
	pthread_mutex_lock(&srv->mem.lock);
	while (srv->mem.bytes && bytes > HTTP_PENDING_BYTES_MAX - srv->mem.bytes &&
	       !atomic_load(&srv->abort_runs))
		pthread_cond_wait(&srv->mem.freed, &srv->mem.lock);
	srv->mem.bytes += bytes;
	pthread_mutex_unlock(&srv->mem.lock);
}

static void mem_release(struct http_server *srv, size_t bytes)
{
	if (!bytes)
		return;
	pthread_mutex_lock(&srv->mem.lock);
	srv->mem.bytes -= bytes;
	pthread_cond_broadcast(&srv->mem.freed);
	pthread_mutex_unlock(&srv->mem.lock);
}

void http_mem_reserve(struct http_server *srv, size_t bytes)
{
	mem_reserve(srv, bytes);
}

void http_mem_release(struct http_server *srv, size_t bytes)
{
	mem_release(srv, bytes);
}

int http_execute(struct http_server *srv, struct conn_ctx *ctx, bool reserve, json_t **answer,
		 struct api_error *err)
{
	struct job_result res;
	struct job_spec spec;
	struct store_record rec;
	json_t *tests = NULL;
	int64_t id = -1;
	uint64_t t0;
	int r;

	*answer = NULL;
	if (atomic_load(&srv->abort_runs))
		return api_fail(err, API_E_SHUTTING_DOWN, "the server is shutting down");
	t0 = util_now_ns();
	api_request_job(&ctx->req, &spec);
	if (ctx->stream)
		http_stream_job(ctx->stream, &spec);
	r = job_execute(srv->host, srv->cache, &spec, &res);
	if (r == -E2BIG) {
		/* The parser lets nothing through that the sandbox's check
		 * refuses: only the kernel's word on the arguments, or /box's
		 * room for the code, gets here. */
		job_result_release(&res);
		return api_fail(err, API_E_PAYLOAD_TOO_LARGE, "the sandbox refused the request: "
				"its code does not fit the memory limit, or its arguments are "
				"too large");
	}
	if (ctx->token[0] && (atomic_load(&srv->abort_runs) ||
			      (ctx->attempt && ctx->fence != atomic_load(&srv->fence)))) {
		/* A submission stopped with the service is not recorded: it
		 * runs again at the next start, or on another node.  So is
		 * one whose lease this node could not renew. */
		job_result_release(&res);
		return api_fail(err, API_E_SHUTTING_DOWN, "the server is shutting down");
	}
	const struct sbx_result *last = res.compile_failed ? &res.compile
							   : &res.tests[res.decisive].res;
	http_metrics_run(&srv->metrics, last->status, (util_now_ns() - t0) / 1000);
	if (last->status == SBX_INTERNAL_ERROR)
		fprintf(stderr, "safexec: run failed: %s\n", last->error);
	if (reserve) {
		ctx->resp_bytes = api_answer_max_bytes(&res);
		mem_reserve(srv, ctx->resp_bytes);
	}

	tests = api_tests_json(&ctx->req, &res);
	*answer = api_response_json(ctx->ep, -1, &ctx->req, &res);
	rec = (struct store_record){
		.created_ms = ctx->created_ms,
		.client = ctx->client,
		.endpoint = api_endpoint_name(ctx->ep),
		.language = ctx->req.language,
		.code = ctx->req.code,
		.code_len = ctx->req.code_len,
		.stdin_data = ctx->req.stdin_data,
		.stdin_len = ctx->req.stdin_len,
		.argv = ctx->req.argv,
		.argc = ctx->req.argc,
		.limits = &ctx->req.limits,
		.result = &res.tests[res.decisive].res,
		.compile = res.compiled ? &res.compile : NULL,
		.compile_limits = &ctx->req.compile_limits,
		.tests = tests,
		.output_files = ctx->req.output_files,
		/* A submission is finished with its record, atomically. */
		.job_token = ctx->token[0] && *answer ? ctx->token : NULL,
		.job_attempt = ctx->attempt,
		.job_answer = *answer,
	};
	ctx->job_finished = false;
	r = store_insert(srv->store, &rec, &id);
	if (r == -EALREADY) {
		/* Another start of the job wrote its record and answer: this
		 * node lost its lease meanwhile. */
		ctx->job_finished = true;
		id = -1;
	} else if (r < 0 && srv->shared) {
		/* Several nodes answer for one history: a run it does not
		 * hold is not answered either, and may be sent again. */
		json_decref(tests);
		json_decref(*answer);
		*answer = NULL;
		job_result_release(&res);
		return api_fail(err, API_E_STORE_UNAVAILABLE, "the database cannot be reached: "
				"the run was not recorded; nothing was stored; retry later");
	} else if (r < 0) {
		fprintf(stderr, "safexec: could not record an execution\n");
		id = -1;
	} else {
		ctx->job_finished = rec.job_token != NULL;
	}
	json_decref(tests);
	job_result_release(&res);
	if (!*answer)
		return api_fail(err, API_E_INTERNAL, "out of memory");
	if (json_object_set_new(*answer, "id", id > 0 ? json_integer(id) : json_null()) < 0) {
		json_decref(*answer);
		*answer = NULL;
		return api_fail(err, API_E_INTERNAL, "out of memory");
	}
	return 0;
}

/* A synchronous run: its answer goes back on the waiting connection. */
void http_run_job(struct http_server *srv, struct conn_ctx *ctx)
{
	struct api_error err;
	json_t *answer;
	size_t sent_bytes;

	if (ctx->token[0]) {
		http_run_submission(srv, ctx);
		return;
	}
	if (ctx->stream) {
		http_stream_run(srv, ctx);
		return;
	}
	if (http_execute(srv, ctx, true, &answer, &err) == 0) {
		if (ctx->route.family != HTTP_F_SAFEXEC)
			answer = http_peer_answer(ctx, answer);
		ctx->resp_code = MHD_HTTP_OK;
		ctx->resp = http_json_response_len(answer, &sent_bytes);
		if (ctx->resp) {
			/* Keep what the answer holds; give back the rest. */
			if (sent_bytes < ctx->resp_bytes) {
				mem_release(srv, ctx->resp_bytes - sent_bytes);
				ctx->resp_bytes = sent_bytes;
			}
			goto out;
		}
		api_fail(&err, API_E_INTERNAL, "out of memory");
	}
	ctx->resp_code = http_error_status(ctx, &err);
	ctx->resp = http_error_response(ctx, &err, NULL);
out:
	api_request_release(&ctx->req);
	ctx->ran = true;
	/* From here on the context belongs to the event thread again. */
	MHD_resume_connection(ctx->conn);
}

/* Takes jobs from q and runs them with job() until q is stopping and empty. */
static void serve_queue(struct http_server *srv, struct job_queue *q,
			void (*job)(struct http_server *, struct conn_ctx *))
{
	for (;;) {
		struct conn_ctx *ctx;

		pthread_mutex_lock(&q->lock);
		/* Submissions wait in the store too: a stopping queue leaves
		 * them there. */
		bool take_jobs;
		while (take_jobs = !q->stopping && !atomic_load(&srv->shutting_down),
		       !q->head && !(q->jhead && take_jobs) && !q->stopping)
			pthread_cond_wait(&q->work, &q->lock);
		if ((ctx = q->head)) {
			q->head = ctx->next;
			if (!q->head)
				q->tail = NULL;
			q->length--;
		} else if (take_jobs && (ctx = q->jhead)) {
			q->jhead = ctx->next;
			if (!q->jhead)
				q->jtail = NULL;
			q->jlength--;
		} else {
			pthread_mutex_unlock(&q->lock);
			break;
		}
		q->running++;
		pthread_mutex_unlock(&q->lock);

		job(srv, ctx);

		pthread_mutex_lock(&q->lock);
		q->running--;
		pthread_cond_broadcast(&q->idle);
		pthread_mutex_unlock(&q->lock);
	}
}

static void *worker_main(void *arg)
{
	struct http_server *srv = arg;

	if (srv->shared)
		http_claim_jobs(srv);
	else
		serve_queue(srv, &srv->q, http_run_job);
	return NULL;
}

/* A history read, on the reader thread. */
static void read_job(struct http_server *srv, struct conn_ctx *ctx)
{
	struct api_error err;
	json_t *out = NULL;
	int r;

	if (ctx->route.id != HTTP_R_EXECUTIONS && ctx->route.id != HTTP_R_EXECUTION) {
		http_read_submission(srv, ctx);
		ctx->ran = true;
		MHD_resume_connection(ctx->conn);
		return;
	}
	if (ctx->route.id == HTTP_R_EXECUTIONS)
		r = store_list(srv->store, ctx->list_before, ctx->list_limit, &out);
	else
		r = store_get(srv->store, ctx->route.exec_id, &out);
	if (r == 0) {
		ctx->resp_code = MHD_HTTP_OK;
		ctx->resp = http_json_response(out);
	} else {
		if (r == -ENOENT)
			api_fail(&err, API_E_NOT_FOUND, "no execution with id %lld",
				 (long long)ctx->route.exec_id);
		else if (r == -ENOTCONN)
			api_fail(&err, API_E_STORE_UNAVAILABLE, "the database cannot be reached");
		else {
			fprintf(stderr, "safexec: could not read the history\n");
			api_fail(&err, API_E_INTERNAL, "could not read the history");
		}
		ctx->resp_code = http_error_status(ctx, &err);
		ctx->resp = http_error_response(ctx, &err, NULL);
	}
	ctx->ran = true;
	MHD_resume_connection(ctx->conn);
}

static void *reader_main(void *arg)
{
	struct http_server *srv = arg;

	serve_queue(srv, &srv->rq, read_job);
	return NULL;
}

/* Suspends the connection and appends it to q, whose lock is held.  Suspend
 * before the push: the thread that takes the context may resume the
 * connection as soon as it holds it. */
static void push_locked(struct job_queue *q, struct conn_ctx *ctx)
{
	/* A stream answers at once, and its reader waits for the output. */
	if (!ctx->stream)
		MHD_suspend_connection(ctx->conn);
	ctx->next = NULL;
	if (q->tail)
		q->tail->next = ctx;
	else
		q->head = ctx;
	q->tail = ctx;
	q->length++;
	pthread_cond_signal(&q->work);
}

void http_push_submission(struct http_server *srv, struct conn_ctx *job)
{
	struct job_queue *q = &srv->q;

	pthread_mutex_lock(&q->lock);
	job->next = NULL;
	if (q->jtail)
		q->jtail->next = job;
	else
		q->jhead = job;
	q->jtail = job;
	q->jlength++;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

/* Hands a history read to the reader thread, or answers 503. */
enum MHD_Result http_enqueue_read(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	struct job_queue *q = &srv->rq;
	struct api_error err;

	pthread_mutex_lock(&q->lock);
	if (q->stopping || q->length >= q->capacity) {
		pthread_mutex_unlock(&q->lock);
		api_fail(&err, q->stopping ? API_E_SHUTTING_DOWN : API_E_QUEUE_FULL,
			 q->stopping ? "the server is shutting down"
				     : "too many history reads are waiting; retry later");
		return http_send_error(ctx, &err);
	}
	push_locked(q, ctx);
	pthread_mutex_unlock(&q->lock);
	return MHD_YES;
}

/* Queues the request for a worker, or answers 503.  Called on the event
 * thread, the only one that pushes, so the room seen under the lock can
 * only grow until the push. */
enum MHD_Result http_enqueue(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	struct job_queue *q = &srv->q;
	struct api_error err;

	pthread_mutex_lock(&q->lock);
	if (q->stopping || atomic_load(&srv->shutting_down)) {
		pthread_mutex_unlock(&q->lock);
		api_fail(&err, API_E_SHUTTING_DOWN, "the server is shutting down");
		return http_send_error(ctx, &err);
	}
	/* Answered runs count until they are sent: a client that does not
	 * read its answer holds a slot (and its answer's memory, see
	 * mem_reserve()). */
	if (atomic_load(&srv->pending) >= q->capacity + srv->nworkers) {
		pthread_mutex_unlock(&q->lock);
		api_fail(&err, API_E_QUEUE_FULL,
			 "all %u sandboxes are busy and %u executions are waiting; "
			 "retry later", srv->nworkers, q->capacity);
		return http_send_error(ctx, &err);
	}
	if (srv->shared) {
		struct store_health h;
		store_health(srv->store, &h);
		if (!h.up) {
			pthread_mutex_unlock(&q->lock);
			api_fail(&err, API_E_STORE_UNAVAILABLE, "the database cannot be reached; "
				 "nothing was stored; retry later");
			return http_send_error(ctx, &err);
		}
	}
	if (ctx->stream && srv->shared && q->waiting <= q->handoffs) {
		pthread_mutex_unlock(&q->lock);
		api_fail(&err, API_E_QUEUE_FULL, "a streamed run runs on the node that answers "
			 "it, and all %u sandboxes of this node are busy; retry later",
			 srv->nworkers);
		return http_send_error(ctx, &err);
	}
	if (ctx->stream && http_stream_answer(ctx) != MHD_YES) {
		pthread_mutex_unlock(&q->lock);
		return MHD_NO;
	}
	ctx->queued = true;
	atomic_fetch_add(&srv->pending, 1);
	if (srv->shared && q->waiting <= q->handoffs) {
		/* No worker here is free: any node may run it, this one
		 * answers it. */
		pthread_mutex_unlock(&q->lock);
		return http_submit_sync(ctx);
	}
	if (srv->shared) {
		/* A worker here is free: it runs it at once, as without a
		 * shared queue (only its record is stored: a run nobody
		 * waits for any more needs no job to survive its node). */
		q->handoffs++;
		if (!ctx->stream)
			MHD_suspend_connection(ctx->conn);
		http_hand_over_locked(q, ctx);
		pthread_mutex_unlock(&q->lock);
		return MHD_YES;
	}
	push_locked(q, ctx);
	pthread_mutex_unlock(&q->lock);
	return MHD_YES;
}

/* --- Handlers ------------------------------------------------------------ */

static enum MHD_Result serve_asset(struct conn_ctx *ctx)
{
	const struct http_asset *a = ctx->route.asset;
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(a->len, (void *)a->data,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				http_content_type(a->path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	add_common_headers(resp);
	return http_send_response(ctx, MHD_HTTP_OK, resp);
}

static enum MHD_Result serve_healthz(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	const struct sbx_features *f = sbx_host_features(srv->host);
	bool stopping = atomic_load(&srv->shutting_down);
	const char *cg = f->cgroup == SBX_CGROUP_V2 ? "v2" :
			 f->cgroup == SBX_CGROUP_V1 ? "v1" : "none";
	struct store_health h;
	unsigned length, running;

	pthread_mutex_lock(&srv->q.lock);
	length = srv->q.length;
	running = srv->q.running;
	pthread_mutex_unlock(&srv->q.lock);
	store_health(srv->store, &h);
	/* A node that cannot store a job is out of service for a load
	 * balancer, whatever else works. */
	return http_send_json(ctx, stopping || !h.up ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
			 json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:s}",
				   "status", stopping ? "shutting_down" :
					     !h.up ? "store_unavailable" : "ok",
				   "cgroup", cg,
				   "root", f->root, "userns", f->userns,
				   "seccomp", f->seccomp,
				   "python_version", f->python_version,
				   "workers", (json_int_t)srv->nworkers,
				   "queue_capacity", (json_int_t)srv->q.capacity,
				   "queue_length", (json_int_t)length,
				   "running", (json_int_t)running,
				   "store", store_kind(srv->store),
				   "store_up", h.up,
				   "node", srv->cfg.node));
}

static enum MHD_Result serve_metrics(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	struct MHD_Response *resp;
	struct http_gauges g = {
		.running = sbx_host_running(srv->host),
		.workers = srv->nworkers,
		.queue_capacity = srv->q.capacity,
		.answer_bytes_max = HTTP_PENDING_BYTES_MAX,
	};
	size_t len;
	char *text;

	pthread_mutex_lock(&srv->q.lock);
	g.queue_length = srv->q.length;
	pthread_mutex_unlock(&srv->q.lock);
	pthread_mutex_lock(&srv->mem.lock);
	g.answer_bytes = srv->mem.bytes;
	pthread_mutex_unlock(&srv->mem.lock);
	g.jobs_open = atomic_load(&srv->jobs_open);
	g.jobs_max = srv->cfg.jobs_max;
	struct cache_stats cs;
	cache_stats(srv->cache, &cs);
	g.cache_hits = cs.hits;
	g.cache_misses = cs.misses;
	g.cache_bytes = cs.bytes;
	g.cache_entries = cs.entries;
	if (srv->callbacks) {
		struct cb_stats cb;
		cb_stats(srv->callbacks, &cb);
		g.callbacks_delivered = cb.delivered;
		g.callbacks_failed = cb.failed;
		g.callbacks_refused = cb.refused;
	}
	struct store_health h;
	store_health(srv->store, &h);
	g.store_up = h.up;
	g.store_reconnects = h.reconnects;
	g.store_round_trips = h.round_trips;
	g.store_wait_ns = h.wait_ns;
	g.jobs_claimed = h.claimed;
	if (srv->cfg.warm) {
		struct warm_stats ws;
		warm_get_stats(srv->cfg.warm, &ws);
		g.warm_up = ws.up;
		g.warm_runs = ws.runs;
		g.warm_fallbacks = ws.fallbacks;
		g.zygotes_started = ws.started;
	}
	http_guard_gauges(srv, &g);
	/* Count this answer before it is written so that it shows itself. */
	text = http_metrics_text(&srv->metrics, &g, &len);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	add_common_headers(resp);
	return http_send_response(ctx, MHD_HTTP_OK, resp);
}

static enum MHD_Result serve_list(struct conn_ctx *ctx)
{
	const char *limit = MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *before = MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, "before");
	struct api_error err;

	if (api_parse_list_query(limit, before, &ctx->list_limit, &ctx->list_before, &err) < 0)
		return http_send_error(ctx, &err);
	return http_enqueue_read(ctx);
}

static enum MHD_Result serve_get(struct conn_ctx *ctx)
{
	return http_enqueue_read(ctx);
}

/* A body that was too large, answered once it has ended. */
static bool body_refused(struct conn_ctx *ctx)
{
	struct api_error err;

	if (!ctx->too_large)
		return false;
	api_fail(&err, API_E_PAYLOAD_TOO_LARGE, "the request body is larger than %zu bytes",
		 ctx->srv->cfg.max_body);
	http_send_error(ctx, &err);
	return true;
}

static enum MHD_Result serve_run(struct conn_ctx *ctx)
{
	struct http_server *srv = ctx->srv;
	struct api_error err;
	const char *wait;
	int r;

	if (body_refused(ctx))
		return ctx->answered ? MHD_YES : MHD_NO;
	ctx->ep = ctx->route.id == HTTP_R_RUN ? API_RUN :
		  ctx->route.id == HTTP_R_JOBS ? API_JOBS : API_EXECUTE;
	r = api_parse_request(ctx->ep, ctx->body ? ctx->body : "", ctx->body_len,
			      &ctx->maxima, srv->cfg.runtimes, &ctx->req, &err);
	free(ctx->body);
	ctx->body = NULL;
	ctx->body_len = ctx->body_cap = 0;
	if (r < 0)
		return http_send_error(ctx, &err);
	if ((r = http_stream_wanted(ctx, &err)) < 0)
		return http_send_error(ctx, &err);
	if (r > 0)
		return http_stream_start(ctx);
	if (ctx->route.id != HTTP_R_JOBS)
		return http_enqueue(ctx);
	wait = http_query(ctx, "wait");
	ctx->wait = wait && strcmp(wait, "true") == 0;
	return http_submit(ctx, NULL);
}

static enum MHD_Result dispatch(struct conn_ctx *ctx)
{
	memcpy(ctx->token, ctx->route.token, sizeof(ctx->token));
	switch (ctx->route.id) {
	case HTTP_R_ASSET: return serve_asset(ctx);
	case HTTP_R_RUN:
	case HTTP_R_EXECUTE:
	case HTTP_R_JOBS: return serve_run(ctx);
	case HTTP_R_LANGUAGES:
		return http_send_json(ctx, MHD_HTTP_OK,
				      api_languages_json(ctx->srv->cfg.runtimes, &ctx->maxima,
							 sbx_host_features(ctx->srv->host)->python_version));
	case HTTP_R_EXECUTIONS: return serve_list(ctx);
	case HTTP_R_EXECUTION:
	case HTTP_R_JOB: return serve_get(ctx);
	case HTTP_R_HEALTHZ: return serve_healthz(ctx);
	case HTTP_R_METRICS: return serve_metrics(ctx);
	default:
		if (ctx->route.has_body && body_refused(ctx))
			return ctx->answered ? MHD_YES : MHD_NO;
		return http_serve_peer(ctx);
	}
}

static void client_address(struct conn_ctx *ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(ctx->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len;

	snprintf(ctx->client, sizeof(ctx->client), "unknown");
	if (!sa)
		return;
	len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, ctx->client, sizeof(ctx->client), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(ctx->client, sizeof(ctx->client), "unknown");
}

/* The first call for a request: headers only.  Answering now, before the
 * body, makes libmicrohttpd close the connection after the answer instead
 * of reading a body nobody wants. */
static enum MHD_Result begin(struct conn_ctx *ctx, const char *url, const char *method)
{
	struct http_server *srv = ctx->srv;
	struct api_error err;
	const char *v;
	uint64_t cl;

	if (api_check_host(MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST),
			   srv->cfg.allowed_hosts, &err) < 0)
		return http_send_error(ctx, &err);
	if (http_route_match(method, url, strlen(url), &ctx->route, &err) < 0)
		return send_error_allow(ctx, &err,
				  err.code == API_E_METHOD_NOT_ALLOWED ? ctx->route.allow : NULL);
	/* The key and the rate limits (guard.c), before any body is read. */
	enum MHD_Result sent;
	if (!http_guard(ctx, &sent))
		return sent;
	/* Every POST runs code or stores it; DELETE removes a submission:
	 * neither may come from another site's page. */
	if (!ctx->route.has_body && strcmp(method, "DELETE") != 0)
		return MHD_YES;
	ctx->has_body = ctx->route.has_body;
	const char *fetch_site = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
							     "Sec-Fetch-Site");
	const char *origin = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_ORIGIN);
	if (api_check_origin(fetch_site, origin,
			     MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_HOST),
			     &err) < 0)
		return http_send_error(ctx, &err);
	v = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_CONTENT_TYPE);
	/* Piston's clients (node-fetch's default) label their JSON
	 * text/plain; only a browser can be made to send that from another
	 * site's page, and a browser says where a request comes from. */
	if (api_check_content_type(v, ctx->route.family == HTTP_F_PISTON && !fetch_site && !origin,
				   &err) < 0)
		return http_send_error(ctx, &err);
	v = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v && util_parse_u64(v, UINT64_MAX, &cl) == 0 && cl > srv->cfg.max_body) {
		api_fail(&err, API_E_PAYLOAD_TOO_LARGE,
			 "the request body is larger than %zu bytes", srv->cfg.max_body);
		return http_send_error(ctx, &err);
	}
	if (atomic_load(&srv->shutting_down)) {
		api_fail(&err, API_E_SHUTTING_DOWN, "the server is shutting down");
		return http_send_error(ctx, &err);
	}
	client_address(ctx);
	return MHD_YES;
}

/* Keeps an upload chunk, within the maximum body size. */
static enum MHD_Result absorb(struct conn_ctx *ctx, const char *data, size_t n)
{
	size_t max = ctx->srv->cfg.max_body;

	if (!ctx->has_body || ctx->answered)
		return MHD_YES;
	if (ctx->too_large || n > max - ctx->body_len) {
		ctx->too_large = true;
		free(ctx->body);
		ctx->body = NULL;
		ctx->discarded += n;
		return ctx->discarded > (uint64_t)max * DISCARD_FACTOR ? MHD_NO : MHD_YES;
	}
	if (ctx->body_len + n > ctx->body_cap) {
		size_t cap = ctx->body_cap ? ctx->body_cap : 4096;
		char *p;

		while (cap < ctx->body_len + n)
			cap *= 2;
		if (cap > max)
			cap = max;
		p = realloc(ctx->body, cap);
		if (!p)
			return MHD_NO;
		ctx->body = p;
		ctx->body_cap = cap;
	}
	memcpy(ctx->body + ctx->body_len, data, n);
	ctx->body_len += n;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct conn_ctx *ctx = *con_cls;

	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->srv = cls;
		ctx->conn = conn;
		ctx->created_ms = http_now_ms();
		ctx->is_delete = strcmp(method, "DELETE") == 0;
		*con_cls = ctx;
		return begin(ctx, url, method);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		return absorb(ctx, upload_data, n);
	}
	if (ctx->ran) {
		struct MHD_Response *resp = ctx->resp;

		/* NULL only when even the error answer could not be made:
		 * send_response() then drops the connection. */
		ctx->resp = NULL;
		ctx->ran = false;
		return http_send_response(ctx, ctx->resp_code, resp);
	}
	if (ctx->answered)
		return MHD_YES;
	return dispatch(ctx);
}

void http_ctx_free(struct conn_ctx *ctx)
{
	if (ctx->queued)
		atomic_fetch_sub(&ctx->srv->pending, 1);
	http_guard_done(ctx);
	mem_release(ctx->srv, ctx->resp_bytes);
	if (ctx->resp)
		MHD_destroy_response(ctx->resp);
	api_request_release(&ctx->req);
	http_stream_put(ctx->stream);
	free(ctx->body);
	free(ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *ctx = *con_cls;

	if (!ctx)
		return;
	*con_cls = NULL;
	/* A stream's worker may still hold the context: it frees it then. */
	if (ctx->stream && !http_stream_completed(ctx->stream))
		return;
	http_ctx_free(ctx);
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("safexec: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* --- Start and stop ------------------------------------------------------ */

int http_listen(const char *host, uint16_t port, int *out, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];
	int fd = -1, one = 1, r, e;

	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &ai);
	if (r != 0) {
		snprintf(why, whylen, "cannot resolve '%s': %s", host, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		goto fail;
	/* A restart must not wait for the old connections' TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
		goto fail;
	*out = fd;
	freeaddrinfo(ai);
	return 0;
fail:
	e = errno;
	snprintf(why, whylen, "cannot listen on %s:%s: %s", host, portstr, strerror(e));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -e;
}

/* Takes the configured listening socket, or opens one. */
static int open_listener(struct http_server *srv, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r;

	if (srv->cfg.listen_fd >= 0)
		srv->listen_fd = srv->cfg.listen_fd;
	else if ((r = http_listen(srv->cfg.host, srv->cfg.port, &srv->listen_fd, why, whylen)) < 0)
		return r;
	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(why, whylen, "getsockname: %s", strerror(-r));
		return r;
	}
	srv->port = ntohs(ss.ss_family == AF_INET6 ?
			  ((struct sockaddr_in6 *)&ss)->sin6_port :
			  ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void stop_queue(struct job_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
}

/* Stops the workers and the reader; each first finishes what is queued. */
static void stop_threads(struct http_server *srv)
{
	stop_queue(&srv->q);
	for (unsigned i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
	srv->nworkers = 0;
	stop_queue(&srv->rq);
	if (srv->reader_started)
		pthread_join(srv->reader, NULL);
	srv->reader_started = false;
}

int http_start(struct http_server **out, const struct http_config *cfg,
	       struct sbx_host *host, struct store *store, char *why, size_t whylen)
{
	struct http_server *srv;
	int r;

	r = http_mhd_load(why, whylen);
	srv = r < 0 ? NULL : calloc(1, sizeof(*srv));
	if (!srv) {
		if (cfg->listen_fd >= 0)
			close(cfg->listen_fd);
		return r < 0 ? r : -ENOMEM;
	}
	srv->cfg = *cfg;
	snprintf(srv->host_name, sizeof(srv->host_name), "%s", cfg->host);
	srv->cfg.host = srv->host_name;
	snprintf(srv->allowed_hosts, sizeof(srv->allowed_hosts), "%s",
		 cfg->allowed_hosts ? cfg->allowed_hosts : "");
	srv->cfg.allowed_hosts = srv->allowed_hosts;
	srv->host = host;
	srv->store = store;
	srv->listen_fd = -1;
	srv->q.capacity = cfg->queue;
	pthread_mutex_init(&srv->q.lock, NULL);
	pthread_cond_init(&srv->q.work, NULL);
	pthread_cond_init(&srv->q.idle, NULL);
	srv->rq.capacity = HTTP_READ_QUEUE;
	pthread_mutex_init(&srv->rq.lock, NULL);
	pthread_cond_init(&srv->rq.work, NULL);
	pthread_cond_init(&srv->rq.idle, NULL);
	pthread_mutex_init(&srv->mem.lock, NULL);
	pthread_cond_init(&srv->mem.freed, NULL);
	pthread_mutex_init(&srv->waits.lock, NULL);
	pthread_cond_init(&srv->waits.changed, NULL);
	pthread_mutex_init(&srv->beat.lock, NULL);
	pthread_cond_init(&srv->beat.changed, NULL);
	srv->shared = store_shared(store);
	/* Before the workers, which fill it. */
	srv->beat.held = calloc(cfg->workers ? cfg->workers : 1, sizeof(*srv->beat.held));

	srv->cache = cache_new(cfg->compile_cache);
	r = cb_start(&srv->callbacks, &cfg->callbacks, why, whylen);
	if (r < 0) {
		/* Runs need no callbacks: requests that ask for one are refused. */
		fprintf(stderr, "safexec: callbacks are off: %s\n", why);
		srv->callbacks = NULL;
		why[0] = '\0';
	}
	if (!srv->beat.held) {
		snprintf(why, whylen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if ((r = http_guard_start(srv, why, whylen)) < 0)
		goto fail;
	r = open_listener(srv, why, whylen);
	if (r < 0)
		goto fail;
	r = -pthread_create(&srv->reader, NULL, reader_main, srv);
	if (r < 0) {
		snprintf(why, whylen, "cannot start the history reader: %s", strerror(-r));
		goto fail;
	}
	srv->reader_started = true;
	srv->workers = calloc(cfg->workers, sizeof(*srv->workers));
	if (!srv->workers) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		r = -pthread_create(&srv->workers[i], NULL, worker_main, srv);
		if (r < 0) {
			snprintf(why, whylen, "cannot start a worker: %s", strerror(-r));
			goto fail;
		}
		srv->nworkers++;
	}
	/* The submissions a stop or a crash left, before new ones. */
	if ((r = http_jobs_start(srv, why, whylen)) < 0)
		goto fail;
	srv->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(why, whylen, "cannot start the HTTP daemon");
		r = -EIO;
		goto fail;
	}
	/* The daemon owns the socket now, until MHD_quiesce_daemon(). */
	srv->listen_fd = -1;
	*out = srv;
	return 0;
fail:
	atomic_store(&srv->shutting_down, true);
	stop_threads(srv);
	http_jobs_stop(srv);
	http_free(srv);
	return r;
}

uint16_t http_port(const struct http_server *srv)
{
	return srv->port;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void http_shutdown(struct http_server *srv, unsigned grace_s)
{
	struct job_queue *q = &srv->q;
	struct timespec deadline;
	bool drained;

	atomic_store(&srv->shutting_down, true);
	if (srv->daemon) {
		MHD_socket fd = MHD_quiesce_daemon(srv->daemon);

		/* shutdown() rather than close(): new clients are refused at
		 * once instead of waiting in the backlog, and the descriptor
		 * number stays ours until the daemon has stopped using it. */
		if (fd != MHD_INVALID_SOCKET) {
			srv->listen_fd = fd;
			shutdown(fd, SHUT_RDWR);
		}
	}

	/* Let what is queued and running finish, up to the grace period. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += grace_s;
	pthread_mutex_lock(&q->lock);
	while ((q->length || q->running) &&
	       pthread_cond_timedwait(&q->idle, &q->lock, &deadline) != ETIMEDOUT)
		;
	drained = !q->length && !q->running;
	pthread_mutex_unlock(&q->lock);

	if (!drained) {
		fprintf(stderr, "safexec: grace period over: stopping the runs left\n");
		atomic_store(&srv->abort_runs, true);
		pthread_mutex_lock(&srv->mem.lock);
		pthread_cond_broadcast(&srv->mem.freed);
		pthread_mutex_unlock(&srv->mem.lock);
		/* Repeat the kill: a worker may have started a run just as
		 * the first one went out. */
		for (;;) {
			pthread_mutex_lock(&q->lock);
			drained = !q->length && !q->running;
			pthread_mutex_unlock(&q->lock);
			if (drained)
				break;
			sbx_host_kill_all(srv->host);
			sleep_ms(50);
		}
	}

	stop_threads(srv);
	/* Requests still waiting for a submission get it as it is. */
	http_jobs_stop(srv);
	if (srv->callbacks)
		cb_stop(srv->callbacks, grace_s);

	/* Every connection has been resumed; give the last answers a moment
	 * to be written before the daemon closes the sockets. */
	for (unsigned waited = 0; atomic_load(&srv->pending) && waited < FLUSH_WAIT_MS;
	     waited += 10)
		sleep_ms(10);
	if (srv->daemon) {
		MHD_stop_daemon(srv->daemon);
		srv->daemon = NULL;
	}
}

void http_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	/* Closed only now: libmicrohttpd may use it until it has stopped. */
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	pthread_mutex_destroy(&srv->q.lock);
	pthread_cond_destroy(&srv->q.work);
	pthread_cond_destroy(&srv->q.idle);
	pthread_mutex_destroy(&srv->rq.lock);
	pthread_cond_destroy(&srv->rq.work);
	pthread_cond_destroy(&srv->rq.idle);
	pthread_mutex_destroy(&srv->mem.lock);
	pthread_cond_destroy(&srv->mem.freed);
	/* Submissions still queued stay in the store for the next start. */
	while (srv->q.jhead) {
		struct conn_ctx *job = srv->q.jhead;
		srv->q.jhead = job->next;
		api_request_release(&job->req);
		free(job);
	}
	pthread_mutex_destroy(&srv->waits.lock);
	pthread_cond_destroy(&srv->waits.changed);
	pthread_mutex_destroy(&srv->beat.lock);
	pthread_cond_destroy(&srv->beat.changed);
	free(srv->beat.held);
	cb_free(srv->callbacks);
	cache_free(srv->cache);
	http_guard_stop(srv);
	free(srv->workers);
	free(srv);
}
