/*
 * jobs.c - submissions: a request stored under a random token before the
 * token is answered, run by a worker when one is free, its answer stored
 * with it; requests that wait (?wait=true) until it is done or until
 * wait_max; callbacks; and at start, the submissions a stop or a crash
 * left unfinished.
 *
 * A submission's context has no connection (conn == NULL): the worker that
 * runs it frees it.  A waiting request's context sits in srv->waits until
 * the worker that finishes its token, or the waits thread at its deadline,
 * takes it out and resumes it: whoever takes it out answers it, once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "callback/callback.h"
#include "http/internal.h"
#include "judge0/judge0.h"
#include "store/store.h"
#include "util/util.h"

static int new_token(char out[HTTP_TOKEN_LEN + 1])
{
	unsigned char b[HTTP_TOKEN_LEN / 2];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[HTTP_TOKEN_LEN] = '\0';
	return 0;
}

/* The API a job came from, as the store keeps it: the asynchronous ones,
 * and the synchronous runs a shared queue carries. */
static const struct {
	const char *name;
	enum api_endpoint ep;
} apis[] = {
	{ "v1", API_JOBS }, { "judge0", API_JUDGE0 }, { "run", API_RUN },
	{ "execute", API_EXECUTE }, { "piston", API_PISTON },
};

static const char *api_of(enum api_endpoint ep)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(apis); i++)
		if (apis[i].ep == ep)
			return apis[i].name;
	return "v1";
}

/* The endpoint of a stored api name; false for a name this build does not
 * know (a newer node's). */
static bool ep_of(const char *api, enum api_endpoint *ep)
{
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(apis); i++)
		if (strcmp(apis[i].name, api) == 0) {
			*ep = apis[i].ep;
			return true;
		}
	return false;
}

static struct conn_ctx *stored_job(struct http_server *srv, const struct store_job *sj,
				   const char **why);
static void give_up(struct http_server *srv, struct conn_ctx *job, const char *why,
		    const char *callback_url);

/* A shared queue's: takes a worker of this node that waits for work, for a
 * job about to be added, or says there is none. */
static bool reserve_worker(struct http_server *srv)
{
	struct job_queue *q = &srv->q;
	bool ok;

	pthread_mutex_lock(&q->lock);
	ok = !q->stopping && q->waiting > q->handoffs;
	if (ok)
		q->handoffs++;
	pthread_mutex_unlock(&q->lock);
	return ok;
}

void http_hand_over_locked(struct job_queue *q, struct conn_ctx *ctx)
{
	ctx->next = NULL;
	if (q->jtail)
		q->jtail->next = ctx;
	else
		q->jhead = ctx;
	q->jtail = ctx;
	pthread_cond_broadcast(&q->work);
}

/* Gives the reserved worker its job (NULL: the reservation is dropped). */
static void hand_over(struct http_server *srv, struct conn_ctx *job)
{
	struct job_queue *q = &srv->q;

	pthread_mutex_lock(&q->lock);
	if (job) {
		http_hand_over_locked(q, job);
	} else {
		q->handoffs--;
		pthread_cond_broadcast(&q->work);
	}
	pthread_mutex_unlock(&q->lock);
}

/* Stores req as a submission under token: 0 with *created_ms, or a
 * negative errno with *err.  Committed when it returns 0, so the token may
 * be answered then and not before.  In a shared queue, a worker of this
 * node that is free takes it at once; else any node's worker claims it. */
static int add_job(struct http_server *srv, const char *client, enum api_endpoint ep,
		   const struct api_request *req, const json_t *peer,
		   const char token[HTTP_TOKEN_LEN + 1], int64_t *created_ms,
		   struct api_error *err)
{
	struct store_job sj;
	char *request = NULL, *peer_text = NULL, why[160];
	int r;

