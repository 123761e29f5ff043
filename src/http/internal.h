/*
 * internal.h - what the files of the HTTP service share: the connection
 * context, the queues and the server (server.c: libmicrohttpd, the queue
 * and the workers; jobs.c: submissions, their tokens, waits and restarts;
 * peers.c: the Judge0 and Piston endpoints).
 */
#ifndef SAFEXEC_HTTP_INTERNAL_H
#define SAFEXEC_HTTP_INTERNAL_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "api/api.h"
#include "auth/auth.h"
#include "http/http.h"
#include "http/mhd.h"

struct cache;
struct cb_sender;
struct http_stream;

/* A chunked upload above the maximum is read and dropped (libmicrohttpd
 * cannot answer mid-body); past this many times the maximum we just close. */
#define DISCARD_FACTOR 8
/* Most bytes that run answers may hold, from their encoding until they are
 * sent: once its run is over, a worker reserves the most its answer can
 * take (api_answer_max_bytes(), up to seven times the output) and waits
 * while that would go past this.  Clients that never read thus stall the
 * workers, then the queue fills and new runs get 503, but memory stays
 * bounded.  An answer larger than this alone is built when nothing else
 * is held. */
#define HTTP_PENDING_BYTES_MAX (256u << 20)
/* History reads waiting for the reader thread; more get 503. */
#define HTTP_READ_QUEUE 64
/* How long http_shutdown() waits for the last answers to be written. */
#define FLUSH_WAIT_MS 3000

struct conn_ctx {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct http_route route;
	bool has_body;			/* a POST route: keep the upload */
	bool answered;			/* a response is queued already */
	bool too_large;
	bool queued;			/* went through the job queue */
	bool ran;			/* a worker is done with it */
	char *body;
	size_t body_len, body_cap;
	uint64_t discarded;
	int64_t created_ms;
	char client[INET6_ADDRSTRLEN + 8];
	enum api_endpoint ep;
	struct api_request req;
	/* guard.c: the request's key (NULL: keys off, or an open path), the
	 * most it may ask for (the server's maxima under the key's), its
	 * rate for the RateLimit headers and its concurrent run. */
	struct auth_key *key;
	struct api_maxima maxima;
	struct auth_verdict rate;
	struct auth_hold hold;
	/* A submission (jobs.c): its token; with conn == NULL the context is
	 * the job alone, nobody's connection, freed by the worker. */
	char token[HTTP_TOKEN_LEN + 1];
	bool wait;			/* ?wait=true: answered when done */
	bool job_finished;		/* http_execute() finished it in the store */
	/* A shared queue's: the job's start this context runs (0: none),
	 * and the fence it was claimed under (see http_server.fence). */
	unsigned attempt;
	unsigned fence;
	/* A synchronous run waiting for the shared queue: answered as the
	 * run when its job is done. */
	bool sync_job;
	int64_t wait_deadline_ms;
	struct conn_ctx *wait_next;	/* in srv->waits */
	bool base64;			/* Judge0's ?base64_encoded=true */
	bool is_delete;			/* DELETE /submissions/{token} */
	char fields[512];		/* Judge0's ?fields= */
	/* Set by the worker before it resumes the connection. */
	struct MHD_Response *resp;
	size_t resp_bytes;		/* reserved in srv->mem.bytes */
	unsigned list_limit;		/* GET /api/v1/executions */
	int64_t list_before;
	unsigned resp_code;
	struct conn_ctx *next;		/* in the queue */
	/* A streamed run's (stream.c); NULL: none.  The connection is not
	 * suspended while the run waits and runs: the stream's reader is. */
	struct http_stream *stream;
};

struct job_queue {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job arrived, or stopping */
	pthread_cond_t idle;		/* a job finished */
	struct conn_ctx *head, *tail;
	unsigned length;		/* waiting */
	/* Submissions wait in a list of their own, taken after the runs
	 * that hold a connection; they are in the store, so a stop leaves
	 * them there for the next start. */
	struct conn_ctx *jhead, *jtail;
	unsigned jlength;
	unsigned running;		/* taken by a worker */
	/* A shared queue's: claims to try, workers waiting for work, and
	 * jobs added here that a waiting worker was reserved for (handed
	 * over through jhead). */
	uint64_t pokes;
	unsigned waiting, handoffs;
	unsigned capacity;		/* most waiting beyond the idle workers */
	bool stopping;			/* no more pushes; workers exit when empty */
};

