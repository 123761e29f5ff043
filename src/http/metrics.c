/*
 * metrics.c - counters kept with atomics (workers and the event thread
 * update them without a lock) and their Prometheus text exposition.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/util.h"

const double http_duration_bounds[HTTP_DURATION_BUCKETS] = {
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 0 /* +Inf */
};

void http_metrics_run(struct http_metrics *m, enum sbx_status s, uint64_t duration_us)
{
	size_t b;

	if ((unsigned)s < HTTP_STATUS_COUNT)
		atomic_fetch_add(&m->runs[s], 1);
	for (b = 0; b + 1 < HTTP_DURATION_BUCKETS; b++)
		if ((double)duration_us <= http_duration_bounds[b] * 1e6)
			break;
	atomic_fetch_add(&m->duration_bucket[b], 1);
	atomic_fetch_add(&m->duration_count, 1);
	atomic_fetch_add(&m->duration_sum_us, duration_us);
}

void http_metrics_response(struct http_metrics *m, unsigned code)
{
	if (code < 600)
		atomic_fetch_add(&m->responses[code], 1);
}

/* A growable buffer with a hard maximum, in the manner of curl's dynbuf. */
struct textbuf {
	char *data;
	size_t len, cap, max;
	int failed;
};

__attribute__((format(printf, 2, 3)))
static void put(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap * 2;
		char *p;

		if (ncap > t->max) {
			t->failed = 1;
			return;
		}
		p = realloc(t->data, ncap);
		if (!p) {
			t->failed = 1;
			return;
		}
		t->data = p;
		t->cap = ncap;
	}
}

/* Per key where keys are on: at most AUTH_KEYS_MAX names, from the keys
 * file, so the labels stay bounded.  Addresses are never a label (there
 * is no bound on them): their table's size and its refusals are. */
static void put_auth(struct textbuf *t, const struct http_gauges *g)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} per_key[] = {
		{ "safexec_key_requests_total", "Requests let through with the key.",
		  offsetof(struct auth_key, requests) },
		{ "safexec_key_forbidden_total", "Requests of an endpoint the key may not use (403).",
		  offsetof(struct auth_key, refused) },
		{ "safexec_key_rate_limited_total", "Requests refused for the key's rate or "
		  "concurrent runs (429).", offsetof(struct auth_key, limited) },
	};

	if (g->keys) {
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(per_key); i++) {
			put(t, "# HELP %s %s\n# TYPE %s counter\n", per_key[i].name, per_key[i].help,
			    per_key[i].name);
			for (size_t k = 0; k < g->keys->n; k++) {
				const struct auth_key *key = &g->keys->keys[k];
				atomic_ullong *c = (atomic_ullong *)((char *)key + per_key[i].off);

				put(t, "%s{key=\"%s\"} %llu\n", per_key[i].name, key->name,
				    atomic_load(c));
			}
		}
	}
	if (!g->limiter_on)
		return;
	put(t, "# HELP safexec_rate_limit_addresses Client addresses the rate limits track.\n"
	       "# TYPE safexec_rate_limit_addresses gauge\n"
	       "safexec_rate_limit_addresses %llu\n"
	       "# HELP safexec_rate_limit_addresses_max The most they may track "
	       "(rate_limit_addresses).\n"
	       "# TYPE safexec_rate_limit_addresses_max gauge\n"
	       "safexec_rate_limit_addresses_max %llu\n"
	       "# HELP safexec_rate_limit_evictions_total Addresses forgotten to track others.\n"
	       "# TYPE safexec_rate_limit_evictions_total counter\n"
	       "safexec_rate_limit_evictions_total %llu\n"
	       "# HELP safexec_address_rate_limited_total Requests refused for their address's "
	       "rate or concurrent runs (429).\n"
	       "# TYPE safexec_address_rate_limited_total counter\n"
	       "safexec_address_rate_limited_total %llu\n",
	    (unsigned long long)g->limiter.used, (unsigned long long)g->limiter.slots,
	    (unsigned long long)g->limiter.evictions, (unsigned long long)g->limiter.limited);
}

