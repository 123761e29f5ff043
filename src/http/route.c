/*
 * route.c - which handler a method and path go to.  A fixed table: the
 * service has a handful of endpoints, and a table shows them all at once.
 */
#include <errno.h>
#include <string.h>

#include "http/http.h"
#include "util/util.h"

enum method_set { M_GET, M_POST, M_GET_POST, M_GET_DELETE };

static const struct {
	const char *path;
	enum http_route_id id;
	enum method_set methods;
	enum http_family family;
} routes[] = {
	{ "/run", HTTP_R_RUN, M_POST, HTTP_F_SAFEXEC },
	{ "/api/v1/execute", HTTP_R_EXECUTE, M_POST, HTTP_F_SAFEXEC },
	{ "/api/v1/jobs", HTTP_R_JOBS, M_POST, HTTP_F_SAFEXEC },
	{ "/api/v1/languages", HTTP_R_LANGUAGES, M_GET, HTTP_F_SAFEXEC },
	{ "/api/v1/executions", HTTP_R_EXECUTIONS, M_GET, HTTP_F_SAFEXEC },
	{ "/healthz", HTTP_R_HEALTHZ, M_GET, HTTP_F_SAFEXEC },
	{ "/metrics", HTTP_R_METRICS, M_GET, HTTP_F_SAFEXEC },
	{ "/submissions", HTTP_R_J0_SUBMIT, M_POST, HTTP_F_JUDGE0 },
	{ "/submissions/batch", HTTP_R_J0_BATCH, M_GET_POST, HTTP_F_JUDGE0 },
	{ "/languages", HTTP_R_J0_LANGUAGES, M_GET, HTTP_F_JUDGE0 },
	{ "/statuses", HTTP_R_J0_STATUSES, M_GET, HTTP_F_JUDGE0 },
	{ "/about", HTTP_R_J0_ABOUT, M_GET, HTTP_F_JUDGE0 },
	{ "/config_info", HTTP_R_J0_CONFIG, M_GET, HTTP_F_JUDGE0 },
	{ "/system_info", HTTP_R_J0_SYSTEM, M_GET, HTTP_F_JUDGE0 },
	{ "/workers", HTTP_R_J0_WORKERS, M_GET, HTTP_F_JUDGE0 },
	{ "/api/v2/runtimes", HTTP_R_PISTON_RUNTIMES, M_GET, HTTP_F_PISTON },
	{ "/api/v2/execute", HTTP_R_PISTON_EXECUTE, M_POST, HTTP_F_PISTON },
	{ "/api/v2/piston/runtimes", HTTP_R_PISTON_RUNTIMES, M_GET, HTTP_F_PISTON },
	{ "/api/v2/piston/execute", HTTP_R_PISTON_EXECUTE, M_POST, HTTP_F_PISTON },
};

/* Paths that end with an id or a token. */
enum tail_kind { T_ID, T_TOKEN };
static const struct {
	const char *prefix;
	enum http_route_id id;
	enum method_set methods;
	enum http_family family;
	enum tail_kind tail;
	const char *what;	/* for "no such ..." */
} prefixed[] = {
	{ "/api/v1/executions/", HTTP_R_EXECUTION, M_GET, HTTP_F_SAFEXEC, T_ID, "execution" },
	{ "/api/v1/jobs/", HTTP_R_JOB, M_GET, HTTP_F_SAFEXEC, T_TOKEN, "job" },
	{ "/submissions/", HTTP_R_J0_SUBMISSION, M_GET_DELETE, HTTP_F_JUDGE0, T_TOKEN,
	  "submission" },
	{ "/languages/", HTTP_R_J0_LANGUAGE, M_GET, HTTP_F_JUDGE0, T_ID, "language" },
};

static const char *allow_of(enum method_set m)
{
	switch (m) {
	case M_POST: return "POST";
	case M_GET_POST: return "GET, HEAD, POST";
	case M_GET_DELETE: return "GET, HEAD, DELETE";
	default: return "GET, HEAD";
	}
}

static bool method_ok(const char *method, enum method_set m)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;

	switch (m) {
	case M_POST: return post;
	case M_GET_POST: return get || post;
	case M_GET_DELETE: return get || strcmp(method, "DELETE") == 0;
	default: return get;
	}
}

static int path_is(const char *path, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(path, lit, len) == 0;
}

/* The API's description, docs/openapi.json, is embedded with the web
 * page's files (tools/embed.sh names it by its base name) but served at a
 * path of the API only. */
#define OPENAPI_PATH "/api/v1/openapi.json"
#define OPENAPI_ASSET "/openapi.json"

static const struct http_asset *find_asset(const char *path, size_t len)
{
	if (path_is(path, len, "/")) {
		path = "/index.html";
		len = strlen(path);
	} else if (path_is(path, len, OPENAPI_PATH)) {
		path = OPENAPI_ASSET;
		len = strlen(path);
	} else if (path_is(path, len, OPENAPI_ASSET)) {
		return NULL;
	}
	for (size_t i = 0; i < http_assets_count; i++)
		if (path_is(path, len, http_assets[i].path))
			return &http_assets[i];
	return NULL;
}

static int matched(const char *method, enum method_set m, struct http_route *r,
		   struct api_error *err)
{
	r->allow = allow_of(m);
	if (!method_ok(method, m)) {
		api_fail(err, API_E_METHOD_NOT_ALLOWED, "this path accepts %s only",
			 r->allow);
		return -EPERM;
	}
	r->has_body = strcmp(method, "POST") == 0;
	return 0;
}

bool http_token_ok(const char *s, size_t len)
{
	if (len != HTTP_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int http_route_match(const char *method, const char *path, size_t len,
		     struct http_route *r, struct api_error *err)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(routes); i++) {
		if (path_is(path, len, routes[i].path)) {
			r->id = routes[i].id;
			r->family = routes[i].family;
			return matched(method, routes[i].methods, r, err);
		}
	}
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(prefixed); i++) {
		const size_t plen = strlen(prefixed[i].prefix);
		const char *tail = path + plen;

		if (len <= plen || memcmp(path, prefixed[i].prefix, plen) != 0)
			continue;
		r->family = prefixed[i].family;
		if (prefixed[i].tail == T_ID ? api_parse_id(tail, len - plen, &r->exec_id) < 0
					     : !http_token_ok(tail, len - plen)) {
			api_fail(err, API_E_NOT_FOUND, "no such %s", prefixed[i].what);
			return -ENOENT;
		}
		if (prefixed[i].tail == T_TOKEN)
			memcpy(r->token, tail, HTTP_TOKEN_LEN);
		r->id = prefixed[i].id;
		return matched(method, prefixed[i].methods, r, err);
	}
	r->asset = find_asset(path, len);
	if (r->asset) {
		r->id = HTTP_R_ASSET;
		return matched(method, M_GET, r, err);
	}
	api_fail(err, API_E_NOT_FOUND, "no such path");
	return -ENOENT;
}

const char *http_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".woff2", "font/woff2" },
		{ ".webmanifest", "application/manifest+json" },
	};
	const char *dot = strrchr(path, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(types); i++)
			if (strcmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}
