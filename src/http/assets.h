/*
 * assets.h - the web page's files, embedded in the binary at build time by
 * tools/embed.sh from the files in web/, and the API's description
 * (docs/openapi.json, served at /api/v1/openapi.json only).
 */
#ifndef SAFEXEC_HTTP_ASSETS_H
#define SAFEXEC_HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
	const char *path;		/* "/index.html", "/app.js", ... */
	const unsigned char *data;	/* len bytes (plus a NUL not counted) */
	size_t len;
};

extern const struct http_asset http_assets[];
extern const size_t http_assets_count;

#endif
