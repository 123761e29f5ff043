/*
 * guard.c - API keys and rate limits at the door: each request's key is
 * checked and its rate counted as soon as its headers have come (begin()
 * in server.c), before a byte of its body is read, and answered 401, 403
 * or 429 there.  The rules live in src/auth/; this file maps routes to
 * the endpoints a key may be limited to and writes the answers' headers.
 *
 * Which requests need a key (when keys_file names one): every path of the
 * APIs, /metrics included.  The web page's files, /api/v1/openapi.json
 * and /healthz stay open: the page must load to ask for a key, the API's
 * description is public, and a load balancer's health check has none.
 * Those open paths are not rate limited either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "auth/auth.h"
#include "http/internal.h"
#include "util/util.h"

/* The endpoint bit of a route; 0 for the open ones.  Every route is named,
 * with no default: a new route is a -Wswitch warning here until it is
 * given its endpoint. */
static unsigned route_endpoint(enum http_route_id id)
{
	switch (id) {
	case HTTP_R_ASSET:
	case HTTP_R_HEALTHZ: return 0;
	case HTTP_R_RUN:
	case HTTP_R_EXECUTE: return AUTH_EP_RUN;
	case HTTP_R_JOBS:
	case HTTP_R_JOB: return AUTH_EP_JOBS;
	case HTTP_R_EXECUTIONS:
	case HTTP_R_EXECUTION: return AUTH_EP_HISTORY;
	case HTTP_R_LANGUAGES: return AUTH_EP_LANGUAGES;
	case HTTP_R_METRICS: return AUTH_EP_METRICS;
	case HTTP_R_PISTON_RUNTIMES:
	case HTTP_R_PISTON_EXECUTE: return AUTH_EP_PISTON;
	case HTTP_R_J0_SUBMIT:
	case HTTP_R_J0_SUBMISSION:
	case HTTP_R_J0_BATCH:
	case HTTP_R_J0_LANGUAGES:
	case HTTP_R_J0_LANGUAGE:
	case HTTP_R_J0_STATUSES:
	case HTTP_R_J0_ABOUT:
	case HTTP_R_J0_CONFIG:
	case HTTP_R_J0_SYSTEM:
	case HTTP_R_J0_WORKERS: return AUTH_EP_JUDGE0;
	}
	/* Not a route: needs a key allowed everything. */
	return AUTH_EP_ALL;
}

/* The bytes that name a client for its limits: an IPv4 address, or the
 * /64 prefix of an IPv6 one (a host commonly holds a whole /64, so single
 * IPv6 addresses would cost a client nothing to change).  The peer's
 * address, never a header: X-Forwarded-For is the client's to write. */
static size_t client_bytes(struct conn_ctx *ctx, uint8_t out[16])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(ctx->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(out, a->s6_addr, 8);
		return 8;
	}
	return 0;
}

static enum MHD_Result refuse(struct conn_ctx *ctx, const struct api_error *err)
{
	struct MHD_Response *resp = http_error_response(ctx, err, NULL);
	char n[24];

	if (resp && err->code == API_E_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"safexec\"");
	if (resp && err->code == API_E_RATE_LIMITED) {
		snprintf(n, sizeof(n), "%" PRIu64,
			 ctx->rate.retry_after_s ? ctx->rate.retry_after_s : 1);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	return http_send_response(ctx, http_error_status(ctx, err), resp);
}

bool http_guard(struct conn_ctx *ctx, enum MHD_Result *sent)
{
	struct http_server *srv = ctx->srv;
	const struct auth_keys *keys = srv->cfg.keys;
	unsigned ep = route_endpoint(ctx->route.id);
	struct auth_key *key = NULL;
	struct api_error err;
	uint8_t addr[16];
	size_t addr_len = 0;

	ctx->maxima = srv->cfg.maxima;
	if (!ep)
		return true;
	if (keys) {
		const char *k;
		size_t len;

		if (!auth_presented(MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
								MHD_HTTP_HEADER_AUTHORIZATION),
				    MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND,
								"X-Auth-Token"),
				    &k, &len)) {
			api_fail(&err, API_E_UNAUTHORIZED, "this server needs an API key: send "
				 "Authorization: Bearer KEY (or X-Auth-Token: KEY)");
			*sent = refuse(ctx, &err);
			return false;
		}
		if (!(key = auth_check(keys, k, len))) {
			api_fail(&err, API_E_UNAUTHORIZED, "the API key is not valid here");
			*sent = refuse(ctx, &err);
			return false;
		}
		if ((key->endpoints & ep) != ep) {
			atomic_fetch_add(&key->refused, 1);
			api_fail(&err, API_E_FORBIDDEN, "the key '%s' may not use the %s endpoints",
				 key->name, auth_endpoint_name(ep));
			*sent = refuse(ctx, &err);
			return false;
		}
		ctx->key = key;
		auth_narrow_maxima(key, &ctx->maxima);
	} else {
		addr_len = client_bytes(ctx, addr);
	}
	if (srv->limiter &&
	    !auth_limiter_take(srv->limiter, key, addr, addr_len, ctx->route.has_body,
			       util_now_ns() / 1000, &ctx->rate, &ctx->hold)) {
		if (key)
			atomic_fetch_add(&key->limited, 1);
		if (ctx->rate.concurrency)
			api_fail(&err, API_E_RATE_LIMITED, "too many runs at once from this %s; "
				 "retry when one has ended", key ? "key" : "address");
		else
			api_fail(&err, API_E_RATE_LIMITED, "too many requests from this %s; "
				 "retry in %" PRIu64 " s", key ? "key" : "address",
				 ctx->rate.retry_after_s);
		*sent = refuse(ctx, &err);
		return false;
	}
	if (key)
		atomic_fetch_add(&key->requests, 1);
	return true;
}

void http_guard_headers(const struct conn_ctx *ctx, struct MHD_Response *resp)
{
	const struct auth_verdict *v = &ctx->rate;
	char buf[96];

	if (!resp || !v->rated)
		return;
	/* draft-ietf-httpapi-ratelimit-headers-08: one policy, "default",
	 * of q requests per w seconds, and what is left of it now. */
	snprintf(buf, sizeof(buf), "\"default\";q=%" PRIu64 ";w=%" PRIu64, v->quota, v->window_s);
	MHD_add_response_header(resp, "RateLimit-Policy", buf);
	snprintf(buf, sizeof(buf), "\"default\";r=%" PRIu64 ";t=%" PRIu64, v->remaining,
		 v->reset_s);
	MHD_add_response_header(resp, "RateLimit", buf);
}

void http_guard_done(struct conn_ctx *ctx)
{
	auth_limiter_release(ctx->srv->limiter, &ctx->hold);
}

int http_guard_start(struct http_server *srv, char *why, size_t whylen)
{
	const struct auth_rate *r = &srv->cfg.rate;

	if (!r->per_s && !r->concurrent && !srv->cfg.keys)
		return 0;
	/* Keys may carry rates of their own even when the server has none. */
	if (auth_limiter_new(&srv->limiter, srv->cfg.keys, r, srv->cfg.rate_slots) < 0) {
		snprintf(why, whylen, "out of memory for the rate limits");
		return -ENOMEM;
	}
	return 0;
}

void http_guard_stop(struct http_server *srv)
{
	auth_limiter_free(srv->limiter);
	srv->limiter = NULL;
}

void http_guard_gauges(struct http_server *srv, struct http_gauges *g)
{
	g->keys = srv->cfg.keys;
	g->limiter_on = srv->limiter != NULL;
	auth_limiter_stats(srv->limiter, &g->limiter);
}