char *http_metrics_text(struct http_metrics *m, const struct http_gauges *g, size_t *len)
{
	struct textbuf t = { malloc(4096), 0, 4096, 1u << 20, 0 };
	unsigned long long cum = 0;

	if (!t.data)
		return NULL;
	put(&t, "# HELP safexec_runs_total Executions finished, by result status.\n"
		"# TYPE safexec_runs_total counter\n");
	for (int s = 0; s < HTTP_STATUS_COUNT; s++)
		put(&t, "safexec_runs_total{status=\"%s\"} %llu\n",
		    sbx_status_name((enum sbx_status)s), atomic_load(&m->runs[s]));
	put(&t, "# HELP safexec_run_duration_seconds Time from the start of a run "
		"to its result.\n"
		"# TYPE safexec_run_duration_seconds histogram\n");
	for (int b = 0; b < HTTP_DURATION_BUCKETS; b++) {
		cum += atomic_load(&m->duration_bucket[b]);
		if (b + 1 < HTTP_DURATION_BUCKETS)
			put(&t, "safexec_run_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    http_duration_bounds[b], cum);
		else
			put(&t, "safexec_run_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	put(&t, "safexec_run_duration_seconds_sum %.6f\n"
		"safexec_run_duration_seconds_count %llu\n",
	    (double)atomic_load(&m->duration_sum_us) / 1e6,
	    atomic_load(&m->duration_count));
	put(&t, "# HELP safexec_queue_length Executions waiting for a worker.\n"
		"# TYPE safexec_queue_length gauge\n"
		"safexec_queue_length %u\n"
		"# HELP safexec_queue_capacity Executions that may wait before 503.\n"
		"# TYPE safexec_queue_capacity gauge\n"
		"safexec_queue_capacity %u\n"
		"# HELP safexec_workers Sandboxes that may run at once.\n"
		"# TYPE safexec_workers gauge\n"
		"safexec_workers %u\n"
		"# HELP safexec_sandboxes_running Sandboxes running now.\n"
		"# TYPE safexec_sandboxes_running gauge\n"
		"safexec_sandboxes_running %u\n"
		"# HELP safexec_answer_bytes Memory reserved for run answers not yet sent.\n"
		"# TYPE safexec_answer_bytes gauge\n"
		"safexec_answer_bytes %llu\n"
		"# HELP safexec_answer_bytes_max The bound on safexec_answer_bytes.\n"
		"# TYPE safexec_answer_bytes_max gauge\n"
		"safexec_answer_bytes_max %llu\n",
	    g->queue_length, g->queue_capacity, g->workers, g->running,
	    (unsigned long long)g->answer_bytes, (unsigned long long)g->answer_bytes_max);
	put(&t, "# HELP safexec_submissions Submissions (tokens) queued or running.\n"
		"# TYPE safexec_submissions gauge\n"
		"safexec_submissions %llu\n"
		"# HELP safexec_submissions_max Submissions that may be open before 503.\n"
		"# TYPE safexec_submissions_max gauge\n"
		"safexec_submissions_max %llu\n"
		"# HELP safexec_compile_cache_lookups_total Compile cache lookups, by result.\n"
		"# TYPE safexec_compile_cache_lookups_total counter\n"
		"safexec_compile_cache_lookups_total{result=\"hit\"} %llu\n"
		"safexec_compile_cache_lookups_total{result=\"miss\"} %llu\n"
		"# HELP safexec_compile_cache_bytes Memory the compile cache holds.\n"
		"# TYPE safexec_compile_cache_bytes gauge\n"
		"safexec_compile_cache_bytes %llu\n"
		"# HELP safexec_compile_cache_entries Compiles the compile cache holds.\n"
		"# TYPE safexec_compile_cache_entries gauge\n"
		"safexec_compile_cache_entries %llu\n"
		"# HELP safexec_callbacks_total Callbacks ended, by outcome.\n"
		"# TYPE safexec_callbacks_total counter\n"
		"safexec_callbacks_total{outcome=\"delivered\"} %llu\n"
		"safexec_callbacks_total{outcome=\"failed\"} %llu\n"
		"safexec_callbacks_total{outcome=\"refused\"} %llu\n",
	    (unsigned long long)g->jobs_open, (unsigned long long)g->jobs_max,
	    (unsigned long long)g->cache_hits, (unsigned long long)g->cache_misses,
	    (unsigned long long)g->cache_bytes, (unsigned long long)g->cache_entries,
	    (unsigned long long)g->callbacks_delivered, (unsigned long long)g->callbacks_failed,
	    (unsigned long long)g->callbacks_refused);
	put(&t, "# HELP safexec_store_up Whether the last use of the database worked.\n"
		"# TYPE safexec_store_up gauge\n"
		"safexec_store_up %d\n"
		"# HELP safexec_store_reconnects_total Connections to the database made again "
		"after a loss.\n"
		"# TYPE safexec_store_reconnects_total counter\n"
		"safexec_store_reconnects_total %llu\n"
		"# HELP safexec_store_round_trips_total Statements sent to a shared store.\n"
		"# TYPE safexec_store_round_trips_total counter\n"
		"safexec_store_round_trips_total %llu\n"
		"# HELP safexec_store_seconds_total Time spent waiting for a shared store's "
		"answers.\n"
		"# TYPE safexec_store_seconds_total counter\n"
		"safexec_store_seconds_total %.6f\n"
		"# HELP safexec_jobs_claimed_total Jobs this node claimed from a shared queue.\n"
		"# TYPE safexec_jobs_claimed_total counter\n"
		"safexec_jobs_claimed_total %llu\n",
	    g->store_up ? 1 : 0, (unsigned long long)g->store_reconnects,
	    (unsigned long long)g->store_round_trips, (double)g->store_wait_ns / 1e9,
	    (unsigned long long)g->jobs_claimed);
	put(&t, "# HELP safexec_warm_up Whether a warm interpreter (zygote) is ready.\n"
		"# TYPE safexec_warm_up gauge\n"
		"safexec_warm_up %d\n"
		"# HELP safexec_warm_runs_total Runs that ran warm.\n"
		"# TYPE safexec_warm_runs_total counter\n"
		"safexec_warm_runs_total %llu\n"
		"# HELP safexec_warm_fallbacks_total Runs that could have run warm but ran cold: "
		"no zygote was ready.\n"
		"# TYPE safexec_warm_fallbacks_total counter\n"
		"safexec_warm_fallbacks_total %llu\n"
		"# HELP safexec_zygotes_started_total Warm interpreters (zygotes) started.\n"
		"# TYPE safexec_zygotes_started_total counter\n"
		"safexec_zygotes_started_total %llu\n",
	    g->warm_up ? 1 : 0, (unsigned long long)g->warm_runs,
	    (unsigned long long)g->warm_fallbacks, (unsigned long long)g->zygotes_started);
	put_auth(&t, g);
	put(&t, "# HELP safexec_http_requests_total HTTP responses sent, by status code.\n"
		"# TYPE safexec_http_requests_total counter\n");
	for (unsigned c = 100; c < 600; c++) {
		unsigned long long n = atomic_load(&m->responses[c]);

		if (n)
			put(&t, "safexec_http_requests_total{code=\"%u\"} %llu\n", c, n);
	}
	if (t.failed) {
		free(t.data);
		return NULL;
	}
	*len = t.len;
	return t.data;
}