	if (req->callback_url) {
		if (cb_check_url(req->callback_url, strlen(req->callback_url), why, sizeof(why)) < 0)
			return api_fail(err, API_E_INVALID_REQUEST, "%s", why);
		if (!srv->callbacks)
			return api_fail(err, API_E_INVALID_REQUEST,
					"callback_url: this server cannot make callbacks");
	}
	if (atomic_load(&srv->shutting_down))
		return api_fail(err, API_E_SHUTTING_DOWN, "the server is shutting down");
	/* A shared queue counts its open jobs in the store, as it adds. */
	if (!srv->shared && atomic_load(&srv->jobs_open) >= srv->cfg.jobs_max)
		return api_fail(err, API_E_QUEUE_FULL,
				"%llu submissions are queued or running; retry later",
				(unsigned long long)srv->cfg.jobs_max);
	request = json_dumps(req->root, JSON_COMPACT | JSON_ENCODE_ANY);
	peer_text = peer ? json_dumps(peer, JSON_COMPACT) : NULL;
	if (!request || (peer && !peer_text)) {
		r = api_fail(err, API_E_INTERNAL, "out of memory");
		goto out;
	}
	sj = (struct store_job){
		.request = request, .peer = peer_text, .callback_url = (char *)req->callback_url,
		.created_ms = http_now_ms(),
	};
	memcpy(sj.token, token, sizeof(sj.token));
	snprintf(sj.api, sizeof(sj.api), "%s", api_of(ep));
	snprintf(sj.client, sizeof(sj.client), "%s", client);
	bool mine = srv->shared && reserve_worker(srv);
	if (mine)
		sj.state = STORE_JOB_RUNNING;
	unsigned fence = atomic_load(&srv->fence);
	r = store_job_add(srv->store, &sj);
	if (r == -EAGAIN) {
		r = api_fail(err, API_E_QUEUE_FULL, "%llu jobs are queued or running; retry later",
			     (unsigned long long)srv->cfg.jobs_max);
	} else if (r == -ENOTCONN) {
		r = api_fail(err, API_E_STORE_UNAVAILABLE,
			     "the database cannot be reached; nothing was stored; retry later");
	} else if (r < 0) {
		fprintf(stderr, "safexec: could not store a submission: %s\n", strerror(-r));
		r = api_fail(err, API_E_INTERNAL, "could not store the submission");
	} else {
		*created_ms = sj.created_ms;
		if (srv->shared && !mine)
			http_poke_workers(srv);
	}
	if (mine) {
		/* Parsed again from what was stored, as any node would. */
		struct conn_ctx *job = NULL;
		const char *not_run = NULL;
		if (r == 0) {
			sj.attempts = 1;
			if ((job = stored_job(srv, &sj, &not_run))) {
				job->attempt = 1;
				job->fence = fence;
			}
		}
		/* A job stored that this node cannot take now is left to its
		 * lease, then to any node. */
		hand_over(srv, not_run ? NULL : job);
		if (job && not_run)
			give_up(srv, job, not_run, req->callback_url);
	}
out:
	free(request);
	free(peer_text);
	return r;
}

/* The context that runs a job on this node (its request not yet set). */
static struct conn_ctx *job_ctx(struct http_server *srv, const char *client,
				enum api_endpoint ep, const char token[HTTP_TOKEN_LEN + 1],
				int64_t created_ms)
{
	struct conn_ctx *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->srv = srv;
	job->ep = ep;
	job->created_ms = created_ms;
	memcpy(job->token, token, sizeof(job->token));
	snprintf(job->client, sizeof(job->client), "%.*s", (int)sizeof(job->client) - 1, client);
	return job;
}

/* Stores a submission and, unless the queue is shared (any node's worker
 * claims it from the store), hands it to this node's workers. */
static int submit(struct http_server *srv, const char *client, enum api_endpoint ep,
		  struct api_request *req, const json_t *peer,
		  const char token[HTTP_TOKEN_LEN + 1], struct api_error *err)
{
	struct conn_ctx *job = NULL;
	int64_t created;
	int r;

	/* Made first, so that a submission stored is always run. */
	if (!srv->shared && !(job = job_ctx(srv, client, ep, token, 0)))
		return api_fail(err, API_E_INTERNAL, "out of memory");
	if ((r = add_job(srv, client, ep, req, peer, token, &created, err)) < 0) {
		free(job);
		return r;
	}
	if (job) {
		job->req = *req;
		memset(req, 0, sizeof(*req));
		job->created_ms = created;
		atomic_fetch_add(&srv->jobs_open, 1);
		http_push_submission(srv, job);
	}
	return 0;
}

int http_submit_one(struct http_server *srv, const char *client, enum api_endpoint ep,
		    struct api_request *req, const json_t *peer,
		    char token[HTTP_TOKEN_LEN + 1], struct api_error *err)
{
	if (new_token(token) < 0)
		return api_fail(err, API_E_INTERNAL, "no random token");
	return submit(srv, client, ep, req, peer, token, err);
}

/* --- Waits ---------------------------------------------------------------- */

/* A synchronous run's answer: the run's (given by the worker that ran it
 * here, else read from its job), in the shape of its route's API, once
 * done. */
