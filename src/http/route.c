/*
 * route.c - which handler a method and path go to.  A fixed table: the
 * service has a handful of endpoints, and a table shows them all at once.
 */
#include <errno.h>
#include <string.h>

#include "http/http.h"
#include "util/util.h"

#define EXECUTIONS_PREFIX "/api/v1/executions/"

enum method_set { M_GET, M_POST };

static const struct {
	const char *path;
	enum http_route_id id;
	enum method_set methods;
} routes[] = {
	{ "/run", HTTP_R_RUN, M_POST },
	{ "/api/v1/execute", HTTP_R_EXECUTE, M_POST },
	{ "/api/v1/languages", HTTP_R_LANGUAGES, M_GET },
	{ "/api/v1/executions", HTTP_R_EXECUTIONS, M_GET },
	{ "/healthz", HTTP_R_HEALTHZ, M_GET },
	{ "/metrics", HTTP_R_METRICS, M_GET },
};

static const char *allow_of(enum method_set m)
{
	return m == M_POST ? "POST" : "GET, HEAD";
}

static int method_ok(const char *method, enum method_set m)
{
	if (m == M_POST)
		return strcmp(method, "POST") == 0;
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

static int path_is(const char *path, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(path, lit, len) == 0;
}

static const struct http_asset *find_asset(const char *path, size_t len)
{
	if (path_is(path, len, "/")) {
		path = "/index.html";
		len = strlen(path);
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
	return 0;
}

int http_route_match(const char *method, const char *path, size_t len,
		     struct http_route *r, struct api_error *err)
{
	const size_t plen = strlen(EXECUTIONS_PREFIX);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(routes); i++) {
		if (path_is(path, len, routes[i].path)) {
			r->id = routes[i].id;
			return matched(method, routes[i].methods, r, err);
		}
	}
	if (len > plen && memcmp(path, EXECUTIONS_PREFIX, plen) == 0) {
		if (api_parse_id(path + plen, len - plen, &r->exec_id) < 0) {
			api_fail(err, API_E_NOT_FOUND, "no such execution");
			return -ENOENT;
		}
		r->id = HTTP_R_EXECUTION;
		return matched(method, M_GET, r, err);
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