struct http_server {
	struct http_config cfg;
	char host_name[256];
	char allowed_hosts[256];	/* copy of cfg->allowed_hosts */
	struct sbx_host *host;
	struct store *store;
	struct cache *cache;		/* compiled programs; NULL: none */
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	pthread_t *workers;
	unsigned nworkers;
	struct job_queue q;
	/* History reads run on their own thread: building and serializing a
	 * large record must not hold the event thread, and a read must not
	 * wait behind runs. */
	struct job_queue rq;
	pthread_t reader;
	bool reader_started;
	atomic_bool shutting_down;
	atomic_bool abort_runs;
	atomic_uint pending;		/* queued contexts not yet completed */
	struct {			/* answers' memory, see HTTP_PENDING_BYTES_MAX */
		pthread_mutex_t lock;
		pthread_cond_t freed;
		size_t bytes;		/* reserved by runs and unsent answers */
	} mem;
	struct http_metrics metrics;
	struct auth_limiter *limiter;	/* NULL: no rate limits */
	struct cb_sender *callbacks;	/* NULL: none could be started */
	atomic_ullong jobs_open;	/* submissions queued or running */
	/* A shared queue (store_shared()): the workers claim from the store;
	 * the heartbeat renews the leases of this node's jobs.  When it
	 * could not for most of a lease, another node may be running them:
	 * it kills this node's runs and bumps fence, so that their results
	 * are not recorded. */
	bool shared;
	atomic_uint fence;
	struct {
		pthread_mutex_t lock;
		pthread_cond_t changed;
		pthread_t thread;
		bool started, stopping;
		/* The tokens of the jobs the workers run (one slot each;
		 * "" = none): the leases to renew. */
		char (*held)[HTTP_TOKEN_LEN + 1];
	} beat;
	struct {			/* requests held by ?wait=true */
		pthread_mutex_t lock;
		pthread_cond_t changed;
		struct conn_ctx *head;
		pthread_t thread;
		bool started, stopping;
	} waits;
};


/* server.c */
int64_t http_now_ms(void);
struct MHD_Response *http_json_response(json_t *v);
struct MHD_Response *http_json_response_len(json_t *v, size_t *len);
/* The HTTP status of an error on ctx's route. */
unsigned http_error_status(const struct conn_ctx *ctx, const struct api_error *err);
/* An error in the shape of the route's API; allow: the Allow header. */
struct MHD_Response *http_error_response(const struct conn_ctx *ctx, const struct api_error *err,
					 const char *allow);
enum MHD_Result http_send_response(struct conn_ctx *ctx, unsigned code, struct MHD_Response *resp);
enum MHD_Result http_send_error(struct conn_ctx *ctx, const struct api_error *err);
enum MHD_Result http_send_json(struct conn_ctx *ctx, unsigned code, json_t *v);
/* Queues a synchronous run (the connection waits), or answers 503. */
enum MHD_Result http_enqueue(struct conn_ctx *ctx);
/* Runs a queued context on a worker thread: a synchronous run, answered on
 * its connection, or a submission. */
void http_run_job(struct http_server *srv, struct conn_ctx *ctx);
/* A shared queue's: gives a worker reserved for it (q->handoffs) a context
 * to run, q's lock held. */
void http_hand_over_locked(struct job_queue *q, struct conn_ctx *ctx);
/* Hands a read of the store to the reader thread, or answers 503. */
enum MHD_Result http_enqueue_read(struct conn_ctx *ctx);
/* Appends a stored submission (a context with no connection) to the
 * workers' queue. */
void http_push_submission(struct http_server *srv, struct conn_ctx *job);
/* Runs ctx's request, records it in the history and makes its v1 answer
 * (*answer, the caller's).  With reserve, holds the answer's memory
 * (ctx->resp_bytes) as an answer to be sent must.  Returns 0, or a
 * negative errno with *err. */
int http_execute(struct http_server *srv, struct conn_ctx *ctx, bool reserve, json_t **answer,
		 struct api_error *err);
/* A query argument, or NULL. */
const char *http_query(struct conn_ctx *ctx, const char *name);
/* Frees a context and what it holds (its queue slot, answer memory,
 * request, stream reference). */
void http_ctx_free(struct conn_ctx *ctx);
/* The headers every answer carries (nosniff, referrer, CSP). */
void http_common_headers(struct MHD_Response *resp);
/* Answer memory (HTTP_PENDING_BYTES_MAX): reserve waits while it does not
 * fit, as a finished run's answer does. */
void http_mem_reserve(struct http_server *srv, size_t bytes);
void http_mem_release(struct http_server *srv, size_t bytes);