static void sync_answer(struct http_server *srv, struct conn_ctx *ctx, const json_t *given)
{
	struct api_error err;
	struct store_job sj = { .answer = NULL };
	/* Shared, not copied: nobody changes it from here on. */
	json_t *answer = given ? json_incref((json_t *)given) : NULL;
	int r = 0;

	if (!given && (r = store_job_get(srv->store, ctx->token, &sj)) == 0 &&
	    sj.state == STORE_JOB_DONE && sj.answer)
		answer = json_loads(sj.answer, JSON_ALLOW_NUL, NULL);
	if (answer) {
		if (ctx->route.family != HTTP_F_SAFEXEC)
			answer = http_peer_answer(ctx, answer);
		ctx->resp_code = MHD_HTTP_OK;
		if ((ctx->resp = http_json_response(answer)))
			goto out;
		api_fail(&err, API_E_INTERNAL, "out of memory");
	} else if (r == -ENOTCONN) {
		/* Not 503: the run was stored, and sending it again would
		 * run it twice. */
		api_fail(&err, API_E_NOT_FINISHED, "the database cannot be reached to read the "
			 "run's answer; the run was queued, and its record will be in the "
			 "history when it ends");
	} else if (r == 0 && sj.state != STORE_JOB_DONE && atomic_load(&srv->shutting_down)) {
		api_fail(&err, API_E_SHUTTING_DOWN, "the server is shutting down; the run goes "
			 "on elsewhere and its record will be in the history");
	} else if (r == 0 && sj.state != STORE_JOB_DONE) {
		api_fail(&err, API_E_NOT_FINISHED, "the run did not end within %u s; its record "
			 "will be in the history when it does", srv->cfg.wait_max_s);
	} else {
		api_fail(&err, API_E_INTERNAL, "could not read the run's answer");
	}
	ctx->resp_code = http_error_status(ctx, &err);
	ctx->resp = http_error_response(ctx, &err, NULL);
out:
	store_job_release(&sj);
}

/* Puts ctx's answer on it from the store: the submission as it is now (a
 * synchronous run's answer may be given). */
static void answer_from_store(struct http_server *srv, struct conn_ctx *ctx, const json_t *given)
{
	if (ctx->sync_job)
		sync_answer(srv, ctx, given);
	else
		http_read_submission(srv, ctx);
	ctx->ran = true;
	MHD_resume_connection(ctx->conn);
}

/* Takes the waiting requests of token out of the list (all of them when
 * token is NULL, else only those past their deadline when expired) and
 * answers them; answer: the job's, when the caller has it. */
static void wake_with(struct http_server *srv, const char *token, bool expired,
		      const json_t *answer)
{
	struct conn_ctx *done = NULL, **pp;
	int64_t now = http_now_ms();

	pthread_mutex_lock(&srv->waits.lock);
	for (pp = &srv->waits.head; *pp;) {
		struct conn_ctx *c = *pp;
		bool take = expired ? c->wait_deadline_ms <= now
				    : !token || strcmp(c->token, token) == 0;
		if (take) {
			*pp = c->wait_next;
			c->wait_next = done;
			done = c;
		} else {
			pp = &c->wait_next;
		}
	}
	pthread_mutex_unlock(&srv->waits.lock);
	while (done) {
		struct conn_ctx *next = done->wait_next;
		answer_from_store(srv, done, answer);
		done = next;
	}
}

static void wake(struct http_server *srv, const char *token, bool expired)
{
	wake_with(srv, token, expired, NULL);
}

static void *waits_main(void *arg)
{
	struct http_server *srv = arg;

	pthread_mutex_lock(&srv->waits.lock);
	while (!srv->waits.stopping) {
		int64_t next = INT64_MAX;
		for (struct conn_ctx *c = srv->waits.head; c; c = c->wait_next)
			if (c->wait_deadline_ms < next)
				next = c->wait_deadline_ms;
		if (next == INT64_MAX) {
			pthread_cond_wait(&srv->waits.changed, &srv->waits.lock);
			continue;
		}
		struct timespec ts = { next / 1000, (long)(next % 1000) * 1000000L };
		if (pthread_cond_timedwait(&srv->waits.changed, &srv->waits.lock, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&srv->waits.lock);
			wake(srv, NULL, true);
			pthread_mutex_lock(&srv->waits.lock);
		}
	}
	pthread_mutex_unlock(&srv->waits.lock);
	return NULL;
}

/* Takes ctx out of the list of waits; false when another thread did
 * first (and answers it). */
static bool unwait(struct http_server *srv, struct conn_ctx *ctx)
{
	bool found = false;

	pthread_mutex_lock(&srv->waits.lock);
	for (struct conn_ctx **pp = &srv->waits.head; *pp; pp = &(*pp)->wait_next)
		if (*pp == ctx) {
			*pp = ctx->wait_next;
			found = true;
			break;
		}
	pthread_mutex_unlock(&srv->waits.lock);
	return found;
}

/* Holds ctx's connection until its job (token set) is done or until
 * wait_max, then submits it: in the list of waits before its job exists,
 * so that whoever finishes it finds the request there. */
