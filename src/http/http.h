/*
 * http.h - the HTTP service: libmicrohttpd on one event thread, a bounded
 * queue of executions, and N worker threads that run them in the sandbox.
 *
 * A request that needs a run costs no thread while it waits: its
 * connection is suspended and its context sits in the queue; a worker runs
 * it, records it in the store, stores the answer on the context and
 * resumes the connection.  When the queue is full the answer is an
 * immediate 503 with Retry-After, so load never slows everyone down.
 *
 * Routing and metrics are pure functions, declared here so that the unit
 * tests and the fuzzers reach them without a socket.
 */
#ifndef SAFEXEC_HTTP_H
#define SAFEXEC_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "auth/auth.h"
#include "callback/callback.h"
#include "judge0/judge0.h"
#include "http/assets.h"
#include "sandbox/sandbox.h"

struct store;

struct http_config {
	const char *host;		/* numeric address or name to bind */
	uint16_t port;			/* 0 = any free port; see http_port() */
	unsigned workers;		/* sandboxes at once, >= 1 */
	unsigned queue;			/* waiting executions beyond the workers */
	size_t max_body;		/* bytes */
	unsigned connection_timeout;	/* seconds */
	unsigned connection_limit;
	const char *allowed_hosts;	/* see api_check_host() */
	struct api_maxima maxima;
	int listen_fd;			/* from http_listen(), owned by the server
					   from http_start() on; -1 = open one */
	const struct rt_registry *runtimes; /* probed; borrowed; NULL: Python only */
	uint64_t jobs_max;		/* submissions queued or running */
	unsigned wait_max_s;		/* longest ?wait=true */
	bool allow_delete;		/* DELETE /submissions/{token} */
	unsigned job_attempts;		/* starts of a job before it is given up */
	unsigned job_lease_s;		/* a shared queue's lease (heartbeat: a third) */
	const char *node;		/* this node's name (/healthz) */
	size_t compile_cache;		/* bytes; 0 = none */
	struct cb_config callbacks;
	struct j0_settings judge0;
	struct warm *warm;		/* the host's warm starts; borrowed; NULL: none */
	/* API keys (borrowed; NULL: keys off) and the rate limits of each
	 * key, or of each client address when keys are off (0: none), with
	 * the addresses tracked at most (src/auth/auth.h). */
	struct auth_keys *keys;
	struct auth_rate rate;
	size_t rate_slots;
};

/* Opens a listening socket on host:port, so that a caller can find out
 * whether the port is free before it sets up anything else.  Returns 0
 * or a negative errno with a message. */
int http_listen(const char *host, uint16_t port, int *fd, char *why, size_t whylen);

struct http_server;
struct warm;

/* Starts listening and the workers.  host and store are borrowed and must
 * outlive the server.  Returns 0 or a negative errno with a message; the
 * configured listen_fd is closed either way. */
int http_start(struct http_server **out, const struct http_config *cfg,
	       struct sbx_host *host, struct store *store, char *why, size_t whylen);

/* The port actually bound (useful with port 0). */
uint16_t http_port(const struct http_server *srv);

/*
 * Graceful stop: stops accepting connections and refuses new runs
 * (503 shutting_down), lets queued and running executions finish for up to
 * grace_s seconds, then kills what still runs (sbx_host_kill_all) and
 * answers what still waits with 503, sends the last answers, joins the
 * workers and stops the daemon.  Every run that ran is recorded.
 */
void http_shutdown(struct http_server *srv, unsigned grace_s);

/* Frees a server after http_shutdown(). */
void http_free(struct http_server *srv);

/* --- Routing ------------------------------------------------------------ */

