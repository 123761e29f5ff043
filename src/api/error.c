/*
 * error.c - the error codes clients see and their HTTP statuses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"
#include "codec/codec.h"
#include "util/util.h"

static const struct {
	const char *name;
	unsigned http;
} errors[API_E_COUNT] = {
	[API_E_NONE] = { "", 200 },
	[API_E_EMPTY_BODY] = { "empty_body", 400 },
	[API_E_INVALID_JSON] = { "invalid_json", 400 },
	[API_E_INVALID_UTF8] = { "invalid_utf8", 400 },
	[API_E_TOO_DEEP] = { "too_deep", 400 },
	[API_E_INVALID_REQUEST] = { "invalid_request", 400 },
	[API_E_MISSING_FIELD] = { "missing_field", 400 },
	[API_E_UNKNOWN_LANGUAGE] = { "unknown_language", 400 },
	[API_E_INVALID_LIMIT] = { "invalid_limit", 400 },
	[API_E_LIMIT_EXCEEDED] = { "limit_exceeded", 400 },
	[API_E_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413 },
	[API_E_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415 },
	[API_E_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
	[API_E_CROSS_ORIGIN] = { "cross_origin", 403 },
	[API_E_UNKNOWN_HOST] = { "unknown_host", 403 },
	[API_E_UNAUTHORIZED] = { "unauthorized", 401 },
	[API_E_FORBIDDEN] = { "forbidden", 403 },
	[API_E_RATE_LIMITED] = { "rate_limited", 429 },
	[API_E_NOT_FOUND] = { "not_found", 404 },
	[API_E_QUEUE_FULL] = { "queue_full", 503 },
	[API_E_SHUTTING_DOWN] = { "shutting_down", 503 },
	[API_E_STORE_UNAVAILABLE] = { "store_unavailable", 503 },
	[API_E_NOT_FINISHED] = { "not_finished", 504 },
	[API_E_INTERNAL] = { "internal_error", 500 },
};

const char *api_error_name(enum api_error_code c)
{
	return (unsigned)c < API_E_COUNT ? errors[c].name : "internal_error";
}

unsigned api_error_http_status(enum api_error_code c)
{
	return (unsigned)c < API_E_COUNT ? errors[c].http : 500;
}

int api_fail(struct api_error *e, enum api_error_code c, const char *fmt, ...)
{
	va_list ap;

	e->code = c;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return c == API_E_INTERNAL ? -ENOMEM : -EINVAL;
}

json_t *api_error_json(const struct api_error *e)
{
	json_t *inner, *msg;
	size_t n = 0;

	while (n < sizeof(e->message) && e->message[n])
		n++;
	/* A message may quote a field name cut at a byte limit: the codec
	 * turns a cut UTF-8 sequence into U+FFFD rather than failing. */
	msg = codec_string(e->message, n);
	if (!msg)
		return NULL;
	inner = json_pack("{s:s, s:o}", "code", api_error_name(e->code), "message", msg);
	if (!inner)
		return NULL;
	return json_pack("{s:o}", "error", inner);
}