static enum MHD_Result submit_and_wait(struct conn_ctx *ctx, const json_t *peer)
{
	struct http_server *srv = ctx->srv;
	struct api_error err;

	MHD_suspend_connection(ctx->conn);
	ctx->wait_deadline_ms = http_now_ms() + (int64_t)srv->cfg.wait_max_s * 1000;
	pthread_mutex_lock(&srv->waits.lock);
	ctx->wait_next = srv->waits.head;
	srv->waits.head = ctx;
	pthread_cond_signal(&srv->waits.changed);
	pthread_mutex_unlock(&srv->waits.lock);
	/* With a shared queue the request stays with ctx (a synchronous
	 * run's answer is shaped by it); else it moves to the job. */
	if (submit(srv, ctx->client, ctx->ep, &ctx->req, peer, ctx->token, &err) == 0)
		return MHD_YES;
	if (unwait(srv, ctx)) {
		ctx->resp_code = http_error_status(ctx, &err);
		ctx->resp = http_error_response(ctx, &err, NULL);
		ctx->ran = true;
		MHD_resume_connection(ctx->conn);
	}
	return MHD_YES;
}

enum MHD_Result http_submit(struct conn_ctx *ctx, const json_t *peer)
{
	struct http_server *srv = ctx->srv;
	struct api_error err;

	if (new_token(ctx->token) < 0) {
		api_fail(&err, API_E_INTERNAL, "no random token");
		return http_send_error(ctx, &err);
	}
	if (ctx->wait)
		return submit_and_wait(ctx, peer);
	if (submit(srv, ctx->client, ctx->ep, &ctx->req, peer, ctx->token, &err) < 0)
		return http_send_error(ctx, &err);
	if (ctx->route.family == HTTP_F_JUDGE0)
		return http_send_json(ctx, MHD_HTTP_CREATED, json_pack("{s:s}", "token", ctx->token));
	return http_send_json(ctx, MHD_HTTP_ACCEPTED,
			      json_pack("{s:s, s:s}", "token", ctx->token, "state", "queued"));
}

enum MHD_Result http_submit_sync(struct conn_ctx *ctx)
{
	struct api_error err;

	if (new_token(ctx->token) < 0) {
		api_fail(&err, API_E_INTERNAL, "no random token");
		return http_send_error(ctx, &err);
	}
	ctx->sync_job = true;
	return submit_and_wait(ctx, NULL);
}

/* --- Running --------------------------------------------------------------- */

/* A v1 answer for a submission that could not run: internal_error. */
static json_t *failed_answer(const char *language, const char *message)
{
	return json_pack("{s:n, s:s, s:s, s:n, s:n, s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:i, s:s}",
			 "id", "language", language ? language : "", "status", "internal_error",
			 "exit_code", "signal", "stdout", "", "stderr", "", "output", "",
			 "stdout_truncated", 0, "stderr_truncated", 0, "wall_time_ms", 0,
			 "cpu_time_ms", 0, "memory_bytes", 0, "message", message);
}

/* The body of a callback: the submission as its API shows it (Judge0's
 * default fields in base64, as Judge0 sends them). */
static char *callback_body(struct http_server *srv, const char *token)
{
	struct conn_ctx probe = { .srv = srv };
	char *text = NULL;
	struct store_job sj;

	if (store_job_get(srv->store, token, &sj) < 0)
		return NULL;
	memcpy(probe.token, token, sizeof(probe.token));
	probe.route.family = strcmp(sj.api, "judge0") == 0 ? HTTP_F_JUDGE0 : HTTP_F_SAFEXEC;
	probe.base64 = probe.route.family == HTTP_F_JUDGE0;
	json_t *v = http_submission_json(srv, &probe, &sj);
	if (v)
		text = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	store_job_release(&sj);
	return text;
}

/* Finishes a submission with its answer (unless the history's insert did
 * already), then wakes who waits for it and makes its callback (to
 * callback_url, or NULL). */
static void finish(struct http_server *srv, struct conn_ctx *job, json_t *answer,
		   const char *callback_url)
{
	if (!job->job_finished) {
		char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		int r = store_job_finish(srv->store, job->token, job->attempt, text, 0,
					 http_now_ms());

		if (r < 0)
			fprintf(stderr, "safexec: could not store the answer of a submission: %s\n",
				strerror(-r));
		free(text);
	}
	if (!srv->shared)
		atomic_fetch_sub(&srv->jobs_open, 1);
	/* Stored, so its answer is the one every node reads. */
	wake_with(srv, job->token, false, job->job_finished ? answer : NULL);
	if (callback_url && srv->callbacks) {
		char *body = callback_body(srv, job->token);
		if (body && cb_send(srv->callbacks, callback_url, body, strlen(body)) < 0)
			fprintf(stderr, "safexec: a callback could not be queued\n");
		free(body);
	}
}