enum http_route_id {
	HTTP_R_ASSET,		/* GET /, /<file of web/>, /api/v1/openapi.json */
	HTTP_R_RUN,		/* POST /run */
	HTTP_R_EXECUTE,		/* POST /api/v1/execute */
	HTTP_R_LANGUAGES,	/* GET /api/v1/languages */
	HTTP_R_EXECUTIONS,	/* GET /api/v1/executions */
	HTTP_R_EXECUTION,	/* GET /api/v1/executions/{id} */
	HTTP_R_JOBS,		/* POST /api/v1/jobs */
	HTTP_R_JOB,		/* GET /api/v1/jobs/{token} */
	HTTP_R_HEALTHZ,		/* GET /healthz */
	HTTP_R_METRICS,		/* GET /metrics */
	/* Judge0 CE's paths */
	HTTP_R_J0_SUBMIT,	/* POST /submissions */
	HTTP_R_J0_SUBMISSION,	/* GET, DELETE /submissions/{token} */
	HTTP_R_J0_BATCH,	/* POST, GET /submissions/batch */
	HTTP_R_J0_LANGUAGES,	/* GET /languages */
	HTTP_R_J0_LANGUAGE,	/* GET /languages/{id} */
	HTTP_R_J0_STATUSES,	/* GET /statuses */
	HTTP_R_J0_ABOUT,	/* GET /about */
	HTTP_R_J0_CONFIG,	/* GET /config_info */
	HTTP_R_J0_SYSTEM,	/* GET /system_info */
	HTTP_R_J0_WORKERS,	/* GET /workers */
	/* Piston's, also under /api/v2/piston/ */
	HTTP_R_PISTON_RUNTIMES,	/* GET /api/v2/runtimes */
	HTTP_R_PISTON_EXECUTE,	/* POST /api/v2/execute */
};

/* Whose API a path belongs to: its errors take that API's shape. */
enum http_family { HTTP_F_SAFEXEC, HTTP_F_JUDGE0, HTTP_F_PISTON };

#define HTTP_TOKEN_LEN 32	/* a job's token: 128 random bits in lowercase hex */

struct http_route {
	enum http_route_id id;
	enum http_family family;
	int64_t exec_id;			/* HTTP_R_EXECUTION, HTTP_R_J0_LANGUAGE */
	char token[HTTP_TOKEN_LEN + 1];		/* HTTP_R_JOB, HTTP_R_J0_SUBMISSION */
	const struct http_asset *asset;		/* HTTP_R_ASSET */
	const char *allow;			/* methods the path accepts */
	bool has_body;				/* a POST that takes a JSON body */
};

/* Whether s (len bytes) has a job token's form: HTTP_TOKEN_LEN lowercase
 * hex digits. */
bool http_token_ok(const char *s, size_t len);

/* Matches a method and a decoded path (len bytes, no query).  Returns 0;
 * or -ENOENT with a not_found error; or -EPERM with a method_not_allowed
 * error and r->allow set for the Allow header.  HEAD is accepted wherever
 * GET is. */
int http_route_match(const char *method, const char *path, size_t len,
		     struct http_route *r, struct api_error *err);

/* The Content-Type for a file name by its extension. */
const char *http_content_type(const char *path);

/* --- Metrics ------------------------------------------------------------ */

#define HTTP_DURATION_BUCKETS 12
#define HTTP_STATUS_COUNT 7		/* enum sbx_status values */

struct http_metrics {
	atomic_ullong runs[HTTP_STATUS_COUNT];
	atomic_ullong duration_bucket[HTTP_DURATION_BUCKETS]; /* not cumulative */
	atomic_ullong duration_count;
	atomic_ullong duration_sum_us;
	atomic_ullong responses[600];	/* by HTTP status code */
};

/* The upper bounds of the duration buckets, in seconds; the last is +Inf. */
extern const double http_duration_bounds[HTTP_DURATION_BUCKETS];

void http_metrics_run(struct http_metrics *m, enum sbx_status s, uint64_t duration_us);
void http_metrics_response(struct http_metrics *m, unsigned code);

/* What the server is doing now, for the gauges. */
struct http_gauges {
	unsigned queue_length;		/* executions waiting for a worker */
	unsigned running;		/* sandboxes running */
	unsigned workers;
	unsigned queue_capacity;
	uint64_t answer_bytes;		/* reserved for answers not yet sent */
	uint64_t answer_bytes_max;	/* the bound on that */
	uint64_t jobs_open;		/* submissions queued or running */
	uint64_t jobs_max;
	uint64_t cache_hits, cache_misses, cache_bytes, cache_entries;
	uint64_t callbacks_delivered, callbacks_failed, callbacks_refused;
	bool store_up;
	uint64_t store_reconnects, store_round_trips, store_wait_ns, jobs_claimed;
	bool warm_up;			/* a zygote is ready */
	uint64_t warm_runs, warm_fallbacks, zygotes_started;
	const struct auth_keys *keys;	/* per-key counters; NULL: keys off */
	bool limiter_on;		/* rate limits: the address table's figures */
	struct auth_limiter_stats limiter;
};

/* The Prometheus text exposition; a malloc'ed string (*len bytes) or NULL. */
char *http_metrics_text(struct http_metrics *m, const struct http_gauges *g, size_t *len);

#endif