/* stream.c: live output, POST /api/v1/execute as Server-Sent Events. */
/* 1 when ctx's parsed request is to be streamed (its stream field, else
 * an Accept header naming text/event-stream), 0 when not, or a negative
 * errno with *err (a request that cannot stream asked to by Accept). */
int http_stream_wanted(struct conn_ctx *ctx, struct api_error *err);
/* Sets ctx up as a stream and queues it (http_enqueue()), or answers an
 * error. */
enum MHD_Result http_stream_start(struct conn_ctx *ctx);
/* From http_enqueue(), once the run is taken: queues the 200 answer whose
 * body the stream's reader writes. */
enum MHD_Result http_stream_answer(struct conn_ctx *ctx);
/* Points the job's on_output and cancel_fd at the stream. */
struct job_spec;
void http_stream_job(struct http_stream *s, struct job_spec *spec);
/* The worker's part: runs ctx (http_execute()), then ends the stream with
 * the result event, or an error event. */
void http_stream_run(struct http_server *srv, struct conn_ctx *ctx);
/* The connection is over: stops the run if it goes on.  Returns false when
 * a worker holds the context and frees it itself. */
bool http_stream_completed(struct http_stream *s);
/* Drops a reference (NULL: none). */
void http_stream_put(struct http_stream *s);

/* jobs.c */
int http_jobs_start(struct http_server *srv, char *why, size_t whylen);
void http_jobs_stop(struct http_server *srv);
/* Stores the parsed request of ctx as a submission and queues it; answers
 * its token (or, with ctx->wait, holds the connection).  peer: the peer's
 * normalized request (borrowed), or NULL. */
enum MHD_Result http_submit(struct conn_ctx *ctx, const json_t *peer);
/* The same without an answer, for a batch: 0 with token set (req is the
 * job's then), or a negative errno with *err. */
int http_submit_one(struct http_server *srv, const char *client, enum api_endpoint ep,
		    struct api_request *req, const json_t *peer,
		    char token[HTTP_TOKEN_LEN + 1], struct api_error *err);
/* A stored submission as ctx's API shows it (Judge0's with ctx's base64
 * and fields, else ours). */
struct store_job;
json_t *http_submission_json(struct http_server *srv, const struct conn_ctx *ctx,
			     const struct store_job *sj);
/* Runs a submission on a worker thread, then frees or resumes ctx. */
void http_run_submission(struct http_server *srv, struct conn_ctx *ctx);
/* A shared queue's synchronous run: stored as a job any node may run,
 * the connection answered when it is done. */
enum MHD_Result http_submit_sync(struct conn_ctx *ctx);
/* A worker's loop with a shared queue: claims jobs from the store and runs
 * them until the queue stops. */
void http_claim_jobs(struct http_server *srv);
/* Wakes one worker to claim (a shared queue's). */
void http_poke_workers(struct http_server *srv);
/* On the reader thread: the answer to a read of a submission (or of a
 * batch), put on ctx. */
void http_read_submission(struct http_server *srv, struct conn_ctx *ctx);

/* guard.c */
/* Checks the key and counts the rate of a request whose route is known:
 * returns true, or false with the 401, 403 or 429 answer queued (*sent).
 * Sets ctx->maxima in either case. */
bool http_guard(struct conn_ctx *ctx, enum MHD_Result *sent);
/* The RateLimit headers of a request that counted against a rate. */
void http_guard_headers(const struct conn_ctx *ctx, struct MHD_Response *resp);
/* Gives back the request's concurrent run, when it ends. */
void http_guard_done(struct conn_ctx *ctx);
int http_guard_start(struct http_server *srv, char *why, size_t whylen);
void http_guard_stop(struct http_server *srv);
void http_guard_gauges(struct http_server *srv, struct http_gauges *g);

/* peers.c */
/* The route's answer, for the Judge0 and Piston paths. */
enum MHD_Result http_serve_peer(struct conn_ctx *ctx);
/* An error's body in the shape of a peer's API: Piston's {message},
 * Judge0's {error} or, for a field of a submission, {FIELD: [message]}. */
json_t *http_peer_error(const struct conn_ctx *ctx, const struct api_error *err);
/* Judge0's name of the request field an error of the /api/v1 parser is
 * about, or NULL when it is about none. */
const char *http_peer_field(const struct api_error *err);
/* The answer to a finished synchronous run in the route's API's shape. */
json_t *http_peer_answer(const struct conn_ctx *ctx, json_t *v1_answer);

#endif