void http_run_submission(struct http_server *srv, struct conn_ctx *job)
{
	struct api_error err;
	json_t *answer = NULL;
	int r;

	/* A claimed job is running already. */
	r = job->attempt ? 0 : store_job_start(srv->store, job->token, http_now_ms());
	if (r == -EALREADY || r == -ENOENT) {
		/* Done or deleted meanwhile. */
		atomic_fetch_sub(&srv->jobs_open, 1);
		goto out;
	}
	r = http_execute(srv, job, false, &answer, &err);
	if (r < 0 && (err.code == API_E_SHUTTING_DOWN ||
		      (job->attempt && err.code == API_E_STORE_UNAVAILABLE))) {
		/* Stopped with the service (or never started), fenced off, or
		 * its record not stored: not recorded.  A shared queue's goes
		 * back to it for another node (or, the database gone, runs
		 * out its lease and is claimed again); this node's own stays
		 * in the store for its next start. */
		if (job->attempt)
			store_job_hand_back(srv->store, job->token, job->attempt);
		else
			atomic_fetch_sub(&srv->jobs_open, 1);
		goto out;
	}
	if (r < 0)
		answer = failed_answer(job->req.language, err.message);
	finish(srv, job, answer, job->req.callback_url);
	json_decref(answer);
out:
	api_request_release(&job->req);
	free(job);
}

/* Makes the context of a job from its stored form: *why says why it cannot
 * run (started too often, or not a request this node takes). */
static struct conn_ctx *stored_job(struct http_server *srv, const struct store_job *sj,
				   const char **why)
{
	enum api_endpoint ep = API_JOBS;
	struct api_error err;
	json_error_t jerr;
	struct conn_ctx *job;

	*why = NULL;
	if (!ep_of(sj->api, &ep))
		*why = "Internal error: this server does not know the submission's API";
	if (!(job = job_ctx(srv, sj->client, ep, sj->token, sj->created_ms)))
		return NULL;
	json_t *root = *why ? NULL : json_loads(sj->request, JSON_ALLOW_NUL, &jerr);
	if (*why)
		return job;
	if (sj->attempts > srv->cfg.job_attempts)
		*why = "Internal error: the server running this stopped before it ended, as many "
			"times as job_attempts allows";
	else if (!root || api_parse_value(job->ep, root, &srv->cfg.maxima, srv->cfg.runtimes,
					  &job->req, &err) < 0)
		*why = "Internal error: this server no longer accepts the submission";
	else
		root = NULL;	/* consumed by api_parse_value() */
	json_decref(root);
	return job;
}

/* Finishes a job that cannot run as an internal error. */
static void give_up(struct http_server *srv, struct conn_ctx *job, const char *why,
		    const char *callback_url)
{
	json_t *answer = failed_answer(NULL, why);

	finish(srv, job, answer, callback_url);
	json_decref(answer);
	api_request_release(&job->req);
	free(job);
}

void http_poke_workers(struct http_server *srv)
{
	pthread_mutex_lock(&srv->q.lock);
	srv->q.pokes++;
	pthread_cond_signal(&srv->q.work);
	pthread_mutex_unlock(&srv->q.lock);
}

/* Puts token in a free slot of the leases to renew (or takes slot out
 * when token is NULL).  Returns the slot. */
static unsigned hold(struct http_server *srv, const char *token, unsigned slot)
{
	pthread_mutex_lock(&srv->beat.lock);
	if (token) {
		for (slot = 0; slot + 1 < srv->cfg.workers && srv->beat.held[slot][0]; slot++)
			;
		memcpy(srv->beat.held[slot], token, HTTP_TOKEN_LEN + 1);
	} else {
		srv->beat.held[slot][0] = '\0';
	}
	pthread_mutex_unlock(&srv->beat.lock);
	return slot;
}

/* Runs a job this worker claimed, or a context it was handed, its lease
 * renewed meanwhile. */
static void run_claimed(struct http_server *srv, struct conn_ctx *job)
{
	unsigned slot = 0;
	bool leased = job->attempt > 0;

	pthread_mutex_lock(&srv->q.lock);
	srv->q.running++;
	pthread_mutex_unlock(&srv->q.lock);
	if (leased)
		slot = hold(srv, job->token, 0);
	http_run_job(srv, job);		/* frees a job */
	if (leased)
		hold(srv, NULL, slot);
	pthread_mutex_lock(&srv->q.lock);
	srv->q.running--;
	pthread_cond_broadcast(&srv->q.idle);
	pthread_mutex_unlock(&srv->q.lock);
}

void http_claim_jobs(struct http_server *srv)
{
	struct job_queue *q = &srv->q;

	for (;;) {
		struct conn_ctx *job;
		struct store_job sj;
		const char *why;
		bool stop;

		/* A job handed over here first; else a claim per poke (a
		 * job queued here or announced by the database, or the
		 * listener's tick), or every two seconds: no query is sent
		 * for nothing while the queue is idle. */
		pthread_mutex_lock(&q->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		q->waiting++;
		while (!q->jhead && !q->handoffs && !q->pokes && !q->stopping &&
		       !atomic_load(&srv->shutting_down) &&
		       pthread_cond_timedwait(&q->work, &q->lock, &ts) != ETIMEDOUT)
			;
		/* A reservation is this worker's to wait for. */
		while (!q->jhead && q->handoffs)
			pthread_cond_wait(&q->work, &q->lock);
		q->waiting--;
		stop = q->stopping || atomic_load(&srv->shutting_down);
		if ((job = q->jhead)) {
			q->jhead = job->next;
			if (!q->jhead)
				q->jtail = NULL;
			q->handoffs--;
		} else if (q->pokes) {
			q->pokes--;
		}
		pthread_mutex_unlock(&q->lock);

		if (job && stop && job->token[0]) {
			/* A job handed over as the server stops: to another
			 * node.  (A synchronous run is run, as queued runs
			 * are at a stop.) */
			store_job_hand_back(srv->store, job->token, job->attempt);
			api_request_release(&job->req);
			free(job);
			continue;
		}
		if (job) {
			run_claimed(srv, job);
			continue;
		}
		if (stop)
			break;
		unsigned fence = atomic_load(&srv->fence);
		if (store_job_claim(srv->store, &sj) < 0)
			continue;
		/* Every job queued pokes once: a backlog is drained by the
		 * pokes its jobs left, a poke lost to a failed claim by the
		 * next tick. */
		if ((job = stored_job(srv, &sj, &why))) {
			job->attempt = sj.attempts;
			job->fence = fence;
			if (why)
				give_up(srv, job, why, sj.callback_url);
			else
				run_claimed(srv, job);
		}
		store_job_release(&sj);
	}
}

/* --- Start and stop ---------------------------------------------------------- */

/* The submissions a stop or a crash left unfinished: queued ones, and
 * running ones started fewer than job_attempts times, run again; the
 * others, and any the configuration no longer accepts, are finished as
 * internal errors. */
static void recover(struct http_server *srv)
{
	struct store_job *jobs = NULL;
	size_t n = 0, again = 0, given_up = 0;

	if (store_job_unfinished(srv->store, &jobs, &n) < 0) {
		fprintf(stderr, "safexec: could not read the unfinished submissions\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why;
		/* attempts counts the starts so far; the next is one more. */
		jobs[i].attempts++;
		struct conn_ctx *job = stored_job(srv, &jobs[i], &why);

		if (!job)
			break;
		atomic_fetch_add(&srv->jobs_open, 1);
		if (why) {
			give_up(srv, job, why, jobs[i].callback_url);
			given_up++;
			continue;
		}
		http_push_submission(srv, job);
		again++;
	}
	store_job_release_all(jobs, n);
	if (n)
		fprintf(stderr, "safexec: %zu unfinished submission%s queued again, %zu given up\n",
			again, again == 1 ? "" : "s", given_up);
}

/* --- A shared queue's events and heartbeat ----------------------------------- */

static void on_queued(void *arg)
{
	http_poke_workers(arg);
}

static void on_done(void *arg, const char *token)
{
	wake(arg, token, false);
}

/* The polling behind the notifications: a worker looks for jobs (whose
 * lease expired, which no notification announces), and the requests
 * waiting here for a job another node finished learn of it even when its
 * notification was lost. */
static void on_tick(void *arg, bool reconnected)
{
	struct http_server *srv = arg;
	char (*tokens)[HTTP_TOKEN_LEN + 1] = NULL;
	size_t n = 0, cap = 0;

	http_poke_workers(srv);
	pthread_mutex_lock(&srv->waits.lock);
	for (struct conn_ctx *c = srv->waits.head; c; c = c->wait_next) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = realloc(tokens, ncap * sizeof(*tokens));
			if (!p)
				break;
			tokens = p;
			cap = ncap;
		}
		memcpy(tokens[n++], c->token, sizeof(*tokens));
	}
	pthread_mutex_unlock(&srv->waits.lock);
	for (size_t i = 0; i < n; i++) {
		struct store_job sj;
		if (store_job_get(srv->store, tokens[i], &sj) == 0 && sj.state == STORE_JOB_DONE)
			wake(srv, tokens[i], false);
		store_job_release(&sj);
	}
	free(tokens);
}

/* Renews this node's leases every third of a lease.  When that has failed
 * for two thirds of one, another node may soon take the jobs: the runs
 * here are stopped, and fence tells their workers not to record them. */
static void *beat_main(void *arg)
{
	struct http_server *srv = arg;
	int64_t lease_ms = (int64_t)srv->cfg.job_lease_s * 1000;
	int64_t last_ok = http_now_ms();
	bool fenced = false;

	pthread_mutex_lock(&srv->beat.lock);
	while (!srv->beat.stopping) {
		int64_t next = http_now_ms() + lease_ms / 3;
		struct timespec ts = { next / 1000, (long)(next % 1000) * 1000000L };
		if (pthread_cond_timedwait(&srv->beat.changed, &srv->beat.lock, &ts) != ETIMEDOUT)
			continue;
		/* Copied under the lock, sent without it. */
		char (*held)[HTTP_TOKEN_LEN + 1] = calloc(srv->cfg.workers, sizeof(*held));
		const char **tokens = calloc(srv->cfg.workers, sizeof(*tokens));
		size_t n = 0;
		if (held && tokens)
			for (unsigned i = 0; i < srv->cfg.workers; i++)
				if (srv->beat.held[i][0]) {
					memcpy(held[n], srv->beat.held[i], sizeof(*held));
					tokens[n] = held[n];
					n++;
				}
		pthread_mutex_unlock(&srv->beat.lock);
		int r = held && tokens ? store_job_renew(srv->store, tokens, n) : -ENOMEM;
		free(held);
		free(tokens);
		if (r >= 0) {
			last_ok = http_now_ms();
			fenced = false;
		} else if (!fenced && http_now_ms() - last_ok >= lease_ms * 2 / 3) {
			fprintf(stderr, "safexec: the leases of this node's jobs could not be "
				"renewed: its runs are stopped, for other nodes to run again\n");
			atomic_fetch_add(&srv->fence, 1);
			sbx_host_kill_all(srv->host);
			fenced = true;
		}
		pthread_mutex_lock(&srv->beat.lock);
	}
	pthread_mutex_unlock(&srv->beat.lock);
	return NULL;
}

int http_jobs_start(struct http_server *srv, char *why, size_t whylen)
{
	int r;

	r = -pthread_create(&srv->waits.thread, NULL, waits_main, srv);
	if (r < 0) {
		snprintf(why, whylen, "cannot start the waits' thread: %s", strerror(-r));
		return r;
	}
	srv->waits.started = true;
	if (!srv->shared) {
		recover(srv);
		return 0;
	}
	/* A shared queue needs no recovery: what a node left is queued, or
	 * running on a lease that expires, and any node claims it then. */
	r = -pthread_create(&srv->beat.thread, NULL, beat_main, srv);
	if (r < 0) {
		snprintf(why, whylen, "cannot start the heartbeat: %s", strerror(-r));
		return r;
	}
	srv->beat.started = true;
	struct store_events ev = { .arg = srv, .queued = on_queued, .done = on_done,
				   .tick = on_tick };
	if ((r = store_listen(srv->store, &ev)) < 0) {
		snprintf(why, whylen, "cannot listen to the database: %s", strerror(-r));
		return r;
	}
	return 0;
}

void http_jobs_stop(struct http_server *srv)
{
	/* No notification reaches this server after it. */
	if (srv->shared)
		store_unlisten(srv->store);
	if (srv->beat.started) {
		pthread_mutex_lock(&srv->beat.lock);
		srv->beat.stopping = true;
		pthread_cond_signal(&srv->beat.changed);
		pthread_mutex_unlock(&srv->beat.lock);
		pthread_join(srv->beat.thread, NULL);
		srv->beat.started = false;
	}
	if (!srv->waits.started)
		return;
	/* Whoever still waits gets the submission as it is. */
	wake(srv, NULL, false);
	pthread_mutex_lock(&srv->waits.lock);
	srv->waits.stopping = true;
	pthread_cond_signal(&srv->waits.changed);
	pthread_mutex_unlock(&srv->waits.lock);
	pthread_join(srv->waits.thread, NULL);
	srv->waits.started = false;
}

/* --- Reads -------------------------------------------------------------------- */

static json_t *rfc3339(int64_t ms)
{
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

json_t *http_submission_json(struct http_server *srv, const struct conn_ctx *ctx,
			     const struct store_job *sj)
{
	json_t *answer = sj->answer ? json_loads(sj->answer, JSON_ALLOW_NUL, NULL) : NULL;
	json_t *out;

	if (ctx->route.family == HTTP_F_JUDGE0) {
		json_t *peer = sj->peer ? json_loads(sj->peer, JSON_ALLOW_NUL, NULL) : NULL;
		struct j0_view v = {
			.token = sj->token,
			.state = sj->state == STORE_JOB_DONE ? J0_DONE :
				 sj->state == STORE_JOB_RUNNING ? J0_RUNNING : J0_QUEUED,
			.created_ms = sj->created_ms, .started_ms = sj->started_ms,
			.finished_ms = sj->finished_ms,
			.normalized = peer, .answer = answer, .reg = srv->cfg.runtimes,
			.python_version = sbx_host_features(srv->host)->python_version,
		};
		out = j0_render(&v, ctx->base64, ctx->fields[0] ? ctx->fields : NULL);
		json_decref(peer);
	} else {
		out = json_pack("{s:s, s:s, s:o, s:o, s:o, s:O?}", "token", sj->token,
				"state", store_job_state_name(sj->state),
				"created_at", rfc3339(sj->created_ms),
				"started_at", rfc3339(sj->started_ms),
				"finished_at", rfc3339(sj->finished_ms), "result", answer);
		/* A shared queue says which node ran it. */
		if (out && srv->shared)
			json_object_set_new(out, "node", sj->node[0] ? json_string(sj->node)
								     : json_null());
	}
	json_decref(answer);
	return out;
}

/* GET /submissions/batch?tokens=: each token's submission, null when
 * unknown. */
static int read_batch(struct http_server *srv, struct conn_ctx *ctx, json_t **out)
{
	char tokens[J0_BATCH_MAX][J0_TOKEN_LEN + 1];
	json_t *list, *error = NULL;
	size_t n = 0;

	if (j0_tokens_parse(http_query(ctx, "tokens"), tokens, &n, &error) < 0) {
		*out = error;
		return -EINVAL;
	}
	if (!(list = json_array()))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct store_job sj;
		json_t *item = NULL;

		if (tokens[i][0] && store_job_get(srv->store, tokens[i], &sj) == 0) {
			item = http_submission_json(srv, ctx, &sj);
			store_job_release(&sj);
		}
		json_array_append_new(list, item ? item : json_null());
	}
	*out = json_pack("{s:o}", "submissions", list);
	return *out ? 0 : -ENOMEM;
}

void http_read_submission(struct http_server *srv, struct conn_ctx *ctx)
{
	struct api_error err;
	struct store_job sj;
	json_t *out = NULL;
	unsigned code = MHD_HTTP_OK;
	int r;

	if (ctx->route.id == HTTP_R_J0_BATCH) {
		r = read_batch(srv, ctx, &out);
		if (r == -EINVAL) {
			ctx->resp_code = MHD_HTTP_BAD_REQUEST;
			ctx->resp = http_json_response(out);
			return;
		}
	} else if (ctx->route.id == HTTP_R_J0_SUBMISSION && ctx->is_delete) {
		r = store_job_get(srv->store, ctx->token, &sj);
		if (r == 0) {
			out = http_submission_json(srv, ctx, &sj);
			store_job_release(&sj);
			r = store_job_delete(srv->store, ctx->token);
			if (r == -EBUSY) {
				json_decref(out);
				out = NULL;
				api_fail(&err, API_E_INVALID_REQUEST,
					 "submission %s is not finished and cannot be deleted",
					 ctx->token);
				goto error;
			}
		}
	} else {
		r = store_job_get(srv->store, ctx->token, &sj);
		if (r == 0) {
			out = http_submission_json(srv, ctx, &sj);
			/* A request that waited for its job: 201 from Judge0's
			 * POST, 200 when done and 202 while not from ours. */
			if (ctx->route.id == HTTP_R_J0_SUBMIT)
				code = MHD_HTTP_CREATED;
			else if (ctx->route.id == HTTP_R_JOBS && sj.state != STORE_JOB_DONE)
				code = MHD_HTTP_ACCEPTED;
			store_job_release(&sj);
		}
	}
	if (r == 0 && out) {
		ctx->resp_code = code;
		ctx->resp = http_json_response(out);
		return;
	}
	json_decref(out);
	if (r == -ENOENT)
		api_fail(&err, API_E_NOT_FOUND, "no submission with token %s", ctx->token);
	else if (r == -ENOTCONN)
		api_fail(&err, API_E_STORE_UNAVAILABLE, "the database cannot be reached");
	else
		api_fail(&err, API_E_INTERNAL, "could not read the submission");
error:
	ctx->resp_code = http_error_status(ctx, &err);
	ctx->resp = http_error_response(ctx, &err, NULL);
}
